"""The Gemini and Vertex AI providers, sans-I/O: requests, the stream parser, schemas, auth.

Requests are built with ``provider.build_request`` and asserted on; responses are
the shared Gemini ``generateContent`` fixtures (``google/google-*.chunks.txt``) and
hand-made streams, framed as Gemini sends them (``data: ...`` with CRLF line ends,
no ``[DONE]``) and fed to the parser at several chunkings on both kernel twins.
The expectation for a fixture is computed from its JSON (``google_oracle``).

Out of scope: the other files in ``google/`` (``basic``, ``google-search``,
``multi-turn-*``, ``tool-call-step1``) record the Gemini *Interactions* API
(``event_type``: ``interaction.created``, ``step.delta``, ...), a different wire
API that neither provider speaks; one test below only checks that such a stream
ends with a clear error rather than a silent success.

The end-to-end tests through the replay server are in ``test_google_e2e.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import support
from hypothesis import given, settings
from hypothesis import strategies as st
from google_oracle import expected_from_fixture, expected_from_payloads, fixture_payloads, wire_bytes
from protocol_checks import run_parser

import alchemy
from alchemy.api_registry import get_api
from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import MissingApiKeyError, MissingConfigurationError, ProviderError, StreamInterruptedError
from alchemy.events import ToolCallDelta
from alchemy.models import get_model
from alchemy.providers._google_partial_args import PartialArguments, parse_json_path
from alchemy.providers._google_request import SKIP_SIGNATURE
from alchemy.providers._google_schema import openapi_schema, tool_schema_mode
from alchemy.providers._google_stream import FINISH_REASON_ERRORS, USAGE_STEP
from alchemy.providers.google_generative_ai import provider as gemini
from alchemy.providers.google_vertex import provider as vertex
from alchemy.streaming import StreamOptions, build_options
from alchemy.request import HttpRequest
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    TextContent,
    ThinkingContent,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

KEY = "test-gemini-key-not-real"
FLASH_25 = get_model("google", "gemini-2.5-flash")
PRO_25 = get_model("google", "gemini-2.5-pro")
FLASH_3 = get_model("google", "gemini-3-flash-preview")
PRO_31 = get_model("google", "gemini-3.1-pro-preview")
VERTEX_FLASH = get_model("google-vertex", "gemini-2.5-flash")
VERTEX_GPT_OSS = get_model("google-vertex", "openai/gpt-oss-120b-maas")
SIGNATURE = base64.b64encode(b"a thought signature").decode()
PNG = ImageContent("iVBORw0KGgo=", "image/png")
WEATHER = Tool(
    "weather",
    "Weather for a location.",
    {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["location"],
        "additionalProperties": False,
    },
)
HELLO = Context(messages=[UserMessage("Hello")])

_ENV = (
    "GEMINI_API_KEY",
    "GOOGLE_GENERATIVE_AI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_CLOUD_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "GOOGLE_VERTEX_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_VERTEX_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "ALCHEMY_BASE_URL_OVERRIDE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    # Never let google-auth find real credentials on this machine.
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def options(model: Model = FLASH_25, simple: bool = False, provider: Any = gemini, **given: Any) -> StreamOptions:
    if provider is gemini:
        given.setdefault("api_key", KEY)
    checked = build_options("stream", model, provider, given, simple=simple)
    return provider.map_simple_options(model, checked) if simple else checked


def build(context: Context = HELLO, model: Model = FLASH_25, simple: bool = False, **given: Any) -> HttpRequest:
    provider = vertex if model.api == "google-vertex" else gemini
    return provider.build_request(model, context, options(model, simple, provider, **given))


def body(context: Context = HELLO, model: Model = FLASH_25, simple: bool = False, **given: Any) -> dict[str, Any]:
    result: dict[str, Any] = build(context, model, simple, **given).body
    return result


# --------------------------------------------------------------------------- registration and the Gemini endpoint


def test_both_providers_are_registered() -> None:
    assert get_api("google-generative-ai") is gemini and gemini.label == "Gemini"
    assert get_api("google-vertex") is vertex and vertex.label == "Vertex AI"
    assert {"tool_choice", "thinking_budget", "thinking_level", "tool_schema"} <= gemini.option_names
    assert {"project", "location", "credentials", "stream_tool_arguments"} <= vertex.option_names
    assert "project" not in gemini.option_names


def test_url_and_key_header_never_the_key_in_the_url() -> None:
    request = build()
    assert request.method == "POST"
    assert request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == KEY and KEY not in request.url
    assert request.secrets == (KEY,) and KEY not in repr(request)


@pytest.mark.parametrize("variable", ["GEMINI_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY", "GOOGLE_API_KEY"])
def test_key_from_each_variable_the_registry_lists(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "env-key-123456")
    request = gemini.build_request(FLASH_25, HELLO, build_options("stream", FLASH_25, gemini, {}, simple=False))
    assert request.headers["x-goog-api-key"] == "env-key-123456"


def test_missing_key_names_the_variables() -> None:
    with pytest.raises(MissingApiKeyError, match="GEMINI_API_KEY or GOOGLE_GENERATIVE_AI_API_KEY or GOOGLE_API_KEY"):
        gemini.build_request(FLASH_25, HELLO, StreamOptions())


def test_headers_merge_and_base_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    model = dataclasses.replace(FLASH_25, headers={"x-model": "1"})
    request = gemini.build_request(model, HELLO, options(model, headers={"x-caller": "2"}))
    assert request.headers["x-model"] == "1" and request.headers["x-caller"] == "2"
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", "http://127.0.0.1:9/v1beta/")
    assert build().url.startswith("http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:")


def test_tuned_model_resource_names_are_kept() -> None:
    tuned = dataclasses.replace(FLASH_25, id="tunedModels/my-model-abc")
    assert "/v1beta/tunedModels/my-model-abc:streamGenerateContent" in build(model=tuned).url


# --------------------------------------------------------------------------- contents


def _assistant(*content: Any, model: Model = FLASH_25, stop: Any = "stop") -> AssistantMessage:
    return AssistantMessage(list(content), api=model.api, provider=model.provider, model=model.id, stop_reason=stop)


def test_system_instruction_user_text_and_images() -> None:
    context = Context(
        system_prompt="Be brief.",
        messages=[UserMessage([TextContent("What is this?"), PNG]), UserMessage("And this?")],
    )
    result = body(context)
    assert result["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert result["contents"] == [
        {"role": "user", "parts": [{"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": PNG.data}}]},
        {"role": "user", "parts": [{"text": "And this?"}]},
    ]
    assert "generationConfig" not in result and "tools" not in result


def test_own_turns_replay_thinking_text_and_calls_with_their_signatures() -> None:
    context = Context(
        messages=[
            UserMessage("Weather?"),
            _assistant(
                ThinkingContent("Let me think.", SIGNATURE),
                TextContent("Checking.", SIGNATURE),
                ToolCall("c1", "weather", {"location": "Paris"}, SIGNATURE),
                model=FLASH_3,
                stop="toolUse",
            ),
            ToolResultMessage("c1", "weather", [TextContent("Sunny")]),
        ],
        tools=[WEATHER],
    )
    contents = body(context, FLASH_3)["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"thought": True, "text": "Let me think.", "thoughtSignature": SIGNATURE},
            {"text": "Checking.", "thoughtSignature": SIGNATURE},
            {"functionCall": {"name": "weather", "args": {"location": "Paris"}}, "thoughtSignature": SIGNATURE},
        ],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "weather", "response": {"output": "Sunny"}}}],
    }


def test_signatures_only_from_the_same_model_and_only_valid_base64() -> None:
    other = _assistant(
        TextContent("Hi.", SIGNATURE), ToolCall("c1", "weather", {}, SIGNATURE), model=FLASH_3, stop="toolUse"
    )
    bad = _assistant(TextContent("Hi.", "not base64!"), ToolCall("c2", "weather", {}, "abc"), stop="toolUse")
    context = Context(
        messages=[
            UserMessage("a"),
            other,
            ToolResultMessage("c1", "weather", [TextContent("x")]),
            bad,
            ToolResultMessage("c2", "weather", [TextContent("y")]),
        ],
        tools=[WEATHER],
    )
    contents = body(context, FLASH_25)["contents"]
    assert "thoughtSignature" not in str(contents)  # another model's, then malformed ones
    assert contents[1]["parts"][0] == {"text": "Hi."}


def test_gemini3_gets_the_placeholder_on_the_first_unsigned_call_of_a_step_only() -> None:
    foreign = AssistantMessage(
        [ToolCall("a", "weather", {"location": "A"}), ToolCall("b", "weather", {"location": "B"})],
        api="anthropic-messages",
        provider="anthropic",
        model="claude-sonnet-4-5",
        stop_reason="toolUse",
    )
    own = _assistant(
        ToolCall("c", "weather", {}, SIGNATURE), ToolCall("d", "weather", {}), model=FLASH_3, stop="toolUse"
    )
    results = [ToolResultMessage(i, "weather", [TextContent("ok")]) for i in ("a", "b")]
    context = Context(
        messages=[UserMessage("go"), foreign, *results, own, *[ToolResultMessage(i, "weather") for i in "cd"]],
        tools=[WEATHER],
    )
    contents = body(context, FLASH_3)["contents"]
    first_step, second_step = contents[1]["parts"], contents[3]["parts"]
    assert first_step[0]["thoughtSignature"] == SKIP_SIGNATURE and "thoughtSignature" not in first_step[1]
    assert second_step[0]["thoughtSignature"] == SIGNATURE and "thoughtSignature" not in second_step[1]
    # Gemini 2.5 does not validate signatures: no placeholder.
    assert SKIP_SIGNATURE not in str(body(context, FLASH_25))


def test_foreign_thinking_follows_the_handoff_and_blank_parts_are_skipped() -> None:
    foreign = AssistantMessage(
        [ThinkingContent("Claude thinks.", "sig"), TextContent("  "), TextContent("Answer.")],
        api="anthropic-messages",
        provider="anthropic",
        model="claude-sonnet-4-5",
    )
    context = Context(messages=[UserMessage("q"), foreign, UserMessage("more")])
    assert body(context)["contents"][1] == {"role": "model", "parts": [{"text": "Answer."}]}
    own_blank = _assistant(ThinkingContent("", SIGNATURE), TextContent("ok"))
    contents = body(Context(messages=[UserMessage("q"), own_blank, UserMessage("more")]))["contents"]
    assert contents[1]["parts"] == [{"thought": True, "text": "", "thoughtSignature": SIGNATURE}, {"text": "ok"}]


def test_tool_results_merge_into_one_turn_with_errors_and_images() -> None:
    calls = _assistant(
        ToolCall("c1", "weather", {"location": "A"}), ToolCall("c2", "weather", {"location": "B"}), stop="toolUse"
    )
    context = Context(
        messages=[
            UserMessage("both"),
            calls,
            ToolResultMessage("c1", "weather", [TextContent("line 1"), TextContent("line 2"), PNG]),
            ToolResultMessage("c2", "weather", [TextContent("failed")], is_error=True),
            UserMessage("thanks"),
        ],
        tools=[WEATHER],
    )
    contents = body(context, FLASH_25)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "user", "user"]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "weather", "response": {"output": "line 1\nline 2"}}},
        {"functionResponse": {"name": "weather", "response": {"error": "failed"}}},
    ]
    # Gemini 2.5 function responses hold JSON only: the image follows in a user turn.
    assert contents[3]["parts"] == [
        {"text": "Tool result image:"},
        {"inlineData": {"mimeType": "image/png", "data": PNG.data}},
    ]
    # Gemini 3 takes the image inside the function response.
    contents = body(context, FLASH_3)["contents"]
    assert contents[2]["parts"][0]["functionResponse"]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG.data}}
    ]
    assert [c["role"] for c in contents] == ["user", "model", "user", "user"]


def test_an_image_only_result_says_so() -> None:
    context = Context(
        messages=[
            UserMessage("shot"),
            _assistant(ToolCall("c1", "screenshot", {}), model=FLASH_3, stop="toolUse"),
            ToolResultMessage("c1", "screenshot", [PNG]),
        ],
        tools=[Tool("screenshot", "Takes one.")],
    )
    response = body(context, FLASH_3)["contents"][2]["parts"][0]["functionResponse"]
    assert response["response"] == {"output": "(see attached image)"} and len(response["parts"]) == 1


def test_ids_only_for_models_that_need_them() -> None:
    context = Context(
        messages=[
            UserMessage("go"),
            _assistant(ToolCall("call_1", "weather", {}), model=VERTEX_GPT_OSS, stop="toolUse"),
            ToolResultMessage("call_1", "weather", [TextContent("ok")]),
        ],
        tools=[WEATHER],
    )
    contents = body(context, VERTEX_GPT_OSS, api_key=KEY)["contents"]
    assert contents[1]["parts"][0]["functionCall"]["id"] == "call_1"
    assert contents[2]["parts"][0]["functionResponse"]["id"] == "call_1"
    contents = body(context, VERTEX_FLASH, api_key=KEY)["contents"]
    assert "id" not in contents[1]["parts"][0]["functionCall"]


def test_failed_turns_are_skipped_and_a_trailing_assistant_gets_a_user_turn() -> None:
    failed = _assistant(TextContent("half"), stop="error")
    done = _assistant(TextContent("Answer."))
    contents = body(Context(messages=[UserMessage("q"), failed, UserMessage("again"), done]))["contents"]
    assert [c["role"] for c in contents] == ["user", "user", "model", "user"]


# --------------------------------------------------------------------------- generation config and tools


def test_temperature_and_max_tokens() -> None:
    config = body(temperature=0.3, max_tokens=512)["generationConfig"]
    assert config == {"temperature": 0.3, "maxOutputTokens": 512}


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"thinking_enabled": True}, {"includeThoughts": True}),
        ({"thinking_enabled": True, "thinking_budget": 1024}, {"includeThoughts": True, "thinkingBudget": 1024}),
        ({"thinking_budget": -1}, {"includeThoughts": True, "thinkingBudget": -1}),
        ({"thinking_budget": 0}, {"includeThoughts": False, "thinkingBudget": 0}),
        ({"thinking_enabled": False, "thinking_budget": 0}, {"includeThoughts": False, "thinkingBudget": 0}),
        ({"thinking_level": "low"}, {"includeThoughts": True, "thinkingLevel": "LOW"}),
        ({"thinking_enabled": True, "thinking_level": "HIGH"}, {"includeThoughts": True, "thinkingLevel": "HIGH"}),
    ],
)
def test_thinking_config(given: dict[str, Any], sent: dict[str, Any]) -> None:
    assert body(model=FLASH_3, **given)["generationConfig"]["thinkingConfig"] == sent


def test_no_thinking_config_unless_asked_or_for_models_without_reasoning() -> None:
    assert "generationConfig" not in body(model=FLASH_3)
    assert "generationConfig" not in body(model=FLASH_3, thinking_enabled=False)
    plain = dataclasses.replace(FLASH_25, reasoning=False)
    assert "generationConfig" not in body(model=plain, thinking_enabled=True, thinking_budget=100)


def checked(model: Model = FLASH_3, context: Context = HELLO, **given: Any) -> None:
    """What a call checks before it returns a stream (options, then the provider's check_request)."""
    provider = vertex if model.api == "google-vertex" else gemini
    options = build_options("stream", model, provider, {"api_key": KEY, **given}, simple=False)
    provider.check_request(model, context, options)


def test_thinking_level_in_any_case_is_sent_upper_case() -> None:
    assert options(FLASH_3, thinking_level="HIGH").provider_options["thinking_level"] == "high"
    assert body(model=FLASH_3, thinking_level="Medium")["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "MEDIUM"


@pytest.mark.parametrize(
    ("model", "given", "error", "match"),
    [
        (FLASH_3, {"thinking_level": "extreme"}, ValueError, "option thinking_level must be one of"),
        (FLASH_3, {"thinking_level": 3}, ValueError, "option thinking_level must be one of"),
        (FLASH_3, {"thinking_budget": -2}, ValueError, "option thinking_budget must be an int >= -1, got -2"),
        (FLASH_3, {"thinking_budget": "10"}, TypeError, "option thinking_budget must be an int, got str"),
        (FLASH_3, {"thinking_enabled": "yes"}, TypeError, "option thinking_enabled must be True or False"),
        (FLASH_3, {"thinking_budget": 10, "thinking_level": "low"}, ValueError, "cannot be combined"),
        (FLASH_3, {"tool_choice": "sometimes"}, ValueError, "option tool_choice must be"),
        (FLASH_3, {"tool_choice": {"type": "tool"}}, ValueError, "option tool_choice must be"),
        (FLASH_3, {"tool_schema": "xml"}, ValueError, "option tool_schema must be one of 'json_schema', 'openapi'"),
        (FLASH_3, {"logprobs": False, "top_logprobs": 3}, ValueError, "top_logprobs=3 .* logprobs=False"),
        (FLASH_3, {"top_logprobs": 21}, ValueError, "option top_logprobs must be an int >= 0 and <= 20"),
        (FLASH_3, {"metadata": {"team": "a"}}, TypeError, "option 'metadata' cannot be sent to api 'google-generative-ai'"),
        (FLASH_3, {"parallel_tool_calls": True}, TypeError, "option 'parallel_tool_calls' cannot be sent"),
        (FLASH_3, {"thinking_level": "medium"}, None, None),
        (dataclasses.replace(FLASH_3, id="gemini-3-pro-preview", reasoning_options=()), {"thinking_level": "medium"},
         ValueError, "thinking_level must be one of 'low', 'high' for model"),
        (PRO_31, {"thinking_level": "minimal"}, ValueError, "one of 'low', 'medium', 'high' for model"),
        (FLASH_25, {"thinking_level": "low"}, ValueError, "thinking_level is for Gemini 3 models; .* takes thinking_budget"),
        (PRO_25, {"thinking_budget": 0}, ValueError, "thinking_budget=0 turns thinking off, which model .* cannot do"),
        (PRO_25, {"thinking_budget": 64}, ValueError, r"-1 \(dynamic\) or 128 to 32768 tokens for model google/gemini-2.5-pro"),
        (FLASH_25, {"thinking_budget": 30000}, ValueError, r"-1 \(dynamic\), 0 \(off\) or 0 to 24576 tokens"),
        (FLASH_25, {"thinking_budget": 0}, None, None),
        (PRO_25, {"thinking_budget": -1}, None, None),
        (dataclasses.replace(FLASH_25, compat={"tool_schema": "yaml"}), {}, ValueError, r"compat\['tool_schema'\]"),
    ],
)
def test_bad_options_raise_at_the_call(
    model: Model, given: dict[str, Any], error: type[Exception] | None, match: str | None
) -> None:
    if error is None:
        checked(model, **given)
        return
    with pytest.raises(error, match=match):
        checked(model, **given)


def test_canonical_options_go_to_the_generation_config() -> None:
    config = body(
        stop="END", top_p=0.9, top_k=40, seed=7, presence_penalty=0.5, frequency_penalty=-0.25, max_tokens=64
    )["generationConfig"]
    assert config == {
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "topP": 0.9,
        "topK": 40,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.25,
    }
    assert body(stop=["a", "b"])["generationConfig"] == {"stopSequences": ["a", "b"]}


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ({"logprobs": True}, {"responseLogprobs": True}),
        ({"logprobs": True, "top_logprobs": 5}, {"responseLogprobs": True, "logprobs": 5}),
        ({"top_logprobs": 3}, {"responseLogprobs": True, "logprobs": 3}),
        ({"top_logprobs": 0}, {"responseLogprobs": True}),
        ({"logprobs": False}, None),
    ],
)
def test_logprobs(given: dict[str, Any], sent: dict[str, Any] | None) -> None:
    assert body(**given).get("generationConfig") == sent


