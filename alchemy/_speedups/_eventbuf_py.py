"""Pure-Python twin of the event buffer, and the typed specification of both twins.

:class:`EventBuffer` is the FIFO between a provider's parser (the producer, which
pushes events through the emitter) and the consumer (``for`` / ``async for``).

It is **pull-based**. A consumer's ``__next__`` / ``__anext__`` hands out queued
events one by one; only when the queue is empty does it call the attached source
(``pump`` / ``apump``), which does one unit of work, typically reading one network
chunk and running the parser, and so refills the queue with a batch of events.
There is no background task and no future per event: one call (one await) per
network chunk.

Rules both twins follow exactly:

* **Order.** Events come out in the order they went in.
* **End hand-off.** :meth:`end` finishes the buffer with a result and
  :meth:`fail` with an exception; the first of the two wins and later pushes are
  ignored (``push`` returns ``False``). Events queued before the end are still
  handed out; after them iteration stops (``StopIteration`` /
  ``StopAsyncIteration``), or re-raises the exception given to :meth:`fail`.
  :meth:`result` returns the result (or raises that exception) once finished.
* **Bound.** ``maxsize`` bounds the queue for producers that run ahead of the
  consumer (a push-style provider running as a task). The buffer never drops an
  event: ``push`` always queues, and returns ``False`` once the queue holds
  ``maxsize`` events or more, to tell the producer to pause. A producer that runs
  as a task then awaits :meth:`wait_writable`, which returns once the consumer has
  taken every queued event and asks for more (so the producer resumes with a
  whole bound of room). A pull
  source never needs to wait: the consumer only pumps when the queue is empty.
* **Waiters.** A push-style source's ``apump`` awaits :meth:`wait_readable`. At
  most one coroutine waits on each side; both waits belong to one event loop.
  The buffer is not thread-safe: a producer running in another thread hands its
  raw chunks to the consumer's ``pump()`` (through a ``queue.Queue``, say) instead
  of pushing events itself.
* **Lazy hand-out.** An awaitable from ``__anext__`` takes its event when it is
  awaited, not when it is created: one that is dropped, closed or cancelled before
  it runs takes nothing.
* **Source contract.** ``pump()`` / ``await apump()`` return ``True`` while the
  source may produce more and ``False`` once exhausted. A source that reports
  exhaustion without having ended the buffer (and without queueing anything) is a
  bug, reported as ``RuntimeError``.
* **Retry support.** :attr:`handed_out` counts the events given to the consumer and
  :meth:`clear` discards the ones not yet given, so a runner can restart an attempt
  that nobody has seen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

if TYPE_CHECKING:
    import asyncio

__all__ = ["DEFAULT_MAXSIZE", "EventBuffer"]

DEFAULT_MAXSIZE: Final = 1024
"""The default bound on queued events: far more than one network chunk yields."""

T = TypeVar("T")

_EXHAUSTED: Final = "EventBuffer: the source reported it was exhausted without ending the buffer"
_NO_SOURCE: Final = "EventBuffer: the queue is empty and no {kind} source is attached"
_READER_BUSY: Final = "EventBuffer: another coroutine is already waiting in wait_readable()"
_WRITER_BUSY: Final = "EventBuffer: another coroutine is already waiting in wait_writable()"
_NOT_FINISHED: Final = "EventBuffer: result() called before the buffer was ended"


def _new_waiter() -> asyncio.Future[None]:
    """A future on the running loop. asyncio is imported here, at the first wait, so the
    sync path (``import alchemy``, ``for event in stream``) never loads it."""
    import asyncio

    return asyncio.get_running_loop().create_future()


def _check_maxsize(maxsize: object) -> int:
    if not isinstance(maxsize, int) or isinstance(maxsize, bool):
        raise TypeError(f"EventBuffer maxsize must be an int, got {type(maxsize).__name__}")
    if maxsize < 1:
        raise ValueError(f"EventBuffer maxsize must be at least 1, got {maxsize}")
    return maxsize


class EventBuffer(Generic[T]):
    """A FIFO of events with pull-based refill, a bound and an end/error hand-off."""

    __slots__ = (
        "_queue",
        "_maxsize",
        "_finished",
        "_result",
        "_error",
        "_pushed",
        "_pump",
        "_apump",
        "_reader",
        "_writer",
    )

    def __init__(self, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self._maxsize = _check_maxsize(maxsize)
        self._queue: deque[T] = deque()
        self._finished = False
        self._result: Any = None
        self._error: BaseException | None = None
        # Counted per push or per batch, not per hand-out: handed_out is derived.
        self._pushed = 0
        self._pump: Callable[[], bool] | None = None
        self._apump: Callable[[], Awaitable[bool]] | None = None
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None

    # -- wiring ---------------------------------------------------------------

    def attach(
        self,
        pump: Callable[[], bool] | None = None,
        apump: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Sets the sources the consumer pulls from when the queue is empty."""
        self._pump = pump
        self._apump = apump

    # -- producer side --------------------------------------------------------

    def push(self, event: T) -> bool:
        """Queues ``event``; returns ``False`` when the producer should pause (or the buffer ended)."""
        if self._finished:
            return False
        queue = self._queue
        queue.append(event)
        self._pushed += 1
        if self._reader is not None:
            self._wake_reader()
        return len(queue) < self._maxsize

    def extend(self, events: Iterable[T]) -> bool:
        """Queues every event of ``events`` in order (one network chunk's batch)."""
        if self._finished:
            return False
        queue = self._queue
        size = len(queue)
        queue.extend(events)
        self._pushed += len(queue) - size
        if self._reader is not None and queue:
            self._wake_reader()
        return len(queue) < self._maxsize

    def end(self, result: object = None) -> None:
        """Finishes the buffer; :meth:`result` returns ``result`` (the first end wins)."""
        if self._finished:
            return
        self._finished = True
        self._result = result
        self._wake_both()

    def fail(self, error: BaseException) -> None:
        """Finishes the buffer with ``error``, raised after the queued events and by :meth:`result`."""
        if not isinstance(error, BaseException):
            raise TypeError(f"EventBuffer.fail() expects an exception, got {type(error).__name__}")
        if self._finished:
            return
        self._finished = True
        self._error = error
        self._wake_both()

    async def wait_writable(self) -> None:
        """Returns at once below the bound; else once the consumer drained the queue, or the buffer finished."""
        if self._finished or len(self._queue) < self._maxsize:
            return
        if self._writer is not None:
            raise RuntimeError(_WRITER_BUSY)
        waiter = _new_waiter()
        self._writer = waiter
        try:
            await waiter
        finally:
            self._writer = None

    # -- state ----------------------------------------------------------------

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def finished(self) -> bool:
        """Whether :meth:`end` or :meth:`fail` was called (events may still be queued)."""
        return self._finished

    @property
    def full(self) -> bool:
        """Whether the queue holds ``maxsize`` events or more."""
        return len(self._queue) >= self._maxsize

    @property
    def handed_out(self) -> int:
        """How many events the consumer has taken so far."""
        return self._pushed - len(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def __repr__(self) -> str:
        state = "finished" if self._finished else "open"
        return f"<EventBuffer {state}, {len(self._queue)} queued, {self.handed_out} handed out>"

    def clear(self) -> int:
        """Discards the queued events (not yet handed out); returns how many."""
        count = len(self._queue)
        self._queue.clear()
        self._pushed -= count
        if self._writer is not None:
            self._wake_writer()
        return count

    def result(self) -> Any:
        """The result given to :meth:`end`, or raises the exception given to :meth:`fail`."""
        if not self._finished:
            raise RuntimeError(_NOT_FINISHED)
        if self._error is not None:
            raise self._error
        return self._result

    # -- consumer side --------------------------------------------------------

    def pop(self) -> T:
        """The next queued event, without pulling from the source; ``IndexError`` when empty."""
        queue = self._queue
        if not queue:
            raise IndexError("pop from an empty EventBuffer")
        event = queue.popleft()
        if not queue and self._writer is not None:
            self._wake_writer()
        return event

    def __iter__(self) -> EventBuffer[T]:
        return self

    def __next__(self) -> T:
        queue = self._queue
        if queue:
            return queue.popleft()
        if self._writer is not None:
            self._wake_writer()
        while not queue:
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopIteration
            pump = self._pump
            if pump is None:
                raise RuntimeError(_NO_SOURCE.format(kind="sync"))
            if not pump() and not queue and not self._finished:
                raise RuntimeError(_EXHAUSTED)
        return queue.popleft()

    def __aiter__(self) -> EventBuffer[T]:
        return self

    async def __anext__(self) -> T:
        queue = self._queue
        if queue:
            return queue.popleft()
        if self._writer is not None:
            self._wake_writer()
        while not queue:
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            apump = self._apump
            if apump is None:
                raise RuntimeError(_NO_SOURCE.format(kind="async"))
            if not await apump() and not queue and not self._finished:
                raise RuntimeError(_EXHAUSTED)
        return queue.popleft()

    async def wait_readable(self) -> None:
        """Returns once an event is queued or the buffer is finished (for push-style sources)."""
        if self._queue or self._finished:
            return
        if self._reader is not None:
            raise RuntimeError(_READER_BUSY)
        waiter = _new_waiter()
        self._reader = waiter
        try:
            await waiter
        finally:
            self._reader = None

    # -- internals ------------------------------------------------------------

    def _wake_reader(self) -> None:
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)

    def _wake_writer(self) -> None:
        # Called when the queue is empty (or cleared): the whole bound is free again.
        writer = self._writer
        if writer is not None and not writer.done():
            writer.set_result(None)

    def _wake_both(self) -> None:
        self._wake_reader()
        writer = self._writer
        if writer is not None and not writer.done():
            writer.set_result(None)
