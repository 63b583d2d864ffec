"""The Bedrock ConverseStream provider, sans-I/O: requests, auth and addressing, and the parser.

Requests are built with ``build_request`` (and signed by their auth step, as the runner does) and
checked field by field; the parser is fed the shared fixtures in AWS event-stream
framing at every split point, in small and random pieces, on both twins of the
decoder, the event buffer and the JSON merger, and its message is checked against
what each fixture says (``bedrock_oracle``).
"""

from __future__ import annotations

import dataclasses
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import support
from bedrock_oracle import AWS_VARIABLES, expected_from_fixture, verify_sigv4, wire_bytes
from protocol_checks import run_parser

from alchemy.api_registry import get_api
from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import MissingConfigurationError, ProviderError, ProviderStreamError, StreamInterruptedError
from alchemy.models import get_model
from alchemy.providers import _aws
from alchemy.providers.bedrock_converse_stream import provider
from alchemy.streaming import StreamOptions, _prepare, build_options
from alchemy.testing.eventstream import encode_event, encode_exception, encode_message, with_bad_message_crc
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

SONNET = get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
OPUS_46 = get_model("amazon-bedrock", "anthropic.claude-opus-4-6-v1")
OPUS_47 = get_model("amazon-bedrock", "anthropic.claude-opus-4-7")
NOVA = get_model("amazon-bedrock", "amazon.nova-pro-v1:0")
LLAMA = get_model("amazon-bedrock", "meta.llama3-3-70b-instruct-v1:0")
TOKEN = "bedrock-api-key-ABCDEFGHIJKLMNOP"
WEATHER = Tool("get_weather", "Weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}})
PNG = ImageContent("iVBORw0KGgo=", "image/png")
HELLO = Context(messages=[UserMessage("Hello")])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AWS settings from the machine: no variables, no config files, no instance metadata."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _aws.forget_sessions()
    yield
    _aws.forget_sessions()


def options(simple: bool = False, model: Model = SONNET, **given: Any) -> StreamOptions:
    return build_options("stream_simple" if simple else "stream", model, provider, given, simple=simple)


def build(context: Context = HELLO, model: Model = SONNET, simple: bool = False, **given: Any) -> HttpRequest:
    """The request of ``stream`` (or ``stream_simple``), with every check the call makes first."""
    given.setdefault("api_key", TOKEN)
    given.setdefault("region", "us-west-2")
    function = "stream_simple" if simple else "stream"
    _, checked_context, checked, _ = _prepare(function, model, context, given, simple=simple)
    return provider.build_request(model, checked_context, checked)


def body(context: Context = HELLO, model: Model = SONNET, simple: bool = False, **given: Any) -> dict[str, Any]:
    result: dict[str, Any] = build(context, model, simple, **given).body
    return result


# --------------------------------------------------------------------------- registration, URL, auth


def test_registered_for_its_api() -> None:
    assert get_api("bedrock-converse-stream") is provider
    assert provider.option_names >= {"region", "profile", "tool_choice", "reasoning", "thinking_budgets"}


def test_url_has_the_region_and_the_quoted_model_id() -> None:
    request = build()
    assert request.method == "POST"
    assert request.url == (
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
    )


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_region_from_the_environment(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "eu-central-1")
    request = provider.build_request(SONNET, HELLO, options(api_key=TOKEN))
    assert request.url.startswith("https://bedrock-runtime.eu-central-1.amazonaws.com/model/")


def test_region_option_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert "bedrock-runtime.ap-south-1." in build(region="ap-south-1").url


def test_missing_region_is_a_clear_error() -> None:
    with pytest.raises(MissingConfigurationError, match="needs an AWS region: pass region=... or set AWS_REGION or AWS_DEFAULT_REGION"):
        provider.build_request(SONNET, HELLO, options(api_key=TOKEN))


def test_region_from_a_concrete_bedrock_url_when_signing(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("botocore")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", support.FAKE_AWS_SECRET)
    model = dataclasses.replace(SONNET, base_url="https://bedrock-runtime.ca-central-1.amazonaws.com")
    request = provider.build_request(model, HELLO, options(model=model))
    signed = _signed(request)
    assert "/ca-central-1/bedrock/aws4_request" in signed.headers["Authorization"]


def test_base_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", "http://127.0.0.1:9/proxy/")
    assert build().url == "http://127.0.0.1:9/proxy/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"


def test_bearer_token_from_the_option_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    request = build()
    assert request.headers["authorization"] == f"Bearer {TOKEN}" and request.secrets == (TOKEN,)
    assert TOKEN not in repr(request)
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "env-token-1234567890")
    request = provider.build_request(SONNET, HELLO, options(region="us-east-1"))
    assert request.headers["authorization"] == "Bearer env-token-1234567890"
    assert request.auth is None  # the token is in the headers: nothing to sign


def test_caller_and_model_headers_are_merged() -> None:
    model = dataclasses.replace(SONNET, headers={"x-model": "1"})
    request = build(model=model, headers={"x-caller": "2"})
    assert request.headers["x-model"] == "1" and request.headers["x-caller"] == "2"
    assert request.headers["content-type"] == "application/json"


def test_skip_auth_sends_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEDROCK_SKIP_AUTH", "1")
    request = provider.build_request(SONNET, HELLO, options(region="us-east-1"))
    assert "authorization" not in {name.lower() for name in request.headers}
    assert request.auth is None


def test_missing_credentials_with_botocore() -> None:
    pytest.importorskip("botocore")
    with pytest.raises(MissingConfigurationError, match="AWS credentials, and none were found in the AWS credential chain"):
        provider.build_request(SONNET, HELLO, options(region="us-east-1"))


def test_unknown_profile_is_a_clear_error() -> None:
    pytest.importorskip("botocore")
    with pytest.raises(MissingConfigurationError, match="usable AWS credentials .*ProfileNotFound"):
        provider.build_request(SONNET, HELLO, options(region="us-east-1", profile="nobody"))


def test_without_botocore_the_error_names_the_extra_and_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore", None)
    monkeypatch.setitem(sys.modules, "botocore.auth", None)
    with pytest.raises(MissingConfigurationError, match=r"set AWS_BEARER_TOKEN_BEDROCK .*alchemy-llm\[bedrock\]"):
        provider.build_request(SONNET, HELLO, options(region="us-east-1"))


def _encoded(request: HttpRequest) -> HttpRequest:
    """What the runner hands to the auth step: the body encoded to bytes."""
    return HttpRequest(
        request.method, request.url, dict(request.headers), orjson.dumps(request.body), request.secrets, request.auth
    )


def _signed(request: HttpRequest) -> HttpRequest:
    """What the runner sends for one attempt: the encoded request, through the request's auth step."""
    assert request.auth is not None, "a SigV4 request carries its signer as its auth step"
    return request.auth.apply(_encoded(request))


def test_sigv4_signs_the_exact_body_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("botocore")
    secret = support.FAKE_AWS_SECRET
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-0123456789")
    given = options(region="eu-west-1")
    request = provider.build_request(SONNET, HELLO, given)
    assert "authorization" not in {name.lower() for name in request.headers}, "signed only by the auth step"
    assert request.auth is not None
    replaced = HttpRequest(request.method, request.url, dict(request.headers), b'{"messages":[],"replaced":true}')
    signed = request.auth.apply(replaced)
    assert signed.body == b'{"messages":[],"replaced":true}'
    assert signed.headers["X-Amz-Security-Token"] == "session-token-0123456789"
    assert secret in signed.secrets and "session-token-0123456789" in signed.secrets
    assert secret not in repr(signed) and "session-token-0123456789" not in repr(signed)
    verify_sigv4("POST", signed.url, signed.headers, signed.body, secret, "eu-west-1")
    # A changed body gives another signature: the hash of the bytes is signed.
    other = _signed(request)
    assert other.headers["Authorization"].rsplit("=", 1)[1] != signed.headers["Authorization"].rsplit("=", 1)[1]
    # Signing again replaces the earlier signature headers.
    again = request.auth.apply(signed)
    assert [name for name in again.headers if name.lower() == "authorization"] == ["Authorization"]


def test_sigv4_with_a_profile_from_the_shared_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("botocore")
    credentials = tmp_path / "credentials"
    credentials.write_text("[work]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-123\n")
    config = tmp_path / "config"
    config.write_text("[profile work]\nregion = sa-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    given = options(profile="work")
    request = provider.build_request(SONNET, HELLO, given)
    assert request.url.startswith("https://bedrock-runtime.sa-east-1.amazonaws.com/")
    signed = _signed(request)
    assert "Credential=AKIDPROFILE/" in signed.headers["Authorization"]
    verify_sigv4("POST", signed.url, signed.headers, signed.body, "profile-secret-123", "sa-east-1")


# --------------------------------------------------------------------------- request body


def test_system_messages_and_inference_config() -> None:
    sent = body(Context("Be brief.", [UserMessage("Hi")]), max_tokens=100, temperature=0.3, cache_retention="none")
    assert sent == {
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.3},
    }


def test_cache_points_after_system_and_last_user_turn() -> None:
    context = Context("Sys", [UserMessage("one"), _assistant(TextContent("two")), UserMessage("three")])
    sent = body(context)
    assert sent["system"] == [{"text": "Sys"}, {"cachePoint": {"type": "default"}}]
    assert sent["messages"][0]["content"] == [{"text": "one"}]
    assert sent["messages"][-1]["content"] == [{"text": "three"}, {"cachePoint": {"type": "default"}}]
    long = body(context, cache_retention="long")
    assert long["system"][-1] == {"cachePoint": {"type": "default", "ttl": "1h"}}
    assert "cachePoint" not in str(body(context, cache_retention="none"))
    assert "cachePoint" in str(body(context, model=NOVA))
    assert "cachePoint" not in str(body(context, model=LLAMA))


def test_cache_retention_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMY_CACHE_RETENTION", "none")
    assert "cachePoint" not in str(body(Context("Sys", [UserMessage("hi")])))


def test_user_text_and_images_never_blank_text() -> None:
    context = Context(messages=[UserMessage([TextContent("  "), TextContent("Look:"), PNG, ImageContent("x", "image/jpeg")])])
    sent = body(context, cache_retention="none")
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "Look:"},
                {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
                {"image": {"format": "jpeg", "source": {"bytes": "x"}}},
            ],
        }
    ]


