"""Reasoning parity: every level, on every wire API, as the request body the server received.

Each :class:`Family` below is one model with one literal table: the level each asked
level becomes (``RAISES`` where the model cannot honour it). Every wire API that
serves the model spells that same table in its own fields (:data:`SPELLERS`), so a
model served by several APIs (Claude on Anthropic, Bedrock and OpenRouter; OpenAI on
Chat Completions, Responses and Azure; Gemini on the Gemini API, Vertex and
OpenRouter) gets the same mapping by construction. Each level goes through
``complete_simple(..., reasoning=level)`` and plain ``complete(..., reasoning=level)``
to the real replay server, and the recorded body must hold exactly the spelled
fields. A level the model cannot honour raises ``ValueError`` at the call and sends
nothing. The tables are written out here, not read from :mod:`alchemy.model_facts`:
:func:`test_the_facts_agree_with_the_tables` checks the facts against the same tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

import alchemy
from alchemy import Context, Model, UserMessage
from alchemy.model_facts import clamp_thinking_level, supported_thinking_levels
from alchemy.models import get_model
from alchemy.testing import ReplayServer

Body = dict[str, Any]

KEY: Final = "test-key-not-real-0000"
PLAIN: Final = Context(messages=[UserMessage("hi")])
LEVELS: Final = ("off", "minimal", "low", "medium", "high", "xhigh", "max")
RAISES: Final = "raises"
"""In a clamp table: the level cannot be honoured (``ValueError`` at the call)."""

CLAUDE_BUDGETS: Final = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
GEMINI_25_FLASH_BUDGETS: Final = {"minimal": 128, "low": 2048, "medium": 8192, "high": 24576}
GEMINI_25_PRO_BUDGETS: Final = {"minimal": 128, "low": 2048, "medium": 8192, "high": 32768}
COHERE_BUDGETS: Final = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
INTERLEAVED: Final = "interleaved-thinking-2025-05-14"


# --------------------------------------------------------------------------- where each API serves a model


@dataclass(frozen=True, eq=False)
class Route:
    """One wire API (and, for Chat Completions, one kind of server) that serves a model."""

    api: str
    provider: str
    compat: Mapping[str, Any] | None = None


ANTHROPIC: Final = Route("anthropic-messages", "anthropic")
BEDROCK: Final = Route("bedrock-converse-stream", "amazon-bedrock")
OPENROUTER: Final = Route("openai-completions", "openrouter")
OPENAI_CHAT: Final = Route("openai-completions", "openai")
RESPONSES: Final = Route("openai-responses", "openai")
AZURE: Final = Route("azure-openai-responses", "azure-openai-responses")
GEMINI: Final = Route("google-generative-ai", "google")
VERTEX: Final = Route("google-vertex", "google-vertex")
DEEPSEEK: Final = Route("openai-completions", "deepseek")
VLLM: Final = Route("openai-completions", "vllm", {"thinking_format": "chat-template"})
MISTRAL: Final = Route("mistral-conversations", "mistral")
COHERE: Final = Route("cohere-chat", "cohere")


@dataclass(frozen=True)
class Served:
    """A model on one route: built by hand under ``model_id``, or loaded from the registry (``registry``)."""

    route: Route
    model_id: str
    registry: str | None = None
    reasoning_options: tuple[dict[str, Any], ...] = ()

    def build(self, server: ReplayServer) -> Model:
        base_url = server.base_url_for(self.route.api)
        if self.registry is not None:
            model = get_model(self.registry)
            return dataclasses.replace(model, api=self.route.api, base_url=base_url)
        return Model(
            id=self.model_id,
            name=self.model_id,
            api=self.route.api,
            provider=self.route.provider,
            base_url=base_url,
            reasoning=True,
            context_window=200_000,
            max_tokens=64_000,
            compat=dict(self.route.compat) if self.route.compat else None,
            reasoning_options=self.reasoning_options,
        )

    @property
    def label(self) -> str:
        where = f"registry:{self.registry}" if self.registry else f"{self.route.provider}:{self.model_id}"
        return f"{self.route.api}[{where}]"


def both(route: Route, model_id: str, registry: str) -> tuple[Served, Served]:
    """The model built by hand and its registry entry, on one route."""
    return Served(route, model_id), Served(route, model_id, registry)


# --------------------------------------------------------------------------- the families


@dataclass(frozen=True)
class Family:
    """One model: the levels it takes, what each asked level becomes, and where it is served.

    ``kind`` says how its levels reach a wire: ``adaptive`` / ``budget`` (Claude),
    ``effort`` (OpenAI; ``off_effort`` is its word for off), ``gemini-level`` /
    ``gemini-budget`` (with ``budgets``), ``switch`` (on/off servers), ``prompt-mode``
    or ``effort`` (Mistral).
    """

    name: str
    kind: str
    supported: tuple[str, ...]
    clamped: tuple[str, ...]
    served: tuple[Served, ...]
    budgets: Mapping[str, int] = field(default_factory=dict)
    off_effort: str = "none"

    def level(self, asked: str) -> str:
        return self.clamped[LEVELS.index(asked)]


FAMILIES: Final = (
    Family(
        "claude-sonnet-4-5",
        "budget",
        supported=("off", "minimal", "low", "medium", "high"),
        clamped=("off", "minimal", "low", "medium", "high", "high", "high"),
        budgets=CLAUDE_BUDGETS,
        served=(
            *both(ANTHROPIC, "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
            *both(
                BEDROCK,
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "amazon-bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
            ),
            *both(OPENROUTER, "anthropic/claude-sonnet-4.5", "openrouter/anthropic/claude-sonnet-4.5"),
        ),
    ),
    Family(
        "claude-opus-4-6",
        "adaptive",
        supported=("off", "low", "medium", "high", "max"),
        clamped=("off", "low", "low", "medium", "high", "max", "max"),
        served=(
            *both(ANTHROPIC, "claude-opus-4-6", "anthropic/claude-opus-4-6"),
            *both(BEDROCK, "global.anthropic.claude-opus-4-6-v1", "amazon-bedrock/us.anthropic.claude-opus-4-6-v1"),
            *both(OPENROUTER, "anthropic/claude-opus-4.6", "openrouter/anthropic/claude-opus-4.6"),
        ),
    ),
    Family(
        "claude-opus-4-7",
        "adaptive",
        supported=("off", "low", "medium", "high", "xhigh", "max"),
        clamped=("off", "low", "low", "medium", "high", "xhigh", "max"),
        served=(
            *both(ANTHROPIC, "claude-opus-4-7", "anthropic/claude-opus-4-7"),
            *both(BEDROCK, "us.anthropic.claude-opus-4-7", "amazon-bedrock/anthropic.claude-opus-4-7"),
            *both(OPENROUTER, "anthropic/claude-opus-4.7", "openrouter/anthropic/claude-opus-4.7"),
        ),
    ),
    Family(
        "gpt-5.2",
        "effort",
        supported=("off", "low", "medium", "high", "xhigh"),
        clamped=("off", "low", "low", "medium", "high", "xhigh", "xhigh"),
        served=(
            *both(OPENAI_CHAT, "gpt-5.2", "openai/gpt-5.2"),
            *both(RESPONSES, "gpt-5.2", "openai/gpt-5.2"),
            *both(AZURE, "gpt-5.2", "azure/gpt-5.2"),
        ),
    ),
    Family(
        "gpt-5.1",
        "effort",
        supported=("off", "low", "medium", "high"),
        clamped=("off", "low", "low", "medium", "high", "high", "high"),
        served=(
            *both(OPENAI_CHAT, "gpt-5.1", "openai/gpt-5.1"),
            *both(RESPONSES, "gpt-5.1", "openai/gpt-5.1"),
            *both(AZURE, "gpt-5.1", "azure/gpt-5.1"),
        ),
    ),
    Family(
        "gpt-5",
        "effort",
        supported=("off", "minimal", "low", "medium", "high"),
        clamped=("off", "minimal", "low", "medium", "high", "high", "high"),
        off_effort="minimal",
        served=(
            *both(OPENAI_CHAT, "gpt-5", "openai/gpt-5"),
            *both(RESPONSES, "gpt-5", "openai/gpt-5"),
            *both(AZURE, "gpt-5", "azure/gpt-5"),
        ),
    ),
    Family(
        "o3",
        "effort",
        supported=("low", "medium", "high"),
        clamped=(RAISES, "low", "low", "medium", "high", "high", "high"),
        served=(
            *both(OPENAI_CHAT, "o3", "openai/o3"),
            *both(RESPONSES, "o3", "openai/o3"),
            *both(AZURE, "o3", "azure/o3"),
        ),
    ),
    Family(
        "gemini-2.5-flash",
        "gemini-budget",
        supported=("off", "minimal", "low", "medium", "high"),
        clamped=("off", "minimal", "low", "medium", "high", "high", "high"),
        budgets=GEMINI_25_FLASH_BUDGETS,
        served=(
            *both(GEMINI, "gemini-2.5-flash", "google/gemini-2.5-flash"),
            *both(VERTEX, "gemini-2.5-flash", "google-vertex/gemini-2.5-flash"),
            *both(OPENROUTER, "google/gemini-2.5-flash", "openrouter/google/gemini-2.5-flash"),
        ),
    ),
    Family(
        "gemini-2.5-pro",
        "gemini-budget",
        supported=("minimal", "low", "medium", "high"),
        clamped=(RAISES, "minimal", "low", "medium", "high", "high", "high"),
        budgets=GEMINI_25_PRO_BUDGETS,
        served=(
            *both(GEMINI, "gemini-2.5-pro", "google/gemini-2.5-pro"),
            *both(VERTEX, "gemini-2.5-pro", "google-vertex/gemini-2.5-pro"),
            *both(OPENROUTER, "google/gemini-2.5-pro", "openrouter/google/gemini-2.5-pro"),
        ),
    ),
    Family(
        # Gemini 3 always thinks: off is its lowest level with the thoughts hidden.
        "gemini-3-flash",
        "gemini-level",
        supported=("minimal", "low", "medium", "high"),
        clamped=("minimal", "minimal", "low", "medium", "high", "high", "high"),
        served=(
            *both(GEMINI, "gemini-3-flash-preview", "google/gemini-3-flash-preview"),
            *both(VERTEX, "gemini-3-flash-preview", "google-vertex/gemini-3-flash-preview"),
            *both(OPENROUTER, "google/gemini-3-flash-preview", "openrouter/google/gemini-3-flash-preview"),
        ),
    ),
    Family(
        "gemini-3.1-pro",
        "gemini-level",
        supported=("low", "medium", "high"),
        clamped=("low", "low", "low", "medium", "high", "high", "high"),
        served=(
            *both(GEMINI, "gemini-3.1-pro-preview", "google/gemini-3.1-pro-preview"),
            *both(VERTEX, "gemini-3.1-pro-preview", "google-vertex/gemini-3.1-pro-preview"),
        ),
    ),
    Family(
        # Gemini 3 Pro has LOW and HIGH only: medium goes up.
        "gemini-3-pro",
        "gemini-level",
        supported=("low", "high"),
        clamped=("low", "low", "low", "high", "high", "high", "high"),
        served=(Served(GEMINI, "gemini-3-pro-preview"), Served(VERTEX, "gemini-3-pro-preview")),
    ),
    Family(
        "deepseek-v4-pro",
        "effort",
        supported=("off", "high", "max"),
        clamped=("off", "high", "high", "high", "high", "max", "max"),
        served=(
            Served(
                DEEPSEEK,
                "deepseek-v4-pro",
                reasoning_options=({"type": "toggle"}, {"type": "effort", "values": ["high", "max"]}),
            ),
            Served(DEEPSEEK, "deepseek-v4-pro", "deepseek/deepseek-v4-pro"),
        ),
    ),
    Family(
        # A local chat template that switches thinking: no knowledge of the model, all levels taken.
        "qwen3-on-vllm",
        "switch",
        supported=("off", "minimal", "low", "medium", "high"),
        clamped=("off", "minimal", "low", "medium", "high", "high", "high"),
        served=(Served(VLLM, "Qwen/Qwen3-8B"),),
    ),
    Family(
        # Magistral always reasons; prompt_mode only adds its reasoning instructions.
        "magistral-medium",
        "prompt-mode",
        supported=("minimal", "low", "medium", "high"),
        clamped=(RAISES, "minimal", "low", "medium", "high", "high", "high"),
        served=both(MISTRAL, "magistral-medium-latest", "mistral/magistral-medium-latest"),
    ),
    Family(
        "mistral-small-2603",
        "effort",
        supported=("off", "high"),
        clamped=("off", "high", "high", "high", "high", "high", "high"),
        served=(Served(MISTRAL, "mistral-small-2603", "mistral/mistral-small-2603"),),
    ),
    Family(
        # Cohere's thinking switch with a token budget (the registry: a toggle and budget_tokens from 1).
        "command-a-reasoning",
        "cohere-budget",
        supported=("off", "minimal", "low", "medium", "high"),
        clamped=("off", "minimal", "low", "medium", "high", "high", "high"),
        budgets=COHERE_BUDGETS,
        served=both(COHERE, "command-a-reasoning-08-2025", "cohere/command-a-reasoning-08-2025"),
    ),
)


# --------------------------------------------------------------------------- each API's spelling

Spelled = dict[str, Any]
"""The reasoning fields of a body (see :func:`reasoning_fields`); ``{}``: none."""


def _claude(family: Family, level: str) -> Spelled:
    """Anthropic's fields: no thinking for off, adaptive thinking with an effort, or a budget."""
    if level == "off":
        return {}
    if family.kind == "adaptive":
        return {"thinking": {"type": "adaptive"}, "output_config": {"effort": level}}
    return {"thinking": {"type": "enabled", "budget_tokens": family.budgets[level]}}


