"""The pump under every streaming response body: a producer on a worker thread, a body that speaks while it waits.

A producer (answering a chat, reading a broadcast) runs on a daemon thread and hands ready-made bytes to
``put``. The response body takes them from a :class:`Pump`, sync (WSGI) or async (ASGI); when nothing
arrives for ``heartbeat`` seconds it yields a comment line instead, so proxies keep the connection; and
when the server closes the body (the client left) it calls the ``cancel`` hook, once.

>>> def producer(put):
...     put(b"data: 1\\n\\n")
...     put(b"data: 2\\n\\n")
>>> b"".join(Pump(producer).body())
b'data: 1\\n\\ndata: 2\\n\\n'
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from typing import AsyncIterator, Callable, Iterator

from llmchat.config import check_seconds

__all__ = ["HEARTBEAT", "Pump"]

HEARTBEAT = b": keep-alive\n\n"

log = logging.getLogger("llmchat")

Producer = Callable[[Callable[[bytes], None]], None]


class Pump:
    """Runs ``producer(put)`` on a worker thread once the body is first read; the body yields what it puts.

    Items are joined when several are waiting (one write for a burst). ``cancel`` is called when the body is
    closed before the producer ended. ``closed`` tells the producer the reader has gone.

    >>> import time
    >>> pump = Pump(lambda put: (time.sleep(0.05), put(b"data: late\\n\\n")), heartbeat=0.01)
    >>> body = list(pump.body())
    >>> body[0], body[-1]
    (b': keep-alive\\n\\n', b'data: late\\n\\n')
    """

    def __init__(self, producer: Producer, *, cancel: Callable[[], None] | None = None,
                 heartbeat: float = 15.0, name: str = "llmchat.sse") -> None:
        check_seconds(heartbeat, "heartbeat")      # a ConfigurationError (a ValueError) when it is not one
        self.heartbeat = heartbeat
        self.closed = False
        self._producer, self._cancel, self._name = producer, cancel, name
        self._items: collections.deque[bytes] = collections.deque()
        self._done = False
        self._waiting = False
        self._wake: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ producer side (worker thread)
    def put(self, data: bytes) -> None:
        self._items.append(data)
        if self._waiting:
            self._waiting = False
            self._wake()

    def _run(self) -> None:
        try:
            if not self.closed:
                self._producer(self.put)
        except Exception:
            log.exception("the producer of %s failed; its body ends here", self._name)
        finally:
            self._done = True
            self._waiting = False
            self._wake()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _drain(self) -> bytes:
        items = self._items
        if len(items) == 1:
            return items.popleft()
        return b"".join([items.popleft() for _ in range(len(items))])

    def _close(self) -> None:
        self.closed = True
        if not self._done and self._cancel is not None:
            self._cancel()

    # ------------------------------------------------------------------ consumer side
    def body(self) -> Iterator[bytes]:
        """The body for a WSGI server (closing it, as servers do when the client leaves, cancels)."""
        ready = threading.Event()
        self._wake = ready.set
        self._start()
        try:
            while True:
                if self._items:
                    yield self._drain()
                    continue
                if self._done:
                    if not self._items:
                        return
                    continue
                ready.clear()
                self._waiting = True
                if self._items or self._done:       # arrived between the checks: no wait
                    self._waiting = False
                    continue
                if not ready.wait(self.heartbeat) and not self._items and not self._done:
                    self._waiting = False
                    yield HEARTBEAT
        finally:
            self._close()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(2.0)

    async def abody(self) -> AsyncIterator[bytes]:
        """The body for an ASGI server: the same items; cancelling the task (client gone) cancels."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(ready.set)
            except RuntimeError:        # the loop is closed: nobody is reading any more
                pass

        self._wake = wake
        self._start()
        try:
            while True:
                if self._items:
                    yield self._drain()
                    continue
                if self._done:
                    if not self._items:
                        return
                    continue
                ready.clear()
                self._waiting = True
                if self._items or self._done:
                    self._waiting = False
                    continue
                try:
                    await asyncio.wait_for(ready.wait(), self.heartbeat)
                except asyncio.TimeoutError:
                    if not self._items and not self._done:
                        self._waiting = False
                        yield HEARTBEAT
        finally:
            self._close()
