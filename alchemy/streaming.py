"""The API every user calls: ``stream`` / ``astream`` / ``complete`` / ``acomplete`` and ``*_simple``.

``stream(model, context, **options)`` looks up the provider registered for
``model.api``, checks the options, and returns an :class:`AssistantMessageEventStream`
(``astream`` returns the async twin). Nothing is sent until the first event is
wanted: the stream is **pull-based**. When its buffer is empty, ``next()`` /
``await anext()`` pumps the provider's source once (one network chunk), which fills
the buffer through the emitter; then events are handed out one by one.

What raises, and what does not:

* Programmer errors raise at once: an api no provider is registered for
  (:class:`~alchemy.errors.UnknownApiError`), an unknown option name
  (``TypeError``), an option value of the wrong type or range.
* Everything after that (a missing key, an HTTP error, a malformed chunk, a dropped
  connection, an exception in the provider) ends the stream with an
  :class:`~alchemy.events.Error` event; ``result()`` and ``complete()`` return that
  message (``stop_reason`` ``"error"``) instead of raising.
* An abort signal, or closing the stream early, ends it with
  ``Error(reason="aborted")``; the message keeps the content and usage received.

Use the stream as a context manager (``with`` / ``async with``) so that leaving the
loop early (``break``, an exception) closes the connection at once::

    with alchemy.stream(model, context) as events:
        for event in events:
            if event.type == "text_delta":
                print(event.delta, end="")
    message = events.result()
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from ._speedups import EventBuffer
from .abort import AbortSignal
from .api_registry import ApiProvider, AsyncEventSource, EventSource, get_api
from .emitter import ABORTED_MESSAGE, EventEmitter, describe_exception, new_partial
from .events import AssistantMessageEvent
from .types import AssistantMessage, CacheRetention, Context, Model, StreamMetrics, ThinkingLevel

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "CLOSED_MESSAGE",
    "SHARED_OPTION_NAMES",
    "SIMPLE_OPTION_NAMES",
    "AssistantMessageEventStream",
    "AsyncAssistantMessageEventStream",
    "StreamOptions",
    "acomplete",
    "acomplete_simple",
    "astream",
    "astream_simple",
    "complete",
    "complete_simple",
    "stream",
    "stream_simple",
]

_logger = logging.getLogger("alchemy")

SHARED_OPTION_NAMES: Final = frozenset(
    {
        "temperature",
        "max_tokens",
        "api_key",
        "headers",
        "signal",
        "session_id",
        "cache_retention",
        "on_payload",
        "metadata",
        "timeout",
        "max_retries",
        "max_retry_delay",
    }
)
"""Options every provider accepts."""

SIMPLE_OPTION_NAMES: Final = frozenset({"reasoning", "thinking_budgets"})
"""Options the ``*_simple`` functions add; each provider maps them to its own knobs."""

THINKING_LEVELS: Final = ("minimal", "low", "medium", "high", "xhigh")
CACHE_RETENTIONS: Final = ("none", "short", "long")

CLOSED_MESSAGE: Final = "Stream closed before it finished"
"""The ``error_message`` of a stream the consumer closed early."""

_NO_FINAL_EVENT: Final = "The provider's stream ended without a final event"

PayloadHook = Callable[[dict[str, Any], Model], Any]
"""``on_payload(body, model)``: sees the request body; may return a replacement (or an awaitable of one)."""


@dataclass(slots=True)
class StreamOptions:
    """The options of one call, checked; what a provider's ``open`` receives.

    The shared options are fields; ``reasoning`` and ``thinking_budgets`` are set
    only by the ``*_simple`` functions (before the provider maps them); the
    provider's own options are in ``provider_options``. ``None`` means "not given":
    the provider applies its default. The API key never appears in the repr.
    """

    temperature: float | None = None
    max_tokens: int | None = None
    api_key: str | None = None
    headers: dict[str, str] | None = None
    signal: AbortSignal | None = None
    session_id: str | None = None
    cache_retention: CacheRetention | None = None
    on_payload: PayloadHook | None = None
    metadata: dict[str, Any] | None = None
    timeout: float | None = None
    max_retries: int | None = None
    max_retry_delay: float | None = None
    reasoning: ThinkingLevel | None = None
    thinking_budgets: dict[str, int] | None = None
    provider_options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key" and value is not None:
                shown.append("api_key='***'")
            elif f.name == "headers" and value is not None:
                shown.append(f"headers=<{len(value)} headers>")
            elif value is not None and value != {}:
                shown.append(f"{f.name}={value!r}")
        return f"StreamOptions({', '.join(shown)})"


# --------------------------------------------------------------------------- option checks


def _number(name: str, value: object, *, minimum: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"option {name} must be a number, got {type(value).__name__}")
    if positive and not value > 0:
        raise ValueError(f"option {name} must be greater than 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"option {name} must be at least {minimum:g}, got {value!r}")
    return float(value)


def _integer(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"option {name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"option {name} must be at least {minimum}, got {value}")
    return value


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"option {name} must be a string, got {type(value).__name__}")
    return value


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ValueError(f"option {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _mapping(name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"option {name} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _headers(value: object) -> dict[str, str]:
    headers = _mapping("headers", value)
    for key, item in headers.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"option headers must map str to str, got {key!r}: {type(item).__name__}")
    return headers


def _budgets(value: object) -> dict[str, int]:
    budgets = _mapping("thinking_budgets", value)
    for level, tokens in budgets.items():
        _choice("thinking_budgets key", level, THINKING_LEVELS)
        _integer(f"thinking_budgets[{level!r}]", tokens, minimum=0)
    return budgets


def _callable(name: str, value: object) -> Any:
    if not callable(value):
        raise TypeError(f"option {name} must be callable, got {type(value).__name__}")
    return value


def _signal(value: object) -> AbortSignal:
    if not isinstance(value, AbortSignal):
        raise TypeError(
            f"option signal must be an alchemy.AbortSignal (AbortController().signal), got {type(value).__name__}"
        )
    return value


_CHECKS: dict[str, Callable[[object], Any]] = {
    "temperature": lambda v: _number("temperature", v, minimum=0),
    "max_tokens": lambda v: _integer("max_tokens", v, minimum=1),
    "api_key": lambda v: _text("api_key", v),
    "headers": _headers,
    "signal": _signal,
    "session_id": lambda v: _text("session_id", v),
    "cache_retention": lambda v: _choice("cache_retention", v, CACHE_RETENTIONS),
    "on_payload": lambda v: _callable("on_payload", v),
    "metadata": lambda v: _mapping("metadata", v),
    "timeout": lambda v: _number("timeout", v, positive=True),
    "max_retries": lambda v: _integer("max_retries", v, minimum=0),
    "max_retry_delay": lambda v: _number("max_retry_delay", v, minimum=0),
    "reasoning": lambda v: _choice("reasoning", v, THINKING_LEVELS),
    "thinking_budgets": _budgets,
}


def build_options(
    function: str, model: Model, provider: ApiProvider, options: Mapping[str, Any], *, simple: bool
) -> StreamOptions:
    """Checks the keyword options of ``function`` and sorts them into a :class:`StreamOptions`.

    Unknown names raise ``TypeError`` naming them and the accepted ones; wrong
    values of shared options raise ``TypeError`` / ``ValueError``. ``None`` values
    count as not given.
    """
    accepted = SHARED_OPTION_NAMES | (SIMPLE_OPTION_NAMES if simple else frozenset()) | provider.option_names
    unknown = sorted(name for name in options if name not in accepted)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        hint = ""
        if not simple and SIMPLE_OPTION_NAMES.intersection(unknown):
            hint = f" ('reasoning' and 'thinking_budgets' belong to {function}_simple())"
        raise TypeError(
            f"{function}() got unexpected option{plural} {names} for api {model.api!r}{hint}; "
            f"accepted: {', '.join(sorted(accepted))}"
        )
    result = StreamOptions()
    for name, value in options.items():
        if value is None:
            continue
        check = _CHECKS.get(name)
        if check is None or (name in SIMPLE_OPTION_NAMES and not simple):
            result.provider_options[name] = value
        else:
            setattr(result, name, check(value))
    return result


# --------------------------------------------------------------------------- stream objects

S = TypeVar("S")


class _StreamBase(Generic[S]):
    """What the sync and async streams share: the model, options, emitter and source."""

    __slots__ = ("model", "options", "_emitter", "_buffer", "_source", "__weakref__")

    def __init__(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> None:
        self.model = model
        """The model this stream talks to."""
        self.options = options
        """The checked options of the call."""
        self._emitter = emitter
        self._buffer: EventBuffer[AssistantMessageEvent] = emitter.buffer
        self._source: S | None = None

    @property
    def partial(self) -> AssistantMessage:
        """The in-progress message (the final one once the stream ended)."""
        return self._emitter.message

    @property
    def metrics(self) -> StreamMetrics | None:
        """How the response streamed (time to first byte/content, bytes, chunks, events);
        filled in as it streams by HTTP providers, ``None`` for sources that keep none."""
        return self._emitter.message.metrics

    @property
    def finished(self) -> bool:
        """Whether the terminal event was produced (it may not have been consumed yet)."""
        return self._emitter.finished

    def _aborted(self) -> bool:
        signal = self.options.signal
        return signal is not None and signal.aborted

    def _fail(self, exc: Exception) -> None:
        self._emitter.error(describe_exception(exc, self.options.api_key), aborted=self._aborted())

    def __repr__(self) -> str:
        state = "finished" if self._emitter.finished else "open"
        return f"<{type(self).__name__} {self.model.provider}/{self.model.id} {state}>"


class AssistantMessageEventStream(_StreamBase[EventSource]):
    """The events of one response, pulled from the provider as you iterate.

    Iterate it (``for event in stream``), call :meth:`result` for the final
    message (it drains what is left), and :meth:`close` it, or use it in a
    ``with`` block, to release the connection when you stop early. Leaving a ``for``
    loop early (``break``, an exception) closes the stream and its connection too:
    the message then ends ``aborted``, keeping what arrived. Use a stream from one
    thread at a time; to stop it from another thread, pass ``signal=`` and abort its
    :class:`~alchemy.abort.AbortController`.
    """

    __slots__ = ()

    def __iter__(self) -> Iterator[AssistantMessageEvent]:
        return self._iterate()

    def _iterate(self) -> Iterator[AssistantMessageEvent]:
        # ``yield from`` hands the buffer's events over at C speed; the generator's
        # finally runs as soon as a loop that broke out drops it.
        try:
            yield from self._buffer
        finally:
            self.close()

    def __next__(self) -> AssistantMessageEvent:
        return next(self._buffer)

    def result(self) -> AssistantMessage:
        """Consumes the remaining events and returns the final message (never raises for provider errors)."""
        for _ in self._buffer:
            pass
        message: AssistantMessage = self._buffer.result()
        return message

    def close(self) -> None:
        """Ends the stream now (``Error(reason="aborted")`` unless it already ended) and closes the source."""
        if not self._emitter.finished:
            self._emitter.error(CLOSED_MESSAGE, aborted=True)
        self._release()

    def __enter__(self) -> AssistantMessageEventStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _pump(self) -> bool:
        emitter = self._emitter
        source = self._source
        if source is None or emitter.finished:
            self._release()
            return False
        if self._aborted():
            emitter.abort(ABORTED_MESSAGE)
            self._release()
            return False
        try:
            more = source.pump()
        except Exception as exc:
            self._fail(exc)
            self._release()
            return False
        if not emitter.finished:
            if self._aborted():
                emitter.abort(ABORTED_MESSAGE)
            elif not more:
                emitter.error(_NO_FINAL_EVENT)
        if emitter.finished:
            self._release()
            return False
        return True

    def _release(self) -> None:
        source = self._source
        if source is None:
            return
        self._source = None
        try:
            source.close()
        except Exception:
            _logger.exception("alchemy: closing the event source of %r failed", self)


class AsyncAssistantMessageEventStream(_StreamBase[AsyncEventSource]):
    """The async twin: ``async for``, ``await result()``, ``await aclose()``, ``async with``.

    Leaving ``async for`` early closes the stream and its connection, as in the sync twin.
    """

    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[AssistantMessageEvent]:
        return self._aiterate()

    async def _aiterate(self) -> AsyncIterator[AssistantMessageEvent]:
        # Leaving ``async for`` early closes the stream when the loop finalizes this
        # generator (asyncio does so right after the loop drops it).
        try:
            async for event in self._buffer:
                yield event
        finally:
            await self.aclose()

    def __anext__(self) -> Awaitable[AssistantMessageEvent]:
        return self._buffer.__anext__()

    async def result(self) -> AssistantMessage:
        """Consumes the remaining events and returns the final message (never raises for provider errors)."""
        async for _ in self._buffer:
            pass
        message: AssistantMessage = self._buffer.result()
        return message

    async def aclose(self) -> None:
        """Ends the stream now (``Error(reason="aborted")`` unless it already ended) and closes the source."""
        if not self._emitter.finished:
            self._emitter.error(CLOSED_MESSAGE, aborted=True)
        await self._release()

    async def __aenter__(self) -> AsyncAssistantMessageEventStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _pump(self) -> bool:
        emitter = self._emitter
        source = self._source
        if source is None or emitter.finished:
            await self._release()
            return False
        if self._aborted():
            emitter.abort(ABORTED_MESSAGE)
            await self._release()
            return False
        try:
            more = await source.pump()
        except Exception as exc:
            self._fail(exc)
            await self._release()
            return False
        if not emitter.finished:
            if self._aborted():
                emitter.abort(ABORTED_MESSAGE)
            elif not more:
                emitter.error(_NO_FINAL_EVENT)
        if emitter.finished:
            await self._release()
            return False
        return True

    async def _release(self) -> None:
        source = self._source
        if source is None:
            return
        self._source = None
        try:
            await source.aclose()
        except Exception:
            _logger.exception("alchemy: closing the event source of %r failed", self)


# --------------------------------------------------------------------------- opening


def _prepare(
    function: str, model: Model, options: Mapping[str, Any], *, simple: bool
) -> tuple[ApiProvider, StreamOptions, EventEmitter]:
    if not isinstance(model, Model):
        raise TypeError(f"{function}() expects an alchemy.Model as model, got {type(model).__name__}")
    provider = get_api(model.api)
    checked = build_options(function, model, provider, options, simple=simple)
    return provider, checked, EventEmitter(new_partial(model))


def _open_sync(
    provider: ApiProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter, simple: bool
) -> AssistantMessageEventStream:
    events = AssistantMessageEventStream(model, options, emitter)
    if options.signal is not None and options.signal.aborted:
        emitter.abort(ABORTED_MESSAGE)
        return events
    try:
        if simple:
            options = events.options = provider.map_simple_options(model, options)
        events._source = provider.open(model, context, options, emitter)
    except Exception as exc:
        events._fail(exc)
        return events
    emitter.buffer.attach(pump=events._pump)
    return events


def _open_async(
    provider: ApiProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter, simple: bool
) -> AsyncAssistantMessageEventStream:
    events = AsyncAssistantMessageEventStream(model, options, emitter)
    if options.signal is not None and options.signal.aborted:
        emitter.abort(ABORTED_MESSAGE)
        return events
    try:
        if simple:
            options = events.options = provider.map_simple_options(model, options)
        events._source = provider.aopen(model, context, options, emitter)
    except Exception as exc:
        events._fail(exc)
        return events
    emitter.buffer.attach(apump=events._pump)
    return events


def _check_context(function: str, context: object) -> Context:
    if not isinstance(context, Context):
        raise TypeError(f"{function}() expects an alchemy.Context as context, got {type(context).__name__}")
    return context


# --------------------------------------------------------------------------- the API


def stream(model: Model, context: Context, **options: Any) -> AssistantMessageEventStream:
    """Streams a response of ``model`` to ``context``; see the module docstring."""
    provider, checked, emitter = _prepare("stream", model, options, simple=False)
    return _open_sync(provider, model, _check_context("stream", context), checked, emitter, False)


def astream(model: Model, context: Context, **options: Any) -> AsyncAssistantMessageEventStream:
    """The async twin of :func:`stream` (call it without ``await``; iterate with ``async for``)."""
    provider, checked, emitter = _prepare("astream", model, options, simple=False)
    return _open_async(provider, model, _check_context("astream", context), checked, emitter, False)


def complete(model: Model, context: Context, **options: Any) -> AssistantMessage:
    """The final message of :func:`stream`; provider errors come back as a message with ``stop_reason`` ``"error"``."""
    with stream(model, context, **options) as events:
        return events.result()


async def acomplete(model: Model, context: Context, **options: Any) -> AssistantMessage:
    """The async twin of :func:`complete`."""
    async with astream(model, context, **options) as events:
        return await events.result()


def stream_simple(model: Model, context: Context, **options: Any) -> AssistantMessageEventStream:
    """:func:`stream` with the unified ``reasoning`` level and ``thinking_budgets``, mapped by the provider."""
    provider, checked, emitter = _prepare("stream_simple", model, options, simple=True)
    return _open_sync(provider, model, _check_context("stream_simple", context), checked, emitter, True)


def astream_simple(model: Model, context: Context, **options: Any) -> AsyncAssistantMessageEventStream:
    """The async twin of :func:`stream_simple`."""
    provider, checked, emitter = _prepare("astream_simple", model, options, simple=True)
    return _open_async(provider, model, _check_context("astream_simple", context), checked, emitter, True)


def complete_simple(model: Model, context: Context, **options: Any) -> AssistantMessage:
    """The final message of :func:`stream_simple`."""
    with stream_simple(model, context, **options) as events:
        return events.result()


async def acomplete_simple(model: Model, context: Context, **options: Any) -> AssistantMessage:
    """The async twin of :func:`complete_simple`."""
    async with astream_simple(model, context, **options) as events:
        return await events.result()
