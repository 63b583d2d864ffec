"""Anthropic's Messages API (``anthropic-messages``): Anthropic and the compatible endpoints.

The same wire API serves Claude on ``api.anthropic.com`` and the Anthropic-compatible
endpoints in the registry (MiniMax, Kimi For Coding, OpenCode, ZenMux, Azure
Foundry, GitHub Copilot, ...). Their base URLs are API roots without ``/v1``; the
request goes to ``{base}/v1/messages``.

Request
    ``x-api-key`` for API keys; ``Authorization: Bearer`` for OAuth tokens (a key
    from ``ANTHROPIC_OAUTH_TOKEN`` or one shaped ``sk-ant-oat...``, which also get
    the Claude Code beta flags, user agent and identity line the subscription
    endpoint requires) and for GitHub Copilot. ``anthropic-beta`` lists
    fine-grained tool streaming and interleaved thinking, plus any flags in the
    model's or the caller's ``headers`` (the lists are joined, not replaced); an
    ``anthropic-beta`` in ``extra_headers`` replaces the whole list.
    Prompt caching puts ``cache_control`` breakpoints on the system prompt, the
    last tool and the last block of the last user turn (``cache_retention``:
    ``short`` = 5 minutes, ``long`` = 1 hour, ``none`` = off; the process default
    comes from ``ALCHEMY_CACHE_RETENTION``, else ``short``).
    Tools the provider runs (``server_tools``, :mod:`alchemy.server_tools`) join the
    client tools in ``tools``, after them: ``WebSearch`` -> ``web_search_20250305``;
    ``WebFetch`` -> ``web_fetch_20250910`` (beta ``web-fetch-2025-09-10``; ``citations``
    -> ``{"enabled": ...}``); ``CodeExecution`` -> ``code_execution_20250825`` (beta
    ``code-execution-2025-08-25``; its ``container`` is the request's ``container``);
    ``McpServer`` -> an ``mcp_servers`` entry (``url``, ``name``, ``authorization_token``)
    and an ``mcp_toolset`` tool (``allowed_tools`` turn the others off), beta
    ``mcp-client-2025-11-20``; ``ToolSearch`` -> ``tool_search_tool_{regex,bm25}_20251119``
    (beta ``advanced-tool-use-2025-11-20``) and ``defer_loading`` on the tools it names.
    The betas join the ``anthropic-beta`` list. Refused at the call: an MCP URL that is
    not ``https://`` and a deferred tool the context lacks.
    Replay to the same API: a :class:`~alchemy.types.ServerToolCall` goes back as the
    blocks it came from (:func:`server_tool_blocks`), a text block with its citations'
    wire objects; a paused message may be the last turn (the model continues it).

Options
    Canonical: ``stop`` -> ``stop_sequences``; ``top_p``, ``top_k``; ``tool_choice``
    -> ``{"type": "auto" | "any" | "none"}`` or ``{"type": "tool", "name": ...}``;
    ``parallel_tool_calls=False`` -> ``disable_parallel_tool_use`` on that choice
    (on ``auto`` when none was given); ``user`` or ``metadata={"user_id": ...}`` ->
    ``metadata.user_id``; structured output -> ``output_config.format`` on Claude
    models with structured outputs (:mod:`alchemy.structured`); ``extra_body``
    merged into the body last.
    Own: ``thinking_enabled``, ``thinking_budget_tokens`` (budget thinking;
    ``max_tokens`` is raised to fit the budget), ``effort`` (``output_config.effort``),
    ``interleaved_thinking`` (the beta, default on for budget-thinking models).
    ``reasoning`` levels map through :func:`alchemy.model_facts.claude_thinking`:
    ``off`` sends no thinking block; Claude 4.6 and later think adaptively with an
    effort (``max`` is effort ``max`` where the model has it), the others get a budget.
    While thinking, Claude takes no ``top_k``, a ``top_p`` of 0.95 to 1 only and no
    forced tool: those raise at the call; ``temperature`` is left out (logged at debug).

Response
    ``message_start`` gives the id and the input/cache usage at once; text,
    thinking (with its signature), redacted thinking and ``tool_use`` blocks stream
    through the emitter (tool arguments through the JSON delta merger);
    ``message_delta`` gives the stop reason and the final usage (input counts too,
    where a server reports them there); ``usage.cache_creation`` splits the cache
    writes by lifetime, and its one-hour part becomes ``Usage.cache_write_1h``; the
    emitter prices the counts. ``message_stop`` ends the response.
    ``server_tool_use`` / ``mcp_tool_use`` open a ``ServerToolCall`` (``name``, ``input``
    streamed from ``input_json_delta``; the block's other fields in ``wire["call"]``,
    e.g. its ``type``, ``server_name``, ``caller``). It stays open after its stop until
    its result block: any ``*_tool_result`` naming it (``tool_use_id``) gives ``result``
    (the block's ``content``), ``status`` (``failed`` for a ``*_error`` content or MCP's
    ``is_error``) and ``wire["result"]`` (the result block's other fields). When another
    block comes first the call closes ``in_progress`` and a later result is attached to
    it; a result whose call is not in the message (a continuation) is a call of its own,
    named after its type, with ``wire["result"]`` only. ``citations_delta`` and a text
    block's starting ``citations`` become :class:`~alchemy.types.Citation`
    (:func:`citation_from_wire`). ``pause_turn`` ends with ``stop`` and ``message.paused``.
    Blocks of other kinds (compaction, ...) are skipped, with a debug line on the
    ``alchemy`` logger. Blocks are keyed by their ``index``:
    interleaved blocks (a gateway that starts the next before the first stops) come
    out whole, in index order. An ``error`` event inside the 200
    stream raises :class:`~alchemy.errors.ProviderStreamError`, retryable for
    ``overloaded_error``, ``rate_limit_error`` and ``api_error``. A repeated
    ``message_start`` before any block replaces the first; one that arrives after
    blocks of the first (a spliced stream) ends the response with an error. Events
    after ``message_stop`` are ignored.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

import orjson

from ..errors import ErrorKind, ProviderStreamError, StreamInterruptedError
from ..overflow import classify_error
from ..model_facts import (
    CLAUDE_MIN_THINKING_BUDGET,
    CLAUDE_MIN_TOP_P_WHILE_THINKING,
    claude_thinking,
    fit_claude_thinking_budget,
    uses_adaptive_thinking,
)
from ..request import HttpRequest
from ..strict_tools import wire_parameters
from ..structured import anthropic_output_format
from ..wire_apis import ANTHROPIC_MESSAGES
from ..server_tools import CodeExecution, McpServer, ServerTool, ToolSearch, WebFetch, WebSearch
from ..types import (
    AssistantMessage,
    Citation,
    ImageContent,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from ._chunks import NOT_JSON, SHAPE_ERRORS, MalformedEventError, loads_replacing_lone_surrogates
from .base import HttpProvider, SSEParser, resolve_cache_retention

if TYPE_CHECKING:
    from ..capabilities import ToolChoice
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions
    from ..types import CitationKind, Context, Message, Model, ServerToolStatus, StopReason, Tool

__all__ = [
    "ANTHROPIC_VERSION",
    "AnthropicMessagesProvider",
    "AnthropicParser",
    "check_sampling_while_thinking",
    "is_oauth_token",
    "provider",
    "resolve_cache_retention",
]

logger = logging.getLogger("alchemy")

ANTHROPIC_VERSION: Final = "2023-06-01"
FINE_GRAINED_TOOL_STREAMING: Final = "fine-grained-tool-streaming-2025-05-14"
INTERLEAVED_THINKING: Final = "interleaved-thinking-2025-05-14"
OAUTH_BETAS: Final = ("claude-code-20250219", "oauth-2025-04-20")
WEB_SEARCH_TOOL: Final = "web_search_20250305"
WEB_FETCH_TOOL: Final = "web_fetch_20250910"
WEB_FETCH_BETA: Final = "web-fetch-2025-09-10"
CODE_EXECUTION_TOOL: Final = "code_execution_20250825"
CODE_EXECUTION_BETA: Final = "code-execution-2025-08-25"
MCP_CLIENT_BETA: Final = "mcp-client-2025-11-20"
TOOL_SEARCH_TOOLS: Final[Mapping[str, str]] = {
    "regex": "tool_search_tool_regex_20251119",
    "bm25": "tool_search_tool_bm25_20251119",
}
TOOL_SEARCH_BETA: Final = "advanced-tool-use-2025-11-20"
CLAUDE_CODE_VERSION: Final = "2.1.2"
CLAUDE_CODE_IDENTITY: Final = "You are Claude Code, Anthropic's official CLI for Claude."
"""The first system block the Claude subscription (OAuth) endpoint expects."""
OAUTH_TOKEN_MARK: Final = "sk-ant-oat"
OAUTH_TOKEN_VARIABLE: Final = "ANTHROPIC_OAUTH_TOKEN"

DEFAULT_MAX_TOKENS: Final = 4096
"""``max_tokens`` when neither the caller nor the model says (the API requires one)."""
SIMPLE_MAX_TOKENS_CAP: Final = 32000
IMAGE_ONLY_TEXT: Final = "(see attached image)"

ERROR_KINDS: Final[Mapping[str, ErrorKind]] = {
    "invalid_request_error": "invalid_request",
    "authentication_error": "auth",
    "permission_error": "permission",
    "billing_error": "permission",
    "not_found_error": "not_found",
    "request_too_large": "context_overflow",
    "rate_limit_error": "rate_limit",
    "api_error": "server",
    "timeout_error": "timeout",
    "overloaded_error": "overloaded",
}
"""Anthropic's error types (HTTP bodies and ``error`` events) -> kind; the retryable ones
(overloaded, rate limit, api_error) are retried before content."""
_STOP_REASONS: Final[Mapping[str, StopReason]] = {
    "end_turn": "stop",
    "pause_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "toolUse",
}
_FAILED_STOP_REASONS: Final[Mapping[str, str]] = {
    "refusal": "the model refused to answer",
    "sensitive": "the response was flagged by the provider's safety filters",
}


# --------------------------------------------------------------------------- auth


def is_oauth_token(api_key: str, *, from_oauth_variable: bool = False) -> bool:
    """Whether ``api_key`` is a Claude subscription OAuth token (sent as a bearer token)."""
    return from_oauth_variable or OAUTH_TOKEN_MARK in api_key


# --------------------------------------------------------------------------- options


def _thinking_requested(model: Model, options: StreamOptions) -> bool:
    """Whether the request thinks: a reasoning model with ``thinking_enabled``, or a budget given alone."""
    own = options.provider_options
    enabled = own.get("thinking_enabled")
    return bool(model.reasoning) and bool(enabled or (enabled is None and "thinking_budget_tokens" in own))


def _budget_thinking(model: Model, options: StreamOptions) -> tuple[int, int]:
    """``(max_tokens, budget_tokens)`` of budget thinking; ``ValueError`` when the model leaves no room."""
    own = options.provider_options
    max_tokens = options.max_tokens or _default_max_tokens(model)
    budget = own.get("thinking_budget_tokens") or CLAUDE_MIN_THINKING_BUDGET
    return fit_claude_thinking_budget(max_tokens, budget, model.max_tokens, always_add=False)


def _default_max_tokens(model: Model) -> int:
    """A third of the model's output limit (the API requires a value), else ``DEFAULT_MAX_TOKENS``."""
    return model.max_tokens // 3 if model.max_tokens else DEFAULT_MAX_TOKENS


