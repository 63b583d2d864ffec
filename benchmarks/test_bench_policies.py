"""Per-decision cost of the policy engine (issue 19): rate limits and circuit breakers.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_policies.py --benchmark-only
--benchmark-columns=min,median,ops`` (the Redis cases start a real ``redis-server`` on
127.0.0.1, as the tests do, and skip without one). A decision is one engine call:
``acquire`` (a rate limit with requests, tokens and concurrency, room available),
``settle``, ``check`` or ``record``; ``attempt`` is all four, what a Client does around
one attempt. Targets: under 50 µs per decision in memory, under 2 ms with Redis
(one round trip each, a server on the same host).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from policy_support import RedisServer

from alchemy.policies import (
    Breakers,
    CircuitBreaker,
    MemoryStore,
    RateLimit,
    RateLimits,
    RedisStore,
    Store,
)

LIMIT = RateLimit(requests_per_minute=10**9, tokens_per_minute=10**12, concurrency=1000)
BREAKER = CircuitBreaker(failures=5, window=60, cooldown=30)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisStore(server.url, prefix=f"bench-{uuid.uuid4().hex[:8]}")
    yield redis_store
    redis_store.close()


def test_acquire(benchmark: Any, store: Store) -> None:
    limits = RateLimits(store)
    permits = []

    def acquire() -> None:
        permits.append(limits.acquire("p", LIMIT, 1500))
        if len(permits) == 500:  # keep the concurrency slots free without timing settle
            for permit in permits:
                permit.settle()
            permits.clear()

    benchmark(acquire)


def test_acquire_and_settle(benchmark: Any, store: Store) -> None:
    limits = RateLimits(store)

    def attempt() -> None:
        limits.acquire("p", LIMIT, 1500).settle(1200)

    benchmark(attempt)


def test_breaker_check(benchmark: Any, store: Store) -> None:
    breakers = Breakers(store)
    benchmark(breakers.check, "p", BREAKER)


def test_breaker_record(benchmark: Any, store: Store) -> None:
    breakers = Breakers(store)
    benchmark(breakers.record, "p", BREAKER, None)


def test_attempt(benchmark: Any, store: Store) -> None:
    limits, breakers = RateLimits(store), Breakers(store)

    def attempt() -> None:
        breakers.check("p", BREAKER)
        limits.acquire("p", LIMIT, 1500).settle(1200)
        breakers.record("p", BREAKER, None)

    benchmark(attempt)


def test_async_attempt(benchmark: Any, store: Store) -> None:
    limits, breakers = RateLimits(store), Breakers(store)
    loop = asyncio.new_event_loop()

    async def attempts() -> None:
        for _ in range(10):
            await breakers.acheck("p", BREAKER)
            await (await limits.aacquire("p", LIMIT, 1500)).asettle(1200)
            await breakers.arecord("p", BREAKER, None)

    benchmark(lambda: loop.run_until_complete(attempts()))  # ten attempts per round
    loop.close()
