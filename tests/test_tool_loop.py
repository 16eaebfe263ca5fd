"""Tools while streaming, end to end over real HTTP on every protocol: the stream pauses, the tool
runs, its result goes back in the protocol's own format, and the stream resumes."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

import llmchat
from llmchat.testing import Call, Reply

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOCOLS = ("anthropic_messages", "chat_completions", "gemini", "responses")
STREAMED_ARGUMENTS = ("anthropic_messages", "chat_completions", "responses")   # Gemini sends whole objects
TRUNCATED_FINISH = {"chat_completions": "length", "anthropic_messages": "max_tokens", "responses": "incomplete"}


class SensorError(Exception):
    """A tool's own failure: must reach the caller unchanged."""


class Weather(llmchat.Tool):
    description = "Gets current weather for a location"

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def execute(self, latitude: str, longitude: str) -> str:
        """Args:
            latitude: Latitude, e.g. 52.52
            longitude: Longitude, e.g. 13.40
        """
        self.runs.append({"latitude": latitude, "longitude": longitude})
        return f"15°C at {latitude},{longitude}"


def city_tool(log: list[Any], server: Any = None) -> llmchat.Tool:
    """A ``weather(city)`` tool logging (city, requests served so far) for every run."""

    @llmchat.tool
    def weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: The city name.
        """
        log.append((city, len(server.requests) if server is not None else None))
        return f"15°C in {city}"

    return weather


# --------------------------------------------------------------------------- reading request bodies


def sent_calls(protocol: str, body: dict[str, Any]) -> list[tuple[str | None, str, dict[str, Any]]]:
    """(id, name, arguments) of every tool call in a request's history, in the protocol's own format."""
    if protocol == "chat_completions":
        return [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
                for m in body["messages"] for c in m.get("tool_calls") or []]
    if protocol == "anthropic_messages":
        return [(b["id"], b["name"], b["input"]) for m in body["messages"] if isinstance(m["content"], list)
                for b in m["content"] if b["type"] == "tool_use"]
    if protocol == "responses":
        return [(i["call_id"], i["name"], json.loads(i["arguments"])) for i in body["input"]
                if i.get("type") == "function_call"]
    return [(p["functionCall"].get("id"), p["functionCall"]["name"], p["functionCall"]["args"])
            for c in body["contents"] for p in c["parts"] if "functionCall" in p]


def sent_results(protocol: str, body: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(call id, result text) of every tool result in a request's history (Gemini: id only when given)."""
    if protocol == "chat_completions":
        return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]
    if protocol == "anthropic_messages":
        return [(b["tool_use_id"], b["content"]) for m in body["messages"] if isinstance(m["content"], list)
                for b in m["content"] if b["type"] == "tool_result"]
    if protocol == "responses":
        return [(i["call_id"], i["output"]) for i in body["input"] if i.get("type") == "function_call_output"]
    return [(p["functionResponse"].get("id"), p["functionResponse"]["response"]["content"])
            for c in body["contents"] for p in c["parts"] if "functionResponse" in p]


