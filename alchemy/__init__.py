"""alchemy: one fast streaming API over every major LLM provider.

``import alchemy`` stays cheap: the registry, providers, HTTP client and tokenizer
load on first use. Names marked lazy below are resolved by ``__getattr__``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._speedups import IMPLEMENTATION
from .errors import AlchemyError, SSEError
from .types import (
    AssistantMessage,
    Context,
    Cost,
    ImageContent,
    Message,
    Model,
    ModelCapabilities,
    ModelCost,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
)

__version__ = "0.1.0"

# name -> module that defines it, imported on first access.
_LAZY: dict[str, str] = {}

__all__ = [
    "IMPLEMENTATION",
    "AlchemyError",
    "AssistantMessage",
    "Context",
    "Cost",
    "ImageContent",
    "Message",
    "Model",
    "ModelCapabilities",
    "ModelCost",
    "SSEError",
    "TextContent",
    "ThinkingContent",
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
