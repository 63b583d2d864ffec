"""An encoder for AWS's binary event-stream framing (``application/vnd.amazon.eventstream``).

Bedrock's ConverseStream answers with this framing instead of server-sent events.
Each message on the wire is::

    prelude   total length (uint32 BE) | headers length (uint32 BE) | CRC32 of those 8 bytes
    headers   name length (uint8) | name (UTF-8) | value type (uint8) | value
    payload   the event's bytes (JSON for Bedrock)
    trailer   CRC32 of everything above (uint32 BE)

All integers are big-endian and both checksums are the IEEE CRC32 that
:func:`zlib.crc32` computes. Only the encoder lives here: the replay server uses it
to put recorded Bedrock events back on the wire, and tests use it to build inputs
for the decoder.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Union

__all__ = [
    "EVENTSTREAM_CONTENT_TYPE",
    "HeaderValue",
    "encode_event",
    "encode_exception",
    "encode_headers",
    "encode_message",
    "with_bad_message_crc",
    "with_bad_prelude_crc",
]

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"

HeaderValue = Union[str, bytes, bool, int, datetime, uuid.UUID]
"""A header value; its Python type picks the wire type (``int`` is int32, or int64 if it
does not fit)."""

_PRELUDE_LENGTH = 12  # total length, headers length, prelude CRC
_TRAILER_LENGTH = 4  # message CRC
_MAX_HEADER_NAME_BYTES = 255
_MAX_HEADER_VALUE_BYTES = 0xFFFF

# Header value type tags, as the event-stream specification numbers them.
_TYPE_TRUE = 0
_TYPE_FALSE = 1
_TYPE_INT32 = 4
_TYPE_INT64 = 5
_TYPE_BYTES = 6
_TYPE_STRING = 7
_TYPE_TIMESTAMP = 8
_TYPE_UUID = 9

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def encode_headers(headers: Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]]) -> bytes:
    """Encodes headers in order; raises ``ValueError`` on a name or value that cannot be framed."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return b"".join(_encode_header(name, value) for name, value in items)


def _encode_header(name: str, value: HeaderValue) -> bytes:
    name_bytes = name.encode("utf-8")
    if not 0 < len(name_bytes) <= _MAX_HEADER_NAME_BYTES:
        raise ValueError(f"event-stream header name must be 1 to 255 bytes of UTF-8, got {name!r}")
    return bytes((len(name_bytes),)) + name_bytes + _encode_value(name, value)


def _encode_value(name: str, value: HeaderValue) -> bytes:
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return bytes((_TYPE_TRUE if value else _TYPE_FALSE,))
    if isinstance(value, int):
        if _INT32_MIN <= value <= _INT32_MAX:
            return struct.pack(">Bi", _TYPE_INT32, value)
        return struct.pack(">Bq", _TYPE_INT64, value)
    if isinstance(value, datetime):
        return struct.pack(">Bq", _TYPE_TIMESTAMP, round(value.timestamp() * 1000))
    if isinstance(value, uuid.UUID):
        return bytes((_TYPE_UUID,)) + value.bytes
    if isinstance(value, str):
        tag, raw = _TYPE_STRING, value.encode("utf-8")
    elif isinstance(value, bytes):
        tag, raw = _TYPE_BYTES, value
    else:
        raise TypeError(f"event-stream header {name!r}: unsupported value type {type(value).__name__}")
    if len(raw) > _MAX_HEADER_VALUE_BYTES:
        raise ValueError(f"event-stream header {name!r}: value longer than 65535 bytes")
    return struct.pack(">BH", tag, len(raw)) + raw


def encode_message(
    headers: Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]], payload: bytes
) -> bytes:
    """One complete event-stream message: prelude, headers, payload and message CRC."""
    header_bytes = encode_headers(headers)
    total_length = _PRELUDE_LENGTH + len(header_bytes) + len(payload) + _TRAILER_LENGTH
    lengths = struct.pack(">II", total_length, len(header_bytes))
    prelude = lengths + struct.pack(">I", zlib.crc32(lengths))
    body = prelude + header_bytes + payload
    return body + struct.pack(">I", zlib.crc32(body))


def encode_event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """A Bedrock event message (``:message-type`` ``event``) such as ``contentBlockDelta``."""
    return encode_message(
        ((":event-type", event_type), (":content-type", content_type), (":message-type", "event")),
        payload,
    )


def encode_exception(exception_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """A Bedrock exception message (``:message-type`` ``exception``) such as ``throttlingException``."""
    return encode_message(
        (
            (":exception-type", exception_type),
            (":content-type", content_type),
            (":message-type", "exception"),
        ),
        payload,
    )


def with_bad_message_crc(message: bytes) -> bytes:
    """The same message with its trailing CRC altered, so a checking decoder must reject it."""
    if len(message) < _PRELUDE_LENGTH + _TRAILER_LENGTH:
        raise ValueError("not an event-stream message: shorter than prelude and trailer")
    (crc,) = struct.unpack(">I", message[-_TRAILER_LENGTH:])
    return message[:-_TRAILER_LENGTH] + struct.pack(">I", crc ^ 0xFFFFFFFF)


def with_bad_prelude_crc(message: bytes) -> bytes:
    """The same message with its prelude CRC altered (lengths and payload untouched)."""
    if len(message) < _PRELUDE_LENGTH + _TRAILER_LENGTH:
        raise ValueError("not an event-stream message: shorter than prelude and trailer")
    (crc,) = struct.unpack(">I", message[8:12])
    return message[:8] + struct.pack(">I", crc ^ 0xFFFFFFFF) + message[12:]
