"""OpenTelemetry for a Client's calls, after the GenAI semantic conventions.

``Client(telemetry=Telemetry())`` (extra ``alchemy-llm[otel]``: ``opentelemetry-api``)
traces every call through the tracer and meter providers the application configured
(the global ones unless given). Per call:

* one ``CLIENT`` span named ``"chat {gen_ai.request.model}"`` (the first model of the
  chain) with ``gen_ai.operation.name``, ``gen_ai.provider.name``,
  ``gen_ai.request.*`` (model, max_tokens, temperature, top_p, top_k, seed,
  frequency/presence penalty, stop sequences), ``server.address`` / ``server.port``
  and, at the end, ``gen_ai.response.model`` / ``id`` / ``finish_reasons``,
  ``gen_ai.usage.*`` (``input_tokens`` counts every input token, cached ones
  included, as the conventions ask; ``cache_read.input_tokens``,
  ``cache_creation.input_tokens``, ``reasoning.output_tokens`` apart) and
  ``error.type`` (the :data:`~alchemy.errors.ErrorKind`, ``aborted`` included) with
  an error status; the tags as ``alchemy.tag.NAME``;
* an event ``gen_ai.first_token`` at the moment the first content arrived, with
  ``gen_ai.response.time_to_first_chunk`` (seconds since the request was sent);
* when the model is a fallback chain, one child span per attempt (``"chat {model}"``,
  its own provider, model, ``alchemy.attempt`` and ``error.type``); a single model's
  one attempt is the call span itself. ``alchemy.retries`` (on the call span and on
  each attempt span) counts the retries the provider runner made inside the attempt;
* one child span per retried try of an attempt, under its attempt span (under the
  call span for a single model): ``"chat {model}"`` with ``alchemy.try`` (from 1),
  ``error.type``, ``http.response.status_code`` when the server answered, and an
  error status. They are made when the attempt ends, from the runner's
  ``message.metrics.tries``, with the start and end times the runner saw;
* the histograms ``gen_ai.client.operation.duration`` (s),
  ``gen_ai.client.token.usage`` ({token}, ``gen_ai.token.type`` input / output) and
  ``gen_ai.client.operation.time_to_first_chunk`` (s), with the conventions' bucket
  boundaries, attributed to the model of the last attempt (the one that answered).

Prompt and completion content (``gen_ai.system_instructions``,
``gen_ai.input.messages``, ``gen_ai.output.messages``, as JSON) are recorded only
with ``capture_content=True``.

Everything runs at the call, at attempt boundaries and at the end, never per event.
Nothing here imports OpenTelemetry until a :class:`Telemetry` is built, and
:func:`auto_telemetry` builds one only when the application already imported it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import orjson

if TYPE_CHECKING:
    from ..types import AssistantMessage, Context, FailedTry, Model
    from . import AttemptInfo, CallInfo

__all__ = ["Telemetry", "auto_telemetry", "provider_name"]

INSTRUMENTATION: Final = "alchemy"

PROVIDER_NAMES: Final[Mapping[str, str]] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gcp.gemini",
    "google-vertex": "gcp.vertex_ai",
    "amazon-bedrock": "aws.bedrock",
    "azure-openai-responses": "azure.ai.openai",
    "azure": "azure.ai.openai",
    "mistral": "mistral_ai",
    "groq": "groq",
    "xai": "x_ai",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "cohere": "cohere",
}
"""alchemy provider -> the conventions' well-known ``gen_ai.provider.name``; others keep their own name."""

FINISH_REASONS: Final[Mapping[str, str]] = {
    "stop": "stop",
    "length": "length",
    "toolUse": "tool_call",
    "error": "error",
    "aborted": "aborted",
}
"""alchemy stop reason -> ``gen_ai.response.finish_reasons`` value."""

REQUEST_OPTIONS: Final[Mapping[str, str]] = {
    "max_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "seed": "gen_ai.request.seed",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "stop": "gen_ai.request.stop_sequences",
}
"""Call option -> the request attribute it becomes."""

TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
FIRST_CHUNK_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

OPERATION: Final = "chat"
FIRST_TOKEN_EVENT: Final = "gen_ai.first_token"


def provider_name(provider: str) -> str:
    """The ``gen_ai.provider.name`` of an alchemy provider."""
    return PROVIDER_NAMES.get(provider, provider)


def auto_telemetry() -> Telemetry | None:
    """A shared :class:`Telemetry` when the application has imported OpenTelemetry, else ``None``.

    It never imports the package itself: an application that configures a tracer
    provider has imported ``opentelemetry.trace`` already; one that has not pays nothing.
    """
    global _auto
    if "opentelemetry.trace" not in sys.modules:
        return None
    if _auto is None:
        _auto = Telemetry()
    return _auto


_auto: Telemetry | None = None


@dataclass(slots=True)
class _CallState:
    """What one call's span needs until it ends."""

    span: Any
    context: Any
    call: CallInfo
    model: Model
    attempts: dict[int, Any] = field(default_factory=dict)
    attempt_started_ns: int = 0
    ended: bool = False


class Telemetry:
    """A :class:`~alchemy.accounting.CallObserver` that traces calls and records the GenAI metrics.

    ``tracer_provider`` / ``meter_provider`` default to OpenTelemetry's global ones;
    ``capture_content`` records prompts and completions on the call span (off by
    default: they may hold personal data). Raises ``ImportError`` naming the extra
    when ``opentelemetry-api`` is not installed.
    """

    __slots__ = ("_capture", "_duration", "_first_chunk", "_status", "_tokens", "_trace", "_tracer")

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None, capture_content: bool = False):
        if not isinstance(capture_content, bool):
            raise TypeError(f"Telemetry() capture_content must be a bool, got {capture_content!r}")
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the package
            raise ImportError(
                "alchemy Telemetry needs opentelemetry-api: pip install 'alchemy-llm[otel]'"
            ) from exc
        from .. import __version__ as own

        self._trace = trace
        self._status = trace.Status
        self._tracer = trace.get_tracer(INSTRUMENTATION, own, tracer_provider)
        meter = metrics.get_meter(INSTRUMENTATION, own, meter_provider)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of the response stream.",
            explicit_bucket_boundaries_advisory=FIRST_CHUNK_BUCKETS,
        )
        self._capture = capture_content

    def __repr__(self) -> str:
        return f"<alchemy Telemetry capture_content={self._capture}>"

    # -- the observer ----------------------------------------------------------------------

    def call_started(self, call: CallInfo) -> _CallState:
        model = call.models[0]
        attributes = _model_attributes(model)
        options = call.options
        for name, key in REQUEST_OPTIONS.items():
            value = options.get(name)
            if value is not None:
                attributes[key] = list(value) if name == "stop" else value
        for name, value in call.tags.items():
            attributes[f"alchemy.tag.{name}"] = value
        if self._capture:
            attributes.update(_input_content(call.context))
        span = self._tracer.start_span(
            f"{OPERATION} {model.id}",
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=int(call.started_at * 1e9),
        )
        return _CallState(span, self._trace.set_span_in_context(span), call, model)

    def attempt_started(self, state: object, attempt: AttemptInfo) -> None:
        assert isinstance(state, _CallState)
        state.attempt_started_ns = time.time_ns()
        state.model = attempt.model
        if len(state.call.models) > 1:
            state.attempts[attempt.number] = self._attempt_span(state, attempt, state.attempt_started_ns)

    def attempt_ended(self, state: object, attempt: AttemptInfo, message: AssistantMessage) -> None:
        assert isinstance(state, _CallState)
        state.model = attempt.model
        if len(state.call.models) == 1:
            return  # the call span is the attempt's
        span = state.attempts.pop(attempt.number, None)
        if span is None:  # refused by a rate limit or breaker before it opened
            span = self._attempt_span(state, attempt)
        metrics = message.metrics
        if metrics is not None:
            span.set_attribute("alchemy.retries", metrics.retries)
            if metrics.tries:
                self._try_spans(state, self._trace.set_span_in_context(span), metrics.tries)
        self._end(span, message)

    def _attempt_span(self, state: _CallState, attempt: AttemptInfo, start_time: int | None = None) -> Any:
        attributes = _model_attributes(attempt.model)
        attributes["alchemy.attempt"] = attempt.number
        return self._tracer.start_span(
            f"{OPERATION} {attempt.model.id}",
            context=state.context,
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=start_time,
        )

    def _try_spans(self, state: _CallState, parent: Any, tries: Sequence[FailedTry]) -> None:
        """One ended child span (in ``parent``, a context) per retried try of the current attempt.

        The tries' times count from the runner's first send, which comes just after the
        attempt started: anchored at the attempt's start (its span's own start), each try
        lies inside the attempt, a little early rather than late.
        """
        anchor = state.attempt_started_ns or int(state.call.started_at * 1e9)
        model = state.model
        shared = _model_attributes(model)
        error = self._trace.StatusCode.ERROR
        for number, failed in enumerate(tries, 1):
            attributes = {**shared, "alchemy.try": number, "error.type": failed.error_kind}
            if failed.status is not None:
                attributes["http.response.status_code"] = failed.status
            span = self._tracer.start_span(
                f"{OPERATION} {model.id}",
                context=parent,
                kind=self._trace.SpanKind.CLIENT,
                attributes=attributes,
                start_time=anchor + int(failed.started_at * 1e9),
            )
            span.set_status(self._status(error, failed.error_kind))
            span.end(end_time=anchor + int(failed.ended_at * 1e9))

    def call_finished(self, state: object, message: AssistantMessage) -> None:
        assert isinstance(state, _CallState)
        if state.ended:
            return
        state.ended = True
        for span in state.attempts.values():  # an attempt the Client did not end (should not happen)
            span.end()
        state.attempts.clear()
        span = state.span
        call = state.call
        attributes = _response_attributes(message)
        metrics = message.metrics
        first = None
        if metrics is not None:
            first = metrics.time_to_first_content
            attributes["alchemy.retries"] = metrics.retries
            if metrics.tries and len(call.models) == 1:  # a chain's tries are under its attempt spans
                self._try_spans(state, state.context, metrics.tries)
        if first is not None:
            attributes["gen_ai.response.time_to_first_chunk"] = first
            span.add_event(
                FIRST_TOKEN_EVENT,
                {"gen_ai.response.time_to_first_chunk": first},
                timestamp=(state.attempt_started_ns or int(call.started_at * 1e9)) + int(first * 1e9),
            )
        if self._capture and message.content:
            attributes["gen_ai.output.messages"] = _output_content(message)
        span.set_attributes(attributes)
        self._end(span, message)
        self._record(state, message, first)

    # -- helpers ---------------------------------------------------------------------------------

    def _end(self, span: Any, message: AssistantMessage) -> None:
        kind = _error_type(message)
        if kind is not None:
            span.set_attribute("error.type", kind)
            span.set_status(self._status(self._trace.StatusCode.ERROR, message.error_message or kind))
        span.end()

    def _record(self, state: _CallState, message: AssistantMessage, first: float | None) -> None:
        """The metrics of a call, attributed to the model of its last attempt (the one that answered)."""
        attributes = _model_attributes(state.model)
        if message.model:
            attributes["gen_ai.response.model"] = message.model
        kind = _error_type(message)
        duration = time.monotonic() - state.call.started
        self._duration.record(duration, attributes if kind is None else {**attributes, "error.type": kind})
        if first is not None and kind is None:
            self._first_chunk.record(first, attributes)
        usage = message.usage
        input_tokens = usage.input + usage.cache_read + usage.cache_write
        if input_tokens or usage.output:
            self._tokens.record(input_tokens, {**attributes, "gen_ai.token.type": "input"})
            self._tokens.record(usage.output, {**attributes, "gen_ai.token.type": "output"})


