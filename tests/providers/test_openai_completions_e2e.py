"""openai-completions end to end: the full stack against the replay server on 127.0.0.1.

Every shared Chat Completions fixture is streamed sync and async, chunked by event,
by 7 bytes and at random, through ``alchemy.stream`` / ``astream``; the final message
must match what the fixture says (``completions_fixtures``) and the events must keep
the protocol. Then the faults: a dropped connection, an error event in the 200
stream before and after content, HTTP 429 with ``retry-after``, 5xx, a stall, a
malformed chunk, invalid UTF-8 — retries happen only before content reached the
consumer, and nothing received is lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import alchemy
import completions_fixtures as fx
import support
from protocol_checks import assert_protocol

from alchemy.events import Done, Error
from alchemy.testing import Drop, ErrorEvent, InvalidUtf8, MalformedJson, Replay, ReplayServer, Stall
from alchemy.types import Context, Model, UserMessage

API = fx.API
KEY = "sk-" "replay-secret-0123456789"  # fake, split so it never looks like a real key
CONTEXT = Context(system_prompt="Be helpful.", messages=[UserMessage("Hello")])
FIXTURES = fx.fixture_paths()


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(default=None) as replay:
        yield replay


@pytest.fixture(autouse=True)
def _fresh(server: ReplayServer) -> None:
    server.reset()


def model_for(server: ReplayServer, path: Path | None = None) -> Model:
    base = server.base_url_for(API)
    if path is None:
        return dataclasses.replace(fx.fixture_model(Path("local/x.chunks.txt")), base_url=base)
    return fx.fixture_model(path, base)


def collect(model: Model, context: Context = CONTEXT, **options: Any) -> list[Any]:
    with alchemy.stream(model, context, **{"api_key": KEY, "max_retry_delay": 0.05, **options}) as events:
        return list(events)


def acollect(model: Model, context: Context = CONTEXT, **options: Any) -> list[Any]:
    async def run() -> list[Any]:
        async with alchemy.astream(model, context, **{"api_key": KEY, "max_retry_delay": 0.05, **options}) as events:
            return [event async for event in events]

    return asyncio.run(run())


# --------------------------------------------------------------------------- every fixture


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("chunking", ["event", "bytes=7", "random=11"])
@pytest.mark.parametrize("path", FIXTURES, ids=fx.fixture_id)
def test_fixture_end_to_end(server: ReplayServer, path: Path, chunking: str, mode: str) -> None:
    server.enqueue(Replay(str(path), chunking=chunking))
    model = model_for(server, path)
    events = (collect if mode == "sync" else acollect)(model)
    message = assert_protocol(events)
    assert isinstance(events[-1], Done), message.error_message
    fx.assert_matches(message, path, model)
    assert message.metrics is not None and message.metrics.bytes_received > 0
    request = server.last_request
    assert request.path.endswith("/v1/chat/completions")
    assert request.json["model"] == model.id and request.json["stream"] is True
    role = "developer" if model.provider == "openai" else "system"  # OpenAI's own API, a reasoning model
    assert request.json["messages"][0] == {"role": role, "content": "Be helpful."}
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_complete_and_stream_simple(server: ReplayServer) -> None:
    support.require_shared()
    path = next(p for p in FIXTURES if p.name == "deepseek-reasoning.chunks.txt")
    server.enqueue(Replay(str(path)), Replay(str(path)))
    model = dataclasses.replace(model_for(server, path), compat={"thinking_format": "qwen"})
    message = alchemy.complete(model, CONTEXT, api_key=KEY)
    fx.assert_matches(message, path, model)
    simple = alchemy.complete_simple(model, CONTEXT, api_key=KEY, reasoning="high", thinking_budgets={"high": 4096})
    assert simple.stop_reason == "stop"
    body = server.last_request.json
    assert body["enable_thinking"] is True and body["thinking_budget"] == 4096


def test_parallel_tool_calls_on_index_zero_through_the_server(server: ReplayServer) -> None:
    def call(call_id: str, city: str) -> dict[str, Any]:
        arguments = '{"city": "' + city + '"}'
        delta = {
            "tool_calls": [
                {"index": 0, "id": call_id, "type": "function", "function": {"name": "weather", "arguments": arguments}}
            ]
        }
        return {"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}

    payloads = [
        call("call_1", "Paris"),
        call("call_2", "Rome"),
        {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    for chunking in ("event", "bytes=5"):
        server.enqueue(Replay(payloads, chunking=chunking))
        message = assert_protocol(collect(model_for(server)))
        assert [(c.id, c.arguments) for c in message.tool_calls] == [
            ("call_1", {"city": "Paris"}),
            ("call_2", {"city": "Rome"}),
        ]
        assert message.stop_reason == "toolUse"


# --------------------------------------------------------------------------- faults


def _text_payloads(n: int = 6) -> list[dict[str, Any]]:
    chunks = [
        {"id": "c2", "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]} for i in range(n)
    ]
    chunks.append({"id": "c2", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append(
        {"id": "c2", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}}
    )
    return chunks


FULL_TEXT = "".join(f"w{i} " for i in range(6))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_drop_mid_stream_keeps_what_arrived(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(_text_payloads(), faults=[Drop(after_events=3)]), Replay(_text_payloads()))
    events = (collect if mode == "sync" else acollect)(model_for(server))
    message = assert_protocol(events)
    assert isinstance(events[-1], Error)
    assert message.text == "w0 w1 w2 "
    assert len(server.requests) == 1  # content reached the consumer: no retry
    assert KEY not in (message.error_message or "")


def test_drop_before_content_is_retried(server: ReplayServer) -> None:
    server.enqueue(Replay(_text_payloads(), faults=[Drop(after_events=0)]), Replay(_text_payloads()))
    message = assert_protocol(collect(model_for(server)))
    assert message.stop_reason == "stop" and message.text == FULL_TEXT
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_error_event_before_content_is_retried(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(_text_payloads(), faults=[ErrorEvent(after_events=0)]), Replay(_text_payloads()))
    events = (collect if mode == "sync" else acollect)(model_for(server))
    message = assert_protocol(events)
    assert isinstance(events[-1], Done) and message.text == FULL_TEXT
    assert message.usage.input == 5 and message.usage.output == 6
    assert len(server.requests) == 2


def test_error_event_after_content_ends_with_error(server: ReplayServer) -> None:
    server.enqueue(
        Replay(
            _text_payloads(),
            faults=[ErrorEvent(after_events=2, message="Upstream overloaded", error_type="overloaded_error")],
        ),
        Replay(_text_payloads()),
    )
    events = collect(model_for(server))
    message = assert_protocol(events)
    assert isinstance(events[-1], Error)
    assert message.text == "w0 w1 " and "Upstream overloaded" in (message.error_message or "")
    assert len(server.requests) == 1


def test_non_retryable_error_event_is_not_retried(server: ReplayServer) -> None:
    server.enqueue(
        Replay(
            _text_payloads(),
            faults=[ErrorEvent(after_events=0, message="bad input", error_type="invalid_request_error")],
        )
    )
    events = collect(model_for(server))
    assert isinstance(events[-1], Error) and "bad input" in (events[-1].message.error_message or "")
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_429_with_retry_after_is_honoured(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay.http_error(429, retry_after=0.2), Replay(_text_payloads()))
    started = time.perf_counter()
    events = (collect if mode == "sync" else acollect)(model_for(server), max_retry_delay=1.0)
    elapsed = time.perf_counter() - started
    message = assert_protocol(events)
    assert message.stop_reason == "stop" and message.text == FULL_TEXT
    assert len(server.requests) == 2 and elapsed >= 0.2


def test_retry_after_beyond_the_limit_fails_at_once(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(429, retry_after=30), Replay(_text_payloads()))
    started = time.perf_counter()
    events = collect(model_for(server), max_retry_delay=0.5)
    assert time.perf_counter() - started < 5
    message = assert_protocol(events)
    assert isinstance(events[-1], Error) and "429" in (message.error_message or "")
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(server: ReplayServer, status: int) -> None:
    server.enqueue(Replay.http_error(status), Replay.http_error(status), Replay(_text_payloads()))
    message = assert_protocol(collect(model_for(server)))
    assert message.stop_reason == "stop" and len(server.requests) == 3


def test_client_errors_are_not_retried_and_say_why(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(400, message="Unsupported parameter: 'store'"), Replay(_text_payloads()))
    events = collect(model_for(server))
    message = assert_protocol(events)
    assert len(events) == 1 and isinstance(events[0], Error)  # rejected before any Start
    text = message.error_message or ""
    assert "400" in text and "Unsupported parameter: 'store'" in text and "req_replay_" in text
    assert KEY not in text and len(server.requests) == 1


def test_stall_ends_with_an_error_keeping_content(server: ReplayServer) -> None:
    server.enqueue(Replay(_text_payloads(), faults=[Stall(1.0, after_events=2)]))
    events = collect(model_for(server), idle_timeout=0.2)
    message = assert_protocol(events)
    assert isinstance(events[-1], Error) and message.text == "w0 w1 "
    assert "idle_timeout" in (message.error_message or "")


def test_malformed_chunk_keeps_content(server: ReplayServer) -> None:
    server.enqueue(Replay(_text_payloads(), faults=[MalformedJson(after_events=3)]))
    events = collect(model_for(server))
    message = assert_protocol(events)
    assert isinstance(events[-1], Error) and message.text == "w0 w1 w2 "
    assert "not valid JSON" in (message.error_message or "")


def test_invalid_utf8_ends_with_an_error_keeping_the_text(server: ReplayServer) -> None:
    server.enqueue(Replay(_text_payloads(), delay=0.005, faults=[InvalidUtf8(after_events=2)]))
    message = assert_protocol(collect(model_for(server), max_retries=0))
    assert message.stop_reason == "error" and "UTF-8" in (message.error_message or "")
    assert message.text


def test_stream_without_end_is_an_interrupted_stream(server: ReplayServer) -> None:
    payloads = _text_payloads()[:3]
    server.enqueue(Replay(payloads))
    # The recording has no finish_reason; the server still sends [DONE], so this completes...
    assert assert_protocol(collect(model_for(server))).stop_reason == "stop"
    # ...while a body cut right after the last event (no [DONE]) is an interruption.
    server.enqueue(Replay(payloads, faults=[Drop(after_events=3)]))
    events = collect(model_for(server))
    assert isinstance(events[-1], Error) and events[-1].message.text == "w0 w1 w2 "


def test_async_streams_share_one_loop(server: ReplayServer) -> None:
    support.require_shared()
    path = next(p for p in FIXTURES if p.name == "xai-tool-call.chunks.txt")
    server.register("tool", Replay(str(path), chunking="bytes=13"))
    model = dataclasses.replace(model_for(server, path), headers={"x-alchemy-replay": "tool"})

    async def run() -> list[Any]:
        async def one() -> Any:
            return await alchemy.acomplete(model, CONTEXT, api_key=KEY)

        return await asyncio.gather(*(one() for _ in range(40)))

    for message in asyncio.run(run()):
        fx.assert_matches(message, path, model)


def test_registry_model_through_the_base_url_override(server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """ALCHEMY_BASE_URL_OVERRIDE points a registry model at the server; its quirks stay Groq's."""
    support.require_shared()
    path = next(p for p in FIXTURES if p.name == "groq-reasoning.chunks.txt")
    monkeypatch.setenv("ALCHEMY_BASE_URL_OVERRIDE", server.base_url_for(API))
    model = alchemy.get_model("groq/qwen/qwen3-32b")
    server.enqueue(Replay(str(path), chunking="random=3"))
    message = alchemy.complete_simple(model, CONTEXT, api_key=KEY, reasoning="medium", max_tokens=2000)
    assert message.stop_reason == "stop" and message.thinking and message.usage.reasoning == 963
    assert message.usage.cost.total is not None and message.usage.cost.total > 0
    body = server.last_request.json
    assert body["model"] == "qwen/qwen3-32b" and body["reasoning_effort"] == "default" and body["max_tokens"] == 2000
    assert "store" not in body and body["messages"][0]["role"] == "system"


