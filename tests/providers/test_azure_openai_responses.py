"""Azure OpenAI's Responses provider, sans-I/O: endpoint, api-version, deployment, key, body, stream.

The body and the parser are shared with OpenAI (tested in test_openai_responses.py);
these tests cover what Azure adds, plus the azure/ fixtures through Azure's parser.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import responses_fixtures as rf
import support
from protocol_checks import assert_protocol

from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import MissingApiKeyError, MissingConfigurationError, ProviderStreamError
from alchemy.models import get_model
from alchemy.providers.azure_openai_responses import (
    parse_deployment_map,
    provider,
    resolve_azure_config,
)
from alchemy.options import StreamOptions
from alchemy.types import Context, Model, UserMessage

KEY = "azure-key-0123456789"
AZURE_VARIABLES = (
    "ALCHEMY_BASE_URL_OVERRIDE",
    "AZURE_OPENAI_BASE_URL",
    "AZURE_OPENAI_RESOURCE_NAME",
    "AZURE_RESOURCE_NAME",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_OPENAI_DEPLOYMENT_NAME_MAP",
    "AZURE_OPENAI_API_KEY",
    "AZURE_API_KEY",
)
AZURE_GPT5 = get_model("azure", "gpt-5")
HAND_MADE = Model("gpt-4.1", "GPT-4.1", "azure-openai-responses", "azure-openai-responses", "")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def options(**own: Any) -> StreamOptions:
    return StreamOptions(api_key=KEY, provider_options=own)


def hello() -> Context:
    return Context(messages=[UserMessage("Hello")])


# --------------------------------------------------------------------------- endpoint


def test_registry_model_uses_the_resource_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE_NAME", "my-res")
    request = provider.build_request(AZURE_GPT5, hello(), options())
    assert request.url == "https://my-res.openai.azure.com/openai/v1/responses?api-version=v1"
    assert request.headers["api-key"] == KEY and "authorization" not in request.headers
    assert request.secrets == (KEY,) and KEY not in repr(request)


@pytest.mark.parametrize(
    ("env", "own", "url"),
    [
        ({"AZURE_OPENAI_BASE_URL": "https://a.example/openai/v1/"}, {}, "https://a.example/openai/v1"),
        ({"AZURE_OPENAI_BASE_URL": "https://a.openai.azure.com"}, {}, "https://a.openai.azure.com/openai/v1"),
        ({"AZURE_OPENAI_BASE_URL": "https://a.openai.azure.com/openai"}, {}, "https://a.openai.azure.com/openai/v1"),
        ({"AZURE_OPENAI_BASE_URL": "https://proxy.example/azure"}, {}, "https://proxy.example/azure"),
        ({"AZURE_OPENAI_RESOURCE_NAME": "r1"}, {}, "https://r1.openai.azure.com/openai/v1"),
        ({"AZURE_RESOURCE_NAME": "r2"}, {}, "https://r2.openai.azure.com/openai/v1"),
        (
            {"AZURE_OPENAI_BASE_URL": "https://env.example/openai/v1"},
            {"azure_base_url": "https://opt.example/openai/v1"},
            "https://opt.example/openai/v1",
        ),
        ({"AZURE_OPENAI_RESOURCE_NAME": "env"}, {"azure_resource_name": "opt"}, "https://opt.openai.azure.com/openai/v1"),
        ({"AZURE_OPENAI_BASE_URL": "https://b.example/openai/v1", "AZURE_OPENAI_RESOURCE_NAME": "r"}, {}, "https://b.example/openai/v1"),
        (
            {"ALCHEMY_BASE_URL_OVERRIDE": "http://127.0.0.1:9/openai/v1", "AZURE_OPENAI_BASE_URL": "https://b.example"},
            {},
            "http://127.0.0.1:9/openai/v1",
        ),
    ],
)
def test_endpoint_order(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], own: dict[str, str], url: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert resolve_azure_config(AZURE_GPT5, options(**own)).base_url == url


def test_model_base_url_is_the_last_resort() -> None:
    model = dataclasses.replace(HAND_MADE, base_url="https://mine.openai.azure.com/openai/v1")
    assert resolve_azure_config(model, options()).base_url == "https://mine.openai.azure.com/openai/v1"


@pytest.mark.parametrize("model", [AZURE_GPT5, HAND_MADE], ids=["placeholder", "no-base-url"])
def test_missing_endpoint_names_every_way_to_set_it(model: Model) -> None:
    with pytest.raises(MissingConfigurationError) as caught:
        provider.build_request(model, hello(), options())
    text = str(caught.value)
    for name in ("AZURE_OPENAI_BASE_URL", "AZURE_OPENAI_RESOURCE_NAME", "azure_base_url", "azure_resource_name"):
        assert name in text
    assert caught.value.variables == ("AZURE_OPENAI_BASE_URL", "AZURE_OPENAI_RESOURCE_NAME")


def test_bad_resource_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE_NAME", "not a name/")
    with pytest.raises(ValueError, match="AZURE_OPENAI_RESOURCE_NAME must be an Azure resource name"):
        resolve_azure_config(AZURE_GPT5, options())
    with pytest.raises(ValueError, match="option azure_resource_name must be an Azure resource name"):
        resolve_azure_config(AZURE_GPT5, options(azure_resource_name="a.b"))


# --------------------------------------------------------------------------- api-version and deployment


def test_api_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE_NAME", "r")
    assert resolve_azure_config(AZURE_GPT5, options()).api_version == "v1"
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2025-04-01-preview")
    request = provider.build_request(AZURE_GPT5, hello(), options())
    assert request.url.endswith("/responses?api-version=2025-04-01-preview")
    assert resolve_azure_config(AZURE_GPT5, options(azure_api_version="preview")).api_version == "preview"


def test_deployment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE_NAME", "r")
    assert provider.build_request(AZURE_GPT5, hello(), options()).body["model"] == "gpt-5"
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT_NAME_MAP", "gpt-4o=chat, gpt-5 = prod-gpt5 ,")
    assert provider.build_request(AZURE_GPT5, hello(), options()).body["model"] == "prod-gpt5"
    body = provider.build_request(AZURE_GPT5, hello(), options(azure_deployment_name="explicit")).body
    assert body["model"] == "explicit"


def test_deployment_map_parsing() -> None:
    assert parse_deployment_map("a=b,c = d ,, ") == {"a": "b", "c": "d"}
    assert parse_deployment_map("") == {}
    for bad in ("gpt-5", "=x", "gpt-5="):
        with pytest.raises(ValueError, match="AZURE_OPENAI_DEPLOYMENT_NAME_MAP: entry"):
            parse_deployment_map(bad)


# --------------------------------------------------------------------------- key and body


def test_key_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_BASE_URL", "https://x.example/openai/v1")
    with pytest.raises(MissingApiKeyError) as caught:
        provider.build_request(HAND_MADE, hello(), StreamOptions())
    assert "AZURE_OPENAI_API_KEY" in str(caught.value) and "AZURE_API_KEY" in str(caught.value)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "from-env-0123")
    request = provider.build_request(HAND_MADE, hello(), StreamOptions())
    assert request.headers["api-key"] == "from-env-0123" and request.secrets == ("from-env-0123",)


def test_body_has_no_store_nor_service_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE_NAME", "r")
    opts = StreamOptions(api_key=KEY, session_id="s", cache_retention="long", provider_options={"reasoning_effort": "low"})
    body = provider.build_request(AZURE_GPT5, hello(), opts).body
    assert "store" not in body and "service_tier" not in body and "prompt_cache_retention" not in body
    assert body["prompt_cache_key"] == "s"
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert "service_tier" not in provider.option_names
    assert {"azure_base_url", "azure_resource_name", "azure_api_version", "azure_deployment_name"} <= provider.option_names


def test_simple_levels_follow_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_RESOURCE_NAME", "r")
    xhigh = get_model("azure", "gpt-5.2")
    for model, effort in ((AZURE_GPT5, "high"), (xhigh, "xhigh")):
        mapped = provider.map_simple_options(model, StreamOptions(api_key=KEY, reasoning="xhigh"))
        assert provider.build_request(model, hello(), mapped).body["reasoning"]["effort"] == effort


# --------------------------------------------------------------------------- the azure fixtures through Azure's parser


AZURE_SEGMENTS = [(name, events) for name, events in rf.all_segments() if name.startswith("azure/")]


@pytest.mark.parametrize(("name", "events"), AZURE_SEGMENTS, ids=[n for n, _ in AZURE_SEGMENTS])
def test_azure_fixtures_parse_to_what_they_say(name: str, events: list[dict[str, Any]]) -> None:
    support.require_shared()
    emitter = EventEmitter(new_partial(AZURE_GPT5), model=AZURE_GPT5)
    parser = provider.create_parser(AZURE_GPT5, options(), emitter)
    data = rf.wire(events)
    for position in range(0, len(data), 11):
        parser.feed(data[position : position + 11])
    parser.finish()
    message = assert_protocol(list(emitter.buffer))
    rf.check_message(message, rf.expected_from(events), AZURE_GPT5)


def test_errors_are_labelled_azure() -> None:
    emitter = EventEmitter(new_partial(AZURE_GPT5))
    parser = provider.create_parser(AZURE_GPT5, options(), emitter)
    with pytest.raises(ProviderStreamError, match="^Azure OpenAI stream error rate_limit_exceeded: slow") as caught:
        parser.feed(rf.wire([{"type": "error", "code": "rate_limit_exceeded", "message": "slow"}]))
    assert caught.value.retryable
