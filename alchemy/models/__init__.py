"""The model registry: every model alchemy can call, with its limits, capabilities and prices.

The data comes from one bundled snapshot of models.dev (``data/models.json``, built
by ``tools/generate_models.py`` with the corrections in ``data/overrides.toml``) and
is loaded with orjson on first use, never at import. ``refresh_models()`` can
replace it with the live catalogue, on request only.

Lookup::

    get_model("anthropic", "claude-sonnet-4-20250514")
    get_model("anthropic/claude-sonnet-4-20250514")
    get_models("groq", tools=True, min_context=100_000)
    search_models("sonnet 4.5")

Conventions the transports rely on: ``Model.base_url`` is the API root (for
``anthropic-messages`` without ``/v1``; ``google-generative-ai`` ends in ``/v1beta``)
and may hold ``${VAR}`` placeholders, filled by :func:`resolve_base_url` at call
time; :func:`get_env_api_key` finds the key (or :data:`AUTHENTICATED` for
credential-set providers such as Bedrock and Vertex); :func:`calculate_cost` turns a
``Usage`` into a ``Cost``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ._cost import SERVICE_TIER_MULTIPLIERS, calculate_cost, select_tier
from ._env import AUTHENTICATED, get_env_api_key, resolve_base_url
from ._lookup import (
    PROVIDER_ALIASES,
    get_model,
    get_models,
    get_providers,
    register_model,
    search_models,
    unregister_model,
)
from ._refresh import DEFAULT_URL, RefreshResult, refresh_models
from ._registry import ProviderInfo, cache_dir, registry
from ._vendor import detect_vendor, martian_path

__all__ = [
    "AUTHENTICATED",
    "DEFAULT_URL",
    "PROVIDER_ALIASES",
    "SERVICE_TIER_MULTIPLIERS",
    "ProviderInfo",
    "RefreshResult",
    "RegistryInfo",
    "cache_dir",
    "calculate_cost",
    "detect_vendor",
    "get_env_api_key",
    "get_model",
    "get_models",
    "get_provider",
    "get_providers",
    "martian_path",
    "refresh_models",
    "register_model",
    "registry_info",
    "resolve_base_url",
    "search_models",
    "select_tier",
    "unregister_model",
]


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    """Where the registry in use came from: ``origin`` is ``bundled``, ``cache`` or ``network``."""

    origin: str
    date: dt.date
    source: dict[str, object]
    providers: int
    models: int
    cache_file: Path


def registry_info() -> RegistryInfo:
    """The origin, date and size of the registry data in use."""
    reg = registry()
    return RegistryInfo(reg.origin, reg.date, dict(reg.source), len(reg.providers), reg.model_count, cache_dir() / "models.json")


def get_provider(provider: str) -> ProviderInfo:
    """A registry provider's wire API, base URL, key variables and docs link."""
    reg = registry()
    info = reg.provider_info(PROVIDER_ALIASES.get(provider, provider) if provider not in reg.providers else provider)
    if info is None:
        from ..errors import ModelNotFoundError

        import difflib

        close = tuple(difflib.get_close_matches(provider, list(reg.providers), n=5, cutoff=0.6))
        hint = f"; did you mean: {', '.join(close)}?" if close else "; see get_providers()"
        raise ModelNotFoundError(f"no provider {provider!r} in the registry{hint}", query=provider, suggestions=close)
    return info
