"""How each wire API frames a stream: event bytes, content type, terminator.

A recording holds bare JSON payloads; a :class:`Framing` turns each one into the
bytes the provider really sends:

=========================  =============================================  ======================================
wire API                   one event on the wire                          end of stream
=========================  =============================================  ======================================
openai-completions,        ``data: <json>\\n\\n``                           ``data: [DONE]\\n\\n``
mistral-conversations
anthropic-messages,        ``event: <json "type">\\ndata: <json>\\n\\n``     (none; ``message_stop`` /
openai-responses,                                                         ``response.completed`` are events)
azure-openai-responses
google-generative-ai,      ``data: <json>\\r\\n\\r\\n``                       (none)
google-vertex
bedrock-converse-stream    AWS event-stream message, ``:event-type`` =    (none)
                           the line's single key, payload = its value
cohere-chat                ``event: <json "type">\\ndata: <json>\\n\\n``     (none; ``message-end`` is an event)
=========================  =============================================  ======================================

Payloads spanning several lines (pretty-printed JSON) are split over several
``data:`` lines, as the server-sent-events format requires.

The APIs and which format each one shares come from :mod:`alchemy.wire_apis`; this
module adds only how each format frames a recorded payload.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import orjson

from .. import wire_apis
from .eventstream import EVENTSTREAM_CONTENT_TYPE, encode_event, encode_exception

__all__ = [
    "ANTHROPIC_MESSAGES",
    "AZURE_OPENAI_RESPONSES",
    "BEDROCK_CONVERSE_STREAM",
    "COHERE_CHAT",
    "GOOGLE_GENERATIVE_AI",
    "GOOGLE_VERTEX",
    "MISTRAL_CONVERSATIONS",
    "OPENAI_COMPLETIONS",
    "OPENAI_RESPONSES",
    "FRAMINGS_BY_FORMAT",
    "WIRE_APIS",
    "BedrockEventStreamFraming",
    "Framing",
    "GeminiSSEFraming",
    "NamedEventSSEFraming",
    "SSEDataFraming",
    "framing_for",
]

OPENAI_COMPLETIONS = wire_apis.OPENAI_COMPLETIONS.name
MISTRAL_CONVERSATIONS = wire_apis.MISTRAL_CONVERSATIONS.name
ANTHROPIC_MESSAGES = wire_apis.ANTHROPIC_MESSAGES.name
OPENAI_RESPONSES = wire_apis.OPENAI_RESPONSES.name
AZURE_OPENAI_RESPONSES = wire_apis.AZURE_OPENAI_RESPONSES.name
GOOGLE_GENERATIVE_AI = wire_apis.GOOGLE_GENERATIVE_AI.name
GOOGLE_VERTEX = wire_apis.GOOGLE_VERTEX.name
BEDROCK_CONVERSE_STREAM = wire_apis.BEDROCK_CONVERSE_STREAM.name
COHERE_CHAT = wire_apis.COHERE_CHAT.name

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


class Framing(ABC):
    """The byte-level form of one wire API's stream."""

    content_type: str = SSE_CONTENT_TYPE
    terminator: bytes = b""
    """Bytes sent after the last event of a complete stream (empty when there are none)."""

    @abstractmethod
    def frame(self, payload: bytes, alter: Callable[[bytes], bytes] | None = None) -> bytes:
        """One recorded payload (JSON text) as it appears on the wire.

        ``alter`` rewrites the data part only (after the framing took what it needs
        from the payload, such as the SSE event name): fault injection uses it to
        corrupt JSON without breaking the framing around it.
        """

    def frame_error(self, error_type: str, payload: bytes) -> bytes:
        """An error reported inside a 200 stream; most APIs send it as an ordinary event."""
        return self.frame(payload)


def _sse_data_lines(payload: bytes, line_end: bytes) -> bytes:
    """``data:`` lines for a payload, one per line of the payload."""
    if b"\n" not in payload and b"\r" not in payload:
        return b"data: " + payload + line_end
    lines = payload.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return b"".join(b"data: " + line + line_end for line in lines)


