"""Cohere v2 chat: the ``cohere`` protocol's events, tool calls, usage and errors, over real HTTP."""

from __future__ import annotations

import json
import logging

import pytest

import llmchat
from llmchat import providers
from llmchat.protocols import cohere
from llmchat.testing import Call, Reply

KEY = "co-test-SECRET-0123456789"
MODEL = "command-a-03-2025"


def ev(kind, **fields):
    return kind, json.dumps({"type": kind, **fields})


def msg(**fields):
    return {"message": fields}


STREAM = [  # the shapes of Cohere's v2 stream reference, a reasoning model calling two tools
    ev("message-start", id="m1", delta=msg(role="assistant", content=[], tool_plan="", tool_calls=[], citations=[])),
    ev("content-start", index=0, delta=msg(content={"type": "thinking", "thinking": ""})),
    ev("content-delta", index=0, delta=msg(content={"thinking": "User wants weather."})),
    ev("content-end", index=0),
    ev("tool-plan-delta", delta=msg(tool_plan="I will look it up.")),
    ev("tool-call-start", index=0, delta=msg(tool_calls={"id": "get_weather_abc", "type": "function",
                                                         "function": {"name": "get_weather", "arguments": ""}})),
    *[ev("tool-call-delta", index=0, delta=msg(tool_calls={"function": {"arguments": part}}))
      for part in ['{"', "latitude", '":', "5", "2", "}"]],
    ev("tool-call-end", index=0),
    ev("tool-call-start", index=1, delta=msg(tool_calls={"id": "now_def", "type": "function",
                                                         "function": {"name": "now", "arguments": ""}})),
    ev("tool-call-end", index=1),
    ev("debug", delta={}),
    ev("citation-start", index=0, delta=msg(citations={"start": 0, "end": 3, "text": "x", "sources": []})),
    ev("citation-end", index=0),
    ev("message-end", delta={"finish_reason": "TOOL_CALL", "usage": {
        "billed_units": {"input_tokens": 7.0, "output_tokens": 21.0},
        "tokens": {"input_tokens": 502.0, "output_tokens": 24.0, "reasoning_tokens": 3.0}, "cached_tokens": 0}}),
    ("message", "[DONE]"),
]


def collect(events):
    out = llmchat.Message("assistant")
    for chunk in cohere.parse(events):
        out.add(chunk)
    return out


def test_parse_thinking_tool_calls_and_billed_usage():
    reply = collect(STREAM)
    assert reply.thinking == "User wants weather." and reply.content is None   # the tool plan is not thinking
    assert {i: (c.name, c.arguments) for i, c in reply.tool_calls.items()} == {
        "get_weather_abc": ("get_weather", '{"latitude":52}'), "now_def": ("now", "")}
    assert (reply.input_tokens, reply.output_tokens, reply.reasoning_tokens) == (7, 21, 3)
    assert reply.finish_reason == "TOOL_CALL"


def test_usage_falls_back_to_tokens_and_done_may_come_early():
    events = [ev("content-delta", index=0, delta=msg(content={"text": "Hi"})),
              ev("message-end", delta={"finish_reason": "COMPLETE", "usage": {"tokens": {"input_tokens": 5,
                                                                                        "output_tokens": 1}}})]
    reply = collect(events)
    assert (reply.content, reply.input_tokens, reply.output_tokens) == ("Hi", 5, 1)
    with pytest.raises(llmchat.StreamError, match="message-end"):
        collect(events[:1] + [("message", "[DONE]")])
    with pytest.raises(llmchat.StreamError, match="message-end"):
        collect(events[:1])


@pytest.mark.parametrize(("finish", "cls"), [("ERROR", llmchat.ServerError),
                                             ("TIMEOUT", llmchat.ServiceUnavailableError)])
def test_failed_generation_in_message_end_raises(finish, cls):
    events = [ev("content-delta", index=0, delta=msg(content={"text": "Hal"})),
              ev("message-end", delta={"finish_reason": finish, "error": "internal failure"})]
    with pytest.raises(cls, match="internal failure" if finish == "ERROR" else "TIMEOUT|internal"):
        collect(events)


