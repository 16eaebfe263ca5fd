"""Light validation of a model's tool arguments against a tool's JSON Schema.

>>> validate({"days": "x"}, {"type": "object", "properties": {"city": {"type": "string"},
...                                                         "days": {"type": "integer"}}, "required": ["city"]})
["missing required argument 'city'", "argument 'days' must be integer, got string"]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["coerce_arguments", "json_type_name", "validate"]

_SCALAR_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
)


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
