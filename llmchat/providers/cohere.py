"""Cohere: https://docs.cohere.com/reference/chat-stream (v2 chat, its own ``cohere`` protocol).

The key is read from ``COHERE_API_KEY`` (or ``CO_API_KEY``, the name Cohere's SDK prefers) and
sent as a bearer token; ``command-*`` models are inferred: ``llmchat.chat("command-a-03-2025")``.
"""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="cohere",
    base_url="https://api.cohere.com",
    protocol="cohere",
    key_env="COHERE_API_KEY",
    key_env_also=("CO_API_KEY",),     # read when the chat is made: a key set after import (load_dotenv) counts
    base_env="COHERE_API_BASE",
    models=("command-", "c4ai-"),
)
