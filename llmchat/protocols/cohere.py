"""Cohere v2 chat (``POST {base}/v2/chat``): named SSE events, then ``data: [DONE]``.

Token counts come from ``usage.billed_units`` (what Cohere bills and its SDK reports), else
``usage.tokens``. The ``tool_plan`` a model writes before calling tools is not thinking and is
not sent back.

>>> events = [("message-start", '{"type":"message-start","delta":{"message":{"role":"assistant"}}}'),
...           ("content-delta", '{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hi"}}}}'),
...           ("message-end", '{"type":"message-end","delta":{"finish_reason":"COMPLETE",'
...                           '"usage":{"billed_units":{"input_tokens":3,"output_tokens":1}}}}')]
>>> [(c.content, c.finish_reason, c.input_tokens) for c in parse(events)]
[('Hi', None, None), (None, 'COMPLETE', 3)]
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from llmchat.error_mapping import make_error
from llmchat.message import Chunk, Message, ToolCall
from llmchat.protocols import Request, ended_early, error_fields, loads, merge

__all__ = ["body", "error", "parse", "path"]

# finish_reason values that mean generation failed on Cohere's side
_FAILED = {"ERROR": "api_error", "TIMEOUT": "timeout_error"}


def path(request: Request) -> str:
    return "/v2/chat"


def body(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"model": request.model, "messages": [_message(m) for m in request.messages],
                            "stream": True}
    if request.tools:
        data["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                           "parameters": t.schema()}} for t in request.tools]
    if request.temperature is not None:
        data["temperature"] = request.temperature
    if request.max_tokens is not None:
        data["max_tokens"] = request.max_tokens
    return merge(data, request.params)


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":   # the result as plain text, as Cohere's docs show it
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content or ""}
    if message.role == "assistant" and message.tool_calls:
        data: dict[str, Any] = {"role": "assistant", "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in message.tool_calls.values()]}
        if message.content:
            data["content"] = message.content
        return data
    return {"role": message.role, "content": message.content or ""}


def error(text: str) -> tuple[str | None, str]:
    """(error type, message) of a Cohere error body: ``{"id", "message"}``, some with ``error_type``.

    >>> error('{"error_type":"TOO_MANY_TOKENS","message":"too many tokens: size limit exceeded"}')
    ('TOO_MANY_TOKENS', 'too many tokens: size limit exceeded')
    """
    from llmchat.protocols import read_error

    try:
        data = json.loads(text)
    except ValueError:
        return read_error(text)
    if isinstance(data, dict) and "error" not in data and isinstance(data.get("message"), str):
        return data.get("error_type"), data["message"]
    return read_error(text)


def parse(events: Iterable[tuple[str, str]]) -> Iterator[Chunk]:
    """Chunks from a Cohere v2 stream; ends at ``message-end`` (or ``[DONE]`` after it)."""
    calls: dict[Any, list[str]] = {}    # tool-call index -> [id, name]
    for _name, data in events:
        if data == "[DONE]":
            break
        obj = loads(data)
        kind = obj.get("type")
        message = (obj.get("delta") or {}).get("message") or {}
        if kind == "content-delta":
            content = message.get("content") or {}
            text, thinking = content.get("text"), content.get("thinking")
            if type(text) is str and text:
                yield Chunk(text)
            elif type(thinking) is str and thinking:
                yield Chunk(thinking=thinking)
        elif kind in ("tool-call-start", "tool-call-delta"):
            chunk = _tool_call(calls, obj.get("index"), message.get("tool_calls") or {})
            if chunk is not None:
                yield chunk
        elif kind == "message-end":
            yield _end(obj)
            return
        elif kind == "error" or (kind is None and "message" in obj and "delta" not in obj):
            error_kind, text = error_fields(obj)
            raise make_error(None, obj.get("error_type") or error_kind, text, body=obj)
    raise ended_early("message-end")


def _tool_call(calls: dict[Any, list[str]], index: Any, delta: dict[str, Any]) -> Chunk | None:
    function = delta.get("function") or {}
    entry = calls.get(index)
    if entry is None:
        entry = calls[index] = [delta.get("id") or f"cohere_call_{index}", function.get("name") or ""]
    arguments = function.get("arguments")       # a fragment: the message joins them
    return Chunk(tool_calls={entry[0]: ToolCall(entry[0], entry[1], arguments if isinstance(arguments, str) else "")})


def _end(obj: dict[str, Any]) -> Chunk:
    delta = obj.get("delta") or {}
    finish = delta.get("finish_reason")
    if finish in _FAILED:
        reason = delta.get("error") or f"generation ended with finish_reason {finish}"
        raise make_error(None, _FAILED[finish], str(reason), body=obj)
    usage = delta.get("usage") or {}
    billed, tokens = usage.get("billed_units") or {}, usage.get("tokens") or {}
    count = billed if billed.get("input_tokens") is not None or billed.get("output_tokens") is not None else tokens
    return Chunk(input_tokens=_int(count.get("input_tokens")), output_tokens=_int(count.get("output_tokens")),
                 finish_reason=finish, reasoning_tokens=_int(tokens.get("reasoning_tokens")))


def _int(value: Any) -> int | None:
    """Cohere reports counts as floats (``7.0``); llmchat's are ints."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
