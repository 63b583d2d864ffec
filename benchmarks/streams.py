"""Shared harness for the provider streaming benchmarks.

Each provider benchmark writes its workload as a recording (one JSON payload per
line, the fixture format), serves it from a replay server running in a *separate
process* (so server and client do not share one interpreter lock), and times
alchemy, the raw floor and the peer SDKs reading the same bytes.

The floor is the least any Python client must do: httpx streaming the body and
``orjson.loads`` of every SSE ``data:`` line, nothing else.

What every provider benchmark shares lives here: serving a workload
(:func:`serve_workload`, yielding a :class:`Served`), timing one client under
pytest-benchmark with the per-chunk figure in ``extra_info`` (:func:`time_client`),
and, when a benchmark runs as a script, the interleaved rounds (:func:`measure`) and
the ratio table (:func:`report`). Each benchmark keeps its own workloads, request
body, clients and pytest tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import orjson
import pytest

if TYPE_CHECKING:
    from alchemy.types import Model

__all__ = [
    "PerChunk",
    "Runner",
    "Served",
    "floor_sse_sync",
    "measure",
    "optional_peer",
    "replay_process",
    "report",
    "serve_workload",
    "temporary_folder",
    "time_client",
    "write_recording",
]

Runner = Callable[[], int]
"""One client reading the whole served stream once; returns how many events it saw."""


def write_recording(folder: Path, name: str, payloads: Iterable[Any]) -> Path:
    """Writes ``payloads`` as ``<folder>/<name>.chunks.txt`` (one compact JSON per line)."""
    path = folder / f"{name}.chunks.txt"
    with path.open("wb") as out:
        for payload in payloads:
            out.write(orjson.dumps(payload))
            out.write(b"\n")
    return path


@contextlib.contextmanager
def replay_process(recording: Path, api: str, *, chunking: str = "event", delay: float = 0.0) -> Iterator[str]:
    """Serves ``recording`` on every route from ``python -m alchemy.testing serve``; yields its base URL.

    ``delay`` is the pause (seconds) between the server's writes, for long-lived streams.

    The first line the server prints holds its base URL. The process is terminated
    (then killed after 5 s) when the block ends.
    """
    command = [
        sys.executable,
        "-m",
        "alchemy.testing",
        "serve",
        "--recording",
        str(recording),
        "--api",
        api,
        "--chunking",
        chunking,
        "--delay",
        str(delay),
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = next((word for word in line.split() if word.startswith("http://")), None)
        if url is None:
            raise RuntimeError(f"the replay server did not print its URL: {line!r}")
        yield url.rstrip("/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def floor_sse_sync(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    """Streams ``url`` with httpx and ``orjson.loads`` every SSE data line; returns how many."""
    count = 0
    loads = orjson.loads
    pending = b""
    with client.stream("POST", url, json=body, headers=headers) as response:
        for chunk in response.iter_bytes():
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if line.startswith(b"data: ") and line != b"data: [DONE]" and line != b"data: [DONE]\r":
                    loads(line[6:])
                    count += 1
    return count


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="alchemy-bench-")


# --------------------------------------------------------------------------- serving a workload


@dataclasses.dataclass(frozen=True)
class Served:
    """One workload served by a replay process, and how each client reaches it.

    ``base_url`` is where alchemy's ``model`` and the peer SDKs point; ``url`` is the
    endpoint the floor posts to with ``client``, its httpx client.
    """

    name: str
    payloads: list[dict[str, Any]]
    base_url: str
    url: str
    client: httpx.Client
    model: Model

    @property
    def events(self) -> int:
        """How many payloads the recording holds: what the floor counts."""
        return len(self.payloads)


@contextlib.contextmanager
def serve_workload(
    name: str,
    payloads: list[dict[str, Any]],
    *,
    api: str,
    model: Model,
    endpoint: str,
    base_path: str = "",
) -> Iterator[Served]:
    """Records ``payloads`` in a temporary folder and serves them in ``api``'s framing from a replay process.

    ``base_path`` follows the server's root URL in ``base_url`` (which ``model`` is
    pointed at); ``endpoint`` follows ``base_url`` in the floor's ``url``.
    """
    with temporary_folder() as folder:
        recording = write_recording(Path(folder), f"{api}-bench-{name}", payloads)
        with replay_process(recording, api) as root, httpx.Client(timeout=60) as client:
            base_url = f"{root}{base_path}"
            served_model = dataclasses.replace(model, base_url=base_url)
            yield Served(name, payloads, base_url, f"{base_url}{endpoint}", client, served_model)


# --------------------------------------------------------------------------- under pytest-benchmark


def time_client(benchmark: Any, served: Served, run: Callable[..., int], *clients: Any, rounds: int) -> int:
    """Times ``run(served, *clients)`` for ``rounds`` rounds after one warm-up round; returns its count.

    The median per chunk goes into ``extra_info["median_us_per_chunk"]`` (not with
    ``--benchmark-disable``, which runs the body once without statistics).
    """
    count: int = benchmark.pedantic(run, (served, *clients), rounds=rounds, warmup_rounds=1)
    stats = benchmark.stats.stats if benchmark.stats is not None else None
    if stats is not None:
        benchmark.extra_info["median_us_per_chunk"] = round(stats.median / served.events * 1e6, 3)
    return count


def optional_peer() -> contextlib.suppress:
    """A block that leaves a peer SDK out of the ratio table when it is not installed.

    Peer clients are made with ``pytest.importorskip`` (so a test skips) or a plain
    import; outside a test run both mean the same: that peer is not timed.
    """
    return contextlib.suppress(ImportError, pytest.skip.Exception)


# --------------------------------------------------------------------------- the ratio table (run as a script)


class PerChunk(NamedTuple):
    """Median seconds per chunk of one client: wall time, and the client process's own CPU time."""

    wall: float
    cpu: float


