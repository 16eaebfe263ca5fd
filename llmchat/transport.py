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

import email.utils
import functools
import http.client
import json
import logging
import re
import socket
import threading
import time
import zlib
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from llmchat import __version__
from llmchat.chunked import dechunk
from llmchat.config import SECRET_HEADER, Secret, reveal
from llmchat.errors import ConfigurationError, ConnectionError, Error, StreamError, TimeoutError, make_error
from llmchat.sse_framing import MAX_EVENT_SIZE
from llmchat.sse_framing import events as sse_events

__all__ = ["Stream", "frames", "open_stream", "retry_after"]

log = logging.getLogger("llmchat")
_local = threading.local()
MAX_ERROR_BODY = 64 * 1024
MAX_REDIRECTS = 5
READ_SIZE = 65536
FINISH_WAIT = 0.05          # seconds to wait for the end of a chunked body after the terminal event
FINISH_LIMIT = 64 * 1024    # bytes read past the terminal event before giving the connection up
_BROKEN = (Urllib3Error, requests.RequestException, http.client.HTTPException, OSError, ValueError)
_FOLLOWED = (307, 308)      # redirects that keep the method and the body
_SECRET_QUERY = re.compile(r"([?&;][^=&;#\s]*(?:key|token|auth|secret|sig|password|credential)[^=&;#\s]*=)"
                           r"[^&;#\s'\"]*", re.I)
Framing = Callable[[Iterable[bytes], "int | None"], Iterator[tuple[str, str]]]
frames = sse_events


class _Watched:
    """Mixed into urllib3's connections: hands each socket to the Stream being opened, so that
    :meth:`Stream.abort` can shut it before the response headers have arrived."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:       # a kept-alive connection: connect() is not called again
            _watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _watch(sock: Any) -> None:
    stream = getattr(_local, "opening", None)
    if stream is not None:
        stream._attach(sock)


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is ProxyManager:       # SOCKS proxies keep their own pools (abort acts after headers)
            manager.pool_classes_by_scheme = _POOLS
        return manager


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.mount("http://", _Adapter())
        session.mount("https://", _Adapter())
    return session


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
        except _BROKEN as exc:
            failure = _translate(exc, timeout=self.timeout)
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
        signed = sign("POST", url, headers, data).items()
        headers = {**headers, **{k: Secret(v) if SECRET_HEADER.search(k) else v for k, v in signed}}
    if log.isEnabledFor(logging.DEBUG):
        log.debug("POST %s %s (%d bytes)", _masked(url), _redacted(headers), len(data))
    response, error = _send_following(stream, url, headers, data, (connect_timeout, timeout))
    if error is None:
        log.debug("HTTP %s %s", response.status_code, response.headers.get("content-type"))
        error = _refusal(response, read_error, stream)
    if error is not None:
        stream.close()
        raise error         # outside any except clause: no __context__ that could hold a request
    return stream


def _send_following(stream: Stream, url: str, headers: dict[str, Any], data: bytes,
                    timeouts: tuple[float | None, float | None]) -> tuple[Any, Error | None]:
    """The response, following redirects that keep the origin, the method and the body; else the error."""
    for _hop in range(MAX_REDIRECTS + 1):
        response, error = _send(stream, url, headers, data, timeouts)
        if error is not None or not response.is_redirect:
            return response, error
        target = urljoin(url, response.headers.get("location", ""))
        response.close()
        if response.status_code not in _FOLLOWED or _origin(target) != _origin(url):
            return None, make_error(response.status_code, None, _not_followed(response.status_code, url, target))
        log.debug("following HTTP %s to %s", response.status_code, _masked(target))
        url = target
    return None, make_error(response.status_code, None, f"more than {MAX_REDIRECTS} redirects from {_origin(url)}")


def _send(stream: Stream, url: str, headers: dict[str, Any], data: bytes,
          timeouts: tuple[float | None, float | None]) -> tuple[Any, Error | None]:
    """One POST. The only frame that sees the key: it returns (never raises) so no traceback keeps it."""
    plain = {"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "identity",
             "User-Agent": f"llmchat/{__version__}", **{k: reveal(v) for k, v in headers.items()}}
    _local.opening = stream
    try:
        response = _session().post(url, data=data, headers=plain, stream=True, timeout=timeouts,
                                   allow_redirects=False)
    except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
        return None, ConfigurationError(_bad_header(plain))
    except _BROKEN as exc:
        return None, stream.aborted or _translate(exc, plain, timeouts[1])
    finally:
        _local.opening = None
    response.request.headers = CaseInsensitiveDict(_redacted(plain))    # the response must not hold the key,
    response._next = None       # nor the next request requests prepares for a redirect (with every header)
    stream.response = response
    return response, stream.aborted


def _prepared_url(url: str) -> str:
    """The URL exactly as requests will send it (``<``, ``>`` percent-encoded...): what a signature covers."""
    prepared = requests.models.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except requests.RequestException as exc:
        raise ConfigurationError(f"invalid URL: {type(exc).__name__}") from None
    return prepared.url or url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{parts.hostname or ''}:{port}"


def _not_followed(status: int, url: str, target: str) -> str:
    where = "another origin" if _origin(target) != _origin(url) else "the same origin, as a GET"
    return (f"the server redirected the request (HTTP {status}) to {_host(target)} ({where}); llmchat does not "
            f"follow it and sends the API key only to {_host(url)}: check base_url")


def _host(url: str) -> str:
    """``host[:port]`` of ``url``, without user info, path or query."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.hostname or '?'}{f':{port}' if port else ''}"


