r"""Docstring reading for tool declarations: the summary and per-parameter descriptions.

Google (``Args:``), Sphinx (``:param x:``) and numpy (``Parameters`` / ``----------``) styles.

>>> parse_docstring("Adds numbers.\n\n    Args:\n        a: The first.\n")
('Adds numbers.', {'a': 'The first.'})
"""

from __future__ import annotations

import inspect
import re

__all__ = ["parse_docstring"]

_GOOGLE_HEADERS = {
    "args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters",
}  # fmt: skip
_OTHER_HEADERS = {
    "returns", "return", "yields", "yield", "raises", "raise", "examples", "example", "note", "notes",
    "attributes", "todo", "see also", "warning", "warnings", "references",
}  # fmt: skip
_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(?!\S)\s*(.*)$")
_SPHINX = re.compile(r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?::.*)?$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into its summary (first paragraph) and per-parameter descriptions.

    Understands Google (``Args:``), Sphinx (``:param x:``) and numpy (``Parameters`` + dashes) styles.

    >>> parse_docstring(":param city: The city.\\n")
    ('', {'city': 'The city.'})
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    params: dict[str, str] = {}
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _is_numpy_header(lines, i) and stripped.lower() in ("parameters", "other parameters"):
            params.update(_numpy_params(lines, i + 2))
        elif stripped.endswith(":") and stripped[:-1].strip().lower() in _GOOGLE_HEADERS:
            params.update(_google_params(lines, i + 1))
        elif match := _SPHINX.match(stripped):
            params[match.group(1)] = _join([match.group(2), *_continuation(lines, i + 1, _indent(line))])
    return _summary(lines), params


def _summary(lines: list[str]) -> str:
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(":") or _is_header(lines, i):
            break
        out.append(stripped)
    return " ".join(out)


def _is_header(lines: list[str], i: int) -> bool:
    stripped = lines[i].strip()
    name = stripped[:-1].strip().lower() if stripped.endswith(":") else None
    return _is_numpy_header(lines, i) or name in _GOOGLE_HEADERS or name in _OTHER_HEADERS


def _is_numpy_header(lines: list[str], i: int) -> bool:
    nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return bool(lines[i].strip()) and len(nxt) >= 3 and set(nxt) == {"-"}


def _google_params(lines: list[str], start: int) -> dict[str, str]:
    params: dict[str, list[str]] = {}
    entry_indent: int | None = None
    current: list[str] = []
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.strip() or _is_header(lines, i):
            break
        indent = _indent(line)
        entry_indent = indent if entry_indent is None else entry_indent
        if indent > entry_indent and current:
            current.append(line.strip())
            continue
        match = _ENTRY.match(line.strip()) if indent == entry_indent else None
        if match is None:
            break
        current = params[match.group(1)] = [match.group(2)]
    return {name: _join(parts) for name, parts in params.items()}


def _numpy_params(lines: list[str], start: int) -> dict[str, str]:
    params: dict[str, str] = {}
    i = start
    while i < len(lines) and lines[i].strip() and not _is_numpy_header(lines, i):
        match = _NUMPY_ENTRY.match(lines[i].strip())
        body = _continuation(lines, i + 1, _indent(lines[i]))
        if match:
            params[match.group(1)] = _join(body)
        i += 1 + len(body)
    return params


def _continuation(lines: list[str], start: int, indent: int) -> list[str]:
    out: list[str] = []
    for line in lines[start:]:
        if not line.strip() or _indent(line) <= indent:
            break
        out.append(line.strip())
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    return " ".join(p for p in parts if p).strip()
