"""Recorded streams: loading ``.chunks.txt`` files, in-memory payloads, and finding them by name.

A recording is the list of payloads a provider streamed, without wire framing, in
the line format of ``shared/fixtures/README.md``: one JSON value per line (the body
of one event), blank lines skipped. Framing (``data:`` lines, ``event:`` names,
AWS event-stream messages) is added at replay time by :mod:`alchemy.testing.wire`,
so one recording can be served in whichever framing a test asks for.

Names resolve, in order, to: an existing file path; a recording bundled with the
package (``alchemy/testing/recordings/<name>.chunks.txt``); a file under one of the
search directories given to :class:`RecordingLibrary`, either by its relative path
without the suffix (``anthropic/anthropic-text``) or by its bare name when that is
unique.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import orjson

from ..errors import RecordingNotFoundError
from ..wire_apis import WIRE_APIS

__all__ = [
    "BUNDLED_RECORDINGS_DIR",
    "CHUNKS_SUFFIX",
    "DEFAULT_RECORDING_FOR_API",
    "AnyRecording",
    "GeneratedRecording",
    "PayloadLike",
    "Raw",
    "RecordedEvent",
    "Recording",
    "RecordingLibrary",
    "RecordingSource",
    "bundled_recording_names",
    "load_recording",
    "parse_chunks_text",
    "recording_from_payloads",
]

CHUNKS_SUFFIX = ".chunks.txt"
BUNDLED_RECORDINGS_DIR = Path(__file__).resolve().parent / "recordings"


@dataclass(frozen=True)
class Raw:
    """Bytes written to the wire exactly as given, with no framing (counts as one event)."""

    data: bytes

    def __repr__(self) -> str:
        return f"Raw({self.data[:60]!r}{'...' if len(self.data) > 60 else ''})"


RecordedEvent = Union[bytes, Raw]
"""One event of a recording: JSON payload bytes to be framed, or :class:`Raw` wire bytes."""

PayloadLike = Union[bytes, bytearray, str, Mapping[str, Any], Sequence[Any], Raw]
"""What an in-memory recording may hold: JSON text (``bytes``/``str``), a JSON-able
object (serialized with orjson, key order kept) or :class:`Raw` wire bytes."""

RecordingSource = Union[
    str,
    "os.PathLike[str]",
    "Recording",
    "GeneratedRecording",
    Sequence[PayloadLike],
    Callable[[], Iterable[PayloadLike]],
    None,
]
"""How a replay names its recording: a name or path, a :class:`Recording`, a list of
payloads, a zero-argument callable returning payloads (generated anew for each
request, so very long streams cost no memory), or ``None`` for the bundled
recording of the route's wire API."""

DEFAULT_RECORDING_FOR_API: dict[str, str] = {api.name: api.wire_format for api in WIRE_APIS.values()}
"""The bundled recording a route serves when a replay names none: the one of the API's
wire format (Azure replays OpenAI's Responses recording, Vertex AI the Gemini one).

Every bundled recording is the same short exchange ("What's the weather in Paris?")
in one wire API's shapes: thinking, a sentence of text, then a ``get_weather`` tool
call whose arguments stream in pieces, with usage at the end. Next to each,
``<name>-answer`` is the turn after the tool result: the final answer ("It's 18 °C
and partly cloudy in Paris right now."), so ``alchemy demo`` can run the whole tool loop."""


@dataclass(frozen=True)
class Recording:
    """A named, immutable sequence of recorded events."""

    name: str
    events: tuple[RecordedEvent, ...]

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"Recording(name={self.name!r}, events={len(self.events)})"


@dataclass(frozen=True)
class GeneratedRecording:
    """A recording whose events a factory produces anew for each request."""

    factory: Callable[[], Iterable[PayloadLike]]
    name: str = "generated"

    def iter_events(self) -> Iterator[RecordedEvent]:
        for index, payload in enumerate(self.factory()):
            yield _as_event(payload, index)


AnyRecording = Union[Recording, GeneratedRecording]


def parse_chunks_text(data: bytes, name: str) -> Recording:
    """Parses the fixture line format: one JSON payload per line, blank lines skipped.

    Lines are kept byte for byte (only the line ending and surrounding whitespace are
    removed), so the replayed JSON is what the file holds, key order and escapes included.
    Lines are not validated as JSON: a malformed line is replayed as it is.
    """
    events = tuple(line.strip() for line in data.split(b"\n") if line.strip())
    return Recording(name=name, events=events)


def load_recording(path: str | os.PathLike[str]) -> Recording:
    """Loads a ``.chunks.txt`` file (any file in the line format)."""
    file_path = Path(path)
    try:
        data = file_path.read_bytes()
    except FileNotFoundError:
        raise RecordingNotFoundError(f"recording file not found: {file_path}") from None
    return parse_chunks_text(data, _recording_name(file_path))


