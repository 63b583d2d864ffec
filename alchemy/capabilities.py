"""Capability-driven shaping: a request reshaped for what the target model accepts.

The registry gives every model the capability flags of
:class:`alchemy.types.ModelCapabilities` (martian-adapters' set plus reasoning).
Before a provider builds its request, :func:`shape_request` reads them and either
reshapes the conversation and the plain request values so the model accepts them,
or refuses with :class:`alchemy.errors.UnsupportedCapabilityError` when no reshaping
can give the caller what was asked for. Refusal happens before any network call;
the stream runner turns it into an ``error`` event.

:func:`shape_request` always works in this order (``SHAPING_ORDER`` lists it):

1. Refusals, checked before anything else is done:
   :func:`require_tools` (tools for a model without tool calling),
   :func:`require_json_output` (a JSON response format for a model without one),
   :func:`require_n` (``n > 1`` for a model that returns one choice).
2. :func:`remove_surrogates`: unpaired UTF-16 surrogates leave every outgoing string.
3. :func:`apply_handoff`: the cross-provider rules of :mod:`alchemy.transform`
   (foreign signatures, thinking and tool-call ids; synthetic results; failed turns).
4. Request values: :func:`drop_temperature`, :func:`shape_tool_choice`,
   :func:`drop_n`, :func:`drop_user`.
5. Content the model cannot read: :func:`tool_history_to_text` (tool calls and
   results in the history of a model without tools), :func:`replace_images`.
6. Turn structure: :func:`drop_empty_content`, :func:`move_system_into_first_user`,
   :func:`merge_repeating_roles`, :func:`prepend_user_turn`,
   :func:`append_user_to_lone_system`, :func:`append_user_to_assistant_only`,
   :func:`append_user_after_last_assistant`.
7. :func:`flatten_user_content` (models that take message content as a string only).

Each later step relies on the earlier ones: the handoff skips failed turns and adds
tool results before empty turns are dropped; dropping and moving may put two turns
of one role side by side, so merging follows; the start and the end of the
conversation are repaired last. Every step is a small function of
``(ShapedRequest, Model) -> ShapedRequest`` that does nothing when the model has the
capability, and records what it changed as a :class:`ShapingNote`; nothing is lost
without a trace (an image the model cannot see is replaced by a short text saying so).

A Context holds one system prompt, so a conversation never reaches a provider with
several system messages: ``supports_multiple_system`` is satisfied by construction.
``supports_streaming`` is the stream runner's concern (it decides how to call).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Union

import orjson

from ._args import need_instance
from .errors import UnsupportedCapabilityError
from .options import ToolChoice
from .sanitize import sanitize_context
from .tool_ids import ToolCallIdNormalizer
from .transform import (
    FOREIGN_SERVER_TOOL_POLICIES,
    FOREIGN_THINKING_POLICIES,
    ForeignServerTools,
    ForeignThinking,
    transform_messages,
)
from .types import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

__all__ = [
    "CONTINUE_TEXT",
    "EMPTY_RESULT_TEXT",
    "IMAGE_OMITTED_TEXT",
    "SHAPING_ORDER",
    "START_TEXT",
    "RequestValues",
    "ResponseFormat",
    "ShapedRequest",
    "ShapingNote",
    "ShapingStep",
    "ToolChoice",
    "append_user_after_last_assistant",
    "append_user_to_assistant_only",
    "append_user_to_lone_system",
    "apply_handoff",
    "drop_empty_content",
    "drop_n",
    "drop_temperature",
    "drop_user",
    "flatten_user_content",
    "merge_repeating_roles",
    "move_system_into_first_user",
    "prepend_user_turn",
    "remove_surrogates",
    "replace_images",
    "require_json_output",
    "require_n",
    "require_tools",
    "shape_request",
    "shape_tool_choice",
    "tool_history_to_text",
    "wants_json_output",
]

ResponseFormat = Union[str, dict[str, Any]]
"""``"text"``, ``"json"``, or an OpenAI-style object (``{"type": "json_object"}``,
``{"type": "json_schema", "json_schema": {...}}``)."""

START_TEXT = "(start of conversation)"
"""The user turn put before a conversation that would otherwise open with the assistant."""
CONTINUE_TEXT = "Continue."
"""The user turn put after a conversation that would otherwise end with the assistant."""
EMPTY_RESULT_TEXT = "(no output)"
"""The content given to a tool result that has none, for models that reject empty content."""
IMAGE_OMITTED_TEXT = "(image omitted: {model} does not accept images)"
"""What replaces an image sent to a model without vision (``{model}`` is its id)."""

_REQUIRED_CHOICES = frozenset({"required", "any"})
_JSON_FORMATS = frozenset({"json", "json_object", "json_schema"})


@dataclass(frozen=True, slots=True)
class RequestValues:
    """The plain request values that depend on capabilities (``None`` means not set)."""

    temperature: float | None = None
    tool_choice: ToolChoice | None = None
    n: int | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ShapingNote:
    """One change made while shaping: the step that made it and what it did."""

    step: str
    detail: str

    def __str__(self) -> str:
        return f"{self.step}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ShapedRequest:
    """A context and request values, with the notes of what shaping changed so far."""

    context: Context
    values: RequestValues = RequestValues()
    notes: tuple[ShapingNote, ...] = ()

    def noted(
        self, step: str, detail: str, *, context: Context | None = None, values: RequestValues | None = None
    ) -> ShapedRequest:
        """A copy with ``detail`` noted under ``step`` and the given parts replaced."""
        return ShapedRequest(
            context=self.context if context is None else context,
            values=self.values if values is None else values,
            notes=(*self.notes, ShapingNote(step, detail)),
        )


ShapingStep = Callable[[ShapedRequest, Model], ShapedRequest]


def _refuse(model: Model, capability: str, what: str, fix: str) -> UnsupportedCapabilityError:
    return UnsupportedCapabilityError(
        model.key, capability, f"model {model.key} does not support {what} ({capability} is false); {fix}"
    )


def _with_messages(request: ShapedRequest, messages: list[Message], step: str, detail: str) -> ShapedRequest:
    context = Context(system_prompt=request.context.system_prompt, messages=messages, tools=request.context.tools)
    return request.noted(step, detail, context=context)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --------------------------------------------------------------------------- 1. refusals


def require_tools(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Refuses tools for a model without tool calling (the caller's tools cannot run)."""
    if request.context.tools and not model.caps.supports_tools:
        fix = "send the request without tools or pick a model with tool calling"
        raise _refuse(model, "supports_tools", "tool calling", fix)
    return request


