"""The OpenAI Responses provider, sans-I/O: request bodies, the stream parser, replay and errors.

The parser is fed the wire bytes of every shared Responses fixture at several
chunkings, through a real :class:`EventEmitter`; the final message is checked
against what the fixture's own JSON says (tests/responses_fixtures.py). End-to-end
runs through a real HTTP server are in test_openai_responses_e2e.py; Azure's
addressing in test_azure_openai_responses.py.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from typing import Any

import orjson
import pytest
import responses_fixtures as rf
import support
from protocol_checks import assert_protocol

from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import (
    MissingApiKeyError,
    ProviderStreamError,
    StreamInterruptedError,
    UnsupportedCapabilityError,
)
from alchemy.events import Done, Error
from alchemy.models import calculate_cost, get_model
from alchemy.providers import _responses_shared as shared
from alchemy.providers.openai_responses import provider
from alchemy.options import StreamOptions
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    TextContent,
    ThinkingContent,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

GPT5 = get_model("openai", "gpt-5")
GPT51 = get_model("openai", "gpt-5.1")
GPT52 = get_model("openai", "gpt-5.2")
GPT5_MINI = get_model("openai", "gpt-5-mini")
GPT4O = get_model("openai", "gpt-4o")
O3 = get_model("openai", "o3")
GPT5_PRO = get_model("openai", "gpt-5-pro")
KEY = "test-openai-key-not-real"

WEATHER = Tool(
    "get_weather",
    "Weather in a city",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)

SEGMENTS = rf.all_segments()
SEGMENT_IDS = [name for name, _ in SEGMENTS]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALCHEMY_BASE_URL_OVERRIDE", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def options(**own: Any) -> StreamOptions:
    return StreamOptions(api_key=KEY, provider_options=own)


def body_of(model: Model, context: Context, opts: StreamOptions | None = None) -> dict[str, Any]:
    request = provider.build_request(model, context, opts or options())
    body: dict[str, Any] = request.body
    return body


def hello(**kwargs: Any) -> Context:
    return Context(messages=[UserMessage("Hello")], **kwargs)


# --------------------------------------------------------------------------- parsing helpers


def split(data: bytes, how: str) -> list[bytes]:
    if how == "whole":
        return [data]
    if how == "bytes=7":
        return [data[i : i + 7] for i in range(0, len(data), 7)]
    if how == "event":
        return [piece + b"\n\n" for piece in data.split(b"\n\n") if piece]
    rng = random.Random(how)
    pieces, position = [], 0
    while position < len(data):
        size = rng.randint(1, 97)
        pieces.append(data[position : position + size])
        position += size
    return pieces


def parse(
    events: list[dict[str, Any]] | bytes,
    *,
    model: Model = GPT5,
    how: str = "whole",
    opts: StreamOptions | None = None,
    finish: bool = True,
) -> tuple[AssistantMessage, list[Any]]:
    """Feeds the wire bytes into a fresh parser; a raised provider error ends the stream as the runner does."""
    data = events if isinstance(events, bytes) else rf.wire(events)
    emitter = EventEmitter(new_partial(model), model=model)
    emitter.start()
    parser = provider.create_parser(model, opts or options(), emitter)
    try:
        for piece in split(data, how):
            parser.feed(piece)
        if finish:
            parser.finish()
    except (ProviderStreamError, StreamInterruptedError) as exc:
        emitter.error(str(exc))
    events_out = list(emitter.buffer)
    return assert_protocol(events_out), events_out


def payload(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def created(response_id: str = "resp_1") -> dict[str, Any]:
    return payload("response.created", response={"id": response_id, "status": "in_progress", "output": []})


def completed(status: str = "completed", usage: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    response = {"id": "resp_1", "status": status, "usage": usage, **extra}
    return payload("response.completed", response=response)


def message_events(text: str, item_id: str = "msg_1", phase: str | None = None) -> list[dict[str, Any]]:
    item = {"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    if phase:
        item["phase"] = phase
    done = {**item, "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}
    return [
        payload("response.output_item.added", output_index=0, item=item),
        *[payload("response.output_text.delta", item_id=item_id, delta=ch) for ch in text],
        payload("response.output_item.done", output_index=0, item=done),
    ]


USAGE = {
    "input_tokens": 1000,
    "input_tokens_details": {"cached_tokens": 400},
    "output_tokens": 300,
    "output_tokens_details": {"reasoning_tokens": 120},
    "total_tokens": 1300,
}


# --------------------------------------------------------------------------- every shared fixture


@pytest.mark.parametrize("how", ["whole", "event", "bytes=7", "random-1", "random-2"])
@pytest.mark.parametrize(("name", "events"), SEGMENTS, ids=SEGMENT_IDS)
def test_every_fixture_parses_to_what_it_says(name: str, events: list[dict[str, Any]], how: str) -> None:
    support.require_shared()
    message, _ = parse(events, how=how)
    rf.check_message(message, rf.expected_from(events), GPT5)


def test_the_fixture_set_is_complete() -> None:
    support.require_shared()
    names = {rf.fixture_id(path) for path in rf.fixture_paths()}
    assert "openai/openai-error.1" in names and "azure/azure-text.1" in names
    assert "open-responses/lmstudio-tool-call.2" in names and "xai/xai-x-search-tool" in names
    assert "xai/xai-text-with-reasoning-streaming-store-false.1" in names
    assert not {"openai/azure-model-router.1", "openai/openai-completion-text"} & names
    assert len(SEGMENTS) == len(names) + 4  # two fixtures hold 4 and 2 responses


def test_error_fixture_ends_with_a_clear_error() -> None:
    support.require_shared()
    events = rf.load_payloads(support.FIXTURES / "openai" / "openai-error.1.chunks.txt")
    message, out = parse(events)
    assert isinstance(out[-1], Error)
    assert message.stop_reason == "error"
    assert message.error_message is not None
    assert message.error_message.startswith("OpenAI stream error insufficient_quota: You exceeded your current quota")
    assert message.response_id == "resp_05500b38c2cd9bfc00691c7c9d222481a3b595421266dab424"


def test_reasoning_summary_parts_are_separated_by_a_blank_line() -> None:
    item = {"id": "rs_1", "type": "reasoning", "encrypted_content": "enc", "summary": []}
    parts = ["**Plan**\n\nFirst part.", "Second part."]
    done = {**item, "summary": [{"type": "summary_text", "text": t} for t in parts]}
    events = [
        created(),
        payload("response.output_item.added", item=item),
        payload("response.reasoning_summary_part.added", item_id="rs_1", summary_index=0),
        payload("response.reasoning_summary_text.delta", item_id="rs_1", summary_index=0, delta=parts[0][:5]),
        payload("response.reasoning_summary_text.delta", item_id="rs_1", summary_index=0, delta=parts[0][5:]),
        payload("response.reasoning_summary_part.done", item_id="rs_1", summary_index=0),
        payload("response.reasoning_summary_part.added", item_id="rs_1", summary_index=1),
        payload("response.reasoning_summary_text.delta", item_id="rs_1", summary_index=1, delta=parts[1]),
        payload("response.output_item.done", item=done),
        *message_events("Answer"),
        completed(),
    ]
    message, _ = parse(events, how="bytes=7")
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingContent)
    assert thinking.thinking == "\n\n".join(parts)
    assert orjson.loads(thinking.thinking_signature or "") == done
    assert message.text == "Answer"


def test_refusal_deltas_are_text() -> None:
    item = {"id": "msg_r", "type": "message", "content": [], "role": "assistant"}
    done = {**item, "content": [{"type": "refusal", "refusal": "I can't help with that."}]}
    events = [
        created(),
        payload("response.output_item.added", item=item),
        payload("response.content_part.added", item_id="msg_r", part={"type": "refusal", "refusal": ""}),
        payload("response.refusal.delta", item_id="msg_r", delta="I can't "),
        payload("response.refusal.delta", item_id="msg_r", delta="help with that."),
        payload("response.output_item.done", item=done),
        completed(),
    ]
    message, _ = parse(events)
    assert message.text == "I can't help with that." and message.stop_reason == "stop"


def test_items_without_deltas_still_give_their_content() -> None:
    """A server that sends only output_item.done (no added, no deltas) loses nothing."""
    reasoning = {"id": "rs_9", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Thought."}]}
    msg = {"id": "msg_9", "type": "message", "content": [{"type": "output_text", "text": "Hi!"}], "phase": "final_answer"}
    call = {"id": "fc_9", "type": "function_call", "call_id": "call_9", "name": "get_weather", "arguments": '{"location":"Oslo"}'}
    events = [created(), *(payload("response.output_item.done", item=i) for i in (reasoning, msg, call)), completed()]
    message, _ = parse(events, how="bytes=7")
    assert [type(b).__name__ for b in message.content] == ["ThinkingContent", "TextContent", "ToolCall"]
    assert message.thinking == "Thought." and message.text == "Hi!"
    assert orjson.loads(message.content[1].text_signature or "") == {"v": 1, "id": "msg_9", "phase": "final_answer"}
    assert message.tool_calls[0].id == "call_9|fc_9" and message.tool_calls[0].arguments == {"location": "Oslo"}
    assert message.stop_reason == "toolUse"


def test_function_call_arguments_stream_through_the_merger() -> None:
    item = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": ""}
    arguments = '{"location": "San Francisco", "unit": "celsius"}'
    events = [
        created(),
        payload("response.output_item.added", item=item),
        *[
            payload("response.function_call_arguments.delta", item_id="fc_1", delta=arguments[i : i + 5])
            for i in range(0, len(arguments), 5)
        ],
        payload("response.function_call_arguments.done", item_id="fc_1", arguments=arguments),
        payload("response.output_item.done", item={**item, "arguments": arguments, "status": "completed"}),
        completed(),
    ]
    message, out = parse(events)
    deltas = "".join(e.delta for e in out if e.type == "toolcall_delta")
    assert deltas == arguments
    assert message.tool_calls[0].arguments == {"location": "San Francisco", "unit": "celsius"}
    partials = [e for e in out if e.type == "toolcall_delta"]
    assert partials  # best-effort arguments are readable mid-stream
    assert message.stop_reason == "toolUse"


def test_unknown_items_are_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Server-run items are server tool calls (test_responses_server_tools.py); unknown ones are skipped."""
    events = [
        created(),
        payload("response.output_item.added", item={"id": "zz_1", "type": "future_call", "status": "in_progress"}),
        payload("response.output_item.done", item={"id": "zz_1", "type": "future_call", "status": "completed"}),
        payload("response.output_item.done", item={"id": "cmp_1", "type": "compaction", "encrypted_content": "x"}),
        *message_events("Found it."),
        completed(),
    ]
    with caplog.at_level(logging.DEBUG, logger="alchemy.providers.responses"):
        message, _ = parse(events)
    assert message.text == "Found it." and message.stop_reason == "stop" and len(message.content) == 1
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "future_call (id zz_1)" in logged and "compaction (id cmp_1)" in logged


