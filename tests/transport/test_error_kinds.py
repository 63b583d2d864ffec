"""Typed error information: ``message.error`` on every failed message, and ``raise_for_error``.

Every wire API meets every failure shape through the real replay server on
127.0.0.1 -- an HTTP status with the provider's documented error body, the
provider's own error event inside a 200 stream, a transport failure, a stream cut
short, a chunk that does not parse -- and each ends with the right kind,
``retryable``, ``retry_after``, status, code and request id. Then the kinds as data:
the table, the exceptions ``raise_for_error`` raises, and the Context JSON round trip.
"""

from __future__ import annotations

import asyncio
from typing import Any, get_args

import orjson
import pytest

import alchemy
from alchemy import AssistantMessage, Context, UserMessage
from alchemy.errors import (
    ERROR_KINDS,
    AbortedError,
    ContextOverflowError,
    ErrorInfo,
    ErrorKind,
    ProviderConnectionError,
    ProviderError,
    ProviderHttpError,
    ProviderStreamError,
    ProviderTimeoutError,
    RateLimitError,
    StreamInterruptedError,
)
from alchemy.overflow import classify_error, is_context_overflow
from alchemy.testing import Drop, ErrorEvent, HttpError, MalformedJson, Replay, ReplayServer, Stall
from alchemy.testing.provider_errors import request_id_header
from support import WIRE_MODEL_IDS, no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

KEY = "test-key-not-real-0000"
CONTEXT = Context(messages=[UserMessage("hi")])
APIS = sorted(WIRE_MODEL_IDS)


@pytest.fixture(scope="module")
def server(replay_server: ReplayServer) -> ReplayServer:
    return replay_server


def run(server: ReplayServer, api: str, replay: Replay, **options: Any) -> AssistantMessage:
    server.enqueue(replay)
    extra: dict[str, Any] = {"api_key": KEY, "max_retries": 0}
    if api == "google-vertex":
        extra.update(project="p", location="us-central1")
    extra.update(options)
    return alchemy.complete(wire_model(api, server.base_url_for(api)), CONTEXT, **extra)


def failed_with(message: AssistantMessage) -> ErrorInfo:
    assert message.stop_reason == "error", message
    assert message.error is not None, message.error_message
    return message.error


# --------------------------------------------------------------------------- HTTP errors

# status -> the kind the provider's documented body for that status means.
HTTP_KINDS: dict[int, ErrorKind] = {
    400: "invalid_request",
    401: "auth",
    403: "permission",
    404: "not_found",
    429: "rate_limit",
    500: "server",
    503: "overloaded",
    504: "timeout",
}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", sorted(HTTP_KINDS))
def test_http_error_status_and_documented_body_give_the_kind(server: ReplayServer, api: str, status: int) -> None:
    header = request_id_header(api)
    fault = HttpError(status, headers={header: "req-kind-1"})
    info = failed_with(run(server, api, Replay(api=api, faults=[fault])))
    assert info.kind == HTTP_KINDS[status], (api, status, info)
    assert info.status == status
    assert info.request_id == "req-kind-1"
    assert info.retryable == (status == 429 or status >= 500)
    assert info.code or api == "cohere-chat"  # every documented body names its error but Cohere's (a message)
    assert info.provider_message


# The code each provider's documented body carries for a 429, as ErrorInfo.code reports it.
RATE_LIMIT_CODES = {
    "openai-completions": "rate_limit_exceeded",
    "openai-responses": "rate_limit_exceeded",
    "azure-openai-responses": "rate_limit_exceeded",
    "anthropic-messages": "rate_limit_error",
    "bedrock-converse-stream": "ThrottlingException",
    "google-generative-ai": "RESOURCE_EXHAUSTED",
    "google-vertex": "RESOURCE_EXHAUSTED",
    "mistral-conversations": "rate_limited",
    "cohere-chat": None,
}


