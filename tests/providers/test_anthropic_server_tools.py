"""Anthropic's server tools and citations (issue #18): parsing, replay, declarations, pause_turn.

Streams the recordings do not have (web search with citations, a search error, the
MCP connector's blocks, a text block that starts with citations, a paused turn, a
continuation that opens with a result) are made by hand in the shapes Anthropic's
documentation shows, and fed to the parser at three chunkings on both kernel twins.
Each response of the recordings that hold a whole tool loop is replayed on its own.
The request side goes through the replay server on 127.0.0.1: each server tool's
declaration, its beta flag and the blocks replayed verbatim are asserted on the body
the server recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import support
from anthropic_oracle import expected_from_events, responses
from protocol_checks import assert_protocol, run_parser

import alchemy
from alchemy.models import get_model
from alchemy.providers.anthropic_messages import provider
from alchemy.server_tools import needs_continuation
from alchemy.testing import Replay, ReplayServer
from alchemy.types import (
    AssistantMessage,
    Citation,
    Context,
    Model,
    ServerToolCall,
    TextContent,
    Tool,
    UserMessage,
)

KEY = "sk-ant-" "api03-server-tools-0123456789"  # fake, split so it never looks like a real key
MCP_TOKEN = "mcp-" "oauth-token-not-real-0123"  # fake
SONNET = get_model("anthropic", "claude-sonnet-4-5")
CHUNKINGS = ["whole", "bytes=1", "random"]
WEATHER = Tool("get_weather", "Weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}})
NEWS = Tool("get_news", "News of a city.", {"type": "object", "properties": {"city": {"type": "string"}}})


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY", "ALCHEMY_CACHE_RETENTION", "ALCHEMY_BASE_URL_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)


def sizes(kind: str) -> Iterator[int] | None:
    if kind == "whole":
        return None
    if kind == "bytes=1":
        return iter(lambda: 1, 0)
    rng = random.Random(kind)
    return iter(lambda: rng.randint(1, 64), 0)


def frames(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


def parse(events: list[dict[str, Any]], chunking: str = "whole") -> AssistantMessage:
    _, message = run_parser(provider, SONNET, frames(events), sizes(chunking))
    return message


# --------------------------------------------------------------------------- hand-made streams


def stream_of(blocks: list[dict[str, Any]], reason: str = "end_turn") -> list[dict[str, Any]]:
    """The events Anthropic streams for the final ``blocks``: text and call inputs in pieces,
    citations as ``citations_delta``, result blocks whole at their start."""
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_srv", "usage": {"input_tokens": 9, "output_tokens": 1}}}
    ]
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "text":
            events.append({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
            for citation in block.get("citations", []):
                delta = {"type": "citations_delta", "citation": citation}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
            text = block["text"]
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                delta = {"type": "text_delta", "text": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        elif kind in ("server_tool_use", "mcp_tool_use"):
            events.append({"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}})
            raw = orjson.dumps(block["input"]).decode()
            for piece in ("", raw[:5], raw[5:]):
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
        else:
            events.append({"type": "content_block_start", "index": index, "content_block": block})
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "message_delta", "delta": {"stop_reason": reason}, "usage": {"output_tokens": 40}})
    events.append({"type": "message_stop"})
    return events


SEARCH_CALL: dict[str, Any] = {"type": "server_tool_use", "id": "srvtoolu_01A", "name": "web_search", "input": {"query": "tallest tower"}}
SEARCH_RESULT: dict[str, Any] = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_01A",
    "content": [
        {
            "type": "web_search_result",
            "url": "https://example.org/towers",
            "title": "Tall towers",
            "encrypted_content": "EqgfCioIARgBIiQ3",
            "page_age": "April 30, 2025",
        }
    ],
}
SEARCH_CITATION: dict[str, Any] = {
    "type": "web_search_result_location",
    "url": "https://example.org/towers",
    "title": "Tall towers",
    "encrypted_index": "Eo8BCioIAhgBIiQy",
    "cited_text": "The tallest tower is 828 metres high.",
}
ANSWER: dict[str, Any] = {"type": "text", "text": "It is 828 metres high.", "citations": [SEARCH_CITATION]}
SEARCH_ERROR: dict[str, Any] = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_01A",
    "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
}
CODE_CALL: dict[str, Any] = {"type": "server_tool_use", "id": "srvtoolu_01B", "name": "bash_code_execution", "input": {"command": "ls"}}
CODE_RESULT: dict[str, Any] = {
    "type": "bash_code_execution_tool_result",
    "tool_use_id": "srvtoolu_01B",
    "content": {"type": "bash_code_execution_result", "stdout": "a.txt\n", "stderr": "", "return_code": 0, "content": []},
}
MCP_CALL: dict[str, Any] = {
    "type": "mcp_tool_use",
    "id": "mcptoolu_01C",
    "name": "echo",
    "server_name": "example-mcp",
    "input": {"param1": "value1"},
}
MCP_RESULT: dict[str, Any] = {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_01C", "is_error": False, "content": [{"type": "text", "text": "Hello"}]}
SEARCH_TURN: list[dict[str, Any]] = [{"type": "text", "text": "Let me search."}, SEARCH_CALL, SEARCH_RESULT, ANSWER]

SEARCH_CALL_BLOCK = ServerToolCall(
    "srvtoolu_01A",
    "web_search",
    {"query": "tallest tower"},
    SEARCH_RESULT["content"],
    "completed",
    "anthropic",
    {"call": {"type": "server_tool_use"}, "result": {"type": "web_search_tool_result"}},
)


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_web_search_with_citations(twins: None, chunking: str) -> None:
    message = parse(stream_of(SEARCH_TURN), chunking)
    assert message.stop_reason == "stop" and not message.paused
    text, call, answer = message.content[0], message.content[1], message.content[2]
    assert text == TextContent("Let me search.") and call == SEARCH_CALL_BLOCK
    assert isinstance(answer, TextContent) and answer.text == ANSWER["text"]
    assert answer.citations == [
        Citation(
            "url",
            url="https://example.org/towers",
            title="Tall towers",
            cited_text="The tallest tower is 828 metres high.",
            wire=SEARCH_CITATION,
        )
    ]
    assert message.server_tool_calls == [call] and message.citations == answer.citations
    assert len(message.content) == 3


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_a_search_error_is_a_failed_call(twins: None, chunking: str) -> None:
    message = parse(stream_of([SEARCH_CALL, SEARCH_ERROR, {"type": "text", "text": "The search failed."}]), chunking)
    call = message.content[0]
    assert isinstance(call, ServerToolCall) and call.status == "failed" and call.failed
    assert call.result == {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("is_error", [False, True])
def test_mcp_tool_use_and_result(twins: None, chunking: str, is_error: bool) -> None:
    result = {**MCP_RESULT, "is_error": is_error}
    message = parse(stream_of([MCP_CALL, result, {"type": "text", "text": "Done."}]), chunking)
    call = message.content[0]
    assert call == ServerToolCall(
        "mcptoolu_01C",
        "echo",
        {"param1": "value1"},
        [{"type": "text", "text": "Hello"}],
        "failed" if is_error else "completed",
        "anthropic",
        {"call": {"type": "mcp_tool_use", "server_name": "example-mcp"}, "result": {"type": "mcp_tool_result", "is_error": is_error}},
    )


def test_a_call_given_whole_at_its_start(twins: None) -> None:
    events = stream_of([MCP_CALL, MCP_RESULT])
    events = [e for e in events if e["type"] != "content_block_delta"]
    events[1]["content_block"] = MCP_CALL  # input given at the start, no deltas
    message = parse(events, "bytes=1")
    assert isinstance(message.content[0], ServerToolCall) and message.content[0].input == {"param1": "value1"}


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_a_text_block_that_starts_with_citations(twins: None, chunking: str) -> None:
    cited = {
        "type": "char_location",
        "cited_text": "The grass is green.",
        "document_index": 0,
        "document_title": "Facts",
        "start_char_index": 0,
        "end_char_index": 20,
    }
    page = {"type": "page_location", "cited_text": "Sky.", "document_index": 1, "document_title": None,
            "start_page_number": 1, "end_page_number": 2}
    found = {"type": "search_result_location", "source": "https://kb.example/1", "title": "KB", "cited_text": "x",
             "search_result_index": 0, "start_block_index": 0, "end_block_index": 1}
    events = stream_of([{"type": "text", "text": "Grass is green."}])
    events[1]["content_block"] = {"type": "text", "text": "", "citations": [cited, page]}
    events.insert(2, {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": found}})
    message = parse(events, chunking)
    block = message.content[0]
    assert isinstance(block, TextContent) and block.text == "Grass is green."
    assert block.citations == [
        Citation("document", title="Facts", document_index=0, cited_text="The grass is green.", wire=cited),
        Citation("document", document_index=1, cited_text="Sky.", wire=page),
        Citation("search_result", url="https://kb.example/1", title="KB", cited_text="x", wire=found),
    ]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_pause_turn_marks_the_message_paused(twins: None, chunking: str) -> None:
    message = parse(stream_of([SEARCH_CALL, SEARCH_RESULT], reason="pause_turn"), chunking)
    assert message.stop_reason == "stop" and message.paused and needs_continuation(message)
    assert message.content == [SEARCH_CALL_BLOCK]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_a_result_whose_call_was_in_an_earlier_response(twins: None, chunking: str) -> None:
    message = parse(stream_of([SEARCH_RESULT, {"type": "text", "text": "Found."}]), chunking)
    assert message.content[0] == ServerToolCall(
        "srvtoolu_01A", "web_search", {}, SEARCH_RESULT["content"], "completed", "anthropic",
        {"result": {"type": "web_search_tool_result"}},
    )
    body = _body_for(message)
    assert body["messages"][1]["content"] == [SEARCH_RESULT, {"type": "text", "text": "Found."}]


@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_a_result_after_other_blocks_completes_its_call(twins: None, chunking: str) -> None:
    """A call's block is closed by the next block (in progress); its late result is attached to it."""
    events = stream_of([SEARCH_CALL, {"type": "text", "text": "Searching..."}, SEARCH_RESULT])
    message = parse(events, chunking)
    assert message.content == [SEARCH_CALL_BLOCK, TextContent("Searching...")]


