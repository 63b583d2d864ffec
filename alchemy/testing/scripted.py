"""A scripted provider: streams a response you write down, with no network.

Use it to test code built on alchemy (and alchemy's own protocol) end to end::

    from alchemy.testing import ScriptedProvider, scripted_model, text, tool_call, usage, stop

    provider = ScriptedProvider([
        [text("Let me check")],                                  # network chunk 1
        [tool_call("call_1", "get_weather", '{"city": "Pa')],    # network chunk 2
        [tool_call("call_1", arguments='ris"}')],                # same id: continues the call
        [usage(input=12, output=7), stop("toolUse")],
    ])
    with provider:                       # registered for api "scripted" inside the block
        message = alchemy.complete(scripted_model(), context)

A **script** is a list of batches; each batch stands for one network chunk and is
a list of chunks (a bare chunk is a batch of one). The consumer pulls one batch
per ``pump``. The chunk vocabulary:

==========================================  ==========================================================
chunk                                       effect
==========================================  ==========================================================
``text(delta, signature=, new_block=)``     text; continues the open text block unless ``new_block``
``thinking(delta, signature=, redacted=,    thinking; continues the open thinking block unless
new_block=)``                               ``new_block`` (a redacted block carries its payload as
                                            ``signature``)
``tool_call(id, name=, arguments=,          a tool call: a new ``id`` starts a call (``name``
thought_signature=)``                       required), the same ``id`` appends the JSON fragment
                                            ``arguments``; a ``dict`` gives the whole call at once
``server_tool(id, name=, input=, result=,  a tool the provider ran: a new ``id`` starts one
status=)``                                  (``name`` required), the same ``id`` appends the JSON
                                            fragment ``input``; ``result`` or ``status`` ends it; a
                                            ``dict`` input with a ``result`` gives it whole
``citation(kind, url=, title=, ...)``       a source on the open (or last) text block
``paused()``                                the provider paused the turn (``message.paused``)
``usage(input=, output=, cache_read=,       the token counts so far (``total_tokens`` defaults to
cache_write=, reasoning=, total_tokens=)``  the sum)
``response_id(id)``                         the provider's response id
``stop(reason="stop")``                     the response ends: ``stop``, ``length`` or ``toolUse``
``error(message)``                          the provider reports an error: the stream ends with it
``fail(exception)``                         ``pump`` raises ``exception`` (a crash, a dropped
                                            connection): the stream ends with an error event
==========================================  ==========================================================

A script that runs out without ``stop`` or ``error`` ends as ``stop``. Blocks
close themselves as in every provider (a new block closes the open one). With
several scripts, each request plays the next one and the last one repeats.
``delay`` pauses before each batch (interrupted at once by an abort signal), so a
test can abort from another thread while the consumer waits. Every request is
recorded in :attr:`ScriptedProvider.calls`, with its options and whether its source
was closed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union, get_args

from ..api_registry import get_api, register_api, unregister_api
from ..errors import UnknownApiError
from ..types import Citation, Context, Model, ModelCost, ServerToolCall, ToolCall, Usage

if TYPE_CHECKING:
    from types import TracebackType

    from ..abort import AbortSignal
    from ..api_registry import ApiProvider
    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..strict_tools import StrictTools

__all__ = [
    "SCRIPTED_API",
    "Chunk",
    "CitationChunk",
    "ErrorChunk",
    "FailChunk",
    "PausedChunk",
    "ResponseIdChunk",
    "Script",
    "ScriptedCall",
    "ScriptedProvider",
    "ScriptedSource",
    "AsyncScriptedSource",
    "ServerToolChunk",
    "StopChunk",
    "TextChunk",
    "ThinkingChunk",
    "ToolCallChunk",
    "UsageChunk",
    "citation",
    "error",
    "fail",
    "paused",
    "response_id",
    "scripted_model",
    "server_tool",
    "stop",
    "text",
    "thinking",
    "tool_call",
    "usage",
]

SCRIPTED_API = "scripted"
"""The api name a :class:`ScriptedProvider` registers under unless told otherwise."""


# --------------------------------------------------------------------------- the chunk vocabulary


@dataclass(frozen=True, slots=True)
class TextChunk:
    delta: str
    signature: str | None = None
    new_block: bool = False


@dataclass(frozen=True, slots=True)
class ThinkingChunk:
    delta: str
    signature: str | None = None
    redacted: bool = False
    new_block: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    id: str
    name: str | None = None
    arguments: str | dict[str, Any] = ""
    thought_signature: str | None = None


_NO_RESULT: Any = object()


@dataclass(frozen=True, slots=True)
class ServerToolChunk:
    id: str
    name: str | None = None
    input: str | dict[str, Any] = ""
    result: Any = _NO_RESULT
    status: str | None = None


@dataclass(frozen=True, slots=True)
class CitationChunk:
    citation: Citation


@dataclass(frozen=True, slots=True)
class PausedChunk:
    """The provider paused the turn (Anthropic ``pause_turn``): the message ends with ``paused`` set."""


@dataclass(frozen=True, slots=True)
class UsageChunk:
    usage: Usage


@dataclass(frozen=True, slots=True)
class ResponseIdChunk:
    id: str


@dataclass(frozen=True, slots=True)
class StopChunk:
    reason: str = "stop"


@dataclass(frozen=True, slots=True)
class ErrorChunk:
    message: str


@dataclass(frozen=True, slots=True)
class FailChunk:
    exception: BaseException


Chunk = Union[
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    ServerToolChunk,
    CitationChunk,
    PausedChunk,
    UsageChunk,
    ResponseIdChunk,
    StopChunk,
    ErrorChunk,
    FailChunk,
]
_CHUNK_TYPES: tuple[type, ...] = get_args(Chunk)

Script = Sequence[Any]
"""Batches of chunks, one batch per network chunk (a bare chunk is a batch of one).

