"""Tests for llmchat.tools (tool declarations, schema derivation, argument validation)."""

from __future__ import annotations

import enum
import inspect
import json
import types
import typing
from typing import Annotated, Any, List, Literal, Optional  # noqa: UP035

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmchat.schema import parse_docstring, type_schema
from llmchat.tools import FunctionTool, Tool, ToolArgumentError, as_tool, tool, validate


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Weather(Tool):
    """Optional class docstring."""

    description = "Gets current weather for a location"

    def execute(self, latitude: str, longitude: str) -> str:
        """Args:
        latitude: Latitude, e.g. 52.52
        longitude: Longitude, e.g. 13.40
        """
        return f"Current weather at {latitude}, {longitude}: 15°C"


class GetHTTPData(Tool):
    """Fetches data from a URL.

    Second paragraph is not part of the description.
    """

    def execute(self, url: str, retries: int = 3) -> dict[str, Any]:
        return {"url": url, "retries": retries}


class Forecast(Tool):
    def execute(self, city: str, days: int = 1) -> list[str]:
        """Forecast for a city.

        Args:
            city (str): The city
                to forecast.
            days: Number of days.
        """
        return [city] * days


def props(t: Tool) -> dict[str, Any]:
    return t.schema()["properties"]


def schema_of(annotation: Any, **param: Any) -> dict[str, Any]:
    """The property schema derived for a single parameter ``x`` annotated with ``annotation``."""

    def fn(**kwargs: Any) -> None: ...

    kind = inspect.Parameter.KEYWORD_ONLY
    fn.__signature__ = inspect.Signature([inspect.Parameter("x", kind, annotation=annotation, **param)])
    fn.__annotations__ = {} if annotation is inspect.Parameter.empty else {"x": annotation}
    return tool(fn, name="t").schema()


# --------------------------------------------------------------------------- class tools


def test_class_tool_explicit_description_and_google_param_descriptions() -> None:
    w = Weather()
    assert Weather.name == "weather" and w.name == "weather"
    assert w.description == "Gets current weather for a location"
    assert w.schema() == {
        "type": "object",
        "properties": {
            "latitude": {"type": "string", "description": "Latitude, e.g. 52.52"},
            "longitude": {"type": "string", "description": "Longitude, e.g. 13.40"},
        },
        "required": ["latitude", "longitude"],
    }
    assert repr(w) == "<Tool weather>"


def test_class_tool_name_is_snake_case_and_description_is_first_docstring_paragraph() -> None:
    assert GetHTTPData.name == "get_http_data"
    assert GetHTTPData.description == "Fetches data from a URL."
    assert GetHTTPData().schema()["required"] == ["url"]


def test_description_falls_back_to_execute_docstring_and_multiline_param_descriptions() -> None:
    assert Forecast.description == "Forecast for a city."
    assert props(Forecast()) == {
        "city": {"type": "string", "description": "The city to forecast."},
        "days": {"type": "integer", "description": "Number of days."},
    }


def test_class_without_docstrings_has_empty_description() -> None:
    class Ping(Tool):
        def execute(self) -> str:
            return "pong"

    assert Ping.description == ""
    assert Ping().run(None) == "pong"


def test_explicit_class_attributes_win() -> None:
    class Lookup(Tool):
        """Ignored docstring."""

        name = "find"
        description = "Finds"
        parameters = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}  # noqa: RUF012

        def execute(self, **kwargs: Any) -> Any:
            return kwargs

    assert (Lookup.name, Lookup.description) == ("find", "Finds")
    assert Lookup().schema() == Lookup.parameters
    assert Lookup().run({"q": "x"}) == '{"q": "x"}'


def test_schema_returns_a_copy() -> None:
    w = Weather()
    w.schema()["properties"].clear()
    assert "latitude" in w.schema()["properties"]