def test_servertool_events(twins: None) -> None:
    events, _ = run_parser(provider, SONNET, frames(stream_of(SEARCH_TURN)), sizes("bytes=1"))
    kinds = [e.type for e in events if e.type.startswith("servertool")]
    assert kinds[0] == "servertool_start" and kinds[-1] == "servertool_end" and "servertool_delta" in kinds


# --------------------------------------------------------------------------- every response of the recordings


def _responses() -> list[tuple[str, int, list[dict[str, Any]]]]:
    folder = support.FIXTURES / "anthropic"
    paths = sorted(folder.glob("*.chunks.txt")) if folder.is_dir() else []
    out = []
    for path in paths:
        if path.name.startswith(("spliced", "duplicate")):
            continue  # one response on purpose, cut or repeated
        for number, events in enumerate(responses(path)):
            out.append((path.name.removesuffix(".chunks.txt"), number, events))
    return out


@pytest.mark.parametrize(
    "events", [pytest.param(events, id=f"{name}#{number}") for name, number, events in _responses()]
)
@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_each_response_of_the_recordings(twins: None, events: list[dict[str, Any]], chunking: str) -> None:
    """Every response, the later ones of a recorded tool loop too (a continuation opens with a result)."""
    support.require_shared()
    message = parse(events, chunking)
    expected_from_events(events).check(message, SONNET)
    # Replayed to the same API, the server blocks go back as they came.
    sent = _body_for(message)["messages"][1]["content"]
    kinds = [b["type"] for b in sent]
    wire_kinds = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    server_kinds = [k for k in wire_kinds if k.endswith(("_tool_use", "_tool_result")) and k != "tool_use"]
    assert [k for k in kinds if k in server_kinds] == server_kinds


