"""A loopback HTTP server that misbehaves below what ``llmchat.testing.Server`` can script: a handler gets
the socket after the request was read and writes whatever bytes it likes, as slowly as it likes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Callable


class RawServer:
    """``RawServer(handler)``: each connection's request is read, then ``handler(sock)`` answers it."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        self.finished = threading.Event()
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/v1") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self.requests.append(_read_request(sock))
            self.handler(sock)
        except OSError:
            pass
        finally:
            self.finished.set()
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.listener.close()
        for sock in self._socks:
            with contextlib.suppress(OSError):
                sock.close()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        more = sock.recv(65536)
        if not more:
            break
        body += more
    return head + b"\r\n\r\n" + body


def trickle(sock: socket.socket, data: bytes, every: float = 0.1, limit: float = 20.0) -> None:
    """Send ``data`` one byte every ``every`` seconds (at most ``limit`` seconds; OSError once the client left)."""
    end = time.monotonic() + limit
    for byte in data:
        if time.monotonic() > end:
            return
        sock.sendall(bytes([byte]))
        time.sleep(every)
