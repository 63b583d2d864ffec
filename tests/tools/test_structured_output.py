"""Structured output (``response_format=`` / ``output_schema=``) on every wire API, through the replay server.

The recordings are written in each provider's documented stream shape
(:mod:`structured_wire`): the native mode streams the JSON as text, the tool mode as
a forced tool call's arguments. For every API: the request body carries the
documented field, ``partial.parsed`` grows monotonically, the final ``parsed`` is the
expected object (a dict or an instance of the type asked for), invalid output and
refusals end as ``error`` messages that keep the raw text.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from types import ModuleType
from typing import Any, Optional, TypedDict

import orjson
import partial_json_parser  # type: ignore[import-untyped]
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alchemy
import structured_wire as wire
from alchemy import Context, Model, ModelCapabilities, Tool, UserMessage
from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import UnsupportedCapabilityError
from alchemy.structured import OutputPlan, check_response_format, plan_output
from alchemy.testing import Replay, ReplayServer
from support import WIRE_MODEL_IDS, no_base_url_override, replay_server, wire_model  # noqa: F401 (fixtures)

KEY = "test-key-not-real-0000"
APIS = sorted(WIRE_MODEL_IDS)
REFUSING_APIS = ["anthropic-messages", "azure-openai-responses", "openai-completions", "openai-responses"]
ASK = Context(messages=[UserMessage("Who wrote the first program?")])


@dataclasses.dataclass
class Person:
    """A person."""

    name: str
    age: int
    tags: list[str] = dataclasses.field(default_factory=list)
    nickname: Optional[str] = None


class PersonModel(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str] = []


class PersonDict(TypedDict):
    name: str
    age: int


PERSON = {"name": "Ada Lovelace", "age": 36, "tags": ["math", "poetry"]}
PERSON_TEXT = json.dumps(PERSON)
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}
OPENAI_FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True}}


@pytest.fixture(scope="module")
def server(replay_server: ReplayServer) -> ReplayServer:
    return replay_server


def call_options(api: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"api_key": KEY}
    if api == "google-vertex":
        extra.update(project="p", location="us-central1")
    return extra


def native_model(api: str, server: ReplayServer) -> Model:
    return wire_model(api, server.base_url_for(api))


def claude(model_id: str, base_url: str = "http://127.0.0.1:9", **changes: Any) -> Model:
    return dataclasses.replace(wire_model("anthropic-messages", base_url, **changes), id=model_id, name=model_id)


def tool_model(api: str, server: ReplayServer) -> Model:
    """The API's model without a native JSON mode: structured output goes through a forced tool."""
    if api == "anthropic-messages":
        return claude("claude-3-5-haiku-latest", server.base_url_for(api))
    return wire_model(api, server.base_url_for(api), capabilities=ModelCapabilities(supports_json_output=False))


def stream_answer(
    server: ReplayServer, model: Model, payloads: list[Any], chunking: str = "event", **options: Any
) -> tuple[alchemy.AssistantMessage, list[Any], list[str], dict[str, Any]]:
    server.enqueue(Replay(recording=payloads, chunking=chunking))
    snapshots: list[Any] = []
    types: list[str] = []
    with alchemy.stream(model, ASK, **call_options(model.api), **options) as events:
        for event in events:
            types.append(event.type)
            parsed = event.partial.parsed
            snapshots.append(copy.deepcopy(parsed) if isinstance(parsed, (dict, list)) else parsed)
        message = events.result()
    return message, snapshots, types, server.requests[-1].json


def grows(before: Any, after: Any) -> bool:
    """``after`` extends ``before``: same keys kept (values grown), list items kept, strings extended."""
    if before is None:
        return True
    if isinstance(before, dict):
        return isinstance(after, dict) and all(k in after and grows(v, after[k]) for k, v in before.items())
    if isinstance(before, list):
        return isinstance(after, list) and len(after) >= len(before) and all(
            grows(b, a) for b, a in zip(before, after)
        )
    if isinstance(before, str):
        return isinstance(after, str) and after.startswith(before)
    if isinstance(before, (int, float)) and not isinstance(before, bool):
        return isinstance(after, (int, float)) and str(after).startswith(str(before).rstrip("0").rstrip("."))
    return before == after


def assert_monotonic(snapshots: list[Any]) -> None:
    seen = [s for s in snapshots if isinstance(s, dict)]  # the final event carries the built object
    assert seen, "partial.parsed never showed a value"
    for before, after in zip(seen, seen[1:]):
        assert grows(before, after), (before, after)


