"""The ``openai-completions`` provider: OpenAI Chat Completions and every compatible server.

OpenAI, Groq, Cerebras, xAI, OpenRouter, DeepSeek, Together, Fireworks, DeepInfra,
z.ai, Moonshot, Alibaba, Ollama, vLLM, LM Studio, llama.cpp and many more speak this
wire API, each with quirks described by ``model.compat``
(:mod:`alchemy.providers.openai_compat`). The request is ``POST {base}/chat/completions``
with ``stream: true``; the response is parsed by
:class:`~alchemy.providers.openai_completions_stream.CompletionsStreamParser`.

Request building, in order:

* the conversation is shaped first (handoff from other models, capability
  transforms, surrogate removal);
* the system prompt goes first, as ``developer`` for reasoning models on servers that
  take it, else ``system``;
* user turns: a string, or ``text`` and ``image_url`` (base64 data URL) parts;
* assistant turns: the text blocks joined into one string (arrays make some servers
  echo their structure; their citations stay on the message but are not sent: Chat
  Completions takes no annotations back), tool calls with JSON arguments; earlier reasoning of the same
  model is replayed where the model says it wants it back (``model.interleaved``:
  ``"reasoning_content"`` and the like name the field, ``True`` replays it in the
  field it arrived in, ``"reasoning_details"`` sends OpenRouter's array), and
  OpenRouter ``reasoning_details`` received with the turn always go back (the
  ``deepseek`` format always sends the model's reasoning back as ``reasoning_content``,
  empty on a tool-call turn that had none); with
  ``requires_thinking_as_text`` it becomes plain text instead. Turns with no text and
  no tool calls are left out;
* tool results become ``tool`` messages (text joined with newlines); their images,
  which ``tool`` messages cannot carry, follow in one user message;
* ``stream_options.include_usage``, ``store: false``, the max-tokens field, tools
  with ``strict: false``, ``tool_choice``, reasoning in the server's thinking format
  (the ``reasoning`` level mapped through :mod:`alchemy.model_facts`; see
  :mod:`~alchemy.providers.openai_compat` for the formats), OpenRouter / Vercel
  routing and OpenRouter's Anthropic cache control, per compat;
* web search (``server_tools=[WebSearch(...)]``), where the host offers it: OpenAI's
  search models (``gpt-5-search-api``, ``gpt-4o-search-preview``,
  ``gpt-4o-mini-search-preview`` and their dated snapshots) take ``web_search_options``
  (``context_size`` -> ``search_context_size``; ``user_location`` -> ``{type:
  "approximate", approximate: {city, region, country, timezone}}``); OpenRouter takes
  its web plugin, ``plugins: [{id: "web"}]`` (``allowed_domains`` -> ``include_domains``,
  ``blocked_domains`` -> ``exclude_domains``). Every other host and model refuses it at
  the call, as it does a setting its host does not carry. The results come back only as
  citations (:mod:`~alchemy.providers.openai_completions_stream`);
* ``extra_body`` deep-merged last.

Options (checked at the call, :mod:`alchemy.options`): the canonical ``stop``,
``top_p``, ``top_k`` (not on OpenAI's own API, which has none), ``seed``,
``frequency_penalty``, ``presence_penalty``, ``logprobs`` / ``top_logprobs`` (returned
as ``message.logprobs``), ``parallel_tool_calls``, ``tool_choice``, ``user`` and
``metadata`` (string values; OpenAI takes it only for stored completions, so it is
refused there unless ``extra_body`` sets ``store: true``) go under their own names;
this API's own are ``reasoning_effort`` (sent as given, wins over ``reasoning``),
``service_tier``, ``prompt_cache_key`` and ``compat`` (flags for this call).
Structured output (``response_format`` / ``output_schema``, :mod:`alchemy.structured`)
goes out as ``response_format`` (``json_object``, or ``json_schema`` with ``strict``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import urlsplit

import orjson

from ..errors import ErrorKind
from ..model_facts import (
    claude_thinking,
    clamp_thinking_level,
    is_claude,
    openai_reasoning_effort,
    refuse_openai_sampling,
    supports_xhigh,
    thinking_budget_for,
    uses_adaptive_thinking,
)
from ..request import HttpRequest
from ..server_tools import ServerTool, WebSearch
from ..strict_tools import wire_parameters
from ..structured import openai_response_format
from ..wire_apis import OPENAI_COMPLETIONS
from ..types import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from .base import HttpProvider, is_loopback_url, resolve_cache_retention
from .openai_compat import CompletionsCompat, is_openai_host, resolve_compat
from .openai_completions_stream import OPENAI_ERROR_KINDS, REASONING_FIELDS, CompletionsStreamParser

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..options import StreamOptions

__all__ = [
    "ATTACHED_IMAGES_TEXT",
    "IMAGE_ONLY_RESULT_TEXT",
    "TOOL_RESULTS_BRIDGE_TEXT",
    "OpenAICompletionsProvider",
    "convert_messages",
    "convert_tools",
    "provider",
]

ATTACHED_IMAGES_TEXT: Final = "Attached image(s) from tool result:"
"""Opens the user message that carries the images of tool results."""
IMAGE_ONLY_RESULT_TEXT: Final = "(see attached image)"
"""The text of a ``tool`` message whose result was only images."""
TOOL_RESULTS_BRIDGE_TEXT: Final = "I have processed the tool results."
"""The assistant turn put between tool results and a user turn (``requires_assistant_after_tool_result``)."""

_FIELD_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz_")
_SAMPLING_FIELDS: Final = ("top_p", "top_k", "frequency_penalty", "presence_penalty", "seed", "stop")
"""Canonical options sent under their own name (``top_k`` never reaches OpenAI: a model check refuses it)."""
_SWITCH_FORMATS: Final = frozenset({"zai", "qwen", "chat-template"})
"""Thinking formats that only switch thinking on or off (no effort word)."""


# --------------------------------------------------------------------------- options


def _wire_tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    """The canonical ``tool_choice`` (after shaping) as Chat Completions spells it."""
    if isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _is_openai(model: Model) -> bool:
    """OpenAI's own API (or Azure OpenAI): ``store``, ``prompt_cache_key`` and no ``top_k``."""
    return model.provider == "openai" or is_openai_host(model.base_url)


