"""RedisBroadcaster on a real redis-server: an expired stream, a trimmed one, and the followers of both."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from test_live_follow import parse

import llmchat
from llmchat.live.asgi import afollow
from llmchat.live.follow import follow
from llmchat.live.redis_broadcast import RedisBroadcaster


@pytest.fixture
def hub(redis_url):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(redis_url)

    def make(chat_id: str, **options) -> RedisBroadcaster:
        broadcaster = RedisBroadcaster(client, **options)
        client.delete(broadcaster.key(chat_id), broadcaster.key(chat_id) + ":seq")
        return broadcaster

    return make


def answer(hub: RedisBroadcaster, chat_id: str, mid: str, text: str) -> list[int]:
    message = {"id": mid, "role": "assistant", "content": "", "status": "streaming"}
    return [hub.publish(chat_id, {"type": "new_message", "message_id": mid, "message": message}),
            hub.publish(chat_id, {"type": "chunk", "message_id": mid, "content": text}),
            hub.publish(chat_id, {"type": "end_message", "message_id": mid,
                                  "message": dict(message, content=text, status="complete")})]


def test_positions_go_on_after_the_stream_expired(hub):
    hub = hub("x1", ttl=1)
    assert answer(hub, "x1", "old", "before") == [1, 2, 3]
    deadline = time.monotonic() + 10
    while hub.client.exists(hub.key("x1")) and time.monotonic() < deadline:   # an answer's ttl after its end
        time.sleep(0.1)
    assert not hub.client.exists(hub.key("x1"))
    assert answer(hub, "x1", "new", "after") == [4, 5, 6]      # a position is never given twice
    rest = parse(b"".join(follow("x1", "3", broadcaster=hub, idle=0)))   # a page that saw the old answer
    assert [int(e["id"]) for e in rest] == [4, 5, 6]
    assert json.loads(rest[1]["data"])["content"] == "after"
    for stale in ("1", None):      # what it missed expired: the snapshot of what the broadcast holds
        events = parse(b"".join(follow("x1", stale, broadcaster=hub, idle=0)))
        assert [(e["event"], e["id"]) for e in events] == [("snapshot", "6")]
        assert [m["content"] for m in json.loads(events[0]["data"])["messages"]] == ["after"]


def test_a_stream_trimmed_mid_message_without_a_snapshot_source_is_a_typed_error(hub):
    hub = hub("x2", maxlen=5)
    mid = "m"
    hub.publish("x2", {"type": "new_message", "message_id": mid, "message": {"id": mid, "role": "assistant"}})
    for n in range(300):
        hub.publish("x2", {"type": "chunk", "message_id": mid, "content": f"{n} "})
    assert hub.read("x2", 0, 0)[0]["seq"] > 1          # MAXLEN trimmed the start of the message
    with pytest.raises(llmchat.ChatNotFoundError, match="snapshot source"):
        follow("x2", None, broadcaster=hub, idle=0)
    assert [int(e["id"]) for e in parse(b"".join(follow("x2", "298", broadcaster=hub, idle=0)))] == [299, 300, 301]


def test_async_followers_over_redis_get_every_event_once_in_order(hub):
    hub = hub("x3")
    hub.publish("x3", {"type": "new_message", "message_id": "m", "message": {"id": "m", "role": "assistant"}})

    async def follower() -> list[int]:
        seen = []
        async for piece in afollow("x3", "1", broadcaster=hub, heartbeat=30):
            seen += [int(line[4:]) for line in piece.split(b"\n") if line.startswith(b"id: ")]
            if seen and seen[-1] == 42:
                return seen
        return seen

    async def main() -> list[list[int]]:
        tasks = [asyncio.create_task(follower()) for _ in range(50)]
        await asyncio.sleep(0.5)
        for n in range(40):
            await asyncio.to_thread(hub.publish, "x3", {"type": "chunk", "message_id": "m", "content": f"{n}"})
        await asyncio.to_thread(hub.publish, "x3", {"type": "end_message", "message_id": "m",
                                                    "message": {"id": "m", "role": "assistant"}})
        return await asyncio.wait_for(asyncio.gather(*tasks), 30)

    for seen in asyncio.run(main()):
        assert seen == list(range(2, 43))
