"""Broadcast events as SSE events for pages: pure functions from an event dict to ``(name, data)``.

An event is a dict ``{"seq": n, "type": ..., "message_id": ..., ...}`` as the broadcaster carries
it: ``new_message`` and ``end_message`` hold ``"message"`` (a message dict with ``id``, ``role``,
``content``, ``status``, ``error``), ``chunk`` holds ``content`` (and maybe ``thinking``,
``tool_calls``), ``error`` holds ``error``, ``error_type`` and ``partial``; a ``snapshot`` holds
``messages``, the whole chat as it stands at that position.

Three formats:

- ``"turbo"``: unnamed events whose data is a ``<turbo-stream>`` element, for
  ``<turbo-stream-source>`` (Turbo ignores named events);
- ``"htmx"``: named events (``new_message``, ``chunk``, ``end_message``, ``error``, ``snapshot``) whose
  data are out-of-band fragments (``hx-swap-oob``) for htmx's SSE support;
- ``"htmx4"``: the same fragments as unnamed events: htmx 4 swaps unnamed messages (named ones
  only become DOM events); htmx 2 takes them too, with ``sse-swap="message"``;
- ``"json"``: the same named events with JSON data, for your own JavaScript: ``new_message`` and
  ``end_message`` carry the message dict (``id``, ``role``, ``content``, ``status``, ...), ``chunk``
  ``message_id`` and ``content`` (or ``thinking``, ``tool_calls``), ``error`` ``error``, ``type`` and
  ``partial``, ``snapshot`` ``messages``.

DOM ids follow Rails' ``dom_id``: ``message_<id>`` and ``message_<id>_content``; the container is
``messages``. The message partial is :func:`message_html`; pass your own to :func:`render`.

>>> render({"seq": 3, "type": "chunk", "message_id": 7, "content": "a<b"}, "turbo")
(None, '<turbo-stream action="append" target="message_7_content"><template>a&lt;b</template></turbo-stream>')
>>> render({"seq": 3, "type": "chunk", "message_id": 7, "content": "a<b"}, "htmx")
('chunk', '<div id="message_7_content" hx-swap-oob="beforeend">a&lt;b</div>')
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Callable

from llmchat.errors import ConfigurationError

__all__ = ["FORMATS", "Partial", "dom_id", "message_html", "messages_html", "render"]

FORMATS = ("htmx", "htmx4", "json", "turbo")
_FIRST_TAG = re.compile(r"<[A-Za-z][\w-]*")

Partial = Callable[[dict], str]
"""A message partial: a message dict (``id``, ``role``, ``content``, ``status``, ``error``) -> HTML."""


def dom_id(message_id: Any, prefix: str = "") -> str:
    """Rails' ``dom_id``: ``message_<id>``, or ``message_<id>_<prefix>``.

    >>> dom_id(5), dom_id(5, "content")
    ('message_5', 'message_5_content')
    """
    base = f"message_{message_id}"
    return f"{base}_{prefix}" if prefix else base


def message_html(message: dict) -> str:
    """The default message partial: role, content (escaped), and the status when it is not complete.

    >>> message_html({"id": 1, "role": "assistant", "content": "Hi & bye", "status": "complete"})
    '<div id="message_1" class="message assistant"><strong>Assistant:</strong> \
<div id="message_1_content" class="content">Hi &amp; bye</div></div>'
    """
    mid = message.get("id")
    role = str(message.get("role") or "")
    body = (f'<div id="{_attr(dom_id(mid))}" class="message {_attr(role)}"><strong>{html.escape(role.title())}:'
            f'</strong> <div id="{_attr(dom_id(mid, "content"))}" class="content">'
            f'{html.escape(message.get("content") or "")}</div>')
    status = message.get("status") or "complete"
    if status != "complete":
        body += f'<p class="status {html.escape(status)}">{html.escape(status)}</p>'
    if message.get("error"):
        body += f'<p class="error">{html.escape(str(message["error"]))}</p>'
    return body + "</div>"


def _attr(value: str) -> str:
    """``value`` safe inside a double-quoted HTML attribute (an id may hold any character)."""
    return html.escape(value, quote=True)


def _selector(element_id: str) -> str:
    """A CSS ``#id`` selector matching ``element_id`` whatever characters it holds.

    >>> print(_selector("message_a.b 1"))
    #message_a\\2e b\\20 1
    """
    return "#" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f"\\{ord(m.group()):x} ", element_id)


def messages_html(messages: list, partial: Partial = message_html) -> str:
    """The messages rendered one after the other (what goes inside ``<div id="messages">``).

    >>> messages_html([{"id": 1, "role": "user", "content": "x"}], lambda m: f"[{m['content']}]")
    '[x]'
    """
    return "".join(partial(message) for message in messages if shown(message))


def shown(message: dict) -> bool:
    """Whether pages show a message: the user's and the assistant's (not instructions, not tool results).

    >>> shown({"role": "assistant"}), shown({"role": "tool"})
    (True, False)
    """
    return message.get("role") in ("user", "assistant")


def _turbo(action: str, target: str, content: str) -> str:
    return f'<turbo-stream action="{action}" target="{_attr(target)}"><template>{content}</template></turbo-stream>'


def _oob(target: str, swap: str, content: str) -> str:
    return f'<div id="{_attr(target)}" hx-swap-oob="{swap}">{content}</div>'


def _oob_root(fragment: str, swap: str) -> str:
    """``fragment`` with ``hx-swap-oob`` added to its first element (it replaces the target itself)."""
    match = _FIRST_TAG.search(fragment)
    if match is None:
        return fragment
    return f'{fragment[:match.end()]} hx-swap-oob="{_attr(swap)}"{fragment[match.end():]}'


def _error_text(event: dict) -> str:
    return html.escape(f"{event.get('error_type') or 'Error'}: {event.get('error') or ''}")


def _turbo_data(event: dict, partial: Partial) -> str | None:
    kind, mid = event["type"], event.get("message_id")
    if "message" in event and not shown(event["message"]):
        return None         # as the page and its snapshots: live and reloaded pages show the same
    if kind == "chunk":
        text = event.get("content")
        return _turbo("append", dom_id(mid, "content"), html.escape(text)) if text else None
    if kind == "new_message":
        return _turbo("append", "messages", partial(event["message"]))
    if kind == "end_message":
        return _turbo("replace", dom_id(mid), partial(event["message"]))
    if kind == "snapshot":
        return _turbo("update", "messages", messages_html(event["messages"], partial))
    if kind == "error" and mid is None:      # a message's error shows in its end rendering
        return _turbo("append", "messages", f'<p class="error">{_error_text(event)}</p>')
    return None


def _htmx_data(event: dict, partial: Partial) -> str | None:
    kind, mid = event["type"], event.get("message_id")
    if "message" in event and not shown(event["message"]):
        return None
    if kind == "chunk":
        text = event.get("content")
        return _oob(dom_id(mid, "content"), "beforeend", html.escape(text)) if text else None
    if kind == "new_message":
        return _oob("messages", "beforeend", partial(event["message"]))
    if kind == "end_message":
        return _oob_root(partial(event["message"]), "outerHTML:" + _selector(dom_id(mid)))
    if kind == "snapshot":
        return _oob("messages", "innerHTML", messages_html(event["messages"], partial))
    if kind == "error" and mid is None:
        return _oob("messages", "beforeend", f'<p class="error">{_error_text(event)}</p>')
    return None


def _json_data(event: dict) -> str:
    kind = event["type"]
    if kind in ("new_message", "end_message"):         # the message itself, with its id and status
        data = {**event["message"], "message_id": event.get("message_id")}
    else:
        data = {key: value for key, value in event.items() if key not in ("seq", "type", "error_type")}
    if kind == "error":
        data["type"] = event.get("error_type")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def render(event: dict, format: str = "json",  # noqa: A002
           partial: Partial = message_html) -> tuple[str | None, str | None]:
    """``(event name or None, data or None)`` for one broadcast event; data None means "send nothing".

    >>> render({"seq": 1, "type": "new_message", "message_id": 2,
    ...         "message": {"id": 2, "role": "assistant", "content": "", "status": "streaming"}}, "json")[0]
    'new_message'
    """
    if format == "turbo":
        return None, _turbo_data(event, partial)
    if format == "htmx":
        return event["type"], _htmx_data(event, partial)
    if format == "htmx4":
        return None, _htmx_data(event, partial)
    if format == "json":
        return event["type"], _json_data(event)
    raise ConfigurationError(f"unknown live format {format!r}; expected one of {', '.join(FORMATS)}")
