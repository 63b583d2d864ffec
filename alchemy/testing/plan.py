"""What one replayed response is: :class:`Replay` (the description) and its :class:`ResponsePlan`.

A :class:`Replay` says which recording to play, in which wire API's framing, cut
into which writes, at which pace, with which faults. :func:`plan_response` turns
it into a plan the server executes: a status, headers, and either a fixed body
(HTTP errors) or a lazy sequence of steps -- bytes to write, pauses, and a
possible hang-up. Planning does no I/O, so it is tested without a socket, and a
plan is generated lazily, so a million-event stream costs no memory.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Union

import orjson

from .chunking import ByEvent, Chunking, ChunkingLike, RandomSizes, parse_chunking, split_writes
from .eventstream import with_bad_message_crc, with_bad_prelude_crc
from .faults import (
    FAULT_TYPES,
    CorruptFrame,
    Drop,
    ErrorEvent,
    Fault,
    HttpError,
    InvalidUtf8,
    MalformedJson,
    Stall,
    StreamFault,
)
from .provider_errors import http_error, request_id_header, stream_error
from .recordings import (
    AnyRecording,
    GeneratedRecording,
    Raw,
    RecordedEvent,
    Recording,
    RecordingSource,
    recording_from_payloads,
)
from .wire import BEDROCK_CONVERSE_STREAM, WIRE_APIS, BedrockEventStreamFraming, Framing, framing_for

__all__ = ["HANG_UP", "HangUp", "Pause", "Replay", "ResponsePlan", "Step", "plan_response"]


@dataclass(frozen=True)
class Replay:
    """One response of the replay server, described: recording, framing, chunking, pace, faults.

    * ``recording`` -- a bundled recording name, a ``.chunks.txt`` path or a name
      found under the server's recording directories, a list of payloads (dicts,
      JSON text, :class:`~alchemy.testing.recordings.Raw` wire bytes), a callable
      producing payloads, or ``None`` for the bundled recording of the route's API.
    * ``api`` -- the wire API whose framing (and error shapes) to use; ``None``
      means the API of the path the request hit.
    * ``chunking`` -- ``"event"``, ``"bytes=N"`` / ``ByBytes(N)``, ``"random"`` /
      ``RandomSizes(seed, max_size)``.
    * ``delay`` -- seconds between writes (pacing), default none.
    * ``faults`` -- see :mod:`alchemy.testing.faults`.
    * ``headers`` -- extra response headers (they replace defaults of the same name).
    """

    recording: RecordingSource = None
    api: str | None = None
    chunking: ChunkingLike = "event"
    delay: float = 0.0
    faults: Sequence[Fault] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        source = self.recording
        if isinstance(source, (list, tuple)):
            object.__setattr__(self, "recording", recording_from_payloads(source))
        elif source is not None and not isinstance(source, (str, os.PathLike, Recording, GeneratedRecording)):
            if not callable(source):
                raise TypeError(
                    "Replay.recording must be a name, a path, a list of payloads, a Recording or a callable, "
                    f"got {type(source).__name__}"
                )
        if self.api is not None and self.api not in WIRE_APIS:
            raise ValueError(f"unknown wire API {self.api!r}; the replay server speaks {', '.join(WIRE_APIS)}")
        parse_chunking(self.chunking)
        if not isinstance(self.delay, (int, float)) or self.delay < 0:
            raise ValueError(f"Replay.delay must be a number of seconds >= 0, got {self.delay!r}")
        faults = tuple(self.faults)
        for fault in faults:
            if not isinstance(fault, FAULT_TYPES):
                raise TypeError(f"not a fault: {fault!r} (use the classes of alchemy.testing.faults)")
        if sum(isinstance(fault, HttpError) for fault in faults) > 1:
            raise ValueError("a Replay answers once: give at most one HttpError (enqueue several Replays instead)")
        if self.api is not None and self.api != BEDROCK_CONVERSE_STREAM and _has(faults, CorruptFrame):
            raise ValueError(f"CorruptFrame applies to bedrock-converse-stream only, not {self.api}")
        object.__setattr__(self, "faults", faults)

    @classmethod
    def http_error(
        cls,
        status: int = 500,
        *,
        message: str | None = None,
        error_type: str | None = None,
        retry_after: float | str | datetime | None = None,
        retry_after_ms: float | None = None,
        api: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Replay:
        """A replay that answers with a provider-shaped HTTP error (e.g. 429 with ``retry_after``)."""
        fault = HttpError(
            status,
            message=message,
            error_type=error_type,
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            headers=dict(headers or {}),
        )
        return cls(api=api, faults=(fault,))

    @property
    def http_error_fault(self) -> HttpError | None:
        return next((fault for fault in self.faults if isinstance(fault, HttpError)), None)

    def check_recording_length(self, recording: AnyRecording) -> None:
        """Raises ``ValueError`` when a fault points past the end of a recording of known length."""
        if not isinstance(recording, Recording):
            return
        for fault in self.faults:
            if isinstance(fault, (InvalidUtf8, CorruptFrame)) or (
                isinstance(fault, MalformedJson) and fault.replace
            ):
                if fault.after_events >= len(recording):
                    raise ValueError(
                        f"{type(fault).__name__}(after_events={fault.after_events}) alters the event that follows, "
                        f"but recording {recording.name!r} has only {len(recording)} events"
                    )


def _has(faults: Iterable[Fault], kind: type) -> bool:
    return any(isinstance(fault, kind) for fault in faults)


@dataclass(frozen=True)
class Pause:
    """Write nothing for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class HangUp:
    """Close the connection now, without the terminating chunk."""


