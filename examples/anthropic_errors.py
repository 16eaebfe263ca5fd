"""Anthropic Messages, and an error that keeps the partial answer (offline by default).

    .venv/bin/python examples/anthropic_errors.py
    ANTHROPIC_API_KEY=... .venv/bin/python examples/anthropic_errors.py --live
"""

import sys

import llmchat
from llmchat.testing import Reply, Server


def run(chat: llmchat.Chat) -> None:
    try:
        chat.ask("Generate long content...", on_chunk=lambda c: print(c.content or "", end="", flush=True))
    except llmchat.RateLimitError as e:
        print(f"\nRate limited. Partial content: {e.partial!r}")
    except llmchat.Error as e:
        print(f"\nStream failed: {e}. Got: {e.partial!r}")
    print("Status of the stored answer:", chat.messages[-1].status)


if __name__ == "__main__":
    if "--live" in sys.argv:
        run(llmchat.chat("claude-haiku-4-5"))
    else:
        with Server() as server:
            server.queue(Reply(text=["A", " long", " answer", " that", " never", " ends"], delay=0.05,
                               error={"type": "rate_limit_error", "message": "Output tokens exceeded"},
                               error_after=3))
            run(llmchat.chat("claude-haiku-4-5", base_url=server.url("anthropic_messages"), api_key="offline",
                             max_retries=0))
