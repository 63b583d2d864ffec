"""Abort latency: from ``controller.abort()`` to the stream's terminal event, in every state.

    .venv/bin/python benchmarks/abort_latency.py            # 20 rounds per state and mode
    .venv/bin/python benchmarks/abort_latency.py --rounds 50

States (all on 127.0.0.1, every timeout set to 30 s so that only the abort ends a stream):

* ``connecting``   -- the port's backlog is full: the connect gets no answer;
* ``queued``       -- the pool (``ALCHEMY_MAX_CONNECTIONS=1``) is held by another stream:
                      the request waits for a place;
* ``before headers`` -- the server accepted and never answers;
* ``mid-body``     -- the replay server stalls 30 s after three events.

The abort comes from another thread (sync and async) and, for async, also from
another task on the same loop. The clock starts just before ``abort()`` and stops
when the consumer holds the ``error`` event. Each state and mode runs one untimed
warm-up round first (the first abort of a process pays one-time imports and the
tokenizer load of the usage estimate). Prints the median and the maximum per state;
the issue 16 target is under 50 ms in every state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import socket
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

API = "openai-completions"
PATIENT: dict[str, Any] = {"api_key": "sk-abort-latency", "max_retries": 0, "connect_timeout": 30, "timeout": 30}
ABORT_AFTER = 0.15


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for connection in accepted:
            connection.close()


@contextlib.contextmanager
def full_backlog() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(16):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(listener.getsockname())
        fillers.append(sock)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_WRITE)
            if not selector.select(0.2):
                break
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


@contextlib.contextmanager
def stalling_server() -> Iterator[str]:
    from alchemy.testing import Replay, ReplayServer, Stall

    with ReplayServer() as server:
        server.default = Replay(api=API, faults=[Stall(30.0, after_events=3)])
        yield server.base_url_for(API)


def measure_sync(model: Any, after: float = ABORT_AFTER) -> float:
    import alchemy

    controller = alchemy.AbortController()
    clock: list[float] = []

    def abort() -> None:
        clock.append(time.perf_counter())
        controller.abort()

    timer = threading.Timer(after, abort)
    timer.start()
    context = alchemy.Context(messages=[alchemy.UserMessage("hi")])
    with alchemy.stream(model, context, signal=controller.signal, **PATIENT) as events:
        for event in events:
            if event.type == "error":
                ended = time.perf_counter()
                assert event.reason == "aborted", event.error.error_message
    timer.join()
    return ended - clock[0]


async def measure_async(model: Any, same_loop: bool, after: float = ABORT_AFTER) -> float:
    import alchemy

    controller = alchemy.AbortController()
    clock: list[float] = []

    def abort() -> None:
        clock.append(time.perf_counter())
        controller.abort()

    timer = None
    if same_loop:
        asyncio.get_running_loop().call_later(after, abort)
    else:
        timer = threading.Timer(after, abort)
        timer.start()
    context = alchemy.Context(messages=[alchemy.UserMessage("hi")])
    async with alchemy.astream(model, context, signal=controller.signal, **PATIENT) as events:
        async for event in events:
            if event.type == "error":
                ended = time.perf_counter()
                assert event.reason == "aborted", event.error.error_message
    if timer is not None:
        timer.join()
    return ended - clock[0]


@contextlib.contextmanager
def pool_held(url: str) -> Iterator[None]:
    """The one place of a 1-connection pool, held by a stream to a server that never answers."""
    import alchemy
    from support import wire_model

    os.environ["ALCHEMY_MAX_CONNECTIONS"] = "1"
    holder = alchemy.AbortController()
    context = alchemy.Context(messages=[alchemy.UserMessage("hi")])
    thread = threading.Thread(
        target=alchemy.complete, args=(wire_model(API, url), context), kwargs={"signal": holder.signal, **PATIENT}
    )
    thread.start()
    time.sleep(0.2)
    try:
        yield
    finally:
        holder.abort()
        thread.join()
        del os.environ["ALCHEMY_MAX_CONNECTIONS"]


async def queued_async(model: Any, same_loop: bool) -> float:
    import alchemy

    holder = alchemy.AbortController()
    context = alchemy.Context(messages=[alchemy.UserMessage("hi")])
    held = asyncio.ensure_future(alchemy.acomplete(model, context, signal=holder.signal, **PATIENT))
    await asyncio.sleep(0.1)
    try:
        return await measure_async(model, same_loop)
    finally:
        holder.abort()
        await held


def run_async(measure: Callable[[Any, bool], Awaitable[float]], model: Any, same_loop: bool) -> float:
    async def main() -> float:
        return await measure(model, same_loop)

    return asyncio.run(main())


def rounds(function: Callable[[], float], count: int) -> list[float]:
    """``count`` timed rounds after one untimed warm-up round (see :data:`COLD`)."""
    COLD.append(function())
    return [function() for _ in range(count)]


COLD: list[float] = []
"""The warm-up rounds. The first abort of a process is slow for reasons outside the abort
path: the stream may still be importing httpx when it comes, and the usage estimate of
the aborted message loads the tokenizer (about a second, once)."""


def main() -> None:
    import argparse

    from support import wire_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[float]] = {}

    for state, server in (("connecting", full_backlog), ("before headers", silent_server), ("mid-body", stalling_server)):
        with server() as url:
            model = wire_model(API, url)
            results[(state, "sync, other thread")] = rounds(partial(measure_sync, model), args.rounds)
            results[(state, "async, other thread")] = rounds(partial(run_async, measure_async, model, False), args.rounds)
            results[(state, "async, same loop")] = rounds(partial(run_async, measure_async, model, True), args.rounds)
    with silent_server() as url:
        model = wire_model(API, url)
        with pool_held(url):
            results[("queued", "sync, other thread")] = rounds(lambda: measure_sync(model), args.rounds)
        os.environ["ALCHEMY_MAX_CONNECTIONS"] = "1"
        results[("queued", "async, other thread")] = rounds(partial(run_async, queued_async, model, False), args.rounds)
        results[("queued", "async, same loop")] = rounds(partial(run_async, queued_async, model, True), args.rounds)
        del os.environ["ALCHEMY_MAX_CONNECTIONS"]

    print(f"abort -> terminal event, {args.rounds} rounds each (ms)")
    print(f"{'state':16} {'mode':22} {'median':>8} {'max':>8}")
    worst = 0.0
    for (state, mode), times in results.items():
        worst = max(worst, max(times))
        print(f"{state:16} {mode:22} {statistics.median(times) * 1000:8.2f} {max(times) * 1000:8.2f}")
    print(f"worst case {worst * 1000:.2f} ms (target < 50 ms)")
    print(f"warm-up rounds (untimed above): first {COLD[0] * 1000:.0f} ms, then at most {max(COLD[1:]) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