# --------------------------------------------------------------------------- the request


def _body_for(message: AssistantMessage, **given: Any) -> dict[str, Any]:
    """The body of the next request with ``message`` as the assistant turn (built, not sent)."""
    from alchemy.streaming import _prepare

    context = Context(messages=[UserMessage("Hi"), message, UserMessage("And then?")])
    given.setdefault("api_key", KEY)
    _, checked_context, checked, _ = _prepare("stream", SONNET, context, given, simple=False)
    body: dict[str, Any] = provider.build_request(SONNET, checked_context, checked).body
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(default=None) as replay:
        yield replay


def on(server: ReplayServer) -> Model:
    return dataclasses.replace(SONNET, base_url=server.base_url_for("anthropic-messages"))


TEXT = [{"type": "text", "text": "ok"}]


def sent(server: ReplayServer, context: Context, **given: Any) -> tuple[AssistantMessage, Any]:
    """Streams once against the replay server (a short text answer); returns the message and the recorded request."""
    server.enqueue(Replay(stream_of(TEXT), api="anthropic-messages"))
    with alchemy.stream(on(server), context, api_key=KEY, **given) as events:
        message = assert_protocol(list(events))
    assert message.stop_reason == "stop", message.error_message
    return message, server.requests[-1]


HELLO = Context(messages=[UserMessage("Hello")])


