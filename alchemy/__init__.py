"""alchemy: one fast streaming API over every major LLM provider.

``import alchemy`` stays cheap: the registry, providers, HTTP client and tokenizer
load on first use. Names marked lazy below are resolved by ``__getattr__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._speedups import IMPLEMENTATION
from .errors import (
    ERROR_KINDS,
    AbortedError,
    AlchemyError,
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    ContentFilterError,
    ContextOverflowError,
    ErrorInfo,
    ErrorKind,
    EventStreamError,
    InvalidOutputError,
    InvalidRequestError,
    MalformedResponseError,
    MissingApiKeyError,
    MissingConfigurationError,
    ModelNotFoundError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    SSEError,
    StreamProtocolError,
    ToolValidationError,
    UnknownApiError,
    UnsupportedCapabilityError,
)
from .types import (
    AssistantMessage,
    BuiltinTool,
    Citation,
    Context,
    CustomTool,
    Cost,
    ImageContent,
    Message,
    Model,
    ModelCapabilities,
    ModelCost,
    ServerToolCall,
    StreamMetrics,
    TextContent,
    ThinkingContent,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

if TYPE_CHECKING:
    from .models import get_model as get_model
    from .models import get_models as get_models
    from .models import get_providers as get_providers
    from .models import search_models as search_models
    from .models import register_model as register_model
    from .models import get_env_api_key as get_env_api_key
    from .models import calculate_cost as calculate_cost
    from .models import refresh_models as refresh_models
    from .tokens import count_tokens as count_tokens
    from .tokens import fits_context as fits_context
    from .tokens import TokenCount as TokenCount
    from .transform import transform_messages as transform_messages
    from .tool_ids import tool_call_id_normalizer as tool_call_id_normalizer
    from .tool_ids import keep_tool_call_id as keep_tool_call_id
    from .capabilities import shape_request as shape_request
    from .capabilities import RequestValues as RequestValues
    from .capabilities import ShapedRequest as ShapedRequest
    from .capabilities import ShapingNote as ShapingNote
    from .sanitize import sanitize_surrogates as sanitize_surrogates
    from .validation import validate_tool_call as validate_tool_call
    from .function_tools import tool as tool
    from .function_tools import FunctionTool as FunctionTool
    from .tool_loop import run_tools as run_tools
    from .tool_loop import arun_tools as arun_tools
    from .tool_loop import ToolRun as ToolRun
    from .tool_loop import AsyncToolRun as AsyncToolRun
    from .tool_loop import ToolRunResult as ToolRunResult
    from .events import ToolResult as ToolResult
    from .overflow import is_context_overflow as is_context_overflow
    from .overflow import classify_error as classify_error
    from .rate_limits import RateLimit as RateLimit
    from .model_facts import THINKING_LEVELS as THINKING_LEVELS
    from .model_facts import supported_thinking_levels as supported_thinking_levels
    from .model_facts import clamp_thinking_level as clamp_thinking_level
    from .streaming import stream as stream
    from .streaming import astream as astream
    from .streaming import complete as complete
    from .streaming import acomplete as acomplete
    from .streaming import stream_simple as stream_simple
    from .streaming import astream_simple as astream_simple
    from .streaming import complete_simple as complete_simple
    from .streaming import acomplete_simple as acomplete_simple
    from .streaming import AssistantMessageEventStream as AssistantMessageEventStream
    from .streaming import AsyncAssistantMessageEventStream as AsyncAssistantMessageEventStream
    from .client import Client as Client
    from .client import HealthReport as HealthReport
    from .types import Attempt as Attempt
    from .options import StreamOptions as StreamOptions
    from .events import AssistantMessageEvent as AssistantMessageEvent
    from .events import Start as Start
    from .events import TextStart as TextStart
    from .events import TextDelta as TextDelta
    from .events import TextEnd as TextEnd
    from .events import ThinkingStart as ThinkingStart
    from .events import ThinkingDelta as ThinkingDelta
    from .events import ThinkingEnd as ThinkingEnd
    from .events import ToolCallStart as ToolCallStart
    from .events import ToolCallDelta as ToolCallDelta
    from .events import ToolCallEnd as ToolCallEnd
    from .events import ServerToolStart as ServerToolStart
    from .events import ServerToolDelta as ServerToolDelta
    from .events import ServerToolEnd as ServerToolEnd
    from .events import Done as Done
    from .events import Error as Error
    from .server_tools import ServerTool as ServerTool
    from .server_tools import WebSearch as WebSearch
    from .server_tools import WebFetch as WebFetch
    from .server_tools import CodeExecution as CodeExecution
    from .server_tools import FileSearch as FileSearch
    from .server_tools import McpServer as McpServer
    from .server_tools import ImageGeneration as ImageGeneration
    from .server_tools import ToolSearch as ToolSearch
    from .server_tools import UserLocation as UserLocation
    from .server_tools import approve as approve
    from .server_tools import needs_continuation as needs_continuation
    from .server_tools import supported_server_tools as supported_server_tools
    from .emitter import EventEmitter as EventEmitter
    from .abort import AbortController as AbortController
    from .abort import AbortSignal as AbortSignal
    from .api_registry import register_api as register_api
    from .api_registry import unregister_api as unregister_api
    from .api_registry import get_api as get_api
    from .api_registry import ApiProvider as ApiProvider
    from .api_registry import EventSource as EventSource
    from .api_registry import AsyncEventSource as AsyncEventSource
    from .providers.openai_compat import set_provider_compat as set_provider_compat
    from .providers.openai_compat import clear_provider_compat as clear_provider_compat
    from .json import JsonDeltaMerger as JsonDeltaMerger
    from .json import parse_partial_json as parse_partial_json
    from .eventstream import EventStreamDecoder as EventStreamDecoder
    from .eventstream import EventStreamMessage as EventStreamMessage

__version__ = "0.1.0"

# name -> module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    # model registry, cost accounting, token counting
    "get_model": "alchemy.models",
    "get_models": "alchemy.models",
    "get_providers": "alchemy.models",
    "search_models": "alchemy.models",
    "register_model": "alchemy.models",
    "get_env_api_key": "alchemy.models",
    "calculate_cost": "alchemy.models",
    "refresh_models": "alchemy.models",
    "count_tokens": "alchemy.tokens",
    "fits_context": "alchemy.tokens",
    "TokenCount": "alchemy.tokens",
    # conversation shaping: handoff, capabilities, surrogates, tool validation, overflow
    "transform_messages": "alchemy.transform",
    "tool_call_id_normalizer": "alchemy.tool_ids",
    "keep_tool_call_id": "alchemy.tool_ids",
    "shape_request": "alchemy.capabilities",
    "RequestValues": "alchemy.capabilities",
    "ShapedRequest": "alchemy.capabilities",
    "ShapingNote": "alchemy.capabilities",
    "sanitize_surrogates": "alchemy.sanitize",
    "validate_tool_call": "alchemy.validation",
    # tools from Python functions and the tool-running loop
    "tool": "alchemy.function_tools",
    "FunctionTool": "alchemy.function_tools",
    "run_tools": "alchemy.tool_loop",
    "arun_tools": "alchemy.tool_loop",
    "ToolRun": "alchemy.tool_loop",
    "AsyncToolRun": "alchemy.tool_loop",
    "ToolRunResult": "alchemy.tool_loop",
    "ToolResult": "alchemy.events",
    "is_context_overflow": "alchemy.overflow",
    # why a stream failed, and the rate limits a provider reported
    "classify_error": "alchemy.overflow",
    "RateLimit": "alchemy.rate_limits",
    # reasoning levels per model (model facts written once)
    "THINKING_LEVELS": "alchemy.model_facts",
    "supported_thinking_levels": "alchemy.model_facts",
    "clamp_thinking_level": "alchemy.model_facts",
    # streaming: the API, its events, abort, and the provider registry
    "stream": "alchemy.streaming",
    "astream": "alchemy.streaming",
    "complete": "alchemy.streaming",
    "acomplete": "alchemy.streaming",
    "stream_simple": "alchemy.streaming",
    "astream_simple": "alchemy.streaming",
    "complete_simple": "alchemy.streaming",
    "acomplete_simple": "alchemy.streaming",
    "AssistantMessageEventStream": "alchemy.streaming",
    "AsyncAssistantMessageEventStream": "alchemy.streaming",
    # the Client: held defaults, fallback chains, health checks
    "Client": "alchemy.client",
    "HealthReport": "alchemy.client",
    "Attempt": "alchemy.types",
    "StreamOptions": "alchemy.options",
    "AssistantMessageEvent": "alchemy.events",
    "Start": "alchemy.events",
    "TextStart": "alchemy.events",
    "TextDelta": "alchemy.events",
    "TextEnd": "alchemy.events",
    "ThinkingStart": "alchemy.events",
    "ThinkingDelta": "alchemy.events",
    "ThinkingEnd": "alchemy.events",
    "ToolCallStart": "alchemy.events",
    "ToolCallDelta": "alchemy.events",
    "ToolCallEnd": "alchemy.events",
    "ServerToolStart": "alchemy.events",
    "ServerToolDelta": "alchemy.events",
    "ServerToolEnd": "alchemy.events",
    "Done": "alchemy.events",
    "Error": "alchemy.events",
    "ServerTool": "alchemy.server_tools",
    "WebSearch": "alchemy.server_tools",
    "WebFetch": "alchemy.server_tools",
    "CodeExecution": "alchemy.server_tools",
    "FileSearch": "alchemy.server_tools",
    "McpServer": "alchemy.server_tools",
    "ImageGeneration": "alchemy.server_tools",
    "ToolSearch": "alchemy.server_tools",
    "UserLocation": "alchemy.server_tools",
    "approve": "alchemy.server_tools",
    "needs_continuation": "alchemy.server_tools",
    "supported_server_tools": "alchemy.server_tools",
    "EventEmitter": "alchemy.emitter",
    "AbortController": "alchemy.abort",
    "AbortSignal": "alchemy.abort",
    "register_api": "alchemy.api_registry",
    "unregister_api": "alchemy.api_registry",
    "get_api": "alchemy.api_registry",
    "ApiProvider": "alchemy.api_registry",
    "EventSource": "alchemy.api_registry",
    "AsyncEventSource": "alchemy.api_registry",
    # OpenAI-compatible servers: runtime quirk overrides per provider
    "set_provider_compat": "alchemy.providers.openai_compat",
    "clear_provider_compat": "alchemy.providers.openai_compat",
    # streamed tool-call arguments
    "JsonDeltaMerger": "alchemy.json",
    "parse_partial_json": "alchemy.json",
    # AWS event streams (Bedrock)
    "EventStreamDecoder": "alchemy.eventstream",
    "EventStreamMessage": "alchemy.eventstream",
}

__all__ = [
    "IMPLEMENTATION",
    "EventStreamError",
    "MissingApiKeyError",
    "MissingConfigurationError",
    "ModelNotFoundError",
    "SSEError",
    "StreamProtocolError",
    "ToolValidationError",
    "UnknownApiError",
    "UnsupportedCapabilityError",
    "AlchemyError",
    "ERROR_KINDS",
    "AbortedError",
    "AuthenticationError",
    "BudgetExceededError",
    "CircuitOpenError",
    "ContentFilterError",
    "ContextOverflowError",
    "ErrorInfo",
    "ErrorKind",
    "InvalidOutputError",
    "InvalidRequestError",
    "MalformedResponseError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "ServerError",
    "AssistantMessage",
    "BuiltinTool",
    "Citation",
    "Context",
    "Cost",
    "CustomTool",
    "ImageContent",
    "Message",
    "Model",
    "ModelCapabilities",
    "ModelCost",
    "ServerToolCall",
    "StreamMetrics",
    "TextContent",
    "ThinkingContent",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolResultMessage",
    "Usage",
    "UserMessage",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'alchemy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
