"""The ``generateContent`` request shared by Gemini and Vertex AI: options, contents, config, tools.

A conversation becomes ``contents`` of ``user`` and ``model`` turns made of parts:

* user text and images (``inlineData``);
* the assistant's text, thinking (``thought: true``) and ``functionCall`` parts.
  A thought signature goes back only to the model that wrote it (same provider and
  model; the cross-provider handoff already stripped other models' signatures) and
  only when it is well-formed base64; anything else is left out. Gemini 3 rejects a
  step whose first function call has no signature, so such a call (written by
  another model, or built by hand) carries Google's documented placeholder
  ``skip_thought_signature_validator``. Thinking of other models travels as plain
  text when the handoff kept it.
* tool results as ``functionResponse`` parts (``{"output": text}``, or
  ``{"error": text}`` for a failed tool), all results of one step merged into one
  user turn. Images in a result travel inside the ``functionResponse`` for Gemini 3
  (multimodal function responses); older models get them in a user turn right
  after the results (``Tool result image:``), since their function responses hold
  JSON only.

``id`` fields on function calls and responses are sent only to the models served
through this API that require them (Claude and gpt-oss ids on Vertex); Gemini
pairs calls and responses by order and name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from ..types import (
    AssistantMessage,
    ImageContent,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._google_schema import ToolSchemaMode, openapi_schema, tool_schema_mode

if TYPE_CHECKING:
    from ..capabilities import ShapedRequest, ToolChoice
    from ..streaming import StreamOptions
    from ..types import Message, Model, Tool

__all__ = [
    "GOOGLE_OPTION_NAMES",
    "SKIP_SIGNATURE",
    "GoogleOptions",
    "convert_messages",
    "function_declarations",
    "is_gemini3",
    "map_simple",
    "read_options",
    "request_body",
    "thinking_config",
    "tool_config",
    "valid_signature",
]

GOOGLE_OPTION_NAMES: Final = frozenset(
    {"tool_choice", "thinking_enabled", "thinking_budget", "thinking_level", "tool_schema"}
)
"""The options both Google providers accept (see :class:`GoogleOptions`)."""

SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
"""Google's documented placeholder signature for function calls the model did not write."""

THINKING_LEVELS: Final = ("minimal", "low", "medium", "high")
SIMPLE_MAX_TOKENS: Final = 32000
TOOL_RESULT_IMAGE_TEXT: Final = "Tool result image:"
IMAGE_ONLY_RESULT_TEXT: Final = "(see attached image)"

_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_GEMINI3: Final = re.compile(r"gemini-3(?:\.\d+)?(?:-|$)")
_GEMINI3_PRO: Final = re.compile(r"gemini-3(?:\.\d+)?-pro")
_GEMINI3_FLASH: Final = re.compile(r"gemini-3(?:\.\d+)?-flash")
_MODES: Final = {"auto": "AUTO", "none": "NONE", "any": "ANY", "required": "ANY"}

# streamSimple thinking budgets per level (minimal, low, medium, high), pi-ai's.
_BUDGETS_25_PRO: Final = {"minimal": 128, "low": 2048, "medium": 8192, "high": 32768}
_BUDGETS_25_FLASH: Final = {"minimal": 128, "low": 2048, "medium": 8192, "high": 24576}
DYNAMIC_BUDGET: Final = -1


