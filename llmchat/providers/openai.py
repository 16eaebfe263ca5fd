"""OpenAI: https://platform.openai.com/docs/api-reference/responses (the Responses API by default;
``protocol="chat_completions"`` speaks https://platform.openai.com/docs/api-reference/chat instead)."""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="openai",
    base_url="https://api.openai.com/v1",
    protocol="responses",
    key_env="OPENAI_API_KEY",
    base_env="OPENAI_API_BASE",
    models=("gpt-", "o1", "o3", "o4", "chatgpt-", "codex-", "computer-use-"),
)