def spell_anthropic(family: Family, asked: str, level: str) -> Spelled:
    return _claude(family, level)


def spell_bedrock(family: Family, asked: str, level: str) -> Spelled:
    """Anthropic's fields under ``additionalModelRequestFields``, with the interleaved beta for budgets."""
    spelled = _claude(family, level)
    if family.kind == "budget" and level != "off":
        spelled["anthropic_beta"] = [INTERLEAVED]
    return spelled


def spell_openrouter(family: Family, asked: str, level: str) -> Spelled:
    """OpenRouter's ``reasoning.effort`` (none..xhigh); Claude's max effort is OpenRouter's ``verbosity: max``;
    ``off`` on a model that always thinks is its lowest level with the thinking excluded."""
    if level == "off":
        return {"reasoning": {"effort": "none"}}
    if level == "max":
        return {"reasoning": {"effort": "high"}, "verbosity": "max"}
    if asked == "off":
        return {"reasoning": {"effort": level, "exclude": True}}
    return {"reasoning": {"effort": level}}


def _effort(family: Family, level: str) -> str:
    return family.off_effort if level == "off" else level


def spell_openai_chat(family: Family, asked: str, level: str) -> Spelled:
    return {"reasoning_effort": _effort(family, level)}


def spell_responses(family: Family, asked: str, level: str) -> Spelled:
    effort = _effort(family, level)
    if effort == "none":
        return {"reasoning": {"effort": "none"}}
    return {"reasoning": {"effort": effort, "summary": "auto"}}


