"""Cohere's v2 chat API (``cohere-chat``), sans-I/O.

Request: ``POST {base}/v2/chat`` with a bearer key and ``"stream": true``; the answer
streams as server-sent events named after their JSON ``type``: ``message-start``,
``content-start/delta/end`` (``text`` or ``thinking`` parts), ``tool-plan-delta``,
``tool-call-start/delta/end``, ``citation-start/end`` and ``message-end`` (finish
reason and usage). There is no ``[DONE]`` sentinel: ``message-end`` ends the stream.

Decisions:

* **Tool plans are thinking.** Before calling tools Cohere writes a short plan
  (``tool_plan``, "I will look up the weather ..."). It is the model's reasoning
  about the calls, not an answer, so it becomes a thinking block signed
  :data:`TOOL_PLAN_SIGNATURE`; replayed to Cohere it goes back as the assistant's
  ``tool_plan`` field, and a handoff treats it as any other model's thinking.
* Reasoning (``thinking`` parts, Command A Reasoning) is replayed to Cohere as
  ``{"type": "thinking"}`` content; a ``reasoning`` level maps to
  ``thinking: {"type": "enabled", "token_budget": N}`` (``"disabled"`` for ``off``).
* **Citations** (``citation-start``; ``citation-end`` only closes it) become
  :class:`~alchemy.types.Citation` s of kind ``"document"`` on the answer's text block, one per
  Cohere citation: ``start``/``end`` are Cohere's, counted in characters of the text of content
  part ``content_index`` (the part's own text, e.g. 1 when a thinking part is 0; without a
  ``content_index``, of the message's text parts read as one text, mapped onto the block that
  holds ``start``); ``cited_text`` is Cohere's ``text`` (the cited span of the answer, which
  re-anchors the range when the offsets do not match it); ``title`` is the first document
  source's ``title``; ``wire`` is the whole citation object with its ``sources`` (``document``
  sources of the request's documents, ``tool`` sources with the ``tool_output`` that supports
  the span), so a reader can see which tool result supports which sentence. Citations of a
  tool plan or of thinking (``type`` ``PLAN`` / ``THINKING_CONTENT``) have no text block to
  go on: they are logged and skipped. Replayed to Cohere, a turn's citations go back verbatim
  as the assistant message's ``citations`` (the v2 ``AssistantMessage`` field), in order.
* Usage comes from ``usage.tokens`` (what the model read and wrote; ``billed_units``
  when ``tokens`` is absent), ``cached_tokens`` counted as cache reads.
* Cohere cannot force one named tool: ``tool_choice`` takes ``"required"`` (``REQUIRED``)
  or ``"none"`` (``NONE``); a named choice raises at the call, unless the named tool is the
  request's only tool (structured output through a tool), where it is ``REQUIRED``.

Stop reasons: ``COMPLETE``/``STOP_SEQUENCE`` -> stop, ``MAX_TOKENS`` -> length,
``TOOL_CALL`` -> toolUse, ``ERROR``/``TIMEOUT`` -> an error.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import orjson

from ..errors import ErrorKind, ProviderStreamError, StreamInterruptedError
from ..model_facts import clamp_thinking_level, thinking_budget_for
from ..options import named_tool
from ..overflow import classify_error
from ..request import HttpRequest
from ..strict_tools import wire_parameters
from ..structured import openai_response_format
from ..types import (
    AssistantMessage,
    Citation,
    ImageContent,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from ..wire_apis import COHERE_CHAT
from ._chunks import NOT_JSON, loads_replacing_lone_surrogates
from .base import HttpProvider, SSEParser

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..types import Context, Message, Model, StopReason, Tool

__all__ = ["TOOL_PLAN_SIGNATURE", "CohereChatParser", "CohereChatProvider", "convert_messages", "provider"]

LABEL: Final = COHERE_CHAT.label
logger = logging.getLogger("alchemy")
TOOL_PLAN_SIGNATURE: Final = "cohere:tool_plan"
"""The signature of a thinking block that holds a Cohere tool plan (replayed as ``tool_plan``)."""

_STOP_REASONS: Final[Mapping[str, StopReason]] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "toolUse",
}
_FAILED_REASONS: Final = frozenset({"ERROR", "TIMEOUT"})
ERROR_KINDS: Final[Mapping[str, ErrorKind]] = {
    "error": "server",
    "timeout": "timeout",
    "too_many_requests": "rate_limit",
    "invalid_token": "auth",
    "unauthorized": "auth",
    "bad_request": "invalid_request",
    "not_found": "not_found",
    "service_unavailable": "overloaded",
    "internal_server_error": "server",
}
"""Cohere's error names (its finish reasons ``ERROR``/``TIMEOUT``, lowercased, and the names of its
HTTP errors) -> kind; Cohere's HTTP error bodies carry only a message, so the status decides there."""
_SAMPLING_FIELDS: Final = (
    ("stop", "stop_sequences"),
    ("top_p", "p"),
    ("top_k", "k"),
    ("seed", "seed"),
    ("frequency_penalty", "frequency_penalty"),
    ("presence_penalty", "presence_penalty"),
)
"""Canonical options and Cohere's names for them."""
_TOOL_CHOICES: Final = {"required": "REQUIRED", "none": "NONE"}
_QUIET_EVENTS: Final = frozenset({"citation-start", "citation-end", "debug"})
"""Events whose payload is never read as an error (a citation's sources may hold any keys)."""
_UNPLACED_CITATIONS: Final = frozenset({"PLAN", "THINKING_CONTENT"})
"""Citation types that point into a tool plan or thinking, where alchemy keeps no citations."""


