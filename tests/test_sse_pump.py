"""llmchat.web.pump: the worker-thread pump under every SSE body (sync and async)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from browser import run_async

from llmchat.web.pump import HEARTBEAT, Pump


def test_items_come_out_in_order_and_bursts_are_joined():
    release = threading.Event()

    def producer(put):
        for i in range(100):
            put(b"%d," % i)
        release.wait(2)
        put(b"end")

    body = Pump(producer, heartbeat=5).body()
    first = next(body)
    release.set()
    rest = b"".join(body)
    assert first + rest == b"".join(b"%d," % i for i in range(100)) + b"end"


def test_silence_becomes_heartbeats_at_the_interval():
    def producer(put):
        time.sleep(0.35)
        put(b"data: x\n\n")

    started = time.monotonic()
    parts = list(Pump(producer, heartbeat=0.1).body())
    assert parts[-1] == b"data: x\n\n" and 2 <= parts.count(HEARTBEAT) <= 4
    assert time.monotonic() - started < 1.0


def test_closing_the_body_calls_cancel_once_and_tells_the_producer():
    stop = threading.Event()
    cancels = []

    def producer(put):
        put(b"a")
        stop.wait(5)

    def cancel():
        cancels.append(time.monotonic())
        stop.set()

    pump = Pump(producer, cancel=cancel, heartbeat=5)
    body = pump.body()
    assert next(body) == b"a"
    body.close()
    assert len(cancels) == 1 and pump.closed and not pump._thread.is_alive()


def test_a_finished_producer_is_not_cancelled():
    cancels = []
    pump = Pump(lambda put: put(b"x"), cancel=lambda: cancels.append(1))
    assert list(pump.body()) == [b"x"] and cancels == []


def test_a_failing_producer_ends_the_body_and_is_logged(caplog):
    def producer(put):
        put(b"x")
        raise RuntimeError("boom")

    assert b"".join(Pump(producer, name="test-pump").body()) == b"x"
    assert "test-pump failed" in caplog.text and "boom" in caplog.text


def test_the_async_body_heartbeats_and_cancels_on_task_cancel():
    stop = threading.Event()
    cancels = []

    def producer(put):
        put(b"a")
        stop.wait(5)

    def cancel():
        cancels.append(1)
        stop.set()

    async def main():
        seen = []

        async def read():
            async for part in Pump(producer, cancel=cancel, heartbeat=0.05).abody():
                seen.append(part)

        task = asyncio.ensure_future(read())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    seen = run_async(main)
    assert seen[0] == b"a" and HEARTBEAT in seen and cancels == [1]


def test_the_async_body_ends_with_the_producer():
    async def main():
        return [part async for part in Pump(lambda put: [put(b"%d" % i) for i in range(3)]).abody()]

    assert b"".join(run_async(main)) == b"012"