def _keeps_store_false(options: StreamOptions) -> bool:
    """Whether the request keeps alchemy's ``store: false`` (``extra_body`` may ask OpenAI to store it)."""
    return not (options.extra_body and options.extra_body.get("store") is True)


# --------------------------------------------------------------------------- web search

OPENAI_SEARCH_MODELS: Final = ("gpt-5-search-api", "gpt-4o-search-preview", "gpt-4o-mini-search-preview")
"""OpenAI's Chat Completions models that search the web (dated snapshots share the prefix)."""
_WEB_SEARCH_HOSTS: Final = (
    f"OpenAI's search models ({', '.join(OPENAI_SEARCH_MODELS)}) and OpenRouter's web plugin; "
    "the openai-responses, anthropic-messages and Google APIs offer it too"
)
_SEARCH_SETTINGS: Final[Mapping[str, tuple[str, ...]]] = {
    "openai": ("context_size", "user_location"),
    "openrouter": ("allowed_domains", "blocked_domains"),
}
"""The WebSearch settings each Chat Completions host carries (the rest are refused at the call)."""
_SEARCH_HOST_NAMES: Final = {"openai": "OpenAI's web_search_options", "openrouter": "OpenRouter's web plugin"}


def _is_openai_search_model(model: Model) -> bool:
    return _is_openai(model) and model.id.startswith(OPENAI_SEARCH_MODELS)


def _is_openrouter(model: Model) -> bool:
    return model.provider == "openrouter" or _on(_host(model.base_url), "openrouter.ai")


def _search_host(model: Model) -> str | None:
    """Which way this model searches the web on Chat Completions: ``"openai"``, ``"openrouter"`` or ``None``."""
    if _is_openai_search_model(model):
        return "openai"
    if _is_openrouter(model):
        return "openrouter"
    return None


