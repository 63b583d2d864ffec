"""OpenTelemetry on a Client: its cost per call, and proof that it costs nothing per chunk.

    .venv/bin/python benchmarks/telemetry_overhead.py

Needs ``opentelemetry-sdk`` (the test extra). The SDK's tracer provider sends every
span through a ``SimpleSpanProcessor`` to an exporter that drops it, and its meter
provider records into an ``InMemoryMetricReader``: the figures are the
instrumentation's own work, not an exporter's I/O.

(1) The observer alone, in a tight loop: ``call_started``, ``attempt_started``,
    ``attempt_ended`` and ``call_finished`` of :class:`~alchemy.accounting.telemetry.Telemetry`
    for one call with one attempt (two spans, one event, four histogram records).
(2) End to end against a replay server on 127.0.0.1 (in this process): a Client
    without accounting, with telemetry, and with telemetry and a SQLite ledger (a
    temporary file), on a short Chat Completions answer sent as one write
    per SSE event and the same answer cut into 16-byte writes (many more chunks).
    Interleaved rounds, medians of this process's CPU time per request (the replay
    server's thread included, the same for every setup): on the shared machine, wall
    time varies by more than the overhead measured. The overhead (with - without) is the same for both
    framings, within noise: it is paid per call, not per chunk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared" / "tiktoken"))

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from alchemy import AssistantMessage, Client, Context, Model, UserMessage
from alchemy.accounting import AttemptInfo, CallInfo
from alchemy.accounting.telemetry import Telemetry
from alchemy.testing import Replay, ReplayServer

API = "openai-completions"
KEY = "bench-key-not-real"
HI = Context(messages=[UserMessage("hi")])
RECORDING = "openai-completions-answer"


class Dropping(SpanExporter):
    """Takes every span and keeps none."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def telemetry() -> Telemetry:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Dropping()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)


def model_at(server: ReplayServer) -> Model:
    return Model(id="llama-3.3-70b-versatile", name="llama", api=API, provider="groq", base_url=server.base_url_for(API))


def observer_alone(model: Model, client: Client, message: AssistantMessage, rounds: int) -> float:
    """Microseconds per call of the four observer steps."""
    observer = telemetry()
    plan = client._plans("stream", [model], HI, {"temperature": 0.2, "max_tokens": 256}, simple=False)[0]
    options = MappingProxyType({"temperature": 0.2, "max_tokens": 256})
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            call = CallInfo(client, "stream", False, (model,), HI, options, MappingProxyType({}), time.time(), time.monotonic())
            state = observer.call_started(call)
            attempt = AttemptInfo(call, 0, 1, model, plan.options, time.monotonic())
            observer.attempt_started(state, attempt)
            observer.attempt_ended(state, attempt, message)
            observer.call_finished(state, message)
        best = min(best, (time.perf_counter() - started) / rounds)
    return best * 1e6


def end_to_end(server: ReplayServer, model: Model, rounds: int, per_round: int) -> dict[str, float]:
    """Median CPU microseconds of this process per request, per setup and framing; interleaved rounds."""
    plain = Client(api_keys={"groq": KEY}, telemetry=False)  # not the global (no-op) tracer this import enables
    traced = Client(api_keys={"groq": KEY}, telemetry=telemetry())
    ledger = Path(tempfile.mkdtemp(prefix="alchemy-bench-")) / "usage.sqlite3"
    both = Client(api_keys={"groq": KEY}, telemetry=telemetry(), ledger=str(ledger))
    framings = {"one write per event": "event", "16-byte writes": "bytes=16"}
    calls: dict[str, Callable[[], AssistantMessage]] = {"without": lambda: plain.complete(model, HI)}
    calls["with"] = lambda: traced.complete(model, HI)
    calls["ledger + OTel"] = lambda: both.complete(model, HI)
    samples: dict[str, list[float]] = {}
    for framing, chunking in framings.items():
        server.default = Replay(recording=RECORDING, chunking=chunking)
        for call in calls.values():  # warm the pool and the tokenizer
            call()
        for _ in range(rounds):
            for name, call in calls.items():
                started = time.process_time()
                for _ in range(per_round):
                    call()
                samples.setdefault(f"{framing}, {name}", []).append((time.process_time() - started) / per_round * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=40)
    args = parser.parse_args()
    with ReplayServer(default=Replay(recording=RECORDING)) as server:
        model = model_at(server)
        client = Client(api_keys={"groq": KEY})
        message = client.complete(model, HI)
        assert message.metrics is not None
        print(f"(1) the Telemetry observer alone: {observer_alone(model, client, message, 2000):.1f} µs per call")
        figures = end_to_end(server, model, args.rounds, args.per_round)
        print(f"(2) end to end, median of {args.rounds} interleaved rounds of {args.per_round} requests:")
        for framing in ("one write per event", "16-byte writes"):
            without, with_ = figures[f"{framing}, without"], figures[f"{framing}, with"]
            both = figures[f"{framing}, ledger + OTel"]
            print(f"    {framing:<20} without {without:8.1f}  OTel {with_:8.1f} (+{with_ - without:.1f})  "
                  f"ledger + OTel {both:8.1f} (+{both - without:.1f}) CPU µs/request")
        server.default = Replay(recording=RECORDING, chunking="bytes=16")
        print(f"    chunks per answer: {client.complete(model, HI).metrics.chunks} (16-byte writes), "  # type: ignore[union-attr]
              f"{message.metrics.chunks} (one write per event)")


if __name__ == "__main__":
    main()