# --------------------------------------------------------------------------- usage, cost and service tiers


def test_usage_takes_cached_tokens_out_of_input_and_counts_reasoning_once() -> None:
    message, _ = parse([created(), *message_events("x"), completed(usage=USAGE, service_tier="default")])
    usage = message.usage
    assert (usage.input, usage.cache_read, usage.output, usage.reasoning, usage.total_tokens) == (600, 400, 300, 120, 1300)
    assert usage.service_tier == "default"
    assert usage.cost == calculate_cost(GPT5, Usage(600, 300, 400, 0, 1300, reasoning=120))


@pytest.mark.parametrize(("tier", "factor"), [("flex", 0.5), ("priority", 2.0), ("default", 1.0)])
def test_service_tier_of_the_response_prices_the_usage(tier: str, factor: float) -> None:
    base, _ = parse([created(), completed(usage=USAGE, service_tier="default")])
    tiered, _ = parse([created(), completed(usage=USAGE, service_tier=tier)])
    assert tiered.usage.service_tier == tier
    assert tiered.usage.cost.total == pytest.approx((base.usage.cost.total or 0) * factor)


def test_requested_service_tier_applies_when_the_response_names_none() -> None:
    message, _ = parse([created(), completed(usage=USAGE)], opts=options(service_tier="flex"))
    base, _ = parse([created(), completed(usage=USAGE)])
    assert message.usage.service_tier == "flex"
    assert message.usage.cost.total == pytest.approx((base.usage.cost.total or 0) * 0.5)


