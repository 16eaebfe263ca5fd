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


class WebChat:
    """The views: the list of chats, a chat page (Turbo, htmx 2, htmx 4), posting a message, the stream."""

    def __init__(self, store: Any, chat_arguments: dict[str, Any], heartbeat: float, idle: float) -> None:
        self.store, self.chat_arguments = store, chat_arguments
        self.heartbeat, self.idle = heartbeat, idle
        self.faults = Faults()

    def exists(self, chat_id: str) -> bool:
        try:
            self.store.snapshot(chat_id)
        except LookupError:
            return False
        return True

    def title(self, chat_id: str) -> str:
        messages = self.store.snapshot(chat_id).messages
        return next((m["content"] for m in messages if m["role"] == "user"), "(new chat)")

    def index(self) -> Any:
        return flask.render_template("index.html", chats=[(i, self.title(i)) for i in chat_ids(self.store)])

    def create_chat(self) -> Any:
        chat = self.store.create_chat(**self.chat_arguments)
        return flask.redirect(flask.url_for("show", chat_id=chat.id), 303)

    def show(self, chat_id: str, template: str = "chat.html") -> Any:
        if not self.exists(chat_id):
            flask.abort(404)
        page = llmchat.live.page(chat_id, store=self.store)    # the messages and the position they include
        return flask.render_template(template, chat_id=chat_id, page=page)

    def post_message(self, chat_id: str) -> Any:
        if not self.exists(chat_id):
            flask.abort(404)
        text = (flask.request.form.get("content") or "").strip()
        if text:
            chat = self.store.load_chat(chat_id)
            chat.add_message("user", text)     # saved and broadcast at once: every open page shows it
            chat.complete_later()              # a background job answers (threads, or RQ workers)
        form = flask.render_template("form.html", chat_id=chat_id, htmx=bool(flask.request.headers.get("HX-Request")))
        if flask.request.headers.get("HX-Request"):
            return form
        if TURBO_STREAM in flask.request.headers.get("Accept", ""):
            stream = f'<turbo-stream action="replace" target="new_message"><template>{form}</template></turbo-stream>'
            return flask.Response(stream, content_type=TURBO_STREAM)
        return flask.redirect(flask.url_for("show", chat_id=chat_id), 303)

    def stream(self, chat_id: str) -> Any:
        if self.faults.take_failure():
            return flask.Response("try again", status=503)
        position = flask.request.headers.get("Last-Event-ID") or flask.request.args.get("after")
        try:
            body = llmchat.sse.follow(chat_id, position, format=flask.request.args.get("format", "turbo"),
                                      store=self.store, heartbeat=self.heartbeat, idle=self.idle)
        except llmchat.ChatNotFoundError:        # the browser stops asking (any answer but 200 does)
            flask.abort(404)
        except llmchat.ConfigurationError:       # an unknown ?format=
            flask.abort(400)
        return flask.Response(_cuttable(body, self.faults), headers=llmchat.sse.HEADERS)


def create_app(store: Any, chat_arguments: dict[str, Any], *, heartbeat: float = 15.0,
               idle: float = 60.0) -> flask.Flask:
    """The app: ``store`` keeps the chats (``llmchat.store()``), ``chat_arguments`` make new ones."""
    app = flask.Flask(__name__, static_folder=os.path.join(HERE, "static"),
                      template_folder=os.path.join(HERE, "templates"))
    views = WebChat(store, chat_arguments, heartbeat, idle)
    app.extensions["faults"] = views.faults
    app.add_url_rule("/", "index", views.index)
    app.add_url_rule("/chats", "create_chat", views.create_chat, methods=["POST"])
    app.add_url_rule("/chats/<chat_id>", "show", views.show)
    app.add_url_rule("/chats/<chat_id>/htmx2", "show_htmx2", views.show, defaults={"template": "chat_htmx2.html"})
    app.add_url_rule("/chats/<chat_id>/htmx4", "show_htmx4", views.show, defaults={"template": "chat_htmx4.html"})
    app.add_url_rule("/chats/<chat_id>/messages", "post_message", views.post_message, methods=["POST"])
    app.add_url_rule("/chats/<chat_id>/stream", "stream", views.stream)
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
