"""Ollama, local: its OpenAI-compatible API (https://ollama.com/blog/openai-compatibility). No key."""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="ollama",
    base_url="http://localhost:11434/v1",
    protocol="chat_completions",
    base_env="OLLAMA_API_BASE",
)
