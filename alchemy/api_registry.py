"""Which provider serves which wire API, and the contract a provider implements.

``stream(model, ...)`` dispatches on ``model.api`` (``"openai-completions"``,
``"anthropic-messages"``, or any name you register). A provider is an object
following :class:`ApiProvider`; it opens an *event source* per request:

* :class:`EventSource` (sync): ``pump()`` does one unit of work, typically reads
  one network chunk and feeds the parser, which emits into the stream's
  :class:`~alchemy.emitter.EventEmitter`; it returns ``False`` once exhausted
  (after the terminal event). ``close()`` releases the connection.
* :class:`AsyncEventSource`: the same with ``async def pump()`` and
  ``async def aclose()``.

Opening must be cheap and must not touch the network: the first ``pump()`` sends
the request. The consumer pulls: a source is only pumped when the consumer wants an
event and none is queued. Whatever a source raises ends the stream with an
``error`` event; a source never needs to catch its own exceptions for that.

A provider written push-style (a coroutine that calls the emitter as data
arrives, the way pi-ai adapters push events) can use :class:`TaskSource`: it runs
the coroutine as a task, the consumer waits for its events, and the task pauses at
``await emitter.drain()`` while the consumer lags behind the buffer's bound.

Built-in providers register themselves lazily: the first lookup of a built-in api
imports its module. :func:`register_api` replaces any provider, built-in or not.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .emitter import ABORTED_MESSAGE, EventEmitter, describe_exception
from .errors import ErrorInfo, UnknownApiError
from .wire_apis import WIRE_APIS

if TYPE_CHECKING:
    import asyncio  # imported where a TaskSource runs, so the sync path never loads it

    from .abort import AbortSignal
    from .options import StreamOptions
    from .types import Context, Model

__all__ = [
    "ApiProvider",
    "AsyncEventSource",
    "EventSource",
    "TaskSource",
    "get_api",
    "register_api",
    "registered_apis",
    "unregister_api",
]


@runtime_checkable
class EventSource(Protocol):
    """The sync side of one request: pumped by the consumer, closed when it is done."""

    def pump(self) -> bool:
        """Does one unit of work (one network chunk); ``False`` once exhausted."""
        ...

    def close(self) -> None:
        """Releases the connection; called once, also after an abort or an early exit."""
        ...


@runtime_checkable
class AsyncEventSource(Protocol):
    """The async side of one request."""

    async def pump(self) -> bool:
        """Does one unit of work (one network chunk); ``False`` once exhausted."""
        ...

    async def aclose(self) -> None:
        """Releases the connection; called once, also after an abort or an early exit."""
        ...


@runtime_checkable
class ApiProvider(Protocol):
    """What ``stream()`` needs from a provider of one wire API."""

    @property
    def api(self) -> str:
        """The wire API this provider speaks, e.g. ``"anthropic-messages"``."""
        ...

    @property
    def option_names(self) -> frozenset[str]:
        """The provider's own option names, accepted on top of the shared ones."""
        ...

    def open(self, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter) -> EventSource:
        """A sync source for one request; its events go to ``emitter``."""
        ...

    def aopen(
        self, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> AsyncEventSource:
        """An async source for one request; its events go to ``emitter``."""
        ...

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """Maps ``stream_simple``'s ``reasoning`` / ``thinking_budgets`` to the provider's own options."""
        ...


class TaskSource:
    """An :class:`AsyncEventSource` for push-style providers: runs ``produce(emitter)`` as a task.

    ``produce`` calls the emitter as data arrives and should ``await
    emitter.drain()`` after each network chunk, so it pauses while the consumer
    lags (the buffer's bound). If it returns without a terminal event the response
    ends as ``done()``; if it raises, the stream ends with an ``error`` event. An
    abort of ``signal`` (from any thread) or closing the stream cancels the task.
    The task starts at the first ``pump``, when the consumer first wants an event.
    """

    __slots__ = ("_produce", "_emitter", "_signal", "_secret", "_task", "_loop")

    def __init__(
        self,
        produce: Callable[[EventEmitter], Awaitable[None]],
        emitter: EventEmitter,
        *,
        signal: AbortSignal | None = None,
        secret: str | None = None,
    ) -> None:
        self._produce = produce
        self._emitter = emitter
        self._signal = signal
        self._secret = secret
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def pump(self) -> bool:
        if self._task is None:
            import asyncio

            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run())
            if self._signal is not None:
                self._signal.add_listener(self._on_abort)
        await self._emitter.buffer.wait_readable()
        return True

    async def _run(self) -> None:
        import asyncio

        emitter = self._emitter
        try:
            await self._produce(emitter)
        except asyncio.CancelledError:
            emitter.abort(ABORTED_MESSAGE)
            raise
        except Exception as exc:
            emitter.error(describe_exception(exc, self._secret), info=ErrorInfo.from_exception(exc))
        else:
            emitter.done()

    def _on_abort(self) -> None:
        # Runs in whatever thread aborted: cancel the task from the loop's own thread.
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    async def aclose(self) -> None:
        if self._signal is not None:
            self._signal.remove_listener(self._on_abort)
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        import asyncio

        # asyncio.wait never raises the task's own CancelledError, only the caller's.
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: _run lets only BaseExceptions escape


