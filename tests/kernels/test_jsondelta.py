"""JSON delta merger: the best-effort policy, errors, splits and real argument streams.

Every test runs on both twins (``json_delta_merger_cls`` / ``parse_partial_json_fn``
come from the ``twin`` fixture in conftest.py).
"""

from __future__ import annotations

import copy
import json
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import alchemy
import alchemy.json
from alchemy import _speedups
from alchemy.types import ToolCall
from support import FIXTURES

NO_VALUE = object()  # expected when the text gives no value at all


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values *and* in type, dict key order and float spelling (-0.0, big ints)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return bool(a == b)


def feed_all(merger_cls: Any, *fragments: str) -> Any:
    merger = merger_cls()
    for fragment in fragments:
        merger.feed(fragment)
    return merger


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def best_effort(merger: Any) -> Any:
    return merger.value if merger.has_value else NO_VALUE


# Documents that exercise every part of the grammar: escapes of every kind, surrogate
# pairs and lone surrogates, characters of every str width (latin-1, BMP, astral),
# numbers in every spelling, literals, nesting, empty containers, whitespace.
DOCUMENTS = [
    '{"path": "src/main.py", "content": "def f():\\n\\treturn \\"x\\" \\\\ 1\\n", "overwrite": true}',
    '{"k\\u00e9y": "caf\\u00E9 \\ud83d\\ude80 \\u2014 \\/ \\b\\f\\n\\r\\t", "": "", "a\\"b": null}',
    '["\\ud800", "\\udc00", "\\ud800\\ud800\\udc00", "\\ud83d\\u0041", "\\ud83d\\n", "\\udbff\\udfff"]',
    '{"latin": "naïve café", "bmp": "日本語 — →", "astral": "🚀✨👍🏽", "mixed": "a\\u00e9日🚀z"}',
    "[0, -0, 1, -1, 12345678901234567890123456789, -98765432109876543210, 1.5, -0.0, 0.1,"
    " 1e5, 1E+5, 2.5e-3, 1.7976931348623157e308, 5e-324, 1e400, -1e400, 0e0, 10.0E-1]",
    '[true, false, null, [], {}, [[]], {"a": {}}, [{"b": [1, {"c": "d"}]}]]',
    ' \n\t{ "a" : [ 1 , 2 ] , "b" : { "c" : "d" } }\r\n ',
    '"just a string with \\"quotes\\" and \\\\ backslashes"',
    "-12.5e+3",
    "true",
    "null",
    '{"dup": 1, "dup": [2], "dup": "three"}',
]


# --- the contract -------------------------------------------------------------------------


def test_a_new_merger_has_no_value(json_delta_merger_cls: Any) -> None:
    merger = json_delta_merger_cls()
    assert merger.text == ""
    assert merger.has_value is False
    assert merger.value is None
    assert merger.complete is False
    assert merger.error is None


def test_public_names_are_the_dispatcher_twins() -> None:
    assert alchemy.json.JsonDeltaMerger is _speedups.JsonDeltaMerger
    assert alchemy.json.parse_partial_json is _speedups.parse_partial_json
    assert alchemy.JsonDeltaMerger is _speedups.JsonDeltaMerger
    assert alchemy.parse_partial_json is _speedups.parse_partial_json
    twin_module = {"cython": "alchemy._speedups._jsondelta_c", "python": "alchemy._speedups._jsondelta_py"}
    assert _speedups.JsonDeltaMerger.__module__ == twin_module[_speedups.IMPLEMENTATION]


def test_text_is_everything_fed(json_delta_merger_cls: Any) -> None:
    merger = json_delta_merger_cls()
    fed = ""
    for fragment in ['{"a', '": "', "é🚀", '"}', "  "]:
        merger.feed(fragment)
        fed += fragment
        assert merger.text == fed
    assert merger.text is merger.text  # joined once, then cached


def test_feed_rejects_non_str(json_delta_merger_cls: Any) -> None:
    merger = json_delta_merger_cls()
    with pytest.raises(TypeError, match=r"^JsonDeltaMerger.feed\(\) expects str, got bytes$"):
        merger.feed(b'{"a": 1}')
    with pytest.raises(TypeError, match=r"^JsonDeltaMerger.feed\(\) expects str, got NoneType$"):
        merger.feed(None)
    assert merger.text == "" and merger.error is None


