"""Finding models: by key, by filters, by fuzzy text; and adding your own."""

from __future__ import annotations

import threading

from .._args import need_bool, need_count, need_number, need_text
from ..errors import ModelNotFoundError
from ..types import Model
from ._registry import Registry, registry

__all__ = [
    "PROVIDER_ALIASES",
    "get_model",
    "get_models",
    "get_providers",
    "register_model",
    "search_models",
    "unregister_model",
]

# pi-ai's provider names that differ from models.dev's, so pi-ai users' keys work here.
PROVIDER_ALIASES: dict[str, str] = {
    "vercel-ai-gateway": "vercel",
    "kimi-coding": "kimi-for-coding",
    "azure-openai-responses": "azure",
    "bedrock": "amazon-bedrock",
    "vertex": "google-vertex",
    "gemini": "google",
    "together": "togetherai",
}

_custom: dict[str, dict[str, Model]] = {}
_custom_lock = threading.Lock()


def register_model(model: Model, *, replace: bool = True) -> Model:
    """Adds a hand-built model (Ollama, vLLM, LM Studio, a proxy, ...) to the lookup.

    It is found by ``get_model(model.provider, model.id)`` and listed by
    ``get_models``; it shadows a registry model with the same key and survives
    ``refresh_models``. With ``replace=False`` an existing custom model of that key
    raises ``ValueError``. Returns the model.
    """
    if not isinstance(model, Model):
        raise TypeError(f"register_model expects an alchemy.Model, got {type(model).__name__}")
    need_bool("register_model()", "replace", replace)
    if not model.provider or not model.id:
        raise ValueError("register_model: the model needs a provider and an id")
    with _custom_lock:
        models = _custom.setdefault(model.provider, {})
        if not replace and model.id in models:
            raise ValueError(f"a custom model {model.key} is already registered (pass replace=True)")
        models[model.id] = model
    return model


def unregister_model(provider: str, model_id: str) -> bool:
    """Removes a custom model; True if there was one."""
    with _custom_lock:
        removed = _custom.get(provider, {}).pop(model_id, None)
        if provider in _custom and not _custom[provider]:
            del _custom[provider]
    return removed is not None


def _canonical_provider(provider: str, reg: Registry) -> str:
    if provider in reg.providers or provider in _custom:
        return provider
    return PROVIDER_ALIASES.get(provider, provider)


def _find(reg: Registry, provider: str, model_id: str) -> Model | None:
    custom = _custom.get(provider)
    if custom is not None and model_id in custom:
        return custom[model_id]
    return reg.model(provider, model_id)


def _first_party(reg: Registry, model_id: str, providers: list[str]) -> str | None:
    from ._vendor import canonical_vendor

    for pid in providers:
        model = reg.model(pid, model_id)
        if model is not None and model.vendor and canonical_vendor(pid) == model.vendor:
            return pid
    return None


def _suggestions(reg: Registry, query: str, provider: str | None) -> tuple[str, ...]:
    import difflib

    if provider is not None and (provider in reg.providers or provider in _custom):
        pool = [f"{provider}/{mid}" for mid in (*reg.records(provider), *_custom.get(provider, {}))]
        wanted = f"{provider}/{query}"
    else:
        pool = [f"{pid}/{mid}" for pid in reg.providers for mid in reg.records(pid)]
        pool += [m.key for models in _custom.values() for m in models.values()]
        wanted = query
    lowered = wanted.lower()
    close = difflib.get_close_matches(lowered, [p.lower() for p in pool], n=5, cutoff=0.6)
    by_lower = {p.lower(): p for p in pool}
    found = [by_lower[c] for c in close]
    tail = query.lower().rsplit("/", 1)[-1]
    if len(found) < 5 and len(tail) >= 3:
        found += [p for p in pool if tail in p.lower() and p not in found][: 5 - len(found)]
    return tuple(found)


