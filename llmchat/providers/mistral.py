"""Mistral: https://docs.mistral.ai/api/#tag/chat (OpenAI-compatible chat completions).

Quirks: reasoning models (magistral, hybrid-reasoning mistral-small/medium) stream
``delta.content`` as a list of parts, ``{"type": "text", "text": ...}`` and
``{"type": "thinking", "thinking": [{"type": "text", "text": ...}]}``, read by
:func:`content_parts`. Tool-call ids are 9 alphanumerics (``"D681PevKs"``); error
bodies are ``{"object": "error", "message": ..., "type": ..., "code": ...}``, or
pydantic's ``{"detail": [...]}`` for a 422.

>>> content_parts([{"type": "thinking", "thinking": [{"type": "text", "text": "Hm."}]},
...                {"type": "text", "text": "4"}])
('4', 'Hm.')
"""

from __future__ import annotations

from typing import Any

from llmchat.providers import Provider


def content_parts(parts: Any) -> tuple[str, str]:
    """(text, thinking) of a list-valued ``delta.content``; other part types (references, images) are skipped."""
    if not isinstance(parts, list):
        return str(parts), ""
    text, thinking = [], []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            text.append(part.get("text") or "")
        elif kind == "thinking":
            inner = part.get("thinking")
            if isinstance(inner, str):
                thinking.append(inner)
            elif isinstance(inner, list):
                thinking.extend(p.get("text") or "" for p in inner if isinstance(p, dict) and p.get("type") == "text")
    return "".join(text), "".join(thinking)


PROVIDER = Provider(
    name="mistral",
    base_url="https://api.mistral.ai/v1",
    protocol="chat_completions",
    key_env="MISTRAL_API_KEY",
    base_env="MISTRAL_API_BASE",
    models=("mistral-", "magistral-", "codestral-", "ministral-", "pixtral-", "devstral-", "voxtral-",
            "open-mistral", "open-mixtral"),
    parse_options={"content_parts": content_parts},
)