# --------------------------------------------------------------------------- options on the wire


def _sent(server: ReplayServer, model: Model, context: Context = CONTEXT, **options: Any) -> dict[str, Any]:
    """The body the server recorded for one call (a short text answer is enqueued for it)."""
    server.enqueue(Replay(_text_payloads(1)))
    events = collect(model, context, **options)
    assert isinstance(events[-1], Done), events[-1].message.error_message
    body: dict[str, Any] = server.last_request.json
    return body


def test_every_carried_option_reaches_the_server(server: ReplayServer) -> None:
    from alchemy.types import Tool

    weather = Tool("weather", "Weather in a city", {"type": "object", "properties": {"city": {"type": "string"}}})
    context = Context(messages=[UserMessage("Weather in Paris?")], tools=[weather])
    body = _sent(
        server,
        model_for(server),
        context,
        temperature=0.3,
        max_tokens=64,
        stop=["END", "STOP"],
        top_p=0.9,
        top_k=40,
        seed=11,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        top_logprobs=2,
        parallel_tool_calls=False,
        tool_choice={"name": "weather"},
        user="user-7",
        metadata={"run": "r-1"},
        service_tier="flex",
        prompt_cache_key="cache-1",
        extra_body={"repetition_penalty": 1.05, "stream_options": {"continuous_usage_stats": True}},
        extra_headers={"X-Trace": "t-1"},
    )
    expected = {
        "temperature": 0.3,
        "max_tokens": 64,
        "stop": ["END", "STOP"],
        "top_p": 0.9,
        "top_k": 40,
        "seed": 11,
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
        "logprobs": True,
        "top_logprobs": 2,
        "parallel_tool_calls": False,
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "metadata": {"run": "r-1"},
        "service_tier": "flex",
        "prompt_cache_key": "cache-1",
        "repetition_penalty": 1.05,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    }
    assert {k: body.get(k) for k in expected} == expected
    assert body["tools"][0]["function"]["name"] == "weather"
    assert server.last_request.headers["x-trace"] == "t-1"


