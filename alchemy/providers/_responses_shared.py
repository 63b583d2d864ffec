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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from ..errors import ProviderStreamError, StreamInterruptedError
from ..tool_ids import stable_hash
from ..transform import is_same_model
from ..types import (
    AssistantMessage,
    ImageContent,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from .base import HttpProvider, SSEParser, resolve_cache_retention

if TYPE_CHECKING:
    from ..capabilities import ShapedRequest, ToolChoice
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions
    from ..types import Context, Message, Model, StopReason

__all__ = [
    "EFFORT_LEVELS",
    "JUICE_MESSAGE",
    "REASONING_SUMMARIES",
    "SERVICE_TIERS",
    "ResponsesParser",
    "ResponsesSettings",
    "build_body",
    "clamp_effort",
    "convert_messages",
    "convert_tool_choice",
    "convert_tools",
    "effort_values",
    "map_reasoning_level",
    "parse_text_signature",
    "read_settings",
    "responses_usage",
    "stream_error",
    "supports_xhigh",
    "text_signature",
]

logger = logging.getLogger("alchemy.providers.responses")

EFFORT_LEVELS: Final = ("none", "minimal", "low", "medium", "high", "xhigh")
"""Values of the ``reasoning_effort`` option (``none`` turns reasoning off where the model can)."""
REASONING_SUMMARIES: Final = ("auto", "concise", "detailed")
"""Values of the ``reasoning_summary`` option."""
SERVICE_TIERS: Final = ("auto", "default", "flex", "priority", "scale")
"""Values of the ``service_tier`` option (OpenAI only)."""

JUICE_MESSAGE: Final = "# Juice: 0 !important"
"""The developer message that keeps a GPT-5 model which cannot take ``effort: "none"`` from
reasoning (a community workaround pi-ai uses; sent only when reasoning is asked to be off)."""

MAX_ITEM_ID: Final = 64
"""Longest item id the API accepts; longer message ids are replaced by a short hash."""

# The effort scale, lowest first: clamping picks the nearest level a model lists.
_EFFORT_SCALE: Final = ("none", "minimal", "low", "medium", "high", "xhigh")
# Models without a listed effort range that accept xhigh (pi-ai's list: GPT-5.1 Codex Max, GPT-5.2 and later).
_XHIGH_IDS: Final = re.compile(r"gpt-5\.1-codex-max|gpt-5\.(?:[2-9]|\d\d)")
_TOOL_CHOICE_WORDS: Final = {"auto": "auto", "none": "none", "required": "required", "any": "required"}
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
    """The Responses-specific options of one call, checked."""

    tool_choice: ToolChoice | None = None
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    service_tier: str | None = None


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise ValueError(f"option {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return str(value)


def read_settings(options: StreamOptions) -> ResponsesSettings:
    """Checks the provider options; a bad value raises ``ValueError`` naming it and the choices."""
    own = options.provider_options
    tool_choice = own.get("tool_choice")
    if tool_choice is not None:
        convert_tool_choice(tool_choice)  # raises on a shape no API accepts
    return ResponsesSettings(
        tool_choice=tool_choice,
        reasoning_effort=_choice("reasoning_effort", own.get("reasoning_effort"), EFFORT_LEVELS),
        reasoning_summary=_choice("reasoning_summary", own.get("reasoning_summary"), REASONING_SUMMARIES),
        service_tier=_choice("service_tier", own.get("service_tier"), SERVICE_TIERS),
    )


def convert_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """``auto`` / ``none`` / ``required`` (``any`` too), or a tool named in any common object form."""
    if isinstance(choice, str):
        word = _TOOL_CHOICE_WORDS.get(choice)
        if word is None:
            raise ValueError(
                f"option tool_choice must be 'auto', 'none', 'required' or {{'type': 'function', 'name': ...}}, "
                f"got {choice!r}"
            )
        return word
    if isinstance(choice, Mapping):
        name = choice.get("name")
        nested = choice.get("function")
        if name is None and isinstance(nested, Mapping):
            name = nested.get("name")  # Chat Completions' {"type": "function", "function": {"name": ...}}
        if choice.get("type") in ("function", "tool") and isinstance(name, str) and name:
            return {"type": "function", "name": name}
        if choice.get("type") in _TOOL_CHOICE_WORDS and name is None:
            return _TOOL_CHOICE_WORDS[str(choice["type"])]
    raise ValueError(
        f"option tool_choice must be 'auto', 'none', 'required' or {{'type': 'function', 'name': ...}}, got {choice!r}"
    )


# --------------------------------------------------------------------------- reasoning levels


def effort_values(model: Model) -> tuple[str, ...]:
    """The reasoning efforts the registry lists for ``model`` (empty when it lists none)."""
    for option in model.reasoning_options:
        if option.get("type") == "effort":
            values = option.get("values")
            if isinstance(values, (list, tuple)):
                return tuple(str(v) for v in values)
    return ()


def supports_xhigh(model: Model) -> bool:
    """Whether ``model`` takes ``effort: "xhigh"`` (its listed efforts, else pi-ai's id rule)."""
    values = effort_values(model)
    if values:
        return "xhigh" in values
    return _XHIGH_IDS.search(model.id.lower()) is not None


def clamp_effort(model: Model, level: str) -> str:
    """``level`` if ``model`` takes it, else the nearest effort it lists (ties go up).

    ``xhigh`` on a model without it becomes ``high``; ``minimal`` on a model that lists
    ``none, low, ...`` becomes ``low``. A model with no listed efforts gets ``level``
    as asked, except ``xhigh``, which only pi-ai's xhigh models receive.
    """
    values = effort_values(model)
    if not values:
        return level if level != "xhigh" or supports_xhigh(model) else "high"
    if level in values:
        return level
    candidates = [v for v in values if v in _EFFORT_SCALE and v != "none"]
    if not candidates:
        return level
    target = _EFFORT_SCALE.index(level)
    return min(candidates, key=lambda v: (abs(_EFFORT_SCALE.index(v) - target), -_EFFORT_SCALE.index(v)))


def map_reasoning_level(model: Model, options: StreamOptions) -> StreamOptions:
    """``stream_simple``'s ``reasoning`` level as Responses options (pi-ai §4.10).

    A level becomes ``reasoning_effort`` (clamped to what the model takes) with a
    ``reasoning_summary`` of ``auto``; no level asks for reasoning off
    (``reasoning_effort="none"``). Options given explicitly win. Models without
    reasoning ignore the level.
    """
    from dataclasses import replace

    if not model.reasoning:
        return options
    own = dict(options.provider_options)
    if options.reasoning is None:
        own.setdefault("reasoning_effort", "none")
    else:
        own.setdefault("reasoning_effort", clamp_effort(model, options.reasoning))
        own.setdefault("reasoning_summary", "auto")
    return replace(options, provider_options=own)


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


def _reasoning_fields(model: Model, settings: ResponsesSettings) -> tuple[dict[str, Any] | None, bool]:
    """``(reasoning object or None, whether to send the Juice message)`` for a reasoning model."""
    effort = settings.reasoning_effort
    summary = settings.reasoning_summary
    if effort == "none":
        values = effort_values(model)
        if not values or "none" in values:
            return {"effort": "none"}, False
        # The model cannot turn reasoning off by effort: GPT-5 gets pi-ai's Juice message.
        return None, model.id.lower().startswith("gpt-5")
    if effort is None and summary is None:
        return None, False
    return {"effort": effort or "medium", "summary": summary or "auto"}, False


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
) -> dict[str, Any]:
    """The JSON body of a streaming Responses request.

    ``model_name`` is what goes in ``model`` (Azure: the deployment); ``store`` is
    sent when not ``None``; ``service_tier`` says whether the service takes that
    field. ``prompt_cache_key`` is the session id unless cache retention is
    ``none``; ``prompt_cache_retention: "24h"`` is asked for ``long`` retention on
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
    temperature = shaped.values.temperature
    if temperature is not None:
        body["temperature"] = temperature
    if service_tier and settings.service_tier is not None:
        body["service_tier"] = settings.service_tier
    if context.tools:
        body["tools"] = convert_tools(context.tools)
    tool_choice = shaped.values.tool_choice
    if tool_choice is not None:
        body["tool_choice"] = convert_tool_choice(tool_choice)
    if model.reasoning:
        reasoning, juice = _reasoning_fields(model, settings)
        if reasoning is not None:
            body["reasoning"] = reasoning
        if juice:
            body["input"].append({"role": "developer", "content": JUICE_MESSAGE})
        elif reasoning is None or reasoning["effort"] != "none":
            # Without the encrypted reasoning a later turn cannot replay it (store is off).
            body["include"] = ["reasoning.encrypted_content"]
    return body


# --------------------------------------------------------------------------- usage and errors


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(int(value), 0)


def responses_usage(model: Model, raw: Mapping[str, Any], service_tier: str | None) -> Usage:
    """alchemy's :class:`Usage` from a Responses ``usage`` object, priced.

    ``input`` is the prompt minus its cached (and cache-written) tokens; ``output``
    includes the reasoning tokens, which ``reasoning`` counts once more for pricing.
    ``service_tier`` picks OpenAI's flex (x0.5) or priority (x2) prices.
    """
    details = raw.get("input_tokens_details")
    inputs: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    details = raw.get("output_tokens_details")
    outputs: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    prompt = _count(raw, "input_tokens")
    output = _count(raw, "output_tokens")
    cache_read = _count(inputs, "cached_tokens")
    cache_write = _count(inputs, "cache_write_tokens")
    usage = Usage(
        input=max(prompt - cache_read - cache_write, 0),
        output=output,
        cache_read=cache_read,
        cache_write=cache_write,
        total_tokens=_count(raw, "total_tokens") or prompt + output,
        reasoning=min(_count(outputs, "reasoning_tokens"), output),
        service_tier=service_tier,
    )
    return HttpProvider.priced(model, usage)


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
        "_model",
        "_requested_tier",
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

    def __init__(self, emitter: EventEmitter, *, label: str, model: Model, requested_tier: str | None) -> None:
        super().__init__(emitter)
        self._label = label
        self._model = model
        self._requested_tier = requested_tier
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
            self.emitter.set_usage(responses_usage(self._model, raw, tier))

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
        emitter = self.emitter
        index = emitter.current_index
        if index is None:
            return None
        block = emitter.message.content[index]
        return block if isinstance(block, cls) else None

    def _close_block(self) -> None:
        """Closes whatever block is open (an item whose ``output_item.done`` never came)."""
        emitter = self.emitter
        index = emitter.current_index
        if index is not None:
            block = emitter.message.content[index]
            if isinstance(block, TextContent):
                emitter.text_end()
            elif isinstance(block, ThinkingContent):
                emitter.thinking_end()
            else:
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
