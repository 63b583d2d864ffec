"""The Bedrock ConverseStream provider end to end: ``alchemy.stream`` against the replay server.

Every shared Bedrock fixture is served on 127.0.0.1 in AWS event-stream framing,
one message per write, in 7-byte writes and in random writes (so frames are split
at every kind of boundary), and read with ``stream`` and ``astream``; the final
message is checked against what the fixture says (``bedrock_oracle``). Then SigV4
signing checked on the received request with botocore, and the faults: corrupt
frames, exception frames before and after content, a dropped connection, HTTP 429
with ``retry-after``, a 400 that is not retried, and missing region or credentials.
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
from bedrock_oracle import AWS_VARIABLES, expected_from_fixture, verify_sigv4
from protocol_checks import assert_protocol

import alchemy
from alchemy.models import get_model
from alchemy.providers import _aws
from alchemy.testing import CorruptFrame, Drop, ErrorEvent, Replay, ReplayServer
from alchemy.types import AssistantMessage, Context, Model, TextContent, Tool, UserMessage

API = "bedrock-converse-stream"
TOKEN = "bedrock-api-key-e2e-0123456789"
SONNET = get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
CONTEXT = Context(
    "You are helpful.",
    [UserMessage("What's the weather in San Francisco?")],
    tools=[Tool("weather", "Weather for a location.", {"type": "object", "properties": {"location": {}}})],
)
FAST = {"api_key": TOKEN, "region": "us-east-1", "max_retry_delay": 0.05}
CHUNKINGS = ["event", "bytes=7", "random"]
TEXT = "amazon-bedrock/amazon-bedrock-text"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _aws.forget_sessions()
    yield
    _aws.forget_sessions()


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "amazon-bedrock"
    return sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []


def _name(path: Path) -> str:
    return path.name.removesuffix(".chunks.txt")


def _dirs() -> list[Path]:
    return [support.FIXTURES] if support.FIXTURES.is_dir() else []


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ReplayServer]:
    """One server for the fixture matrix; each test picks its replay by name (x-alchemy-replay)."""
    with ReplayServer(recording_dirs=_dirs()) as server:
        server.default = None
        yield server


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    """A fresh server with an empty queue, for the fault tests."""
    with ReplayServer(recording_dirs=_dirs()) as replay:
        replay.default = None
        yield replay


def model_on(server: ReplayServer, model: Model = SONNET) -> Model:
    return dataclasses.replace(model, base_url=server.base_url_for(API))


def collect(model: Model, **options: Any) -> AssistantMessage:
    with alchemy.stream(model, CONTEXT, **options) as events:
        seen = list(events)
    return assert_protocol(seen)


async def acollect(model: Model, **options: Any) -> AssistantMessage:
    async with alchemy.astream(model, CONTEXT, **options) as events:
        seen = [event async for event in events]
    return assert_protocol(seen)


# --------------------------------------------------------------------------- every fixture


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fixture_end_to_end(shared_server: ReplayServer, path: Path, chunking: str, mode: str) -> None:
    support.require_shared()
    if chunking == "random":
        chunking = f"random={zlib.crc32(path.name.encode())}"
    name = f"{_name(path)}:{chunking}"
    shared_server.register(name, Replay(f"amazon-bedrock/{_name(path)}", api=API, chunking=chunking))
    model = model_on(shared_server)
    options = {**FAST, "headers": {"x-alchemy-replay": name}}
    message = collect(model, **options) if mode == "sync" else asyncio.run(acollect(model, **options))
    expected_from_fixture(path).check(message, model)
    request = shared_server.requests[-1]
    assert request.path == "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json["messages"][0]["content"][0] == {"text": "What's the weather in San Francisco?"}
    assert request.json["toolConfig"]["tools"][0]["toolSpec"]["name"] == "weather"


def test_bundled_recording_with_thinking_and_a_tool_call(server: ReplayServer) -> None:
    server.enqueue(Replay(api=API, chunking="bytes=5"))
    message = alchemy.complete_simple(model_on(server), CONTEXT, reasoning="medium", **FAST)
    assert message.stop_reason == "toolUse", message.error_message
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text", "toolCall"]
    assert message.content[2].arguments == {"city": "Paris", "unit": "celsius"}  # type: ignore[union-attr]
    body = server.requests[-1].json
    assert body["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 8192}


# --------------------------------------------------------------------------- SigV4 on the wire


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sigv4_signature_verifies_on_the_received_request(
    server: ReplayServer, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    pytest.importorskip("botocore")
    support.require_shared()
    secret = support.FAKE_AWS_SECRET
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    server.enqueue(Replay(TEXT, api=API))
    seen: list[Any] = []

    def hook(body: dict[str, Any], model: Model) -> dict[str, Any]:
        seen.append(body)
        return {**body, "inferenceConfig": {"maxTokens": 77}}

    options = {"max_retry_delay": 0.05, "on_payload": hook}
    model = model_on(server)
    message = collect(model, **options) if mode == "sync" else asyncio.run(acollect(model, **options))
    assert message.stop_reason == "stop", message.error_message
    request = server.requests[-1]
    assert request.json["inferenceConfig"] == {"maxTokens": 77} and seen
    headers = dict(request.headers.items())
    verify_sigv4("POST", server.base_url + request.path, headers, request.body, secret, "us-west-2")
    assert secret not in repr(request)


# --------------------------------------------------------------------------- faults


def test_corrupt_frame_before_content_is_retried_then_after_content_ends_the_stream(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT, api=API, faults=[CorruptFrame(after_events=0)]), Replay(TEXT, api=API))
    message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and len(server.requests) == 2
    assert message.metrics is not None and message.metrics.retries == 1

    server.enqueue(Replay(TEXT, api=API, faults=[CorruptFrame(after_events=4, part="prelude")]))
    message = collect(model_on(server), **FAST, max_retries=0)
    assert message.stop_reason == "error"
    assert "corrupt event stream: event-stream prelude checksum mismatch" in (message.error_message or "")
    assert message.content == [TextContent('Let me count the "r"s in "')]


def test_exception_frame_before_content_is_retried(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT, api=API, faults=[ErrorEvent(after_events=1)]), Replay(TEXT, api=API))
    message = asyncio.run(acollect(model_on(server), **FAST))
    assert message.stop_reason == "stop" and message.text.endswith("strawberry.\"")
    assert len(server.requests) == 2


def test_exception_frame_after_content_keeps_it(server: ReplayServer) -> None:
    support.require_shared()
    fault = ErrorEvent(after_events=3, error_type="modelStreamErrorException", message="The model stream failed.")
    server.enqueue(Replay(TEXT, api=API, faults=[fault]))
    message = collect(model_on(server), **FAST, max_retries=0)
    assert message.stop_reason == "error"
    assert message.error_message == "Amazon Bedrock modelStreamErrorException: The model stream failed."
    assert message.content == [TextContent('Let me count the "')]
    assert len(server.requests) == 1


def test_validation_exception_is_not_retried(server: ReplayServer) -> None:
    support.require_shared()
    fault = ErrorEvent(after_events=0, error_type="validationException", message="Malformed input request.")
    server.enqueue(Replay(TEXT, api=API, faults=[fault]), Replay(TEXT, api=API))
    message = collect(model_on(server), **FAST)
    assert message.error_message == "Amazon Bedrock validationException: Malformed input request."
    assert len(server.requests) == 1


def test_dropped_connection_mid_stream(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT, api=API, faults=[Drop(after_bytes=300)]))
    with alchemy.stream(model_on(server), CONTEXT, **FAST, max_retries=0) as events:
        message = assert_protocol(list(events))
    assert message.stop_reason == "error" and message.content, message.error_message


def test_429_with_retry_after_then_success(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay.http_error(429, retry_after=0.01, api=API), Replay(TEXT, api=API))
    message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and len(server.requests) == 2


def test_400_is_not_retried_and_names_the_problem(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(400, message="The provided model identifier is invalid.", api=API))
    message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error"
    assert "Amazon Bedrock HTTP 400: ValidationException: The provided model identifier is invalid." in (
        message.error_message or ""
    )
    assert len(server.requests) == 1


def test_missing_region_and_credentials_end_with_a_clear_error(server: ReplayServer) -> None:
    message = alchemy.complete(SONNET, CONTEXT, api_key=TOKEN)
    assert message.stop_reason == "error" and message.error_message is not None
    assert message.error_message.startswith("amazon-bedrock needs an AWS region")
    message = alchemy.complete(SONNET, CONTEXT, region="us-east-1")
    assert message.stop_reason == "error" and "AWS credentials" in (message.error_message or "")
    assert server.requests == []


# --------------------------------------------------------------------------- options on the wire

OPUS_46 = get_model("amazon-bedrock", "anthropic.claude-opus-4-6-v1")
OPUS_47 = get_model("amazon-bedrock", "anthropic.claude-opus-4-7")
NOVA = get_model("amazon-bedrock", "amazon.nova-pro-v1:0")
HELLO = Context(messages=[UserMessage("Hello")])


@pytest.fixture(scope="module")
def bundled() -> Iterator[ReplayServer]:
    """One server answering every request with the bundled Bedrock recording."""
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
    ("options", "path", "expected"),
    [
        ({"stop": "END"}, ("inferenceConfig", "stopSequences"), ["END"]),
        ({"stop": ["a", "b"]}, ("inferenceConfig", "stopSequences"), ["a", "b"]),
        ({"top_p": 0.6}, ("inferenceConfig", "topP"), 0.6),
        ({"temperature": 0.2}, ("inferenceConfig", "temperature"), 0.2),
        ({"max_tokens": 99}, ("inferenceConfig", "maxTokens"), 99),
        ({"top_k": 7}, ("additionalModelRequestFields", "top_k"), 7),
        ({"tool_choice": "auto"}, ("toolConfig", "toolChoice"), {"auto": {}}),
        ({"tool_choice": "required"}, ("toolConfig", "toolChoice"), {"any": {}}),
        ({"tool_choice": "any"}, ("toolConfig", "toolChoice"), {"any": {}}),
        ({"tool_choice": {"name": "weather"}}, ("toolConfig", "toolChoice"), {"tool": {"name": "weather"}}),
        ({"metadata": {"team": "search", "run": "42"}}, ("requestMetadata",), {"team": "search", "run": "42"}),
        (
            {"extra_body": {"inferenceConfig": {"topP": 0.1}, "performanceConfig": {"latency": "optimized"}}},
            ("performanceConfig",),
            {"latency": "optimized"},
        ),
    ],
    ids=lambda value: str(value)[:40],
)
def test_canonical_options_reach_the_body(
    bundled: ReplayServer, options: dict[str, Any], path: tuple[str, ...], expected: Any
) -> None:
    value: Any = sent(bundled, **options)
    for key in path:
        value = value[key]
    assert value == expected


def test_extra_body_is_merged_last_and_extra_headers_win(bundled: ReplayServer) -> None:
    body = sent(bundled, max_tokens=50, extra_body={"inferenceConfig": {"topP": 0.1}}, extra_headers={"x-trace": "t"})
    assert body["inferenceConfig"] == {"maxTokens": 50, "topP": 0.1}, "deep-merged, not replaced"
    assert bundled.requests[-1].headers["x-trace"] == "t"


def test_tool_choice_none_sends_no_tools(bundled: ReplayServer) -> None:
    body = sent(bundled, tool_choice="none")
    assert "toolConfig" not in body and body["messages"][0]["content"][0] == {"text": CONTEXT.messages[0].content}


# Budget models: off -> nothing; levels -> budgets (xhigh and max as high), the interleaved beta. Adaptive
# models: an effort, clamped to the model's levels (Opus 4.6 has no xhigh: it goes up to max).
_BETA = ["interleaved-thinking-2025-05-14"]
LEVELS = [
    (SONNET, "off", None),
    (SONNET, "minimal", {"thinking": {"type": "enabled", "budget_tokens": 1024}, "anthropic_beta": _BETA}),
    (SONNET, "low", {"thinking": {"type": "enabled", "budget_tokens": 2048}, "anthropic_beta": _BETA}),
    (SONNET, "medium", {"thinking": {"type": "enabled", "budget_tokens": 8192}, "anthropic_beta": _BETA}),
    (SONNET, "high", {"thinking": {"type": "enabled", "budget_tokens": 16384}, "anthropic_beta": _BETA}),
    (SONNET, "xhigh", {"thinking": {"type": "enabled", "budget_tokens": 16384}, "anthropic_beta": _BETA}),
    (SONNET, "max", {"thinking": {"type": "enabled", "budget_tokens": 16384}, "anthropic_beta": _BETA}),
    (OPUS_46, "off", None),
    (OPUS_46, "minimal", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
    (OPUS_46, "low", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
    (OPUS_46, "medium", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}),
    (OPUS_46, "high", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}),
    (OPUS_46, "xhigh", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
    (OPUS_46, "max", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
    (OPUS_47, "off", None),
    (OPUS_47, "xhigh", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"}}),
    (OPUS_47, "max", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
    (NOVA, "high", None),  # not Claude: the level is not sent
]


@pytest.mark.parametrize("simple", [False, True], ids=["complete", "complete_simple"])
@pytest.mark.parametrize(("model", "level", "fields"), LEVELS, ids=lambda v: getattr(v, "id", str(v)))
def test_every_reasoning_level_on_the_wire(
    bundled: ReplayServer, model: Model, level: str, fields: Any, simple: bool
) -> None:
    call = alchemy.complete_simple if simple else alchemy.complete
    before = len(bundled.requests)
    message = call(model_on(bundled, model), HELLO, **FAST, reasoning=level)
    assert message.stop_reason != "error", message.error_message
    assert len(bundled.requests) == before + 1
    body = bundled.requests[-1].json
    assert body.get("additionalModelRequestFields") == fields
    room = min(model.max_tokens, 32000)
    budget = fields["thinking"].get("budget_tokens", 0) if fields else 0
    assert body["inferenceConfig"]["maxTokens"] == min(room + budget, model.max_tokens)


@pytest.mark.parametrize(
    ("model", "options", "error"),
    [
        (SONNET, {"region": ""}, ValueError),
        (SONNET, {"region": 5}, TypeError),
        (SONNET, {"profile": ""}, ValueError),
        (SONNET, {"interleaved_thinking": "on"}, TypeError),
        (SONNET, {"tool_choice": "sometimes"}, ValueError),
        (SONNET, {"tool_choice": {"name": "not_a_tool"}}, ValueError),
        (SONNET, {"stop": [""]}, ValueError),
        (SONNET, {"top_p": -0.1}, ValueError),
        (SONNET, {"metadata": {"run": 42}}, TypeError),
        (SONNET, {"extra_body": "{}"}, TypeError),
        (SONNET, {"user": "u-1"}, TypeError),  # Converse has no end-user field
        (SONNET, {"parallel_tool_calls": False}, TypeError),  # nor a parallel-calls switch
        (SONNET, {"seed": 3}, TypeError),
        (NOVA, {"top_k": 5}, ValueError),  # top_k goes to Claude only
        (SONNET, {"reasoning": "low", "top_k": 5}, ValueError),
        (SONNET, {"reasoning": "low", "top_p": 0.5}, ValueError),
        (SONNET, {"reasoning": "low", "tool_choice": "required"}, ValueError),
        (SONNET, {"reasoning": "low", "thinking_budgets": {"low": 100}}, ValueError),
        (dataclasses.replace(SONNET, max_tokens=1500), {"reasoning": "high"}, ValueError),  # no room to think
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_options_raise_before_stream_returns(
    bundled: ReplayServer, model: Model, options: dict[str, Any], error: type[Exception]
) -> None:
    before = len(bundled.requests)
    with pytest.raises(error):
        alchemy.stream(model_on(bundled, model), CONTEXT, **{**FAST, **options})
    with pytest.raises(error):
        alchemy.astream(model_on(bundled, model), CONTEXT, **{**FAST, **options})
    assert len(bundled.requests) == before, "no request reached the server"
