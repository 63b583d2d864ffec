"""The table of wire APIs (:mod:`alchemy.wire_apis`) and every place that reads it agree.

One row per wire API; each test walks the whole table and checks one reader: the
API registry and the providers' ``api`` and ``label``, the tool-call id rules, the
model registry and its converter, the replay server's framings, routes and bundled
recordings, the CLI demo, the option declarations, the README's provider table, and
finally a real request per API through the replay server (its path, and how its
errors name the service).
"""

from __future__ import annotations

import importlib
import re
from typing import Any
from urllib.parse import quote

import pytest

import alchemy
from alchemy import options as declared_options
from alchemy import tool_ids
from alchemy.api_registry import get_api, registered_apis
from alchemy.cli import DEMO_MODELS
from alchemy.models import get_model, get_provider
from alchemy.models._convert import API_NAMES
from alchemy.testing import Replay, ReplayServer
from alchemy.testing import wire as testing_wire
from alchemy.testing.eventstream import EVENTSTREAM_CONTENT_TYPE
from alchemy.testing.recordings import DEFAULT_RECORDING_FOR_API, Recording, RecordingLibrary
from alchemy.testing.routes import VERTEX_LOCATION, VERTEX_PROJECT, endpoint_path, match_route
from alchemy.types import Context, Model, UserMessage
from alchemy.wire_apis import (
    FOREIGN_TOOL_ID_FORMATS,
    MISTRAL_CONVERSATIONS,
    OPENAI_COMPLETIONS,
    WIRE_APIS,
    WireApi,
    tool_id_format,
)
from support import ROOT

TABLE = list(WIRE_APIS.values())
MODEL_ID = "wire-test-model"
# Fake, split so it never looks like a real key; it shares no 8 characters with the provider name
# "wire-test", which error texts show (any 8-character run of a key is redacted).
KEY = "fake-" "key-0123456789"

RULE_OF_FORMAT = {
    "openai-completions": tool_ids.openai_completions_tool_call_id,
    "openai-responses": tool_ids.openai_responses_tool_call_id,
    "anthropic": tool_ids.anthropic_tool_call_id,
    "mistral": tool_ids.mistral_tool_call_id,
}
"""What each id format means, spelled out here as the test's own expectation."""

WHERE: dict[str, dict[str, Any]] = {
    "bedrock-converse-stream": {"region": "us-east-1"},
    "google-vertex": {"project": VERTEX_PROJECT, "location": VERTEX_LOCATION},
}
"""The options a request needs besides a key, per API (the rest need none)."""


def ids(api: WireApi) -> str:
    return api.name


def filled_path(api: WireApi, model: str = MODEL_ID) -> str:
    """The table's path with this test's model, the replay server's project and location."""
    values = {"model": quote(model, safe=""), "project": VERTEX_PROJECT, "location": VERTEX_LOCATION, "publisher": "google"}
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], api.path)


# --------------------------------------------------------------------------- the table itself


def test_rows_are_keyed_by_their_names_and_well_formed() -> None:
    assert list(WIRE_APIS) == [api.name for api in TABLE] and len(set(WIRE_APIS)) == len(TABLE)
    for api in TABLE:
        assert api.framing in ("sse", "aws-eventstream")
        assert api.tool_id_format in RULE_OF_FORMAT
        assert api.path.startswith("/") and api.label
        assert api.wire_format in WIRE_APIS and WIRE_APIS[api.wire_format].wire_format == api.wire_format
        assert WIRE_APIS[api.wire_format].framing == api.framing  # one format, one framing
    assert not set(FOREIGN_TOOL_ID_FORMATS) & set(WIRE_APIS)


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        WIRE_APIS["x"] = TABLE[0]  # type: ignore[index]
    with pytest.raises(AttributeError):
        TABLE[0].label = "changed"  # type: ignore[misc]


# --------------------------------------------------------------------------- readers


@pytest.mark.parametrize("api", TABLE, ids=ids)
def test_the_registry_serves_the_tables_provider_object(api: WireApi) -> None:
    module_name, _, attribute = api.provider.partition(":")
    provider: Any = getattr(importlib.import_module(module_name), attribute)
    assert provider.api == api.name and provider.label == api.label
    assert get_api(api.name) is provider
    assert api.name in registered_apis()


@pytest.mark.parametrize("api", TABLE, ids=ids)
def test_tool_call_ids_follow_the_tables_format(api: WireApi) -> None:
    model = Model(MODEL_ID, MODEL_ID, api.name, "wire-test", "")
    assert tool_id_format(api.name) == api.tool_id_format
    assert tool_ids.tool_call_id_rule(model) is RULE_OF_FORMAT[api.tool_id_format]


