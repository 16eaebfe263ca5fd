"""Ctrl-C (or a notebook's stop button) in the middle of an answer: one line that says so.

The interrupt still propagates (the rest of a cell does not run); it gets a PEP 678 note and, for
IPython, a one-line ``_render_traceback_`` instead of a traceback through the HTTP stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["mark_interrupted"]


def mark_interrupted(exc: BaseException, message: Any) -> None:
    """Give an interrupt that stopped an answer a one-line rendering (IPython) and a PEP 678 note.

    >>> exc = KeyboardInterrupt()
    >>> mark_interrupted(exc, __import__("llmchat").Message("assistant", "Once", status="incomplete"))
    >>> exc._render_traceback_()
    ["KeyboardInterrupt: the answer was interrupted after 4 characters; ..."]
    """
    if message is not None and message.role == "assistant" and not message.complete:
        line = (f"{type(exc).__name__}: the answer was interrupted after {len(message.content or '')} characters; "
                f"the partial answer is in chat.messages[-1] (status 'incomplete')")
    else:
        line = f"{type(exc).__name__}: interrupted; the conversation so far is in chat.messages"
    if line.split(": ", 1)[1] in getattr(exc, "__notes__", ()):
        return
    try:
        exc._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
        if hasattr(exc, "add_note"):
            exc.add_note(line.split(": ", 1)[1])
    except (AttributeError, TypeError):
        pass
