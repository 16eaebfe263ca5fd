"""HTTP: the only module that touches the network. It owns requests and sseclient-py and translates their errors.

Events reach the caller the moment their bytes arrive: chunked bodies are read
one HTTP chunk at a time, close-delimited ones with ``read1`` (whatever has
arrived), never in fixed-size blocks that would wait for more.

>>> list(frames([b"event: a\\ndata: {\\"x\\"", b": 1}\\n\\n", b"data: [DONE]\\n\\n"]))
[('a', '{"x": 1}'), ('message', '[DONE]')]
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import re
import socket
import threading
import time
from typing import Any, Callable, Iterable, Iterator

import requests
import sseclient
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from llmchat import __version__
from llmchat.config import SECRET_HEADER
from llmchat.errors import ConfigurationError, ConnectionError, Error, StreamError, TimeoutError, make_error

__all__ = ["Stream", "frames", "open_stream", "retry_after"]

log = logging.getLogger("llmchat")
_local = threading.local()
MAX_ERROR_BODY = 64 * 1024
FINISH_WAIT = 0.05          # seconds to wait for the end of a chunked body after the terminal event
FINISH_LIMIT = 64 * 1024    # bytes read past the terminal event before giving the connection up
_BROKEN = (Urllib3Error, requests.RequestException, http.client.HTTPException, OSError, ValueError)


def frames(blocks: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """``(event name, data)`` for each Server-Sent Event in a sequence of byte blocks split anywhere."""
    try:
        for event in sseclient.SSEClient(blocks).events():
            yield event.event, event.data
    except UnicodeDecodeError as exc:
        raise StreamError(f"the stream is not valid UTF-8 ({exc.reason} at byte {exc.start} of an event)") from None


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


class Stream:
    """One open streaming response; :meth:`events` yields its events, :meth:`abort` stops it from any thread."""

    def __init__(self, response: requests.Response, timeout: float | None = None,
                 framing: Callable[[Iterable[bytes]], Iterator[tuple[str, str]]] | None = None) -> None:
        self.response = response
        self.timeout = timeout
        self.framing = framing or frames    # the protocol's choice: SSE unless it names another
        self.aborted: Error | None = None
        self._chunks: Iterator[bytes] | None = None    # the chunked-body reader, to finish the body at the end
        self._events: Iterator[tuple[str, str]] | None = None

    def events(self) -> Iterator[tuple[str, str]]:
        """The ``(event, data)`` pairs as they arrive; network failures raised as llmchat errors."""
        # Held here so that the readers stay open when the parser returns at the terminal event:
        # closing them would close the connection that close(reuse=True) can hand back to the pool.
        self._events = self._read()
        return self._events

    def _read(self) -> Iterator[tuple[str, str]]:
        source = self.framing(self._blocks())
        if log.isEnabledFor(logging.DEBUG):     # once per stream: the hot path pays nothing otherwise
            source = _logged(source)
        try:
            yield from source       # after abort() the spine stops at the next chunk; the read ends at the shut socket
        except Error:
            if self.aborted is None:
                raise
        except _BROKEN as exc:
            if self.aborted is None:
                raise _translate(exc, timeout=self.timeout) from None
        if self.aborted is not None:
            raise self.aborted

    def _blocks(self) -> Iterator[bytes]:
        raw = self.response.raw
        if raw.chunked and raw.supports_chunked_reads():
            self._chunks = raw.read_chunked(decode_content=True)
            yield from self._chunks
            return
        read1 = getattr(raw, "read1", None) or raw._fp.read1
        while True:
            block = read1(65536)
            if not block:
                return
            yield block

    def abort(self, reason: Error) -> None:
        """Stop the stream now: the reader gets ``reason``; the socket is shut so the provider stops too."""
        if self.aborted is None:
            self.aborted = reason
            self._shutdown()

    def close(self, reuse: bool = False) -> None:
        """Close the connection (also mid-stream: the server sees it go and stops generating).

        With ``reuse`` (the parser reached the terminal event) the rest of a chunked body is read if it
        comes at once, and the connection goes back to the pool for the next request instead.
        """
        if reuse and self.aborted is None and self._chunks is not None and self._finish_body():
            log.debug("connection kept for the next request")
            return
        self._shutdown()
        self.response.close()

    def _finish_body(self) -> bool:
        """Read the end of a chunked body (normally just its empty last chunk) within ``FINISH_WAIT``;
        urllib3 then returns the connection to the pool. False when it does not come so soon."""
        sock = _socket_of(self.response)
        if sock is None:
            return False
        deadline = time.monotonic() + FINISH_WAIT
        extra = 0
        try:
            while extra <= FINISH_LIMIT:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                sock.settimeout(left)       # urllib3 sets the timeout again before the next request
                block = next(self._chunks, None)  # type: ignore[arg-type]
                if block is None:
                    return True
                extra += len(block)
        except Exception:   # noqa: BLE001 - any failure here just means the connection is not reused
            return False
        return False

    def _shutdown(self) -> None:
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


def open_stream(url: str, headers: dict[str, str], body: dict[str, Any], *, timeout: float,
                connect_timeout: float, read_error: Callable[[str], tuple[str | None, str]],
                framing: Callable[[Iterable[bytes]], Iterator[tuple[str, str]]] | None = None,
                accept: str | None = None, sign: Callable[..., dict[str, str]] | None = None) -> Stream:
    """POST ``body`` and return the open event stream, or raise the typed error of a failed request.

    ``framing`` turns the body's byte blocks into ``(event, data)`` pairs (default: SSE) and ``accept``
    is its media type; ``sign(method, url, headers, body bytes)`` returns headers computed over the
    exact request (a signature, a fresh token), called once per request.
    """
    all_headers = {"Content-Type": "application/json", "Accept": accept or "text/event-stream",
                   "Accept-Encoding": "identity", "User-Agent": f"llmchat/{__version__}", **headers}
    try:
        data = json.dumps(body, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"the request body cannot be sent as JSON ({exc}); check with_params()") from None
    if sign is not None:
        url = _prepared_url(url)
        all_headers.update(sign("POST", url, all_headers, data))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("POST %s %s (%d bytes)", url, _redacted(all_headers), len(data))
    try:
        response = _session().post(url, data=data, headers=all_headers, stream=True,
                                   timeout=(connect_timeout, timeout), allow_redirects=False)
    except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
        raise ConfigurationError(_bad_header(all_headers)) from None
    except requests.RequestException as exc:
        raise _translate(exc, all_headers, timeout) from None
    log.debug("HTTP %s %s", response.status_code, response.headers.get("content-type"))
    if response.status_code >= 400:
        raise _http_error(response, read_error)
    if response.is_redirect:    # never followed: credentials (api-key, signatures) must not go elsewhere
        response.close()
        raise make_error(response.status_code, None, f"the server redirected to {response.headers.get('location')!r}"
                         f" (HTTP {response.status_code}); redirects are not followed: set base_url to the new URL")
    ctype = response.headers.get("content-type", "")
    if "json" in ctype and "event-stream" not in ctype:
        raise _unexpected_json(response, read_error)
    return Stream(response, timeout, framing)


def _prepared_url(url: str) -> str:
    """The URL exactly as requests will send it (``<``, ``>`` percent-encoded...): what a signature covers."""
    prepared = requests.models.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except requests.RequestException as exc:
        raise ConfigurationError(f"invalid URL {url!r}: {exc}") from None
    return prepared.url or url


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


def _http_error(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]]) -> Error:
    try:
        text = _read_text(response)
    except Error as exc:
        text = f"(error body unreadable: {exc})"
    kind, message = read_error(text) if text.strip() else (None, response.reason or "")
    kind = kind or response.headers.get("x-amzn-errortype", "").split(":")[0] or None   # AWS names it here
    message = message or response.reason or f"HTTP {response.status_code}"
    return make_error(response.status_code, kind, f"{message} (HTTP {response.status_code})",
                      retry_after=retry_after(response.headers, resets=response.status_code == 429), body=text)


def _unexpected_json(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]]) -> Error:
    text = _read_text(response)
    kind, message = read_error(text)
    if kind or "error" in text[:200]:
        return make_error(None, kind, message, body=text)
    return StreamError(f"expected an event stream, got {response.headers.get('content-type')}: {text[:200]!r}")


def _read_text(response: requests.Response) -> str:
    try:
        data = response.raw.read(MAX_ERROR_BODY, decode_content=True) or b""
    except _BROKEN as exc:
        raise _translate(exc) from None
    finally:
        response.close()
    return data.decode("utf-8", "replace")


def _translate(exc: BaseException, headers: dict[str, str] | None = None, timeout: float | None = None) -> Error:
    """A requests/urllib3/socket exception as an llmchat error (secret header values masked)."""
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
    return re.sub(r"\s+", " ", text)[:300]


def _redacted(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if SECRET_HEADER.search(k) else v) for k, v in headers.items()}


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
