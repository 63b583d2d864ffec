"""The Mistral provider, sans-I/O: request bodies and headers, Mistral's rules, and the parser.

Requests are built with ``build_request`` and checked field by field (nine-
alphanumeric tool-call ids, ``max_tokens``, no ``store``, tool results with their
``name``, the bridge after tool results, the prefix rule, reasoning switches); the
parser is fed the shared fixtures as SSE at every split point and in random pieces,
on both twins of the SSE decoder, the event buffer and the JSON merger, and its
message is checked against what each fixture says (``mistral_oracle``).
"""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

import alchemy
import support
from mistral_oracle import expected_from_fixture, wire_bytes
from protocol_checks import run_parser

from alchemy.api_registry import get_api
from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import MissingApiKeyError, ProviderError
from alchemy.models import get_model
from alchemy.providers.mistral_conversations import BRIDGE_TEXT, provider
from alchemy.streaming import StreamOptions, build_options
from alchemy.request import HttpRequest
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

KEY = "mistral-key-0123456789abcdef"
SMALL = get_model("mistral", "mistral-small-2506")
MAGISTRAL = get_model("mistral", "magistral-medium-latest")
SMALL_REASONING = get_model("mistral", "mistral-small-2603")
CODESTRAL = get_model("mistral", "codestral-latest")
WEATHER = Tool("get_weather", "Weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}})
PNG = ImageContent("iVBORw0KGgo=", "image/png")
HELLO = Context(messages=[UserMessage("Hello")])
NINE_ALNUM = re.compile(r"^[A-Za-z0-9]{9}$")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MISTRAL_API_KEY", "ALCHEMY_BASE_URL_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)


def options(simple: bool = False, model: Model = SMALL, **given: Any) -> StreamOptions:
    given.setdefault("api_key", KEY)
    return build_options("stream_simple" if simple else "stream", model, provider, given, simple=simple)


def build(context: Context = HELLO, model: Model = SMALL, simple: bool = False, **given: Any) -> HttpRequest:
    return provider.build_request(model, context, options(simple, model, **given))


def body(context: Context = HELLO, model: Model = SMALL, simple: bool = False, **given: Any) -> dict[str, Any]:
    result: dict[str, Any] = build(context, model, simple, **given).body
    return result


def _assistant(*content: Any, model: Model = SMALL, stop: Any = "stop") -> AssistantMessage:
    return AssistantMessage(list(content), api=model.api, provider=model.provider, model=model.id, stop_reason=stop)


# --------------------------------------------------------------------------- request


def test_registered_for_its_api() -> None:
    assert get_api("mistral-conversations") is provider
    assert provider.option_names >= {"tool_choice", "prompt_mode", "reasoning_effort"}


def test_url_headers_and_a_minimal_body() -> None:
    request = build()
    assert request.url == "https://api.mistral.ai/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert request.secrets == (KEY,) and KEY not in repr(request)
    assert request.body == {"model": "mistral-small-2506", "stream": True, "messages": [{"role": "user", "content": "Hello"}]}


def test_a_base_url_ending_in_v1_and_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    model = dataclasses.replace(SMALL, base_url="http://127.0.0.1:9/v1")
    assert build(model=model).url == "http://127.0.0.1:9/v1/chat/completions"
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", "http://proxy.local")
    assert build().url == "http://proxy.local/v1/chat/completions"


def test_key_from_the_environment_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingApiKeyError, match="MISTRAL_API_KEY"):
        provider.build_request(SMALL, HELLO, build_options("stream", SMALL, provider, {}, simple=False))
    monkeypatch.setenv("MISTRAL_API_KEY", "env-key-123456")
    request = provider.build_request(SMALL, HELLO, build_options("stream", SMALL, provider, {}, simple=False))
    assert request.headers["authorization"] == "Bearer env-key-123456"


def test_max_tokens_temperature_and_no_store() -> None:
    sent = body(max_tokens=123, temperature=0.2)
    assert sent["max_tokens"] == 123 and sent["temperature"] == 0.2
    assert "store" not in sent and "max_completion_tokens" not in sent


def test_session_id_becomes_x_affinity_unless_the_caller_sets_it() -> None:
    assert build(session_id="s-1").headers["x-affinity"] == "s-1"
    request = build(session_id="s-1", headers={"X-Affinity": "mine"})
    assert request.headers["X-Affinity"] == "mine" and "x-affinity" not in request.headers