def spell_gemini(family: Family, asked: str, level: str) -> Spelled:
    """``thinkingConfig``: thoughts shown for every level asked but off; a level (Gemini 3) or a budget."""
    config: dict[str, Any] = {"includeThoughts": asked != "off"}
    if family.kind == "gemini-level":
        config["thinkingLevel"] = level.upper()
    else:
        config["thinkingBudget"] = 0 if level == "off" else family.budgets[level]
    return {"thinkingConfig": config}


def spell_deepseek(family: Family, asked: str, level: str) -> Spelled:
    if level == "off":
        return {"thinking": {"type": "disabled"}}
    return {"thinking": {"type": "enabled"}, "reasoning_effort": level}


def spell_chat_template(family: Family, asked: str, level: str) -> Spelled:
    return {"chat_template_kwargs": {"enable_thinking": level != "off"}}


def spell_mistral(family: Family, asked: str, level: str) -> Spelled:
    if family.kind == "prompt-mode":
        return {"prompt_mode": "reasoning"}
    return {"reasoning_effort": "none" if level == "off" else level}


def spell_cohere(family: Family, asked: str, level: str) -> Spelled:
    if level == "off":
        return {"thinking": {"type": "disabled"}}
    return {"thinking": {"type": "enabled", "token_budget": family.budgets[level]}}


