"""Output items keyed by identity: interleaved items and blocks, rotating ids, mutating tool-call ids.

Hand-written streams in each API's documented shape, fed through the real parsers at
several chunkings. Each test asserts the final content (kind, text, arguments), its
order, the ids, and the request body the next turn sends back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import test_anthropic_messages as tam
import test_openai_completions as oc
import test_openai_responses as orr
from protocol_checks import assert_protocol
from support import wire_model

import alchemy
from alchemy import emitter as emitter_module
from alchemy.abort import AbortController
from alchemy.testing import Replay, ReplayServer, Stall
from alchemy.types import (
    AssistantMessage,
    Context,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

# --------------------------------------------------------------------------- Responses

REASONING_ITEM = {
    "id": "rs_1",
    "type": "reasoning",
    "summary": [],
    "encrypted_content": "enc",
}
MESSAGE_ITEM = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "status": "in_progress",
    "content": [],
}
FUNCTION_ITEM = {
    "id": "fc_1",
    "type": "function_call",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": "",
}


def _item_events(kind: str, index: int) -> list[dict[str, Any]]:
    """``added``, two deltas and ``done`` of one output item at ``index``."""
    p = orr.payload
    if kind == "reasoning":
        done = {
            **REASONING_ITEM,
            "summary": [{"type": "summary_text", "text": "Think hard"}],
        }
        return [
            p("response.output_item.added", output_index=index, item=REASONING_ITEM),
            p(
                "response.reasoning_summary_text.delta",
                item_id="rs_1",
                output_index=index,
                summary_index=0,
                delta="Think",
            ),
            p(
                "response.reasoning_summary_text.delta",
                item_id="rs_1",
                output_index=index,
                summary_index=0,
                delta=" hard",
            ),
            p("response.output_item.done", output_index=index, item=done),
        ]
    if kind == "message":
        text = [{"type": "output_text", "text": "Hello there", "annotations": []}]
        done = {**MESSAGE_ITEM, "status": "completed", "content": text}
        return [
            p("response.output_item.added", output_index=index, item=MESSAGE_ITEM),
            p(
                "response.output_text.delta",
                item_id="msg_1",
                output_index=index,
                content_index=0,
                delta="Hello",
            ),
            p(
                "response.output_text.delta",
                item_id="msg_1",
                output_index=index,
                content_index=0,
                delta=" there",
            ),
            p("response.output_item.done", output_index=index, item=done),
        ]
    done = {
        **FUNCTION_ITEM,
        "arguments": '{"location": "Paris"}',
        "status": "completed",
    }
    return [
        p("response.output_item.added", output_index=index, item=FUNCTION_ITEM),
        p(
            "response.function_call_arguments.delta",
            item_id="fc_1",
            output_index=index,
            delta='{"location": ',
        ),
        p(
            "response.function_call_arguments.delta",
            item_id="fc_1",
            output_index=index,
            delta='"Paris"}',
        ),
        p("response.output_item.done", output_index=index, item=done),
    ]


def _expected_block(kind: str) -> tuple[str, Any]:
    if kind == "reasoning":
        return ("thinking", "Think hard")
    if kind == "message":
        return ("text", "Hello there")
    return ("toolCall", ("call_1|fc_1", "get_weather", {"location": "Paris"}))


def _describe(block: Any) -> tuple[str, Any]:
    if isinstance(block, ThinkingContent):
        return ("thinking", block.thinking)
    if isinstance(block, TextContent):
        return ("text", block.text)
    assert isinstance(block, ToolCall)
    return ("toolCall", (block.id, block.name, block.arguments))


def _interleavings(streams: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Every merge of ``streams`` keeping each stream's order and the ``added`` events in output order."""
    out: list[list[dict[str, Any]]] = []

    def walk(
        positions: tuple[int, ...], merged: list[dict[str, Any]], added: int
    ) -> None:
        if all(pos == len(s) for pos, s in zip(positions, streams)):
            out.append(list(merged))
            return
        for which, stream in enumerate(streams):
            pos = positions[which]
            if pos == len(stream) or (pos == 0 and which != added):
                continue
            merged.append(stream[pos])
            walk(
                positions[:which] + (pos + 1,) + positions[which + 1 :],
                merged,
                added + (pos == 0),
            )
            merged.pop()

    walk(tuple(0 for _ in streams), [], 0)
    return out


def _next_turn_items(message: AssistantMessage) -> list[dict[str, Any]]:
    context = Context(messages=[UserMessage("Hi"), message])
    body = orr.body_of(orr.GPT5, context)
    return [
        item
        for item in body["input"]
        if item.get("type") in ("reasoning", "message", "function_call")
    ]


