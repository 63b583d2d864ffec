"""The openai-completions provider without a network: request bodies, compat, and the chunk parser.

The parser is fed wire bytes (the shared fixtures rebuilt in their SSE framing, and
hand-written chunks for each quirk) at several chunkings, with a real emitter; the
request builder is asserted on the body and headers it produces. The end-to-end
runs through the replay server are in ``test_openai_completions_e2e.py``.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

import completions_fixtures as fx
from protocol_checks import assert_protocol

from alchemy.emitter import EventEmitter, new_partial
from alchemy.errors import (
    MissingApiKeyError,
    ProviderError,
    ProviderStreamError,
)
from alchemy.events import Done, Error, TextDelta, ThinkingStart, ToolCallDelta, ToolCallEnd
from alchemy.providers import openai_compat
from alchemy.providers.openai_compat import (
    COMPAT_FLAGS,
    CompletionsCompat,
    clear_provider_compat,
    detect_compat,
    resolve_compat,
    set_provider_compat,
)
from alchemy.options import check_named_tool
from alchemy.providers.openai_completions import (
    ATTACHED_IMAGES_TEXT,
    IMAGE_ONLY_RESULT_TEXT,
    TOOL_RESULTS_BRIDGE_TEXT,
    provider,
)
from alchemy.providers.openai_completions_stream import completions_usage, map_finish_reason
from alchemy.streaming import StreamOptions, build_options
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    ModelCapabilities,
    ModelCost,
    TextContent,
    ThinkingContent,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

LOCAL = "http://127.0.0.1:9/v1"
WEATHER = Tool("weather", "Weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}})


def make_model(**changes: Any) -> Model:
    base = Model(
        id="m-1",
        name="m",
        api="openai-completions",
        provider="local",
        base_url=LOCAL,
        reasoning=False,
        input=("text", "image"),
        cost=ModelCost(input=1.0, output=2.0, cache_read=0.5, cache_write=1.5),
    )
    return dataclasses.replace(base, **changes)


def body_of(model: Model, context: Context | None = None, **options: Any) -> dict[str, Any]:
    return request_of(model, context, **options).body  # type: ignore[no-any-return]


def checked(model: Model, context: Context, options: dict[str, Any], *, simple: bool = False) -> StreamOptions:
    """The options as a call checks them (declarations, reasoning level, option combinations)."""
    opts = build_options("stream", model, provider, options, simple=simple)
    check_named_tool(opts, context)
    provider.check_request(model, context, opts)
    return opts


def request_of(model: Model, context: Context | None = None, **options: Any) -> Any:
    context = context or Context(messages=[UserMessage("hi")])
    return provider.build_request(model, context, checked(model, context, options))


# --------------------------------------------------------------------------- the parser harness


def split(data: bytes, how: str) -> list[bytes]:
    if how == "whole":
        return [data]
    if how == "event":
        pieces = data.split(b"\n\n")
        return [p + b"\n\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    if how == "byte":
        return [data[i : i + 1] for i in range(len(data))]
    if how.startswith("bytes="):
        size = int(how.split("=")[1])
        return [data[i : i + size] for i in range(0, len(data), size)]
    rng = random.Random(int(how.split("=")[1]))
    out, i = [], 0
    while i < len(data):
        step = rng.randint(1, 64)
        out.append(data[i : i + step])
        i += step
    return out


def run(model: Model, data: bytes, how: str = "event", options: StreamOptions | None = None) -> list[Any]:
    """Feeds ``data`` to a fresh parser the way the runner does; returns every event."""
    emitter = EventEmitter(new_partial(model), model=model)
    parser = provider.create_parser(model, options or StreamOptions(), emitter)
    emitter.start()
    events: list[Any] = []

    def drain() -> None:
        buffer = emitter.buffer
        while len(buffer):
            events.append(buffer.pop())

    try:
        for piece in split(data, how):
            parser.feed(piece)
            drain()
        parser.finish()
    except ProviderError as exc:
        emitter.error(str(exc))
    drain()
    return events


def chunk(delta: dict[str, Any] | None = None, *, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [choice], **extra}


def final(model: Model, payloads: list[Any], how: str = "event", *, done: bool = True) -> AssistantMessage:
    events = run(model, fx.wire(payloads, done=done), how)
    return assert_protocol(events)


# --------------------------------------------------------------------------- shared fixtures


FIXTURES = fx.fixture_paths()
CHUNKINGS = ["whole", "event", "bytes=7", "random=1", "random=2"]


def test_fixture_set_is_complete() -> None:
    import support

    support.require_shared()
    names = {fx.fixture_id(p) for p in FIXTURES}
    assert {
        "groq/groq-reasoning",
        "xai/xai-tool-call",
        "openai/azure-model-router.1",
        "moonshotai/moonshotai-stream",
    } <= names
    assert len(names) == 12


@pytest.mark.parametrize("how", CHUNKINGS)
@pytest.mark.parametrize("path", FIXTURES, ids=fx.fixture_id)
def test_fixture_through_the_parser(path: Path, how: str) -> None:
    model = fx.fixture_model(path)
    message = final(model, fx.load_payloads(path), how)
    fx.assert_matches(message, path, model)


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.stat().st_size < 4000], ids=fx.fixture_id)
def test_small_fixture_fed_byte_by_byte(path: Path) -> None:
    model = fx.fixture_model(path)
    fx.assert_matches(final(model, fx.load_payloads(path), "byte"), path, model)


def test_fixture_usage_semantics_per_provider() -> None:
    """Reasoning tokens are counted once whatever the server's habit (xAI counts them apart)."""
    import support

    root = support.require_shared() / "fixtures" / "vercel-ai"
    cases = {
        "xai/xai-text.chunks.txt": (1, 291, 11, 290),  # completion 1 + reasoning 290; 12 prompt, 11 cached
        "openai/azure-model-router.1.chunks.txt": (15, 78, 0, 64),  # OpenAI: completion includes reasoning
        "groq/groq-reasoning.chunks.txt": (17, 1107, 0, 963),
        "deepseek/deepseek-tool-call.chunks.txt": (19, 83, 320, 39),
        "moonshotai/moonshotai-stream.chunks.txt": (9, 12, 0, 7),
    }
    for name, (inp, out, cached, reasoning) in cases.items():
        path = root / name
        message = final(fx.fixture_model(path), fx.load_payloads(path))
        usage = message.usage
        assert (usage.input, usage.output, usage.cache_read, usage.reasoning) == (inp, out, cached, reasoning), name
        assert usage.total_tokens == inp + out + cached


# --------------------------------------------------------------------------- parser quirks


def test_text_and_response_id() -> None:
    model = make_model()
    message = final(
        model,
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk(finish="stop"),
        ],
    )
    assert message.text == "Hello" and message.stop_reason == "stop" and message.response_id == "chatcmpl-1"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "reasoning_text"])
def test_thinking_fields(field: str) -> None:
    message = final(
        make_model(),
        [chunk({field: "think"}), chunk({field: "ing"}), chunk({"content": "answer"}), chunk(finish="stop")],
    )
    block = message.content[0]
    assert isinstance(block, ThinkingContent) and block.thinking == "thinking" and block.thinking_signature == field
    assert message.text == "answer"


def test_two_reasoning_fields_with_the_same_text_count_once() -> None:
    message = final(make_model(), [chunk({"reasoning_content": "a", "reasoning": "a"}), chunk(finish="stop")])
    assert message.thinking == "a"


