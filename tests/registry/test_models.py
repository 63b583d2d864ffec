"""The registry's public API on the bundled data: lookup, filters, search, custom models,
environment keys, ``${VAR}`` placeholders, vendors and the pi-ai JSON shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import bundled_registry  # noqa: F401 (fixture)

import alchemy
from alchemy.errors import ModelNotFoundError, UnresolvedPlaceholderError
from alchemy.models import (
    AUTHENTICATED,
    detect_vendor,
    get_env_api_key,
    get_model,
    get_models,
    get_provider,
    get_providers,
    martian_path,
    register_model,
    registry_info,
    resolve_base_url,
    search_models,
    unregister_model,
)
from alchemy.types import Model, ModelCapabilities, ModelCost




@pytest.fixture
def clean_custom() -> Iterator[None]:
    from alchemy.models import _lookup

    saved = {k: dict(v) for k, v in _lookup._custom.items()}
    _lookup._custom.clear()
    yield
    _lookup._custom.clear()
    _lookup._custom.update(saved)


# --------------------------------------------------------------------------- lookup


def test_lookup_forms_agree() -> None:
    by_pair = get_model("anthropic", "claude-sonnet-4-20250514")
    assert by_pair is get_model("anthropic/claude-sonnet-4-20250514")
    assert by_pair.api == "anthropic-messages"
    assert by_pair.base_url == "https://api.anthropic.com"
    assert by_pair.context_window == 200_000 and by_pair.max_tokens == 64_000
    assert by_pair.cost.input == 3.0 and by_pair.cost.cache_write == 3.75
    assert by_pair.vendor == "anthropic" and by_pair.path == "anthropic/anthropic/claude-sonnet-4-20250514"


def test_lazy_exports_from_the_package() -> None:
    assert alchemy.get_model is get_model
    assert alchemy.ModelNotFoundError is ModelNotFoundError
    for name in ("get_models", "get_providers", "search_models", "register_model", "get_env_api_key",
                 "calculate_cost", "refresh_models", "count_tokens", "fits_context", "TokenCount"):
        assert callable(getattr(alchemy, name))
        assert name in alchemy.__all__


def test_martian_path_and_vendor_prefixed_ids() -> None:
    llama = get_model("openrouter/meta-llama/llama-3.3-70b-instruct")
    assert llama.vendor == "meta"
    assert llama.path == "openrouter/meta/llama-3.3-70b-instruct"
    assert get_model(llama.path) is llama
    claude = get_model("openrouter", "anthropic/claude-sonnet-4")
    assert claude.path == "openrouter/anthropic/claude-sonnet-4"


def test_bare_id_prefers_the_vendors_own_provider() -> None:
    assert get_model("claude-sonnet-4-5").provider == "anthropic"
    assert get_model("gemini-2.5-pro").provider == "google"
    assert get_model("gpt-5").provider == "openai"


def test_bare_id_served_only_by_others_is_ambiguous() -> None:
    with pytest.raises(ModelNotFoundError, match="several providers") as info:
        get_model("gpt-oss-120b")
    assert len(info.value.suggestions) > 1
    assert all(s.endswith("/gpt-oss-120b") for s in info.value.suggestions)


def test_unknown_id_suggests_close_matches() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        get_model("anthropic", "claude-sonet-4-5")
    error = info.value
    assert isinstance(error, LookupError)
    assert "anthropic/claude-sonnet-4-5" in error.suggestions
    assert "did you mean" in str(error) and "anthropic/claude-sonnet-4-5" in str(error)
    assert error.query == "anthropic/claude-sonet-4-5"


def test_unknown_provider_is_named() -> None:
    with pytest.raises(ModelNotFoundError, match="unknown provider 'anthropc'"):
        get_model("anthropc", "claude-sonnet-4-5")
    with pytest.raises(ModelNotFoundError, match="no provider 'opnai'.*openai"):
        get_provider("opnai")


def test_nothing_close_points_to_search() -> None:
    with pytest.raises(ModelNotFoundError, match="search_models"):
        get_model("zz")


def test_pi_ai_provider_aliases() -> None:
    assert get_model("vercel-ai-gateway", get_models("vercel")[0].id).provider == "vercel"
    assert get_provider("bedrock").id == "amazon-bedrock"


def test_providers() -> None:
    providers = get_providers()
    assert providers == sorted(providers)
    assert {"openai", "anthropic", "google", "amazon-bedrock", "mistral", "groq", "openrouter"} <= set(providers)
    info = get_provider("groq")
    assert info.api == "openai-completions" and info.base_url == "https://api.groq.com/openai/v1"
    assert info.env == ("GROQ_API_KEY",)


def test_registry_info() -> None:
    info = registry_info()
    assert info.origin in ("bundled", "cache")
    assert info.models > 4000 and info.providers > 100


# --------------------------------------------------------------------------- filters and search


def test_default_listing_leaves_out_deprecated() -> None:
    every = get_models(include_deprecated=True)
    default = get_models()
    assert any(m.deprecated for m in every)
    assert not any(m.deprecated for m in default)
    assert len(default) < len(every)


def test_filters() -> None:
    vision = get_models("anthropic", vision=True)
    assert vision and all(m.caps.supports_vision and m.provider == "anthropic" for m in vision)
    no_tools = get_models(tools=False)
    assert no_tools and all(not m.caps.supports_tools for m in no_tools)
    thinking = get_models("openai", reasoning=True)
    assert thinking and all(m.reasoning for m in thinking)
    big = get_models(min_context=1_000_000)
    assert big and all(m.context_window >= 1_000_000 for m in big)
    cheap = get_models(max_input_cost=0.1, max_output_cost=0.5)
    assert cheap and all(
        m.cost.input is not None and m.cost.input <= 0.1 and m.cost.output is not None and m.cost.output <= 0.5
        for m in cheap
    )
    weights = get_models(open_weights=True)
    assert weights and all(m.open_weights is True for m in weights)
    bedrock = get_models(api="bedrock-converse-stream")
    assert bedrock and {m.provider for m in bedrock} == {"amazon-bedrock"}
    assert get_models("no-such-provider") == []


def test_unknown_prices_never_pass_a_cost_filter() -> None:
    unknown = [m for m in get_models(include_deprecated=True) if m.cost.input is None]
    assert unknown
    passing = {m.key for m in get_models(max_input_cost=1e9, include_deprecated=True)}
    assert not any(m.key in passing for m in unknown)


def test_search() -> None:
    found = search_models("claude sonnet 4.5", limit=20)
    assert found and all("sonnet" in (m.id + m.name).lower() for m in found)
    assert "anthropic/claude-sonnet-4-5" in {m.key for m in found}
    fuzzy = search_models("gemni 2.5 pro")  # typo: similarity instead of words
    assert any("gemini-2.5-pro" in m.id for m in fuzzy)
    assert search_models("   ") == []
    assert len(search_models("gpt", limit=3)) == 3


# --------------------------------------------------------------------------- custom models


def local_model(**kw: object) -> Model:
    fields: dict[str, object] = {
        "id": "llama3.2",
        "name": "Llama 3.2 (Ollama)",
        "api": "openai-completions",
        "provider": "ollama",
        "base_url": "http://localhost:11434/v1",
        "context_window": 128_000,
        "max_tokens": 8_192,
        "compat": {"supports_developer_role": False, "supports_reasoning_effort": False},
    }
    fields.update(kw)
    return Model(**fields)  # type: ignore[arg-type]


@pytest.mark.usefixtures("clean_custom")
def test_register_custom_model() -> None:
    model = register_model(local_model())
    assert get_model("ollama", "llama3.2") is model
    assert get_model("ollama/llama3.2") is model
    assert get_model("llama3.2") is model  # the only provider with that id
    assert "ollama" in get_providers()
    assert get_models("ollama") == [model]
    assert model in get_models(open_weights=None)
    assert model.caps == ModelCapabilities(supports_vision=False, supports_reasoning=False)
    assert model.path == "ollama/meta/llama3.2"
    with pytest.raises(ValueError, match="already registered"):
        register_model(local_model(name="other"), replace=False)
    assert unregister_model("ollama", "llama3.2") and not unregister_model("ollama", "llama3.2")
    with pytest.raises(ModelNotFoundError):
        get_model("ollama", "llama3.2")


@pytest.mark.usefixtures("clean_custom")
def test_custom_model_shadows_a_registry_model() -> None:
    proxy = register_model(local_model(id="claude-sonnet-4-5", provider="anthropic", base_url="http://proxy.local", api="anthropic-messages"))
    assert get_model("anthropic", "claude-sonnet-4-5") is proxy
    listed = [m for m in get_models("anthropic") if m.id == "claude-sonnet-4-5"]
    assert listed == [proxy]


def test_register_model_rejects_non_models() -> None:
    with pytest.raises(TypeError):
        register_model({"id": "x"})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- environment


def test_env_key_first_set_variable_wins() -> None:
    env = {"GOOGLE_API_KEY": "g3", "GEMINI_API_KEY": ""}
    assert get_env_api_key("google", env) == "g3"
    env["GEMINI_API_KEY"] = "g1"
    assert get_env_api_key("google", env) == "g1"
    assert get_env_api_key("anthropic", {"ANTHROPIC_API_KEY": "a", "ANTHROPIC_OAUTH_TOKEN": "o"}) == "o"
    assert get_env_api_key("groq", {}) is None
    assert get_env_api_key("no-such-provider", {"X": "y"}) is None


def test_env_key_uses_real_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-test")
    assert alchemy.get_env_api_key("groq") == "gsk-test"


def test_placeholder_variables_are_not_keys() -> None:
    env = {"CLOUDFLARE_ACCOUNT_ID": "acct", "CLOUDFLARE_API_KEY": "cf-key"}
    assert get_env_api_key("cloudflare-workers-ai", env) == "cf-key"
    assert get_env_api_key("cloudflare-workers-ai", {"CLOUDFLARE_ACCOUNT_ID": "acct"}) is None
    assert get_env_api_key("azure", {"AZURE_RESOURCE_NAME": "res"}) is None
    assert get_env_api_key("azure", {"AZURE_RESOURCE_NAME": "res", "AZURE_OPENAI_API_KEY": "k"}) == "k"


def test_bedrock_credential_sets() -> None:
    assert get_env_api_key("amazon-bedrock", {"AWS_REGION": "us-east-1"}) is None
    assert get_env_api_key("amazon-bedrock", {"AWS_ACCESS_KEY_ID": "a"}) is None  # half a pair
    for env in (
        {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"},
        {"AWS_PROFILE": "dev"},
        {"AWS_BEARER_TOKEN_BEDROCK": "t"},
        {"AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/x"},
        {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds"},
    ):
        assert get_env_api_key("amazon-bedrock", env) == AUTHENTICATED, env
    mantle = get_model("amazon-bedrock", "openai.gpt-5.4")
    assert mantle.api == "openai-responses"
    assert get_env_api_key(mantle, {"AWS_BEARER_TOKEN_BEDROCK": "bedrock-key"}) == "bedrock-key"


def test_vertex_key_or_application_default_credentials(tmp_path: Path) -> None:
    assert get_env_api_key("google-vertex", {"GOOGLE_CLOUD_API_KEY": "k"}) == "k"
    adc = tmp_path / "adc.json"
    adc.write_text("{}")
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(adc), "GOOGLE_CLOUD_PROJECT": "p"}
    assert get_env_api_key("google-vertex", env) is None  # no location yet
    env["GOOGLE_CLOUD_LOCATION"] = "us-central1"
    assert get_env_api_key("google-vertex", env) == AUTHENTICATED
    env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "missing.json")
    assert get_env_api_key("google-vertex", env) is None


def test_resolve_base_url() -> None:
    bedrock = get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert resolve_base_url(bedrock, {"AWS_REGION": "eu-west-1"}) == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    assert resolve_base_url(bedrock, {"AWS_DEFAULT_REGION": "us-west-2"}) == "https://bedrock-runtime.us-west-2.amazonaws.com"
    plain = get_model("groq", get_models("groq")[0].id)
    assert resolve_base_url(plain, {}) == plain.base_url
    neon = get_models("neon")[0]
    assert neon.base_url == "${NEON_AI_GATEWAY_BASE_URL}/ai-gateway/mlflow/v1"
    env = {"NEON_AI_GATEWAY_BASE_URL": "https://gw.neon.test/", "NEON_AI_GATEWAY_TOKEN": "tok"}
    assert resolve_base_url(neon, env) == "https://gw.neon.test/ai-gateway/mlflow/v1"
    assert get_env_api_key(neon, env) == "tok"


def test_unset_placeholder_names_the_variable() -> None:
    model = local_model(provider="acme", base_url="https://${ACME_ACCOUNT}.acme.test/v1")
    with pytest.raises(UnresolvedPlaceholderError) as info:
        resolve_base_url(model, {"ACME_ACCOUNT": ""})
    assert info.value.variable == "ACME_ACCOUNT"
    assert "ACME_ACCOUNT" in str(info.value) and "acme/llama3.2" in str(info.value)
    assert isinstance(info.value, LookupError)
    bedrock = get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
    with pytest.raises(UnresolvedPlaceholderError, match=r"AWS_REGION \(or AWS_DEFAULT_REGION\)"):
        resolve_base_url(bedrock, {})


# --------------------------------------------------------------------------- vendors, capabilities


@pytest.mark.parametrize(
    ("model_id", "vendor"),
    [
        ("gpt-4o", "openai"),
        ("o1-mini", "openai"),
        ("o3", "openai"),
        ("claude-3-5-haiku-20241022", "anthropic"),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", "anthropic"),
        ("gemini-2.5-flash", "google"),
        ("gemma-3-27b-it", "google"),
        ("meta-llama/Llama-3.3-70B-Instruct", "meta"),
        ("llama-3.1-8b-instant", "meta"),
        ("mistral-large-latest", "mistral"),
        ("open-mixtral-8x22b", "mistral"),
        ("Qwen/Qwen3-235B-A22B", "qwen"),
        ("deepseek-ai/DeepSeek-R1", "deepseek"),
        ("grok-4", "xai"),
        ("glm-4.6", "zai"),
        ("moonshotai/kimi-k2-instruct", "moonshot"),
        ("openai/gpt-oss-120b", "openai"),
        ("thedrummer/rocinante-12b", "thedrummer"),
    ],
)
def test_vendor_detection(model_id: str, vendor: str) -> None:
    assert detect_vendor(model_id) == vendor


def test_vendor_falls_back_to_family_and_provider() -> None:
    assert detect_vendor("some-model", family="claude-sonnet") == "anthropic"
    assert detect_vendor("some-model", provider="mistral") == "mistral"
    assert detect_vendor("some-model") is None
    assert martian_path("acme", "some-model", None) == "acme/unknown/some-model"


def test_registry_capabilities_follow_the_data() -> None:
    gpt5 = get_model("openai", "gpt-5")
    assert gpt5.caps.supports_temperature is False  # OpenAI reasoning models reject temperature
    assert gpt5.caps.supports_reasoning and gpt5.caps.supports_json_output
    claude = get_model("anthropic", "claude-sonnet-4-5")
    assert claude.caps.supports_last_assistant and not claude.caps.supports_multiple_system
    assert not claude.caps.supports_empty_content and not claude.caps.supports_n
    groq = get_models("groq", tools=True)[0]
    assert groq.compat is not None and groq.compat["max_tokens_field"] == "max_tokens"


def test_every_registry_model_is_consistent() -> None:
    for model in get_models(include_deprecated=True):
        caps = model.caps
        assert caps.supports_vision == ("image" in model.input), model.key
        assert caps.supports_reasoning == model.reasoning, model.key
        if not caps.supports_tools:
            assert not caps.supports_tool_choice, model.key
        if model.context_window:
            assert model.max_tokens <= model.context_window, model.key
        assert (model.compat is not None) == (model.api == "openai-completions"), model.key
        assert model.base_url.startswith(("https://", "http://", "${")), model.key
        for tier in model.cost.tiers:
            assert tier.threshold > 0


# --------------------------------------------------------------------------- pi-ai JSON


def test_compat_round_trips_in_pi_ai_camel_case() -> None:
    model = local_model(
        compat={
            "supports_developer_role": False,
            "reasoning_effort_map": {"xhigh": "high"},
            "max_tokens_field": "max_tokens",
            "open_router_routing": {"only": ["anthropic"]},
        },
        cost=ModelCost(1.0, 2.0, 0.1, None),
    )
    data = model.to_dict()
    assert data["compat"] == {
        "supportsDeveloperRole": False,
        "reasoningEffortMap": {"xhigh": "high"},
        "maxTokensField": "max_tokens",
        "openRouterRouting": {"only": ["anthropic"]},
    }
    back = Model.from_dict(data)
    assert back.compat == model.compat
    assert back.cost == model.cost


def test_registry_models_serialise_for_pi_ai() -> None:
    data = get_model("groq", get_models("groq", tools=True)[0].id).to_dict()
    assert data["api"] == "openai-completions" and data["compat"]["maxTokensField"] == "max_tokens"
    assert set(data) >= {"id", "name", "api", "provider", "baseUrl", "reasoning", "input", "cost", "contextWindow", "maxTokens"}
