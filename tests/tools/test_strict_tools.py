"""Strict tools: the normalised schema per provider, what is refused at the call, and the recorded bodies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

import alchemy
from alchemy import Context, Model, Tool, UserMessage
from alchemy.schema import SchemaError
from alchemy.strict_tools import STRICT_TOOLS, check_strict_tools, wire_parameters
from alchemy.testing import ReplayServer, ScriptedProvider, scripted_model, stop, text
from support import no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

KEY = "test-key-not-real-0000"
Body = dict[str, Any]


@dataclasses.dataclass
class Stop:
    city: str
    nights: int = 1


def plan_trip(stops: list[Stop], budget: float | None = None, note: str = "") -> str:
    """Plans a trip."""
    return "planned"


TRIP = Tool.from_function(plan_trip, strict=True)
LOOSE = Tool.from_function(plan_trip, name="plan_loose")

STOP_DEF = {"type": "object", "title": "Stop", "properties": {"city": {"type": "string"}}, "required": ["city"]}
NIGHTS_AS_WRITTEN = {"city": {"type": "string"}, "nights": {"type": "integer", "default": 1}}
OPTIONAL_AS_WRITTEN = {
    "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
    "budget": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
    "note": {"type": "string", "default": ""},
}

# dialect -> the schema strict mode sends for plan_trip
NORMALISED: dict[str, dict[str, Any]] = {
    "openai": {
        "type": "object",
        "properties": {
            "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
            "budget": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},  # optional: every property is required
        },
        "additionalProperties": False,
        "required": ["stops", "budget", "note"],
        "$defs": {
            "Stop": {
                **STOP_DEF,
                "properties": {
                    "city": {"type": "string"},
                    "nights": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                },
                "required": ["city", "nights"],
                "additionalProperties": False,
            }
        },
    },
    "anthropic": {
        "type": "object",
        "properties": OPTIONAL_AS_WRITTEN,
        "additionalProperties": False,
        "required": ["stops"],
        "$defs": {
            "Stop": {
                **STOP_DEF,
                "properties": NIGHTS_AS_WRITTEN,
                "additionalProperties": False,
            }
        },
    },
    "gemini": {
        "type": "object",
        "properties": OPTIONAL_AS_WRITTEN,
        "additionalProperties": False,
        "required": ["stops"],
        "$defs": {"Stop": {**STOP_DEF, "properties": NIGHTS_AS_WRITTEN}},
    },
}
NORMALISED["mistral"] = NORMALISED["anthropic"]


@pytest.mark.parametrize("api", sorted(STRICT_TOOLS))
def test_each_api_gets_its_dialects_normalisation(api: str) -> None:
    expected = NORMALISED[STRICT_TOOLS[api].dialect]
    sent = wire_parameters(TRIP, api)
    assert sent == expected
    assert list(sent["properties"]) == ["stops", "budget", "note"]  # the order the model writes them in
    assert wire_parameters(LOOSE, api) is LOOSE.parameters  # a tool that is not strict goes as written


def test_the_openai_null_of_an_optional_argument_means_not_given() -> None:
    args, kwargs = TRIP.call_arguments({"stops": [{"city": "Rome", "nights": None}], "budget": None, "note": None})
    assert kwargs == {"stops": [Stop("Rome", 1)], "budget": None}


# --------------------------------------------------------------------------- refused at the call


def strict_tool(parameters: dict[str, Any]) -> Tool:
    return Tool("shape", "A shape.", {"type": "object", **parameters}, strict=True)


@pytest.mark.parametrize(
    ("api", "tool", "keyword", "path"),
    [
        ("openai-responses", strict_tool({"properties": {"m": {"type": "object", "patternProperties": {"^x": {}}}}}),
         "patternProperties", "#/properties/m/patternProperties"),
        ("openai-completions", strict_tool({"properties": {"counts": {"type": "object",
                                                                      "additionalProperties": {"type": "integer"}}}}),
         "additionalProperties", "#/properties/counts/additionalProperties"),
        ("anthropic-messages", strict_tool({"properties": {"node": {"$ref": "#/$defs/Node"}},
                                            "$defs": {"Node": {"type": "object", "properties": {
                                                "next": {"$ref": "#/$defs/Node"}}}}}),
         "$ref", "#/$defs/Node"),
        ("mistral-conversations", strict_tool({"properties": {"a": {"type": "object", "additionalProperties": True}}}),
         "additionalProperties", "#/properties/a/additionalProperties"),
    ],
    ids=["openai-patternProperties", "openai-open-mapping", "anthropic-recursion", "mistral-open-object"],
)  # fmt: skip
def test_what_strict_mode_cannot_express_is_refused_with_its_path(
    api: str, tool: Tool, keyword: str, path: str
) -> None:
    context = Context(messages=[UserMessage("hi")], tools=[tool])
    with pytest.raises(SchemaError) as caught:
        alchemy.stream(wire_model(api), context, api_key=KEY)
    assert caught.value.keyword == keyword and caught.value.path == path
    assert str(caught.value).startswith("strict tool 'shape': schema ")
    assert path in str(caught.value)


def model(api: str, model_id: str, **changes: Any) -> Model:
    return Model(id=model_id, name=model_id, api=api, provider="p", base_url="http://127.0.0.1:9/v1", **changes)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (model("google-vertex", "gemini-2.5-flash"), "google-vertex takes no strict tools; strict tools work on "),
        (model("anthropic-messages", "claude-opus-4-1"), "strict tool use is documented for Claude 4.5 and later"),
        (model("anthropic-messages", "MiniMax-M2"), "strict tool use is documented for Claude 4.5 and later"),
        (model("bedrock-converse-stream", "meta.llama3-70b-instruct-v1:0"), "Claude 4.5 and later"),
        (model("openai-completions", "llama3", compat={"supports_strict_mode": False}), "supports_strict_mode is off"),
    ],
    ids=["vertex", "claude-4.1", "not-claude", "bedrock-llama", "compat-off"],
)
def test_apis_and_models_without_strict_tools_refuse_them(target: Model, message: str) -> None:
    context = Context(messages=[UserMessage("hi")], tools=[TRIP])
    with pytest.raises(ValueError, match="tool 'plan_trip' is strict") as caught:
        alchemy.stream(target, context, api_key=KEY)
    assert message in str(caught.value)


class Plain:
    """A provider of a user's own API, with no word on strict tools."""

    api = "my-api"
    option_names: frozenset[str] = frozenset()

    def open(self, *args: Any) -> Any:
        raise AssertionError("never opened: the call is refused first")

    aopen = open

    def map_simple_options(self, model: Model, options: Any) -> Any:
        return options


