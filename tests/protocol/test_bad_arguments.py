"""Programmer errors raise at once, before any I/O, naming the argument.

One table of wrong calls across the public API — the data types, the stream calls
and their options, the model registry, token counting, cost, tool validation, the
conversation helpers and the API registry: wrong types, ``None``, NaN and infinity,
values out of range, empty strings, a missing API key. Each must raise
``TypeError`` / ``ValueError`` (or the documented subclass: ``MissingApiKeyError``,
``ModelNotFoundError``) right at the call, with a message that contains the name of
the argument at fault. No call may pass silently, and none may fail inside the
library with a raw Python error (``AttributeError``, ``KeyError``, ``IndexError``...).

The stream calls point at port 9 of 127.0.0.1 (nothing listens there): a call that
raised did so before the stream existed, so before anything was sent.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import support
from support import WIRE_MODEL_IDS, bundled_registry, no_base_url_override, wire_model

import alchemy
from alchemy import (
    AssistantMessage,
    Context,
    Cost,
    ImageContent,
    MissingApiKeyError,
    Model,
    ModelNotFoundError,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from alchemy.abort import AbortController
from alchemy.api_registry import get_api
from alchemy.types import CostTier, ModelCost

__all__ = ["bundled_registry", "no_base_url_override"]

NAN = math.nan
INF = math.inf

LOCAL = wire_model("openai-completions", "http://127.0.0.1:9/v1")
"""A local server: needs no key, so a stream call fails only for the argument under test."""
ANTHROPIC = wire_model("anthropic-messages", "http://127.0.0.1:9")
CONTEXT = Context(system_prompt="Be brief.", messages=[UserMessage("hi")])
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})
CALL = ToolCall("call_1", "get_weather", {"city": "Paris"})
REPLY = AssistantMessage([TextContent("hello")], api=LOCAL.api, provider=LOCAL.provider, model=LOCAL.id)

KEY_APIS = (
    "openai-responses",
    "azure-openai-responses",
    "anthropic-messages",
    "google-generative-ai",
    "mistral-conversations",
)
"""The built-in APIs whose every request carries a key (``credentials="api-key"``)."""


def model(**changes: Any) -> Model:
    """``LOCAL`` with ``changes`` (a fresh model, so its construction is what is tested)."""
    fields = {"id": LOCAL.id, "name": LOCAL.name, "api": LOCAL.api, "provider": LOCAL.provider}
    fields["base_url"] = LOCAL.base_url
    fields.update(changes)
    return Model(**fields)


def stream_with(**options: Any) -> Callable[[], object]:
    return lambda: alchemy.stream(LOCAL, CONTEXT, **options)


def mutated_context(**changes: Any) -> Context:
    """A valid context changed after it was built (the call must check it again)."""
    context = Context(messages=[UserMessage("hi")])
    for name, value in changes.items():
        setattr(context, name, value)
    return context


def mutated_model(**changes: Any) -> Model:
    built = model()
    for name, value in changes.items():
        setattr(built, name, value)
    return built


def usage_with(**changes: Any) -> Usage:
    """A valid usage changed after it was built (as a parser might, or a user)."""
    usage = Usage(input=10, output=5, total_tokens=15)
    for name, value in changes.items():
        setattr(usage, name, value)
    return usage


Case = tuple[str, Callable[[], object], type[Exception], str]
"""(id, the call, the exception expected, a fragment of its message naming the argument)."""

TYPES: list[Case] = [
    # content blocks
    ("TextContent-text-None", lambda: TextContent(None), TypeError, "TextContent text"),
    ("TextContent-text-int", lambda: TextContent(5), TypeError, "TextContent text"),
    ("TextContent-text-bytes", lambda: TextContent(b"hi"), TypeError, "TextContent text"),
    ("TextContent-signature-int", lambda: TextContent("a", 5), TypeError, "text_signature"),
    ("ThinkingContent-None", lambda: ThinkingContent(None), TypeError, "ThinkingContent thinking"),
    ("ThinkingContent-signature", lambda: ThinkingContent("t", 1), TypeError, "thinking_signature"),
    ("ThinkingContent-redacted-str", lambda: ThinkingContent("t", None, "yes"), TypeError, "redacted"),
    ("ImageContent-data-None", lambda: ImageContent(None, "image/png"), TypeError, "ImageContent data"),
    ("ImageContent-data-bytes", lambda: ImageContent(b"\x89PNG", "image/png"), TypeError, "b64encode"),
    ("ImageContent-mime-None", lambda: ImageContent("aGk=", None), TypeError, "mime_type"),
    ("ImageContent-mime-empty", lambda: ImageContent("aGk=", ""), ValueError, "mime_type"),
    ("ImageContent-mime-bare", lambda: ImageContent("aGk=", "png"), ValueError, "mime_type"),
    ("ToolCall-id-None", lambda: ToolCall(None, "f"), TypeError, "ToolCall id"),
    ("ToolCall-id-int", lambda: ToolCall(5, "f"), TypeError, "ToolCall id"),
    ("ToolCall-name-None", lambda: ToolCall("c", None), TypeError, "ToolCall name"),
    ("ToolCall-arguments-json-string", lambda: ToolCall("c", "f", '{"a": 1}'), TypeError, "arguments"),
    ("ToolCall-arguments-list", lambda: ToolCall("c", "f", [1, 2]), TypeError, "arguments"),
    ("ToolCall-signature-int", lambda: ToolCall("c", "f", {}, 7), TypeError, "thought_signature"),
    # user messages
    ("UserMessage-None", lambda: UserMessage(None), TypeError, "UserMessage content"),
    ("UserMessage-list-of-str", lambda: UserMessage(["hi"]), TypeError, "UserMessage content[0]"),
    ("UserMessage-second-item", lambda: UserMessage([TextContent("a"), None]), TypeError, "content[1]"),
    ("UserMessage-int", lambda: UserMessage(5), TypeError, "UserMessage content"),
    ("UserMessage-lone-block", lambda: UserMessage(TextContent("a")), TypeError, "UserMessage content"),
    ("UserMessage-dict-block", lambda: UserMessage([{"type": "text", "text": "a"}]), TypeError, "content[0]"),
    ("UserMessage-thinking-block", lambda: UserMessage([ThinkingContent("t")]), TypeError, "content[0]"),
    ("UserMessage-tool-call-block", lambda: UserMessage([CALL]), TypeError, "content[0]"),
    ("UserMessage-timestamp-str", lambda: UserMessage("hi", "now"), TypeError, "timestamp"),
    ("UserMessage-timestamp-float", lambda: UserMessage("hi", 1.5), TypeError, "timestamp"),
    ("UserMessage-timestamp-negative", lambda: UserMessage("hi", -1), ValueError, "timestamp"),
    ("UserMessage-timestamp-bool", lambda: UserMessage("hi", True), TypeError, "timestamp"),
    # tool results
    ("ToolResult-id-None", lambda: ToolResultMessage(None, "f", "18C"), TypeError, "tool_call_id"),
    ("ToolResult-name-int", lambda: ToolResultMessage("c", 5, "18C"), TypeError, "tool_name"),
    ("ToolResult-content-None", lambda: ToolResultMessage("c", "f", None), TypeError, "content"),
    ("ToolResult-content-int", lambda: ToolResultMessage("c", "f", 18), TypeError, "content"),
    ("ToolResult-content-dict", lambda: ToolResultMessage("c", "f", {"temp": 18}), TypeError, "content"),
    ("ToolResult-list-of-str", lambda: ToolResultMessage("c", "f", ["18C"]), TypeError, "content[0]"),
    ("ToolResult-tool-call-block", lambda: ToolResultMessage("c", "f", [CALL]), TypeError, "content[0]"),
    ("ToolResult-is-error-str", lambda: ToolResultMessage("c", "f", "x", "yes"), TypeError, "is_error"),
    ("ToolResult-is-error-None", lambda: ToolResultMessage("c", "f", "x", None), TypeError, "is_error"),
    ("ToolResult-timestamp-str", lambda: ToolResultMessage("c", "f", "x", timestamp="t"), TypeError, "timestamp"),
    # assistant messages
    ("Assistant-content-None", lambda: AssistantMessage(None), TypeError, "AssistantMessage content"),
    ("Assistant-content-str", lambda: AssistantMessage("hello"), TypeError, "AssistantMessage content"),
    ("Assistant-image-block", lambda: AssistantMessage([ImageContent("aGk=", "image/png")]), TypeError, "content[0]"),
    ("Assistant-str-block", lambda: AssistantMessage(["hello"]), TypeError, "content[0]"),
    ("Assistant-stop-reason", lambda: AssistantMessage([], stop_reason="done"), ValueError, "stop_reason"),
    ("Assistant-stop-reason-snake", lambda: AssistantMessage([], stop_reason="tool_use"), ValueError, "stop_reason"),
    ("Assistant-usage-None", lambda: AssistantMessage([], usage=None), TypeError, "usage"),
    ("Assistant-usage-dict", lambda: AssistantMessage([], usage={"input": 1}), TypeError, "usage"),
    ("Assistant-api-None", lambda: AssistantMessage([], api=None), TypeError, "api"),
    ("Assistant-provider-int", lambda: AssistantMessage([], provider=5), TypeError, "provider"),
    ("Assistant-model-None", lambda: AssistantMessage([], model=None), TypeError, "model"),
    ("Assistant-error-message-int", lambda: AssistantMessage([], error_message=500), TypeError, "error_message"),
    ("Assistant-timestamp-float", lambda: AssistantMessage([], timestamp=1.0), TypeError, "timestamp"),
    ("Assistant-logprobs-str", lambda: AssistantMessage([], logprobs="x"), TypeError, "logprobs"),
    # usage and cost
    ("Usage-input-negative", lambda: Usage(input=-1), ValueError, "Usage input"),
    ("Usage-output-negative", lambda: Usage(output=-5), ValueError, "Usage output"),
    ("Usage-cache-read-negative", lambda: Usage(cache_read=-1), ValueError, "cache_read"),
    ("Usage-cache-write-negative", lambda: Usage(cache_write=-1), ValueError, "cache_write"),
    ("Usage-total-negative", lambda: Usage(total_tokens=-1), ValueError, "total_tokens"),
    ("Usage-reasoning-negative", lambda: Usage(reasoning=-2), ValueError, "reasoning"),
    ("Usage-cache-write-1h-negative", lambda: Usage(cache_write_1h=-1), ValueError, "cache_write_1h"),
    ("Usage-input-float", lambda: Usage(input=1.5), TypeError, "Usage input"),
    ("Usage-input-nan", lambda: Usage(input=NAN), TypeError, "Usage input"),
    ("Usage-input-str", lambda: Usage(input="5"), TypeError, "Usage input"),
    ("Usage-input-None", lambda: Usage(input=None), TypeError, "Usage input"),
    ("Usage-output-bool", lambda: Usage(output=True), TypeError, "Usage output"),
    ("Usage-cost-None", lambda: Usage(cost=None), TypeError, "Usage cost"),
    ("Usage-cost-dict", lambda: Usage(cost={"total": 1.0}), TypeError, "Usage cost"),
    ("Usage-service-tier-int", lambda: Usage(service_tier=1), TypeError, "service_tier"),
    ("Usage-estimated-str", lambda: Usage(estimated="yes"), TypeError, "estimated"),
    ("Cost-input-nan", lambda: Cost(input=NAN), ValueError, "Cost input"),
    ("Cost-total-inf", lambda: Cost(total=INF), ValueError, "Cost total"),
    ("Cost-output-str", lambda: Cost(output="0.1"), TypeError, "Cost output"),
    ("ModelCost-input-negative", lambda: ModelCost(input=-1.0), ValueError, "ModelCost input"),
    ("ModelCost-output-nan", lambda: ModelCost(output=NAN), ValueError, "ModelCost output"),
    ("ModelCost-cache-read-inf", lambda: ModelCost(cache_read=INF), ValueError, "cache_read"),
    ("ModelCost-input-str", lambda: ModelCost(input="3"), TypeError, "ModelCost input"),
    ("ModelCost-tiers-list", lambda: ModelCost(tiers=[CostTier(1000)]), TypeError, "tiers"),
    ("ModelCost-tiers-item", lambda: ModelCost(tiers=({"threshold": 1},)), TypeError, "tiers[0]"),
    ("CostTier-threshold-negative", lambda: CostTier(-1), ValueError, "threshold"),
    ("CostTier-threshold-str", lambda: CostTier("200k"), TypeError, "threshold"),
    # tools
    ("Tool-name-None", lambda: Tool(None, "d"), TypeError, "Tool name"),
    ("Tool-name-empty", lambda: Tool("", "d"), ValueError, "Tool name"),
    ("Tool-description-None", lambda: Tool("f", None), TypeError, "description"),
    ("Tool-parameters-json-string", lambda: Tool("f", "d", '{"type": "object"}'), TypeError, "parameters"),
    ("Tool-parameters-None", lambda: Tool("f", "d", None), TypeError, "parameters"),
    ("Tool-parameters-list", lambda: Tool("f", "d", [{"type": "object"}]), TypeError, "parameters"),
    (
        "Tool-schema-python-type",
        lambda: Tool("get_weather", "d", {"type": "object", "properties": {"city": {"type": str}}}),
        TypeError,
        "Tool 'get_weather' parameters.properties.city.type",
    ),
    ("Tool-schema-set", lambda: Tool("f", "d", {"enum": {"a", "b"}}), TypeError, "parameters.enum"),
    ("Tool-schema-bytes", lambda: Tool("f", "d", {"default": b"x"}), TypeError, "parameters.default"),
    ("Tool-schema-object", lambda: Tool("f", "d", {"items": [object()]}), TypeError, "parameters.items[0]"),
    ("Tool-schema-nan", lambda: Tool("f", "d", {"maximum": NAN}), ValueError, "parameters.maximum"),
    ("Tool-schema-int-key", lambda: Tool("f", "d", {"properties": {1: {}}}), TypeError, "parameters.properties key 1"),
    # contexts
    ("Context-system-prompt-int", lambda: Context(system_prompt=5), TypeError, "system_prompt"),
    ("Context-system-prompt-list", lambda: Context(system_prompt=["a"]), TypeError, "system_prompt"),
    ("Context-messages-None", lambda: Context(messages=None), TypeError, "Context messages"),
    ("Context-messages-str", lambda: Context(messages="hi"), TypeError, "Context messages"),
    ("Context-messages-tuple", lambda: Context(messages=(UserMessage("hi"),)), TypeError, "Context messages"),
    ("Context-message-str", lambda: Context(messages=["hi"]), TypeError, "messages[0]"),
    (
        "Context-message-dict",
        lambda: Context(messages=[UserMessage("a"), {"role": "user", "content": "hi"}]),
        TypeError,
        "messages[1]",
    ),
    ("Context-tools-str", lambda: Context(tools="get_weather"), TypeError, "Context tools"),
    ("Context-tools-lone-tool", lambda: Context(tools=WEATHER), TypeError, "Context tools"),
    ("Context-tool-dict", lambda: Context(tools=[{"name": "f"}]), TypeError, "tools[0]"),
    ("Context-tools-duplicate", lambda: Context(tools=[WEATHER, WEATHER]), ValueError, "tools[1].name"),
    ("Context-from-json-int", lambda: Context.from_json(5), TypeError, "data"),
    ("Context-from-json-None", lambda: Context.from_json(None), TypeError, "data"),
    # models
    ("Model-id-int", lambda: model(id=5), TypeError, "Model id"),
    ("Model-id-None", lambda: model(id=None), TypeError, "Model id"),
    ("Model-id-empty", lambda: model(id=""), ValueError, "Model id"),
    ("Model-name-None", lambda: model(name=None), TypeError, "Model name"),
    ("Model-api-None", lambda: model(api=None), TypeError, "Model api"),
    ("Model-api-empty", lambda: model(api=""), ValueError, "Model api"),
    ("Model-provider-int", lambda: model(provider=5), TypeError, "Model provider"),
    ("Model-base-url-None", lambda: model(base_url=None), TypeError, "Model base_url"),
    ("Model-base-url-no-scheme", lambda: model(base_url="api.openai.com/v1"), ValueError, "Model base_url"),
    ("Model-base-url-host-port", lambda: model(base_url="localhost:8080/v1"), ValueError, "Model base_url"),
    ("Model-base-url-ftp", lambda: model(base_url="ftp://example.com"), ValueError, "Model base_url"),
    ("Model-base-url-no-host", lambda: model(base_url="https:///v1"), ValueError, "Model base_url"),
    ("Model-reasoning-str", lambda: model(reasoning="yes"), TypeError, "Model reasoning"),
    ("Model-input-str", lambda: model(input="text"), TypeError, "Model input"),
    ("Model-input-item", lambda: model(input=("text", 5)), TypeError, "input[1]"),
    ("Model-cost-dict", lambda: model(cost={"input": 3.0}), TypeError, "Model cost"),
    ("Model-context-window-negative", lambda: model(context_window=-1), ValueError, "context_window"),
    ("Model-context-window-str", lambda: model(context_window="128k"), TypeError, "context_window"),
    ("Model-context-window-float", lambda: model(context_window=1.5), TypeError, "context_window"),
    ("Model-max-tokens-negative", lambda: model(max_tokens=-1), ValueError, "max_tokens"),
    ("Model-max-input-tokens-None", lambda: model(max_input_tokens=None), TypeError, "max_input_tokens"),
    ("Model-headers-str", lambda: model(headers="x-a: b"), TypeError, "Model headers"),
    ("Model-headers-value-int", lambda: model(headers={"x-a": 1}), TypeError, "headers['x-a']"),
    ("Model-compat-list", lambda: model(compat=["supports_store"]), TypeError, "Model compat"),
    ("Model-capabilities-dict", lambda: model(capabilities={"supports_tools": True}), TypeError, "capabilities"),
    ("Model-env-keys-str", lambda: model(env_keys="OPENAI_API_KEY"), TypeError, "env_keys"),
    ("Model-env-keys-item", lambda: model(env_keys=(None,)), TypeError, "env_keys[0]"),
    ("Model-vendor-int", lambda: model(vendor=1), TypeError, "vendor"),
    ("Model-open-weights-str", lambda: model(open_weights="yes"), TypeError, "open_weights"),
    ("Model-interleaved-int", lambda: model(interleaved=1), TypeError, "interleaved"),
]

STREAM_CALLS: list[Case] = [
    ("stream-model-None", lambda: alchemy.stream(None, CONTEXT), TypeError, "model"),
    ("stream-model-str", lambda: alchemy.stream("anthropic/claude-sonnet-4-5", CONTEXT), TypeError, "model"),
    ("stream-context-None", lambda: alchemy.stream(LOCAL, None), TypeError, "context"),
    ("stream-context-str", lambda: alchemy.stream(LOCAL, "hi"), TypeError, "context"),
    ("stream-context-list", lambda: alchemy.stream(LOCAL, [UserMessage("hi")]), TypeError, "context"),
    ("astream-context-None", lambda: alchemy.astream(LOCAL, None), TypeError, "context"),
    ("complete-model-None", lambda: alchemy.complete(None, CONTEXT), TypeError, "model"),
    ("stream-simple-context-dict", lambda: alchemy.stream_simple(LOCAL, {"messages": []}), TypeError, "context"),
    ("stream-appended-str", lambda: alchemy.stream(LOCAL, mutated_context(messages=[UserMessage("a"), "b"])), TypeError, "messages[1]"),
    ("stream-system-prompt-changed", lambda: alchemy.stream(LOCAL, mutated_context(system_prompt=5)), TypeError, "system_prompt"),
    ("stream-base-url-changed", lambda: alchemy.stream(mutated_model(base_url="localhost:11434/v1"), CONTEXT), ValueError, "base_url"),
    ("stream-unknown-api", lambda: alchemy.stream(model(api="no-such-api"), CONTEXT), LookupError, "no-such-api"),
    ("option-temperature-nan", stream_with(temperature=NAN), ValueError, "temperature"),
    ("option-temperature-inf", stream_with(temperature=INF), ValueError, "temperature"),
    ("option-temperature-negative", stream_with(temperature=-0.1), ValueError, "temperature"),
    ("option-temperature-str", stream_with(temperature="0.5"), TypeError, "temperature"),
    ("option-max-tokens-zero", stream_with(max_tokens=0), ValueError, "max_tokens"),
    ("option-max-tokens-float", stream_with(max_tokens=100.5), TypeError, "max_tokens"),
    ("option-max-tokens-bool", stream_with(max_tokens=True), TypeError, "max_tokens"),
    ("option-timeout-zero", stream_with(timeout=0), ValueError, "timeout"),
    ("option-timeout-nan", stream_with(timeout=NAN), ValueError, "timeout"),
    ("option-timeout-inf", stream_with(timeout=INF), ValueError, "timeout"),
    ("option-connect-timeout-negative", stream_with(connect_timeout=-1), ValueError, "connect_timeout"),
    ("option-idle-timeout-inf", stream_with(idle_timeout=INF), ValueError, "idle_timeout"),
    ("option-max-retries-negative", stream_with(max_retries=-1), ValueError, "max_retries"),
    ("option-max-retry-delay-nan", stream_with(max_retry_delay=NAN), ValueError, "max_retry_delay"),
    ("option-api-key-empty", stream_with(api_key=""), ValueError, "api_key"),
    ("option-api-key-blank", stream_with(api_key="  \n"), ValueError, "api_key"),
    ("option-api-key-int", stream_with(api_key=12345), TypeError, "api_key"),
    ("option-headers-str", stream_with(headers="Authorization: x"), TypeError, "headers"),
    ("option-headers-value-int", stream_with(headers={"x-a": 1}), TypeError, "headers"),
    ("option-unknown", stream_with(temprature=0.5), TypeError, "temprature"),
    ("option-top-p-above-one", stream_with(top_p=1.5), ValueError, "top_p"),
    ("option-top-p-nan", stream_with(top_p=NAN), ValueError, "top_p"),
    ("option-top-k-zero", stream_with(top_k=0), ValueError, "top_k"),
    ("option-seed-float", stream_with(seed=1.5), TypeError, "seed"),
    ("option-presence-penalty-range", stream_with(presence_penalty=3), ValueError, "presence_penalty"),
    ("option-frequency-penalty-inf", stream_with(frequency_penalty=-INF), ValueError, "frequency_penalty"),
    ("option-top-logprobs-range", stream_with(top_logprobs=21), ValueError, "top_logprobs"),
    ("option-stop-int", stream_with(stop=5), TypeError, "stop"),
    ("option-stop-item", stream_with(stop=["a", 5]), TypeError, "stop"),
    ("option-reasoning-unknown", stream_with(reasoning="extreme"), ValueError, "reasoning"),
    ("option-thinking-budgets-level", stream_with(thinking_budgets={"huge": 5}), ValueError, "thinking_budgets"),
    ("option-signal-str", stream_with(signal="abort"), TypeError, "signal"),
    ("option-on-payload-int", stream_with(on_payload=5), TypeError, "on_payload"),
    ("option-metadata-str", stream_with(metadata="x"), TypeError, "metadata"),
    ("option-extra-body-list", stream_with(extra_body=[1]), TypeError, "extra_body"),
    ("option-cache-retention", stream_with(cache_retention="forever"), ValueError, "cache_retention"),
    ("option-tool-choice-missing-tool", stream_with(tool_choice={"name": "nope"}), ValueError, "tool_choice"),
    ("option-tool-choice-required-no-tools", stream_with(tool_choice="required"), ValueError, "tool_choice"),
    ("option-client-async-for-sync", lambda: alchemy.stream(LOCAL, CONTEXT, client=_async_client()), TypeError, "client"),
    ("option-not-carried", lambda: alchemy.stream(ANTHROPIC, CONTEXT, api_key="k", seed=1), TypeError, "seed"),
]

MISSING_KEYS: list[Case] = [
    (f"missing-key-{function}-{api}", call, MissingApiKeyError, variable)
    for api, variable in (
        ("openai-responses", "OPENAI_API_KEY"),
        ("azure-openai-responses", "AZURE_OPENAI_API_KEY"),
        ("anthropic-messages", "ANTHROPIC_API_KEY"),
        ("google-generative-ai", "GEMINI_API_KEY"),
        ("mistral-conversations", "MISTRAL_API_KEY"),
        ("openai-completions", "GROQ_API_KEY"),
    )
    for function, call in (
        ("stream", lambda api=api: alchemy.stream(_remote(api), CONTEXT)),
        ("astream", lambda api=api: alchemy.astream(_remote(api), CONTEXT)),
        ("complete_simple", lambda api=api: alchemy.complete_simple(_remote(api), CONTEXT, reasoning="low")),
    )
]

HELPERS: list[Case] = [
    ("get_model-None", lambda: alchemy.get_model(None), TypeError, "provider_or_key"),
    ("get_model-int", lambda: alchemy.get_model(5), TypeError, "provider_or_key"),
    ("get_model-empty", lambda: alchemy.get_model(""), ValueError, "provider_or_key"),
    ("get_model-model-id-int", lambda: alchemy.get_model("anthropic", 5), TypeError, "model_id"),
    ("get_model-model-id-empty", lambda: alchemy.get_model("anthropic", ""), ValueError, "model_id"),
    ("get_model-unknown", lambda: alchemy.get_model("anthropic/claude-nope-9"), ModelNotFoundError, "claude-nope-9"),
    ("get_models-provider-int", lambda: alchemy.get_models(5), TypeError, "provider"),
    ("get_models-vision-str", lambda: alchemy.get_models(vision="yes"), TypeError, "vision"),
    ("get_models-min-context-negative", lambda: alchemy.get_models(min_context=-1), ValueError, "min_context"),
    ("get_models-min-context-str", lambda: alchemy.get_models(min_context="128k"), TypeError, "min_context"),
    ("get_models-max-input-cost-nan", lambda: alchemy.get_models(max_input_cost=NAN), ValueError, "max_input_cost"),
    ("get_models-max-output-cost-negative", lambda: alchemy.get_models(max_output_cost=-1), ValueError, "max_output_cost"),
    ("get_models-api-int", lambda: alchemy.get_models(api=1), TypeError, "api"),
    ("get_models-include-deprecated", lambda: alchemy.get_models(include_deprecated="no"), TypeError, "include_deprecated"),
    ("search_models-None", lambda: alchemy.search_models(None), TypeError, "text"),
    ("search_models-int", lambda: alchemy.search_models(5), TypeError, "text"),
    ("search_models-limit-zero", lambda: alchemy.search_models("sonnet", limit=0), ValueError, "limit"),
    ("search_models-limit-str", lambda: alchemy.search_models("sonnet", limit="5"), TypeError, "limit"),
    ("search_models-limit-bool", lambda: alchemy.search_models("sonnet", limit=True), TypeError, "limit"),
    ("register_model-None", lambda: alchemy.register_model(None), TypeError, "model"),
    ("register_model-replace-str", lambda: alchemy.register_model(model(), replace="yes"), TypeError, "replace"),
    ("get_env_api_key-None", lambda: alchemy.get_env_api_key(None), TypeError, "provider"),
    ("get_env_api_key-env-str", lambda: alchemy.get_env_api_key("openai", env="x"), TypeError, "env"),
    ("calculate_cost-model-None", lambda: alchemy.calculate_cost(None, Usage()), TypeError, "model"),
    ("calculate_cost-model-str", lambda: alchemy.calculate_cost("openai/gpt-5", Usage()), TypeError, "model"),
    ("calculate_cost-usage-None", lambda: alchemy.calculate_cost(LOCAL, None), TypeError, "usage"),
    ("calculate_cost-usage-dict", lambda: alchemy.calculate_cost(LOCAL, {"input": 5}), TypeError, "usage"),
    ("calculate_cost-usage-negative", lambda: alchemy.calculate_cost(LOCAL, usage_with(input=-100)), ValueError, "usage.input"),
    ("calculate_cost-usage-float", lambda: alchemy.calculate_cost(LOCAL, usage_with(output=2.5)), TypeError, "usage.output"),
    ("count_tokens-model-None", lambda: alchemy.count_tokens(None, CONTEXT), TypeError, "model"),
    ("count_tokens-model-int", lambda: alchemy.count_tokens(5, CONTEXT), TypeError, "model"),
    ("count_tokens-context-None", lambda: alchemy.count_tokens(LOCAL, None), TypeError, "context"),
    ("count_tokens-context-list", lambda: alchemy.count_tokens(LOCAL, [UserMessage("hi")]), TypeError, "context"),
    ("count_tokens-changed-context", lambda: alchemy.count_tokens(LOCAL, mutated_context(messages=["hi"])), TypeError, "messages[0]"),
    ("fits_context-max-tokens-negative", lambda: alchemy.fits_context(LOCAL, CONTEXT, max_tokens=-1), ValueError, "max_tokens"),
    ("fits_context-max-tokens-str", lambda: alchemy.fits_context(LOCAL, CONTEXT, max_tokens="5"), TypeError, "max_tokens"),
    ("fits_context-max-tokens-float", lambda: alchemy.fits_context(LOCAL, CONTEXT, max_tokens=1.5), TypeError, "max_tokens"),
    ("fits_context-max-tokens-bool", lambda: alchemy.fits_context(LOCAL, CONTEXT, max_tokens=True), TypeError, "max_tokens"),
    ("fits_context-model-None", lambda: alchemy.fits_context(None, CONTEXT), TypeError, "model"),
    ("validate_tool_call-tools-None", lambda: alchemy.validate_tool_call(None, CALL), TypeError, "tools"),
    ("validate_tool_call-lone-tool", lambda: alchemy.validate_tool_call(WEATHER, CALL), TypeError, "tools"),
    ("validate_tool_call-tools-str", lambda: alchemy.validate_tool_call("get_weather", CALL), TypeError, "tools"),
    ("validate_tool_call-tool-dict", lambda: alchemy.validate_tool_call([{"name": "get_weather"}], CALL), TypeError, "tools[0]"),
    ("validate_tool_call-call-None", lambda: alchemy.validate_tool_call([WEATHER], None), TypeError, "tool_call"),
    ("validate_tool_call-call-dict", lambda: alchemy.validate_tool_call([WEATHER], {"name": "get_weather"}), TypeError, "tool_call"),
    ("is_context_overflow-None", lambda: alchemy.is_context_overflow(None), TypeError, "message"),
    ("is_context_overflow-str", lambda: alchemy.is_context_overflow("prompt is too long"), TypeError, "message"),
    ("is_context_overflow-window-negative", lambda: alchemy.is_context_overflow(REPLY, -1), ValueError, "context_window"),
    ("is_context_overflow-window-str", lambda: alchemy.is_context_overflow(REPLY, "128k"), TypeError, "context_window"),
    ("transform_messages-None", lambda: alchemy.transform_messages(None, LOCAL), TypeError, "messages"),
    ("transform_messages-str", lambda: alchemy.transform_messages("hi", LOCAL), TypeError, "messages"),
    ("transform_messages-context", lambda: alchemy.transform_messages(CONTEXT, LOCAL), TypeError, "messages"),
    ("transform_messages-item", lambda: alchemy.transform_messages([UserMessage("a"), "b"], LOCAL), TypeError, "messages[1]"),
    ("transform_messages-model-None", lambda: alchemy.transform_messages([UserMessage("a")], None), TypeError, "model"),
    ("transform_messages-foreign-thinking", lambda: alchemy.transform_messages([], LOCAL, foreign_thinking="keep"), ValueError, "foreign_thinking"),
    ("transform_messages-normalizer-int", lambda: alchemy.transform_messages([], LOCAL, 5), TypeError, "normalize_tool_call_id"),
    ("tool_call_id_normalizer-None", lambda: alchemy.tool_call_id_normalizer(None), TypeError, "model"),
    ("keep_tool_call_id-None", lambda: alchemy.keep_tool_call_id(None), TypeError, "tool_call_id"),
    ("shape_request-context-None", lambda: alchemy.shape_request(None, LOCAL), TypeError, "context"),
    ("shape_request-model-None", lambda: alchemy.shape_request(CONTEXT, None), TypeError, "model"),
    ("shape_request-values-dict", lambda: alchemy.shape_request(CONTEXT, LOCAL, {"temperature": 1}), TypeError, "values"),
    ("shape_request-foreign-thinking", lambda: alchemy.shape_request(CONTEXT, LOCAL, foreign_thinking="x"), ValueError, "foreign_thinking"),
    ("sanitize_surrogates-None", lambda: alchemy.sanitize_surrogates(None), TypeError, "text"),
    ("sanitize_surrogates-bytes", lambda: alchemy.sanitize_surrogates(b"x"), TypeError, "text"),
    ("supported_thinking_levels-None", lambda: alchemy.supported_thinking_levels(None), TypeError, "model"),
    ("clamp_thinking_level-model-str", lambda: alchemy.clamp_thinking_level("gpt-5", "high"), TypeError, "model"),
    ("clamp_thinking_level-level-None", lambda: alchemy.clamp_thinking_level(LOCAL, None), TypeError, "level"),
    ("clamp_thinking_level-level-unknown", lambda: alchemy.clamp_thinking_level(LOCAL, "ultra"), ValueError, "level"),
    ("register_api-empty", lambda: alchemy.register_api("", get_api(LOCAL.api)), TypeError, "api"),
    ("register_api-int", lambda: alchemy.register_api(5, get_api(LOCAL.api)), TypeError, "api"),
    ("register_api-provider-None", lambda: alchemy.register_api("mine", None), TypeError, "provider"),
    ("register_api-provider-object", lambda: alchemy.register_api("mine", object()), TypeError, "provider"),
    ("unregister_api-None", lambda: alchemy.unregister_api(None), TypeError, "api"),
    ("get_api-None", lambda: alchemy.get_api(None), TypeError, "api"),
    ("get_api-unknown", lambda: alchemy.get_api("no-such-api"), LookupError, "no-such-api"),
    ("set_provider_compat-None", lambda: alchemy.set_provider_compat(None, supports_store=False), TypeError, "provider"),
    ("set_provider_compat-unknown-flag", lambda: alchemy.set_provider_compat("groq", supports_storing=False), ValueError, "supports_storing"),
    ("set_provider_compat-flag-type", lambda: alchemy.set_provider_compat("groq", supports_store="no"), TypeError, "supports_store"),
    ("clear_provider_compat-int", lambda: alchemy.clear_provider_compat(5), TypeError, "provider"),
    ("message_from_dict-role", lambda: alchemy.types.message_from_dict({"role": "system", "content": "x"}), ValueError, "role"),
    ("refresh_models-url-None", lambda: alchemy.refresh_models(None), TypeError, "url"),
    ("refresh_models-url-no-scheme", lambda: alchemy.refresh_models("models.dev/api.json"), ValueError, "url"),
    ("refresh_models-max-age-negative", lambda: alchemy.refresh_models(max_age=-1), ValueError, "max_age"),
    ("refresh_models-max-age-str", lambda: alchemy.refresh_models(max_age="1d"), TypeError, "max_age"),
    ("refresh_models-timeout-zero", lambda: alchemy.refresh_models(timeout=0), ValueError, "timeout"),
    ("refresh_models-timeout-nan", lambda: alchemy.refresh_models(timeout=NAN), ValueError, "timeout"),
    ("refresh_models-force-str", lambda: alchemy.refresh_models(force="yes"), TypeError, "force"),
    ("AbortSignal-listener", lambda: AbortController().signal.add_listener("stop"), TypeError, "listener"),
]

ALL: list[Case] = TYPES + STREAM_CALLS + MISSING_KEYS + HELPERS


def _remote(api: str) -> Model:
    """The everyday model of ``api`` at a remote-looking URL (so no local-server exemption)."""
    return wire_model(api, "https://llm.example.com/v1")


def _async_client() -> Any:
    import httpx

    return httpx.AsyncClient()


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No key of any provider under test in the environment (a developer's own keys included)."""
    for api in WIRE_MODEL_IDS:
        for name in get_api(api).key_variables(_remote(api)):
            monkeypatch.delenv(name, raising=False)
    for name in ("AZURE_OPENAI_API_KEY", "AZURE_API_KEY", "OPENAI_API_KEY", "GROQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_the_table_is_large_and_its_ids_unique() -> None:
    ids = [case[0] for case in ALL] + [case[0] for case in KERNEL_CASES]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(("call", "error", "names"), [pytest.param(*case[1:], id=case[0]) for case in ALL])
def test_a_wrong_call_raises_at_once_naming_the_argument(
    call: Callable[[], object], error: type[Exception], names: str
) -> None:
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - the type is what is being tested
        assert isinstance(exc, error), f"raised {type(exc).__name__}: {exc}"
        assert isinstance(exc, (TypeError, ValueError, LookupError)), f"raised {type(exc).__name__}: {exc}"
        assert names in str(exc), f"the message does not name {names!r}: {exc}"
    else:
        if asyncio.iscoroutine(result):
            result.close()
        pytest.fail(f"passed silently, returning {result!r}")


KERNEL_CASES: list[tuple[str, str, Callable[[Any], object], type[Exception], str]] = [
    ("JsonDeltaMerger-feed-int", "jsondelta", lambda m: m.JsonDeltaMerger().feed(5), TypeError, "expects str"),
    ("JsonDeltaMerger-feed-bytes", "jsondelta", lambda m: m.JsonDeltaMerger().feed(b"{"), TypeError, "expects str"),
    ("parse_partial_json-None", "jsondelta", lambda m: m.parse_partial_json(None), TypeError, "expects str"),
    ("SSEDecoder-feed-str", "sse", lambda m: m.SSEDecoder().feed("data: x\n\n"), TypeError, "bytes"),
    ("SSEDecoder-max-event-bytes-negative", "sse", lambda m: m.SSEDecoder(max_event_bytes=-1), ValueError, "max_event_bytes"),
    ("SSEDecoder-max-event-bytes-str", "sse", lambda m: m.SSEDecoder(max_event_bytes="1k"), TypeError, "max_event_bytes"),
    ("EventStreamDecoder-feed-str", "eventstream", lambda m: m.EventStreamDecoder().feed("x"), TypeError, "bytes"),
]
"""Wrong calls of the kernels, run on both twins (they check their own arguments)."""


@pytest.mark.parametrize(("kernel", "call", "error", "names"), [pytest.param(*c[1:], id=c[0]) for c in KERNEL_CASES])
def test_a_wrong_kernel_call_raises_on_both_twins(
    twin: Any, kernel: str, call: Callable[[Any], object], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        call(twin.module(kernel))


# --------------------------------------------------------------------------- what is accepted


def test_a_plain_string_tool_result_is_its_text() -> None:
    result = ToolResultMessage("call_1", "get_weather", "18C")
    assert result.content == [TextContent("18C")]
    assert result.to_dict()["content"] == [{"type": "text", "text": "18C"}]
    assert Context(messages=[UserMessage("weather?"), result]).to_json()


def test_valid_values_at_the_edges_are_accepted() -> None:
    assert Usage().input == 0
    assert Cost(0, 1, None, 0.5, None).output == 1
    assert ModelCost(input=0, output=15.0, tiers=(CostTier(200_000, input=6.0),)).tiers[0].threshold == 200_000
    assert model(base_url="").base_url == ""
    assert model(base_url="${MY_HOST}/v1").base_url == "${MY_HOST}/v1"
    assert model(base_url="HTTP://127.0.0.1:8080").base_url == "HTTP://127.0.0.1:8080"
    assert model(env_keys=["MY_KEY"]).env_keys == ("MY_KEY",)
    assert Tool("f", "", {"type": "object", "properties": {"n": {"type": "integer", "maximum": 1e9}}, "x": (1, 2)})
    assert UserMessage([]).content == []
    assert AssistantMessage().content == []


def test_a_tool_schema_nested_deeper_than_the_limit_is_refused_without_recursion() -> None:
    from alchemy.json import MAX_JSON_DEPTH

    schema: dict[str, Any] = {"type": "object"}
    node = schema
    for _ in range(MAX_JSON_DEPTH + 10):
        node["items"] = {}
        node = node["items"]
    with pytest.raises(ValueError, match="Tool 'deep' parameters.items.items"):
        Tool("deep", "", schema)


def test_a_local_server_needs_no_key() -> None:
    events = alchemy.stream(LOCAL, CONTEXT)
    events.close()
    assert events.partial.stop_reason == "aborted"


@pytest.mark.parametrize("api", ["google-vertex", "bedrock-converse-stream"])
def test_credential_chains_that_need_io_still_end_in_the_stream(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Vertex ADC and Bedrock SigV4 are resolved when the request is sent: no raise at the call,
    and the failure to find credentials ends the stream (nothing reaches the network here)."""
    monkeypatch.setenv("HOME", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_VERTEX_LOCATION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    options: dict[str, Any] = {"region": "us-east-1"} if api == "bedrock-converse-stream" else {}
    message = alchemy.complete(_remote(api), CONTEXT, max_retries=0, **options)
    assert message.stop_reason == "error" and message.error is not None, message
    assert message.error.kind == "auth", message.error_message


@pytest.mark.parametrize("api", KEY_APIS)
def test_a_missing_key_names_every_variable_looked_at_and_no_value(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingApiKeyError) as caught:
        alchemy.stream(_remote(api), CONTEXT)
    error = caught.value
    assert error.variables and all(name in str(error) for name in error.variables)
    assert "api_key=" in str(error)


def test_a_key_in_the_environment_or_the_call_lets_the_call_through(monkeypatch: pytest.MonkeyPatch) -> None:
    target = _remote("anthropic-messages")
    alchemy.stream(target, CONTEXT, api_key="sk-ant-test-only").close()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-only")
    alchemy.stream(target, CONTEXT).close()


def test_the_mutated_context_is_checked_without_changing_it() -> None:
    context = Context(messages=[UserMessage("hi")])
    context.messages.append(ToolResultMessage("c", "f", "ok"))
    alchemy.stream(LOCAL, context).close()
    context.messages.append("oops")
    with pytest.raises(TypeError, match=r"Context messages\[2\]"):
        alchemy.stream(LOCAL, context)



# --------------------------------------------------------------------------- the README's examples


def _readme_python_blocks() -> list[str]:
    import re

    text = (support.ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_readme_first_example_without_a_key_raises_before_sending() -> None:
    first = _readme_python_blocks()[0]
    streaming_part = first.split("\nmessage = alchemy.complete(")[0]  # the rest shows other calls
    with pytest.raises(MissingApiKeyError, match="ANTHROPIC_API_KEY"):
        exec(compile(streaming_part, "README.md", "exec"), {})


def test_the_readme_testing_snippet_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    snippet = next(block for block in _readme_python_blocks() if "ReplayServer()" in block)
    exec(compile(snippet, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("error ") and "connection was lost" in printed[0]
    assert printed[1] == "2 claude-sonnet-4-5"  # the 429, then the retry that was cut