def _check_server_tools(model: Model, tools: Sequence[ServerTool]) -> None:
    """Refuses a server tool, or a WebSearch setting, that this host and model cannot carry."""
    host = _search_host(model)
    for i, tool in enumerate(tools):
        if not isinstance(tool, WebSearch):
            raise ValueError(
                f"option server_tools[{i}]: {type(tool).__name__} is not offered on Chat Completions; "
                "only WebSearch is, where the host offers it"
            )
        if host is None:
            raise ValueError(
                f"option server_tools[{i}]: WebSearch is not offered by {_provider_label(model)} on Chat "
                f"Completions (model {model.key}); on this API it is offered by {_WEB_SEARCH_HOSTS}"
            )
        carried = _SEARCH_SETTINGS[host]
        for setting in tool.given():
            if setting not in carried:
                takers = [name for key, name in _SEARCH_HOST_NAMES.items() if setting in _SEARCH_SETTINGS[key]]
                raise ValueError(
                    f"option server_tools[{i}]: WebSearch({setting}=...) is not carried by "
                    f"{_SEARCH_HOST_NAMES[host]} (model {model.key}); "
                    f"on Chat Completions it is by {' and '.join(takers) or 'no host'}"
                )


def _web_search_fields(host: str, search: WebSearch) -> dict[str, Any]:
    """The body fields that switch web search on (the settings were checked at the call)."""
    if host == "openai":
        options: dict[str, Any] = {}
        if search.context_size is not None:
            options["search_context_size"] = search.context_size
        if search.user_location is not None:
            place = search.user_location.to_wire()
            del place["type"]
            options["user_location"] = {"type": "approximate", "approximate": place}
        return {"web_search_options": options}
    plugin: dict[str, Any] = {"id": "web"}
    if search.allowed_domains:
        plugin["include_domains"] = list(search.allowed_domains)
    if search.blocked_domains:
        plugin["exclude_domains"] = list(search.blocked_domains)
    return {"plugins": [plugin]}


# --------------------------------------------------------------------------- reasoning


@dataclass(frozen=True, slots=True)
class _Thinking:
    """What one call asks of the model's thinking, before a thinking format spells it.

    ``on`` is ``None`` when neither ``reasoning`` nor ``reasoning_effort`` was given;
    ``effort`` is the effort word to send (``None``: the format sends none); ``level``
    the ``reasoning`` level asked (for budgets), ``None`` for an explicit effort.
    """

    on: bool | None
    effort: str | None = None
    level: str | None = None
    verbosity: str | None = None


def _gateway_effort(model: Model, level: str) -> tuple[str, str | None]:
    """OpenRouter's effort word for a clamped level, and its ``verbosity`` where one is needed.

    Its effort scale tops out at ``xhigh``. On Claude's adaptive models OpenRouter passes
    the effort on as Claude's own, so the level maps as it does on Anthropic; Claude's
    ``max`` effort is reached with ``verbosity: "max"`` (OpenRouter's Claude 4.6 guide).
    """
    if level == "off":
        return "none", None
    if is_claude(model) and uses_adaptive_thinking(model):
        effort = claude_thinking(model, level).effort or "high"
        return ("high", "max") if effort == "max" else (effort, None)
    if level == "max":
        return ("xhigh" if supports_xhigh(model) else "high"), None
    return level, None


def _wanted_thinking(model: Model, options: StreamOptions, style: str) -> _Thinking:
    """The call's thinking for ``model``; raises ``ValueError`` for a level the model cannot honour."""
    explicit = options.provider_options.get("reasoning_effort")
    if explicit is not None:
        return _Thinking(on=explicit != "none", effort=explicit)
    level = options.reasoning
    if level is None:
        return _Thinking(on=None)
    clamped = clamp_thinking_level(model, level)
    verbosity = None
    if style == "openai":
        effort = openai_reasoning_effort(model, clamped)
    elif style == "openrouter":
        effort, verbosity = _gateway_effort(model, clamped)
    else:
        effort = None if clamped == "off" else clamped
    return _Thinking(on=clamped != "off", effort=effort, level=level, verbosity=verbosity)


def _caller_budget(options: StreamOptions, level: str | None) -> int | None:
    """The ``thinking_budgets`` entry of the level asked, if the caller gave one."""
    budgets = options.thinking_budgets
    return budgets.get(level) if budgets and level is not None else None


