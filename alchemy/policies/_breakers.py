"""Circuit breakers: :class:`CircuitBreaker` (the config) and :class:`Breakers` (the engine)."""

from __future__ import annotations

import logging
import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Final, get_args

from ..errors import CircuitOpenError, ErrorKind
from ._clock import Clock, SystemClock
from ._memory import MemoryStore
from ._store import (
    BreakerState,
    BreakerStatus,
    Decision,
    Outcome,
    Store,
    StoreUnavailableError,
)

_logger = logging.getLogger("alchemy")

BREAKER_KINDS: Final[frozenset[ErrorKind]] = frozenset({"server", "overloaded", "timeout", "connection"})
"""The error kinds a breaker counts by default: the provider is failing, not the request."""

__all__ = ["BREAKER_KINDS", "BreakerState", "Breakers", "CircuitBreaker"]


@dataclass(frozen=True, slots=True)
class CircuitBreaker:
    """When a breaker opens and how long it stays open.

    ``failures`` failures of a kind in ``kinds`` within ``window`` seconds open it;
    after ``cooldown`` seconds one probe may go; a probe that never reports frees
    its turn after ``probe_timeout`` seconds.
    """

    failures: int = 5
    window: float = 60.0
    cooldown: float = 30.0
    kinds: AbstractSet[ErrorKind] = field(default=BREAKER_KINDS)
    probe_timeout: float = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.failures, bool) or not isinstance(self.failures, int) or self.failures < 1:
            raise ValueError(f"CircuitBreaker failures must be an int >= 1, got {self.failures!r}")
        for name in ("window", "cooldown", "probe_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"CircuitBreaker {name} must be seconds > 0, got {value!r}")
        unknown = set(self.kinds) - set(get_args(ErrorKind))
        if unknown:
            raise ValueError(f"CircuitBreaker kinds must be error kinds, got {sorted(unknown)!r}")
        object.__setattr__(self, "kinds", frozenset(self.kinds))


class Breakers:
    """The circuit-breaker engine over one :class:`~alchemy.policies.Store` (see :mod:`alchemy.policies`)."""

    def __init__(self, store: Store | None = None, *, clock: Clock | None = None) -> None:
        self.store: Store = MemoryStore() if store is None else store
        self.clock: Clock = SystemClock() if clock is None else clock

    def __repr__(self) -> str:
        return f"Breakers(store={self.store!r})"

    def check(self, key: str, config: CircuitBreaker) -> bool:
        """Lets an attempt at ``key`` through (``True`` when it is the half-open probe) or
        raises :class:`~alchemy.errors.CircuitOpenError`."""
        _check_key(key, config)
        try:
            decision, retry_in, before = self.store.breaker_check(key, self.clock.now(), config.probe_timeout)
        except StoreUnavailableError as exc:
            return self._unavailable(key, exc)
        return _decide(key, decision, retry_in, before)

    async def acheck(self, key: str, config: CircuitBreaker) -> bool:
        _check_key(key, config)
        try:
            decision, retry_in, before = await self.store.abreaker_check(key, self.clock.now(), config.probe_timeout)
        except StoreUnavailableError as exc:
            return self._unavailable(key, exc)
        return _decide(key, decision, retry_in, before)

    def record(self, key: str, config: CircuitBreaker, failure: ErrorKind | None) -> BreakerStatus | None:
        """Records how an attempt ended (``None``: success, else its error kind); returns the state after
        (``None`` when the store could not be reached)."""
        _check_key(key, config)
        outcome = _outcome(config, failure)
        try:
            before, after = self.store.breaker_record(
                key, self.clock.now(), outcome, config.failures, config.window, config.cooldown
            )
        except StoreUnavailableError as exc:
            _logger.warning("circuit breaker %r: outcome dropped: %s", key, exc)
            return None
        _log_transition(key, before, after, failure)
        return after

    async def arecord(self, key: str, config: CircuitBreaker, failure: ErrorKind | None) -> BreakerStatus | None:
        _check_key(key, config)
        outcome = _outcome(config, failure)
        try:
            before, after = await self.store.abreaker_record(
                key, self.clock.now(), outcome, config.failures, config.window, config.cooldown
            )
        except StoreUnavailableError as exc:
            _logger.warning("circuit breaker %r: outcome dropped: %s", key, exc)
            return None
        _log_transition(key, before, after, failure)
        return after

    def snapshot(self) -> dict[str, BreakerState]:
        """Every breaker the store knows, by key (empty when the store cannot be reached)."""
        try:
            return self.store.breaker_snapshot(self.clock.now())
        except StoreUnavailableError as exc:
            _logger.warning("circuit breakers not readable: %s", exc)
            return {}

    async def asnapshot(self) -> dict[str, BreakerState]:
        try:
            return await self.store.abreaker_snapshot(self.clock.now())
        except StoreUnavailableError as exc:
            _logger.warning("circuit breakers not readable: %s", exc)
            return {}

    def _unavailable(self, key: str, exc: StoreUnavailableError) -> bool:
        if self.store.on_unavailable == "fail_closed":
            raise CircuitOpenError(f"circuit breaker {key!r} not checked: {exc} (on_unavailable='fail_closed')") from exc
        _logger.warning("circuit breaker %r not applied: %s (on_unavailable='fail_open')", key, exc)
        return False


def _decide(key: str, decision: Decision, retry_in: float, before: BreakerStatus) -> bool:
    if decision == "reject":
        raise CircuitOpenError(
            f"circuit breaker {key!r} is {before.replace('_', '-')}: failing fast (retry in {retry_in:.1f}s)",
            retry_after=retry_in,
        )
    if decision == "probe":
        _log_transition(key, before, "half_open", None)
    return decision == "probe"


def _outcome(config: CircuitBreaker, failure: ErrorKind | None) -> Outcome:
    if failure is None:
        return "success"
    return "failure" if failure in config.kinds else "neutral"


def _log_transition(key: str, before: BreakerStatus, after: BreakerStatus, failure: ErrorKind | None) -> None:
    if before != after:
        cause = f" after {failure}" if failure else ""
        _logger.info("circuit breaker %r: %s -> %s%s", key, before, after, cause)


def _check_key(key: str, config: CircuitBreaker) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty str, got {key!r}")
    if not isinstance(config, CircuitBreaker):
        raise TypeError(f"config must be an alchemy.policies.CircuitBreaker, got {type(config).__name__}")
