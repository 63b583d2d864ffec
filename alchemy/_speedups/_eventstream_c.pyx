# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""AWS event-stream decoder, compiled twin.

Behaves exactly like the pure twin ``_eventstream_py.py``, which is the
specification (read its docstring for the framing, the checks, the errors and the
``max_message_bytes`` limit). Import the public names from :mod:`alchemy._speedups`,
never from a twin.

How it is fast: the lengths and checksums of a message are read straight from the
chunk's memory; a message split across chunks is gathered in one growable C buffer
(amortised doubling, so linear for any chunking); both CRCs are :func:`zlib.crc32`
over memoryviews of that memory (no copies), the message CRC continuing from the
prelude CRC; a header block the stream already sent is looked up, not parsed.
"""

cimport cython
from cpython.buffer cimport PyBUF_READ
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

import sys
import zlib

from ..errors import EventStreamError

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "EventStreamDecoder", "EventStreamMessage"]

DEFAULT_MAX_MESSAGE_BYTES = 24 * 1024 * 1024 + 128 * 1024 + 16

cdef Py_ssize_t _PRELUDE = 12
cdef Py_ssize_t _MINIMUM = 16
cdef Py_ssize_t _HEADER_CACHE_SIZE = 64
# A buffer grown past this is released when its message is done.
cdef Py_ssize_t _KEEP_CAPACITY = 1 << 20

cdef object _crc32 = zlib.crc32


cdef inline uint32_t _u32(const unsigned char* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]


cdef inline uint32_t _crc(const unsigned char* p, Py_ssize_t n, uint32_t start) except? 0xFFFFFFFF:
    """zlib.crc32 over C memory (a memoryview, no copy)."""
    return _crc32(PyMemoryView_FromMemory(<char*>p, n, PyBUF_READ), start)


class _Corrupt(Exception):
    """Internal: a malformed message; its text becomes the decoder's error."""


# The messages below must match _eventstream_py.py word for word (the twin tests compare them).

cdef str _prelude_mismatch(long long offset, uint32_t expected, uint32_t computed):
    return (
        f"event-stream prelude checksum mismatch in the message at byte {offset}: "
        f"the frame says 0x{expected:08x}, its bytes give 0x{computed:08x}"
    )


cdef str _message_mismatch(long long offset, uint32_t expected, uint32_t computed):
    return (
        f"event-stream message checksum mismatch in the message at byte {offset}: "
        f"the frame says 0x{expected:08x}, its bytes give 0x{computed:08x}"
    )


cdef str _bad_lengths(long long offset, Py_ssize_t total, Py_ssize_t headers_length, Py_ssize_t limit):
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


cdef str _truncated_message(long long offset, Py_ssize_t held, Py_ssize_t need):
    if need == _PRELUDE:
        return (
            f"event-stream ended inside the message at byte {offset}: "
            f"{held} of its 12 prelude bytes received"
        )
    return f"event-stream ended inside the message at byte {offset}: {held} of its {need} bytes received"


cdef object _timestamp(int64_t milliseconds):
    """A timestamp header's value (datetime and uuid load only when a stream uses them)."""
    from datetime import datetime, timedelta, timezone

    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=milliseconds)


cdef object _uuid(bytes raw):
    import uuid

    return uuid.UUID(bytes=raw)


cdef inline _past_end(long long offset, object name):
    return _Corrupt(f"event-stream message at byte {offset}: header {name!r} runs past the end of the headers")


