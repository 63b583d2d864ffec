"""Provider JSON that does not parse the way a parser expects: one repair and one error.

**Lone surrogates.** JSON text may escape a UTF-16 surrogate that has no partner
(``"\\ud800"``); a model cut mid-emoji, or a proxy that splits strings by UTF-16
units, sends them. ``orjson`` refuses such a chunk as a whole, since it cannot
make a ``str`` that is not valid Unicode. :func:`loads_replacing_lone_surrogates`
parses the chunk again with each lone surrogate escape replaced by U+FFFD, the
replacement character, so one bad character costs one character, not the stream.
Parsers call it only after ``orjson.loads`` refused a chunk, so the per-chunk path
is untouched; well-formed pairs (``"\\ud83d\\ude00"``) are left alone.

**Events of an unexpected shape.** When an event is valid JSON but a field is
missing or of the wrong JSON type, the parser's own code fails with ``KeyError``,
``TypeError``, ``AttributeError`` or ``IndexError``. The parsers' dispatch (the
SSE base parser, Bedrock's frame dispatch) turns any of them into one
:class:`MalformedEventError` that names the event and shows it; the runner adds the
provider's name. The stream ends with a ``malformed_response`` error, keeping what
was received, instead of bare Python text.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from ..errors import ProviderStreamError

__all__ = ["NOT_JSON", "SHAPE_ERRORS", "MalformedEventError", "loads_replacing_lone_surrogates"]

NOT_JSON: Final[Any] = object()
"""What :func:`loads_replacing_lone_surrogates` returns for a chunk it cannot save."""

SHAPE_ERRORS: Final = (KeyError, TypeError, AttributeError, IndexError)
"""What a parser's code raises on an event whose fields are missing or of the wrong type."""

# Scanned left to right, an escaped backslash is consumed whole, so a "\u" found
# after it is really the start of an escape. Of the three escape shapes, only the
# 6-byte one (a surrogate without its partner) is replaced.
_SURROGATE_ESCAPES: Final = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)
_LONE_ESCAPE_LENGTH: Final = 6
_REPLACEMENT_ESCAPE: Final = b"\\ufffd"

_PREVIEW_BYTES: Final = 300


def _replace_lone(match: re.Match[bytes]) -> bytes:
    text = match.group()
    return _REPLACEMENT_ESCAPE if len(text) == _LONE_ESCAPE_LENGTH else text


def loads_replacing_lone_surrogates(data: bytes | bytearray | memoryview | str) -> Any:
    """Parses a chunk ``orjson.loads`` refused, with every lone surrogate escape made U+FFFD.

    Returns :data:`NOT_JSON` when the chunk has no lone surrogate escape (it is
    broken some other way) or is still not JSON once they are replaced; the caller
    then reports the error ``orjson`` gave.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    repaired = _SURROGATE_ESCAPES.sub(_replace_lone, raw)
    if repaired == raw:
        return NOT_JSON
    try:
        return orjson.loads(repaired)
    except orjson.JSONDecodeError:
        return NOT_JSON


class MalformedEventError(ProviderStreamError):
    """An event whose fields are missing or of the wrong JSON type (kind ``malformed_response``).

    ``event`` names it: the SSE event name, or the ``type`` (else ``object``) field of
    its JSON when the stream names no events. The message says what was wrong and
    shows the start of the event, so the field can be seen; ``source`` (the provider's
    name, which the runner adds with :meth:`sent_by`) leads it when known.
    """

    def __init__(self, event: str, data: bytes | str, cause: BaseException, source: str | None = None) -> None:
        self.event = _event_type(event, data)
        self.data = data
        self.cause = cause
        self.source = source
        sender = f"{source} sent " if source else ""
        super().__init__(
            f"{sender}a {self.event} event of an unexpected shape: {_what_went_wrong(cause)}; "
            f"the event: {_preview(data)}",
            kind="malformed_response",
        )

    def sent_by(self, source: str) -> MalformedEventError:
        """The same error, its message led by the provider's name."""
        return self if self.source else MalformedEventError(self.event, self.data, self.cause, source)


def _event_type(event: str, data: bytes | str) -> str:
    if event and event != "message":
        return event
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        return event or "message"
    if isinstance(payload, dict):
        for field in ("type", "object"):
            value = payload.get(field)
            if isinstance(value, str) and value:
                return value
    return event or "message"


def _what_went_wrong(cause: BaseException) -> str:
    if isinstance(cause, KeyError):
        return f"the field {cause.args[0]!r} is missing" if cause.args else "a field is missing"
    if isinstance(cause, IndexError):
        return f"a list is shorter than expected ({cause})"
    return f"a field has the wrong JSON type ({cause})"


def _preview(data: bytes | str) -> str:
    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
    return text if len(text) <= _PREVIEW_BYTES else text[:_PREVIEW_BYTES] + "..."