def test_extra_body_is_merged_last_and_extra_headers_win() -> None:
    request = build(
        temperature=0.5,
        headers={"x-team": "a"},
        extra_headers={"X-Team": "b", "x-extra": "1"},
        extra_body={"generationConfig": {"temperature": 0.1, "candidateCount": 1}, "cachedContent": "c/1"},
    )
    assert request.body["generationConfig"] == {"temperature": 0.1, "candidateCount": 1}
    assert request.body["cachedContent"] == "c/1"
    assert request.headers["X-Team"] == "b" and "x-team" not in request.headers and request.headers["x-extra"] == "1"
    assert request.headers["x-goog-api-key"] == KEY


def _thinking(level: str, include: bool = True, budget: int | None = None) -> dict[str, Any]:
    if budget is not None:
        return {"includeThoughts": include, "thinkingBudget": budget}
    return {"includeThoughts": include, "thinkingLevel": level}


FLASH_LITE_25 = get_model("google", "gemini-2.5-flash-lite")
SIMPLE_CASES = [
    (FLASH_3, None, None),
    (FLASH_3, "off", _thinking("MINIMAL", include=False)),
    (FLASH_3, "minimal", _thinking("MINIMAL")),
    (FLASH_3, "medium", _thinking("MEDIUM")),
    (FLASH_3, "xhigh", _thinking("HIGH")),
    (FLASH_3, "max", _thinking("HIGH")),
    (PRO_31, "off", _thinking("LOW", include=False)),
    (PRO_31, "minimal", _thinking("LOW")),
    (PRO_31, "low", _thinking("LOW")),
    (PRO_31, "medium", _thinking("MEDIUM")),
    (PRO_31, "xhigh", _thinking("HIGH")),
    (PRO_31, "max", _thinking("HIGH")),
    (PRO_25, "minimal", _thinking("", budget=128)),
    (PRO_25, "low", _thinking("", budget=2048)),
    (PRO_25, "medium", _thinking("", budget=8192)),
    (PRO_25, "high", _thinking("", budget=32768)),
    (PRO_25, "max", _thinking("", budget=32768)),
    (FLASH_25, "off", _thinking("", include=False, budget=0)),
    (FLASH_25, "minimal", _thinking("", budget=128)),
    (FLASH_25, "high", _thinking("", budget=24576)),
    (FLASH_25, "xhigh", _thinking("", budget=24576)),
    (FLASH_LITE_25, "off", _thinking("", include=False, budget=0)),
    (FLASH_LITE_25, "minimal", _thinking("", budget=512)),
    (get_model("google", "gemini-flash-latest"), "low", _thinking("", budget=-1)),
    (VERTEX_FLASH, "off", _thinking("", include=False, budget=0)),
    (VERTEX_FLASH, "medium", _thinking("", budget=8192)),
]


