"""llmchat.sse without any framework: the event encoding, and bodies over real HTTP to the loopback server."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from browser import run_async
from sse_client import parse, text_of

import llmchat
from llmchat import sse
from llmchat.testing import Call, Reply

RATE_LIMIT = {"type": "rate_limit_error", "message": "slow down, please"}


# --------------------------------------------------------------------------- encoding (pure)

@pytest.mark.parametrize("text", [
    "plain", "two\nlines", "cr\ronly", "crlf\r\nend", "\n\n\n", "trailing\n", "\r", "",
    "Grüße, 你好, 🙂", "</script><script>alert(1)</script>", "data: fake\n\nevent: error\n\n",
    "x" * 200_000, "nul\0char", "\u2028\u2029 separators",
])
def test_a_json_string_event_round_trips_through_a_spec_reader(text):
    body = sse.encode(json.dumps(text, ensure_ascii=False), id=3)
    events, comments = parse(body)
    assert [(e.event, e.id, e.json()) for e in events] == [("message", "3", text)] and comments == 0
    assert body.count(b"\n\n") == 1 and body.endswith(b"\n\n")


@pytest.mark.parametrize("text", ["a\nb", "a\rb", "a\r\nb", "\n", "a\n\nb", "", "ü\r\n"])
def test_raw_data_lines_are_split_at_every_line_break(text):
    events, _ = parse(sse.encode(text, event="raw"))
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    if text == "":
        assert sse.encode(text) == b"data: \n\n"
    else:
        assert [(e.event, e.data) for e in events] == [("raw", expected)]


def test_event_names_and_ids_cannot_smuggle_lines():
    with pytest.raises(llmchat.ConfigurationError, match="line break"):
        sse.encode("x", event="a\nb")
    with pytest.raises(ValueError, match="line break"):
        sse.encode("x", id="1\r2")


def test_comments_are_ignored_by_readers():
    events, comments = parse(sse.comment("one\ntwo") + sse.encode('"x"'))
    assert comments == 2 and [e.json() for e in events] == ["x"]


def test_headers_stop_buffering_and_hold_no_hop_by_hop_header():
    names = {k.lower() for k in sse.HEADERS}
    assert sse.HEADERS["Content-Type"].startswith("text/event-stream")
    assert "no-cache" in sse.HEADERS["Cache-Control"] and sse.HEADERS["X-Accel-Buffering"] == "no"
    assert not names & {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer"}


def test_importing_sse_loads_no_framework():
    import subprocess
    import sys

    code = ("import sys, llmchat, llmchat.sse; "
            "print(sorted(m for m in ('flask', 'django', 'starlette', 'fastapi', 'werkzeug') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- bodies over real HTTP

def test_each_chunk_is_one_event_then_complete(server, make_chat, protocol):
    pieces = ["Hel", "lo\n", "", "wörld </script>", "\r\n"]
    server.reply(*pieces)
    chat = make_chat(protocol)
    events, _ = parse(sse.stream(chat, "Hi"))
    assert text_of(events) == "Hello\nwörld </script>\r\n"
    assert events[-1].event == "complete"
    done = events[-1].json()
    assert done["content"] == "Hello\nwörld </script>\r\n" and done["output_tokens"] == len(pieces)
    assert [e.id for e in events] == [str(i) for i in range(1, len(events) + 1)]
    assert [m.role for m in chat.messages] == ["user", "assistant"] and chat.messages[-1].complete
    assert chat._listeners == []


def test_a_mid_stream_error_sends_the_partial_answer(server, make_chat):
    server.queue(Reply(text=["Hel", "lo", " never"], error=RATE_LIMIT, error_after=2))
    chat = make_chat("anthropic_messages")
    events, _ = parse(sse.stream(chat, "Hi"))
    assert text_of(events) == "Hello"
    assert events[-1].event == "error"
    assert events[-1].json() == {"error": events[-1].json()["error"], "type": "RateLimitError", "partial": "Hello"}
    assert "slow down" in events[-1].json()["error"]
    assert chat.messages[-1].content == "Hello" and chat.messages[-1].status == "incomplete"
    assert "sk-test-SECRET" not in events[-1].data


def test_an_http_error_before_any_chunk_is_an_error_event(server, make_chat):
    server.queue(Reply(status=401))
    events, _ = parse(sse.stream(make_chat("chat_completions"), "Hi"))
    assert [e.event for e in events] == ["error"]
    assert events[0].json()["type"] == "UnauthorizedError" and events[0].json()["partial"] == ""


def test_thinking_and_tools_are_named_events(server, make_chat):
    @llmchat.tool
    def weather(city: str) -> str:
        """Current weather.

        Args:
            city: The city.
        """
        return f"15°C in {city}"

    server.queue(Reply(thinking=["Hm", "m"], tool_calls=[Call("weather", {"city": "Berlin"}, id="toolu_1")]),
                 Reply(text=["Sunny"]))
    chat = make_chat("anthropic_messages").with_tool(weather)
    events, _ = parse(sse.stream(chat, "Weather?"))
    named = [(e.event, e.json()) for e in events if e.event != "complete"]
    assert named == [
        ("thinking", "Hm"), ("thinking", "m"),
        ("tool_call", {"id": "toolu_1", "name": "weather", "arguments": {"city": "Berlin"}}),
        ("tool_result", {"tool_call_id": "toolu_1", "content": "15°C in Berlin"}),
        ("message", "Sunny"),
    ]


def test_a_failing_tool_is_an_error_event_without_its_message(server, make_chat, caplog):
    @llmchat.tool
    def lookup(key: str) -> str:
        """Look a key up.

        Args:
            key: The key.
        """
        raise KeyError("postgres://admin:hunter2@db/internal")

    server.queue(Reply(text=["Let me look. "], tool_calls=[Call("lookup", {"key": "k"})]))
    chat = make_chat("chat_completions").with_tool(lookup)
    events, _ = parse(sse.stream(chat, "Look it up"))
    assert text_of(events) == "Let me look. " and [e.event for e in events][-2:] == ["tool_call", "error"]
    assert events[-1].json() == {"error": "the answer failed on the server", "type": "KeyError",
                                  "partial": "Let me look. "}
    assert "hunter2" not in events[-1].data and "hunter2" in caplog.text


def test_heartbeats_while_the_provider_is_silent(server, make_chat):
    server.queue(Reply(text=["late"], stall_after=0, stall=0.35))
    body = list(sse.stream(make_chat("chat_completions"), "Hi", heartbeat=0.1))
    events, comments = parse(body)
    assert comments >= 2 and text_of(events) == "late"
    assert body[0] == b": keep-alive\n\n"


def test_closing_the_body_cancels_the_chat_and_closes_the_provider_connection(server, make_chat):
    server.queue(Reply(text=[f"w{i} " for i in range(200)], delay=0.02))
    chat = make_chat("chat_completions")
    body = sse.stream(chat, "Hi")
    first = next(body)
    assert b"w0" in first
    started = time.monotonic()
    body.close()                         # what a WSGI server does when the client has gone
    request = server.wait_for(1, timeout=1.0)[0]
    assert time.monotonic() - started < 1.0 and request.client_closed
    answer = chat.messages[-1]
    assert answer.status == "incomplete" and isinstance(answer.error, llmchat.CancelledError)
    assert answer.content.startswith("w0 ") and len(answer.content) < 200 * 4
    assert chat._listeners == []


def test_a_client_leaving_during_a_slow_tool_ends_the_answer_without_another_request(server, make_chat):
    running = threading.Event()

    @llmchat.tool
    def slow(key: str) -> str:
        """Slow.

        Args:
            key: A key.
        """
        running.set()
        time.sleep(0.3)
        return "done"

    server.queue(Reply(tool_calls=[Call("slow", {"key": "k"})]), Reply(text=["never sent"]))
    chat = make_chat("chat_completions").with_tool(slow)
    body = sse.stream(chat, "Go", heartbeat=0.05)
    parts = []
    while not running.is_set() or b"event: tool_call" not in b"".join(parts):
        parts.append(next(body))
    body.close()
    assert len(server.requests) == 1 and [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant"]
    assert isinstance(chat.messages[-1].error, llmchat.CancelledError) and chat._listeners == []


def test_closing_before_the_first_read_sends_nothing(server, make_chat):
    chat = make_chat("chat_completions")
    body = sse.stream(chat, "Hi")
    body.close()
    assert server.requests == [] and chat._listeners == []


def test_a_body_without_prompt_answers_the_conversation(server, make_chat):
    server.reply("again")
    chat = make_chat("gemini")
    chat.add_message("user", "Hi")
    events, _ = parse(sse.stream(chat))
    assert text_of(events) == "again" and len(chat.messages) == 2


@pytest.mark.parametrize("heartbeat", [0, -1, "5", float("nan")])
def test_heartbeat_must_be_positive(make_chat, heartbeat):
    with pytest.raises(llmchat.ConfigurationError, match="heartbeat"):      # still a ValueError
        sse.stream(make_chat("chat_completions"), "Hi", heartbeat=heartbeat)


# --------------------------------------------------------------------------- the async body

def test_astream_gives_the_same_events(server, make_chat):
    server.queue(Reply(text=["a", "b\n"], stall_after=1, stall=0.25))

    async def read():
        return [part async for part in sse.astream(make_chat("responses"), "Hi", heartbeat=0.1)]

    events, comments = parse(run_async(read))
    assert text_of(events) == "ab\n" and events[-1].event == "complete" and comments >= 1


def test_cancelling_the_astream_task_cancels_the_chat(server, make_chat):
    server.queue(Reply(text=[f"w{i} " for i in range(200)], delay=0.02))
    chat = make_chat("chat_completions")
    seen = []

    async def read():
        async for part in sse.astream(chat, "Hi"):
            seen.append(part)

    async def main():
        task = asyncio.ensure_future(read())
        while not seen:
            await asyncio.sleep(0.01)
        task.cancel()                       # what Starlette does when the client disconnects
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic()

    cancelled = run_async(main)
    request = server.wait_for(1, timeout=1.0)[0]
    assert request.client_closed and time.monotonic() - cancelled < 1.0
    done = threading.Event()
    for _ in range(100):
        if chat.messages[-1].status == "incomplete" and not chat._listeners:
            done.set()
            break
        time.sleep(0.01)
    assert done.is_set() and isinstance(chat.messages[-1].error, llmchat.CancelledError)
