"""What the three SSE examples share: the page (the guide's JavaScript client) and where chats come from.

No web framework here: sse_flask.py, sse_django.py and sse_fastapi.py each add their own.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
import urllib.request
from typing import Iterator

import llmchat
from llmchat.testing import Reply, Server

# The guide's client, plus what the error event carries: the partial answer stays on the page.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>llmchat SSE</title></head>
<body>
<form id="ask"><input name="prompt" value="Tell me a story" size="40"> <button>Ask</button></form>
<p id="output"></p>
<p id="error" style="color: #b00"></p>
<script>
window.received = [];   // arrival times of the chunks (for tests and the latency benchmark)
function ask(prompt) {
  const output = document.getElementById('output'), error = document.getElementById('error');
  output.textContent = ''; error.textContent = ''; document.body.dataset.state = 'streaming';
  const eventSource = new EventSource('/stream_chat?prompt=' + encodeURIComponent(prompt));
  window.eventSource = eventSource;
  eventSource.onmessage = (event) => {
    window.received.push(performance.timeOrigin + performance.now());
    output.textContent += JSON.parse(event.data);     // textContent: the model's text is never HTML
  };
  eventSource.addEventListener('complete', () => {
    eventSource.close(); document.body.dataset.state = 'complete';
  });
  eventSource.addEventListener('error', (event) => {
    eventSource.close(); document.body.dataset.state = 'error';
    if (event.data) {        // the server's error event: what failed, after the partial answer above
      const e = JSON.parse(event.data);
      error.textContent = e.type + ': ' + e.error;
    } else {
      error.textContent = 'connection lost';
    }
  });
}
document.getElementById('ask').onsubmit = (e) => { e.preventDefault(); ask(e.target.prompt.value); };
</script>
</body></html>
"""

BASE_URL = "LLMCHAT_EXAMPLE_BASE_URL"   # set: chats talk to this OpenAI-style server (the bundled one offline)


def new_chat() -> llmchat.Chat:
    """A chat for one request: offline against the bundled server, or a real provider (``--live``)."""
    base_url = os.environ.get(BASE_URL)
    if base_url:
        return llmchat.chat("gpt-4.1-mini", protocol="chat_completions", base_url=base_url, api_key="offline")
    return llmchat.chat()       # LLMCHAT_DEFAULT_MODEL and its provider's API key


@contextlib.contextmanager
def offline(live: bool) -> Iterator[None]:
    """Unless ``live``: run the bundled server, answering every request with a slowly streamed story."""
    if live:
        yield
        return
    with Server() as server:
        words = "Once upon a time, a tiny parser met a stream. They talked until the sun went down.".split(" ")
        server.default = Reply(text=[w + " " for w in words], delay=0.08)
        os.environ[BASE_URL] = server.url("chat_completions")
        try:
            yield
        finally:
            os.environ.pop(BASE_URL, None)


def show_one_answer(root: str) -> None:
    """What a browser would receive from ``root``/stream_chat, printed (the examples' self-check)."""
    url = root + "/stream_chat?" + urllib.parse.urlencode({"prompt": "Tell me a story"})
    with urllib.request.urlopen(url, timeout=30) as response:
        print(response.headers["Content-Type"])
        for line in response:
            print(line.decode().rstrip("\n"))


if __name__ == "__main__":
    print(PAGE)     # the page sse_flask.py, sse_django.py and sse_fastapi.py serve