@pytest.mark.parametrize("api", APIS)
def test_rate_limit_carries_code_and_retry_after(server: ReplayServer, api: str) -> None:
    info = failed_with(run(server, api, Replay(api=api, faults=[HttpError(429, retry_after=2.5)])))
    assert (info.kind, info.code, info.retry_after, info.retryable) == ("rate_limit", RATE_LIMIT_CODES[api], 2.5, True)
    info = failed_with(run(server, api, Replay(api=api, faults=[HttpError(429, retry_after_ms=1500)])))
    assert info.retry_after == 1.5


# Each provider's own words for "the prompt is too long", as its API answers with a 400.
OVERFLOW_TEXTS = {
    "openai-completions": "This model's maximum context length is 131072 tokens. However, you requested 140000 tokens.",
    "openai-responses": "Your input exceeds the context window of this model. Please adjust your input.",
    "azure-openai-responses": "Your input exceeds the context window of this model. Please adjust your input.",
    "anthropic-messages": "prompt is too long: 213462 tokens > 200000 maximum",
    "bedrock-converse-stream": "Input is too long for requested model.",
    "google-generative-ai": "The input token count (1196265) exceeds the maximum number of tokens allowed (1048575).",
    "google-vertex": "The input token count (1196265) exceeds the maximum number of tokens allowed (1048575).",
    "mistral-conversations": "Prompt contains 40123 tokens and 0 draft tokens, too large for model with 32768 maximum "
    "context length",
    "cohere-chat": "too many tokens: total number of tokens (prompt and prediction) cannot exceed 2048 - received 6354. "
    "Try using a shorter prompt or a smaller max_tokens value.",
}


@pytest.mark.parametrize("api", APIS)
def test_overflow_answer_is_context_overflow(server: ReplayServer, api: str) -> None:
    message = run(server, api, Replay(api=api, faults=[HttpError(400, message=OVERFLOW_TEXTS[api])]))
    info = failed_with(message)
    assert info.kind == "context_overflow" and not info.retryable
    assert is_context_overflow(message)
    with pytest.raises(ContextOverflowError) as raised:
        message.raise_for_error()
    assert raised.value.partial is message and raised.value.status == 400


def test_anthropic_413_request_too_large_and_529_overloaded(server: ReplayServer) -> None:
    api = "anthropic-messages"
    info = failed_with(run(server, api, Replay(api=api, faults=[HttpError(413)])))
    assert (info.kind, info.code) == ("context_overflow", "request_too_large")
    info = failed_with(run(server, api, Replay(api=api, faults=[HttpError(529)])))
    assert (info.kind, info.code, info.retryable) == ("overloaded", "overloaded_error", True)


def test_openai_insufficient_quota_is_not_a_rate_limit_to_wait_out(server: ReplayServer) -> None:
    body = orjson.dumps(
        {
            "error": {
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        }
    )
    before = len(server.requests)
    info = failed_with(run(server, "openai-responses", Replay(faults=[HttpError(429, body=body)])))
    assert (info.kind, info.code, info.retryable) == ("permission", "insufficient_quota", False)
    assert len(server.requests) == before + 1  # a 429 that waiting cannot fix is not retried


def test_gemini_retry_info_in_the_body_gives_retry_after(server: ReplayServer) -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": 429,
                "message": "You exceeded your current quota.",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}],
            }
        }
    )
    info = failed_with(run(server, "google-generative-ai", Replay(faults=[HttpError(429, body=body)])))
    assert (info.kind, info.retry_after) == ("rate_limit", 7.0)


def test_a_redirect_is_a_request_to_fix(server: ReplayServer) -> None:
    assert classify_error(status=301, text="HTTP 301: the server redirected the request") == "invalid_request"


# --------------------------------------------------------------------------- errors inside the stream

