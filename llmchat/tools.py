"""Tool declarations: classes or decorated functions the model can call.

>>> @tool
... def add(a: int, b: int) -> int:
...     '''Adds two numbers.'''
...     return a + b
>>> add.schema()
{'type': 'object', 'properties': {'a': {'type': 'integer'}, 'b': {'type': 'integer'}}, 'required': ['a', 'b']}
>>> add.run({"a": 2, "b": 3.0})
'5'
>>> add(1, 1)
2
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import types
from collections.abc import Callable, Mapping
from typing import Any, overload

from llmchat.docstrings import parse_docstring
from llmchat.errors import ConfigurationError, ToolArgumentError
from llmchat.schema import Signature, signature_schema
from llmchat.validation import coerce_arguments, validate

__all__ = ["FunctionTool", "Tool", "ToolArgumentError", "as_tool", "tool", "validate"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# --------------------------------------------------------------------------- helpers


def _snake_case(name: str) -> str:
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])|(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return name.lower()


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"invalid tool name {name!r}: use 1-64 letters, digits, '_' or '-'")
    return name


def _check_parameters(parameters: object) -> dict[str, Any]:
    if not isinstance(parameters, Mapping):
        raise TypeError(f"parameters must be a JSON Schema dict, got {type(parameters).__name__}")
    if parameters.get("type") != "object":
        raise ValueError('parameters must be a JSON Schema object: {"type": "object", "properties": {...}}')
    if not isinstance(parameters.get("properties", {}), Mapping):
        raise TypeError("parameters['properties'] must be a dict")
    return dict(parameters)


def _summary(doc: str | None) -> str:
    return parse_docstring(doc)[0]


def _try_signature(
    fn: Callable[..., Any], extra_doc: str | None, skip_first: bool = False
) -> Signature | None:
    """Derive eagerly; annotations naming not-yet-defined classes are retried at first use."""
    try:
        return signature_schema(fn, extra_doc, skip_first=skip_first)
    except NameError:
        return None


def _signature_or_error(name: str, fn: Callable[..., Any], extra_doc: str | None) -> Signature:
    try:
        return signature_schema(fn, extra_doc)
    except NameError as exc:
        raise TypeError(f"{name}: cannot resolve the type hints of its parameters: {exc}") from exc


def _fill_defaults(kwargs: dict[str, Any], signature: Signature | None) -> dict[str, Any]:
    """Drop nulls for parameters with a Python default (so it applies); pass None for absent Optionals."""
    if signature is None:
        return kwargs
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k not in signature.defaults}
    return {**{name: None for name in signature.nullable}, **kwargs}


def _to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, default=str, ensure_ascii=False)


class Tool:
    """Base class for tools. Subclass it and implement ``execute`` with keyword parameters.

    ``name`` defaults to the class name in snake_case, ``description`` to the first paragraph of the
    class docstring (else of ``execute``'s), ``parameters`` (a JSON Schema object) to one derived
    from ``execute``'s signature, type hints and docstring.

    >>> class Weather(Tool):
    ...     description = "Gets current weather for a location"
    ...     def execute(self, latitude: str, longitude: str) -> str:
    ...         '''Args:
    ...             latitude: Latitude, e.g. 52.52
    ...             longitude: Longitude, e.g. 13.40
    ...         '''
    ...         return f"15°C at {latitude}, {longitude}"
    >>> Weather.name, Weather()
    ('weather', <Tool weather>)
    >>> Weather().schema()["properties"]["latitude"]
    {'type': 'string', 'description': 'Latitude, e.g. 52.52'}
    >>> Weather().run({"latitude": "52.52", "longitude": "13.40"})
    '15°C at 52.52, 13.40'
    """

    name: str = "tool"
    description: str = ""
    parameters: dict[str, Any] | None = None
    _signature: Signature | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = _snake_case(cls.__name__)
        cls.name = _check_name(cls.name)
        if "description" not in cls.__dict__:
            own_doc = _summary(cls.__dict__.get("__doc__"))
            execute_doc = _summary(cls.execute.__doc__) if cls.execute is not Tool.execute else ""
            cls.description = own_doc or execute_doc or cls.description
        if cls.parameters is not None:
            cls.parameters = _check_parameters(cls.parameters)
        unbound = isinstance(inspect.getattr_static(cls, "execute"), types.FunctionType)
        cls._signature = _try_signature(cls.execute, cls.__dict__.get("__doc__"), skip_first=unbound)

    def execute(self, **kwargs: Any) -> Any:
        """Do the work; the model's arguments arrive as keyword arguments. Subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute()")

    def schema(self) -> dict[str, Any]:
        """Return the JSON Schema object for this tool's arguments (a fresh copy each call)."""
        return copy.deepcopy(self._spec()[0])

    def validate(self, arguments: object) -> list[str]:
        """Return the problems with ``arguments`` (``None`` counts as ``{}``); empty when they are fine."""
        schema, allow_extra, _ = self._spec()
        return validate({} if arguments is None else arguments, schema, allow_extra=allow_extra)

    def run(self, arguments: Mapping[str, Any] | None) -> str:
        """Validate ``arguments``, call ``execute(**arguments)`` and return the text for the model.

        A ``str`` result is returned as is, ``None`` becomes ``""`` and anything else is JSON-encoded.
        Raises :class:`ToolArgumentError` for invalid arguments; exceptions from ``execute`` propagate.
        """
        problems = self.validate(arguments)
        if problems:
            raise ToolArgumentError(self.name, problems)
        kwargs = coerce_arguments(arguments or {}, self._spec()[0])
        if self.parameters is None:
            kwargs = _fill_defaults(kwargs, self._spec()[2])
        result = self.execute(**kwargs)
        try:
            return _to_text(result)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ConfigurationError(
                f"the result of tool {self.name!r} cannot be sent to the model as JSON ({type(exc).__name__}: "
                f"{exc}); return a str or JSON-ready data (dicts with str keys, lists, numbers)"[:300]) from None

    def _spec(self) -> tuple[dict[str, Any], bool | None, Signature | None]:
        """(schema, allow_extra for validate(), the derived signature if any)."""
        if self.parameters is not None:
            return self.parameters, None, None
        if self._signature is None:
            self._signature = _signature_or_error(self.name, *self._signature_source())
        return self._signature.schema, self._signature.accepts_extra, self._signature

    def _signature_source(self) -> tuple[Callable[..., Any], str | None]:
        """The callable whose signature defines the parameters, and an extra docstring to search."""
        return self.execute, type(self).__dict__.get("__doc__")

    def __repr__(self) -> str:
        return f"<Tool {self.name}>"


class FunctionTool(Tool):
    """A tool wrapping a plain function; built by :func:`tool`. Still callable like the function.

    >>> def shout(text: str) -> str:
    ...     '''Upper-cases text.'''
    ...     return text.upper()
    >>> t = FunctionTool(shout)
    >>> t.name, t.description, t("hi"), t.run({"text": "hi"})
    ('shout', 'Upper-cases text.', 'HI', 'HI')
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(fn) or isinstance(fn, type):
            raise TypeError(f"tool() expects a function, got {fn!r}")
        functools.update_wrapper(self, fn, updated=())
        self.fn = fn
        default_name = getattr(fn, "__name__", None)
        if name is None and (not isinstance(default_name, str) or not _NAME_RE.match(default_name)):
            raise ValueError(f"cannot derive a tool name from {fn!r}; pass name=...")
        self.name = _check_name(name if name is not None else default_name)
        doc = getattr(fn, "__doc__", None)
        self.description = _summary(doc) if description is None else description
        self.parameters = None if parameters is None else _check_parameters(parameters)
        self._signature = None if self.parameters is not None else _try_signature(fn, None)

    def execute(self, **kwargs: Any) -> Any:
        """Call the wrapped function with the model's arguments."""
        return self.fn(**kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def _signature_source(self) -> tuple[Callable[..., Any], str | None]:
        return self.fn, None


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...
@overload
def tool(
    fn: Callable[..., Any], /, *, name: str | None = ..., description: str | None = ...,
    parameters: Mapping[str, Any] | None = ...,
) -> FunctionTool: ...  # fmt: skip
@overload
def tool(
    fn: None = ..., /, *, name: str | None = ..., description: str | None = ...,
    parameters: Mapping[str, Any] | None = ...,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...  # fmt: skip
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Turn a function into a :class:`Tool`; usable as ``@tool``, ``@tool(...)`` or ``tool(fn, ...)``.

    >>> @tool(name="lookup", description="Look things up")
    ... def f(query: str, limit: int = 5) -> list[str]:
    ...     return [query] * limit
    >>> f.name, f.schema()["required"], f.run({"query": "x", "limit": 2})
    ('lookup', ['query'], '["x", "x"]')
    """
    if fn is None:
        return lambda func: FunctionTool(func, name=name, description=description, parameters=parameters)
    return FunctionTool(fn, name=name, description=description, parameters=parameters)


def as_tool(obj: object) -> Tool:
    """Normalize what users pass to ``chat.with_tool``: a Tool subclass, Tool instance or function.

    >>> def now() -> str:
    ...     return "12:00"
    >>> as_tool(now)
    <Tool now>
    """
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, type):
        if not issubclass(obj, Tool):
            raise TypeError(f"expected a Tool subclass, Tool instance or function, got class {obj.__name__}")
        try:
            return obj()
        except TypeError as exc:
            raise TypeError(
                f"cannot instantiate {obj.__name__}() without arguments; pass an instance"
            ) from exc
    if callable(obj):
        return tool(obj)
    raise TypeError(f"expected a Tool subclass, Tool instance or function, got {type(obj).__name__}: {obj!r}")