def check_sampling_while_thinking(model: Model, options: StreamOptions) -> None:
    """Claude's sampling rules while thinking: no ``top_k``, ``top_p`` of at least 0.95, no forced tool.

    Anthropic (and Bedrock, which serves the same models) reject these with thinking
    on, so they raise at the call. ``temperature`` is not refused: it is left out of a
    thinking request, as for models that take none.
    """
    if options.top_k is not None:
        raise ValueError(
            f"option top_k cannot be combined with thinking on model {model.key}: Claude takes no top_k while "
            "thinking; leave top_k out or turn thinking off"
        )
    if options.top_p is not None and options.top_p < CLAUDE_MIN_TOP_P_WHILE_THINKING:
        raise ValueError(
            f"option top_p must be between {CLAUDE_MIN_TOP_P_WHILE_THINKING} and 1 while model {model.key} is thinking, "
            f"got {options.top_p!r}"
        )
    choice = options.tool_choice
    if choice == "required" or isinstance(choice, dict):
        raise ValueError(
            f"option tool_choice {choice!r} forces a tool call, which Claude does not allow with thinking on; "
            "use 'auto' or 'none', or turn thinking off"
        )


def _check_server_tools(context: Context, server_tools: list[ServerTool]) -> None:
    """What Anthropic refuses about ``server_tools``: an MCP server not on ``https://`` (the MCP
    connector requires it) and a :class:`~alchemy.server_tools.ToolSearch` that defers a tool
    the context does not have."""
    names = {tool.name for tool in context.tools or ()}
    for i, tool in enumerate(server_tools):
        if isinstance(tool, McpServer) and not tool.url.startswith("https://"):
            raise ValueError(
                f"option server_tools[{i}]: McpServer url must start with https:// on the anthropic-messages API "
                f"(Anthropic's MCP connector requires it), got {tool.url!r}"
            )
        if isinstance(tool, ToolSearch):
            missing = [name for name in tool.deferred or () if name not in names]
            if missing:
                known = ", ".join(sorted(names)) or "none"
                raise ValueError(
                    f"option server_tools[{i}]: ToolSearch(deferred=...) names {', '.join(map(repr, missing))}, "
                    f"which the context's tools do not have (they are: {known})"
                )


