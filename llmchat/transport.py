"""HTTP: the only module that touches the network. It owns requests and translates its errors.

The body is read as it arrives (``read1``: whatever has come in), de-chunked by
:mod:`llmchat.chunked` and cut into events by the protocol's framing function
(``framing`` in the protocol module, :func:`llmchat.sse_framing.events` when it
has none), so each event reaches the caller the moment its own bytes are in.

A :class:`Stream` exists before the request is sent: :meth:`Stream.abort`
(``cancel()``, ``total_timeout``) shuts its socket whatever the request waits
for: the status line, the headers, an error body or the next event.
Redirects are followed only to the same origin (307/308): API keys never go
anywhere else. Errors carry no object that holds a key.

>>> list(frames([b"event: a\\ndata: {\\"x\\"", b": 1}\\n\\n", b"data: [DONE]\\n\\n"]))
[('a', '{"x": 1}'), ('message', '[DONE]')]
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import time
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urljoin

import requests
from requests.structures import CaseInsensitiveDict

from llmchat import __version__
from llmchat.chunked import dechunk
from llmchat.config import Secret, reveal
from llmchat.error_mapping import make_error
from llmchat.errors import ConfigurationError, Error, StreamError
from llmchat.http_errors import (
    BROKEN,
    bad_header,
    masked,
    not_followed,
    origin,
    redacted,
    refusal,
    retry_after,
    translate,
)
from llmchat.http_session import opening, session
from llmchat.sse_framing import MAX_EVENT_SIZE
from llmchat.sse_framing import events as sse_events

__all__ = ["Stream", "frames", "open_stream", "retry_after"]

log = logging.getLogger("llmchat")
MAX_REDIRECTS = 5
READ_SIZE = 65536
FINISH_WAIT = 0.05          # seconds to wait for the end of a chunked body after the terminal event
FINISH_LIMIT = 64 * 1024    # bytes read past the terminal event before giving the connection up
_FOLLOWED = (307, 308)      # redirects that keep the method and the body
Framing = Callable[[Iterable[bytes], "int | None"], Iterator[tuple[str, str]]]
frames = sse_events


class Stream:
    """One streaming request, from before it is sent: :meth:`events` yields its events once
    :func:`open_stream` has opened it; :meth:`abort` stops it from any thread at any point.

    ``framing(blocks, max_event_size)`` cuts the body into ``(event, data)`` pairs (SSE by default).

    >>> stream = Stream(timeout=30)
    >>> stream.abort(StreamError("stopped")); stream.aborted
    StreamError('stopped')
    """

    def __init__(self, timeout: float | None = None, framing: Framing | None = None,
                 max_event_size: int | None = MAX_EVENT_SIZE) -> None:
        self.response: requests.Response | None = None
        self.timeout = timeout
        self.framing = framing or sse_events
        self.max_event_size = max_event_size
        self.aborted: Error | None = None
        self._sock: Any = None
        self._released = False          # the connection went back to the pool: abort() must not touch it
        self._complete = False          # the whole chunked body was read
        self._chunks: Iterator[bytes] | None = None    # the chunked-body reader, to finish the body at the end
        self._events: Iterator[tuple[str, str]] | None = None

    def _attach(self, sock: Any) -> None:
        self._sock = sock
        if self.aborted is not None:
            self._shutdown()

    def events(self) -> Iterator[tuple[str, str]]:
        """The ``(event, data)`` pairs as they arrive; network failures raised as llmchat errors."""
        # Held here so that the readers stay open when the parser returns at the terminal event:
        # closing them would close the connection that close(reuse=True) can hand back to the pool.
        self._events = self._read()
        return self._events

    def _read(self) -> Iterator[tuple[str, str]]:
        source = self.framing(self._blocks(), self.max_event_size)
        if log.isEnabledFor(logging.DEBUG):     # once per stream: the hot path pays nothing otherwise
            source = _logged(source)
        failure: Error | None = None
        try:
            yield from source       # after abort() the spine stops at the next chunk; the read ends at the shut socket
        except Error as exc:
            failure = exc
        except BROKEN as exc:
            failure = translate(exc, timeout=self.timeout)
        except (OverflowError, MemoryError):
            failure = StreamError("the response body could not be read (an absurd size)")
        if self.aborted is not None:        # whatever the cut left half-read, the reason is the abort
            raise self.aborted
        if failure is not None:
            raise failure

    def _blocks(self) -> Iterator[bytes]:
        raw = self.response.raw  # type: ignore[union-attr]
        if raw.chunked and raw.supports_chunked_reads():
            self._chunks = self._dechunked(raw._fp.fp)
            yield from self._chunks
            return
        read1 = getattr(raw, "read1", None) or raw._fp.read1
        while True:
            block = read1(READ_SIZE)
            if not block:
                return
            yield block

    def _dechunked(self, fp: Any) -> Iterator[bytes]:
        rest = yield from dechunk(iter(functools.partial(fp.read1, READ_SIZE), b""))
        self._complete = not rest

    def abort(self, reason: Error) -> None:
        """Stop the stream now: the reader gets ``reason``; the socket is shut so the provider stops too."""
        if self.aborted is None and not self._released:
            self.aborted = reason
            self._shutdown()

    def close(self, reuse: bool = False) -> None:
        """Close the connection (also mid-stream: the server sees it go and stops generating).

        With ``reuse`` (the parser reached the terminal event) the rest of a chunked body is read if it
        comes at once, and the connection goes back to the pool for the next request instead.
        """
        if reuse and self.aborted is None and self._chunks is not None and self._finish_body():
            self._released = True
            raw = self.response.raw  # type: ignore[union-attr]
            raw._original_response.close()      # as urllib3 does at the end of a chunked body
            raw.release_conn()
            log.debug("connection kept for the next request")
            return
        self._shutdown()
        if self.response is not None:
            self.response.close()

    def _finish_body(self) -> bool:
        """Read the end of a chunked body (normally just its empty last chunk) within ``FINISH_WAIT``;
        the connection can then serve the next request. False when it does not come so soon."""
        if self._complete:
            return True
        if self._sock is None:
            return False
        deadline = time.monotonic() + FINISH_WAIT
        extra = 0
        try:
            while extra <= FINISH_LIMIT:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._sock.settimeout(left)       # urllib3 sets the timeout again before the next request
                block = next(self._chunks, None)  # type: ignore[arg-type]
                if block is None:
                    return self._complete
                extra += len(block)
        except Exception:   # noqa: BLE001 - any failure here just means the connection is not reused
            return False
        return False

    def _shutdown(self) -> None:
        sock = self._sock
        if sock is None and self.response is not None:
            sock = _socket_of(self.response)
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _logged(events: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for name, data in events:
        log.debug("event %s: %s", name, data if len(data) <= 500 else f"{data[:500]}... ({len(data)} chars)")
        yield name, data


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The response's socket: on its connection, or (close-delimited bodies) inside the body's file."""
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock


