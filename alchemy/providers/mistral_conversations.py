"""Mistral's chat completions API (``mistral-conversations``), sans-I/O.

Request: ``POST {base}/v1/chat/completions`` (``{base}/chat/completions`` when the
base URL already ends in ``/v1``) with a bearer key, streamed as server-sent events
that end with ``data: [DONE]``. Mistral's rules, as pi-ai's native adapter has them:

* tool-call ids are exactly nine alphanumerics (ids from other models are rewritten
  by the handoff; any id still out of shape is rewritten here, calls and results alike);
* ``max_tokens`` (not ``max_completion_tokens``), no ``store``, tools with
  ``strict`` as the tool says (:mod:`alchemy.strict_tools`), tool results carry the tool's ``name``;
* a ``tool`` turn is never followed directly by a ``user`` turn (Mistral rejects
  it): a short assistant turn is put between them;
* the conversation may end with an assistant turn only as a prefix for the answer
  (``prefix: true``);
* Magistral reasoning streams as typed parts in ``delta.content``
  (``{"type": "thinking", "thinking": [{"type": "text", "text": ...}]}``), and is
  replayed to the same model the same way;
* a ``reasoning`` level turns reasoning on with ``prompt_mode: "reasoning"``, or
  ``reasoning_effort: "high"`` (``"none"`` for ``"off"``) on the models whose registry
  entry offers that control;
* ``session_id`` is sent as ``x-affinity`` (KV-cache reuse) unless that header is set.

Stop reasons: ``stop`` -> stop, ``length``/``model_length`` -> length,
``tool_calls`` -> toolUse, ``error`` -> an error, anything else -> stop.
Canonical options sent: ``stop``, ``top_p``, ``seed`` (as ``random_seed``),
``frequency_penalty``, ``presence_penalty``, ``parallel_tool_calls``, ``tool_choice``
(``{"name": ...}`` as ``{"type": "function", "function": {"name": ...}}``),
structured output as ``response_format`` (:mod:`alchemy.structured`), ``extra_body``
and ``extra_headers``; own options ``prompt_mode`` and ``reasoning_effort`` (declared
in :mod:`alchemy.options`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import orjson

from ..errors import ErrorKind, ProviderStreamError, StreamInterruptedError
from ..options import ToolChoice, named_tool
from ..overflow import classify_error
from ..tool_ids import UniqueToolCallIds, mistral_tool_call_id
from ..request import HttpRequest
from ..strict_tools import wire_parameters
from ..structured import openai_response_format
from ..wire_apis import MISTRAL_CONVERSATIONS
from ..types import (
    AssistantMessage,
    ImageContent,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from ._chunks import NOT_JSON, loads_replacing_lone_surrogates
from .base import HttpProvider, SSEParser

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..types import Context, Message, Model, StopReason, Tool

__all__ = ["MistralConversationsParser", "MistralConversationsProvider", "provider"]

LABEL: Final = MISTRAL_CONVERSATIONS.label

BRIDGE_TEXT: Final = "Tool results received."
"""The assistant turn put between tool results and a following user turn."""
SIMPLE_MAX_TOKENS: Final = 32000

_STOP_REASONS: Final[dict[str, StopReason]] = {
    "stop": "stop",
    "length": "length",
    "model_length": "length",
    "tool_calls": "toolUse",
}
ERROR_KINDS: Final[Mapping[str, ErrorKind]] = {
    "invalid_request_error": "invalid_request",
    "invalid_request_message_order": "invalid_request",
    "authentication_error": "auth",
    "unauthorized": "auth",
    "forbidden": "permission",
    "invalid_model": "not_found",
    "not_found": "not_found",
    "rate_limited": "rate_limit",
    "rate_limit_error": "rate_limit",
    "service_unavailable": "overloaded",
    "overloaded": "overloaded",
    "server_error": "server",
    "internal_server_error": "server",
    "context_length_exceeded": "context_overflow",
}
"""Mistral's error types (HTTP bodies and error chunks) -> kind; rate limits, overload and
server errors are retried before content."""
_DONE: Final = b"[DONE]"
_SAMPLING_FIELDS: Final = (
    ("top_p", "top_p"),
    ("seed", "random_seed"),
    ("stop", "stop"),
    ("frequency_penalty", "frequency_penalty"),
    ("presence_penalty", "presence_penalty"),
)
"""Canonical options and Mistral's names for them."""


