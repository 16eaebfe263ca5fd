"""Anthropic Messages (``POST {base}/v1/messages``).

>>> events = [("message_start", '{"type":"message_start","message":{"model":"claude","usage":{"input_tokens":9}}}'),
...           ("ping", '{"type":"ping"}'),
...           ("content_block_delta", '{"type":"content_block_delta","index":0,'
...                                   '"delta":{"type":"text_delta","text":"Hi"}}'),
...           ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn"},'
...                             '"usage":{"output_tokens":2}}'),
...           ("message_stop", '{"type":"message_stop"}')]
>>> [(c.content, c.finish_reason, c.input_tokens, c.output_tokens) for c in parse(events)]
[('Hi', None, None, None), (None, 'end_turn', 9, 2)]
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from llmchat.error_mapping import make_error
from llmchat.message import Chunk, Message, ToolCall
from llmchat.protocols import Request, ended_early, error_fields, loads, merge, read_error, system_text

__all__ = ["body", "error", "parse", "path"]

DEFAULT_MAX_TOKENS = 8192


def path(request: Request) -> str:
    return "/v1/messages"


def body(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"model": request.model, "messages": _messages(request.messages),
                            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS, "stream": True}
    system = system_text(request.messages)
    if system:
        data["system"] = system
    if request.tools:
        data["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.schema()}
                         for t in request.tools]
    if request.temperature is not None:
        data["temperature"] = request.temperature
    return merge(data, request.params)


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content or ""}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)   # parallel results go back in one user message
            else:
                out.append({"role": "user", "content": [block]})
        elif message.role == "assistant":
            out.append({"role": "assistant", "content": _assistant_blocks(message)})
        else:
            out.append({"role": "user", "content": message.content or ""})
    return out


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.thinking and message.thinking_signature:
        blocks.append({"type": "thinking", "thinking": message.thinking, "signature": message.thinking_signature})
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls.values():
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments or {}})
    return blocks or [{"type": "text", "text": ""}]


error = read_error


def parse(events: Iterable[tuple[str, str]]) -> Iterator[Chunk]:
    """Chunks from a Messages stream; ends at ``message_stop``."""
    usage: dict[str, Any] = {}
    tools: dict[int, list[str]] = {}    # block index -> [id, name]
    model = signature = None
    finished = False
    for _name, data in events:
        obj = loads(data)
        kind = obj.get("type")
        if kind == "content_block_delta":
            delta = obj.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                yield Chunk(t if type(t := delta.get("text")) is str else None)
            elif dtype == "thinking_delta":
                yield Chunk(thinking=t if type(t := delta.get("thinking")) is str else None)
            elif dtype == "input_json_delta":
                entry = tools.get(obj.get("index"))
                if entry is not None:
                    yield Chunk(tool_calls={entry[0]: ToolCall(entry[0], entry[1], delta.get("partial_json") or "")})
            elif dtype == "signature_delta":
                signature = delta.get("signature")
        elif kind == "content_block_start":
            chunk = _block_start(obj, tools)
            if chunk is not None:
                yield chunk
        elif kind == "message_start":
            message = obj.get("message") or {}
            model = message.get("model")
            usage.update(message.get("usage") or {})
        elif kind == "message_delta":
            usage.update({k: v for k, v in (obj.get("usage") or {}).items() if v is not None})
            finished = True
            delta = obj.get("delta") or {}
            yield Chunk(model_id=model, input_tokens=usage.get("input_tokens"),
                        output_tokens=usage.get("output_tokens"), finish_reason=delta.get("stop_reason"),
                        finish_detail=_category(delta.get("stop_details")), thinking_signature=signature)
        elif kind == "message_stop":
            return
        elif kind == "error":
            error_kind, message_text = error_fields(obj)
            raise make_error(None, error_kind, message_text, body=obj)
    if not finished:
        raise ended_early("message_stop")


def _category(details: Any) -> str | None:
    """A refusal's ``stop_details.category`` (``cyber``, ``bio``...), kept as the message's ``finish_detail``."""
    category = details.get("category") if isinstance(details, dict) else None
    return category if isinstance(category, str) else None


def _block_start(obj: dict[str, Any], tools: dict[int, list[str]]) -> Chunk | None:
    block = obj.get("content_block") or {}
    btype = block.get("type")
    if btype == "tool_use":
        entry = tools[obj.get("index")] = [block.get("id") or f"toolu_{obj.get('index')}", block.get("name")]
        return Chunk(tool_calls={entry[0]: ToolCall(entry[0], entry[1], "")})
    if btype == "text" and block.get("text") and type(block["text"]) is str:
        return Chunk(block["text"])
    if btype == "thinking" and block.get("thinking") and type(block["thinking"]) is str:
        return Chunk(thinking=block["thinking"])
    return None
