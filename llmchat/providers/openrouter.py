"""OpenRouter: https://openrouter.ai/docs/api-reference/streaming (OpenAI-compatible, many vendors).

Model ids are ``vendor/model`` (``anthropic/claude-3.5-sonnet``), which a prefix
cannot claim, so choose it by name: ``llmchat.chat("openai/gpt-4o", provider="openrouter")``.
Quirks: keep-alive SSE comments (``: OPENROUTER PROCESSING``), which the SSE reader
drops; reasoning in ``delta.reasoning``; an error after the stream started arrives
as a chunk with a top-level ``error`` ({"code": 502 or "server_error", "message": ...})
next to ``choices`` whose ``finish_reason`` is ``"error"``
(https://openrouter.ai/docs/api-reference/errors).
"""

from llmchat.providers import Provider


def serves(model: str) -> bool:
    """``vendor/model`` ids, not the ``hf.co/user/repo`` paths local servers use, nor ARNs
    (``arn:aws:bedrock:...:inference-profile/...``): a vendor slug has no ``.`` and no ``:``.

    >>> serves("meta-llama/llama-3.1-8b-instruct:free"), serves("hf.co/unsloth/Qwen3-8B-GGUF"), serves("gpt-4o")
    (True, False, False)
    >>> serves("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-v1:0")
    False
    """
    vendor, slash, _model = model.partition("/")
    return bool(slash and vendor) and "." not in vendor and ":" not in vendor


PROVIDER = Provider(
    name="openrouter",
    base_url="https://openrouter.ai/api/v1",
    protocol="chat_completions",
    key_env="OPENROUTER_API_KEY",
    base_env="OPENROUTER_API_BASE",
    models=serves,
)
