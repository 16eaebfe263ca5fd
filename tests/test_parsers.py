"""Parser unit tests: raw bytes, split at every awkward place, through the SSE framing into chunks."""

from __future__ import annotations

import json

import pytest

import llmchat
from llmchat.protocols import anthropic_messages, chat_completions
from llmchat.transport import frames


def sse(*objects, named=True):
    """Hand-written SSE bytes for these event objects (``event:`` lines from their "type" when named)."""
    out = ""
    for obj in objects:
        if named and isinstance(obj, dict) and "type" in obj:
            out += f"event: {obj['type']}\n"
        data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
        out += f"data: {data}\n\n"
    return out.encode()


def cc(delta=None, finish=None, **extra):
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "model": "gpt-x", "choices": [choice], **extra}


CC_STREAM = sse(
    cc({"role": "assistant", "content": ""}), cc({"content": "Grüß"}), cc({"content": " dich ✓"}),
    cc({"reasoning_content": "hmm"}),
    cc({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "w", "arguments": ""}}]}),
    cc({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                        "function": {"name": "t", "arguments": "{}"}}]}),
    cc({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    cc({"tool_calls": [{"index": 0, "function": {"arguments": '"Köln"}'}}]}),
    cc({}, "tool_calls"),
    {"id": "c1", "choices": [], "model": "gpt-x", "usage": {"prompt_tokens": 11, "completion_tokens": 7,
                                                            "completion_tokens_details": {"reasoning_tokens": 2}}},
    "[DONE]", named=False)

ANT_STREAM = sse(
    {"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 21, "output_tokens": 1}}},
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Überlege"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig=="}},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Grüß dich ✓"}},
    {"type": "content_block_start", "index": 2,
     "content_block": {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": 'ty": 1}'}},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}},
    {"type": "message_stop"})


def run(module, blocks):
    message = llmchat.Message("assistant")
    chunks = list(module.parse(frames(blocks)))
    for chunk in chunks:
        message.add(chunk)
    return message, chunks


def splits(data: bytes):
    """The stream cut in two at every byte, and in single bytes."""
    for at in range(len(data) + 1):
        yield [data[:at], data[at:]]
    yield [data[i:i + 1] for i in range(len(data))]


def summary(message):
    return (message.content, message.thinking, {i: c.arguments for i, c in message.tool_calls.items()},
            message.input_tokens, message.output_tokens, message.finish_reason, message.model_id)


def test_chat_completions_stream_reads_whole():
    message, chunks = run(chat_completions, [CC_STREAM])
    assert summary(message) == ("Grüß dich ✓", "hmm", {"call_a": '{"city": "Köln"}', "call_b": "{}"},
                                11, 7, "tool_calls", "gpt-x")
    assert message.reasoning_tokens == 2
    assert [c.tool_calls["call_a"].arguments for c in chunks if c.tool_calls and "call_a" in c.tool_calls] == \
        ["", '{"city": ', '"Köln"}']      # each chunk brings its fragment; the message holds the text so far


def test_chat_completions_result_never_depends_on_the_split():
    whole = summary(run(chat_completions, [CC_STREAM])[0])
    for blocks in splits(CC_STREAM):
        assert summary(run(chat_completions, blocks)[0]) == whole


def test_anthropic_stream_reads_whole():
    message, chunks = run(anthropic_messages, [ANT_STREAM])
    assert summary(message) == ("Grüß dich ✓", "Überlege", {"toolu_1": '{"city": 1}'}, 21, 30, "tool_use",
                                "claude-x")
    assert message.thinking_signature == "sig=="
    assert chunks[-1].finish_reason == "tool_use"


def test_anthropic_result_never_depends_on_the_split():
    whole = summary(run(anthropic_messages, [ANT_STREAM])[0])
    for blocks in splits(ANT_STREAM):
        assert summary(run(anthropic_messages, blocks)[0]) == whole


@pytest.mark.parametrize(("details", "detail"), [
    ({"type": "refusal", "category": "cyber", "explanation": "This asks for malware."}, "cyber"),
    ({"type": "refusal", "category": None, "explanation": None}, None), (None, None), ("odd", None)])
def test_anthropic_refusal_keeps_its_category_as_finish_detail(details, detail):
    data = sse({"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 5}}},
               {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
               {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Here is"}},
               {"type": "message_delta", "delta": {"stop_reason": "refusal", "stop_details": details},
                "usage": {"output_tokens": 3}},
               {"type": "message_stop"})
    message, _ = run(anthropic_messages, [data])
    assert (message.content, message.finish_reason, message.finish_detail) == ("Here is", "refusal", detail)
    assert message.content_filtered


def test_crlf_separated_events_are_read():
    data = CC_STREAM.replace(b"\n", b"\r\n")
    assert summary(run(chat_completions, [data])[0]) == summary(run(chat_completions, [CC_STREAM])[0])


def test_comments_and_unknown_events_are_ignored():
    data = b": keep-alive\n\n" + sse({"type": "mystery_event", "x": 1}) + ANT_STREAM
    assert run(anthropic_messages, [data])[0].content == "Grüß dich ✓"


@pytest.mark.parametrize(("module", "data"), [
    (chat_completions, b'data: {"choices": [{"delta": {"content": "a"}}]}\n\ndata: {not json\n\n'),
    (anthropic_messages, b'event: message_start\ndata: {"type": "message_start", "message": \n\n'),
])
def test_malformed_json_is_a_stream_error(module, data):
    with pytest.raises(llmchat.StreamError, match="malformed"):
        list(module.parse(frames([data])))


@pytest.mark.parametrize("module", [chat_completions, anthropic_messages])
def test_ending_without_the_terminal_event_is_a_stream_error(module):
    data = CC_STREAM[:200] if module is chat_completions else ANT_STREAM[:400]
    data = data[: data.rfind(b"\n\n") + 2]
    with pytest.raises(llmchat.StreamError, match="ended before"):
        list(module.parse(frames([data])))


def test_invalid_utf8_is_a_stream_error():
    with pytest.raises(llmchat.StreamError, match="UTF-8"):
        list(chat_completions.parse(frames([b'data: {"choices": [{"delta": {"content": "\xff\xfe"}}]}\n\n'])))


def test_empty_body_is_a_stream_error():
    with pytest.raises(llmchat.StreamError):
        list(anthropic_messages.parse(frames([])))


def test_chat_completions_in_stream_error_with_numeric_code():
    data = b'data: {"error": {"code": 429, "message": "Rate limit exceeded upstream"}}\n\n'
    with pytest.raises(llmchat.RateLimitError, match="Rate limit exceeded upstream"):
        list(chat_completions.parse(frames([data])))