def _reasoning_fields(model: Model, options: StreamOptions, compat: CompletionsCompat) -> dict[str, Any]:
    """The body fields that carry the call's reasoning in the server's thinking format.

    Non-reasoning models get none. No level and no effort leave the server's default,
    except for the switch formats (z.ai, Qwen, chat templates), which are turned off.
    """
    if not model.reasoning:
        return {}
    style = compat.thinking_format
    wanted = _wanted_thinking(model, options, style)
    effort = wanted.effort
    if effort is not None:
        effort = compat.reasoning_effort_map.get(effort, effort)
    on = wanted.on
    if style in _SWITCH_FORMATS:
        enabled = bool(on)
        budget = _caller_budget(options, wanted.level) if enabled else None
        if style == "zai":
            return {"thinking": {"type": "enabled" if enabled else "disabled"}}
        switch: dict[str, Any] = {"enable_thinking": enabled}
        if budget:
            switch["thinking_budget"] = budget
        return switch if style == "qwen" else {"chat_template_kwargs": switch}
    if on is None:
        return {}
    if style == "deepseek":
        fields: dict[str, Any] = {"thinking": {"type": "enabled" if on else "disabled"}}
        if on and effort is not None and compat.supports_reasoning_effort:
            fields["reasoning_effort"] = effort
        return fields
    if style == "openrouter":
        gateway: dict[str, Any] = {"reasoning": _gateway_reasoning(options, compat, wanted, effort)}
        if wanted.verbosity is not None and "effort" in gateway["reasoning"]:
            gateway["verbosity"] = wanted.verbosity
        if wanted.level == "off" and wanted.on:
            # "off" on a model that always thinks (Gemini 3): its lowest level, with the thinking hidden.
            gateway["reasoning"]["exclude"] = True
        return gateway
    if effort is not None and compat.supports_reasoning_effort:
        return {"reasoning_effort": effort}
    return {}


def _gateway_reasoning(
    options: StreamOptions, compat: CompletionsCompat, wanted: _Thinking, effort: str | None
) -> dict[str, Any]:
    """OpenRouter's ``reasoning`` object: an effort, or a token budget where only budgets work."""
    level = wanted.level
    budget = _caller_budget(options, level)
    if compat.reasoning_budget_only and level is not None:
        if not wanted.on:
            return {"enabled": False}
        budget = budget or thinking_budget_for(level, options.thinking_budgets)
    if budget and wanted.on:
        return {"max_tokens": budget}
    return {"effort": effort}


# --------------------------------------------------------------------------- messages


def _image_part(image: ImageContent) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:{image.mime_type};base64,{image.data}"}}


def _user_message(message: UserMessage) -> dict[str, Any] | None:
    if isinstance(message.content, str):
        return {"role": "user", "content": message.content}
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageContent):
            parts.append(_image_part(block))
    return {"role": "user", "content": parts} if parts else None


def _is_field_name(signature: str | None) -> bool:
    """Whether a thinking signature names the delta field it came in (``reasoning_content``)."""
    return signature is not None and signature != "" and all(c in _FIELD_NAME_CHARS for c in signature)


def _reasoning_details(thinking: list[ThinkingContent], calls: list[ToolCall]) -> list[Any]:
    """OpenRouter's ``reasoning_details`` kept with an assistant turn, in their order."""
    details: list[Any] = []
    seen: set[str] = set()
    for block in thinking:
        signature = block.thinking_signature
        if signature and signature.startswith("["):
            try:
                items = orjson.loads(signature)
            except orjson.JSONDecodeError:
                continue
            if isinstance(items, list):
                details.extend(items)
                seen.update(item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str))
    for call in calls:
        signature = call.thought_signature
        if not signature or not signature.startswith("{"):
            continue
        try:
            item = orjson.loads(signature)
        except orjson.JSONDecodeError:
            continue
        if isinstance(item, dict) and str(item.get("type", "")).startswith("reasoning.") and item.get("id") not in seen:
            details.append(item)
    return details


