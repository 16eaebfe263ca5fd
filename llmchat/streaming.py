"""The streaming spine: render request -> open stream -> parse events -> accumulate into the
message already in the store -> hand the chunk on. ``ask``, ``complete`` and ``stream`` all ride it.

Retries happen only while nothing has been delivered: once a chunk has reached
the caller, an error is raised with the partial answer, never retried.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Iterator

from llmchat.errors import (
    ConnectionError, Error, RateLimitError, ServerError, StreamError, TimeoutError, ToolLoopError,
)
from llmchat.message import Chunk, Message, parse_arguments

if TYPE_CHECKING:
    from llmchat.chat import Chat

__all__ = ["turn"]

log = logging.getLogger("llmchat")


def turn(chat: Chat) -> Iterator[Chunk]:
    """Stream the assistant's answer to the conversation as it stands, through any tool rounds."""
    for _round in range(chat.option("max_tool_rounds") + 1):
        message = chat._begin_message()
        try:
            for chunk in _attempts(chat, message):
                message.add(chunk)
                yield chunk
            _finish(message)
        except BaseException as exc:
            _fail(message, exc)
            raise
        finally:
            chat._end_message(message)
        if not message.tool_calls:
            return
        chat._run_tools(message)
    raise ToolLoopError(f"the model was still calling tools after {chat.option('max_tool_rounds')} rounds "
                        f"(max_tool_rounds); the conversation is kept in chat.messages")


def _attempts(chat: Chat, message: Message) -> Iterator[Chunk]:
    """The chunks of one assistant message, retrying the request while nothing has been delivered."""
    attempt = 0
    while True:
        delivered = False
        try:
            stream = chat._open()
            try:
                for chunk in chat._protocol.parse(stream.events(), **chat._provider.parse_options):
                    delivered = True
                    yield chunk
                return
            finally:
                chat._close(stream)
        except Error as exc:
            wait = None if delivered else retry_delay(chat, exc, attempt)
            if wait is None:
                raise
            log.info("retrying in %.2f s after %s: %s", wait, type(exc).__name__, exc)
            chat._sleep(wait)
            attempt += 1


def retry_delay(chat: Chat, exc: Error, attempt: int) -> float | None:
    """Seconds to wait before retrying after ``exc``, or None when it must not be retried."""
    if attempt >= chat.option("max_retries") or not _retryable(exc):
        return None
    interval = chat.option("retry_interval") * chat.option("retry_backoff_factor") ** attempt
    limit = chat.option("retry_max_interval")
    if exc.retry_after is not None:
        if exc.retry_after > limit:
            return None         # the provider wants a longer wait than allowed: fail now, do not sleep
        return max(exc.retry_after, interval * random.uniform(0.5, 1.0))
    return min(limit, interval * random.uniform(0.5, 1.5))


def _retryable(exc: Error) -> bool:
    """Rate limits, server errors (HTTP or in-stream), broken connections, silence, a broken stream."""
    return isinstance(exc, (RateLimitError, ServerError, ConnectionError, TimeoutError, StreamError))


def _finish(message: Message) -> None:
    if message.tool_calls:
        message.tool_calls = {i: parse_arguments(c, message.finish_reason) for i, c in message.tool_calls.items()}
    message.status = "complete"


def _fail(message: Message, exc: BaseException) -> None:
    message.status = "incomplete"
    message.error = exc
    if isinstance(exc, Error):
        exc.partial = message.content or ""
        exc.partial_message = message