# --------------------------------------------------------------------------- attributes


def _model_attributes(model: Model) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": provider_name(model.provider),
        "gen_ai.request.model": model.id,
    }
    address = _server(model.base_url)
    if address is not None:
        attributes["server.address"], attributes["server.port"] = address
    return attributes


_servers: dict[str, tuple[str, int] | None] = {}


def _server(base_url: str) -> tuple[str, int] | None:
    """``server.address`` and ``server.port`` of a base URL (cached: a Client has few)."""
    try:
        return _servers[base_url]
    except KeyError:
        pass
    parts = urlsplit(base_url)
    host = parts.hostname
    found = None
    if host:
        try:
            port = parts.port
        except ValueError:
            port = None
        found = (host, port if port is not None else (80 if parts.scheme == "http" else 443))
    if len(_servers) < 1024:
        _servers[base_url] = found
    return found


def _response_attributes(message: AssistantMessage) -> dict[str, Any]:
    usage = message.usage
    attributes: dict[str, Any] = {
        "gen_ai.response.finish_reasons": [FINISH_REASONS.get(message.stop_reason, message.stop_reason)],
        "gen_ai.usage.input_tokens": usage.input + usage.cache_read + usage.cache_write,
        "gen_ai.usage.output_tokens": usage.output,
    }
    if message.model:
        attributes["gen_ai.response.model"] = message.model
    if message.response_id:
        attributes["gen_ai.response.id"] = message.response_id
    if message.provider:
        attributes["alchemy.response.provider"] = message.provider
    if usage.cache_read:
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cache_read
    if usage.cache_write:
        attributes["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write
    if usage.reasoning:
        attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning
    if usage.estimated:
        attributes["alchemy.usage.estimated"] = True
    if message.attempts:
        attributes["alchemy.fallback_attempts"] = len(message.attempts)
    return attributes


def _error_type(message: AssistantMessage) -> str | None:
    if message.stop_reason not in ("error", "aborted"):
        return None
    info = message.error
    if info is not None:
        return str(info.kind)
    return "aborted" if message.stop_reason == "aborted" else "unknown"


# --------------------------------------------------------------------------- content (opt-in)


def _input_content(context: Context) -> dict[str, str]:
    captured: dict[str, str] = {}
    if context.system_prompt:
        captured["gen_ai.system_instructions"] = _json([{"type": "text", "content": context.system_prompt}])
    captured["gen_ai.input.messages"] = _json([_message(message) for message in context.messages])
    return captured


def _output_content(message: AssistantMessage) -> str:
    return _json([_message(message)])


def _message(message: Any) -> dict[str, Any]:
    role = message.role
    if role == "user":
        content = message.content
        parts = [{"type": "text", "content": content}] if isinstance(content, str) else _parts(content)
        return {"role": "user", "parts": parts}
    if role == "toolResult":
        text = "".join(block.text for block in message.content if block.type == "text")
        part = {"type": "tool_call_response", "id": message.tool_call_id, "response": text}
        return {"role": "tool", "parts": [part]}
    shaped: dict[str, Any] = {"role": "assistant", "parts": _parts(message.content)}
    shaped["finish_reason"] = FINISH_REASONS.get(message.stop_reason, message.stop_reason)
    return shaped


def _parts(blocks: Sequence[Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.type
        if kind == "text":
            parts.append({"type": "text", "content": block.text})
        elif kind == "thinking" and not block.redacted:
            parts.append({"type": "reasoning", "content": block.thinking})
        elif kind == "toolCall":
            parts.append({"type": "tool_call", "id": block.id, "name": block.name, "arguments": block.arguments})
        elif kind == "image":
            parts.append({"type": "blob", "modality": "image", "mime_type": block.mime_type})
    return parts


def _json(value: object) -> str:
    return orjson.dumps(value, default=str).decode()