def test_unsupported_image_type_is_a_clear_error() -> None:
    context = Context(messages=[UserMessage([TextContent("hi"), ImageContent("x", "image/bmp")])])
    with pytest.raises(ValueError, match="Bedrock accepts jpeg, png, gif and webp images, not 'image/bmp'"):
        build(context)


def _assistant(*content: Any, model: Model = SONNET, stop: Any = "stop") -> AssistantMessage:
    return AssistantMessage(list(content), api=model.api, provider=model.provider, model=model.id, stop_reason=stop)


def test_assistant_replay_with_reasoning_signatures_and_tool_calls() -> None:
    context = Context(
        messages=[
            UserMessage("Weather?"),
            _assistant(
                ThinkingContent("Let me think.", "sig-1"),
                ThinkingContent("unsigned thought"),
                ThinkingContent("", "opaque", redacted=True),
                TextContent("   "),
                TextContent("Checking."),
                ToolCall("tooluse_1", "get_weather", {"city": "Paris"}),
            ),
            ToolResultMessage("tooluse_1", "get_weather", [TextContent("18C")]),
        ],
        tools=[WEATHER],
    )
    sent = body(context, cache_retention="none")
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "sig-1"}}},
            {"text": "unsigned thought"},
            {"reasoningContent": {"redactedContent": "opaque"}},
            {"text": "Checking."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
        ],
    }
    assert sent["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}], "status": "success"}}],
    }


