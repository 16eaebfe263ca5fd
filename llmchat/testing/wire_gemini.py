"""Gemini ``streamGenerateContent?alt=sse`` stream: ``data: {chunk}`` events separated by CRLF."""

from __future__ import annotations

from typing import Any

from llmchat.testing.render import Context, Ev, Wire, checkpointed, dumps, kind_for_error, kind_for_status
from llmchat.testing.types import Call, Reply

SIGNATURE = "c2lnbmF0dXJl"


class Gemini(Wire):
    """One chunk per thinking piece, text piece and function call, then a final chunk with finishReason.

    Function calls carry their arguments whole, as an object (an unparsable str argument becomes
    ``{"_raw": str}``), and an ``id`` only when ``Call.id`` was given (the real API sends none).
    """

    name = "gemini"

    def build(self, reply: Reply, ctx: Context) -> list[Ev | int]:
        steps: list[Ev | int] = [self._chunk(reply, ctx, {"text": piece, "thought": True})
                                 for piece in reply.thinking]
        steps += checkpointed([self._chunk(reply, ctx, {"text": piece}) for piece in reply.text])
        steps += [self._chunk(reply, ctx, self._call_part(call)) for call in reply.tool_calls]
        final = self._chunk(reply, ctx, {"text": ""}, finish=reply.finish or "STOP")
        steps.append(Ev(final.data, terminal=True))
        return steps

    def error_event(self, reply: Reply, ctx: Context) -> Ev:
        kind, message = kind_for_error(reply.error)
        return Ev({"error": {"code": kind.gemini_code, "message": message, "status": kind.gemini_status}})

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        kind = kind_for_status(status)
        return {"error": {"code": status, "message": message or kind.message, "status": kind.gemini_status}}

    def frame(self, event: Ev) -> bytes:
        data = event.data if isinstance(event.data, str) else dumps(event.data, compact=False)
        return f"data: {data}\r\n\r\n".encode()

    @staticmethod
    def _call_part(call: Call) -> dict[str, Any]:
        function: dict[str, Any] = {"name": call.name, "args": call.args_object()}
        if call.id is not None:
            function["id"] = call.id
        return {"functionCall": function, "thoughtSignature": SIGNATURE}

    @staticmethod
    def _usage(reply: Reply, final: bool) -> dict[str, Any]:
        if not final:
            return {"promptTokenCount": reply.input_tokens, "totalTokenCount": reply.input_tokens}
        output = reply.output_token_count()
        usage: dict[str, Any] = {"promptTokenCount": reply.input_tokens,
                                 "candidatesTokenCount": output - (reply.reasoning_tokens or 0)}
        if reply.reasoning_tokens is not None:
            usage["thoughtsTokenCount"] = reply.reasoning_tokens
        usage["totalTokenCount"] = reply.input_tokens + output
        return usage

    def _chunk(self, reply: Reply, ctx: Context, part: dict[str, Any], finish: str | None = None) -> Ev:
        candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}}
        if finish is not None:
            candidate["finishReason"] = finish
        candidate["index"] = 0
        chunk: dict[str, Any] = {"candidates": [candidate]}
        if reply.usage:
            chunk["usageMetadata"] = self._usage(reply, final=finish is not None)
        chunk["modelVersion"] = ctx.model
        chunk["responseId"] = "resp-test"
        return Ev(chunk)
