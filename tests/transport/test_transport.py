"""Transport helpers: settings, retry decisions, retry-after parsing, error text, redaction, clients."""

from __future__ import annotations

import asyncio
import email.utils
import random

import pytest

from alchemy import transport
from alchemy.request import HttpRequest, redact
from alchemy.transport import (
    TransportSettings,
    backoff_delay,
    http_error_message,
    is_retryable_status,
    retry_after_seconds,
    retry_decision,
)


def test_settings_defaults() -> None:
    settings = TransportSettings.resolve(env={})
    assert settings.connect_timeout == 5.0
    assert settings.first_byte_timeout == settings.idle_timeout == 600.0
    assert settings.max_retries == 2 and settings.max_retry_delay == 60.0


def test_settings_from_env_and_options_win() -> None:
    env = {
        "ALCHEMY_TIMEOUT": "30",
        "ALCHEMY_CONNECT_TIMEOUT": "2.5",
        "ALCHEMY_MAX_CONNECTIONS": "7",
        "ALCHEMY_MAX_KEEPALIVE_CONNECTIONS": "3",
    }
    settings = TransportSettings.resolve(env=env)
    assert (settings.connect_timeout, settings.first_byte_timeout, settings.idle_timeout) == (2.5, 30.0, 30.0)
    assert (settings.max_connections, settings.max_keepalive_connections) == (7, 3)
    settings = TransportSettings.resolve(timeout=9, idle_timeout=1, env=env)
    assert (settings.first_byte_timeout, settings.idle_timeout) == (9, 1)


@pytest.mark.parametrize(
    ("name", "value"), [("ALCHEMY_TIMEOUT", "soon"), ("ALCHEMY_TIMEOUT", "-1"), ("ALCHEMY_MAX_CONNECTIONS", "1.5")]
)
def test_bad_env_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        TransportSettings.resolve(env={name: value})


def test_bad_option_values_are_refused() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        TransportSettings.resolve(idle_timeout=0, env={})
    with pytest.raises(ValueError, match="max_retries"):
        TransportSettings.resolve(max_retries=-1, env={})


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_client_errors_are_not_retryable(status: int) -> None:
    assert not is_retryable_status(status)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "garbage", "retry-after": "2"}) == 2.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 10, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=now) == pytest.approx(10, abs=1)
    assert retry_after_seconds({"retry-after": email.utils.formatdate(now - 10, usegmt=True)}, now=now) == 0.0
    assert retry_after_seconds({"retry-after": "not a date"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    rng = random.Random(1)
    for attempt in range(8):
        delay = backoff_delay(attempt, rng)
        assert 0 <= delay <= min(transport.BACKOFF_CAP, transport.BACKOFF_BASE * 2**attempt)


def test_retry_decisions() -> None:
    settings = TransportSettings.resolve(max_retries=2, max_retry_delay=5, env={})
    first = retry_decision(0, settings, reason="HTTP 429", headers={"retry-after": "1"})
    assert first.retry and first.delay == 1.0
    assert not retry_decision(2, settings, reason="HTTP 429").retry
    too_long = retry_decision(0, settings, reason="HTTP 429", headers={"retry-after": "120"})
    assert not too_long.retry and "120.0 s" in too_long.reason and "max_retry_delay=5" in too_long.reason


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"message": "Rate limit reached", "type": "requests"}}', "requests: Rate limit reached"),
        (b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', "overloaded_error: Overloaded"),
        (b'{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}', "Quota exceeded"),
        (b'[{"error": {"message": "bad request", "status": "INVALID_ARGUMENT"}}]', "INVALID_ARGUMENT: bad request"),
        (b'{"message": "The security token included in the request is invalid."}', "security token"),
        (b'{"error": "model not found"}', "model not found"),
        (b"upstream connect error", "upstream connect error"),
    ],
)
def test_error_text_from_provider_bodies(body: bytes, expected: str) -> None:
    text = http_error_message(429, body, {"x-request-id": "req_1"}, provider="P")
    assert text.startswith("P HTTP 429: ") and expected in text and "(request id req_1)" in text


def test_error_text_without_body() -> None:
    assert http_error_message(413, b"", {}, provider="Cerebras") == "Cerebras HTTP 413 (no body)"


def test_secrets_are_redacted() -> None:
    key = "sk-" "test-0123456789abcdef"  # fake, split so it never looks like a real key
    text = http_error_message(401, f'{{"error": {{"message": "bad key {key}"}}}}'.encode(), {}, provider="P", secrets=(key,))
    assert key not in text and "<redacted>" in text
    assert redact(f"a {key} b", [key]) == "a <redacted> b"
    request = HttpRequest("POST", f"https://x/?key={key}", {"x-api-key": key, "accept": "x"}, None, secrets=(key,))
    assert key not in repr(request) and "accept" in repr(request)


def test_sync_clients_are_cached_per_origin_and_key() -> None:
    settings = TransportSettings.resolve(env={})
    try:
        a = transport.get_sync_client("http://127.0.0.1:1", "k1", settings)
        assert transport.get_sync_client("http://127.0.0.1:1", "k1", settings) is a
        assert transport.get_sync_client("http://127.0.0.1:1", "k2", settings) is not a
        assert transport.get_sync_client("http://127.0.0.1:2", "k1", settings) is not a
        assert "k1" not in repr(transport._sync_clients)
    finally:
        transport.clear_client_cache()


def test_async_clients_are_per_event_loop() -> None:
    settings = TransportSettings.resolve(env={})

    async def get() -> object:
        client = transport.get_async_client("http://127.0.0.1:1", "k", settings)
        assert transport.get_async_client("http://127.0.0.1:1", "k", settings) is client
        await client.aclose()
        return client

    assert asyncio.run(get()) is not asyncio.run(get())


def test_httpx_is_not_imported_by_import_alchemy() -> None:
    import subprocess
    import sys

    code = "import sys, alchemy; alchemy.Context; sys.exit('httpx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_aws_error_type_header_names_the_exception() -> None:
    text = http_error_message(
        400,
        b'{"message": "Malformed input request"}',
        {"x-amzn-ErrorType": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
        provider="Bedrock",
    )
    assert text == "Bedrock HTTP 400: ValidationException: Malformed input request"