# api -> (the provider's own rate-limit error type inside a 200 stream, the code reported)
STREAM_RATE_LIMITS = {
    "openai-completions": "rate_limit_exceeded",
    "openai-responses": "rate_limit_exceeded",
    "azure-openai-responses": "rate_limit_exceeded",
    "anthropic-messages": "rate_limit_error",
    "bedrock-converse-stream": "throttlingException",
    "google-generative-ai": "RESOURCE_EXHAUSTED",
    "google-vertex": "RESOURCE_EXHAUSTED",
    "mistral-conversations": "rate_limited",
}
# api -> (the provider's default in-stream error, i.e. its overload, and the kind it means)
STREAM_DEFAULTS: dict[str, tuple[str, ErrorKind]] = {
    "openai-completions": ("server_error", "server"),
    "openai-responses": ("server_error", "server"),
    "azure-openai-responses": ("server_error", "server"),
    "anthropic-messages": ("overloaded_error", "overloaded"),
    "bedrock-converse-stream": ("throttlingException", "rate_limit"),
    "google-generative-ai": ("UNAVAILABLE", "overloaded"),
    "google-vertex": ("UNAVAILABLE", "overloaded"),
    "mistral-conversations": ("server_error", "server"),
    "cohere-chat": ("ERROR", "server"),  # message-end with finish_reason ERROR
}


@pytest.mark.parametrize("api", APIS)
def test_in_stream_error_event_gives_the_kind(server: ReplayServer, api: str) -> None:
    code, kind = STREAM_DEFAULTS[api]
    info = failed_with(run(server, api, Replay(api=api, faults=[ErrorEvent(after_events=1)])))
    assert (info.kind, info.code, info.status, info.retryable) == (kind, code, None, True)
    assert info.request_id is not None  # the response's, from its headers
    assert info.provider_message


@pytest.mark.parametrize("api", sorted(STREAM_RATE_LIMITS))  # Cohere's stream fails only as finish_reason ERROR
def test_in_stream_rate_limit_is_rate_limit(server: ReplayServer, api: str) -> None:
    error_type = STREAM_RATE_LIMITS[api]
    fault = ErrorEvent(after_events=1, error_type=error_type, message="Too many tokens, please wait before retrying.")
    message = run(server, api, Replay(api=api, faults=[fault]))
    info = failed_with(message)
    assert (info.kind, info.code, info.retryable) == ("rate_limit", error_type, True)
    assert not is_context_overflow(message)  # "too many tokens" while throttled is no overflow
    with pytest.raises(RateLimitError):
        message.raise_for_error()


@pytest.mark.parametrize(
    ("api", "error_type", "kind"),
    [
        ("anthropic-messages", "invalid_request_error", "invalid_request"),
        ("anthropic-messages", "api_error", "server"),
        ("anthropic-messages", "authentication_error", "auth"),
        ("openai-responses", "context_length_exceeded", "context_overflow"),
        ("openai-responses", "invalid_prompt", "content_filter"),
        ("bedrock-converse-stream", "validationException", "invalid_request"),
        ("bedrock-converse-stream", "modelStreamErrorException", "server"),
        ("bedrock-converse-stream", "serviceUnavailableException", "overloaded"),
        ("google-generative-ai", "INVALID_ARGUMENT", "invalid_request"),
        ("google-generative-ai", "INTERNAL", "server"),
        ("google-generative-ai", "PERMISSION_DENIED", "permission"),
        ("mistral-conversations", "service_unavailable", "overloaded"),
        ("openai-completions", "insufficient_system_resource", "overloaded"),
        ("cohere-chat", "TIMEOUT", "timeout"),
    ],
)
def test_each_provider_maps_its_own_codes(server: ReplayServer, api: str, error_type: str, kind: ErrorKind) -> None:
    info = failed_with(run(server, api, Replay(api=api, faults=[ErrorEvent(after_events=1, error_type=error_type)])))
    assert (info.kind, info.code) == (kind, error_type)
    assert info.retryable == ERROR_KINDS[kind].retryable


def test_bedrock_validation_exception_that_says_too_long_is_an_overflow(server: ReplayServer) -> None:
    api = "bedrock-converse-stream"
    too_long = "Input is too long for requested model."
    fault = ErrorEvent(after_events=1, error_type="validationException", message=too_long)
    message = run(server, api, Replay(api=api, faults=[fault]))
    assert failed_with(message).kind == "context_overflow" and is_context_overflow(message)


