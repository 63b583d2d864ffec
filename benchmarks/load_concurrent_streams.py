"""Load: many concurrent streams to one origin, against a replay server in its own process.

    .venv/bin/python benchmarks/load_concurrent_streams.py                      # 1,000 astream, default pool
    .venv/bin/python benchmarks/load_concurrent_streams.py --compare            # default pool vs 1,000 connections
    .venv/bin/python benchmarks/load_concurrent_streams.py --threads 200 --delay 0.05   # 200 sync threads
    .venv/bin/python benchmarks/load_concurrent_streams.py --streams 200 --api anthropic-messages --pool 200

The server (``python -m alchemy.testing serve``) replays the bundled recording of the
chosen wire API; ``--delay`` paces its writes so that streams stay open (29 events x
0.05 s is about 1.5 s per stream). Every stream must end with every event of the
recording, none lost or duplicated. ``--pool N`` sets ``ALCHEMY_MAX_CONNECTIONS`` (and the
keep-alive limit) to N; without it the defaults hold (100 connections), so streams beyond
the pool size queue in alchemy's admission queue. ``--compare`` runs the default pool and
a pool as large as the stream count in interleaved rounds and prints the ratio of their
median wall times (the issue 16 target: within 1.5x). Prints wall time, streams and events
per second, peak RSS, and the error messages of any stream that failed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streams import replay_process  # noqa: E402

EXPECTED_STOP = "toolUse"  # every bundled demo recording ends in a tool call


@dataclasses.dataclass
class Run:
    label: str
    elapsed: float
    counts: list[int]
    outcomes: collections.Counter[str]

    @property
    def ok(self) -> bool:
        return len(set(self.counts)) == 1 and set(self.outcomes) == {EXPECTED_STOP}

    def report(self) -> str:
        streams = len(self.counts)
        events = sum(self.counts)
        rates = f"{streams / self.elapsed:,.0f} streams/s, {events / self.elapsed:,.0f} events/s"
        lines = [
            f"{self.label}: {streams} streams in {self.elapsed:.2f} s ({rates})",
            f"  events per stream: {sorted(set(self.counts))}",
        ]
        for outcome, count in self.outcomes.most_common(5):
            lines.append(f"  {count:5d} x {outcome[:160]}")
        return "\n".join(lines)


def _setup(api: str, base_url: str) -> tuple[Any, Any, dict[str, Any]]:
    import alchemy
    from alchemy.cli import DEMO_MODELS, demo_context

    model = dataclasses.replace(alchemy.get_model(DEMO_MODELS[api]), base_url=base_url)
    options: dict[str, Any] = {"api_key": "load-test-key", "max_retries": 0}
    if api == "bedrock-converse-stream":
        options["region"] = "us-east-1"
    return model, demo_context(), options


def _outcome(message: Any) -> str:
    if message.stop_reason == EXPECTED_STOP:
        return str(message.stop_reason)
    return f"{message.stop_reason}: {message.error_message}"


async def run_async(streams: int, api: str, base_url: str, label: str) -> Run:
    import alchemy

    model, context, options = _setup(api, base_url)

    async def one() -> tuple[int, str]:
        count = 0
        async with alchemy.astream(model, context, **options) as events:
            async for _ in events:
                count += 1
        return count, _outcome(await events.result())

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(streams)))
    elapsed = time.perf_counter() - started
    return Run(label, elapsed, [c for c, _ in results], collections.Counter(o for _, o in results))


def run_threads(threads: int, api: str, base_url: str, label: str) -> Run:
    import alchemy

    model, context, options = _setup(api, base_url)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def one() -> None:
        start.wait()
        count = 0
        with alchemy.stream(model, context, **options) as events:
            for _ in events:
                count += 1
        outcome = _outcome(events.result())
        with lock:
            results.append((count, outcome))

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return Run(label, elapsed, [c for c, _ in results], collections.Counter(o for _, o in results))


def set_pool(size: int | None) -> str:
    """Sets (or, for ``None``, unsets) the pool limits in the environment; returns a label."""
    for name in ("ALCHEMY_MAX_CONNECTIONS", "ALCHEMY_MAX_KEEPALIVE_CONNECTIONS"):
        if size is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = str(size)
    return "default pool" if size is None else f"pool of {size}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000, help="concurrent astream calls (default 1000)")
    parser.add_argument("--threads", type=int, default=0, help="run this many sync threads instead")
    parser.add_argument("--api", default="anthropic-messages")
    parser.add_argument("--pool", type=int, default=None, help="ALCHEMY_MAX_CONNECTIONS (default: unset)")
    parser.add_argument("--delay", type=float, default=0.0, help="server pause between writes, seconds")
    parser.add_argument("--compare", action="store_true", help="default pool vs a pool of --streams")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds for --compare")
    args = parser.parse_args()

    import alchemy.testing
    from alchemy.testing.routes import base_path

    recording = Path(alchemy.testing.__file__).parent / "recordings" / f"{args.api}.chunks.txt"
    count = args.threads or args.streams

    def once(pool: int | None) -> Run:
        label = set_pool(pool)
        if args.threads:
            return run_threads(args.threads, args.api, url, f"{args.threads} sync threads, {label}")
        return asyncio.run(run_async(args.streams, args.api, url, f"{args.streams} astream on one loop, {label}"))

    with replay_process(recording, args.api, delay=args.delay) as root:
        url = root + base_path(args.api)
        if not args.compare:
            run = once(args.pool)
            print(run.report())
            runs = [run]
        else:
            runs = []
            for _ in range(args.rounds):
                runs += [once(None), once(count)]
            default = statistics.median(r.elapsed for r in runs[0::2])
            large = statistics.median(r.elapsed for r in runs[1::2])
            for run in runs:
                print(run.report())
            print(f"median wall time: default pool {default:.2f} s, pool of {count} {large:.2f} s; "
                  f"ratio {default / large:.2f}x (target <= 1.5x)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    if not all(run.ok for run in runs):
        raise SystemExit("some streams failed or did not deliver every event")


if __name__ == "__main__":
    main()
