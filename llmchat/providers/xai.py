"""xAI (Grok): https://docs.x.ai/docs/api-reference#chat-completions (OpenAI-compatible).

Quirk: reasoning models (``grok-3-mini``) stream their reasoning in
``delta.reasoning_content``; ``grok-4`` reasons without exposing it and reports
only ``completion_tokens_details.reasoning_tokens``.
"""

from llmchat.providers import Provider

PROVIDER = Provider(
    name="xai",
    base_url="https://api.x.ai/v1",
    protocol="chat_completions",
    key_env="XAI_API_KEY",
    base_env="XAI_API_BASE",
    models=("grok-",),
)