def recording_from_payloads(payloads: Iterable[PayloadLike], name: str = "inline") -> Recording:
    """Builds a recording from in-memory payloads (see :data:`PayloadLike`)."""
    return Recording(name=name, events=tuple(_as_event(payload, index) for index, payload in enumerate(payloads)))


def _as_event(payload: PayloadLike, index: int) -> RecordedEvent:
    if isinstance(payload, Raw):
        return payload
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    try:
        return orjson.dumps(payload)
    except TypeError as exc:
        raise TypeError(f"payload {index} cannot be serialized as JSON: {exc}") from None


def _recording_name(path: Path) -> str:
    name = path.name
    return name[: -len(CHUNKS_SUFFIX)] if name.endswith(CHUNKS_SUFFIX) else path.stem


def bundled_recording_names() -> list[str]:
    """The names of the recordings shipped inside the package, sorted."""
    return sorted(_recording_name(path) for path in BUNDLED_RECORDINGS_DIR.glob(f"*{CHUNKS_SUFFIX}"))


class RecordingLibrary:
    """Resolves recording names and paths, and caches what it loaded (thread-safe).

    ``search_dirs`` are folders of ``.chunks.txt`` files, searched recursively after
    the bundled recordings (e.g. the shared ``fixtures/vercel-ai`` folder).
    """

    def __init__(self, search_dirs: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.search_dirs: tuple[Path, ...] = tuple(Path(directory) for directory in search_dirs)
        self._lock = threading.Lock()
        self._loaded: dict[Path, Recording] = {}
        self._by_stem: dict[str, list[Path]] | None = None

    def resolve(self, source: RecordingSource, *, default_name: str | None = None) -> AnyRecording:
        """The recording a replay names; ``None`` means ``default_name``."""
        if isinstance(source, (Recording, GeneratedRecording)):
            return source
        if source is None:
            if default_name is None:
                raise RecordingNotFoundError("no recording given and no default for this route")
            return self.get(default_name)
        if isinstance(source, (str, os.PathLike)):
            return self.get(source)
        if isinstance(source, (bytes, bytearray, Mapping)):
            raise TypeError(
                f"a recording is a name, a path or a list of payloads, not a single {type(source).__name__}; "
                "wrap it in a list"
            )
        if callable(source):
            return GeneratedRecording(source)
        return recording_from_payloads(source)

    def get(self, name_or_path: str | os.PathLike[str]) -> Recording:
        """The recording with that name or at that path; raises :class:`RecordingNotFoundError`."""
        return self._load(self.find(name_or_path))

    def get_by_name(self, name: str) -> Recording:
        """Like :meth:`get`, for a name only (bundled or under a search directory), never a path.

        The server uses this for the ``x-alchemy-replay`` header, so a request can
        only reach the recordings the test set up.
        """
        parts = name.replace("\\", "/").split("/")
        if not name or name.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise RecordingNotFoundError(f"not a recording name: {name!r}")
        return self._load(self._find_name(name))

    def find(self, name_or_path: str | os.PathLike[str]) -> Path:
        """The file a name or path refers to (see the module docstring for the order)."""
        as_path = Path(name_or_path)
        if as_path.is_file():
            return as_path.resolve()
        name = os.fspath(name_or_path)
        if name.endswith(CHUNKS_SUFFIX) or as_path.is_absolute():
            raise RecordingNotFoundError(f"recording file not found: {name}")
        return self._find_name(name)

    def _find_name(self, name: str) -> Path:
        bundled = BUNDLED_RECORDINGS_DIR / f"{name}{CHUNKS_SUFFIX}"
        if "/" not in name and bundled.is_file():
            return bundled
        for directory in self.search_dirs:
            candidate = directory / f"{name}{CHUNKS_SUFFIX}"
            if candidate.is_file():
                return candidate.resolve()
        matches = self._stem_index().get(name, [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = ", ".join(str(path) for path in matches)
            raise RecordingNotFoundError(f"recording name {name!r} is ambiguous, give a path: {listed}")
        searched = [str(directory) for directory in self.search_dirs] or "no search directory"
        raise RecordingNotFoundError(
            f"no recording named {name!r}: not bundled ({', '.join(bundled_recording_names())}) "
            f"and not found under {searched}"
        )

    def _stem_index(self) -> dict[str, list[Path]]:
        with self._lock:
            if self._by_stem is None:
                index: dict[str, list[Path]] = {}
                for directory in self.search_dirs:
                    for path in sorted(directory.rglob(f"*{CHUNKS_SUFFIX}")):
                        index.setdefault(_recording_name(path), []).append(path.resolve())
                self._by_stem = index
            return self._by_stem

    def _load(self, path: Path) -> Recording:
        with self._lock:
            cached = self._loaded.get(path)
        if cached is not None:
            return cached
        recording = load_recording(path)
        with self._lock:
            return self._loaded.setdefault(path, recording)
