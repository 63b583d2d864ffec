"""What OpenAI's Responses API and Azure OpenAI's share: the request body and the stream parser.

Both services speak the same wire format (``POST .../responses`` with
``stream: true``, answered by named SSE events); they differ only in addressing and
auth, which :mod:`alchemy.providers.openai_responses` and
:mod:`alchemy.providers.azure_openai_responses` add on top of this module.

**Request.** A conversation becomes a list of ``input`` items: the system prompt as
a ``developer`` (reasoning models) or ``system`` message; user turns with
``input_text`` / ``input_image`` parts; an assistant turn as the items the model
produced: ``reasoning`` items replayed verbatim from the thinking signature (they
carry ``encrypted_content``), ``message`` items with ``output_text`` and the id and
``phase`` kept in the text signature, ``function_call`` items whose alchemy id is
``call_id|item_id``; tool results as ``function_call_output``. Only a turn written by
the target model itself gets its reasoning and item ids back; another model's
function calls keep their ``call_id`` alone, so the API does not look for the
reasoning item they were paired with.

The call's options arrive checked (:mod:`alchemy.options`); this module only maps
them: ``top_p``, ``parallel_tool_calls``, ``metadata``, ``tool_choice`` (canonical ->
``"auto"`` / ``"none"`` / ``"required"`` / ``{"type": "function", "name": ...}``),
``user`` (OpenAI's ``safety_identifier``, its documented replacement of the
deprecated ``user``; ``user`` for other servers), ``logprobs`` / ``top_logprobs``
(``top_logprobs`` plus ``include: ["message.output_text.logprobs"]``) and the
reasoning level, mapped by :func:`alchemy.model_facts.openai_reasoning_effort`.
Responses has no ``stop``, ``seed``, penalties or ``top_k``: the option table refuses
them at the call.

**Stream.** ``response.output_item.added`` / ``.done`` open and close one block per
reasoning, message and function-call item. Reasoning summary parts (and the raw
``reasoning_text`` that open-weight servers stream) become thinking, parts joined by
a blank line; ``output_text`` and ``refusal`` deltas become text; argument deltas go
through the JSON delta merger. ``response.completed`` (or ``response.incomplete``)
brings the usage and the stop reason. Items the server ran itself (web and file
search, code interpreter, image generation, MCP, shell, ...) are skipped without
breaking the stream and logged at debug level on the ``alchemy.providers.responses``
logger. ``error`` and ``response.failed`` end the stream with a clear error
(retryable for rate-limit and server kinds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from ..errors import ProviderStreamError, StreamInterruptedError
from ..model_facts import effort_values, openai_reasoning_effort
from ..tool_ids import stable_hash
from ..transform import is_same_model
from ..types import (
    AssistantMessage,
    ImageContent,
    TextContent,
    ThinkingContent,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from .base import SSEParser, resolve_cache_retention

if TYPE_CHECKING:
    from ..capabilities import ShapedRequest, ToolChoice
    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..types import Context, Message, Model, StopReason

__all__ = [
    "ENCRYPTED_REASONING",
    "LOGPROBS_INCLUDE",
    "METADATA_LIMITS",
    "ResponsesParser",
    "ResponsesSettings",
    "build_body",
    "check_request",
    "convert_messages",
    "convert_tool_choice",
    "convert_tools",
    "map_reasoning_level",
    "parse_text_signature",
    "read_settings",
    "responses_usage",
    "stream_error",
    "text_signature",
    "token_logprobs",
    "wants_logprobs",
]

logger = logging.getLogger("alchemy.providers.responses")

ENCRYPTED_REASONING: Final = "reasoning.encrypted_content"
"""The ``include`` entry that returns reasoning items replayable with ``store: false``."""
LOGPROBS_INCLUDE: Final = "message.output_text.logprobs"
"""The ``include`` entry that makes ``response.output_text.delta`` events carry ``logprobs``."""
METADATA_LIMITS: Final = (16, 64, 512)
"""OpenAI's ``metadata`` limits: pairs, characters per key, characters per value."""

MAX_ITEM_ID: Final = 64
"""Longest item id the API accepts; longer message ids are replaced by a short hash."""

