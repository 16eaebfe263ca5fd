"""The store writer: a chat listener that saves a stored chat's messages while they stream.

- a user, system or tool message is saved at once (``add_message``, ``ask``);
- an assistant row is created before its request is sent (``message.id`` is stable), with status
  ``streaming`` and a lease; its chunks are published as events and written by the store's flusher
  thread at most every ``flush`` seconds (content, thinking, tool calls and those events in one
  transaction, which also renews the lease and reads any cancel request);
- at the end the full message is written: ``complete``, or ``incomplete`` with the error's class
  and message (tokens, finish reason, tool calls, thinking included).

A turn holds the chat's lock (``lock_owner``/``lock_until`` on the chat row, renewed by the
flusher), so two workers never answer one chat at once: the second gets :class:`ChatBusyError`
(see :mod:`llmchat.storage.turns`).

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

from llmchat.broadcast import chunk_event, encode_chunks
from llmchat.errors import ChatBusyError
from llmchat.events import ChunkReceived, MessageAdded, MessageEnded, MessageStarted
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


class Writer(TurnLock):
    """Attached to a stored chat as its listener; see the module docstring."""

    def __init__(self, store: Store, chat: Any, known: dict[str, int], owner: str | None = None) -> None:
        self.store, self.chat, self.chat_id = store, chat, chat.id
        self.lock = threading.RLock()
        self.ordinals = known               # row id -> position in chat.messages
        self.seq = 0
        self.message: Any = None            # the assistant message streaming now
        self.message_id: Any = None
        self.row: dict[str, Any] = {}
        self.owner = owner or uuid.uuid4().hex
        self.held = 0
        self.released = False
        self.renew_at = 0.0
        self.turn_started = time.time()
        self.config_text = ""
        self.writes = 0                     # transactions written (the speed check counts them)
        self.last_write = self.last_read = 0.0
        self.budget = (time.time(), 0)       # when the turn began, and self.writes then (minus its lock)
        self.remote_cancel = False
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
        with self.lock, self._tx() as q:
            events = self._sync(q, time.time())
        for event in events:
            self.store.log.stored(self.chat_id, event)

    def _sync(self, q: Any, now: float) -> list[dict]:
        messages = self.chat.messages
        present = {m.id for m in messages if m.id is not None}
        for gone in [i for i in self.ordinals if i not in present]:     # never a row another worker streams
            q("DELETE FROM llmchat_messages WHERE id = ? AND NOT (status = 'streaming' AND lease_until >= ?)",
              (gone, now))
            del self.ordinals[gone]
        # the chat row first: it serializes this save against the answering worker's writes (any process)
        (last, owner, until) = q("UPDATE llmchat_chats SET last_seq = last_seq WHERE id = ?"
                                 " RETURNING last_seq, lock_owner, lock_until", (self.chat_id,))[0]
        defer = owner is not None and owner != self.owner and until is not None and until >= now
        self.seq = max(self.seq, last)
        events = [] if defer else self._drain(q)
        for ordinal, message in enumerate(messages):
            if message.id is None:
                event = self._insert(q, message, ordinal, now, defer)
                if event is not None:
                    events.append(event)
            elif self.ordinals.get(message.id) != ordinal:
                q("UPDATE llmchat_messages SET ordinal = ? WHERE id = ?", (ordinal, message.id))
                self.ordinals[message.id] = ordinal
        if not defer:
            q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (self.seq, self.chat_id))
        return events

    def _drain(self, q: Any) -> list[dict]:
        """Position the messages other writers saved while this chat was answered (``seq = -1``), in order."""
        events = []
        for row_id, data in q("SELECT id, data FROM llmchat_messages WHERE chat_id = ? AND seq = -1"
                              " ORDER BY ordinal, created_at", (self.chat_id,)):
            self.seq += 1
            q("UPDATE llmchat_messages SET seq = ? WHERE id = ?", (self.seq, row_id))
            event = {"seq": self.seq, "type": "new_message", "message_id": row_id, "message": json.loads(data)}
            self._log(q, event)
            events.append(event)
        return events

    def _insert(self, q: Any, message: Any, ordinal: int, now: float, defer: bool = False) -> dict | None:
        """A new message row and its event; ``defer``: another worker answers this chat now, so its writer
        gives the row a position (``seq = -1`` until then) after the events it streams meanwhile."""
        message.id = uuid.uuid4().hex
        streaming = message is self.message
        data = message_dict(message, "streaming" if streaming else None)
        self.seq += not defer
        q("INSERT INTO llmchat_messages (id, chat_id, ordinal, role, status, data, created_at, seq, lease_until,"
          " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          (message.id, self.chat_id, ordinal, message.role, data["status"], json.dumps(data), now,
           -1 if defer else self.seq, self.renew_at + self.store.lease * 0.7 if streaming else None, now))
        self.ordinals[message.id] = ordinal
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

    def _take(self) -> tuple[int, list[Any]]:
        """The chunk items streamed since the last flush, and the position of the first (call under the lock)."""
        pending = self.pending
        n = len(pending)            # the streaming thread appends after n meanwhile: nothing is lost
        batch = pending[:n]
        del pending[:n]
        first = self.seq + 1
        self.seq += n
        return first, batch

    def _chunks(self, q: Any, first: int, batch: list[Any]) -> None:
        q("INSERT INTO llmchat_events (chat_id, seq, type, payload) VALUES (?, ?, 'chunks', ?)",
          (self.chat_id, first + len(batch) - 1, encode_chunks(self.message_id, first, batch)))

    def _end(self, message: Any) -> None:
        with self.lock:
            first, batch = self._take()
            data = message_dict(message)
            error = message.error if message.status != "complete" else None
            events = []
            if error is not None:
                self.seq += 1
                events.append({"seq": self.seq, "type": "error", "message_id": message.id, "error": str(error),
                               "error_type": type(error).__name__, "partial": message.content or ""})
            self.seq += 1
            events.append({"seq": self.seq, "type": "end_message", "message_id": message.id, "message": data})
            last_of_turn = self.held == 1 and (error is not None or not message.tool_calls)
            with self._tx() as q:
                q("UPDATE llmchat_chats SET last_seq = last_seq WHERE id = ?", (self.chat_id,))     # serializes
                if batch:
                    self._chunks(q, first, batch)
                for event in events:
                    self._log(q, event)
                q("UPDATE llmchat_messages SET status = ?, data = ?, seq = ?, lease_until = NULL, error_type = ?,"
                  " error = ?, updated_at = ? WHERE id = ?",
                  (message.status, json.dumps(data), self.seq, None if error is None else type(error).__name__,
                   None if error is None else str(error), time.time(), message.id))
                events += self._drain(q)        # messages saved meanwhile by others come after this answer
                q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (self.seq, self.chat_id))
                if last_of_turn:      # the turn ends here: release the chat's lock in the same write
                    q("UPDATE llmchat_chats SET lock_owner = NULL, lock_until = NULL WHERE id = ? AND lock_owner = ?",
                      (self.chat_id, self.owner))
            self.released = last_of_turn
            self.message = self.message_id = None
            self.feed.trim()
        for event in events:
            self.store.log.stored(self.chat_id, event)

    # ------------------------------------------------------------------ timed flushes (the flusher thread)
    def tick(self, now: float) -> None:
        """Write what streamed since the last flush, renew the lease, and act on a cancel request."""
        with self.lock:
            flush = self.store.flush
            if not self.held or self.released or now - self.last_write < flush:
                return              # never two writes of one answer within `flush` seconds
            urgent = now >= self.renew_at + self.store.lease * 0.3       # the lease must never run out
            if (self.pending or now >= self.renew_at) and (urgent or self._affordable(now)):
                rows = self._flush(now)
                cancel_at = rows[0][0] if rows else now
            elif now - self.last_read >= flush:
                self.last_read = now
                cancel_at = self.store.backend.read("SELECT cancel_at FROM llmchat_chats WHERE id = ?",
                                                    (self.chat_id,))[0][0]
            else:
                return
        if cancel_at is not None and cancel_at >= self.turn_started and not self.remote_cancel:
            self.remote_cancel = True       # a cancel request (or the lock was lost): stop this answer
            self.chat.cancel()

    def _affordable(self, now: float) -> bool:
        """Whether one more write keeps the turn within one write per ``flush`` seconds, the end included.

        The turn's budget runs from before its lock was taken: the lock, the assistant row and the end
        are written whatever happens, so the first timed flush waits until they are paid for (0.8 s
        into the turn with the default 0.2 s; real providers often spend that long before the first
        token anyway). Followers in this process see every chunk at once regardless.
        """
        since, base = self.budget
        return (self.writes - base) + 2 <= (now - since) / self.store.flush + 1e-6

    def _flush(self, now: float) -> list[Any]:
        lease = now + self.store.lease
        first, batch = self._take() if self.pending and self.message is not None else (0, [])
        try:
            with self._tx() as q:
                if batch:
                    row = self._content(batch)
                    self._chunks(q, first, batch)
                    q("UPDATE llmchat_messages SET data = ?, seq = ?, lease_until = ?, updated_at = ? WHERE id = ?",
                      (json.dumps(row), self.seq, lease, now, self.message_id))
                    q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (self.seq, self.chat_id))
                elif self.message is not None:
                    q("UPDATE llmchat_messages SET lease_until = ? WHERE id = ?", (lease, self.message_id))
                rows = q("UPDATE llmchat_chats SET lock_until = ? WHERE id = ? AND lock_owner = ?"
                         " RETURNING cancel_at", (lease, self.chat_id, self.owner))
        except BaseException:
            self.pending[:0] = batch        # not written: the next flush takes it again
            self.seq -= len(batch)
            raise
        if batch:
            self.row = row
            self.content, self.thinking = row["content"] or "", row["thinking"] or ""
        self.renew_at = now + self.store.lease * 0.3
        return rows

    def _content(self, batch: list[Any]) -> dict[str, Any]:
        """The streaming row with the chunk items of a flush added (content, thinking, tool calls)."""
        row = dict(self.row)
        try:
            content, thinking = self.content + "".join(batch), self.thinking     # the common case: only content
        except TypeError:
            content = self.content + "".join(i if isinstance(i, str) else i.get("content", "") for i in batch)
            thinking = self.thinking + "".join(i.get("thinking", "") for i in batch if isinstance(i, dict))
            for item in batch:
                for call in item.get("tool_calls", ()) if isinstance(item, dict) else ():
                    self.calls[call["id"]] = call
        row.update(content=content or None, thinking=thinking or None)
        if self.calls:
            row["tool_calls"] = list(self.calls.values())
        return row
