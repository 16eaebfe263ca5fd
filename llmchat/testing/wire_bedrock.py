"""Amazon Bedrock ConverseStream: AWS event-stream binary frames (``application/vnd.amazon.eventstream``)."""

from __future__ import annotations

from typing import Any

from llmchat.eventstream import encode
from llmchat.testing.render import Context, Ev, Wire, checkpointed, dumps, kind_for_error, kind_for_status
from llmchat.testing.types import Reply

CONTENT_TYPE = "application/vnd.amazon.eventstream"
SIGNATURE = "c2lnbmF0dXJl"
# in-stream exception type by error category
EXCEPTIONS = {"rate_limit_error": "throttlingException", "overloaded_error": "serviceUnavailableException",
              "api_error": "internalServerException", "invalid_request_error": "validationException"}
# X-Amzn-Errortype of an HTTP error, by status
ERROR_TYPES = {400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException",
               404: "ResourceNotFoundException", 429: "ThrottlingException", 500: "InternalServerException",
               503: "ServiceUnavailableException"}


def _ev(kind: str, **fields: Any) -> Ev:
    return Ev({**fields, "p": "abcdefghij"[: len(kind) % 10]}, name=kind)   # AWS pads payloads: "p"


class Converse(Wire):
    """messageStart, reasoning/text/toolUse content blocks, messageStop, metadata: binary frames."""

    name = "converse"
    content_type = CONTENT_TYPE

    def build(self, reply: Reply, ctx: Context) -> list[Ev | int]:
        steps: list[Ev | int] = [_ev("messageStart", role="assistant")]
        index = 0
        if reply.thinking:
            steps += [_ev("contentBlockDelta", contentBlockIndex=index, delta={"reasoningContent": {"text": piece}})
                      for piece in reply.thinking]
            steps.append(_ev("contentBlockDelta", contentBlockIndex=index,
                             delta={"reasoningContent": {"signature": SIGNATURE}}))
            steps.append(_ev("contentBlockStop", contentBlockIndex=index))
            index += 1
        if reply.text:
            steps += checkpointed([_ev("contentBlockDelta", contentBlockIndex=index, delta={"text": piece})
                                   for piece in reply.text])
            steps.append(_ev("contentBlockStop", contentBlockIndex=index))
            index += 1
        else:
            steps.append(0)
        for call in reply.tool_calls:
            start = {"toolUse": {"toolUseId": call.id or ctx.next_id("tooluse_"), "name": call.name}}
            steps.append(_ev("contentBlockStart", contentBlockIndex=index, start=start))
            steps += [_ev("contentBlockDelta", contentBlockIndex=index, delta={"toolUse": {"input": part}})
                      for part in call.fragments() or ["{}"]]
            steps.append(_ev("contentBlockStop", contentBlockIndex=index))
            index += 1
        steps.append(_ev("messageStop", stopReason=reply.finish or ("tool_use" if reply.tool_calls else "end_turn")))
        if reply.usage:
            output = reply.output_token_count()
            usage = {"inputTokens": reply.input_tokens, "outputTokens": output,
                     "totalTokens": reply.input_tokens + output}
            steps.append(Ev({"usage": usage, "metrics": {"latencyMs": 100}}, name="metadata", terminal=True))
        return steps

    def error_event(self, reply: Reply, ctx: Context) -> Ev:
        kind, message = kind_for_error(reply.error)
        name = (reply.error or {}).get("type") if str((reply.error or {}).get("type", "")).endswith("Exception") \
            else EXCEPTIONS.get(kind.type, "internalServerException")
        return Ev({"message": message}, name=f"exception:{name}")

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return {"message": message or kind_for_status(status).message}

    def error_headers(self, status: int) -> dict[str, str]:
        return {"X-Amzn-Errortype": f"{ERROR_TYPES.get(status, 'InternalServerException')}:http://internal.amazon.com/coral/com.amazon.bedrock/"}

    def frame(self, event: Ev) -> bytes:
        payload = (event.data if isinstance(event.data, str) else dumps(event.data)).encode()
        name = event.name or ""
        if name.startswith("exception:"):
            headers = {":exception-type": name[10:], ":content-type": "application/json",
                       ":message-type": "exception"}
        else:
            headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
        return encode(headers, payload)
