"""A broadcaster on Redis Streams, for web and worker processes on different machines.

``LLMCHAT_BROADCAST=redis://host:6379/0`` selects it. Each chat is one stream
(``llmchat:chat:<id>:events``) whose entry ids are ``<position>-0``: the SSE ``id`` is the stream
id, replay is ``XREAD`` from it, and Redis refuses a repeated id (a job delivered twice cannot
publish twice). The stream is capped (``MAXLEN ~``) and expires ``ttl`` seconds after an answer
ends. Needs the ``redis`` package (``pip install llmchat[redis]``); ``import llmchat`` never loads it.

>>> RedisBroadcaster.key("c1")
'llmchat:chat:c1:events'
"""

from __future__ import annotations

import json
from typing import Any, Callable

from llmchat.live.memory import apply

__all__ = ["RedisBroadcaster"]

# KEYS: stream, counter. ARGV: event json, maxlen, seq or "", ttl while streaming, ttl after the end, ended?
_PUBLISH = """
local seq = tonumber(ARGV[3])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if seq == nil then seq = last + 1 end
if seq <= last then return -seq end
redis.call('SET', KEYS[2], seq)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', ARGV[1])
local ttl = ARGV[4]
if ARGV[6] == '1' then ttl = ARGV[5] end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return seq
"""


class RedisBroadcaster:
    """Publish, replay and wait for a chat's events on a Redis stream (see the module docstring).

    ``snapshot``: a callable ``chat_id -> (messages, position)`` (the store's); without one, a
    snapshot is folded from the stream when it still holds the chat's first event.
    """

    def __init__(self, client: Any, *, maxlen: int = 100_000, ttl: int = 3600, streaming_ttl: int = 86_400,
                 snapshot: Callable[[Any], tuple[list[dict], int]] | None = None) -> None:
        self.client, self.maxlen, self.ttl, self.streaming_ttl = client, maxlen, ttl, streaming_ttl
        self.snapshot_source = snapshot
        self._publish = client.register_script(_PUBLISH)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBroadcaster:
        import redis

        return cls(redis.Redis.from_url(url), **options)

    @staticmethod
    def key(chat_id: Any) -> str:
        return f"llmchat:chat:{chat_id}:events"

    def publish(self, chat_id: Any, event: dict) -> int:
        """Append ``event``; its ``seq`` when it has one, else the chat's next. Returns the position."""
        body = {k: v for k, v in event.items() if k != "seq"}
        ended = event.get("type") in ("end_message", "error")
        seq = self._publish(keys=[self.key(chat_id), self.key(chat_id) + ":seq"],
                            args=[json.dumps(body, separators=(",", ":")), self.maxlen, event.get("seq") or "",
                                  self.streaming_ttl, self.ttl, "1" if ended else "0"])
        return abs(int(seq))

    def read(self, chat_id: Any, after: int, timeout: float) -> list[dict]:
        """Events with ``seq > after``, blocking up to ``timeout`` seconds for the first."""
        block = int(timeout * 1000)
        reply = self.client.xread({self.key(chat_id): f"{after}-0"}, block=block if block > 0 else None)
        if not reply:
            return []
        return [dict(json.loads(fields[b"e"]), seq=int(entry.split(b"-")[0])) for entry, fields in reply[0][1]]

    def last_seq(self, chat_id: Any) -> int:
        return int(self.client.get(self.key(chat_id) + ":seq") or 0)

    def _first_seq(self, chat_id: Any) -> int | None:
        first = self.client.xrange(self.key(chat_id), count=1)
        return int(first[0][0].split(b"-")[0]) if first else None

    def can_replay(self, chat_id: Any, after: int) -> bool:
        last = self.last_seq(chat_id)
        if after > last:
            return False
        if after == last:
            return True
        first = self._first_seq(chat_id)
        return first is not None and first <= after + 1

    def snapshot(self, chat_id: Any) -> tuple[list[dict], int]:
        if self.snapshot_source is not None:
            return self.snapshot_source(chat_id)
        messages: list[dict] = []
        events = self.read(chat_id, 0, 0)
        if events and events[0]["seq"] != 1:
            raise LookupError(f"the broadcast of chat {chat_id} no longer holds its start; give RedisBroadcaster "
                              "a snapshot source (the store)")
        for event in events:
            apply(messages, event)
        return messages, events[-1]["seq"] if events else self.last_seq(chat_id)
