"""The ``alchemy`` command: ``demo``, ``chat`` and ``models``.

* ``alchemy demo`` starts the bundled replay server on 127.0.0.1 and runs a whole
  tool loop from recordings: the model asks for ``get_weather``, the demo runs a
  local Python function, sends the result back and streams the final answer; then it
  prints the Python that does the same. No key, no network.
* ``alchemy chat -m MODEL "prompt"`` streams one answer from a real provider (key
  from the environment). The prompt may come on stdin instead. The answer goes to
  stdout; thinking, progress and stats go to stderr, so ``> answer.txt`` keeps only
  the answer. ``--json`` writes the events as JSON lines, ``--json=final`` the final
  message. ``-o name=value`` passes any call option (see ``alchemy.options``).
* ``alchemy models`` lists the registry to fit the terminal (``--wide``: everything);
  ``models show MODEL``, ``models search WORDS``, ``models providers``.
* ``alchemy check provider/model`` (or a provider) sends one minimal request and
  prints reachability, auth, latency and the rate-limit headers
  (:meth:`alchemy.Client.check`); it exits 0 when the request succeeded, else with
  the error kind's code.
* ``alchemy usage [--since 7d] [--by model|provider|tag:NAME|day] [--json|--csv]``
  sums the usage ledger (:mod:`alchemy.accounting.ledger`): tokens, cost, calls,
  errors by kind, p50 / p95 time to first token, and a bar of cost per day on a
  terminal; ``--export csv|jsonl`` prints the rows.

Exit codes (:data:`EXIT_CODES` maps each error kind of a failed stream): 0 done,
1 an unexpected failure, 2 a usage error (bad arguments, unknown model, provider or
option, a bad option value, no API key), 10-24 the kind of error that ended the
stream, 130 interrupted. A closed output pipe (``alchemy models | head -1``) ends
the command quietly with 141, as a shell reports a process ended by SIGPIPE.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, TextIO

import orjson

from . import wire_apis
from .events import (
    Error,
    ServerToolEnd,
    ServerToolStart,
    TextDelta,
    TextEnd,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from .types import ServerToolCall, TextContent, ToolCall

if TYPE_CHECKING:
    from .client import HealthReport
    from .events import AssistantMessageEvent
    from .types import AssistantMessage, Context, Model, Usage

__all__ = [
    "DEMO_MODELS",
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "MODEL_ALIASES",
    "build_parser",
    "main",
]

DEMO_MODELS: dict[str, str] = {
    wire_apis.OPENAI_COMPLETIONS.name: "deepseek/deepseek-reasoner",
    wire_apis.ANTHROPIC_MESSAGES.name: "anthropic/claude-sonnet-4-5-20250929",
    wire_apis.OPENAI_RESPONSES.name: "openai/gpt-5-mini",
    wire_apis.GOOGLE_GENERATIVE_AI.name: "google/gemini-2.5-flash",
    wire_apis.BEDROCK_CONVERSE_STREAM.name: "amazon-bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0",
    wire_apis.MISTRAL_CONVERSATIONS.name: "mistral/magistral-medium-latest",
    wire_apis.COHERE_CHAT.name: "cohere/command-a-reasoning-08-2025",
}
"""The registry model each bundled recording is replayed as (prices come from it): one per
wire format of :mod:`alchemy.wire_apis` (the APIs that share a format share its recording)."""
DEFAULT_DEMO_API = wire_apis.OPENAI_COMPLETIONS.name

DEMO_PROMPT = "What's the weather like in Paris right now?"
DEMO_SYSTEM = "You are a concise assistant. Use tools when they help."

MODEL_ALIASES: dict[str, str] = {
    "sonnet": "anthropic/claude-sonnet-4-5",
    "opus": "anthropic/claude-opus-4-5",
    "haiku": "anthropic/claude-haiku-4-5",
    "gpt": "openai/gpt-5",
    "gpt-mini": "openai/gpt-5-mini",
    "gemini": "google/gemini-2.5-pro",
    "flash": "google/gemini-2.5-flash",
    "mistral": "mistral/mistral-large-latest",
    "deepseek": "deepseek/deepseek-chat",
}
"""Short names ``-m`` accepts besides any registry key (``provider/id``, or a bare id)."""

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
EXIT_BROKEN_PIPE: Final = 141
EXIT_CODES: dict[str, int] = {
    "rate_limit": 10,
    "overloaded": 11,
    "context_overflow": 12,
    "auth": 13,
    "permission": 14,
    "not_found": 15,
    "invalid_request": 16,
    "content_filter": 17,
    "invalid_output": 18,
    "timeout": 19,
    "connection": 20,
    "server": 21,
    "malformed_response": 22,
    "unknown": 23,
    "circuit_open": 24,
    "aborted": EXIT_INTERRUPTED,
}
"""The exit code of ``alchemy chat`` / ``demo`` per :data:`alchemy.errors.ERROR_KINDS` kind."""

STOP_REASONS: dict[str, str] = {
    "stop": "the answer is complete",
    "length": "cut off at the output token limit (max_tokens)",
    "toolUse": "the model asks for a tool to be run",
    "error": "the stream failed",
    "aborted": "the stream was stopped",
}
"""What each stop reason means, in words (the reasons are pi-ai's spelling)."""


class UsageError(Exception):
    """A command line that cannot run: printed as ``alchemy: ...``, exit code 2."""


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """What the library raises at a call, before anything is sent (a bad model, option, key or
    argument: ``TypeError`` / ``ValueError`` by the house rules), as a :class:`UsageError`."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from exc


class Style:
    """ANSI styling, only on a terminal and only without ``NO_COLOR``."""

    def __init__(self, out: TextIO) -> None:
        self.enabled = _is_tty(out) and not os.environ.get("NO_COLOR")

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.enabled else text

    def red(self, text: str) -> str:
        return f"\x1b[31m{text}\x1b[0m" if self.enabled else text


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def _unicode(stream: TextIO) -> bool:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return encoding.startswith("utf")


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------- streaming output


class StreamPrinter:
    """Prints a stream as it arrives: text on ``answer``; thinking (dimmed) and tool calls, whose
    arguments grow live on a terminal, on ``notes``. ``chat`` splits them over stdout and
    stderr; the demo prints both on stdout."""

    def __init__(self, answer: TextIO, notes: TextIO) -> None:
        self.answer = answer
        self.notes = notes
        self.style = Style(notes)
        self.live = _is_tty(notes)
        self._shown = ""  # the arguments last printed: fragments that change nothing print nothing
        self._open: set[int] = set()  # ids of the streams whose last line is unfinished

    def print(self, event: AssistantMessageEvent) -> None:
        if isinstance(event, ThinkingStart):
            self._write(self.notes, self.style.dim("[thinking] "))
        elif isinstance(event, ThinkingDelta):
            self._write(self.notes, self.style.dim(event.delta))
        elif isinstance(event, (ThinkingEnd, TextEnd)):
            self._end_line(self.notes if isinstance(event, ThinkingEnd) else self.answer)
            block = event.partial.content[event.content_index]
            if isinstance(block, TextContent) and block.citations:
                for citation in block.citations:
                    source = citation.url or citation.filename or citation.file_id or citation.title or citation.kind
                    self._write(self.notes, self.style.dim(f"  [source] {source}"))
                    self._end_line(self.notes)
        elif isinstance(event, TextDelta):
            self._write(self.answer, event.delta)
        elif isinstance(event, (ToolCallStart, ToolCallDelta)):
            call = event.partial.content[event.content_index]
            assert isinstance(call, ToolCall)
            title = self.style.bold(f"[tool call] {call.name}")
            if isinstance(event, ToolCallStart):
                self._shown = ""
                self._write(self.notes, title + " ")
                return
            arguments = _json(call.arguments)
            if arguments != self._shown:
                self._shown = arguments
                self._write(self.notes, f"\r\x1b[2K{title} {arguments}" if self.live else f"\n    {arguments}")
        elif isinstance(event, ToolCallEnd):
            self._write(self.notes, f"\n  -> {_json(event.tool_call.arguments)}")
            self._end_line(self.notes)
        elif isinstance(event, ServerToolStart):
            call = event.partial.content[event.content_index]
            assert isinstance(call, ServerToolCall)
            self._write(self.notes, self.style.bold(f"[{call.name}, run by {call.provider or 'the provider'}] "))
        elif isinstance(event, ServerToolEnd):
            call = event.server_tool_call
            self._write(self.notes, f"{_json(call.input)} -> {call.status.replace('_', ' ')}")
            self._end_line(self.notes)
        elif isinstance(event, Error):  # the error itself is reported once, by the caller
            self._end_line(self.answer)
            self._end_line(self.notes)

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(text)
        stream.flush()
        self._open.add(id(stream))

    def _end_line(self, stream: TextIO) -> None:
        if id(stream) in self._open:
            self._open.discard(id(stream))
            stream.write("\n")
            stream.flush()


class Spinner:
    """An elapsed-time indicator on a terminal until the first event arrives (a thread
    redraws one line of stderr every 0.1 s; :meth:`stop` erases it)."""

    def __init__(self, out: TextIO, label: str) -> None:
        self.out = out
        self.label = label
        self.frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" if _unicode(out) else "|/-\\"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alchemy-spinner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        frame = 0
        while not self._stopped.wait(0.1):
            elapsed = time.monotonic() - started
            self.out.write(f"\r{self.frames[frame % len(self.frames)]} {self.label} {elapsed:.1f} s")
            self.out.flush()
            frame += 1

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._thread.join()
        self.out.write("\r\x1b[2K")
        self.out.flush()


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.6f}"


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def usage_line(usage: Usage) -> str:
    """``312 in (256 cached), 27 out (11 thinking), $0.000146``."""
    cached = f" ({usage.cache_read} cached)" if usage.cache_read else ""
    written = f" ({usage.cache_write} written to cache)" if usage.cache_write else ""
    thinking = f" ({usage.reasoning} thinking)" if usage.reasoning else ""
    estimated = ", estimated" if usage.estimated else ""
    return (
        f"{usage.input + usage.cache_read + usage.cache_write} tokens in{cached}{written}, "
        f"{usage.output} out{thinking}{estimated}, cost {_money(usage.cost.total)}"
    )


def render_stats(message: AssistantMessage, out: TextIO) -> None:
    """The stop reason, tokens, cost and timing of a finished message (never of a failed one)."""
    style = Style(out)
    reason = STOP_REASONS.get(message.stop_reason, "")
    lines = [f"stop    {message.stop_reason} ({reason})", f"usage   {usage_line(message.usage)}"]
    metrics = message.metrics
    if metrics is not None:
        rate = f", {metrics.output_tokens_per_second:,.0f} tokens/s" if metrics.output_tokens_per_second else ""
        retries = f", {metrics.retries} retries" if metrics.retries else ""
        lines.append(
            f"timing  first byte {_milliseconds(metrics.time_to_first_byte)}, "
            f"total {_milliseconds(metrics.duration)}{rate}{retries}"
        )
    out.write(style.dim("\n".join(lines)) + "\n")
    out.flush()


def error_exit_code(message: AssistantMessage) -> int:
    """The exit code of a message that ended ``error`` or ``aborted`` (:data:`EXIT_CODES`)."""
    info = getattr(message, "error", None)
    kind = getattr(info, "kind", None) or ("aborted" if message.stop_reason == "aborted" else "unknown")
    return EXIT_CODES.get(kind, EXIT_FAILURE)


def report_error(message: AssistantMessage, err: TextIO) -> int:
    """Prints why the stream failed, once, and returns its exit code."""
    info = getattr(message, "error", None)
    kind = getattr(info, "kind", None)
    detail = f" [{kind}]" if kind else ""
    err.write(Style(err).red(f"alchemy: {message.error_message or message.stop_reason}{detail}") + "\n")
    err.flush()
    return error_exit_code(message)


# --------------------------------------------------------------------------- demo


def get_weather(city: str, unit: str = "celsius") -> dict[str, object]:
    """Current weather for a city (made-up data: this is the demo's local Python function)."""
    return {"city": city, "temperature": 18 if unit == "celsius" else 64, "unit": unit, "sky": "partly cloudy"}


DEMO_CODE = '''\
import alchemy
from alchemy import Context, UserMessage

@alchemy.tool
def get_weather(city: str, unit: str = "celsius") -> dict:
    """Current weather for a city."""
    return {{"city": city, "temperature": 18, "unit": unit, "sky": "partly cloudy"}}

model = alchemy.get_model("{model}")  # key from {keys}
context = Context(messages=[UserMessage("{prompt}")])
with alchemy.run_tools(model, context, tools=[get_weather]) as run:
    for event in run:  # every turn's events, and one "tool_result" per call run
        if event.type == "text_delta":
            print(event.delta, end="", flush=True)
        elif event.type == "tool_result":  # get_weather ran; its result goes back to the model
            print(f"\\n[{{event.tool_call.name}} returned {{event.result.content[0].text}}]")
print(f"\\n{{run.turns}} turns, cost ${{run.usage.cost.total}}")
'''
"""The Python the demo ends with: the same loop, against the real provider."""


def demo_code(model_key: str, env_keys: Sequence[str]) -> str:
    keys = " or ".join(env_keys) if env_keys else "the environment"
    return DEMO_CODE.format(model=model_key, keys=keys, prompt=DEMO_PROMPT)


def demo_context() -> Context:
    """The demo's question, with ``get_weather`` declared as a plain tool (the benchmarks use it)."""
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
    return Context(system_prompt=DEMO_SYSTEM, messages=[UserMessage(DEMO_PROMPT)], tools=[weather])


def demo_model(api: str, base_url: str) -> Model:
    """The registry model of ``api``'s recording, pointed at the replay server."""
    from .models import get_model

    model = get_model(DEMO_MODELS[api])
    return dataclasses.replace(model, base_url=base_url)


def _demo_options(api: str) -> dict[str, Any]:
    options: dict[str, Any] = {"api_key": "demo-key-not-secret"}
    if api == wire_apis.BEDROCK_CONVERSE_STREAM.name:
        options["region"] = "us-east-1"
    return options


def run_demo(apis: Sequence[str], *, delay: float, chunking: str, out: TextIO) -> int:
    """Replays each API's two recorded turns through :func:`alchemy.run_tools`, then prints the code."""
    from . import IMPLEMENTATION
    from .models import get_model
    from .testing import Replay, ReplayServer

    style = Style(out)
    speed = (
        "compiled (Cython) hot paths"
        if IMPLEMENTATION == "cython"
        else "pure-Python hot paths (ALCHEMY_PURE_PYTHON is set, or no compiled build: same results, slower)"
    )
    worst = EXIT_OK
    with ReplayServer() as server:
        out.write(
            style.dim(
                f"alchemy demo: recorded conversations, streamed by a local server at {server.base_url} "
                f"through the whole library (no key, no network; {speed}).\n"
            )
        )
        for api in apis:
            recording = wire_apis.WIRE_APIS[api].wire_format
            turns = [Replay(name, api=api, delay=delay, chunking=chunking) for name in (recording, f"{recording}-answer")]
            server.enqueue(*turns)
            code = _demo_loop(demo_model(api, server.base_url_for(api)), _demo_options(api), out, style)
            worst = worst or code
            server.clear_queue()
    model = get_model(DEMO_MODELS[apis[0]])
    out.write("\n" + style.bold("The same in your own code, against the real provider:") + "\n\n")
    out.write(demo_code(model.key, model.env_keys))
    out.flush()
    return worst


def _demo_loop(model: Model, options: dict[str, Any], out: TextIO, style: Style) -> int:
    """One whole tool loop through :func:`alchemy.run_tools`, each step said in words."""
    from .function_tools import tool
    from .tool_loop import run_tools
    from .types import Context, UserMessage

    out.write("\n" + style.bold(f"== {model.provider}/{model.id} via the {model.api} API ==") + "\n")
    out.write(
        "1. We send the question and offer one tool, get_weather, which is a Python function of this demo.\n"
        + style.dim(f"   you: {DEMO_PROMPT}")
        + "\n"
    )
    printer = StreamPrinter(out, out)
    context = Context(system_prompt=DEMO_SYSTEM, messages=[UserMessage(DEMO_PROMPT)])
    with run_tools(model, context, tools=[tool(get_weather)], **options) as run:
        for event in run:
            if event.type == "tool_result":
                call = event.tool_call
                arguments = ", ".join(f"{name}={value!r}" for name, value in call.arguments.items())
                returned = " ".join(getattr(block, "text", "") for block in event.result.content)
                out.write(
                    f"2. alchemy checks the arguments against the tool's schema and runs {call.name}({arguments}).\n"
                    f"   It returned {returned}\n"
                    "3. We send that result back; the model reads it and answers:\n"
                )
                continue
            printer.print(event)
            if event.type in ("done", "error"):
                _turn_summary(event.partial, out, style)
        ended = run.result()
    if ended.message.stop_reason in ("error", "aborted"):
        return report_error(ended.message, out)
    out.write(style.dim(f"   whole loop: {ended.turns} turns, {usage_line(ended.usage)}") + "\n")
    return EXIT_OK


def _turn_summary(message: AssistantMessage, out: TextIO, style: Style) -> None:
    if message.stop_reason in ("error", "aborted"):
        return  # reported once, by the caller
    meaning = STOP_REASONS.get(message.stop_reason, "")
    timing = ""
    if message.metrics is not None and message.metrics.time_to_first_byte is not None:
        timing = f"; first byte after {_milliseconds(message.metrics.time_to_first_byte)}"
    out.write(
        style.dim(f'   -> stop reason "{message.stop_reason}": {meaning}; {usage_line(message.usage)}{timing}') + "\n"
    )


# --------------------------------------------------------------------------- chat


def resolve_model(name: str) -> Model:
    """A ``-m`` value: an alias of :data:`MODEL_ALIASES`, else anything ``get_model`` finds."""
    from .models import get_model

    return get_model(MODEL_ALIASES.get(name, name))


def option_value(name: str, text: str, api: str) -> object:
    """``-o name=text`` as the value the option's declared kind takes (a number, a flag, JSON
    for mappings). An undeclared name stays text: the call then names it, with the closest
    option (:func:`alchemy.options.check_options`)."""
    from .options import OPTIONS_BY_NAME
    from .options._kinds import CallableKind, Flag, Instance, Integer, Number

    option = OPTIONS_BY_NAME.get(name)
    if option is None:
        return text
    kind = option.kind_for(api)
    if isinstance(kind, (CallableKind, Instance)):
        raise UsageError(f"option {name} takes a Python object ({kind.describe()}); it cannot be given with -o")
    try:
        if isinstance(kind, Number):
            return float(text)
        if isinstance(kind, Integer):
            return int(text)
    except ValueError:
        raise UsageError(f"option {name} must be {kind.describe()}, got {text!r}") from None
    if isinstance(kind, Flag):
        flags = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
        if text.lower() not in flags:
            raise UsageError(f"option {name} must be true or false, got {text!r}")
        return flags[text.lower()]
    if text.lstrip()[:1] in ("{", "["):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"option {name}: not valid JSON ({exc})") from None
    return text


def parse_options(pairs: Iterable[str], api: str) -> dict[str, Any]:
    """Every ``-o name=value``; a repeated ``stop`` collects its values into a list."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"-o takes name=value, got {pair!r}")
        value = option_value(name, text, api)
        if name == "stop" and name in options:
            previous = options[name]
            options[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            options[name] = value
    return options


def plain_server_tools() -> dict[str, Any]:
    """The server tools ``--server-tool`` names, by kind, made with their default settings: those
    that need no setting (file search and MCP servers do)."""
    from .server_tools import SERVER_TOOL_CLASSES

    plain = {}
    for cls in SERVER_TOOL_CLASSES:
        try:
            plain[cls.kind] = cls()
        except (TypeError, ValueError):
            continue
    return plain


def server_tools_named(names: Iterable[str]) -> list[Any]:
    """The server tool objects, default settings, for ``--server-tool`` names."""
    plain = plain_server_tools()
    return [plain[name] for name in dict.fromkeys(names)]


def read_prompt(prompt: str | None, stdin: TextIO) -> str:
    """The prompt argument, or stdin when it is absent or ``-``."""
    if prompt is not None and prompt != "-":
        return prompt
    if _is_tty(stdin):
        raise UsageError('no prompt: give it as an argument (alchemy chat -m MODEL "...") or pipe it on stdin')
    text = stdin.read()
    if not text.strip():
        raise UsageError("no prompt: stdin was empty")
    return text


def run_chat(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .streaming import stream
    from .types import Context, UserMessage

    with usage_errors():
        model = resolve_model(args.model)
        if args.base_url:
            model = dataclasses.replace(model, base_url=args.base_url)
        options = parse_options(args.option, model.api)
        for name in ("max_tokens", "temperature", "reasoning"):
            value = getattr(args, name)
            if value is not None:
                options[name] = value
        if args.server_tools:
            options["server_tools"] = server_tools_named(args.server_tools)
        context = Context(system_prompt=args.system, messages=[UserMessage(read_prompt(args.prompt, sys.stdin))])
        events = stream(model, context, **options)  # checks the options and the key, sends nothing yet
    printer = None if args.json else StreamPrinter(out, err)
    spinner = Spinner(err, f"waiting for {model.key}") if _is_tty(err) else None
    try:
        with events:
            for event in events:
                if spinner is not None:
                    spinner.stop()
                    spinner = None
                if printer is not None:
                    printer.print(event)
                elif args.json == "events":
                    out.write(_json({k: v for k, v in event.to_dict().items() if k != "partial"}) + "\n")
                    out.flush()
            message = events.result()
    finally:
        if spinner is not None:
            spinner.stop()
    if args.json == "final":
        out.write(_json(message.to_dict()) + "\n")
        out.flush()
    if message.stop_reason in ("error", "aborted"):
        return report_error(message, err)
    if printer is not None:
        render_stats(message, err)
    return EXIT_OK


# --------------------------------------------------------------------------- models


def _price(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _count(value: int | None) -> str:
    return f"{value:,}" if value else "?"


MODEL_COLUMNS: Final = ("model", "api", "context", "max out", "$in/M", "$out/M", "flags")
DROPPED_FIRST: Final = ("api", "max out")
"""Columns given up, in this order, before model ids are shortened to fit the terminal."""
SHORTEST_ID: Final = 24


def model_rows(models: Iterable[Model]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for model in models:
        caps = model.caps
        marks = (("V", caps.supports_vision), ("T", caps.supports_tools), ("R", caps.supports_reasoning))
        flags = "".join(mark for mark, on in marks if on)
        row = (model.key, model.api, _count(model.context_window), _count(model.max_tokens))
        rows.append((*row, _price(model.cost.input), _price(model.cost.output), flags))
    return rows


def shorten(text: str, width: int, ellipsis: str) -> str:
    """``text`` cut in the middle to ``width`` characters (ids differ at both ends)."""
    if len(text) <= width:
        return text
    keep = width - len(ellipsis)
    head = (keep + 1) // 2
    return text[:head] + ellipsis + text[len(text) - (keep - head) :]


def fit_table(
    header: tuple[str, ...], rows: list[tuple[str, ...]], width: int | None, ellipsis: str
) -> tuple[list[tuple[str, ...]], bool]:
    """The table (header first) within ``width`` columns: drops :data:`DROPPED_FIRST` columns,
    then shortens the first column; ``None`` keeps everything. Also says whether ids were cut."""
    table = [header, *rows]
    columns = list(range(len(header)))
    widths = [max(len(row[i]) for row in table) for i in columns]

    def total(kept: list[int]) -> int:
        return sum(widths[i] for i in kept) + 2 * (len(kept) - 1)

    if width is None or total(columns) <= width:
        return table, False
    for name in DROPPED_FIRST:
        if total(columns) <= width or name not in header:
            break
        columns.remove(header.index(name))
    first = max(SHORTEST_ID, widths[0] - max(0, total(columns) - width))
    cut = first < widths[0]
    fitted = [tuple(shorten(row[0], first, ellipsis) if i == 0 else row[i] for i in columns) for row in table]
    return fitted, cut


def write_table(table: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n")


def table_width(out: TextIO, wide: bool) -> int | None:
    """Columns to fit: the terminal's on a terminal, else ``COLUMNS`` if set, else no limit."""
    if wide:
        return None
    if _is_tty(out):
        import shutil

        return shutil.get_terminal_size().columns
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def _unknown_provider(name: str) -> UsageError:
    import difflib

    from .models import get_providers

    close = difflib.get_close_matches(name, get_providers(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return UsageError(f"unknown provider {name!r}{hint} (alchemy models providers lists them)")


def run_models(args: argparse.Namespace, out: TextIO) -> int:
    from .models import PROVIDER_ALIASES, get_models, get_providers, search_models

    words = list(args.words)
    action = words.pop(0) if words and words[0] in ("list", "show", "search", "providers") else "list"
    if action == "show":
        if len(words) != 1:
            raise UsageError("usage: alchemy models show MODEL")
        with usage_errors():
            model = resolve_model(words[0])
        return show_model(model, out)
    if words and action != "search":
        raise UsageError(f"unknown models command {words[0]!r}: use list, show, search or providers")
    if action == "providers":
        providers = get_providers()
        write_table([("provider", "models"), *((p, str(len(get_models(p)))) for p in providers)], out)
        return EXIT_OK
    provider = args.provider
    if provider is not None and provider not in get_providers() and provider not in PROVIDER_ALIASES:
        raise _unknown_provider(provider)
    filters: dict[str, Any] = {flag: True for flag in ("vision", "tools", "reasoning") if getattr(args, flag)}
    if action == "search":
        if not words:
            raise UsageError("usage: alchemy models search WORDS")
        with usage_errors():
            found = search_models(" ".join(words), limit=args.limit if provider is None and not filters else 10_000)
        models = [m for m in found if _matches(m, provider, filters)][: args.limit]
    else:
        models = get_models(provider, **filters)
    table, cut = fit_table(MODEL_COLUMNS, model_rows(models), table_width(out, args.wide), "…" if _unicode(out) else "~")
    write_table(table, out)
    note = "; ids shortened to fit, --wide shows them whole" if cut else ""
    out.write(f"{len(models)} models (flags: V vision, T tools, R reasoning){note}\n")
    return EXIT_OK


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    """``alchemy check TARGET``: one :meth:`alchemy.Client.check`, printed; the exit code says how it went."""
    from .client import Client

    target: Model | str = args.target
    if "/" in args.target or args.target in MODEL_ALIASES:
        target = resolve_model(args.target)
        if args.base_url is not None:
            target = dataclasses.replace(target, base_url=args.base_url)
    elif args.base_url is not None:
        raise UsageError("--base-url needs a model (provider/model), not a provider")
    report = Client().check(target, timeout=args.timeout)
    if args.json:
        out.write(_json(report.to_dict()) + "\n")
    else:
        out.write(check_lines(report))
    if report.ok:
        return EXIT_OK
    return EXIT_CODES.get(report.error_kind or "unknown", EXIT_FAILURE)


def check_lines(report: HealthReport) -> str:
    """A :class:`~alchemy.client.HealthReport` as a few lines of text."""

    def said(value: bool | None, yes: str, no: str) -> str:
        return "not tried" if value is None else yes if value else no

    lines = [
        f"{report.provider}/{report.model}: {'ok' if report.ok else 'FAILED'}",
        f"  reachable  {said(report.reachable, 'yes', 'no')}",
        f"  auth       {said(report.authenticated, 'accepted', 'refused')}",
        f"  latency    {_milliseconds(report.latency)}",
    ]
    if not report.ok:
        status = f" (HTTP {report.status})" if report.status is not None else ""
        lines.append(f"  error      {report.error_kind}{status}: {report.error_message}")
    rate = report.rate_limit
    if rate is not None:
        for what in ("requests", "tokens"):
            remaining, limit = getattr(rate, f"{what}_remaining"), getattr(rate, f"{what}_limit")
            if remaining is not None or limit is not None:
                shown = ("?" if value is None else f"{value:,}" for value in (remaining, limit))
                lines.append(f"  {what:<10} {' of '.join(shown)} left")
    return "\n".join(lines) + "\n"


def _matches(model: Model, provider: str | None, filters: dict[str, Any]) -> bool:
    from .models import PROVIDER_ALIASES

    if provider is not None and model.provider != PROVIDER_ALIASES.get(provider, provider):
        return False
    caps = model.caps
    return all(getattr(caps, f"supports_{flag}") for flag in filters)


def show_model(model: Model, out: TextIO) -> int:
    caps = model.caps
    rows = [
        ("model", model.key),
        ("name", model.name),
        ("api", model.api),
        ("base url", model.base_url),
        ("key variables", ", ".join(model.env_keys) or "-"),
        ("vendor", model.vendor or "-"),
        ("context window", _count(model.context_window)),
        ("max output", _count(model.max_tokens)),
        ("input", ", ".join(model.input)),
        (
            "price $/M",
            f"input {_price(model.cost.input)}, output {_price(model.cost.output)}, "
            f"cache read {_price(model.cost.cache_read)}, cache write {_price(model.cost.cache_write)}",
        ),
        ("status", model.status or "available"),
        ("knowledge", model.knowledge or "-"),
        ("released", model.release_date or "-"),
        ("supports", ", ".join(f.name.removeprefix("supports_") for f in dataclasses.fields(caps) if getattr(caps, f.name))),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"{label.ljust(width)}  {value}\n")
    return EXIT_OK


# --------------------------------------------------------------------------- entry point


def _version() -> str:
    import platform

    from . import IMPLEMENTATION, __version__

    speed = "compiled hot paths" if IMPLEMENTATION == "cython" else "pure-Python hot paths"
    return f"alchemy {__version__} (Python {platform.python_version()}, {speed})"


class _VersionAction(argparse.Action):
    """``--version``, computed only when asked (it imports the package)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(_version() + "\n")
        parser.exit()


EPILOG = """\
exit codes: 0 done; 1 unexpected failure; 2 usage error (bad arguments, unknown model,
provider or option, bad option value, no API key); when a stream fails, its error kind:
10 rate_limit, 11 overloaded, 12 context_overflow, 13 auth, 14 permission, 15 not_found,
16 invalid_request, 17 content_filter, 18 invalid_output, 19 timeout, 20 connection,
21 server, 22 malformed_response, 23 unknown, 24 circuit_open; 130 interrupted; 141 output pipe closed."""


def build_parser() -> argparse.ArgumentParser:
    from .accounting._usage_cli import add_usage_parser
    from .model_facts import THINKING_LEVELS

    parser = argparse.ArgumentParser(
        prog="alchemy",
        description="One streaming API over every major LLM provider.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{demo,chat,models,check,usage}")

    demo = commands.add_parser(
        "demo",
        help="run a whole tool loop from recordings (no key, no network)",
        description="Replays recorded turns: the model calls a tool, a local Python function runs, "
        "the model answers. Then prints the code that does the same against the real provider.",
    )
    demo.add_argument(
        "--api",
        default=DEFAULT_DEMO_API,
        help=f"which recording to replay: {', '.join(DEMO_MODELS)} or all (default {DEFAULT_DEMO_API})",
    )
    demo.add_argument("--delay", type=float, default=0.02, help="seconds between streamed events (default 0.02)")
    demo.add_argument("--chunking", default="event", help="event, bytes=N or random=SEED (default event)")

    aliases = ", ".join(f"{alias} ({key})" for alias, key in MODEL_ALIASES.items())
    chat = commands.add_parser(
        "chat",
        help="stream one answer from a real provider (key from the environment)",
        description="Streams one answer: the text to stdout; thinking, progress and stats to stderr.",
        epilog=f"model aliases: {aliases}",
    )
    chat.add_argument("-m", "--model", required=True, help="provider/model, a bare model id, or an alias (below)")
    chat.add_argument("prompt", nargs="?", help="the prompt; read from stdin when absent or -")
    chat.add_argument("-s", "--system", default=None, help="system prompt")
    chat.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any call option, typed as declared (numbers, true/false, JSON for mappings); repeatable",
    )
    chat.add_argument(
        "--server-tool",
        dest="server_tools",
        action="append",
        default=[],
        choices=list(plain_server_tools()),
        help="a tool the provider runs itself, with its default settings (repeatable)",
    )
    chat.add_argument("--reasoning", choices=THINKING_LEVELS, default=None, help="reasoning level (clamped per model)")
    chat.add_argument("--max-tokens", type=int, default=None)
    chat.add_argument("--temperature", type=float, default=None)
    chat.add_argument("--base-url", default=None, help="send to this URL instead of the model's (a proxy, a local server)")
    # Two flags, not one with an optional value, so that `--json "prompt"` keeps its prompt.
    chat.add_argument("--json", dest="json", action="store_const", const="events", help="every event as a JSON line")
    chat.add_argument("--json=final", dest="json", action="store_const", const="final", help="the final message as JSON")

    models = commands.add_parser(
        "models",
        help="list, search or show the models of the registry",
        description="alchemy models [list] | show MODEL | search WORDS | providers",
    )
    models.add_argument("words", nargs="*", metavar="list|show MODEL|search WORDS|providers")
    models.add_argument("--provider", default=None, help="only this provider's models")
    models.add_argument("--vision", action="store_true", help="only models that take images")
    models.add_argument("--tools", action="store_true", help="only models that call tools")
    models.add_argument("--reasoning", action="store_true", help="only reasoning models")
    models.add_argument("--wide", action="store_true", help="every column and whole ids, whatever the terminal width")
    models.add_argument("--limit", type=int, default=20, help="most results of search (default 20)")

    check = commands.add_parser(
        "check",
        help="check that a provider answers: reachability, auth, latency, rate limits",
        description="Sends one minimal request (16 output tokens at most) and reports what came back.",
    )
    check.add_argument("target", help="provider/model, a model alias, or a provider (its cheapest model)")
    check.add_argument("--base-url", default=None, help="send to this URL instead of the model's")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    check.add_argument("--json", action="store_true", help="the report as JSON")
    add_usage_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Runs the command; returns its exit code (see the module docstring)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        code = _run(argv, out, err)
        out.flush()  # a reader that left shows here, not as a traceback at exit
        return code
    except BrokenPipeError:
        _drop_stdout(out)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return EXIT_INTERRUPTED


def _run(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    from .errors import AlchemyError

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, --version, a usage error: argparse printed it
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    try:
        if args.command == "demo":
            apis = list(DEMO_MODELS) if args.api == "all" else [args.api]
            unknown = [api for api in apis if api not in DEMO_MODELS]
            if unknown:
                raise UsageError(f"no recording for {unknown[0]!r}; choose {', '.join(DEMO_MODELS)} or all")
            return run_demo(apis, delay=args.delay, chunking=args.chunking, out=out)
        if args.command == "chat":
            return run_chat(args, out, err)
        if args.command == "check":
            return run_check(args, out)
        if args.command == "usage":
            from .accounting._usage_cli import run_usage

            return run_usage(args, out)
        return run_models(args, out)
    except (UsageError, AlchemyError) as exc:  # raised before anything was sent: model, options, key
        err.write(f"alchemy: {exc}\n")
        return EXIT_USAGE


def _drop_stdout(out: TextIO) -> None:
    """After the reader of stdout left: point it at /dev/null so the exit flush is quiet too."""
    if out is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