def test_parallel_tool_calls_reusing_index_zero_stay_apart() -> None:
    """Ollama-style: every parallel call at index 0, each with its own id."""
    calls = [
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "weather", "arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_b", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}}
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_c", "type": "function", "function": {"name": "time", "arguments": "{}"}}
                ]
            }
        ),
        chunk(finish="tool_calls"),
    ]
    for how in ("event", "byte", "random=3"):
        message = final(make_model(), calls, how)
        got = [(c.id, c.name, c.arguments) for c in message.tool_calls]
        assert got == [
            ("call_a", "weather", {"city": "Paris"}),
            ("call_b", "weather", {"city": "Rome"}),
            ("call_c", "time", {}),
        ]
        assert message.stop_reason == "toolUse"


def test_parallel_tool_calls_by_distinct_index() -> None:
    message = final(
        make_model(),
        [
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"y":2}'}}]}),
            chunk(finish="tool_calls"),
        ],
    )
    assert [(c.id, c.arguments) for c in message.tool_calls] == [("a", {"x": 1}), ("b", {"y": 2})]


def test_interleaved_tool_call_fragments_end_in_the_right_call() -> None:
    """A server that alternates between two calls: late fragments join the closed call's arguments."""
    events = run(
        make_model(),
        fx.wire(
            [
                chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}),
                chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": '{"y":'}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
                chunk({"tool_calls": [{"index": 1, "function": {"arguments": "2}"}}]}),
                chunk(finish="tool_calls"),
            ]
        ),
    )
    message = events[-1].message
    assert isinstance(events[-1], Done)
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == [("a", "f", {"x": 1}), ("b", "g", {"y": 2})]


def test_tool_calls_without_index_are_routed_by_id() -> None:
    message = final(
        make_model(),
        [
            chunk({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}),
            chunk({"tool_calls": [{"id": "a", "function": {"arguments": "1}"}}]}),
            chunk({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
            chunk({"tool_calls": [{"function": {"arguments": ""}}]}),
            chunk(finish="tool_calls"),
        ],
    )
    assert [(c.id, c.arguments) for c in message.tool_calls] == [("a", {"x": 1}), ("b", {})]


def test_tool_call_name_and_id_arriving_late() -> None:
    message = final(
        make_model(),
        [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}),
            chunk({"tool_calls": [{"index": 0, "id": "late", "function": {"name": "f", "arguments": ":1}"}}]}),
            chunk(finish="tool_calls"),
        ],
    )
    assert [(c.id, c.name, c.arguments) for c in message.tool_calls] == [("late", "f", {"a": 1})]


def test_tool_call_arguments_null_or_object() -> None:
    message = final(
        make_model(),
        [
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "noargs", "arguments": None}}]}),
            chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "obj", "arguments": {"k": [1, 2]}}}]}),
            chunk(finish="tool_calls"),
        ],
    )
    assert [(c.name, c.arguments) for c in message.tool_calls] == [("noargs", {}), ("obj", {"k": [1, 2]})]


def test_stop_after_tool_calls_is_tool_use() -> None:
    message = final(
        make_model(),
        [
            chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
            chunk(finish="stop"),
        ],
    )
    assert message.stop_reason == "toolUse"


def test_tool_call_deltas_stream_through_the_merger() -> None:
    events = run(
        make_model(),
        fx.wire(
            [
                chunk(
                    {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"text": "hel'}}]}
                ),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'lo"}'}}]}),
                chunk(finish="tool_calls"),
            ]
        ),
    )
    deltas = [e.delta for e in events if isinstance(e, ToolCallDelta)]
    assert deltas == ['{"text": "hel', 'lo"}']
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert end.tool_call.arguments == {"text": "hello"}


def test_refusal_is_shown_as_text() -> None:
    message = final(make_model(), [chunk({"refusal": "I can't help with that."}), chunk(finish="stop")])
    assert message.text == "I can't help with that."


def test_content_given_as_parts() -> None:
    message = final(
        make_model(),
        [
            chunk({"content": [{"type": "thinking", "thinking": "hmm"}]}),
            chunk({"content": [{"type": "text", "text": "ok"}]}),
            chunk(finish="stop"),
        ],
    )
    assert message.thinking == "hmm" and message.text == "ok"


def test_length_and_other_stop_reasons() -> None:
    assert final(make_model(), [chunk({"content": "x"}, finish="length")]).stop_reason == "length"
    assert map_finish_reason("end") == "stop" and map_finish_reason("function_call") == "toolUse"
    assert map_finish_reason("content_filter") == "error"


@pytest.mark.parametrize("reason", ["content_filter", "weird_reason"])
def test_failing_finish_reason_ends_with_error_keeping_usage(reason: str) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    events = run(
        make_model(),
        fx.wire([chunk({"content": "partial"}), chunk(finish=reason), {"id": "x", "choices": [], "usage": usage}]),
    )
    message = assert_protocol(events)
    assert isinstance(events[-1], Error)
    assert message.text == "partial" and message.usage.input == 5
    assert reason in (message.error_message or "")
    if reason == "content_filter":
        assert "content filter" in (message.error_message or "")


def test_error_object_in_a_200_stream() -> None:
    error = {"error": {"message": "The server is overloaded", "type": "server_error", "code": None}}
    for before_content in (True, False):
        payloads: list[Any] = [error, chunk({"content": "x"})] if before_content else [chunk({"content": "x"}), error]
        emitter = EventEmitter(new_partial(make_model()))
        parser = provider.create_parser(make_model(), StreamOptions(), emitter)
        with pytest.raises(ProviderStreamError) as caught:
            parser.feed(fx.wire(payloads))
        assert caught.value.retryable
        assert "overloaded" in str(caught.value)
        assert emitter.message.text == ("" if before_content else "x")


def test_error_object_kinds_and_openrouter_metadata() -> None:
    emitter = EventEmitter(new_partial(make_model()))
    parser = provider.create_parser(make_model(), StreamOptions(), emitter)
    payload = {
        "id": "gen-1",
        "error": {"code": 400, "message": "Provider returned error", "metadata": {"raw": "context too long"}},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
    with pytest.raises(ProviderStreamError) as caught:
        parser.feed(fx.wire([payload]))
    assert not caught.value.retryable
    assert "Provider returned error" in str(caught.value) and "context too long" in str(caught.value)


def test_stream_cut_before_the_end_is_interrupted() -> None:
    events = run(make_model(), fx.wire([chunk({"content": "half an ans"})], done=False))
    message = assert_protocol(events)
    assert isinstance(events[-1], Error) and message.text == "half an ans"
    assert "ended before the response was complete" in (message.error_message or "")


def test_finish_reason_and_usage_without_done_marker_is_complete() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    message = final(make_model(), [chunk({"content": "ok"}, finish="stop"), chunk(usage=usage)], done=False)
    assert message.stop_reason == "stop" and message.text == "ok" and message.usage.output == 1


def test_a_cut_after_finish_reason_before_the_usage_is_interrupted() -> None:
    message = final(make_model(), [chunk({"content": "ok"}, finish="stop")], done=False)
    assert message.stop_reason == "error" and message.text == "ok"
    assert "after the finish_reason but before its usage" in (message.error_message or "")


def test_done_marker_without_finish_reason_is_complete() -> None:
    assert final(make_model(), [chunk({"content": "ok"})]).stop_reason == "stop"


def test_malformed_json_ends_the_stream_keeping_what_came() -> None:
    events = run(
        make_model(),
        fx.wire([chunk({"content": "kept"}), b'{"choices": [{"delta": {"cont', chunk({"content": "lost"})]),
    )
    message = assert_protocol(events)
    assert isinstance(events[-1], Error) and message.text == "kept"
    assert "not valid JSON" in (message.error_message or "")


def test_invalid_utf8_ends_the_stream_with_a_clear_error() -> None:
    bad = b'{"id":"c","choices":[{"index":0,"delta":{"content":"a\xff\xfeb"}}]}'
    message = final(make_model(), [chunk({"content": "kept"}), bad, chunk(finish="stop")])
    assert message.stop_reason == "error" and "not valid UTF-8" in (message.error_message or "")
    assert message.text == "kept"


def test_nothing_after_done_counts() -> None:
    data = fx.wire([chunk({"content": "a"})]) + fx.wire([chunk({"content": "b"})])
    assert assert_protocol(run(make_model(), data)).text == "a"


def test_usage_on_the_choice_moonshot() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13, "cached_tokens": 4}
    payload = {
        "id": "c",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop", "usage": usage}],
    }
    message = final(make_model(), [payload])
    assert (message.usage.input, message.usage.output, message.usage.cache_read) == (6, 3, 4)


