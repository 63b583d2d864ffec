"""The pool under load and the lifetime of streams: admission, queueing, dropped streams, listeners.

Streams run against the real replay server on 127.0.0.1 with the bundled Anthropic
recording (thinking, text and a tool call): in its own process for the load and the
descriptor counts (so that only the client's sockets are counted), in this one where
a test scripts the answers. The full-size load runs (1,000 async streams, 200
threads) live in benchmarks/load_concurrent_streams.py.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from support import bundled_registry, no_base_url_override, wire_model  # noqa: F401 - fixtures

import alchemy
from alchemy import emitter as emitter_module
from alchemy._pool import AsyncAdmission, SyncAdmission, Ticket
from alchemy.testing import Replay, ReplayServer
from alchemy.transport import TransportSettings, get_async_pool, get_sync_pool, pool_exhausted_message

API = "anthropic-messages"
KEY = "sk-" "pool-test-key-0123456789"  # fake, split so it never looks like a real key
CONTEXT = alchemy.Context(messages=[alchemy.UserMessage("What is the weather in Paris?")])


@pytest.fixture
def kernel_twins(monkeypatch: pytest.MonkeyPatch, event_buffer_cls: Any, json_delta_merger_cls: Any) -> None:
    """Both event buffers: neither may keep a dropped stream alive (the load tests run once)."""
    monkeypatch.setattr(emitter_module, "EventBuffer", event_buffer_cls)
    monkeypatch.setattr(emitter_module, "JsonDeltaMerger", json_delta_merger_cls)


twins = pytest.mark.usefixtures("kernel_twins")


@pytest.fixture(autouse=True)
def default_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALCHEMY_MAX_CONNECTIONS", "ALCHEMY_MAX_KEEPALIVE_CONNECTIONS", "ALCHEMY_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


@pytest.fixture(scope="module")
def server_process() -> Iterator[str]:
    """``python -m alchemy.testing serve`` in its own process (its sockets are not ours); yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "alchemy.testing", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield next(word for word in line.split() if word.startswith("http://"))
    finally:
        process.terminate()
        process.wait(30)


Served = ReplayServer | str


def model_for(server: Served) -> alchemy.Model:
    return wire_model(API, server if isinstance(server, str) else server.base_url_for(API))


def origin_of(server: Served) -> str:
    return server if isinstance(server, str) else server.base_url


def reference(server: Served) -> tuple[int, alchemy.AssistantMessage]:
    """The events and message of one stream of the recording, read alone."""
    with alchemy.stream(model_for(server), CONTEXT, api_key=KEY) as events:
        count = sum(1 for _ in events)
    message = events.result()
    assert message.stop_reason == "toolUse", message.error_message
    return count, message


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts descriptors in /proc/self/fd")


# -- admission queues ------------------------------------------------------------------


def test_sync_admission_is_fifo_and_hands_places_over() -> None:
    admission = SyncAdmission(1)
    assert admission.try_acquire() and not admission.try_acquire()
    order: list[int] = []
    tickets = [Ticket() for _ in range(3)]

    def wait(index: int) -> None:
        assert admission.wait(tickets[index], 30)
        order.append(index)
        admission.release()

    threads = []
    for index in range(3):
        threads.append(threading.Thread(target=wait, args=(index,)))
        threads[-1].start()
        while admission.waiting < index + 1:  # queue them in a known order
            threading.Event().wait(0.001)
    admission.release()
    for thread in threads:
        thread.join(30)
    assert order == [0, 1, 2]
    assert admission.free == 1 and admission.waiting == 0


def test_sync_admission_wait_ends_on_wake_or_timeout_without_a_place() -> None:
    admission = SyncAdmission(1)
    assert admission.try_acquire()
    ticket = Ticket()
    ticket.wake()
    assert admission.wait(ticket, 30) is False
    assert admission.wait(Ticket(), 0.01) is False
    assert admission.waiting == 0
    admission.release()
    assert admission.free == 1


