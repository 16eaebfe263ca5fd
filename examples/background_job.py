"""A stored chat answered by a background job, printed as it lands in the store (offline by default).

    python examples/background_job.py
    ANTHROPIC_API_KEY=... python examples/background_job.py --live

The web request's part is three lines: store the user's message, enqueue the answer, return. The job
saves the answer as it streams; here we follow the store's event log and print each piece as it lands.
With ``LLMCHAT_QUEUE=redis://localhost:6379/0`` the job goes to RQ; start a worker beside it with
``rq worker --url redis://localhost:6379/0 llmchat`` (give it the same ``LLMCHAT_STORE``).
"""

import os
import sys
import tempfile
import time

import llmchat
from llmchat.testing import Reply, Server


def run(store: "llmchat.storage.Store", chat: llmchat.Chat) -> None:
    chat.add_message("user", "Tell me a short story")       # saved at once
    chat.complete_later()                                    # returns at once: a worker answers
    print(f"chat {chat.id}: answer enqueued")
    position, deadline = store.snapshot(chat.id).position, time.monotonic() + 60
    while time.monotonic() < deadline:
        for event in store.log.read(chat.id, after=position, timeout=1.0):
            position = event["seq"]
            if event["type"] == "chunk":
                print(event.get("content") or "", end="", flush=True)
            elif event["type"] == "end_message":
                message = event["message"]
                print(f"\n[{message['status']}: {message['output_tokens']} tokens, finish={message['finish_reason']}]")
                if message["role"] == "assistant" and not message["tool_calls"]:
                    stored = store.load_chat(chat.id).messages[-1]
                    print(f"In the store: {stored.status}, {stored.content!r}")
                    return
    print("\nNo answer within 60 s: is a worker running? (rq worker --url $LLMCHAT_QUEUE llmchat)")


if __name__ == "__main__":
    store = llmchat.store(os.environ.get("LLMCHAT_STORE") or f"sqlite:///{tempfile.mkdtemp()}/example.db")
    if "--live" in sys.argv:
        run(store, store.create_chat("claude-haiku-4-5"))
    else:
        with Server() as server:
            server.queue(Reply(text=["Once", " upon", " a", " time,", " a", " worker", " told", " a", " story."],
                               delay=0.1))
            # ollama needs no key, so a worker process can answer it too
            run(store, store.create_chat("qwen3", provider="ollama", base_url=server.url("chat_completions")))