_RETRYABLE_ERRORS: Final = frozenset(
    {
        "server_error",
        "internal_error",
        "internal_server_error",
        "rate_limit_exceeded",
        "rate_limit_error",
        "rate_limited",
        "too_many_requests",
        "overloaded",
        "overloaded_error",
        "server_overloaded",
        "server_is_overloaded",
        "service_unavailable",
        "slow_down",
        "timeout",
    }
)
_SIGNATURE_VERSION: Final = 1


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class ResponsesSettings:
    """The Responses API's own options of one call (checked at the call by the option table)."""

    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    service_tier: str | None = None


def read_settings(options: StreamOptions) -> ResponsesSettings:
    """The API's own options, as :mod:`alchemy.options` checked them."""
    own = options.provider_options
    return ResponsesSettings(
        reasoning_effort=own.get("reasoning_effort"),
        reasoning_summary=own.get("reasoning_summary"),
        service_tier=own.get("service_tier"),
    )


def convert_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """A canonical ``tool_choice`` on the wire: the word as is, a named tool as ``{"type": "function", ...}``."""
    if isinstance(choice, dict):
        return {"type": "function", "name": choice["name"]}
    return choice


def wants_logprobs(options: StreamOptions) -> bool:
    """Whether the call asked for token log-probabilities (``top_logprobs`` implies ``logprobs``)."""
    return bool(options.logprobs) or (options.top_logprobs is not None and options.logprobs is not False)


def check_request(model: Model, options: StreamOptions) -> None:
    """What the option table cannot check alone; raises at the call, naming the options.

    ``top_logprobs`` with ``logprobs=False`` contradict each other; an explicit
    ``reasoning_effort`` must be one the model takes (when its efforts are known:
    :func:`alchemy.model_facts.effort_values`); ``metadata`` must fit OpenAI's limits.
    """
    if options.logprobs is False and options.top_logprobs is not None:
        raise ValueError(
            f"option top_logprobs={options.top_logprobs} asks for log-probabilities, which logprobs=False turns off"
        )
    effort = options.provider_options.get("reasoning_effort")
    if effort is not None and model.reasoning:
        efforts = effort_values(model)
        if efforts and effort not in efforts:
            raise ValueError(
                f"option reasoning_effort must be one of {', '.join(map(repr, efforts))} for model {model.key}, "
                f"got {effort!r}"
            )
    if options.metadata:
        _check_metadata(options.metadata)


def _check_metadata(metadata: Mapping[str, Any]) -> None:
    pairs, key_length, value_length = METADATA_LIMITS
    if len(metadata) > pairs:
        raise ValueError(f"option metadata takes at most {pairs} pairs on the Responses API, got {len(metadata)}")
    for key, value in metadata.items():
        if len(key) > key_length:
            raise ValueError(f"option metadata keys must be at most {key_length} characters, got {key!r}")
        if len(value) > value_length:
            raise ValueError(f"option metadata[{key!r}] must be at most {value_length} characters, got {len(value)}")


# --------------------------------------------------------------------------- reasoning levels


def map_reasoning_level(model: Model, options: StreamOptions) -> StreamOptions:
    """The ``reasoning`` level as the Responses ``reasoning_effort`` (at the call).

    The effort comes from :func:`alchemy.model_facts.openai_reasoning_effort`, which
    clamps the level to what the model takes and raises ``ValueError`` for ``off`` on
    a model that always reasons. A level other than ``off`` also asks for the summary
    ``auto`` (the thinking text). Options given explicitly win. No level (a
    ``*_simple`` call without one, or ``thinking_budgets`` alone) sends no effort: the
    model's default, as on Chat Completions. Models without reasoning ignore the level.
    """
    from dataclasses import replace

    own = options.provider_options
    level = options.reasoning
    if level is None or not model.reasoning or "reasoning_effort" in own:
        return options
    effort = openai_reasoning_effort(model, level)
    if effort is None:
        return options
    mapped = {**own, "reasoning_effort": effort}
    if level != "off":
        mapped.setdefault("reasoning_summary", "auto")
    return replace(options, provider_options=mapped)


# --------------------------------------------------------------------------- request body


def convert_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    """Function tools; ``strict: false`` because alchemy does not rewrite schemas for strict mode."""
    return [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": False,
        }
        for tool in tools
    ]


def _user_parts(content: str | list[TextContent | ImageContent]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, TextContent):
            if block.text:
                parts.append({"type": "input_text", "text": block.text})
        else:
            parts.append(_image_part(block))
    return parts


def _image_part(image: ImageContent) -> dict[str, Any]:
    return {"type": "input_image", "detail": "auto", "image_url": f"data:{image.mime_type};base64,{image.data}"}


