"""DeepSeek: https://api-docs.deepseek.com/ (OpenAI-compatible; reasoning in ``reasoning_content``)."""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="deepseek",
    base_url="https://api.deepseek.com",
    protocol="chat_completions",
    key_env="DEEPSEEK_API_KEY",
    base_env="DEEPSEEK_API_BASE",
    models=("deepseek-",),
)