def test_empty_fragments_change_nothing(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, '{"a": "x')
    value = merger.value
    merger.feed("")
    assert merger.value is value
    assert merger.text == '{"a": "x'


def test_repr(json_delta_merger_cls: Any) -> None:
    assert repr(feed_all(json_delta_merger_cls, '{"a"')) == "<JsonDeltaMerger partial, 4 characters>"
    assert repr(feed_all(json_delta_merger_cls, "[1] ")) == "<JsonDeltaMerger complete, 4 characters>"
    assert repr(feed_all(json_delta_merger_cls, "[1]x")) == "<JsonDeltaMerger error, 4 characters>"


@pytest.mark.parametrize("text", ['{"a": [1, "tw', '{"a": 1}', "[1,]", ""])
def test_pickle_and_copy_carry_the_state(json_delta_merger_cls: Any, text: str) -> None:
    merger = feed_all(json_delta_merger_cls, *text)
    for clone in (pickle.loads(pickle.dumps(merger)), copy.copy(merger), copy.deepcopy(merger)):
        assert type(clone) is json_delta_merger_cls
        assert (clone.text, clone.has_value, clone.complete, clone.error) == (merger.text, merger.has_value, merger.complete, merger.error)
        assert same_json(clone.value, merger.value)
        clone.feed("]")
        assert merger.text == text


# --- the best-effort policy ---------------------------------------------------------------

POLICY = [
    # empty or whitespace-only text gives no value
    ("", NO_VALUE),
    (" \t\r\n ", NO_VALUE),
    # open containers are closed; a just-opened container is {} / []
    ("{", {}),
    ("[", []),
    ("[[[", [[[]]]),
    ('{"a": [', {"a": []}),
    ('{"a": {"b": [1, {"c": "d', {"a": {"b": [1, {"c": "d"}]}}),
    ("[1, 2", [1, 2]),
    ("[1, 2,", [1, 2]),
    ("[1, 2, ", [1, 2]),
    ('[{"a": 1}, {', [{"a": 1}, {}]),
    # a member is kept once its key is complete, the colon arrived and its value started
    ('{"pa', {}),
    ('{"path"', {}),
    ('{"path" ', {}),
    ('{"path":', {}),
    ('{"path": ', {}),
    ('{"path": "', {"path": ""}),
    ('{"path": "src/ma', {"path": "src/ma"}),
    ('{"a": 1, "b', {"a": 1}),
    ('{"a": 1, "b":', {"a": 1}),
    ('{"a": 1, "b": [', {"a": 1, "b": []}),
    ('{"a": 1, "b": {', {"a": 1, "b": {}}),
    ('{"a": 1,', {"a": 1}),
    # an unfinished string is cut before a partial escape
    ('"ab', "ab"),
    ('"ab\\', "ab"),
    ('"ab\\n', "ab\n"),
    ('"ab\\u', "ab"),
    ('"ab\\u1', "ab"),
    ('"ab\\u12', "ab"),
    ('"ab\\u123', "ab"),
    ('"ab\\u1234', "ab\u1234"),
    # ... and before a high surrogate whose low half has not fully arrived
    ('"x\\ud83d', "x"),
    ('"x\\ud83d\\', "x"),
    ('"x\\ud83d\\u', "x"),
    ('"x\\ud83d\\ude', "x"),
    ('"x\\ud83d\\ude8', "x"),
    ('"x\\ud83d\\ude80', "x🚀"),
    # a high surrogate followed by anything but a low half stays alone, as in json.loads
    ('"x\\ud83d"', "x\ud83d"),
    ('"x\\ud83dy', "x\ud83dy"),
    ('"x\\ud83d\\n', "x\ud83d\n"),
    ('"x\\ud83d\\u0041', "x\ud83dA"),
    ('"x\\ud83d\\ud83d', "x\ud83d"),
    ('"x\\ud83d\\ud83d\\ude80', "x\ud83d🚀"),
    ('"x\\udc00', "x\udc00"),
    # an unfinished number becomes its longest valid prefix
    ("-", NO_VALUE),
    ("[-", []),
    ('{"a": -', {}),
    ("-1", -1),
    ("0", 0),
    ("-0", 0),
    ("1.", 1),
    ("-0.", 0),
    ("1.5", 1.5),
    ("1e", 1),
    ("1E+", 1),
    ("1.5e", 1.5),
    ("2.5e-", 2.5),
    ("2.5e-3", 0.0025),
    ("[1.5E", [1.5]),
    ('{"n": 12', {"n": 12}),
    ("123456789012345678901234567890", 123456789012345678901234567890),
    # an unfinished literal is completed
    ("t", True),
    ("tru", True),
    ("f", False),
    ("fals", False),
    ("n", None),
    ("nul", None),
    ("[t", [True]),
    ('{"a": n', {"a": None}),
]