def _check_responses_message(message: AssistantMessage, kinds: tuple[str, ...]) -> None:
    assert message.error_message is None
    assert [_describe(block) for block in message.content] == [
        _expected_block(kind) for kind in kinds
    ]
    assert message.stop_reason == ("toolUse" if "function" in kinds else "stop")
    replay = _next_turn_items(message)
    assert [item["type"] for item in replay] == [
        {"reasoning": "reasoning", "message": "message", "function": "function_call"}[
            kind
        ]
        for kind in kinds
    ]
    for item in replay:
        if item["type"] == "reasoning":
            assert item["id"] == "rs_1" and item["encrypted_content"] == "enc"
        elif item["type"] == "message":
            assert item["id"] == "msg_1"
        else:
            assert (item["call_id"], item["id"], orjson.loads(item["arguments"])) == (
                "call_1",
                "fc_1",
                {"location": "Paris"},
            )


@pytest.mark.parametrize(
    "kinds",
    list(itertools.permutations(("reasoning", "message", "function"))),
    ids="-".join,
)
def test_responses_items_interleaved_in_every_order(kinds: tuple[str, ...]) -> None:
    """Three items at output indexes 0..2, their events merged in every order the protocol allows."""
    streams = [_item_events(kind, index) for index, kind in enumerate(kinds)]
    merges = _interleavings(streams)
    assert len(merges) > 100
    for events in merges:
        message, _ = orr.parse([orr.created(), *events, orr.completed()])
        _check_responses_message(message, kinds)


@pytest.mark.parametrize("how", ["whole", "event", "bytes=7", "random-1"])
def test_openrouter_reasoning_item_done_after_the_message(how: str) -> None:
    """Reasoning (index 0) stays open while the message (index 1) streams and ends; no doubled thinking."""
    reasoning, message = _item_events("reasoning", 0), _item_events("message", 1)
    events = [orr.created(), *reasoning[:3], *message, reasoning[3], orr.completed()]
    final, out = orr.parse(events, how=how)
    _check_responses_message(final, ("reasoning", "message"))
    thinking = final.content[0]
    assert isinstance(thinking, ThinkingContent) and thinking.thinking_signature
    assert orjson.loads(thinking.thinking_signature)["id"] == "rs_1"
    kinds = [type(event).__name__ for event in out]
    assert kinds.count("ThinkingStart") == 1 and kinds.count("TextStart") == 1


def test_function_arguments_after_a_message_started_give_one_call() -> None:
    function, message = _item_events("function", 0), _item_events("message", 1)
    events = [
        orr.created(),
        function[0],
        message[0],
        message[1],
        function[1],
        function[2],
        *message[2:],
        function[3],
    ]
    final, out = orr.parse([*events, orr.completed()])
    _check_responses_message(final, ("function", "message"))
    ends = [event for event in out if type(event).__name__ == "ToolCallEnd"]
    assert len(ends) == 1 and ends[0].tool_call.arguments == {"location": "Paris"}


@pytest.mark.parametrize("with_index", [True, False])
def test_responses_item_ids_that_change_on_every_event(with_index: bool) -> None:
    """GitHub Copilot's Responses endpoint: a new ``item_id`` per event for the same output item."""
    counter = itertools.count()

    def rotate(event: dict[str, Any]) -> dict[str, Any]:
        event = dict(event)
        if "item_id" in event:
            event["item_id"] = f"rot_{next(counter)}"
        if not with_index:
            event.pop("output_index", None)
        return event

    events = [
        rotate(event)
        for kind in ("reasoning", "message")
        for event in _item_events(kind, ["reasoning", "message"].index(kind))
    ]
    final, _ = orr.parse([orr.created(), *events, orr.completed()], how="event")
    _check_responses_message(final, ("reasoning", "message"))


def test_an_item_never_done_is_kept_when_the_response_completes() -> None:
    reasoning, message = _item_events("reasoning", 0), _item_events("message", 1)
    final, _ = orr.parse([orr.created(), *reasoning[:3], *message, orr.completed()])
    assert [_describe(block) for block in final.content] == [
        ("thinking", "Think hard"),
        ("text", "Hello there"),
    ]


