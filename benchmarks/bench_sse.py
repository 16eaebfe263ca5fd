"""SSE benchmark: CPU per chunk of ``llmchat.sse.stream`` against ``ask`` with an empty callback, and the
delay from the provider server writing a chunk to the browser's ``onmessage``.

    pip install -e '.[web-test]'          # flask, gunicorn, playwright; Debian's chromium (apt)
    python benchmarks/bench_sse.py                      # both measurements
    python benchmarks/bench_sse.py --chunks 20000 --reps 5 --no-latency

CPU: the bundled provider server runs in its own process streaming ``--chunks`` chunks of 4 characters
(chat_completions); this process's CPU time (all threads: the pump's worker included) is measured per
chunk, the two cases interleaved, medians over ``--reps``. Targets: ratio <= 1.3.

Latency: examples/sse_flask.py under gunicorn (gthread), headless Chromium loading its page; the provider
server (in this process) notes the wall-clock time it writes each chunk, the page notes when each
``onmessage`` runs. Target: median < 10 ms on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import llmchat  # noqa: E402
import llmchat.sse  # noqa: E402
from llmchat.testing import Reply, Server  # noqa: E402

MARKER = re.compile(rb'"(t\d{4})"')
PROVIDER = """
import sys, time
from llmchat.testing import Reply, Server
with Server() as server:
    server.default = Reply(text=["abcd"] * int(sys.argv[1]))
    print(server.url("chat_completions"), flush=True)
    sys.stdin.read()
"""


def _chat(base_url: str) -> llmchat.Chat:
    return llmchat.chat("gpt-4.1-mini", protocol="chat_completions", base_url=base_url, api_key="bench",
                        max_retries=0)


def _cpu(run) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def cpu(chunks: int, reps: int) -> dict[str, float]:
    provider = subprocess.Popen([sys.executable, "-c", PROVIDER, str(chunks)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    try:
        base_url = provider.stdout.readline().strip()
        ask = lambda: _chat(base_url).ask("Hi", on_chunk=lambda chunk: None)  # noqa: E731
        sse = lambda: b"".join(llmchat.sse.stream(_chat(base_url), "Hi"))   # noqa: E731
        ask(), sse()                                                         # warm up
        times: dict[str, list[float]] = {"ask": [], "sse": []}
        for _ in range(reps):
            times["ask"].append(_cpu(ask))
            times["sse"].append(_cpu(sse))
    finally:
        provider.stdin.close()
        provider.wait(10)
    ask_us = statistics.median(times["ask"]) / chunks * 1e6
    sse_us = statistics.median(times["sse"]) / chunks * 1e6
    return {"ask_us_per_chunk": round(ask_us, 2), "sse_us_per_chunk": round(sse_us, 2),
            "ratio": round(sse_us / ask_us, 3)}


def latency(chunks: int, delay: float) -> dict[str, float]:
    from browser import CHROMIUM, CHROMIUM_ARGS, free_port, serve
    from playwright.sync_api import sync_playwright

    from llmchat.testing import writer

    written: dict[str, float] = {}
    original = writer.Writer.write

    def write(self, data: bytes) -> None:
        original(self, data)
        found = MARKER.search(data)
        if found:
            written.setdefault(found.group(1).decode(), time.time() * 1000)

    writer.Writer.write = write  # the provider server notes when each chunk leaves it
    text = [f"t{i:04d}" for i in range(chunks)]
    with Server() as server:
        server.queue(Reply(text=text, delay=delay))
        port = free_port()
        gunicorn = str(pathlib.Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}",
                   "--chdir", str(ROOT / "examples"), "sse_flask:create_app()"]
        with serve(command, port=port, env={"LLMCHAT_EXAMPLE_BASE_URL": server.url("chat_completions")}) as root, \
                sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(root + "/")
            page.click("button")
            page.wait_for_selector("body[data-state=complete]", timeout=(chunks * delay + 30) * 1000)
            received = page.evaluate("window.received")
            browser.close()
    writer.Writer.write = original
    delays = [received[i] - written[t] for i, t in enumerate(text)]
    return {"chunks": chunks, "median_ms": round(statistics.median(delays), 2),
            "p90_ms": round(sorted(delays)[int(len(delays) * 0.9)], 2), "max_ms": round(max(delays), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--latency-chunks", type=int, default=100)
    parser.add_argument("--latency-delay", type=float, default=0.05)
    parser.add_argument("--no-cpu", action="store_true")
    parser.add_argument("--no-latency", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"python": sys.version.split()[0], "cores": os.cpu_count()}
    if not args.no_cpu:
        result["cpu"] = cpu(args.chunks, args.reps)
    if not args.no_latency:
        result["latency"] = latency(args.latency_chunks, args.latency_delay)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
