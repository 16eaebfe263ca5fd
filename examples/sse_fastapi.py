"""The guide's SSE endpoint in FastAPI under uvicorn: ``StreamingResponse`` over ``llmchat.sse.astream``.

    pip install 'llmchat[fastapi]'
    python examples/sse_fastapi.py                 # offline: prints what a browser receives, then exits
    python examples/sse_fastapi.py --serve         # offline, open http://127.0.0.1:8000/
    LLMCHAT_DEFAULT_MODEL=gpt-4.1-mini OPENAI_API_KEY=... python examples/sse_fastapi.py --live
    cd examples && uvicorn sse_fastapi:app

Use ``astream`` here, not ``stream``: Starlette never closes a sync iterator when the client leaves
(the provider would keep generating); cancelling ``astream``'s task cancels the chat.
"""

from __future__ import annotations

import argparse
import threading
import time

import uvicorn
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, StreamingResponse
from sse_page import PAGE, new_chat, offline, show_one_answer

import llmchat.sse

app = FastAPI()


@app.get("/", response_class=HTMLResponse)
def index() -> str:
    return PAGE


@app.get("/stream_chat")
def stream_chat(prompt: str) -> StreamingResponse:
    return StreamingResponse(llmchat.sse.astream(new_chat(), prompt), headers=llmchat.sse.HEADERS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", action="store_true", help="talk to a real provider (implies --serve)")
    parser.add_argument("--serve", action="store_true", help="serve the page until Ctrl-C")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with offline(args.live):
        serve = args.serve or args.live
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port if serve else 0,
                                               log_level="info" if serve else "warning"))
        if serve:
            print(f"open http://127.0.0.1:{args.port}/")
            server.run()
            return
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        show_one_answer(f"http://127.0.0.1:{port}")
        server.should_exit = True
        thread.join(5)


if __name__ == "__main__":
    main()
