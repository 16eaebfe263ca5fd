"""OpenAI: https://platform.openai.com/docs/api-reference/chat/create-chat-completion"""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="openai",
    base_url="https://api.openai.com/v1",
    protocol="chat_completions",
    key_env="OPENAI_API_KEY",
    base_env="OPENAI_API_BASE",
    models=("gpt-", "o1", "o3", "o4", "chatgpt-", "codex-", "computer-use-"),
)
