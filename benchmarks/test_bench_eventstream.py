"""AWS event-stream decoding: both twins side by side against botocore's ``EventStreamBuffer``.

The workload is a Bedrock ConverseStream body of ``FRAMES`` (20,000) messages --
``messageStart``, text ``contentBlockDelta`` events with Bedrock's ``p`` padding
field, ``contentBlockStop``, ``messageStop``, ``metadata`` -- cut into 16 KiB
network chunks, and the same body cut one message per chunk (the way the service
flushes). Every decoder must hand out every message with its headers and payload;
each benchmark counts them, so none can win by skipping work. Run::

    .venv/bin/python -m pytest benchmarks/test_bench_eventstream.py --benchmark-json=eventstream.json
    .venv/bin/python benchmarks/eventstream_ratios.py eventstream.json     # the ratio table

Target: the compiled twin at least 3x faster than botocore.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from alchemy.testing.eventstream import encode_event

FRAMES = 20_000
CHUNK = 16 * 1024
WORDS = ("the", "model", "streams", "tokens", "café", "naïve", "日本語", "🚀", "Zürich", "→", "\n")


def bedrock_frames(count: int = FRAMES, seed: int = 11) -> list[bytes]:
    """``count`` event-stream messages as Bedrock sends them for a long text answer."""
    rng = random.Random(seed)
    frames = [encode_event("messageStart", b'{"p":"abcdefghijklmnopqrstuvwxyzABCDEF","role":"assistant"}')]
    for _ in range(count - 4):
        text = " ".join(rng.choices(WORDS, k=rng.randint(1, 4)))
        padding = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[: rng.randint(1, 40)]
        payload = {"contentBlockIndex": 0, "delta": {"text": text}, "p": padding}
        frames.append(encode_event("contentBlockDelta", orjson.dumps(payload)))
    frames.append(encode_event("contentBlockStop", b'{"contentBlockIndex":0,"p":"abcdefghijklmn"}'))
    frames.append(encode_event("messageStop", b'{"p":"abcdefghijklmnopqrs","stopReason":"end_turn"}'))
    usage = {"metrics": {"latencyMs": 2040}, "p": "abcdefg", "usage": {"inputTokens": 22, "outputTokens": count}}
    frames.append(encode_event("metadata", orjson.dumps(usage)))
    assert len(frames) == count
    return frames


def _sixteen_kib() -> list[bytes]:
    body = b"".join(bedrock_frames())
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


WORKLOADS = {"16KiB-chunks": _sixteen_kib, "chunk-per-message": bedrock_frames}


@pytest.fixture(scope="session", params=sorted(WORKLOADS))
def chunks(request: pytest.FixtureRequest) -> tuple[str, list[bytes]]:
    return request.param, WORKLOADS[request.param]()


def _group(benchmark: Any, name: str, chunks: list[bytes]) -> None:
    size = sum(map(len, chunks))
    benchmark.group = f"eventstream {name} ({FRAMES} messages, {size / 1e6:.2f} MB, {len(chunks)} chunks)"
    benchmark.extra_info["messages"] = FRAMES


def _alchemy(decoder_cls: Any, chunks: list[bytes]) -> int:
    decoder = decoder_cls()
    feed = decoder.feed
    count = 0
    for chunk in chunks:
        for message in feed(chunk):
            if message.payload:
                count += 1
    decoder.flush()
    return count


def _botocore(buffer_cls: Any, chunks: list[bytes]) -> int:
    buffer = buffer_cls()
    count = 0
    for chunk in chunks:
        buffer.add_data(chunk)
        for message in buffer:
            if message.payload:
                count += 1
    return count


def test_alchemy(benchmark: Any, event_stream_decoder_cls: Any, chunks: tuple[str, list[bytes]]) -> None:
    name, data = chunks
    _group(benchmark, name, data)
    assert benchmark(_alchemy, event_stream_decoder_cls, data) == FRAMES


def test_botocore(benchmark: Any, chunks: tuple[str, list[bytes]]) -> None:
    eventstream = pytest.importorskip("botocore.eventstream")
    name, data = chunks
    _group(benchmark, name, data)
    assert benchmark(_botocore, eventstream.EventStreamBuffer, data) == FRAMES
