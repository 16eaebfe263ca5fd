"""A failing database is a typed StoreError that keeps the answer, on both backends (real SQLite, real PostgreSQL).

The failures are the database's own: a trigger that rejects a write the way a full disk would, a
server that is not there, a file that cannot be opened.
"""

from __future__ import annotations

import socket
import traceback

import pytest
from services import fresh_postgres
from test_live_follow import fold, parse

import llmchat
from llmchat.sse import follow
from llmchat.storage import Store
from llmchat.testing import Reply

KEY = "sk-test-SECRET-0123456789"

FAIL = {
    "sqlite": ["CREATE TRIGGER full_{name} BEFORE UPDATE ON {table} WHEN {when} "
               "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"],
    "postgres": ["CREATE FUNCTION full_{name}() RETURNS trigger AS $f$ BEGIN RAISE EXCEPTION "
                 "'could not extend file: No space left on device'; END $f$ LANGUAGE plpgsql",
                 "CREATE TRIGGER full_{name} BEFORE UPDATE ON {table} FOR EACH ROW WHEN ({when}) "
                 "EXECUTE FUNCTION full_{name}()"],
}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path}/errors.db?lease=1"
    return "postgres", fresh_postgres(request.getfixturevalue("postgres_url")) + "?lease=1"


def _refuse(store, kind, name, table, when):
    """Make the database itself refuse some updates of ``table`` (as a full disk would)."""
    raw = store.backend._conn()
    for sql in FAIL[kind]:
        raw.execute(sql.format(name=name, table=table, when=when))


def _allow(store, kind, name, table):
    raw = store.backend._conn()
    raw.execute(f"DROP TRIGGER full_{name}" + (f" ON {table}" if kind == "postgres" else ""))


def _chat(store, server):
    return store.create_chat("gpt-4.1-mini", base_url=server.url("chat_completions"), protocol="chat_completions",
                             api_key=KEY, max_retries=0)


def test_a_final_write_the_database_refuses_is_a_store_error_with_the_whole_answer(backend, server):
    kind, url = backend
    store = Store(url)
    chat = _chat(store, server)
    _refuse(store, kind, "end", "llmchat_messages", "NEW.status = 'complete'")
    server.queue(Reply(text=["Once ", "upon ", "a time."]), Reply(text="Again."))
    with pytest.raises(llmchat.StoreError, match="the store's database failed") as info:
        chat.ask("Tell me a story")
    error = info.value
    assert isinstance(error, llmchat.Error) and error.partial == "Once upon a time."
    assert error.partial_message is chat.messages[-1]
    assert any("writing the answer's end once more raised StoreError" in note for note in error.__notes__)
    assert chat.messages[-1].content == "Once upon a time." and chat.messages[-1].status == "complete"
    assert type(error.__cause__).__module__.split(".")[0] in ("sqlite3", "psycopg")
    row = store.load_chat(chat.id).messages[-1]
    assert row.content != "Once upon a time." or row.status != "complete"      # the row lags behind
    _allow(store, kind, "end", "llmchat_messages")
    assert chat.ask("Once more").content == "Again."        # the chat's lock was released
    loaded = store.load_chat(chat.id).messages
    assert [(m.role, m.content, m.status) for m in loaded[1:]] == [
        ("assistant", "Once upon a time.", "complete"), ("user", "Once more", "complete"),
        ("assistant", "Again.", "complete")]         # the first answer was written with the next save
    events = store.events(chat.id, 0)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    ends = [e for e in events if e["type"] == "end_message"]
    assert [e["message"]["content"] for e in ends] == ["Once upon a time.", "Again."]
    page = fold(parse(b"".join(follow(chat.id, "0", store=store, idle=0))))
    assert [(m["role"], m["content"], m["status"]) for m in page[1:]] == [
        ("assistant", "Once upon a time.", "complete"), ("user", "Once more", "complete"),
        ("assistant", "Again.", "complete")]      # a page following from the start shows it all, once


def test_a_final_write_refused_once_is_written_again_at_once_and_the_ask_succeeds(backend, server):
    kind, url = backend
    store = Store(url)
    chat = _chat(store, server)
    trigger = {"sqlite": "CREATE TRIGGER once BEFORE INSERT ON llmchat_events WHEN NEW.type = 'chunks' "
                         "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
               "postgres": "CREATE TRIGGER once BEFORE INSERT ON llmchat_events FOR EACH ROW "
                           "WHEN (NEW.type = 'chunks') EXECUTE FUNCTION full_once()"}[kind]
    raw = store.backend._conn()
    if kind == "postgres":
        raw.execute("CREATE FUNCTION full_once() RETURNS trigger AS $f$ BEGIN RAISE EXCEPTION "
                    "'could not extend file: No space left on device'; END $f$ LANGUAGE plpgsql")
    raw.execute(trigger)        # the end's write holds the unflushed chunks; writing the end again does not
    server.queue(Reply(text=["Once ", "upon ", "a time."]))
    assert chat.ask("Tell me a story").content == "Once upon a time."
    assert [(m.content, m.status) for m in store.load_chat(chat.id).messages] == [
        ("Tell me a story", "complete"), ("Once upon a time.", "complete")]
    page = fold(parse(b"".join(follow(chat.id, "0", store=store, idle=0))))
    assert [(m["content"], m["status"]) for m in page] == [("Tell me a story", "complete"),
                                                          ("Once upon a time.", "complete")]
    server.queue(Reply(text="Again."))
    assert store.load_chat(chat.id).ask("more").content == "Again."       # the chat's lock was released


def test_a_lock_release_that_fails_too_does_not_replace_the_first_error(backend, server):
    kind, url = backend
    store = Store(url)
    chat = _chat(store, server)
    _refuse(store, kind, "end", "llmchat_messages", "NEW.status = 'complete'")
    _refuse(store, kind, "unlock", "llmchat_chats", "NEW.lock_owner IS NULL AND OLD.lock_owner IS NOT NULL")
    server.queue(Reply(text=["Half ", "and half."]))
    with pytest.raises(llmchat.StoreError) as info:
        chat.ask("hi")
    assert info.value.partial == "Half and half."
    assert any("releasing the stored chat's lock raised StoreError" in note for note in info.value.__notes__)


def test_a_postgres_server_that_is_not_there_is_a_store_error_without_its_password():
    with socket.socket() as probe:      # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password = "pw-SECRET-4242"
    with pytest.raises(llmchat.StoreError, match="the store's database failed") as info:
        Store(f"postgresql://someone:{password}@127.0.0.1:{port}/chats?connect_timeout=2")
    shown = "".join(traceback.format_exception(info.value))
    assert "127.0.0.1" in shown and password not in shown


def test_a_sqlite_file_that_cannot_be_opened_is_a_store_error(tmp_path):
    with pytest.raises(llmchat.StoreError, match="unable to open database file"):
        Store(f"sqlite:///{tmp_path}/no/such/dir/chats.db")


def test_a_store_error_reaches_a_reader_too(backend, server):
    kind, url = backend
    store = Store(url)
    chat = _chat(store, server)
    store.backend._conn().execute("DROP TABLE llmchat_events")
    with pytest.raises(llmchat.StoreError, match="llmchat_events"):
        store.events(chat.id, 0)