@pytest.mark.parametrize(("model", "level", "thinking"), SIMPLE_CASES, ids=lambda v: getattr(v, "id", str(v)))
def test_stream_simple_levels(model: Model, level: str | None, thinking: dict[str, Any] | None) -> None:
    where = {"project": "p", "location": "us-central1"} if model.api == "google-vertex" else {}
    config = body(model=model, simple=True, reasoning=level, api_key=KEY, **where)["generationConfig"]
    assert config.get("thinkingConfig") == thinking
    assert config["maxOutputTokens"] == min(model.max_tokens, 32000)


def test_off_raises_at_the_call_where_thinking_cannot_be_turned_off() -> None:
    for simple in (True, False):
        with pytest.raises(ValueError, match="reasoning 'off' is not available for model google/gemini-2.5-pro"):
            options(PRO_25, simple=simple, reasoning="off")


def test_stream_simple_custom_budgets_and_explicit_options_win() -> None:
    config = body(model=PRO_25, simple=True, reasoning="low", thinking_budgets={"low": 999})["generationConfig"]
    assert config["thinkingConfig"]["thinkingBudget"] == 999
    config = body(model=PRO_25, simple=True, reasoning="low", thinking_budget=256, max_tokens=100)["generationConfig"]
    assert config == {"maxOutputTokens": 100, "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 256}}
    config = body(model=FLASH_3, reasoning="high", thinking_level="low")["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "LOW"}
    config = body(model=FLASH_3, reasoning="high", thinking_enabled=False)["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": False, "thinkingLevel": "HIGH"}
    with pytest.raises(ValueError, match=r"thinking_budgets\['low'\] must be between 128 and 32768"):
        options(PRO_25, reasoning="low", thinking_budgets={"low": 5})
    plain = dataclasses.replace(FLASH_25, reasoning=False)
    assert "thinkingConfig" not in body(model=plain, simple=True, reasoning="high")["generationConfig"]


def test_tools_as_full_json_schema_by_default() -> None:
    result = body(Context(messages=[UserMessage("q")], tools=[WEATHER, Tool("noop", "Nothing.")]))
    assert result["tools"] == [
        {
            "functionDeclarations": [
                {"name": "weather", "description": "Weather for a location.", "parametersJsonSchema": WEATHER.parameters},
                {"name": "noop", "description": "Nothing.", "parametersJsonSchema": {"type": "object", "properties": {}}},
            ]
        }
    ]
    assert "toolConfig" not in result


def test_openapi_fallback_by_option_compat_flag_and_model_rule() -> None:
    context = Context(messages=[UserMessage("q")], tools=[WEATHER, Tool("noop", "Nothing.")])
    declarations = body(context, tool_schema="openapi")["tools"][0]["functionDeclarations"]
    assert declarations[0]["parameters"] == {
        "type": "OBJECT",
        "properties": {"location": {"type": "STRING"}, "unit": {"type": "STRING", "enum": ["c", "f"]}},
        "required": ["location"],
    }
    assert "parameters" not in declarations[1] and "parametersJsonSchema" not in declarations[1]
    marked = dataclasses.replace(FLASH_25, compat={"tool_schema": "openapi"})
    assert "parameters" in body(context, marked)["tools"][0]["functionDeclarations"][0]
    assert "parametersJsonSchema" in body(context, marked, tool_schema="json_schema")["tools"][0]["functionDeclarations"][0]
    assert tool_schema_mode(dataclasses.replace(FLASH_25, id="gemini-1.5-pro")) == "openapi"
    assert tool_schema_mode(dataclasses.replace(FLASH_25, id="gemini-pro")) == "openapi"
    assert tool_schema_mode(FLASH_25) == tool_schema_mode(PRO_31) == "json_schema"
    with pytest.raises(ValueError, match=r"compat\['tool_schema'\]"):
        tool_schema_mode(dataclasses.replace(FLASH_25, compat={"tool_schema": "yaml"}))


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("any", {"mode": "ANY"}),
        ("required", {"mode": "ANY"}),
        ({"type": "tool", "name": "weather"}, {"mode": "ANY", "allowedFunctionNames": ["weather"]}),
        ({"type": "function", "function": {"name": "weather"}}, {"mode": "ANY", "allowedFunctionNames": ["weather"]}),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    result = body(Context(messages=[UserMessage("q")], tools=[WEATHER]), tool_choice=choice)
    assert result["toolConfig"] == {"functionCallingConfig": config}


def test_tool_choice_without_tools_or_with_an_unknown_tool() -> None:
    assert "toolConfig" not in body(tool_choice="any")
    with pytest.raises(ValueError, match="names tool 'nope', which is not in the context's tools: 'weather'"):
        alchemy.stream(FLASH_25, Context(messages=[UserMessage("q")], tools=[WEATHER]), api_key=KEY,
                       tool_choice={"type": "tool", "name": "nope"})


# --------------------------------------------------------------------------- schema conversion

# What a Pydantic model with a nested model, an optional field, a literal and an
# enum of integers gives (model_json_schema()), with additionalProperties from
# extra="forbid".
PYDANTIC_SCHEMA: dict[str, Any] = {
    "$defs": {
        "Address": {
            "additionalProperties": False,
            "properties": {
                "street": {"title": "Street", "type": "string"},
                "city": {"title": "City", "type": "string"},
                "kind": {"const": "home", "title": "Kind", "type": "string"},
            },
            "required": ["street", "city", "kind"],
            "title": "Address",
            "type": "object",
        },
        "Priority": {"enum": [1, 2, 3], "title": "Priority", "type": "integer"},
    },
    "additionalProperties": False,
    "properties": {
        "name": {"description": "Full name", "title": "Name", "type": "string"},
        "address": {"$ref": "#/$defs/Address", "description": "Where they live"},
        "backup": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}], "default": None},
        "priority": {"$ref": "#/$defs/Priority"},
        "tags": {"items": {"type": "string"}, "title": "Tags", "type": "array", "uniqueItems": True},
        "email": {"format": "email", "type": ["string", "null"]},
        "when": {"format": "date-time", "type": "string"},
        "score": {"anyOf": [{"type": "integer"}, {"type": "string"}], "exclusiveMinimum": 0},
        "meta": {"additionalProperties": {"type": "string"}, "type": "object"},
    },
    "required": ["name", "address", "missing-from-properties"],
    "title": "Person",
    "type": "object",
    "$schema": "https://json-schema.org/draft/2020-12/schema",
}

