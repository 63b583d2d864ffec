"""Model facts written once (alchemy.model_facts): levels, clamping and each family's wire mapping.

Each group below is one model as served by several wire APIs (registry entries from
``get_model``) and as built by hand under the ids those APIs use (``Model(...)`` with no
``reasoning_options``). Every member of a group must give the same supported levels,
the same clamping and the same wire values, and those must be the expected ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import pytest
from support import ROOT, bundled_registry  # noqa: F401 (fixture)

import alchemy
from alchemy import model_facts as facts
from alchemy.model_facts import (
    THINKING_LEVELS,
    ClaudeThinking,
    GeminiThinking,
    clamp_thinking_level,
    claude_thinking,
    gemini_thinking,
    openai_reasoning_effort,
    supported_thinking_levels,
    thinking_budget_for,
)
from alchemy.models import get_model, get_models
from alchemy.types import Model, ThinkingLevel

ERROR = "error"




def hand_built(model_id: str, api: str = "openai-completions", *, reasoning: bool = True) -> Model:
    """A model built by hand: no registry data, only the id."""
    return Model(id=model_id, name=model_id, api=api, provider="custom", base_url="", reasoning=reasoning)


# --------------------------------------------------------------------------- wire values as short strings


def claude_wire(thinking: ClaudeThinking) -> str:
    if thinking.mode == "adaptive":
        return f"effort {thinking.effort}"
    if thinking.mode == "budget":
        return f"budget {thinking.budget_tokens}"
    return "off"


def gemini_wire(thinking: GeminiThinking | None) -> str:
    if thinking is None:
        return "none"
    value = thinking.thinking_level if thinking.thinking_level is not None else thinking.thinking_budget
    return f"{value}" if thinking.include_thoughts else f"{value} hidden"


def mapped(model: Model, family: str) -> tuple[str, ...]:
    """The family's wire value for every level, lowest first (``error`` where it raises ValueError)."""
    out = []
    for level in THINKING_LEVELS:
        try:
            if family == "claude":
                out.append(claude_wire(claude_thinking(model, level)))
            elif family == "openai":
                out.append(str(openai_reasoning_effort(model, level)))
            else:
                out.append(gemini_wire(gemini_thinking(model, level)))
        except ValueError:
            out.append(ERROR)
    return tuple(out)


def clamped(model: Model) -> tuple[str, ...]:
    out = []
    for level in THINKING_LEVELS:
        try:
            out.append(clamp_thinking_level(model, level))
        except ValueError:
            out.append(ERROR)
    return tuple(out)


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Group:
    """One model under every id that serves it, and what it must map to."""

    name: str
    family: str
    registry: tuple[str, ...]
    hand_ids: tuple[tuple[str, str], ...]  # (id, api)
    supported: tuple[str, ...]
    clamps: tuple[str, ...]  # per level: off, minimal, low, medium, high, xhigh, max
    wire: tuple[str, ...]

    def models(self) -> list[Model]:
        return [get_model(key) for key in self.registry] + [hand_built(i, api) for i, api in self.hand_ids]


ADAPTIVE_MAX = ("off", "low", "medium", "high", "max")
BUDGET_LEVELS = ("off", "minimal", "low", "medium", "high")
CLAUDE_BUDGETS = ("off", "budget 1024", "budget 2048", "budget 8192", "budget 16384", "budget 16384", "budget 16384")

