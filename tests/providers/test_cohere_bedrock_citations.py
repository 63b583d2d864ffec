"""Citations on Cohere's v2 chat and Bedrock's ConverseStream, and Bedrock's server-run tools.

Streams are hand-made in the shapes the providers document: Cohere's ``citation-start`` /
``citation-end`` events (the tool-use streaming page's weather example, the RAG example's
document sources, a reasoning answer whose text is content part 1) and Bedrock's
``contentBlockDelta.delta.citation`` (``CitationsDelta``) and ``server_tool_use`` /
``toolResult`` blocks (Nova web grounding) in AWS event-stream frames. Each is read by the
parser whole, one byte at a time and in random pieces on both twins of the kernels, and end
to end through the replay server on 127.0.0.1 with ``stream`` and ``astream``. Then the
replay: the request body of the next turn holds the provider's citation objects verbatim.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from protocol_checks import assert_protocol, run_parser

import alchemy
from alchemy.models import get_model
from alchemy.providers import bedrock_converse_stream as bedrock
from alchemy.providers.cohere_chat import TOOL_PLAN_SIGNATURE
from alchemy.providers.cohere_chat import provider as cohere
from alchemy.testing import Replay, ReplayServer
from alchemy.testing.eventstream import encode_event
from alchemy.types import (
    AssistantMessage,
    Citation,
    Context,
    Model,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

Body = dict[str, Any]
COHERE_API = "cohere-chat"
BEDROCK_API = "bedrock-converse-stream"
COMMAND_A = get_model("cohere", "command-a-03-2025")
REASONING = get_model("cohere", "command-a-reasoning-08-2025")
SONNET = get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
NOVA = get_model("amazon-bedrock", "amazon.nova-2-lite-v1:0")
COHERE_OPTIONS: Body = {"api_key": "cohere-test-key-0123456789", "max_retry_delay": 0.05}
BEDROCK_OPTIONS: Body = {"api_key": "bedrock-api-key-citations-0123", "region": "us-east-1", "max_retry_delay": 0.05}
ASK = Context(messages=[UserMessage("What's the weather in Madrid and Brasilia?")])
CHUNKINGS = ["event", "bytes=1", "random=7"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COHERE_API_KEY", "ALCHEMY_BASE_URL_OVERRIDE", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def pieces_of(wire: bytes) -> list[list[int]]:
    """Whole, one byte at a time, and random pieces."""
    rng = random.Random(len(wire))
    return [[len(wire)], [1] * len(wire), [rng.randint(1, 40) for _ in range(len(wire))]]


def on(server: ReplayServer, model: Model, api: str) -> Model:
    return dataclasses.replace(model, base_url=server.base_url_for(api))


def streamed(server: ReplayServer, model: Model, context: Context, mode: str, **options: Any) -> AssistantMessage:
    """One call through the replay server (what it answers was enqueued), every event checked."""
    if mode == "sync":
        with alchemy.stream(model, context, **options) as events:
            return assert_protocol(list(events))

    async def collect() -> AssistantMessage:
        async with alchemy.astream(model, context, **options) as events:
            return assert_protocol([event async for event in events])

    return asyncio.run(collect())


def round_trip(message: AssistantMessage) -> AssistantMessage:
    """The message saved as JSON and loaded again."""
    return AssistantMessage.from_dict(orjson.loads(orjson.dumps(message.to_dict())))


# =========================================================================== Cohere


def sse(*events: Body) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


START: Body = {"id": "r-1", "type": "message-start", "delta": {"message": {
    "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}


def part(index: int, kind: str, *pieces: str, end: bool = True) -> list[Body]:
    events: list[Body] = [
        {"type": "content-start", "index": index, "delta": {"message": {"content": {"type": kind, kind: ""}}}},
        *({"type": "content-delta", "index": index, "delta": {"message": {"content": {kind: p}}}} for p in pieces),
    ]
    return [*events, {"type": "content-end", "index": index}] if end else events


def cite(index: int, citation: Body) -> list[Body]:
    return [
        {"type": "citation-start", "index": index, "delta": {"message": {"citations": citation}}},
        {"type": "citation-end", "index": index},
    ]


def message_end(reason: str = "COMPLETE") -> Body:
    return {"type": "message-end", "delta": {"finish_reason": reason, "usage": {
        "billed_units": {"input_tokens": 87, "output_tokens": 19}, "tokens": {"input_tokens": 1061, "output_tokens": 85}}}}


MADRID: Body = {"start": 16, "end": 20, "text": "24°C", "sources": [
    {"type": "tool", "id": "get_weather_m3kdvxncg1p8:0", "tool_output": {"temperature": '{"madrid":"24°C"}'}}],
    "type": "TEXT_CONTENT"}
BRASILIA: Body = {"start": 35, "end": 39, "text": "28°C", "sources": [
    {"type": "tool", "id": "get_weather_cfwfh3wzkbrs:0", "tool_output": {"temperature": '{"brasilia":"28°C"}'}}],
    "type": "TEXT_CONTENT"}
WEATHER_ANSWER = "It is currently 24°C in Madrid and 28°C in Brasilia."
# The tool-use streaming page's answer: the text, then the citations (accurate mode), then content-end.
WEATHER_STREAM = [
    START,
    *part(0, "text", "It", " is", " currently", " 2", "4", "°", "C in", " Madrid", " and", " 2", "8", "°", "C in",
          " Brasilia", ".", end=False),
    *cite(0, MADRID),
    *cite(1, BRASILIA),
    {"type": "content-end", "index": 0},
    message_end(),
]
WEATHER_CITED = TextContent(WEATHER_ANSWER, citations=[
    Citation("document", cited_text="24°C", start=16, end=20, wire=MADRID),
    Citation("document", cited_text="28°C", start=35, end=39, wire=BRASILIA),
])


@pytest.mark.usefixtures("twins")
def test_cohere_tool_citations_land_on_the_answer_with_their_tool_output() -> None:
    wire = sse(*WEATHER_STREAM)
    for pieces in pieces_of(wire):
        _, message = run_parser(cohere, COMMAND_A, wire, pieces)
        assert message.content == [WEATHER_CITED] and message.stop_reason == "stop"
        text = message.content[0]
        assert isinstance(text, TextContent) and text.citations
        assert [text.text[c.start or 0:c.end] for c in text.citations] == ["24°C", "28°C"]
        assert text.citations[0].wire is not None
        assert text.citations[0].wire["sources"][0]["tool_output"] == {"temperature": '{"madrid":"24°C"}'}


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.usefixtures("twins")
def test_cohere_citations_end_to_end(server: ReplayServer, chunking: str, mode: str) -> None:
    server.enqueue(Replay(WEATHER_STREAM, api=COHERE_API, chunking=chunking))
    message = streamed(server, on(server, COMMAND_A, COHERE_API), ASK, mode, **COHERE_OPTIONS)
    assert message.content == [WEATHER_CITED] and message.stop_reason == "stop"
    assert message.citations == WEATHER_CITED.citations
    assert round_trip(message) == message


NSYNC: Body = {"start": 5, "end": 10, "text": "Nsync", "sources": [{"type": "document", "id": "1", "document": {
    "id": "1", "snippet": "NSYNC ... 2,4 million units sold of No Strings Attached in its first week",
    "title": "CSPC: NSYNC Popularity Analysis - ChartMasters"}}], "type": "TEXT_CONTENT"}


@pytest.mark.usefixtures("twins")
def test_cohere_document_citations_interleaved_with_the_text_take_the_document_title() -> None:
    # The RAG streaming example: the citation comes right after the text it cites (fast citations).
    wire = sse(START, *part(0, "text", "Both", " Nsync", end=False), *cite(0, NSYNC),
               {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": " and BSB."}}}},
               {"type": "content-end", "index": 0}, message_end())
    for pieces in pieces_of(wire):
        _, message = run_parser(cohere, COMMAND_A, wire, pieces)
        assert message.content == [TextContent("Both Nsync and BSB.", citations=[
            Citation("document", title="CSPC: NSYNC Popularity Analysis - ChartMasters", cited_text="Nsync",
                     start=5, end=10, wire=NSYNC)])]


@pytest.mark.usefixtures("twins")
def test_cohere_content_index_counts_from_the_start_of_that_text_part() -> None:
    # A reasoning answer (the reasoning guide's example): thinking is part 0, the text part 1,
    # and start/end count in the text of part 1.
    cited = {"start": 30, "end": 35, "text": "20°C.", "sources": [
        {"type": "tool", "id": "get_weather_sfnmhqhb8g2p:0", "tool_output": {"temperature": "20°C"}}],
        "content_index": 1, "type": "TEXT_CONTENT"}
    wire = sse(START, *part(0, "thinking", "The tool returned 20°C."),
               *part(1, "text", "The temperature in Toronto is", " 20°C.", end=False), *cite(0, cited),
               {"type": "content-end", "index": 1}, message_end())
    for pieces in pieces_of(wire):
        _, message = run_parser(cohere, REASONING, wire, pieces)
        assert message.content == [
            ThinkingContent("The tool returned 20°C."),
            TextContent("The temperature in Toronto is 20°C.", citations=[
                Citation("document", cited_text="20°C.", start=30, end=35, wire=cited)]),
        ]


def test_cohere_offsets_without_a_content_index_span_the_text_parts() -> None:
    cited = {"start": 7, "end": 11, "text": "Lyon", "sources": [{"type": "document", "id": "doc:1"}]}
    wire = sse(START, *part(0, "text", "Paris "), *part(1, "text", "and Lyon."), *cite(0, cited), message_end())
    _, message = run_parser(cohere, COMMAND_A, wire)
    assert message.content == [
        TextContent("Paris "),
        TextContent("and Lyon.", citations=[Citation("document", cited_text="Lyon", start=4, end=8, wire=cited)]),
    ]


def test_cohere_offsets_that_miss_the_cited_text_are_anchored_on_it() -> None:
    # Offsets counted in another unit (UTF-8 bytes here) still name the span Cohere quotes.
    cited = {"start": 8, "end": 12, "text": "Lyon", "sources": [{"type": "document", "id": "doc:0"}]}
    wire = sse(START, *part(0, "text", "Über: Lyon."), *cite(0, cited), message_end())
    _, message = run_parser(cohere, COMMAND_A, wire)
    text = message.content[0]
    assert isinstance(text, TextContent) and text.citations
    assert (text.citations[0].start, text.citations[0].end) == (6, 10)


def test_cohere_plan_citations_are_logged_not_kept(caplog: pytest.LogCaptureFixture) -> None:
    plan = {"start": 0, "end": 4, "text": "Plan", "sources": [], "type": "PLAN"}
    wire = sse(START, {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "Plan to call."}}},
               *cite(0, plan), message_end())
    with caplog.at_level(logging.INFO, logger="alchemy"):
        _, message = run_parser(cohere, COMMAND_A, wire)
    assert message.content == [ThinkingContent("Plan to call.", TOOL_PLAN_SIGNATURE)]
    assert "PLAN is not kept" in caplog.text


def cohere_turn(*content: Any) -> AssistantMessage:
    return AssistantMessage(list(content), api=COHERE_API, provider="cohere", model=COMMAND_A.id)


def test_cohere_citations_go_back_verbatim_on_the_assistant_message(server: ReplayServer) -> None:
    turn = round_trip(cohere_turn(WEATHER_CITED))
    context = Context(messages=[*ASK.messages, turn, UserMessage("And Bern?")])
    server.enqueue(Replay(api=COHERE_API))
    message = alchemy.complete(on(server, COMMAND_A, COHERE_API), context, **COHERE_OPTIONS)
    assert message.stop_reason != "error", message.error_message
    assert server.requests[-1].json["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": WEATHER_ANSWER}],
        "citations": [MADRID, BRASILIA],
    }


def test_cohere_turns_without_citations_or_with_tool_calls_send_none() -> None:
    from alchemy.providers.cohere_chat import convert_messages

    call = ToolCall("get_weather_1", "get_weather", {"city": "Bern"})
    plain, with_call = convert_messages(None, [cohere_turn(TextContent("Hi")), cohere_turn(WEATHER_CITED, call)])
    assert "citations" not in plain and "citations" not in with_call


# =========================================================================== Bedrock


def frames(*events: Body) -> bytes:
    return b"".join(encode_event(kind, orjson.dumps(payload)) for event in events for kind, payload in event.items())


def delta(index: int, **content: Any) -> Body:
    return {"contentBlockDelta": {"contentBlockIndex": index, "delta": content}}


MESSAGE_START: Body = {"messageStart": {"role": "assistant"}}
END_TURN: Body = {"messageStop": {"stopReason": "end_turn"}}
USAGE: Body = {"metadata": {"usage": {"inputTokens": 120, "outputTokens": 30, "totalTokens": 150}}}
PAGE_CITATION: Body = {
    "title": "letter to shareholders",
    "sourceContent": [{"text": "Generative AI is going to reinvent virtually every customer experience."}],
    "location": {"documentPage": {"documentIndex": 0, "start": 5, "end": 6}},
}
CHAR_CITATION: Body = {
    "title": "letter to shareholders",
    "sourceContent": [{"text": "AI "}, {"text": "everywhere."}],
    "location": {"documentChar": {"documentIndex": 1, "start": 10, "end": 24}},
}
# A Claude answer over a document with citations enabled: plain text, then a cited block whose
# citations come before its text, then plain text again.
DOCUMENT_STREAM = [
    MESSAGE_START,
    delta(0, text="Based on the letter: "),
    {"contentBlockStop": {"contentBlockIndex": 0}},
    delta(1, citation=PAGE_CITATION),
    delta(1, citation=CHAR_CITATION),
    delta(1, text="Generative AI will reinvent "),
    delta(1, text="every customer experience."),
    {"contentBlockStop": {"contentBlockIndex": 1}},
    delta(2, text=" That is the key point."),
    {"contentBlockStop": {"contentBlockIndex": 2}},
    END_TURN,
    USAGE,
]
DOCUMENT_CONTENT = [
    TextContent("Based on the letter: "),
    TextContent("Generative AI will reinvent every customer experience.", citations=[
        Citation("document", title="letter to shareholders", document_index=0,
                 cited_text="Generative AI is going to reinvent virtually every customer experience.",
                 wire=PAGE_CITATION),
        Citation("document", title="letter to shareholders", document_index=1, cited_text="AI everywhere.",
                 wire=CHAR_CITATION),
    ]),
    TextContent(" That is the key point."),
]


@pytest.mark.usefixtures("twins")
def test_bedrock_document_citations_land_on_their_text_block() -> None:
    wire = frames(*DOCUMENT_STREAM)
    for pieces in pieces_of(wire):
        _, message = run_parser(bedrock.provider, SONNET, wire, pieces)
        assert message.content == DOCUMENT_CONTENT and message.stop_reason == "stop"


@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.usefixtures("twins")
def test_bedrock_citations_end_to_end(server: ReplayServer, chunking: str, mode: str) -> None:
    server.enqueue(Replay(DOCUMENT_STREAM, api=BEDROCK_API, chunking=chunking))
    message = streamed(server, on(server, SONNET, BEDROCK_API), ASK, mode, **BEDROCK_OPTIONS)
    assert message.content == DOCUMENT_CONTENT and message.stop_reason == "stop"
    assert round_trip(message) == message


def test_bedrock_search_result_and_unknown_locations() -> None:
    search = {"source": "https://example.com/faq", "title": "FAQ", "sourceContent": [{"text": "Yes."}],
              "location": {"searchResultLocation": {"searchResultIndex": 2, "start": 0, "end": 1}}}
    bare = {"title": "notes"}
    wire = frames(MESSAGE_START, delta(0, text="Yes."), delta(0, citation=search), delta(0, citation=bare),
                  {"contentBlockStop": {"contentBlockIndex": 0}}, END_TURN, USAGE)
    _, message = run_parser(bedrock.provider, SONNET, wire)
    assert message.content == [TextContent("Yes.", citations=[
        Citation("search_result", title="FAQ", document_index=2, cited_text="Yes.", wire=search),
        Citation("document", title="notes", wire=bare),
    ])]


WEB_CITATION: Body = {"location": {"web": {"url": "https://example.com/energy", "domain": "example.com"}}}
GROUNDING_STREAM = [
    MESSAGE_START,
    {"contentBlockStart": {"contentBlockIndex": 0, "start": {"toolUse": {
        "toolUseId": "tooluse_g1", "name": "nova_grounding", "type": "server_tool_use"}}}},
    delta(0, toolUse={"input": '{"query": "renewable'}),
    delta(0, toolUse={"input": ' energy news"}'}),
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"contentBlockStart": {"contentBlockIndex": 1, "start": {"toolResult": {
        "toolUseId": "tooluse_g1", "type": "nova_grounding", "status": "success"}}}},
    delta(1, toolResult=[{"text": "Solar capacity "}]),
    delta(1, toolResult=[{"text": "grew."}]),
    {"contentBlockStop": {"contentBlockIndex": 1}},
    delta(2, text="Solar capacity grew this year."),
    delta(2, citation=WEB_CITATION),
    {"contentBlockStop": {"contentBlockIndex": 2}},
    END_TURN,
    USAGE,
]
GROUNDING_CONTENT = [
    ServerToolCall("tooluse_g1", "nova_grounding", {"query": "renewable energy news"},
                   [{"text": "Solar capacity grew."}], "completed", "amazon-bedrock", {
                       "toolUse": {"type": "server_tool_use"},
                       "toolResult": {"type": "nova_grounding", "status": "success"}}),
    TextContent("Solar capacity grew this year.", citations=[
        Citation("url", url="https://example.com/energy", wire=WEB_CITATION)]),
]


@pytest.mark.usefixtures("twins")
def test_bedrock_grounding_is_a_server_tool_with_url_citations() -> None:
    wire = frames(*GROUNDING_STREAM)
    for pieces in pieces_of(wire):
        events, message = run_parser(bedrock.provider, NOVA, wire, pieces)
        assert message.content == GROUNDING_CONTENT and message.stop_reason == "stop"
        assert not message.tool_calls, "a tool Bedrock ran is no call for the caller to answer"
        assert [type(e).__name__ for e in events].count("ServerToolEnd") == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.usefixtures("twins")
def test_bedrock_grounding_end_to_end(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(GROUNDING_STREAM, api=BEDROCK_API, chunking="bytes=1"))
    message = streamed(server, on(server, NOVA, BEDROCK_API), ASK, mode, **BEDROCK_OPTIONS)
    assert message.content == GROUNDING_CONTENT
    assert round_trip(message) == message


def test_bedrock_a_failed_server_tool_result_closed_before_its_result() -> None:
    wire = frames(
        MESSAGE_START,
        {"contentBlockStart": {"contentBlockIndex": 0, "start": {"toolUse": {
            "toolUseId": "g2", "name": "nova_grounding", "type": "server_tool_use"}}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        delta(1, text="Searching."),
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {"contentBlockStart": {"contentBlockIndex": 2, "start": {"toolResult": {"toolUseId": "g2", "status": "error"}}}},
        delta(2, toolResult=[{"json": {"error": "unavailable"}}]),
        {"contentBlockStop": {"contentBlockIndex": 2}},
        END_TURN,
        USAGE,
    )
    _, message = run_parser(bedrock.provider, NOVA, wire)
    tool = message.content[0]
    assert isinstance(tool, ServerToolCall) and tool.status == "failed"
    assert tool.input == {} and tool.result == [{"json": {"error": "unavailable"}}]
    assert message.content[1] == TextContent("Searching.")


def bedrock_turn(*content: Any, model: Model = SONNET) -> AssistantMessage:
    return AssistantMessage(list(content), api=BEDROCK_API, provider="amazon-bedrock", model=model.id)


def test_bedrock_citations_go_back_as_citations_content(server: ReplayServer) -> None:
    turn = round_trip(bedrock_turn(*DOCUMENT_CONTENT))
    context = Context(messages=[*ASK.messages, turn, UserMessage("More?")])
    server.enqueue(Replay(api=BEDROCK_API))
    message = alchemy.complete(on(server, SONNET, BEDROCK_API), context, **BEDROCK_OPTIONS)
    assert message.stop_reason != "error", message.error_message
    assert server.requests[-1].json["messages"][1] == {"role": "assistant", "content": [
        {"text": "Based on the letter: "},
        {"citationsContent": {
            "content": [{"text": "Generative AI will reinvent every customer experience."}],
            "citations": [PAGE_CITATION, CHAR_CITATION],
        }},
        {"text": " That is the key point."},
    ]}


def test_bedrock_server_tool_calls_stay_on_the_message_and_are_not_sent() -> None:
    messages = [*ASK.messages, bedrock_turn(*GROUNDING_CONTENT, model=NOVA), UserMessage("More?")]
    converted = bedrock.convert_messages(messages, NOVA)
    assert converted[1] == {"role": "assistant", "content": [{"citationsContent": {
        "content": [{"text": "Solar capacity grew this year."}], "citations": [WEB_CITATION]}}]}


def test_a_tool_result_turn_after_a_cited_answer_keeps_roles_alternating() -> None:
    call = ToolCall("t1", "weather", {"city": "Madrid"})
    messages = [*ASK.messages, bedrock_turn(DOCUMENT_CONTENT[1], call),
                ToolResultMessage("t1", "weather", [TextContent("24°C")])]
    converted = bedrock.convert_messages(messages, SONNET)
    assert [m["role"] for m in converted] == ["user", "assistant", "user"]
    assert list(converted[1]["content"][0]) == ["citationsContent"] and "toolUse" in converted[1]["content"][1]