def test_a_custom_api_refuses_strict_tools_unless_it_declares_them() -> None:
    context = Context(messages=[UserMessage("hi")], tools=[TRIP])
    alchemy.register_api("my-api", Plain())  # type: ignore[arg-type]
    try:
        with pytest.raises(ValueError, match="my-api takes no strict tools; strict tools work on openai-completions"):
            alchemy.stream(scripted_model("my-api"), context)
    finally:
        alchemy.unregister_api("my-api")
    with ScriptedProvider([[text("x")], [stop()]]):  # the scripted provider declares them
        assert alchemy.complete(scripted_model(), context).text == "x"


def test_the_compat_option_can_allow_strict_tools() -> None:
    context = Context(messages=[UserMessage("hi")], tools=[TRIP])
    local = model("openai-completions", "llama3", compat={"supports_strict_mode": False})
    options = alchemy.streaming.build_options(
        "stream", local, alchemy.get_api(local.api), {"compat": {"supports_strict_mode": True}}, simple=False
    )
    check_strict_tools(local, context, options)  # no error: the call's compat says the server takes strict


def test_gemini_takes_every_tool_strict_or_none() -> None:
    context = Context(messages=[UserMessage("hi")], tools=[TRIP, LOOSE])
    with pytest.raises(ValueError, match="every tool of a request strict or none .* 'plan_loose' is not"):
        alchemy.stream(wire_model("google-generative-ai"), context, api_key=KEY)
    alchemy.stream(wire_model("openai-responses"), context, api_key=KEY).close()  # per-tool APIs take a mix


# --------------------------------------------------------------------------- the recorded request bodies


def _fn(body: Body) -> list[Body]:
    return [tool["function"] for tool in body["tools"]]


