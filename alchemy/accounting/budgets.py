"""Spending budgets of a Client: reserve the worst case at the call, settle the real cost at the end.

A :class:`Budget` caps what the calls in its *scope* may spend in a *period*:

* scope ``None``: every call of the Client; ``"provider:NAME"``: the calls that may
  reach that provider; ``"model:provider/id"``: the calls that may reach that model;
  ``"tag:KEY"``: one budget per value of the ``KEY`` tag (calls without it are not
  counted); ``"tag:KEY=VALUE"``: the calls tagged so.
* period ``"day"``, ``"week"`` (ISO weeks, from Monday) or ``"month"``, in UTC, or
  ``None`` for a limit that never resets.

At the call (``Client.stream()`` and friends, before the stream is returned and
before anything is sent) each budget whose scope the call falls in reserves the
request's worst-case cost: the prompt counted with :func:`alchemy.count_tokens`, as
input or, where caching may write it, as a cache write (the dearer of the two), plus
``max_tokens`` (else the model's output limit, else what its context window leaves) at the output price, priced by
:func:`alchemy.models.calculate_cost`. A chain reserves the dearest of its models in
scope. When ``spent + reserved + request`` would pass the limit the call raises
:class:`~alchemy.errors.BudgetExceededError` naming the budget, spent, reserved and
limit; the reservations already made for that call are released. When the stream
ends (``done``, ``error``, ``aborted``, usage estimated by the emitter included) the
reservation is replaced by the cost the messages of the call's attempts report.

So the settled spend of a period never passes the limit by more than the
reservations in flight (the actual cost of a request is at most its worst case).
A reservation a process never settled (it died) expires after ``hold_seconds``.

Unknown prices (a model without input or output price): ``unknown_prices="refuse"``
(the default) refuses the call; ``"zero"`` counts it as costing 0 and warns with
:class:`~alchemy.errors.UnknownPriceWarning`.

State lives in the Client's ``store``: a :class:`~alchemy.policies.MemoryStore`
(shared by the threads and tasks of the process) or a
:class:`~alchemy.policies.RedisStore` (one Lua script per reserve and per settle, so
every process using the server shares each budget). The steps are synchronous and
short, also for async calls (see :mod:`alchemy.accounting`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import uuid
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from ..errors import BudgetExceededError, UnknownPriceWarning
from ..policies._store import StoreUnavailableError, UnavailablePolicy
from . import AttemptInfo, CallInfo

if TYPE_CHECKING:
    from ..policies import Clock, MemoryStore, RedisStore, Store
    from ..types import AssistantMessage, Context, Model

__all__ = ["Budget", "BudgetState", "Budgets", "Period", "UnknownPrices"]

Period = Literal["day", "week", "month"]
UnknownPrices = Literal["refuse", "zero"]

log = logging.getLogger("alchemy.accounting")

_PERIODS: tuple[str, ...] = ("day", "week", "month")
_PERIOD_SECONDS = {"day": 86400.0, "week": 7 * 86400.0, "month": 31 * 86400.0}
_SPENT_RETENTION = 86400.0
"""Seconds a period's spent counter outlives the period (Redis TTL; a budget without period keeps it)."""


def _spent_ttl(period: Period | None) -> float:
    """Seconds the spent counter of ``period`` is kept (0: for ever)."""
    return 0.0 if period is None else _PERIOD_SECONDS[period] + _SPENT_RETENTION