Typed loosely on purpose: a literal list of batches of different chunk kinds has no
precise type a checker infers, so the shape is checked when the provider is built.
"""


def text(delta: str, *, signature: str | None = None, new_block: bool = False) -> TextChunk:
    return TextChunk(delta, signature, new_block)


def thinking(
    delta: str = "", *, signature: str | None = None, redacted: bool = False, new_block: bool = False
) -> ThinkingChunk:
    return ThinkingChunk(delta, signature, redacted, new_block)


def tool_call(
    id: str, name: str | None = None, arguments: str | dict[str, Any] = "", *, thought_signature: str | None = None
) -> ToolCallChunk:
    return ToolCallChunk(id, name, arguments, thought_signature)


def server_tool(
    id: str,
    name: str | None = None,
    input: str | dict[str, Any] = "",
    *,
    result: Any = _NO_RESULT,
    status: str | None = None,
) -> ServerToolChunk:
    return ServerToolChunk(id, name, input, result, status)


def citation(kind: str = "url", **fields: Any) -> CitationChunk:
    """A :class:`~alchemy.types.Citation` (``kind`` and its fields) for the open or last text block."""
    return CitationChunk(Citation(kind, **fields))  # type: ignore[arg-type]


def paused() -> PausedChunk:
    return PausedChunk()


def usage(
    *,
    input: int = 0,
    output: int = 0,
    cache_read: int = 0,
    cache_write: int = 0,
    reasoning: int = 0,
    total_tokens: int | None = None,
) -> UsageChunk:
    total = input + output + cache_read + cache_write if total_tokens is None else total_tokens
    return UsageChunk(Usage(input, output, cache_read, cache_write, total, reasoning=reasoning))


def response_id(id: str) -> ResponseIdChunk:
    return ResponseIdChunk(id)


def stop(reason: str = "stop") -> StopChunk:
    if reason not in ("stop", "length", "toolUse"):
        raise ValueError(f"stop() takes 'stop', 'length' or 'toolUse', got {reason!r}; use error() for failures")
    return StopChunk(reason)


def error(message: str) -> ErrorChunk:
    return ErrorChunk(message)


def fail(exception: BaseException) -> FailChunk:
    if not isinstance(exception, BaseException):
        raise TypeError(f"fail() takes an exception, got {type(exception).__name__}")
    return FailChunk(exception)


def _batches(script: Script) -> tuple[tuple[Chunk, ...], ...]:
    """Checks a script and normalizes it to a tuple of batches."""
    if isinstance(script, (str, bytes)) or not isinstance(script, Sequence):
        raise TypeError(f"a script is a list of batches of chunks, got {type(script).__name__}")
    batches = []
    for i, item in enumerate(script):
        batch = (item,) if isinstance(item, _CHUNK_TYPES) else item
        if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)):
            raise TypeError(f"script[{i}]: expected a chunk or a list of chunks, got {type(item).__name__}")
        for j, chunk in enumerate(batch):
            if not isinstance(chunk, _CHUNK_TYPES):
                raise TypeError(f"script[{i}][{j}]: expected a chunk (text(), tool_call(), ...), got {chunk!r}")
        batches.append(tuple(batch))
    return tuple(batches)


# --------------------------------------------------------------------------- the parser


def apply_chunk(chunk: Chunk, emitter: EventEmitter) -> None:
    """Feeds one chunk to the emitter: the scripted provider's whole parser."""
    if isinstance(chunk, TextChunk):
        if chunk.new_block:
            emitter.text_start()
        emitter.text_delta(chunk.delta)
        if chunk.signature is not None:
            emitter.set_text_signature(chunk.signature)
    elif isinstance(chunk, ThinkingChunk):
        if chunk.new_block or chunk.redacted or not _open_is(emitter, "thinking"):
            emitter.thinking_start(chunk.signature, redacted=chunk.redacted)
        elif chunk.signature is not None:
            emitter.set_thinking_signature(chunk.signature)
        emitter.thinking_delta(chunk.delta)
    elif isinstance(chunk, ToolCallChunk):
        _apply_tool_call(chunk, emitter)
    elif isinstance(chunk, ServerToolChunk):
        _apply_server_tool(chunk, emitter)
    elif isinstance(chunk, CitationChunk):
        emitter.add_citations([chunk.citation])
    elif isinstance(chunk, PausedChunk):
        emitter.set_paused()
    elif isinstance(chunk, UsageChunk):
        emitter.set_usage(Usage(**{name: getattr(chunk.usage, name) for name in _USAGE_FIELDS}))
    elif isinstance(chunk, ResponseIdChunk):
        emitter.set_response_id(chunk.id)
    elif isinstance(chunk, StopChunk):
        emitter.done(chunk.reason)  # type: ignore[arg-type]
    elif isinstance(chunk, ErrorChunk):
        emitter.error(chunk.message)
    else:
        raise chunk.exception