def declared_tools(protocol: str, body: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """name -> (description, parameter schema) of the tools a request declares."""
    if protocol == "chat_completions":
        return {t["function"]["name"]: (t["function"]["description"], t["function"]["parameters"])
                for t in body["tools"]}
    if protocol == "anthropic_messages":
        return {t["name"]: (t["description"], t["input_schema"]) for t in body["tools"]}
    if protocol == "responses":
        return {t["name"]: (t["description"], t["parameters"]) for t in body["tools"]}
    return {d["name"]: (d["description"], d.get("parameters")) for t in body["tools"]
            for d in t["functionDeclarations"]}


def user_texts(protocol: str, body: dict[str, Any]) -> list[str]:
    if protocol == "gemini":
        return [p["text"] for c in body["contents"] if c["role"] == "user" for p in c["parts"] if "text" in p]
    items = body["input"] if protocol == "responses" else body["messages"]
    return [m["content"] for m in items if m.get("role") == "user" and isinstance(m["content"], str)]


# --------------------------------------------------------------------------- the loop


def test_two_round_conversation_fires_every_callback_in_order(server, make_chat, protocol):
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"}, id="call_w1")], input_tokens=7,
                       output_tokens=3),
                 Reply(text=["It is ", "15°C ", "in Berlin."], input_tokens=20, output_tokens=4))
    runs: list[Any] = []
    chat = make_chat(protocol).with_tool(city_tool(runs, server))
    events: list[Any] = []

    def on_chunk(chunk: llmchat.Chunk) -> None:
        if chunk.tool_calls:
            event = ("tool chunks", [c.name for c in chunk.tool_calls.values()])
        elif chunk.content:
            event = ("text", chunk.content)
        else:
            return
        if events and events[-1][0] == event[0] == "text":
            events[-1] = ("text", events[-1][1] + event[1])
        elif not (events and events[-1] == event):
            events.append(event)

    chat.on_new_message(lambda: events.append(("new", len(server.requests))))
    chat.on_end_message(lambda m: events.append(("end", m.role, list(m.tool_calls), m.content, m.status)))
    chat.on_tool_call(lambda call: events.append(("tool_call", call.name, call.arguments, len(server.requests))))
    chat.on_tool_result(lambda result: events.append(("tool_result", result)))

    reply = chat.ask("What's the weather in Berlin?", on_chunk=on_chunk)

    assert events == [
        ("new", 0),
        ("tool chunks", ["weather"]),
        ("end", "assistant", ["call_w1"], None, "complete"),
        ("tool_call", "weather", {"city": "Berlin"}, 1),
        ("tool_result", "15°C in Berlin"),
        ("new", 1),
        ("text", "It is 15°C in Berlin."),
        ("end", "assistant", [], "It is 15°C in Berlin.", "complete"),
    ]
    assert runs == [("Berlin", 1)]
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant"]
    first, tool_message = chat.messages[1], chat.messages[2]
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls.values()] == [
        ("call_w1", "weather", {"city": "Berlin"})]
    assert (tool_message.tool_call_id, tool_message.content) == ("call_w1", "15°C in Berlin")
    assert (first.input_tokens, first.output_tokens, reply.input_tokens, reply.output_tokens) == (7, 3, 20, 4)
    assert reply is chat.messages[-1] and reply.content == "It is 15°C in Berlin."
    assert sent_results(protocol, server.requests[1].body) == [("call_w1", "15°C in Berlin")]


def test_parallel_calls_all_run_before_the_next_request_and_go_back_together(server, make_chat, protocol):
    server.queue(Reply(text=["Checking both."], tool_calls=[Call("weather", {"city": "Berlin"}, id="c_ber"),
                                                            Call("weather", {"city": "Paris"}, id="c_par")]),
                 Reply(text=["Both sunny."]))
    runs: list[Any] = []
    chat = make_chat(protocol).with_tool(city_tool(runs, server))
    reply = chat.ask("Berlin and Paris?")

    assert runs == [("Berlin", 1), ("Paris", 1)]      # both ran after the first request, before the second
    assert reply.content == "Both sunny."
    assert len(server.requests) == 2
    body = server.requests[1].body
    assert sent_calls(protocol, body) == [("c_ber", "weather", {"city": "Berlin"}),
                                          ("c_par", "weather", {"city": "Paris"})]
    assert sent_results(protocol, body) == [("c_ber", "15°C in Berlin"), ("c_par", "15°C in Paris")]
    if protocol == "chat_completions":
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool", "tool"]
        assert body["messages"][1]["content"] == "Checking both."
    elif protocol == "anthropic_messages":     # both results in one user message, after the tool_use blocks
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
        assert [b["type"] for b in body["messages"][1]["content"]] == ["text", "tool_use", "tool_use"]
        assert [b["type"] for b in body["messages"][2]["content"]] == ["tool_result", "tool_result"]
    elif protocol == "responses":
        assert [i.get("type", i.get("role")) for i in body["input"]] == [
            "user", "assistant", "function_call", "function_call", "function_call_output",
            "function_call_output"]
    else:                                      # both functionResponses in one user content
        assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
        assert [p["functionResponse"]["name"] for p in body["contents"][2]["parts"]] == ["weather", "weather"]


