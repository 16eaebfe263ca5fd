"""The streaming spine: render request -> open stream -> parse events -> accumulate into the
message already in the store -> hand the chunk on. ``ask``, ``complete`` and ``stream`` all ride it.

Retries happen only while nothing has been delivered: once a chunk has reached
the caller, an error is raised with the partial answer, never retried. A parser
tripping over data that is not what its protocol promises (valid JSON of the
wrong shape) raises a :class:`~llmchat.errors.StreamError`, like malformed JSON.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from typing import TYPE_CHECKING, Iterator

from llmchat.errors import (
    CancelledError,
    ConnectionError,
    ContentFilterError,
    Error,
    RateLimitError,
    ServerError,
    StreamError,
    TimeoutError,
    ToolLoopError,
)
from llmchat.events import ChunkReceived
from llmchat.message import Chunk, Message, parse_arguments
from llmchat.redaction import redact_error

if TYPE_CHECKING:
    from llmchat.chat import Chat

__all__ = ["retry_delay", "turn"]

log = logging.getLogger("llmchat")

# What a parser raises when an event is valid JSON of an unexpected shape (a list, a string for an object...).
_SHAPE_ERRORS = (LookupError, TypeError, AttributeError, ValueError, RecursionError)


def turn(chat: Chat) -> Iterator[Chunk]:
    """Stream the assistant's answer to the conversation as it stands, through any tool rounds.

    ``total_timeout`` bounds the whole answer: every tool round, and the tools' own running time.
    """
    rounds = chat.option("max_tool_rounds")
    deadline = chat._deadline()
    for done in itertools.count():
        message = chat._begin_message()
        emit = chat._emit if chat._listeners else None
        try:
            for chunk in _attempts(chat, message, deadline):
                message.add(chunk)
                if emit is not None:
                    emit(ChunkReceived(message, chunk))
                yield chunk
            _finish(message)
        except BaseException as exc:
            _fail(message, exc)
            chat._end_message(message, exc if message.error is None else message.error)
            raise
        chat._end_message(message)
        if not message.tool_calls:
            return
        if done >= rounds:
            raise ToolLoopError(f"the model was still calling tools after {rounds} tool rounds (max_tool_rounds); "
                                f"its last calls were not run and the conversation is kept in chat.messages")
        chat._run_tools(message)


def _attempts(chat: Chat, message: Message, deadline: float | None) -> Iterator[Chunk]:
    """The chunks of one assistant message, retrying the request while nothing has been delivered."""
    parse, options = chat._protocol.parse, chat._provider.parse_options
    attempt = 0
    while True:
        delivered = thrown = False
        stream = None
        try:
            stream = chat._open(deadline)
            reuse = False
            try:
                for chunk in parse(stream.events(), **options):
                    delivered = True
                    try:
                        yield chunk
                    except BaseException:
                        thrown = True       # the caller's own exception (on_chunk, Ctrl-C): not ours to judge
                        raise
                    if stream.aborted is not None:      # cancel() from on_chunk: not one chunk more
                        raise stream.aborted
                reuse = True
                return
            except Error:
                raise
            except _SHAPE_ERRORS as exc:
                if thrown:
                    raise
                raise StreamError(f"unexpected event data ({type(exc).__name__}: {exc})"[:300]) from exc
            finally:
                chat._close(stream, reuse)
        except Error as exc:
            redact_error(exc)       # server text may echo a key: never show it to the caller or a log
            if delivered or thrown or (stream is not None and stream.aborted is exc):
                raise                   # something reached the caller, or cancel()/total_timeout stopped it
            wait = retry_delay(chat, exc, attempt)
            if wait is None or (deadline is not None and time.monotonic() + wait >= deadline):
                raise
            log.info("retrying in %.2f s after %s: %s", wait, type(exc).__name__, exc)
            chat._sleep(wait)
            attempt += 1


def retry_delay(chat: Chat, exc: Error, attempt: int) -> float | None:
    """Seconds to wait before retry number ``attempt + 1`` after ``exc``, or None when it must not be retried.

    Exponential backoff (``retry_interval * retry_backoff_factor ** attempt``, capped at
    ``retry_max_interval``) of which a random 50-100 % is waited; a wait the provider asked for is
    honoured, and when it is longer than ``retry_max_interval`` the error is raised at once instead.
    """
    if attempt >= chat.option("max_retries") or not _retryable(exc):
        return None
    limit = chat.option("retry_max_interval")
    wait = min(limit, chat.option("retry_interval") * chat.option("retry_backoff_factor") ** attempt)
    wait *= random.uniform(0.5, 1.0)        # "equal jitter": clients that failed together retry apart
    if exc.retry_after is not None:
        if exc.retry_after > limit:
            return None         # the provider wants a longer wait than allowed: fail now, do not sleep
        return max(exc.retry_after, wait)
    return wait


def _retryable(exc: Error) -> bool:
    """Rate limits, server errors (HTTP or in-stream), broken connections, silence, a broken stream."""
    return isinstance(exc, (RateLimitError, ServerError, ConnectionError, TimeoutError, StreamError))


def _finish(message: Message) -> None:
    if message.content_filtered and not message.content and not message.tool_calls:
        detail = f", {message.finish_detail!r}" if message.finish_detail is not None else ""
        raise ContentFilterError(f"a content filter ended the answer before any content "
                                 f"(finish_reason {message.finish_reason!r}{detail})")
    if message.tool_calls:
        for call in message.tool_calls.values():      # garbage from the wire must not reach the tools
            if type(call.id) is not str or type(call.name) is not str or not isinstance(call.arguments, (str, dict)):
                raise StreamError(f"a malformed tool call: {call.name!r} ({call.id!r}): {call.arguments!r}"[:300])
        message.tool_calls = {i: parse_arguments(c, message.finish_reason) for i, c in message.tool_calls.items()}
    message.repair()
    message.status = "complete"


def _fail(message: Message, exc: BaseException) -> None:
    message.status = "incomplete"
    message.repair()
    if isinstance(exc, GeneratorExit):      # the caller stopped iterating chat.stream(): say so, in our terms
        exc = CancelledError("the caller stopped reading the stream before it ended")
    message.error = exc
    if isinstance(exc, Error):
        redact_error(exc)       # also errors made of model output (tool arguments in a ToolCallParseError)
        exc.partial = message.content or ""
        exc.partial_message = message
