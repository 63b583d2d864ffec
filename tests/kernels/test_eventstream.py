"""The AWS event-stream decoder kernel, on both twins.

Frames are built here from the format's definition (prelude, typed headers,
payload, two CRC32s), independently of the decoder and of the replay server's
encoder; the shared Bedrock fixtures are framed the way the replay server does.
Every test runs on the compiled and the pure twin (``event_stream_decoder_cls``);
the property tests at the end compare the twins with each other, and with
botocore's own decoder when it is installed, on random messages, random chunkings
and random corruption.
"""

from __future__ import annotations

import datetime
import pickle
import random
import struct
import uuid
import zlib
from collections.abc import Iterable
from typing import Any

import orjson
import pytest
import support
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alchemy
from alchemy._speedups import PURE_PYTHON_REQUESTED
from alchemy.errors import EventStreamError
from alchemy.testing.eventstream import encode_event

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UTC = datetime.timezone.utc


# --------------------------------------------------------------------------- frames from the spec


def header(name: str, kind: int, value: bytes = b"") -> bytes:
    """One header: name length (u8), name, value type (u8), value bytes (already encoded)."""
    raw = name.encode()
    return bytes([len(raw)]) + raw + bytes([kind]) + value


def string_header(name: str, value: str) -> bytes:
    raw = value.encode()
    return header(name, 7, struct.pack(">H", len(raw)) + raw)


def frame(headers: bytes, payload: bytes) -> bytes:
    """A message: lengths, prelude CRC, headers, payload, message CRC (all big-endian)."""
    total = 12 + len(headers) + len(payload) + 4
    lengths = struct.pack(">II", total, len(headers))
    prelude = lengths + struct.pack(">I", zlib.crc32(lengths))
    body = prelude + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: bytes) -> bytes:
    headers = string_header(":event-type", event_type) + string_header(":content-type", "application/json")
    return frame(headers + string_header(":message-type", "event"), payload)


def exception(kind: str, message: str) -> bytes:
    headers = string_header(":exception-type", kind) + string_header(":message-type", "exception")
    return frame(headers, orjson.dumps({"message": message}))


def feed_all(decoder: Any, pieces: Iterable[bytes]) -> list[Any]:
    out: list[Any] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    decoder.flush()
    return out


def as_tuples(messages: list[Any]) -> list[tuple[dict[str, Any], bytes]]:
    return [(m.headers, m.payload) for m in messages]


def random_cuts(data: bytes, rng: random.Random, largest: int) -> list[bytes]:
    pieces, position = [], 0
    while position < len(data):
        size = rng.randint(1, largest)
        pieces.append(data[position : position + size])
        position += size
    return pieces


STREAM = b"".join(
    [
        event("messageStart", b'{"role":"assistant"}'),
        event("contentBlockDelta", b'{"contentBlockIndex":0,"delta":{"text":"Hi \xc3\xa9"}}'),
        frame(b"", b""),
        event("contentBlockStop", b'{"contentBlockIndex":0}'),
        exception("throttlingException", "Too many tokens"),
    ]
)
STREAM_MESSAGES = [
    ({":event-type": "messageStart", ":content-type": "application/json", ":message-type": "event"},
     b'{"role":"assistant"}'),
    ({":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"},
     b'{"contentBlockIndex":0,"delta":{"text":"Hi \xc3\xa9"}}'),
    ({}, b""),
    ({":event-type": "contentBlockStop", ":content-type": "application/json", ":message-type": "event"},
     b'{"contentBlockIndex":0}'),
    ({":exception-type": "throttlingException", ":message-type": "exception"}, b'{"message":"Too many tokens"}'),
]


# --------------------------------------------------------------------------- decoding


def test_decodes_a_stream_in_one_chunk(event_stream_decoder_cls: Any) -> None:
    decoder = event_stream_decoder_cls()
    messages = decoder.feed(STREAM)
    assert as_tuples(messages) == STREAM_MESSAGES
    assert decoder.buffered == 0 and decoder.position == len(STREAM)
    assert decoder.flush() == []


def test_every_split_point(event_stream_decoder_cls: Any) -> None:
    for cut in range(len(STREAM) + 1):
        decoder = event_stream_decoder_cls()
        assert as_tuples(feed_all(decoder, [STREAM[:cut], STREAM[cut:]])) == STREAM_MESSAGES, cut