# --------------------------------------------------------------------------- request conversion


def _image_part(image: ImageContent) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:{image.mime_type};base64,{image.data}"}}


def _user_message(message: UserMessage) -> dict[str, Any] | None:
    if isinstance(message.content, str):
        return {"role": "user", "content": message.content} if message.content.strip() else None
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                parts.append({"type": "text", "text": block.text})
        else:
            parts.append(_image_part(block))
    return {"role": "user", "content": parts} if parts else None


def _assistant_message(message: AssistantMessage) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    plans: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ThinkingContent):
            if not block.thinking.strip() or block.redacted:
                continue
            if block.thinking_signature == TOOL_PLAN_SIGNATURE:
                plans.append(block.thinking)
            else:
                parts.append({"type": "thinking", "thinking": block.thinking})
        elif isinstance(block, ToolCall):
            arguments = orjson.dumps(block.arguments).decode()
            calls.append({"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}})
    converted: dict[str, Any] = {"role": "assistant"}
    citations = [c.wire for b in message.content if isinstance(b, TextContent) and b.citations for c in b.citations
                 if c.wire is not None]
    if calls:
        # Cohere takes no text beside tool calls: text written before calls (another model's
        # "Let me look that up.") is what Cohere calls the plan, so it joins the plan.
        plans += [part["text"] for part in parts if part["type"] == "text"]
        parts = [part for part in parts if part["type"] == "thinking"]
        if plans:
            converted["tool_plan"] = "\n\n".join(plans)
        converted["tool_calls"] = calls
    elif plans:
        parts.extend({"type": "text", "text": plan} for plan in plans)
    if parts:
        converted["content"] = parts
        if citations and not calls:
            converted["citations"] = citations  # Cohere's own citation objects, as it sent them
    return converted if len(converted) > 1 else None


def _tool_message(message: ToolResultMessage) -> dict[str, Any]:
    text = "\n".join(block.text for block in message.content if isinstance(block, TextContent)).strip()
    if not text:
        has_images = any(isinstance(block, ImageContent) for block in message.content)
        text = "(the tool returned an image, which Cohere cannot take in a tool result)" if has_images else "(no output)"
    if message.is_error:
        text = f"[tool error] {text}"
    return {"role": "tool", "tool_call_id": message.tool_call_id, "content": [{"type": "text", "text": text}]}


def convert_messages(system_prompt: str | None, messages: list[Message]) -> list[dict[str, Any]]:
    """Cohere ``messages``: the system prompt first, then each turn in Cohere's shape."""
    converted: list[dict[str, Any]] = []
    if system_prompt is not None and system_prompt.strip():
        converted.append({"role": "system", "content": system_prompt})
    for message in messages:
        item: dict[str, Any] | None
        if isinstance(message, UserMessage):
            item = _user_message(message)
        elif isinstance(message, ToolResultMessage):
            item = _tool_message(message)
        else:
            item = _assistant_message(message)
        if item is not None:
            converted.append(item)
    return converted


def _tools(tools: list[Tool]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": wire_parameters(tool, COHERE_CHAT.name),
            },
        }
        for tool in tools
    ]


def _only_tool(name: str, tools: list[Tool] | None) -> bool:
    """Whether ``name`` is the request's one tool: then forcing it is forcing any call (``REQUIRED``)."""
    return tools is not None and len(tools) == 1 and tools[0].name == name