def _wire_tool_choice(choice: ToolChoice | None, parallel_tool_calls: bool | None) -> dict[str, Any] | None:
    """Anthropic's ``tool_choice`` from the canonical choice and ``parallel_tool_calls``.

    ``"required"`` is Anthropic's ``any`` and a named tool its ``tool``;
    ``parallel_tool_calls=False`` becomes ``disable_parallel_tool_use`` on the choice
    (on ``auto`` when no choice was given; ``none`` takes no such flag, and needs none).
    """
    if choice is None:
        if parallel_tool_calls is not False:
            return None
        choice = "auto"
    wire: dict[str, Any]
    if isinstance(choice, dict):
        wire = {"type": "tool", "name": choice["name"]}
    else:
        wire = {"type": "any" if choice in ("required", "any") else choice}
    if parallel_tool_calls is False and wire["type"] != "none":
        wire["disable_parallel_tool_use"] = True
    return wire


# --------------------------------------------------------------------------- conversion


def _image(block: ImageContent) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": block.mime_type, "data": block.data}}


def _user_content(content: str | list[TextContent | ImageContent]) -> str | list[dict[str, Any]] | None:
    """A user turn's content, blank text left out; ``None`` when nothing is left."""
    if isinstance(content, str):
        return content if content.strip() else None
    blocks: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, TextContent):
            if block.text.strip():
                blocks.append({"type": "text", "text": block.text})
        else:
            blocks.append(_image(block))
    return blocks or None


def _text_block(block: TextContent) -> dict[str, Any]:
    """A text block, with its citations as Anthropic sent them (those without a wire object cannot go back)."""
    out: dict[str, Any] = {"type": "text", "text": block.text}
    if block.citations:
        cited = [citation.wire for citation in block.citations if citation.wire is not None]
        if cited:
            out["citations"] = cited
    return out


def server_tool_blocks(call: ServerToolCall) -> list[dict[str, Any]]:
    """A server tool call as the blocks Anthropic sent: its ``server_tool_use`` / ``mcp_tool_use``
    block and its result block, each rebuilt from the call and its ``wire`` (``{"call": ..., "result": ...}``).

    A call whose result came in a later response has no result block; a result whose call
    was in an earlier response (a continuation) has only its result block. A call made by
    hand (no ``wire``) goes as a ``server_tool_use`` block alone.
    """
    wire = call.wire or {"call": {"type": "server_tool_use"}}
    blocks: list[dict[str, Any]] = []
    head = wire.get("call")
    if isinstance(head, dict):
        blocks.append({"type": head.get("type", "server_tool_use"), "id": call.id, "name": call.name, "input": call.input})
        blocks[-1].update((key, value) for key, value in head.items() if key != "type")
    tail = wire.get("result")
    if isinstance(tail, dict):
        blocks.append({"type": tail.get("type"), "tool_use_id": call.id, "content": call.result})
        blocks[-1].update((key, value) for key, value in tail.items() if key != "type")
    return blocks


def _assistant_content(message: AssistantMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text.strip():
                blocks.append(_text_block(block))
        elif isinstance(block, ServerToolCall):
            blocks.extend(server_tool_blocks(block))
        elif isinstance(block, ThinkingContent):
            signature = block.thinking_signature
            if block.redacted:
                if signature:
                    blocks.append({"type": "redacted_thinking", "data": signature})
            elif not block.thinking.strip():
                continue
            elif signature and signature.strip():
                blocks.append({"type": "thinking", "thinking": block.thinking, "signature": signature})
            else:
                # Unsigned thinking (an aborted stream) would be rejected; it goes back as text.
                blocks.append({"type": "text", "text": block.thinking})
        elif isinstance(block, ToolCall):
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.arguments})
    return blocks


def _tool_result(message: ToolResultMessage) -> dict[str, Any]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    texts = [block.text for block in message.content if isinstance(block, TextContent)]
    if any(isinstance(block, ImageContent) for block in message.content):
        blocks: list[dict[str, Any]] = [] if texts else [{"type": "text", "text": IMAGE_ONLY_TEXT}]
        for block in message.content:
            blocks.append({"type": "text", "text": block.text} if isinstance(block, TextContent) else _image(block))
        result["content"] = blocks
    elif texts:
        result["content"] = "\n".join(texts)
    result["is_error"] = message.is_error
    return result


