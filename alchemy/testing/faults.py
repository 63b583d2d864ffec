"""The faults a replay can inject, each a small frozen value.

Positions count recorded events: ``after_events=N`` is the point after the first
``N`` events of the recording went out (``0`` is right after the response head,
``len(recording)`` is after the last event, before any ``[DONE]`` terminator).
Faults that *alter* an event (:class:`InvalidUtf8`, :class:`CorruptFrame`, and
:class:`MalformedJson` with ``replace=True``) alter the event that follows that point.

=====================  ==================================================================
fault                  what the client sees
=====================  ==================================================================
:class:`HttpError`     a non-200 response with the provider's JSON error body, optional
                       ``retry-after`` / ``retry-after-ms`` headers; no stream (a 3xx
                       with a ``location`` header is a redirect)
:class:`Drop`          the connection closed without the terminating chunk, after N
                       events or N body bytes (or before any response at all)
:class:`Stall`         silence for ``seconds``, then the stream resumes or the
                       connection drops
:class:`MalformedJson` an event whose JSON is cut in half (inserted, or replacing one)
:class:`InvalidUtf8`   an event with bytes that are not UTF-8 inside a JSON string
:class:`ErrorEvent`    the provider's own error event in the 200 stream (Anthropic
                       ``overloaded_error``, OpenAI ``error``, Responses ``error``,
                       Gemini ``error``, a Bedrock exception message); the stream then ends
:class:`CorruptFrame`  (Bedrock) an event-stream message with a wrong CRC
=====================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Union

__all__ = [
    "CorruptFrame",
    "Drop",
    "ErrorEvent",
    "Fault",
    "HttpError",
    "InvalidUtf8",
    "MalformedJson",
    "Stall",
    "StreamFault",
]


def _check_position(kind: str, after_events: int) -> None:
    if not isinstance(after_events, int) or isinstance(after_events, bool) or after_events < 0:
        raise ValueError(f"{kind}.after_events must be an int >= 0, got {after_events!r}")


@dataclass(frozen=True)
class HttpError:
    """Answer with an HTTP error instead of a stream.

    ``message`` and ``error_type`` fill the provider-shaped body (defaults depend on
    the status and the wire API); ``body`` replaces it entirely. ``retry_after`` is
    seconds (written as given, e.g. ``0.05``), an HTTP date string or a ``datetime``.
    A 3xx status answers with a redirect (give its ``location`` in ``headers``).
    """

    status: int = 500
    message: str | None = None
    error_type: str | None = None
    retry_after: float | str | datetime | None = None
    retry_after_ms: float | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, int) or not 300 <= self.status <= 599:
            raise ValueError(
                f"HttpError.status must be an HTTP error or redirect status (300-599), got {self.status!r}"
            )
        for name in ("retry_after", "retry_after_ms"):
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"HttpError.{name} must not be negative, got {value!r}")


@dataclass(frozen=True)
class Drop:
    """Close the connection without the terminating chunk.

    Give exactly one of ``after_events``, ``after_bytes`` (counted over the response
    body, so the cut can fall inside an event) or ``before_headers=True`` (the
    connection closes before any response is written).
    """

    after_events: int | None = None
    after_bytes: int | None = None
    before_headers: bool = False

    def __post_init__(self) -> None:
        given = (self.after_events is not None) + (self.after_bytes is not None) + bool(self.before_headers)
        if given != 1:
            raise ValueError("Drop needs exactly one of after_events=N, after_bytes=N or before_headers=True")
        if self.after_events is not None:
            _check_position("Drop", self.after_events)
        if self.after_bytes is not None and (not isinstance(self.after_bytes, int) or self.after_bytes < 0):
            raise ValueError(f"Drop.after_bytes must be an int >= 0, got {self.after_bytes!r}")


@dataclass(frozen=True)
class Stall:
    """Send nothing for ``seconds``, then resume the stream (or drop the connection).

    ``before_headers=True`` stalls before the response head (a slow first byte);
    otherwise the stall comes after ``after_events`` events.
    """

    seconds: float
    after_events: int = 0
    resume: bool = True
    before_headers: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.seconds, (int, float)) or self.seconds < 0:
            raise ValueError(f"Stall.seconds must be a number >= 0, got {self.seconds!r}")
        _check_position("Stall", self.after_events)


@dataclass(frozen=True)
class MalformedJson:
    """An event whose JSON is cut in half: a copy of the next event, truncated.

    Inserted before that event, or replacing it when ``replace`` is true. The event
    keeps its framing (SSE ``event:`` name, a valid Bedrock frame): only the JSON is bad.
    """

    after_events: int = 0
    replace: bool = False

    def __post_init__(self) -> None:
        _check_position("MalformedJson", self.after_events)


@dataclass(frozen=True)
class InvalidUtf8:
    """The next event carries ``data`` (bytes that are not UTF-8) inside its longest JSON string."""

    after_events: int = 0
    data: bytes = b"\xff\xfe"

    def __post_init__(self) -> None:
        _check_position("InvalidUtf8", self.after_events)
        try:
            self.data.decode("utf-8")
        except UnicodeDecodeError:
            return
        raise ValueError(f"InvalidUtf8.data must not be valid UTF-8, got {self.data!r}")


@dataclass(frozen=True)
class ErrorEvent:
    """The provider's error event inside the 200 stream, after ``after_events`` events.

    The stream then ends normally (terminating chunk, but no ``[DONE]``) unless
    ``resume`` is true, in which case the recording continues after it.
    """

    after_events: int = 0
    message: str | None = None
    error_type: str | None = None
    resume: bool = False

    def __post_init__(self) -> None:
        _check_position("ErrorEvent", self.after_events)


@dataclass(frozen=True)
class CorruptFrame:
    """(Bedrock only) The next event-stream message goes out with a wrong CRC.

    ``part="message"`` breaks the trailing message CRC, ``"prelude"`` the prelude CRC.
    """

    after_events: int = 0
    part: Literal["message", "prelude"] = "message"

    def __post_init__(self) -> None:
        _check_position("CorruptFrame", self.after_events)
        if self.part not in ("message", "prelude"):
            raise ValueError(f"CorruptFrame.part must be 'message' or 'prelude', got {self.part!r}")


StreamFault = Union[Drop, Stall, MalformedJson, InvalidUtf8, ErrorEvent, CorruptFrame]
Fault = Union[HttpError, StreamFault]
FAULT_TYPES: tuple[type, ...] = (HttpError, Drop, Stall, MalformedJson, InvalidUtf8, ErrorEvent, CorruptFrame)