def test_system_user_text_and_images() -> None:
    context = Context("Be brief.", [UserMessage([TextContent(" "), TextContent("Look"), PNG])])
    assert body(context)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": "data:image/png;base64,iVBORw0KGgo="},
            ],
        },
    ]
    # A model without vision gets the capability placeholder instead of the image.
    assert "image_url" not in str(body(context, model=CODESTRAL))


def test_tools_tool_calls_and_results_with_names() -> None:
    context = Context(
        messages=[
            UserMessage("Weather?"),
            _assistant(TextContent("Checking."), ToolCall("abcDEF123", "get_weather", {"city": "Paris"})),
            ToolResultMessage("abcDEF123", "get_weather", [TextContent("18C")]),
        ],
        tools=[WEATHER],
    )
    sent = body(context)
    assert sent["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                          "parameters": WEATHER.parameters, "strict": False}}
    ]
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Checking."}],
        "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}],
    }
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "abcDEF123", "name": "get_weather", "content": "18C"}


def test_tool_results_errors_images_and_empty_output() -> None:
    context = Context(
        messages=[
            UserMessage("go"),
            _assistant(ToolCall("aaaaaaaaa", "get_weather", {}), ToolCall("bbbbbbbbb", "get_weather", {}), ToolCall("ccccccccc", "get_weather", {})),
            ToolResultMessage("aaaaaaaaa", "get_weather", [TextContent("bad city")], is_error=True),
            ToolResultMessage("bbbbbbbbb", "get_weather", [PNG]),
            ToolResultMessage("ccccccccc", "get_weather", []),
        ],
        tools=[WEATHER],
    )
    results = body(context)["messages"][2:]
    assert results[0]["content"] == "[tool error] bad city"
    assert results[1]["content"] == [
        {"type": "text", "text": "(see attached image)"},
        {"type": "image_url", "image_url": "data:image/png;base64,iVBORw0KGgo="},
    ]
    assert results[2]["content"] == "(no output)"


def test_foreign_tool_call_ids_become_nine_alphanumerics_on_handoff() -> None:
    foreign = AssistantMessage(
        [ToolCall("toolu_01A09q90qw90lq917835lq9", "get_weather", {}), ToolCall("call|fc_abc", "get_weather", {})],
        api="anthropic-messages",
        provider="anthropic",
        model="claude-sonnet-4-5",
    )
    context = Context(
        messages=[
            UserMessage("go"),
            foreign,
            ToolResultMessage("toolu_01A09q90qw90lq917835lq9", "get_weather", [TextContent("one")]),
            ToolResultMessage("call|fc_abc", "get_weather", [TextContent("two")]),
        ],
        tools=[WEATHER],
    )
    sent = body(context)
    ids = [call["id"] for call in sent["messages"][1]["tool_calls"]]
    assert all(NINE_ALNUM.match(i) for i in ids) and len(set(ids)) == 2
    assert [m["tool_call_id"] for m in sent["messages"][2:4]] == ids
    assert body(context) == sent, "deterministic"


def test_own_ids_out_of_shape_are_rewritten_too() -> None:
    context = Context(
        messages=[
            UserMessage("go"),
            _assistant(ToolCall("chatcmpl-tool-9f149c74c42f265b", "get_weather", {})),
            ToolResultMessage("chatcmpl-tool-9f149c74c42f265b", "get_weather", [TextContent("ok")]),
        ],
        tools=[WEATHER],
    )
    sent = body(context)
    new_id = sent["messages"][1]["tool_calls"][0]["id"]
    assert NINE_ALNUM.match(new_id) and sent["messages"][2]["tool_call_id"] == new_id


def test_a_user_turn_after_tool_results_gets_a_bridge() -> None:
    context = Context(
        messages=[
            UserMessage("go"),
            _assistant(ToolCall("aaaaaaaaa", "get_weather", {})),
            ToolResultMessage("aaaaaaaaa", "get_weather", [TextContent("ok")]),
            UserMessage("thanks, and now?"),
        ],
        tools=[WEATHER],
    )
    roles = [(m["role"], m.get("content")) for m in body(context)["messages"]]
    assert roles[2:] == [("tool", "ok"), ("assistant", BRIDGE_TEXT), ("user", "thanks, and now?")]


def test_a_last_assistant_turn_is_a_prefix_when_the_model_allows_it() -> None:
    context = Context(messages=[UserMessage("Say hi"), _assistant(TextContent("Hi"))])
    # Mistral's registry models cannot continue an assistant turn: shaping adds a user turn.
    assert body(context)["messages"][-1] == {"role": "user", "content": "Continue."}
    prefixable = dataclasses.replace(SMALL, capabilities=dataclasses.replace(SMALL.caps, supports_last_assistant=True))
    last = body(context, model=prefixable)["messages"][-1]
    assert last == {"role": "assistant", "content": [{"type": "text", "text": "Hi"}], "prefix": True}


