"""Cohere's v2 chat (``cohere-chat``): request bodies, the shared recordings, the parser, handoff.

Request bodies are read from what the real replay server on 127.0.0.1 recorded
(every message and content kind, tools, tool results and options). The shared Cohere
recordings (``shared/fixtures/vercel-ai/cohere``: text, reasoning, a tool call with
a tool plan) are served as Cohere frames them (``event: <type>`` + ``data:``), per
event, in 7-byte writes and in random writes, read with ``stream`` and ``astream`` on
both twins of the kernels. Hand-written streams in Cohere's documented shapes cover
argument deltas, citations on the text block, finish reasons and cut streams; then handoff to and from
Cohere (tool-call ids, tool plans, thinking).
"""

from __future__ import annotations

import asyncio
import dataclasses
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import support
from protocol_checks import assert_protocol, run_parser

import alchemy
from alchemy.models import get_model
from alchemy.providers.cohere_chat import TOOL_PLAN_SIGNATURE, provider
from alchemy.testing import Drop, Replay, ReplayServer
from alchemy.types import (
    AssistantMessage,
    Citation,
    Context,
    ImageContent,
    Message,
    Model,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

API = "cohere-chat"
KEY = "cohere-test-key-0123456789"
COMMAND_A = get_model("cohere", "command-a-03-2025")
REASONING = get_model("cohere", "command-a-reasoning-08-2025")
VISION = get_model("cohere", "command-a-plus-05-2026")  # images and tools
WEATHER = Tool("get_weather", "Weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}})
CONTEXT = Context("You are helpful.", [UserMessage("What's the weather in Paris?")], tools=[WEATHER])
FAST: dict[str, Any] = {"api_key": KEY, "max_retry_delay": 0.05}
CHUNKINGS = ["event", "bytes=7", "random"]
PNG = ImageContent("iVBORw0KGgo=", "image/png")
Body = dict[str, Any]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COHERE_API_KEY", "ALCHEMY_BASE_URL_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    dirs = [support.FIXTURES] if support.FIXTURES.is_dir() else []
    with ReplayServer(recording_dirs=dirs) as replay:
        yield replay


def on(server: ReplayServer, model: Model = COMMAND_A) -> Model:
    return dataclasses.replace(model, base_url=server.base_url_for(API))


def sent(server: ReplayServer, context: Context = CONTEXT, model: Model = COMMAND_A, **options: Any) -> Body:
    """The body Cohere would get for ``context``: streamed against the bundled recording."""
    server.enqueue(Replay(api=API))
    message = alchemy.complete(on(server, model), context, **{**FAST, **options})
    assert message.stop_reason != "error", message.error_message
    body: Body = server.requests[-1].json
    return body


def cohere_turn(*content: Any, model: Model = COMMAND_A, stop: Any = "toolUse") -> AssistantMessage:
    return AssistantMessage(list(content), api=API, provider="cohere", model=model.id, stop_reason=stop)


# --------------------------------------------------------------------------- request bodies


def test_the_request_goes_to_v2_chat_with_a_bearer_key(server: ReplayServer) -> None:
    body = sent(server)
    request = server.requests[-1]
    assert request.path == "/v2/chat"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert body["model"] == "command-a-03-2025" and body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "What's the weather in Paris?"},
    ]
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                          "parameters": WEATHER.parameters}}
    ]
    assert "strict_tools" not in body and "tool_choice" not in body


def test_a_missing_key_raises_at_the_call_naming_cohere_api_key() -> None:
    with pytest.raises(alchemy.MissingApiKeyError, match="COHERE_API_KEY"):
        alchemy.stream(COMMAND_A, CONTEXT)


