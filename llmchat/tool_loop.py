"""One tool round: run every call of an assistant message and add the results to the conversation."""

from __future__ import annotations

from typing import Any

from llmchat.message import Message

__all__ = ["run_tools"]


def run_tools(chat: Any, message: Message) -> None:
    """Run the tool calls of ``message`` in order; a tool's own exception propagates to the caller.

    An unknown tool, or arguments that do not fit its schema, go back to the model as an error result.
    """
    from llmchat.tools import ToolArgumentError

    for call in message.tool_calls.values():
        chat._fire("tool_call", call)
        tool = chat._tools.get(call.name)
        if tool is None:
            result = f"Error: there is no tool called {call.name!r}; available: {', '.join(chat._tools) or 'none'}"
        else:
            try:
                result = tool.run(call.arguments)
            except ToolArgumentError as exc:
                result = f"Error: {exc}"
        chat.messages.append(Message("tool", result, tool_call_id=call.id))
        chat._fire("tool_result", result)
