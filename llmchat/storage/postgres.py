"""The server backend: PostgreSQL through psycopg 3 (``pip install llmchat[postgres]``).

One connection per thread (a worker thread keeps its own), opened lazily and again when it is found
dead (a server restart, an idle timeout); the schema text is
the SQLite one adapted by :func:`llmchat.storage.schema.for_postgres`. Migrations run under an
advisory lock, so processes starting together upgrade a database once.

>>> Postgres.dialect
'postgresql'
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from llmchat.storage.schema import for_postgres, migrate
from llmchat.storage.sqlite import failed

__all__ = ["Postgres"]

Query = Callable[[str, tuple], list]
_LOCK_KEY = 0x11C4A7          # pg_advisory_xact_lock key for migrations


class Postgres:
    """A store backend on a PostgreSQL database (``postgresql://user:password@host:port/dbname``)."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            from llmchat.errors import ConfigurationError

            raise ConfigurationError("a postgresql:// store needs psycopg 3: pip install 'llmchat[postgres]'") from None
        self._psycopg = psycopg
        self._url = url
        self._password = urlsplit(url).password or ""
        self.writes = 0                 # write transactions begun by this process (the speed check counts them)
        self._local = threading.local()
        self._sql: dict[str, str] = {}
        with self.tx() as q:
            q("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
            migrate(q, lambda name: q("SELECT to_regclass(?) IS NOT NULL", (name,))[0][0])

    def __repr__(self) -> str:
        return "<llmchat.storage.Postgres>"      # the URL may hold a password: never shown

    def _conn(self) -> Any:
        local = self._local
        conn = getattr(local, "conn", None)
        if getattr(local, "pid", None) != os.getpid() or conn is None or conn.closed:
            local.conn, local.pid = self._psycopg.connect(self._url, autocommit=True), os.getpid()
        return local.conn

    def _text(self, sql: str) -> str:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = for_postgres(sql)
        return text

    def _begin(self, stack: contextlib.ExitStack) -> Any:
        """This thread's connection with a transaction begun on it. A connection found dead as it begins
        (a server restart, a failover, an idle timeout) is opened again, once: nothing was sent yet."""
        for attempt in (0, 1):
            conn = self._conn()
            try:
                stack.enter_context(conn.transaction())
                return conn
            except self._psycopg.OperationalError:
                if attempt or not conn.closed:
                    raise
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def tx(self, write: bool = True) -> Iterator[Query]:
        """A transaction; yields ``q(sql, params) -> rows``. ``write=False``: a consistent read snapshot.
        A failure of the database is a :class:`~llmchat.StoreError`."""
        failure = None
        try:
            with self._tx(write) as q:
                yield q
        except self._psycopg.Error as exc:
            failure = self._failed(exc)
        if failure is not None:
            try:
                raise failure
            finally:        # in a generator the driver's error would still become the context
                failure.__context__ = failure.__cause__

    @contextlib.contextmanager
    def _tx(self, write: bool) -> Iterator[Query]:
        self.writes += write
        with contextlib.ExitStack() as stack:
            cursor = stack.enter_context(self._begin(stack).cursor())
            if not write:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

            def q(sql: str, params: tuple = ()) -> list[Any]:
                cursor.execute(self._text(sql), params)
                return cursor.fetchall() if cursor.description is not None else []

            yield q

    def read(self, sql: str, params: tuple = ()) -> list[Any]:
        """One statement outside any transaction (a cheap poll; once more on a new connection if it was dead)."""
        failure = None
        try:
            return self._read(sql, params)
        except self._psycopg.Error as exc:
            failure = self._failed(exc)
        raise failure

    def _failed(self, exc: Exception) -> Exception:
        """The typed error for ``exc``, with the driver's error as its cause unless its text shows the
        password (then raised outside the ``except``: no context holds it)."""
        failure = failed(exc, self._password)
        if not (self._password and self._password in str(exc)):
            failure.__cause__ = exc
        return failure

    def _read(self, sql: str, params: tuple) -> list[Any]:
        for attempt in (0, 1):
            conn = self._conn()
            try:
                with conn.cursor() as cursor:
                    cursor.execute(self._text(sql), params)
                    return cursor.fetchall()
            except self._psycopg.OperationalError:
                if attempt or not conn.closed:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