# An MCP-style tool schema (a filesystem edit tool) and a recursive tree.
MCP_EDIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "edits": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"oldText": {"type": "string"}, "newText": {"type": "string"}},
                "required": ["oldText", "newText"],
                "additionalProperties": False,
            },
        },
        "dryRun": {"type": "boolean", "default": False, "description": "Preview changes"},
    },
    "required": ["path", "edits"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
TREE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"root": {"$ref": "#/definitions/Node"}},
    "definitions": {
        "Node": {
            "type": "object",
            "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}}},
            "allOf": [{"properties": {"weight": {"type": "number", "format": "double"}}, "required": ["weight"]}],
        }
    },
}

ALLOWED_KEYS = {
    "type", "format", "title", "description", "nullable", "enum", "items", "properties", "required",
    "propertyOrdering", "anyOf", "default", "example", "minimum", "maximum", "minItems", "maxItems",
    "minLength", "maxLength", "minProperties", "maxProperties", "pattern",
}  # fmt: skip
ALLOWED_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"}


def _check_subset(schema: Any, path: str = "$") -> None:
    """Every keyword is one the OpenAPI subset knows, every type is spelled as it wants."""
    assert isinstance(schema, dict), path
    assert set(schema) <= ALLOWED_KEYS, f"{path}: {set(schema) - ALLOWED_KEYS}"
    if "type" in schema:
        assert schema["type"] in ALLOWED_TYPES, path
    for name, child in schema.get("properties", {}).items():
        _check_subset(child, f"{path}.{name}")
    if "items" in schema:
        _check_subset(schema["items"], f"{path}[]")
    for i, child in enumerate(schema.get("anyOf", [])):
        _check_subset(child, f"{path}|{i}")
    if "enum" in schema:
        assert all(isinstance(v, str) for v in schema["enum"])


def test_pydantic_schema_with_refs_any_of_and_additional_properties() -> None:
    result = openapi_schema(PYDANTIC_SCHEMA)
    _check_subset(result)
    address = {
        "type": "OBJECT",
        "title": "Address",
        "properties": {
            "street": {"type": "STRING", "title": "Street"},
            "city": {"type": "STRING", "title": "City"},
            "kind": {"type": "STRING", "title": "Kind", "enum": ["home"]},
        },
        "required": ["street", "city", "kind"],
    }
    props = result["properties"]
    assert result["type"] == "OBJECT" and result["title"] == "Person"
    assert result["required"] == ["name", "address"]
    assert props["address"] == {**address, "description": "Where they live"}
    assert props["backup"] == {**address, "default": None, "nullable": True}
    assert props["priority"] == {"type": "INTEGER", "title": "Priority", "description": "(one of: 1, 2, 3)"}
    assert props["tags"] == {"type": "ARRAY", "title": "Tags", "items": {"type": "STRING"}}
    assert props["email"] == {"type": "STRING", "nullable": True, "description": "(format: email)"}
    assert props["when"] == {"type": "STRING", "format": "date-time"}
    assert props["score"] == {"anyOf": [{"type": "INTEGER"}, {"type": "STRING"}]}
    assert props["meta"] == {"type": "OBJECT"}


