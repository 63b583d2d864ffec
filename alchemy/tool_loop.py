"""The tool-running loop: :func:`run_tools` and :func:`arun_tools`.

One *turn* is one streamed response. After each turn the loop appends the
assistant message to the context; if the message called tools it runs them,
appends one :class:`~alchemy.types.ToolResultMessage` per call (in call order),
and starts the next turn; a turn the provider paused (Anthropic ``pause_turn``, see
:mod:`alchemy.server_tools`) is continued by the next turn as well. It stops when a
turn calls no tool and was not paused (``"done"``), when
``max_turns`` turns have run (``"max_turns"``, after that turn's tools ran, so the
context can be continued), or when a turn ends in error (``"error"``) or is
aborted (``"aborted"``). Whatever happens, nothing received is lost and no call
runs twice: every turn's message is in the context, and every call of a turn gets
exactly one result (an ``is_error`` one when it could not run).

How calls run:

* arguments are validated against the tool's schema and converted to the
  function's annotated types first; an unknown tool or invalid arguments give an
  ``is_error`` result with the validation message, and the function is not called;
* a tool that raises gives an ``is_error`` result with the exception's message
  (the exception itself is on the :class:`~alchemy.events.ToolResult` event);
* several calls of one turn run concurrently: in a thread pool for :func:`run_tools`
  (a lone call of a sync function runs in the caller's thread); in the async
  variant async functions are awaited as tasks and sync ones run in threads;
* a turn cut off by ``max_tokens`` (stop reason ``"length"``) does not run its last
  call, whose arguments may be cut short; it gets an ``is_error`` result saying so.

Aborting (``signal=``, as for :func:`~alchemy.stream`) ends a streaming turn at
once; while tools run, calls not yet started are not started (each gets an
``is_error`` result), async calls are cancelled, and sync calls already running
are waited for, since a thread cannot be stopped.

A tool's return value becomes the result's content: a string as it is, text and
image blocks (or a list of them) as they are, anything else as JSON (pydantic
models through ``model_dump(mode="json")``, dataclasses, enums and dates as orjson
writes them, other objects with ``str()``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import functools
import queue
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, Optional

import orjson

from .errors import ToolValidationError
from .events import ToolResult
from .function_tools import FunctionTool, as_tool
from .types import (
    AssistantMessage,
    Context,
    Cost,
    ImageContent,
    Message,
    Model,
    TextContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
)

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Unpack

    from .abort import AbortSignal
    from .events import ToolRunEvent
    from .options import CallOptions
    from .streaming import AssistantMessageEventStream, AsyncAssistantMessageEventStream

__all__ = ["AsyncToolRun", "DEFAULT_MAX_TURNS", "ToolRun", "ToolRunReason", "ToolRunResult", "arun_tools", "run_tools"]

DEFAULT_MAX_TURNS: Final = 10
"""How many turns :func:`run_tools` runs when ``max_turns`` is not given."""

ToolRunReason = Literal["done", "max_turns", "error", "aborted"]

NOT_RUN_ABORTED: Final = "Tool call not run: the run was aborted before it started."
CANCELLED_ABORTED: Final = "Tool call cancelled: the run was aborted while it ran."
NOT_RUN_CUT_OFF: Final = (
    "Tool call not run: the response reached its output token limit while this call was being written, "
    "so its arguments may be incomplete."
)


@dataclasses.dataclass(slots=True)
class ToolRunResult:
    """How a tool run ended.

    ``context`` is the context passed in, with every turn's messages appended
    (``new_messages`` lists them); ``message`` is the last assistant message;
    ``usage`` sums every turn's tokens and cost (a cost is ``None`` when any turn's
    price was unknown).
    """

    context: Context
    message: AssistantMessage
    reason: ToolRunReason
    turns: int
    usage: Usage
    new_messages: list[Message]

    @property
    def tool_results(self) -> list[ToolResultMessage]:
        """The results of every call the run answered, in order."""
        return [m for m in self.new_messages if isinstance(m, ToolResultMessage)]


# --------------------------------------------------------------------------- shared state


class _Run:
    """What both loops share: the checked tools, the context, the counters and the bookkeeping."""

    __slots__ = (
        "model", "context", "tools", "by_name", "max_turns", "options", "signal",
        "turns", "usage", "new_messages", "last_message", "reason",
    )  # fmt: skip

    def __init__(
        self, function: str, model: Model, context: Context, tools: Sequence[Any] | None, max_turns: int,
        options: dict[str, Any],
    ) -> None:  # fmt: skip
        if not isinstance(context, Context):
            raise TypeError(f"{function}() expects an alchemy.Context as context, got {type(context).__name__}")
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"{function}() max_turns must be an int >= 1, got {max_turns!r}")
        self.model = model
        self.context = context
        self.tools = _checked_tools(function, context.tools, tools)
        self.by_name = {tool.name: tool for tool in self.tools}
        self.max_turns = max_turns
        self.options = options
        self.signal: AbortSignal | None = options.get("signal")
        self.turns = 0
        self.usage = Usage()
        self.new_messages: list[Message] = []
        self.last_message: AssistantMessage | None = None
        self.reason: ToolRunReason | None = None

    def turn_context(self) -> Context:
        """A snapshot for the next request: the messages so far and every runnable tool."""
        return Context(self.context.system_prompt, list(self.context.messages), list(self.tools))

    @property
    def aborted(self) -> bool:
        return self.signal is not None and self.signal.aborted

    def append(self, message: Message) -> None:
        self.context.messages.append(message)
        self.new_messages.append(message)

    def end_turn(self, message: AssistantMessage) -> list[ToolCall] | None:
        """Records a finished turn; returns the calls to answer, or ``None`` when the run is over."""
        self.turns += 1
        self.last_message = message
        _add_usage(self.usage, message.usage)
        self.append(message)
        if message.stop_reason in ("error", "aborted"):
            self.reason = message.stop_reason
            return None
        calls = message.tool_calls
        if not calls:
            if message.paused:  # the provider paused its own tool loop: the next turn continues it
                return calls
            self.reason = "done"
            return None
        return calls

    def end_unfinished(self, message: AssistantMessage) -> None:
        """Records a turn the consumer left early; calls it made get a "not run" result."""
        calls = self.end_turn(message)
        if calls is not None:
            self.answer(calls, [None] * len(calls))
            self.reason = "aborted"

    def answer(self, calls: list[ToolCall], results: list[ToolResultMessage | None]) -> None:
        """Appends one result per call, in call order (``None``: the call never ran)."""
        for call, result in zip(calls, results):
            self.append(result or _error_result(call, NOT_RUN_ABORTED))

    def after_tools(self) -> bool:
        """Whether another turn follows the tools that just ran."""
        if self.aborted:
            self.reason = "aborted"
        elif self.turns >= self.max_turns:
            self.reason = "max_turns"
        return self.reason is None

    def prepare(self, message: AssistantMessage, call: ToolCall) -> _Prepared | ToolResultMessage:
        """The tool and converted arguments of ``call``, or the result that answers it without running."""
        if message.stop_reason == "length" and message.content and message.content[-1] is call:
            return _error_result(call, NOT_RUN_CUT_OFF)
        tool = self.by_name.get(call.name)
        if tool is None:
            from .validation import unknown_tool_error

            return _error_result(call, str(unknown_tool_error(self.tools, call)))
        try:
            args, kwargs = tool.call_arguments(call.arguments)
        except ToolValidationError as exc:
            return _error_result(call, str(exc))
        assert tool.function is not None  # checked when the run was made
        return _Prepared(call, tool.function, tool.is_async, args, kwargs)

    def result(self) -> ToolRunResult:
        if self.last_message is None or self.reason is None:
            raise RuntimeError("the tool run has not finished")
        return ToolRunResult(self.context, self.last_message, self.reason, self.turns, self.usage, self.new_messages)


@dataclasses.dataclass(slots=True)
class _Prepared:
    """A call ready to run: its function and converted arguments."""

    call: ToolCall
    function: Callable[..., Any]
    is_async: bool
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def run_sync(self) -> Any:
        if self.is_async:
            return asyncio.run(self.function(*self.args, **self.kwargs))
        return self.function(*self.args, **self.kwargs)


def _checked_tools(function: str, in_context: list[Tool] | None, given: Sequence[Any] | None) -> list[FunctionTool]:
    """The tools the run offers: the context's, then ``tools`` (a name given again replaces it)."""
    if given is not None and (isinstance(given, (str, bytes)) or not isinstance(given, Sequence)):
        raise TypeError(f"{function}() tools must be a list of tools or functions, got {type(given).__name__}")
    by_name: dict[str, FunctionTool] = {}
    for source, items in (("context.tools", in_context or ()), ("tools", given or ())):
        seen: set[str] = set()
        for i, item in enumerate(items):
            try:
                tool = as_tool(item)
            except TypeError as exc:
                raise TypeError(f"{function}() {source}[{i}]: {exc}") from None
            if not isinstance(tool, FunctionTool) or tool.function is None:
                raise TypeError(
                    f"{function}() {source}[{i}]: tool {tool.name!r} has no function to run; give a function, "
                    "an @alchemy.tool, Tool.from_function(f) or Tool.from_model(Model, f)"
                )
            if tool.name in seen:
                raise ValueError(f"{function}() {source}: two tools are named {tool.name!r}")
            seen.add(tool.name)
            by_name[tool.name] = tool
    return list(by_name.values())


