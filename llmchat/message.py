"""The values a stream is made of: :class:`Chunk`, :class:`ToolCall`, and the :class:`Message` built from them."""

from __future__ import annotations

import json
from typing import Any

import attrs

__all__ = ["Chunk", "Message", "ToolCall"]


@attrs.frozen
class ToolCall:
    """A tool call the model made.

    While streaming, ``arguments`` is the JSON text received so far; on the
    finished message it is the parsed dict.

    >>> ToolCall("call_1", "weather", {"city": "Berlin"})
    ToolCall(id='call_1', name='weather', arguments={'city': 'Berlin'})
    """

    id: str
    name: str
    arguments: Any = attrs.field(factory=dict)
    signature: str | None = attrs.field(default=None, repr=False)  # opaque provider token, sent back as is


@attrs.define
class Chunk:
    """One piece of a streamed answer, as handed to ``on_chunk``.

    >>> Chunk(content="Hel")
    Chunk(content='Hel', thinking=None, tool_calls=None, model_id=None, input_tokens=None, \
output_tokens=None, finish_reason=None)
    """

    content: str | None = None
    thinking: str | None = None
    tool_calls: dict[str, ToolCall] | None = None
    model_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    reasoning_tokens: int | None = attrs.field(default=None, repr=False)
    thinking_signature: str | None = attrs.field(default=None, repr=False)


def _text_property(parts_name: str, text_name: str) -> property:
    """A str attribute built from appended parts, joined only when read (appending stays O(1))."""

    def get(self: Message) -> str | None:
        parts = getattr(self, parts_name)
        if parts:
            text = "".join(parts)
            old = getattr(self, text_name)
            setattr(self, text_name, text if old is None else old + text)
            parts.clear()
        return getattr(self, text_name)

    def set_(self: Message, value: str | None) -> None:
        getattr(self, parts_name).clear()
        setattr(self, text_name, value)

    return property(get, set_)


@attrs.define(eq=False, repr=False)
class Message:
    """One message of a conversation; the assistant's is built in place while it streams.

    >>> m = Message("assistant")
    >>> m.add(Chunk(content="Hel")); m.add(Chunk(content="lo", finish_reason="stop", output_tokens=2))
    >>> m.content, m.finish_reason, m.output_tokens
    ('Hello', 'stop', 2)
    """

    role: str
    _content: str | None = attrs.field(default=None, alias="content")
    tool_calls: dict[str, ToolCall] = attrs.field(factory=dict)
    tool_call_id: str | None = None
    _thinking: str | None = attrs.field(default=None, alias="thinking")
    model_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    finish_reason: str | None = None
    status: str = "complete"
    error: BaseException | None = None
    thinking_signature: str | None = None
    id: Any = None      # set by a store for a persisted chat's message
    _parts: list[str] = attrs.field(factory=list, init=False)
    _thinking_parts: list[str] = attrs.field(factory=list, init=False)

    content = _text_property("_parts", "_content")
    thinking = _text_property("_thinking_parts", "_thinking")

    def add(self, chunk: Chunk) -> None:
        """Accumulate one chunk into this message (the hot path: keep it lean)."""
        if chunk.content is not None:
            self._parts.append(chunk.content)
        if chunk.thinking is not None:
            self._thinking_parts.append(chunk.thinking)
        if chunk.tool_calls:
            self.tool_calls.update(chunk.tool_calls)
        if chunk.finish_reason is not None or chunk.output_tokens is not None or chunk.model_id is not None:
            self._add_metadata(chunk)
        elif chunk.input_tokens is not None or chunk.thinking_signature is not None:
            self._add_metadata(chunk)

    def _add_metadata(self, chunk: Chunk) -> None:
        for name in ("model_id", "input_tokens", "output_tokens", "reasoning_tokens", "finish_reason",
                     "thinking_signature"):
            value = getattr(chunk, name)
            if value is not None:
                setattr(self, name, value)

    @property
    def complete(self) -> bool:
        """True unless the message ended early (an error, a cancel)."""
        return self.status == "complete"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this message (for storing it; :meth:`from_dict` reads it back).

        >>> Message.from_dict(Message("user", "hi").to_dict()).content
        'hi'
        """
        data = {name: getattr(self, name) for name in _FIELDS}
        data["tool_calls"] = [attrs.asdict(call) for call in self.tool_calls.values()]
        data["error"] = None if self.error is None else f"{type(self.error).__name__}: {self.error}"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        data = dict(data)
        calls = data.pop("tool_calls", None) or []
        error = data.pop("error", None)
        message = cls(**{name: data[name] for name in _FIELDS if name in data})
        message.tool_calls = {call["id"]: ToolCall(**call) for call in calls}
        if error is not None:
            message.error = RuntimeError(error)
        return message

    def __repr__(self) -> str:
        shown = [f"role={self.role!r}", f"content={self.content!r}"]
        for name in ("tool_calls", "tool_call_id", "thinking", "model_id", "input_tokens", "output_tokens",
                     "finish_reason", "error"):
            value = getattr(self, name)
            if value:
                shown.append(f"{name}={value!r}")
        if self.status != "complete":
            shown.append(f"status={self.status!r}")
        return f"Message({', '.join(shown)})"


_FIELDS = ("role", "content", "tool_call_id", "thinking", "model_id", "input_tokens", "output_tokens",
           "reasoning_tokens", "finish_reason", "status", "thinking_signature")


def parse_arguments(call: ToolCall, finish_reason: str | None) -> ToolCall:
    """The call with its argument text parsed into a dict (``{}`` for an empty text)."""
    from llmchat.errors import ToolCallParseError

    if isinstance(call.arguments, dict):
        return call
    text = (call.arguments or "").strip()
    try:
        arguments = json.loads(text) if text else {}
    except ValueError as exc:
        raise ToolCallParseError(
            f"arguments of tool call {call.name!r} ({call.id}) are not valid JSON ({exc}); "
            f"finish reason {finish_reason!r}: {text[:200]!r}", finish_reason=finish_reason) from None
    if not isinstance(arguments, dict):
        raise ToolCallParseError(f"arguments of tool call {call.name!r} are not a JSON object: {text[:200]!r}",
                                 finish_reason=finish_reason)
    return attrs.evolve(call, arguments=arguments)
