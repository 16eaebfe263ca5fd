"""Gemini (``POST {base}/models/{model}:streamGenerateContent?alt=sse``).

Every event is a whole ``GenerateContentResponse``; there is no terminal event:
the stream ends when the body does, so the final chunk (finish reason, usage,
model) is emitted when the events run out.

>>> events = [("message", '{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}]}'),
...           ("message", '{"candidates":[{"content":{"parts":[{"text":"!"}]},"finishReason":"STOP"}],'
...                       '"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2},'
...                       '"modelVersion":"gemini-2.5-flash"}')]
>>> [(c.content, c.finish_reason, c.input_tokens, c.output_tokens) for c in parse(events)]
[('Hi', None, None, None), ('!', None, None, None), (None, 'STOP', 4, 2)]
"""

from __future__ import annotations

import itertools
import os
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from llmchat.error_mapping import make_error
from llmchat.message import Chunk, Message, ToolCall
from llmchat.protocols import Request, ended_early, error_fields, loads, merge, read_error, system_text

__all__ = ["body", "error", "parse", "path"]

# Gemini sends function calls without ids; the ids made up for them start with this, so they are
# never sent back as if the API had chosen them.
GENERATED_ID = "gemini_call_"
_ids = itertools.count(1)
_run = os.urandom(4).hex()

# The keys of Gemini's OpenAPI-style Schema object; anything else (additionalProperties, $schema,
# $defs, ...) is rejected with "Unknown name", so it is left out.
SCHEMA_KEYS = frozenset((
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum"))


def path(request: Request) -> str:
    model = request.model[7:] if request.model.startswith("models/") else request.model
    return f"/models/{quote(model, safe='')}:streamGenerateContent?alt=sse"


def body(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"contents": _contents(request.messages)}
    system = system_text(request.messages)
    if system:
        data["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        data["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if config:
        data["generationConfig"] = config
    return merge(data, request.params)


def _contents(messages: list[Message]) -> list[dict[str, Any]]:
    calls = {i: c for m in messages if m.role == "assistant" for i, c in m.tool_calls.items()}
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            part = _function_response(message, calls.get(message.tool_call_id or ""))
            if out and out[-1]["role"] == "user" and "functionResponse" in out[-1]["parts"][-1]:
                out[-1]["parts"].append(part)   # parallel results go back in one content
            else:
                out.append({"role": "user", "parts": [part]})
        elif message.role == "assistant":
            out.append({"role": "model", "parts": _model_parts(message)})
        else:
            out.append({"role": "user", "parts": [{"text": message.content or ""}]})
    return out


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.content:
        part: dict[str, Any] = {"text": message.content}
        if message.thinking_signature:
            part["thoughtSignature"] = message.thinking_signature
        parts.append(part)
    for call in message.tool_calls.values():
        function: dict[str, Any] = {"name": call.name, "args": call.arguments or {}}
        if not call.id.startswith(GENERATED_ID):
            function["id"] = call.id
        part = {"functionCall": function}
        if call.signature:
            part["thoughtSignature"] = call.signature
        parts.append(part)
    return parts or [{"text": ""}]


def _function_response(message: Message, call: ToolCall | None) -> dict[str, Any]:
    name = call.name if call is not None else (message.tool_call_id or "")
    response: dict[str, Any] = {"name": name, "response": {"name": name, "content": message.content or ""}}
    if call is not None and not call.id.startswith(GENERATED_ID):
        response["id"] = call.id
    return {"functionResponse": response}


def _declaration(tool: Any) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description or ""}
    schema = tool.schema()
    if schema.get("properties"):   # a tool without parameters is declared without any
        declaration["parameters"] = gemini_schema(schema)
    return declaration


def gemini_schema(schema: Any) -> Any:
    """A JSON Schema as Gemini's Schema: unknown keys dropped, ``["string", "null"]`` types made nullable.

    >>> gemini_schema({"type": "object", "additionalProperties": False,
    ...                "properties": {"n": {"type": ["integer", "null"]}}})
    {'type': 'object', 'properties': {'n': {'nullable': True, 'type': 'integer'}}}
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in SCHEMA_KEYS:
            if key == "const":
                out["enum"] = [value]
            continue
        if key == "properties" and isinstance(value, dict):
            value = {name: gemini_schema(sub) for name, sub in value.items()}
        elif key == "items":
            value = gemini_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            value = [gemini_schema(sub) for sub in value if sub != {"type": "null"}]
            if len(value) < len(schema[key]):
                out["nullable"] = True
            if len(value) == 1 and isinstance(value[0], dict):
                for name, sub in value[0].items():
                    out.setdefault(name, sub)
                continue
        elif key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            if len(kinds) < len(value):
                out["nullable"] = True
            value = kinds[0] if len(kinds) == 1 else value
        out[key] = value
    return out


error = read_error


def parse(events: Iterable[tuple[str, str]]) -> Iterator[Chunk]:
    """Chunks from a Gemini stream (candidate 0); the final chunk comes when the events run out."""
    usage: dict[str, Any] | None = None
    finish = model = signature = None
    for _name, data in events:
        obj = loads(data)
        candidates = obj.get("candidates")
        if candidates:
            candidate = candidates[0]
            for part in (candidate.get("content") or {}).get("parts") or ():
                text = part.get("text")
                if text and type(text) is str:
                    yield Chunk(thinking=text) if part.get("thought") else Chunk(text)
                elif "functionCall" in part:
                    yield _call_chunk(part)
                    continue
                if "thoughtSignature" in part and not part.get("thought"):
                    signature = part["thoughtSignature"]
            finish = candidate.get("finishReason") or finish
        elif "error" in obj:
            raise _error_event(obj)
        elif (obj.get("promptFeedback") or {}).get("blockReason"):
            raise _blocked(obj)
        usage = obj.get("usageMetadata") or usage
        model = obj.get("modelVersion") or model
    if finish is None:
        raise ended_early("an event with a finishReason")
    yield _final_chunk(finish, usage, model, signature)


def _call_chunk(part: dict[str, Any]) -> Chunk:
    function = part["functionCall"] or {}
    call_id = function.get("id") or f"{GENERATED_ID}{_run}_{next(_ids)}"
    arguments = function.get("args")
    call = ToolCall(call_id, function.get("name") or "", arguments if isinstance(arguments, dict) else {},
                    part.get("thoughtSignature"))
    return Chunk(tool_calls={call_id: call})


def _final_chunk(finish: str, usage: dict[str, Any] | None, model: str | None, signature: str | None) -> Chunk:
    if usage is None:
        return Chunk(model_id=model, finish_reason=finish, thinking_signature=signature)
    thoughts = usage.get("thoughtsTokenCount")
    return Chunk(model_id=model, input_tokens=usage.get("promptTokenCount"),
                 output_tokens=(usage.get("candidatesTokenCount") or 0) + (thoughts or 0),
                 finish_reason=finish, reasoning_tokens=thoughts, thinking_signature=signature)


def _error_event(obj: dict[str, Any]):
    kind, message = error_fields(obj)
    code = obj["error"].get("code") if isinstance(obj["error"], dict) else None
    return make_error(code if isinstance(code, int) else None, kind, message, body=obj)


def _blocked(obj: dict[str, Any]):
    feedback = obj["promptFeedback"]
    message = f"prompt blocked: {feedback['blockReason']}"
    if feedback.get("blockReasonMessage"):
        message += f" ({feedback['blockReasonMessage']})"
    return make_error(400, None, message, body=obj)
