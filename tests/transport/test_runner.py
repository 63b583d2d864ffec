"""The HTTP runner: retries, timeouts, faults, abort, metrics, secrets.

A minimal provider defined here (it reads Chat-Completions-shaped chunks and knows
nothing else) drives the runner against the real replay server on 127.0.0.1, so
these tests exercise the transport alone; the real providers have their own tests.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

import alchemy
from alchemy.api_registry import register_api, unregister_api
from alchemy.emitter import EventEmitter
from alchemy.errors import ProviderStreamError, StreamInterruptedError
from alchemy.providers.base import HttpProvider, SSEParser
from alchemy.streaming import StreamOptions
from alchemy.testing import Drop, ErrorEvent, HttpError, InvalidUtf8, MalformedJson, Replay, ReplayServer, Stall
from alchemy.request import HttpRequest
from alchemy.types import Context, Model, UserMessage

API = "runner-test"
KEY = "sk-" "runner-test-secret-0123456789"  # fake, split so it never looks like a real key


class ChunkParser(SSEParser):
    """Text deltas and finish_reason of Chat-Completions chunks; ``[DONE]`` ends."""

    __slots__ = ("finished",)

    def __init__(self, emitter: EventEmitter) -> None:
        super().__init__(emitter)
        self.finished = False

    def on_event(self, event: str, data: bytes) -> None:
        if data == b"[DONE]":
            self.finished = True
            self.emitter.done()
            return
        chunk = orjson.loads(data)
        if "error" in chunk:
            error = chunk["error"]
            raise ProviderStreamError(str(error.get("message")), retryable=error.get("type") == "overloaded")
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                self.emitter.text_delta(text)

    def finish(self) -> None:
        if not self.finished:
            raise StreamInterruptedError("runner-test: the stream ended before [DONE]")


class RunnerTestProvider(HttpProvider):
    api = API
    label = "RunnerTest"

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        key = options.api_key or KEY
        return HttpRequest(
            "POST",
            f"{self.base_url(model)}/chat/completions",
            self.headers(model, options, {"authorization": f"Bearer {key}"}),
            {"model": model.id, "messages": [{"role": "user", "content": "hi"}], "stream": True},
            secrets=(key,),
        )

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> ChunkParser:
        return ChunkParser(emitter)


def chunk(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


WORDS = [f"word{i} " for i in range(12)]
RECORDING = [chunk(w) for w in WORDS] + [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
FULL_TEXT = "".join(WORDS)


@pytest.fixture(autouse=True)
def provider() -> Iterator[RunnerTestProvider]:
    instance = RunnerTestProvider()
    register_api(API, instance)
    yield instance
    unregister_api(API)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.default = Replay(RECORDING, api="openai-completions")
        yield replay


def model_for(server: ReplayServer) -> Model:
    return Model(id="m", name="m", api=API, provider="runner-test", base_url=server.base_url_for("openai-completions"))


CONTEXT = Context(messages=[UserMessage("hi")])
FAST = {"max_retry_delay": 0.05}


def test_streams_text_and_fills_metrics(server: ReplayServer) -> None:
    message = alchemy.complete(model_for(server), CONTEXT, **FAST)
    assert message.stop_reason == "stop", message.error_message
    assert message.text == FULL_TEXT
    metrics = message.metrics
    assert metrics is not None
    assert metrics.time_to_first_byte is not None and metrics.time_to_first_content is not None
    assert metrics.duration is not None and metrics.duration >= metrics.time_to_first_content
    assert metrics.bytes_received > 0 and metrics.chunks >= 1 and metrics.events >= len(WORDS) + 2
    assert metrics.retries == 0


def test_async_streams_text(server: ReplayServer) -> None:
    async def run() -> alchemy.AssistantMessage:
        return await alchemy.acomplete(model_for(server), CONTEXT, **FAST)

    message = asyncio.run(run())
    assert message.text == FULL_TEXT and message.stop_reason == "stop"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_429_with_retry_after_is_retried(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay.http_error(429, retry_after=0.01, api="openai-completions"))
    message = run_mode(mode, model_for(server), max_retry_delay=1.0)
    assert message.text == FULL_TEXT
    assert len(server.requests) == 2
    assert message.metrics is not None and message.metrics.retries == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_each_retried_try_is_recorded_on_the_metrics(server: ReplayServer, mode: str) -> None:
    server.enqueue(
        Replay.http_error(429, retry_after=0, api="openai-completions"),
        Replay(RECORDING, api="openai-completions", faults=[Drop(before_headers=True)]),
        Replay.http_error(503, retry_after=0, api="openai-completions"),
    )
    message = run_mode(mode, model_for(server), max_retries=3, max_retry_delay=1.0)
    assert message.text == FULL_TEXT and len(server.requests) == 4
    metrics = message.metrics
    assert metrics is not None and metrics.retries == 3
    assert [(failed.error_kind, failed.status) for failed in metrics.tries] == [
        ("rate_limit", 429),
        ("connection", None),
        ("overloaded", 503),
    ]
    # On the metrics' clock, one after the other, all before the answering try's headers.
    times = [moment for failed in metrics.tries for moment in (failed.started_at, failed.ended_at)]
    assert times == sorted(times) and times[0] >= 0
    assert metrics.time_to_first_byte is not None and times[-1] <= metrics.time_to_first_byte
    assert metrics.to_dict()["tries"][0] == {
        "startedAt": times[0],
        "endedAt": times[1],
        "errorKind": "rate_limit",
        "status": 429,
    }


def test_a_try_that_is_not_retried_is_not_in_the_tries(server: ReplayServer) -> None:
    server.enqueue(*(Replay.http_error(500, api="openai-completions") for _ in range(2)))
    message = alchemy.complete(model_for(server), CONTEXT, max_retries=1, max_retry_delay=0.01)
    assert message.stop_reason == "error" and len(server.requests) == 2
    assert message.metrics is not None and message.metrics.retries == 1
    assert [failed.status for failed in message.metrics.tries] == [500]


def test_retry_after_ms_is_honoured(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(503, retry_after_ms=5, api="openai-completions"))
    message = alchemy.complete(model_for(server), CONTEXT, max_retry_delay=1.0)
    assert message.text == FULL_TEXT and len(server.requests) == 2


def test_requested_wait_beyond_max_retry_delay_fails_at_once(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(429, retry_after=30, message="slow down", api="openai-completions"))
    started = time.monotonic()
    message = alchemy.complete(model_for(server), CONTEXT, max_retry_delay=2)
    assert time.monotonic() - started < 15  # failed at once instead of waiting 30 s
    assert message.stop_reason == "error"
    assert "429" in (message.error_message or "") and "30.0 s" in (message.error_message or "")
    assert len(server.requests) == 1


def test_5xx_gives_up_after_max_retries_with_status_and_provider_message(server: ReplayServer) -> None:
    for _ in range(3):
        server.enqueue(Replay.http_error(500, message="the backend fell over", api="openai-completions"))
    message = alchemy.complete(model_for(server), CONTEXT, max_retries=2, max_retry_delay=0.01)
    assert message.stop_reason == "error"
    text = message.error_message or ""
    assert "RunnerTest HTTP 500" in text and "the backend fell over" in text
    assert len(server.requests) == 3


def test_client_errors_are_not_retried_and_never_show_the_key(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(401, message=f"invalid key {KEY}", api="openai-completions"))
    message = alchemy.complete(model_for(server), CONTEXT, api_key=KEY, **FAST)
    assert message.stop_reason == "error"
    assert KEY not in (message.error_message or "") and "401" in (message.error_message or "")
    assert len(server.requests) == 1


def test_request_id_header_is_in_the_error(server: ReplayServer) -> None:
    server.enqueue(
        Replay(api="openai-completions", faults=[HttpError(400, message="bad", headers={"x-request-id": "req_42"})])
    )
    message = alchemy.complete(model_for(server), CONTEXT, **FAST)
    assert "req_42" in (message.error_message or "")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_drop_after_content_ends_with_error_keeping_the_text(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", faults=[Drop(after_events=5)]))
    message = run_mode(mode, model_for(server), **FAST)
    assert message.stop_reason == "error"
    assert message.text == "".join(WORDS[:5])
    assert len(server.requests) == 1  # content had reached the consumer: never retried


def test_drop_before_any_content_is_retried(server: ReplayServer) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", faults=[Drop(after_events=0)]))
    message = alchemy.complete(model_for(server), CONTEXT, **FAST)
    assert message.text == FULL_TEXT and len(server.requests) == 2


def test_no_retry_once_content_reached_the_consumer(server: ReplayServer) -> None:
    # Everything arrives in one network chunk, so the consumer has seen nothing when
    # the in-stream error is parsed: that case is retried (next test). Here the
    # consumer reads text first, then the error arrives in a later chunk.
    server.enqueue(
        Replay(
            RECORDING,
            api="openai-completions",
            delay=0.01,
            faults=[ErrorEvent(after_events=3, message="overloaded now", error_type="overloaded")],
        )
    )
    with alchemy.stream(model_for(server), CONTEXT, **FAST) as events:
        seen = [event for event in events]
    final = events.result()
    assert final.stop_reason == "error" and "overloaded now" in (final.error_message or "")
    assert final.text == "".join(WORDS[:3])
    assert seen[-1].type == "error"
    assert len(server.requests) == 1


def test_in_stream_retryable_error_before_content_is_retried(server: ReplayServer) -> None:
    server.enqueue(
        Replay(RECORDING, api="openai-completions", faults=[ErrorEvent(after_events=0, error_type="overloaded")])
    )
    message = alchemy.complete(model_for(server), CONTEXT, **FAST)
    assert message.stop_reason == "stop" and message.text == FULL_TEXT
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stall_mid_stream_ends_with_error_keeping_the_text(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", delay=0.005, faults=[Stall(30.0, after_events=4)]))
    started = time.monotonic()
    message = run_mode(mode, model_for(server), idle_timeout=0.3, max_retries=0)
    assert time.monotonic() - started < 15  # the idle timeout, not the 30 s stall, ended it
    assert message.stop_reason == "error" and "stalled" in (message.error_message or "")
    assert message.text == "".join(WORDS[:4])


def test_first_byte_timeout(server: ReplayServer) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", faults=[Stall(30.0, before_headers=True)]))
    message = alchemy.complete(model_for(server), CONTEXT, first_byte_timeout=0.3, max_retries=0)
    assert message.stop_reason == "error" and "first_byte_timeout" in (message.error_message or "")


def test_malformed_json_chunk_ends_with_a_clear_error(server: ReplayServer) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", delay=0.005, faults=[MalformedJson(after_events=3)]))
    with alchemy.stream(model_for(server), CONTEXT, max_retries=0) as events:
        for _ in events:
            pass
    message = events.result()
    assert message.stop_reason == "error" and "not valid JSON" in (message.error_message or "")
    assert message.text == "".join(WORDS[:3])


def test_invalid_utf8_ends_with_a_clear_error(server: ReplayServer) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", delay=0.005, faults=[InvalidUtf8(after_events=2)]))
    with alchemy.stream(model_for(server), CONTEXT, max_retries=0) as events:
        for _ in events:
            pass
    message = events.result()
    assert message.stop_reason == "error" and "UTF-8" in (message.error_message or "")
    assert message.text == "".join(WORDS[:2])


def test_connect_error_is_retried_then_reported() -> None:
    with ReplayServer() as replay:
        url = replay.base_url_for("openai-completions")
    # The server is gone: nothing listens on that port any more.
    model = Model(id="m", name="m", api=API, provider="runner-test", base_url=url)
    message = alchemy.complete(model, CONTEXT, max_retries=1, max_retry_delay=0.01, connect_timeout=1)
    assert message.stop_reason == "error" and "could not connect" in (message.error_message or "")
    assert message.metrics is not None and message.metrics.retries == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_abort_from_another_thread_during_a_stall(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", delay=0.005, faults=[Stall(30.0, after_events=3)]))
    controller = alchemy.AbortController()
    timer = threading.Timer(0.4, controller.abort)
    timer.start()
    started = time.monotonic()
    try:
        message = run_mode(mode, model_for(server), signal=controller.signal, max_retries=0)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15  # far below the 30 s stall: the abort cut it short
    assert message.stop_reason == "aborted"
    assert message.text == "".join(WORDS[:3])


def test_abort_during_retry_wait(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(429, retry_after=30, api="openai-completions"))
    controller = alchemy.AbortController()
    timer = threading.Timer(0.3, controller.abort)
    timer.start()
    started = time.monotonic()
    try:
        message = alchemy.complete(model_for(server), CONTEXT, signal=controller.signal, max_retry_delay=60)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15  # not the 30 s the server asked for
    assert message.stop_reason == "aborted"


def test_breaking_out_closes_the_response(server: ReplayServer) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", delay=0.01))
    with alchemy.stream(model_for(server), CONTEXT) as events:
        for event in events:
            if event.type == "text_delta":
                break
    final = events.result()
    assert final.stop_reason == "aborted" and final.text == WORDS[0]


def test_on_payload_replaces_the_body(server: ReplayServer) -> None:
    def hook(body: dict[str, Any], model: Model) -> dict[str, Any]:
        return {**body, "seed": 7}

    alchemy.complete(model_for(server), CONTEXT, on_payload=hook)
    assert server.requests[-1].json["seed"] == 7


def test_async_on_payload_may_be_a_coroutine(server: ReplayServer) -> None:
    async def hook(body: dict[str, Any], model: Model) -> dict[str, Any]:
        return {**body, "user": "u1"}

    async def run() -> None:
        await alchemy.acomplete(model_for(server), CONTEXT, on_payload=hook)

    asyncio.run(run())
    assert server.requests[-1].json["user"] == "u1"


def test_sync_stream_rejects_an_async_payload_hook(server: ReplayServer) -> None:
    async def hook(body: dict[str, Any], model: Model) -> None:
        return None

    message = alchemy.complete(model_for(server), CONTEXT, on_payload=hook)
    assert message.stop_reason == "error" and "astream" in (message.error_message or "")
    assert not server.requests


def test_caller_headers_win_and_user_client_is_used(server: ReplayServer) -> None:
    seen: list[str] = []

    def log(request: httpx.Request) -> None:
        seen.append(str(request.url))

    with httpx.Client(event_hooks={"request": [log]}) as client:
        message = alchemy.complete(model_for(server), CONTEXT, client=client, headers={"X-Trace": "abc"})
    assert message.stop_reason == "stop"
    assert seen and seen[0].endswith("/chat/completions")
    assert server.requests[-1].headers.get("x-trace") == "abc"


def test_wrong_client_type_raises_at_the_call(server: ReplayServer) -> None:
    async def run() -> alchemy.AssistantMessage:
        with httpx.Client() as sync_client:
            return await alchemy.acomplete(model_for(server), CONTEXT, client=sync_client)

    before = len(server.requests)
    with pytest.raises(TypeError, match="option client must be an httpx.AsyncClient, got Client"):
        asyncio.run(run())
    assert len(server.requests) == before


def test_base_url_override(server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", server.base_url_for("openai-completions"))
    model = Model(id="m", name="m", api=API, provider="runner-test", base_url="https://unreachable.invalid/v1")
    assert alchemy.complete(model, CONTEXT).text == FULL_TEXT


def test_key_never_in_the_request_repr() -> None:
    request = HttpRequest("POST", "https://x/v1", {"authorization": f"Bearer {KEY}"}, {}, secrets=(KEY,))
    assert KEY not in repr(request)


def run_mode(mode: str, model: Model, **options: Any) -> alchemy.AssistantMessage:
    if mode == "sync":
        return alchemy.complete(model, CONTEXT, **options)

    async def run() -> alchemy.AssistantMessage:
        return await alchemy.acomplete(model, CONTEXT, **options)

    return asyncio.run(run())


def test_many_concurrent_async_streams_on_one_loop(server: ReplayServer) -> None:
    """A smaller-scale version of the 1,000-stream load benchmark: every event arrives."""
    server.default = Replay(RECORDING, api="openai-completions", chunking="bytes=64")
    model = model_for(server)

    async def one() -> tuple[int, str]:
        count = 0
        async with alchemy.astream(model, CONTEXT, max_retries=0) as events:
            async for _ in events:
                count += 1
        return count, (await events.result()).text

    async def run() -> list[tuple[int, str]]:
        return await asyncio.gather(*(one() for _ in range(100)))

    results = asyncio.run(run())
    assert all(text == FULL_TEXT for _, text in results)
    assert {count for count, _ in results} == {len(WORDS) + 4}  # start, text_start, deltas, text_end, done
    assert len(server.requests) == 100


def test_breaking_out_of_a_plain_for_loop_closes_the_response(server: ReplayServer) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", delay=0.01))
    events = alchemy.stream(model_for(server), CONTEXT)
    for event in events:
        if event.type == "text_delta":
            break
    assert events._source is None  # released at once, though `events` is still referenced
    final = events.result()
    assert final.stop_reason == "aborted" and final.text == WORDS[0]


def test_breaking_out_of_async_for_closes_the_response(server: ReplayServer) -> None:
    server.enqueue(Replay(RECORDING, api="openai-completions", delay=0.01))

    async def run() -> tuple[bool, alchemy.AssistantMessage]:
        events = alchemy.astream(model_for(server), CONTEXT)
        async for event in events:
            if event.type == "text_delta":
                break
        for _ in range(50):  # asyncio finalizes the abandoned loop generator on its next turns
            if events._source is None:
                break
            await asyncio.sleep(0.01)
        return events._source is None, await events.result()

    released, final = asyncio.run(run())
    assert released
    assert final.stop_reason == "aborted" and final.text == WORDS[0]


def test_process_default_cache_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    from alchemy.providers.base import resolve_cache_retention

    monkeypatch.delenv("ALCHEMY_CACHE_RETENTION", raising=False)
    assert resolve_cache_retention(StreamOptions()) == "short"
    monkeypatch.setenv("ALCHEMY_CACHE_RETENTION", "LONG")
    assert resolve_cache_retention(StreamOptions()) == "long"
    assert resolve_cache_retention(StreamOptions(cache_retention="none")) == "none"  # the option wins
    monkeypatch.setenv("ALCHEMY_CACHE_RETENTION", "forever")
    with pytest.raises(ValueError, match="ALCHEMY_CACHE_RETENTION"):
        resolve_cache_retention(StreamOptions())