def test_gemini_calls_without_ids_get_local_ids_that_are_never_sent(server, make_chat):
    """The real Gemini API sends function calls without ids: results go back by name, in order."""
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"}), Call("weather", {"city": "Paris"})]),
                 Reply(text="ok"))
    chat = make_chat("gemini").with_tool(city_tool([]))
    chat.ask("Berlin and Paris?")
    ids = list(chat.messages[1].tool_calls)
    assert len(set(ids)) == 2
    assert [m.tool_call_id for m in chat.messages[2:4]] == ids
    body = server.requests[1].body
    assert sent_calls("gemini", body) == [(None, "weather", {"city": "Berlin"}), (None, "weather", {"city": "Paris"})]
    assert sent_results("gemini", body) == [(None, "15°C in Berlin"), (None, "15°C in Paris")]
    assert "gemini_call_" not in json.dumps(body)


# --------------------------------------------------------------------------- interleaved fragments


def _sse(events: list[Any], named: bool) -> str:
    out = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
        head = f"event: {event['type']}\n" if named and isinstance(event, dict) else ""
        out.append(f"{head}data: {data}\n\n")
    return "".join(out)


def _interleaved_chat_completions() -> str:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-x", "object": "chat.completion.chunk", "model": "gpt-4.1-mini",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def part(index: int, text: str, call_id: str | None = None) -> dict[str, Any]:
        if call_id is None:
            return {"index": index, "function": {"arguments": text}}
        return {"index": index, "id": call_id, "type": "function", "function": {"name": "weather", "arguments": text}}

    return _sse([chunk({"role": "assistant", "tool_calls": [part(0, "", "call_a"), part(1, "", "call_b")]}),
                 chunk({"tool_calls": [part(0, '{"city": ')]}),
                 chunk({"tool_calls": [part(1, '{"city": "Pa')]}),
                 chunk({"tool_calls": [part(0, '"Berlin"}'), part(1, 'ris"}')]}),   # both calls in one delta
                 chunk({}, "tool_calls"), "[DONE]"], named=False)


def _interleaved_anthropic() -> str:
    def start(index: int, call_id: str) -> dict[str, Any]:
        return {"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": call_id, "name": "weather", "input": {}}}

    def delta(index: int, text: str) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": text}}

    return _sse([{"type": "message_start", "message": {"id": "msg_x", "type": "message", "role": "assistant",
                                                       "model": "claude-haiku-4-5", "content": [],
                                                       "usage": {"input_tokens": 9, "output_tokens": 1}}},
                 start(0, "toolu_a"), start(1, "toolu_b"),
                 delta(0, '{"city": '), delta(1, '{"city": "Pa'), delta(0, '"Berlin"}'), delta(1, 'ris"}'),
                 {"type": "content_block_stop", "index": 0}, {"type": "content_block_stop", "index": 1},
                 {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}},
                 {"type": "message_stop"}], named=True)


