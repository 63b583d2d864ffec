"""Tools for testing code built on alchemy without a network.

* :class:`ScriptedProvider` (:mod:`alchemy.testing.scripted`) streams a response you
  write down chunk by chunk, through the real event protocol: register it for an
  api, call ``alchemy.stream`` / ``complete`` with :func:`scripted_model`, and
  assert on the events, the final message and the recorded calls.
"""

from __future__ import annotations

from .scripted import (
    SCRIPTED_API,
    AsyncScriptedSource,
    Chunk,
    ErrorChunk,
    FailChunk,
    ResponseIdChunk,
    Script,
    ScriptedCall,
    ScriptedProvider,
    ScriptedSource,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    UsageChunk,
    error,
    fail,
    response_id,
    scripted_model,
    stop,
    text,
    thinking,
    tool_call,
    usage,
)

__all__ = [
    "SCRIPTED_API",
    "AsyncScriptedSource",
    "Chunk",
    "ErrorChunk",
    "FailChunk",
    "ResponseIdChunk",
    "Script",
    "ScriptedCall",
    "ScriptedProvider",
    "ScriptedSource",
    "StopChunk",
    "TextChunk",
    "ThinkingChunk",
    "ToolCallChunk",
    "UsageChunk",
    "error",
    "fail",
    "response_id",
    "scripted_model",
    "stop",
    "text",
    "thinking",
    "tool_call",
    "usage",
]
