"""``afollow``: :func:`llmchat.live.follow.follow` for ASGI servers, without a thread per page.

Awaiting it first (``body = await afollow(chat_id, ...)``) reads the store off the event loop and
raises :class:`~llmchat.ChatNotFoundError` for an unknown chat before any response starts, so the
view can answer 404; iterating it without awaiting works too (the check is then its first step).
Cancelling the task that iterates it ends the subscription, never the answer.

>>> import asyncio
>>> from llmchat.live.memory import MemoryBroadcaster
>>> hub = MemoryBroadcaster()
>>> _ = hub.publish("c1", {"type": "chunk", "message_id": 1, "content": "Hi"})
>>> async def view():
...     body = await afollow("c1", last_event_id="0", broadcaster=hub, idle=0.05)
...     return [piece async for piece in body]
>>> asyncio.run(view())[1]
b'id: 1\\nevent: chunk\\ndata: {"message_id":1,"content":"Hi"}\\n\\n'
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Generator
from typing import Any

from llmchat.live.follow import Source, _Follower
from llmchat.live.render import Partial, message_html
from llmchat.live.watch import watching

__all__ = ["afollow"]

# afollow's reads that never wait (its opening, then the events a watch announced): a few threads serve
# every async follower of the process
_READERS = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="llmchat-follow")


def afollow(chat_id: Any, last_event_id: Any = None, format: str = "json", *,  # noqa: A002
            store: Any = None, broadcaster: Any = None, partial: Partial = message_html, heartbeat: float = 15.0,
            idle: float | None = None, retry: int = 1000) -> Body:
    """:func:`~llmchat.live.follow.follow` for ASGI servers (the same arguments; no idle end by default).
    Wrong arguments raise here; an unknown chat when awaited, or on the first step."""
    state = _Follower(chat_id, last_event_id, format, Source(broadcaster, store), partial, heartbeat, idle, retry)
    return Body(state)


class Body:
    """The SSE body :func:`afollow` returns: an async iterator of bytes, awaitable to open it first.

    >>> from llmchat.live.memory import MemoryBroadcaster
    >>> body = afollow("c1", broadcaster=MemoryBroadcaster())
    >>> body.__aiter__() is body
    True
    """

    def __init__(self, state: _Follower) -> None:
        self._state = state
        self._opening: list[bytes] | None = None
        self._pieces: AsyncIterator[bytes] | None = None

    def __await__(self) -> Generator[Any, None, Body]:
        return self._open().__await__()

    async def _open(self) -> Body:
        if self._opening is None and self._pieces is None:
            self._opening = await asyncio.get_running_loop().run_in_executor(_READERS, self._state.opening)
        return self

    def __aiter__(self) -> Body:
        """The body itself: pieces of SSE bytes."""
        return self

    async def __anext__(self) -> bytes:
        if self._pieces is None:
            self._pieces = _pieces(self._state, self._opening)
            self._opening = None
        return await self._pieces.__anext__()

    async def aclose(self) -> None:
        """End the subscription now (the answer goes on)."""
        if self._pieces is not None:
            await self._pieces.aclose()     # type: ignore[attr-defined]


async def _pieces(state: _Follower, opening: list[bytes] | None) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    for piece in opening if opening is not None else await loop.run_in_executor(_READERS, state.opening):
        yield piece
    # no thread waits for this follower: the chat's watch (one thread for all its followers here) wakes it
    watch, news = watching(state.hub.broadcaster, state.chat_id, state.after, loop)
    try:
        while True:
            news.clear()        # before the read: whatever the watch sees after it sets `news` again
            events = await loop.run_in_executor(_READERS, state.hub.read, state.chat_id, state.after, 0)
            out, done = state.handle(events)
            for piece in out:
                yield piece
            if done:
                return
            if not events:
                try:
                    await asyncio.wait_for(news.wait(), state.timeout())
                except asyncio.TimeoutError:
                    pass
    finally:
        watch.leave(news)
