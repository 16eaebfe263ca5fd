"""What a failed HTTP exchange means, as llmchat errors: error bodies (read within bounds of size and
time), redirects not followed, requests/urllib3/socket exceptions translated; secrets masked everywhere.

>>> masked("https://h/v1/m?alt=sse&key=AIza-123")
'https://h/v1/m?alt=sse&key=***'
"""

from __future__ import annotations

import email.utils
import http.client
import re
import socket
import time
import zlib
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from llmchat.config import SECRET_HEADER, Secret, reveal
from llmchat.error_mapping import make_error
from llmchat.errors import ConnectionError, Error, StreamError, TimeoutError

__all__ = ["BROKEN", "bad_header", "masked", "not_followed", "origin", "redacted", "refusal", "retry_after",
           "translate"]

MAX_ERROR_BODY = 64 * 1024
BROKEN = (Urllib3Error, requests.RequestException, http.client.HTTPException, OSError, ValueError)
SECRET_QUERY = re.compile(r"([?&;][^=&;#\s]*(?:key|token|auth|secret|sig|password|credential)[^=&;#\s]*=)"
                          r"[^&;#\s'\"]*", re.I)


def origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{parts.hostname or ''}:{port}"


def not_followed(status: int, url: str, target: str) -> str:
    where = "another origin" if origin(target) != origin(url) else "the same origin, as a GET"
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


def refusal(response: requests.Response, read_error: Callable[[str], tuple[str | None, str]],
             stream: Any) -> Error | None:
    """The error a response means instead of an event stream, or None when it is one."""
    if response.status_code >= 400:
        return _http_error(response, read_error, stream)
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return StreamError(f"the server sent a {encoding}-encoded stream although only identity encoding "
                           f"was accepted (Accept-Encoding: identity); it is not decoded")
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("application/json", "text/json") or media.endswith("+json"):     # not NDJSON: a framing
        return _unexpected_json(response, read_error, stream)
    return None


def bad_header(headers: dict[str, str]) -> str:
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
                stream: Any) -> Error:
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
                     stream: Any) -> Error:
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


def _read_text(response: requests.Response, stream: Any) -> str | Error:
    """At most ``MAX_ERROR_BODY`` bytes of the body as text (decoded from gzip/deflate within that bound)."""
    error: Error | None = None
    data = b""
    try:
        data = response.raw.read(MAX_ERROR_BODY, decode_content=False) or b""
    except BROKEN as exc:
        error = translate(exc, timeout=stream.timeout)
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


def translate(exc: BaseException, headers: dict[str, str] | None = None, timeout: float | None = None) -> Error:
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
        if SECRET_HEADER.search(name) or isinstance(value, Secret):
            for secret in str(reveal(value)).split():
                if len(secret) >= 4:
                    text = text.replace(secret, "***").replace(repr(secret)[1:-1], "***")
    return re.sub(r"\s+", " ", masked(text))[:300]


def masked(text: str) -> str:
    """``text`` (a URL, an error message) with the values of secret-looking URL parameters masked."""
    return SECRET_QUERY.sub(r"\1***", text)


def redacted(headers: dict[str, Any]) -> dict[str, str]:
    """Header values for a log line: secret-looking names and :class:`Secret` values masked."""
    return {k: ("***" if SECRET_HEADER.search(k) or isinstance(v, Secret) else str(v)) for k, v in headers.items()}


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
