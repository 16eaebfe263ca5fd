"""llmchat.testing over real HTTP, checked with plain sockets and requests (not llmchat's core)."""

from __future__ import annotations

import doctest
import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import llmchat.testing
from llmchat.testing import Call, Reply, Server
from llmchat.testing import server as server_module
from llmchat.testing import types as types_module

PATHS = {"chat_completions": "/chat/completions", "responses": "/responses",
         "anthropic_messages": "/v1/messages", "gemini": "/models/gem-1:streamGenerateContent?alt=sse"}
PROTOCOLS = list(PATHS)
BODY = {"model": "m-1", "stream": True, "stream_options": {"include_usage": True}}


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


def post(server: Server, protocol: str, body: Any = None, **kwargs: Any) -> requests.Response:
    return requests.post(server.url(protocol) + PATHS[protocol], json=BODY if body is None else body,
                         timeout=5, **kwargs)


def sse(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) per SSE block; comment blocks come out as (":", comment)."""
    events = []
    for block in re.split(r"\r?\n\r?\n", text):
        lines = block.splitlines()
        if lines and all(line.startswith(":") for line in lines):
            events.append((":", block))
        elif lines:
            name = next((line[7:] for line in lines if line.startswith("event: ")), None)
            events.append((name, "\n".join(line[6:] for line in lines if line.startswith("data: "))))
    return events


def datas(text: str) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in sse(text) if data.startswith("{")]


def texts(protocol: str, text: str) -> list[str]:
    """The answer pieces of a stream, however the protocol carries them."""
    out = []
    for data in datas(text):
        if protocol == "chat_completions" and data.get("choices"):
            out.append(data["choices"][0]["delta"].get("content"))
        elif protocol == "responses" and data["type"] == "response.output_text.delta":
            out.append(data["delta"])
        elif protocol == "anthropic_messages" and data.get("delta", {}).get("type") == "text_delta":
            out.append(data["delta"]["text"])
        elif protocol == "gemini" and "candidates" in data:
            part = data["candidates"][0]["content"]["parts"][0]
            out.append(None if part.get("thought") else part.get("text"))
    return [piece for piece in out if piece]


def raw_body(server: Server, protocol: str, body: Any = None) -> bytes:
    """POST over a bare socket (Connection: close); the undecoded response body."""
    payload = json.dumps(BODY if body is None else body).encode()
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (PATHS[protocol].encode(), len(payload), payload))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.partition(b"\r\n\r\n")[2]


def dechunk(body: bytes) -> list[bytes]:
    chunks = []
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return chunks
        chunks.append(body[:size])
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_text_pieces_and_terminal_event(server: Server, protocol: str) -> None:
    server.reply("Hel", "lo ✓", thinking=["hm"])
    response = post(server, protocol)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    assert texts(protocol, response.text) == ["Hel", "lo ✓"]
    name, data = sse(response.text)[-1]
    last = {"chat_completions": lambda: data == "[DONE]",
            "anthropic_messages": lambda: name == "message_stop",
            "responses": lambda: json.loads(data)["response"]["status"] == "completed" == name[9:],
            "gemini": lambda: json.loads(data)["candidates"][0]["finishReason"] == "STOP"}
    assert last[protocol]()
    model = "gem-1" if protocol == "gemini" else "m-1"
    assert model in response.text
    if protocol == "gemini":
        assert response.text.endswith("}\r\n\r\n") and "\n\n" not in response.text.replace("\r\n\r\n", "")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_terminal_false_ends_after_content(server: Server, protocol: str) -> None:
    server.reply("a", "b", terminal=False)
    text = post(server, protocol).text
    assert texts(protocol, text) == ["a", "b"]
    assert "[DONE]" not in text and "message_stop" not in text and "response.completed" not in text
    assert "finishReason" not in text


def test_chat_usage_chunk_only_when_include_usage(server: Server) -> None:
    server.queue(Reply(text="x", input_tokens=7, output_tokens=3, reasoning_tokens=2), Reply(text="x"))
    with_usage = datas(post(server, "chat_completions").text)[-1]
    assert with_usage["choices"] == []
    assert with_usage["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10,
                                   "completion_tokens_details": {"reasoning_tokens": 2}}
    without = datas(post(server, "chat_completions", {"model": "m", "stream": True}).text)
    assert all("usage" not in chunk for chunk in without)
    assert without[-1]["choices"][0]["finish_reason"] == "stop"


def test_usage_in_other_protocols(server: Server) -> None:
    for _ in range(3):
        server.queue(Reply(text=["a", "b"], input_tokens=5, output_tokens=9, reasoning_tokens=4))
    anthropic = datas(post(server, "anthropic_messages").text)
    assert anthropic[0]["message"]["usage"]["input_tokens"] == 5
    assert anthropic[-2]["usage"] == {"output_tokens": 9}
    usage = datas(post(server, "gemini").text)[-1]["usageMetadata"]
    assert usage == {"promptTokenCount": 5, "candidatesTokenCount": 5, "thoughtsTokenCount": 4,
                     "totalTokenCount": 14}
    usage = datas(post(server, "responses").text)[-1]["response"]["usage"]
    assert (usage["output_tokens"], usage["output_tokens_details"]["reasoning_tokens"]) == (9, 4)


def test_tool_call_fragments(server: Server) -> None:
    calls = [Call("weather", {"city": "Berlin"}, pieces=3), Call("time", '{"tz": "Eu', id="mine")]
    for _ in range(3):
        server.queue(Reply(tool_calls=calls))
    chunks = [c["choices"][0] for c in datas(post(server, "chat_completions").text) if c["choices"]]
    deltas = [c["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["delta"]]
    assert [d.get("id") for d in deltas if "id" in d] == ["call_1", "mine"]
    first = [d["function"]["arguments"] for d in deltas if d["index"] == 0]
    assert first[0] == "" and len(first) == 4 and json.loads("".join(first)) == {"city": "Berlin"}
    assert "".join(d["function"]["arguments"] for d in deltas if d["index"] == 1) == '{"tz": "Eu'
    assert chunks[-1]["finish_reason"] == "tool_calls"
    events = datas(post(server, "anthropic_messages").text)
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [(s["type"], s["id"]) for s in starts] == [("tool_use", "toolu_1"), ("tool_use", "mine")]
    parts = [e["delta"]["partial_json"] for e in events if e.get("index") == 0 and "delta" in e]
    assert len(parts) == 3 and json.loads("".join(parts)) == {"city": "Berlin"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    events = datas(post(server, "responses").text)
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    assert [(i["id"], i["call_id"], i["name"]) for i in added] == [("fc_1", "call_2", "weather"),
                                                                   ("fc_2", "mine", "time")]
    args = [e["delta"] for e in events
            if e["type"] == "response.function_call_arguments.delta" and e["item_id"] == "fc_1"]
    assert len(args) == 3 and json.loads("".join(args)) == {"city": "Berlin"}


def test_gemini_function_calls_are_whole_and_id_less(server: Server) -> None:
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"}), Call("t", '{"x', id="c9")]))
    parts = [d["candidates"][0]["content"]["parts"][0] for d in datas(post(server, "gemini").text)]
    assert parts[0] == {"functionCall": {"name": "weather", "args": {"city": "Berlin"}},
                        "thoughtSignature": "c2lnbmF0dXJl"}
    assert parts[1]["functionCall"] == {"name": "t", "args": {"_raw": '{"x'}, "id": "c9"}


OPENAI_429 = {"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded", "param": None,
                        "code": "rate_limit_exceeded"}}
ERROR_SHAPES = {
    "chat_completions": OPENAI_429,
    "responses": OPENAI_429,
    "anthropic_messages": {"type": "error",
                           "error": {"type": "rate_limit_error", "message": "Rate limit reached"}},
    "gemini": {"error": {"code": 429, "message": "Rate limit reached", "status": "RESOURCE_EXHAUSTED"}},
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_http_error_status_headers_and_body(server: Server, protocol: str) -> None:
    server.queue(Reply(status=429, headers={"retry-after": "0"}), Reply(status=529, body={"custom": True}))
    response = post(server, protocol)
    assert (response.status_code, response.headers["retry-after"]) == (429, "0")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == ERROR_SHAPES[protocol]
    response = post(server, protocol)
    assert (response.status_code, response.reason, response.json()) == (529, "Overloaded", {"custom": True})


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_in_stream_error_after_pieces(server: Server, protocol: str) -> None:
    server.reply("a", "b", "c", error={"type": "overloaded_error", "message": "busy"}, error_after=1)
    response = post(server, protocol)
    assert response.status_code == 200
    assert texts(protocol, response.text) == ["a"]
    name, data = sse(response.text)[-1]
    expected = {
        "chat_completions": {"error": {"message": "busy", "type": "overloaded_error", "code": None}},
        "anthropic_messages": {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        "gemini": {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}},
    }
    if protocol == "responses":
        assert name == "response.failed"
        assert json.loads(data)["response"]["error"] == {"code": "server_is_overloaded", "message": "busy"}
    else:
        assert json.loads(data) == expected[protocol]


def test_responses_incomplete_finish(server: Server) -> None:
    server.reply("a", finish="incomplete")
    name, data = sse(post(server, "responses").text)[-1]
    assert name == "response.incomplete" and json.loads(data)["response"]["status"] == "incomplete"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cut_after_ends_body_abruptly(server: Server, protocol: str) -> None:
    server.reply("first", "second", cut_after=1)
    response = post(server, protocol, stream=True)
    received = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in response.iter_content(chunk_size=None):
            received += chunk
    assert texts(protocol, received.decode()) == ["first"]
    assert not server.wait_for(1)[0].client_closed


def test_stall_then_continue_and_trailing_stall(server: Server) -> None:
    server.reply("a", "b", stall_after=1, stall=0.2)
    server.reply("c", trailing_stall=0.2, close_delimited=True)
    started = time.monotonic()
    assert texts("anthropic_messages", post(server, "anthropic_messages").text) == ["a", "b"]
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert sse(post(server, "anthropic_messages").text)[-1][0] == "message_stop"
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("fault", [{"stall_after": 1, "stall": 10}, {"delay": 10}])
def test_stall_or_delay_notices_client_closing(server: Server, fault: dict[str, Any]) -> None:
    server.reply("a", "b", **fault)
    started = time.monotonic()
    response = post(server, "chat_completions", stream=True)
    assert b'"role":"assistant"' in next(response.iter_lines())
    response.close()
    request = server.wait_for(1, timeout=2)[0]
    assert request.client_closed and request.done.is_set()
    assert time.monotonic() - started < 2


def test_stop_returns_promptly_while_stalling() -> None:
    server = Server().start()
    server.reply("a", stall_after=0, stall=30)
    response = post(server, "gemini", stream=True)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1
    assert server.requests[0].done.wait(1)
    response.close()


def test_events_are_flushed_one_by_one(server: Server) -> None:
    server.reply("a", "b", stall_after=1, stall=0.3)
    started = time.monotonic()
    lines = post(server, "chat_completions", stream=True).iter_lines()
    head = [next(lines) for _ in range(3)]
    assert b'"content":"a"' in head[2] and time.monotonic() - started < 0.25
    assert texts("chat_completions", b"\n".join([*head, *lines]).decode()) == ["a", "b"]
    assert time.monotonic() - started >= 0.3


def test_delay_between_events(server: Server) -> None:
    server.reply("a", delay=0.05)  # role chunk, "a", finish chunk, usage chunk, [DONE]: four gaps
    started = time.monotonic()
    assert texts("chat_completions", post(server, "chat_completions").text) == ["a"]
    assert time.monotonic() - started >= 0.2


def test_close_delimited_framing(server: Server) -> None:
    server.reply("a", "b", close_delimited=True)
    response = post(server, "anthropic_messages")
    assert "transfer-encoding" not in response.headers and "content-length" not in response.headers
    assert response.headers["connection"] == "close"
    assert texts("anthropic_messages", response.text) == ["a", "b"] and "message_stop" in response.text


def test_split_writes_cut_through_events_and_characters(server: Server) -> None:
    pieces = ["€" * 10, "b"]
    server.queue(Reply(text=pieces), Reply(text=pieces, split=5), Reply(text=pieces, split=9, split_seed=0))
    whole, fixed, seeded = (dechunk(raw_body(server, "chat_completions")) for _ in range(3))
    assert b"".join(fixed) == b"".join(seeded) == b"".join(whole)
    assert {len(chunk) for chunk in fixed[:-1]} == {5} and len(fixed[-1]) <= 5
    assert max(map(len, seeded)) <= 9 and len({len(chunk) for chunk in seeded}) > 1
    with pytest.raises(UnicodeDecodeError):
        for chunk in fixed:
            chunk.decode()


def test_raw_body(server: Server) -> None:
    server.queue(Reply(raw=b"data: not json\n\n", content_type="text/plain"), Reply(raw="x", status=503))
    response = post(server, "gemini")
    assert (response.content, response.headers["content-type"]) == (b"data: not json\n\n", "text/plain")
    assert (post(server, "gemini").status_code, server.requests[1].reply.raw) == (503, "x")


def test_pings_between_events(server: Server) -> None:
    for _ in range(3):
        server.reply("a", "b", pings=True)
    events = sse(post(server, "chat_completions").text)
    assert [name for name, _ in events[1::2]] == [":"] * (len(events) // 2)
    events = sse(post(server, "anthropic_messages").text)
    assert [name for name, _ in events[1::2]] == ["ping"] * (len(events) // 2)
    assert ": keep-alive" not in post(server, "gemini").text


def test_empty_queue_answers_500_unless_default(server: Server) -> None:
    response = post(server, "anthropic_messages")
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "llmchat.testing: no reply queued"
    server.default = Reply(text="fallback")
    assert texts("responses", post(server, "responses").text) == ["fallback"]
    assert texts("responses", post(server, "responses").text) == ["fallback"]


def test_request_logging(server: Server) -> None:
    server.queue(Reply(text="x"), Reply(text="y"))
    post(server, "gemini", {"contents": []}, headers={"X-Goog-Api-Key": "k"})
    requests.post(server.url("responses") + "/responses?a=1", data="not json", timeout=5)
    first, second = server.wait_for(2)
    assert (first.method, first.path, first.query) == ("POST", "/v1beta/models/gem-1:streamGenerateContent",
                                                       {"alt": "sse"})
    assert first.headers["x-goog-api-key"] == "k" and first.body == {"contents": []}
    assert (first.protocol, first.reply.text, first.client_closed) == ("gemini", ("x",), False)
    assert (second.body, second.query, second.protocol) == ("not json", {"a": "1"}, "responses")
    assert second.reply.text == ("y",)  # taken, although a non-streaming request only gets a 400
    assert requests.post(server.root + "/v1/nothing", json={}, timeout=5).status_code == 404
    assert (server.requests[-1].protocol, server.requests[-1].reply) == (None, None)


def test_non_streaming_request_gets_400(server: Server) -> None:
    server.reply("x")
    response = requests.post(server.url("gemini") + "/models/g:generateContent", json={}, timeout=5)
    assert response.status_code == 400 and "serves streams only" in response.json()["error"]["message"]


def test_keep_alive_session_and_addresses(server: Server) -> None:
    server.reply("a")
    server.reply("b")
    with requests.Session() as session:
        for piece in ("a", "b"):
            response = session.post(server.root + "/v1/messages", json=BODY, timeout=5)
            assert texts("anthropic_messages", response.text) == [piece]
    assert server.url("gemini") == server.root + "/v1beta" and server.url("anthropic_messages") == server.root
    with pytest.raises(TimeoutError):
        server.wait_for(3, timeout=0.05)
    with pytest.raises(ValueError):
        Server(host="0.0.0.0")


@pytest.mark.parametrize("module", [llmchat.testing, server_module, types_module])
def test_docstring_examples_run(module: Any) -> None:
    assert doctest.testmod(module).failed == 0
