"""follow() over a store's event log: unknown chats, and what a process keeps in memory per chat."""

from __future__ import annotations

import asyncio

import pytest
from test_live_follow import fold as fold_json
from test_live_follow import parse
from test_live_pages import Site

import llmchat
from llmchat.live.asgi import afollow
from llmchat.live.follow import follow
from llmchat.testing import Reply

PIECES = [f"p{i} " for i in range(30)]


@pytest.fixture
def store(tmp_path):
    s = llmchat.store(f"sqlite:///{tmp_path}/feeds.db")
    yield s
    s.close()


def stored_chat(store, server):
    return store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                             base_url=server.url("chat_completions"), api_key="k", max_retries=0)


@pytest.mark.parametrize("position", [None, "0", "7"])
def test_following_an_unknown_chat_fails_at_once_with_chat_not_found(store, position):
    with pytest.raises(llmchat.ChatNotFoundError, match="no-such-chat"):
        follow("no-such-chat", position, store=store, idle=0.2)      # before a byte: the view can answer 404
    assert "no-such-chat" not in store.log._feeds


def test_an_empty_chat_followed_from_zero_starts_with_its_empty_snapshot(store, server):
    chat = stored_chat(store, server)
    events = parse(b"".join(follow(chat.id, "0", store=store, idle=0)))
    assert [(e["event"], e["id"]) for e in events] == [("snapshot", "0")]


def test_afollow_of_an_unknown_chat_raises_chat_not_found(store):
    async def first():
        return await afollow("no-such-chat", "0", store=store, idle=0.2).__anext__()

    async def opened():
        return await afollow("no-such-chat", "0", store=store, idle=0.2)     # before a response starts

    for attempt in (first, opened):
        with pytest.raises(llmchat.ChatNotFoundError):
            asyncio.run(attempt())


def test_afollow_refuses_an_unknown_format_when_called(store):
    with pytest.raises(llmchat.ConfigurationError):
        afollow("any", "0", format="xml", store=store)


def test_a_finished_answer_is_not_kept_in_memory_and_still_replays_whole(store, server):
    answered = []
    for n in range(3):                   # many chats over a server's life: memory must not grow with them
        server.queue(Reply(text=PIECES))
        chat = stored_chat(store, server)
        chat.ask(f"question {n}")
        answered.append(chat)
    held = [item for feed in store.log._feeds.values() for item in feed.items]
    assert [item["type"] for item in held] == ["end_message"] * 3       # one event per chat, no chunk
    assert all(len(feed.marks) == 1 for feed in store.log._feeds.values())
    for chat in answered:
        events = parse(b"".join(follow(chat.id, "0", store=store, idle=0)))
        assert [int(e["id"]) for e in events] == list(range(1, store.position(chat.id) + 1))
        assert fold_json(events)[-1]["content"] == "".join(PIECES)
        middle = parse(b"".join(follow(chat.id, "5", store=store, idle=0)))
        assert middle == events[5:]


def test_the_example_app_answers_404_for_an_unknown_chat_and_400_for_an_unknown_format(server, store):
    pytest.importorskip("flask")
    import requests
    from app import create_app, offline_arguments  # examples/web_chat, on the path by test_live_pages

    site = Site(server, store, create_app(store, offline_arguments(server), heartbeat=0.5, idle=0.5))
    try:
        chat = stored_chat(store, server)
        assert requests.get(f"{site.url}/chats/nope/stream", timeout=5).status_code == 404
        assert requests.get(f"{site.url}/chats/{chat.id}/stream?format=xml", timeout=5).status_code == 400
        ok = requests.get(f"{site.url}/chats/{chat.id}/stream?format=htmx", timeout=5)
        assert ok.status_code == 200 and parse(ok.content)[0]["event"] == "snapshot"
    finally:
        site.close()