def test_web_search_declaration(server: ReplayServer) -> None:
    where = alchemy.UserLocation(city="Paris", country="FR", timezone="Europe/Paris")
    tool = alchemy.WebSearch(max_uses=3, allowed_domains=["example.org"], user_location=where)
    _, request = sent(server, HELLO, server_tools=[tool])
    assert request.json["tools"] == [
        {
            "type": "web_search_20250305",
            "name": "web_search",
            "max_uses": 3,
            "allowed_domains": ["example.org"],
            "user_location": {"type": "approximate", "city": "Paris", "country": "FR", "timezone": "Europe/Paris"},
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert "web-fetch" not in request.headers["anthropic-beta"]


def test_web_fetch_declaration_and_beta(server: ReplayServer) -> None:
    tool = alchemy.WebFetch(max_uses=2, blocked_domains=["bad.example"], citations=True, max_content_tokens=5000)
    _, request = sent(server, HELLO, server_tools=[tool], cache_retention="none")
    assert request.json["tools"] == [
        {
            "type": "web_fetch_20250910",
            "name": "web_fetch",
            "max_uses": 2,
            "blocked_domains": ["bad.example"],
            "citations": {"enabled": True},
            "max_content_tokens": 5000,
        }
    ]
    assert "web-fetch-2025-09-10" in request.headers["anthropic-beta"].split(",")


def test_code_execution_declaration_container_and_beta(server: ReplayServer) -> None:
    context = Context(messages=[UserMessage("Run it")], tools=[WEATHER])
    _, request = sent(server, context, server_tools=[alchemy.CodeExecution(container="container_011")])
    body = request.json
    assert [t.get("type") for t in body["tools"]] == [None, "code_execution_20250825"]
    assert body["tools"][1] == {"type": "code_execution_20250825", "name": "code_execution", "cache_control": {"type": "ephemeral"}}
    assert "cache_control" not in body["tools"][0]
    assert body["container"] == "container_011"
    betas = request.headers["anthropic-beta"].split(",")
    assert "code-execution-2025-08-25" in betas and "fine-grained-tool-streaming-2025-05-14" in betas


def test_mcp_server_declaration_beta_and_token_secret(server: ReplayServer) -> None:
    tool = alchemy.McpServer(url="https://mcp.example/sse", name="example", authorization=MCP_TOKEN, allowed_tools=["echo"])
    _, request = sent(server, HELLO, server_tools=[tool], cache_retention="none")
    body = request.json
    assert body["mcp_servers"] == [
        {"type": "url", "url": "https://mcp.example/sse", "name": "example", "authorization_token": MCP_TOKEN}
    ]
    assert body["tools"] == [
        {
            "type": "mcp_toolset",
            "mcp_server_name": "example",
            "default_config": {"enabled": False},
            "configs": {"echo": {"enabled": True}},
        }
    ]
    assert "mcp-client-2025-11-20" in request.headers["anthropic-beta"].split(",")
    built = provider.build_request(SONNET, HELLO, _options(server_tools=[tool]))
    assert MCP_TOKEN in built.secrets and MCP_TOKEN not in repr(built)


def test_mcp_server_without_settings_enables_every_tool(server: ReplayServer) -> None:
    _, request = sent(server, HELLO, server_tools=[alchemy.McpServer(url="https://mcp.example", name="m")])
    assert request.json["mcp_servers"] == [{"type": "url", "url": "https://mcp.example", "name": "m"}]
    assert request.json["tools"][0] == {"type": "mcp_toolset", "mcp_server_name": "m", "cache_control": {"type": "ephemeral"}}


@pytest.mark.parametrize("mode", ["regex", "bm25"])
def test_tool_search_declaration_deferred_tools_and_beta(server: ReplayServer, mode: str) -> None:
    context = Context(messages=[UserMessage("Weather?")], tools=[WEATHER, NEWS])
    _, request = sent(server, context, server_tools=[alchemy.ToolSearch(mode=mode, deferred=["get_news"])])  # type: ignore[arg-type]
    tools = request.json["tools"]
    assert [t.get("defer_loading") for t in tools] == [None, True, None]
    assert tools[2] == {
        "type": f"tool_search_tool_{mode}_20251119",
        "name": f"tool_search_tool_{mode}",
        "cache_control": {"type": "ephemeral"},
    }
    assert "advanced-tool-use-2025-11-20" in request.headers["anthropic-beta"].split(",")


def test_several_server_tools_and_a_caller_beta_join(server: ReplayServer) -> None:
    tools = [alchemy.WebSearch(), alchemy.WebFetch(), alchemy.CodeExecution()]
    _, request = sent(server, HELLO, server_tools=tools, headers={"anthropic-beta": "my-beta"})
    assert [t["name"] for t in request.json["tools"]] == ["web_search", "web_fetch", "code_execution"]
    betas = request.headers["anthropic-beta"].split(",")
    assert betas.count("web-fetch-2025-09-10") == 1 and "code-execution-2025-08-25" in betas and "my-beta" in betas


def _options(**given: Any) -> Any:
    from alchemy.streaming import _prepare

    _, _, checked, _ = _prepare("stream", SONNET, HELLO, {"api_key": KEY, **given}, simple=False)
    return checked


@pytest.mark.parametrize(
    ("tools", "context", "error"),
    [
        ([alchemy.McpServer(url="http://mcp.example", name="m")], HELLO, r"server_tools\[0\]: McpServer url must start with https://"),
        ([alchemy.ToolSearch(deferred=["nope"])], Context(messages=[UserMessage("x")], tools=[WEATHER]), r"server_tools\[0\].*'nope'.*get_weather"),
        ([alchemy.WebSearch(), alchemy.FileSearch(vector_store_ids=["vs_1"])], HELLO, r"server_tools\[1\]: FileSearch is not offered"),
        ([alchemy.ImageGeneration()], HELLO, r"server_tools\[0\]: ImageGeneration is not offered"),
        ([alchemy.WebSearch(context_size="low")], HELLO, r"WebSearch\(context_size=...\) is not carried"),
        ([alchemy.McpServer(url="https://m.example", name="m", require_approval="always")], HELLO, "require_approval"),
        ([alchemy.CodeExecution(file_ids=["file_1"])], HELLO, "file_ids"),
    ],
)
def test_refused_at_the_call(tools: list[Any], context: Context, error: str) -> None:
    model = dataclasses.replace(SONNET, base_url="http://127.0.0.1:9")  # nothing listens: no I/O happens
    with pytest.raises(ValueError, match=error):
        alchemy.stream(model, context, api_key=KEY, server_tools=tools)


# --------------------------------------------------------------------------- round trips and continuations


def test_round_trip_through_json_replays_the_blocks_verbatim_in_order(twins: None, server: ReplayServer) -> None:
    blocks = [{"type": "text", "text": "Let me check."}, SEARCH_CALL, SEARCH_RESULT, CODE_CALL, CODE_RESULT, ANSWER]
    message = parse(stream_of(blocks), "random")
    saved = orjson.dumps(Context(messages=[UserMessage("Hi"), message]).to_dict())
    loaded = Context.from_dict(orjson.loads(saved))
    assert loaded.messages[1] == message
    loaded.messages.append(UserMessage("And then?"))
    _, request = sent(server, loaded)
    assert request.json["messages"][1] == {"role": "assistant", "content": blocks}


def test_a_paused_turn_is_continued_as_the_last_assistant_turn(server: ReplayServer) -> None:
    paused_blocks = [{"type": "text", "text": "Searching."}, SEARCH_CALL, SEARCH_RESULT]
    server.enqueue(Replay(stream_of(paused_blocks, reason="pause_turn"), api="anthropic-messages"))
    context = Context(messages=[UserMessage("Tallest tower?")])
    paused = alchemy.complete(on(server), context, api_key=KEY, server_tools=[alchemy.WebSearch()])
    assert paused.paused and paused.stop_reason == "stop" and needs_continuation(paused)
    context.messages.append(paused)
    server.enqueue(Replay(stream_of([ANSWER]), api="anthropic-messages"))
    answer = alchemy.complete(on(server), context, api_key=KEY, server_tools=[alchemy.WebSearch()])
    assert not answer.paused and answer.citations[0].wire == SEARCH_CITATION
    body = server.requests[-1].json
    assert body["messages"][-1] == {"role": "assistant", "content": paused_blocks}
    assert body["tools"][0]["type"] == "web_search_20250305"


def _paused_then_answer(server: ReplayServer) -> None:
    paused = stream_of([SEARCH_CALL, SEARCH_RESULT], reason="pause_turn")
    server.enqueue(Replay(paused, api="anthropic-messages", chunking="bytes=7"))
    server.enqueue(Replay(stream_of([ANSWER]), api="anthropic-messages"))


def test_run_tools_continues_a_paused_turn_by_itself(server: ReplayServer) -> None:
    _paused_then_answer(server)
    context = Context(messages=[UserMessage("Tallest tower?")])
    result = alchemy.run_tools(on(server), context, api_key=KEY, server_tools=[alchemy.WebSearch()]).result()
    assert result.reason == "done" and result.turns == 2
    assert [m.role for m in context.messages] == ["user", "assistant", "assistant"]
    assert server.requests[-1].json["messages"][-1] == {"role": "assistant", "content": [SEARCH_CALL, SEARCH_RESULT]}


def test_arun_tools_continues_a_paused_turn_by_itself(server: ReplayServer) -> None:
    async def main() -> Any:
        async with alchemy.arun_tools(on(server), context, api_key=KEY, server_tools=[alchemy.WebSearch()]) as run:
            async for _ in run:
                pass
        return await run.result()

    _paused_then_answer(server)
    context = Context(messages=[UserMessage("Tallest tower?")])
    result = asyncio.run(main())
    assert result.reason == "done" and result.turns == 2
    assert server.requests[-1].json["messages"][-1]["content"] == [SEARCH_CALL, SEARCH_RESULT]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_hand_made_server_stream_end_to_end(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(stream_of(SEARCH_TURN), api="anthropic-messages", chunking="random=7"))
    model = on(server)

    async def collect() -> AssistantMessage:
        async with alchemy.astream(model, HELLO, api_key=KEY) as events:
            return assert_protocol([event async for event in events])

    if mode == "sync":
        with alchemy.stream(model, HELLO, api_key=KEY) as events:
            message = assert_protocol(list(events))
    else:
        message = asyncio.run(collect())
    assert message.content[1] == SEARCH_CALL_BLOCK and message.citations[0].wire == SEARCH_CITATION