def convert_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The ``messages`` of a request from a shaped conversation.

    Consecutive tool results travel in one user turn of ``tool_result`` blocks;
    empty turns are left out.
    """
    out: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, ToolResultMessage):
            results.append(_tool_result(message))
            continue
        if results:
            out.append({"role": "user", "content": results})
            results = []
        if isinstance(message, UserMessage):
            content = _user_content(message.content)
            if content is not None:
                out.append({"role": "user", "content": content})
        elif isinstance(message, AssistantMessage):
            blocks = _assistant_content(message)
            if blocks:
                out.append({"role": "assistant", "content": blocks})
    if results:
        out.append({"role": "user", "content": results})
    return out


def convert_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    """Tools with their JSON Schema as ``input_schema`` (an object schema, as the API requires);
    a strict tool gets ``strict: true`` and its schema normalised (:mod:`alchemy.strict_tools`)."""
    converted = []
    for tool in tools:
        schema = dict(wire_parameters(tool, ANTHROPIC_MESSAGES.name))
        schema.setdefault("type", "object")
        definition: dict[str, Any] = {"name": tool.name, "description": tool.description, "input_schema": schema}
        if tool.strict:
            definition["strict"] = True
        converted.append(definition)
    return converted


def _server_tool_entry(tool: ServerTool) -> tuple[dict[str, Any], str | None]:
    """A server tool's ``tools`` entry and the beta flag it needs (``None``: none).

    An :class:`~alchemy.server_tools.McpServer` is declared twice: its connection in
    ``mcp_servers`` (:func:`_mcp_server`) and this ``mcp_toolset`` entry, whose
    ``allowed_tools`` turn every other tool of the server off.
    """
    if isinstance(tool, WebSearch):
        entry: dict[str, Any] = {"type": WEB_SEARCH_TOOL, "name": "web_search"}
        _put_given(entry, tool, "max_uses", "allowed_domains", "blocked_domains")
        if tool.user_location is not None:
            entry["user_location"] = tool.user_location.to_wire()
        return entry, None
    if isinstance(tool, WebFetch):
        entry = {"type": WEB_FETCH_TOOL, "name": "web_fetch"}
        _put_given(entry, tool, "max_uses", "allowed_domains", "blocked_domains")
        if tool.citations is not None:
            entry["citations"] = {"enabled": tool.citations}
        _put_given(entry, tool, "max_content_tokens")
        return entry, WEB_FETCH_BETA
    if isinstance(tool, CodeExecution):
        return {"type": CODE_EXECUTION_TOOL, "name": "code_execution"}, CODE_EXECUTION_BETA
    if isinstance(tool, McpServer):
        entry = {"type": "mcp_toolset", "mcp_server_name": tool.name}
        if tool.allowed_tools is not None:
            entry["default_config"] = {"enabled": False}
            entry["configs"] = {name: {"enabled": True} for name in tool.allowed_tools}
        return entry, MCP_CLIENT_BETA
    if isinstance(tool, ToolSearch):
        wire_type = TOOL_SEARCH_TOOLS[tool.mode]
        return {"type": wire_type, "name": wire_type.rsplit("_", 1)[0]}, TOOL_SEARCH_BETA
    raise ValueError(f"option server_tools: {type(tool).__name__} is not offered by the anthropic-messages API")


def _put_given(entry: dict[str, Any], tool: ServerTool, *names: str) -> None:
    for name in names:
        value = getattr(tool, name)
        if value is not None:
            entry[name] = list(value) if isinstance(value, tuple) else value


def _mcp_server(tool: McpServer) -> dict[str, Any]:
    """An ``mcp_servers`` entry: the server's URL, name and OAuth token."""
    server: dict[str, Any] = {"type": "url", "url": tool.url, "name": tool.name}
    if tool.authorization is not None:
        server["authorization_token"] = tool.authorization
    return server


def _deferred_names(server_tools: list[ServerTool]) -> frozenset[str]:
    """The context's tools that :class:`~alchemy.server_tools.ToolSearch` loads only when found."""
    return frozenset(
        name for tool in server_tools if isinstance(tool, ToolSearch) for name in (tool.deferred or ())
    )


def _mark_last_user_turn(messages: list[dict[str, Any]], cache_control: dict[str, str]) -> None:
    """Puts a cache breakpoint on the last block of the conversation when it is a user turn."""
    if not messages or messages[-1]["role"] != "user":
        return
    last = messages[-1]
    content = last["content"]
    if isinstance(content, str):
        last["content"] = [{"type": "text", "text": content, "cache_control": cache_control}]
    elif content and content[-1].get("type") in ("text", "image", "tool_result"):
        content[-1]["cache_control"] = cache_control


def _cache_control(model: Model, options: StreamOptions) -> dict[str, str] | None:
    """The ``cache_control`` of every breakpoint, or ``None`` when caching is off.

    The one-hour ``ttl`` goes to Anthropic itself only; compatible endpoints get the
    default five minutes, as pi-ai does.
    """
    retention = resolve_cache_retention(options)
    if retention == "none":
        return None
    if retention == "long" and (model.provider == "anthropic" or "api.anthropic.com" in model.base_url):
        return {"type": "ephemeral", "ttl": "1h"}
    return {"type": "ephemeral"}


def _system_blocks(context: Context, oauth: bool) -> list[dict[str, Any]]:
    """The system prompt as text blocks (OAuth requests open with the Claude Code identity)."""
    blocks: list[dict[str, Any]] = []
    if oauth:
        blocks.append({"type": "text", "text": CLAUDE_CODE_IDENTITY})
    if context.system_prompt and context.system_prompt.strip():
        blocks.append({"type": "text", "text": context.system_prompt})
    return blocks


def _split_betas(value: str | None) -> list[str]:
    return [flag.strip() for flag in value.split(",") if flag.strip()] if value else []


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


# --------------------------------------------------------------------------- the provider


