"""HTTP: the only module that touches the network. It owns requests and sseclient-py and translates their errors.

Events reach the caller the moment their bytes arrive: chunked bodies are read
one HTTP chunk at a time, close-delimited ones with ``read1`` (whatever has
arrived), never in fixed-size blocks that would wait for more.

>>> list(frames([b"event: a\\ndata: {\\"x\\"", b": 1}\\n\\n", b"data: [DONE]\\n\\n"]))
[('a', '{"x": 1}'), ('message', '[DONE]')]
"""

from __future__ import annotations

import email.utils
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
from llmchat.errors import ConnectionError, Error, StreamError, TimeoutError, make_error

__all__ = ["Stream", "frames", "open_stream", "retry_after"]

log = logging.getLogger("llmchat")
_local = threading.local()
MAX_ERROR_BODY = 64 * 1024


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

    def __init__(self, response: requests.Response) -> None:
        self.response = response
        self.aborted: Error | None = None

    def events(self) -> Iterator[tuple[str, str]]:
        try:
            for event in frames(self._blocks()):
                if self.aborted is not None:
                    break
                yield event
        except (Urllib3Error, requests.RequestException, OSError, ValueError) as exc:
            if self.aborted is None:
                raise _translate(exc) from None
        if self.aborted is not None:
            raise self.aborted

    def _blocks(self) -> Iterator[bytes]:
        raw = self.response.raw
        if raw.chunked and raw.supports_chunked_reads():
            yield from raw.read_chunked(decode_content=True)
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

    def close(self) -> None:
        """Close the connection (also mid-stream: the server sees it go and stops generating)."""
        self._shutdown()
        self.response.close()

    def _shutdown(self) -> None:
        sock = _socket_of(self.response)
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The response's socket: on its connection, or (close-delimited bodies) inside the body's file."""
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock


def open_stream(url: str, headers: dict[str, str], body: dict[str, Any], *, timeout: float,
                connect_timeout: float, read_error: Callable[[str], tuple[str | None, str]]) -> Stream:
    """POST ``body`` and return the open event stream, or raise the typed error of a failed request."""
    all_headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
                   "Accept-Encoding": "identity", "User-Agent": f"llmchat/{__version__}", **headers}
    data = json.dumps(body, ensure_ascii=False).encode()
    if log.isEnabledFor(logging.DEBUG):
        log.debug("POST %s %s (%d bytes)", url, _redacted(all_headers), len(data))
    try:
        response = _session().post(url, data=data, headers=all_headers, stream=True,
                                   timeout=(connect_timeout, timeout))
    except requests.RequestException as exc:
        raise _translate(exc) from None
    log.debug("HTTP %s %s", response.status_code, response.headers.get("content-type"))
    if response.status_code >= 400:
        raise _http_error(response, read_error)
    ctype = response.headers.get("content-type", "")
    if "json" in ctype and "event-stream" not in ctype:
        raise _unexpected_json(response, read_error)
    return Stream(response)


def _http_error(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]]) -> Error:
    try:
        text = _read_text(response)
    except Error as exc:
        text = f"(error body unreadable: {exc})"
    kind, message = read_error(text) if text.strip() else (None, response.reason or "")
    message = message or response.reason or f"HTTP {response.status_code}"
    return make_error(response.status_code, kind, f"{message} (HTTP {response.status_code})",
                      retry_after=retry_after(response.headers), body=text)


def _unexpected_json(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]]) -> Error:
    text = _read_text(response)
    kind, message = read_error(text)
    if kind or "error" in text[:200]:
        return make_error(None, kind, message, body=text)
    return StreamError(f"expected an event stream, got {response.headers.get('content-type')}: {text[:200]!r}")


def _read_text(response: requests.Response) -> str:
    try:
        data = response.raw.read(MAX_ERROR_BODY, decode_content=True) or b""
    except (Urllib3Error, OSError) as exc:
        raise _translate(exc) from None
    finally:
        response.close()
    return data.decode("utf-8", "replace")


def _translate(exc: BaseException) -> Error:
    """A requests/urllib3/socket exception as an llmchat error."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (requests.Timeout, ReadTimeoutError, socket.timeout)) or "timed out" in text:
        return TimeoutError(f"no data from the server within the timeout ({_short(text)})")
    if isinstance(exc, requests.ConnectionError) and "Max retries" in text:
        return ConnectionError(f"could not connect: {_short(text)}")
    return ConnectionError(f"the connection broke during the stream: {_short(text)}")


def _short(text: str) -> str:
    return re.sub(r"\s+", " ", text)[:300]


def _redacted(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if SECRET_HEADER.search(k) else v) for k, v in headers.items()}


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, ``retry-after`` (seconds or a date),
    else OpenAI's ``x-ratelimit-reset-*`` durations (``1s``, ``6m0s``, ``20ms``).

    >>> retry_after({"retry-after": "3"}), retry_after({"x-ratelimit-reset-tokens": "1m30s"})
    (3.0, 90.0)
    """
    headers = {k.lower(): v for k, v in dict(headers).items()}
    if "retry-after-ms" in headers:
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            date = email.utils.parsedate_to_datetime(value) if value else None
            if date is not None:
                return max(0.0, date.timestamp() - time.time())
    resets = [_duration(headers[k]) for k in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
              if k in headers]
    resets = [r for r in resets if r is not None]
    return max(resets) if resets else None


def _duration(text: str) -> float | None:
    parts = _DURATION.findall(text)
    if not parts:
        return None
    return sum(float(number) * _UNITS[unit] for number, unit in parts)
