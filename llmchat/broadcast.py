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

__all__ = ["Broadcaster", "StoreLog", "decode_row", "encode_chunks"]

_KEEP = 50_000          # events per chat kept in memory for this process's readers


class Broadcaster(Protocol):
    """What carries a chat's events to its followers (see the module docstring for the contract)."""

    def publish(self, chat_id: str, event: dict) -> None: ...

    def read(self, chat_id: str, after: int, timeout: float) -> list[dict]: ...


class _Feed:
    """One chat's events in this process: ``pending`` awaits the next flush, ``recent`` serves readers."""

    __slots__ = ("pending", "recent", "seqs", "waiting")

    def __init__(self) -> None:
        self.pending: list[dict] = []
        self.recent: list[dict] = []
        self.seqs: list[int] = []
        self.waiting = 0


class StoreLog:
    """The store's event log as a :class:`Broadcaster` (the default; see the module docstring).

    >>> StoreLog.poll_interval
    0.1
    """

    poll_interval = 0.1      # seconds between two cross-process checks of a chat's last position

    def __init__(self, store: Store) -> None:
        self.store = store
        self._feeds: dict[str, _Feed] = {}
        self._cond = threading.Condition()

    def _feed(self, chat_id: str) -> _Feed:
        feed = self._feeds.get(chat_id)
        if feed is None:
            feed = self._feeds.setdefault(chat_id, _Feed())
        return feed

    def publish(self, chat_id: str, event: dict) -> None:
        """Buffer ``event`` for the next flush and wake this process's readers."""
        feed = self._feeds.get(chat_id) or self._feed(chat_id)
        feed.pending.append(event)
        self._remember(feed, event)

    def stored(self, chat_id: str, event: dict) -> None:
        """An event the writer has already written to the log: only wake the readers."""
        self._remember(self._feeds.get(chat_id) or self._feed(chat_id), event)

    def _remember(self, feed: _Feed, event: dict) -> None:
        feed.recent.append(event)
        feed.seqs.append(event["seq"])
        if len(feed.seqs) > _KEEP:
            del feed.recent[: _KEEP // 2], feed.seqs[: _KEEP // 2]
        if feed.waiting:
            with self._cond:
                self._cond.notify_all()

    def take(self, chat_id: str) -> list[dict]:
        """The buffered events of a chat, removed from the buffer (the store's flush writes them)."""
        feed = self._feeds.get(chat_id)
        if feed is None or not feed.pending:
            return []
        pending = feed.pending
        n = len(pending)            # appends from the streaming thread go after n: nothing is lost
        batch = pending[:n]
        del pending[:n]
        return batch

    def read(self, chat_id: str, after: int, timeout: float) -> list[dict]:
        """Events with ``seq > after`` in order; waits up to ``timeout`` seconds when there are none yet."""
        feed = self._feed(chat_id)
        deadline = time.monotonic() + max(0.0, timeout)
        next_poll = 0.0
        while True:
            events = self._from_memory(feed, after)
            if events is None and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.poll_interval
                if self.store.position(chat_id) > after or self._has_unflushed(feed, after):
                    events = self._from_log(feed, chat_id, after)
            if events:
                return events
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            with self._cond:
                feed.waiting += 1
                try:
                    if self._from_memory(feed, after) is None:     # published since the check: no lost wake-up
                        self._cond.wait(min(left, self.poll_interval))
                finally:
                    feed.waiting -= 1

    @staticmethod
    def _has_unflushed(feed: _Feed, after: int) -> bool:
        return bool(feed.seqs) and feed.seqs[-1] > after

    @staticmethod
    def _from_memory(feed: _Feed, after: int) -> list[dict] | None:
        """This process's events after ``after`` when it holds all of them (one writer, no gap), else None."""
        seqs = feed.seqs
        if not seqs or seqs[-1] <= after:
            return None
        i = bisect.bisect_right(seqs, after)
        if seqs[i] != after + 1 or seqs[-1] - seqs[i] != len(seqs) - 1 - i:
            return None
        return feed.recent[i:]

    def _from_log(self, feed: _Feed, chat_id: str, after: int) -> list[dict]:
        """The flushed events from the store, then this process's unflushed ones that follow them."""
        events = self.store.events(chat_id, after)
        last = events[-1]["seq"] if events else after
        tail = self._from_memory(feed, last) or []
        return events + tail


def encode_chunks(events: list[dict]) -> tuple[int, str]:
    """The log row for a flush's chunk events: ``(last seq, JSON payload)``.

    >>> encode_chunks([{"seq": 3, "type": "chunk", "message_id": "m", "content": "Hi"}])
    (3, '{"message_id": "m", "items": [[3, "Hi", null, null]]}')
    """
    items = [[e["seq"], e.get("content"), e.get("thinking"), e.get("tool_calls")] for e in events]
    return events[-1]["seq"], json.dumps({"message_id": events[0]["message_id"], "items": items})


def decode_row(seq: int, kind: str, payload: str, after: int) -> list[dict]:
    """The events one log row holds, those after ``after``.

    >>> decode_row(3, "chunks", '{"message_id": "m", "items": [[2, "H", null, null], [3, "i", null, null]]}', 2)
    [{'seq': 3, 'type': 'chunk', 'message_id': 'm', 'content': 'i'}]
    """
    data: Any = json.loads(payload)
    if kind != "chunks":
        data.update(seq=seq, type=kind)
        return [data]
    out = []
    for n, content, thinking, calls in data["items"]:
        if n > after:
            event = {"seq": n, "type": "chunk", "message_id": data["message_id"]}
            if content is not None:
                event["content"] = content
            if thinking is not None:
                event["thinking"] = thinking
            if calls is not None:
                event["tool_calls"] = calls
            out.append(event)
    return out
