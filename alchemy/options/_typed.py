"""Typed keyword options per wire API, generated from the option table (do not edit).

Regenerate with ``python -m alchemy.options typed > alchemy/options/_typed.py``. Use them
with ``Unpack`` to have a type checker check option names and types::

    def ask(**options: Unpack[AnthropicMessagesOptions]) -> None: ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    import httpx

    from ..abort import AbortSignal
    from ..server_tools import ServerTool

__all__ = [
    "CallOptions",
    "AnthropicMessagesOptions",
    "AzureOpenAIResponsesOptions",
    "BedrockConverseStreamOptions",
    "CohereChatOptions",
    "GoogleGenerativeAIOptions",
    "GoogleVertexOptions",
    "MistralConversationsOptions",
    "OpenAICompletionsOptions",
    "OpenAIResponsesOptions",
]


class CallOptions(TypedDict, total=False):
    """Every option of any wire API (what ``stream(**options)`` takes)."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    metadata: Mapping[str, Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    logprobs: bool | None
    top_logprobs: int | None
    parallel_tool_calls: bool | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    user: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    server_tools: Sequence[ServerTool] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    reasoning_effort: Literal['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] | None
    reasoning_summary: Literal['auto', 'concise', 'detailed'] | None
    service_tier: Literal['auto', 'default', 'flex', 'priority', 'scale'] | None
    prompt_cache_key: str | None
    compat: Mapping[str, Any] | None
    azure_base_url: str | None
    azure_resource_name: str | None
    azure_api_version: str | None
    azure_deployment_name: str | None
    thinking_enabled: bool | None
    thinking_budget_tokens: int | None
    effort: Literal['low', 'medium', 'high', 'xhigh', 'max'] | None
    interleaved_thinking: bool | None
    region: str | None
    profile: str | None
    thinking_budget: int | None
    thinking_level: Literal['minimal', 'low', 'medium', 'high'] | None
    tool_schema: Literal['json_schema', 'openapi'] | None
    project: str | None
    location: str | None
    credentials: Any | None
    stream_tool_arguments: bool | None
    prompt_mode: Literal['reasoning'] | None


class OpenAICompletionsOptions(TypedDict, total=False):
    """The options of ``openai-completions``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    metadata: Mapping[str, Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    logprobs: bool | None
    top_logprobs: int | None
    parallel_tool_calls: bool | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    user: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    server_tools: Sequence[ServerTool] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    reasoning_effort: Literal['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] | None
    service_tier: Literal['auto', 'default', 'flex', 'priority', 'scale'] | None
    prompt_cache_key: str | None
    compat: Mapping[str, Any] | None


class OpenAIResponsesOptions(TypedDict, total=False):
    """The options of ``openai-responses``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    metadata: Mapping[str, Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    top_p: float | None
    logprobs: bool | None
    top_logprobs: int | None
    parallel_tool_calls: bool | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    user: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    server_tools: Sequence[ServerTool] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    reasoning_effort: Literal['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] | None
    reasoning_summary: Literal['auto', 'concise', 'detailed'] | None
    service_tier: Literal['auto', 'default', 'flex', 'priority', 'scale'] | None


class AzureOpenAIResponsesOptions(TypedDict, total=False):
    """The options of ``azure-openai-responses``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    metadata: Mapping[str, Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    top_p: float | None
    logprobs: bool | None
    top_logprobs: int | None
    parallel_tool_calls: bool | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    user: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    server_tools: Sequence[ServerTool] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    reasoning_effort: Literal['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] | None
    reasoning_summary: Literal['auto', 'concise', 'detailed'] | None
    azure_base_url: str | None
    azure_resource_name: str | None
    azure_api_version: str | None
    azure_deployment_name: str | None


class AnthropicMessagesOptions(TypedDict, total=False):
    """The options of ``anthropic-messages``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    metadata: Mapping[str, Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    top_k: int | None
    parallel_tool_calls: bool | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    user: str | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    server_tools: Sequence[ServerTool] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    thinking_enabled: bool | None
    thinking_budget_tokens: int | None
    effort: Literal['low', 'medium', 'high', 'xhigh', 'max'] | None
    interleaved_thinking: bool | None


class BedrockConverseStreamOptions(TypedDict, total=False):
    """The options of ``bedrock-converse-stream``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    metadata: Mapping[str, Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    top_k: int | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    interleaved_thinking: bool | None
    region: str | None
    profile: str | None


class GoogleGenerativeAIOptions(TypedDict, total=False):
    """The options of ``google-generative-ai``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    logprobs: bool | None
    top_logprobs: int | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    server_tools: Sequence[ServerTool] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    thinking_enabled: bool | None
    thinking_budget: int | None
    thinking_level: Literal['minimal', 'low', 'medium', 'high'] | None
    tool_schema: Literal['json_schema', 'openapi'] | None


class GoogleVertexOptions(TypedDict, total=False):
    """The options of ``google-vertex``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    metadata: Mapping[str, Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    logprobs: bool | None
    top_logprobs: int | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    server_tools: Sequence[ServerTool] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    thinking_enabled: bool | None
    thinking_budget: int | None
    thinking_level: Literal['minimal', 'low', 'medium', 'high'] | None
    tool_schema: Literal['json_schema', 'openapi'] | None
    project: str | None
    location: str | None
    credentials: Any | None
    stream_tool_arguments: bool | None


class MistralConversationsOptions(TypedDict, total=False):
    """The options of ``mistral-conversations``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    seed: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    parallel_tool_calls: bool | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    reasoning_effort: Literal['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] | None
    prompt_mode: Literal['reasoning'] | None


class CohereChatOptions(TypedDict, total=False):
    """The options of ``cohere-chat``."""

    temperature: float | None
    max_tokens: int | None
    api_key: str | None
    headers: Mapping[str, str] | None
    signal: AbortSignal | None
    session_id: str | None
    tags: Mapping[str, str] | None
    cache_retention: Literal['none', 'short', 'long'] | None
    on_payload: Callable[..., Any] | None
    on_response: Callable[..., Any] | None
    timeout: float | None
    max_retries: int | None
    max_retry_delay: float | None
    reasoning: Literal['off', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] | None
    thinking_budgets: Mapping[str, int] | None
    client: httpx.Client | httpx.AsyncClient | None
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None
    stop: str | Sequence[str] | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    tool_choice: Literal["auto", "none", "required", "any"] | Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    response_format: Mapping[str, Any] | type | str | None
    output_schema: Mapping[str, Any] | None
    foreign_thinking: Literal['drop', 'text'] | None
    foreign_server_tools: Literal['drop', 'text'] | None
    thinking_enabled: bool | None
    thinking_budget_tokens: int | None
