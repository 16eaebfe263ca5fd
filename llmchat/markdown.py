"""Markdown for answers, messages and chats: what Jupyter shows (``Message._repr_markdown_``, ``live()``).

A model's text is shown as Markdown but never as live HTML (see :func:`safe_markdown`); thinking
goes in a collapsed ``<details>`` block, tool calls and results are short code lines.

>>> from llmchat.message import Message, ToolCall
>>> print(message_markdown(Message("assistant", "Sunny", tool_calls={"c1": ToolCall("c1", "weather", {"c": "Rome"})})))
Sunny
<BLANKLINE>
`→ weather({"c": "Rome"})`
>>> print(message_markdown(Message("assistant", "Once", status="incomplete", error=KeyboardInterrupt())))
Once
<BLANKLINE>
*[incomplete: KeyboardInterrupt]*
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

__all__ = ["block", "chat_markdown", "message_markdown", "safe_markdown", "token_line"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+).+?\1")


def block(kind: str, value: Any, calls: dict[str, Any]) -> str:
    """One piece of a live answer: ``text`` or ``thinking`` parts, a ``call`` id, a tool ``result``."""
    if kind == "text":
        return safe_markdown("".join(value))
    if kind == "thinking":
        return f"<details><summary>Thinking</summary>\n\n{safe_markdown(''.join(value)).strip()}\n\n</details>"
    if kind == "call":
        call = calls[value]
        args = call.arguments if isinstance(call.arguments, str) else _json(call.arguments)
        return _code_line(f"→ {call.name}({args})")
    return _code_line(f"← {value}")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _code_line(text: str, limit: int = 120) -> str:
    text = " ".join(text.split()).replace("`", "'")
    return f"`{text[:limit - 1] + '…' if len(text) > limit else text}`"


def token_line(tokens_in: int | None, tokens_out: int) -> str:
    """The token counts, small, under an answer."""
    return f"<sub>{'?' if tokens_in is None else tokens_in} in · {tokens_out} out tokens</sub>"


def safe_markdown(text: str) -> str:
    """``text`` with raw HTML made inert (``<`` escaped) outside code blocks and code spans.

    A model's answer is shown as Markdown, never as live HTML (no script from a prompt injection).

    >>> safe_markdown("<img onerror=x> and `<ok>`")
    '&lt;img onerror=x> and `<ok>`'
    """
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line)
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            out.append(line)
        elif match:
            fence = match.group(1)
            out.append(line)
        else:
            out.append(_escape_outside_spans(line))
    return "".join(out)


def _escape_outside_spans(line: str) -> str:
    out, start = [], 0
    for span in _CODE_SPAN.finditer(line):
        out.append(line[start:span.start()].replace("<", "&lt;"))
        out.append(span.group(0))
        start = span.end()
    out.append(line[start:].replace("<", "&lt;"))
    return "".join(out)


def message_markdown(message: Any) -> str:
    """One message as Markdown (``Message._repr_markdown_``): thinking collapsed, tool lines, an incomplete mark."""
    if message.role == "tool":
        return _code_line(f"← {message.content or ''}")
    parts = []
    if message.thinking:
        parts.append(block("thinking", [message.thinking], {}))
    if message.content:
        parts.append(safe_markdown(message.content))
    parts.extend(block("call", i, message.tool_calls) for i in message.tool_calls)
    if message.role == "assistant" and message.output_tokens is not None:
        parts.append(token_line(message.input_tokens, message.output_tokens))
    if message.status != "complete":
        reason = f": {type(message.error).__name__}" if message.error is not None else ""
        parts.append(f"*[{html.escape(message.status)}{reason}]*")
    return "\n\n".join(parts)


_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}


def chat_markdown(chat: Any) -> str:
    """The conversation as it stands, as Markdown (``Chat._repr_markdown_``).

    >>> import llmchat
    >>> chat = llmchat.chat("gpt-4.1-mini", api_key="k")
    >>> _ = chat.add_message("user", "Hi")
    >>> print(chat_markdown(chat))
    **llmchat.Chat** · gpt-4.1-mini (openai)
    <BLANKLINE>
    **User:** Hi
    """
    parts = [f"**llmchat.Chat** · {html.escape(chat.model)} ({chat.provider})"]
    for message in chat.messages:
        if message.role == "tool":
            parts.append(message_markdown(message))
            continue
        label = f"**{_LABELS.get(message.role, message.role)}:**"
        if message.role == "assistant" and message.model_id:
            label = f"**Assistant** · {html.escape(message.model_id)}:"
        body = message_markdown(message)
        parts.append(f"{label} {body}" if body and "\n" not in body and message.role != "assistant"
                     else f"{label}\n\n{body}")
    return "\n\n".join(parts)