def test_non_claude_models_get_reasoning_without_signature() -> None:
    context = Context(messages=[UserMessage("Q"), _assistant(ThinkingContent("hmm", "sig"), TextContent("A"), model=LLAMA), UserMessage("Q2")])
    sent = body(context, model=LLAMA)
    assert sent["messages"][1]["content"] == [{"reasoningContent": {"reasoningText": {"text": "hmm"}}}, {"text": "A"}]


def test_tool_results_share_a_user_turn_with_images_errors_and_the_next_user_message() -> None:
    context = Context(
        messages=[
            UserMessage("go"),
            _assistant(ToolCall("a", "get_weather", {}), ToolCall("b", "get_weather", {})),
            ToolResultMessage("a", "get_weather", [TextContent("one"), PNG]),
            ToolResultMessage("b", "get_weather", [TextContent("bad")], is_error=True),
            UserMessage("and now?"),
        ],
        tools=[WEATHER],
    )
    sent = body(context, cache_retention="none")
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"] == [
        {
            "toolResult": {
                "toolUseId": "a",
                "content": [{"text": "one"}, {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}],
                "status": "success",
            }
        },
        {"toolResult": {"toolUseId": "b", "content": [{"text": "bad"}], "status": "error"}},
        {"text": "and now?"},
    ]


