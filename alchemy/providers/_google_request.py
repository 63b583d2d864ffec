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

* tools Google ran, from this API (the handoff drops or describes other APIs'):
  ``code_execution`` blocks go back as their ``executableCode`` and
  ``codeExecutionResult`` parts, and ``toolCall`` blocks as ``toolCall`` /
  ``toolResponse`` parts, verbatim and in order, with the parts' other fields
  (thought signatures under the same-model rule above). The ``google_search`` and
  ``url_context`` blocks were response metadata (``groundingMetadata``,
  ``urlContextMetadata``), not parts of the turn: nothing is sent for them, nor for
  citations. See :mod:`._google_server_tools`.

``server_tools`` become built-in tools next to the function declarations:
``WebSearch`` -> ``{"googleSearch": {}}`` (Vertex AI: ``excludeDomains`` from
``blocked_domains``), ``WebFetch`` -> ``{"urlContext": {}}``, ``CodeExecution`` ->
``{"codeExecution": {}}``. Refused at the call (:func:`check_server_tools`): any of
them for a model that is not Gemini, search and URL context before Gemini 2.0, and
built-in tools together with the context's tools before Gemini 3. With both on
Gemini 3 the Gemini API gets ``toolConfig.includeServerSideToolInvocations``.

``id`` fields on function calls and responses are sent only to the models served
through this API that require them (Claude and gpt-oss ids on Vertex); Gemini
pairs calls and responses by order and name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from ..model_facts import (
    budget_range,
    can_turn_off_thinking,
    effort_values,
    gemini_thinking,
    gemini_version,
    is_gemini,
    is_gemini3,
    uses_thinking_levels,
)
from ..options._kinds import fail_value
from ..strict_tools import wire_parameters
from ..server_tools import CodeExecution, ServerTool, WebFetch, WebSearch
from ..wire_apis import GOOGLE_GENERATIVE_AI
from ..structured import gemini_generation_fields
from ..types import (
    AssistantMessage,
    ImageContent,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._google_schema import ToolSchemaMode, openapi_schema, tool_schema_mode
from ._google_server_tools import replay_parts

if TYPE_CHECKING:
    from ..capabilities import ShapedRequest
    from ..options import StreamOptions
    from ..types import Message, Model, Tool

__all__ = [
    "DYNAMIC_BUDGET",
    "GEMINI_THINKING_LEVELS",
    "SKIP_SIGNATURE",
    "GoogleOptions",
    "check_google_request",
    "check_server_tools",
    "convert_messages",
    "function_declarations",
    "generation_config",
    "map_simple",
    "read_options",
    "request_body",
    "server_tool_declarations",
    "thinking_config",
    "thinking_level_option",
    "tool_config",
    "valid_signature",
]

SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
"""Google's documented placeholder signature for function calls the model did not write."""

SIMPLE_MAX_TOKENS: Final = 32000
TOOL_RESULT_IMAGE_TEXT: Final = "Tool result image:"
IMAGE_ONLY_RESULT_TEXT: Final = "(see attached image)"

GEMINI_THINKING_LEVELS: Final = ("minimal", "low", "medium", "high")
"""What option ``thinking_level`` takes (sent upper case); which of them a model takes is in :mod:`alchemy.model_facts`."""
DYNAMIC_BUDGET: Final = -1
"""``thinkingBudget: -1``: the model decides how much to think."""

_BASE64: Final = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_MODES: Final = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
"""``functionCallingConfig.mode`` of each canonical ``tool_choice`` word."""

_SAMPLING_FIELDS: Final = (
    ("stop", "stopSequences"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)
"""Canonical options copied as they are into ``generationConfig`` (option, field)."""


@dataclass(frozen=True, slots=True)
class GoogleOptions:
    """The Google-specific options of one call (checked at the call by :mod:`alchemy.options`).

    * ``thinking_enabled`` / ``thinking_budget`` / ``thinking_level``: the
      ``thinkingConfig`` of reasoning models. ``thinking_budget`` is a token budget
      (``-1`` dynamic, ``0`` off; Gemini 2.5), ``thinking_level`` one of ``minimal``,
      ``low``, ``medium``, ``high`` (Gemini 3); at most one of the two.
      ``includeThoughts`` follows ``thinking_enabled`` (default: on, unless the
      budget is 0). Nothing is sent when none is given, nor to a model without
      reasoning (``model.reasoning`` false), as in pi-ai.
    * ``tool_schema``: ``"json_schema"`` (``parametersJsonSchema``) or ``"openapi"``
      (the older ``parameters`` subset), resolved with the model's compat flag; see
      :mod:`._google_schema`.
    """

    thinking_enabled: bool | None = None
    thinking_budget: int | None = None
    thinking_level: str | None = None
    tool_schema: ToolSchemaMode = "json_schema"


def read_options(model: Model, options: StreamOptions) -> GoogleOptions:
    """The Google options of a call (already checked), with the tool-schema mode resolved."""
    own = options.provider_options
    return GoogleOptions(
        thinking_enabled=own.get("thinking_enabled"),
        thinking_budget=own.get("thinking_budget"),
        thinking_level=own.get("thinking_level"),
        tool_schema=tool_schema_mode(model, own.get("tool_schema")),
    )


def check_google_request(model: Model, options: StreamOptions, tools: Sequence[Tool] = ()) -> None:
    """What the option table cannot check alone: options together, the model's compat flag,
    and which built-in tools the model takes (with the context's ``tools``).

    Runs at the call (``check_request``), so none of these becomes a late error event.
    """
    if options.server_tools:
        check_server_tools(model, options.server_tools, tools)
    own = options.provider_options
    if own.get("thinking_level") is not None and own.get("thinking_budget") is not None:
        raise ValueError("options thinking_level and thinking_budget cannot be combined; give one of them")
    if options.logprobs is False and options.top_logprobs is not None:
        raise ValueError(
            f"option top_logprobs={options.top_logprobs} asks for log-probabilities, which logprobs=False turns off"
        )
    _check_thinking_options(model, own.get("thinking_level"), own.get("thinking_budget"))
    tool_schema_mode(model, own.get("tool_schema"))  # a bad compat['tool_schema'] of the model raises here


# --------------------------------------------------------------------------- model families


def _model_name(model: Model) -> str:
    """The model's own name, without a publisher prefix (``openai/gpt-oss-120b-maas``)."""
    return model.id.rsplit("/", 1)[-1].lower()


def check_server_tools(model: Model, server_tools: Sequence[ServerTool], tools: Sequence[Tool]) -> None:
    """``ValueError`` for built-in tools ``model`` cannot use (which API offers which tool and
    setting is checked by the option table).

    Google's built-in tools are for Gemini models (not the partner models Vertex AI
    serves through this API). Gemini 1.x grounds with ``googleSearchRetrieval`` and has
    no URL context, so ``WebSearch`` and ``WebFetch`` need Gemini 2.0 or later. Only
    Gemini 3 and later combine built-in tools with function declarations in one
    ``generateContent`` request.
    """
    if not is_gemini(model):
        raise ValueError(
            f"option server_tools: model {model.key} is not a Gemini model; Google's built-in tools "
            "(Google Search, URL context, code execution) are for Gemini models"
        )
    version = gemini_version(model)
    for i, tool in enumerate(server_tools):
        if isinstance(tool, (WebSearch, WebFetch)) and version is not None and version < (2, 0):
            what = "Google Search (googleSearch)" if isinstance(tool, WebSearch) else "URL context (urlContext)"
            raise ValueError(
                f"option server_tools[{i}]: {type(tool).__name__} needs Gemini 2.0 or later for {what}; "
                f"model {model.key} cannot use it"
            )
    if tools and not is_gemini3(model):
        raise ValueError(
            f"option server_tools cannot be combined with the context's tools (function declarations) on "
            f"model {model.key}: only Gemini 3 and later combine built-in tools with function calling; "
            "drop one of the two or use a Gemini 3 model"
        )


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
        elif isinstance(block, ServerToolCall):
            parts.extend(replay_parts(block, own, valid_signature))
            continue
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
        parameters = wire_parameters(tool, GOOGLE_GENERATIVE_AI.name)
        if mode == "json_schema":
            declaration["parametersJsonSchema"] = parameters
        else:
            schema = openapi_schema(parameters)
            if schema.get("properties"):
                declaration["parameters"] = schema
        declarations.append(declaration)
    return declarations


def tool_config(choice: str | Mapping[str, Any] | None, *, strict: bool = False) -> dict[str, Any]:
    """``toolConfig.functionCallingConfig`` for a canonical ``tool_choice`` (:data:`alchemy.options.ToolChoice`).

    A named tool was checked against the context's tools at the call. With strict
    tools (:mod:`alchemy.strict_tools`) the automatic mode is ``VALIDATED``: calls are
    constrained to the schemas (``ANY`` already is).
    """
    if isinstance(choice, Mapping):
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice["name"]]}}
    if strict and choice in (None, "auto"):
        return {"functionCallingConfig": {"mode": "VALIDATED"}}
    return {"functionCallingConfig": {"mode": _MODES[choice or "auto"]}}


