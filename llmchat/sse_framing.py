"""Server-Sent Events framing, sans-I/O: byte blocks split anywhere in, ``(event name, data)`` pairs out.

It follows the WHATWG event-stream rules: one leading byte-order mark is
dropped; lines end at CRLF, LF or CR (a CRLF split across two blocks is one
line end); a blank line dispatches the event; ``:`` starts a comment; a field
without a colon has an empty value; one space after the colon is dropped;
``data`` lines join with ``\\n``; an event without data is not dispatched,
nor is an event the stream ends in the middle of. Invalid UTF-8 is a
:class:`~llmchat.errors.StreamError` (not replaced), like an event larger
than ``max_size`` bytes.

Each event is yielded as soon as its blank line is in, however the blocks
were cut, and assembling it is linear in its size.

>>> list(events([b"\\xef\\xbb\\xbfevent: a\\r\\ndata: {\\"x\\"", b": 1}\\r", b"\\n\\r\\ndata: 1\\ndata: 2\\n\\n"]))
[('a', '{"x": 1}'), ('message', '1\\n2')]
"""

from __future__ import annotations

from typing import Iterable, Iterator

from llmchat.errors import StreamError

__all__ = ["MAX_EVENT_SIZE", "events"]

MAX_EVENT_SIZE = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


def events(blocks: Iterable[bytes], max_size: int | None = MAX_EVENT_SIZE) -> Iterator[tuple[str, str]]:
    """The events in ``blocks``; raises :class:`StreamError` for bad UTF-8 or an event over ``max_size`` bytes."""
    limit = max_size or float("inf")
    name = b""                  # the event type buffer
    data: list[bytes] = []      # the data lines of the event being read
    size = 0                    # bytes of the event's data lines
    tail: list[bytes] = []      # the pieces of the line not yet ended
    pending = 0                 # their bytes
    head: bytes | None = b""    # the stream's first bytes, until we know whether they start with a BOM
    skip_lf = False             # the last block ended with CR: a LF first in the next one ends no line
    for block in blocks:
        if head is not None:
            head += block
            if len(head) < 3 and _BOM.startswith(head):
                continue
            block, head = (head[3:] if head.startswith(_BOM) else head), None
        if skip_lf:
            skip_lf = False
            if block[:1] == b"\n":
                block = block[1:]
        if b"\r" in block:
            skip_lf = block[-1:] == b"\r"
            block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = block.split(b"\n")
        rest = lines.pop()
        if lines:
            if tail:
                tail.append(lines[0])
                lines[0] = b"".join(tail)
                tail = []
                pending = 0
            for line in lines:
                if not line:
                    if data:
                        yield _dispatch(name, data)
                        data = []
                    name = b""
                    size = 0
                    continue
                if line[:5] == b"data:":
                    value = line[5:]
                elif line[:1] == b":":
                    continue
                else:
                    field, colon, value = line.partition(b":")
                    if field == b"event":
                        name = value[1:] if value[:1] == b" " else value
                    if field != b"data":
                        continue
                if value[:1] == b" ":
                    value = value[1:]
                data.append(value)
                size += len(value)
                if size > limit:
                    raise _too_large(max_size)
        if rest:
            tail.append(rest)
            pending += len(rest)
            if size + pending > limit:
                raise _too_large(max_size)
    # The stream ended: an event without its blank line is never dispatched (nor is the BOM alone).


def _dispatch(name: bytes, data: list[bytes]) -> tuple[str, str]:
    try:
        return (name.decode() if name else "message"), (data[0] if len(data) == 1 else b"\n".join(data)).decode()
    except UnicodeDecodeError as exc:
        raise StreamError(f"the stream is not valid UTF-8 ({exc.reason} at byte {exc.start} of an event)") from None


def _too_large(max_size: int | None) -> StreamError:
    return StreamError(f"an event is larger than max_event_size ({max_size} bytes); the stream was stopped")