_USAGE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "total_tokens", "reasoning")


def _open_is(emitter: EventEmitter, kind: str) -> bool:
    block = emitter.open_block
    return block is not None and block.type == kind


def _apply_tool_call(chunk: ToolCallChunk, emitter: EventEmitter) -> None:
    block = emitter.open_block
    continues = isinstance(block, ToolCall) and block.id == chunk.id
    if isinstance(chunk.arguments, dict):
        if chunk.name is None:
            raise ValueError(f"tool_call({chunk.id!r}) with whole arguments needs a name")
        emitter.tool_call(chunk.id, chunk.name, chunk.arguments, thought_signature=chunk.thought_signature)
        return
    if not continues:
        if chunk.name is None:
            raise ValueError(f"tool_call({chunk.id!r}) starts a new call and needs a name")
        emitter.tool_call_start(chunk.id, chunk.name, thought_signature=chunk.thought_signature)
    else:
        if chunk.name is not None or chunk.thought_signature is not None:
            emitter.update_tool_call(name=chunk.name, thought_signature=chunk.thought_signature)
    emitter.tool_call_delta(chunk.arguments)


def _apply_server_tool(chunk: ServerToolChunk, emitter: EventEmitter) -> None:
    block = emitter.open_block
    continues = isinstance(block, ServerToolCall) and block.id == chunk.id
    ends = chunk.result is not _NO_RESULT or chunk.status is not None
    result = None if chunk.result is _NO_RESULT else chunk.result
    status: Any = chunk.status or "completed"
    if isinstance(chunk.input, dict):
        if chunk.name is None:
            raise ValueError(f"server_tool({chunk.id!r}) with a whole input needs a name")
        if ends:
            emitter.server_tool(chunk.id, chunk.name, chunk.input, result, status=status)
        else:
            emitter.server_tool_start(chunk.id, chunk.name, input=chunk.input)
        return
    if not continues:
        if chunk.name is None:
            raise ValueError(f"server_tool({chunk.id!r}) starts a new server tool call and needs a name")
        emitter.server_tool_start(chunk.id, chunk.name)
    emitter.server_tool_delta(chunk.input)
    if ends:
        emitter.server_tool_end(result=result, status=status)


