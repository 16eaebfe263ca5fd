"""Scriptable loopback LLM server for end-to-end tests of llmchat (and of code built on it).

Queue protocol-neutral :class:`Reply` values, point a client at :meth:`Server.url`, and the
server streams each reply over real HTTP in the wire format the request path asks for:
OpenAI Chat Completions, OpenAI Responses, Anthropic Messages, Gemini, Cohere or Bedrock
Converse (binary event-stream frames); also Claude on Vertex AI (``:streamRawPredict``) and
Azure's chat-completions quirks (a request with ``api-version``).

>>> from llmchat.testing import Call, Reply, Server
>>> with Server() as server:
...     server.queue(Reply(text=["Hel", "lo"]), Reply(status=429, headers={"retry-after": "0"}))
...     server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"})]))
...     base_url = server.url("anthropic_messages")
"""

from llmchat.testing.server import Server
from llmchat.testing.types import Call, Reply, Request

__all__ = ["Call", "Reply", "Request", "Server"]