@dataclass(frozen=True, slots=True)
class GoogleOptions:
    """The Google-specific options of one call, checked.

    * ``tool_choice``: ``"auto"``, ``"none"``, ``"any"`` (``"required"`` is the same),
      or one tool by name (``{"type": "tool", "name": ...}`` or the OpenAI shape);
      sent as ``toolConfig.functionCallingConfig`` only when the context has tools.
    * ``thinking_enabled`` / ``thinking_budget`` / ``thinking_level``: the
      ``thinkingConfig`` of reasoning models. ``thinking_budget`` is a token budget
      (``-1`` dynamic, ``0`` off; Gemini 2.5), ``thinking_level`` one of ``minimal``,
      ``low``, ``medium``, ``high`` (Gemini 3); at most one of the two.
      ``includeThoughts`` follows ``thinking_enabled`` (default: on, unless the
      budget is 0). Nothing is sent when none is given, nor to a model without
      reasoning (``model.reasoning`` false), as in pi-ai.
    * ``tool_schema``: ``"json_schema"`` (``parametersJsonSchema``) or ``"openapi"``
      (the older ``parameters`` subset); see :mod:`._google_schema`.
    """

    tool_choice: ToolChoice | None = None
    thinking_enabled: bool | None = None
    thinking_budget: int | None = None
    thinking_level: str | None = None
    tool_schema: ToolSchemaMode = "json_schema"


