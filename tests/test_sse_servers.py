"""The SSE examples on the servers users run them on, driven by a real HTTP client (httpx):
Flask and Django under gunicorn (WSGI), Django and FastAPI under uvicorn (ASGI)."""

from __future__ import annotations

import contextlib
import time

import pytest
from browser import ROOT, free_port, need, need_program, serve
from sse_client import parse, text_of

from llmchat.testing import Reply

WORDS = [f"word{i} " for i in range(20)]
APPS = {    # name -> (framework module, server, app)
    "flask-gunicorn": ("flask", "gunicorn", "sse_flask:create_app()"),
    "django-gunicorn": ("django", "gunicorn", "sse_django:application"),
    "django-uvicorn": ("django", "uvicorn", "sse_django:asgi_application"),
    "fastapi-uvicorn": ("fastapi", "uvicorn", "sse_fastapi:app"),
}


@contextlib.contextmanager
def running(name, server, **env):
    framework, program, app = APPS[name]
    need(framework)
    need("httpx")
    port = free_port()
    if program == "gunicorn":
        command = [need_program("gunicorn"), "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}",
                   "--chdir", str(ROOT / "examples"), "--graceful-timeout", "2", app]
    else:
        need("uvicorn")
        command = [need_program("uvicorn"), "--app-dir", str(ROOT / "examples"), "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning", "--timeout-graceful-shutdown", "2", app]
    env = {"LLMCHAT_EXAMPLE_BASE_URL": server.url("chat_completions"), **env}
    with serve(command, port=port, env=env) as root:
        yield root


def read(root, server, *, headers=None):
    """The whole body, whether the first event came while the provider was still streaming, and the response."""
    import httpx

    parts, live = [], None
    with httpx.stream("GET", root + "/stream_chat", params={"prompt": "Hi"}, headers=headers or {},
                      timeout=30) as response:
        for part in response.iter_bytes():
            if live is None and b"data:" in part:
                live = not server.requests[-1].done.is_set()
            parts.append(part)
    return b"".join(parts), live, response


@pytest.mark.parametrize("name", sorted(APPS))
def test_events_stream_live_and_end_with_complete(server, name):
    server.queue(Reply(text=WORDS, delay=0.05))
    with running(name, server) as root:
        body, live, response = read(root, server)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no" and "content-encoding" not in response.headers
    events, _ = parse(body)
    assert text_of(events) == "".join(WORDS) and events[-1].event == "complete"
    assert live, "the first event must arrive while the provider is still streaming"


@pytest.mark.parametrize("name", sorted(APPS))
def test_a_client_leaving_closes_the_provider_connection(server, name):
    import httpx

    server.queue(Reply(text=[f"w{i} " for i in range(400)], delay=0.05))
    with running(name, server) as root:
        with httpx.Client(timeout=30) as client:
            with client.stream("GET", root + "/stream_chat", params={"prompt": "Hi"}) as response:
                for part in response.iter_bytes():
                    if b"data:" in part:
                        break
            left = time.monotonic()
        request = server.wait_for(1, timeout=5.0)[0]
        assert request.client_closed, "the provider server must see the client close"
        assert time.monotonic() - left < 1.5


def test_a_mid_stream_error_keeps_the_partial_answer(server):
    server.queue(Reply(text=WORDS, error={"type": "overloaded_error", "message": "busy"}, error_after=2))
    with running("fastapi-uvicorn", server) as root:
        body, _, _ = read(root, server)
    events, _ = parse(body)
    assert text_of(events) == "".join(WORDS[:2])
    assert events[-1].event == "error" and events[-1].json()["partial"] == "".join(WORDS[:2])


def test_django_gzip_middleware_holds_events_back_and_the_example_keeps_streams_out_of_it(server):
    gzip = {"Accept-Encoding": "gzip"}
    server.queue(Reply(text=WORDS, delay=0.05))
    with running("django-gunicorn", server, LLMCHAT_EXAMPLE_MIDDLEWARE="django.middleware.gzip.GZipMiddleware") \
            as root:
        body, live, response = read(root, server, headers=gzip)
    assert response.headers["content-encoding"] == "gzip"
    assert text_of(parse(body)[0]) == "".join(WORDS)
    assert live is False, "plain GZipMiddleware delivered events early: update the README's warning"

    server.queue(Reply(text=WORDS, delay=0.05))
    with running("django-gunicorn", server) as root:         # the example's GZipExceptEventStreams
        body, live, response = read(root, server, headers=gzip)
    assert "content-encoding" not in response.headers and live
    assert text_of(parse(body)[0]) == "".join(WORDS)
