"""A chat's callbacks (``on_new_message``, ``on_end_message``, ``on_tool_call``, ``on_tool_result``) and
its listeners (``add_listener``: the hook of sinks such as stores and SSE feeds, fed :mod:`llmchat.events`).

Both are called in the order they were registered. While an llmchat error propagates (an answer that
failed), a callback or listener that fails too does not replace it: its exception is attached to the
error (:func:`~llmchat.redaction.attach_failure`) and logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from llmchat.errors import ConfigurationError
from llmchat.events import MessageAdded
from llmchat.message import Message, ToolCall
from llmchat.redaction import attach_failure

if TYPE_CHECKING:
    from llmchat.chat import Chat

__all__ = ["Callbacks", "check_callable"]

EVENTS = ("new_message", "end_message", "tool_call", "tool_result")


def check_callable(value: Any, what: str, optional: bool = False) -> None:
    """Raise :class:`~llmchat.ConfigurationError` unless ``value`` is callable (or None, when ``optional``)."""
    if not callable(value) and not (optional and value is None):
        raise ConfigurationError(f"{what} must be callable, got {type(value).__name__}; nothing was sent or stored")


class Callbacks:
    """Mixed into :class:`llmchat.Chat`: registering callbacks and listeners, and calling them.

    >>> from llmchat.chat import Chat
    >>> chat = Chat("gpt-4.1-mini", api_key="k")
    >>> chat.on_end_message(print) is chat, chat.add_listener(print) is chat
    (True, True)
    >>> chat.on_tool_call("print")
    Traceback (most recent call last):
    ...
    llmchat.errors.ConfigurationError: on_tool_call must be callable, got str; nothing was sent or stored
    """

    _callbacks: dict[str, list[Callable[..., Any]]]
    _listeners: list[Callable[[Any], Any]]

    def _init_callbacks(self) -> None:
        self._callbacks = {event: [] for event in EVENTS}
        self._listeners = []

    def _register(self, event: str, callback: Callable[..., Any]) -> Chat:
        check_callable(callback, f"on_{event}")
        self._callbacks[event].append(callback)
        return self     # type: ignore[return-value] - a Callbacks is always a Chat

    def on_new_message(self, callback: Callable[[], Any]) -> Chat:
        """Call ``callback()`` before each assistant message's request is sent."""
        return self._register("new_message", callback)

    def on_end_message(self, callback: Callable[[Message], Any]) -> Chat:
        """Call ``callback(message)`` when an assistant message ends, complete or not."""
        return self._register("end_message", callback)

    def on_tool_call(self, callback: Callable[[ToolCall], Any]) -> Chat:
        """Call ``callback(call)`` before each tool runs (``call.arguments`` is the parsed dict)."""
        return self._register("tool_call", callback)

    def on_tool_result(self, callback: Callable[[str], Any]) -> Chat:
        """Call ``callback(text)`` after each tool runs, with the result text sent back to the model
        (an error text for an unknown tool or arguments that do not fit its schema)."""
        return self._register("tool_result", callback)

    def _fire(self, event: str, *args: Any) -> None:
        for callback in self._callbacks[event]:
            callback(*args)

    def _fire_safely(self, unwinding: BaseException | None, event: str, *args: Any) -> None:
        """Fire ``event``; while ``unwinding`` (an llmchat error) propagates, a callback's own exception
        does not replace it: it is logged and attached to it (a note, and ``__context__``)."""
        if unwinding is None:
            self._fire(event, *args)
            return
        for callback in self._callbacks[event]:
            try:
                callback(*args)
            except Exception as exc:    # noqa: BLE001 - the error already propagating wins
                attach_failure(unwinding, exc, f"on_{event} callback {callback!r}")

    def add_listener(self, listener: Callable[[Any], Any]) -> Chat:
        """Call ``listener(event)`` with every :mod:`llmchat.events` value of this chat (for sinks: stores, SSE)."""
        check_callable(listener, "add_listener")
        self._listeners.append(listener)
        return self     # type: ignore[return-value]

    def remove_listener(self, listener: Callable[[Any], Any]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: Any) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _emit_safely(self, unwinding: BaseException | None, event: Any) -> None:
        """:meth:`_emit`; while ``unwinding`` propagates, a listener's failure is attached to it instead."""
        if unwinding is None:
            self._emit(event)
            return
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:    # noqa: BLE001 - the error already propagating wins
                attach_failure(unwinding, exc, f"listener {listener!r}")

    def _message_added(self, message: Message, index: int) -> None:
        """Tell listeners that ``message`` joined the history at ``index`` (not streamed: user, system, tool)."""
        if self._listeners:
            self._emit(MessageAdded(message, index))
