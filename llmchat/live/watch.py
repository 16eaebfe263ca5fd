"""Waking async followers: one thread per followed chat and process waits on the broadcaster for all of them.

An ASGI follower (:func:`llmchat.live.asgi.afollow`) must not hold a thread while nothing happens:
hundreds of open pages would fill a thread pool and each would wait its turn. Instead each chat
followed here has one :class:`Watch`: a daemon thread blocking in the broadcaster's ``read`` and
setting the :class:`asyncio.Event` of every follower of the chat (on its own loop) when events come.
Followers read without waiting (quick) and wait on their event. The thread ends ``linger`` seconds
after its last follower left.

>>> import asyncio
>>> from llmchat.live.memory import MemoryBroadcaster
>>> hub = MemoryBroadcaster()
>>> async def wait_for_news():
...     watch, news = watching(hub, "c", 0, asyncio.get_running_loop())
...     hub.publish("c", {"type": "chunk", "message_id": 1, "content": "hi"})
...     await asyncio.wait_for(news.wait(), 5)
...     watch.leave(news)
...     return watch.seen
>>> asyncio.run(wait_for_news())
1
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

__all__ = ["Watch", "watching"]

_WATCHES: dict[tuple[int, Any], Watch] = {}
_LOCK = threading.Lock()


class Watch:
    """The thread waiting for one chat's events on one broadcaster, and the followers it wakes."""

    linger = 5.0        # seconds the thread stays after its last follower left
    wait = 1.0          # seconds of one blocking read (how soon the thread notices it is alone)

    def __init__(self, broadcaster: Any, chat_id: Any, after: int) -> None:
        self.broadcaster, self.chat_id = broadcaster, chat_id
        self.seen = after               # the last position the thread read
        self.listeners: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}
        self.alone_since = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=f"llmchat-watch:{chat_id}", daemon=True)
        self.thread.start()

    def leave(self, news: asyncio.Event) -> None:
        with _LOCK:
            if self.listeners.pop(news, None) is not None and not self.listeners:
                self.alone_since = time.monotonic()

    def _done(self) -> bool:
        with _LOCK:
            if self.listeners or time.monotonic() - self.alone_since < self.linger:
                return False
            if _WATCHES.get((id(self.broadcaster), self.chat_id)) is self:
                del _WATCHES[(id(self.broadcaster), self.chat_id)]
            return True

    def _run(self) -> None:
        while not self._done():
            try:
                events = self.broadcaster.read(self.chat_id, self.seen, self.wait)
            except Exception:       # the broadcaster is away: followers go on with heartbeats, try again
                time.sleep(self.wait)
                continue
            if events:
                self.seen = max(self.seen, max(event["seq"] for event in events))
                with _LOCK:
                    listeners = list(self.listeners.items())
                for news, loop in listeners:
                    try:
                        loop.call_soon_threadsafe(news.set)
                    except RuntimeError:        # that follower's loop is closed
                        self.leave(news)


def watching(broadcaster: Any, chat_id: Any, after: int,
             loop: asyncio.AbstractEventLoop) -> tuple[Watch, asyncio.Event]:
    """The chat's :class:`Watch` in this process (started from ``after`` when there is none), and a new
    event set on ``loop`` whenever the chat has events past the watch's :attr:`Watch.seen`."""
    key, news = (id(broadcaster), chat_id), asyncio.Event()
    with _LOCK:         # looked up and joined at once: a watch ending now cannot leave this follower alone
        watch = _WATCHES.get(key)
        if watch is None or watch.broadcaster is not broadcaster:
            watch = _WATCHES[key] = Watch(broadcaster, chat_id, after)
        watch.listeners[news] = loop
        return watch, news
