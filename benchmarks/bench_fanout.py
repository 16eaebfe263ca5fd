"""Fan-out: one answer of N chunks followed by S subscribers, in-process and through Redis.

    python benchmarks/bench_fanout.py                       # store log (SQLite) and in-memory, 5,000 x 100
    python benchmarks/bench_fanout.py --via redis --redis redis://127.0.0.1:6379/0
    python benchmarks/bench_fanout.py --chunks 1000 --subscribers 10   # a quick run

A small loopback provider writes OpenAI-style chunks whose content is the time of the write
(``time.perf_counter``, one clock for the whole machine); each subscriber reads ``llmchat.live.follow``
(JSON format) on its own thread, as a page's SSE body would be read, and records ``receipt - write``.
Printed: median and 99th percentile of that delay, and the process CPU per chunk per subscriber
(CPU of the run with subscribers minus a run without, divided by chunks x subscribers).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import llmchat  # noqa: E402
from llmchat.live.follow import follow  # noqa: E402


def provider(chunks: int, pause: float) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for _ in range(chunks):
                delta = {"choices": [{"index": 0, "delta": {"content": f"{time.perf_counter():.9f} "}}]}
                self.wfile.write(b"data: " + json.dumps(delta).encode() + b"\n\n")
                self.wfile.flush()
                if pause:
                    time.sleep(pause)
            self.wfile.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
                             b"data: [DONE]\n\n")
            self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def subscriber(chat_id: str, hub: object, delays: list, done: threading.Event, expected: int,
               store: object = None) -> None:
    got = 0
    body = follow(chat_id, "0", broadcaster=hub, store=store, heartbeat=1.0, idle=None) if store is not None \
        else follow(chat_id, "0", broadcaster=hub, heartbeat=1.0, idle=None)
    for piece in body:
        now = time.perf_counter()
        for block in piece.split(b"\n\n"):
            if b"event: chunk\n" in block:
                content = json.loads(block[block.index(b"data: ") + 6:]).get("content")
                if content:
                    delays.append(now - float(content))
                    got += 1
        if got >= expected:
            break
    body.close()
    done.set()


def run(via: str, chunks: int, subscribers: int, pause: float, redis_url: str | None) -> dict:
    server = provider(chunks, pause)
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    store = None
    if via in ("store", "redis"):           # a stored chat; "redis": LLMCHAT_BROADCAST, followers read Redis
        llmchat.configure(broadcast=redis_url if via == "redis" else None)
        store = llmchat.store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.db"))
        chat = store.create_chat("gpt-4.1-mini", provider="openai", protocol="chat_completions",
                                 base_url=base_url, api_key="bench")
        hub, chat_id = store.broadcaster, chat.id
    else:
        from llmchat.live.memory import MemoryBroadcaster
        from llmchat.live.publish import broadcasts_to

        hub = MemoryBroadcaster()
        chat = llmchat.chat("gpt-4.1-mini", provider="openai", protocol="chat_completions", base_url=base_url,
                            api_key="bench")
        chat_id = f"bench-{os.getpid()}-{time.time_ns()}"
        broadcasts_to(chat, hub, chat_id=chat_id)
    chat.add_message("user", "go")
    delays: list[float] = []
    threads = []
    for _ in range(subscribers):
        done = threading.Event()
        thread = threading.Thread(target=subscriber, args=(chat_id, hub, delays, done, chunks, store), daemon=True)
        thread.start()
        threads.append(thread)
    time.sleep(0.5)
    cpu, wall = time.process_time(), time.perf_counter()
    chat.complete()
    for thread in threads:
        thread.join(120)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    server.shutdown()
    return {"delays": delays, "cpu": cpu, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--via", choices=["store", "memory", "redis"], action="append",
                        help="store: a stored chat, the store's log; redis: the same with LLMCHAT_BROADCAST; "
                             "memory: broadcasts_to an in-process broadcaster")
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.001, help="seconds between two provider writes")
    parser.add_argument("--redis", default=os.environ.get("LLMCHAT_BROADCAST"))
    args = parser.parse_args()
    for via in args.via or ["store", "memory"]:
        alone = run(via, args.chunks, 0, args.pause, args.redis)
        result = run(via, args.chunks, args.subscribers, args.pause, args.redis)
        delays = sorted(result["delays"])
        extra = max(0.0, result["cpu"] - alone["cpu"])
        per = extra / (args.chunks * args.subscribers) * 1e6
        median, p99 = statistics.median(delays) * 1e3, delays[int(len(delays) * 0.99)] * 1e3
        print(f"{via:6} {args.chunks} chunks x {args.subscribers} subscribers: received {len(delays)}; "
              f"delay median {median:.2f} ms, p99 {p99:.2f} ms;"
              f" CPU {per:.1f} us per chunk per subscriber (run {result['wall']:.1f} s)")


if __name__ == "__main__":
    main()
