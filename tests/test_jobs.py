"""Background jobs: the thread queue, RQ workers as real processes on a real redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from services import fresh_postgres, missing

import llmchat
from llmchat.jobs import answer
from llmchat.testing import Call, Reply

KEY = "sk-test-SECRET-0123456789"
TESTS = str(Path(__file__).parent)


@llmchat.tool
def capital(country: str) -> str:
    """The capital of a country."""
    return {"France": "Paris"}.get(country, "unknown")


@pytest.fixture
def store(tmp_path):
    return llmchat.store(f"sqlite:///{tmp_path}/jobs.db?lease=1")


def _chat(store, server, **options):
    return store.create_chat("gpt-4.1-mini", base_url=server.url("chat_completions"), protocol="chat_completions",
                             api_key=KEY, **options)


def test_complete_later_returns_at_once_and_a_worker_thread_answers_with_tools(store, server):
    chat = _chat(store, server).with_tool(capital)
    chat.add_message("user", "Capital of France?")
    server.queue(Reply(tool_calls=[Call("capital", {"country": "France"})], delay=0.2),
                 Reply(text=["It is ", "Paris."], delay=0.05))
    job = chat.complete_later()
    assert not job.done()            # it returned before the answer (the first reply alone takes 0.2 s)
    assert job.result(timeout=10) == "complete"
    loaded = store.load_chat(chat.id)
    assert [(m.role, m.content) for m in loaded.messages] == [
        ("user", "Capital of France?"), ("assistant", None), ("tool", "Paris"), ("assistant", "It is Paris.")]
    assert all(m.status == "complete" and m.id for m in loaded.messages)


def test_a_job_delivered_twice_answers_once(store, server):
    chat = _chat(store, server)
    question = chat.add_message("user", "Hi")
    server.default = Reply(text=["Hello ", "there"], delay=0.05)
    results = []
    workers = [threading.Thread(target=lambda: results.append(answer(chat.id, question.id, store.url)))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    assert sorted(results) == ["already answered", "already answered", "complete"]
    assert len(server.requests) == 1
    assert [m.content for m in store.load_chat(chat.id).messages] == ["Hi", "Hello there"]


def test_a_rate_limit_mid_answer_keeps_partial_and_error_and_is_not_retried(store, server):
    chat = _chat(store, server, max_retries=3, retry_interval=0.01)
    chat.add_message("user", "Story")
    server.queue(Reply(text=["Once ", "upon ", "a time"], error={"type": "rate_limit_error", "message": "slow down"},
                       error_after=2))
    assert chat.complete_later().result(timeout=10) == "incomplete: RateLimitError"
    time.sleep(0.3)
    assert len(server.requests) == 1                 # content was delivered: never retried
    last = store.load_chat(chat.id).messages[-1]
    assert (last.content, last.status, type(last.error).__name__) == ("Once upon ", "incomplete", "RateLimitError")
    assert last.error.partial == "Once upon "


def test_cancel_stops_a_job_on_another_thread_within_a_second(store, server):
    chat = _chat(store, server)
    chat.add_message("user", "Long")
    server.queue(Reply(text=["word "] * 400, delay=0.02))
    job = chat.complete_later()
    server.wait_for(0)
    time.sleep(0.5)
    started = time.monotonic()
    chat.cancel()                    # this chat object is not the one answering: the request goes via the store
    assert job.result(timeout=5) == "cancelled"
    assert time.monotonic() - started < 1.0
    last = store.load_chat(chat.id).messages[-1]
    assert last.status == "incomplete" and type(last.error).__name__ == "CancelledError" and last.content


def test_fifty_chats_on_worker_threads_at_once(store, server):
    server.default = Reply(text=["Par", "allel."], delay=0.02)
    chats = [_chat(store, server) for _ in range(50)]
    jobs = []
    for n, chat in enumerate(chats):
        chat.add_message("user", f"Q{n}")
        jobs.append(chat.complete_later())
    assert [job.result(timeout=60) for job in jobs] == ["complete"] * 50
    assert len(server.requests) == 50
    for n, chat in enumerate(chats):
        assert [(m.content, m.status) for m in store.load_chat(chat.id).messages] == [
            (f"Q{n}", "complete"), ("Parallel.", "complete")]


def test_a_job_cancelled_before_it_runs_does_nothing(store, server):
    chat = _chat(store, server)
    question = chat.add_message("user", "Never mind")
    chat.cancel()
    assert answer(chat.id, question.id, store) == "cancelled"
    assert server.requests == [] and len(store.load_chat(chat.id).messages) == 1
    server.reply("Answered after all.")
    assert chat.complete_later().result(timeout=10) == "complete"      # asking again lifts the cancel
    assert store.load_chat(chat.id).messages[-1].content == "Answered after all."


def test_complete_later_needs_a_stored_chat(server):
    chat = llmchat.chat("gpt-4.1-mini", base_url=server.url("chat_completions"), api_key=KEY)
    with pytest.raises(llmchat.ConfigurationError, match="stored chat"):
        chat.complete_later()


# ---------------------------------------------------------------------------------------------- RQ


@pytest.fixture
def rq_queue(redis_url):
    try:
        import redis
        import rq  # noqa: F401
    except ImportError:
        missing("RQ is not installed: pip install -e '.[redis]'")

    redis.Redis.from_url(redis_url).flushdb()
    llmchat.configure(queue=redis_url)
    try:
        yield redis_url
    finally:
        llmchat.configure(queue=None)


def _worker(redis_url, store_url=None):
    """An RQ worker process (in its own process group, so a SIGKILL takes its work horse too)."""
    rq = str(Path(sys.executable).with_name("rq"))
    env = {**os.environ, "OPENAI_API_KEY": KEY, "PYTHONPATH": TESTS}
    if store_url:
        env["LLMCHAT_STORE"] = store_url
    return subprocess.Popen([rq, "worker", "--url", redis_url, "llmchat"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _descendants(pid):
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _stop(process):
    """SIGKILL the worker and its work horses (RQ puts a work horse in its own process group)."""
    for pid in [process.pid, *_descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(10)


def _streaming(store, chat):
    last = store.snapshot(chat.id).messages[-1]
    return last["role"] == "assistant" and last["status"] == "streaming" and last["content"]


def _answered(store, chat):
    last = store.snapshot(chat.id).messages[-1]
    return last["role"] == "assistant" and last["status"] == "complete"


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path):
    if request.param == "sqlite":
        return llmchat.store(f"sqlite:///{tmp_path}/rq.db?lease=1")
    return llmchat.store(fresh_postgres(request.getfixturevalue("postgres_url")) + "?lease=1")


def test_fifty_chats_through_rq_each_answered_exactly_once(any_store, server, rq_queue):
    server.default = Reply(text=["An ", "answer."], delay=0.01)
    chats = []
    for n in range(50):
        chat = _chat(any_store, server)
        chat.add_message("user", f"Question {n}")
        chat.complete_later()
        chat.complete_later()                         # delivered twice: still one answer
        chats.append(chat)
    workers = [_worker(rq_queue) for _ in range(4)]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all(_answered(any_store, c) for c in chats):
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        for worker in workers:
            _stop(worker)
    assert len(server.requests) == 50
    for n, chat in enumerate(chats):
        assert [(m.role, m.content, m.status) for m in any_store.load_chat(chat.id).messages] == [
            ("user", f"Question {n}", "complete"), ("assistant", "An answer.", "complete")]


def test_a_worker_killed_mid_answer_leaves_the_partial_answer_and_a_retry_completes_it(store, server, rq_queue):
    chat = _chat(store, server)
    chat.add_message("user", "Tell me a story")
    server.queue(Reply(text=[f"part{i} " for i in range(200)], delay=0.02),
                 Reply(text=["A whole ", "story."]))
    worker = _worker(rq_queue)
    try:
        chat.complete_later()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (store.snapshot(chat.id).messages[-1].get("content") or "").count(
                "part"):
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        _stop(worker)                               # SIGKILL, worker and work horse
    partial = store.snapshot(chat.id).messages[-1]
    assert partial["role"] == "assistant" and partial["content"].startswith("part0 part1 ")
    time.sleep(store.lease + 0.3)
    interrupted = store.load_chat(chat.id).messages[-1]
    assert interrupted.status == "incomplete" and type(interrupted.error).__name__ == "WorkerLostError"
    assert interrupted.content == partial["content"]           # what was flushed stays
    worker = _worker(rq_queue)
    try:
        store.load_chat(chat.id).complete_later()               # asked again: replaced by a fresh attempt
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _answered(store, chat):
            time.sleep(0.1)
    finally:
        _stop(worker)
    assert [(m.role, m.content, m.status) for m in store.load_chat(chat.id).messages] == [
        ("user", "Tell me a story", "complete"), ("assistant", "A whole story.", "complete")]


def test_cancel_stops_a_job_in_an_rq_worker_process_within_a_second(store, server, rq_queue):
    chat = _chat(store, server)
    chat.add_message("user", "A long one")
    server.queue(Reply(text=["word "] * 1000, delay=0.02))
    worker = _worker(rq_queue)
    try:
        chat.complete_later()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _streaming(store, chat):
            time.sleep(0.05)
        started = time.monotonic()
        chat.cancel()
        while time.monotonic() - started < 5 and store.snapshot(chat.id).messages[-1]["status"] == "streaming":
            time.sleep(0.02)
        stopped = time.monotonic() - started
    finally:
        _stop(worker)
    last = store.load_chat(chat.id).messages[-1]
    assert stopped < 1.0, stopped
    assert last.status == "incomplete" and type(last.error).__name__ == "CancelledError"
    assert 0 < last.content.count("word") < 1000
