"""Citations and web search on Chat Completions (issue 18).

Perplexity's recorded stream replays with its sources through the parser (three
chunkings, both kernel twins) and end to end (sync and async); hand-made streams in
the shapes OpenAI's search models and OpenRouter's web plugin document carry
``url_citation`` annotations; ``server_tools=[WebSearch(...)]`` reaches the recorded
request body as ``web_search_options`` or OpenRouter's web plugin, and is refused at
the call, before any request, where the host or model cannot carry it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import support
from protocol_checks import assert_protocol, run_parser

import alchemy
import completions_fixtures as fx
from alchemy.events import Done
from alchemy.providers.openai_completions import convert_messages, provider
from alchemy.providers.openai_compat import resolve_compat
from alchemy.server_tools import CodeExecution, UserLocation, WebSearch
from alchemy.testing import Replay, ReplayServer
from alchemy.types import AssistantMessage, Citation, Context, Model, TextContent, ToolCall, UserMessage

API = fx.API
KEY = "sk-" "citations-test-0123456789"  # fake, split so it never looks like a real key
CONTEXT = Context(messages=[UserMessage("Population of San Francisco?")])
CHUNKINGS = ["whole", "bytes=1", "random"]
Body = dict[str, Any]


def _perplexity() -> Path:
    return support.FIXTURES / "perplexity" / "perplexity-citations.chunks.txt"


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(default=None) as replay:
        yield replay


@pytest.fixture(autouse=True)
def _fresh(server: ReplayServer) -> None:
    server.reset()


def _sizes(chunking: str, seed: str) -> Iterator[int] | None:
    if chunking == "whole":
        return None
    if chunking == "bytes=1":
        return iter(lambda: 1, 0)
    rng = random.Random(seed)
    return iter(lambda: rng.randint(1, 64), 0)


def parse(payloads: list[Any], chunking: str = "whole", model: Model | None = None) -> AssistantMessage:
    model = model or fx.fixture_model(Path("local/x.chunks.txt"))
    return run_parser(provider, model, fx.wire(payloads), _sizes(chunking, "hand-made"))[1]


def chunk(delta: Body | None = None, *, finish: str | None = None, **extra: Any) -> Body:
    choice: Body = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [choice], **extra}


USAGE: Body = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29}}


def url_citation(url: str, title: str, start: int, end: int, **more: Any) -> Body:
    return {"type": "url_citation", "url_citation": {"url": url, "title": title, "start_index": start, "end_index": end, **more}}


def cited(message: AssistantMessage) -> list[tuple[int, Citation]]:
    return [
        (i, c)
        for i, block in enumerate(message.content)
        if isinstance(block, TextContent)
        for c in block.citations or []
    ]


# --------------------------------------------------------------------------- Perplexity's recording


@pytest.mark.usefixtures("twins")
@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_perplexity_recording_through_the_parser(chunking: str) -> None:
    support.require_shared()
    path = _perplexity()
    model = fx.fixture_model(path)
    events, message = run_parser(provider, model, fx.wire(fx.load_payloads(path)), _sizes(chunking, path.name))
    assert isinstance(events[-1], Done)
    fx.assert_matches(message, path, model)
    _check_perplexity(message)


def _check_perplexity(message: AssistantMessage) -> None:
    """What the recording says, written out: one answer citing its seven sources once each."""
    urls = orjson.loads(_perplexity().read_bytes().split(b"\n")[0])["citations"]
    assert len(urls) == 7
    [text] = message.content
    assert isinstance(text, TextContent) and text.text == "The current population of **[2][3]"
    assert text.citations == [Citation("url", url=url, wire={"url": url}) for url in urls]
    assert (message.usage.input, message.usage.output, message.usage.total_tokens) == (10, 336, 346)
    assert message.stop_reason == "stop"


@pytest.mark.usefixtures("twins")
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("chunking", ["event", "bytes=1", "random=7"])
def test_perplexity_recording_end_to_end(server: ReplayServer, chunking: str, mode: str) -> None:
    support.require_shared()
    path = _perplexity()
    server.enqueue(Replay(str(path), chunking=chunking))
    model = fx.fixture_model(path, server.base_url_for(API))
    events = (_collect if mode == "sync" else _acollect)(model, CONTEXT)
    message = assert_protocol(events)
    assert isinstance(events[-1], Done), message.error_message
    fx.assert_matches(message, path, model)
    _check_perplexity(message)


def _collect(model: Model, context: Context, **options: Any) -> list[Any]:
    with alchemy.stream(model, context, api_key=KEY, max_retry_delay=0.05, **options) as events:
        return list(events)


def _acollect(model: Model, context: Context, **options: Any) -> list[Any]:
    async def run() -> list[Any]:
        async with alchemy.astream(model, context, api_key=KEY, max_retry_delay=0.05, **options) as events:
            return [event async for event in events]

    return asyncio.run(run())


# --------------------------------------------------------------------------- hand-made streams


@pytest.mark.usefixtures("twins")
@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_openai_search_model_annotations_at_the_end(chunking: str) -> None:
    """OpenAI's search models end with one annotation-only delta; the ranges are character
    offsets into the message text (a non-ASCII character before them counts once)."""
    text = "Überblick: Paris is the capital ([wikipedia.org](https://en.wikipedia.org/wiki/Paris)). It is large."
    start = text.index("([wikipedia")
    end = text.index(")).") + 2
    annotations = [url_citation("https://en.wikipedia.org/wiki/Paris", "Paris - Wikipedia", start, end)]
    payloads = [
        chunk({"role": "assistant", "content": text[:20]}),
        chunk({"content": text[20:50]}),
        chunk({"content": text[50:]}),
        chunk({"annotations": annotations}),
        chunk(finish="stop"),
        USAGE,
    ]
    message = parse(payloads, chunking)
    [(index, citation)] = cited(message)
    block = message.content[index]
    assert isinstance(block, TextContent) and block.text == text
    assert citation == Citation(
        "url", url="https://en.wikipedia.org/wiki/Paris", title="Paris - Wikipedia", start=start, end=end, wire=annotations[0]
    )
    assert block.text[citation.start : citation.end] == "([wikipedia.org](https://en.wikipedia.org/wiki/Paris))"


@pytest.mark.usefixtures("twins")
def test_openrouter_annotations_repeated_and_early_are_placed_once() -> None:
    """OpenRouter's web plugin: ``content`` of the result becomes ``cited_text``; a list sent
    again adds nothing; an annotation that arrives before its text waits for it."""
    first = url_citation("https://a.example/one", "One", 0, 5, content="Result one")
    second = url_citation("https://b.example/two", "Two", 6, 11, content="Result two")
    payloads = [
        chunk({"role": "assistant", "content": "", "annotations": [first, second]}),
        chunk({"content": "Hello"}),
        chunk({"content": " world", "annotations": [first, second]}),
        chunk(finish="stop", usage=USAGE["usage"]),
    ]
    message = parse(payloads, "bytes=1")
    assert [(c.url, c.cited_text, c.start, c.end, c.wire) for _, c in cited(message)] == [
        ("https://a.example/one", "Result one", 0, 5, first),
        ("https://b.example/two", "Result two", 6, 11, second),
    ]


def test_annotations_on_a_final_message_object_are_read() -> None:
    annotation = url_citation("https://a.example/", "A", 0, 2)
    payloads = [
        chunk({"content": "Hi there"}),
        {"id": "c", "choices": [{"index": 0, "delta": {}, "message": {"annotations": [annotation]}, "finish_reason": "stop"}]},
        USAGE,
    ]
    [(_, citation)] = cited(parse(payloads))
    assert (citation.start, citation.end, citation.wire) == (0, 2, annotation)


def test_ranges_go_to_the_text_block_that_holds_them() -> None:
    """The offsets count the whole message text; a block after a tool call gets them relative to itself."""
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    payloads = [
        chunk({"content": "abc"}),
        chunk({"tool_calls": [call]}),
        chunk({"content": "defgh"}),
        chunk({"annotations": [url_citation("https://x.example/", "X", 4, 99), url_citation("https://y.example/", "Y", 0, 2)]}),
        chunk(finish="tool_calls"),
        USAGE,
    ]
    message = parse(payloads)
    assert [type(b).__name__ for b in message.content] == ["TextContent", "ToolCall", "TextContent"]
    assert [(i, c.url, c.start, c.end) for i, c in cited(message)] == [
        (0, "https://y.example/", 0, 2),
        (2, "https://x.example/", 1, 5),  # cut at the block's end
    ]


def test_bad_ranges_cite_the_whole_block_and_other_annotations_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    odd = {"type": "url_citation", "url_citation": {"url": "https://z.example/", "start_index": 5, "end_index": 2}}
    payloads = [
        chunk({"content": "some text"}),
        chunk({"annotations": [odd, {"type": "file_path", "file_path": {"file_id": "f"}}, "junk"]}),
        chunk(finish="stop"),
        USAGE,
    ]
    with caplog.at_level(logging.DEBUG, logger="alchemy"):
        message = parse(payloads)
    [(_, citation)] = cited(message)
    assert (citation.url, citation.title, citation.start, citation.end) == ("https://z.example/", None, None, None)
    assert "skipped an annotation of type 'file_path'" in caplog.text


@pytest.mark.usefixtures("twins")
@pytest.mark.parametrize("chunking", CHUNKINGS)
def test_perplexity_search_results_and_bare_urls_once_each(chunking: str) -> None:
    """``search_results`` entries are kept whole; a bare URL seen first takes the entry's title later."""
    result_a = {"title": "A", "url": "https://a.example/", "date": "2025-01-02", "snippet": "..."}
    result_b = {"title": "B", "url": "https://b.example/", "date": None}
    urls = ["https://a.example/", "https://b.example/", "https://c.example/"]
    payloads = [
        chunk({"role": "assistant", "content": "Answer"}, citations=urls[:1]),
        chunk({"content": " [1]"}, citations=urls, search_results=[result_a]),
        chunk({"content": "[2]"}, citations=urls, search_results=[result_a, result_b]),
        chunk(finish="stop", citations=urls, search_results=[result_a, result_b], usage=USAGE["usage"]),
    ]
    message = parse(payloads, chunking)
    assert [(c.url, c.title, c.wire, c.start, c.end) for _, c in cited(message)] == [
        ("https://a.example/", "A", result_a, None, None),
        ("https://b.example/", "B", result_b, None, None),
        ("https://c.example/", None, {"url": "https://c.example/"}, None, None),
    ]


