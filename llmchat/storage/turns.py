"""A stored chat's turn: the chat's lock (one answer at a time), its saved settings, cancel requests.

The lock is two columns of the chat row, ``lock_owner`` and ``lock_until``: a lease that the store's
flusher renews while the turn runs (tools included). A worker that dies stops renewing it, so the
next one takes the chat once the lease has run out.

>>> import llmchat, os, tempfile
>>> store = llmchat.store(f"sqlite:///{tempfile.mkdtemp()}/turns.db")
>>> chat = store.create_chat("gpt-4.1-mini", api_key="k")
>>> store.lock(chat.id, "another worker")
>>> chat._writer.acquire()
Traceback (most recent call last):
llmchat.errors.ChatBusyError: chat ... is being answered by another worker; ...
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

from llmchat.errors import ChatBusyError
from llmchat.redaction import attach_failure
from llmchat.storage.rows import chat_config

__all__ = ["ChatBusyError", "TurnLock"]


class TurnLock:
    """Mixed into :class:`llmchat.storage.writer.Writer`: the lock and the settings of a turn."""

    store: Any
    chat: Any
    chat_id: str
    owner: str
    held: int
    released: bool
    lock: Any
    config_text: str
    missing_tools: list[dict]
    remote_cancel: bool
    turn_started: float
    renew_at: float
    seq: int
    writes: int
    budget: tuple[float, int]

    def _tx(self) -> Any:
        raise NotImplementedError

    def _drain(self, q: Any, final: bool = True) -> list[dict]:
        raise NotImplementedError

    def abandon(self, exc: BaseException) -> None:
        raise NotImplementedError

    def turn(self, chunks: Iterator[Any]) -> Iterator[Any]:
        """The spine's chunks, with this chat locked and its configuration saved for the whole turn."""
        self.budget = (time.time(), self.writes - 1)      # the lock is the turn's first write
        self.acquire()
        try:
            self.turn_started = time.time()
            self.remote_cancel = False
            self.save_config()
            yield from chunks
        except BaseException as exc:
            self.abandon(exc)
            self._end_turn(exc)
            raise
        self._end_turn(None)

    def _end_turn(self, unwinding: BaseException | None) -> None:
        """Release the lock; a failure to (a StoreError) never replaces the error already propagating."""
        self.remote_cancel = False      # a later cancel() of this copy must reach a job elsewhere again
        try:
            self.release()
        except Exception as failure:
            if unwinding is None:
                raise
            attach_failure(unwinding, failure, "releasing the stored chat's lock")

    def acquire(self, wait: float = 0.0) -> None:
        """Take the chat's lock, waiting up to ``wait`` seconds; :class:`ChatBusyError` when it stays taken."""
        if self.held:
            self.held += 1
            return
        self.store.lock(self.chat_id, self.owner, wait)
        self._hold()

    def _hold(self) -> None:
        self.held, self.released = 1, False
        self.renew_at = time.time() + self.store.lease * 0.3
        self.store.flusher.add(self)

    def release(self) -> None:
        with self.lock:
            self.held -= 1
            if self.held:
                return
            self.store.flusher.discard(self)
            if self.released:           # already released with the turn's last write
                return
            with self._tx() as q:
                rows = q("UPDATE llmchat_chats SET lock_owner = NULL, lock_until = NULL WHERE id = ? AND"
                         " lock_owner = ? RETURNING last_seq", (self.chat_id, self.owner))
                self.seq = max(self.seq, rows[0][0]) if rows else self.seq
                events = self._drain(q) if rows else []     # messages saved by others during the turn
                if events:
                    q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (events[-1]["seq"], self.chat_id))
            for event in events:
                self.store.log.stored(self.chat_id, event)

    def save_config(self) -> None:
        """Save the chat's settings (model, options, tools...) when they changed, for workers that load it."""
        text = self.changed_config()
        if text is not None:
            with self._tx() as q:
                q("UPDATE llmchat_chats SET config = ? WHERE id = ?", (text, self.chat_id))
            self.config_text = text

    def changed_config(self) -> str | None:
        """The chat's settings as stored, when they changed since last saved (else None). Tools this
        process could not import stay listed, for the processes that can."""
        self.store.remember(self.chat)
        config = chat_config(self.chat)
        config["tools"] += [e for e in self.missing_tools if e["name"] not in self.chat._tools]
        text = json.dumps(config, sort_keys=True)
        return None if text == self.config_text else text

    def request_cancel(self) -> None:
        """Store a cancel request; the worker answering this chat (any thread or process) stops within a flush."""
        if self.remote_cancel:
            return
        with self._tx() as q:
            q("UPDATE llmchat_chats SET cancel_at = ? WHERE id = ?", (time.time(), self.chat_id))
