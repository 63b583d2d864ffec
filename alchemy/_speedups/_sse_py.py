"""SSE decoder, pure-Python twin: the typed specification of the SSE kernel.

The compiled twin (``_sse_c.pyx``) must behave exactly like this module for every
input and every chunking, error messages included. Import the public names from
:mod:`alchemy._speedups` (or :mod:`alchemy.sse`), never from a twin.

Parsing follows the WHATWG HTML "event stream interpretation" rules:

* a leading UTF-8 BOM is stripped (once, at the start of a stream);
* lines end at LF, CR or CRLF, and nowhere else (U+2028, U+2029 and NEL are data);
  a CR that ends a chunk ends its line at once, and an LF that starts the next
  chunk is then skipped, so a CRLF split across chunks is one line end;
* a blank line dispatches the event; lines starting with ``:`` are comments;
  a line with no colon is a field with an empty value; one space after the colon
  is stripped; ``data`` values are joined with LF; a block whose data buffer is
  empty dispatches nothing; ``event`` defaults to ``message``; an ``id`` containing
  NUL is ignored; ``retry`` counts only when it is all ASCII digits; other fields
  are ignored; an event not ended by a blank line before the stream ends is
  discarded;
* an ``id`` field sets the last-event-ID *buffer*; ``last_event_id`` (the event
  source's last event ID) takes the buffer's value only when a block is dispatched,
  i.e. at its blank line, even a block with no data. So an id in a block the stream
  never finishes changes nothing.

Framing works on bytes (CR and LF never occur inside a multi-byte UTF-8 sequence),
and each completed value is decoded as UTF-8 with invalid bytes replaced by U+FFFD.
This is exactly what decoding the whole stream first would give, and a character
split across chunks is never broken, because only whole lines are decoded.

Cost is linear in the input for any chunking, one byte at a time included: an
unfinished line is kept as a list of fragments joined once when its line end
arrives, and no byte is scanned twice.

Limit: ``max_event_bytes`` bounds what the decoder holds for one event, namely
the event's data buffer as the spec builds it (each ``data`` value followed by LF)
plus the line being read, counted in raw bytes. Crossing it raises
:class:`alchemy.SSEError`. Completed events are never lost to the error: when the
limit is crossed after some events of a chunk were completed, ``feed`` returns
those events and the error is raised by the next ``feed`` or ``flush`` call. A
decoder that raised stays failed and raises the same error on every later call.

Fast path for providers (internal): ``feed_raw(chunk)`` takes the same network
chunks and returns ``(event_name, data)`` pairs with ``data`` as the raw UTF-8
``bytes`` of the data buffer, ready for ``orjson.loads`` with no intermediate
``str`` and no :class:`ServerSentEvent` object. It shares all state with
``feed``; ``data.decode("utf-8", "replace")`` is exactly the ``data`` that
``feed`` would have put in the event (invalid UTF-8 is left as received, so a
JSON parser rejects it rather than seeing replacement characters). The id and
retry of the stream stay readable as ``last_event_id`` and ``retry``. End the
stream with ``flush()`` on either path.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, ClassVar, Final, cast

from ..errors import SSEError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
"""Default bound on the bytes held for one event (16 MiB)."""

_BOM: Final = b"\xef\xbb\xbf"
_LF: Final = 0x0A
_CR: Final = 0x0D


class ServerSentEvent:
    """One dispatched server-sent event; an immutable value.

    ``id`` is the decoder's last-event-ID at dispatch (``None`` while it is empty),
    ``retry`` the reconnection time given by a valid ``retry`` field of this very
    event block (``None`` if it had none). Events compare equal when their four
    fields are equal, whichever twin made them.
    """

    __slots__ = ("event", "data", "id", "retry")
    __match_args__ = ("event", "data", "id", "retry")

    # Marks both twins' event classes, so they compare equal to each other.
    _alchemy_sse_event: ClassVar[bool] = True

    event: str
    data: str
    id: str | None
    retry: int | None

    def __init__(
        self, event: str = "message", data: str = "", id: str | None = None, retry: int | None = None
    ) -> None:
        _check_event_fields(event, data, id, retry)
        _set_event(self, event)
        _set_data(self, data)
        _set_id(self, id)
        _set_retry(self, retry)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ServerSentEvent is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"ServerSentEvent is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not getattr(type(other), "_alchemy_sse_event", False):
            return NotImplemented
        theirs = cast(ServerSentEvent, other)  # or the other twin's class, same fields
        return (
            self.data == theirs.data
            and self.event == theirs.event
            and self.id == theirs.id
            and self.retry == theirs.retry
        )

    def __hash__(self) -> int:
        return hash((self.event, self.data, self.id, self.retry))

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"

    def __reduce__(self) -> tuple[type[ServerSentEvent], tuple[str, str, str | None, int | None]]:
        return (ServerSentEvent, (self.event, self.data, self.id, self.retry))


# The slot setters write the fields directly (``__setattr__`` refuses to), which is
# also the cheapest way for the decoder to fill a new event.
_Setter = Callable[[ServerSentEvent, Any], None]
_set_event: _Setter = ServerSentEvent.__dict__["event"].__set__
_set_data: _Setter = ServerSentEvent.__dict__["data"].__set__
_set_id: _Setter = ServerSentEvent.__dict__["id"].__set__
_set_retry: _Setter = ServerSentEvent.__dict__["retry"].__set__
_new_event: Callable[[type[ServerSentEvent]], ServerSentEvent] = object.__new__


def _check_event_fields(event: object, data: object, id: object, retry: object) -> None:
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


def _parse_retry(digits: bytes) -> int | None:
    """The value of an all-ASCII-digits ``retry`` field; ``None`` past int()'s digit limit."""
    try:
        return int(digits)
    except ValueError:  # more digits than sys.get_int_max_str_digits() allows
        return None