def test_mcp_tool_schema_and_a_recursive_tree() -> None:
    edit = openapi_schema(MCP_EDIT_SCHEMA)
    _check_subset(edit)
    assert edit["properties"]["edits"]["items"]["required"] == ["oldText", "newText"]
    assert edit["properties"]["dryRun"] == {"type": "BOOLEAN", "default": False, "description": "Preview changes"}
    tree = openapi_schema(TREE_SCHEMA)
    _check_subset(tree)
    node = tree["properties"]["root"]
    assert set(node["properties"]) == {"label", "children", "weight"} and node["required"] == ["weight"]
    assert node["properties"]["weight"] == {"type": "NUMBER", "format": "double"}
    recursive = node["properties"]["children"]["items"]
    assert recursive["type"] == "OBJECT" and "recursive reference to Node" in recursive["description"]


def test_schema_edge_cases() -> None:
    assert openapi_schema({"type": "object", "properties": {"x": True}}) == {"type": "OBJECT", "properties": {"x": {}}}
    assert openapi_schema({"properties": {"a": {"type": "null"}}})["properties"]["a"] == {"nullable": True}
    assert openapi_schema({"$ref": "#/$defs/Missing"})["description"] == "(unresolved reference #/$defs/Missing)"
    multi = openapi_schema({"type": ["string", "integer", "null"], "description": "id"})
    assert multi == {"description": "id", "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "nullable": True}
    assert openapi_schema({"const": 3}) == {"description": "(must be 3)"}
    assert openapi_schema({"type": "array", "prefixItems": [{"type": "string"}]})["items"] == {"type": "STRING"}
    assert openapi_schema({"examples": ["a"], "type": "string", "format": "uri"}) == {
        "type": "STRING",
        "example": "a",
        "description": "(format: uri)",
    }
    # The input is never modified.
    before = orjson.dumps(PYDANTIC_SCHEMA)
    openapi_schema(PYDANTIC_SCHEMA)
    assert orjson.dumps(PYDANTIC_SCHEMA) == before


# --------------------------------------------------------------------------- the parser


def parse(
    wire: bytes, sizes: Iterator[int] | None = None, model: Model = FLASH_3, provider: Any = gemini
) -> tuple[list[Any], AssistantMessage]:
    """Feeds ``wire`` to a fresh parser in pieces of ``sizes`` (default: one piece); returns the events."""
    return run_parser(provider, model, wire, sizes)


def stream(*payloads: dict[str, Any], model: Model = FLASH_3) -> AssistantMessage:
    return parse(wire_bytes(list(payloads)), model=model)[1]


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "google"
    return sorted(folder.glob("google-*.chunks.txt")) if folder.is_dir() else []


def _sizes(kind: str) -> Iterator[int] | None:
    if kind == "whole":
        return None
    if kind.startswith("bytes="):
        size = int(kind.removeprefix("bytes="))
        return iter(lambda: size, 0)
    rng = random.Random(kind)
    return iter(lambda: rng.randint(1, 64), 0)


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name.removesuffix(".chunks.txt"))
@pytest.mark.parametrize("chunking", ["whole", "bytes=1", "bytes=7", "random"])
def test_every_fixture_at_every_chunking(twins: None, path: Path, chunking: str) -> None:
    support.require_shared()
    _, message = parse(wire_bytes(fixture_payloads(path)), _sizes(chunking))
    expected_from_fixture(path).check(message, FLASH_3)


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name.removesuffix(".chunks.txt"))
def test_every_fixture_through_the_vertex_parser(twins: None, path: Path) -> None:
    support.require_shared()
    model = get_model("google-vertex", "gemini-3-flash-preview")
    _, message = parse(wire_bytes(fixture_payloads(path)), _sizes("random"), model, vertex)
    expected_from_fixture(path).check(message, model)


def test_fixture_expectations_are_what_the_recordings_say() -> None:
    """A few values read off the recordings by hand, so the oracle is checked too."""
    support.require_shared()
    folder = support.FIXTURES / "google"
    reasoning = expected_from_fixture(folder / "google-reasoning-gemini3.chunks.txt")
    assert reasoning.blocks[0][1] == 'There are **3** "r"s in strawberry.\n\nSt**r**awbe**rr**y'
    assert reasoning.blocks[0][2].startswith("EpAICo0IAb4")
    assert reasoning.usage == {"input": 9, "output": 325, "cache_read": 0, "reasoning": 302, "total": 334}
    streamed = expected_from_fixture(
        folder / "google-stream-tool-call-array-arguments-missing-terminal-function-call.chunks.txt"
    )
    assert streamed.blocks[0][1:3] == (
        "writeItems",
        {
            "operations": [
                {"action": "add", "description": "Fresh red apple", "itemid": "apple_001", "price": 0.5},
                {"action": "add", "description": "Ripe yellow banana", "itemid": "banana_001", "price": 0.3},
            ]
        },
    )
    no_args = expected_from_fixture(folder / "google-stream-no-args-tool-call.chunks.txt")
    assert [b[0] for b in no_args.blocks] == ["thinking", "tool", "tool", "tool", "tool"]
    assert [b[2] for b in no_args.blocks[1:]] == [{}, {"id": "A"}, {"id": "B"}, {"id": "C"}]
    assert no_args.stop_reason == "toolUse"


def test_streamed_arguments_stream_as_json_deltas(twins: None) -> None:
    support.require_shared()
    path = support.FIXTURES / "google" / "google-stream-tool-call-array-arguments-missing-terminal-function-call.chunks.txt"
    events, message = parse(wire_bytes(fixture_payloads(path)), _sizes("bytes=5"))
    deltas = [e.delta for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) > 5  # the arguments grew piece by piece, not in one delta
    assert orjson.loads("".join(deltas)) == message.content[0].arguments  # type: ignore[union-attr]


def test_interactions_api_recordings_are_not_generate_content() -> None:
    support.require_shared()
    path = support.FIXTURES / "google" / "basic.chunks.txt"
    payloads = fixture_payloads(path)
    assert all("event_type" in p for p in payloads)
    _, message = parse(wire_bytes(payloads))
    assert message.stop_reason == "error" and "before a finishReason arrived" in (message.error_message or "")


