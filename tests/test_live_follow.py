"""follow(): replay from every position of a recorded answer, snapshots, heartbeats, idle end, formats."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

import llmchat
from llmchat.live.asgi import afollow
from llmchat.live.follow import follow, page
from llmchat.live.memory import MemoryBroadcaster, apply
from llmchat.live.publish import broadcasts_to
from llmchat.live.redis_broadcast import RedisBroadcaster
from llmchat.testing import Reply

PIECES = ["Once", " upon", " a <time>", "\n", " & so", " on."]


def parse(body: bytes) -> list[dict]:
    """SSE body -> events as the browser sees them: {"id", "event", "data"} (comments and retry dropped)."""
    out = []
    for block in body.decode().split("\n\n"):
        event: dict = {}
        for line in block.split("\n"):
            if not line or line.startswith(":") or line.startswith("retry:"):
                continue
            field, _, value = line.partition(": ")
            event[field] = event[field] + "\n" + value if field == "data" and "data" in event else value
        if event:
            out.append(event)
    return out


@pytest.fixture
def recorded(server, make_chat):
    hub = MemoryBroadcaster()
    server.reply(*PIECES)
    chat = make_chat("chat_completions")
    broadcasts_to(chat, hub, chat_id="c1")
    chat.ask("Tell me")
    return hub, chat


def answer_id(hub: MemoryBroadcaster, chat_id: str = "c1") -> str:
    """The id the publisher gave the answer (the chat's second message)."""
    return [e for e in hub.read(chat_id, 0, 0) if e["type"] == "new_message"][1]["message_id"]


def fold(events: list[dict]) -> list[dict]:
    messages: list[dict] = []
    for event in events:
        kind = event.get("event")
        data = json.loads(event["data"])
        if kind == "snapshot":
            apply(messages, {"type": "snapshot", "messages": data["messages"]})
        elif kind in ("new_message", "end_message"):
            apply(messages, {"type": kind, "message": {k: v for k, v in data.items() if k != "message_id"}})
        elif kind == "chunk":
            apply(messages, {"type": kind, **data})
    return messages


def test_follow_from_every_position_gives_exactly_the_rest(recorded):
    hub, chat = recorded
    everything = parse(b"".join(follow("c1", "0", broadcaster=hub, idle=0)))
    last = hub.last_seq("c1")
    assert [int(e["id"]) for e in everything] == list(range(1, last + 1))
    for after in range(0, last + 1):
        rest = parse(b"".join(follow("c1", str(after), broadcaster=hub, idle=0)))
        assert rest == everything[after:]
        assert fold(everything[:after] + rest) == fold(everything)
    assert fold(everything)[-1]["content"] == "".join(PIECES) == chat.messages[-1].content


@pytest.mark.parametrize("position", [None, "", "garbage", "-3", "999"])
def test_no_usable_position_starts_with_a_snapshot(recorded, position):
    hub, chat = recorded
    events = parse(b"".join(follow("c1", position, broadcaster=hub, idle=0)))
    assert [e["event"] for e in events] == ["snapshot"]
    assert int(events[0]["id"]) == hub.last_seq("c1")
    assert [m["content"] for m in json.loads(events[0]["data"])["messages"]] == ["Tell me", "".join(PIECES)]


def test_turbo_format_appends_escaped_chunks_and_replaces_the_message(recorded):
    hub, _ = recorded
    events = parse(b"".join(follow("c1", "0", format="turbo", broadcaster=hub, idle=0)))
    assert all("event" not in e for e in events)            # Turbo ignores named events
    mid = answer_id(hub)
    chunks = [e["data"] for e in events if f'action="append" target="message_{mid}_content"' in e["data"]]
    assert chunks[2] == (f'<turbo-stream action="append" target="message_{mid}_content"><template>'
                         ' a &lt;time&gt;</template></turbo-stream>')
    assert events[-1]["data"].startswith(f'<turbo-stream action="replace" target="message_{mid}"><template>'
                                         f'<div id="message_{mid}"')


def test_htmx_format_sends_out_of_band_fragments(recorded):
    hub, _ = recorded
    events = parse(b"".join(follow("c1", "0", format="htmx", broadcaster=hub, idle=0)))
    assert [e["event"] for e in events][:3] == ["new_message", "new_message", "chunk"]
    mid = answer_id(hub)
    assert events[2]["data"] == f'<div id="message_{mid}_content" hx-swap-oob="beforeend">Once</div>'
    assert f'hx-swap-oob="outerHTML:#message_{mid}"' in events[-1]["data"]


def test_live_events_heartbeats_and_idle_end(server, make_chat):
    hub = MemoryBroadcaster()
    server.queue(Reply(text=["a", "b", "c"], delay=0.05))
    chat = make_chat("chat_completions")
    broadcasts_to(chat, hub, chat_id="c2")
    body = follow("c2", "0", broadcaster=hub, heartbeat=0.02, idle=0.3)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(body))
    reader.start()
    time.sleep(0.1)
    chat.ask("go")
    reader.join(5)
    assert not reader.is_alive()
    raw = b"".join(seen)
    assert b": keep-alive" in raw and raw.endswith(b"retry: 1000\n\n")
    assert fold(parse(raw))[-1]["content"] == "abc"