# --------------------------------------------------------------------------- request bodies


def _native_field(api: str, body: dict[str, Any]) -> Any:
    if api in ("openai-completions", "mistral-conversations"):
        return body["response_format"]
    if api in ("openai-responses", "azure-openai-responses"):
        return body["text"]["format"]
    if api == "anthropic-messages":
        return body["output_config"]["format"]
    if api == "bedrock-converse-stream":
        return body["outputConfig"]["textFormat"]
    if api == "cohere-chat":
        return body["response_format"]
    return {k: v for k, v in body["generationConfig"].items() if k.startswith("response")}


def _expected_native(api: str, schema: dict[str, Any], name: str, strict: bool) -> Any:
    if api in ("openai-completions", "mistral-conversations"):
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}
    if api in ("openai-responses", "azure-openai-responses"):
        return {"type": "json_schema", "name": name, "schema": schema, "strict": strict}
    if api == "anthropic-messages":
        return {"type": "json_schema", "schema": schema}
    if api == "bedrock-converse-stream":
        return {"type": "json_schema", "structure": {"jsonSchema": {"schema": json.dumps(schema, separators=(",", ":")),
                                                                    "name": name}}}
    if api == "cohere-chat":
        return {"type": "json_object", "json_schema": schema}
    return {"responseMimeType": "application/json", "responseJsonSchema": schema}


@pytest.mark.parametrize("api", APIS)
def test_native_body_with_an_openai_json_schema(api: str, server: ReplayServer) -> None:
    message, _, _, body = stream_answer(server, native_model(api, server), wire.native(api, [PERSON_TEXT]),
                                        response_format=OPENAI_FORMAT)
    assert message.stop_reason == "stop", message.error_message
    # The schema is already closed and fully required, so every dialect sends it unchanged.
    assert _native_field(api, body) == _expected_native(api, PERSON_SCHEMA, "person", True)
    assert message.parsed == PERSON


@pytest.mark.parametrize("api", APIS)
def test_native_body_with_a_pydantic_model(api: str, server: ReplayServer) -> None:
    message, snapshots, _, body = stream_answer(
        server, native_model(api, server), wire.native(api, wire.split(PERSON_TEXT, 5)), response_format=PersonModel
    )
    assert message.stop_reason == "stop", message.error_message
    assert message.parsed == PersonModel(**PERSON)
    sent = _native_field(api, body)
    schema = sent.get("responseJsonSchema") if "responseJsonSchema" in sent else None
    if api == "cohere-chat":
        schema = sent["json_schema"]
        assert schema["required"] == ["name", "age", "tags"] and schema["additionalProperties"] is False
    elif api in ("openai-completions", "openai-responses", "azure-openai-responses"):
        inner = sent["json_schema"] if "json_schema" in sent else sent
        assert inner["strict"] is True and inner["name"] == "PersonModel"
        schema = inner["schema"]
        # Strict OpenAI: every property required, the optional one as a null union, no default.
        assert schema["required"] == ["name", "age", "tags"] and schema["additionalProperties"] is False
        assert schema["properties"]["tags"]["anyOf"][1] == {"type": "null"}
    elif api == "anthropic-messages":
        assert sent["schema"]["additionalProperties"] is False and sent["schema"]["required"] == ["name", "age"]
    elif api == "bedrock-converse-stream":
        assert json.loads(sent["structure"]["jsonSchema"]["schema"])["additionalProperties"] is False
    elif schema is not None:
        assert schema["required"] == ["name", "age"]
    assert_monotonic(snapshots)


@pytest.mark.parametrize("api", ["openai-completions", "mistral-conversations", "openai-responses",
                                 "google-generative-ai", "cohere-chat"])
def test_json_mode(api: str, server: ReplayServer) -> None:
    message, _, _, body = stream_answer(server, native_model(api, server), wire.native(api, ['{"a":', " [1, 2]}"]),
                                        response_format={"type": "json_object"})
    assert message.parsed == {"a": [1, 2]}
    expected = {"responseMimeType": "application/json"} if api == "google-generative-ai" else {"type": "json_object"}
    assert _native_field(api, body) == expected