def _interleaved_responses() -> str:
    def item(letter: str, arguments: str) -> dict[str, Any]:
        return {"id": f"fc_{letter}", "type": "function_call", "call_id": f"call_{letter}", "name": "weather",
                "arguments": arguments, "status": "completed" if arguments else "in_progress"}

    def delta(letter: str, text: str) -> dict[str, Any]:
        return {"type": "response.function_call_arguments.delta", "item_id": f"fc_{letter}",
                "output_index": "ab".index(letter), "delta": text}

    berlin, paris = '{"city": "Berlin"}', '{"city": "Paris"}'
    response = {"id": "resp_x", "object": "response", "model": "gpt-5-nano", "status": "in_progress", "output": []}
    return _sse([{"type": "response.created", "response": response},
                 {"type": "response.output_item.added", "output_index": 0, "item": item("a", "")},
                 {"type": "response.output_item.added", "output_index": 1, "item": item("b", "")},
                 delta("a", '{"city": '), delta("b", '{"city": "Pa'), delta("a", '"Berlin"}'), delta("b", 'ris"}'),
                 {"type": "response.function_call_arguments.done", "item_id": "fc_a", "output_index": 0,
                  "arguments": berlin},
                 {"type": "response.function_call_arguments.done", "item_id": "fc_b", "output_index": 1,
                  "arguments": paris},
                 {"type": "response.output_item.done", "output_index": 0, "item": item("a", berlin)},
                 {"type": "response.output_item.done", "output_index": 1, "item": item("b", paris)},
                 {"type": "response.completed",
                  "response": {**response, "status": "completed", "output": [item("a", berlin), item("b", paris)],
                               "usage": {"input_tokens": 9, "output_tokens": 30}}}], named=True)


def _parallel_gemini() -> str:
    """Gemini sends parallel calls as parts of one event, each with its arguments whole."""
    parts = [{"functionCall": {"name": "weather", "args": {"city": city}}} for city in ("Berlin", "Paris")]
    return _sse([{"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                  "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 30},
                  "modelVersion": "gemini-2.5-flash"}], named=False)


INTERLEAVED = {"chat_completions": _interleaved_chat_completions, "anthropic_messages": _interleaved_anthropic,
               "responses": _interleaved_responses, "gemini": _parallel_gemini}


def test_interleaved_argument_fragments_stay_apart(server, make_chat, protocol):
    server.queue(Reply(raw=INTERLEAVED[protocol](), split=7), Reply(text="Both sunny."))
    runs: list[Any] = []
    chat = make_chat(protocol).with_tool(city_tool(runs))
    seen: dict[str, list[Any]] = {}
    chat.ask("Berlin and Paris?", on_chunk=lambda c: [seen.setdefault(i, []).append(
        chat.messages[-1].tool_calls[i].arguments) for i in (c.tool_calls or {})])     # the text so far

    assert runs == [("Berlin", None), ("Paris", None)]
    message = chat.messages[1]
    assert [(c.name, c.arguments) for c in message.tool_calls.values()] == [
        ("weather", {"city": "Berlin"}), ("weather", {"city": "Paris"})]
    ids = list(message.tool_calls)
    assert list(seen) == ids
    if protocol != "gemini":
        assert ids == {"chat_completions": ["call_a", "call_b"], "anthropic_messages": ["toolu_a", "toolu_b"],
                       "responses": ["call_a", "call_b"]}[protocol]
        for call_id, full in zip(ids, ('{"city": "Berlin"}', '{"city": "Paris"}')):
            assert all(full.startswith(text) for text in seen[call_id]), seen[call_id]
            assert seen[call_id][-1] == full and len(set(seen[call_id])) >= 3
    expected_ids = [None, None] if protocol == "gemini" else ids
    assert sent_results(protocol, server.requests[1].body) == list(zip(expected_ids, ["15°C in Berlin",
                                                                                      "15°C in Paris"]))


def test_chunk_tool_calls_show_the_argument_text_growing(server, make_chat, protocol):
    server.queue(Reply(text=["Let me look."], tool_calls=[Call("weather", {"city": "Berlin"}, pieces=4)]),
                 Reply(text="Sunny."))
    chat = make_chat(protocol).with_tool(city_tool([]))
    progress = []

    def on_chunk(chunk: llmchat.Chunk) -> None:
        if chunk.tool_calls:          # the guide's pattern
            call = next(iter(chunk.tool_calls.values()))
            so_far = chat.messages[-1].tool_calls[call.id].arguments    # the text so far, for progress displays
            progress.append((call.name, call.arguments, so_far))

    chat.ask("Weather in Berlin?", on_chunk=on_chunk)
    assert {name for name, _, _ in progress} == {"weather"}
    texts = [so_far for _, _, so_far in progress]
    if protocol == "gemini":
        assert texts == [{"city": "Berlin"}]          # Gemini sends the arguments whole, as an object
    else:
        full = '{"city": "Berlin"}'
        assert "".join(fragment for _, fragment, _ in progress) == full     # a chunk brings its fragment
        assert texts[-1] == full and len(set(texts)) >= 4
        assert all(isinstance(t, str) and full.startswith(t) for t in texts)
        assert all(len(a) <= len(b) for a, b in zip(texts, texts[1:]))
    assert next(iter(chat.messages[1].tool_calls.values())).arguments == {"city": "Berlin"}


