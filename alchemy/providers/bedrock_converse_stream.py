"""Amazon Bedrock's ConverseStream API (``bedrock-converse-stream``), sans-I/O.

Request: ``POST {base}/model/{modelId}/converse-stream`` with a JSON body of
``messages``, ``system`` blocks, ``inferenceConfig``, ``toolConfig`` and, for Claude
models, thinking in ``additionalModelRequestFields``. Authentication and the
region are described in :mod:`alchemy.providers._aws` (Bedrock API keys, no auth
for proxies, or SigV4 with botocore's credential chain, signed in
:meth:`BedrockConverseStreamProvider.finalize_request` over the exact body sent).

Response: AWS's binary event-stream framing, decoded by
:class:`alchemy.EventStreamDecoder`; each message's ``:event-type`` header names a
JSON event (``messageStart``, ``contentBlockStart/Delta/Stop``, ``messageStop``,
``metadata``). Exception messages (``throttlingException``, ``validationException``,
...) end the stream with their text; a corrupt frame ends it as interrupted.

Mapping follows pi-ai's Bedrock adapter: blank text is never sent (Bedrock rejects
it); Claude's thinking is replayed as ``reasoningContent`` with its signature
(without one it goes back as plain text), other models' thinking without a
signature; consecutive tool results share one user turn; cache points go after the
system prompt and the last user turn of models with prompt caching (``cache_retention``,
else ``ALCHEMY_CACHE_RETENTION``, else ``short``; ``long`` asks for a one-hour TTL);
Bedrock's stop reasons map as ``end_turn``/``stop_sequence`` -> stop, ``max_tokens``/
``model_context_window_exceeded`` -> length, ``tool_use`` -> toolUse, anything else
(``guardrail_intervened``, ``content_filtered``) -> an error.

Own options: ``region``, ``profile`` (an AWS profile for the credential chain),
``tool_choice`` (``"auto"``, ``"any"``/``"required"``, ``"none"``, or
``{"type": "tool", "name": ...}``), ``reasoning`` (a thinking level, Claude only),
``thinking_budgets`` and ``interleaved_thinking``. With a thinking budget and no
``max_tokens``, ``maxTokens`` is the budget plus 32,000 (capped by the model), since
Claude needs room beyond the budget.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import orjson

from .._speedups import EventStreamDecoder, EventStreamMessage
from ..errors import EventStreamError, ProviderStreamError, StreamInterruptedError
from ..streaming import THINKING_LEVELS
from ..transport import HttpRequest, base_url_override
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
from ._aws import BEARER_TOKEN_VARIABLE, SigV4Signer, credentials_signer, resolve_region, skip_auth_requested
from .base import HttpProvider, provider_option, resolve_cache_retention

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions
    from ..types import Context, Message, Model, StopReason, Tool

__all__ = ["BedrockConverseParser", "BedrockConverseStreamProvider", "provider"]

LABEL: Final = "Amazon Bedrock"

DEFAULT_THINKING_BUDGETS: Final = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
"""Claude thinking budgets (tokens) per level; ``xhigh`` uses ``high``'s."""
INTERLEAVED_THINKING_BETA: Final = "interleaved-thinking-2025-05-14"
SIMPLE_MAX_TOKENS: Final = 32000
"""``stream_simple`` sends at most this many output tokens unless ``max_tokens`` says otherwise."""

_STOP_REASONS: Final[dict[str, StopReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "toolUse",
}
_FAILED_STOPS: Final = {
    "guardrail_intervened": "a guardrail intervened",
    "content_filtered": "the content was filtered",
}
# Exceptions worth a retry: throttling, capacity, transient server-side failures.
_RETRYABLE_EXCEPTIONS: Final = frozenset(
    {
        "throttlingexception",
        "serviceunavailableexception",
        "internalserverexception",
        "modelstreamerrorexception",
        "modelnotreadyexception",
    }
)
_IMAGE_FORMATS: Final = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}
_TOOL_CHOICES: Final = ("auto", "any", "required", "none")
_OWN_OPTIONS: Final = frozenset(
    {"region", "profile", "tool_choice", "reasoning", "thinking_budgets", "interleaved_thinking"}
)


# --------------------------------------------------------------------------- model traits


def is_claude(model: Model) -> bool:
    """Anthropic's models on Bedrock (model ids, inference profiles, ``anthropic/claude`` ARNs)."""
    model_id = model.id.lower()
    return "anthropic.claude" in model_id or "anthropic/claude" in model_id


