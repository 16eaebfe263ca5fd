"""Live pages in a real headless Chromium running the real Turbo and htmx against the example app.

The app runs in a real threaded WSGI server on a loopback port; answers come from the bundled
provider server, streamed slowly so the page can be watched (and cut) mid-answer.
"""

from __future__ import annotations

import pathlib
import sys
import threading
import time

import pytest
from browser import browser  # noqa: F401

import llmchat
from llmchat.testing import Reply

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "web_chat"))

WORDS = [f"w{i} " for i in range(40)]
FULL = "".join(WORDS)
PAGES = ["", "/htmx2", "/htmx4"]


class Site:
    def __init__(self, server, store, app) -> None:
        from werkzeug.serving import make_server

        self.server, self.store, self.app = server, store, app
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def faults(self):
        return self.app.extensions["faults"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site(server, tmp_path):
    pytest.importorskip("flask")
    from app import create_app, offline_arguments

    store = llmchat.store(f"sqlite:///{tmp_path}/chats.db")
    app = create_app(store, offline_arguments(server), heartbeat=0.5, idle=5.0)
    site = Site(server, store, app)
    yield site
    site.close()
    store.close()


@pytest.fixture
def tab(browser):  # noqa: F811
    context = browser.new_context()
    yield context
    context.close()


def content(page, message_id: str) -> str:
    return page.locator(f"#message_{message_id}_content").inner_text(timeout=5000)


def wait_for_text(page, selector: str, text: str, timeout: float = 15.0) -> None:
    page.wait_for_function("([s, t]) => { const e = document.querySelector(s); return e && e.textContent === t }",
                           arg=[selector, text], timeout=timeout * 1000)


def start_answer(site, tab, path: str, reply: Reply, prompt: str = "Tell me"):
    from app import offline_arguments

    site.server.queue(reply)
    chat_id = site.store.create_chat(**offline_arguments(site.server)).id
    page = tab.new_page()
    page.goto(f"{site.url}/chats/{chat_id}{path}")
    page.wait_for_timeout(300)     # the subscription is open
    page.fill("#content", prompt)
    page.click("button[type=submit]")
    return chat_id, page


def message_id(site, chat_id: str, n: int = 2, timeout: float = 10.0) -> str:
    """The id of the chat's ``n``-th message (1-based), once it is stored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = site.store.snapshot(chat_id).messages
        if len(messages) >= n:
            return messages[n - 1]["id"]
        time.sleep(0.02)
    raise AssertionError(f"chat {chat_id} has no message {n}")


@pytest.mark.parametrize("path", PAGES, ids=["turbo", "htmx2", "htmx4"])
def test_answer_appears_piece_by_piece(site, tab, path):
    chat_id, page = start_answer(site, tab, path, Reply(text=WORDS, delay=0.05))
    mid = message_id(site, chat_id)
    page.wait_for_selector(f"#message_{mid}_content", timeout=10000)
    seen = set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = content(page, mid)
        seen.add(text)
        if text == FULL.strip() or text == FULL:
            break
        time.sleep(0.05)
    wait_for_text(page, f"#message_{mid}_content", FULL)
    assert len([t for t in seen if t and t != FULL]) >= 3      # partial states were shown
    assert page.locator(f"#message_{message_id(site, chat_id, 1)}_content").inner_text() == "Tell me"
    assert page.locator(".message").count() == 2


@pytest.mark.parametrize("path", PAGES, ids=["turbo", "htmx2", "htmx4"])
def test_second_tab_mid_answer_shows_the_whole_answer_once(site, tab, path):
    chat_id, first = start_answer(site, tab, path, Reply(text=WORDS, delay=0.05))
    mid = message_id(site, chat_id)
    first.wait_for_function(f"() => (document.querySelector('#message_{mid}_content')||{{}}).textContent?.length > 20")
    second = tab.new_page()
    second.goto(f"{site.url}/chats/{chat_id}{path}")
    for page in (first, second):
        wait_for_text(page, f"#message_{mid}_content", FULL)
        assert page.locator(".message").count() == 2


@pytest.mark.parametrize("path", PAGES, ids=["turbo", "htmx2", "htmx4"])
@pytest.mark.parametrize("fail", [0, 1], ids=["cut", "cut+503"])
def test_connection_cut_mid_answer_resumes_without_gap_or_duplicate(site, tab, path, fail):
    chat_id, page = start_answer(site, tab, path, Reply(text=WORDS, delay=0.05))
    mid = message_id(site, chat_id)
    page.wait_for_function(f"() => (document.querySelector('#message_{mid}_content')||{{}}).textContent?.length > 10")
    before = site.faults.connections
    site.faults.cut(fail_next=fail)
    assert FULL not in (site.store.snapshot(chat_id).messages[-1]["content"] or "")     # cut mid-answer
    wait_for_text(page, f"#message_{mid}_content", FULL, timeout=20)
    assert page.locator(".message").count() == 2
    assert site.faults.fail == 0 and site.faults.connections >= before + 1 + fail   # it came back


@pytest.mark.parametrize("path", PAGES, ids=["turbo", "htmx2", "htmx4"])
def test_two_answers_in_a_row(site, tab, path):
    chat_id, page = start_answer(site, tab, path, Reply(text=WORDS[:10], delay=0.02))
    wait_for_text(page, f"#message_{message_id(site, chat_id)}_content", "".join(WORDS[:10]))
    # the first answer has ended (see test_live_store: a message added while an answer's last events are
    # still unflushed gets a position the answer already used)
    page.wait_for_function("() => !document.querySelector('#messages .status')", timeout=10000)
    site.server.queue(Reply(text=WORDS[10:20], delay=0.02))
    page.fill("#content", "More")
    page.click("button[type=submit]")
    wait_for_text(page, f"#message_{message_id(site, chat_id, 4)}_content", "".join(WORDS[10:20]))
    assert page.locator(".message").count() == 4
    assert page.locator(f"#message_{message_id(site, chat_id, 3)}_content").inner_text() == "More"


@pytest.mark.parametrize("path", PAGES, ids=["turbo", "htmx2", "htmx4"])
def test_error_mid_answer_shows_the_partial_answer_and_the_error(site, tab, path):
    reply = Reply(text=WORDS[:12], delay=0.02, error={"type": "rate_limit_error", "message": "Slow down"},
                  error_after=6)
    chat_id, page = start_answer(site, tab, path, reply)
    mid = message_id(site, chat_id)
    page.wait_for_selector(f"#message_{mid} .status.incomplete", timeout=10000)
    assert content(page, mid) == "".join(WORDS[:6])
    assert page.locator(f"#message_{mid} .status").inner_text() == "incomplete"
    assert "RateLimitError" in page.locator(f"#message_{mid}").inner_text()
    assert page.locator("#messages").inner_text().count("RateLimitError") == 1     # shown once
    stored = site.store.load_chat(chat_id).messages[-1]
    assert stored.status == "incomplete" and stored.content == "".join(WORDS[:6])
    assert "RateLimitError" in str(stored.error) or type(stored.error).__name__ == "RateLimitError"


@pytest.mark.parametrize("path", PAGES, ids=["turbo", "htmx2", "htmx4"])
def test_browser_offline_while_the_connection_drops_then_online_again(site, tab, path):
    chat_id, page = start_answer(site, tab, path, Reply(text=WORDS, delay=0.05))
    mid = message_id(site, chat_id)
    page.wait_for_function(f"() => (document.querySelector('#message_{mid}_content')||{{}}).textContent?.length > 10")
    before = site.faults.connections
    tab.set_offline(True)         # Chromium keeps open streams in offline mode: the server drops them too
    site.faults.cut()
    page.wait_for_timeout(1500)   # reconnects fail while offline
    shown = content(page, mid)
    tab.set_offline(False)
    assert shown != FULL
    wait_for_text(page, f"#message_{mid}_content", FULL, timeout=20)
    assert page.locator(".message").count() == 2
    assert site.faults.connections > before
