"""OpenAI Responses (``POST {base}/responses``): OpenAI's default, also spoken by some compatible servers.

The stream is typed events (``response.output_text.delta``, ...) ending with
``response.completed`` or ``response.incomplete``; ``response.failed`` and
``error`` events carry an error. The last chunk's ``finish_reason`` is the response's
status (``completed``, ``incomplete``) and its ``finish_detail`` the reason an incomplete
one gives (``max_output_tokens``, or ``content_filter``: then ``message.content_filtered``).

>>> events = [("response.created", '{"type":"response.created","response":{"model":"gpt-5-nano"}}'),
...           ("response.output_text.delta", '{"type":"response.output_text.delta","item_id":"m","delta":"Hi"}'),
...           ("response.completed", '{"type":"response.completed","response":{"status":"completed",'
...                                  '"model":"gpt-5-nano","usage":{"input_tokens":9,"output_tokens":2}}}')]
>>> [(c.content, c.finish_reason, c.input_tokens, c.output_tokens) for c in parse(events)]
[('Hi', None, None, None), (None, 'completed', 9, 2)]
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from llmchat.error_mapping import make_error
from llmchat.message import Chunk, Message, ToolCall, WholeArguments
from llmchat.protocols import Request, ended_early, error_fields, loads, merge, read_error, system_text

__all__ = ["body", "error", "parse", "path"]


def path(request: Request) -> str:
    return "/responses"


def body(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"model": request.model, "input": _input(request.messages), "stream": True,
                            "store": False}   # nothing kept server-side unless asked: with_params(store=True)
    instructions = system_text(request.messages)
    if instructions:
        data["instructions"] = instructions
    if request.tools:
        # strict: False keeps optional parameters optional (Responses otherwise makes every one required)
        data["tools"] = [{"type": "function", "name": t.name, "description": t.description,
                          "parameters": t.schema(), "strict": False} for t in request.tools]
    if request.temperature is not None:
        data["temperature"] = request.temperature
    if request.max_tokens is not None:
        data["max_output_tokens"] = request.max_tokens
    return merge(data, request.params)


def _input(messages: list[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            items.append({"type": "function_call_output", "call_id": message.tool_call_id,
                          "output": message.content or ""})
        elif message.role == "assistant":
            if message.content:
                items.append({"role": "assistant", "content": message.content})
            items.extend({"type": "function_call", "call_id": call.id, "name": call.name,
                          "arguments": json.dumps(call.arguments or {})} for call in message.tool_calls.values())
        else:
            items.append({"role": "user", "content": message.content or ""})
    return items


error = read_error

_THINKING = {"response.reasoning_text.delta": "text", "response.reasoning_summary_text.delta": "summary"}
_FINAL = {"response.completed": "completed", "response.incomplete": "incomplete"}


def parse(events: Iterable[tuple[str, str]]) -> Iterator[Chunk]:
    """Chunks from a Responses stream; ends at ``response.completed`` (or ``response.incomplete``)."""
    state = _State()
    seen = state.seen
    for name, data in events:
        obj = loads(data)
        kind = obj.get("type") or name
        if kind == "response.output_text.delta":
            seen[obj.get("item_id")] = "text"
            yield Chunk(t if type(t := obj.get("delta")) is str else None)
        elif kind in _THINKING:
            chunk = state.thinking(_THINKING[kind], obj)
            if chunk is not None:
                yield chunk
        elif kind == "response.function_call_arguments.delta":
            entry = state.calls.get(obj.get("item_id"))
            if entry is not None:
                fragment = obj.get("delta") or ""
                entry[2].append(fragment)
                yield Chunk(tool_calls={entry[0]: ToolCall(entry[0], entry[1], fragment)})
        elif kind in _FINAL:
            yield state.final(obj.get("response") or {}, _FINAL[kind])
            return
        elif kind in ("response.failed", "error"):
            raise _error(obj)
        else:
            chunk = state.other(kind, obj)
            if chunk is not None:
                yield chunk
    raise ended_early("response.completed")


class _State:
    """What a stream has shown so far: output items, function calls, the model."""

    def __init__(self) -> None:
        self.seen: dict[Any, str] = {}          # item id -> what its deltas were: "text", or the thinking kind
        self.calls: dict[Any, list[Any]] = {}   # item id -> [call id, name, argument fragments]
        self.done: set[Any] = set()             # item ids whose whole item has been read
        self.model: str | None = None

    def thinking(self, kind: str, obj: dict[str, Any]) -> Chunk | None:
        """A reasoning delta; an item's summary is skipped once its full reasoning text streams."""
        item = obj.get("item_id")
        if self.seen.setdefault(item, kind) != kind and kind == "summary":
            return None
        self.seen[item] = kind
        return Chunk(thinking=t if type(t := obj.get("delta")) is str else None)

    def other(self, kind: str, obj: dict[str, Any]) -> Chunk | None:
        if kind == "response.output_item.added":
            return self.added(obj.get("item") or {}, obj.get("output_index"))
        if kind == "response.output_item.done":
            return self.item(obj.get("item") or {}, obj.get("output_index"))
        if kind == "response.function_call_arguments.done":
            entry = self.calls.get(obj.get("item_id"))
            return _arguments(entry, obj.get("arguments")) if entry is not None else None
        if kind in ("response.created", "response.in_progress"):
            self.model = (obj.get("response") or {}).get("model") or self.model
        return None

    def added(self, item: dict[str, Any], index: Any) -> Chunk | None:
        if item.get("type") != "function_call":
            return None
        item_id = item.get("id") or f"output_{index}"
        call_id = item.get("call_id") or item_id
        arguments = item.get("arguments") or ""
        arguments = arguments if isinstance(arguments, str) else json.dumps(arguments)
        entry = self.calls[item_id] = [call_id, item.get("name") or "", [arguments]]
        return Chunk(tool_calls={call_id: ToolCall(call_id, entry[1], arguments)})

    def item(self, item: dict[str, Any], index: Any) -> Chunk | None:
        """A finished output item: what its deltas did not already bring (a server may send none)."""
        item_id = item.get("id") or f"output_{index}"
        self.done.add(item_id)
        kind = item.get("type")
        if kind == "function_call":
            entry = self.calls.get(item_id)
            if entry is None:
                return self.added(item, index)
            return _arguments(entry, item.get("arguments"))
        if item_id in self.seen or None in self.seen:
            return None
        if kind == "message":
            text = "".join(p.get("text") or "" for p in item.get("content") or [] if p.get("type") == "output_text")
            return Chunk(text) if text else None
        if kind == "reasoning":
            parts = item.get("content") or item.get("summary") or []
            thinking = "".join(p.get("text") or "" for p in parts)
            return Chunk(thinking=thinking) if thinking else None
        return None

    def final(self, response: dict[str, Any], status: str) -> Chunk:
        """The last chunk: finish, usage, model, and any output item no earlier event brought."""
        final = Chunk(model_id=response.get("model") or self.model, finish_reason=response.get("status") or status,
                      finish_detail=_reason(response))
        for index, item in enumerate(response.get("output") or []):
            if (item.get("id") or f"output_{index}") not in self.done and not (self.seen and not item.get("id")):
                _fold(final, self.item(item, index))
        usage = response.get("usage") or {}
        final.input_tokens = usage.get("input_tokens")
        final.output_tokens = usage.get("output_tokens")
        final.reasoning_tokens = (usage.get("output_tokens_details") or {}).get("reasoning_tokens")
        return final


