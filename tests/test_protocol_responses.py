"""The OpenAI Responses protocol: request bodies, the stream parser over raw bytes, and end to end over HTTP."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

import llmchat
from llmchat.message import Chunk, Message, ToolCall
from llmchat.protocols import Request
from llmchat.protocols import responses as protocol
from llmchat.testing import Call, Reply
from llmchat.transport import frames

# --------------------------------------------------------------------------- hand-written streams


def ev(kind: str, **fields: Any) -> bytes:
    """One SSE event as the Responses API frames it: ``event: TYPE`` and a JSON ``data:`` line."""
    data = json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


def created(model: str = "gpt-5-nano") -> bytes:
    response = {"id": "resp_1", "status": "in_progress", "model": model, "output": [], "usage": None}
    return ev("response.created", response=response, sequence_number=0)


def completed(status: str = "completed", model: str = "gpt-5-nano-2025", items: list | None = None,
              kind: str = "response.completed", tokens: tuple[int, int, int] = (7, 5, 0),
              details: Any = None) -> bytes:
    """The terminal event; ``tokens`` is (input, output, reasoning), ``details`` its incomplete_details."""
    data = {"input_tokens": tokens[0], "output_tokens": tokens[1],
            "output_tokens_details": {"reasoning_tokens": tokens[2]}}
    response = {"id": "resp_1", "status": status, "model": model, "output": items or [], "usage": data,
                "incomplete_details": details}
    return ev(kind, response=response)


def text(delta: str, item: str = "msg_1") -> bytes:
    return ev("response.output_text.delta", item_id=item, output_index=0, content_index=0, delta=delta)


def message_item(item_id: str, full: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": full, "annotations": []}]}


def call_added(item_id: str, call_id: str, name: str, index: int) -> bytes:
    item = {"id": item_id, "type": "function_call", "status": "in_progress", "arguments": "",
            "call_id": call_id, "name": name}
    return ev("response.output_item.added", output_index=index, item=item)


def args(item_id: str, delta: str) -> bytes:
    return ev("response.function_call_arguments.delta", item_id=item_id, output_index=0, delta=delta)


def parse(blocks: list[bytes]) -> list[Chunk]:
    return list(protocol.parse(frames(blocks)))


def fold(chunks: list[Chunk]) -> Message:
    message = Message("assistant")
    for chunk in chunks:
        message.add(chunk)
    return message


def summary(message: Message) -> tuple:
    calls = [(c.id, c.name, c.arguments) for c in message.tool_calls.values()]
    return (message.content, message.thinking, calls, message.finish_reason, message.model_id,
            message.input_tokens, message.output_tokens, message.reasoning_tokens)


TEXT_STREAM = b"".join([
    b": keep-alive\n\n",
    created(),
    ev("response.output_item.added", output_index=0,
       item={"id": "msg_1", "type": "message", "role": "assistant", "content": []}),
    text("Grüße, "),
    text("🌍 ✓"),
    ev("response.output_text.done", item_id="msg_1", output_index=0, content_index=0, text="Grüße, 🌍 ✓"),
    ev("response.output_item.done", output_index=0, item=message_item("msg_1", "Grüße, 🌍 ✓")),
    completed(items=[message_item("msg_1", "Grüße, 🌍 ✓")], tokens=(12, 4, 0)),
])
TEXT_RESULT = ("Grüße, 🌍 ✓", None, [], "completed", "gpt-5-nano-2025", 12, 4, 0)


# --------------------------------------------------------------------------- the parser


def test_text_and_usage_come_out_of_a_whole_stream():
    chunks = parse([TEXT_STREAM])
    assert [c.content for c in chunks] == ["Grüße, ", "🌍 ✓", None]
    final = chunks[-1]
    assert (final.finish_reason, final.input_tokens, final.output_tokens, final.model_id) == \
        ("completed", 12, 4, "gpt-5-nano-2025")
    assert summary(fold(chunks)) == TEXT_RESULT


def test_every_split_point_gives_the_same_result():
    for at in range(1, len(TEXT_STREAM)):
        assert summary(fold(parse([TEXT_STREAM[:at], TEXT_STREAM[at:]]))) == TEXT_RESULT, at


def test_one_byte_pieces_and_a_split_inside_a_multibyte_character():
    assert summary(fold(parse([TEXT_STREAM[i:i + 1] for i in range(len(TEXT_STREAM))]))) == TEXT_RESULT
    at = TEXT_STREAM.index("🌍".encode()) + 2       # in the middle of the 4-byte emoji
    chunks = parse([TEXT_STREAM[:at], TEXT_STREAM[at:]])
    assert [c.content for c in chunks if c.content] == ["Grüße, ", "🌍 ✓"]


def test_reasoning_summary_streams_as_thinking_with_parts_joined_as_the_sdk_joins_them():
    rs = {"item_id": "rs_1", "output_index": 0}
    parts = [{"type": "summary_text", "text": "**Plan**\n\nAdd."}, {"type": "summary_text", "text": "**Check**"}]
    stream = [
        created(),
        ev("response.output_item.added", output_index=0, item={"id": "rs_1", "type": "reasoning", "summary": []}),
        ev("response.reasoning_summary_part.added", summary_index=0, **rs, part={"type": "summary_text", "text": ""}),
        ev("response.reasoning_summary_text.delta", summary_index=0, **rs, delta="**Plan**\n\n"),
        ev("response.reasoning_summary_text.delta", summary_index=0, **rs, delta="Add."),
        ev("response.reasoning_summary_text.done", summary_index=0, **rs, text="**Plan**\n\nAdd."),
        ev("response.reasoning_summary_text.delta", summary_index=1, **rs, delta="**Check**"),
        ev("response.output_item.done", output_index=0,
           item={"id": "rs_1", "type": "reasoning", "summary": parts, "encrypted_content": "gAAA"}),
        text("4"),
        completed(tokens=(20, 30, 25)),
    ]
    chunks = parse(stream)
    assert [c.thinking for c in chunks if c.thinking] == ["**Plan**\n\n", "Add.", "**Check**"]
    message = fold(chunks)
    assert (message.thinking, message.content) == ("**Plan**\n\nAdd.**Check**", "4")
    assert (message.input_tokens, message.output_tokens, message.reasoning_tokens) == (20, 30, 25)


def test_reasoning_text_is_thinking_and_a_later_summary_of_the_same_item_is_not_repeated():
    rs = {"item_id": "rs_9", "output_index": 0, "content_index": 0}
    stream = [
        ev("response.reasoning_text.delta", **rs, delta="Two plus "),
        ev("response.reasoning_text.delta", **rs, delta="two."),
        ev("response.reasoning_summary_text.delta", item_id="rs_9", output_index=0, summary_index=0,
           delta="Adding."),
        ev("response.output_item.done", output_index=0,
           item={"id": "rs_9", "type": "reasoning", "content": [{"type": "reasoning_text", "text": "Two plus two."}],
                 "summary": [{"type": "summary_text", "text": "Adding."}]}),
        text("4", item="msg_2"),
        completed(),
    ]
    message = fold(parse(stream))
    assert (message.thinking, message.content) == ("Two plus two.", "4")


def test_parallel_function_calls_with_interleaved_argument_deltas():
    stream = [
        created(),
        call_added("fc_1", "call_A", "weather", 0),
        call_added("fc_2", "call_B", "time", 1),
        args("fc_1", '{"city":'),
        args("fc_2", '{"tz":"Europe/'),
        args("fc_1", '"Berlin"}'),
        args("fc_2", 'Paris"}'),
        ev("response.function_call_arguments.done", item_id="fc_1", output_index=0, arguments='{"city":"Berlin"}'),
        ev("response.function_call_arguments.done", item_id="fc_2", output_index=1, arguments='{"tz":"Europe/Paris"}'),
        completed(),
    ]
    chunks = parse(stream)
    streamed = [(cid, call.name, call.arguments) for c in chunks if c.tool_calls for cid, call in c.tool_calls.items()]
    assert streamed == [
        ("call_A", "weather", ""), ("call_B", "time", ""),
        ("call_A", "weather", '{"city":'), ("call_B", "time", '{"tz":"Europe/'),
        ("call_A", "weather", '"Berlin"}'), ("call_B", "time", 'Paris"}'),
    ]   # each chunk brings its fragment
    assert fold(chunks).tool_calls == {"call_A": ToolCall("call_A", "weather", '{"city":"Berlin"}'),
                                       "call_B": ToolCall("call_B", "time", '{"tz":"Europe/Paris"}')}


def test_arguments_done_fills_in_when_the_deltas_are_missing():
    stream = [call_added("fc_1", "call_A", "weather", 0),
              ev("response.function_call_arguments.done", item_id="fc_1", output_index=0, arguments='{"city":"Rome"}'),
              completed()]
    assert fold(parse(stream)).tool_calls["call_A"].arguments == '{"city":"Rome"}'


def test_items_sent_only_whole_are_not_lost():
    call = {"id": "fc_7", "type": "function_call", "call_id": "call_Z", "name": "now", "arguments": "{}"}
    stream = [ev("response.output_item.done", output_index=0, item=message_item("msg_1", "Let me check.")),
              ev("response.output_item.done", output_index=1, item=call),
              completed(items=[message_item("msg_1", "Let me check."), call])]
    message = fold(parse(stream))
    assert message.content == "Let me check."
    assert message.tool_calls == {"call_Z": ToolCall("call_Z", "now", "{}")}


def test_output_only_in_the_completed_response_is_read_from_it():
    call = {"id": "fc_7", "type": "function_call", "call_id": "call_Z", "name": "now", "arguments": "{}"}
    message = fold(parse([completed(items=[message_item("msg_1", "Hi."), call])]))
    assert (message.content, list(message.tool_calls)) == ("Hi.", ["call_Z"])


def test_streamed_text_is_not_repeated_from_the_finished_items():
    assert fold(parse([TEXT_STREAM])).content == "Grüße, 🌍 ✓"
    bare = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi."}\n\n'
    stream = [bare, ev("response.output_item.done", output_index=0, item=message_item("msg_1", "Hi.")),
              completed(items=[message_item("msg_1", "Hi.")])]
    assert fold(parse(stream)).content == "Hi."     # deltas without item ids still count


def test_incomplete_response_ends_with_its_own_status_and_usage():
    stream = [text("Once upon"), completed(status="incomplete", kind="response.incomplete", tokens=(3, 9, 0))]
    chunks = parse(stream)
    assert (chunks[-1].finish_reason, chunks[-1].input_tokens, chunks[-1].output_tokens) == ("incomplete", 3, 9)
    assert fold(chunks).content == "Once upon"


FILTERED_STREAM = b"".join([
    created(), text("Once "), text("upön"),
    completed(status="incomplete", kind="response.incomplete", tokens=(3, 2, 0), details={"reason": "content_filter"}),
])


def test_an_answer_the_filter_ends_keeps_its_text_and_is_content_filtered_however_the_bytes_are_cut():
    want = ("Once upön", "incomplete", "content_filter", True, 3, 2)
    stream = FILTERED_STREAM
    pieces = [[stream]] + [[stream[:at], stream[at:]] for at in range(1, len(stream))]
    pieces.append([stream[i:i + 1] for i in range(len(stream))])
    for blocks in pieces:
        m = fold(parse(blocks))
        assert (m.content, m.finish_reason, m.finish_detail, m.content_filtered, m.input_tokens,
                m.output_tokens) == want, [len(b) for b in blocks]


@pytest.mark.parametrize(("details", "detail", "filtered"), [
    ({"reason": "max_output_tokens"}, "max_output_tokens", False),
    (None, None, False), ("content_filter", None, False), ({"reason": ["content_filter"]}, None, False),
    ({"reason": {"x": 1}}, None, False), ({}, None, False),
])
def test_other_incomplete_reasons_are_not_filtered_and_odd_details_are_ignored(details, detail, filtered):
    m = fold(parse([text("Once"), completed(status="incomplete", kind="response.incomplete", details=details)]))
    assert (m.content, m.finish_reason, m.finish_detail, m.content_filtered) == ("Once", "incomplete", detail, filtered)


def test_a_completed_response_has_no_finish_detail():
    assert fold(parse([TEXT_STREAM])).finish_detail is None


def test_parsing_stops_at_the_terminal_event():
    def events() -> Iterator[tuple[str, str]]:
        yield from frames([text("done"), completed()])
        raise AssertionError("read past response.completed")

    assert [c.content for c in protocol.parse(events())] == ["done", None]


def test_unknown_events_are_ignored():
    stream = [ev("response.queued", response={}), text("a"),
              ev("response.output_text.annotation.added", item_id="msg_1", annotation={"type": "url_citation"}),
              ev("response.some_future_event", whatever=[1, 2]), text("b"), completed()]
    assert fold(parse(stream)).content == "ab"


def failed(code: str | None, message: str) -> bytes:
    response = {"id": "resp_1", "status": "failed", "error": {"code": code, "message": message}, "output": []}
    return ev("response.failed", response=response)


@pytest.mark.parametrize(("code", "cls"), [("rate_limit_exceeded", llmchat.RateLimitError),
                                           ("server_is_overloaded", llmchat.OverloadedError),
                                           ("server_error", llmchat.ServerError),
                                           ("some_future_code", llmchat.APIError)])
def test_response_failed_raises_the_class_its_code_names(code, cls):
    seen = []
    with pytest.raises(cls, match="try again later") as info:
        for chunk in protocol.parse(frames([created(), text("Half an "), failed(code, "try again later")])):
            seen.append(chunk.content)
    # an in-stream error has the status of its class (None only for the generic APIError)
    assert type(info.value) is cls and info.value.status_code == {llmchat.RateLimitError: 429,
                                                                  llmchat.OverloadedError: 529,
                                                                  llmchat.ServerError: 500}.get(cls)
    assert seen == ["Half an "]


@pytest.mark.parametrize(("event", "cls"), [
    ({"code": "rate_limit_exceeded", "message": "Slow down", "param": None}, llmchat.RateLimitError),
    ({"code": None, "message": "Something went wrong", "param": None}, llmchat.APIError),
    ({"error": {"type": "invalid_request_error", "code": "context_length_exceeded",
                "message": "Your input exceeds the context window of this model."}},
     llmchat.ContextLengthExceededError),
])
def test_error_event_raises_its_typed_error(event, cls):
    with pytest.raises(cls) as info:
        parse([text("x"), ev("error", **event)])
    assert type(info.value) is cls


def test_a_stream_without_its_terminal_event_is_a_stream_error():
    with pytest.raises(llmchat.StreamError, match="response.completed"):
        parse([created(), text("Once upon")])
    with pytest.raises(llmchat.StreamError):
        parse([])


def test_malformed_json_is_a_stream_error():
    with pytest.raises(llmchat.StreamError, match="not JSON"):
        parse([text("ok"), b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",\n\n'])


def test_error_bodies_give_type_and_message():
    body = '{"error":{"message":"Rate limit reached for gpt-5","type":"requests","code":"rate_limit_exceeded"}}'
    assert protocol.error(body) == ("rate_limit_exceeded", "Rate limit reached for gpt-5")


# --------------------------------------------------------------------------- the request


def test_body_renders_the_conversation_as_input_items():
    weather = llmchat.tool(lambda city: "sunny", name="weather", description="Weather in a city",
                           parameters={"type": "object", "properties": {"city": {"type": "string"}}})
    history = [
        Message("system", "Be terse."), Message("user", "Weather in Berlin and Paris?"),
        Message("assistant", "Checking.", tool_calls={
            "call_1": ToolCall("call_1", "weather", {"city": "Berlin"}),
            "call_2": ToolCall("call_2", "weather", {"city": "Paris"})}, thinking="hidden"),
        Message("tool", "sunny", tool_call_id="call_1"), Message("tool", "rain", tool_call_id="call_2"),
        Message("system", "Use metric."), Message("assistant", "Berlin sunny, Paris rain."), Message("user", "Thanks"),
    ]
    body = protocol.body(Request("gpt-5-nano", history, [weather], temperature=0.2, max_tokens=300))
    assert protocol.path(Request("gpt-5-nano", history)) == "/responses"
    assert body == {
        "model": "gpt-5-nano", "stream": True, "store": False, "instructions": "Be terse.\n\nUse metric.",
        "input": [
            {"role": "user", "content": "Weather in Berlin and Paris?"},
            {"role": "assistant", "content": "Checking."},
            {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city": "Berlin"}'},
            {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "call_2", "output": "rain"},
            {"role": "assistant", "content": "Berlin sunny, Paris rain."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [{"type": "function", "name": "weather", "description": "Weather in a city",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": False}],
        "temperature": 0.2, "max_output_tokens": 300,
    }


def test_params_are_merged_last_and_nested_dicts_key_by_key():
    request = Request("gpt-5", [Message("user", "hi")], max_tokens=10,
                      params={"max_output_tokens": 99, "reasoning": {"effort": "low"}, "store": False})
    body = protocol.body(request)
    assert (body["max_output_tokens"], body["reasoning"], body["store"]) == (99, {"effort": "low"}, False)
    assert "instructions" not in body and "tools" not in body and "temperature" not in body


# --------------------------------------------------------------------------- end to end over HTTP


def make(server, **options: Any) -> llmchat.Chat:
    options.setdefault("max_retries", 0)
    return llmchat.chat("gpt-5-nano", provider="openai", protocol="responses", base_url=server.url("responses"),
                        api_key="k", **options)


def test_openai_speaks_responses_by_default_and_chat_completions_on_request():
    assert llmchat.chat("gpt-5-nano", api_key="k").protocol == "responses"
    assert llmchat.chat("gpt-5-nano", api_key="k", protocol="chat_completions").protocol == "chat_completions"


def test_streamed_text_and_usage(server):
    server.queue(Reply(text=["Hel", "lo ", "wörld ✓"], input_tokens=21, output_tokens=8, reasoning_tokens=3))
    chat = make(server).with_instructions("Be nice.")
    pieces = []
    reply = chat.ask("Hi", on_chunk=lambda c: pieces.append(c.content))
    assert [p for p in pieces if p] == ["Hel", "lo ", "wörld ✓"]
    assert (reply.content, reply.finish_reason, reply.status) == ("Hello wörld ✓", "completed", "complete")
    assert (reply.input_tokens, reply.output_tokens, reply.reasoning_tokens) == (21, 8, 3)
    assert reply.model_id == "gpt-5-nano" and chat.messages[-1] is reply
    request = server.requests[0]
    assert request.path == "/v1/responses" and request.headers["authorization"] == "Bearer k"
    assert request.body == {"model": "gpt-5-nano", "input": [{"role": "user", "content": "Hi"}], "stream": True,
                            "store": False, "instructions": "Be nice."}


def test_thinking_streams_before_the_answer(server):
    server.queue(Reply(thinking=["Two plus ", "two is four."], text="4"))
    chat = make(server)
    order = []
    reply = chat.ask("2+2?", on_chunk=lambda c: order.append(("thinking", c.thinking) if c.thinking
                                                              else ("text", c.content)))
    assert [o for o in order if o[1]] == [("thinking", "Two plus "), ("thinking", "two is four."), ("text", "4")]
    assert (reply.thinking, reply.content) == ("Two plus two is four.", "4")


def test_http_429_is_a_rate_limit_error_and_is_retried_when_allowed(server):
    server.queue(Reply(status=429, headers={"retry-after": "0"}))
    chat = make(server)
    with pytest.raises(llmchat.RateLimitError) as info:
        chat.ask("Hi")
    assert info.value.status_code == 429 and chat.messages[-1].status == "incomplete"

    server.queue(Reply(status=429, headers={"retry-after": "0"}), Reply(text="Hello"))
    retried = make(server, max_retries=1, retry_interval=0.01)
    assert retried.ask("Hi").content == "Hello"
    assert len(server.requests) == 3


@pytest.mark.parametrize(("kind", "cls"), [("rate_limit_error", llmchat.RateLimitError),
                                           ("overloaded_error", llmchat.OverloadedError)])
def test_in_stream_failure_keeps_the_partial_answer(server, kind, cls):
    server.queue(Reply(text=["Once ", "upon ", "a time"], error={"type": kind, "message": "try later"},
                       error_after=2))
    chat = make(server, max_retries=2, retry_interval=0.01)
    with pytest.raises(cls, match="try later") as info:
        chat.ask("Story")
    message = chat.messages[-1]
    assert (message.content, message.status, message.error) == ("Once upon ", "incomplete", info.value)
    assert info.value.partial == "Once upon " and info.value.partial_message is message
    assert len(server.requests) == 1    # text was delivered: never retried


def test_incomplete_response_is_a_finished_message_with_the_providers_status(server):
    server.queue(Reply(text=["Long ", "story"], finish="incomplete", output_tokens=16))
    reply = make(server).ask("Story")
    assert (reply.content, reply.finish_reason, reply.status, reply.output_tokens) == \
        ("Long story", "incomplete", "complete", 16)


def test_a_stream_cut_before_its_terminal_event_is_a_stream_error(server):
    server.queue(Reply(text=["Once ", "upon"], terminal=False))
    chat = make(server)
    with pytest.raises(llmchat.StreamError) as info:
        chat.ask("Story")
    assert info.value.partial == "Once upon" and chat.messages[-1].status == "incomplete"


def test_two_round_tool_conversation(server):
    def weather(city: str) -> str:
        runs.append(city)
        return f"Sunny in {city}, 21°C"

    runs: list[str] = []
    tool = llmchat.tool(weather, name="weather", description="Current weather",
                        parameters={"type": "object", "properties": {"city": {"type": "string"}},
                                    "required": ["city"]})
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"}, id="call_abc", pieces=4)]),
                 Reply(text=["It is ", "sunny."]))
    chat = make(server).with_tool(tool)
    calls = []
    chat.on_tool_call(calls.append)
    reply = chat.ask("Weather in Berlin?")
    assert runs == ["Berlin"] and reply.content == "It is sunny."
    assert calls == [ToolCall("call_abc", "weather", {"city": "Berlin"})]
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant"]
    assert chat.messages[1].finish_reason == "completed"

    first, follow_up = server.requests[0].body, server.requests[1].body
    assert first["tools"] == [{"type": "function", "name": "weather", "description": "Current weather",
                               "parameters": tool.schema(), "strict": False}]
    assert follow_up["input"] == [
        {"role": "user", "content": "Weather in Berlin?"},
        {"type": "function_call", "call_id": "call_abc", "name": "weather", "arguments": '{"city": "Berlin"}'},
        {"type": "function_call_output", "call_id": "call_abc", "output": "Sunny in Berlin, 21°C"},
    ]


def test_parallel_tool_calls_each_get_their_result(server):
    @llmchat.tool
    def clock(zone: str) -> str:
        """Time in a zone."""
        return f"12:00 {zone}"

    server.queue(Reply(tool_calls=[Call("clock", {"zone": "UTC"}), Call("clock", {"zone": "CET"})]),
                 Reply(text="Noon."))
    assert make(server).with_tool(clock).ask("Time?").content == "Noon."
    outputs = [(i["call_id"], i["output"]) for i in server.requests[1].body["input"]
               if i.get("type") == "function_call_output"]
    calls = [i["call_id"] for i in server.requests[1].body["input"] if i.get("type") == "function_call"]
    assert [o[1] for o in outputs] == ["12:00 UTC", "12:00 CET"]
    assert [o[0] for o in outputs] == calls and len(set(calls)) == 2
