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
    """Events of every chat in memory; ``publish`` gives each the chat's next position."""

    def __init__(self) -> None:
        self._events: dict[Any, list[dict]] = {}
        self._seqs: dict[Any, list[int]] = {}
        self._changed = threading.Condition()

    def publish(self, chat_id: Any, event: dict) -> int:
        with self._changed:
            events = self._events.setdefault(str(chat_id), [])
            seq = event.get("seq") or (events[-1]["seq"] + 1 if events else 1)
            if events and seq <= events[-1]["seq"]:
                return events[-1]["seq"]          # a repeated position: already published
            events.append({**event, "seq": seq})
            self._seqs.setdefault(str(chat_id), []).append(seq)
            self._changed.notify_all()
            return seq

    def last_seq(self, chat_id: Any) -> int:
        events = self._events.get(str(chat_id))
        return events[-1]["seq"] if events else 0

    def read(self, chat_id: Any, after: int, timeout: float) -> list[dict]:
        """Events with ``seq > after``, waiting up to ``timeout`` seconds for the first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                events = self._events.get(str(chat_id), [])
                if events and events[-1]["seq"] > after:
                    return events[bisect.bisect_right(self._seqs[str(chat_id)], after):]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._changed.wait(left)

    def can_replay(self, chat_id: Any, after: int) -> bool:
        return after <= self.last_seq(chat_id)

    def snapshot(self, chat_id: Any) -> tuple[list[dict], int]:
        messages: list[dict] = []
        with self._changed:
            events = list(self._events.get(str(chat_id), []))
        for event in events:
            apply(messages, event)
        return messages, (events[-1]["seq"] if events else 0)