def test_waiting_items_are_kept_when_the_stream_is_cut() -> None:
    reasoning, message = _item_events("reasoning", 0), _item_events("message", 1)
    final, _ = orr.parse([orr.created(), *reasoning[:3], *message[:3]])
    assert final.stop_reason == "error"
    assert [_describe(block) for block in final.content] == [
        ("thinking", "Think hard"),
        ("text", "Hello there"),
    ]


# --------------------------------------------------------------------------- Chat Completions


def _call(
    index: int, call_id: str | None = None, name: str | None = None, arguments: str = ""
) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name:
        function["name"] = name
    call: dict[str, Any] = {"index": index, "function": function}
    if call_id:
        call["id"] = call_id
    return oc.chunk({"tool_calls": [call]})


def _completions_next_turn(message: AssistantMessage) -> list[tuple[str, str, Any]]:
    results = [
        ToolResultMessage(call.id, call.name, [TextContent("ok")])
        for call in message.tool_calls
    ]
    body = oc.body_of(
        oc.make_model(), Context(messages=[UserMessage("Hi"), message, *results])
    )
    assistant = next(m for m in body["messages"] if m["role"] == "assistant")
    calls = assistant["tool_calls"]
    assert [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"] == [
        c["id"] for c in calls
    ]
    return [
        (c["id"], c["function"]["name"], orjson.loads(c["function"]["arguments"]))
        for c in calls
    ]


@pytest.mark.parametrize("how", ["event", "byte", "random=3"])
def test_a_tool_call_id_that_changes_without_a_name_continues_the_call(
    how: str,
) -> None:
    chunks = [
        _call(0, "call_a", "weather", '{"city":'),
        _call(0, "call_a_2", None, ' "Pa'),
        _call(0, "call_a_3", None, 'ris"}'),
        oc.chunk(finish="tool_calls"),
    ]
    message = oc.final(oc.make_model(), chunks, how)
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == [
        ("call_a", "weather", {"city": "Paris"})
    ]
    assert _completions_next_turn(message) == [("call_a", "weather", {"city": "Paris"})]


@pytest.mark.parametrize("how", ["event", "byte", "random=3"])
def test_mutating_ids_and_parallel_calls_on_index_zero_together(how: str) -> None:
    """A new id with a name starts a call (Ollama's index 0); without a name it continues one."""
    chunks = [
        _call(0, "call_a", "weather", '{"city":'),
        _call(0, "call_a_x", None, '"Paris"}'),
        _call(0, "call_b", "time", ""),
        _call(0, "call_b_x", None, '{"zone":'),
        _call(0, None, None, '"UTC"}'),
        _call(0, "call_c", "weather", '{"city":"Rome"}'),
        oc.chunk(finish="tool_calls"),
    ]
    message = oc.final(oc.make_model(), chunks, how)
    want = [
        ("call_a", "weather", {"city": "Paris"}),
        ("call_b", "time", {"zone": "UTC"}),
        ("call_c", "weather", {"city": "Rome"}),
    ]
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == want
    assert message.stop_reason == "toolUse"
    assert _completions_next_turn(message) == want


def test_a_mutated_id_routes_later_fragments_to_its_call() -> None:
    chunks = [
        _call(0, "call_a", "weather", '{"city":'),
        _call(0, "call_a_x", None, ""),
        oc.chunk(
            {"tool_calls": [{"id": "call_a_x", "function": {"arguments": '"Oslo"}'}}]}
        ),
        oc.chunk(finish="tool_calls"),
    ]
    message = oc.final(oc.make_model(), chunks)
    assert [(c.id, c.arguments) for c in message.tool_calls] == [
        ("call_a", {"city": "Oslo"})
    ]


# --------------------------------------------------------------------------- Anthropic Messages


ANTHROPIC_TOOL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}


