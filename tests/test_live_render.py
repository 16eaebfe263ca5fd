"""The live formats as a browser's HTML parser reads them: nothing a message, an id or an error holds escapes
its place, and a rendering made for one follower (its format, its partial) is never served to another."""

from __future__ import annotations

import gc
import html.parser
import json

import pytest
from test_live_follow import parse

import llmchat
from llmchat.live.follow import follow, page
from llmchat.live.memory import MemoryBroadcaster
from llmchat.live.publish import broadcasts_to
from llmchat.testing import Call, Reply

HOSTILE = 'x" onmouseover="alert(1)\' <script>alert(2)</script> &amp;'


class Elements(html.parser.HTMLParser):
    """Every start tag with its attributes, as the browser's parser would see them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def hostile_hub(role: str = HOSTILE) -> MemoryBroadcaster:
    hub = MemoryBroadcaster()
    mid = HOSTILE + "-1"
    hub.publish(HOSTILE, {"type": "new_message", "message_id": mid,
                          "message": {"id": mid, "role": role, "content": HOSTILE, "status": "streaming"}})
    hub.publish(HOSTILE, {"type": "chunk", "message_id": mid, "content": HOSTILE})
    hub.publish(HOSTILE, {"type": "error", "message_id": None, "error": HOSTILE, "error_type": HOSTILE,
                          "partial": HOSTILE})
    hub.publish(HOSTILE, {"type": "end_message", "message_id": mid,
                          "message": {"id": mid, "role": role, "content": HOSTILE + HOSTILE,
                                      "status": HOSTILE, "error": HOSTILE}})
    return hub


def _only_known_attributes(fragment: str) -> None:
    allowed = {"id", "class", "action", "target", "hx-swap-oob"}
    parsed = Elements(fragment)
    tags = [tag for tag, _ in parsed.tags]
    assert "script" not in tags
    for tag, attrs in parsed.tags:
        assert set(attrs) <= allowed, (tag, attrs)
    for _, attrs in parsed.tags:
        for name in ("id", "target"):
            if name in attrs and attrs[name].startswith("message_"):
                assert attrs[name].startswith("message_" + HOSTILE + "-1")


@pytest.mark.parametrize("fmt", ["turbo", "htmx", "htmx4"])
@pytest.mark.parametrize("position", ["0", None])
def test_ids_content_and_errors_never_become_markup(fmt, position):
    hub = hostile_hub("assistant")
    events = parse(b"".join(follow(HOSTILE, position, format=fmt, broadcaster=hub, idle=0)))
    assert len(events) == (1 if position is None else 4)
    for event in events:
        _only_known_attributes(event["data"])
    if position == "0":
        end = events[-1]["data"]
        swap = dict(Elements(end).tags[0][1])["hx-swap-oob"] if fmt != "turbo" else None
        if swap is not None:        # a CSS selector that matches the message's id, whatever it holds
            assert swap.startswith("outerHTML:#message_x\\22 ") and "<" not in swap and '"' not in swap
        assert HOSTILE + HOSTILE in "".join(Elements(end).text)


@pytest.mark.parametrize("fmt", ["turbo", "htmx", "htmx4"])
def test_a_message_of_an_unknown_role_is_not_shown(fmt):
    events = parse(b"".join(follow(HOSTILE, "0", format=fmt, broadcaster=hostile_hub(), idle=0)))
    assert [e["id"] for e in events] == ["1", "2", "3", "4"]        # the positions still move
    assert 'class="message' not in "".join(e.get("data", "") for e in events)     # never rendered
    assert page(HOSTILE, broadcaster=hostile_hub()).html == ""


def test_the_page_escapes_ids():
    rendered = page(HOSTILE, broadcaster=hostile_hub("assistant")).html
    _only_known_attributes(rendered)
    assert [tag for tag, _ in Elements(rendered).tags] == ["div", "strong", "div", "p", "p"]
    assert "".join(Elements(rendered).text).count(HOSTILE) == 4     # content twice, status, error


def test_json_carries_the_text_unchanged():
    events = parse(b"".join(follow(HOSTILE, "0", format="json", broadcaster=hostile_hub(), idle=0)))
    assert json.loads(events[1]["data"])["content"] == HOSTILE
    assert json.loads(events[0]["data"])["id"] == HOSTILE + "-1"


def test_a_partial_made_per_request_renders_for_that_request_only():
    hub = MemoryBroadcaster()
    hub.publish("c", {"type": "new_message", "message_id": 1, "message": {"id": 1, "role": "user", "content": "hi"}})

    def view(viewer: str) -> bytes:       # a view making its partial per request (it knows the viewer)
        body = follow("c", "0", format="turbo", broadcaster=hub, idle=0,
                      partial=lambda message: f"<p>{viewer} sees {message['content']}</p>")
        return b"".join(body)

    for n in range(20):
        out = view(f"user{n}")
        gc.collect()
        assert f"user{n} sees hi".encode() in out


def test_the_memory_broadcaster_keeps_a_bounded_tail_and_a_whole_snapshot():
    hub = MemoryBroadcaster(keep=10)
    hub.publish("c", {"type": "new_message", "message_id": 1, "message": {"id": 1, "role": "assistant"}})
    for n in range(100):                 # a chat followed for hours: memory must not grow with it
        hub.publish("c", {"type": "chunk", "message_id": 1, "content": f"{n},"})
    assert len(hub.read("c", 0, 0)) <= 10
    whole = "".join(f"{n}," for n in range(100))
    assert hub.snapshot("c") == ([{"id": 1, "role": "assistant", "content": whole}], 101)
    oldest = hub.read("c", 0, 0)[0]["seq"]
    for after in range(oldest - 1, 102):      # every position still held: exactly the rest
        recent = parse(b"".join(follow("c", str(after), format="json", broadcaster=hub, idle=0)))
        assert [int(e["id"]) for e in recent] == list(range(after + 1, 102))
    for old in ("3", str(oldest - 2), None):              # folded away: a snapshot, then the rest, once
        events = parse(b"".join(follow("c", old, format="json", broadcaster=hub, idle=0)))
        assert [e["event"] for e in events] == ["snapshot"]
        assert json.loads(events[0]["data"])["messages"][0]["content"] == whole


def test_a_page_that_followed_live_shows_what_a_reloaded_page_shows(server, make_chat):
    """Tool results are not shown by the snapshot; live they were appended to the page."""
    hub = MemoryBroadcaster()

    @llmchat.tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return f"secret backend data for {city}"

    server.queue(Reply(tool_calls=[Call("weather", {"city": "Berlin"}, id="call_1")]),
                 Reply(text=["Sunny ", "in Berlin."]))
    chat = make_chat("chat_completions").with_instructions("SYSTEM PROMPT").with_tool(weather)
    broadcasts_to(chat, hub, chat_id="t1")
    chat.ask("Weather?")
    reloaded = page("t1", broadcaster=hub).html
    for fmt in ("turbo", "htmx"):
        body = b"".join(follow("t1", "0", format=fmt, broadcaster=hub, idle=0))
        live = "".join(e.get("data", "") for e in parse(body))
        for hidden in ("SYSTEM PROMPT", "secret backend data"):
            assert hidden not in reloaded and hidden not in live
        ids = {a["id"] for _, a in Elements(live).tags if a.get("id", "").startswith("message_")}
        assert ids == {a["id"] for _, a in Elements(reloaded).tags if a.get("id", "").startswith("message_")}