def open_stream(url: str, headers: dict[str, Any], body: dict[str, Any], *, timeout: float | None,
                connect_timeout: float | None, read_error: Callable[[str], tuple[str | None, str]],
                stream: Stream | None = None, accept: str | None = None,
                sign: Callable[..., dict[str, str]] | None = None) -> Stream:
    """POST ``body`` and return the open event stream, or raise the typed error of a failed request.

    ``headers`` values may be :class:`~llmchat.config.Secret`: they are revealed only while sending.
    ``accept`` is the stream's media type (default ``text/event-stream``); ``sign(method, url, headers,
    body bytes)`` returns headers computed over the exact request (a signature, a fresh token).
    """
    stream = stream if stream is not None else Stream(timeout)
    try:
        data = json.dumps(body, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"the request body cannot be sent as JSON ({exc}); check with_params()") from None
    if accept:
        headers = {**headers, "Accept": accept}
    if sign is not None:
        url = _prepared_url(url)
        # Masked, not remembered: a signature changes with every request (the hook remembers the tokens in it).
        headers = {**headers, **{k: Secret(v, remember=False) for k, v in sign("POST", url, headers, data).items()}}
    if log.isEnabledFor(logging.DEBUG):
        log.debug("POST %s %s (%d bytes)", masked(url), redacted(headers), len(data))
    response, error = _send_following(stream, url, headers, data, (connect_timeout, timeout))
    if error is None:
        log.debug("HTTP %s %s", response.status_code, response.headers.get("content-type"))
        error = refusal(response, read_error, stream)
    if error is not None:
        stream.close()
        raise error         # outside any except clause: no __context__ that could hold a request
    return stream


def _prepared_url(url: str) -> str:
    """The URL exactly as requests will send it (``<``, ``>`` percent-encoded...): what a signature covers."""
    prepared = requests.models.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except requests.RequestException as exc:
        raise ConfigurationError(f"invalid URL: {type(exc).__name__}") from None
    return prepared.url or url


def _send_following(stream: Stream, url: str, headers: dict[str, Any], data: bytes,
                    timeouts: tuple[float | None, float | None]) -> tuple[Any, Error | None]:
    """The response, following redirects that keep the origin, the method and the body; else the error."""
    for _hop in range(MAX_REDIRECTS + 1):
        response, error = _send(stream, url, headers, data, timeouts)
        if error is not None or not response.is_redirect:
            return response, error
        target = urljoin(url, response.headers.get("location", ""))
        response.close()
        if response.status_code not in _FOLLOWED or origin(target) != origin(url):
            return None, make_error(response.status_code, None, not_followed(response.status_code, url, target))
        log.debug("following HTTP %s to %s", response.status_code, masked(target))
        url = target
    return None, make_error(response.status_code, None, f"more than {MAX_REDIRECTS} redirects from {origin(url)}")


def _send(stream: Stream, url: str, headers: dict[str, Any], data: bytes,
          timeouts: tuple[float | None, float | None]) -> tuple[Any, Error | None]:
    """One POST. The only frame that sees the key: it returns (never raises) so no traceback keeps it."""
    plain = {"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "identity",
             "User-Agent": f"llmchat/{__version__}", **{k: reveal(v) for k, v in headers.items()}}
    try:
        with opening(stream):
            response = session().post(url, data=data, headers=plain, stream=True, timeout=timeouts,
                                      allow_redirects=False)
    except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
        return None, ConfigurationError(bad_header(plain))
    except BROKEN as exc:
        return None, stream.aborted or translate(exc, {**plain, **headers}, timeouts[1])
    # The response must not hold the key: not in its request, nor in the one requests prepares for a redirect.
    response.request.headers = CaseInsensitiveDict(redacted({**plain, **headers}))
    response._next = None
    stream.response = response
    return response, stream.aborted
