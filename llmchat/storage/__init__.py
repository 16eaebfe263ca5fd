"""Persisted chats: ``llmchat.store(url)`` keeps chats and their messages in a database.

``sqlite:///llmchat.db`` (the default, stdlib ``sqlite3``, zero setup) or ``postgresql://...``
(psycopg 3, ``pip install llmchat[postgres]``). Query parameters tune the store: ``lease`` (seconds
a running answer stays alive without a sign of life, default 10) and ``flush`` (seconds between two
saves of a streaming answer, default 0.2), e.g. ``sqlite:///chats.db?lease=30``.

>>> import os, tempfile, llmchat
>>> store = llmchat.store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "chats.db"))
>>> chat = store.create_chat("claude-haiku-4-5", api_key="k")
>>> hello = chat.add_message("user", "Hello")                 # saved at once
>>> again = store.load_chat(chat.id)
>>> [(m.role, m.content, m.id == hello.id) for m in again.messages]
[('user', 'Hello', True)]
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.parse
import uuid
from typing import Any, NamedTuple

from llmchat.config import Secret, check_seconds, settings
from llmchat.errors import ChatBusyError, ChatNotFoundError, ConfigurationError, WorkerLostError
from llmchat.redaction import public_text
from llmchat.storage.rows import build_chat, chat_config, message_from_row, public_url
from llmchat.storage.writer import LOST, Writer

__all__ = ["ChatBusyError", "ChatNotFoundError", "Snapshot", "Store", "WorkerLostError", "store"]

log = logging.getLogger("llmchat")
DEFAULT_URL = "sqlite:///llmchat.db"

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def check_id(value: Any, what: str = "id") -> None:
    """A :class:`ConfigurationError` unless ``value`` is a chat or message id (a str)."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a str (a stored chat's or message's .id), "
                                 f"got {type(value).__name__}")


def _seconds(query: dict[str, str], name: str, default: float) -> float:
    text = query.pop(name, None)
    try:
        value: Any = default if text is None else float(text)
    except ValueError:
        value = text
    check_seconds(value, f"the store URL's {name}")
    return value


def store(url: str | None = None) -> Store:
    """The store at ``url`` (else ``configure(store=...)``, else ``LLMCHAT_STORE``, else ``sqlite:///llmchat.db``).

    One :class:`Store` per URL and process: calling it again returns the same one.
    """
    url = url or settings("store", "LLMCHAT_STORE") or DEFAULT_URL
    if not isinstance(url, str):
        raise ConfigurationError(f"a store URL must be a str such as 'sqlite:///chats.db', got {type(url).__name__}")
    with _stores_lock:
        found = _stores.get(url)
        if found is None or found.pid != os.getpid():
            found = _stores[url] = Store(url)
        return found


class Snapshot(NamedTuple):
    """A chat's stored messages (dicts, as events carry them) and the event position their content includes."""

    messages: list[dict]
    position: int


