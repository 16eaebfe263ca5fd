"""The streaming spine end to end, over real HTTP, on every protocol."""

from __future__ import annotations

import pytest

import llmchat
from llmchat.testing import Reply


def test_ask_streams_each_piece_to_on_chunk_and_keeps_the_answer(server, make_chat, protocol):
    server.queue(Reply(text=["Hel", "lo, ", "wörld ✓"], input_tokens=12, output_tokens=3))
    chat = make_chat(protocol)
    seen = []
    reply = chat.ask("Hi", on_chunk=lambda c: seen.append(c.content))
    assert [s for s in seen if s] == ["Hel", "lo, ", "wörld ✓"]
    assert reply is chat.messages[-1]
    assert (reply.role, reply.content, reply.status) == ("assistant", "Hello, wörld ✓", "complete")
    assert (reply.input_tokens, reply.output_tokens) == (12, 3)
    assert reply.finish_reason in ("stop", "end_turn", "STOP", "completed")
    assert [m.role for m in chat.messages] == ["user", "assistant"]


def test_callbacks_fire_in_order_around_the_request(server, make_chat, protocol):
    server.queue(Reply(text=["a", "b"], input_tokens=5, output_tokens=2))
    chat = make_chat(protocol)
    events = []

    def on_new():
        events.append(("new", len(server.requests)))   # before the request: the server has seen nothing

    chat.on_new_message(on_new)
    chat.on_end_message(lambda m: events.append(("end", m.input_tokens + m.output_tokens, m.status)))
    chat.ask("x", on_chunk=lambda c: events.append(("chunk", c.content)) if c.content else None)
    assert events == [("new", 0), ("chunk", "a"), ("chunk", "b"), ("end", 7, "complete")]


def test_registering_a_callback_twice_keeps_both(server, make_chat):
    server.reply("ok")
    calls = []
    chat = make_chat("chat_completions")
    assert chat.on_end_message(lambda m: calls.append(1)).on_end_message(lambda m: calls.append(2)) is chat
    chat.ask("x")
    assert calls == [1, 2]


def test_thinking_is_streamed_apart_from_content(server, make_chat, protocol):
    server.queue(Reply(thinking=["Let me ", "think."], text=["42"]))
    chat = make_chat(protocol)
    chunks = []
    reply = chat.ask("?", on_chunk=chunks.append)
    assert "".join(c.thinking or "" for c in chunks) == "Let me think."
    assert (reply.thinking, reply.content) == ("Let me think.", "42")


def test_stream_iterator_rides_the_same_spine(server, make_chat, protocol):
    server.queue(Reply(text=["one", " two"]))
    chat = make_chat(protocol)
    texts = [c.content for c in chat.stream("count") if c.content]
    assert texts == ["one", " two"]
    assert chat.messages[-1].content == "one two" and chat.messages[-1].complete


def test_request_carries_history_instructions_temperature_and_usage_option(server, make_chat):
    server.queue(Reply(text="first"), Reply(text="second"))
    chat = make_chat("chat_completions").with_instructions("Be terse.").with_temperature(0.2)
    chat.ask("one")
    chat.ask("two")
    body = server.wait_for(2)[1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be terse."), ("user", "one"), ("assistant", "first"), ("user", "two")]


def test_anthropic_request_shape(server, make_chat):
    server.queue(Reply(text="ok"))
    make_chat("anthropic_messages").with_instructions("Be terse.").ask("hi")
    request = server.wait_for(1)[0]
    assert request.path == "/v1/messages"
    assert request.headers["accept-encoding"] == "identity"
    assert request.headers["x-api-key"] == "sk-test-SECRET-0123456789"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.body["system"] == "Be terse." and request.body["stream"] is True
    assert request.body["messages"] == [{"role": "user", "content": "hi"}]


def test_complete_answers_the_conversation_as_it_stands(server, make_chat):
    server.reply("background answer")
    chat = make_chat("chat_completions")
    chat.add_message("user", "queued question")
    reply = chat.complete()
    assert reply.content == "background answer"
    assert server.wait_for(1)[0].body["messages"][-1] == {"role": "user", "content": "queued question"}


def test_with_model_switches_provider_and_its_key(server, make_chat, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    chat = make_chat("chat_completions")
    chat.with_model("claude-haiku-4-5", provider="anthropic")
    assert (chat.model, chat.provider, chat.protocol) == ("claude-haiku-4-5", "anthropic", "anthropic_messages")


@pytest.mark.parametrize("close_delimited", [False, True])
def test_a_chunk_arrives_while_the_server_is_still_sending(server, make_chat, protocol, close_delimited):
    """No buffering: the first chunk reaches on_chunk while the server stalls before the second."""
    server.queue(Reply(text=["first", "second"], stall_after=1, stall=10.0, close_delimited=close_delimited))
    chat = make_chat(protocol)
    seen = []

    def on_chunk(chunk):
        if chunk.content:
            seen.append((chunk.content, server.requests[0].done.is_set()))
            chat.cancel()        # do not wait for the stall to end

    with pytest.raises(llmchat.CancelledError):
        chat.ask("x", on_chunk=on_chunk)
    assert seen == [("first", False)]
    assert server.wait_for(1, timeout=5)[0].client_closed


def test_the_stream_ends_at_the_terminal_event_not_at_eof(server, make_chat, protocol):
    """Bytes after the terminal event (a server that keeps the connection open) are never waited for."""
    if protocol == "gemini":
        pytest.skip("Gemini has no terminal event: its stream ends at EOF")
    server.queue(Reply(text=["done"], stall_after=None, close_delimited=True, trailing_stall=10.0))
    chat = make_chat(protocol)
    assert chat.ask("x").content == "done"


def test_abandoning_the_iterator_keeps_the_partial_and_closes_the_connection(server, make_chat, protocol):
    server.queue(Reply(text=["a", "b", "c", "d"], delay=0.05), Reply(text="next"))
    chat = make_chat(protocol)
    ended = []
    chat.on_end_message(ended.append)
    chunks = chat.stream("x")
    for chunk in chunks:
        if chunk.content == "b":
            break
    chunks.close()
    message = chat.messages[-1]
    assert (message.content, message.status, ended) == ("ab", "incomplete", [message])
    assert isinstance(message.error, llmchat.CancelledError)
    assert server.wait_for(1)[0].client_closed
    assert chat.ask("again").content == "next"
    assert [m.role for m in chat.messages] == ["user", "assistant", "user", "assistant"]
