"""Facts about model families, written once: reasoning levels and how each reaches the wire.

The same families are served by several wire APIs: Claude by Anthropic, Bedrock and
OpenRouter; OpenAI's models by Chat Completions, Responses and Azure; Gemini by the
Gemini API and Vertex AI. Every provider module asks this module and keeps no copy,
so one model gets one answer whatever serves it.

Where the answers come from
    1. models.dev's ``reasoning_options`` on registry models, where they answer the
       question: the effort values a model takes, its thinking-budget range, whether it
       has an on/off toggle;
    2. rules on the model id otherwise (a hand-built ``Model(...)``, or a registry
       entry that lists nothing). Ids are read through :func:`normalize_model_id`, so
       ``claude-opus-4-6``, ``anthropic/claude-opus-4.6``, ``us.anthropic.claude-opus-4-6-v1:0``
       and a Bedrock ARN ending in one of them name one model.

Levels
    :data:`THINKING_LEVELS` is ``off < minimal < low < medium < high < xhigh < max``.
    :func:`supported_thinking_levels` lists the levels a model takes (a model without
    reasoning takes only ``off``); :func:`clamp_thinking_level` turns any level into
    one of them by one rule:

    * a level the model takes is kept;
    * any other level but ``off`` becomes the nearest level the model takes, a tie
      going up: levels above the model's top go to its top, levels below its bottom
      to its bottom, and a level in a gap goes to the closer side (``xhigh`` on Claude
      Opus 4.6, which has ``high`` and ``max``, is ``max``, as in pi-ai; ``medium`` on
      Gemini 3 Pro, which has LOW and HIGH, is HIGH);
    * ``off`` is kept where thinking can be turned off; on Gemini 3, which always
      thinks, it is the lowest level with thoughts hidden; elsewhere (Gemini 2.5 Pro,
      o3, o4-mini, GPT-5 Pro, Magistral, ...) it raises ``ValueError`` naming the
      model and its lowest level.

Claude (:func:`claude_thinking`): adaptive = Claude 4.6 and later, Mythos, and
versionless ids whose registry entry lists efforts but no budget; budget = the others
(and non-Claude models on Anthropic-compatible endpoints). Budgets fit the model's
range (Anthropic's minimum is 1024); the interleaved-thinking beta applies to budget
thinking only.

| level   | adaptive: ``output_config.effort``               | budget: ``budget_tokens``          |
|---------|--------------------------------------------------|------------------------------------|
| off     | no thinking block                                | no thinking block                  |
| minimal | low                                              | 1024                               |
| low     | low                                              | 2048                               |
| medium  | medium                                           | 8192                               |
| high    | high                                             | 16384                              |
| xhigh   | xhigh (4.7 and later), else max (4.6), else high | high's, unless thinking_budgets has xhigh |
| max     | max (4.6 and later), else the top effort         | high's, unless thinking_budgets has max   |

OpenAI (:func:`openai_reasoning_effort`, ``reasoning_effort`` / ``reasoning.effort``):
the registry's effort values first; for hand-built models gpt-5 takes ``minimal``,
gpt-5.1 and later ``none`` (not the codex models), gpt-5.1-codex-max and gpt-5.2 and
later ``xhigh``.

| level   | gpt-5.2 and later | gpt-5.1 | gpt-5 (mini, nano) | o1, o3, o4-mini, codex       |
|---------|-------------------|---------|--------------------|------------------------------|
| off     | none              | none    | minimal            | ValueError                   |
| minimal | low               | low     | minimal            | low                          |
| low     | low               | low     | low                | low                          |
| medium  | medium            | medium  | medium             | medium                       |
| high    | high              | high    | high               | high                         |
| xhigh   | xhigh             | high    | high               | high (5.1-codex-max: xhigh)  |
| max     | xhigh             | high    | high               | high (5.1-codex-max: xhigh)  |

Gemini (:func:`gemini_thinking`, ``generationConfig.thinkingConfig``): Gemini 3 takes
``thinkingLevel``, Gemini 2.5 ``thinkingBudget``; ``includeThoughts`` is true for every
level but ``off``; ``thinking_budgets`` overrides the budgets. "other" is any other
reasoning model behind a Gemini API (-1 = dynamic; off = 0 where it can stop thinking).

| level   | 3 Pro | 3.1 Pro | 3.x Flash | 2.5 Pro    | 2.5 Flash | 2.5 Flash-Lite  | other |
|---------|-------|---------|-----------|------------|-----------|-----------------|-------|
| off     | LOW   | LOW     | MINIMAL   | ValueError | 0         | 0               | 0     |
| minimal | LOW   | LOW     | MINIMAL   | 128        | 128       | 512 (its floor) | -1    |
| low     | LOW   | LOW     | LOW       | 2048       | 2048      | 2048            | -1    |
| medium  | HIGH  | MEDIUM  | MEDIUM    | 8192       | 8192      | 8192            | -1    |
| high    | HIGH  | HIGH    | HIGH      | 32768      | 24576     | 24576           | -1    |
| xhigh   | HIGH  | HIGH    | HIGH      | 32768      | 24576     | 24576           | -1    |
| max     | HIGH  | HIGH    | HIGH      | 32768      | 24576     | 24576           | -1    |

Gateways that take only budgets (:func:`thinking_budget_for`): off 0, minimal 1024,
low 2048, medium 8192, high 16384, xhigh and max as high unless ``thinking_budgets``
gives them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from .types import Model, ThinkingLevel

if TYPE_CHECKING:
    from .options import StreamOptions

__all__ = [
    "BudgetRange",
    "CLAUDE_MIN_THINKING_BUDGET",
    "CLAUDE_MIN_TOP_P_WHILE_THINKING",
    "ClaudeThinking",
    "DEFAULT_THINKING_BUDGETS",
    "Family",
    "GeminiThinking",
    "OPENAI_SAMPLING_OPTIONS",
    "THINKING_LEVELS",
    "budget_range",
    "can_turn_off_thinking",
    "clamp_thinking_level",
    "claude_structured_outputs",
    "claude_thinking",
    "claude_version",
    "effort_values",
    "fit_claude_thinking_budget",
    "gemini_thinking",
    "is_claude",
    "is_gemini",
    "is_gemini3",
    "is_openai",
    "listed_efforts",
    "model_family",
    "normalize_model_id",
    "openai_reasoning_effort",
    "openai_refused_sampling",
    "reasoning_table",
    "refuse_openai_sampling",
    "supported_thinking_levels",
    "supports_xhigh",
    "thinking_budget_for",
    "uses_adaptive_thinking",
    "uses_thinking_levels",
]

Family = Literal["claude", "openai", "gemini"]

THINKING_LEVELS: Final[tuple[ThinkingLevel, ...]] = get_args(ThinkingLevel)
"""The reasoning levels, lowest first (declared by :data:`alchemy.types.ThinkingLevel`)."""

DEFAULT_THINKING_BUDGETS: Final[Mapping[str, int]] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
"""Token budgets per level for Claude and budget-only gateways (pi-ai's); xhigh and max use high's."""

_BUDGET_LEVELS: Final[tuple[ThinkingLevel, ...]] = ("minimal", "low", "medium", "high")
"""The levels of a model steered by a token budget (above high, the budget stays high's)."""
_EFFORT_WORDS: Final = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
"""Effort words on the wire, lowest first; ``none`` is the level ``off``."""
_BUDGET_KEYS: Final = tuple(level for level in THINKING_LEVELS if level != "off")

_GEMINI_25_PRO_BUDGETS: Final[Mapping[str, int]] = {"minimal": 128, "low": 2048, "medium": 8192, "high": 32768}
_GEMINI_25_FLASH_BUDGETS: Final[Mapping[str, int]] = {"minimal": 128, "low": 2048, "medium": 8192, "high": 24576}
_DYNAMIC_BUDGETS: Final[Mapping[str, int]] = dict.fromkeys(_BUDGET_LEVELS, -1)
"""``thinkingBudget: -1`` lets the model decide (Gemini models without a known table)."""

CLAUDE_MIN_THINKING_BUDGET: Final = 1024
"""Claude's smallest ``budget_tokens``; also the room kept for the answer when a budget shrinks to fit."""
CLAUDE_MIN_TOP_P_WHILE_THINKING: Final = 0.95
"""Claude takes ``top_p`` from 0.95 to 1 while thinking (and no ``top_k``, no forced tool call)."""
_ALWAYS_REASONING: Final = ("2.5-pro", "magistral")
"""Id parts of models that cannot stop thinking, for registry entries that list no controls:
Gemini 2.5 Pro (its budget starts at 128) and Magistral (``prompt_mode`` only adds instructions)."""
_FIRST_ADAPTIVE_CLAUDE: Final = (4, 6)
_FIRST_XHIGH_CLAUDE: Final = (4, 7)
_FIRST_STRUCTURED_OUTPUT_CLAUDE: Final = (4, 5)
_FIRST_XHIGH_GPT: Final = (5, 2)

# Bedrock model ids: an optional region of an inference profile, then the vendor.
_REGION_AND_VENDOR: Final = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?\.)?(?:anthropic|openai|google)\.")
_BEDROCK_REVISION: Final = re.compile(r"-v\d+$")
# claude-<tier>-<major>[-.<minor>]; a dated suffix (-20250514) is not a minor version.
_CLAUDE_VERSION: Final = re.compile(r"claude-(?:opus|sonnet|haiku|fable|mythos)-(\d+)(?:[.-](\d{1,2}))?(?!\d)")
_OPENAI_NAME: Final = re.compile(r"(?:gpt-|chatgpt-|codex-|o\d(?:-|$))")
_GPT_VERSION: Final = re.compile(r"gpt-(\d+)(?:\.(\d+))?")
_GEMINI_VERSION: Final = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


# --------------------------------------------------------------------------- ids and families


@lru_cache(maxsize=1024)
def normalize_model_id(model_id: str) -> str:
    """The bare model name in ``model_id``, lower case, whatever serves it.

    Drops a publisher or gateway prefix (``anthropic/``, ``~google/``, ``publishers/
    google/models/``, a Bedrock ARN up to its last ``/``), a Vertex ``@version`` or
    ``:variant`` tag, a Bedrock region and vendor (``us.anthropic.``) and revision
    (``-v1``): ``us.anthropic.claude-opus-4-6-v1:0`` -> ``claude-opus-4-6``.
    """
    name = model_id.strip().lower().rsplit("/", 1)[-1]
    name = name.split("@", 1)[0].split(":", 1)[0]
    name = _REGION_AND_VENDOR.sub("", name)
    return _BEDROCK_REVISION.sub("", name)


def model_family(model: Model) -> Family | None:
    """``"claude"``, ``"openai"`` or ``"gemini"`` from the model id; ``None`` for other models."""
    name = normalize_model_id(model.id)
    if name.startswith("claude"):
        return "claude"
    if name.startswith("gemini"):
        return "gemini"
    if _OPENAI_NAME.match(name):
        return "openai"
    return None


def is_claude(model: Model) -> bool:
    """Anthropic's Claude, served by any API (Anthropic, Bedrock, Vertex, OpenRouter, ...)."""
    return model_family(model) == "claude"


def is_openai(model: Model) -> bool:
    """OpenAI's GPT and o-series models, served by any API (OpenAI, Azure, OpenRouter, ...)."""
    return model_family(model) == "openai"


def is_gemini(model: Model) -> bool:
    """Google's Gemini models, served by any API (Gemini API, Vertex AI, OpenRouter, ...)."""
    return model_family(model) == "gemini"


def _version(pattern: re.Pattern[str], model: Model) -> tuple[int, int] | None:
    match = pattern.search(normalize_model_id(model.id))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def gemini_version(model: Model) -> tuple[int, int] | None:
    """``(major, minor)`` of a Gemini id (``gemini-2.5-flash`` -> ``(2, 5)``), ``None`` without one."""
    return _version(_GEMINI_VERSION, model)


def claude_version(model: Model) -> tuple[int, int] | None:
    """``(major, minor)`` of a Claude id of the 4-and-later naming (``claude-opus-4-6`` -> ``(4, 6)``)."""
    return _version(_CLAUDE_VERSION, model) if is_claude(model) else None


def claude_structured_outputs(model: Model) -> bool:
    """Whether Claude takes structured outputs: JSON outputs (``output_config.format``) and strict
    tool use (``strict: true`` on a tool), on Anthropic and Bedrock alike.

    Anthropic documents them for Claude Sonnet 4.5, Opus 4.5, Haiku 4.5 and the 4.6
    models (generally available; Opus 4.1 had them in beta only): by id, Claude 4.5
    and later, and Mythos.
    """
    if not is_claude(model):
        return False
    if "mythos" in normalize_model_id(model.id):
        return True
    version = claude_version(model)
    return version is not None and version >= _FIRST_STRUCTURED_OUTPUT_CLAUDE


def is_gemini3(model: Model) -> bool:
    """Gemini 3 and later, by id (multimodal function responses, thought-signature rules, thinking levels)."""
    version = _version(_GEMINI_VERSION, model) if is_gemini(model) else None
    return version is not None and version >= (3, 0)


# --------------------------------------------------------------------------- the registry's word


@dataclass(frozen=True, slots=True)
class BudgetRange:
    """The thinking budgets a model accepts (``None``: no bound known)."""

    minimum: int | None = None
    maximum: int | None = None


def _registry_option(model: Model, kind: str) -> dict[str, Any] | None:
    for option in model.reasoning_options:
        if option.get("type") == kind:
            return option
    return None


def listed_efforts(model: Model) -> tuple[str, ...] | None:
    """The effort values models.dev lists for ``model``, as listed; ``None`` when it lists no effort control."""
    option = _registry_option(model, "effort")
    if option is None:
        return None
    values = option.get("values")
    return tuple(value for value in values if isinstance(value, str)) if isinstance(values, list) else ()


def budget_range(model: Model) -> BudgetRange | None:
    """The thinking-budget range: the registry's, else the family's (Claude from 1024, Gemini 2.5 by tier)."""
    option = _registry_option(model, "budget_tokens")
    if option is not None:
        low, high = option.get("min"), option.get("max")
        return BudgetRange(low if isinstance(low, int) else None, high if isinstance(high, int) else None)
    if not model.reasoning:
        return None
    if is_claude(model):
        return BudgetRange(CLAUDE_MIN_THINKING_BUDGET)
    name = normalize_model_id(model.id)
    if "2.5-pro" in name:
        return BudgetRange(128, 32768)
    if "2.5-flash-lite" in name:
        return BudgetRange(512, 24576)
    if "2.5-flash" in name:
        return BudgetRange(0, 24576)
    return None


def _registry_allows_off(model: Model) -> bool | None:
    """Whether the registry says thinking can be turned off (a toggle, ``none``, a zero budget); ``None``: silent."""
    if not model.reasoning_options:
        return None
    if _registry_option(model, "toggle") is not None or "none" in (listed_efforts(model) or ()):
        return True
    budget = _registry_option(model, "budget_tokens")
    return budget is not None and budget.get("min") == 0


# --------------------------------------------------------------------------- efforts by family


def uses_adaptive_thinking(model: Model) -> bool:
    """Whether Claude thinks adaptively (``thinking: {type: "adaptive"}`` plus an effort).

    Claude 4.6 and later and Mythos, by id (registries disagree on the controls of the
    same model); an id without a version (``claude-opus-latest``) follows its registry
    entry: efforts listed and no budget.
    """
    if not is_claude(model):
        return False
    if "mythos" in normalize_model_id(model.id):
        return True
    version = claude_version(model)
    if version is not None:
        return version >= _FIRST_ADAPTIVE_CLAUDE
    return listed_efforts(model) is not None and _registry_option(model, "budget_tokens") is None


def _claude_efforts(model: Model) -> tuple[str, ...]:
    """Claude's efforts by id: adaptive models low..max (xhigh from 4.7), Opus 4.5 low..high."""
    if uses_adaptive_thinking(model):
        version = claude_version(model)
        newest = version is None or version >= _FIRST_XHIGH_CLAUDE
        return ("low", "medium", "high", "xhigh", "max") if newest else ("low", "medium", "high", "max")
    if claude_version(model) == (4, 5) and "opus" in normalize_model_id(model.id):
        return ("low", "medium", "high")
    return ()


def _openai_efforts(model: Model) -> tuple[str, ...]:
    """OpenAI's efforts by id (pi-ai's rules where it has them)."""
    name = normalize_model_id(model.id)
    version = _version(_GPT_VERSION, model)
    if version is None or version < (5, 0):
        return ("low", "medium", "high")  # o-series, gpt-oss
    if "-chat" in name:
        return ("medium",)
    if "-pro" in name:
        return ("high",) if version == (5, 0) else ("medium", "high", "xhigh")
    efforts = ["low", "medium", "high"]
    if "codex" not in name:
        efforts.insert(0, "minimal" if version == (5, 0) else "none")
    if version >= _FIRST_XHIGH_GPT or "gpt-5.1-codex-max" in name:
        efforts.append("xhigh")
    return tuple(efforts)


def _gemini_levels(model: Model) -> tuple[str, ...]:
    """Gemini 3's thinking levels by id: Flash all four, 3.1 Pro and later low..high, 3 Pro low and high."""
    name = normalize_model_id(model.id)
    if "flash" in name:
        return ("minimal", "low", "medium", "high")
    version = _version(_GEMINI_VERSION, model)
    if "pro" in name and version is not None and version > (3, 0):
        return ("low", "medium", "high")
    return ("low", "high")


def uses_thinking_levels(model: Model) -> bool:
    """Whether a Gemini takes ``thinkingLevel`` (Gemini 3, or a versionless id the registry gives efforts).

    The others take ``thinkingBudget``.
    """
    if not is_gemini(model):
        return False
    if is_gemini3(model):
        return True
    versionless = _version(_GEMINI_VERSION, model) is None
    return versionless and listed_efforts(model) is not None and _registry_option(model, "budget_tokens") is None


def effort_values(model: Model) -> tuple[str, ...]:
    """The effort words ``model`` takes, lowest first (``none`` means off); empty when it takes none.

    The registry's list first; else the family's id rules (OpenAI, adaptive Claude,
    Gemini 3 thinking levels in lower case). Words that are no effort (``default``) are dropped.
    """
    if not model.reasoning:
        return ()
    words = listed_efforts(model)
    if words is None:
        family = model_family(model)
        if family == "openai":
            words = _openai_efforts(model)
        elif family == "claude":
            words = _claude_efforts(model)
        elif uses_thinking_levels(model):
            words = _gemini_levels(model)
        else:
            words = ()
    return tuple(word for word in _EFFORT_WORDS if word in words)


def supports_xhigh(model: Model) -> bool:
    """Whether ``model`` takes the effort ``xhigh`` (see :func:`effort_values`)."""
    return "xhigh" in effort_values(model)


# --------------------------------------------------------------------------- levels


def _takes_budgets(model: Model) -> bool:
    """Claude before 4.6 and Gemini 2.5 are steered by a token budget rather than an effort."""
    family = model_family(model)
    if family == "claude":
        return not uses_adaptive_thinking(model)
    return family == "gemini" and not uses_thinking_levels(model)


def can_turn_off_thinking(model: Model) -> bool:
    """Whether ``off`` really turns thinking off (trivially true for a model without reasoning).

    Claude: always (no thinking block). OpenAI: where it takes effort ``none`` or
    ``minimal``. Gemini 3: never. Others: the registry's toggle, ``none`` effort or zero
    budget; without registry data, Gemini 2.5 Pro and Mistral's Magistral cannot and
    other models are assumed to.
    """
    if not model.reasoning:
        return True
    family = model_family(model)
    if family == "claude":
        return True
    if family == "openai":
        efforts = effort_values(model)
        return "none" in efforts or "minimal" in efforts
    if uses_thinking_levels(model):
        return False
    allowed = _registry_allows_off(model)
    if allowed is not None:
        return allowed
    name = normalize_model_id(model.id)
    return not any(part in name for part in _ALWAYS_REASONING)


def supported_thinking_levels(model: Model) -> tuple[ThinkingLevel, ...]:
    """The reasoning levels ``model`` takes, lowest first; ``("off",)`` for a model without reasoning."""
    if not isinstance(model, Model):
        raise TypeError(f"model must be an alchemy.Model, got {type(model).__name__}")
    if not model.reasoning:
        return ("off",)
    levels: tuple[ThinkingLevel, ...] = _BUDGET_LEVELS
    if not _takes_budgets(model):
        efforts = effort_values(model)
        on = tuple(level for level in THINKING_LEVELS if level != "off" and level in efforts)
        levels = on or _BUDGET_LEVELS
    return ("off", *levels) if can_turn_off_thinking(model) else levels


def _check_level(level: object) -> ThinkingLevel:
    if not isinstance(level, str):
        raise TypeError(f"reasoning level must be a str, got {type(level).__name__}")
    for known in THINKING_LEVELS:
        if level == known:
            return known
    raise ValueError(f"reasoning level must be one of {', '.join(map(repr, THINKING_LEVELS))}, got {level!r}")


def _nearest(level: ThinkingLevel, levels: tuple[ThinkingLevel, ...]) -> ThinkingLevel:
    """The level of ``levels`` closest to ``level`` on the scale, a tie going up."""
    rank = THINKING_LEVELS.index
    return min(levels, key=lambda candidate: (abs(rank(candidate) - rank(level)), -rank(candidate)))


def clamp_thinking_level(model: Model, level: str) -> ThinkingLevel:
    """A level ``model`` takes for the ``level`` asked (the rule is in the module docstring).

    Raises ``ValueError`` for ``off`` on a model that always thinks (except Gemini 3,
    where ``off`` is its lowest level) and for an unknown level; ``TypeError`` for a non-str.
    """
    wanted = _check_level(level)
    supported = supported_thinking_levels(model)
    if wanted in supported:
        return wanted
    thinking = tuple(candidate for candidate in supported if candidate != "off")
    if not thinking:
        return "off"
    if wanted != "off":
        return _nearest(wanted, thinking)
    if uses_thinking_levels(model):
        return thinking[0]
    raise ValueError(
        f"reasoning 'off' is not available for model {model.key}: it always reasons; "
        f"its lowest level is {thinking[0]!r}"
    )


# --------------------------------------------------------------------------- budgets


def _check_budgets(budgets: Mapping[str, int] | None) -> Mapping[str, int]:
    if budgets is None:
        return {}
    if not isinstance(budgets, Mapping):
        raise TypeError(f"thinking_budgets must be a mapping of level to tokens, got {type(budgets).__name__}")
    for level, tokens in budgets.items():
        if level not in _BUDGET_KEYS:
            raise ValueError(f"thinking_budgets key must be one of {', '.join(map(repr, _BUDGET_KEYS))}, got {level!r}")
        if isinstance(tokens, bool) or not isinstance(tokens, int):
            raise TypeError(f"thinking_budgets[{level!r}] must be an int, got {type(tokens).__name__}")
        if tokens < 0:
            raise ValueError(f"thinking_budgets[{level!r}] must be an int >= 0, got {tokens}")
    return budgets


def _pick_budget(level: ThinkingLevel, budgets: Mapping[str, int], table: Mapping[str, int]) -> tuple[int, bool]:
    """``(tokens, given)``: the caller's budget for ``level`` if any, else the table's (above high: high's)."""
    if level in budgets:
        return budgets[level], True
    key = level if level in _BUDGET_LEVELS else "high"
    if key in budgets:
        return budgets[key], True
    return table[key], False


def _fit(model: Model, level: ThinkingLevel, tokens: int, given: bool) -> int:
    """A default budget moved into the model's range; a caller's budget outside it raises ``ValueError``."""
    limits = budget_range(model)
    if tokens < 0 or limits is None:
        return tokens
    low, high = limits.minimum, limits.maximum
    if (low is None or tokens >= low) and (high is None or tokens <= high):
        return tokens
    if given:
        bounds = f"at least {low}" if high is None else f"between {low or 0} and {high}"
        raise ValueError(f"thinking_budgets[{level!r}] must be {bounds} tokens for model {model.key}, got {tokens}")
    if low is not None and tokens < low:
        return low
    return high if high is not None else tokens


def thinking_budget_for(level: str, budgets: Mapping[str, int] | None = None) -> int:
    """The token budget of ``level`` for gateways that take budgets only (0 for ``off``).

    ``budgets`` (``thinking_budgets``) wins; else :data:`DEFAULT_THINKING_BUDGETS`;
    ``xhigh`` and ``max`` use ``high``'s unless ``budgets`` gives them.
    """
    wanted = _check_level(level)
    given = _check_budgets(budgets)
    if wanted == "off":
        return 0
    return _pick_budget(wanted, given, DEFAULT_THINKING_BUDGETS)[0]


# --------------------------------------------------------------------------- per-family wire values


@dataclass(frozen=True, slots=True)
class ClaudeThinking:
    """Claude's thinking for one level: ``mode`` off, adaptive (with ``effort``) or budget (with ``budget_tokens``).

    ``interleaved_beta``: the ``interleaved-thinking-2025-05-14`` beta applies (budget thinking only).
    """

    mode: Literal["off", "adaptive", "budget"]
    effort: str | None = None
    budget_tokens: int | None = None
    interleaved_beta: bool = False

    def thinking_field(self) -> dict[str, Any] | None:
        """The request's ``thinking`` object, or ``None`` when thinking is off."""
        if self.mode == "adaptive":
            return {"type": "adaptive"}
        if self.mode == "budget":
            return {"type": "enabled", "budget_tokens": self.budget_tokens}
        return None

    def output_config(self) -> dict[str, Any] | None:
        """The request's ``output_config`` (the effort of adaptive thinking), or ``None``."""
        return {"effort": self.effort} if self.effort is not None else None


def claude_thinking(model: Model, level: str, budgets: Mapping[str, int] | None = None) -> ClaudeThinking:
    """How ``level`` reaches Claude (or another model behind an Anthropic-style API); see the module table.

    ``budgets`` (``thinking_budgets``) overrides the budgets of budget thinking; a
    given budget outside the model's range raises ``ValueError``.
    """
    given = _check_budgets(budgets)
    clamped = clamp_thinking_level(model, level)
    if clamped == "off":
        return ClaudeThinking("off")
    if uses_adaptive_thinking(model):
        return ClaudeThinking("adaptive", effort=clamped)
    wanted = _check_level(level)
    tokens, from_caller = _pick_budget(wanted if wanted in given else clamped, given, DEFAULT_THINKING_BUDGETS)
    return ClaudeThinking("budget", budget_tokens=_fit(model, wanted, tokens, from_caller), interleaved_beta=True)


def openai_reasoning_effort(model: Model, level: str) -> str | None:
    """The ``reasoning_effort`` / ``reasoning.effort`` of ``level``; see the module table.

    ``off`` is ``none`` where the model takes it, else ``minimal``; a model that
    always reasons raises ``ValueError``. ``None`` means send no effort: the model has
    no reasoning, or (outside OpenAI's family) it has no effort word for off and is
    turned off by other means (a toggle, or leaving the field out).
    """
    clamped = clamp_thinking_level(model, level)
    if not model.reasoning:
        return None
    if clamped != "off":
        return clamped
    efforts = effort_values(model)
    if "none" in efforts:
        return "none"
    return "minimal" if "minimal" in efforts else None


OPENAI_SAMPLING_OPTIONS: Final = ("top_p", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs")
"""The options OpenAI's reasoning models reject (temperature is dropped instead, see
:func:`alchemy.capabilities.drop_temperature`)."""


def openai_refused_sampling(model: Model, options: StreamOptions) -> str | None:
    """The first of :data:`OPENAI_SAMPLING_OPTIONS` in ``options`` that OpenAI's own API (or Azure's)
    refuses for ``model``, else ``None``.

    Its reasoning models reject them, except the ones that take the effort ``none``
    (GPT-5.1 and later, not the codex models) while they do not reason: effort ``none``,
    their default. The effort is ``reasoning_effort`` if given, else the one ``reasoning``
    maps to. ``logprobs=False`` asks for nothing and passes. The ``-chat`` models
    (``gpt-5-chat-latest``) are chat models, whatever the registry says, and take them.
    """
    if not model.reasoning or model_family(model) != "openai" or "-chat" in normalize_model_id(model.id):
        return None
    given = [
        name
        for name in OPENAI_SAMPLING_OPTIONS
        if getattr(options, name) is not None and not (name == "logprobs" and options.logprobs is False)
    ]
    if not given:
        return None
    effort = options.provider_options.get("reasoning_effort")
    if effort is None and options.reasoning is not None:
        effort = openai_reasoning_effort(model, options.reasoning)
    if "none" in effort_values(model) and effort in (None, "none"):
        return None
    return given[0]


def refuse_openai_sampling(model: Model, options: StreamOptions) -> None:
    """``ValueError`` naming the sampling option OpenAI would reject for ``model`` (see
    :func:`openai_refused_sampling`); both OpenAI APIs call it at the call."""
    name = openai_refused_sampling(model, options)
    if name is None:
        return
    hint = (
        "; it takes it while it does not reason: pass reasoning_effort='none' (or reasoning='off')"
        if "none" in effort_values(model)
        else ""
    )
    raise ValueError(
        f"option {name} cannot be sent to {model.key} on {model.api}: OpenAI's reasoning models reject it{hint}"
    )


@dataclass(frozen=True, slots=True)
class GeminiThinking:
    """Gemini's ``thinkingConfig`` for one level: a ``thinking_level`` (Gemini 3) or a ``thinking_budget``."""

    include_thoughts: bool
    thinking_budget: int | None = None
    thinking_level: str | None = None

    def config(self) -> dict[str, Any]:
        """The ``generationConfig.thinkingConfig`` object."""
        config: dict[str, Any] = {"includeThoughts": self.include_thoughts}
        if self.thinking_level is not None:
            config["thinkingLevel"] = self.thinking_level
        else:
            config["thinkingBudget"] = self.thinking_budget
        return config


def _gemini_budget_table(model: Model) -> Mapping[str, int]:
    name = normalize_model_id(model.id)
    if "2.5-pro" in name:
        return _GEMINI_25_PRO_BUDGETS
    if "2.5-flash" in name:
        return _GEMINI_25_FLASH_BUDGETS
    return _DYNAMIC_BUDGETS


def gemini_thinking(model: Model, level: str, budgets: Mapping[str, int] | None = None) -> GeminiThinking | None:
    """Gemini's ``thinkingConfig`` for ``level``; ``None`` (send none) for a model without reasoning.

    See the module table; ``budgets`` (``thinking_budgets``) overrides the budgets of
    Gemini 2.5, and a given budget outside the model's range raises ``ValueError``.
    """
    given = _check_budgets(budgets)
    clamped = clamp_thinking_level(model, level)
    if not model.reasoning:
        return None
    wanted = _check_level(level)
    if uses_thinking_levels(model):
        return GeminiThinking(include_thoughts=wanted != "off", thinking_level=clamped.upper())
    if clamped == "off":
        return GeminiThinking(include_thoughts=False, thinking_budget=0)
    tokens, from_caller = _pick_budget(wanted if wanted in given else clamped, given, _gemini_budget_table(model))
    return GeminiThinking(include_thoughts=True, thinking_budget=_fit(model, wanted, tokens, from_caller))


def fit_claude_thinking_budget(max_tokens: int, budget: int, model_max: int, *, always_add: bool) -> tuple[int, int]:
    """``(max_tokens, budget)`` with ``max_tokens`` above the budget, as Claude requires (here and on Bedrock).

    ``max_tokens`` grows by the budget (capped at the model's output limit): always
    for ``stream_simple`` (its ``max_tokens`` is room for the answer, as in pi-ai),
    otherwise only when it does not exceed the budget. If the limit leaves no room,
    the budget shrinks to leave ``CLAUDE_MIN_THINKING_BUDGET`` tokens for the answer.
    """
    if max_tokens > budget and not always_add:
        return max_tokens, budget
    wanted = max_tokens + budget
    if model_max > 0:
        wanted = min(wanted, model_max)
    if wanted <= budget:
        budget = wanted - CLAUDE_MIN_THINKING_BUDGET
        if budget < CLAUDE_MIN_THINKING_BUDGET:
            raise ValueError(
                f"options max_tokens and thinking_budget_tokens: max_tokens {wanted} (the model's limit is "
                f"{model_max}) leaves no room for thinking; Anthropic needs budget_tokens of at least "
                f"{CLAUDE_MIN_THINKING_BUDGET} and below max_tokens"
            )
    return wanted, budget


# --------------------------------------------------------------------------- the documented table

_TABLE_ROWS: Final = (
    # (family, wire field, example model id, its family: claude | openai | gemini); no id: budgets alone
    ("Claude 4.7 and later", "`output_config.effort`", "claude-opus-4-7", "claude"),
    ("Claude 4.6", "`output_config.effort`", "claude-opus-4-6", "claude"),
    ("Claude 4.5 and older", "`thinking.budget_tokens`", "claude-sonnet-4-5", "claude"),
    ("GPT-5.2 and later", "`reasoning_effort` / `reasoning.effort`", "gpt-5.2", "openai"),
    ("GPT-5.1", "`reasoning_effort` / `reasoning.effort`", "gpt-5.1", "openai"),
    ("GPT-5", "`reasoning_effort` / `reasoning.effort`", "gpt-5", "openai"),
    ("o1, o3, o4-mini", "`reasoning_effort` / `reasoning.effort`", "o3", "openai"),
    ("Gemini 3 Pro", "`thinkingLevel`", "gemini-3-pro-preview", "gemini"),
    ("Gemini 3.1 Pro", "`thinkingLevel`", "gemini-3.1-pro-preview", "gemini"),
    ("Gemini 3 Flash", "`thinkingLevel`", "gemini-3-flash-preview", "gemini"),
    ("Gemini 2.5 Pro", "`thinkingBudget`", "gemini-2.5-pro", "gemini"),
    ("Gemini 2.5 Flash", "`thinkingBudget`", "gemini-2.5-flash", "gemini"),
    ("Gemini 2.5 Flash-Lite", "`thinkingBudget`", "gemini-2.5-flash-lite", "gemini"),
    ("budget-only gateway models", "`reasoning.max_tokens`", "", ""),
)
"""The rows of :func:`reasoning_table`: one model built by hand per family (no registry data)."""


def _table_cell(kind: str, model: Model | None, level: ThinkingLevel) -> str:
    """What ``level`` sends to ``model`` in the field of its row; ``error`` where it raises ``ValueError``."""
    try:
        if model is None:  # the gateway row: budgets alone, whatever the model
            budget = thinking_budget_for(level)
            return str(budget) if budget else "`enabled: false`"
        if kind == "claude":
            claude = claude_thinking(model, level)
            if claude.mode == "off":
                return "no thinking"
            return f"`{claude.effort}`" if claude.mode == "adaptive" else str(claude.budget_tokens)
        if kind == "gemini":
            gemini = gemini_thinking(model, level)
            assert gemini is not None  # a reasoning model always gets a thinkingConfig
            value = f"`{gemini.thinking_level}`" if gemini.thinking_level else str(gemini.thinking_budget)
            hidden = not gemini.include_thoughts and gemini.thinking_budget != 0
            return f"{value}, thoughts hidden" if hidden else value
        return f"`{openai_reasoning_effort(model, level)}`"
    except ValueError:
        return "error"


def reasoning_table() -> str:
    """The README's level x family table (``python -m alchemy.model_facts`` prints it)."""
    from .types import Model

    header = ["family", "field", *THINKING_LEVELS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for family, field, model_id, kind in _TABLE_ROWS:
        model = None
        if model_id:
            model = Model(id=model_id, name=model_id, api="openai-completions", provider="", base_url="", reasoning=True)
        cells = [_table_cell(kind, model, level) for level in THINKING_LEVELS]
        lines.append("| " + " | ".join([family, field, *cells]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(reasoning_table())
