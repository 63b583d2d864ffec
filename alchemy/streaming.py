"""The API every user calls: ``stream`` / ``astream`` / ``complete`` / ``acomplete`` and ``*_simple``.

``stream(model, context, **options)`` looks up the provider registered for
``model.api``, checks the options, and returns an :class:`AssistantMessageEventStream`
(``astream`` returns the async twin). Nothing is sent until the first event is
wanted: the stream is **pull-based**. When its buffer is empty, ``next()`` /
``await anext()`` pumps the provider's source once (one network chunk), which fills
the buffer through the emitter; then events are handed out one by one.

What raises, and what does not:

* Programmer errors raise at once, before the stream is returned and before any
  I/O: an api no provider is registered for (:class:`~alchemy.errors.UnknownApiError`),
  a model or context of the wrong type (or holding a message that is not one, or a
  base URL without ``http://`` / ``https://``), every option problem — an unknown
  name, a wrong type, a value out of range, an option the model's wire API cannot
  carry, a reasoning level the model cannot honour (``TypeError`` / ``ValueError``
  naming the option; see :mod:`alchemy.options`) — and a missing API key for an API
  whose requests always carry one (:class:`~alchemy.errors.MissingApiKeyError`,
  naming the variables looked at).
* Everything after that (an HTTP error, a malformed chunk, a dropped connection,
  credentials that a chain fails to produce — Vertex ADC, Bedrock SigV4 — an
  exception in the provider) ends the stream with an
  :class:`~alchemy.events.Error` event; ``result()`` and ``complete()`` return that
  message (``stop_reason`` ``"error"``) instead of raising.
* An abort signal, or closing the stream early, ends it with
  ``Error(reason="aborted")``; the message keeps the content and usage received.

A stream dropped without being closed (read with ``next()`` / ``__anext__()`` and
then forgotten) releases its connection when it is collected: the buffer reaches the
stream only through a weak reference, so nothing the source holds (the pool, an abort
signal) keeps it alive, and a finaliser closes its source (for an async stream, on its
event loop). Nothing of this runs per event.

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
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from ._speedups import EventBuffer
from .api_registry import ApiProvider, AsyncEventSource, EventSource, get_api
from .emitter import ABORTED_MESSAGE, EventEmitter, describe_exception, new_partial
from .errors import ErrorInfo
from .events import AssistantMessageEvent
from .options import StreamOptions, check_named_tool, check_options
from .request import ACTIVE_SECRETS, Secrets
from .types import AssistantMessage, Context, Model, StreamMetrics, check_base_url, check_context

if TYPE_CHECKING:
    import asyncio  # imported where the async API runs, so the sync path never loads it
    from types import TracebackType

    from typing_extensions import Unpack

    from .options import CallOptions

__all__ = [
    "CLOSED_MESSAGE",
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

CLOSED_MESSAGE: Final = "Stream closed before it finished"
"""The ``error_message`` of a stream the consumer closed early."""

_NO_FINAL_EVENT: Final = "The provider's stream ended without a final event"
_CUT_SHORT: Final = ErrorInfo(kind="connection", retryable=True)


# --------------------------------------------------------------------------- option checks


def build_options(
    function: str, model: Model, provider: ApiProvider, options: Mapping[str, Any], *, simple: bool
) -> StreamOptions:
    """Checks and resolves the keyword options of ``function``; raises before any I/O.

    Every option is checked against its declaration (:mod:`alchemy.options`); then
    the ``reasoning`` level is mapped to the provider's own knobs (always for the
    ``*_simple`` functions, which also apply their defaults; for the others when a
    level or budgets are given). A ``client`` must match the sync or async call.
    """
    checked = check_options(function, model, provider, options)
    client = checked.client
    if client is not None:
        import httpx

        wanted = httpx.AsyncClient if function.startswith("a") else httpx.Client
        if not isinstance(client, wanted):
            raise TypeError(
                f"{function}() option client must be an httpx.{wanted.__name__}, got {type(client).__name__}"
            )
    if simple or checked.reasoning is not None or checked.thinking_budgets is not None:
        checked = provider.map_simple_options(model, checked)
    return checked


# --------------------------------------------------------------------------- stream objects

S = TypeVar("S")


class _StreamBase(Generic[S]):
    """What the sync and async streams share: the model, options, emitter and source."""

    __slots__ = ("model", "options", "_emitter", "_buffer", "_source", "_finalizer", "__weakref__")

    def __init__(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> None:
        self.model = model
        """The model this stream talks to."""
        self.options = options
        """The checked options of the call."""
        self._emitter = emitter
        self._buffer: EventBuffer[AssistantMessageEvent] = emitter.buffer
        self._source: S | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

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
        self._emitter.error(
            describe_exception(exc, self._emitter.secrets), aborted=self._aborted(), info=ErrorInfo.from_exception(exc)
        )

    def _log_close_failure(self, exc: Exception) -> None:
        # The text passes the stream's redactor; a traceback would repeat it unredacted.
        text = describe_exception(exc, self._emitter.secrets)
        _logger.error("alchemy: closing the event source of %r failed: %s", self, text)

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
        active = ACTIVE_SECRETS.set(emitter.secrets)  # what is logged meanwhile is redacted with them
        try:
            more = source.pump()
        except Exception as exc:
            self._fail(exc)
            self._release()
            return False
        finally:
            ACTIVE_SECRETS.reset(active)
        if not emitter.finished:
            if self._aborted():
                emitter.abort(ABORTED_MESSAGE)
            elif not more:
                emitter.error(_NO_FINAL_EVENT, info=_CUT_SHORT)
        if emitter.finished:
            self._release()
            return False
        return True

    def _release(self) -> None:
        source = self._source
        if source is None:
            return
        self._source = None
        if self._finalizer is not None:
            self._finalizer.detach()
        try:
            source.close()
        except Exception as exc:
            self._log_close_failure(exc)


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
        active = ACTIVE_SECRETS.set(emitter.secrets)  # what is logged meanwhile is redacted with them
        try:
            more = await source.pump()
        except Exception as exc:
            self._fail(exc)
            await self._release()
            return False
        finally:
            ACTIVE_SECRETS.reset(active)
        if not emitter.finished:
            if self._aborted():
                emitter.abort(ABORTED_MESSAGE)
            elif not more:
                emitter.error(_NO_FINAL_EVENT, info=_CUT_SHORT)
        if emitter.finished:
            await self._release()
            return False
        return True

    async def _release(self) -> None:
        source = self._source
        if source is None:
            return
        self._source = None
        if self._finalizer is not None:
            self._finalizer.detach()
        try:
            await source.aclose()
        except Exception as exc:
            self._log_close_failure(exc)


# --------------------------------------------------------------------------- lifetime
#
# The buffer pulls through these pumps, which reach the stream through a weak
# reference. A stream the consumer dropped unclosed is then freed by refcounting
# alone, and its finaliser closes the source: the connection goes back to the pool
# and the abort listener goes away. One weakref lookup per network chunk, none per event.

_closing: set[asyncio.Task[None]] = set()
"""Close tasks of collected async streams (an event loop keeps only weak references to tasks)."""


def _finalizer(events: object, close: Callable[[Any], None], what: object) -> weakref.finalize[Any, Any]:
    finalizer = weakref.finalize(events, close, what)
    finalizer.atexit = False  # at exit the process takes its sockets with it
    return finalizer


def _weak_pump(events: AssistantMessageEventStream, emitter: EventEmitter) -> Callable[[], bool]:
    stream = weakref.ref(events)

    def pump() -> bool:
        alive = stream()
        if alive is None:  # collected (and its source closed) while its buffer was still read
            emitter.error(CLOSED_MESSAGE, aborted=True)
            return False
        return alive._pump()

    return pump


class _DroppedAsync:
    """What closing a collected async stream takes: its source and the loop it ran on."""

    __slots__ = ("source", "loop")

    def __init__(self, source: AsyncEventSource) -> None:
        self.source = source
        self.loop: asyncio.AbstractEventLoop | None = None


def _weak_apump(
    events: AsyncAssistantMessageEventStream, emitter: EventEmitter, dropped: _DroppedAsync
) -> Callable[[], Awaitable[bool]]:
    stream = weakref.ref(events)

    def apump() -> Awaitable[bool]:
        alive = stream()
        if alive is None:  # e.g. ``await events.__anext__()`` with ``events`` already gone
            emitter.error(CLOSED_MESSAGE, aborted=True)
            return _exhausted()
        if dropped.loop is None:
            import asyncio

            dropped.loop = asyncio.get_running_loop()
        return alive._pump()

    return apump


async def _exhausted() -> bool:
    return False


def _close_dropped(source: EventSource) -> None:
    try:
        source.close()
    except Exception as exc:  # the text may hold a key: the type is enough here
        _logger.debug("alchemy: closing the source of a collected stream failed (%s)", type(exc).__name__)


def _aclose_dropped(dropped: _DroppedAsync) -> None:
    """Closes a collected async stream's source on its loop (from whatever thread gc runs in)."""
    loop = dropped.loop
    if loop is not None and not loop.is_closed():
        try:
            loop.call_soon_threadsafe(_spawn_aclose, dropped.source)
            return
        except RuntimeError:  # the loop closed in the meantime
            pass
    _aclose_without_loop(dropped.source)


