#!/usr/bin/env python3
"""CPU per chunk of a persisted chat against an in-memory one, and database writes per answer.

The loopback server runs in its own process (its CPU is not counted); this process's CPU time
(all threads: the streaming thread and the store's flusher) is measured around each answer. The
two kinds of chat alternate, so a noisy machine hurts both alike. Prints one JSON line.

    python benchmarks/bench_store.py                    # 20k chunks of 4 characters, 5 reps, SQLite
    python benchmarks/bench_store.py --n 20000 --reps 9 --store postgresql://...

Targets: ratio (stored / in-memory CPU per chunk) <= 1.2; writes_per_0.2s <= 1 (every write of the
answer counted: taking the chat's lock, the assistant row, the timed flushes, the end).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

SERVER = """
import sys, time
from llmchat.testing import Reply, Server
server = Server().start()
server.default = Reply(text=[("abcd" * (%d // 4 + 1))[:%d]] * %d, delay=%r)
print(server.url("chat_completions"), flush=True)
sys.stdin.read()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="chunks per answer")
    parser.add_argument("--size", type=int, default=4, help="characters per chunk")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--slow", type=float, default=2.0, help="seconds of the answer whose writes are counted")
    parser.add_argument("--store", default=None, help="store URL (default: a SQLite file in a temp dir)")
    args = parser.parse_args()

    import llmchat

    fast = _server(args.size, args.n, 0.0)
    slow = _server(args.size, 2000, args.slow / 2000)
    try:
        store = llmchat.store(args.store or f"sqlite:///{tempfile.mkdtemp()}/bench.db")
        memory, stored = _cpu(llmchat, store, fast.stdout.readline().strip(), args)
        writes, seconds = _writes(store, slow.stdout.readline().strip())
        print(json.dumps({
            "n": args.n, "size": args.size, "reps": args.reps, "store": store.backend.dialect,
            "cpu_us_per_chunk_memory": round(memory, 3), "cpu_us_per_chunk_stored": round(stored, 3),
            "ratio": round(stored / memory, 3), "slow_answer_seconds": round(seconds, 3),
            "writes_per_slow_answer": writes, "writes_per_0.2s": round(writes / (seconds / 0.2), 3),
            "flushes_per_0.2s": round((writes - BOUNDARY) / (seconds / 0.2), 3),
        }))
    finally:
        for server in (fast, slow):
            server.stdin.close()
            server.wait(10)


BOUNDARY = 3        # writes every answer makes once: the chat's lock, the assistant row, the end (lock released)
OPTIONS = dict(provider="openai", protocol="chat_completions", api_key="k")


def _cpu(llmchat: Any, store: Any, url: str, args: argparse.Namespace) -> tuple[float, float]:
    """Median CPU microseconds per chunk, in-memory and stored, alternating (the first round warms up)."""
    results: dict[str, list[float]] = {"memory": [], "stored": []}
    for rep in range(args.reps + 1):
        for kind in ("memory", "stored"):
            make = store.create_chat if kind == "stored" else llmchat.chat
            chat = make("m", base_url=url, **OPTIONS)
            cpu = time.process_time()
            reply = chat.ask("hi", on_chunk=lambda c: None)
            cpu = time.process_time() - cpu
            assert len(reply.content) == args.n * args.size
            if rep:
                results[kind].append(cpu / args.n * 1e6)
    return statistics.median(results["memory"]), statistics.median(results["stored"])


def _writes(store: Any, url: str) -> tuple[int, float]:
    """Every write of a 2,000-chunk answer streamed over --slow seconds (the worse of two), and its duration."""
    runs = []
    for _ in range(2):
        chat = store.create_chat("m", base_url=url, **OPTIONS)
        chat.add_message("user", "hi")
        before, wall = store.backend.writes, time.perf_counter()
        chat.complete()
        runs.append((store.backend.writes - before, time.perf_counter() - wall))
    return max(runs, key=lambda run: run[0] / run[1])


def _server(size: int, n: int, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SERVER % (size, size, n, delay)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


if __name__ == "__main__":
    main()
