"""Responses server tools and citations: the items the server ran, their replay, the declarations.

Every recorded Responses stream with server-run items is parsed on both kernel twins at
three chunkings and checked against what its own JSON says (tests/responses_fixtures.py);
the streamed parts (code, MCP arguments, partial images, annotation events) are checked
on hand-written events; the ``server_tools`` declarations and the replay of a conversation
(JSON round trip, MCP approval) are checked on the bodies a real replay server recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import responses_fixtures as rf
import support
import test_openai_responses as orr

import alchemy
from alchemy.models import get_model
from alchemy.providers import _responses_shared as shared
from alchemy.server_tools import (
    CodeExecution,
    FileSearch,
    ImageGeneration,
    McpServer,
    ToolSearch,
    UserLocation,
    WebFetch,
    WebSearch,
    approve,
)
from alchemy.testing import Replay, ReplayServer
from alchemy.types import AssistantMessage, Context, Model, ServerToolCall, TextContent, UserMessage

KEY = "test-openai-key-not-real"
FAST = {"max_retry_delay": 0.05, "timeout": 10.0}
GPT5 = get_model("openai", "gpt-5")
GPT4O = get_model("openai", "gpt-4o")
AZURE_GPT4O = get_model("azure", "gpt-4o")

SERVER_SEGMENTS = [
    (name, events)
    for name, events in rf.all_segments()
    if any(block[0] == "serverToolCall" for block in rf.expected_from(events).blocks)
]


def _fixture(name: str) -> list[dict[str, Any]]:
    return next(events for fixture, events in rf.all_segments() if fixture == name)


# --------------------------------------------------------------------------- the recordings


def test_every_server_recording_is_covered() -> None:
    support.require_shared()
    names = {name for name, _ in SERVER_SEGMENTS}
    assert {
        "openai/openai-web-search-tool.1",
        "openai/openai-file-search-tool.1",
        "openai/openai-mcp-tool.1",
        "openai/openai-mcp-tool-approval.1",
        "openai/openai-tool-search.1",
        "openai/openai-shell-container.1",
        "openai/programmatic-tool-calling.1",
        "azure/azure-code-interpreter-tool.1",
        "azure/azure-image-generation-tool.1",
        "azure/openai-file-search-tool.1",
        "xai/xai-x-search-tool",
        "xai/xai-image-generation-tool.1",
    } <= names


@pytest.mark.parametrize("how", ["whole", "bytes=7", "random-3"])
@pytest.mark.parametrize(("name", "events"), SERVER_SEGMENTS, ids=[name for name, _ in SERVER_SEGMENTS])
def test_server_recordings_on_both_twins(twins: None, name: str, events: list[dict[str, Any]], how: str) -> None:
    support.require_shared()
    message, out = orr.parse(events, how=how)
    rf.check_message(message, rf.expected_from(events), GPT5)
    starts = [event for event in out if event.type == "servertool_start"]
    ends = [event for event in out if event.type == "servertool_end"]
    assert len(starts) == len(ends) == len(message.server_tool_calls)
    assert AssistantMessage.from_dict(orjson.loads(orjson.dumps(message.to_dict()))) == message


def test_web_search_citations_are_ranges_of_the_answer() -> None:
    support.require_shared()
    message, _ = orr.parse(_fixture("openai/openai-web-search-tool.1"))
    text = message.content[-1]
    assert isinstance(text, TextContent) and text.citations
    first = text.citations[0]
    assert first.kind == "url" and first.url is not None and first.url.startswith("https://techcrunch.com/")
    assert first.start is not None and first.end is not None
    assert text.text[first.start : first.end].startswith("([techcrunch.com](")
    searches = message.server_tool_calls
    assert [call.input["type"] for call in searches][:3] == ["search", "search", "open_page"]
    assert searches[0].input["sources"][0] == {"type": "url", "url": "https://www.wired.com/story/the-big-interview-2025-recap"}


def test_file_citations_point_at_an_index() -> None:
    support.require_shared()
    message, _ = orr.parse(_fixture("openai/openai-file-search-tool.1"))
    citations = message.citations
    assert [(c.kind, c.file_id, c.filename, c.start, c.end) for c in citations] == [
        ("file", "file-Ebzhf8H4DPGPr9pUhr7n7v", "ai.pdf", 154, 154),
        ("file", "file-Ebzhf8H4DPGPr9pUhr7n7v", "ai.pdf", 382, 382),
    ]
    (search,) = message.server_tool_calls
    assert search.name == "file_search" and len(search.input["queries"]) == 3 and search.result is None


def test_code_streams_into_the_input(twins: None) -> None:
    support.require_shared()
    message, out = orr.parse(_fixture("azure/azure-code-interpreter-tool.1"), how="bytes=7")
    (call,) = message.server_tool_calls
    deltas = [event.delta for event in out if event.type == "servertool_delta"]
    assert len(deltas) == 103 and "".join(deltas) == call.input["code"]
    assert call.input["container_id"].startswith("cntr_") and call.result[0]["type"] == "logs"


def test_mcp_arguments_stream_as_json_and_keep_their_text(twins: None) -> None:
    support.require_shared()
    message, out = orr.parse(_fixture("openai/openai-mcp-tool.1"))
    listing, first, second = message.server_tool_calls
    assert listing.name == "mcp_list_tools" and [t["name"] for t in listing.result] == ["web_search_exa", "get_code_context_exa"]
    assert listing.wire is not None and listing.wire["server_label"] == "dmcp"
    assert first.name == "web_search_exa" and first.input["numResults"] == 5
    assert isinstance(first.result, str) and first.result.startswith('{"requestId"')
    deltas = [event.delta for event in out if event.type == "servertool_delta"]
    assert len(deltas) == 2 and first.wire is not None and first.wire["arguments"] == deltas[0]  # spaces kept


# --------------------------------------------------------------------------- hand-written streams


def _server_events(added: dict[str, Any], done: dict[str, Any], *middle: dict[str, Any]) -> list[dict[str, Any]]:
    p = orr.payload
    return [
        orr.created(),
        p("response.output_item.added", output_index=0, item=added),
        *[{**event, "output_index": 0, "item_id": added["id"]} for event in middle],
        p("response.output_item.done", output_index=0, item=done),
        *[{**event, "output_index": 1} for event in orr.message_events("Done.")],
        orr.completed(),
    ]


def test_an_mcp_error_fails_the_call() -> None:
    added = {"id": "mcp_1", "type": "mcp_call", "status": "in_progress", "arguments": "", "name": "lookup",
             "server_label": "s", "error": None, "output": None, "approval_request_id": None}  # fmt: skip
    done = {**added, "status": "failed", "arguments": '{"q":"x"}', "error": {"type": "http_error", "code": 500}}
    events = _server_events(
        added,
        done,
        orr.payload("response.mcp_call_arguments.delta", delta='{"q":'),
        orr.payload("response.mcp_call_arguments.delta", delta='"x"}'),
        orr.payload("response.mcp_call.failed"),
    )
    message, _ = orr.parse(events, how="bytes=7")
    (call,) = message.server_tool_calls
    assert (call.name, call.input, call.result, call.status) == ("lookup", {"q": "x"}, done["error"], "failed")
    assert call.wire == {"type": "mcp_call", "status": "failed", "server_label": "s", "output": None,
                         "approval_request_id": None}  # fmt: skip
    assert shared.server_item(call) == done


def test_a_partial_image_stands_until_the_stream_breaks() -> None:
    added = {"id": "ig_1", "type": "image_generation_call", "status": "in_progress"}
    p = orr.payload
    events = [
        orr.created(),
        p("response.output_item.added", output_index=0, item=added),
        p("response.image_generation_call.partial_image", output_index=0, item_id="ig_1", partial_image_b64="QUJD"),
    ]
    message, _ = orr.parse(events)
    (call,) = message.server_tool_calls
    assert (call.result, call.status, message.stop_reason) == ("QUJD", "in_progress", "error")


def test_annotation_events_give_citations_when_the_item_has_none() -> None:
    p = orr.payload
    item = {"id": "msg_1", "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    note = {"type": "url_citation", "url": "https://a.example/", "title": "A", "start_index": 0, "end_index": 5}
    events = [
        orr.created(),
        p("response.output_item.added", output_index=0, item=item),
        p("response.output_text.delta", output_index=0, item_id="msg_1", delta="Hello world"),
        p("response.output_text.annotation.added", output_index=0, item_id="msg_1", content_index=0, annotation=note),
        p("response.output_item.done", output_index=0, item={**item, "content": [{"type": "output_text", "text": "Hello world"}]}),
        orr.completed(),
    ]
    message, _ = orr.parse(events)
    (citation,) = message.citations
    assert (citation.kind, citation.url, citation.title, citation.start, citation.end) == ("url", "https://a.example/", "A", 0, 5)
    assert citation.wire == note


def test_citations_of_a_later_part_are_ranges_of_the_whole_text() -> None:
    parts = [
        {"type": "output_text", "text": "One. ", "annotations": []},
        {"type": "output_text", "text": "Two.", "annotations": [
            {"type": "container_file_citation", "container_id": "c", "file_id": "f", "filename": "a.csv",
             "start_index": 0, "end_index": 3}]},
    ]  # fmt: skip
    item = {"id": "msg_1", "type": "message", "status": "completed", "content": parts, "role": "assistant"}
    message, _ = orr.parse([orr.created(), orr.payload("response.output_item.done", item=item), orr.completed()])
    (citation,) = message.citations
    assert (citation.kind, citation.file_id, citation.filename, citation.start, citation.end) == ("file", "f", "a.csv", 5, 8)
    assert message.text[citation.start : citation.end] == "Two"


def test_a_client_tool_search_is_not_a_server_call() -> None:
    support.require_shared()
    message, _ = orr.parse(_fixture("openai/openai-client-tool-search.1"))
    assert message.content == []


# --------------------------------------------------------------------------- the request


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(default=None) as replay_server:
        yield replay_server


def _on(server: ReplayServer, where: str, model: Model = GPT4O) -> tuple[Model, dict[str, Any]]:
    if where == "azure":
        return AZURE_GPT4O, {"azure_base_url": server.base_url_for("azure-openai-responses")}
    return dataclasses.replace(model, base_url=server.base_url_for("openai-responses")), {}


def _hello() -> list[dict[str, Any]]:
    return [orr.created(), *orr.message_events("Hi"), orr.completed()]


def _body(server: ReplayServer, where: str, context: Context | None = None, model: Model = GPT4O, **options: Any) -> dict[str, Any]:
    target, routing = _on(server, where, model)
    server.enqueue(Replay(_hello()))
    message = alchemy.complete(target, context or Context(messages=[UserMessage("Hello")]), api_key=KEY, **FAST,
                               **routing, **options)  # fmt: skip
    assert message.stop_reason == "stop", message.error_message
    body: dict[str, Any] = server.last_request.json
    return body


MCP = McpServer(url="https://mcp.example.com/mcp", name="docs", authorization="oauth-token-xyz", allowed_tools=["search"],
                headers={"X-Team": "a"}, require_approval="always", description="Docs server")  # fmt: skip
MCP_ENTRY = {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com/mcp",
             "authorization": "oauth-token-xyz", "allowed_tools": ["search"], "headers": {"X-Team": "a"},
             "require_approval": "always", "server_description": "Docs server"}  # fmt: skip
DECLARATIONS = [
    (WebSearch(), {"type": "web_search"}, ["web_search_call.action.sources"]),
    (
        WebSearch(allowed_domains=["example.com"], user_location=UserLocation(city="Oslo", country="NO"), context_size="low"),
        {"type": "web_search", "filters": {"allowed_domains": ["example.com"]},
         "user_location": {"type": "approximate", "city": "Oslo", "country": "NO"}, "search_context_size": "low"},
        ["web_search_call.action.sources"],
    ),  # fmt: skip
    (
        FileSearch(vector_store_ids=["vs_1"], max_num_results=5, filters={"type": "eq", "key": "k", "value": "v"}),
        {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 5,
         "filters": {"type": "eq", "key": "k", "value": "v"}},
        ["file_search_call.results"],
    ),  # fmt: skip
    (CodeExecution(), {"type": "code_interpreter", "container": {"type": "auto"}}, ["code_interpreter_call.outputs"]),
    (
        CodeExecution(file_ids=["file_1"]),
        {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file_1"]}},
        ["code_interpreter_call.outputs"],
    ),
    (CodeExecution(container="cntr_1"), {"type": "code_interpreter", "container": "cntr_1"}, ["code_interpreter_call.outputs"]),
    (MCP, MCP_ENTRY, []),
    (
        ImageGeneration(size="1024x1024", quality="low", output_format="webp", background="opaque", partial_images=2),
        {"type": "image_generation", "size": "1024x1024", "quality": "low", "output_format": "webp",
         "background": "opaque", "partial_images": 2},
        [],
    ),  # fmt: skip
]


CASES = [
    pytest.param(where, *case, id=f"{where}-{type(case[0]).__name__}-{i}")
    for where in ("openai", "azure")
    for i, case in enumerate(DECLARATIONS)
    if not (where == "azure" and isinstance(case[0], WebSearch))  # Azure does not offer it: refused, below
]


@pytest.mark.parametrize(("where", "tool", "entry", "include"), CASES)
def test_declarations_reach_the_recorded_body(
    server: ReplayServer, where: str, tool: Any, entry: dict[str, Any], include: list[str]
) -> None:
    body = _body(server, where, server_tools=[tool])
    assert body["tools"] == [entry]
    assert body.get("include", []) == include


def test_server_tools_join_the_function_tools_and_their_includes(server: ReplayServer) -> None:
    tools = [WebSearch(), CodeExecution(), FileSearch(vector_store_ids=["vs_1"])]
    context = Context(messages=[UserMessage("Hello")], tools=[orr.WEATHER])
    body = _body(server, "openai", context, model=GPT5, server_tools=tools)
    assert [tool["type"] for tool in body["tools"]] == ["function", "web_search", "code_interpreter", "file_search"]
    assert body["include"] == ["reasoning.encrypted_content", "web_search_call.action.sources",
                               "code_interpreter_call.outputs", "file_search_call.results"]  # fmt: skip


def test_no_server_tools_leave_the_body_alone(server: ReplayServer) -> None:
    body = _body(server, "openai")
    assert "tools" not in body and "include" not in body


def test_the_mcp_token_is_redacted_from_errors(server: ReplayServer) -> None:
    target, _ = _on(server, "openai")
    server.enqueue(Replay([orr.created(), orr.payload("error", code="server_error", message="oauth-token-xyz failed")]))
    message = alchemy.complete(target, Context(messages=[UserMessage("Hi")]), api_key=KEY, max_retries=0, **FAST,
                               server_tools=[MCP])  # fmt: skip
    assert message.stop_reason == "error" and "oauth-token-xyz" not in (message.error_message or "")


XAI = Model("grok-4", "Grok 4", "openai-responses", "xai", "http://127.0.0.1:9/v1")


@pytest.mark.parametrize(
    ("model", "where", "tool", "fragment"),
    [
        (GPT4O, "openai", WebFetch(), "WebFetch is not offered by the openai-responses API"),
        (GPT4O, "openai", ToolSearch(), "ToolSearch is not offered by the openai-responses API"),
        (GPT4O, "openai", WebSearch(max_uses=2), "WebSearch(max_uses=...) is not carried by the openai-responses API"),
        (AZURE_GPT4O, "azure", WebSearch(), "WebSearch is not offered by the azure-openai-responses API"),
        (XAI, "xai", WebSearch(user_location=UserLocation(country="US")), "WebSearch(user_location=...) is not offered by xAI"),
        (XAI, "xai", WebSearch(context_size="high"), "WebSearch(context_size=...) is not offered by xAI"),
        (XAI, "xai", WebSearch(allowed_domains=[f"d{i}.com" for i in range(6)]), "at most 5 allowed_domains, got 6"),
    ],
)
def test_what_the_api_or_model_lacks_is_refused_at_the_call(
    server: ReplayServer, model: Model, where: str, tool: Any, fragment: str
) -> None:
    target = model if where == "xai" else _on(server, where)[0]
    routing = _on(server, "azure")[1] if where == "azure" else {}
    before = len(server.requests)
    with pytest.raises(ValueError, match=r"option server_tools\[0\]") as raised:
        alchemy.complete(target, Context(messages=[UserMessage("Hi")]), api_key=KEY, server_tools=[tool], **routing)
    assert fragment in str(raised.value)
    assert len(server.requests) == before


def test_xai_takes_its_web_search_with_domains(server: ReplayServer) -> None:
    xai = dataclasses.replace(XAI, base_url=server.base_url_for("openai-responses"))
    body = _body(server, "openai", model=xai, server_tools=[WebSearch(allowed_domains=["x.ai"])])
    assert body["tools"] == [{"type": "web_search", "filters": {"allowed_domains": ["x.ai"]}}]


# --------------------------------------------------------------------------- replaying a conversation


def _turn(name: str, model: Model = GPT5) -> tuple[AssistantMessage, list[dict[str, Any]]]:
    """A recorded turn parsed, saved as JSON and loaded back; and the recorded output items."""
    events = _fixture(name)
    message, _ = orr.parse(events, model=model)
    context = Context.from_json(Context(messages=[message]).to_json())
    loaded = context.messages[0]
    assert isinstance(loaded, AssistantMessage) and loaded == message
    items = [event["item"] for event in events if event.get("type") == "response.output_item.done"]
    return loaded, items


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "name", ["openai/openai-web-search-tool.1", "openai/openai-mcp-tool.1", "openai/openai-tool-search.1",
             "openai/openai-shell-container.1"]
)  # fmt: skip
def test_a_saved_turn_goes_back_verbatim_in_order(server: ReplayServer, name: str, mode: str) -> None:
    support.require_shared()
    turn, items = _turn(name)
    context = Context(messages=[UserMessage("Search"), turn, UserMessage("And then?")])
    target, _ = _on(server, "openai", GPT5)
    server.enqueue(Replay(_hello()))
    if mode == "sync":
        message = alchemy.complete(target, context, api_key=KEY, **FAST)
    else:
        message = asyncio.run(alchemy.acomplete(target, context, api_key=KEY, **FAST))
    assert message.stop_reason == "stop", message.error_message
    sent = server.last_request.json["input"][1:-1]
    client = ("function_call", "function_call_output")  # client calls go back as alchemy writes them
    replayable = [item for item in items if item["type"] not in client]
    got = [item for item in sent if item["type"] not in client]
    assert [item["type"] for item in got] == [item["type"] for item in replayable]
    for mine, theirs in zip(got, replayable):
        if theirs["type"] == "message":
            assert mine["content"][0]["annotations"] == theirs["content"][0]["annotations"]
            assert mine["content"][0]["text"] == turn.text  # (what streamed: openai-shell-container's differs)
        elif theirs["type"] == "web_search_call":  # with store: false it goes without its id, as Codex sends it
            assert mine == {k: v for k, v in theirs.items() if k != "id"}
        else:
            assert mine == theirs


def test_another_api_gets_none_of_it(server: ReplayServer) -> None:
    support.require_shared()
    turn, _ = _turn("openai/openai-web-search-tool.1")
    target, routing = _on(server, "azure")
    body = _body(server, "azure", Context(messages=[UserMessage("Search"), turn, UserMessage("More")]))
    assert target.provider != turn.provider and routing
    assert [item.get("type", item.get("role")) for item in body["input"]] == ["user", "message", "user"]
    assert body["input"][1]["content"][0]["annotations"] == []


@pytest.mark.parametrize("where", ["openai", "azure"])
@pytest.mark.parametrize("answer", [True, False])
def test_an_approval_follows_its_request(server: ReplayServer, where: str, answer: bool) -> None:
    support.require_shared()
    model = GPT5 if where == "openai" else get_model("azure", "gpt-5")
    turn, items = _turn("openai/openai-mcp-tool-approval.1", model)
    request = turn.server_tool_calls[-1]
    assert request.status == "awaiting_approval" and request.name == "create_short_url"
    assert request.input["url"] == "https://ai-sdk.dev/"
    result = approve(request, answer, reason=None if answer else "not now")
    context = Context(messages=[UserMessage("Shorten it"), turn, result])
    body = _body(server, where, context, model=model, server_tools=[MCP])
    *_, asked, answered = body["input"]
    assert asked == items[-1]
    expected = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": answer}
    assert answered == (expected if answer else {**expected, "reason": "not now"})


def test_a_web_search_goes_back_without_its_id_only_when_store_is_off() -> None:
    call = ServerToolCall("ws_1", "web_search", {"type": "search", "query": "q"}, None, "completed", "openai",
                          {"type": "web_search_call", "status": "completed"})  # fmt: skip
    turn = AssistantMessage(content=[call], api=GPT5.api, provider=GPT5.provider, model=GPT5.id)
    context = Context(messages=[UserMessage("Search"), turn])
    [unstored] = [item for item in shared.convert_messages(context, GPT5, False) if item.get("type")]
    [stored] = [item for item in shared.convert_messages(context, GPT5, None) if item.get("type")]
    assert unstored == {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}}
    assert stored == {"id": "ws_1", **unstored}