def _not_found(reg: Registry, query: str, provider: str | None, why: str | None = None) -> ModelNotFoundError:
    suggestions = _suggestions(reg, query, provider)
    shown = f"{provider}/{query}" if provider else query
    message = why or f"no model {shown!r} in the registry"
    if provider is not None and provider not in reg.providers and provider not in _custom:
        message += f" (unknown provider {provider!r}; see get_providers())"
    if suggestions:
        message += "; did you mean: " + ", ".join(suggestions) + "?"
    else:
        message += "; search_models() finds models by name"
    return ModelNotFoundError(message, query=shown, suggestions=suggestions)


def get_model(provider_or_key: str, model_id: str | None = None) -> Model:
    """A model by provider and id, in any of these forms::

        get_model("anthropic", "claude-sonnet-4-20250514")
        get_model("anthropic/claude-sonnet-4-20250514")
        get_model("openrouter/meta/llama-3.3-70b-instruct")   # martian path
        get_model("claude-sonnet-4-20250514")                 # bare id: the vendor's own
                                                              # provider, or the only one

    Raises :class:`~alchemy.errors.ModelNotFoundError` with the closest matches.
    """
    need_text("get_model()", "provider_or_key", provider_or_key, empty=False)
    need_text("get_model()", "model_id", model_id, empty=False, optional=True)
    reg = registry()
    if model_id is not None:
        provider = _canonical_provider(provider_or_key, reg)
        found = _find(reg, provider, model_id)
        if found is None:
            raise _not_found(reg, model_id, provider)
        return found
    key = provider_or_key
    head, sep, rest = key.partition("/")
    if sep:
        provider = _canonical_provider(head, reg)
        if provider in reg.providers or provider in _custom:
            found = _find(reg, provider, rest)
            if found is not None:
                return found
            located = reg.by_path(f"{provider}/{rest}")
            if located is not None:
                found = _find(reg, *located)
                if found is not None:
                    return found
            raise _not_found(reg, rest, provider)
    return _bare(reg, key)


def _bare(reg: Registry, model_id: str) -> Model:
    providers = list(reg.providers_of(model_id))
    providers += [pid for pid, models in _custom.items() if model_id in models and pid not in providers]
    if len(providers) == 1:
        found = _find(reg, providers[0], model_id)
        assert found is not None
        return found
    if providers:
        first = _first_party(reg, model_id, providers)
        if first is not None:
            found = _find(reg, first, model_id)
            assert found is not None
            return found
        keys = ", ".join(f"{pid}/{model_id}" for pid in providers[:8])
        more = f" and {len(providers) - 8} more" if len(providers) > 8 else ""
        raise ModelNotFoundError(
            f"{model_id!r} is served by several providers ({keys}{more}); give the provider, "
            f"e.g. get_model({providers[0]!r}, {model_id!r})",
            query=model_id,
            suggestions=tuple(f"{pid}/{model_id}" for pid in providers),
        )
    raise _not_found(reg, model_id, None)


def get_providers() -> list[str]:
    """Every provider id with at least one model (custom providers included), sorted."""
    reg = registry()
    return sorted(set(reg.providers) | set(_custom))


def _all(reg: Registry, provider: str | None) -> list[Model]:
    if provider is not None:
        provider = _canonical_provider(provider, reg)
        custom = _custom.get(provider, {})
        listed = [m for m in reg.models(provider) if m.id not in custom] if provider in reg.providers else []
        return listed + list(custom.values())
    out: list[Model] = []
    for pid in sorted(set(reg.providers) | set(_custom)):
        out += _all(reg, pid)
    return out