HANG_UP = HangUp()

Step = Union[bytes, Pause, HangUp]


@dataclass
class ResponsePlan:
    """Everything the server writes for one request, decided before the first byte."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    steps: Iterator[Step] | None = None
    """The streamed body; ``None`` means ``body`` is sent with a Content-Length."""
    delay: float = 0.0
    stall_before_headers: float = 0.0
    hang_up_before_headers: bool = False


def plan_response(replay: Replay, recording: AnyRecording | None, api: str, request_id: str) -> ResponsePlan:
    """The plan for answering one request with ``replay`` (``api`` already resolved).

    ``recording`` may be ``None`` only for replays that answer with an HTTP error.
    Raises ``ValueError`` for a replay that cannot be played on this API.
    """
    framing = framing_for(api)
    faults = replay.faults
    stall_first = sum(
        float(fault.seconds) for fault in faults if isinstance(fault, Stall) and fault.before_headers
    )
    hang_up_first = any(
        (isinstance(fault, Drop) and fault.before_headers)
        or (isinstance(fault, Stall) and fault.before_headers and not fault.resume)
        for fault in faults
    )
    error = replay.http_error_fault
    if error is not None:
        return _error_plan(error, replay, api, request_id, stall_first, hang_up_first)
    if recording is None:
        raise ValueError("a streaming replay needs a recording")
    if _has(faults, CorruptFrame) and not isinstance(framing, BedrockEventStreamFraming):
        raise ValueError(f"CorruptFrame applies to bedrock-converse-stream only, not {api}")
    replay.check_recording_length(recording)
    headers = _merge_headers(
        [
            ("content-type", framing.content_type),
            ("cache-control", "no-cache"),
            ("transfer-encoding", "chunked"),
            (request_id_header(api), request_id),
            ("x-alchemy-replay", recording.name),
        ],
        replay.headers,
    )
    stream_faults = [fault for fault in faults if not isinstance(fault, HttpError)]
    steps: Iterator[Step] = _stream_steps(_events_of(recording), framing, api, stream_faults)
    cut = next(
        (fault.after_bytes for fault in stream_faults if isinstance(fault, Drop) and fault.after_bytes is not None),
        None,
    )
    if cut is not None:
        steps = _hang_up_after_bytes(steps, cut)
    steps = _apply_chunking(steps, parse_chunking(replay.chunking))
    return ResponsePlan(
        status=200,
        headers=headers,
        steps=steps,
        delay=float(replay.delay),
        stall_before_headers=stall_first,
        hang_up_before_headers=hang_up_first,
    )


def _events_of(recording: AnyRecording) -> Iterable[RecordedEvent]:
    if isinstance(recording, GeneratedRecording):
        return recording.iter_events()
    return recording.events


def _error_plan(
    error: HttpError, replay: Replay, api: str, request_id: str, stall_first: float, hang_up_first: bool
) -> ResponsePlan:
    shaped = http_error(api, error.status, message=error.message, error_type=error.error_type, request_id=request_id)
    body = error.body if error.body is not None else shaped.body
    base: list[tuple[str, str]] = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        (request_id_header(api), request_id),
        *shaped.headers,
    ]
    if error.retry_after is not None:
        base.append(("retry-after", _format_retry_after(error.retry_after)))
    if error.retry_after_ms is not None:
        base.append(("retry-after-ms", _format_number(error.retry_after_ms)))
    headers = _merge_headers(_merge_headers(base, error.headers), replay.headers)
    return ResponsePlan(
        status=error.status,
        headers=headers,
        body=body,
        stall_before_headers=stall_first,
        hang_up_before_headers=hang_up_first,
    )


def _format_number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _format_retry_after(value: float | str | datetime) -> str:
    if isinstance(value, datetime):
        return format_datetime(value, usegmt=True)
    if isinstance(value, str):
        return value
    return _format_number(value)


def _merge_headers(base: list[tuple[str, str]], extra: Mapping[str, str]) -> list[tuple[str, str]]:
    """``base`` with every header named in ``extra`` replaced by ``extra``'s value."""
    if not extra:
        return base
    replaced = {name.lower() for name in extra}
    kept = [(name, value) for name, value in base if name.lower() not in replaced]
    return kept + [(name.lower(), value) for name, value in extra.items()]


_END: Any = object()


