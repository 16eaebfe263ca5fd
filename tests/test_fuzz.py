"""Property tests (hypothesis): byte splits never change what is read, hostile bytes only raise llmchat errors.

The split test runs the parsers sans-I/O (``transport.frames`` into ``parse``); the hostile-bytes tests
go end to end over real HTTP (the loopback server sends the bytes as the body), so they exercise the
transport, the parser and the spine together.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_streams import PROTOCOLS, Answer, body, events, expected, result

import llmchat
from llmchat import protocols
from llmchat.testing import Reply
from llmchat.transport import frames

EXAMPLES = int(os.environ.get("LLMCHAT_FUZZ_EXAMPLES", 100))       # per protocol; raise it to hunt for bugs
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)   # any char but lone surrogates
json_value = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | text,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                          max_leaves=6)
answers = st.builds(
    Answer,
    text=st.lists(text.filter(bool), max_size=4).map(tuple),
    thinking=st.lists(text.filter(bool), max_size=3).map(tuple),
    calls=st.lists(st.tuples(st.from_regex(r"call_[a-z0-9]{1,6}", fullmatch=True), st.sampled_from(["f", "wéather"]),
                             st.dictionaries(text, json_value, max_size=3)),
                   max_size=2, unique_by=lambda c: c[0]).map(tuple),
    input_tokens=st.integers(0, 10**6), output_tokens=st.integers(1, 10**6))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@settings(max_examples=150, deadline=None)
@given(answer=answers, eol=st.sampled_from(["\n", "\r\n"]), cuts=st.lists(st.integers(0, 10**6), max_size=40))
def test_where_the_bytes_are_split_never_changes_the_result(protocol, answer, eol, cuts):
    data = body(protocol, answer, eol)
    parse = protocols.get(protocol).parse
    assert result(parse(frames(split(data, cuts)))) == expected(protocol, answer)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@settings(max_examples=25, deadline=None)
@given(answer=answers)
def test_one_byte_at_a_time_even_inside_utf8_characters(protocol, answer):
    data = body(protocol, Answer(text=(*answer.text, "€𝄞ü"), calls=answer.calls))
    pieces = [data[i:i + 1] for i in range(len(data))]
    assert result(protocols.get(protocol).parse(frames(pieces)))["content"].endswith("€𝄞ü")


def mutate(data: bytes, draw) -> bytes:
    """One hostile change: cut, delete, insert, overwrite or duplicate a stretch."""
    kind = draw(st.sampled_from(["cut", "delete", "insert", "overwrite", "repeat"]))
    at = draw(st.integers(0, len(data)))
    size = draw(st.integers(1, 40))
    junk = draw(st.binary(min_size=1, max_size=12) | st.sampled_from(
        [b"\xff\xfe", b"\xe2\x82", b"\n\n", b"\r\n\r\n", b"data: ", b"event: error\n", b"{", b"]", b"null"]))
    if kind == "cut":
        return data[:at]
    if kind == "delete":
        return data[:at] + data[at + size:]
    if kind == "insert":
        return data[:at] + junk + data[at:]
    if kind == "overwrite":
        return data[:at] + junk + data[at + len(junk):]
    return data[:at + size] + data[at:]


def reshape(protocol: str, answer: Answer, draw) -> bytes:
    """Valid JSON of the wrong shape: one value somewhere in one event replaced by any JSON value."""
    pieces = events(protocol, answer)
    index = draw(st.integers(0, len(pieces) - 1))
    head, _, text = pieces[index].decode().rstrip("\n").rpartition("data: ")
    try:
        obj = json.loads(text)
    except ValueError:
        obj = text
    pieces[index] = f"{head}data: {json.dumps(_replace(obj, draw), ensure_ascii=False)}\n\n".encode()
    return b"".join(pieces)


def _replace(obj, draw):
    """``obj`` with the value at a random path (or ``obj`` itself) replaced."""
    children = list(obj.items()) if isinstance(obj, dict) else list(enumerate(obj)) if isinstance(obj, list) else []
    if not children or draw(st.integers(0, 3)) == 0:
        return draw(json_value)
    key, child = children[draw(st.integers(0, len(children) - 1))]
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[key] = _replace(child, draw)
    return copy


def ask_raw(server, make_chat, protocol, raw: bytes, **reply):
    """Ask over HTTP with ``raw`` as the body; every chunk's text is checked and kept."""
    server.queue(Reply(raw=raw, **reply))
    chat = make_chat(protocol)
    seen: list[str] = []
    chat.on_new_message(seen.clear)          # a tool round starts a new message (and its own partial)

    def on_chunk(chunk):
        assert chunk.content is None or type(chunk.content) is str
        assert chunk.thinking is None or type(chunk.thinking) is str
        seen.append(chunk.content or "")

    try:
        reply_message = chat.ask("hi", on_chunk=on_chunk)
    except llmchat.Error as error:          # anything else fails the test
        assert error.partial == "".join(seen) == (chat.messages[-1].content or "")
        assert chat.messages[-1].status == "incomplete" and error.partial_message is chat.messages[-1]
        return error
    assert reply_message.content in ("".join(seen), None) and reply_message.status == "complete"
    return reply_message


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FAST
@given(answer=answers, data=st.data())
def test_mutated_streams_raise_nothing_but_llmchat_errors(server, make_chat, protocol, answer, data):
    raw = mutate(body(protocol, answer), data.draw)
    ask_raw(server, make_chat, protocol, raw, close_delimited=data.draw(st.booleans()))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FAST
@given(raw=st.binary(max_size=300) | st.lists(st.sampled_from(
    [b"data: ", b"event: ", b"{", b"}", b"[", b"]", b'"', b"\n", b"\r", b":", b"null", b"1", b"\xf0\x9f",
     b"[DONE]", b'"type"', b'"choices"', b'"candidates"', b'"delta"', b"message_stop"]), max_size=60).map(b"".join))
def test_gibberish_raises_nothing_but_llmchat_errors(server, make_chat, protocol, raw):
    ask_raw(server, make_chat, protocol, raw)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@FAST
@given(answer=answers, data=st.data())
def test_valid_json_of_the_wrong_shape_raises_nothing_but_llmchat_errors(server, make_chat, protocol, answer, data):
    ask_raw(server, make_chat, protocol, reshape(protocol, answer, data.draw))