# --------------------------------------------------------------------------- declaring tools


def test_tools_declared_as_class_function_and_explicit_schema(server, make_chat, protocol):
    seen: list[Any] = []

    @llmchat.tool
    def best_language_to_learn() -> str:
        """Returns the best language to learn."""
        seen.append("best_language_to_learn")
        return "Python"

    def lookup(**arguments: Any) -> dict[str, Any]:
        seen.append(("lookup", arguments))
        return {"hits": [arguments["query"]] * arguments.get("limit", 1)}

    schema = {"type": "object", "properties": {"query": {"type": "string", "description": "What to find"},
                                               "limit": {"type": "integer"}}, "required": ["query"]}
    explicit = llmchat.tool(lookup, name="lookup", description="Looks things up", parameters=schema)
    weather = Weather()
    server.queue(Reply(tool_calls=[Call("weather", {"latitude": "52.52", "longitude": "13.40"}, id="t1"),
                                   Call("best_language_to_learn", {}, id="t2"),
                                   Call("lookup", {"query": "tea", "limit": 2}, id="t3")]),
                 Reply(text="Done."))
    chat = make_chat(protocol).with_tool(weather).with_tools(best_language_to_learn, explicit)
    assert chat.ask("Go").content == "Done."

    declared = declared_tools(protocol, server.requests[0].body)
    assert list(declared) == ["weather", "best_language_to_learn", "lookup"]
    assert declared["weather"] == ("Gets current weather for a location", {
        "type": "object", "required": ["latitude", "longitude"],
        "properties": {"latitude": {"type": "string", "description": "Latitude, e.g. 52.52"},
                       "longitude": {"type": "string", "description": "Longitude, e.g. 13.40"}}})
    assert declared["lookup"] == ("Looks things up", schema)
    no_parameters = None if protocol == "gemini" else {"type": "object", "properties": {}}
    assert declared["best_language_to_learn"] == ("Returns the best language to learn.", no_parameters)

    assert weather.runs == [{"latitude": "52.52", "longitude": "13.40"}]
    assert seen == ["best_language_to_learn", ("lookup", {"query": "tea", "limit": 2})]
    results = [text for _, text in sent_results(protocol, server.requests[1].body)]
    assert results == ["15°C at 52.52,13.40", "Python", '{"hits": ["tea", "tea"]}']


@pytest.mark.parametrize(("protocol", "arguments"), [(p, {}) for p in sorted(PROTOCOLS)] + [
    (p, "") for p in STREAMED_ARGUMENTS])       # "": no argument text at all (Gemini always sends an object)
def test_zero_argument_tool(server, make_chat, protocol, arguments):
    runs = []

    @llmchat.tool
    def best_language_to_learn() -> str:
        """Returns the best language to learn."""
        runs.append(1)
        return "Ruby"

    server.queue(Reply(tool_calls=[Call("best_language_to_learn", arguments, id="z1")]),
                 Reply(text="Ruby, of course."))
    chat = make_chat(protocol).with_tool(best_language_to_learn)
    assert chat.ask("Best language?").content == "Ruby, of course."
    assert runs == [1]
    assert chat.messages[1].tool_calls["z1"].arguments == {}
    body = server.requests[1].body
    assert sent_calls(protocol, body) == [("z1", "best_language_to_learn", {})]
    assert sent_results(protocol, body) == [("z1", "Ruby")]


