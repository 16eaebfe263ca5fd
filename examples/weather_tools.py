"""Streaming with tools: the stream pauses, the tool runs, the stream resumes (the guide's Weather example).

    .venv/bin/python examples/weather_tools.py                         # offline, against llmchat.testing.Server
    .venv/bin/python examples/weather_tools.py --protocol gemini       # offline, in another wire format
    OPENAI_API_KEY=... .venv/bin/python examples/weather_tools.py --live [--model claude-haiku-4-5]

Offline, the scripted model calls ``weather`` and the tool answers with a fixed reading; with
``--live`` a real model decides, and the tool asks Open-Meteo (https://open-meteo.com, no key needed).
"""

from __future__ import annotations

import argparse

import requests

import llmchat
from llmchat.testing import Call, Reply, Server


class Weather(llmchat.Tool):
    description = "Gets current weather for a location"

    def __init__(self, live: bool = False) -> None:
        self.live = live

    def execute(self, latitude: str, longitude: str) -> str:
        """Args:
            latitude: Latitude (e.g., 52.5200)
            longitude: Longitude (e.g., 13.4050)
        """
        if not self.live:
            return '{"current": {"temperature_2m": 15.2, "wind_speed_10m": 11.5}}'
        response = requests.get("https://api.open-meteo.com/v1/forecast", timeout=10, params={
            "latitude": latitude, "longitude": longitude, "current": "temperature_2m,wind_speed_10m"})
        response.raise_for_status()
        return response.text


def run(chat: llmchat.Chat) -> None:
    announced = set()

    def on_chunk(chunk: llmchat.Chunk) -> None:
        if chunk.tool_calls:
            call = next(iter(chunk.tool_calls.values()))
            if call.id not in announced:          # a call streams in several chunks: announce it once
                announced.add(call.id)
                print(f"\n[Calling: {call.name}]", flush=True)
        elif chunk.content:
            print(chunk.content, end="", flush=True)

    chat.on_tool_result(lambda result: print(f"[Result: {result}]", flush=True))
    chat.ask("What's the weather in Berlin? (52.52, 13.405)", on_chunk=on_chunk)
    print(f"\n{[m.role for m in chat.messages]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", action="store_true", help="ask a real model (needs its API key)")
    parser.add_argument("--model", default="gpt-4.1-mini", help="the model to ask with --live")
    parser.add_argument("--protocol", default="chat_completions", choices=["chat_completions", "responses",
                                                                          "anthropic_messages", "gemini"],
                        help="the wire format the offline server speaks")
    args = parser.parse_args()
    if args.live:
        run(llmchat.chat(args.model).with_tool(Weather(live=True)))
    else:
        models = {"chat_completions": "gpt-4.1-mini", "responses": "gpt-4.1-mini",
                  "anthropic_messages": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}
        with Server() as server:
            server.queue(Reply(text=["Let me check."], delay=0.05,
                               tool_calls=[Call("weather", {"latitude": "52.52", "longitude": "13.405"})]),
                         Reply(text=["It is ", "15°C ", "in Berlin, ", "with a light breeze."], delay=0.05))
            run(llmchat.chat(models[args.protocol], protocol=args.protocol,
                             base_url=server.url(args.protocol), api_key="offline").with_tool(Weather()))