def test_usage_is_kept_when_the_response_fails() -> None:
    failed = payload(
        "response.failed",
        response={"id": "resp_1", "status": "failed", "usage": USAGE, "error": {"code": "server_error", "message": "boom"}},
    )
    message, _ = parse([created(), *message_events("partial"), failed])
    assert message.stop_reason == "error"
    assert message.error_message == "OpenAI response failed: server_error: boom"
    assert message.usage.input == 600 and message.text == "partial"


# --------------------------------------------------------------------------- stop reasons and errors


def test_incomplete_for_max_output_tokens_is_a_length_stop() -> None:
    incomplete = payload(
        "response.incomplete",
        response={"id": "resp_1", "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "usage": USAGE},
    )
    message, out = parse([created(), *message_events("cut"), incomplete])
    assert isinstance(out[-1], Done) and message.stop_reason == "length" and message.usage.output == 300


def test_completed_with_status_incomplete_is_a_length_stop() -> None:
    message, _ = parse([created(), *message_events("cut"), completed(status="incomplete", usage=USAGE)])
    assert message.stop_reason == "length"


def test_incomplete_for_a_content_filter_is_an_error() -> None:
    incomplete = payload(
        "response.incomplete",
        response={"id": "resp_1", "status": "incomplete", "incomplete_details": {"reason": "content_filter"}},
    )
    message, _ = parse([created(), *message_events("partial"), incomplete])
    assert message.stop_reason == "error"
    assert message.error_message == "OpenAI response incomplete: content_filter"
    assert message.text == "partial"


@pytest.mark.parametrize(
    ("event", "text", "retryable"),
    [
        (
            {"type": "error", "error": {"type": "server_error", "code": "server_error", "message": "Overloaded"}},
            "OpenAI stream error server_error: Overloaded",
            True,
        ),
        (
            {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None},
            "OpenAI stream error rate_limit_exceeded: Slow down",
            True,
        ),
        (
            {"type": "error", "code": "invalid_prompt", "message": "Bad prompt", "param": "input"},
            "OpenAI stream error invalid_prompt: Bad prompt (param input)",
            False,
        ),
        ({"type": "error"}, "OpenAI stream error unknown_error: no message given", False),
    ],
)
def test_error_events_nested_and_flat(event: dict[str, Any], text: str, retryable: bool) -> None:
    error = shared.stream_error("OpenAI", event)
    assert str(error) == text and error.retryable is retryable
    message, _ = parse([created(), *message_events("kept"), event])
    assert message.stop_reason == "error" and message.error_message == text and message.text == "kept"


def test_failed_without_error_object() -> None:
    failed = payload("response.failed", response={"id": "r", "status": "cancelled"})
    message, _ = parse([created(), failed])
    assert message.error_message == "OpenAI response cancelled"


def test_completed_with_failed_status_is_an_error() -> None:
    message, _ = parse([created(), completed(status="failed", error={"code": "server_error", "message": "x"})])
    assert message.stop_reason == "error" and message.error_message == "OpenAI response failed: server_error: x"


def test_a_stream_cut_before_completion_keeps_what_arrived() -> None:
    events = [created(), *message_events("Hello there")[:-1]]
    message, out = parse(events, how="bytes=7")
    assert isinstance(out[-1], Error)
    assert message.text == "Hello there"
    assert "ended before the response was complete" in (message.error_message or "")


def test_malformed_json_is_a_clear_interruption() -> None:
    data = rf.wire([created(), *message_events("ok")[:2]]) + b"event: response.output_text.delta\ndata: {\"type\": \"resp\n\n"
    message, _ = parse(data, finish=False)
    assert message.stop_reason == "error"
    assert "not valid JSON" in (message.error_message or "") and message.text == "o"


def test_events_after_completion_are_ignored() -> None:
    events = [created(), *message_events("one"), completed(), created("resp_2"), *message_events("two", "msg_2"), completed()]
    message, out = parse(events)
    assert message.text == "one" and sum(isinstance(e, Done) for e in out) == 1


def test_events_without_sse_names_dispatch_on_their_type() -> None:
    data = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in [created(), *message_events("plain"), completed()])
    message, _ = parse(data)
    assert message.text == "plain" and message.response_id == "resp_1"