class AnthropicMessagesProvider(HttpProvider):
    """Anthropic Messages over SSE, sans-I/O (see the module docstring)."""

    api: ClassVar[str] = ANTHROPIC_MESSAGES.name
    label: ClassVar[str] = ANTHROPIC_MESSAGES.label
    error_kinds: ClassVar[Mapping[str, ErrorKind]] = ERROR_KINDS

    # -- at the call -------------------------------------------------------------

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """The ``reasoning`` level as Anthropic's own options (:func:`alchemy.model_facts.claude_thinking`).

        ``off`` (or no level) turns thinking off; adaptive models get an ``effort``,
        the others a ``thinking_budget_tokens`` (``thinking_budgets`` overrides the
        level's). ``max_tokens`` defaults to the model's limit capped at 32000, and a
        budget is added on top of it (capped at the model's limit), as in pi-ai.
        Options the caller gave explicitly win over the mapped ones.
        """
        base = options.max_tokens or min(model.max_tokens or DEFAULT_MAX_TOKENS, SIMPLE_MAX_TOKENS_CAP)
        thinking = claude_thinking(model, options.reasoning or "off", options.thinking_budgets)
        mapped: dict[str, Any]
        if thinking.mode == "off":
            mapped = {"thinking_enabled": False}
        elif thinking.mode == "adaptive":
            mapped = {"thinking_enabled": True, "effort": thinking.effort}
        else:
            budget = options.provider_options.get("thinking_budget_tokens") or thinking.budget_tokens
            assert budget is not None  # budget thinking always has one
            base, budget = fit_claude_thinking_budget(base, budget, model.max_tokens, always_add=True)
            mapped = {"thinking_enabled": True, "thinking_budget_tokens": budget}
        return dataclasses.replace(options, max_tokens=base, provider_options={**mapped, **options.provider_options})

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        """What Anthropic refuses about options together: sampling and forced tools while thinking,
        a thinking budget the output limit leaves no room for, and two different end-user ids."""
        if _thinking_requested(model, options):
            check_sampling_while_thinking(model, options)
            if not uses_adaptive_thinking(model):
                _budget_thinking(model, options)
        _check_server_tools(context, options.server_tools or [])
        user_id = (options.metadata or {}).get("user_id")
        if options.user is not None and user_id is not None and user_id != options.user:
            raise ValueError(
                f"options user ({options.user!r}) and metadata['user_id'] ({user_id!r}) both set Anthropic's "
                "metadata.user_id; give one of them"
            )

    # -- the request -------------------------------------------------------------

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        user_id = options.user or (options.metadata or {}).get("user_id")
        shaped = self.shape(model, context, options, user=user_id)
        context, values = shaped.context, shaped.values
        api_key = self.api_key(model, options)
        assert api_key is not None  # required=True raises instead
        from_variable = options.api_key is None and (os.environ.get(OAUTH_TOKEN_VARIABLE) or "").strip() == api_key
        oauth = model.provider != "github-copilot" and is_oauth_token(api_key, from_oauth_variable=from_variable)

        own = options.provider_options
        adaptive = uses_adaptive_thinking(model)
        thinking = _thinking_requested(model, options)
        body: dict[str, Any] = {"model": model.id, "max_tokens": options.max_tokens or _default_max_tokens(model)}
        body["stream"] = True

        cache_control = _cache_control(model, options)
        system = _system_blocks(context, oauth)
        if system:
            if cache_control is not None:
                system[-1]["cache_control"] = cache_control
            body["system"] = system

        messages = convert_messages(context.messages)
        if cache_control is not None:
            _mark_last_user_turn(messages, cache_control)
        body["messages"] = messages

        server_tools = options.server_tools or []
        tools = convert_tools(context.tools) if context.tools else []
        deferred = _deferred_names(server_tools)
        if deferred:
            for definition in tools:
                if definition["name"] in deferred:
                    definition["defer_loading"] = True
        tool_betas: list[str] = []
        for tool in server_tools:
            entry, beta = _server_tool_entry(tool)
            tools.append(entry)
            if beta is not None and beta not in tool_betas:
                tool_betas.append(beta)
            if isinstance(tool, McpServer):
                body.setdefault("mcp_servers", []).append(_mcp_server(tool))
            elif isinstance(tool, CodeExecution) and tool.container is not None:
                body["container"] = tool.container
        if tools:
            if cache_control is not None:
                tools[-1]["cache_control"] = cache_control
            body["tools"] = tools
        tool_choice = _wire_tool_choice(values.tool_choice, options.parallel_tool_calls if context.tools else None)
        if tool_choice is not None:
            body["tool_choice"] = tool_choice

        if thinking:
            if adaptive:
                body["thinking"] = {"type": "adaptive"}
            else:
                body["max_tokens"], budget = _budget_thinking(model, options)
                body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        effort = own.get("effort")
        if effort is not None:
            body["output_config"] = {"effort": effort}
        if options.output is not None and options.output.native:
            body.setdefault("output_config", {})["format"] = anthropic_output_format(options.output)
        self._sampling(body, options, values.temperature, thinking)
        if values.user is not None:
            body["metadata"] = {"user_id": values.user}
        self.with_extra_body(body, options)

        interleaved = own.get("interleaved_thinking") is not False and not adaptive
        headers = self._request_headers(model, options, context, api_key, oauth, interleaved, tool_betas)
        tokens = tuple(secret for tool in server_tools for secret in tool.secrets())
        return HttpRequest("POST", self._endpoint(model), headers, body, secrets=(api_key, *tokens))

    @staticmethod
    def _sampling(body: dict[str, Any], options: StreamOptions, temperature: float | None, thinking: bool) -> None:
        """``temperature`` (left out while thinking), ``top_p``, ``top_k`` and ``stop_sequences``."""
        if temperature is not None:
            if thinking:
                logger.debug("anthropic-messages: temperature left out, Anthropic takes none with thinking on")
            else:
                body["temperature"] = temperature
        if options.top_p is not None:
            body["top_p"] = options.top_p
        if options.top_k is not None:
            body["top_k"] = options.top_k
        if options.stop is not None:
            body["stop_sequences"] = options.stop

    def _endpoint(self, model: Model) -> str:
        base = self.base_url(model)
        # The registry's convention is a root without /v1; a hand-made model may include it.
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    def _request_headers(
        self,
        model: Model,
        options: StreamOptions,
        context: Context,
        api_key: str,
        oauth: bool,
        interleaved: bool,
        tool_betas: list[str],
    ) -> dict[str, str]:
        copilot = model.provider == "github-copilot"
        betas: list[str] = []
        if oauth:
            betas += OAUTH_BETAS
        if not copilot:
            betas.append(FINE_GRAINED_TOOL_STREAMING)
        if interleaved:
            betas.append(INTERLEAVED_THINKING)
        betas += tool_betas  # the server tools' betas
        defaults: dict[str, str] = {
            "accept": "application/json",
            "content-type": "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
        }
        if oauth:
            defaults["authorization"] = f"Bearer {api_key}"
            defaults["anthropic-dangerous-direct-browser-access"] = "true"
            defaults["user-agent"] = f"claude-cli/{CLAUDE_CODE_VERSION} (external, cli)"
            defaults["x-app"] = "cli"
        elif copilot:
            defaults["authorization"] = f"Bearer {api_key}"
            defaults.update(_copilot_headers(context))
        else:
            defaults["x-api-key"] = api_key
        for layer in (model.headers, options.headers):
            for flag in _split_betas(_header(layer, "anthropic-beta")):
                if flag not in betas:
                    betas.append(flag)
        headers = self.headers(model, options, defaults)
        for name in [key for key in headers if key.lower() == "anthropic-beta"]:
            del headers[name]
        # extra_headers is the escape hatch: its anthropic-beta replaces the joined list.
        joined = _header(options.extra_headers, "anthropic-beta")
        if joined is None and betas:
            joined = ",".join(betas)
        if joined is not None:
            headers["anthropic-beta"] = joined
        return headers

    def is_retryable_status(self, status: int, body: bytes) -> bool:
        """429, 5xx and Anthropic's 529 ``overloaded_error``; also any status whose body
        says ``overloaded_error`` or ``rate_limit_error`` (proxies relay them oddly)."""
        if status == 529 or super().is_retryable_status(status, body):
            return True
        return _error_type(body) in ("overloaded_error", "rate_limit_error")

    # -- the response ------------------------------------------------------------

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> AnthropicParser:
        return AnthropicParser(emitter)