def test_openai_gets_the_openai_spelling(server: ReplayServer) -> None:
    model = dataclasses.replace(model_for(server), provider="openai", id="gpt-5.2")
    body = _sent(server, model, max_tokens=32, user="u-1", session_id="s-1", reasoning="max")
    assert body["store"] is False and body["max_completion_tokens"] == 32 and body["user"] == "u-1"
    assert body["prompt_cache_key"] == "s-1" and body["reasoning_effort"] == "xhigh"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"reasoning_effort": "ultra"}, ValueError),
        ({"service_tier": "cheap"}, ValueError),
        ({"response_format": "yaml"}, ValueError),
        ({"prompt_cache_key": ""}, ValueError),
        ({"compat": {"not_a_flag": 1}}, ValueError),
        ({"compat": {"thinking_format": "deep"}}, ValueError),
        ({"stop": [""]}, ValueError),
        ({"top_k": "many"}, TypeError),
        ({"top_logprobs": 99}, ValueError),
        ({"tool_choice": "bogus"}, ValueError),
        ({"tool_choice": {"name": "missing"}}, ValueError),
        ({"thinking_budgets": {"high": -1}}, ValueError),
        ({"reasoning": "ultra"}, ValueError),
        ({"connect_timeout": "5"}, TypeError),
    ],
)
def test_bad_values_raise_before_any_request(
    server: ReplayServer, options: dict[str, Any], error: type[Exception]
) -> None:
    server.enqueue(Replay(_text_payloads(1)))
    with pytest.raises(error):
        alchemy.stream(model_for(server), CONTEXT, api_key=KEY, **options)
    assert server.requests == []


