"""Which protocol a request speaks, and what the renderer needs to know about it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from llmchat.testing.render import Context, Wire
from llmchat.testing.wire_anthropic import AnthropicMessages
from llmchat.testing.wire_bedrock import Converse
from llmchat.testing.wire_cohere import Cohere
from llmchat.testing.wire_gemini import Gemini
from llmchat.testing.wire_openai import ChatCompletions, Responses

WIRES: dict[str, Wire] = {
    wire.name: wire for wire in (ChatCompletions(), Responses(), AnthropicMessages(), Gemini(), Cohere(), Converse())
}

# The base_url a client is given, relative to the server root.
BASE_PATHS = {"chat_completions": "/v1", "responses": "/v1", "anthropic_messages": "", "gemini": "/v1beta",
              "cohere": "", "converse": ""}

DEFAULT_MODEL = "test-model"
_GEMINI_MODEL = re.compile(r"/models/([^/:]+):")
_CONVERSE_MODEL = re.compile(r"/model/([^/]+)/converse")


def detect(path: str) -> str | None:
    """The protocol a request path (without query) belongs to, or None."""
    if path.endswith("/converse-stream") or path.endswith("/converse"):
        return "converse"
    if path.endswith("/v2/chat"):
        return "cohere"
    if path.endswith("/chat/completions"):
        return "chat_completions"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/messages") or path.endswith(":streamRawPredict") or path.endswith(":rawPredict"):
        return "anthropic_messages"     # also Claude on Vertex AI
    if ":streamGenerateContent" in path or ":generateContent" in path:
        return "gemini"
    return None


def is_streaming(protocol: str, path: str, body: Any) -> bool:
    """Whether the request asks for a stream (Gemini: by path, others: ``"stream": true``)."""
    if protocol == "gemini":
        return ":streamGenerateContent" in path
    if protocol == "converse":
        return path.endswith("/converse-stream")
    return isinstance(body, dict) and body.get("stream") is True


def request_model(protocol: str, path: str, body: Any) -> str:
    """The model the request names: from the path for Gemini, from the JSON body otherwise."""
    if protocol == "gemini" or path.endswith("Predict"):     # Gemini, Claude on Vertex: in the path
        match = _GEMINI_MODEL.search(path)
        return match.group(1) if match else DEFAULT_MODEL
    if protocol == "converse":
        match = _CONVERSE_MODEL.search(path)
        return unquote(match.group(1)) if match else DEFAULT_MODEL
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else DEFAULT_MODEL


def context(protocol: str, path: str, body: Any, model: str | None,
            next_id: Callable[[str], str], query: dict[str, str] | None = None) -> Context:
    """The rendering context of a request (``model`` overrides the request's model)."""
    include_usage = True
    if protocol == "chat_completions":
        options = body.get("stream_options") if isinstance(body, dict) else None
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
    azure = "api-version" in (query or {}) or "/openai/deployments/" in path
    return Context(model=model or request_model(protocol, path, body), include_usage=include_usage,
                   next_id=next_id, azure=azure)
