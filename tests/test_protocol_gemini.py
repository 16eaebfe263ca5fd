"""The Gemini protocol: parser fed raw bytes through ``transport.frames``, request bodies, and end to end."""

from __future__ import annotations

import json

import pytest

import llmchat
from llmchat.errors import BadRequestError, RateLimitError, ServiceUnavailableError, StreamError
from llmchat.message import Chunk, Message, ToolCall
from llmchat.protocols import Request, gemini
from llmchat.providers import for_model
from llmchat.testing import Call, Reply
from llmchat.transport import frames

MODEL = "gemini-2.5-flash"


def event(parts=None, finish=None, usage=None, model=MODEL, **extra) -> bytes:
    """One ``data:`` event as Gemini frames it (CRLF separators, compact JSON)."""
    obj = dict(extra)
    if parts is not None:
        candidate = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        obj["candidates"] = [candidate]
    if usage is not None:
        obj["usageMetadata"] = usage
    if model:
        obj["modelVersion"] = model
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\r\n\r\n"


def run(*blocks: bytes) -> list[Chunk]:
    return list(gemini.parse(frames(blocks)))


def fold(chunks: list[Chunk]) -> Message:
    message = Message("assistant")
    for chunk in chunks:
        message.add(chunk)
    return message


SMALL = (event([{"text": "Grüße, "}], usage={"promptTokenCount": 7})
         + event([{"text": "wörld ✓ 🙂"}])
         + event([{"text": "!"}], finish="STOP",
                 usage={"promptTokenCount": 7, "candidatesTokenCount": 5, "thoughtsTokenCount": 3}))


# ----------------------------------------------------------------------------------- framing


def test_small_stream_parses_whole():
    chunks = run(SMALL)
    assert [c.content for c in chunks] == ["Grüße, ", "wörld ✓ 🙂", "!", None]
    final = chunks[-1]
    assert (final.finish_reason, final.input_tokens, final.output_tokens, final.reasoning_tokens,
            final.model_id) == ("STOP", 7, 8, 3, MODEL)


def test_every_two_way_split_gives_the_same_chunks():
    whole = run(SMALL)
    assert b"\r\n\r\n" in SMALL and "🙂".encode() in SMALL
    for at in range(1, len(SMALL)):
        assert run(SMALL[:at], SMALL[at:]) == whole, f"split at byte {at}: {SMALL[at - 3:at + 3]!r}"


def test_one_byte_blocks_split_crlf_and_multibyte_characters():
    chunks = run(*(SMALL[i:i + 1] for i in range(len(SMALL))))
    message = fold(chunks)
    assert message.content == "Grüße, wörld ✓ 🙂!"
    assert (message.finish_reason, message.input_tokens, message.output_tokens) == ("STOP", 7, 8)


def test_split_between_cr_and_lf_of_the_separator():
    raw = event([{"text": "a"}]) + event([{"text": "b"}], finish="STOP")
    first_cr = raw.index(b"\r\n\r\n")
    for at in (first_cr + 1, first_cr + 2, first_cr + 3):
        assert [c.content for c in run(raw[:at], raw[at:])] == ["a", "b", None]


# ----------------------------------------------------------------------------------- parsing


def test_thought_parts_are_thinking_and_other_text_is_content():
    chunks = run(event([{"text": "**Plan**\nadd them", "thought": True}]),
                 event([{"text": "4"}], finish="STOP"))
    assert [(c.thinking, c.content) for c in chunks[:2]] == [("**Plan**\nadd them", None), (None, "4")]
    message = fold(chunks)
    assert (message.thinking, message.content) == ("**Plan**\nadd them", "4")


def test_several_text_parts_in_one_event_keep_their_order():
    chunks = run(event([{"text": "one "}, {"text": "hmm", "thought": True}, {"text": "two"}], finish="STOP"))
    message = fold(chunks)
    assert message.content == "one two"
    assert message.thinking == "hmm"
    assert "".join(c.content or "" for c in chunks) == "one two"


