"""Hostile input over real HTTP on every protocol: only llmchat errors escape, and nothing streamed is lost."""

from __future__ import annotations

import pytest
from wire_streams import Answer, events

import llmchat
from llmchat.testing import Reply

ANSWER = Answer(text=("Hel", "lo ✓"))


def good(protocol: str, answer: Answer = ANSWER) -> list[bytes]:
    return events(protocol, answer)


def content_end(protocol: str, pieces: list[bytes]) -> int:
    """Index just after the last event carrying text."""
    return max(i for i, e in enumerate(pieces) if b"lo \xe2\x9c\x93" in e) + 1


def ask(server, make_chat, protocol, reply: Reply):
    chat = make_chat(protocol)
    server.queue(reply)
    seen: list[str] = []
    try:
        message = chat.ask("hi", on_chunk=lambda c: seen.append(c.content or ""))
    except llmchat.Error as error:
        assert error.partial == "".join(seen) == (chat.messages[-1].content or "")
        assert chat.messages[-1].status == "incomplete"
        return error, "".join(seen)
    return message, "".join(seen)


def test_unknown_events_comments_and_fields_are_ignored(server, make_chat, protocol):
    pieces = good(protocol)
    noise = [b": keep-alive comment\n\n", b"event: mystery\ndata: {\"type\":\"mystery\",\"x\":[1]}\n\n",
             b"id: 7\nretry: 100\nunknown-field: x\n\n", b"event: ping\ndata: {\"type\":\"ping\"}\n\n"]
    raw = b"".join(p for piece in pieces for p in (piece, *noise))
    message, seen = ask(server, make_chat, protocol, Reply(raw=raw))
    assert message.content == seen == "Hello ✓" and message.complete


@pytest.mark.parametrize("bad", [b"data: {\"choices\": [\n\n", b"data: not json at all\n\n",
                                 b"data: [1, 2, 3]\n\n", b"data: \"a string\"\n\n", b"data: 42\n\n",
                                 b"data: null\n\n", b"data: \xff\xfe\xfd\n\n", b"data: \"\xe2\x82\"\n\n",
                                 b"data: " + b"[" * 100_000 + b"\n\n", b"data: {\"a\": 1" + b"0" * 5000 + b"}\n\n"],
                         ids=["truncated", "text", "list", "string", "number", "null", "bad-utf8", "cut-utf8",
                              "deep", "huge-number"])
def test_a_bad_event_after_content_is_a_stream_error_keeping_the_partial(server, make_chat, protocol, bad):
    pieces = good(protocol)
    end = content_end(protocol, pieces)
    raw = b"".join(pieces[:end]) + bad + b"".join(pieces[end:])
    error, seen = ask(server, make_chat, protocol, Reply(raw=raw))
    assert isinstance(error, llmchat.StreamError) and seen == error.partial == "Hello ✓"


def test_the_callers_own_exception_is_never_disguised(server, make_chat, protocol):
    """A TypeError raised in on_chunk is the caller's, not a malformed stream."""
    server.queue(Reply(text=["a", "b"]))
    chat = make_chat(protocol)

    def on_chunk(chunk):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        chat.ask("x", on_chunk=on_chunk)
    assert chat.messages[-1].status == "incomplete"


def test_a_stream_that_ends_without_its_terminal_event(server, make_chat, protocol):
    pieces = good(protocol)
    error, seen = ask(server, make_chat, protocol, Reply(raw=b"".join(pieces[:content_end(protocol, pieces)])))
    assert isinstance(error, llmchat.StreamError) and seen == "Hello ✓"
    assert "ended" in str(error)


@pytest.mark.parametrize("close_delimited", [False, True])
def test_a_body_cut_in_the_middle_of_an_event(server, make_chat, protocol, close_delimited):
    pieces = good(protocol)
    end = content_end(protocol, pieces)
    raw = b"".join(pieces[:end]) + pieces[end][: len(pieces[end]) // 2]
    error, seen = ask(server, make_chat, protocol, Reply(raw=raw, cut_after=0, close_delimited=close_delimited))
    assert isinstance(error, (llmchat.StreamError, llmchat.ConnectionError)) and seen == "Hello ✓"


@pytest.mark.parametrize("split", [1, 2, 5])
def test_events_split_at_any_byte_read_the_same(server, make_chat, protocol, split):
    server.queue(Reply(text=["Grüße ", "€𝄞", " done"], thinking=["ü"], split=split, split_seed=split))
    reply = make_chat(protocol).ask("x")
    assert (reply.content, reply.thinking) == ("Grüße €𝄞 done", "ü")


@pytest.mark.parametrize(("body", "ctype"), [
    ("", "text/event-stream"), ("", "application/json"), ("\n\n\n", "text/event-stream"),
    ('{"id":"x","choices":[{"message":{"content":"not streamed"}}]}', "application/json"),
    ('{"id":"x","choices":[{"message":{"content":"not streamed"}}]}', "text/event-stream"),
    ("<html><body>Welcome to nginx</body></html>", "text/html"),
    ("\x00\x01garbage\xff", "application/octet-stream"),
], ids=["empty-sse", "empty-json", "blank-lines", "json-body", "json-as-sse", "html-200", "binary"])
def test_a_200_that_is_not_an_event_stream(server, make_chat, protocol, body, ctype):
    error, seen = ask(server, make_chat, protocol, Reply(raw=body, content_type=ctype))
    assert isinstance(error, llmchat.StreamError) and seen == ""


def test_a_200_json_error_body_is_a_typed_error(server, make_chat, protocol):
    body = '{"error": {"type": "rate_limit_error", "message": "Too many requests"}}'
    error, _ = ask(server, make_chat, protocol, Reply(raw=body, content_type="application/json"))
    assert isinstance(error, llmchat.RateLimitError) and "Too many requests" in str(error)


@pytest.mark.parametrize("status", [400, 429, 500, 502, 503])
def test_an_html_error_page_gives_the_status_class_and_a_readable_message(server, make_chat, protocol, status):
    page = f"<html><head><title>{status}</title></head><body><h1>Gateway says {status}</h1></body></html>"
    error, _ = ask(server, make_chat, protocol, Reply(status=status, body=page, content_type="text/html"))
    assert error.status_code == status and f"Gateway says {status}" in str(error)
    assert "<h1>" not in str(error) and isinstance(error, llmchat.APIError)


@pytest.mark.parametrize("body", ["", "{not json", "[]", "null", '{"error": 5}', '"just text"'])
def test_odd_error_bodies_still_give_the_status_class(server, make_chat, protocol, body):
    error, _ = ask(server, make_chat, protocol, Reply(status=429, body=body))
    assert isinstance(error, llmchat.RateLimitError) and "429" in str(error)


def test_a_chat_recovers_after_hostile_input(server, make_chat, protocol):
    server.queue(Reply(raw=b"\xff" * 50), Reply(text=["fine"]))
    chat = make_chat(protocol)
    with pytest.raises(llmchat.StreamError):
        chat.ask("one")
    assert chat.ask("two").content == "fine"
