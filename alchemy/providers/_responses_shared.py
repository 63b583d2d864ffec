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
``call_id|item_id``; tool results as ``function_call_output``. Custom tools
(:class:`~alchemy.types.CustomTool`) and the client-executed built-in tools
(:class:`~alchemy.types.BuiltinTool`: ``apply_patch``, ``shell``, ``local_shell``)
are declared as ``custom`` / ``{"type": name}`` tools; their calls are replayed as
``custom_tool_call`` / ``*_call`` items and their results as the matching
``*_output`` items, chosen by the tool's name in the context's tools. Only a turn written by
the target model itself gets its reasoning and item ids back; another model's
function calls keep their ``call_id`` alone, so the API does not look for the
reasoning item they were paired with.

**Server tools and citations.** ``server_tools`` become ``tools`` entries:
``WebSearch`` -> ``web_search`` (``filters.allowed_domains``, ``user_location``,
``search_context_size``), ``FileSearch`` -> ``file_search`` (``vector_store_ids``,
``max_num_results``, ``filters``), ``CodeExecution`` -> ``code_interpreter`` (container
``{"type": "auto", "file_ids"}`` or a container id), ``McpServer`` -> ``mcp``
(``server_label``, ``server_url``, ``authorization``, ``allowed_tools``, ``headers``,
``require_approval``, ``server_description``), ``ImageGeneration`` -> ``image_generation``
(its settings as named). Enabled tools add their ``include`` entries
(``web_search_call.action.sources``, ``code_interpreter_call.outputs``,
``file_search_call.results``). xAI models refuse at the call a ``WebSearch`` with a user
location or context size, or more than five domains. A :class:`~alchemy.types.ServerToolCall`
(only the same provider's and API's reach this module, :mod:`alchemy.transform`) goes
back as the output item it came from, rebuilt exactly (:func:`server_item`), both with
``store: false`` (OpenAI) and with the service's default (Azure): the API reference
takes every one of these item types as input, in full, so no ``item_reference`` is
needed. With ``store: false`` a ``web_search_call`` goes without its ``id``, as OpenAI's
own Codex client sends it (the id names an item that was never stored). Citations go back as the ``annotations`` of the ``output_text`` part (their
ranges are the block's, as one part is replayed). An :func:`alchemy.server_tools.approve`
answer becomes ``{"type": "mcp_approval_response", "approval_request_id", "approve",
"reason"?}``.

The call's options arrive checked (:mod:`alchemy.options`); this module only maps
them: ``top_p``, ``parallel_tool_calls``, ``metadata``, structured output
(``text.format``, :mod:`alchemy.structured`), ``tool_choice`` (canonical ->
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
a blank line; ``output_text`` deltas become text, ``refusal`` deltas ``message.refusal``
(and text too unless the call asked for structured output); argument deltas go
through the JSON delta merger. ``response.completed`` (or ``response.incomplete``)
brings the usage and the stop reason. Items are keyed by identity (``output_index``,
else ``item_id``; ids that change per event are tolerated), several may be open at
once, and each block ends when its own item is done; since blocks are sequential,
an item's events wait while an earlier item is still open (see :class:`ResponsesParser`).
Custom tool calls become tool calls with ``{"input": text}`` arguments (the text
streams JSON-escaped through the merger); built-in calls become tool calls whose
arguments are the item's ``operation`` / ``action``. Items the server ran itself become
:class:`~alchemy.types.ServerToolCall` blocks (``servertool_*`` events): the block opens at
``output_item.added`` and closes at ``output_item.done`` with the whole item; progress
events (``response.<item>.completed`` / ``.failed``) set its status first. The mapping
(item type -> name; input; result), every other field kept in ``wire``:

=========================  =====================  ================================  ===============
``web_search_call``        ``web_search``         its ``action``                    --
``file_search_call``       ``file_search``        ``{queries}``                     ``results``
``code_interpreter_call``  ``code_interpreter``   ``{code, container_id}`` (the     ``outputs``
                                                  code streams from ``*_code.delta``)
``image_generation_call``  ``image_generation``   ``{prompt / revised_prompt}``     ``result``
                                                                                    (partial images
                                                                                    stand until then)
``mcp_list_tools``         ``mcp_list_tools``     ``{}``                            ``tools``
``mcp_call``               the MCP tool's name    its ``arguments`` (streamed)      ``output``, or
                                                                                    ``error`` (failed)
``mcp_approval_request``   the MCP tool's name    its ``arguments``                 -- (status
                                                                                    ``awaiting_approval``)
``tool_search_call``       ``tool_search``        its ``arguments``                 --
``tool_search_output``     ``tool_search``        ``{}``                            ``tools``
``shell_call`` (hosted)    ``shell``              its ``action``                    --
``shell_call_output``      ``shell``              ``{}``                            ``output``
``program``                ``program``            ``{code}``                        -- (a later
                                                                                    response's)
``custom_tool_call``       its ``name``           its ``input`` (JSON, streamed)    --
(a tool the response
does not echo: xAI's)
=========================  =====================  ================================  ===============

A call and its output item (tool search, hosted shell) are two blocks, as on the wire.
The status is the item's when final (``completed``, ``failed``, ``incomplete``), ``failed``
when it carries an ``error``, else ``completed`` once the item is done; the raw status
stays in ``wire``. JSON text that ``orjson`` would not write the same way (an MCP
call's ``arguments`` with spaces) stays in ``wire`` as sent. A client-run tool search
(``execution: "client"``) and unknown item types (``compaction``...) are skipped
without breaking the stream and logged at debug level on the
``alchemy.providers.responses`` logger. Annotations (the done message item's, else
``response.output_text.annotation.added`` events) become the text block's citations:
``url_citation`` -> ``url`` (``start_index`` / ``end_index`` shifted to the block's text),
``file_citation`` / ``file_path`` (``index``: ``start == end``) and
``container_file_citation`` -> ``file``; the annotation is the citation's ``wire``. ``error`` and ``response.failed`` end the stream with a clear error
(retryable for rate-limit and server kinds).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn

import orjson

from ..errors import ErrorKind, ProviderStreamError, StreamInterruptedError
from ..model_facts import effort_values, openai_reasoning_effort, refuse_openai_sampling
from ..strict_tools import wire_parameters
from ..wire_apis import OPENAI_RESPONSES
from ..tool_ids import stable_hash
from ..structured import responses_text_format
from ..transform import is_same_model
from ..types import (
    CUSTOM_TOOL_INPUT,
    AssistantMessage,
    BuiltinTool,
    Citation,
    CustomTool,
    ImageContent,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from ._chunks import NOT_JSON, loads_replacing_lone_surrogates
from ..overflow import classify_error
from .base import SSEParser, resolve_cache_retention
from .openai_completions_stream import OPENAI_ERROR_KINDS

if TYPE_CHECKING:
    from ..capabilities import ShapedRequest, ToolChoice
    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..server_tools import ServerTool
    from ..types import Context, Message, Model, ServerToolStatus, StopReason

__all__ = [
    "ENCRYPTED_REASONING",
    "LOGPROBS_INCLUDE",
    "METADATA_LIMITS",
    "RESPONSES_ERROR_KINDS",
    "ResponsesParser",
    "ResponsesSettings",
    "SERVER_ITEM_TYPES",
    "build_body",
    "check_request",
    "citation_of",
    "server_call_parts",
    "server_item",
    "server_tool_entries",
    "server_tool_includes",
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

RESPONSES_ERROR_KINDS: Final[Mapping[str, ErrorKind]] = {
    **OPENAI_ERROR_KINDS,
    "slow_down": "rate_limit",
    "vector_store_timeout": "timeout",
}
"""The Responses API's error codes -> kind: OpenAI's (:data:`OPENAI_ERROR_KINDS`) and its own."""
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


def convert_tool_choice(choice: ToolChoice, tools: list[Tool] | None = None) -> str | dict[str, Any]:
    """A canonical ``tool_choice`` on the wire: the word as is, a named tool as ``{"type": "function", ...}``
    (``{"type": "custom", ...}`` for a custom tool, ``{"type": name}`` for a built-in one)."""
    if isinstance(choice, dict):
        tool = next((t for t in tools or () if t.name == choice["name"]), None)
        if isinstance(tool, BuiltinTool):
            return {"type": tool.name}
        return {"type": "custom" if isinstance(tool, CustomTool) else "function", "name": choice["name"]}
    return choice


def wants_logprobs(options: StreamOptions) -> bool:
    """Whether the call asked for token log-probabilities (``top_logprobs`` implies ``logprobs``)."""
    return bool(options.logprobs) or (options.top_logprobs is not None and options.logprobs is not False)


def check_request(model: Model, options: StreamOptions, *, openai_host: bool) -> None:
    """What the option table cannot check alone; raises at the call, naming the options.

    ``top_logprobs`` with ``logprobs=False`` contradict each other; an explicit
    ``reasoning_effort`` must be one the model takes (when its efforts are known:
    :func:`alchemy.model_facts.effort_values`); ``metadata`` must fit OpenAI's limits;
    on OpenAI's and Azure's own services (``openai_host``) a reasoning model takes no
    sampling options (:func:`alchemy.model_facts.refuse_openai_sampling`).
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
    if openai_host:
        refuse_openai_sampling(model, options)
    if options.server_tools and model.provider == "xai":
        _check_xai_server_tools(options.server_tools)


XAI_MAX_DOMAINS: Final = 5
"""How many ``allowed_domains`` xAI's ``web_search`` takes."""


def _check_xai_server_tools(tools: list[ServerTool]) -> None:
    """xAI's ``web_search`` takes domain filters (at most five) but no user location or context size."""
    from ..server_tools import WebSearch

    for i, tool in enumerate(tools):
        if not isinstance(tool, WebSearch):
            continue
        for setting in ("user_location", "context_size"):
            if getattr(tool, setting) is not None:
                raise ValueError(
                    f"option server_tools[{i}]: WebSearch({setting}=...) is not offered by xAI's web_search; "
                    "it takes allowed_domains"
                )
        if tool.allowed_domains and len(tool.allowed_domains) > XAI_MAX_DOMAINS:
            raise ValueError(
                f"option server_tools[{i}]: xAI's web_search takes at most {XAI_MAX_DOMAINS} allowed_domains, "
                f"got {len(tool.allowed_domains)}"
            )


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


_BUILTIN_ITEMS: Final[Mapping[str, tuple[str, str, str]]] = {
    "apply_patch": ("apply_patch_call", "operation", "apply_patch_call_output"),
    "shell": ("shell_call", "action", "shell_call_output"),
    "local_shell": ("local_shell_call", "action", "local_shell_call_output"),
}
"""Built-in tool -> (its call item type, the field holding the call's arguments, its output item type)."""
_BUILTIN_BY_ITEM: Final = {item: name for name, (item, _, _) in _BUILTIN_ITEMS.items()}
_CUSTOM_CALL: Final = "custom_tool_call"


def convert_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    """Function tools (a strict tool's schema normalised for strict mode, :mod:`alchemy.strict_tools`),
    ``custom`` tools, and built-in tools as ``{"type": name}``."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        if isinstance(tool, BuiltinTool):
            out.append({"type": tool.name})
        elif isinstance(tool, CustomTool):
            custom: dict[str, Any] = {"type": "custom", "name": tool.name, "description": tool.description}
            if tool.format is not None:
                custom["format"] = tool.format
            out.append(custom)
        else:
            out.append(
                {
                    "type": "function",
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": wire_parameters(tool, OPENAI_RESPONSES.name),
                    "strict": tool.strict,
                }
            )
    return out


def _tool_kinds(context: Context) -> dict[str, Tool]:
    """The context's custom and built-in tools by name (their calls and results have their own items)."""
    return {tool.name: tool for tool in context.tools or () if isinstance(tool, (CustomTool, BuiltinTool))}


def _call_item(block: ToolCall, tool: Tool | None, call_id: str) -> dict[str, Any]:
    """A call's input item: ``function_call``, ``custom_tool_call`` or a built-in tool's call."""
    if isinstance(tool, BuiltinTool):
        item_type, field_name, _ = _BUILTIN_ITEMS[tool.name]
        return {"type": item_type, "call_id": call_id, field_name: block.arguments, "status": "completed"}
    if isinstance(tool, CustomTool):
        text = block.arguments.get(CUSTOM_TOOL_INPUT)
        raw = text if isinstance(text, str) else orjson.dumps(block.arguments).decode()
        return {"type": _CUSTOM_CALL, "call_id": call_id, "name": block.name, "input": raw}
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": block.name,
        "arguments": orjson.dumps(block.arguments).decode(),
    }


def _result_item(result: ToolResultMessage, tool: Tool | None) -> dict[str, Any]:
    """A tool result's input item: the ``*_output`` item matching the call's kind.

    A shell result has no exit code of its own: the text is stdout (stderr when
    ``is_error``) and the exit code 0 (1 when ``is_error``).
    """
    call_id = result.tool_call_id.partition("|")[0]
    if isinstance(tool, BuiltinTool):
        output_type = _BUILTIN_ITEMS[tool.name][2]
        text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
        if tool.name == "shell":
            outcome = {"type": "exit", "exit_code": 1 if result.is_error else 0}
            streams = {"stdout": "", "stderr": text} if result.is_error else {"stdout": text, "stderr": ""}
            return {"type": output_type, "call_id": call_id, "output": [{**streams, "outcome": outcome}]}
        item: dict[str, Any] = {"type": output_type, "call_id": call_id, "output": text}
        if tool.name == "apply_patch":
            item["status"] = "failed" if result.is_error else "completed"
        return item
    output_type = "custom_tool_call_output" if isinstance(tool, CustomTool) else "function_call_output"
    return {"type": output_type, "call_id": call_id, "output": _tool_output(result)}


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


_UNSTORED_WITHOUT_ID: Final = frozenset({"web_search_call"})
"""Server items sent back without their id when ``store`` is false: OpenAI's own Codex client
replays its web searches that way (the id would name an item that was never stored)."""


def _assistant_items(
    message: AssistantMessage, model: Model, ids: _MessageIds, kinds: Mapping[str, Tool], store: bool | None
) -> list[dict[str, Any]]:
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
            annotations = [_annotation(citation) for citation in block.citations or ()]
            item: dict[str, Any] = {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": block.text, "annotations": annotations}],
                "status": "completed",
                "id": ids(stored_id),
            }
            if phase:
                item["phase"] = phase
            items.append(item)
        elif isinstance(block, ToolCall):
            call_id, _, item_id = block.id.partition("|")
            call = _call_item(block, kinds.get(block.name), call_id)
            if own and item_id:
                call["id"] = item_id
            items.append(call)
        elif isinstance(block, ServerToolCall):
            server = server_item(block)  # only the same API's calls get here (alchemy.transform)
            if store is False and server.get("type") in _UNSTORED_WITHOUT_ID:
                del server["id"]
            items.append(server)
    return items


def _approval_response(result: ToolResultMessage) -> dict[str, Any] | None:
    """The ``mcp_approval_response`` of an :func:`alchemy.server_tools.approve` answer, else ``None``."""
    details = result.details
    if not isinstance(details, dict) or not isinstance(details.get("approve"), bool):
        return None
    item: dict[str, Any] = {
        "type": "mcp_approval_response",
        "approval_request_id": result.tool_call_id,
        "approve": details["approve"],
    }
    reason = details.get("reason")
    if isinstance(reason, str) and reason:
        item["reason"] = reason
    return item


def convert_messages(context: Context, model: Model, store: bool | None = None) -> list[dict[str, Any]]:
    """The ``input`` items of a shaped conversation (see the module docstring); ``store`` is the
    request's ``store`` field (``None``: not sent)."""
    items: list[dict[str, Any]] = []
    if context.system_prompt:
        items.append({"role": "developer" if model.reasoning else "system", "content": context.system_prompt})
    ids = _MessageIds()
    kinds = _tool_kinds(context)
    message: Message
    for message in context.messages:
        if isinstance(message, UserMessage):
            parts = _user_parts(message.content)
            if parts:
                items.append({"role": "user", "content": parts})
        elif isinstance(message, AssistantMessage):
            items.extend(_assistant_items(message, model, ids, kinds, store))
        else:
            approval = _approval_response(message)
            items.append(approval if approval is not None else _result_item(message, kinds.get(message.tool_name)))
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


# server tools


def _server_tool_entry(tool: ServerTool) -> dict[str, Any]:
    """One ``tools`` entry for a :mod:`alchemy.server_tools` declaration (settings not given are left out)."""
    from ..server_tools import CodeExecution, FileSearch, ImageGeneration, McpServer, WebSearch

    entry: dict[str, Any]
    if isinstance(tool, WebSearch):
        entry = {"type": "web_search"}
        if tool.allowed_domains:
            entry["filters"] = {"allowed_domains": list(tool.allowed_domains)}
        if tool.user_location is not None:
            entry["user_location"] = tool.user_location.to_wire()
        if tool.context_size is not None:
            entry["search_context_size"] = tool.context_size
    elif isinstance(tool, FileSearch):
        entry = {"type": "file_search", "vector_store_ids": list(tool.vector_store_ids)}
        if tool.max_num_results is not None:
            entry["max_num_results"] = tool.max_num_results
        if tool.filters is not None:
            entry["filters"] = dict(tool.filters)
    elif isinstance(tool, CodeExecution):
        container: str | dict[str, Any] = tool.container or {"type": "auto"}
        if tool.file_ids and isinstance(container, dict):
            container["file_ids"] = list(tool.file_ids)
        entry = {"type": "code_interpreter", "container": container}
    elif isinstance(tool, McpServer):
        entry = {"type": "mcp", "server_label": tool.name, "server_url": tool.url}
        for key, value in (
            ("authorization", tool.authorization),
            ("allowed_tools", list(tool.allowed_tools) if tool.allowed_tools is not None else None),
            ("headers", dict(tool.headers) if tool.headers is not None else None),
            ("require_approval", tool.require_approval),
            ("server_description", tool.description),
        ):
            if value is not None:
                entry[key] = value
    elif isinstance(tool, ImageGeneration):
        entry = {"type": "image_generation", **tool.given()}
    else:  # the option check refuses the others at the call
        raise ValueError(f"option server_tools: {type(tool).__name__} is not offered by the Responses API")
    return entry


def server_tool_entries(tools: Iterable[ServerTool]) -> list[dict[str, Any]]:
    """The ``tools`` entries of the call's ``server_tools`` (``web_search``, ``file_search``,
    ``code_interpreter``, ``mcp``, ``image_generation``)."""
    return [_server_tool_entry(tool) for tool in tools]


_SERVER_TOOL_INCLUDES: Final[Mapping[str, str]] = {
    "web_search": "web_search_call.action.sources",
    "code_execution": "code_interpreter_call.outputs",
    "file_search": "file_search_call.results",
}
"""The ``include`` entry that makes each server tool's results come back in its items."""


def server_tool_includes(tools: Iterable[ServerTool]) -> list[str]:
    """The ``include`` entries the enabled server tools need (only theirs, in the tools' order)."""
    out: list[str] = []
    for tool in tools:
        entry = _SERVER_TOOL_INCLUDES.get(tool.kind)
        if entry is not None and entry not in out:
            out.append(entry)
    return out


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
        "input": convert_messages(context, model, store),
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
    server_tools = options.server_tools or []
    if context.tools or server_tools:
        body["tools"] = convert_tools(context.tools or []) + server_tool_entries(server_tools)
    if values.tool_choice is not None:
        body["tool_choice"] = convert_tool_choice(values.tool_choice, context.tools)
    if options.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = options.parallel_tool_calls
    if values.user is not None:
        body[user_field] = values.user
    if options.metadata:
        body["metadata"] = dict(options.metadata)
    if options.output is not None and options.output.native:
        body["text"] = {"format": responses_text_format(options.output)}
    include: list[str] = []
    if model.reasoning:
        reasoning = _reasoning_field(settings)
        if reasoning is not None:
            body["reasoning"] = reasoning
        if reasoning is None or reasoning.get("effort") != "none":
            # Without the encrypted reasoning a later turn cannot replay it (store is off).
            include.append(ENCRYPTED_REASONING)
    include.extend(server_tool_includes(server_tools))
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
    text = f"{label} stream error {name}: {message}{where}"
    known = code if code and code.lower() in RESPONSES_ERROR_KINDS else kind or code
    return ProviderStreamError(
        text,
        kind=classify_error(code=known, text=text, codes=RESPONSES_ERROR_KINDS),
        code=known,
        provider_message=_text(error.get("message")),
    )


def _failed_error(label: str, response: Mapping[str, Any]) -> ProviderStreamError:
    error = response.get("error")
    if isinstance(error, Mapping):
        code = _text(error.get("code")) or _text(error.get("type")) or "unknown_error"
        message = _text(error.get("message")) or "no message given"
        text = f"{label} response failed: {code}: {message}"
        return ProviderStreamError(
            text,
            kind=classify_error(code=code, text=text, codes=RESPONSES_ERROR_KINDS),
            code=code,
            provider_message=_text(error.get("message")),
        )
    status = _text(response.get("status")) or "failed"
    reason = _incomplete_reason(response)
    detail = f" ({reason})" if reason else ""
    return ProviderStreamError(
        f"{label} response {status}{detail}",
        kind=classify_error(code=reason, codes=RESPONSES_ERROR_KINDS) if reason else "unknown",
        code=reason,
    )


def _incomplete_reason(response: Mapping[str, Any]) -> str | None:
    details = response.get("incomplete_details")
    if isinstance(details, Mapping):
        return _text(details.get("reason"))
    return None


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


def _message_text(item: Mapping[str, Any], *, with_refusal: bool = True) -> str:
    """The text of a message item: ``output_text`` parts, and ``refusal`` parts unless told otherwise."""
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    texts = []
    for part in parts:
        if isinstance(part, dict):
            if part.get("type") == "output_text":
                value = part.get("text")
            else:
                value = part.get("refusal") if with_refusal else None
            if isinstance(value, str):
                texts.append(value)
    return "".join(texts)


# --------------------------------------------------------------------------- items the server runs itself


@dataclass(frozen=True, slots=True)
class _ServerItem:
    """How one type of server-run output item maps onto a :class:`~alchemy.types.ServerToolCall`.

    ``name``: the tool's name (``None``: the item's own ``name`` field, an MCP or xAI tool).
    The input is either the item's ``fields`` gathered in a dict, or the value of its
    ``whole`` field (JSON text when ``text``); the result is the first non-null of
    ``results``. Every other field of the item (its ``type`` and raw ``status`` among
    them) is kept in ``wire``, so :func:`server_item` rebuilds the item exactly.
    """

    name: str | None
    fields: tuple[str, ...] = ()
    whole: str | None = None
    text: bool = False
    results: tuple[str, ...] = ()


_SERVER_ITEMS: Final[Mapping[str, _ServerItem]] = {
    "web_search_call": _ServerItem("web_search", whole="action"),
    "file_search_call": _ServerItem("file_search", fields=("queries",), results=("results",)),
    "code_interpreter_call": _ServerItem("code_interpreter", fields=("code", "container_id"), results=("outputs",)),
    "image_generation_call": _ServerItem("image_generation", fields=("prompt", "revised_prompt"), results=("result",)),
    "mcp_list_tools": _ServerItem("mcp_list_tools", results=("tools",)),
    "mcp_call": _ServerItem(None, whole="arguments", text=True, results=("output", "error")),
    "mcp_approval_request": _ServerItem(None, whole="arguments", text=True),
    "tool_search_call": _ServerItem("tool_search", whole="arguments"),
    "tool_search_output": _ServerItem("tool_search", results=("tools",)),
    "shell_call": _ServerItem("shell", whole="action"),
    "shell_call_output": _ServerItem("shell", results=("output",)),
    "program": _ServerItem("program", fields=("code",)),
    _CUSTOM_CALL: _ServerItem(None, whole="input", text=True),
}
SERVER_ITEM_TYPES: Final = frozenset(_SERVER_ITEMS)
"""The output item types that become :class:`~alchemy.types.ServerToolCall` blocks (when the server ran them)."""

_FINAL_STATUSES: Final = frozenset({"completed", "failed", "incomplete"})


def _server_status(data: Mapping[str, Any], *, done: bool) -> ServerToolStatus:
    """alchemy's status of a server item: an approval request awaits approval; an ``error`` fails
    it; a finished item whose status is not final (``generating``...) has completed."""
    if data.get("type") == "mcp_approval_request":
        return "awaiting_approval"
    if data.get("error") not in (None, ""):
        return "failed"
    raw = data.get("status")
    if raw in _FINAL_STATUSES:
        return raw  # type: ignore[no-any-return]
    return "completed" if done else "in_progress"


def server_call_parts(
    data: Mapping[str, Any], *, done: bool = True
) -> tuple[str, dict[str, Any], Any, ServerToolStatus, dict[str, Any]]:
    """``(name, input, result, status, wire)`` of a server-run output item (see :data:`_SERVER_ITEMS`).

    JSON text that is not what ``orjson`` writes for the parsed input (spaces, key order)
    stays in ``wire`` as sent, so the item goes back byte for byte.
    """
    item_type = str(data.get("type"))
    spec = _SERVER_ITEMS[item_type]
    wire = {key: value for key, value in data.items() if key != "id"}
    name = spec.name or _text(wire.pop("name", None)) or item_type
    arguments: dict[str, Any] = {}
    if spec.whole is not None and spec.whole in wire:
        raw = wire[spec.whole]
        if spec.text and isinstance(raw, str):
            try:
                parsed = orjson.loads(raw) if raw.strip() else None
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                arguments = parsed
                if orjson.dumps(parsed).decode() == raw:
                    del wire[spec.whole]
        elif not spec.text and isinstance(raw, dict):
            arguments = wire.pop(spec.whole)
    for field_name in spec.fields:
        if field_name in wire:
            arguments[field_name] = wire.pop(field_name)
    result = None
    for field_name in spec.results:
        if wire.get(field_name) is not None:
            result = wire.pop(field_name)
            break
    return name, arguments, result, _server_status(data, done=done), wire


def server_item(block: ServerToolCall) -> dict[str, Any]:
    """The output item a :class:`~alchemy.types.ServerToolCall` came from, rebuilt exactly (the
    inverse of :func:`server_call_parts`); a block of an unknown item type is its ``wire`` plus its id."""
    wire = block.wire or {}
    item: dict[str, Any] = {"id": block.id}
    spec = _SERVER_ITEMS.get(str(wire.get("type")))
    if spec is None:
        item.update(wire)
        return item
    if spec.name is None:
        item["name"] = block.name
    arguments = block.input
    if spec.whole is not None and spec.whole not in wire:
        if spec.text:
            item[spec.whole] = orjson.dumps({k: v for k, v in arguments.items() if k not in spec.fields}).decode()
        elif arguments:
            item[spec.whole] = {k: v for k, v in arguments.items() if k not in spec.fields}
    else:
        item.update((k, v) for k, v in arguments.items() if k in spec.fields)
    if block.result is not None and spec.results:
        field_name = next((f for f in spec.results if f not in wire), spec.results[0])
        item[field_name] = block.result
    item.update(wire)
    return item


# citations


def _index(value: Any, offset: int) -> int | None:
    return offset + value if type(value) is int and value >= 0 else None


def citation_of(annotation: Mapping[str, Any], offset: int = 0) -> Citation | None:
    """A :class:`~alchemy.types.Citation` from an ``output_text`` annotation whose part starts at
    ``offset`` of the block's text; ``None`` (logged) for an annotation type alchemy does not know.

    ``url_citation`` -> ``url`` (``start_index`` / ``end_index``); ``file_citation``,
    ``container_file_citation`` and ``file_path`` -> ``file`` (a point ``index`` gives
    ``start == end``). The annotation itself is the citation's ``wire``.
    """
    kind = annotation.get("type")
    wire = dict(annotation)
    if kind == "url_citation":
        start, end = _index(annotation.get("start_index"), offset), _index(annotation.get("end_index"), offset)
        return Citation(
            "url",
            url=_text(annotation.get("url")),
            title=_text(annotation.get("title")),
            start=start,
            end=end if start is not None and end is not None and end >= start else None,
            wire=wire,
        )
    if kind in ("file_citation", "container_file_citation", "file_path"):
        point = _index(annotation.get("index"), offset)
        start = _index(annotation.get("start_index"), offset) if point is None else point
        end = _index(annotation.get("end_index"), offset) if point is None else point
        return Citation(
            "file",
            file_id=_text(annotation.get("file_id")),
            filename=_text(annotation.get("filename")),
            start=start,
            end=end if start is not None and end is not None and end >= start else None,
            wire=wire,
        )
    logger.debug("skipping output_text annotation of unknown type %s", kind)
    return None


def _message_citations(item: Mapping[str, Any], *, with_refusal: bool = True) -> list[Citation]:
    """The citations of a message item's ``output_text`` parts, their ranges in the joined text."""
    parts = item.get("content")
    citations: list[Citation] = []
    if not isinstance(parts, list):
        return citations
    offset = 0
    for part in parts:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "output_text":
            annotations = part.get("annotations")
            for annotation in annotations if isinstance(annotations, list) else ():
                if isinstance(annotation, dict):
                    citation = citation_of(annotation, offset)
                    if citation is not None:
                        citations.append(citation)
            value = part.get("text")
        else:
            value = part.get("refusal") if with_refusal else None
        if isinstance(value, str):
            offset += len(value)
    return citations


def _annotation(citation: Citation) -> dict[str, Any]:
    """A citation as the ``output_text`` annotation it came from, its range that of the one
    replayed part (the block's whole text)."""
    annotation = dict(citation.wire) if citation.wire else {}
    if not annotation:
        if citation.kind == "url":
            annotation = {"type": "url_citation", "url": citation.url or "", "title": citation.title or ""}
        else:
            annotation = {"type": "file_citation", "file_id": citation.file_id or "", "filename": citation.filename or ""}
    if citation.start is not None:
        if "index" in annotation or annotation.get("type") in ("file_citation", "file_path"):
            annotation["index"] = citation.start
        else:
            annotation["start_index"] = citation.start
            annotation["end_index"] = citation.end if citation.end is not None else citation.start
    return annotation


# --------------------------------------------------------------------------- the stream parser

# What kind of output item an :class:`_Item` is.
_REASONING: Final = 1
_MESSAGE: Final = 2
_FUNCTION: Final = 3
_SKIPPED: Final = 4
_CUSTOM: Final = 5
_BUILTIN: Final = 6
_SERVER: Final = 7
_BLOCK_KINDS: Final = {"reasoning": _REASONING, "message": _MESSAGE, "function_call": _FUNCTION}

_Op = Callable[["_Item", Any], None]


class _Item:
    """One output item of the response: its kind, its block once it streams, and what waits for it."""

    __slots__ = (
        "kind",
        "index",
        "data",
        "pending",
        "block",
        "part",
        "written",
        "arguments_streamed",
        "raw",
        "annotations",
        "finished",
    )

    def __init__(self, kind: int, index: int | None, data: Mapping[str, Any]) -> None:
        self.kind = kind
        self.index = index
        self.data = data  # the item as first seen (``output_item.added``, else its ``done``)
        self.pending: list[tuple[_Op, Any]] | None = []  # ``None`` once the item streams to the emitter
        self.block: Any = None
        self.part: tuple[str, Any] | None = None
        self.written = False
        self.arguments_streamed = False
        self.raw: list[str] = []  # a custom tool call's input text as streamed
        self.annotations: list[tuple[Any, dict[str, Any]]] = []  # a message's annotation events: (part, annotation)
        self.finished = False

    def order(self) -> float:
        return self.index if self.index is not None else math.inf


def _item_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _output_index(payload: Mapping[str, Any]) -> int | None:
    index = payload.get("output_index")
    return index if type(index) is int else None


class ResponsesParser(SSEParser):
    """Turns a Responses event stream into emitter calls (sans-I/O, one response).

    Output items are keyed by identity: by ``output_index``, else by ``item_id``, else
    (ids that change on every event, no index) the newest unfinished item of the
    event's kind. Several items may be open at once, but the emitter's blocks are
    sequential: the item that streams is the first unfinished one in output order,
    and the events of items after it wait in their item until it is done (then they
    are replayed at once). So each block ends when *its* item is done, content is in
    output order, and an item whose ``done`` comes late is neither doubled nor moved.
    """

    __slots__ = (
        "_label",
        "_requested_tier",
        "_logprobs",
        "_text_delta",
        "_handlers",
        "_by_index",
        "_by_id",
        "_queue",
        "_live",
        "_custom_tools",
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
        self._by_index: dict[int, _Item] = {}
        self._by_id: dict[str, _Item] = {}
        self._queue: list[_Item] = []  # unfinished items in output order; the first one streams
        self._live: _Item | None = None
        self._custom_tools: frozenset[str] | None = None  # the request's custom tools, when the server echoes them
        self._tool_calls = 0
        self._ended = False
        self._events = 0
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "response.created": self._on_response_started,
            "response.in_progress": self._on_response_started,
            "response.output_item.added": self._on_item_added,
            "response.output_item.done": self._on_item_done,
            "response.output_text.delta": self._on_text_delta,
            "response.reasoning_summary_text.delta": self._on_summary_delta,
            "response.reasoning_text.delta": self._on_reasoning_text_delta,
            "response.refusal.delta": self._on_refusal_delta,
            "response.function_call_arguments.delta": self._on_arguments_delta,
            "response.function_call_arguments.done": self._on_arguments_done,
            "response.custom_tool_call_input.delta": self._on_custom_input_delta,
            "response.output_text.annotation.added": self._on_annotation,
            "response.code_interpreter_call_code.delta": self._on_code_delta,
            "response.mcp_call_arguments.delta": self._on_server_arguments_delta,
            "response.image_generation_call.partial_image": self._on_partial_image,
            "response.completed": self._on_completed,
            "response.incomplete": self._on_incomplete,
            "response.failed": self._on_failed,
            "error": self._on_error,
        }
        for prefix in _PROGRESS_PREFIXES:
            for outcome in ("completed", "failed", "incomplete"):
                self._handlers[f"{prefix}.{outcome}"] = self._on_server_progress

    # -- dispatch --------------------------------------------------------------------

    def on_event(self, event: str, data: bytes) -> None:
        self._events += 1
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            payload = loads_replacing_lone_surrogates(data)
            if payload is NOT_JSON:
                raise StreamInterruptedError(
                    f"{self._label} sent an event that is not valid JSON ({event}: {exc}); "
                    f"{self._events - 1} events were read before it"
                ) from None
        if type(payload) is not dict:
            raise StreamInterruptedError(f"{self._label} sent an event that is not a JSON object ({event})")
        kind = payload.get("type") or event
        if kind == "response.output_text.delta":
            live = self._live  # the hot path: text of the item that streams
            if live is not None and live.kind == _MESSAGE and payload.get("output_index", -1) == live.index:
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

    def flush_pending(self) -> None:
        """The stream ends early: the items waiting for their turn stream now (the last stays open)."""
        if not self._ended:
            self._flush()

    def finish(self) -> None:
        if self._ended:
            return
        self._flush()
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
            tools = response.get("tools")
            if isinstance(tools, list) and self._custom_tools is None:
                self._custom_tools = frozenset(
                    str(t.get("name")) for t in tools if isinstance(t, dict) and t.get("type") == "custom"
                )

    def _apply_usage(self, response: Mapping[str, Any]) -> None:
        raw = response.get("usage")
        if isinstance(raw, Mapping):
            tier = _text(response.get("service_tier")) or self._requested_tier
            self.emitter.set_usage(responses_usage(raw, tier))

    def _end(self, reason: StopReason) -> None:
        self._flush(close_last=True)
        self._ended = True
        if reason == "stop" and self._tool_calls:
            reason = "toolUse"
        self.emitter.done(reason)

    def _fail(self, error: Exception) -> NoReturn:
        """Ends the response with ``error``, keeping every item received (the last one stays open)."""
        self._flush()
        self._ended = True
        raise error

    def _on_completed(self, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if not isinstance(response, dict):
            response = {}
        self._on_response_started(payload)
        self._apply_usage(response)
        status = response.get("status")
        if status in ("failed", "cancelled"):
            self._fail(_failed_error(self._label, response))
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
        self._fail(
            ProviderStreamError(
                f"{self._label} response incomplete: {reason}",
                kind=classify_error(code=reason, codes=RESPONSES_ERROR_KINDS) if reason else "unknown",
                code=reason,
            )
        )

    def _on_failed(self, payload: dict[str, Any]) -> None:
        response = payload.get("response")
        if not isinstance(response, dict):
            response = {}
        self._apply_usage(response)
        self._fail(_failed_error(self._label, response))

    def _on_error(self, payload: dict[str, Any]) -> None:
        self._fail(stream_error(self._label, payload))

    # -- output items: identity, order, and the one that streams -----------------------

    def _add(self, kind: int, index: int | None, item_id: str | None, data: Mapping[str, Any]) -> _Item:
        item = _Item(kind, index, data)
        if index is not None:
            self._by_index[index] = item
        if item_id:
            self._by_id[item_id] = item
        if kind == _SKIPPED:
            item.finished = True
            return item
        queue = self._queue
        position = len(queue)
        while position > (1 if self._live is not None else 0) and queue[position - 1].order() > item.order():
            position -= 1
        queue.insert(position, item)
        self._advance()
        return item

    def _find(self, payload: Mapping[str, Any], kind: int, data: Mapping[str, Any] | None = None) -> _Item | None:
        """The item an event belongs to (made when the server never announced it); ``None``: ignore the event."""
        index = _output_index(payload)
        item_id = _item_id(payload.get("item_id")) or _item_id((data or {}).get("id"))
        item = self._by_index.get(index) if index is not None else None
        if item is None and item_id is not None:
            item = self._by_id.get(item_id)
        if item is None and index is None:
            item = next((i for i in reversed(self._queue) if i.kind == kind), None)  # ids that change per event
        if item is None:
            return self._add(kind, index, item_id, data or {})
        if item_id is not None:
            self._by_id.setdefault(item_id, item)
        return item if item.kind == kind else None

    def _apply(self, item: _Item | None, op: _Op, value: Any) -> None:
        """Runs ``op`` on an item now if it streams, else keeps it until the item's turn comes."""
        if item is None or item.finished:
            return
        if item.pending is not None:
            item.pending.append((op, value))
            return
        op(item, value)
        if item.finished:
            self._advance()

    def _advance(self) -> None:
        """Lets the first unfinished item stream: opens its block and replays what it received."""
        while self._live is None and self._queue:
            item = self._live = self._queue[0]
            self._open(item)
            pending, item.pending = item.pending or [], None
            for op, value in pending:
                if item.finished:
                    break
                op(item, value)

    def _retire(self, item: _Item) -> None:
        item.finished = True
        if self._queue and self._queue[0] is item:
            del self._queue[0]
        if self._live is item:
            self._live = None

    def _flush(self, *, close_last: bool = False) -> None:
        """Streams every waiting item (the response ends); each block but the last is closed."""
        while self._queue:
            if self._live is None:
                self._advance()
                continue
            item = self._live
            if len(self._queue) == 1 and not close_last:
                return
            self._close(item)
            self._retire(item)

    def _open(self, item: _Item) -> None:
        emitter = self.emitter
        kind = item.kind
        if kind == _REASONING:
            emitter.thinking_start()
        elif kind == _MESSAGE:
            emitter.text_start()
        elif kind == _SERVER:
            self._open_server(item)
        else:
            data = item.data
            emitter.tool_call_start(_call_id(data), _call_name(data))
            self._tool_calls += 1
            arguments = data.get("arguments")
            if kind == _CUSTOM:
                emitter.tool_call_delta(_CUSTOM_OPEN)
                self._custom_piece(item, data.get("input"))
            elif kind == _FUNCTION and isinstance(arguments, str) and arguments:
                item.arguments_streamed = True
                emitter.tool_call_delta(arguments)
        item.block = emitter.open_block

    def _close(self, item: _Item) -> None:
        """Closes an item's block when its ``output_item.done`` never came."""
        emitter = self.emitter
        if emitter.open_block is not item.block:
            return
        if item.kind == _REASONING:
            emitter.thinking_end()
        elif item.kind == _MESSAGE:
            if item.annotations:
                emitter.add_citations(_event_citations(item.annotations))
            emitter.text_end()
        elif item.kind == _SERVER:
            emitter.server_tool_end(status=None)  # its ``done`` never came: the status stays as it was
        else:
            emitter.tool_call_end()

    def _item_kind(self, data: Mapping[str, Any]) -> int:
        """What an output item becomes: a block of the client's, a server tool call, or nothing.

        A ``custom_tool_call`` is the client's unless the response echoes its tools and
        none is a custom tool of that name (xAI reports its own search tools so); a
        built-in call is the client's unless it names a hosted (container) environment;
        a tool search is the server's unless its ``execution`` is ``client``. Those the
        server ran become server tool calls (:data:`SERVER_ITEM_TYPES`); an unknown item
        type is skipped (and logged).
        """
        item_type = data.get("type")
        kind = _BLOCK_KINDS.get(item_type)  # type: ignore[arg-type]
        if kind is not None:
            return kind
        if item_type == _CUSTOM_CALL:
            custom = self._custom_tools
            return _CUSTOM if custom is None or data.get("name") in custom else _SERVER
        if item_type in _BUILTIN_BY_ITEM:
            environment = data.get("environment")
            hosted = isinstance(environment, dict) and environment.get("type") not in (None, "local")
            if not hosted:
                return _BUILTIN
            return _SERVER if item_type in _SERVER_ITEMS else _SKIPPED
        if item_type in ("tool_search_call", "tool_search_output") and data.get("execution") == "client":
            return _SKIPPED  # a tool search the client runs: not a server tool
        return _SERVER if item_type in _SERVER_ITEMS else _SKIPPED

    def _on_item_added(self, payload: dict[str, Any]) -> None:
        data = payload.get("item")
        if not isinstance(data, dict):
            return
        kind = self._item_kind(data)
        if kind == _SKIPPED:
            logger.debug("skipping server-side output item %s (id %s)", data.get("type"), data.get("id"))
        self._find(payload, kind, data)

    def _on_item_done(self, payload: dict[str, Any]) -> None:
        data = payload.get("item")
        if not isinstance(data, dict):
            return
        item_type = data.get("type")
        kind = self._item_kind(data)
        if kind == _SKIPPED:
            index = _output_index(payload)
            known = self._by_index.get(index) if index is not None else None
            if known is None and not self._by_id.get(_item_id(data.get("id")) or ""):
                logger.debug("skipping server-side output item %s (id %s)", item_type, data.get("id"))
                self._find(payload, kind, data)
            return
        done = {
            _REASONING: self._finish_reasoning,
            _MESSAGE: self._finish_message,
            _FUNCTION: self._finish_function,
            _CUSTOM: self._finish_custom,
            _BUILTIN: self._finish_builtin,
            _SERVER: self._finish_server,
        }
        self._apply(self._find(payload, kind, data), done[kind], data)

    # reasoning

    def _thinking_piece(self, item: _Item, piece: tuple[tuple[str, Any], str]) -> None:
        part, delta = piece
        if part != item.part:
            if item.written:
                self.emitter.thinking_delta("\n\n")
            item.part = part
        item.written = True
        self.emitter.thinking_delta(delta)

    def _on_summary_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, str) and delta:
            piece = (("summary", payload.get("summary_index", 0)), delta)
            self._apply(self._find(payload, _REASONING), self._thinking_piece, piece)

    def _on_reasoning_text_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, str) and delta:
            piece = (("content", payload.get("content_index", 0)), delta)
            self._apply(self._find(payload, _REASONING), self._thinking_piece, piece)

    def _finish_reasoning(self, item: _Item, data: dict[str, Any]) -> None:
        emitter = self.emitter
        if not item.written:
            text = _summary_text(data)
            if text:
                emitter.thinking_delta(text)
        emitter.set_thinking_signature(orjson.dumps(data).decode())
        emitter.thinking_end()
        self._retire(item)

    # messages

    def _on_text_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        logprobs = payload.get("logprobs") if self._logprobs else None
        if delta or logprobs:
            self._apply(self._find(payload, _MESSAGE), self._text_piece, (delta, logprobs))

    def _text_piece(self, item: _Item, piece: tuple[Any, Any]) -> None:
        delta, logprobs = piece
        if delta:
            self.emitter.text_delta(delta)  # a delta that is not text is a malformed event (TypeError)
        if logprobs and isinstance(logprobs, list):
            self.emitter.add_logprobs(token_logprobs(logprobs))

    def _on_refusal_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, str) and delta:
            self._apply(self._find(payload, _MESSAGE), self._refusal_piece, delta)

    def _refusal_piece(self, item: _Item, delta: str) -> None:
        self.emitter.refusal_delta(delta)  # text as well, unless the call asked for structured output

    def _finish_message(self, item: _Item, data: dict[str, Any]) -> None:
        emitter = self.emitter
        block = item.block
        streamed: str = block.text if isinstance(block, TextContent) else ""
        full = _message_text(data, with_refusal=emitter.message.refusal is None)  # a streamed refusal is kept apart
        if len(full) > len(streamed) and full.startswith(streamed):
            emitter.text_delta(full[len(streamed) :])  # the part no delta carried
        item_id = _item_id(data.get("id"))
        if item_id:
            phase = data.get("phase")
            emitter.set_text_signature(text_signature(item_id, phase if isinstance(phase, str) else None))
        citations = _message_citations(data, with_refusal=emitter.message.refusal is None)
        if not citations and item.annotations:  # a done item without its annotations: the events' ones
            citations = _event_citations(item.annotations)
        emitter.add_citations(citations)
        emitter.text_end()
        self._retire(item)

    # function calls

    def _on_arguments_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, str) and delta:
            self._apply(self._find(payload, _FUNCTION), self._arguments_piece, delta)

    def _arguments_piece(self, item: _Item, delta: str) -> None:
        item.arguments_streamed = True
        self.emitter.tool_call_delta(delta)

    def _on_arguments_done(self, payload: dict[str, Any]) -> None:
        arguments = payload.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._apply(self._find(payload, _FUNCTION), self._whole_arguments, arguments)

    def _whole_arguments(self, item: _Item, arguments: str) -> None:
        if not item.arguments_streamed:
            self._arguments_piece(item, arguments)

    def _name_late_call(self, item: _Item, data: Mapping[str, Any]) -> None:
        """Names a call announced by its deltas alone, from its ``done`` item."""
        block = item.block
        if isinstance(block, ToolCall) and not block.name:
            self.emitter.update_tool_call(id=_call_id(data), name=_call_name(data) or None)

    def _finish_function(self, item: _Item, data: dict[str, Any]) -> None:
        emitter = self.emitter
        self._name_late_call(item, data)
        arguments = data.get("arguments")
        parsed: dict[str, Any] | None = None
        if isinstance(arguments, str):
            if not item.arguments_streamed and arguments:
                emitter.tool_call_delta(arguments)
            try:
                value = orjson.loads(arguments) if arguments.strip() else {}
            except orjson.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                parsed = value
        emitter.tool_call_end(parsed)
        self._retire(item)

    # custom and built-in tool calls

    def _on_custom_input_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, str) and delta:
            known = self._known(payload)
            if known is not None and known.kind == _SERVER:  # a custom call the server runs (xAI)
                self._apply(known, self._server_piece, delta)
                return
            self._apply(self._find(payload, _CUSTOM), self._custom_piece, delta)

    def _custom_piece(self, item: _Item, text: Any) -> None:
        """A piece of a custom call's input, fed to the merger inside ``{"input": "...``."""
        if isinstance(text, str) and text:
            item.raw.append(text)
            self.emitter.tool_call_delta(orjson.dumps(text).decode()[1:-1])

    def _finish_custom(self, item: _Item, data: dict[str, Any]) -> None:
        self._name_late_call(item, data)
        streamed = "".join(item.raw)
        full = data.get("input")
        if isinstance(full, str) and len(full) > len(streamed) and full.startswith(streamed):
            self._custom_piece(item, full[len(streamed) :])  # the part no delta carried
            streamed = full
        self.emitter.tool_call_delta(_CUSTOM_CLOSE)
        self.emitter.tool_call_end({CUSTOM_TOOL_INPUT: streamed})
        self._retire(item)

    def _finish_builtin(self, item: _Item, data: dict[str, Any]) -> None:
        """A built-in tool's call: its ``operation`` / ``action`` object, given whole."""
        self._name_late_call(item, data)
        field_name = _BUILTIN_ITEMS[_BUILTIN_BY_ITEM[str(data.get("type"))]][1]
        value = data.get(field_name)
        arguments: dict[str, Any] = value if isinstance(value, dict) else {}
        self.emitter.tool_call_delta(orjson.dumps(arguments).decode())
        self.emitter.tool_call_end(arguments)
        self._retire(item)

    # items the server runs itself

    def _known(self, payload: Mapping[str, Any]) -> _Item | None:
        """The item an event names, if it was announced (by ``output_index``, else ``item_id``)."""
        index = _output_index(payload)
        item = self._by_index.get(index) if index is not None else None
        if item is None:
            item_id = _item_id(payload.get("item_id"))
            item = self._by_id.get(item_id) if item_id else None
        return item

    def _open_server(self, item: _Item) -> None:
        """Opens a server item's block: its input whole, or streamed when it comes as JSON text."""
        data = item.data
        item_type = str(data.get("type"))
        name, arguments, _, _, _ = server_call_parts(data, done=False)
        item_id = _item_id(data.get("id")) or f"{item_type}_{item.index if item.index is not None else 0}"
        wire = {"type": item_type}
        spec = _SERVER_ITEMS[item_type]
        if spec.text and spec.whole is not None:
            self.emitter.server_tool_start(item_id, name, wire=wire)
            self._server_piece(item, data.get(spec.whole))
        else:
            self.emitter.server_tool_start(item_id, name, input=arguments, wire=wire)

    def _server_piece(self, item: _Item, fragment: Any) -> None:
        """A JSON fragment of a server call's input (MCP arguments, an xAI tool's input)."""
        if isinstance(fragment, str) and fragment:
            self.emitter.server_tool_delta(fragment)

    def _on_server_arguments_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        item = self._known(payload)
        if isinstance(delta, str) and delta and item is not None and item.kind == _SERVER:
            self._apply(item, self._server_piece, delta)

    def _on_code_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        item = self._known(payload)
        if isinstance(delta, str) and delta and item is not None and item.kind == _SERVER:
            self._apply(item, self._code_piece, delta)

    def _code_piece(self, item: _Item, delta: str) -> None:
        self.emitter.server_tool_delta(delta, field="code")

    def _on_partial_image(self, payload: dict[str, Any]) -> None:
        image = payload.get("partial_image_b64")
        item = self._known(payload)
        if isinstance(image, str) and image and item is not None and item.kind == _SERVER:
            self._apply(item, self._partial_image, image)

    def _partial_image(self, item: _Item, image: str) -> None:
        """The latest partial image stands as the result until the item brings the final one."""
        self.emitter.update_server_tool(result=image)

    def _on_server_progress(self, payload: dict[str, Any]) -> None:
        """``response.<item>.completed`` / ``.failed`` / ``.incomplete``: the call's status, before its item is done."""
        item = self._known(payload)
        if item is not None and item.kind == _SERVER:
            outcome = str(payload.get("type")).rpartition(".")[2]
            self._apply(item, self._server_status, outcome)

    def _server_status(self, item: _Item, outcome: ServerToolStatus) -> None:
        self.emitter.update_server_tool(status=outcome)

    def _finish_server(self, item: _Item, data: dict[str, Any]) -> None:
        """The server's item, whole: the call's final input, result, status and wire fields."""
        _, arguments, result, status, wire = server_call_parts(data, done=True)
        self.emitter.server_tool_end(input=arguments, result=result, status=status, wire=wire)
        self._retire(item)

    # citations

    def _on_annotation(self, payload: dict[str, Any]) -> None:
        annotation = payload.get("annotation")
        if isinstance(annotation, dict):
            piece = (payload.get("content_index", 0), annotation)
            self._apply(self._find(payload, _MESSAGE), self._annotation_piece, piece)

    def _annotation_piece(self, item: _Item, piece: tuple[Any, dict[str, Any]]) -> None:
        item.annotations.append(piece)


_PROGRESS_PREFIXES: Final = tuple(
    f"response.{item}"
    for item in ("web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
                 "mcp_call", "mcp_list_tools")
)  # fmt: skip
"""Server items whose ``.completed`` / ``.failed`` / ``.incomplete`` events set the call's status."""


def _event_citations(annotations: Iterable[tuple[Any, dict[str, Any]]]) -> list[Citation]:
    """Citations from ``annotation.added`` events alone (the message item never came whole):
    ranges are known for the first ``output_text`` part only."""
    citations = []
    for part, annotation in annotations:
        citation = citation_of(annotation) if part == 0 else citation_of({**annotation, "start_index": None,
                                                                           "end_index": None, "index": None})
        if citation is not None:
            if part != 0:
                citation.wire = annotation
            citations.append(citation)
    return citations


_CUSTOM_OPEN: Final = orjson.dumps({CUSTOM_TOOL_INPUT: ""}).decode()[:-2]
"""How a custom call's streamed arguments begin (``{"input":"``); its text follows JSON-escaped."""
_CUSTOM_CLOSE: Final = '"}'


def _call_id(data: Mapping[str, Any]) -> str:
    """A call's alchemy id: ``call_id|item_id`` (the item id is replayed to the same model only)."""
    call_id = _text(data.get("call_id")) or ""
    item_id = _text(data.get("id"))
    return f"{call_id}|{item_id}" if item_id else call_id


def _call_name(data: Mapping[str, Any]) -> str:
    """A call's tool name: its own, or the built-in tool its item type stands for."""
    return _text(data.get("name")) or _BUILTIN_BY_ITEM.get(str(data.get("type")), "")
