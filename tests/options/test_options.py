"""The declared request layer: every option checked at the call, against its declaration.

Table-driven over every (option x wire API) pair: an option the API does not carry
raises at once naming the APIs that do; a value of the wrong type or out of range
raises at once naming the option; and in every raising case no request reached the
replay server. The README's option table and the typed dicts are generated from the
declarations and checked here so the docs cannot drift.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx
import pytest

import alchemy
from alchemy import Context, Model, Tool, UserMessage
from alchemy.options import (
    BUILTIN_APIS,
    OPTIONS,
    OPTIONS_BY_NAME,
    AnthropicMessagesOptions,
    CallOptions,
    StreamOptions,
    carried_options,
    carrying_apis,
    parse_tool_choice,
)
from alchemy.options._render import TYPED_DICT_NAMES, render_readme_table, render_typed_module
from alchemy.testing import ReplayServer
from support import ROOT, replay_server, wire_model  # noqa: F401 (fixture)
CONTEXT = Context(messages=[UserMessage("hi")])
TOOLS_CONTEXT = Context(
    messages=[UserMessage("weather?")],
    tools=[Tool(name="get_weather", description="weather", parameters={"type": "object", "properties": {}})],
)

class FakeCredentials:
    """Quacks like google-auth credentials (a token and a refresh method)."""

    token = "test-token-not-real"

    def refresh(self, request: object) -> None:
        return None


KEY = "test-key-not-real"
"""A key for calls to key-based APIs (a missing key raises at the call)."""


def model_for(api: str, base_url: str = "http://127.0.0.1:9/v1") -> Model:
    return wire_model(api, base_url, reasoning=True)


# Values of the right type and range for every option, and ones of the wrong type.
GOOD: dict[str, Any] = {
    "temperature": 0.5,
    "max_tokens": 100,
    "api_key": "test-key-not-real",
    "headers": {"x-trace": "1"},
    "signal": alchemy.AbortController().signal,
    "session_id": "s1",
    "tags": {"user": "u1"},
    "cache_retention": "none",
    "on_payload": lambda body, model: None,
    "on_response": lambda status, headers: None,
    "metadata": {"user_id": "u1"},
    "timeout": 30,
    "max_retries": 1,
    "max_retry_delay": 5,
    "reasoning": "low",
    "thinking_budgets": {"low": 2048},
    "client": httpx.Client(),
    "connect_timeout": 3,
    "first_byte_timeout": 10,
    "idle_timeout": 10,
    "stop": ["END"],
    "top_p": 0.9,
    "top_k": 40,
    "seed": 7,
    "frequency_penalty": 0.1,
    "presence_penalty": 0.1,
    "logprobs": True,
    "top_logprobs": 3,
    "parallel_tool_calls": False,
    "tool_choice": "none",
    "user": "u1",
    "extra_body": {"x": 1},
    "extra_headers": {"x-extra": "1"},
    "foreign_thinking": "text",
    "server_tools": [alchemy.CodeExecution()],
    "foreign_server_tools": "text",
    "reasoning_effort": "low",
    "reasoning_summary": "auto",
    "service_tier": "flex",
    "response_format": "json",
    "output_schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    "prompt_cache_key": "k",
    "compat": {"supports_store": False},
    "azure_base_url": "http://127.0.0.1:9/openai/v1",
    "azure_resource_name": "r",
    "azure_api_version": "v1",
    "azure_deployment_name": "d",
    "thinking_enabled": True,
    "thinking_budget_tokens": 2048,
    "effort": "high",
    "interleaved_thinking": False,
    "region": "us-east-1",
    "profile": "default",
    "thinking_budget": 1024,
    "thinking_level": "low",
    "tool_schema": "openapi",
    "project": "p",
    "location": "us-central1",
    "credentials": FakeCredentials(),
    "stream_tool_arguments": True,
    "prompt_mode": "reasoning",
}
WRONG_TYPE: dict[str, Any] = {name: object() for name in GOOD}
OUT_OF_RANGE: dict[str, Any] = {
    "temperature": -1,
    "max_tokens": 0,
    "cache_retention": "forever",
    "timeout": 0,
    "max_retries": -1,
    "max_retry_delay": -1,
    "reasoning": "ultra",
    "thinking_budgets": {"ultra": 5},
    "connect_timeout": 0,
    "first_byte_timeout": -1,
    "idle_timeout": 0,
    "stop": [""],
    "top_p": 1.5,
    "top_k": 0,
    "frequency_penalty": 3,
    "presence_penalty": -3,
    "top_logprobs": 21,
    "tool_choice": "bogus",
    "api_key": "",
    "foreign_thinking": "keep",
    "server_tools": [alchemy.CodeExecution(), alchemy.CodeExecution()],
    "foreign_server_tools": "keep",
    "reasoning_effort": "ultra",
    "reasoning_summary": "verbose",
    "service_tier": "gold",
    "response_format": "yaml",
    "output_schema": {"type": "objekt"},
    "compat": {"not_a_flag": 1},
    "thinking_budget_tokens": 0,
    "effort": "ultra",
    "thinking_budget": -2,
    "thinking_level": "extreme",
    "tool_schema": "xml",
    "prompt_mode": "fast",
}


@pytest.fixture(scope="module")
def server(replay_server: ReplayServer) -> ReplayServer:
    return replay_server


def test_every_option_has_test_values() -> None:
    assert set(GOOD) == set(OPTIONS_BY_NAME)


def test_stream_options_fields_are_the_declared_field_options() -> None:
    # ``output`` is not an option: the structured-output plan made at the call from two of them.
    fields = {f.name for f in dataclasses.fields(StreamOptions)} - {"provider_options", "output"}
    assert fields == {o.name for o in OPTIONS if o.field}


PAIRS = [(option.name, api) for option in OPTIONS for api in sorted(BUILTIN_APIS)]
CARRIED = [(name, api) for name, api in PAIRS if api in carrying_apis(name)]
NOT_CARRIED = [(name, api) for name, api in PAIRS if api not in carrying_apis(name)]


@pytest.mark.parametrize(("name", "api"), NOT_CARRIED)
def test_option_not_carried_raises_at_once_naming_the_apis(name: str, api: str, server: ReplayServer) -> None:
    model = model_for(api, server.base_url_for(api))
    before = len(server.requests)
    with pytest.raises(TypeError, match=rf"option '{name}' cannot be sent to api '{api}'") as caught:
        alchemy.stream(model, CONTEXT, **{name: GOOD[name]})
    for carrier in carrying_apis(name):
        assert carrier in str(caught.value)
    assert len(server.requests) == before


@pytest.mark.parametrize(("name", "api"), CARRIED)
def test_wrong_type_raises_at_once(name: str, api: str, server: ReplayServer) -> None:
    model = model_for(api, server.base_url_for(api))
    before = len(server.requests)
    with pytest.raises((TypeError, ValueError), match=re.escape(name)):
        alchemy.stream(model, CONTEXT, **{name: WRONG_TYPE[name]})
    assert len(server.requests) == before


@pytest.mark.parametrize(("name", "api"), [(name, api) for name, api in CARRIED if name in OUT_OF_RANGE])
def test_out_of_range_raises_at_once(name: str, api: str, server: ReplayServer) -> None:
    model = model_for(api, server.base_url_for(api))
    before = len(server.requests)
    with pytest.raises(ValueError):
        alchemy.astream(model, CONTEXT, **{name: OUT_OF_RANGE[name]})
    assert len(server.requests) == before


def test_unknown_option_suggests_the_closest_name() -> None:
    with pytest.raises(TypeError, match=r"unexpected option 'temprature'.*did you mean 'temperature'"):
        alchemy.stream(model_for("anthropic-messages"), CONTEXT, temprature=0.2)  # type: ignore[call-arg]


def test_none_means_not_given() -> None:
    events = alchemy.stream(model_for("openai-responses"), CONTEXT, api_key=KEY, stop=None, temperature=None)
    assert events.options.stop is None
    events.close()


def test_transport_option_of_wrong_type_raises_at_the_call() -> None:
    with pytest.raises(TypeError, match="option connect_timeout must be a number, got str"):
        alchemy.stream(model_for("anthropic-messages"), CONTEXT, connect_timeout="5")  # type: ignore[arg-type]


def test_client_must_match_sync_or_async() -> None:
    with pytest.raises(TypeError, match="astream\\(\\) option client must be an httpx.AsyncClient"):
        alchemy.astream(model_for("anthropic-messages"), CONTEXT, client=httpx.Client())
    with pytest.raises(TypeError, match="stream\\(\\) option client must be an httpx.Client"):
        alchemy.stream(model_for("anthropic-messages"), CONTEXT, client=httpx.AsyncClient())


def test_responses_refusal_points_openai_users_to_chat_completions() -> None:
    with pytest.raises(TypeError, match="openai-completions"):
        alchemy.stream(model_for("openai-responses"), CONTEXT, seed=1)


def test_a_required_tool_call_needs_tools() -> None:
    with pytest.raises(ValueError, match="'required' needs tools"):
        alchemy.stream(model_for("anthropic-messages"), CONTEXT, tool_choice="any")


def test_a_named_tool_must_be_in_the_context() -> None:
    model = model_for("anthropic-messages")
    with pytest.raises(ValueError, match="names tool 'nope'"):
        alchemy.stream(model, TOOLS_CONTEXT, tool_choice={"name": "nope"})
    alchemy.stream(model, TOOLS_CONTEXT, api_key=KEY, tool_choice={"type": "tool", "name": "get_weather"}).close()


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        ({"type": "any"}, "required"),
        ({"name": "f"}, {"name": "f"}),
        ({"type": "tool", "name": "f"}, {"name": "f"}),
        ({"type": "function", "name": "f"}, {"name": "f"}),
        ({"type": "function", "function": {"name": "f"}}, {"name": "f"}),
    ],
)
def test_tool_choice_has_one_canonical_form(given: Any, canonical: Any) -> None:
    assert parse_tool_choice(given) == canonical


@pytest.mark.parametrize("bad", ["bogus", {"type": "tool"}, {"name": ""}, 3, {"type": "function", "function": {}}])
def test_tool_choice_refuses_other_shapes(bad: Any) -> None:
    with pytest.raises(ValueError, match="option tool_choice must be"):
        parse_tool_choice(bad)


def test_stop_is_a_list() -> None:
    events = alchemy.stream(model_for("anthropic-messages"), CONTEXT, api_key=KEY, stop="END")
    assert events.options.stop == ["END"]
    events.close()


def test_api_key_stays_out_of_the_options_repr() -> None:
    secret = "test-secret-not-real-0123456789"
    events = alchemy.stream(model_for("anthropic-messages"), CONTEXT, api_key=secret, extra_headers={"a": secret})
    assert secret not in repr(events.options)
    events.close()


def test_every_builtin_provider_takes_the_declared_options() -> None:
    for api in BUILTIN_APIS:
        assert alchemy.get_api(api).option_names == carried_options(api)


# --------------------------------------------------------------------------- docs and types cannot drift


def _readme_block(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"README.md lacks the {name} markers"
    return match.group(1)


def test_readme_option_table_is_generated_from_the_declarations() -> None:
    assert _readme_block("options") == render_readme_table(), "run: python -m alchemy.options readme"


def test_typed_dicts_are_generated_from_the_declarations() -> None:
    source = (ROOT / "alchemy" / "options" / "_typed.py").read_text(encoding="utf-8")
    assert source == render_typed_module(), "run: python -m alchemy.options typed > alchemy/options/_typed.py"


def test_typed_dicts_list_what_each_api_carries() -> None:
    import alchemy.options as options

    assert set(CallOptions.__annotations__) == set(OPTIONS_BY_NAME)
    for api, name in TYPED_DICT_NAMES.items():
        assert set(getattr(options, name).__annotations__) == carried_options(api)
    assert "effort" in AnthropicMessagesOptions.__annotations__
