"""SSE decoder: the WHATWG parsing rules, chunking, limits. Every test runs on both twins."""

from __future__ import annotations

import importlib
import pickle
import tracemalloc
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pytest

import alchemy
from alchemy._speedups import PURE_PYTHON_REQUESTED
from alchemy.errors import AlchemyError, SSEError

BOM = b"\xef\xbb\xbf"
MiB = 1024 * 1024


@pytest.fixture(scope="session")
def event_cls(sse_module: ModuleType) -> Any:
    return sse_module.ServerSentEvent


def ev(data: str, event: str = "message", id: str | None = None, retry: int | None = None) -> tuple[Any, ...]:
    """An expected event as a plain tuple, compared field by field with :func:`fields`."""
    return (event, data, id, retry)


def fields(events: Iterable[Any]) -> list[tuple[Any, ...]]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


def decode(decoder_cls: Any, *chunks: bytes, **options: Any) -> list[tuple[Any, ...]]:
    """Feeds the chunks to a new decoder, then flushes; returns the events as tuples."""
    decoder = decoder_cls(**options)
    events: list[Any] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.flush()
    return fields(events)


def decode_bytewise(decoder_cls: Any, stream: bytes) -> list[tuple[Any, ...]]:
    return decode(decoder_cls, *(stream[i : i + 1] for i in range(len(stream))))


# --- the WHATWG specification's examples -------------------------------------------------


def test_spec_example_stock_ticker(sse_decoder_cls: Any) -> None:
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert decode(sse_decoder_cls, stream) == [ev("YHOO\n+2\n10")]


def test_spec_example_four_blocks_with_ids(sse_decoder_cls: Any) -> None:
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    decoder = sse_decoder_cls()
    events = fields(decoder.feed(stream))
    # "id" with no value resets the last event ID (None while it is empty).
    assert events == [ev("first event", id="1"), ev("second event"), ev(" third event")]
    assert decoder.last_event_id is None


def test_spec_example_empty_data_and_unterminated_block(sse_decoder_cls: Any) -> None:
    stream = b"data\n\ndata\ndata\n\ndata:"
    assert decode(sse_decoder_cls, stream) == [ev(""), ev("\n")]


def test_spec_example_space_after_colon(sse_decoder_cls: Any) -> None:
    assert decode(sse_decoder_cls, b"data:test\n\ndata: test\n\n") == [ev("test"), ev("test")]


def test_spec_example_event_types(sse_decoder_cls: Any) -> None:
    stream = b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    assert decode(sse_decoder_cls, stream) == [
        ev("73857293", event="add"),
        ev("2153", event="remove"),
        ev("113411", event="add"),
    ]


# --- line ends ---------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_each_line_end(sse_decoder_cls: Any, eol: bytes) -> None:
    stream = b"event: e" + eol + b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert decode(sse_decoder_cls, stream) == [ev("a\nb", event="e"), ev("c")]


def test_mixed_line_ends(sse_decoder_cls: Any) -> None:
    stream = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r\n\n"
    # "\r\r\n\n": CR ends "data: d", CRLF is a blank line (dispatch), LF another blank line.
    assert decode(sse_decoder_cls, stream) == [ev("a\nb\nc"), ev("d")]


def test_lf_cr_is_two_line_ends(sse_decoder_cls: Any) -> None:
    assert decode(sse_decoder_cls, b"data: a\n\r") == [ev("a")]


FRAMES = {
    "LF": b"event: tick\nid: 7\ndata: h\xc3\xa9llo\ndata: w\xe2\x80\xa8rld\n\n: ping\n\ndata: \xf0\x9f\x9a\x80\n\n",
    "CR": b"event: tick\rid: 7\rdata: h\xc3\xa9llo\rdata: w\xe2\x80\xa8rld\r\r: ping\r\rdata: \xf0\x9f\x9a\x80\r\r",
    "CRLF": b"event: tick\r\nid: 7\r\ndata: h\xc3\xa9llo\r\ndata: w\xe2\x80\xa8rld\r\n\r\n: ping\r\n\r\ndata: \xf0\x9f\x9a\x80\r\n\r\n",
}
FRAME_EVENTS = [ev("héllo\nw\u2028rld", event="tick", id="7"), ev("🚀", id="7")]


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_every_split_point_with_an_empty_chunk_between(sse_decoder_cls: Any, kind: str) -> None:
    frame = FRAMES[kind]
    for cut in range(len(frame) + 1):
        assert decode(sse_decoder_cls, frame[:cut], b"", frame[cut:]) == FRAME_EVENTS, cut


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_every_pair_of_split_points(sse_decoder_cls: Any, kind: str) -> None:
    frame = FRAMES[kind]
    for first in range(len(frame) + 1):
        for second in range(first, len(frame) + 1):
            chunks = (frame[:first], frame[first:second], frame[second:])
            assert decode(sse_decoder_cls, *chunks) == FRAME_EVENTS, (first, second)


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_one_byte_at_a_time(sse_decoder_cls: Any, kind: str) -> None:
    assert decode_bytewise(sse_decoder_cls, FRAMES[kind]) == FRAME_EVENTS