class Store:
    """Chats and their messages in a database; see :func:`store` and the module docstring.

    >>> import os, tempfile
    >>> s = Store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "c.db") + "?lease=5")
    >>> s.lease, s.flush
    (5.0, 0.2)
    """

    def __init__(self, url: str) -> None:
        from llmchat.broadcast import StoreLog

        if not isinstance(url, str):
            raise ConfigurationError(f"a store URL must be a str such as 'sqlite:///chats.db', "
                                     f"got {type(url).__name__}")
        self.url = url
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        self.lease, self.flush = _seconds(query, "lease", 10.0), _seconds(query, "flush", 0.2)
        if self.lease < 2 * self.flush:     # the flusher renews a lease at most every `flush` seconds
            raise ConfigurationError(f"the store URL's lease ({self.lease:g} s) must be at least twice its flush "
                                     f"({self.flush:g} s), or running answers would lose their lock")
        self.pid = os.getpid()
        self.backend = _backend(parts, urllib.parse.urlencode(query))
        self.log = StoreLog(self)
        self.publishers: list[Any] = []     # further Broadcasters the writers publish every event to
        from llmchat.live.hub import attach_broadcast

        attach_broadcast(self)      # LLMCHAT_BROADCAST=redis://...: the log mirrored to Redis
        self.flusher = _Flusher(self)
        self._memory: dict[str, dict[str, Any]] = {}     # chat id -> key, secret headers, tools (never stored)

    def __repr__(self) -> str:
        return f"<llmchat.Store {self.backend.dialect}>"

    # ------------------------------------------------------------------ chats
    def create_chat(self, model: str | None = None, **chat_arguments: Any) -> Any:
        """A new stored :class:`~llmchat.Chat` (``llmchat.chat``'s arguments) with an ``id``."""
        from llmchat.chat import Chat

        chat = Chat(model, **chat_arguments)
        chat.id = uuid.uuid4().hex
        with self.backend.tx() as q:
            q("INSERT INTO llmchat_chats (id, config, created_at) VALUES (?, ?, ?)",
              (chat.id, json.dumps(chat_config(chat), sort_keys=True), time.time()))
        self._attach(chat, {})
        self.remember(chat)
        return chat

    def load_chat(self, id: str, *, _owner: str | None = None) -> Any:  # noqa: A002 (the API's name)
        """The stored chat ``id`` with its history, ready to continue (from any process)."""
        check_id(id)
        with self.backend.tx(write=False) as q:
            found = q("SELECT config FROM llmchat_chats WHERE id = ?", (id,))
            if not found:
                raise ChatNotFoundError(f"no stored chat with id {id!r} in this store")
            rows = q("SELECT id, status, data, error_type, error, lease_until FROM llmchat_messages"
                     " WHERE chat_id = ? ORDER BY ordinal, created_at", (id,))
        config = json.loads(found[0][0])
        chat = build_chat(config, self._memory.get(id, {}))
        chat.id = id
        now = time.time()
        for row_id, status, data, error_type, error, lease in rows:
            status, error_type, error = _interrupted(status, error_type, error, lease, now)
            chat.messages.append(message_from_row(row_id, status, json.loads(data), error_type, error))
        writer = self._attach(chat, {m.id: i for i, m in enumerate(chat.messages)}, _owner)
        writer.missing_tools = [e for e in config["tools"] if e["name"] not in chat._tools]
        writer.config_text = json.dumps(config, sort_keys=True)
        return chat

    def _attach(self, chat: Any, known: dict[str, int], owner: str | None = None) -> Writer:
        writer = Writer(self, chat, known, owner)
        writer.config_text = json.dumps(chat_config(chat), sort_keys=True)
        chat._writer = writer
        chat.add_listener(writer)
        return writer

    def remember(self, chat: Any) -> None:
        """Keep what must not be stored (key, secret headers, tools, a base URL with a password) for this
        process's loads of the chat."""
        base = chat._explicit["base_url"]
        self._memory[chat.id] = {"api_key": chat._explicit["api_key"], "tools": dict(chat._tools),
                                 "headers": {k: v for k, v in chat._headers.items() if isinstance(v, Secret)},
                                 "base_url": base if base != public_url(base) else None}

    def lock(self, chat_id: str, owner: str, wait: float = 0.0) -> None:
        """Take chat ``chat_id``'s lock for ``owner``, waiting up to ``wait`` s; else :class:`ChatBusyError`."""
        check_id(chat_id, "chat_id")
        deadline = time.monotonic() + wait
        while True:
            now = time.time()
            with self.backend.tx() as q:
                taken = q("UPDATE llmchat_chats SET lock_owner = ?, lock_until = ? WHERE id = ? AND"
                          " (lock_owner IS NULL OR lock_until < ? OR lock_owner = ?) RETURNING id",
                          (owner, now + self.lease, chat_id, now, owner))
                if taken:     # no one else answers it now: a row still "streaming" is a dead worker's
                    q("UPDATE llmchat_messages SET status = 'incomplete', error_type = 'WorkerLostError',"
                      " error = ?, lease_until = NULL WHERE chat_id = ? AND status = 'streaming'", (LOST, chat_id))
                    return
                if not q("SELECT 1 FROM llmchat_chats WHERE id = ?", (chat_id,)):
                    raise ChatNotFoundError(f"no stored chat with id {chat_id!r} in this store")
            if time.monotonic() >= deadline:
                raise ChatBusyError(f"chat {chat_id} is being answered by another worker; wait for it to end, "
                                    f"or chat.cancel() it")
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    # ------------------------------------------------------------------ reading for pages and jobs
    def snapshot(self, chat_id: str) -> Snapshot:
        """The chat's messages and the position they include, read together (then follow from it)."""
        check_id(chat_id, "chat_id")
        with self.backend.tx(write=False) as q:
            found = q("SELECT last_seq FROM llmchat_chats WHERE id = ?", (chat_id,))
            if not found:
                raise ChatNotFoundError(f"no stored chat with id {chat_id!r} in this store")
            rows = q("SELECT id, status, data, error_type, error, lease_until FROM llmchat_messages"
                     " WHERE chat_id = ? AND seq <> -1 ORDER BY ordinal, created_at", (chat_id,))
        now, messages = time.time(), []
        for row_id, status, data, error_type, error, lease in rows:
            status, error_type, error = _interrupted(status, error_type, error, lease, now)
            message = json.loads(data)
            shown = None if error is None else f"{error_type}: {public_text(kind=error_type, text=error)}"
            message.update(id=row_id, status=status, error=shown)     # a bug's text stays in the row
            messages.append(message)
        return Snapshot(messages, found[0][0])

    def position(self, chat_id: str) -> int:
        """The chat's last stored event position (0 before any; a cheap poll)."""
        check_id(chat_id, "chat_id")
        rows = self.backend.read("SELECT last_seq FROM llmchat_chats WHERE id = ?", (chat_id,))
        return rows[0][0] if rows else 0

    def events(self, chat_id: str, after: int) -> list[dict]:
        """The stored events of a chat with position above ``after``, in order."""
        check_id(chat_id, "chat_id")
        from llmchat.broadcast import decode_row

        rows = self.backend.read("SELECT seq, type, payload FROM llmchat_events WHERE chat_id = ? AND seq > ?"
                                 " ORDER BY seq", (chat_id, after))
        return [event for row in rows for event in decode_row(*row, after)]

    def close(self) -> None:
        self.flusher.stop()
        self.backend.close()


