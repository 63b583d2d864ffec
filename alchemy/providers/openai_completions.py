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
  echo their structure), tool calls with JSON arguments; earlier reasoning of the same
  model is replayed where the model says it wants it back (``model.interleaved``:
  ``"reasoning_content"`` and the like name the field, ``True`` replays it in the
  field it arrived in, ``"reasoning_details"`` sends OpenRouter's array), and
  OpenRouter ``reasoning_details`` received with the turn always go back; with
  ``requires_thinking_as_text`` it becomes plain text instead. Turns with no text and
  no tool calls are left out;
* tool results become ``tool`` messages (text joined with newlines); their images,
  which ``tool`` messages cannot carry, follow in one user message;
* ``stream_options.include_usage``, ``store: false``, the max-tokens field, tools
  with ``strict: false``, ``tool_choice``, reasoning in the server's format,
  OpenRouter / Vercel routing and OpenRouter's Anthropic cache control, per compat.

Own options (beside the shared ones): ``tool_choice``, ``reasoning_effort``,
``response_format``, ``user``, ``parallel_tool_calls``, ``stop``, ``seed``, ``top_p``,
``frequency_penalty``, ``presence_penalty``, ``service_tier``, ``prompt_cache_key``,
``compat`` (flags for this call) and ``extra_body`` (fields merged into the body
last, for server-specific parameters such as vLLM's ``top_k``). The shared
``metadata`` option gives ``user`` from its ``user_id``; it is not sent as
``metadata``, which OpenAI accepts only for stored completions.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import urlsplit

import orjson

from ..transport import HttpRequest
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
from .base import HttpProvider, resolve_cache_retention
from .openai_compat import CompletionsCompat, is_openai_host, resolve_compat
from .openai_completions_stream import REASONING_FIELDS, CompletionsStreamParser

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions

__all__ = [
    "ATTACHED_IMAGES_TEXT",
    "IMAGE_ONLY_RESULT_TEXT",
    "TOOL_RESULTS_BRIDGE_TEXT",
    "OpenAICompletionsProvider",
    "convert_messages",
    "convert_tools",
    "provider",
    "supports_xhigh",
]

ATTACHED_IMAGES_TEXT: Final = "Attached image(s) from tool result:"
"""Opens the user message that carries the images of tool results."""
IMAGE_ONLY_RESULT_TEXT: Final = "(see attached image)"
"""The text of a ``tool`` message whose result was only images."""
TOOL_RESULTS_BRIDGE_TEXT: Final = "I have processed the tool results."
"""The assistant turn put between tool results and a user turn (``requires_assistant_after_tool_result``)."""

EFFORTS: Final = ("none", "minimal", "low", "medium", "high", "xhigh")
_TOOL_CHOICE_WORDS: Final = {"auto": "auto", "none": "none", "required": "required", "any": "required"}
_XHIGH_MODEL_MARKERS: Final = ("gpt-5.2", "gpt-5.3", "gpt-5.4", "gpt-5.1-codex-max", "opus-4-6", "opus-4.6")
_FIELD_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz_")
_LOOPBACK_NAMES: Final = frozenset({"localhost", "host.docker.internal"})


# --------------------------------------------------------------------------- option checks


def _fail_type(name: str, expected: str, value: object) -> TypeError:
    return TypeError(f"option {name} must be {expected}, got {type(value).__name__} {value!r}")


def _check_number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail_type(name, "a number", value)
    if not low <= value <= high:
        raise ValueError(f"option {name} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _fail_type(name, "a non-empty string", value)
    return value


def _check_tool_choice(value: object, tools: Sequence[Tool] | None) -> str | dict[str, Any]:
    """``auto`` / ``none`` / ``required`` (``any``), or a named tool in any common spelling."""
    if isinstance(value, str):
        word = _TOOL_CHOICE_WORDS.get(value)
        if word is None:
            raise ValueError(
                "option tool_choice must be 'auto', 'none', 'required' (or 'any'), or name a tool as "
                f"{{'type': 'function', 'function': {{'name': ...}}}}, got {value!r}"
            )
        return word
    if not isinstance(value, Mapping):
        raise _fail_type("tool_choice", "a string or a mapping", value)
    kind = value.get("type")
    if kind in _TOOL_CHOICE_WORDS and "name" not in value and "function" not in value:
        return _TOOL_CHOICE_WORDS[kind]
    function = value.get("function")
    name = function.get("name") if isinstance(function, Mapping) else value.get("name")
    if not isinstance(name, str) or not name:
        example = "{'type': 'function', 'function': {'name': 'get_weather'}}"
        raise ValueError(f"option tool_choice must name a tool, e.g. {example}, got {value!r}")
    known = [tool.name for tool in tools or ()]
    if name not in known:
        listed = ", ".join(map(repr, known)) if known else "none (the context has no tools)"
        raise ValueError(f"option tool_choice names tool {name!r}, which is not in the context's tools: {listed}")
    return {"type": "function", "function": {"name": name}}


def _check_response_format(value: object) -> dict[str, Any] | None:
    """``"text"``, ``"json"``, or an object (OpenAI's, or ``{"schema": ..., "name": ...}``)."""
    if isinstance(value, str):
        if value == "text":
            return None
        if value in ("json", "json_object"):
            return {"type": "json_object"}
        raise ValueError(f"option response_format must be 'text', 'json' or a mapping, got {value!r}")
    if not isinstance(value, Mapping):
        raise _fail_type("response_format", "a string or a mapping", value)
    kind = value.get("type")
    if kind in ("text", "json_object"):
        return dict(value)
    if kind == "json_schema" and isinstance(value.get("json_schema"), Mapping):
        given = value["json_schema"]
        if not isinstance(given.get("schema"), Mapping) or not isinstance(given.get("name"), str):
            raise ValueError("option response_format json_schema needs a 'name' (string) and a 'schema' (mapping)")
        return {"type": "json_schema", "json_schema": dict(given)}
    if kind in (None, "json_schema") and isinstance(value.get("schema"), Mapping):
        inner: dict[str, Any] = {"name": value.get("name") or "response", "schema": dict(value["schema"])}
        if not isinstance(inner["name"], str):
            raise _fail_type("response_format name", "a string", inner["name"])
        for key in ("strict", "description"):
            if key in value:
                inner[key] = value[key]
        return {"type": "json_schema", "json_schema": inner}
    raise ValueError(
        "option response_format must be 'text', 'json', {'type': 'json_object'}, "
        "{'type': 'json_schema', 'json_schema': {'name': ..., 'schema': {...}}} or {'schema': {...}}, "
        f"got {value!r}"
    )


def _check_stop(value: object) -> str | list[str]:
    if isinstance(value, str):
        if not value:
            raise ValueError("option stop must not be an empty string")
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) and item for item in value):
        return list(value)
    raise _fail_type("stop", "a string or a non-empty list of non-empty strings", value)


@dataclasses.dataclass(frozen=True, slots=True)
class _Own:
    """The provider's own options of one call, checked."""

    tool_choice: str | dict[str, Any] | None = None
    reasoning_effort: str | None = None
    response_format: dict[str, Any] | None = None
    user: str | None = None
    parallel_tool_calls: bool | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    compat: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None


def _own_options(options: StreamOptions, context: Context) -> _Own:
    raw = options.provider_options
    checked: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name == "tool_choice":
            checked[name] = _check_tool_choice(value, context.tools)
        elif name == "reasoning_effort":
            if value not in EFFORTS:
                raise ValueError(
                    f"option reasoning_effort must be one of {', '.join(map(repr, EFFORTS))}, got {value!r}"
                )
            checked[name] = value
        elif name == "response_format":
            checked[name] = _check_response_format(value)
        elif name in ("user", "service_tier", "prompt_cache_key"):
            checked[name] = _check_text(name, value)
        elif name == "parallel_tool_calls":
            if not isinstance(value, bool):
                raise _fail_type(name, "True or False", value)
            checked[name] = value
        elif name == "stop":
            checked[name] = _check_stop(value)
        elif name == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _fail_type(name, "an int", value)
            checked[name] = value
        elif name == "top_p":
            checked[name] = _check_number(name, value, 0.0, 1.0)
        elif name in ("frequency_penalty", "presence_penalty"):
            checked[name] = _check_number(name, value, -2.0, 2.0)
        elif name in ("compat", "extra_body"):
            if not isinstance(value, Mapping):
                raise _fail_type(name, "a mapping", value)
            checked[name] = dict(value)
    if "user" not in checked and options.metadata:
        user_id = options.metadata.get("user_id")
        if user_id is not None:
            checked["user"] = _check_text("metadata['user_id']", user_id)
    return _Own(**checked)


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
    out: dict[str, Any], model: Model, thinking: list[ThinkingContent], calls: list[ToolCall]
) -> None:
    """Writes earlier reasoning of this model into the assistant message, where it is wanted back."""
    details = _reasoning_details(thinking, calls)
    if details:
        out["reasoning_details"] = details
        return
    text = "\n".join(block.thinking for block in thinking if block.thinking)
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
        _replay_reasoning(out, model, thinking, calls)
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
    """Function tool definitions, with ``strict: false`` where the server takes it."""
    converted = []
    for tool in tools:
        function: dict[str, Any] = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
        if compat.supports_strict_mode:
            function["strict"] = False
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


