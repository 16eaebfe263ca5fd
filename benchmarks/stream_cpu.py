"""How much CPU llmchat spends per streamed chunk, next to a raw-socket reader of the same bytes,
and how long ``import llmchat`` takes in a fresh interpreter.

    .venv/bin/python benchmarks/stream_cpu.py                      # 20,000 chunks x 3 reps, 10 imports
    .venv/bin/python benchmarks/stream_cpu.py --chunks 2000 --reps 1 --imports 3   # a quick look

The stream comes from ``llmchat.testing.Server`` running in a child process (so its CPU is not
counted), in OpenAI's chat-completions format, one 4-character piece per event, as a
close-delimited body. Both clients read the same bytes: the raw one splits events on blank lines
and ``json.loads`` each; llmchat goes through ``chat.ask(..., on_chunk=...)``. Figures are the
median CPU time (user + system) of the client process per chunk; close other work first.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit

SERVE = """
import sys
from llmchat.testing import Reply, Server
server = Server().start()
server.default = Reply(text=["abcd"] * int(sys.argv[1]), close_delimited=True)
print(server.url("chat_completions"), flush=True)
sys.stdin.read()
server.stop()
"""


def raw_client(base: str, chunks: list[str]) -> None:
    """POST, then split the close-delimited body on blank lines and decode each event."""
    url = urlsplit(base)
    body = json.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = (f"POST {url.path}/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head + body)
        buffer = b""
        headers_done = False
        while data := sock.recv(65536):
            buffer += data
            if not headers_done:
                if b"\r\n\r\n" not in buffer:
                    continue
                buffer = buffer.split(b"\r\n\r\n", 1)[1]
                headers_done = True
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                if event.startswith(b"data: {"):
                    delta = json.loads(event[6:])["choices"][0]["delta"]
                    if delta.get("content"):
                        chunks.append(delta["content"])


def llmchat_client(base: str, chunks: list[str]) -> None:
    import llmchat

    chat = llmchat.chat("m", provider="openai", protocol="chat_completions", base_url=base, api_key="bench",
                        max_retries=0)
    chat.ask("hi", on_chunk=lambda c: c.content and chunks.append(c.content))


def cpu_per_chunk(client, base: str, n: int, reps: int) -> float:
    """Median client CPU microseconds per chunk over ``reps`` streams (after one warm-up stream)."""
    client(base, [])
    results = []
    for _ in range(reps):
        chunks: list[str] = []
        start = time.process_time()
        client(base, chunks)
        results.append((time.process_time() - start) / n * 1e6)
        if len(chunks) != n:
            raise SystemExit(f"{client.__name__} received {len(chunks)} chunks, expected {n}")
    return statistics.median(results)


def import_ms(statement: str, reps: int) -> float:
    """Median wall time, in ms, of a fresh interpreter running ``statement``."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--imports", type=int, default=10, help="fresh interpreters per import measurement")
    args = parser.parse_args()
    with subprocess.Popen([sys.executable, "-c", SERVE, str(args.chunks)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as server:
        base = server.stdout.readline().strip()
        raw = cpu_per_chunk(raw_client, base, args.chunks, args.reps)
        ours = cpu_per_chunk(llmchat_client, base, args.chunks, args.reps)
        server.stdin.close()
    print(f"stream of {args.chunks} chunks, median of {args.reps}:")
    print(f"  raw socket  {raw:7.1f} us CPU per chunk")
    print(f"  llmchat     {ours:7.1f} us CPU per chunk  ({ours / raw:.1f}x raw)")
    if args.imports:
        bare = import_ms("pass", args.imports)
        total = import_ms("import llmchat", args.imports)
        print(f"import llmchat: {total - bare:.0f} ms over a bare interpreter's start ({bare:.0f} ms), "
              f"median of {args.imports}")


if __name__ == "__main__":
    main()