def uses_reasoning_effort(model: Model) -> bool:
    """Models whose reasoning is switched by ``reasoning_effort`` (``none``/``high``) rather than ``prompt_mode``."""
    return any(option.get("type") == "effort" for option in model.reasoning_options)


def _chat_url(base: str) -> str:
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


# --------------------------------------------------------------------------- request conversion


def _image_part(image: ImageContent) -> dict[str, Any]:
    return {"type": "image_url", "image_url": f"data:{image.mime_type};base64,{image.data}"}


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


def _assistant_message(message: AssistantMessage, ids: UniqueToolCallIds) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ThinkingContent):
            if block.thinking.strip() and not block.redacted:
                parts.append({"type": "thinking", "thinking": [{"type": "text", "text": block.thinking}]})
        elif isinstance(block, ToolCall):
            arguments = orjson.dumps(block.arguments).decode()
            calls.append({"id": ids(block.id), "type": "function", "function": {"name": block.name, "arguments": arguments}})
    if not parts and not calls:
        return None
    converted: dict[str, Any] = {"role": "assistant"}
    if parts:
        converted["content"] = parts
    if calls:
        converted["tool_calls"] = calls
    return converted


def _tool_message(message: ToolResultMessage, ids: UniqueToolCallIds) -> dict[str, Any]:
    text = "\n".join(block.text for block in message.content if isinstance(block, TextContent)).strip()
    images = [block for block in message.content if isinstance(block, ImageContent)]
    if not text:
        text = "(see attached image)" if images else "(no output)"
    if message.is_error:
        text = f"[tool error] {text}"
    content: str | list[dict[str, Any]] = text
    if images:
        content = [{"type": "text", "text": text}, *(_image_part(image) for image in images)]
    return {"role": "tool", "tool_call_id": ids(message.tool_call_id), "name": message.tool_name, "content": content}


def convert_messages(system_prompt: str | None, messages: list[Message]) -> list[dict[str, Any]]:
    """Mistral ``messages``: system first, Mistral-shaped ids, a bridge after tool results, prefix last."""
    ids = UniqueToolCallIds(mistral_tool_call_id)
    converted: list[dict[str, Any]] = []
    if system_prompt is not None and system_prompt.strip():
        converted.append({"role": "system", "content": system_prompt})
    for message in messages:
        item: dict[str, Any] | None
        if isinstance(message, UserMessage):
            item = _user_message(message)
            if item is not None and converted and converted[-1]["role"] == "tool":
                converted.append({"role": "assistant", "content": BRIDGE_TEXT})
        elif isinstance(message, ToolResultMessage):
            item = _tool_message(message, ids)
        else:
            item = _assistant_message(message, ids)
        if item is not None:
            converted.append(item)
    last = converted[-1] if converted else None
    if last is not None and last["role"] == "assistant" and "tool_calls" not in last:
        last["prefix"] = True
    return converted


def _tools(tools: list[Tool]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": wire_parameters(tool, MISTRAL_CONVERSATIONS.name),
                "strict": tool.strict,
            },
        }
        for tool in tools
    ]


def _wire_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """Mistral's ``tool_choice`` for a canonical choice (Mistral takes ``"required"`` as it is)."""
    name = named_tool(choice)
    if name is not None:
        return {"type": "function", "function": {"name": name}}
    return str(choice)


# --------------------------------------------------------------------------- the provider


