"""The event buffer kernel, on both twins, plus differential tests between them."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemy._speedups import _eventbuf_py

# -- producer side ------------------------------------------------------------


def test_fifo_order_len_and_bound(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls(3)
    assert buf.maxsize == 3 and len(buf) == 0 and not buf.full and not buf.finished
    assert buf.push("a") is True
    assert buf.extend(["b"]) is True
    assert buf.push("c") is False  # now at the bound: the producer should pause
    assert buf.full
    assert buf.push("d") is False  # never dropped
    assert len(buf) == 4
    assert [buf.pop() for _ in range(4)] == ["a", "b", "c", "d"]
    assert buf.handed_out == 4 and len(buf) == 0


@pytest.mark.parametrize(
    ("maxsize", "error", "message"),
    [
        (0, ValueError, "EventBuffer maxsize must be at least 1, got 0"),
        (-5, ValueError, "EventBuffer maxsize must be at least 1, got -5"),
        (1.5, TypeError, "EventBuffer maxsize must be an int, got float"),
        (True, TypeError, "EventBuffer maxsize must be an int, got bool"),
        ("8", TypeError, "EventBuffer maxsize must be an int, got str"),
    ],
)
def test_bad_maxsize(event_buffer_cls: Any, maxsize: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        event_buffer_cls(maxsize)
    assert str(info.value) == message


def test_default_maxsize(event_buffer_cls: Any) -> None:
    assert event_buffer_cls().maxsize == _eventbuf_py.DEFAULT_MAXSIZE


def test_end_hands_out_queued_events_then_stops(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    buf.extend([1, 2])
    buf.end("final")
    assert buf.finished
    assert buf.push(3) is False and buf.extend([4]) is False  # ignored after the end
    assert list(buf) == [1, 2]
    assert buf.result() == "final"
    assert list(buf) == []


def test_first_end_wins(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    buf.end("first")
    buf.end("second")
    buf.fail(RuntimeError("late"))
    assert buf.result() == "first"


def test_fail_raises_after_queued_events(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    buf.push("x")
    error = KeyError("boom")
    buf.fail(error)
    iterator = iter(buf)
    assert next(iterator) == "x"
    with pytest.raises(KeyError) as info:
        next(iterator)
    assert info.value is error
    with pytest.raises(KeyError):
        buf.result()


def test_fail_needs_an_exception(event_buffer_cls: Any) -> None:
    with pytest.raises(TypeError, match="EventBuffer.fail\\(\\) expects an exception, got str"):
        event_buffer_cls().fail("nope")


def test_result_before_end(event_buffer_cls: Any) -> None:
    with pytest.raises(RuntimeError, match="result\\(\\) called before the buffer was ended"):
        event_buffer_cls().result()


def test_pop_empty(event_buffer_cls: Any) -> None:
    with pytest.raises(IndexError, match="pop from an empty EventBuffer"):
        event_buffer_cls().pop()


def test_clear_discards_undelivered(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    buf.extend(range(5))
    assert buf.pop() == 0
    assert buf.clear() == 4
    assert len(buf) == 0 and buf.handed_out == 1
    buf.push("after")
    assert buf.pop() == "after" and buf.handed_out == 2


def test_repr(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    buf.extend([1, 2])
    buf.pop()
    assert repr(buf) == "<EventBuffer open, 1 queued, 1 handed out>"
    buf.end()
    assert repr(buf) == "<EventBuffer finished, 1 queued, 1 handed out>"


def test_generic_subscript(event_buffer_cls: Any) -> None:
    alias = event_buffer_cls[int]
    assert alias.__origin__ is event_buffer_cls


def test_long_backlog_keeps_order(event_buffer_cls: Any) -> None:
    # Exercises the compiled twin's compaction of consumed slots.
    buf = event_buffer_cls(10_000)
    expected = list(range(5000))
    out = []
    buf.extend(range(1000))
    for start in range(1000, 5000, 1000):
        out.extend(buf.pop() for _ in range(700))
        buf.extend(range(start, start + 1000))
    out.extend(buf.pop() for _ in range(len(buf)))
    assert out == expected


# -- sync pull ----------------------------------------------------------------


class BatchSource:
    """Fills the buffer one batch per pump, then ends it."""

    def __init__(self, buf: Any, batches: list[list[int]], result: object = "done") -> None:
        self.buf = buf
        self.batches = list(batches)
        self.result = result
        self.pumps = 0

    def pump(self) -> bool:
        self.pumps += 1
        if self.batches:
            self.buf.extend(self.batches.pop(0))
            return True
        self.buf.end(self.result)
        return False

    async def apump(self) -> bool:
        return self.pump()


def test_sync_pull_pumps_only_when_empty(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    source = BatchSource(buf, [[1, 2, 3], [], [4], [5, 6]])
    buf.attach(pump=source.pump)
    seen = []
    for event in buf:
        seen.append((event, source.pumps))
    assert seen == [(1, 1), (2, 1), (3, 1), (4, 3), (5, 4), (6, 4)]
    assert source.pumps == 5
    assert buf.result() == "done" and buf.handed_out == 6


def test_sync_source_exhausted_without_end(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    buf.attach(pump=lambda: False)
    with pytest.raises(RuntimeError, match="exhausted without ending the buffer"):
        next(buf)


def test_sync_no_source(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()
    with pytest.raises(RuntimeError, match="no sync source is attached"):
        next(buf)
    buf.attach(apump=BatchSource(buf, []).apump)
    with pytest.raises(RuntimeError, match="no sync source is attached"):
        next(buf)


def test_sync_pump_exception_propagates(event_buffer_cls: Any) -> None:
    buf = event_buffer_cls()

    def pump() -> bool:
        raise OSError("network")

    buf.attach(pump=pump)
    with pytest.raises(OSError, match="network"):
        next(buf)


# -- async pull ---------------------------------------------------------------


def test_async_pull(event_buffer_cls: Any) -> None:
    async def main() -> list[Any]:
        buf = event_buffer_cls()
        source = BatchSource(buf, [[1, 2], [3], [], [4, 5]])
        buf.attach(apump=source.apump)
        out = [event async for event in buf]
        assert source.pumps == 5
        assert buf.result() == "done"
        return out

    assert asyncio.run(main()) == [1, 2, 3, 4, 5]


def test_async_awaitables_created_ahead_keep_order(event_buffer_cls: Any) -> None:
    async def main() -> list[Any]:
        buf = event_buffer_cls()
        source = BatchSource(buf, [[1, 2], [3]])
        buf.attach(apump=source.apump)
        first, second, third = buf.__anext__(), buf.__anext__(), buf.__anext__()
        return [await first, await second, await third]

    assert asyncio.run(main()) == [1, 2, 3]


def test_async_awaitables_take_their_event_when_awaited(event_buffer_cls: Any) -> None:
    async def main() -> list[Any]:
        buf = event_buffer_cls()
        buf.extend(["a", "b", "c"])
        buf.end()
        first, second = buf.__anext__(), buf.__anext__()
        dropped = buf.__anext__()
        dropped.close()  # closed before it ran: takes nothing
        del dropped
        out = [await second, await first]  # awaited out of order: events in await order
        out.append(await buf.__anext__())
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await first
        return out

    assert asyncio.run(main()) == ["a", "b", "c"]


def test_cancelled_before_running_takes_nothing(event_buffer_cls: Any) -> None:
    async def main() -> list[Any]:
        buf = event_buffer_cls()
        buf.extend([1, 2])
        buf.end()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(buf.__anext__(), 0)  # cancelled before it ran
        return [event async for event in buf]

    assert asyncio.run(main()) == [1, 2]


def test_async_fail_and_errors(event_buffer_cls: Any) -> None:
    async def main() -> None:
        buf = event_buffer_cls()
        buf.push("x")
        buf.fail(ValueError("bad"))
        assert await buf.__anext__() == "x"
        with pytest.raises(ValueError, match="bad"):
            await buf.__anext__()

        empty = event_buffer_cls()
        with pytest.raises(RuntimeError, match="no async source is attached"):
            await empty.__anext__()

        async def exhausted() -> bool:
            return False

        empty.attach(apump=exhausted)
        with pytest.raises(RuntimeError, match="exhausted without ending the buffer"):
            await empty.__anext__()

        ended = event_buffer_cls()
        ended.end()
        with pytest.raises(StopAsyncIteration):
            await ended.__anext__()

    asyncio.run(main())


def test_async_ready_path_under_a_tracer(event_buffer_cls: Any) -> None:
    # With a tracer active CPython takes the iterator path of an awaitable.
    async def main() -> list[Any]:
        buf = event_buffer_cls()
        buf.extend([1, 2, 3])
        buf.end()
        return [event async for event in buf]

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        assert asyncio.run(main()) == [1, 2, 3]
    finally:
        sys.settrace(previous)


def test_async_ready_awaitable_protocol(event_buffer_cls: Any) -> None:
    async def main() -> None:
        buf = event_buffer_cls()
        buf.extend(["a", "b"])
        awaitable = buf.__anext__()
        iterator = awaitable.__await__()
        with pytest.raises(StopIteration) as info:
            iterator.send(None)
        assert info.value.value == "a"
        assert await buf.__anext__() == "b"

    asyncio.run(main())


def test_cancelled_pump_leaves_buffer_usable(event_buffer_cls: Any) -> None:
    async def main() -> list[Any]:
        buf = event_buffer_cls()
        gate = asyncio.Event()
        state = {"pumps": 0}

        async def apump() -> bool:
            state["pumps"] += 1
            if state["pumps"] == 1:
                await gate.wait()
            buf.extend([state["pumps"]])
            if state["pumps"] == 3:
                buf.end()
            return True

        buf.attach(apump=apump)
        task = asyncio.ensure_future(buf.__anext__())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return [event async for event in buf]

    assert asyncio.run(main()) == [2, 3]


# -- push-style producers: waiters and the bound ------------------------------


def test_producer_task_honours_the_bound(event_buffer_cls: Any) -> None:
    async def main() -> tuple[list[int], int]:
        buf = event_buffer_cls(4)
        peak = 0

        async def produce() -> None:
            nonlocal peak
            for i in range(50):
                if not buf.push(i):
                    await buf.wait_writable()
                peak = max(peak, len(buf))
            buf.end("end")

        async def apump() -> bool:
            await buf.wait_readable()
            return True

        buf.attach(apump=apump)
        producer = asyncio.ensure_future(produce())
        out = []
        async for event in buf:
            out.append(event)
            await asyncio.sleep(0)  # a slow consumer
        await producer
        return out, peak

    out, peak = asyncio.run(main())
    assert out == list(range(50))
    assert peak <= 4


def test_waiters_return_at_once_when_possible(event_buffer_cls: Any) -> None:
    async def main() -> None:
        buf = event_buffer_cls(2)
        await buf.wait_writable()  # empty: writable
        buf.push(1)
        await buf.wait_readable()  # non-empty: readable
        buf.end()
        buf.push(2)
        await buf.wait_writable()  # finished: never blocks

    asyncio.run(main())


def test_one_waiter_per_side(event_buffer_cls: Any) -> None:
    async def main() -> None:
        buf = event_buffer_cls(1)
        reader = asyncio.ensure_future(buf.wait_readable())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already waiting in wait_readable"):
            await buf.wait_readable()
        buf.push("x")
        await reader
        writer = asyncio.ensure_future(buf.wait_writable())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already waiting in wait_writable"):
            await buf.wait_writable()
        assert buf.clear() == 1  # frees room: the writer wakes
        await writer

    asyncio.run(main())


def test_end_wakes_both_waiters(event_buffer_cls: Any) -> None:
    async def main() -> None:
        reading = event_buffer_cls(1)
        reader = asyncio.ensure_future(reading.wait_readable())
        writing = event_buffer_cls(1)
        writing.push(0)
        writer = asyncio.ensure_future(writing.wait_writable())
        await asyncio.sleep(0)
        reading.end()
        writing.fail(RuntimeError("x"))
        await asyncio.wait_for(asyncio.gather(reader, writer), 5)

    asyncio.run(main())


# -- differential: both twins behave the same ---------------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(0, 99)),
        st.tuples(st.just("extend"), st.lists(st.integers(0, 99), max_size=20)),
        st.tuples(st.just("pop"), st.none()),
        st.tuples(st.just("next"), st.none()),
        st.tuples(st.just("clear"), st.none()),
        st.tuples(st.just("end"), st.integers(0, 9)),
        st.tuples(st.just("fail"), st.integers(0, 9)),
        st.tuples(st.just("state"), st.none()),
    ),
    max_size=60,
)


def _run(cls: Any, maxsize: int, operations: list[tuple[str, Any]], pulled: list[list[int]]) -> list[Any]:
    buf = cls(maxsize)
    batches = list(pulled)

    def pump() -> bool:
        if batches:
            buf.extend(batches.pop(0))
            return True
        buf.end("pump end")
        return False

    buf.attach(pump=pump)
    log: list[Any] = []
    for name, arg in operations:
        try:
            if name == "push":
                log.append(buf.push(arg))
            elif name == "extend":
                log.append(buf.extend(arg))
            elif name == "pop":
                log.append(buf.pop())
            elif name == "next":
                log.append(next(buf))
            elif name == "clear":
                log.append(buf.clear())
            elif name == "end":
                buf.end(arg)
            elif name == "fail":
                buf.fail(ValueError(f"failure {arg}"))
            else:
                log.append((len(buf), buf.full, buf.finished, buf.handed_out, repr(buf)))
        except (IndexError, StopIteration, ValueError, RuntimeError) as exc:
            log.append((type(exc).__name__, str(exc)))
    try:
        log.append(("result", buf.result()))
    except (ValueError, RuntimeError) as exc:
        log.append(("result error", type(exc).__name__, str(exc)))
    return log


@pytest.mark.compiled
@settings(max_examples=150, deadline=None)
@given(
    maxsize=st.integers(1, 8),
    operations=OPERATIONS,
    pulled=st.lists(st.lists(st.integers(0, 99), max_size=5), max_size=5),
)
def test_twins_agree_on_random_operations(
    compiled_eventbuf: Any, maxsize: int, operations: list[tuple[str, Any]], pulled: list[list[int]]
) -> None:
    assert _run(compiled_eventbuf, maxsize, operations, pulled) == _run(
        _eventbuf_py.EventBuffer, maxsize, operations, pulled
    )


@pytest.mark.compiled
@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 999), max_size=20), max_size=12),
    take_ahead=st.integers(1, 4),
)
def test_twins_agree_on_async_pulls(compiled_eventbuf: Any, batches: list[list[int]], take_ahead: int) -> None:
    def consume(cls: Any) -> list[Any]:
        async def main() -> list[Any]:
            buf = cls()
            source = BatchSource(buf, batches)
            buf.attach(apump=source.apump)
            out: list[Any] = []
            while True:
                # Create several awaitables before awaiting any, then await in order.
                pending = [buf.__anext__() for _ in range(take_ahead)]
                for awaitable in pending:
                    try:
                        out.append(await awaitable)
                    except StopAsyncIteration:
                        out.append(("stop", source.pumps, buf.handed_out))
                        for rest in pending:
                            close = getattr(rest, "close", None)
                            if close is not None:
                                close()
                        return out

        return asyncio.run(main())

    assert consume(compiled_eventbuf) == consume(_eventbuf_py.EventBuffer)


ASYNC_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.none()),
        st.tuples(st.just("await"), st.integers(0, 5)),
        st.tuples(st.just("close"), st.integers(0, 5)),
        st.tuples(st.just("push"), st.integers(0, 99)),
        st.tuples(st.just("clear"), st.none()),
        st.tuples(st.just("end"), st.none()),
    ),
    max_size=40,
)


def _run_async(cls: Any, operations: list[tuple[str, Any]], batches: list[list[int]]) -> list[Any]:
    async def main() -> list[Any]:
        buf = cls()
        source = BatchSource(buf, batches)
        buf.attach(apump=source.apump)
        pending: list[Any] = []
        log: list[Any] = []
        for name, arg in operations:
            if name == "create":
                pending.append(buf.__anext__())
            elif name in ("await", "close") and pending:
                awaitable = pending.pop(arg % len(pending))
                if name == "close":
                    awaitable.close()
                    continue
                try:
                    log.append(await awaitable)
                except (StopAsyncIteration, RuntimeError) as exc:
                    log.append(type(exc).__name__)
            elif name == "push":
                log.append(buf.push(arg))
            elif name == "clear":
                log.append(buf.clear())
            elif name == "end":
                buf.end()
            log.append((len(buf), buf.handed_out, source.pumps))
        for awaitable in pending:
            awaitable.close()
        return log

    return asyncio.run(main())


@pytest.mark.compiled
@settings(max_examples=100, deadline=None)
@given(operations=ASYNC_OPERATIONS, batches=st.lists(st.lists(st.integers(0, 99), max_size=4), max_size=6))
def test_twins_agree_on_async_awaitables(
    compiled_eventbuf: Any, operations: list[tuple[str, Any]], batches: list[list[int]]
) -> None:
    assert _run_async(compiled_eventbuf, operations, batches) == _run_async(
        _eventbuf_py.EventBuffer, operations, batches
    )


@pytest.fixture(scope="module")
def compiled_eventbuf() -> Callable[..., Any]:
    from alchemy._speedups import PURE_PYTHON_REQUESTED

    if PURE_PYTHON_REQUESTED:
        pytest.skip("ALCHEMY_PURE_PYTHON is set: only the pure twins are tested")
    from alchemy._speedups import _eventbuf_c

    cls: Callable[..., Any] = _eventbuf_c.EventBuffer
    return cls