def _refusal(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]],
             stream: Stream) -> Error | None:
    """The error a response means instead of an event stream, or None when it is one."""
    if response.status_code >= 400:
        return _http_error(response, read_error, stream)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return StreamError(f"the server sent a {encoding}-encoded stream although only identity encoding "
                           f"was accepted (Accept-Encoding: identity); it is not decoded")
    ctype = response.headers.get("content-type", "")
    if "json" in ctype and "event-stream" not in ctype:
        return _unexpected_json(response, read_error, stream)
    return None


def _bad_header(headers: dict[str, str]) -> str:
    """Which header cannot be sent, without its value (it is often the API key)."""
    for name, value in headers.items():
        text = str(value)
        if text != text.strip() or "\n" in text or "\r" in text or not text.isascii() and not _latin1(text):
            return (f"the value of the HTTP header {name!r} cannot be sent (a newline, surrounding spaces or "
                    f"a character outside Latin-1); check the API key or the headers you set")
    return "an HTTP header cannot be sent; check the API key or the headers you set"


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _http_error(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]],
                stream: Stream) -> Error:
    text = _read_text(response, stream)
    if isinstance(text, Error):
        if stream.aborted is not None:
            return stream.aborted
        text = f"(error body unreadable: {text})"
    kind, message = _reason(read_error, text) if text.strip() else (None, response.reason or "")
    kind = kind or response.headers.get("x-amzn-errortype", "").split(":")[0] or None   # AWS names it here
    message = message or response.reason or f"HTTP {response.status_code}"
    return make_error(response.status_code, kind, f"{message} (HTTP {response.status_code})",
                      retry_after=retry_after(response.headers, resets=response.status_code == 429), body=text)


def _unexpected_json(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]],
                     stream: Stream) -> Error:
    text = _read_text(response, stream)
    if isinstance(text, Error):
        return text
    kind, message = _reason(read_error, text)
    if kind or "error" in text[:200]:
        return make_error(None, kind, message or text[:200], body=text)
    return StreamError(f"expected an event stream, got {response.headers.get('content-type')}: {text[:200]!r}")


def _reason(read_error: Callable[[str], tuple[str | None, str]], text: str) -> tuple[str | None, str]:
    """The protocol's reading of an error body; nothing (not a RecursionError) when it cannot read it."""
    try:
        return read_error(text)
    except (RecursionError, LookupError, TypeError, AttributeError, ValueError):
        return None, ""


