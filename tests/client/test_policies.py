"""alchemy.policies: rate limits and circuit breakers, in memory and in a real Redis.

Every rule runs against both stores (the ``store`` fixture). Counting properties use
a :class:`VirtualClock` (minute windows in milliseconds, nothing depends on speed);
the few tests that need a real wait (an abort, a restart) bound it generously.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from policy_support import START, RedisServer, VirtualClock, free_port, max_in_window

from alchemy.abort import AbortController
from alchemy.errors import ERROR_KINDS, AbortedError, CircuitOpenError, RateLimitError
from alchemy.policies import (
    Breakers,
    CircuitBreaker,
    MemoryStore,
    Permit,
    RateLimit,
    RateLimits,
    RedisStore,
    Store,
)
from alchemy.rate_limits import RateLimit as HeaderRateLimit


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisStore(server.url, prefix=f"t-{uuid.uuid4().hex[:8]}")
    yield redis_store
    redis_store.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


# ---------------------------------------------------------------------- rate limits: counting


def test_one_caller_never_exceeds_requests_or_tokens(store: Store, clock: VirtualClock) -> None:
    limits = RateLimits(store, clock=clock)
    limit = RateLimit(requests_per_minute=7, tokens_per_minute=1000, max_wait=None)
    starts: list[float] = []
    sizes: list[int] = []
    for index in range(60):
        tokens = (37 * index) % 300
        permit = limits.acquire("p", limit, tokens)
        starts.append(permit.granted_at)
        sizes.append(tokens)
        permit.settle()
    assert max_in_window(starts) <= 7
    assert max_in_window(starts, sizes) <= 1000
    assert clock.now() - START < 60 * 60  # and it kept going: about 60/7 minutes of virtual time


def test_a_lagging_clock_is_counted_at_the_latest_time_seen(store: Store) -> None:
    from alchemy.policies._store import TakeRequest

    def take(now: float, lease: str) -> tuple[float, float]:
        return store.take(TakeRequest("lag", 2, 0, 0, 30.0, 0, lease, now, 0.02))

    assert take(START + 10.0, "a") == (0.0, START + 10.0)
    assert take(START + 9.5, "b") == (0.0, START + 10.0), "recorded at the newest entry's time, not before it"
    wait, at = take(START + 9.0, "c")
    assert at == START + 10.0 and wait == pytest.approx(60.0)  # room when "a" leaves the window, at +70
    assert take(START + 70.0, "d") == (0.0, START + 70.0)


def test_threads_share_one_limit_and_all_finish(store: Store, clock: VirtualClock) -> None:
    limits = RateLimits(store, clock=clock)
    limit = RateLimit(requests_per_minute=10, tokens_per_minute=500, concurrency=3, max_wait=None)
    starts: list[float] = []
    sizes: list[int] = []
    done = [0] * 6
    lock = threading.Lock()

    def worker(number: int) -> None:
        for index in range(8):
            tokens = 20 + 7 * ((number + index) % 5)
            with limits.acquire("shared", limit, tokens) as permit, lock:
                starts.append(permit.granted_at)
                sizes.append(tokens)
            done[number] += 1

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert done == [8] * 6  # nothing starved
    # Exact: a thread's clock reading may lag the others', but the store counts every decision
    # against the latest time it has seen (granted_at is that time).
    assert max_in_window(starts) <= 10
    assert max_in_window(starts, sizes) <= 500


def test_tasks_share_one_limit_and_all_finish(store: Store, clock: VirtualClock) -> None:
    limits = RateLimits(store, clock=clock)
    limit = RateLimit(requests_per_minute=12, tokens_per_minute=800, max_wait=None)
    starts: list[float] = []

    async def worker() -> int:
        for _ in range(6):
            permit = await limits.aacquire("shared", limit, 50)
            starts.append(permit.granted_at)
            await permit.asettle(40)
        return 6

    async def main() -> list[int]:
        return await asyncio.gather(*(worker() for _ in range(8)))

    assert asyncio.run(main()) == [6] * 8
    assert max_in_window(starts) <= 12


def test_settle_replaces_the_estimate(store: Store, clock: VirtualClock) -> None:
    limits = RateLimits(store, clock=clock)
    limit = RateLimit(tokens_per_minute=1000, max_wait=0)
    limits.acquire("p", limit, 900).settle(100)
    limits.acquire("p", limit, 900).settle()  # fits only because the first one used 100
    with pytest.raises(RateLimitError):
        limits.acquire("p", limit, 1)


def test_max_wait_gives_rate_limit_with_the_wait(store: Store, clock: VirtualClock) -> None:
    limits = RateLimits(store, clock=clock)
    limit = RateLimit(requests_per_minute=2, max_wait=10)
    limits.acquire("p", limit)
    clock.advance(5)
    limits.acquire("p", limit)
    with pytest.raises(RateLimitError) as raised:
        limits.acquire("p", limit)
    assert raised.value.kind == "rate_limit"
    assert raised.value.retry_after == pytest.approx(55, abs=0.01)
    clock.advance(50)  # now the first request leaves the window within max_wait
    permit = limits.acquire("p", limit)
    assert permit.waited == pytest.approx(5, abs=0.01)


def test_estimate_larger_than_the_limit_fails_at_once(store: Store, clock: VirtualClock) -> None:
    with pytest.raises(RateLimitError, match="can never fit") as raised:
        RateLimits(store, clock=clock).acquire("p", RateLimit(tokens_per_minute=100), 101)
    assert raised.value.retryable is False


def test_concurrency_slot_frees_on_settle_and_when_its_lease_expires(store: Store, clock: VirtualClock) -> None:
    limits = RateLimits(store, clock=clock)
    limit = RateLimit(concurrency=1, max_wait=1, lease=30)
    held = limits.acquire("p", limit)
    with pytest.raises(RateLimitError):
        limits.acquire("p", limit)
    held.settle()
    lost = limits.acquire("p", limit)  # never settled: a crashed holder
    clock.advance(31)
    limits.acquire("p", limit).settle()
    lost.settle()


def test_thousand_tasks_never_exceed_a_concurrency_of_100(store: Store) -> None:
    limits = RateLimits(store)
    limit = RateLimit(concurrency=100, max_wait=None)
    in_flight = peak = done = 0

    async def attempt() -> None:
        nonlocal in_flight, peak, done
        async with await limits.aacquire("p", limit):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1
        done += 1

    async def main() -> None:
        await asyncio.gather(*(attempt() for _ in range(1000)))

    asyncio.run(main())
    assert done == 1000
    assert 1 < peak <= 100  # how close to 100 it gets depends on the machine, never past it


# ---------------------------------------------------------------------- pauses and headers


def test_pause_holds_everyone_until_it_ends(store: Store, clock: VirtualClock) -> None:
    limits = RateLimits(store, clock=clock)
    other = RateLimits(store, clock=clock)
    limits.pause("p", 30)
    with pytest.raises(RateLimitError) as raised:
        other.acquire("p", RateLimit(max_wait=10))
    assert raised.value.retry_after == pytest.approx(30, abs=0.01)
    permit = other.acquire("p", RateLimit(max_wait=40))
    assert permit.waited == pytest.approx(30, abs=0.01)
    limits.pause("p", 10)
    limits.pause("p", 5)  # a shorter pause does not cut the longer one
    assert other.acquire("p", RateLimit(max_wait=None)).waited == pytest.approx(10, abs=0.01)


@pytest.mark.parametrize(
    ("headers", "pause"),
    [
        (HeaderRateLimit(retry_after=12.0), 12.0),
        (HeaderRateLimit(requests_remaining=0, requests_reset=7.0, tokens_remaining=5, tokens_reset=50.0), 7.0),
        (HeaderRateLimit(requests_remaining=3, tokens_remaining=0, tokens_reset=20.0, retry_after=2.0), 20.0),
        (HeaderRateLimit(requests_remaining=3, requests_reset=9.0), 0.0),
        (None, 0.0),
    ],
)
def test_rate_limit_headers_pause_the_key(
    store: Store, clock: VirtualClock, headers: HeaderRateLimit | None, pause: float
) -> None:
    limits = RateLimits(store, clock=clock)
    limits.observe_rate_limit("p", headers)
    assert limits.acquire("p", RateLimit(max_wait=None)).waited == pytest.approx(pause, abs=0.01)


async def _async_pause_then_acquire(limits: RateLimits) -> Permit:
    await limits.aobserve_rate_limit("p", HeaderRateLimit(retry_after=3.0))
    return await limits.aacquire("p", RateLimit(max_wait=None))


def test_async_pause(store: Store, clock: VirtualClock) -> None:
    permit = asyncio.run(_async_pause_then_acquire(RateLimits(store, clock=clock)))
    assert permit.waited == pytest.approx(3.0, abs=0.01)


# ---------------------------------------------------------------------- aborting a wait (real time)


def test_abort_while_waiting_ends_at_once(store: Store) -> None:
    limits = RateLimits(store)
    limit = RateLimit(requests_per_minute=1, max_wait=None)
    limits.acquire("p", limit)
    controller = AbortController()
    outcome: list[BaseException] = []

    def waiter() -> None:
        try:
            limits.acquire("p", limit, signal=controller.signal)
        except BaseException as exc:  # noqa: BLE001 - the test looks at what ended the wait
            outcome.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.05)
    started = time.monotonic()
    controller.abort()
    thread.join(30)
    assert not thread.is_alive() and time.monotonic() - started < 30  # the window had ~60 s left
    assert len(outcome) == 1 and isinstance(outcome[0], AbortedError) and outcome[0].kind == "aborted"


def test_async_abort_while_waiting_ends_at_once(store: Store) -> None:
    limits = RateLimits(store)
    limit = RateLimit(requests_per_minute=1, max_wait=None)

    async def main() -> None:
        await limits.aacquire("p", limit)
        controller = AbortController()
        waiting = asyncio.ensure_future(limits.aacquire("p", limit, signal=controller.signal))
        await asyncio.sleep(0.05)
        threading.Thread(target=controller.abort).start()  # from another thread, as a UI would
        with pytest.raises(AbortedError):
            await asyncio.wait_for(waiting, 30)

    asyncio.run(main())


def test_already_aborted_signal_never_waits(store: Store, clock: VirtualClock) -> None:
    controller = AbortController()
    controller.abort()
    with pytest.raises(AbortedError):
        RateLimits(store, clock=clock).acquire("p", RateLimit(), signal=controller.signal)


# ---------------------------------------------------------------------- circuit breakers


def test_breaker_opens_fails_fast_probes_once_and_closes(store: Store, clock: VirtualClock) -> None:
    breakers = Breakers(store, clock=clock)
    config = CircuitBreaker(failures=3, window=60, cooldown=30)
    for _ in range(2):
        assert breakers.check("p", config) is False
        assert breakers.record("p", config, "server") == "closed"
    assert breakers.record("p", config, "timeout") == "open"
    with pytest.raises(CircuitOpenError) as raised:
        breakers.check("p", config)
    assert raised.value.kind == "circuit_open" and raised.value.retry_after == pytest.approx(30, abs=0.01)
    assert breakers.snapshot()["p"].state == "open"
    clock.advance(30)
    assert breakers.check("p", config) is True  # the one probe
    with pytest.raises(CircuitOpenError):
        breakers.check("p", config)  # everyone else still fails fast
    assert breakers.snapshot()["p"].state == "half_open"
    assert breakers.record("p", config, None) == "closed"
    assert breakers.check("p", config) is False
    state = breakers.snapshot()["p"]
    assert (state.state, state.failures, state.opened_at) == ("closed", 0, None)


def test_failed_probe_reopens(store: Store, clock: VirtualClock) -> None:
    breakers = Breakers(store, clock=clock)
    config = CircuitBreaker(failures=1, cooldown=10)
    breakers.record("p", config, "overloaded")
    clock.advance(10)
    assert breakers.check("p", config) is True
    assert breakers.record("p", config, "connection") == "open"
    with pytest.raises(CircuitOpenError):
        breakers.check("p", config)
    assert breakers.snapshot()["p"].retry_in == pytest.approx(10, abs=0.01)


def test_failures_outside_the_window_or_the_kinds_do_not_count(store: Store, clock: VirtualClock) -> None:
    breakers = Breakers(store, clock=clock)
    config = CircuitBreaker(failures=2, window=10, cooldown=5)
    assert breakers.record("p", config, "server") == "closed"
    clock.advance(11)
    assert breakers.record("p", config, "server") == "closed"  # the first left the window
    for kind in ("rate_limit", "invalid_request", "context_overflow", "auth"):
        assert breakers.record("p", config, kind) == "closed"  # type: ignore[arg-type]
    assert breakers.record("p", config, "server") == "open"


def test_unanswered_probe_frees_its_turn(store: Store, clock: VirtualClock) -> None:
    breakers = Breakers(store, clock=clock)
    config = CircuitBreaker(failures=1, cooldown=5, probe_timeout=20)
    breakers.record("p", config, "server")
    clock.advance(5)
    assert breakers.check("p", config) is True
    clock.advance(21)  # the prober crashed
    assert breakers.check("p", config) is True
    assert breakers.record("p", config, "rate_limit") == "half_open"  # neutral: the next caller probes
    assert breakers.check("p", config) is True


def test_breakers_async(store: Store, clock: VirtualClock) -> None:
    breakers = Breakers(store, clock=clock)
    config = CircuitBreaker(failures=1, cooldown=5)

    async def main() -> None:
        assert await breakers.acheck("p", config) is False
        assert await breakers.arecord("p", config, "server") == "open"
        with pytest.raises(CircuitOpenError):
            await breakers.acheck("p", config)
        clock.advance(5)
        assert await breakers.acheck("p", config) is True
        assert await breakers.arecord("p", config, None) == "closed"
        assert (await breakers.asnapshot())["p"].state == "closed"

    asyncio.run(main())


def test_transitions_are_logged(store: Store, clock: VirtualClock, caplog: pytest.LogCaptureFixture) -> None:
    breakers = Breakers(store, clock=clock)
    config = CircuitBreaker(failures=1, cooldown=1)
    with caplog.at_level(logging.INFO, logger="alchemy"):
        breakers.record("p", config, "server")
        clock.advance(1)
        breakers.check("p", config)
        breakers.record("p", config, None)
    said = [record.getMessage() for record in caplog.records]
    assert said == [
        "circuit breaker 'p': closed -> open after server",
        "circuit breaker 'p': open -> half_open",
        "circuit breaker 'p': half_open -> closed",
    ]


def test_circuit_open_is_an_error_kind() -> None:
    assert ERROR_KINDS["circuit_open"].exception is CircuitOpenError
    assert CircuitOpenError("x").kind == "circuit_open"


# ---------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RateLimit(requests_per_minute=0), "requests_per_minute must be a positive int"),
        (lambda: RateLimit(concurrency=2.5), "concurrency must be a positive int"),
        (lambda: RateLimit(max_wait=-1), "max_wait must be seconds"),
        (lambda: CircuitBreaker(failures=0), "failures must be an int >= 1"),
        (lambda: CircuitBreaker(cooldown=float("inf")), "cooldown must be seconds > 0"),
        (lambda: CircuitBreaker(kinds={"server", "nope"}), "kinds must be error kinds"),  # type: ignore[arg-type]
        (lambda: RedisStore("redis://127.0.0.1:1", on_unavailable="ignore"), "on_unavailable must be"),  # type: ignore[arg-type]
        (lambda: RateLimits().acquire("p", RateLimit(), -1), "tokens must be an int >= 0"),
        (lambda: RateLimits().acquire("p", RateLimit()).settle(1.5), "actual_tokens must be an int >= 0"),
        (lambda: RateLimits().pause("p", float("nan")), "seconds must be a finite number"),
    ],
)
def test_bad_arguments_say_what_was_expected(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="limit must be an alchemy.policies.RateLimit"):
        RateLimits().acquire("p", {"requests_per_minute": 3})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be a non-empty str"):
        Breakers().check("", CircuitBreaker())
    with pytest.raises(TypeError, match="RedisStore needs a redis:// URL"):
        RedisStore(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- Redis: unreachable, restarted, TTLs


def _unreachable(policy: Any) -> RedisStore:
    return RedisStore(f"redis://127.0.0.1:{free_port()}", on_unavailable=policy, socket_timeout=0.5)


def test_unreachable_redis_fail_open_lets_through_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis")
    store = _unreachable("fail_open")
    limits, breakers = RateLimits(store), Breakers(store)
    with caplog.at_level(logging.WARNING, logger="alchemy"):
        permit = limits.acquire("p", RateLimit(requests_per_minute=1, max_wait=0))
        permit.settle(10)
        limits.pause("p", 5)
        assert breakers.check("p", CircuitBreaker()) is False
        assert breakers.record("p", CircuitBreaker(), "server") is None
        assert breakers.snapshot() == {}
        assert asyncio.run(limits.aacquire("p", RateLimit(requests_per_minute=1))).key == "p"
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("rate limit for 'p' not applied" in text and "fail_open" in text for text in warnings)
    assert any("circuit breaker 'p' not applied" in text for text in warnings)


def test_unreachable_redis_fail_closed_refuses() -> None:
    pytest.importorskip("redis")
    store = _unreachable("fail_closed")
    with pytest.raises(RateLimitError, match="fail_closed"):
        RateLimits(store).acquire("p", RateLimit())
    with pytest.raises(CircuitOpenError, match="fail_closed"):
        Breakers(store).check("p", CircuitBreaker())
    with pytest.raises(RateLimitError):
        asyncio.run(RateLimits(store).aacquire("p", RateLimit()))


def test_restarted_redis_recovers(own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    store = RedisStore(own_redis_server.url, prefix="restart", socket_timeout=1.0)
    limits, breakers = RateLimits(store), Breakers(store)
    limit, config = RateLimit(requests_per_minute=100), CircuitBreaker(failures=1)
    limits.acquire("p", limit).settle()
    own_redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="alchemy"):
        limits.acquire("p", limit).settle()  # fail_open while it is down
    assert any("not applied" in record.getMessage() for record in caplog.records)
    own_redis_server.start()  # same port, empty, no scripts loaded
    limits.acquire("p", limit).settle()
    assert breakers.record("p", config, "server") == "open"
    with pytest.raises(CircuitOpenError):
        breakers.check("p", config)

    async def again() -> None:
        await (await limits.aacquire("p", limit)).asettle()

    asyncio.run(again())
    store.close()


def test_every_redis_key_has_a_ttl_and_the_prefix(redis_server: RedisServer) -> None:
    import redis

    prefix = f"ttl-{uuid.uuid4().hex[:8]}"
    store = RedisStore(redis_server.url, prefix=prefix)
    limits, breakers = RateLimits(store), Breakers(store)
    limits.acquire("p", RateLimit(requests_per_minute=5, tokens_per_minute=100, concurrency=2), 10)
    limits.pause("p", 3)
    breakers.record("p", CircuitBreaker(failures=3), "server")
    breakers.record("q", CircuitBreaker(failures=1), "server")
    client = redis.Redis.from_url(redis_server.url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    assert len(keys) == 8  # rl:p:{w,t,c,p}, cb:p, cb:p:f, cb:q, cb
    assert all(client.pttl(key) > 0 for key in keys)
    client.close()
    store.close()


# ---------------------------------------------------------------------- Redis: four processes


def _process_acquires(url: str, prefix: str, cell: Any, count: int, results: Any) -> None:
    limits = RateLimits(RedisStore(url, prefix=prefix), clock=VirtualClock(cell))
    limit = RateLimit(requests_per_minute=9, tokens_per_minute=400, concurrency=2, max_wait=None)
    for index in range(count):
        tokens = 30 + 5 * (index % 4)
        with limits.acquire("shared", limit, tokens) as permit:
            results.put((permit.granted_at, tokens))


def _spawn(target: Any, *args: Any) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    return process


def _join(processes: list[multiprocessing.process.BaseProcess]) -> None:
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0] * len(processes)


def test_four_processes_share_one_limit(redis_server: RedisServer) -> None:
    clock = VirtualClock()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    prefix = f"procs-{uuid.uuid4().hex[:8]}"
    processes = [_spawn(_process_acquires, redis_server.url, prefix, clock.cell, 6, results) for _ in range(4)]
    granted = [results.get(timeout=120) for _ in range(24)]  # all 24 came: nothing starved
    _join(processes)
    starts = [when for when, _ in granted]
    assert max_in_window(starts) <= 9  # exact, whatever each process's clock reading (see the threads test)
    assert max_in_window(starts, [tokens for _, tokens in granted]) <= 400


def _process_pause(url: str, prefix: str) -> None:
    RateLimits(RedisStore(url, prefix=prefix)).observe_rate_limit("shared", HeaderRateLimit(retry_after=600.0))


def test_a_429_in_one_process_pauses_the_others(redis_server: RedisServer) -> None:
    prefix = f"pause-{uuid.uuid4().hex[:8]}"
    _join([_spawn(_process_pause, redis_server.url, prefix)])
    with pytest.raises(RateLimitError) as raised:
        RateLimits(RedisStore(redis_server.url, prefix=prefix)).acquire("shared", RateLimit(max_wait=5))
    assert raised.value.retry_after is not None and 500 < raised.value.retry_after <= 600


def _process_breaker(url: str, prefix: str, cell: Any, action: str, results: Any) -> None:
    breakers = Breakers(RedisStore(url, prefix=prefix), clock=VirtualClock(cell))
    config = CircuitBreaker(failures=4, window=60, cooldown=30)
    if action == "fail":
        breakers.record("shared", config, "server")
        results.put("recorded")
        return
    try:
        results.put("probe" if breakers.check("shared", config) else "allowed")
    except CircuitOpenError:
        results.put("refused")


def test_breaker_is_shared_across_processes(redis_server: RedisServer) -> None:
    clock = VirtualClock()
    results = multiprocessing.get_context("spawn").Queue()
    prefix = f"cb-{uuid.uuid4().hex[:8]}"
    url = redis_server.url

    def run_all(action: str) -> list[str]:
        processes = [_spawn(_process_breaker, url, prefix, clock.cell, action, results) for _ in range(4)]
        outcome = sorted(results.get(timeout=120) for _ in range(4))
        _join(processes)
        return outcome

    assert run_all("fail") == ["recorded"] * 4  # four failures in four processes open it
    breakers = Breakers(RedisStore(url, prefix=prefix), clock=clock)
    assert breakers.snapshot()["shared"].state == "open"
    assert run_all("check") == ["refused"] * 4
    clock.advance(30)
    assert run_all("check") == ["probe", "refused", "refused", "refused"]  # exactly one probe
    assert breakers.record("shared", CircuitBreaker(failures=4), None) == "closed"
    assert run_all("check") == ["allowed"] * 4


# ---------------------------------------------------------------------- Redis: a client given instead of a URL


def test_redis_store_from_a_sync_client_serves_sync_and_async(redis_server: RedisServer) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    store = RedisStore(client, prefix=f"sync-{uuid.uuid4().hex[:8]}")
    assert isinstance(store, Store) and isinstance(MemoryStore(), Store)
    limits = RateLimits(store)
    limit = RateLimit(requests_per_minute=2, max_wait=0)
    limits.acquire("p", limit).settle()
    asyncio.run(limits.aacquire("p", limit)).settle()  # async use runs the sync client in a thread
    with pytest.raises(RateLimitError):
        limits.acquire("p", limit)
    client.close()


def test_redis_store_from_an_async_client_is_for_async_code(redis_server: RedisServer) -> None:
    import redis.asyncio

    async def main() -> None:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        store = RedisStore(client, prefix=f"async-{uuid.uuid4().hex[:8]}")
        breakers = Breakers(store)
        assert await breakers.arecord("p", CircuitBreaker(failures=1), "server") == "open"
        assert (await breakers.asnapshot())["p"].state == "open"
        with pytest.raises(TypeError, match="use it from async code only"):
            breakers.check("p", CircuitBreaker())
        await client.aclose()

    asyncio.run(main())