cdef dict _parse_headers(const unsigned char* block, Py_ssize_t end, long long offset):
    """The headers of a header block; raises _Corrupt when they are malformed."""
    cdef dict headers = {}
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t number = 0
    cdef Py_ssize_t name_length, size
    cdef unsigned char kind
    cdef int64_t milliseconds
    cdef str name
    cdef object value
    while i < end:
        number += 1
        name_length = block[i]
        if name_length == 0:
            raise _Corrupt(f"event-stream message at byte {offset}: header {number} has an empty name")
        i += 1
        if i + name_length + 1 > end:
            raise _Corrupt(f"event-stream message at byte {offset}: header {number} runs past the end of the headers")
        name = PyUnicode_DecodeUTF8(<const char*>block + i, name_length, "replace")
        i += name_length
        kind = block[i]
        i += 1
        if kind == 7 or kind == 6:
            if i + 2 > end:
                raise _past_end(offset, name)
            size = (<Py_ssize_t>block[i] << 8) | block[i + 1]
            i += 2
            if i + size > end:
                raise _past_end(offset, name)
            if kind == 7:
                value = PyUnicode_DecodeUTF8(<const char*>block + i, size, "replace")
            else:
                value = PyBytes_FromStringAndSize(<const char*>block + i, size)
            i += size
        elif kind == 0 or kind == 1:
            value = kind == 0
        else:
            if kind == 2:
                size = 1
            elif kind == 3:
                size = 2
            elif kind == 4:
                size = 4
            elif kind == 5 or kind == 8:
                size = 8
            elif kind == 9:
                size = 16
            else:
                raise _Corrupt(f"event-stream message at byte {offset}: header {name!r} has unknown value type {kind}")
            if i + size > end:
                raise _past_end(offset, name)
            if kind == 4:
                value = <int32_t>_u32(block + i)
            elif kind == 2:
                value = <signed char>block[i]
            elif kind == 3:
                value = <int16_t>((<uint32_t>block[i] << 8) | block[i + 1])
            elif kind == 9:
                value = _uuid(PyBytes_FromStringAndSize(<const char*>block + i, 16))
            else:
                milliseconds = <int64_t>((<uint64_t>_u32(block + i) << 32) | _u32(block + i + 4))
                if kind == 5:
                    value = milliseconds
                else:
                    try:
                        value = _timestamp(milliseconds)
                    except OverflowError:
                        raise _Corrupt(
                            f"event-stream message at byte {offset}: header {name!r} timestamp "
                            f"{milliseconds} is out of range"
                        ) from None
            i += size
        if name in headers:
            raise _Corrupt(f"event-stream message at byte {offset}: duplicate header {name!r}")
        headers[name] = value
    return headers


cdef inline object _text_header(dict headers, str name):
    value = headers.get(name)
    return value if isinstance(value, str) else None


cdef _check_message_fields(headers, payload):
    if not isinstance(headers, dict):
        raise TypeError(f"EventStreamMessage.headers must be a dict, not {type(headers).__name__}")
    for name in headers:
        if not isinstance(name, str):
            raise TypeError(f"EventStreamMessage header names must be str, not {type(name).__name__}")
    if not isinstance(payload, bytes):
        raise TypeError(f"EventStreamMessage.payload must be bytes, not {type(payload).__name__}")


@cython.freelist(64)
cdef class EventStreamMessage:
    """One decoded event-stream message: its ``headers`` and raw ``payload``; immutable.

    ``message_type`` (``"event"``, ``"exception"`` or ``"error"``), ``event_type``,
    ``exception_type`` and ``content_type`` read the standard ``:``-prefixed headers
    (``None`` when absent). Messages compare equal when their headers and payloads
    are equal, whichever twin made them.
    """

    cdef readonly dict headers
    cdef readonly bytes payload

    __match_args__ = ("headers", "payload")

    # Marks both twins' message classes, so they compare equal to each other.
    _alchemy_eventstream_message = True

    def __init__(self, headers, payload):
        _check_message_fields(headers, payload)
        self.headers = headers
        self.payload = payload

    def __setattr__(self, name, value):
        raise AttributeError(f"EventStreamMessage is immutable: cannot set {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"EventStreamMessage is immutable: cannot delete {name!r}")

    @property
    def message_type(self):
        """The ``:message-type`` header: ``"event"``, ``"exception"`` or ``"error"``."""
        return _text_header(self.headers, ":message-type")

    @property
    def event_type(self):
        """The ``:event-type`` header of an event, e.g. ``"contentBlockDelta"``."""
        return _text_header(self.headers, ":event-type")

    @property
    def exception_type(self):
        """The ``:exception-type`` header of an exception, e.g. ``"throttlingException"``."""
        return _text_header(self.headers, ":exception-type")

    @property
    def content_type(self):
        """The ``:content-type`` header of the payload, e.g. ``"application/json"``."""
        return _text_header(self.headers, ":content-type")

    def __eq__(self, other):
        if not getattr(type(other), "_alchemy_eventstream_message", False):
            return NotImplemented
        return self.payload == other.payload and self.headers == other.headers

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self):
        return f"EventStreamMessage(headers={self.headers!r}, payload={self.payload!r})"

    def __reduce__(self):
        return (EventStreamMessage, (dict(self.headers), self.payload))