# --------------------------------------------------------------------------- request bodies


def test_basic_body() -> None:
    request = provider.build_request(GPT4O, hello(system_prompt="Be brief."), options())
    assert request.method == "POST" and request.url == "https://api.openai.com/v1/responses"
    assert request.body == {
        "model": "gpt-4o",
        "input": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
        ],
        "stream": True,
        "store": False,
    }
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert request.secrets == (KEY,)
    assert KEY not in repr(request)


def test_reasoning_model_gets_developer_prompt_and_encrypted_reasoning() -> None:
    body = body_of(GPT5, hello(system_prompt="Be brief."))
    assert body["input"][0] == {"role": "developer", "content": "Be brief."}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert "reasoning" not in body


@pytest.mark.parametrize(
    ("own", "reasoning"),
    [
        ({"reasoning_effort": "high"}, {"effort": "high", "summary": "auto"}),
        ({"reasoning_summary": "detailed"}, {"summary": "detailed"}),  # no effort invented: the model's default
        ({"reasoning_effort": "low", "reasoning_summary": "concise"}, {"effort": "low", "summary": "concise"}),
    ],
)
def test_reasoning_options(own: dict[str, str], reasoning: dict[str, str]) -> None:
    body = body_of(GPT5, hello(), options(**own))
    assert body["reasoning"] == reasoning and body["include"] == ["reasoning.encrypted_content"]


def test_reasoning_off() -> None:
    body = body_of(GPT51, hello(), options(reasoning_effort="none"))
    assert body["reasoning"] == {"effort": "none"} and "include" not in body
    assert body["input"] == [{"role": "user", "content": [{"type": "input_text", "text": "Hello"}]}]


@pytest.mark.parametrize(("model", "effort"), [(GPT5, "none"), (O3, "none"), (GPT5, "xhigh"), (GPT5_PRO, "low")])
def test_an_effort_the_model_does_not_list_is_refused(model: Model, effort: str) -> None:
    with pytest.raises(ValueError, match=f"option reasoning_effort must be one of .* for model openai/{model.id}"):
        provider.check_request(model, hello(), options(reasoning_effort=effort))
    provider.check_request(GPT4O, hello(), options(reasoning_effort=effort))  # no reasoning: nothing to check


def test_reasoning_options_are_ignored_by_models_without_reasoning() -> None:
    body = body_of(GPT4O, hello(), options(reasoning_effort="high"))
    assert "reasoning" not in body and "include" not in body


def test_sampling_and_limits() -> None:
    opts = StreamOptions(api_key=KEY, temperature=0.3, max_tokens=256, provider_options={"service_tier": "flex"})
    body = body_of(GPT4O, hello(), opts)
    assert (body["temperature"], body["max_output_tokens"], body["service_tier"]) == (0.3, 256, "flex")
    # GPT-5 takes no temperature: it is left out rather than rejected by the API.
    assert "temperature" not in body_of(GPT5, hello(), opts)