def test_a_follower_leaving_does_not_stop_the_answer(server, make_chat):
    hub = MemoryBroadcaster()
    server.queue(Reply(text=["x"] * 20, delay=0.01))
    chat = make_chat("chat_completions")
    broadcasts_to(chat, hub, chat_id="c3")
    worker = threading.Thread(target=chat.ask, args=("go",))
    worker.start()
    body = follow("c3", "0", broadcaster=hub, heartbeat=0.05)
    next(body), next(body)
    body.close()
    worker.join(5)
    assert chat.messages[-1].content == "x" * 20 and chat.messages[-1].status == "complete"


def test_error_mid_answer_is_broadcast_with_the_partial(server, make_chat):
    hub = MemoryBroadcaster()
    server.queue(Reply(text=["Par", "tial", "more"], error={"type": "rate_limit_error", "message": "slow down"},
                       error_after=2))
    chat = make_chat("chat_completions")
    broadcasts_to(chat, hub, chat_id="c4")
    with pytest.raises(llmchat.RateLimitError):
        chat.ask("go")
    events = parse(b"".join(follow("c4", "0", broadcaster=hub, idle=0)))
    assert events[-1]["event"] == "error"
    data = json.loads(events[-1]["data"])
    assert (data["message_id"], data["type"], data["partial"]) == (answer_id(hub, "c4"), "RateLimitError", "Partial")
    assert "slow down" in data["error"]
    assert fold(events)[-1]["status"] == "incomplete"


def test_an_unknown_format_is_a_configuration_error(recorded):
    hub, _ = recorded
    with pytest.raises(llmchat.ConfigurationError, match="htmx, htmx4, json, turbo"):
        next(iter(follow("c1", "0", format="xml", broadcaster=hub, idle=0)))


def test_afollow_gives_the_same_body(recorded):
    hub, _ = recorded

    async def collect():
        return [piece async for piece in afollow("c1", "2", broadcaster=hub, idle=0.2, heartbeat=5)]

    assert parse(b"".join(asyncio.run(collect()))) == parse(b"".join(follow("c1", "2", broadcaster=hub, idle=0)))


def test_redis_broadcaster_replays_from_every_position(redis_url, recorded):
    import redis

    memory, _ = recorded
    client = redis.Redis.from_url(redis_url)
    hub = RedisBroadcaster(client, ttl=60)
    client.delete(hub.key("r1"), hub.key("r1") + ":seq")
    for event in memory.read("c1", 0, 0):
        hub.publish("r1", {k: v for k, v in event.items() if k != "seq"})
    assert hub.publish("r1", {"seq": 3, "type": "chunk", "message_id": "x", "content": "dup"}) == 3  # refused
    everything = parse(b"".join(follow("c1", "0", broadcaster=memory, idle=0)))
    for after in range(0, memory.last_seq("c1") + 1):
        assert parse(b"".join(follow("r1", str(after), broadcaster=hub, idle=0))) == everything[after:]
    assert 0 < client.ttl(hub.key("r1")) <= 60
    snapshot = parse(b"".join(follow("r1", None, broadcaster=hub, idle=0)))
    assert fold(snapshot) == fold(everything)


