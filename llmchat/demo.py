"""An offline tour of llmchat: ``python -m llmchat.demo``.

Runs the real HTTP path against the bundled loopback server (no API key, no
network): streaming to a callback, the message callbacks, a tool call that
pauses the stream, and a rate limit in the middle of an answer whose partial
text survives and is finished by ``chat.complete()``.
"""

from __future__ import annotations

import sys
import time

import llmchat
from llmchat.testing import Call, Reply, Server

STORY = ["Once", " upon", " a", " time,", " a", " tiny", " parser", " met", " a", " stream", "."]


def out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def main(protocol: str = "anthropic_messages", model: str = "claude-haiku-4-5", delay: float = 0.04) -> None:
    with Server() as server:
        chat = llmchat.chat(model, protocol=protocol, base_url=server.url(protocol), api_key="demo-key",
                            retry_interval=0.05)
        chat.on_new_message(lambda: out("\nAssistant: "))
        chat.on_end_message(lambda m: out(f"\n  [{m.status}: {m.input_tokens} in, {m.output_tokens} out, "
                                          f"finish={m.finish_reason}]\n") if m else None)

        out("== 1. Streaming to a callback ==")
        server.queue(Reply(text=STORY, delay=delay, input_tokens=12))
        chat.ask("Tell me a story", on_chunk=lambda c: out(c.content or ""))
        out(f"chat.messages[-1].content = {chat.messages[-1].content!r}\n")

        out("\n== 2. A tool call: the stream pauses, the tool runs, the stream resumes ==")

        @llmchat.tool
        def weather(city: str) -> str:
            """Current weather for a city."""
            return f"15°C and sunny in {city}"

        chat.with_tool(weather).on_tool_call(lambda call: out(f"[Calling: {call.name}({call.arguments})]"))
        server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"})], delay=delay),
                     Reply(text=["It", " is", " 15°C", " and", " sunny", " in", " Berlin."], delay=delay))
        chat.ask("What's the weather in Berlin?", on_chunk=lambda c: out(c.content or ""))

        out("\n== 3. Rate limited in the middle of an answer: nothing is lost ==")
        server.queue(Reply(text=STORY, delay=delay, error={"type": "rate_limit_error",
                                                            "message": "Number of request tokens exceeded"},
                           error_after=5))
        try:
            chat.ask("Tell me another story", on_chunk=lambda c: out(c.content or ""))
        except llmchat.RateLimitError as e:
            out(f"\nRateLimitError: {e}\n  e.partial = {e.partial!r}\n"
                f"  chat.messages[-1].status = {chat.messages[-1].status!r}\n")
        time.sleep(0.2)
        out("\n== 4. chat.complete() asks again ==")
        server.queue(Reply(text=STORY, delay=delay))
        chat.complete(on_chunk=lambda c: out(c.content or ""))
        roles = [m.role for m in chat.messages]
        out(f"\nThe conversation: {roles}\nRequests served by the loopback server: {len(server.requests)}\n")


if __name__ == "__main__":
    main()