def test_async_admission_is_fifo_and_skips_cancelled_waiters() -> None:
    async def run() -> list[str]:
        admission = AsyncAdmission(1)
        assert await admission.acquire(30)
        order: list[str] = []

        async def take(name: str) -> None:
            if await admission.acquire(30):
                order.append(name)
                admission.release()

        first = asyncio.ensure_future(take("first"))
        cancelled = asyncio.ensure_future(take("cancelled"))
        last = asyncio.ensure_future(take("last"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
        admission.release()
        await asyncio.gather(first, last)
        assert await admission.acquire(0.01) and not await admission.acquire(0.01)  # timed out: no place
        admission.release()
        assert admission.free == 1
        return order

    assert asyncio.run(run()) == ["first", "last"]


def test_pool_wait_defaults_to_the_overall_timeout_not_the_connect_timeout() -> None:
    settings = TransportSettings.resolve(timeout=42, connect_timeout=1)
    assert settings.pool_timeout == 42 and settings.httpx_timeout().pool == 42
    assert TransportSettings.resolve(env={"ALCHEMY_TIMEOUT": "7"}).pool_timeout == 7


def test_pool_exhausted_message_names_the_limit_and_the_variable() -> None:
    text = pool_exhausted_message("Anthropic", "http://127.0.0.1:1", 100, 600)
    assert "all 100 connections" in text and "ALCHEMY_MAX_CONNECTIONS=100" in text and "600 s" in text


# -- load --------------------------------------------------------------------------------


def test_300_concurrent_async_streams_with_the_default_pool_all_complete(server_process: str) -> None:
    """Three times the default pool (100) on one loop: the rest queue, none fails or loses an event."""
    count, expected = reference(server_process)
    model = model_for(server_process)

    async def one() -> tuple[int, alchemy.AssistantMessage]:
        seen = 0
        async with alchemy.astream(model, CONTEXT, api_key=KEY) as events:
            async for _ in events:
                seen += 1
        return seen, await events.result()

    async def run() -> list[tuple[int, alchemy.AssistantMessage]]:
        return await asyncio.gather(*(one() for _ in range(300)))

    results = asyncio.run(run())
    assert {message.error_message for _, message in results} == {None}
    assert {seen for seen, _ in results} == {count}
    assert all(message.content == expected.content for _, message in results)


def test_60_sync_threads_queue_for_a_pool_of_20(server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams that last longer than the connect timeout: a queued request waits for its turn anyway."""
    monkeypatch.setenv("ALCHEMY_MAX_CONNECTIONS", "20")
    count, expected = reference(server)
    server.default = Replay(delay=0.02)  # 29 paced events: each holds its connection longer than connect_timeout
    model = model_for(server)
    results: list[tuple[int, alchemy.AssistantMessage]] = []
    lock = threading.Lock()

    def one() -> None:
        with alchemy.stream(model, CONTEXT, api_key=KEY, connect_timeout=0.5) as events:
            seen = sum(1 for _ in events)
        with lock:
            results.append((seen, events.result()))

    threads = [threading.Thread(target=one) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 60
    assert {message.error_message for _, message in results} == {None}
    assert {seen for seen, _ in results} == {count}
    assert all(message.content == expected.content for _, message in results)


def test_a_request_that_waits_beyond_the_overall_timeout_names_the_limit(
    server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALCHEMY_MAX_CONNECTIONS", "1")
    model = model_for(server)
    with alchemy.stream(model, CONTEXT, api_key=KEY) as holder:
        next(holder)  # holds the only connection
        message = alchemy.complete(model, CONTEXT, api_key=KEY, timeout=0.3, max_retries=0)
    assert message.stop_reason == "error"
    assert "ALCHEMY_MAX_CONNECTIONS=1" in (message.error_message or "")
    assert "all 1 connections" in (message.error_message or "")
    assert alchemy.complete(model, CONTEXT, api_key=KEY).stop_reason == "toolUse"  # the place came back


# -- dropped streams -----------------------------------------------------------------------


def sync_pool_of(server: Served) -> Any:
    return get_sync_pool(origin_of(server), KEY, TransportSettings.resolve())


def busy_connections(client: Any) -> int:
    """Connections of an httpx client's pool that are not idle (in use, or being opened)."""
    return sum(1 for connection in client._transport._pool.connections if not connection.is_idle())


@twins
@linux_only
def test_500_sync_streams_dropped_after_next_release_their_connections(server_process: str) -> None:
    count, _ = reference(server_process)
    pool = sync_pool_of(server_process)
    baseline = open_descriptors()
    model = model_for(server_process)
    for _ in range(500):  # five times the pool: every place must come back
        events = alchemy.stream(model, CONTEXT, api_key=KEY)
        assert next(events).type == "start"
        del events
    gc.collect()
    assert open_descriptors() <= baseline
    assert pool.admission.free == pool.admission.limit and pool.admission.waiting == 0
    assert busy_connections(pool.client) == 0
    with alchemy.stream(model, CONTEXT, api_key=KEY) as events:
        assert sum(1 for _ in events) == count


@twins
@linux_only
def test_500_async_streams_dropped_after_anext_release_their_connections(server_process: str) -> None:
    count, _ = reference(server_process)
    model = model_for(server_process)

    async def run() -> tuple[int, int, int, int, int]:
        async with alchemy.astream(model, CONTEXT, api_key=KEY) as warm:  # the loop's client exists
            async for _ in warm:
                pass
        pool = get_async_pool(origin_of(server_process), KEY, TransportSettings.resolve())
        baseline = open_descriptors()
        for _ in range(500):
            events = alchemy.astream(model, CONTEXT, api_key=KEY)
            assert (await events.__anext__()).type == "start"
            del events
        gc.collect()
        for _ in range(500):  # the finalisers close the sources in tasks on this loop
            if pool.admission.free == pool.admission.limit and busy_connections(pool.client) == 0:
                break
            await asyncio.sleep(0.01)
        free, busy, descriptors = pool.admission.free, busy_connections(pool.client), open_descriptors()
        async with alchemy.astream(model, CONTEXT, api_key=KEY) as events:
            seen = sum([1 async for _ in events])
        return baseline, descriptors, free - pool.admission.limit, busy, seen

    baseline, descriptors, missing, busy, seen = asyncio.run(run())
    assert descriptors <= baseline and missing == 0 and busy == 0
    assert seen == count


@twins
def test_a_stream_dropped_unread_is_collected_and_leaves_no_listener(server: ReplayServer) -> None:
    controller = alchemy.AbortController()
    model = model_for(server)
    refs = []
    for _ in range(100):
        events = alchemy.stream(model, CONTEXT, api_key=KEY, signal=controller.signal)
        refs.append((weakref.ref(events), weakref.ref(events._source)))  # the source holds the emitter
        del events
    gc.collect()
    assert all(ref() is None for group in refs for ref in group)
    assert controller.signal._listeners == []
    assert not server.requests  # never iterated: nothing was sent


@twins
def test_a_stream_dropped_mid_body_is_collected_without_gc(server: ReplayServer) -> None:
    """The buffer reaches its stream weakly: no cycle, so refcounting frees it at once."""
    gc.disable()
    try:
        events = alchemy.stream(model_for(server), CONTEXT, api_key=KEY)
        next(events)
        source = weakref.ref(events._source)
        stream = weakref.ref(events)
        del events
        assert stream() is None and source() is None
    finally:
        gc.enable()


@twins
def test_async_stream_dropped_mid_body_is_closed_on_its_loop(server: ReplayServer) -> None:
    async def run() -> tuple[bool, int]:
        controller = alchemy.AbortController()
        events = alchemy.astream(model_for(server), CONTEXT, api_key=KEY, signal=controller.signal)
        await events.__anext__()
        source: Any = events._source
        del events
        for _ in range(200):
            if source._closed:
                break
            await asyncio.sleep(0.01)
        return source._closed, len(controller.signal._listeners)

    closed, listeners = asyncio.run(run())
    assert closed and listeners == 0


def test_streams_that_end_remove_their_abort_listeners(server: ReplayServer) -> None:
    controller = alchemy.AbortController()
    model = model_for(server)
    for _ in range(3):
        assert alchemy.complete(model, CONTEXT, api_key=KEY, signal=controller.signal).stop_reason == "toolUse"

    async def run() -> None:
        await alchemy.acomplete(model, CONTEXT, api_key=KEY, signal=controller.signal)

    asyncio.run(run())
    assert controller.signal._listeners == []


def test_weak_listeners_go_with_their_object() -> None:
    class Owner:
        def __init__(self) -> None:
            self.calls = 0

        def listener(self) -> None:
            self.calls += 1

    controller = alchemy.AbortController()
    kept, dropped = Owner(), Owner()
    controller.signal.add_listener(kept.listener, weak=True)
    controller.signal.add_listener(dropped.listener, weak=True)
    del dropped
    gc.collect()
    controller.abort()
    assert kept.calls == 1
    with pytest.raises(TypeError, match="weak must be a bool"):
        alchemy.AbortController().signal.add_listener(kept.listener, weak=1)  # type: ignore[arg-type]
