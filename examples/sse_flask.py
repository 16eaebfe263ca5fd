"""The guide's SSE endpoint in Flask: the answer streams into the page, errors keep what was streamed.

    pip install 'llmchat[flask]'
    python examples/sse_flask.py                  # offline: prints what a browser receives, then exits
    python examples/sse_flask.py --serve          # offline, open http://127.0.0.1:5000/
    LLMCHAT_DEFAULT_MODEL=gpt-4.1-mini OPENAI_API_KEY=... python examples/sse_flask.py --live

In production run it on a threaded WSGI server, e.g. ``gunicorn -k gthread --threads 32 'sse_flask:create_app()'``
(each open stream holds a thread; closing the tab closes the provider connection).
"""

from __future__ import annotations

import argparse
import threading

import flask
from sse_page import PAGE, new_chat, offline, show_one_answer

import llmchat.sse


def create_app() -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/")
    def index() -> str:
        return PAGE

    @app.get("/stream_chat")
    def stream_chat() -> flask.Response:
        chat = new_chat()
        return flask.Response(llmchat.sse.stream(chat, flask.request.args["prompt"]), headers=llmchat.sse.HEADERS)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", action="store_true", help="talk to a real provider (implies --serve)")
    parser.add_argument("--serve", action="store_true", help="serve the page until Ctrl-C")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    from werkzeug.serving import make_server

    with offline(args.live):
        server = make_server("127.0.0.1", args.port if args.serve or args.live else 0, create_app(), threaded=True)
        if args.serve or args.live:
            print(f"open http://127.0.0.1:{server.server_port}/")
            server.serve_forever()
        else:
            threading.Thread(target=server.serve_forever, daemon=True).start()
            show_one_answer(f"http://127.0.0.1:{server.server_port}")
            server.shutdown()


if __name__ == "__main__":
    main()
