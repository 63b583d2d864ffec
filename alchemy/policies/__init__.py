"""Client-side rate limits and circuit breakers, with their state in memory or in Redis.

This is the engine :class:`alchemy.Client` calls before and after every attempt; it
knows nothing about models or HTTP. A *key* names what is limited or guarded: the
Client uses the provider (``"anthropic"``) and, where a model has its own limit,
``"provider/model"``. Keys are plain strings; the store namespaces them.

Where the state lives (:class:`Store`)
    :class:`MemoryStore` (the default; one process, no dependency) or
    :class:`RedisStore` (``pip install alchemy-llm[redis]``), shared by every process
    that uses the same Redis and ``prefix``. In Redis every decision is one atomic
    server-side Lua script (one round trip); every key lives under ``prefix`` and has
    a TTL, so nothing grows forever. Times are the callers' wall clocks (keep them in
    NTP sync). ``RedisStore(url_or_client, prefix="alchemy", on_unavailable=...,
    socket_timeout=2.0, max_connections=50)`` takes a ``redis://`` URL, a
    ``redis.Redis`` (async use runs it in a thread) or a ``redis.asyncio.Redis``
    (async use only). When
    Redis cannot be reached, ``on_unavailable="fail_open"`` (the default) logs a
    warning on the ``alchemy`` logger and lets the attempt through unlimited and
    unguarded; ``"fail_closed"`` refuses it: :meth:`RateLimits.acquire` raises
    :class:`~alchemy.errors.RateLimitError` and :meth:`Breakers.check` raises
    :class:`~alchemy.errors.CircuitOpenError`. Bookkeeping after an attempt
    (settle, record, pause) is dropped with the warning under both policies. Once
    Redis answers again (a restart, say) everything works again; the scripts are
    reloaded by themselves.

Rate limits (:class:`RateLimit`, :class:`RateLimits`, :class:`Permit`)
    ``RateLimit(requests_per_minute=, tokens_per_minute=, concurrency=, max_wait=)``:
    at most that many requests and estimated tokens started in any 60-second window
    (a sliding window, not a bucket that allows twice the rate around a refill), at
    most ``concurrency`` attempts in flight, waiting at most ``max_wait`` seconds
    (``None``: as long as it takes) for room. ::

        limits = RateLimits(store)                       # store: MemoryStore() by default
        permit = limits.acquire(key, limit, tokens=est, signal=signal)   # blocks
        permit = await limits.aacquire(key, limit, tokens=est, signal=signal)
        ...the attempt...
        permit.settle(actual_tokens)    # or await permit.asettle(...): corrects the
                                        # window with the real usage, frees the slot
        limits.pause(key, seconds)      # a 429's retry-after: every caller waits
        limits.observe_rate_limit(key, message.metrics.rate_limit)
        # (alchemy.rate_limits.RateLimit: retry_after pauses; a budget with
        #  0 remaining pauses until its reset)

    ``acquire`` raises :class:`~alchemy.errors.RateLimitError` (kind ``rate_limit``,
    ``retry_after`` set) when room will not come within ``max_wait`` or when
    ``tokens`` alone exceed ``tokens_per_minute``; :class:`~alchemy.errors.AbortedError`
    (kind ``aborted``) at once when ``signal`` aborts while waiting. ``permit.waited``
    is the seconds spent waiting (for the metrics), ``permit.granted_at`` the time of
    the grant as the store counts it (the latest time any caller saw, when this
    caller's clock lags). A full window or a pause says when room comes, so a wait past
    ``max_wait`` fails at once; a full concurrency is looked at again (20 ms, doubling
    to 250 ms) until ``max_wait``. A concurrency slot is a lease
    that expires after ``RateLimit.lease`` seconds, so a crashed process frees its
    slots. Permits are context managers (``with``/``async with``) that settle with
    the estimate when not settled.

Circuit breakers (:class:`CircuitBreaker`, :class:`Breakers`, :class:`BreakerState`)
    ``CircuitBreaker(failures=5, window=60.0, cooldown=30.0, kinds=BREAKER_KINDS)``:
    ``failures`` failures of a kind in ``kinds`` (default ``server``, ``overloaded``,
    ``timeout``, ``connection``) within ``window`` seconds open the breaker; while
    open every check fails at once; after ``cooldown`` seconds one caller gets a
    probe (half-open): its success closes the breaker, its failure reopens it. ::

        breakers = Breakers(store)
        probe = breakers.check(key, config)        # or await breakers.acheck(...)
        # raises CircuitOpenError (kind circuit_open, retry_after = cooldown left);
        # returns True when this attempt is the half-open probe
        breakers.record(key, config, None)         # success (await arecord(...))
        breakers.record(key, config, "server")     # a failure of that kind
        breakers.snapshot()                        # {key: BreakerState}, also asnapshot()

    A failure of a kind outside ``kinds`` neither counts nor closes; it frees a
    half-open probe so the next caller probes. Transitions are logged on the
    ``alchemy`` logger (``INFO``: closed -> open, open -> half_open, ... with the key).

All methods are thread-safe and task-safe; the ``a``-prefixed forms are for asyncio.
"""

from __future__ import annotations

from ._breakers import BREAKER_KINDS, Breakers, BreakerState, CircuitBreaker
from ._clock import Clock, SystemClock
from ._limits import Permit, RateLimit, RateLimits
from ._memory import MemoryStore
from ._redis import RedisStore
from ._store import Store, UnavailablePolicy

__all__ = [
    "BREAKER_KINDS",
    "BreakerState",
    "Breakers",
    "CircuitBreaker",
    "Clock",
    "MemoryStore",
    "Permit",
    "RateLimit",
    "RateLimits",
    "RedisStore",
    "Store",
    "SystemClock",
    "UnavailablePolicy",
]
