"""The Anthropic Messages provider, sans-I/O: request bodies and headers, and the parser.

Requests are built with ``provider.build_request`` and asserted on; responses are
the shared fixtures (and hand-made streams) framed as Anthropic sends them, fed to
the parser at several chunkings on both kernel twins. The end-to-end tests through
the replay server are in ``test_anthropic_messages_e2e.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import support
from anthropic_oracle import expected_from_fixture, wire_bytes
from protocol_checks import run_parser

from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import MissingApiKeyError, ProviderStreamError, StreamInterruptedError
from alchemy.models import get_model
from alchemy.providers import anthropic_messages as anthropic
from alchemy.providers.anthropic_messages import provider
from alchemy.model_facts import uses_adaptive_thinking
from alchemy.streaming import StreamOptions, _prepare
from alchemy.request import HttpRequest
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    ModelCost,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

KEY = "sk-ant-" "api03-test-key-0123456789"  # fake, split so it never looks like a real key
OAUTH_KEY = "sk-ant-" "oat01-test-token-0123456789"  # fake, split so it never looks like a real key
SONNET = get_model("anthropic", "claude-sonnet-4-5")
OPUS_46 = get_model("anthropic", "claude-opus-4-6")
OPUS_47 = get_model("anthropic", "claude-opus-4-7")
SONNET_46 = get_model("anthropic", "claude-sonnet-4-6")
HAIKU_PLAIN = Model(
    id="claude-3-5-haiku-latest",
    name="Haiku",
    api="anthropic-messages",
    provider="anthropic",
    base_url="https://api.anthropic.com",
    max_tokens=8192,
    cost=ModelCost(input=0.8, output=4.0),
)
WEATHER = Tool(
    "get_weather",
    "Current weather in a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
        "additionalProperties": False,
    },
)
PNG = ImageContent("iVBORw0KGgo=", "image/png")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY", "ALCHEMY_CACHE_RETENTION", "ALCHEMY_BASE_URL_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)


def build(context: Context, model: Model = SONNET, simple: bool = False, **given: Any) -> HttpRequest:
    """The request of ``stream`` (or ``stream_simple``), with every check the call makes first."""
    given.setdefault("api_key", KEY)
    function = "stream_simple" if simple else "stream"
    _, checked_context, checked, _ = _prepare(function, model, context, given, simple=simple)
    return provider.build_request(model, checked_context, checked)


def body(context: Context, model: Model = SONNET, simple: bool = False, **given: Any) -> dict[str, Any]:
    result: dict[str, Any] = build(context, model, simple, **given).body
    return result


HELLO = Context(messages=[UserMessage("Hello")])


# --------------------------------------------------------------------------- registration


def test_registered_for_its_api() -> None:
    from alchemy.api_registry import get_api

    assert get_api("anthropic-messages") is provider
    assert provider.api == "anthropic-messages" and provider.label == "Anthropic"


def test_529_and_overloaded_bodies_are_retryable() -> None:
    assert provider.is_retryable_status(529, b"")
    assert provider.is_retryable_status(429, b"")
    assert provider.is_retryable_status(500, b"")
    overloaded = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert provider.is_retryable_status(400, overloaded)
    assert not provider.is_retryable_status(400, b'{"type":"error","error":{"type":"invalid_request_error"}}')
    assert not provider.is_retryable_status(401, b"not json")


# --------------------------------------------------------------------------- url, auth, headers


def test_url_version_and_api_key_headers() -> None:
    request = build(HELLO)
    assert request.method == "POST" and request.url == "https://api.anthropic.com/v1/messages"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-api-key"] == KEY and "authorization" not in headers
    assert headers["anthropic-version"] == anthropic.ANTHROPIC_VERSION
    assert headers["anthropic-beta"] == f"{anthropic.FINE_GRAINED_TOOL_STREAMING},{anthropic.INTERLEAVED_THINKING}"
    assert request.secrets == (KEY,)
    assert KEY not in repr(request)
    assert request.body["stream"] is True and request.body["model"] == "claude-sonnet-4-5"


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    request = provider.build_request(SONNET, HELLO, StreamOptions())
    assert request.headers["x-api-key"] == KEY


def test_missing_key_names_the_variables() -> None:
    with pytest.raises(MissingApiKeyError) as caught:
        provider.build_request(SONNET, HELLO, StreamOptions())
    assert "ANTHROPIC_API_KEY" in str(caught.value) and "ANTHROPIC_OAUTH_TOKEN" in str(caught.value)


def _oauth_checks(request: HttpRequest) -> None:
    headers = request.headers
    assert headers["authorization"] == f"Bearer {OAUTH_KEY}" and "x-api-key" not in headers
    betas = headers["anthropic-beta"].split(",")
    assert betas[:2] == list(anthropic.OAUTH_BETAS) and anthropic.FINE_GRAINED_TOOL_STREAMING in betas
    assert headers["user-agent"].startswith("claude-cli/") and headers["x-app"] == "cli"
    system = request.body["system"]
    assert system[0]["text"] == anthropic.CLAUDE_CODE_IDENTITY
    assert system[1]["text"] == "Be brief."
    assert request.secrets == (OAUTH_KEY,)


def test_oauth_token_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_OAUTH_TOKEN", OAUTH_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)  # the OAuth token is preferred
    request = provider.build_request(SONNET, Context("Be brief.", [UserMessage("hi")]), StreamOptions())
    _oauth_checks(request)


def test_oauth_token_detected_by_its_shape() -> None:
    _oauth_checks(build(Context("Be brief.", [UserMessage("hi")]), api_key=OAUTH_KEY))


def test_a_token_from_the_oauth_variable_is_bearer_whatever_its_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_OAUTH_TOKEN", "opaque-token-0123456789")
    request = provider.build_request(SONNET, HELLO, StreamOptions())
    assert request.headers["authorization"] == "Bearer opaque-token-0123456789"


def test_model_and_caller_headers_merge_and_betas_join() -> None:
    model = dataclasses.replace(SONNET, headers={"anthropic-beta": "context-1m-2025-08-07", "X-Team": "a"})
    request = build(HELLO, model, headers={"Anthropic-Beta": "files-api-2025-04-14", "x-team": "b"})
    headers = request.headers
    betas = [v for k, v in headers.items() if k.lower() == "anthropic-beta"]
    assert len(betas) == 1
    assert betas[0].split(",") == [
        anthropic.FINE_GRAINED_TOOL_STREAMING,
        anthropic.INTERLEAVED_THINKING,
        "context-1m-2025-08-07",
        "files-api-2025-04-14",
    ]
    assert [v for k, v in headers.items() if k.lower() == "x-team"] == ["b"]


def test_caller_can_override_the_version_header() -> None:
    request = build(HELLO, headers={"anthropic-version": "2099-01-01"})
    assert request.headers["anthropic-version"] == "2099-01-01"


def test_interleaved_thinking_beta_can_be_turned_off_and_is_not_sent_to_adaptive_models() -> None:
    assert anthropic.INTERLEAVED_THINKING not in build(HELLO, interleaved_thinking=False).headers["anthropic-beta"]
    assert anthropic.INTERLEAVED_THINKING not in build(HELLO, OPUS_46).headers["anthropic-beta"]


def test_github_copilot_uses_bearer_without_fine_grained_streaming() -> None:
    model = get_model("github-copilot", "claude-sonnet-4.5")
    context = Context(messages=[UserMessage([TextContent("look"), PNG])])
    request = build(context, model, api_key="ghu_test_token_0123456789")
    headers = request.headers
    assert headers["authorization"] == "Bearer ghu_test_token_0123456789" and "x-api-key" not in headers
    assert headers["anthropic-beta"] == anthropic.INTERLEAVED_THINKING
    assert headers["X-Initiator"] == "user" and headers["Copilot-Vision-Request"] == "true"
    assert headers["Editor-Version"].startswith("vscode/")  # the model's own headers are kept
    assert request.url == "https://api.githubcopilot.com/v1/messages"


@pytest.mark.parametrize(
    ("provider_id", "model_id", "variable", "url"),
    [
        ("minimax", "MiniMax-M2.5", "MINIMAX_API_KEY", "https://api.minimax.io/anthropic/v1/messages"),
        ("minimax-cn", "MiniMax-M2.5", "MINIMAX_API_KEY", "https://api.minimaxi.com/anthropic/v1/messages"),
        ("kimi-for-coding", "k2p5", "KIMI_API_KEY", "https://api.kimi.com/coding/v1/messages"),
        ("opencode", "claude-sonnet-4-5", "OPENCODE_API_KEY", "https://opencode.ai/zen/v1/messages"),
        ("zenmux", "anthropic/claude-sonnet-4.5", "ZENMUX_API_KEY", "https://zenmux.ai/api/anthropic/v1/messages"),
    ],
)
def test_anthropic_compatible_registry_models(
    monkeypatch: pytest.MonkeyPatch, provider_id: str, model_id: str, variable: str, url: str
) -> None:
    model = get_model(provider_id, model_id)
    assert model.api == "anthropic-messages"
    monkeypatch.setenv(variable, "compat-key-0123456789")
    request = provider.build_request(model, HELLO, StreamOptions())
    assert request.url == url
    assert request.headers["x-api-key"] == "compat-key-0123456789"
    assert request.body["model"] == model_id
    assert request.body["max_tokens"] == model.max_tokens // 3


def test_azure_foundry_placeholder_is_filled(monkeypatch: pytest.MonkeyPatch) -> None:
    model = get_model("azure", "claude-sonnet-4-5")
    monkeypatch.setenv("AZURE_RESOURCE_NAME", "my-res")
    request = build(HELLO, model, api_key="azure-key-0123456789")
    assert request.url == "https://my-res.services.ai.azure.com/anthropic/v1/messages"


def test_base_url_override_and_a_hand_made_v1_base(monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = dataclasses.replace(SONNET, base_url="https://proxy.example/v1/")
    assert build(HELLO, v1).url == "https://proxy.example/v1/messages"
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", "http://127.0.0.1:9/")
    assert build(HELLO).url == "http://127.0.0.1:9/v1/messages"


# --------------------------------------------------------------------------- the conversation


def test_system_user_text_and_images() -> None:
    context = Context(
        "You are terse.",
        [
            UserMessage("first"),
            UserMessage([TextContent("what is this?"), TextContent("   "), PNG]),
            UserMessage("   "),  # blank: left out
        ],
    )
    result = body(context, get_model("anthropic", "claude-sonnet-4-5"), cache_retention="none")
    assert result["system"] == [{"type": "text", "text": "You are terse."}]
    assert result["messages"] == [
        {"role": "user", "content": "first"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG.data}},
            ],
        },
    ]


def _assistant(*content: Any, model: Model = SONNET, stop: Any = "stop") -> AssistantMessage:
    return AssistantMessage(list(content), api=model.api, provider=model.provider, model=model.id, stop_reason=stop)


def test_assistant_replay_of_every_block_kind() -> None:
    turn = _assistant(
        ThinkingContent("Let me think.", "sig-1"),
        ThinkingContent("", "opaque-redacted", redacted=True),
        ThinkingContent("unsigned thoughts"),  # e.g. an aborted stream: goes back as text
        ThinkingContent("   ", "sig-blank"),
        TextContent("Checking."),
        TextContent("  "),
        ToolCall("toolu_01", "get_weather", {"city": "Paris"}),
        stop="toolUse",
    )
    context = Context(
        messages=[
            UserMessage("Weather in Paris?"),
            turn,
            ToolResultMessage("toolu_01", "get_weather", [TextContent("18 C")]),
        ],
        tools=[WEATHER],
    )
    result = body(context, cache_retention="none")
    assert result["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque-redacted"},
            {"type": "text", "text": "unsigned thoughts"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    }
    assert result["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C", "is_error": False}],
    }


def test_consecutive_tool_results_share_one_user_turn_with_text_and_images() -> None:
    calls = [ToolCall(f"toolu_{i}", "shot", {}) for i in range(3)]
    context = Context(
        messages=[
            UserMessage("go"),
            _assistant(*calls, stop="toolUse"),
            ToolResultMessage("toolu_0", "shot", [TextContent("line 1"), TextContent("line 2")]),
            ToolResultMessage("toolu_1", "shot", [PNG], is_error=False),
            ToolResultMessage("toolu_2", "shot", [TextContent("failed"), PNG], is_error=True),
            UserMessage("and now?"),
        ],
        tools=[Tool("shot", "Takes a screenshot.")],
    )
    messages = body(context, cache_retention="none")["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "user"]
    results = messages[2]["content"]
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG.data}}
    assert results == [
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "line 1\nline 2", "is_error": False},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": anthropic.IMAGE_ONLY_TEXT}, image],
            "is_error": False,
        },
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": [{"type": "text", "text": "failed"}, image],
            "is_error": True,
        },
    ]


def test_foreign_tool_call_ids_are_normalized_for_anthropic() -> None:
    foreign_id = "call_abc123|fc_0123456789abcdef/with:odd.chars"
    foreign = AssistantMessage(
        [ThinkingContent("foreign reasoning", "enc"), ToolCall(foreign_id, "get_weather", {"city": "Oslo"})],
        api="openai-responses",
        provider="openai",
        model="gpt-5",
        stop_reason="toolUse",
    )
    context = Context(
        messages=[UserMessage("Oslo?"), foreign, ToolResultMessage(foreign_id, "get_weather", [TextContent("-3 C")])],
        tools=[WEATHER],
    )
    messages = body(context, cache_retention="none")["messages"]
    call = messages[1]["content"][-1]
    result = messages[2]["content"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", call["id"]) and call["id"] == result["tool_use_id"]
    assert all(block["type"] != "thinking" for block in messages[1]["content"])  # foreign signatures never go back


def test_tools_keep_their_schema_as_input_schema() -> None:
    context = Context(messages=[UserMessage("hi")], tools=[WEATHER, Tool("noop", "Nothing.", {})])
    tools = body(context, cache_retention="none")["tools"]
    assert tools == [
        {"name": "get_weather", "description": "Current weather in a city.", "input_schema": WEATHER.parameters},
        {"name": "noop", "description": "Nothing.", "input_schema": {"type": "object"}},
    ]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("auto", {"type": "auto"}),
        ("any", {"type": "any"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "tool", "name": "get_weather"}, {"type": "tool", "name": "get_weather"}),
        ({"name": "get_weather"}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice(given: Any, sent: dict[str, Any]) -> None:
    context = Context(messages=[UserMessage("hi")], tools=[WEATHER])
    assert body(context, tool_choice=given)["tool_choice"] == sent


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (None, {"type": "auto", "disable_parallel_tool_use": True}),
        ("auto", {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", {"type": "any", "disable_parallel_tool_use": True}),
        ({"name": "get_weather"}, {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}),
        ("none", {"type": "none"}),  # no tool call at all: nothing to serialise
    ],
)
def test_parallel_tool_calls_false_disables_parallel_use_on_the_choice(given: Any, sent: dict[str, Any]) -> None:
    context = Context(messages=[UserMessage("hi")], tools=[WEATHER])
    assert body(context, tool_choice=given, parallel_tool_calls=False)["tool_choice"] == sent
    assert "tool_choice" not in body(context, parallel_tool_calls=True)
    assert "tool_choice" not in body(HELLO, parallel_tool_calls=False), "no tools, no tool_choice"


@pytest.mark.parametrize(
    ("bad", "error"),
    [("sometimes", "option tool_choice must be"), ({"type": "tool"}, "option tool_choice must be"),
     ({"type": "function", "name": "x"}, "not in the context's tools"), (3, "option tool_choice must be")],
)
def test_bad_tool_choice_is_a_clear_error(bad: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        build(Context(messages=[UserMessage("hi")], tools=[WEATHER]), tool_choice=bad)


def test_metadata_user_id_user_and_temperature() -> None:
    result = body(HELLO, metadata={"user_id": "user-42"}, temperature=0.3)
    assert result["metadata"] == {"user_id": "user-42"} and result["temperature"] == 0.3
    assert body(HELLO, user="user-7")["metadata"] == {"user_id": "user-7"}
    assert body(HELLO, user="same", metadata={"user_id": "same"})["metadata"] == {"user_id": "same"}
    with pytest.raises(ValueError, match="takes only 'user_id', got other"):
        build(HELLO, metadata={"user_id": "user-42", "other": 1})
    with pytest.raises(TypeError, match="metadata\\['user_id'\\] must be a string"):
        build(HELLO, metadata={"user_id": 42})
    with pytest.raises(ValueError, match="options user .* and metadata\\['user_id'\\] .* give one of them"):
        build(HELLO, user="a", metadata={"user_id": "b"})


def test_stop_top_p_top_k_and_extra_body() -> None:
    result = body(HELLO, stop=["END", "STOP"], top_p=0.5, top_k=40, extra_body={"service_tier": "auto"})
    assert result["stop_sequences"] == ["END", "STOP"] and result["top_p"] == 0.5 and result["top_k"] == 40
    assert result["service_tier"] == "auto"
    assert body(HELLO, stop="END")["stop_sequences"] == ["END"]
    merged = body(HELLO, OPUS_46, effort="low", extra_body={"output_config": {"format": "x"}, "max_tokens": 5})
    assert merged["output_config"] == {"effort": "low", "format": "x"} and merged["max_tokens"] == 5


def test_extra_headers_win_last_even_over_the_beta_list() -> None:
    request = build(HELLO, headers={"x-team": "a"}, extra_headers={"X-Team": "b", "anthropic-beta": "only-this"})
    team = [v for k, v in request.headers.items() if k.lower() == "x-team"]
    assert team == ["b"] and request.headers["anthropic-beta"] == "only-this"
    assert anthropic.FINE_GRAINED_TOOL_STREAMING in build(HELLO, extra_headers={"x-a": "1"}).headers["anthropic-beta"]


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({"top_k": 5}, "top_k cannot be combined with thinking"),
        ({"top_p": 0.9}, "top_p must be between 0.95 and 1 while"),
        ({"tool_choice": "required"}, "forces a tool call"),
        ({"tool_choice": {"name": "get_weather"}}, "forces a tool call"),
    ],
)
def test_sampling_and_forced_tools_while_thinking_raise_at_the_call(given: dict[str, Any], error: str) -> None:
    context = Context(messages=[UserMessage("hi")], tools=[WEATHER])
    for thinking in ({"thinking_enabled": True}, {"reasoning": "low"}):
        with pytest.raises(ValueError, match=error):
            build(context, **thinking, **given)
    assert "thinking" not in body(context, **given), "allowed with thinking off"
    allowed = body(context, thinking_enabled=True, top_p=0.95, temperature=0.2)
    assert allowed["top_p"] == 0.95 and "temperature" not in allowed


def test_max_tokens_default_and_given() -> None:
    assert body(HELLO)["max_tokens"] == SONNET.max_tokens // 3
    assert body(HELLO, max_tokens=1000)["max_tokens"] == 1000
    bare = Model(id="my-claude", name="x", api="anthropic-messages", provider="local", base_url="http://h")
    assert body(HELLO, bare)["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS


# --------------------------------------------------------------------------- thinking


def test_budget_thinking_raises_max_tokens_to_fit() -> None:
    result = body(HELLO, thinking_enabled=True, thinking_budget_tokens=8000, max_tokens=2000, temperature=0.5)
    assert result["thinking"] == {"type": "enabled", "budget_tokens": 8000}
    assert result["max_tokens"] == 10000
    assert "temperature" not in result  # Anthropic takes none with thinking on


def test_budget_thinking_defaults_and_fits_under_the_model_limit() -> None:
    assert body(HELLO, thinking_enabled=True)["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    result = body(HELLO, thinking_budget_tokens=60000, max_tokens=30000)  # the budget alone turns thinking on
    assert result["max_tokens"] == SONNET.max_tokens == 64000
    assert result["thinking"] == {"type": "enabled", "budget_tokens": 60000}
    squeezed = body(HELLO, thinking_budget_tokens=64000, max_tokens=64000)
    assert squeezed["max_tokens"] == 64000 and squeezed["thinking"]["budget_tokens"] == 64000 - 1024
    assert "thinking" not in body(HELLO, thinking_enabled=False, thinking_budget_tokens=4096)


def test_adaptive_thinking_with_effort() -> None:
    result = body(HELLO, OPUS_46, thinking_enabled=True, effort="max", thinking_budget_tokens=5000)
    assert result["thinking"] == {"type": "adaptive"} and result["output_config"] == {"effort": "max"}
    assert result["max_tokens"] == OPUS_46.max_tokens // 3
    assert body(HELLO, OPUS_47, thinking_enabled=True)["thinking"] == {"type": "adaptive"}
    assert "output_config" not in body(HELLO, OPUS_47, thinking_enabled=True)


def test_effort_without_thinking_and_its_checks() -> None:
    assert body(HELLO, get_model("anthropic", "claude-opus-4-5"), effort="low")["output_config"] == {"effort": "low"}
    with pytest.raises(ValueError, match="option effort must be one of .* for model anthropic/claude-opus-4-5"):
        build(HELLO, get_model("anthropic", "claude-opus-4-5"), effort="max")
    with pytest.raises(ValueError, match="option effort"):
        build(HELLO, OPUS_46, effort="extreme")


def test_non_reasoning_models_ignore_thinking() -> None:
    result = body(HELLO, HAIKU_PLAIN, thinking_enabled=True, temperature=0.1)
    assert "thinking" not in result and result["temperature"] == 0.1


def test_forcing_a_tool_with_thinking_on_is_refused_before_sending() -> None:
    context = Context(messages=[UserMessage("hi")], tools=[WEATHER])
    with pytest.raises(ValueError, match="does not allow with thinking on"):
        build(context, thinking_enabled=True, tool_choice="any")
    assert body(context, thinking_enabled=True, tool_choice="auto")["tool_choice"] == {"type": "auto"}


def test_images_to_a_model_without_vision_become_a_note() -> None:
    minimax = get_model("minimax", "MiniMax-M2.5")
    content = body(Context(messages=[UserMessage([TextContent("see"), PNG])]), minimax, cache_retention="none")
    blocks = content["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["text", "text"] and "does not accept images" in blocks[1]["text"]


def test_bad_thinking_options() -> None:
    with pytest.raises(ValueError, match="option thinking_budget_tokens must be an int >= 1024, got 100"):
        build(HELLO, thinking_budget_tokens=100)
    with pytest.raises(TypeError, match="option thinking_enabled must be True or False"):
        build(HELLO, thinking_enabled="yes")


def test_a_model_limit_without_room_for_thinking_raises_at_the_call() -> None:
    tiny = dataclasses.replace(SONNET, max_tokens=1000)
    with pytest.raises(ValueError, match="options max_tokens and thinking_budget_tokens: .* no room for thinking"):
        build(HELLO, tiny, thinking_enabled=True)
    with pytest.raises(ValueError, match="no room for thinking"):
        build(HELLO, tiny, simple=True, reasoning="low")
    assert body(HELLO, tiny, max_tokens=900)["max_tokens"] == 900, "thinking off: no check"


@pytest.mark.parametrize(
    ("model_id", "adaptive"),
    [
        ("claude-opus-4-6", True),
        ("claude-sonnet-4-6-20260101", True),
        ("anthropic/claude-sonnet-4.6", True),
        ("claude-opus-4-7", True),
        ("claude-fable-5", True),
        ("claude-mythos-preview", True),
        ("claude-sonnet-4-5-20250929", False),
        ("claude-opus-4-20250514", False),
        ("claude-opus-4-5", False),
        ("claude-3-7-sonnet-latest", False),
        ("MiniMax-M2.5", False),
    ],
)
def test_adaptive_models(model_id: str, adaptive: bool) -> None:
    model = dataclasses.replace(SONNET, id=model_id, reasoning_options=())
    assert uses_adaptive_thinking(model) is adaptive
    result = body(HELLO, model, thinking_enabled=True)
    assert result["thinking"]["type"] == ("adaptive" if adaptive else "enabled")


# -- stream_simple ------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "budget", "max_tokens"),
    [
        ("minimal", 1024, 33024),
        ("low", 2048, 34048),
        ("medium", 8192, 40192),
        ("high", 16384, 48384),
        ("xhigh", 16384, 48384),
    ],
)
def test_simple_levels_on_budget_models(level: str, budget: int, max_tokens: int) -> None:
    result = body(HELLO, simple=True, reasoning=level)
    assert result["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert result["max_tokens"] == max_tokens  # min(model limit, 32000) + budget, under 64000


def test_simple_budgets_overridden_and_capped_by_the_model() -> None:
    result = body(HELLO, simple=True, reasoning="medium", thinking_budgets={"medium": 3000})
    assert result["thinking"]["budget_tokens"] == 3000 and result["max_tokens"] == 35000
    small = dataclasses.replace(SONNET, max_tokens=20000)
    capped = body(HELLO, small, simple=True, reasoning="high")
    assert capped["max_tokens"] == 20000 and capped["thinking"]["budget_tokens"] == 16384
    tight = body(HELLO, small, simple=True, reasoning="high", thinking_budgets={"high": 30000})
    assert tight["max_tokens"] == 20000 and tight["thinking"]["budget_tokens"] == 20000 - 1024


@pytest.mark.parametrize(
    ("model", "level", "effort"),
    [
        (OPUS_46, "minimal", "low"),
        (OPUS_46, "low", "low"),
        (OPUS_46, "medium", "medium"),
        (OPUS_46, "high", "high"),
        (OPUS_46, "xhigh", "max"),
        (OPUS_47, "xhigh", "xhigh"),
        (SONNET_46, "xhigh", "max"),
        (get_model("zenmux", "anthropic/claude-opus-4.6"), "xhigh", "high"),
    ],
)
def test_simple_levels_on_adaptive_models(model: Model, level: str, effort: str) -> None:
    result = body(HELLO, model, simple=True, reasoning=level)
    assert result["thinking"] == {"type": "adaptive"} and result["output_config"] == {"effort": effort}
    assert result["max_tokens"] == min(model.max_tokens, 32000)


def test_simple_without_a_level_turns_thinking_off() -> None:
    result = body(HELLO, simple=True)
    assert "thinking" not in result and result["max_tokens"] == 32000
    assert "thinking" not in body(HELLO, HAIKU_PLAIN, simple=True, reasoning="high")


def test_simple_keeps_options_the_caller_gave() -> None:
    result = body(HELLO, simple=True, reasoning="low", thinking_budget_tokens=5000, max_tokens=9000)
    assert result["thinking"]["budget_tokens"] == 5000 and result["max_tokens"] == 9000 + 5000
    assert body(HELLO, simple=True, reasoning="low", thinking_enabled=False).get("thinking") is None


# --------------------------------------------------------------------------- prompt caching


def _cached_context() -> Context:
    return Context(
        "System.",
        [UserMessage("one"), _assistant(TextContent("two")), UserMessage([TextContent("three"), PNG])],
        tools=[WEATHER, Tool("noop", "Nothing.")],
    )


def _breakpoints(result: dict[str, Any]) -> list[Any]:
    found = [block.get("cache_control") for block in result.get("system", [])]
    found += [tool.get("cache_control") for tool in result.get("tools", [])]
    for message in result["messages"]:
        if isinstance(message["content"], list):
            found += [block.get("cache_control") for block in message["content"]]
    return found


def test_short_retention_is_the_default() -> None:
    marks = _breakpoints(body(_cached_context()))
    short = {"type": "ephemeral"}
    # system, tool 1, tool 2, "two", "three", image
    assert marks == [short, None, short, None, None, short]


def test_long_retention_sets_a_one_hour_ttl_on_anthropic() -> None:
    long = {"type": "ephemeral", "ttl": "1h"}
    assert _breakpoints(body(_cached_context(), cache_retention="long")) == [long, None, long, None, None, long]
    minimax = get_model("minimax", "MiniMax-M2.5")
    marks = _breakpoints(body(Context("S", [UserMessage("hi")]), minimax, cache_retention="long"))
    assert marks == [{"type": "ephemeral"}, {"type": "ephemeral"}]


def test_no_retention_sends_no_breakpoints() -> None:
    assert set(map(str, _breakpoints(body(_cached_context(), cache_retention="none")))) == {"None"}


def test_process_default_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMY_CACHE_RETENTION", "long")
    assert body(HELLO)["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert "cache_control" not in str(body(HELLO, cache_retention="none"))
    monkeypatch.setenv("ALCHEMY_CACHE_RETENTION", "forever")
    with pytest.raises(ValueError, match="ALCHEMY_CACHE_RETENTION"):
        build(HELLO)


def test_last_turn_marks_a_string_user_turn_and_tool_results_but_not_an_assistant_turn() -> None:
    result = body(HELLO)
    assert result["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello", "cache_control": {"type": "ephemeral"}}]}
    ]
    turns: list[Message] = [
        UserMessage("go"),
        _assistant(ToolCall("t1", "noop", {}), stop="toolUse"),
        ToolResultMessage("t1", "noop", [TextContent("ok")]),
    ]
    context = Context(messages=turns, tools=[Tool("noop", "N.")])
    assert body(context)["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    ends_with_assistant = Context(messages=[UserMessage("go"), _assistant(TextContent("partial answer"))])
    last = body(ends_with_assistant)["messages"][-1]
    assert last["role"] == "assistant" and "cache_control" not in str(last)


# --------------------------------------------------------------------------- the parser


def parse(wire: bytes, sizes: Iterator[int] | None = None, model: Model = SONNET) -> tuple[list[Any], AssistantMessage]:
    """Feeds ``wire`` to a fresh parser in pieces of ``sizes`` (default: one piece); returns the events."""
    return run_parser(provider, model, wire, sizes)


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "anthropic"
    return sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []


def _sizes(kind: str) -> Iterator[int] | None:
    if kind == "whole":
        return None
    if kind == "bytes=1":
        return iter(lambda: 1, 0)
    rng = random.Random(kind)
    return iter(lambda: rng.randint(1, 64), 0)


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name.removesuffix(".chunks.txt"))
@pytest.mark.parametrize("chunking", ["whole", "bytes=1", "random"])
def test_every_fixture_at_every_chunking(twins: None, path: Path, chunking: str) -> None:
    support.require_shared()
    _, message = parse(wire_bytes(path), _sizes(chunking))
    expected_from_fixture(path).check(message, SONNET)


@pytest.mark.parametrize("path", fixtures()[:4], ids=lambda p: p.name.removesuffix(".chunks.txt"))
def test_streams_without_event_names(twins: None, path: Path) -> None:
    support.require_shared()
    _, message = parse(wire_bytes(path, named=False), _sizes("random"))
    expected_from_fixture(path).check(message, SONNET)


def frames(*payloads: dict[str, Any]) -> bytes:
    return b"".join(
        b"event: " + p["type"].encode() + b"\ndata: " + orjson.dumps(p) + b"\n\n" for p in payloads
    )


def start(usage: dict[str, Any] | None = None, message_id: str = "msg_1") -> dict[str, Any]:
    return {"type": "message_start", "message": {"id": message_id, "usage": usage or {"input_tokens": 5}}}


def block(index: int, content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content}


def delta(index: int, content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": content}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str = "end_turn", usage: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [
        {"type": "message_delta", "delta": {"stop_reason": reason}, "usage": usage or {"output_tokens": 3}},
        {"type": "message_stop"},
    ]


def text_stream(*pieces: str) -> list[dict[str, Any]]:
    return [block(0, {"type": "text", "text": ""})] + [delta(0, {"type": "text_delta", "text": p}) for p in pieces] + [
        stop(0)
    ]


def test_redacted_thinking_and_a_tool_call_given_whole_at_start(twins: None) -> None:
    wire = frames(
        start(),
        block(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"}),
        stop(0),
        block(1, {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Rome"}}),
        stop(1),
        *end("tool_use"),
    )
    events, message = parse(wire)
    assert message.content == [
        ThinkingContent("", "EmwKAhgBEgy3va", True),
        ToolCall("toolu_9", "get_weather", {"city": "Rome"}),
    ]
    assert message.stop_reason == "toolUse"
    assert [e.type for e in events][:4] == ["start", "thinking_start", "thinking_end", "toolcall_start"]


def test_unknown_blocks_and_deltas_are_skipped_and_logged(twins: None, caplog: pytest.LogCaptureFixture) -> None:
    wire = frames(
        start(),
        block(0, {"type": "future_block", "data": {}}),
        delta(0, {"type": "future_delta", "value": "x"}),
        stop(0),
        block(1, {"type": "text", "text": ""}),
        delta(1, {"type": "future_text_delta", "value": "y"}),
        delta(1, {"type": "text_delta", "text": "Found it."}),
        stop(1),
        {"type": "some_future_event"},
        *end(),
    )
    with caplog.at_level(logging.DEBUG, logger="alchemy"):
        _, message = parse(wire)
    assert message.content == [TextContent("Found it.")] and message.stop_reason == "stop"
    logged = caplog.text
    assert "'future_block'" in logged and "'future_text_delta'" in logged
    assert "some_future_event" in logged


def test_usage_cost_and_cache_write_price(twins: None) -> None:
    usage = {
        "input_tokens": 100,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 3000,
        "output_tokens": 1,
    }
    _, message = parse(frames(start(usage), *text_stream("hi"), *end(usage={"output_tokens": 50})))
    got = message.usage
    assert (got.input, got.cache_read, got.cache_write, got.output) == (100, 2000, 3000, 50)
    assert got.total_tokens == 5150
    prices = SONNET.cost
    assert prices.cache_write is not None and prices.cache_read is not None and prices.input is not None
    assert got.cost.cache_write == pytest.approx(3000 * prices.cache_write / 1e6)
    assert got.cost.cache_read == pytest.approx(2000 * prices.cache_read / 1e6)
    assert got.cost.input == pytest.approx(100 * prices.input / 1e6)


@pytest.mark.parametrize(
    ("reason", "mapped"),
    [
        ("end_turn", "stop"),
        ("pause_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "toolUse"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reasons(twins: None, reason: str, mapped: str) -> None:
    _, message = parse(frames(start(), *text_stream("x"), *end(reason)))
    assert message.stop_reason == mapped


@pytest.mark.parametrize("reason", ["refusal", "sensitive"])
def test_failed_stop_reasons_end_with_a_clear_error(twins: None, reason: str) -> None:
    _, message = parse(frames(start(), *text_stream("Part"), *end(reason)))
    assert message.stop_reason == "error" and reason in (message.error_message or "")
    assert message.content == [TextContent("Part")] and message.usage.output == 3


def test_unknown_stop_reason_is_a_stop_with_a_warning(twins: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="alchemy"):
        _, message = parse(frames(start(), *text_stream("x"), *end("brand_new_reason")))
    assert message.stop_reason == "stop" and "brand_new_reason" in caplog.text


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [("overloaded_error", True), ("rate_limit_error", True), ("api_error", True), ("invalid_request_error", False)],
)
def test_error_events_in_the_stream(kind: str, retryable: bool) -> None:
    emitter = EventEmitter(new_partial(SONNET))
    parser = provider.create_parser(SONNET, StreamOptions(), emitter)
    parser.feed(frames(start(), *text_stream("Hel")))
    with pytest.raises(ProviderStreamError) as caught:
        parser.feed(frames({"type": "error", "error": {"type": kind, "message": "Overloaded"}}))
    assert caught.value.retryable is retryable
    assert str(caught.value) == f"Anthropic stream error {kind}: Overloaded"


def test_malformed_json_and_wrong_shapes() -> None:
    emitter = EventEmitter(new_partial(SONNET))
    parser = provider.create_parser(SONNET, StreamOptions(), emitter)
    with pytest.raises(StreamInterruptedError, match="not valid JSON"):
        parser.feed(b'event: message_start\ndata: {"type": "message_st\n\n')
    parser = provider.create_parser(SONNET, StreamOptions(), EventEmitter(new_partial(SONNET)))
    with pytest.raises(ProviderStreamError, match="unexpected shape"):
        parser.feed(b'event: content_block_start\ndata: {"type": "content_block_start"}\n\n')


def test_a_body_cut_short_is_an_interruption() -> None:
    emitter = EventEmitter(new_partial(SONNET))
    parser = provider.create_parser(SONNET, StreamOptions(), emitter)
    with pytest.raises(StreamInterruptedError, match="before message_start"):
        parser.finish()
    parser = provider.create_parser(SONNET, StreamOptions(), emitter)
    parser.feed(frames(start(), block(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": "Hi"})))
    with pytest.raises(StreamInterruptedError, match="before message_stop") as caught:
        parser.finish()
    assert caught.value.retryable
    assert emitter.message.content == [TextContent("Hi")] and emitter.message.usage.input == 5


def test_events_after_message_stop_are_ignored(twins: None, caplog: pytest.LogCaptureFixture) -> None:
    wire = frames(start(), *text_stream("first"), *end(), start(message_id="msg_2"), *text_stream("second"), *end())
    with caplog.at_level(logging.DEBUG, logger="alchemy"):
        _, message = parse(wire, _sizes("random"))
    assert message.content == [TextContent("first")] and message.response_id == "msg_1"
    assert "after message_stop" in caplog.text


def test_repeated_message_start_before_blocks_replaces_the_first(twins: None) -> None:
    wire = frames(start({"input_tokens": 5}), start({"input_tokens": 7}, "msg_2"), *text_stream("ok"), *end())
    _, message = parse(wire)
    assert message.response_id == "msg_2" and message.usage.input == 7 and message.text == "ok"


def test_input_usage_in_message_delta_replaces_the_early_count(twins: None) -> None:
    late = {"input_tokens": 40, "output_tokens": 2, "cache_read_input_tokens": None}
    wire = frames(start({"input_tokens": 1, "cache_read_input_tokens": 4}), *text_stream("x"), *end(usage=late))
    _, message = parse(wire)
    assert (message.usage.input, message.usage.cache_read, message.usage.output) == (40, 4, 2)


def test_thinking_signature_streams_in_pieces(twins: None) -> None:
    wire = frames(
        start(),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Hmm"}),
        delta(0, {"type": "signature_delta", "signature": "abc"}),
        delta(0, {"type": "signature_delta", "signature": "def"}),
        stop(0),
        *text_stream("Yes."),
        *end(),
    )
    _, message = parse(wire, _sizes("bytes=1"))
    assert message.content == [ThinkingContent("Hmm", "abcdef"), TextContent("Yes.")]