@pytest.mark.parametrize(
    ("session", "retention", "model", "expected"),
    [
        ("s-1", None, GPT5, {"prompt_cache_key": "s-1"}),
        ("s-1", "short", GPT5, {"prompt_cache_key": "s-1"}),
        ("s-1", "long", GPT5, {"prompt_cache_key": "s-1", "prompt_cache_retention": "24h"}),
        ("s-1", "none", GPT5, {}),
        (None, "long", GPT5, {"prompt_cache_retention": "24h"}),
        ("s-1", "long", dataclasses.replace(GPT5, base_url="https://proxy.example/v1"), {"prompt_cache_key": "s-1"}),
    ],
)
def test_prompt_caching(session: str | None, retention: str | None, model: Model, expected: dict[str, str]) -> None:
    opts = StreamOptions(api_key=KEY, session_id=session, cache_retention=retention)  # type: ignore[arg-type]
    body = body_of(model, hello(), opts)
    got = {k: body[k] for k in ("prompt_cache_key", "prompt_cache_retention") if k in body}
    assert got == expected


def test_tools_and_canonical_tool_choice() -> None:
    context = hello(tools=[WEATHER])
    body = body_of(GPT5, context)
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": WEATHER.parameters,
            "strict": False,
        }
    ]
    assert "tool_choice" not in body
    cases: list[tuple[Any, Any]] = [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ({"name": "get_weather"}, {"type": "function", "name": "get_weather"}),
    ]
    for given, sent in cases:
        opts = StreamOptions(api_key=KEY, tool_choice=given)
        assert body_of(GPT5, context, opts)["tool_choice"] == sent


def test_canonical_request_options() -> None:
    opts = StreamOptions(
        api_key=KEY,
        top_p=0.5,
        parallel_tool_calls=False,
        user="user-7",
        metadata={"run": "r1"},
        top_logprobs=3,
        extra_body={"truncation": "auto", "reasoning": {"summary": "concise"}},
        provider_options={"reasoning_effort": "low"},
    )
    body = body_of(GPT5, hello(tools=[WEATHER]), opts)
    assert (body["top_p"], body["parallel_tool_calls"], body["metadata"]) == (0.5, False, {"run": "r1"})
    assert body["safety_identifier"] == "user-7" and "user" not in body
    assert body["top_logprobs"] == 3
    assert body["include"] == ["reasoning.encrypted_content", "message.output_text.logprobs"]
    # extra_body is merged last, key by key
    assert body["truncation"] == "auto" and body["reasoning"] == {"effort": "low", "summary": "concise"}


def test_user_field_follows_the_server() -> None:
    opts = StreamOptions(api_key=KEY, user="u-1")
    other = Model("grok-4", "Grok 4", "openai-responses", "xai", "https://api.x.ai/v1")
    assert body_of(other, hello(), opts)["user"] == "u-1"
    proxied = dataclasses.replace(GPT4O, base_url="https://proxy.example/v1")  # still OpenAI's model
    assert body_of(proxied, hello(), opts)["safety_identifier"] == "u-1"
    no_user = dataclasses.replace(GPT4O, capabilities=dataclasses.replace(GPT4O.caps, supports_user=False))
    body = body_of(no_user, hello(), opts)
    assert "user" not in body and "safety_identifier" not in body


def test_logprobs_alone_ask_only_for_the_include() -> None:
    body = body_of(GPT4O, hello(), StreamOptions(api_key=KEY, logprobs=True))
    assert body["include"] == ["message.output_text.logprobs"] and "top_logprobs" not in body
    assert "include" not in body_of(GPT4O, hello(), StreamOptions(api_key=KEY, logprobs=False))


