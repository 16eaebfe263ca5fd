"""Broadcasting a chat's events to whoever follows it (pages, other processes): the contract.

Every event of a stored chat has a **position** ``seq``: a per-chat number that only grows,
across answers. An event is a JSON-ready dict::

    {"seq": 7, "type": "new_message", "message_id": "...", "message": {...}}    # the message dict, its id, status
    {"seq": 8, "type": "chunk", "message_id": "...", "content": "Hel"}         # or "thinking", "tool_calls"
    {"seq": 9, "type": "error", "message_id": "...", "error": "...", "error_type": "RateLimitError", "partial": "..."}
    {"seq": 10, "type": "end_message", "message_id": "...", "message": {...}}  # status complete/incomplete

``type`` is the kind of event, so an ``error`` event names the error's class under ``error_type``
(an SSE encoder sends it as the ``type`` of its JSON data). A message dict is
:meth:`llmchat.Message.to_dict` plus ``id``; ``status`` is ``"streaming"`` while it streams.

A :class:`Broadcaster` has two methods:

- ``publish(chat_id, event)``: called once per event, in ``seq`` order, by the chat's store writer;
- ``read(chat_id, after, timeout) -> list[dict]``: the events with ``seq > after``, in order, with
  no gap and no duplicate; when there are none yet, it waits up to ``timeout`` seconds for new ones
  (an empty list after that). ``after=0`` reads from the start.

A page renders a **snapshot** (``Store.snapshot(chat_id)``: the stored messages and the position
``N`` their content includes, read in one transaction) and then follows with ``read(chat_id, N, ...)``:
no gap and no duplicate, by construction, because a store flush writes a message's content and the
events it includes in the same transaction.

:class:`StoreLog` is the embedded default: the store's own event log (``llmchat_events``), written
in the store's timed flushes (chunk events of one flush share one row). ``publish`` buffers the
event for the next flush and wakes this process's readers at once (a condition variable); readers
in other processes see an event once it is flushed (at most ``flush`` seconds, default 0.2), by a
cheap poll of the chat's last position. It survives restarts and needs no server.

>>> import os, tempfile, llmchat
>>> store = llmchat.store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "chats.db"))
>>> chat = store.create_chat("gpt-4.1-mini", api_key="k")
>>> user = chat.add_message("user", "Hello")
>>> [(e["seq"], e["type"], e["message"]["content"]) for e in store.log.read(chat.id, after=0, timeout=0)]
[(1, 'new_message', 'Hello')]
>>> store.snapshot(chat.id).position
1
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from llmchat.storage import Store

_KEEP = 50_000          # chunk items of one answer kept in memory for this process's readers

__all__ = ["Broadcaster", "Feed", "StoreLog", "chunk_event", "decode_row", "encode_chunks"]


class Broadcaster(Protocol):
    """What carries a chat's events to its followers (see the module docstring for the contract)."""

    def publish(self, chat_id: str, event: dict) -> None: ...

    def read(self, chat_id: str, after: int, timeout: float) -> list[dict]: ...