@pytest.mark.parametrize(("text", "expected"), POLICY, ids=[repr(text) for text, _ in POLICY])
def test_best_effort_policy(json_delta_merger_cls: Any, parse_partial_json_fn: Any, text: str, expected: Any) -> None:
    merger = feed_all(json_delta_merger_cls, text)
    assert merger.error is None
    assert merger.has_value is (expected is not NO_VALUE)
    if expected is NO_VALUE:
        assert merger.value is None
        assert parse_partial_json_fn(text, default=NO_VALUE) is NO_VALUE
    else:
        assert same_json(merger.value, expected), merger.value
        assert same_json(parse_partial_json_fn(text), expected)


@pytest.mark.parametrize(("text", "expected"), POLICY, ids=[repr(text) for text, _ in POLICY])
def test_best_effort_policy_one_character_at_a_time(json_delta_merger_cls: Any, text: str, expected: Any) -> None:
    merger = feed_all(json_delta_merger_cls, *text)
    assert same_json(best_effort(merger), expected)


def test_null_is_a_value(json_delta_merger_cls: Any, parse_partial_json_fn: Any) -> None:
    merger = feed_all(json_delta_merger_cls, "null")
    assert merger.has_value and merger.value is None and merger.complete
    assert parse_partial_json_fn("null", default="fallback") is None
    assert parse_partial_json_fn("", default="fallback") == "fallback"
    assert parse_partial_json_fn("-", default="fallback") == "fallback"
    assert parse_partial_json_fn("   ") is None


COMPLETE = [
    ('{"a": 1}', True),
    ('{"a": 1} \n', True),
    ('{"a": 1', False),
    ("[]", True),
    ("123", True),
    ("-0", True),
    ("12.", False),
    ("12.5", True),
    ("1e5", True),
    ("1e", False),
    ("1e-", False),
    ("-", False),
    ("true", True),
    ("tru", False),
    ('"abc"', True),
    ('"abc', False),
    ('"\\ud83d"', True),
    ("", False),
    ("  ", False),
    ('{"a": 1}x', False),
]


@pytest.mark.parametrize(("text", "complete"), COMPLETE, ids=[repr(text) for text, _ in COMPLETE])
def test_complete(json_delta_merger_cls: Any, text: str, complete: bool) -> None:
    assert feed_all(json_delta_merger_cls, text).complete is complete
    assert feed_all(json_delta_merger_cls, *text).complete is complete


def test_a_top_level_number_can_grow_after_being_complete(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, "12")
    assert merger.complete and merger.value == 12
    merger.feed("3.5")
    assert merger.complete and merger.value == 123.5
    merger.feed(" ")
    assert merger.complete and merger.value == 123.5


# --- errors -------------------------------------------------------------------------------

