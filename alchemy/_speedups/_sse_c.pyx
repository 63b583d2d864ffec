# cython: language_level=3, embedsignature=True, boundscheck=False, wraparound=False, cdivision=True
"""SSE decoder, compiled twin.

Behaves exactly like the pure twin ``_sse_py.py``, which is the specification (read
its docstring for the parsing rules, the ``max_event_bytes`` limit and the
``feed_raw`` fast path for providers). Import the public names from
:mod:`alchemy._speedups`, never from a twin.

How it is fast: each chunk is scanned once with ``memchr`` for LF and for CR
(each byte is looked at by each search at most once); complete lines are parsed
in place in the chunk's memory; an unfinished line and the event's data buffer
live in two growable C buffers (amortised doubling, so linear for any chunking);
one UTF-8 decode per dispatched event, straight from the data buffer.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcmp, memcpy

import sys

from ..errors import SSEError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024

cdef str _MESSAGE = "message"
cdef str _EMPTY = ""
cdef const char* _BOM = b"\xef\xbb\xbf"
# Buffers grown past this are released when their event or stream is done.
cdef Py_ssize_t _KEEP_CAPACITY = 1 << 20
# retry values with at most this many digits are parsed in C (they fit in a long long).
cdef Py_ssize_t _C_RETRY_DIGITS = 18


# The messages below must match _sse_py.py word for word (the twin tests compare them).

cdef _check_event_fields(event, data, id, retry):
    if not isinstance(event, str):
        raise TypeError(f"ServerSentEvent.event must be str, not {type(event).__name__}")
    if not isinstance(data, str):
        raise TypeError(f"ServerSentEvent.data must be str, not {type(data).__name__}")
    if id is not None and not isinstance(id, str):
        raise TypeError(f"ServerSentEvent.id must be str or None, not {type(id).__name__}")
    if retry is not None:
        if not isinstance(retry, int) or isinstance(retry, bool):
            raise TypeError(f"ServerSentEvent.retry must be int or None, not {type(retry).__name__}")
        if retry < 0:
            raise ValueError(f"ServerSentEvent.retry must not be negative, got {retry}")


cdef Py_ssize_t _limit_from(max_event_bytes) except -1:
    if max_event_bytes is None:
        return sys.maxsize
    if type(max_event_bytes) is not int:
        raise TypeError(f"max_event_bytes must be a positive int or None, not {type(max_event_bytes).__name__}")
    if max_event_bytes < 1:
        raise ValueError(f"max_event_bytes must be a positive int or None, not {max_event_bytes!r}")
    return min(max_event_bytes, sys.maxsize)


cdef bytes _as_bytes(chunk):
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"SSEDecoder expects bytes chunks, not {type(chunk).__name__}")


cdef str _NOT_PICKLABLE = "SSEDecoder holds the state of one live stream; it cannot be pickled or copied"


cdef str _too_large_message(Py_ssize_t limit):
    return (
        f"server-sent event larger than max_event_bytes={limit}: the data of one event plus the line "
        "being read exceeded the limit; raise max_event_bytes (or pass None) if the stream is trusted"
    )


cdef object _parse_retry(const char* digits, Py_ssize_t n):
    """The value of an all-ASCII-digits retry field; None past int()'s digit limit."""
    cdef long long value = 0
    cdef Py_ssize_t i
    if n <= _C_RETRY_DIGITS:
        for i in range(n):
            value = value * 10 + (digits[i] - 48)
        return value
    try:
        return int(PyBytes_FromStringAndSize(digits, n))
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        return None


cdef inline bint _all_digits(const char* s, Py_ssize_t n):
    cdef Py_ssize_t i
    for i in range(n):
        if s[i] < b"0" or s[i] > b"9":
            return False
    return True


cdef inline str _decode_utf8(const char* s, Py_ssize_t n):
    return PyUnicode_DecodeUTF8(s, n, "replace")


