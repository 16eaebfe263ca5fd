"""Fixtures for tests that need real servers and a real browser: headless Debian Chromium via Playwright,
and web apps served by real WSGI/ASGI servers in subprocesses on free loopback ports.

Import the fixtures into a test module (``from browser import browser, page``). Outside CI a missing
browser, server or framework skips with the reason; with ``CI=true`` it fails.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

CHROMIUM = os.environ.get("LLMCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = pathlib.Path(__file__).resolve().parent.parent


def missing(reason: str) -> None:
    """Skip with ``reason``, or fail when running in CI (CI=true): there a missing part is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def need(module: str) -> Any:
    """Import ``module`` or skip/fail (see :func:`missing`)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing(f"{module} is not installed ({exc}); pip install -e '.[web-test]'")


def need_program(name: str) -> str:
    """The path of the executable ``name`` (looked up next to this Python first), or skip/fail."""
    here = pathlib.Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        missing(f"the program {name!r} is not installed")
    return found  # type: ignore[return-value]


def run_async(coroutine_function: Any, *args: Any) -> Any:
    """``asyncio.run(coroutine_function(*args))`` on a fresh thread (safe while Playwright's loop runs here)."""
    import asyncio
    import threading

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine_function(*args))
        except BaseException as exc:     # re-raised on the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the server did not listen on port {port} within {timeout} s")


@contextlib.contextmanager
def serve(command: list[str], *, port: int, cwd: pathlib.Path | str = ROOT, env: dict[str, str] | None = None,
          timeout: float = 20.0) -> Iterator[str]:
    """Run a server subprocess listening on ``port``; yield its root URL; stop it (that process only)."""
    process = subprocess.Popen(command, cwd=str(cwd), env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        _wait_for_port(port, process, timeout)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)      # its own session: the server and its workers
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        process.stderr.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (Debian's package) driven by Playwright, shared by a test module.

    Module scope, not session: Playwright's sync API keeps an event loop running on the main thread
    while it is open, and ``asyncio.run`` in a later test module would refuse to start.
    """
    sync_api = need("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own browser context, closed after the test."""
    context = browser.new_context()
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
