"""SSE decoder, property tests: random streams cut at random points.

* each twin gives what a straightforward reading of the WHATWG rules gives for the
  whole stream (:func:`reference_decode`), however the stream is chunked;
* the two twins agree with each other, on events, state, the raw fast path and the
  ``max_event_bytes`` error, for any chunking.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alchemy._speedups import PURE_PYTHON_REQUESTED
from alchemy.errors import SSEError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Event = tuple[str, str, "str | None", "int | None"]


def reference_decode(stream: bytes) -> tuple[list[Event], str | None, int | None]:
    """The spec, read literally: decode everything, strip one BOM, split lines, interpret."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)[:-1]  # the last piece is not a complete line
    events: list[Event] = []
    data: list[str] = []
    event_type = ""
    id_buffer = ""
    last_event_id = ""  # the id buffer as of the last dispatch (every blank line)
    retry: int | None = None
    block_retry: int | None = None
    for line in lines:
        if not line:
            last_event_id = id_buffer
            if data:
                events.append((event_type or "message", "\n".join(data), last_event_id or None, block_retry))
            data, event_type, block_retry = [], "", None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event_type = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            if "\0" not in value:
                id_buffer = value
        elif name == "retry" and value and all("0" <= c <= "9" for c in value):
            retry = block_retry = int(value)
    return events, last_event_id or None, retry


# --- strategies ------------------------------------------------------------------------------

_names = st.sampled_from(
    [b"data"] * 8 + [b"event", b"event", b"id", b"retry", b"", b"foo", b"Data", b" data", b"\xef\xbb\xbfdata"]
)
_separators = st.sampled_from([b": ", b": ", b":", b":  ", b""])
_text_values = st.text(
    alphabet=st.sampled_from(list("ab :{}\"1é€🚀\u2028\u2029\x85\x00\t")), max_size=16
).map(lambda text: text.encode())
_special_values = st.sampled_from([b"1", b"42", b"0042", b"+5", b" 7", b"\xd9\xa3", b"\xff", b"\xe2\x82", b"\xef\xbb\xbf"])
_values = st.one_of(_text_values, _text_values, _special_values, st.binary(max_size=8))