def _effort_values(model: Model) -> tuple[str, ...] | None:
    for option in model.reasoning_options:
        if option.get("type") == "effort":
            values = option.get("values")
            return tuple(values) if isinstance(values, list) else ()
    return None


def _takes_budget(model: Model) -> bool:
    return any(option.get("type") == "budget_tokens" for option in model.reasoning_options)


def uses_adaptive_thinking(model: Model) -> bool:
    """Claude 4.6 and later think adaptively (``thinking: {type: adaptive}`` plus an effort).

    pi-ai names the 4.6 models; newer ones are recognised by the registry listing an
    effort control and no token budget for them.
    """
    model_id = model.id.lower()
    if any(name in model_id for name in ("opus-4-6", "opus-4.6", "sonnet-4-6", "sonnet-4.6")):
        return True
    return _effort_values(model) is not None and not _takes_budget(model)


def adaptive_effort(model: Model, level: str) -> str:
    """The ``output_config.effort`` of a thinking level (pi-ai's mapping, xhigh where offered)."""
    if level == "minimal":
        return "low"
    if level != "xhigh":
        return level
    values = _effort_values(model) or ()
    if "xhigh" in values:
        return "xhigh"
    if "opus" in model.id.lower() and (not values or "max" in values):
        return "max"
    return "high"


def supports_cache_points(model: Model) -> bool:
    """Models whose Converse requests take ``cachePoint`` blocks (Claude 3.5 Haiku, 3.7 Sonnet, 4+; Nova)."""
    model_id = model.id.lower()
    if "claude" in model_id:
        if "claude-3" in model_id:
            return "claude-3-7-sonnet" in model_id or "claude-3-5-haiku" in model_id
        return True
    return "amazon.nova" in model_id and model.cost.cache_read is not None


# --------------------------------------------------------------------------- request conversion


def _image_block(image: ImageContent) -> dict[str, Any]:
    image_format = _IMAGE_FORMATS.get(image.mime_type.lower())
    if image_format is None:
        raise ValueError(
            f"Bedrock accepts jpeg, png, gif and webp images, not {image.mime_type!r}; convert the image first"
        )
    return {"image": {"format": image_format, "source": {"bytes": image.data}}}


def _user_blocks(message: UserMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}] if message.content.strip() else []
    blocks: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                blocks.append({"text": block.text})
        else:
            blocks.append(_image_block(block))
    return blocks


def _assistant_blocks(message: AssistantMessage, claude: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                blocks.append({"text": block.text})
        elif isinstance(block, ThinkingContent):
            if block.redacted:
                if claude and block.thinking_signature:
                    blocks.append({"reasoningContent": {"redactedContent": block.thinking_signature}})
            elif not block.thinking.strip():
                continue
            elif not claude:
                blocks.append({"reasoningContent": {"reasoningText": {"text": block.thinking}}})
            elif block.thinking_signature:
                reasoning = {"text": block.thinking, "signature": block.thinking_signature}
                blocks.append({"reasoningContent": {"reasoningText": reasoning}})
            else:
                # Claude rejects unsigned reasoning (e.g. from an aborted turn): plain text keeps it.
                blocks.append({"text": block.thinking})
        elif isinstance(block, ToolCall):
            blocks.append({"toolUse": {"toolUseId": block.id, "name": block.name, "input": block.arguments}})
    return blocks


def _tool_result_block(message: ToolResultMessage) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                content.append({"text": block.text})
        else:
            content.append(_image_block(block))
    if not content:
        content.append({"text": "(no output)"})
    return {
        "toolResult": {
            "toolUseId": message.tool_call_id,
            "content": content,
            "status": "error" if message.is_error else "success",
        }
    }


def convert_messages(messages: list[Message], model: Model) -> list[dict[str, Any]]:
    """Converse ``messages``: alternating user and assistant turns, no blank text, no empty turn.

    Tool results become ``toolResult`` blocks of a user turn; turns of one role that
    end up side by side (tool results then a user message) are joined, as Bedrock
    requires alternating roles.
    """
    claude = is_claude(model)
    converted: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, UserMessage):
            role, blocks = "user", _user_blocks(message)
        elif isinstance(message, ToolResultMessage):
            role, blocks = "user", [_tool_result_block(message)]
        else:
            role, blocks = "assistant", _assistant_blocks(message, claude)
        if not blocks:
            continue
        if converted and converted[-1]["role"] == role:
            converted[-1]["content"].extend(blocks)
        else:
            converted.append({"role": role, "content": blocks})
    return converted


