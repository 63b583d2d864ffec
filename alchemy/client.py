"""``alchemy.Client``: defaults held for every call, fallback chains, rate limits, breakers, health checks.

A Client holds what every call of an application repeats — API keys and base URLs
per provider, headers, timeouts, retries, the httpx client, default options — and
exposes ``stream`` / ``astream`` / ``complete`` / ``acomplete`` and their ``_simple``
forms with the signatures of the module functions. Options are checked by the
request layer exactly as a bare ``alchemy.stream()`` checks them, per model, at the
call. The module functions are the Client with nothing set: a default Client
(:func:`default_client`) streams exactly as they do.

Defaults, per call, lowest first: the Client's ``options``; its ``timeout`` /
``max_retries`` / ``http_client``; the key of ``api_keys`` for the model's provider;
the call's own options. ``headers`` merge (the call's win). A default option only
reaches the models whose wire API carries it, so one set of defaults serves a chain
that spans APIs; ``base_urls`` replaces the base URL of the models of that provider.

Fallbacks: wherever a model is accepted, a list of models is a chain, and
``fallbacks={"provider/id": [models]}`` gives a model its chain. The next model is
tried when an attempt fails before any of its content reached the consumer with a
kind in ``fallback_on``; see :mod:`alchemy._chain` for exactly what the consumer
sees. The Context is shaped for each target by the usual per-request handoff.

Rate limits and breakers (``rate_limits=``, ``breakers=``, ``store=``) run before
each attempt opens and after it ends, never per event; see :mod:`alchemy._guard`
and :mod:`alchemy.policies`. A refused attempt (``rate_limit`` past ``max_wait``,
``circuit_open``) falls over like any other failure.

Accounting (``budgets=``, ``ledger=``, ``telemetry=``, ``observers=``, ``on_finish=``):
:class:`~alchemy.accounting.CallObserver` objects that run at the call, at each
attempt's start and end, and when the stream ends; see :mod:`alchemy.accounting`.
Budgets (:mod:`alchemy.accounting.budgets`) reserve at the call and raise
:class:`~alchemy.errors.BudgetExceededError` there, before anything is sent. Without
any of them a call pays nothing for accounting.

A Client is safe to share between threads and tasks: its settings are fixed at
construction and each call builds its own stream. None of it runs per event.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, get_args

from ._chain import AsyncChainStream, ChainStream, Plan
from .errors import ErrorKind, MissingApiKeyError, MissingConfigurationError
from .options import OPTIONS_BY_NAME
from .streaming import _prepare
from .types import AssistantMessage, Context, Model, UserMessage, check_base_url

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Unpack

    from ._chain import Guard
    from .accounting import CallObserver
    from .accounting._watch import CallWatch
    from .accounting.budgets import Budget, Budgets
    from .options import CallOptions
    from .policies import BreakerState, CircuitBreaker, Store
    from .policies import RateLimit as ClientRateLimit
    from .rate_limits import RateLimit

__all__ = ["DEFAULT_FALLBACK_ON", "Client", "HealthReport", "ModelChain", "default_client"]

ModelChain = Model | str | Sequence[Model | str]
"""A model (an :class:`~alchemy.types.Model` or a ``"provider/id"`` key) or a fallback chain of them."""

DEFAULT_FALLBACK_ON: Final[frozenset[str]] = frozenset(
    {"rate_limit", "overloaded", "server", "timeout", "connection", "circuit_open", "context_overflow"}
)
"""The error kinds that hand an attempt over to the next model of its chain."""

FALLBACK_KINDS: Final[frozenset[str]] = frozenset(get_args(ErrorKind)) | {"circuit_open"}
"""What ``fallback_on`` may name."""

_CHECK_PROMPT: Final = Context(messages=[UserMessage("ping")])
_CHECK_MAX_TOKENS: Final = 16  # the smallest value every built-in API accepts (OpenAI Responses: 16)
_UNREACHABLE: Final = frozenset({"connection", "timeout"})
_UNOBSERVED: Final = ("api_key", "signal", "client", "headers", "extra_headers")
"""Call options observers never see (secrets, live objects)."""
_REFUSED: Final = frozenset({"auth", "permission"})


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What :meth:`Client.check` found out about one model's endpoint.

    ``reachable`` is whether the provider answered at all (``None``: not tried, e.g.
    no key); ``authenticated`` whether it took the credentials (``None`` when it did
    not answer); ``latency`` the seconds until the response headers (else until the
    answer ended); ``status`` the HTTP status of a failure; ``error_kind`` /
    ``error_message`` why it failed; ``rate_limit`` what its rate-limit headers said.
    """

    provider: str
    model: str
    reachable: bool | None
    authenticated: bool | None
    latency: float | None
    status: int | None = None
    error_kind: str | None = None
    error_message: str | None = None
    rate_limit: RateLimit | None = None

    @property
    def ok(self) -> bool:
        """Whether the check's request succeeded."""
        return self.error_kind is None

    def to_dict(self) -> dict[str, Any]:
        rate = self.rate_limit
        return {
            "provider": self.provider,
            "model": self.model,
            "ok": self.ok,
            "reachable": self.reachable,
            "authenticated": self.authenticated,
            "latency": self.latency,
            "status": self.status,
            "errorKind": self.error_kind,
            "errorMessage": self.error_message,
            "rateLimit": None if rate is None else _rate_limit_dict(rate),
        }


