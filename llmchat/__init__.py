"""llmchat: one streaming chat interface over many LLM providers.

>>> import llmchat
>>> chat = llmchat.chat(model="claude-haiku-4-5", api_key="k")
>>> chat.provider, chat.protocol
('anthropic', 'anthropic_messages')

Nothing heavy is imported here: the HTTP stack loads with the first request.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__version__ = "0.1.0"

from llmchat.chat import Chat, chat  # noqa: E402
from llmchat.config import configure  # noqa: E402
from llmchat.errors import (  # noqa: E402
    APIError,
    BadRequestError,
    CancelledError,
    ChatBusyError,
    ChatNotFoundError,
    ConcurrentUseError,
    ConfigurationError,
    ConnectionError,
    ContentFilterError,
    ContextLengthExceededError,
    Error,
    ForbiddenError,
    NotFoundError,
    OverloadedError,
    PaymentRequiredError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    StoreError,
    StreamError,
    TimeoutError,
    ToolArgumentError,
    ToolCallParseError,
    ToolLoopError,
    UnauthorizedError,
    WorkerLostError,
)
from llmchat.message import Chunk, Message, ToolCall  # noqa: E402

__all__ = [
    "APIError",
    "BadRequestError",
    "CancelledError",
    "Chat",
    "ChatBusyError",
    "ChatNotFoundError",
    "Chunk",
    "ConcurrentUseError",
    "ConfigurationError",
    "ConnectionError",
    "ContentFilterError",
    "ContextLengthExceededError",
    "Error",
    "ForbiddenError",
    "Message",
    "NotFoundError",
    "OverloadedError",
    "PaymentRequiredError",
    "RateLimitError",
    "ServerError",
    "ServiceUnavailableError",
    "StoreError",
    "StreamError",
    "TimeoutError",
    "Tool",
    "ToolArgumentError",
    "ToolCall",
    "ToolCallParseError",
    "ToolLoopError",
    "UnauthorizedError",
    "WorkerLostError",
    "chat",
    "configure",
    "store",
    "tool",
]

_LAZY = {"Tool": "llmchat.tools", "tool": "llmchat.tools", "store": "llmchat.storage"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'llmchat' has no attribute {name!r}")


def _debug_logging() -> None:
    """``LLMCHAT_DEBUG=1``: requests and stream events on stderr (API keys are never logged)."""
    if os.environ.get("LLMCHAT_DEBUG", "").lower() not in ("", "0", "false", "no"):
        logger = logging.getLogger("llmchat")
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s llmchat %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


_debug_logging()