# --------------------------------------------------------------------------- sources


class _ScriptedSourceBase:
    __slots__ = ("_batches", "_position", "_emitter", "_delay", "_signal", "closed", "batches_sent")

    def __init__(
        self, batches: tuple[tuple[Chunk, ...], ...], emitter: EventEmitter, delay: float, signal: AbortSignal | None
    ) -> None:
        self._batches = batches
        self._position = 0
        self._emitter = emitter
        self._delay = delay
        self._signal = signal
        self.closed = False
        """Whether the stream closed this source."""
        self.batches_sent = 0
        """How many batches (network chunks) were fed to the emitter."""

    def _feed_next(self) -> bool:
        if self.closed:
            raise RuntimeError("pump() on a closed scripted source")
        if self._position >= len(self._batches):
            self._emitter.done()  # ran out without stop or error: a plain stop
            return False
        batch = self._batches[self._position]
        self._position += 1
        self.batches_sent += 1
        for chunk in batch:
            apply_chunk(chunk, self._emitter)
        return True

    def _aborted(self) -> bool:
        return self._signal is not None and self._signal.aborted


class ScriptedSource(_ScriptedSourceBase):
    """The sync source of one scripted response."""

    __slots__ = ("_wake",)

    def __init__(
        self, batches: tuple[tuple[Chunk, ...], ...], emitter: EventEmitter, delay: float, signal: AbortSignal | None
    ) -> None:
        super().__init__(batches, emitter, delay, signal)
        self._wake = threading.Event()
        if signal is not None:
            signal.add_listener(self._wake.set)

    def pump(self) -> bool:
        if self._delay > 0 and self._position < len(self._batches):
            self._wake.wait(self._delay)
            if self._aborted():
                return True  # the stream sees the abort and ends the response
        return self._feed_next()

    def close(self) -> None:
        self.closed = True
        if self._signal is not None:
            self._signal.remove_listener(self._wake.set)


class AsyncScriptedSource(_ScriptedSourceBase):
    """The async source of one scripted response."""

    __slots__ = ("_loop", "_wake")

    def __init__(
        self, batches: tuple[tuple[Chunk, ...], ...], emitter: EventEmitter, delay: float, signal: AbortSignal | None
    ) -> None:
        super().__init__(batches, emitter, delay, signal)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        if signal is not None:
            signal.add_listener(self._on_abort)

    def _on_abort(self) -> None:
        # Called in whatever thread aborted: hand the wake-up to the loop's thread.
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def pump(self) -> bool:
        if self._delay > 0 and self._position < len(self._batches):
            if self._wake is None:
                self._loop = asyncio.get_running_loop()
                self._wake = asyncio.Event()
            if self._aborted():
                return True
            try:
                await asyncio.wait_for(self._wake.wait(), self._delay)
            except asyncio.TimeoutError:
                pass
            if self._aborted():
                return True
        return self._feed_next()

    async def aclose(self) -> None:
        self.closed = True
        if self._signal is not None:
            self._signal.remove_listener(self._on_abort)


# --------------------------------------------------------------------------- the provider