ERRORS = [
    ('"a\\q"', "a", "invalid escape character 'q' at offset 3: expected one of \" \\ / b f n r t u"),
    ('{"a": "x\\x', {"a": "x"}, "invalid escape character 'x' at offset 9: expected one of \" \\ / b f n r t u"),
    ('"\\u12G4"', "", "invalid \\u escape at offset 5: 'G' is not a hex digit"),
    ('"\\ud83d\\uZ"', "", "invalid \\u escape at offset 9: 'Z' is not a hex digit"),
    ('"a\nb"', "a", "unescaped control character '\\n' in a string at offset 2"),
    ('"a\x00"', "a", "unescaped control character '\\x00' in a string at offset 2"),
    ("tx", True, "unexpected character 'x' at offset 1: expected the literal 'true'"),
    ("[nulL]", [None], "unexpected character 'L' at offset 4: expected the literal 'null'"),
    ("[1,]", [1], "unexpected character ']' at offset 3: expected a value"),
    ('{"a": 1,}', {"a": 1}, "unexpected character '}' at offset 8: expected a string key"),
    ("{'a': 1}", {}, "unexpected character \"'\" at offset 1: expected a string key or '}'"),
    ("['a']", [], "unexpected character \"'\" at offset 1: expected a value or ']'"),
    ("{} x", {}, "unexpected character 'x' at offset 3: expected only whitespace after the complete value"),
    ('"done" "again"', "done", "unexpected character '\"' at offset 7: expected only whitespace after the complete value"),
    ("[1 2]", [1], "unexpected character '2' at offset 3: expected ',' or ']'"),
    ('{"a": 1 "b": 2}', {"a": 1}, "unexpected character '\"' at offset 8: expected ',' or '}'"),
    ("[1}", [1], "unexpected character '}' at offset 2: expected ',' or ']'"),
    ('{"a" 1}', {}, "unexpected character '1' at offset 5: expected ':'"),
    ('{"a": }', {}, "unexpected character '}' at offset 6: expected a value"),
    ("[01]", [0], "unexpected character '1' at offset 2: expected ',' or ']'"),
    ("-x", NO_VALUE, "unexpected character 'x' at offset 1: expected a digit"),
    ("[1.x", [1], "unexpected character 'x' at offset 3: expected a digit"),
    ("[1.5ex", [1.5], "unexpected character 'x' at offset 5: expected a digit, '+' or '-'"),
    ("[1e+x", [1], "unexpected character 'x' at offset 4: expected a digit"),
    ("NaN", NO_VALUE, "unexpected character 'N' at offset 0: expected a value"),
    ("[-Infinity]", [], "unexpected character 'I' at offset 2: expected a digit"),
    ("]", NO_VALUE, "unexpected character ']' at offset 0: expected a value"),
    ("\ufeff{}", NO_VALUE, "unexpected character '\\ufeff' at offset 0: expected a value"),
    ("[1]]", [1], "unexpected character ']' at offset 3: expected only whitespace after the complete value"),
    ("\u00a0[]", NO_VALUE, "unexpected character '\\xa0' at offset 0: expected a value"),
]


@pytest.mark.parametrize(("text", "value", "message"), ERRORS, ids=[repr(text) for text, _, _ in ERRORS])
def test_errors(json_delta_merger_cls: Any, parse_partial_json_fn: Any, text: str, value: Any, message: str) -> None:
    for fragments in ([text], list(text), chunks(text, 3)):
        merger = feed_all(json_delta_merger_cls, *fragments)
        assert merger.error == message
        assert merger.complete is False
        assert same_json(best_effort(merger), value), merger.value
        assert merger.text == text
    assert same_json(parse_partial_json_fn(text, default=NO_VALUE), value)


def test_the_same_texts_are_errors_for_json_loads() -> None:
    # NaN and Infinity are not JSON (RFC 8259; orjson rejects them too), though the
    # standard json module accepts them by default: the merger reports an error.
    python_extensions = {"NaN", "[-Infinity]"}
    for text, _, _ in ERRORS:
        if text in python_extensions:
            json.loads(text)
            continue
        with pytest.raises(ValueError):
            json.loads(text)


def test_feeds_after_an_error_are_recorded_but_not_parsed(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, '{"a": [1, 2', ",]")
    message = merger.error
    assert message == "unexpected character ']' at offset 12: expected a value"
    value = merger.value
    assert value == {"a": [1, 2]}
    merger.feed(', "b": 3}')
    merger.feed("")
    assert merger.error == message
    assert merger.value is value and value == {"a": [1, 2]}
    assert merger.complete is False
    assert merger.text == '{"a": [1, 2,], "b": 3}'