def _read_text(response: requests.Response, stream: Stream) -> str | Error:
    """At most ``MAX_ERROR_BODY`` bytes of the body as text (decoded from gzip/deflate within that bound)."""
    error: Error | None = None
    data = b""
    try:
        data = response.raw.read(MAX_ERROR_BODY, decode_content=False) or b""
    except _BROKEN as exc:
        error = _translate(exc, timeout=stream.timeout)
    except (OverflowError, MemoryError):
        error = StreamError("the response body could not be read (an absurd size)")
    finally:
        response.close()
    if stream.aborted is not None:
        return stream.aborted
    if error is not None:
        return error
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            data = zlib.decompressobj(47).decompress(data, MAX_ERROR_BODY)     # 47: a gzip or zlib header
        except zlib.error:
            return f"(a {encoding}-encoded body that does not decode)"
    elif encoding not in ("", "identity"):
        return f"(a {encoding}-encoded body, not decoded)"
    return data.decode("utf-8", "replace")


def _translate(exc: BaseException, headers: dict[str, str] | None = None, timeout: float | None = None) -> Error:
    """A requests/urllib3/socket exception as an llmchat error (secret header values and URL parameters masked)."""
    text = _short(str(exc) or type(exc).__name__, headers)
    if isinstance(exc, requests.ConnectTimeout):
        return TimeoutError(f"could not connect within connect_timeout ({text})")
    if isinstance(exc, (requests.Timeout, ReadTimeoutError, socket.timeout)) or "timed out" in text:
        waited = f" for {timeout:g} s (request_timeout)" if timeout else ""
        return TimeoutError(f"no data from the server{waited}: {text}")
    if isinstance(exc, requests.ConnectionError) and "Max retries" in text:
        return ConnectionError(f"could not connect: {text}")
    return ConnectionError(f"the connection broke during the stream: {text}")


def _short(text: str, headers: dict[str, str] | None = None) -> str:
    for name, value in (headers or {}).items():
        if SECRET_HEADER.search(name):
            for secret in str(value).split():
                if len(secret) >= 4:
                    text = text.replace(secret, "***").replace(repr(secret)[1:-1], "***")
    return re.sub(r"\s+", " ", _masked(text))[:300]


def _masked(text: str) -> str:
    """``text`` (a URL, an error message) with the values of secret-looking URL parameters masked.

    >>> _masked("https://h/v1/m?alt=sse&key=AIza-123")
    'https://h/v1/m?alt=sse&key=***'
    """
    return _SECRET_QUERY.sub(r"\1***", text)


def _redacted(headers: dict[str, Any]) -> dict[str, str]:
    return {k: ("***" if SECRET_HEADER.search(k) else str(reveal(v))) for k, v in headers.items()}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_LIMITS = ("requests", "tokens")


def retry_after(headers: Any, resets: bool = True) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date),
    else (with ``resets``, for a 429) OpenAI's ``x-ratelimit-reset-*`` durations (``1s``, ``6m0s``, ``20ms``):
    the reset of the exhausted limit (``x-ratelimit-remaining-*: 0``), else the soonest one.

    >>> retry_after({"retry-after": "3"}), retry_after({"Retry-After-Ms": "250"})
    (3.0, 0.25)
    >>> retry_after({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "1m30s"})
    1.0
    >>> retry_after({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "1m30s",
    ...              "x-ratelimit-remaining-tokens": "0"})
    90.0
    """
    headers = {k.lower(): v for k, v in dict(headers).items()}
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            date = _http_date(value)
            if date is not None:
                return max(0.0, date - time.time())
    return _reset(headers) if resets else None


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _reset(headers: dict[str, str]) -> float | None:
    resets = {kind: _duration(headers.get(f"x-ratelimit-reset-{kind}", "")) for kind in _LIMITS}
    known = [wait for wait in resets.values() if wait is not None]
    exhausted = [wait for kind, wait in resets.items()
                 if wait is not None and headers.get(f"x-ratelimit-remaining-{kind}", "").strip() == "0"]
    if exhausted:
        return max(exhausted)
    return min(known) if known else None


def _duration(text: str) -> float | None:
    parts = _DURATION.findall(text)
    if not parts:
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in parts)
