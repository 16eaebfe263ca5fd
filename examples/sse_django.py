"""The guide's SSE endpoint in Django, under WSGI (gunicorn) or ASGI (uvicorn), in one file.

    pip install 'llmchat[django]'
    python examples/sse_django.py                  # offline: prints what a browser receives, then exits
    python examples/sse_django.py --serve          # offline, open http://127.0.0.1:8000/
    LLMCHAT_DEFAULT_MODEL=gpt-4.1-mini OPENAI_API_KEY=... python examples/sse_django.py --live
    cd examples && gunicorn -k gthread --threads 32 sse_django:application     # WSGI
    cd examples && uvicorn sse_django:asgi_application                         # ASGI

Under ASGI the view returns ``llmchat.sse.astream``: Django reads a sync iterator to its end before
sending anything there. Django's ``GZipMiddleware`` compresses streaming responses and holds the
events back until the answer ends; keep it away from event streams (``GZipExceptEventStreams`` below).
"""

from __future__ import annotations

import argparse
import os
import threading

import django
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIRequest
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse, StreamingHttpResponse
from django.middleware.gzip import GZipMiddleware
from django.urls import path
from sse_page import PAGE, new_chat, offline, show_one_answer

import llmchat.sse


class GZipExceptEventStreams(GZipMiddleware):
    """``GZipMiddleware`` for every response but event streams (gzip would hold their events back)."""

    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("text/event-stream"):
            return response
        return super().process_response(request, response)


def index(request):
    return HttpResponse(PAGE)


def stream_chat(request):
    chat, prompt = new_chat(), request.GET["prompt"]
    if isinstance(request, ASGIRequest):
        body = llmchat.sse.astream(chat, prompt)
    else:
        body = llmchat.sse.stream(chat, prompt)
    return StreamingHttpResponse(body, headers=llmchat.sse.HEADERS)


urlpatterns = [path("", index), path("stream_chat", stream_chat)]

if not settings.configured:
    settings.configure(
        DEBUG=False, ALLOWED_HOSTS=["127.0.0.1", "localhost"], ROOT_URLCONF=__name__, SECRET_KEY="example",
        MIDDLEWARE=os.environ.get("LLMCHAT_EXAMPLE_MIDDLEWARE", f"{__name__}.GZipExceptEventStreams").split(","),
        INSTALLED_APPS=[], USE_TZ=True)
    django.setup()

application = get_wsgi_application()
asgi_application = get_asgi_application()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", action="store_true", help="talk to a real provider (implies --serve)")
    parser.add_argument("--serve", action="store_true", help="serve the page until Ctrl-C")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer, make_server

    class Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    with offline(args.live):
        serve = args.serve or args.live
        server = make_server("127.0.0.1", args.port if serve else 0, application, server_class=Threaded)
        if serve:
            print(f"open http://127.0.0.1:{server.server_port}/")
            server.serve_forever()
        else:
            threading.Thread(target=server.serve_forever, daemon=True).start()
            show_one_answer(f"http://127.0.0.1:{server.server_port}")
            server.shutdown()


if __name__ == "__main__":
    main()