@pytest.mark.parametrize(
    ("model_changes", "options"),
    [
        ({"provider": "openai", "id": "gpt-5.2"}, {"top_k": 5}),  # OpenAI has no top_k
        ({"provider": "openai", "id": "gpt-5.2"}, {"metadata": {"run": "r"}}),  # OpenAI: metadata needs store
        ({"provider": "openai", "id": "o3"}, {"reasoning": "off"}),  # o3 always reasons
    ],
)
def test_what_the_model_cannot_honour_raises_before_any_request(
    server: ReplayServer, model_changes: dict[str, Any], options: dict[str, Any]
) -> None:
    model = dataclasses.replace(model_for(server), **model_changes)
    with pytest.raises(ValueError):
        alchemy.stream(model, CONTEXT, api_key=KEY, **options)
    with pytest.raises(ValueError):
        alchemy.stream_simple(model, CONTEXT, api_key=KEY, **options)
    assert server.requests == []


LEVELS = ("off", "minimal", "low", "medium", "high", "xhigh", "max")


@pytest.mark.parametrize(
    ("changes", "field", "wire"),
    [
        (
            {"provider": "openai", "id": "gpt-5.2"},
            "reasoning_effort",
            ["none", "low", "low", "medium", "high", "xhigh", "xhigh"],
        ),
        (
            {"id": "anthropic/claude-sonnet-4.5", "compat": {"thinking_format": "openrouter"}},
            "reasoning",
            [{"effort": e} for e in ("none", "minimal", "low", "medium", "high", "high", "high")],
        ),
        (
            {"id": "openai/gpt-5.2", "compat": {"thinking_format": "openrouter"}},
            "reasoning",
            [{"effort": e} for e in ("none", "low", "low", "medium", "high", "xhigh", "xhigh")],
        ),
        (
            {"id": "acme/budgets", "compat": {"thinking_format": "openrouter", "reasoning_budget_only": True}},
            "reasoning",
            [{"enabled": False}] + [{"max_tokens": n} for n in (1024, 2048, 8192, 16384, 16384, 16384)],
        ),
        (
            {"id": "deepseek-reasoner", "compat": {"thinking_format": "deepseek"}},
            "thinking",
            [{"type": "disabled"}] + [{"type": "enabled"}] * 6,
        ),
        (
            {"id": "qwen3-8b", "compat": {"thinking_format": "chat-template"}},
            "chat_template_kwargs",
            [{"enable_thinking": False}] + [{"enable_thinking": True}] * 6,
        ),
        (
            {"id": "glm-4.6", "compat": {"thinking_format": "zai"}},
            "thinking",
            [{"type": "disabled"}] + [{"type": "enabled"}] * 6,
        ),
    ],
)
def test_every_reasoning_level_on_the_wire(
    server: ReplayServer, changes: dict[str, Any], field: str, wire: list[Any]
) -> None:
    model = dataclasses.replace(model_for(server), **changes)
    sent = [_sent(server, model, reasoning=level).get(field) for level in LEVELS]
    assert sent == wire


