"""HTTP side of the test server: reads requests and writes replies byte-exactly, event by event."""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import attrs

from llmchat.testing.protocols import WIRES, context, detect, is_streaming
from llmchat.testing.render import dumps, render
from llmchat.testing.types import Reply, Request
from llmchat.testing.writer import ClientGoneError, StoppingError, Writer, watch

SSE = "text/event-stream; charset=utf-8"
NO_REPLY = "llmchat.testing: no reply queued"
STREAMS_ONLY = "llmchat.testing serves streams only"
REASONS = {529: "Overloaded"}


class Owner(Protocol):
    """What the handler needs from the :class:`~llmchat.testing.Server` that owns it."""

    stopping: threading.Event

    def take_reply(self) -> Reply | None: ...
    def log_request(self, request: Request) -> None: ...
    def finish_request(self, request: Request) -> None: ...
    def next_id(self, prefix: str) -> str: ...


class Handler(BaseHTTPRequestHandler):
    """Serves each POST with the owner's next :class:`Reply`."""

    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, *args: Any) -> None:
        """Quiet: tests read ``Server.requests`` instead."""

    def do_POST(self) -> None:
        owner = self.server.owner
        request = self._read_request()
        owner.log_request(request)
        try:
            self._serve(request)
        except ClientGoneError:
            request.client_closed = not owner.stopping.is_set()
            self.close_connection = True
        except StoppingError:
            self.close_connection = True
        finally:
            owner.finish_request(request)

    def _read_request(self) -> Request:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        text = self._read_body(headers).decode("utf-8", "replace")
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        return Request(method=self.command, path=url.path, query=query, headers=headers, body=body,
                       protocol=detect(url.path))

    def _read_body(self, headers: Mapping[str, str]) -> bytes:
        if "chunked" not in headers.get("transfer-encoding", "").lower():
            return self.rfile.read(int(headers.get("content-length") or 0))
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _serve(self, request: Request) -> None:
        owner = self.server.owner
        if request.protocol is None:
            message = f"llmchat.testing: no protocol is served at {request.path}"
            self._send_body(Reply(status=404), {"error": {"message": message}})
            return
        wire = WIRES[request.protocol]
        reply = owner.take_reply() or Reply(status=500, body=wire.error_body(500, NO_REPLY))
        request.reply = reply
        if reply.raw is not None:
            self._send_raw(reply)
        elif not reply.is_stream():
            if reply.body is None:      # the protocol's own error body, and its headers (AWS: X-Amzn-Errortype)
                reply = attrs.evolve(reply, headers={**wire.error_headers(reply.status), **reply.headers})
            self._send_body(reply, reply.body if reply.body is not None else wire.error_body(reply.status))
        elif not is_streaming(request.protocol, request.path, request.body):
            self._send_body(Reply(status=400), wire.error_body(400, STREAMS_ONLY))
        else:
            ctx = context(request.protocol, request.path, request.body, reply.model, owner.next_id, request.query)
            if reply.content_type is None and wire.content_type != SSE:    # a binary framing (Bedrock)
                reply = attrs.evolve(reply, content_type=wire.content_type)
            self._send_stream(reply, render(wire, reply, ctx))

    def _start(self, reply: Reply, content_type: str, length: int | None) -> Writer:
        """Status line and headers; ``Reply.headers`` override the defaults of the same name."""
        self.send_response(reply.status, REASONS.get(reply.status))
        defaults = {"Content-Type": content_type}
        if reply.close_delimited:
            defaults["Connection"] = "close"
        elif length is not None:
            defaults["Content-Length"] = str(length)
        else:
            defaults["Transfer-Encoding"] = "chunked"
        if content_type.startswith("text/event-stream"):
            defaults["Cache-Control"] = "no-cache"
        merged = {name.lower(): (name, value) for name, value in {**defaults, **reply.headers}.items()}
        for name, value in merged.values():
            self.send_header(name, value)
        self.end_headers()
        return Writer(self, not reply.close_delimited and length is None, reply.split, reply.split_seed)

    def _end(self, writer: Writer, reply: Reply) -> None:
        writer.end()
        if reply.close_delimited:
            self._hang_up()

    def _hang_up(self) -> None:
        """Close our side now (FIN); the server closes the socket once the handler returns."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)

    def _send_body(self, reply: Reply, body: Mapping[str, Any] | str) -> None:
        data = (body if isinstance(body, str) else dumps(dict(body))).encode()
        length = len(data) if reply.split is None and not reply.close_delimited else None
        writer = self._start(reply, reply.content_type or "application/json", length)
        writer.write(data)
        self._end(writer, reply)

    def _send_raw(self, reply: Reply) -> None:
        data = reply.raw.encode() if isinstance(reply.raw, str) else bytes(reply.raw or b"")
        writer = self._start(reply, reply.content_type or SSE, None)
        writer.write(data)
        if reply.cut_after is not None:
            writer.flush()
            self._hang_up()
            return
        self._trail(writer, reply)
        self._end(writer, reply)

    def _send_stream(self, reply: Reply, steps: list[bytes | int]) -> None:
        writer = self._start(reply, reply.content_type or SSE, None)
        stopping = self.server.owner.stopping
        total = len(reply.text)
        stall_at = None if reply.stall_after is None else min(reply.stall_after, total)
        cut_at = None if reply.cut_after is None else min(reply.cut_after, total)
        started = False
        for step in steps:
            if isinstance(step, int):
                if step == stall_at:
                    writer.flush()
                    watch(self.connection, reply.stall, stopping)
                if step == cut_at:
                    writer.flush()
                    self._hang_up()
                    return
                continue
            if started and reply.delay > 0:
                writer.flush()
                watch(self.connection, reply.delay, stopping)
            writer.write(step)
            started = True
        self._trail(writer, reply)
        self._end(writer, reply)

    def _trail(self, writer: Writer, reply: Reply) -> None:
        """Hold the body open ``Reply.trailing_stall`` seconds after the last event."""
        if reply.trailing_stall > 0:
            writer.flush()
            watch(self.connection, reply.trailing_stall, self.server.owner.stopping)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server (daemon threads) that knows its owner and its open connections."""

    daemon_threads = True

    def __init__(self, host: str, port: int, owner: Owner) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer.server_bind`` does."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up between requests is normal (it stopped reading at the terminal event)."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def track(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """Shut every open connection down so idle keep-alive handlers return."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
