"""Background jobs: ``chat.complete_later()`` and the job body :func:`answer`, for any queue.

A job carries only ids: ``answer(chat_id, after_message_id)`` loads the stored chat, takes its lock
and answers it, saving as it streams (see :mod:`llmchat.storage`). Queues deliver at least once
(RQ, Celery, Dramatiq, Huey, Django's tasks all may run a job twice), so :func:`answer` is
idempotent: it does nothing when the answer after that message is already complete, and an answer
whose worker died is replaced by a fresh attempt. Run it from the queue you already have::

    @celery_app.task(acks_late=True)
    def answer_chat(chat_id, after_message_id):
        llmchat.jobs.answer(chat_id, after_message_id)

Built in: :class:`ThreadQueue` (the default: worker threads of this process, zero setup) and, with
``LLMCHAT_QUEUE=redis://...`` (or ``configure(queue=...)``), :class:`RQQueue`: jobs go to RQ's
``llmchat`` queue, run by worker processes started with::

    LLMCHAT_STORE=postgresql://... rq worker --url redis://localhost:6379/0 llmchat

RQ stops a job after 180 s by default; an answer with tools can take longer, so jobs are enqueued
with ``job_timeout`` = ``LLMCHAT_JOB_TIMEOUT`` (default 3600 s).

>>> import os, tempfile, llmchat
>>> from llmchat.testing import Server
>>> store = llmchat.store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "chats.db"))
>>> with Server() as server:
...     server.reply("Hello", " from a job")
...     chat = store.create_chat("gpt-4.1-mini", base_url=server.url("responses"), api_key="k")
...     question = chat.add_message("user", "Hi")
...     job = chat.complete_later()          # returns at once
...     job.result(timeout=10)
'complete'
>>> store.load_chat(chat.id).messages[-1].content
'Hello from a job'
>>> answer(chat.id, question.id, store)   # delivered twice: nothing more happens
'already answered'
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.parse
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from llmchat.config import settings
from llmchat.errors import ConfigurationError, Error

__all__ = ["RQQueue", "ThreadQueue", "answer", "complete_later", "queue"]

log = logging.getLogger("llmchat")

WAIT = 600.0        # seconds a job waits for another worker answering the same chat


def answer(chat_id: str, after_message_id: str | None = None, store: Any = None) -> str:
    """Answer stored chat ``chat_id`` after message ``after_message_id`` unless that is already done
    (``after_message_id`` None: unless the chat's last message is a complete answer).

    ``store`` is a :class:`~llmchat.storage.Store`, a store URL or None (``LLMCHAT_STORE``). Returns
    what happened: ``"complete"``, ``"already answered"``, ``"cancelled"`` or ``"incomplete: <error class>"``
    (the partial answer and the error are saved; nothing is retried once content was delivered).
    """
    from llmchat.storage import Store, check_id
    from llmchat.storage import store as open_store

    check_id(chat_id, "chat_id")
    if after_message_id is not None:
        check_id(after_message_id, "after_message_id")
    s = store if isinstance(store, Store) else open_store(store)
    owner = uuid.uuid4().hex
    s.lock(chat_id, owner, wait=WAIT)      # a second delivery waits here for the first one to end
    try:
        chat = s.load_chat(chat_id, _owner=owner)
    except BaseException:
        with s.backend.tx() as q:
            q("UPDATE llmchat_chats SET lock_owner = NULL WHERE id = ? AND lock_owner = ?", (chat_id, owner))
        raise
    try:
        return _answer(s, chat, after_message_id)
    finally:
        chat._writer.release()


def _answer(s: Any, chat: Any, after: str | None) -> str:
    messages = chat.messages
    ids = [m.id for m in messages]
    if after is not None and after not in ids:
        from llmchat.errors import ChatNotFoundError

        raise ChatNotFoundError(f"message {after!r} is not in chat {chat.id!r}")
    last = messages[-1] if messages else None
    answered = last is not None and last.role == "assistant" and last.complete and not last.tool_calls
    if answered and (after is None or ids.index(after) < len(messages) - 1):    # no id: the last question
        return "already answered"
    if after is not None and _cancelled_before(s, chat.id, after):
        return "cancelled"
    try:
        chat.complete()
    except Error as exc:
        log.info("llmchat job: chat %s ended incomplete: %s", chat.id, type(exc).__name__)
        return "cancelled" if type(exc).__name__ == "CancelledError" else f"incomplete: {type(exc).__name__}"
    return "complete"


def _cancelled_before(s: Any, chat_id: str, message_id: str) -> bool:
    """A cancel request stored after the message the job answers: the job was cancelled before it ran."""
    rows = s.backend.read("SELECT c.cancel_at, m.created_at FROM llmchat_chats c JOIN llmchat_messages m"
                          " ON m.chat_id = c.id WHERE c.id = ? AND m.id = ?", (chat_id, message_id))
    return bool(rows) and rows[0][0] is not None and rows[0][0] >= rows[0][1]


def complete_later(chat: Any) -> Any:
    """Enqueue the answer of a stored chat (``Chat.complete_later``); returns the queue's job handle."""
    writer = chat._writer
    if chat.id is None or writer is None:
        raise ConfigurationError("complete_later() needs a stored chat: make it with llmchat.store().create_chat(...) "
                                 "or load it with llmchat.store().load_chat(id)")
    answered = [m for m in chat.messages if not (m.role == "assistant" and not m.complete)]
    if not answered:
        raise ConfigurationError("complete_later(): the chat has no message to answer; add_message() first")
    writer.save_config()
    with writer.store.backend.tx() as q:      # asking again lifts an earlier cancel request
        q("UPDATE llmchat_chats SET cancel_at = NULL WHERE id = ?", (chat.id,))
    return queue().enqueue(writer.store, chat.id, answered[-1].id)


class ThreadQueue:
    """Jobs on worker threads of this process (the default queue); ``enqueue`` returns a Future.

    >>> ThreadQueue(workers=2).workers
    2
    """

    def __init__(self, workers: int = 8) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="llmchat-job")

    def enqueue(self, store: Any, chat_id: str, after_message_id: str | None) -> Future:
        return self._pool.submit(answer, chat_id, after_message_id, store)