# api -> "module:attribute" of a built-in provider, imported on first lookup.
# A new built-in provider adds its row to alchemy.wire_apis.
_BUILTIN_PROVIDERS: dict[str, str] = {api.name: api.provider for api in WIRE_APIS.values()}

_lock = threading.Lock()
_providers: dict[str, ApiProvider] = {}
_removed_builtins: set[str] = set()

_REQUIRED_MEMBERS = ("api", "option_names", "open", "aopen", "map_simple_options")


def register_api(api: str, provider: ApiProvider) -> None:
    """Makes ``provider`` serve every model whose ``api`` is ``api`` (replacing any other)."""
    if not isinstance(api, str) or not api:
        raise TypeError(f"api must be a non-empty string, got {api!r}")
    missing = [name for name in _REQUIRED_MEMBERS if not hasattr(provider, name)]
    if missing:
        raise TypeError(
            f"register_api() provider: {type(provider).__name__} is not an ApiProvider: it lacks "
            f"{', '.join(missing)} (see alchemy.api_registry.ApiProvider)"
        )
    if provider.api != api:
        raise ValueError(f"cannot register a provider for api {provider.api!r} under api {api!r}")
    with _lock:
        _providers[api] = provider
        _removed_builtins.discard(api)


def unregister_api(api: str) -> ApiProvider | None:
    """Removes the provider of ``api`` (built-ins included); returns it, or ``None``."""
    if not isinstance(api, str):
        raise TypeError(f"unregister_api() api must be a str, got {type(api).__name__}")
    with _lock:
        if api in _BUILTIN_PROVIDERS:
            _removed_builtins.add(api)
        return _providers.pop(api, None)


def get_api(api: str) -> ApiProvider:
    """The provider serving ``api``; :class:`~alchemy.errors.UnknownApiError` if none does."""
    provider = _providers.get(api)
    if provider is not None:
        return provider
    if not isinstance(api, str):
        raise TypeError(f"get_api() api must be a str, got {type(api).__name__}")
    with _lock:
        provider = _providers.get(api)
        if provider is None:
            target = _BUILTIN_PROVIDERS.get(api)
            if target is None or api in _removed_builtins:
                raise UnknownApiError(api, tuple(_registered_names()))
            module_name, _, attribute = target.partition(":")
            provider = getattr(importlib.import_module(module_name), attribute)
            _providers[api] = provider
        return provider


def registered_apis() -> list[str]:
    """Every api a provider is registered for (built-ins included, loaded or not)."""
    with _lock:
        return _registered_names()


def _registered_names() -> list[str]:
    builtins = (name for name in _BUILTIN_PROVIDERS if name not in _removed_builtins)
    return sorted(set(_providers).union(builtins))
