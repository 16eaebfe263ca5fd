"""Every error llmchat raises, in one tree.

::

    Error                                   partial, partial_message, status_code
    ├── ConfigurationError                  (also ValueError)  bad or missing settings or arguments, before any request
    ├── APIError                            the provider said no: an HTTP status or an error event in a stream
    │   ├── BadRequestError          400    (also ValueError)
    │   │   ├── ContextLengthExceededError  the conversation is too long for the model
    │   │   └── ContentFilterError          a content filter refused the request (or left no answer)
    │   ├── UnauthorizedError        401
    │   ├── PaymentRequiredError     402
    │   ├── ForbiddenError           403
    │   ├── NotFoundError            404
    │   ├── RateLimitError           429
    │   ├── ServerError              500 and other 5xx
    │   ├── ServiceUnavailableError  502-504
    │   └── OverloadedError          529
    ├── ConnectionError                     (also builtin ConnectionError)  could not connect, or the connection broke
    ├── TimeoutError                        (also builtin TimeoutError)  silence or a deadline ran out
    ├── StreamError                         the stream broke its protocol: malformed event, ended early
    ├── ToolCallParseError                  (also ValueError)  the model's tool arguments are not valid JSON
    ├── ToolArgumentError                   (also ValueError)  a tool's arguments do not fit its schema
    ├── ToolLoopError                       too many tool rounds in one turn
    ├── ConcurrentUseError                  (also RuntimeError)  a second ask on a chat that is answering
    ├── CancelledError                      chat.cancel() stopped the stream
    ├── ChatNotFoundError                   (also LookupError)  no stored chat with that id
    ├── ChatBusyError                       another worker is answering this stored chat now
    ├── StoreError                          the store's database failed (locked, unreachable, full)
    └── WorkerLostError                     a stored answer's worker stopped before it ended

One mapping, :func:`error_class` (in :mod:`llmchat.error_mapping`, importable
from here too), turns an HTTP status, or the error type named in a body
(``rate_limit_error``, ``RESOURCE_EXHAUSTED``, ``server_is_overloaded``, ...),
into a class; HTTP errors and error events inside a 200 stream both go
through it. The status decides when there is one; the named type otherwise.
An error event inside a stream gets the status of the class it maps to
(an in-stream ``rate_limit_error`` is a ``RateLimitError`` with ``status_code``
429, on every protocol); only a class with no status of its own (``APIError``)
leaves it None.

Server text (messages, ``body``) never shows a configured API key: every key
llmchat knows is replaced by ``***`` before an error reaches the caller or a log.

Every error carries what was streamed before it::

    >>> err = RateLimitError("Rate limit reached", status_code=429, partial="Once upon")
    >>> isinstance(err, Error), err.partial, err.status_code
    (True, 'Once upon', 429)
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:   # at run time, module __getattr__ below loads them on first use
    from llmchat.error_mapping import error_class, make_error

__all__ = [
    "APIError", "BadRequestError", "CancelledError", "ChatBusyError", "ChatNotFoundError",
    "ConcurrentUseError", "ConfigurationError", "ConnectionError", "ContentFilterError",
    "ContextLengthExceededError", "Error", "ForbiddenError", "NotFoundError", "OverloadedError",
    "PaymentRequiredError", "RateLimitError", "ServerError", "ServiceUnavailableError", "StoreError", "StreamError",
    "TimeoutError", "ToolArgumentError", "ToolCallParseError", "ToolLoopError", "UnauthorizedError",
    "WorkerLostError", "error_class", "make_error",
]


class Error(Exception):
    """Base of every llmchat error.

    ``partial`` is the text streamed before the error (``""`` if none),
    ``partial_message`` the incomplete assistant message (or None),
    ``status_code`` the HTTP status where there is one, ``retry_after`` the
    wait in seconds the provider asked for, if it did.

    >>> try:
    ...     raise ServerError("boom", status_code=500, partial="half an ans")
    ... except Error as e:
    ...     print(e, "|", e.partial)
    boom | half an ans
    """

    def __init__(self, message: str = "", *, status_code: int | None = None, partial: str = "",
                 partial_message: Any = None, retry_after: float | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.partial = partial
        self.partial_message = partial_message
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # picklable for background-job queues
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type, message: str, state: dict) -> Error:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigurationError(Error, ValueError):
    """A setting is missing or wrong; raised before any request is sent.

    >>> str(ConfigurationError("Set OPENAI_API_KEY"))
    'Set OPENAI_API_KEY'
    """


class APIError(Error):
    """The provider answered with an error, as an HTTP status or an error event in the stream.

    >>> APIError("nope", status_code=418).status_code
    418
    """


class BadRequestError(APIError, ValueError):
    """400: the provider rejected the request.

    >>> issubclass(BadRequestError, ValueError)
    True
    """


class ContextLengthExceededError(BadRequestError):
    """The conversation no longer fits the model's context window.

    >>> issubclass(ContextLengthExceededError, BadRequestError)
    True
    """


class ContentFilterError(BadRequestError):
    """A provider's content filter refused the prompt (Azure's 400 ``content_filter``), or ended the
    answer before any content; an answer cut after some content returns normally instead, with
    ``message.content_filtered`` true.

    >>> issubclass(ContentFilterError, BadRequestError)
    True
    """


class UnauthorizedError(APIError):
    """401: the API key is missing, wrong or revoked.

    >>> UnauthorizedError("bad key", status_code=401).status_code
    401
    """


class PaymentRequiredError(APIError):
    """402: the account has no credit left.

    >>> PaymentRequiredError("top up").message
    'top up'
    """


class ForbiddenError(APIError):
    """403: the key may not use this model or endpoint.

    >>> ForbiddenError("no").status_code is None
    True
    """


class NotFoundError(APIError):
    """404: unknown model or endpoint.

    >>> NotFoundError("no such model").message
    'no such model'
    """


class RateLimitError(APIError):
    """429: too many requests or tokens; ``retry_after`` says how long to wait, when known.

    >>> RateLimitError("slow down", retry_after=2.0).retry_after
    2.0
    """


class ServerError(APIError):
    """500 and other server-side failures.

    >>> ServerError("oops", status_code=500).status_code
    500
    """


class ServiceUnavailableError(ServerError):
    """502, 503, 504: the provider or a gateway in front of it is down.

    >>> issubclass(ServiceUnavailableError, ServerError)
    True
    """


class OverloadedError(ServerError):
    """529: the provider is overloaded.

    >>> OverloadedError("Overloaded", status_code=529).status_code
    529
    """


class ConnectionError(Error, builtins.ConnectionError):  # noqa: A001 - the name users expect
    """The connection could not be made or broke during the stream.

    >>> issubclass(ConnectionError, builtins.ConnectionError)
    True
    """


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 - the name users expect
    """No byte came for ``request_timeout`` seconds, or the total deadline passed.

    >>> issubclass(TimeoutError, builtins.TimeoutError)
    True
    """


class StreamError(Error):
    """The stream broke its protocol: a malformed event, or it ended without its terminal event.

    >>> StreamError("bad JSON", partial="abc").partial
    'abc'
    """


class ToolCallParseError(Error, ValueError):
    """The arguments of a tool call are not valid JSON (often cut short: see ``finish_reason``).

    >>> ToolCallParseError("truncated", finish_reason="length").finish_reason
    'length'
    """

    def __init__(self, message: str = "", *, finish_reason: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.finish_reason = finish_reason


class ToolLoopError(Error):
    """The model kept calling tools past ``max_tool_rounds`` in one turn.

    >>> ToolLoopError("10 tool rounds").message
    '10 tool rounds'
    """


class ConcurrentUseError(Error, builtins.RuntimeError):
    """A second ``ask``/``complete``/``stream`` on a chat that is still answering (a chat is not shared
    between threads); raised at once, before anything is stored or sent.

    >>> issubclass(ConcurrentUseError, RuntimeError)
    True
    """


class CancelledError(Error):
    """``chat.cancel()`` stopped the stream; the partial answer is kept.

    >>> CancelledError("cancelled", partial="Once").partial
    'Once'
    """


class ToolArgumentError(Error, ValueError):
    """The model called a tool with arguments that do not match its schema.

    During ``ask`` this never reaches the caller: the problems go back to the model as the
    tool's result, so that it can correct the call. ``Tool.run`` raises it when called directly.

    >>> err = ToolArgumentError("weather", ["missing required argument 'latitude'"])
    >>> str(err), err.tool_name, err.problems
    ("weather: missing required argument 'latitude'", 'weather', ["missing required argument 'latitude'"])
    """

    def __init__(self, tool_name: str, problems: Sequence[str] | str) -> None:
        self.tool_name = tool_name
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(f"{tool_name}: {'; '.join(self.problems)}")


class ChatNotFoundError(Error, LookupError):
    """No stored chat with that id in the store.

    >>> issubclass(ChatNotFoundError, LookupError)
    True
    """


class ChatBusyError(Error):
    """Another worker is answering this stored chat now (two answers must not interleave).

    >>> str(ChatBusyError("chat c1 is being answered elsewhere"))
    'chat c1 is being answered elsewhere'
    """


class StoreError(Error):
    """The store's database failed a read or a write (locked too long, unreachable, disk full); the
    driver's own exception is its ``__cause__``. A stored answer's final write failing raises it with the
    answer as ``partial`` (the message is complete in ``chat.messages``; its row may lag behind).

    >>> str(StoreError("the store's database failed: OperationalError: database is locked"))
    "the store's database failed: OperationalError: database is locked"
    """


class WorkerLostError(Error):
    """The worker answering a stored message stopped (killed, machine restarted) before the answer ended.

    >>> str(WorkerLostError("the worker stopped"))
    'the worker stopped'
    """


def __getattr__(name: str) -> Any:
    """``error_class`` and ``make_error``, loaded on first use from :mod:`llmchat.error_mapping` (no cycle)."""
    if name in ("error_class", "make_error"):
        from llmchat import error_mapping

        globals()[name] = value = getattr(error_mapping, name)
        return value
    raise AttributeError(f"module 'llmchat.errors' has no attribute {name!r}")
