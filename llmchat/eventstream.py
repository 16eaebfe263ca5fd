"""AWS event stream (``application/vnd.amazon.eventstream``), sans-I/O: Bedrock's binary streaming framing.

Each message: a 12-byte prelude (total length, headers length: uint32 big-endian; CRC-32 of
those 8 bytes), the headers (``name length: u8, name, type: u8, value``), the payload, and a
CRC-32 of everything before it. :class:`Decoder` is fed bytes split anywhere and returns whole
messages; both checksums are verified and every fault (a bad checksum, an absurd length, a body
cut mid-message) is a :class:`~llmchat.errors.StreamError`. :func:`encode` writes messages (the
test server uses it).

>>> data = encode({":event-type": "chunk", ":message-type": "event"}, b'{"x": 1}')
>>> decoder = Decoder()
>>> decoder.feed(data[:5]), [(m.headers[":event-type"], m.payload) for m in decoder.feed(data[5:])]
([], [('chunk', b'{"x": 1}')])
"""

from __future__ import annotations

import struct
import uuid
import zlib
from typing import Any, Iterable, Iterator

import attrs

from llmchat.errors import StreamError

__all__ = ["Decoder", "EventMessage", "encode", "frames"]

PRELUDE = 12
MAX_HEADERS = 128 * 1024
MAX_PAYLOAD = 16 * 1024 * 1024
_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}     # header type -> struct format


@attrs.frozen
class EventMessage:
    """One decoded message: its headers (name -> value) and payload bytes.

    >>> EventMessage({":message-type": "event"}, b"{}").headers[":message-type"]
    'event'
    """

    headers: dict[str, Any]
    payload: bytes


class Decoder:
    """Incremental decoder: :meth:`feed` bytes, get the messages completed by them; :meth:`finish` at EOF.

    >>> decoder = Decoder()
    >>> frame = encode({":message-type": "event"}, b"{}")
    >>> [m.payload for m in decoder.feed(frame + frame[:3])], decoder.feed(frame[3:])[0].headers
    ([b'{}'], {':message-type': 'event'})
    """

    def __init__(self, max_payload: int | None = MAX_PAYLOAD) -> None:
        self._buffer = bytearray()
        self._max_payload = MAX_PAYLOAD if max_payload is None else min(max_payload, MAX_PAYLOAD)

    def feed(self, data: bytes) -> list[EventMessage]:
        """The messages ``data`` completes; a fault raises (use :meth:`messages` to get those before it first)."""
        return list(self.messages(data))

    def messages(self, data: bytes) -> Iterator[EventMessage]:
        """The messages ``data`` completes, one by one: each good one comes out before a fault behind it
        raises (frames that arrived in one read with a broken one are not lost)."""
        self._buffer += data
        return self._drain()

    def _drain(self) -> Iterator[EventMessage]:
        while len(self._buffer) >= PRELUDE:
            total, headers_length, crc = struct.unpack_from(">III", self._buffer)
            if zlib.crc32(self._buffer[:8]) != crc:
                raise StreamError("event stream: the prelude checksum does not match (corrupt frame)")
            if total < PRELUDE + 4 + headers_length or headers_length > MAX_HEADERS:
                raise StreamError(f"event stream: impossible lengths (total {total}, headers {headers_length})")
            if total - headers_length - PRELUDE - 4 > self._max_payload:
                raise StreamError(f"event stream: a payload of {total} bytes is over the "
                                  f"{self._max_payload}-byte limit (max_event_size)")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            if zlib.crc32(frame[:-4]) != struct.unpack_from(">I", frame, total - 4)[0]:
                raise StreamError("event stream: the message checksum does not match (corrupt frame)")
            headers = _headers(frame[PRELUDE:PRELUDE + headers_length])
            yield EventMessage(headers, frame[PRELUDE + headers_length:-4])

    def finish(self) -> None:
        """The body ended: bytes left over mean it was cut inside a message."""
        if self._buffer:
            raise StreamError(f"event stream: the body ended inside a message ({len(self._buffer)} bytes left)")


def _headers(data: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    at = 0
    try:
        while at < len(data):
            size = data[at]
            name = data[at + 1:at + 1 + size].decode()
            at += 1 + size
            kind = data[at]
            at += 1
            if kind in (0, 1):
                value: Any = kind == 0
            elif kind in _FIXED:
                fmt = _FIXED[kind]
                value = struct.unpack_from(fmt, data, at)[0]
                at += struct.calcsize(fmt)
            elif kind in (6, 7):
                length = struct.unpack_from(">H", data, at)[0]
                value = data[at + 2:at + 2 + length]
                if len(value) != length:
                    raise ValueError("header value cut short")
                value = value.decode() if kind == 7 else value
                at += 2 + length
            elif kind == 9:
                value = uuid.UUID(bytes=data[at:at + 16])
                at += 16
            else:
                raise ValueError(f"unknown header type {kind}")
            if name in headers:
                raise ValueError(f"duplicate header {name!r}")
            headers[name] = value
    except (ValueError, IndexError, struct.error) as exc:
        raise StreamError(f"event stream: malformed headers ({exc})") from None
    return headers


def encode(headers: dict[str, Any], payload: bytes) -> bytes:
    """One message with these headers (str values as strings, bytes as bytes, bool, int as int32)."""
    head = bytearray()
    for name, value in headers.items():
        raw = name.encode()
        head += bytes([len(raw)]) + raw
        if isinstance(value, bool):
            head += bytes([0 if value else 1])
        elif isinstance(value, int):
            head += bytes([4]) + struct.pack(">i", value)
        elif isinstance(value, bytes):
            head += bytes([6]) + struct.pack(">H", len(value)) + value
        else:
            text = str(value).encode()
            head += bytes([7]) + struct.pack(">H", len(text)) + text
    total = PRELUDE + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + bytes(head) + payload
    return message + struct.pack(">I", zlib.crc32(message))


def frames(blocks: Iterable[bytes], max_size: int | None = MAX_PAYLOAD) -> Iterator[tuple[str, str]]:
    """``(name, data)`` pairs, like the SSE framing: events as ``(event type, payload text)``; exception
    and error messages as ``("exception:TYPE", payload or {"message": ...})``. A protocol's ``framing``."""
    decoder = Decoder(max_size)
    for block in blocks:
        for message in decoder.messages(block):
            yield _pair(message)
    decoder.finish()


def _pair(message: EventMessage) -> tuple[str, str]:
    headers = message.headers
    try:
        text = message.payload.decode()
    except UnicodeDecodeError as exc:
        raise StreamError(f"event stream: the payload is not valid UTF-8 ({exc.reason})") from None
    kind = headers.get(":message-type", "event")
    if kind == "event":
        return str(headers.get(":event-type", "")), text
    if kind == "exception":
        return f"exception:{headers.get(':exception-type', '')}", text
    code, message_text = headers.get(":error-code", ""), headers.get(":error-message", "")
    return f"exception:{code}", text if text.strip() else f'{{"message": {_json(message_text)}}}'


def _json(value: Any) -> str:
    import json

    return json.dumps(str(value))