@dataclass(frozen=True, slots=True)
class Budget:
    """A spending limit in USD; see the module docstring for ``scope``, ``period`` and ``unknown_prices``.

    ``name`` identifies the budget in errors and in the store (default: built from
    the scope and period, e.g. ``"client/day"``); two Clients with budgets of the same
    name over one store share it. ``hold_seconds`` is how long an unsettled
    reservation holds its amount.
    """

    limit_usd: float
    period: Period | None = None
    scope: str | None = None
    unknown_prices: UnknownPrices = "refuse"
    name: str | None = None
    hold_seconds: float = 3600.0

    def __post_init__(self) -> None:
        limit = self.limit_usd
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) or limit < 0:
            raise ValueError(f"Budget() limit_usd must be a finite number >= 0, got {limit!r}")
        object.__setattr__(self, "limit_usd", float(limit))
        if self.period is not None and self.period not in _PERIODS:
            raise ValueError(f"Budget() period must be 'day', 'week', 'month' or None, got {self.period!r}")
        _parse_scope(self.scope)
        if self.unknown_prices not in ("refuse", "zero"):
            raise ValueError(f"Budget() unknown_prices must be 'refuse' or 'zero', got {self.unknown_prices!r}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"Budget() name must be a non-empty str or None, got {self.name!r}")
        hold = self.hold_seconds
        if isinstance(hold, bool) or not isinstance(hold, (int, float)) or not hold > 0:
            raise ValueError(f"Budget() hold_seconds must be a number > 0, got {hold!r}")

    @property
    def label(self) -> str:
        """The budget's name (given, else ``scope/period``)."""
        if self.name is not None:
            return self.name
        return f"{self.scope or 'client'}/{self.period or 'total'}"


@dataclass(frozen=True, slots=True)
class _Scope:
    kind: Literal["client", "provider", "model", "tag"]
    target: str = ""
    value: str | None = None


def _parse_scope(scope: str | None) -> _Scope:
    if scope is None:
        return _Scope("client")
    if isinstance(scope, str):
        kind, _, target = scope.partition(":")
        if target and kind == "provider":
            return _Scope("provider", target)
        if kind == "model" and "/" in target:
            return _Scope("model", target)
        if target and kind == "tag":
            key, equals, value = target.partition("=")
            if key and (not equals or value):
                return _Scope("tag", key, value if equals else None)
    raise ValueError(
        "Budget() scope must be None (the whole client), 'provider:NAME', 'model:provider/id', "
        f"'tag:KEY' or 'tag:KEY=VALUE', got {scope!r}"
    )


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One budget's current period as the store holds it (USD)."""

    name: str
    period: str
    spent: float
    reserved: float
    limit: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit - self.spent - self.reserved)


def period_id(period: Period | None, now: float) -> str:
    """The id of the UTC period holding ``now`` (Unix seconds): ``2026-12-06``, ``2026-W49``, ``2026-12``, ``all``."""
    if period is None:
        return "all"
    day = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


# --------------------------------------------------------------------------- worst-case cost


def worst_case_cost(model: Model, context: Context, max_tokens: int | None, caching: bool) -> float | None:
    """The most a request can cost in USD (``None``: the model's prices are unknown)."""
    from ..models import calculate_cost
    from ..tokens import count_tokens
    from ..types import Usage

    prices = model.cost
    if prices.input is None or prices.output is None:
        return None
    prompt = count_tokens(model, context).tokens
    output = max_tokens if max_tokens is not None else (model.max_tokens or max(model.context_window - prompt, 0))
    worst = calculate_cost(model, Usage(input=prompt, output=output)).total
    if caching and prices.cache_write:
        written = calculate_cost(model, Usage(cache_write=prompt, output=output)).total
        if written is not None and (worst is None or written > worst):
            worst = written
    return worst


def reported_cost(model: Model, message: AssistantMessage) -> float:
    """What a finished attempt cost in USD, for settling.

    The message's ``usage.cost.total``; when that is unknown because some tokens have
    no price (cache reads of a model listing no cache price), those tokens are priced
    at the input price (an upper bound on every listed provider), so known spend is
    never settled as 0. A model without input or output price settles at 0.
    """
    total = message.usage.cost.total
    if total is not None:
        return total
    prices = model.cost
    if prices.input is None or prices.output is None:
        return 0.0
    from dataclasses import replace

    from ..models import calculate_cost

    filled = replace(
        prices,
        cache_read=prices.input if prices.cache_read is None else prices.cache_read,
        cache_write=prices.input if prices.cache_write is None else prices.cache_write,
        reasoning=prices.output if prices.reasoning is None else prices.reasoning,
    )
    return calculate_cost(replace(model, cost=filled), message.usage).total or 0.0


# --------------------------------------------------------------------------- where the state lives


