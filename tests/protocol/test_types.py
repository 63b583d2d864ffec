"""The data model's JSON: pi-ai-shaped fixtures load, round trips are lossless, bad input names its path.

The fixtures below are written by hand from pi-ai's documented shape (``src/types.ts``):
camelCase keys, ``toolCall`` blocks, ``toolResult`` messages, base64 image ``data``,
usage with ``cacheRead`` / ``cacheWrite`` / ``totalTokens`` and a ``cost`` object.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from alchemy.types import (
    AssistantMessage,
    Context,
    Cost,
    ImageContent,
    Model,
    ModelCost,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
    message_from_dict,
)

PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "units": {"type": "string", "enum": ["metric", "imperial"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
}

# A conversation as pi-ai saves it: every message kind, every block kind, signatures,
# a redacted thinking block, an errored and an aborted turn, tool results with details.
PI_AI_CONTEXT: dict[str, Any] = {
    "systemPrompt": "You are a helpful assistant.",
    "messages": [
        {"role": "user", "content": "What's the weather in Paris and in this picture?", "timestamp": 1731000000000},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Here is the picture:"},
                {"type": "image", "data": PNG_1PX, "mimeType": "image/png"},
            ],
            "timestamp": 1731000000500,
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "The user wants the weather; I should call the tool.",
                    "thinkingSignature": "EqQBCkYIBxgCKkCqZ2ZjL3NpZw==",
                },
                {
                    "type": "thinking",
                    "thinking": "[Reasoning redacted]",
                    "thinkingSignature": "opaque",
                    "redacted": True,
                },
                {
                    "type": "text",
                    "text": "Let me check the weather.",
                    "textSignature": '{"v":1,"id":"msg_68a1","phase":"commentary"}',
                },
                {
                    "type": "toolCall",
                    "id": "call_abc|fc_123",
                    "name": "get_weather",
                    "arguments": {"city": "Paris", "units": "metric", "hours": [9, 12], "detailed": True},
                    "thoughtSignature": "c2lnbmF0dXJl",
                },
            ],
            "api": "anthropic-messages",
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "usage": {
                "input": 1200,
                "output": 345,
                "cacheRead": 1000,
                "cacheWrite": 50,
                "totalTokens": 2595,
                "cost": {
                    "input": 0.0036,
                    "output": 0.005175,
                    "cacheRead": 0.0003,
                    "cacheWrite": 0.0001875,
                    "total": 0.0092625,
                },
            },
            "stopReason": "toolUse",
            "timestamp": 1731000001000,
        },
        {
            "role": "toolResult",
            "toolCallId": "call_abc|fc_123",
            "toolName": "get_weather",
            "content": [
                {"type": "text", "text": "18°C, cloudy"},
                {"type": "image", "data": PNG_1PX, "mimeType": "image/png"},
            ],
            "details": {"raw": {"temp_c": 18, "sky": "cloudy"}, "source": "open-meteo"},
            "isError": False,
            "timestamp": 1731000002000,
        },
        {
            "role": "toolResult",
            "toolCallId": "call_def",
            "toolName": "get_weather",
            "content": [{"type": "text", "text": "City not found: Atlantis"}],
            "isError": True,
            "timestamp": 1731000002100,
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "It is 18°C and cloud"}],
            "api": "openai-completions",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "usage": {
                "input": 300,
                "output": 6,
                "cacheRead": 0,
                "cacheWrite": 0,
                "totalTokens": 306,
                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": 0},
            },
            "stopReason": "error",
            "errorMessage": "429 Rate limit reached for gpt-4o-mini",
            "timestamp": 1731000003000,
        },
        {
            "role": "assistant",
            "content": [],
            "api": "google-generative-ai",
            "provider": "google",
            "model": "gemini-2.5-flash",
            "usage": {
                "input": 0,
                "output": 0,
                "cacheRead": 0,
                "cacheWrite": 0,
                "totalTokens": 0,
                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": 0},
            },
            "stopReason": "aborted",
            "errorMessage": "Request was aborted",
            "timestamp": 1731000004000,
        },
        {"role": "user", "content": "Thanks! In Fahrenheit please.", "timestamp": 1731000005000},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "That's 64°F."}],
            "api": "openai-responses",
            "provider": "openai",
            "model": "gpt-5",
            "usage": {
                "input": 400,
                "output": 12,
                "cacheRead": 0,
                "cacheWrite": 0,
                "totalTokens": 412,
                "cost": {"input": 0.0005, "output": 0.00012, "cacheRead": 0, "cacheWrite": 0, "total": 0.00062},
            },
            "stopReason": "stop",
            "timestamp": 1731000006000,
        },
    ],
    "tools": [WEATHER_TOOL],
}

# A model as pi-ai's registry describes it (openai-completions with compat flags).
PI_AI_MODEL: dict[str, Any] = {
    "id": "glm-4.6",
    "name": "GLM-4.6",
    "api": "openai-completions",
    "provider": "zai",
    "baseUrl": "https://api.z.ai/api/coding/paas/v4",
    "reasoning": True,
    "input": ["text"],
    "cost": {"input": 0.6, "output": 2.2, "cacheRead": 0.11, "cacheWrite": 0},
    "contextWindow": 204800,
    "maxTokens": 131072,
    "headers": {"X-Title": "pi"},
    "compat": {
        "supportsDeveloperRole": False,
        "thinkingFormat": "zai",
        "maxTokensField": "max_tokens",
        "reasoningEffortMap": {"high": "high", "xhigh": "high"},
        "openRouterRouting": {"only": ["z-ai"], "order": ["z-ai"]},
    },
}

ANTHROPIC_MODEL: dict[str, Any] = {
    "id": "claude-sonnet-4-5",
    "name": "Claude Sonnet 4.5",
    "api": "anthropic-messages",
    "provider": "anthropic",
    "baseUrl": "https://api.anthropic.com",
    "reasoning": True,
    "input": ["text", "image"],
    "cost": {"input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75},
    "contextWindow": 200000,
    "maxTokens": 64000,
}


# -- loading pi-ai's JSON -----------------------------------------------------


def test_pi_ai_context_loads_into_typed_objects() -> None:
    context = Context.from_dict(copy.deepcopy(PI_AI_CONTEXT))
    assert context.system_prompt == "You are a helpful assistant."
    assert [type(m).__name__ for m in context.messages] == [
        "UserMessage",
        "UserMessage",
        "AssistantMessage",
        "ToolResultMessage",
        "ToolResultMessage",
        "AssistantMessage",
        "AssistantMessage",
        "UserMessage",
        "AssistantMessage",
    ]
    first, picture, answer, result, failed_result, errored, aborted, _, last = context.messages
    assert isinstance(first, UserMessage) and first.content == "What's the weather in Paris and in this picture?"
    assert isinstance(picture, UserMessage)
    assert picture.content == [TextContent("Here is the picture:"), ImageContent(PNG_1PX, "image/png")]
    assert isinstance(answer, AssistantMessage)
    assert answer.content == [
        ThinkingContent("The user wants the weather; I should call the tool.", "EqQBCkYIBxgCKkCqZ2ZjL3NpZw=="),
        ThinkingContent("[Reasoning redacted]", "opaque", redacted=True),
        TextContent("Let me check the weather.", '{"v":1,"id":"msg_68a1","phase":"commentary"}'),
        ToolCall(
            "call_abc|fc_123",
            "get_weather",
            {"city": "Paris", "units": "metric", "hours": [9, 12], "detailed": True},
            "c2lnbmF0dXJl",
        ),
    ]
    assert answer.usage == Usage(
        input=1200,
        output=345,
        cache_read=1000,
        cache_write=50,
        total_tokens=2595,
        cost=Cost(0.0036, 0.005175, 0.0003, 0.0001875, 0.0092625),
    )
    assert (answer.api, answer.provider, answer.model, answer.stop_reason) == (
        "anthropic-messages",
        "anthropic",
        "claude-sonnet-4-5",
        "toolUse",
    )
    assert answer.timestamp == 1731000001000 and answer.error_message is None
    assert answer.tool_calls == [answer.content[3]] and answer.text == "Let me check the weather."
    assert isinstance(result, ToolResultMessage)
    assert (result.tool_call_id, result.tool_name, result.is_error) == ("call_abc|fc_123", "get_weather", False)
    assert result.details == {"raw": {"temp_c": 18, "sky": "cloudy"}, "source": "open-meteo"}
    assert isinstance(failed_result, ToolResultMessage) and failed_result.is_error and failed_result.details is None
    assert isinstance(errored, AssistantMessage) and errored.stop_reason == "error"
    assert errored.error_message == "429 Rate limit reached for gpt-4o-mini"
    assert isinstance(aborted, AssistantMessage) and aborted.stop_reason == "aborted" and aborted.content == []
    assert isinstance(last, AssistantMessage) and last.text == "That's 64°F."
    assert context.tools == [Tool(**WEATHER_TOOL)]


def test_pi_ai_context_round_trips_exactly() -> None:
    source = copy.deepcopy(PI_AI_CONTEXT)
    assert Context.from_dict(source).to_dict() == PI_AI_CONTEXT
    assert source == PI_AI_CONTEXT, "loading does not mutate the input"


def test_pi_ai_context_json_bytes_round_trip() -> None:
    raw = orjson.dumps(PI_AI_CONTEXT)
    context = Context.from_json(raw)
    assert orjson.loads(context.to_json()) == PI_AI_CONTEXT
    assert Context.from_json(context.to_json()) == context
    assert Context.from_json(context.to_json().encode()) == context  # bytes are read too
    assert Context.from_json(context.to_json(indent=True)) == context
    assert "\n  " in context.to_json(indent=True)


def test_alchemy_built_context_round_trips() -> None:
    context = Context(
        system_prompt=None,
        messages=[
            UserMessage([TextContent("hi"), ImageContent(PNG_1PX, "image/jpeg")], timestamp=1),
            AssistantMessage(
                content=[TextContent("yo"), ToolCall("c", "f", {})],
                api="mistral-conversations",
                provider="mistral",
                model="mistral-large",
                usage=Usage(1, 2, 3, 4, 10, Cost(None, None, None, None, None), reasoning=1, service_tier="flex"),
                stop_reason="length",
                timestamp=2,
                response_id="resp_9",
            ),
            ToolResultMessage("c", "f", [], timestamp=3),
        ],
        tools=[],
    )
    data = context.to_dict()
    assert "systemPrompt" not in data and data["tools"] == []
    usage = data["messages"][1]["usage"]
    assert usage["reasoningTokens"] == 1 and usage["serviceTier"] == "flex"
    assert usage["cost"] == {"input": None, "output": None, "cacheRead": None, "cacheWrite": None, "total": None}
    assert data["messages"][1]["responseId"] == "resp_9"
    assert data["messages"][2] == {
        "role": "toolResult",
        "toolCallId": "c",
        "toolName": "f",
        "content": [],
        "isError": False,
        "timestamp": 3,
    }
    again = Context.from_dict(data)
    assert again == context
    assert again.to_dict() == data
    assert Context.from_json(context.to_json()) == context


def test_estimated_usage_round_trips() -> None:
    usage = Usage(input=5, output=7, total_tokens=12, estimated=True)
    data = usage.to_dict()
    assert data["estimated"] is True
    assert Usage.from_dict(data) == usage
    assert "estimated" not in Usage().to_dict() and "reasoningTokens" not in Usage().to_dict()


def test_one_hour_cache_writes_round_trip_under_their_camel_case_key() -> None:
    usage = Usage(input=5, output=7, cache_write=300, total_tokens=312, cache_write_1h=200)
    data = usage.to_dict()
    assert data["cacheWrite"] == 300 and data["cacheWrite1h"] == 200
    assert Usage.from_dict(orjson.loads(orjson.dumps(data))) == usage
    assert "cacheWrite1h" not in Usage(cache_write=300).to_dict()
    assert Usage.from_dict({"cacheWrite": 300}).cache_write_1h == 0
    with pytest.raises(ValueError, match="cacheWrite1h"):
        Usage.from_dict({"cacheWrite1h": "many"})


def test_optional_fields_default_when_absent() -> None:
    message = message_from_dict(
        {"role": "assistant", "content": [], "api": "a", "provider": "p", "model": "m", "stopReason": "stop"}
    )
    assert isinstance(message, AssistantMessage)
    assert message.usage == Usage() and message.timestamp > 0
    user = message_from_dict({"role": "user", "content": "x"})
    assert isinstance(user, UserMessage) and user.timestamp > 0
    assert Context.from_dict({"messages": []}) == Context()
    assert Usage.from_dict({}) == Usage()


def test_constructors_fill_timestamps() -> None:
    before = UserMessage("x").timestamp
    assert before > 1_600_000_000_000, "Unix milliseconds"
    assert AssistantMessage().timestamp >= before
    assert ToolResultMessage("c", "f").timestamp >= before


def test_block_and_message_types() -> None:
    assert (TextContent("a").type, ThinkingContent("a").type, ImageContent("", "image/png").type, ToolCall("", "").type) == (
        "text",
        "thinking",
        "image",
        "toolCall",
    )
    assert (UserMessage("").role, AssistantMessage().role, ToolResultMessage("", "").role) == (
        "user",
        "assistant",
        "toolResult",
    )


def test_pi_ai_model_round_trips() -> None:
    model = Model.from_dict(copy.deepcopy(PI_AI_MODEL))
    assert model.base_url == "https://api.z.ai/api/coding/paas/v4" and model.reasoning
    assert model.cost == ModelCost(0.6, 2.2, 0.11, 0.0)
    assert model.compat is not None and model.compat["supports_developer_role"] is False
    assert model.compat["max_tokens_field"] == "max_tokens"
    assert model.to_dict() == PI_AI_MODEL
    anthropic = Model.from_dict(ANTHROPIC_MODEL)
    assert anthropic.input == ("text", "image") and anthropic.caps.supports_vision
    assert anthropic.to_dict() == ANTHROPIC_MODEL


# -- tool calls that stream ---------------------------------------------------


class FakeMerger:
    def __init__(self, value: Any, has_value: bool = True) -> None:
        self._value = value
        self.has_value = has_value
        self.reads = 0

    @property
    def value(self) -> Any:
        self.reads += 1
        return self._value


def test_tool_call_arguments_follow_a_merger_lazily() -> None:
    call = ToolCall("c", "f")
    merger = FakeMerger({"a": 1})
    call.stream_arguments_from(merger)  # type: ignore[arg-type]
    assert merger.reads == 0
    assert call.arguments == {"a": 1} and merger.reads == 1
    assert call.to_dict()["arguments"] == {"a": 1}
    call.stream_arguments_from(FakeMerger(None, has_value=False))  # type: ignore[arg-type]
    assert call.arguments == {}, "never None"
    call.stream_arguments_from(FakeMerger("a string"))  # type: ignore[arg-type]
    assert call.arguments == {}, "only objects are arguments"
    last = FakeMerger({"final": True})
    call.stream_arguments_from(last)  # type: ignore[arg-type]
    call.stream_arguments_from(None)  # freezes
    reads = last.reads
    assert call.arguments == {"final": True} and last.reads == reads
    call.arguments = {"replaced": 1}
    assert call.arguments == {"replaced": 1}
    shown = repr(ToolCall("i", "n", {"x": 1}, "s"))
    assert shown == "ToolCall(id='i', name='n', arguments={'x': 1}, thought_signature='s')"


# -- malformed input names the path of the bad field ---------------------------


def _with(path: list[Any], value: Any, *, delete: bool = False) -> dict[str, Any]:
    data = copy.deepcopy(PI_AI_CONTEXT)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "<root>: expected an object, got list"),
        ({}, "messages: missing required field"),
        ({"messages": "hi"}, "messages: expected a list, got str"),
        ({"messages": [], "systemPrompt": 3}, "systemPrompt: expected a string, got int"),
        ({"messages": [5]}, "messages[0]: expected an object, got int"),
        (_with(["messages", 0, "role"], None, delete=True), "messages[0].role: missing required field"),
        (
            _with(["messages", 0, "role"], "system"),
            "messages[0].role: expected 'user', 'assistant' or 'toolResult', got 'system'",
        ),
        (_with(["messages", 0, "content"], 42), "messages[0].content: expected a string or a list, got int"),
        (_with(["messages", 0, "timestamp"], 1.5), "messages[0].timestamp: expected a whole number, got 1.5"),
        (_with(["messages", 0, "timestamp"], "now"), "messages[0].timestamp: expected a number, got str"),
        (
            _with(["messages", 1, "content", 1, "type"], "video"),
            "messages[1].content[1].type: expected one of 'text', 'image', got 'video'",
        ),
        (
            _with(["messages", 1, "content", 1, "mimeType"], None, delete=True),
            "messages[1].content[1].mimeType: missing required field",
        ),
        (_with(["messages", 1, "content", 0], "text"), "messages[1].content[0]: expected an object, got str"),
        (_with(["messages", 2, "content", 2, "text"], 7), "messages[2].content[2].text: expected a string, got int"),
        (
            _with(["messages", 2, "content", 0, "type"], "image"),
            "messages[2].content[0].type: expected one of 'text', 'thinking', 'toolCall', 'serverToolCall', got 'image'",
        ),
        (
            _with(["messages", 2, "content", 1, "redacted"], "yes"),
            "messages[2].content[1].redacted: expected true or false, got str",
        ),
        (
            _with(["messages", 2, "content", 3, "arguments"], [1, 2]),
            "messages[2].content[3].arguments: expected an object, got list",
        ),
        (_with(["messages", 2, "content", 3, "id"], None), "messages[2].content[3].id: expected a string, got null"),
        (_with(["messages", 2, "usage", "input"], "12"), "messages[2].usage.input: expected a number, got str"),
        (
            _with(["messages", 2, "usage", "cost", "total"], True),
            "messages[2].usage.cost.total: expected a number, got bool",
        ),
        (
            _with(["messages", 2, "stopReason"], "end_turn"),
            "messages[2].stopReason: expected one of aborted, error, length, stop, toolUse, got 'end_turn'",
        ),
        (_with(["messages", 2, "model"], None, delete=True), "messages[2].model: missing required field"),
        (_with(["messages", 2, "content"], {}), "messages[2].content: expected a list, got dict"),
        (_with(["messages", 3, "isError"], "no"), "messages[3].isError: expected true or false, got str"),
        (_with(["messages", 3, "toolCallId"], 1), "messages[3].toolCallId: expected a string, got int"),
        (
            _with(["messages", 3, "content", 0, "type"], "toolCall"),
            "messages[3].content[0].type: expected one of 'text', 'image', got 'toolCall'",
        ),
        (_with(["tools"], {}), "tools: expected a list, got dict"),
        (_with(["tools", 0, "parameters"], None, delete=True), "tools[0].parameters: missing required field"),
        (_with(["tools", 0, "name"], 1), "tools[0].name: expected a string, got int"),
    ],
)
def test_malformed_context_names_the_bad_field(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        Context.from_dict(data)
    assert str(info.value) == message


def test_malformed_json_text() -> None:
    with pytest.raises(ValueError, match="^<root>: not valid JSON"):
        Context.from_json(b'{"messages": [')
    with pytest.raises(ValueError, match="^messages\\[0\\]\\.role: missing required field$"):
        Context.from_json('{"messages": [{}]}')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "m", "api": "a", "provider": "p", "cost": []}, "cost: expected an object, got list"),
        ({"id": "m", "api": "a", "provider": "p", "input": ["text", 3]}, "input[1]: expected a string, got int"),
        ({"id": "m", "api": "a", "provider": "p", "reasoning": "yes"}, "reasoning: expected true or false, got str"),
        ({"id": "m", "provider": "p"}, "api: missing required field"),
        (
            {"id": "m", "api": "a", "provider": "p", "contextWindow": 1.5},
            "contextWindow: expected a whole number, got 1.5",
        ),
    ],
)
def test_malformed_model_names_the_bad_field(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        Model.from_dict(data)
    assert str(info.value) == message


def test_paths_are_prefixed_when_nested() -> None:
    with pytest.raises(ValueError, match="^conversation.messages\\[0\\]: expected an object, got null$"):
        Context.from_dict({"messages": [None]}, "conversation")
    with pytest.raises(ValueError, match="^msg.usage.cost: expected an object, got int$"):
        AssistantMessage.from_dict(
            {"content": [], "api": "a", "provider": "p", "model": "m", "stopReason": "stop", "usage": {"cost": 1}},
            "msg",
        )