def _limit_from(max_event_bytes: object) -> int:
    """Validates ``max_event_bytes`` and returns the limit as an int (unbounded: sys.maxsize)."""
    if max_event_bytes is None:
        return sys.maxsize
    if type(max_event_bytes) is not int:
        raise TypeError(f"max_event_bytes must be a positive int or None, not {type(max_event_bytes).__name__}")
    if max_event_bytes < 1:
        raise ValueError(f"max_event_bytes must be a positive int or None, not {max_event_bytes!r}")
    return min(max_event_bytes, sys.maxsize)


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"SSEDecoder expects bytes chunks, not {type(chunk).__name__}")


_NOT_PICKLABLE: Final = "SSEDecoder holds the state of one live stream; it cannot be pickled or copied"


def _too_large_message(limit: int) -> str:
    return (
        f"server-sent event larger than max_event_bytes={limit}: the data of one event plus the line "
        "being read exceeded the limit; raise max_event_bytes (or pass None) if the stream is trusted"
    )


class SSEDecoder:
    """Incremental decoder of a ``text/event-stream`` body: bytes in, events out.

    ``feed(chunk)`` returns the events completed by ``chunk``; ``flush()`` ends the
    stream (an unfinished event is discarded, as the spec says) and readies the
    decoder for a new stream, keeping ``last_event_id`` and ``retry``.
    """

    __slots__ = (
        "_limit",
        "_max_event_bytes",
        "_partial",
        "_partial_len",
        "_skip_lf",
        "_bom_matched",
        "_data",
        "_data_held",
        "_event_name",
        "_block_retry",
        "_id_buffer",
        "_last_event_id",
        "_retry",
        "_error",
    )

    def __init__(self, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._limit = _limit_from(max_event_bytes)
        self._max_event_bytes = max_event_bytes
        # The unfinished line: fragments joined once its line end arrives.
        self._partial: list[bytes] = []
        self._partial_len = 0
        # The previous chunk ended with CR: an LF starting the next chunk is skipped.
        self._skip_lf = False
        # How many bytes of a leading BOM were seen (3: past the start of the stream).
        self._bom_matched = 0
        # The event block being read: data values (bytes), the data buffer's size in
        # the spec's terms (each value plus LF), event type, retry of this block.
        self._data: list[bytes] = []
        self._data_held = 0
        self._event_name = ""
        self._block_retry: int | None = None
        # The last-event-ID buffer (set by ``id`` fields) and the value it had at the
        # last dispatch, which is what ``last_event_id`` reports.
        self._id_buffer: str | None = None
        self._last_event_id: str | None = None
        self._retry: int | None = None
        self._error: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(_NOT_PICKLABLE)

    @property
    def max_event_bytes(self) -> int | None:
        """The bound on the bytes held for one event, or ``None`` when unbounded."""
        return self._max_event_bytes

    @property
    def last_event_id(self) -> str | None:
        """The last event ID (``None`` while empty): the id buffer as of the last dispatched block.

        Persists across events and flushes; an ``id`` in an unfinished block does not change it.
        """
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds set by the stream, or ``None``."""
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decodes one network chunk; returns the events it completed."""
        return self._decode(chunk, False)

    def feed_raw(self, chunk: bytes) -> list[tuple[str, bytes]]:
        """Like :meth:`feed`, but returns ``(event_name, data_bytes)`` pairs (provider fast path)."""
        return self._decode(chunk, True)

    def flush(self) -> list[ServerSentEvent]:
        """Ends the stream: discards an unfinished event and resets for a new stream.

        Returns the events completed at end of stream, which by the spec is always
        none; raises the pending :class:`SSEError` if the limit was crossed.
        """
        if self._error is not None:
            raise SSEError(self._error)
        self._id_buffer = self._last_event_id  # an id of the discarded block does not count
        self._partial = []
        self._partial_len = 0
        self._skip_lf = False
        self._bom_matched = 0
        self._data = []
        self._data_held = 0
        self._event_name = ""
        self._block_retry = None
        return []

    def _fail(self, events: list[Any]) -> list[Any]:
        """Records the limit error; raises it now unless completed events must be handed out first."""
        message = _too_large_message(self._limit)
        self._error = message
        if events:
            return events
        raise SSEError(message)

    def _decode(self, chunk: bytes, raw: bool) -> list[Any]:
        if self._error is not None:
            raise SSEError(self._error)
        if type(chunk) is not bytes:
            chunk = _as_bytes(chunk)
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if self._bom_matched < 3:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []

        # Frame the chunk into complete lines plus an unfinished tail.
        if b"\r" in chunk:
            lines = chunk.splitlines()
            last = chunk[-1]
            if last == _CR:
                self._skip_lf = True
                tail = b""
            elif last == _LF:
                tail = b""
            else:
                tail = lines.pop()
        else:
            lines = chunk.split(b"\n")
            tail = lines.pop()

        limit = self._limit
        partial = self._partial
        # With room for the whole chunk no line can cross the limit: skip per-line checks.
        checked = self._data_held + self._partial_len + len(chunk) > limit
        if partial:
            if lines:
                partial.append(lines[0])
                lines[0] = b"".join(partial)
                self._partial = partial = []
                self._partial_len = 0
            elif tail:
                partial.append(tail)
                self._partial_len += len(tail)
                if checked and self._data_held + self._partial_len > limit:
                    return self._fail([])
                return []

        events: list[Any] = []
        append_event = events.append
        new_event, set_event, set_data, set_id, set_retry = _new_event, _set_event, _set_data, _set_id, _set_retry
        data = self._data
        data_held = self._data_held
        event_name = self._event_name
        block_retry = self._block_retry
        id_buffer = self._id_buffer
        last_event_id = self._last_event_id
        for line in lines:
            if checked and data_held + len(line) > limit:
                self._data = data
                self._data_held = data_held
                self._event_name = event_name
                self._block_retry = block_retry
                self._id_buffer = id_buffer
                self._last_event_id = last_event_id
                return self._fail(events)
            if not line:
                # Blank line: dispatch the block (an event only if its data buffer is not empty).
                last_event_id = id_buffer
                if data:
                    value = data[0] if len(data) == 1 else b"\n".join(data)
                    name = event_name or "message"
                    if raw:
                        append_event((name, value))
                    else:
                        event = new_event(ServerSentEvent)
                        set_event(event, name)
                        set_data(event, value.decode("utf-8", "replace"))
                        set_id(event, id_buffer)
                        set_retry(event, block_retry)
                        append_event(event)
                    data = []
                    data_held = 0
                event_name = ""
                block_retry = None
            # The two fields of nearly every line get a fast path; the rest is generic.
            elif line.startswith(b"data:"):
                value = line[6:] if line[5:6] == b" " else line[5:]
                data.append(value)
                data_held += len(value) + 1
            elif line.startswith(b"event:"):
                event_name = (line[7:] if line[6:7] == b" " else line[6:]).decode("utf-8", "replace")
            elif line[0] != 0x3A:  # ':' starts a comment
                field, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if field == b"event":
                    event_name = value.decode("utf-8", "replace")
                elif field == b"data":
                    data.append(value)
                    data_held += len(value) + 1
                elif field == b"id":
                    if b"\x00" not in value:
                        id_buffer = value.decode("utf-8", "replace") if value else None
                elif field == b"retry" and value.isdigit():
                    retry = _parse_retry(value)
                    if retry is not None:
                        block_retry = self._retry = retry
        self._data = data
        self._data_held = data_held
        self._event_name = event_name
        self._block_retry = block_retry
        self._id_buffer = id_buffer
        self._last_event_id = last_event_id

        if tail:
            self._partial = [tail]
            self._partial_len = len(tail)
            if checked and data_held + len(tail) > limit:
                return self._fail(events)
        return events

    def _strip_bom(self, chunk: bytes) -> bytes:
        """Consumes a leading BOM, which may arrive split across chunks.

        Returns the rest of the chunk. Held BOM bytes that turn out not to be a BOM
        are put back as the start of the first line (they are not line ends).
        """
        matched = self._bom_matched
        head = chunk[: 3 - matched]
        if head == _BOM[matched : matched + len(head)]:
            matched += len(head)
            self._bom_matched = matched
            return chunk[len(head) :]
        self._bom_matched = 3
        if matched:
            held = _BOM[:matched]
            self._partial.append(held)
            self._partial_len += matched
        return chunk