def test_every_message_and_content_kind(server: ReplayServer) -> None:
    history: list[Message] = [
        UserMessage([TextContent("What is in this picture?"), PNG, TextContent("   ")]),
        cohere_turn(ThinkingContent("The user sent a logo.", None), TextContent("A logo."), model=VISION, stop="stop"),
        UserMessage("And the weather?"),
        cohere_turn(
            ThinkingContent("I'll look it up.", TOOL_PLAN_SIGNATURE),
            ToolCall("get_weather_1", "get_weather", {"city": "Paris"}),
            ToolCall("get_weather_2", "get_weather", {"city": "Lyon"}),
            model=VISION,
        ),
        ToolResultMessage("get_weather_1", "get_weather", [TextContent("18C")]),
        ToolResultMessage("get_weather_2", "get_weather", [TextContent("no data")], is_error=True),
        UserMessage("   "),
    ]
    body = sent(server, Context(None, history, tools=[WEATHER]), VISION)
    assert body["messages"] == [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "The user sent a logo."},
            {"type": "text", "text": "A logo."},
        ]},
        {"role": "user", "content": "And the weather?"},
        {"role": "assistant", "tool_plan": "I'll look it up.", "tool_calls": [
            {"id": "get_weather_1", "type": "function", "function": {"name": "get_weather",
                                                                     "arguments": '{"city":"Paris"}'}},
            {"id": "get_weather_2", "type": "function", "function": {"name": "get_weather",
                                                                     "arguments": '{"city":"Lyon"}'}},
        ]},
        {"role": "tool", "tool_call_id": "get_weather_1", "content": [{"type": "text", "text": "18C"}]},
        {"role": "tool", "tool_call_id": "get_weather_2",
         "content": [{"type": "text", "text": "[tool error] no data"}]},
    ]


def test_a_tool_result_with_only_an_image_says_so_in_text(server: ReplayServer) -> None:
    history: list[Message] = [
        UserMessage("Screenshot?"),
        cohere_turn(ToolCall("shot_1", "screenshot", {})),
        ToolResultMessage("shot_1", "screenshot", [PNG]),
    ]
    body = sent(server, Context(None, history, tools=[Tool("screenshot", "Takes one.", {"type": "object"})]), VISION)
    assert body["messages"][-1] == {
        "role": "tool", "tool_call_id": "shot_1",
        "content": [{"type": "text", "text": "(the tool returned an image, which Cohere cannot take in a tool result)"}],
    }


def test_a_tool_plan_without_calls_goes_back_as_text(server: ReplayServer) -> None:
    turn = cohere_turn(ThinkingContent("I would call a tool.", TOOL_PLAN_SIGNATURE), stop="stop")
    body = sent(server, Context(None, [UserMessage("hi"), turn, UserMessage("go on")]))
    assert body["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "I would call a tool."}]}


def test_strict_tools_switch_the_whole_request(server: ReplayServer) -> None:
    strict = Tool("get_weather", "Weather.", {"type": "object", "properties": {"city": {"type": "string"}},
                                             "required": ["city"]}, strict=True)
    body = sent(server, Context(None, [UserMessage("hi")], tools=[strict]))
    assert body["strict_tools"] is True
    assert body["tools"][0]["function"]["parameters"]["additionalProperties"] is False
    with pytest.raises(ValueError, match="strict"):
        loose = Tool("get_time", "Time.", {"type": "object", "properties": {}})
        alchemy.stream(COMMAND_A, Context(None, [UserMessage("hi")], tools=[strict, loose]), api_key=KEY)


def test_sampling_options_take_cohere_names(server: ReplayServer) -> None:
    body = sent(server, temperature=0.3, max_tokens=200, stop=["END"], top_p=0.9, top_k=40, seed=7,
                frequency_penalty=0.1, presence_penalty=0.2)
    picked = {key: body[key] for key in ("temperature", "max_tokens", "stop_sequences", "p", "k", "seed",
                                         "frequency_penalty", "presence_penalty")}
    assert picked == {"temperature": 0.3, "max_tokens": 200, "stop_sequences": ["END"], "p": 0.9, "k": 40, "seed": 7,
                      "frequency_penalty": 0.1, "presence_penalty": 0.2}


def test_penalties_are_checked_against_cohere_range() -> None:
    with pytest.raises(ValueError, match="frequency_penalty"):
        alchemy.stream(COMMAND_A, CONTEXT, api_key=KEY, frequency_penalty=1.5)


@pytest.mark.parametrize(("choice", "wire"), [("required", "REQUIRED"), ("any", "REQUIRED"), ("none", "NONE"),
                                              ("auto", None)])
def test_tool_choice(server: ReplayServer, choice: str, wire: str | None) -> None:
    assert sent(server, tool_choice=choice).get("tool_choice") == wire


def test_a_named_tool_choice_raises_unless_it_is_the_only_tool(server: ReplayServer) -> None:
    assert sent(server, tool_choice={"name": "get_weather"})["tool_choice"] == "REQUIRED"
    two = Context(None, [UserMessage("hi")], tools=[WEATHER, Tool("get_time", "Time.", {"type": "object"})])
    with pytest.raises(ValueError, match="forces no named tool"):
        alchemy.stream(COMMAND_A, two, api_key=KEY, tool_choice={"name": "get_weather"})


def test_json_mode_and_schema_response_format(server: ReplayServer) -> None:
    assert sent(server, response_format={"type": "json_object"})["response_format"] == {"type": "json_object"}
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
              "additionalProperties": False}
    assert sent(server, output_schema=schema)["response_format"] == {"type": "json_object", "json_schema": schema}


