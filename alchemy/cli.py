"""The ``alchemy`` command: ``demo``, ``chat`` and ``models``.

* ``alchemy demo`` starts the bundled replay server on 127.0.0.1 and streams a
  recorded conversation through the whole stack — provider, SSE decoder, JSON delta
  merger, event buffer — printing thinking, text and a tool call whose arguments
  grow live, then the stop reason, usage, cost and stream metrics. No key, no
  network.
* ``alchemy chat -m provider/model "prompt"`` streams from a real provider with the
  key from the environment.
* ``alchemy models`` lists the registry; ``alchemy models show provider/model``
  prints one model.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from . import wire_apis

if TYPE_CHECKING:
    from .streaming import AssistantMessageEventStream
    from .types import AssistantMessage, Model

__all__ = ["DEMO_MODELS", "main"]

DEMO_MODELS: dict[str, str] = {
    wire_apis.OPENAI_COMPLETIONS.name: "deepseek/deepseek-reasoner",
    wire_apis.ANTHROPIC_MESSAGES.name: "anthropic/claude-sonnet-4-5-20250929",
    wire_apis.OPENAI_RESPONSES.name: "openai/gpt-5-mini",
    wire_apis.GOOGLE_GENERATIVE_AI.name: "google/gemini-2.5-flash",
    wire_apis.BEDROCK_CONVERSE_STREAM.name: "amazon-bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
    wire_apis.MISTRAL_CONVERSATIONS.name: "mistral/magistral-medium-latest",
}
"""The registry model each bundled recording is replayed as (prices come from it): one per
wire format of :mod:`alchemy.wire_apis` (the APIs that share a format share its recording)."""
DEFAULT_DEMO_API = wire_apis.OPENAI_COMPLETIONS.name

DEMO_PROMPT = "What's the weather like in Paris right now?"


class Style:
    """ANSI styling, only on a terminal and only without ``NO_COLOR``."""

    def __init__(self, out: TextIO) -> None:
        self.enabled = out.isatty() and not os.environ.get("NO_COLOR")

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.enabled else text

    def red(self, text: str) -> str:
        return f"\x1b[31m{text}\x1b[0m" if self.enabled else text


# --------------------------------------------------------------------------- rendering


def render_stream(events: AssistantMessageEventStream, out: TextIO) -> AssistantMessage:
    """Prints a stream as it arrives: thinking dimmed, text plain, tool calls with live arguments."""
    import orjson

    from .events import (
        Error,
        TextDelta,
        TextEnd,
        ThinkingDelta,
        ThinkingEnd,
        ThinkingStart,
        ToolCallDelta,
        ToolCallEnd,
        ToolCallStart,
    )
    from .types import ToolCall

    style = Style(out)
    live = out.isatty()
    shown = ""  # the arguments last printed: fragments that change nothing print nothing
    for event in events:
        if isinstance(event, ThinkingStart):
            out.write(style.dim("[thinking] "))
        elif isinstance(event, ThinkingDelta):
            out.write(style.dim(event.delta))
        elif isinstance(event, (ThinkingEnd, TextEnd, Error)):
            out.write("\n")
        elif isinstance(event, TextDelta):
            out.write(event.delta)
        elif isinstance(event, (ToolCallStart, ToolCallDelta)):
            call = event.partial.content[event.content_index]
            assert isinstance(call, ToolCall)
            title = style.bold(f"[tool call] {call.name}")
            if isinstance(event, ToolCallStart):
                out.write(title + " ")
                shown = ""
                continue
            arguments = orjson.dumps(call.arguments).decode()
            if arguments == shown:
                continue
            shown = arguments
            if live:
                out.write(f"\r\x1b[2K{title} {arguments}")
            else:
                out.write(f"\n    {arguments}")
        elif isinstance(event, ToolCallEnd):
            out.write(f"\n  -> {orjson.dumps(event.tool_call.arguments).decode()}\n")
        out.flush()
    return events.result()


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.6f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def render_summary(message: AssistantMessage, out: TextIO) -> None:
    """The stop reason, usage, cost and stream metrics of a finished message."""
    style = Style(out)
    usage = message.usage
    if message.stop_reason in ("error", "aborted"):
        out.write(style.red(f"{message.stop_reason}: {message.error_message}") + "\n")
    out.write(f"stop reason  {message.stop_reason}\n")
    reasoning = f" ({usage.reasoning} reasoning)" if usage.reasoning else ""
    estimated = " (estimated)" if usage.estimated else ""
    out.write(
        f"usage        input {usage.input}, output {usage.output}{reasoning}, cache read {usage.cache_read}, "
        f"cache write {usage.cache_write}, total {usage.total_tokens}{estimated}\n"
    )
    cost = usage.cost
    out.write(
        f"cost         {_money(cost.total)} (input {_money(cost.input)}, output {_money(cost.output)}, "
        f"cache read {_money(cost.cache_read)}, cache write {_money(cost.cache_write)})\n"
    )
    metrics = message.metrics
    if metrics is not None:
        rate = f", {metrics.output_tokens_per_second:,.0f} tokens/s" if metrics.output_tokens_per_second else ""
        retries = f", {metrics.retries} retries" if metrics.retries else ""
        out.write(
            f"stream       first byte {_seconds(metrics.time_to_first_byte)}, first content "
            f"{_seconds(metrics.time_to_first_content)}, total {_seconds(metrics.duration)}; "
            f"{metrics.bytes_received:,} bytes in {metrics.chunks} chunks, {metrics.events} events{rate}{retries}\n"
        )


# --------------------------------------------------------------------------- demo


def demo_context() -> Any:
    from .types import Context, Tool, UserMessage

    weather = Tool(
        name="get_weather",
        description="Current weather for a city.",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    )
    return Context(
        system_prompt="You are a concise assistant. Use tools when they help.",
        messages=[UserMessage(DEMO_PROMPT)],
        tools=[weather],
    )


def demo_model(api: str, base_url: str) -> Model:
    """The registry model of ``api``'s recording, pointed at the replay server."""
    from .models import get_model

    model = get_model(DEMO_MODELS[api])
    return dataclasses.replace(model, base_url=base_url)