def measure(
    servings: Iterable[contextlib.AbstractContextManager[Served]],
    clients: Callable[[Served], dict[str, Runner]],
    *,
    rounds: int,
    max_rounds: Mapping[str, int] | None = None,
) -> dict[str, dict[str, PerChunk]]:
    """Every client on every served workload, one warm-up read each, then ``rounds`` interleaved rounds.

    ``clients(served)`` names the runners, ``floor`` among them (the table's
    baseline); ``max_rounds`` caps a slow client's rounds. Results are keyed by workload, then
    client. The server runs in its own process, so the wall time of the fastest
    clients is partly the server's pace; the CPU time shows the client's own cost.
    """
    caps = max_rounds or {}
    results: dict[str, dict[str, PerChunk]] = {}
    for serving in servings:
        with serving as served:
            runners = clients(served)
            samples: dict[str, list[tuple[float, float]]] = {label: [] for label in runners}
            for run in runners.values():
                run()  # warm up: connections, caches
            for round_ in range(rounds):
                for label, run in runners.items():
                    if round_ >= caps.get(label, rounds):
                        continue
                    wall, cpu = time.perf_counter(), time.process_time()
                    run()
                    samples[label].append((time.perf_counter() - wall, time.process_time() - cpu))
            results[served.name] = {
                label: PerChunk(
                    statistics.median(wall for wall, _ in values) / served.events,
                    statistics.median(cpu for _, cpu in values) / served.events,
                )
                for label, values in samples.items()
            }
    return results


def report(results: dict[str, dict[str, PerChunk]], *, cpu: bool = False) -> str:
    """The markdown table of ``measure``'s results, every client against the floor of its workload.

    The ``stream`` column is left out when there is one workload; ``cpu`` adds the
    client CPU time and its ratio.
    """
    by_stream = len(results) > 1
    names = ["stream", "client"] if by_stream else ["client"]
    figures = ["µs / chunk", "vs floor"]
    if cpu:
        figures = ["wall µs / chunk", "vs floor", "client CPU µs / chunk", "vs floor"]
    lines = [
        "| " + " | ".join(names + figures) + " |",
        "|" + "|".join(["---"] * len(names) + ["---:"] * len(figures)) + "|",
    ]
    for name, timings in results.items():
        floor = timings["floor"]
        for label, timing in timings.items():
            cells = [name, label] if by_stream else [label]
            cells += [f"{timing.wall * 1e6:.2f}", f"{timing.wall / floor.wall:.2f}x"]
            if cpu:
                cells += [f"{timing.cpu * 1e6:.2f}", f"{timing.cpu / floor.cpu:.2f}x"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
