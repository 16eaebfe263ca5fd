"""Jupyter: a live Markdown view of a streaming answer, and interrupts in one line.

``chat.ask(prompt, on_chunk=live())`` shows the answer as one Markdown output updated in place (at
most about ten times a second, plus a final update), thinking in a collapsed block, tool calls as
short lines and the token counts at the end. ``live(chat)`` also shows the tool results. IPython is
used only when it is already running (in a kernel); it is never imported by ``import llmchat``.
``Message`` and ``Chat`` render as Markdown cell values through :mod:`llmchat.markdown`.

>>> from llmchat.message import Chunk
>>> show = live()
>>> show(Chunk(thinking="The user greets.")); show(Chunk(content="Hel")); show(Chunk(content="lo <b>"))
Hello <b>
>>> show(Chunk(output_tokens=2, input_tokens=5, finish_reason="stop"))
>>> print(show.markdown())
<details><summary>Thinking</summary>
<BLANKLINE>
The user greets.
<BLANKLINE>
</details>
<BLANKLINE>
Hello &lt;b>
<BLANKLINE>
<sub>5 in · 2 out tokens</sub>
"""

from __future__ import annotations

import sys
import time
from typing import Any

from llmchat.interrupts import mark_interrupted
from llmchat.markdown import block, token_line
from llmchat.message import ToolCall, WholeArguments

__all__ = ["Live", "live", "mark_interrupted"]


def live(chat: Any = None, *, interval: float = 0.1) -> Live:
    """An ``on_chunk`` callable showing the answer as Markdown, updated in place (see :class:`Live`)."""
    return Live(chat, interval=interval)


class Live:
    """Shows the chunks it is called with as one Markdown display, updated in place while they stream.

    Updates are throttled to one per ``interval`` seconds; the end of an answer (its finish reason or
    token counts, the end of the chat's message when ``chat`` is given, the end of the cell) always
    shows the final state. Outside a running IPython kernel the text is written to stdout instead.

    >>> show = Live(interval=0.1)
    >>> show(__import__("llmchat").Chunk(content="Hi"))
    Hi
    >>> show.markdown()
    'Hi'
    """

    def __init__(self, chat: Any = None, *, interval: float = 0.1) -> None:
        self.interval = interval
        self.updates = 0            # display updates sent (the first display not counted)
        self._blocks: list[list[Any]] = []     # [kind, value]: text/thinking parts, a call id, a result
        self._calls: dict[str, Any] = {}
        self._tokens: list[list[int | None]] = [[None, None]]
        self._ended_round = False
        self._stopped: str | None = None     # "incomplete" or "incomplete: Error": shown after the answer
        self._handle: Any = None
        self._mode: str | None = None
        self._shown = 0.0
        self._pending = False
        self._chat = chat
        if chat is not None:
            chat.add_listener(self._on_event)

    # ------------------------------------------------------------------ receiving
    def __call__(self, chunk: Any) -> None:
        if chunk.content is not None or chunk.thinking is not None or chunk.tool_calls:
            if self._ended_round:
                self._tokens.append([None, None])
                self._ended_round = False
        if chunk.thinking:
            self._append("thinking", chunk.thinking)
        if chunk.content:
            self._append("text", chunk.content)
        for call_id, call in (chunk.tool_calls or {}).items():
            self._add_call(call_id, call)
        tokens = self._tokens[-1]
        if chunk.input_tokens is not None:
            tokens[0] = chunk.input_tokens
        if chunk.output_tokens is not None:
            tokens[1] = chunk.output_tokens
        # the end of a round (its finish reason, a usage chunk after it) is shown at once; token counts
        # alone are not an end: some providers repeat them on every chunk
        self._ended_round = self._ended_round or chunk.finish_reason is not None
        self._show(chunk, self._ended_round)

    def _add_call(self, call_id: str, call: Any) -> None:
        """A chunk's call: its name, and an argument fragment (or a whole replacement: a dict, WholeArguments)."""
        entry = self._calls.get(call_id)
        if entry is None:
            self._blocks.append(["call", call_id])
            entry = self._calls[call_id] = [call.name, []]
        entry[0] = call.name or entry[0]
        arguments = call.arguments
        if not isinstance(arguments, str) or isinstance(arguments, WholeArguments):
            entry[1] = [arguments] if isinstance(arguments, str) else arguments
        elif arguments and isinstance(entry[1], list):
            entry[1].append(arguments)

    def _append(self, kind: str, text: str) -> None:
        if self._blocks and self._blocks[-1][0] == kind:
            self._blocks[-1][1].append(text)
        else:
            self._blocks.append([kind, [text]])

    def _on_event(self, event: Any) -> None:
        name = type(event).__name__
        if name == "MessageAdded" and event.message.role == "tool":
            self._blocks.append(["result", event.message.content or ""])
            self._pending = True
        elif name == "MessageEnded":
            message = event.message
            if not message.complete:
                self._stop(type(message.error).__name__ if message.error is not None else None)
            self.flush()
            if not message.tool_calls or not message.complete:
                self._chat.remove_listener(self._on_event)

    # ------------------------------------------------------------------ showing
    def _show(self, chunk: Any, final: bool) -> None:
        if self._mode is None:
            self._open()
        if self._mode == "text":
            if chunk.content:
                sys.stdout.write(chunk.content)
                sys.stdout.flush()
            return
        self._pending = True
        if final or time.monotonic() - self._shown >= self.interval:
            self.flush()

    def _open(self) -> None:
        shell = _shell()
        if shell is None:
            self._mode = "text"
            return
        from IPython.display import Markdown, display

        self._mode = "display"
        self._handle = display(Markdown(self.markdown()), display_id=True)
        self._shown = time.monotonic()
        shell.events.register("post_execute", self._post_execute)

    def _stop(self, reason: str | None) -> None:
        self._stopped = f"incomplete: {reason}" if reason else "incomplete"
        self._pending = True

    def _post_execute(self) -> None:
        if not self._ended_round and self._stopped is None:
            self._stop(None)        # the cell ended, the answer did not: it was stopped
        self.flush()
        shell = _shell()
        if shell is not None:
            shell.events.unregister("post_execute", self._post_execute)

    def flush(self) -> None:
        """Show the current state now if it has changed since the last update."""
        if self._handle is None or not self._pending:
            return
        from IPython.display import Markdown

        self._pending = False
        self._handle.update(Markdown(self.markdown()))
        self._shown = time.monotonic()
        self.updates += 1

    def markdown(self) -> str:
        """The Markdown shown: thinking collapsed, the text, tool lines, then the token counts."""
        calls = {i: ToolCall(i, name, "".join(args) if isinstance(args, list) else args)
                 for i, (name, args) in self._calls.items()}
        parts = [block(kind, value, calls) for kind, value in self._blocks]
        totals = [sum(t[i] or 0 for t in self._tokens) if any(t[i] is not None for t in self._tokens) else None
                  for i in (0, 1)]
        if totals[1] is not None:
            parts.append(token_line(totals[0], totals[1]))
        if self._stopped:
            parts.append(f"*[{self._stopped}]*")
        return "\n\n".join(p for p in parts if p)


def _shell() -> Any:
    """The running IPython shell, or None (IPython is never imported here: a kernel has it loaded)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return shell if shell is not None and hasattr(shell, "events") else None
