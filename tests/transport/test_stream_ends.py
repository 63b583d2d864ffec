"""How a stream ends on every wire API: cut streams, in-stream overloads, redirects.

* A stream cut before the provider's final event ends ``error`` on every API (Bedrock
  cut after ``messageStop`` but before ``metadata`` included), keeping the content,
  with the usage the provider never sent estimated from the request and the content
  received (``usage.estimated``) and priced -- never a silent 0.
* An overload reported inside the 200 stream before any content is retried on every
  API (the provider's documented error shape), sync and async.
* A 3xx answer is reported as a redirect, with its status and ``Location``, not followed.

Everything runs through the real replay server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import alchemy
from alchemy import AssistantMessage, Context, Model, ModelCost, UserMessage
from alchemy.models import calculate_cost
from alchemy.testing import Drop, ErrorEvent, HttpError, Raw, Replay, ReplayServer
from alchemy.testing.recordings import DEFAULT_RECORDING_FOR_API, RecordingLibrary
from support import WIRE_MODEL_IDS, bundled_registry, no_base_url_override, replay_server, wire_model  # noqa: F401

KEY = "test-key-not-real-" "7Hq2"
PRICES = ModelCost(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
CONTEXT = Context(system_prompt="Be brief.", messages=[UserMessage("What is the weather in Paris today?")])
APIS = list(WIRE_MODEL_IDS)

FINAL_EVENTS = {
    "openai-completions": 1,  # the chunk with finish_reason and usage ([DONE] follows)
    "openai-responses": 1,  # response.completed
    "azure-openai-responses": 1,
    "anthropic-messages": 2,  # message_delta (the usage) and message_stop
    "bedrock-converse-stream": 2,  # messageStop and metadata (the usage)
    "google-generative-ai": 1,  # the candidate with finishReason and the final usageMetadata
    "google-vertex": 1,
    "mistral-conversations": 1,  # the chunk with finish_reason and usage ([DONE] follows)
    "cohere-chat": 1,  # message-end (finish reason and usage)
}
"""How many events at the end of each API's bundled recording carry its final usage and end."""

RUNNING_USAGE = frozenset({"google-generative-ai", "google-vertex"})
"""APIs that repeat the running usage in every event: a cut keeps what was reported (estimated only
where the content received shows more)."""


def recording_length(api: str) -> int:
    return len(RecordingLibrary().get(DEFAULT_RECORDING_FOR_API[api]))


def priced_model(api: str, server: ReplayServer) -> Model:
    return wire_model(api, server.base_url_for(api), cost=PRICES)


def run(mode: str, model: Model, **options: Any) -> AssistantMessage:
    if mode == "sync":
        return alchemy.complete(model, CONTEXT, api_key=KEY, **options)
    return asyncio.run(alchemy.acomplete(model, CONTEXT, api_key=KEY, **options))


def assert_estimated_and_priced(message: AssistantMessage, model: Model, *, reported: bool = False) -> None:
    """Usage that is never a silent 0: estimated (unless the provider ``reported`` it), counted and priced."""
    usage = message.usage
    assert usage.estimated or reported, usage
    assert usage.input > 0 and usage.output > 0, usage
    assert usage.total_tokens == usage.input + usage.output + usage.cache_read + usage.cache_write
    expected = calculate_cost(model, usage).total
    assert usage.cost.total is not None and usage.cost.total > 0 and usage.cost.total == pytest.approx(expected)


# --------------------------------------------------------------------------- cut streams


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("api", APIS)
def test_a_stream_cut_before_its_final_event_ends_error_with_estimated_priced_usage(
    api: str, mode: str, replay_server: ReplayServer
) -> None:
    cut = recording_length(api) - FINAL_EVENTS[api]
    replay_server.enqueue(Replay(api=api, faults=[Drop(after_events=cut)]))
    model = priced_model(api, replay_server)
    message = run(mode, model, max_retries=0)
    assert message.stop_reason == "error", message.error_message
    assert message.content, "what arrived before the cut is kept"
    assert_estimated_and_priced(message, model, reported=api in RUNNING_USAGE)