def _replay_reasoning(
    out: dict[str, Any],
    model: Model,
    compat: CompletionsCompat,
    thinking: list[ThinkingContent],
    calls: list[ToolCall],
) -> None:
    """Writes earlier reasoning of this model into the assistant message, where it is wanted back.

    The handoff already dropped (or turned into text) the reasoning of other models,
    so every thinking block here is this model's own.
    """
    details = _reasoning_details(thinking, calls)
    if details:
        out["reasoning_details"] = details
        return
    text = "\n".join(block.thinking for block in thinking if block.thinking)
    if compat.thinking_format == "deepseek":
        if text or calls:
            out["reasoning_content"] = text  # DeepSeek rejects a tool-call turn of thinking mode without it
        return
    if not text:
        return
    interleaved = model.interleaved
    if interleaved == "reasoning_details":
        out["reasoning_details"] = [{"type": "reasoning.text", "text": text, "index": 0}]
    elif isinstance(interleaved, str) and interleaved:
        out[interleaved] = text
    elif interleaved is True:
        signature = next((b.thinking_signature for b in thinking if _is_field_name(b.thinking_signature)), None)
        out[signature or REASONING_FIELDS[0]] = text


def _assistant_message(message: AssistantMessage, model: Model, compat: CompletionsCompat) -> dict[str, Any] | None:
    text_parts: list[str] = []
    thinking: list[ThinkingContent] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if isinstance(block, TextContent):
            text_parts.append(block.text)
        elif isinstance(block, ThinkingContent):
            thinking.append(block)
        elif isinstance(block, ToolCall):
            calls.append(block)
    text = "".join(text_parts)
    out: dict[str, Any] = {"role": "assistant", "content": None}
    if compat.requires_thinking_as_text:
        reasoning = "\n\n".join(block.thinking for block in thinking if block.thinking.strip())
        if reasoning:
            text = f"{reasoning}\n\n{text}" if text else reasoning
    elif thinking or calls:
        _replay_reasoning(out, model, compat, thinking, calls)
    if text:
        out["content"] = text
    elif compat.requires_assistant_after_tool_result:
        out["content"] = ""  # Mistral-like servers reject a null content
    if calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()},
            }
            for call in calls
        ]
    elif not text:
        return None  # neither text nor tool calls: every server rejects it
    return out


def _tool_message(message: ToolResultMessage, compat: CompletionsCompat) -> tuple[dict[str, Any], list[ImageContent]]:
    texts = [block.text for block in message.content if isinstance(block, TextContent)]
    images = [block for block in message.content if isinstance(block, ImageContent)]
    content = "\n".join(texts)
    if not content and images:
        content = IMAGE_ONLY_RESULT_TEXT
    out: dict[str, Any] = {"role": "tool", "tool_call_id": message.tool_call_id, "content": content}
    if compat.requires_tool_result_name:
        out["name"] = message.tool_name
    return out, images


def convert_messages(model: Model, context: Context, compat: CompletionsCompat) -> list[dict[str, Any]]:
    """The ``messages`` array for a shaped ``context`` (see the module docstring)."""
    out: list[dict[str, Any]] = []
    if context.system_prompt:
        role = "developer" if model.reasoning and compat.supports_developer_role else "system"
        out.append({"role": role, "content": context.system_prompt})
    bridge = compat.requires_assistant_after_tool_result
    after_tool_results = False
    images: list[ImageContent] = []

    def close_tool_results() -> None:
        nonlocal after_tool_results
        if images:
            if bridge:
                out.append({"role": "assistant", "content": TOOL_RESULTS_BRIDGE_TEXT})
            out.append(
                {"role": "user", "content": [{"type": "text", "text": ATTACHED_IMAGES_TEXT}, *map(_image_part, images)]}
            )
            images.clear()
            after_tool_results = False

    for message in context.messages:
        if isinstance(message, ToolResultMessage):
            tool, result_images = _tool_message(message, compat)
            out.append(tool)
            images.extend(result_images)
            after_tool_results = True
            continue
        close_tool_results()
        if isinstance(message, UserMessage):
            converted = _user_message(message)
            if converted is None:
                continue
            if bridge and after_tool_results:
                out.append({"role": "assistant", "content": TOOL_RESULTS_BRIDGE_TEXT})
            out.append(converted)
        else:
            converted = _assistant_message(message, model, compat)
            if converted is None:
                continue
            out.append(converted)
        after_tool_results = False
    close_tool_results()
    return out


