"""Anthropic: https://docs.anthropic.com/en/api/messages-streaming"""

from llmchat.providers import Provider, key_header

PROVIDER = Provider(
    name="anthropic",
    base_url="https://api.anthropic.com",
    protocol="anthropic_messages",
    key_env="ANTHROPIC_API_KEY",
    base_env="ANTHROPIC_API_BASE",
    auth=key_header("x-api-key"),
    headers={"anthropic-version": "2023-06-01"},
    models=("claude-",),
)
