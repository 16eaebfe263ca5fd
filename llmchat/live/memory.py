"""An in-process broadcaster, and the fold that turns a run of events into the messages they build.

:class:`MemoryBroadcaster` keeps every event of a chat in a list and wakes readers with a condition
variable: one process only (a test, a notebook, a single-worker server). It has the broadcaster
interface :func:`llmchat.live.follow.follow` uses: ``publish``, ``read``, ``can_replay``, ``snapshot``.

>>> hub = MemoryBroadcaster()
>>> hub.publish("c", {"type": "new_message", "message_id": 1, "message": {"id": 1, "role": "assistant"}})
1
>>> hub.publish("c", {"type": "chunk", "message_id": 1, "content": "Hi"})
2
>>> [e["seq"] for e in hub.read("c", 0, timeout=0)], hub.snapshot("c")
([1, 2], ([{'id': 1, 'role': 'assistant', 'content': 'Hi'}], 2))
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any

__all__ = ["MemoryBroadcaster", "apply"]


def apply(messages: list[dict], event: dict) -> None:
    """Fold one event into ``messages`` (dicts with ``id``), in place.

    >>> messages = [{"id": 1, "role": "assistant", "content": "a"}]
    >>> apply(messages, {"type": "chunk", "message_id": 1, "content": "b"}); messages[0]["content"]
    'ab'
    """
    kind = event["type"]
    if kind in ("new_message", "end_message"):
        message = dict(event["message"])
        for index, old in enumerate(messages):
            if old.get("id") == message.get("id"):
                messages[index] = message
                return
        messages.append(message)
    elif kind == "chunk" and event.get("content"):
        for message in reversed(messages):
            if message.get("id") == event.get("message_id"):
                message["content"] = (message.get("content") or "") + event["content"]
                return
    elif kind == "snapshot":
        messages[:] = [dict(m) for m in event["messages"]]


class MemoryBroadcaster:
    """Events of every chat in memory; ``publish`` gives each the chat's next position.

    A chat keeps its last ``keep`` events; older ones are folded into the messages they built (its
    snapshot stays whole, a follower from a position before them starts with a snapshot).
    """

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = max(2, keep)
        self._events: dict[Any, list[dict]] = {}
        self._seqs: dict[Any, list[int]] = {}
        self._base: dict[Any, tuple[list[dict], int]] = {}    # chat -> (messages folded, their position)
        self._changed = threading.Condition()

    def publish(self, chat_id: Any, event: dict) -> int:
        with self._changed:
            key = str(chat_id)
            events = self._events.setdefault(key, [])
            last = self._last(key)
            seq = event.get("seq") or last + 1
            if seq <= last:
                return last                      # a repeated position: already published
            events.append({**event, "seq": seq})
            self._seqs.setdefault(key, []).append(seq)
            if len(events) > self.keep:
                self._fold(key, len(events) - self.keep // 2)
            self._changed.notify_all()
            return seq

    def _fold(self, key: str, count: int) -> None:
        """Fold the chat's ``count`` oldest events into its base (call under the lock)."""
        messages, _ = self._base.get(key, ([], 0))
        events = self._events[key]
        for event in events[:count]:
            apply(messages, event)
        self._base[key] = (messages, events[count - 1]["seq"])
        del events[:count], self._seqs[key][:count]

    def _last(self, key: str) -> int:
        events = self._events.get(key)
        return events[-1]["seq"] if events else self._base.get(key, ([], 0))[1]

    def last_seq(self, chat_id: Any) -> int:
        return self._last(str(chat_id))

    def read(self, chat_id: Any, after: int, timeout: float) -> list[dict]:
        """Events with ``seq > after``, waiting up to ``timeout`` seconds for the first (from the oldest
        kept when ``after`` is older: the follower sees the gap and takes a snapshot)."""
        deadline = time.monotonic() + timeout
        key = str(chat_id)
        with self._changed:
            while True:
                events = self._events.get(key, [])
                if events and events[-1]["seq"] > after:
                    return events[bisect.bisect_right(self._seqs[key], after):]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._changed.wait(left)

    def can_replay(self, chat_id: Any, after: int) -> bool:
        key = str(chat_id)
        with self._changed:
            return self._base.get(key, ([], 0))[1] <= after <= self._last(key)

    def snapshot(self, chat_id: Any) -> tuple[list[dict], int]:
        key = str(chat_id)
        with self._changed:
            base, position = self._base.get(key, ([], 0))
            messages = [dict(m) for m in base]
            events = list(self._events.get(key, []))
        for event in events:
            apply(messages, event)
        return messages, (events[-1]["seq"] if events else position)
