"""A hostile server at the transport level, over real HTTP: redirects, keys in error context, trickled
responses, cancels mid-event, huge events, undeclared encodings, absurd chunk sizes, event delivery."""

from __future__ import annotations

import gc
import gzip
import json
import logging
import threading
import time
import types

import pytest
from raw_http import RawServer, trickle
from wire_streams import chat_at

import llmchat
from llmchat import transport
from llmchat.config import Secret
from llmchat.testing import Reply, Server

KEY = "sk-test-SECRET-0123456789"          # the key conftest's make_chat uses
HEADER_KEY = "hdr-SECRET-abcdef987"
PATH = "/v1/chat/completions"


def event(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.fixture
def other():
    with Server() as s:
        yield s


@pytest.fixture
def raw_server():
    servers = []

    def make(handler):
        servers.append(RawServer(handler))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


# ---------------------------------------------------------------- 1. redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_not_followed_and_names_the_host(server, other, make_chat, protocol,
                                                                         status):
    target = other.url(protocol).replace("127.0.0.1", "localhost") + "/anywhere"
    server.queue(Reply(status=status, headers={"Location": target}, body=""))
    other.queue(Reply(status=401, body={"error": {"message": "the other origin says no"}}), Reply(text=["x"]))
    chat = make_chat(protocol, headers={"X-Custom-Token": HEADER_KEY}, max_retries=2)
    with pytest.raises(llmchat.APIError) as info:
        chat.ask("my prompt")
    message = str(info.value)
    assert f"localhost:{other.port}" in message and "redirect" in message and "base_url" in message
    assert KEY not in message and HEADER_KEY not in message and info.value.status_code == status
    assert other.requests == [] and len(server.requests) == 1          # nothing sent there, nothing retried
    assert chat.messages[-1].status == "incomplete"


def test_a_redirect_that_keeps_the_origin_method_and_body_is_followed(server, make_chat):
    server.queue(Reply(status=307, headers={"Location": PATH + "?moved=1"}, body=""), Reply(text=["fine"]))
    assert make_chat("chat_completions").ask("hi").content == "fine"
    first, second = server.wait_for(2)
    assert second.query == {"moved": "1"} and second.body == first.body
    assert second.headers["authorization"] == f"Bearer {KEY}"


def test_a_redirect_to_the_same_host_on_another_port_is_another_origin(server, make_chat):
    with Server() as same_host:
        server.queue(Reply(status=308, headers={"Location": same_host.url("chat_completions") + "/chat/completions"},
                           body=""))
        with pytest.raises(llmchat.APIError, match=f"127.0.0.1:{same_host.port}"):
            make_chat("chat_completions").ask("hi")
        assert same_host.requests == []


# ---------------------------------------------------------------- 3. what an error carries

def _reachable_strings(root: object, limit: int = 200_000):
    """Every str reachable from ``root`` through object references; Secrets are opaque (they never show)."""
    seen, todo = set(), [root]
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, Secret,
            threading.Thread, types.TracebackType)   # tracebacks: walked by _chain, but the test frame
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield obj
            continue
        if isinstance(obj, (bytes, bytearray)):
            yield bytes(obj).decode("latin-1")
            continue
        if isinstance(obj, types.FrameType):
            todo.extend(obj.f_locals.values())
            continue
        todo.extend(gc.get_referents(obj))