def _chunk(*parts: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


def test_text_thinking_and_signatures_stay_on_their_blocks() -> None:
    message = stream(
        _chunk({"text": "Hmm", "thought": True}),
        _chunk({"text": "...", "thought": True, "thoughtSignature": "c2ln"}),
        _chunk({"text": "Hello", "thoughtSignature": SIGNATURE}),
        _chunk({"text": " world"}),  # no signature: the block keeps its own
        _chunk({"text": "", "thoughtSignature": "bmV3"}, finish="STOP"),
    )
    assert message.content == [ThinkingContent("Hmm...", "c2ln"), TextContent("Hello world", "bmV3")]
    assert message.stop_reason == "stop"


def _with_logprobs(chunk: dict[str, Any], chosen: list[tuple[str, float]], top: list[list[tuple[str, float]]]) -> dict[str, Any]:
    def candidate(token: str, logprob: float) -> dict[str, Any]:
        out: dict[str, Any] = {"token": token, "tokenId": 7}
        if logprob:  # proto JSON leaves a zero out
            out["logProbability"] = logprob
        return out

    chunk["candidates"][0]["logprobsResult"] = {
        "chosenCandidates": [candidate(*pair) for pair in chosen],
        "topCandidates": [{"candidates": [candidate(*pair) for pair in step]} for step in top],
    }
    return chunk


def test_logprobs_arrive_on_the_message_step_by_step() -> None:
    payloads = [
        _with_logprobs(_chunk({"text": "Hi"}), [("Hi", -0.25)], [[("Hi", -0.25), ("Hello", -1.5)]]),
        _with_logprobs(_chunk({"text": " there"}, finish="STOP"), [(" there", 0.0)], [[(" there", 0.0)]]),
    ]
    message = stream(*payloads)
    assert message.logprobs == [
        TokenLogprob("Hi", -0.25, (("Hi", -0.25), ("Hello", -1.5))),
        TokenLogprob(" there", 0.0, ((" there", 0.0),)),
    ]
    expected_from_payloads(payloads).check(message, FLASH_3)
    chosen_only = stream(_with_logprobs(_chunk({"text": "x"}, finish="STOP"), [("x", -2.0)], []))
    assert chosen_only.logprobs == [TokenLogprob("x", -2.0)]
    assert stream(_chunk({"text": "x"}, finish="STOP")).logprobs is None
    assert AssistantMessage.from_dict(message.to_dict()).logprobs == message.logprobs


def test_logprobs_of_an_unexpected_shape_are_a_clear_error() -> None:
    bad = _chunk({"text": "kept"})
    bad["candidates"][0]["logprobsResult"] = {"chosenCandidates": [{"token": "kept", "logProbability": "high"}]}
    message = stream(bad)
    assert message.stop_reason == "error" and message.text == "kept"
    assert "logprobs candidate" in (message.error_message or "")


def test_a_signature_with_no_open_block_opens_an_empty_one() -> None:
    message = stream(
        _chunk({"functionCall": {"name": "weather", "args": {}}}),
        _chunk({"thoughtSignature": SIGNATURE}, finish="STOP"),
    )
    assert message.content[1] == TextContent("", SIGNATURE) and message.stop_reason == "toolUse"


def test_tool_call_ids_generated_unique_and_server_ids_kept() -> None:
    message = stream(
        _chunk({"functionCall": {"name": "a.b", "args": {"x": 1}}}, {"functionCall": {"name": "a.b"}}),
        _chunk({"functionCall": {"name": "c", "id": "srv-1", "args": {}}}),
        _chunk({"functionCall": {"name": "c", "id": "srv-1", "args": {}}}, finish="STOP"),
    )
    ids = [block.id for block in message.content if isinstance(block, ToolCall)]
    assert len(set(ids)) == 4 and ids[2] == "srv-1" and ids[3] != "srv-1"
    assert ids[0].startswith("a_b_") and ids[0].endswith("_1")
    assert message.content[1].arguments == {}  # type: ignore[union-attr]


def test_usage_takes_cached_tokens_out_of_input_and_counts_thoughts_once() -> None:
    meta = {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 600,
        "candidatesTokenCount": 50,
        "thoughtsTokenCount": 200,
        "toolUsePromptTokenCount": 30,
        "totalTokenCount": 1280,
    }
    message = stream(_chunk({"text": "ok"}, finish="STOP", usageMetadata=meta), model=FLASH_25)
    usage = message.usage
    assert (usage.input, usage.output, usage.cache_read, usage.reasoning, usage.total_tokens) == (430, 250, 600, 200, 1280)
    cost = FLASH_25.cost
    assert cost.input is not None and cost.output is not None and cost.cache_read is not None
    assert usage.cost.input == pytest.approx(430 * cost.input / 1e6)
    assert usage.cost.cache_read == pytest.approx(600 * cost.cache_read / 1e6)
    assert usage.cost.output == pytest.approx(250 * cost.output / 1e6)


def test_usage_is_kept_when_the_stream_fails_and_counts_without_tokens_are_ignored() -> None:
    message = stream(
        _chunk({"text": "partial"}, usageMetadata={"trafficType": "ON_DEMAND"}),
        _chunk({"text": "!"}, usageMetadata={"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7}),
    )
    assert message.stop_reason == "error" and message.text == "partial!"
    assert (message.usage.input, message.usage.output) == (5, 2)


def test_running_usage_trails_by_less_than_a_step_and_is_exact_at_the_end() -> None:
    running = [
        _chunk({"text": "x"}, usageMetadata={"promptTokenCount": 10, "candidatesTokenCount": n, "totalTokenCount": 10 + n})
        for n in range(1, 200)
    ]
    price = FLASH_25.cost.output
    assert price is not None
    failed = stream(*running, model=FLASH_25)  # no finishReason: ends with an error
    assert failed.stop_reason == "error" and 199 - USAGE_STEP < failed.usage.output <= 199
    assert failed.usage.cost.output == pytest.approx(failed.usage.output * price / 1e6)  # counts and cost agree
    finished = stream(*running, _chunk(finish="STOP"), model=FLASH_25)
    assert finished.usage.output == 199 and finished.usage.cost.output == pytest.approx(199 * price / 1e6)
    late = stream(
        _chunk({"text": "a"}, finish="STOP"),
        {"usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 1, "totalTokenCount": 8}},
    )
    assert (late.usage.input, late.usage.output, late.stop_reason) == (7, 1, "stop")


@pytest.mark.parametrize("reason", sorted(FINISH_REASON_ERRORS))
def test_failure_finish_reasons_end_with_an_error_naming_them(reason: str) -> None:
    message = stream(_chunk({"text": "cut"}, finish=reason, usageMetadata={"promptTokenCount": 3, "totalTokenCount": 3}))
    assert message.stop_reason == "error" and message.text == "cut" and message.usage.input == 3
    assert f"finishReason {reason}" in (message.error_message or "")


def test_finish_message_and_unknown_reasons() -> None:
    message = stream({"candidates": [{"finishReason": "SAFETY", "finishMessage": "Harassment."}]})
    assert message.error_message == (
        "Gemini ended the response with finishReason SAFETY: the response was blocked by the safety filters "
        "(Harassment.)"
    )
    assert "finishReason NEW_REASON" in (stream(_chunk(finish="NEW_REASON")).error_message or "")


def test_max_tokens_is_length_or_tool_use() -> None:
    assert stream(_chunk({"text": "long"}, finish="MAX_TOKENS")).stop_reason == "length"
    whole_call = stream(_chunk({"functionCall": {"name": "f", "args": {}}}, finish="MAX_TOKENS"))
    assert whole_call.stop_reason == "toolUse"
    cut_call = stream(
        _chunk({"functionCall": {"name": "f", "willContinue": True}}),
        _chunk({"functionCall": {"partialArgs": [{"jsonPath": "$.q", "stringValue": "par", "willContinue": True}], "willContinue": True}}),
        _chunk(finish="MAX_TOKENS"),
    )
    assert cut_call.stop_reason == "length" and cut_call.content[0].arguments == {"q": "par"}  # type: ignore[union-attr]


def test_blocked_prompt() -> None:
    message = stream({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": "No."}})
    assert message.stop_reason == "error"
    assert message.error_message == "Gemini blocked the prompt (blockReason PROHIBITED_CONTENT): No."


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        ({"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}, True),
        ({"code": 429, "message": "Quota.", "status": "RESOURCE_EXHAUSTED"}, True),
        ({"code": 400, "message": "Bad.", "status": "INVALID_ARGUMENT"}, False),
    ],
)
def test_errors_inside_the_stream(error: dict[str, Any], retryable: bool) -> None:
    emitter = EventEmitter(new_partial(FLASH_3))
    parser = gemini.create_parser(FLASH_3, StreamOptions(), emitter)
    parser.feed(wire_bytes([_chunk({"text": "so far"})]))
    with pytest.raises(ProviderError) as caught:
        parser.feed(wire_bytes([{"error": error}]))
    assert caught.value.retryable is retryable
    assert str(caught.value) == f"Gemini error {error['code']} {error['status']}: {error['message']}"
    assert emitter.message.text == "so far"


def test_a_body_that_ends_without_a_finish_reason_is_interrupted() -> None:
    events, message = parse(wire_bytes([_chunk({"text": "half"})]))
    assert message.stop_reason == "error" and message.text == "half"
    assert "before a finishReason arrived" in (message.error_message or "")
    emitter = EventEmitter(new_partial(FLASH_3))
    parser = gemini.create_parser(FLASH_3, StreamOptions(), emitter)
    with pytest.raises(StreamInterruptedError):
        parser.finish()


@pytest.mark.parametrize("data", [b'data: {"candidates": [\r\n\r\n', b"data: [1, 2]\r\n\r\n", b'data: {"a": "\xff"}\r\n\r\n'])
def test_bad_json_is_a_clear_interruption(data: bytes) -> None:
    _, message = parse(wire_bytes([_chunk({"text": "kept"})]) + data)
    assert message.stop_reason == "error" and message.text == "kept"
    assert "Gemini sent an event that is not" in (message.error_message or "")


@pytest.mark.parametrize(
    "payload",
    [
        {"candidates": "x"},
        {"candidates": [{"content": {"parts": ["oops"]}}]},
        {"candidates": [{"content": {"parts": [{"text": 5}]}}]},
        {"candidates": [{"content": {"parts": [{"text": "", "thoughtSignature": 5}]}}]},
    ],
)
def test_events_of_an_unexpected_shape_are_clear_errors(payload: dict[str, Any]) -> None:
    message = stream(_chunk({"text": "kept"}), payload)
    assert message.stop_reason == "error" and message.text == "kept"
    assert "Gemini sent an event of an unexpected shape" in (message.error_message or "")


def test_function_call_with_arguments_that_are_not_an_object() -> None:
    message = stream(_chunk({"functionCall": {"name": "f", "args": [1]}}))
    assert message.stop_reason == "error" and "not a JSON object" in (message.error_message or "")


# --------------------------------------------------------------------------- streamed function-call arguments


def _partial(path: str, continues: bool = False, **value: Any) -> dict[str, Any]:
    return {"jsonPath": path, **value, **({"willContinue": True} if continues else {})}


def _assemble(*partials: dict[str, Any]) -> tuple[str, PartialArguments]:
    assembler = PartialArguments()
    text = "".join(assembler.add(p) for p in partials) + assembler.finish()
    return text, assembler


def test_partial_arguments_in_document_order_spell_the_value() -> None:
    text, assembler = _assemble(
        _partial("$.query", True, stringValue='say "hi'),
        _partial("$.query", stringValue='"\n'),
        _partial("$.limit", numberValue=5),
        _partial("$.filters[0].field", stringValue="a"),
        _partial("$.filters[0].on", boolValue=True),
        _partial("$.filters[2].field", nullValue="NULL_VALUE"),
        _partial("$['odd key'].x", numberValue=1.5),
        _partial('$["deep"].list[0][1]', stringValue="z"),
    )
    value = {
        "query": 'say "hi"\n',
        "limit": 5,
        "filters": [{"field": "a", "on": True}, None, {"field": None}],
        "odd key": {"x": 1.5},
        "deep": {"list": [[None, "z"]]},
    }
    assert assembler.value == value and assembler.in_order
    assert orjson.loads(text) == value


_JSON_LEAVES = (
    st.text(max_size=12)
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.booleans()
    | st.none()
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, min_size=1, max_size=4)
    | st.dictionaries(st.text(min_size=1, max_size=6), inner, min_size=1, max_size=4),
    max_leaves=20,
)


def _leaf_paths(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every leaf of ``value`` with its JSONPath, in document order (Vertex's order)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, f"{path}[{orjson.dumps(key).decode()}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaf_paths(item, f"{path}[{index}]")
    else:
        yield path, value


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), _JSON_VALUES, min_size=1, max_size=5), st.randoms())
def test_partial_arguments_rebuild_any_object_sent_in_order(arguments: dict[str, Any], rng: random.Random) -> None:
    partials = []
    for path, value in _leaf_paths(arguments, "$"):
        if isinstance(value, str) and value:
            cuts = sorted(rng.sample(range(len(value) + 1), min(len(value), 2)))
            pieces = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)])]
            for i, piece in enumerate(pieces):
                partials.append(_partial(path, i < len(pieces) - 1, stringValue=piece))
        elif isinstance(value, str):
            partials.append(_partial(path, stringValue=""))
        elif value is None:
            partials.append(_partial(path, nullValue="NULL_VALUE"))
        elif isinstance(value, bool):
            partials.append(_partial(path, boolValue=value))
        else:
            partials.append(_partial(path, numberValue=value))
    text, assembler = _assemble(*partials)
    assert assembler.value == arguments and assembler.in_order
    assert orjson.loads(text) == arguments


