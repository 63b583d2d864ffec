"""Amazon Bedrock's ConverseStream API (``bedrock-converse-stream``), sans-I/O.

Request: ``POST {base}/model/{modelId}/converse-stream`` with a JSON body of
``messages``, ``system`` blocks, ``inferenceConfig``, ``toolConfig`` and, for Claude
models, thinking in ``additionalModelRequestFields``. Authentication and the
region are described in :mod:`alchemy.providers._aws` (Bedrock API keys, no auth
for proxies, or SigV4 with botocore's credential chain: the request carries a
:class:`~alchemy.providers._aws.SigV4Signer` as its auth step, made once per request,
which the runner applies to the exact body sent, once per attempt).

Response: AWS's binary event-stream framing, decoded by
:class:`alchemy.EventStreamDecoder`; each message's ``:event-type`` header names a
JSON event (``messageStart``, ``contentBlockStart/Delta/Stop``, ``messageStop``,
``metadata``, whose ``usage`` gives the token counts, with ``cacheDetails`` splitting
the cache writes by TTL: the ``1h`` part becomes ``Usage.cache_write_1h``).
Exception messages (``throttlingException``, ``validationException``, ...) end the
stream with their text; a corrupt frame ends it as interrupted, and so does a body
that ends before the final ``metadata`` event (even after ``messageStop``).

Mapping follows pi-ai's Bedrock adapter: blank text is never sent (Bedrock rejects
it); Claude's thinking is replayed as ``reasoningContent`` with its signature
(without one it goes back as plain text), other models' thinking without a
signature; consecutive tool results share one user turn; cache points go after the
system prompt and the last user turn of models with prompt caching (``cache_retention``,
else ``ALCHEMY_CACHE_RETENTION``, else ``short``; ``long`` asks for a one-hour TTL);
Bedrock's stop reasons map as ``end_turn``/``stop_sequence`` -> stop, ``max_tokens``/
``model_context_window_exceeded`` -> length, ``tool_use`` -> toolUse, anything else
(``guardrail_intervened``, ``content_filtered``) -> an error.

Citations (documents sent with ``citations: {enabled: true}``, search results, Nova web
grounding): each ``contentBlockDelta.delta.citation`` (a ``CitationsDelta``: ``title``,
``source``, ``sourceContent`` pieces, ``location``) becomes one
:class:`~alchemy.types.Citation` on the text block of its ``contentBlockIndex`` (opened by the
citation when it comes before the text): it supports that block's whole text (``start``/``end``
``None``, as Bedrock cites per block). ``location.documentChar`` / ``documentPage`` /
``documentChunk`` -> kind ``"document"`` with ``document_index`` = ``documentIndex``;
``searchResultLocation`` -> ``"search_result"`` (``document_index`` = ``searchResultIndex``);
``web`` (Nova grounding) -> ``"url"`` with its ``url``; ``title`` as sent, ``cited_text`` = the
joined ``sourceContent`` texts, ``wire`` = the whole ``CitationsDelta``. Replayed to Bedrock,
a text block with such citations goes back as the documented ``citationsContent`` block
(``content: [{"text"}]`` plus the citation objects verbatim, in order) instead of ``text``.

Tools Bedrock runs itself (``contentBlockStart.start.toolUse.type == "server_tool_use"``, as
Nova's ``nova_grounding`` system tool streams them) become a
:class:`~alchemy.types.ServerToolCall` (``input`` from the streamed ``toolUse.input``
fragments; ``wire`` ``{"toolUse": {"type": "server_tool_use"}}``), never a client tool call;
the following ``toolResult`` block (``contentBlockStart.start.toolResult`` and its
``toolResult`` deltas) gives its ``result`` (the result pieces, consecutive text joined), its
status (``success`` -> completed, ``error`` -> failed) and ``wire["toolResult"]`` (the start's
``type`` / ``status``). They are kept on the message and not sent back: the Converse docs
describe no request shape for replaying them. alchemy sends no ``systemTool`` declaration
(``extra_body`` can set ``toolConfig.tools`` with ``{"systemTool": {"name": "nova_grounding"}}``;
a list in ``extra_body`` replaces the one built, so it must repeat any function tools).

Options: ``stop`` -> ``inferenceConfig.stopSequences``, ``top_p`` -> ``topP``;
``top_k`` -> ``additionalModelRequestFields.top_k`` (Claude only, refused at the call
for other models); ``metadata`` -> ``requestMetadata`` (string values);
``tool_choice`` -> ``toolChoice`` ``auto`` / ``any`` (``"required"``) / ``tool``.
Converse has no ``none``: with ``tool_choice="none"`` no ``toolConfig`` is sent and
tool calls and results in the history are written as text (Bedrock requires a
``toolConfig`` whenever they appear as blocks), so the model cannot call a tool.
Structured output -> ``outputConfig.textFormat`` (JSON Schema as a string) on models
with it (:mod:`alchemy.structured`). ``extra_body`` is merged into the body last.
Own options: ``region``, ``profile``
(an AWS profile for the credential chain) and ``interleaved_thinking``.

Reasoning: ``reasoning`` levels (``thinking_budgets`` for budgets) map through
:func:`alchemy.model_facts.claude_thinking`, as on the Anthropic API: ``off`` sends
no thinking, Claude 4.6 and later think adaptively with an effort, the others get a
budget (and the interleaved-thinking beta). A ``max_tokens`` is always sent with a
level; a budget is added on top of it. While thinking, ``top_k``, a ``top_p`` below
0.95 and a forced tool raise at the call; ``temperature`` is left out. Other
Bedrock models ignore the level (their reasoning fields differ by vendor).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import orjson

from .._speedups import EventStreamDecoder, EventStreamMessage
from ..errors import ErrorKind, EventStreamError, ProviderStreamError, StreamInterruptedError
from ..overflow import classify_error
from ..model_facts import ClaudeThinking, claude_thinking, fit_claude_thinking_budget, is_claude
from ..request import HttpRequest, clean_key
from ..strict_tools import wire_parameters
from ..structured import bedrock_output_config
from ..transport import base_url_override
from ..wire_apis import BEDROCK_CONVERSE_STREAM
from ..types import (
    AssistantMessage,
    Citation,
    CitationKind,
    ImageContent,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from ._aws import (
    BEARER_TOKEN_VARIABLE,
    SECRET_VARIABLES,
    SigV4Signer,
    credentials_signer,
    resolve_region,
    skip_auth_requested,
)
from ._chunks import NOT_JSON, SHAPE_ERRORS, MalformedEventError, loads_replacing_lone_surrogates
from .anthropic_messages import INTERLEAVED_THINKING, check_sampling_while_thinking
from .base import HttpProvider, provider_option, resolve_cache_retention

if TYPE_CHECKING:
    from ..capabilities import ToolChoice
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions
    from ..types import Context, Message, Model, ServerToolStatus, StopReason, Tool

__all__ = ["BedrockConverseParser", "BedrockConverseStreamProvider", "provider"]

LABEL: Final = BEDROCK_CONVERSE_STREAM.label
logger = logging.getLogger("alchemy")

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
ERROR_KINDS: Final[Mapping[str, ErrorKind]] = {
    "throttlingexception": "rate_limit",
    "servicequotaexceededexception": "rate_limit",
    "serviceunavailableexception": "overloaded",
    "modelnotreadyexception": "overloaded",
    "internalserverexception": "server",
    "modelstreamerrorexception": "server",
    "modelerrorexception": "server",
    "modeltimeoutexception": "timeout",
    "validationexception": "invalid_request",
    "accessdeniedexception": "permission",
    "resourcenotfoundexception": "not_found",
    "unrecognizedclientexception": "auth",
    "invalidsignatureexception": "auth",
    "expiredtokenexception": "auth",
    "missingauthenticationtokenexception": "auth",
    "incompletesignatureexception": "auth",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
"""Bedrock's exception names (``x-amzn-errortype`` and in-stream exception frames, any
case) and failing stop reasons -> kind. Throttling, capacity and transient server-side
failures are retried before content; a ``validationException`` that says the input is
too long is a context overflow (the text decides first)."""
_IMAGE_FORMATS: Final = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}


# --------------------------------------------------------------------------- model traits


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


def _text_block(block: TextContent) -> dict[str, Any]:
    """``text``, or a ``citationsContent`` block (the text and Bedrock's citation objects, verbatim)
    when the text carries citations Bedrock sent."""
    cited = [citation.wire for citation in block.citations or () if citation.wire is not None]
    if not cited:
        return {"text": block.text}
    return {"citationsContent": {"content": [{"text": block.text}], "citations": cited}}


def _assistant_blocks(message: AssistantMessage, claude: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                blocks.append(_text_block(block))
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
    """``toolSpec`` entries; a strict tool adds ``strict: true`` and sends its normalised schema."""
    specs = []
    for tool in tools:
        schema = wire_parameters(tool, BEDROCK_CONVERSE_STREAM.name)
        spec: dict[str, Any] = {"name": tool.name, "description": tool.description, "inputSchema": {"json": schema}}
        if tool.strict:
            spec["strict"] = True
        specs.append({"toolSpec": spec})
    return specs


def _has_tool_blocks(messages: list[Message]) -> bool:
    return any(
        isinstance(message, ToolResultMessage) or (isinstance(message, AssistantMessage) and message.tool_calls)
        for message in messages
    )


def _claude_thinking(model: Model, options: StreamOptions) -> ClaudeThinking | None:
    """Claude's thinking for the ``reasoning`` level (:func:`alchemy.model_facts.claude_thinking`).

    ``None`` when no level is given or the model is not Claude: other Bedrock models
    have vendor-specific reasoning fields, which ``extra_body`` can set under
    ``additionalModelRequestFields``.
    """
    level = options.reasoning
    if level is None or not is_claude(model):
        return None
    return claude_thinking(model, level, options.thinking_budgets)


def _additional_fields(model: Model, options: StreamOptions, thinking: ClaudeThinking | None) -> dict[str, Any]:
    """``additionalModelRequestFields``: Claude's thinking (with its effort and beta) and ``top_k``."""
    fields: dict[str, Any] = {}
    field = thinking.thinking_field() if thinking is not None else None
    if thinking is not None and field is not None:
        fields["thinking"] = field
        effort = thinking.output_config()
        if effort is not None:
            fields["output_config"] = effort
        if thinking.interleaved_beta and provider_option(options, "interleaved_thinking") is not False:
            fields["anthropic_beta"] = [INTERLEAVED_THINKING]
    if options.top_k is not None:  # Claude only: the option table's model check refuses the others
        fields["top_k"] = options.top_k
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


def _inference_config(options: StreamOptions, temperature: float | None, thinking: bool) -> dict[str, Any]:
    """``inferenceConfig``: ``maxTokens``, ``temperature`` (left out while Claude thinks), ``topP``, ``stopSequences``."""
    inference: dict[str, Any] = {}
    if options.max_tokens is not None:
        inference["maxTokens"] = options.max_tokens
    if temperature is not None and not thinking:
        inference["temperature"] = temperature
    if options.top_p is not None:
        inference["topP"] = options.top_p
    if options.stop is not None:
        inference["stopSequences"] = options.stop
    return inference


def _tool_config(tools: list[Tool], choice: ToolChoice | None) -> dict[str, Any]:
    """``toolConfig`` with the canonical choice as ``auto`` / ``any`` / ``tool`` (``none`` never gets here)."""
    config: dict[str, Any] = {"tools": _tool_specs(tools)}
    if isinstance(choice, dict):
        config["toolChoice"] = {"tool": {"name": choice["name"]}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice in ("required", "any"):
        config["toolChoice"] = {"any": {}}
    return config


# --------------------------------------------------------------------------- auth


def _bearer_token(options: StreamOptions) -> str | None:
    """A Bedrock API key: ``api_key=``, else ``AWS_BEARER_TOKEN_BEDROCK``."""
    if options.api_key:
        return options.api_key
    return clean_key(os.environ.get(BEARER_TOKEN_VARIABLE, ""), BEARER_TOKEN_VARIABLE) or None


def _text_option(options: StreamOptions, name: str) -> str | None:
    """``region`` or ``profile`` (checked at the call by the option table)."""
    value: str | None = provider_option(options, name)
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

    api = BEDROCK_CONVERSE_STREAM.name
    label = LABEL
    error_kinds = ERROR_KINDS

    def secret_variables(self, model: Model) -> tuple[str, ...]:
        """The Bedrock API key and the AWS secret key and session token."""
        return SECRET_VARIABLES

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        """While Claude thinks it takes no ``top_k``, a ``top_p`` of 0.95 to 1 only and no forced tool."""
        thinking = _claude_thinking(model, options)
        if thinking is not None and thinking.mode != "off":
            check_sampling_while_thinking(model, options)

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        thinking = _claude_thinking(model, options)
        thinks = thinking is not None and thinking.mode != "off"
        # Converse has no tool_choice "none": the tools are left out instead (see the module docstring).
        no_tools = options.tool_choice == "none"
        shaped = self.shape(model, context, options)
        shaped_context = shaped.context
        if no_tools and _has_tool_blocks(shaped_context.messages):
            # Bedrock has no "none" and wants toolConfig whenever the history holds tool
            # blocks: the history is written as text instead, so no tool can be called.
            from ..capabilities import ShapedRequest, tool_history_to_text

            toolless = dataclasses.replace(model, capabilities=dataclasses.replace(model.caps, supports_tools=False))
            shaped_context = tool_history_to_text(ShapedRequest(shaped_context), toolless).context

        body = converse_body(model, shaped_context, options)
        inference = _inference_config(options, shaped.values.temperature, thinks)
        if inference:
            body["inferenceConfig"] = inference
        tools = shaped_context.tools
        if tools and not no_tools:
            body["toolConfig"] = _tool_config(tools, shaped.values.tool_choice)
        additional = _additional_fields(model, options, thinking)
        if additional:
            body["additionalModelRequestFields"] = additional
        if options.metadata:
            body["requestMetadata"] = options.metadata
        if options.output is not None and options.output.native:
            body["outputConfig"] = bedrock_output_config(options.output)
        self.with_extra_body(body, options)

        headers = self.headers(model, options, {"content-type": "application/json"})
        url = f"{_endpoint(model, options)}/model/{quote(model.id, safe='')}/converse-stream"
        token = _bearer_token(options)
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
            return HttpRequest("POST", url, headers, body, (token,))
        if skip_auth_requested():
            return HttpRequest("POST", url, headers, body)
        # SigV4: the credentials are found now (a clear error when there are none); the
        # runner has the signer sign each attempt's exact bytes.
        return HttpRequest("POST", url, headers, body, auth=_signer(options, url))

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> BedrockConverseParser:
        return BedrockConverseParser(emitter)

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """Sets a ``max_tokens`` (always sent) and fits Claude's thinking budget under it, at the call.

        ``max_tokens`` defaults to the model's limit capped at 32000. For a budget
        level (:func:`alchemy.model_facts.claude_thinking`) it grows by the budget
        (up to the model's limit) and the budget shrinks to leave 1024 tokens for
        the answer when the limit does not allow both; the fitted budget is kept in
        ``thinking_budgets`` for the request. Other Bedrock models ignore the level.
        """
        base = options.max_tokens or min(model.max_tokens or SIMPLE_MAX_TOKENS, SIMPLE_MAX_TOKENS)
        thinking = _claude_thinking(model, options)
        if thinking is None or thinking.budget_tokens is None or options.reasoning is None:
            return dataclasses.replace(options, max_tokens=base)
        max_tokens, budget = fit_claude_thinking_budget(base, thinking.budget_tokens, model.max_tokens, always_add=True)
        budgets = {**(options.thinking_budgets or {}), options.reasoning: budget}
        return dataclasses.replace(options, max_tokens=max_tokens, thinking_budgets=budgets)


# --------------------------------------------------------------------------- the parser

_NONE: Final = 0
_TEXT: Final = 1
_THINKING: Final = 2
_TOOL: Final = 3
_SERVER_TOOL: Final = 4
_TOOL_RESULT: Final = 5
_RESULT_STATUSES: Final[Mapping[str, ServerToolStatus]] = {"success": "completed", "error": "failed"}


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
    return _bedrock_error(kind, text or f"the stream reported an {message_type}")


def _bedrock_error(kind: str, text: str) -> ProviderStreamError:
    message = f"{LABEL} {kind}: {text}"
    return ProviderStreamError(
        message, kind=classify_error(code=kind, text=message, codes=ERROR_KINDS), code=kind, provider_message=text
    )


class BedrockConverseParser:
    """Turns a ConverseStream body (event-stream frames of JSON events) into emitter calls."""

    __slots__ = (
        "emitter", "_decode", "_flush", "_handlers", "_open_index", "_open_kind", "_stop", "_failure", "_metadata",
        "_result",
    )

    def __init__(self, emitter: EventEmitter) -> None:
        self.emitter = emitter
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
        self._metadata = False  # the final event (the usage) arrived
        # The server tool result block being read: its toolUseId, wire fields and content pieces.
        self._result: tuple[str, dict[str, Any], list[dict[str, Any]]] | None = None

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
            raise ProviderStreamError(
                self._failure, kind=ERROR_KINDS.get(self._stop or "", "unknown"), code=self._stop
            )
        if self._stop is None:
            raise StreamInterruptedError(f"{LABEL}'s stream ended before its messageStop event", retryable=True)
        if not self._metadata:
            raise StreamInterruptedError(
                f"{LABEL}'s stream ended after messageStop but before its final metadata event (the usage)",
                retryable=True,
            )
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
                data = loads_replacing_lone_surrogates(payload)
                if data is NOT_JSON:
                    raise StreamInterruptedError(
                        f"{LABEL} sent a {event_type} event whose JSON does not parse ({exc}): {payload[:200]!r}"
                    ) from None
            if isinstance(data, dict):
                try:
                    handler(data)
                except SHAPE_ERRORS as exc:
                    raise MalformedEventError(event_type, payload, exc) from exc
        elif message_type == "exception":
            kind = headers.get(":exception-type")
            raise _exception_error(kind if isinstance(kind, str) else "exception", message.payload, "exception")
        elif message_type == "error":
            code = headers.get(":error-code")
            text = headers.get(":error-message")
            kind = code if isinstance(code, str) and code else "error"
            if isinstance(text, str) and text:
                raise _bedrock_error(kind, text)
            raise _exception_error(kind, message.payload, "error")

    # -- events ------------------------------------------------------------------------------

    def _on_message_start(self, data: dict[str, Any]) -> None:
        role = data.get("role", "assistant")
        if role != "assistant":
            raise ProviderStreamError(f"{LABEL} started a message with role {role!r}, expected 'assistant'")
        self.emitter.start()

    def _on_block_start(self, data: dict[str, Any]) -> None:
        start = data.get("start")
        start = start if isinstance(start, dict) else {}
        tool = start.get("toolUse")
        result = start.get("toolResult")
        if isinstance(tool, dict):
            tool_id, name = str(tool.get("toolUseId") or ""), str(tool.get("name") or "")
            if tool.get("type") == "server_tool_use":  # a tool Bedrock runs itself (Nova's nova_grounding)
                self.emitter.server_tool_start(tool_id, name, wire={"toolUse": {"type": "server_tool_use"}})
                self._open_kind = _SERVER_TOOL
            else:
                self.emitter.tool_call_start(tool_id, name)
                self._open_kind = _TOOL
            self._open_index = data.get("contentBlockIndex")
        elif isinstance(result, dict):
            fields = {key: value for key, value in result.items() if key != "toolUseId"}
            self._result = (str(result.get("toolUseId") or ""), fields, [])
            self._open_kind = _TOOL_RESULT
            self._open_index = data.get("contentBlockIndex")

    def _on_block_delta(self, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return
        index = data.get("contentBlockIndex")
        emitter = self.emitter
        text = delta.get("text")
        if text is not None:
            self._open_text(index)
            emitter.text_delta(text)
            return
        citation = delta.get("citation")
        if isinstance(citation, dict):
            if not citation:
                return  # an empty CitationsDelta names no source
            # A source of the block's text (it may come before the text it supports).
            self._open_text(index)
            emitter.add_citations([_citation(citation)])
            return
        tool = delta.get("toolUse")
        if tool is not None:
            if self._open_kind not in (_TOOL, _SERVER_TOOL) or self._open_index != index:
                raise ProviderStreamError(
                    f"{LABEL} sent tool input for content block {index} before its contentBlockStart"
                )
            fragment = tool.get("input") if isinstance(tool, dict) else None
            if isinstance(fragment, str):
                if self._open_kind == _TOOL:
                    emitter.tool_call_delta(fragment)
                else:
                    emitter.server_tool_delta(fragment)
            return
        pieces = delta.get("toolResult")
        if isinstance(pieces, list) and self._result is not None and self._open_index == index:
            _add_result_pieces(self._result[2], pieces)
            return
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            self._on_reasoning(index, reasoning)

    def _open_text(self, index: Any) -> None:
        """Opens a text block for Bedrock's content block ``index`` unless it is the open one."""
        if self._open_kind != _TEXT or self._open_index != index:
            self.emitter.text_start()
            self._open_index = index
            self._open_kind = _TEXT

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
            emitter.set_thinking_signature(redacted, append=True, redacted=True)
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
        elif kind == _TOOL:
            self.emitter.tool_call_end()
        elif kind == _TOOL_RESULT:
            self._end_result()
        # A server tool's block stays open for its result block (the next one, as Bedrock sends them).

    def _end_result(self) -> None:
        """Gives a server tool its result (the result block's content pieces) and status."""
        if self._result is None:
            return
        tool_id, fields, content = self._result
        self._result = None
        raw_status = fields.get("status")
        status = _RESULT_STATUSES.get(raw_status, "completed") if isinstance(raw_status, str) else "completed"
        emitter = self.emitter
        block = emitter.open_block
        if isinstance(block, ServerToolCall) and block.id == tool_id:
            emitter.server_tool_end(result=content, status=status, wire={"toolResult": fields})
        elif not emitter.complete_server_tool(tool_id, result=content, status=status):
            logger.warning("%s sent a tool result for %r, which is no server tool of this message", LABEL, tool_id)

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
        """The usage: token counts only (the emitter prices them), one-hour cache writes apart."""
        self._metadata = True
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
            cache_write_1h=min(_one_hour_cache_writes(counts.get("cacheDetails")), cache_write),
        )
        self.emitter.set_usage(usage)


def _count(counts: dict[str, Any], key: str) -> int:
    value = counts.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_DOCUMENT_LOCATIONS: Final = ("documentChar", "documentPage", "documentChunk")


def _add_result_pieces(content: list[dict[str, Any]], pieces: list[Any]) -> None:
    """Appends ``toolResult`` delta pieces (``{"text"}`` / ``{"json"}``), joining consecutive text."""
    for piece in pieces:
        if not isinstance(piece, dict):
            continue
        text = piece.get("text")
        if isinstance(text, str) and len(piece) == 1 and content and set(content[-1]) == {"text"}:
            content[-1] = {"text": content[-1]["text"] + text}
        else:
            content.append(dict(piece))


def _citation(wire: dict[str, Any]) -> Citation:
    """A ``CitationsDelta`` as a :class:`~alchemy.types.Citation` of its text block (module docstring)."""
    location = wire.get("location")
    location = location if isinstance(location, dict) else {}
    kind: CitationKind = "document"
    url: str | None = None
    index: Any = None
    web = location.get("web")
    found = next((location[name] for name in _DOCUMENT_LOCATIONS if isinstance(location.get(name), dict)), None)
    if isinstance(web, dict):
        kind = "url"
        url = web.get("url") if isinstance(web.get("url"), str) else None
    elif isinstance(location.get("searchResultLocation"), dict):
        kind = "search_result"
        index = location["searchResultLocation"].get("searchResultIndex")
    elif found is not None:
        index = found.get("documentIndex")
    pieces = wire.get("sourceContent")
    quoted = "".join(
        piece["text"] for piece in pieces or () if isinstance(piece, dict) and isinstance(piece.get("text"), str)
    ) if isinstance(pieces, list) else ""
    title = wire.get("title")
    return Citation(
        kind,
        url=url,
        title=title if isinstance(title, str) else None,
        document_index=index if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else None,
        cited_text=quoted or None,
        wire=wire,
    )


def _one_hour_cache_writes(details: object) -> int:
    """The tokens of ``usage.cacheDetails`` (cache writes by ``ttl``) written with the ``1h`` lifetime."""
    if not isinstance(details, list):
        return 0
    return sum(_count(item, "inputTokens") for item in details if isinstance(item, dict) and item.get("ttl") == "1h")


provider = BedrockConverseStreamProvider()
"""The provider instance registered for ``bedrock-converse-stream``."""
