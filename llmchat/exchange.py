"""What the streaming spine asks of a chat: the message store, the request, the stream, the tools."""

from __future__ import annotations

import threading
from typing import Any

from llmchat.config import reveal
from llmchat.errors import CancelledError, TimeoutError
from llmchat.message import Message
from llmchat.protocols import Request

__all__ = ["Exchange", "sendable"]


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
    """Mixed into :class:`llmchat.Chat`; the spine (:mod:`llmchat.streaming`) calls these."""

    messages: list[Message]

    def _begin_message(self: Any) -> Message:
        message = Message("assistant", model_id=self.model, status="incomplete")
        self.messages.append(message)
        self._reply = message
        self._fire("new_message")
        return message

    def _end_message(self: Any, message: Message) -> None:
        self._fire("end_message", message)

    def _request(self: Any) -> Request:
        return Request(self.model, sendable(self.messages), list(self._tools.values()), self._temperature,
                       self._max_tokens, self._params)

    def _open(self: Any) -> Any:
        from llmchat import transport

        if self._cancel.is_set():
            raise CancelledError("the stream was cancelled (chat.cancel())")
        request = self._request()
        headers = {**self._provider.headers, **self._provider.auth_headers(reveal(self._key) or ""),
                   **{k: reveal(v) for k, v in self._headers.items()}}
        stream = transport.open_stream(
            self._base_url + self._protocol.path(request), headers, self._protocol.body(request),
            timeout=self.option("request_timeout"), connect_timeout=self.option("connect_timeout"),
            read_error=self._protocol.error)
        self._stream = stream
        total = self.option("total_timeout")
        if total:
            stream.timer = threading.Timer(total, stream.abort, (TimeoutError(
                f"the response took longer than total_timeout={total} s"),))
            stream.timer.daemon = True
            stream.timer.start()
        if self._cancel.is_set():
            stream.abort(CancelledError("the stream was cancelled (chat.cancel())"))
        return stream

    def _close(self: Any, stream: Any) -> None:
        timer = getattr(stream, "timer", None)
        if timer is not None:
            timer.cancel()
        self._stream = None
        stream.close()

    def _sleep(self: Any, seconds: float) -> None:
        if self._cancel.wait(seconds):
            raise CancelledError("the stream was cancelled (chat.cancel()) while waiting to retry")

    def _run_tools(self: Any, message: Message) -> None:
        from llmchat.tool_loop import run_tools

        run_tools(self, message)