def generation_config(
    model: Model, shaped: ShapedRequest, options: StreamOptions, google: GoogleOptions
) -> dict[str, Any]:
    """``generationConfig``: sampling, limits, log-probabilities, thinking and structured output
    (``responseMimeType`` + ``responseJsonSchema``; ``responseSchema`` where tool schemas go out as OpenAPI);
    empty when nothing is asked."""
    config: dict[str, Any] = {}
    if shaped.values.temperature is not None:
        config["temperature"] = shaped.values.temperature
    if options.max_tokens is not None:
        config["maxOutputTokens"] = options.max_tokens
    for name, field in _SAMPLING_FIELDS:
        value = getattr(options, name)
        if value is not None:
            config[field] = value
    if options.logprobs or options.top_logprobs is not None:  # top_logprobs implies logprobs
        config["responseLogprobs"] = True
        if options.top_logprobs:  # 0 asks for the chosen tokens only, which is what no count gives
            config["logprobs"] = options.top_logprobs
    thinking = thinking_config(model, google)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    if options.output is not None and options.output.native:
        config.update(gemini_generation_fields(options.output, openapi=google.tool_schema == "openapi"))
    return config


def request_body(
    model: Model, shaped: ShapedRequest, options: StreamOptions, google: GoogleOptions
) -> dict[str, Any]:
    """The JSON body of ``streamGenerateContent`` for a shaped request (``extra_body`` not merged yet)."""
    context = shaped.context
    body: dict[str, Any] = {"contents": convert_messages(model, context.messages)}
    if context.system_prompt:
        body["systemInstruction"] = {"parts": [{"text": context.system_prompt}]}
    generation = generation_config(model, shaped, options, google)
    if generation:
        body["generationConfig"] = generation
    tools: list[dict[str, Any]] = []
    if context.tools:
        tools.append({"functionDeclarations": function_declarations(context.tools, google.tool_schema)})
        strict = any(tool.strict for tool in context.tools)
        if shaped.values.tool_choice is not None or strict:
            body["toolConfig"] = tool_config(shaped.values.tool_choice, strict=strict)
    server_tools = options.server_tools or ()
    tools.extend(server_tool_declarations(server_tools))
    if tools:
        body["tools"] = tools
    if context.tools and server_tools and model.api == GOOGLE_GENERATIVE_AI.name:
        # Gemini 3 combines built-in tools with functions when asked to show their calls
        # (toolCall / toolResponse parts, replayed with the turn); Vertex AI takes no such flag.
        body.setdefault("toolConfig", {})["includeServerSideToolInvocations"] = True
    return body