def test_groq_usage_under_x_groq() -> None:
    payload = {
        "id": "c",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "x_groq": {"id": "req", "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}},
    }
    message = final(make_model(), [chunk({"content": "x"}), payload])
    assert (message.usage.input, message.usage.output, message.usage.total_tokens) == (7, 5, 12)


def test_usage_is_priced_and_kept_when_the_stream_fails() -> None:
    model = make_model()
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 200},
    }
    events = run(
        model,
        fx.wire([chunk({"content": "x"}), {"id": "c", "choices": [], "usage": usage}], done=False)
        + b"data: {broken\n\n",
    )
    message = events[-1].message
    assert isinstance(events[-1], Error)
    assert message.usage.input == 800 and message.usage.cache_read == 200
    assert message.usage.cost.input == pytest.approx(800 * 1.0 / 1e6)
    assert message.usage.cost.cache_read == pytest.approx(200 * 0.5 / 1e6)
    assert message.usage.cost.output == pytest.approx(500 * 2.0 / 1e6)


def test_service_tier_reaches_the_usage() -> None:
    payload = {
        "id": "c",
        "service_tier": "flex",
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    assert final(make_model(), [chunk({"content": "x"}, finish="stop"), payload]).usage.service_tier == "flex"


def test_perplexity_running_usage_keeps_the_last() -> None:
    payloads = [
        chunk({"content": str(i)}, usage={"prompt_tokens": 3, "completion_tokens": i, "total_tokens": 3 + i})
        for i in range(1, 5)
    ]
    assert final(make_model(), [*payloads, chunk(finish="stop")]).usage.output == 4


class TestUsageMapping:
    def test_openai_counts_reasoning_inside_completion(self) -> None:
        usage = completions_usage(
            {
                "prompt_tokens": 15,
                "completion_tokens": 78,
                "total_tokens": 93,
                "completion_tokens_details": {"reasoning_tokens": 64},
            }
        )
        assert (usage.output, usage.reasoning, usage.total_tokens) == (78, 64, 93)

    def test_xai_counts_reasoning_apart(self) -> None:
        usage = completions_usage(
            {
                "prompt_tokens": 12,
                "completion_tokens": 1,
                "total_tokens": 303,
                "completion_tokens_details": {"reasoning_tokens": 290},
            }
        )
        assert (usage.output, usage.reasoning, usage.total_tokens) == (291, 290, 303)

    def test_no_total_uses_the_provider_habit(self) -> None:
        raw = {"prompt_tokens": 1, "completion_tokens": 2, "completion_tokens_details": {"reasoning_tokens": 5}}
        assert completions_usage(raw).output == 5
        assert completions_usage(raw, completion_excludes_reasoning=True).output == 7

    def test_cache_reads_and_writes_leave_input(self) -> None:
        usage = completions_usage(
            {
                "prompt_tokens": 194,
                "completion_tokens": 2,
                "total_tokens": 196,
                "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 100},
            }
        )
        assert (usage.input, usage.cache_read, usage.cache_write, usage.total_tokens) == (44, 50, 100, 196)

    def test_deepseek_cache_hit_field_and_nulls(self) -> None:
        usage = completions_usage({"prompt_tokens": 30, "completion_tokens": None, "prompt_cache_hit_tokens": 20})
        assert (usage.input, usage.output, usage.cache_read) == (10, 0, 20)


# --------------------------------------------------------------------------- OpenRouter reasoning_details


def _openrouter_model(**changes: Any) -> Model:
    fields: dict[str, Any] = {
        "provider": "openrouter",
        "base_url": "https://openrouter.ai/api/v1",
        "id": "anthropic/claude-x",
        "reasoning": True,
    }
    return make_model(**{**fields, **changes})


def test_reasoning_details_are_merged_and_kept_for_replay() -> None:
    model = _openrouter_model()
    detail = {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0}
    payloads = [
        chunk({"reasoning": "Let me ", "reasoning_details": [{**detail, "text": "Let me "}]}),
        chunk({"reasoning": "think.", "reasoning_details": [{**detail, "text": "think."}]}),
        chunk({"reasoning_details": [{**detail, "text": "", "signature": "sig=="}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "toolu_1", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
                ]
            }
        ),
        chunk(
            {
                "reasoning_details": [
                    {
                        "type": "reasoning.encrypted",
                        "id": "toolu_1",
                        "data": "enc",
                        "format": "google-gemini-v1",
                        "index": 1,
                    }
                ]
            }
        ),
        chunk(finish="tool_calls"),
    ]
    message = final(model, payloads)
    thinking, call = message.content
    assert isinstance(thinking, ThinkingContent) and thinking.thinking == "Let me think."
    assert orjson.loads(thinking.thinking_signature or "") == [
        {**detail, "text": "Let me think.", "signature": "sig=="}
    ]
    assert isinstance(call, ToolCall) and orjson.loads(call.thought_signature or "")["data"] == "enc"

    # Replayed to the same model: the details go back as they came.
    context = Context(
        messages=[UserMessage("weather?"), message, ToolResultMessage("toolu_1", "weather", [TextContent("sunny")])]
    )
    sent = body_of(model, context, api_key="k")["messages"]
    assistant = sent[1]
    assert assistant["reasoning_details"][0]["signature"] == "sig=="
    assert assistant["reasoning_details"][1]["type"] == "reasoning.encrypted"
    assert "reasoning" not in assistant and "reasoning_content" not in assistant


def test_reasoning_details_without_text_get_their_own_block() -> None:
    payloads = [
        chunk({"reasoning_details": [{"type": "reasoning.encrypted", "data": "opaque", "index": 0}]}),
        chunk({"content": "answer"}),
        chunk(finish="stop"),
    ]
    message = final(_openrouter_model(), payloads)
    assert message.text == "answer"
    blocks = [b for b in message.content if isinstance(b, ThinkingContent)]
    assert len(blocks) == 1 and blocks[0].thinking == ""
    assert orjson.loads(blocks[0].thinking_signature or "")[0]["data"] == "opaque"


# --------------------------------------------------------------------------- the request: messages


def test_system_role_follows_reasoning_and_compat() -> None:
    context = Context(system_prompt="Be brief.", messages=[UserMessage("hi")])
    openai = make_model(provider="openai", base_url="https://api.openai.com/v1", reasoning=True)
    assert body_of(openai, context, api_key="sk-x")["messages"][0] == {"role": "developer", "content": "Be brief."}
    assert (
        body_of(dataclasses.replace(openai, reasoning=False), context, api_key="k")["messages"][0]["role"] == "system"
    )
    assert body_of(make_model(reasoning=True), context)["messages"][0]["role"] == "system"  # compatible servers
    model = make_model(reasoning=True, compat={"supports_developer_role": True})
    assert body_of(model, context)["messages"][0]["role"] == "developer"


def test_user_text_and_images() -> None:
    image = ImageContent("aGk=", "image/png")
    context = Context(messages=[UserMessage([TextContent("look"), image])])
    assert body_of(make_model(), context)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}},
            ],
        }
    ]
    blind = make_model(
        input=("text",), capabilities=ModelCapabilities(supports_vision=False, supports_json_content=True)
    )
    parts = body_of(blind, context)["messages"][0]["content"]
    assert all(p["type"] == "text" for p in parts) and "does not accept images" in parts[1]["text"]