def _tool_output(result: ToolResultMessage) -> str | list[dict[str, Any]]:
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    images = [block for block in result.content if isinstance(block, ImageContent)]
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "input_text", "text": text or "(see attached image)"}]
    parts.extend(_image_part(image) for image in images)
    return parts


def parse_text_signature(signature: str | None) -> tuple[str | None, str | None]:
    """``(item id, phase)`` from a text signature: alchemy's/pi-ai's JSON form or a bare id."""
    if not signature:
        return None, None
    if not signature.startswith("{"):
        return signature, None
    try:
        data = orjson.loads(signature)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    item_id = data.get("id")
    phase = data.get("phase")
    return (item_id if isinstance(item_id, str) else None, phase if isinstance(phase, str) else None)


def text_signature(item_id: str, phase: str | None) -> str:
    """The text signature stored for a message item (pi-ai's ``{"v":1,"id":...,"phase":...}``)."""
    data: dict[str, Any] = {"v": _SIGNATURE_VERSION, "id": item_id}
    if phase:
        data["phase"] = phase
    return orjson.dumps(data).decode()


def _reasoning_item(signature: str | None) -> dict[str, Any] | None:
    if not signature:
        return None
    try:
        item = orjson.loads(signature)
    except orjson.JSONDecodeError:
        logger.debug("thinking signature is not a Responses reasoning item; its block is not replayed")
        return None
    if not isinstance(item, dict) or item.get("type") != "reasoning":
        logger.debug("thinking signature is not a Responses reasoning item; its block is not replayed")
        return None
    return item