def test_deepseek_effort_and_replayed_reasoning_on_the_wire(server: ReplayServer) -> None:
    from alchemy.types import TextContent, Tool, ToolResultMessage

    model = dataclasses.replace(model_for(server), id="deepseek-reasoner", compat={"thinking_format": "deepseek"})
    tool = Tool("clock", "The time", {"type": "object", "properties": {}})
    call = {
        "id": "c3",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "reasoning_content": "I need the time.",
                    "tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "clock", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    server.enqueue(Replay([call]))
    asked = Context(messages=[UserMessage("time?")], tools=[tool])
    first = alchemy.complete(model, asked, api_key=KEY, reasoning="high")
    assert first.stop_reason == "toolUse" and first.thinking == "I need the time."
    assert server.last_request.json["reasoning_effort"] == "high"
    context = Context(
        messages=[UserMessage("time?"), first, ToolResultMessage("call_1", "clock", [TextContent("noon")])],
        tools=[tool],
    )
    body = _sent(server, model, context, reasoning="high")
    assert body["messages"][1]["reasoning_content"] == "I need the time."
    assert body["thinking"] == {"type": "enabled"} and body["reasoning_effort"] == "high"


def test_logprobs_arrive_on_the_message(server: ReplayServer) -> None:
    def token(text: str, logprob: float) -> dict[str, Any]:
        entry = {"token": text, "logprob": logprob, "bytes": list(text.encode())}
        return {**entry, "top_logprobs": [entry]}

    payloads = [
        {
            "id": "c4",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": word},
                    "logprobs": {"content": [token(word, -0.5 * i)]},
                    "finish_reason": None,
                }
            ],
        }
        for i, word in enumerate(("Hello", " there"))
    ]
    payloads.append({"id": "c4", "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    for mode in ("sync", "async"):
        server.enqueue(Replay(payloads, chunking="bytes=9"))
        events = (collect if mode == "sync" else acollect)(model_for(server), logprobs=True, top_logprobs=1)
        message = assert_protocol(events)
        assert [(p.token, p.logprob, p.top) for p in message.logprobs or []] == [
            ("Hello", 0.0, (("Hello", 0.0),)),
            (" there", -0.5, ((" there", -0.5),)),
        ]
        assert server.last_request.json["logprobs"] is True and server.last_request.json["top_logprobs"] == 1
