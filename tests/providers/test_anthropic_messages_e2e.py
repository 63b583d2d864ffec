"""The Anthropic Messages provider end to end: ``alchemy.stream`` against the replay server.

Every shared Anthropic fixture is served on 127.0.0.1 in Anthropic's framing
(``event:`` + ``data:``), cut per event, in 7-byte writes and in random writes,
and read with ``stream`` and ``astream``; the final message is checked against
what the fixture says (see ``anthropic_oracle``). Then the faults: a connection
cut before and after content, ``overloaded_error`` inside the 200 stream before
and after content, 429 with ``retry-after``, 529, and errors that are not retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from anthropic_oracle import expected_from_fixture
from protocol_checks import assert_protocol

import alchemy
from alchemy.errors import MissingApiKeyError
from alchemy.models import get_model
from alchemy.testing import Drop, ErrorEvent, Replay, ReplayServer
from alchemy.types import AssistantMessage, Context, Model, TextContent, Tool, ToolCall, UserMessage

KEY = "sk-ant-" "api03-e2e-key-0123456789"  # fake, split so it never looks like a real key
SONNET = get_model("anthropic", "claude-sonnet-4-5")
CONTEXT = Context(
    "You are helpful.",
    [UserMessage("What's the weather in San Francisco?")],
    tools=[Tool("weather", "Weather for a location.", {"type": "object", "properties": {"location": {}}})],
)
FAST = {"api_key": KEY, "max_retry_delay": 0.05}
CHUNKINGS = ["event", "bytes=7", "random"]


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "anthropic"
    return sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []


def _name(path: Path) -> str:
    return path.name.removesuffix(".chunks.txt")


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ReplayServer]:
    """One server for the fixture matrix; each test picks its replay by name (x-alchemy-replay)."""
    with ReplayServer(recording_dirs=[support.FIXTURES] if support.FIXTURES.is_dir() else []) as server:
        server.default = None
        yield server


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    """A fresh server with an empty queue, for the fault tests."""
    with ReplayServer(recording_dirs=[support.FIXTURES] if support.FIXTURES.is_dir() else []) as replay:
        replay.default = None
        yield replay


def model_on(server: ReplayServer, model: Model = SONNET) -> Model:
    return dataclasses.replace(model, base_url=server.base_url_for("anthropic-messages"))


def collect(model: Model, **options: Any) -> tuple[list[Any], AssistantMessage]:
    with alchemy.stream(model, CONTEXT, **options) as events:
        seen = list(events)
    return seen, assert_protocol(seen)


async def acollect(model: Model, **options: Any) -> tuple[list[Any], AssistantMessage]:
    async with alchemy.astream(model, CONTEXT, **options) as events:
        seen = [event async for event in events]
    return seen, assert_protocol(seen)


# --------------------------------------------------------------------------- every fixture


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fixture_end_to_end(shared_server: ReplayServer, path: Path, chunking: str, mode: str) -> None:
    support.require_shared()
    if chunking == "random":
        chunking = f"random={zlib.crc32(path.name.encode())}"
    name = f"{_name(path)}:{chunking}"
    shared_server.register(name, Replay(f"anthropic/{_name(path)}", api="anthropic-messages", chunking=chunking))
    model = model_on(shared_server)
    options = {**FAST, "headers": {"x-alchemy-replay": name}}
    if mode == "sync":
        _, message = collect(model, **options)
    else:
        _, message = asyncio.run(acollect(model, **options))
    expected_from_fixture(path).check(message, model)
    request = shared_server.requests[-1]
    assert request.path == "/v1/messages" and request.headers["x-api-key"] == KEY
    assert request.json["model"] == SONNET.id and request.json["stream"] is True


def test_request_on_the_wire(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay("anthropic/anthropic-text"))
    message = alchemy.complete(
        model_on(server), CONTEXT, **FAST, tool_choice="auto", metadata={"user_id": "u-1"}, cache_retention="long"
    )
    assert message.stop_reason == "stop", message.error_message
    request = server.requests[-1]
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "fine-grained-tool-streaming-2025-05-14" in request.headers["anthropic-beta"]
    body = request.json
    assert body["tool_choice"] == {"type": "auto"} and body["metadata"] == {"user_id": "u-1"}
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert KEY not in repr(request)


def test_stream_simple_sends_the_mapped_thinking(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay("anthropic/anthropic-clear-thinking.1"))
    message = alchemy.complete_simple(model_on(server), CONTEXT, reasoning="medium", **FAST)
    assert isinstance(message.content[0], alchemy.ThinkingContent) and message.content[0].thinking_signature
    body = server.requests[-1].json
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192} and body["max_tokens"] == 32000 + 8192


def test_on_payload_sees_and_replaces_the_body(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay("anthropic/anthropic-text"))
    seen: list[dict[str, Any]] = []

    def hook(body: dict[str, Any], model: Model) -> dict[str, Any]:
        seen.append(body)
        return {**body, "max_tokens": 77}

    alchemy.complete(model_on(server), CONTEXT, **FAST, on_payload=hook)
    assert seen[0]["messages"][0]["role"] == "user" and server.requests[-1].json["max_tokens"] == 77


# --------------------------------------------------------------------------- faults


TEXT_FIXTURE = "anthropic/anthropic-text"
TOOL_FIXTURE = "anthropic/anthropic-json-other-tool.1"
# anthropic-text: message_start, content_block_start, ping, 6 text deltas, stop, message_delta, message_stop.
AFTER_TEXT = 5  # message_start, block start, ping, "Hello", "! I"


def test_drop_before_content_is_retried(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT_FIXTURE, faults=[Drop(after_events=1)]), Replay(TOOL_FIXTURE))
    _, message = collect(model_on(server), **FAST)
    call = message.content[0]
    assert message.stop_reason == "toolUse" and isinstance(call, ToolCall)
    assert call.arguments["location"] == "San Francisco"
    assert message.metrics is not None and message.metrics.retries == 1 and len(server.requests) == 2


def test_drop_mid_stream_keeps_what_arrived(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT_FIXTURE, faults=[Drop(after_events=AFTER_TEXT)]), Replay(TOOL_FIXTURE))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and message.error_message
    assert message.content == [TextContent("Hello! I")]
    assert message.usage.input == 12 and len(server.requests) == 1


def test_overloaded_in_stream_before_content_is_retried(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT_FIXTURE, faults=[ErrorEvent(after_events=1)]), Replay(TOOL_FIXTURE))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "toolUse", message.error_message
    assert message.content == [ToolCall("toolu_019Zvehfe1XQWweT1pm7okyt", "weather", {"location": "San Francisco"})]
    assert message.usage.input == 843  # the first attempt's usage is gone with it
    assert len(server.requests) == 2


def test_overloaded_in_stream_after_content_ends_with_an_error_keeping_it(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT_FIXTURE, faults=[ErrorEvent(after_events=AFTER_TEXT)]), Replay(TOOL_FIXTURE))
    events, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error"
    assert message.error_message == "Anthropic stream error overloaded_error: Overloaded"
    assert message.content == [TextContent("Hello! I")] and message.usage.input == 12
    assert events[-1].type == "error" and len(server.requests) == 1


def test_overloaded_in_stream_async(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(
        Replay(TEXT_FIXTURE, faults=[ErrorEvent(after_events=0)]),
        Replay(TEXT_FIXTURE, faults=[ErrorEvent(after_events=AFTER_TEXT, error_type="api_error")]),
    )
    _, message = asyncio.run(acollect(model_on(server), **FAST))
    assert message.stop_reason == "error" and "api_error" in (message.error_message or "")
    assert message.text == "Hello! I" and len(server.requests) == 2


def test_429_with_retry_after_is_retried(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay.http_error(429, retry_after=0.02), Replay(TEXT_FIXTURE))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and message.text.startswith("Hello!")
    assert message.metrics is not None and message.metrics.retries == 1


def test_429_asking_for_too_long_a_wait_fails_at_once(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay.http_error(429, retry_after=30), Replay(TEXT_FIXTURE))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and "429" in (message.error_message or "")
    assert "max_retry_delay" in (message.error_message or "") and len(server.requests) == 1


def test_529_is_retried(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay.http_error(529), Replay.http_error(529), Replay(TEXT_FIXTURE))
    _, message = asyncio.run(acollect(model_on(server), **FAST))
    assert message.stop_reason == "stop" and len(server.requests) == 3


def test_529_out_of_retries_names_the_error(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(529))
    _, message = collect(model_on(server), **FAST, max_retries=0)
    assert message.stop_reason == "error"
    assert message.error_message is not None and message.error_message.startswith("Anthropic HTTP 529")
    assert "overloaded_error" in message.error_message and KEY not in message.error_message


def test_400_is_not_retried(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay.http_error(400, message="max_tokens: too large"), Replay(TEXT_FIXTURE))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and "max_tokens: too large" in (message.error_message or "")
    assert len(server.requests) == 1


def test_missing_key_raises_at_the_call(monkeypatch: pytest.MonkeyPatch, server: ReplayServer) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingApiKeyError, match="ANTHROPIC_API_KEY"):
        alchemy.stream(model_on(server), CONTEXT)
    assert server.requests == []


def test_refusal_fixture_is_an_error_with_the_explanation(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay("anthropic/anthropic-refusal"))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and "refusal" in (message.error_message or "")
    assert "Usage Policy" in (message.error_message or "") and message.usage.input == 18


# --------------------------------------------------------------------------- options on the wire

OPUS_46 = get_model("anthropic", "claude-opus-4-6")
OPUS_47 = get_model("anthropic", "claude-opus-4-7")
HELLO = Context(messages=[UserMessage("Hello")])


@pytest.fixture(scope="module")
def bundled() -> Iterator[ReplayServer]:
    """One server answering every request with the bundled Anthropic recording."""
    with ReplayServer() as replay:
        yield replay


def sent(server: ReplayServer, model: Model = SONNET, context: Context = CONTEXT, **options: Any) -> dict[str, Any]:
    """The body the server received for one ``complete`` call."""
    before = len(server.requests)
    message = alchemy.complete(model_on(server, model), context, **FAST, **options)
    assert message.stop_reason != "error", message.error_message
    assert len(server.requests) == before + 1
    body: dict[str, Any] = server.requests[-1].json
    return body


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"stop": "END"}, {"stop_sequences": ["END"]}),
        ({"stop": ["a", "b"]}, {"stop_sequences": ["a", "b"]}),
        ({"top_p": 0.7}, {"top_p": 0.7}),
        ({"top_k": 12}, {"top_k": 12}),
        ({"temperature": 0.4}, {"temperature": 0.4}),
        ({"tool_choice": "auto"}, {"tool_choice": {"type": "auto"}}),
        ({"tool_choice": "none"}, {"tool_choice": {"type": "none"}}),
        ({"tool_choice": "required"}, {"tool_choice": {"type": "any"}}),
        ({"tool_choice": {"name": "weather"}}, {"tool_choice": {"type": "tool", "name": "weather"}}),
        ({"parallel_tool_calls": False}, {"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}),
        (
            {"parallel_tool_calls": False, "tool_choice": "required"},
            {"tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
        ),
        ({"user": "u-9"}, {"metadata": {"user_id": "u-9"}}),
        ({"metadata": {"user_id": "u-1"}}, {"metadata": {"user_id": "u-1"}}),
        ({"extra_body": {"container": "c-1", "metadata": {"user_id": "x"}}}, {"container": "c-1", "metadata": {"user_id": "x"}}),
        ({"max_tokens": 321}, {"max_tokens": 321}),
    ],
    ids=lambda value: str(value)[:40],
)
def test_canonical_options_reach_the_body(bundled: ReplayServer, options: dict[str, Any], expected: dict[str, Any]) -> None:
    body = sent(bundled, **options)
    for key, value in expected.items():
        assert body[key] == value


def test_own_options_reach_the_body_and_headers(bundled: ReplayServer) -> None:
    body = sent(bundled, thinking_enabled=True, thinking_budget_tokens=2000, max_tokens=5000)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000} and body["max_tokens"] == 5000
    assert "interleaved-thinking-2025-05-14" in bundled.requests[-1].headers["anthropic-beta"]
    sent(bundled, interleaved_thinking=False)
    assert "interleaved-thinking" not in bundled.requests[-1].headers["anthropic-beta"]
    body = sent(bundled, OPUS_46, thinking_enabled=True, effort="medium")
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "medium"}
    sent(bundled, extra_headers={"x-trace": "t-1", "anthropic-beta": "my-beta"})
    headers = bundled.requests[-1].headers
    assert headers["x-trace"] == "t-1" and headers["anthropic-beta"] == "my-beta"


# Budget models: off -> no thinking block; levels -> budgets (xhigh and max as high). Adaptive models:
# an effort, the level clamped to the model's (Opus 4.6 has no xhigh: it goes up to max).
LEVELS = [
    (SONNET, "off", None, None),
    (SONNET, "minimal", {"type": "enabled", "budget_tokens": 1024}, None),
    (SONNET, "low", {"type": "enabled", "budget_tokens": 2048}, None),
    (SONNET, "medium", {"type": "enabled", "budget_tokens": 8192}, None),
    (SONNET, "high", {"type": "enabled", "budget_tokens": 16384}, None),
    (SONNET, "xhigh", {"type": "enabled", "budget_tokens": 16384}, None),
    (SONNET, "max", {"type": "enabled", "budget_tokens": 16384}, None),
    (OPUS_46, "off", None, None),
    (OPUS_46, "minimal", {"type": "adaptive"}, "low"),
    (OPUS_46, "low", {"type": "adaptive"}, "low"),
    (OPUS_46, "medium", {"type": "adaptive"}, "medium"),
    (OPUS_46, "high", {"type": "adaptive"}, "high"),
    (OPUS_46, "xhigh", {"type": "adaptive"}, "max"),
    (OPUS_46, "max", {"type": "adaptive"}, "max"),
    (OPUS_47, "off", None, None),
    (OPUS_47, "xhigh", {"type": "adaptive"}, "xhigh"),
    (OPUS_47, "max", {"type": "adaptive"}, "max"),
]


@pytest.mark.parametrize("simple", [False, True], ids=["complete", "complete_simple"])
@pytest.mark.parametrize(("model", "level", "thinking", "effort"), LEVELS, ids=lambda v: getattr(v, "id", str(v)))
def test_every_reasoning_level_on_the_wire(
    bundled: ReplayServer, model: Model, level: str, thinking: Any, effort: str | None, simple: bool
) -> None:
    call = alchemy.complete_simple if simple else alchemy.complete
    before = len(bundled.requests)
    message = call(model_on(bundled, model), HELLO, **FAST, reasoning=level)
    assert message.stop_reason != "error", message.error_message
    assert len(bundled.requests) == before + 1
    body = bundled.requests[-1].json
    assert body.get("thinking") == thinking
    assert body.get("output_config") == (None if effort is None else {"effort": effort})
    room = min(model.max_tokens, 32000)
    budget = thinking["budget_tokens"] if thinking and "budget_tokens" in thinking else 0
    assert body["max_tokens"] == min(room + budget, model.max_tokens)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"thinking_enabled": "yes"}, TypeError),
        ({"thinking_budget_tokens": 512}, ValueError),
        ({"thinking_budget_tokens": "2000"}, TypeError),
        ({"effort": "ultra"}, ValueError),
        ({"interleaved_thinking": 1}, TypeError),
        ({"tool_choice": "bogus"}, ValueError),
        ({"tool_choice": {"name": "not_a_tool"}}, ValueError),
        ({"top_p": 1.5}, ValueError),
        ({"top_k": 0}, ValueError),
        ({"stop": []}, ValueError),
        ({"parallel_tool_calls": "no"}, TypeError),
        ({"metadata": {"session": "s"}}, ValueError),
        ({"user": 7}, TypeError),
        ({"extra_body": ["not", "a", "mapping"]}, TypeError),
        ({"extra_headers": {"x": 1}}, TypeError),
        ({"seed": 1}, TypeError),  # not carried by the Messages API
        ({"reasoning": "ultra"}, ValueError),
        ({"thinking_budgets": {"low": 10}, "reasoning": "low"}, ValueError),  # below Claude's 1024
        ({"thinking_enabled": True, "top_k": 3}, ValueError),
        ({"thinking_enabled": True, "tool_choice": "required"}, ValueError),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_options_raise_before_stream_returns(bundled: ReplayServer, options: dict[str, Any], error: type) -> None:
    before = len(bundled.requests)
    with pytest.raises(error):
        alchemy.stream(model_on(bundled), CONTEXT, **FAST, **options)
    with pytest.raises(error):
        asyncio.run(_astream_call(model_on(bundled), options))
    assert len(bundled.requests) == before, "no request reached the server"


async def _astream_call(model: Model, options: dict[str, Any]) -> None:
    alchemy.astream(model, CONTEXT, **FAST, **options)