# api -> (the strict tool's definition in the body, where its schema is, how strict shows)
WHERE: dict[str, tuple[Callable[[Body], Body], str, Callable[[Body, Body], Any], Any]] = {
    "openai-completions": (lambda b: _fn(b)[0], "parameters", lambda b, t: t["strict"], True),
    "openai-responses": (lambda b: b["tools"][0], "parameters", lambda b, t: t["strict"], True),
    "azure-openai-responses": (lambda b: b["tools"][0], "parameters", lambda b, t: t["strict"], True),
    "anthropic-messages": (lambda b: b["tools"][0], "input_schema", lambda b, t: t["strict"], True),
    "bedrock-converse-stream": (
        lambda b: b["toolConfig"]["tools"][0]["toolSpec"],
        "inputSchema",
        lambda b, t: t["strict"],
        True,
    ),
    "google-generative-ai": (
        lambda b: b["tools"][0]["functionDeclarations"][0],
        "parametersJsonSchema",
        lambda b, t: b["toolConfig"]["functionCallingConfig"],
        {"mode": "VALIDATED"},
    ),
    "mistral-conversations": (lambda b: _fn(b)[0], "parameters", lambda b, t: t["strict"], True),
    "cohere-chat": (lambda b: _fn(b)[0], "parameters", lambda b, t: b["strict_tools"], True),
}


def test_the_table_covers_every_strict_api() -> None:
    assert set(WHERE) == set(STRICT_TOOLS)


@pytest.fixture(scope="module")
def server(replay_server: ReplayServer) -> ReplayServer:
    return replay_server


def send(server: ReplayServer, api: str, context: Context, **options: Any) -> Body:
    before = len(server.requests)
    message = alchemy.complete(wire_model(api, server.base_url_for(api)), context, api_key=KEY, **options)
    assert message.stop_reason != "error", message.error_message
    assert len(server.requests) == before + 1
    body: Body = server.requests[-1].json
    return body


@pytest.mark.parametrize("api", sorted(WHERE))
def test_a_strict_tool_reaches_the_documented_fields(api: str, server: ReplayServer) -> None:
    definition, schema_key, strictness, expected = WHERE[api]
    body = send(server, api, Context(messages=[UserMessage("plan")], tools=[TRIP]))
    tool = definition(body)
    schema = tool[schema_key]["json"] if api == "bedrock-converse-stream" else tool[schema_key]
    assert schema == NORMALISED[STRICT_TOOLS[api].dialect]
    assert strictness(body, tool) == expected


@pytest.mark.parametrize("api", sorted(WHERE))
def test_a_tool_that_is_not_strict_is_sent_as_before(api: str, server: ReplayServer) -> None:
    definition, schema_key, _, _ = WHERE[api]
    body = send(server, api, Context(messages=[UserMessage("plan")], tools=[LOOSE]))
    tool = definition(body)
    schema = tool[schema_key]["json"] if api == "bedrock-converse-stream" else tool[schema_key]
    assert schema == LOOSE.parameters
    if api in ("anthropic-messages", "bedrock-converse-stream"):
        assert "strict" not in tool
    elif api == "google-generative-ai":
        assert "toolConfig" not in body
    elif api == "cohere-chat":
        assert "strict_tools" not in body and "strict" not in tool
    else:
        assert tool["strict"] is False


def test_gemini_forced_calls_stay_any_with_strict_tools(server: ReplayServer) -> None:
    context = Context(messages=[UserMessage("plan")], tools=[TRIP])
    body = send(server, "google-generative-ai", context, tool_choice="required")
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    body = send(server, "google-generative-ai", context, tool_choice="none")
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_gemini_openapi_schemas_are_validated_too(server: ReplayServer) -> None:
    context = Context(messages=[UserMessage("plan")], tools=[TRIP])
    body = send(server, "google-generative-ai", context, tool_schema="openapi")
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert "parameters" in declaration and "parametersJsonSchema" not in declaration
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "VALIDATED"}}


def test_strict_survives_the_json_round_trip_and_sanitizing() -> None:
    context = Context(messages=[UserMessage("\ud800 hi")], tools=[TRIP])
    again = Context.from_json(context.to_json())
    assert again.tools is not None and again.tools[0].strict and again.tools[0].parameters == TRIP.parameters
    from alchemy.sanitize import sanitize_context

    weird = Context(messages=[UserMessage("hi")], tools=[Tool("t", "bad \ud800", {"type": "object"}, strict=True)])
    assert sanitize_context(weird).tools[0].strict  # type: ignore[index]
