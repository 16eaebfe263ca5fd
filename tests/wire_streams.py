"""Small hand-written stream generators for the fault and fuzz tests: one answer, four wire formats.

Independent of llmchat.testing's renderers on purpose: these are the bytes the tests mutate and
split, and the values the parsers must read back from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

import llmchat
from llmchat.message import Chunk, Message

PROTOCOLS = ("anthropic_messages", "chat_completions", "gemini", "responses")
MODELS = {"chat_completions": ("gpt-4.1-mini", "openai"), "anthropic_messages": ("claude-haiku-4-5", "anthropic"),
          "responses": ("gpt-5-nano", "openai"), "gemini": ("gemini-2.5-flash", "gemini")}
FINISH = {"chat_completions": "stop", "anthropic_messages": "end_turn", "responses": "completed", "gemini": "STOP"}


def chat_at(base_url: str, protocol: str, api_key: str = "k", **options: Any) -> llmchat.Chat:
    """A chat at ``base_url`` with only the options given (none of conftest's test defaults)."""
    model, provider = MODELS[protocol]
    return llmchat.chat(model, provider=provider, protocol=protocol, base_url=base_url, api_key=api_key, **options)


@dataclass(frozen=True)
class Answer:
    """What the model says: text and thinking pieces, tool calls ``(id, name, arguments)``, usage."""

    text: tuple[str, ...] = ()
    thinking: tuple[str, ...] = ()
    calls: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    input_tokens: int = 7
    output_tokens: int = 3
    extra: dict[str, Any] = field(default_factory=dict)


def _pieces(text: str, count: int = 3) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _chat_completions(a: Answer) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = [(None, {"id": "c1", "model": "m-1", "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    out += [(None, {"choices": [{"index": 0, "delta": {"reasoning_content": t}}]}) for t in a.thinking]
    out += [(None, {"choices": [{"index": 0, "delta": {"content": t}}]}) for t in a.text]
    for index, (call_id, name, args) in enumerate(a.calls):
        out.append((None, {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}}]}))
        out += [(None, {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": index, "function": {"arguments": piece}}]}}]}) for piece in _pieces(json.dumps(args))]
    out.append((None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    usage = {"prompt_tokens": a.input_tokens, "completion_tokens": a.output_tokens}
    out.append((None, {"choices": [], "usage": usage}))
    return [*out, (None, "[DONE]")]


def _block(index: int, start: dict[str, Any], deltas: Iterable[dict[str, Any]]) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
    out += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    return [*out, ("content_block_stop", {"type": "content_block_stop", "index": index})]


def _anthropic_messages(a: Answer) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": {
        "model": "m-1", "usage": {"input_tokens": a.input_tokens, "output_tokens": 1}}}), ("ping", {"type": "ping"})]
    blocks = []
    if a.thinking:
        blocks.append(({"type": "thinking", "thinking": ""}, [{"type": "thinking_delta", "thinking": t}
                                                              for t in a.thinking]))
    if a.text:
        blocks.append(({"type": "text", "text": ""}, [{"type": "text_delta", "text": t} for t in a.text]))
    for call_id, name, args in a.calls:
        blocks.append(({"type": "tool_use", "id": call_id, "name": name, "input": {}},
                       [{"type": "input_json_delta", "partial_json": p} for p in _pieces(json.dumps(args))]))
    for index, (start, deltas) in enumerate(blocks):
        out += _block(index, start, deltas)
    out.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                  "usage": {"output_tokens": a.output_tokens}}))
    return [*out, ("message_stop", {"type": "message_stop"})]


def _responses(a: Answer) -> list[tuple[str | None, Any]]:
    def ev(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        return kind, {"type": kind, **fields}

    out = [ev("response.created", response={"model": "m-1", "status": "in_progress"})]
    out += [ev("response.reasoning_summary_text.delta", item_id="rs_1", delta=t) for t in a.thinking]
    out += [ev("response.output_text.delta", item_id="msg_1", output_index=1, delta=t) for t in a.text]
    for index, (call_id, name, args) in enumerate(a.calls, start=2):
        item = {"type": "function_call", "id": f"fc_{index}", "call_id": call_id, "name": name, "arguments": ""}
        out.append(ev("response.output_item.added", output_index=index, item=item))
        out += [ev("response.function_call_arguments.delta", item_id=f"fc_{index}", delta=p)
                for p in _pieces(json.dumps(args))]
    usage = {"input_tokens": a.input_tokens, "output_tokens": a.output_tokens}
    return [*out, ev("response.completed", response={"model": "m-1", "status": "completed", "usage": usage})]


def _gemini(a: Answer) -> list[tuple[str | None, Any]]:
    def ev(parts: list[dict[str, Any]], **more: Any) -> tuple[None, dict[str, Any]]:
        return None, {"candidates": [{"content": {"role": "model", "parts": parts}, **more}], "modelVersion": "m-1"}

    out = [ev([{"text": t, "thought": True}]) for t in a.thinking]
    out += [ev([{"text": t}]) for t in a.text]
    out += [ev([{"functionCall": {"id": call_id, "name": name, "args": args}}]) for call_id, name, args in a.calls]
    last = ev([{"text": ""}], finishReason="STOP")
    last[1]["usageMetadata"] = {"promptTokenCount": a.input_tokens, "candidatesTokenCount": a.output_tokens}
    return [*out, last]


RENDER = {"chat_completions": _chat_completions, "anthropic_messages": _anthropic_messages,
          "responses": _responses, "gemini": _gemini}


def events(protocol: str, answer: Answer) -> list[bytes]:
    """Each SSE event of ``answer`` in ``protocol``, as bytes (LF line ends)."""
    out = []
    for name, data in RENDER[protocol](answer):
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out.append(((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode())
    return out


def body(protocol: str, answer: Answer, eol: str = "\n") -> bytes:
    """The whole stream; ``eol`` may be ``\\r\\n`` (as some servers send)."""
    return b"".join(events(protocol, answer)).replace(b"\n", eol.encode())


def expected(protocol: str, answer: Answer) -> dict[str, Any]:
    """What a client must read from the stream."""
    return {"content": "".join(answer.text) or None, "thinking": "".join(answer.thinking) or None,
            "calls": {i: (n, args) for i, n, args in answer.calls}, "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens, "finish": FINISH[protocol]}


def result(chunks: Iterable[Chunk]) -> dict[str, Any]:
    """The same summary, from parsed chunks (accumulated as the spine does)."""
    message = Message("assistant")
    for chunk in chunks:
        assert chunk.content is None or type(chunk.content) is str
        assert chunk.thinking is None or type(chunk.thinking) is str
        message.add(chunk)
    calls = {i: (c.name, c.arguments if isinstance(c.arguments, dict) else json.loads(c.arguments or "{}"))
             for i, c in message.tool_calls.items()}
    return {"content": message.content or None, "thinking": message.thinking or None, "calls": calls,
            "input_tokens": message.input_tokens, "output_tokens": message.output_tokens,
            "finish": message.finish_reason}