def test_every_pair_of_split_points_in_the_first_two_frames(event_stream_decoder_cls: Any) -> None:
    first_two = len(event("messageStart", b'{"role":"assistant"}')) * 2 + 40
    for first in range(0, first_two, 3):
        for second in range(first, first_two):
            decoder = event_stream_decoder_cls()
            pieces = [STREAM[:first], STREAM[first:second], STREAM[second:]]
            assert as_tuples(feed_all(decoder, pieces)) == STREAM_MESSAGES, (first, second)


def test_one_byte_at_a_time(event_stream_decoder_cls: Any) -> None:
    decoder = event_stream_decoder_cls()
    assert as_tuples(feed_all(decoder, [STREAM[i : i + 1] for i in range(len(STREAM))])) == STREAM_MESSAGES


def test_random_chunkings(event_stream_decoder_cls: Any) -> None:
    rng = random.Random(7)
    for largest in (1, 2, 5, 13, 64, 400):
        for _ in range(20):
            decoder = event_stream_decoder_cls()
            assert as_tuples(feed_all(decoder, random_cuts(STREAM, rng, largest))) == STREAM_MESSAGES


def test_messages_are_handed_out_by_the_chunk_that_completes_them(event_stream_decoder_cls: Any) -> None:
    first = event("a", b"{}")
    decoder = event_stream_decoder_cls()
    assert decoder.feed(first[:-1]) == []
    assert decoder.buffered == len(first) - 1 and decoder.position == 0
    assert len(decoder.feed(first[-1:])) == 1
    assert decoder.buffered == 0 and decoder.position == len(first)


def test_every_header_type(event_stream_decoder_cls: Any) -> None:
    stamp = datetime.datetime(2025, 5, 14, 12, 30, 1, 250000, tzinfo=UTC)
    ident = uuid.UUID("0123456789abcdef0123456789abcdef")
    headers = b"".join(
        [
            header("yes", 0),
            header("no", 1),
            header("byte", 2, b"\xff"),
            header("short", 3, struct.pack(">h", -300)),
            header("int", 4, struct.pack(">i", -70000)),
            header("long", 5, struct.pack(">q", -(2**40))),
            header("bytes", 6, struct.pack(">H", 3) + b"\x00\xff\x10"),
            string_header("string", "naïve ✓"),
            string_header("empty", ""),
            header("time", 8, struct.pack(">q", 1747225801250)),
            header("uuid", 9, ident.bytes),
            header("bad-utf8", 7, struct.pack(">H", 2) + b"\xff\xfe"),
        ]
    )
    (message,) = event_stream_decoder_cls().feed(frame(headers, b"payload"))
    assert message.headers == {
        "yes": True,
        "no": False,
        "byte": -1,
        "short": -300,
        "int": -70000,
        "long": -(2**40),
        "bytes": b"\x00\xff\x10",
        "string": "naïve ✓",
        "empty": "",
        "time": stamp,
        "uuid": ident,
        "bad-utf8": "\ufffd\ufffd",
    }
    assert type(message.headers["yes"]) is bool and type(message.headers["byte"]) is int
    assert message.payload == b"payload"
    assert message.message_type is None and message.event_type is None


def test_standard_header_properties(event_stream_decoder_cls: Any) -> None:
    ev, exc = event_stream_decoder_cls().feed(event("metadata", b"{}") + exception("validationException", "no"))
    assert (ev.message_type, ev.event_type, ev.exception_type, ev.content_type) == (
        "event",
        "metadata",
        None,
        "application/json",
    )
    assert (exc.message_type, exc.exception_type, exc.event_type) == ("exception", "validationException", None)


def test_repeated_header_blocks_give_independent_dicts(event_stream_decoder_cls: Any) -> None:
    first, second = event_stream_decoder_cls().feed(event("x", b"1") + event("x", b"2"))
    assert first.headers == second.headers and first.headers is not second.headers
    first.headers["mine"] = True
    assert "mine" not in second.headers


def test_accepts_bytearray_and_memoryview(event_stream_decoder_cls: Any) -> None:
    decoder = event_stream_decoder_cls()
    half = len(STREAM) // 2
    got = decoder.feed(bytearray(STREAM[:half])) + decoder.feed(memoryview(STREAM)[half:])
    assert as_tuples(got) == STREAM_MESSAGES
    assert decoder.feed(b"") == []


