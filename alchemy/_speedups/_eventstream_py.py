"""AWS event-stream decoder, pure-Python twin: the typed specification of the kernel.

The compiled twin (``_eventstream_c.pyx``) must behave exactly like this module for
every input and every chunking, error messages included. Import the public names
from :mod:`alchemy._speedups` (or :mod:`alchemy.eventstream`), never from a twin.

The framing (``application/vnd.amazon.eventstream``, Bedrock's ConverseStream and
other AWS streaming APIs) is a sequence of binary messages, all integers big-endian::

    prelude   total length (u32) | headers length (u32) | CRC32 of those 8 bytes (u32)
    headers   name length (u8) | name (UTF-8) | value type (u8) | value   (repeated)
    payload   total length - headers length - 16 bytes
    trailer   CRC32 of everything before it, prelude included (u32)

Header value types: 0 true, 1 false (no value bytes), 2 byte (i8), 3 short (i16),
4 integer (i32), 5 long (i64), 6 bytes (u16 length + bytes), 7 string (u16 length +
UTF-8), 8 timestamp (i64 milliseconds since the epoch), 9 UUID (16 bytes). Decoded
values are ``bool``, ``int``, ``bytes``, ``str`` (invalid UTF-8 becomes U+FFFD),
timezone-aware ``datetime`` in UTC and ``uuid.UUID``.

Checks: the prelude CRC is verified as soon as the 12 prelude bytes are in (so a
corrupt length is never waited for), then the lengths (a message is at least 16
bytes, its headers fit in it, it is within ``max_message_bytes``), then the message
CRC over the whole message, then the headers (known types, in bounds, non-empty
unique names). Both checksums are the IEEE CRC32 that :func:`zlib.crc32` computes;
the message CRC continues from the prelude CRC, so every byte is checksummed once.

Errors raise :class:`alchemy.EventStreamError` naming the problem and the byte of
the stream where the bad message starts. Completed messages are never lost to an
error: when a chunk completes some messages before a bad one, ``feed`` returns
them and the next ``feed`` or ``flush`` raises. A decoder that failed stays failed.
``flush()`` ends the stream and raises if it ended inside a message.

Cost is linear in the input for any chunking: messages inside a chunk are parsed
in place; the bytes of a message split across chunks are kept as a list of
fragments and joined once, when the message is complete. Repeated header blocks
(a stream sends the same few again and again) are parsed once and copied after.
"""

from __future__ import annotations

import struct
import sys
import zlib
from typing import TYPE_CHECKING, Any, ClassVar, Final, Union, cast

from ..errors import EventStreamError

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "EventStreamDecoder", "EventStreamMessage", "HeaderValue"]

HeaderValue = Union[bool, int, bytes, str, "datetime", "uuid.UUID"]
"""A decoded header value."""

DEFAULT_MAX_MESSAGE_BYTES: Final = 24 * 1024 * 1024 + 128 * 1024 + 16
"""Default bound on one message: AWS's 24 MiB payload and 128 KiB headers limits, plus framing."""

_PRELUDE: Final = 12
_MINIMUM: Final = 16  # prelude and trailer, no headers, no payload
_HEADER_CACHE_SIZE: Final = 64

_U32_PAIR = struct.Struct(">II")
_unpack_lengths = _U32_PAIR.unpack_from
_unpack_u32 = struct.Struct(">I").unpack_from
_unpack_i16 = struct.Struct(">h").unpack_from
_unpack_i32 = struct.Struct(">i").unpack_from
_unpack_i64 = struct.Struct(">q").unpack_from
_unpack_u16 = struct.Struct(">H").unpack_from
_crc32 = zlib.crc32