class MistralConversationsProvider(HttpProvider):
    """Mistral chat completions over HTTP (see the module docstring)."""

    api = MISTRAL_CONVERSATIONS.name
    label = LABEL
    error_kinds = ERROR_KINDS

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        own = options.provider_options
        prompt_mode = own.get("prompt_mode")
        effort = own.get("reasoning_effort")
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
        values = shaped.values
        if values.temperature is not None:
            body["temperature"] = values.temperature
        if options.max_tokens is not None:
            body["max_tokens"] = options.max_tokens
        for name, field in _SAMPLING_FIELDS:
            value = getattr(options, name)
            if value is not None:
                body[field] = value
        if values.tool_choice is not None and tools:
            body["tool_choice"] = _wire_tool_choice(values.tool_choice)
        if options.parallel_tool_calls is not None and tools:
            body["parallel_tool_calls"] = options.parallel_tool_calls
        if prompt_mode is not None:
            body["prompt_mode"] = prompt_mode
        if effort is not None:
            body["reasoning_effort"] = effort
        if options.output is not None and options.output.native:
            body["response_format"] = openai_response_format(options.output)
        self.with_extra_body(body, options)

        defaults = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "authorization": f"Bearer {key}",
        }
        headers = self.headers(model, options, defaults)
        if options.session_id and not any(name.lower() == "x-affinity" for name in headers):
            headers["x-affinity"] = options.session_id
        return HttpRequest("POST", _chat_url(self.base_url(model)), headers, body, (key,))

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> MistralConversationsParser:
        return MistralConversationsParser(emitter)

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """A ``reasoning`` level switches reasoning: Mistral has no finer knob than on and off.

        Models whose registry entry offers an effort control take ``reasoning_effort``
        (``"high"`` for every level, ``"none"`` for ``"off"``); the others (Magistral)
        take ``prompt_mode: "reasoning"`` and cannot be told not to reason, so ``"off"``
        raises for them. An explicit ``reasoning_effort`` / ``prompt_mode`` wins.
        ``*_simple`` calls also get pi-ai's ``max_tokens`` default.
        """
        own = dict(options.provider_options)
        level = options.reasoning
        if level is not None and model.reasoning and "reasoning_effort" not in own and "prompt_mode" not in own:
            if uses_reasoning_effort(model):
                own["reasoning_effort"] = "none" if level == "off" else "high"
            elif level == "off":
                raise ValueError(
                    f"option reasoning='off' cannot be honoured by {model.key}: it always reasons "
                    "(prompt_mode only adds its reasoning instructions); leave reasoning unset"
                )
            else:
                own["prompt_mode"] = "reasoning"
        base = options.max_tokens or min(model.max_tokens or SIMPLE_MAX_TOKENS, SIMPLE_MAX_TOKENS)
        return dataclasses.replace(options, max_tokens=base, provider_options=own)


# --------------------------------------------------------------------------- the parser


def _stream_error(error: Any, chunk: dict[str, Any]) -> ProviderStreamError:
    """The error object of a chunk (OpenAI's ``{"error": {...}}`` or Mistral's ``{"object": "error"}``)."""
    details = error if isinstance(error, dict) else chunk
    message = details.get("message") if isinstance(details, dict) else None
    if not isinstance(message, str) or not message:
        message = error if isinstance(error, str) and error else orjson.dumps(chunk).decode()[:2000]
    kind = details.get("type") if isinstance(details, dict) else None
    code = details.get("code") if isinstance(details, dict) else None
    kind_text = kind if isinstance(kind, str) and kind else None
    prefix = f"{LABEL} {kind_text}" if kind_text else f"{LABEL} error"
    text = f"{prefix}: {message}"
    status = int(code) if isinstance(code, (int, str)) and str(code).isdigit() else None
    return ProviderStreamError(
        text,
        kind=classify_error(status=status, code=kind_text, text=text, codes=ERROR_KINDS),
        code=kind_text,
        provider_message=message,
    )