def _spawn_aclose(source: AsyncEventSource) -> None:
    import asyncio

    task = asyncio.ensure_future(_aclose_quietly(source))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _aclose_quietly(source: AsyncEventSource) -> None:
    try:
        await source.aclose()
    except Exception as exc:
        _logger.debug("alchemy: closing the source of a collected stream failed (%s)", type(exc).__name__)


def _aclose_without_loop(source: AsyncEventSource) -> None:
    """Runs ``source.aclose()`` as far as it goes without a loop: a source that never
    pumped needs none, and what a pumped one left (sockets) went with its loop."""
    closing = source.aclose()
    try:
        closing.send(None)
    except StopIteration:
        return
    except Exception as exc:
        _logger.debug("alchemy: closing the source of a collected stream failed (%s)", type(exc).__name__)
        return
    closing.close()


# --------------------------------------------------------------------------- opening


def _prepare(
    function: str, model: Model, context: object, options: Mapping[str, Any], *, simple: bool
) -> tuple[ApiProvider, Context, StreamOptions, EventEmitter]:
    """Everything a call checks before it returns a stream: model, context, options, credentials.

    Models and contexts checked themselves when built; both are mutable, so the fields
    a request is built from are checked again here (a shallow, per-call cost).
    """
    if not isinstance(model, Model):
        raise TypeError(f"{function}() expects an alchemy.Model as model, got {type(model).__name__}")
    if not isinstance(context, Context):
        hint = " (build one: Context(messages=[UserMessage(text)]))" if isinstance(context, str) else ""
        raise TypeError(f"{function}() expects an alchemy.Context as context, got {type(context).__name__}{hint}")
    check_base_url("Model", "base_url", model.base_url)
    check_context(context)
    provider = get_api(model.api)
    checked = build_options(function, model, provider, options, simple=simple)
    check_named_tool(checked, context)
    if context.tools and any(tool.strict for tool in context.tools):
        from .strict_tools import check_strict_tools

        check_strict_tools(model, context, checked, provider)
    if checked.response_format is not None or checked.output_schema is not None:
        from .structured import apply_output

        context = apply_output(model, context, checked)  # tool mode: the output tool joins the tools
    check_request = getattr(provider, "check_request", None)
    if check_request is not None:
        try:
            check_request(model, context, checked)
        except ValueError as exc:
            if checked.output is None or checked.output.native:
                raise
            raise ValueError(
                f"{exc} (model {model.key} has no native JSON output mode, so structured output is asked "
                "through a forced tool call)"
            ) from exc
    check_credentials = getattr(provider, "check_credentials", None)
    if check_credentials is not None:
        check_credentials(model, checked)  # a missing key raises here, before any I/O
    emitter = EventEmitter(
        new_partial(model), model=model, context=context, secrets=call_secrets(model, checked), output=checked.output
    )
    if checked.tags:
        emitter.message.tags = dict(checked.tags)  # the accounting labels ride on the message, never on the wire
    return provider, context, checked, emitter