def _chain(error: BaseException):
    """The error, its causes and contexts, and the frames on their tracebacks (but the test's own)."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        yield error
        tb = error.__traceback__
        if not seen[1:] and tb is not None:
            tb = tb.tb_next         # the test function's frame, which holds the test server's request log
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        error = error.__cause__ or error.__context__


def assert_carries_no_key(error: BaseException, *keys: str) -> None:
    for item in _chain(error):
        for text in _reachable_strings(item):
            for key in keys:
                assert key not in text, f"{type(item).__name__} leads to {text[:120]!r}"


@pytest.mark.parametrize("reply", [Reply(status=401), Reply(status=500, body="oops"),
                                   Reply(text=["a", "b"], cut_after=1),
                                   Reply(status=307, headers={"Location": "http://elsewhere.invalid/x"}, body="")],
                         ids=["401", "500", "cut", "redirect"])
def test_no_error_carries_an_object_holding_the_key(server, make_chat, protocol, reply):
    server.queue(reply)
    chat = make_chat(protocol, headers={"X-Api-Key": HEADER_KEY})
    with pytest.raises(llmchat.Error) as info:
        chat.ask("x")
    error = info.value
    assert error.__cause__ is None and error.__context__ is None
    assert_carries_no_key(error, KEY, HEADER_KEY)


def test_no_error_of_a_refused_connection_carries_the_key():
    with Server() as gone:
        url = gone.url("anthropic_messages")
    chat = chat_at(url, "anthropic_messages", api_key=KEY, max_retries=0)
    with pytest.raises(llmchat.ConnectionError) as info:
        chat.ask("x")
    assert info.value.__context__ is None
    assert_carries_no_key(info.value, KEY)


def test_a_key_in_the_url_query_is_never_shown_in_errors_or_logs(caplog):
    with Server() as gone:
        url = gone.url("chat_completions") + "/chat/completions?alt=sse&key=" + KEY
    with caplog.at_level(logging.DEBUG, logger="llmchat"), pytest.raises(llmchat.ConnectionError) as info:
        transport.open_stream(url, {}, {"model": "m"}, timeout=5, connect_timeout=5, read_error=lambda t: (None, t))
    assert "alt=sse" in str(info.value) + caplog.text and "key=***" in caplog.text
    assert KEY not in str(info.value) and KEY not in caplog.text and KEY not in repr(vars(info.value))


# ---------------------------------------------------------------- 5. bounded from the moment it is sent

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
ERROR_BODY = json.dumps({"error": {"message": "x" * 400, "type": "server_error"}}).encode()
ERROR = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
    len(ERROR_BODY))
TRICKLES = {"status": lambda s: trickle(s, ANSWER),
            "headers": lambda s: (s.sendall(ANSWER[:17]), trickle(s, ANSWER[17:])),
            "error-body": lambda s: (s.sendall(ERROR), trickle(s, ERROR_BODY))}


@pytest.mark.parametrize("phase", sorted(TRICKLES))
@pytest.mark.parametrize("stop", ["total_timeout", "cancel"])
def test_a_trickling_response_is_bounded_by_total_timeout_and_cancel(raw_server, phase, stop):
    slow = raw_server(TRICKLES[phase])
    options = {"total_timeout": 0.8} if stop == "total_timeout" else {}
    chat = chat_at(slow.url(), "chat_completions", max_retries=0, request_timeout=5, **options)
    if stop == "cancel":
        threading.Timer(0.8, chat.cancel).start()
    started = time.monotonic()
    expected = llmchat.TimeoutError if stop == "total_timeout" else llmchat.CancelledError
    with pytest.raises(expected):
        chat.ask("x")
    assert time.monotonic() - started < 2.5
    assert slow.finished.wait(3)                     # the server saw the connection go
    assert chat.messages[-1].status == "incomplete"


# ---------------------------------------------------------------- 6. cancel or timeout in the middle of an event

HALF = b'data: {"choices": [{"delta": {"content": " wor'


@pytest.mark.parametrize("close_delimited", [True, False], ids=["close-delimited", "chunked"])
@pytest.mark.parametrize("stop", ["total_timeout", "cancel"])
def test_a_stop_in_the_middle_of_an_event_is_reported_as_such(server, make_chat, close_delimited, stop):
    server.queue(Reply(raw=event("Hel") + HALF, close_delimited=close_delimited, trailing_stall=10.0))
    options = {"total_timeout": 0.6} if stop == "total_timeout" else {}
    chat = make_chat("chat_completions", max_retries=2, **options)
    if stop == "cancel":
        threading.Timer(0.6, chat.cancel).start()
    expected = llmchat.TimeoutError if stop == "total_timeout" else llmchat.CancelledError
    with pytest.raises(expected) as info:
        chat.ask("x")
    assert info.value.partial == "Hel" and len(server.requests) == 1


# ---------------------------------------------------------------- 7. event size: linear, and bounded

def test_an_event_of_many_data_lines_is_assembled_in_linear_time(server, make_chat):
    many = b"data: " + json.dumps({"choices": [{"delta": {"content": "Hi"}}]}).encode() + b"\n" + b"data:\n" * 300_000
    server.queue(Reply(raw=many + b"\n" + DONE))
    started = time.monotonic()
    assert make_chat("chat_completions").ask("x").content == "Hi"
    assert time.monotonic() - started < 5


def test_one_large_event_in_many_small_http_chunks_is_read_in_linear_time(raw_server):
    body = event("x" * 15_000_000) + DONE       # within the default max_event_size
    framed = ANSWER + chunked(*(body[i:i + 1024] for i in range(0, len(body), 1024)))
    big = raw_server(lambda sock: sock.sendall(framed))
    started = time.monotonic()
    chat = chat_at(big.url(), "chat_completions", max_retries=0)
    assert len(chat.ask("x").content) == 15_000_000
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("close_delimited", [False, True])
def test_an_event_over_max_event_size_ends_the_stream_keeping_the_partial(server, make_chat, close_delimited):
    server.queue(Reply(raw=event("Hel") + event("x" * 300_000) + DONE, close_delimited=close_delimited))
    chat = make_chat("chat_completions", max_event_size=100_000)
    with pytest.raises(llmchat.StreamError, match="max_event_size") as info:
        chat.ask("x")
    assert info.value.partial == "Hel" and chat.messages[-1].content == "Hel"


def test_an_endless_event_is_stopped_at_the_limit_not_buffered(raw_server):
    def endless(sock):
        sock.sendall(ANSWER + chunked(event("Hel"))[:-5])
        line = b"data: " + b"x" * 65536
        for _ in range(4000):           # 256 MB at most; the client leaves long before
            sock.sendall(b"%x\r\n%s\r\n" % (len(line), line))
            line = b"x" * 65536

    slow = raw_server(endless)
    chat = chat_at(slow.url(), "chat_completions", max_retries=0, max_event_size=1_000_000)
    with pytest.raises(llmchat.StreamError, match="max_event_size") as info:
        chat.ask("x")
    assert info.value.partial == "Hel"


def test_the_default_event_size_limit_is_generous_and_set(server, make_chat):
    assert llmchat.config.settings("max_event_size") == 16 * 1024 * 1024
    server.queue(Reply(raw=event("x" * (17 * 1024 * 1024)) + DONE))
    with pytest.raises(llmchat.StreamError, match="max_event_size"):
        make_chat("chat_completions").ask("x")


# ---------------------------------------------------------------- 8. undeclared content encodings

@pytest.mark.parametrize("close_delimited", [False, True], ids=["chunked", "close-delimited"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_an_encoded_stream_is_refused_whatever_the_framing(server, make_chat, protocol, close_delimited, encoding):
    bomb = gzip.compress(event("0" * 1000) * 2000)
    server.queue(Reply(raw=bomb, headers={"Content-Encoding": encoding}, close_delimited=close_delimited))
    with pytest.raises(llmchat.StreamError, match=f"{encoding}-encoded") as info:
        make_chat(protocol).ask("x")
    assert "identity" in str(info.value)


def test_a_gzip_error_body_is_decoded_within_a_bound(server, make_chat):
    body = gzip.compress(json.dumps({"error": {"message": "bad key", "pad": "0" * 5_000_000}}).encode())
    server.queue(Reply(status=401, body=body.decode("latin-1"), headers={"Content-Encoding": "gzip"}))
    with pytest.raises(llmchat.UnauthorizedError) as info:
        make_chat("chat_completions").ask("x")
    assert len(info.value.body) <= 64 * 1024


# ---------------------------------------------------------------- 10. absurd chunk sizes, JSON for a stream

@pytest.mark.parametrize("size", [b"ffffffffffffffffffffffff", b"1000000000000", b"-5", b"5_0", b"zz", b"0x10",
                                  b"1" * 5000],
                         ids=["overflow", "256TB", "negative", "underscore", "not-hex", "0x", "endless-line"])
def test_an_absurd_chunk_size_is_a_typed_error_keeping_the_partial(server, make_chat, size):
    first = event("Hel")
    raw = b"%x\r\n%s\r\n" % (len(first), first) + size + b"\r\n" + event(" world") + b"\r\n0\r\n\r\n"
    server.queue(Reply(raw=raw, close_delimited=True, headers={"Transfer-Encoding": "chunked"}))
    with pytest.raises((llmchat.StreamError, llmchat.ConnectionError)) as info:
        make_chat("chat_completions").ask("x")
    # a size that is only large is a count (what follows is its data, until the connection closes)
    assert info.value.partial == ("Hel world" if size == b"1000000000000" else "Hel")


@pytest.mark.parametrize("body", ["[" * 100_000, '{"error": ' * 100_000], ids=["deep", "deep-error"])
def test_deep_json_where_a_stream_was_expected_is_a_typed_error(server, make_chat, protocol, body):
    server.queue(Reply(body=body, content_type="application/json"))
    with pytest.raises(llmchat.Error):
        make_chat(protocol).ask("x")


# ---------------------------------------------------------------- 12. delivery inside one large chunk

def test_each_event_reaches_on_chunk_before_the_rest_of_its_http_chunk(raw_server):
    seen_first = threading.Event()
    rest = event(" world") + b": " + b"p" * 100_000 + b"\n\n" + DONE
    first = event("Hel")

    def one_big_chunk(sock):
        sock.sendall(ANSWER + b"%x\r\n" % (len(first) + len(rest)) + first)
        seen_first.wait(3)
        sock.sendall(rest + b"\r\n0\r\n\r\n")

    slow = raw_server(one_big_chunk)
    chat = chat_at(slow.url(), "chat_completions", max_retries=0)
    times = []
    started = time.monotonic()
    reply = chat.ask("x", on_chunk=lambda c: (times.append(time.monotonic() - started), seen_first.set()))
    assert reply.content == "Hel world" and times[0] < 1.5


# ---------------------------------------------------------------- 13. WHATWG framing over HTTP

@pytest.mark.parametrize("raw", [b"\xef\xbb\xbf" + event("Hi") + DONE,
                                 event("Hi")[:-1] + b"\r\n" + DONE[:-1] + b"\r\n",
                                 event("Hi")[:-2] + b"\r\r" + DONE[:-2] + b"\r\r",
                                 event("Hi")[:-2] + b"\r\n\r\n" + DONE[:-2] + b"\r\n\r\n"],
                         ids=["bom", "lf-crlf", "cr-cr", "crlf-crlf"])
@pytest.mark.parametrize("split", [None, 1])
def test_line_ends_and_bom_over_http(server, make_chat, raw, split):
    server.queue(Reply(raw=raw, split=split))
    assert make_chat("chat_completions").ask("x").content == "Hi"


# ---------------------------------------------------------------- framing is the protocol's choice

def test_a_protocol_can_choose_a_framing_other_than_sse(server, make_chat):
    from llmchat.protocols import chat_completions

    def ndjson(blocks, max_size):
        rest = b""
        for block in blocks:
            *lines, rest = (rest + block).split(b"\n")
            yield from (("message", line.decode()) for line in lines if line)

    chat = make_chat("chat_completions")
    chat._protocol = types.SimpleNamespace(**vars(chat_completions), framing=ndjson)
    server.queue(Reply(raw=b'{"choices":[{"delta":{"content":"Hi"}}]}\n[DONE]\n', content_type="application/x-ndjson"))
    assert chat.ask("x").content == "Hi"
