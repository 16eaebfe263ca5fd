"""What a stored chat looks like in rows: its configuration, its messages and their errors.

No secret is ever written: an ``api_key``, secret-looking headers and a password in the base URL
stay in the process that made the chat; a process that loads it takes them from its own settings
(``OPENAI_API_KEY``...).

>>> import llmchat
>>> chat = llmchat.chat("gpt-4.1-mini", api_key="sk-SECRET", headers={"X-Api-Key": "SECRET", "X-Team": "a"},
...                     base_url="https://team:SECRET@gateway.example/v1")
>>> config = chat_config(chat)
>>> "SECRET" in str(config), config["headers"], config["provider"], config["base_url"]
(False, {'X-Team': 'a'}, 'openai', 'https://team@gateway.example/v1')
>>> message = message_from_row("m1", "incomplete", message_dict(llmchat.Message("assistant", "Hi")),
...                            "RateLimitError", "slow down")
>>> message.id, message.status, type(message.error).__name__, str(message.error)
('m1', 'incomplete', 'RateLimitError', 'slow down')
"""

from __future__ import annotations

import importlib
import logging
import sys
import urllib.parse
from typing import Any

from llmchat import errors
from llmchat.config import Secret
from llmchat.message import Message
from llmchat.redaction import public_text

__all__ = ["build_chat", "chat_config", "error_from_row", "message_dict", "message_from_row", "public_url",
           "tool_path"]

log = logging.getLogger("llmchat")


def tool_path(tool: Any) -> str | None:
    """``module:name`` a worker process can import the tool from, or None (a lambda, a local function).

    The tool object itself where its module holds it (a decorated function, a module-level instance
    with its settings, a renamed ``llmchat.tool(fn, name=...)``), else its function or class.
    """
    target = getattr(tool, "fn", None) or type(tool)
    module, name = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if not module or module == "__main__":
        return None
    for attribute, value in list(vars(sys.modules.get(module, object)).items()):
        if value is tool:
            return f"{module}:{attribute}"
    return None if "<" in name else f"{module}:{name}"


def _import_tool(name: str, path: str) -> Any:
    """The tool ``name`` from ``module:attribute`` (None, with a warning, when it cannot be had here)."""
    from llmchat.tools import Tool, as_tool, tool

    module, _, attribute = path.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in attribute.split("."):
            found = getattr(found, part)
        instance = as_tool(found) if isinstance(found, Tool) or isinstance(found, type) else tool(found, name=name)
    except Exception as exc:    # noqa: BLE001 - an import error, a class that needs arguments...
        log.warning("tool %r of a stored chat cannot be had here (%s): %s", name, path, exc)
        return None
    if instance.name != name:
        log.warning("tool %r of a stored chat is named %r here (%s): left out", name, instance.name, path)
        return None
    return instance


def public_url(url: str | None) -> str | None:
    """``url`` without the password of its user info (``https://user:pw@host`` -> ``https://user@host``)."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


def chat_config(chat: Any) -> dict[str, Any]:
    """The JSON-ready settings that rebuild ``chat`` elsewhere (never its key nor secret headers)."""
    return {"model": chat.model, "provider": chat.provider, "protocol": chat._explicit["protocol"],
            "base_url": public_url(chat._explicit["base_url"]), "options": dict(chat._options),
            "temperature": chat._temperature, "max_tokens": chat._max_tokens, "params": dict(chat._params),
            "headers": {k: v for k, v in chat._headers.items() if not isinstance(v, Secret)},
            "tools": [{"name": name, "path": tool_path(tool)} for name, tool in chat._tools.items()]}


def build_chat(config: dict[str, Any], memory: dict[str, Any]) -> Any:
    """A Chat from a stored configuration, with the key, secret headers and tools this process knows."""
    from llmchat.chat import Chat

    headers = {**config["headers"], **memory.get("headers", {})}
    chat = Chat(config["model"], provider=config["provider"], protocol=config["protocol"],
                base_url=memory.get("base_url") or config["base_url"], api_key=memory.get("api_key"),
                temperature=config["temperature"],
                max_tokens=config["max_tokens"], params=config["params"], headers=headers, **config["options"])
    known = memory.get("tools", {})
    for entry in config["tools"]:
        tool = known.get(entry["name"])
        if tool is None and entry["path"]:
            tool = _import_tool(entry["name"], entry["path"])
        if tool is not None:
            chat.with_tool(tool)
    return chat


def message_dict(message: Message, status: str | None = None) -> dict[str, Any]:
    """The stored (and broadcast) form of a message: ``to_dict()`` with its ``id``; pages may read it, so
    an error shows as :func:`~llmchat.redaction.public_text` (the ``error`` column keeps the real one)."""
    data = message.to_dict()
    data["id"] = message.id
    if message.error is not None:
        data["error"] = f"{type(message.error).__name__}: {public_text(message.error)}"
    if status is not None:
        data["status"] = status
    return data


def error_from_row(kind: str | None, text: str | None) -> BaseException | None:
    """The stored error as an exception of its class when it is an llmchat one (else a RuntimeError)."""
    if kind is None and text is None:
        return None
    cls = getattr(errors, kind or "", None)
    if isinstance(cls, type) and issubclass(cls, errors.Error):
        try:
            return cls(text or "")      # its own attributes too (ToolCallParseError.finish_reason...)
        except TypeError:               # made of other arguments
            pass
        error = cls.__new__(cls)
        Exception.__init__(error, text or "")
        error.__dict__.update(message=text or "", status_code=None, partial="", partial_message=None,
                              retry_after=None, body=None)
        return error
    return RuntimeError(f"{kind}: {text}" if kind else text)


def message_from_row(row_id: str, status: str, data: dict[str, Any], error_type: str | None,
                     error: str | None) -> Message:
    """A Message from its row (the row's ``status`` and error columns win over the JSON's)."""
    data = dict(data)
    data.pop("error", None)
    message = Message.from_dict(data)
    message.id, message.status = row_id, status
    message.error = error_from_row(error_type, error)
    if message.error is not None and isinstance(message.error, errors.Error):
        message.error.partial, message.error.partial_message = message.content or "", message
        if isinstance(message.error, errors.ToolCallParseError):
            message.error.finish_reason = message.finish_reason
    return message
