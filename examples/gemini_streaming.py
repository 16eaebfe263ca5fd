"""Gemini: streamed thoughts and answer, and token usage (output = candidates + thoughts).

    .venv/bin/python examples/gemini_streaming.py              # offline, against llmchat.testing.Server
    GEMINI_API_KEY=... .venv/bin/python examples/gemini_streaming.py --live
"""

import sys

import llmchat
from llmchat.testing import Reply, Server


def run(chat: llmchat.Chat) -> None:
    chat.on_end_message(lambda m: print(f"\n[{m.input_tokens} in, {m.output_tokens} out "
                                        f"({m.reasoning_tokens or 0} thinking), finish={m.finish_reason}]"))
    for chunk in chat.stream("Name three rivers of Europe."):       # the iterator form of ask()
        if chunk.thinking:
            print(f"(thinking: {chunk.thinking.strip()})")
        if chunk.content:
            print(chunk.content, end="", flush=True)


if __name__ == "__main__":
    if "--live" in sys.argv:
        run(llmchat.chat("gemini-2.5-flash").with_params(
            generationConfig={"thinkingConfig": {"includeThoughts": True}}))
    else:
        with Server() as server:
            server.queue(Reply(thinking=["Pick well-known ones."],
                               text=["The Danube, ", "the Rhine ", "and the Loire."],
                               output_tokens=20, reasoning_tokens=12, delay=0.05))
            run(llmchat.chat("gemini-2.5-flash", base_url=server.url("gemini"), api_key="offline"))
