"""The store writer's end of a message: its final write, a failed one written later, an abandoned answer.

The end of an answer is one transaction: the chunks not yet flushed, the ``error`` and
``end_message`` events, the row's status, data and error, the messages others saved meanwhile, and
(at the end of the turn) the chat's lock released. When the database refuses that write, the end
is written at once as the chat's next write would write it (:meth:`Endings._heal`); when that fails
too, the :class:`~llmchat.StoreError` carries the whole answer (``partial``) and the chat's next
write ends the row. Pages see a gap in the positions and start over from a snapshot, which shows
the message whole.

>>> from llmchat.storage.writer import Writer
>>> issubclass(Writer, Endings), Writer.abandon is Endings.abandon
(True, True)
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from llmchat.errors import StoreError
from llmchat.redaction import attach_failure, public_text
from llmchat.storage.rows import message_dict

__all__ = ["Endings"]


class Endings:
    """Mixed into :class:`llmchat.storage.writer.Writer`: ending a message in its row."""

    store: Any
    chat_id: str
    owner: str
    lock: Any
    held: int
    released: bool
    seq: int
    message: Any
    message_id: Any
    calls: dict[str, dict]
    settled: set
    feed: Any
    unsaved: Any

    # the writer's own (declared, not defined: a stub here would hide it from the other mixins)
    _tx: Callable[[], Any]
    _take: Callable[[], tuple[int, list[Any]]]
    _touch: Callable[[Any, float], tuple[int, str | None, float | None]]
    _chunks: Callable[[Any, int, list[Any]], None]
    _log: Callable[[Any, dict], None]
    _drain: Callable[..., list[dict]]
    _renewed: Callable[[], None]
    save: Callable[[], None]

    def _end(self, message: Any) -> None:
        try:
            self._write_end(message)
            return
        except StoreError as exc:
            failure = exc
        self.unsaved = message          # the chat's next write ends its row: try that once now (a connection
        try:                            # lost mid-write is opened again), else with the chat's next write
            self.save()
            return
        except StoreError as again:
            attach_failure(failure, again, "writing the answer's end once more")
        failure.partial, failure.partial_message = message.content or "", message    # the answer goes with it
        raise failure

    def _write_end(self, message: Any) -> None:
        with self.lock:
            first, batch = self._take()
            data = message_dict(message)
            error = message.error if message.status != "complete" else None
            events = []
            if error is not None:
                self.seq += 1
                events.append({"seq": self.seq, "type": "error", "message_id": message.id, "error": public_text(error),
                               "error_type": type(error).__name__, "partial": message.content or ""})
            self.seq += 1
            events.append({"seq": self.seq, "type": "end_message", "message_id": message.id, "message": data})
            last_of_turn = self.held == 1 and (error is not None or not message.tool_calls)
            now = time.time()
            with self._tx() as q:
                self._touch(q, now)
                if batch:
                    self._chunks(q, first, batch)
                for event in events:
                    self._log(q, event)
                self._ended(q, message, data, now)
                events += self._drain(q, final=last_of_turn)    # messages saved meanwhile by others come after
                q("UPDATE llmchat_chats SET last_seq = ? WHERE id = ?", (self.seq, self.chat_id))
                if last_of_turn:      # the turn ends here: release the chat's lock in the same write
                    q("UPDATE llmchat_chats SET lock_owner = NULL, lock_until = NULL WHERE id = ? AND lock_owner = ?",
                      (self.chat_id, self.owner))
            self._renewed()
            self.released = last_of_turn
            if message.complete:
                self.settled.add(message.id)
            self.message = self.message_id = None
            self.calls = {}
            self.feed.trim()
        for event in events:
            self.store.log.stored(self.chat_id, event)

    def abandon(self, exc: BaseException) -> None:
        """The turn stopped while an answer had started but not ended (a callback failing as it starts):
        end it ``incomplete`` with ``exc``, in memory and in its row, rather than leave it ``streaming``."""
        message = self.message
        if message is None or message.id is None or message.status == "complete":
            return      # complete: its final write failed (a StoreError) and the answer stays as it is
        message.status = "incomplete"
        if message.error is None:
            message.error = exc
        try:
            self._end(message)
        except Exception as failure:    # noqa: BLE001 - the error already propagating wins
            attach_failure(exc, failure, "saving the stored answer")

    def _heal(self, q: Any, now: float) -> dict:
        """Write the end of the message whose final write failed (its chunks' events are gone with that
        write; its ``end_message`` carries the whole message, which pages render in its place)."""
        message, self.unsaved = self.unsaved, None      # restored by save() when this write fails
        self.seq += 1
        data = message_dict(message)
        event = {"seq": self.seq, "type": "end_message", "message_id": message.id, "message": data}
        self._log(q, event)
        self._ended(q, message, data, now)
        return event

    def _ended(self, q: Any, message: Any, data: dict, now: float) -> None:
        """The row of an ended message: its status, data and position, its error's class and text."""
        error = message.error if message.status != "complete" else None
        q("UPDATE llmchat_messages SET status = ?, data = ?, seq = ?, lease_until = NULL, error_type = ?, error = ?,"
          " updated_at = ? WHERE id = ?", (message.status, json.dumps(data), self.seq,
                                           None if error is None else type(error).__name__,
                                           None if error is None else str(error), now, message.id))