def test_in_stream_overload_before_content_is_retried_and_leaves_no_error(server: ReplayServer) -> None:
    api = "anthropic-messages"
    server.enqueue(Replay(api=api, faults=[ErrorEvent(after_events=0)]))
    message = run(server, api, Replay(api=api), max_retries=1, max_retry_delay=0.01)
    assert message.stop_reason != "error" and message.error is None


# --------------------------------------------------------------------------- transport and cut streams


@pytest.mark.parametrize("api", APIS)
def test_connection_refused_before_headers_is_connection(server: ReplayServer, api: str) -> None:
    info = failed_with(run(server, api, Replay(api=api, faults=[Drop(before_headers=True)])))
    assert (info.kind, info.retryable, info.status) == ("connection", True, None)


@pytest.mark.parametrize("api", APIS)
def test_no_answer_in_time_is_timeout(server: ReplayServer, api: str) -> None:
    fault = Stall(5.0, before_headers=True)
    message = run(server, api, Replay(api=api, faults=[fault]), first_byte_timeout=0.2)
    assert (failed_with(message).kind, failed_with(message).retryable) == ("timeout", True)
    with pytest.raises(ProviderTimeoutError) as raised:
        message.raise_for_error()
    assert isinstance(raised.value, TimeoutError)


@pytest.mark.parametrize("api", APIS)
def test_cut_stream_is_connection_and_keeps_content(server: ReplayServer, api: str) -> None:
    message = run(server, api, Replay(api=api, faults=[Drop(after_events=3)]))
    info = failed_with(message)
    assert (info.kind, info.retryable) == ("connection", True)
    with pytest.raises(ProviderConnectionError) as raised:
        message.raise_for_error()
    assert isinstance(raised.value, ConnectionError) and raised.value.partial is message


@pytest.mark.parametrize("api", APIS)
def test_chunk_that_does_not_parse_is_malformed_response(server: ReplayServer, api: str) -> None:
    info = failed_with(run(server, api, Replay(api=api, faults=[MalformedJson(after_events=1, replace=True)])))
    assert (info.kind, info.retryable) == ("malformed_response", False)


def test_closing_early_and_aborting_are_kind_aborted(server: ReplayServer) -> None:
    api = "anthropic-messages"
    server.enqueue(Replay(api=api))
    with alchemy.stream(wire_model(api, server.base_url_for(api)), CONTEXT, api_key=KEY) as events:
        next(iter(events))
    message = events.result()
    assert message.stop_reason == "aborted" and message.error is not None
    assert (message.error.kind, message.error.retryable) == ("aborted", False)
    assert message.error.request_id  # the response had begun: its id is kept
    with pytest.raises(AbortedError):
        message.raise_for_error()
    controller = alchemy.AbortController()
    controller.abort()
    model = wire_model(api, server.base_url_for(api))
    aborted = alchemy.complete(model, CONTEXT, api_key=KEY, signal=controller.signal)
    assert aborted.error is not None and aborted.error.kind == "aborted"


def test_async_stream_carries_the_same_error(server: ReplayServer) -> None:
    api = "google-generative-ai"
    server.enqueue(Replay(api=api, faults=[HttpError(429, retry_after=4)]))

    async def go() -> AssistantMessage:
        model = wire_model(api, server.base_url_for(api))
        return await alchemy.acomplete(model, CONTEXT, api_key=KEY, max_retries=0)

    info = failed_with(asyncio.run(go()))
    assert (info.kind, info.retry_after, info.code) == ("rate_limit", 4.0, "RESOURCE_EXHAUSTED")


def test_a_successful_message_has_no_error(server: ReplayServer) -> None:
    message = run(server, "openai-responses", Replay())
    assert message.stop_reason != "error" and message.error is None
    assert message.raise_for_error() is message


# --------------------------------------------------------------------------- the kinds as data


def test_every_kind_is_declared_once_with_its_exception() -> None:
    assert tuple(ERROR_KINDS) == get_args(ErrorKind)
    for kind, spec in ERROR_KINDS.items():
        assert issubclass(spec.exception, ProviderError)
        assert spec.exception.kind_of_class == (None if kind == "unknown" else kind)
        assert spec.exception(f"{kind} happened").kind == kind
        assert spec.exception("x").retryable is spec.retryable
    assert {k for k, s in ERROR_KINDS.items() if s.retryable} == {
        "rate_limit", "overloaded", "timeout", "connection", "server"
    }


