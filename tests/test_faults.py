"""Retries over real HTTP on every protocol: only while nothing was delivered, with backoff and Retry-After."""

from __future__ import annotations

import email.utils
import socket
import threading
import time

import pytest
from wire_streams import chat_at

import llmchat
from llmchat.streaming import retry_delay
from llmchat.testing import Reply
from llmchat.transport import retry_after

STORY = ["Once", " upon", " a time"]


def texts(seen):
    return [c.content for c in seen if c.content]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 529])
def test_a_failed_request_is_retried_and_the_answer_streams_once(server, make_chat, protocol, status):
    server.queue(Reply(status=status), Reply(text=STORY))
    chat = make_chat(protocol, max_retries=2)
    seen = []
    reply = chat.ask("story", on_chunk=seen.append)
    assert texts(seen) == STORY and reply.content == "Once upon a time" and reply.complete
    first, second = server.wait_for(2)
    assert first.body == second.body                        # the same request, sent again
    assert [(m.role, m.status) for m in chat.messages] == [("user", "complete"), ("assistant", "complete")]


def test_a_connection_broken_before_any_content_is_retried(server, make_chat, protocol):
    server.queue(Reply(text=STORY, cut_after=0), Reply(text=["fine"]))
    chat = make_chat(protocol, max_retries=1)
    assert chat.ask("x").content == "fine"
    assert len(server.wait_for(2)) == 2


def test_a_refused_connection_is_a_connection_error_after_the_retries(protocol):
    with socket.socket() as probe:                          # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chat = chat_at(f"http://127.0.0.1:{port}/v1", protocol, max_retries=2, retry_interval=0.01)
    started = time.monotonic()
    with pytest.raises(llmchat.ConnectionError) as info:
        chat.ask("x")
    assert isinstance(info.value, ConnectionError) and "could not connect" in str(info.value)
    assert time.monotonic() - started < 3
    assert chat.messages[-1].status == "incomplete" and info.value.partial == ""


def test_an_error_event_before_any_content_is_retried_exactly_once(server, make_chat, protocol):
    server.queue(Reply(text=STORY, error={"type": "overloaded_error", "message": "busy"}, error_after=0),
                 Reply(text=["fine"]))
    chat = make_chat(protocol, max_retries=3)
    seen = []
    assert chat.ask("x", on_chunk=seen.append).content == "fine"
    assert texts(seen) == ["fine"]
    assert len(server.wait_for(2)) == 2


@pytest.mark.parametrize("fault", [
    {"error": {"type": "overloaded_error", "message": "busy"}, "error_after": 1},
    {"error": {"type": "rate_limit_error", "message": "slow down"}, "error_after": 2},
    {"cut_after": 1},
])
def test_nothing_is_retried_once_a_chunk_was_delivered(server, make_chat, protocol, fault):
    server.queue(Reply(text=STORY, **fault), Reply(text=["NEVER SENT"]))
    chat = make_chat(protocol, max_retries=3)
    seen = []
    with pytest.raises(llmchat.Error) as info:
        chat.ask("x", on_chunk=seen.append)
    delivered = "".join(texts(seen))
    assert delivered == "".join(STORY[: fault.get("error_after", 1)])     # each chunk exactly once
    assert info.value.partial == delivered == chat.messages[-1].content
    assert chat.messages[-1].status == "incomplete" and info.value.partial_message is chat.messages[-1]
    time.sleep(0.05)
    assert len(server.requests) == 1                        # exactly one request


def test_the_retry_count_is_honoured(server, make_chat, protocol):
    server.queue(*[Reply(status=503) for _ in range(5)])
    chat = make_chat(protocol, max_retries=2)
    with pytest.raises(llmchat.ServiceUnavailableError):
        chat.ask("x")
    time.sleep(0.05)
    assert len(server.requests) == 3


@pytest.mark.parametrize("reply", [
    Reply(status=401), Reply(status=403), Reply(status=404), Reply(status=400),
    Reply(status=400, body={"type": "error", "error": {"type": "invalid_request_error",
                                                       "message": "prompt is too long: 300000 tokens"}}),
    Reply(text=STORY, error={"type": "authentication_error", "message": "bad key"}, error_after=0),
], ids=["401", "403", "404", "400", "context", "auth-event"])
def test_auth_request_and_context_errors_are_never_retried(server, make_chat, protocol, reply):
    server.queue(reply, Reply(text=["NEVER SENT"]))
    chat = make_chat(protocol, max_retries=3)
    with pytest.raises(llmchat.APIError) as info:
        chat.ask("x")
    assert not isinstance(info.value, (llmchat.RateLimitError, llmchat.ServerError))
    time.sleep(0.05)
    assert len(server.requests) == 1


