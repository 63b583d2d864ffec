"""Prints the event buffer benchmark table (markdown) from a pytest-benchmark JSON file.

    .venv/bin/python -m pytest benchmarks/test_bench_eventbuf.py --benchmark-json=eventbuf.json
    .venv/bin/python benchmarks/eventbuf_ratios.py eventbuf.json

Times are the minimum of each benchmark's rounds; every ratio compares two
hand-offs measured in the same run on the same workload.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EVENTS = 1_000_000

ROWS = {
    "test_async_eventbuf[cython]": "EventBuffer, compiled (`async for`)",
    "test_async_eventbuf[python]": "EventBuffer, pure (`async for`)",
    "test_async_asyncio_queue_task": "asyncio.Queue, producer task -> consumer",
    "test_async_asyncio_queue_pull": "asyncio.Queue, pulled from one task",
    "test_sync_eventbuf[cython]": "EventBuffer, compiled (`for`)",
    "test_sync_eventbuf[python]": "EventBuffer, pure (`for`)",
    "test_sync_deque_loop": "collections.deque loop",
}


def _faster(baseline: float | None, seconds: float) -> str:
    return f"{baseline / seconds:.1f}x faster" if baseline else ""


def _slower(baseline: float | None, seconds: float) -> str:
    return f"{seconds / baseline:.2f}x the time" if baseline else ""


def main(path: str) -> None:
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    times = {bench["name"]: bench["stats"]["min"] for bench in report["benchmarks"] if bench["name"] in ROWS}
    queue_task = times.get("test_async_asyncio_queue_task")
    queue_pull = times.get("test_async_asyncio_queue_pull")
    deque_loop = times.get("test_sync_deque_loop")
    print("| hand-off | ns / event | vs asyncio.Queue (task) | vs asyncio.Queue (pull) | vs deque loop |")
    print("|---|---:|---:|---:|---:|")
    for name, label in ROWS.items():
        seconds = times.get(name)
        if seconds is None:
            continue
        is_async = name.startswith("test_async")
        cells = [
            f"{seconds / EVENTS * 1e9:.0f}",
            _faster(queue_task, seconds) if is_async and name != "test_async_asyncio_queue_task" else "",
            _faster(queue_pull, seconds) if is_async and name != "test_async_asyncio_queue_pull" else "",
            _slower(deque_loop, seconds) if not is_async and name != "test_sync_deque_loop" else "",
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "eventbuf.json")