def run_demo(apis: Sequence[str], *, delay: float, chunking: str, out: TextIO) -> int:
    from . import IMPLEMENTATION, stream
    from .testing import Replay, ReplayServer

    style = Style(out)
    failures = 0
    with ReplayServer() as server:
        out.write(
            style.dim(
                f"alchemy demo: recorded streams replayed by a local server at {server.base_url} "
                f"(no key, no network); kernels: {IMPLEMENTATION}\n"
            )
        )
        for api in apis:
            server.default = Replay(api=api, delay=delay, chunking=chunking)
            model = demo_model(api, server.base_url_for(api))
            out.write("\n" + style.bold(f"== {model.provider}/{model.id} via {api} ==") + "\n")
            out.write(style.dim(f"user: {DEMO_PROMPT}") + "\n")
            options: dict[str, Any] = {"api_key": "demo-key-not-secret"}
            if api == wire_apis.BEDROCK_CONVERSE_STREAM.name:
                options["region"] = "us-east-1"
            with stream(model, demo_context(), **options) as events:
                message = render_stream(events, out)
            render_summary(message, out)
            if message.stop_reason in ("error", "aborted"):
                failures += 1
    return 1 if failures else 0


# --------------------------------------------------------------------------- chat and models


def run_chat(args: argparse.Namespace, out: TextIO) -> int:
    from . import stream, stream_simple
    from .models import get_model
    from .types import Context, UserMessage

    model = get_model(args.model)
    context = Context(system_prompt=args.system, messages=[UserMessage(args.prompt)])
    options: dict[str, Any] = {}
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        options["temperature"] = args.temperature
    if args.reasoning:
        events = stream_simple(model, context, reasoning=args.reasoning, **options)
    else:
        events = stream(model, context, **options)
    with events:
        message = render_stream(events, out)
    out.write("\n")
    render_summary(message, out)
    return 1 if message.stop_reason in ("error", "aborted") else 0


