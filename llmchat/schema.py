"""JSON Schema generation from Python signatures and type hints.

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
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections import abc
from collections.abc import Callable
from typing import Any, NamedTuple

from llmchat.docstrings import parse_docstring
from llmchat.validation import _SCALAR_TYPES, coerce_arguments, json_type_name, validate

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