def _interrupted(status: str, error_type: str | None, error: str | None, lease: float | None,
                 now: float) -> tuple[str, str | None, str | None]:
    """A ``streaming`` row whose lease ran out reads as ``incomplete`` with a :class:`WorkerLostError`."""
    if status == "streaming" and (lease is None or lease < now):
        return "incomplete", "WorkerLostError", LOST
    return status, error_type, error


def _backend(parts: urllib.parse.SplitResult, query: str) -> Any:
    if parts.scheme == "sqlite":
        from llmchat.storage.sqlite import SQLite

        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path or path == ":memory:":
            raise ConfigurationError("a sqlite store needs a file: sqlite:///relative.db or sqlite:////abs/path.db")
        return SQLite(path)
    if parts.scheme in ("postgresql", "postgres"):
        from llmchat.storage.postgres import Postgres

        return Postgres(urllib.parse.urlunsplit(parts._replace(query=query, scheme="postgresql")))
    raise ConfigurationError(f"unknown store URL scheme {parts.scheme!r}: use sqlite:///file.db or postgresql://...")


class _Flusher:
    """One daemon thread per store that flushes every running answer of this process each ``flush`` seconds."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writers: set[Writer] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, writer: Writer) -> None:
        with self.lock:
            self.writers.add(writer)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="llmchat-store-flusher", daemon=True)
                self.thread.start()

    def discard(self, writer: Writer) -> None:
        with self.lock:
            self.writers.discard(writer)

    def stop(self) -> None:
        with self.lock:
            self.writers.clear()

    def _run(self) -> None:
        while True:
            time.sleep(self.store.flush / 4)      # each writer writes at most once per `flush` seconds
            with self.lock:
                writers = list(self.writers)
            if not writers:
                with self.lock:
                    if not self.writers:
                        self.thread = None
                        return
                continue
            now = time.time()
            for writer in writers:
                try:
                    writer.tick(now)
                except Exception:       # a busy database, a lost connection: the next flush tries again
                    log.exception("llmchat store: flushing chat %s failed", writer.chat_id)