SPELLERS: Final[dict[Route, Callable[[Family, str, str], Spelled]]] = {
    ANTHROPIC: spell_anthropic,
    BEDROCK: spell_bedrock,
    OPENROUTER: spell_openrouter,
    OPENAI_CHAT: spell_openai_chat,
    RESPONSES: spell_responses,
    AZURE: spell_responses,
    GEMINI: spell_gemini,
    VERTEX: spell_gemini,
    DEEPSEEK: spell_deepseek,
    VLLM: spell_chat_template,
    MISTRAL: spell_mistral,
    COHERE: spell_cohere,
}

COMPLETIONS_FIELDS: Final = (
    "reasoning_effort",
    "reasoning",
    "thinking",
    "enable_thinking",
    "chat_template_kwargs",
    "verbosity",
)


def _pick(source: Mapping[str, Any], names: tuple[str, ...]) -> Spelled:
    return {name: source[name] for name in names if name in source}


def reasoning_fields(api: str, body: Body) -> Spelled:
    """The fields of ``body`` that can carry reasoning on ``api`` (all of them, to catch strays)."""
    if api == "anthropic-messages":
        return _pick(body, ("thinking", "output_config"))
    if api == "bedrock-converse-stream":
        return _pick(body.get("additionalModelRequestFields", {}), ("thinking", "output_config", "anthropic_beta"))
    if api == "openai-completions":
        return _pick(body, COMPLETIONS_FIELDS)
    if api in ("openai-responses", "azure-openai-responses"):
        return _pick(body, ("reasoning",))
    if api in ("google-generative-ai", "google-vertex"):
        return _pick(body.get("generationConfig", {}), ("thinkingConfig",))
    if api == "mistral-conversations":
        return _pick(body, ("prompt_mode", "reasoning_effort"))
    if api == "cohere-chat":
        return _pick(body, ("thinking",))
    raise AssertionError(f"no reasoning fields known for {api}")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True, scope="module")