class _BudgetStore(Protocol):
    def reserve(
        self, key: str, period: str, limit: float, amount: float, hold: str, now: float, expires: float, ttl: float
    ) -> tuple[bool, float, float]: ...

    def settle(self, key: str, period: str, hold: str, cost: float, ttl: float) -> None: ...

    def state(self, key: str, period: str, now: float) -> tuple[float, float]: ...


@dataclass(slots=True)
class _Book:
    spent: dict[str, float] = field(default_factory=dict)
    holds: dict[str, tuple[float, float]] = field(default_factory=dict)  # hold -> (amount, expires)

    def reserved(self, now: float) -> float:
        for hold in [hold for hold, (_, expires) in self.holds.items() if expires <= now]:
            del self.holds[hold]
        return sum((amount for amount, _ in self.holds.values()), 0.0)


class _MemoryBudgets:
    """Budgets of one MemoryStore: one lock, shared by every Client over that store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._books: dict[str, _Book] = {}

    def reserve(
        self, key: str, period: str, limit: float, amount: float, hold: str, now: float, expires: float, ttl: float
    ) -> tuple[bool, float, float]:
        with self._lock:
            book = self._books.setdefault(key, _Book())
            spent = book.spent.get(period, 0.0)
            reserved = book.reserved(now)
            if spent + reserved + amount > limit:
                return False, spent, reserved
            book.holds[hold] = (amount, expires)
            return True, spent, reserved

    def settle(self, key: str, period: str, hold: str, cost: float, ttl: float) -> None:
        with self._lock:
            book = self._books.setdefault(key, _Book())
            book.holds.pop(hold, None)
            if cost > 0:
                book.spent[period] = book.spent.get(period, 0.0) + cost

    def state(self, key: str, period: str, now: float) -> tuple[float, float]:
        with self._lock:
            book = self._books.get(key)
            return (0.0, 0.0) if book is None else (book.spent.get(period, 0.0), book.reserved(now))


_RESERVE = """
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
if #expired > 0 then
  redis.call('ZREM', KEYS[2], unpack(expired))
  redis.call('HDEL', KEYS[3], unpack(expired))
end
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local reserved = 0
for _, amount in ipairs(redis.call('HVALS', KEYS[3])) do reserved = reserved + tonumber(amount) end
local amount = tonumber(ARGV[3])
local ok = 0
if spent + reserved + amount <= tonumber(ARGV[2]) then
  ok = 1
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
return {ok, string.format('%.17g', spent), string.format('%.17g', reserved)}
"""

_SETTLE = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('INCRBYFLOAT', KEYS[1], ARGV[2])
  if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
end
return 1
"""

_STATE = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]), 'LIMIT', 0, 1000)
if #expired > 0 then
  redis.call('ZREM', KEYS[2], unpack(expired))
  redis.call('HDEL', KEYS[3], unpack(expired))
end
local reserved = 0
for _, amount in ipairs(redis.call('HVALS', KEYS[3])) do reserved = reserved + tonumber(amount) end
return {redis.call('GET', KEYS[1]) or '0', string.format('%.17g', reserved)}
"""


class _RedisBudgets:
    """Budgets in Redis, under ``{prefix}:bg:{budget}:`` (``s:{period}`` spent, ``h`` / ``e`` holds and expiries)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    def _keys(self, key: str, period: str) -> list[str]:
        base = f"{self._store.prefix}:bg:{key}"
        return [f"{base}:s:{period}", f"{base}:e", f"{base}:h"]

    def reserve(
        self, key: str, period: str, limit: float, amount: float, hold: str, now: float, expires: float, ttl: float
    ) -> tuple[bool, float, float]:
        args: list[str | int] = [repr(now), repr(limit), repr(amount), hold, repr(expires), math.ceil(ttl * 1000)]
        ok, spent, reserved = self._store._run(_RESERVE, self._keys(key, period), args)
        return int(ok) == 1, float(spent), float(reserved)

    def settle(self, key: str, period: str, hold: str, cost: float, ttl: float) -> None:
        self._store._run(_SETTLE, self._keys(key, period), [hold, repr(cost), math.ceil(ttl * 1000)])

    def state(self, key: str, period: str, now: float) -> tuple[float, float]:
        spent, reserved = self._store._run(_STATE, self._keys(key, period), [repr(now)])
        return float(spent), float(reserved)


