"""The store writer's timed flushes: what streamed since the last save, written by the store's flusher thread.

Each flush writes the chunk items of an answer (content, thinking, tool-call fragments) and their
events in one transaction that also renews the chat's lock and the answer's lease and reads any
cancel request. A turn stays within one write per ``flush`` seconds (its lock, rows and end
included, see :meth:`Flushes._affordable`), except that a lease close to running out is always
renewed, and a cancel request is read every ``flush`` seconds whatever was written.

>>> merged = {}
>>> _merge_calls(merged, [{"id": "c1", "name": "f", "arguments": '{"a": '},
...                      {"id": "c1", "name": "", "arguments": "1}"}])
>>> merged["c1"]["arguments"]
'{"a": 1}'
"""

from __future__ import annotations

import json
from typing import Any

from llmchat.broadcast import encode_chunks

__all__ = ["Flushes"]


def _merge_calls(calls: dict[str, dict], fragments: list[dict]) -> None:
    """Add streamed tool-call items to ``calls`` (by id) as :meth:`llmchat.Message.add` does: a str
    fragment for a known call with str arguments is appended, anything else replaces the call."""
    parts: dict[str, list[str]] = {}
    for call in fragments:
        key, known = call["id"], calls.get(call["id"])
        if known is not None and isinstance(known["arguments"], str) and isinstance(call["arguments"], str):
            parts.setdefault(key, [known["arguments"]]).append(call["arguments"])
            if call["name"] and not known["name"]:
                calls[key] = {**known, "name": call["name"]}
            continue
        if key in parts:                # a whole replacement after fragments of this flush
            del parts[key]
        calls[key] = dict(call)
    for key, texts in parts.items():
        calls[key] = {**calls[key], "arguments": "".join(texts)}


class Flushes:
    """Mixed into :class:`llmchat.storage.writer.Writer`: the flusher thread's side of it."""

    store: Any
    chat: Any
    chat_id: str
    owner: str
    lock: Any
    held: int
    released: bool
    renew_at: float
    last_write: float
    last_read: float
    remote_cancel: bool
    turn_started: float
    seq: int
    writes: int
    budget: tuple[float, int]
    pending: list[Any]
    message: Any
    message_id: Any
    row: dict[str, Any]
    content: str
    thinking: str
    calls: dict[str, dict]

    def _tx(self) -> Any:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """Write what streamed since the last flush, renew the lease, and act on a cancel request."""
        with self.lock:
            if not self.held or self.released:
                return
            cancel_at = self._due(now)
        if cancel_at is not None and cancel_at >= self.turn_started and not self.remote_cancel:
            self.remote_cancel = True       # a cancel request (or the lock was lost): stop this answer
            self.chat.cancel()

    def _due(self, now: float) -> float | None:
        """Flush, renew or only read now, as due; the cancel request's time (``now`` when the lock is lost)."""
        flush = self.store.flush
        urgent = now >= self.renew_at + self.store.lease * 0.3      # the lease must never run out
        spaced = now - self.last_write >= flush         # never two writes of one answer within `flush` seconds
        if urgent or (spaced and (self.pending or now >= self.renew_at) and self._affordable(now)):
            self.last_read = now
            rows = self._flush(now)
            return rows[0][0] if rows else now
        if now - self.last_read >= flush:       # the turn's own writes may come fast: a cancel is read regardless
            self.last_read = now
            return self.store.backend.read("SELECT cancel_at FROM llmchat_chats WHERE id = ?", (self.chat_id,))[0][0]
        return None

    def _affordable(self, now: float) -> bool:
        """Whether one more write keeps the turn within one write per ``flush`` seconds, the end included.

        The turn's budget runs from before its lock was taken: the lock, the assistant row and the end
        are written whatever happens, so the first timed flush waits until they are paid for (0.8 s
        into the turn with the default 0.2 s; real providers often spend that long before the first
        token anyway). Followers in this process see every chunk at once regardless.
        """
        since, base = self.budget
        return (self.writes - base) + 2 <= (now - since) / self.store.flush + 1e-6

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

    def _flush(self, now: float) -> list[Any]:
        lease = now + self.store.lease
        first, batch = self._take() if self.pending and self.message is not None else (0, [])
        calls = dict(self.calls)
        try:
            with self._tx() as q:
                if batch:
                    row = self._content(batch, calls)
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
            self.row, self.calls = row, calls
            self.content, self.thinking = row["content"] or "", row["thinking"] or ""
        self.renew_at = now + self.store.lease * 0.3
        return rows

    def _content(self, batch: list[Any], calls: dict[str, dict]) -> dict[str, Any]:
        """The streaming row with the chunk items of a flush added (content, thinking, tool calls)."""
        row = dict(self.row)
        try:
            content, thinking = self.content + "".join(batch), self.thinking     # the common case: only content
        except TypeError:
            content = self.content + "".join(i if isinstance(i, str) else i.get("content", "") for i in batch)
            thinking = self.thinking + "".join(i.get("thinking", "") for i in batch if isinstance(i, dict))
            _merge_calls(calls, [c for i in batch if isinstance(i, dict) for c in i.get("tool_calls", ())])
        row.update(content=content or None, thinking=thinking or None)
        if calls:
            row["tool_calls"] = list(calls.values())
        return row
