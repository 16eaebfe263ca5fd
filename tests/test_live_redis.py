"""Live pages across processes: gunicorn web workers, RQ worker processes, a real redis-server.

The store is a SQLite file both sides open; the jobs go through RQ; the broadcast goes through
Redis Streams (``LLMCHAT_BROADCAST``). The browser runs the real Turbo and htmx.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import requests
from browser import browser, free_port  # noqa: F401

from llmchat.testing import Reply

ROOT = pathlib.Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "web_chat"
BIN = pathlib.Path(sys.executable).parent
WORDS = [f"r{i} " for i in range(40)]
FULL = "".join(WORDS)


def _children(pid: int) -> list[int]:
    out = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


@pytest.fixture
def deployment(redis_url, server, tmp_path):
    for tool in ("gunicorn", "rq"):
        if not (BIN / tool).exists():
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"{tool} is required in CI")
            pytest.skip(f"{tool} is not installed")
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    env = {**os.environ, "LLMCHAT_STORE": f"sqlite:///{tmp_path}/chats.db", "LLMCHAT_QUEUE": redis_url,
           "LLMCHAT_BROADCAST": redis_url, "OPENAI_API_KEY": "offline", "WEB_CHAT_HEARTBEAT": "0.5",
           "WEB_CHAT_PROVIDER_URL": server.url("chat_completions"), "PYTHONPATH": f"{ROOT}:{APP}"}
    web = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-k", "gthread", "--threads", "16", "-b",
                            f"127.0.0.1:{port}", "--graceful-timeout", "1", "app:from_environment()"],
                           cwd=APP, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(BIN / "rq"), "worker", "--url", redis_url, "llmchat"], cwd=ROOT, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            break
        except requests.RequestException:
            time.sleep(0.1)
    try:
        yield url, web, redis.Redis.from_url(redis_url)
    finally:
        _kill_group(web)
        _kill_group(worker)


def _content(page, role: str = "assistant") -> str:
    return page.evaluate(f"() => (document.querySelector('#messages .message.{role} .content') || {{}}).textContent")


def _wait_full(page, text: str, timeout: float = 30.0) -> None:
    page.wait_for_function(
        "t => { const e = document.querySelector('#messages .message.assistant .content');"
        " return e && e.textContent === t }",
        arg=text, timeout=timeout * 1000)


@pytest.mark.parametrize("path", ["", "/htmx2", "/htmx4"], ids=["turbo", "htmx2", "htmx4"])
def test_web_workers_killed_mid_answer_pages_resume_over_redis(deployment, server, browser, path):  # noqa: F811
    url, web, client = deployment
    server.queue(Reply(text=WORDS, delay=0.05))
    context = browser.new_context()
    try:
        first = context.new_page()
        streams = []
        first.on("request", lambda request: streams.append(request.url) if "/stream" in request.url else None)
        first.goto(url + "/")
        first.click("button")                                     # New chat
        first.wait_for_url("**/chats/*")
        chat_url = first.url
        chat_id = chat_url.rsplit("/", 1)[1]
        if path:
            first.goto(chat_url + path)
        first.wait_for_timeout(300)
        first.fill("#content", "Tell me")
        first.click("button[type=submit]")
        first.wait_for_function("() => ((document.querySelector('#messages .message.assistant .content') || {})"
                                ".textContent || '').length > 12", timeout=20000)
        second = context.new_page()                               # a second tab, mid-answer
        second.goto(chat_url + path)
        opened = len(streams)
        for pid in _children(web.pid):                            # every web worker dies; gunicorn starts new ones
            os.kill(pid, signal.SIGKILL)
        assert _content(first) != FULL
        for page in (first, second):
            _wait_full(page, FULL)
            assert page.locator("#messages .message").count() == 2
            assert _content(page, "user") == "Tell me"
        assert len(streams) > opened                              # the first tab reconnected
        assert client.xlen(f"llmchat:chat:{chat_id}:events") > len(WORDS)   # the events went through Redis
    finally:
        context.close()


def test_error_mid_answer_over_redis(deployment, server, browser):  # noqa: F811
    url, _, _ = deployment
    server.queue(Reply(text=WORDS[:10], delay=0.03, error={"type": "overloaded_error", "message": "Busy"},
                       error_after=5))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url + "/")
        page.click("button")
        page.wait_for_url("**/chats/*")
        page.wait_for_timeout(300)
        page.fill("#content", "Tell me")
        page.click("button[type=submit]")
        page.wait_for_selector("#messages .message.assistant .status.incomplete", timeout=20000)
        assert _content(page) == "".join(WORDS[:5])
        assert "OverloadedError" in page.locator("#messages .message.assistant").inner_text()
    finally:
        context.close()