class EventStreamMessage:
    """One decoded event-stream message: its ``headers`` and raw ``payload``; immutable.

    ``message_type`` (``"event"``, ``"exception"`` or ``"error"``), ``event_type``,
    ``exception_type`` and ``content_type`` read the standard ``:``-prefixed headers
    (``None`` when absent). Messages compare equal when their headers and payloads
    are equal, whichever twin made them.
    """

    __slots__ = ("headers", "payload")
    __match_args__ = ("headers", "payload")

    # Marks both twins' message classes, so they compare equal to each other.
    _alchemy_eventstream_message: ClassVar[bool] = True

    headers: dict[str, HeaderValue]
    payload: bytes

    def __init__(self, headers: dict[str, HeaderValue], payload: bytes) -> None:
        _check_message_fields(headers, payload)
        _set_headers(self, headers)
        _set_payload(self, payload)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"EventStreamMessage is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"EventStreamMessage is immutable: cannot delete {name!r}")

    @property
    def message_type(self) -> str | None:
        """The ``:message-type`` header: ``"event"``, ``"exception"`` or ``"error"``."""
        return _text_header(self.headers, ":message-type")

    @property
    def event_type(self) -> str | None:
        """The ``:event-type`` header of an event, e.g. ``"contentBlockDelta"``."""
        return _text_header(self.headers, ":event-type")

    @property
    def exception_type(self) -> str | None:
        """The ``:exception-type`` header of an exception, e.g. ``"throttlingException"``."""
        return _text_header(self.headers, ":exception-type")

    @property
    def content_type(self) -> str | None:
        """The ``:content-type`` header of the payload, e.g. ``"application/json"``."""
        return _text_header(self.headers, ":content-type")

    def __eq__(self, other: object) -> bool:
        if not getattr(type(other), "_alchemy_eventstream_message", False):
            return NotImplemented
        theirs = cast(EventStreamMessage, other)  # or the other twin's class, same fields
        return self.payload == theirs.payload and self.headers == theirs.headers

    __hash__ = None  # type: ignore[assignment]  # the headers dict is mutable

    def __repr__(self) -> str:
        return f"EventStreamMessage(headers={self.headers!r}, payload={self.payload!r})"

    def __reduce__(self) -> tuple[type[EventStreamMessage], tuple[dict[str, HeaderValue], bytes]]:
        return (EventStreamMessage, (dict(self.headers), self.payload))


# The slot setters write the fields directly (``__setattr__`` refuses to), which is
# also the cheapest way for the decoder to fill a new message.
_set_headers: Any = EventStreamMessage.__dict__["headers"].__set__
_set_payload: Any = EventStreamMessage.__dict__["payload"].__set__
_new_message: Any = object.__new__


def _text_header(headers: dict[str, HeaderValue], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) else None


def _check_message_fields(headers: object, payload: object) -> None:
    if not isinstance(headers, dict):
        raise TypeError(f"EventStreamMessage.headers must be a dict, not {type(headers).__name__}")
    for name in headers:
        if not isinstance(name, str):
            raise TypeError(f"EventStreamMessage header names must be str, not {type(name).__name__}")
    if not isinstance(payload, bytes):
        raise TypeError(f"EventStreamMessage.payload must be bytes, not {type(payload).__name__}")


def _limit_from(max_message_bytes: object) -> int:
    """Validates ``max_message_bytes`` and returns the limit as an int (unbounded: sys.maxsize)."""
    if max_message_bytes is None:
        return sys.maxsize
    if type(max_message_bytes) is not int:
        raise TypeError(
            f"max_message_bytes must be a positive int or None, not {type(max_message_bytes).__name__}"
        )
    if max_message_bytes < _MINIMUM:
        raise ValueError(f"max_message_bytes must be at least {_MINIMUM} or None, not {max_message_bytes!r}")
    return min(max_message_bytes, sys.maxsize)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"EventStreamDecoder expects bytes chunks, not {type(chunk).__name__}")


_NOT_PICKLABLE: Final = "EventStreamDecoder holds the state of one live stream; it cannot be pickled or copied"


class _Corrupt(Exception):
    """Internal: a malformed message; its text becomes the decoder's error."""


# The messages below are shared word for word with the compiled twin.


def _prelude_mismatch(offset: int, expected: int, computed: int) -> str:
    return (
        f"event-stream prelude checksum mismatch in the message at byte {offset}: "
        f"the frame says 0x{expected:08x}, its bytes give 0x{computed:08x}"
    )


def _message_mismatch(offset: int, expected: int, computed: int) -> str:
    return (
        f"event-stream message checksum mismatch in the message at byte {offset}: "
        f"the frame says 0x{expected:08x}, its bytes give 0x{computed:08x}"
    )


def _bad_lengths(offset: int, total: int, headers_length: int, limit: int) -> str | None:
    """Why a verified prelude's lengths cannot be a message, or ``None`` when they can."""
    if total < _MINIMUM:
        return f"event-stream message at byte {offset} declares {total} bytes, less than the 16-byte minimum"
    if total > limit:
        return f"event-stream message at byte {offset} declares {total} bytes, more than max_message_bytes={limit}"
    if headers_length > total - _MINIMUM:
        return (
            f"event-stream message at byte {offset} declares {headers_length} bytes of headers, "
            f"more than its {total} bytes leave room for"
        )
    return None