GROUPS = [
    Group(
        "claude-opus-4.6",
        "claude",
        (
            "anthropic/claude-opus-4-6",
            "amazon-bedrock/anthropic.claude-opus-4-6-v1",
            "amazon-bedrock/us.anthropic.claude-opus-4-6-v1",
            "openrouter/anthropic/claude-opus-4.6",
        ),
        (
            ("claude-opus-4-6", "anthropic-messages"),
            ("us.anthropic.claude-opus-4-6-v1:0", "bedrock-converse-stream"),
            ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-opus-4-6-v1:0",
             "bedrock-converse-stream"),
            ("anthropic/claude-opus-4.6", "openai-completions"),
        ),
        ADAPTIVE_MAX,
        ("off", "low", "low", "medium", "high", "max", "max"),
        ("off", "effort low", "effort low", "effort medium", "effort high", "effort max", "effort max"),
    ),
    Group(
        "claude-sonnet-4.6",
        "claude",
        (
            "anthropic/claude-sonnet-4-6",
            "amazon-bedrock/eu.anthropic.claude-sonnet-4-6",
            "openrouter/anthropic/claude-sonnet-4.6",
        ),
        (("claude-sonnet-4-6", "anthropic-messages"), ("anthropic/claude-sonnet-4.6", "openai-completions")),
        ADAPTIVE_MAX,
        ("off", "low", "low", "medium", "high", "max", "max"),
        ("off", "effort low", "effort low", "effort medium", "effort high", "effort max", "effort max"),
    ),
    Group(
        "claude-opus-4.7",
        "claude",
        (
            "anthropic/claude-opus-4-7",
            "amazon-bedrock/global.anthropic.claude-opus-4-7",
            "openrouter/anthropic/claude-opus-4.7",
        ),
        (("claude-opus-4-7", "anthropic-messages"), ("anthropic.claude-opus-4-7", "bedrock-converse-stream")),
        ("off", "low", "medium", "high", "xhigh", "max"),
        ("off", "low", "low", "medium", "high", "xhigh", "max"),
        ("off", "effort low", "effort low", "effort medium", "effort high", "effort xhigh", "effort max"),
    ),
    Group(
        "claude-sonnet-4.5",
        "claude",
        (
            "anthropic/claude-sonnet-4-5-20250929",
            "amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "openrouter/anthropic/claude-sonnet-4.5",
        ),
        (
            ("claude-sonnet-4-5-20250929", "anthropic-messages"),
            ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock-converse-stream"),
        ),
        BUDGET_LEVELS,
        ("off", "minimal", "low", "medium", "high", "high", "high"),
        CLAUDE_BUDGETS,
    ),
    Group(
        "claude-opus-4.5 (lists efforts, thinks with budgets)",
        "claude",
        (
            "anthropic/claude-opus-4-5",
            "amazon-bedrock/global.anthropic.claude-opus-4-5-20251101-v1:0",
            "openrouter/anthropic/claude-opus-4.5",
        ),
        (("claude-opus-4-5", "anthropic-messages"),),
        BUDGET_LEVELS,
        ("off", "minimal", "low", "medium", "high", "high", "high"),
        CLAUDE_BUDGETS,
    ),
    Group(
        "claude-haiku-4.5",
        "claude",
        (
            "anthropic/claude-haiku-4-5",
            "amazon-bedrock/anthropic.claude-haiku-4-5-20251001-v1:0",
            "openrouter/anthropic/claude-haiku-4.5",
        ),
        (("claude-haiku-4-5", "anthropic-messages"),),
        BUDGET_LEVELS,
        ("off", "minimal", "low", "medium", "high", "high", "high"),
        CLAUDE_BUDGETS,
    ),
    Group(
        "gpt-5",
        "openai",
        ("openai/gpt-5", "azure/gpt-5", "openrouter/openai/gpt-5"),
        (("gpt-5", "openai-responses"), ("gpt-5", "azure-openai-responses"), ("openai/gpt-5", "openai-completions")),
        BUDGET_LEVELS,
        ("off", "minimal", "low", "medium", "high", "high", "high"),
        ("minimal", "minimal", "low", "medium", "high", "high", "high"),
    ),
    Group(
        "gpt-5.1",
        "openai",
        ("openai/gpt-5.1", "azure/gpt-5.1", "openrouter/openai/gpt-5.1"),
        (("gpt-5.1", "openai-responses"), ("openai/gpt-5.1", "openai-completions")),
        ("off", "low", "medium", "high"),
        ("off", "low", "low", "medium", "high", "high", "high"),
        ("none", "low", "low", "medium", "high", "high", "high"),
    ),
    Group(
        "gpt-5.2",
        "openai",
        ("openai/gpt-5.2", "azure/gpt-5.2", "openrouter/openai/gpt-5.2"),
        (
            ("gpt-5.2", "openai-responses"),
            ("gpt-5.2", "azure-openai-responses"),
            ("openai/gpt-5.2", "openai-completions"),
        ),
        ("off", "low", "medium", "high", "xhigh"),
        ("off", "low", "low", "medium", "high", "xhigh", "xhigh"),
        ("none", "low", "low", "medium", "high", "xhigh", "xhigh"),
    ),
    Group(
        "gpt-5.4",
        "openai",
        ("openai/gpt-5.4", "azure/gpt-5.4", "openrouter/openai/gpt-5.4", "amazon-bedrock/openai.gpt-5.4"),
        (("gpt-5.4", "azure-openai-responses"), ("openai.gpt-5.4", "openai-responses")),
        ("off", "low", "medium", "high", "xhigh"),
        ("off", "low", "low", "medium", "high", "xhigh", "xhigh"),
        ("none", "low", "low", "medium", "high", "xhigh", "xhigh"),
    ),
    Group(
        "gpt-5.1-codex-max",
        "openai",
        ("openai/gpt-5.1-codex-max", "azure/gpt-5.1-codex-max", "openrouter/openai/gpt-5.1-codex-max"),
        (("gpt-5.1-codex-max", "openai-responses"), ("openai/gpt-5.1-codex-max", "openai-completions")),
        ("low", "medium", "high", "xhigh"),
        (ERROR, "low", "low", "medium", "high", "xhigh", "xhigh"),
        (ERROR, "low", "low", "medium", "high", "xhigh", "xhigh"),
    ),
    Group(
        "o3",
        "openai",
        ("openai/o3", "azure/o3", "openrouter/openai/o3"),
        (("o3", "openai-responses"), ("openai/o3", "openai-completions")),
        ("low", "medium", "high"),
        (ERROR, "low", "low", "medium", "high", "high", "high"),
        (ERROR, "low", "low", "medium", "high", "high", "high"),
    ),
    Group(
        "o4-mini",
        "openai",
        ("openai/o4-mini", "azure/o4-mini", "openrouter/openai/o4-mini"),
        (("o4-mini", "azure-openai-responses"), ("openai/o4-mini", "openai-completions")),
        ("low", "medium", "high"),
        (ERROR, "low", "low", "medium", "high", "high", "high"),
        (ERROR, "low", "low", "medium", "high", "high", "high"),
    ),
    Group(
        "gemini-2.5-pro",
        "gemini",
        ("google/gemini-2.5-pro", "google-vertex/gemini-2.5-pro", "openrouter/google/gemini-2.5-pro"),
        (("gemini-2.5-pro", "google-generative-ai"), ("publishers/google/models/gemini-2.5-pro", "google-vertex")),
        ("minimal", "low", "medium", "high"),
        (ERROR, "minimal", "low", "medium", "high", "high", "high"),
        (ERROR, "128", "2048", "8192", "32768", "32768", "32768"),
    ),
    Group(
        "gemini-2.5-flash",
        "gemini",
        ("google/gemini-2.5-flash", "google-vertex/gemini-2.5-flash", "openrouter/google/gemini-2.5-flash"),
        (("gemini-2.5-flash", "google-generative-ai"), ("gemini-2.5-flash", "google-vertex")),
        BUDGET_LEVELS,
        ("off", "minimal", "low", "medium", "high", "high", "high"),
        ("0 hidden", "128", "2048", "8192", "24576", "24576", "24576"),
    ),
    Group(
        "gemini-2.5-flash-lite (its smallest budget is 512)",
        "gemini",
        (
            "google/gemini-2.5-flash-lite",
            "google-vertex/gemini-2.5-flash-lite",
            "openrouter/google/gemini-2.5-flash-lite",
        ),
        (("gemini-2.5-flash-lite", "google-generative-ai"), ("google/gemini-2.5-flash-lite", "google-vertex")),
        BUDGET_LEVELS,
        ("off", "minimal", "low", "medium", "high", "high", "high"),
        ("0 hidden", "512", "2048", "8192", "24576", "24576", "24576"),
    ),
    Group(
        "gemini-3-flash",
        "gemini",
        (
            "google/gemini-3-flash-preview",
            "google-vertex/gemini-3-flash-preview",
            "openrouter/google/gemini-3-flash-preview",
        ),
        (("gemini-3-flash-preview", "google-generative-ai"), ("google/gemini-3-flash-preview", "google-vertex")),
        ("minimal", "low", "medium", "high"),
        ("minimal", "minimal", "low", "medium", "high", "high", "high"),
        ("MINIMAL hidden", "MINIMAL", "LOW", "MEDIUM", "HIGH", "HIGH", "HIGH"),
    ),
    Group(
        "gemini-3.1-pro",
        "gemini",
        (
            "google/gemini-3.1-pro-preview",
            "google-vertex/gemini-3.1-pro-preview",
            "openrouter/google/gemini-3.1-pro-preview",
        ),
        (("gemini-3.1-pro-preview", "google-generative-ai"), ("gemini-3.1-pro", "google-vertex")),
        ("low", "medium", "high"),
        ("low", "low", "low", "medium", "high", "high", "high"),
        ("LOW hidden", "LOW", "LOW", "MEDIUM", "HIGH", "HIGH", "HIGH"),
    ),
    Group(
        "gemini-3-pro (hand-built only)",
        "gemini",
        (),
        (("gemini-3-pro-preview", "google-generative-ai"), ("google/gemini-3-pro-preview", "google-vertex")),
        ("low", "high"),
        ("low", "low", "low", "high", "high", "high", "high"),
        ("LOW hidden", "LOW", "LOW", "HIGH", "HIGH", "HIGH", "HIGH"),
    ),
]


