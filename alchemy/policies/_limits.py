"""Client-side rate limits: :class:`RateLimit` (the config), :class:`RateLimits` (the engine), :class:`Permit`."""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from types import TracebackType

from ..abort import AbortSignal
from ..errors import AbortedError, RateLimitError
from ..rate_limits import RateLimit as HeaderRateLimit
from ._clock import Clock, SystemClock
from ._memory import MemoryStore
from ._store import Store, StoreUnavailableError, TakeRequest

_logger = logging.getLogger("alchemy")

CONCURRENCY_POLL = 0.02
"""Seconds before the first new look for a free concurrency slot (a slot frees when its holder settles)."""

CONCURRENCY_POLL_MAX = 0.25
"""The longest wait between two looks: each look that finds no slot doubles the wait up to this."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A client-side limit: requests and estimated tokens started per minute, attempts in flight.

    ``None`` leaves that dimension unlimited. ``max_wait`` bounds the wait for room,
    in seconds (``None``: no bound). ``lease`` is how long a concurrency slot is held
    at most when its holder never settles (a crashed process), in seconds.
    """

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrency: int | None = None
    max_wait: float | None = 60.0
    lease: float = 900.0

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute", "concurrency"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"RateLimit {name} must be a positive int or None, got {value!r}")
        if self.max_wait is not None and not _non_negative(self.max_wait):
            raise ValueError(f"RateLimit max_wait must be seconds >= 0 or None, got {self.max_wait!r}")
        if not _non_negative(self.lease) or self.lease == 0:
            raise ValueError(f"RateLimit lease must be seconds > 0, got {self.lease!r}")


