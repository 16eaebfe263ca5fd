"""Connections and logs: keep-alive between asks, and API keys absent from every repr, error and log line."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from wire_streams import chat_at

import llmchat
from llmchat.testing import Reply

KEY = "sk-test-SECRET-0123456789"          # the key conftest's make_chat uses
HEADER_KEY = "hdr-SECRET-abcdef987"


class CountingProxy:
    """A TCP pass-through to the server that counts the connections clients open."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxied(server):
    proxy = CountingProxy(server.port)
    yield proxy
    proxy.close()


def test_consecutive_asks_share_one_connection(server, make_chat, protocol, proxied):
    server.queue(Reply(text=["one"]), Reply(text=["two"], split=3), Reply(text=["three"]))
    chat = chat_at(server.url(protocol).replace(f":{server.port}", f":{proxied.port}"), protocol)
    assert [chat.ask(q).content for q in ("a", "b", "c")] == ["one", "two", "three"]
    assert proxied.connections == 1


@pytest.mark.parametrize("fault", [{"cut_after": 1}, {"error_after": 1, "error": {"type": "api_error"}},
                                   {"trailing_stall": 5.0}], ids=["cut", "error", "slow-end"])
def test_a_connection_in_doubt_is_not_reused(server, make_chat, protocol, proxied, fault):
    if protocol == "gemini" and "trailing_stall" in fault:
        pytest.skip("Gemini has no terminal event: its stream ends when the body does")
    server.queue(Reply(text=["a", "b"], **fault), Reply(text=["fine"]))
    chat = chat_at(server.url(protocol).replace(f":{server.port}", f":{proxied.port}"), protocol, max_retries=0)
    started = time.monotonic()
    try:
        chat.ask("x")
    except llmchat.Error:
        pass
    assert time.monotonic() - started < 1.5         # a body that does not end soon is not waited for
    assert chat.ask("y").content == "fine"
    assert proxied.connections == 2


def test_keys_are_absent_from_reprs_errors_and_debug_logs(server, make_chat, protocol, caplog):
    server.queue(Reply(text=["Hi"]), Reply(status=401))
    chat = make_chat(protocol, headers={"X-Api-Key": HEADER_KEY, "X-Custom-Auth": HEADER_KEY + "2"})
    with caplog.at_level(logging.DEBUG, logger="llmchat"):
        chat.ask("hello")
        with pytest.raises(llmchat.UnauthorizedError) as info:
            chat.ask("again")
    sent = server.wait_for(1)[0].headers
    assert sent["x-api-key"] == HEADER_KEY and sent["x-custom-auth"] == HEADER_KEY + "2"
    logged = caplog.text
    assert "POST" in logged and "event" in logged and "Hi" in logged          # requests and events logged
    shown = [logged, repr(chat), repr(chat.messages), repr(info.value), str(info.value), repr(vars(info.value)),
             repr(vars(chat))]
    for text in shown:
        assert KEY not in text and HEADER_KEY not in text


@pytest.mark.parametrize("key", [KEY + "\n", KEY + "\r", KEY + "\u2019"], ids=["newline", "return", "non-latin1"])
def test_a_key_that_cannot_be_sent_is_a_configuration_error_without_the_key(server, protocol, key):
    chat = chat_at(server.url(protocol), protocol, api_key=key)
    with pytest.raises(llmchat.ConfigurationError) as info:
        chat.ask("x")
    assert KEY not in str(info.value) and "header" in str(info.value)
    assert server.requests == []


def test_debug_logging_from_the_environment_never_shows_keys():
    script = textwrap.dedent(f"""
        import llmchat
        from llmchat.testing import Reply, Server
        with Server() as server:
            server.queue(Reply(text=["Hello", " there"]), Reply(status=429, headers={{"retry-after": "0"}}),
                         Reply(text=["again"]))
            chat = llmchat.chat("claude-haiku-4-5", base_url=server.url("anthropic_messages"), api_key="{KEY}",
                                headers={{"X-Api-Key": "{HEADER_KEY}"}}, retry_interval=0.01)
            chat.ask("hi")
            chat.ask("more")
    """)
    env = {**os.environ, "LLMCHAT_DEBUG": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    log = done.stderr
    assert "POST http://127.0.0.1" in log and "***" in log
    assert "event content_block_delta" in log and "Hello" in log and "retrying" in log
    assert KEY not in log and HEADER_KEY not in log