def convert_tools(tools: Sequence[Tool], compat: CompletionsCompat) -> list[dict[str, Any]]:
    """Function tool definitions with ``strict`` where the server takes it (strict tools: :mod:`alchemy.strict_tools`)."""
    converted = []
    for tool in tools:
        parameters = wire_parameters(tool, OPENAI_COMPLETIONS.name)
        function: dict[str, Any] = {"name": tool.name, "description": tool.description, "parameters": parameters}
        if compat.supports_strict_mode:
            function["strict"] = tool.strict
        converted.append({"type": "function", "function": function})
    return converted


def _has_tool_history(context: Context) -> bool:
    for message in context.messages:
        if isinstance(message, ToolResultMessage):
            return True
        if isinstance(message, AssistantMessage) and any(isinstance(b, ToolCall) for b in message.content):
            return True
    return False


def _add_cache_control(messages: list[dict[str, Any]], marker: dict[str, Any]) -> None:
    """Marks the system prompt and the last text of the last user/assistant turn as cacheable."""

    def mark(message: dict[str, Any]) -> bool:
        content = message.get("content")
        if isinstance(content, str) and content:
            message["content"] = [{"type": "text", "text": content, "cache_control": dict(marker)}]
            return True
        if isinstance(content, list):
            for part in reversed(content):
                if isinstance(part, dict) and part.get("type") == "text":
                    part["cache_control"] = dict(marker)
                    return True
        return False

    if messages and messages[0]["role"] in ("system", "developer"):
        mark(messages[0])
    for message in reversed(messages):
        if message["role"] in ("user", "assistant") and mark(message):
            return


# --------------------------------------------------------------------------- helpers


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _any_image(context: Context) -> bool:
    for message in context.messages:
        if isinstance(message, (UserMessage, ToolResultMessage)) and not isinstance(message.content, str):
            if any(isinstance(block, ImageContent) for block in message.content):
                return True
    return False


def _provider_label(model: Model) -> str:
    from ..models._registry import registry

    info = registry().provider_info(model.provider)
    return info.name if info is not None else model.provider or "the server"


# --------------------------------------------------------------------------- the provider


