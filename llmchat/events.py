"""What happens to a conversation, as small values: the one vocabulary every sink consumes.

The spine and the chat emit these to the listeners attached with :meth:`llmchat.Chat.add_listener`
(the store writer, the SSE encoder, the broadcaster); the user's callbacks see the same moments.

- :class:`MessageAdded`: a message joined the history that was not streamed (a user, system or tool message);
- :class:`MessageStarted`: an assistant message was created, before its request is sent;
- :class:`ChunkReceived`: a chunk reached that message (it is already accumulated into it);
- :class:`MessageEnded`: the assistant message ended, ``complete`` or ``incomplete`` (then ``message.error``).

>>> from llmchat.testing import Server
>>> import llmchat
>>> seen = []
>>> with Server() as server:
...     server.reply("Hi")
...     chat = llmchat.chat("m", provider="openai", protocol="chat_completions",
...                         base_url=server.url("chat_completions"), api_key="k")
...     _ = chat.add_listener(lambda event: seen.append(type(event).__name__))
...     _ = chat.ask("Hello")
>>> sorted(set(seen), key=seen.index)      # one ChunkReceived per chunk
['MessageAdded', 'MessageStarted', 'ChunkReceived', 'MessageEnded']
"""

from __future__ import annotations

from typing import Union

import attrs

from llmchat.message import Chunk, Message

__all__ = ["ChunkReceived", "Event", "MessageAdded", "MessageEnded", "MessageStarted"]


@attrs.frozen
class MessageAdded:
    """A user, system or tool message joined ``chat.messages`` (``index`` is its position there)."""

    message: Message
    index: int


@attrs.frozen
class MessageStarted:
    """An assistant message was appended to ``chat.messages``; its request is about to be sent."""

    message: Message


@attrs.frozen
class ChunkReceived:
    """``chunk`` reached ``message`` (already added to it)."""

    message: Message
    chunk: Chunk


@attrs.frozen
class MessageEnded:
    """``message`` ended: ``message.status`` is ``"complete"`` or ``"incomplete"`` (with ``message.error``)."""

    message: Message


Event = Union[MessageAdded, MessageStarted, ChunkReceived, MessageEnded]