@dataclass
class ScriptedCall:
    """One request the scripted provider served: what it was given and its source."""

    model: Model
    context: Context
    options: StreamOptions
    source: ScriptedSource | AsyncScriptedSource | None = field(default=None, repr=False)

    @property
    def closed(self) -> bool:
        """Whether the stream closed the source (``True`` also when none was opened)."""
        return self.source is None or self.source.closed

    def __repr__(self) -> str:
        return f"ScriptedCall(model={self.model.key!r}, {len(self.context.messages)} messages, {self.options!r})"


class ScriptedProvider:
    """An :class:`~alchemy.api_registry.ApiProvider` that plays scripts instead of calling a server.

    ``option_names`` are the provider-specific options it accepts (to test option
    handling); ``map_simple_options`` keeps ``reasoning`` / ``thinking_budgets`` as
    given, so tests can read them from :attr:`calls`. Use it as a context manager to
    register it for its api inside a block (the previous provider comes back after).
    """

    def __init__(
        self,
        *scripts: Script,
        api: str = SCRIPTED_API,
        delay: float = 0.0,
        option_names: Iterable[str] = (),
    ) -> None:
        if not scripts:
            raise TypeError("ScriptedProvider needs at least one script")
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise ValueError(f"delay must be a number of seconds >= 0, got {delay!r}")
        self._scripts = [_batches(script) for script in scripts]
        self._api = api
        self._option_names = frozenset(option_names)
        self.delay = float(delay)
        self.calls: list[ScriptedCall] = []
        """Every request served, in order."""
        self._previous: list[ApiProvider | None] = []
        self._lock = threading.Lock()

    @property
    def api(self) -> str:
        return self._api

    @property
    def option_names(self) -> frozenset[str]:
        return self._option_names

    def _next_script(self, model: Model, context: Context, options: StreamOptions) -> tuple[Any, ScriptedCall]:
        with self._lock:
            index = min(len(self.calls), len(self._scripts) - 1)
            call = ScriptedCall(model, context, options)
            self.calls.append(call)
        return self._scripts[index], call

    def open(self, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter) -> ScriptedSource:
        batches, call = self._next_script(model, context, options)
        source = ScriptedSource(batches, emitter, self.delay, options.signal)
        call.source = source
        return source

    def aopen(
        self, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> AsyncScriptedSource:
        batches, call = self._next_script(model, context, options)
        source = AsyncScriptedSource(batches, emitter, self.delay, options.signal)
        call.source = source
        return source

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        return options

    @property
    def strict_tools(self) -> StrictTools:
        """Strict tools are accepted (nothing is sent; :mod:`alchemy.strict_tools` checks their schemas)."""
        from ..strict_tools import StrictTools

        return StrictTools("openai", "accepted by the scripted provider")

    # -- registration ---------------------------------------------------------

    def register(self) -> ScriptedProvider:
        """Registers this provider for its api (replacing any other); returns it."""
        register_api(self._api, self)
        return self

    def unregister(self) -> None:
        """Removes this provider from the registry."""
        unregister_api(self._api)

    def __enter__(self) -> ScriptedProvider:
        try:
            previous: ApiProvider | None = get_api(self._api)
        except UnknownApiError:
            previous = None
        self._previous.append(previous)
        return self.register()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        previous = self._previous.pop()
        if previous is None:
            unregister_api(self._api)
        else:
            register_api(self._api, previous)

    def __repr__(self) -> str:
        return f"<ScriptedProvider api={self._api!r}, {len(self._scripts)} script(s), {len(self.calls)} call(s)>"


def scripted_model(api: str = SCRIPTED_API, *, id: str = "scripted-model", provider: str = "scripted") -> Model:
    """A model that dispatches to the scripted provider registered for ``api``."""
    return Model(
        id=id,
        name=f"Scripted model ({id})",
        api=api,
        provider=provider,
        base_url="",
        reasoning=True,
        input=("text", "image"),
        cost=ModelCost(input=0.0, output=0.0, cache_read=0.0, cache_write=0.0),
        context_window=128_000,
        max_tokens=16_384,
    )
