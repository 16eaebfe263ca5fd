"""The embedded backend: one SQLite file (stdlib ``sqlite3``), WAL mode, one connection per thread.

Write transactions start with ``BEGIN IMMEDIATE`` (the write lock is taken at once, so two writers
wait for each other instead of failing halfway); readers never block writers in WAL mode.

>>> import os, tempfile
>>> db = SQLite(os.path.join(tempfile.mkdtemp(), "chats.db"))
>>> with db.tx() as q:
...     q("SELECT version FROM llmchat_schema", ())
[(2,)]
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from typing import Any, Callable, Iterator

from llmchat.errors import StoreError
from llmchat.storage.schema import migrate

__all__ = ["SQLite"]

Query = Callable[[str, tuple], list]


class SQLite:
    """A store backend on a SQLite file (``sqlite:///relative.db``, ``sqlite:////absolute/path.db``)."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.writes = 0                 # write transactions begun by this process (the speed check counts them)
        self._local = threading.local()
        with self.tx() as q:
            migrate(q, lambda name: bool(q("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))))

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():     # a new thread, or a forked worker process
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            local.conn, local.pid = conn, os.getpid()
        return local.conn

    @contextlib.contextmanager
    def tx(self, write: bool = True) -> Iterator[Query]:
        """A transaction; yields ``q(sql, params) -> rows``. ``write=False``: a consistent read snapshot.
        A failure of the database is a :class:`~llmchat.StoreError`."""
        try:
            with self._tx(write) as q:
                yield q
        except sqlite3.Error as exc:
            raise failed(exc) from exc

    @contextlib.contextmanager
    def _tx(self, write: bool) -> Iterator[Query]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        self.writes += write

        def q(sql: str, params: tuple = ()) -> list[Any]:
            return conn.execute(sql, params).fetchall()

        try:
            yield q
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read(self, sql: str, params: tuple = ()) -> list[Any]:
        """One statement outside any transaction (a cheap poll)."""
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise failed(exc) from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
            self._local.pid = None


def failed(exc: BaseException, hide: str = "") -> StoreError:
    """The typed error for a database driver's ``exc`` (``hide``: a password, never shown)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    if hide:
        text = text.replace(hide, "***")
    return StoreError(f"the store's database failed: {text}"[:500])
