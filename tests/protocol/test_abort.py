"""AbortController / AbortSignal, and aborting streams every way: before start, mid-block, from a thread."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from protocol_checks import assert_protocol

import alchemy
from alchemy import emitter as emitter_module
from alchemy.abort import AbortController, AbortSignal
from alchemy.emitter import ABORTED_MESSAGE
from alchemy.testing import ScriptedProvider, scripted_model, stop, text, tool_call, usage
from alchemy.types import Context, TextContent, ToolCall, UserMessage

CONTEXT = Context(messages=[UserMessage("Tell me a story.")])

STORY = [
    [text("Once ")],
    [text("upon "), usage(input=10, output=2)],
    [text("a time")],
    [tool_call("c1", "lookup", '{"topic": "dra')],
    [tool_call("c1", arguments='gons"}')],
    [usage(input=10, output=30), stop("toolUse")],
]


@pytest.fixture(autouse=True)
def kernel_twins(monkeypatch: pytest.MonkeyPatch, event_buffer_cls: Any, json_delta_merger_cls: Any) -> None:
    monkeypatch.setattr(emitter_module, "EventBuffer", event_buffer_cls)
    monkeypatch.setattr(emitter_module, "JsonDeltaMerger", json_delta_merger_cls)


# -- the controller and the signal --------------------------------------------


def test_controller_and_signal() -> None:
    controller = AbortController()
    signal = controller.signal
    assert isinstance(signal, AbortSignal) and not signal.aborted and signal.reason is None
    assert repr(signal) == "<AbortSignal not aborted>"
    calls: list[str] = []
    signal.add_listener(lambda: calls.append("first"))
    second = lambda: calls.append("second")  # noqa: E731
    signal.add_listener(second)
    signal.remove_listener(second)
    signal.remove_listener(second)  # absent: nothing happens
    controller.abort("user pressed stop")
    controller.abort("again")  # later calls do nothing
    assert signal.aborted and signal.reason == "user pressed stop"
    assert calls == ["first"]
    signal.add_listener(lambda: calls.append("late"))  # already aborted: runs at once
    assert calls == ["first", "late"]
    assert "aborted" in repr(controller)


def test_listener_must_be_callable() -> None:
    with pytest.raises(TypeError, match="an abort listener must be callable, got int"):
        AbortController().signal.add_listener(3)  # type: ignore[arg-type]


def test_a_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    controller = AbortController()
    calls: list[int] = []

    def broken() -> None:
        raise RuntimeError("listener bug")

    controller.signal.add_listener(broken)
    controller.signal.add_listener(lambda: calls.append(1))
    with caplog.at_level(logging.ERROR, logger="alchemy"):
        controller.abort()
    assert calls == [1] and "an abort listener raised" in caplog.text


def test_abort_from_many_threads_runs_listeners_once() -> None:
    controller = AbortController()
    calls: list[int] = []
    lock = threading.Lock()

    def listener() -> None:
        with lock:
            calls.append(1)

    for _ in range(20):
        controller.signal.add_listener(listener)
    barrier = threading.Barrier(8)

    def abort() -> None:
        barrier.wait()
        controller.abort()

    threads = [threading.Thread(target=abort) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 20 and controller.signal.aborted


# -- aborting streams ---------------------------------------------------------


def test_abort_before_start_sends_nothing() -> None:
    controller = AbortController()
    controller.abort()
    with ScriptedProvider(STORY) as provider:
        with alchemy.stream(scripted_model(), CONTEXT, signal=controller.signal) as events:
            seen = list(events)
        amessage = asyncio.run(alchemy.acomplete(scripted_model(), CONTEXT, signal=controller.signal))
    message = assert_protocol(seen)
    assert [e.type for e in seen] == ["error"] and seen[0].reason == "aborted"
    assert message.content == [] and message.error_message == ABORTED_MESSAGE
    assert amessage.stop_reason == "aborted"
    assert provider.calls == [], "no request was opened"


def test_abort_mid_block_sync() -> None:
    controller = AbortController()
    with ScriptedProvider(STORY) as provider:
        with alchemy.stream(scripted_model(), CONTEXT, signal=controller.signal) as events:
            seen = []
            for event in events:
                seen.append(event)
                if event.type == "text_delta" and event.delta == "upon ":
                    controller.abort()
    message = assert_protocol(seen)
    assert seen[-1].reason == "aborted" and message.error_message == ABORTED_MESSAGE
    assert message.content == [TextContent("Once upon ")]
    assert message.usage.input == 10 and message.usage.output == 2, "usage received so far is kept"
    assert provider.calls[0].source is not None and provider.calls[0].source.batches_sent == 2
    assert provider.calls[0].closed


def test_an_abort_never_waits_for_the_tokenizer_to_load() -> None:
    """Usage estimated on an abort counts bytes unless tiktoken is loaded already (its first load takes ~0.3 s)."""
    from alchemy import tokens

    tokens._reset_for_tests()
    controller = AbortController()
    story = [[text("Once ")], [text("upon ")], [text("a time")], [stop()]]  # no usage reported at all
    with ScriptedProvider(story):
        with alchemy.stream(scripted_model(), CONTEXT, signal=controller.signal) as events:
            for event in events:
                if event.type == "text_delta" and event.delta == "upon ":
                    controller.abort()
    message = events.result()
    assert message.stop_reason == "aborted" and message.usage.estimated and message.usage.output > 0
    assert tokens._encodings == {}, "the abort loaded no encoding"
    tokens._reset_for_tests()


def test_abort_mid_tool_call_async() -> None:
    controller = AbortController()

    async def main() -> list[Any]:
        seen = []
        async with alchemy.astream(scripted_model(), CONTEXT, signal=controller.signal) as events:
            async for event in events:
                seen.append(event)
                if event.type == "toolcall_delta":
                    controller.abort("enough")
        return seen

    with ScriptedProvider(STORY) as provider:
        seen = asyncio.run(main())
    message = assert_protocol(seen)
    assert seen[-1].reason == "aborted"
    assert message.content == [TextContent("Once upon a time"), ToolCall("c1", "lookup", {"topic": "dra"})]
    assert provider.calls[0].closed


def test_abort_from_another_thread_wakes_a_blocked_sync_consumer() -> None:
    controller = AbortController()
    timer = threading.Timer(0.05, controller.abort)
    with ScriptedProvider(STORY, delay=5.0) as provider:
        try:
            with alchemy.stream(scripted_model(), CONTEXT, signal=controller.signal) as events:
                timer.start()
                seen = list(events)  # blocked in the first pump's wait when the abort lands
        finally:
            timer.cancel()
    message = assert_protocol(seen)
    assert [e.type for e in seen] == ["error"] and message.stop_reason == "aborted"
    assert provider.calls[0].closed


def test_abort_from_another_thread_wakes_an_async_consumer() -> None:
    controller = AbortController()

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, lambda: threading.Thread(target=controller.abort).start())
        return await alchemy.acomplete(scripted_model(), CONTEXT, signal=controller.signal)

    with ScriptedProvider([[text("first")], [text(" second")]], delay=5.0):
        message = asyncio.run(asyncio.wait_for(main(), 10))
    assert message.stop_reason == "aborted" and message.error_message == ABORTED_MESSAGE


def test_abort_from_another_task_between_chunks() -> None:
    controller = AbortController()

    async def main() -> Any:
        events = alchemy.astream(scripted_model(), CONTEXT, signal=controller.signal)
        seen = []

        async def consume() -> None:
            async with events:
                async for event in events:
                    seen.append(event)

        consumer = asyncio.ensure_future(consume())
        await asyncio.sleep(0.15)  # the consumer has the first batch and waits for the second
        controller.abort()
        await asyncio.wait_for(consumer, 10)
        return seen

    with ScriptedProvider(STORY, delay=0.1):
        seen = asyncio.run(main())
    message = assert_protocol(seen)
    assert message.stop_reason == "aborted"
    assert message.content and isinstance(message.content[0], TextContent)


def test_one_signal_serves_many_streams() -> None:
    controller = AbortController()
    with ScriptedProvider(STORY) as provider:
        first = alchemy.stream(scripted_model(), CONTEXT, signal=controller.signal)
        second = alchemy.stream(scripted_model(), CONTEXT, signal=controller.signal)
        next(first)
        next(second)
        controller.abort()
        results = [first.result(), second.result()]
    assert [m.stop_reason for m in results] == ["aborted", "aborted"]
    assert all(call.closed for call in provider.calls)


def test_abort_after_done_changes_nothing() -> None:
    controller = AbortController()
    with ScriptedProvider(STORY):
        message = alchemy.complete(scripted_model(), CONTEXT, signal=controller.signal)
    controller.abort()
    assert message.stop_reason == "toolUse" and message.error_message is None