def test_shared_bedrock_fixtures_frame_and_decode(event_stream_decoder_cls: Any) -> None:
    support.require_shared()
    for path in sorted((support.FIXTURES / "amazon-bedrock").glob("*.chunks.txt")):
        lines = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        wire = b"".join(encode_event(next(iter(line)), orjson.dumps(next(iter(line.values())))) for line in lines)
        for pieces in ([wire], [wire[i : i + 7] for i in range(0, len(wire), 7)]):
            messages = feed_all(event_stream_decoder_cls(), pieces)
            assert [{m.event_type: orjson.loads(m.payload)} for m in messages] == lines, path.name


# --------------------------------------------------------------------------- errors


def corrupt(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_prelude_checksum_mismatch(event_stream_decoder_cls: Any) -> None:
    bad = corrupt(event("a", b"{}"), 9)
    with pytest.raises(EventStreamError, match=r"prelude checksum mismatch in the message at byte 0: the frame says 0x"):
        event_stream_decoder_cls().feed(bad)


def test_a_corrupt_length_is_caught_by_the_prelude_crc_without_waiting(event_stream_decoder_cls: Any) -> None:
    bad = corrupt(event("a", b"{}"), 1)  # the total length now claims ~16 MiB more
    decoder = event_stream_decoder_cls(max_message_bytes=None)
    with pytest.raises(EventStreamError, match="prelude checksum mismatch"):
        decoder.feed(bad[:12])


def test_message_checksum_mismatch(event_stream_decoder_cls: Any) -> None:
    good = event("a", b'{"x":1}')
    for at in (12, len(good) - 8, len(good) - 1):
        with pytest.raises(EventStreamError, match="message checksum mismatch in the message at byte 0"):
            event_stream_decoder_cls().feed(corrupt(good, at))


def test_completed_messages_come_before_the_error_which_then_sticks(event_stream_decoder_cls: Any) -> None:
    first = event("a", b"1")
    decoder = event_stream_decoder_cls()
    messages = decoder.feed(first + corrupt(event("b", b"2"), 20) + event("c", b"3"))
    assert as_tuples(messages) == as_tuples(event_stream_decoder_cls().feed(first))
    message = f"message checksum mismatch in the message at byte {len(first)}"
    with pytest.raises(EventStreamError, match=message):
        decoder.feed(event("d", b"4"))
    with pytest.raises(EventStreamError, match=message):
        decoder.flush()


def _with_lengths(total: int, headers_length: int, rest: bytes = b"") -> bytes:
    lengths = struct.pack(">II", total, headers_length)
    return lengths + struct.pack(">I", zlib.crc32(lengths)) + rest


@pytest.mark.parametrize(
    ("total", "headers_length", "message"),
    [
        (15, 0, "declares 15 bytes, less than the 16-byte minimum"),
        (20, 5, "declares 5 bytes of headers, more than its 20 bytes leave room for"),
        (2000, 0, "declares 2000 bytes, more than max_message_bytes=1000"),
    ],
)
def test_impossible_lengths(event_stream_decoder_cls: Any, total: int, headers_length: int, message: str) -> None:
    with pytest.raises(EventStreamError, match=message):
        event_stream_decoder_cls(max_message_bytes=1000).feed(_with_lengths(total, headers_length))


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (b"\x00", "header 1 has an empty name"),
        (string_header("a", "b") + b"\x05ab", "header 2 runs past the end of the headers"),
        (header("x", 12), "header 'x' has unknown value type 12"),
        (header("x", 4, b"\x00\x01"), "header 'x' runs past the end of the headers"),
        (header("x", 7, b"\x00"), "header 'x' runs past the end of the headers"),
        (header("x", 6, b"\x00\x09abc"), "header 'x' runs past the end of the headers"),
        (string_header("x", "1") + string_header("x", "2"), "duplicate header 'x'"),
        (header("t", 8, struct.pack(">q", 2**62)), f"header 't' timestamp {2**62} is out of range"),
    ],
)
def test_malformed_headers(event_stream_decoder_cls: Any, headers: bytes, message: str) -> None:
    good = event("ok", b"{}")
    decoder = event_stream_decoder_cls()
    assert len(decoder.feed(good)) == 1
    with pytest.raises(EventStreamError, match=f"message at byte {len(good)}: {message}"):
        decoder.feed(frame(headers, b"{}"))