class RQQueue:
    """Jobs on RQ's ``llmchat`` queue in Redis (``pip install llmchat[redis]``); ``enqueue`` returns an ``rq.Job``.

    A job's arguments are the chat id, the message id and the store URL (left out when it holds a
    password: then workers take ``LLMCHAT_STORE`` from their environment).

    >>> RQQueue.name
    'llmchat'
    """

    name = "llmchat"

    def __init__(self, url: str) -> None:
        try:
            import redis
            import rq
        except ImportError:
            raise ConfigurationError("LLMCHAT_QUEUE=redis://... needs RQ: pip install 'llmchat[redis]'") from None
        self.queue = rq.Queue(self.name, connection=redis.Redis.from_url(url))

    def enqueue(self, store: Any, chat_id: str, after_message_id: str | None) -> Any:
        url = None if urllib.parse.urlsplit(store.url).password else store.url
        timeout = int(float(os.environ.get("LLMCHAT_JOB_TIMEOUT", 3600)))
        return self.queue.enqueue(answer, args=(chat_id, after_message_id, url), job_timeout=timeout,
                                  description=f"llmchat answer {chat_id}")


_queues: dict[Any, Any] = {}
_queues_lock = threading.Lock()


def queue(url: str | None = None) -> Any:
    """The queue jobs go to: ``url``, else ``configure(queue=...)``, else ``LLMCHAT_QUEUE``, else threads."""
    url = url or settings("queue", "LLMCHAT_QUEUE") or None
    key = (url, os.getpid())
    with _queues_lock:
        found = _queues.get(key)
        if found is None:
            if url is None:
                found = ThreadQueue()
            elif url.startswith(("redis://", "rediss://", "unix://")):
                found = RQQueue(url)
            else:
                raise ConfigurationError(f"unknown queue URL {url!r}: leave LLMCHAT_QUEUE unset for threads, "
                                         f"or use redis://host:port/db for RQ")
            _queues[key] = found
        return found

