"""The enterprise clouds for real (marker: live): each runs when its credentials are in the environment.

    AZURE_API_BASE=... AZURE_API_KEY=... [AZURE_MODEL=deployment] pytest -m live tests/test_cloud_live.py
    GOOGLE_CLOUD_PROJECT=... (ADC or VERTEXAI_ACCESS_TOKEN) / AWS_REGION=... (AWS credentials or
    AWS_BEARER_TOKEN_BEDROCK) / COHERE_API_KEY=...
"""

from __future__ import annotations

import os

import pytest

import llmchat

CLOUDS = [  # provider, model variable, default model, what must be set
    ("azure", "AZURE_MODEL", "gpt-4.1-mini", ("AZURE_API_BASE",)),
    ("vertexai", "VERTEXAI_MODEL", "gemini-2.5-flash", ("GOOGLE_CLOUD_PROJECT",)),
    ("bedrock", "BEDROCK_MODEL", "us.amazon.nova-2-lite-v1:0", ("AWS_REGION",)),
    ("cohere", "COHERE_MODEL", "command-a-03-2025", ("COHERE_API_KEY",)),
]


@pytest.mark.live
@pytest.mark.parametrize(("provider", "model_env", "model", "needed"), CLOUDS, ids=[c[0] for c in CLOUDS])
def test_real_cloud_streams_and_runs_a_tool(provider, model_env, model, needed):
    missing = [name for name in needed if not os.environ.get(name)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not set")

    @llmchat.tool
    def secret_number() -> int:
        """Returns the secret number."""
        return 7319

    chat = llmchat.chat(os.environ.get(model_env, model), provider=provider,
                        api_key=os.environ.get("VERTEXAI_ACCESS_TOKEN") if provider == "vertexai" else None)
    pieces = []
    reply = chat.ask("Count from 1 to 5, digits only, separated by spaces.", on_chunk=lambda c: pieces.append(c))
    assert reply.complete and "3" in reply.content and "".join(c.content or "" for c in pieces) == reply.content
    assert reply.input_tokens and reply.output_tokens
    assert "7319" in chat.with_tool(secret_number).ask("What is the secret number? Use the tool.").content
