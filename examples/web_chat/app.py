"""The guide's Rails chat app in Flask: chats answered by background jobs, pages updated live.

    python examples/web_chat/app.py                 # offline, against the bundled provider server
    OPENAI_API_KEY=... python examples/web_chat/app.py --live

Then open http://127.0.0.1:5000/. The chat page uses Turbo (``<turbo-stream-source>``); the same
chat has an htmx 2 page (``/chats/<id>/htmx2``) and an htmx 4 page (``/chats/<id>/htmx4``).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import flask

import llmchat
import llmchat.live
import llmchat.sse
from llmchat.live.render import messages_html

HERE = os.path.dirname(os.path.abspath(__file__))
TURBO_STREAM = "text/vnd.turbo-stream.html"


class Faults:
    """Test hooks: end every open stream now (``cut()``), answer the next ``fail`` reconnects with 503."""

    def __init__(self) -> None:
        self.generation = 0
        self.fail = 0
        self.connections = 0     # stream requests seen
        self.lock = threading.Lock()

    def cut(self, fail_next: int = 0) -> None:
        with self.lock:
            self.generation += 1
            self.fail = fail_next

    def take_failure(self) -> bool:
        with self.lock:
            self.connections += 1
            if self.fail > 0:
                self.fail -= 1
                return True
            return False


def _cuttable(body: Any, faults: Faults) -> Any:
    generation = faults.generation
    try:
        for piece in body:
            if faults.generation != generation:
                return
            yield piece
    finally:
        body.close()


def chat_ids(store: Any) -> list[str]:
    """The stored chats, newest first."""
    return [row[0] for row in store.backend.read("SELECT id FROM llmchat_chats ORDER BY created_at DESC")]


def create_app(store: Any, chat_arguments: dict[str, Any], *, heartbeat: float = 15.0,
               idle: float = 60.0) -> flask.Flask:
    """The app: ``store`` keeps the chats (``llmchat.store()``), ``chat_arguments`` make new ones."""
    app = flask.Flask(__name__, static_folder=os.path.join(HERE, "static"),
                      template_folder=os.path.join(HERE, "templates"))
    app.extensions["faults"] = faults = Faults()

    def exists(chat_id: str) -> bool:
        try:
            store.snapshot(chat_id)
        except LookupError:
            return False
        return True

    def title(chat_id: str) -> str:
        messages = store.snapshot(chat_id).messages
        return next((m["content"] for m in messages if m["role"] == "user"), "(new chat)")

    @app.get("/")
    def index() -> Any:
        return flask.render_template("index.html", chats=[(i, title(i)) for i in chat_ids(store)])

    @app.post("/chats")
    def create_chat() -> Any:
        return flask.redirect(flask.url_for("show", chat_id=store.create_chat(**chat_arguments).id), 303)

    def _page(chat_id: str, template: str) -> Any:
        if not exists(chat_id):
            flask.abort(404)
        page = llmchat.live.page(chat_id, store=store)
        return flask.render_template(template, chat_id=chat_id, page=page)

    @app.get("/chats/<chat_id>")
    def show(chat_id: str) -> Any:
        return _page(chat_id, "chat.html")

    @app.get("/chats/<chat_id>/htmx2")
    def show_htmx2(chat_id: str) -> Any:
        return _page(chat_id, "chat_htmx2.html")

    @app.get("/chats/<chat_id>/htmx4")
    def show_htmx4(chat_id: str) -> Any:
        return _page(chat_id, "chat_htmx4.html")

    @app.post("/chats/<chat_id>/messages")
    def post_message(chat_id: str) -> Any:
        if not exists(chat_id):
            flask.abort(404)
        text = (flask.request.form.get("content") or "").strip()
        if text:
            chat = store.load_chat(chat_id)
            chat.add_message("user", text)     # saved and broadcast at once: every open page shows it
            chat.complete_later()              # a background job answers (threads, or RQ workers)
        form = flask.render_template("form.html", chat_id=chat_id)
        if flask.request.headers.get("HX-Request"):
            return form
        if TURBO_STREAM in flask.request.headers.get("Accept", ""):
            stream = f'<turbo-stream action="replace" target="new_message"><template>{form}</template></turbo-stream>'
            return flask.Response(stream, content_type=TURBO_STREAM)
        return flask.redirect(flask.url_for("show", chat_id=chat_id), 303)

    @app.get("/chats/<chat_id>/stream")
    def stream(chat_id: str) -> Any:
        if not exists(chat_id):
            flask.abort(404)
        if faults.take_failure():
            return flask.Response("try again", status=503)
        position = flask.request.headers.get("Last-Event-ID") or flask.request.args.get("after")
        body = llmchat.sse.follow(chat_id, position, format=flask.request.args.get("format", "turbo"),
                                  store=store, heartbeat=heartbeat, idle=idle)
        return flask.Response(_cuttable(body, faults), headers=llmchat.sse.HEADERS)

    app.jinja_env.globals["messages_html"] = messages_html
    return app


def offline_arguments(server: Any) -> dict[str, Any]:
    """Chats answered by the bundled provider server (no key, no network)."""
    return {"model": "gpt-4.1-mini", "provider": "openai", "protocol": "chat_completions",
            "base_url": server.url("chat_completions"), "api_key": "offline", "max_retries": 0}


def from_environment() -> flask.Flask:
    """The app for a WSGI server: ``gunicorn -k gthread --threads 16 'app:from_environment()'``.

    ``LLMCHAT_STORE``, ``LLMCHAT_QUEUE``, ``LLMCHAT_BROADCAST`` choose the engines; ``WEB_CHAT_PROVIDER_URL``
    points new chats at an OpenAI-compatible server (the bundled one, offline), else ``LLMCHAT_MODEL``.
    """
    url = os.environ.get("WEB_CHAT_PROVIDER_URL")
    if url:
        arguments: dict[str, Any] = {"model": "gpt-4.1-mini", "provider": "openai", "protocol": "chat_completions",
                                     "base_url": url, "max_retries": 0}
    else:
        arguments = {"model": os.environ.get("LLMCHAT_MODEL", "gpt-4.1-mini")}
    return create_app(llmchat.store(), arguments, heartbeat=float(os.environ.get("WEB_CHAT_HEARTBEAT", "15")),
                      idle=float(os.environ.get("WEB_CHAT_IDLE", "60")))


def main() -> None:
    from llmchat.testing import Reply, Server

    store = llmchat.store()       # LLMCHAT_STORE (default sqlite:///llmchat.db), LLMCHAT_QUEUE, LLMCHAT_BROADCAST
    if "--live" in sys.argv:
        arguments: dict[str, Any] = {"model": os.environ.get("LLMCHAT_MODEL", "gpt-4.1-mini")}
    else:
        server = Server(port=int(os.environ.get("PROVIDER_PORT", "0"))).start()
        words = "Once upon a time, a tiny parser met a stream, and they lived happily ever after.".split(" ")
        server.default = Reply(text=[w + " " for w in words], delay=0.15)
        arguments = offline_arguments(server)
    create_app(store, arguments).run("127.0.0.1", int(os.environ.get("PORT", "5000")), threaded=True)


if __name__ == "__main__":
    main()