def test_invalid_class_name_or_parameters_fail_at_declaration() -> None:
    with pytest.raises(ValueError, match="invalid tool name"):

        class Bad(Tool):
            name = "has spaces"

    with pytest.raises(ValueError, match="JSON Schema object"):

        class BadParams(Tool):
            parameters = {"properties": {}}  # noqa: RUF012


def test_unimplemented_execute_raises() -> None:
    class Empty(Tool):
        pass

    with pytest.raises(NotImplementedError):
        Empty().run({})


def test_inherited_tool_gets_its_own_name() -> None:
    class Child(Forecast):
        pass

    assert Child.name == "child"
    assert Child().run({"city": "Oslo", "days": 2}) == '["Oslo", "Oslo"]'


# --------------------------------------------------------------------------- decorator forms


@tool
def best_language_to_learn() -> str:
    """Returns the best language to learn.

    Details that are not part of the description.
    """
    return "Ruby"


@tool(name="lookup", description="Look things up")
def lookup_fn(query: str, limit: int = 5) -> list[str]:
    return [query] * limit


def test_bare_decorator() -> None:
    assert isinstance(best_language_to_learn, FunctionTool)
    assert isinstance(best_language_to_learn, Tool)
    assert best_language_to_learn.name == "best_language_to_learn"
    assert best_language_to_learn.description == "Returns the best language to learn."
    assert best_language_to_learn.schema() == {"type": "object", "properties": {}}
    assert best_language_to_learn.run({}) == "Ruby"
    assert best_language_to_learn.run(None) == "Ruby"


def test_decorator_with_arguments() -> None:
    assert (lookup_fn.name, lookup_fn.description) == ("lookup", "Look things up")
    assert lookup_fn.schema() == {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["query"],
    }
    assert lookup_fn.run({"query": "a", "limit": 2}) == '["a", "a"]'


def test_decorated_function_is_still_callable() -> None:
    assert best_language_to_learn() == "Ruby"
    assert lookup_fn("x", 1) == ["x"]
    assert lookup_fn.fn("y", limit=2) == ["y", "y"]
    assert lookup_fn.__name__ == "lookup_fn"
    assert repr(lookup_fn) == "<Tool lookup>"


def test_functional_form_with_explicit_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Berlin", "Paris"]}},
        "required": ["city"],
    }

    def weather(**kwargs: Any) -> str:
        return f"sunny in {kwargs['city']}"

    t = tool(weather, name="weather", description="Weather", parameters=schema)
    assert (t.name, t.description, t.schema()) == ("weather", "Weather", schema)
    assert t.run({"city": "Paris"}) == "sunny in Paris"
    with pytest.raises(ToolArgumentError, match="must be one of"):
        t.run({"city": "Rome"})
    # explicit schemas without additionalProperties: false allow unknown names
    assert t.validate({"city": "Paris", "extra": 1}) == []
    strict = tool(weather, parameters={**schema, "additionalProperties": False})
    assert strict.validate({"city": "Paris", "extra": 1}) == ["unexpected argument 'extra'"]


def test_tool_rejects_bad_input() -> None:
    with pytest.raises(TypeError):
        tool("not callable")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="pass name="):
        tool(lambda x: x)
    with pytest.raises(TypeError, match="parameters must be"):
        tool(lambda: 1, name="x", parameters=["nope"])  # type: ignore[arg-type]
    assert tool(lambda x: x, name="ident").run({"x": "q"}) == "q"


def test_positional_only_parameters_are_rejected() -> None:
    def f(a: int, /) -> int:
        return a

    with pytest.raises(TypeError, match="positional-only"):
        tool(f)