def _response_format(options: StreamOptions) -> dict[str, Any] | None:
    """Cohere's ``response_format``: ``json_object``, with ``json_schema`` when there is a schema."""
    output = options.output
    if output is None or not output.native:
        return None
    if output.wire_schema is None:
        return {"type": "json_object"}
    schema = openai_response_format(output)["json_schema"]["schema"]
    return {"type": "json_object", "json_schema": schema}


def _thinking(options: StreamOptions) -> dict[str, Any] | None:
    own = options.provider_options
    enabled = own.get("thinking_enabled")
    budget = own.get("thinking_budget_tokens")
    if enabled is None and budget is None:
        return None
    if enabled is False:
        return {"type": "disabled"}
    thinking: dict[str, Any] = {"type": "enabled"}
    if budget is not None:
        thinking["token_budget"] = budget
    return thinking


# --------------------------------------------------------------------------- the provider


class CohereChatProvider(HttpProvider):
    """Cohere's v2 chat over HTTP (see the module docstring)."""

    api = COHERE_CHAT.name
    label = LABEL
    error_kinds = ERROR_KINDS

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        name = named_tool(options.tool_choice)
        if name is not None and not _only_tool(name, context.tools):
            raise ValueError(
                f"option tool_choice={{'name': {name!r}}} cannot be sent to {model.key}: Cohere's v2 chat "
                "forces no named tool; expected 'auto', 'none' or 'required' (with only that tool in the tools list)"
            )

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        shaped = self.shape(model, context, options)
        key = cast(str, self.api_key(model, options))  # raises MissingApiKeyError when none is set
        body: dict[str, Any] = {
            "model": model.id,
            "stream": True,
            "messages": convert_messages(shaped.context.system_prompt, shaped.context.messages),
        }
        tools = shaped.context.tools
        if tools:
            body["tools"] = _tools(tools)
            if any(tool.strict for tool in tools):
                body["strict_tools"] = True
        values = shaped.values
        if values.temperature is not None:
            body["temperature"] = values.temperature
        if options.max_tokens is not None:
            body["max_tokens"] = options.max_tokens
        for name, field in _SAMPLING_FIELDS:
            value = getattr(options, name)
            if value is not None:
                body[field] = value
        choice = values.tool_choice
        if tools and named_tool(choice) is not None:
            choice = "required"  # check_request let through only the name of the one tool
        if tools and isinstance(choice, str) and choice in _TOOL_CHOICES:
            body["tool_choice"] = _TOOL_CHOICES[choice]
        response_format = _response_format(options)
        if response_format is not None:
            body["response_format"] = response_format
        thinking = _thinking(options)
        if thinking is not None:
            body["thinking"] = thinking
        self.with_extra_body(body, options)
        defaults = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "authorization": f"Bearer {key}",
        }
        headers = self.headers(model, options, defaults)
        return HttpRequest("POST", f"{self.base_url(model)}/v2/chat", headers, body, (key,))

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> CohereChatParser:
        return CohereChatParser(emitter)

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """A ``reasoning`` level turns thinking on with the level's token budget, or off.

        The level is clamped to what the model takes; the budget is ``thinking_budgets``'
        (else alchemy's defaults). Models without reasoning ignore the level; an explicit
        ``thinking_enabled`` / ``thinking_budget_tokens`` wins.
        """
        own = dict(options.provider_options)
        level = options.reasoning
        if level is None or not model.reasoning or "thinking_enabled" in own or "thinking_budget_tokens" in own:
            return options
        clamped = clamp_thinking_level(model, level)
        if clamped == "off":
            own["thinking_enabled"] = False
        else:
            own["thinking_enabled"] = True
            own["thinking_budget_tokens"] = thinking_budget_for(clamped, options.thinking_budgets)
        return dataclasses.replace(options, provider_options=own)


# --------------------------------------------------------------------------- the parser


def _message_delta(event: dict[str, Any]) -> dict[str, Any]:
    """``event["delta"]["message"]`` (an empty mapping when absent)."""
    delta = event.get("delta")
    message = delta.get("message") if isinstance(delta, dict) else None
    return message if isinstance(message, dict) else {}


