"""stream / astream / complete / acomplete and *_simple, end to end through the scripted provider."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from protocol_checks import assert_protocol

import alchemy
from alchemy import emitter as emitter_module
from alchemy.api_registry import TaskSource, get_api, register_api, registered_apis, unregister_api
from alchemy.errors import UnknownApiError
from alchemy.streaming import CLOSED_MESSAGE, StreamOptions
from alchemy.testing import (
    ScriptedProvider,
    error,
    fail,
    response_id,
    scripted_model,
    stop,
    text,
    thinking,
    tool_call,
    usage,
)
from alchemy.types import Context, TextContent, ThinkingContent, ToolCall, UserMessage

CONTEXT = Context(system_prompt="Be brief.", messages=[UserMessage("What's the weather in Paris?")])

FULL_SCRIPT = [
    [response_id("resp_1"), thinking("The user wants "), thinking("weather.", signature="sig")],
    [text("Let me "), text("check.")],
    [tool_call("call_1", "get_weather", '{"city": "Pa')],
    [],  # a keep-alive chunk: nothing happens
    [tool_call("call_1", arguments='ris", "days": 2}')],
    [usage(input=20, output=9, cache_read=4), stop("toolUse")],
]

EXPECTED_CONTENT = [
    ThinkingContent("The user wants weather.", "sig"),
    TextContent("Let me check."),
    ToolCall("call_1", "get_weather", {"city": "Paris", "days": 2}),
]


@pytest.fixture(autouse=True)
def kernel_twins(monkeypatch: pytest.MonkeyPatch, event_buffer_cls: Any, json_delta_merger_cls: Any) -> None:
    """Runs every test of this module on both twins of the buffer and the merger."""
    monkeypatch.setattr(emitter_module, "EventBuffer", event_buffer_cls)
    monkeypatch.setattr(emitter_module, "JsonDeltaMerger", json_delta_merger_cls)


@pytest.fixture
def scripted() -> Iterator[ScriptedProvider]:
    """The scripted provider playing FULL_SCRIPT, registered for the test."""
    with ScriptedProvider(FULL_SCRIPT) as provider:
        yield provider


# -- a whole response ---------------------------------------------------------


def test_stream_sync(scripted: ScriptedProvider) -> None:
    model = scripted_model()
    with alchemy.stream(model, CONTEXT, temperature=0.2) as events:
        seen = list(events)
    message = assert_protocol(seen)
    assert message.content == EXPECTED_CONTENT
    assert message.stop_reason == "toolUse" and message.response_id == "resp_1"
    assert (message.usage.input, message.usage.output, message.usage.cache_read) == (20, 9, 4)
    assert (message.api, message.provider, message.model) == ("scripted", "scripted", "scripted-model")
    assert events.result() is message
    assert seen[-1].type == "done"
    (call,) = scripted.calls
    assert call.closed and call.options.temperature == 0.2 and call.context is CONTEXT


def test_stream_async(scripted: ScriptedProvider) -> None:
    async def main() -> list[Any]:
        async with alchemy.astream(scripted_model(), CONTEXT) as events:
            seen = [event async for event in events]
            assert await events.result() is seen[-1].message
        return seen

    message = assert_protocol(asyncio.run(main()))
    assert message.content == EXPECTED_CONTENT
    assert scripted.calls[0].closed


def test_one_pump_per_network_chunk(scripted: ScriptedProvider) -> None:
    with alchemy.stream(scripted_model(), CONTEXT) as events:
        source = scripted.calls[0].source
        assert source is not None and source.batches_sent == 0, "nothing is read before the first event is wanted"
        first = next(events)
        assert first.type == "start" and source.batches_sent == 1
        rest = list(events)
        assert source.batches_sent == len(FULL_SCRIPT)
    assert_protocol([first, *rest])


def test_complete_and_acomplete(scripted: ScriptedProvider) -> None:
    message = alchemy.complete(scripted_model(), CONTEXT)
    assert message.content == EXPECTED_CONTENT
    amessage = asyncio.run(alchemy.acomplete(scripted_model(), CONTEXT))
    assert amessage.content == EXPECTED_CONTENT
    assert [call.closed for call in scripted.calls] == [True, True]


def test_result_without_iterating(scripted: ScriptedProvider) -> None:
    events = alchemy.stream(scripted_model(), CONTEXT)
    assert events.result().content == EXPECTED_CONTENT
    assert list(events) == [] and events.finished
    assert scripted.calls[0].closed, "the source is released once the terminal event is produced"


def test_iterating_the_stream_object_directly(scripted: ScriptedProvider) -> None:
    events = alchemy.stream(scripted_model(), CONTEXT)
    assert next(events).type == "start"
    assert next(events).type == "thinking_start"
    assert events.result().stop_reason == "toolUse"
    with pytest.raises(StopIteration):
        next(events)

    async def main() -> None:
        aevents = alchemy.astream(scripted_model(), CONTEXT)
        assert (await aevents.__anext__()).type == "start"
        assert (await aevents.result()).stop_reason == "toolUse"
        with pytest.raises(StopAsyncIteration):
            await aevents.__anext__()

    asyncio.run(main())


def test_scripts_play_in_order_and_the_last_repeats() -> None:
    with ScriptedProvider([[text("Hi")]], [[text("second")], [stop("length")]]) as scripted:
        texts = [alchemy.complete(scripted_model(), CONTEXT) for _ in range(3)]
        assert [(m.text, m.stop_reason) for m in texts] == [("Hi", "stop"), ("second", "length"), ("second", "length")]
        assert len(scripted.calls) == 3


def test_new_blocks_and_redacted_thinking() -> None:
    script = [[text("one"), text("two", new_block=True)], [thinking("x", redacted=True, signature="opaque")]]
    with ScriptedProvider(script):
        with alchemy.stream(scripted_model(), CONTEXT) as events:
            message = assert_protocol(list(events))
        assert message.content == [
            TextContent("one"),
            TextContent("two"),
            ThinkingContent("x", "opaque", redacted=True),
        ]


def test_tool_calls_back_to_back() -> None:
    script = [[tool_call("a", "f", {"whole": True}), tool_call("b", "g", '{"x": 1}'), tool_call("c", "h", "{}")]]
    with ScriptedProvider(script):
        with alchemy.stream(scripted_model(), CONTEXT) as events:
            message = assert_protocol(list(events))
        assert message.content == [
            ToolCall("a", "f", {"whole": True}),
            ToolCall("b", "g", {"x": 1}),
            ToolCall("c", "h"),
        ]


# -- failures end the stream with an error event --------------------------------


def test_provider_error_mid_text() -> None:
    script = [[text("partial ")], [text("answer"), usage(input=5, output=2)], [error("overloaded_error: try later")]]
    with ScriptedProvider(script):
        with alchemy.stream(scripted_model(), CONTEXT) as events:
            seen = list(events)
        message = assert_protocol(seen)
        assert seen[-1].type == "error" and seen[-1].reason == "error"
        assert message.content == [TextContent("partial answer")]
        assert message.usage.input == 5 and message.error_message == "overloaded_error: try later"
        assert "text_end" not in [e.type for e in seen]
        assert alchemy.complete(scripted_model(), CONTEXT).stop_reason == "error"


def test_exception_mid_tool_call() -> None:
    script = [[tool_call("c1", "search", '{"q": "ca')], [fail(ConnectionResetError("connection reset by peer"))]]
    with ScriptedProvider(script) as scripted:
        with alchemy.stream(scripted_model(), CONTEXT) as events:
            seen = list(events)
        message = assert_protocol(seen)
        assert seen[-1].reason == "error"
        assert message.error_message == "ConnectionResetError: connection reset by peer"
        assert message.content == [ToolCall("c1", "search", {"q": "ca"})]
        assert scripted.calls[0].closed


def test_complete_never_raises_for_provider_failures() -> None:
    with ScriptedProvider([[fail(RuntimeError("boom"))]]) as scripted:
        message = alchemy.complete(scripted_model(), CONTEXT)
        assert message.stop_reason == "error" and message.error_message == "RuntimeError: boom"
        amessage = asyncio.run(alchemy.acomplete(scripted_model(), CONTEXT))
        assert amessage.stop_reason == "error" and amessage.content == []


class SilentSource:
    """A source that ends without a terminal event (a provider bug)."""

    def pump(self) -> bool:
        return False

    def close(self) -> None:
        pass


class BrokenProvider(ScriptedProvider):
    """Fails where a real provider might: opening, mapping options, or ending early."""

    def __init__(self, where: str) -> None:
        super().__init__([[text("never")]], api="broken")
        self.where = where

    def open(self, *args: Any) -> Any:
        if self.where == "open":
            raise LookupError("No API key for provider: broken")
        if self.where == "silent":
            return SilentSource()
        return super().open(*args)

    def aopen(self, *args: Any) -> Any:
        if self.where == "open":
            raise LookupError("No API key for provider: broken")
        return super().aopen(*args)

    def map_simple_options(self, model: Any, options: StreamOptions) -> StreamOptions:
        if self.where == "simple":
            raise ValueError("this model has no reasoning levels")
        return options


def test_a_level_the_provider_cannot_map_raises_at_the_call() -> None:
    model = scripted_model("broken")
    with BrokenProvider("simple"):
        with pytest.raises(ValueError, match="no reasoning levels"):
            alchemy.stream_simple(model, CONTEXT, reasoning="high")
        with pytest.raises(ValueError, match="no reasoning levels"):
            alchemy.astream(model, CONTEXT, reasoning="high")


@pytest.mark.parametrize("where", ["open", "silent"])
def test_failures_after_dispatch_become_error_messages(where: str) -> None:
    model = scripted_model("broken")
    with BrokenProvider(where):
        message = alchemy.complete_simple(model, CONTEXT, reasoning="high")
        if where != "silent":
            amessage = asyncio.run(alchemy.acomplete_simple(model, CONTEXT, reasoning="high"))
            assert amessage.stop_reason == "error"
    assert message.stop_reason == "error"
    expected = {
        "open": "LookupError: No API key for provider: broken",
        "silent": "The provider's stream ended without a final event",
    }[where]
    assert message.error_message == expected


def test_api_key_never_shows_in_errors_or_repr(scripted: ScriptedProvider) -> None:
    secret = "sk-very-secret-key-123"
    with ScriptedProvider([[fail(PermissionError(f"bad key {secret} for https://x/?key={secret}"))]]):
        message = alchemy.complete(scripted_model(), CONTEXT, api_key=secret)
    assert message.error_message is not None and secret not in message.error_message
    assert "<redacted>" in message.error_message  # the one redactor's mark, as in every other text
    options = StreamOptions(api_key=secret, headers={"authorization": f"Bearer {secret}"})
    assert secret not in repr(options)


# -- closing early ------------------------------------------------------------


def test_break_out_of_a_with_block_closes_the_source(scripted: ScriptedProvider) -> None:
    with alchemy.stream(scripted_model(), CONTEXT) as events:
        for event in events:
            if event.type == "text_delta":
                break
    source = scripted.calls[0].source
    assert source is not None and source.closed
    assert source.batches_sent == 2, "nothing more was read after the break"
    message = events.result()
    assert message.stop_reason == "aborted" and message.error_message == CLOSED_MESSAGE
    assert message.content[0] == ThinkingContent("The user wants weather.", "sig"), "received content is kept"
    assert isinstance(message.content[1], TextContent) and message.content[1].text.startswith("Let me")


def test_close_mid_stream_ends_with_aborted(scripted: ScriptedProvider) -> None:
    events = alchemy.stream(scripted_model(), CONTEXT)
    seen = [next(events), next(events), next(events)]
    events.close()
    events.close()  # idempotent
    seen.extend(events)  # what was queued, then the terminal event
    message = assert_protocol(seen)
    assert seen[-1].reason == "aborted" and message.error_message == CLOSED_MESSAGE
    assert scripted.calls[0].closed
    assert events.result() is message


def test_async_break_and_aclose(scripted: ScriptedProvider) -> None:
    async def main() -> tuple[Any, Any]:
        async with alchemy.astream(scripted_model(), CONTEXT) as events:
            async for event in events:
                if event.type == "toolcall_delta":
                    break
        other = alchemy.astream(scripted_model(), CONTEXT)
        await other.__anext__()
        await other.aclose()
        return await events.result(), await other.result()

    first, second = asyncio.run(main())
    assert first.stop_reason == "aborted" and isinstance(first.content[-1], ToolCall)
    assert first.content[-1].arguments == {"city": "Pa"}
    assert second.stop_reason == "aborted"
    assert all(call.closed for call in scripted.calls)


def test_exception_in_the_consumer_closes_the_source(scripted: ScriptedProvider) -> None:
    with pytest.raises(KeyError):
        with alchemy.stream(scripted_model(), CONTEXT) as events:
            for _ in events:
                raise KeyError("consumer bug")
    assert scripted.calls[0].closed


def test_cancelling_the_consumer_task() -> None:
    with ScriptedProvider([[text("slow")], [text(" answer")], [stop()]], delay=5.0) as scripted:
        async def main() -> Any:
            events = alchemy.astream(scripted_model(), CONTEXT)

            async def consume() -> None:
                async with events:
                    async for _ in events:
                        pass

            task = asyncio.ensure_future(consume())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await events.result()

        message = asyncio.run(asyncio.wait_for(main(), 10))
        assert message.stop_reason == "aborted" and scripted.calls[0].closed


class BrokenCloseSource(SilentSource):
    def close(self) -> None:
        raise OSError("socket already gone")


def test_closing_logs_a_failing_source_close(scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture) -> None:
    events = alchemy.stream(scripted_model(), CONTEXT)
    next(events)
    events._source = BrokenCloseSource()
    with caplog.at_level(logging.ERROR, logger="alchemy"):
        events.close()
    assert "closing the event source" in caplog.text
    assert events.result().stop_reason == "aborted"


# -- programmer errors raise at once ------------------------------------------


def test_unknown_api_raises_at_call_time() -> None:
    model = scripted_model("no-such-api")
    for function in (alchemy.stream, alchemy.astream, alchemy.complete, alchemy.stream_simple):
        with pytest.raises(UnknownApiError, match="no provider is registered for api 'no-such-api'") as info:
            function(model, CONTEXT)
        assert info.value.api == "no-such-api"
    with pytest.raises(UnknownApiError):
        asyncio.run(alchemy.acomplete(model, CONTEXT))
    assert isinstance(info.value, LookupError)


def test_unknown_options_raise_type_error(scripted: ScriptedProvider) -> None:
    model = scripted_model()
    with pytest.raises(TypeError, match="stream\\(\\) got an unexpected option 'temprature' for api 'scripted'"):
        alchemy.stream(model, CONTEXT, temprature=0.5)
    with pytest.raises(TypeError, match="unexpected option 'a'"):
        alchemy.complete(model, CONTEXT, a=1, b=2)
    with pytest.raises(TypeError, match="astream\\(\\) option 'tool_choice' cannot be sent to api 'scripted'"):
        alchemy.astream(model, CONTEXT, tool_choice="auto")
    assert scripted.calls == [], "nothing was dispatched"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"temperature": "hot"}, TypeError, "option temperature must be a number, got str"),
        ({"temperature": -1}, ValueError, "option temperature must be a number >= 0 and <= 2, got -1"),
        ({"max_tokens": 0}, ValueError, "option max_tokens must be an int >= 1, got 0"),
        ({"max_tokens": 1.5}, TypeError, "option max_tokens must be an int, got float"),
        ({"cache_retention": "forever"}, ValueError, "option cache_retention must be one of 'none', 'short', 'long'"),
        ({"signal": object()}, TypeError, "option signal must be an alchemy.AbortSignal"),
        ({"headers": {"x": 1}}, TypeError, "option headers must map str to str"),
        ({"on_payload": "print"}, TypeError, "option on_payload must be callable, got str"),
        ({"timeout": 0}, ValueError, "option timeout must be a number > 0"),
        ({"max_retries": -1}, ValueError, "option max_retries must be an int >= 0"),
        ({"api_key": 123}, TypeError, "option api_key must be a string, got int"),
        ({"metadata": {"user": "u"}}, TypeError, "option 'metadata' cannot be sent to api 'scripted'"),
    ],
)
def test_bad_option_values_raise(
    scripted: ScriptedProvider, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", "\\(").replace(")", "\\)")):
        alchemy.stream(scripted_model(), CONTEXT, **options)


def test_simple_options_are_checked_and_handed_to_the_provider(scripted: ScriptedProvider) -> None:
    model = scripted_model()
    with pytest.raises(ValueError, match="option reasoning must be one of 'off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'"):
        alchemy.stream_simple(model, CONTEXT, reasoning="extreme")
    with pytest.raises(ValueError, match="thinking_budgets key must be one of"):
        alchemy.stream_simple(model, CONTEXT, thinking_budgets={"huge": 1})
    alchemy.complete_simple(model, CONTEXT, reasoning="low", thinking_budgets={"low": 1024}, max_tokens=100)
    asyncio.run(alchemy.acomplete_simple(model, CONTEXT, reasoning="xhigh"))
    first, second = scripted.calls
    assert (first.options.reasoning, first.options.thinking_budgets, first.options.max_tokens) == (
        "low",
        {"low": 1024},
        100,
    )
    assert second.options.reasoning == "xhigh"


def test_provider_options_pass_through() -> None:
    with ScriptedProvider([[text("ok")]], option_names={"tool_choice", "my_flag"}) as provider:
        alchemy.complete(scripted_model(), CONTEXT, tool_choice="none", my_flag=3, reasoning="high", session_id="s1")
        with pytest.raises(ValueError, match="option tool_choice must be"):
            alchemy.stream(scripted_model(), CONTEXT, tool_choice="bogus")  # declared options stay checked
    options = provider.calls[0].options
    assert options.provider_options == {"my_flag": 3}  # undeclared: the provider's own, unchecked
    assert options.tool_choice == "none" and options.reasoning == "high" and options.session_id == "s1"


def test_model_and_context_types_are_checked(scripted: ScriptedProvider) -> None:
    with pytest.raises(TypeError, match="stream\\(\\) expects an alchemy.Model as model, got dict"):
        alchemy.stream({"api": "scripted"}, CONTEXT)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="stream\\(\\) expects an alchemy.Context as context, got list"):
        alchemy.stream(scripted_model(), [])  # type: ignore[arg-type]


# -- the registry -------------------------------------------------------------


def test_register_get_unregister() -> None:
    provider = ScriptedProvider([[text("x")]], api="custom-api")
    register_api("custom-api", provider)
    try:
        assert get_api("custom-api") is provider and "custom-api" in registered_apis()
        assert alchemy.complete(scripted_model("custom-api"), CONTEXT).text == "x"
    finally:
        assert unregister_api("custom-api") is provider
    assert unregister_api("custom-api") is None
    with pytest.raises(UnknownApiError):
        get_api("custom-api")


def test_register_checks_the_provider() -> None:
    with pytest.raises(ValueError, match="cannot register a provider for api 'scripted' under api 'other'"):
        register_api("other", ScriptedProvider([[text("x")]]))
    with pytest.raises(TypeError, match="object is not an ApiProvider: it lacks api, option_names, open"):
        register_api("other", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="api must be a non-empty string"):
        register_api("", ScriptedProvider([[text("x")]]))


def test_scripted_provider_context_manager_restores_the_previous_one() -> None:
    outer = ScriptedProvider([[text("outer")]])
    inner = ScriptedProvider([[text("inner")]])
    with outer:
        with inner:
            assert alchemy.complete(scripted_model(), CONTEXT).text == "inner"
        assert alchemy.complete(scripted_model(), CONTEXT).text == "outer"
    with pytest.raises(UnknownApiError):
        get_api("scripted")


def test_script_validation() -> None:
    with pytest.raises(TypeError, match="needs at least one script"):
        ScriptedProvider()
    with pytest.raises(TypeError, match="script\\[1\\]\\[0\\]: expected a chunk"):
        ScriptedProvider([[text("a")], ["not a chunk"]])
    with pytest.raises(ValueError, match="stop\\(\\) takes 'stop', 'length' or 'toolUse'"):
        stop("error")
    with pytest.raises(ValueError, match="delay must be a number of seconds"):
        ScriptedProvider([[text("a")]], delay=-1)


def test_script_mistakes_surface_as_error_events() -> None:
    with ScriptedProvider([[tool_call("c", arguments="{}")]]) as scripted:
        message = alchemy.complete(scripted_model(), CONTEXT)
        assert message.stop_reason == "error"
        assert message.error_message == "ValueError: tool_call('c') starts a new call and needs a name"


# -- push-style providers through TaskSource ----------------------------------


class PushProvider:
    """A provider written push-style: a coroutine that calls the emitter as data arrives."""

    api = "push-style"
    option_names: frozenset[str] = frozenset()

    def __init__(self, produce: Any) -> None:
        self.produce = produce
        self.sources: list[TaskSource] = []

    def open(self, *args: Any) -> Any:
        raise RuntimeError("this provider only streams asynchronously")

    def aopen(self, model: Any, context: Any, options: StreamOptions, emitter: Any) -> TaskSource:
        source = TaskSource(self.produce, emitter, signal=options.signal, secret=options.api_key)
        self.sources.append(source)
        return source

    def map_simple_options(self, model: Any, options: StreamOptions) -> StreamOptions:
        return options


@pytest.fixture
def push_style() -> Iterator[Any]:
    providers: list[PushProvider] = []

    def install(produce: Any) -> PushProvider:
        provider = PushProvider(produce)
        register_api(provider.api, provider)
        providers.append(provider)
        return provider

    yield install
    unregister_api(PushProvider.api)


def test_push_style_producer_pauses_at_the_bound(
    push_style: Any, monkeypatch: pytest.MonkeyPatch, event_buffer_cls: Any
) -> None:
    monkeypatch.setattr(emitter_module, "EventBuffer", lambda: event_buffer_cls(8))
    peak = 0

    async def produce(emitter: Any) -> None:
        nonlocal peak
        for i in range(100):
            emitter.text_delta(f"{i} ")
            peak = max(peak, len(emitter.buffer))
            await emitter.drain()
        emitter.set_usage(alchemy.Usage(output=100, total_tokens=100))

    push_style(produce)

    async def main() -> list[Any]:
        seen = []
        async with alchemy.astream(scripted_model("push-style"), CONTEXT) as events:
            async for event in events:
                seen.append(event)
                await asyncio.sleep(0)  # a slow consumer
        return seen

    seen = asyncio.run(main())
    message = assert_protocol(seen)
    assert message.text == "".join(f"{i} " for i in range(100)) and message.usage.output == 100
    assert message.stop_reason == "stop"
    assert peak <= 8, "the producer paused at the bound"


def test_push_style_failures_and_sync_use(push_style: Any) -> None:
    async def produce(emitter: Any) -> None:
        emitter.text_delta("half")
        await asyncio.sleep(0)
        raise ConnectionError("socket closed")

    push_style(produce)
    message = asyncio.run(alchemy.acomplete(scripted_model("push-style"), CONTEXT))
    assert message.stop_reason == "error" and message.error_message == "ConnectionError: socket closed"
    assert message.content == [TextContent("half")]
    sync = alchemy.complete(scripted_model("push-style"), CONTEXT)
    assert sync.error_message == "RuntimeError: this provider only streams asynchronously"


def test_push_style_abort_from_a_thread_cancels_the_task(push_style: Any) -> None:
    import threading

    cancelled = []

    async def produce(emitter: Any) -> None:
        emitter.text_delta("waiting")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    provider = push_style(produce)
    controller = alchemy.AbortController()

    async def main() -> Any:
        asyncio.get_running_loop().call_later(0.05, lambda: threading.Thread(target=controller.abort).start())
        return await alchemy.acomplete(scripted_model("push-style"), CONTEXT, signal=controller.signal)

    message = asyncio.run(asyncio.wait_for(main(), 10))
    assert message.stop_reason == "aborted" and message.content == [TextContent("waiting")]
    assert cancelled == [True]
    assert provider.sources[0]._task.done()


def test_push_style_close_cancels_the_task(push_style: Any) -> None:
    async def produce(emitter: Any) -> None:
        for i in range(1000):
            emitter.text_delta(str(i))
            await emitter.drain()
            await asyncio.sleep(0)

    provider = push_style(produce)

    async def main() -> Any:
        async with alchemy.astream(scripted_model("push-style"), CONTEXT) as events:
            async for event in events:
                if event.type == "text_delta" and event.delta == "3":
                    break
        return await events.result()

    message = asyncio.run(main())
    assert message.stop_reason == "aborted" and message.error_message == CLOSED_MESSAGE
    assert message.text.startswith("0123")
    assert provider.sources[0]._task.done()