def test_retry_after_is_honoured(server, make_chat, protocol):
    server.queue(Reply(status=429, headers={"retry-after": "0.3"}), Reply(text=["ok"]))
    chat = make_chat(protocol, max_retries=1, retry_interval=0.001)
    started = time.monotonic()
    assert chat.ask("x").content == "ok"
    assert 0.25 <= time.monotonic() - started < 2.5


@pytest.mark.parametrize("headers", [
    {"retry-after-ms": "300"},
    {"x-ratelimit-reset-requests": "300ms", "x-ratelimit-remaining-requests": "0",
     "x-ratelimit-reset-tokens": "0.05s"},
], ids=["retry-after-ms", "x-ratelimit-reset"])
def test_other_wait_headers_are_honoured(server, make_chat, headers):
    server.queue(Reply(status=429, headers=headers), Reply(text=["ok"]))
    chat = make_chat("chat_completions", max_retries=1, retry_interval=0.001)
    started = time.monotonic()
    assert chat.ask("x").content == "ok"
    assert 0.25 <= time.monotonic() - started < 2.5


@pytest.mark.parametrize("wait", ["30", "date"])
def test_a_wait_longer_than_retry_max_interval_fails_at_once(server, make_chat, protocol, wait):
    if wait == "date":
        wait = email.utils.formatdate(time.time() + 3600, usegmt=True)
    server.queue(Reply(status=429, headers={"retry-after": wait}), Reply(text=["NEVER SENT"]))
    chat = make_chat(protocol, max_retries=3, retry_max_interval=5)
    started = time.monotonic()
    with pytest.raises(llmchat.RateLimitError) as info:
        chat.ask("x")
    assert time.monotonic() - started < 1.0
    assert info.value.retry_after > 5 and len(server.requests) == 1


def test_backoff_grows_exponentially_with_jitter_and_is_capped(server, make_chat):
    chat = make_chat("chat_completions", max_retries=10, retry_interval=1.0, retry_backoff_factor=2,
                     retry_max_interval=5)
    error = llmchat.ServerError("boom", status_code=500)
    for attempt, (low, high) in enumerate([(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.5, 5.0), (2.5, 5.0)]):
        waits = {retry_delay(chat, error, attempt) for _ in range(50)}
        assert all(low <= w <= high for w in waits) and len(waits) > 1        # jittered, within bounds
    assert retry_delay(chat, error, 10) is None                                # retries used up
    assert retry_delay(chat, llmchat.BadRequestError("no"), 0) is None         # never retried
    assert retry_delay(chat, llmchat.RateLimitError("x", retry_after=3.0), 0) >= 3.0


def test_backoff_waits_between_attempts(server, make_chat):
    server.queue(Reply(status=500), Reply(status=500), Reply(text=["ok"]))
    chat = make_chat("anthropic_messages", max_retries=2, retry_interval=0.2, retry_backoff_factor=2)
    started = time.monotonic()
    assert chat.ask("x").content == "ok"
    assert time.monotonic() - started >= 0.2 * 0.5 + 0.4 * 0.5 - 0.02      # half of each interval at least


def test_retry_settings_come_from_configure_and_per_chat(server, protocol):
    llmchat.configure(max_retries=1, retry_interval=0.01)
    try:
        server.queue(Reply(status=500), Reply(text=["ok"]), Reply(status=500), Reply(text=["NEVER"]))
        assert chat_at(server.url(protocol), protocol).ask("x").content == "ok"
        with pytest.raises(llmchat.ServerError):
            chat_at(server.url(protocol), protocol, max_retries=0).ask("x")
    finally:
        llmchat.configure(max_retries=None, retry_interval=None)
    assert len(server.requests) == 3


def test_cancel_during_a_retry_wait_stops_promptly(server, make_chat, protocol):
    server.queue(Reply(status=503, headers={"retry-after": "10"}), Reply(text=["NEVER SENT"]))
    chat = make_chat(protocol, max_retries=2, retry_max_interval=30)
    threading.Timer(0.3, chat.cancel).start()
    started = time.monotonic()
    with pytest.raises(llmchat.CancelledError, match="waiting to retry"):
        chat.ask("x")
    assert time.monotonic() - started < 2
    assert len(server.requests) == 1 and chat.messages[-1].status == "incomplete"


def test_retry_after_header_forms():
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= retry_after({"Retry-After": soon}) <= 30
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0       # in the past: now
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"x-ratelimit-reset-tokens": "6m0s"}) == 360.0
    assert retry_after({"x-ratelimit-reset-tokens": "6m0s"}, resets=False) is None   # not a 429