@pytest.mark.parametrize("api", APIS)
def test_tool_mode_body_and_stream(api: str, server: ReplayServer) -> None:
    model = tool_model(api, server)
    message, snapshots, types, body = stream_answer(
        server, model, wire.tool(api, "Person", wire.split(PERSON_TEXT)), response_format=Person
    )
    assert message.stop_reason == "stop", message.error_message
    assert message.parsed == Person(**PERSON)
    # Presented as the answer: text events, a text block, no tool call.
    assert not any(t.startswith("toolcall") for t in types)
    assert [block.type for block in message.content] == ["text"] and json.loads(message.text) == PERSON
    assert_monotonic(snapshots)
    text = json.dumps(body)
    assert '"Person"' in text  # the one output tool, forced
    for key in ("response_format", "output_config", "outputConfig"):
        assert key not in body
    if api in ("google-generative-ai", "google-vertex"):
        assert body["toolConfig"]["functionCallingConfig"] == {"mode": "ANY", "allowedFunctionNames": ["Person"]}
    elif api == "anthropic-messages":
        assert body["tool_choice"] == {"type": "tool", "name": "Person"}
    elif api == "bedrock-converse-stream":
        assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "Person"}}
    elif api == "cohere-chat":  # the one tool: forcing a call forces it
        assert body["tool_choice"] == "REQUIRED" and [t["function"]["name"] for t in body["tools"]] == ["Person"]


def test_tool_mode_with_the_callers_tools_lets_the_model_choose() -> None:
    weather = Tool("get_weather", "Weather", {"type": "object", "properties": {}})
    model = claude("claude-3-5-haiku-latest")
    options = alchemy.options.check_options("stream", model, alchemy.api_registry.get_api(model.api),
                                            {"response_format": Person})
    from alchemy.structured import apply_output

    context = apply_output(model, Context(messages=[UserMessage("hi")], tools=[weather]), options)
    assert [tool.name for tool in context.tools or ()] == ["get_weather", "Person"]
    assert options.tool_choice == "required"


# --------------------------------------------------------------------------- what ends in error


@pytest.mark.parametrize("api", APIS)
def test_invalid_json_ends_with_an_invalid_output_error(api: str, server: ReplayServer) -> None:
    raw = '{"name": "Ada", "age": 36,, }'
    message, _, types, _ = stream_answer(server, native_model(api, server), wire.native(api, wire.split(raw)),
                                         response_format=Person)
    assert types[-1] == "error" and message.stop_reason == "error"
    assert message.error is not None and message.error.kind == "invalid_output"
    assert "not valid JSON" in (message.error_message or "")
    assert message.text == raw and message.parsed is None


@pytest.mark.parametrize("api", APIS)
def test_schema_mismatch_names_the_failing_path(api: str, server: ReplayServer) -> None:
    raw = json.dumps({"name": "Ada", "age": 36, "tags": ["ok", 7]})
    message, _, _, _ = stream_answer(server, native_model(api, server), wire.native(api, [raw]),
                                     output_schema=PERSON_SCHEMA)
    assert message.stop_reason == "error" and message.error is not None and message.error.kind == "invalid_output"
    assert "$.tags[1]" in (message.error_message or "")
    assert message.text == raw


def test_a_type_mismatch_in_a_dataclass_names_the_path(server: ReplayServer) -> None:
    raw = json.dumps({"name": "Ada", "age": "thirty"})
    message, _, _, _ = stream_answer(server, native_model("openai-completions", server),
                                     wire.native("openai-completions", [raw]), response_format=Person)
    assert message.stop_reason == "error" and "$.age" in (message.error_message or "")


def test_pydantic_validation_errors_name_the_path(server: ReplayServer) -> None:
    raw = json.dumps({"name": "Ada", "age": "x", "tags": []})
    message, _, _, _ = stream_answer(server, native_model("mistral-conversations", server),
                                     wire.native("mistral-conversations", [raw]), response_format=PersonModel)
    assert message.stop_reason == "error" and "$.age" in (message.error_message or "")


def test_output_cut_by_the_token_limit(server: ReplayServer) -> None:
    payloads = wire.native("anthropic-messages", ['{"name": "Ada", "ag'])
    payloads[-2]["delta"]["stop_reason"] = "max_tokens"
    message, _, _, _ = stream_answer(server, native_model("anthropic-messages", server), payloads,
                                     response_format=Person)
    assert message.stop_reason == "error" and "max_tokens" in (message.error_message or "")
    assert message.text == '{"name": "Ada", "ag'