def test_the_value_before_an_error_is_the_longest_valid_prefix(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, '{"a": "x')
    assert merger.value == {"a": "x"}
    merger.feed('y", "b": [tru!')
    assert merger.error == "unexpected character '!' at offset 21: expected the literal 'true'"
    assert merger.value == {"a": "xy", "b": [True]}


def test_an_integer_over_the_interpreter_limit_is_an_error(json_delta_merger_cls: Any) -> None:
    get_limit = getattr(sys, "get_int_max_str_digits", None)
    if get_limit is None or get_limit() == 0:
        pytest.skip("this interpreter has no int conversion limit")
    limit = get_limit()
    at_limit = "-" + "7" * limit
    assert feed_all(json_delta_merger_cls, f"[{at_limit}]").value == [json.loads(at_limit)]
    over = "9" * (limit + 5) + ".5"
    for fragments in ([f"[{over}]"], chunks(f"[{over}]", 97)):
        merger = feed_all(json_delta_merger_cls, *fragments)
        assert merger.error == (
            f"integer at offset 1 has more than {limit} digits, "
            "Python's limit for int conversion (sys.set_int_max_str_digits)"
        )
        assert merger.value == [int("9" * limit)]


# --- exactness for complete documents ------------------------------------------------------


@pytest.mark.parametrize("document", DOCUMENTS)
def test_complete_documents_equal_json_loads(json_delta_merger_cls: Any, parse_partial_json_fn: Any, document: str) -> None:
    expected = json.loads(document)
    merger = feed_all(json_delta_merger_cls, document)
    assert merger.complete and merger.error is None
    assert same_json(merger.value, expected)
    assert same_json(parse_partial_json_fn(document), expected)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_fragments_of_every_size(json_delta_merger_cls: Any, parse_partial_json_fn: Any, document: str) -> None:
    """Every fragment size from 1 character; the value after each fragment is that of the prefix."""
    expected = json.loads(document)
    for size in range(1, len(document) + 1):
        merger = json_delta_merger_cls()
        fed = 0
        for fragment in chunks(document, size):
            merger.feed(fragment)
            fed += len(fragment)
            assert same_json(best_effort(merger), parse_partial_json_fn(document[:fed], default=NO_VALUE)), (size, fed)
        assert merger.complete, size
        assert same_json(merger.value, expected), size


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_split_in_three(json_delta_merger_cls: Any, document: str) -> None:
    """Splits at every pair of positions: inside escapes, surrogate pairs, numbers, literals, keys."""
    expected = json.loads(document)
    n = len(document)
    step = 1 if n <= 80 else 3
    for i in range(0, n + 1, step):
        for j in range(i, n + 1, step):
            merger = feed_all(json_delta_merger_cls, document[:i], document[i:j], document[j:])
            assert merger.complete and same_json(merger.value, expected), (i, j)


@pytest.mark.parametrize(
    "document",
    ['"\\u00e9\\u00E9"', '"\\ud83d\\ude80\\ud83d\\ude80"', '{"k\\"ey\\\\": 1}', "[-12.5e+10, 0.25E-2]", "[true,false,null]"],
)
def test_reading_the_value_after_every_character(json_delta_merger_cls: Any, parse_partial_json_fn: Any, document: str) -> None:
    merger = json_delta_merger_cls()
    for end, char in enumerate(document, 1):
        merger.feed(char)
        assert same_json(best_effort(merger), parse_partial_json_fn(document[:end], default=NO_VALUE)), document[:end]
    assert same_json(merger.value, json.loads(document))


def test_lone_surrogates_match_json_loads(json_delta_merger_cls: Any) -> None:
    for document in ['"\\ud800"', '"\\udfff"', '"\\ud800\\ud800"', '"\\udc00\\ud800"', '"a\\ud800b\\udc00c"', '["\\ud800", 1]']:
        assert same_json(feed_all(json_delta_merger_cls, *document).value, json.loads(document))
    # Raw (unescaped) surrogate code points in the text are kept as they are, like json.loads.
    raw = '"\ud800x\udc00"'
    assert same_json(feed_all(json_delta_merger_cls, raw).value, json.loads(raw))


