"""Protocols: how to talk. Sans-I/O: they never touch the network.

Each module here is one wire format and offers four functions:

- ``path(request) -> str``: the path appended to the provider's base URL;
- ``body(request) -> dict``: the JSON body of a streaming request;
- ``parse(events, **options) -> Iterator[Chunk]``: a generator turning the
  stream's ``(event name, data text)`` pairs into chunks. It yields only chunks
  that carry something (text, thinking, tool calls, or the final finish/usage),
  raises the typed error of an in-stream error event, returns at the
  protocol's terminal event and raises :class:`~llmchat.errors.StreamError`
  when the events run out before it;
- ``error(text) -> (kind, message)``: the error type and message in an error body.

A protocol whose stream is not Server-Sent Events also offers ``framing(blocks,
max_event_size) -> Iterator[(event name, data)]``, cutting the body's bytes into
events; without it the transport uses :func:`llmchat.sse_framing.events`.

>>> from llmchat.protocols import get
>>> module = get("chat_completions")
>>> [c.content for c in module.parse([("message", '{"choices":[{"delta":{"content":"Hi"}}]}'),
...                                   ("message", "[DONE]")])]
['Hi']
"""

from __future__ import annotations

import importlib
import json
import re
from types import ModuleType
from typing import Any

import attrs

from llmchat.errors import ConfigurationError, StreamError
from llmchat.message import Message

__all__ = ["NAMES", "Request", "get", "loads", "read_error"]

NAMES = ("anthropic_messages", "chat_completions", "cohere", "converse", "gemini", "responses")


@attrs.frozen
class Request:
    """What a protocol renders into a request body.

    >>> Request("gpt-4.1-mini", [Message("user", "hi")]).model
    'gpt-4.1-mini'
    """

    model: str
    messages: list[Message]                                  # the history to send, system messages included
    tools: list[Any] = attrs.field(factory=list)             # llmchat.Tool instances
    temperature: float | None = None
    max_tokens: int | None = None
    params: dict[str, Any] = attrs.field(factory=dict)       # merged into the body last


def get(name: str) -> ModuleType:
    """The protocol module called ``name``."""
    if name not in NAMES:
        raise ConfigurationError(f"unknown protocol {name!r}; known protocols: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def loads(data: str) -> Any:
    """``json.loads`` for event data: a malformed event is a :class:`StreamError`."""
    try:
        return json.loads(data)
    except ValueError:
        raise StreamError(f"malformed event data (not JSON): {data[:200]!r}") from None
    except RecursionError:
        raise StreamError(f"event data nested too deeply ({len(data)} chars): {data[:100]!r}") from None


def merge(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` merged into ``body``, nested dicts merged key by key."""
    for key, value in params.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = merge(dict(body[key]), value)
        else:
            body[key] = value
    return body


def system_text(messages: list[Message]) -> str | None:
    """The system messages joined, or None."""
    texts = [m.content or "" for m in messages if m.role == "system"]
    return "\n\n".join(texts) if texts else None


_TAGS = re.compile(r"<[^>]+>")


def read_error(text: str) -> tuple[str | None, str]:
    """(error type, message) from an error body in any of the usual shapes, or from HTML/plain text.

    >>> read_error('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    ('overloaded_error', 'Overloaded')
    >>> read_error('{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}')
    ('RESOURCE_EXHAUSTED', 'Quota')
    >>> read_error('<html><body><h1>502 Bad Gateway</h1></body></html>')
    (None, '502 Bad Gateway')
    """
    try:
        data = json.loads(text)
    except RecursionError:
        return None, f"(an error body nested too deeply: {text[:100]!r})"
    except ValueError:
        plain = " ".join(_TAGS.sub(" ", text).split())
        return None, plain[:300]
    if isinstance(data, list) and data:
        data = data[0]
    return error_fields(data)


def error_fields(data: Any) -> tuple[str | None, str]:
    """(error type, message) of a parsed error object."""
    if not isinstance(data, dict):
        return None, str(data)[:300]
    error = data.get("error", data)
    if isinstance(error, str):
        return data.get("type") if data.get("type") != "error" else None, error
    if not isinstance(error, dict):
        return None, json.dumps(data)[:300]
    from llmchat.error_mapping import known_kind

    candidates = [error.get(k) for k in ("status", "type", "code")]
    candidates = [str(c) for c in candidates if c not in (None, "", "error") and not isinstance(c, int)]
    kind = next((c for c in candidates if known_kind(c)), candidates[0] if candidates else None)
    message = error.get("message") or data.get("message") or error.get("detail") or json.dumps(error)[:300]
    return kind, message if isinstance(message, str) else _detail_text(message)


def _detail_text(value: Any) -> str:
    """Pydantic validation details (Mistral's 422s), bare or in ``{"detail": ...}``, as one line of text.

    >>> _detail_text({"detail": [{"type": "missing", "loc": ["body", "model"], "msg": "Field required", "input": {}}]})
    'body.model: Field required'
    """
    if isinstance(value, dict) and "detail" in value:
        value = value["detail"]
    if not isinstance(value, list):
        return str(value)[:300]
    texts = []
    for item in value:
        if isinstance(item, dict) and "msg" in item:
            where = ".".join(str(part) for part in item.get("loc") or ())
            texts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
        else:
            texts.append(str(item))
    return "; ".join(texts)[:300]


def ended_early(name: str) -> StreamError:
    return StreamError(f"the stream ended before its terminal event ({name})")