def _truncated_message(offset: int, held: int, need: int) -> str:
    if need == _PRELUDE:
        return (
            f"event-stream ended inside the message at byte {offset}: "
            f"{held} of its 12 prelude bytes received"
        )
    return f"event-stream ended inside the message at byte {offset}: {held} of its {need} bytes received"


def _parse_headers(block: bytes, offset: int) -> dict[str, HeaderValue]:
    """The headers of a header block; raises :class:`_Corrupt` when they are malformed."""
    headers: dict[str, HeaderValue] = {}
    end = len(block)
    i = 0
    number = 0
    while i < end:
        number += 1
        name_length = block[i]
        if name_length == 0:
            raise _Corrupt(f"event-stream message at byte {offset}: header {number} has an empty name")
        i += 1
        if i + name_length + 1 > end:
            raise _Corrupt(f"event-stream message at byte {offset}: header {number} runs past the end of the headers")
        name = block[i : i + name_length].decode("utf-8", "replace")
        i += name_length
        kind = block[i]
        i += 1
        value: HeaderValue
        if kind == 7 or kind == 6:
            if i + 2 > end:
                raise _Corrupt(f"event-stream message at byte {offset}: header {name!r} runs past the end of the headers")
            (size,) = _unpack_u16(block, i)
            i += 2
            if i + size > end:
                raise _Corrupt(f"event-stream message at byte {offset}: header {name!r} runs past the end of the headers")
            raw = block[i : i + size]
            i += size
            value = raw.decode("utf-8", "replace") if kind == 7 else raw
        elif kind == 0 or kind == 1:
            value = kind == 0
        else:
            size = _FIXED_SIZES.get(kind, -1)
            if size < 0:
                raise _Corrupt(f"event-stream message at byte {offset}: header {name!r} has unknown value type {kind}")
            if i + size > end:
                raise _Corrupt(f"event-stream message at byte {offset}: header {name!r} runs past the end of the headers")
            if kind == 4:
                (value,) = _unpack_i32(block, i)
            elif kind == 2:
                value = block[i] - 256 if block[i] > 127 else block[i]
            elif kind == 3:
                (value,) = _unpack_i16(block, i)
            elif kind == 5:
                (value,) = _unpack_i64(block, i)
            elif kind == 8:
                (milliseconds,) = _unpack_i64(block, i)
                try:
                    value = _timestamp(milliseconds)
                except OverflowError:
                    raise _Corrupt(
                        f"event-stream message at byte {offset}: header {name!r} timestamp "
                        f"{milliseconds} is out of range"
                    ) from None
            else:
                value = _uuid(block[i : i + 16])
            i += size
        if name in headers:
            raise _Corrupt(f"event-stream message at byte {offset}: duplicate header {name!r}")
        headers[name] = value
    return headers


def _timestamp(milliseconds: int) -> datetime:
    """A timestamp header's value (datetime and uuid load only when a stream uses them)."""
    from datetime import datetime, timedelta, timezone

    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=milliseconds)


def _uuid(raw: bytes) -> uuid.UUID:
    import uuid

    return uuid.UUID(bytes=raw)


# value type -> size in bytes, for the fixed-size types after the booleans
_FIXED_SIZES: Final = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