def test_strings_widen_across_fragments_of_every_width(json_delta_merger_cls: Any) -> None:
    pieces = ["ascii ", "é", " more ", "—", "日本", "🚀", " tail", "\\u00ff", "\\ud83d\\ude00"]
    document = '{"s": "' + "".join(pieces) + '", "t": "' + "".join(reversed(pieces)) + '"}'
    merger = feed_all(json_delta_merger_cls, document[:7], *pieces, document[7 + len("".join(pieces)) :])
    assert same_json(merger.value, json.loads(document))
    for size in (1, 2, 5):
        assert same_json(feed_all(json_delta_merger_cls, *chunks(document, size)).value, json.loads(document))


def test_long_strings_of_changing_width(json_delta_merger_cls: Any, parse_partial_json_fn: Any) -> None:
    """Strings far longer than a fragment (and than the compiled twin's 16 Ki-character segments)."""
    parts = ["a" * 20_000, "é\\n" * 7_000, "\\ud83d\\ude80🚀" * 3_000, "b" * 17_000, "日" * 16_384, "z"]
    document = '{"s": "' + "".join(parts) + '", "t": ["' + "x" * 40_000 + '"]}'
    sizes = [1, 7, 4_000, 16_384, 50_000, 3]
    for offset in range(3):
        merger = json_delta_merger_cls()
        position = 0
        step = 0
        while position < len(document):
            size = sizes[(step + offset) % len(sizes)]
            merger.feed(document[position : position + size])
            position += size
            step += 1
            if step % 3 == offset:
                assert same_json(best_effort(merger), parse_partial_json_fn(document[:position], default=NO_VALUE))
        assert same_json(merger.value, json.loads(document))


def test_numbers_exact(json_delta_merger_cls: Any) -> None:
    numbers = [
        "0", "-0", "0.0", "-0.0", "1", "-1", "10", "123456789012345678901234567890123456789",
        "0.1", "0.30000000000000004", "1e-7", "1E+2", "1e22", "1e23", "2.2250738585072014e-308",
        "4.9e-324", "2e-324", "1.7976931348623157e308", "1.8e308", "-1e999", "123.456e-789",
        "0e0", "0E-0", "9007199254740993", "9007199254740993.0",
    ]
    for number in numbers:
        for fragments in ([number], list(number), [f"[{number}", "]"]):
            merger = feed_all(json_delta_merger_cls, *fragments)
            expected = json.loads("".join(fragments))
            assert same_json(merger.value, expected), number


def nesting_depth(value: Any) -> int:
    """How many arrays/objects nest along the first-element path of ``value``."""
    depth = 0
    while isinstance(value, (list, dict)) and value:
        depth += 1
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return depth + (1 if isinstance(value, (list, dict)) else 0)


def test_the_depth_limit_is_declared_once() -> None:
    assert alchemy.json.MAX_JSON_DEPTH == _speedups.MAX_JSON_DEPTH == 128


@pytest.mark.parametrize("opener", ["[", '{"k":'])
def test_nesting_up_to_the_limit_is_accepted(json_delta_merger_cls: Any, opener: str) -> None:
    limit = alchemy.json.MAX_JSON_DEPTH
    closer = "]" if opener == "[" else "}"
    text = opener * limit + "1" + closer * limit
    merger = feed_all(json_delta_merger_cls, *chunks(text, 7))
    assert merger.complete and merger.error is None and not merger.too_deep
    assert same_json(merger.value, json.loads(text))


