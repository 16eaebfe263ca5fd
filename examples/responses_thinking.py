"""OpenAI Responses API with reasoning summaries: thinking is streamed apart from the answer.

    .venv/bin/python examples/responses_thinking.py              # offline, against llmchat.testing.Server
    OPENAI_API_KEY=... .venv/bin/python examples/responses_thinking.py --live
"""

import sys

import llmchat
from llmchat.testing import Reply, Server


def run(chat: llmchat.Chat) -> None:
    def on_chunk(chunk: llmchat.Chunk) -> None:
        if chunk.thinking:
            print(f"[{chunk.thinking.strip()}] ", end="", flush=True)      # reasoning, never mixed into content
        if chunk.content:
            print(chunk.content, end="", flush=True)

    reply = chat.ask("Is 3599 prime?", on_chunk=on_chunk)
    print(f"\n[thinking: {len(reply.thinking or '')} chars, reasoning tokens: {reply.reasoning_tokens}, "
          f"finish: {reply.finish_reason}]")


if __name__ == "__main__":
    if "--live" in sys.argv:
        run(llmchat.chat("gpt-5-nano").with_params(reasoning={"effort": "low", "summary": "auto"}))
    else:
        with Server() as server:
            server.queue(Reply(thinking=["Try small factors... ", "3599 = 60² - 1 = 59 × 61. "],
                               text=["No: ", "3599 = 59 × 61."], output_tokens=52, reasoning_tokens=40, delay=0.05))
            run(llmchat.chat("gpt-5-nano", base_url=server.url("responses"), api_key="offline"))
