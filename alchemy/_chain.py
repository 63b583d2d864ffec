"""One consumer stream over a chain of attempts: the fallback machinery of :class:`alchemy.Client`.

Every model of a chain is prepared at the call (options, context and credentials
checked, so programmer errors raise before any I/O); nothing is sent until the
first event is wanted. Then the attempts run in order:

* the events of an attempt are held back until it *commits*: at its first event
  other than ``start``. Until then the consumer has seen nothing;
* an attempt whose first event after ``start`` is an ``error`` of a kind in
  ``fallback_on`` is dropped (its held ``start`` with it) and the next model is
  tried; ``context_overflow`` skips to the next model whose context window fits
  the prompt (counted with :func:`alchemy.count_tokens`);
* the committed attempt's events, ``start`` included, reach the consumer as they
  would from a bare stream, straight from its buffer. A failure after that ends the
  stream as it always does: nothing is retried, no text is duplicated.

So the consumer sees one ``start`` and one attempt's events; the final message
names the model that answered (``provider``, ``model``) and lists the attempts that
failed before it (:attr:`~alchemy.types.AssistantMessage.attempts`).

A :class:`Guard` (the Client's rate limits and breakers) runs before each attempt
opens and after it ends; its refusal (``rate_limit``, ``circuit_open``) is a failed
attempt like any other. A :class:`~alchemy.accounting._watch.CallWatch` (the Client's
observers, budgets and ``on_finish``) hears of each attempt and of the end of the
stream. None of this runs per event.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .api_registry import ApiProvider
from .emitter import EventEmitter
from .streaming import AssistantMessageEventStream, AsyncAssistantMessageEventStream, _open_async, _open_sync
from .types import AssistantMessage, Attempt, Context, Model, StreamMetrics

if TYPE_CHECKING:
    from types import TracebackType

    from .accounting._watch import CallWatch
    from .events import AssistantMessageEvent
    from .options import StreamOptions

__all__ = ["AsyncChainStream", "ChainStream", "Guard", "Plan"]


@dataclass(slots=True)
class Plan:
    """One prepared attempt: what ``streaming._prepare`` returned for one model of the chain."""

    provider: ApiProvider
    model: Model
    context: Context
    options: StreamOptions
    emitter: EventEmitter


class Guard(Protocol):
    """What runs around each attempt (the Client's rate limits and breakers).

    ``before`` / ``abefore`` may wait and may raise an exception that
    :meth:`~alchemy.errors.ErrorInfo.from_exception` classifies (a refused attempt);
    what they return is handed to ``after`` / ``aafter`` with the attempt's final message.
    """

    def before(self, plan: Plan) -> object: ...

    async def abefore(self, plan: Plan) -> object: ...

    def after(self, ticket: object, message: AssistantMessage) -> None: ...

    async def aafter(self, ticket: object, message: AssistantMessage) -> None: ...


_NO_TICKET: Any = object()


class _ChainBase:
    """What the sync and async chain streams share: the plans, the choice of the next one, the attempts."""

    __slots__ = ("_plans", "_next", "_fallback_on", "_guard", "_held", "_attempts", "_ticket", "_settled", "_watch")

    def __init__(
        self, plans: Sequence[Plan], fallback_on: frozenset[str], guard: Guard | None, watch: CallWatch | None
    ) -> None:
        self._plans = plans
        self._watch = watch
        self._next = 0
        self._fallback_on = fallback_on
        self._guard = guard
        self._held: deque[AssistantMessageEvent] = deque()
        self._attempts: list[Attempt] = []
        self._ticket: object = _NO_TICKET
        self._settled = True

    def _plan(self) -> Plan:
        return self._plans[max(self._next - 1, 0)]

    @property
    def model(self) -> Model:
        """The model of the current attempt (the one that answered, once committed)."""
        return self._plan().model

    @property
    def options(self) -> StreamOptions:
        """The checked options of the current attempt."""
        return self._plan().options

    @property
    def partial(self) -> AssistantMessage:
        """The in-progress message of the current attempt (the final one once the stream ended)."""
        return self._plan().emitter.message

    @property
    def metrics(self) -> StreamMetrics | None:
        """How the current attempt's response streamed (see ``AssistantMessageEventStream.metrics``)."""
        return self._plan().emitter.message.metrics

    @property
    def finished(self) -> bool:
        """Whether the answering attempt produced its terminal event."""
        return self._next > 0 and not self._held and self._plan().emitter.finished

    def _falls_over(self, event: AssistantMessageEvent) -> int | None:
        """The plan to try next when ``event`` (an attempt's first after ``start``) hands over, else ``None``."""
        if event.type != "error":
            return None
        message: AssistantMessage = event.error
        if message.stop_reason != "error":
            return None
        kind = message.error.kind if message.error is not None else "unknown"
        if kind not in self._fallback_on:
            return None
        return self._following(kind)

    def _following(self, kind: str) -> int | None:
        """The index of the next plan to try after a failure of ``kind``, or ``None``."""
        index = self._next
        if kind != "context_overflow":
            return index if index < len(self._plans) else None
        for candidate in range(index, len(self._plans)):
            if self._fits(self._plans[candidate]):
                return candidate
        return None

    def _fits(self, plan: Plan) -> bool:
        model = plan.model
        window = model.max_input_tokens or model.context_window
        if window <= 0:
            return True  # the model does not say: let it try
        from .tokens import count_tokens

        return count_tokens(model, plan.context).tokens < window

    def _record(self, plan: Plan, started: float) -> None:
        message = plan.emitter.message
        kind = message.error.kind if message.error is not None else "unknown"
        self._attempts.append(Attempt(plan.model.provider, plan.model.id, kind, time.monotonic() - started))

    def _watching(self, plan: Plan, *, refused: bool) -> None:
        if self._watch is not None:
            self._watch.attempt_opening(self._next - 1, plan, refused)

    def _commit(self, plan: Plan, event: AssistantMessageEvent) -> None:
        self._held.append(event)
        if self._attempts:
            plan.emitter.message.attempts = tuple(self._attempts)

    def __repr__(self) -> str:
        model = self.model
        state = "finished" if self.finished else "open"
        return f"<{type(self).__name__} {model.provider}/{model.id} {state}>"


class ChainStream(_ChainBase):
    """The events of one answer from a chain of models; used like ``AssistantMessageEventStream``.

    Iterate it, call :meth:`result`, :meth:`close` it or use it in a ``with`` block.
    Use it from one thread at a time.
    """

    __slots__ = ("_current",)

    def __init__(
        self, plans: Sequence[Plan], fallback_on: frozenset[str], guard: Guard | None, watch: CallWatch | None = None
    ) -> None:
        super().__init__(plans, fallback_on, guard, watch)
        self._current: AssistantMessageEventStream | None = None

    def __iter__(self) -> Iterator[AssistantMessageEvent]:
        return self._iterate()

    def _iterate(self) -> Iterator[AssistantMessageEvent]:
        try:
            current = self._current or self._begin()
            held = self._held
            while held:
                yield held.popleft()
            yield from current._buffer
            self._end()
        finally:
            self.close()

    def __next__(self) -> AssistantMessageEvent:
        current = self._current or self._begin()
        held = self._held
        if held:
            return held.popleft()
        try:
            return next(current._buffer)
        except StopIteration:
            self._end()
            raise

    def result(self) -> AssistantMessage:
        """Consumes the remaining events and returns the final message (never raises for provider errors)."""
        current = self._current or self._begin()
        self._held.clear()
        message = current.result()
        self._end()
        return message

    def close(self) -> None:
        """Ends the stream now (``aborted`` unless it already ended) and closes the connection."""
        current = self._current
        if current is None:  # closed before the first event was wanted: nothing was opened
            plan = self._plans[0]
            self._next = 1
            current = self._current = AssistantMessageEventStream(plan.model, plan.options, plan.emitter)
        current.close()
        self._held.clear()
        self._end()

    def __enter__(self) -> ChainStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _begin(self) -> AssistantMessageEventStream:
        """Runs attempts until one commits (or the chain is spent); returns the committed one."""
        while True:
            plan = self._plans[self._next]
            self._next += 1
            started = time.monotonic()
            events = self._open(plan)
            buffer = events._buffer
            event = next(buffer)
            while event.type == "start":
                self._held.append(event)
                event = next(buffer)
            following = self._falls_over(event)
            if following is not None:
                self._record(plan, started)
                events.close()
                self._held.clear()
                self._settle()
                if self._watch is not None:
                    self._watch.attempt_over(plan.emitter.message)
                self._next = following
                continue
            self._commit(plan, event)
            self._current = events
            return events

    def _open(self, plan: Plan) -> AssistantMessageEventStream:
        guard = self._guard
        if guard is not None:
            try:
                self._ticket = guard.before(plan)
            except Exception as exc:  # refused (rate limit, open breaker, aborted while waiting)
                self._watching(plan, refused=True)
                events = AssistantMessageEventStream(plan.model, plan.options, plan.emitter)
                events._fail(exc)
                return events
            self._settled = False
        self._watching(plan, refused=False)
        return _open_sync(plan.provider, plan.model, plan.context, plan.options, plan.emitter)

    def _settle(self) -> None:
        if self._settled or self._guard is None:
            return
        self._settled = True
        ticket, self._ticket = self._ticket, _NO_TICKET
        self._guard.after(ticket, self._plan().emitter.message)

    def _end(self) -> None:
        """The stream ended: the last attempt's guard, then the call's observers."""
        self._settle()
        if self._watch is not None:
            self._watch.finish(self._plan().emitter.message)


class AsyncChainStream(_ChainBase):
    """The async twin: ``async for``, ``await result()``, ``await aclose()``, ``async with``."""

    __slots__ = ("_current",)

    def __init__(
        self, plans: Sequence[Plan], fallback_on: frozenset[str], guard: Guard | None, watch: CallWatch | None = None
    ) -> None:
        super().__init__(plans, fallback_on, guard, watch)
        self._current: AsyncAssistantMessageEventStream | None = None

    def __aiter__(self) -> AsyncIterator[AssistantMessageEvent]:
        return self._aiterate()

    async def _aiterate(self) -> AsyncIterator[AssistantMessageEvent]:
        try:
            current = self._current or await self._begin()
            held = self._held
            while held:
                yield held.popleft()
            async for event in current._buffer:
                yield event
            await self._end()
        finally:
            await self.aclose()

    async def __anext__(self) -> AssistantMessageEvent:
        current = self._current or await self._begin()
        held = self._held
        if held:
            return held.popleft()
        try:
            event: AssistantMessageEvent = await current._buffer.__anext__()
        except StopAsyncIteration:
            await self._end()
            raise
        return event

    async def result(self) -> AssistantMessage:
        """Consumes the remaining events and returns the final message (never raises for provider errors)."""
        current = self._current or await self._begin()
        self._held.clear()
        message = await current.result()
        await self._end()
        return message

    async def aclose(self) -> None:
        """Ends the stream now (``aborted`` unless it already ended) and closes the connection."""
        current = self._current
        if current is None:
            plan = self._plans[0]
            self._next = 1
            current = self._current = AsyncAssistantMessageEventStream(plan.model, plan.options, plan.emitter)
        await current.aclose()
        self._held.clear()
        await self._end()

    async def __aenter__(self) -> AsyncChainStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _begin(self) -> AsyncAssistantMessageEventStream:
        while True:
            plan = self._plans[self._next]
            self._next += 1
            started = time.monotonic()
            events = await self._open(plan)
            buffer = events._buffer
            event = await buffer.__anext__()
            while event.type == "start":
                self._held.append(event)
                event = await buffer.__anext__()
            following = self._falls_over(event)
            if following is not None:
                self._record(plan, started)
                await events.aclose()
                self._held.clear()
                await self._settle()
                if self._watch is not None:
                    self._watch.attempt_over(plan.emitter.message)
                self._next = following
                continue
            self._commit(plan, event)
            self._current = events
            return events

    async def _open(self, plan: Plan) -> AsyncAssistantMessageEventStream:
        guard = self._guard
        if guard is not None:
            try:
                self._ticket = await guard.abefore(plan)
            except Exception as exc:
                self._watching(plan, refused=True)
                events = AsyncAssistantMessageEventStream(plan.model, plan.options, plan.emitter)
                events._fail(exc)
                return events
            self._settled = False
        self._watching(plan, refused=False)
        return _open_async(plan.provider, plan.model, plan.context, plan.options, plan.emitter)

    async def _settle(self) -> None:
        if self._settled or self._guard is None:
            return
        self._settled = True
        ticket, self._ticket = self._ticket, _NO_TICKET
        await self._guard.aafter(ticket, self._plan().emitter.message)

    async def _end(self) -> None:
        """The stream ended: the last attempt's guard, then the call's observers."""
        await self._settle()
        if self._watch is not None:
            await self._watch.afinish(self._plan().emitter.message)