@pytest.mark.parametrize("group", GROUPS, ids=[group.name for group in GROUPS])
def test_every_id_of_a_model_gets_the_same_levels_and_wire_values(group: Group) -> None:
    for model in group.models():
        where = f"{model.key} ({model.api})"
        assert supported_thinking_levels(model) == group.supported, where
        assert clamped(model) == group.clamps, where
        assert mapped(model, group.family) == group.wire, where


@pytest.mark.parametrize("group", GROUPS, ids=[group.name for group in GROUPS])
def test_the_family_is_read_from_every_id(group: Group) -> None:
    for model in group.models():
        assert facts.model_family(model) == group.family, model.key


def test_a_group_mixes_wire_apis() -> None:
    """The matrix is worth something only if each model is served by several APIs."""
    for group in GROUPS:
        apis = {model.api for model in group.models()}
        assert len(apis) >= 2, group.name


# --------------------------------------------------------------------------- levels and clamping


def test_levels_are_declared_once_in_order() -> None:
    assert THINKING_LEVELS == ("off", "minimal", "low", "medium", "high", "xhigh", "max")
    assert THINKING_LEVELS == get_args(ThinkingLevel)
    assert alchemy.THINKING_LEVELS is THINKING_LEVELS
    assert alchemy.supported_thinking_levels is supported_thinking_levels
    assert alchemy.clamp_thinking_level is clamp_thinking_level
    for name in ("THINKING_LEVELS", "supported_thinking_levels", "clamp_thinking_level"):
        assert name in alchemy.__all__