class MistralConversationsParser(SSEParser):
    """Turns Mistral's chat-completion chunks into emitter calls."""

    __slots__ = ("_done", "_tool_index", "_tool_named", "_failure")

    def __init__(self, emitter: EventEmitter) -> None:
        super().__init__(emitter)
        self._done = False
        # The ``index`` of the tool call whose arguments are streaming (None: no tool call open).
        self._tool_index: int | None = None
        self._tool_named = False
        self._failure: str | None = None

    def on_event(self, event: str, data: bytes) -> None:
        if data == _DONE:
            self._done = True
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            chunk = loads_replacing_lone_surrogates(data)
            if chunk is NOT_JSON:
                raise StreamInterruptedError(
                    f"{LABEL} sent a chunk whose JSON does not parse ({exc}): {data[:200]!r}"
                ) from None
        if not isinstance(chunk, dict):
            return
        emitter = self.emitter
        if "error" in chunk or chunk.get("object") == "error":
            raise _stream_error(chunk.get("error"), chunk)
        response_id = chunk.get("id")
        if isinstance(response_id, str) and response_id and emitter.response_id is None:
            emitter.set_response_id(response_id)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            emitter.set_usage(_usage(usage))
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return
        choice = choices[0]
        if not isinstance(choice, dict):
            return
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = delta.get("content")
            if content:
                if isinstance(content, str):
                    self._text(content)
                elif isinstance(content, list):
                    self._parts(content)
            calls = delta.get("tool_calls")
            if calls and isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_call(call)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._finish_reason(reason)

    def finish(self) -> None:
        if self._failure is not None:
            raise ProviderStreamError(self._failure, kind="server", code="error")
        if not self._done:
            raise StreamInterruptedError(f"{LABEL}'s stream ended before data: [DONE]", retryable=True)
        self.emitter.done()

    # -- pieces ------------------------------------------------------------------------------

    def _text(self, text: str) -> None:
        if self._tool_index is not None:
            self._close_tool_call()
        self.emitter.text_delta(text)

    def _parts(self, parts: list[Any]) -> None:
        for part in parts:
            if isinstance(part, str):
                self._text(part)
                continue
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text":
                text = part.get("text")
                if isinstance(text, str) and text:
                    self._text(text)
            elif kind == "thinking":
                pieces = part.get("thinking")
                if isinstance(pieces, list):
                    thinking = "".join(
                        piece["text"]
                        for piece in pieces
                        if isinstance(piece, dict) and isinstance(piece.get("text"), str)
                    )
                elif isinstance(pieces, str):
                    thinking = pieces
                else:
                    thinking = ""
                if thinking:
                    if self._tool_index is not None:
                        self._close_tool_call()
                    self.emitter.thinking_delta(thinking)

    def _tool_call(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        index = index if isinstance(index, int) and not isinstance(index, bool) else 0
        call_id = call.get("id")
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        emitter = self.emitter
        has_id = isinstance(call_id, str) and call_id and call_id != "null"
        if self._tool_index != index:
            if self._tool_index is not None:
                self._close_tool_call()
            new_id = str(call_id) if has_id else mistral_tool_call_id(f"toolcall:{index}")
            name = function.get("name")
            emitter.tool_call_start(new_id, name if isinstance(name, str) else "")
            self._tool_index = index
            self._tool_named = bool(name)
        elif not self._tool_named:
            name = function.get("name")
            if isinstance(name, str) and name:
                emitter.update_tool_call(name=name)
                self._tool_named = True
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            emitter.tool_call_delta(arguments)
        elif isinstance(arguments, dict):
            emitter.tool_call_delta(orjson.dumps(arguments).decode())

    def _close_tool_call(self) -> None:
        self._tool_index = None
        self.emitter.tool_call_end()

    def _finish_reason(self, reason: str) -> None:
        if reason == "error":
            self._failure = f"{LABEL} ended the response with finish_reason 'error'"
            return
        self.emitter.set_stop_reason(_STOP_REASONS.get(reason, "stop"))


def _usage(counts: dict[str, Any]) -> Usage:
    """The token counts of a chunk's ``usage`` (the emitter prices them)."""
    prompt = _count(counts, "prompt_tokens")
    output = _count(counts, "completion_tokens")
    details = counts.get("prompt_tokens_details")
    cached = _count(details, "cached_tokens") if isinstance(details, dict) else 0
    cached = min(cached, prompt)
    total = _count(counts, "total_tokens") or prompt + output
    return Usage(input=prompt - cached, output=output, cache_read=cached, total_tokens=total)


def _count(counts: dict[str, Any], key: str) -> int:
    value = counts.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


provider = MistralConversationsProvider()
"""The provider instance registered for ``mistral-conversations``."""
