"""The store's one schema, as numbered migrations run in order (both backends, one SQL text).

``llmchat_schema`` holds the version a database is at; :func:`migrate` brings any older database
up to :data:`VERSION` inside one transaction, so two processes opening a new database at once
do not both create it. The SQL is written for SQLite; :func:`for_postgres` adapts it.

>>> VERSION, for_postgres("CREATE TABLE t (a REAL, b INTEGER) -- ?")
(2, 'CREATE TABLE t (a DOUBLE PRECISION, b BIGINT) -- %s')
"""

from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["MIGRATIONS", "VERSION", "for_postgres", "migrate"]

MIGRATIONS: list[list[str]] = [
    [   # 1: chats and their messages
        "CREATE TABLE llmchat_chats (id TEXT PRIMARY KEY, config TEXT NOT NULL, created_at REAL NOT NULL)",
        "CREATE TABLE llmchat_messages (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL REFERENCES llmchat_chats(id)"
        " ON DELETE CASCADE, ordinal INTEGER NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL,"
        " data TEXT NOT NULL, created_at REAL NOT NULL)",
        "CREATE INDEX llmchat_messages_chat ON llmchat_messages (chat_id, ordinal)",
    ],
    [   # 2: positions and the event log, leases, the chat lock, cancel requests, stored errors
        "ALTER TABLE llmchat_chats ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE llmchat_chats ADD COLUMN lock_owner TEXT",
        "ALTER TABLE llmchat_chats ADD COLUMN lock_until REAL",
        "ALTER TABLE llmchat_chats ADD COLUMN cancel_at REAL",
        "ALTER TABLE llmchat_messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE llmchat_messages ADD COLUMN lease_until REAL",
        "ALTER TABLE llmchat_messages ADD COLUMN error_type TEXT",
        "ALTER TABLE llmchat_messages ADD COLUMN error TEXT",
        "ALTER TABLE llmchat_messages ADD COLUMN updated_at REAL",
        "CREATE TABLE llmchat_events (chat_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,"
        " payload TEXT NOT NULL, PRIMARY KEY (chat_id, seq))",
    ],
]
VERSION = len(MIGRATIONS)


def for_postgres(sql: str) -> str:
    """The SQLite text for PostgreSQL: 8-byte numbers, ``%s`` placeholders."""
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    return re.sub(r"\bINTEGER\b", "BIGINT", sql).replace("?", "%s")


def migrate(execute: Callable[[str, tuple], list[Any]], has_table: Callable[[str], bool]) -> int:
    """Run the migrations a database lacks (call inside a write transaction); returns the version before."""
    if not has_table("llmchat_schema"):
        execute("CREATE TABLE llmchat_schema (version INTEGER NOT NULL)", ())
        execute("INSERT INTO llmchat_schema (version) VALUES (0)", ())
    (version,) = execute("SELECT version FROM llmchat_schema", ())[0]
    if version > VERSION:
        from llmchat.errors import ConfigurationError

        raise ConfigurationError(f"the store's schema is version {version}, newer than this llmchat knows "
                                 f"({VERSION}): upgrade llmchat")
    for number in range(version, VERSION):
        for statement in MIGRATIONS[number]:
            execute(statement, ())
    if version != VERSION:
        execute("UPDATE llmchat_schema SET version = ?", (VERSION,))
    return version
