"""Tool-call validation with coercion (alchemy.validation)."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest

from alchemy.errors import AlchemyError, ToolValidationError
from alchemy.validation import _schema_key, _validator, coerce_arguments, validate_tool_call
from alchemy.types import Tool, ToolCall

WEATHER = Tool(
    "get_weather",
    "Weather for a place",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "days": {"type": "integer", "minimum": 1},
            "metric": {"type": "boolean"},
            "scale": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "number"}},
            "when": {"type": "string", "format": "date"},
            "note": {"type": ["string", "null"]},
        },
        "required": ["location", "days"],
        "additionalProperties": False,
    },
)


def call(arguments: dict[str, Any], name: str = "get_weather") -> ToolCall:
    return ToolCall("toolu_1", name, arguments)


def failure(arguments: dict[str, Any], tool: Tool = WEATHER) -> ToolValidationError:
    with pytest.raises(ToolValidationError) as info:
        validate_tool_call([tool], call(arguments, tool.name))
    return info.value


# --------------------------------------------------------------------------- coercion


def test_valid_arguments_come_back_as_an_equal_copy() -> None:
    arguments = {"location": "SF", "days": 3, "tags": [1, 2.5]}
    tool_call = call(arguments)
    out = validate_tool_call([WEATHER], tool_call)
    assert out == arguments
    assert out is not arguments and out["tags"] is not arguments["tags"]


@pytest.mark.parametrize(
    ("field", "given", "expected"),
    [
        ("days", "5", 5),
        ("days", " 7 ", 7),
        ("days", "5.0", 5),
        ("days", "1e1", 10),
        ("days", True, 1),
        ("scale", "2.5", 2.5),
        ("scale", "-3", -3),
        ("scale", False, 0),
        ("scale", None, 0),
        ("metric", "true", True),
        ("metric", "false", False),
        ("metric", 1, True),
        ("metric", 0, False),
        ("metric", None, False),
        ("location", 42, "42"),
        ("location", 2.5, "2.5"),
        ("location", 3.0, "3"),
        ("location", True, "true"),
        ("location", None, ""),
    ],
)
def test_scalars_are_coerced_like_ajv(field: str, given: Any, expected: Any) -> None:
    arguments = {"location": "SF", "days": 2, field: given}
    out = validate_tool_call([WEATHER], call(arguments))
    assert out[field] == expected
    assert type(out[field]) is type(expected)


def test_nested_arrays_and_objects_are_coerced() -> None:
    tool = Tool(
        "plan",
        "",
        {
            "type": "object",
            "properties": {
                "steps": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"n": {"type": "integer"}, "done": {"type": "boolean"}}},
                },
                "weights": {"type": "object", "additionalProperties": {"type": "number"}},
                "pairs": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
            },
        },
    )
    arguments = {"steps": [{"n": "1", "done": "true"}, {"n": "2"}], "weights": {"a": "0.5"}, "pairs": [7, "8"]}
    out = validate_tool_call([tool], call(arguments, "plan"))
    assert out == {"steps": [{"n": 1, "done": True}, {"n": 2}], "weights": {"a": 0.5}, "pairs": ["7", 8]}


def test_nullable_types_leave_matching_values_and_coerce_in_order() -> None:
    tool = Tool("t", "", {"type": "object", "properties": {"v": {"type": ["integer", "null"]}}})
    assert validate_tool_call([tool], call({"v": None}, "t")) == {"v": None}
    assert validate_tool_call([tool], call({"v": "4"}, "t")) == {"v": 4}
    assert validate_tool_call([tool], call({"v": ""}, "t")) == {"v": None}


def test_null_coercion() -> None:
    tool = Tool("t", "", {"type": "object", "properties": {"v": {"type": "null"}}})
    for empty in ("", 0, False):
        assert validate_tool_call([tool], call({"v": empty}, "t")) == {"v": None}


def test_refs_and_all_of_are_followed() -> None:
    tool = Tool(
        "t",
        "",
        {
            "type": "object",
            "$defs": {"count": {"type": "integer"}},
            "properties": {"a": {"$ref": "#/$defs/count"}, "b": {"allOf": [{"type": "number"}, {"minimum": 0}]}},
        },
    )
    assert validate_tool_call([tool], call({"a": "3", "b": "1.5"}, "t")) == {"a": 3, "b": 1.5}


def test_any_of_uses_the_first_branch_the_value_satisfies() -> None:
    tool = Tool(
        "t",
        "",
        {
            "type": "object",
            "properties": {
                "x": {"anyOf": [{"type": "boolean"}, {"type": "integer"}]},
                "y": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            },
        },
    )
    out = validate_tool_call([tool], call({"x": "12", "y": "hello"}, "t"))
    assert out == {"x": 12, "y": "hello"}


def test_what_cannot_be_coerced_stays_and_fails() -> None:
    error = failure({"location": "SF", "days": "5.5", "scale": "abc", "metric": "yes", "tags": "1"})
    paths = dict(error.errors)
    assert paths["days"] == "'5.5' is not of type 'integer'"
    assert paths["scale"] == "'abc' is not of type 'number'"
    assert paths["metric"] == "'yes' is not of type 'boolean'"
    assert paths["tags"] == "'1' is not of type 'array'"


@pytest.mark.parametrize("text", ["nan", "inf", "0x10", "1_000", "", " "])
def test_non_decimal_strings_are_not_numbers(text: str) -> None:
    assert coerce_arguments({"type": "number"}, text) == text


def test_huge_digit_strings_do_not_crash() -> None:
    digits = "9" * 5000
    assert coerce_arguments({"type": "integer"}, digits) == digits


def test_the_tool_call_is_left_untouched() -> None:
    arguments = {"location": "SF", "days": "5", "tags": ["1", "2"]}
    snapshot = copy.deepcopy(arguments)
    tool_call = call(arguments)
    out = validate_tool_call([WEATHER], tool_call)
    assert tool_call.arguments == snapshot and arguments == snapshot
    assert out == {"location": "SF", "days": 5, "tags": [1, 2]}
    with pytest.raises(ToolValidationError):
        validate_tool_call([WEATHER], call(arguments | {"days": "x"}))
    assert arguments == snapshot


# --------------------------------------------------------------------------- errors


def test_error_names_the_tool_lists_paths_and_shows_the_arguments() -> None:
    error = failure({"days": "x", "metric": "maybe", "extra": 1, "when": "yesterday", "tags": [1, "two"]})
    text = str(error)
    assert text.startswith('Invalid arguments for tool "get_weather":\n')
    assert "  - location: required property is missing\n" in text
    assert "  - days: 'x' is not of type 'integer'\n" in text
    assert "  - metric: 'maybe' is not of type 'boolean'\n" in text
    assert "  - tags[1]: 'two' is not of type 'number'\n" in text
    assert "  - when: 'yesterday' is not a 'date'\n" in text
    assert "  - (root): Additional properties are not allowed ('extra' was unexpected)\n" in text
    assert text.endswith('Received arguments:\n{\n  "days": "x",\n  "metric": "maybe",\n  "extra": 1,\n  "when": "yesterday",\n  "tags": [\n    1,\n    "two"\n  ]\n}')
    assert error.tool_name == "get_weather"
    assert error.arguments == {"days": "x", "metric": "maybe", "extra": 1, "when": "yesterday", "tags": [1, "two"]}
    assert isinstance(error, AlchemyError) and isinstance(error, ValueError)


def test_error_paths_inside_nested_objects() -> None:
    tool = Tool(
        "t",
        "",
        {
            "type": "object",
            "properties": {"user": {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["name"]}},
        },
    )
    error = failure({"user": {"age": "old"}}, tool)
    assert dict(error.errors) == {"user.name": "required property is missing", "user.age": "'old' is not of type 'integer'"}


def test_unknown_tool() -> None:
    with pytest.raises(ToolValidationError) as info:
        validate_tool_call([WEATHER], call({"a": 1}, "get_wether"))
    assert str(info.value) == (
        'Unknown tool "get_wether": no tool has this name (available tools: "get_weather").\n\n'
        'Received arguments:\n{\n  "a": 1\n}'
    )
    assert info.value.tool_name == "get_wether"


def test_invalid_schema_is_a_programmer_error() -> None:
    tool = Tool("broken", "", {"type": "object", "properties": {"a": {"type": "strnig"}}})
    with pytest.raises(ValueError, match='tool "broken": invalid JSON Schema') as info:
        validate_tool_call([tool], call({}, "broken"))
    assert not isinstance(info.value, ToolValidationError)


def test_schema_with_a_draft_2020_declaration_uses_that_draft() -> None:
    tool = Tool(
        "t",
        "",
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"pair": {"type": "array", "prefixItems": [{"type": "integer"}], "items": False}},
        },
    )
    assert validate_tool_call([tool], call({"pair": ["3"]}, "t")) == {"pair": [3]}
    assert failure({"pair": [1, 2]}, tool).errors[0][0] == "pair"


# --------------------------------------------------------------------------- caching and import cost


def test_validators_are_cached_per_schema() -> None:
    key = _schema_key(WEATHER.parameters)
    assert _validator(key) is _validator(key)
    same_schema_other_dict = copy.deepcopy(WEATHER.parameters)
    assert _validator(_schema_key(same_schema_other_dict)) is _validator(key)
    info = _validator.cache_info()
    validate_tool_call([WEATHER], call({"location": "SF", "days": 1}))
    assert _validator.cache_info().hits > info.hits


def test_import_alchemy_does_not_import_jsonschema() -> None:
    code = (
        "import sys, alchemy; assert 'jsonschema' not in sys.modules;"
        "alchemy.validate_tool_call; assert 'jsonschema' not in sys.modules;"
        "from alchemy.types import Tool, ToolCall;"
        "alchemy.validate_tool_call([Tool('t', '')], ToolCall('1', 't', {}));"
        "assert 'jsonschema' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