@pytest.mark.parametrize("api", REFUSING_APIS)
def test_refusal_is_reported_as_a_refusal(api: str, server: ReplayServer) -> None:
    words = "I can't help with that."
    message, snapshots, _, _ = stream_answer(server, native_model(api, server),
                                             wire.refusal(api, wire.split(words, 4)), response_format=Person)
    assert message.stop_reason == "error"
    assert message.refusal == words
    assert message.error is not None and message.error.kind == "content_filter"
    assert words not in message.text and message.parsed is None
    assert orjson.loads(orjson.dumps(message.to_dict()))["refusal"] == words


def test_refusal_without_structured_output_stays_text_as_before(server: ReplayServer) -> None:
    server.enqueue(Replay(recording=wire.refusal("openai-completions", ["No", "pe."])))
    message = alchemy.complete(native_model("openai-completions", server), ASK, api_key=KEY)
    assert message.stop_reason == "stop" and message.text == "Nope." and message.refusal == "Nope."


def test_a_turn_that_calls_the_callers_tools_has_no_object(server: ReplayServer) -> None:
    weather = Tool("get_weather", "Weather", {"type": "object", "properties": {}})
    model = native_model("anthropic-messages", server)
    server.enqueue(Replay(recording=wire.tool("anthropic-messages", "get_weather", ['{"city": "Paris"}'])))
    message = alchemy.complete(model, Context(messages=[UserMessage("hi")], tools=[weather]), api_key=KEY,
                               response_format=Person)
    assert message.stop_reason == "toolUse" and message.parsed is None
    assert message.tool_calls[0].arguments == {"city": "Paris"}


# --------------------------------------------------------------------------- refused at the call


def test_a_model_with_neither_mode_is_refused_at_the_call() -> None:
    model = wire_model("openai-completions", capabilities=ModelCapabilities(supports_json_output=False,
                                                                           supports_tools=False))
    with pytest.raises(UnsupportedCapabilityError, match="neither a native JSON output mode nor tool calling"):
        alchemy.stream(model, ASK, api_key=KEY, response_format=Person)


def test_a_strict_schema_the_provider_cannot_express_is_refused_with_its_path() -> None:
    schema = {"type": "object", "properties": {"n": {"not": {"type": "string"}}}, "required": ["n"]}
    with pytest.raises(ValueError, match="#/properties/n/not"):
        alchemy.stream(wire_model("openai-responses"), ASK, api_key=KEY, output_schema=schema)


def test_a_free_form_mapping_is_refused_in_strict_mode_but_sent_as_written_without() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    with pytest.raises(ValueError, match="additionalProperties"):
        alchemy.stream(wire_model("openai-completions"), ASK, api_key=KEY, output_schema=schema)
    loose = {"type": "json_schema", "json_schema": {"name": "counts", "schema": schema}}
    plan = plan_output(wire_model("openai-completions"), check_response_format("response_format", loose))
    assert plan.mode == "native" and plan.wire_schema == schema


def test_a_non_strict_schema_claude_cannot_take_natively_goes_through_a_tool() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    loose = {"type": "json_schema", "json_schema": {"name": "counts", "schema": schema}}
    plan = plan_output(wire_model("anthropic-messages"), check_response_format("response_format", loose))
    assert plan.mode == "tool" and plan.wire_schema == schema


def test_tool_mode_refuses_a_non_object_root_and_a_forced_tool_choice() -> None:
    model = claude("claude-3-5-haiku-latest")
    with pytest.raises(ValueError, match="must be a JSON object"):
        alchemy.stream(model, ASK, api_key=KEY, output_schema={"type": "array", "items": {"type": "integer"}})
    with pytest.raises(ValueError, match="tool_choice cannot be combined"):
        alchemy.stream(model, ASK, api_key=KEY, response_format=Person, tool_choice="auto")


def test_tool_mode_on_a_thinking_claude_says_why_the_forced_tool_is_refused() -> None:
    model = claude("claude-sonnet-4-0", reasoning=True)
    with pytest.raises(ValueError, match="no native JSON output mode"):
        alchemy.stream(model, ASK, api_key=KEY, response_format=Person, thinking_enabled=True)