def test_function_calls_without_ids_get_unique_ids_and_keep_their_signature():
    raw = event([{"functionCall": {"name": "weather", "args": {"lat": "52.5"}}, "thoughtSignature": "c2ln"},
                 {"functionCall": {"name": "weather", "args": {"lat": "48.8"}}}],
                finish="STOP", usage={"promptTokenCount": 10, "candidatesTokenCount": 4})
    first, again = fold(run(raw)), fold(run(raw))
    calls = list(first.tool_calls.values())
    assert [(c.name, c.arguments) for c in calls] == [("weather", {"lat": "52.5"}), ("weather", {"lat": "48.8"})]
    assert [c.signature for c in calls] == ["c2ln", None]
    ids = [c.id for c in calls] + list(again.tool_calls)
    assert len(set(ids)) == 4 and all(i.startswith(gemini.GENERATED_ID) for i in ids)
    assert first.finish_reason == "STOP"


def test_function_call_id_from_the_api_is_kept():
    message = fold(run(event([{"functionCall": {"id": "fc-7", "name": "clock", "args": {}}}], finish="STOP")))
    assert message.tool_calls == {"fc-7": ToolCall("fc-7", "clock", {})}


def test_usage_last_report_wins_and_missing_counts_are_zero():
    chunks = run(event([{"text": "x"}], usage={"promptTokenCount": 3, "candidatesTokenCount": 1,
                                                "thoughtsTokenCount": 50}),
                 event([{"text": "y"}], finish="STOP", usage={"promptTokenCount": 3, "thoughtsTokenCount": 60}))
    final = chunks[-1]
    assert (final.input_tokens, final.output_tokens, final.reasoning_tokens) == (3, 60, 60)


def test_no_usage_at_all_leaves_token_counts_unknown():
    final = run(event([{"text": "x"}], finish="STOP", model=None))[-1]
    assert (final.finish_reason, final.input_tokens, final.output_tokens, final.model_id) == ("STOP", None, None, None)


def test_max_tokens_finish_reason_is_kept_unmapped():
    message = fold(run(event([{"text": "The story began"}], finish="MAX_TOKENS",
                             usage={"promptTokenCount": 5, "candidatesTokenCount": 16})))
    assert (message.content, message.finish_reason, message.output_tokens) == ("The story began", "MAX_TOKENS", 16)


def test_empty_signature_part_at_the_end_becomes_the_thinking_signature():
    chunks = run(event([{"text": "Answer"}]), event([{"text": "", "thoughtSignature": "U0lH"}], finish="STOP"))
    assert [c.content for c in chunks] == ["Answer", None]
    assert fold(chunks).thinking_signature == "U0lH"


def test_stream_without_finish_reason_ended_early():
    chunks = []
    with pytest.raises(StreamError):
        for chunk in gemini.parse(frames([event([{"text": "half an"}])])):
            chunks.append(chunk)
    assert [c.content for c in chunks] == ["half an"]


def test_blocked_prompt_is_a_bad_request_naming_the_reason():
    raw = event(promptFeedback={"blockReason": "SAFETY"}, usage={"promptTokenCount": 9})
    with pytest.raises(BadRequestError, match="prompt blocked: SAFETY"):
        run(raw)


@pytest.mark.parametrize(("code", "status", "cls"), [
    (429, "RESOURCE_EXHAUSTED", RateLimitError),
    (503, "UNAVAILABLE", ServiceUnavailableError),
])
def test_in_stream_error_event_raises_its_class_after_the_partial_text(code, status, cls):
    raw = event([{"text": "Once upon"}]) + event(error={"code": code, "message": "try later", "status": status},
                                                 model=None)
    chunks = []
    with pytest.raises(cls, match="try later") as info:
        for chunk in gemini.parse(frames([raw])):
            chunks.append(chunk)
    assert [c.content for c in chunks] == ["Once upon"]
    assert info.value.status_code == code


def test_malformed_event_is_a_stream_error():
    with pytest.raises(StreamError, match="not JSON"):
        run(b"data: {\"candidates\": [\r\n\r\n")


