"""Protocol-neutral rendering pipeline: a :class:`Reply` becomes wire events and checkpoints.

A wire format builds a list of steps: :class:`Ev` (one event) and ``int`` checkpoints. A
checkpoint ``n`` marks the moment right after ``n`` text pieces were written (``0``: just before
the first text piece, or where the text would be). The server acts on checkpoints (stall, cut);
the pipeline here inserts the in-stream error, drops terminal events and adds keep-alive pings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from llmchat.testing.types import Reply


@attrs.frozen
class Ev:
    """One wire event: ``data`` is a JSON object, or a str sent as is (e.g. ``[DONE]``)."""

    data: dict[str, Any] | str
    name: str | None = None
    terminal: bool = False


@attrs.frozen
class Context:
    """What rendering needs to know about the request."""

    model: str
    include_usage: bool = True
    next_id: Callable[[str], str] = lambda prefix: prefix + "1"
    azure: bool = False     # an Azure-shaped request (``api-version`` or an Azure path): Azure's stream quirks


@attrs.frozen
class ErrorKind:
    """One error category (keyed by its Anthropic type name) and its look in every protocol."""

    type: str
    status: int
    message: str
    openai_type: str
    openai_code: str | None
    responses_code: str
    gemini_status: str
    gemini_code: int


ERROR_KINDS: dict[str, ErrorKind] = {
    kind.type: kind
    for kind in (
        ErrorKind("rate_limit_error", 429, "Rate limit reached", "rate_limit_exceeded",
                  "rate_limit_exceeded", "rate_limit_exceeded", "RESOURCE_EXHAUSTED", 429),
        ErrorKind("overloaded_error", 529, "Overloaded", "server_error", "server_is_overloaded",
                  "server_is_overloaded", "UNAVAILABLE", 503),
        ErrorKind("api_error", 500, "Internal server error", "server_error", None, "server_error",
                  "INTERNAL", 500),
        ErrorKind("invalid_request_error", 400, "Invalid request", "invalid_request_error", None,
                  "invalid_request_error", "INVALID_ARGUMENT", 400),
        ErrorKind("authentication_error", 401, "Invalid API key", "invalid_request_error",
                  "invalid_api_key", "invalid_api_key", "UNAUTHENTICATED", 401),
        ErrorKind("permission_error", 403, "Permission denied", "permission_error", None,
                  "permission_denied", "PERMISSION_DENIED", 403),
        ErrorKind("not_found_error", 404, "Not found", "invalid_request_error", "model_not_found",
                  "model_not_found", "NOT_FOUND", 404),
    )
}
_STATUS_KINDS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                 404: "not_found_error", 429: "rate_limit_error",
                 529: "overloaded_error"}


def kind_for_status(status: int) -> ErrorKind:
    """The error category an HTTP status belongs to."""
    name = _STATUS_KINDS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return ERROR_KINDS[name]


def kind_for_error(error: Any) -> tuple[ErrorKind, str]:
    """The category and message of an in-stream ``Reply.error`` mapping."""
    error = dict(error or {})
    kind = ERROR_KINDS.get(str(error.get("type")), ERROR_KINDS["api_error"])
    return kind, str(error.get("message") or kind.message)


def dumps(data: Any, compact: bool = True) -> str:
    """JSON text as the providers send it: UTF-8, no ASCII escaping."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(data, ensure_ascii=False, separators=separators)


def checkpointed(events: list[Ev]) -> list[Ev | int]:
    """Text-piece events with the checkpoints around them: 0, piece 1, 1, piece 2, 2, ..."""
    steps: list[Ev | int] = [0]
    for number, event in enumerate(events, start=1):
        steps += [event, number]
    return steps


class Wire:
    """One wire format. Subclasses build the events of a reply and frame them as bytes."""

    name = ""
    content_type = "text/event-stream; charset=utf-8"

    def build(self, reply: Reply, ctx: Context) -> list[Ev | int]:
        raise NotImplementedError

    def error_event(self, reply: Reply, ctx: Context) -> Ev:
        raise NotImplementedError

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def error_headers(self, status: int) -> dict[str, str]:
        """Headers sent with the protocol's own error body (none by default)."""
        return {}

    def frame(self, event: Ev) -> bytes:
        """Default framing: ``event: NAME`` (when named) and ``data: ...``, blank-line terminated."""
        data = event.data if isinstance(event.data, str) else dumps(event.data)
        head = f"event: {event.name}\n" if event.name else ""
        return f"{head}data: {data}\n\n".encode()

    def ping(self) -> bytes | None:
        """The keep-alive written between events when ``Reply.pings`` is set (None: nothing)."""
        return None

    def finalize(self, steps: list[Ev | int]) -> None:
        """Last touch on the final event list (e.g. sequence numbers)."""


def render(wire: Wire, reply: Reply, ctx: Context) -> list[bytes | int]:
    """The byte events of a streamed reply, with checkpoints (see the module docstring)."""
    steps = wire.build(reply, ctx)
    if reply.error is not None:
        point = len(reply.text) if reply.error_after is None else min(reply.error_after, len(reply.text))
        steps = [*steps[: steps.index(point) + 1], wire.error_event(reply, ctx)]
    if not reply.terminal:
        steps = [step for step in steps if not (isinstance(step, Ev) and step.terminal)]
    wire.finalize(steps)
    ping = wire.ping() if reply.pings else None
    out: list[bytes | int] = []
    started = False
    for step in steps:
        if isinstance(step, int):
            out.append(step)
            continue
        if ping is not None and started:
            out.append(ping)
        out.append(wire.frame(step))
        started = True
    return out
