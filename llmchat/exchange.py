"""What the streaming spine asks of a chat: the message store, the request, the stream, the tools."""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from llmchat.config import Secret, reveal
from llmchat.errors import CancelledError, ConcurrentUseError, TimeoutError, UnauthorizedError
from llmchat.message import Message
from llmchat.protocols import Request
from llmchat.providers import Target

__all__ = ["Exchange", "sendable"]

CANCELLED = "the stream was cancelled (chat.cancel())"


def sendable(messages: list[Message]) -> list[Message]:
    """The history to send: no incomplete message, and no tool call without its result (nor its partial results)."""
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    dropped: set[str] = set()
    out = []
    for message in messages:
        if message.status != "complete":
            continue
        if message.role == "assistant" and message.tool_calls and not answered.issuperset(message.tool_calls):
            dropped.update(message.tool_calls)
            continue
        if message.role == "tool" and message.tool_call_id in dropped:
            continue
        out.append(message)
    return out


class Exchange:
    """Mixed into :class:`llmchat.Chat`; the spine (:mod:`llmchat.streaming`) calls these.
    Callbacks and listeners (``_fire``, ``_emit``...) come from :class:`~llmchat.callbacks.Callbacks`."""

    messages: list[Message]

    def _begin_message(self: Any) -> Message:
        message = Message("assistant", model_id=self.model, status="incomplete")
        self.messages.append(message)
        self._reply = message
        if self._listeners:
            from llmchat.events import MessageStarted

            self._emit(MessageStarted(message))
        self._fire("new_message")
        return message

    def _end_message(self: Any, message: Message, unwinding: BaseException | None = None) -> None:
        """Tell listeners and ``on_end_message``; while ``unwinding`` propagates, their failures are
        attached to it (:func:`~llmchat.redaction.attach_failure`) instead of replacing it."""
        if self._listeners:
            from llmchat.events import MessageEnded

            self._emit_safely(unwinding, MessageEnded(message))
        self._fire_safely(unwinding, "end_message", message)

    def _request(self: Any) -> Request:
        return Request(self.model, sendable(self.messages), list(self._tools.values()), self._temperature,
                       self._max_tokens, self._params)

    def _deadline(self: Any) -> float | None:
        """When the answer now starting must be complete (``total_timeout``, retries included), or None."""
        total = self.option("total_timeout")
        return time.monotonic() + total if total else None

    def _open(self: Any, deadline: float | None = None) -> Any:
        """Send the request and return the open stream; after a 401 on platform credentials that the
        provider could renew (a revoked cloud token), once more with the renewed ones."""
        try:
            return self._open_once(deadline)
        except UnauthorizedError:
            provider = self._provider
            if reveal(self._key) or provider.reauth is None or not provider.reauth():
                raise
        return self._open_once(deadline)

    def _open_once(self: Any, deadline: float | None = None) -> Any:
        """Send the request and return the open stream. ``cancel()`` and ``deadline`` (a monotonic time)
        abort it from the moment it is sent: the wait for the status line, headers and an error body too."""
        from llmchat import transport

        if self._cancel.is_set():
            raise CancelledError(CANCELLED)
        timeout, connect = self.option("request_timeout"), self.option("connect_timeout")
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._late()
            timeout, connect = (min(t, left) if t else left for t in (timeout, connect))
        request, provider, protocol = self._request(), self._provider, self._protocol
        stream = transport.Stream(timeout, getattr(protocol, "framing", None), self.option("max_event_size"))
        self._stream = stream
        if deadline is not None:
            stream.timer = threading.Timer(max(0.0, deadline - time.monotonic()), stream.abort, (self._late(),))
            stream.timer.daemon = True
            stream.timer.start()
        if self._cancel.is_set():
            stream.abort(CancelledError(CANCELLED))
        target = Target(self._base_url, protocol.path(request), protocol.body(request), self.protocol, self.model)
        if provider.prepare is not None:
            target = provider.prepare(target)
        # The key stays a Secret (a sign hook only asks whether there is one): this frame is on every error's traceback.
        sign = functools.partial(provider.sign, self._key or "") if provider.sign is not None else None
        try:
            transport.open_stream(
                target.url, self._wire_headers(), target.body, timeout=timeout, connect_timeout=connect,
                read_error=protocol.error, stream=stream, accept=getattr(protocol, "ACCEPT", None), sign=sign)
        except TimeoutError:
            self._close(stream)
            if deadline is not None and time.monotonic() >= deadline - 0.01:
                raise self._late() from None
            raise
        except BaseException:
            self._close(stream)
            raise
        return stream

    def _wire_headers(self: Any) -> dict[str, Any]:
        """The request's headers; the key stays wrapped in a Secret (the transport reveals it only to send)."""
        return {**self._provider.headers,
                **{k: Secret(v) for k, v in self._provider.auth_headers(reveal(self._key) or "").items()},
                **self._headers}

    def _late(self: Any) -> TimeoutError:
        return TimeoutError(f"the response took longer than total_timeout={self.option('total_timeout')} s")

    def _close(self: Any, stream: Any, reuse: bool = False) -> None:
        timer = getattr(stream, "timer", None)
        if timer is not None:
            timer.cancel()
        self._stream = None
        stream.close(reuse)

    def _sleep(self: Any, seconds: float) -> None:
        if self._cancel.wait(seconds):
            raise CancelledError(f"{CANCELLED} while waiting to retry")

    def _claim(self: Any) -> object:
        if not self._busy.acquire(blocking=False):
            raise ConcurrentUseError(
                "this chat is already answering (ask/complete/stream in progress, in another thread or a "
                "callback); a Chat is not shared: use one chat per conversation and thread, or wait")
        token = self._owner = object()
        return token

    def _release(self: Any, token: object) -> None:
        if self._owner is token:
            self._owner = None
            self._busy.release()

    def _run_tools(self: Any, message: Message) -> None:
        from llmchat.tool_loop import run_tools

        run_tools(self, message)