# --------------------------------------------------------------------------- calls that go wrong


def test_unknown_tool_goes_back_as_an_error_result_and_the_loop_continues(server, make_chat, protocol):
    server.queue(Reply(tool_calls=[Call("forecast", {"city": "Berlin"}, id="u1")]),
                 Reply(tool_calls=[Call("weather", {"city": "Berlin"}, id="u2")]),
                 Reply(text="15°C."))
    runs: list[Any] = []
    results: list[str] = []
    chat = make_chat(protocol).with_tool(city_tool(runs)).on_tool_result(results.append)
    reply = chat.ask("Weather?")

    assert reply.content == "15°C." and len(server.requests) == 3
    assert results[0] == "Error: there is no tool called 'forecast'. Available tools: weather."
    assert results[1] == "15°C in Berlin" and runs == [("Berlin", None)]
    assert sent_results(protocol, server.requests[1].body) == [("u1", results[0])]
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]


@pytest.mark.parametrize(("arguments", "problem"), [
    ({"city": 5}, "argument 'city' must be string, got integer"),
    ({}, "missing required argument 'city'"),
    ({"city": "Berlin", "days": 3}, "unexpected argument 'days'"),
])
def test_arguments_that_do_not_fit_the_schema_go_back_as_an_error_result(server, make_chat, protocol,
                                                                         arguments, problem):
    server.queue(Reply(tool_calls=[Call("weather", arguments, id="b1")]), Reply(text="Let me retry."))
    runs: list[Any] = []
    chat = make_chat(protocol).with_tool(city_tool(runs))
    assert chat.ask("Weather?").content == "Let me retry."
    assert runs == []                                  # the tool never ran
    [(call_id, text)] = sent_results(protocol, server.requests[1].body)
    assert call_id == "b1"
    assert text == (f"Error: invalid arguments for tool 'weather': {problem}. "
                    f"Call it again with arguments that fit its parameters.")
    assert chat.messages[2].content == text


def test_a_tool_exception_reaches_the_caller_and_the_next_ask_sends_no_dangling_call(server, make_chat,
                                                                                      protocol):
    failure = SensorError("sensor offline")

    @llmchat.tool
    def broken(city: str) -> str:
        """Always fails."""
        raise failure

    server.queue(Reply(text=["Checking."], tool_calls=[Call("weather", {"city": "Berlin"}, id="x1"),
                                                       Call("broken", {"city": "Paris"}, id="x2"),
                                                       Call("weather", {"city": "Rome"}, id="x3")]))
    runs: list[Any] = []
    ended: list[llmchat.Message] = []
    chat = make_chat(protocol).with_tools(city_tool(runs), broken).on_end_message(ended.append)
    with pytest.raises(SensorError) as caught:
        chat.ask("Berlin, Paris, Rome?")
    assert caught.value is failure                     # unchanged: not wrapped, not re-typed
    assert runs == [("Berlin", None)]                  # the calls after the failing one did not run
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool"]
    assistant = chat.messages[1]
    assert assistant.status == "complete" and list(assistant.tool_calls) == ["x1", "x2", "x3"]
    assert ended == [assistant] and len(server.requests) == 1

    server.queue(Reply(text="Sorry about that."))
    assert chat.ask("Never mind, hello").content == "Sorry about that."
    body = server.requests[1].body
    assert sent_calls(protocol, body) == [] and sent_results(protocol, body) == []
    assert user_texts(protocol, body) == ["Berlin, Paris, Rome?", "Never mind, hello"]


def test_a_tool_argument_error_raised_inside_the_tool_is_the_tools_own(server, make_chat):
    @llmchat.tool
    def strict(city: str) -> str:
        """Fails the way a validating tool might."""
        raise llmchat.ToolArgumentError("strict", "unknown city")

    server.queue(Reply(tool_calls=[Call("strict", {"city": "Atlantis"})]))
    chat = make_chat("chat_completions").with_tool(strict)
    with pytest.raises(llmchat.ToolArgumentError, match="unknown city"):
        chat.ask("Atlantis?")
    assert len(server.requests) == 1


