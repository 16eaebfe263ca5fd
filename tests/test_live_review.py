"""Pages following a stored chat never see a bug's text (its error stays in the row, for the chat's owner)."""

from __future__ import annotations

import pytest
from test_live_follow import parse

import llmchat
from llmchat.live.follow import follow, page
from llmchat.testing import Reply


def test_a_bugs_text_stays_on_the_server_with_a_stored_chat(tmp_path, server):
    store = llmchat.store(f"sqlite:///{tmp_path}/review.db")
    try:
        server.queue(Reply(text=["a", "b", "c"]))
        chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                                 base_url=server.url("chat_completions"), api_key="k", max_retries=0)

        def failing(chunk):
            if chunk.content == "b":
                raise KeyError("/srv/app/keys.json")

        with pytest.raises(KeyError):
            chat.ask("go", on_chunk=failing)
        events = b"".join(follow(chat.id, "0", store=store, idle=0))
        assert parse(events)[-1]["event"] == "end_message"
        body = events + page(chat.id, store=store).html.encode()
        assert b"keys.json" not in body and b"the answer failed on the server" in body
        kept = store.load_chat(chat.id).messages[-1]        # the chat's owner still has the real error
        assert kept.status == "incomplete" and "keys.json" in str(kept.error) and kept.content == "ab"
    finally:
        store.close()
