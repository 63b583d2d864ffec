"""Cross-provider handoff: a conversation from any models, reshaped for one target model.

Every provider runs :func:`transform_messages` before it builds its request, so a
conversation started on Anthropic continues on OpenAI, Gemini or a local server and
back. The rules follow pi-ai's ``transform-messages.ts``:

* User messages pass unchanged.
* Assistant messages from the target model itself (same provider, API and model id)
  are replayed verbatim, signatures included; only blank thinking that carries no
  signature is left out.
* Assistant messages from any other model lose what only their own model can read:
  redacted thinking, thinking and text signatures, tool calls' thought signatures.
  Their thinking follows the ``foreign_thinking`` policy; their text is kept; their
  tool-call ids go through the target's normalizer (:mod:`alchemy.tool_ids`) and
  every tool result of such a call is given the same new id.
* Tools the provider ran itself (:class:`~alchemy.types.ServerToolCall`) and the
  citations of text blocks go back verbatim to the same provider and API, whatever
  the model (Anthropic requires a ``server_tool_use`` and its result to come back
  as they were). Any other API cannot read them: citations are left out, and server
  tool calls follow the ``foreign_server_tools`` policy -- ``"drop"`` (the default;
  the answer's text carries what they found) or ``"text"``, a plain-text summary
  (:func:`alchemy.server_tools.describe`). An approval answered with
  :func:`alchemy.server_tools.approve` goes with its call. Server tool calls never get
  a synthetic result: the provider answers them itself.
* A tool call still without a result when the next assistant or user turn starts
  gets a synthetic error result, ``"No result provided"``, because every API rejects
  a call left unanswered. Calls in the last turn are left alone (that turn may still
  be running its tools).
* Assistant turns that ended in ``error`` or ``aborted`` are skipped: they may hold
  reasoning with no answer or half-written tool calls that no API accepts. Tool
  results of their calls (if any) go with them.
* Assistant turns left with no content at all are skipped; every API rejects them.

The input is never modified: changed messages are new objects, unchanged ones are
shared. The output is stable under a second pass (running it twice changes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ._args import need_instance
from .tool_ids import ToolCallIdNormalizer, tool_call_id_normalizer
from .types import (
    AssistantContent,
    AssistantMessage,
    Message,
    Model,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

__all__ = [
    "FOREIGN_SERVER_TOOL_POLICIES",
    "FOREIGN_THINKING_POLICIES",
    "ForeignServerTools",
    "ForeignThinking",
    "NO_RESULT_TEXT",
    "is_same_api",
    "is_same_model",
    "transform_messages",
]

ForeignThinking = Literal["drop", "text"]
FOREIGN_THINKING_POLICIES: tuple[ForeignThinking, ...] = ("drop", "text")
ForeignServerTools = Literal["drop", "text"]
FOREIGN_SERVER_TOOL_POLICIES: tuple[ForeignServerTools, ...] = ("drop", "text")

NO_RESULT_TEXT = "No result provided"
"""The text of the synthetic error result given to a tool call that never got one."""

_SKIPPED_STOP_REASONS = frozenset({"error", "aborted"})


def is_same_model(message: AssistantMessage, model: Model) -> bool:
    """True when ``message`` was written by ``model`` (same provider, API and model id)."""
    return message.provider == model.provider and message.api == model.api and message.model == model.id


def is_same_api(message: AssistantMessage, model: Model) -> bool:
    """True when ``message`` came from ``model``'s provider and wire API (any model of theirs):
    its server tool calls and citations can go back verbatim."""
    return message.provider == model.provider and message.api == model.api


def _check_arguments(messages: object, model: object, normalize: object) -> None:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        hint = " (pass context.messages)" if type(messages).__name__ == "Context" else ""
        raise TypeError(
            f"transform_messages() messages must be a list of messages, got {type(messages).__name__}{hint}"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, (UserMessage, AssistantMessage, ToolResultMessage)):
            raise TypeError(
                f"transform_messages() messages[{i}]: expected user, assistant or tool result messages, "
                f"got {type(message).__name__}"
            )
    need_instance("transform_messages()", "model", model, Model)
    if normalize is not None and not callable(normalize):
        raise TypeError(
            f"transform_messages() normalize_tool_call_id must be a callable or None, got {type(normalize).__name__}"
        )


def transform_messages(
    messages: Sequence[Message],
    model: Model,
    normalize_tool_call_id: ToolCallIdNormalizer | None = None,
    foreign_thinking: ForeignThinking = "drop",
    foreign_server_tools: ForeignServerTools = "drop",
) -> list[Message]:
    """Reshapes ``messages`` so that ``model`` accepts them (rules in the module docstring).

    ``normalize_tool_call_id`` rewrites the ids of tool calls written by other models;
    ``None`` (the default) uses the target API's own rule from
    :func:`alchemy.tool_ids.tool_call_id_normalizer` (no rewriting for an API alchemy
    does not know), and :func:`alchemy.tool_ids.keep_tool_call_id` keeps every id.

    ``foreign_thinking`` decides what happens to the reasoning of other models:

    * ``"drop"`` (the default): it is left out. Their visible text and tool calls,
      which carry the outcome of that reasoning, are kept.
    * ``"text"``: it is replayed as a plain text block, as pi-ai does.

    Why ``"drop"`` is the default: replayed as text, another model's reasoning becomes
    part of the assistant's *visible* answer, which the target model then reads as
    something it said itself. On Anthropic this gets whole turns refused: a fork of
    pi-ai reports ``stop_reason: refusal`` with category ``reasoning_extraction``
    ("blocked ... reverse engineering or duplicating model outputs") on the first
    Claude turn after a switch from another provider, traced to exactly this
    thinking-to-text conversion (can1357/oh-my-pi#7241; the maintainers answer that
    plain prose was already their mitigation, chosen over tagged forms that Claude
    refuses or repeats as visible reasoning, and that the risk accumulates with the
    amount of replayed reasoning). pi-ai itself stopped wrapping the text in
    ``<thinking>`` tags because models imitated them. No API
    needs a foreign turn's reasoning to accept the conversation, so dropping it costs
    only that reasoning's content, never a request; ask for ``"text"`` when the next
    model should see how the previous one reasoned.
    """
    _check_arguments(messages, model, normalize_tool_call_id)
    if foreign_thinking not in FOREIGN_THINKING_POLICIES:
        raise ValueError(f"foreign_thinking must be 'drop' or 'text', got {foreign_thinking!r}")
    if foreign_server_tools not in FOREIGN_SERVER_TOOL_POLICIES:
        raise ValueError(f"foreign_server_tools must be 'drop' or 'text', got {foreign_server_tools!r}")
    normalize = tool_call_id_normalizer(model) if normalize_tool_call_id is None else normalize_tool_call_id

    result: list[Message] = []
    new_ids: dict[str, str] = {}
    kept_call_ids: set[str] = set()
    skipped_call_ids: set[str] = set()
    waiting: list[ToolCall] = []
    answered: set[str] = set()
    waiting_since = 0
    kept_server_ids: set[str] = set()
    dropped_server_ids: set[str] = set()

    def answer_waiting_calls() -> None:
        for call in waiting:
            if call.id not in answered:
                result.append(_no_result(call, waiting_since))
        waiting.clear()
        answered.clear()

    for message in messages:
        if isinstance(message, UserMessage):
            answer_waiting_calls()
            result.append(message)
        elif isinstance(message, AssistantMessage):
            answer_waiting_calls()
            if message.stop_reason in _SKIPPED_STOP_REASONS:
                skipped_call_ids.update(call.id for call in message.tool_calls)
                continue
            kept_call_ids.update(call.id for call in message.tool_calls)
            servers = message.server_tool_calls
            if servers:
                (kept_server_ids if is_same_api(message, model) else dropped_server_ids).update(c.id for c in servers)
            shaped = _shape_assistant(message, model, normalize, foreign_thinking, foreign_server_tools, new_ids)
            if not shaped.content:
                continue
            waiting.extend(shaped.tool_calls)
            waiting_since = shaped.timestamp
            result.append(shaped)
        elif isinstance(message, ToolResultMessage):
            original_id = message.tool_call_id
            if original_id in skipped_call_ids and original_id not in kept_call_ids:
                continue
            if original_id in dropped_server_ids and original_id not in kept_server_ids:
                continue  # the answer to an approval request the target never sees
            new_id = new_ids.get(original_id, original_id)
            answered.add(new_id)
            result.append(message if new_id == original_id else _with_call_id(message, new_id))
        else:
            raise TypeError(f"messages: expected user, assistant or tool result messages, got {type(message).__name__}")
    return result


def _shape_assistant(
    message: AssistantMessage,
    model: Model,
    normalize: ToolCallIdNormalizer | None,
    foreign_thinking: ForeignThinking,
    foreign_server_tools: ForeignServerTools,
    new_ids: dict[str, str],
) -> AssistantMessage:
    same_model = is_same_model(message, model)
    same_api = same_model or is_same_api(message, model)
    content: list[AssistantContent] = []
    changed = False
    for block in message.content:
        if same_model:
            shaped = _shape_own_block(block)
        elif isinstance(block, ServerToolCall):
            shaped = block if same_api else _foreign_server_tool(block, foreign_server_tools)
        else:
            shaped = _shape_foreign_block(block, foreign_thinking, normalize, new_ids, same_api)
        if shaped is not block:
            changed = True
        if shaped is not None:
            content.append(shaped)
    if not changed:
        return message
    return AssistantMessage(
        content=content,
        api=message.api,
        provider=message.provider,
        model=message.model,
        usage=message.usage,
        stop_reason=message.stop_reason,
        error_message=message.error_message,
        timestamp=message.timestamp,
        response_id=message.response_id,
        paused=message.paused,
    )


def _foreign_server_tool(block: ServerToolCall, policy: ForeignServerTools) -> TextContent | None:
    if policy == "drop":
        return None
    from .server_tools import describe

    return TextContent(describe(block))


def _is_blank(text: str) -> bool:
    return not text or text.isspace()


def _shape_own_block(block: AssistantContent) -> AssistantContent | None:
    """The target's own block: kept verbatim, except blank thinking with no signature."""
    if isinstance(block, ThinkingContent) and not block.redacted and not block.thinking_signature:
        return None if _is_blank(block.thinking) else block
    return block