@pytest.mark.parametrize("protocol", STREAMED_ARGUMENTS)
def test_truncated_arguments_raise_tool_call_parse_error_with_the_finish_reason(server, make_chat, protocol):
    server.queue(Reply(tool_calls=[Call("weather", '{"city": "Ber', id="t1", pieces=2)],
                       finish=TRUNCATED_FINISH[protocol]))
    runs: list[Any] = []
    ended: list[llmchat.Message] = []
    streamed: list[str] = []
    chat = make_chat(protocol).with_tool(city_tool(runs)).on_end_message(ended.append)
    with pytest.raises(llmchat.ToolCallParseError) as caught:
        chat.ask("Weather?", on_chunk=lambda c: streamed.extend(
            chat.messages[-1].tool_calls[i].arguments for i in (c.tool_calls or {})))
    error = caught.value
    assert isinstance(error, llmchat.Error) and isinstance(error, ValueError)
    assert error.finish_reason == TRUNCATED_FINISH[protocol]
    assert "'weather'" in str(error) and "t1" in str(error)
    assert streamed[-1] == '{"city": "Ber' and runs == []
    message = chat.messages[-1]
    assert error.partial_message is message and ended == [message]
    assert (message.status, message.error, message.finish_reason) == ("incomplete", error,
                                                                       TRUNCATED_FINISH[protocol])

    server.queue(Reply(text="Hello."))
    chat.ask("Hello?")
    assert sent_calls(protocol, server.requests[1].body) == []


def test_the_rounds_limit_stops_a_runaway_loop(server, make_chat, protocol):
    server.queue(*[Reply(tool_calls=[Call("weather", {"city": f"City {n}"}, id=f"r{n}")]) for n in range(4)])
    runs: list[Any] = []
    chat = make_chat(protocol, max_tool_rounds=2).with_tool(city_tool(runs))
    with pytest.raises(llmchat.ToolLoopError, match="max_tool_rounds"):
        chat.ask("Loop forever")
    assert len(server.requests) == 3                   # two tool rounds, then the third answer still calls
    assert runs == [("City 0", None), ("City 1", None)]
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]

    server.queue(Reply(text="Stopped."))
    chat.ask("Stop")
    body = server.requests[3].body
    assert [c[0] for c in sent_calls(protocol, body)] == ["r0", "r1"]      # the unanswered third call is not sent
    assert [c[0] for c in sent_results(protocol, body)] == ["r0", "r1"]


def test_the_stream_iterator_runs_tools_too(server, make_chat, protocol):
    server.queue(Reply(tool_calls=[Call("weather", {"city": "Oslo"})]), Reply(text=["Cold", "."]))
    runs: list[Any] = []
    chat = make_chat(protocol).with_tool(city_tool(runs))
    chunks = list(chat.stream("Oslo?"))
    assert any(c.tool_calls for c in chunks) and "".join(c.content or "" for c in chunks) == "Cold."
    assert runs == [("Oslo", None)] and chat.messages[-1].content == "Cold."


def test_tool_argument_error_is_an_llmchat_error():
    error = llmchat.ToolArgumentError("weather", ["missing required argument 'city'"])
    assert isinstance(error, llmchat.Error) and isinstance(error, ValueError)
    assert (str(error), error.tool_name, error.partial) == ("weather: missing required argument 'city'",
                                                           "weather", "")


# --------------------------------------------------------------------------- the example


@pytest.mark.parametrize("protocol_name", PROTOCOLS)
def test_weather_example_shows_tool_progress_offline(protocol_name):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "weather_tools.py"), "--protocol",
                             protocol_name], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("[Calling: weather]") == 1, out
    assert "[Result: " in out and "Berlin" in out
    assert out.index("[Calling: weather]") < out.index("[Result: ") < out.rindex("Berlin")