@cython.freelist(64)
cdef class ServerSentEvent:
    """One dispatched server-sent event; an immutable value.

    ``id`` is the decoder's last-event-ID at dispatch (``None`` while it is empty),
    ``retry`` the reconnection time given by a valid ``retry`` field of this very
    event block (``None`` if it had none). Events compare equal when their four
    fields are equal, whichever twin made them.
    """

    cdef readonly object event
    cdef readonly object data
    cdef readonly object id
    cdef readonly object retry

    __match_args__ = ("event", "data", "id", "retry")

    # Marks both twins' event classes, so they compare equal to each other.
    _alchemy_sse_event = True

    def __init__(self, event="message", data="", id=None, retry=None):
        _check_event_fields(event, data, id, retry)
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry

    def __setattr__(self, name, value):
        raise AttributeError(f"ServerSentEvent is immutable: cannot set {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"ServerSentEvent is immutable: cannot delete {name!r}")

    def __eq__(self, other):
        cdef ServerSentEvent mine
        if type(other) is ServerSentEvent:
            mine = <ServerSentEvent>other
            return (
                self.data == mine.data
                and self.event == mine.event
                and self.id == mine.id
                and self.retry == mine.retry
            )
        if not getattr(type(other), "_alchemy_sse_event", False):
            return NotImplemented
        return (
            self.data == other.data
            and self.event == other.event
            and self.id == other.id
            and self.retry == other.retry
        )

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self):
        return hash((self.event, self.data, self.id, self.retry))

    def __repr__(self):
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"

    def __reduce__(self):
        return (ServerSentEvent, (self.event, self.data, self.id, self.retry))


cdef int _reserve(char** buffer, Py_ssize_t* capacity, Py_ssize_t needed) except -1:
    """Grows a buffer to hold ``needed`` bytes (amortised doubling)."""
    cdef Py_ssize_t new_capacity
    cdef char* grown
    if needed <= capacity[0]:
        return 0
    new_capacity = capacity[0] * 2
    if new_capacity < needed:
        new_capacity = needed
    if new_capacity < 256:
        new_capacity = 256
    grown = <char*>PyMem_Realloc(buffer[0], <size_t>new_capacity)
    if grown is NULL:
        raise MemoryError("SSEDecoder could not grow its buffer")
    buffer[0] = grown
    capacity[0] = new_capacity
    return 0