@pytest.mark.parametrize("api", APIS)
def test_a_body_that_ends_cleanly_before_its_final_event_ends_error(api: str, replay_server: ReplayServer) -> None:
    events = RecordingLibrary().get(DEFAULT_RECORDING_FOR_API[api]).events
    kept = list(events[: len(events) - FINAL_EVENTS[api]])
    # The same events, and no end marker: Chat Completions and Mistral use Gemini's framing
    # (the same data: lines, with no [DONE] after them).
    framing = "google-generative-ai" if api in ("openai-completions", "mistral-conversations") else api
    replay_server.enqueue(Replay(kept, api=framing))
    model = priced_model(api, replay_server)
    message = run("sync", model, max_retries=0)
    assert message.stop_reason == "error", message.error_message
    assert "connection was lost" not in (message.error_message or ""), "the parser, not the transport, saw the end"
    assert message.content
    assert_estimated_and_priced(message, model, reported=api in RUNNING_USAGE)


def test_bedrock_cut_after_message_stop_before_metadata_ends_error(replay_server: ReplayServer) -> None:
    api = "bedrock-converse-stream"
    events = RecordingLibrary().get(DEFAULT_RECORDING_FOR_API[api]).events
    assert isinstance(events[-1], bytes) and b"metadata" in events[-1]
    replay_server.enqueue(Replay(list(events[:-1]), api=api))  # the body ends cleanly after messageStop
    model = priced_model(api, replay_server)
    message = run("sync", model, max_retries=0)
    assert message.stop_reason == "error"
    assert "after messageStop but before its final metadata event" in (message.error_message or "")
    assert_estimated_and_priced(message, model)


def test_chat_completions_cut_after_finish_reason_before_usage_ends_error(replay_server: ReplayServer) -> None:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Sunny."}}]}
    final = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    # Gemini's framing: the same data: lines, and the body ends cleanly with no [DONE].
    replay_server.enqueue(Replay([chunk, final], api="google-generative-ai"))
    model = priced_model("openai-completions", replay_server)
    message = run("sync", model, max_retries=0)
    assert message.stop_reason == "error" and message.text == "Sunny."
    assert "before its usage" in (message.error_message or "")
    assert_estimated_and_priced(message, model)


def test_a_provider_that_reports_no_usage_gets_an_estimate(replay_server: ReplayServer) -> None:
    # A server that streams no usage at all (no stream_options support) ends done: estimated, not 0.
    chunk = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Sunny."}}]}
    final = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    replay_server.enqueue(Replay([chunk, final], api="openai-completions"))
    model = priced_model("openai-completions", replay_server)
    message = run("sync", model)
    assert message.stop_reason == "stop" and message.text == "Sunny."
    assert_estimated_and_priced(message, model)


def test_reported_usage_is_kept_on_done(replay_server: ReplayServer) -> None:
    replay_server.enqueue(Replay(api="anthropic-messages"))
    message = run("sync", priced_model("anthropic-messages", replay_server))
    assert message.stop_reason == "toolUse" and not message.usage.estimated
    assert (message.usage.input, message.usage.output) == (402, 96)


def test_an_abort_mid_stream_estimates_the_usage_never_sent(replay_server: ReplayServer) -> None:
    replay_server.enqueue(Replay(api="openai-completions", delay=0.002))
    model = priced_model("openai-completions", replay_server)
    with alchemy.stream(model, CONTEXT, api_key=KEY) as events:
        for event in events:
            if event.type == "text_delta":
                break
    message = events.result()
    assert message.stop_reason == "aborted"
    assert_estimated_and_priced(message, model)


def test_a_failure_before_the_response_estimates_nothing(replay_server: ReplayServer) -> None:
    replay_server.enqueue(Replay.http_error(400, api="anthropic-messages"))
    message = run("sync", priced_model("anthropic-messages", replay_server))
    assert message.stop_reason == "error" and message.usage.total_tokens == 0 and not message.usage.estimated


# --------------------------------------------------------------------------- in-stream overloads

