"""Tools from Python: the schema a signature gives, docstrings, argument conversion, errors."""

from __future__ import annotations

import dataclasses
import enum
from typing import Annotated, Any, Literal, Optional, TypedDict

import orjson
import pytest

import alchemy
from alchemy import Context, Tool, ToolValidationError
from alchemy._docstrings import parse_docstring
from alchemy.function_tools import FunctionTool, _derive_uncached, as_tool


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclasses.dataclass
class Point:
    """A place on the map."""

    lat: float
    lon: float = 0.0


class Address(TypedDict):
    street: str
    number: int


def orjson_of(data: bytes) -> Any:
    return orjson.loads(data)


# --------------------------------------------------------------------------- signatures -> schema


def f_scalars(text: str, count: int, ratio: float, flag: bool) -> None: ...


def f_optional(city: Optional[str], tags: list[str] | None = None) -> None: ...


def f_literal_enum(mode: Literal["fast", "slow"], unit: Unit = Unit.CELSIUS) -> None: ...


def f_defaults(limit: int = 10, names: tuple[str, ...] = ("a",), when: object = object()) -> None: ...


def f_annotated(city: Annotated[str, "The city name"], n: Annotated[int, "How many"] = 1) -> None: ...


def f_nested(where: Point, to: Address, scores: dict[str, float]) -> None: ...


def f_containers(ids: set[int], pair: tuple[int, str], anything: Any) -> None: ...


SIGNATURES: list[tuple[Any, dict[str, Any]]] = [
    (
        f_scalars,
        {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "count": {"type": "integer"},
                "ratio": {"type": "number"},
                "flag": {"type": "boolean"},
            },
            "required": ["text", "count", "ratio", "flag"],
            "additionalProperties": False,
        },
    ),
    (
        f_optional,
        {
            "type": "object",
            "properties": {
                "city": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}], "default": None},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    ),
    (
        f_literal_enum,
        {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "title": "Unit", "default": "celsius"},
            },
            "required": ["mode"],
            "additionalProperties": False,
        },
    ),
    (
        f_defaults,
        {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "default": 10},
                "names": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
                "when": {},  # a default with no JSON form is left out of the schema
            },
            "additionalProperties": False,
        },
    ),
    (
        f_annotated,
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "n": {"type": "integer", "description": "How many", "default": 1},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    ),
    (
        f_nested,
        {
            "type": "object",
            "properties": {
                "where": {"$ref": "#/$defs/Point"},
                "to": {"$ref": "#/$defs/Address"},
                "scores": {"type": "object", "additionalProperties": {"type": "number"}},
            },
            "required": ["where", "to", "scores"],
            "additionalProperties": False,
            "$defs": {
                "Point": {
                    "type": "object",
                    "title": "Point",
                    "description": "A place on the map.",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number", "default": 0.0}},
                    "required": ["lat"],
                },
                "Address": {
                    "type": "object",
                    "title": "Address",
                    "properties": {"street": {"type": "string"}, "number": {"type": "integer"}},
                    "required": ["street", "number"],
                },
            },
        },
    ),
    (
        f_containers,
        {
            "type": "object",
            "properties": {
                "ids": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
                "pair": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "string"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
                "anything": {},
            },
            "required": ["ids", "pair", "anything"],
            "additionalProperties": False,
        },
    ),
]


@pytest.mark.parametrize(("function", "expected"), SIGNATURES, ids=[f.__name__ for f, _ in SIGNATURES])
def test_a_signature_gives_its_json_schema(function: Any, expected: dict[str, Any]) -> None:
    tool = Tool.from_function(function)
    assert tool.name == function.__name__
    assert tool.parameters == expected


try:  # pydantic is optional: its cases run where it is installed
    import pydantic
except ImportError:  # pragma: no cover
    pydantic = None