def test_flush_reports_a_stream_cut_inside_a_message(event_stream_decoder_cls: Any) -> None:
    good = event("a", b"{}")
    decoder = event_stream_decoder_cls()
    decoder.feed(good + good[:5])
    with pytest.raises(EventStreamError, match=f"ended inside the message at byte {len(good)}: 5 of its 12 prelude"):
        decoder.flush()
    decoder = event_stream_decoder_cls()
    decoder.feed(good[:20])
    with pytest.raises(EventStreamError, match=f"at byte 0: 20 of its {len(good)} bytes received"):
        decoder.flush()


def test_flush_readies_the_decoder_for_a_new_stream(event_stream_decoder_cls: Any) -> None:
    decoder = event_stream_decoder_cls()
    decoder.feed(STREAM)
    decoder.flush()
    assert decoder.position == 0
    assert as_tuples(decoder.feed(STREAM)) == STREAM_MESSAGES


def test_programmer_errors(event_stream_decoder_cls: Any) -> None:
    with pytest.raises(TypeError, match="expects bytes chunks, not str"):
        event_stream_decoder_cls().feed("text")
    with pytest.raises(TypeError, match="max_message_bytes must be a positive int or None, not float"):
        event_stream_decoder_cls(max_message_bytes=1.5)
    with pytest.raises(ValueError, match="max_message_bytes must be at least 16 or None, not 3"):
        event_stream_decoder_cls(max_message_bytes=3)
    decoder = event_stream_decoder_cls(max_message_bytes=None)
    assert decoder.max_message_bytes is None
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(decoder)


def test_message_value_semantics(event_stream_message_cls: Any, eventstream_module: Any) -> None:
    message = event_stream_message_cls({":event-type": "x"}, b"{}")
    assert message == event_stream_message_cls({":event-type": "x"}, b"{}")
    assert message != event_stream_message_cls({":event-type": "y"}, b"{}")
    assert message.event_type == "x"
    assert repr(message) == "EventStreamMessage(headers={':event-type': 'x'}, payload=b'{}')"
    assert pickle.loads(pickle.dumps(message)) == message
    with pytest.raises(AttributeError, match="EventStreamMessage is immutable: cannot set 'payload'"):
        message.payload = b""
    with pytest.raises(TypeError):
        hash(message)
    with pytest.raises(TypeError, match="payload must be bytes, not str"):
        event_stream_message_cls({}, "text")
    with pytest.raises(TypeError, match="headers must be a dict, not list"):
        event_stream_message_cls([], b"")
    assert eventstream_module.DEFAULT_MAX_MESSAGE_BYTES == 24 * 1024 * 1024 + 128 * 1024 + 16


def test_public_names() -> None:
    import alchemy._speedups as speedups
    import alchemy.eventstream

    assert alchemy.eventstream.EventStreamDecoder is speedups.EventStreamDecoder
    assert alchemy.EventStreamDecoder is speedups.EventStreamDecoder
    assert alchemy.EventStreamMessage is speedups.EventStreamMessage
    assert alchemy.EventStreamError is EventStreamError and issubclass(EventStreamError, ValueError)


# --------------------------------------------------------------------------- properties

TWINS = pytest.mark.skipif(PURE_PYTHON_REQUESTED, reason="ALCHEMY_PURE_PYTHON: only the pure twin is tested")

_names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda name: 0 < len(name.encode()) < 256
)
_values: st.SearchStrategy[tuple[int, bytes, Any]] = st.one_of(
    st.booleans().map(lambda v: (0 if v else 1, b"", v)),
    st.integers(-128, 127).map(lambda v: (2, struct.pack(">b", v), v)),
    st.integers(-(2**15), 2**15 - 1).map(lambda v: (3, struct.pack(">h", v), v)),
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (4, struct.pack(">i", v), v)),
    st.integers(-(2**63), 2**63 - 1).map(lambda v: (5, struct.pack(">q", v), v)),
    st.binary(max_size=40).map(lambda v: (6, struct.pack(">H", len(v)) + v, v)),
    st.text(max_size=20).map(lambda v: (7, struct.pack(">H", len(v.encode())) + v.encode(), v)),
    st.integers(-(6 * 10**13), 2 * 10**14).map(
        lambda v: (8, struct.pack(">q", v), datetime.datetime(1970, 1, 1, tzinfo=UTC) + datetime.timedelta(milliseconds=v))
    ),
    st.uuids().map(lambda v: (9, v.bytes, v)),
)


