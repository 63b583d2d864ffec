"""Gemini and Vertex AI: tools Google runs itself, and grounding citations.

The streams are hand-made ``generateContent`` streams in ``tests/data/google-grounding/``
(see its README: the shared Google Search recording is the Interactions API, so its
queries, sources and text were put into ``groundingMetadata`` as the Gemini API
documents it). They are parsed at three chunkings on both kernel twins, and served
end to end (sync and async, Gemini and Vertex AI) by the replay server on 127.0.0.1.
Then: the byte -> character conversion of grounding segments with non-ASCII text,
metadata split over events, the request declarations of each server tool, the
refusals at the call, and a round trip of a code-execution turn through JSON and back
onto the wire.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import support
from google_oracle import fixture_payloads, wire_bytes
from protocol_checks import assert_protocol, run_parser

import alchemy
from alchemy.events import ServerToolEnd, ServerToolStart
from alchemy.models import get_model
from alchemy.providers._google_server_tools import TextLayout
from alchemy.providers.google_generative_ai import provider as gemini
from alchemy.providers.google_vertex import provider as vertex
from alchemy.server_tools import CodeExecution, WebFetch, WebSearch
from alchemy.streaming import build_options
from alchemy.testing import Replay, ReplayServer
from alchemy.types import (
    AssistantMessage,
    Context,
    Model,
    ServerToolCall,
    TextContent,
    Tool,
    UserMessage,
)

KEY = "test-gemini-key-not-real-server-tools"
FLASH_25 = get_model("google", "gemini-2.5-flash")
FLASH_3 = get_model("google", "gemini-3-flash-preview")
VERTEX_25 = get_model("google-vertex", "gemini-2.5-flash")
VERTEX_3 = get_model("google-vertex", "gemini-3-flash-preview")
VERTEX_GPT_OSS = get_model("google-vertex", "openai/gpt-oss-120b-maas")
DATA = support.DATA / "google-grounding"
HELLO = Context(messages=[UserMessage("What happened in AI this week?")])
WEATHER = Tool("weather", "Weather for a location.", {"type": "object", "properties": {"location": {"type": "string"}}})
VERTEX_WHERE = {"project": "replay-project", "location": "us-central1"}
CHUNKINGS = ["whole", "bytes=1", "random"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_CLOUD_API_KEY",
                 "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "ALCHEMY_BASE_URL_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def _sizes(kind: str) -> Iterator[int] | None:
    if kind == "whole":
        return None
    if kind.startswith("bytes="):
        size = int(kind.removeprefix("bytes="))
        return iter(lambda: size, 0)
    rng = random.Random(kind)
    return iter(lambda: rng.randint(1, 64), 0)


def payloads(name: str) -> list[dict[str, Any]]:
    return fixture_payloads(DATA / f"{name}.chunks.txt")


def parse(items: list[dict[str, Any]], chunking: str = "whole", model: Model = FLASH_25) -> tuple[list[Any], AssistantMessage]:
    provider = vertex if model.api == "google-vertex" else gemini
    return run_parser(provider, model, wire_bytes(items), _sizes(chunking))


def json_round_trip(message: AssistantMessage) -> AssistantMessage:
    """The message saved as Context JSON and read back."""
    saved = Context(messages=[UserMessage("q"), message]).to_json()
    restored = Context.from_json(saved).messages[1]
    assert isinstance(restored, AssistantMessage)
    return restored


def _chunk(*parts: dict[str, Any], finish: str | None = None, **candidate: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, **candidate}
    if finish:
        body["finishReason"] = finish
    return {"candidates": [body]}


# --------------------------------------------------------------------------- what each stream must give


def check_google_search(message: AssistantMessage) -> None:
    items = payloads("google-search")
    metadata = items[-1]["candidates"][0]["groundingMetadata"]
    text = "".join(p["text"] for item in items for p in item["candidates"][0]["content"]["parts"])
    assert message.stop_reason == "stop" and message.error_message is None
    assert [type(b) for b in message.content] == [TextContent, ServerToolCall]
    block, search = message.content
    assert isinstance(block, TextContent) and isinstance(search, ServerToolCall)
    assert block.text == text
    assert search.name == "google_search" and search.status == "completed"
    assert search.input == {"queries": metadata["webSearchQueries"]}
    assert search.result == {k: v for k, v in metadata.items() if k != "groundingSupports"}
    assert search.wire == {"from": "groundingMetadata"} and search.provider == message.provider
    citations = block.citations or []
    expected = [(s, i) for s in metadata["groundingSupports"] for i in s["groundingChunkIndices"]]
    assert len(citations) == len(expected) == 5
    for citation, (support_, index) in zip(citations, expected):
        web = metadata["groundingChunks"][index]["web"]
        assert (citation.kind, citation.url, citation.title) == ("url", web["uri"], web["title"])
        assert citation.start is not None and citation.end is not None
        assert block.text[citation.start : citation.end] == support_["segment"]["text"]  # bytes became characters
        assert citation.wire == {"support": support_, "chunkIndex": index}
    assert message.usage.input == 22 + 198 and message.response_id == "dGsHaoPhIMKmqtsPhqKnmQY"


def check_code_execution(message: AssistantMessage) -> None:
    items = payloads("code-execution")
    parts = [p for item in items for p in item["candidates"][0]["content"]["parts"]]
    assert message.stop_reason == "stop"
    kinds = [(type(b).__name__, getattr(b, "name", None)) for b in message.content]
    assert kinds == [
        ("TextContent", None),
        ("ServerToolCall", "code_execution"),
        ("ServerToolCall", "code_execution"),
        ("TextContent", None),
    ]
    ok, failed = message.content[1], message.content[2]
    assert isinstance(ok, ServerToolCall) and isinstance(failed, ServerToolCall)
    assert ok.input == parts[1]["executableCode"] and ok.result == parts[2]["codeExecutionResult"]
    assert ok.status == "completed" and ok.wire == {"callPart": {"thoughtSignature": parts[1]["thoughtSignature"]}}
    assert failed.input == parts[3]["executableCode"] and failed.result == parts[4]["codeExecutionResult"]
    assert failed.status == "failed" and failed.wire is None
    assert ok.id != failed.id
    assert message.text.endswith("**5117**.")


def check_url_context(message: AssistantMessage) -> None:
    metadata = payloads("url-context")[-1]["candidates"][0]["urlContextMetadata"]
    assert message.stop_reason == "stop"
    text, fetch = message.content
    assert isinstance(text, TextContent) and text.text.startswith("The page lists the 12-month Euribor at 2.105%")
    assert isinstance(fetch, ServerToolCall) and fetch.name == "url_context" and fetch.status == "completed"
    assert fetch.input == {"urls": [e["retrievedUrl"] for e in metadata["urlMetadata"]]}
    assert fetch.result == metadata and fetch.wire == {"from": "urlContextMetadata"}


CHECKS = {"google-search": check_google_search, "code-execution": check_code_execution, "url-context": check_url_context}


# --------------------------------------------------------------------------- the parser


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_streams_at_every_chunking_on_both_twins(twins: None, name: str, chunking: str) -> None:
    events, message = parse(payloads(name), chunking)
    CHECKS[name](message)
    starts = [e for e in events if isinstance(e, ServerToolStart)]
    ends = [e for e in events if isinstance(e, ServerToolEnd)]
    assert len(starts) == len(ends) == len(message.server_tool_calls)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_streams_through_the_vertex_parser(twins: None, name: str) -> None:
    _, message = parse(payloads(name), "random", VERTEX_3)
    CHECKS[name](message)


def test_byte_offsets_become_character_offsets_of_the_right_block() -> None:
    first, second = "Zürich — ½ price. ", "日本語のテキスト。🙂 Done."
    layout = TextLayout([(0, first), (2, second)])
    whole = first + second
    for piece in ("Zürich", "½ price.", "日本語", "🙂 Done.", "テキスト。"):
        at = whole.index(piece)
        start = len(whole[:at].encode())
        pieces = layout.locate({"startIndex": start, "endIndex": start + len(piece.encode()), "text": piece})
        assert pieces is not None and len(pieces) == 1
        block, s, e = pieces[0]
        assert (first, second)[block][s:e] == piece
    # a segment over the boundary is cut into one piece per block
    start = len("Zürich — ".encode())
    span = "½ price. 日本語"
    assert layout.locate({"startIndex": start, "endIndex": start + len(span.encode())}) == [
        (0, len("Zürich — "), len(first)),
        (1, 0, 3),
    ]
    # offsets within the partIndex-th block, checked against the quoted text
    assert layout.locate({"partIndex": 1, "startIndex": 0, "endIndex": 9, "text": "日本語"}) == [(1, 0, 3)]
    # offsets that do not match the text: the quoted text is looked up instead
    assert layout.locate({"startIndex": 3, "endIndex": 9, "text": "Done."}) == [(1, 11, 16)]
    # a cut inside a character counts from that character's start; out of range and unquoted: nowhere
    assert layout.locate({"startIndex": 0, "endIndex": 2}) == [(0, 0, 1)]
    assert layout.locate({"startIndex": 0, "endIndex": 10_000}) is None


def test_grounding_over_non_ascii_text_split_over_events_and_blocks() -> None:
    first, code_text, second = "Die Zugspitze ist 2962 m hoch — ", "", "höher als der Watzmann (2713 m)."
    whole = first + second

    def segment(piece: str) -> dict[str, Any]:
        at = len(whole[: whole.index(piece)].encode())
        return {"startIndex": at, "endIndex": at + len(piece.encode()), "text": piece}

    chunks = [{"web": {"uri": "https://de.wikipedia.org/wiki/Zugspitze", "title": "wikipedia.org"}},
              {"retrievedContext": {"uri": "gs://bucket/alps.pdf", "title": "alps.pdf", "text": "Watzmann: 2713 m"}}]
    message = parse([
        _chunk({"text": first}),
        _chunk({"executableCode": {"language": "PYTHON", "code": "print(2962 - 2713)"}}),
        _chunk({"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "249\n"}}),
        _chunk({"text": second}, groundingMetadata={"webSearchQueries": ["Zugspitze Höhe"]}),
        _chunk({"text": code_text}, finish="STOP", groundingMetadata={
            "webSearchQueries": ["Zugspitze Höhe", "Watzmann Höhe"],
            "groundingChunks": chunks,
            "groundingSupports": [
                {"segment": segment("2962 m hoch"), "groundingChunkIndices": [0]},
                {"segment": segment("Watzmann (2713 m)"), "groundingChunkIndices": [1, 7]},
            ],
        }),
    ])[1]
    assert message.stop_reason == "stop"
    head, code, tail, search = message.content
    assert isinstance(head, TextContent) and isinstance(tail, TextContent) and isinstance(code, ServerToolCall)
    assert isinstance(search, ServerToolCall) and search.input == {"queries": ["Zugspitze Höhe", "Watzmann Höhe"]}
    (cite,) = head.citations or []
    assert head.text[cite.start : cite.end] == "2962 m hoch" and cite.url == chunks[0]["web"]["uri"]  # type: ignore[index,misc]
    document, unknown = tail.citations or []
    assert tail.text[document.start : document.end] == "Watzmann (2713 m)"  # type: ignore[misc]
    assert (document.kind, document.url, document.cited_text) == ("document", "gs://bucket/alps.pdf", "Watzmann: 2713 m")
    assert unknown.kind == "document" and unknown.url is None and unknown.wire["chunkIndex"] == 7  # type: ignore[index]


def test_a_code_call_without_its_result_ends_incomplete_and_an_orphan_result_is_kept() -> None:
    message = parse([
        _chunk({"codeExecutionResult": {"outcome": "OUTCOME_DEADLINE_EXCEEDED"}}),
        _chunk({"executableCode": {"language": "PYTHON", "code": "while True: pass"}}, finish="STOP"),
    ])[1]
    orphan, open_call = message.content
    assert isinstance(orphan, ServerToolCall) and orphan.status == "failed" and orphan.input == {}
    assert isinstance(open_call, ServerToolCall) and open_call.status == "incomplete" and open_call.result is None


def test_tool_call_and_tool_response_parts_of_gemini3_tool_combination() -> None:
    events, message = parse([
        _chunk({"toolCall": {"id": "s1", "toolType": "GOOGLE_SEARCH_WEB", "args": {"queries": ["weather"]}},
                "thoughtSignature": "U2lnMQ=="}),
        _chunk({"text": "Looking it up."}),
        _chunk({"toolResponse": {"id": "s1", "toolType": "GOOGLE_SEARCH_WEB", "response": {"results": 3}}}),
        _chunk({"functionCall": {"id": "f1", "name": "weather", "args": {"location": "Utqiagvik"}}}, finish="STOP"),
    ], model=FLASH_3)
    call = message.content[0]
    assert isinstance(call, ServerToolCall) and call.id == "s1" and call.name == "google_search_web"
    assert call.input == {"queries": ["weather"]} and call.result == {"results": 3} and call.status == "completed"
    assert call.wire == {"toolType": "GOOGLE_SEARCH_WEB", "callPart": {"thoughtSignature": "U2lnMQ=="}}
    assert message.stop_reason == "toolUse"  # the client's call, not the server's, makes it toolUse


def test_metadata_without_content_adds_nothing() -> None:
    message = parse([_chunk({"text": "Hi"}, finish="STOP", groundingMetadata={"webSearchQueries": []})])[1]
    assert [type(b) for b in message.content] == [TextContent]


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.default = None
        yield replay


def _run(mode: str, model: Model, **options: Any) -> AssistantMessage:
    async def collect_async() -> list[Any]:
        async with alchemy.astream(model, HELLO, **options) as events:
            return [event async for event in events]

    if mode == "sync":
        with alchemy.stream(model, HELLO, **options) as events:
            return assert_protocol(list(events))
    return assert_protocol(asyncio.run(collect_async()))


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("base", [FLASH_25, VERTEX_25], ids=["gemini", "vertex"])
def test_end_to_end(server: ReplayServer, name: str, mode: str, base: Model) -> None:
    model = dataclasses.replace(base, base_url=server.base_url_for(base.api))
    server.enqueue(Replay(payloads(name), chunking=f"random={len(name)}"))
    where: dict[str, Any] = dict(VERTEX_WHERE) if base.api == "google-vertex" else {}
    tools = {"google-search": [WebSearch()], "code-execution": [CodeExecution()], "url-context": [WebFetch()]}[name]
    message = _run(mode, model, api_key=KEY, server_tools=tools, **where)
    CHECKS[name](message)
    declaration = {"google-search": "googleSearch", "code-execution": "codeExecution", "url-context": "urlContext"}[name]
    assert server.requests[-1].json["tools"] == [{declaration: {}}]
    # the message survives its JSON and comes back the same
    assert json_round_trip(message) == message


# --------------------------------------------------------------------------- requests


def body(context: Context = HELLO, model: Model = FLASH_25, **given: Any) -> dict[str, Any]:
    provider = vertex if model.api == "google-vertex" else gemini
    given.setdefault("api_key", KEY)
    if model.api == "google-vertex":
        given = {**VERTEX_WHERE, **given}
    options = build_options("stream", model, provider, given, simple=False)
    provider.check_request(model, context, options)
    result: dict[str, Any] = provider.build_request(model, context, options).body
    return result


def test_each_server_tool_declaration() -> None:
    assert body(server_tools=[WebSearch()])["tools"] == [{"googleSearch": {}}]
    assert body(server_tools=[WebFetch()])["tools"] == [{"urlContext": {}}]
    assert body(server_tools=[CodeExecution()])["tools"] == [{"codeExecution": {}}]
    assert body(server_tools=[WebSearch(), WebFetch(), CodeExecution()])["tools"] == [
        {"googleSearch": {}}, {"urlContext": {}}, {"codeExecution": {}}
    ]
    assert "toolConfig" not in body(server_tools=[WebSearch()])
    vertex_search = body(model=VERTEX_25, server_tools=[WebSearch(blocked_domains=["example.com", "spam.test"])])
    assert vertex_search["tools"] == [{"googleSearch": {"excludeDomains": ["example.com", "spam.test"]}}]


def test_gemini3_combines_built_in_tools_with_functions() -> None:
    tools_context = Context(messages=HELLO.messages, tools=[WEATHER])
    sent = body(tools_context, FLASH_3, server_tools=[WebSearch()])
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "weather"
    assert sent["tools"][1:] == [{"googleSearch": {}}]
    assert sent["toolConfig"] == {"includeServerSideToolInvocations": True}
    on_vertex = body(tools_context, VERTEX_3, server_tools=[CodeExecution()])
    assert on_vertex["tools"][1:] == [{"codeExecution": {}}] and "toolConfig" not in on_vertex


@pytest.mark.parametrize(
    ("model", "context", "tools", "match"),
    [
        (FLASH_25, Context(messages=HELLO.messages, tools=[WEATHER]), [WebSearch()], "cannot be combined with the context's tools"),
        (VERTEX_25, Context(messages=HELLO.messages, tools=[WEATHER]), [CodeExecution()], "only Gemini 3 and later"),
        (VERTEX_GPT_OSS, HELLO, [CodeExecution()], "is not a Gemini model"),
        (dataclasses.replace(FLASH_25, id="gemini-1.5-pro"), HELLO, [WebSearch()], r"server_tools\[0\]: WebSearch needs Gemini 2.0"),
        (dataclasses.replace(FLASH_25, id="gemini-1.5-flash"), HELLO, [CodeExecution(), WebFetch()], r"server_tools\[1\]: WebFetch"),
        (FLASH_25, HELLO, [WebSearch(blocked_domains=["a.com"])], "blocked_domains=...\\) is not carried by the google-generative-ai"),
        (FLASH_25, HELLO, [WebSearch(max_uses=2)], "max_uses"),
        (FLASH_25, HELLO, [CodeExecution(container="c1")], "container"),
    ],
)
def test_refused_at_the_call(model: Model, context: Context, tools: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        body(context, model, server_tools=tools)
    where: dict[str, Any] = dict(VERTEX_WHERE) if model.api == "google-vertex" else {}
    with pytest.raises(ValueError, match=match):  # stream() raises before any I/O
        alchemy.stream(dataclasses.replace(model, base_url="http://127.0.0.1:9"), context, api_key=KEY,
                       server_tools=tools, **where)


def test_code_execution_turn_round_trips_through_json_onto_the_wire() -> None:
    _, message = parse(payloads("code-execution"), "random")
    restored = json_round_trip(message)
    assert restored == message
    context = Context(messages=[UserMessage("Sum the first 50 primes."), restored, UserMessage("And the first 10?")])
    sent = body(context, FLASH_25)
    parts = [p for item in payloads("code-execution") for p in item["candidates"][0]["content"]["parts"]]
    model_turn = sent["contents"][1]
    assert model_turn["role"] == "model"
    assert model_turn["parts"] == parts  # verbatim, in order, the signature included (same model)
    other_model = body(context, dataclasses.replace(FLASH_25, id="gemini-2.5-pro"))["contents"][1]["parts"]
    assert other_model[1] == {"executableCode": parts[1]["executableCode"]}  # another model's signature stays home


def test_grounding_and_url_context_blocks_send_nothing_back() -> None:
    _, searched = parse(payloads("google-search"))
    _, fetched = parse(payloads("url-context"))
    context = Context(messages=[UserMessage("q"), searched, UserMessage("q2"), fetched, UserMessage("q3")])
    contents = body(context, FLASH_25)["contents"]
    assert [p.keys() for p in contents[1]["parts"]] == [{"text", "thoughtSignature"}]
    assert contents[1]["parts"][0]["text"] == searched.text
    assert contents[3]["parts"] == [{"text": fetched.text}]


def test_tool_call_parts_replay_verbatim() -> None:
    items = [
        _chunk({"toolCall": {"id": "s1", "toolType": "GOOGLE_SEARCH_WEB", "args": {"queries": ["w"]}},
                "thoughtSignature": "U2lnMQ=="}),
        _chunk({"toolResponse": {"id": "s1", "toolType": "GOOGLE_SEARCH_WEB", "response": {"n": 1}},
                "thoughtSignature": "U2lnMg=="}),
        _chunk({"text": "Done."}, finish="STOP"),
    ]
    _, message = parse(items, model=FLASH_3)
    context = Context(messages=[UserMessage("q"), json_round_trip(message), UserMessage("again")])
    sent = body(context, FLASH_3)["contents"][1]["parts"]
    assert sent == [p for item in items for p in item["candidates"][0]["content"]["parts"]]
    assert orjson.loads(orjson.dumps(sent)) == sent
