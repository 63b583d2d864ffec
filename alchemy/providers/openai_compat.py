"""The quirks of OpenAI-Chat-Completions servers (``model.compat``), resolved for one request.

OpenAI's Chat Completions API is spoken by most of the field, each server with its
own deviations: some reject ``store`` or the ``developer`` role, some want
``max_tokens`` instead of ``max_completion_tokens``, some switch reasoning on with
their own field. :class:`CompletionsCompat` holds the 14 flags that describe them
(pi-ai's ``OpenAICompletionsCompat`` under snake_case names, plus ``reasoning_budget_only``):

==========================================  ===========================================================
flag                                        effect on the request
==========================================  ===========================================================
``supports_store``                          send ``store: false``
``supports_developer_role``                 system prompt as ``developer`` for reasoning models
``supports_reasoning_effort``               send ``reasoning_effort``
``reasoning_effort_map``                    level -> the value the server wants (``{"xhigh": "high"}``)
``supports_usage_in_streaming``             send ``stream_options: {include_usage: true}``
``max_tokens_field``                        ``"max_completion_tokens"`` or ``"max_tokens"``
``requires_tool_result_name``               ``name`` on ``tool`` messages
``requires_assistant_after_tool_result``    a short assistant turn between tool results and a user turn
``requires_thinking_as_text``               earlier reasoning replayed as plain text
``thinking_format``                         how reasoning is switched on and sized (table below)
``reasoning_budget_only``                   ``openrouter`` format: the model takes a token budget
                                            (``reasoning.max_tokens``) and no effort
``open_router_routing``                     the ``provider`` routing object (openrouter.ai only)
``vercel_gateway_routing``                  ``providerOptions.gateway`` (ai-gateway.vercel.sh only)
``supports_strict_mode``                    ``strict: false`` in tool definitions
==========================================  ===========================================================

The thinking formats (``level`` is the ``reasoning`` option, mapped through
:mod:`alchemy.model_facts`; an explicit ``reasoning_effort`` is sent as given):

=================  ================================================================================
format             request fields
=================  ================================================================================
``openai``         ``reasoning_effort`` (OpenAI's effort words; ``off`` is ``none`` or ``minimal``)
``zai``            ``thinking: {type: enabled | disabled}`` (z.ai GLM; no level means disabled)
``qwen``           ``enable_thinking`` (+ ``thinking_budget`` from ``thinking_budgets``); DashScope
``chat-template``  ``chat_template_kwargs: {enable_thinking}`` (+ ``thinking_budget`` from
                   ``thinking_budgets``, for templates that read one): local vLLM / SGLang servers
                   whose chat template switches thinking (Qwen3 and the like); no level means off.
                   ``qwen-chat-template`` is accepted as its old name
``deepseek``       ``thinking: {type: enabled | disabled}`` plus ``reasoning_effort``; earlier
                   reasoning goes back as ``reasoning_content`` on every assistant turn of the
                   model (DeepSeek rejects a tool-call turn without it)
``openrouter``     ``reasoning: {effort}`` for every level (``max`` is ``xhigh`` where the model
                   takes it, else ``high``; ``off`` is ``{effort: "none"}``, OpenRouter's documented
                   word), or ``reasoning: {max_tokens}`` for ``reasoning_budget_only`` models and for
                   a level ``thinking_budgets`` names (``off``: ``{enabled: false}``); also the
                   Vercel AI Gateway, which takes the same object
=================  ================================================================================

Precedence, weakest first (each layer replaces the flags it names):

1. the defaults of :class:`CompletionsCompat` (OpenAI's own API);
2. detection from the provider id or the host of ``model.base_url`` (the server the
   model lives on; ``ALCHEMY_BASE_URL_OVERRIDE`` does not change it): a server that is
   not OpenAI's own (``api.openai.com``, Azure OpenAI, provider ``openai``) gets the
   shape every compatible server accepts (no ``store``, ``system`` role,
   ``max_tokens``), then known servers get their quirks (z.ai, xAI, chutes, Groq's
   Qwen3, DeepSeek's thinking switch, the reasoning object of OpenRouter and the
   Vercel AI Gateway);
3. ``model.compat`` -- for registry models this already folds in, weakest first, the
   wire API's table, the provider's table, the provider's per-model rules and the
   per-model overrides of ``alchemy/models/data/overrides.toml``; for a model you
   build, what you wrote;
4. :func:`set_provider_compat` -- runtime overrides for every model of one provider
   id (they beat the bundled data, so a deployment can correct a provider without
   regenerating the registry);
5. the ``compat`` option of one call (``alchemy.stream(model, ctx, compat={...})``).

Keys may be given in snake_case (alchemy) or camelCase (pi-ai's JSON).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final
from urllib.parse import urlsplit

from ..model_facts import THINKING_LEVELS
from ..types import Model

__all__ = [
    "COMPAT_FLAGS",
    "THINKING_FORMATS",
    "CompletionsCompat",
    "clear_provider_compat",
    "detect_compat",
    "provider_compat",
    "resolve_compat",
    "set_provider_compat",
]

THINKING_FORMATS: Final = ("openai", "zai", "qwen", "chat-template", "deepseek", "openrouter")
"""The values of ``thinking_format`` (see the module docstring)."""
THINKING_FORMAT_ALIASES: Final[Mapping[str, str]] = {"qwen-chat-template": "chat-template"}
"""Older names of thinking formats, accepted and read as the current one."""
MAX_TOKENS_FIELDS: Final = ("max_completion_tokens", "max_tokens")
_EFFORT_KEYS: Final = ("none", *THINKING_LEVELS[1:])
"""The keys of ``reasoning_effort_map``: the effort words (``none`` is the level ``off``)."""


@dataclass(frozen=True, slots=True)
class CompletionsCompat:
    """The resolved quirks of one Chat Completions server (defaults: OpenAI's own API)."""

    supports_store: bool = True
    supports_developer_role: bool = True
    supports_reasoning_effort: bool = True
    reasoning_effort_map: Mapping[str, str] = field(default_factory=dict)
    supports_usage_in_streaming: bool = True
    max_tokens_field: str = "max_completion_tokens"
    requires_tool_result_name: bool = False
    requires_assistant_after_tool_result: bool = False
    requires_thinking_as_text: bool = False
    thinking_format: str = "openai"
    open_router_routing: Mapping[str, Any] | None = None
    vercel_gateway_routing: Mapping[str, Any] | None = None
    supports_strict_mode: bool = True
    reasoning_budget_only: bool = False

    def with_overrides(self, overrides: Mapping[str, Any] | None, source: str) -> CompletionsCompat:
        """A copy with ``overrides`` applied (checked; ``source`` names them in errors)."""
        if not overrides:
            return self
        return replace(self, **check_compat(overrides, source))


COMPAT_FLAGS: Final = tuple(f.name for f in fields(CompletionsCompat))
"""The 14 flag names, pi-ai's 13 in its order, then alchemy's own."""

_BOOL_FLAGS: Final = frozenset(
    name for name in COMPAT_FLAGS if name.startswith(("supports_", "requires_")) or name == "reasoning_budget_only"
)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _check_routing(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a mapping such as {{'order': ['anthropic']}}, got {type(value).__name__}")
    routing = dict(value)
    for key in ("only", "order", "ignore"):
        items = routing.get(key)
        if items is None:
            continue
        if (
            isinstance(items, str)
            or not isinstance(items, (list, tuple))
            or not all(isinstance(item, str) and item for item in items)
        ):
            raise TypeError(f"{where}.{key} must be a list of provider names (strings), got {items!r}")
        routing[key] = list(items)
    return routing


def check_compat(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Checks compat flags (snake_case or camelCase keys); returns them under snake_case names.

    Raises ``ValueError`` for an unknown flag and ``TypeError`` / ``ValueError`` for a
    value of the wrong type, naming ``source`` (``model.compat``, the option, ...).
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"{source} must be a mapping of compat flags, got {type(values).__name__}")
    checked: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = _snake(raw_key) if isinstance(raw_key, str) else raw_key
        where = f"{source}[{raw_key!r}]"
        if key not in COMPAT_FLAGS:
            raise ValueError(f"{where}: unknown compat flag; the flags are {', '.join(COMPAT_FLAGS)}")
        if value is None:
            if key in ("open_router_routing", "vercel_gateway_routing"):
                checked[key] = None
                continue
            raise TypeError(f"{where} must not be None")
        if key in _BOOL_FLAGS:
            if not isinstance(value, bool):
                raise TypeError(f"{where} must be true or false, got {value!r}")
        elif key == "max_tokens_field":
            if value not in MAX_TOKENS_FIELDS:
                raise ValueError(f"{where} must be one of {', '.join(map(repr, MAX_TOKENS_FIELDS))}, got {value!r}")
        elif key == "thinking_format":
            value = THINKING_FORMAT_ALIASES.get(value, value) if isinstance(value, str) else value
            if value not in THINKING_FORMATS:
                raise ValueError(f"{where} must be one of {', '.join(map(repr, THINKING_FORMATS))}, got {value!r}")
        elif key == "reasoning_effort_map":
            if not isinstance(value, Mapping):
                raise TypeError(f"{where} must map reasoning levels to strings, got {type(value).__name__}")
            for level, effort in value.items():
                if level not in _EFFORT_KEYS or not isinstance(effort, str) or not effort:
                    raise ValueError(
                        f"{where} must map levels ({', '.join(_EFFORT_KEYS)}) to non-empty strings, "
                        f"got {level!r}: {effort!r}"
                    )
            value = dict(value)
        else:  # the two routing objects
            value = _check_routing(value, where)
        checked[key] = value
    return checked


# --------------------------------------------------------------------------- detection

_OPENAI_HOSTS: Final = ("api.openai.com",)
_OPENAI_HOST_SUFFIXES: Final = (".openai.azure.com", ".cognitiveservices.azure.com")
_OPENAI_PROVIDERS: Final = frozenset({"openai", "azure", "azure-openai-responses", "azure-cognitive-services"})

_COMPATIBLE_SHAPE: Final[dict[str, Any]] = {
    "supports_store": False,
    "supports_developer_role": False,
    "max_tokens_field": "max_tokens",
}
_ALL_LEVELS_DEFAULT: Final = {level: "default" for level in ("minimal", "low", "medium", "high", "xhigh")}


def _host(base_url: str) -> str:
    try:
        return (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return ""


def is_openai_host(base_url: str) -> bool:
    """Whether ``base_url`` is OpenAI's own API (or Azure OpenAI, which follows it)."""
    host = _host(base_url)
    return host in _OPENAI_HOSTS or host.endswith(_OPENAI_HOST_SUFFIXES)


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def detect_compat(model: Model, base_url: str | None = None) -> CompletionsCompat:
    """The flags detected from the base URL's host and the provider id (layer 2).

    ``base_url`` defaults to ``model.base_url`` (pass the resolved one when a
    placeholder or an override changed it).
    """
    url = model.base_url if base_url is None else base_url
    host = _host(url)
    provider = model.provider
    detected: dict[str, Any] = {}
    openai = provider in _OPENAI_PROVIDERS or is_openai_host(url)
    if not openai:
        detected.update(_COMPATIBLE_SHAPE)

    zai = (
        provider in ("zai", "zai-coding-plan", "zhipuai", "zhipuai-coding-plan")
        or _on(host, "z.ai")
        or _on(host, "bigmodel.cn")
    )
    xai = provider == "xai" or _on(host, "x.ai")
    chutes = provider == "chutes" or _on(host, "chutes.ai")
    if zai:
        detected.update(supports_reasoning_effort=False, thinking_format="zai")
    if xai:
        detected["supports_reasoning_effort"] = False  # xAI rejects reasoning_effort on its reasoning models
    if chutes:
        detected["max_tokens_field"] = "max_tokens"  # chutes.ai ignores max_completion_tokens
    if (provider == "groq" or _on(host, "groq.com")) and model.id == "qwen/qwen3-32b":
        detected["reasoning_effort_map"] = dict(_ALL_LEVELS_DEFAULT)  # Groq's Qwen3 takes only "default"
    if provider == "deepseek" or _on(host, "deepseek.com"):
        detected["thinking_format"] = "deepseek"
    if provider in ("openrouter", "vercel") or _on(host, "openrouter.ai") or _on(host, "ai-gateway.vercel.sh"):
        detected["thinking_format"] = "openrouter"  # the Vercel AI Gateway takes OpenRouter's reasoning object
    return CompletionsCompat(**detected) if detected else CompletionsCompat()


# --------------------------------------------------------------------------- runtime overrides

_lock = threading.Lock()
_provider_overrides: dict[str, dict[str, Any]] = {}


def set_provider_compat(provider: str, **flags: Any) -> None:
    """Overrides compat flags for every model of ``provider`` (layer 4; beats the registry).

    ``set_provider_compat("together", supports_strict_mode=False)``. Calling again
    adds to (and replaces) the flags given before; :func:`clear_provider_compat`
    removes them.
    """
    if not isinstance(provider, str) or not provider:
        raise TypeError(f"provider must be a non-empty string, got {provider!r}")
    checked = check_compat(flags, f"set_provider_compat({provider!r})")
    with _lock:
        _provider_overrides.setdefault(provider, {}).update(checked)


def clear_provider_compat(provider: str | None = None) -> None:
    """Removes the runtime overrides of ``provider`` (of every provider when ``None``)."""
    if provider is not None and not isinstance(provider, str):
        raise TypeError(f"clear_provider_compat() provider must be a str or None, got {type(provider).__name__}")
    with _lock:
        if provider is None:
            _provider_overrides.clear()
        else:
            _provider_overrides.pop(provider, None)


def provider_compat(provider: str) -> dict[str, Any]:
    """The runtime overrides set for ``provider`` (a copy; empty when none)."""
    with _lock:
        return dict(_provider_overrides.get(provider, {}))


def resolve_compat(
    model: Model, *, base_url: str | None = None, overrides: Mapping[str, Any] | None = None
) -> CompletionsCompat:
    """The flags for one request to ``model``: every layer of the module docstring applied."""
    compat = detect_compat(model, base_url)
    compat = compat.with_overrides(model.compat, f"compat of model {model.provider}/{model.id}")
    with _lock:
        runtime = _provider_overrides.get(model.provider)
    if runtime:
        compat = replace(compat, **runtime)
    return compat.with_overrides(overrides, "option compat")
