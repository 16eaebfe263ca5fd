"""Live-page defects whose fix belongs to the store (llmchat/storage), kept here as strict expected failures."""

from __future__ import annotations

import pytest
from test_live_follow import parse

import llmchat
from llmchat.live.follow import follow, page
from llmchat.testing import Reply


@pytest.mark.xfail(strict=True, reason="llmchat/storage/writer.py logs `str(error)` in the error event and the "
                   "message row's data, and Store.snapshot renders `error_type: error`, for any exception: a bug's "
                   "text (a KeyError naming a path, a driver error holding a query) reaches every page following "
                   "the chat. Pages should get llmchat.live.publish.public_error(error) (an llmchat error's "
                   "message, else 'the answer failed on the server', as llmchat.sse.error_data does); the row may "
                   "keep the real text for the chat's owner if snapshot() and the events use the public one.")
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
        body = b"".join(follow(chat.id, "0", store=store, idle=0)) + page(chat.id, store=store).html.encode()
        assert parse(body)[-1]["event"] == "end_message"
        assert b"keys.json" not in body
    finally:
        store.close()
