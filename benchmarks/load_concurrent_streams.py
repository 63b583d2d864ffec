"""Load: N concurrent async streams on one event loop against a replay server process.

    .venv/bin/python benchmarks/load_concurrent_streams.py            # 1,000 streams
    .venv/bin/python benchmarks/load_concurrent_streams.py --streams 200 --api anthropic-messages

The server runs in its own process (``python -m alchemy.testing serve``) and replays
the bundled recording of the chosen wire API; every stream must end ``done`` with
every event of the recording delivered. Connections are not capped by the pool
(``ALCHEMY_MAX_CONNECTIONS`` is raised to the stream count) so all streams are open
at once. Prints wall time, streams per second, events per second and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streams import replay_process  # noqa: E402


async def run(streams: int, api: str, base_url: str) -> tuple[float, list[int], set[str]]:
    import alchemy
    from alchemy.cli import DEMO_MODELS, demo_context

    model = dataclasses.replace(alchemy.get_model(DEMO_MODELS[api]), base_url=base_url)
    context = demo_context()
    options = {"api_key": "load-test-key", "max_retries": 0}
    if api == "bedrock-converse-stream":
        options["region"] = "us-east-1"

    async def one() -> tuple[int, str]:
        count = 0
        async with alchemy.astream(model, context, **options) as events:
            async for _ in events:
                count += 1
        message = await events.result()
        return count, message.stop_reason

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(streams)))
    elapsed = time.perf_counter() - started
    return elapsed, [count for count, _ in results], {reason for _, reason in results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--api", default="openai-completions")
    args = parser.parse_args()
    os.environ["ALCHEMY_MAX_CONNECTIONS"] = str(args.streams)
    os.environ["ALCHEMY_MAX_KEEPALIVE_CONNECTIONS"] = str(args.streams)

    import alchemy.testing
    from alchemy.testing.routes import base_path

    recording = Path(alchemy.testing.__file__).parent / "recordings" / f"{args.api}.chunks.txt"
    with replay_process(recording, args.api) as root:
        elapsed, counts, reasons = asyncio.run(run(args.streams, args.api, root + base_path(args.api)))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total_events = sum(counts)
    print(f"{args.streams} concurrent streams ({args.api}) on one event loop")
    print(f"  stop reasons: {sorted(reasons)}; events per stream: {sorted(set(counts))}")
    print(f"  wall time {elapsed:.2f} s, {args.streams / elapsed:,.0f} streams/s, {total_events / elapsed:,.0f} events/s")
    print(f"  peak RSS {peak_rss_mb:,.0f} MB")
    if len(set(counts)) != 1 or reasons != {"toolUse"}:
        raise SystemExit("some streams did not deliver every event")


if __name__ == "__main__":
    main()