def _block_events(kind: str, index: int) -> list[dict[str, Any]]:
    """``content_block_start``, two deltas and ``content_block_stop`` of one block at ``index``."""
    if kind == "thinking":
        return [
            tam.block(index, {"type": "thinking", "thinking": ""}),
            tam.delta(index, {"type": "thinking_delta", "thinking": "Think hard"}),
            tam.delta(index, {"type": "signature_delta", "signature": "sig_1"}),
            tam.stop(index),
        ]
    if kind == "text":
        return [
            tam.block(index, {"type": "text", "text": ""}),
            tam.delta(index, {"type": "text_delta", "text": "Hello"}),
            tam.delta(index, {"type": "text_delta", "text": " there"}),
            tam.stop(index),
        ]
    return [
        tam.block(index, ANTHROPIC_TOOL),
        tam.delta(index, {"type": "input_json_delta", "partial_json": '{"location": '}),
        tam.delta(index, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        tam.stop(index),
    ]


_ANTHROPIC_CONTENT = {
    "thinking": ThinkingContent("Think hard", "sig_1"),
    "text": TextContent("Hello there"),
    "tool": ToolCall("toolu_1", "get_weather", {"location": "Paris"}),
}
_ANTHROPIC_REPLAY = {
    "thinking": {"type": "thinking", "thinking": "Think hard", "signature": "sig_1"},
    "text": {"type": "text", "text": "Hello there"},
    "tool": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
}


def _check_anthropic_message(message: AssistantMessage, kinds: tuple[str, ...]) -> None:
    assert message.error_message is None
    assert message.content == [_ANTHROPIC_CONTENT[kind] for kind in kinds]
    assert message.stop_reason == ("toolUse" if "tool" in kinds else "stop")
    body = tam.body(Context(messages=[UserMessage("Hi"), message]))
    assert body["messages"][1] == {"role": "assistant", "content": [_ANTHROPIC_REPLAY[kind] for kind in kinds]}


def _anthropic_wire(events: list[dict[str, Any]], kinds: tuple[str, ...]) -> bytes:
    return tam.frames(tam.start(), *events, *tam.end("tool_use" if "tool" in kinds else "end_turn"))


@pytest.mark.parametrize(
    "kinds",
    [*itertools.permutations(("thinking", "text", "tool"), 2), *itertools.permutations(("thinking", "text", "tool"))],
    ids="-".join,
)
def test_anthropic_blocks_interleaved_in_every_order(kinds: tuple[str, ...]) -> None:
    """Blocks at indexes 0..n, their events merged in every order with the starts in index order."""
    streams = [_block_events(kind, index) for index, kind in enumerate(kinds)]
    merges = _interleavings(streams)
    assert len(merges) >= (15 if len(kinds) == 2 else 1000)
    for events in merges:
        _, message = tam.parse(_anthropic_wire(events, kinds))
        _check_anthropic_message(message, kinds)


@pytest.mark.parametrize("chunking", ["whole", "bytes=1", "random"])
def test_anthropic_thinking_stopped_after_a_tool_call_on_both_twins(twins: None, chunking: str) -> None:
    """The thinking block (index 0) stops last, after a whole tool call and a text block streamed."""
    kinds = ("thinking", "tool", "text")
    thinking, tool, text = (_block_events(kind, index) for index, kind in enumerate(kinds))
    events = [*thinking[:2], *tool, *text[:2], thinking[2], *text[2:], thinking[3]]
    wire_events, message = tam.parse(_anthropic_wire(events, kinds), tam._sizes(chunking))
    _check_anthropic_message(message, kinds)
    starts = [event.type for event in wire_events if event.type.endswith("_start")]
    assert starts == ["thinking_start", "toolcall_start", "text_start"]


def test_anthropic_redacted_thinking_and_a_server_block_interleaved(twins: None) -> None:
    server_tool = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    events = [
        tam.block(0, {"type": "redacted_thinking", "data": "opaque"}),
        tam.block(1, server_tool),
        tam.block(2, {"type": "text", "text": ""}),
        tam.delta(1, {"type": "input_json_delta", "partial_json": '{"q": "x"}'}),
        tam.delta(2, {"type": "text_delta", "text": "Found"}),
        tam.stop(1),
        tam.stop(0),
        tam.stop(2),
    ]
    _, message = tam.parse(tam.frames(tam.start(), *events, *tam.end()))
    call = ServerToolCall(
        "srvtoolu_1", "web_search", {"q": "x"}, None, "in_progress", "anthropic", {"call": {"type": "server_tool_use"}}
    )
    assert message.content == [ThinkingContent("", "opaque", True), call, TextContent("Found")]
    body = tam.body(Context(messages=[UserMessage("Hi"), message]))
    assert body["messages"][1]["content"] == [
        {"type": "redacted_thinking", "data": "opaque"},
        {**server_tool, "input": {"q": "x"}},
        {"type": "text", "text": "Found"},
    ]


def test_anthropic_blocks_never_stopped_end_at_message_stop_in_index_order(twins: None) -> None:
    kinds = ("text", "tool")
    text, tool = _block_events("text", 0), _block_events("tool", 1)
    _, message = tam.parse(_anthropic_wire([text[0], *tool[:3], *text[1:3]], kinds))
    _check_anthropic_message(message, kinds)


def test_anthropic_waiting_blocks_are_kept_when_the_stream_is_cut(twins: None) -> None:
    text, tool = _block_events("text", 0), _block_events("tool", 1)
    _, message = tam.parse(tam.frames(tam.start(), text[0], *tool, text[1]))
    assert message.stop_reason == "error"
    assert message.content == [TextContent("Hello"), _ANTHROPIC_CONTENT["tool"]]


# --------------------------------------------------------------------------- aborts keep what was held


@pytest.fixture
def kernel_twins(monkeypatch: pytest.MonkeyPatch, event_buffer_cls: Any, json_delta_merger_cls: Any) -> None:
    monkeypatch.setattr(emitter_module, "EventBuffer", event_buffer_cls)
    monkeypatch.setattr(emitter_module, "JsonDeltaMerger", json_delta_merger_cls)


@pytest.fixture(scope="module")
def abort_server() -> Iterator[ReplayServer]:
    with ReplayServer(default=None) as server:
        yield server


def _anthropic_held_stream() -> tuple[list[dict[str, Any]], str, list[Any]]:
    """Text (index 0) streams while a whole tool call (index 1) waits; the consumer stops at ``" there"``."""
    text, tool = _block_events("text", 0), _block_events("tool", 1)
    held = [tam.start(), text[0], text[1], *tool[:3], text[2]]
    rest = [text[3], tool[3], *tam.end("tool_use")]
    expected = [TextContent("Hello there"), _ANTHROPIC_CONTENT["tool"]]
    return [*held, *rest], " there", expected


def _responses_held_stream() -> tuple[list[dict[str, Any]], str, list[Any]]:
    """Reasoning (index 0) streams while a message (index 1) waits; the consumer stops at ``" hard"``."""
    reasoning, message = _item_events("reasoning", 0), _item_events("message", 1)
    events = [orr.created(), reasoning[0], *message[:3], reasoning[1], reasoning[2], message[3], reasoning[3]]
    expected = [ThinkingContent("Think hard"), TextContent("Hello there")]
    return [*events, orr.completed()], " hard", expected


_HELD_STREAMS = {"anthropic-messages": _anthropic_held_stream, "openai-responses": _responses_held_stream}


def _stop_at(event: Any, delta: str) -> bool:
    return event.type in ("text_delta", "thinking_delta") and event.delta == delta


def _held_replay(api: str, server: ReplayServer) -> tuple[Any, str, list[Any]]:
    events, stop_at, expected = _HELD_STREAMS[api]()
    held = next(i for i, e in enumerate(events) if e.get("delta") in (stop_at, {"type": "text_delta", "text": stop_at}))
    # Nothing after the stop point arrives before the consumer stops.
    server.enqueue(Replay(events, api=api, faults=[Stall(seconds=2.0, after_events=held + 1)]))
    return wire_model(api, server.base_url_for(api)), stop_at, expected


@pytest.mark.parametrize("how", ["abort", "close"])
@pytest.mark.parametrize("api", sorted(_HELD_STREAMS))
def test_an_early_end_keeps_every_held_delta_sync(
    kernel_twins: None, abort_server: ReplayServer, api: str, how: str
) -> None:
    model, stop_at, expected = _held_replay(api, abort_server)
    controller = AbortController()
    seen = []
    with alchemy.stream(model, Context(messages=[UserMessage("Hi")]), api_key="test-key", signal=controller.signal) as events:
        for event in events:
            seen.append(event)
            if _stop_at(event, stop_at):
                if how == "close":
                    break
                controller.abort()
    message = events.result()
    assert message.stop_reason == "aborted"
    assert message.content == expected
    if how == "abort":
        assert assert_protocol(seen).content == expected


@pytest.mark.parametrize("how", ["abort", "close"])
@pytest.mark.parametrize("api", sorted(_HELD_STREAMS))
def test_an_early_end_keeps_every_held_delta_async(
    kernel_twins: None, abort_server: ReplayServer, api: str, how: str
) -> None:
    model, stop_at, expected = _held_replay(api, abort_server)
    controller = AbortController()

    async def main() -> tuple[list[Any], AssistantMessage]:
        seen = []
        context = Context(messages=[UserMessage("Hi")])
        async with alchemy.astream(model, context, api_key="test-key", signal=controller.signal) as events:
            async for event in events:
                seen.append(event)
                if _stop_at(event, stop_at):
                    if how == "close":
                        break
                    controller.abort()
        return seen, await events.result()

    seen, message = asyncio.run(main())
    assert message.stop_reason == "aborted"
    assert message.content == expected
    if how == "abort":
        assert assert_protocol(seen).content == expected
