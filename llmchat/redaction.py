"""Server text never shows a key, and a callback never hides an error.

:func:`redact` replaces every API key llmchat was given (each :class:`~llmchat.config.Secret`) with
``***``; the spine applies it to every error (:func:`redact_error`) and a filter on the ``llmchat``
logger to every log line. :func:`attach_failure` keeps an error that is propagating when a callback
fails meanwhile. :func:`public_text` is what a page may show of an error.
"""

from __future__ import annotations

import logging
from typing import Any

from llmchat.config import known_secrets
from llmchat.errors import Error

__all__ = ["PRIVATE", "attach_failure", "public_text", "redact", "redact_error"]

PRIVATE = "the answer failed on the server"

log = logging.getLogger("llmchat")


def public_text(error: BaseException | None = None, kind: str | None = None, text: str | None = None) -> str:
    """What a page may show of an error: an llmchat error's message; any other exception's text (a bug's,
    which can hold paths, queries, secrets) stays on the server. Give the error, or its class name and text.

    >>> from llmchat import RateLimitError
    >>> public_text(RateLimitError("slow down")), public_text(KeyError("/srv/keys.json"))
    ('slow down', 'the answer failed on the server')
    >>> public_text(kind="RateLimitError", text="slow down"), public_text(kind="KeyError", text="/srv/keys.json")
    ('slow down', 'the answer failed on the server')
    """
    if error is not None:
        return str(error) if isinstance(error, Error) else PRIVATE
    import llmchat.errors

    cls = getattr(llmchat.errors, kind or "", None)
    return (text or "") if isinstance(cls, type) and issubclass(cls, Error) else PRIVATE


class _Redacting(logging.Filter):
    """Every line logged by llmchat passes here: a configured key echoed by a server never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = redact(text)
        if cleaned is not text:
            record.msg, record.args = cleaned, None
        return True


log.addFilter(_Redacting())


def attach_failure(error: BaseException, failure: BaseException, where: str) -> None:
    """Keep ``error`` (already propagating) and record that ``where`` failed with ``failure`` while it did:
    a PEP 678 note on ``error``, ``failure`` at the end of its ``__context__`` chain, and a log line.

    >>> from llmchat.errors import RateLimitError
    >>> e = RateLimitError("slow down")
    >>> attach_failure(e, KeyError("input_tokens"), "on_end_message callback")
    >>> e.__notes__, type(e.__context__).__name__
    (["while it propagated, on_end_message callback raised KeyError: 'input_tokens'"], 'KeyError')
    """
    text = redact(f"while it propagated, {where} raised {type(failure).__name__}: {failure}"[:500])
    if hasattr(error, "add_note"):
        error.add_note(text)
    else:   # Python < 3.11
        error.__notes__ = [*getattr(error, "__notes__", []), text]  # type: ignore[attr-defined]
    tail, seen = error, {id(error)}
    while tail.__context__ is not None and id(tail.__context__) not in seen:
        tail = tail.__context__
        seen.add(id(tail))
    if id(failure) not in seen:
        link = failure      # failure's own context is usually ``error`` itself: cut it, no cycle
        while link is not None and id(link) not in seen:
            seen.add(id(link))
            if link.__context__ is not None and id(link.__context__) in seen:
                link.__context__ = None
            link = link.__context__
        tail.__context__ = failure
    log.error("%s (%s kept)", text, type(error).__name__)


def redact(value: Any) -> Any:
    """``value`` (a str, or the str/list/dict it holds) with every known API key replaced by ``***``.

    >>> from llmchat.config import Secret
    >>> _ = Secret("sk-live-abcdef123")
    >>> redact({"error": "bad key sk-live-abcdef123"})
    {'error': 'bad key ***'}
    """
    secrets = known_secrets()
    if not secrets:
        return value
    return _redact(value, secrets, 0)


def _redact(value: Any, secrets: tuple[str, ...], depth: int) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    if depth > 50:      # a hostile body nested deeper: nothing of it is worth keeping
        return "(nested too deeply)"
    if isinstance(value, dict):
        return {_redact(k, secrets, depth + 1): _redact(v, secrets, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v, secrets, depth + 1) for v in value)
    return value


def redact_error(error: Error) -> Error:
    """``error`` with every known API key removed from its message, args and body (in place)."""
    message = redact(error.message)
    if message is not error.message:
        error.message = message
        error.args = (message,)
    if error.body is not None:
        error.body = redact(error.body)
    return error
