"""The HTTP session: one requests.Session per thread, whose connections hand their socket to the
:class:`~llmchat.transport.Stream` being opened, so that ``abort()`` reaches a request still waiting for
its status line or headers."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import requests
from requests.adapters import HTTPAdapter
from urllib3 import ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["opening", "session"]

_local = threading.local()


class _Watched:
    """Mixed into urllib3's connections: hands each socket to the Stream being opened, so that
    :meth:`Stream.abort` can shut it before the response headers have arrived."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:       # a kept-alive connection: connect() is not called again
            _watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _watch(sock: Any) -> None:
    stream = getattr(_local, "opening", None)
    if stream is not None:
        stream._attach(sock)


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is ProxyManager:       # SOCKS proxies keep their own pools (abort acts after headers)
            manager.pool_classes_by_scheme = _POOLS
        return manager


def session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.mount("http://", _Adapter())
        session.mount("https://", _Adapter())
    return session


@contextlib.contextmanager
def opening(stream: Any) -> Iterator[None]:
    """While the body runs, the connections of this thread hand their socket to ``stream._attach``."""
    _local.opening = stream
    try:
        yield
    finally:
        _local.opening = None