def test_partial_arguments_out_of_order_keep_the_exact_value() -> None:
    text, assembler = _assemble(
        _partial("$.a.x", numberValue=1), _partial("$.b", numberValue=2), _partial("$.a.y", numberValue=3)
    )
    assert assembler.value == {"a": {"x": 1, "y": 3}, "b": 2} and not assembler.in_order
    assert text == '{"a":{"x":1},"b":2'  # stopped where the order broke


def test_whole_arguments_sent_with_a_streamed_call_win() -> None:
    assembler = PartialArguments()
    assert assembler.whole({"a": [1]}) == '{"a":[1]}' and assembler.finish() == ""
    assembler = PartialArguments()
    assert assembler.add(_partial("$.a", numberValue=1)) == '{"a":1'
    assert assembler.whole({"a": 2}) == "" and assembler.add(_partial("$.b", numberValue=3)) == ""
    assert assembler.value == {"a": 2, "b": 3} and assembler.finish() == ""
    message = stream(
        _chunk({"functionCall": {"name": "f", "willContinue": True}}),
        _chunk({"functionCall": {"args": {"q": "all"}}}, finish="STOP"),
    )
    assert message.tool_calls[0].arguments == {"q": "all"} and message.stop_reason == "toolUse"


def test_empty_streamed_arguments_and_bad_paths() -> None:
    text, assembler = _assemble()
    assert text == "{}" and assembler.value == {}
    assert parse_json_path("$") == ()
    with pytest.raises(ValueError, match="must start with"):
        parse_json_path("a.b")
    with pytest.raises(ValueError, match="unsupported JSONPath"):
        parse_json_path("$.a[*]")
    with pytest.raises(ValueError, match="arguments object"):
        PartialArguments().add(_partial("$[0]", numberValue=1))
    with pytest.raises(ValueError, match="no jsonPath"):
        PartialArguments().add({"stringValue": "x"})


def test_streamed_call_errors_and_edges_in_the_parser() -> None:
    orphan = stream(_chunk({"functionCall": {"partialArgs": [_partial("$.a", numberValue=1)]}}))
    assert orphan.stop_reason == "error" and "no function call to add them to" in (orphan.error_message or "")
    bad_path = stream(
        _chunk({"functionCall": {"name": "f", "willContinue": True}}),
        _chunk({"functionCall": {"partialArgs": [_partial("$..x", numberValue=1)], "willContinue": True}}),
    )
    assert bad_path.stop_reason == "error" and "cannot place" in (bad_path.error_message or "")
    # A text part or a new named call closes a streamed call; a later signature lands on it.
    message = stream(
        _chunk({"functionCall": {"name": "f", "willContinue": True}}),
        _chunk({"functionCall": {"partialArgs": [_partial("$.a", numberValue=1)], "willContinue": True}, "thoughtSignature": SIGNATURE}),
        _chunk({"functionCall": {"name": "g", "partialArgs": [_partial("$.b", boolValue=False)]}}),
        _chunk({"text": "done"}, finish="STOP"),
    )
    calls = message.tool_calls
    assert [(c.name, c.arguments, c.thought_signature) for c in calls] == [
        ("f", {"a": 1}, SIGNATURE),
        ("g", {"b": False}, None),
    ]
    assert message.text == "done" and message.stop_reason == "toolUse"


def test_expected_from_payloads_agrees_on_hand_made_streams() -> None:
    payloads = [
        _chunk({"text": "a", "thought": True}),
        _chunk({"functionCall": {"name": "f", "willContinue": True}, "thoughtSignature": SIGNATURE}),
        _chunk({"functionCall": {"partialArgs": [_partial("$.s", True, stringValue="x")], "willContinue": True}}),
        _chunk({"functionCall": {"partialArgs": [_partial("$.s", stringValue="y")]}}),
        _chunk({"text": "b"}, finish="STOP", usageMetadata={"promptTokenCount": 4, "totalTokenCount": 4}, responseId="r1"),
    ]
    expected = expected_from_payloads(payloads)
    expected.check(parse(wire_bytes(payloads), _sizes("bytes=3"))[1], FLASH_3)
    assert expected.blocks[1] == ("tool", "f", {"s": "xy"}, SIGNATURE)


