"""Persisted chats: the same suite against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from services import fresh_postgres

import llmchat
from llmchat.storage import ChatBusyError, Store, WorkerLostError
from llmchat.testing import Call, Reply

KEY = "sk-test-SECRET-0123456789"


@llmchat.tool
def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/chats.db?lease=1"
    return fresh_postgres(request.getfixturevalue("postgres_url")) + "?lease=1"


@pytest.fixture
def keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(name, KEY)


def _other_process(url):
    """A second Store object on the same database: what another process sees (no shared memory)."""
    return Store(url)


def _dump(store):
    with store.backend.tx(write=False) as q:
        return json.dumps([q(f"SELECT * FROM {t}", ()) for t in ("llmchat_chats", "llmchat_messages",
                                                                 "llmchat_events")], default=str)


PROTOCOLS = {"chat_completions": ("gpt-4.1-mini", "openai"), "anthropic_messages": ("claude-haiku-4-5", "anthropic"),
             "responses": ("gpt-5-nano", "openai"), "gemini": ("gemini-2.5-flash", "gemini")}


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_loaded_chat_sends_exactly_the_history_an_in_memory_chat_would(store_url, server, keys, protocol):
    model, provider = PROTOCOLS[protocol]
    args = dict(provider=provider, protocol=protocol, base_url=server.url(protocol), temperature=0.3)
    memory = llmchat.chat(model, api_key=KEY, **args).with_tool(weather).with_instructions("Be brief.")
    stored = llmchat.store(store_url).create_chat(model, api_key=KEY, **args).with_tool(weather)
    stored.with_instructions("Be brief.")
    for chat in (memory, stored):
        call = Call("weather", {"city": "Oslo"}, id="call_oslo")
        server.queue(Reply(thinking=["Let me", " look."], text="Checking.", tool_calls=[call]),
                     Reply(text=["It is ", "sunny."], input_tokens=12, output_tokens=3),
                     Reply(text=["Half"], error={"type": "rate_limit_error", "message": "slow down"}, error_after=1))
        chat.ask("Weather in Oslo?")
        with pytest.raises(llmchat.RateLimitError):
            chat.ask("And tomorrow?")
    loaded = _other_process(store_url).load_chat(stored.id)
    assert [(m.role, m.content, m.status, m.id) for m in loaded.messages] == [
        (m.role, m.content, m.status, m.id) for m in stored.messages]
    assert [(m.thinking, m.input_tokens, m.output_tokens, m.finish_reason, m.tool_calls, m.tool_call_id)
            for m in loaded.messages] == [(m.thinking, m.input_tokens, m.output_tokens, m.finish_reason, m.tool_calls,
                                           m.tool_call_id) for m in memory.messages]
    assert isinstance(loaded.messages[-1].error, llmchat.RateLimitError)
    assert loaded.messages[-1].error.partial == "Half"
    assert str(loaded.messages[-1].error) == str(memory.messages[-1].error)
    sent = []
    for chat in (memory, loaded):
        server.reply("Fine.")
        chat.complete()
        sent.append(server.wait_for(len(server.requests))[-1].body)
    assert sent[0] == sent[1]
    contents = [m.content for m in _other_process(store_url).load_chat(stored.id).messages]
    assert contents[-2:] == ["And tomorrow?", "Fine."]


def test_the_assistant_row_exists_before_the_request_and_content_is_saved_while_streaming(store_url, server):
    store = llmchat.store(store_url)
    chat = store.create_chat("gpt-4.1-mini", provider="openai", base_url=server.url("chat_completions"),
                             protocol="chat_completions", api_key=KEY)
    seen = []

    def look(_chunk=None):
        seen.append(_other_process(store_url).snapshot(chat.id).messages[-1])

    chat.on_new_message(look)
    server.queue(Reply(text=[f"w{i} " for i in range(30)], delay=0.05))
    started = time.monotonic()
    reply = chat.ask("Count", on_chunk=lambda c: look() if c.content == "w20 " else None)
    elapsed = time.monotonic() - started
    assert seen[0]["id"] == reply.id and seen[0]["status"] == "streaming" and seen[0]["content"] is None
    assert seen[1]["id"] == reply.id and seen[1]["status"] == "streaming"
    assert seen[1]["content"] and reply.content.startswith(seen[1]["content"])     # saved while streaming ...
    assert len(seen[1]["content"]) < len(reply.content)
    # ... at most one write per 0.2 s for the answer (its lock, row, timed flushes and end), plus the user's row
    assert chat._writer.writes <= 1 + elapsed / store.flush
    final = _other_process(store_url).snapshot(chat.id).messages[-1]
    assert (final["status"], final["content"], final["finish_reason"]) == ("complete", reply.content, "stop")


def test_an_error_mid_answer_keeps_the_partial_answer_and_the_error(store_url, server):
    store = llmchat.store(store_url)
    chat = store.create_chat("claude-haiku-4-5", base_url=server.url("anthropic_messages"), api_key=KEY)
    server.queue(Reply(text=["Once ", "upon ", "a time"], error={"type": "overloaded_error", "message": "busy"},
                       error_after=2))
    with pytest.raises(llmchat.OverloadedError):
        chat.ask("Story")
    row = _other_process(store_url).snapshot(chat.id).messages[-1]
    assert (row["status"], row["content"]) == ("incomplete", "Once upon ")
    assert row["error"].startswith("OverloadedError: ") and "busy" in row["error"]
    server.reply("Once upon a time.")
    assert chat.complete().content == "Once upon a time."
    assert [m["content"] for m in _other_process(store_url).snapshot(chat.id).messages] == [
        "Story", "Once upon a time."]


def test_positions_grow_across_answers_and_snapshot_plus_follow_has_no_gap_nor_duplicate(store_url, server):
    store = llmchat.store(store_url)
    chat = store.create_chat("gpt-4.1-mini", base_url=server.url("responses"), api_key=KEY)
    server.reply("First.")
    chat.ask("One")
    server.queue(Reply(text=[f"p{i} " for i in range(40)], delay=0.02))
    got = {}

    def follow_from_another_process():
        other = _other_process(store_url)
        time.sleep(0.3)                      # mid-answer
        snap = other.snapshot(chat.id)
        events, position = [], snap.position
        while not events or events[-1]["type"] != "end_message":
            new = other.log.read(chat.id, position, timeout=5)
            assert new, "no events within 5 s"
            events += new
            position = new[-1]["seq"]
        got.update(snap=snap, events=events)

    follower = threading.Thread(target=follow_from_another_process)
    follower.start()
    reply = chat.ask("Two")
    follower.join(10)
    snap, events = got["snap"], got["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(snap.position + 1, snap.position + 1 + len(seqs)))     # no gap, no duplicate
    partial = next(m for m in snap.messages if m["id"] == reply.id)["content"] or ""
    streamed = "".join(e.get("content", "") for e in events if e["type"] == "chunk")
    assert partial + streamed == reply.content                                       # snapshot + follow = answer
    everything = store.log.read(chat.id, 0, timeout=0)
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
    assert [e["type"] for e in everything][:5] == ["new_message", "new_message", "chunk", "end_message", "new_message"]
    assert everything == _other_process(store_url).log.read(chat.id, 0, timeout=0)     # memory == log
    assert store.snapshot(chat.id).position == everything[-1]["seq"]


def test_two_answers_on_one_chat_do_not_interleave(store_url, server, keys):
    store = llmchat.store(store_url)
    chat = store.create_chat("gpt-4.1-mini", base_url=server.url("chat_completions"),
                             protocol="chat_completions", api_key=KEY)
    chat.add_message("user", "Hi")
    server.queue(Reply(text=["a"] * 20, delay=0.05))
    worker = threading.Thread(target=chat.complete)
    worker.start()
    server.wait_for(0)
    time.sleep(0.3)
    twin = _other_process(store_url).load_chat(chat.id)
    with pytest.raises(ChatBusyError, match="another worker"):
        twin.complete()
    worker.join(10)
    assert [m.content for m in store.load_chat(chat.id).messages] == ["Hi", "a" * 20]


def test_cancel_from_another_process_stops_the_answer_within_a_second(store_url, server, keys):
    store = llmchat.store(store_url)
    chat = store.create_chat("gpt-4.1-mini", base_url=server.url("chat_completions"),
                             protocol="chat_completions", api_key=KEY)
    chat.add_message("user", "Long story")
    server.queue(Reply(text=["word "] * 200, delay=0.05))
    errors = []
    worker = threading.Thread(target=lambda: errors.append(pytest.raises(llmchat.CancelledError, chat.complete)))
    worker.start()
    time.sleep(0.5)
    cancelled_at = time.monotonic()
    _other_process(store_url).load_chat(chat.id).cancel()
    worker.join(5)
    assert time.monotonic() - cancelled_at < 1.0 and errors
    row = _other_process(store_url).snapshot(chat.id).messages[-1]
    assert row["status"] == "incomplete" and row["error"].startswith("CancelledError") and row["content"]


def test_a_dead_worker_reads_as_interrupted_and_complete_asks_again(store_url, server, keys):
    store = llmchat.store(store_url)
    chat = store.create_chat("gpt-4.1-mini", base_url=server.url("chat_completions"),
                             protocol="chat_completions", api_key=KEY)
    chat.add_message("user", "Tell me")
    server.queue(Reply(text=[f"t{i} " for i in range(100)], delay=0.05))
    script = (f"import llmchat; chat = llmchat.store({store_url!r}).load_chat({chat.id!r}); "
              f"chat.complete(on_chunk=lambda c: print(c.content, flush=True))")
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**__import__("os").environ, "OPENAI_API_KEY": KEY})
    for _ in range(20):
        worker.stdout.readline()
    time.sleep(0.5)
    worker.kill()                              # SIGKILL mid-answer
    worker.wait()
    row = _other_process(store_url).snapshot(chat.id).messages[-1]
    assert row["content"].startswith("t0 t1 ")                     # the content of the last flush is kept
    time.sleep(store.lease + 0.2)
    loaded = _other_process(store_url).load_chat(chat.id)
    last = loaded.messages[-1]
    assert last.status == "incomplete" and isinstance(last.error, WorkerLostError)
    assert "stopped before the answer ended" in str(last.error)
    server.reply("The end.")
    assert loaded.complete().content == "The end."
    assert [(m.role, m.content) for m in store.load_chat(chat.id).messages] == [
        ("user", "Tell me"), ("assistant", "The end.")]


V1 = [
    "CREATE TABLE llmchat_schema (version INTEGER NOT NULL)",
    "INSERT INTO llmchat_schema (version) VALUES (1)",
    "CREATE TABLE llmchat_chats (id TEXT PRIMARY KEY, config TEXT NOT NULL, created_at REAL NOT NULL)",
    "CREATE TABLE llmchat_messages (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL REFERENCES llmchat_chats(id)"
    " ON DELETE CASCADE, ordinal INTEGER NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL,"
    " data TEXT NOT NULL, created_at REAL NOT NULL)",
]


def _v1_database(url):
    config = {"model": "gpt-4.1-mini", "provider": "openai", "protocol": "chat_completions", "base_url": None,
              "options": {}, "temperature": None, "max_tokens": None, "params": {}, "headers": {}, "tools": []}
    rows = [("u1", 0, "user", {"role": "user", "content": "Old question"}),
            ("a1", 1, "assistant", {"role": "assistant", "content": "Old answer", "finish_reason": "stop"})]
    statements = V1 + ["INSERT INTO llmchat_chats VALUES ('c1', ?, 1.0)"] + [
        "INSERT INTO llmchat_messages VALUES (?, 'c1', ?, ?, 'complete', ?, 1.0)"] * 2
    params = [()] * len(V1) + [(json.dumps(config),)] + [(i, o, r, json.dumps(d)) for i, o, r, d in rows]
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("///", 1)[1].split("?")[0])
        for sql, p in zip(statements, params):
            conn.execute(sql, p)
        conn.commit()
        conn.close()
    else:
        import psycopg

        from llmchat.storage.schema import for_postgres

        with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
            for sql, p in zip(statements, params):
                conn.execute(for_postgres(sql), p)


def test_a_database_made_by_an_older_version_is_upgraded(store_url, server, keys):
    _v1_database(store_url)
    store = Store(store_url)
    with store.backend.tx() as q:
        assert q("SELECT version FROM llmchat_schema", ()) == [(2,)]
    chat = store.load_chat("c1")
    assert [(m.id, m.content, m.status) for m in chat.messages] == [
        ("u1", "Old question", "complete"), ("a1", "Old answer", "complete")]
    chat = chat.with_model("gpt-4.1-mini", provider="openai")
    chat._base_url = server.url("chat_completions")
    server.reply("New answer")
    chat.ask("New question")
    assert [m.content for m in Store(store_url).load_chat("c1").messages] == [
        "Old question", "Old answer", "New question", "New answer"]
    assert server.requests[0].body["messages"][:2] == [{"role": "user", "content": "Old question"},
                                                      {"role": "assistant", "content": "Old answer"}]


def test_no_secret_reaches_the_database(store_url, server):
    store = llmchat.store(store_url)
    chat = store.create_chat("claude-haiku-4-5", base_url=server.url("anthropic_messages"), api_key=KEY,
                             headers={"X-Extra-Api-Key": "header-SECRET", "X-Team": "blue"})
    server.reply("Hi")
    chat.ask("Hello")
    assert server.requests[0].headers["x-api-key"] == KEY
    dump = _dump(store)
    assert "SECRET" not in dump and "blue" in dump and "Hello" in dump
    again = store.load_chat(chat.id)          # this process still knows the key and the secret header
    server.reply("Again")
    again.ask("Once more")
    assert server.wait_for(2)[1].headers["x-extra-api-key"] == "header-SECRET"


def test_the_store_url_comes_from_configure_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMCHAT_STORE", f"sqlite:///{tmp_path}/env.db")
    assert llmchat.store().url.endswith("/env.db")
    llmchat.configure(store=f"sqlite:///{tmp_path}/configured.db")
    try:
        assert llmchat.store().url.endswith("/configured.db") and llmchat.store() is llmchat.store()
    finally:
        llmchat.configure(store=None)
    with pytest.raises(llmchat.ConfigurationError, match="sqlite"):
        llmchat.store("mysql://x")
    with pytest.raises(LookupError, match="no stored chat"):
        llmchat.store().load_chat("nope")


def test_import_llmchat_loads_no_store_module():
    code = "import sys, llmchat; print(sorted(m for m in sys.modules if m.startswith(('llmchat.storage', 'sqlite3', " \
           "'psycopg', 'redis', 'rq', 'llmchat.jobs', 'llmchat.broadcast'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readers_in_the_same_process_get_each_chunk_at_once(store_url, server):
    store = llmchat.store(store_url)
    chat = store.create_chat("gpt-4.1-mini", base_url=server.url("chat_completions"),
                             protocol="chat_completions", api_key=KEY)
    chat.add_message("user", "Go")
    position = store.snapshot(chat.id).position
    produced, received = {}, {}

    def read():
        after = position
        while True:
            for event in store.log.read(chat.id, after, timeout=5):
                received.setdefault(event.get("content"), time.monotonic())
                after = event["seq"]
                if event["type"] == "end_message":
                    return

    reader = threading.Thread(target=read)
    reader.start()
    server.queue(Reply(text=[f"c{i}" for i in range(30)], delay=0.03))
    chat.complete(on_chunk=lambda c: produced.setdefault(c.content, time.monotonic()))
    reader.join(10)
    lags = sorted(received[text] - produced[text] for text in produced if text)
    assert len(lags) == 30
    assert lags[len(lags) // 2] < 0.02 and lags[-1] < store.flush      # woken at once, not at the next flush
