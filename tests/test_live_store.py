"""follow() over stored chats: the store's event log (SQLite and PostgreSQL), across processes, and Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pytest
from services import fresh_postgres

import llmchat
from llmchat.live.follow import follow, page
from llmchat.live.memory import apply
from llmchat.testing import Reply

PIECES = [f"s{i} " for i in range(25)]


def parse(body: bytes) -> list[dict]:
    out = []
    for block in body.decode().split("\n\n"):
        event: dict = {}
        for line in block.split("\n"):
            if line and not line.startswith((":", "retry:")):
                field, _, value = line.partition(": ")
                event[field] = value
        if event:
            out.append(event)
    return out


def fold(events: list[dict]) -> list[dict]:
    messages: list[dict] = []
    for event in events:
        kind = event.get("event")
        if kind is None:
            continue
        data = json.loads(event["data"])
        if kind == "snapshot":
            apply(messages, {"type": "snapshot", "messages": data["messages"]})
        elif kind in ("new_message", "end_message"):
            apply(messages, {"type": kind, "message": {k: v for k, v in data.items() if k != "message_id"}})
        elif kind == "chunk":
            apply(messages, {"type": kind, **data})
    return [(m["role"], m.get("content"), m.get("status")) for m in messages]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/live.db"
    else:
        pytest.importorskip("psycopg")
        url = fresh_postgres(request.getfixturevalue("postgres_url"))
    s = llmchat.store(url)
    yield s
    s.close()


def test_store_log_replays_from_every_position(store, server):
    server.queue(Reply(text=PIECES))
    chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                             base_url=server.url("chat_completions"), api_key="k")
    chat.ask("Tell me")
    everything = parse(b"".join(follow(chat.id, "0", store=store, idle=0)))
    last = int(everything[-1]["id"])
    assert [int(e["id"]) for e in everything] == sorted({int(e["id"]) for e in everything})
    assert page(chat.id, store=store).position == last
    for after in range(0, last + 1):
        rest = parse(b"".join(follow(chat.id, str(after), store=store, idle=0)))
        assert [int(e["id"]) for e in rest] == [int(e["id"]) for e in everything if int(e["id"]) > after]
        assert rest == [e for e in everything if int(e["id"]) > after]
    assert fold(everything)[-1] == ("assistant", "".join(PIECES), "complete")
    snapshot = parse(b"".join(follow(chat.id, None, store=store, idle=0)))
    assert [e["event"] for e in snapshot] == ["snapshot"] and fold(snapshot) == fold(everything)


def test_a_page_rendered_mid_answer_then_followed_gets_the_rest_once(store, server):
    server.queue(Reply(text=PIECES, delay=0.02))
    chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                             base_url=server.url("chat_completions"), api_key="k")
    chat.add_message("user", "Tell me")
    job = chat.complete_later()
    rendered = None
    while rendered is None or len(rendered.messages) < 2 or not rendered.messages[1].get("content"):
        rendered = page(chat.id, store=store)
    events = []
    for piece in follow(chat.id, rendered.position, store=store, heartbeat=0.1):
        events += parse(piece)
        if any(e.get("event") == "end_message" for e in events):
            break
    job.result(timeout=10)
    shown = rendered.messages[1]["content"] + "".join(
        json.loads(e["data"])["content"] for e in events if e.get("event") == "chunk")
    assert shown == "".join(PIECES)


def test_an_answer_in_another_process_reaches_a_follower_here(tmp_path, server):
    url = f"sqlite:///{tmp_path}/shared.db"
    store = llmchat.store(url)
    chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                             base_url=server.url("chat_completions"), api_key="k")
    chat.add_message("user", "Tell me")
    server.queue(Reply(text=PIECES, delay=0.02))
    events: list[dict] = []

    def read():
        for piece in follow(chat.id, "1", store=store, heartbeat=0.1, idle=10):
            events.extend(parse(piece))
            if any(e.get("event") == "end_message" for e in events):
                return

    reader = threading.Thread(target=read)
    reader.start()
    code = textwrap.dedent(f"""
        import llmchat, llmchat.jobs
        print(llmchat.jobs.answer({chat.id!r}, None, llmchat.store({url!r})))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"OPENAI_API_KEY": "k", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})
    assert done.stdout.strip() == "complete", done.stderr
    reader.join(10)
    assert not reader.is_alive()
    assert fold([{"event": "new_message", "data": json.dumps({"role": "user", "content": "Tell me", "id": "u"})}]
                + events)[-1] == ("assistant", "".join(PIECES), "complete")
    assert [int(e["id"]) for e in events] == list(range(2, 2 + len(events)))