class Feed:
    """One chat's events in this process, for its readers: compact, because it grows once per chunk.

    ``items`` holds full event dicts (with ``seq``) and chunk items: a str (a chunk with only
    content) or a dict without ``seq`` (``content``/``thinking``/``tool_calls``). ``marks`` says
    where a run of consecutive positions starts: ``(index, seq, message_id)``; a chunk item's
    position and message follow from the mark before it. ``offset`` counts items dropped from the front.
    """

    __slots__ = ("items", "lock", "marks", "next_poll", "offset", "polled", "waiting")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.marks: list[tuple[int, int, Any]] = []
        self.offset = 0
        self.lock = threading.Lock()        # readers and trim(); the writer's appends need none
        self.waiting = 0
        self.next_poll = 0.0                # when readers next ask the store for the chat's flushed position
        self.polled = 0                     # the flushed position the last such poll found

    def add(self, event: dict) -> int:
        """A full event (it starts a run: the chunks after it belong to its message); returns its index."""
        with self.lock:
            index = self.offset + len(self.items)
            self.marks.append((index, event["seq"], event.get("message_id")))
            self.items.append(event)
            return index

    def last(self) -> int:
        """The position of the last event held (0 when none)."""
        if not self.marks:
            return 0
        index, seq, _ = self.marks[-1]
        return seq + self.offset + len(self.items) - 1 - index

    def trim(self, keep: int = _KEEP) -> None:
        """Drop the oldest items beyond ``keep`` (readers then go to the store for them)."""
        if len(self.items) > keep:
            self.drop_before(self.offset + len(self.items) - keep // 2)

    def drop_before(self, index: int) -> None:
        """Drop the items before absolute ``index`` and the marks only they needed (all of them stored:
        readers go to the store for them). Items appended meanwhile (a next answer) are kept."""
        with self.lock:
            drop = min(index - self.offset, len(self.items))
            if drop > 0:
                del self.items[:drop]
                self.offset += drop
            first = bisect.bisect_right([m[0] for m in self.marks], self.offset) - 1
            if first > 0:
                del self.marks[:first]

    def after(self, after: int) -> list[dict] | None:
        """The events after position ``after`` when this feed holds all of them (no gap), else None."""
        with self.lock:
            marks, offset = self.marks[:], self.offset
            total = offset + len(self.items)
            k = bisect.bisect_right([m[1] for m in marks], after + 1) - 1
            if k < 0:
                return None
            index, seq, _ = marks[k]
            start = index + after + 1 - seq
            end = marks[k + 1][0] if k + 1 < len(marks) else total
            if start >= min(end, total) or start < offset:
                return None
            for (i0, s0, _), (i1, s1, _) in zip(marks[k:], marks[k + 1:]):
                if s1 != s0 + i1 - i0:
                    return None         # a gap: events of another process in between
            return self._events(marks, k, start, total)

    def _events(self, marks: list[tuple[int, int, Any]], k: int, start: int, total: int) -> list[dict]:
        """Items ``start`` to ``total`` as event dicts (call under the lock). A chunk item's dict is made once
        and kept in its place, so many readers share it instead of each building its own."""
        items, offset = self.items, self.offset
        out = items[start - offset:total - offset]
        j, n = k, len(marks)
        for i, item in enumerate(out):
            if item.__class__ is dict and "seq" in item:
                continue
            absolute = start + i
            while j + 1 < n and marks[j + 1][0] <= absolute:
                j += 1
            index, seq, message_id = marks[j]
            out[i] = items[absolute - offset] = chunk_event(seq + absolute - index, message_id, item)
        return out


def chunk_event(seq: int, message_id: Any, item: Any) -> dict:
    """The event dict of one chunk item (a str of content, or a dict of content/thinking/tool_calls)."""
    event = {"seq": seq, "type": "chunk", "message_id": message_id}
    if isinstance(item, str):
        event["content"] = item
    else:
        event.update(item)
    return event


class StoreLog:
    """The store's event log as a :class:`Broadcaster` (the default; see the module docstring).

    >>> StoreLog.poll_interval
    0.1
    """

    poll_interval = 0.1      # seconds between two cross-process checks of a chat's last position

    def __init__(self, store: Store) -> None:
        self.store = store
        self._feeds: dict[str, Feed] = {}
        self._cond = threading.Condition()

    def feed(self, chat_id: str) -> Feed:
        """This process's feed of a chat (the store writer appends to it directly)."""
        feed = self._feeds.get(chat_id)
        if feed is None:
            feed = self._feeds.setdefault(chat_id, Feed())
        return feed

    def publish(self, chat_id: str, event: dict) -> None:
        """Log ``event`` and wake the readers (the store writer itself batches chunks into its flushes)."""
        with self.store.backend.tx() as q:
            payload = {k: v for k, v in event.items() if k not in ("seq", "type")}
            q("INSERT INTO llmchat_events (chat_id, seq, type, payload) VALUES (?, ?, ?, ?)",
              (chat_id, event["seq"], event["type"], json.dumps(payload)))
            q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ? AND last_seq < ?",
              (event["seq"], chat_id, event["seq"]))
        self.stored(chat_id, event)

    def stored(self, chat_id: str, event: dict) -> None:
        """An event already written to the log: hold it for this process's readers and wake them."""
        feed = self.feed(chat_id)
        index = feed.add(event)
        if event["type"] == "end_message":
            # the message and all before it are stored: a process keeps no finished answer in memory,
            # however many chats it serves (only this end, for the followers it is about to wake)
            feed.drop_before(index)
        if feed.waiting:
            self.wake()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def read(self, chat_id: str, after: int, timeout: float) -> list[dict]:
        """Events with ``seq > after`` in order; waits up to ``timeout`` seconds when there are none yet."""
        feed = self.feed(chat_id)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            events = feed.after(after)
            if events is None:
                now = time.monotonic()
                if now >= feed.next_poll:       # one poll per chat and interval, shared by its readers here
                    feed.next_poll = now + self.poll_interval
                    feed.polled = self.store.position(chat_id)
                if feed.polled > after or feed.last() > after:
                    events = self._from_log(feed, chat_id, after)
            if events:
                return events
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            with self._cond:
                feed.waiting += 1
                try:
                    if feed.after(after) is None:     # published since the check: no lost wake-up
                        self._cond.wait(min(left, self.poll_interval))
                finally:
                    feed.waiting -= 1

    def _from_log(self, feed: Feed, chat_id: str, after: int) -> list[dict]:
        """The flushed events from the store, then this process's unflushed ones that follow them."""
        events = self.store.events(chat_id, after)
        last = events[-1]["seq"] if events else after
        return events + (feed.after(last) or [])


def encode_chunks(message_id: Any, first: int, items: list[Any]) -> str:
    """The log row payload of a flush's chunk items (positions ``first``, ``first + 1``...).

    >>> encode_chunks("m", 3, ["Hi", {"thinking": "hm"}])
    '{"message_id": "m", "first": 3, "items": ["Hi", {"thinking": "hm"}]}'
    """
    return json.dumps({"message_id": message_id, "first": first, "items": items})


def decode_row(seq: int, kind: str, payload: str, after: int) -> list[dict]:
    """The events one log row holds, those after ``after``.

    >>> decode_row(4, "chunks", '{"message_id": "m", "first": 3, "items": ["H", {"content": "i"}]}', 3)
    [{'seq': 4, 'type': 'chunk', 'message_id': 'm', 'content': 'i'}]
    """
    data: Any = json.loads(payload)
    if kind != "chunks":
        data.update(seq=seq, type=kind)
        return [data]
    first = data["first"]
    return [chunk_event(first + i, data["message_id"], item) for i, item in enumerate(data["items"])
            if first + i > after]
