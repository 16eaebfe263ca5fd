"""The store writer: a chat listener that saves a stored chat's messages while they stream.

- a user, system or tool message is saved at once (``add_message``, ``ask``);
- an assistant row is created before its request is sent (``message.id`` is stable), with status
  ``streaming`` and a lease; its chunks are published as events and written by the store's flusher
  thread at most every ``flush`` seconds (content, thinking, tool calls and those events in one
  transaction, which also renews the lease and reads any cancel request);
- at the end the full message is written: ``complete``, or ``incomplete`` with the error's class
  and message (tokens, finish reason, tool calls, thinking included).

A turn holds the chat's lock (``lock_owner``/``lock_until`` on the chat row, renewed by the
flusher), so two workers never answer one chat at once: the second gets :class:`ChatBusyError`.

>>> str(ChatBusyError("chat c1 is being answered elsewhere"))
'chat c1 is being answered elsewhere'
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Iterator

from llmchat.broadcast import encode_chunks
from llmchat.errors import Error
from llmchat.events import ChunkReceived, MessageAdded, MessageEnded, MessageStarted
from llmchat.storage.rows import chat_config, message_dict

if TYPE_CHECKING:
    from llmchat.storage import Store

__all__ = ["ChatBusyError", "Writer"]

LOST = ("the worker answering this message stopped before the answer ended (no sign of life since its "
        "last save); chat.complete() asks again")


class ChatBusyError(Error):
    """Another worker is answering this chat now (two answers must not interleave).

    >>> issubclass(ChatBusyError, Error)
    True
    """


def _calls(chunk: Any) -> list[dict]:
    return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in chunk.tool_calls.values()]


class Writer:
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
        self.renew_at = 0.0
        self.turn_started = time.time()
        self.config_text = ""
        self.writes = 0                     # transactions written (the speed check counts them)
        self.remote_cancel = False
        self.publish = store.log.publish
        if owner is not None:
            self._hold()

    # ------------------------------------------------------------------ the listener
    def __call__(self, event: Any) -> None:
        if event.__class__ is ChunkReceived:
            chunk = event.chunk
            if chunk.content is not None and chunk.thinking is None and not chunk.tool_calls:
                self.seq += 1
                self.publish(self.chat_id, {"seq": self.seq, "type": "chunk", "message_id": self.message_id,
                                            "content": chunk.content})
            elif chunk.content is not None or chunk.thinking is not None or chunk.tool_calls:
                self._chunk(chunk)
        elif isinstance(event, MessageStarted):
            self._start(event.message)
        elif isinstance(event, MessageEnded):
            self._end(event.message)
        elif isinstance(event, MessageAdded):
            self.save()

    def _chunk(self, chunk: Any) -> None:
        self.seq += 1
        event: dict[str, Any] = {"seq": self.seq, "type": "chunk", "message_id": self.message_id}
        if chunk.content is not None:
            event["content"] = chunk.content
        if chunk.thinking is not None:
            event["thinking"] = chunk.thinking
        if chunk.tool_calls:
            event["tool_calls"] = _calls(chunk)
        self.publish(self.chat_id, event)

    # ------------------------------------------------------------------ synchronous saves
    def _tx(self) -> Any:
        self.writes += 1
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
        for gone in [i for i in self.ordinals if i not in present]:
            q("DELETE FROM llmchat_messages WHERE id = ?", (gone,))
            del self.ordinals[gone]
        (last,) = q("SELECT last_seq FROM llmchat_chats WHERE id = ?", (self.chat_id,))[0]
        self.seq = max(self.seq, last)
        events = []
        for ordinal, message in enumerate(messages):
            if message.id is None:
                events.append(self._insert(q, message, ordinal, now))
            elif self.ordinals.get(message.id) != ordinal:
                q("UPDATE llmchat_messages SET ordinal = ? WHERE id = ?", (ordinal, message.id))
                self.ordinals[message.id] = ordinal
        q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (self.seq, self.chat_id))
        return events

    def _insert(self, q: Any, message: Any, ordinal: int, now: float) -> dict:
        message.id = uuid.uuid4().hex
        streaming = message is self.message
        data = message_dict(message, "streaming" if streaming else None)
        self.seq += 1
        q("INSERT INTO llmchat_messages (id, chat_id, ordinal, role, status, data, created_at, seq, lease_until,"
          " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          (message.id, self.chat_id, ordinal, message.role, data["status"], json.dumps(data), now, self.seq,
           self.renew_at + self.store.lease * 0.7 if streaming else None, now))
        event = {"seq": self.seq, "type": "new_message", "message_id": message.id, "message": data}
        self._log(q, event)
        self.ordinals[message.id] = ordinal
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
            self.save()
            self.message_id = message.id

    def _end(self, message: Any) -> None:
        with self.lock:
            batch = self.store.log.take(self.chat_id)
            now = time.time()
            data = message_dict(message)
            events = []
            if message.status != "complete" and message.error is not None:
                error = message.error
                self.seq += 1
                events.append({"seq": self.seq, "type": "error", "message_id": message.id, "error": str(error),
                               "error_type": type(error).__name__, "partial": message.content or ""})
            self.seq += 1
            events.append({"seq": self.seq, "type": "end_message", "message_id": message.id, "message": data})
            error = message.error if message.status != "complete" else None
            with self._tx() as q:
                if batch:
                    q("INSERT INTO llmchat_events (chat_id, seq, type, payload) VALUES (?, ?, 'chunks', ?)",
                      (self.chat_id, *encode_chunks(batch)))
                for event in events:
                    self._log(q, event)
                q("UPDATE llmchat_messages SET status = ?, data = ?, seq = ?, lease_until = NULL, error_type = ?,"
                  " error = ?, updated_at = ? WHERE id = ?",
                  (message.status, json.dumps(data), self.seq, None if error is None else type(error).__name__,
                   None if error is None else str(error), now, message.id))
                q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (self.seq, self.chat_id))
            self.message = self.message_id = None
        for event in events:
            self.store.log.stored(self.chat_id, event)

    # ------------------------------------------------------------------ timed flushes (the flusher thread)
    def tick(self, now: float) -> None:
        """Write what streamed since the last flush, renew the lease, and act on a cancel request."""
        with self.lock:
            if not self.held:
                return
            batch = self.store.log.take(self.chat_id) if self.message is not None else []
            if batch or now >= self.renew_at:
                rows = self._flush(batch, now)
                cancel_at = rows[0][0] if rows else now
            else:
                cancel_at = self.store.backend.read("SELECT cancel_at FROM llmchat_chats WHERE id = ?",
                                                    (self.chat_id,))[0][0]
        if cancel_at is not None and cancel_at >= self.turn_started and not self.remote_cancel:
            self.remote_cancel = True       # a cancel request (or the lock was lost): stop this answer
            self.chat.cancel()

    def _flush(self, batch: list[dict], now: float) -> list[Any]:
        lease = now + self.store.lease
        with self._tx() as q:
            if batch:
                self._content(batch)
                last, payload = encode_chunks(batch)
                q("INSERT INTO llmchat_events (chat_id, seq, type, payload) VALUES (?, ?, 'chunks', ?)",
                  (self.chat_id, last, payload))
                q("UPDATE llmchat_messages SET data = ?, seq = ?, lease_until = ?, updated_at = ? WHERE id = ?",
                  (json.dumps(self.row), last, lease, now, self.message_id))
                q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (last, self.chat_id))
            elif self.message is not None:
                q("UPDATE llmchat_messages SET lease_until = ? WHERE id = ?", (lease, self.message_id))
            rows = q("UPDATE llmchat_chats SET lock_until = ? WHERE id = ? AND lock_owner = ? RETURNING cancel_at",
                     (lease, self.chat_id, self.owner))
        self.renew_at = now + self.store.lease * 0.3
        return rows

    def _content(self, batch: list[dict]) -> None:
        """The streaming row's content, thinking and tool calls so far, from the events of a flush."""
        text = [e["content"] for e in batch if "content" in e]
        if text:
            self.content += "".join(text)
            self.row["content"] = self.content
        thinking = [e["thinking"] for e in batch if "thinking" in e]
        if thinking:
            self.thinking += "".join(thinking)
            self.row["thinking"] = self.thinking
        for event in batch:
            for call in event.get("tool_calls", ()):
                self.calls[call["id"]] = call
        if self.calls:
            self.row["tool_calls"] = list(self.calls.values())

    # ------------------------------------------------------------------ the chat's lock
    def turn(self, chunks: Iterator[Any]) -> Iterator[Any]:
        """The spine's chunks, with this chat locked and its configuration saved for the whole turn."""
        self.acquire()
        try:
            self.turn_started = time.time()
            self.remote_cancel = False
            self.save_config()
            yield from chunks
        finally:
            self.release()

    def acquire(self, wait: float = 0.0) -> None:
        """Take the chat's lock, waiting up to ``wait`` seconds; :class:`ChatBusyError` when it stays taken."""
        if self.held:
            self.held += 1
            return
        self.store.lock(self.chat_id, self.owner, wait)
        self._hold()

    def _hold(self) -> None:
        self.held = 1
        self.renew_at = time.time() + self.store.lease * 0.3
        self.store.flusher.add(self)

    def release(self) -> None:
        with self.lock:
            self.held -= 1
            if self.held:
                return
            self.store.flusher.discard(self)
            with self._tx() as q:
                q("UPDATE llmchat_chats SET lock_owner = NULL, lock_until = NULL WHERE id = ? AND lock_owner = ?",
                  (self.chat_id, self.owner))

    def save_config(self) -> None:
        """Save the chat's settings (model, options, tools...) when they changed, for workers that load it."""
        self.store.remember(self.chat)
        text = json.dumps(chat_config(self.chat), sort_keys=True)
        if text != self.config_text:
            with self._tx() as q:
                q("UPDATE llmchat_chats SET config = ? WHERE id = ?", (text, self.chat_id))
            self.config_text = text

    def request_cancel(self) -> None:
        """Store a cancel request; the worker answering this chat (any thread or process) stops within a flush."""
        if self.remote_cancel:
            return
        with self._tx() as q:
            q("UPDATE llmchat_chats SET cancel_at = ? WHERE id = ?", (time.time(), self.chat_id))
