"""The events and the emitter that enforces the protocol (on both kernel twins)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from protocol_checks import assert_protocol

from alchemy.emitter import EventEmitter
from alchemy.errors import StreamProtocolError
from alchemy.events import (
    Done,
    Error,
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
from alchemy.types import AssistantMessage, TextContent, ThinkingContent, ToolCall, Usage

# -- the events ---------------------------------------------------------------


def test_event_types_match_pi_ai() -> None:
    message = AssistantMessage()
    pairs = [
        (Start(message), "start"),
        (TextStart(0, message), "text_start"),
        (TextDelta(0, "a", message), "text_delta"),
        (TextEnd(0, "a", message), "text_end"),
        (ThinkingStart(0, message), "thinking_start"),
        (ThinkingDelta(0, "a", message), "thinking_delta"),
        (ThinkingEnd(0, "a", message), "thinking_end"),
        (ToolCallStart(0, message), "toolcall_start"),
        (ToolCallDelta(0, "{", message), "toolcall_delta"),
        (ToolCallEnd(0, ToolCall("c", "f"), message), "toolcall_end"),
        (Done("stop", message), "done"),
        (Error("error", message), "error"),
    ]
    for event, expected in pairs:
        assert event.type == expected
        assert not hasattr(event, "__dict__"), "events are slotted"
        assert event.partial is message


def test_event_to_dict_is_pi_ai_shaped() -> None:
    message = AssistantMessage(content=[TextContent("hi")], api="a", provider="p", model="m", timestamp=5)
    assert TextDelta(0, "hi", message).to_dict() == {
        "type": "text_delta",
        "contentIndex": 0,
        "delta": "hi",
        "partial": message.to_dict(),
    }
    call = ToolCall("c1", "get", {"x": 1})
    assert ToolCallEnd(2, call, message).to_dict()["toolCall"] == {
        "type": "toolCall",
        "id": "c1",
        "name": "get",
        "arguments": {"x": 1},
    }
    assert Done("stop", message).to_dict() == {"type": "done", "reason": "stop", "message": message.to_dict()}
    assert Error("aborted", message).to_dict() == {"type": "error", "reason": "aborted", "error": message.to_dict()}
    assert Start(message).to_dict() == {"type": "start", "partial": message.to_dict()}


def test_event_equality_repr_and_matching() -> None:
    message = AssistantMessage()
    assert TextDelta(1, "x", message) == TextDelta(1, "x", message)
    assert TextDelta(1, "x", message) != TextDelta(1, "y", message)
    assert TextDelta(1, "x", message) != ThinkingDelta(1, "x", message)
    assert repr(TextDelta(1, "x", message)) == (
        "TextDelta(content_index=1, delta='x', partial=<AssistantMessage 0 blocks, stop>)"
    )
    match TextDelta(3, "abc", message):
        case TextDelta(index, delta):
            assert (index, delta) == (3, "abc")
        case _:
            raise AssertionError("pattern matching on events")
    error = Error("error", message)
    assert error.message is message and error.error is message


# -- the emitter --------------------------------------------------------------


@pytest.fixture
def make_emitter(event_buffer_cls: Any, json_delta_merger_cls: Any) -> Callable[..., EventEmitter]:
    def make(merger_factory: Callable[[], Any] | None = None) -> EventEmitter:
        message = AssistantMessage(api="test-api", provider="test", model="m")
        return EventEmitter(message, event_buffer_cls(), merger_factory=merger_factory or json_delta_merger_cls)

    return make


def drain(emitter: EventEmitter) -> list[Any]:
    buffer = emitter.buffer
    return [buffer.pop() for _ in range(len(buffer))]


def test_full_response(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.thinking_delta("Let me ")
    emitter.thinking_delta("think")
    emitter.set_thinking_signature("sig-")
    emitter.set_thinking_signature("1", append=True)
    emitter.text_delta("Hello")
    emitter.text_delta(" world")
    emitter.tool_call_start("call_1", "get_weather")
    emitter.tool_call_delta('{"city": ')
    emitter.tool_call_delta('"Paris", "days": [1, 2]}')
    emitter.set_usage(Usage(input=10, output=5, total_tokens=15))
    emitter.set_response_id("resp_1")
    emitter.done("toolUse")
    events = drain(emitter)
    message = assert_protocol(events)
    assert [e.type for e in events] == [
        "start",
        "thinking_start",
        "thinking_delta",
        "thinking_delta",
        "thinking_end",
        "text_start",
        "text_delta",
        "text_delta",
        "text_end",
        "toolcall_start",
        "toolcall_delta",
        "toolcall_delta",
        "toolcall_end",
        "done",
    ]
    assert message.content == [
        ThinkingContent("Let me think", "sig-1"),
        TextContent("Hello world"),
        ToolCall("call_1", "get_weather", {"city": "Paris", "days": [1, 2]}),
    ]
    assert message.usage.total_tokens == 15 and message.response_id == "resp_1"
    assert message.stop_reason == "toolUse"
    assert emitter.buffer.result() is message
    assert emitter.finished


def test_start_is_implicit_once_and_only_before_blocks(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.start()
    emitter.start()
    emitter.text_delta("x")
    emitter.done()
    events = drain(emitter)
    assert [e.type for e in events] == ["start", "text_start", "text_delta", "text_end", "done"]

    bare = make_emitter()
    bare.done()
    assert [e.type for e in drain(bare)] == ["start", "done"]


def test_explicit_starts_make_consecutive_blocks(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.text_start()
    emitter.text_delta("a")
    emitter.text_start("sig-b")
    emitter.text_delta("b")
    emitter.text_end()
    emitter.text_end()  # nothing open: no-op
    emitter.thinking_start("opaque", redacted=True, text="[Reasoning redacted]")
    emitter.thinking_end()
    emitter.done()
    events = drain(emitter)
    message = assert_protocol(events)
    assert message.content == [
        TextContent("a"),
        TextContent("b", "sig-b"),
        ThinkingContent("[Reasoning redacted]", "opaque", redacted=True),
    ]
    assert [e.content_index for e in events if hasattr(e, "content_index")] == [0, 0, 0, 1, 1, 1, 2, 2]


def test_empty_deltas_are_ignored(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.text_delta("")
    emitter.thinking_delta("")
    emitter.tool_call_delta("")
    emitter.done()
    assert [e.type for e in drain(emitter)] == ["start", "done"]


def test_tool_calls_in_a_row_and_whole_arguments(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.tool_call_start("a", "first")
    emitter.tool_call_delta('{"n": 1}')
    emitter.tool_call_start("b", "second")  # closes "a"
    emitter.tool_call_delta('{"n": ')
    emitter.tool_call_end({"n": 2, "fixed": True})  # a provider's own final arguments win
    emitter.tool_call("c", "third", {"q": "whole"}, thought_signature="ts")
    emitter.tool_call_start("d", "late")
    emitter.update_tool_call(id="d2", name="later", thought_signature="t2")
    emitter.done("toolUse")
    events = drain(emitter)
    message = assert_protocol(events)
    assert message.content == [
        ToolCall("a", "first", {"n": 1}),
        ToolCall("b", "second", {"n": 2, "fixed": True}),
        ToolCall("c", "third", {"q": "whole"}, "ts"),
        ToolCall("d2", "later", {}, "t2"),
    ]
    whole = [e for e in events if getattr(e, "content_index", None) == 2]
    assert [e.type for e in whole] == ["toolcall_start", "toolcall_delta", "toolcall_end"]
    assert whole[1].delta == '{"q":"whole"}'


def test_partial_arguments_are_live_and_never_none(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.tool_call_start("c", "f")
    block = emitter.message.content[0]
    assert isinstance(block, ToolCall)
    assert block.arguments == {}
    emitter.tool_call_delta('{"city": "Par')
    assert block.arguments == {"city": "Par"}
    emitter.tool_call_delta('is", "n": [1, 2')
    assert block.arguments == {"city": "Paris", "n": [1, 2]}
    emitter.tool_call_delta("]}")
    emitter.tool_call_end()
    assert block.arguments == {"city": "Paris", "n": [1, 2]}


class CountingMerger:
    """A JsonDeltaMerger that counts how often its value is built."""

    instances: list[CountingMerger] = []

    def __init__(self, cls: Any) -> None:
        self._merger = cls()
        self.value_reads = 0
        self.fed: list[str] = []
        CountingMerger.instances.append(self)

    def feed(self, fragment: str) -> None:
        self.fed.append(fragment)
        self._merger.feed(fragment)

    @property
    def has_value(self) -> bool:
        return bool(self._merger.has_value)

    @property
    def value(self) -> Any:
        self.value_reads += 1
        return self._merger.value

    @property
    def complete(self) -> bool:
        return bool(self._merger.complete)

    @property
    def too_deep(self) -> bool:
        return bool(self._merger.too_deep)


def test_arguments_cost_nothing_until_read(
    make_emitter: Callable[..., EventEmitter], json_delta_merger_cls: Any
) -> None:
    CountingMerger.instances.clear()
    emitter = make_emitter(lambda: CountingMerger(json_delta_merger_cls))
    emitter.tool_call_start("c", "f")
    for fragment in ['{"a"', ": [1, ", '2, 3], "b": "', 'text"}']:
        emitter.tool_call_delta(fragment)
    (merger,) = CountingMerger.instances
    assert merger.fed == ['{"a"', ": [1, ", '2, 3], "b": "', 'text"}']
    for event in drain(emitter):  # a consumer that never looks at the arguments
        assert event.type in ("start", "toolcall_start", "toolcall_delta")
    assert merger.value_reads == 0, "nobody read the arguments, so no value was built"
    emitter.tool_call_end()
    assert merger.value_reads == 1, "the final parse at toolcall_end"
    block = emitter.message.content[0]
    assert isinstance(block, ToolCall)
    assert block.arguments == {"a": [1, 2, 3], "b": "text"}
    assert merger.value_reads == 1, "after the end the arguments are fixed: the merger is let go"


def test_arguments_stay_empty_for_non_objects(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.tool_call_start("c", "f")
    emitter.tool_call_delta("[1, 2")
    block = emitter.message.content[0]
    assert isinstance(block, ToolCall)
    assert block.arguments == {}
    emitter.tool_call_delta("]")
    emitter.done()
    assert block.arguments == {}


def test_protocol_mistakes(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    with pytest.raises(StreamProtocolError, match="tool_call_delta\\(\\) with no block open"):
        emitter.tool_call_delta("{")
    emitter.text_delta("x")
    with pytest.raises(StreamProtocolError, match="tool_call_delta\\(\\) with a text block open"):
        emitter.tool_call_delta("{")
    with pytest.raises(StreamProtocolError, match="closing a thinking block while a text block is open"):
        emitter.thinking_end()
    with pytest.raises(StreamProtocolError, match="set_thinking_signature\\(\\) with no ThinkingContent block"):
        emitter.set_thinking_signature("s")
    with pytest.raises(StreamProtocolError, match="update_tool_call\\(\\) with no ToolCall block"):
        emitter.update_tool_call(name="n")
    with pytest.raises(ValueError, match="can only be done with 'stop', 'length' or 'toolUse', got 'error'"):
        emitter.done("error")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got 'aborted'"):
        emitter.set_stop_reason("aborted")
    with pytest.raises(TypeError, match="tool-call arguments must be a dict, got list"):
        emitter.tool_call("c", "f", [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="set_usage\\(\\) expects a Usage"):
        emitter.set_usage({"input": 1})  # type: ignore[arg-type]
    emitter.done()
    assert_protocol(drain(emitter))


def test_stop_reason_set_early_is_used_by_done(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.text_delta("cut")
    emitter.set_stop_reason("length")
    emitter.done()
    events = drain(emitter)
    assert events[-1] == Done("length", emitter.message)


def test_nothing_after_the_terminal_event(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.text_delta("a")
    emitter.done()
    before = len(emitter.buffer)
    emitter.start()
    emitter.text_start()
    emitter.text_delta("b")
    emitter.thinking_delta("c")
    emitter.tool_call_start("x", "y")
    emitter.tool_call_delta("{")
    emitter.tool_call_end({"a": 1})
    emitter.tool_call("z", "w", {})
    emitter.set_usage(Usage(input=99))
    emitter.set_response_id("r")
    emitter.set_stop_reason("length")
    emitter.done("length")
    emitter.error("late")
    assert len(emitter.buffer) == before
    message = assert_protocol(drain(emitter))
    assert message.content == [TextContent("a")] and message.usage.input == 0 and message.stop_reason == "stop"


def test_error_mid_text_keeps_everything(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.thinking_delta("plan")
    emitter.text_delta("partial ans")
    emitter.set_usage(Usage(input=7, output=3, total_tokens=10))
    emitter.error("connection reset")
    events = drain(emitter)
    message = assert_protocol(events)
    assert events[-1] == Error("error", message)
    assert [e.type for e in events][-3:] == ["text_start", "text_delta", "error"], "no text_end on error"
    assert message.content == [ThinkingContent("plan"), TextContent("partial ans")]
    assert message.usage.total_tokens == 10
    assert message.error_message == "connection reset" and message.stop_reason == "error"


def test_error_mid_tool_call_keeps_best_effort_arguments(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.tool_call_start("c", "search")
    emitter.tool_call_delta('{"query": "cats", "limit": 1')
    emitter.error("stream dropped", aborted=True)
    events = drain(emitter)
    message = assert_protocol(events)
    assert events[-1].reason == "aborted" and message.stop_reason == "aborted"
    assert message.content == [ToolCall("c", "search", {"query": "cats", "limit": 1})]


def test_error_before_start_is_alone(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.error("401 Unauthorized")
    events = drain(emitter)
    assert [e.type for e in events] == ["error"]
    assert_protocol(events)


def test_restart_before_anything_was_delivered(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.text_delta("first attempt")
    emitter.set_usage(Usage(input=5))
    emitter.set_response_id("r1")
    assert not emitter.content_delivered
    emitter.restart()
    assert len(emitter.buffer) == 0 and emitter.message.content == [] and emitter.message.usage == Usage()
    assert emitter.message.response_id is None and not emitter.started
    emitter.text_delta("second")
    emitter.done()
    events = drain(emitter)
    message = assert_protocol(events)
    assert message.content == [TextContent("second")]


def test_restart_after_start_was_delivered(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.start()
    emitter.tool_call_start("c", "f")
    emitter.tool_call_delta('{"a": 1')
    buffer = emitter.buffer
    first = buffer.pop()
    assert first.type == "start" and not emitter.content_delivered
    emitter.restart()
    assert emitter.started, "Start reached the consumer; it is not sent again"
    emitter.text_delta("retry")
    emitter.done()
    events = [first, *drain(emitter)]
    message = assert_protocol(events)
    assert message.content == [TextContent("retry")]


def test_no_restart_once_content_was_delivered(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.text_delta("seen")
    assert emitter.buffer.pop().type == "start"
    assert not emitter.content_delivered
    assert emitter.buffer.pop().type == "text_start"
    assert emitter.content_delivered
    with pytest.raises(StreamProtocolError, match="after events reached the consumer"):
        emitter.restart()
    emitter.done()
    with pytest.raises(StreamProtocolError, match="after the stream ended"):
        emitter.restart()


def test_long_text_accumulates(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    pieces = [f"piece {i} " for i in range(20_000)]
    for piece in pieces:
        emitter.text_delta(piece)
        emitter.buffer.pop()
    emitter.done()
    assert emitter.message.text == "".join(pieces)


def test_a_wrong_delta_type_loses_no_text() -> None:
    from alchemy.emitter import EventEmitter
    from alchemy.types import AssistantMessage

    emitter = EventEmitter(AssistantMessage())
    emitter.text_delta("kept")
    with pytest.raises(TypeError):
        emitter.text_delta(b"bytes")  # type: ignore[arg-type]
    assert emitter.message.content[0].text == "kept"  # type: ignore[union-attr]
    emitter.thinking_delta("also kept")
    with pytest.raises(TypeError):
        emitter.thinking_delta(3)  # type: ignore[arg-type]
    assert emitter.message.content[1].thinking == "also kept"  # type: ignore[union-attr]


# -- what parsers read through the emitter -----------------------------------


def test_open_block_and_tool_calls_as_parsers_see_them(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    assert emitter.open_block is None and not emitter.has_tool_calls
    emitter.text_delta("Hi")
    assert emitter.open_block is emitter.message.content[0]
    emitter.tool_call_start("call_1", "get")
    block = emitter.open_block
    assert isinstance(block, ToolCall) and block.id == "call_1" and emitter.has_tool_calls
    emitter.tool_call_end()
    assert emitter.open_block is None and emitter.has_tool_calls


def test_stop_reason_and_response_id_as_recorded(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    assert emitter.stop_reason == "stop" and emitter.response_id is None
    emitter.set_stop_reason("length")
    emitter.set_response_id("resp_1")
    assert emitter.stop_reason == "length" and emitter.response_id == "resp_1"


def test_a_thinking_signature_can_mark_the_block_redacted(make_emitter: Callable[..., EventEmitter]) -> None:
    emitter = make_emitter()
    emitter.thinking_start("enc-", redacted=False)
    emitter.set_thinking_signature("more", append=True, redacted=True)
    block = emitter.message.content[0]
    assert isinstance(block, ThinkingContent) and block.redacted and block.thinking_signature == "enc-more"