# ----------------------------------------------------------------------------------- requests


class Tool:
    def __init__(self, name, description, schema):
        self.name, self.description, self._schema = name, description, schema

    def schema(self):
        return self._schema


WEATHER = Tool("weather", "Gets the weather", {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
    "properties": {"city": {"type": "string", "description": "City name"},
                   "days": {"type": ["integer", "null"]},
                   "units": {"anyOf": [{"type": "string", "enum": ["C", "F"]}, {"type": "null"}]},
                   "tags": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                       "properties": {"k": {"const": "v"}}}}},
    "required": ["city"]})
CLOCK = Tool("clock", "Tells the time", {"type": "object", "properties": {}})


def test_path_names_the_model_and_asks_for_sse():
    assert gemini.path(Request("gemini-2.5-flash", [])) == "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert gemini.path(Request("models/odd name", [])) == "/models/odd%20name:streamGenerateContent?alt=sse"


def test_body_has_system_instruction_generation_config_and_params_last():
    request = Request(MODEL, [Message("system", "Be terse."), Message("user", "hi")], temperature=0.2,
                      max_tokens=99, params={"generationConfig": {"thinkingConfig": {"includeThoughts": True}}})
    assert gemini.body(request) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 99, "thinkingConfig": {"includeThoughts": True}},
    }


def test_tool_declarations_drop_keys_gemini_rejects_and_zero_parameter_tools_have_no_parameters():
    declarations = gemini.body(Request(MODEL, [Message("user", "x")], tools=[WEATHER, CLOCK]))["tools"]
    weather, clock = declarations[0]["functionDeclarations"]
    assert clock == {"name": "clock", "description": "Tells the time"}
    assert weather["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"},
                       "days": {"type": "integer", "nullable": True},
                       "units": {"nullable": True, "type": "string", "enum": ["C", "F"]},
                       "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"enum": ["v"]}}}}},
        "required": ["city"]}
    assert "additionalProperties" not in json.dumps(declarations)


def test_tool_round_trip_renders_signature_calls_and_grouped_results():
    raw = event([{"text": "Checking."},
                 {"functionCall": {"name": "weather", "args": {"city": "Berlin"}}, "thoughtSignature": "c2ln"},
                 {"functionCall": {"id": "api-2", "name": "clock", "args": {}}}], finish="STOP")
    answer = fold(run(raw))
    generated, given = answer.tool_calls
    history = [Message("user", "Weather and time?"), answer,
               Message("tool", "Sunny", tool_call_id=generated), Message("tool", "noon", tool_call_id=given)]
    contents = gemini.body(Request(MODEL, history, tools=[WEATHER, CLOCK]))["contents"]
    assert contents[1] == {"role": "model", "parts": [
        {"text": "Checking."},
        {"functionCall": {"name": "weather", "args": {"city": "Berlin"}}, "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "clock", "args": {}, "id": "api-2"}}]}
    assert contents[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "weather", "response": {"name": "weather", "content": "Sunny"}}},
        {"functionResponse": {"name": "clock", "response": {"name": "clock", "content": "noon"}, "id": "api-2"}}]}
    assert len(contents) == 3


def test_text_signature_goes_back_on_the_text_part_and_thoughts_are_not_sent():
    answer = Message("assistant", "42", thinking="mulling", thinking_signature="U0lH")
    contents = gemini.body(Request(MODEL, [Message("user", "?"), answer, Message("user", "why?")]))["contents"]
    assert contents[1] == {"role": "model", "parts": [{"text": "42", "thoughtSignature": "U0lH"}]}
    assert [c["role"] for c in contents] == ["user", "model", "user"]


def test_provider_is_found_by_model_and_sends_the_google_key_header():
    provider = for_model("gemini-2.5-flash")
    assert (provider.name, provider.protocol, provider.key_env) == ("gemini", "gemini", "GEMINI_API_KEY")
    assert for_model("gemma-3-27b-it").name == "gemini"
    assert provider.auth_headers("k") == {"x-goog-api-key": "k"}