DOCUMENTED_OVERLOADS: dict[str, bytes | Raw | None] = {
    "openai-completions": None,  # the replay server's default: each provider's own overload error
    "openai-responses": None,
    "azure-openai-responses": None,
    "anthropic-messages": None,  # overloaded_error
    "bedrock-converse-stream": None,  # throttlingException
    "google-generative-ai": b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}',
    "google-vertex": b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}',
    "mistral-conversations": (
        b'{"object": "error", "message": "Service unavailable", "type": "server_error", "param": null, "code": "3000"}'
    ),
    "cohere-chat": None,  # message-end with finish_reason ERROR
}
"""The overload each API reports inside a 200 stream: the replay server's default shape, or Gemini's
``503 UNAVAILABLE`` error object and Mistral's ``server_error`` object as their APIs send them."""


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("api", APIS)
def test_an_overload_before_content_is_retried(api: str, mode: str, replay_server: ReplayServer) -> None:
    payload = DOCUMENTED_OVERLOADS[api]
    first = Replay([payload], api=api) if payload is not None else Replay(api=api, faults=[ErrorEvent(0)])
    replay_server.enqueue(first, Replay(api=api))
    before = len(replay_server.requests)
    message = run(mode, wire_model(api, replay_server.base_url_for(api)), max_retry_delay=0.01)
    assert message.stop_reason == "toolUse", message.error_message
    assert len(replay_server.requests) - before == 2
    assert message.metrics is not None and message.metrics.retries == 1


@pytest.mark.parametrize("api", ["google-generative-ai", "mistral-conversations"])
def test_an_overload_after_content_is_not_retried(api: str, replay_server: ReplayServer) -> None:
    replay_server.enqueue(Replay(api=api, delay=0.002, faults=[ErrorEvent(3)]))
    before = len(replay_server.requests)
    message = run("sync", wire_model(api, replay_server.base_url_for(api)), max_retry_delay=0.01)
    assert message.stop_reason == "error" and message.content
    assert len(replay_server.requests) - before == 1, "content reached the consumer: never sent twice"


# --------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_reported_with_its_status_and_location(
    status: int, mode: str, replay_server: ReplayServer
) -> None:
    api = "anthropic-messages"
    where = "https://api.elsewhere.example/v1/messages"
    replay_server.enqueue(Replay(api=api, faults=[HttpError(status, headers={"location": where})]))
    before = len(replay_server.requests)
    message = run(mode, wire_model(api, replay_server.base_url_for(api)))
    text = message.error_message or ""
    assert message.stop_reason == "error"
    assert f"HTTP {status}" in text and f"redirected the request to {where}" in text and "not followed" in text
    assert "empty" not in text
    assert len(replay_server.requests) - before == 1, "neither followed nor retried"


def test_a_redirect_without_location_says_so(replay_server: ReplayServer) -> None:
    api = "openai-completions"
    replay_server.enqueue(Replay(api=api, faults=[HttpError(302)]))
    message = run("sync", wire_model(api, replay_server.base_url_for(api)))
    assert "HTTP 302" in (message.error_message or "") and "without a Location header" in (message.error_message or "")


# --------------------------------------------------------------------------- the emitter's rule


def test_usage_reported_at_the_start_is_completed_from_the_content_on_error() -> None:
    from alchemy.emitter import EventEmitter, new_partial
    from alchemy.types import Usage

    model = wire_model("anthropic-messages", cost=PRICES)
    emitter = EventEmitter(new_partial(model), model=model, context=CONTEXT)
    emitter.start()
    emitter.set_usage(Usage(input=40, cache_read=300, output=1))  # Anthropic's message_start
    emitter.text_delta("It is sunny in Paris today, with a light breeze from the west. " * 4)
    emitter.error("cut")
    usage = emitter.message.usage
    assert usage.estimated and (usage.input, usage.cache_read) == (40, 300) and usage.output > 40
    assert usage.cost.total == pytest.approx(calculate_cost(model, usage).total)


def test_an_emitter_without_the_request_estimates_nothing() -> None:
    from alchemy.emitter import EventEmitter, new_partial

    model = wire_model("anthropic-messages", cost=PRICES)
    emitter = EventEmitter(new_partial(model), model=model)
    emitter.text_delta("Sunny.")
    emitter.error("cut")
    assert emitter.message.usage.total_tokens == 0 and not emitter.message.usage.estimated
