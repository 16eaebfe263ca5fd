"""``follow``: a chat's broadcast as a resumable SSE body, for pages that show answers live.

The body replays the events after the position the client gives (``Last-Event-ID`` when the
browser reconnects, or the position the page was rendered at), then goes on with live ones, each
with its position as the SSE ``id``. A connection without a usable position (none, garbage, older
than what the broadcaster keeps, newer than the chat) starts with a ``snapshot`` event that
re-renders the chat's messages as they stand at a position, then continues from there: no gap and
no duplicate either way. A follower leaving never stops the answer.

>>> from llmchat.live.memory import MemoryBroadcaster
>>> hub = MemoryBroadcaster()
>>> for event in [{"type": "new_message", "message_id": 1, "message": {"id": 1, "role": "assistant"}},
...               {"type": "chunk", "message_id": 1, "content": "Hi"}]:
...     _ = hub.publish("c1", event)
>>> body = follow("c1", last_event_id="1", format="turbo", broadcaster=hub, idle=0.05)
>>> print(b"".join(body).decode(), end="")
retry: 1000
<BLANKLINE>
id: 2
data: <turbo-stream action="append" target="message_1_content"><template>Hi</template></turbo-stream>
<BLANKLINE>
retry: 1000
<BLANKLINE>
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import attrs

from llmchat.config import check_seconds as _seconds
from llmchat.errors import ConfigurationError
from llmchat.live.render import FORMATS, Partial, message_html, messages_html, render

__all__ = ["Page", "Source", "encode", "follow", "page", "position"]

HEARTBEAT = b": keep-alive\n\n"
_RENDERED: dict[tuple, tuple[Any, Any, dict, bytes]] = {}   # (chat, position, format, partial) -> its bytes


def _seq(event: dict) -> int:
    return event["seq"]


def encode(name: str | None, data: str | None, event_id: Any = None) -> bytes:
    """One SSE event; ``data`` None sends only the id (the client's position still moves).

    >>> encode("chunk", "a\\nb", 4)
    b'id: 4\\nevent: chunk\\ndata: a\\ndata: b\\n\\n'
    """
    lines = [] if event_id is None else [f"id: {event_id}"]
    if data is not None:
        if name:
            lines.append(f"event: {name}")
        lines.extend("data: " + line for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def position(value: Any) -> int | None:
    """A client's position (``Last-Event-ID`` or a query parameter) as an int, None when unusable.

    >>> position("12"), position(" 3 "), position(""), position("x"), position(None), position("-1")
    (12, 3, None, None, None, None)
    """
    if value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= 0 else None


class Source:
    """Where a follower reads: a broadcaster (events, waiting) and a snapshot source (the store).

    ``broadcaster`` needs ``read(chat_id, after, timeout)``; ``can_replay(chat_id, after)`` and
    ``snapshot(chat_id)`` are used when it has them, else the store's ``position`` and ``snapshot``.
    Without either, the default store (``llmchat.store()``) and its broadcaster.
    """

    def __init__(self, broadcaster: Any = None, store: Any = None) -> None:
        if broadcaster is None:
            if store is None:
                import llmchat

                store = llmchat.store()
            broadcaster = getattr(store, "broadcaster", None) or store.log
        self.broadcaster, self.store = broadcaster, store

    def read(self, chat_id: Any, after: int, timeout: float) -> list[dict]:
        return self.broadcaster.read(chat_id, after, timeout)

    def can_replay(self, chat_id: Any, after: int) -> bool:
        if self.store is not None and after == 0 and self.store.position(chat_id) == 0:
            return False        # nothing to replay, or no such chat: the snapshot says which
        check = getattr(self.broadcaster, "can_replay", None)
        if check is not None:
            return check(chat_id, after)
        return after <= self.store.position(chat_id)

    def snapshot(self, chat_id: Any) -> tuple[list[dict], int]:
        if self.store is not None:
            messages, position = self.store.snapshot(chat_id)
        else:
            messages, position = self.broadcaster.snapshot(chat_id)
        return list(messages), position


def _start(source: Source, chat_id: Any, last_event_id: Any) -> tuple[int, dict | None]:
    """Where to start: ``(after, snapshot event or None)``."""
    after = position(last_event_id)
    if after is not None and source.can_replay(chat_id, after):
        return after, None
    messages, seq = source.snapshot(chat_id)
    return seq, {"seq": seq, "type": "snapshot", "messages": messages}


@attrs.frozen
class Page:
    """A chat's messages rendered as HTML, and the position they include: subscribe from ``position``.

    >>> from llmchat.live.memory import MemoryBroadcaster
    >>> hub = MemoryBroadcaster()
    >>> _ = hub.publish("c", {"type": "new_message", "message_id": 1,
    ...                       "message": {"id": 1, "role": "user", "content": "Hi"}})
    >>> page("c", broadcaster=hub).position
    1
    """

    html: str
    position: int
    messages: list = attrs.field(factory=list, repr=False)


def page(chat_id: Any, *, partial: Partial = message_html, store: Any = None, broadcaster: Any = None) -> Page:
    """The chat's messages and the position they include, read together (no event falls in between)."""
    _check_chat(chat_id, partial)
    messages, seq = Source(broadcaster, store).snapshot(chat_id)
    return Page(messages_html(messages, partial), seq, messages)


def _check_chat(chat_id: Any, partial: Any) -> None:
    if not isinstance(chat_id, (str, int)) or isinstance(chat_id, bool):
        raise ConfigurationError(f"chat_id must be a str (a stored chat's id), got {type(chat_id).__name__}")
    if not callable(partial):
        raise ConfigurationError(f"partial must be callable (message dict -> HTML), got {type(partial).__name__}")


def _check(heartbeat: Any, idle: Any, retry: Any) -> None:
    _seconds(heartbeat, "heartbeat")
    if idle is not None:
        _seconds(idle, "idle", zero=True)
    if not isinstance(retry, int) or isinstance(retry, bool) or retry < 0:
        raise ConfigurationError(f"retry must be a whole number of milliseconds, 0 or more, not {retry!r}")


class _Follower:
    """The state of one subscription: position, format, idle clock."""

    def __init__(self, chat_id: Any, last_event_id: Any, format: str, source: Source,  # noqa: A002
                 partial: Partial, heartbeat: float, idle: float | None, retry: int) -> None:
        if format not in FORMATS:
            raise ConfigurationError(f"unknown live format {format!r}; expected one of {', '.join(FORMATS)}")
        _check_chat(chat_id, partial)
        _check(heartbeat, idle, retry)
        self.chat_id, self.format, self.partial = chat_id, format, partial
        self.hub = source
        self.heartbeat, self.idle, self.retry = heartbeat, idle, retry
        self.last_event_id = last_event_id
        self.after = 0
        self.quiet_since = self.last_sent = time.monotonic()

    def _snapshot(self) -> bytes:
        messages, seq = self.hub.snapshot(self.chat_id)
        self.after = seq
        return self.encode({"seq": seq, "type": "snapshot", "messages": messages})

    def opening(self) -> list[bytes]:
        self.after, snapshot = _start(self.hub, self.chat_id, self.last_event_id)
        out = [f"retry: {self.retry}\n\n".encode()]
        if snapshot is not None:
            out.append(self.encode(snapshot))
        return out

    def encode(self, event: dict) -> bytes:
        """The event as SSE bytes, rendered once for every follower of this chat in this process."""
        if event["type"] == "snapshot":          # the chat as it stands now: never from the cache
            name, data = render(event, self.format, self.partial)
            return encode(name, data, event["seq"])
        key = (self.chat_id, event["seq"], self.format, id(self.partial))
        cached = _RENDERED.get(key)
        # the same event (a position can be reused: a Redis stream that expired) and the same partial (held,
        # so its id is not another function's: a partial made per request renders for that request only)
        if (cached is not None and cached[0] is self.hub.broadcaster and cached[1] is self.partial
                and (cached[2] is event or cached[2] == event)):
            return cached[3]
        name, data = render(event, self.format, self.partial)
        body = encode(name, data, event["seq"])
        if len(_RENDERED) >= 16384:
            _RENDERED.clear()
        _RENDERED[key] = (self.hub.broadcaster, self.partial, event, body)
        return body

    def timeout(self) -> float:
        now = time.monotonic()
        left = self.heartbeat - (now - self.last_sent)
        if self.idle is not None:
            left = min(left, self.idle - (now - self.quiet_since))
        return max(0.0, left)

    def handle(self, events: list[dict]) -> tuple[list[bytes], bool]:
        """The bytes for a read's result, and whether the body should end (idle)."""
        now = time.monotonic()
        out = []
        for event in sorted(events, key=_seq):
            if event["seq"] == self.after + 1:
                self.after = event["seq"]
                out.append(self.encode(event))
            elif event["seq"] > self.after:      # a gap the broadcaster should never leave: start over whole
                out.append(self._snapshot())     # (and read on from the snapshot's position)
                break
        if out:
            self.quiet_since = self.last_sent = now
            return out, False
        if self.idle is not None and now - self.quiet_since >= self.idle:
            return [f"retry: {self.retry}\n\n".encode()], True
        if now - self.last_sent >= self.heartbeat:
            self.last_sent = now
            return [HEARTBEAT], False
        return [], False


def follow(chat_id: Any, last_event_id: Any = None, format: str = "json", *,  # noqa: A002
           store: Any = None, broadcaster: Any = None, partial: Partial = message_html, heartbeat: float = 15.0,
           idle: float | None = 60.0, retry: int = 1000) -> Iterator[bytes]:
    """The chat's broadcast as an SSE body (see the module docstring); ends after ``idle`` quiet seconds
    with a ``retry:`` hint (a WSGI thread is freed, the browser comes back from where it was)."""
    state = _Follower(chat_id, last_event_id, format, Source(broadcaster, store), partial, heartbeat, idle, retry)
    return _follow(state, state.opening())      # an unknown chat raises ChatNotFoundError here: answer 404


def _follow(state: _Follower, opening: list[bytes]) -> Iterator[bytes]:
    yield from opening
    while True:
        events = state.hub.read(state.chat_id, state.after, state.timeout())
        out, done = state.handle(events)
        yield from out
        if done:
            return