def test_thinking_options(server: ReplayServer) -> None:
    assert sent(server, model=REASONING, thinking_enabled=False)["thinking"] == {"type": "disabled"}
    assert sent(server, model=REASONING, thinking_budget_tokens=500)["thinking"] == {"type": "enabled",
                                                                                     "token_budget": 500}
    assert sent(server, model=REASONING, thinking_enabled=True)["thinking"] == {"type": "enabled"}
    assert "thinking" not in sent(server, model=REASONING)


def test_a_reasoning_level_becomes_a_thinking_budget(server: ReplayServer) -> None:
    assert sent(server, model=REASONING, reasoning="low")["thinking"] == {"type": "enabled", "token_budget": 2048}
    given = sent(server, model=REASONING, reasoning="high", thinking_budgets={"high": 3000})
    assert given["thinking"] == {"type": "enabled", "token_budget": 3000}
    assert sent(server, model=REASONING, reasoning="off")["thinking"] == {"type": "disabled"}
    explicit = sent(server, model=REASONING, reasoning="high", thinking_enabled=False)
    assert explicit["thinking"] == {"type": "disabled"}, "an explicit switch wins over the level"
    assert "thinking" not in sent(server, reasoning="high"), "a model without reasoning ignores the level"


def test_options_cohere_cannot_carry_raise_naming_the_api() -> None:
    with pytest.raises(TypeError, match="cohere-chat"):
        alchemy.stream(COMMAND_A, CONTEXT, api_key=KEY, parallel_tool_calls=False)


def test_extra_body_and_extra_headers(server: ReplayServer) -> None:
    body = sent(server, extra_body={"safety_mode": "OFF"}, extra_headers={"x-client-name": "alchemy-test"})
    assert body["safety_mode"] == "OFF"
    assert server.requests[-1].headers["x-client-name"] == "alchemy-test"


# --------------------------------------------------------------------------- the shared recordings


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "cohere"
    return sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []


def _name(path: Path) -> str:
    return path.name.removesuffix(".chunks.txt")


EXPECTED: dict[str, tuple[list[Any], str, Usage, str]] = {
    "cohere-text": (
        [TextContent("The capital of France is Paris.")],
        "stop",
        Usage(input=59, output=10, cache_read=448, total_tokens=517),
        "321d178c-2c12-44d3-ae42-2f5510f6b1cc",
    ),
    "cohere-reasoning": (
        [
            ThinkingContent(
                "The user is asking for the sum of 2 and 2. Since this is a straightforward arithmetic problem, "
                "I don't need to use any tools. I can calculate the answer directly."
            ),
            TextContent("The answer to 2 + 2 is 4."),
        ],
        "stop",
        Usage(input=34, output=54, cache_read=1360, total_tokens=1448),
        "c9117d7f-a7e4-499f-b643-a2a1e139687b",
    ),
    "cohere-empty-tool-call": (
        [
            ThinkingContent("I will use the currentTime tool to find the current time.", TOOL_PLAN_SIGNATURE),
            ToolCall("currentTime_y46ar19t5gvw", "currentTime", {}),
        ],
        "toolUse",
        Usage(input=741, output=43, cache_read=704, total_tokens=1488),
        "66dec7d7-45e6-427c-8fd9-7d6375d12046",
    ),
}
"""What each shared recording says: content, stop reason, token counts, response id."""


