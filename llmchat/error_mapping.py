"""Which error class of :mod:`llmchat.errors` a failure means: an HTTP status, or the error type a body names.

HTTP errors (:mod:`llmchat.http_errors`) and error events inside a 200 stream (the sans-I/O parsers of
:mod:`llmchat.protocols`) both go through :func:`error_class`; :func:`make_error` builds the instance,
giving an in-stream error the status its class stands for. The tree itself stays in :mod:`llmchat.errors`,
which re-exports both functions.

>>> make_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.").__class__.__name__
'OverloadedError'
>>> known_kind("RESOURCE_EXHAUSTED"), known_kind("my_own_error")
(True, False)
"""

from __future__ import annotations

from typing import Any

from llmchat.errors import (
    APIError,
    BadRequestError,
    ContentFilterError,
    ContextLengthExceededError,
    Error,
    ForbiddenError,
    NotFoundError,
    OverloadedError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    UnauthorizedError,
)

__all__ = ["error_class", "known_kind", "make_error"]

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError, 401: UnauthorizedError, 402: PaymentRequiredError, 403: ForbiddenError,
    404: NotFoundError, 408: ServerError, 413: BadRequestError, 422: BadRequestError, 424: ServerError,
    429: RateLimitError, 498: UnauthorizedError, 500: ServerError, 502: ServiceUnavailableError,
    503: ServiceUnavailableError, 504: ServiceUnavailableError, 529: OverloadedError,
}

# Error types named in bodies (Anthropic, OpenAI, Gemini, Mistral, ...), as the status they stand for.
_STATUS_BY_TYPE: dict[str, int] = {
    "invalid_request_error": 400, "invalid_argument": 400, "invalid_prompt": 400, "invalid_image": 400,
    "image_too_large": 400, "failed_precondition": 400, "bad_request": 400,
    "authentication_error": 401, "unauthenticated": 401, "invalid_api_key": 401,
    "billing_error": 402, "insufficient_quota": 429, "payment_required": 402,
    "permission_error": 403, "permission_denied": 403, "forbidden": 403,
    "not_found_error": 404, "not_found": 404, "model_not_found": 404,
    "request_too_large": 413,
    "rate_limit_error": 429, "rate_limit_exceeded": 429, "resource_exhausted": 429, "rate_limited": 429,
    "api_error": 500, "server_error": 500, "internal": 500, "internal_error": 500, "unknown": 500,
    "unavailable": 503, "service_unavailable": 503, "timeout_error": 504, "deadline_exceeded": 504,
    "overloaded_error": 529, "server_is_overloaded": 529, "overloaded": 529,
    "content_filter": 400, "responsibleaipolicyviolation": 400,
    # AWS (Bedrock): exception names, in stream frames and in X-Amzn-Errortype
    "throttlingexception": 429, "modelnotreadyexception": 429, "serviceunavailableexception": 503,
    "internalserverexception": 500, "modelstreamerrorexception": 500, "modelerrorexception": 500,
    "modeltimeoutexception": 504, "validationexception": 400, "accessdeniedexception": 403,
    "unrecognizedclientexception": 401, "resourcenotfoundexception": 404,
}
_FILTER_KINDS = ("content_filter", "responsibleaipolicyviolation")

# The status an error class stands for, given to in-stream errors (which have no HTTP status of their own).
_STATUS_OF: dict[type, int] = {
    BadRequestError: 400, ContextLengthExceededError: 400, UnauthorizedError: 401, PaymentRequiredError: 402,
    ForbiddenError: 403, NotFoundError: 404, RateLimitError: 429, ServerError: 500,
    ServiceUnavailableError: 503, OverloadedError: 529,
}

_CONTEXT_HINTS = ("context_length_exceeded", "context length", "context window", "prompt is too long",
                  "maximum context", "too many tokens", "input token count", "string_above_max_length",
                  "input tokens exceeded", "input is too long")


def error_class(status: int | None = None, kind: str | None = None, message: str = "") -> type[Error]:
    """The error class for an HTTP status and/or an error type named in a body.

    A known HTTP status decides (real bodies often name a generic type: OpenAI's
    401 says ``invalid_request_error``); the named type decides when there is no
    status, as for an error event inside a 200 stream. A bad request about the
    context window is a :class:`ContextLengthExceededError`.

    >>> error_class(429).__name__, error_class(None, "overloaded_error").__name__
    ('RateLimitError', 'OverloadedError')
    >>> error_class(401, "invalid_request_error").__name__
    'UnauthorizedError'
    >>> error_class(400, message="prompt is too long: 210000 tokens").__name__
    'ContextLengthExceededError'
    """
    cls: type[Error] | None = _BY_STATUS.get(status) if status else None
    if cls is None and kind:
        cls = _BY_STATUS.get(_STATUS_BY_TYPE.get(kind.lower(), 0))
    if cls is None:
        cls = ServerError if status and status >= 500 else APIError
    lowered = f"{kind or ''} {message}".lower()
    if issubclass(cls, BadRequestError) and (kind or "").lower() in _FILTER_KINDS:
        return ContentFilterError
    if cls in (BadRequestError, APIError) and any(hint in lowered for hint in _CONTEXT_HINTS):
        return ContextLengthExceededError
    if cls is ServiceUnavailableError and "overloaded" in lowered:
        return OverloadedError      # Gemini: 503 UNAVAILABLE "The model is overloaded"
    return cls


def make_error(status: int | None, kind: str | None, message: str, **kwargs: Any) -> Error:
    """An instance of :func:`error_class` for this status/type, its message naming both.

    >>> e = make_error(None, "rate_limit_error", "Number of requests exceeded")
    >>> type(e).__name__, str(e), e.status_code      # no HTTP status: the one of its class
    ('RateLimitError', 'rate_limit_error: Number of requests exceeded', 429)
    """
    cls = error_class(status, kind, message)
    text = message or (kind or f"HTTP {status}")
    if kind and kind not in text:
        text = f"{kind}: {text}"
    if status is None:
        status = _STATUS_OF.get(cls)
    return cls(text, status_code=status, **kwargs)


def known_kind(kind: str) -> bool:
    """Whether ``kind`` is an error type this mapping knows (case-insensitive), as bodies name them."""
    return kind.lower() in _STATUS_BY_TYPE
