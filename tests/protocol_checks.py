"""Checks the event protocol's invariants on the events of one stream (shared by tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from alchemy.events import (
    Done,
    Error,
    ServerToolDelta,
    ServerToolEnd,
    ServerToolStart,
    Start,
    TextDelta,
    TextEnd,
    TextStart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from alchemy.types import AssistantMessage, ServerToolCall, TextContent, ThinkingContent, ToolCall

_STARTS: dict[type, tuple[str, type]] = {
    TextStart: ("text", TextContent),
    ThinkingStart: ("thinking", ThinkingContent),
    ToolCallStart: ("toolCall", ToolCall),
    ServerToolStart: ("serverToolCall", ServerToolCall),
}
_DELTAS: dict[type, str] = {
    TextDelta: "text",
    ThinkingDelta: "thinking",
    ToolCallDelta: "toolCall",
    ServerToolDelta: "serverToolCall",
}
_ENDS: dict[type, str] = {
    TextEnd: "text",
    ThinkingEnd: "thinking",
    ToolCallEnd: "toolCall",
    ServerToolEnd: "serverToolCall",
}


def assert_protocol(events: Sequence[Any]) -> AssistantMessage:
    """Asserts every invariant of the protocol; returns the final message."""
    assert events, "a stream yields at least its terminal event"
    terminal = events[-1]
    assert isinstance(terminal, (Done, Error)), f"the last event must be terminal, got {terminal!r}"
    assert not any(isinstance(e, (Done, Error)) for e in events[:-1]), "exactly one terminal event"
    final: AssistantMessage = terminal.message
    if isinstance(terminal, Done):
        assert terminal.reason == final.stop_reason and final.stop_reason in ("stop", "length", "toolUse")
        assert final.error_message is None
    else:
        assert terminal.reason == final.stop_reason and final.stop_reason in ("error", "aborted")
        assert final.error_message, "an error message is always set"

    if not isinstance(events[0], Start):
        assert isinstance(terminal, Error) and len(events) == 1, "only a lone Error may come without Start"
        assert final.content == [], "no content without Start"
        return final
    assert sum(isinstance(e, Start) for e in events) == 1, "exactly one Start"
    for event in events:
        assert event.partial is final, "every event carries the same message object"

    open_kind: str | None = None
    open_index = -1
    next_index = 0
    deltas: dict[int, list[str]] = {}
    for event in events[1:-1]:
        cls = type(event)
        if cls in _STARTS:
            assert open_kind is None, f"{event!r} while a block is open"
            kind, block_cls = _STARTS[cls]
            assert event.content_index == next_index, "content_index is the block's position"
            assert isinstance(final.content[next_index], block_cls)
            open_kind, open_index = kind, next_index
            deltas[next_index] = []
            next_index += 1
        elif cls in _DELTAS:
            assert open_kind == _DELTAS[cls] and event.content_index == open_index, f"stray {event!r}"
            assert event.delta, "no empty deltas"
            deltas[open_index].append(event.delta)
        elif cls in _ENDS:
            assert open_kind == _ENDS[cls] and event.content_index == open_index, f"stray {event!r}"
            block: Any = final.content[open_index]
            joined = "".join(deltas[open_index])
            if cls is TextEnd:
                assert event.content == block.text and block.text.endswith(joined)
            elif cls is ThinkingEnd:
                assert event.content == block.thinking and block.thinking.endswith(joined)
            elif cls is ServerToolEnd:
                assert event.server_tool_call is block and isinstance(block.input, dict)
                assert block.provider == final.provider
            else:
                assert event.tool_call is block
                if joined:
                    try:
                        parsed = orjson.loads(joined)
                    except orjson.JSONDecodeError:
                        parsed = None
                    if isinstance(parsed, dict):
                        assert block.arguments == parsed
            open_kind = None
        else:
            raise AssertionError(f"unexpected event {event!r}")
    assert next_index == len(final.content), "every block of the final message was announced"
    if isinstance(terminal, Done):
        assert open_kind is None, "every block is closed before Done"
    for block in final.content:
        if isinstance(block, ToolCall):
            assert isinstance(block.arguments, dict)
        elif isinstance(block, ServerToolCall):
            assert isinstance(block.input, dict)
            orjson.dumps(block.to_dict())  # the saved JSON can hold it
    assert AssistantMessage.from_dict(orjson.loads(orjson.dumps(final.to_dict()))) == final, "the JSON round trip"
    return final


def run_parser(
    provider: Any,
    model: Any,
    wire: bytes,
    sizes: Iterable[int] | None = None,
    options: Any = None,
    *,
    priced: bool = True,
) -> tuple[list[Any], AssistantMessage]:
    """Feeds ``wire`` to a fresh parser of ``provider`` as the runner does, in pieces of
    ``sizes`` (default: one piece; whatever the sizes leave over is fed last), then
    ``finish()``. A :class:`ProviderError` ends the stream as the runner would end it.
    The emitter prices the usage from ``model`` as ``stream()``'s does, unless ``priced``
    is false (then the parser's own report is seen: tokens only).
    Returns the events and the final message, after checking the protocol."""
    from alchemy.emitter import EventEmitter, describe_exception, new_partial
    from alchemy.errors import ProviderError
    from alchemy.streaming import StreamOptions

    emitter = EventEmitter(new_partial(model), model=model if priced else None)
    parser = provider.create_parser(model, options if options is not None else StreamOptions(), emitter)
    emitter.start()
    try:
        position = 0
        for size in sizes if sizes is not None else (len(wire),):
            if position >= len(wire):
                break
            parser.feed(wire[position : position + size])
            position += size
        if position < len(wire):
            parser.feed(wire[position:])
        parser.finish()
    except ProviderError as exc:
        emitter.error(describe_exception(exc))
    events = list(emitter.buffer)
    return events, assert_protocol(events)