def read_options(model: Model, options: Mapping[str, Any]) -> GoogleOptions:
    """Checks the Google options in ``options`` (a call's ``provider_options``)."""
    enabled = options.get("thinking_enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(f"option thinking_enabled must be a bool, got {type(enabled).__name__}")
    budget = options.get("thinking_budget")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise TypeError(f"option thinking_budget must be an int, got {type(budget).__name__}")
        if budget < DYNAMIC_BUDGET:
            raise ValueError(f"option thinking_budget must be -1 (dynamic), 0 (off) or a token count, got {budget}")
    level = options.get("thinking_level")
    if level is not None:
        if not isinstance(level, str) or level.lower() not in THINKING_LEVELS:
            allowed = ", ".join(repr(v) for v in THINKING_LEVELS)
            raise ValueError(f"option thinking_level must be one of {allowed}, got {level!r}")
        level = level.lower()
        if budget is not None:
            raise ValueError("options thinking_level and thinking_budget cannot be combined; give one of them")
    return GoogleOptions(
        tool_choice=_check_tool_choice(options.get("tool_choice")),
        thinking_enabled=enabled,
        thinking_budget=budget,
        thinking_level=level,
        tool_schema=tool_schema_mode(model, options.get("tool_schema")),
    )


def _check_tool_choice(choice: object) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in _MODES:
            raise ValueError(f"option tool_choice must be 'auto', 'none', 'any', 'required' or a tool, got {choice!r}")
        return choice
    if isinstance(choice, Mapping) and _named_tool(choice):
        return dict(choice)
    raise ValueError(
        "option tool_choice must be 'auto', 'none', 'any', 'required', {'type': 'tool', 'name': ...} "
        f"or {{'type': 'function', 'function': {{'name': ...}}}}, got {choice!r}"
    )


def _named_tool(choice: Mapping[str, Any]) -> str | None:
    name = choice.get("name")
    function = choice.get("function")
    if name is None and isinstance(function, Mapping):
        name = function.get("name")
    return name if isinstance(name, str) and name else None


# --------------------------------------------------------------------------- model families


def _model_name(model: Model) -> str:
    """The model's own name, without a publisher prefix (``openai/gpt-oss-120b-maas``)."""
    return model.id.rsplit("/", 1)[-1].lower()


def is_gemini3(model: Model) -> bool:
    return _GEMINI3.search(_model_name(model)) is not None


def _requires_tool_call_id(model: Model) -> bool:
    name = _model_name(model)
    return name.startswith(("claude-", "gpt-oss-"))


def valid_signature(signature: str | None) -> str | None:
    """``signature`` when it is well-formed base64 (what Gemini accepts back), else ``None``."""
    if not signature or len(signature) % 4:
        return None
    return signature if _BASE64.fullmatch(signature) else None


# --------------------------------------------------------------------------- contents


def convert_messages(model: Model, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The ``contents`` for ``messages`` (already shaped for ``model``)."""
    contents: list[dict[str, Any]] = []
    multimodal_results = is_gemini3(model)
    with_ids = _requires_tool_call_id(model)
    results_turn: list[dict[str, Any]] | None = None
    result_images: list[dict[str, Any]] = []

    def flush_result_images() -> None:
        if result_images:
            contents.append({"role": "user", "parts": [{"text": TOOL_RESULT_IMAGE_TEXT}, *result_images]})
            result_images.clear()

    for message in messages:
        if isinstance(message, ToolResultMessage):
            part, images = _function_response(message, multimodal_results, with_ids)
            if results_turn is None:
                results_turn = []
                contents.append({"role": "user", "parts": results_turn})
            results_turn.append(part)
            result_images.extend(images)
            continue
        flush_result_images()
        results_turn = None
        if isinstance(message, UserMessage):
            parts = _user_parts(message)
            if parts:
                contents.append({"role": "user", "parts": parts})
        elif isinstance(message, AssistantMessage):
            parts = _model_parts(message, model, with_ids)
            if parts:
                contents.append({"role": "model", "parts": parts})
    flush_result_images()
    return contents


def _inline(image: ImageContent) -> dict[str, Any]:
    return {"inlineData": {"mimeType": image.mime_type, "data": image.data}}


def _user_parts(message: UserMessage) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return [{"text": message.content}] if message.content else []
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            if block.text:
                parts.append({"text": block.text})
        elif isinstance(block, ImageContent):
            parts.append(_inline(block))
    return parts


def _model_parts(message: AssistantMessage, model: Model, with_ids: bool) -> list[dict[str, Any]]:
    own = message.provider == model.provider and message.model == model.id
    needs_first_call_signature = is_gemini3(model)
    first_call = True
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            signature = valid_signature(block.text_signature) if own else None
            if not block.text.strip() and signature is None:
                continue
            part: dict[str, Any] = {"text": block.text}
        elif isinstance(block, ThinkingContent):
            if block.redacted:
                continue
            signature = valid_signature(block.thinking_signature) if own else None
            if not block.thinking.strip() and signature is None:
                continue
            part = {"thought": True, "text": block.thinking} if own else {"text": block.thinking}
        elif isinstance(block, ToolCall):
            call: dict[str, Any] = {"name": block.name, "args": block.arguments}
            if with_ids:
                call["id"] = block.id
            part = {"functionCall": call}
            signature = valid_signature(block.thought_signature) if own else None
            if signature is None and first_call and needs_first_call_signature:
                signature = SKIP_SIGNATURE
            first_call = False
        else:
            continue
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(
    message: ToolResultMessage, multimodal: bool, with_ids: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    text = "\n".join(block.text for block in message.content if isinstance(block, TextContent))
    images = [_inline(block) for block in message.content if isinstance(block, ImageContent)]
    value = text if text else (IMAGE_ONLY_RESULT_TEXT if images else "")
    response: dict[str, Any] = {
        "name": message.tool_name,
        "response": {"error": value} if message.is_error else {"output": value},
    }
    if with_ids:
        response["id"] = message.tool_call_id
    if images and multimodal:
        response["parts"] = images
        images = []
    return {"functionResponse": response}, images


# --------------------------------------------------------------------------- config and tools


def thinking_config(model: Model, options: GoogleOptions) -> dict[str, Any] | None:
    """``generationConfig.thinkingConfig``, or ``None`` (non-reasoning model, or nothing asked)."""
    if not model.reasoning:
        return None
    enabled, budget, level = options.thinking_enabled, options.thinking_budget, options.thinking_level
    if budget is None and level is None and not enabled:
        return None
    config: dict[str, Any] = {"includeThoughts": enabled if enabled is not None else budget != 0}
    if level is not None:
        config["thinkingLevel"] = level.upper()
    elif budget is not None:
        config["thinkingBudget"] = budget
    return config


def function_declarations(tools: Sequence[Tool], mode: ToolSchemaMode) -> list[dict[str, Any]]:
    """``tools[].functionDeclarations`` in the schema field ``mode`` asks for."""
    declarations = []
    for tool in tools:
        declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
        if mode == "json_schema":
            declaration["parametersJsonSchema"] = tool.parameters
        else:
            schema = openapi_schema(tool.parameters)
            if schema.get("properties"):
                declaration["parameters"] = schema
        declarations.append(declaration)
    return declarations


def tool_config(choice: ToolChoice, tools: Sequence[Tool]) -> dict[str, Any]:
    """``toolConfig.functionCallingConfig`` for a checked ``tool_choice``."""
    if isinstance(choice, str):
        return {"functionCallingConfig": {"mode": _MODES[choice]}}
    name = _named_tool(choice)
    if name not in {tool.name for tool in tools}:
        known = ", ".join(repr(tool.name) for tool in tools)
        raise ValueError(f"option tool_choice names the tool {name!r}, which is not in the context's tools ({known})")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def request_body(
    model: Model, shaped: ShapedRequest, options: StreamOptions, google: GoogleOptions
) -> dict[str, Any]:
    """The JSON body of ``streamGenerateContent`` for a shaped request."""
    context = shaped.context
    body: dict[str, Any] = {"contents": convert_messages(model, context.messages)}
    if context.system_prompt:
        body["systemInstruction"] = {"parts": [{"text": context.system_prompt}]}
    generation: dict[str, Any] = {}
    if shaped.values.temperature is not None:
        generation["temperature"] = shaped.values.temperature
    if options.max_tokens is not None:
        generation["maxOutputTokens"] = options.max_tokens
    thinking = thinking_config(model, google)
    if thinking is not None:
        generation["thinkingConfig"] = thinking
    if generation:
        body["generationConfig"] = generation
    if context.tools:
        body["tools"] = [{"functionDeclarations": function_declarations(context.tools, google.tool_schema)}]
        if shaped.values.tool_choice is not None:
            body["toolConfig"] = tool_config(shaped.values.tool_choice, context.tools)
    return body


# --------------------------------------------------------------------------- stream_simple


def map_simple(model: Model, options: StreamOptions) -> StreamOptions:
    """``reasoning`` / ``thinking_budgets`` as thinking options (pi-ai's mapping).

    No level: thinking is not asked for (no ``thinkingConfig``; models that think by
    default still do, without returning thoughts). Gemini 3 Pro: minimal and low ->
    ``LOW``, medium and high -> ``HIGH``; Gemini 3 Flash: the level itself; other
    reasoning models: a budget (2.5 Pro 128 / 2048 / 8192 / 32768, 2.5 Flash 128 /
    2048 / 8192 / 24576, otherwise dynamic), ``thinking_budgets`` winning. ``xhigh``
    counts as ``high``. Like every simple call, a missing ``max_tokens`` becomes the
    model's limit capped at 32000. Options given explicitly win over the mapping.
    """
    if options.max_tokens is None and model.max_tokens > 0:
        options = replace(options, max_tokens=min(model.max_tokens, SIMPLE_MAX_TOKENS))
    if not model.reasoning:
        return options
    mapped: dict[str, Any]
    if options.reasoning is None:
        mapped = {"thinking_enabled": False}
    else:
        effort = "high" if options.reasoning == "xhigh" else options.reasoning
        name = _model_name(model)
        if _GEMINI3_PRO.search(name):
            mapped = {"thinking_enabled": True, "thinking_level": "low" if effort in ("minimal", "low") else "high"}
        elif _GEMINI3_FLASH.search(name):
            mapped = {"thinking_enabled": True, "thinking_level": effort}
        else:
            mapped = {"thinking_enabled": True, "thinking_budget": _budget(name, effort, options.thinking_budgets)}
    return replace(options, provider_options={**mapped, **options.provider_options})


def _budget(name: str, effort: str, custom: Mapping[str, int] | None) -> int:
    if custom and effort in custom:
        return custom[effort]
    if "2.5-pro" in name:
        return _BUDGETS_25_PRO[effort]
    if "2.5-flash" in name:
        return _BUDGETS_25_FLASH[effort]
    return DYNAMIC_BUDGET