def test_assistant_text_blocks_join_into_a_string_and_empty_turns_are_skipped() -> None:
    model = make_model()
    answer = AssistantMessage(
        [TextContent("Hello "), TextContent("there")], api=model.api, provider=model.provider, model=model.id
    )
    empty = AssistantMessage([], api=model.api, provider=model.provider, model=model.id)
    context = Context(messages=[UserMessage("a"), answer, UserMessage("b"), empty, UserMessage("c")])
    caps = ModelCapabilities(supports_repeating_roles=True, supports_empty_content=True, supports_vision=True)
    messages = body_of(dataclasses.replace(model, capabilities=caps), context)["messages"]
    assert messages[1] == {"role": "assistant", "content": "Hello there"}
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "user"]


def _assistant(model: Model, *blocks: Any) -> AssistantMessage:
    return AssistantMessage(list(blocks), api=model.api, provider=model.provider, model=model.id, stop_reason="toolUse")


def test_tool_calls_and_results() -> None:
    model = make_model()
    call = ToolCall("call_1", "weather", {"city": "Paris"})
    context = Context(
        messages=[
            UserMessage("weather?"),
            _assistant(model, call),
            ToolResultMessage("call_1", "weather", [TextContent("sunny"), TextContent("22C")]),
        ],
        tools=[WEATHER],
    )
    body = body_of(model, context)
    assistant, tool = body["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "sunny\n22C"}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather in a city",
                "parameters": WEATHER.parameters,
                "strict": False,
            },
        }
    ]


def test_tool_result_images_move_to_a_user_message() -> None:
    model = make_model(compat={"requires_assistant_after_tool_result": True, "requires_tool_result_name": True})
    image = ImageContent("aW1n", "image/jpeg")
    context = Context(
        messages=[
            UserMessage("draw"),
            _assistant(model, ToolCall("a", "shot", {}), ToolCall("b", "shot", {})),
            ToolResultMessage("a", "shot", [image]),
            ToolResultMessage("b", "shot", [TextContent("done"), image]),
            UserMessage("thanks"),
        ],
        tools=[Tool("shot", "screenshot")],
    )
    messages = body_of(model, context)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "assistant", "user", "user"]
    assert messages[1]["content"] == ""  # requires_assistant_after_tool_result: no null content
    assert messages[2] == {"role": "tool", "tool_call_id": "a", "content": IMAGE_ONLY_RESULT_TEXT, "name": "shot"}
    assert messages[3]["content"] == "done"
    assert messages[4] == {"role": "assistant", "content": TOOL_RESULTS_BRIDGE_TEXT}
    assert messages[5]["content"][0] == {"type": "text", "text": ATTACHED_IMAGES_TEXT}
    assert len(messages[5]["content"]) == 3


