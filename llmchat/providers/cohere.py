"""Cohere: https://docs.cohere.com/reference/chat-stream (v2 chat, its own ``cohere`` protocol).

The key is read from ``COHERE_API_KEY`` (or ``CO_API_KEY``, the name Cohere's SDK prefers) and
sent as a bearer token; ``command-*`` models are inferred: ``llmchat.chat("command-a-03-2025")``.
"""

import os

from llmchat.providers import Provider

PROVIDER = Provider(
    name="cohere",
    base_url="https://api.cohere.com",
    protocol="cohere",
    key_env="COHERE_API_KEY" if os.environ.get("COHERE_API_KEY") or not os.environ.get("CO_API_KEY") else "CO_API_KEY",
    base_env="COHERE_API_BASE",
    models=("command-", "c4ai-"),
)