def server_tool_declarations(tools: Sequence[ServerTool]) -> list[dict[str, Any]]:
    """Gemini's built-in tools for ``server_tools`` (checked at the call): ``WebSearch`` ->
    ``googleSearch`` (``excludeDomains`` from ``blocked_domains``, Vertex AI only), ``WebFetch``
    -> ``urlContext``, ``CodeExecution`` -> ``codeExecution``."""
    declarations: list[dict[str, Any]] = []
    for tool in tools:
        if isinstance(tool, WebSearch):
            search: dict[str, Any] = {}
            if tool.blocked_domains:
                search["excludeDomains"] = list(tool.blocked_domains)
            declarations.append({"googleSearch": search})
        elif isinstance(tool, WebFetch):
            declarations.append({"urlContext": {}})
        elif isinstance(tool, CodeExecution):
            declarations.append({"codeExecution": {}})
        else:  # the option check refused it already
            raise ValueError(f"option server_tools: {type(tool).__name__} is not a Gemini built-in tool")
    return declarations


# --------------------------------------------------------------------------- stream_simple


def map_simple(model: Model, options: StreamOptions) -> StreamOptions:
    """``reasoning`` (with ``thinking_budgets``) as thinking options, per :func:`alchemy.model_facts.gemini_thinking`.

    Runs at the call. A level becomes ``thinking_level`` (Gemini 3) or
    ``thinking_budget`` (Gemini 2.5 and others), with ``thinking_enabled`` (whether
    thoughts come back) false only for ``off``: Gemini 2.5 Flash and Flash-Lite get
    budget 0, Gemini 3 its lowest level, and a model that cannot stop thinking (2.5
    Pro) raises ``ValueError`` here. No level asks for nothing (no ``thinkingConfig``:
    models that think by default still do, without returning thoughts). An explicit
    ``thinking_level`` or ``thinking_budget`` wins over the level (which then maps
    nothing), and an explicit ``thinking_enabled`` over the mapped one. A missing
    ``max_tokens`` becomes the model's limit capped at 32000, as on every simple call.
    """
    if options.max_tokens is None and model.max_tokens > 0:
        options = replace(options, max_tokens=min(model.max_tokens, SIMPLE_MAX_TOKENS))
    if not model.reasoning:
        return options
    own = options.provider_options
    if own.get("thinking_level") is not None or own.get("thinking_budget") is not None:
        return options
    mapped: dict[str, Any] = {"thinking_enabled": False}
    thinking = None if options.reasoning is None else gemini_thinking(model, options.reasoning, options.thinking_budgets)
    if thinking is not None:
        mapped = {"thinking_enabled": thinking.include_thoughts}
        if thinking.thinking_level is not None:
            mapped["thinking_level"] = thinking.thinking_level.lower()
        else:
            mapped["thinking_budget"] = thinking.thinking_budget
    return replace(options, provider_options={**mapped, **own})


