"""afollow under a real ASGI server (uvicorn): the body streams, a leaving client frees it, the answer goes on."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import requests
from browser import free_port

from llmchat.live.follow import afollow
from llmchat.live.memory import MemoryBroadcaster
from llmchat.live.publish import broadcasts_to
from llmchat.testing import Reply


def make_app(hub, opened, closed):
    """A bare ASGI app streaming ``afollow``, cancelling it on ``http.disconnect`` (as Starlette does)."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        opened.append(time.monotonic())

        async def body():
            async for piece in afollow("a1", headers.get("last-event-id"), broadcaster=hub, heartbeat=0.2):
                await send({"type": "http.response.body", "body": piece, "more_body": True})

        streaming = asyncio.ensure_future(body())
        while not streaming.done():
            message = await receive()
            if message["type"] == "http.disconnect":
                streaming.cancel()
                break
        try:
            await streaming
        except asyncio.CancelledError:
            pass
        finally:
            closed.append(time.monotonic())
    return app


@pytest.fixture
def asgi(request):
    uvicorn = pytest.importorskip("uvicorn")
    hub, opened, closed = MemoryBroadcaster(), [], []
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(hub, opened, closed), host="127.0.0.1", port=port,
                                          log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", hub, opened, closed
    server.should_exit = True
    thread.join(10)


def test_afollow_streams_live_and_resumes_from_last_event_id(asgi, server, make_chat):
    url, hub, opened, closed = asgi
    server.queue(Reply(text=[f"p{i} " for i in range(30)], delay=0.02))
    chat = make_chat("chat_completions")
    broadcasts_to(chat, hub, chat_id="a1")
    worker = threading.Thread(target=chat.ask, args=("go",))
    seen, last_id, kind = [], None, None
    with requests.get(url, stream=True, timeout=10, headers={"Last-Event-ID": "0"}) as response:
        worker.start()
        for line in response.iter_lines():
            if line.startswith(b"id: "):
                last_id = line[4:].decode()
            kind = line[7:] if line.startswith(b"event: ") else kind
            if line.startswith(b"data: ") and kind == b"chunk":
                seen.append(json.loads(line[6:])["content"])
            if len(seen) == 10:
                break
    worker.join(10)
    deadline = time.monotonic() + 3
    while not closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert closed, "the ASGI body did not end when the client left"
    assert chat.messages[-1].status == "complete" and chat.messages[-1].content == "".join(f"p{i} " for i in range(30))
    with requests.get(url, stream=True, timeout=10, headers={"Last-Event-ID": last_id}) as response:
        for line in response.iter_lines():
            kind = line[7:] if line.startswith(b"event: ") else kind
            if line.startswith(b"data: ") and kind == b"chunk":
                seen.append(json.loads(line[6:])["content"])
            if kind == b"end_message":
                break
    assert "".join(seen) == chat.messages[-1].content
