"""Publish a chat's events on its broadcast channel: the sink pages follow.

>>> from llmchat.live.memory import MemoryBroadcaster
>>> from llmchat.testing import Server
>>> import llmchat
>>> hub = MemoryBroadcaster()
>>> with Server() as server:
...     server.reply("Hel", "lo")
...     chat = llmchat.chat("m", provider="openai", protocol="chat_completions",
...                         base_url=server.url("chat_completions"), api_key="k")
...     _ = broadcasts_to(chat, hub, chat_id="c1")
...     _ = chat.ask("Hi")
>>> [e["type"] for e in hub.read("c1", 0, 0)]
['new_message', 'new_message', 'chunk', 'chunk', 'end_message']
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from llmchat.events import ChunkReceived, MessageAdded, MessageEnded, MessageStarted
from llmchat.message import Message
from llmchat.redaction import public_text

__all__ = ["Publisher", "broadcasts_to", "message_dict"]


def message_dict(message: Message, message_id: Any) -> dict:
    """What a page needs of a message: ``id``, ``role``, ``content``, ``status``, ``error``, tokens."""
    error = message.error
    return {"id": message_id, "role": message.role, "content": message.content or "", "status": message.status,
            "error": None if error is None else f"{type(error).__name__}: {public_text(error)}",
            "input_tokens": message.input_tokens, "output_tokens": message.output_tokens}


class Publisher:
    """A chat listener turning :mod:`llmchat.events` into broadcast event dicts."""

    def __init__(self, broadcaster: Any, chat_id: Any) -> None:
        self.broadcaster, self.chat_id = broadcaster, chat_id
        self._ids: dict[int, tuple[Message, str]] = {}      # the message is held: its id() stays its own
        self._counter = itertools.count(1)
        # unique among every publisher of this chat (a chat built per request, another process, a restart)
        self._prefix = f"{chat_id}-{uuid.uuid4().hex[:8]}-"

    def id_of(self, message: Message) -> Any:
        """The message's id: its stored one, else one made for it (``<chat id>-<random>-<n>``)."""
        stored = getattr(message, "id", None)
        if stored is not None:
            return stored
        known = self._ids.get(id(message))
        if known is None or known[0] is not message:
            known = self._ids[id(message)] = (message, f"{self._prefix}{next(self._counter)}")
        return known[1]

    def __call__(self, event: Any) -> None:
        publish = self.broadcaster.publish
        if isinstance(event, ChunkReceived):
            chunk = event.chunk
            if chunk.content or chunk.thinking:
                publish(self.chat_id, {"type": "chunk", "message_id": self.id_of(event.message),
                                       "content": chunk.content, "thinking": chunk.thinking})
            return
        message = event.message
        mid = self.id_of(message)
        if isinstance(event, MessageAdded):
            publish(self.chat_id, {"type": "new_message", "message_id": mid, "message": message_dict(message, mid)})
        elif isinstance(event, MessageStarted):
            data = dict(message_dict(message, mid), status="streaming", error=None)
            publish(self.chat_id, {"type": "new_message", "message_id": mid, "message": data})
        elif isinstance(event, MessageEnded):
            publish(self.chat_id, {"type": "end_message", "message_id": mid, "message": message_dict(message, mid)})
            if message.error is not None:
                publish(self.chat_id, {"type": "error", "message_id": mid, "error": public_text(message.error),
                                       "error_type": type(message.error).__name__,
                                       "partial": message.content or ""})


def broadcasts_to(chat: Any, broadcaster: Any = None, chat_id: Any = None) -> Publisher:
    """Attach a :class:`Publisher` to ``chat`` (the guide's ``broadcasts_to``); returns it."""
    if broadcaster is None:
        from llmchat.live.hub import default_broadcaster

        broadcaster = default_broadcaster()
    publisher = Publisher(broadcaster, chat.id if chat_id is None else chat_id)
    chat.add_listener(publisher)
    return publisher