def _cache_point(retention: str) -> dict[str, Any]:
    point: dict[str, Any] = {"type": "default"}
    if retention == "long":
        point["ttl"] = "1h"
    return {"cachePoint": point}


def _tool_specs(tools: list[Tool]) -> list[dict[str, Any]]:
    return [
        {"toolSpec": {"name": tool.name, "description": tool.description, "inputSchema": {"json": tool.parameters}}}
        for tool in tools
    ]


def _tool_choice(value: Any) -> str | dict[str, Any] | None:
    """Checks the ``tool_choice`` option; returns ``auto``/``any``/``none`` or ``{"tool": {"name"}}``."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in _TOOL_CHOICES:
            raise ValueError(
                "option tool_choice must be 'auto', 'any', 'required', 'none' or {'type': 'tool', 'name': ...}, "
                f"got {value!r}"
            )
        return "any" if value == "required" else value
    if isinstance(value, dict):
        name = value.get("name")
        function = value.get("function")
        if name is None and isinstance(function, dict):
            name = function.get("name")
        if isinstance(name, str) and name:
            return {"tool": {"name": name}}
    raise ValueError(f"option tool_choice must name a tool as {{'type': 'tool', 'name': ...}}, got {value!r}")


def _has_tool_blocks(messages: list[Message]) -> bool:
    return any(
        isinstance(message, ToolResultMessage) or (isinstance(message, AssistantMessage) and message.tool_calls)
        for message in messages
    )


def _level(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if value not in THINKING_LEVELS:
        raise ValueError(f"option {name} must be one of {', '.join(map(repr, THINKING_LEVELS))}, got {value!r}")
    return str(value)


def _budgets(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        level in THINKING_LEVELS and isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0
        for level, tokens in value.items()
    ):
        raise ValueError(f"option thinking_budgets must map thinking levels to token counts, got {value!r}")
    return value


def thinking_budget(level: str, budgets: dict[str, int]) -> int:
    """The budget of a level: ``thinking_budgets`` first, then pi-ai's defaults (xhigh as high)."""
    key = "high" if level == "xhigh" else level
    return budgets.get(level, budgets.get(key, DEFAULT_THINKING_BUDGETS[key]))


def _thinking_fields(model: Model, options: StreamOptions) -> dict[str, Any]:
    """``additionalModelRequestFields`` for Claude's thinking (empty when thinking is off)."""
    level = _level(provider_option(options, "reasoning"), "reasoning")
    budgets = _budgets(provider_option(options, "thinking_budgets"))
    interleaved = provider_option(options, "interleaved_thinking")
    if interleaved is not None and not isinstance(interleaved, bool):
        raise ValueError(f"option interleaved_thinking must be True or False, got {interleaved!r}")
    if level is None or not model.reasoning or not is_claude(model):
        return {}
    if uses_adaptive_thinking(model):
        return {"thinking": {"type": "adaptive"}, "output_config": {"effort": adaptive_effort(model, level)}}
    fields: dict[str, Any] = {"thinking": {"type": "enabled", "budget_tokens": thinking_budget(level, budgets)}}
    if interleaved is not False:
        fields["anthropic_beta"] = [INTERLEAVED_THINKING_BETA]
    return fields


def converse_body(model: Model, context: Context, options: StreamOptions) -> dict[str, Any]:
    """``messages`` and ``system`` of a shaped context, with cache points where the model takes them."""
    messages = convert_messages(context.messages, model)
    retention = resolve_cache_retention(options)
    caching = retention != "none" and supports_cache_points(model)
    body: dict[str, Any] = {"messages": messages}
    system = context.system_prompt
    if system is not None and system.strip():
        system_blocks: list[dict[str, Any]] = [{"text": system}]
        if caching:
            system_blocks.append(_cache_point(retention))
        body["system"] = system_blocks
    if caching and messages and messages[-1]["role"] == "user":
        messages[-1]["content"].append(_cache_point(retention))
    return body


def _inference_config(
    model: Model, options: StreamOptions, temperature: float | None, thinking: dict[str, Any]
) -> dict[str, Any]:
    inference: dict[str, Any] = {}
    if options.max_tokens is not None:
        inference["maxTokens"] = options.max_tokens
    elif "budget_tokens" in thinking.get("thinking", {}):
        # Claude needs room beyond the thinking budget; Bedrock's default may not leave any.
        room = thinking["thinking"]["budget_tokens"] + SIMPLE_MAX_TOKENS
        inference["maxTokens"] = min(room, model.max_tokens) if model.max_tokens else room
    if temperature is not None and not thinking:  # Claude takes no temperature while thinking
        inference["temperature"] = temperature
    return inference