# --------------------------------------------------------------------------- type hints


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (List[str], {"type": "array", "items": {"type": "string"}}),  # noqa: UP006
        (list, {"type": "array", "items": {}}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (set[str], {"type": "array", "items": {"type": "string"}}),
        (dict, {"type": "object"}),
        (dict[str, int], {"type": "object"}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal[1, 2.5], {"type": "number", "enum": [1, 2.5]}),
        (Literal["a", 1], {"enum": ["a", 1]}),
        (Literal[Color.RED], {"type": "string", "enum": ["red"]}),
        (Color, {"type": "string", "enum": ["red", "green"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
        (Annotated[int, "How many"], {"type": "integer", "description": "How many"}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (Any, {}),
    ],
)
def test_type_hint_mapping(annotation: Any, expected: dict[str, Any]) -> None:
    assert type_schema(annotation) == expected
    assert schema_of(annotation) == {"type": "object", "properties": {"x": expected}, "required": ["x"]}


@pytest.mark.parametrize("annotation", [Optional[int], int | None, typing.Union[None, int]])  # noqa: UP007, UP045
def test_optional_is_inner_schema_and_not_required(annotation: Any) -> None:
    assert schema_of(annotation) == {"type": "object", "properties": {"x": {"type": "integer"}}}


def test_no_annotation_is_string_and_defaults_are_not_required() -> None:
    assert schema_of(inspect.Parameter.empty) == {
        "type": "object",
        "properties": {"x": {"type": "string"}},
        "required": ["x"],
    }
    assert schema_of(int, default=3) == {"type": "object", "properties": {"x": {"type": "integer"}}}


def test_args_kwargs_and_self_are_ignored() -> None:
    class T(Tool):
        def execute(self, a: int, *args: int, **kwargs: int) -> int:
            return a + len(args) + len(kwargs)

    assert T().schema() == {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert T().run({"a": 1, "b": 2}) == "2"  # **kwargs: extra names pass through


def test_string_annotations_are_resolved() -> None:
    # this module uses `from __future__ import annotations`, so every annotation here is a string
    def f(a: int, b: list[str], c: Optional[Color] = None) -> None: ...  # noqa: UP045

    assert f.__annotations__["c"] == "Optional[Color]"
    assert props(tool(f)) == {
        "a": {"type": "integer"},
        "b": {"type": "array", "items": {"type": "string"}},
        "c": {"type": "string", "enum": ["red", "green"]},
    }


FUTURE_MODULE = '''
from __future__ import annotations
from typing import Annotated, Literal
from llmchat.tools import tool

@tool
def search(query: Annotated[str, "What to find"], kind: Literal["web", "news"] = "web",
           limit: int | None = None) -> str:
    """Search things."""
    return f"{query}/{kind}/{limit}"

@tool
def later(item: Item) -> str:
    return item

class Item(str):
    pass

@tool
def broken(thing: Missing) -> str:
    return thing
'''


def test_from_future_annotations_module() -> None:
    module = types.ModuleType("future_tools")
    exec(compile(FUTURE_MODULE, "future_tools.py", "exec"), module.__dict__)  # noqa: S102
    search = module.search
    assert search.description == "Search things."
    assert search.schema() == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to find"},
            "kind": {"type": "string", "enum": ["web", "news"]},
            "limit": {"type": "integer"},
        },
        "required": ["query"],
    }
    assert search.run({"query": "q"}) == "q/web/None"
    # a hint naming a class defined later in the module resolves at first use
    assert module.later.schema()["properties"] == {"item": {"type": "string"}}
    with pytest.raises(TypeError, match="cannot resolve"):
        module.broken.schema()


def test_docstring_styles() -> None:
    def sphinx(a: int, b: str) -> None:
        """Sphinx style.

        :param a: First value.
        :param str b: Second
            value.
        :returns: nothing
        """

    def numpy(a: int, b: str) -> None:
        """Numpy style.

        Parameters
        ----------
        a : int
            First value.
        b : str
            Second value.

        Returns
        -------
        None
        """

    for fn in (sphinx, numpy):
        t = tool(fn)
        assert t.description == f"{fn.__name__.capitalize()} style."
        assert props(t)["a"] == {"type": "integer", "description": "First value."}
        assert props(t)["b"] == {"type": "string", "description": "Second value."}


def test_parse_docstring_summary_stops_at_sections() -> None:
    assert parse_docstring("Args:\n    x: y") == ("", {"x": "y"})
    assert parse_docstring("One\ntwo.\n\nThree.") == ("One two.", {})
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("See http://x.y: z\nArgs:\n  url: The URL.")[1] == {"url": "The URL."}


def test_annotated_description_beats_docstring() -> None:
    def f(a: Annotated[int, "From hint"]) -> None:
        """Args:
        a: From docstring.
        """

    assert props(tool(f))["a"] == {"type": "integer", "description": "From hint"}


# --------------------------------------------------------------------------- as_tool


def test_as_tool_normalizes() -> None:
    from_class = as_tool(Weather)
    assert isinstance(from_class, Weather)
    w = Weather()
    assert as_tool(w) is w
    wrapped = as_tool(lookup_fn.fn)
    assert isinstance(wrapped, FunctionTool) and wrapped.name == "lookup_fn"
    assert as_tool(lookup_fn) is lookup_fn


@pytest.mark.parametrize("bad", [42, "weather", None, dict, object()])
def test_as_tool_rejects_other_things(bad: object) -> None:
    with pytest.raises(TypeError, match="expected a Tool subclass, Tool instance or function"):
        as_tool(bad)


def test_as_tool_class_needing_arguments() -> None:
    class Needs(Tool):
        def __init__(self, key: str) -> None:
            self.key = key

        def execute(self) -> str:
            return self.key

    with pytest.raises(TypeError, match="pass an instance"):
        as_tool(Needs)
    assert as_tool(Needs("k")).run({}) == "k"


# --------------------------------------------------------------------------- run()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (None, ""),
        (3, "3"),
        ({"a": [1, "é"]}, '{"a": [1, "é"]}'),
        (Color.RED, '"Color.RED"'),
    ],
)
def test_run_converts_results(value: Any, text: str) -> None:
    t = tool(lambda: value, name="v")
    assert t.run({}) == text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"longitude": "1"}, "weather: missing required argument 'latitude'"),
        ({"latitude": 1, "longitude": "1"}, "weather: argument 'latitude' must be string, got integer"),
        ({"latitude": "1", "longitude": "1", "foo": 1}, "weather: unexpected argument 'foo'"),
        ([], "weather: arguments must be an object, got array"),
    ],
)
def test_run_rejects_invalid_arguments(arguments: Any, message: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        Weather().run(arguments)
    assert str(info.value) == message
    assert info.value.message == message
    assert info.value.tool_name == "weather"
    assert isinstance(info.value, ValueError)


def test_type_checks() -> None:
    @tool
    def typed(n: int, x: float, flag: bool, tags: list[int], color: Color, meta: dict[str, Any]) -> str:
        return "ok"

    good = {"n": 1, "x": 1, "flag": False, "tags": [1, 2], "color": "red", "meta": {}}
    assert typed.validate(good) == []
    assert typed.validate({**good, "n": True}) == ["argument 'n' must be integer, got boolean"]
    assert typed.validate({**good, "x": True}) == ["argument 'x' must be number, got boolean"]
    assert typed.validate({**good, "flag": 1}) == ["argument 'flag' must be boolean, got integer"]
    assert typed.validate({**good, "n": 1.5}) == ["argument 'n' must be integer, got number"]
    assert typed.validate({**good, "color": "blue"}) == [
        "argument 'color' must be one of ['red', 'green'], got 'blue'"
    ]
    assert typed.validate({**good, "tags": [1, "2", True]}) == [
        "argument 'tags' item 1 must be integer, got string",
        "argument 'tags' item 2 must be integer, got boolean",
    ]
    assert typed.validate({**good, "meta": []}) == ["argument 'meta' must be object, got array"]
    with pytest.raises(ToolArgumentError) as info:
        typed.run({})
    assert len(info.value.problems) == 6


def test_integer_valued_float_is_accepted_and_passed_as_int() -> None:
    seen: list[Any] = []

    @tool
    def count(n: int, ns: list[int], x: float = 0.5) -> str:
        seen.append((n, ns, x))
        return "ok"

    assert count.run({"n": 3.0, "ns": [1.0, 2], "x": 2.0}) == "ok"
    n, ns, x = seen[0]
    assert type(n) is int and n == 3
    assert [type(v) for v in ns] == [int, int]
    assert type(x) is float  # numbers are not coerced


def test_null_for_optional_arguments() -> None:
    @tool
    def opt(a: Optional[int], b: int = 7) -> list[Any]:  # noqa: UP045
        return [a, b]

    assert opt.run({}) == "[null, 7]"
    assert opt.run({"a": None, "b": None}) == "[null, 7]"
    assert opt.run({"a": 1, "b": 2}) == "[1, 2]"


def test_exceptions_from_execute_propagate() -> None:
    class Boom(Tool):
        def execute(self) -> str:
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        Boom().run({})


def test_validate_function_directly() -> None:
    schema = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]}
    assert validate({"a": None}, schema) == []
    assert validate({"a": 1}, schema) == ["argument 'a' must be string or null, got integer"]
    assert validate({}, schema) == ["missing required argument 'a'"]
    assert validate({"b": 1}, schema, allow_extra=False) == [
        "missing required argument 'a'",
        "unexpected argument 'b'",
    ]
    assert validate("x", schema) == ["arguments must be an object, got string"]


