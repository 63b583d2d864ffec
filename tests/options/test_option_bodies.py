"""Every canonical option, on every wire API that carries it, reaches the body the provider documents.

One table: (option, wire API) -> the value given and where the provider's API
documentation says it goes. Each case streams through the real replay server and
asserts on the request body (and headers) the server recorded. The pairs the table
does not list are the ones the option table says the API cannot carry;
``tests/options/test_options.py`` checks that those raise at the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import alchemy
from alchemy import Context, Model, Tool, UserMessage
from alchemy.options import OPTIONS, carrying_apis
from alchemy.providers.base import deep_merge
from alchemy.testing import ReplayServer
from support import WIRE_MODEL_IDS, no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

Body = dict[str, Any]
Get = Callable[[Body], Any]

KEY = "test-key-not-real-0000"
WEATHER = Tool(name="get_weather", description="Weather", parameters={"type": "object", "properties": {}})
PLAIN = Context(messages=[UserMessage("hi")])
WITH_TOOLS = Context(messages=[UserMessage("weather?")], tools=[WEATHER])

def _at(*path: str) -> Get:
    def get(body: Body) -> Any:
        value: Any = body
        for key in path:
            value = value[key]
        return value

    return get


GEN = "generationConfig"
FCC = ("toolConfig", "functionCallingConfig")

# option -> api -> (value, where it lands, what lands there)
EXPECTED: dict[str, dict[str, tuple[Any, Get, Any]]] = {
    "stop": {
        "openai-completions": ("END", _at("stop"), ["END"]),
        "anthropic-messages": ("END", _at("stop_sequences"), ["END"]),
        "bedrock-converse-stream": ("END", _at("inferenceConfig", "stopSequences"), ["END"]),
        "google-generative-ai": (["A", "B"], _at(GEN, "stopSequences"), ["A", "B"]),
        "google-vertex": (["A", "B"], _at(GEN, "stopSequences"), ["A", "B"]),
        "mistral-conversations": ("END", _at("stop"), ["END"]),
        "cohere-chat": ("END", _at("stop_sequences"), ["END"]),
    },
    "top_p": {
        "openai-completions": (0.5, _at("top_p"), 0.5),
        "openai-responses": (0.5, _at("top_p"), 0.5),
        "azure-openai-responses": (0.5, _at("top_p"), 0.5),
        "anthropic-messages": (0.5, _at("top_p"), 0.5),
        "bedrock-converse-stream": (0.5, _at("inferenceConfig", "topP"), 0.5),
        "google-generative-ai": (0.5, _at(GEN, "topP"), 0.5),
        "google-vertex": (0.5, _at(GEN, "topP"), 0.5),
        "mistral-conversations": (0.5, _at("top_p"), 0.5),
        "cohere-chat": (0.5, _at("p"), 0.5),
    },
    "top_k": {
        "openai-completions": (40, _at("top_k"), 40),
        "anthropic-messages": (40, _at("top_k"), 40),
        "bedrock-converse-stream": (40, _at("additionalModelRequestFields", "top_k"), 40),
        "google-generative-ai": (40, _at(GEN, "topK"), 40),
        "google-vertex": (40, _at(GEN, "topK"), 40),
        "cohere-chat": (40, _at("k"), 40),
    },
    "seed": {
        "openai-completions": (7, _at("seed"), 7),
        "google-generative-ai": (7, _at(GEN, "seed"), 7),
        "google-vertex": (7, _at(GEN, "seed"), 7),
        "mistral-conversations": (7, _at("random_seed"), 7),
        "cohere-chat": (7, _at("seed"), 7),
    },
    "frequency_penalty": {
        "openai-completions": (0.5, _at("frequency_penalty"), 0.5),
        "google-generative-ai": (0.5, _at(GEN, "frequencyPenalty"), 0.5),
        "google-vertex": (0.5, _at(GEN, "frequencyPenalty"), 0.5),
        "mistral-conversations": (0.5, _at("frequency_penalty"), 0.5),
        "cohere-chat": (0.5, _at("frequency_penalty"), 0.5),
    },
    "presence_penalty": {
        "openai-completions": (-0.5, _at("presence_penalty"), -0.5),
        "google-generative-ai": (-0.5, _at(GEN, "presencePenalty"), -0.5),
        "google-vertex": (-0.5, _at(GEN, "presencePenalty"), -0.5),
        "mistral-conversations": (-0.5, _at("presence_penalty"), -0.5),
        "cohere-chat": (0.25, _at("presence_penalty"), 0.25),  # Cohere's range is 0 to 1
    },
    "logprobs": {
        "openai-completions": (True, _at("logprobs"), True),
        "openai-responses": (True, lambda b: "message.output_text.logprobs" in b["include"], True),
        "azure-openai-responses": (True, lambda b: "message.output_text.logprobs" in b["include"], True),
        "google-generative-ai": (True, _at(GEN, "responseLogprobs"), True),
        "google-vertex": (True, _at(GEN, "responseLogprobs"), True),
    },
    "top_logprobs": {
        "openai-completions": (3, lambda b: (b["logprobs"], b["top_logprobs"]), (True, 3)),
        "openai-responses": (3, _at("top_logprobs"), 3),
        "azure-openai-responses": (3, _at("top_logprobs"), 3),
        "google-generative-ai": (3, lambda b: (b[GEN]["responseLogprobs"], b[GEN]["logprobs"]), (True, 3)),
        "google-vertex": (3, lambda b: (b[GEN]["responseLogprobs"], b[GEN]["logprobs"]), (True, 3)),
    },
    "parallel_tool_calls": {
        "openai-completions": (False, _at("parallel_tool_calls"), False),
        "openai-responses": (False, _at("parallel_tool_calls"), False),
        "azure-openai-responses": (False, _at("parallel_tool_calls"), False),
        "anthropic-messages": (False, _at("tool_choice"), {"type": "auto", "disable_parallel_tool_use": True}),
        "mistral-conversations": (False, _at("parallel_tool_calls"), False),
    },
    "tool_choice": {
        "openai-completions": ("any", _at("tool_choice"), "required"),
        "openai-responses": ("any", _at("tool_choice"), "required"),
        "azure-openai-responses": ("any", _at("tool_choice"), "required"),
        "anthropic-messages": ("required", _at("tool_choice"), {"type": "any"}),
        "bedrock-converse-stream": ("required", _at("toolConfig", "toolChoice"), {"any": {}}),
        "google-generative-ai": ("required", _at(*FCC, "mode"), "ANY"),
        "google-vertex": ("required", _at(*FCC, "mode"), "ANY"),
        "mistral-conversations": ("required", _at("tool_choice"), "required"),
        "cohere-chat": ("required", _at("tool_choice"), "REQUIRED"),
    },
    "user": {
        "openai-completions": ("u-1", _at("user"), "u-1"),
        "openai-responses": ("u-1", lambda b: b.get("safety_identifier", b.get("user")), "u-1"),
        "azure-openai-responses": ("u-1", lambda b: b.get("safety_identifier", b.get("user")), "u-1"),
        "anthropic-messages": ("u-1", _at("metadata", "user_id"), "u-1"),
    },
    "metadata": {
        "openai-completions": ({"team": "a"}, _at("metadata"), {"team": "a"}),
        "openai-responses": ({"team": "a"}, _at("metadata"), {"team": "a"}),
        "azure-openai-responses": ({"team": "a"}, _at("metadata"), {"team": "a"}),
        "anthropic-messages": ({"user_id": "u-2"}, _at("metadata"), {"user_id": "u-2"}),
        "bedrock-converse-stream": ({"team": "a"}, _at("requestMetadata"), {"team": "a"}),
        "google-vertex": ({"team": "a"}, _at("labels"), {"team": "a"}),
    },
}

NAMED_TOOL: dict[str, tuple[Get, Any]] = {
    "openai-completions": (_at("tool_choice"), {"type": "function", "function": {"name": "get_weather"}}),
    "openai-responses": (_at("tool_choice"), {"type": "function", "name": "get_weather"}),
    "azure-openai-responses": (_at("tool_choice"), {"type": "function", "name": "get_weather"}),
    "anthropic-messages": (_at("tool_choice"), {"type": "tool", "name": "get_weather"}),
    "bedrock-converse-stream": (_at("toolConfig", "toolChoice"), {"tool": {"name": "get_weather"}}),
    "google-generative-ai": (_at(*FCC), {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    "google-vertex": (_at(*FCC), {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    "mistral-conversations": (_at("tool_choice"), {"type": "function", "function": {"name": "get_weather"}}),
}


@pytest.fixture(scope="module")
def server(replay_server: ReplayServer) -> ReplayServer:
    return replay_server


def model_for(api: str, server: ReplayServer) -> Model:
    return wire_model(api, server.base_url_for(api))


def send(server: ReplayServer, api: str, context: Context = WITH_TOOLS, **options: Any) -> tuple[Body, Any]:
    before = len(server.requests)
    extra: dict[str, Any] = {"api_key": KEY}
    if api == "google-vertex":
        extra.update(project="p", location="us-central1")
    message = alchemy.complete(model_for(api, server), context, **extra, **options)
    assert message.stop_reason != "error", message.error_message
    assert len(server.requests) == before + 1
    recorded = server.requests[-1]
    return recorded.json, recorded


def test_the_table_covers_every_carrying_api() -> None:
    for option in OPTIONS:
        if option.name in EXPECTED:
            assert set(EXPECTED[option.name]) == set(carrying_apis(option.name)), option.name


CASES = [(name, api) for name, per_api in EXPECTED.items() for api in per_api]


@pytest.mark.parametrize(("name", "api"), CASES)
def test_option_reaches_the_documented_field(name: str, api: str, server: ReplayServer) -> None:
    value, get, expected = EXPECTED[name][api]
    body, _ = send(server, api, **{name: value})
    assert get(body) == expected


@pytest.mark.parametrize("api", sorted(NAMED_TOOL))
def test_a_named_tool_choice(api: str, server: ReplayServer) -> None:
    get, expected = NAMED_TOOL[api]
    body, _ = send(server, api, tool_choice={"name": "get_weather"})
    assert get(body) == expected


@pytest.mark.parametrize("api", sorted(WIRE_MODEL_IDS))
def test_extra_body_is_deep_merged_last_and_extra_headers_are_sent(api: str, server: ReplayServer) -> None:
    body, recorded = send(
        server, api, PLAIN, extra_body={"x_extra": {"nested": 1}}, extra_headers={"x-alchemy-test": "yes"}
    )
    assert body["x_extra"] == {"nested": 1}
    assert recorded.headers.get("x-alchemy-test") == "yes"


NESTED: dict[str, str] = {
    "bedrock-converse-stream": "inferenceConfig",
    "google-generative-ai": "generationConfig",
    "google-vertex": "generationConfig",
    "openai-completions": "stream_options",
}
"""An object every plain request of these APIs holds, for the merge-into-nested test (the
other APIs' plain bodies have none; the flat merge above covers them)."""


@pytest.mark.parametrize("api", sorted(NESTED))
def test_extra_body_merges_into_nested_objects(api: str, server: ReplayServer) -> None:
    nested = NESTED[api]
    first, _ = send(server, api, PLAIN, max_tokens=50)
    body, _ = send(server, api, PLAIN, max_tokens=50, extra_body={nested: {"x_added": 1}})
    assert body[nested]["x_added"] == 1
    assert {k: v for k, v in body[nested].items() if k != "x_added"} == first[nested]


def test_deep_merge_rules() -> None:
    target: dict[str, Any] = {"a": {"b": 1, "c": {"d": 2}}, "list": [1, 2], "keep": True}
    extra = {"a": {"c": {"e": 3}}, "list": [3], "new": {"x": 1}}
    deep_merge(target, extra)
    assert target == {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "list": [3], "keep": True, "new": {"x": 1}}
    extra["new"]["x"] = 99  # merged mappings are copies, not aliases of the caller's
    assert target["new"] == {"x": 1}