def test_sources_without_any_text_get_an_empty_text_block() -> None:
    payloads = [chunk({"role": "assistant"}, citations=["https://a.example/"]), chunk(finish="stop"), USAGE]
    message = parse(payloads)
    assert message.content == [TextContent("", citations=[Citation("url", url="https://a.example/", wire={"url": "https://a.example/"})])]


def test_citations_are_kept_on_the_message_but_not_sent_back() -> None:
    """Chat Completions takes no annotations in an assistant turn: the text goes as one string."""
    model = fx.fixture_model(Path("openai/x.chunks.txt"))
    answer = AssistantMessage(
        content=[TextContent("Paris.", citations=[Citation("url", url="https://a.example/", start=0, end=5)])],
        api=API,
        provider=model.provider,
        model=model.id,
    )
    context = Context(messages=[UserMessage("Capital?"), answer, UserMessage("And Spain?")])
    messages = convert_messages(model, context, resolve_compat(model))
    assert messages[1] == {"role": "assistant", "content": "Paris."}
    saved = Context.from_dict(orjson.loads(orjson.dumps(context.to_dict())))
    kept = saved.messages[1]
    assert isinstance(kept, AssistantMessage) and isinstance(kept.content[0], TextContent)
    assert kept.content[0].citations == answer.content[0].citations  # type: ignore[union-attr]