class _MessageIds:
    """Ids for replayed message items: the stored one (hashed when too long), else ``msg_<n>``."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = 0

    def __call__(self, stored: str | None) -> str:
        self._count += 1
        if not stored:
            return f"msg_{self._count}"
        if len(stored) > MAX_ITEM_ID:
            return f"msg_{stable_hash(stored, 24)}"
        return stored


def _assistant_items(message: AssistantMessage, model: Model, ids: _MessageIds) -> list[dict[str, Any]]:
    own = is_same_model(message, model)
    items: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, ThinkingContent):
            reasoning = _reasoning_item(block.thinking_signature) if own else None
            if reasoning is not None:
                items.append(reasoning)
        elif isinstance(block, TextContent):
            if not block.text:
                continue
            stored_id, phase = parse_text_signature(block.text_signature) if own else (None, None)
            item: dict[str, Any] = {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": block.text, "annotations": []}],
                "status": "completed",
                "id": ids(stored_id),
            }
            if phase:
                item["phase"] = phase
            items.append(item)
        elif isinstance(block, ToolCall):
            call_id, _, item_id = block.id.partition("|")
            call: dict[str, Any] = {
                "type": "function_call",
                "call_id": call_id,
                "name": block.name,
                "arguments": orjson.dumps(block.arguments).decode(),
            }
            if own and item_id:
                call["id"] = item_id
            items.append(call)
    return items


def convert_messages(context: Context, model: Model) -> list[dict[str, Any]]:
    """The ``input`` items of a shaped conversation (see the module docstring)."""
    items: list[dict[str, Any]] = []
    if context.system_prompt:
        items.append({"role": "developer" if model.reasoning else "system", "content": context.system_prompt})
    ids = _MessageIds()
    message: Message
    for message in context.messages:
        if isinstance(message, UserMessage):
            parts = _user_parts(message.content)
            if parts:
                items.append({"role": "user", "content": parts})
        elif isinstance(message, AssistantMessage):
            items.extend(_assistant_items(message, model, ids))
        else:
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id.partition("|")[0],
                    "output": _tool_output(message),
                }
            )
    return items


def _reasoning_field(settings: ResponsesSettings) -> dict[str, Any] | None:
    """The ``reasoning`` object: an effort (with the summary, ``auto`` by default), a summary alone, or none."""
    effort = settings.reasoning_effort
    summary = settings.reasoning_summary
    if effort == "none":
        return {"effort": "none"}
    if effort is not None:
        return {"effort": effort, "summary": summary or "auto"}
    return {"summary": summary} if summary is not None else None


def build_body(
    model: Model,
    shaped: ShapedRequest,
    options: StreamOptions,
    settings: ResponsesSettings,
    *,
    model_name: str,
    base_url: str,
    store: bool | None,
    service_tier: bool,
    user_field: str,
) -> dict[str, Any]:
    """The JSON body of a streaming Responses request (``extra_body`` is merged by the caller, last).

    ``model_name`` is what goes in ``model`` (Azure: the deployment); ``store`` is
    sent when not ``None``; ``service_tier`` says whether the service takes that
    field; ``user_field`` is where ``user`` goes (``safety_identifier`` or ``user``).
    ``prompt_cache_key`` is the session id unless cache retention is ``none``;
    ``prompt_cache_retention: "24h"`` is asked for ``long`` retention on
    api.openai.com only (other hosts reject it).
    """
    context = shaped.context
    body: dict[str, Any] = {
        "model": model_name,
        "input": convert_messages(context, model),
        "stream": True,
    }
    if store is not None:
        body["store"] = store
    retention = resolve_cache_retention(options)
    if options.session_id and retention != "none":
        body["prompt_cache_key"] = options.session_id
    if retention == "long" and "api.openai.com" in base_url:
        body["prompt_cache_retention"] = "24h"
    if options.max_tokens is not None:
        body["max_output_tokens"] = options.max_tokens
    values = shaped.values
    if values.temperature is not None:
        body["temperature"] = values.temperature
    if options.top_p is not None:
        body["top_p"] = options.top_p
    if service_tier and settings.service_tier is not None:
        body["service_tier"] = settings.service_tier
    if context.tools:
        body["tools"] = convert_tools(context.tools)
    if values.tool_choice is not None:
        body["tool_choice"] = convert_tool_choice(values.tool_choice)
    if options.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = options.parallel_tool_calls
    if values.user is not None:
        body[user_field] = values.user
    if options.metadata:
        body["metadata"] = dict(options.metadata)
    include: list[str] = []
    if model.reasoning:
        reasoning = _reasoning_field(settings)
        if reasoning is not None:
            body["reasoning"] = reasoning
        if reasoning is None or reasoning.get("effort") != "none":
            # Without the encrypted reasoning a later turn cannot replay it (store is off).
            include.append(ENCRYPTED_REASONING)
    if wants_logprobs(options):
        include.append(LOGPROBS_INCLUDE)
        if options.top_logprobs is not None:
            body["top_logprobs"] = options.top_logprobs
    if include:
        body["include"] = include
    return body


def token_logprobs(items: Iterable[Any]) -> list[TokenLogprob]:
    """alchemy's :class:`~alchemy.types.TokenLogprob` list from OpenAI's ``logprobs`` entries.

    Each entry is ``{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}``
    (``bytes`` is not kept); malformed entries are skipped.
    """
    out: list[TokenLogprob] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        token, logprob = item.get("token"), item.get("logprob")
        if not isinstance(token, str) or isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
            continue
        top: list[tuple[str, float]] = []
        alternatives = item.get("top_logprobs")
        if isinstance(alternatives, list):
            for alternative in alternatives:
                if isinstance(alternative, dict):
                    other, value = alternative.get("token"), alternative.get("logprob")
                    if isinstance(other, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
                        top.append((other, float(value)))
        out.append(TokenLogprob(token, float(logprob), tuple(top)))
    return out


# --------------------------------------------------------------------------- usage and errors


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(int(value), 0)


def responses_usage(raw: Mapping[str, Any], service_tier: str | None) -> Usage:
    """alchemy's :class:`Usage` from a Responses ``usage`` object (tokens only; the emitter prices it).

    ``input`` is the prompt minus its cached (and cache-written) tokens; ``output``
    includes the reasoning tokens, which ``reasoning`` counts once more for pricing.
    ``service_tier`` is kept so pricing picks OpenAI's flex (x0.5) or priority (x2) prices.
    """
    details = raw.get("input_tokens_details")
    inputs: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    details = raw.get("output_tokens_details")
    outputs: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    prompt = _count(raw, "input_tokens")
    output = _count(raw, "output_tokens")
    cache_read = _count(inputs, "cached_tokens")
    cache_write = _count(inputs, "cache_write_tokens")
    return Usage(
        input=max(prompt - cache_read - cache_write, 0),
        output=output,
        cache_read=cache_read,
        cache_write=cache_write,
        total_tokens=_count(raw, "total_tokens") or prompt + output,
        reasoning=min(_count(outputs, "reasoning_tokens"), output),
        service_tier=service_tier,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def stream_error(label: str, payload: Mapping[str, Any]) -> ProviderStreamError:
    """The error of an ``error`` event, nested (``{"error": {...}}``) or flat (``code``/``message``)."""
    nested = payload.get("error")
    error: Mapping[str, Any] = nested if isinstance(nested, Mapping) else payload
    code = _text(error.get("code"))
    kind = _text(error.get("type"))
    if kind == "error":  # the flat form's "type" is the event's own
        kind = None
    name = code or kind or "unknown_error"
    message = _text(error.get("message")) or "no message given"
    param = _text(error.get("param"))
    where = f" (param {param})" if param else ""
    retryable = bool({code, kind} & _RETRYABLE_ERRORS)
    return ProviderStreamError(f"{label} stream error {name}: {message}{where}", retryable=retryable)


def _failed_error(label: str, response: Mapping[str, Any]) -> ProviderStreamError:
    error = response.get("error")
    if isinstance(error, Mapping):
        code = _text(error.get("code")) or _text(error.get("type")) or "unknown_error"
        message = _text(error.get("message")) or "no message given"
        retryable = code in _RETRYABLE_ERRORS
        return ProviderStreamError(f"{label} response failed: {code}: {message}", retryable=retryable)
    status = _text(response.get("status")) or "failed"
    reason = _incomplete_reason(response)
    detail = f" ({reason})" if reason else ""
    return ProviderStreamError(f"{label} response {status}{detail}")


def _incomplete_reason(response: Mapping[str, Any]) -> str | None:
    details = response.get("incomplete_details")
    if isinstance(details, Mapping):
        return _text(details.get("reason"))
    return None


# --------------------------------------------------------------------------- the stream parser

# What kind of output item is open.
_NONE: Final = 0
_REASONING: Final = 1
_MESSAGE: Final = 2
_FUNCTION: Final = 3
_SKIPPED: Final = 4


def _summary_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's text: its summaries (or raw reasoning content) joined by blank lines."""
    for key, part_kind in (("summary", "summary_text"), ("content", "reasoning_text")):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [
                p["text"] for p in parts if isinstance(p, dict) and p.get("type") == part_kind and _text(p.get("text"))
            ]
            if texts:
                return "\n\n".join(texts)
    return ""


