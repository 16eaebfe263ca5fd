"""examples/sse_flask.py on a real WSGI server (gunicorn gthread), loaded by a real headless Chromium."""

from __future__ import annotations

import sys
import time

import pytest
from browser import ROOT, browser, free_port, need, need_program, page, serve  # noqa: F401

from llmchat.testing import Reply

RATE_LIMIT = {"type": "rate_limit_error", "message": "slow down, please"}
WORDS = [f"word{i} " for i in range(30)]


@pytest.fixture
def flask_app(server):
    """The Flask example under gunicorn (gthread), its chats talking to the loopback provider ``server``."""
    need("flask")
    gunicorn = need_program("gunicorn")
    port = free_port()
    command = [gunicorn, "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
               "--chdir", str(ROOT / "examples"), "--graceful-timeout", "2", "sse_flask:create_app()"]
    with serve(command, port=port, env={"LLMCHAT_EXAMPLE_BASE_URL": server.url("chat_completions")}) as root:
        yield root


def ask(page, root, prompt="Tell me a story"):   # noqa: F811
    page.goto(root + "/")
    page.fill("input[name=prompt]", prompt)
    page.click("button")


def test_the_answer_appears_piece_by_piece_and_complete_closes_the_event_source(server, flask_app, page):  # noqa: F811
    server.queue(Reply(text=WORDS, delay=0.05))
    ask(page, flask_app)
    page.wait_for_function("document.getElementById('output').textContent.length > 0")
    shown = page.text_content("#output")
    request = server.requests[0]
    assert not request.done.is_set(), "the first piece must show while the provider is still streaming"
    assert 0 < len(shown) < len("".join(WORDS))
    page.wait_for_selector("body[data-state=complete]", timeout=10_000)
    assert page.text_content("#output") == "".join(WORDS)
    assert page.evaluate("window.eventSource.readyState") == 2          # EventSource.CLOSED
    assert page.evaluate("window.received.length") == len(WORDS)
    time.sleep(0.3)
    assert len(server.requests) == 1 and not request.client_closed     # no reconnect, no second answer


def test_a_mid_stream_rate_limit_shows_the_partial_answer_and_the_error(server, flask_app, page):  # noqa: F811
    server.queue(Reply(text=WORDS, error=RATE_LIMIT, error_after=3, delay=0.02))
    ask(page, flask_app)
    page.wait_for_selector("body[data-state=error]", timeout=10_000)
    assert page.text_content("#output") == "".join(WORDS[:3])
    error = page.text_content("#error")
    assert error.startswith("RateLimitError: ") and "slow down" in error
    assert len(server.requests) == 1


def test_closing_the_page_closes_the_provider_connection(server, flask_app, page):  # noqa: F811
    server.queue(Reply(text=[f"w{i} " for i in range(400)], delay=0.05))
    ask(page, flask_app)
    page.wait_for_function("document.getElementById('output').textContent.length > 0")
    closed = time.monotonic()
    page.close()
    request = server.wait_for(1, timeout=5.0)[0]
    assert request.client_closed, "the provider server must see the client close"
    assert time.monotonic() - closed < 2.0


def test_html_in_the_answer_is_text(server, flask_app, page):  # noqa: F811
    text = ["<img src=x onerror=window.pwned=1>", "</script>", " ü\n"]
    server.queue(Reply(text=text))
    ask(page, flask_app)
    page.wait_for_selector("body[data-state=complete]", timeout=10_000)
    assert page.text_content("#output") == "".join(text)
    assert page.evaluate("window.pwned === undefined")


if sys.platform != "linux":     # gunicorn is POSIX only
    pytestmark = pytest.mark.skip("gunicorn needs a POSIX system")