# --------------------------------------------------------------------------- server_tools on the wire


def _answer() -> list[Body]:
    return [chunk({"content": "Done."}), chunk(finish="stop"), USAGE]


def _search_model(server: ReplayServer, model_id: str = "gpt-4o-search-preview") -> Model:
    return dataclasses.replace(
        fx.fixture_model(Path("openai/x.chunks.txt"), server.base_url_for(API)), id=model_id, reasoning=False
    )


def _openrouter(server: ReplayServer) -> Model:
    return dataclasses.replace(
        fx.fixture_model(Path("openrouter/x.chunks.txt"), server.base_url_for(API)), id="openai/gpt-4o", reasoning=False
    )


def _sent(server: ReplayServer, model: Model, **options: Any) -> Body:
    server.enqueue(Replay(_answer()))
    events = _collect(model, CONTEXT, **options)
    assert isinstance(events[-1], Done), events[-1].message.error_message
    body: Body = server.last_request.json
    return body


@pytest.mark.parametrize("model_id", ["gpt-4o-search-preview", "gpt-4o-mini-search-preview-2025-03-11", "gpt-5-search-api"])
def test_web_search_options_for_openai_search_models(server: ReplayServer, model_id: str) -> None:
    model = _search_model(server, model_id)
    assert _sent(server, model, server_tools=[WebSearch()])["web_search_options"] == {}
    where = UserLocation(city="London", region="England", country="GB", timezone="Europe/London")
    body = _sent(server, model, server_tools=[WebSearch(context_size="high", user_location=where)])
    assert body["web_search_options"] == {
        "search_context_size": "high",
        "user_location": {
            "type": "approximate",
            "approximate": {"city": "London", "region": "England", "country": "GB", "timezone": "Europe/London"},
        },
    }
    assert "plugins" not in body and "tools" not in body
    assert "web_search_options" not in _sent(server, model)


