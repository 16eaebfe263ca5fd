"""Anthropic: https://docs.anthropic.com/en/api/messages-streaming"""

from llmchat.providers import Provider


def _auth(key: str) -> dict[str, str]:
    return {"x-api-key": key}


PROVIDER = Provider(
    name="anthropic",
    base_url="https://api.anthropic.com",
    protocol="anthropic_messages",
    key_env="ANTHROPIC_API_KEY",
    base_env="ANTHROPIC_API_BASE",
    auth=_auth,
    headers={"anthropic-version": "2023-06-01"},
    models=("claude-",),
)