def test_apis_alchemy_has_no_provider_for_still_get_their_ids_shaped() -> None:
    for name, id_format in FOREIGN_TOOL_ID_FORMATS.items():
        assert tool_ids.tool_call_id_rule(Model(MODEL_ID, MODEL_ID, name, "x", "")) is RULE_OF_FORMAT[id_format]
    assert tool_ids.tool_call_id_rule(Model(MODEL_ID, MODEL_ID, "my-own-api", "x", "")) is None


@pytest.mark.parametrize("api", TABLE, ids=ids)
def test_the_home_providers_of_the_model_registry_use_the_api(api: WireApi) -> None:
    for provider in api.providers:
        assert get_provider(provider).api == api.name, provider


def test_the_model_converter_accepts_exactly_the_tables_apis() -> None:
    assert API_NAMES == set(WIRE_APIS)


def test_the_option_declarations_know_exactly_the_tables_apis() -> None:
    assert set(declared_options.BUILTIN_APIS) == set(WIRE_APIS)


@pytest.mark.parametrize("api", TABLE, ids=ids)
def test_the_replay_server_frames_and_routes_each_api(api: WireApi) -> None:
    assert api.name in testing_wire.WIRE_APIS
    content_type = testing_wire.framing_for(api.name).content_type
    if api.framing == "aws-eventstream":
        assert content_type == EVENTSTREAM_CONTENT_TYPE
    else:
        assert content_type.startswith("text/event-stream")
    path = endpoint_path(api.name, MODEL_ID)
    assert path.endswith(filled_path(api)), (path, api.path)
    route = match_route(*path.partition("?")[::2])
    assert route is not None
    # Mistral shares Chat Completions' path; the replay server serves both under that name.
    assert route.api == (OPENAI_COMPLETIONS.name if api is MISTRAL_CONVERSATIONS else api.name)


def test_the_replay_server_speaks_every_api_of_the_table() -> None:
    assert testing_wire.WIRE_APIS == tuple(WIRE_APIS)
    assert set(testing_wire.FRAMINGS_BY_FORMAT) == {api.wire_format for api in TABLE}


@pytest.mark.parametrize("api", TABLE, ids=ids)
def test_each_api_has_the_bundled_recording_of_its_wire_format(api: WireApi) -> None:
    assert DEFAULT_RECORDING_FOR_API[api.name] == api.wire_format
    recording = RecordingLibrary().resolve(api.wire_format)
    assert isinstance(recording, Recording) and len(recording) > 0


def test_the_readme_lists_every_api_of_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Providers\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(WIRE_APIS)


def test_the_cli_demo_has_one_model_per_wire_format() -> None:
    assert set(DEMO_MODELS) == {api.wire_format for api in TABLE}
    for api_name, model in DEMO_MODELS.items():
        assert get_model(model).api == api_name


# --------------------------------------------------------------------------- a real request per API


@pytest.fixture(scope="module")
def server() -> Any:
    with ReplayServer() as replay:
        yield replay


@pytest.mark.parametrize("api", TABLE, ids=ids)
def test_a_request_goes_to_the_tables_path(server: ReplayServer, api: WireApi) -> None:
    home = api.providers[0] if api.providers else "wire-test"
    model = Model(MODEL_ID, MODEL_ID, api.name, home, server.base_url_for(api.name))
    server.enqueue(Replay(api=api.name))
    message = alchemy.complete(model, Context(messages=[UserMessage("hi")]), api_key=KEY, **WHERE.get(api.name, {}))
    assert message.stop_reason != "error", message.error_message
    request = server.requests[-1]
    path, _, query = filled_path(api).partition("?")
    assert request.path.endswith(path), request.path
    assert not query or query in request.query.split("&"), request.query


@pytest.mark.parametrize("api", TABLE, ids=ids)
def test_errors_name_the_service_by_the_tables_label(server: ReplayServer, api: WireApi) -> None:
    model = Model(MODEL_ID, MODEL_ID, api.name, "wire-test", server.base_url_for(api.name))
    server.enqueue(Replay.http_error(400, message="bad request", api=api.name))
    message = alchemy.complete(
        model, Context(messages=[UserMessage("hi")]), api_key=KEY, max_retries=0, **WHERE.get(api.name, {})
    )
    assert message.stop_reason == "error"
    assert f"wire-test ({api.label}) HTTP 400" in (message.error_message or ""), message.error_message
