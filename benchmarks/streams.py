"""Shared harness for the provider streaming benchmarks.

Each provider benchmark writes its workload as a recording (one JSON payload per
line, the fixture format), serves it from a replay server running in a *separate
process* (so server and client do not share one interpreter lock), and times
alchemy, the raw floor and the peer SDKs reading the same bytes.

The floor is the least any Python client must do: httpx streaming the body and
``orjson.loads`` of every SSE ``data:`` line, nothing else.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

__all__ = ["floor_sse_sync", "replay_process", "write_recording"]


def write_recording(folder: Path, name: str, payloads: Iterable[Any]) -> Path:
    """Writes ``payloads`` as ``<folder>/<name>.chunks.txt`` (one compact JSON per line)."""
    path = folder / f"{name}.chunks.txt"
    with path.open("wb") as out:
        for payload in payloads:
            out.write(orjson.dumps(payload))
            out.write(b"\n")
    return path


@contextlib.contextmanager
def replay_process(recording: Path, api: str, *, chunking: str = "event") -> Iterator[str]:
    """Serves ``recording`` on every route from ``python -m alchemy.testing serve``; yields its base URL.

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