def _error_type(body: bytes) -> str | None:
    """The ``error.type`` of an Anthropic error body, if it is one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else None


def _copilot_headers(context: Context) -> dict[str, str]:
    """GitHub Copilot's per-request headers: who initiated the turn, and whether images go along."""
    messages = context.messages
    headers = {
        "X-Initiator": "user" if messages and isinstance(messages[-1], UserMessage) else "agent",
        "Openai-Intent": "conversation-edits",
    }
    for message in messages:
        if isinstance(message, (UserMessage, ToolResultMessage)) and not isinstance(message.content, str):
            if any(isinstance(block, ImageContent) for block in message.content):
                headers["Copilot-Vision-Request"] = "true"
                break
    return headers


# --------------------------------------------------------------------------- the parser

# The kind of the wire block being mirrored.
_NONE: Final = 0
_TEXT: Final = 1
_THINKING: Final = 2
_TOOL: Final = 3
_SKIPPED: Final = 4
_SERVER: Final = 5  # server_tool_use / mcp_tool_use: a ServerToolCall
_RESULT: Final = 6  # a *_tool_result block: the result of a ServerToolCall


class _Block:
    """One wire content block, keyed by its ``index``: what it is, and the deltas that wait for it."""

    __slots__ = ("index", "kind", "start", "tool_input", "tool_fed", "pending", "stopped")

    def __init__(self, index: Any, kind: int, start: dict[str, Any]) -> None:
        self.index = index
        self.kind = kind
        self.start = start  # the ``content_block`` of its ``content_block_start``
        tool_input = start.get("input") if kind in (_TOOL, _SERVER) else None
        self.tool_input: dict[str, Any] | None = tool_input if isinstance(tool_input, dict) and tool_input else None
        self.tool_fed = False
        self.pending: list[dict[str, Any]] | None = []  # ``None`` once the block streams to the emitter
        self.stopped = False


def _block_order(block: _Block) -> float:
    index = block.index
    return index if type(index) is int else math.inf