def test_foreign_tool_call_ids_are_normalized() -> None:
    foreign = AssistantMessage(
        [ToolCall("call|fc:weird id!", "get_weather", {})], api="openai-responses", provider="openai", model="gpt-5"
    )
    context = Context(
        messages=[UserMessage("go"), foreign, ToolResultMessage("call|fc:weird id!", "get_weather", [TextContent("ok")])],
        tools=[WEATHER],
    )
    sent = body(context, cache_retention="none")
    new_id = sent["messages"][1]["content"][0]["toolUse"]["toolUseId"]
    assert new_id == "call_fc_weird_id_"
    assert sent["messages"][2]["content"][0]["toolResult"]["toolUseId"] == new_id


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (None, None),
        ("auto", {"auto": {}}),
        ("any", {"any": {}}),
        ("required", {"any": {}}),
        ({"type": "tool", "name": "get_weather"}, {"tool": {"name": "get_weather"}}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"tool": {"name": "get_weather"}}),
    ],
)
def test_tool_config_and_choice(given: Any, sent: Any) -> None:
    config = body(Context(messages=[UserMessage("hi")], tools=[WEATHER]), tool_choice=given)["toolConfig"]
    assert config["tools"] == [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Weather in a city.",
                "inputSchema": {"json": WEATHER.parameters},
            }
        }
    ]
    assert config.get("toolChoice") == sent


def test_tool_choice_none_leaves_tools_out_and_writes_tool_history_as_text() -> None:
    assert "toolConfig" not in body(Context(messages=[UserMessage("hi")], tools=[WEATHER]), tool_choice="none")
    context = Context(
        messages=[
            UserMessage("go"),
            _assistant(ToolCall("a", "get_weather", {"city": "Oslo"})),
            ToolResultMessage("a", "get_weather", [TextContent("cold")]),
        ],
        tools=[WEATHER],
    )
    sent = body(context, tool_choice="none", cache_retention="none")
    assert "toolConfig" not in sent and "toolUse" not in str(sent) and "toolResult" not in str(sent)
    assert "get_weather" in str(sent["messages"]) and "cold" in str(sent["messages"])


@pytest.mark.parametrize("bad", ["sometimes", {"type": "tool"}, 3])
def test_bad_tool_choice_is_a_clear_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="option tool_choice must"):
        build(Context(messages=[UserMessage("hi")], tools=[WEATHER]), tool_choice=bad)