def test_error_bodies():
    assert cohere.error('{"id":"x","message":"invalid api token"}') == (None, "invalid api token")
    kind, text = cohere.error('{"error_type":"TOO_MANY_TOKENS","message":"too many tokens: size limit exceeded"}')
    assert llmchat.errors.error_class(400, kind, text) is llmchat.ContextLengthExceededError


def test_model_inference_and_key_variables(monkeypatch):
    assert providers.for_model(MODEL).name == "cohere"
    assert providers.for_model("command-r-plus-08-2024").name == "cohere"
    with pytest.raises(llmchat.ConfigurationError, match="COHERE_API_KEY"):
        llmchat.chat(MODEL)
    monkeypatch.setenv("COHERE_API_KEY", KEY)
    chat = llmchat.chat(MODEL)
    assert (chat.provider, chat.protocol, chat._base_url) == ("cohere", "cohere", "https://api.cohere.com")


def make(server, **options):
    options.setdefault("max_retries", 0)
    return llmchat.chat(MODEL, base_url=server.url("cohere"), api_key=KEY, **options)


def test_streams_over_http_split_anywhere(server):
    server.queue(Reply(text=["Hel", "lo ", "wörld"], thinking=["Hm"], split=5, split_seed=1))
    pieces = []
    reply = make(server).ask("hi", on_chunk=lambda c: pieces.append(c.content or ""))
    assert reply.content == "Hello wörld" == "".join(pieces) and reply.thinking == "Hm"
    request = server.requests[-1]
    assert request.path == "/v2/chat" and request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["stream"] is True and request.body["messages"] == [{"role": "user", "content": "hi"}]


def test_tool_loop_with_parallel_calls_over_http(server):
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"}, pieces=6), Call("clock")]),
                 Reply(text="Sunny at noon."))

    @llmchat.tool
    def weather(city: str) -> str:
        """Weather in a city."""
        return f"sunny in {city}"

    @llmchat.tool
    def clock() -> str:
        """The time."""
        return "12:00"

    chat = make(server).with_instructions("Be brief.").with_tools(weather, clock)
    assert chat.ask("Weather and time?").content == "Sunny at noon."
    messages = server.requests[-1].body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert [c["function"]["name"] for c in messages[2]["tool_calls"]] == ["weather", "clock"]
    assert json.loads(messages[2]["tool_calls"][0]["function"]["arguments"]) == {"city": "Berlin"}
    assert "tool_plan" not in messages[2]
    assert messages[3:] == [{"role": "tool", "tool_call_id": "weather_1", "content": "sunny in Berlin"},
                            {"role": "tool", "tool_call_id": "clock_1", "content": "12:00"}]
    assert server.requests[0].body["tools"][0]["function"]["parameters"]["properties"]["city"]


@pytest.mark.parametrize(("reply", "cls"), [
    (Reply(status=498, body={"id": "e", "message": "invalid api token"}), llmchat.UnauthorizedError),
    (Reply(status=401), llmchat.UnauthorizedError),
    (Reply(status=429), llmchat.RateLimitError),
    (Reply(status=400, body={"id": "e", "error_type": "TOO_MANY_TOKENS",
                             "message": "too many tokens: size limit exceeded by 25836 tokens."}),
     llmchat.ContextLengthExceededError),
    (Reply(text=["Once"], error={"type": "api_error", "message": "internal failure"}), llmchat.ServerError),
    (Reply(text=["Once"], cut_after=1), llmchat.ConnectionError),
])
def test_error_shapes_are_typed(server, reply, cls):
    server.queue(reply)
    chat = make(server)
    with pytest.raises(cls) as info:
        chat.ask("hi")
    if reply.text:
        assert info.value.partial == "Once"
    assert KEY not in str(info.value)


def test_conformance_style_chat(server):
    """As check.py builds it: provider="cohere", base_url = the replay root, api_key="test"."""
    server.reply("ok")
    chat = llmchat.chat(model=MODEL, provider="cohere", protocol="cohere", base_url=server.root, api_key="test")
    assert chat.ask("hi").content == "ok" and server.requests[-1].path == "/v2/chat"


def test_key_never_logged(server, caplog):
    server.reply("ok")
    with caplog.at_level(logging.DEBUG, logger="llmchat"):
        make(server).ask("hi")
    assert "message-end" in caplog.text and KEY not in caplog.text
