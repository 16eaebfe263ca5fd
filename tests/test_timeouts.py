"""Timeouts and cancellation over real HTTP on every protocol: prompt, partial answer kept, chat still usable."""

from __future__ import annotations

import builtins
import os
import signal
import threading
import time

import pytest

import llmchat
from llmchat.testing import Reply

STALLED = Reply(text=["first", " second", " third"], stall_after=1, stall=10.0)


def assert_stopped_with_partial(chat, server, error, partial="first"):
    message = chat.messages[-1]
    assert (message.role, message.status, message.content) == ("assistant", "incomplete", partial)
    if isinstance(error, llmchat.Error):
        assert error.partial == partial and error.partial_message is message
    assert message.error is error
    assert server.wait_for(1, timeout=5)[0].client_closed          # the connection was closed mid-reply


def assert_usable_after(chat, server, partial="first"):
    server.queue(Reply(text=["next answer"]))
    assert chat.ask("again").content == "next answer"
    sent = server.wait_for(len(server.requests))[-1].body
    assert partial not in str(sent)                                  # the partial answer is not resent
    assert [m.status for m in chat.messages] == ["complete", "incomplete", "complete", "complete"]


@pytest.mark.parametrize("close_delimited", [False, True])
def test_request_timeout_bounds_the_silence_between_bytes(server, make_chat, protocol, close_delimited):
    server.queue(Reply(text=["first", " second"], stall_after=1, stall=10.0, close_delimited=close_delimited))
    chat = make_chat(protocol, request_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(llmchat.TimeoutError) as info:
        chat.ask("x")
    assert 0.4 < time.monotonic() - started < 3
    assert isinstance(info.value, builtins.TimeoutError) and isinstance(info.value, llmchat.Error)
    assert_stopped_with_partial(chat, server, info.value)


def test_silence_before_the_first_byte_is_retried_then_a_timeout(server, make_chat, protocol):
    server.queue(Reply(text=["a"], stall_after=0, stall=10.0), Reply(text=["b"], stall_after=0, stall=10.0))
    chat = make_chat(protocol, request_timeout=0.3, max_retries=1)
    started = time.monotonic()
    with pytest.raises(llmchat.TimeoutError):
        chat.ask("x")
    assert time.monotonic() - started < 3 and len(server.requests) == 2


def test_total_timeout_bounds_a_stream_kept_alive_by_pings(server, make_chat, protocol):
    server.queue(Reply(text=[f"{n} " for n in range(100)], pings=True, delay=0.05))
    chat = make_chat(protocol, total_timeout=0.6, request_timeout=5)
    seen = []
    started = time.monotonic()
    with pytest.raises(llmchat.TimeoutError, match="total_timeout") as info:
        chat.ask("x", on_chunk=lambda c: seen.append(c.content or ""))
    assert 0.55 < time.monotonic() - started < 2
    assert isinstance(info.value, builtins.TimeoutError)
    assert info.value.partial == "".join(seen) == chat.messages[-1].content != ""
    assert server.wait_for(1, timeout=5)[0].client_closed


def test_total_timeout_includes_the_retry_waits(server, make_chat):
    server.queue(*[Reply(status=503, headers={"retry-after": "0.4"}) for _ in range(5)])
    chat = make_chat("chat_completions", total_timeout=0.6, max_retries=5)
    started = time.monotonic()
    with pytest.raises(llmchat.ServiceUnavailableError):
        chat.ask("x")
    assert time.monotonic() - started < 1.0 and len(server.requests) == 2


def test_cancel_from_another_thread(server, make_chat, protocol):
    server.queue(STALLED)
    chat = make_chat(protocol)
    ended = []
    chat.on_end_message(ended.append)
    first = threading.Event()
    threading.Thread(target=lambda: first.wait(5) and chat.cancel()).start()
    started = time.monotonic()
    with pytest.raises(llmchat.CancelledError) as info:
        chat.ask("x", on_chunk=lambda c: c.content and first.set())
    assert time.monotonic() - started < 2
    assert_stopped_with_partial(chat, server, info.value)
    assert ended == [chat.messages[-1]]
    assert_usable_after(chat, server)


def test_cancel_from_on_chunk(server, make_chat, protocol):
    server.queue(STALLED)
    chat = make_chat(protocol)
    ended = []
    chat.on_end_message(ended.append)
    with pytest.raises(llmchat.CancelledError) as info:
        chat.ask("x", on_chunk=lambda c: c.content and chat.cancel())
    assert_stopped_with_partial(chat, server, info.value)
    assert ended == [chat.messages[-1]] and ended[0].status == "incomplete"
    assert_usable_after(chat, server)


def test_no_chunk_after_cancel_even_when_more_events_came_in_the_same_read(server, make_chat, protocol):
    server.queue(Reply(text=[f"piece {n}. " for n in range(200)]))        # no split, no delay: one big write
    chat = make_chat(protocol)
    seen = []

    def on_chunk(chunk):
        seen.append(chunk)
        if chunk.content:
            chat.cancel()

    with pytest.raises(llmchat.CancelledError):
        chat.ask("x", on_chunk=on_chunk)
    assert [c.content for c in seen if c.content] == ["piece 0. "] and seen[-1].content == "piece 0. "
    assert chat.messages[-1].content == "piece 0. "


def test_cancel_while_iterating_the_stream(server, make_chat, protocol):
    server.queue(STALLED)
    chat = make_chat(protocol)
    got = []
    with pytest.raises(llmchat.CancelledError):
        for chunk in chat.stream("x"):
            got.append(chunk.content)
            chat.cancel()
    assert got == ["first"]
    assert_stopped_with_partial(chat, server, chat.messages[-1].error)


def test_keyboard_interrupt_in_on_chunk_closes_the_stream_and_reaches_the_caller(server, make_chat, protocol):
    server.queue(STALLED)
    chat = make_chat(protocol)
    ended = []
    chat.on_end_message(ended.append)

    def on_chunk(chunk):
        if chunk.content:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        chat.ask("x", on_chunk=on_chunk)
    assert_stopped_with_partial(chat, server, chat.messages[-1].error)
    assert isinstance(chat.messages[-1].error, KeyboardInterrupt) and ended == [chat.messages[-1]]
    assert_usable_after(chat, server)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_ctrl_c_while_waiting_for_bytes(server, make_chat, protocol):
    """A real SIGINT while the main thread blocks on the socket (the notebook/terminal case)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    server.queue(STALLED)
    chat = make_chat(protocol)
    first = threading.Event()

    def interrupt():
        if first.wait(5):
            time.sleep(0.2)                 # the main thread is now blocked in the stall
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        chat.ask("x", on_chunk=lambda c: c.content and first.set())
    assert time.monotonic() - started < 3
    assert_stopped_with_partial(chat, server, chat.messages[-1].error)
    assert_usable_after(chat, server)


def test_cancel_before_the_answer_starts_sends_nothing(server, make_chat):
    chat = make_chat("chat_completions")
    chat.on_new_message(chat.cancel)
    with pytest.raises(llmchat.CancelledError):
        chat.ask("x")
    assert server.requests == [] and chat.messages[-1].status == "incomplete"
