"""Cohere's key is found under either of its environment names, whenever it was set."""

from __future__ import annotations

import pytest

import llmchat

KEY = "co-test-SECRET-0123456789"


def test_co_api_key_set_after_import_is_used(server, monkeypatch):
    with pytest.raises(llmchat.ConfigurationError, match="COHERE_API_KEY.*CO_API_KEY") as info:
        llmchat.chat("command-a-03-2025", base_url=server.root)
    assert "cohere_api_key" in str(info.value)
    monkeypatch.setenv("CO_API_KEY", KEY)       # e.g. load_dotenv() after import llmchat
    server.reply("ok")
    chat = llmchat.chat("command-a-03-2025", base_url=server.root, max_retries=0)
    assert chat.ask("hi").content == "ok" and server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(chat)
    monkeypatch.setenv("COHERE_API_KEY", "co-preferred-SECRET-42")     # the documented name wins
    server.reply("ok")
    llmchat.chat("command-a-03-2025", base_url=server.root, max_retries=0).ask("hi")
    assert server.requests[-1].headers["authorization"] == "Bearer co-preferred-SECRET-42"