def call_secrets(model: Model, options: StreamOptions) -> Secrets:
    """The keys a call names itself: ``api_key``, the credential headers of the model,
    ``headers=`` and ``extra_headers=``, and the MCP servers' credentials of ``server_tools=``
    (a runner adds the provider's own)."""
    secrets = Secrets((options.api_key,))
    secrets.add_headers(model.headers, options.headers, options.extra_headers)
    for tool in options.server_tools or ():
        secrets.add(*tool.secrets())  # an MCP server's token and headers
    return secrets


def _open_sync(
    provider: ApiProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
) -> AssistantMessageEventStream:
    events = AssistantMessageEventStream(model, options, emitter)
    if options.signal is not None and options.signal.aborted:
        emitter.abort(ABORTED_MESSAGE)
        return events
    try:
        source = events._source = provider.open(model, context, options, emitter)
    except Exception as exc:
        events._fail(exc)
        return events
    emitter.buffer.attach(pump=_weak_pump(events, emitter))
    events._finalizer = _finalizer(events, _close_dropped, source)
    return events


def _open_async(
    provider: ApiProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
) -> AsyncAssistantMessageEventStream:
    events = AsyncAssistantMessageEventStream(model, options, emitter)
    if options.signal is not None and options.signal.aborted:
        emitter.abort(ABORTED_MESSAGE)
        return events
    try:
        source = events._source = provider.aopen(model, context, options, emitter)
    except Exception as exc:
        events._fail(exc)
        return events
    dropped = _DroppedAsync(source)
    emitter.buffer.attach(apump=_weak_apump(events, emitter, dropped))
    events._finalizer = _finalizer(events, _aclose_dropped, dropped)
    return events