def test_redis_read_wakes_at_once(redis_url):
    import redis

    hub = RedisBroadcaster(redis.Redis.from_url(redis_url))
    hub.client.delete(hub.key("r2"), hub.key("r2") + ":seq")
    got = []
    reader = threading.Thread(target=lambda: got.append((hub.read("r2", 0, 5), time.monotonic())))
    reader.start()
    time.sleep(0.2)
    sent = time.monotonic()
    hub.publish("r2", {"type": "chunk", "message_id": 1, "content": "hi"})
    reader.join(5)
    assert got[0][0][0]["content"] == "hi" and got[0][1] - sent < 0.1


def test_a_gap_in_the_broadcast_is_healed_with_a_snapshot(recorded):
    hub, chat = recorded

    class Gappy:
        """The recorded events, one of them lost, and in a shuffled order."""

        def read(self, chat_id, after, timeout):
            events = [e for e in hub.read(chat_id, after, 0) if e["seq"] != 5]
            return events[::-1]

        def can_replay(self, chat_id, after):
            return True

        def snapshot(self, chat_id):
            return hub.snapshot(chat_id)

    events = parse(b"".join(follow("c1", "2", broadcaster=Gappy(), idle=0)))
    assert [e["event"] for e in events[:3]] == ["chunk", "chunk", "snapshot"]
    assert [int(e["id"]) for e in events[:2]] == [3, 4] and int(events[2]["id"]) == hub.last_seq("c1")
    assert fold(events)[-1]["content"] == "".join(PIECES)


@pytest.mark.parametrize("options", [{"heartbeat": 0}, {"heartbeat": -1}, {"heartbeat": "5"},
                                     {"heartbeat": float("inf")}, {"idle": "60"}, {"idle": -1},
                                     {"retry": "1000"}, {"retry": -5}, {"retry": 1.5}, {"partial": "<p>"},
                                     {"chat_id": ["c1"]}, {"chat_id": None}])
def test_wrong_arguments_are_configuration_errors_when_called(recorded, options):
    hub, _ = recorded
    arguments = {"chat_id": "c1", "last_event_id": "0", "broadcaster": hub, **options}
    with pytest.raises(llmchat.ConfigurationError, match=next(iter(options))):
        follow(**arguments)          # heartbeat=0 used to send keep-alives in a busy loop
    with pytest.raises(llmchat.ConfigurationError, match=next(iter(options))):
        afollow(**arguments)


def test_chats_built_per_request_on_one_channel_keep_every_message(server, make_chat):
    hub = MemoryBroadcaster()
    for question in ["first", "second"]:       # each request builds its chat and its publisher
        server.reply(f"{question} answer")
        chat = make_chat("chat_completions")
        broadcasts_to(chat, hub, chat_id="room")
        chat.ask(question)
    whole = page("room", broadcaster=hub)
    assert [m["content"] for m in whole.messages] == ["first", "first answer", "second", "second answer"]
    assert len({m["id"] for m in whole.messages}) == 4          # one DOM id each: chunks find their own


def test_a_bugs_text_stays_on_the_server(server, make_chat):
    hub = MemoryBroadcaster()
    server.queue(Reply(text=["a", "b", "c"]))
    chat = make_chat("chat_completions")
    broadcasts_to(chat, hub, chat_id="c5")

    def failing(chunk):
        if chunk.content == "b":
            raise KeyError("/srv/app/keys.json")

    with pytest.raises(KeyError):
        chat.ask("go", on_chunk=failing)
    sse = b"".join(follow("c5", "0", broadcaster=hub, idle=0))
    body = sse + page("c5", broadcaster=hub).html.encode()
    assert b"keys.json" not in body and b"the answer failed on the server" in body      # as sse.stream does
    error = json.loads(parse(sse)[-1]["data"])
    assert (error["type"], error["partial"]) == ("KeyError", "ab")
