"""AWS event streams: the public names of the event-stream kernel.

``EventStreamDecoder`` turns the bytes of an ``application/vnd.amazon.eventstream``
body (Bedrock's ConverseStream, other AWS streaming APIs) into
``EventStreamMessage`` objects, checking both CRC32s of every message; which twin
(compiled or pure) backs it is decided once in :mod:`alchemy._speedups`.
"""

from __future__ import annotations

from ._speedups import EventStreamDecoder, EventStreamMessage
from .errors import EventStreamError

__all__ = ["EventStreamDecoder", "EventStreamError", "EventStreamMessage"]
