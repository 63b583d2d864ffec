"""JSON delta merger: differential property tests on random documents and random splits.

The twin under test (from the ``twin`` fixture) is compared, after every fragment,
with the one-shot ``parse_partial_json`` of the text fed so far, computed by both
twins; complete documents must give exactly ``json.loads``. Corrupted documents must
give the same value, error message and ``complete`` flag in both twins.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemy._speedups import MAX_JSON_DEPTH
from alchemy._speedups import _jsondelta_py as pure

NO_VALUE = object()

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values *and* in type, dict key order and float spelling."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return bool(a == b)


# Strings: any code point, lone surrogates included, with a bias toward the
# characters that need escaping and toward every str width.
_special_characters = st.sampled_from(list('"\\/\b\f\n\r\t\x00\x1f\x7f\u00e9\u2028\u2014\ud800\udc00\U0001f680'))
_json_strings = st.text(st.one_of(st.characters(codec=None, exclude_categories=()), _special_characters), max_size=30)
_json_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
)
_json_scalars = st.one_of(st.none(), st.booleans(), _json_numbers, _json_strings)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(_json_strings, children, max_size=6),
    ),
    max_leaves=25,
)


@st.composite
def json_documents(draw: st.DrawFn) -> str:
    """A value serialized in one of several spellings (escaped or raw unicode, indented, spaced)."""
    value = draw(json_values)
    ensure_ascii = draw(st.booleans())
    indent = draw(st.sampled_from([None, 0, 2]))
    separators = draw(st.sampled_from([None, (",", ":"), (" , ", " : ")]))
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators)
    if draw(st.booleans()):
        text = text.replace("/", "\\/")  # '/' only occurs inside strings, where '\/' is valid
    if draw(st.booleans()):
        text = draw(st.sampled_from(["", " ", "\n", "\t\r\n "])) + text + draw(st.sampled_from(["", " ", "\n"]))
    return text


@st.composite
def split(draw: st.DrawFn, text: str) -> list[str]:
    """``text`` cut at random points (runs of 1-character fragments included)."""
    if draw(st.booleans()):
        size = draw(st.integers(min_value=1, max_value=max(1, len(text))))
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(text)), max_size=40)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def best_effort(merger: Any) -> Any:
    return merger.value if merger.has_value else NO_VALUE


def check_every_prefix(module: ModuleType, fragments: list[str]) -> Any:
    """Feeds the fragments; after each, compares with the one-shot parse of the prefix in both twins."""
    merger = module.JsonDeltaMerger()
    fed = ""
    for fragment in fragments:
        merger.feed(fragment)
        fed += fragment
        got = best_effort(merger)
        assert same_json(got, module.parse_partial_json(fed, default=NO_VALUE)), fed
        assert same_json(got, pure.parse_partial_json(fed, default=NO_VALUE)), fed
        reference = pure.JsonDeltaMerger()
        reference.feed(fed)
        assert merger.error == reference.error, fed
        assert merger.complete is reference.complete, fed
    assert merger.text == fed
    return merger


@SETTINGS
@given(data=st.data())
def test_random_documents_split_at_random_points(jsondelta_module: ModuleType, data: st.DataObject) -> None:
    document = data.draw(json_documents())
    fragments = data.draw(split(document))
    merger = check_every_prefix(jsondelta_module, fragments)
    assert merger.complete and merger.error is None
    assert same_json(merger.value, json.loads(document))


@SETTINGS
@given(data=st.data())
def test_random_documents_without_reading_until_the_end(jsondelta_module: ModuleType, data: st.DataObject) -> None:
    document = data.draw(json_documents())
    merger = jsondelta_module.JsonDeltaMerger()
    for fragment in data.draw(split(document)):
        merger.feed(fragment)
    assert merger.complete
    assert same_json(merger.value, json.loads(document))


@SETTINGS
@given(data=st.data())
def test_corrupted_documents_agree_between_twins(jsondelta_module: ModuleType, data: st.DataObject) -> None:
    document = data.draw(json_documents())
    position = data.draw(st.integers(min_value=0, max_value=len(document)))
    junk = data.draw(st.text(st.sampled_from(list("x'\"\\,:]}[{-.eE0u \n\x01")), min_size=1, max_size=3))
    corrupted = document[:position] + junk + document[position + data.draw(st.integers(0, 2)) :]
    merger = check_every_prefix(jsondelta_module, data.draw(split(corrupted)))
    try:
        expected = json.loads(corrupted)
    except ValueError:
        assert not merger.complete
    else:
        if merger.complete:  # NaN / Infinity spellings are accepted by json.loads only
            assert same_json(merger.value, expected)


_NUMBER_TEXT = r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,4})?"


@SETTINGS
@given(data=st.data())
def test_numbers_in_every_spelling(jsondelta_module: ModuleType, data: st.DataObject) -> None:
    number = data.draw(st.from_regex(_NUMBER_TEXT, fullmatch=True))
    text = data.draw(st.sampled_from(["{}", "[{}]", '{{"n": {}}}', "{} "])).format(number)
    merger = check_every_prefix(jsondelta_module, data.draw(split(text)))
    assert merger.complete
    assert same_json(merger.value, json.loads(text))


@st.composite
def nested_near_the_limit(draw: st.DrawFn) -> tuple[str, int]:
    """Arrays and objects nested a few levels either side of MAX_JSON_DEPTH, maybe left open; and the depth."""
    depth = draw(st.integers(min_value=MAX_JSON_DEPTH - 3, max_value=MAX_JSON_DEPTH + 3))
    kinds = draw(st.lists(st.sampled_from(["[", "{"]), min_size=depth, max_size=depth))
    opening = "".join('{"k": ' if kind == "{" else "[" for kind in kinds)
    closing = "".join("}" if kind == "{" else "]" for kind in reversed(kinds))
    inner = json.dumps(draw(_json_scalars))
    text = opening + inner + closing
    return text[: draw(st.integers(min_value=len(opening), max_value=len(text)))], depth


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_nesting_near_the_depth_limit_agrees_between_twins(jsondelta_module: ModuleType, data: st.DataObject) -> None:
    text, depth = data.draw(nested_near_the_limit())
    merger = check_every_prefix(jsondelta_module, data.draw(split(text)))
    assert merger.too_deep is (depth > MAX_JSON_DEPTH)
    if merger.complete:
        assert same_json(merger.value, json.loads(text))