def test_openrouter_web_plugin(server: ReplayServer) -> None:
    model = _openrouter(server)
    assert _sent(server, model, server_tools=[WebSearch()])["plugins"] == [{"id": "web"}]
    body = _sent(server, model, server_tools=[WebSearch(allowed_domains=["arxiv.org", "nature.com"])])
    assert body["plugins"] == [{"id": "web", "include_domains": ["arxiv.org", "nature.com"]}]
    body = _sent(server, model, server_tools=[WebSearch(blocked_domains=["reddit.com"])])
    assert body["plugins"] == [{"id": "web", "exclude_domains": ["reddit.com"]}]
    assert "web_search_options" not in body
    assert "plugins" not in _sent(server, model)


@pytest.mark.parametrize(
    ("which", "tool", "match"),
    [
        ("openai", WebSearch(), r"server_tools\[0\]: WebSearch is not offered by .* on Chat Completions \(model openai/gpt-4o\)"),
        ("local", WebSearch(), r"WebSearch is not offered by .*OpenAI's search models .* OpenRouter's web plugin"),
        ("perplexity", WebSearch(), r"WebSearch is not offered by"),
        ("search", WebSearch(allowed_domains=["a.org"]), r"WebSearch\(allowed_domains=...\) is not carried by OpenAI's web_search_options .* by OpenRouter's web plugin"),
        ("search", WebSearch(blocked_domains=["a.org"]), r"WebSearch\(blocked_domains=...\) is not carried by OpenAI's"),
        ("openrouter", WebSearch(context_size="low"), r"WebSearch\(context_size=...\) is not carried by OpenRouter's web plugin .* by OpenAI's web_search_options"),
        ("openrouter", WebSearch(user_location=UserLocation(country="US")), r"WebSearch\(user_location=...\) is not carried by OpenRouter"),
        ("search", WebSearch(max_uses=2), r"WebSearch\(max_uses=...\) is not carried by the openai-completions API"),
        ("search", CodeExecution(), r"CodeExecution is not offered by the openai-completions API"),
    ],
)
def test_refused_at_the_call_before_any_request(server: ReplayServer, which: str, tool: Any, match: str) -> None:
    models = {
        "openai": dataclasses.replace(_search_model(server), id="gpt-4o"),
        "local": fx.fixture_model(Path("local/x.chunks.txt"), server.base_url_for(API)),
        "perplexity": fx.fixture_model(Path("perplexity/x.chunks.txt"), server.base_url_for(API)),
        "search": _search_model(server),
        "openrouter": _openrouter(server),
    }
    server.enqueue(Replay(_answer()))
    with pytest.raises(ValueError, match=match):
        alchemy.stream(models[which], CONTEXT, api_key=KEY, server_tools=[tool])
    assert server.requests == []


def test_openrouter_is_known_by_its_host_too() -> None:
    model = Model(
        id="openai/gpt-4o",
        name="m",
        api=API,
        provider="my-gateway",
        base_url="https://openrouter.ai/api/v1",
    )
    request = provider.build_request(model, CONTEXT, _checked(model, server_tools=[WebSearch()], api_key=KEY))
    assert request.body["plugins"] == [{"id": "web"}]


def _checked(model: Model, **options: Any) -> Any:
    from alchemy.streaming import build_options

    opts = build_options("stream", model, provider, options, simple=False)
    provider.check_request(model, CONTEXT, opts)
    return opts


def test_the_call_is_checked_the_same_way_on_a_tool_call_turn() -> None:
    """A search model's turn with citations and a tool call converts like any other turn."""
    model = fx.fixture_model(Path("openai/x.chunks.txt"))
    turn = AssistantMessage(
        content=[TextContent("Looking.", citations=[Citation("url", url="https://a.example/")]), ToolCall("c1", "f", {})],
        api=API,
        provider=model.provider,
        model=model.id,
        stop_reason="toolUse",
    )
    [converted] = convert_messages(model, Context(messages=[turn]), resolve_compat(model))
    assert converted["content"] == "Looking." and "annotations" not in converted
