"""Cohere v2 chat stream: ``event: TYPE`` / ``data: {json}`` events, then ``data: [DONE]``."""

from __future__ import annotations

from typing import Any

from llmchat.testing.render import Context, Ev, Wire, checkpointed, kind_for_error, kind_for_status
from llmchat.testing.types import Reply

# Cohere's finish_reason for an in-stream failure, by error category
_FAILED = {"api_error": "ERROR", "overloaded_error": "ERROR", "rate_limit_error": "ERROR"}
TOOL_PLAN = "I will call the tools."


def _ev(kind: str, **fields: Any) -> Ev:
    return Ev({"type": kind, **fields}, name=kind)


def _message(**fields: Any) -> dict[str, Any]:
    return {"message": fields}


class Cohere(Wire):
    """message-start, thinking/text content blocks, tool plan and tool calls, message-end, [DONE]."""

    name = "cohere"

    def build(self, reply: Reply, ctx: Context) -> list[Ev | int]:
        steps: list[Ev | int] = [_ev("message-start", id="msg-test", delta=_message(
            role="assistant", content=[], tool_plan="", tool_calls=[], citations=[]))]
        index = 0
        if reply.thinking:
            steps += self._block(index, "thinking", reply.thinking)
            index += 1
        if reply.text:
            steps += self._block(index, "text", reply.text, checkpoints=True)
        else:
            steps.append(0)
        if reply.tool_calls:
            steps.append(_ev("tool-plan-delta", delta=_message(tool_plan=TOOL_PLAN)))
        for number, call in enumerate(reply.tool_calls):
            head = {"id": call.id or ctx.next_id(f"{call.name}_"), "type": "function",
                    "function": {"name": call.name, "arguments": ""}}
            steps.append(_ev("tool-call-start", index=number, delta=_message(tool_calls=head)))
            steps += [_ev("tool-call-delta", index=number,
                          delta=_message(tool_calls={"function": {"arguments": part}}))
                      for part in call.fragments()]
            steps.append(_ev("tool-call-end", index=number))
        finish = reply.finish or ("TOOL_CALL" if reply.tool_calls else "COMPLETE")
        steps.append(_ev("message-end", delta=self._end(reply, finish)))
        steps.append(Ev("[DONE]", terminal=True))
        return steps

    def error_event(self, reply: Reply, ctx: Context) -> Ev:
        """A ``message-end`` with ``finish_reason: ERROR`` and the message, as Cohere ends a failed stream."""
        kind, message = kind_for_error(reply.error)
        return _ev("message-end", delta={"finish_reason": _FAILED.get(kind.type, "ERROR"), "error": message})

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return {"id": "err-test", "message": message or kind_for_status(status).message}

    @staticmethod
    def _block(index: int, kind: str, pieces: tuple[str, ...], checkpoints: bool = False) -> list[Ev | int]:
        deltas = [_ev("content-delta", index=index, delta=_message(content={kind: piece})) for piece in pieces]
        start = _ev("content-start", index=index, delta=_message(content={"type": kind, kind: ""}))
        middle: list[Ev | int] = checkpointed(deltas) if checkpoints else list(deltas)
        return [start, *middle, _ev("content-end", index=index)]

    @staticmethod
    def _end(reply: Reply, finish: str) -> dict[str, Any]:
        delta: dict[str, Any] = {"finish_reason": finish}
        if reply.usage:
            output = reply.output_token_count()
            tokens: dict[str, Any] = {"input_tokens": reply.input_tokens + 500, "output_tokens": output + 2}
            if reply.reasoning_tokens is not None:
                tokens["reasoning_tokens"] = reply.reasoning_tokens
            delta["usage"] = {"billed_units": {"input_tokens": reply.input_tokens, "output_tokens": output},
                              "tokens": tokens, "cached_tokens": 0}
        return delta
