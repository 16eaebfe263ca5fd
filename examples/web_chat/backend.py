"""Where the example app keeps chats and answers them: the embedded defaults, in one process.

``InProcess``: chats in memory, answers on threads, events on an in-process broadcaster.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable

import llmchat
from llmchat.live.memory import MemoryBroadcaster
from llmchat.live.publish import broadcasts_to


class InProcess:
    """Chats in a dict, each answered on a thread; every event published on ``broadcaster``."""

    def __init__(self, make_chat: Callable[[], llmchat.Chat], broadcaster: Any = None) -> None:
        self.make_chat = make_chat
        self.broadcaster = broadcaster or MemoryBroadcaster()
        self.chats: dict[str, llmchat.Chat] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create_chat(self) -> str:
        chat = self.make_chat()
        with self._lock:
            chat_id = str(next(self._ids))
            self.chats[chat_id] = chat
        broadcasts_to(chat, self.broadcaster, chat_id=chat_id)
        return chat_id

    def list_chats(self) -> list[tuple[str, str]]:
        return [(chat_id, next((m.content for m in chat.messages if m.role == "user"), "(empty)") or "")
                for chat_id, chat in sorted(self.chats.items(), key=lambda item: int(item[0]))]

    def exists(self, chat_id: str) -> bool:
        return chat_id in self.chats

    def post(self, chat_id: str, text: str) -> None:
        """Store the user's message (shown at once through the broadcast) and answer it in the background."""
        chat = self.chats[chat_id]
        chat.add_message("user", text)
        threading.Thread(target=self._answer, args=(chat,), daemon=True).start()

    @staticmethod
    def _answer(chat: llmchat.Chat) -> None:
        try:
            chat.complete()
        except llmchat.Error:
            pass    # the partial answer and the error are in the chat and on the page