def _shape_foreign_block(
    block: TextContent | ThinkingContent | ToolCall,
    foreign_thinking: ForeignThinking,
    normalize: ToolCallIdNormalizer | None,
    new_ids: dict[str, str],
    same_api: bool = False,
) -> AssistantContent | None:
    if isinstance(block, ThinkingContent):
        if block.redacted or _is_blank(block.thinking) or foreign_thinking == "drop":
            return None
        return TextContent(block.thinking)
    if isinstance(block, TextContent):
        citations = block.citations if same_api else None
        if block.text_signature is None and citations is block.citations:
            return block
        return TextContent(block.text, None, citations)
    new_id = block.id
    if normalize is not None:
        new_id = normalize(block.id)
        if new_id != block.id:
            new_ids[block.id] = new_id
    if new_id == block.id and block.thought_signature is None:
        return block
    return ToolCall(new_id, block.name, block.arguments)


def _with_call_id(message: ToolResultMessage, tool_call_id: str) -> ToolResultMessage:
    return ToolResultMessage(
        tool_call_id=tool_call_id,
        tool_name=message.tool_name,
        content=message.content,
        is_error=message.is_error,
        details=message.details,
        timestamp=message.timestamp,
    )


def _no_result(call: ToolCall, timestamp: int) -> ToolResultMessage:
    return ToolResultMessage(
        tool_call_id=call.id,
        tool_name=call.name,
        content=[TextContent(NO_RESULT_TEXT)],
        is_error=True,
        timestamp=timestamp,
    )
