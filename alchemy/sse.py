"""Server-sent events: the public names of the SSE kernel.

``SSEDecoder`` turns network bytes into ``ServerSentEvent`` objects following the
WHATWG parsing rules exactly; which twin (compiled or pure) backs it is decided
once in :mod:`alchemy._speedups`.
"""

from __future__ import annotations

from ._speedups import ServerSentEvent, SSEDecoder
from .errors import SSEError

__all__ = ["SSEDecoder", "SSEError", "ServerSentEvent"]
