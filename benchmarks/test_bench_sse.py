"""SSE decoding benchmarks: both twins side by side, the peers, and the bytes.split floor.

Each workload is one pytest-benchmark group, so the table's ratios compare every
decoder on the same bytes cut the same way. Run (see benchmarks/README.md)::

    .venv/bin/python -m pytest benchmarks/test_bench_sse.py --benchmark-columns=min,median,ops

Every decoder is checked to produce all the events, so none can win by skipping work.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .workloads import EVENT_COUNT, anthropic_messages_stream, openai_chat_stream, split_events, split_every


@dataclass(frozen=True)
class Workload:
    name: str
    build: Callable[[], list[bytes]]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(map(len, self.chunks))


WORKLOADS = {
    "openai-16KiB": lambda: split_every(openai_chat_stream()),
    "openai-crlf-16KiB": lambda: split_every(openai_chat_stream(line_end=b"\r\n")),
    "anthropic-16KiB": lambda: split_every(anthropic_messages_stream()),
    "openai-chunk-per-event": lambda: split_events(openai_chat_stream()),
}


@pytest.fixture(scope="session", params=sorted(WORKLOADS))
def workload(request: pytest.FixtureRequest) -> Workload:
    build = WORKLOADS[request.param]
    return Workload(request.param, build, build())


def _group(benchmark: Any, workload: Workload) -> None:
    benchmark.group = f"sse {workload.name} ({workload.size / 1e6:.2f} MB, {len(workload.chunks)} chunks)"
    benchmark.extra_info["bytes"] = workload.size


# --- alchemy ---------------------------------------------------------------------------------


def _alchemy_events(decoder_cls: Any, chunks: list[bytes]) -> int:
    decoder = decoder_cls()
    feed = decoder.feed
    count = 0
    for chunk in chunks:
        count += len(feed(chunk))
    return count + len(decoder.flush())


def _alchemy_raw_events(decoder_cls: Any, chunks: list[bytes]) -> int:
    decoder = decoder_cls()
    feed_raw = decoder.feed_raw
    count = 0
    for chunk in chunks:
        count += len(feed_raw(chunk))
    return count + len(decoder.flush())


def test_alchemy(benchmark: Any, sse_decoder_cls: Any, workload: Workload) -> None:
    """The public path: ServerSentEvent objects with str data."""
    _group(benchmark, workload)
    assert benchmark(_alchemy_events, sse_decoder_cls, workload.chunks) == EVENT_COUNT


def test_alchemy_raw(benchmark: Any, sse_decoder_cls: Any, workload: Workload) -> None:
    """The provider fast path: (event name, data bytes) pairs for orjson."""
    _group(benchmark, workload)
    assert benchmark(_alchemy_raw_events, sse_decoder_cls, workload.chunks) == EVENT_COUNT


# --- peers -----------------------------------------------------------------------------------


def test_openai_python(benchmark: Any, workload: Workload) -> None:
    """openai-python's decoder (``openai._streaming.SSEDecoder``), bytes in, events out."""
    streaming = pytest.importorskip("openai._streaming")

    def run() -> int:
        return sum(1 for _ in streaming.SSEDecoder().iter_bytes(iter(workload.chunks)))

    _group(benchmark, workload)
    assert benchmark(run) == EVENT_COUNT


def _text_decoder() -> Callable[[bytes], str]:
    """What httpx's ``iter_text()`` does before a text-based SSE decoder sees the bytes."""
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode


def test_httpx_sse(benchmark: Any, workload: Workload) -> None:
    """httpx-sse's line and event decoders behind an incremental UTF-8 decoder."""
    decoders = pytest.importorskip("httpx_sse._decoders")

    def run() -> int:
        to_text = _text_decoder()
        lines = decoders.SSELineDecoder()
        events = decoders.SSEDecoder()
        count = 0
        for chunk in workload.chunks:
            for line in lines.decode(to_text(chunk)):
                if events.decode(line) is not None:
                    count += 1
        return count

    _group(benchmark, workload)
    assert benchmark(run) == EVENT_COUNT


def test_httpx2_sse(benchmark: Any, workload: Workload) -> None:
    """httpx2's SSE parser (the one the newest openai-python HTTP layer ships), text in."""
    sse = pytest.importorskip("httpx2._sse")
    parser_cls = getattr(sse, "_SSEParser", None)
    if parser_cls is None:
        pytest.skip("httpx2._sse has no _SSEParser in this version")

    def run() -> int:
        to_text = _text_decoder()
        parser = parser_cls(None)
        count = 0
        for chunk in workload.chunks:
            count += sum(1 for _ in parser.decode(to_text(chunk)))
        return count + sum(1 for _ in parser.flush())

    _group(benchmark, workload)
    assert benchmark(run) == EVENT_COUNT


# --- the floor -------------------------------------------------------------------------------


def test_floor_bytes_split(benchmark: Any, workload: Workload) -> None:
    """A plain C-level ``bytes.split(b"\\n")`` of every chunk: no decoding, no events."""

    def run() -> int:
        return sum(len(chunk.split(b"\n")) for chunk in workload.chunks)

    _group(benchmark, workload)
    assert benchmark(run) > EVENT_COUNT
