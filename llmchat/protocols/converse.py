"""Amazon Bedrock Converse (``POST {base}/model/{modelId}/converse-stream``): AWS's binary event stream.

The body is framed by :mod:`llmchat.eventstream` (``framing``, ``ACCEPT``), not SSE. Events:
``messageStart``, ``contentBlockStart``/``Delta``/``Stop`` (text, tool use with its input JSON
streamed as text, reasoning with its signature), ``messageStop`` (the stop reason), then
``metadata`` (usage), the terminal event. Exception frames (``throttlingException``...) raise
the class of their HTTP twin.

>>> events = [("messageStart", '{"role":"assistant"}'),
...           ("contentBlockDelta", '{"contentBlockIndex":0,"delta":{"text":"Hi"},"p":"abcd"}'),
...           ("messageStop", '{"stopReason":"end_turn"}'),
...           ("metadata", '{"usage":{"inputTokens":5,"outputTokens":1},"metrics":{"latencyMs":80}}')]
>>> [(c.content, c.finish_reason, c.input_tokens) for c in parse(events)]
[('Hi', None, None), (None, 'end_turn', None), (None, None, 5)]
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from llmchat.error_mapping import make_error
from llmchat.eventstream import frames as framing
from llmchat.message import Chunk, Message, ToolCall
from llmchat.protocols import Request, ended_early, loads, merge, read_error, system_text

__all__ = ["ACCEPT", "body", "error", "framing", "parse", "path"]

ACCEPT = "application/vnd.amazon.eventstream"
NO_OUTPUT = "(no output)"   # Bedrock rejects blank text blocks


def path(request: Request) -> str:
    return f"/model/{quote(request.model, safe=':')}/converse-stream"


def body(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = {"messages": _messages(request.messages)}
    system = system_text(request.messages)
    if system:
        data["system"] = [{"text": system}]
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if config:
        data["inferenceConfig"] = config
    if request.tools:
        data["toolConfig"] = {"tools": [{"toolSpec": {"name": t.name, "description": t.description or t.name,
                                                      "inputSchema": {"json": t.schema()}}} for t in request.tools]}
    return merge(data, request.params)


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "assistant":
            role, content = "assistant", _assistant_blocks(message)
        elif message.role == "tool":
            result = {"toolUseId": message.tool_call_id, "content": [{"text": message.content or NO_OUTPUT}]}
            role, content = "user", [{"toolResult": result}]
        else:
            role, content = "user", [{"text": message.content or NO_OUTPUT}]
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(content)     # parallel tool results (and roles must alternate)
        else:
            out.append({"role": role, "content": content})
    return out


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.thinking and message.thinking_signature:
        blocks.append({"reasoningContent": {"reasoningText": {"text": message.thinking,
                                                              "signature": message.thinking_signature}}})
    if message.content:
        blocks.append({"text": message.content})
    for call in message.tool_calls.values():
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments or {}}})
    return blocks or [{"text": NO_OUTPUT}]


def error(text: str) -> tuple[str | None, str]:
    """(type, message) of an AWS error body: ``{"message": ...}`` (or ``Message``), maybe ``__type``.

    >>> error('{"__type": "com.amazon#ValidationException", "Message": "bad"}')
    ('ValidationException', 'bad')
    """
    try:
        data = json.loads(text)
    except ValueError:
        return read_error(text)
    if not isinstance(data, dict):
        return read_error(text)
    kind = data.get("__type")
    message = data.get("message") or data.get("Message")
    if isinstance(message, str):
        if message.startswith(_SKEW):
            message += " (the clock of this machine is off: SigV4 signatures carry the time, and AWS refuses them 5 " \
                       "minutes or more away from its own; set the clock right, e.g. with NTP)"
        return (kind.rsplit("#", 1)[-1].split(":")[0] if isinstance(kind, str) else None), message
    return read_error(text)


_SKEW = ("Signature expired", "Signature not yet current")   # AWS's words for a request signed at a wrong time


def parse(events: Iterable[tuple[str, str]]) -> Iterator[Chunk]:
    """Chunks from a ConverseStream; ends at ``metadata`` (or at the end of the body after ``messageStop``)."""
    tools: dict[Any, list[str]] = {}    # content block index -> [id, name]
    stopped = False
    for name, data in events:
        if name.startswith("exception:"):
            kind, message = error(data)
            raise make_error(None, name[10:] or kind, message, body=data)
        obj = loads(data)
        if name == "contentBlockDelta":
            chunk = _delta(obj, tools)
            if chunk is not None:
                yield chunk
        elif name == "contentBlockStart":
            use = (obj.get("start") or {}).get("toolUse")
            if isinstance(use, dict) and not use.get("type"):    # typed ones are server tools
                entry = tools[obj.get("contentBlockIndex")] = [use.get("toolUseId") or "", use.get("name") or ""]
                yield Chunk(tool_calls={entry[0]: ToolCall(entry[0], entry[1], "")})
        elif name == "messageStop":
            stopped = True
            yield Chunk(finish_reason=obj.get("stopReason") or "end_turn")
        elif name == "metadata":
            usage = obj.get("usage") or {}
            yield Chunk(input_tokens=usage.get("inputTokens"), output_tokens=usage.get("outputTokens"))
            return
    if not stopped:
        raise ended_early("messageStop")


def _delta(obj: dict[str, Any], tools: dict[Any, list[str]]) -> Chunk | None:
    delta = obj.get("delta") or {}
    text = delta.get("text")
    if type(text) is str:
        return Chunk(text) if text else None
    use = delta.get("toolUse")
    if isinstance(use, dict):
        entry = tools.get(obj.get("contentBlockIndex"))
        if entry is None:
            return None
        fragment = use.get("input")             # the message joins the fragments
        return Chunk(tool_calls={entry[0]: ToolCall(entry[0], entry[1], fragment if isinstance(fragment, str) else "")})
    reasoning = delta.get("reasoningContent")
    if isinstance(reasoning, dict):
        if type(reasoning.get("text")) is str and reasoning["text"]:
            return Chunk(thinking=reasoning["text"])
        if type(reasoning.get("signature")) is str:
            return Chunk(thinking_signature=reasoning["signature"])
    return None
