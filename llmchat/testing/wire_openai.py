"""OpenAI wire formats: Chat Completions and Responses streams."""

from __future__ import annotations

from typing import Any

from llmchat.testing.render import Context, Ev, Wire, checkpointed, kind_for_error, kind_for_status
from llmchat.testing.types import Reply

CREATED = 1700000000
# Final event by response status, as the real API sends them; other statuses end with response.completed.
FINAL_EVENTS = {"incomplete": "response.incomplete", "failed": "response.failed"}
# Reply.finish -> incomplete_details.reason of a response.incomplete ending.
INCOMPLETE_REASONS = {"incomplete": "max_output_tokens", "max_output_tokens": "max_output_tokens",
                      "content_filter": "content_filter"}


def content_filter_body(message: str | None = None) -> dict[str, Any]:
    """Azure OpenAI's 400 for a prompt its content filter refuses (send it as ``Reply(status=400, body=...)``)."""
    severity = {"filtered": False, "severity": "safe"}
    return {"error": {"message": message or "The response was filtered due to the prompt triggering Azure "
                      "OpenAI's content management policy.", "type": None, "param": "prompt",
                      "code": "content_filter", "status": 400, "innererror": {
                          "code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                              "hate": severity, "self_harm": severity, "sexual": severity,
                              "violence": {"filtered": True, "severity": "high"}}}}}