def _tool_config(tools: list[Tool], choice: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"tools": _tool_specs(tools)}
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice in ("any", "required"):
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        config["toolChoice"] = {"tool": {"name": choice["name"]}}
    return config


# --------------------------------------------------------------------------- auth


def _bearer_token(options: StreamOptions) -> str | None:
    """A Bedrock API key: ``api_key=``, else ``AWS_BEARER_TOKEN_BEDROCK``."""
    return options.api_key or os.environ.get(BEARER_TOKEN_VARIABLE, "").strip() or None


def _text_option(options: StreamOptions, name: str) -> str | None:
    value = provider_option(options, name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"option {name} must be a non-empty string, got {value!r}")
    return value


def _region(options: StreamOptions, url: str) -> str:
    return resolve_region(_text_option(options, "region"), profile=_text_option(options, "profile"), url=url)


def _signer(options: StreamOptions, url: str) -> SigV4Signer:
    return credentials_signer(_region(options, url), _text_option(options, "profile"))


def _endpoint(model: Model, options: StreamOptions) -> str:
    """The base URL: ``ALCHEMY_BASE_URL_OVERRIDE``, else the model's with the region filled in."""
    override = base_url_override()
    if override:
        return override
    url = model.base_url
    if "${AWS_REGION}" in url or "${AWS_DEFAULT_REGION}" in url:
        region = _region(options, url)
        url = url.replace("${AWS_REGION}", region).replace("${AWS_DEFAULT_REGION}", region)
    if "${" in url:
        from ..models import resolve_base_url

        url = resolve_base_url(dataclasses.replace(model, base_url=url))
    return url.rstrip("/")


# --------------------------------------------------------------------------- the provider


class BedrockConverseStreamProvider(HttpProvider):
    """Amazon Bedrock ConverseStream over HTTP (see the module docstring)."""

    api = "bedrock-converse-stream"
    label = LABEL
    own_option_names = _OWN_OPTIONS

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        choice = _tool_choice(provider_option(options, "tool_choice"))
        thinking = _thinking_fields(model, options)
        _text_option(options, "region")
        _text_option(options, "profile")

        shape_choice: Any = None if choice is None or choice == "none" else choice
        if isinstance(shape_choice, dict):
            shape_choice = {"type": "tool", "name": shape_choice["tool"]["name"]}
        shaped = self.shape(model, context, options, tool_choice=shape_choice)
        shaped_context = shaped.context
        if choice == "none" and _has_tool_blocks(shaped_context.messages):
            # Bedrock has no "none" and wants toolConfig whenever the history holds tool
            # blocks: the history is written as text instead, so no tool can be called.
            from ..capabilities import ShapedRequest, tool_history_to_text

            toolless = dataclasses.replace(model, capabilities=dataclasses.replace(model.caps, supports_tools=False))
            shaped_context = tool_history_to_text(ShapedRequest(shaped_context), toolless).context

        body = converse_body(model, shaped_context, options)
        inference = _inference_config(model, options, shaped.values.temperature, thinking)
        if inference:
            body["inferenceConfig"] = inference
        tools = shaped_context.tools
        if tools and choice != "none":
            body["toolConfig"] = _tool_config(tools, shaped.values.tool_choice)
        if thinking:
            body["additionalModelRequestFields"] = thinking

        headers = self.headers(model, options, {"content-type": "application/json"})
        url = f"{_endpoint(model, options)}/model/{quote(model.id, safe='')}/converse-stream"
        token = _bearer_token(options)
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
            return HttpRequest("POST", url, headers, body, (token,))
        if not skip_auth_requested():
            _signer(options, url)  # fail now, clearly, when there is no region or no credentials
        return HttpRequest("POST", url, headers, body)

    def finalize_request(self, model: Model, options: StreamOptions, request: HttpRequest) -> HttpRequest:
        """Signs the request with SigV4 over the exact body bytes about to be sent (when SigV4 is the auth)."""
        if _bearer_token(options) is not None or skip_auth_requested():
            return request
        return _signer(options, request.url).sign(request)

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> BedrockConverseParser:
        return BedrockConverseParser(model, emitter)

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """``reasoning`` -> Claude thinking (pi-ai's levels and budgets); a max-tokens value is always sent.

        Budget-based models get ``max_tokens`` raised by the budget (up to the
        model's limit), and the budget lowered to leave 1024 tokens for the answer
        when the limit does not allow both. Other Bedrock models ignore the level.
        """
        base = options.max_tokens or min(model.max_tokens or SIMPLE_MAX_TOKENS, SIMPLE_MAX_TOKENS)
        own = dict(options.provider_options)
        level = options.reasoning
        if level is None or not model.reasoning or not is_claude(model):
            own.pop("reasoning", None)
            return dataclasses.replace(options, max_tokens=base, provider_options=own)
        own["reasoning"] = level
        if uses_adaptive_thinking(model):
            return dataclasses.replace(options, max_tokens=base, provider_options=own)
        budgets = dict(options.thinking_budgets or {})
        budget = thinking_budget(level, budgets)
        max_tokens = min(base + budget, model.max_tokens) if model.max_tokens else base + budget
        if max_tokens <= budget:
            budget = max(0, max_tokens - 1024)
        budgets[level] = budget
        own["thinking_budgets"] = budgets
        return dataclasses.replace(options, max_tokens=max_tokens, provider_options=own)