if pydantic is not None:

    class Item(pydantic.BaseModel):
        """One line of an order."""

        sku: str = pydantic.Field(description="Stock keeping unit")
        quantity: int = 1

    def order(items: list[Item], note: Annotated[str, pydantic.Field(description="For the courier")] = "") -> str:
        """Places an order."""
        return f"{len(items)} items"


@pytest.mark.skipif(pydantic is None, reason="pydantic is not installed")
def test_pydantic_models_and_field_descriptions() -> None:
    tool = Tool.from_function(order)
    assert tool.description == "Places an order."
    assert tool.parameters["properties"]["items"] == {"type": "array", "items": {"$ref": "#/$defs/Item"}}
    assert tool.parameters["properties"]["note"] == {"type": "string", "description": "For the courier", "default": ""}
    item = tool.parameters["$defs"]["Item"]
    assert item["properties"]["sku"]["description"] == "Stock keeping unit"
    assert item["required"] == ["sku"]
    args, kwargs = tool.call_arguments({"items": [{"sku": "A1", "quantity": "2"}]})
    assert args == () and kwargs == {"items": [Item(sku="A1", quantity=2)]}
    with pytest.raises(ToolValidationError) as caught:
        tool.call_arguments({"items": [{"quantity": 1}]})
    assert caught.value.errors[0][0] == "items[0].sku"


@pytest.mark.skipif(pydantic is None, reason="pydantic is not installed")
def test_from_model_with_a_pydantic_model() -> None:
    tool = Tool.from_model(Item, strict=True)
    assert (tool.name, tool.description, tool.strict) == ("Item", "One line of an order.", True)
    assert tool.parse_arguments({"sku": "B", "quantity": None}) == Item(sku="B", quantity=1)


def test_a_local_class_under_postponed_annotations_is_a_clear_error() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    def use(item: Local) -> None: ...

    expected = r"cannot resolve the type hint of .*use\(\) parameter 'item': name 'Local' is not defined"
    with pytest.raises(TypeError, match=expected):
        Tool.from_function(use)


# --------------------------------------------------------------------------- docstrings


GOOGLE = '''Get the weather.

    Uses the nearest station.

    Args:
        city (str): The city
            to look up.
        unit: Celsius or Fahrenheit.

    Returns:
        str: The report.
    '''

NUMPY = """Get the weather.

    Uses the nearest station.

    Parameters
    ----------
    city : str
        The city
        to look up.
    unit : {'celsius', 'fahrenheit'}, optional
        Celsius or Fahrenheit.

    Returns
    -------
    str
        The report.
    """

REST = """Get the weather.

    Uses the nearest station.

    :param city: The city
        to look up.
    :type city: str
    :param str unit: Celsius or Fahrenheit.
    :returns: The report.
    """


@pytest.mark.parametrize("doc", [GOOGLE, NUMPY, REST], ids=["google", "numpy", "rest"])
def test_three_docstring_styles_give_the_same_descriptions(doc: str) -> None:
    parsed = parse_docstring(doc)
    assert parsed.description == "Get the weather.\n\nUses the nearest station."
    assert parsed.params == {"city": "The city to look up.", "unit": "Celsius or Fahrenheit."}

    def get_weather(city: str, unit: str = "celsius") -> str:
        return city

    get_weather.__doc__ = doc
    tool = Tool.from_function(get_weather)
    assert tool.description == "Get the weather.\n\nUses the nearest station."
    assert tool.parameters["properties"]["city"] == {"type": "string", "description": "The city to look up."}
    assert tool.parameters["properties"]["unit"]["description"] == "Celsius or Fahrenheit."


def test_an_annotated_description_wins_over_the_docstring() -> None:
    def look(city: Annotated[str, "From the annotation"]) -> None:
        """Look.

        Args:
            city: From the docstring.
        """

    assert Tool.from_function(look).parameters["properties"]["city"]["description"] == "From the annotation"


def test_no_docstring_gives_an_empty_description() -> None:
    def quiet(x: int) -> int:
        return x

    assert Tool.from_function(quiet).description == ""
    assert parse_docstring(None).params == {}


