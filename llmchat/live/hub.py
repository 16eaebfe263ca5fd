"""The process's default broadcaster: ``LLMCHAT_BROADCAST=redis://...`` or the embedded one.

>>> default_broadcaster() is default_broadcaster()
True
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["default_broadcaster", "set_default_broadcaster"]

_lock = threading.Lock()
_default: Any = None


def _make(url: str) -> Any:
    if url.startswith(("redis://", "rediss://", "unix://")):
        from llmchat.live.redis_broadcast import RedisBroadcaster

        return RedisBroadcaster.from_url(url)
    from llmchat.live.memory import MemoryBroadcaster

    return MemoryBroadcaster()


def default_broadcaster() -> Any:
    """The broadcaster ``follow`` and ``broadcasts_to`` use when none is given (made once per process)."""
    global _default
    with _lock:
        if _default is None:
            _default = _make(os.environ.get("LLMCHAT_BROADCAST", ""))
        return _default


def set_default_broadcaster(broadcaster: Any) -> None:
    """Replace the process's default broadcaster (None: choose again from the environment)."""
    global _default
    with _lock:
        _default = broadcaster