def test_bridge_between_tool_results_and_a_user_turn() -> None:
    model = make_model(compat={"requires_assistant_after_tool_result": True})
    context = Context(
        messages=[
            UserMessage("x"),
            _assistant(model, ToolCall("a", "f", {})),
            ToolResultMessage("a", "f", [TextContent("r")]),
            UserMessage("next"),
        ],
        tools=[Tool("f", "f")],
    )
    roles = [m["role"] for m in body_of(model, context)["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert [m["role"] for m in body_of(make_model(), context)["messages"]] == ["user", "assistant", "tool", "user"]


def test_thinking_replay_follows_model_interleaved() -> None:
    def sent(model: Model, signature: str | None = "reasoning") -> dict[str, Any]:
        turn = _assistant(model, ThinkingContent("because", signature), ToolCall("a", "f", {}))
        context = Context(
            messages=[UserMessage("q"), turn, ToolResultMessage("a", "f", [TextContent("r")])], tools=[Tool("f", "f")]
        )
        return body_of(model, context)["messages"][1]  # type: ignore[no-any-return]

    assert sent(make_model(reasoning=True, interleaved="reasoning_content"))["reasoning_content"] == "because"
    assert sent(make_model(reasoning=True, interleaved=True))["reasoning"] == "because"
    assert sent(make_model(reasoning=True, interleaved=True), None)["reasoning_content"] == "because"
    details = sent(make_model(reasoning=True, interleaved="reasoning_details"))["reasoning_details"]
    assert details == [{"type": "reasoning.text", "text": "because", "index": 0}]
    plain = sent(make_model(reasoning=True))
    assert not {"reasoning", "reasoning_content", "reasoning_details"} & set(plain)
    as_text = sent(make_model(reasoning=True, interleaved=True, compat={"requires_thinking_as_text": True}))
    assert as_text["content"] == "because" and "reasoning" not in as_text


def test_deepseek_replays_reasoning_content_on_every_turn_of_the_model() -> None:
    """DeepSeek's thinking mode rejects a tool-call turn sent back without its reasoning_content."""
    model = make_model(provider="deepseek", base_url="https://api.deepseek.com", id="deepseek-reasoner", reasoning=True)
    thought = _assistant(model, ThinkingContent("look it up", "reasoning_content"), ToolCall("a", "f", {}))
    silent = _assistant(model, ToolCall("b", "f", {}))
    answer = AssistantMessage(
        [ThinkingContent("easy"), TextContent("done")], api=model.api, provider=model.provider, model=model.id
    )
    context = Context(
        messages=[
            UserMessage("q"),
            thought,
            ToolResultMessage("a", "f", [TextContent("r")]),
            silent,
            ToolResultMessage("b", "f", [TextContent("r")]),
            answer,
            UserMessage("next"),
        ],
        tools=[Tool("f", "f")],
    )
    sent = [m for m in body_of(model, context, api_key="k")["messages"] if m["role"] == "assistant"]
    assert [m.get("reasoning_content") for m in sent] == ["look it up", "", "easy"]
    foreign = AssistantMessage(
        [ThinkingContent("other model"), ToolCall("c", "f", {})],
        api="anthropic-messages",
        provider="anthropic",
        model="claude-x",
        stop_reason="toolUse",
    )
    context = Context(
        messages=[UserMessage("q"), foreign, ToolResultMessage("c", "f", [TextContent("r")])], tools=[Tool("f", "f")]
    )
    assert body_of(model, context, api_key="k")["messages"][1]["reasoning_content"] == ""


def test_qwen_chat_template_is_an_alias() -> None:
    model = make_model(compat={"thinking_format": "qwen-chat-template"})
    assert resolve_compat(model).thinking_format == "chat-template"
    assert resolve_compat(make_model(), overrides={"thinkingFormat": "qwen-chat-template"}).thinking_format == (
        "chat-template"
    )


def test_thinking_as_text_goes_before_the_answer() -> None:
    model = make_model(compat={"requires_thinking_as_text": True})
    turn = AssistantMessage(
        [ThinkingContent("think"), TextContent("answer")], api=model.api, provider=model.provider, model=model.id
    )
    context = Context(messages=[UserMessage("q"), turn, UserMessage("more")])
    assert body_of(model, context)["messages"][1]["content"] == "think\n\nanswer"


def test_tools_empty_list_for_tool_history_on_compatible_servers_only() -> None:
    model = make_model()
    context = Context(
        messages=[
            UserMessage("x"),
            _assistant(model, ToolCall("a", "f", {})),
            ToolResultMessage("a", "f", [TextContent("r")]),
        ]
    )
    assert body_of(model, context)["tools"] == []
    openai = make_model(provider="openai", base_url="https://api.openai.com/v1")
    assert "tools" not in body_of(openai, context, api_key="k")


def test_openrouter_anthropic_cache_control() -> None:
    model = _openrouter_model(reasoning=False)
    context = Context(
        system_prompt="sys", messages=[UserMessage("first"), UserMessage([TextContent("a"), TextContent("b")])]
    )
    messages = body_of(model, context, api_key="k")["messages"]
    assert messages[0]["content"] == [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    last = messages[-1]["content"]
    assert last[-1]["cache_control"] == {"type": "ephemeral"} and "cache_control" not in last[0]
    long = body_of(model, context, api_key="k", cache_retention="long")["messages"]
    assert long[0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    none = body_of(model, context, api_key="k", cache_retention="none")["messages"]
    assert none[0]["content"] == "sys"
    other = body_of(
        make_model(provider="openrouter", base_url="https://openrouter.ai/api/v1", id="openai/gpt-5"),
        context,
        api_key="k",
    )
    assert other["messages"][0]["content"] == "sys"


# --------------------------------------------------------------------------- the request: fields and options


def test_base_fields_for_openai_and_compatible_servers() -> None:
    openai = make_model(provider="openai", base_url="https://api.openai.com/v1")
    body = body_of(openai, api_key="sk-x", max_tokens=100, temperature=0.5)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["store"] is False and body["max_completion_tokens"] == 100 and body["temperature"] == 0.5
    compatible = body_of(make_model(), max_tokens=100)
    assert "store" not in compatible and compatible["max_tokens"] == 100 and "max_completion_tokens" not in compatible
    quiet = body_of(make_model(compat={"supports_usage_in_streaming": False}))
    assert "stream_options" not in quiet


def test_strict_mode_flag() -> None:
    context = Context(messages=[UserMessage("x")], tools=[WEATHER])
    assert "strict" not in body_of(make_model(compat={"supports_strict_mode": False}), context)["tools"][0]["function"]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("any", "required"),
        ({"type": "tool", "name": "weather"}, {"type": "function", "function": {"name": "weather"}}),
        ({"type": "function", "function": {"name": "weather"}}, {"type": "function", "function": {"name": "weather"}}),
        ({"name": "weather"}, {"type": "function", "function": {"name": "weather"}}),
    ],
)
def test_tool_choice_spellings(given: Any, sent: Any) -> None:
    caps = ModelCapabilities(supports_tool_choice_required=True, supports_vision=True)
    context = Context(messages=[UserMessage("x")], tools=[WEATHER])
    body = body_of(make_model(capabilities=caps), context, tool_choice=given, parallel_tool_calls=False)
    assert body["tool_choice"] == sent and body["parallel_tool_calls"] is False


def test_tool_choice_checks_and_shaping() -> None:
    context = Context(messages=[UserMessage("x")], tools=[WEATHER])
    with pytest.raises(ValueError, match="not in the context's tools"):
        body_of(make_model(), context, tool_choice={"type": "function", "function": {"name": "nope"}})
    with pytest.raises(ValueError, match="tool_choice must be"):
        body_of(make_model(), context, tool_choice="sometimes")
    no_required = make_model(capabilities=ModelCapabilities(supports_tool_choice_required=False))
    assert body_of(no_required, context, tool_choice="required")["tool_choice"] == "auto"
    assert "tool_choice" not in body_of(make_model(), tool_choice="auto")  # no tools, no choice


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"top_p": 0.9}, {"top_p": 0.9}),
        ({"top_k": 40}, {"top_k": 40}),
        ({"frequency_penalty": -1, "presence_penalty": 1.5}, {"frequency_penalty": -1.0, "presence_penalty": 1.5}),
        ({"seed": 7}, {"seed": 7}),
        ({"stop": "END"}, {"stop": ["END"]}),
        ({"stop": ("a", "b")}, {"stop": ["a", "b"]}),
        ({"logprobs": True}, {"logprobs": True}),
        ({"logprobs": False}, {"logprobs": False}),
        ({"top_logprobs": 3}, {"logprobs": True, "top_logprobs": 3}),
        ({"service_tier": "flex"}, {"service_tier": "flex"}),
        ({"user": "u-1"}, {"user": "u-1"}),
        ({"metadata": {"run": "r-1", "user_id": "u-2"}}, {"metadata": {"run": "r-1", "user_id": "u-2"}}),
        ({"prompt_cache_key": "k1"}, {"prompt_cache_key": "k1"}),
        ({"extra_body": {"repetition_penalty": 1.1}}, {"repetition_penalty": 1.1}),
        (
            {"extra_body": {"stream_options": {"continuous_usage_stats": True}}},
            {"stream_options": {"include_usage": True, "continuous_usage_stats": True}},
        ),
    ],
)
def test_options_reach_the_body(options: dict[str, Any], expected: dict[str, Any]) -> None:
    caps = ModelCapabilities(supports_user=True, supports_json_output=True)
    body = body_of(make_model(capabilities=caps), **options)
    assert {k: body[k] for k in expected} == expected