def _stream_steps(
    events: Iterable[RecordedEvent], framing: Framing, api: str, faults: Sequence[StreamFault]
) -> Iterator[Step]:
    """The body of a 200 stream: framed events with the faults woven in, then the terminator."""
    at: dict[int, list[StreamFault]] = {}
    for fault in faults:
        position = getattr(fault, "after_events", None)
        if position is None or getattr(fault, "before_headers", False):
            continue
        at.setdefault(position, []).append(fault)
    iterator = iter(events)
    upcoming: RecordedEvent = next(iterator, _END)
    previous: RecordedEvent | None = None
    position = 0
    while True:
        replace_next = False
        for fault in at.get(position, ()):
            if isinstance(fault, Drop):
                yield HANG_UP
                return
            if isinstance(fault, Stall):
                yield Pause(float(fault.seconds))
                if not fault.resume:
                    yield HANG_UP
                    return
            elif isinstance(fault, ErrorEvent):
                shaped = stream_error(api, message=fault.message, error_type=fault.error_type, sequence_number=position)
                yield framing.frame_error(shaped.error_type, shaped.payload)
                if not fault.resume:
                    return
            elif isinstance(fault, MalformedJson):
                model = upcoming if upcoming is not _END else previous
                yield _framed(model if model is not None else b'{"malformed": true}', framing, _truncate_json)
                replace_next = replace_next or fault.replace
        if upcoming is _END:
            break
        if not replace_next:
            yield _framed_with_faults(upcoming, framing, at.get(position, ()))
        previous = upcoming
        position += 1
        upcoming = next(iterator, _END)
    if framing.terminator:
        yield framing.terminator


def _framed(event: RecordedEvent, framing: Framing, alter: Callable[[bytes], bytes] | None = None) -> bytes:
    if isinstance(event, Raw):
        return alter(event.data) if alter is not None else event.data
    return framing.frame(event, alter)


def _framed_with_faults(event: RecordedEvent, framing: Framing, faults: Sequence[StreamFault]) -> bytes:
    alters = [fault for fault in faults if isinstance(fault, InvalidUtf8)]
    alter: Callable[[bytes], bytes] | None = None
    if alters:
        bad_bytes = b"".join(fault.data for fault in alters)

        def alter(data: bytes) -> bytes:
            return _inject_bytes(data, bad_bytes)

    framed = _framed(event, framing, alter)
    for fault in faults:
        if isinstance(fault, CorruptFrame):
            framed = with_bad_prelude_crc(framed) if fault.part == "prelude" else with_bad_message_crc(framed)
    return framed


def _truncate_json(data: bytes) -> bytes:
    """The first half of a JSON text; never itself valid JSON."""
    cut = data[: max(1, len(data) // 2)]
    try:
        orjson.loads(cut)
    except orjson.JSONDecodeError:
        return cut
    return cut + b","


_TEXT_KEYS = frozenset(
    {"text", "thinking", "content", "reasoning_content", "reasoning", "delta", "partial_json", "arguments", "input"}
)


def _inject_bytes(data: bytes, extra: bytes) -> bytes:
    """``data`` with ``extra`` inserted at the end of its main text string.

    The target is the first non-empty string under a text-like key (``text``,
    ``delta``, ``partial_json``, ...), else the longest string value, so the bad bytes
    land in content rather than in an event ``type``.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        value = None
    target = _text_value(value)
    if target:
        needle = orjson.dumps(target)
        at = data.find(needle)
        if at >= 0:
            end = at + len(needle) - 1
            return data[:end] + extra + data[end:]
    last_quote = data.rfind(b'"')
    if last_quote >= 0:
        return data[:last_quote] + extra + data[last_quote:]
    return data + extra


def _text_value(value: Any) -> str | None:
    """The first non-empty string under a text-like key (document order), else the longest string value."""
    longest: str | None = None
    stack: list[tuple[str | None, Any]] = [(None, value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, str):
            if item and key in _TEXT_KEYS:
                return item
            if longest is None or len(item) > len(longest):
                longest = item
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((key, element) for element in reversed(item))
    return longest


def _hang_up_after_bytes(steps: Iterator[Step], limit: int) -> Iterator[Step]:
    sent = 0
    for step in steps:
        if isinstance(step, bytes):
            room = limit - sent
            if len(step) >= room:
                if room:
                    yield step[:room]
                yield HANG_UP
                return
            sent += len(step)
        yield step
        if isinstance(step, HangUp):
            return


def _apply_chunking(steps: Iterator[Step], chunking: Chunking) -> Iterator[Step]:
    """Cuts each run of bytes between pauses and hang-ups into writes."""
    if isinstance(chunking, ByEvent):
        for step in steps:
            if not isinstance(step, bytes) or step:
                yield step
        return
    rng = random.Random(chunking.seed) if isinstance(chunking, RandomSizes) else None
    control: list[Step] = []

    def run() -> Iterator[bytes]:
        for step in steps:
            if isinstance(step, bytes):
                yield step
            else:
                control.append(step)
                return

    while True:
        yield from split_writes(run(), chunking, rng)
        if not control:
            return
        yield control.pop()
