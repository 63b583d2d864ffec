"""alchemy.Client: the cost per request of its defaults, rate limits and breaker; 1,000 streams under a limit.

    .venv/bin/python benchmarks/client_overhead.py            # all three parts
    .venv/bin/python benchmarks/client_overhead.py --streams 1000 --slots 100

(1) The policy decisions alone, in a tight loop: one ``before`` (breaker check, a
    rate-limit permit with a token estimate) and one ``after`` (settle, record,
    observe headers) per request, over the in-process store.
(2) End to end against a replay server on 127.0.0.1 (in this process): a short
    Chat Completions answer by bare ``alchemy.complete()``, by a Client with defaults
    only, and by a Client with a rate limit (requests, tokens, concurrency) and a
    breaker. Interleaved rounds, medians; the difference per request is the overhead.
(3) ``--streams`` concurrent async streams through one Client with a concurrency limit
    of ``--slots`` for the provider: every stream completes, and the peak number of
    requests in flight (counted between the request body being built and the call
    returning, which lies inside the permit) never exceeds the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared" / "tiktoken"))

import alchemy
from alchemy import AssistantMessage, Client, Context, Model, UserMessage
from alchemy.policies import CircuitBreaker, RateLimit
from alchemy.testing import Replay, ReplayServer

API = "openai-completions"
KEY = "bench-key-not-real"
HI = Context(messages=[UserMessage("hi")])
LIMIT = RateLimit(requests_per_minute=10**9, tokens_per_minute=10**12, concurrency=1000, max_wait=None)


def model_at(server: ReplayServer) -> Model:
    return Model(id="llama-3.3-70b-versatile", name="llama", api=API, provider="groq", base_url=server.base_url_for(API))


def policy_decisions(model: Model, rounds: int) -> float:
    """Microseconds per request for one before + after of the in-process guard."""
    client = Client(api_keys={"groq": KEY}, rate_limits={"groq": LIMIT}, breakers=CircuitBreaker())
    guard: Any = client._guard
    message = alchemy.complete(model, HI, api_key=KEY)  # a real final message, headers and usage included
    plan = client._plans("stream", [model], HI, {}, simple=False)[0]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            guard.after(guard.before(plan), message)
        best = min(best, (time.perf_counter() - started) / rounds)
    return best * 1e6


def end_to_end(model: Model, rounds: int, per_round: int) -> dict[str, float]:
    """Median microseconds per request of each way of calling, interleaved rounds."""
    plain = Client(api_keys={"groq": KEY})
    guarded = Client(api_keys={"groq": KEY}, rate_limits={"groq": LIMIT}, breakers=CircuitBreaker())
    calls: dict[str, Callable[[], AssistantMessage]] = {
        "bare alchemy.complete()": lambda: alchemy.complete(model, HI, api_key=KEY),
        "Client, defaults only": lambda: plain.complete(model, HI),
        "Client, rate limit + breaker": lambda: guarded.complete(model, HI),
    }
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():  # warm the pool and the tokenizer
        call()
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            for _ in range(per_round):
                call()
            samples[name].append((time.perf_counter() - started) / per_round * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def concurrent_streams(model: Model, streams: int, slots: int) -> tuple[int, int, float]:
    """(completed, peak in flight, seconds) of ``streams`` async streams under ``slots`` slots."""
    client = Client(api_keys={"groq": KEY}, rate_limits={"groq": RateLimit(concurrency=slots, max_wait=None)})
    in_flight = peak = 0

    def counted(body: Any, model: Model) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)

    async def one() -> bool:
        nonlocal in_flight
        message = await client.acomplete(model, HI, on_payload=counted)
        in_flight -= 1
        return message.stop_reason != "error"

    async def run() -> int:
        return sum(await asyncio.gather(*(one() for _ in range(streams))))

    started = time.perf_counter()
    completed = asyncio.run(run())
    return completed, peak, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--per-round", type=int, default=60)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=100)
    args = parser.parse_args()
    with ReplayServer(default=Replay(recording="openai-completions-answer")) as server:
        model = model_at(server)
        print(f"(1) policy decisions, in-process store: {policy_decisions(model, 2000):.1f} µs per request")
        figures = end_to_end(model, args.rounds, args.per_round)
        floor = figures["bare alchemy.complete()"]
        print(f"(2) end to end, median of {args.rounds} interleaved rounds of {args.per_round} requests:")
        for name, value in figures.items():
            print(f"    {name:<30} {value:9.1f} µs/request  {value / floor:5.2f}x  (+{value - floor:.1f} µs)")
        server.default = Replay(recording="openai-completions-answer", delay=0.001)
        completed, peak, seconds = concurrent_streams(model, args.streams, args.slots)
        print(f"(3) {args.streams} async streams, concurrency {args.slots}: {completed} completed, "
              f"peak in flight {peak}, {seconds:.2f} s")


if __name__ == "__main__":
    main()