def test_with_redis_the_store_mirrors_every_event_and_followers_read_redis(tmp_path, server, redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    llmchat.configure(broadcast=redis_url)
    try:
        store = llmchat.store(f"sqlite:///{tmp_path}/redis.db")
        assert type(store.broadcaster).__name__ == "RedisBroadcaster"
        server.queue(Reply(text=PIECES, delay=0.03))     # several flushes while it streams
        chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                                 base_url=server.url("chat_completions"), api_key="k")
        chat.ask("Tell me")
        import time

        deadline = time.monotonic() + 5                  # events go to Redis on a sender thread
        while store.broadcaster.last_seq(chat.id) < store.position(chat.id) and time.monotonic() < deadline:
            time.sleep(0.02)
        from_redis = parse(b"".join(follow(chat.id, "0", store=store, idle=0)))
        llmchat.configure(broadcast=None)
        from_log = parse(b"".join(follow(chat.id, "0", store=llmchat.store(f"sqlite:///{tmp_path}/redis.db?x=1"),
                                         idle=0)))
        assert from_redis == from_log and fold(from_redis)[-1] == ("assistant", "".join(PIECES), "complete")
    finally:
        llmchat.configure(broadcast=None)


def test_the_example_app_runs_offline_with_one_command(tmp_path):
    pytest.importorskip("flask")
    import pathlib
    import time

    import requests
    from browser import free_port

    root = pathlib.Path(__file__).resolve().parent.parent
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path), "PORT": str(port),
           "LLMCHAT_STORE": f"sqlite:///{tmp_path}/example.db"}
    app = subprocess.Popen([sys.executable, str(root / "examples" / "web_chat" / "app.py")], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                created = requests.post(url + "/chats", allow_redirects=False, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the example app did not start"
                time.sleep(0.1)
        chat_url = url + created.headers["Location"]
        requests.post(chat_url + "/messages", data={"content": "Hello"}, timeout=5)
        events = []
        with requests.get(chat_url + "/stream", params={"format": "json", "after": "0"}, stream=True,
                          timeout=20) as body:
            for line in body.iter_lines():
                if line.startswith(b"event: "):
                    events.append(line[7:].decode())
                if events[-1:] == ["end_message"] and len(events) > 3:
                    break
        assert events[:2] == ["new_message", "new_message"] and events.count("chunk") > 3
        assert "Once upon a time" in requests.get(chat_url, timeout=5).text
    finally:
        app.terminate()
        app.wait(10)


def test_a_message_added_while_an_answer_still_streams_gets_a_fresh_position(tmp_path, server):
    store = llmchat.store(f"sqlite:///{tmp_path}/race.db?flush=5")
    server.queue(Reply(text=PIECES[:6], stall_after=4, stall=1.0))
    chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                             base_url=server.url("chat_completions"), api_key="k")
    chat.add_message("user", "Tell me")
    job = chat.complete_later()
    rendered = page(chat.id, store=store)
    while len(rendered.messages) < 2:
        rendered = page(chat.id, store=store)
    import time

    time.sleep(0.3)                                  # four chunks published, none flushed yet
    store.load_chat(chat.id).add_message("user", "And then?")     # as a web request does
    job.result(timeout=10)
    seqs = [event["seq"] for event in store.events(chat.id, 0)]
    assert len(seqs) == len(set(seqs)), f"positions used twice: {sorted(s for s in seqs if seqs.count(s) > 1)}"
