"""The :class:`Store` protocol: the atomic decisions a policy asks of where its state lives.

Every method is one atomic step (one Lua script in Redis, one locked step in
memory). Times are Unix seconds given by the caller's clock; a concurrency lease
or a probe is named by a caller-made id. Both stores implement the same rules,
written down once here:

``take``
    The time of the decision is ``now``, or the newest entry's time when that is
    later: callers' clocks differ a little (a thread reads its clock before it gets
    the lock; machines drift), and an entry recorded before the newest would leave
    the window early and let one request too many in. So the window's entries are in
    time order and every decision counts against the latest time any caller saw.
    Prune the window (entries started ``WINDOW`` seconds ago or more) and expired
    leases. Room is there when no pause runs, fewer than ``requests_per_minute``
    entries are in the window, the window's tokens plus ``tokens`` stay within
    ``tokens_per_minute`` and fewer than ``concurrency`` leases are held (0: no such
    limit). With room, record an entry (``lease``, the decision's time, ``tokens``)
    and a lease that expires after ``lease_seconds``, and return ``(0, time)``.
    Without, record nothing and return the seconds before room can come (exact for
    the pause and the window, ``poll`` for a full concurrency: a slot frees when
    someone settles) with the decision's time.
``settle``
    Replace the tokens of ``lease``'s entry (while it is in the window) and free its lease.
``pause``
    No room for anyone for ``seconds`` from ``now`` (a later end wins).
``breaker_check``
    ``closed``: allow. ``open`` before ``retry_at`` (its opening time plus the
    ``cooldown`` given when it opened): reject, with the seconds left. ``open``
    after it, or ``half_open`` with no live probe: move to ``half_open`` and hand out
    the probe (for ``probe_seconds``). ``half_open`` with a live probe: reject.
``breaker_record``
    ``success``: ``half_open`` -> ``closed`` (failures forgotten). ``failure``:
    ``half_open`` -> ``open``; ``closed`` counts it (dropping those older than ``window``) and opens at ``failures`` within
    ``window`` seconds. ``neutral``: frees a half-open probe. Returns the states
    before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

WINDOW = 60.0
"""The length of the rate-limit window, in seconds (the limits are per minute)."""

MIN_WAIT = 0.001
"""The shortest wait a full window asks for (so a full window never reads as room)."""

UnavailablePolicy = Literal["fail_open", "fail_closed"]
"""What a policy does when its store cannot be reached."""

BreakerStatus = Literal["closed", "open", "half_open"]
Decision = Literal["allow", "probe", "reject"]
Outcome = Literal["success", "failure", "neutral"]


class StoreUnavailableError(Exception):
    """The store could not be reached; the policy applies ``on_unavailable``."""


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One breaker as last seen: its ``state``, the counted ``failures`` in the window,
    when it opened (Unix seconds, ``None`` when closed) and ``retry_in``, the seconds
    of cooldown left (0 when it would let a probe through now)."""

    key: str
    state: BreakerStatus
    failures: int
    opened_at: float | None
    retry_in: float


@dataclass(frozen=True, slots=True)
class TakeRequest:
    """The arguments of one :meth:`Store.take`."""

    key: str
    requests_per_minute: int
    tokens_per_minute: int
    concurrency: int
    lease_seconds: float
    tokens: int
    lease: str
    now: float
    poll: float


@runtime_checkable
class Store(Protocol):
    """Where rate-limit windows, concurrency leases, pauses and breakers live."""

    on_unavailable: UnavailablePolicy

    def take(self, request: TakeRequest) -> tuple[float, float]: ...

    async def atake(self, request: TakeRequest) -> tuple[float, float]: ...

    def settle(self, key: str, lease: str, tokens: int | None) -> None: ...

    async def asettle(self, key: str, lease: str, tokens: int | None) -> None: ...

    def pause(self, key: str, now: float, seconds: float) -> None: ...

    async def apause(self, key: str, now: float, seconds: float) -> None: ...

    def breaker_check(self, key: str, now: float, probe_seconds: float) -> tuple[Decision, float, BreakerStatus]: ...

    async def abreaker_check(
        self, key: str, now: float, probe_seconds: float
    ) -> tuple[Decision, float, BreakerStatus]: ...

    def breaker_record(
        self, key: str, now: float, outcome: Outcome, failures: int, window: float, cooldown: float
    ) -> tuple[BreakerStatus, BreakerStatus]: ...

    async def abreaker_record(
        self, key: str, now: float, outcome: Outcome, failures: int, window: float, cooldown: float
    ) -> tuple[BreakerStatus, BreakerStatus]: ...

    def breaker_snapshot(self, now: float) -> dict[str, BreakerState]: ...

    async def abreaker_snapshot(self, now: float) -> dict[str, BreakerState]: ...