def test_budget_thinking_for_claude() -> None:
    sent = body(reasoning="medium", max_tokens=20000, temperature=0.5)
    assert sent["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 8192},
        "anthropic_beta": ["interleaved-thinking-2025-05-14"],
    }
    # max_tokens is room for the answer: the budget goes on top of it (as on the Anthropic API).
    assert sent["inferenceConfig"] == {"maxTokens": 20000 + 8192}, "no temperature with thinking"
    no_beta = body(reasoning="low", thinking_budgets={"low": 3000}, interleaved_thinking=False)
    assert no_beta["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 3000}}
    # Without max_tokens, room is left beyond the budget (Bedrock's default may be smaller than it).
    assert no_beta["inferenceConfig"] == {"maxTokens": 35000}
    assert body(reasoning="high", thinking_budgets={"high": 60000})["inferenceConfig"] == {"maxTokens": 64000}


@pytest.mark.parametrize(
    ("model", "level", "effort"),
    [(OPUS_46, "minimal", "low"), (OPUS_46, "medium", "medium"), (OPUS_46, "xhigh", "max"), (OPUS_47, "xhigh", "xhigh")],
)
def test_adaptive_thinking(model: Model, level: str, effort: str) -> None:
    assert body(model=model, reasoning=level)["additionalModelRequestFields"] == {
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": effort},
    }


def test_thinking_only_for_reasoning_claude_models() -> None:
    assert "additionalModelRequestFields" not in body(model=NOVA, reasoning="high")
    assert "additionalModelRequestFields" not in body(model=dataclasses.replace(SONNET, reasoning=False), reasoning="high")


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("reasoning", "huge", ValueError),
        ("thinking_budgets", {"low": -1}, ValueError),
        ("interleaved_thinking", "yes", TypeError),
        ("region", "", ValueError),
        ("profile", 3, TypeError),
    ],
)
def test_bad_own_options(name: str, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"option {re.escape(name)}(\\[.*\\])? must"):
        build(**{name: value})


@pytest.mark.parametrize(("level", "budget", "max_tokens"), [("minimal", 1024, 33024), ("high", 16384, 48384), ("xhigh", 16384, 48384)])
def test_simple_levels_on_budget_models(level: str, budget: int, max_tokens: int) -> None:
    sent = body(simple=True, reasoning=level)
    assert sent["additionalModelRequestFields"]["thinking"]["budget_tokens"] == budget
    assert sent["inferenceConfig"]["maxTokens"] == max_tokens