@pytest.mark.parametrize(
    ("value", "error", "words"),
    [
        (42, TypeError, "option response_format must be"),
        ("yaml", ValueError, "option response_format must be"),
        (int, TypeError, "pydantic BaseModel subclass, a dataclass or a TypedDict"),
        ({"type": "json_schema", "json_schema": {"name": "x"}}, ValueError, "json_schema"),
        ({"type": "json_schema", "json_schema": {"name": "no spaces", "schema": {}}}, ValueError, "name"),
        ({"schema": {"type": "objekt"}}, ValueError, "not a valid JSON Schema"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {}, "strict": "yes"}}, TypeError, "strict"),
    ],
)
def test_bad_response_formats_raise_at_the_call(value: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        alchemy.stream(wire_model("openai-completions"), ASK, api_key=KEY, response_format=value)


def test_both_options_at_once_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="either response_format or output_schema"):
        alchemy.stream(wire_model("openai-completions"), ASK, api_key=KEY, response_format=Person,
                       output_schema=PERSON_SCHEMA)


def test_text_means_no_structured_output(server: ReplayServer) -> None:
    body = stream_answer(server, native_model("openai-completions", server),
                         wire.native("openai-completions", ["hi"]), response_format="text")[3]
    assert "response_format" not in body


def test_typeddict_and_json_schema_dicts_come_back_as_dicts(server: ReplayServer) -> None:
    model = native_model("google-generative-ai", server)
    message, _, _, _ = stream_answer(server, model, wire.native(model.api, ['{"name": "Ada", "age": 36}']),
                                     response_format=PersonDict)
    assert message.parsed == {"name": "Ada", "age": 36}
    message, _, _, _ = stream_answer(server, model, wire.native(model.api, [PERSON_TEXT]), output_schema=PERSON_SCHEMA)
    assert message.parsed == PERSON


def test_null_for_an_optional_field_means_absent(server: ReplayServer) -> None:
    raw = json.dumps({"name": "Ada", "age": 36, "tags": None, "nickname": None})
    message, _, _, _ = stream_answer(server, native_model("openai-responses", server),
                                     wire.native("openai-responses", [raw]), response_format=Person)
    assert message.parsed == Person("Ada", 36, [], None)


def test_the_same_call_async(server: ReplayServer) -> None:
    import asyncio

    async def main() -> alchemy.AssistantMessage:
        server.enqueue(Replay(recording=wire.native("openai-completions", wire.split(PERSON_TEXT))))
        return await alchemy.acomplete(native_model("openai-completions", server), ASK, api_key=KEY,
                                       response_format=PersonModel)

    assert asyncio.run(main()).parsed == PersonModel(**PERSON)


def test_byte_chunking_gives_the_same_object(server: ReplayServer) -> None:
    message, snapshots, _, _ = stream_answer(server, native_model("anthropic-messages", server),
                                             wire.native("anthropic-messages", wire.split(PERSON_TEXT, 3)),
                                             chunking="bytes=11", response_format=PersonModel)
    assert message.parsed == PersonModel(**PERSON)
    assert_monotonic(snapshots)


# --------------------------------------------------------------------------- differential (both twins)

_keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                     st.floats(allow_nan=False, allow_infinity=False, width=32),
                     st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12))
_values = st.recursive(_scalars, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(_keys, c, max_size=4)),
                       max_leaves=15)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.dictionaries(_keys, _values, max_size=5), data=st.data())
def test_partial_object_equals_partial_json_parser_after_every_fragment(
    jsondelta_module: ModuleType, value: dict[str, Any], data: st.DataObject
) -> None:
    text = json.dumps(value, ensure_ascii=False)  # (escaped surrogate pairs cut in half: see the merger docs)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=12)))
    fragments = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)]) if b > a]
    model = wire_model("openai-completions")
    plan = OutputPlan(check_response_format("response_format", {"type": "json_object"}), "native", "openai", None)
    message = new_partial(model)
    emitter = EventEmitter(message, model=model, output=plan, merger_factory=jsondelta_module.JsonDeltaMerger)
    so_far = ""
    for fragment in fragments:
        emitter.text_delta(fragment)
        so_far += fragment
        if so_far != so_far.rstrip():
            continue  # partial-json-parser trims the input's trailing whitespace (even inside a string)
        assert message.parsed == partial_json_parser.loads(so_far), so_far
    emitter.done()
    assert message.parsed == value


def test_pydantic_is_never_imported_unless_used() -> None:
    import subprocess
    import sys

    script = (
        "import dataclasses, sys, alchemy\n"
        "from alchemy.structured import check_response_format, plan_output\n"
        "from alchemy import Model\n"
        "@dataclasses.dataclass\n"
        "class P:\n    a: int\n"
        "m = Model(id='gpt-4.1', name='g', api='openai-completions', provider='openai', base_url='http://x')\n"
        "plan_output(m, check_response_format('response_format', P))\n"
        "print('pydantic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