@st.composite
def messages(draw: st.DrawFn) -> tuple[bytes, dict[str, Any], bytes]:
    names = draw(st.lists(_names, max_size=5, unique=True))
    raw, expected = b"", {}
    for name in names:
        kind, value_bytes, value = draw(_values)
        raw += header(name, kind, value_bytes)
        expected[name] = value
    payload = draw(st.binary(max_size=300))
    return frame(raw, payload), expected, payload


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[tuple[dict[str, Any], bytes]], list[int]]:
    drawn = draw(st.lists(messages(), min_size=1, max_size=6))
    data = b"".join(m[0] for m in drawn)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    return data, [(m[1], m[2]) for m in drawn], cuts


def pieces_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


@SETTINGS
@given(streams())
def test_any_stream_any_chunking_gives_the_messages(event_stream_decoder_cls: Any, case: Any) -> None:
    data, expected, cuts = case
    assert as_tuples(feed_all(event_stream_decoder_cls(), pieces_at(data, cuts))) == expected


def _outcome(cls: Any, pieces: list[bytes]) -> tuple[list[tuple[dict[str, Any], bytes]], str | None, int]:
    decoder = cls()
    got: list[Any] = []
    try:
        for piece in pieces:
            got.extend(decoder.feed(piece))
        decoder.flush()
    except EventStreamError as exc:
        return as_tuples(got), str(exc), decoder.buffered
    return as_tuples(got), None, decoder.buffered


@TWINS
@SETTINGS
@given(streams(), st.data())
def test_twins_agree_on_corrupt_and_cut_streams(case: Any, data: st.DataObject) -> None:
    from alchemy._speedups import _eventstream_c, _eventstream_py

    stream, _, cuts = case
    damage = data.draw(st.sampled_from(["flip", "truncate", "none"]))
    if damage == "flip":
        at = data.draw(st.integers(0, len(stream) - 1))
        stream = stream[:at] + bytes([stream[at] ^ data.draw(st.integers(1, 255))]) + stream[at + 1 :]
    elif damage == "truncate":
        stream = stream[: data.draw(st.integers(0, len(stream) - 1))]
    pieces = pieces_at(stream, [cut for cut in cuts if cut <= len(stream)])
    assert _outcome(_eventstream_c.EventStreamDecoder, pieces) == _outcome(_eventstream_py.EventStreamDecoder, pieces)


@SETTINGS
@given(streams())
def test_botocore_decodes_the_same_messages(event_stream_decoder_cls: Any, case: Any) -> None:
    eventstream = pytest.importorskip("botocore.eventstream")
    data, _, cuts = case
    theirs = eventstream.EventStreamBuffer()
    expected = []
    for piece in pieces_at(data, cuts):
        theirs.add_data(piece)
        expected.extend((dict(m.headers), m.payload) for m in theirs)
    ours = feed_all(event_stream_decoder_cls(), pieces_at(data, cuts))
    normalized = [(_botocore_view(m.headers), m.payload) for m in ours]
    assert normalized == [(_botocore_view(h), p) for h, p in expected]


def _botocore_view(headers: dict[str, Any]) -> dict[str, Any]:
    """Values as botocore returns them: timestamps as milliseconds, UUIDs as bytes."""
    epoch = datetime.datetime(1970, 1, 1, tzinfo=UTC)
    view = {}
    for name, value in headers.items():
        if isinstance(value, datetime.datetime):
            value = (value - epoch) // datetime.timedelta(milliseconds=1)
        elif isinstance(value, uuid.UUID):
            value = value.bytes
        view[name] = value
    return view


def test_twin_messages_compare_equal_across_twins() -> None:
    if PURE_PYTHON_REQUESTED:
        pytest.skip("ALCHEMY_PURE_PYTHON: only the pure twin is tested")
    from alchemy._speedups import _eventstream_c, _eventstream_py

    ours = _eventstream_c.EventStreamDecoder().feed(STREAM)
    theirs = _eventstream_py.EventStreamDecoder().feed(STREAM)
    assert ours == theirs and alchemy.IMPLEMENTATION in ("cython", "python")
