"""How a replayed stream is cut into network writes.

* :class:`ByEvent` -- one write per event (the way most servers flush).
* :class:`ByBytes` -- writes of exactly ``size`` bytes, cutting across event
  boundaries (the last write before a pause or the end may be shorter).
* :class:`RandomSizes` -- writes of random sizes in ``[1, max_size]`` drawn from a
  seeded generator, so a failing split can be reproduced from its seed.

The same choices as strings (for the CLI and quick use): ``"event"``,
``"bytes=7"``, ``"random"``, ``"random=42"`` (seed 42); a bare ``int`` means
``ByBytes(n)``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Union

__all__ = ["ByBytes", "ByEvent", "Chunking", "ChunkingLike", "RandomSizes", "parse_chunking", "split_writes"]


@dataclass(frozen=True)
class ByEvent:
    """One write per event."""


@dataclass(frozen=True)
class ByBytes:
    """Writes of ``size`` bytes across event boundaries."""

    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 1:
            raise ValueError(f"ByBytes size must be a positive int, got {self.size!r}")


@dataclass(frozen=True)
class RandomSizes:
    """Writes of random sizes in ``[1, max_size]``, reproducible from ``seed``."""

    seed: int = 0
    max_size: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.max_size, int) or isinstance(self.max_size, bool) or self.max_size < 1:
            raise ValueError(f"RandomSizes max_size must be a positive int, got {self.max_size!r}")


Chunking = Union[ByEvent, ByBytes, RandomSizes]
ChunkingLike = Union[Chunking, str, int]


def parse_chunking(spec: ChunkingLike) -> Chunking:
    """A :data:`Chunking` from an object, an ``int`` or a string such as ``"bytes=7"``."""
    if isinstance(spec, (ByEvent, ByBytes, RandomSizes)):
        return spec
    if isinstance(spec, bool):
        raise TypeError("chunking must be 'event', 'bytes=N', 'random[=SEED]', an int or a Chunking object")
    if isinstance(spec, int):
        return ByBytes(spec)
    if isinstance(spec, str):
        kind, _, argument = spec.strip().replace(":", "=").partition("=")
        kind = kind.strip().lower()
        argument = argument.strip()
        if kind == "event" and not argument:
            return ByEvent()
        if kind == "bytes" and argument.isdigit() and int(argument) >= 1:
            return ByBytes(int(argument))
        if kind == "random":
            if not argument:
                return RandomSizes()
            if argument.lstrip("-").isdigit():
                return RandomSizes(seed=int(argument))
    raise ValueError(f"chunking must be 'event', 'bytes=N', 'random' or 'random=SEED', got {spec!r}")


def split_writes(pieces: Iterable[bytes], chunking: Chunking, rng: random.Random | None = None) -> Iterator[bytes]:
    """Cuts a run of event bytes into writes; every byte comes out once, in order.

    ``rng`` carries the random state across runs of one response (a run ends at a
    pause or a hang-up), so a whole response follows one seeded sequence.
    """
    if isinstance(chunking, ByEvent):
        for piece in pieces:
            if piece:
                yield piece
        return
    if isinstance(chunking, ByBytes):
        yield from _fixed_size_writes(pieces, chunking.size)
        return
    generator = rng if rng is not None else random.Random(chunking.seed)
    yield from _random_size_writes(pieces, generator, chunking.max_size)


def _fixed_size_writes(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    pending = bytearray()
    for piece in pieces:
        pending += piece
        if len(pending) < size:
            continue
        view = memoryview(pending)
        whole = len(pending) - len(pending) % size
        for start in range(0, whole, size):
            yield bytes(view[start : start + size])
        view.release()
        del pending[:whole]
    if pending:
        yield bytes(pending)


def _random_size_writes(pieces: Iterable[bytes], rng: random.Random, max_size: int) -> Iterator[bytes]:
    pending = bytearray()
    want = rng.randint(1, max_size)
    for piece in pieces:
        pending += piece
        if len(pending) < want:
            continue
        view = memoryview(pending)
        start = 0
        while len(pending) - start >= want:
            yield bytes(view[start : start + want])
            start += want
            want = rng.randint(1, max_size)
        view.release()
        del pending[:start]
    if pending:
        yield bytes(pending)
