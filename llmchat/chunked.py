"""HTTP/1.1 chunked transfer coding, sans-I/O: the blocks read from the connection in, the body's bytes out.

Bytes come out as soon as they are read, however large the chunk they belong
to (an event inside a 1 MB chunk reaches the caller before the chunk ends), and
a chunk size is only ever counted down, never allocated: a malformed or absurd
size line is a :class:`~llmchat.errors.StreamError`, a body cut before its last
chunk a :class:`~llmchat.errors.ConnectionError`.

>>> body = dechunk([b"5\\r\\nHel", b"lo\\r\\n1;ext=1\\r\\n!\\r\\n0\\r\\n\\r\\n"])
>>> list(body)
[b'Hel', b'lo!']
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from llmchat.errors import ConnectionError, StreamError

__all__ = ["dechunk"]

MAX_LINE = 4096                                  # a size or trailer line longer than this is not HTTP
_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")        # 16 hex digits count any body; more is no chunk size
_HEAD, _CRLF, _TRAILER = range(3)                # reading: a size line, the CRLF after data, trailers


def dechunk(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """The body's bytes, one piece per block read; returns what was read past the body's end (``b""``)."""
    left = 0            # bytes of the current chunk still to come
    state = _HEAD
    line = b""          # the start of a line not yet ended
    for block in blocks:
        pos, end = 0, len(block)
        out = []
        problem = None
        while pos < end:
            if left:
                piece = block[pos:pos + left]
                out.append(piece)
                pos += len(piece)
                left -= len(piece)
                if not left:
                    state = _CRLF
                continue
            newline = block.find(b"\n", pos)
            if newline < 0:
                line += block[pos:]
                if len(line) > MAX_LINE:
                    problem = f"a line of over 4 KiB where a chunk size was due: {line[:40]!r}..."
                break
            text = line + block[pos:newline] if line else block[pos:newline]
            line, pos = b"", newline + 1
            if state == _HEAD:
                left = _size(text)
                if left < 0:
                    problem = f"chunk size {text[:40]!r}"
                    break
                state = _HEAD if left else _TRAILER
            elif state == _CRLF:
                if text not in (b"", b"\r"):
                    problem = f"a chunk longer than its size: {text[:40]!r}"
                    break
                state = _HEAD
            elif text in (b"", b"\r"):          # the blank line after the last chunk: the body is complete
                if out:
                    yield out[0] if len(out) == 1 else b"".join(out)
                return block[pos:]
        if out:
            yield out[0] if len(out) == 1 else b"".join(out)
        if problem:
            raise StreamError(f"a malformed chunked body ({problem})")
    raise ConnectionError("the connection closed in the middle of the response body")


def _size(line: bytes) -> int:
    """The chunk size on a size line, -1 when it is none."""
    digits = line.split(b";", 1)[0].strip(b" \t\r")
    return int(digits, 16) if _SIZE.fullmatch(digits) else -1
