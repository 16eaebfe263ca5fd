"""A spec-following reader of SSE bodies for the tests (the WHATWG event stream interpretation)."""

from __future__ import annotations

import json
from typing import Any, Iterable

import attrs


@attrs.define
class Event:
    event: str = "message"
    data: str = ""
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def parse(body: bytes | Iterable[bytes]) -> tuple[list[Event], int]:
    """The events of a whole body and the number of comment lines in it."""
    if not isinstance(body, bytes):
        body = b"".join(body)
    events, comments = [], 0
    name, data, last_id = "", [], None
    text = body.decode("utf-8")
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line == "":
            if data:
                events.append(Event(name or "message", "\n".join(data), last_id))
            name, data = "", []
        elif line.startswith(":"):
            comments += 1
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value
            elif field == "id":
                last_id = value
    return events, comments


def text_of(events: list[Event]) -> str:
    return "".join(e.json() for e in events if e.event == "message")
