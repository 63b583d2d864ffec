"""Event buffer hand-off benchmarks: both twins side by side against asyncio.Queue and a deque loop.

The workload: 1,000,000 events delivered in batches of 16 (one network chunk's
worth), consumed one by one. Run (see benchmarks/README.md)::

    .venv/bin/python -m pytest benchmarks/test_bench_eventbuf.py --benchmark-json=eventbuf.json
    .venv/bin/python benchmarks/eventbuf_ratios.py eventbuf.json

* ``async`` group: the buffer's pull path (``async for`` over the buffer, whose
  ``__anext__`` awaits the source's ``apump()`` once per batch when empty) against
  the same hand-off through ``asyncio.Queue``: a producer task that puts each batch
  and then awaits (as a task reading a socket would), a consumer awaiting ``get()``.
  A second baseline pulls through the queue from one task (no task switches; the
  fastest way to use ``asyncio.Queue`` here).
* ``sync`` group: ``for event in buffer`` with a ``pump()`` per batch, against a plain
  ``collections.deque`` loop that extends a batch and pops it empty.

Every run checks that all events arrived, so nothing wins by skipping work.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from typing import Any

import pytest

EVENT_COUNT = 1_000_000
BATCH_SIZE = 16
BATCHES = EVENT_COUNT // BATCH_SIZE
BATCH = [object() for _ in range(BATCH_SIZE)]
ROUNDS = 7


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def _run(benchmark: Any, function: Any) -> Any:
    return benchmark.pedantic(function, rounds=ROUNDS, iterations=1, warmup_rounds=1)


# --- async ---------------------------------------------------------------------------------------


async def _eventbuf_async(buffer_cls: Any) -> int:
    buffer = buffer_cls()
    extend = buffer.extend
    remaining = BATCHES

    async def apump() -> bool:
        nonlocal remaining
        if remaining == 0:
            buffer.end(None)
            return False
        remaining -= 1
        extend(BATCH)
        return True

    buffer.attach(apump=apump)
    async for _ in buffer:
        pass
    count: int = buffer.handed_out
    return count


async def _queue_task() -> int:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    end = object()

    async def produce() -> None:
        put = queue.put_nowait
        for _ in range(BATCHES):
            for event in BATCH:
                put(event)
            await asyncio.sleep(0)  # the producer awaits its next network read
        put(end)

    producer = asyncio.ensure_future(produce())
    get = queue.get
    while (await get()) is not end:
        pass
    await producer
    # The consumer stopped at the end marker, put after every event: all arrived.
    return EVENT_COUNT if queue.empty() else -1


async def _queue_pull() -> int:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    put = queue.put_nowait
    get = queue.get
    remaining = BATCHES
    while True:
        if queue.empty():
            if remaining == 0:
                break
            remaining -= 1
            for event in BATCH:
                put(event)
        await get()
    return (BATCHES - remaining) * BATCH_SIZE


def test_async_eventbuf(benchmark: Any, loop: asyncio.AbstractEventLoop, event_buffer_cls: Any) -> None:
    benchmark.group = "eventbuf async: 1M events in batches of 16"
    assert _run(benchmark, lambda: loop.run_until_complete(_eventbuf_async(event_buffer_cls))) == EVENT_COUNT


def test_async_asyncio_queue_task(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    benchmark.group = "eventbuf async: 1M events in batches of 16"
    assert _run(benchmark, lambda: loop.run_until_complete(_queue_task())) == EVENT_COUNT


def test_async_asyncio_queue_pull(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    benchmark.group = "eventbuf async: 1M events in batches of 16"
    assert _run(benchmark, lambda: loop.run_until_complete(_queue_pull())) == EVENT_COUNT


# --- sync ----------------------------------------------------------------------------------------


def _eventbuf_sync(buffer_cls: Any) -> int:
    buffer = buffer_cls()
    extend = buffer.extend
    remaining = BATCHES

    def pump() -> bool:
        nonlocal remaining
        if remaining == 0:
            buffer.end(None)
            return False
        remaining -= 1
        extend(BATCH)
        return True

    buffer.attach(pump=pump)
    for _ in buffer:
        pass
    count: int = buffer.handed_out
    return count


def _deque_loop() -> int:
    queue: collections.deque[Any] = collections.deque()
    extend = queue.extend
    popleft = queue.popleft
    batches = 0
    for _ in range(BATCHES):
        extend(BATCH)
        while queue:
            popleft()
        batches += 1
    return batches * BATCH_SIZE


def test_sync_eventbuf(benchmark: Any, event_buffer_cls: Any) -> None:
    benchmark.group = "eventbuf sync: 1M events in batches of 16"
    assert _run(benchmark, lambda: _eventbuf_sync(event_buffer_cls)) == EVENT_COUNT


def test_sync_deque_loop(benchmark: Any) -> None:
    benchmark.group = "eventbuf sync: 1M events in batches of 16"
    assert _run(benchmark, _deque_loop) == EVENT_COUNT
