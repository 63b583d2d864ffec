"""Rate-limit headers (``message.metrics.rate_limit``) and the ``on_response(status, headers)`` hook.

The parser is fed each provider's documented header set; then both travel through
the runner against the real replay server on 127.0.0.1, sync and async, on a
success and on a 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pytest

import alchemy
from alchemy import AssistantMessage, Context, UserMessage
from alchemy.rate_limits import RateLimit, parse_rate_limit
from alchemy.testing import HttpError, Replay, ReplayServer
from alchemy.testing.provider_errors import request_id_header
from support import WIRE_MODEL_IDS, no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
KEY = "test-key-not-real-0000"
CONTEXT = Context(messages=[UserMessage("hi")])


def budgets(limit: RateLimit | None) -> tuple[Any, ...]:
    assert limit is not None
    return (
        limit.requests_limit,
        limit.requests_remaining,
        limit.requests_reset,
        limit.tokens_limit,
        limit.tokens_remaining,
        limit.tokens_reset,
        limit.retry_after,
    )


# provider -> (its documented headers, what they say: requests limit/remaining/reset, tokens ..., retry-after)
HEADER_SETS: dict[str, tuple[dict[str, str], tuple[Any, ...]]] = {
    "openai": (
        {
            "x-ratelimit-limit-requests": "5000",
            "x-ratelimit-limit-tokens": "160000",
            "x-ratelimit-remaining-requests": "4999",
            "x-ratelimit-remaining-tokens": "159976",
            "x-ratelimit-reset-requests": "12ms",
            "x-ratelimit-reset-tokens": "6m0s",
        },
        (5000, 4999, 0.012, 160000, 159976, 360.0, None),
    ),
    "groq": (
        {
            "X-RateLimit-Limit-Requests": "14400",
            "X-RateLimit-Remaining-Requests": "14370",
            "X-RateLimit-Reset-Requests": "2m59.56s",
            "X-RateLimit-Limit-Tokens": "18000",
            "X-RateLimit-Remaining-Tokens": "17997",
            "X-RateLimit-Reset-Tokens": "7.66s",
        },
        (14400, 14370, pytest.approx(179.56), 18000, 17997, pytest.approx(7.66), None),
    ),
    "anthropic": (
        {
            "anthropic-ratelimit-requests-limit": "1000",
            "anthropic-ratelimit-requests-remaining": "999",
            "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:30Z",
            "anthropic-ratelimit-tokens-limit": "96000",
            "anthropic-ratelimit-tokens-remaining": "95000",
            "anthropic-ratelimit-tokens-reset": "2026-01-01T00:01:00+00:00",
            "anthropic-ratelimit-input-tokens-limit": "80000",
            "retry-after": "12",
        },
        (1000, 999, 30.0, 96000, 95000, 60.0, 12.0),
    ),
    "cerebras": (
        {
            "x-ratelimit-limit-requests-day": "14400",
            "x-ratelimit-remaining-requests-day": "14399",
            "x-ratelimit-reset-requests-day": "33011.38",
            "x-ratelimit-limit-tokens-minute": "60000",
            "x-ratelimit-remaining-tokens-minute": "59000",
            "x-ratelimit-reset-tokens-minute": "11.38",
        },
        (14400, 14399, 33011.38, 60000, 59000, 11.38, None),
    ),
    "openrouter": (
        {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "19", "X-RateLimit-Reset": str(int((NOW + 45) * 1000))},
        (20, 19, 45.0, None, None, None, None),
    ),
    "mistral": (
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-limit-tokens": "500000",
            "x-ratelimit-remaining-tokens": "499000",
            "retry-after-ms": "1500",
        },
        (60, 59, None, 500000, 499000, None, 1.5),
    ),
    "gemini (429)": ({"retry-after": "Thu, 01 Jan 2026 00:00:20 GMT"}, (None,) * 6 + (20.0,)),
}


@pytest.mark.parametrize("provider", sorted(HEADER_SETS))
def test_each_providers_header_set(provider: str) -> None:
    headers, expected = HEADER_SETS[provider]
    assert budgets(parse_rate_limit(headers, now=NOW)) == expected


def test_every_rate_limit_header_is_kept_verbatim() -> None:
    headers, _ = HEADER_SETS["anthropic"]
    limit = parse_rate_limit({**headers, "content-type": "text/event-stream"}, now=NOW)
    assert limit is not None
    assert limit.headers["anthropic-ratelimit-input-tokens-limit"] == "80000"
    assert "content-type" not in limit.headers and "retry-after" not in limit.headers
    assert limit.to_dict()["tokensRemaining"] == 95000


def test_no_rate_limit_headers_is_none() -> None:
    assert parse_rate_limit({"content-type": "application/json", "x-request-id": "r"}) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1s", 1.0), ("1h2m3s", 3723.0), ("100ms", 0.1), ("0.5", 0.5), ("2025-12-31T23:59:00Z", 0.0), ("soon", None)],
)
def test_reset_forms(value: str, seconds: float | None) -> None:
    limit = parse_rate_limit({"x-ratelimit-reset-requests": value}, now=NOW)
    assert limit is not None and limit.requests_reset == (None if seconds is None else pytest.approx(seconds))


def test_counts_that_are_not_numbers_are_left_out() -> None:
    limit = parse_rate_limit({"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "-1"}, now=NOW)
    assert limit is not None and (limit.requests_limit, limit.requests_remaining) == (None, None)


# --------------------------------------------------------------------------- through the runner


@pytest.fixture(scope="module")
def server(replay_server: ReplayServer) -> ReplayServer:
    return replay_server


def model_for(api: str, server: ReplayServer) -> alchemy.Model:
    return wire_model(api, server.base_url_for(api))


def options_for(api: str, **more: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"api_key": KEY}
    if api == "google-vertex":
        extra.update(project="p", location="us-central1")
    return {**extra, **more}


@pytest.mark.parametrize("api", sorted(WIRE_MODEL_IDS))
def test_metrics_carry_the_rate_limit_and_request_id_of_a_success(server: ReplayServer, api: str) -> None:
    headers, _ = HEADER_SETS["openai"]
    server.enqueue(Replay(api=api, headers={**headers, request_id_header(api): "req-rl-1"}))
    message = alchemy.complete(model_for(api, server), CONTEXT, **options_for(api))
    assert message.stop_reason != "error", message.error_message
    assert message.metrics is not None and message.metrics.request_id == "req-rl-1"
    limit = message.metrics.rate_limit
    assert limit is not None and (limit.requests_remaining, limit.tokens_reset) == (4999, 360.0)


def test_a_429_fills_the_rate_limit_and_the_error(server: ReplayServer) -> None:
    api = "anthropic-messages"
    headers = {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-tokens-remaining": "0"}
    server.enqueue(Replay(api=api, faults=[HttpError(429, retry_after=7, headers=headers)]))
    message = alchemy.complete(model_for(api, server), CONTEXT, **options_for(api, max_retries=0))
    assert message.error is not None and (message.error.kind, message.error.retry_after) == ("rate_limit", 7.0)
    assert message.metrics is not None and message.metrics.rate_limit is not None
    limit = message.metrics.rate_limit
    assert (limit.requests_remaining, limit.tokens_remaining, limit.retry_after) == (0, 0, 7.0)


def test_a_response_without_rate_limit_headers_leaves_none(server: ReplayServer) -> None:
    api = "google-generative-ai"
    server.enqueue(Replay(api=api))
    message = alchemy.complete(model_for(api, server), CONTEXT, **options_for(api))
    assert message.metrics is not None and message.metrics.rate_limit is None


def test_on_response_sees_every_attempt(server: ReplayServer) -> None:
    api = "openai-responses"
    seen: list[tuple[int, str | None]] = []

    def on_response(status: int, headers: Mapping[str, str]) -> None:
        seen.append((status, headers.get("x-request-id")))

    server.enqueue(Replay(api=api, faults=[HttpError(503, headers={"x-request-id": "first"})]))
    server.enqueue(Replay(api=api, headers={"x-request-id": "second"}))
    message = alchemy.complete(
        model_for(api, server), CONTEXT, **options_for(api, on_response=on_response, max_retry_delay=0.01)
    )
    assert message.stop_reason != "error", message.error_message
    assert seen == [(503, "first"), (200, "second")]


def test_async_on_response_is_awaited(server: ReplayServer) -> None:
    api = "mistral-conversations"
    seen: list[int] = []

    async def on_response(status: int, headers: Mapping[str, str]) -> None:
        await asyncio.sleep(0)
        seen.append(status)

    async def go() -> AssistantMessage:
        server.enqueue(Replay(api=api))
        return await alchemy.acomplete(model_for(api, server), CONTEXT, **options_for(api, on_response=on_response))

    message = asyncio.run(go())
    assert message.stop_reason != "error", message.error_message
    assert seen == [200]


def test_sync_on_response_on_an_async_stream_works_too(server: ReplayServer) -> None:
    api = "anthropic-messages"
    seen: list[int] = []

    async def go() -> AssistantMessage:
        server.enqueue(Replay(api=api))
        hook = lambda status, headers: seen.append(status)  # noqa: E731
        return await alchemy.acomplete(model_for(api, server), CONTEXT, **options_for(api, on_response=hook))

    assert asyncio.run(go()).stop_reason != "error" and seen == [200]


def test_an_async_hook_on_a_sync_stream_says_what_to_do(server: ReplayServer) -> None:
    api = "anthropic-messages"

    async def on_response(status: int, headers: Mapping[str, str]) -> None:
        return None

    server.enqueue(Replay(api=api))
    message = alchemy.complete(model_for(api, server), CONTEXT, **options_for(api, on_response=on_response))
    assert message.stop_reason == "error"
    assert "on_response returned an awaitable" in (message.error_message or "")


def test_a_hook_that_raises_ends_the_stream_with_its_error(server: ReplayServer) -> None:
    api = "openai-completions"

    def on_response(status: int, headers: Mapping[str, str]) -> None:
        raise RuntimeError("budget exhausted")

    server.enqueue(Replay(api=api))
    message = alchemy.complete(model_for(api, server), CONTEXT, **options_for(api, on_response=on_response))
    assert message.stop_reason == "error" and "budget exhausted" in (message.error_message or "")


def test_on_response_must_be_callable() -> None:
    model = wire_model("anthropic-messages")
    with pytest.raises(TypeError, match="on_response"):
        alchemy.stream(model, CONTEXT, api_key=KEY, on_response="log")  # type: ignore[typeddict-item]