def test_thinking_replays_natively_for_the_same_model() -> None:
    context = Context(
        messages=[UserMessage("2+2?"), _assistant(ThinkingContent("easy"), TextContent("4"), model=MAGISTRAL), UserMessage("3+3?")]
    )
    sent = body(context, model=MAGISTRAL)
    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": [{"type": "text", "text": "easy"}]},
        {"type": "text", "text": "4"},
    ]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "function", "function": {"name": "get_weather"}}),
        ({"name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
        ({"type": "tool", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice(given: Any, sent: Any) -> None:
    assert body(Context(messages=[UserMessage("hi")], tools=[WEATHER]), tool_choice=given)["tool_choice"] == sent


@pytest.mark.parametrize(("name", "value"), [("tool_choice", "maybe"), ("prompt_mode", "deep"), ("reasoning_effort", "low")])
def test_bad_own_options_raise_at_the_call(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"option {name} must"):
        alchemy.stream(SMALL, Context(messages=[UserMessage("hi")], tools=[WEATHER]), api_key=KEY, **{name: value})


def test_reasoning_switches() -> None:
    assert body(model=MAGISTRAL, prompt_mode="reasoning")["prompt_mode"] == "reasoning"
    assert body(model=SMALL_REASONING, reasoning_effort="none")["reasoning_effort"] == "none"
    sent = body(model=MAGISTRAL, simple=True, reasoning="minimal")
    assert sent["prompt_mode"] == "reasoning" and sent["max_tokens"] == 16384
    sent = body(model=SMALL_REASONING, simple=True, reasoning="high")
    assert sent["reasoning_effort"] == "high" and "prompt_mode" not in sent and sent["max_tokens"] == 32000
    sent = body(model=SMALL, simple=True, reasoning="high")
    assert "prompt_mode" not in sent and "reasoning_effort" not in sent
    assert "prompt_mode" not in body(model=MAGISTRAL, simple=True)


def test_reasoning_off() -> None:
    assert body(model=SMALL_REASONING, reasoning="off")["reasoning_effort"] == "none"
    assert body(model=SMALL_REASONING, reasoning="max")["reasoning_effort"] == "high"
    with pytest.raises(ValueError, match="reasoning='off' cannot be honoured"):
        body(model=MAGISTRAL, reasoning="off")
    assert "reasoning_effort" not in body(model=SMALL, reasoning="off")  # not a reasoning model: nothing to switch


def test_canonical_options_reach_the_body() -> None:
    sent = body(
        Context(messages=[UserMessage("hi")], tools=[WEATHER]),
        stop="END",
        top_p=0.5,
        seed=7,
        frequency_penalty=0.25,
        presence_penalty=-0.25,
        parallel_tool_calls=False,
        extra_body={"safe_prompt": True, "messages": [{"role": "user", "content": "replaced"}]},
    )
    assert sent["stop"] == ["END"] and sent["top_p"] == 0.5 and sent["random_seed"] == 7
    assert sent["frequency_penalty"] == 0.25 and sent["presence_penalty"] == -0.25
    assert sent["parallel_tool_calls"] is False and sent["safe_prompt"] is True
    assert sent["messages"] == [{"role": "user", "content": "replaced"}]  # extra_body is merged last


def test_extra_headers_win() -> None:
    request = build(extra_headers={"authorization": "Bearer other", "x-trace": "t"}, headers={"x-trace": "h"})
    assert request.headers["authorization"] == "Bearer other" and request.headers["x-trace"] == "t"


def test_mistral_effort_takes_only_none_and_high() -> None:
    with pytest.raises(ValueError, match="option reasoning_effort must be one of 'none', 'high'"):
        options(model=SMALL_REASONING, reasoning_effort="low")


# --------------------------------------------------------------------------- the parser


def parse(wire: bytes, pieces: list[int] | None = None, model: Model = SMALL) -> tuple[list[Any], AssistantMessage]:
    return run_parser(provider, model, wire, pieces)


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "mistral"
    return sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []


def _name(path: Path) -> str:
    return path.name.removesuffix(".chunks.txt")


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.usefixtures("twins")
def test_every_fixture_at_every_split_point_and_in_random_pieces(path: Path) -> None:
    support.require_shared()
    wire = wire_bytes(path)
    expected = expected_from_fixture(path)
    for cut in range(len(wire) + 1):
        expected.check(parse(wire, [cut])[1], SMALL)
    rng = random.Random(path.name)
    for _ in range(5):
        expected.check(parse(wire, [rng.randint(1, 40) for _ in range(len(wire))])[1], SMALL)


def test_reasoning_fixture_blocks() -> None:
    support.require_shared()
    _, message = parse(wire_bytes(support.FIXTURES / "mistral" / "mistral-reasoning.chunks.txt"), model=MAGISTRAL)
    assert message.content == [
        ThinkingContent("The user is asking for 2+2. This is basic arithmetic. 2+2=4."),
        TextContent("2 + 2 = 4"),
    ]
    assert message.usage.input == 10 and message.usage.output == 46 and message.usage.cost.total


def test_incremental_tool_call_keeps_the_first_id_and_name() -> None:
    support.require_shared()
    events, message = parse(wire_bytes(support.FIXTURES / "mistral" / "mistral-incremental-tool-call.chunks.txt"))
    assert message.content == [ToolCall("chatcmpl-tool-9f149c74c42f265b", "webSearchTool", {"query": "current Berlin weather"})]
    assert message.stop_reason == "toolUse"
    assert (message.usage.input, message.usage.cache_read, message.usage.total_tokens) == (43, 128, 185)


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    out = b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks)
    return out + (b"data: [DONE]\n\n" if done else b"")


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": "r1", "choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def test_several_tool_calls_and_missing_ids() -> None:
    wire = sse(
        delta(content="Let me check."),
        delta(tool_calls=[{"id": "null", "index": 0, "function": {"name": "a", "arguments": '{"x":'}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": "1}"}}]),
        delta(tool_calls=[{"id": "B23456789", "index": 1, "function": {"name": "b", "arguments": {"y": 2}}}]),
        delta("tool_calls"),
    )
    _, message = parse(wire)
    text, first, second = message.content
    assert text == TextContent("Let me check.")
    assert isinstance(first, ToolCall) and NINE_ALNUM.match(first.id) and first.arguments == {"x": 1}
    assert second == ToolCall("B23456789", "b", {"y": 2})
    assert message.stop_reason == "toolUse"


@pytest.mark.parametrize(("reason", "stop"), [("stop", "stop"), ("length", "length"), ("model_length", "length"), ("tool_calls", "toolUse"), ("other", "stop")])
def test_stop_reasons(reason: str, stop: str) -> None:
    assert parse(sse(delta(content="x"), delta(reason)))[1].stop_reason == stop


def test_finish_reason_error_ends_with_an_error_keeping_content() -> None:
    _, message = parse(sse(delta(content="partial"), delta("error")))
    assert message.stop_reason == "error" and message.content == [TextContent("partial")]
    assert message.error_message == "Mistral ended the response with finish_reason 'error'"


@pytest.mark.parametrize(
    ("chunk", "text", "retryable"),
    [
        ({"object": "error", "message": "Requests rate limit exceeded", "type": "rate_limited", "code": "1300"},
         "Mistral rate_limited: Requests rate limit exceeded", True),
        ({"error": {"message": "Bad input", "type": "invalid_request_error", "code": None}},
         "Mistral invalid_request_error: Bad input", False),
        ({"error": {"message": "Server trouble", "type": "server_error", "code": None}}, "Mistral server_error: Server trouble", True),
    ],
)
def test_errors_inside_the_stream(chunk: dict[str, Any], text: str, retryable: bool) -> None:
    emitter = EventEmitter(new_partial(SMALL))
    parser = provider.create_parser(SMALL, StreamOptions(), emitter)
    parser.feed(sse(delta(content="Hi"), done=False))
    with pytest.raises(ProviderError) as caught:
        parser.feed(sse(chunk, done=False))
    assert str(caught.value) == text and caught.value.retryable is retryable
    assert emitter.message.content == [TextContent("Hi")]


def test_a_stream_without_done_is_interrupted() -> None:
    _, message = parse(sse(delta(content="Hi"), done=False))
    assert message.error_message == "Mistral's stream ended before data: [DONE]"
    assert message.content == [TextContent("Hi")]


def test_malformed_json_is_interrupted() -> None:
    _, message = parse(b'data: {"id": "x", "choi\n\n')
    assert "sent a chunk whose JSON does not parse" in (message.error_message or "")


def test_usage_arrives_early_so_an_error_keeps_it() -> None:
    chunk = {"id": "r", "choices": [{"index": 0, "delta": {"content": "a"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
    _, message = parse(sse(chunk, done=False))
    assert message.stop_reason == "error" and message.usage.input == 5 and message.usage.output == 1