# --------------------------------------------------------------------------- results


def _error_result(call: ToolCall, text: str) -> ToolResultMessage:
    return ToolResultMessage(call.id, call.name, [TextContent(text)], is_error=True)


def _exception_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _returned(call: ToolCall, value: Any) -> ToolResultMessage:
    """The result message of a call whose function returned ``value``."""
    return ToolResultMessage(call.id, call.name, _content(value))


def _content(value: Any) -> list[TextContent | ImageContent]:
    if isinstance(value, str):
        return [TextContent(value)]
    if isinstance(value, (TextContent, ImageContent)):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, (TextContent, ImageContent)) for v in value):
        return list(value)
    return [TextContent(orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode())]


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # a pydantic model
        return dump(mode="json")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _add_usage(total: Usage, usage: Usage) -> None:
    total.input += usage.input
    total.output += usage.output
    total.cache_read += usage.cache_read
    total.cache_write += usage.cache_write
    total.cache_write_1h += usage.cache_write_1h
    total.total_tokens += usage.total_tokens
    total.reasoning += usage.reasoning
    total.estimated = total.estimated or usage.estimated
    total.service_tier = usage.service_tier or total.service_tier
    total.cost = Cost(*(_add_price(getattr(total.cost, f), getattr(usage.cost, f)) for f in _COST_FIELDS))