def get_models(
    provider: str | None = None,
    *,
    vision: bool | None = None,
    tools: bool | None = None,
    reasoning: bool | None = None,
    min_context: int | None = None,
    max_input_cost: float | None = None,
    max_output_cost: float | None = None,
    open_weights: bool | None = None,
    api: str | None = None,
    include_deprecated: bool = False,
) -> list[Model]:
    """Models matching every given filter, sorted by provider then id.

    A boolean filter keeps the models whose flag equals it; ``min_context`` needs
    a known context window of at least that many tokens; the cost filters ($ per
    million tokens) need a known price at or below the bound (unknown prices never
    pass). Deprecated models are left out unless ``include_deprecated``.
    """
    owner = "get_models()"
    need_text(owner, "provider", provider, empty=False, optional=True)
    for name, flag in (("vision", vision), ("tools", tools), ("reasoning", reasoning), ("open_weights", open_weights)):
        need_bool(owner, name, flag, optional=True)
    need_count(owner, "min_context", min_context, optional=True)
    need_number(owner, "max_input_cost", max_input_cost, minimum=0, optional=True)
    need_number(owner, "max_output_cost", max_output_cost, minimum=0, optional=True)
    need_text(owner, "api", api, empty=False, optional=True)
    need_bool(owner, "include_deprecated", include_deprecated)
    selected = []
    for model in _all(registry(), provider):
        caps = model.caps
        if not include_deprecated and model.deprecated:
            continue
        if vision is not None and caps.supports_vision != vision:
            continue
        if tools is not None and caps.supports_tools != tools:
            continue
        if reasoning is not None and model.reasoning != reasoning:
            continue
        if min_context is not None and model.context_window < min_context:
            continue
        if max_input_cost is not None and (model.cost.input is None or model.cost.input > max_input_cost):
            continue
        if max_output_cost is not None and (model.cost.output is None or model.cost.output > max_output_cost):
            continue
        if open_weights is not None and model.open_weights is not open_weights:
            continue
        if api is not None and model.api != api:
            continue
        selected.append(model)
    return selected


_FUZZY_CUT = 0.6
"""The similarity ratio a model's id, name or key must reach to be found by a fuzzy query."""


def _may_beat(bound: float, score: float) -> bool:
    """Whether a ratio at most ``bound`` can beat ``score`` and reach the cut."""
    return bound > score and bound >= _FUZZY_CUT


def search_models(text: str, *, limit: int = 10, include_deprecated: bool = False) -> list[Model]:
    """Models whose id or name resemble ``text``, best first (case-insensitive, fuzzy).

    Every word of ``text`` found in the id or name scores highest; otherwise the
    similarity ratio of the closest of id, name and ``provider/id`` decides (0.6 at
    least). The work is bounded by the registry, whatever the length of ``text``:
    beyond reading it once, a query longer than every id, name and key can neither
    contain only words found in one nor reach the ratio, so neither is computed.
    """
    need_text("search_models()", "text", text)
    need_count("search_models()", "limit", limit, minimum=1)
    need_bool("search_models()", "include_deprecated", include_deprecated)
    import difflib

    query = text.strip().lower()
    if not query:
        return []
    words = list(dict.fromkeys(query.replace("/", " ").split()))  # each distinct word once
    candidates = [
        (model, (model.id.lower(), model.name.lower(), model.key.lower()))
        for model in _all(registry(), None)
        if include_deprecated or not model.deprecated
    ]
    longest = max((len(h) for _, haystacks in candidates for h in haystacks), default=0)
    # A word longer than every haystack is in none of them; and a ratio is at most
    # 2 * min(len) / (sum of len), so a query more than 7/3 as long as every haystack
    # stays under the 0.6 cut. In either case that pass is skipped outright.
    match_words = max((len(w) for w in words), default=0) <= longest
    match_ratio = len(query) * 3 <= longest * 7
    if not (match_words or match_ratio):
        return []
    scored: list[tuple[float, str, Model]] = []
    matcher = difflib.SequenceMatcher(autojunk=False)
    if match_ratio:
        matcher.set_seq2(query)
    for model, haystacks in candidates:
        if match_words and all(any(w in h for h in haystacks) for w in words):
            exact = query in haystacks
            score = 2.0 + (1.0 if exact else 0.0) - len(model.id) / 1000
        elif match_ratio:
            score = 0.0
            for h in haystacks:
                matcher.set_seq1(h)
                # Cheap upper bounds first: the full ratio only where it can reach the cut and beat the best so far.
                if _may_beat(matcher.real_quick_ratio(), score) and _may_beat(matcher.quick_ratio(), score):
                    score = max(score, matcher.ratio())
            if score < _FUZZY_CUT:
                continue
        else:
            continue
        scored.append((score, model.key, model))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [model for _, _, model in scored[:limit]]