def test_simple_without_a_level_sends_a_max_tokens_value_and_no_thinking() -> None:
    sent = body(simple=True)
    assert sent["inferenceConfig"] == {"maxTokens": 32000} and "additionalModelRequestFields" not in sent
    small = dataclasses.replace(SONNET, max_tokens=4096)
    sent = body(model=small, simple=True, reasoning="high")
    assert sent["inferenceConfig"]["maxTokens"] == 4096
    assert sent["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 4096 - 1024
    assert "additionalModelRequestFields" not in body(model=NOVA, simple=True, reasoning="high")


def test_simple_adaptive_and_budget_overrides() -> None:
    assert body(model=OPUS_46, simple=True, reasoning="high")["additionalModelRequestFields"]["output_config"] == {
        "effort": "high"
    }
    sent = body(simple=True, reasoning="low", thinking_budgets={"low": 5000})
    assert sent["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 5000
    assert sent["inferenceConfig"]["maxTokens"] == 37000


def test_shaping_runs_first_failed_turns_are_skipped() -> None:
    context = Context(messages=[UserMessage("a"), _assistant(TextContent("partial"), stop="error"), UserMessage("b")])
    sent = body(context, cache_retention="none")
    assert sent["messages"] == [{"role": "user", "content": [{"text": "a\n\nb"}]}]


# --------------------------------------------------------------------------- the parser


def parse(wire: bytes, pieces: list[int] | None = None, model: Model = SONNET) -> tuple[list[Any], AssistantMessage]:
    """Feeds ``wire`` cut at ``pieces`` (sizes; default one piece) to a fresh parser, as the runner does."""
    return run_parser(provider, model, wire, pieces)


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "amazon-bedrock"
    return sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []


def _name(path: Path) -> str:
    return path.name.removesuffix(".chunks.txt")


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.usefixtures("twins")
def test_every_fixture_in_every_piece_size(path: Path) -> None:
    support.require_shared()
    wire = wire_bytes(path)
    expected = expected_from_fixture(path)
    rng = random.Random(path.name)
    for pieces in ([len(wire)], [1] * len(wire), [7] * (len(wire) // 7 + 1), [rng.randint(1, 64) for _ in range(len(wire))]):
        _, message = parse(wire, pieces)
        expected.check(message, SONNET)


@pytest.mark.parametrize("path", fixtures()[:3], ids=_name)
def test_every_split_point(path: Path) -> None:
    support.require_shared()
    wire = wire_bytes(path)
    expected = expected_from_fixture(path)
    for cut in range(len(wire) + 1):
        _, message = parse(wire, [cut])
        expected.check(message, SONNET)


def test_reasoning_fixture_events() -> None:
    support.require_shared()
    events, message = parse(wire_bytes(support.FIXTURES / "amazon-bedrock" / "amazon-bedrock-reasoning.chunks.txt"))
    kinds = [type(event).__name__ for event in events]
    assert kinds[:2] == ["Start", "ThinkingStart"] and kinds[-1] == "Done"
    assert kinds.count("ThinkingEnd") == 1 and kinds.count("TextEnd") == 1
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingContent) and thinking.thinking_signature and thinking.thinking.endswith("3 r's.")
    assert message.usage.input == 51 and message.usage.output == 94 and message.usage.cost.total


def frames(*lines: dict[str, Any]) -> bytes:
    return b"".join(encode_event(kind, orjson.dumps(payload)) for line in lines for kind, payload in line.items())


START = {"messageStart": {"role": "assistant"}}
HI = {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi"}}}
STOP = {"messageStop": {"stopReason": "end_turn"}}
USAGE = {
    "metadata": {
        "usage": {"inputTokens": 10, "outputTokens": 5, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 20, "totalTokens": 135}
    }
}


def test_usage_with_cache_read_and_write_and_cost() -> None:
    _, message = parse(frames(START, HI, STOP, USAGE))
    usage = message.usage
    assert (usage.input, usage.output, usage.cache_read, usage.cache_write, usage.total_tokens) == (10, 5, 100, 20, 135)
    cost = (10 * 3.0 + 5 * 15.0 + 100 * 0.3 + 20 * 3.75) / 1_000_000
    assert usage.cost.total is not None and abs(usage.cost.total - cost) < 1e-15


def test_total_tokens_fall_back_to_the_sum() -> None:
    _, message = parse(frames(START, HI, STOP, {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 4}}}))
    assert message.usage.total_tokens == 7


@pytest.mark.parametrize(
    ("reason", "stop"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("model_context_window_exceeded", "length"), ("tool_use", "toolUse")],
)
def test_stop_reasons(reason: str, stop: str) -> None:
    _, message = parse(frames(START, HI, {"messageStop": {"stopReason": reason}}, USAGE))
    assert message.stop_reason == stop


@pytest.mark.parametrize("reason", ["guardrail_intervened", "content_filtered", "something_new"])
def test_failed_stop_reasons_end_with_an_error_keeping_content_and_usage(reason: str) -> None:
    _, message = parse(frames(START, HI, {"messageStop": {"stopReason": reason}}, USAGE))
    assert message.stop_reason == "error" and reason in (message.error_message or "")
    assert message.content == [TextContent("Hi")] and message.usage.input == 10


def test_a_stream_cut_after_message_stop_before_metadata_is_interrupted() -> None:
    _, message = parse(frames(START, HI, STOP))
    assert message.stop_reason == "error" and "before its final metadata event" in (message.error_message or "")
    assert message.content == [TextContent("Hi")]


def test_metadata_before_message_stop_completes() -> None:
    _, message = parse(frames(START, HI, USAGE, STOP))
    assert message.stop_reason == "stop" and message.usage.input == 10


def test_redacted_reasoning_and_a_new_index_starts_a_new_block() -> None:
    wire = frames(
        START,
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"redactedContent": "b3BhcXVl"}}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"text": "A"}}},
        {"contentBlockDelta": {"contentBlockIndex": 2, "delta": {"text": "B"}}},
        STOP,
    )
    _, message = parse(wire)
    assert message.content == [ThinkingContent("", "b3BhcXVl", True), TextContent("A"), TextContent("B")]


