"""Abort before the response headers: a server that accepts and never answers, one that never accepts.

Loopback only: the first is a listening socket whose connections are accepted and
left unanswered; the second is a listening socket with a full backlog, so a new
connect gets no answer at all. The timeouts are set far above the abort (30 s), and
each test asserts the stream ended ``aborted`` well before them; the latency itself
is measured in benchmarks/abort_latency.py (the target is under 50 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support import bundled_registry, no_base_url_override, wire_model  # noqa: F401 - fixtures

import alchemy
from alchemy import emitter as emitter_module
from alchemy.transport import TransportSettings, get_async_pool, get_sync_pool

API = "openai-completions"
KEY = "sk-" "abort-test-key-0123456789"  # fake, split so it never looks like a real key
CONTEXT = alchemy.Context(messages=[alchemy.UserMessage("hi")])
PATIENT: dict[str, Any] = {"api_key": KEY, "max_retries": 0, "connect_timeout": 30, "timeout": 30}
"""Every timeout far above the abort: only the abort can end these streams early."""
WELL_UNDER = 10.0
"""Seconds: a stream the abort ended returns far below the 30 s timeouts even on a slow machine."""


@pytest.fixture(autouse=True)
def kernel_twins(monkeypatch: pytest.MonkeyPatch, event_buffer_cls: Any, json_delta_merger_cls: Any) -> None:
    monkeypatch.setattr(emitter_module, "EventBuffer", event_buffer_cls)
    monkeypatch.setattr(emitter_module, "JsonDeltaMerger", json_delta_merger_cls)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """Accepts every connection and never answers; yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        listener.shutdown(socket.SHUT_RDWR) if hasattr(socket, "SHUT_RDWR") else None
        listener.close()
        thread.join(5)
        for connection in accepted:
            connection.close()


def _connect_pending(address: tuple[str, int]) -> tuple[socket.socket, bool]:
    """A non-blocking connect to ``address``; whether it is still pending after 0.2 s."""
    sock = socket.socket()
    sock.setblocking(False)
    sock.connect_ex(address)
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        return sock, not selector.select(0.2)


@contextlib.contextmanager
def unanswered_port() -> Iterator[str]:
    """A listening socket that never accepts, its backlog full: a new connect hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers: list[socket.socket] = []
    try:
        for _ in range(16):
            sock, pending = _connect_pending(address)
            fillers.append(sock)
            if pending:
                break
        else:
            pytest.skip("this system completes every loopback connect: no full backlog to test against")
        yield f"http://127.0.0.1:{address[1]}/v1"
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


SERVERS = {"accepts-never-answers": silent_server, "never-accepts": unanswered_port}


def run(mode: str, model: alchemy.Model, abort_after: float, **options: Any) -> tuple[alchemy.AssistantMessage, float]:
    """One stream aborted from another thread ``abort_after`` seconds in; its message and how long it took."""
    controller = alchemy.AbortController()
    timer = threading.Timer(abort_after, controller.abort)
    started = time.monotonic()
    timer.start()
    try:
        if mode == "sync":
            message = alchemy.complete(model, CONTEXT, signal=controller.signal, **options)
        else:

            async def main() -> alchemy.AssistantMessage:
                return await alchemy.acomplete(model, CONTEXT, signal=controller.signal, **options)

            message = asyncio.run(main())
    finally:
        timer.cancel()
    return message, time.monotonic() - started


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", list(SERVERS))
def test_abort_before_headers_ends_aborted_at_once(kind: str, mode: str) -> None:
    with SERVERS[kind]() as url:
        message, took = run(mode, wire_model(API, url), 0.3, **PATIENT)
    assert message.stop_reason == "aborted", message.error_message
    assert message.error is not None and message.error.kind == "aborted"
    assert took < WELL_UNDER


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_abort_from_the_same_loop_before_headers(mode: str) -> None:
    """An abort from another task of the loop (async) or the consuming thread's timer (sync)."""
    with silent_server() as url:
        model = wire_model(API, url)
        if mode == "sync":
            message, took = run("sync", model, 0.2, **PATIENT)
        else:

            async def main() -> tuple[alchemy.AssistantMessage, float]:
                controller = alchemy.AbortController()
                asyncio.get_running_loop().call_later(0.2, controller.abort)
                started = time.monotonic()
                result = await alchemy.acomplete(model, CONTEXT, signal=controller.signal, **PATIENT)
                return result, time.monotonic() - started

            message, took = asyncio.run(main())
    assert message.stop_reason == "aborted" and took < WELL_UNDER


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_abort_while_waiting_for_a_pool_place(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one connection is held by a stream that never gets an answer; the queued request is aborted."""
    monkeypatch.setenv("ALCHEMY_MAX_CONNECTIONS", "1")
    with silent_server() as url:
        model = wire_model(API, url)
        holder = alchemy.AbortController()

        def hold() -> None:
            alchemy.complete(model, CONTEXT, signal=holder.signal, **PATIENT)

        if mode == "sync":
            thread = threading.Thread(target=hold)
            thread.start()
            time.sleep(0.2)  # the holder takes the place first
            message, took = run("sync", model, 0.2, **PATIENT)
            holder.abort()
            thread.join(WELL_UNDER)
            assert not thread.is_alive()
        else:

            async def main() -> tuple[alchemy.AssistantMessage, float]:
                held = asyncio.ensure_future(alchemy.acomplete(model, CONTEXT, signal=holder.signal, **PATIENT))
                await asyncio.sleep(0.2)
                controller = alchemy.AbortController()
                asyncio.get_running_loop().call_later(0.2, controller.abort)
                started = time.monotonic()
                result = await alchemy.acomplete(model, CONTEXT, signal=controller.signal, **PATIENT)
                took = time.monotonic() - started
                holder.abort()
                assert (await held).stop_reason == "aborted"
                return result, took

            message, took = asyncio.run(main())
    assert message.stop_reason == "aborted" and took < WELL_UNDER


def test_the_pool_is_whole_after_aborts_before_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Aborted attempts give their places and connections back: ten aborts in a row on a pool of 2."""
    monkeypatch.setenv("ALCHEMY_MAX_CONNECTIONS", "2")
    settings = TransportSettings.resolve()
    with silent_server() as url:
        model = wire_model(API, url)
        origin = url.removesuffix("/v1")
        for _ in range(10):
            assert run("sync", model, 0.05, **PATIENT)[0].stop_reason == "aborted"
        pool = get_sync_pool(origin, KEY, settings)
        assert pool.admission.free == 2 and busy_connections(pool.client) == 0

        async def main() -> tuple[int, int]:
            for _ in range(10):
                controller = alchemy.AbortController()
                asyncio.get_running_loop().call_later(0.05, controller.abort)
                message = await alchemy.acomplete(model, CONTEXT, signal=controller.signal, **PATIENT)
                assert message.stop_reason == "aborted"
            await asyncio.sleep(0)
            pool = get_async_pool(origin, KEY, settings)
            return pool.admission.free, busy_connections(pool.client)

        assert asyncio.run(main()) == (2, 0)


def busy_connections(client: Any) -> int:
    return sum(1 for connection in client._transport._pool.connections if not connection.is_idle())