cdef Py_ssize_t _limit_from(max_message_bytes) except -1:
    if max_message_bytes is None:
        return sys.maxsize
    if type(max_message_bytes) is not int:
        raise TypeError(
            f"max_message_bytes must be a positive int or None, not {type(max_message_bytes).__name__}"
        )
    if max_message_bytes < _MINIMUM:
        raise ValueError(f"max_message_bytes must be at least {_MINIMUM} or None, not {max_message_bytes!r}")
    return min(max_message_bytes, sys.maxsize)


cdef bytes _as_bytes(chunk):
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"EventStreamDecoder expects bytes chunks, not {type(chunk).__name__}")


cdef str _NOT_PICKLABLE = "EventStreamDecoder holds the state of one live stream; it cannot be pickled or copied"


cdef class EventStreamDecoder:
    """Incremental decoder of an AWS event-stream body: bytes in, messages out.

    ``feed(chunk)`` returns the messages completed by ``chunk`` (any chunking, down
    to one byte at a time); ``flush()`` ends the stream, raising
    :class:`alchemy.EventStreamError` if it ended inside a message, and readies the
    decoder for a new stream.
    """

    cdef Py_ssize_t _limit
    cdef object _max_message_bytes
    # The unfinished message (bytes of earlier chunks).
    cdef unsigned char* _buffer
    cdef Py_ssize_t _held
    cdef Py_ssize_t _capacity
    # Bytes the unfinished part needs: the prelude (12), then the whole message.
    cdef Py_ssize_t _need
    # Stream offset of the first byte of the next (or unfinished) message.
    cdef long long _offset
    # header block bytes -> parsed headers, for the blocks a stream repeats.
    cdef dict _header_cache
    cdef object _error

    def __cinit__(self):
        self._buffer = NULL
        self._capacity = 0

    def __dealloc__(self):
        PyMem_Free(self._buffer)

    def __init__(self, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES):
        self._limit = _limit_from(max_message_bytes)
        self._max_message_bytes = max_message_bytes
        self._held = 0
        self._need = _PRELUDE
        self._offset = 0
        self._header_cache = {}
        self._error = None

    def __reduce__(self):
        raise TypeError(_NOT_PICKLABLE)

    @property
    def max_message_bytes(self):
        """The bound on one message's size, or ``None`` when unbounded."""
        return self._max_message_bytes

    @property
    def buffered(self):
        """How many bytes of an unfinished message are held."""
        return self._held

    @property
    def position(self):
        """The stream offset of the next message's first byte (bytes of complete messages so far)."""
        return self._offset

    def feed(self, chunk):
        """Decodes one network chunk; returns the messages it completed."""
        if self._error is not None:
            raise EventStreamError(self._error)
        if type(chunk) is not bytes:
            chunk = _as_bytes(chunk)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(chunk)
        if size == 0:
            return []
        cdef list messages = []
        try:
            self._decode(<const unsigned char*>PyBytes_AS_STRING(chunk), size, messages)
        except _Corrupt as exc:
            self._error = error = str(exc)
            if not messages:
                raise EventStreamError(error) from None
        return messages

    def flush(self):
        """Ends the stream and resets for a new one; raises if it ended inside a message.

        Returns the messages completed at the end of the stream, which is always none
        (a message is handed out by the ``feed`` that completes it).
        """
        if self._error is not None:
            raise EventStreamError(self._error)
        cdef Py_ssize_t held = self._held
        cdef Py_ssize_t need = self._need
        cdef long long offset = self._offset
        self._held = 0
        self._need = _PRELUDE
        self._offset = 0
        self._release_large()
        if held:
            raise EventStreamError(_truncated_message(offset, held, need))
        return []

    # -- internals ---------------------------------------------------------------------------

    cdef int _decode(self, const unsigned char* data, Py_ssize_t size, list messages) except -1:
        """Appends the messages the chunk completes; raises _Corrupt at a bad one."""
        cdef Py_ssize_t position = 0
        cdef Py_ssize_t remaining, missing, total
        # First finish the message left unfinished by earlier chunks.
        while self._held:
            remaining = size - position
            if remaining == 0:
                return 0
            missing = self._need - self._held
            if remaining < missing:
                self._append(data + position, remaining)
                return 0
            self._append(data + position, missing)
            position += missing
            if self._need == _PRELUDE:
                self._need = self._verified_length(self._buffer)
                continue
            total = self._held
            self._held = 0
            self._need = _PRELUDE
            messages.append(self._message(self._buffer, total))
            self._release_large()

        # Then every message that lies whole in the chunk, parsed in place.
        while True:
            remaining = size - position
            if remaining < _PRELUDE:
                if remaining:
                    self._append(data + position, remaining)
                    self._need = _PRELUDE
                return 0
            total = self._verified_length(data + position)
            if remaining < total:
                self._append(data + position, remaining)
                self._need = total
                return 0
            messages.append(self._message(data + position, total))
            position += total

    cdef int _append(self, const unsigned char* data, Py_ssize_t n) except -1:
        """Adds ``n`` bytes to the unfinished message (amortised doubling)."""
        cdef Py_ssize_t needed = self._held + n
        cdef Py_ssize_t capacity
        cdef unsigned char* grown
        if needed > self._capacity:
            capacity = self._capacity * 2
            if capacity < needed:
                capacity = needed
            if capacity < 256:
                capacity = 256
            grown = <unsigned char*>PyMem_Realloc(self._buffer, <size_t>capacity)
            if grown is NULL:
                raise MemoryError("EventStreamDecoder could not grow its buffer")
            self._buffer = grown
            self._capacity = capacity
        memcpy(self._buffer + self._held, data, <size_t>n)
        self._held = needed
        return 0

    cdef void _release_large(self):
        if self._capacity > _KEEP_CAPACITY:
            PyMem_Free(self._buffer)
            self._buffer = NULL
            self._capacity = 0

    cdef Py_ssize_t _verified_length(self, const unsigned char* prelude) except -1:
        """The total length of the message whose prelude starts at ``prelude``, once it checks out."""
        cdef uint32_t expected = _u32(prelude + 8)
        cdef uint32_t computed = _crc(prelude, 8, 0)
        if computed != expected:
            raise _Corrupt(_prelude_mismatch(self._offset, expected, computed))
        cdef Py_ssize_t total = _u32(prelude)
        cdef Py_ssize_t headers_length = _u32(prelude + 4)
        error = _bad_lengths(self._offset, total, headers_length, self._limit)
        if error is not None:
            raise _Corrupt(error)
        return total

    cdef EventStreamMessage _message(self, const unsigned char* data, Py_ssize_t total):
        """The message of ``total`` bytes at ``data``, its prelude already verified."""
        cdef long long offset = self._offset
        cdef Py_ssize_t headers_length = _u32(data + 4)
        cdef uint32_t expected = _u32(data + total - 4)
        cdef uint32_t computed = _crc(data + 8, total - 12, _u32(data + 8))
        if computed != expected:
            raise _Corrupt(_message_mismatch(offset, expected, computed))
        cdef dict headers
        cdef object known
        cdef bytes block
        if headers_length:
            block = PyBytes_FromStringAndSize(<const char*>data + _PRELUDE, headers_length)
            known = self._header_cache.get(block)
            if known is not None:
                headers = (<dict>known).copy()
            else:
                headers = _parse_headers(data + _PRELUDE, headers_length, offset)
                if len(self._header_cache) < _HEADER_CACHE_SIZE:
                    self._header_cache[block] = headers.copy()
        else:
            headers = {}
        cdef EventStreamMessage message = EventStreamMessage.__new__(EventStreamMessage)
        message.headers = headers
        message.payload = PyBytes_FromStringAndSize(
            <const char*>data + _PRELUDE + headers_length, total - 16 - headers_length
        )
        self._offset = offset + total
        return message