def test_tool_input_streams_through_the_merger() -> None:
    wire = frames(
        START,
        {"contentBlockStart": {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t1", "name": "get_weather"}}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"city": "Par'}}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": 'is"}'}}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "tool_use"}},
        USAGE,
    )
    events, message = parse(wire)
    assert [type(e).__name__ for e in events].count("ToolCallDelta") == 2
    assert message.content == [ToolCall("t1", "get_weather", {"city": "Paris"})] and message.stop_reason == "toolUse"


def test_tool_input_without_its_start_is_an_error() -> None:
    wire = frames(START, {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{}"}}}})
    _, message = parse(wire)
    assert "tool input for content block 0 before its contentBlockStart" in (message.error_message or "")


def test_unknown_events_and_fields_are_ignored() -> None:
    wire = frames(START, {"somethingNew": {"x": 1}}, {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"citation": {}}}}, HI, STOP, USAGE)
    _, message = parse(wire)
    assert message.content == [TextContent("Hi")] and message.stop_reason == "stop"


def test_a_message_start_with_another_role_is_an_error() -> None:
    _, message = parse(frames({"messageStart": {"role": "user"}}))
    assert message.error_message == "Amazon Bedrock started a message with role 'user', expected 'assistant'"


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        ("throttlingException", True),
        ("serviceUnavailableException", True),
        ("internalServerException", True),
        ("modelStreamErrorException", True),
        ("validationException", False),
    ],
)
def test_exception_frames_raise_with_their_text(kind: str, retryable: bool) -> None:
    emitter = EventEmitter(new_partial(SONNET))
    parser = provider.create_parser(SONNET, StreamOptions(), emitter)
    parser.feed(frames(START, HI))
    with pytest.raises(ProviderStreamError) as caught:
        parser.feed(encode_exception(kind, b'{"message":"Something went wrong."}'))
    assert str(caught.value) == f"Amazon Bedrock {kind}: Something went wrong."
    assert caught.value.retryable is retryable
    assert emitter.message.content == [TextContent("Hi")]


def test_exception_after_content_ends_the_stream_keeping_it() -> None:
    _, message = parse(frames(START, HI) + encode_exception("validationException", b'{"message":"Input is too long for requested model."}'))
    assert message.stop_reason == "error" and message.content == [TextContent("Hi")]
    assert message.error_message == "Amazon Bedrock validationException: Input is too long for requested model."