# --------------------------------------------------------------------------- the parser

_NONE: Final = 0
_TEXT: Final = 1
_THINKING: Final = 2
_TOOL: Final = 3


def _exception_error(kind: str, payload: bytes, message_type: str) -> ProviderStreamError:
    text = ""
    if payload:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            text = payload.decode("utf-8", "replace")
        else:
            if isinstance(data, dict):
                value = data.get("message") or data.get("Message")
                text = value if isinstance(value, str) else payload.decode("utf-8", "replace")
    retryable = kind.lower() in _RETRYABLE_EXCEPTIONS
    return ProviderStreamError(f"{LABEL} {kind}: {text or f'the stream reported an {message_type}'}", retryable=retryable)


class BedrockConverseParser:
    """Turns a ConverseStream body (event-stream frames of JSON events) into emitter calls."""

    __slots__ = ("emitter", "_model", "_decode", "_flush", "_handlers", "_open_index", "_open_kind", "_stop", "_failure")

    def __init__(self, model: Model, emitter: EventEmitter) -> None:
        self.emitter = emitter
        self._model = model
        decoder = EventStreamDecoder()
        self._decode = decoder.feed
        self._flush = decoder.flush
        self._handlers: dict[str, Callable[[Any], None]] = {
            "contentBlockDelta": self._on_block_delta,
            "contentBlockStart": self._on_block_start,
            "contentBlockStop": self._on_block_stop,
            "messageStart": self._on_message_start,
            "messageStop": self._on_message_stop,
            "metadata": self._on_metadata,
        }
        # Bedrock's contentBlockIndex of the open block, and its kind.
        self._open_index: int | None = None
        self._open_kind = _NONE
        self._stop: str | None = None
        self._failure: str | None = None

    # -- WireParser --------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        try:
            messages = self._decode(chunk)
        except EventStreamError as exc:
            # Bytes damaged on the way: trying again may well get a clean stream.
            raise StreamInterruptedError(f"{LABEL} sent a corrupt event stream: {exc}", retryable=True) from None
        for message in messages:
            self._on_frame(message)

    def finish(self) -> None:
        try:
            self._flush()
        except EventStreamError as exc:
            raise StreamInterruptedError(f"{LABEL}'s stream was cut off: {exc}", retryable=True) from None
        if self._failure is not None:
            raise ProviderStreamError(self._failure)
        if self._stop is None:
            raise StreamInterruptedError(f"{LABEL}'s stream ended before its messageStop event", retryable=True)
        self.emitter.done()

    # -- frames ------------------------------------------------------------------------------

    def _on_frame(self, message: EventStreamMessage) -> None:
        headers = message.headers
        message_type = headers.get(":message-type", "event")
        if message_type == "event":
            event_type = headers.get(":event-type")
            if not isinstance(event_type, str):
                return
            handler = self._handlers.get(event_type)
            if handler is None:
                return  # an event this version does not know: nothing to show
            payload = message.payload
            try:
                data = orjson.loads(payload) if payload else {}
            except orjson.JSONDecodeError as exc:
                raise StreamInterruptedError(
                    f"{LABEL} sent a {event_type} event whose JSON does not parse ({exc}): {payload[:200]!r}"
                ) from None
            if isinstance(data, dict):
                handler(data)
        elif message_type == "exception":
            kind = headers.get(":exception-type")
            raise _exception_error(kind if isinstance(kind, str) else "exception", message.payload, "exception")
        elif message_type == "error":
            code = headers.get(":error-code")
            text = headers.get(":error-message")
            kind = code if isinstance(code, str) and code else "error"
            if isinstance(text, str) and text:
                raise ProviderStreamError(f"{LABEL} {kind}: {text}", retryable=kind.lower() in _RETRYABLE_EXCEPTIONS)
            raise _exception_error(kind, message.payload, "error")

    # -- events ------------------------------------------------------------------------------

    def _on_message_start(self, data: dict[str, Any]) -> None:
        role = data.get("role", "assistant")
        if role != "assistant":
            raise ProviderStreamError(f"{LABEL} started a message with role {role!r}, expected 'assistant'")
        self.emitter.start()

    def _on_block_start(self, data: dict[str, Any]) -> None:
        start = data.get("start")
        tool = start.get("toolUse") if isinstance(start, dict) else None
        if not isinstance(tool, dict):
            return
        self.emitter.tool_call_start(str(tool.get("toolUseId") or ""), str(tool.get("name") or ""))
        self._open_index = data.get("contentBlockIndex")
        self._open_kind = _TOOL

    def _on_block_delta(self, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return
        index = data.get("contentBlockIndex")
        emitter = self.emitter
        text = delta.get("text")
        if text is not None:
            if self._open_kind != _TEXT or self._open_index != index:
                emitter.text_start()
                self._open_index = index
                self._open_kind = _TEXT
            emitter.text_delta(text)
            return
        tool = delta.get("toolUse")
        if tool is not None:
            if self._open_kind != _TOOL or self._open_index != index:
                raise ProviderStreamError(
                    f"{LABEL} sent tool input for content block {index} before its contentBlockStart"
                )
            fragment = tool.get("input") if isinstance(tool, dict) else None
            if isinstance(fragment, str):
                emitter.tool_call_delta(fragment)
            return
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            self._on_reasoning(index, reasoning)

    def _on_reasoning(self, index: Any, reasoning: dict[str, Any]) -> None:
        emitter = self.emitter
        redacted = reasoning.get("redactedContent")
        if self._open_kind != _THINKING or self._open_index != index:
            if isinstance(redacted, str):
                emitter.thinking_start(redacted, redacted=True)
            else:
                emitter.thinking_start()
            self._open_index = index
            self._open_kind = _THINKING
        elif isinstance(redacted, str):
            emitter.set_thinking_signature(redacted, append=True)
            block = emitter.message.content[-1]
            if isinstance(block, ThinkingContent):
                block.redacted = True
        text = reasoning.get("text")
        if isinstance(text, str):
            emitter.thinking_delta(text)
        signature = reasoning.get("signature")
        if isinstance(signature, str) and signature:
            emitter.set_thinking_signature(signature, append=True)

    def _on_block_stop(self, data: dict[str, Any]) -> None:
        if self._open_kind == _NONE or data.get("contentBlockIndex") != self._open_index:
            return
        kind = self._open_kind
        self._open_kind = _NONE
        self._open_index = None
        if kind == _TEXT:
            self.emitter.text_end()
        elif kind == _THINKING:
            self.emitter.thinking_end()
        else:
            self.emitter.tool_call_end()

    def _on_message_stop(self, data: dict[str, Any]) -> None:
        reason = data.get("stopReason")
        reason = reason if isinstance(reason, str) else "end_turn"
        self._stop = reason
        mapped = _STOP_REASONS.get(reason)
        if mapped is not None:
            self.emitter.set_stop_reason(mapped)
            return
        why = _FAILED_STOPS.get(reason, "the stop reason is not one alchemy knows")
        self._failure = f"{LABEL} stopped the response with stopReason {reason!r}: {why}"

    def _on_metadata(self, data: dict[str, Any]) -> None:
        counts = data.get("usage")
        if not isinstance(counts, dict):
            return
        input_tokens = _count(counts, "inputTokens")
        output_tokens = _count(counts, "outputTokens")
        cache_read = _count(counts, "cacheReadInputTokens")
        cache_write = _count(counts, "cacheWriteInputTokens")
        total = _count(counts, "totalTokens") or input_tokens + output_tokens + cache_read + cache_write
        usage = Usage(
            input=input_tokens,
            output=output_tokens,
            cache_read=cache_read,
            cache_write=cache_write,
            total_tokens=total,
        )
        self.emitter.set_usage(HttpProvider.priced(self._model, usage))


def _count(counts: dict[str, Any], key: str) -> int:
    value = counts.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


provider = BedrockConverseStreamProvider()
"""The provider instance registered for ``bedrock-converse-stream``."""