_COST_FIELDS: Final = ("input", "output", "cache_read", "cache_write", "total")


def _add_price(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


# --------------------------------------------------------------------------- sync


class _RunView:
    """What the sync and async runs show of their :class:`_Run` while it goes."""

    __slots__ = ("_run",)

    def __init__(self, run: _Run) -> None:
        self._run = run

    @property
    def context(self) -> Context:
        """The context the run appends to."""
        return self._run.context

    @property
    def turns(self) -> int:
        """How many turns have finished so far."""
        return self._run.turns

    @property
    def usage(self) -> Usage:
        """Tokens and cost of the finished turns so far."""
        return self._run.usage

    @property
    def finished(self) -> bool:
        return self._run.reason is not None


class ToolRun(_RunView):
    """The events of a :func:`run_tools` loop, pulled as you iterate.

    Iterate it for every turn's stream events and a :class:`~alchemy.events.ToolResult`
    after each call ran; :meth:`result` finishes the run (iterating what is left) and
    returns the :class:`ToolRunResult`. Use it in a ``with`` block: leaving early
    closes the open stream, waits for running tools, answers the calls that did not
    run and ends the run as ``"aborted"``.
    """

    __slots__ = ("_stream", "_events", "_pool")

    def __init__(self, run: _Run, first: AssistantMessageEventStream) -> None:
        super().__init__(run)
        self._stream: AssistantMessageEventStream | None = first
        """The turn being streamed, until its message is recorded."""
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._events = self._loop()

    def __iter__(self) -> Iterator[ToolRunEvent]:
        return self._events

    def __next__(self) -> ToolRunEvent:
        return next(self._events)

    def result(self) -> ToolRunResult:
        """Runs the loop to its end (events not yet consumed are dropped) and returns how it ended."""
        for _ in self._events:
            pass
        return self._run.result()

    def close(self) -> None:
        """Ends the run now (``"aborted"`` unless it already ended); see the class docstring."""
        self._events.close()
        self._finish()

    def __enter__(self) -> ToolRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ToolRun {self._run.model.key} turns={self._run.turns} {self._run.reason or 'open'}>"

    def _finish(self) -> None:
        """Records the turn left open (closing its stream), stops the pool; idempotent."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
            self._run.end_unfinished(stream.result())
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._run.reason is None:
            self._run.reason = "aborted"

    def _loop(self) -> Generator[ToolRunEvent, None, None]:
        from .streaming import stream

        run = self._run
        try:
            while True:
                if self._stream is None:
                    self._stream = stream(run.model, run.turn_context(), **run.options)
                yield from self._stream
                message = self._stream.result()
                self._stream = None
                calls = run.end_turn(message)
                if calls is None:
                    return
                yield from self._run_calls(message, calls)
                if not run.after_tools():
                    return
        finally:
            self._finish()

    def _run_calls(self, message: AssistantMessage, calls: list[ToolCall]) -> Iterator[ToolResult]:
        run = self._run
        results: list[ToolResultMessage | None] = [None] * len(calls)
        try:
            todo: dict[int, _Prepared] = {}
            for i, call in enumerate(calls):
                prepared = run.prepare(message, call)
                if isinstance(prepared, ToolResultMessage):
                    results[i] = prepared
                    yield ToolResult(call, prepared, message)
                else:
                    todo[i] = prepared
            if run.aborted or not todo:
                return
            if len(todo) == 1 and not next(iter(todo.values())).is_async:
                i, prepared = next(iter(todo.items()))
                result, exception = _call_sync(prepared)
                results[i] = result
                yield ToolResult(prepared.call, result, message, exception)
            else:
                yield from self._run_pool(todo, results, message)
        finally:
            run.answer(calls, results)

    def _run_pool(
        self, todo: dict[int, _Prepared], results: list[ToolResultMessage | None], message: AssistantMessage
    ) -> Iterator[ToolResult]:
        """Runs the calls in threads, yielding each result as it comes; on abort or close, started
        calls are waited for and the others never start."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="alchemy-tool")
        finished: queue.SimpleQueue[int | None] = queue.SimpleQueue()

        def wake() -> None:
            finished.put(None)

        signal = self._run.signal
        if signal is not None:
            signal.add_listener(wake)
        futures: dict[int, concurrent.futures.Future[_Outcome]] = {}
        try:
            for i, prepared in todo.items():
                futures[i] = self._pool.submit(contextvars.copy_context().run, _call_sync, prepared)
                futures[i].add_done_callback(functools.partial(_put, finished, i))
            waiting = set(futures)
            while waiting and not self._run.aborted:
                done = finished.get()
                if done is None or done not in waiting:
                    continue
                waiting.discard(done)
                i = done
                result, exception = futures[i].result()
                results[i] = result
                yield ToolResult(todo[i].call, result, message, exception)
        finally:
            if signal is not None:
                signal.remove_listener(wake)
            for i, future in futures.items():
                if results[i] is None and not future.cancel():
                    results[i] = future.result()[0]


_Outcome = tuple[ToolResultMessage, Optional[BaseException]]


def _put(finished: queue.SimpleQueue[int | None], index: int, _: object) -> None:
    finished.put(index)


def _call_sync(prepared: _Prepared) -> _Outcome:
    try:
        value = prepared.run_sync()
    except Exception as exc:
        return _error_result(prepared.call, _exception_text(exc)), exc
    return _returned(prepared.call, value), None


def run_tools(
    model: Model,
    context: Context,
    tools: Sequence[Tool | Callable[..., Any]] | None = None,
    *,
    max_turns: int = DEFAULT_MAX_TURNS,
    **options: Unpack[CallOptions],
) -> ToolRun:
    """Streams ``model`` on ``context`` and runs the tools it calls, turn after turn (see the module doc).

    ``tools`` are :class:`~alchemy.Tool` objects with a function (``@alchemy.tool``,
    ``Tool.from_function``, ``Tool.from_model(Model, function)``) or plain functions;
    the context's own tools are offered too and must be runnable. ``options`` are
    those of :func:`alchemy.stream`, used for every turn and checked now: a bad option,
    tool or ``max_turns`` raises before anything is sent.
    """
    from .streaming import stream

    run = _Run("run_tools", model, context, tools, max_turns, dict(options))
    return ToolRun(run, stream(model, run.turn_context(), **options))


# --------------------------------------------------------------------------- async


class AsyncToolRun(_RunView):
    """The async twin of :class:`ToolRun`: ``async for``, ``await result()``, ``await aclose()``, ``async with``."""

    __slots__ = ("_stream", "_events")

    def __init__(self, run: _Run, first: AsyncAssistantMessageEventStream) -> None:
        super().__init__(run)
        self._stream: AsyncAssistantMessageEventStream | None = first
        self._events = self._loop()

    def __aiter__(self) -> AsyncIterator[ToolRunEvent]:
        return self._events

    async def __anext__(self) -> ToolRunEvent:
        return await self._events.__anext__()

    async def result(self) -> ToolRunResult:
        """Runs the loop to its end (events not yet consumed are dropped) and returns how it ended."""
        async for _ in self._events:
            pass
        return self._run.result()

    async def aclose(self) -> None:
        """Ends the run now (``"aborted"`` unless it already ended): running async calls are
        cancelled, running sync calls waited for."""
        await self._events.aclose()
        await self._finish()

    async def __aenter__(self) -> AsyncToolRun:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncToolRun {self._run.model.key} turns={self._run.turns} {self._run.reason or 'open'}>"

    async def _finish(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()
            self._run.end_unfinished(await stream.result())
        if self._run.reason is None:
            self._run.reason = "aborted"

    async def _loop(self) -> AsyncGenerator[ToolRunEvent, None]:
        from .streaming import astream

        run = self._run
        try:
            while True:
                if self._stream is None:
                    self._stream = astream(run.model, run.turn_context(), **run.options)
                async for event in self._stream:
                    yield event
                message = await self._stream.result()
                self._stream = None
                calls = run.end_turn(message)
                if calls is None:
                    return
                async for result in self._run_calls(message, calls):
                    yield result
                if not run.after_tools():
                    return
        finally:
            await self._finish()

    async def _run_calls(self, message: AssistantMessage, calls: list[ToolCall]) -> AsyncIterator[ToolResult]:
        run = self._run
        results: list[ToolResultMessage | None] = [None] * len(calls)
        tasks: dict[asyncio.Task[_Outcome], tuple[int, _Prepared]] = {}
        try:
            todo: dict[int, _Prepared] = {}
            for i, call in enumerate(calls):
                prepared = run.prepare(message, call)
                if isinstance(prepared, ToolResultMessage):
                    results[i] = prepared
                    yield ToolResult(call, prepared, message)
                else:
                    todo[i] = prepared
            if run.aborted:
                return
            for i, prepared in todo.items():
                tasks[asyncio.ensure_future(_call_async(prepared))] = (i, prepared)
            async for task in _as_completed(set(tasks), run.signal):
                i, prepared = tasks[task]
                result, exception = task.result()
                results[i] = result
                yield ToolResult(prepared.call, result, message, exception)
        finally:
            await _settle(tasks, results)
            run.answer(calls, results)


async def _call_async(prepared: _Prepared) -> _Outcome:
    try:
        if prepared.is_async:
            value = await prepared.function(*prepared.args, **prepared.kwargs)
        else:
            value = await asyncio.to_thread(prepared.function, *prepared.args, **prepared.kwargs)
    except Exception as exc:
        return _error_result(prepared.call, _exception_text(exc)), exc
    return _returned(prepared.call, value), None


async def _as_completed(
    pending: set[asyncio.Task[_Outcome]], signal: AbortSignal | None
) -> AsyncIterator[asyncio.Task[_Outcome]]:
    """The tasks as they finish, until all did or ``signal`` aborts."""
    if not pending:
        return
    loop = asyncio.get_running_loop()
    aborted = asyncio.Event()

    def wake() -> None:
        loop.call_soon_threadsafe(aborted.set)

    if signal is not None:
        signal.add_listener(wake)
    abort_waiter: asyncio.Future[Any] = asyncio.ensure_future(aborted.wait())
    try:
        while pending and not aborted.is_set():
            await asyncio.wait({*pending, abort_waiter}, return_when=asyncio.FIRST_COMPLETED)
            for task in [task for task in pending if task.done()]:
                pending.discard(task)
                yield task
    finally:
        abort_waiter.cancel()
        if signal is not None:
            signal.remove_listener(wake)


async def _settle(
    tasks: dict[asyncio.Task[_Outcome], tuple[int, _Prepared]], results: list[ToolResultMessage | None]
) -> None:
    """After an abort or close: async calls still running are cancelled, sync ones (in threads,
    which cannot be stopped) are waited for; records how each ended."""
    for task, (i, prepared) in tasks.items():
        if results[i] is not None:
            continue
        if not task.done() and prepared.is_async:
            task.cancel()
        try:
            results[i] = (await task)[0]
        except asyncio.CancelledError:
            results[i] = _error_result(prepared.call, CANCELLED_ABORTED)


def arun_tools(
    model: Model,
    context: Context,
    tools: Sequence[Tool | Callable[..., Any]] | None = None,
    *,
    max_turns: int = DEFAULT_MAX_TURNS,
    **options: Unpack[CallOptions],
) -> AsyncToolRun:
    """The async twin of :func:`run_tools` (call it without ``await``; iterate with ``async for``)."""
    from .streaming import astream

    run = _Run("arun_tools", model, context, tools, max_turns, dict(options))
    return AsyncToolRun(run, astream(model, run.turn_context(), **options))
