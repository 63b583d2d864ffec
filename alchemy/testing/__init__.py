"""Tools for testing code built on alchemy without a network.

* :class:`ScriptedProvider` (:mod:`alchemy.testing.scripted`) streams a response you
  write down chunk by chunk, through the real event protocol: register it for an
  api, call ``alchemy.stream`` / ``complete`` with :func:`scripted_model`, and
  assert on the events, the final message and the recorded calls.
* :class:`ReplayServer` (:mod:`alchemy.testing.replay`) is a real HTTP server on
  127.0.0.1 that streams recorded provider responses in each wire API's own
  framing, with chunking, pacing and fault injection (:class:`Replay`, the fault
  classes), and records every request it gets. Its names load on first use, so
  importing this package for the scripted provider stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .scripted import (
    SCRIPTED_API,
    AsyncScriptedSource,
    Chunk,
    CitationChunk,
    ErrorChunk,
    FailChunk,
    PausedChunk,
    ResponseIdChunk,
    Script,
    ScriptedCall,
    ScriptedProvider,
    ScriptedSource,
    ServerToolChunk,
    StopChunk,
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    UsageChunk,
    citation,
    error,
    fail,
    paused,
    response_id,
    scripted_model,
    server_tool,
    stop,
    text,
    thinking,
    tool_call,
    usage,
)

if TYPE_CHECKING:
    from .captured import RecordedRequest as RecordedRequest
    from .chunking import ByBytes as ByBytes, ByEvent as ByEvent, RandomSizes as RandomSizes
    from .faults import (
        CorruptFrame as CorruptFrame,
        Drop as Drop,
        ErrorEvent as ErrorEvent,
        HttpError as HttpError,
        InvalidUtf8 as InvalidUtf8,
        MalformedJson as MalformedJson,
        Stall as Stall,
    )
    from .plan import Replay as Replay
    from .recordings import (
        Raw as Raw,
        Recording as Recording,
        bundled_recording_names as bundled_recording_names,
        load_recording as load_recording,
    )
    from .replay import REPLAY_HEADER as REPLAY_HEADER, ReplayServer as ReplayServer

# name -> submodule, imported on first access (the server pulls in asyncio and h11).
_LAZY: dict[str, str] = {
    "RecordedRequest": "captured",
    "ByBytes": "chunking",
    "ByEvent": "chunking",
    "RandomSizes": "chunking",
    "CorruptFrame": "faults",
    "Drop": "faults",
    "ErrorEvent": "faults",
    "HttpError": "faults",
    "InvalidUtf8": "faults",
    "MalformedJson": "faults",
    "Stall": "faults",
    "Replay": "plan",
    "Raw": "recordings",
    "Recording": "recordings",
    "bundled_recording_names": "recordings",
    "load_recording": "recordings",
    "REPLAY_HEADER": "replay",
    "ReplayServer": "replay",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alchemy.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    *_LAZY,
    "SCRIPTED_API",
    "AsyncScriptedSource",
    "Chunk",
    "CitationChunk",
    "ErrorChunk",
    "FailChunk",
    "PausedChunk",
    "ResponseIdChunk",
    "Script",
    "ScriptedCall",
    "ScriptedProvider",
    "ScriptedSource",
    "ServerToolChunk",
    "StopChunk",
    "TextChunk",
    "ThinkingChunk",
    "ToolCallChunk",
    "UsageChunk",
    "citation",
    "error",
    "fail",
    "paused",
    "response_id",
    "scripted_model",
    "server_tool",
    "stop",
    "text",
    "thinking",
    "tool_call",
    "usage",
]