@pytest.mark.parametrize("key", ["openai/gpt-4.1", "google/gemini-2.0-flash", "hand-built claude-opus-4-6"])
def test_a_model_without_reasoning_takes_only_off(key: str) -> None:
    model = hand_built("claude-opus-4-6", reasoning=False) if key.startswith("hand-built") else get_model(key)
    assert supported_thinking_levels(model) == ("off",)
    assert clamped(model) == ("off",) * len(THINKING_LEVELS)
    for level in THINKING_LEVELS:
        assert claude_thinking(model, level) == ClaudeThinking("off")
        assert openai_reasoning_effort(model, level) is None
        assert gemini_thinking(model, level) is None


def test_off_on_a_model_that_always_reasons_names_the_model_and_its_lowest_level() -> None:
    with pytest.raises(ValueError, match=r"openai/o3.*lowest level is 'low'"):
        clamp_thinking_level(get_model("openai/o3"), "off")
    with pytest.raises(ValueError, match=r"google-vertex/gemini-2\.5-pro.*lowest level is 'minimal'"):
        gemini_thinking(get_model("google-vertex/gemini-2.5-pro"), "off")


def test_gemini_3_turns_off_into_its_lowest_level_with_thoughts_hidden() -> None:
    flash = gemini_thinking(get_model("google/gemini-3-flash-preview"), "off")
    assert flash == GeminiThinking(include_thoughts=False, thinking_level="MINIMAL")
    assert flash.config() == {"includeThoughts": False, "thinkingLevel": "MINIMAL"}
    assert facts.can_turn_off_thinking(get_model("google/gemini-3-flash-preview")) is False