def _message_text(item: Mapping[str, Any]) -> str:
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    texts = []
    for part in parts:
        if isinstance(part, dict):
            value = part.get("text") if part.get("type") == "output_text" else part.get("refusal")
            if isinstance(value, str):
                texts.append(value)
    return "".join(texts)


class ResponsesParser(SSEParser):
    """Turns a Responses event stream into emitter calls (sans-I/O, one response)."""

    __slots__ = (
        "_label",
        "_requested_tier",
        "_logprobs",
        "_text_delta",
        "_handlers",
        "_kind",
        "_item_id",
        "_part",
        "_thinking_written",
        "_arguments_streamed",
        "_tool_calls",
        "_ended",
        "_events",
    )

    def __init__(
        self, emitter: EventEmitter, *, label: str, requested_tier: str | None, logprobs: bool = False
    ) -> None:
        super().__init__(emitter)
        self._label = label
        self._requested_tier = requested_tier
        self._logprobs = logprobs  # keep the deltas' logprobs (only when the call asked for them)
        self._text_delta = emitter.text_delta
        self._kind = _NONE
        self._item_id: str | None = None
        self._part: tuple[str, Any] | None = None
        self._thinking_written = False
        self._arguments_streamed = False
        self._tool_calls = 0
        self._ended = False
        self._events = 0
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "response.created": self._on_response_started,
            "response.in_progress": self._on_response_started,
            "response.output_item.added": self._on_item_added,
            "response.output_item.done": self._on_item_done,
            "response.reasoning_summary_text.delta": self._on_summary_delta,
            "response.reasoning_text.delta": self._on_reasoning_text_delta,
            "response.refusal.delta": self._on_refusal_delta,
            "response.function_call_arguments.delta": self._on_arguments_delta,
            "response.function_call_arguments.done": self._on_arguments_done,
            "response.completed": self._on_completed,
            "response.incomplete": self._on_incomplete,
            "response.failed": self._on_failed,
            "error": self._on_error,
        }

    # -- dispatch --------------------------------------------------------------------

    def on_event(self, event: str, data: bytes) -> None:
        self._events += 1
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise StreamInterruptedError(
                f"{self._label} sent an event that is not valid JSON ({event}: {exc}); "
                f"{self._events - 1} events were read before it"
            ) from None
        if type(payload) is not dict:
            raise StreamInterruptedError(f"{self._label} sent an event that is not a JSON object ({event})")
        kind = payload.get("type") or event
        if kind == "response.output_text.delta":
            delta = payload.get("delta")
            if delta:
                self._text_delta(delta)
            if self._logprobs:
                items = payload.get("logprobs")
                if items and isinstance(items, list):
                    self.emitter.add_logprobs(token_logprobs(items))
            return
        handler = self._handlers.get(kind)
        if handler is not None and not self._ended:
            handler(payload)

    def finish(self) -> None:
        if self._ended:
            return
        raise StreamInterruptedError(
            f"{self._label} stream ended before the response was complete "
            f"(no response.completed after {self._events} events)"
        )

    # -- the response ----------------------------------------------------------------

    def _on_response_started(self, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if isinstance(response, dict):
            response_id = response.get("id")
            if isinstance(response_id, str) and response_id:
                self.emitter.set_response_id(response_id)

    def _apply_usage(self, response: Mapping[str, Any]) -> None:
        raw = response.get("usage")
        if isinstance(raw, Mapping):
            tier = _text(response.get("service_tier")) or self._requested_tier
            self.emitter.set_usage(responses_usage(raw, tier))

    def _end(self, reason: StopReason) -> None:
        self._ended = True
        if reason == "stop" and self._tool_calls:
            reason = "toolUse"
        self.emitter.done(reason)

    def _on_completed(self, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if not isinstance(response, dict):
            response = {}
        self._on_response_started(payload)
        self._apply_usage(response)
        status = response.get("status")
        if status in ("failed", "cancelled"):
            self._ended = True
            raise _failed_error(self._label, response)
        if status == "incomplete":
            self._finish_incomplete(response)
        else:
            self._end("stop")

    def _on_incomplete(self, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if not isinstance(response, dict):
            response = {}
        self._apply_usage(response)
        self._finish_incomplete(response)

    def _finish_incomplete(self, response: Mapping[str, Any]) -> None:
        """Out of output tokens is a ``length`` stop; any other reason (content filter) is an error."""
        reason = _incomplete_reason(response)
        if reason in (None, "max_output_tokens", "max_tokens"):
            self._end("length")
            return
        self._ended = True
        raise ProviderStreamError(f"{self._label} response incomplete: {reason}")

    def _on_failed(self, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if not isinstance(response, dict):
            response = {}
        self._apply_usage(response)
        self._ended = True
        raise _failed_error(self._label, response)

    def _on_error(self, payload: dict[str, Any]) -> None:
        self._ended = True
        raise stream_error(self._label, payload)

    # -- output items ----------------------------------------------------------------

    def _on_item_added(self, payload: dict[str, Any]) -> None:
        item = payload.get("item")
        if not isinstance(item, dict):
            return
        item_type = item.get("type")
        item_id = item.get("id") if isinstance(item.get("id"), str) else None
        if item_type == "reasoning":
            self._open_reasoning(item_id)
        elif item_type == "message":
            self._open_message(item_id)
        elif item_type == "function_call":
            self._open_function(item)
            arguments = item.get("arguments")
            if isinstance(arguments, str) and arguments:
                self._arguments_streamed = True
                self.emitter.tool_call_delta(arguments)
        else:
            self._close_block()
            self._kind = _SKIPPED
            self._item_id = item_id
            logger.debug("skipping server-side output item %s (id %s)", item_type, item_id)

    def _on_item_done(self, payload: dict[str, Any]) -> None:
        item = payload.get("item")
        if not isinstance(item, dict):
            return
        item_type = item.get("type")
        item_id = item.get("id") if isinstance(item.get("id"), str) else None
        if item_type == "reasoning":
            self._finish_reasoning(item, item_id)
        elif item_type == "message":
            self._finish_message(item, item_id)
        elif item_type == "function_call":
            self._finish_function(item, item_id)
        else:
            if not (self._kind == _SKIPPED and self._item_id == item_id):
                logger.debug("skipping server-side output item %s (id %s)", item_type, item_id)
            if self._kind == _SKIPPED:
                self._kind = _NONE

    def _is_open(self, kind: int, item_id: str | None) -> bool:
        return self._kind == kind and (item_id is None or self._item_id is None or self._item_id == item_id)

    def _open_block(self, cls: type[Any]) -> Any:
        """The emitter's open block if it is a ``cls``, else ``None``."""
        block = self.emitter.open_block
        return block if isinstance(block, cls) else None

    def _close_block(self) -> None:
        """Closes whatever block is open (an item whose ``output_item.done`` never came)."""
        emitter = self.emitter
        block = emitter.open_block
        if isinstance(block, TextContent):
            emitter.text_end()
        elif isinstance(block, ThinkingContent):
            emitter.thinking_end()
        elif block is not None:
            emitter.tool_call_end()
        self._kind = _NONE

    # reasoning

    def _open_reasoning(self, item_id: str | None) -> None:
        self._close_block()
        self.emitter.thinking_start()
        self._kind = _REASONING
        self._item_id = item_id
        self._part = None
        self._thinking_written = False

    def _thinking_piece(self, part: tuple[str, Any], delta: Any) -> None:
        if not isinstance(delta, str) or not delta:
            return
        if self._kind != _REASONING:
            self._open_reasoning(None)
        if part != self._part:
            if self._thinking_written:
                self.emitter.thinking_delta("\n\n")
            self._part = part
        self._thinking_written = True
        self.emitter.thinking_delta(delta)

    def _on_summary_delta(self, payload: dict[str, Any]) -> None:
        self._thinking_piece(("summary", payload.get("summary_index", 0)), payload.get("delta"))

    def _on_reasoning_text_delta(self, payload: dict[str, Any]) -> None:
        self._thinking_piece(("content", payload.get("content_index", 0)), payload.get("delta"))

    def _finish_reasoning(self, item: dict[str, Any], item_id: str | None) -> None:
        emitter = self.emitter
        if not self._is_open(_REASONING, item_id) or self._open_block(ThinkingContent) is None:
            self._open_reasoning(item_id)
        if not self._thinking_written:
            text = _summary_text(item)
            if text:
                emitter.thinking_delta(text)
        emitter.set_thinking_signature(orjson.dumps(item).decode())
        self._close_block()

    # messages

    def _open_message(self, item_id: str | None) -> None:
        self._close_block()
        self.emitter.text_start()
        self._kind = _MESSAGE
        self._item_id = item_id

    def _on_refusal_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, str) and delta:
            self._text_delta(delta)

    def _finish_message(self, item: dict[str, Any], item_id: str | None) -> None:
        emitter = self.emitter
        block = self._open_block(TextContent)
        if block is None or not self._is_open(_MESSAGE, item_id):
            self._open_message(item_id)
            block = self._open_block(TextContent)
        streamed: str = block.text
        full = _message_text(item)
        if len(full) > len(streamed) and full.startswith(streamed):
            emitter.text_delta(full[len(streamed) :])  # the part no delta carried
        if item_id:
            phase = item.get("phase")
            emitter.set_text_signature(text_signature(item_id, phase if isinstance(phase, str) else None))
        self._close_block()

    # function calls

    def _open_function(self, item: Mapping[str, Any]) -> None:
        self._close_block()
        call_id = _text(item.get("call_id")) or ""
        item_id = _text(item.get("id"))
        tool_call_id = f"{call_id}|{item_id}" if item_id else call_id
        self.emitter.tool_call_start(tool_call_id, _text(item.get("name")) or "")
        self._kind = _FUNCTION
        self._item_id = item_id
        self._arguments_streamed = False
        self._tool_calls += 1

    def _on_arguments_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if self._kind == _FUNCTION and isinstance(delta, str) and delta:
            self._arguments_streamed = True
            self.emitter.tool_call_delta(delta)

    def _on_arguments_done(self, payload: dict[str, Any]) -> None:
        arguments = payload.get("arguments")
        if self._kind == _FUNCTION and not self._arguments_streamed and isinstance(arguments, str) and arguments:
            self._arguments_streamed = True
            self.emitter.tool_call_delta(arguments)

    def _finish_function(self, item: dict[str, Any], item_id: str | None) -> None:
        emitter = self.emitter
        if not self._is_open(_FUNCTION, item_id) or self._open_block(ToolCall) is None:
            self._open_function(item)
        arguments = item.get("arguments")
        parsed: dict[str, Any] | None = None
        if isinstance(arguments, str):
            if not self._arguments_streamed and arguments:
                emitter.tool_call_delta(arguments)
            try:
                value = orjson.loads(arguments) if arguments.strip() else {}
            except orjson.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                parsed = value
        emitter.tool_call_end(parsed)
        self._kind = _NONE