def openai_error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` as OpenAI sends it."""
    kind = kind_for_status(status)
    return {"error": {"message": message or kind.message, "type": kind.openai_type, "param": None,
                      "code": kind.openai_code}}


class ChatCompletions(Wire):
    """``data: {chunk}`` events ending with ``data: [DONE]``."""

    name = "chat_completions"

    def build(self, reply: Reply, ctx: Context) -> list[Ev | int]:
        steps: list[Ev | int] = [self._chunk(ctx, {"role": "assistant", "content": ""})]
        if ctx.azure:   # Azure: first a chunk with no choices and the prompt's filter results
            steps.insert(0, Ev({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}))
        steps += [self._chunk(ctx, {"reasoning_content": piece}) for piece in reply.thinking]
        steps += checkpointed([self._chunk(ctx, {"content": piece}) for piece in reply.text])
        for index, call in enumerate(reply.tool_calls):
            head = {"index": index, "id": call.id or ctx.next_id("call_"), "type": "function",
                    "function": {"name": call.name, "arguments": ""}}
            steps.append(self._chunk(ctx, {"tool_calls": [head]}))
            steps += [self._chunk(ctx, {"tool_calls": [{"index": index, "function": {"arguments": part}}]})
                      for part in call.fragments()]
        finish = reply.finish or ("tool_calls" if reply.tool_calls else "stop")
        steps.append(self._chunk(ctx, {}, finish))
        if reply.usage and ctx.include_usage:
            steps.append(Ev({**self._head(ctx), "choices": [], "usage": self._usage(reply)}))
        steps.append(Ev("[DONE]", terminal=True))
        return steps

    def error_event(self, reply: Reply, ctx: Context) -> Ev:
        """``{"error": {"message", "type", "code": null}}`` with the type as given in ``Reply.error``."""
        kind, message = kind_for_error(reply.error)
        return Ev({"error": {"message": message, "type": (reply.error or {}).get("type") or kind.type,
                             "code": None}})

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return openai_error_body(status, message)

    def ping(self) -> bytes:
        return b": keep-alive\n\n"

    @staticmethod
    def _head(ctx: Context) -> dict[str, Any]:
        return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": CREATED,
                "model": ctx.model}

    def _chunk(self, ctx: Context, delta: dict[str, Any], finish: str | None = None) -> Ev:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if ctx.azure:
            choice["content_filter_results"] = (
                {"violence": {"filtered": True, "severity": "high"}} if finish == "content_filter" else {})
        return Ev({**self._head(ctx), "choices": [choice]})

    @staticmethod
    def _usage(reply: Reply) -> dict[str, Any]:
        output = reply.output_token_count()
        usage: dict[str, Any] = {"prompt_tokens": reply.input_tokens, "completion_tokens": output,
                                 "total_tokens": reply.input_tokens + output}
        if reply.reasoning_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens}
        return usage


def _ev(kind: str, **fields: Any) -> Ev:
    return Ev({"type": kind, **fields}, name=kind)


class Responses(Wire):
    """``event: response.*`` events with sequence numbers, ending with ``response.completed``.

    A ``finish`` of "incomplete" ends with ``response.incomplete`` (reason max_output_tokens), of
    "content_filter" or "max_output_tokens" with ``response.incomplete`` for that reason, and
    "failed" with ``response.failed``, as the real API does; other values go into the status of
    ``response.completed``.
    """

    name = "responses"

    def build(self, reply: Reply, ctx: Context) -> list[Ev | int]:
        steps: list[Ev | int] = [
            _ev(kind, response=self._response(ctx, "in_progress", [], None))
            for kind in ("response.created", "response.in_progress")
        ]
        output: list[dict[str, Any]] = []
        if reply.thinking:
            steps += self._reasoning(reply, len(output), output)
        if reply.text:
            steps += self._message(reply, len(output), output)
        else:
            steps.append(0)
        for number, call in enumerate(reply.tool_calls, start=1):
            item = {"id": f"fc_{number}", "type": "function_call", "status": "in_progress", "arguments": "",
                    "call_id": call.id or ctx.next_id("call_"), "name": call.name}
            steps += self._function_call(item, call.fragments(), len(output), output)
        steps.append(self._final(reply, ctx, output))
        return steps

    def error_event(self, reply: Reply, ctx: Context) -> Ev:
        kind, message = kind_for_error(reply.error)
        response = self._response(ctx, "failed", [], None)
        response["error"] = {"code": kind.responses_code, "message": message}
        return _ev("response.failed", response=response)

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return openai_error_body(status, message)

    def ping(self) -> bytes:
        return b": keep-alive\n\n"

    def finalize(self, steps: list[Ev | int]) -> None:
        events = [step for step in steps if isinstance(step, Ev) and isinstance(step.data, dict)]
        for number, event in enumerate(events):
            event.data["sequence_number"] = number  # type: ignore[index]

    @staticmethod
    def _response(ctx: Context, status: str, output: list[Any], usage: Any) -> dict[str, Any]:
        return {"id": "resp_test", "object": "response", "created_at": CREATED, "status": status,
                "error": None, "incomplete_details": None, "model": ctx.model, "output": output,
                "usage": usage}

    def _final(self, reply: Reply, ctx: Context, output: list[dict[str, Any]]) -> Ev:
        status = reply.finish or "completed"
        reason = INCOMPLETE_REASONS.get(status)
        status = "incomplete" if reason else status
        usage = None
        if reply.usage:
            out = reply.output_token_count()
            usage = {"input_tokens": reply.input_tokens, "input_tokens_details": {"cached_tokens": 0},
                     "output_tokens": out,
                     "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens or 0},
                     "total_tokens": reply.input_tokens + out}
        response = self._response(ctx, status, output, usage)
        if reason:
            response["incomplete_details"] = {"reason": reason}
        kind = FINAL_EVENTS.get(status, "response.completed")
        return Ev({"type": kind, "response": response}, name=kind, terminal=True)

    @staticmethod
    def _reasoning(reply: Reply, index: int, output: list[dict[str, Any]]) -> list[Ev | int]:
        ids = {"item_id": "rs_test", "output_index": index, "summary_index": 0}
        full = "".join(reply.thinking)
        part = {"type": "summary_text", "text": full}
        item = {"id": "rs_test", "type": "reasoning", "summary": [part]}
        output.append(item)
        return [
            _ev("response.output_item.added", output_index=index, item={**item, "summary": []}),
            _ev("response.reasoning_summary_part.added", **ids, part={**part, "text": ""}),
            *[_ev("response.reasoning_summary_text.delta", **ids, delta=piece) for piece in reply.thinking],
            _ev("response.reasoning_summary_text.done", **ids, text=full),
            _ev("response.reasoning_summary_part.done", **ids, part=part),
            _ev("response.output_item.done", output_index=index, item=item),
        ]

    @staticmethod
    def _message(reply: Reply, index: int, output: list[dict[str, Any]]) -> list[Ev | int]:
        ids = {"item_id": "msg_test", "output_index": index, "content_index": 0}
        full = "".join(reply.text)
        part = {"type": "output_text", "annotations": [], "text": full}
        item = {"id": "msg_test", "type": "message", "status": "completed", "content": [part],
                "role": "assistant"}
        output.append(item)
        return [
            _ev("response.output_item.added", output_index=index,
                item={**item, "status": "in_progress", "content": []}),
            _ev("response.content_part.added", **ids, part={**part, "text": ""}),
            *checkpointed([_ev("response.output_text.delta", **ids, delta=piece) for piece in reply.text]),
            _ev("response.output_text.done", **ids, text=full),
            _ev("response.content_part.done", **ids, part=part),
            _ev("response.output_item.done", output_index=index, item=item),
        ]

    @staticmethod
    def _function_call(item: dict[str, Any], fragments: list[str], index: int,
                       output: list[dict[str, Any]]) -> list[Ev | int]:
        ids = {"item_id": item["id"], "output_index": index}
        done = {**item, "status": "completed", "arguments": "".join(fragments)}
        output.append(done)
        return [
            _ev("response.output_item.added", output_index=index, item=item),
            *[_ev("response.function_call_arguments.delta", **ids, delta=part) for part in fragments],
            _ev("response.function_call_arguments.done", **ids, arguments=done["arguments"]),
            _ev("response.output_item.done", output_index=index, item=done),
        ]