class SSEDataFraming(Framing):
    """OpenAI Chat Completions and Mistral: unnamed ``data:`` events, then ``[DONE]``."""

    terminator = b"data: [DONE]\n\n"

    def frame(self, payload: bytes, alter: Callable[[bytes], bytes] | None = None) -> bytes:
        data = alter(payload) if alter is not None else payload
        return _sse_data_lines(data, b"\n") + b"\n"


class NamedEventSSEFraming(Framing):
    """Anthropic Messages, OpenAI Responses and Cohere: ``event:`` named after the JSON ``type``."""

    def frame(self, payload: bytes, alter: Callable[[bytes], bytes] | None = None) -> bytes:
        event_type = _json_type(payload)
        head = b"event: " + event_type.encode("utf-8") + b"\n" if event_type else b""
        data = alter(payload) if alter is not None else payload
        return head + _sse_data_lines(data, b"\n") + b"\n"


def _json_type(payload: bytes) -> str | None:
    """The top-level ``type`` string of a JSON object payload, if it has one."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict):
        event_type = value.get("type")
        if isinstance(event_type, str) and "\n" not in event_type and "\r" not in event_type:
            return event_type
    return None


class GeminiSSEFraming(Framing):
    """Gemini ``streamGenerateContent?alt=sse``: ``data:`` events with CRLF line ends, no sentinel."""

    content_type = "text/event-stream"

    def frame(self, payload: bytes, alter: Callable[[bytes], bytes] | None = None) -> bytes:
        data = alter(payload) if alter is not None else payload
        return _sse_data_lines(data, b"\r\n") + b"\r\n"


class BedrockEventStreamFraming(Framing):
    """Bedrock ConverseStream: each ``{"<eventType>": {...}}`` line becomes one event-stream message."""

    content_type = EVENTSTREAM_CONTENT_TYPE

    def frame(self, payload: bytes, alter: Callable[[bytes], bytes] | None = None) -> bytes:
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ValueError(
                f"a Bedrock recording line must be a JSON object with one key (the event type), got {payload[:80]!r}"
            ) from None
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError(
                "a Bedrock recording line must be a JSON object with exactly one key (the event type), "
                f"got {payload[:80]!r}"
            )
        ((event_type, body),) = value.items()
        data = orjson.dumps(body)
        return encode_event(event_type, alter(data) if alter is not None else data)

    def frame_error(self, error_type: str, payload: bytes) -> bytes:
        return encode_exception(error_type, payload)


_SSE_DATA = SSEDataFraming()
_NAMED_EVENTS = NamedEventSSEFraming()
_GEMINI = GeminiSSEFraming()
_BEDROCK = BedrockEventStreamFraming()

FRAMINGS_BY_FORMAT: dict[str, Framing] = {
    OPENAI_COMPLETIONS: _SSE_DATA,
    MISTRAL_CONVERSATIONS: _SSE_DATA,
    ANTHROPIC_MESSAGES: _NAMED_EVENTS,
    OPENAI_RESPONSES: _NAMED_EVENTS,
    GOOGLE_GENERATIVE_AI: _GEMINI,
    BEDROCK_CONVERSE_STREAM: _BEDROCK,
    COHERE_CHAT: _NAMED_EVENTS,
}
"""The framing of each wire format (an API's ``wire_format`` in :mod:`alchemy.wire_apis`)."""

WIRE_APIS: tuple[str, ...] = tuple(wire_apis.WIRE_APIS)
"""Every wire API the replay server can speak: all of :data:`alchemy.wire_apis.WIRE_APIS`."""


def framing_for(api: str) -> Framing:
    """The framing of a wire API; raises ``ValueError`` naming the known APIs."""
    known = wire_apis.WIRE_APIS.get(api)
    if known is None:
        raise ValueError(f"unknown wire API {api!r}; the replay server speaks {', '.join(WIRE_APIS)}")
    return FRAMINGS_BY_FORMAT[known.wire_format]