def _rate_limit_dict(rate: RateLimit) -> dict[str, Any]:
    names = ("requests_limit", "requests_remaining", "requests_reset", "tokens_limit", "tokens_remaining")
    return {name: getattr(rate, name) for name in (*names, "tokens_reset", "retry_after")}


class Client:
    """Defaults for every call, fallback chains and health checks; see the module docstring.

    ``api_keys`` / ``base_urls`` are keyed by provider (``"anthropic"``); ``headers``
    go on every request; ``timeout`` and ``max_retries`` are the defaults of the
    options of those names; ``http_client`` (an ``httpx.Client``) and
    ``async_http_client`` (an ``httpx.AsyncClient``) carry the sync and async calls;
    ``options`` are default call options. ``fallbacks`` maps a model key to the
    models tried after it; ``fallback_on`` the error kinds that move on
    (:data:`DEFAULT_FALLBACK_ON`). ``rate_limits`` maps a provider or a model key to an
    :class:`alchemy.policies.RateLimit`; ``breakers`` is one
    :class:`~alchemy.policies.CircuitBreaker` for every provider or a map of them by
    provider or model key; ``store`` where their state lives (a
    :class:`~alchemy.policies.MemoryStore` of this Client by default, a
    :class:`~alchemy.policies.RedisStore` to share it between processes). Everything
    raises ``TypeError`` / ``ValueError`` at construction when malformed.
    """

    __slots__ = (
        "_api_keys",
        "_base_urls",
        "_headers",
        "_defaults",
        "_fallbacks",
        "_fallback_on",
        "_http_client",
        "_async_http_client",
        "_guard",
        "_closed",
        "_budgets",
        "_observers",
        "_on_finish",
    )

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client: Any = None,
        async_http_client: Any = None,
        options: Mapping[str, Any] | None = None,
        fallbacks: Mapping[str, Sequence[Model | str]] | None = None,
        fallback_on: Sequence[str] | frozenset[str] = DEFAULT_FALLBACK_ON,
        rate_limits: Mapping[str, ClientRateLimit] | None = None,
        breakers: CircuitBreaker | Mapping[str, CircuitBreaker] | None = None,
        store: Store | None = None,
        budgets: Sequence[Budget] | Budgets | None = None,
        ledger: Any = None,
        telemetry: Any = None,
        observers: Sequence[CallObserver] | None = None,
        on_finish: Callable[[AssistantMessage], Any] | None = None,
    ) -> None:
        self._api_keys = _text_map("api_keys", api_keys)
        self._base_urls = _text_map("base_urls", base_urls)
        for provider, url in self._base_urls.items():
            check_base_url("Client", f"base_urls[{provider!r}]", url)
        self._headers = _text_map("headers", headers)
        defaults = dict(_check_defaults(options))
        for name, value in (("timeout", timeout), ("max_retries", max_retries)):
            if value is not None:
                defaults[name] = OPTIONS_BY_NAME[name].kind.check(name, value)
        self._defaults: Mapping[str, Any] = MappingProxyType(defaults)
        self._http_client = _http_client("http_client", http_client, "Client")
        self._async_http_client = _http_client("async_http_client", async_http_client, "AsyncClient")
        self._fallbacks = _check_fallbacks(fallbacks)
        self._fallback_on = _check_fallback_on(fallback_on)
        self._budgets = _check_budgets(budgets)
        if store is None and (rate_limits or breakers) and self._budgets is not None:
            from .policies import MemoryStore

            store = MemoryStore()  # one store for the rate limits, breakers and budgets of this Client
        self._guard = _policy_guard(rate_limits, breakers, store, budgets_use_it=self._budgets is not None)
        if self._budgets is not None:
            if store is None:
                from .policies import MemoryStore

                store = MemoryStore()
            self._budgets.bind(store)
        self._observers = _accounting_observers(ledger, telemetry, observers)
        self._on_finish = _check_on_finish(on_finish)
        self._closed = False

    # -- the calls --------------------------------------------------------------------------

    def stream(self, model: ModelChain, context: Context, **options: Unpack[CallOptions]) -> ChainStream:
        """Streams the answer of ``model`` (or of the first model of its chain that answers)."""
        plans = self._plans("stream", model, context, options, simple=False)
        watch = self._watch("stream", plans, context, options)
        return ChainStream(plans, self._fallback_on, self._guard, watch)

    def astream(self, model: ModelChain, context: Context, **options: Unpack[CallOptions]) -> AsyncChainStream:
        """The async twin of :meth:`stream` (call it without ``await``; iterate with ``async for``)."""
        plans = self._plans("astream", model, context, options, simple=False)
        watch = self._watch("astream", plans, context, options)
        return AsyncChainStream(plans, self._fallback_on, self._guard, watch)

    def complete(self, model: ModelChain, context: Context, **options: Unpack[CallOptions]) -> AssistantMessage:
        """The final message of :meth:`stream`; provider errors come back as a message, not raised."""
        with self.stream(model, context, **options) as events:
            return events.result()

    async def acomplete(self, model: ModelChain, context: Context, **options: Unpack[CallOptions]) -> AssistantMessage:
        """The async twin of :meth:`complete`."""
        async with self.astream(model, context, **options) as events:
            return await events.result()

    def stream_simple(self, model: ModelChain, context: Context, **options: Unpack[CallOptions]) -> ChainStream:
        """:meth:`stream` with the unified ``reasoning`` level, mapped per model."""
        plans = self._plans("stream_simple", model, context, options, simple=True)
        watch = self._watch("stream_simple", plans, context, options)
        return ChainStream(plans, self._fallback_on, self._guard, watch)

    def astream_simple(
        self, model: ModelChain, context: Context, **options: Unpack[CallOptions]
    ) -> AsyncChainStream:
        """The async twin of :meth:`stream_simple`."""
        plans = self._plans("astream_simple", model, context, options, simple=True)
        watch = self._watch("astream_simple", plans, context, options)
        return AsyncChainStream(plans, self._fallback_on, self._guard, watch)

    def complete_simple(self, model: ModelChain, context: Context, **options: Unpack[CallOptions]) -> AssistantMessage:
        """The final message of :meth:`stream_simple`."""
        with self.stream_simple(model, context, **options) as events:
            return events.result()

    async def acomplete_simple(
        self, model: ModelChain, context: Context, **options: Unpack[CallOptions]
    ) -> AssistantMessage:
        """The async twin of :meth:`complete_simple`."""
        async with self.astream_simple(model, context, **options) as events:
            return await events.result()

    # -- health checks ------------------------------------------------------------------------

    def check(self, target: Model | str, *, timeout: float = 10.0, guarded: bool = False) -> HealthReport:
        """Sends ``target`` one minimal request (a one-word prompt, 16 output tokens at most).

        ``target`` is a model, a ``"provider/id"`` key or a provider name (its cheapest
        listed model is used). The request carries the Client's defaults but skips
        fallbacks and retries; a missing key or setting is reported, not raised. It
        passes the rate limits and breakers, and counts for them, only when ``guarded``.
        """
        model = self._model(_check_target(target), "check")
        options: dict[str, Any] = {"max_tokens": _CHECK_MAX_TOKENS, "max_retries": 0, "timeout": timeout}
        started = time.monotonic()
        try:
            plans = self._plans("check", [model], _CHECK_PROMPT, options, simple=False)
        except (MissingApiKeyError, MissingConfigurationError) as exc:
            return HealthReport(model.provider, model.id, None, None, None, None, "auth", str(exc))
        with ChainStream(plans, frozenset(), self._guard if guarded else None) as events:
            message = events.result()
        return _report(model, message, time.monotonic() - started)

    @property
    def breakers(self) -> dict[str, BreakerState]:
        """Every circuit breaker's state by key (empty without breakers); transitions are logged on ``alchemy``."""
        guard = self._guard
        if guard is None:
            return {}
        from ._guard import PolicyGuard

        assert isinstance(guard, PolicyGuard)
        return guard.snapshot()

    @property
    def budgets(self) -> Budgets | None:
        """The Client's budgets (``budgets.state(name)`` reads one), or ``None`` without budgets."""
        return self._budgets

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Ends the Client: later calls raise ``RuntimeError``. Injected httpx clients stay open (they are yours)."""
        self._closed = True

    async def aclose(self) -> None:
        """The async twin of :meth:`close`."""
        self.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # Keys are never shown: only which providers have one.
        keys = ", ".join(sorted(self._api_keys)) or "none"
        state = " closed" if self._closed else ""
        return f"<alchemy.Client keys for: {keys}; {len(self._fallbacks)} fallback chains{state}>"

    # -- building the attempts ----------------------------------------------------------------------

    def _plans(
        self, function: str, model: ModelChain, context: Context, options: Mapping[str, Any], *, simple: bool
    ) -> list[Plan]:
        if self._closed:
            raise RuntimeError(f"Client.{function}() called on a closed Client")
        sync = not function.startswith("a")
        function = "stream" if function == "check" else function
        plans = []
        for target in self._chain(function, model):
            call = self._call_options(target, options, sync)
            provider, shaped, checked, emitter = _prepare(function, target, context, call, simple=simple)
            plans.append(Plan(provider, target, shaped, checked, emitter))
        return plans

    def _watch(
        self, function: str, plans: list[Plan], context: Context, options: Mapping[str, Any]
    ) -> CallWatch | None:
        """Starts the call's accounting (budgets first: they may refuse it), or ``None`` when there is none."""
        budgets, observers, on_finish = self._budgets, self._observers, self._on_finish
        if budgets is None and not observers and on_finish is None:
            return None
        is_async = function.startswith("a")
        if on_finish is not None and not is_async and inspect.iscoroutinefunction(on_finish):
            raise TypeError(f"Client.{function}(): the Client's on_finish is an async function; call a{function}()")
        from .accounting import CallInfo
        from .accounting._watch import start_call

        merged = {**self._defaults, **options}
        for hidden in _UNOBSERVED:
            merged.pop(hidden, None)
        tags = plans[0].options.tags or {}
        call = CallInfo(
            self,
            function,
            is_async,
            tuple(plan.model for plan in plans),
            context,
            MappingProxyType(merged),
            MappingProxyType(dict(tags)),
            time.time(),
            time.monotonic(),
        )
        return start_call(call, budgets, observers, on_finish)

    def _chain(self, function: str, model: ModelChain) -> list[Model]:
        if isinstance(model, (Model, str)):
            first = self._model(model, function)
            return [first, *(self._model(m, function) for m in self._fallbacks.get(first.key, ()))]
        if not isinstance(model, Sequence) or not model:
            raise TypeError(
                f"Client.{function}() expects a Model, a 'provider/id' key or a non-empty list of them as model, "
                f"got {model!r}"[:300]
            )
        return [self._model(m, function) for m in model]

    def _model(self, model: Model | str, function: str) -> Model:
        if isinstance(model, str):
            from .models import get_model

            model = get_model(model)
        elif not isinstance(model, Model):
            raise TypeError(
                f"Client.{function}() expects a Model or a 'provider/id' key in model, got {type(model).__name__}"
            )
        url = self._base_urls.get(model.provider)
        return model if url is None or url == model.base_url else replace(model, base_url=url)

    def _call_options(self, model: Model, options: Mapping[str, Any], sync: bool) -> dict[str, Any]:
        api = model.api
        call: dict[str, Any] = {}
        for name, value in self._defaults.items():
            apis = OPTIONS_BY_NAME[name].apis
            if apis is None or api in apis:
                call[name] = value
        http = self._http_client if sync else self._async_http_client
        if http is not None:
            call["client"] = http
        key = self._api_keys.get(model.provider)
        if key is not None:
            call["api_key"] = key
        call.update(options)
        if self._headers:
            given = options.get("headers")
            call["headers"] = {**self._headers, **given} if given else dict(self._headers)
        return call