# --------------------------------------------------------------------------- the API


def stream(model: Model, context: Context, **options: Unpack[CallOptions]) -> AssistantMessageEventStream:
    """Streams a response of ``model`` to ``context``; see the module docstring."""
    provider, checked_context, checked, emitter = _prepare("stream", model, context, options, simple=False)
    return _open_sync(provider, model, checked_context, checked, emitter)


def astream(model: Model, context: Context, **options: Unpack[CallOptions]) -> AsyncAssistantMessageEventStream:
    """The async twin of :func:`stream` (call it without ``await``; iterate with ``async for``)."""
    provider, checked_context, checked, emitter = _prepare("astream", model, context, options, simple=False)
    return _open_async(provider, model, checked_context, checked, emitter)


def complete(model: Model, context: Context, **options: Unpack[CallOptions]) -> AssistantMessage:
    """The final message of :func:`stream`; provider errors come back as a message with ``stop_reason`` ``"error"``."""
    with stream(model, context, **options) as events:
        return events.result()


async def acomplete(model: Model, context: Context, **options: Unpack[CallOptions]) -> AssistantMessage:
    """The async twin of :func:`complete`."""
    async with astream(model, context, **options) as events:
        return await events.result()


def stream_simple(model: Model, context: Context, **options: Unpack[CallOptions]) -> AssistantMessageEventStream:
    """:func:`stream` with the unified ``reasoning`` level and ``thinking_budgets``, mapped by the provider."""
    provider, checked_context, checked, emitter = _prepare("stream_simple", model, context, options, simple=True)
    return _open_sync(provider, model, checked_context, checked, emitter)


def astream_simple(model: Model, context: Context, **options: Unpack[CallOptions]) -> AsyncAssistantMessageEventStream:
    """The async twin of :func:`stream_simple`."""
    provider, checked_context, checked, emitter = _prepare("astream_simple", model, context, options, simple=True)
    return _open_async(provider, model, checked_context, checked, emitter)


def complete_simple(model: Model, context: Context, **options: Unpack[CallOptions]) -> AssistantMessage:
    """The final message of :func:`stream_simple`."""
    with stream_simple(model, context, **options) as events:
        return events.result()


async def acomplete_simple(model: Model, context: Context, **options: Unpack[CallOptions]) -> AssistantMessage:
    """The async twin of :func:`complete_simple`."""
    async with astream_simple(model, context, **options) as events:
        return await events.result()