def test_the_classes_by_origin_take_their_kind_from_what_they_know() -> None:
    assert ProviderHttpError("HTTP 429: slow down", status=429).kind == "rate_limit"
    assert ProviderHttpError("HTTP 400: prompt is too long: 9 > 8", status=400).kind == "context_overflow"
    assert ProviderStreamError("x", kind="overloaded").retryable is True
    assert ProviderStreamError("x", kind="overloaded", retryable=False).retryable is False
    assert StreamInterruptedError("the stream stalled: no data for 5 s").kind == "timeout"
    assert StreamInterruptedError("sent an event that is not valid JSON").kind == "malformed_response"
    assert StreamInterruptedError("the stream ended before message_stop").kind == "connection"


def test_other_exceptions_that_end_a_stream_map_to_a_kind() -> None:
    from alchemy.errors import MissingApiKeyError, MissingConfigurationError, UnsupportedCapabilityError

    assert ErrorInfo.from_exception(MissingApiKeyError("openai", ("OPENAI_API_KEY",))).kind == "auth"
    assert ErrorInfo.from_exception(MissingConfigurationError("amazon-bedrock", "AWS credentials")).kind == "auth"
    assert ErrorInfo.from_exception(MissingConfigurationError("amazon-bedrock", "an AWS region")).kind == (
        "invalid_request"
    )
    assert ErrorInfo.from_exception(UnsupportedCapabilityError("a/b", "vision", "no")).kind == "invalid_request"
    assert ErrorInfo.from_exception(orjson.JSONDecodeError("bad", "{", 0)).kind == "malformed_response"
    assert ErrorInfo.from_exception(TimeoutError()).kind == "timeout"
    assert ErrorInfo.from_exception(ConnectionResetError()).kind == "connection"
    assert ErrorInfo.from_exception(ValueError("boom")) == ErrorInfo(kind="unknown")


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_raise_for_error_raises_the_class_of_each_kind(kind: ErrorKind) -> None:
    info = ErrorInfo(kind=kind, status=418, code="c", request_id="r", retryable=True, retry_after=1.5,
                     provider_message="words")
    stop = "aborted" if kind == "aborted" else "error"
    message = AssistantMessage(stop_reason=stop, error_message=f"it failed: {kind}", error=info)
    with pytest.raises(ProviderError) as raised:
        message.raise_for_error()
    error = raised.value
    assert type(error) is ERROR_KINDS[kind].exception
    assert str(error) == f"it failed: {kind}" and error.partial is message
    assert error.info == info


def test_raise_for_error_classifies_a_message_read_without_error_info() -> None:
    message = AssistantMessage(stop_reason="error", error_message="prompt is too long: 300000 tokens > 200000 maximum")
    with pytest.raises(ContextOverflowError):
        message.raise_for_error()
    throttled = AssistantMessage(stop_reason="error", error_message="throttlingException: Too many tokens, please wait")
    with pytest.raises(RateLimitError):
        throttled.raise_for_error()
    with pytest.raises(AbortedError):
        AssistantMessage(stop_reason="aborted", error_message="Request was aborted").raise_for_error()


def test_error_info_round_trips_through_context_json() -> None:
    info = ErrorInfo(
        kind="rate_limit", status=429, code="rate_limit_error", request_id="req_1", retryable=True,
        retry_after=2.0, provider_message="slow down",
    )
    failed = AssistantMessage(api="a", provider="p", model="m", stop_reason="error", error_message="429", error=info)
    context = Context(messages=[UserMessage("hi"), failed])
    saved = orjson.loads(context.to_json())
    assert saved["messages"][1]["errorInfo"] == {
        "kind": "rate_limit", "retryable": True, "status": 429, "code": "rate_limit_error",
        "requestId": "req_1", "retryAfter": 2.0, "providerMessage": "slow down",
    }
    loaded = Context.from_json(context.to_json())
    assert loaded.messages[1] == failed
    assert "errorInfo" not in AssistantMessage(stop_reason="stop").to_dict()