@pytest.mark.parametrize("opener", ["[", '{"k":', '{"k":['])
def test_nesting_past_the_limit_is_an_error_and_the_value_stops_at_the_limit(
    json_delta_merger_cls: Any, parse_partial_json_fn: Any, opener: str
) -> None:
    limit = alchemy.json.MAX_JSON_DEPTH
    depth = 100_000
    text = opener * depth
    merger = feed_all(json_delta_merger_cls, *chunks(text, 1000))
    assert merger.too_deep and not merger.complete
    assert merger.error.startswith(f"arrays and objects nest deeper than {limit} levels at offset ")
    assert merger.error.endswith("(the limit is alchemy.json.MAX_JSON_DEPTH)")
    value = merger.value
    assert nesting_depth(value) == limit
    # Everything done with a conversation later works on the value.
    assert repr(value) and json.dumps(value) and copy.deepcopy(value) == value
    assert parse_partial_json_fn(text) == value
    # Later text is recorded, not parsed: a flat document costs the same.
    merger.feed("]" * depth)
    assert merger.too_deep and len(merger.text) == len(text) + depth


def test_the_depth_error_names_the_offset_of_the_container_past_the_limit(json_delta_merger_cls: Any) -> None:
    limit = alchemy.json.MAX_JSON_DEPTH
    text = '{"a": ' + "[" * (limit + 5)
    merger = feed_all(json_delta_merger_cls, text)
    offset = len('{"a": ') + limit - 1  # the object is level 1, so the (limit)th '[' is one too many
    assert merger.error == (
        f"arrays and objects nest deeper than {limit} levels at offset {offset} "
        "(the limit is alchemy.json.MAX_JSON_DEPTH)"
    )


def test_other_errors_are_not_too_deep(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, "[1,", "x")
    assert merger.error is not None and not merger.too_deep
    assert not json_delta_merger_cls().too_deep


def test_a_too_deep_merger_pickles_to_the_same_state(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, "[" * 300)
    clone = pickle.loads(pickle.dumps(merger))
    assert clone.too_deep and clone.error == merger.error and clone.value == merger.value


# --- values are live and cheap ---------------------------------------------------------------


def test_containers_are_updated_in_place(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, '{"a": [1, "tw')
    value = merger.value
    inner = value["a"]
    assert value == {"a": [1, "tw"]}
    merger.feed('o"], "b": {"c": tr')
    assert merger.value is value and value["a"] is inner
    assert value == {"a": [1, "two"], "b": {"c": True}}
    merger.feed("ue}}")
    assert merger.value is value and merger.complete
    assert value == {"a": [1, "two"], "b": {"c": True}}


def test_the_value_is_cached_until_the_next_feed(json_delta_merger_cls: Any) -> None:
    merger = feed_all(json_delta_merger_cls, '["abc')
    first = merger.value
    assert merger.value is first and merger.value[0] is first[0]
    merger.feed("def")
    assert merger.value[0] == "abcdef"
    merger.feed("\\")  # an escape just started: nothing new to show, same string
    assert merger.value == ["abcdef"]


def test_reading_partial_values_leaves_the_final_value_exact(json_delta_merger_cls: Any) -> None:
    document = '{"a": [1.5e3, "xy\\u00e9", -7, true], "b": {"c": null, "d": "e"}, "f": 12}'
    for size in (1, 2, 3, 7):
        merger = json_delta_merger_cls()
        for fragment in chunks(document, size):
            merger.feed(fragment)
            merger.value  # noqa: B018 - reading puts provisional entries in place
        assert same_json(merger.value, json.loads(document)), size


def test_duplicate_keys_keep_the_last_value_in_first_position(json_delta_merger_cls: Any) -> None:
    document = '{"a": 1, "b": 2, "a": "x"}'
    merger = json_delta_merger_cls()
    for char in document:
        merger.feed(char)
        merger.value  # noqa: B018
    assert same_json(merger.value, json.loads(document))
    assert list(merger.value) == ["a", "b"]


def test_tool_call_arguments_follow_the_merger(json_delta_merger_cls: Any) -> None:
    call = ToolCall("call_1", "write_file")
    merger = json_delta_merger_cls()
    call.stream_arguments_from(merger)
    assert call.arguments == {}
    merger.feed('{"path": "src/ma')
    assert call.arguments == {"path": "src/ma"}
    merger.feed('in.py", "content": "x"}')
    call.stream_arguments_from(None)
    assert call.arguments == {"path": "src/main.py", "content": "x"}