_memory_books: weakref.WeakKeyDictionary[MemoryStore, _MemoryBudgets] = weakref.WeakKeyDictionary()
_memory_lock = threading.Lock()


def _budget_store(store: Store) -> _BudgetStore:
    from ..policies import MemoryStore, RedisStore

    if isinstance(store, RedisStore):
        if store._sync is None:
            raise TypeError("Client() budgets need a RedisStore with a sync client (a redis:// URL or a redis.Redis)")
        return _RedisBudgets(store)
    if isinstance(store, MemoryStore):
        with _memory_lock:
            books = _memory_books.get(store)
            if books is None:
                books = _memory_books[store] = _MemoryBudgets()
        return books
    raise TypeError(f"Client() budgets need a MemoryStore or a RedisStore as store, got {store!r}")


# --------------------------------------------------------------------------- the Client's gatekeeper


@dataclass(slots=True)
class _Hold:
    budget: Budget
    scope: _Scope
    key: str
    period: str
    hold: str
    cost: float = 0.0


class Budgets:
    """The budgets of one Client over its store; give ``Client(budgets=[...])`` a list or one of these.

    ``clock`` (an :class:`alchemy.policies.Clock`, default the system clock) gives
    the time periods and reservation expiries are read from (tests pass a fake one).
    It is the Client's gatekeeper: ``call_started`` reserves or raises.
    """

    __slots__ = ("budgets", "_scopes", "_clock", "_store", "_on_unavailable")

    def __init__(self, budgets: Sequence[Budget], *, clock: Clock | None = None) -> None:
        from ..policies import SystemClock

        if isinstance(budgets, Budget) or not isinstance(budgets, Sequence):
            raise TypeError(f"Client() budgets must be a list of alchemy.accounting.Budget, got {budgets!r}")
        for budget in budgets:
            if not isinstance(budget, Budget):
                raise TypeError(f"Client() budgets must hold alchemy.accounting.Budget objects, got {budget!r}")
        labels = [budget.label for budget in budgets]
        if len(set(labels)) != len(labels):
            raise ValueError(f"Client() budgets: two budgets share a name ({', '.join(sorted(labels))}); name them")
        self.budgets: tuple[Budget, ...] = tuple(budgets)
        self._scopes = tuple(_parse_scope(budget.scope) for budget in budgets)
        self._clock: Clock = SystemClock() if clock is None else clock
        self._store: _BudgetStore | None = None
        self._on_unavailable: UnavailablePolicy = "fail_open"

    def bind(self, store: Store) -> None:
        """Keeps the budgets in ``store`` (the Client does this once, at construction).

        While a Redis store is unreachable its ``on_unavailable`` applies: ``fail_open``
        lets calls through unchecked (logged), ``fail_closed`` raises
        :class:`~alchemy.policies.StoreUnavailableError` at the call.
        """
        self._store = _budget_store(store)
        self._on_unavailable = store.on_unavailable

    def __repr__(self) -> str:
        return f"Budgets({', '.join(budget.label for budget in self.budgets)})"

    def state(self, name: str, tag_value: str | None = None) -> BudgetState:
        """The current period of the budget called ``name`` (for a ``tag:KEY`` budget: of ``tag_value``)."""
        for budget, scope in zip(self.budgets, self._scopes):
            if budget.label == name:
                if scope.kind == "tag" and scope.value is None and tag_value is None:
                    raise ValueError(f"Budgets.state(): budget {name!r} is per tag value: give tag_value")
                now = self._clock.now()
                period = period_id(budget.period, now)
                spent, reserved = self._bound().state(_store_key(budget, scope, tag_value), period, now)
                return BudgetState(name, period, spent, reserved, budget.limit_usd)
        raise ValueError(f"Budgets.state(): no budget named {name!r} (have: {', '.join(b.label for b in self.budgets)})")

    def _bound(self) -> _BudgetStore:
        if self._store is None:
            raise RuntimeError("Budgets used before a Client bound them to its store")
        return self._store

    # -- CallObserver ----------------------------------------------------------------------

    def call_started(self, call: CallInfo) -> list[_Hold]:
        store = self._bound()
        now = self._clock.now()
        holds: list[_Hold] = []
        worst: dict[str, float | None] = {}
        try:
            for budget, scope in zip(self.budgets, self._scopes):
                models = _models_in_scope(scope, call)
                if not models:
                    continue
                amount = self._amount(budget, models, call, worst)
                key = _store_key(budget, scope, call.tags.get(scope.target) if scope.kind == "tag" else None)
                period = period_id(budget.period, now)
                if amount is None:  # unknown prices, refused
                    spent, reserved = store.state(key, period, now)
                    raise BudgetExceededError(budget.label, spent, reserved, budget.limit_usd, None)
                hold = _Hold(budget, scope, key, period, uuid.uuid4().hex)
                expires = now + budget.hold_seconds
                try:
                    ok, spent, reserved = store.reserve(
                        key, period, budget.limit_usd, amount, hold.hold, now, expires, budget.hold_seconds + 1.0
                    )
                except StoreUnavailableError:
                    if self._on_unavailable == "fail_closed":
                        raise
                    log.warning("budget %r not checked: its store is unreachable (fail_open)", budget.label)
                    continue
                if not ok:
                    raise BudgetExceededError(budget.label, spent, reserved, budget.limit_usd, amount)
                holds.append(hold)
        except BaseException:
            self.call_finished(holds, None)
            raise
        return holds

    def _amount(
        self, budget: Budget, models: Sequence[Model], call: CallInfo, worst: dict[str, float | None]
    ) -> float | None:
        """The dearest worst case of ``models`` (each counted once per call); ``None`` to refuse unknown prices."""
        max_tokens = call.options.get("max_tokens")
        caching = call.options.get("cache_retention") != "none"
        amount = 0.0
        for model in models:
            if model.key not in worst:
                worst[model.key] = worst_case_cost(model, call.context, max_tokens, caching)
            cost = worst[model.key]
            if cost is None:
                if budget.unknown_prices == "refuse":
                    return None
                warnings.warn(
                    f"budget {budget.label!r}: {model.key} has no known prices; counted as costing 0",
                    UnknownPriceWarning,
                    stacklevel=6,
                )
                continue
            amount = max(amount, cost)
        return amount

    def attempt_started(self, state: object, attempt: AttemptInfo) -> None:
        """Nothing: the reservation covers every attempt of the chain."""

    def attempt_ended(self, state: object, attempt: AttemptInfo, message: AssistantMessage) -> None:
        """Adds the attempt's reported cost to each budget whose scope the attempt's model is in."""
        holds: list[_Hold] = state  # type: ignore[assignment]
        cost = reported_cost(attempt.model, message)
        if not cost:
            return
        for hold in holds:
            if _model_in_scope(hold.scope, attempt.model):
                hold.cost += cost

    def call_finished(self, state: object, message: AssistantMessage | None) -> None:
        """Replaces each reservation by the cost counted (``message`` is ``None`` when releasing)."""
        holds: list[_Hold] = state  # type: ignore[assignment]
        store = self._bound()
        for hold in holds:
            store.settle(hold.key, hold.period, hold.hold, hold.cost, _spent_ttl(hold.budget.period))


def _store_key(budget: Budget, scope: _Scope, tag_value: str | None) -> str:
    if scope.kind == "tag" and scope.value is None:
        return f"{budget.label}={tag_value}"
    return budget.label


def _model_in_scope(scope: _Scope, model: Model) -> bool:
    if scope.kind == "provider":
        return model.provider == scope.target
    if scope.kind == "model":
        return model.key == scope.target
    return True


def _models_in_scope(scope: _Scope, call: CallInfo) -> list[Model]:
    if scope.kind == "tag":
        tags: Mapping[str, str] = call.tags
        value = tags.get(scope.target)
        if value is None or (scope.value is not None and value != scope.value):
            return []
    return [model for model in call.models if _model_in_scope(scope, model)]
