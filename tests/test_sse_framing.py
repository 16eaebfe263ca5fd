"""The event-stream framing rules (WHATWG HTML, "Interpreting an event stream"), one test per rule, plus the
chunked decoder; sans-I/O (the same code runs over HTTP in test_hostile_transport)."""

from __future__ import annotations

import itertools

import pytest

import llmchat
from llmchat.chunked import dechunk
from llmchat.sse_framing import events


def parse(*blocks: bytes, max_size: int | None = 1 << 24) -> list[tuple[str, str]]:
    return list(events(list(blocks), max_size))


def every_split(body: bytes, cuts: int = 2):
    """``body`` cut in every way into up to ``cuts + 1`` blocks."""
    for positions in itertools.combinations(range(1, len(body)), cuts):
        edges = (0, *positions, len(body))
        yield [body[a:b] for a, b in zip(edges, edges[1:])]


RULES = {
    "lf": (b"data: a\n\n", [("message", "a")]),
    "crlf": (b"data: a\r\n\r\n", [("message", "a")]),
    "cr": (b"data: a\r\r", [("message", "a")]),
    "lf-then-crlf-blank-line": (b"data: a\n\r\ndata: b\n\r\n", [("message", "a"), ("message", "b")]),
    "cr-then-lf-blank-line": (b"data: a\r\ndata: b\r\n\n", [("message", "a\nb")]),
    "crlf-is-one-line-end": (b"data: a\r\ndata: b\r\n\r\n", [("message", "a\nb")]),
    "cr-lf-mixed": (b"data: a\rdata: b\ndata: c\r\n\r", [("message", "a\nb\nc")]),
    "bom-dropped": (b"\xef\xbb\xbfdata: a\n\n", [("message", "a")]),
    "second-bom-kept": (b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n", [("message", "b")]),
    "bom-only-at-start": (b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [("message", "a")]),
    "comment": (b": ping\ndata: a\n:\n\n", [("message", "a")]),
    "one-space-dropped": (b"data:  a\n\n", [("message", " a")]),
    "no-space": (b"data:a\n\n", [("message", "a")]),
    "field-without-colon": (b"data\ndata\n\n", [("message", "\n")]),
    "empty-data": (b"data:\n\n", [("message", "")]),
    "no-data-no-event": (b"event: x\n\ndata: a\n\n", [("message", "a")]),
    "event-name": (b"event: add\ndata: 1\n\ndata: 2\n\n", [("add", "1"), ("message", "2")]),
    "empty-event-name": (b"event:\ndata: 1\n\n", [("message", "1")]),
    "last-event-name-wins": (b"event: a\nevent: b\ndata: 1\n\n", [("b", "1")]),
    "unknown-id-retry-ignored": (b"id: 7\nretry: 10\nfoo: bar\ndata: a\n\n", [("message", "a")]),
    "colon-in-value": (b"data: a: b\n\n", [("message", "a: b")]),
    "field-names-are-case-sensitive": (b"Data: a\nDATA: b\ndata: c\n\n", [("message", "c")]),
    "unended-event-dropped-at-eof": (b"data: a\n\ndata: b\n", [("message", "a")]),
    "unended-line-dropped-at-eof": (b"data: a\n\ndata: b", [("message", "a")]),
    "blank-lines-alone": (b"\n\r\n\r\n\n", []),
}


@pytest.mark.parametrize("body, expected", RULES.values(), ids=RULES.keys())
def test_each_rule_whole_and_split_everywhere(body, expected):
    assert parse(body) == expected
    for blocks in every_split(body):
        assert parse(*blocks) == expected, blocks


def test_every_byte_in_its_own_block():
    body = b"\xef\xbb\xbfevent: e\r\ndata: \xe2\x82\xac\r\r\ndata: x\n\r\n"
    assert parse(*(body[i:i + 1] for i in range(len(body)))) == [("e", "€"), ("message", "x")]


def test_each_event_comes_out_before_the_next_block_is_read():
    def blocks():
        yield b"data: 1\n\ndata: 2\n"
        raise AssertionError("read further than needed")

    assert next(events(blocks())) == ("message", "1")


def test_a_cr_at_the_end_of_a_block_ends_the_line_at_once():
    def blocks():
        yield b"data: 1\r\r"
        raise AssertionError("waited for the next block")

    assert next(events(blocks())) == ("message", "1")


def test_invalid_utf8_is_a_stream_error():
    with pytest.raises(llmchat.StreamError, match="UTF-8"):
        parse(b"data: \xff\n\n")


@pytest.mark.parametrize("body", [b"data: " + b"x" * 101 + b"\n\n", b"data: " + b"x" * 101,
                                  b"data: x\n" * 60 + b"data: " + b"x" * 60 + b"\n\n"],
                         ids=["one-line", "unended", "many-lines"])
def test_an_event_over_the_limit_is_a_stream_error(body):
    with pytest.raises(llmchat.StreamError, match="max_event_size"):
        parse(*every_split(body, 1).__next__(), max_size=100)
    assert parse(b"data: " + b"x" * 100 + b"\n\n", max_size=100) == [("message", "x" * 100)]


def test_comments_do_not_count_towards_the_limit():
    assert parse(b": " + b"p" * 90 + b"\n" + b": " + b"p" * 90 + b"\ndata: a\n\n", max_size=100) == [("message", "a")]


# ---------------------------------------------------------------- chunked transfer coding

CHUNKED = b"3\r\nHel\r\n4;name=v\r\nlo w\r\nB\r\norld! \xe2\x82\xac..\r\n0\r\nTrailer: x\r\n\r\n"


def test_dechunk_whatever_the_split():
    for blocks in itertools.chain([[CHUNKED]], every_split(CHUNKED)):
        body = dechunk(blocks)
        assert b"".join(body) == "Hello world! €..".encode()


def test_dechunk_returns_what_was_read_past_the_body():
    body = dechunk([b"1\r\na\r\n0\r\n\r\nHTTP/1.1"])
    assert next(body) == b"a"
    with pytest.raises(StopIteration) as end:
        next(body)
    assert end.value.value == b"HTTP/1.1"


@pytest.mark.parametrize("size", [b"-1", b"+1", b"1_0", b"0x1", b"g", b"", b"1" * 17])
def test_a_malformed_chunk_size_is_a_stream_error_after_the_data_before_it(size):
    body = dechunk([b"1\r\na\r\n" + size + b"\r\nb\r\n0\r\n\r\n"])
    assert next(body) == b"a"
    with pytest.raises(llmchat.StreamError, match="chunked"):
        next(body)


def test_a_chunk_longer_than_its_size_is_a_stream_error():
    with pytest.raises(llmchat.StreamError, match="longer than its size"):
        list(dechunk([b"1\r\nab\r\n0\r\n\r\n"]))


def test_a_body_cut_before_its_last_chunk_is_a_connection_error():
    with pytest.raises(llmchat.ConnectionError):
        list(dechunk([b"5\r\nab"]))


def test_a_huge_chunk_is_counted_not_allocated():
    body = dechunk([b"ffffffffffffffff\r\n", b"abc", b"def"])
    assert [next(body), next(body)] == [b"abc", b"def"]
