"""The store writer: a chat listener that saves a stored chat's messages while they stream.

- a user, system or tool message is saved at once (``add_message``, ``ask``);
- an assistant row is created before its request is sent (``message.id`` is stable), with status
  ``streaming`` and a lease; its chunks are published as events and written by the store's flusher
  thread at most every ``flush`` seconds (content, thinking, tool calls and those events in one
  transaction, which also renews the lease and reads any cancel request);
- at the end the full message is written: ``complete``, or ``incomplete`` with the error's class
  and message (tokens, finish reason, tool calls, thinking included); an answer whose turn stopped
  before it ended (a callback failing as it starts) is ended ``incomplete`` with that error.

Timed flushes are :mod:`llmchat.storage.flushes`; the end of a message :mod:`llmchat.storage.endings`.

A turn holds the chat's lock (``lock_owner``/``lock_until`` on the chat row, renewed by the
flusher and by every write of the turn), so two workers never answer one chat at once: the second
gets :class:`ChatBusyError` (see :mod:`llmchat.storage.turns`).

>>> from llmchat.events import ChunkReceived
>>> ChunkReceived.__name__        # the one event the hot path handles before any other
'ChunkReceived'
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from llmchat.broadcast import chunk_event
from llmchat.errors import ChatBusyError
from llmchat.events import ChunkReceived, MessageAdded, MessageEnded, MessageStarted
from llmchat.storage.endings import Endings
from llmchat.storage.flushes import Flushes
from llmchat.storage.rows import message_dict
from llmchat.storage.turns import TurnLock

if TYPE_CHECKING:
    from llmchat.storage import Store

__all__ = ["ChatBusyError", "Writer"]  # ChatBusyError: from llmchat.errors

LOST = ("the worker answering this message stopped before the answer ended (no sign of life since its "
        "last save); chat.complete() asks again")


def _item(chunk: Any) -> dict:
    """A chunk with more than content, as the dict its event carries."""
    item: dict[str, Any] = {}
    if chunk.content is not None:
        item["content"] = chunk.content
    if chunk.thinking is not None:
        item["thinking"] = chunk.thinking
    if chunk.tool_calls:
        item["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments}
                              for c in chunk.tool_calls.values()]
    return item


class Writer(Endings, TurnLock, Flushes):
    """Attached to a stored chat as its listener; see the module docstring."""

    def __init__(self, store: Store, chat: Any, known: dict[str, int], owner: str | None = None) -> None:
        self.store, self.chat, self.chat_id = store, chat, chat.id
        self.lock = threading.RLock()
        self.ordinals = known               # row id -> position in chat.messages
        self.settled = {m.id for m in chat.messages if m.id is not None and m.complete}     # seen complete here
        self.seq = 0
        self.message: Any = None            # the assistant message streaming now
        self.message_id: Any = None
        self.row: dict[str, Any] = {}
        self.content = self.thinking = ""
        self.calls: dict[str, dict] = {}
        self.owner = owner or uuid.uuid4().hex
        self.held = 0
        self.released = False
        self.renew_at = 0.0
        self.renewed = 0.0                  # when a write of this turn last renewed its lock (not yet committed)
        self.turn_started = time.time()
        self.config_text = ""
        self.missing_tools: list[dict] = []     # stored tools this process could not import
        self.writes = 0                     # transactions written (the speed check counts them)
        self.last_write = self.last_read = 0.0
        self.budget = (time.time(), 0)       # when the turn began, and self.writes then (minus its lock)
        self.remote_cancel = False
        self.unsaved: Any = None            # an ended message whose final write failed (a StoreError)
        self.feed = store.log.feed(chat.id)
        self.items = self.feed.items        # this process's readers see every chunk at once
        self.pending: list[Any] = []        # chunk items not yet flushed (positions self.seq + 1, ...)
        self.publishers = store.publishers  # further broadcasters (each gets every event)
        self.live = 0                       # position of the last event given to them
        if owner is not None:
            self._hold()

    # ------------------------------------------------------------------ the listener
    def __call__(self, event: Any) -> None:
        if event.__class__ is ChunkReceived:       # the hot path: two appends, no dict for a content chunk
            chunk = event.chunk
            if chunk.content is not None and chunk.thinking is None and not chunk.tool_calls:
                item: Any = chunk.content
            elif chunk.content is not None or chunk.thinking is not None or chunk.tool_calls:
                item = _item(chunk)
            else:
                return
            self.pending.append(item)
            self.items.append(item)
            if self.feed.waiting:
                self.store.log.wake()
            if self.publishers:
                seq = self.feed.last()                  # this chunk's position (the flusher may move self.seq)
                for publisher in self.publishers:
                    publisher.publish(self.chat_id, chunk_event(seq, self.message_id, item))
        elif isinstance(event, MessageStarted):
            self._start(event.message)
        elif isinstance(event, MessageEnded):
            self._end(event.message)
        elif isinstance(event, MessageAdded):
            self.save()

    # ------------------------------------------------------------------ synchronous saves
    def _tx(self) -> Any:
        self.writes += 1
        self.last_write = time.time()
        return self.store.backend.tx()

    def save(self) -> None:
        """Bring the rows in line with ``chat.messages`` now (new rows, removed ones, moved ones)."""
        with self.lock:
            config = self.changed_config()      # settings changed since (with_tool...) go with the message
            unsaved = self.unsaved
            try:
                with self._tx() as q:
                    if config is not None:
                        q("UPDATE llmchat_chats SET config = ? WHERE id = ?", (config, self.chat_id))
                    events = self._sync(q, time.time())
            except BaseException:
                self.unsaved = unsaved
                raise
            self._renewed()
            if config is not None:
                self.config_text = config
        for event in events:
            self.store.log.stored(self.chat_id, event)

    def _sync(self, q: Any, now: float) -> list[dict]:
        messages = self.chat.messages
        present = {m.id for m in messages if m.id is not None}
        for gone in [i for i in self.ordinals if i not in present]:     # never a row another worker streams,
            q("DELETE FROM llmchat_messages WHERE id = ? AND NOT (status = 'streaming' AND lease_until >= ?)"
              " AND (? OR status <> 'complete')", (gone, now, gone in self.settled))     # nor one it completed
            del self.ordinals[gone]
            self.settled.discard(gone)
        # the chat row first: it serializes this save against the answering worker's writes (any process)
        (last, owner, until) = self._touch(q, now)
        defer = owner is not None and owner != self.owner and until is not None and until >= now
        self.seq = max(self.seq, last)
        events = [] if defer else self._drain(q, final=not self.held or self.released)
        if self.unsaved is not None and not defer:
            events.append(self._heal(q, now))
        for ordinal, message in enumerate(messages):
            if message.id is None:
                event = self._insert(q, message, ordinal, now, defer, until if owner == self.owner else None)
                if event is not None:
                    events.append(event)
            elif self.ordinals.get(message.id) != ordinal:
                q("UPDATE llmchat_messages SET ordinal = ? WHERE id = ?", (ordinal, message.id))
                self.ordinals[message.id] = ordinal
        if not defer:
            q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (self.seq, self.chat_id))
        return events

    def _drain(self, q: Any, final: bool = True) -> list[dict]:
        """Position the messages other writers saved while this chat was answered (``seq = -1``), in order.

        Those this chat does not hold were saved by a copy that had not seen the turn's answer yet: once
        the turn has ended (``final``) they move after it (ordinal too), so a job answering them sees them
        as asked after that answer; mid-turn they wait, not to come between a tool call and its result."""
        events, top = [], None
        for row_id, data in q("SELECT id, data FROM llmchat_messages WHERE chat_id = ? AND seq = -1"
                              " ORDER BY ordinal, created_at", (self.chat_id,)):
            if row_id in self.ordinals:
                self.seq += 1
                q("UPDATE llmchat_messages SET seq = ? WHERE id = ?", (self.seq, row_id))
            elif final:
                if top is None:
                    top = q("SELECT MAX(ordinal) FROM llmchat_messages WHERE chat_id = ? AND seq <> -1",
                            (self.chat_id,))[0][0]
                self.seq, top = self.seq + 1, (-1 if top is None else top) + 1
                q("UPDATE llmchat_messages SET seq = ?, ordinal = ? WHERE id = ?", (self.seq, top, row_id))
            else:
                continue
            event = {"seq": self.seq, "type": "new_message", "message_id": row_id, "message": json.loads(data)}
            self._log(q, event)
            events.append(event)
        return events

    def _touch(self, q: Any, now: float) -> tuple[int, str | None, float | None]:
        """Take the chat row (it serializes this write against other writers of the chat, in any process) and
        renew this writer's lock with it; ``(last_seq, lock_owner, lock_until)``. A turn whose own writes
        come faster than the flusher may write (quick tool rounds) keeps its lock this way."""
        row = q("UPDATE llmchat_chats SET lock_until = CASE WHEN lock_owner = ? THEN ? ELSE lock_until END"
                " WHERE id = ? RETURNING last_seq, lock_owner, lock_until",
                (self.owner, now + self.store.lease, self.chat_id))[0]
        if row[1] == self.owner and self.held:
            self.renewed = now
        return row

    def _renewed(self) -> None:
        """After a commit: a lock renewed by it is due for renewal later."""
        if self.renewed:
            self.renew_at = max(self.renew_at, self.renewed + self.store.lease * 0.3)
            self.renewed = 0.0

    def _insert(self, q: Any, message: Any, ordinal: int, now: float, defer: bool = False,
                until: float | None = None) -> dict | None:
        """A new message row and its event; ``defer``: another worker answers this chat now, so its writer
        gives the row a position (``seq = -1`` until then) after the events it streams meanwhile.
        ``until``: the lock's renewed lease, which a streaming row shares."""
        message.id = uuid.uuid4().hex
        streaming = message is self.message
        data = message_dict(message, "streaming" if streaming else None)
        self.seq += not defer
        q("INSERT INTO llmchat_messages (id, chat_id, ordinal, role, status, data, created_at, seq, lease_until,"
          " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          (message.id, self.chat_id, ordinal, message.role, data["status"], json.dumps(data), now,
           -1 if defer else self.seq, (until or self.renew_at + self.store.lease * 0.7) if streaming else None, now))
        self.ordinals[message.id] = ordinal
        if not streaming and message.complete:
            self.settled.add(message.id)
        if defer:
            return None
        event = {"seq": self.seq, "type": "new_message", "message_id": message.id, "message": data}
        self._log(q, event)
        if streaming:
            self.row = dict(data)       # the event keeps the message as it was
        return event

    def _log(self, q: Any, event: dict) -> None:
        payload = {k: v for k, v in event.items() if k not in ("seq", "type")}
        q("INSERT INTO llmchat_events (chat_id, seq, type, payload) VALUES (?, ?, ?, ?)",
          (self.chat_id, event["seq"], event["type"], json.dumps(payload)))

    def _start(self, message: Any) -> None:
        with self.lock:
            self.message, self.content, self.thinking, self.calls = message, "", "", {}
            message.status = "streaming"        # as loaded elsewhere; the spine sets the final status
            self.save()
            self.message_id = message.id