# --------------------------------------------------------------------------- properties

_TYPES: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "str": (str, st.text(max_size=10)),
    "int": (int, st.integers()),
    "float": (float, st.floats(allow_nan=False) | st.integers()),
    "bool": (bool, st.booleans()),
    "list_int": (list[int], st.lists(st.integers(), max_size=5)),
    "opt_str": (Optional[str], st.none() | st.text(max_size=10)),  # noqa: UP045
    "literal": (Literal["a", "b"], st.sampled_from(["a", "b"])),
    "enum": (Color, st.sampled_from(["red", "green"])),
    "dict": (dict[str, int], st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)),
}


@st.composite
def signature_and_arguments(draw: st.DrawFn) -> tuple[FunctionTool, dict[str, Any]]:
    kinds = draw(st.lists(st.sampled_from(sorted(_TYPES)), max_size=6))
    params, arguments = [], {}
    for i, kind in enumerate(kinds):
        annotation, values = _TYPES[kind]
        has_default = draw(st.booleans())
        default = None if has_default else inspect.Parameter.empty
        params.append(
            inspect.Parameter(f"p{i}", inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        )
        if not has_default or draw(st.booleans()):
            arguments[f"p{i}"] = draw(values)

    def fn(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    fn.__signature__ = inspect.Signature(params)
    fn.__annotations__ = {p.name: p.annotation for p in params}
    return tool(fn, name="generated"), arguments


# the first st.text() draw builds Hypothesis's unicode tables, which can trip the too_slow check
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(signature_and_arguments())
def test_valid_arguments_for_generated_signatures_validate_and_run(
    case: tuple[FunctionTool, dict[str, Any]],
) -> None:
    t, arguments = case
    assert t.validate(arguments) == []
    result = json.loads(t.run(arguments))
    assert set(result) >= {k for k, v in arguments.items() if v is not None}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_json, st.sampled_from([Weather(), lookup_fn, best_language_to_learn]))
def test_validate_never_raises_on_arbitrary_json(arguments: Any, t: Tool) -> None:
    problems = t.validate(arguments)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)
    if not problems:
        assert isinstance(t.run(arguments), str)


def test_module_doctests_pass() -> None:
    import doctest

    import llmchat.schema
    import llmchat.tools

    for module in (llmchat.tools, llmchat.schema):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0