# ----------------------------------------------------------------------------------- end to end


def make(server, **options):
    options.setdefault("max_retries", 0)
    return llmchat.chat(MODEL, base_url=server.url("gemini"), api_key="k", **options)


def test_streams_text_thinking_and_usage(server):
    server.queue(Reply(thinking=["Adding ", "up."], text=["Two plus two ", "is four ✓"], input_tokens=11,
                       output_tokens=9, reasoning_tokens=5))
    chat = make(server)
    seen = []
    reply = chat.ask("2+2?", on_chunk=seen.append)
    assert [c.content for c in seen if c.content] == ["Two plus two ", "is four ✓"]
    assert (reply.thinking, reply.content, reply.status) == ("Adding up.", "Two plus two is four ✓", "complete")
    assert (reply.input_tokens, reply.output_tokens, reply.reasoning_tokens) == (11, 9, 5)
    assert (reply.finish_reason, reply.model_id) == ("STOP", MODEL)
    request = server.wait_for(1)[0]
    assert request.path == f"/v1beta/models/{MODEL}:streamGenerateContent" and request.query == {"alt": "sse"}
    assert request.headers["x-goog-api-key"] == "k"
    assert request.body["contents"] == [{"role": "user", "parts": [{"text": "2+2?"}]}]


def test_http_429_is_a_rate_limit_error_with_the_providers_message(server):
    server.queue(Reply(status=429, body={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                                                   "message": "Quota exceeded for generate_content_requests"}}))
    with pytest.raises(llmchat.RateLimitError, match="Quota exceeded for generate_content_requests") as info:
        make(server).ask("hi")
    assert info.value.status_code == 429


def test_in_stream_error_keeps_the_partial_answer(server):
    server.queue(Reply(text=["Once ", "upon"], error={"type": "rate_limit_error", "message": "slow down"},
                       error_after=1))
    chat = make(server)
    with pytest.raises(llmchat.RateLimitError, match="slow down") as info:
        chat.ask("story")
    assert info.value.partial == "Once "
    assert (chat.messages[-1].content, chat.messages[-1].status) == ("Once ", "incomplete")


def test_two_round_tool_conversation_sends_the_function_response(server):
    ran = []

    @llmchat.tool
    def weather(city: str) -> str:
        """Gets the weather for a city."""
        ran.append(city)
        return f"Sunny in {city}"

    server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"})]), Reply(text="It is sunny."))
    chat = make(server).with_tools(weather)
    reply = chat.ask("Weather in Berlin?")
    assert ran == ["Berlin"]
    assert reply.content == "It is sunny."
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant"]
    first, second = (r.body for r in server.wait_for(2))
    assert first["tools"][0]["functionDeclarations"][0]["name"] == "weather"
    model_turn, results = second["contents"][1], second["contents"][2]
    assert model_turn["role"] == "model"
    assert model_turn["parts"][0]["functionCall"] == {"name": "weather", "args": {"city": "Berlin"}}
    assert model_turn["parts"][0]["thoughtSignature"]          # sent back as received
    assert results == {"role": "user", "parts": [{"functionResponse": {
        "name": "weather", "response": {"name": "weather", "content": "Sunny in Berlin"}}}]}


def test_call_ids_chosen_by_the_api_go_back_with_the_result(server):
    server.queue(Reply(tool_calls=[Call("clock", {}, id="fc-42")]), Reply(text="Noon."))

    @llmchat.tool
    def clock() -> str:
        """Tells the time."""
        return "12:00"

    chat = make(server).with_tools(clock)
    assert chat.ask("Time?").content == "Noon."
    second = server.wait_for(2)[1].body
    assert "parameters" not in second["tools"][0]["functionDeclarations"][0]
    assert second["contents"][1]["parts"][0]["functionCall"]["id"] == "fc-42"
    assert second["contents"][2]["parts"][0]["functionResponse"]["id"] == "fc-42"
