"""alchemy.schema: Python types -> JSON Schema, strict normalisation per provider, validation, JSON -> Python."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from typing import Annotated, Any, Literal, Optional, TypedDict, Union

import pydantic
import pytest

from alchemy.schema import (
    DIALECTS,
    InstanceError,
    SchemaBuilder,
    SchemaError,
    drop_absent_nulls,
    from_json,
    json_schema,
    strict_schema,
    validate,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


@dataclasses.dataclass
class Shape:
    """A shape on a canvas."""

    name: Annotated[str, "what it is called"]
    points: list[Point]
    color: Color = Color.RED
    label: Optional[str] = None
    weight: float = dataclasses.field(default=1.0, metadata={"description": "how heavy"})


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


class Movie(TypedDict):
    title: str
    year: int


class Review(pydantic.BaseModel):
    movie: str = pydantic.Field(description="the title")
    stars: Literal[1, 2, 3, 4, 5]


POINT = {"type": "object", "title": "Point", "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}},
         "required": ["x"]}

TYPES: list[tuple[Any, dict[str, Any]]] = [
    (str, {"type": "string"}),
    (int, {"type": "integer"}),
    (float, {"type": "number"}),
    (bool, {"type": "boolean"}),
    (type(None), {"type": "null"}),
    (Any, {}),
    (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
    (Literal[1, "x"], {"enum": [1, "x"]}),
    (Color, {"type": "string", "enum": ["red", "blue"], "title": "Color"}),
    (Level, {"type": "integer", "enum": [1, 2], "title": "Level"}),
    (list[str], {"type": "array", "items": {"type": "string"}}),
    (set[int], {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
    (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
    (tuple[int, str], {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "minItems": 2,
                       "maxItems": 2}),
    (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
    (datetime.datetime, {"type": "string", "format": "date-time"}),
    (datetime.date, {"type": "string", "format": "date"}),
    (uuid.UUID, {"type": "string", "format": "uuid"}),
    (Annotated[int, "a count"], {"type": "integer", "description": "a count"}),
    (Annotated[int, pydantic.Field(description="from Field")], {"type": "integer", "description": "from Field"}),
    (Point, POINT),
    (Movie, {"type": "object", "title": "Movie", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
             "required": ["title", "year"]}),
    (list[Point], {"type": "array", "items": {"$ref": "#/$defs/Point"}, "$defs": {"Point": POINT}}),
    (
        Shape,
        {
            "type": "object",
            "title": "Shape",
            "description": "A shape on a canvas.",
            "properties": {
                "name": {"type": "string", "description": "what it is called"},
                "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
                "color": {"type": "string", "enum": ["red", "blue"], "title": "Color", "default": "red"},
                "label": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                "weight": {"type": "number", "description": "how heavy", "default": 1.0},
            },
            "required": ["name", "points"],
            "$defs": {"Point": POINT},
        },
    ),
    (
        Tree,
        {
            "type": "object",
            "title": "Tree",
            "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}},
            "required": ["value"],
            "$defs": {"Tree": {"type": "object", "title": "Tree", "properties": {
                "value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}},
                "required": ["value"]}},
        },
    ),
]


@pytest.mark.parametrize(("tp", "expected"), TYPES, ids=[repr(t) for t, _ in TYPES])
def test_python_types_give_the_expected_schema(tp: Any, expected: dict[str, Any]) -> None:
    assert json_schema(tp) == expected


def test_a_pydantic_model_uses_its_own_schema() -> None:
    schema = json_schema(Review)
    assert schema["properties"]["movie"]["description"] == "the title"
    assert schema["required"] == ["movie", "stars"] and "$defs" not in schema


def test_the_schema_is_a_fresh_copy_each_time() -> None:
    first = json_schema(Shape)
    first["properties"].clear()
    assert json_schema(Shape)["properties"]


def test_a_builder_shares_defs_between_annotations() -> None:
    builder = SchemaBuilder()
    properties = {"a": builder.schema_for(Point), "b": builder.schema_for(list[Point])}
    schema = builder.finish({"type": "object", "properties": properties})
    assert properties["a"] == {"$ref": "#/$defs/Point"} and list(schema["$defs"]) == ["Point"]


@pytest.mark.parametrize("tp", [bytes, complex, dict[int, str], object.__new__(type("X", (), {}))])
def test_types_without_a_json_form_raise(tp: Any) -> None:
    with pytest.raises(TypeError, match="JSON"):
        json_schema(tp)


# --------------------------------------------------------------------------- strict normalisation

LOOSE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 40, "format": "idn-email"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "kind": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "where": {"$ref": "#/$defs/Place", "description": "the place"},
    },
    "required": ["name"],
    "$defs": {"Place": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}


def test_openai_dialect() -> None:
    out = strict_schema(LOOSE, "openai")
    props = out["properties"]
    assert out["additionalProperties"] is False and out["required"] == ["name", "age", "tags", "kind", "where"]
    assert props["name"] == {"type": "string"}  # minLength, maxLength and an unknown format removed
    assert props["age"] == {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 150}, {"type": "null"}]}
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}, "minItems": 2}
    assert props["kind"]["anyOf"][0] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}  # oneOf sent as anyOf
    inlined = props["where"]["anyOf"][0]  # a $ref with a sibling is inlined under it
    assert inlined["description"] == "the place" and inlined["additionalProperties"] is False
    assert out["$defs"]["Place"]["additionalProperties"] is False
    assert LOOSE["properties"]["name"]["minLength"] == 1  # the input is never changed


def test_anthropic_dialect() -> None:
    out = strict_schema(LOOSE, "anthropic")
    props = out["properties"]
    assert out["required"] == ["name"]  # optional properties are allowed
    assert props["age"] == {"type": "integer"}  # no numeric bounds
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}  # minItems > 1 and uniqueItems removed
    assert props["kind"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert out["additionalProperties"] is False


def test_gemini_dialect_drops_ref_siblings_only() -> None:
    out = strict_schema(LOOSE, "gemini")
    assert out["properties"]["where"] == {"$ref": "#/$defs/Place"}
    assert out["properties"]["age"]["minimum"] == 0 and "additionalProperties" not in out


def test_mistral_dialect_closes_objects() -> None:
    out = strict_schema(LOOSE, "mistral")
    assert out["additionalProperties"] is False and out["required"] == ["name"]


@pytest.mark.parametrize(
    ("dialect", "schema", "path"),
    [
        ("openai", {"type": "object", "properties": {"a": {"not": {"type": "null"}}}}, "#/properties/a/not"),
        ("openai", {"type": "object", "patternProperties": {"^x": {}}}, "#/patternProperties"),
        ("openai", {"type": "object", "properties": {"m": {"type": "object", "additionalProperties": True}}},
         "#/properties/m/additionalProperties"),
        ("openai", {"type": "array", "items": {"type": "integer"}}, "#"),
        ("openai", {"type": "object", "properties": {"t": {"type": "array", "prefixItems": [{}]}}},
         "#/properties/t/prefixItems"),
        ("anthropic", json_schema(Tree), "#/$defs/Tree"),
        ("anthropic", {"type": "object", "properties": {"e": {"enum": [{"a": 1}]}}}, "#/properties/e/enum"),
        ("anthropic", {"type": "object", "if": {}, "then": {}}, "#/if"),
        ("mistral", {"type": "object", "additionalProperties": {"type": "string"}}, "#/additionalProperties"),
    ],
)
def test_what_a_provider_cannot_express_is_refused_with_its_path(dialect: str, schema: dict[str, Any], path: str) -> None:
    with pytest.raises(SchemaError) as info:
        strict_schema(schema, dialect)
    assert info.value.path.startswith(path) and path in str(info.value)


def test_recursion_is_kept_where_the_provider_takes_it() -> None:
    out = strict_schema(json_schema(Tree), "openai")
    assert out["properties"]["children"]["anyOf"][0]["items"] == {"$ref": "#/$defs/Tree"}


def test_single_allof_is_merged() -> None:
    schema = {"type": "object", "properties": {"p": {"allOf": [{"$ref": "#/$defs/P"}], "description": "d"}},
              "required": ["p"], "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}},
                                                 "required": ["x"]}}}
    out = strict_schema(schema, "openai")
    assert out["properties"]["p"]["properties"] == {"x": {"type": "integer"}} and out["properties"]["p"][
        "description"] == "d"


def test_every_dialect_is_described() -> None:
    assert set(DIALECTS) == {"openai", "anthropic", "gemini", "mistral"}


# --------------------------------------------------------------------------- validation and JSON -> Python


def test_validate_names_the_path() -> None:
    with pytest.raises(InstanceError) as info:
        validate({"points": [{"x": 1}, {"x": "no"}], "name": "s"}, json_schema(Shape))
    assert info.value.path == "$.points[1].x"


def test_drop_absent_nulls_only_where_null_means_absent() -> None:
    schema = json_schema(Shape)
    value = {"name": "s", "points": [{"x": 1, "y": None}], "color": None, "label": None, "weight": None}
    drop_absent_nulls(value, schema)
    assert value == {"name": "s", "points": [{"x": 1}], "label": None}  # label may be null: kept


def test_from_json_builds_the_annotated_types() -> None:
    value = {"name": "s", "points": [{"x": 1, "y": 2}], "color": "blue"}
    assert from_json(Shape, value) == Shape("s", [Point(1.0, 2.0)], Color.BLUE)
    assert from_json(Tree, {"value": 1, "children": [{"value": 2}]}) == Tree(1, [Tree(2)])
    assert from_json(tuple[int, str], [1, "a"]) == (1, "a")
    assert from_json(datetime.datetime, "2026-01-02T03:04:05Z").tzinfo is not None
    assert from_json(Review, {"movie": "M", "stars": 5}) == Review(movie="M", stars=5)
    assert from_json(Optional[Point], None) is None


@pytest.mark.parametrize(
    ("tp", "value", "path"),
    [(Shape, {"name": "s", "points": [{"y": 1}]}, "$.points[0].x"), (Color, "green", "$"),
     (list[int], [1, "2"], "$[1]"), (Review, {"movie": "M", "stars": 9}, "$.stars")],
)
def test_from_json_mismatches_name_the_path(tp: Any, value: Any, path: str) -> None:
    with pytest.raises(InstanceError) as info:
        from_json(tp, value)
    assert info.value.path == path