def test_error_message_type_frames() -> None:
    error = encode_message({":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, b"")
    _, message = parse(frames(START) + error)
    assert message.error_message == "Amazon Bedrock InternalFailure: boom"


@pytest.mark.usefixtures("twins")
def test_a_corrupt_frame_ends_the_stream_keeping_what_arrived() -> None:
    wire = frames(START, HI) + with_bad_message_crc(frames({"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "!"}}}))
    for pieces in ([len(wire)], [5] * (len(wire) // 5 + 1)):
        _, message = parse(wire + frames(STOP), pieces)
        assert message.stop_reason == "error" and message.content == [TextContent("Hi")]
        assert (message.error_message or "").startswith("Amazon Bedrock sent a corrupt event stream: event-stream message checksum mismatch")


def test_a_stream_cut_inside_a_frame_or_before_message_stop_is_interrupted() -> None:
    wire = frames(START, HI, STOP)
    _, message = parse(wire[:-3])
    assert message.stop_reason == "error" and "cut off: event-stream ended inside the message" in (message.error_message or "")
    _, message = parse(frames(START, HI))
    assert message.error_message == "Amazon Bedrock's stream ended before its messageStop event"
    assert message.content == [TextContent("Hi")]


def test_malformed_json_in_a_frame_is_interrupted() -> None:
    wire = frames(START) + encode_event("contentBlockDelta", b'{"contentBlockIndex":0,"del')
    _, message = parse(wire)
    assert "sent a contentBlockDelta event whose JSON does not parse" in (message.error_message or "")
    assert isinstance(StreamInterruptedError("x"), ProviderError)


# --------------------------------------------------------------------------- parity with the Anthropic API

PAIRS = [
    ("claude-sonnet-4-5", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("claude-opus-4-5", "anthropic.claude-opus-4-5-20251101-v1:0"),
    ("claude-opus-4-6", "anthropic.claude-opus-4-6-v1"),
    ("claude-sonnet-4-6", "anthropic.claude-sonnet-4-6"),
    ("claude-opus-4-7", "anthropic.claude-opus-4-7"),
]


@pytest.mark.parametrize("level", ["off", "minimal", "low", "medium", "high", "xhigh", "max"])
@pytest.mark.parametrize(("anthropic_id", "bedrock_id"), PAIRS)
def test_claude_thinking_is_the_same_on_anthropic_and_bedrock(anthropic_id: str, bedrock_id: str, level: str) -> None:
    from alchemy.providers.anthropic_messages import provider as anthropic

    direct = get_model("anthropic", anthropic_id)
    _, context, checked, _ = _prepare("stream", direct, HELLO, {"api_key": "k", "reasoning": level}, simple=False)
    wanted = anthropic.build_request(direct, context, checked).body
    fields = body(model=get_model("amazon-bedrock", bedrock_id), reasoning=level).get("additionalModelRequestFields", {})
    assert fields.get("thinking") == wanted.get("thinking")
    assert fields.get("output_config") == wanted.get("output_config")
    sent = body(model=get_model("amazon-bedrock", bedrock_id), reasoning=level)
    assert sent["inferenceConfig"]["maxTokens"] == wanted["max_tokens"]


def test_stop_top_p_top_k_metadata_and_extra_body() -> None:
    sent = body(stop=["x"], top_p=0.9, top_k=20, metadata={"k": "v"}, extra_body={"additionalModelRequestFields": {"a": 1}})
    assert sent["inferenceConfig"]["stopSequences"] == ["x"] and sent["inferenceConfig"]["topP"] == 0.9
    assert sent["additionalModelRequestFields"] == {"top_k": 20, "a": 1}
    assert sent["requestMetadata"] == {"k": "v"}
    with pytest.raises(ValueError, match="top_k is taken by Claude models on Bedrock only"):
        build(model=NOVA, top_k=3)


def test_thinking_refuses_top_k_low_top_p_and_forced_tools_at_the_call() -> None:
    context = Context(messages=[UserMessage("hi")], tools=[WEATHER])
    for given, error in (
        ({"top_k": 3}, "top_k cannot be combined with thinking"),
        ({"top_p": 0.8}, "top_p must be between 0.95 and 1"),
        ({"tool_choice": {"name": "get_weather"}}, "forces a tool call"),
    ):
        with pytest.raises(ValueError, match=error):
            build(context, reasoning="low", **given)
        assert "thinking" not in body(context, reasoning="off", **given).get("additionalModelRequestFields", {})
    allowed = body(context, reasoning="low", top_p=0.97, temperature=0.3)
    assert allowed["inferenceConfig"]["topP"] == 0.97 and "temperature" not in allowed["inferenceConfig"]