# --------------------------------------------------------------------------- the decorator and calling


def test_the_decorator_keeps_the_function_callable_and_takes_options() -> None:
    @alchemy.tool
    def add(a: int, b: int = 2) -> int:
        """Adds."""
        return a + b

    @alchemy.tool(name="lookup-city", description="Finds a city.", strict=True)
    def find(name: str) -> str:
        return name

    assert isinstance(add, FunctionTool) and isinstance(add, Tool)
    assert add(1) == 3 and add(1, b=5) == 6
    assert (find.name, find.description, find.strict) == ("lookup-city", "Finds a city.", True)
    assert Context(tools=[add, find]).to_dict()["tools"][1] == {
        "name": "lookup-city",
        "description": "Finds a city.",
        "parameters": find.parameters,
        "strict": True,
    }


def test_arguments_are_coerced_and_converted_to_the_annotated_types() -> None:
    received: list[Any] = []

    def plan(where: Point, unit: Unit, at: Address, ids: set[int], pair: tuple[int, str], n: int = 1, /) -> None:
        received.append((where, unit, at, ids, pair, n))

    tool = Tool.from_function(plan)
    args, kwargs = tool.call_arguments(
        {"where": {"lat": "48.85"}, "unit": "fahrenheit", "at": {"street": "Rue", "number": "7"}, "ids": [3, "4"],
         "pair": ["1", 2]}  # fmt: skip
    )
    assert kwargs == {}
    assert args == (Point(48.85, 0.0), Unit.FAHRENHEIT, {"street": "Rue", "number": 7}, {3, 4}, (1, "2"))
    tool(*args, **kwargs)
    assert received == [(Point(48.85, 0.0), Unit.FAHRENHEIT, {"street": "Rue", "number": 7}, {3, 4}, (1, "2"), 1)]
    assert tool.parse_arguments({"where": {"lat": 1}, "unit": "celsius", "at": {"street": "s", "number": 1},
                                 "ids": [], "pair": [1, "a"], "n": 4})["n"] == 4  # fmt: skip


def test_invalid_arguments_raise_the_model_ready_message() -> None:
    def book(seats: int, cabin: Literal["economy", "business"]) -> None: ...

    tool = Tool.from_function(book)
    with pytest.raises(ToolValidationError) as caught:
        tool.call_arguments({"seats": "two", "cabin": "first", "extra": 1})
    text = str(caught.value)
    assert text.startswith('Invalid arguments for tool "book":')
    assert "seats: 'two' is not of type 'integer'" in text
    assert "cabin: 'first' is not one of ['economy', 'business']" in text
    assert "Additional properties are not allowed ('extra' was unexpected)" in text
    assert caught.value.tool_name == "book"
    with pytest.raises(ToolValidationError, match="cabin: required property is missing"):
        tool.call_arguments({"seats": 1})


def test_a_conversion_failure_names_the_path() -> None:
    def meet(when: Annotated[Any, "free"], day: "datetime.date") -> None: ...  # noqa: F821

    import datetime

    meet.__annotations__["day"] = datetime.date
    tool = Tool.from_function(meet)
    assert tool.call_arguments({"when": 1, "day": "2026-01-02"})[1]["day"] == datetime.date(2026, 1, 2)
    with pytest.raises(ToolValidationError) as caught:
        tool.call_arguments({"when": 1, "day": "not a date"})
    assert caught.value.errors[0][0] == "day"


def test_a_strict_tool_reads_null_as_not_given() -> None:
    @alchemy.tool(strict=True)
    def search(query: str, limit: int = 5, lang: str | None = None) -> str:
        return f"{query} {limit} {lang}"

    args, kwargs = search.call_arguments({"query": "q", "limit": None, "lang": None})
    assert kwargs == {"query": "q", "lang": None}  # limit: absent (the default applies); lang: a real null


