"""Server-Sent Events bodies for web apps: stream a chat's answer to a browser's ``EventSource``.

``stream(chat, prompt)`` is the body of a WSGI response (Flask ``Response``, Django
``StreamingHttpResponse``), ``astream`` the same for ASGI (FastAPI/Starlette ``StreamingResponse``,
Django under ASGI); send them with :data:`HEADERS`. Each content chunk is one unnamed event whose
data is the JSON string of the text, then ``event: complete`` or ``event: error`` (with the partial
answer). Thinking, tool calls and tool results are named events. Every event has an ``id``; comment
lines keep a silent connection open. When the client leaves, the chat is cancelled: the provider
connection closes and the incomplete answer stays in ``chat.messages``.

No web framework is imported here.

>>> from llmchat.testing import Server
>>> import llmchat
>>> with Server() as server:
...     server.reply("Hel", "lo\\n")
...     chat = llmchat.chat("gpt-4.1-mini", protocol="chat_completions",
...                         base_url=server.url("chat_completions"), api_key="k")
...     body = b"".join(stream(chat, "Hi")).decode()
>>> print(body[:body.index("event: complete")])
id: 1
data: "Hel"
<BLANKLINE>
id: 2
data: "lo\\n"
<BLANKLINE>
id: 3
<BLANKLINE>
>>> chat.messages[-1].content
'Hello\\n'
"""

from __future__ import annotations

import itertools
import json
import logging
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator

from llmchat.errors import ConfigurationError, Error
from llmchat.events import ChunkReceived, MessageAdded, MessageEnded
from llmchat.live.asgi import afollow  # live pages (llmchat.live): ASGI
from llmchat.live.follow import follow  # live pages: a stored chat's broadcast (llmchat.live)
from llmchat.redaction import public_text
from llmchat.web.pump import Pump

if TYPE_CHECKING:
    from llmchat.chat import Chat

__all__ = ["HEADERS", "afollow", "astream", "comment", "encode", "error_data", "follow", "stream"]

log = logging.getLogger("llmchat")

HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}
"""Response headers of an SSE body: the media type, no caching or transforming (compression) on the
way, no proxy buffering (nginx). No hop-by-hop header (``Connection`` is forbidden in WSGI and HTTP/2)."""