class AnthropicParser(SSEParser):
    """Turns an Anthropic Messages SSE body into emitter calls.

    ``content_block_delta`` (nearly every event) is handled inline in :meth:`feed`;
    everything else goes through :meth:`on_event`. Block state is keyed by the wire
    ``index``. The emitter's blocks are sequential, so when a server interleaves
    blocks (a second one starts before the first stops), the first unfinished block
    in index order streams and the others keep their deltas until its stop, then
    play them out (as the Responses parser does with output items): content is in
    index order and no delta is lost. Deltas of skipped or unknown blocks fall away.
    """

    __slots__ = (
        "_index",
        "_kind",
        "_live",
        "_blocks",
        "_queue",
        "_message_id",
        "_started",
        "_blocks_seen",
        "_stopped",
        "_ignored_after_stop",
        "_input",
        "_output",
        "_cache_read",
        "_cache_write",
        "_cache_write_1h",
        "_service_tier",
        "_open_server",
        "_server_calls",
    )

    def __init__(self, emitter: EventEmitter) -> None:
        super().__init__(emitter)
        self._index: object = None  # the wire index of the block that streams (the hot path compares it)
        self._kind = _NONE
        self._live: _Block | None = None
        self._blocks: dict[Any, _Block] = {}
        self._queue: list[_Block] = []  # unfinished blocks in index order; the first one streams
        self._message_id: str | None = None
        self._started = False
        self._blocks_seen = 0
        self._stopped = False
        self._ignored_after_stop = 0
        self._input = 0
        self._output = 0
        self._cache_read = 0
        self._cache_write = 0
        self._cache_write_1h = 0
        self._service_tier: str | None = None
        self._open_server: str | None = None  # the id of a server tool whose block stopped, left open for its result
        self._server_calls: dict[str, ServerToolCall] = {}  # this message's server tool calls by id

    # -- feeding ---------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        if self._stopped:
            self._ignored_after_stop += len(chunk)
            return
        loads = orjson.loads
        event, data = "", b""
        try:
            for event, data in self._feed_raw(chunk):
                if event == "content_block_delta":
                    try:
                        payload = loads(data)
                    except orjson.JSONDecodeError:
                        payload = loads_replacing_lone_surrogates(data)
                        if payload is NOT_JSON:
                            raise
                    self._delta(payload)
                else:
                    self.on_event(event, data)
                    if self._stopped:
                        break
        except orjson.JSONDecodeError as exc:
            raise StreamInterruptedError(
                f"Anthropic sent a {event or 'stream'} event that is not valid JSON: {exc}", kind="malformed_response"
            )
        except SHAPE_ERRORS as exc:
            raise MalformedEventError(event, data, exc) from exc

    def on_event(self, event: str, data: bytes) -> None:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = loads_replacing_lone_surrogates(data)
            if payload is NOT_JSON:
                raise
        if event == "message" and isinstance(payload, dict):
            event = str(payload.get("type", event))  # a server that sends no event names
        if event == "content_block_start":
            self._block_start(payload["index"], payload["content_block"])
        elif event == "content_block_delta":
            self._delta(payload)
        elif event == "content_block_stop":
            self._block_stop(payload["index"])
        elif event == "message_start":
            self._message_start(payload["message"])
        elif event == "message_delta":
            self._message_delta(payload)
        elif event == "message_stop":
            self._stopped = True
            self._play_out(close_last=True)
            self.emitter.done()
        elif event == "error":
            self._error(payload)
        elif event != "ping":
            logger.debug("anthropic-messages: ignored a %r event", event)

    def _delta(self, payload: dict[str, Any]) -> None:
        """One ``content_block_delta``: applied to the open block, or kept by a block that waits."""
        if payload["index"] != self._index:
            block = self._blocks.get(payload["index"])
            if block is not None and block.pending is not None and not block.stopped:
                block.pending.append(payload)
            return
        delta = payload["delta"]
        kind = delta["type"]
        if kind == "text_delta":
            if self._kind == _TEXT:
                self.emitter.text_delta(delta["text"])
        elif kind == "input_json_delta":
            if self._kind == _TOOL:
                fragment = delta["partial_json"]
                if fragment:
                    self._live.tool_fed = True  # type: ignore[union-attr]  # a _TOOL kind has a live block
                    self.emitter.tool_call_delta(fragment)
            elif self._kind == _SERVER:
                fragment = delta["partial_json"]
                if fragment:
                    self._live.tool_fed = True  # type: ignore[union-attr]  # a _SERVER kind has a live block
                    self.emitter.server_tool_delta(fragment)
        elif kind == "citations_delta":
            if self._kind == _TEXT:
                self.emitter.add_citations([citation_from_wire(delta["citation"])])
        elif kind == "thinking_delta":
            if self._kind == _THINKING:
                self.emitter.thinking_delta(delta["thinking"])
        elif kind == "signature_delta":
            if self._kind == _THINKING:
                self.emitter.set_thinking_signature(delta["signature"], append=True)
        else:
            logger.debug("anthropic-messages: skipped a %r delta of block %r", kind, self._index)

    def finish(self) -> None:
        if self._ignored_after_stop:
            logger.debug("anthropic-messages: ignored %d bytes after message_stop", self._ignored_after_stop)
        if self.emitter.finished:
            return
        self._play_out(close_last=False)  # the error that follows keeps every block received
        if not self._started:
            raise StreamInterruptedError(
                "Anthropic's stream ended before message_start: the response is empty", retryable=True
            )
        raise StreamInterruptedError(
            "Anthropic's stream ended before message_stop: the response was cut short", retryable=True
        )

    # -- events ----------------------------------------------------------------

    def _message_start(self, message: dict[str, Any]) -> None:
        message_id = message.get("id")
        if self._started:
            if self._blocks_seen:
                raise ProviderStreamError(
                    f"Anthropic's stream is corrupt: a new message_start ({message_id!r}) arrived while message "
                    f"{self._message_id!r} was still streaming",
                    kind="malformed_response",
                )
            logger.debug("anthropic-messages: a repeated message_start (%r) replaces the first", message_id)
        self._started = True
        self._message_id = message_id if isinstance(message_id, str) else None
        if self._message_id:
            self.emitter.set_response_id(self._message_id)
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._take_usage(usage)

    def _message_delta(self, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._take_usage(usage)
        delta = payload.get("delta") or {}
        reason = delta.get("stop_reason")
        if not reason:
            return
        if reason == "pause_turn":  # a long server-side turn paused: the next call continues it
            self.emitter.set_paused()
        mapped = _STOP_REASONS.get(reason)
        if mapped is not None:
            self.emitter.set_stop_reason(mapped)
            return
        failure = _FAILED_STOP_REASONS.get(reason)
        if failure is not None:
            details = delta.get("stop_details")
            explanation = details.get("explanation") if isinstance(details, dict) else None
            if reason == "refusal":
                self.emitter.set_refusal(explanation if isinstance(explanation, str) and explanation else failure)
            text = f"Anthropic stopped the response ({reason}): {failure}"
            raise ProviderStreamError(
                f"{text}: {explanation}" if explanation else text, kind="content_filter", code=reason
            )
        logger.warning("anthropic-messages: unknown stop reason %r, treated as a normal stop", reason)
        self.emitter.set_stop_reason("stop")

    def _error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        kind = message = None
        if isinstance(error, dict):
            kind, message = error.get("type"), error.get("message")
        kind = kind if isinstance(kind, str) and kind else "error"
        text = f"Anthropic stream error {kind}: {message}" if message else f"Anthropic stream error {kind}"
        raise ProviderStreamError(
            text,
            kind=classify_error(code=kind, text=text, codes=ERROR_KINDS),
            code=kind,
            provider_message=message if isinstance(message, str) else None,
        )

    def _take_usage(self, usage: dict[str, Any]) -> None:
        """Counts present in ``usage`` replace the known ones (absent or null ones are kept).

        ``cache_creation`` splits the cache writes by lifetime; its one-hour part is
        reported as ``cache_write_1h`` (priced higher), and its sum stands in for
        ``cache_creation_input_tokens`` when a server sends only the split.
        """
        value = usage.get("input_tokens")
        if value is not None:
            self._input = value
        value = usage.get("output_tokens")
        if value is not None:
            self._output = value
        value = usage.get("cache_read_input_tokens")
        if value is not None:
            self._cache_read = value
        value = usage.get("cache_creation_input_tokens")
        if value is not None:
            self._cache_write = value
        split = usage.get("cache_creation")
        if isinstance(split, dict):
            short, long = split.get("ephemeral_5m_input_tokens"), split.get("ephemeral_1h_input_tokens")
            self._cache_write_1h = long if isinstance(long, int) and long > 0 else 0
            if value is None:
                self._cache_write = (short if isinstance(short, int) and short > 0 else 0) + self._cache_write_1h
        tier = usage.get("service_tier")
        if isinstance(tier, str):
            self._service_tier = tier
        total = self._input + self._output + self._cache_read + self._cache_write
        counted = Usage(
            input=self._input,
            output=self._output,
            cache_read=self._cache_read,
            cache_write=self._cache_write,
            total_tokens=total,
            service_tier=self._service_tier,
            cache_write_1h=min(self._cache_write_1h, self._cache_write),
        )
        self.emitter.set_usage(counted)

    # -- blocks ----------------------------------------------------------------

    def _block_start(self, index: Any, start: dict[str, Any]) -> None:
        self._blocks_seen += 1
        kind = start["type"]
        code = _block_kind(kind, start)
        earlier = self._blocks.get(index)
        if earlier is not None and not earlier.stopped:  # an index used again: the first block ends here
            self._block_stop(index)
        block = self._blocks[index] = _Block(index, code, start)
        if code == _SKIPPED:
            block.stopped = True
            logger.debug("anthropic-messages: skipped content block %r of type %r", index, kind)
            return
        queue = self._queue
        if not queue:  # the hot path: blocks one after another
            queue.append(block)
            self._open(block)
            return
        position = len(queue)
        while position > 1 and _block_order(queue[position - 1]) > _block_order(block):
            position -= 1  # never before the block that streams: its events were sent
        queue.insert(position, block)

    def _block_stop(self, index: Any) -> None:
        block = self._blocks.get(index)
        if block is None or block.stopped:
            return
        block.stopped = True
        if block is self._live:
            self._close(block)
            self._advance()

    def _open(self, block: _Block) -> None:
        """Makes ``block`` the one that streams: its start, then the deltas it kept."""
        emitter = self.emitter
        self._live = block
        self._index = block.index
        self._kind = kind = block.kind
        start = block.start
        if kind != _RESULT:
            self._open_server = None  # the emitter closes a server tool left open for its result
        if kind == _TEXT:
            emitter.text_start()
            emitter.text_delta(start.get("text") or "")
            citations = start.get("citations")
            if citations:
                emitter.add_citations(citation_from_wire(citation) for citation in citations)
        elif kind == _THINKING:
            if start["type"] == "redacted_thinking":
                emitter.thinking_start(start.get("data") or None, redacted=True)
            else:
                emitter.thinking_start(start.get("signature") or None)
                emitter.thinking_delta(start.get("thinking") or "")
        elif kind == _SERVER:
            call_id = str(start["id"])
            extra = {key: value for key, value in start.items() if key not in _CALL_FIELDS}
            emitter.server_tool_start(call_id, str(start["name"]), wire={"call": extra})
            opened = emitter.open_block
            if type(opened) is ServerToolCall:
                self._server_calls[call_id] = opened
        elif kind == _RESULT:
            self._result(start)
        else:
            emitter.tool_call_start(str(start["id"]), str(start["name"]))
        pending, block.pending = block.pending, None
        if pending:
            for payload in pending:
                self._delta(payload)

    def _close(self, block: _Block) -> None:
        """Ends the streaming block's emitter block and lets the next one in index order stream."""
        kind = self._kind
        emitter = self.emitter
        self._kind = _NONE
        self._index = None
        self._live = None
        del self._queue[0]
        if kind == _TEXT:
            emitter.text_end()
        elif kind == _THINKING:
            emitter.thinking_end()
        elif kind == _TOOL:
            emitter.tool_call_end(None if block.tool_fed else block.tool_input)
        elif kind == _SERVER:
            # Left open: the result block that follows closes it (else the next block does).
            if not block.tool_fed and block.tool_input:
                emitter.update_server_tool(input=block.tool_input)
            self._open_server = str(block.start["id"])

    def _result(self, start: dict[str, Any]) -> None:
        """A ``*_tool_result`` block: the result of this message's call (open, or closed
        earlier), or of a call in an earlier response (a continuation): a block of its own."""
        emitter = self.emitter
        call_id = str(start["tool_use_id"])
        result = start.get("content")
        status = _result_status(start)
        extra = {key: value for key, value in start.items() if key not in _RESULT_FIELDS}
        if self._open_server == call_id:
            self._open_server = None
            emitter.server_tool_end(result=result, status=status, wire={"result": extra})
            return
        call = self._server_calls.get(call_id)
        if call is not None and emitter.complete_server_tool(call_id, result=result, status=status):
            call.wire = {**(call.wire or {}), "result": extra}
            return
        self._open_server = None
        name = str(start["type"]).removesuffix("_tool_result") or "server_tool"
        emitter.server_tool(call_id, name, {}, result, status=status, wire={"result": extra})

    def _advance(self) -> None:
        """Streams the next waiting blocks, closing at once those whose stop already came."""
        queue = self._queue
        while queue and self._live is None:
            block = queue[0]
            self._open(block)
            if block.stopped:
                self._close(block)

    def _play_out(self, *, close_last: bool) -> None:
        """Streams every waiting block in index order; each but the last is closed
        (the last too when ``close_last``, as ``message_stop`` ends them all)."""
        queue = self._queue
        while queue:
            if self._live is None:
                self._open(queue[0])
            if len(queue) == 1 and not close_last and not queue[0].stopped:
                return
            self._close(queue[0])

    def flush_pending(self) -> None:
        """The stream ends early (abort, close, error): the deltas of waiting blocks join the message."""
        self._play_out(close_last=False)


_BLOCK_KINDS: Final[Mapping[str, int]] = {
    "text": _TEXT,
    "thinking": _THINKING,
    "redacted_thinking": _THINKING,
    "tool_use": _TOOL,
    "server_tool_use": _SERVER,
    "mcp_tool_use": _SERVER,
}
"""The wire block types alchemy mirrors, with every ``*_tool_result`` (see :func:`_block_kind`)."""

_CALL_FIELDS: Final = frozenset({"id", "name", "input"})
"""The fields of a server tool's call block held by the :class:`ServerToolCall` itself (the rest go to ``wire``)."""
_RESULT_FIELDS: Final = frozenset({"tool_use_id", "content"})
"""The fields of a result block held by the :class:`ServerToolCall` (its id and ``result``)."""


def _block_kind(kind: str, start: dict[str, Any]) -> int:
    """The parser's kind of a wire block: a known type, any ``*_tool_result`` that names its call, else skipped."""
    code = _BLOCK_KINDS.get(kind)
    if code is not None:
        return code
    if kind.endswith("_tool_result") and "tool_use_id" in start:
        return _RESULT
    return _SKIPPED


def _result_status(start: dict[str, Any]) -> ServerToolStatus:
    """``"failed"`` when the result is an error (MCP's ``is_error``, or content of a ``*_error`` type)."""
    if start.get("is_error") is True:
        return "failed"
    content = start.get("content")
    if isinstance(content, dict) and str(content.get("type", "")).endswith("_error"):
        return "failed"
    return "completed"


_CITATION_KINDS: Final[Mapping[str, CitationKind]] = {
    "web_search_result_location": "url",
    "char_location": "document",
    "page_location": "document",
    "content_block_location": "document",
    "search_result_location": "search_result",
}


def citation_from_wire(wire: dict[str, Any]) -> Citation:
    """An Anthropic citation object as a :class:`~alchemy.types.Citation` (the object kept whole in ``wire``).

    Anthropic cites per text block, so ``start`` / ``end`` stay ``None``; the wire's
    character, page and block indexes point into the *source* and stay in ``wire``.
    A citation type not known here is kept as a ``"document"`` citation.
    """
    kind = _CITATION_KINDS.get(str(wire.get("type")))
    if kind is None:
        logger.debug("anthropic-messages: citation of unknown type %r kept as a document citation", wire.get("type"))
        kind = "document"

    def text(key: str) -> str | None:
        value = wire.get(key)
        return value if isinstance(value, str) else None

    index = wire.get("document_index")
    return Citation(
        kind,
        url=text("url") if kind == "url" else text("source") if kind == "search_result" else None,
        title=text("title") if kind != "document" else text("document_title"),
        file_id=text("file_id"),
        document_index=index if type(index) is int and index >= 0 else None,
        cited_text=text("cited_text"),
        wire=wire,
    )


provider = AnthropicMessagesProvider()
"""The registered provider of ``anthropic-messages``."""
