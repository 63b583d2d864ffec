"""The in-process :class:`~alchemy.policies.Store`: the default, shared by the threads and tasks of one process."""

from __future__ import annotations

import bisect
import threading
from collections import deque
from dataclasses import dataclass, field

from ._store import (
    MIN_WAIT,
    WINDOW,
    BreakerState,
    BreakerStatus,
    Decision,
    Outcome,
    TakeRequest,
    UnavailablePolicy,
)


@dataclass(slots=True)
class _Entry:
    started: float
    tokens: int
    lease: str


@dataclass(slots=True)
class _Limit:
    """One key's window (entries in start order), token sum, leases and pause."""

    entries: list[_Entry] = field(default_factory=list)
    by_lease: dict[str, _Entry] = field(default_factory=dict)
    token_sum: int = 0
    leases: dict[str, float] = field(default_factory=dict)
    paused_until: float = 0.0

    def prune(self, now: float) -> None:
        gone = bisect.bisect_right(self.entries, now - WINDOW, key=_started)
        for entry in self.entries[:gone]:
            self.token_sum -= entry.tokens
            del self.by_lease[entry.lease]
        del self.entries[:gone]

    def full(self, concurrency: int, now: float) -> bool:
        """Whether ``concurrency`` leases are held (expired ones are dropped only when it looks so)."""
        if len(self.leases) < concurrency:
            return False
        for lease in [lease for lease, expiry in self.leases.items() if expiry <= now]:
            del self.leases[lease]
        return len(self.leases) >= concurrency


@dataclass(slots=True)
class _Breaker:
    state: BreakerStatus = "closed"
    failures: deque[float] = field(default_factory=deque)
    opened_at: float | None = None
    retry_at: float = 0.0
    probe_until: float = 0.0


class MemoryStore:
    """Rate limits and breakers kept in this process (one lock; each step is short)."""

    on_unavailable: UnavailablePolicy = "fail_open"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, _Limit] = {}
        self._breakers: dict[str, _Breaker] = {}

    def __repr__(self) -> str:
        return f"MemoryStore(limits={len(self._limits)}, breakers={len(self._breakers)})"

    # ------------------------------------------------------------------ rate limits

    def take(self, request: TakeRequest) -> tuple[float, float]:
        with self._lock:
            limit = self._limits.setdefault(request.key, _Limit())
            now = request.now
            if limit.entries and limit.entries[-1].started > now:
                now = limit.entries[-1].started  # a caller's clock lags: count against the latest time seen
            limit.prune(now)
            wait = _wait_for_room(limit, request, now)
            if wait > 0:
                return wait, now
            if request.requests_per_minute or request.tokens_per_minute:
                entry = _Entry(now, request.tokens, request.lease)
                limit.entries.append(entry)
                limit.by_lease[request.lease] = entry
                limit.token_sum += request.tokens
            if request.concurrency:
                limit.leases[request.lease] = request.now + request.lease_seconds
            return 0.0, now

    async def atake(self, request: TakeRequest) -> tuple[float, float]:
        return self.take(request)

    def settle(self, key: str, lease: str, tokens: int | None) -> None:
        with self._lock:
            limit = self._limits.get(key)
            if limit is None:
                return
            entry = limit.by_lease.get(lease)
            if entry is not None and tokens is not None:
                limit.token_sum += tokens - entry.tokens
                entry.tokens = tokens
            limit.leases.pop(lease, None)

    async def asettle(self, key: str, lease: str, tokens: int | None) -> None:
        self.settle(key, lease, tokens)

    def pause(self, key: str, now: float, seconds: float) -> None:
        with self._lock:
            limit = self._limits.setdefault(key, _Limit())
            limit.paused_until = max(limit.paused_until, now + seconds)

    async def apause(self, key: str, now: float, seconds: float) -> None:
        self.pause(key, now, seconds)

    # ------------------------------------------------------------------ breakers

    def breaker_check(self, key: str, now: float, probe_seconds: float) -> tuple[Decision, float, BreakerStatus]:
        with self._lock:
            breaker = self._breakers.get(key)
            if breaker is None or breaker.state == "closed":
                return "allow", 0.0, "closed"
            before = breaker.state
            if breaker.state == "open" and now < breaker.retry_at:
                return "reject", breaker.retry_at - now, before
            if breaker.state == "half_open" and breaker.probe_until > now:
                return "reject", breaker.probe_until - now, before
            breaker.state = "half_open"
            breaker.probe_until = now + probe_seconds
            return "probe", 0.0, before

    async def abreaker_check(
        self, key: str, now: float, probe_seconds: float
    ) -> tuple[Decision, float, BreakerStatus]:
        return self.breaker_check(key, now, probe_seconds)

    def breaker_record(
        self, key: str, now: float, outcome: Outcome, failures: int, window: float, cooldown: float
    ) -> tuple[BreakerStatus, BreakerStatus]:
        with self._lock:
            breaker = self._breakers.setdefault(key, _Breaker())
            before = breaker.state
            if outcome == "success":
                if before == "half_open":
                    self._breakers[key] = _Breaker()
            elif outcome == "neutral":
                if before == "half_open":
                    breaker.probe_until = 0.0
            elif before == "half_open":
                _open(breaker, now, cooldown)
            elif before == "closed":
                breaker.failures.append(now)
                while breaker.failures and breaker.failures[0] <= now - window:
                    breaker.failures.popleft()
                if len(breaker.failures) >= failures:
                    _open(breaker, now, cooldown)
            return before, self._breakers[key].state

    async def abreaker_record(
        self, key: str, now: float, outcome: Outcome, failures: int, window: float, cooldown: float
    ) -> tuple[BreakerStatus, BreakerStatus]:
        return self.breaker_record(key, now, outcome, failures, window, cooldown)

    def breaker_snapshot(self, now: float) -> dict[str, BreakerState]:
        with self._lock:
            return {
                key: BreakerState(
                    key=key,
                    state=breaker.state,
                    failures=len(breaker.failures),
                    opened_at=breaker.opened_at,
                    retry_in=max(0.0, breaker.retry_at - now) if breaker.state == "open" else 0.0,
                )
                for key, breaker in self._breakers.items()
            }

    async def abreaker_snapshot(self, now: float) -> dict[str, BreakerState]:
        return self.breaker_snapshot(now)


def _wait_for_room(limit: _Limit, request: TakeRequest, now: float) -> float:
    """0 when ``request`` fits at ``now``, else the seconds before it can (see :mod:`._store`)."""
    if limit.paused_until > now:
        return limit.paused_until - now
    wait = 0.0
    entries = limit.entries
    rpm = request.requests_per_minute
    if rpm and len(entries) >= rpm:
        wait = max(wait, entries[len(entries) - rpm].started + WINDOW - now, MIN_WAIT)
    tpm = request.tokens_per_minute
    if tpm and limit.token_sum + request.tokens > tpm:
        excess = limit.token_sum + request.tokens - tpm
        for entry in entries:
            excess -= entry.tokens
            if excess <= 0:
                wait = max(wait, entry.started + WINDOW - now, MIN_WAIT)
                break
    if wait == 0.0 and request.concurrency and limit.full(request.concurrency, now):
        wait = request.poll
    return wait


def _started(entry: _Entry) -> float:
    return entry.started


def _open(breaker: _Breaker, now: float, cooldown: float) -> None:
    breaker.state = "open"
    breaker.opened_at = now
    breaker.retry_at = now + cooldown
    breaker.probe_until = 0.0
    breaker.failures.clear()
