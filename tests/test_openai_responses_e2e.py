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
from alchemy.types import AssistantMessage, Context, Model, TextContent, Tool, ToolResultMessage, UserMessage

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
    for name in ("ALCHEMY_BASE_URL_OVERRIDE", "AZURE_OPENAI_BASE_URL", "AZURE_OPENAI_API_VERSION", "OPENAI_ORG_ID"):
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
