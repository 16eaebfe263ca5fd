"""Real servers for the tests: a throwaway PostgreSQL cluster and a redis-server, on free loopback ports.

Session-scoped fixtures (load with ``pytest_plugins = ["tests.services"]`` or import them):

- ``postgres_url``: ``postgresql://postgres@127.0.0.1:PORT/postgres`` of a cluster made by ``initdb``
  in a temporary directory and started with ``pg_ctl`` (as the ``postgres`` user when run as root);
  ``fresh_postgres(postgres_url)`` makes an empty database in it and returns its URL;
- ``redis_url``: ``redis://127.0.0.1:PORT/0`` of a ``redis-server`` with no persistence.

Outside CI a missing server skips the tests that need it, with the reason; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

__all__ = ["fresh_postgres", "free_port", "missing", "postgres_url", "redis_url"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(what: str) -> None:
    """Skip (or, in CI, fail) a test whose server cannot be started."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: servers must be installed, see README 'Development')")
    pytest.skip(what)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _wait_port(port: int, timeout: float = 20.0, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        missing("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed: pip install -e '.[postgres]'")
    root = tempfile.mkdtemp(prefix="llmchat-pg-")
    data, port = os.path.join(root, "data"), free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    run = _as_postgres()
    subprocess.run([*run, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
    subprocess.run([*run, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres(postgres_url: str) -> str:
    """An empty database in the test cluster; its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def redis_url():
    server = shutil.which("redis-server")
    if not server:
        missing("redis-server is not installed (Debian: apt-get install redis-server)")
    log = os.path.join(tempfile.mkdtemp(prefix="llmchat-redis-"), "redis.log")
    for _attempt in range(3):            # a free port can be taken by someone else before redis binds it
        port = free_port()
        process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--protected-mode", "no", "--logfile", log],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_port(port, 30.0, process):
            break
        process.kill()
        process.wait()
    else:
        with open(log) as f:
            pytest.fail(f"redis-server did not start: {f.read()[-500:]}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