class EventStreamDecoder:
    """Incremental decoder of an AWS event-stream body: bytes in, messages out.

    ``feed(chunk)`` returns the messages completed by ``chunk`` (any chunking, down
    to one byte at a time); ``flush()`` ends the stream, raising
    :class:`alchemy.EventStreamError` if it ended inside a message, and readies the
    decoder for a new stream.
    """

    __slots__ = ("_limit", "_max_message_bytes", "_parts", "_held", "_need", "_offset", "_header_cache", "_error")

    def __init__(self, max_message_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._limit = _limit_from(max_message_bytes)
        self._max_message_bytes = max_message_bytes
        # The unfinished message: fragments joined once it is complete.
        self._parts: list[bytes] = []
        self._held = 0
        # Bytes the unfinished part needs: the prelude (12), then the whole message.
        self._need = _PRELUDE
        # Stream offset of the first byte of the next (or unfinished) message.
        self._offset = 0
        # header block bytes -> parsed headers, for the blocks a stream repeats.
        self._header_cache: dict[bytes, dict[str, HeaderValue]] = {}
        self._error: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(_NOT_PICKLABLE)

    @property
    def max_message_bytes(self) -> int | None:
        """The bound on one message's size, or ``None`` when unbounded."""
        return self._max_message_bytes

    @property
    def buffered(self) -> int:
        """How many bytes of an unfinished message are held."""
        return self._held

    @property
    def position(self) -> int:
        """The stream offset of the next message's first byte (bytes of complete messages so far)."""
        return self._offset

    def feed(self, chunk: bytes) -> list[EventStreamMessage]:
        """Decodes one network chunk; returns the messages it completed."""
        if self._error is not None:
            raise EventStreamError(self._error)
        if type(chunk) is not bytes:
            chunk = _as_bytes(chunk)
        size = len(chunk)
        if not size:
            return []
        messages: list[EventStreamMessage] = []
        try:
            self._decode(chunk, size, messages)
        except _Corrupt as exc:
            self._error = error = str(exc)
            if not messages:
                raise EventStreamError(error) from None
        return messages

    def _decode(self, chunk: bytes, size: int, messages: list[EventStreamMessage]) -> None:
        """Appends the messages ``chunk`` completes; raises :class:`_Corrupt` at a bad one."""
        position = 0
        # First finish the message left unfinished by earlier chunks.
        while self._held:
            remaining = size - position
            if not remaining:
                return
            missing = self._need - self._held
            if remaining < missing:
                self._parts.append(chunk[position:] if position else chunk)
                self._held += remaining
                return
            self._parts.append(chunk[position : position + missing])
            self._held += missing
            position += missing
            data = b"".join(self._parts)
            if self._need == _PRELUDE:
                self._need = self._verified_length(data, 0)
                self._parts = [data]
                continue
            self._parts = []
            self._held = 0
            self._need = _PRELUDE
            messages.append(self._message(data, 0, len(data)))

        # Then every message that lies whole in the chunk, parsed in place.
        while True:
            remaining = size - position
            if remaining < _PRELUDE:
                if remaining:
                    self._parts = [chunk[position:]]
                    self._held = remaining
                    self._need = _PRELUDE
                return
            total = self._verified_length(chunk, position)
            if remaining < total:
                self._parts = [chunk[position:] if position else chunk]
                self._held = remaining
                self._need = total
                return
            messages.append(self._message(chunk, position, total))
            position += total

    def flush(self) -> list[EventStreamMessage]:
        """Ends the stream and resets for a new one; raises if it ended inside a message.

        Returns the messages completed at the end of the stream, which is always none
        (a message is handed out by the ``feed`` that completes it).
        """
        if self._error is not None:
            raise EventStreamError(self._error)
        held, need, offset = self._held, self._need, self._offset
        self._parts = []
        self._held = 0
        self._need = _PRELUDE
        self._offset = 0
        if held:
            message = _truncated_message(offset, held, need)
            raise EventStreamError(message)
        return []

    # -- internals ---------------------------------------------------------------------------

    def _verified_length(self, data: bytes, start: int) -> int:
        """The total length of the message whose prelude is at ``start``, once the prelude checks out."""
        total, headers_length = _unpack_lengths(data, start)
        (expected,) = _unpack_u32(data, start + 8)
        computed = _crc32(data[start : start + 8])
        if computed != expected:
            raise _Corrupt(_prelude_mismatch(self._offset, expected, computed))
        error = _bad_lengths(self._offset, total, headers_length, self._limit)
        if error is not None:
            raise _Corrupt(error)
        return int(total)

    def _message(self, data: bytes, start: int, total: int) -> EventStreamMessage:
        """The message of ``total`` bytes at ``start``, its prelude already verified."""
        offset = self._offset
        end = start + total
        (headers_length,) = _unpack_u32(data, start + 4)
        (prelude_crc,) = _unpack_u32(data, start + 8)
        (expected,) = _unpack_u32(data, end - 4)
        computed = _crc32(memoryview(data)[start + 8 : end - 4], prelude_crc)
        if computed != expected:
            raise _Corrupt(_message_mismatch(offset, expected, computed))
        headers_start = start + _PRELUDE
        payload_start = headers_start + headers_length
        headers: dict[str, HeaderValue]
        if headers_length:
            block = data[headers_start:payload_start]
            cache = self._header_cache
            known = cache.get(block)
            if known is not None:
                headers = known.copy()
            else:
                headers = _parse_headers(block, offset)
                if len(cache) < _HEADER_CACHE_SIZE:
                    cache[block] = headers.copy()
        else:
            headers = {}
        message: EventStreamMessage = _new_message(EventStreamMessage)
        _set_headers(message, headers)
        _set_payload(message, data[payload_start : end - 4])
        self._offset = offset + total
        return message
