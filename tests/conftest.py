"""Shared fixtures: a loopback server per test and a chat pointed at it for each protocol."""

from __future__ import annotations

import pytest

import llmchat
from llmchat.testing import Server

pytest_plugins = ["services"]       # real servers: postgres_url, redis_url (tests/services.py)

# protocol -> (model, provider) used by the end-to-end tests
PROTOCOLS = {
    "chat_completions": ("gpt-4.1-mini", "openai"),
    "anthropic_messages": ("claude-haiku-4-5", "anthropic"),
    "responses": ("gpt-5-nano", "openai"),
    "gemini": ("gemini-2.5-flash", "gemini"),
}


@pytest.fixture
def server():
    with Server() as s:
        yield s


@pytest.fixture(params=sorted(PROTOCOLS))
def protocol(request):
    return request.param


@pytest.fixture
def make_chat(server):
    """make_chat(protocol, **options) -> a Chat talking to the loopback server (no retries unless asked)."""

    def make(protocol: str, **options):
        model, provider = PROTOCOLS[protocol]
        options.setdefault("max_retries", 0)
        options.setdefault("retry_interval", 0.01)
        return llmchat.chat(model, provider=provider, protocol=protocol, base_url=server.url(protocol),
                            api_key="sk-test-SECRET-0123456789", **options)

    return make
