"""alchemy.Client: held defaults, fallback chains and health checks, against the real replay server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

import alchemy
from alchemy import AssistantMessage, Attempt, Client, Context, Model, ThinkingContent, UserMessage
from alchemy.testing import Drop, ErrorEvent, Replay, ReplayServer, Stall
from policy_support import RedisServer, redis_server  # noqa: F401, F811 (fixture)
from support import bundled_registry, no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

COMPLETIONS = "openai-completions"
ANTHROPIC = "anthropic-messages"
RESPONSES = "openai-responses"
KEYS = {"groq": "groq-key-not-real", "anthropic": "anthropic-key-not-real", "openai": "openai-key-not-real"}
HI = Context(messages=[UserMessage("hi")])


@pytest.fixture
def server(replay_server: ReplayServer) -> ReplayServer:  # noqa: F811
    replay_server.reset()
    return replay_server


def models(server: ReplayServer, *apis: str, **changes: Any) -> list[Model]:
    return [wire_model(api, server.base_url_for(api), **changes) for api in apis]


def run(
    client: Client, chain: Any, mode: str, context: Context = HI, **options: Any
) -> tuple[list[str], AssistantMessage]:
    """Streams ``chain`` sync or async; returns the event types seen and the final message."""
    if mode == "sync":
        with client.stream(chain, context, **options) as events:
            types: list[str] = [event.type for event in events]
            return types, events.result()

    async def go() -> tuple[list[str], AssistantMessage]:
        async with client.astream(chain, context, **options) as events:
            types: list[str] = [event.type async for event in events]
            return types, await events.result()

    return asyncio.run(go())


MODES = ("sync", "async")

OVERFLOW = "prompt is too long: 250000 tokens > 200000 maximum"

# kind -> (the first model's answer, call options that make the failure quick)
FAILURES: dict[str, tuple[Replay, dict[str, Any]]] = {
    "rate_limit": (Replay.http_error(429, retry_after=0), {}),
    "overloaded": (Replay.http_error(503), {}),
    "server": (Replay.http_error(500), {}),
    "timeout": (Replay(faults=(Stall(0.5, before_headers=True),)), {"first_byte_timeout": 0.1}),
    "connection": (Replay(faults=(Drop(before_headers=True),)), {}),
    "context_overflow": (Replay.http_error(400, message=OVERFLOW), {}),
}


# --------------------------------------------------------------------------- fallbacks


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_a_failure_before_content_falls_over_to_the_next_model(server: ReplayServer, kind: str, mode: str) -> None:
    failure, options = FAILURES[kind]
    server.enqueue(failure, Replay())
    client = Client(api_keys=KEYS, max_retries=0)
    types, message = run(client, models(server, COMPLETIONS, ANTHROPIC), mode, **options)
    assert message.stop_reason != "error", message.error_message
    assert (message.provider, message.api) == ("anthropic", ANTHROPIC)
    assert types.count("start") == 1 and types[0] == "start" and types[-1] == "done"
    [attempt] = message.attempts
    assert (attempt.provider, attempt.model, attempt.error_kind) == ("groq", "llama-3.3-70b-versatile", kind)
    assert attempt.duration >= 0
    assert [request.path for request in server.requests] == ["/v1/chat/completions", "/v1/messages"]


ANTHROPIC_ERROR_TYPES = {"rate_limit": "rate_limit_error", "overloaded": "overloaded_error", "server": "api_error"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["rate_limit", "overloaded", "server", "connection"])
def test_a_failure_after_content_ends_the_stream_without_falling_over(
    server: ReplayServer, kind: str, mode: str
) -> None:
    # The first model streams some content, then fails: the consumer keeps that text, nothing is retried.
    fault: Any = Drop(after_events=4)
    if kind != "connection":
        fault = ErrorEvent(after_events=4, error_type=ANTHROPIC_ERROR_TYPES[kind], message="failed midway")
    server.enqueue(Replay(faults=(fault,)), Replay())
    client = Client(api_keys=KEYS, max_retries=0)
    types, message = run(client, models(server, ANTHROPIC, COMPLETIONS), mode)
    assert message.stop_reason == "error" and message.provider == "anthropic"
    assert message.error is not None and message.error.kind == kind
    assert types[0] == "start" and types[-1] == "error" and len(types) > 2
    assert message.content and message.attempts == ()
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_kind_outside_fallback_on_ends_the_stream(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay.http_error(401), Replay())
    types, message = run(Client(api_keys=KEYS, max_retries=0), models(server, COMPLETIONS, ANTHROPIC), mode)
    assert message.error is not None and message.error.kind == "auth"
    assert types == ["error"] and len(server.requests) == 1

    server.reset()
    server.enqueue(Replay.http_error(503), Replay())
    client = Client(api_keys=KEYS, max_retries=0, fallback_on=["rate_limit"])
    _, message = run(client, models(server, COMPLETIONS, ANTHROPIC), mode)
    assert message.error is not None and message.error.kind == "overloaded" and len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_when_every_model_fails_the_last_error_ends_the_stream_with_the_attempts(
    server: ReplayServer, mode: str
) -> None:
    server.enqueue(Replay.http_error(429), Replay.http_error(503), Replay.http_error(500))
    chain = models(server, COMPLETIONS, ANTHROPIC, RESPONSES)
    types, message = run(Client(api_keys=KEYS, max_retries=0), chain, mode)
    assert types == ["error"]
    assert message.stop_reason == "error" and message.provider == "openai"
    assert message.error is not None and message.error.kind == "server"
    assert [(a.provider, a.error_kind) for a in message.attempts] == [("groq", "rate_limit"), ("anthropic", "overloaded")]


@pytest.mark.parametrize("mode", MODES)
def test_context_overflow_skips_to_the_first_model_whose_window_fits(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay.http_error(400, message=OVERFLOW), Replay())
    long = Context(messages=[UserMessage("word " * 2000)])
    first, small, large = (
        wire_model(COMPLETIONS, server.base_url_for(COMPLETIONS), context_window=1000),
        wire_model(RESPONSES, server.base_url_for(RESPONSES), context_window=1000),
        wire_model(ANTHROPIC, server.base_url_for(ANTHROPIC), context_window=200_000),
    )
    _, message = run(Client(api_keys=KEYS, max_retries=0), [first, small, large], mode, context=long)
    assert message.provider == "anthropic" and message.stop_reason != "error"
    assert [a.error_kind for a in message.attempts] == ["context_overflow"]
    assert [request.path for request in server.requests] == ["/v1/chat/completions", "/v1/messages"]


def test_context_overflow_with_no_model_that_fits_ends_the_stream(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(400, message=OVERFLOW))
    long = Context(messages=[UserMessage("word " * 2000)])
    chain = [wire_model(api, server.base_url_for(api), context_window=500) for api in (COMPLETIONS, ANTHROPIC)]
    _, message = run(Client(api_keys=KEYS, max_retries=0), chain, "sync", context=long)
    assert message.error is not None and message.error.kind == "context_overflow" and len(server.requests) == 1


def test_fallbacks_given_to_the_client_extend_a_single_model(server: ReplayServer) -> None:
    first, second = models(server, COMPLETIONS, ANTHROPIC)
    server.enqueue(Replay.http_error(503), Replay())
    client = Client(api_keys=KEYS, max_retries=0, fallbacks={first.key: [second]})
    message = client.complete(first, HI)
    assert message.provider == "anthropic" and [a.error_kind for a in message.attempts] == ["overloaded"]


def test_the_handoff_shapes_the_context_for_each_target(server: ReplayServer) -> None:
    # An Anthropic thinking block with its signature: replayed to Anthropic as thinking,
    # to another vendor's API as plain text (or not at all), never with the signature.
    earlier = AssistantMessage(
        content=[ThinkingContent("I considered it.", thinking_signature="sig-abc"), alchemy.TextContent("Yes.")],
        api=ANTHROPIC,
        provider="anthropic",
        model="claude-sonnet-4-5",
    )
    context = Context(messages=[UserMessage("q"), earlier, UserMessage("and?")])
    server.enqueue(Replay.http_error(503), Replay())
    anthropic, completions = models(server, ANTHROPIC, COMPLETIONS)
    message = Client(api_keys=KEYS, max_retries=0).complete([anthropic, completions], context)
    assert message.provider == "groq"
    first, second = (request.json for request in server.requests)
    assert first["messages"][1]["content"][0] == {"type": "thinking", "thinking": "I considered it.", "signature": "sig-abc"}
    assert "sig-abc" not in str(second) and second["messages"][1]["role"] == "assistant"


def test_the_attempts_survive_the_json_round_trip() -> None:
    message = AssistantMessage(api=ANTHROPIC, provider="anthropic", model="m", attempts=(Attempt("groq", "x", "server", 0.5),))
    data = message.to_dict()
    assert data["attempts"] == [{"provider": "groq", "model": "x", "errorKind": "server", "duration": 0.5}]
    assert AssistantMessage.from_dict(data).attempts == message.attempts
    assert "attempts" not in AssistantMessage(api=ANTHROPIC, provider="anthropic", model="m").to_dict()
    with pytest.raises(TypeError, match="attempts"):
        AssistantMessage(api=ANTHROPIC, provider="anthropic", model="m", attempts=[1])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the stream object


def test_nothing_is_sent_until_the_first_event_is_wanted(server: ReplayServer) -> None:
    client = Client(api_keys=KEYS)
    events = client.stream(models(server, COMPLETIONS, ANTHROPIC), HI)
    assert server.requests == [] and not events.finished
    events.close()
    assert events.result().stop_reason == "aborted" and server.requests == []


def test_next_and_result_work_like_a_bare_stream(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(503), Replay())
    events = Client(api_keys=KEYS, max_retries=0).stream(models(server, COMPLETIONS, ANTHROPIC), HI)
    assert next(events).type == "start"
    assert events.model.provider == "anthropic" and "anthropic" in repr(events)
    message = events.result()
    assert events.finished and events.partial is message and message.stop_reason == "toolUse"


def test_breaking_out_of_the_loop_closes_the_stream(server: ReplayServer) -> None:
    events = Client(api_keys=KEYS).stream(models(server, COMPLETIONS), HI)
    for event in events:
        if event.type == "thinking_delta" or event.type == "text_delta":
            break
    assert events.result().stop_reason == "aborted"


# --------------------------------------------------------------------------- defaults


def test_defaults_reach_every_request(server: ReplayServer) -> None:
    anthropic = wire_model(ANTHROPIC, "http://127.0.0.1:9")  # the Client's base URL replaces this one
    with httpx.Client() as http:
        client = Client(
            api_keys=KEYS,
            base_urls={"anthropic": server.base_url_for(ANTHROPIC)},
            headers={"x-team": "core", "x-call": "default"},
            timeout=30,
            http_client=http,
            options={"temperature": 0.25, "service_tier": "flex", "max_tokens": 77},
        )
        client.complete(anthropic, HI, headers={"x-call": "mine"}, max_tokens=88)
        request = server.last_request
        responses = wire_model(RESPONSES, server.base_url_for(RESPONSES))
        assert client.complete(responses, HI).stop_reason != "error"
    assert request.headers["x-api-key"] == KEYS["anthropic"]
    assert (request.headers["x-team"], request.headers["x-call"]) == ("core", "mine")
    assert request.json["temperature"] == 0.25 and request.json["max_tokens"] == 88
    assert "service_tier" not in request.json  # an OpenAI option: not carried by Anthropic, so not sent there
    assert server.last_request.json["service_tier"] == "flex"
    assert server.last_request.headers["authorization"] == f"Bearer {KEYS['openai']}"


def test_a_call_option_wins_over_the_client_key(server: ReplayServer) -> None:
    client = Client(api_keys=KEYS)
    client.complete(models(server, ANTHROPIC)[0], HI, api_key="the-call-key")
    assert server.last_request.headers["x-api-key"] == "the-call-key"


def test_model_keys_resolve_through_the_registry(server: ReplayServer) -> None:
    client = Client(api_keys=KEYS, base_urls={"anthropic": server.base_url_for(ANTHROPIC)})
    message = client.complete("anthropic/claude-sonnet-4-5", HI)
    assert message.provider == "anthropic" and server.last_request.path == "/v1/messages"


def test_the_async_http_client_carries_async_calls(server: ReplayServer) -> None:
    async def go() -> AssistantMessage:
        async with httpx.AsyncClient() as http:
            client = Client(api_keys=KEYS, async_http_client=http)
            return await client.acomplete(models(server, COMPLETIONS)[0], HI)

    assert asyncio.run(go()).stop_reason != "error"


def test_the_simple_forms_map_the_reasoning_level(server: ReplayServer) -> None:
    responses = wire_model(RESPONSES, server.base_url_for(RESPONSES), reasoning=True)
    Client(api_keys=KEYS).complete_simple(responses, HI, reasoning="high")
    assert server.last_request.json["reasoning"]["effort"] == "high"

    async def go() -> None:
        await Client(api_keys=KEYS).acomplete_simple(responses, HI, reasoning="low")

    asyncio.run(go())
    assert server.last_request.json["reasoning"]["effort"] == "low"


@pytest.mark.parametrize(
    ("settings", "error", "words"),
    [
        ({"options": {"temprature": 1}}, TypeError, "unknown option 'temprature'"),
        ({"options": {"temperature": 9}}, ValueError, "temperature"),
        ({"options": {"signal": None}}, TypeError, "per call"),
        ({"api_keys": {"openai": 3}}, TypeError, "api_keys"),
        ({"base_urls": {"openai": "ftp://x"}}, ValueError, "base_urls"),
        ({"fallback_on": ["rate_limits"]}, ValueError, "rate_limits"),
        ({"fallback_on": "server"}, TypeError, "fallback_on"),
        ({"fallbacks": {"gpt": ["openai/gpt-4o"]}}, TypeError, "provider/id"),
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"http_client": object()}, TypeError, "httpx.Client"),
    ],
)
def test_malformed_settings_raise_at_construction(settings: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        Client(**settings)


def test_a_key_never_shows_in_a_repr_or_error() -> None:
    client = Client(api_keys={"openai": "sk-very-secret"})
    assert "sk-very-secret" not in repr(client) and "openai" in repr(client)
    with pytest.raises(TypeError) as raised:
        Client(api_keys={"openai": "sk-very-secret", "x": ""})
    assert "sk-very-secret" not in str(raised.value)


def test_options_are_checked_per_model_at_the_call(server: ReplayServer) -> None:
    chain = models(server, RESPONSES, ANTHROPIC)
    with pytest.raises(TypeError, match="service_tier"):
        Client(api_keys=KEYS).stream(chain, HI, service_tier="flex")
    assert server.requests == []


def test_a_closed_client_refuses_calls(server: ReplayServer) -> None:
    with Client(api_keys=KEYS) as client:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        client.stream(models(server, COMPLETIONS), HI)


def test_the_default_client_is_one_object() -> None:
    from alchemy.client import default_client

    assert default_client() is default_client()


# --------------------------------------------------------------------------- concurrency


def test_one_client_serves_many_threads(server: ReplayServer) -> None:
    # Every first attempt is refused (a named replay picked by the model's header), every second answers.
    server.register("busy", Replay.http_error(503))
    client = Client(api_keys=KEYS, max_retries=0)
    busy = wire_model(COMPLETIONS, server.base_url_for(COMPLETIONS), headers={"x-alchemy-replay": "busy"})
    chain = [busy, *models(server, ANTHROPIC)]
    results: list[AssistantMessage] = []
    lock = threading.Lock()

    def work() -> None:
        message = client.complete(chain, HI)
        with lock:
            results.append(message)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and all(m.stop_reason != "error" for m in results)
    assert all([a.error_kind for a in m.attempts] == ["overloaded"] for m in results)


def test_one_client_serves_many_tasks(server: ReplayServer) -> None:
    server.register("limited", Replay.http_error(429, retry_after=0))
    client = Client(api_keys=KEYS, max_retries=0)
    limited = wire_model(COMPLETIONS, server.base_url_for(COMPLETIONS), headers={"x-alchemy-replay": "limited"})
    chain = [limited, *models(server, ANTHROPIC)]

    async def go() -> Sequence[AssistantMessage]:
        return await asyncio.gather(*(client.acomplete(chain, HI) for _ in range(40)))

    results = asyncio.run(go())
    assert all(m.stop_reason != "error" for m in results)
    assert all([a.error_kind for a in m.attempts] == ["rate_limit"] for m in results)


# --------------------------------------------------------------------------- health checks


def test_a_health_check_reports_reachability_auth_latency_and_rate_limits(server: ReplayServer) -> None:
    server.enqueue(Replay(headers={"x-ratelimit-remaining-requests": "41", "x-ratelimit-limit-requests": "50"}))
    report = Client(api_keys=KEYS).check(models(server, COMPLETIONS)[0])
    assert report.ok and report.reachable and report.authenticated
    assert report.latency is not None and report.latency > 0
    assert report.rate_limit is not None and report.rate_limit.requests_remaining == 41
    assert server.last_request.json["max_tokens"] == 16
    assert report.to_dict()["rateLimit"]["requests_remaining"] == 41


def test_a_health_check_reports_a_refused_key(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(401, message="invalid x-api-key"))
    report = Client(api_keys=KEYS).check(models(server, ANTHROPIC)[0])
    assert (report.ok, report.reachable, report.authenticated, report.status) == (False, True, False, 401)
    assert report.error_kind == "auth" and len(server.requests) == 1  # no retries


def test_a_health_check_reports_an_unreachable_endpoint() -> None:
    report = Client(api_keys=KEYS).check(wire_model(COMPLETIONS, "http://127.0.0.1:9/v1"), timeout=2)
    assert (report.ok, report.reachable, report.authenticated, report.latency) == (False, False, None, None)
    assert report.error_kind in ("connection", "timeout")


def test_a_health_check_reports_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_OAUTH_TOKEN", raising=False)
    report = Client().check(wire_model(ANTHROPIC, "https://api.anthropic.invalid"))
    assert (report.ok, report.reachable, report.error_kind) == (False, None, "auth")
    assert "ANTHROPIC_API_KEY" in (report.error_message or "")


def test_a_health_check_of_a_provider_picks_its_cheapest_model(server: ReplayServer) -> None:
    client = Client(api_keys=KEYS, base_urls={"anthropic": server.base_url_for(ANTHROPIC)})
    report = client.check("anthropic")
    cheapest = min(
        (m for m in alchemy.get_models("anthropic") if m.cost.input is not None and m.cost.output is not None),
        key=lambda m: ((m.cost.input or 0) + (m.cost.output or 0), m.id),
    )
    assert report.ok and report.model == cheapest.id and server.last_request.json["model"] == cheapest.id
    with pytest.raises(ValueError, match="no listed model"):
        client.check("no-such-provider")


# --------------------------------------------------------------------------- rate limits and breakers


@pytest.mark.parametrize("mode", MODES)
def test_an_open_breaker_fails_at_once_and_falls_over(server: ReplayServer, mode: str) -> None:
    from alchemy.policies import CircuitBreaker

    client = Client(api_keys=KEYS, max_retries=0, breakers={"groq": CircuitBreaker(failures=1, cooldown=600)})
    chain = models(server, COMPLETIONS, ANTHROPIC)
    server.enqueue(Replay.http_error(503), Replay())
    _, first = run(client, chain, mode)
    assert [a.error_kind for a in first.attempts] == ["overloaded"]
    assert client.breakers["groq"].state == "open"

    _, second = run(client, chain, mode)  # groq is not called at all now
    assert second.provider == "anthropic" and [a.error_kind for a in second.attempts] == ["circuit_open"]
    assert [request.path for request in server.requests] == ["/v1/chat/completions", "/v1/messages", "/v1/messages"]


def test_an_open_breaker_without_a_fallback_ends_the_stream_as_circuit_open(server: ReplayServer) -> None:
    from alchemy.policies import CircuitBreaker

    client = Client(api_keys=KEYS, max_retries=0, breakers=CircuitBreaker(failures=1, cooldown=600))
    model = models(server, COMPLETIONS)[0]
    server.enqueue(Replay.http_error(500))
    assert client.complete(model, HI).error.kind == "server"  # type: ignore[union-attr]
    message = client.complete(model, HI)
    assert message.stop_reason == "error" and message.error is not None and message.error.kind == "circuit_open"
    assert len(server.requests) == 1


def test_a_success_keeps_the_breaker_closed_and_a_check_does_not_count(server: ReplayServer) -> None:
    from alchemy.policies import CircuitBreaker

    client = Client(api_keys=KEYS, max_retries=0, breakers=CircuitBreaker(failures=1))
    model = models(server, COMPLETIONS)[0]
    server.enqueue(Replay.http_error(500))
    assert not client.check(model).ok
    assert client.breakers == {} or client.breakers["groq"].state == "closed"
    server.enqueue(Replay.http_error(500))
    assert not client.check(model, guarded=True).ok
    assert client.breakers["groq"].state == "open"


@pytest.mark.parametrize("mode", MODES)
def test_a_rate_limit_past_max_wait_falls_over_without_a_request(server: ReplayServer, mode: str) -> None:
    from alchemy.policies import RateLimit

    client = Client(api_keys=KEYS, rate_limits={"groq": RateLimit(requests_per_minute=1, max_wait=0)})
    chain = models(server, COMPLETIONS, ANTHROPIC)
    _, first = run(client, chain, mode)
    assert first.provider == "groq" and first.metrics is not None and first.metrics.rate_limit_wait >= 0
    _, second = run(client, chain, mode)
    assert second.provider == "anthropic" and [a.error_kind for a in second.attempts] == ["rate_limit"]
    assert [request.path for request in server.requests] == ["/v1/chat/completions", "/v1/messages"]


def test_a_429_retry_after_pauses_the_provider_for_the_next_calls(server: ReplayServer) -> None:
    from alchemy.policies import RateLimit

    client = Client(api_keys=KEYS, max_retries=0, rate_limits={"groq": RateLimit(requests_per_minute=100, max_wait=0)})
    chain = models(server, COMPLETIONS, ANTHROPIC)
    server.enqueue(Replay.http_error(429, retry_after=600))
    assert [a.error_kind for a in client.complete(chain, HI).attempts] == ["rate_limit"]
    paused = client.complete(chain, HI)
    assert paused.provider == "anthropic" and [a.error_kind for a in paused.attempts] == ["rate_limit"]
    assert [request.path for request in server.requests] == ["/v1/chat/completions", "/v1/messages", "/v1/messages"]


@pytest.mark.parametrize("mode", MODES)
def test_an_aborted_wait_ends_the_stream_aborted_without_falling_over(server: ReplayServer, mode: str) -> None:
    from alchemy.policies import RateLimit

    controller = alchemy.AbortController()
    controller.abort()
    client = Client(api_keys=KEYS, rate_limits={"groq": RateLimit(requests_per_minute=1, max_wait=None)})
    _, message = run(client, models(server, COMPLETIONS, ANTHROPIC), mode, signal=controller.signal)
    assert message.stop_reason == "aborted" and message.provider == "groq" and server.requests == []


def test_concurrent_async_streams_never_exceed_the_concurrency_limit(server: ReplayServer) -> None:
    # The full size (1,000 streams, 100 slots) runs in benchmarks/bench_client.py.
    from alchemy.policies import RateLimit

    streams, slots = 120, 12
    previous, server.default = server.default, Replay(delay=0.001)
    client = Client(api_keys=KEYS, rate_limits={"groq": RateLimit(concurrency=slots, max_wait=None)})
    model = models(server, COMPLETIONS)[0]
    in_flight = peak = 0

    def counted(body: Any, model: Model) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)

    async def one() -> AssistantMessage:
        nonlocal in_flight
        message = await client.acomplete(model, HI, on_payload=counted)
        in_flight -= 1
        return message

    async def go() -> Sequence[AssistantMessage]:
        return await asyncio.gather(*(one() for _ in range(streams)))

    try:
        results = asyncio.run(go())
    finally:
        server.default = previous
    assert all(m.stop_reason != "error" for m in results) and len(server.requests) == streams
    assert 1 < peak <= slots


@pytest.mark.parametrize(
    ("settings", "error", "words"),
    [
        ({"rate_limits": {"groq": 5}}, TypeError, "RateLimit"),
        ({"breakers": {"groq": 5}}, TypeError, "CircuitBreaker"),
        ({"breakers": 5}, TypeError, "CircuitBreaker"),
        ({"store": object()}, ValueError, "store"),
    ],
)
def test_malformed_policies_raise_at_construction(settings: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        Client(**settings)


# --------------------------------------------------------------------------- alchemy check


def test_the_check_command_prints_the_report(server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from alchemy.cli import main

    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key-not-real")
    server.enqueue(Replay(headers={"anthropic-ratelimit-requests-remaining": "7", "anthropic-ratelimit-requests-limit": "9"}))
    out = io.StringIO()
    code = main(["check", "anthropic/claude-sonnet-4-5", "--base-url", server.base_url_for(ANTHROPIC)], out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "anthropic/claude-sonnet-4-5: ok" in text and "accepted" in text and "7 of 9 left" in text
    assert "env-key-not-real" not in text

    server.enqueue(Replay.http_error(401))
    out = io.StringIO()
    code = main(["check", "anthropic/claude-sonnet-4-5", "--base-url", server.base_url_for(ANTHROPIC), "--json"], out=out)
    report = __import__("json").loads(out.getvalue())
    assert (code, report["ok"], report["authenticated"], report["errorKind"]) == (13, False, False, "auth")


# --------------------------------------------------------------------------- shared through Redis


@pytest.mark.parametrize("mode", MODES)
def test_two_clients_on_one_redis_share_a_breaker_and_a_pause(
    server: ReplayServer, redis_server: RedisServer, mode: str
) -> None:
    import uuid

    from alchemy.policies import CircuitBreaker, RateLimit, RedisStore

    prefix = f"client-{uuid.uuid4().hex}"

    def client() -> Client:
        return Client(
            api_keys=KEYS,
            max_retries=0,
            breakers={"groq": CircuitBreaker(failures=1, cooldown=600)},
            rate_limits={"anthropic": RateLimit(requests_per_minute=100, max_wait=0)},
            store=RedisStore(redis_server.url, prefix=prefix),
        )

    first, second = client(), client()  # two processes' worth of Clients: nothing shared but Redis
    groq, anthropic, responses = models(server, COMPLETIONS, ANTHROPIC, RESPONSES)
    server.enqueue(Replay.http_error(503), Replay.http_error(429, retry_after=600), Replay())
    _, message = run(first, [groq, anthropic, responses], mode)
    assert [a.error_kind for a in message.attempts] == ["overloaded", "rate_limit"]
    assert second.breakers["groq"].state == "open"

    _, message = run(second, [groq, anthropic, responses], mode)  # groq open, anthropic paused: neither is called
    assert message.provider == "openai" and [a.error_kind for a in message.attempts] == ["circuit_open", "rate_limit"]
    assert len(server.requests) == 4