class CohereChatParser(SSEParser):
    """Turns Cohere's v2 chat events into emitter calls."""

    __slots__ = ("_blocks", "_ended", "_failure")

    def __init__(self, emitter: EventEmitter) -> None:
        super().__init__(emitter)
        self._ended = False
        self._failure: ProviderStreamError | None = None
        self._blocks: dict[int, int] = {}  # Cohere's content index -> the block's index in message.content

    def on_event(self, event: str, data: bytes) -> None:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            payload = loads_replacing_lone_surrogates(data)
            if payload is NOT_JSON:
                raise StreamInterruptedError(
                    f"{LABEL} sent an event whose JSON does not parse ({exc}): {data[:200]!r}"
                ) from None
        if not isinstance(payload, dict):
            return
        kind = payload.get("type")
        kind = kind if isinstance(kind, str) else event
        emitter = self.emitter
        if kind == "message-start":
            response_id = payload.get("id")
            if isinstance(response_id, str) and response_id and emitter.response_id is None:
                emitter.set_response_id(response_id)
        elif kind == "content-start":
            self._content_start(payload.get("index"), _message_delta(payload).get("content"))
        elif kind == "content-delta":
            self._content_delta(_message_delta(payload).get("content"))
        elif kind == "content-end":
            self._close_part()
        elif kind == "tool-plan-delta":
            self._tool_plan(_message_delta(payload).get("tool_plan"))
        elif kind == "tool-call-start":
            self._tool_call_start(_message_delta(payload).get("tool_calls"))
        elif kind == "tool-call-delta":
            self._tool_call_delta(_message_delta(payload).get("tool_calls"))
        elif kind == "tool-call-end":
            if isinstance(emitter.open_block, ToolCall):
                emitter.tool_call_end()
        elif kind == "citation-start":
            self._citation(_message_delta(payload).get("citations"))
        elif kind == "message-end":
            self._message_end(payload.get("delta"))
        elif kind == "error" or ("error" in payload and kind not in _QUIET_EVENTS):
            raise _stream_error(payload)

    def finish(self) -> None:
        if self._failure is not None:
            raise self._failure
        if not self._ended:
            raise StreamInterruptedError(f"{LABEL}'s stream ended before message-end", retryable=True)
        self.emitter.done()

    # -- pieces ------------------------------------------------------------------------------

    def _content_start(self, index: Any, content: Any) -> None:
        self._close_part()
        if not isinstance(content, dict):
            return
        emitter = self.emitter
        if content.get("type") == "thinking":
            emitter.thinking_start()
        else:
            emitter.text_start()
        if isinstance(index, int) and emitter.current_index is not None:
            self._blocks[index] = emitter.current_index
        self._content_delta(content)

    def _content_delta(self, content: Any) -> None:
        if not isinstance(content, dict):
            return
        thinking = content.get("thinking")
        if isinstance(thinking, str) and thinking:
            self.emitter.thinking_delta(thinking)
        text = content.get("text")
        if isinstance(text, str) and text:
            self.emitter.text_delta(text)

    def _close_part(self) -> None:
        emitter = self.emitter
        block = emitter.open_block
        if isinstance(block, ThinkingContent):
            emitter.thinking_end()
        elif isinstance(block, TextContent):
            emitter.text_end()

    def _citation(self, cited: Any) -> None:
        """One ``citation-start``: a Citation on the text block it points into (module docstring)."""
        if not isinstance(cited, dict):
            return
        if cited.get("type") in _UNPLACED_CITATIONS:
            logger.info("%s: a citation of a %s is not kept (only text blocks carry citations)", LABEL, cited["type"])
            return
        emitter = self.emitter
        texts = dict(emitter.text_blocks())
        if not texts:
            logger.warning("%s sent a citation before any text; it is not kept: %.200r", LABEL, cited)
            return
        start, end = _offset(cited.get("start")), _offset(cited.get("end"))
        target = self._blocks.get(cited["content_index"]) if isinstance(cited.get("content_index"), int) else None
        if target is not None and target in texts:
            position, block, base = target, texts[target], 0
        elif start is None:
            position, block = next(iter(texts.items()))
            base = 0
        else:  # offsets into the message's text parts read as one text
            located = emitter.text_block_at(start)
            assert located is not None
            position, block, base = located
        text = cited.get("text")
        span = _anchor(block.text, text if isinstance(text, str) else None, start, end, base)
        title = next(
            (
                source["document"]["title"]
                for source in cited.get("sources") or ()
                if isinstance(source, dict)
                and isinstance(source.get("document"), dict)
                and isinstance(source["document"].get("title"), str)
            ),
            None,
        )
        citation = Citation(
            "document",
            title=title,
            cited_text=text if isinstance(text, str) and text else None,
            start=span[0] if span else None,
            end=span[1] if span else None,
            wire=cited,
        )
        self.emitter.add_citations([citation], index=position)

    def _tool_plan(self, plan: Any) -> None:
        if not isinstance(plan, str) or not plan:
            return
        emitter = self.emitter
        block = emitter.open_block
        if not (isinstance(block, ThinkingContent) and block.thinking_signature == TOOL_PLAN_SIGNATURE):
            self._close_part()
            emitter.thinking_start(TOOL_PLAN_SIGNATURE)
        emitter.thinking_delta(plan)

    def _tool_call_start(self, call: Any) -> None:
        self._close_part()
        emitter = self.emitter
        if isinstance(emitter.open_block, ToolCall):
            emitter.tool_call_end()
        call = call if isinstance(call, dict) else {}
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        call_id = call.get("id")
        name = function.get("name")
        emitter.tool_call_start(
            call_id if isinstance(call_id, str) and call_id else f"call_{emitter.block_count}",
            name if isinstance(name, str) else "",
        )
        self._arguments(function.get("arguments"))

    def _tool_call_delta(self, call: Any) -> None:
        if not isinstance(call, dict) or not isinstance(self.emitter.open_block, ToolCall):
            return
        function = call.get("function")
        if isinstance(function, dict):
            self._arguments(function.get("arguments"))

    def _arguments(self, arguments: Any) -> None:
        if isinstance(arguments, str):
            self.emitter.tool_call_delta(arguments)
        elif isinstance(arguments, dict):
            self.emitter.tool_call_delta(orjson.dumps(arguments).decode())

    def _message_end(self, delta: Any) -> None:
        self._ended = True
        emitter = self.emitter
        self._close_part()
        if isinstance(emitter.open_block, ToolCall):
            emitter.tool_call_end()
        delta = delta if isinstance(delta, dict) else {}
        usage = delta.get("usage")
        if isinstance(usage, dict):
            emitter.set_usage(_usage(usage))
        reason = delta.get("finish_reason")
        if not isinstance(reason, str):
            return
        if reason in _FAILED_REASONS:
            said = delta.get("error")
            message = said if isinstance(said, str) and said else f"finish_reason {reason}"
            text = f"{LABEL} {reason}: {message}"
            self._failure = ProviderStreamError(
                text, kind=classify_error(code=reason, text=text, codes=ERROR_KINDS), code=reason, provider_message=message
            )
            return
        emitter.set_stop_reason(_STOP_REASONS.get(reason, "stop"))


