"""What a call may ask for: every option declared once, checked at the call.

``stream`` / ``astream`` / ``complete`` / ``acomplete`` (and ``*_simple``) check
their keyword options here before returning a stream and before any I/O: an unknown
name, a wrong type, a value out of range, or an option the model's wire API cannot
carry raises ``TypeError`` / ``ValueError`` naming the option. The declarations are
in :data:`OPTIONS` (see :class:`Option`); the README's option table and the typed
dicts (:class:`CallOptions`, one per wire API) are generated from them.
"""

from __future__ import annotations

from ._check import accepted_options, check_named_tool, check_options
from ._kinds import Kind
from ._stream_options import PayloadHook, ResponseHook, StreamOptions
from ._table import (
    BUILTIN_APIS,
    OPTIONS,
    OPTIONS_BY_NAME,
    THINKING_LEVELS,
    TRANSPORT_OPTIONS,
    Option,
    carried_options,
    carrying_apis,
)
from ._tool_choice import ToolChoice, named_tool, parse_tool_choice
from ._typed import (
    AnthropicMessagesOptions,
    AzureOpenAIResponsesOptions,
    BedrockConverseStreamOptions,
    CallOptions,
    CohereChatOptions,
    GoogleGenerativeAIOptions,
    GoogleVertexOptions,
    MistralConversationsOptions,
    OpenAICompletionsOptions,
    OpenAIResponsesOptions,
)

__all__ = [
    "BUILTIN_APIS",
    "OPTIONS",
    "OPTIONS_BY_NAME",
    "THINKING_LEVELS",
    "TRANSPORT_OPTIONS",
    "AnthropicMessagesOptions",
    "AzureOpenAIResponsesOptions",
    "BedrockConverseStreamOptions",
    "CallOptions",
    "CohereChatOptions",
    "GoogleGenerativeAIOptions",
    "GoogleVertexOptions",
    "Kind",
    "MistralConversationsOptions",
    "OpenAICompletionsOptions",
    "OpenAIResponsesOptions",
    "Option",
    "PayloadHook",
    "ResponseHook",
    "StreamOptions",
    "ToolChoice",
    "accepted_options",
    "carried_options",
    "carrying_apis",
    "check_named_tool",
    "check_options",
    "named_tool",
    "parse_tool_choice",
]