# --------------------------------------------------------------------------- Vertex AI: endpoints and auth


def vertex_options(model: Model = VERTEX_FLASH, **given: Any) -> StreamOptions:
    return build_options("stream", model, vertex, given, simple=False)


def test_vertex_api_key_with_project_and_location_uses_the_regional_endpoint() -> None:
    request = vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(api_key=KEY, project="my-proj", location="europe-west4"))
    assert request.url == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4/"
        "publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == KEY and KEY not in request.url and request.secrets == (KEY,)


def test_vertex_api_key_alone_is_express_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_API_KEY", KEY)
    request = vertex.build_request(VERTEX_FLASH, HELLO, vertex_options())
    assert request.url == (
        "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == KEY


def test_vertex_settings_from_the_environment_global_location_and_publishers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "global")
    request = vertex.build_request(VERTEX_GPT_OSS, HELLO, vertex_options(VERTEX_GPT_OSS, api_key=KEY))
    assert request.url == (
        "https://aiplatform.googleapis.com/v1/projects/env-proj/locations/global/"
        "publishers/openai/models/gpt-oss-120b-maas:streamGenerateContent?alt=sse"
    )
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-east5")
    assert vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(api_key=KEY)).url.startswith(
        "https://us-east5-aiplatform.googleapis.com/v1/projects/env-proj/locations/us-east5/publishers/google/"
    )
    custom = dataclasses.replace(VERTEX_FLASH, base_url="http://127.0.0.1:8/")
    url = vertex.build_request(custom, HELLO, vertex_options(custom, api_key=KEY)).url
    assert url.startswith("http://127.0.0.1:8/v1/projects/env-proj/locations/us-east5/")


@pytest.mark.parametrize(
    ("given", "error", "match"),
    [
        ({"location": "us central"}, ValueError, "option location is not a valid Vertex AI location"),
        ({"project": "a/b", "location": "us-central1"}, ValueError, "not a valid Vertex AI project"),
        ({"project": 3, "location": "us-central1"}, TypeError, "option project must be a string"),
        ({"stream_tool_arguments": "yes", "project": "p", "location": "us-central1"}, TypeError, "must be True or False"),
        ({"credentials": "a-key-file.json", "location": "us-central1"}, TypeError, "google-auth credentials object"),
        ({"metadata": {"Team": "a"}}, ValueError, "metadata key 'Team' is not a Vertex AI label key"),
        ({"metadata": {"team": "A B"}}, ValueError, r"metadata\['team'\] is not a Vertex AI label value"),
        ({"metadata": {"team": 1}}, TypeError, r"metadata\['team'\] must be a string"),
        ({"metadata": {f"k{i}": "" for i in range(65)}}, ValueError, "at most 64, got 65"),
    ],
)
def test_vertex_bad_settings_raise_at_the_call(given: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        alchemy.stream(VERTEX_FLASH, HELLO, api_key=KEY, **given)


def test_vertex_sends_metadata_as_labels() -> None:
    labels = {"team": "search", "env": "", "équipe": "été-1"}
    result = vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(api_key=KEY, metadata=labels)).body
    assert result["labels"] == labels
    assert "labels" not in vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(api_key=KEY)).body


def test_vertex_without_key_or_location_names_what_is_missing() -> None:
    with pytest.raises(MissingConfigurationError, match="GOOGLE_CLOUD_LOCATION") as caught:
        vertex.build_request(VERTEX_FLASH, HELLO, vertex_options())
    assert "location=" in str(caught.value) and "GOOGLE_CLOUD_API_KEY" in str(caught.value)


def test_vertex_without_adc_names_the_ways_to_authenticate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("google.auth")
    from alchemy.providers import _vertex_auth

    _vertex_auth.clear_cache()
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(MissingConfigurationError, match="Application Default Credentials") as caught:
        vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(project="p", location="us-central1"))
    assert "GOOGLE_CLOUD_API_KEY" in str(caught.value) and "api_key=" in str(caught.value)


def test_vertex_without_google_auth_installed_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "alchemy.providers._vertex_auth", raising=False)
    monkeypatch.setitem(sys.modules, "google.auth", None)  # makes the import fail
    with pytest.raises(MissingConfigurationError, match=r"pip install 'alchemy-llm\[vertex\]'"):
        vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(project="p", location="us-central1"))


def test_stream_tool_arguments_asks_vertex_to_stream_them() -> None:
    context = Context(messages=[UserMessage("q")], tools=[WEATHER])
    result = vertex.build_request(
        VERTEX_FLASH, context, vertex_options(api_key=KEY, stream_tool_arguments=True, tool_choice="any")
    ).body
    assert result["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "streamFunctionCallArguments": True}}
    plain = vertex.build_request(VERTEX_FLASH, context, vertex_options(api_key=KEY, stream_tool_arguments=True)).body
    assert plain["toolConfig"] == {"functionCallingConfig": {"streamFunctionCallArguments": True}}
    assert "toolConfig" not in vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(api_key=KEY, stream_tool_arguments=True)).body


class FakeCredentials:
    """A google-auth credentials object as alchemy uses it: valid, refresh, apply, token."""

    def __init__(self, project_id: str | None = "cred-proj") -> None:
        self.token: str | None = None
        self.expiry_at = 0.0
        self.refreshes = 0
        self.project_id = project_id
        self.refreshed_in: list[int] = []

    @property
    def valid(self) -> bool:
        return self.token is not None and time.monotonic() < self.expiry_at

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.refreshed_in.append(threading.get_ident())
        self.token = f"ya29.fake-{self.refreshes}"
        self.expiry_at = time.monotonic() + 3600

    def apply(self, headers: dict[str, str], token: str | None = None) -> None:
        headers["authorization"] = f"Bearer {token or self.token}"


def authorized(request: HttpRequest) -> HttpRequest:
    """What the runner sends for one attempt: the request through its auth step."""
    assert request.auth is not None, "an ADC request carries its credentials as its auth step"
    return request.auth.apply(request)


def test_vertex_with_injected_credentials_refreshes_once_and_redacts_the_token() -> None:
    pytest.importorskip("google.auth")  # a credentials object comes from google-auth
    credentials = FakeCredentials()
    given = vertex_options(credentials=credentials, location="us-central1")
    request = vertex.build_request(VERTEX_FLASH, HELLO, given)
    assert credentials.refreshes == 0 and "authorization" not in request.headers  # added per attempt
    first = authorized(request)
    second = authorized(vertex.build_request(VERTEX_FLASH, HELLO, given))
    assert credentials.refreshes == 1
    assert first.headers["authorization"] == second.headers["authorization"] == "Bearer ya29.fake-1"
    assert "/projects/cred-proj/locations/us-central1/" in first.url
    assert first.secrets == ("ya29.fake-1",) and "ya29.fake-1" not in repr(first)
    credentials.expiry_at = 0.0  # expired: the next attempt refreshes
    assert authorized(request).headers["authorization"] == "Bearer ya29.fake-2"
    with pytest.raises(MissingConfigurationError, match="a Google Cloud project"):
        vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(credentials=FakeCredentials(None), location="us-central1"))


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[Any]:
    """A service-account key file whose token_uri is a token server on 127.0.0.1 (offline ADC)."""
    pytest.importorskip("google.auth")
    from fake_google_auth import service_account_file

    with service_account_file(tmp_path) as server:
        yield server


def test_vertex_application_default_credentials_from_a_service_account(token_server: Any) -> None:
    request = authorized(vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(location="us-central1")))
    assert request.headers["authorization"] == "Bearer ya29.from-token-server"
    assert "/projects/sa-project/locations/us-central1/" in request.url  # the project named by the credentials
    assert request.secrets == ("ya29.from-token-server",)
    assert len(token_server.requests) == 1 and b"grant_type=urn" in token_server.requests[0]
    # Cached: the next request needs no token call; an explicit project wins over the file's.
    again = vertex.build_request(VERTEX_FLASH, HELLO, vertex_options(location="us-central1", project="other"))
    assert len(token_server.requests) == 1 and "/projects/other/" in again.url