def test_from_model_gives_the_instance() -> None:
    @dataclasses.dataclass
    class Move:
        """Moves a piece."""

        piece: str
        to: Point

    seen: list[Move] = []
    tool = Tool.from_model(Move, seen.append)
    assert (tool.name, tool.description) == ("Move", "Moves a piece.")
    assert tool.parameters["properties"]["to"] == {"$ref": "#/$defs/Point"}
    instance = tool.parse_arguments({"piece": "K", "to": {"lat": 1, "lon": 2}})
    assert instance == Move("K", Point(1.0, 2.0))
    args, _ = tool.call_arguments({"piece": "K", "to": {"lat": 1}})
    tool(*args)
    assert seen == [Move("K", Point(1.0, 0.0))]
    assert Tool.from_model(Move).function is None


def test_a_hand_written_schema_with_a_function() -> None:
    tool = FunctionTool("echo", "Echoes.", {"type": "object", "properties": {"n": {"type": "integer"}}}, function=str)
    assert tool.call_arguments({"n": "3"}) == ((), {"n": 3})
    assert as_tool(tool) is tool


# --------------------------------------------------------------------------- what is refused


def test_what_has_no_json_form_is_refused_at_creation() -> None:
    def star(*items: int) -> None: ...

    def double_star(**options: str) -> None: ...

    def bad_key(table: dict[int, str]) -> None: ...

    with pytest.raises(TypeError, match=r"takes \*items, which has no JSON Schema"):
        Tool.from_function(star)
    with pytest.raises(TypeError, match=r"takes \*\*options"):
        Tool.from_function(double_star)
    with pytest.raises(TypeError, match="parameter 'table'.*keys are strings"):
        Tool.from_function(bad_key)
    with pytest.raises(ValueError, match="tool name must be 1 to 64 of .* got '<lambda>' \\(pass name=...\\)"):
        Tool.from_function(lambda x: x)
    assert Tool.from_function(lambda x: x, name="identity").name == "identity"
    with pytest.raises(TypeError, match="expects a function, got int"):
        Tool.from_function(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected an alchemy.Tool or a function, got str"):
        as_tool("get_weather")


def test_methods_partials_and_async_functions() -> None:
    import functools

    class Shop:
        def price(self, sku: str, qty: int = 1) -> float:
            """Price of a line."""
            return 2.0 * qty

    tool = Tool.from_function(Shop().price)
    assert list(tool.parameters["properties"]) == ["sku", "qty"]
    assert tool.call_arguments({"sku": "a", "qty": "3"}) == ((), {"sku": "a", "qty": 3})

    def scaled(factor: float, value: float) -> float:
        """Scales."""
        return factor * value

    half = Tool.from_function(functools.partial(scaled, 0.5), name="half")
    assert list(half.parameters["properties"]) == ["value"] and half(4) == 2.0

    async def fetch(url: str) -> str:
        return url

    assert Tool.from_function(fetch).is_async and not tool.is_async


def test_derivation_is_cached_per_function() -> None:
    def wide(
        a0: str, a1: int, a2: float, a3: bool, a4: list[str], a5: dict[str, int], a6: Literal["x", "y"], a7: Unit,
        a8: Point, a9: Optional[int] = None, b0: str = "", b1: int = 0, b2: float = 0.0, b3: bool = False,
        b4: list[int] | None = None, b5: set[str] | None = None, b6: tuple[int, int] = (0, 0),
        b7: Address | None = None,
        b8: Annotated[str, "doc"] = "", b9: Any = None,
    ) -> None:  # fmt: skip
        """Twenty parameters."""

    first = Tool.from_function(wide)
    assert len(first.parameters["properties"]) == 20
    assert Tool.from_function(wide).parameters == first.parameters
    from alchemy.function_tools import _DERIVED

    assert wide in _DERIVED
    assert Tool.from_function(wide).parameters is not first.parameters  # each tool gets its own copy
    assert orjson_of(_derive_uncached(wide).parameters) == first.parameters