def bundled_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The bundled registry, whatever a developer's refresh_models left in the user cache."""
    from alchemy.models import _registry

    patch = pytest.MonkeyPatch()
    patch.setenv("ALCHEMY_CACHE_DIR", str(tmp_path_factory.mktemp("no-model-cache")))
    _registry.reset()
    yield
    patch.undo()
    _registry.reset()


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALCHEMY_BASE_URL_OVERRIDE", raising=False)


CALLS: Final = {"complete": alchemy.complete, "complete_simple": alchemy.complete_simple}


def call(function: str, model: Model, level: str) -> alchemy.AssistantMessage:
    options: dict[str, Any] = {"api_key": KEY, "reasoning": level}
    if model.api == "google-vertex":
        options.update(project="p", location="us-central1")
    return CALLS[function](model, PLAIN, **options)


# --------------------------------------------------------------------------- the tests

CASES: Final = [
    pytest.param(family, served, asked, id=f"{family.name}-{served.label}-{asked}")
    for family in FAMILIES
    for served in family.served
    for asked in LEVELS
]


@pytest.mark.parametrize("function", sorted(CALLS))
@pytest.mark.parametrize(("family", "served", "asked"), CASES)
def test_the_level_reaches_the_wire(
    family: Family, served: Served, asked: str, function: str, server: ReplayServer
) -> None:
    model = served.build(server)
    before = len(server.requests)
    level = family.level(asked)
    if level == RAISES:
        with pytest.raises(ValueError, match=asked):
            call(function, model, asked)
        assert len(server.requests) == before, "a level the model cannot honour must send nothing"
        return
    message = call(function, model, asked)
    assert message.stop_reason != "error", message.error_message
    assert len(server.requests) == before + 1
    body = server.requests[-1].json
    assert body is not None
    expected = SPELLERS[served.route](family, asked, level)
    assert reasoning_fields(model.api, body) == expected


def test_every_wire_api_is_covered() -> None:
    from alchemy.wire_apis import WIRE_APIS

    covered = {served.route.api for family in FAMILIES for served in family.served}
    assert covered == set(WIRE_APIS)


def test_families_on_two_apis_share_one_table() -> None:
    """Claude, OpenAI and Gemini models are each served by several APIs (parity is by construction)."""
    apis = {family.name: {served.route.api for served in family.served} for family in FAMILIES}
    assert apis["claude-opus-4-6"] == {"anthropic-messages", "bedrock-converse-stream", "openai-completions"}
    assert apis["gpt-5.2"] == {"openai-completions", "openai-responses", "azure-openai-responses"}
    assert apis["gemini-2.5-flash"] == {"google-generative-ai", "google-vertex", "openai-completions"}


FACT_CASES: Final = [
    pytest.param(family, served, id=f"{family.name}-{served.label}") for family in FAMILIES for served in family.served
]


@pytest.mark.parametrize(("family", "served"), FACT_CASES)
def test_the_facts_agree_with_the_tables(family: Family, served: Served, server: ReplayServer) -> None:
    model = served.build(server)
    assert supported_thinking_levels(model) == family.supported
    for asked, expected in zip(LEVELS, family.clamped):
        if expected == RAISES:
            with pytest.raises(ValueError, match="'off' is not available"):
                clamp_thinking_level(model, asked)
        else:
            assert clamp_thinking_level(model, asked) == expected, asked
