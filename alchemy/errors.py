"""Every exception alchemy raises, in one module shared by the compiled and pure twins.

Errors that happen while a stream runs (HTTP errors, dropped connections, malformed
chunks) never surface as exceptions: they end the stream with an ``error`` event.
The exceptions below are for programmer errors and for the kernels' own limits,
raised at once with a message that says what to change.

Hierarchy::

    AlchemyError
    ├── SSEError                 (also ValueError) an SSE event exceeded max_event_bytes
"""

from __future__ import annotations

__all__ = ["AlchemyError", "SSEError"]


class AlchemyError(Exception):
    """Base class of every exception raised by alchemy."""


class SSEError(AlchemyError, ValueError):
    """The server-sent-events stream cannot be decoded within the decoder's limits."""