@pytest.mark.parametrize(
    ("opts", "fragment"),
    [
        (StreamOptions(logprobs=False, top_logprobs=2), "top_logprobs=2 asks for log-probabilities"),
        (StreamOptions(metadata={f"k{i}": "v" for i in range(17)}), "at most 16 pairs"),
        (StreamOptions(metadata={"k" * 65: "v"}), "keys must be at most 64 characters"),
        (StreamOptions(metadata={"k": "v" * 513}), r"metadata\['k'\] must be at most 512 characters"),
    ],
)
def test_combinations_the_table_cannot_check_raise(opts: StreamOptions, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        provider.check_request(GPT4O, hello(), opts)


# --------------------------------------------------------------------------- logprobs on the message


def _logprob_events(with_logprobs: bool) -> list[dict[str, Any]]:
    entries = [
        [{"token": "Hel", "logprob": -0.25, "bytes": [72, 101, 108], "top_logprobs": [
            {"token": "Hel", "logprob": -0.25, "bytes": [72, 101, 108]},
            {"token": "Hi", "logprob": -1.5, "bytes": [72, 105]},
        ]}],
        [{"token": "lo", "logprob": 0, "bytes": [108, 111], "top_logprobs": []}, {"token": 5, "logprob": -1}],
    ]
    item = {"id": "msg_1", "type": "message", "content": [], "role": "assistant"}
    done = {**item, "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}
    deltas = []
    for text, entry in zip(("Hel", "lo"), entries):
        extra = {"logprobs": entry} if with_logprobs else {}
        deltas.append(payload("response.output_text.delta", item_id="msg_1", delta=text, **extra))
    return [created(), payload("response.output_item.added", item=item), *deltas,
            payload("response.output_item.done", item=done), completed()]  # fmt: skip


def test_logprobs_of_text_deltas_land_on_the_message() -> None:
    expected = [TokenLogprob("Hel", -0.25, (("Hel", -0.25), ("Hi", -1.5))), TokenLogprob("lo", 0.0)]
    message, _ = parse(_logprob_events(True), how="bytes=7", opts=StreamOptions(api_key=KEY, top_logprobs=2))
    assert message.text == "Hello" and message.logprobs == expected  # the malformed entry is skipped
    assert AssistantMessage.from_dict(message.to_dict()).logprobs == expected
    # not asked for (LM Studio sends them anyway): not kept
    message, _ = parse(_logprob_events(True))
    assert message.logprobs is None and "logprobs" not in message.to_dict()
    message, _ = parse(_logprob_events(False), opts=StreamOptions(api_key=KEY, logprobs=True))
    assert message.text == "Hello" and message.logprobs is None


def test_user_images_and_vision() -> None:
    image = ImageContent("aGVsbG8=", "image/png")
    context = Context(messages=[UserMessage([TextContent("What is this?"), image])])
    body = body_of(GPT5, context)
    assert body["input"][0]["content"] == [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64,aGVsbG8="},
    ]
    blind = dataclasses.replace(GPT4O, input=("text",), capabilities=None)
    parts = body_of(blind, context)["input"][0]["content"]
    assert all(part["type"] == "input_text" for part in parts)
    assert "does not accept images" in parts[-1]["text"]


def test_tool_results_text_and_images() -> None:
    call = ToolCall("call_1|fc_1", "get_weather", {"location": "Oslo"})
    turn = AssistantMessage(content=[call], api="openai-responses", provider="openai", model="gpt-5", stop_reason="toolUse")
    image = ImageContent("aGVsbG8=", "image/png")
    results = [
        ToolResultMessage("call_1|fc_1", "get_weather", [TextContent("Sunny"), TextContent("12 C")]),
    ]
    body = body_of(GPT5, Context(messages=[UserMessage("Weather?"), turn, *results]))
    assert body["input"][-1] == {"type": "function_call_output", "call_id": "call_1", "output": "Sunny\n12 C"}
    with_image = ToolResultMessage("call_1|fc_1", "get_weather", [image])
    body = body_of(GPT5, Context(messages=[UserMessage("Weather?"), turn, with_image]))
    assert body["input"][-1]["output"] == [
        {"type": "input_text", "text": "(see attached image)"},
        {"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64,aGVsbG8="},
    ]


def test_headers_and_organization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-1")
    opts = StreamOptions(api_key=KEY, headers={"Authorization": "Bearer other", "X-Trace": "t"})
    request = provider.build_request(GPT5, hello(), opts)
    assert request.headers["OpenAI-Organization"] == "org-1" and request.headers["OpenAI-Project"] == "proj-1"
    assert request.headers["Authorization"] == "Bearer other" and "authorization" not in request.headers
    assert request.headers["X-Trace"] == "t"


def test_key_from_the_environment_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-0123456789")
    request = provider.build_request(GPT5, hello(), StreamOptions())
    assert request.headers["authorization"] == "Bearer sk-env-0123456789" and request.secrets == ("sk-env-0123456789",)
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(MissingApiKeyError, match="OPENAI_API_KEY"):
        provider.build_request(GPT5, hello(), StreamOptions())


def test_base_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", "http://127.0.0.1:9/v1/")
    assert provider.build_request(GPT5, hello(), options()).url == "http://127.0.0.1:9/v1/responses"


def test_tools_for_a_model_without_tool_calling_are_refused() -> None:
    no_tools = dataclasses.replace(GPT4O, capabilities=dataclasses.replace(GPT4O.caps, supports_tools=False))
    with pytest.raises(UnsupportedCapabilityError):
        provider.build_request(no_tools, hello(tools=[WEATHER]), options())


# --------------------------------------------------------------------------- stream_simple levels


HAND_MADE_GPT = Model("gpt-5.3-custom", "x", "openai-responses", "openai", "http://h/v1", reasoning=True)
HAND_MADE_OTHER = Model("my-reasoner", "x", "openai-responses", "openai", "http://h/v1", reasoning=True)


@pytest.mark.parametrize(
    ("model", "level", "effort"),
    [
        (GPT5, "minimal", "minimal"),
        (GPT5, "low", "low"),
        (GPT5, "medium", "medium"),
        (GPT5, "high", "high"),
        (GPT5, "xhigh", "high"),
        (GPT5, "max", "high"),
        (GPT51, "minimal", "low"),  # gpt-5.1 lists none/low/medium/high
        (GPT52, "xhigh", "xhigh"),
        (GPT52, "max", "xhigh"),
        (GPT5_PRO, "low", "high"),
        (HAND_MADE_GPT, "xhigh", "xhigh"),
        (HAND_MADE_GPT, "max", "xhigh"),
        (HAND_MADE_OTHER, "xhigh", "high"),
        (HAND_MADE_OTHER, "minimal", "minimal"),
    ],
)
def test_simple_levels(model: Model, level: str, effort: str) -> None:
    mapped = provider.map_simple_options(model, StreamOptions(api_key=KEY, reasoning=level))  # type: ignore[arg-type]
    assert mapped.provider_options == {"reasoning_effort": effort, "reasoning_summary": "auto"}
    assert body_of(model, hello(), mapped)["reasoning"] == {"effort": effort, "summary": "auto"}


@pytest.mark.parametrize(("model", "effort"), [(GPT51, "none"), (GPT52, "none"), (GPT5, "minimal"), (GPT5_MINI, "minimal")])
def test_level_off(model: Model, effort: str) -> None:
    mapped = provider.map_simple_options(model, StreamOptions(api_key=KEY, reasoning="off"))
    assert mapped.provider_options == {"reasoning_effort": effort}  # no summary asked for
    body = body_of(model, hello(), mapped)
    assert body["reasoning"] == ({"effort": "none"} if effort == "none" else {"effort": effort, "summary": "auto"})


@pytest.mark.parametrize("model", [O3, GPT5_PRO, get_model("openai", "gpt-5-codex")])
def test_level_off_on_a_model_that_always_reasons_raises(model: Model) -> None:
    with pytest.raises(ValueError, match=f"reasoning 'off' is not available for model openai/{model.id}"):
        provider.map_simple_options(model, StreamOptions(api_key=KEY, reasoning="off"))


@pytest.mark.parametrize("model", [GPT51, GPT5, O3])
def test_no_level_sends_no_effort(model: Model) -> None:
    """As on Chat Completions: no level (or thinking_budgets alone) leaves the model's default."""
    for unchanged in (StreamOptions(api_key=KEY), StreamOptions(api_key=KEY, thinking_budgets={"high": 9000})):
        assert provider.map_simple_options(model, unchanged) is unchanged
    assert "reasoning" not in body_of(model, hello())


def test_simple_levels_leave_explicit_options_and_non_reasoning_models_alone() -> None:
    opts = StreamOptions(api_key=KEY, reasoning="high", provider_options={"reasoning_effort": "low"})
    assert provider.map_simple_options(GPT5, opts).provider_options["reasoning_effort"] == "low"
    assert provider.map_simple_options(GPT4O, opts) is opts


# --------------------------------------------------------------------------- replaying a turn


def _encrypted_fixture_turns() -> list[list[dict[str, Any]]]:
    support.require_shared()
    path = support.FIXTURES / "openai" / "openai-reasoning-encrypted-content.1.chunks.txt"
    return rf.segments(rf.load_payloads(path))


def test_same_model_replay_sends_the_exact_items_back() -> None:
    first = _encrypted_fixture_turns()[0]
    turn, _ = parse(first)
    call = turn.tool_calls[0]
    context = Context(
        messages=[
            UserMessage("What is (12 + 7) * 3 * 10?"),
            turn,
            ToolResultMessage(call.id, call.name, [TextContent("19")]),
        ],
        tools=[Tool("calculator", "Calculator", {"type": "object"})],
    )
    body = body_of(GPT5, context)
    done_items = [e["item"] for e in first if e["type"] == "response.output_item.done"]
    reasoning, function_call = done_items
    assert body["input"][1] == reasoning  # verbatim, encrypted_content included
    assert body["input"][2] == {
        "type": "function_call",
        "call_id": function_call["call_id"],
        "name": "calculator",
        "arguments": orjson.dumps(orjson.loads(function_call["arguments"])).decode(),
        "id": function_call["id"],
    }
    assert body["input"][3] == {"type": "function_call_output", "call_id": function_call["call_id"], "output": "19"}
    assert len(body["input"]) == 4


def test_whole_agent_loop_replays_every_turn() -> None:
    turns = _encrypted_fixture_turns()
    messages: list[Any] = [UserMessage("Compute.")]
    for events in turns:
        turn, _ = parse(events)
        messages.append(turn)
        for call in turn.tool_calls:
            messages.append(ToolResultMessage(call.id, call.name, [TextContent("ok")]))
    body = body_of(GPT5, Context(messages=messages))
    items = body["input"]
    sent_calls = [i for i in items if i.get("type") == "function_call"]
    outputs = [i for i in items if i.get("type") == "function_call_output"]
    assert [c["call_id"] for c in sent_calls] == [o["call_id"] for o in outputs]
    assert len(sent_calls) == 3 and all(c["id"].startswith("fc_") for c in sent_calls)
    final = [i for i in items if i.get("type") == "message"]
    assert final[-1]["content"][0]["text"] == "The final result is **570**."
    assert final[-1]["id"].startswith("msg_01830d")


def test_replay_to_another_openai_model_follows_the_handoff_rules() -> None:
    first = _encrypted_fixture_turns()[0]
    turn, _ = parse(first)
    call = turn.tool_calls[0]
    context = Context(messages=[UserMessage("Go"), turn, ToolResultMessage(call.id, call.name, [TextContent("19")])])
    body = body_of(GPT5_MINI, context)
    items = body["input"]
    assert not any(item.get("type") == "reasoning" for item in items)  # foreign reasoning is dropped
    sent = next(item for item in items if item.get("type") == "function_call")
    assert "id" not in sent  # no fc_ item id without its reasoning item
    assert sent["call_id"] == call.id.split("|")[0]
    assert items[-1]["call_id"] == sent["call_id"]


def test_replay_of_text_keeps_ids_and_phase_for_the_same_model_only() -> None:
    support.require_shared()
    events = rf.load_payloads(support.FIXTURES / "openai" / "openai-phase.1.chunks.txt")
    turn, _ = parse(events)
    context = Context(messages=[UserMessage("News?"), turn, UserMessage("More?")])
    own = [i for i in body_of(GPT5, context)["input"] if i.get("type") == "message"]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    expected = [(item["id"], item["phase"]) for item in done if item["type"] == "message"]
    assert [(i["id"], i["phase"]) for i in own] == expected
    assert all(i["status"] == "completed" and i["content"][0]["annotations"] == [] for i in own)
    other = [i for i in body_of(GPT5_MINI, context)["input"] if i.get("type") == "message"]
    assert [i["id"] for i in other] == ["msg_1", "msg_2"] and not any("phase" in i for i in other)


def test_replay_from_another_provider_normalizes_tool_call_ids() -> None:
    turn = AssistantMessage(
        content=[
            ThinkingContent("I should look it up.", "anthropic-signature"),
            TextContent("Checking."),
            ToolCall("toolu_01A.b/c", "get_weather", {"location": "Oslo"}),
        ],
        api="anthropic-messages",
        provider="anthropic",
        model="claude-sonnet-4-5",
        stop_reason="toolUse",
    )
    result = ToolResultMessage("toolu_01A.b/c", "get_weather", [TextContent("Rain")])
    items = body_of(GPT5, Context(messages=[UserMessage("Weather?"), turn, result], tools=[WEATHER]))["input"]
    assert [i.get("type", i.get("role")) for i in items] == ["user", "message", "function_call", "function_call_output"]
    assert items[2]["call_id"] == "toolu_01A_b_c" == items[3]["call_id"] and "id" not in items[2]


def test_long_message_ids_are_hashed_and_legacy_signatures_read() -> None:
    long_id = "msg_" + "x" * 80
    turn = AssistantMessage(
        content=[TextContent("a", long_id), TextContent("b", "msg_plain")],
        api="openai-responses",
        provider="openai",
        model="gpt-5",
    )
    items = body_of(GPT5, Context(messages=[UserMessage("hi"), turn, UserMessage("again")]))["input"]
    ids = [i["id"] for i in items if i.get("type") == "message"]
    assert len(ids[0]) <= 64 and ids[0].startswith("msg_") and ids[0] != long_id
    assert ids[1] == "msg_plain"


def test_unreadable_thinking_signature_is_not_replayed() -> None:
    turn = AssistantMessage(
        content=[ThinkingContent("x", "not json"), ThinkingContent("y", '{"type": "other"}'), TextContent("ok", "msg_1")],
        api="openai-responses",
        provider="openai",
        model="gpt-5",
    )
    items = body_of(GPT5, Context(messages=[UserMessage("hi"), turn, UserMessage("again")]))["input"]
    assert [i.get("type", i.get("role")) for i in items] == ["user", "message", "user"]


def test_failed_turns_are_not_replayed() -> None:
    failed = AssistantMessage(
        content=[ToolCall("call_x|fc_x", "get_weather", {})],
        api="openai-responses",
        provider="openai",
        model="gpt-5",
        stop_reason="error",
        error_message="boom",
    )
    items = body_of(GPT5, Context(messages=[UserMessage("hi"), failed, UserMessage("again")]))["input"]
    assert [i["role"] for i in items] == ["user", "user"]


def test_pi_ai_saved_conversation_round_trips() -> None:
    """A turn saved to JSON (pi-ai's shape) and loaded back replays the same items."""
    support.require_shared()
    turn, _ = parse(_encrypted_fixture_turns()[0])
    context = Context(messages=[UserMessage("Go"), turn])
    loaded = Context.from_json(context.to_json())
    assert body_of(GPT5, loaded)["input"] == body_of(GPT5, context)["input"]