def _is_loopback(url: str) -> bool:
    host = _host(url)
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def supports_xhigh(model: Model) -> bool:
    """Whether the model takes the ``xhigh`` effort (from models.dev's effort values when known)."""
    for option in model.reasoning_options:
        if option.get("type") == "effort":
            values = option.get("values") or ()
            return "xhigh" in values
    return any(marker in model.id for marker in _XHIGH_MODEL_MARKERS)


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

    api: ClassVar[str] = "openai-completions"
    label: ClassVar[str] = "OpenAI Chat Completions"
    own_option_names: ClassVar[frozenset[str]] = frozenset(
        {
            "tool_choice",
            "reasoning_effort",
            "response_format",
            "user",
            "parallel_tool_calls",
            "stop",
            "seed",
            "top_p",
            "frequency_penalty",
            "presence_penalty",
            "service_tier",
            "prompt_cache_key",
            "compat",
            "extra_body",
        }
    )

    # -- stream_simple ------------------------------------------------------------------

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """``reasoning`` -> ``reasoning_effort`` (``xhigh`` kept only where the model takes it).

        An explicit ``reasoning_effort`` wins. No level means no effort: nothing is sent
        for the ``openai`` format, and the switch formats (z.ai, Qwen) turn thinking off.
        Non-reasoning models ignore the level.
        """
        level = options.reasoning
        if level is None or not model.reasoning or options.provider_options.get("reasoning_effort") is not None:
            return options
        effort = "high" if level == "xhigh" and not supports_xhigh(model) else level
        return dataclasses.replace(options, provider_options={**options.provider_options, "reasoning_effort": effort})

    # -- the request --------------------------------------------------------------------

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        own = _own_options(options, context)
        shaped = self.shape(
            model, context, options, tool_choice=own.tool_choice, response_format=own.response_format, user=own.user
        )
        compat = resolve_compat(model, overrides=own.compat)
        base_url = self.base_url(model)
        shaped_context = shaped.context
        values = shaped.values
        host = _host(model.base_url)
        openai = is_openai_host(model.base_url) or model.provider == "openai"
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
        for name in ("top_p", "frequency_penalty", "presence_penalty", "seed", "stop"):
            value = getattr(own, name)
            if value is not None:
                body[name] = value

        tools = shaped_context.tools
        if tools:
            body["tools"] = convert_tools(tools, compat)
            if values.tool_choice is not None:
                body["tool_choice"] = values.tool_choice
            if own.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = own.parallel_tool_calls
        elif _has_tool_history(shaped_context) and not openai:
            body["tools"] = []  # LiteLLM-style proxies to Anthropic need tools when the history has calls

        self._add_reasoning(body, model, options, own, compat)

        if values.response_format is not None:
            body["response_format"] = values.response_format
        if values.user is not None:
            body["user"] = values.user
        if own.service_tier is not None:
            body["service_tier"] = own.service_tier
        cache_key = own.prompt_cache_key or (options.session_id if openai else None)
        if cache_key:
            body["prompt_cache_key"] = cache_key
        if openai and retention == "long":
            body["prompt_cache_retention"] = "24h"
        if compat.open_router_routing and _on(host, "openrouter.ai"):
            body["provider"] = dict(compat.open_router_routing)
        if compat.vercel_gateway_routing and _on(host, "ai-gateway.vercel.sh"):
            body["providerOptions"] = {"gateway": dict(compat.vercel_gateway_routing)}
        if own.extra_body:
            body.update(own.extra_body)

        key = self.api_key(model, options, required=not _is_loopback(base_url))
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

    @staticmethod
    def _add_reasoning(
        body: dict[str, Any], model: Model, options: StreamOptions, own: _Own, compat: CompletionsCompat
    ) -> None:
        if not model.reasoning:
            return
        effort = own.reasoning_effort
        enabled = effort is not None and effort != "none"
        mapped = compat.reasoning_effort_map.get(effort, effort) if effort is not None else None
        budget = None
        if enabled and options.reasoning is not None and options.thinking_budgets:
            budget = options.thinking_budgets.get(options.reasoning)
        style = compat.thinking_format
        if style == "zai":
            body["thinking"] = {"type": "enabled" if enabled else "disabled"}
        elif style == "qwen":
            body["enable_thinking"] = enabled
            if budget:
                body["thinking_budget"] = budget
        elif style == "qwen-chat-template":
            body["chat_template_kwargs"] = {"enable_thinking": enabled}
        elif style == "openrouter":
            if effort is None:
                return
            if not enabled:
                body["reasoning"] = {"enabled": False}
            elif budget:
                body["reasoning"] = {"max_tokens": budget}
            elif compat.supports_reasoning_effort:
                body["reasoning"] = {"effort": mapped}
            else:
                body["reasoning"] = {"enabled": True}
        elif mapped is not None and compat.supports_reasoning_effort:
            body["reasoning_effort"] = mapped

    # -- the response -------------------------------------------------------------------

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> CompletionsStreamParser:
        host = _host(model.base_url)
        excludes_reasoning = model.provider == "xai" or _on(host, "x.ai")
        return CompletionsStreamParser(
            model, emitter, label=_provider_label(model), completion_excludes_reasoning=excludes_reasoning
        )


provider = OpenAICompletionsProvider()
"""The instance registered for ``openai-completions``."""
