"""Real providers. Each test runs only when its API key is in the environment (marker: live)."""

from __future__ import annotations

import os

import pytest

import llmchat

CASES = [  # provider, model, key variable
    ("openai", "gpt-4.1-nano", "OPENAI_API_KEY"),
    ("anthropic", "claude-haiku-4-5", "ANTHROPIC_API_KEY"),
    ("gemini", "gemini-2.5-flash", "GEMINI_API_KEY"),
    ("deepseek", "deepseek-chat", "DEEPSEEK_API_KEY"),
    ("mistral", "mistral-small-latest", "MISTRAL_API_KEY"),
    ("openrouter", "openai/gpt-4.1-nano", "OPENROUTER_API_KEY"),
    ("xai", "grok-3-mini", "XAI_API_KEY"),
    ("perplexity", "sonar", "PERPLEXITY_API_KEY"),
]


@pytest.mark.live
@pytest.mark.parametrize(("provider", "model", "key"), CASES, ids=[c[0] for c in CASES])
def test_real_provider_streams_an_answer_with_usage(provider, model, key):
    if not os.environ.get(key):
        pytest.skip(f"{key} is not set")
    chat = llmchat.chat(model, provider=provider)
    pieces = []
    reply = chat.ask("Count from 1 to 5, digits only, separated by spaces.", on_chunk=lambda c: pieces.append(c))
    assert reply.complete and "3" in reply.content
    assert "".join(c.content or "" for c in pieces) == reply.content
    assert reply.input_tokens and reply.output_tokens


@pytest.mark.live
def test_real_tool_round_trip():
    if not os.environ.get("ANTHROPIC_API_KEY"):
        pytest.skip("ANTHROPIC_API_KEY is not set")

    @llmchat.tool
    def secret_number() -> int:
        """Returns the secret number."""
        return 7319

    reply = llmchat.chat("claude-haiku-4-5").with_tool(secret_number).ask("What is the secret number?")
    assert "7319" in reply.content
