"""A broadcaster on Redis Streams, for web and worker processes on different machines.

``LLMCHAT_BROADCAST=redis://host:6379/0`` selects it. Each chat is one stream
(``llmchat:chat:<id>:events``) whose entry ids are ``<position>-0``: the SSE ``id`` is the stream
id, replay is ``XREAD`` from it, and Redis refuses a repeated id (a job delivered twice cannot
publish twice). The stream is capped (``MAXLEN ~``) and expires ``ttl`` seconds after an answer
ends; the chat's position counter lives on (``seq_ttl``, 90 days), so a position is never given twice.
Needs the ``redis`` package (``pip install llmchat[redis]``); ``import llmchat`` never loads it.

>>> RedisBroadcaster.key("c1")
'llmchat:chat:c1:events'
"""

from __future__ import annotations

import bisect
import collections
import json
import logging
import threading
import time
from typing import Any, Callable

from llmchat.errors import ChatNotFoundError
from llmchat.live.memory import apply

__all__ = ["RedisBroadcaster"]

log = logging.getLogger("llmchat")

# KEYS: stream, counter. ARGV: event json, maxlen, seq or "", ttl while streaming, ttl after the end, ended?,
# ttl of the counter (it outlives the stream: a position is never given twice, a page's old one stays old)
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
redis.call('EXPIRE', KEYS[2], math.max(tonumber(ttl), tonumber(ARGV[7])))
return seq
"""


def _decode(reply: Any) -> list[dict]:
    if not reply:
        return []
    return [dict(json.loads(fields[b"e"]), seq=int(entry.split(b"-")[0])) for entry, fields in reply[0][1]]


class _Tail:
    """One blocking ``XREAD`` per chat and process, shared by all its followers here (one Redis
    connection instead of one per open page); stops after ``linger`` seconds without a reader."""

    keep = 50_000

    def __init__(self, owner: RedisBroadcaster, chat_id: Any, start: int) -> None:
        self.owner, self.chat_id, self.start = owner, chat_id, start
        self.events: list[dict] = []
        self.seqs: list[int] = []
        self.changed = threading.Condition()
        self.used = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=f"llmchat-redis-tail:{chat_id}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        key, after = self.owner.key(self.chat_id), self.start
        while time.monotonic() - self.used < self.owner.linger:
            try:
                events = _decode(self.owner.client.xread({key: f"{after}-0"}, block=1000))
            except Exception:                   # Redis away: readers time out and retry; try again shortly
                time.sleep(0.5)
                continue
            if events:
                with self.changed:
                    self.events.extend(events)
                    self.seqs.extend(event["seq"] for event in events)
                    if len(self.seqs) > self.keep:
                        cut = len(self.seqs) - self.keep // 2
                        del self.events[:cut], self.seqs[:cut]
                        self.start = self.seqs[0] - 1
                    self.changed.notify_all()
                after = events[-1]["seq"]
        self.owner._forget(self.chat_id, self)

    def read(self, after: int, timeout: float) -> list[dict] | None:
        """Events after ``after`` (waiting up to ``timeout``), or None when this tail starts later."""
        deadline = time.monotonic() + timeout
        with self.changed:
            self.used = time.monotonic()
            if after < self.start:
                return None
            while not (self.seqs and self.seqs[-1] > after):
                left = deadline - time.monotonic()
                if left <= 0 or not self.thread.is_alive():
                    return []
                self.changed.wait(left)
            return self.events[bisect.bisect_right(self.seqs, after):]


class RedisBroadcaster:
    """Publish, replay and wait for a chat's events on a Redis stream (see the module docstring).

    ``snapshot``: a callable ``chat_id -> (messages, position)`` (the store's); without one, a
    snapshot is folded from the stream when it still holds the chat's first event.
    """

    linger = 30.0       # seconds a chat's shared reader stays without followers

    def __init__(self, client: Any, *, maxlen: int = 100_000, ttl: int = 3600, streaming_ttl: int = 86_400,
                 snapshot: Callable[[Any], tuple[list[dict], int]] | None = None, seq_ttl: int = 90 * 86_400) -> None:
        self.client, self.maxlen, self.ttl, self.streaming_ttl = client, maxlen, ttl, streaming_ttl
        self.seq_ttl = seq_ttl      # the chat's position counter lives on after its stream expired
        self.snapshot_source = snapshot
        self._publish = client.register_script(_PUBLISH)
        self._tails: dict[Any, _Tail] = {}
        self._lock = threading.Lock()
        self._outbox: collections.deque[tuple[Any, dict]] = collections.deque()
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None

    def _tail(self, chat_id: Any, after: int) -> _Tail:
        with self._lock:
            tail = self._tails.get(chat_id)
            if tail is None or not tail.thread.is_alive():
                tail = self._tails[chat_id] = _Tail(self, chat_id, after)
            return tail

    def _forget(self, chat_id: Any, tail: _Tail) -> None:
        with self._lock:
            if self._tails.get(chat_id) is tail:
                del self._tails[chat_id]

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBroadcaster:
        import redis

        return cls(redis.Redis.from_url(url), **options)

    @staticmethod
    def key(chat_id: Any) -> str:
        return f"llmchat:chat:{chat_id}:events"

    def _script(self, chat_id: Any, event: dict, client: Any = None) -> Any:
        body = {k: v for k, v in event.items() if k != "seq"}
        ended = event.get("type") in ("end_message", "error")
        return self._publish(keys=[self.key(chat_id), self.key(chat_id) + ":seq"],
                             args=[json.dumps(body, separators=(",", ":")), self.maxlen, event.get("seq") or "",
                                   self.streaming_ttl, self.ttl, "1" if ended else "0", self.seq_ttl], client=client)

    def publish(self, chat_id: Any, event: dict) -> int:
        """Append ``event``; its ``seq`` when it has one, else the chat's next. Returns the position."""
        return abs(int(self._script(chat_id, event)))

    def send(self, chat_id: Any, event: dict) -> None:
        """:meth:`publish` without waiting: a sender thread pipelines the events, in order (the answer's
        thread never waits on Redis). Events need their ``seq``."""
        with self._lock:
            self._outbox.append((chat_id, event))
            if self._sender is None or not self._sender.is_alive():
                self._sender = threading.Thread(target=self._send_all, name="llmchat-redis-sender", daemon=True)
                self._sender.start()
            self._wake.set()

    def _send_all(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), 500))]
                pipe = self.client.pipeline(transaction=False)
                for chat_id, event in batch:
                    self._script(chat_id, event, client=pipe)
                try:
                    pipe.execute()
                except Exception:       # the store keeps every event; a page that misses one gets a snapshot
                    log.warning("llmchat broadcast: publishing %d events to Redis failed", len(batch), exc_info=True)

    def read(self, chat_id: Any, after: int, timeout: float) -> list[dict]:
        """Events with ``seq > after``, blocking up to ``timeout`` seconds for the first."""
        # a read that may wait starts the chat's shared reader; one that may not (an async follower woken
        # by its watch, which reads through that reader) takes what the reader holds without a round trip
        tail = self._tail(chat_id, after) if timeout > 0 else self._tails.get(chat_id)
        if tail is not None and tail.thread.is_alive():
            events = tail.read(after, timeout)
            if events is not None:
                return events
        events = _decode(self.client.xread({self.key(chat_id): f"{after}-0"}))      # history: no wait
        if not events and timeout > 0:
            time.sleep(min(timeout, 0.05))
        return events

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
        if events and events[0]["seq"] != 1 and events[0]["type"] != "new_message":
            raise ChatNotFoundError(f"the broadcast of chat {chat_id} no longer holds the start of its messages; "
                                    "give RedisBroadcaster a snapshot source (the store)")
        # an expired stream starts again with a new message: the snapshot is what the broadcast still holds
        for event in events:
            apply(messages, event)
        return messages, events[-1]["seq"] if events else self.last_seq(chat_id)
