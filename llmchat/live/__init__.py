"""Live pages: every event of a chat broadcast to pages over resumable SSE (Turbo Streams, htmx, JSON).

- :func:`follow` / :func:`afollow`: a chat's broadcast as an SSE body, from a position, with no gap
  and no duplicate (``llmchat.sse.follow`` is the same function);
- :func:`page`: a chat's messages rendered with the position they include (subscribe from there);
- :func:`broadcasts_to`: publish a chat's events (the stored chats do it for you);
- :mod:`llmchat.live.render`: the formats, the message partial and ``dom_id``.

>>> import llmchat.sse
>>> llmchat.sse.follow is follow
True
"""

from __future__ import annotations

from llmchat.live.asgi import afollow
from llmchat.live.follow import Page, follow, page
from llmchat.live.publish import broadcasts_to
from llmchat.live.render import dom_id, message_html

__all__ = ["Page", "afollow", "broadcasts_to", "dom_id", "follow", "message_html", "page"]
