"""OpenAI chat completions (``POST {base}/chat/completions``), spoken by OpenAI and most compatible servers.

>>> events = [("message", '{"model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}'),
...           ("message", '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'),
...           ("message", '{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}'),
...           ("message", "[DONE]")]
>>> [(c.content, c.finish_reason, c.output_tokens) for c in parse(events)]
[('Hi', None, None), (None, 'stop', None), (None, None, 1)]
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from llmchat.error_mapping import make_error
from llmchat.message import Chunk, Message, ToolCall
from llmchat.protocols import Request, ended_early, error_fields, loads, merge, read_error

__all__ = ["body", "error", "parse", "path"]

THINKING_FIELDS = ("reasoning_content", "reasoning")


def path(request: Request) -> str:
    return "/chat/completions"


def body(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"model": request.model, "messages": [_message(m) for m in request.messages],
                            "stream": True, "stream_options": {"include_usage": True}}
    if request.tools:
        data["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                           "parameters": t.schema()}} for t in request.tools]
    if request.temperature is not None:
        data["temperature"] = request.temperature
    if request.max_tokens is not None:
        data["max_tokens"] = request.max_tokens
    return merge(data, request.params)


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content or ""}
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [{"id": c.id, "type": "function",
                               "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                              for c in message.tool_calls.values()]
    elif data["content"] is None:
        data["content"] = ""
    return data


error = read_error


def parse(events: Iterable[tuple[str, str]], thinking_fields: tuple[str, ...] = THINKING_FIELDS,
          content_parts: Any = None) -> Iterator[Chunk]:
    """Chunks from a chat-completions stream; ends at ``data: [DONE]``.

    ``content_parts(list) -> (text, thinking)`` reads list-valued ``delta.content``
    (a provider quirk); by default the text parts are joined.
    """
    calls: dict[int, list[str]] = {}    # choice-0 tool calls by index: [id, name]
    finished = False
    for _name, data in events:
        if data == "[DONE]":
            return
        obj = loads(data)
        if obj.get("error") or obj.get("object") == "error":   # OpenRouter puts it beside choices
            raise _error_event(obj)
        choices = obj.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta") or {}
            text = delta.get("content")
            thinking = None
            for field in thinking_fields:
                thinking = t if type(t := delta.get(field)) is str else None
                if thinking:
                    break
            if text is not None and type(text) is not str:
                text, more = (content_parts or _text_parts)(text)
                thinking = thinking or more
            tool_calls = _tool_calls(calls, delta["tool_calls"]) if delta.get("tool_calls") else None
            finish = choice.get("finish_reason")
            if text or thinking or tool_calls or finish:
                yield Chunk(text or None, thinking or None, tool_calls, None, None, None, finish)
                finished = finished or finish is not None
        usage = obj.get("usage")
        if usage:
            yield _usage_chunk(obj, usage)
    if not finished:
        raise ended_early("data: [DONE]")


def _text_parts(parts: Any) -> tuple[str, None]:
    if isinstance(parts, list):
        return "".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text"), None
    return str(parts), None


def _tool_calls(calls: dict[int, list[str]], deltas: list[dict[str, Any]]) -> dict[str, ToolCall]:
    """Each call this delta starts or extends, with the argument fragment it brought."""
    out = {}
    for position, delta in enumerate(deltas):
        index = delta.get("index", position)
        function = delta.get("function") or {}
        entry = calls.get(index)
        if entry is None or (delta.get("id") and delta["id"] != entry[0]):
            entry = calls[index] = [delta.get("id") or f"call_{index}", ""]
        if function.get("name") and not entry[1]:
            entry[1] = function["name"]
        arguments = function.get("arguments") or ""
        out[entry[0]] = ToolCall(entry[0], entry[1], arguments if isinstance(arguments, str) else json.dumps(arguments))
    return out


def _usage_chunk(obj: dict[str, Any], usage: dict[str, Any]) -> Chunk:
    details = usage.get("completion_tokens_details") or {}
    return Chunk(model_id=obj.get("model"), input_tokens=usage.get("prompt_tokens"),
                 output_tokens=usage.get("completion_tokens"), reasoning_tokens=details.get("reasoning_tokens"))


def _error_event(obj: dict[str, Any]):
    kind, message = error_fields(obj)
    error = obj.get("error")
    status = (error if isinstance(error, dict) else obj).get("code")
    return make_error(status if isinstance(status, int) else None, kind, message, body=obj)