cdef class SSEDecoder:
    """Incremental decoder of a ``text/event-stream`` body: bytes in, events out.

    ``feed(chunk)`` returns the events completed by ``chunk``; ``flush()`` ends the
    stream (an unfinished event is discarded, as the spec says) and readies the
    decoder for a new stream, keeping ``last_event_id`` and ``retry``.
    """

    cdef Py_ssize_t _limit
    cdef object _max_event_bytes
    # The unfinished line (bytes of earlier chunks).
    cdef char* _line
    cdef Py_ssize_t _line_len
    cdef Py_ssize_t _line_cap
    # The data buffer as the spec builds it: each data value followed by LF.
    cdef char* _data
    cdef Py_ssize_t _data_len
    cdef Py_ssize_t _data_cap
    # The previous chunk ended with CR: an LF starting the next chunk is skipped.
    cdef bint _skip_lf
    # How many bytes of a leading BOM were seen (3: past the start of the stream).
    cdef int _bom_matched
    cdef str _event_name
    # The last event name seen, raw and decoded, reused while a stream repeats it.
    cdef bytes _event_name_raw
    cdef str _event_name_str
    cdef object _block_retry
    # The last-event-ID buffer (set by ``id`` fields) and its value at the last dispatch.
    cdef object _id_buffer
    cdef object _last_event_id
    cdef object _retry
    cdef object _error

    def __cinit__(self):
        self._line = NULL
        self._data = NULL

    def __dealloc__(self):
        PyMem_Free(self._line)
        PyMem_Free(self._data)

    def __init__(self, max_event_bytes=DEFAULT_MAX_EVENT_BYTES):
        self._limit = _limit_from(max_event_bytes)
        self._max_event_bytes = max_event_bytes
        self._line_len = 0
        self._data_len = 0
        self._skip_lf = False
        self._bom_matched = 0
        self._event_name = _EMPTY
        self._event_name_raw = b""
        self._event_name_str = _EMPTY
        self._block_retry = None
        self._id_buffer = None
        self._last_event_id = None
        self._retry = None
        self._error = None

    def __reduce__(self):
        raise TypeError(_NOT_PICKLABLE)

    @property
    def max_event_bytes(self):
        """The bound on the bytes held for one event, or ``None`` when unbounded."""
        return self._max_event_bytes

    @property
    def last_event_id(self):
        """The last event ID (``None`` while empty): the id buffer as of the last dispatched block.

        Persists across events and flushes; an ``id`` in an unfinished block does not change it.
        """
        return self._last_event_id

    @property
    def retry(self):
        """The reconnection time in milliseconds set by the stream, or ``None``."""
        return self._retry

    def feed(self, chunk):
        """Decodes one network chunk; returns the events it completed."""
        return self._decode(chunk, False)

    def feed_raw(self, chunk):
        """Like :meth:`feed`, but returns ``(event_name, data_bytes)`` pairs (provider fast path)."""
        return self._decode(chunk, True)

    def flush(self):
        """Ends the stream: discards an unfinished event and resets for a new stream.

        Returns the events completed at end of stream, which by the spec is always
        none; raises the pending :class:`SSEError` if the limit was crossed.
        """
        if self._error is not None:
            raise SSEError(self._error)
        self._id_buffer = self._last_event_id  # an id of the discarded block does not count
        self._line_len = 0
        self._skip_lf = False
        self._bom_matched = 0
        self._reset_block()
        self._release_large(&self._line, &self._line_cap)
        self._release_large(&self._data, &self._data_cap)
        return []

    cdef inline void _reset_block(self):
        self._data_len = 0
        self._event_name = _EMPTY
        self._block_retry = None

    cdef void _release_large(self, char** buffer, Py_ssize_t* capacity):
        if capacity[0] > _KEEP_CAPACITY:
            PyMem_Free(buffer[0])
            buffer[0] = NULL
            capacity[0] = 0

    cdef list _fail(self, list events):
        """Records the limit error; raises it now unless completed events must be handed out first."""
        message = _too_large_message(self._limit)
        self._error = message
        if events:
            return events
        raise SSEError(message)

    cdef int _append_line(self, const char* start, Py_ssize_t n) except -1:
        _reserve(&self._line, &self._line_cap, self._line_len + n)
        memcpy(self._line + self._line_len, start, <size_t>n)
        self._line_len += n
        return 0

    cdef list _decode(self, chunk, bint raw):
        cdef bytes buffer
        cdef const char* p
        cdef const char* end
        cdef const char* eol
        cdef const char* next_lf = NULL
        cdef const char* next_cr = NULL
        cdef bint lf_known = False
        cdef bint cr_known = False
        cdef const char* line
        cdef Py_ssize_t line_len
        cdef list events = []

        if self._error is not None:
            raise SSEError(self._error)
        if type(chunk) is bytes:
            buffer = <bytes>chunk
        else:
            buffer = _as_bytes(chunk)
        p = PyBytes_AS_STRING(buffer)
        end = p + PyBytes_GET_SIZE(buffer)
        if p == end:
            return events
        if self._skip_lf:
            self._skip_lf = False
            if p[0] == b"\n":
                p += 1
        if self._bom_matched < 3:
            p = self._strip_bom(p, end)

        while p < end:
            # The next line end: the nearer of the next LF and the next CR, each
            # found by memchr and remembered until the scan passes it.
            if not lf_known or (next_lf is not NULL and next_lf < p):
                next_lf = <const char*>memchr(p, b"\n", <size_t>(end - p))
                lf_known = True
            if not cr_known or (next_cr is not NULL and next_cr < p):
                next_cr = <const char*>memchr(p, b"\r", <size_t>(end - p))
                cr_known = True
            if next_cr is NULL or (next_lf is not NULL and next_lf < next_cr):
                eol = next_lf
            else:
                eol = next_cr
            if eol is NULL:
                # No line end left: keep the tail for the next chunk.
                self._append_line(p, end - p)
                if self._data_len + self._line_len > self._limit:
                    return self._fail(events)
                break
            if self._line_len:
                self._append_line(p, eol - p)
                line = self._line
                line_len = self._line_len
                self._line_len = 0
            else:
                line = p
                line_len = eol - p
            if self._data_len + line_len > self._limit:
                return self._fail(events)
            self._process_line(line, line_len, events, raw)
            if line == self._line:
                self._release_large(&self._line, &self._line_cap)
            # Step over the line end; a CR ending the chunk may pair with an LF to come.
            if eol[0] == b"\r":
                if eol + 1 == end:
                    self._skip_lf = True
                elif eol[1] == b"\n":
                    eol += 1
            p = eol + 1
        return events

    cdef const char* _strip_bom(self, const char* p, const char* end) except NULL:
        """Consumes a leading BOM, which may arrive split across chunks.

        Held BOM bytes that turn out not to be a BOM are put back as the start of
        the first line (they are not line ends).
        """
        cdef int held
        while self._bom_matched < 3 and p < end:
            if p[0] == _BOM[self._bom_matched]:
                self._bom_matched += 1
                p += 1
            else:
                held = self._bom_matched
                self._bom_matched = 3
                if held:
                    self._append_line(_BOM, held)
        return p

    cdef int _process_line(self, const char* line, Py_ssize_t n, list events, bint raw) except -1:
        cdef const char* value
        cdef const char* colon
        cdef Py_ssize_t value_len
        cdef Py_ssize_t name_len
        cdef object retry

        if n == 0:
            self._dispatch(events, raw)
            return 0
        if n >= 5 and memcmp(line, b"data:", 5) == 0:
            value = line + 5
            value_len = n - 5
            if value_len and value[0] == b" ":
                value += 1
                value_len -= 1
            self._append_data(value, value_len)
            return 0
        if line[0] == b":":
            return 0
        colon = <const char*>memchr(line, b":", <size_t>n)
        if colon is NULL:
            name_len = n
            value = line + n
            value_len = 0
        else:
            name_len = colon - line
            value = colon + 1
            value_len = n - name_len - 1
            if value_len and value[0] == b" ":
                value += 1
                value_len -= 1
        if name_len == 5 and memcmp(line, b"event", 5) == 0:
            self._set_event_name(value, value_len)
        elif name_len == 4 and memcmp(line, b"data", 4) == 0:
            self._append_data(value, value_len)
        elif name_len == 2 and memcmp(line, b"id", 2) == 0:
            if memchr(value, 0, <size_t>value_len) is NULL:
                self._id_buffer = _decode_utf8(value, value_len) if value_len else None
        elif name_len == 5 and memcmp(line, b"retry", 5) == 0:
            if value_len and _all_digits(value, value_len):
                retry = _parse_retry(value, value_len)
                if retry is not None:
                    self._retry = retry
                    self._block_retry = retry
        return 0

    cdef inline int _append_data(self, const char* value, Py_ssize_t n) except -1:
        _reserve(&self._data, &self._data_cap, self._data_len + n + 1)
        memcpy(self._data + self._data_len, value, <size_t>n)
        self._data[self._data_len + n] = b"\n"
        self._data_len += n + 1
        return 0

    cdef int _set_event_name(self, const char* value, Py_ssize_t n) except -1:
        # Streams repeat a few event names: reuse the last decoded one when it matches.
        cdef bytes cached = self._event_name_raw
        if n != PyBytes_GET_SIZE(cached) or memcmp(PyBytes_AS_STRING(cached), value, <size_t>n) != 0:
            self._event_name_raw = PyBytes_FromStringAndSize(value, n)
            self._event_name_str = _decode_utf8(value, n)
        self._event_name = self._event_name_str
        return 0

    cdef int _dispatch(self, list events, bint raw) except -1:
        cdef ServerSentEvent event
        cdef str name
        self._last_event_id = self._id_buffer
        if self._data_len == 0:
            self._event_name = _EMPTY
            self._block_retry = None
            return 0
        name = self._event_name if self._event_name else _MESSAGE
        if raw:
            events.append((name, PyBytes_FromStringAndSize(self._data, self._data_len - 1)))
        else:
            event = ServerSentEvent.__new__(ServerSentEvent)
            event.event = name
            event.data = _decode_utf8(self._data, self._data_len - 1)
            event.id = self._id_buffer
            event.retry = self._block_retry
            events.append(event)
        self._reset_block()
        self._release_large(&self._data, &self._data_cap)
        return 0

