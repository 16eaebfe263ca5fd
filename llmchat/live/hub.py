"""Which broadcaster carries a store's events: its own event log, or Redis with ``LLMCHAT_BROADCAST``.

A store always writes its event log (it is the events' durable copy). With
``LLMCHAT_BROADCAST=redis://...`` (or ``configure(broadcast=...)``) every event the store's writer
publishes is also added to the chat's Redis stream, and followers read from Redis (snapshots still
come from the store). :func:`attach_broadcast` is called by every new store.

>>> default_broadcaster() is default_broadcaster()
True
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["Mirrored", "attach_broadcast", "default_broadcaster", "set_default_broadcaster"]

log = logging.getLogger("llmchat")
_lock = threading.Lock()
_default: Any = None


def _redis(url: str, **options: Any) -> Any:
    from llmchat.live.redis_broadcast import RedisBroadcaster

    return RedisBroadcaster.from_url(url, **options)


def _url() -> str:
    from llmchat.config import settings

    return settings("broadcast", "LLMCHAT_BROADCAST") or ""


class Mirrored:
    """A store's event log whose events are also published to a remote broadcaster (Redis)."""

    def __init__(self, local: Any, remote: Any) -> None:
        self.local, self.remote = local, remote

    def _mirror(self, chat_id: Any, event: dict) -> None:
        try:
            getattr(self.remote, "send", self.remote.publish)(chat_id, event)
        except Exception:         # the store keeps the event; pages of this chat get a snapshot on reconnect
            log.warning("llmchat broadcast: publishing event %s of chat %s failed", event.get("seq"), chat_id,
                        exc_info=True)

    def publish(self, chat_id: Any, event: dict) -> None:
        self.local.publish(chat_id, event)
        self._mirror(chat_id, event)

    def stored(self, chat_id: Any, event: dict) -> None:
        self.local.stored(chat_id, event)
        self._mirror(chat_id, event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)


class _Quiet:
    """A remote broadcaster whose failures are logged, never raised into the answer."""

    def __init__(self, remote: Any) -> None:
        self.remote = remote

    def publish(self, chat_id: Any, event: dict) -> None:
        Mirrored(None, self.remote)._mirror(chat_id, event)


def attach_broadcast(store: Any) -> None:
    """Set ``store.broadcaster`` (what followers read) from ``LLMCHAT_BROADCAST``; mirror the log to it."""
    url = _url()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        store.broadcaster = store.log
        return
    remote = _redis(url, snapshot=store.snapshot)
    store.log = Mirrored(store.log, remote)            # message events (the writer's stored() calls)
    publishers = getattr(store, "publishers", None)
    if publishers is not None:
        publishers.append(_Quiet(remote))              # chunk events
    store.broadcaster = remote


def default_broadcaster() -> Any:
    """For chats outside a store (``broadcasts_to``): Redis with ``LLMCHAT_BROADCAST``, else in memory."""
    global _default
    with _lock:
        if _default is None:
            url = _url()
            if url.startswith(("redis://", "rediss://", "unix://")):
                _default = _redis(url)
            else:
                from llmchat.live.memory import MemoryBroadcaster

                _default = MemoryBroadcaster()
        return _default


def set_default_broadcaster(broadcaster: Any) -> None:
    """Replace the process's default broadcaster (None: choose again from the environment)."""
    global _default
    with _lock:
        _default = broadcaster
