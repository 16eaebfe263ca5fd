"""Anthropic Messages stream: ``event: NAME`` / ``data: {json}`` content blocks."""

from __future__ import annotations

from typing import Any

from llmchat.testing.render import Context, Ev, Wire, checkpointed, kind_for_error, kind_for_status
from llmchat.testing.types import Call, Reply

SIGNATURE = "c2lnbmF0dXJl"


def _ev(kind: str, **fields: Any) -> Ev:
    return Ev({"type": kind, **fields}, name=kind)


def _block(index: int, start: dict[str, Any], deltas: list[Ev],
           text_checkpoints: bool = False) -> list[Ev | int]:
    """content_block_start, the deltas (with checkpoints for text), content_block_stop."""
    middle: list[Ev | int] = checkpointed(deltas) if text_checkpoints else list(deltas)
    return [_ev("content_block_start", index=index, content_block=start), *middle,
            _ev("content_block_stop", index=index)]


def _delta(index: int, **delta: Any) -> Ev:
    return _ev("content_block_delta", index=index, delta=delta)


class AnthropicMessages(Wire):
    """message_start, ping, thinking / text / tool_use blocks, message_delta, message_stop."""

    name = "anthropic_messages"

    def build(self, reply: Reply, ctx: Context) -> list[Ev | int]:
        steps: list[Ev | int] = [self._start(reply, ctx)]
        if not reply.pings:
            steps.append(_ev("ping"))
        blocks = 0
        if reply.thinking:
            deltas = [_delta(blocks, type="thinking_delta", thinking=piece) for piece in reply.thinking]
            deltas.append(_delta(blocks, type="signature_delta", signature=SIGNATURE))
            steps += _block(blocks, {"type": "thinking", "thinking": "", "signature": ""}, deltas)
            blocks += 1
        if reply.text:
            deltas = [_delta(blocks, type="text_delta", text=piece) for piece in reply.text]
            steps += _block(blocks, {"type": "text", "text": ""}, deltas, text_checkpoints=True)
            blocks += 1
        else:
            steps.append(0)
        for call in reply.tool_calls:
            steps += self._tool_use(blocks, call, ctx)
            blocks += 1
        finish = reply.finish or ("tool_use" if reply.tool_calls else "end_turn")
        delta: dict[str, Any] = {"delta": {"stop_reason": finish, "stop_sequence": None}}
        if reply.usage:
            delta["usage"] = {"output_tokens": reply.output_token_count()}
        steps.append(_ev("message_delta", **delta))
        steps.append(Ev({"type": "message_stop"}, name="message_stop", terminal=True))
        return steps

    def error_event(self, reply: Reply, ctx: Context) -> Ev:
        kind, message = kind_for_error(reply.error)
        return _ev("error", error={"type": kind.type, "message": message})

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        kind = kind_for_status(status)
        return {"type": "error", "error": {"type": kind.type, "message": message or kind.message}}

    def ping(self) -> bytes:
        return b'event: ping\ndata: {"type": "ping"}\n\n'

    def frame(self, event: Ev) -> bytes:
        if event.name == "ping":
            return self.ping()
        return super().frame(event)

    @staticmethod
    def _start(reply: Reply, ctx: Context) -> Ev:
        message: dict[str, Any] = {"id": "msg_test", "type": "message", "role": "assistant",
                                   "model": ctx.model, "content": [], "stop_reason": None,
                                   "stop_sequence": None}
        if reply.usage:
            message["usage"] = {"input_tokens": reply.input_tokens, "cache_creation_input_tokens": 0,
                                "cache_read_input_tokens": 0, "output_tokens": 1}
        return _ev("message_start", message=message)

    @staticmethod
    def _tool_use(index: int, call: Call, ctx: Context) -> list[Ev | int]:
        start = {"type": "tool_use", "id": call.id or ctx.next_id("toolu_"), "name": call.name, "input": {}}
        deltas = [_delta(index, type="input_json_delta", partial_json=part) for part in call.fragments()]
        return _block(index, start, deltas)
