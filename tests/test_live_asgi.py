"""afollow under a real ASGI server (uvicorn): the body streams, a leaving client frees it, the answer goes on."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
import requests
from browser import free_port

import llmchat
from llmchat.live.asgi import afollow
from llmchat.live.memory import MemoryBroadcaster
from llmchat.live.publish import broadcasts_to
from llmchat.live.watch import Watch
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


def test_many_async_followers_of_a_chat_hold_no_thread_each(monkeypatch):
    """300 open pages on one chat under ASGI: one thread waits for all of them, and each gets every event;
    once they left, that thread ends too."""
    monkeypatch.setattr(Watch, "linger", 0.2)
    hub = MemoryBroadcaster()
    hub.publish("m1", {"type": "new_message", "message_id": 1, "message": {"id": 1, "role": "assistant"}})
    before = threading.active_count()

    async def page(got: list) -> None:
        async for piece in afollow("m1", "1", broadcaster=hub, heartbeat=30):
            got.append(piece)
            if b"end_message" in piece:
                return

    async def main() -> tuple[int, list[list]]:
        pages = [[] for _ in range(300)]
        tasks = [asyncio.create_task(page(got)) for got in pages]
        await asyncio.sleep(1.5)                 # every page is open and waiting
        waiting_threads = threading.active_count() - before
        for n in range(3):
            hub.publish("m1", {"type": "chunk", "message_id": 1, "content": f"c{n}"})
        hub.publish("m1", {"type": "end_message", "message_id": 1,
                           "message": {"id": 1, "role": "assistant", "content": "c0c1c2"}})
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        return waiting_threads, pages

    waiting_threads, pages = asyncio.run(main())
    assert waiting_threads < 20          # was one pool thread per page (up to 256, the rest queued behind them)
    for got in pages:
        ids = [line for piece in got for line in piece.split(b"\n") if line.startswith(b"id: ")]
        assert ids == [b"id: 2", b"id: 3", b"id: 4", b"id: 5"]
    deadline = time.monotonic() + 10
    while any(t.name == "llmchat-watch:m1" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "llmchat-watch:m1" for t in threading.enumerate())


def store_app(store):
    """An ASGI view as a user writes it: ``await afollow(...)`` first, so an unknown chat is a 404."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        try:
            body = await afollow(scope["path"].strip("/"), "0", store=store, idle=0.3)
        except llmchat.ChatNotFoundError:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"no such chat"})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        async for piece in body:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    return app


def test_awaiting_afollow_lets_an_asgi_view_answer_404_for_an_unknown_chat(tmp_path, server):
    uvicorn = pytest.importorskip("uvicorn")
    store = llmchat.store(f"sqlite:///{tmp_path}/asgi.db")
    chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                             base_url=server.url("chat_completions"), api_key="k", max_retries=0)
    server.queue(Reply(text=["Stored ", "answer."]))
    chat.ask("hi")
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(store_app(store), host="127.0.0.1", port=port, log_level="warning",
                                       lifespan="off"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not web.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        missing = requests.get(f"http://127.0.0.1:{port}/no-such-chat", timeout=10)
        assert (missing.status_code, missing.text) == (404, "no such chat")
        found = requests.get(f"http://127.0.0.1:{port}/{chat.id}", timeout=10)
        assert found.status_code == 200
        ends = [json.loads(block.split("data: ", 1)[1]) for block in found.text.split("\n\n")
                if "event: end_message" in block]
        assert [(end["role"], end["content"]) for end in ends] == [("assistant", "Stored answer.")]
    finally:
        web.should_exit = True
        thread.join(10)
        store.close()