def test_extra_body_is_merged_last_and_extra_headers_win() -> None:
    model = make_model(reasoning=True)
    request = request_of(
        model,
        reasoning_effort="low",
        extra_body={"reasoning_effort": "high", "model": "other"},
        headers={"X-Tag": "a"},
        extra_headers={"x-tag": "b"},
    )
    assert request.body["reasoning_effort"] == "high" and request.body["model"] == "other"
    assert request.headers["x-tag"] == "b" and "X-Tag" not in request.headers


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"top_p": 1.5}, ValueError, "top_p"),
        ({"top_p": "high"}, TypeError, "top_p must be a number"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"presence_penalty": 3}, ValueError, "presence_penalty"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": True}, TypeError, "seed must be an int"),
        ({"stop": []}, ValueError, "stop"),
        ({"stop": 5}, TypeError, "stop"),
        ({"logprobs": "yes"}, TypeError, "logprobs"),
        ({"top_logprobs": 21}, ValueError, "top_logprobs"),
        ({"logprobs": False, "top_logprobs": 2}, ValueError, "top_logprobs needs logprobs"),
        ({"parallel_tool_calls": "yes"}, TypeError, "True or False"),
        ({"metadata": {"count": 1}}, TypeError, "metadata"),
        ({"reasoning": "ultra"}, ValueError, "reasoning"),
        ({"reasoning_effort": "extreme"}, ValueError, "reasoning_effort must be one of"),
        ({"reasoning_effort": "max"}, ValueError, "reasoning_effort must be one of"),
        ({"service_tier": "fast"}, ValueError, "service_tier"),
        ({"prompt_cache_key": 5}, TypeError, "prompt_cache_key"),
        ({"response_format": "yaml"}, ValueError, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, ValueError, "schema"),
        ({"user": ""}, ValueError, "user"),
        ({"compat": {"supports_magic": True}}, ValueError, "unknown compat flag"),
        ({"compat": {"supports_store": "yes"}}, TypeError, "true or false"),
        ({"compat": {"reasoning_budget_only": 1}}, TypeError, "true or false"),
        ({"compat": {"max_tokens_field": "limit"}}, ValueError, "max_tokens_field"),
        ({"compat": {"thinking_format": "deep"}}, ValueError, "thinking_format"),
        ({"compat": "fast"}, TypeError, "compat"),
        ({"extra_body": ["x"]}, TypeError, "extra_body"),
        ({"extra_headers": {"X": 1}}, TypeError, "extra_headers"),
        ({"foreign_thinking": "keep"}, ValueError, "foreign_thinking"),
    ],
)
def test_bad_option_values_raise_at_the_call(options: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        checked(make_model(reasoning=True), Context(messages=[UserMessage("x")]), options)


def test_top_k_is_refused_for_openai_only() -> None:
    openai = make_model(provider="openai", base_url="https://api.openai.com/v1")
    with pytest.raises(ValueError, match="top_k cannot be sent to OpenAI"):
        body_of(openai, api_key="k", top_k=5)
    assert body_of(make_model(provider="openrouter", base_url="https://openrouter.ai/api/v1"), api_key="k", top_k=5)[
        "top_k"
    ] == 5


def test_metadata_on_openai_needs_a_stored_completion() -> None:
    """OpenAI rejects metadata with store: false ("only allowed when 'store' is enabled")."""
    openai = make_model(provider="openai", base_url="https://api.openai.com/v1")
    with pytest.raises(ValueError, match="store: true"):
        body_of(openai, api_key="k", metadata={"run": "r"})
    stored = body_of(openai, api_key="k", metadata={"run": "r"}, extra_body={"store": True})
    assert stored["store"] is True and stored["metadata"] == {"run": "r"}


# response_format (structured output, every API): tests/tools/test_structured_output.py.


def test_user_dropped_for_models_without_it() -> None:
    assert "user" not in body_of(make_model(capabilities=ModelCapabilities(supports_user=False)), user="u")


def test_session_id_is_the_prompt_cache_key_on_openai_only() -> None:
    openai = make_model(provider="openai", base_url="https://api.openai.com/v1")
    assert body_of(openai, api_key="k", session_id="s-1")["prompt_cache_key"] == "s-1"
    assert body_of(openai, api_key="k", cache_retention="long")["prompt_cache_retention"] == "24h"
    assert "prompt_cache_key" not in body_of(make_model(), session_id="s-1")


# --------------------------------------------------------------------------- reasoning

_REASONING_KEYS = (
    "reasoning_effort",
    "thinking",
    "enable_thinking",
    "thinking_budget",
    "chat_template_kwargs",
    "reasoning",
)


def reasoning_of(model: Model, **options: Any) -> dict[str, Any]:
    body = body_of(model, api_key="k", **options)
    return {k: body[k] for k in _REASONING_KEYS if k in body}


@pytest.mark.parametrize(
    ("compat", "effort", "expected"),
    [
        ({}, "high", {"reasoning_effort": "high"}),
        ({}, None, {}),
        ({"reasoning_effort_map": {"high": "default"}}, "high", {"reasoning_effort": "default"}),
        ({"supports_reasoning_effort": False}, "high", {}),
        ({"thinking_format": "zai"}, "low", {"thinking": {"type": "enabled"}}),
        ({"thinking_format": "zai"}, None, {"thinking": {"type": "disabled"}}),
        ({"thinking_format": "qwen"}, "medium", {"enable_thinking": True}),
        ({"thinking_format": "qwen"}, None, {"enable_thinking": False}),
        ({"thinking_format": "chat-template"}, "high", {"chat_template_kwargs": {"enable_thinking": True}}),
        ({"thinking_format": "qwen-chat-template"}, "none", {"chat_template_kwargs": {"enable_thinking": False}}),
        ({"thinking_format": "chat-template"}, None, {"chat_template_kwargs": {"enable_thinking": False}}),
        ({"thinking_format": "deepseek"}, "high", {"thinking": {"type": "enabled"}, "reasoning_effort": "high"}),
        ({"thinking_format": "deepseek"}, "none", {"thinking": {"type": "disabled"}}),
        ({"thinking_format": "deepseek"}, None, {}),
        ({"thinking_format": "openrouter"}, "high", {"reasoning": {"effort": "high"}}),
        (
            {"thinking_format": "openrouter", "supports_reasoning_effort": False},
            "low",
            {"reasoning": {"effort": "low"}},
        ),
        ({"thinking_format": "openrouter"}, "none", {"reasoning": {"effort": "none"}}),
        ({"thinking_format": "openrouter"}, None, {}),
    ],
)
def test_explicit_reasoning_effort_per_format(
    compat: dict[str, Any], effort: str | None, expected: dict[str, Any]
) -> None:
    assert reasoning_of(make_model(reasoning=True, compat=compat), reasoning_effort=effort) == expected


def test_reasoning_effort_wins_over_the_level() -> None:
    model = make_model(reasoning=True, id="gpt-5.2")
    assert reasoning_of(model, reasoning="low", reasoning_effort="high") == {"reasoning_effort": "high"}


LEVELS = ("off", "minimal", "low", "medium", "high", "xhigh", "max")
_OPENROUTER = {"provider": "openrouter", "base_url": "https://openrouter.ai/api/v1", "reasoning": True}


def _levels(model: Model, **options: Any) -> list[dict[str, Any]]:
    return [reasoning_of(model, reasoning=level, **options) for level in LEVELS]


def test_every_level_on_openai() -> None:
    gpt = make_model(provider="openai", base_url="https://api.openai.com/v1", id="gpt-5.2", reasoning=True)
    efforts = ["none", "low", "low", "medium", "high", "xhigh", "xhigh"]
    assert _levels(gpt) == [{"reasoning_effort": e} for e in efforts]
    gpt5 = dataclasses.replace(gpt, id="gpt-5")
    efforts = ["minimal", "minimal", "low", "medium", "high", "high", "high"]
    assert _levels(gpt5) == [{"reasoning_effort": e} for e in efforts]


def test_off_raises_at_the_call_where_the_model_always_reasons() -> None:
    o3 = make_model(provider="openai", base_url="https://api.openai.com/v1", id="o3", reasoning=True)
    with pytest.raises(ValueError, match="'off' is not available"):
        checked(o3, Context(messages=[UserMessage("x")]), {"reasoning": "off"})
    assert reasoning_of(o3, reasoning="max") == {"reasoning_effort": "high"}


@pytest.mark.parametrize(
    ("model_id", "efforts"),
    [
        # Claude with budgets: levels up to high; OpenRouter turns the effort into a budget.
        ("anthropic/claude-sonnet-4.5", ["none", "minimal", "low", "medium", "high", "high", "high"]),
        # Adaptive Claude 4.6 (low..high, max): max has no OpenRouter word and xhigh is absent, so high.
        ("anthropic/claude-opus-4.6", ["none", "low", "low", "medium", "high", "high", "high"]),
        ("openai/gpt-5.2", ["none", "low", "low", "medium", "high", "xhigh", "xhigh"]),
        ("google/gemini-2.5-flash", ["none", "minimal", "low", "medium", "high", "high", "high"]),
        ("qwen/qwen3-235b-a22b", ["none", "minimal", "low", "medium", "high", "high", "high"]),
    ],
)
def test_every_level_on_openrouter_is_an_effort(model_id: str, efforts: list[str]) -> None:
    model = make_model(id=model_id, **_OPENROUTER)
    assert _levels(model) == [{"reasoning": {"effort": e}} for e in efforts]


def test_openrouter_budget_only_models_get_budgets() -> None:
    model = make_model(id="acme/thinker", compat={"reasoning_budget_only": True}, **_OPENROUTER)
    budgets = [1024, 2048, 8192, 16384, 16384, 16384]
    assert _levels(model) == [{"reasoning": {"enabled": False}}] + [{"reasoning": {"max_tokens": b}} for b in budgets]
    assert reasoning_of(model, reasoning="max", thinking_budgets={"max": 40000}) == {"reasoning": {"max_tokens": 40000}}


def test_openrouter_caller_budgets_win_for_their_level() -> None:
    model = make_model(id="anthropic/claude-sonnet-4.5", **_OPENROUTER)
    assert reasoning_of(model, reasoning="low", thinking_budgets={"low": 3000}) == {"reasoning": {"max_tokens": 3000}}
    assert reasoning_of(model, reasoning="high", thinking_budgets={"low": 3000}) == {"reasoning": {"effort": "high"}}


def test_registry_claude_on_openrouter_no_longer_sends_enabled() -> None:
    from alchemy.models import get_model

    model = get_model("openrouter/anthropic/claude-sonnet-4.5")
    assert reasoning_of(model, reasoning="minimal") == {"reasoning": {"effort": "minimal"}}
    assert reasoning_of(model, reasoning="xhigh") == {"reasoning": {"effort": "high"}}
    assert reasoning_of(model, reasoning="off") == {"reasoning": {"effort": "none"}}


def test_vercel_gateway_takes_the_openrouter_object() -> None:
    model = make_model(
        provider="vercel", base_url="https://ai-gateway.vercel.sh/v1", id="openai/gpt-5.2", reasoning=True
    )
    assert reasoning_of(model, reasoning="max") == {"reasoning": {"effort": "xhigh"}}


def test_every_level_on_deepseek() -> None:
    model = make_model(provider="deepseek", base_url="https://api.deepseek.com", id="deepseek-reasoner", reasoning=True)
    efforts = ["minimal", "low", "medium", "high", "high", "high"]
    on = [{"thinking": {"type": "enabled"}, "reasoning_effort": e} for e in efforts]
    assert _levels(model) == [{"thinking": {"type": "disabled"}}, *on]
    listed = dataclasses.replace(model, reasoning_options=({"type": "effort", "values": ["high", "max"]},))
    assert reasoning_of(listed, reasoning="max") == {"thinking": {"type": "enabled"}, "reasoning_effort": "max"}


@pytest.mark.parametrize(
    ("fmt", "off", "on"),
    [
        ("zai", {"thinking": {"type": "disabled"}}, {"thinking": {"type": "enabled"}}),
        ("qwen", {"enable_thinking": False}, {"enable_thinking": True}),
        (
            "chat-template",
            {"chat_template_kwargs": {"enable_thinking": False}},
            {"chat_template_kwargs": {"enable_thinking": True}},
        ),
    ],
)
def test_every_level_on_the_switch_formats(fmt: str, off: dict[str, Any], on: dict[str, Any]) -> None:
    model = make_model(reasoning=True, compat={"thinking_format": fmt})
    assert _levels(model) == [off] + [on] * 6


def test_budgets_for_qwen_and_chat_templates() -> None:
    qwen = make_model(reasoning=True, compat={"thinking_format": "qwen"})
    assert reasoning_of(qwen, reasoning="low", thinking_budgets={"low": 2048}) == {
        "enable_thinking": True,
        "thinking_budget": 2048,
    }
    local = make_model(reasoning=True, compat={"thinking_format": "chat-template"})
    assert reasoning_of(local, reasoning="high", thinking_budgets={"high": 4096}) == {
        "chat_template_kwargs": {"enable_thinking": True, "thinking_budget": 4096}
    }
    assert reasoning_of(local, reasoning="off", thinking_budgets={"high": 4096}) == {
        "chat_template_kwargs": {"enable_thinking": False}
    }


def test_non_reasoning_models_ignore_reasoning() -> None:
    body = body_of(make_model(compat={"thinking_format": "zai"}), reasoning_effort="high", reasoning="max")
    assert "thinking" not in body and "reasoning_effort" not in body


def test_stream_simple_checks_the_level_at_the_call() -> None:
    model = make_model(reasoning=True, id="gpt-5.2")
    options = checked(model, Context(messages=[UserMessage("x")]), {"reasoning": "xhigh"}, simple=True)
    assert options.reasoning == "xhigh" and options.provider_options == {}


def test_registry_models_get_their_quirks() -> None:
    from alchemy.models import get_model

    groq = get_model("groq/qwen/qwen3-32b")
    assert body_of(groq, api_key="k", reasoning_effort="high")["reasoning_effort"] == "default"
    glm = get_model("zai/glm-4.7")
    assert body_of(glm, api_key="k")["thinking"] == {"type": "disabled"}
    deepseek = get_model("deepseek/deepseek-reasoner")
    body = body_of(deepseek, api_key="k", max_tokens=10)
    assert "store" not in body and body["max_tokens"] == 10


# --------------------------------------------------------------------------- compat


@pytest.mark.parametrize(
    ("provider_id", "url", "checks"),
    [
        (
            "openai",
            "https://api.openai.com/v1",
            {"supports_store": True, "supports_developer_role": True, "max_tokens_field": "max_completion_tokens"},
        ),
        ("custom", "https://my.openai.azure.com/openai/v1", {"supports_store": True}),
        (
            "custom",
            "http://localhost:11434/v1",
            {"supports_store": False, "supports_developer_role": False, "max_tokens_field": "max_tokens"},
        ),
        ("zai", "https://example.com", {"thinking_format": "zai", "supports_reasoning_effort": False}),
        ("custom", "https://api.z.ai/api/paas/v4", {"thinking_format": "zai"}),
        ("xai", "https://example.com", {"supports_reasoning_effort": False}),
        ("custom", "https://api.x.ai/v1", {"supports_reasoning_effort": False}),
        ("custom", "https://llm.chutes.ai/v1", {"max_tokens_field": "max_tokens"}),
        ("custom", "https://openrouter.ai/api/v1", {"thinking_format": "openrouter"}),
        (
            "custom",
            "https://api.deepseek.com",
            {"supports_store": False, "supports_reasoning_effort": True, "thinking_format": "deepseek"},
        ),
        ("deepseek", "https://example.com", {"thinking_format": "deepseek"}),
        ("custom", "https://ai-gateway.vercel.sh/v1", {"thinking_format": "openrouter"}),
        ("vercel", "https://example.com", {"thinking_format": "openrouter"}),
    ],
)
def test_compat_detection(provider_id: str, url: str, checks: dict[str, Any]) -> None:
    compat = detect_compat(make_model(provider=provider_id, base_url=url))
    assert {k: getattr(compat, k) for k in checks} == checks


def test_groq_qwen3_detection() -> None:
    compat = detect_compat(make_model(provider="groq", base_url="https://api.groq.com/openai/v1", id="qwen/qwen3-32b"))
    assert compat.reasoning_effort_map["high"] == "default"


def test_compat_precedence() -> None:
    model = make_model(
        provider="acme", compat={"max_tokens_field": "max_completion_tokens", "supportsStrictMode": False}
    )
    try:
        assert resolve_compat(model).max_tokens_field == "max_completion_tokens"  # model beats detection
        assert resolve_compat(model).supports_strict_mode is False  # camelCase accepted
        set_provider_compat("acme", max_tokens_field="max_tokens", supports_store=True)
        resolved = resolve_compat(model)
        assert (
            resolved.max_tokens_field == "max_tokens" and resolved.supports_store
        )  # provider overrides beat the model
        assert openai_compat.provider_compat("acme") == {"max_tokens_field": "max_tokens", "supports_store": True}
        call = resolve_compat(model, overrides={"supports_store": False})
        assert call.supports_store is False and call.max_tokens_field == "max_tokens"  # the call beats everything
        assert body_of(model, compat={"supports_store": False}, max_tokens=5)["max_tokens"] == 5
    finally:
        clear_provider_compat("acme")
    assert resolve_compat(model).max_tokens_field == "max_completion_tokens"
    with pytest.raises(ValueError, match="unknown compat flag"):
        set_provider_compat("acme", nonsense=True)


def test_every_flag_has_a_default() -> None:
    assert len(COMPAT_FLAGS) == 14 and COMPAT_FLAGS[-1] == "reasoning_budget_only"
    assert CompletionsCompat().reasoning_budget_only is False
    assert CompletionsCompat().thinking_format == "openai"


def test_routing_objects() -> None:
    routing = {"order": ["anthropic", "google"], "allow_fallbacks": False}
    model = make_model(
        provider="openrouter", base_url="https://openrouter.ai/api/v1", compat={"open_router_routing": routing}
    )
    assert body_of(model, api_key="k")["provider"] == routing
    assert "provider" not in body_of(dataclasses.replace(model, base_url=LOCAL, provider="local"))
    vercel = make_model(
        provider="vercel",
        base_url="https://ai-gateway.vercel.sh/v1",
        compat={"vercel_gateway_routing": {"only": ["bedrock"]}},
    )
    assert body_of(vercel, api_key="k")["providerOptions"] == {"gateway": {"only": ["bedrock"]}}
    with pytest.raises(TypeError, match="list of provider names"):
        body_of(make_model(compat={"open_router_routing": {"order": "anthropic"}}))


# --------------------------------------------------------------------------- url, key, headers


def test_url_key_and_headers() -> None:
    model = make_model(provider="groq", base_url="https://api.groq.com/openai/v1/", headers={"X-Model": "1"})
    request = request_of(model, api_key="gsk-secret", headers={"X-Call": "2"})
    assert request.url == "https://api.groq.com/openai/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer gsk-secret"
    assert request.headers["X-Model"] == "1" and request.headers["X-Call"] == "2"
    assert request.secrets == ("gsk-secret",)
    assert "gsk-secret" not in repr(request)


def test_missing_key_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    model = make_model(provider="groq", base_url="https://api.groq.com/openai/v1")
    with pytest.raises(MissingApiKeyError, match="GROQ_API_KEY"):
        request_of(model)


def test_local_servers_need_no_key() -> None:
    request = request_of(make_model(base_url="http://localhost:11434/v1"))
    assert "Authorization" not in request.headers and request.secrets == ()


def test_copilot_headers() -> None:
    model = make_model(provider="github-copilot", base_url="https://api.githubcopilot.com")
    context = Context(messages=[UserMessage([TextContent("see"), ImageContent("aGk=", "image/png")])])
    headers = request_of(model, context, api_key="ghu").headers
    assert headers["X-Initiator"] == "user" and headers["Openai-Intent"] == "conversation-edits"
    assert headers["Copilot-Vision-Request"] == "true"


def test_registered_for_its_api() -> None:
    from alchemy.api_registry import get_api

    assert get_api("openai-completions") is provider


def test_handoff_from_another_model_normalizes_ids() -> None:
    model = make_model()
    foreign = AssistantMessage(
        [ThinkingContent("secret", "sig"), ToolCall("call_x|fc_item", "f", {"a": 1})],
        api="openai-responses",
        provider="openai",
        model="gpt-5",
        stop_reason="toolUse",
    )
    context = Context(
        messages=[UserMessage("q"), foreign, ToolResultMessage("call_x|fc_item", "f", [TextContent("r")])],
        tools=[Tool("f", "f")],
    )
    messages = body_of(model, context)["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "call_x" and messages[2]["tool_call_id"] == "call_x"
    assert "reasoning_content" not in messages[1] and messages[1]["content"] is None


def test_usage_of_a_thinking_stream_start_event() -> None:
    events = run(
        make_model(), fx.wire([chunk({"reasoning_content": "a"}), chunk({"content": "b"}), chunk(finish="stop")])
    )
    assert any(isinstance(e, ThinkingStart) for e in events) and any(isinstance(e, TextDelta) for e in events)
    assert isinstance(events[-1].message.usage, Usage)


def _logprob(token: str, logprob: float, top: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top],
    }


def test_logprobs_reach_the_message() -> None:
    payloads = [
        chunk({"role": "assistant", "content": ""}, logprobs=None),
        {
            "id": "chatcmpl-1",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "Hi"},
                    "logprobs": {"content": [_logprob("Hi", -0.25, [("Hi", -0.25), ("Hello", -1.5)])], "refusal": None},
                    "finish_reason": None,
                }
            ],
        },
        {
            "id": "chatcmpl-1",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "!"},
                    "logprobs": {"content": [_logprob("!", 0, []), {"token": None, "logprob": "bad"}]},
                    "finish_reason": "stop",
                }
            ],
        },
    ]
    for how in ("event", "byte"):
        message = final(make_model(), payloads, how)
        assert message.text == "Hi!"
        assert message.logprobs == [
            TokenLogprob("Hi", -0.25, (("Hi", -0.25), ("Hello", -1.5))),
            TokenLogprob("!", 0.0),
        ]
    restored = AssistantMessage.from_dict(orjson.loads(orjson.dumps(message.to_dict())))
    assert restored.logprobs == message.logprobs
    assert message.to_dict()["logprobs"][0] == {
        "token": "Hi",
        "logprob": -0.25,
        "top": [{"token": "Hi", "logprob": -0.25}, {"token": "Hello", "logprob": -1.5}],
    }


def test_no_logprobs_leave_the_message_without_them() -> None:
    message = final(make_model(), [chunk({"content": "x"}, finish="stop")])
    assert message.logprobs is None and "logprobs" not in message.to_dict()


def test_only_choice_zero_is_read() -> None:
    other = {"id": "c", "choices": [{"index": 1, "delta": {"content": "other"}, "finish_reason": None}]}
    message = final(make_model(), [chunk({"content": "mine"}), other, chunk(finish="stop")])
    assert message.text == "mine"


def test_deepseek_capacity_cut_is_a_retryable_failure() -> None:
    emitter = EventEmitter(new_partial(make_model()))
    parser = provider.create_parser(make_model(), StreamOptions(), emitter)
    parser.feed(fx.wire([chunk({"content": "x"}, finish="insufficient_system_resource")]))
    with pytest.raises(ProviderStreamError) as caught:
        parser.finish()
    assert caught.value.retryable and "capacity" in str(caught.value)
