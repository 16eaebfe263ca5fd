"""JSON Schema generation from Python signatures, docstring parsing and light argument validation.

This module backs :mod:`llmchat.tools`; it only uses the standard library.

>>> def f(city: str, days: int = 3) -> str:
...     '''Forecast.
...
...     Args:
...         city: City name.
...     '''
>>> function_schema(f)
{'type': 'object', 'properties': {'city': {'type': 'string', 'description': 'City name.'}, \
'days': {'type': 'integer'}}, 'required': ['city']}
>>> validate({"days": "x"}, function_schema(f))
["missing required argument 'city'", "argument 'days' must be integer, got string"]
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections import abc
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "Signature",
    "coerce_arguments",
    "function_schema",
    "json_type_name",
    "parse_docstring",
    "signature_schema",
    "type_schema",
    "validate",
]

_ARRAY_TYPES: tuple[type, ...] = (list, tuple, set, frozenset, abc.Collection, abc.Iterable)
_OBJECT_TYPES: tuple[type, ...] = (dict, abc.Mapping)
_SCALAR_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
)


# --------------------------------------------------------------------------- type hints -> schema


def type_schema(tp: Any) -> dict[str, Any]:
    """Return the JSON Schema for a type hint (``Optional`` collapses to the inner type).

    >>> type_schema(list[int])
    {'type': 'array', 'items': {'type': 'integer'}}
    """
    return _schema(tp)[0]


def _schema(tp: Any) -> tuple[dict[str, Any], bool]:
    """Return ``(schema, accepts_none)`` for a type hint."""
    if tp is inspect.Parameter.empty or isinstance(tp, (str, typing.ForwardRef)):
        return {"type": "string"}, False
    if tp is None or tp is type(None):
        return {"type": "null"}, True
    if tp is Any or tp is object:
        return {}, False
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _annotated_schema(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union_schema(typing.get_args(tp))
    if origin is typing.Literal:
        return _enum_schema(list(typing.get_args(tp)))
    if origin is not None:
        return _generic_schema(origin, typing.get_args(tp)), False
    if hasattr(tp, "__supertype__"):  # typing.NewType
        return _schema(tp.__supertype__)
    if isinstance(tp, type):
        return _class_schema(tp)
    return {"type": "string"}, False


def _annotated_schema(tp: Any) -> tuple[dict[str, Any], bool]:
    inner, *metadata = typing.get_args(tp)
    schema, nullable = _schema(inner)
    text = next((m for m in metadata if isinstance(m, str)), None)
    if text:
        schema = {**schema, "description": text}
    return schema, nullable


def _union_schema(args: tuple[Any, ...]) -> tuple[dict[str, Any], bool]:
    members = [a for a in args if a is not type(None) and a is not None]
    nullable = len(members) < len(args)
    schemas: list[dict[str, Any]] = []
    for member in members:
        schema, member_nullable = _schema(member)
        nullable = nullable or member_nullable
        if schema not in schemas:
            schemas.append(schema)
    if not schemas:
        return {"type": "null"}, True
    if len(schemas) == 1:
        return schemas[0], nullable
    return {"anyOf": schemas}, nullable


def _enum_schema(values: list[Any]) -> tuple[dict[str, Any], bool]:
    nullable = None in values
    values = [v.value if isinstance(v, enum.Enum) else v for v in values if v is not None]
    kinds = {json_type_name(v) for v in values}
    if kinds == {"integer", "number"}:
        kinds = {"number"}
    scalar = len(kinds) == 1 and kinds <= {"string", "integer", "number", "boolean"}
    schema: dict[str, Any] = {"type": kinds.pop()} if scalar else {}
    schema["enum"] = values
    return schema, nullable


def _generic_schema(origin: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    if not isinstance(origin, type):
        return {"type": "string"}
    if issubclass(origin, _OBJECT_TYPES):
        return {"type": "object"}
    if issubclass(origin, tuple):
        item_types = [a for a in args if a is not Ellipsis]
        items = [type_schema(a) for a in item_types]
        same = bool(items) and all(item == items[0] for item in items)
        return {"type": "array", "items": items[0] if same else {}}
    if issubclass(origin, _ARRAY_TYPES) and not issubclass(origin, (str, bytes)):
        return {"type": "array", "items": type_schema(args[0]) if args else {}}
    return _class_schema(origin)[0]


def _class_schema(cls: type) -> tuple[dict[str, Any], bool]:
    if issubclass(cls, enum.Enum):
        values = [member.value for member in cls]
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            values = [member.name for member in cls]
        return _enum_schema(values)
    for base, name in _SCALAR_TYPES:
        if issubclass(cls, base):
            return {"type": name}, False
    if issubclass(cls, _OBJECT_TYPES):
        return {"type": "object"}, False
    if issubclass(cls, _ARRAY_TYPES) and not issubclass(cls, (str, bytes)):
        return {"type": "array", "items": {}}, False
    return {"type": "string"}, False


# --------------------------------------------------------------------------- signatures -> schema


class Signature(NamedTuple):
    """The schema derived from a callable, plus what validation needs to know about it."""

    schema: dict[str, Any]
    accepts_extra: bool  # the callable takes **kwargs
    defaults: frozenset[str]  # parameters that have a default value
    nullable: frozenset[str]  # parameters without a default that accept None (passed None when absent)


def signature_schema(
    fn: Callable[..., Any], extra_doc: str | None = None, *, skip_first: bool = False
) -> Signature:
    """Derive a :class:`Signature` from ``fn``'s parameters, type hints and docstring.

    ``extra_doc`` is a second docstring consulted for parameter descriptions (e.g. a tool class's);
    ``skip_first`` drops the first parameter (``self`` of a function taken from a class).
    Raises ``NameError`` when string annotations cannot be resolved and ``TypeError`` for
    positional-only parameters (tools are always called with keyword arguments).
    """
    sig = inspect.signature(fn)
    hints = _type_hints(fn)
    docs = {**parse_docstring(extra_doc)[1], **parse_docstring(getattr(fn, "__doc__", None))[1]}
    properties: dict[str, Any] = {}
    required: list[str] = []
    defaults: set[str] = set()
    nullable_names: set[str] = set()
    accepts_extra = False
    for param in list(sig.parameters.values())[1 if skip_first else 0 :]:
        if param.kind is param.VAR_KEYWORD:
            accepts_extra = True
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        if param.kind is param.POSITIONAL_ONLY:
            raise TypeError(f"positional-only parameter {param.name!r} is not supported in a tool")
        schema, nullable = _schema(hints.get(param.name, param.annotation))
        if param.name in docs and "description" not in schema:
            schema = {**schema, "description": docs[param.name]}
        properties[param.name] = schema
        if param.default is not param.empty:
            defaults.add(param.name)
        elif nullable:
            nullable_names.add(param.name)
        else:
            required.append(param.name)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    return Signature(result, accepts_extra, frozenset(defaults), frozenset(nullable_names))


def function_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """Return the JSON Schema object describing ``fn``'s keyword parameters."""
    return signature_schema(fn).schema


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    target: Any = inspect.unwrap(fn.__func__ if inspect.ismethod(fn) else fn)
    if not (inspect.isfunction(target) or isinstance(target, type)) and callable(target):
        call = inspect.getattr_static(type(target), "__call__", None)  # callable instances: their __call__
        target = call if inspect.isfunction(call) else target
    try:
        return typing.get_type_hints(target, include_extras=True)
    except NameError:
        raise
    except (TypeError, AttributeError):  # objects get_type_hints cannot inspect (partials, builtins...)
        return {}


# --------------------------------------------------------------------------- docstrings

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


# --------------------------------------------------------------------------- validation


def json_type_name(value: object) -> str:
    """Return the JSON type name of a Python value (``"integer"`` for 3, ``"null"`` for None...)."""
    if value is None:
        return "null"
    for base, name in _SCALAR_TYPES:
        if isinstance(value, base):
            return name
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _matches_type(value: object, expected: str) -> bool:
    actual = json_type_name(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())  # type: ignore[arg-type]
    return actual == expected


def validate(arguments: object, schema: Mapping[str, Any], *, allow_extra: bool | None = None) -> list[str]:
    """Check tool-call ``arguments`` against an object ``schema``; return the problems (empty when fine).

    Unknown names are rejected when ``allow_extra`` is False, or — when it is None — when the schema
    has ``"additionalProperties": false``. A null value is accepted for any non-required property.

    >>> validate({"n": True}, {"type": "object", "properties": {"n": {"type": "integer"}}})
    ["argument 'n' must be integer, got boolean"]
    """
    if not isinstance(arguments, Mapping):
        return [f"arguments must be an object, got {json_type_name(arguments)}"]
    properties = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    if allow_extra is None:
        allow_extra = schema.get("additionalProperties", True) is not False
    problems = [f"missing required argument {name!r}" for name in required if name not in arguments]
    for name, value in arguments.items():
        if name in properties:
            if value is None and name not in required:
                continue
            problems.extend(_check(value, properties[name], f"argument {name!r}"))
        elif not allow_extra:
            problems.append(f"unexpected argument {name!r}")
    return problems


def _check(value: object, schema: Any, label: str, depth: int = 0) -> list[str]:
    if not isinstance(schema, Mapping):
        return []
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        if any(not _check(value, branch, label, depth) for branch in branches):
            return []
        return [f"{label} does not match any allowed type, got {json_type_name(value)}"]
    expected = schema.get("type")
    kinds = expected if isinstance(expected, list) else [expected] if isinstance(expected, str) else []
    if kinds and not any(_matches_type(value, kind) for kind in kinds):
        return [f"{label} must be {' or '.join(kinds)}, got {json_type_name(value)}"]
    allowed = schema.get("enum")
    if isinstance(allowed, list) and not any(_same(value, a) for a in allowed):
        return [f"{label} must be one of {allowed!r}, got {value!r}"]
    items = schema.get("items")
    if depth == 0 and isinstance(value, (list, tuple)) and isinstance(items, Mapping):
        return [p for i, item in enumerate(value) for p in _check(item, items, f"{label} item {i}", 1)]
    return []


def _same(value: object, allowed: object) -> bool:
    return value == allowed and isinstance(value, bool) == isinstance(allowed, bool)


def coerce_arguments(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of validated ``arguments`` with integer-valued floats turned into ints where the
    schema asks for an integer (top level and array items). Nothing else is converted.

    >>> coerce_arguments({"n": 3.0}, {"type": "object", "properties": {"n": {"type": "integer"}}})
    {'n': 3}
    """
    properties = schema.get("properties") or {}
    return {name: _to_int(value, properties.get(name)) for name, value in arguments.items()}


def _to_int(value: Any, schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, Mapping):
        return value
    expected = schema.get("type")
    kinds = expected if isinstance(expected, list) else [expected]
    if isinstance(value, float) and "integer" in kinds and "number" not in kinds and value.is_integer():
        return int(value)
    if depth == 0 and isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_to_int(item, schema["items"], 1) for item in value]
    return value