def encode(data: str, event: str | None = None, id: int | str | None = None) -> bytes:  # noqa: A002
    """One SSE event as bytes; every line of ``data`` (split at CR LF, CR or LF) becomes a ``data:`` line.

    >>> encode('"Hi"', id=7)
    b'id: 7\\ndata: "Hi"\\n\\n'
    >>> encode("a\\r\\nb", event="note")
    b'event: note\\ndata: a\\ndata: b\\n\\n'
    """
    head = ""
    if id is not None:
        head = f"id: {_field(str(id), 'id')}\n"
    if event is not None:
        head += f"event: {_field(event, 'event')}\n"
    if "\n" in data or "\r" in data:
        data = "\ndata: ".join(data.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return f"{head}data: {data}\n\n".encode()


def _field(value: str, name: str) -> str:
    if "\n" in value or "\r" in value or (name == "id" and "\0" in value):
        what = "a line break or NUL" if name == "id" else "a line break"
        raise ConfigurationError(f"an SSE {name} cannot hold {what}: {value!r}")
    return value


def comment(text: str = "") -> bytes:
    """A comment line (ignored by ``EventSource``; keeps a connection alive).

    >>> comment("hi")
    b': hi\\n\\n'
    """
    return b"".join(b": " + line.encode() + b"\n" for line in text.replace("\r", "\n").split("\n")) + b"\n"


class _Answer:
    """The producer of :func:`stream`: answers the chat on the pump's thread, encoding its events as they come."""

    def __init__(self, chat: Chat, prompt: str | None) -> None:
        self.chat, self.prompt = chat, prompt
        self.ids = itertools.count(1)
        self.pump: Pump | None = None
        self.put: Callable[[bytes], None] = lambda data: None

    def __call__(self, put: Callable[[bytes], None]) -> None:
        chat, self.put = self.chat, put
        if self.prompt is not None:
            chat.add_message("user", self.prompt)
        chat.add_listener(self.listen)
        try:
            reply = chat.complete()
        except BaseException as exc:
            if not isinstance(exc, Error):      # a bug (in a tool, say): its text is for the log, not the browser
                log.error("the answer to an SSE request failed", exc_info=exc)
            put(encode(_json(error_data(exc, chat)), "error", next(self.ids)))
            if not isinstance(exc, Exception):
                raise
        else:
            data = {"content": reply.content or "", "input_tokens": reply.input_tokens,
                    "output_tokens": reply.output_tokens, "model_id": reply.model_id,
                    "finish_reason": reply.finish_reason}
            put(encode(_json(data), "complete", next(self.ids)))
        finally:
            chat.remove_listener(self.listen)

    def listen(self, event: Any) -> None:
        """The chat's listener: each event that matters to a browser, encoded and put on the pump."""
        if self.pump is not None and self.pump.closed:
            self.chat.cancel()          # the reader left before this answer (or tool round) began
        kind, put, ids = type(event), self.put, self.ids
        if kind is ChunkReceived:
            chunk = event.chunk
            if chunk.content:
                put(b"id: %d\ndata: %s\n\n" % (next(ids), encode_basestring(chunk.content).encode()))
            if chunk.thinking:
                put(encode(encode_basestring(chunk.thinking), "thinking", next(ids)))
        elif kind is MessageEnded and event.message.complete:
            for call in event.message.tool_calls.values():
                data = {"id": call.id, "name": call.name, "arguments": call.arguments}
                put(encode(_json(data), "tool_call", next(ids)))
        elif kind is MessageAdded and event.message.role == "tool":
            data = {"tool_call_id": event.message.tool_call_id, "content": event.message.content}
            put(encode(_json(data), "tool_result", next(ids)))


def error_data(exc: BaseException, chat: Any = None) -> dict[str, Any]:
    """The data of an ``error`` event: ``error`` (the message), ``type`` (the class name), ``partial``.

    The message of an exception that is not an :class:`llmchat.Error` (a failing tool) stays on the server.

    >>> from llmchat import RateLimitError
    >>> error = RateLimitError("slow down"); error.partial = "Hel"
    >>> error_data(error)
    {'error': 'slow down', 'type': 'RateLimitError', 'partial': 'Hel'}
    """
    partial = getattr(exc, "partial", None)
    if partial is None and chat is not None and chat.messages and chat.messages[-1].role == "assistant":
        partial = chat.messages[-1].content
    return {"error": public_text(exc), "type": type(exc).__name__, "partial": partial or ""}


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def _pump(chat: Chat, prompt: str | None, heartbeat: float) -> Pump:
    answer = _Answer(chat, prompt)
    answer.pump = Pump(answer, cancel=chat.cancel, heartbeat=heartbeat, name=f"llmchat.sse:{chat.model}")
    return answer.pump


def stream(chat: Chat, prompt: str | None = None, *, heartbeat: float = 15.0) -> Iterator[bytes]:
    """The SSE body of ``chat``'s answer (to ``prompt`` when given, else to the conversation as it stands).

    The answer runs on a worker thread; while it is silent a comment goes out every ``heartbeat``
    seconds. Closing the iterator (a WSGI server does when the client leaves) cancels the chat.
    """
    return _pump(chat, prompt, heartbeat).body()


def astream(chat: Chat, prompt: str | None = None, *, heartbeat: float = 15.0) -> AsyncIterator[bytes]:
    """:func:`stream` as an async iterator for ASGI servers; cancelling its task cancels the chat."""
    return _pump(chat, prompt, heartbeat).abody()