def _price(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def run_models(args: argparse.Namespace, out: TextIO) -> int:
    from .models import get_model, get_models

    if args.action == "show":
        if not args.key:
            out.write("usage: alchemy models show provider/model\n")
            return 2
        model = get_model(args.key)
        caps = model.caps
        rows = [
            ("model", model.key),
            ("name", model.name),
            ("api", model.api),
            ("base url", model.base_url),
            ("key variables", ", ".join(model.env_keys) or "-"),
            ("vendor", model.vendor or "-"),
            ("context window", f"{model.context_window:,}" if model.context_window else "unknown"),
            ("max output", f"{model.max_tokens:,}" if model.max_tokens else "unknown"),
            ("input", ", ".join(model.input)),
            (
                "price $/M",
                f"input {_price(model.cost.input)}, output {_price(model.cost.output)}, "
                f"cache read {_price(model.cost.cache_read)}, cache write {_price(model.cost.cache_write)}",
            ),
            ("status", model.status or "available"),
            ("knowledge", model.knowledge or "-"),
            ("released", model.release_date or "-"),
        ]
        supported = [f.name.removeprefix("supports_") for f in dataclasses.fields(caps) if getattr(caps, f.name)]
        rows.append(("supports", ", ".join(supported)))
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            out.write(f"{label.ljust(width)}  {value}\n")
        return 0
    filters: dict[str, Any] = {}
    for flag in ("vision", "tools", "reasoning"):
        if getattr(args, flag):
            filters[flag] = True
    models = get_models(args.provider, **filters)
    header = ("model", "api", "context", "max out", "$in/M", "$out/M", "flags")
    rows_out = []
    for model in models:
        caps = model.caps
        flags = "".join(
            mark for mark, on in (("V", caps.supports_vision), ("T", caps.supports_tools), ("R", caps.supports_reasoning)) if on
        )
        rows_out.append(
            (
                model.key,
                model.api,
                f"{model.context_window:,}" if model.context_window else "?",
                f"{model.max_tokens:,}" if model.max_tokens else "?",
                _price(model.cost.input),
                _price(model.cost.output),
                flags,
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows_out]) for i in range(len(header))]
    for row in [header, *rows_out]:
        out.write("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")
    out.write(f"{len(rows_out)} models (flags: V vision, T tools, R reasoning)\n")
    return 0


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alchemy", description="One streaming API over every major LLM provider.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="stream recorded conversations through the full stack (no key, no network)")
    demo.add_argument(
        "--api",
        default=DEFAULT_DEMO_API,
        help=f"which recording to replay: {', '.join(DEMO_MODELS)} or all (default {DEFAULT_DEMO_API})",
    )
    demo.add_argument("--delay", type=float, default=0.02, help="seconds between streamed events (default 0.02)")
    demo.add_argument("--chunking", default="event", help="event, bytes=N or random=SEED (default event)")

    chat = commands.add_parser("chat", help="stream one answer from a real provider (key from the environment)")
    chat.add_argument("-m", "--model", required=True, help="provider/model, e.g. anthropic/claude-sonnet-4-5")
    chat.add_argument("prompt")
    chat.add_argument("--system", default=None, help="system prompt")
    chat.add_argument("--reasoning", choices=("minimal", "low", "medium", "high", "xhigh"), default=None)
    chat.add_argument("--max-tokens", type=int, default=None)
    chat.add_argument("--temperature", type=float, default=None)

    models = commands.add_parser("models", help="list the model registry, or show one model")
    models.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    models.add_argument("key", nargs="?", help="provider/model, with show")
    models.add_argument("--provider", default=None)
    models.add_argument("--vision", action="store_true")
    models.add_argument("--tools", action="store_true")
    models.add_argument("--reasoning", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out
    args = build_parser().parse_args(argv)
    from .errors import AlchemyError

    try:
        if args.command == "demo":
            apis = list(DEMO_MODELS) if args.api == "all" else [args.api]
            unknown = [api for api in apis if api not in DEMO_MODELS]
            if unknown:
                out.write(f"alchemy demo: no recording for {unknown[0]!r}; choose {', '.join(DEMO_MODELS)} or all\n")
                return 2
            return run_demo(apis, delay=args.delay, chunking=args.chunking, out=out)
        if args.command == "chat":
            return run_chat(args, out)
        return run_models(args, out)
    except AlchemyError as exc:
        out.write(f"alchemy: {exc}\n")
        return 2
    except KeyboardInterrupt:
        out.write("\ninterrupted\n")
        return 130
