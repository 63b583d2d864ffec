"""Test parts for alchemy.policies: a real redis-server, a virtual clock shared by threads and processes.

``redis_server`` (session fixture) starts ``redis-server`` on 127.0.0.1 on a free port
in a temporary directory, with nothing saved to disk, and stops it by its PID at the
end. Without a ``redis-server`` binary the tests that use it skip, saying how to get
one (``.ci/run`` installs it, so CI always runs them).

:class:`VirtualClock` is a :class:`alchemy.policies.Clock` whose time only moves when a
caller waits: ``sleep(s)`` moves it on by ``s`` and returns at once. Kept in a ``multiprocessing.Value``, it is one time for threads, tasks and
processes, so minute-long windows are tested in milliseconds and no assertion
depends on the machine's speed.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alchemy.abort import AbortSignal

START = 1_800_000_000.0
"""Where virtual time starts (Unix seconds)."""


class VirtualClock:
    """Time that moves only when someone waits; shared when its cell is (pickles with it)."""

    def __init__(self, cell: Any | None = None) -> None:
        self.cell: Any = multiprocessing.get_context("spawn").Value("d", START) if cell is None else cell

    def now(self) -> float:
        with self.cell.get_lock():
            return float(self.cell.value)

    def advance(self, seconds: float) -> None:
        with self.cell.get_lock():
            self.cell.value += seconds

    def sleep(self, seconds: float, signal: AbortSignal | None) -> None:
        with self.cell.get_lock():
            self.cell.value = self.cell.value + seconds
        time.sleep(0)  # let the others run, as a real wait would

    async def asleep(self, seconds: float, signal: AbortSignal | None) -> None:
        import asyncio

        with self.cell.get_lock():
            self.cell.value = self.cell.value + seconds
        await asyncio.sleep(0)


def max_in_window(times: list[float], weights: list[int] | None = None, window: float = 60.0) -> int:
    """The most (summed ``weights``, else count) started within any ``window`` seconds."""
    pairs = sorted(zip(times, weights or [1] * len(times)))
    best = total = start = 0
    for when, weight in pairs:
        total += weight
        while pairs[start][0] <= when - window:
            total -= pairs[start][1]
            start += 1
        best = max(best, total)
    return best


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1; ``restart()`` keeps its port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - the child holds it
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        for _ in range(500):  # bounded: 10 s at most
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        log_text = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log_text}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary: apt-get install redis-server (CI installs it; .ci/run)")
    pytest.importorskip("redis", reason="redis-py missing: pip install -e '.[test]'")
    return binary


def start_redis() -> Iterator[RedisServer]:
    """A started server in a fresh temporary directory, stopped (by PID) when the iterator ends."""
    binary = redis_binary()
    with tempfile.TemporaryDirectory(prefix="alchemy-redis-") as directory:
        server = RedisServer(binary, Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for the whole session (tests isolate themselves by key prefix)."""
    yield from start_redis()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server for one test alone (for tests that stop or restart it)."""
    yield from start_redis()