def test_bad_levels_raise_at_once() -> None:
    model = get_model("openai/gpt-5.2")
    with pytest.raises(ValueError, match=r"reasoning level must be one of 'off', .*'max', got 'ultra'"):
        clamp_thinking_level(model, "ultra")
    with pytest.raises(TypeError, match="reasoning level must be a str, got int"):
        clamp_thinking_level(model, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got 'ultra'"):
        claude_thinking(get_model("anthropic/claude-sonnet-4-5"), "ultra")
    with pytest.raises(ValueError, match="got 'HIGH'"):
        thinking_budget_for("HIGH")


def test_every_registry_model_clamps_every_level_into_its_levels() -> None:
    """Whatever models.dev lists, the levels are ordered and clamping lands on one of them."""
    for model in get_models():
        supported = supported_thinking_levels(model)
        assert supported, model.key
        assert list(supported) == sorted(supported, key=THINKING_LEVELS.index), model.key
        for level in THINKING_LEVELS:
            try:
                result = clamp_thinking_level(model, level)
            except ValueError:
                assert level == "off" and "off" not in supported, model.key
                continue
            assert result in supported or (level == "off" and facts.uses_thinking_levels(model)), model.key


# --------------------------------------------------------------------------- ids and families


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        ("claude-opus-4-6", "claude-opus-4-6"),
        ("anthropic/claude-sonnet-4.6", "claude-sonnet-4.6"),
        ("anthropic.claude-opus-4-7-v1:0", "claude-opus-4-7"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        ("arn:aws:bedrock:eu-west-1::foundation-model/anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("~anthropic/claude-opus-latest", "claude-opus-latest"),
        ("openai/gpt-5.1-codex-max", "gpt-5.1-codex-max"),
        ("openai.gpt-oss-120b-1:0", "gpt-oss-120b-1"),
        ("GPT-5.2", "gpt-5.2"),
        ("publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("google/gemini-3-flash-preview", "gemini-3-flash-preview"),
    ],
)
def test_one_id_normaliser(model_id: str, name: str) -> None:
    assert facts.normalize_model_id(model_id) == name


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("claude-3-7-sonnet-20250219", "claude"),
        ("eu.anthropic.claude-fable-5", "claude"),
        ("o3", "openai"),
        ("o4-mini", "openai"),
        ("openai/o1-pro", "openai"),
        ("gpt-oss-120b", "openai"),
        ("gemini-3.1-pro", "gemini"),
        ("llama-3.3-70b", None),
        ("mistral-large-latest", None),
        ("omni-moderation-latest", None),
        ("qwen/qwq-32b", None),
    ],
)
def test_family_detection(model_id: str, family: str | None) -> None:
    assert facts.model_family(hand_built(model_id)) == family


def test_versions_and_adaptive_claude() -> None:
    assert facts.claude_version(hand_built("claude-opus-4-20250514")) == (4, 0)
    assert facts.claude_version(hand_built("anthropic/claude-opus-4.1")) == (4, 1)
    assert facts.claude_version(hand_built("gpt-5")) is None
    assert facts.uses_adaptive_thinking(hand_built("claude-mythos-preview"))
    assert facts.uses_adaptive_thinking(hand_built("anthropic.claude-fable-5"))
    assert not facts.uses_adaptive_thinking(hand_built("claude-opus-4-1"))
    # a versionless alias follows its registry entry: efforts and no budget
    assert facts.uses_adaptive_thinking(get_model("openrouter/~anthropic/claude-opus-latest"))
    assert not facts.uses_adaptive_thinking(hand_built("claude-opus-latest"))