def check(message: AssistantMessage, name: str) -> None:
    content, stop, usage, response_id = EXPECTED[name]
    assert message.stop_reason == stop, message.error_message
    assert message.content == content
    counted = (message.usage.input, message.usage.output, message.usage.cache_read, message.usage.total_tokens)
    assert counted == (usage.input, usage.output, usage.cache_read, usage.total_tokens)
    assert (message.usage.cost.input or 0) > 0 and (message.usage.cost.output or 0) > 0
    # The registry has no cache-read price for Cohere: a total over cached tokens is unknown, not 0.
    assert message.usage.cost.total is None
    assert message.response_id == response_id


def test_every_shared_recording_is_covered() -> None:
    support.require_shared()
    assert {_name(path) for path in fixtures()} == set(EXPECTED)


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.usefixtures("twins")
def test_shared_recording_end_to_end(server: ReplayServer, path: Path, chunking: str, mode: str) -> None:
    support.require_shared()
    if chunking == "random":
        chunking = f"random={zlib.crc32(path.name.encode())}"
    name = f"{_name(path)}:{chunking}"
    server.register(name, Replay(f"cohere/{_name(path)}", api=API, chunking=chunking))
    model = on(server, REASONING if "reasoning" in path.name else COMMAND_A)
    options = {**FAST, "headers": {"x-alchemy-replay": name}}
    if mode == "sync":
        with alchemy.stream(model, CONTEXT, **options) as events:
            seen = list(events)
    else:
        seen = asyncio.run(_collect(model, options))
    check(assert_protocol(seen), _name(path))


async def _collect(model: Model, options: dict[str, Any]) -> list[Any]:
    async with alchemy.astream(model, CONTEXT, **options) as events:
        return [event async for event in events]


def wire_of(path: Path) -> bytes:
    """The recording framed as Cohere sends it: ``event: <type>`` then ``data: <json>``."""
    out = b""
    for line in path.read_bytes().splitlines():
        if line.strip():
            out += b"event: " + orjson.loads(line)["type"].encode() + b"\ndata: " + line + b"\n\n"
    return out


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.usefixtures("twins")
def test_shared_recording_at_every_split_point(path: Path) -> None:
    support.require_shared()
    wire = wire_of(path)
    for cut in range(0, len(wire) + 1, 3):
        check(run_parser(provider, COMMAND_A, wire, [cut])[1], _name(path))


# --------------------------------------------------------------------------- hand-written streams


def frames(*events: Body) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


START: Body = {"id": "r-1", "type": "message-start", "delta": {"message": {"role": "assistant", "content": [],
                                                                          "tool_plan": "", "tool_calls": []}}}


