"""The Mistral provider end to end: ``alchemy.stream`` against the replay server.

Every shared Mistral fixture is served on 127.0.0.1 as ``data:`` events ending
with ``data: [DONE]``, per event, in 7-byte writes and in random writes, and read
with ``stream`` and ``astream``; the final message is checked against what the
fixture says (``mistral_oracle``). Then a handoff from another provider (tool-call
ids rewritten to nine alphanumerics on the wire), ``stream_simple`` reasoning, and
the faults: an error inside the stream before and after content, a dropped
connection, HTTP 429 with ``retry-after`` and a 401 that is not retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from mistral_oracle import expected_from_fixture
from protocol_checks import assert_protocol

import alchemy
from alchemy.models import get_model
from alchemy.testing import Drop, ErrorEvent, Replay, ReplayServer
from alchemy.types import AssistantMessage, Context, Model, TextContent, Tool, ToolCall, ToolResultMessage, UserMessage

API = "mistral-conversations"
KEY = "mistral-e2e-key-0123456789"
SMALL = get_model("mistral", "mistral-small-2506")
MAGISTRAL = get_model("mistral", "magistral-medium-latest")
WEATHER = Tool("get_weather", "Weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}})
CONTEXT = Context("You are helpful.", [UserMessage("What's the weather in Berlin?")], tools=[WEATHER])
FAST = {"api_key": KEY, "max_retry_delay": 0.05}
CHUNKINGS = ["event", "bytes=7", "random"]
TEXT = "mistral/mistral-text"


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "mistral"
    return sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []


def _name(path: Path) -> str:
    return path.name.removesuffix(".chunks.txt")


def _dirs() -> list[Path]:
    return [support.FIXTURES] if support.FIXTURES.is_dir() else []


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MISTRAL_API_KEY", "ALCHEMY_BASE_URL_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ReplayServer]:
    with ReplayServer(recording_dirs=_dirs()) as server:
        server.default = None
        yield server


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(recording_dirs=_dirs()) as replay:
        replay.default = None
        yield replay


def model_on(server: ReplayServer, model: Model = SMALL) -> Model:
    return dataclasses.replace(model, base_url=server.base_url_for(API))


def collect(model: Model, context: Context = CONTEXT, **options: Any) -> AssistantMessage:
    with alchemy.stream(model, context, **options) as events:
        seen = list(events)
    return assert_protocol(seen)


async def acollect(model: Model, context: Context = CONTEXT, **options: Any) -> AssistantMessage:
    async with alchemy.astream(model, context, **options) as events:
        seen = [event async for event in events]
    return assert_protocol(seen)


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fixture_end_to_end(shared_server: ReplayServer, path: Path, chunking: str, mode: str) -> None:
    support.require_shared()
    if chunking == "random":
        chunking = f"random={zlib.crc32(path.name.encode())}"
    name = f"{_name(path)}:{chunking}"
    shared_server.register(name, Replay(f"mistral/{_name(path)}", api=API, chunking=chunking))
    model = model_on(shared_server)
    options = {**FAST, "headers": {"x-alchemy-replay": name}}
    message = collect(model, **options) if mode == "sync" else asyncio.run(acollect(model, **options))
    expected_from_fixture(path).check(message, model)
    request = shared_server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == SMALL.id and request.json["stream"] is True
    assert request.json["tools"][0]["function"]["strict"] is False


def test_handoff_rewrites_tool_call_ids_on_the_wire(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT, api=API))
    claude = AssistantMessage(
        [TextContent("Let me look."), ToolCall("toolu_01XYZ-abc_def", "get_weather", {"city": "Berlin"})],
        api="anthropic-messages",
        provider="anthropic",
        model="claude-sonnet-4-5",
        stop_reason="toolUse",
    )
    context = Context(
        CONTEXT.system_prompt,
        [*CONTEXT.messages, claude, ToolResultMessage("toolu_01XYZ-abc_def", "get_weather", [TextContent("12C")]), UserMessage("Thanks!")],
        tools=[WEATHER],
    )
    message = collect(model_on(server), context, **FAST)
    assert message.stop_reason == "stop", message.error_message
    sent = server.requests[-1].json["messages"]
    call_id = sent[2]["tool_calls"][0]["id"]
    assert re.fullmatch(r"[A-Za-z0-9]{9}", call_id)
    assert sent[3] == {"role": "tool", "tool_call_id": call_id, "name": "get_weather", "content": "12C"}
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]


def test_simple_reasoning_turns_on_prompt_mode(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay("mistral/mistral-reasoning", api=API, chunking="bytes=3"))
    message = asyncio.run(_simple(model_on(server, MAGISTRAL)))
    assert [block.type for block in message.content] == ["thinking", "text"]
    body = server.requests[-1].json
    assert body["prompt_mode"] == "reasoning" and body["max_tokens"] == 16384


async def _simple(model: Model) -> AssistantMessage:
    return await alchemy.acomplete_simple(model, CONTEXT, reasoning="high", **FAST)


def test_error_in_the_stream_before_content_is_retried(server: ReplayServer) -> None:
    support.require_shared()
    fault = ErrorEvent(after_events=0, error_type="service_unavailable", message="Service unavailable")
    server.enqueue(Replay(TEXT, api=API, faults=[fault]), Replay(TEXT, api=API))
    message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and message.text == "Hello, world! This is a test response."
    assert len(server.requests) == 2


def test_error_in_the_stream_after_content_keeps_it(server: ReplayServer) -> None:
    support.require_shared()
    fault = ErrorEvent(after_events=3, error_type="invalid_request_error", message="Something broke")
    server.enqueue(Replay(TEXT, api=API, faults=[fault]))
    message = collect(model_on(server), **FAST, max_retries=0)
    assert message.stop_reason == "error" and message.text == "Hello, "
    assert message.error_message == "Mistral invalid_request_error: Something broke"


def test_dropped_connection_mid_stream(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay(TEXT, api=API, faults=[Drop(after_events=4)]))
    message = collect(model_on(server), **FAST, max_retries=0)
    assert message.stop_reason == "error" and message.text == "Hello, world!"


def test_429_with_retry_after_then_success(server: ReplayServer) -> None:
    support.require_shared()
    server.enqueue(Replay.http_error(429, retry_after=0.01, api=API), Replay(TEXT, api=API))
    message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and len(server.requests) == 2


def test_401_is_not_retried(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(401, api=API))
    message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and "Mistral HTTP 401" in (message.error_message or "")
    assert KEY not in (message.error_message or "") and len(server.requests) == 1