def _reason(response: dict[str, Any]) -> str | None:
    """Why a response is incomplete (``max_output_tokens``, ``content_filter``), else None."""
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    return reason if isinstance(reason, str) else None


def _arguments(entry: list[Any], arguments: Any) -> Chunk | None:
    """What the complete argument text of a call adds to what the deltas built (or, when it is not
    their continuation, the whole text as a :class:`~llmchat.message.WholeArguments`)."""
    if arguments is None:
        return None
    so_far = "".join(entry[2])
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    if text == so_far:
        return None
    entry[2] = [text]
    fragment = text[len(so_far):] if text.startswith(so_far) else WholeArguments(text)
    return Chunk(tool_calls={entry[0]: ToolCall(entry[0], entry[1], fragment)})


def _fold(into: Chunk, chunk: Chunk | None) -> None:
    if chunk is None:
        return
    if chunk.content:
        into.content = (into.content or "") + chunk.content
    if chunk.thinking:
        into.thinking = (into.thinking or "") + chunk.thinking
    if chunk.tool_calls:
        into.tool_calls = {**(into.tool_calls or {}), **chunk.tool_calls}


def _error(obj: dict[str, Any]) -> Exception:
    """The typed error of a ``response.failed`` or ``error`` event."""
    if obj.get("type") == "response.failed":
        failure = (obj.get("response") or {}).get("error") or {}
        kind, message = error_fields({"error": failure}) if failure else (None, "the response failed")
    else:
        kind, message = error_fields(obj)
    return make_error(None, kind, message or "the response failed", body=obj)
