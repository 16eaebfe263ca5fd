"""Basic streaming to a callable (chat_completions; works offline against the bundled server).

    .venv/bin/python examples/basic_streaming.py            # offline, against llmchat.testing.Server
    OPENAI_API_KEY=... .venv/bin/python examples/basic_streaming.py --live
"""

import sys

import llmchat
from llmchat.testing import Reply, Server


def run(chat: llmchat.Chat) -> None:
    chat.on_end_message(lambda m: print(f"\n[{m.input_tokens} in, {m.output_tokens} out]") if m else None)
    chat.ask("Tell me a short story", on_chunk=lambda c: print(c.content or "", end="", flush=True))
    print("Stored:", repr(chat.messages[-1].content))


if __name__ == "__main__":
    if "--live" in sys.argv:
        run(llmchat.chat("gpt-4.1-mini", protocol="chat_completions"))
    else:
        with Server() as server:
            server.queue(Reply(text=["Once", " upon", " a", " time", "..."], delay=0.05))
            run(llmchat.chat("gpt-4.1-mini", protocol="chat_completions",
                             base_url=server.url("chat_completions"), api_key="offline"))
