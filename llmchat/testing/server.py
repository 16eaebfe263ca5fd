"""The scriptable loopback server: queue :class:`Reply` values, point a client at it, inspect requests."""

from __future__ import annotations

import collections
import ipaddress
import threading
from types import TracebackType

from llmchat.testing.handler import LoopbackHTTPServer
from llmchat.testing.protocols import BASE_PATHS
from llmchat.testing.types import Reply, Request

__all__ = ["Server"]


def _loopback(host: str) -> str:
    """The host to bind, refusing anything that is not a loopback address."""
    address = "127.0.0.1" if host == "localhost" else host
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"llmchat.testing.Server binds loopback addresses only, not {host!r}")
    return address


class Server:
    """A loopback HTTP server speaking four LLM streaming protocols, driven by queued replies.

    Each request pops the next queued :class:`Reply` (or uses ``default`` when the queue is
    empty and it is set; otherwise the answer is a 500 error saying "llmchat.testing: no reply
    queued"). The protocol is chosen by the request path and the reply rendered in its format.
    The server runs in a daemon thread on a free port; ``stop()`` returns promptly, even while a
    reply is stalling.

    >>> import json, urllib.request
    >>> with Server() as server:
    ...     server.reply("Hel", "lo")
    ...     request = urllib.request.Request(
    ...         server.url("chat_completions") + "/chat/completions",
    ...         data=json.dumps({"model": "m", "stream": True}).encode(),
    ...         headers={"content-type": "application/json"})
    ...     with urllib.request.urlopen(request) as response:
    ...         events = response.read().decode().split("\\n\\n")
    ...     received = server.wait_for(1)
    >>> [json.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[1:3]]
    ['Hel', 'lo']
    >>> events[-2], received[0].body["model"], received[0].protocol
    ('data: [DONE]', 'm', 'chat_completions')
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = _loopback(host)
        self.port = port
        self.default: Reply | None = None
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._queue: collections.deque[Reply] = collections.deque()
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._ids: collections.Counter[str] = collections.Counter()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Server:
        """Bind (a free port unless one was given) and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self.stopping.clear()
        self._httpd = LoopbackHTTPServer(self.host, self.port, self)
        self.port = self._httpd.server_port
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"llmchat.testing:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake stalling replies, close open connections, release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT`` (the server must be started)."""
        if self._httpd is None:
            raise RuntimeError("llmchat.testing.Server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, protocol: str) -> str:
        """The base_url to give a client for ``protocol`` (chat_completions, responses,
        anthropic_messages, gemini, cohere or converse)."""
        if protocol not in BASE_PATHS:
            raise ValueError(f"unknown protocol {protocol!r}; expected one of {sorted(BASE_PATHS)}")
        return self.root + BASE_PATHS[protocol]

    # -- scripting ---------------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"Server.queue takes Reply values, not {type(reply).__name__}")
        with self._lock:
            self._queue.extend(replies)

    def reply(self, *text: str, **fields: object) -> None:
        """Shorthand: ``reply("Hel", "lo")`` queues ``Reply(text=["Hel", "lo"])`` (fields allowed)."""
        self.queue(Reply(text=list(text), **fields))  # type: ignore[arg-type]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Request]:
        """Block until ``n`` requests have finished being served; return ``requests``.

        Raises :class:`TimeoutError` when fewer have finished within ``timeout`` seconds.
        """
        with self._finished:
            if not self._finished.wait_for(lambda: self._done_count() >= n, timeout):
                raise TimeoutError(f"llmchat.testing: {self._done_count()} of {n} requests "
                                   f"finished within {timeout} s")
        return self.requests

    def _done_count(self) -> int:
        return sum(request.done.is_set() for request in self.requests)

    # -- called by the request handler -------------------------------------------------------

    def take_reply(self) -> Reply | None:
        """The next queued reply, else ``default`` (None when neither)."""
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def log_request(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def finish_request(self, request: Request) -> None:
        with self._finished:
            request.done.set()
            self._finished.notify_all()

    def next_id(self, prefix: str) -> str:
        """A tool call id unique per server and prefix: call_1, call_2, toolu_1, ..."""
        with self._lock:
            self._ids[prefix] += 1
            return f"{prefix}{self._ids[prefix]}"