# --------------------------------------------------------------------------- checks of the settings


def _text_map(name: str, value: Mapping[str, str] | None) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise TypeError(f"Client() {name} must be a dict of str to str, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str) or not key or not item:
            shown = "<hidden>" if name == "api_keys" else repr(item)
            raise TypeError(f"Client() {name} must map non-empty strings to non-empty strings, got {key!r}: {shown}")
    return MappingProxyType(dict(value))


def _check_defaults(options: Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"Client() options must be a dict of call options, got {type(options).__name__}")
    checked: dict[str, Any] = {}
    for name, value in options.items():
        option = OPTIONS_BY_NAME.get(name)
        if option is None:
            raise TypeError(f"Client() options: unknown option {name!r} (see alchemy.options.OPTIONS)")
        if name in ("signal", "client"):
            raise TypeError(f"Client() options cannot hold {name!r}: give it per call (or http_client=)")
        if value is not None:
            checked[name] = option.kind.check(name, value)
    return checked


def _http_client(name: str, value: Any, wanted: str) -> Any:
    if value is None:
        return None
    import httpx

    if not isinstance(value, getattr(httpx, wanted)):
        raise TypeError(f"Client() {name} must be an httpx.{wanted}, got {type(value).__name__}")
    return value


def _check_fallbacks(fallbacks: Mapping[str, Sequence[Model | str]] | None) -> Mapping[str, tuple[Model | str, ...]]:
    if fallbacks is None:
        return MappingProxyType({})
    if not isinstance(fallbacks, Mapping):
        raise TypeError(f"Client() fallbacks must be a dict of 'provider/id' to lists of models, got {fallbacks!r}")
    checked: dict[str, tuple[Model | str, ...]] = {}
    for key, chain in fallbacks.items():
        if not isinstance(key, str) or "/" not in key:
            raise TypeError(f"Client() fallbacks keys must be 'provider/id' model keys, got {key!r}")
        if isinstance(chain, (str, Model)) or not isinstance(chain, Sequence):
            raise TypeError(f"Client() fallbacks[{key!r}] must be a list of models or keys, got {chain!r}")
        for item in chain:
            if not isinstance(item, (Model, str)):
                raise TypeError(f"Client() fallbacks[{key!r}] holds a {type(item).__name__}, not a Model or key")
        checked[key] = tuple(chain)
    return MappingProxyType(checked)


def _check_fallback_on(kinds: Sequence[str] | frozenset[str]) -> frozenset[str]:
    if isinstance(kinds, str) or not isinstance(kinds, (Sequence, frozenset, set)):
        raise TypeError(f"Client() fallback_on must be a list of error kinds, got {kinds!r}")
    unknown = sorted(str(kind) for kind in kinds if kind not in FALLBACK_KINDS)
    if unknown:
        raise ValueError(
            f"Client() fallback_on: unknown error kinds {', '.join(unknown)} (known: {', '.join(sorted(FALLBACK_KINDS))})"
        )
    return frozenset(kinds)


def _policy_guard(
    rate_limits: Mapping[str, ClientRateLimit] | None,
    breakers: CircuitBreaker | Mapping[str, CircuitBreaker] | None,
    store: Store | None,
    *,
    budgets_use_it: bool = False,
) -> Guard | None:
    if not rate_limits and not breakers:
        if store is not None and not budgets_use_it:
            raise ValueError("Client() store is given but neither rate_limits, breakers nor budgets use it")
        return None
    from ._guard import PolicyGuard
    from .policies import CircuitBreaker, MemoryStore
    from .policies import RateLimit as ClientRateLimit

    limits = {} if rate_limits is None else rate_limits
    if not isinstance(limits, Mapping):
        raise TypeError(f"Client() rate_limits must be a dict of provider or model key to RateLimit, got {limits!r}")
    for key, limit in limits.items():
        if not isinstance(key, str) or not key or not isinstance(limit, ClientRateLimit):
            raise TypeError(
                f"Client() rate_limits must map a provider or 'provider/id' to an alchemy.policies.RateLimit, "
                f"got {key!r}: {limit!r}"
            )
    if breakers is not None and not isinstance(breakers, CircuitBreaker):
        if not isinstance(breakers, Mapping):
            raise TypeError(f"Client() breakers must be a CircuitBreaker or a dict of them, got {breakers!r}")
        for key, config in breakers.items():
            if not isinstance(key, str) or not key or not isinstance(config, CircuitBreaker):
                raise TypeError(
                    f"Client() breakers must map a provider or 'provider/id' to an alchemy.policies.CircuitBreaker, "
                    f"got {key!r}: {config!r}"
                )
    if store is None:
        store = MemoryStore()
    elif not (hasattr(store, "take") and hasattr(store, "breaker_check")):
        raise TypeError(f"Client() store must be an alchemy.policies Store (MemoryStore, RedisStore), got {store!r}")
    return PolicyGuard(limits, breakers, store)


def _check_budgets(budgets: Sequence[Budget] | Budgets | None) -> Budgets | None:
    if budgets is None:
        return None
    from .accounting.budgets import Budgets

    if isinstance(budgets, Budgets):
        return budgets
    return Budgets(budgets) if budgets else None


def _accounting_observers(
    ledger: Any, telemetry: Any, observers: Sequence[CallObserver] | None
) -> tuple[CallObserver, ...]:
    """The ledger's observer, the telemetry, then the given observers (nothing imported unless asked)."""
    from .accounting import CallObserver

    found: list[CallObserver] = []
    if ledger is not None and ledger is not False or _ledger_in_environment(ledger):
        from .accounting.ledger import ledger_observer

        recorder = ledger_observer(ledger)
        if recorder is not None:
            found.append(recorder)
    if telemetry is None:
        if "opentelemetry.trace" in sys.modules:  # the application traces: follow it, else pay nothing
            from .accounting.telemetry import auto_telemetry

            traced = auto_telemetry()
            if traced is not None:
                found.append(traced)
    elif telemetry is True:
        from .accounting.telemetry import Telemetry

        found.append(Telemetry())
    elif telemetry is not False:
        if not isinstance(telemetry, CallObserver):
            raise TypeError(
                f"Client() telemetry must be an alchemy.accounting.telemetry.Telemetry, True, False or None, "
                f"got {telemetry!r}"
            )
        found.append(telemetry)
    if observers is not None:
        if isinstance(observers, (str, bytes)) or not isinstance(observers, Sequence):
            raise TypeError(f"Client() observers must be a list of CallObserver objects, got {observers!r}")
        for observer in observers:
            if not isinstance(observer, CallObserver):
                raise TypeError(
                    "Client() observers must hold objects with call_started, attempt_started, attempt_ended and "
                    f"call_finished (alchemy.accounting.CallObserver), got {observer!r}"
                )
            found.append(observer)
    return tuple(found)


def _ledger_in_environment(ledger: Any) -> bool:
    """Whether ``ledger=None`` means the ``ALCHEMY_LEDGER`` file."""
    if ledger is not None:
        return False
    from .config import LEDGER

    return LEDGER.read() is not None


def _check_on_finish(on_finish: Callable[[AssistantMessage], Any] | None) -> Callable[[AssistantMessage], Any] | None:
    if on_finish is not None and not callable(on_finish):
        raise TypeError(f"Client() on_finish must be a function taking the final message, got {on_finish!r}")
    return on_finish


# --------------------------------------------------------------------------- health checks


def _check_target(target: Model | str) -> Model | str:
    if isinstance(target, Model) or (isinstance(target, str) and "/" in target):
        return target
    if not isinstance(target, str) or not target:
        raise TypeError(f"Client.check() expects a Model, a 'provider/id' key or a provider, got {target!r}")
    from .models import get_models

    models = get_models(target)
    if not models:
        raise ValueError(f"Client.check(): no listed model of provider {target!r}; name a model ('{target}/<id>')")
    return min(models, key=_price)


def _price(model: Model) -> tuple[float, str]:
    cost = model.cost
    known = cost.input is not None and cost.output is not None
    return ((cost.input or 0.0) + (cost.output or 0.0) if known else float("inf"), model.id)


def _report(model: Model, message: AssistantMessage, elapsed: float) -> HealthReport:
    metrics = message.metrics
    rate = metrics.rate_limit if metrics is not None else None
    latency = metrics.time_to_first_byte if metrics is not None else None
    info = message.error
    if message.stop_reason not in ("error", "aborted") or info is None:
        return HealthReport(model.provider, model.id, True, True, latency or elapsed, rate_limit=rate)
    kind = info.kind
    reachable = kind not in _UNREACHABLE or info.status is not None
    return HealthReport(
        model.provider,
        model.id,
        reachable,
        None if not reachable else kind not in _REFUSED,
        latency if latency is not None else (elapsed if reachable else None),
        info.status,
        kind,
        message.error_message,
        rate,
    )


# --------------------------------------------------------------------------- the default client

_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The Client with nothing set: it calls exactly as the module functions do."""
    global _default
    client = _default
    if client is None:
        with _default_lock:
            client = _default
            if client is None:
                client = _default = Client()
    return client