# --- real argument streams ------------------------------------------------------------------


def _argument_streams(path: Path) -> Iterator[tuple[str, list[str]]]:
    """The tool-call argument fragments of one recorded stream, one list per call.

    OpenAI chat ``choices[].delta.tool_calls[].function.arguments`` (also Mistral and
    the OpenAI-compatible providers), Anthropic ``input_json_delta.partial_json``,
    Bedrock ``contentBlockDelta.delta.toolUse.input`` and Responses
    ``response.function_call_arguments.delta``.
    """
    calls: dict[tuple[Any, ...], list[str]] = {}
    generation: dict[tuple[Any, ...], int] = {}  # block indexes are reused by later messages

    def start(key: tuple[Any, ...]) -> None:
        generation[key] = generation.get(key, 0) + 1

    def add(key: tuple[Any, ...], fragment: str) -> None:
        calls.setdefault((*key, generation.get(key, 0)), []).append(fragment)

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if not isinstance(event, dict):
            continue
        for choice in event.get("choices") or []:
            for call in (choice.get("delta") or {}).get("tool_calls") or []:
                if call.get("id"):
                    start(("chat", choice.get("index"), call.get("index")))
                arguments = (call.get("function") or {}).get("arguments")
                if isinstance(arguments, str):
                    add(("chat", choice.get("index"), call.get("index")), arguments)
        kind = event.get("type")
        if kind == "content_block_start":
            start(("anthropic", event.get("index")))
        elif kind == "content_block_delta" and (event.get("delta") or {}).get("type") == "input_json_delta":
            add(("anthropic", event.get("index")), event["delta"]["partial_json"])
        elif kind == "response.function_call_arguments.delta":
            add(("responses", event.get("item_id"), event.get("output_index")), event["delta"])
        if isinstance(event.get("contentBlockStart"), dict):
            start(("bedrock", event["contentBlockStart"].get("contentBlockIndex")))
        block_delta = event.get("contentBlockDelta")
        if isinstance(block_delta, dict):
            tool_use = (block_delta.get("delta") or {}).get("toolUse")
            if isinstance(tool_use, dict) and isinstance(tool_use.get("input"), str):
                add(("bedrock", block_delta.get("contentBlockIndex")), tool_use["input"])
    for key, fragments in calls.items():
        yield ":".join(str(part) for part in key), fragments


def _recorded_calls() -> list[Any]:
    if not FIXTURES.is_dir():
        return [pytest.param(None, [], id="shared-fixtures-absent")]
    params = []
    for path in sorted(FIXTURES.rglob("*.chunks.txt")):
        for key, fragments in _argument_streams(path):
            params.append(pytest.param(path.relative_to(FIXTURES).as_posix(), fragments, id=f"{path.name}:{key}"))
    return params


RECORDED_CALLS = _recorded_calls()


def test_recorded_streams_have_tool_calls_of_every_wire_api() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    ids = " ".join(str(param.id) for param in RECORDED_CALLS)
    for api in ("chat", "anthropic", "bedrock", "responses"):
        assert f":{api}:" in ids, api
    assert sum(len(param.values[1]) for param in RECORDED_CALLS) > 1000


@pytest.mark.parametrize(("source", "fragments"), RECORDED_CALLS)
def test_recorded_argument_streams(json_delta_merger_cls: Any, parse_partial_json_fn: Any, source: str | None, fragments: list[str]) -> None:
    if source is None:
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    merger = json_delta_merger_cls()
    for fragment in fragments:
        merger.feed(fragment)
        merger.value  # noqa: B018 - read as a UI would, after every fragment
    text = "".join(fragments)
    assert merger.text == text
    try:
        expected = json.loads(text)
    except ValueError:
        # A few SDK fixtures are cut short on purpose (a message spliced mid-call, an
        # empty server-tool input): the merger agrees with the one-shot parse.
        assert not merger.complete
        assert same_json(best_effort(merger), parse_partial_json_fn(text, default=NO_VALUE))
        return
    assert merger.complete and merger.error is None
    assert same_json(merger.value, expected)