def test_crlf_split_across_chunks_is_one_line_end(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []  # the LF completes the CRLF: not a blank line
    assert fields(decoder.feed(b"\r")) == [ev("a")]
    assert decoder.feed(b"\n") == []  # skipped again: pairs with the CR before it


def test_cr_at_chunk_end_dispatches_at_once(sse_decoder_cls: Any) -> None:
    """The lone-CR stall: a decoder must not wait for the next chunk to end the line."""
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(b"data: now\r\r")) == [ev("now")]
    decoder = sse_decoder_cls()
    assert decoder.feed(b"data: now\r") == []
    assert fields(decoder.feed(b"\r")) == [ev("now")]


def test_lf_after_chunk_final_cr_is_skipped_even_after_an_empty_chunk(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert fields(decoder.feed(b"\n")) == [ev("a")]


def test_lf_not_right_after_cr_is_a_line_end(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert decoder.feed(b"data: a\r") == []
    assert fields(decoder.feed(b"data: b\n\n")) == [ev("a\nb")]


def test_unicode_line_breaks_are_data(sse_decoder_cls: Any) -> None:
    # U+2028, U+2029, NEL (U+0085), VT, FF, FS, GS, RS: only CR and LF end lines.
    value = "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg\x1dh\x1ei"
    stream = b"data: " + value.encode() + b"\n\n"
    assert decode(sse_decoder_cls, stream) == [ev(value)]
    assert decode_bytewise(sse_decoder_cls, stream) == [ev(value)]


# --- byte order mark ---------------------------------------------------------------------


def test_leading_bom_is_stripped(sse_decoder_cls: Any) -> None:
    """Decoders that keep the BOM read the first field as "\\ufeffdata" and lose the event."""
    assert decode(sse_decoder_cls, BOM + b"data: first\n\n") == [ev("first")]


def test_bom_split_across_chunks(sse_decoder_cls: Any) -> None:
    stream = BOM + b"data: first\n\n"
    for cut in range(len(stream) + 1):
        assert decode(sse_decoder_cls, stream[:cut], b"", stream[cut:]) == [ev("first")], cut
    assert decode_bytewise(sse_decoder_cls, stream) == [ev("first")]


def test_only_one_bom_is_stripped(sse_decoder_cls: Any) -> None:
    # After the first BOM, a second one belongs to the field name: an unknown field.
    assert decode(sse_decoder_cls, BOM + BOM + b"data: lost\n\ndata: kept\n\n") == [ev("kept")]


def test_bom_after_the_start_is_not_stripped(sse_decoder_cls: Any) -> None:
    stream = b"data: a\n\n" + BOM + b"data: b\n\ndata: " + BOM + b"c\n\n"
    assert decode(sse_decoder_cls, stream) == [ev("a"), ev("\ufeffc")]


def test_partial_bom_is_line_content(sse_decoder_cls: Any) -> None:
    # EF BB then "d...": not a BOM, so the first line's field name is "\ufffddata".
    for stream in (b"\xef\xbbdata: x\n\ndata: y\n\n", b"\xefdata: x\n\ndata: y\n\n"):
        assert decode(sse_decoder_cls, stream) == [ev("y")]
        assert decode_bytewise(sse_decoder_cls, stream) == [ev("y")]
    # ... and an EF BB prefix before a line end is an (unknown) line of its own.
    assert decode_bytewise(sse_decoder_cls, b"\xef\xbb\ndata: y\n\n") == [ev("y")]


def test_flush_starts_a_new_stream_that_may_have_a_bom(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(BOM + b"data: a\n\n")) == [ev("a")]
    assert decoder.flush() == []
    assert fields(decoder.feed(BOM + b"data: b\n\n")) == [ev("b")]


# --- fields --------------------------------------------------------------------------------


def test_comments_are_ignored(sse_decoder_cls: Any) -> None:
    stream = b": hello\n:\ndata: a\n: inside\ndata: b\n\n:data: x\n\n"
    assert decode(sse_decoder_cls, stream) == [ev("a\nb")]


def test_field_without_colon_has_empty_value(sse_decoder_cls: Any) -> None:
    assert decode(sse_decoder_cls, b"event: x\nevent\ndata\n\n") == [ev("")]


def test_exactly_one_space_is_stripped(sse_decoder_cls: Any) -> None:
    stream = b"data:  two\n\ndata:\tx\n\ndata: \n\nevent:  e\ndata:y\n\n"
    assert decode(sse_decoder_cls, stream) == [ev(" two"), ev("\tx"), ev(""), ev("y", event=" e")]


def test_value_keeps_further_colons(sse_decoder_cls: Any) -> None:
    assert decode(sse_decoder_cls, b"data: a: b:c\n\n") == [ev("a: b:c")]


def test_multiple_data_lines_join_with_lf(sse_decoder_cls: Any) -> None:
    assert decode(sse_decoder_cls, b"data: a\ndata:\ndata: c\n\ndata:\ndata:\n\n") == [ev("a\n\nc"), ev("\n")]


def test_block_without_data_is_not_dispatched(sse_decoder_cls: Any) -> None:
    stream = b"retry: 5\n\nevent: only\n\nid: 1\n\n: ping\n\n\n\n\r\n\r"
    decoder = sse_decoder_cls()
    assert decoder.feed(stream) == []
    assert decoder.last_event_id == "1"
    assert decoder.retry == 5


def test_event_type_resets_after_each_block(sse_decoder_cls: Any) -> None:
    stream = b"event: a\n\ndata: 1\n\nevent: b\ndata: 2\n\ndata: 3\n\n"
    assert decode(sse_decoder_cls, stream) == [ev("1"), ev("2", event="b"), ev("3")]


def test_empty_event_field_means_message(sse_decoder_cls: Any) -> None:
    assert decode(sse_decoder_cls, b"event:\ndata: x\n\n") == [ev("x")]


def test_unknown_fields_are_ignored(sse_decoder_cls: Any) -> None:
    stream = b"foo: bar\nData: no\nDATA: no\n data: no\nevents: no\nidx: 9\nretry2: 5\ndata: yes\n\n"
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(stream)) == [ev("yes")]
    assert decoder.last_event_id is None
    assert decoder.retry is None


def test_id_is_sticky_and_keepalive_makes_no_phantom_event(sse_decoder_cls: Any) -> None:
    """After an id-bearing event, a keepalive block must not produce an empty event."""
    stream = b"id: 42\ndata: a\n\n: keepalive\n\n\ndata: b\n\n"
    assert decode(sse_decoder_cls, stream) == [ev("a", id="42"), ev("b", id="42")]


def test_id_rules(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(b"id: 1\ndata: a\n\n")) == [ev("a", id="1")]
    # An id containing NUL is ignored entirely.
    assert fields(decoder.feed(b"id: 2\x003\ndata: b\n\n")) == [ev("b", id="1")]
    assert decoder.last_event_id == "1"
    # Non-ASCII ids are decoded; invalid bytes become U+FFFD.
    assert fields(decoder.feed(b"id: \xc3\xa9\xff\ndata: c\n\n")) == [ev("c", id="é\ufffd")]
    # The id set in a block applies to that block's event, wherever the line is.
    assert fields(decoder.feed(b"data: d\nid: 9\n\n")) == [ev("d", id="9")]
    # An empty id resets the buffer.
    assert fields(decoder.feed(b"id:\ndata: e\n\n")) == [ev("e")]
    assert decoder.last_event_id is None


def test_last_event_id_changes_only_when_a_block_is_dispatched(sse_decoder_cls: Any) -> None:
    """WHATWG: an id field sets the buffer; the last event ID takes it at the block's blank line."""
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")) == [ev("a", id="1")]
    assert decoder.last_event_id == "1"  # block 2 is not finished
    assert fields(decoder.feed(b"\n")) == [ev("b", id="2")]
    assert decoder.last_event_id == "2"
    # An id line split across chunks, still no blank line.
    assert decoder.feed_raw(b"id: 3") == []
    assert decoder.feed_raw(b"4\n") == []
    assert decoder.last_event_id == "2"
    # A block with no data dispatches no event but does set the last event ID.
    assert decoder.feed(b"\n") == []
    assert decoder.last_event_id == "34"


def test_id_of_an_unfinished_block_at_end_of_stream_is_discarded(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")) == [ev("a", id="1")]
    assert decoder.flush() == []
    assert decoder.last_event_id == "1"
    # The next stream starts from the last dispatched id, not from the discarded block's.
    assert fields(decoder.feed(b"data: c\n\n")) == [ev("c", id="1")]
    assert decoder.last_event_id == "1"
    # An id reset in an unfinished block does not count either.
    decoder.feed(b"id\n")
    assert decoder.flush() == []
    assert decoder.last_event_id == "1"


def test_last_event_id_across_a_size_limit_error(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls(max_event_bytes=16)
    events = decoder.feed(b"id: 7\ndata: a\n\nid: 8\ndata: " + b"x" * 32 + b"\n\n")
    assert fields(events) == [ev("a", id="7")]
    assert decoder.last_event_id == "7"


@pytest.mark.parametrize(
    "value", [b"+5", b"-5", b" 5", b"5 ", b"5.0", b"1_0", b"0x10", b"", b"\xd9\xa3", b"\xef\xbc\x95", b"5a"]
)
def test_retry_must_be_ascii_digits(sse_decoder_cls: Any, value: bytes) -> None:
    """Peers use int(), which takes "+5", " 5", "1_0" and non-ASCII digits."""
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(b"retry: " + value + b"\ndata: x\n\n")) == [ev("x")]
    assert decoder.retry is None


def test_retry_rules(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert decoder.retry is None
    assert fields(decoder.feed(b"retry: 3000\ndata: a\n\ndata: b\n\n")) == [ev("a", retry=3000), ev("b")]
    assert decoder.retry == 3000
    assert fields(decoder.feed(b"retry:0042\ndata: c\n\n")) == [ev("c", retry=42)]
    big = b"9" * 40
    assert fields(decoder.feed(b"retry: " + big + b"\ndata: d\n\n")) == [ev("d", retry=int(big))]
    # An invalid retry leaves the current value alone.
    assert fields(decoder.feed(b"retry: 1e3\ndata: e\n\n")) == [ev("e")]
    assert decoder.retry == int(big)


def test_retry_with_more_digits_than_int_allows_is_ignored(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    stream = b"retry: 7\n\nretry: " + b"1" * 5000 + b"\ndata: x\n\n"
    assert fields(decoder.feed(stream)) == [ev("x")]
    assert decoder.retry == 7


# --- UTF-8 ---------------------------------------------------------------------------------


def test_multibyte_characters_split_at_every_byte(sse_decoder_cls: Any) -> None:
    text = "é€🚀 日本語 Привет"
    stream = b"event: \xc3\xa9\ndata: " + text.encode() + b"\n\n"
    for cut in range(len(stream) + 1):
        assert decode(sse_decoder_cls, stream[:cut], stream[cut:]) == [ev(text, event="é")], cut


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b"a\x80b",
        b"\xe2\x82",  # truncated 3-byte sequence right before the line end
        b"\xe2\x82x",
        b"\xf0\x9f\x9a",
        b"\xed\xa0\x80",  # an encoded surrogate
        b"\xc0\xaf",  # an overlong encoding
        b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    ],
)
def test_invalid_utf8_becomes_replacement_characters(sse_decoder_cls: Any, raw: bytes) -> None:
    expected = raw.decode("utf-8", "replace")
    assert "\ufffd" in expected
    stream = b"data: " + raw + b"\n\n"
    assert decode(sse_decoder_cls, stream) == [ev(expected)]
    assert decode_bytewise(sse_decoder_cls, stream) == [ev(expected)]
    assert decode(sse_decoder_cls, b"event: " + raw + b"\ndata: x\n\n") == [ev("x", event=expected)]


def test_nul_and_control_characters_in_data(sse_decoder_cls: Any) -> None:
    assert decode(sse_decoder_cls, b"data: a\x00b\x7f\x01\n\n") == [ev("a\x00b\x7f\x01")]


# --- end of stream ---------------------------------------------------------------------------


def test_unterminated_event_is_discarded(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert fields(decoder.feed(b"data: a\n\ndata: b\n")) == [ev("a")]
    assert decoder.flush() == []
    # The discarded block does not leak into the next stream.
    assert fields(decoder.feed(b"data: c\n\n")) == [ev("c")]


def test_flush_discards_a_partial_line_and_keeps_id_and_retry(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    decoder.feed(b"id: 5\nretry: 100\ndata: a\n\nevent: x\ndata: half")
    assert decoder.flush() == []
    assert (decoder.last_event_id, decoder.retry) == ("5", 100)
    # " more" starts a new line (an unknown field), not the rest of "data: half"; neither
    # the event type nor the data of the discarded block survive the flush.
    assert fields(decoder.feed(b" more\n\ndata: b\n\n")) == [ev("b", id="5")]


def test_reusable_after_flush(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    for round_ in range(3):
        assert fields(decoder.feed(b"data: %d\n\n" % round_)) == [ev(str(round_))]
        assert decoder.flush() == []


# --- input types -------------------------------------------------------------------------------


def test_accepts_bytearray_and_memoryview(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert decoder.feed(bytearray(b"data: a\n")) == []
    assert fields(decoder.feed(memoryview(b"\ndata: b\n\n"))) == [ev("a"), ev("b")]


def test_accepts_bytes_subclasses(sse_decoder_cls: Any) -> None:
    class Chunk(bytes):
        pass

    assert fields(sse_decoder_cls().feed(Chunk(b"data: a\n\n"))) == [ev("a")]


def test_decoder_cannot_be_pickled_or_copied(sse_decoder_cls: Any) -> None:
    import copy

    decoder = sse_decoder_cls()
    for action in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError) as info:
            action(decoder)
        assert str(info.value) == "SSEDecoder holds the state of one live stream; it cannot be pickled or copied"


@pytest.mark.parametrize("bad", ["data: x\n\n", 5, None, [b"x"]])
def test_rejects_non_bytes(sse_decoder_cls: Any, bad: Any) -> None:
    with pytest.raises(TypeError, match="SSEDecoder expects bytes chunks, not "):
        sse_decoder_cls().feed(bad)
    with pytest.raises(TypeError, match="SSEDecoder expects bytes chunks"):
        sse_decoder_cls().feed_raw(bad)


# --- the event value -----------------------------------------------------------------------------


def test_event_defaults_repr_and_equality(event_cls: Any) -> None:
    event = event_cls(data="x")
    assert (event.event, event.data, event.id, event.retry) == ("message", "x", None, None)
    assert repr(event) == "ServerSentEvent(event='message', data='x', id=None, retry=None)"
    assert event_cls(event="e", data="d", id="1", retry=5) == event_cls("e", "d", "1", 5)
    assert event != event_cls(data="y")
    assert event != ("message", "x", None, None)
    assert hash(event) == hash(event_cls("message", "x"))
    assert {event, event_cls(data="x")} == {event}
    assert event_cls() == event_cls("message", "", None, None)


def test_events_of_both_twins_compare_equal(event_cls: Any, twin: Any) -> None:
    if twin.is_pure and PURE_PYTHON_REQUESTED:
        pytest.skip("ALCHEMY_PURE_PYTHON is set: the compiled twin is not under test")
    other_twin = "alchemy._speedups._sse_c" if twin.is_pure else "alchemy._speedups._sse_py"
    other_cls = importlib.import_module(other_twin).ServerSentEvent
    mine, theirs = event_cls("e", "d", "1", 5), other_cls("e", "d", "1", 5)
    assert mine == theirs and theirs == mine
    assert not (mine != theirs)
    assert mine != other_cls("e", "d", "1", 6)
    assert hash(mine) == hash(theirs)


def test_event_is_immutable(event_cls: Any) -> None:
    event = event_cls(data="x")
    with pytest.raises(AttributeError, match="ServerSentEvent is immutable: cannot set 'data'"):
        event.data = "y"
    with pytest.raises(AttributeError, match="ServerSentEvent is immutable: cannot delete 'event'"):
        del event.event
    assert event.data == "x"


def test_event_pickles(event_cls: Any) -> None:
    event = event_cls("e", "d\u2028", "1", 5)
    assert pickle.loads(pickle.dumps(event)) == event


def test_event_pattern_matching(event_cls: Any) -> None:
    match event_cls("tick", "1"):
        case event_cls(event="tick", data=data):
            assert data == "1"
        case _:
            pytest.fail("no match")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"event": None}, TypeError, "ServerSentEvent.event must be str, not NoneType"),
        ({"data": b"x"}, TypeError, "ServerSentEvent.data must be str, not bytes"),
        ({"id": 1}, TypeError, "ServerSentEvent.id must be str or None, not int"),
        ({"retry": "5"}, TypeError, "ServerSentEvent.retry must be int or None, not str"),
        ({"retry": True}, TypeError, "ServerSentEvent.retry must be int or None, not bool"),
        ({"retry": -1}, ValueError, "ServerSentEvent.retry must not be negative, got -1"),
    ],
)
def test_event_constructor_checks_types(event_cls: Any, kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error) as info:
        event_cls(**kwargs)
    assert str(info.value) == message


def test_events_returned_by_feed_are_the_twins_class(sse_decoder_cls: Any, event_cls: Any) -> None:
    (event,) = sse_decoder_cls().feed(b"data: x\n\n")
    assert type(event) is event_cls


# --- the provider fast path ------------------------------------------------------------------------


def test_feed_raw_returns_name_and_data_bytes(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    stream = b"event: delta\ndata: {\"a\":\n data: no\ndata: 1}\n\ndata: [DONE]\n\ndata: \xc3\xa9\xff\n\n"
    assert decoder.feed_raw(stream) == [("delta", b'{"a":\n1}'), ("message", b"[DONE]"), ("message", b"\xc3\xa9\xff")]


def test_feed_raw_matches_feed(sse_decoder_cls: Any) -> None:
    stream = b"".join(FRAMES.values()) + b"retry: 5\nid: 3\ndata: \xe2\x82\n\n"
    raw = sse_decoder_cls().feed_raw(stream)
    events = sse_decoder_cls().feed(stream)
    assert [(name, data.decode("utf-8", "replace")) for name, data in raw] == [(e.event, e.data) for e in events]


def test_feed_and_feed_raw_share_state(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls()
    assert decoder.feed_raw(b"id: 1\nevent: e\ndata: a") == []
    assert fields(decoder.feed(b"b\n\n")) == [ev("ab", event="e", id="1")]
    assert decoder.feed_raw(b"retry: 9\ndata: c\n\n") == [("message", b"c")]
    assert (decoder.last_event_id, decoder.retry) == ("1", 9)


# --- max_event_bytes -----------------------------------------------------------------------------------


def test_default_limit_is_16_mib(sse_decoder_cls: Any, sse_module: ModuleType) -> None:
    assert sse_module.DEFAULT_MAX_EVENT_BYTES == 16 * MiB
    assert sse_decoder_cls().max_event_bytes == 16 * MiB
    assert sse_decoder_cls(max_event_bytes=None).max_event_bytes is None


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "max_event_bytes must be a positive int or None, not 0"),
        (-5, ValueError, "max_event_bytes must be a positive int or None, not -5"),
        (1.5, TypeError, "max_event_bytes must be a positive int or None, not float"),
        ("16", TypeError, "max_event_bytes must be a positive int or None, not str"),
        (True, TypeError, "max_event_bytes must be a positive int or None, not bool"),
    ],
)
def test_limit_validation(sse_decoder_cls: Any, value: Any, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        sse_decoder_cls(max_event_bytes=value)
    assert str(info.value) == message


LIMIT_MESSAGE = (
    "server-sent event larger than max_event_bytes=16: the data of one event plus the line being read "
    "exceeded the limit; raise max_event_bytes (or pass None) if the stream is trusted"
)


def test_limit_boundary(sse_decoder_cls: Any) -> None:
    # The data buffer holds each value plus LF; the limit covers it plus the line being read.
    fits = b"data: 0123456789\n\n"  # line of 16 bytes
    assert decode(sse_decoder_cls, fits, max_event_bytes=16) == [ev("0123456789")]
    with pytest.raises(SSEError) as info:
        decode(sse_decoder_cls, b"data: 0123456789A\n\n", max_event_bytes=16)
    assert str(info.value) == LIMIT_MESSAGE
    # Two lines: 6 bytes of buffer ("abcde\n") + a line of 10 bytes = 16, fits.
    assert decode(sse_decoder_cls, b"data:abcde\ndata:12345\n\n", max_event_bytes=16) == [ev("abcde\n12345")]
    with pytest.raises(SSEError):
        decode(sse_decoder_cls, b"data:abcde\ndata:123456\n\n", max_event_bytes=16)


def test_limit_applies_to_lines_of_any_kind_and_to_unfinished_lines(sse_decoder_cls: Any) -> None:
    with pytest.raises(SSEError):
        decode(sse_decoder_cls, b": " + b"c" * 20 + b"\n\n", max_event_bytes=16)
    decoder = sse_decoder_cls(max_event_bytes=16)
    assert decoder.feed(b"data: 0123456789") == []
    with pytest.raises(SSEError, match="max_event_bytes=16"):
        decoder.feed(b"A")  # the unfinished line alone crosses the limit


def test_limit_resets_with_each_event(sse_decoder_cls: Any) -> None:
    stream = b"data: 0123456789\n\n" * 50
    assert len(decode(sse_decoder_cls, stream, max_event_bytes=16)) == 50
    assert len(decode_bytewise(sse_decoder_cls, stream)) == 50


def test_limit_error_keeps_completed_events_and_the_decoder_stays_failed(sse_decoder_cls: Any) -> None:
    decoder = sse_decoder_cls(max_event_bytes=16)
    events = decoder.feed(b"data: a\n\ndata: b\n\ndata: " + b"x" * 32 + b"\n\ndata: c\n\n")
    assert fields(events) == [ev("a"), ev("b")]  # handed out, not lost to the error
    for call in (lambda: decoder.feed(b"data: d\n\n"), decoder.flush, lambda: decoder.feed_raw(b""), decoder.flush):
        with pytest.raises(SSEError) as info:
            call()
        assert str(info.value) == LIMIT_MESSAGE


def test_limit_error_is_an_alchemy_error(sse_decoder_cls: Any) -> None:
    with pytest.raises(AlchemyError):
        sse_decoder_cls(max_event_bytes=4).feed(b"data: 12345\n")
    assert alchemy.SSEError is SSEError
    assert issubclass(SSEError, ValueError)


def test_no_limit(sse_decoder_cls: Any) -> None:
    payload = b"z" * (3 * MiB)
    assert decode(sse_decoder_cls, b"data: " + payload + b"\n\n", max_event_bytes=None) == [ev(payload.decode())]


def test_64_mib_event_in_small_chunks_is_linear_and_bounded(sse_decoder_cls: Any) -> None:
    """One 64 MiB event in 64 KiB chunks: memory stays a small multiple of the event."""
    pattern = "0123456789abcdeé"  # 17 bytes: the 64 KiB cuts fall inside "é" now and then
    body = pattern.encode() * (64 * MiB // 17)
    chunk_size = 64 * 1024
    decoder = sse_decoder_cls(max_event_bytes=len(body) + 64)
    tracemalloc.start()
    try:
        assert decoder.feed(b"event: big\ndata: ") == []
        for start in range(0, len(body), chunk_size):
            assert decoder.feed(body[start : start + chunk_size]) == []
        events = decoder.feed(b"\n\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(events) == 1
    (event,) = events
    assert event.event == "big"
    assert len(event.data) == len(body) // 17 * 16
    assert event.data[:32] == pattern * 2 and event.data[-16:] == pattern
    assert peak < 5 * len(body), peak


def test_many_events_one_byte_at_a_time(sse_decoder_cls: Any) -> None:
    stream = b"".join(b"id: %d\r\ndata: {\"n\": %d, \"t\": \"\xc3\xa9\"}\r\n\r\n" % (n, n) for n in range(300))
    events = decode_bytewise(sse_decoder_cls, stream)
    assert events == [ev('{"n": %d, "t": "é"}' % n, id=str(n)) for n in range(300)]
