"""Every mapping rule of the models.dev conversion, on a tiny hand-made api.json.

The rules are the package's own (``alchemy/models/data/rules.json``, compiled from
overrides.toml), so these tests check the shipped overrides too, without the shared
snapshot.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson
import pytest

from alchemy.models._convert import CAPABILITY_FLAGS, convert, validate_rules
from alchemy.models._registry import Registry
from alchemy.types import Model
from support import DATA

MINI = DATA / "models_dev_mini.json"


def bundled_rules() -> dict[str, Any]:
    rules: dict[str, Any] = orjson.loads((resources.files("alchemy.models") / "data" / "rules.json").read_bytes())
    return rules


@pytest.fixture(scope="module")
def converted() -> tuple[dict[str, Any], Any]:
    return convert(orjson.loads(MINI.read_bytes()), bundled_rules(), {"name": "test", "date": "2025-01-01"})


@pytest.fixture(scope="module")
def mini(converted: tuple[dict[str, Any], Any]) -> Registry:
    return Registry(converted[0], "test")


def get(reg: Registry, key: str) -> Model:
    provider, _, model_id = key.partition("/")
    model = reg.model(provider, model_id)
    assert model is not None, key
    return model


def test_bundled_rules_are_valid() -> None:
    validate_rules(bundled_rules())


def test_report_counts(converted: tuple[dict[str, Any], Any]) -> None:
    report = converted[1]
    assert report.providers_seen == 10
    assert report.models_seen == 20
    assert report.models_kept == 13
    assert report.models_by_provider == {
        "acme": 4,
        "amazon-bedrock": 3,
        "anthropic": 1,
        "cloudy": 1,
        "google-vertex": 1,
        "groq": 1,
        "openai": 1,
        "xai": 1,
    }
    assert set(report.providers_left_out) == {"gitlab", "mystery"}
    assert "not an LLM wire API" in report.providers_left_out["gitlab"]
    assert "no known wire API" in report.providers_left_out["mystery"]
    assert report.models_left_out == {
        "no text output": 1,
        "no text input": 1,
        "embedding model": 1,
        "@someone/weird: no known wire API": 1,
        report_key(report, "google-vertex/anthropic"): 1,
    }
    assert report.without_tools == 1 and report.deprecated == 1 and report.unknown_cost == 1
    assert report.clamped_output == ["acme/acme-chat"]
    summary = report.summary()
    assert "kept: 8 providers, 13 models" in summary and "gitlab" in summary


def report_key(report: Any, fragment: str) -> str:
    return str(next(reason for reason in report.models_left_out if fragment in reason))


def test_openai_compatible_provider(mini: Registry) -> None:
    chat = get(mini, "acme/acme-chat")
    assert chat.api == "openai-completions"
    assert chat.base_url == "https://api.acme.test/v1"  # trailing slash dropped
    assert chat.env_keys == ("ACME_API_KEY",)
    assert chat.name == "Acme Chat"
    assert chat.input == ("text", "image")
    assert chat.context_window == 128000
    assert chat.max_tokens == 128000  # 200000 clamped to the context window
    assert chat.open_weights is True and chat.knowledge == "2024-10" and chat.family == "qwen"
    assert chat.vendor == "qwen"
    assert chat.interleaved == "reasoning_content"
    assert chat.reasoning and chat.caps.supports_reasoning
    assert chat.caps.supports_vision and chat.caps.supports_json_content  # images need content parts
    assert chat.caps.supports_json_output is False  # structured_output = false
    assert chat.cost.input == 0.5 and chat.cost.cache_read == 0.05 and chat.cost.cache_write is None


def test_compat_defaults_and_effort_map(mini: Registry) -> None:
    chat = get(mini, "acme/acme-chat")
    assert chat.compat is not None
    assert chat.compat["supports_store"] is False
    assert chat.compat["supports_developer_role"] is False
    assert chat.compat["max_tokens_field"] == "max_tokens"
    assert chat.compat["supports_reasoning_effort"] is True
    # effort values low/high: the missing levels go to the nearest (ties lower)
    assert chat.compat["reasoning_effort_map"] == {"minimal": "low", "medium": "low", "xhigh": "high"}


def test_provider_rule_compat_beats_data(mini: Registry) -> None:
    qwen = get(mini, "groq/qwen/qwen3-32b")
    assert qwen.base_url == "https://api.groq.com/openai/v1"  # from overrides: models.dev has none
    assert qwen.compat is not None
    assert qwen.compat["reasoning_effort_map"]["high"] == "default"
    assert qwen.caps.supports_tool_choice_required  # Groq provider default


def test_provider_compat_without_reasoning_options(mini: Registry) -> None:
    grok = get(mini, "xai/grok-test")
    assert grok.api == "openai-completions" and grok.base_url == "https://api.x.ai/v1"
    assert grok.compat is not None and grok.compat["supports_reasoning_effort"] is False


def test_deprecated_unknown_cost_and_no_tools_are_kept_and_flagged(mini: Registry) -> None:
    old = get(mini, "acme/acme-old")
    assert old.deprecated
    assert old.cost.input is None and old.cost.output is None
    assert old.context_window == 0 and old.max_tokens == 0  # 0 means unknown
    assert not old.caps.supports_tools
    assert not old.caps.supports_tool_choice and not old.caps.supports_tool_choice_required


def test_per_model_npm_and_shape(mini: Registry) -> None:
    claude = get(mini, "acme/acme-claude")
    assert claude.api == "anthropic-messages"
    assert claude.base_url == "https://api.acme.test/anthropic"  # /v1 stripped: the transport adds it
    assert claude.compat is None
    assert claude.caps.supports_last_assistant  # Anthropic API default
    responses = get(mini, "acme/acme-resp")
    assert responses.api == "openai-responses" and responses.base_url == "https://api.acme.test/v1"
    assert mini.model("acme", "acme-vertex-claude") is None
    assert mini.model("acme", "acme-weird") is None


def test_placeholders_are_not_key_variables(mini: Registry) -> None:
    llama = get(mini, "cloudy/meta-llama/llama-9-70b")
    assert llama.base_url == "https://${CLOUDY_ACCOUNT}.cloudy.test/v1"
    assert llama.env_keys == ("CLOUDY_API_KEY",)
    assert llama.vendor == "meta"
    assert llama.path == "cloudy/meta/llama-9-70b"


def test_first_party_providers(mini: Registry) -> None:
    claude = get(mini, "anthropic/claude-test-4")
    assert claude.base_url == "https://api.anthropic.com"
    assert claude.env_keys == ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY")
    assert claude.input == ("text", "image", "pdf")
    assert [t.threshold for t in claude.cost.tiers] == [200000]
    assert claude.cost.tiers[0].cache_write == 7.5
    gpt = get(mini, "openai/gpt-test-5")
    assert gpt.api == "openai-responses" and gpt.base_url == "https://api.openai.com/v1"
    assert gpt.caps.supports_temperature is False and gpt.caps.supports_json_output is True
    assert gpt.caps.supports_n is False and gpt.compat is None
    assert gpt.reasoning_options == ({"type": "effort", "values": ["minimal", "low", "medium", "high"]},)


def test_bedrock_rules(mini: Registry) -> None:
    claude = get(mini, "amazon-bedrock/anthropic.claude-test-v1:0")
    assert claude.api == "bedrock-converse-stream"
    assert claude.base_url == "https://bedrock-runtime.${AWS_REGION}.amazonaws.com"
    assert claude.env_keys == ()
    assert claude.caps.supports_tool_choice_required and claude.vendor == "anthropic"
    llama = get(mini, "amazon-bedrock/meta.llama9-70b-instruct-v1:0")
    assert not llama.caps.supports_tool_choice_required and llama.vendor == "meta"
    mantle = get(mini, "amazon-bedrock/openai.gpt-test")
    assert mantle.api == "openai-responses"
    assert mantle.base_url == "https://bedrock-mantle.${AWS_REGION}.api.aws/v1"
    assert mantle.env_keys == ("AWS_BEARER_TOKEN_BEDROCK",)


def test_vertex(mini: Registry) -> None:
    gemini = get(mini, "google-vertex/gemini-test-pro")
    assert gemini.api == "google-vertex"
    assert gemini.base_url == "https://${GOOGLE_VERTEX_LOCATION}-aiplatform.googleapis.com"
    assert gemini.env_keys == ("GOOGLE_CLOUD_API_KEY",)
    assert gemini.caps.supports_json_output and gemini.caps.supports_tool_choice_required


def test_capability_mask_round_trip(mini: Registry, converted: tuple[dict[str, Any], Any]) -> None:
    assert converted[0]["capabilities"] == list(CAPABILITY_FLAGS)
    for model in mini.models():
        assert model.caps is mini.capabilities(converted[0]["providers"][model.provider]["models"][model.id]["caps"])


def test_hand_overrides_apply_and_unused_ones_are_reported() -> None:
    rules = bundled_rules()
    rules["models"] = {
        "acme/acme-chat": {
            "name": "Acme Chat (fixed)",
            "context_window": 64000,
            "cost": {"cache_write": 0.6},
            "capabilities": {"supports_n": True},
            "compat": {"requires_tool_result_name": True},
        },
        "acme/acme-resp": {"skip": "broken upstream"},
        "acme/nothing-here": {"name": "x"},
    }
    validate_rules(rules)
    data, report = convert(orjson.loads(MINI.read_bytes()), rules, {})
    reg = Registry(data, "test")
    chat = get(reg, "acme/acme-chat")
    assert chat.name == "Acme Chat (fixed)"
    assert chat.context_window == 64000 and chat.max_tokens == 64000
    assert chat.cost.cache_write == 0.6 and chat.cost.input == 0.5
    assert chat.caps.supports_n
    assert chat.compat is not None and chat.compat["requires_tool_result_name"] is True
    assert reg.model("acme", "acme-resp") is None
    assert report.models_left_out["override: broken upstream"] == 1
    assert report.unused_model_overrides == ["acme/nothing-here"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"providers": {"acme": {"base_ur1": "x"}}}, "providers.acme: unknown key(s) base_ur1"),
        ({"providers": {"acme": {"capabilities": {"supports_vison": True}}}}, "supports_vison"),
        ({"providers": {"acme": {"compat": {"supportsStore": False}}}}, "supportsStore"),
        ({"npm": {"@x/y": "openai-chat"}}, "unknown wire API 'openai-chat'"),
        ({"models": {"no-slash": {}}}, "provider/model-id"),
    ],
)
def test_rules_validation_names_the_bad_key(patch: dict[str, Any], message: str) -> None:
    rules = bundled_rules()
    for key, value in patch.items():
        rules[key] = {**rules.get(key, {}), **value}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_rules(rules)


def test_not_a_catalogue() -> None:
    with pytest.raises(ValueError, match="not a models.dev catalogue"):
        convert([], bundled_rules(), {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no 'models'"):
        convert({"x": {"npm": "y"}}, bundled_rules(), {})
