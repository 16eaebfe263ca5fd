"""The values a stream is made of: :class:`Chunk`, :class:`ToolCall`, and the :class:`Message` built from them."""

from __future__ import annotations

import json
from typing import Any

import attrs

__all__ = ["Chunk", "Message", "ToolCall", "clean_text"]


def clean_text(text: str) -> str:
    """``text`` that can be encoded: surrogate pairs split across events joined, lone surrogates replaced.

    >>> clean_text("ok " + chr(0xD83D) + chr(0xDE00) + " " + chr(0xD800) + "!")
    'ok 😀 �!'
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


@attrs.frozen
class ToolCall:
    """A tool call the model made.

    In a chunk, ``arguments`` is the fragment of JSON text that chunk brought (like
    ``Chunk.content``); on the streaming message it is the text received so far, and
    on the finished message the parsed dict.

    >>> ToolCall("call_1", "weather", {"city": "Berlin"})
    ToolCall(id='call_1', name='weather', arguments={'city': 'Berlin'})
    """

    id: str
    name: str
    arguments: Any = attrs.field(factory=dict)
    signature: str | None = attrs.field(default=None, repr=False)  # opaque provider token, sent back as is


class WholeArguments(str):
    """Argument text that replaces what a call's earlier fragments built (a server's final version)."""

    __slots__ = ()


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
    finish_detail: str | None = attrs.field(default=None, repr=False)  # why, where finish_reason is coarse


def _text_property(parts_name: str, text_name: str) -> property:
    """A str attribute built from appended parts, joined only when read (appending stays O(1))."""

    def get(self: Message) -> str | None:
        parts = getattr(self, parts_name)
        if parts:
            text = getattr(self, text_name)
            setattr(self, text_name, None)  # the local is now its only reference: += grows it in place
            if text is None:
                text = "".join(parts)
            else:
                text += "".join(parts)      # amortised O(new text) even when read after every chunk
            setattr(self, text_name, text)
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
    _tool_calls: dict[str, ToolCall] = attrs.field(factory=dict, alias="tool_calls")
    tool_call_id: str | None = None
    _thinking: str | None = attrs.field(default=None, alias="thinking")
    model_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    finish_reason: str | None = None
    finish_detail: str | None = None    # the provider's finer reason, e.g. Responses' incomplete_details.reason
    status: str = "complete"
    error: BaseException | None = None
    thinking_signature: str | None = None
    id: Any = None      # set by a store for a persisted chat's message
    _parts: list[str] = attrs.field(factory=list, init=False)
    _thinking_parts: list[str] = attrs.field(factory=list, init=False)
    _argument_parts: dict[str, list[str]] = attrs.field(factory=dict, init=False)

    content = _text_property("_parts", "_content")
    thinking = _text_property("_thinking_parts", "_thinking")

    def add(self, chunk: Chunk) -> None:
        """Accumulate one chunk into this message (the hot path: keep it lean)."""
        if chunk.content is not None:
            self._parts.append(chunk.content)
        if chunk.thinking is not None:
            self._thinking_parts.append(chunk.thinking)
        if chunk.tool_calls:
            self._add_calls(chunk.tool_calls)
        if chunk.finish_reason is not None or chunk.output_tokens is not None or chunk.model_id is not None:
            self._add_metadata(chunk)
        elif chunk.input_tokens is not None or chunk.thinking_signature is not None:
            self._add_metadata(chunk)

    def _add_calls(self, calls: dict[str, ToolCall]) -> None:
        """A new call is stored; a str fragment for a known one is kept aside, joined when read."""
        for key, call in calls.items():
            known = self._tool_calls.get(key)
            arguments = call.arguments
            if known is None or type(arguments) is not str or not isinstance(known.arguments, str):
                self._argument_parts.pop(key, None)     # new, or a whole replacement (dict, WholeArguments)
                self._tool_calls[key] = call
                continue
            if arguments:
                parts = self._argument_parts.get(key)
                if parts is None:
                    parts = self._argument_parts[key] = []
                parts.append(arguments)
            if call.name and not known.name:
                self._tool_calls[key] = attrs.evolve(known, name=call.name)

    def _get_tool_calls(self) -> dict[str, ToolCall]:
        """The calls, their argument fragments joined (growing the text in place: amortised O(fragment))."""
        if self._argument_parts:
            calls = self._tool_calls
            for key, parts in self._argument_parts.items():
                call = calls[key]
                call_id, name, signature, text = call.id, call.name, call.signature, str(call.arguments)
                calls[key] = None   # type: ignore[assignment]   # the local is now the text's only holder
                del call
                text += "".join(parts)
                calls[key] = ToolCall(call_id, name, text, signature)
            self._argument_parts.clear()
        return self._tool_calls

    def _set_tool_calls(self, calls: dict[str, ToolCall]) -> None:
        self._argument_parts.clear()
        self._tool_calls = calls

    tool_calls = property(_get_tool_calls, _set_tool_calls)

    def _add_metadata(self, chunk: Chunk) -> None:
        for name in ("model_id", "input_tokens", "output_tokens", "reasoning_tokens", "finish_reason",
                     "finish_detail", "thinking_signature"):
            value = getattr(chunk, name)
            if value is not None:
                setattr(self, name, value)

    def repair(self) -> None:
        """Make the text encodable (see :func:`clean_text`): a chat must stay usable after a bad reply."""
        for name in ("content", "thinking"):
            text = getattr(self, name)
            if text:
                cleaned = clean_text(text)
                if cleaned is not text:
                    setattr(self, name, cleaned)
        for key, call in self.tool_calls.items():
            if isinstance(call.arguments, str) and call.arguments:
                cleaned = clean_text(call.arguments)
                if cleaned is not call.arguments:
                    self.tool_calls[key] = attrs.evolve(call, arguments=cleaned)

    @property
    def content_filtered(self) -> bool:
        """True when a provider's content filter ended this answer: its ``finish_reason`` or, where that
        is coarse, its ``finish_detail`` is one of :data:`FILTER_REASONS` (Azure ``content_filter``, an
        incomplete Responses answer whose reason is ``content_filter``, Bedrock ``guardrail_intervened``,
        Gemini ``SAFETY``, Anthropic ``refusal``...).

        >>> Message("assistant", "Once", finish_reason="content_filter").content_filtered
        True
        >>> Message("assistant", "Once", finish_reason="incomplete", finish_detail="content_filter").content_filtered
        True
        """
        return any(isinstance(value, str) and value in FILTER_REASONS   # wire garbage may be unhashable
                   for value in (self.finish_reason, self.finish_detail))

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
                     "finish_reason", "finish_detail", "error"):
            value = getattr(self, name)
            if value:
                shown.append(f"{name}={value!r}")
        if self.status != "complete":
            shown.append(f"status={self.status!r}")
        return f"Message({', '.join(shown)})"

    def _repr_markdown_(self) -> str:     # Jupyter shows a message as Markdown
        from llmchat.markdown import message_markdown

        return message_markdown(self)


# The one rule for content filters. These ending values, in each provider's own words, mean a content
# filter or safety classifier (not the model, nor a limit) ended the answer; Message.content_filtered reads
# them from finish_reason or finish_detail. The chat then returns normally when some content came before
# (the provider's finish_reason kept, the partial answer kept), and raises ContentFilterError when none did.
#   chat_completions (Azure, OpenAI): finish_reason "content_filter"
#   responses (Azure, OpenAI): status "incomplete" with incomplete_details.reason "content_filter"
#   anthropic_messages: stop_reason "refusal" (its streaming safety classifiers stopped the answer)
#   converse (Bedrock): stopReason "guardrail_intervened", "content_filtered"
#   gemini (Gemini, Vertex AI): SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY
#   cohere: Chat v2 has no filter ending (COMPLETE, STOP_SEQUENCE, MAX_TOKENS, TOOL_CALL; ERROR and
#     TIMEOUT raise); v1's "ERROR_TOXIC" (its filter stopped the answer) is read the same way if sent.
FILTER_REASONS = frozenset((
    "content_filter", "guardrail_intervened", "content_filtered", "SAFETY", "RECITATION", "BLOCKLIST",
    "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "refusal", "ERROR_TOXIC"))

_FIELDS = ("role", "content", "tool_call_id", "thinking", "model_id", "input_tokens", "output_tokens",
           "reasoning_tokens", "finish_reason", "finish_detail", "status", "thinking_signature")


def parse_arguments(call: ToolCall, finish_reason: str | None) -> ToolCall:
    """The call with its argument text parsed into a dict (``{}`` for an empty text)."""
    from llmchat.errors import ToolCallParseError

    if isinstance(call.arguments, dict):
        return attrs.evolve(call, arguments=_clean_deep(call.arguments)) if call.arguments else call
    text = (call.arguments or "").strip()
    try:
        arguments = json.loads(text) if text else {}
    except ValueError as exc:
        raise ToolCallParseError(
            f"arguments of tool call {call.name!r} ({call.id}) are not valid JSON ({exc}); "
            f"finish reason {finish_reason!r}: {text[:200]!r}", finish_reason=finish_reason) from None
    except RecursionError:
        raise ToolCallParseError(f"arguments of tool call {call.name!r} ({call.id}) are nested too deeply",
                                 finish_reason=finish_reason) from None
    if not isinstance(arguments, dict):
        raise ToolCallParseError(f"arguments of tool call {call.name!r} are not a JSON object: {text[:200]!r}",
                                 finish_reason=finish_reason)
    if "\\u" in text:     # an escaped lone surrogate would make the history impossible to send again
        arguments = _clean_deep(arguments)
    return attrs.evolve(call, arguments=arguments)


def _clean_deep(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if depth > 100:
        return value
    if isinstance(value, dict):
        return {_clean_deep(k, depth + 1): _clean_deep(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_deep(v, depth + 1) for v in value]
    return value
