"""Peak memory while alchemy streams a 1,000,000-chunk Chat Completions response.

A replay server in a separate process generates the chunks lazily (no recording
file, no memory on the server side); this process streams them with
``alchemy.stream`` (sync) and samples its resident set size (``/proc/self/statm``)
every 50,000 events, after a short warm-up stream (imports, connection). The final
message necessarily keeps the whole text, so the report separates what the text
itself holds (``sys.getsizeof`` of the joined text) from the rest: that rest must
stay flat however long the stream runs. With
``--tracemalloc`` the run also reports the traced peak (slower: every allocation is
traced).

Not part of the test suite (it takes a while)::

    .venv/bin/python benchmarks/openai_completions_memory.py [--chunks 1000000] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import alchemy  # noqa: E402
from alchemy.types import Context, Model, ModelCost, UserMessage  # noqa: E402

KEY = "sk-memory-0123456789"
WORDS = (b" the", b" model", b" streams", b" tokens", b" and", b" memory", b" stays", b" flat.")
SAMPLE_EVERY = 50_000
_PAGE = os.sysconf("SC_PAGE_SIZE")


def payloads(count: int) -> Iterator[bytes]:
    """``count`` text chunks (JSON text, made on the fly), a finish chunk and a usage chunk."""
    head = (
        b'{"id":"chatcmpl-mem","object":"chat.completion.chunk","created":1767000000,"model":"m",'
        b'"choices":[{"index":0,"delta":{"content":"'
    )
    tail = b'"},"logprobs":null,"finish_reason":null}]}'
    for i in range(count):
        yield head + WORDS[i % len(WORDS)] + tail
    yield b'{"id":"chatcmpl-mem","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
    usage = {"prompt_tokens": 10, "completion_tokens": count, "total_tokens": 10 + count}
    yield orjson.dumps({"id": "chatcmpl-mem", "choices": [], "usage": usage})


def serve(count: int) -> None:
    """The server process: prints its base URL, serves until stdin closes."""
    from alchemy.testing import Replay, ReplayServer

    with ReplayServer(default=Replay(lambda: payloads(count), api="openai-completions")) as server:
        server.register("warm-up", Replay(lambda: payloads(100), api="openai-completions"))
        print(server.base_url_for("openai-completions"), flush=True)
        sys.stdin.read()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def measure(count: int, traced: bool) -> None:
    command = [sys.executable, __file__, "--serve", "--chunks", str(count)]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        model = Model("m", "m", "openai-completions", "local", base_url, cost=ModelCost(input=1.0, output=1.0))
        context = Context(messages=[UserMessage("Stream a lot.")])
        # A short stream first, so lazy imports and the connection pool are not counted.
        warm_up = dataclasses.replace(model, headers={"x-alchemy-replay": "warm-up"})
        assert alchemy.complete(warm_up, context, api_key=KEY).stop_reason == "stop"
        if traced:
            tracemalloc.start()
        baseline = rss_bytes()
        samples: list[tuple[int, int, int]] = []
        started = time.perf_counter()
        with alchemy.stream(model, context, api_key=KEY) as events:
            for number, event in enumerate(events, 1):
                if number % SAMPLE_EVERY == 0:
                    samples.append((number, rss_bytes(), sys.getsizeof(events.partial.text)))
        message = events.result()
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=10)
    text_size = sys.getsizeof(message.text)
    print(f"{count:,} chunks in {elapsed:.1f} s ({elapsed / count * 1e6:.2f} µs/chunk), stop={message.stop_reason}")
    print(f"RSS before the stream: {baseline / 2**20:.1f} MiB; the final text holds {text_size / 2**20:.1f} MiB")
    print("| events | RSS MiB | RSS growth MiB | text MiB | growth minus text MiB |")
    print("|---:|---:|---:|---:|---:|")
    for number, rss, text in samples:
        growth = rss - baseline
        mib = [value / 2**20 for value in (rss, growth, text, growth - text)]
        print(f"| {number:,} | " + " | ".join(f"{value:.1f}" for value in mib) + " |")
    peak_rss = max(rss for _, rss, _ in samples) if samples else baseline
    rest = (peak_rss - baseline - text_size) / 2**20
    print(f"peak RSS {peak_rss / 2**20:.1f} MiB; growth minus the text at the end {rest:.1f} MiB")
    if traced:
        print(f"tracemalloc peak {peak / 2**20:.1f} MiB (the text is {text_size / 2**20:.1f} MiB of it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.chunks)
    else:
        measure(args.chunks, args.tracemalloc)


if __name__ == "__main__":
    main()