def text_part(index: int, *pieces: str) -> list[Body]:
    return [
        {"type": "content-start", "index": index, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
        *({"type": "content-delta", "index": index, "delta": {"message": {"content": {"text": p}}}} for p in pieces),
        {"type": "content-end", "index": index},
    ]


def end(reason: str, **extra: Any) -> Body:
    delta: Body = {"finish_reason": reason, "usage": {"billed_units": {"input_tokens": 3, "output_tokens": 4}}}
    return {"type": "message-end", "delta": {**delta, **extra}}


def call(index: int, call_id: str, name: str, *pieces: str) -> list[Body]:
    return [
        {"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": {
            "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}}}},
        *({"type": "tool-call-delta", "index": index,
           "delta": {"message": {"tool_calls": {"function": {"arguments": p}}}}} for p in pieces),
        {"type": "tool-call-end", "index": index},
    ]


@pytest.mark.usefixtures("twins")
def test_a_plan_and_two_calls_with_streamed_arguments() -> None:
    wire = frames(
        START,
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will check"}}},
        {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": " both cities."}}},
        *call(0, "get_weather_a1", "get_weather", '{"ci', 'ty": "Paris"}'),
        *call(1, "get_weather_b2", "get_weather", '{"city": ', '"Lyon"}'),
        end("TOOL_CALL"),
    )
    for cut in range(len(wire) + 1):
        _, message = run_parser(provider, COMMAND_A, wire, [cut])
        assert message.content == [
            ThinkingContent("I will check both cities.", TOOL_PLAN_SIGNATURE),
            ToolCall("get_weather_a1", "get_weather", {"city": "Paris"}),
            ToolCall("get_weather_b2", "get_weather", {"city": "Lyon"}),
        ]
        assert message.stop_reason == "toolUse"
        assert (message.usage.input, message.usage.output) == (3, 4), "billed units when no tokens are given"


def test_citations_go_on_the_text_block_not_into_new_blocks() -> None:
    # More citation shapes: test_cohere_bedrock_citations.
    cited = {"start": 0, "end": 5, "text": "Paris", "sources": [{"type": "document", "id": "doc:0"}]}
    citation = {"type": "citation-start", "index": 0, "delta": {"message": {"citations": cited}}}
    wire = frames(START, *text_part(0, "Paris is the capital."), citation, {"type": "citation-end", "index": 0},
                  end("COMPLETE"))
    _, message = run_parser(provider, COMMAND_A, wire)
    assert message.content == [
        TextContent("Paris is the capital.", citations=[Citation("document", cited_text="Paris", start=0, end=5,
                                                                 wire=cited)])
    ]
    assert message.stop_reason == "stop"


@pytest.mark.parametrize(("reason", "stop"), [("COMPLETE", "stop"), ("STOP_SEQUENCE", "stop"),
                                              ("MAX_TOKENS", "length"), ("TOOL_CALL", "toolUse"),
                                              ("SOMETHING_NEW", "stop")])
def test_finish_reasons(reason: str, stop: str) -> None:
    _, message = run_parser(provider, COMMAND_A, frames(START, *text_part(0, "x"), end(reason)))
    assert message.stop_reason == stop


@pytest.mark.parametrize(("reason", "kind"), [("ERROR", "server"), ("TIMEOUT", "timeout")])
def test_a_failed_finish_ends_with_an_error_keeping_content(server: ReplayServer, reason: str, kind: str) -> None:
    server.enqueue(Replay([START, *text_part(0, "Partial"), end(reason, error="internal failure")], api=API))
    message = alchemy.complete(on(server), CONTEXT, **FAST, max_retries=0)
    assert message.stop_reason == "error" and message.content == [TextContent("Partial")]
    assert message.error is not None and message.error.kind == kind and message.error.code == reason
    assert message.error_message == f"Cohere {reason}: internal failure"
    assert (message.usage.input, message.usage.output) == (3, 4)


def test_a_stream_without_message_end_is_an_interruption() -> None:
    _, message = run_parser(provider, COMMAND_A, frames(START, *text_part(0, "Half")))
    assert message.stop_reason == "error" and message.content == [TextContent("Half")]
    assert "ended before message-end" in (message.error_message or "")


def test_a_dropped_connection_keeps_what_arrived(server: ReplayServer) -> None:
    server.enqueue(Replay(api=API, faults=[Drop(after_events=8)]))
    message = alchemy.complete(on(server), CONTEXT, **FAST, max_retries=0)
    assert message.stop_reason == "error"
    assert isinstance(message.content[0], ThinkingContent) and message.content[0].thinking.startswith("The user")


def test_an_http_error_names_cohere(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(401, message="invalid api token", api=API))
    message = alchemy.complete(on(server), CONTEXT, **FAST)
    assert message.stop_reason == "error" and message.error is not None and message.error.kind == "auth"
    assert "Cohere HTTP 401" in (message.error_message or "") and "invalid api token" in (message.error_message or "")
    assert KEY not in (message.error_message or "")


# --------------------------------------------------------------------------- handoff


CLAUDE = "claude-sonnet-4-5"


def _claude_turn() -> AssistantMessage:
    return AssistantMessage(
        [
            ThinkingContent("Weather needs a tool.", "sig-abc"),
            TextContent("Let me look."),
            ToolCall("toolu_01XYZ-abc_def", "get_weather", {"city": "Paris"}),
        ],
        api="anthropic-messages", provider="anthropic", model=CLAUDE, stop_reason="toolUse",
    )


def test_handoff_from_anthropic(server: ReplayServer) -> None:
    history = [
        *CONTEXT.messages,
        _claude_turn(),
        ToolResultMessage("toolu_01XYZ-abc_def", "get_weather", [TextContent("18C")]),
        UserMessage("Thanks!"),
    ]
    messages = sent(server, Context(None, history, tools=[WEATHER]))["messages"]
    assert messages[1] == {"role": "assistant", "tool_plan": "Let me look.", "tool_calls": [
        {"id": "toolu_01XYZ-abc_def", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}, "foreign thinking is dropped"
    assert messages[2]["tool_call_id"] == "toolu_01XYZ-abc_def"


def test_handoff_from_responses_shapes_the_ids(server: ReplayServer) -> None:
    turn = AssistantMessage(
        [ToolCall("call_abc|fc_0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "get_weather",
                  {"city": "Paris"})],
        api="openai-responses", provider="openai", model="gpt-5.1", stop_reason="toolUse",
    )
    history = [*CONTEXT.messages, turn, ToolResultMessage(turn.content[0].id, "get_weather",  # type: ignore[union-attr]
                                                          [TextContent("18C")])]
    messages = sent(server, Context(None, history, tools=[WEATHER]))["messages"]
    call_id = messages[1]["tool_calls"][0]["id"]
    assert len(call_id) <= 64 and all(c.isalnum() or c in "_-" for c in call_id)
    assert messages[2]["tool_call_id"] == call_id


def test_thinking_as_text_policy_keeps_foreign_reasoning(server: ReplayServer) -> None:
    history = [*CONTEXT.messages, _claude_turn(), ToolResultMessage("toolu_01XYZ-abc_def", "get_weather",
                                                                      [TextContent("18C")])]
    messages = sent(server, Context(None, history, tools=[WEATHER]), foreign_thinking="text")["messages"]
    assert messages[1]["tool_plan"] == "Weather needs a tool.\n\nLet me look."


def test_handoff_from_cohere_to_anthropic(server: ReplayServer) -> None:
    server.enqueue(Replay(api=API))
    cohere_message = alchemy.complete(on(server, REASONING), CONTEXT, **FAST)
    assert [block.type for block in cohere_message.content] == ["thinking", "thinking", "toolCall"]
    history = [*CONTEXT.messages, cohere_message,
               ToolResultMessage(cohere_message.content[2].id, "get_weather", [TextContent("18C")])]  # type: ignore[union-attr]
    claude = support.wire_model("anthropic-messages", server.base_url_for("anthropic-messages"))
    server.enqueue(Replay(api="anthropic-messages"))
    answer = alchemy.complete(claude, Context(None, history, tools=[WEATHER]), api_key=KEY, foreign_thinking="text")
    assert answer.stop_reason != "error", answer.error_message
    assistant = server.requests[-1].json["messages"][1]
    assert assistant["content"] == [
        {"type": "text", "text": "The user wants the current weather in Paris. I don't have live data, so I should "
                                 "call get_weather with the city set to Paris."},
        {"type": "text", "text": "I'll check the current weather in Paris for you."},
        {"type": "tool_use", "id": "get_weather_q7m2x9c4k1vd", "name": "get_weather",
         "input": {"city": "Paris", "unit": "celsius"}},
    ]


def test_a_cohere_turn_replays_to_cohere_with_its_plan_and_thinking(server: ReplayServer) -> None:
    server.enqueue(Replay(api=API))
    first = alchemy.complete(on(server, REASONING), CONTEXT, **FAST)
    history = [*CONTEXT.messages, first,
               ToolResultMessage(first.content[2].id, "get_weather", [TextContent("18C")])]  # type: ignore[union-attr]
    messages = sent(server, Context(None, history, tools=[WEATHER]), REASONING)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [{"type": "thinking", "thinking": "The user wants the current weather in Paris. I don't have "
                                                     "live data, so I should call get_weather with the city set to "
                                                     "Paris."}],
        "tool_plan": "I'll check the current weather in Paris for you.",
        "tool_calls": [{"id": "get_weather_q7m2x9c4k1vd", "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'}}],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "get_weather_q7m2x9c4k1vd",
                           "content": [{"type": "text", "text": "18C"}]}
