"""The Responses providers end to end: alchemy.stream/astream/complete against a real replay server.

Every response of every shared Responses fixture is served on 127.0.0.1 in the real
framing, cut by event, into 7-byte writes and into random writes, and read sync and
async through the whole stack (runner, parser, emitter, event buffer); the final
message is checked against what the fixture says. Then the request side (bodies as
the server received them, a multi-turn agent loop replayed to the same and to another
model) and faults (drops, error events before and after content, 429 and 5xx).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import responses_fixtures as rf
import support
from protocol_checks import assert_protocol

import alchemy
from alchemy.models import get_model
from alchemy.testing import Drop, ErrorEvent, Replay, ReplayServer, Stall
from alchemy.types import (
    AssistantMessage,
    Context,
    Model,
    TextContent,
    TokenLogprob,
    Tool,
    ToolResultMessage,
    UserMessage,
)

KEY = "sk-" "e2e-0123456789abcdef"  # fake, split so it never looks like a real key
GPT5 = get_model("openai", "gpt-5")
GPT5_MINI = get_model("openai", "gpt-5-mini")
AZURE_GPT5 = get_model("azure", "gpt-5")
CHUNKINGS = ["event", "bytes=7", "random=3"]
SEGMENTS = rf.all_segments()
CALCULATOR = Tool("calculator", "Does arithmetic", {"type": "object", "properties": {}})
FAST = {"max_retry_delay": 0.05, "timeout": 10.0}


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(default=None) as replay_server:
        yield replay_server


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ALCHEMY_BASE_URL_OVERRIDE",
        "AZURE_OPENAI_BASE_URL",
        "AZURE_OPENAI_API_VERSION",
        "AZURE_OPENAI_DEPLOYMENT_NAME_MAP",
        "OPENAI_ORG_ID",
    ):
        monkeypatch.delenv(name, raising=False)


def openai_model(server: ReplayServer, model: Model = GPT5) -> Model:
    return dataclasses.replace(model, base_url=server.base_url_for("openai-responses"))


def target(server: ReplayServer, name: str) -> tuple[Model, dict[str, Any]]:
    """The model and options that reach ``server`` for a fixture (Azure's through Azure's provider)."""
    if name.startswith("azure/"):
        return AZURE_GPT5, {"azure_base_url": server.base_url_for("azure-openai-responses")}
    return openai_model(server), {}


def context() -> Context:
    return Context(system_prompt="Be helpful.", messages=[UserMessage("Hello")])


def run_sync(model: Model, ctx: Context, **options: Any) -> tuple[AssistantMessage, list[Any]]:
    with alchemy.stream(model, ctx, api_key=KEY, **FAST, **options) as events:
        collected = list(events)
    return assert_protocol(collected), collected


async def run_async(model: Model, ctx: Context, **options: Any) -> tuple[AssistantMessage, list[Any]]:
    async with alchemy.astream(model, ctx, api_key=KEY, **FAST, **options) as events:
        collected = [event async for event in events]
    return assert_protocol(collected), collected


# --------------------------------------------------------------------------- every fixture, end to end


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize(("name", "events"), SEGMENTS, ids=[name for name, _ in SEGMENTS])
def test_fixture_end_to_end(
    server: ReplayServer, name: str, events: list[dict[str, Any]], chunking: str, mode: str
) -> None:
    support.require_shared()
    model, options = target(server, name)
    server.enqueue(Replay(events, chunking=chunking))
    if mode == "sync":
        message, _ = run_sync(model, context(), **options)
    else:
        message, _ = asyncio.run(run_async(model, context(), **options))
    rf.check_message(message, rf.expected_from(events), model)
    request = server.last_request
    if name.startswith("azure/"):
        assert request.path == "/openai/v1/responses" and request.query == "api-version=v1"
        assert request.headers["api-key"] == KEY
    else:
        assert request.path == "/v1/responses" and request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["stream"] is True and request.json["input"][-1]["content"][0]["text"] == "Hello"


def test_complete_and_acomplete(server: ReplayServer) -> None:
    support.require_shared()
    events = rf.load_payloads(support.FIXTURES / "openai" / "openai-phase.1.chunks.txt")
    model = openai_model(server)
    server.enqueue(Replay(events), Replay(events, chunking="bytes=5"))
    sync = alchemy.complete(model, context(), api_key=KEY)
    asynchronous = asyncio.run(alchemy.acomplete(model, context(), api_key=KEY))
    for message in (sync, asynchronous):
        rf.check_message(message, rf.expected_from(events), model)


def test_simple_reasoning_level_reaches_the_wire(server: ReplayServer) -> None:
    support.require_shared()
    events = rf.load_payloads(support.FIXTURES / "azure" / "azure-text.1.chunks.txt")
    model = openai_model(server, get_model("openai", "gpt-5.2"))
    server.enqueue(Replay(events), Replay(events))
    alchemy.complete_simple(model, context(), api_key=KEY, reasoning="xhigh", session_id="sess")
    body = server.last_request.json
    assert body["reasoning"] == {"effort": "xhigh", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"] and body["prompt_cache_key"] == "sess"
    asyncio.run(alchemy.acomplete_simple(model, context(), api_key=KEY))
    assert "reasoning" not in server.last_request.json  # no level: the model's default
    server.enqueue(Replay(events))
    alchemy.complete(model, context(), api_key=KEY, reasoning="off")  # a plain call takes the level too
    assert server.last_request.json["reasoning"] == {"effort": "none"}


def test_on_payload_sees_and_replaces_the_body(server: ReplayServer) -> None:
    support.require_shared()
    events = rf.load_payloads(support.FIXTURES / "azure" / "azure-text.1.chunks.txt")
    server.enqueue(Replay(events))
    seen: list[dict[str, Any]] = []

    def hook(body: dict[str, Any], model: Model) -> dict[str, Any]:
        seen.append(body)
        return {**body, "metadata": {"run": "e2e"}}

    message = alchemy.complete(openai_model(server), context(), api_key=KEY, on_payload=hook, service_tier="priority")
    assert message.text == "Hello" and seen[0]["service_tier"] == "priority"
    assert server.last_request.json["metadata"] == {"run": "e2e"}


# --------------------------------------------------------------------------- replaying turns


def _agent_loop(server: ReplayServer, second_model: Model) -> list[dict[str, Any]]:
    """Runs the recorded 4-response agent loop; from the second turn on, talks to ``second_model``."""
    turns = rf.segments(rf.load_payloads(support.FIXTURES / "openai" / "openai-reasoning-encrypted-content.1.chunks.txt"))
    ctx = Context(messages=[UserMessage("What is (12 + 7) * 3 * 10?")], tools=[CALCULATOR])
    bodies = []
    for number, events in enumerate(turns):
        model = openai_model(server, GPT5 if number == 0 else second_model)
        server.enqueue(Replay(events, chunking="random=7"))
        message = alchemy.complete(model, ctx, api_key=KEY, reasoning_effort="high")
        assert message.stop_reason in ("toolUse", "stop"), message.error_message
        bodies.append(server.last_request.json)
        ctx.messages.append(message)
        results = {"add": "19", "multiply": "57"}
        for call in message.tool_calls:
            ctx.messages.append(ToolResultMessage(call.id, call.name, [TextContent(results[call.arguments["op"]])]))
    return bodies


def test_agent_loop_replays_exact_items_to_the_same_model(server: ReplayServer) -> None:
    support.require_shared()
    turns = rf.segments(rf.load_payloads(support.FIXTURES / "openai" / "openai-reasoning-encrypted-content.1.chunks.txt"))
    bodies = _agent_loop(server, GPT5)
    reasoning_item = next(e["item"] for e in turns[0] if e["type"] == "response.output_item.done")
    second = bodies[1]["input"]
    assert second[1] == reasoning_item  # the exact reasoning item, encrypted_content and all
    first_call = next(e["item"] for e in turns[0] if e["type"] == "response.output_item.done" and e["item"]["type"] == "function_call")
    assert second[2]["id"] == first_call["id"] and second[2]["call_id"] == first_call["call_id"]
    assert second[3] == {"type": "function_call_output", "call_id": first_call["call_id"], "output": "19"}
    last = bodies[-1]["input"]
    assert [i.get("type", i.get("role")) for i in last] == [
        "user", "reasoning", "function_call", "function_call_output",
        "function_call", "function_call_output", "function_call", "function_call_output",
    ]  # fmt: skip
    assert all(body["tools"][0]["strict"] is False for body in bodies)


def test_agent_loop_handed_to_another_model_drops_reasoning_and_item_ids(server: ReplayServer) -> None:
    support.require_shared()
    bodies = _agent_loop(server, GPT5_MINI)
    second = bodies[1]["input"]
    assert bodies[1]["model"] == "gpt-5-mini"
    assert [i.get("type", i.get("role")) for i in second] == ["user", "function_call", "function_call_output"]
    assert "id" not in second[1] and second[1]["call_id"] == second[2]["call_id"]


# --------------------------------------------------------------------------- faults


def _text_events() -> list[dict[str, Any]]:
    return rf.load_payloads(support.FIXTURES / "open-responses" / "lmstudio-basic.1.chunks.txt")


def test_drop_mid_stream_keeps_the_text(server: ReplayServer) -> None:
    support.require_shared()
    events = _text_events()
    server.enqueue(Replay(events, faults=[Drop(after_events=40)]))
    message, out = run_sync(openai_model(server), context(), max_retries=0)
    assert message.stop_reason == "error" and message.text
    expected_text = "".join(e["delta"] for e in events[:40] if e["type"] == "response.output_text.delta")
    assert message.text == expected_text
    assert "OpenAI" in (message.error_message or "")


def test_error_event_before_content_is_retried(server: ReplayServer) -> None:
    support.require_shared()
    events = _text_events()
    server.enqueue(Replay(events, faults=[ErrorEvent(after_events=2)]), Replay(events, chunking="bytes=64"))
    before = len(server.requests)
    message, _ = run_sync(openai_model(server), context())
    assert len(server.requests) == before + 2
    rf.check_message(message, rf.expected_from(events), GPT5)


def test_error_event_after_content_ends_with_the_text(server: ReplayServer) -> None:
    support.require_shared()
    events = _text_events()
    server.enqueue(Replay(events, faults=[ErrorEvent(after_events=30, message="Server overloaded")]))
    message, _ = asyncio.run(run_async(openai_model(server), context()))
    assert message.stop_reason == "error"
    assert message.error_message == "OpenAI stream error server_error: Server overloaded"
    assert message.text == "".join(e["delta"] for e in events[:30] if e["type"] == "response.output_text.delta")


def test_non_retryable_error_event_is_not_retried(server: ReplayServer) -> None:
    support.require_shared()
    events = _text_events()
    server.enqueue(Replay(events, faults=[ErrorEvent(after_events=2, error_type="invalid_prompt", message="No.")]))
    before = len(server.requests)
    message, _ = run_sync(openai_model(server), context())
    assert len(server.requests) == before + 1
    assert message.error_message == "OpenAI stream error invalid_prompt: No." and message.content == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_http_errors_are_retried(server: ReplayServer, status: int) -> None:
    support.require_shared()
    events = _text_events()
    server.enqueue(Replay.http_error(status, retry_after=0.01), Replay(events, chunking="bytes=7"))
    before = len(server.requests)
    message, _ = asyncio.run(run_async(openai_model(server), context()))
    assert len(server.requests) == before + 2
    rf.check_message(message, rf.expected_from(events), GPT5)


def test_http_error_without_retries_left_names_the_provider_message(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(429, message="Rate limit reached for gpt-5."))
    message, out = run_sync(openai_model(server), context(), max_retries=0)
    assert len(out) == 1 and message.stop_reason == "error"
    assert message.error_message is not None
    assert "OpenAI HTTP 429" in message.error_message and "Rate limit reached for gpt-5." in message.error_message
    assert KEY not in message.error_message


def test_azure_http_error_and_missing_configuration(server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.enqueue(Replay.http_error(401, message="Access denied due to invalid subscription key."))
    base = server.base_url_for("azure-openai-responses")
    message = alchemy.complete(AZURE_GPT5, context(), api_key=KEY, azure_base_url=base, max_retries=0)
    assert message.error_message is not None and message.error_message.startswith("Azure OpenAI HTTP 401")
    monkeypatch.delenv("AZURE_OPENAI_RESOURCE_NAME", raising=False)
    monkeypatch.delenv("AZURE_RESOURCE_NAME", raising=False)
    message = alchemy.complete(AZURE_GPT5, context(), api_key=KEY)
    assert message.stop_reason == "error" and "AZURE_OPENAI_BASE_URL" in (message.error_message or "")


def test_stalled_stream_ends_with_what_arrived(server: ReplayServer) -> None:
    support.require_shared()
    events = _text_events()
    server.enqueue(Replay(events, faults=[Stall(seconds=2.0, after_events=20)]))
    message, _ = run_sync(openai_model(server), context(), idle_timeout=0.2, max_retries=0)
    assert message.stop_reason == "error" and "idle_timeout" in (message.error_message or "")
    assert message.text == "".join(e["delta"] for e in events[:20] if e["type"] == "response.output_text.delta")


# --------------------------------------------------------------------------- options, checked at the call and mapped

GPT4O = get_model("openai", "gpt-4o")
AZURE_GPT4O = get_model("azure", "gpt-4o")


def _hello_events(logprobs: list[list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """A short text response; ``logprobs`` (one list per delta) rides on the text deltas."""
    item = {"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    done = {**item, "status": "completed", "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}
    pieces = ("Hel", "lo")
    deltas = []
    for number, piece in enumerate(pieces):
        delta: dict[str, Any] = {"type": "response.output_text.delta", "item_id": "msg_1", "delta": piece}
        if logprobs is not None:
            delta["logprobs"] = logprobs[number]
        deltas.append(delta)
    return [
        {"type": "response.created", "response": {"id": "resp_opt", "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        *deltas,
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": {"id": "resp_opt", "status": "completed", "usage": None}},
    ]


def _on(server: ReplayServer, where: str, model: Model | None = None) -> tuple[Model, dict[str, Any]]:
    """A model (non-reasoning unless given) and the options that reach ``server`` through OpenAI's or Azure's."""
    if where == "azure":
        return model or AZURE_GPT4O, {"azure_base_url": server.base_url_for("azure-openai-responses")}
    return openai_model(server, model or GPT4O), {}


def _body_of_call(server: ReplayServer, where: str, model: Model | None = None, **options: Any) -> dict[str, Any]:
    target_model, routing = _on(server, where, model)
    server.enqueue(Replay(_hello_events()))
    ctx = Context(messages=[UserMessage("Hello")], tools=[CALCULATOR])
    message = alchemy.complete(target_model, ctx, api_key=KEY, **FAST, **routing, **options)
    assert message.stop_reason == "stop", message.error_message
    body: dict[str, Any] = server.last_request.json
    return body


WHERE = ["openai", "azure"]
LOGPROBS = "message.output_text.logprobs"
FORCED = {"type": "function", "name": "calculator"}


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"top_p": 0.25}, {"top_p": 0.25}),
        ({"parallel_tool_calls": False}, {"parallel_tool_calls": False}),
        ({"tool_choice": "auto"}, {"tool_choice": "auto"}),
        ({"tool_choice": "none"}, {"tool_choice": "none"}),
        ({"tool_choice": "required"}, {"tool_choice": "required"}),
        ({"tool_choice": "any"}, {"tool_choice": "required"}),
        ({"tool_choice": {"name": "calculator"}}, {"tool_choice": FORCED}),
        ({"tool_choice": {"type": "tool", "name": "calculator"}}, {"tool_choice": FORCED}),
        ({"tool_choice": {"type": "function", "function": {"name": "calculator"}}}, {"tool_choice": FORCED}),
        ({"user": "end-user-7"}, {"safety_identifier": "end-user-7"}),
        ({"metadata": {"run": "e2e", "team": "a"}}, {"metadata": {"run": "e2e", "team": "a"}}),
        ({"logprobs": True}, {"include": [LOGPROBS]}),
        ({"top_logprobs": 5}, {"top_logprobs": 5, "include": [LOGPROBS]}),
        ({"logprobs": True, "top_logprobs": 0}, {"top_logprobs": 0, "include": [LOGPROBS]}),
        ({"extra_body": {"text": {"verbosity": "low"}}}, {"text": {"verbosity": "low"}}),
    ],
)
def test_canonical_options_reach_the_recorded_body(
    server: ReplayServer, where: str, options: dict[str, Any], expected: dict[str, Any]
) -> None:
    body = _body_of_call(server, where, **options)
    assert {key: body.get(key) for key in expected} == expected


@pytest.mark.parametrize("where", WHERE)
def test_options_not_given_leave_the_body_alone(server: ReplayServer, where: str) -> None:
    body = _body_of_call(server, where)
    for key in ("top_p", "parallel_tool_calls", "tool_choice", "safety_identifier", "user", "metadata", "include",
                "top_logprobs", "stop", "seed"):  # fmt: skip
        assert key not in body


@pytest.mark.parametrize("where", WHERE)
def test_extra_body_is_merged_last_and_extra_headers_win(server: ReplayServer, where: str) -> None:
    model = GPT5 if where == "openai" else AZURE_GPT5
    body = _body_of_call(
        server,
        where,
        model,
        reasoning_effort="low",
        extra_body={"reasoning": {"summary": "detailed"}, "store": True, "stream": True},
        headers={"X-Trace": "from-headers"},
        extra_headers={"x-trace": "from-extra", "X-Extra": "1"},
    )
    assert body["reasoning"] == {"effort": "low", "summary": "detailed"} and body["store"] is True
    headers = server.last_request.headers
    assert headers["x-trace"] == "from-extra" and headers["x-extra"] == "1"


def test_user_goes_out_as_user_to_other_responses_servers(server: ReplayServer) -> None:
    other = Model("grok-4", "Grok 4", "openai-responses", "xai", server.base_url_for("openai-responses"))
    server.enqueue(Replay(_hello_events()))
    alchemy.complete(other, context(), api_key=KEY, user="end-user-7")
    body = server.last_request.json
    assert body["user"] == "end-user-7" and "safety_identifier" not in body


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_logprobs_arrive_on_the_message(server: ReplayServer, mode: str) -> None:
    streamed = [
        [{"token": "Hel", "logprob": -0.5, "bytes": [72, 101, 108],
          "top_logprobs": [{"token": "Hel", "logprob": -0.5}, {"token": "Hi", "logprob": -1.25}]}],
        [{"token": "lo", "logprob": -0.01, "bytes": [108, 111], "top_logprobs": [{"token": "lo", "logprob": -0.01}]}],
    ]  # fmt: skip
    server.enqueue(Replay(_hello_events(streamed), chunking="bytes=9"))
    model = openai_model(server, GPT4O)
    if mode == "sync":
        message, _ = run_sync(model, context(), top_logprobs=2)
    else:
        message, _ = asyncio.run(run_async(model, context(), top_logprobs=2))
    assert message.text == "Hello"
    assert message.logprobs == [
        TokenLogprob("Hel", -0.5, (("Hel", -0.5), ("Hi", -1.25))),
        TokenLogprob("lo", -0.01, (("lo", -0.01),)),
    ]
    server.enqueue(Replay(_hello_events(streamed)))
    assert alchemy.complete(model, context(), api_key=KEY).logprobs is None  # not asked for: not kept


# reasoning levels: (model, level, the body's ``reasoning``); ``summary`` auto comes with every level but off


def _levels(model: Model, efforts: dict[str, str]) -> list[tuple[Model, str, dict[str, str]]]:
    cases = []
    for level, effort in efforts.items():
        field = {"effort": effort} if effort == "none" else {"effort": effort, "summary": "auto"}
        cases.append((model, level, field))
    return cases


LEVEL_CASES = [
    *_levels(get_model("openai", "gpt-5.2"), {
        "off": "none", "minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh",
        "max": "xhigh",
    }),
    *_levels(GPT5, {
        "off": "minimal", "minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "xhigh": "high",
        "max": "high",
    }),
    *_levels(get_model("openai", "o3"), {"minimal": "low", "low": "low", "high": "high", "max": "high"}),
    *_levels(get_model("azure", "gpt-5.2"), {"off": "none", "minimal": "low", "medium": "medium", "max": "xhigh"}),
    *_levels(AZURE_GPT5, {"off": "minimal", "xhigh": "high", "max": "high"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "level", "reasoning"), LEVEL_CASES, ids=[f"{m.provider}/{m.id}-{lvl}" for m, lvl, _ in LEVEL_CASES]
)
def test_every_reasoning_level_reaches_the_wire(
    server: ReplayServer, model: Model, level: str, reasoning: dict[str, str]
) -> None:
    where = "azure" if model.provider == "azure" else "openai"
    body = _body_of_call(server, where, model, reasoning=level)
    assert body["reasoning"] == reasoning
    encrypted = reasoning["effort"] != "none"
    assert body.get("include") == (["reasoning.encrypted_content"] if encrypted else None)


def test_reasoning_on_a_model_without_reasoning_sends_nothing(server: ReplayServer) -> None:
    body = _body_of_call(server, "openai", reasoning="high")
    assert "reasoning" not in body and "include" not in body


# bad input raises at the call, before any request


@pytest.mark.parametrize(
    ("where", "model", "options", "error", "fragment"),
    [
        ("openai", GPT5, {"reasoning_effort": "ultra"}, ValueError, "option reasoning_effort must be one of"),
        ("openai", GPT5, {"reasoning_effort": "none"}, ValueError, "for model openai/gpt-5, got 'none'"),
        ("openai", GPT5, {"reasoning_summary": "short"}, ValueError, "option reasoning_summary must be one of"),
        ("openai", None, {"service_tier": "fast"}, ValueError, "option service_tier must be one of"),
        ("openai", get_model("openai", "o3"), {"reasoning": "off"}, ValueError, "reasoning 'off' is not available"),
        ("openai", None, {"reasoning": "huge"}, ValueError, "option reasoning must be one of"),
        ("openai", None, {"top_p": 1.5}, ValueError, "option top_p must be a number >= 0 and <= 1"),
        ("openai", None, {"top_logprobs": 21}, ValueError, "option top_logprobs must be an int >= 0 and <= 20"),
        ("openai", None, {"logprobs": False, "top_logprobs": 2}, ValueError, "which logprobs=False turns off"),
        ("openai", None, {"logprobs": "yes"}, TypeError, "option logprobs must be True or False"),
        ("openai", None, {"parallel_tool_calls": 1}, TypeError, "option parallel_tool_calls must be True or False"),
        ("openai", None, {"tool_choice": "always"}, ValueError, "option tool_choice must be"),
        ("openai", None, {"tool_choice": {"name": "search"}}, ValueError, "names tool 'search', which is not"),
        ("openai", None, {"user": ""}, ValueError, "option user must be a non-empty string"),
        ("openai", None, {"metadata": {"run": 1}}, TypeError, "metadata['run'] must be a string"),
        ("openai", None, {"metadata": {f"k{i}": "v" for i in range(17)}}, ValueError, "at most 16 pairs"),
        ("openai", None, {"extra_body": ["x"]}, TypeError, "option extra_body must be a mapping"),
        ("openai", None, {"extra_headers": {"X-A": 1}}, TypeError, "option extra_headers must map str to str"),
        ("azure", None, {"azure_base_url": ""}, ValueError, "option azure_base_url must be a non-empty string"),
        ("azure", None, {"azure_resource_name": "not a name/"}, ValueError, "must be an Azure resource name"),
        ("azure", None, {"azure_api_version": 2025}, TypeError, "option azure_api_version must be a string"),
        ("azure", None, {"azure_deployment_name": ""}, ValueError, "option azure_deployment_name must be a non-empty"),
        ("azure", AZURE_GPT5, {"reasoning_effort": "xhigh"}, ValueError, "for model azure/gpt-5, got 'xhigh'"),
        ("azure", None, {"service_tier": "flex"}, TypeError, "cannot be sent to api 'azure-openai-responses'"),
    ],
)
def test_bad_options_raise_before_any_request(
    server: ReplayServer,
    where: str,
    model: Model | None,
    options: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    target_model, routing = _on(server, where, model)
    ctx = Context(messages=[UserMessage("Hello")], tools=[CALCULATOR])
    before = len(server.requests)
    for call in (alchemy.stream, alchemy.astream, alchemy.stream_simple):
        with pytest.raises(error) as caught:
            call(target_model, ctx, api_key=KEY, **{**routing, **options})
        assert fragment in str(caught.value)
    assert len(server.requests) == before


NOT_CARRIED = [("stop", ["\n"]), ("seed", 7), ("frequency_penalty", 0.5), ("presence_penalty", 0.5), ("top_k", 40)]


@pytest.mark.parametrize(("name", "value"), NOT_CARRIED)
@pytest.mark.parametrize("where", WHERE)
def test_options_responses_lacks_are_refused_with_the_way_out(
    server: ReplayServer, where: str, name: str, value: Any
) -> None:
    model, routing = _on(server, where)
    before = len(server.requests)
    with pytest.raises(TypeError) as caught:
        alchemy.stream(model, context(), api_key=KEY, **routing, **{name: value})
    text = str(caught.value)
    assert f"option {name!r} cannot be sent to api {model.api!r}" in text and "openai-completions" in text
    assert "dataclasses.replace(model, api='openai-completions'" in text
    assert len(server.requests) == before


def test_the_chat_completions_way_out_works(server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hint of the refusal, followed to the letter, sends stop/seed/penalties to Chat Completions."""
    model = get_model("openai/gpt-4o")
    with pytest.raises(TypeError, match=r"pass dataclasses\.replace\(model, api='openai-completions'\) "):
        alchemy.stream(model, context(), api_key=KEY, stop=["\n"])
    # the override stands for api.openai.com, the base URL both APIs share
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", server.base_url_for("openai-completions"))
    server.enqueue(Replay())  # the bundled Chat Completions recording
    options: dict[str, Any] = {"stop": ["\n"], "seed": 7, "frequency_penalty": 0.5, "presence_penalty": 0.25}
    message = alchemy.complete(dataclasses.replace(model, api="openai-completions"), context(), api_key=KEY, **options)
    assert message.stop_reason != "error", message.error_message
    request = server.last_request
    assert request.path == "/v1/chat/completions" and request.headers["authorization"] == f"Bearer {KEY}"
    assert {name: request.json[name] for name in options} == options and request.json["model"] == "gpt-4o"


def test_the_azure_chat_completions_way_out_works(server: ReplayServer) -> None:
    with pytest.raises(TypeError, match="with the deployment name as id"):
        alchemy.stream(AZURE_GPT4O, context(), api_key=KEY, seed=7)
    server.enqueue(Replay())
    resource = server.base_url + "/openai/v1"  # stands for https://<resource>.openai.azure.com/openai/v1
    model = dataclasses.replace(AZURE_GPT4O, api="openai-completions", id="my-deployment", base_url=resource)
    message = alchemy.complete(model, context(), api_key=KEY, seed=7)
    assert message.stop_reason != "error", message.error_message
    request = server.last_request
    assert request.path == "/openai/v1/chat/completions" and request.json["model"] == "my-deployment"
    assert request.json["seed"] == 7
