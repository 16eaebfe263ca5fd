"""Writing a response body byte-exactly, and waiting while watching the client."""

from __future__ import annotations

import random
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

_POLL = 0.02


class ClientGoneError(Exception):
    """The client closed the connection before the reply ended."""


class StoppingError(Exception):
    """The server is stopping; the reply is abandoned."""


class Writer:
    """Writes one response body: chunked or not, in ``split``-sized pieces when asked."""

    def __init__(self, handler: BaseHTTPRequestHandler, chunked: bool, split: int | None,
                 seed: int | None) -> None:
        self._wfile = handler.wfile
        self._chunked = chunked
        self._split = split
        self._random = random.Random(seed) if seed is not None else None
        self._buffer = b""
        self._size = self._next_size()

    def _next_size(self) -> int:
        if self._split is None:
            return 0
        return self._random.randint(1, self._split) if self._random else self._split

    def write(self, data: bytes) -> None:
        """Write now; with ``split``, full pieces now and the remainder with the next write or flush."""
        if self._split is None:
            self._send(data)
            return
        self._buffer += data
        while len(self._buffer) >= self._size:
            piece, self._buffer = self._buffer[: self._size], self._buffer[self._size :]
            self._send(piece)
            self._size = self._next_size()

    def flush(self) -> None:
        if self._buffer:
            piece, self._buffer = self._buffer, b""
            self._send(piece)
            self._size = self._next_size()

    def end(self) -> None:
        """Flush and, when chunked, write the terminating zero-length chunk."""
        self.flush()
        if self._chunked:
            self._raw(b"0\r\n\r\n")

    def _send(self, piece: bytes) -> None:
        if not piece:
            return
        self._raw(b"%x\r\n%s\r\n" % (len(piece), piece) if self._chunked else piece)

    def _raw(self, data: bytes) -> None:
        try:
            self._wfile.write(data)
            self._wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise ClientGoneError from exc


def _client_eof(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def watch(sock: socket.socket, seconds: float, stopping: threading.Event) -> None:
    """Wait ``seconds`` while watching the client.

    Raises :class:`ClientGoneError` when the client hangs up, :class:`StoppingError` when the server stops.
    """
    deadline = time.monotonic() + seconds
    while True:
        if stopping.is_set():
            raise StoppingError
        left = deadline - time.monotonic()
        if left <= 0:
            return
        readable, _, _ = select.select([sock], [], [], min(left, _POLL))
        if stopping.is_set():
            raise StoppingError
        if readable and _client_eof(sock):
            raise ClientGoneError
        if readable:  # the client sent more data; keep waiting without spinning
            stopping.wait(min(left, _POLL))