@st.composite
def _field_lines(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return b":" + draw(_values)  # comment
    name, separator, value = draw(_names), draw(_separators), draw(_values)
    return name + separator + value if separator else name


@st.composite
def _blocks(draw: st.DrawFn) -> list[bytes]:
    """The lines of one event block, usually ended by a blank line."""
    lines = draw(st.lists(_field_lines(), max_size=5))
    if draw(st.integers(0, 7)):
        lines.append(b"")
    return lines


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    eol_choice = draw(st.sampled_from([b"\n", b"\r", b"\r\n", None]))  # None: mixed
    parts = [draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xef\xbb"]))]
    for block in draw(st.lists(_blocks(), min_size=1, max_size=10)):
        for line in block:
            eol = eol_choice if eol_choice is not None else draw(st.sampled_from([b"\n", b"\r", b"\r\n"]))
            parts.append(line + eol)
    parts.append(draw(st.sampled_from([b"", b"", b"data: unterminated", b"\r"])))
    return b"".join(parts)


_streams = st.one_of(sse_streams(), sse_streams(), sse_streams(), st.binary(max_size=200))


def _chunks(data: st.DataObject, stream: bytes) -> list[bytes]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts"))
    bounds = [0, *cuts, len(stream)]
    return [stream[start:end] for start, end in zip(bounds, bounds[1:])]


def run(decoder_cls: Any, chunks: list[bytes], raw: bool = False, **options: Any) -> tuple[Any, ...]:
    """Feeds the chunks and flushes; returns events (as tuples), the error message if any, and the state."""
    decoder = decoder_cls(**options)
    feed = decoder.feed_raw if raw else decoder.feed
    events: list[Any] = []
    error = None
    try:
        for chunk in chunks:
            events += feed(chunk)
        events += decoder.flush()
    except SSEError as exc:
        error = str(exc)
    if not raw:
        events = [(e.event, e.data, e.id, e.retry) for e in events]
    return events, error, decoder.last_event_id, decoder.retry


def _both_twins() -> tuple[ModuleType, ModuleType]:
    if PURE_PYTHON_REQUESTED:
        pytest.skip("ALCHEMY_PURE_PYTHON is set: the compiled twin is not under test")
    return (importlib.import_module("alchemy._speedups._sse_c"), importlib.import_module("alchemy._speedups._sse_py"))


# --- properties ---------------------------------------------------------------------------------


@SETTINGS
@given(stream=_streams, data=st.data())
def test_any_chunking_gives_the_spec_reference(sse_decoder_cls: Any, stream: bytes, data: st.DataObject) -> None:
    expected_events, expected_id, expected_retry = reference_decode(stream)
    whole = run(sse_decoder_cls, [stream])
    chunked = run(sse_decoder_cls, _chunks(data, stream))
    assert whole == (expected_events, None, expected_id, expected_retry)
    assert chunked == whole


@SETTINGS
@given(stream=_streams, data=st.data())
def test_raw_path_matches_events(sse_decoder_cls: Any, stream: bytes, data: st.DataObject) -> None:
    events, _, _, _ = run(sse_decoder_cls, [stream])
    raw, _, _, _ = run(sse_decoder_cls, _chunks(data, stream), raw=True)
    assert [(name, value.decode("utf-8", "replace")) for name, value in raw] == [(e[0], e[1]) for e in events]


def _limit(data: st.DataObject, stream: bytes) -> int:
    """A limit that the stream may or may not cross (drawn near its lines' sizes)."""
    return data.draw(st.integers(1, max(1, min(len(stream) + 2, 80))), label="max_event_bytes")


@SETTINGS
@given(stream=_streams, data=st.data())
def test_limit_error_does_not_depend_on_chunking(sse_decoder_cls: Any, stream: bytes, data: st.DataObject) -> None:
    limit = _limit(data, stream)
    whole = run(sse_decoder_cls, [stream], max_event_bytes=limit)
    chunked = run(sse_decoder_cls, _chunks(data, stream), max_event_bytes=limit)
    assert chunked[:2] == whole[:2]
    if whole[1] is None:
        assert whole[0] == reference_decode(stream)[0]


@pytest.mark.compiled
@SETTINGS
@given(stream=_streams, data=st.data(), unbounded=st.booleans(), raw=st.booleans())
def test_twins_agree(stream: bytes, data: st.DataObject, unbounded: bool, raw: bool) -> None:
    compiled, pure = _both_twins()
    limit = None if unbounded else _limit(data, stream)
    chunks = _chunks(data, stream)
    other_chunks = _chunks(data, stream)
    expected = run(pure.SSEDecoder, chunks, raw=raw, max_event_bytes=limit)
    assert run(compiled.SSEDecoder, chunks, raw=raw, max_event_bytes=limit) == expected
    assert run(compiled.SSEDecoder, other_chunks, raw=raw, max_event_bytes=limit)[:2] == expected[:2]


@pytest.mark.compiled
@SETTINGS
@given(stream=sse_streams())
def test_twins_events_compare_equal_across_classes(stream: bytes) -> None:
    compiled, pure = _both_twins()
    compiled_events = compiled.SSEDecoder(max_event_bytes=None).feed(stream)
    pure_events = pure.SSEDecoder(max_event_bytes=None).feed(stream)
    assert compiled_events == pure_events
    assert pure_events == compiled_events
    assert [repr(e) for e in compiled_events] == [repr(e) for e in pure_events]
    assert [hash(e) for e in compiled_events] == [hash(e) for e in pure_events]


SAMPLES = [
    b"event: tick\r\nid: 7\r\ndata: h\xc3\xa9llo\r\ndata: w\xe2\x80\xa8rld\r\n\r\n: ping\r\n\r\ndata: x\r\n\r\n",
    b"\xef\xbb\xbfdata: a\n\n:comment line\ndata:b\rdata:  c\r\rretry: 10\nid: 1\n\ndata\n\n",
]


@pytest.mark.compiled
@pytest.mark.parametrize("stream", SAMPLES, ids=["crlf", "mixed"])
def test_twins_agree_on_every_limit_and_cut(stream: bytes) -> None:
    """Every limit from 1 byte past the whole stream, whole and cut at every point."""
    compiled, pure = _both_twins()
    for limit in range(1, len(stream) + 2):
        whole = run(pure.SSEDecoder, [stream], max_event_bytes=limit)
        assert run(compiled.SSEDecoder, [stream], max_event_bytes=limit) == whole, limit
        for cut in range(len(stream) + 1):
            chunks = [stream[:cut], stream[cut:]]
            for twin in (compiled, pure):
                assert run(twin.SSEDecoder, chunks, max_event_bytes=limit)[:2] == whole[:2], (limit, cut)