# --------------------------------------------------------------------------- efforts


def test_xhigh_is_one_answer_for_registry_and_hand_built_models() -> None:
    """The issue's example: gpt-5.5 takes xhigh, claude-opus-4-6 does not (it has max)."""
    for model in (get_model("openai/gpt-5.5"), hand_built("gpt-5.5"), hand_built("gpt-5.5", "openai-responses")):
        assert facts.supports_xhigh(model), model.key
    for model in (get_model("anthropic/claude-opus-4-6"), hand_built("claude-opus-4-6")):
        assert not facts.supports_xhigh(model)
        assert "max" in facts.effort_values(model)
    assert not facts.supports_xhigh(hand_built("gpt-5.1"))
    assert facts.supports_xhigh(hand_built("gpt-5.1-codex-max"))


def test_effort_values_come_from_the_registry_first_in_scale_order() -> None:
    assert facts.listed_efforts(get_model("google/gemini-3.1-flash-image-preview")) == ("minimal", "high")
    assert facts.effort_values(get_model("openrouter/google/gemini-3.1-flash-image")) == ("minimal", "high")
    assert facts.effort_values(get_model("openai/gpt-5-pro")) == ("high",)
    assert facts.effort_values(hand_built("gpt-5-pro")) == ("high",)
    assert facts.listed_efforts(hand_built("gpt-5")) is None
    assert facts.effort_values(hand_built("gpt-5")) == ("minimal", "low", "medium", "high")
    assert facts.effort_values(hand_built("gpt-5", reasoning=False)) == ()


def test_levels_in_a_gap_go_to_the_nearest_level_ties_up() -> None:
    image = get_model("google/gemini-3.1-flash-image-preview")  # minimal and high only
    assert [clamp_thinking_level(image, level) for level in ("low", "medium")] == ["minimal", "high"]
    assert clamp_thinking_level(get_model("openai/gpt-5-pro"), "minimal") == "high"


def test_other_reasoning_models_follow_the_registry() -> None:
    generic = hand_built("qwen3-32b")
    assert supported_thinking_levels(generic) == BUDGET_LEVELS
    assert openai_reasoning_effort(generic, "off") is None  # no effort word for off: leave the field out
    assert openai_reasoning_effort(generic, "xhigh") == "high"
    gpt_oss = get_model("groq/openai/gpt-oss-120b")
    assert "off" not in supported_thinking_levels(gpt_oss)


# --------------------------------------------------------------------------- budgets


def test_budget_defaults_for_gateways() -> None:
    assert [thinking_budget_for(level) for level in THINKING_LEVELS] == [0, 1024, 2048, 8192, 16384, 16384, 16384]
    assert thinking_budget_for("xhigh", {"high": 20000}) == 20000
    assert thinking_budget_for("xhigh", {"xhigh": 30000, "high": 20000}) == 30000
    assert thinking_budget_for("max", {"xhigh": 30000}) == 16384
    assert thinking_budget_for("low", {"low": 0}) == 0