class OpenAICompletionsProvider(HttpProvider):
    """Chat Completions over HTTP + SSE, for OpenAI and the compatible servers."""

    api: ClassVar[str] = OPENAI_COMPLETIONS.name
    label: ClassVar[str] = OPENAI_COMPLETIONS.label
    error_kinds: ClassVar[Mapping[str, ErrorKind]] = OPENAI_ERROR_KINDS
    # -- checks at the call -------------------------------------------------------------

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """Checks the ``reasoning`` level against the model at the call; the request maps it per thinking format.

        An explicit ``reasoning_effort`` wins and is sent as given. A level the model
        cannot honour (``off`` on a model that always reasons) raises ``ValueError``;
        models without reasoning ignore the level.
        """
        if options.reasoning is not None and model.reasoning and "reasoning_effort" not in options.provider_options:
            clamp_thinking_level(model, options.reasoning)
        return options

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        """Refuses what OpenAI would reject for the combination of options given.

        ``metadata`` goes to OpenAI's own API only with a stored completion (it rejects
        it with ``store: false``, which alchemy sends unless ``extra_body`` sets
        ``store: true``); ``logprobs=False`` contradicts ``top_logprobs``; a reasoning model takes no sampling
        options on OpenAI (:func:`alchemy.model_facts.refuse_openai_sampling`); ``server_tools``
        takes WebSearch only on OpenAI's search models and OpenRouter, with the settings
        that host carries.
        """
        if options.metadata and _is_openai(model) and _keeps_store_false(options):
            raise ValueError(
                f"option metadata cannot be sent to OpenAI's Chat Completions (model {model.key}) without storing "
                "the completion: OpenAI takes metadata only with store: true, and alchemy sends store: false; "
                "pass extra_body={'store': True} to store it, or leave metadata out"
            )
        if options.logprobs is False and options.top_logprobs is not None:
            raise ValueError("option top_logprobs needs logprobs: drop logprobs=False (top_logprobs implies it)")
        if _is_openai(model):
            refuse_openai_sampling(model, options)
        if options.server_tools:
            _check_server_tools(model, options.server_tools)

    # -- the request --------------------------------------------------------------------

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        own = options.provider_options
        shaped = self.shape(model, context, options)
        compat = resolve_compat(model, overrides=own.get("compat"))
        base_url = self.base_url(model)
        shaped_context = shaped.context
        values = shaped.values
        host = _host(model.base_url)
        openai = _is_openai(model)
        retention = resolve_cache_retention(options)

        messages = convert_messages(model, shaped_context, compat)
        if _on(host, "openrouter.ai") and model.id.startswith("anthropic/") and retention != "none":
            marker: dict[str, Any] = {"type": "ephemeral"}
            if retention == "long":
                marker["ttl"] = "1h"
            _add_cache_control(messages, marker)

        body: dict[str, Any] = {"model": model.id, "messages": messages, "stream": True}
        if compat.supports_usage_in_streaming:
            body["stream_options"] = {"include_usage": True}
        if compat.supports_store:
            body["store"] = False
        if options.max_tokens is not None:
            body[compat.max_tokens_field] = options.max_tokens
        if values.temperature is not None:
            body["temperature"] = values.temperature
        for name in _SAMPLING_FIELDS:
            value = getattr(options, name)
            if value is not None:
                body[name] = value
        if options.logprobs or options.top_logprobs is not None:
            body["logprobs"] = True
            if options.top_logprobs is not None:
                body["top_logprobs"] = options.top_logprobs
        elif options.logprobs is False:
            body["logprobs"] = False

        tools = shaped_context.tools
        if tools:
            body["tools"] = convert_tools(tools, compat)
            if values.tool_choice is not None:
                body["tool_choice"] = _wire_tool_choice(values.tool_choice)
            if options.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = options.parallel_tool_calls
        elif _has_tool_history(shaped_context) and not openai:
            body["tools"] = []  # LiteLLM-style proxies to Anthropic need tools when the history has calls

        body.update(_reasoning_fields(model, options, compat))

        if options.output is not None and options.output.native:
            body["response_format"] = openai_response_format(options.output)
        if values.user is not None:
            body["user"] = values.user
        if options.metadata:
            body["metadata"] = dict(options.metadata)
        if "service_tier" in own:
            body["service_tier"] = own["service_tier"]
        cache_key = own.get("prompt_cache_key") or (options.session_id if openai else None)
        if cache_key:
            body["prompt_cache_key"] = cache_key
        if openai and retention == "long":
            body["prompt_cache_retention"] = "24h"
        if compat.open_router_routing and _on(host, "openrouter.ai"):
            body["provider"] = dict(compat.open_router_routing)
        if compat.vercel_gateway_routing and _on(host, "ai-gateway.vercel.sh"):
            body["providerOptions"] = {"gateway": dict(compat.vercel_gateway_routing)}
        search = next((t for t in options.server_tools or () if isinstance(t, WebSearch)), None)
        search_host = _search_host(model) if search is not None else None
        if search is not None and search_host is not None:
            body.update(_web_search_fields(search_host, search))
        self.with_extra_body(body, options)

        key = self.api_key(model, options, required=not is_loopback_url(base_url))
        defaults: dict[str, str] = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if key:
            defaults["Authorization"] = f"Bearer {key}"
        if model.provider == "github-copilot":
            last = shaped_context.messages[-1] if shaped_context.messages else None
            defaults["X-Initiator"] = "user" if isinstance(last, UserMessage) else "agent"
            defaults["Openai-Intent"] = "conversation-edits"
            if _any_image(shaped_context):
                defaults["Copilot-Vision-Request"] = "true"
        headers = self.headers(model, options, defaults)
        return HttpRequest("POST", f"{base_url}/chat/completions", headers, body, secrets=(key,) if key else ())

    # -- the response -------------------------------------------------------------------

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> CompletionsStreamParser:
        host = _host(model.base_url)
        excludes_reasoning = model.provider == "xai" or _on(host, "x.ai")
        return CompletionsStreamParser(
            emitter, label=_provider_label(model), completion_excludes_reasoning=excludes_reasoning
        )


provider = OpenAICompletionsProvider()
"""The instance registered for ``openai-completions``."""