def test_pi_ai_json_without_error_info_still_reads_as_overflow() -> None:
    raw = {
        "role": "assistant", "content": [], "api": "anthropic-messages", "provider": "anthropic", "model": "m",
        "usage": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 0,
                  "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": 0}},
        "stopReason": "error", "errorMessage": "prompt is too long: 213462 tokens > 200000 maximum", "timestamp": 1,
    }
    message = AssistantMessage.from_dict(raw)
    assert message.error is None and is_context_overflow(message)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"kind": "nope"}, "errorInfo.kind"),
        ({"kind": "server", "retryable": "yes"}, "errorInfo.retryable"),
        ({"kind": "server", "status": "429"}, "errorInfo.status"),
        ({"kind": "server", "retryAfter": "2"}, "errorInfo.retryAfter"),
        ({"kind": "server", "code": 5}, "errorInfo.code"),
        ("server", "errorInfo"),
    ],
)
def test_malformed_error_info_names_the_field(data: object, path: str) -> None:
    with pytest.raises(ValueError, match=path.replace(".", r"\.")):
        ErrorInfo.from_dict(data)


def test_error_info_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        ErrorInfo(kind="bogus")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the classifier


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        ({"status": 429}, "rate_limit"),
        ({"status": 413}, "context_overflow"),
        ({"status": 418}, "invalid_request"),
        ({"status": 599}, "server"),
        ({"status": 503, "code": "server_error", "codes": {"server_error": "server"}}, "overloaded"),
        ({"status": 401, "code": "invalid_api_key", "codes": {"invalid_api_key": "auth"}}, "auth"),
        ({"status": 429, "code": "insufficient_quota", "codes": {"insufficient_quota": "permission"}}, "permission"),
        ({"status": 400, "text": "prompt is too long: 9 > 8"}, "context_overflow"),
        ({"status": 429, "text": "Too many tokens in the prompt"}, "rate_limit"),
        ({"text": "Ollama: prompt too long; exceeded max context length by 12 tokens"}, "context_overflow"),
        ({"text": "throttlingException: Too many tokens, please wait"}, "rate_limit"),
        ({"text": "Anthropic stream error overloaded_error: Overloaded"}, "overloaded"),
        ({"text": "something odd"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_classify_error(args: dict[str, Any], kind: ErrorKind) -> None:
    assert classify_error(**args) == kind


# --------------------------------------------------------------------------- the emitter and secrets


def test_an_error_without_info_is_classified_from_its_text() -> None:
    from alchemy.emitter import EventEmitter

    emitter = EventEmitter(AssistantMessage())
    emitter.error("prompt is too long: 300000 tokens > 200000 maximum")
    assert emitter.message.error == ErrorInfo(kind="context_overflow")
    scripted = EventEmitter(AssistantMessage())
    scripted.error("Rate limit reached for requests")
    assert scripted.message.error == ErrorInfo(kind="rate_limit", retryable=True)


def test_the_providers_words_pass_the_streams_redactor() -> None:
    from alchemy.emitter import EventEmitter
    from alchemy.request import Secrets

    secret = "sk-" "redact-me-0123456789abcdef"  # fake, split so it never looks like a real key
    emitter = EventEmitter(AssistantMessage(), secrets=Secrets([secret]))
    emitter.error(f"bad key {secret}", info=ErrorInfo(kind="auth", provider_message=f"bad key {secret}"))
    info = emitter.message.error
    assert info is not None and info.kind == "auth"
    assert secret[4:12] not in (info.provider_message or "") and secret[4:12] not in repr(emitter.message)


@pytest.mark.parametrize("api", APIS)
def test_a_key_echoed_in_an_error_body_is_not_in_the_error_info(server: ReplayServer, api: str) -> None:
    message = run(server, api, Replay(api=api, faults=[HttpError(401, message=f"Incorrect API key provided: {KEY}")]))
    info = failed_with(message)
    assert info.kind == "auth"
    assert KEY not in repr(info) and KEY not in orjson.dumps(message.to_dict()).decode()