@pytest.mark.parametrize(
    ("budgets", "error", "message"),
    [
        ([("low", 1)], TypeError, "thinking_budgets must be a mapping"),
        ({"off": 0}, ValueError, "thinking_budgets key must be one of 'minimal'"),
        ({"low": "2k"}, TypeError, r"thinking_budgets\['low'\] must be an int, got str"),
        ({"low": True}, TypeError, "must be an int, got bool"),
        ({"low": -5}, ValueError, r"must be an int >= 0, got -5"),
    ],
)
def test_bad_budgets_raise(budgets: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        thinking_budget_for("low", budgets)  # type: ignore[arg-type]


def test_claude_budgets_can_be_given_and_must_fit_the_model() -> None:
    sonnet = get_model("anthropic/claude-sonnet-4-5")
    thinking = claude_thinking(sonnet, "xhigh", {"xhigh": 30000})
    assert thinking == ClaudeThinking("budget", budget_tokens=30000, interleaved_beta=True)
    assert thinking.thinking_field() == {"type": "enabled", "budget_tokens": 30000}
    assert thinking.output_config() is None
    assert claude_thinking(sonnet, "max", {"high": 20000}).budget_tokens == 20000
    with pytest.raises(ValueError, match=r"thinking_budgets\['low'\] must be at least 1024 tokens .*claude-sonnet-4-5"):
        claude_thinking(sonnet, "low", {"low": 500})
    with pytest.raises(ValueError, match="between 1024 and 63999"):
        claude_thinking(get_model("openrouter/anthropic/claude-sonnet-4.5"), "high", {"high": 64000})


def test_adaptive_claude_ignores_budgets_and_takes_no_interleaved_beta() -> None:
    thinking = claude_thinking(get_model("anthropic/claude-opus-4-7"), "high", {"high": 4096})
    assert thinking == ClaudeThinking("adaptive", effort="high")
    assert thinking.thinking_field() == {"type": "adaptive"}
    assert thinking.output_config() == {"effort": "high"}
    off = claude_thinking(get_model("anthropic/claude-opus-4-7"), "off")
    assert off.thinking_field() is None and off.output_config() is None and not off.interleaved_beta


def test_gemini_budgets_can_be_given_and_must_fit_the_model() -> None:
    flash = get_model("google/gemini-2.5-flash")
    assert gemini_thinking(flash, "low", {"low": 1000}) == GeminiThinking(include_thoughts=True, thinking_budget=1000)
    lite = hand_built("gemini-2.5-flash-lite", "google-generative-ai")
    with pytest.raises(ValueError, match=r"between 512 and 24576 tokens for model custom/gemini-2.5-flash-lite"):
        gemini_thinking(lite, "minimal", {"minimal": 128})
    thinking = gemini_thinking(get_model("google-vertex/gemini-2.5-pro"), "medium")
    assert thinking is not None and thinking.config() == {"includeThoughts": True, "thinkingBudget": 8192}


def test_other_gemini_models_think_dynamically() -> None:
    other = hand_built("gemini-exp-1206", "google-generative-ai")
    assert gemini_wire(gemini_thinking(other, "medium")) == "-1"
    assert gemini_wire(gemini_thinking(other, "off")) == "0 hidden"
    assert gemini_wire(gemini_thinking(other, "high", {"high": 4000})) == "4000"


def test_magistral_always_reasons() -> None:
    registry, by_hand = get_model("mistral/magistral-medium-latest"), hand_built("magistral-small-2509")
    for model in (registry, by_hand):
        assert supported_thinking_levels(model) == ("minimal", "low", "medium", "high")
        with pytest.raises(ValueError, match="'off' is not available"):
            clamp_thinking_level(model, "off")
    assert supported_thinking_levels(get_model("mistral/mistral-small-2603")) == ("off", "high")


def test_the_readme_reasoning_table_is_the_rendered_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- reasoning:start -->\n", "<!-- reasoning:end -->"
    assert readme.count(start) == 1 and readme.count(end) == 1, "README.md needs one reasoning block"
    block = readme.split(start, 1)[1].split(end, 1)[0]
    assert block == facts.reasoning_table(), "regenerate it with `python -m alchemy.model_facts`"


def test_the_reasoning_table_spells_the_documented_cells() -> None:
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in facts.reasoning_table().splitlines()}
    assert rows["Claude 4.6"][2:] == ["no thinking", "`low`", "`low`", "`medium`", "`high`", "`max`", "`max` |"]
    assert rows["o1, o3, o4-mini"][2] == "error"
    assert rows["Gemini 3 Pro"][2] == "`LOW`, thoughts hidden"
    assert rows["budget-only gateway models"][2:4] == ["`enabled: false`", "1024"]