def _offset(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _anchor(text: str, cited: str | None, start: int | None, end: int | None, base: int) -> tuple[int, int] | None:
    """The range of ``text`` a citation covers: Cohere's ``start``/``end`` (less ``base``, the block's
    offset in the message text) when they hold the cited span; else the occurrence of the cited
    span nearest to ``start`` (offsets counted in other units, or text the parts split differently);
    else the offsets clipped to the block. ``None`` when Cohere gave no range."""
    if start is None or end is None or end < start:
        return None
    start, end = start - base, end - base
    if cited and text[start:end] != cited:
        before, after = text.rfind(cited, 0, start + len(cited)), text.find(cited, start)
        found = [at for at in (before, after) if at >= 0]
        if found:
            at = min(found, key=lambda at: abs(at - start))
            return at, at + len(cited)
    size = len(text)
    return min(start, size), min(end, size)


def _stream_error(payload: dict[str, Any]) -> ProviderStreamError:
    """An error event inside the stream (``{"type": "error", "message": ...}`` or ``{"error": ...}``)."""
    error = payload.get("error")
    details = error if isinstance(error, dict) else payload
    message = details.get("message")
    if not isinstance(message, str) or not message:
        message = error if isinstance(error, str) and error else orjson.dumps(payload).decode()[:2000]
    text = f"{LABEL} error: {message}"
    return ProviderStreamError(text, kind=classify_error(text=text, codes=ERROR_KINDS), provider_message=message)


def _usage(usage: dict[str, Any]) -> Usage:
    """Token counts of ``message-end``: ``tokens`` (else ``billed_units``), cached tokens apart."""
    counts = usage.get("tokens")
    if not isinstance(counts, dict):
        counts = usage.get("billed_units")
    counts = counts if isinstance(counts, dict) else {}
    read = _count(counts, "input_tokens")
    output = _count(counts, "output_tokens")
    cached = min(_count(usage, "cached_tokens"), read)
    return Usage(input=read - cached, output=output, cache_read=cached, total_tokens=read + output)


def _count(counts: dict[str, Any], key: str) -> int:
    value = counts.get(key)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


provider = CohereChatProvider()
"""The provider instance registered for ``cohere-chat``."""