def wants_json_output(response_format: ResponseFormat | None) -> bool:
    """True when ``response_format`` asks for JSON output (any of the accepted spellings)."""
    if response_format is None:
        return False
    if isinstance(response_format, str):
        return response_format in _JSON_FORMATS
    kind = response_format.get("type")
    return kind in _JSON_FORMATS or (kind is None and ("schema" in response_format or "json_schema" in response_format))


def require_json_output(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Refuses a JSON response format for a model without JSON output."""
    if wants_json_output(request.values.response_format) and not model.caps.supports_json_output:
        raise _refuse(
            model, "supports_json_output", "JSON output", "drop response_format or pick a model with JSON output"
        )
    return request


def require_n(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Refuses ``n > 1`` for a model that returns a single choice (``n < 1`` is a bad value)."""
    n = request.values.n
    if n is None:
        return request
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of at least 1, got {n!r}")
    if n > 1 and not model.caps.supports_n:
        raise _refuse(model, "supports_n", f"several choices (n={n})", "ask for one choice and repeat the request")
    return request


# --------------------------------------------------------------------------- 2-3. text and handoff


def remove_surrogates(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Removes unpaired UTF-16 surrogates from every outgoing string (see :mod:`alchemy.sanitize`)."""
    context = sanitize_context(request.context)
    if context is request.context:
        return request
    return request.noted("remove_surrogates", "removed unpaired UTF-16 surrogates from the text", context=context)


def apply_handoff(
    request: ShapedRequest,
    model: Model,
    normalize_tool_call_id: ToolCallIdNormalizer | None = None,
    foreign_thinking: ForeignThinking = "drop",
    foreign_server_tools: ForeignServerTools = "drop",
) -> ShapedRequest:
    """Runs :func:`alchemy.transform.transform_messages` on the conversation."""
    before = request.context.messages
    messages = transform_messages(before, model, normalize_tool_call_id, foreign_thinking, foreign_server_tools)
    if len(messages) == len(before) and all(a is b for a, b in zip(messages, before)):
        return request
    return _with_messages(request, messages, "apply_handoff", "reshaped turns written by other models")


# --------------------------------------------------------------------------- 4. request values


def drop_temperature(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Leaves ``temperature`` out for models that reject it (many reasoning models)."""
    if request.values.temperature is None or model.caps.supports_temperature:
        return request
    detail = f"dropped temperature={request.values.temperature!r}: the model does not accept it"
    return request.noted("drop_temperature", detail, values=replace(request.values, temperature=None))


def _is_required_choice(choice: ToolChoice) -> bool:
    if isinstance(choice, str):
        return choice in _REQUIRED_CHOICES
    return choice.get("type") in _REQUIRED_CHOICES


def shape_tool_choice(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Leaves ``tool_choice`` out where the model takes none; turns ``required`` into
    ``auto`` where the model cannot be forced to call a tool."""
    choice = request.values.tool_choice
    if choice is None:
        return request
    caps = model.caps
    if not caps.supports_tool_choice:
        detail = f"dropped tool_choice={choice!r}: the model does not accept tool_choice"
        return request.noted("shape_tool_choice", detail, values=replace(request.values, tool_choice=None))
    if _is_required_choice(choice) and not caps.supports_tool_choice_required:
        detail = f"tool_choice {choice!r} became 'auto': the model cannot be required to call a tool"
        return request.noted("shape_tool_choice", detail, values=replace(request.values, tool_choice="auto"))
    return request


def drop_n(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Leaves ``n=1`` out for models that do not take ``n`` (one choice is what they return)."""
    if request.values.n != 1 or model.caps.supports_n:
        return request
    return request.noted("drop_n", "dropped n=1: the model does not accept n", values=replace(request.values, n=None))


def drop_user(request: ShapedRequest, model: Model) -> ShapedRequest:
    """Leaves the end-user identifier out for models that do not accept one."""
    if request.values.user is None or model.caps.supports_user:
        return request
    detail = "dropped the end-user identifier: the model does not accept one"
    return request.noted("drop_user", detail, values=replace(request.values, user=None))


# --------------------------------------------------------------------------- 5. content the model cannot read


def _dump_arguments(arguments: dict[str, Any]) -> str:
    try:
        return orjson.dumps(arguments).decode()
    except TypeError:
        return repr(arguments)


def tool_history_to_text(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For a model without tools: past tool calls and results become plain text.

    A conversation handed over from a tool-using model keeps its meaning: each call
    becomes a text line in its assistant turn, each result a user turn.
    """
    if model.caps.supports_tools:
        return request
    messages: list[Message] = []
    calls = results = 0
    for message in request.context.messages:
        if isinstance(message, AssistantMessage) and message.tool_calls:
            content: list[Any] = []
            for block in message.content:
                if isinstance(block, ToolCall):
                    calls += 1
                    content.append(TextContent(f"[called tool {block.name} with {_dump_arguments(block.arguments)}]"))
                else:
                    content.append(block)
            messages.append(replace(message, content=content))
        elif isinstance(message, ToolResultMessage):
            results += 1
            status = "error from" if message.is_error else "result of"
            user_content: list[TextContent | ImageContent] = [TextContent(f"[{status} tool {message.tool_name}]")]
            user_content.extend(message.content)
            messages.append(UserMessage(user_content, message.timestamp))
        else:
            messages.append(message)
    if not calls and not results:
        return request
    written = f"{_plural(calls, 'tool call')} and {_plural(results, 'tool result')}"
    detail = f"wrote {written} as text: the model has no tools"
    return _with_messages(request, messages, "tool_history_to_text", detail)


def _without_images(blocks: list[Any], placeholder: str) -> tuple[list[Any], int]:
    count = sum(1 for b in blocks if isinstance(b, ImageContent))
    if not count:
        return blocks, 0
    return [TextContent(placeholder) if isinstance(b, ImageContent) else b for b in blocks], count


def replace_images(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For a model without vision: every image becomes a short text saying it was left out."""
    if model.caps.supports_vision:
        return request
    placeholder = IMAGE_OMITTED_TEXT.format(model=model.id)
    messages: list[Message] = []
    replaced = 0
    for message in request.context.messages:
        if isinstance(message, (UserMessage, ToolResultMessage)) and not isinstance(message.content, str):
            blocks, count = _without_images(list(message.content), placeholder)
            if count:
                replaced += count
                message = replace(message, content=blocks)
        messages.append(message)
    if not replaced:
        return request
    detail = f"replaced {_plural(replaced, 'image')} by a text placeholder: the model has no vision"
    return _with_messages(request, messages, "replace_images", detail)


# --------------------------------------------------------------------------- 6. turn structure


def _is_blank_block(block: Any) -> bool:
    if isinstance(block, TextContent):
        return not block.text.strip()
    if isinstance(block, ThinkingContent):
        return not block.redacted and not block.thinking_signature and not block.thinking.strip()
    return False


def _with_content(message: Message, content: list[Any]) -> Message:
    if isinstance(message, AssistantMessage):
        return replace(message, content=content)
    if isinstance(message, ToolResultMessage):
        return replace(message, content=content)
    return replace(message, content=content)


def drop_empty_content(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models that reject empty content: blank text blocks go; user and assistant
    turns left empty go; a tool result left empty says ``(no output)`` (it must stay,
    it answers a call)."""
    if model.caps.supports_empty_content:
        return request
    messages: list[Message] = []
    blocks_dropped = turns_dropped = filled = 0
    for message in request.context.messages:
        if isinstance(message, UserMessage) and isinstance(message.content, str):
            if not message.content.strip():
                turns_dropped += 1
                continue
            messages.append(message)
            continue
        kept: list[Any] = [b for b in message.content if not _is_blank_block(b)]
        blocks_dropped += len(message.content) - len(kept)
        if isinstance(message, ToolResultMessage) and not kept:
            filled += 1
            messages.append(replace(message, content=[TextContent(EMPTY_RESULT_TEXT)]))
        elif not kept:
            turns_dropped += 1
        elif len(kept) != len(message.content):
            messages.append(_with_content(message, kept))
        else:
            messages.append(message)
    if not (blocks_dropped or turns_dropped or filled):
        return request
    parts = []
    if turns_dropped:
        parts.append(f"dropped {_plural(turns_dropped, 'empty turn')}")
    if blocks_dropped:
        parts.append(f"dropped {_plural(blocks_dropped, 'blank block')}")
    if filled:
        parts.append(f"gave {_plural(filled, 'empty tool result')} the text {EMPTY_RESULT_TEXT!r}")
    return _with_messages(request, messages, "drop_empty_content", ", ".join(parts))


def _prepend_text(message: UserMessage, text: str) -> UserMessage:
    if isinstance(message.content, str):
        return replace(message, content=f"{text}\n\n{message.content}")
    return replace(message, content=[TextContent(text), *message.content])


def move_system_into_first_user(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models without a system role: the system prompt opens the first user turn
    (a new first turn when the conversation does not start with the user)."""
    system = request.context.system_prompt
    if system is None or model.caps.supports_system:
        return request
    messages = list(request.context.messages)
    if not system.strip():
        detail = "dropped the blank system prompt: the model has no system role"
    elif messages and isinstance(messages[0], UserMessage):
        messages[0] = _prepend_text(messages[0], system)
        detail = "moved the system prompt into the first user turn: the model has no system role"
    else:
        first_time = messages[0].timestamp if messages else None
        messages.insert(0, UserMessage(system) if first_time is None else UserMessage(system, first_time))
        detail = "moved the system prompt into a new first user turn: the model has no system role"
    context = Context(system_prompt=None, messages=messages, tools=request.context.tools)
    return request.noted("move_system_into_first_user", detail, context=context)


def _merge_users(first: UserMessage, second: UserMessage) -> UserMessage:
    if isinstance(first.content, str) and isinstance(second.content, str):
        return replace(first, content=f"{first.content}\n\n{second.content}")
    head = [TextContent(first.content)] if isinstance(first.content, str) else list(first.content)
    tail = [TextContent(second.content)] if isinstance(second.content, str) else list(second.content)
    return replace(first, content=[*head, *tail])


def _merge_assistants(first: AssistantMessage, second: AssistantMessage) -> AssistantMessage:
    return replace(first, content=[*first.content, *second.content], stop_reason=second.stop_reason)


def merge_repeating_roles(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models that need alternating turns: consecutive user turns become one, and so
    do consecutive assistant turns. Tool results are never merged (each answers its own
    call)."""
    if model.caps.supports_repeating_roles:
        return request
    messages: list[Message] = []
    merged = 0
    for message in request.context.messages:
        previous = messages[-1] if messages else None
        if isinstance(message, UserMessage) and isinstance(previous, UserMessage):
            messages[-1] = _merge_users(previous, message)
            merged += 1
        elif isinstance(message, AssistantMessage) and isinstance(previous, AssistantMessage):
            messages[-1] = _merge_assistants(previous, message)
            merged += 1
        else:
            messages.append(message)
    if not merged:
        return request
    detail = f"merged {_plural(merged, 'turn')} into the turn before: the model needs alternating roles"
    return _with_messages(request, messages, "merge_repeating_roles", detail)


def prepend_user_turn(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models that cannot start with the assistant: a short user turn goes first."""
    messages = request.context.messages
    if not messages or not isinstance(messages[0], AssistantMessage) or model.caps.supports_first_assistant:
        return request
    detail = f"added a first user turn {START_TEXT!r}: the model cannot start with the assistant"
    first = UserMessage(START_TEXT, messages[0].timestamp)
    return _with_messages(request, [first, *messages], "prepend_user_turn", detail)


def _append_continue(request: ShapedRequest, step: str, detail: str) -> ShapedRequest:
    messages = request.context.messages
    timestamp = messages[-1].timestamp if messages else None
    turn = UserMessage(CONTINUE_TEXT) if timestamp is None else UserMessage(CONTINUE_TEXT, timestamp)
    return _with_messages(request, [*messages, turn], step, detail)


def append_user_to_lone_system(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models that reject a system prompt with no messages: a user turn follows it."""
    context = request.context
    if context.messages or context.system_prompt is None or model.caps.supports_only_system:
        return request
    detail = f"added a user turn {CONTINUE_TEXT!r} after the lone system prompt: the model needs a message"
    return _append_continue(request, "append_user_to_lone_system", detail)


def append_user_to_assistant_only(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models that reject a conversation of assistant turns only: a user turn is added."""
    messages = request.context.messages
    if not messages or model.caps.supports_only_assistant:
        return request
    if not all(isinstance(m, AssistantMessage) for m in messages):
        return request
    detail = f"added a user turn {CONTINUE_TEXT!r}: the model rejects a conversation of assistant turns only"
    return _append_continue(request, "append_user_to_assistant_only", detail)


def append_user_after_last_assistant(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models that cannot continue from an assistant turn: a user continuation follows it."""
    messages = request.context.messages
    if not messages or not isinstance(messages[-1], AssistantMessage) or model.caps.supports_last_assistant:
        return request
    detail = f"added a user turn {CONTINUE_TEXT!r}: the model cannot continue from an assistant turn"
    return _append_continue(request, "append_user_after_last_assistant", detail)


# --------------------------------------------------------------------------- 7. content as a string


def flatten_user_content(request: ShapedRequest, model: Model) -> ShapedRequest:
    """For models that take message content only as a string: user text blocks are
    joined into one string. Images cannot travel in a string, so they are refused."""
    if model.caps.supports_json_content:
        return request
    messages: list[Message] = []
    flattened = 0
    for message in request.context.messages:
        if isinstance(message, UserMessage) and not isinstance(message.content, str):
            if any(isinstance(b, ImageContent) for b in message.content):
                raise _refuse(
                    model,
                    "supports_json_content",
                    "content parts, which images need",
                    "send the images to a model that takes content parts",
                )
            text = "\n".join(b.text for b in message.content if isinstance(b, TextContent))
            message = replace(message, content=text)
            flattened += 1
        messages.append(message)
    if not flattened:
        return request
    turns = _plural(flattened, "user turn")
    detail = f"joined the text blocks of {turns} into strings: the model takes string content only"
    return _with_messages(request, messages, "flatten_user_content", detail)


# --------------------------------------------------------------------------- the pipeline

REFUSALS: tuple[ShapingStep, ...] = (require_tools, require_json_output, require_n)
VALUE_STEPS: tuple[ShapingStep, ...] = (drop_temperature, shape_tool_choice, drop_n, drop_user)
CONTENT_STEPS: tuple[ShapingStep, ...] = (
    tool_history_to_text,
    replace_images,
    drop_empty_content,
    move_system_into_first_user,
    merge_repeating_roles,
    prepend_user_turn,
    append_user_to_lone_system,
    append_user_to_assistant_only,
    append_user_after_last_assistant,
    flatten_user_content,
)

SHAPING_ORDER: tuple[str, ...] = (
    *(step.__name__ for step in REFUSALS),
    remove_surrogates.__name__,
    apply_handoff.__name__,
    *(step.__name__ for step in VALUE_STEPS),
    *(step.__name__ for step in CONTENT_STEPS),
)
"""The names of the steps in the order :func:`shape_request` runs them."""


def shape_request(
    context: Context,
    model: Model,
    values: RequestValues | None = None,
    *,
    handoff: bool = True,
    foreign_thinking: ForeignThinking = "drop",
    normalize_tool_call_id: ToolCallIdNormalizer | None = None,
    foreign_server_tools: ForeignServerTools = "drop",
) -> ShapedRequest:
    """Shapes ``context`` and ``values`` for ``model`` in the order of ``SHAPING_ORDER``.

    Returns the shaped context and values with a note for every change; ``context``
    itself is never modified. Raises :class:`UnsupportedCapabilityError` (naming the
    model and the missing capability) when the request needs something the model
    lacks. ``handoff=False`` skips the cross-provider step for callers that already ran
    :func:`alchemy.transform.transform_messages`; ``foreign_thinking``,
    ``foreign_server_tools`` and ``normalize_tool_call_id`` are passed to it.
    """
    need_instance("shape_request()", "context", context, Context)
    need_instance("shape_request()", "model", model, Model)
    need_instance("shape_request()", "values", values, RequestValues, optional=True)
    if foreign_thinking not in FOREIGN_THINKING_POLICIES:
        raise ValueError(f"shape_request() foreign_thinking must be 'drop' or 'text', got {foreign_thinking!r}")
    if foreign_server_tools not in FOREIGN_SERVER_TOOL_POLICIES:
        raise ValueError(
            f"shape_request() foreign_server_tools must be 'drop' or 'text', got {foreign_server_tools!r}"
        )
    request = ShapedRequest(context, values if values is not None else RequestValues())
    for refusal in REFUSALS:
        request = refusal(request, model)
    request = remove_surrogates(request, model)
    if handoff:
        request = apply_handoff(request, model, normalize_tool_call_id, foreign_thinking, foreign_server_tools)
    for step in (*VALUE_STEPS, *CONTENT_STEPS):
        request = step(request, model)
    return request
