"""OpenTelemetry GenAI spans and metrics of Client calls, read back through the SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from support import (  # noqa: F401 (fixtures)
    ROOT,
    bundled_registry,
    no_base_url_override,
    replay_server,
    wire_model,
)

from alchemy import AssistantMessage, Client, Context, UserMessage
from alchemy.accounting.telemetry import Telemetry, auto_telemetry, provider_name
from alchemy.testing import Drop, Replay, ReplayServer

COMPLETIONS = "openai-completions"
ANTHROPIC = "anthropic-messages"
KEYS = {"groq": "groq-key-not-real", "anthropic": "anthropic-key-not-real"}
HI = Context(system_prompt="Be brief.", messages=[UserMessage("hi")])
MODES = ("sync", "async")


@dataclass
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    telemetry: Telemetry

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def call_span(self) -> ReadableSpan:
        [span] = [span for span in self.finished() if span.parent is None]
        return span

    def attempt_spans(self) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.parent is not None and "alchemy.attempt" in (span.attributes or {})]

    def try_spans(self) -> list[ReadableSpan]:
        """The spans of the retried tries, in the order they started."""
        tries = [span for span in self.finished() if "alchemy.try" in (span.attributes or {})]
        return sorted(tries, key=lambda span: span.start_time or 0)

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


def make_otel(capture_content: bool = False) -> Otel:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    telemetry = Telemetry(
        tracer_provider=tracer_provider, meter_provider=meter_provider, capture_content=capture_content
    )
    return Otel(spans, reader, telemetry)


@pytest.fixture
def otel() -> Otel:
    return make_otel()


@pytest.fixture
def server(replay_server: ReplayServer) -> Iterator[ReplayServer]:  # noqa: F811
    replay_server.reset()
    yield replay_server


def chain(server: ReplayServer, *apis: str) -> list[Any]:
    return [wire_model(api, server.base_url_for(api)) for api in apis]


def run(client: Client, models: Any, mode: str, **options: Any) -> AssistantMessage:
    if mode == "sync":
        with client.stream(models, HI, **options) as events:
            for _ in events:
                pass
            return events.result()

    async def go() -> AssistantMessage:
        async with client.astream(models, HI, **options) as events:
            async for _ in events:
                pass
            return await events.result()

    return asyncio.run(go())


def client(otel: Otel, **settings: Any) -> Client:
    return Client(api_keys=KEYS, telemetry=otel.telemetry, **{"max_retries": 0, **settings})


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("mode", MODES)
def test_a_call_makes_one_client_span_with_the_genai_attributes(server: ReplayServer, otel: Otel, mode: str) -> None:
    message = run(client(otel), chain(server, COMPLETIONS), mode, temperature=0.5, max_tokens=100, top_p=0.9)
    assert message.stop_reason == "toolUse"  # the bundled recording calls a tool
    span = otel.call_span()
    attributes = dict(span.attributes or {})
    port = int(server.base_url_for(COMPLETIONS).split(":")[2].split("/")[0])
    assert span.name == "chat llama-3.3-70b-versatile" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    usage = message.usage
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "groq",
        "gen_ai.request.model": "llama-3.3-70b-versatile",
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.top_p": 0.9,
        "server.address": "127.0.0.1",
        "server.port": port,
        "gen_ai.response.model": message.model,
        "gen_ai.response.id": message.response_id,
        "gen_ai.response.finish_reasons": ("tool_call",),
        "gen_ai.usage.input_tokens": usage.input + usage.cache_read + usage.cache_write,
        "gen_ai.usage.output_tokens": usage.output,
        "gen_ai.response.time_to_first_chunk": attributes["gen_ai.response.time_to_first_chunk"],
        "alchemy.response.provider": "groq",
        "alchemy.retries": 0,
        "gen_ai.usage.reasoning.output_tokens": usage.reasoning,
        **{key: value for key, value in attributes.items() if key.startswith("gen_ai.usage.cache")},
    }
    assert usage.output > 0 and usage.reasoning > 0 and message.response_id
    assert "error.type" not in attributes and "gen_ai.input.messages" not in attributes


@pytest.mark.parametrize("mode", MODES)
def test_the_first_token_is_an_event_inside_the_span(server: ReplayServer, otel: Otel, mode: str) -> None:
    message = run(client(otel), chain(server, ANTHROPIC), mode)
    span = otel.call_span()
    [event] = span.events
    assert event.name == "gen_ai.first_token"
    assert message.metrics is not None
    assert event.attributes == {"gen_ai.response.time_to_first_chunk": message.metrics.time_to_first_content}
    assert span.start_time is not None and span.end_time is not None
    assert span.start_time <= event.timestamp <= span.end_time


def test_a_single_model_has_no_attempt_spans(server: ReplayServer, otel: Otel) -> None:
    run(client(otel), chain(server, ANTHROPIC), "sync")
    assert otel.attempt_spans() == [] and otel.try_spans() == []
    assert (otel.call_span().attributes or {})["alchemy.retries"] == 0


def test_metrics_record_duration_and_token_usage(server: ReplayServer, otel: Otel) -> None:
    message = run(client(otel), chain(server, ANTHROPIC), "sync")
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.sum > 0
    assert duration.attributes["gen_ai.operation.name"] == "chat"
    assert duration.attributes["gen_ai.provider.name"] == "anthropic"
    assert duration.attributes["gen_ai.request.model"] == "claude-sonnet-4-5"
    assert "error.type" not in duration.attributes
    assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04]
    tokens = {point.attributes["gen_ai.token.type"]: point for point in otel.points("gen_ai.client.token.usage")}
    usage = message.usage
    assert tokens["input"].sum == usage.input + usage.cache_read + usage.cache_write
    assert tokens["output"].sum == usage.output > 0
    assert list(tokens["input"].explicit_bounds)[:3] == [1, 4, 16]
    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1
    attributes = otel.call_span().attributes or {}
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == usage.cache_read > 0
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes  # none written: left out


def test_tags_become_span_attributes(server: ReplayServer, otel: Otel) -> None:
    run(client(otel), chain(server, COMPLETIONS), "sync", tags={"user": "u1", "feature": "search"})
    attributes = otel.call_span().attributes or {}
    assert attributes["alchemy.tag.user"] == "u1" and attributes["alchemy.tag.feature"] == "search"


def test_the_telemetry_runs_per_call_never_per_chunk(server: ReplayServer) -> None:
    steps: list[str] = []

    class Counted(Telemetry):
        __slots__ = ()

        def call_started(self, call: Any) -> Any:
            steps.append("call_started")
            return super().call_started(call)

        def attempt_started(self, state: object, attempt: Any) -> None:
            steps.append("attempt_started")
            super().attempt_started(state, attempt)

        def attempt_ended(self, state: object, attempt: Any, message: AssistantMessage) -> None:
            steps.append("attempt_ended")
            super().attempt_ended(state, attempt, message)

        def call_finished(self, state: object, message: AssistantMessage) -> None:
            steps.append("call_finished")
            super().call_finished(state, message)

    server.enqueue(Replay(chunking="bytes=8"))
    message = run(Client(api_keys=KEYS, max_retries=0, telemetry=Counted()), chain(server, ANTHROPIC), "sync")
    assert message.metrics is not None and message.metrics.chunks > 100
    assert steps == ["call_started", "attempt_started", "attempt_ended", "call_finished"]


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("replay", "kind"),
    [
        (Replay.http_error(401), "auth"),
        (Replay.http_error(500), "server"),
        (Replay.http_error(429, retry_after=0), "rate_limit"),
        (Replay(faults=(Drop(before_headers=True),)), "connection"),
        (Replay(faults=(Drop(after_events=4),)), "connection"),
    ],
)
def test_an_error_sets_error_type_and_status(
    server: ReplayServer, otel: Otel, replay: Replay, kind: str, mode: str
) -> None:
    server.enqueue(replay)
    message = run(client(otel), chain(server, ANTHROPIC), mode)
    assert message.error is not None and message.error.kind == kind
    for span in (otel.call_span(), *otel.attempt_spans()):
        assert (span.attributes or {})["error.type"] == kind
        assert span.status.status_code is StatusCode.ERROR
    assert (otel.call_span().attributes or {})["gen_ai.response.finish_reasons"] == ("error",)
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == kind
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []


@pytest.mark.parametrize("mode", MODES)
def test_an_aborted_stream_ends_its_spans_as_aborted(server: ReplayServer, otel: Otel, mode: str) -> None:
    calls = client(otel)
    models = chain(server, ANTHROPIC)
    if mode == "sync":
        with calls.stream(models, HI) as events:
            next(iter(events))
        message = events.result()
    else:

        async def go() -> AssistantMessage:
            async with calls.astream(models, HI) as events:
                await events.__anext__()
            return await events.result()

        message = asyncio.run(go())
    assert message.stop_reason == "aborted"
    span = otel.call_span()
    attributes = span.attributes or {}
    assert attributes["error.type"] == "aborted" and attributes["gen_ai.response.finish_reasons"] == ("aborted",)
    assert span.status.status_code is StatusCode.ERROR


def test_an_aborted_fallback_chain_ends_its_attempt_span(server: ReplayServer, otel: Otel) -> None:
    with client(otel).stream(chain(server, ANTHROPIC, COMPLETIONS), HI) as events:
        next(iter(events))
    [attempt] = otel.attempt_spans()
    assert (attempt.attributes or {})["error.type"] == "aborted"
    assert (attempt.attributes or {})["gen_ai.provider.name"] == "anthropic"
    assert (otel.call_span().attributes or {})["error.type"] == "aborted"


def test_a_stream_closed_before_it_started_still_ends_its_span(server: ReplayServer, otel: Otel) -> None:
    calls = client(otel)
    calls.stream(chain(server, ANTHROPIC), HI).close()
    span = otel.call_span()
    assert (span.attributes or {})["error.type"] == "aborted"
    assert otel.attempt_spans() == [] and server.requests == []


# --------------------------------------------------------------------------- retries and fallbacks


@pytest.mark.parametrize("mode", MODES)
def test_a_fallback_makes_one_child_span_per_attempt(server: ReplayServer, otel: Otel, mode: str) -> None:
    server.enqueue(Replay.http_error(503), Replay())
    message = run(client(otel), chain(server, COMPLETIONS, ANTHROPIC), mode)
    assert message.provider == "anthropic" and len(message.attempts) == 1
    call = otel.call_span()
    attributes = call.attributes or {}
    assert attributes["gen_ai.request.model"] == "llama-3.3-70b-versatile"
    assert attributes["gen_ai.response.model"] == message.model and attributes["alchemy.fallback_attempts"] == 1
    assert "error.type" not in attributes and call.status.status_code is StatusCode.UNSET
    first, second = sorted(otel.attempt_spans(), key=lambda span: (span.attributes or {})["alchemy.attempt"])
    assert (first.attributes or {})["gen_ai.provider.name"] == "groq"
    assert (first.attributes or {})["error.type"] == "overloaded"
    assert first.status.status_code is StatusCode.ERROR
    assert (second.attributes or {})["gen_ai.provider.name"] == "anthropic"
    assert "error.type" not in (second.attributes or {})
    assert all(span.parent is not None and span.parent.span_id == call.context.span_id for span in (first, second))
    first_end, second_start = first.end_time, second.start_time
    assert first_end is not None and second_start is not None and first_end <= second_start


def test_retries_inside_an_attempt_are_counted_on_its_span(server: ReplayServer, otel: Otel) -> None:
    server.enqueue(Replay.http_error(503, retry_after=0), Replay())
    message = run(Client(api_keys=KEYS, max_retries=1, telemetry=otel.telemetry), chain(server, ANTHROPIC), "sync")
    assert message.stop_reason != "error" and len(server.requests) == 2
    assert (otel.call_span().attributes or {})["alchemy.retries"] == 1

    otel.spans.clear()
    server.enqueue(Replay.http_error(503, retry_after=0), Replay())
    calls = Client(api_keys=KEYS, max_retries=1, telemetry=otel.telemetry)
    run(calls, chain(server, ANTHROPIC, COMPLETIONS), "sync")
    [attempt] = otel.attempt_spans()
    assert (attempt.attributes or {})["alchemy.retries"] == 1


def inside(child: ReadableSpan, parent: ReadableSpan) -> bool:
    """Whether ``child`` starts and ends within ``parent``."""
    times = (parent.start_time, child.start_time, child.end_time, parent.end_time)
    return None not in times and list(times) == sorted(time or 0 for time in times)


@pytest.mark.parametrize("mode", MODES)
def test_each_retry_is_a_child_span_of_the_call_span(server: ReplayServer, otel: Otel, mode: str) -> None:
    server.enqueue(Replay.http_error(503, retry_after=0), Replay.http_error(429, retry_after=0), Replay())
    message = run(client(otel, max_retries=2), chain(server, ANTHROPIC), mode)
    assert message.stop_reason != "error" and len(server.requests) == 3
    call = otel.call_span()
    first, second = otel.try_spans()
    assert otel.attempt_spans() == []  # a single model: the call span is the attempt's
    for number, (span, kind, status) in enumerate(((first, "overloaded", 503), (second, "rate_limit", 429)), 1):
        assert span.name == call.name  # "chat {model}"
        assert span.kind is SpanKind.CLIENT and span.status.status_code is StatusCode.ERROR
        assert span.parent is not None and span.parent.span_id == call.context.span_id
        attributes = span.attributes or {}
        assert attributes["alchemy.try"] == number and attributes["error.type"] == kind
        assert attributes["http.response.status_code"] == status
        assert attributes["gen_ai.provider.name"] == "anthropic" and attributes["gen_ai.operation.name"] == "chat"
        assert inside(span, call)
    assert first.end_time is not None and second.start_time is not None and first.end_time <= second.start_time
    [event] = call.events  # the answering try's first token comes after both
    assert second.end_time is not None and second.end_time <= event.timestamp
    assert "error.type" not in (call.attributes or {}) and (call.attributes or {})["alchemy.retries"] == 2


def test_a_retry_span_lasts_as_long_as_the_runner_saw_it(server: ReplayServer, otel: Otel) -> None:
    server.enqueue(Replay(faults=(Drop(before_headers=True),)), Replay())
    message = run(client(otel, max_retries=1), chain(server, ANTHROPIC), "sync")
    assert message.metrics is not None
    [failed] = message.metrics.tries
    [span] = otel.try_spans()
    assert span.start_time is not None and span.end_time is not None
    assert abs((span.end_time - span.start_time) - (failed.ended_at - failed.started_at) * 1e9) <= 1
    attributes = span.attributes or {}
    assert attributes["error.type"] == "connection" and "http.response.status_code" not in attributes


@pytest.mark.parametrize("mode", MODES)
def test_retries_of_a_fallback_attempt_are_children_of_its_attempt_span(
    server: ReplayServer, otel: Otel, mode: str
) -> None:
    server.enqueue(Replay.http_error(503, retry_after=0), Replay.http_error(503, retry_after=0), Replay())
    message = run(client(otel, max_retries=1), chain(server, COMPLETIONS, ANTHROPIC), mode)
    assert message.provider == "anthropic" and len(server.requests) == 3
    call = otel.call_span()
    first, second = sorted(otel.attempt_spans(), key=lambda span: int(str((span.attributes or {})["alchemy.attempt"])))
    [retry] = otel.try_spans()  # the first attempt's second 503 ended it: only the retried try is a span
    assert retry.parent is not None and retry.parent.span_id == first.context.span_id
    attributes = retry.attributes or {}
    assert attributes["gen_ai.provider.name"] == "groq" and attributes["alchemy.try"] == 1
    assert attributes["error.type"] == "overloaded" and retry.status.status_code is StatusCode.ERROR
    assert inside(retry, first) and inside(first, call)
    assert (first.attributes or {})["alchemy.retries"] == 1 and (second.attributes or {})["alchemy.retries"] == 0
    assert not [span for span in otel.finished() if span.parent is not None and span.parent.span_id == second.context.span_id]


def test_a_call_refused_by_its_budget_makes_no_span(server: ReplayServer, otel: Otel) -> None:
    from alchemy.accounting.budgets import Budget
    from alchemy.errors import BudgetExceededError

    budgeted = client(otel, budgets=[Budget(0.0000001, period=None)])
    with pytest.raises(BudgetExceededError):
        budgeted.stream(chain(server, ANTHROPIC), HI, max_tokens=1000)
    assert otel.finished() == [] and otel.points("gen_ai.client.operation.duration") == []


# --------------------------------------------------------------------------- content


def test_content_is_not_captured_unless_asked(server: ReplayServer, otel: Otel) -> None:
    run(client(otel), chain(server, ANTHROPIC), "sync")
    for span in otel.finished():
        assert not any(key.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system")) for key in span.attributes or {})


def test_content_is_captured_when_enabled(server: ReplayServer) -> None:
    otel = make_otel(capture_content=True)
    message = run(client(otel), chain(server, ANTHROPIC), "sync")
    attributes = otel.call_span().attributes or {}
    assert json.loads(str(attributes["gen_ai.system_instructions"])) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    [output] = json.loads(str(attributes["gen_ai.output.messages"]))
    assert output["role"] == "assistant" and output["finish_reason"] == "tool_call"
    [call] = [part for part in output["parts"] if part["type"] == "tool_call"]
    [tool_call] = [block for block in message.content if block.type == "toolCall"]
    assert (call["id"], call["name"], call["arguments"]) == (tool_call.id, tool_call.name, tool_call.arguments)
    texts = [part["content"] for part in output["parts"] if part["type"] == "text"]
    assert texts and "".join(texts) == "".join(block.text for block in message.content if block.type == "text")


# --------------------------------------------------------------------------- settings and absence


def test_provider_names_follow_the_conventions() -> None:
    assert provider_name("google") == "gcp.gemini" and provider_name("amazon-bedrock") == "aws.bedrock"
    assert provider_name("mistral") == "mistral_ai" and provider_name("xai") == "x_ai"
    assert provider_name("openrouter") == "openrouter"


def test_capture_content_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="capture_content must be a bool, got 'yes'"):
        Telemetry(capture_content="yes")  # type: ignore[arg-type]


def test_auto_telemetry_follows_an_imported_opentelemetry() -> None:
    assert isinstance(auto_telemetry(), Telemetry)  # this module imported it
    assert auto_telemetry() is auto_telemetry()


HIDDEN = textwrap.dedent(
    """
    import sys
    import importlib.abc

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())

    from alchemy import Client, Context, UserMessage
    from alchemy.accounting.telemetry import Telemetry, auto_telemetry
    from alchemy.testing import ReplayServer
    from support import wire_model

    assert auto_telemetry() is None
    try:
        Telemetry()
    except ImportError as exc:
        assert "alchemy-llm[otel]" in str(exc), exc
    else:
        raise AssertionError("Telemetry() built without opentelemetry")
    with ReplayServer() as server:
        model = wire_model("anthropic-messages", server.base_url_for("anthropic-messages"))
        client = Client(api_keys={"anthropic": "not-real"}, max_retries=0)
        message = client.complete(model, Context(messages=[UserMessage("hi")]))
    assert message.stop_reason != "error", message.error_message
    loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
    assert loaded == [], loaded
    print("ok")
    """
)


def test_without_the_package_nothing_is_imported_and_calls_work() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HIDDEN],
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