# --------------------------------------------------------------------------- option checks


def thinking_level_option(name: str, value: object) -> str:
    """The option kind of ``thinking_level``: a level in any case (``"HIGH"``, as Google writes it), in lower case."""
    if isinstance(value, str) and value.lower() in GEMINI_THINKING_LEVELS:
        return value.lower()
    raise fail_value(name, f"one of {', '.join(map(repr, GEMINI_THINKING_LEVELS))} (any case)", value)


def _check_thinking_options(model: Model, level: str | None, budget: int | None) -> None:
    """An explicit ``thinking_level`` / ``thinking_budget`` the Gemini model cannot take raises."""
    if not (model.reasoning and is_gemini(model)):
        return
    if level is not None:
        if not uses_thinking_levels(model):
            raise ValueError(f"option thinking_level is for Gemini 3 models; model {model.key} takes thinking_budget")
        levels = effort_values(model)
        if levels and level not in levels:
            raise fail_value("thinking_level", f"one of {', '.join(map(repr, levels))} for model {model.key}", level)
    if budget is None or budget == DYNAMIC_BUDGET or uses_thinking_levels(model):
        return
    if budget == 0:
        if not can_turn_off_thinking(model):
            raise ValueError(
                f"option thinking_budget=0 turns thinking off, which model {model.key} cannot do; "
                "give a budget, or -1 to let the model decide"
            )
        return
    limits = budget_range(model)
    if limits is None:
        return
    low, high = limits.minimum, limits.maximum
    if (low is not None and budget < low) or (high is not None and budget > high):
        tokens = f"{low or 0} to {high}" if high is not None else f"at least {low}"
        off = ", 0 (off)" if can_turn_off_thinking(model) else ""
        raise fail_value("thinking_budget", f"-1 (dynamic){off} or {tokens} tokens for model {model.key}", budget)