def _non_negative(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


class Permit:
    """Room granted for one attempt: settle it when the attempt ends (idempotent).

    ``waited`` is the seconds spent waiting for it; ``tokens`` the estimate it took;
    ``granted_at`` the clock's time of the grant (the time the window counts).
    """

    __slots__ = ("_lease", "_limits", "_settled", "granted_at", "key", "tokens", "waited")

    def __init__(
        self, limits: RateLimits | None, key: str, tokens: int, granted_at: float, waited: float, lease: str
    ) -> None:
        self.key = key
        self.tokens = tokens
        self.granted_at = granted_at
        self.waited = waited
        self._lease = lease
        self._limits = limits
        self._settled = limits is None

    def __repr__(self) -> str:
        return f"Permit(key={self.key!r}, tokens={self.tokens}, waited={self.waited:.3f}, settled={self._settled})"

    def settle(self, actual_tokens: int | None = None) -> None:
        """Frees the concurrency slot and replaces the estimate with ``actual_tokens`` (when given)."""
        _check_tokens("actual_tokens", actual_tokens)
        if self._settled or self._limits is None:
            return
        self._settled = True
        self._limits._settle(self.key, self._lease, actual_tokens)

    async def asettle(self, actual_tokens: int | None = None) -> None:
        _check_tokens("actual_tokens", actual_tokens)
        if self._settled or self._limits is None:
            return
        self._settled = True
        await self._limits._asettle(self.key, self._lease, actual_tokens)

    def __enter__(self) -> Permit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.settle()

    async def __aenter__(self) -> Permit:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.asettle()


class RateLimits:
    """The rate-limit engine over one :class:`~alchemy.policies.Store` (see :mod:`alchemy.policies`)."""

    def __init__(self, store: Store | None = None, *, clock: Clock | None = None) -> None:
        self.store: Store = MemoryStore() if store is None else store
        self.clock: Clock = SystemClock() if clock is None else clock

    def __repr__(self) -> str:
        return f"RateLimits(store={self.store!r})"

    def acquire(
        self, key: str, limit: RateLimit, tokens: int = 0, signal: AbortSignal | None = None
    ) -> Permit:
        """Waits for room for one attempt of ``tokens`` estimated tokens under ``limit`` at ``key``."""
        _check_acquire(key, limit, tokens)
        lease = uuid.uuid4().hex
        started = self.clock.now()
        looks = 0
        while True:
            _raise_if_aborted(key, signal)
            now = self.clock.now()
            try:
                request = _request(key, limit, tokens, lease, now, looks)
                wait, at = self.store.take(request)
            except StoreUnavailableError as exc:
                return self._unavailable(key, tokens, started, exc)
            if wait <= 0:
                return Permit(self, key, tokens, at, now - started, lease)
            self.clock.sleep(_bounded_wait(key, limit, started, now, wait, request.poll), signal)
            looks += 1

    async def aacquire(
        self, key: str, limit: RateLimit, tokens: int = 0, signal: AbortSignal | None = None
    ) -> Permit:
        """:meth:`acquire` for asyncio: awaits instead of blocking."""
        _check_acquire(key, limit, tokens)
        lease = uuid.uuid4().hex
        started = self.clock.now()
        looks = 0
        while True:
            _raise_if_aborted(key, signal)
            now = self.clock.now()
            try:
                request = _request(key, limit, tokens, lease, now, looks)
                wait, at = await self.store.atake(request)
            except StoreUnavailableError as exc:
                return self._unavailable(key, tokens, started, exc)
            if wait <= 0:
                return Permit(self, key, tokens, at, now - started, lease)
            await self.clock.asleep(_bounded_wait(key, limit, started, now, wait, request.poll), signal)
            looks += 1

    def pause(self, key: str, seconds: float) -> None:
        """No attempt at ``key`` starts for ``seconds`` (a 429's retry-after), for every caller of the store."""
        _check_pause(key, seconds)
        try:
            self.store.pause(key, self.clock.now(), seconds)
        except StoreUnavailableError as exc:
            _warn_dropped("pause", key, exc)

    async def apause(self, key: str, seconds: float) -> None:
        _check_pause(key, seconds)
        try:
            await self.store.apause(key, self.clock.now(), seconds)
        except StoreUnavailableError as exc:
            _warn_dropped("pause", key, exc)

    def observe_rate_limit(self, key: str, headers: HeaderRateLimit | None) -> None:
        """Pauses ``key`` as the provider's rate-limit headers ask (see :func:`pause_from_headers`)."""
        seconds = pause_from_headers(headers)
        if seconds > 0:
            self.pause(key, seconds)

    async def aobserve_rate_limit(self, key: str, headers: HeaderRateLimit | None) -> None:
        seconds = pause_from_headers(headers)
        if seconds > 0:
            await self.apause(key, seconds)

    def _settle(self, key: str, lease: str, tokens: int | None) -> None:
        try:
            self.store.settle(key, lease, tokens)
        except StoreUnavailableError as exc:
            _warn_dropped("settle", key, exc)

    async def _asettle(self, key: str, lease: str, tokens: int | None) -> None:
        try:
            await self.store.asettle(key, lease, tokens)
        except StoreUnavailableError as exc:
            _warn_dropped("settle", key, exc)

    def _unavailable(self, key: str, tokens: int, started: float, exc: StoreUnavailableError) -> Permit:
        if self.store.on_unavailable == "fail_closed":
            raise RateLimitError(f"rate limit for {key!r} not checked: {exc} (on_unavailable='fail_closed')") from exc
        _logger.warning("rate limit for %r not applied: %s (on_unavailable='fail_open')", key, exc)
        now = self.clock.now()
        return Permit(None, key, tokens, now, now - started, "")


def pause_from_headers(headers: HeaderRateLimit | None) -> float:
    """How long the headers ask every caller to hold off, in seconds (0: not at all).

    A ``retry-after`` is obeyed; a request or token budget with nothing remaining
    holds off until its reset. The longest of these wins.
    """
    if headers is None:
        return 0.0
    waits = [headers.retry_after or 0.0]
    if headers.requests_remaining == 0 and headers.requests_reset:
        waits.append(headers.requests_reset)
    if headers.tokens_remaining == 0 and headers.tokens_reset:
        waits.append(headers.tokens_reset)
    return max(waits)


def _request(key: str, limit: RateLimit, tokens: int, lease: str, now: float, looks: int) -> TakeRequest:
    return TakeRequest(
        key=key,
        requests_per_minute=limit.requests_per_minute or 0,
        tokens_per_minute=limit.tokens_per_minute or 0,
        concurrency=limit.concurrency or 0,
        lease_seconds=limit.lease,
        tokens=tokens,
        lease=lease,
        now=now,
        poll=min(CONCURRENCY_POLL * 2 ** min(looks, 8), CONCURRENCY_POLL_MAX),
    )


def _bounded_wait(key: str, limit: RateLimit, started: float, now: float, wait: float, poll: float) -> float:
    """How long to wait before the next look, or :class:`RateLimitError` when room comes after ``max_wait``.

    A window or a pause says when room comes: past ``max_wait`` it fails at once. A
    full concurrency (``wait == poll``) cannot say: it is looked at until ``max_wait``.
    """
    if limit.max_wait is None:
        return wait
    left = started + limit.max_wait - now
    if wait == poll and left > 0:
        return min(wait, left)
    if wait > left:
        raise RateLimitError(
            f"client-side rate limit for {key!r}: no room within max_wait={limit.max_wait}s "
            f"(next in {wait:.2f}s)",
            retry_after=wait,
        )
    return wait


def _raise_if_aborted(key: str, signal: AbortSignal | None) -> None:
    if signal is not None and signal.aborted:
        raise AbortedError(f"aborted while waiting for the rate limit of {key!r}")


def _check_acquire(key: str, limit: RateLimit, tokens: int) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty str, got {key!r}")
    if not isinstance(limit, RateLimit):
        raise TypeError(f"limit must be an alchemy.policies.RateLimit, got {type(limit).__name__}")
    _check_tokens("tokens", tokens)
    if limit.tokens_per_minute is not None and tokens > limit.tokens_per_minute:
        raise RateLimitError(
            f"client-side rate limit for {key!r}: {tokens} estimated tokens can never fit "
            f"tokens_per_minute={limit.tokens_per_minute}",
            retryable=False,
        )


def _check_tokens(name: str, tokens: int | None) -> None:
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
        raise ValueError(f"{name} must be an int >= 0, got {tokens!r}")


def _check_pause(key: str, seconds: float) -> None:
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty str, got {key!r}")
    if not _non_negative(seconds):
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")


def _warn_dropped(what: str, key: str, exc: StoreUnavailableError) -> None:
    _logger.warning("rate-limit %s for %r dropped: %s", what, key, exc)
