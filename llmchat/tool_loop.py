"""One tool round: run every call of an assistant message and add the results to the conversation.

The spine (:func:`llmchat.streaming.turn`) calls :func:`run_tools` after an assistant message that
ends with tool calls, then streams the next round. For each call, in the order the model made them:

- ``on_tool_call(call)`` fires with the :class:`~llmchat.ToolCall` (``arguments`` the parsed dict);
- the tool runs with the arguments as keyword arguments;
- a ``tool`` message with the result text and the call's id is added to ``chat.messages``;
- ``on_tool_result(text)`` fires with that same text, exactly what goes back to the model.

A call the model got wrong (an unknown tool, arguments that do not fit the schema) is not an
exception: its result is an error text for the model, which can correct itself in the next round.
An exception raised by the tool itself propagates unchanged; the assistant message stays in
``chat.messages`` and, as its calls are not all answered, it is not sent on the next turn.

>>> from llmchat.message import ToolCall
>>> from llmchat.tools import as_tool
>>> def add(a: int, b: int) -> int:
...     return a + b
>>> tools = {"add": as_tool(add)}
>>> tool_result(tools, ToolCall("c1", "add", {"a": 2, "b": 3}))
'5'
>>> tool_result(tools, ToolCall("c2", "add", {"a": 2}))
"Error: invalid arguments for tool 'add': missing required argument 'b'. Call it again with arguments \
that fit its parameters."
>>> tool_result(tools, ToolCall("c3", "sub", {}))
"Error: there is no tool called 'sub'. Available tools: add."
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmchat.message import Message, ToolCall

__all__ = ["run_tools", "tool_result"]


def run_tools(chat: Any, message: Message) -> None:
    """Run the tool calls of ``message`` in order, adding one tool message per call to ``chat.messages``."""
    for call in message.tool_calls.values():
        chat._fire("tool_call", call)
        result = tool_result(chat._tools, call)
        chat.add_message(Message("tool", result, tool_call_id=call.id))
        chat._fire("tool_result", result)


def tool_result(tools: Mapping[str, Any], call: ToolCall) -> str:
    """The text that answers ``call``: the tool's result, or an error text the model can act on.

    Only the tool's own exceptions propagate (a ``ToolArgumentError`` raised inside ``execute``
    included: it is the tool's, not a bad call).
    """
    tool = tools.get(call.name)
    if tool is None:
        return f"Error: there is no tool called {call.name!r}. Available tools: {', '.join(tools) or 'none'}."
    problems = tool.validate(call.arguments)
    if problems:
        return (f"Error: invalid arguments for tool {call.name!r}: {'; '.join(problems)}. "
                f"Call it again with arguments that fit its parameters.")
    return tool.run(call.arguments)
