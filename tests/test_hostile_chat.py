"""A hostile world, the chat's side: keys never shown, one ask at a time, bad arguments refused at the call,
callbacks never hiding the error, and nothing a server sends (deep JSON, lone surrogates) escaping untyped."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from wire_streams import Answer, events

import llmchat
from llmchat.testing import Call, Reply

KEY = "sk-test-SECRET-0123456789"       # conftest's make_chat key


def no_key(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text) and "SECRET-0123" not in str(text), text


def error_texts(error: BaseException) -> list[str]:
    """Everything an error shows: str, repr, args, body, notes, and the same for its whole context chain."""
    out, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        out += [str(error), repr(error), repr(error.args), repr(getattr(error, "body", None)),
                repr(getattr(error, "__notes__", None))]
        error = error.__cause__ or error.__context__
    return out


# ---------------------------------------------------------------- 2: keys echoed by a server are redacted

@pytest.mark.parametrize("reply", [
    Reply(status=401, body={"error": {"type": "invalid_request_error",
                                      "message": f"Incorrect API key provided: {KEY}."}}),
    Reply(status=500, body=f"internal error while checking {KEY}", content_type="text/plain"),
    Reply(status=200, body=json.dumps({"error": {"type": "authentication_error", "message": f"bad key {KEY}"}}),
          content_type="application/json"),
], ids=["401-json", "500-text", "200-json-error"])
def test_a_key_echoed_in_an_error_body_is_never_shown(server, make_chat, protocol, reply, caplog):
    caplog.set_level(logging.DEBUG, logger="llmchat")
    chat = make_chat(protocol, max_retries=1, retry_interval=0.01)
    server.queue(reply, reply)
    with pytest.raises(llmchat.APIError) as info:
        chat.ask("hi")
    no_key(*error_texts(info.value), caplog.text, chat.messages[-1].error)
    assert "***" in str(info.value) + repr(info.value.body)


def test_a_key_echoed_in_an_in_stream_error_is_never_shown(server, make_chat, protocol, caplog):
    caplog.set_level(logging.DEBUG, logger="llmchat")
    server.queue(Reply(text=["Half ", "an answer"], error_after=1,
                       error={"type": "rate_limit_error", "message": f"limit for key {KEY} reached"}))
    with pytest.raises(llmchat.RateLimitError) as info:
        make_chat(protocol).ask("hi")
    assert info.value.partial == "Half "
    no_key(*error_texts(info.value), caplog.text)
    assert "***" in str(info.value)


# ---------------------------------------------------------------- 4: a key never follows a change of provider

def test_switching_provider_drops_the_explicit_key_and_base_url(server):
    anthropic_key = "sk-ant-EXPLICIT-7777777"
    llmchat.configure(openai_api_key="sk-openai-OWN-8888888", openai_api_base=server.url("chat_completions"))
    try:
        chat = llmchat.chat("claude-haiku-4-5", api_key=anthropic_key, base_url=server.url("anthropic_messages"))
        chat.with_model("gpt-4.1-mini")
        assert chat.provider == "openai"
        server.reply("Hi")
        assert chat.ask("hello").content == "Hi"
    finally:
        llmchat.configure(openai_api_key=None, openai_api_base=None)
    request = server.wait_for(1)[0]
    assert request.headers.get("authorization") == "Bearer sk-openai-OWN-8888888"
    assert anthropic_key not in json.dumps(request.headers) and request.protocol == chat.protocol


def test_switching_provider_without_a_key_for_it_fails_and_keeps_the_chat(server):
    chat = llmchat.chat("claude-haiku-4-5", api_key="sk-ant-EXPLICIT-7777777",
                        base_url=server.url("anthropic_messages"))
    with pytest.raises(llmchat.ConfigurationError, match="OPENAI_API_KEY"):
        chat.with_model("gpt-4.1-mini")
    assert (chat.model, chat.provider, chat.protocol) == ("claude-haiku-4-5", "anthropic", "anthropic_messages")
    server.reply("Still here")
    assert chat.ask("hi").content == "Still here"
    assert server.wait_for(1)[0].headers.get("x-api-key") == "sk-ant-EXPLICIT-7777777"


def test_a_model_of_the_same_provider_keeps_the_explicit_key(server):
    chat = llmchat.chat("gpt-4.1-mini", api_key="sk-openai-EXPLICIT-1", base_url=server.url("chat_completions"))
    chat.with_model("gpt-4.1")
    server.reply("ok")
    chat.ask("hi")
    request = server.wait_for(1)[0]
    assert request.headers.get("authorization") == "Bearer sk-openai-EXPLICIT-1" and request.body["model"] == "gpt-4.1"


# ---------------------------------------------------------------- 9: reading the message in on_chunk stays linear

def test_reading_content_in_every_on_chunk_stays_linear(server, make_chat):
    pieces = ["x" * 199 + "\n"] * 12_000           # a 2.4 MB answer in 12k events
    chat = make_chat("chat_completions")
    server.reply(*pieces)
    spent = [0.0]

    def read(chunk):
        began = time.perf_counter()
        assert len(chat.messages[-1].content) % 200 == 0
        spent[0] += time.perf_counter() - began

    assert chat.ask("long", on_chunk=read).content == "".join(pieces)
    # re-joining the text on every read copies ~14 GB here (seconds); growing it in place, a few ms
    assert spent[0] < 0.4, spent[0]


def tool_call_seconds(server, chat, fragments: int) -> float:
    """Seconds to stream one call whose 200 * ``fragments`` bytes of arguments come in ``fragments`` pieces,
    reading the text so far on every chunk (a progress display)."""
    server.queue(Reply(tool_calls=[Call("weather", {"city": "x" * (200 * fragments)}, pieces=fragments)]),
                 Reply(text="done"))
    progress = []

    def read(chunk):
        for call_id in chunk.tool_calls or {}:
            progress.append(len(chat.messages[-1].tool_calls[call_id].arguments))

    began = time.perf_counter()
    assert chat.ask("go", on_chunk=read).content == "done"
    elapsed = time.perf_counter() - began
    assert progress[-1] == len('{"city": ""}') + 200 * fragments and len(progress) >= fragments
    return elapsed


@pytest.mark.parametrize("protocol", ["anthropic_messages", "chat_completions", "responses"])
def test_tool_arguments_in_many_fragments_stay_linear(server, make_chat, protocol):
    chat = make_chat(protocol).with_tool(llmchat.tool(lambda city: "ok", name="weather"))
    small = min(tool_call_seconds(server, chat, 8_000) for _ in range(2))
    large = min(tool_call_seconds(server, chat, 48_000) for _ in range(2))
    # 6x the fragments: ~6x the time when linear, 20-36x when every fragment rebuilds the text so far
    assert large < small * 14, (small, large)


# ---------------------------------------------------------------- 10: deeply nested JSON is a typed error

DEEP = "[" * 200_000


@pytest.mark.parametrize("status", [400, 500])
def test_a_deeply_nested_error_body_gives_the_status_class(server, make_chat, protocol, status):
    server.queue(Reply(status=status, body=DEEP, content_type="application/json"))
    with pytest.raises(llmchat.APIError) as info:
        make_chat(protocol).ask("hi")
    assert type(info.value) is llmchat.errors.error_class(status) and info.value.status_code == status
    assert "nested too deeply" in str(info.value)


def test_a_deeply_nested_json_body_instead_of_a_stream_is_a_typed_error(server, make_chat, protocol):
    server.queue(Reply(body='{"error": ' + DEEP, content_type="application/json"))
    with pytest.raises(llmchat.Error):
        make_chat(protocol).ask("hi")


@pytest.mark.parametrize("protocol", ["anthropic_messages", "chat_completions", "responses"])
def test_deeply_nested_tool_arguments_are_a_tool_call_parse_error(server, make_chat, protocol):
    ran = []
    chat = make_chat(protocol).with_tool(llmchat.tool(lambda city: ran.append(city) or "sunny", name="weather"))
    server.queue(Reply(tool_calls=[Call("weather", DEEP, pieces=50)]))
    with pytest.raises(llmchat.ToolCallParseError, match="nested too deeply"):
        chat.ask("weather?")
    assert ran == [] and chat.messages[-1].status == "incomplete"


# ---------------------------------------------------------------- 11: surrogates never poison the chat

def with_surrogates(protocol: str) -> bytes:
    raw = b"".join(events(protocol, Answer(text=("smile HIGH", "LOW and LONE", " end"))))
    return raw.replace(b"HIGH", b"\\ud83d").replace(b"LOW", b"\\ude00").replace(b"LONE", b"\\ud800")


def test_split_surrogate_pairs_are_joined_and_lone_ones_replaced(server, make_chat, protocol):
    chat = make_chat(protocol)
    server.queue(Reply(raw=with_surrogates(protocol)))
    message = chat.ask("hi")
    assert message.complete and message.content == "smile 😀 and \ufffd end"
    server.reply("fine")
    assert chat.ask("again").content == "fine"     # the history can still be sent
    sent = server.wait_for(2)[1].body
    assert "smile 😀 and \ufffd end" in json.dumps(sent, ensure_ascii=False)


def test_a_prompt_with_a_lone_surrogate_is_repaired_not_stored_broken(server, make_chat):
    chat = make_chat("chat_completions")
    server.reply("ok")
    chat.ask("bad " + chr(0xD800) + " prompt")
    assert chat.messages[0].content == "bad \ufffd prompt"
    server.reply("still ok")
    assert chat.ask("next").content == "still ok"


# ---------------------------------------------------------------- 14: one chat, one answer at a time

def test_a_second_ask_while_one_runs_fails_at_once(server, make_chat, protocol):
    chat = make_chat(protocol)
    server.queue(Reply(text=["first ", "answer"], stall_after=1, stall=3.0))
    started, outcome = threading.Event(), {}

    def first():
        try:
            outcome["message"] = chat.ask("one", on_chunk=lambda c: started.set())
        except llmchat.Error as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=first)
    worker.start()
    assert started.wait(5)
    before = list(chat.messages)
    for attempt in (lambda: chat.ask("two"), lambda: chat.complete(), lambda: chat.stream("three")):
        began = time.monotonic()
        with pytest.raises(llmchat.ConcurrentUseError, match="already answering"):
            attempt()
        assert time.monotonic() - began < 0.5
    assert chat.messages == before
    chat.cancel()
    worker.join(5)
    assert isinstance(outcome.get("error"), llmchat.CancelledError)
    assert [r.body for r in server.wait_for(1)] and len(server.requests) == 1
    server.reply("later")
    assert chat.ask("two").content == "later"        # free again once the first answer ended


def test_asking_again_from_inside_a_callback_is_refused(server, make_chat):
    chat = make_chat("chat_completions")
    server.reply("a", "b")
    refused = []

    def again(chunk):
        with pytest.raises(llmchat.ConcurrentUseError):
            chat.ask("nested")
        refused.append(True)

    assert chat.ask("hi", on_chunk=again).content == "ab" and refused
    assert [m.role for m in chat.messages] == ["user", "assistant"]


def test_an_open_stream_holds_the_chat_until_it_ends_or_is_dropped(server, make_chat):
    chat = make_chat("chat_completions")
    server.reply("one")
    server.reply("two")
    chunks = chat.stream("hi")
    with pytest.raises(llmchat.ConcurrentUseError):
        chat.ask("meanwhile")
    assert "".join(c.content or "" for c in chunks) == "one"
    assert chat.ask("next").content == "two"
    unstarted = chat.stream()
    with pytest.raises(llmchat.ConcurrentUseError):
        chat.complete()
    del unstarted       # dropped without being read: the chat is free again
    server.reply("three")
    assert chat.ask("third").content == "three"


# ---------------------------------------------------------------- 15: bad arguments fail at the call

@pytest.mark.parametrize("call", [
    lambda chat: chat.ask(123),
    lambda chat: chat.ask(b"bytes"),
    lambda chat: chat.ask(None),
    lambda chat: chat.ask("hi", on_chunk="print"),
    lambda chat: chat.complete(on_chunk=42),
    lambda chat: chat.stream(["a list"]),
    lambda chat: chat.add_message("user", 42),
    lambda chat: chat.add_listener("not callable"),
    lambda chat: chat.on_end_message(None),
    lambda chat: chat.with_model(123),
], ids=["int-prompt", "bytes-prompt", "none-prompt", "str-on-chunk", "int-on-chunk", "list-stream",
        "int-content", "listener", "callback", "int-model"])
def test_bad_arguments_fail_at_the_call_and_change_nothing(server, make_chat, call):
    chat = make_chat("chat_completions")
    server.reply("first")
    chat.ask("hi")
    before = [m.to_dict() for m in chat.messages]
    with pytest.raises(llmchat.ConfigurationError):
        call(chat)
    assert [m.to_dict() for m in chat.messages] == before and len(server.requests) == 1
    server.reply("second")
    assert chat.ask("still fine").content == "second"


@pytest.mark.parametrize("options", [{"request_timeout": "5"}, {"total_timeout": "10"}, {"max_retries": 1.5},
                                     {"max_tool_rounds": "3"}, {"connect_timeout": -1}, {"retry_interval": True}])
def test_bad_option_values_are_refused_when_given(server, options):
    with pytest.raises(llmchat.ConfigurationError, match=next(iter(options))):
        llmchat.chat("gpt-4.1-mini", base_url=server.url("chat_completions"), api_key="k", **options)
    with pytest.raises(llmchat.ConfigurationError, match=next(iter(options))):
        llmchat.configure(**options)
    assert server.requests == []


def test_a_model_that_is_not_a_str_is_refused():
    with pytest.raises(llmchat.ConfigurationError, match="model must be a str"):
        llmchat.chat(123, provider="openai", api_key="k")


@pytest.mark.parametrize("url", ["127.0.0.1:{port}/v1", "{root}/v1?api-key=sk-in-query", "{root}/v1#frag",
                                 "ftp://127.0.0.1:{port}/v1", "http:///v1", "http://127.0.0.1:notaport/v1"])
def test_a_base_url_without_scheme_or_with_query_is_refused(server, url):
    url = url.format(port=server.url("chat_completions").split(":")[2].split("/")[0],
                     root=server.url("chat_completions").rstrip("/").removesuffix("/v1"))
    with pytest.raises(llmchat.ConfigurationError, match="base_url") as info:
        llmchat.chat("gpt-4.1-mini", provider="openai", base_url=url, api_key="k")
    assert "sk-in-query" not in str(info.value)
    with pytest.raises(llmchat.ConfigurationError, match="base_url"):
        llmchat.configure(openai_api_base=url)
    assert server.requests == []


def test_a_tool_result_that_cannot_be_serialised_fails_clearly(server, make_chat):
    loop: list = []
    loop.append(loop)

    @llmchat.tool
    def circular() -> list:
        """Return something JSON cannot hold."""
        return loop

    chat = make_chat("chat_completions").with_tool(circular)
    server.queue(Reply(tool_calls=[Call("circular", {})]))
    with pytest.raises(llmchat.ConfigurationError, match="result of tool 'circular' cannot be sent"):
        chat.ask("go")
    assert [m.role for m in chat.messages] == ["user", "assistant"] and len(server.requests) == 1


# ---------------------------------------------------------------- 16: total_timeout bounds the whole answer

def test_total_timeout_bounds_the_whole_answer_through_tool_rounds(server, make_chat):
    @llmchat.tool
    def slow() -> str:
        """A slow tool."""
        time.sleep(0.7)
        return "done"

    chat = make_chat("chat_completions", total_timeout=1.0).with_tool(slow)
    server.queue(Reply(tool_calls=[Call("slow", {})]), Reply(text=["a", "b", "c", "d", "e", "f"], delay=0.1))
    began = time.monotonic()
    with pytest.raises(llmchat.TimeoutError, match="total_timeout"):
        chat.ask("go")
    assert time.monotonic() - began < 1.6
    assert chat.messages[-1].role == "assistant" and chat.messages[-1].status == "incomplete"


# ---------------------------------------------------------------- 17: callbacks never hide the error

def test_a_failing_end_callback_does_not_replace_the_error(server, make_chat, caplog):
    chat = make_chat("chat_completions")
    chat.on_end_message(lambda m: print(m.input_tokens + m.output_tokens))     # None + None while failing
    chat.add_listener(lambda event: 1 / 0 if type(event).__name__ == "MessageEnded" else None)
    server.queue(Reply(status=429, headers={"retry-after": "0"}))
    with pytest.raises(llmchat.RateLimitError) as info:
        chat.ask("hi")
    notes = "\n".join(info.value.__notes__)
    assert "on_end_message" in notes and "TypeError" in notes and "ZeroDivisionError" in notes
    chain, error = [], info.value
    while error.__context__ is not None and len(chain) < 10:     # a chain, not a cycle
        error = error.__context__
        chain.append(type(error).__name__)
    assert error.__context__ is None
    assert "TypeError" in chain and "ZeroDivisionError" in chain
    assert "on_end_message" in caplog.text


def test_a_failing_end_callback_still_raises_when_nothing_else_failed(server, make_chat):
    chat = make_chat("chat_completions").on_end_message(lambda m: 1 / 0)
    server.reply("fine")
    with pytest.raises(ZeroDivisionError):
        chat.ask("hi")


def test_in_stream_errors_carry_the_status_of_their_class(server, make_chat, protocol):
    server.queue(Reply(text=["a", "b"], error_after=1, error={"type": "rate_limit_error", "message": "slow"}))
    with pytest.raises(llmchat.RateLimitError) as info:
        make_chat(protocol).ask("hi")
    assert info.value.status_code == 429 and info.value.partial == "a"


def test_a_key_in_broken_tool_arguments_is_not_shown(server, make_chat):
    chat = make_chat("chat_completions").with_tool(llmchat.tool(lambda city: "x", name="weather"))
    server.queue(Reply(tool_calls=[Call("weather", '{"city": "' + KEY, pieces=2)]))
    with pytest.raises(llmchat.ToolCallParseError) as info:
        chat.ask("weather?")
    no_key(*error_texts(info.value), chat.messages[-1].to_dict()["error"])
