"""Gemini's provider-executed tools, both ways: what the stream says they did, and what goes back.

From the stream (:class:`._google_stream.GeminiStreamParser` calls these):

* ``executableCode`` part -> :class:`~alchemy.types.ServerToolCall` ``"code_execution"``
  with ``input`` = the ``executableCode`` object as sent (``{language, code}``); the
  ``codeExecutionResult`` part that follows is its ``result`` as sent (``{outcome,
  output}``), status ``completed`` for ``OUTCOME_OK`` and ``failed`` otherwise. The
  parts' other fields (``thoughtSignature``...) are kept in ``wire`` as ``callPart``
  and ``resultPart``.
* ``toolCall`` / ``toolResponse`` parts (Gemini 3 combining built-in tools with
  function declarations, ``includeServerSideToolInvocations``) -> a ServerToolCall
  named after ``toolType`` (lower case), ``input`` = ``args``, ``result`` = ``response``;
  ``wire`` = ``{"toolType": ..., "callPart": ..., "resultPart": ...}``.
* ``groundingMetadata`` (Google Search grounding; on the candidate, usually with the
  last events) -> one ServerToolCall ``"google_search"`` (``"retrieval"`` when only
  ``retrievalQueries`` came), ``input`` ``{"queries": webSearchQueries}``, ``result``
  = the metadata without ``groundingSupports``; ``wire`` ``{"from": "groundingMetadata"}``.
  The supports become :class:`~alchemy.types.Citation` on the text blocks
  (:func:`grounding_citations`).
* ``urlContextMetadata`` -> ServerToolCall ``"url_context"``, ``input`` ``{"urls":
  [retrievedUrl...]}``, ``result`` = the metadata, status ``failed`` only when every
  URL failed; ``wire`` ``{"from": "urlContextMetadata"}``.

Metadata may come in several events: later objects are merged into the first
(:func:`merge_metadata`), so the block holds everything received.

Back to the API (:func:`replay_parts`): code execution and ``toolCall`` blocks become
their parts again, verbatim and in order; the metadata blocks (``wire["from"]``)
were response metadata, not parts of the model's turn, and send nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..types import Citation

if TYPE_CHECKING:
    from ..types import CitationKind, ServerToolCall, ServerToolStatus

__all__ = [
    "CODE_EXECUTION",
    "GOOGLE_SEARCH",
    "RETRIEVAL",
    "URL_CONTEXT",
    "TextLayout",
    "code_status",
    "grounding_citations",
    "grounding_input",
    "grounding_name",
    "grounding_result",
    "merge_metadata",
    "part_extras",
    "replay_parts",
    "url_context_input",
    "url_context_status",
]

CODE_EXECUTION: Final = "code_execution"
GOOGLE_SEARCH: Final = "google_search"
RETRIEVAL: Final = "retrieval"
URL_CONTEXT: Final = "url_context"
_OK_OUTCOME: Final = "OUTCOME_OK"
_URL_OK: Final = "URL_RETRIEVAL_STATUS_SUCCESS"


def part_extras(part: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The fields of ``part`` besides its ``key`` (``thoughtSignature``...), or ``None``."""
    extras = {k: v for k, v in part.items() if k != key}
    return extras or None


def code_status(result: Mapping[str, Any]) -> ServerToolStatus:
    return "completed" if result.get("outcome") == _OK_OUTCOME else "failed"


# --------------------------------------------------------------------------- metadata


def merge_metadata(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    """Merges one event's metadata object into what came before: a list that repeats the
    earlier one and goes on replaces it; another list adds the items not already there;
    anything else replaces the earlier value."""
    for key, value in new.items():
        old = into.get(key)
        if isinstance(old, list) and isinstance(value, list):
            if value[: len(old)] == old:
                into[key] = value
            else:
                into[key] = old + [item for item in value if item not in old]
        else:
            into[key] = value


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def grounding_name(metadata: Mapping[str, Any]) -> str:
    """``"retrieval"`` for retrieval-only grounding (Vertex AI Search, RAG), else ``"google_search"``."""
    if metadata.get("retrievalQueries") and not metadata.get("webSearchQueries"):
        return RETRIEVAL
    return GOOGLE_SEARCH


def grounding_input(metadata: Mapping[str, Any]) -> dict[str, Any]:
    queries = metadata.get("webSearchQueries") or metadata.get("retrievalQueries")
    return {"queries": _strings(queries)}


def grounding_result(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata without the supports (they are the citations)."""
    return {k: v for k, v in metadata.items() if k != "groundingSupports"}


def url_context_input(metadata: Mapping[str, Any]) -> dict[str, Any]:
    entries = metadata.get("urlMetadata")
    urls = [e.get("retrievedUrl") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    return {"urls": [url for url in urls if isinstance(url, str)]}


def url_context_status(metadata: Mapping[str, Any]) -> ServerToolStatus:
    """``failed`` when every URL has a status and none is a success."""
    entries = [e for e in metadata.get("urlMetadata") or () if isinstance(e, dict)]
    statuses = [e.get("urlRetrievalStatus") for e in entries]
    if statuses and all(isinstance(s, str) for s in statuses) and _URL_OK not in statuses:
        return "failed"
    return "completed"


# --------------------------------------------------------------------------- citations


class TextLayout:
    """The message's text blocks laid end to end, to place a segment given in UTF-8 bytes.

    Gemini's ``segment.startIndex`` / ``endIndex`` count bytes of the UTF-8 text
    (start inclusive, end exclusive; a missing start is 0). alchemy's
    :attr:`Citation.start` / :attr:`~Citation.end` count Python characters of one
    text block, so the byte range is converted and cut at block boundaries.
    """

    __slots__ = ("indexes", "texts", "encoded", "byte_starts", "char_starts", "joined")

    def __init__(self, blocks: Sequence[tuple[int, str]]) -> None:
        self.indexes = [index for index, _ in blocks]
        self.texts = [text for _, text in blocks]
        self.encoded = [text.encode("utf-8", "surrogatepass") for text in self.texts]
        self.byte_starts: list[int] = []
        self.char_starts: list[int] = []
        byte_total = char_total = 0
        for text, data in zip(self.texts, self.encoded):
            self.byte_starts.append(byte_total)
            self.char_starts.append(char_total)
            byte_total += len(data)
            char_total += len(text)
        self.byte_starts.append(byte_total)
        self.char_starts.append(char_total)
        self.joined = "".join(self.texts)

    @property
    def total_bytes(self) -> int:
        return self.byte_starts[-1]

    def _char(self, block: int, byte_offset: int) -> int:
        """Characters of block ``block`` before its byte ``byte_offset`` (inside a character: the character's start)."""
        return len(self.encoded[block][:byte_offset].decode("utf-8", "ignore"))

    def from_bytes(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """``(block, start_char, end_char)`` pieces of the joined byte range ``[start, end)``."""
        return self._pieces(start, end, self.byte_starts, self._char)

    def from_chars(self, start: int, end: int) -> list[tuple[int, int, int]]:
        return self._pieces(start, end, self.char_starts, lambda _block, offset: offset)

    def _pieces(self, start: int, end: int, starts: list[int], convert: Any) -> list[tuple[int, int, int]]:
        pieces: list[tuple[int, int, int]] = []
        first = max(bisect.bisect_right(starts, start) - 1, 0)
        for block in range(first, len(self.texts)):
            low, high = starts[block], starts[block + 1]
            if low >= end and pieces:
                break
            a, b = max(start, low) - low, min(end, high) - low
            if b > a or (start == end and low <= start <= high):
                pieces.append((block, convert(block, a), convert(block, b)))
                if start == end:
                    break
        return pieces

    def slice_bytes(self, start: int, end: int) -> str:
        return "".join(self.texts[b][s:e] for b, s, e in self.from_bytes(start, end))

    def locate(self, segment: Mapping[str, Any]) -> list[tuple[int, int, int]] | None:
        """Where ``segment`` is, as pieces of text blocks, or ``None`` when it cannot be placed.

        In order: the byte range over the whole answer (what Gemini sends: one answer
        text, offsets from its start), checked against ``segment.text`` when given;
        the range inside the ``partIndex``-th text block; the quoted text itself,
        nearest the given offset; the unchecked byte range when it fits.
        """
        given_start, given_end = segment.get("startIndex", 0), segment.get("endIndex")
        quoted = segment.get("text")
        quoted = quoted if isinstance(quoted, str) and quoted else None
        numbers = type(given_start) is int and type(given_end) is int
        start: int = given_start if isinstance(given_start, int) and numbers else 0
        end: int = given_end if isinstance(given_end, int) and numbers else 0
        fits = numbers and 0 <= start <= end <= self.total_bytes
        if fits and (quoted is None or self.slice_bytes(start, end) == quoted):
            return self.from_bytes(start, end)
        part = segment.get("partIndex")
        if type(part) is int and 0 <= part < len(self.texts) and numbers:
            base = self.byte_starts[part]
            if 0 <= start <= end <= len(self.encoded[part]):
                pieces = self.from_bytes(base + start, base + end)
                if quoted is None or "".join(self.texts[b][s:e] for b, s, e in pieces) == quoted:
                    return pieces
        if quoted is not None:
            found = self._nearest(quoted, start)
            if found is not None:
                return self.from_chars(found, found + len(quoted))
        return self.from_bytes(start, end) if fits else None

    def _nearest(self, quoted: str, byte_hint: int) -> int | None:
        """The character offset of the occurrence of ``quoted`` nearest to byte ``byte_hint``."""
        hint = byte_hint
        if 0 <= byte_hint <= self.total_bytes:
            block = max(bisect.bisect_right(self.byte_starts, byte_hint) - 1, 0)
            if block < len(self.texts):
                hint = self.char_starts[block] + self._char(block, byte_hint - self.byte_starts[block])
        best: int | None = None
        at = self.joined.find(quoted)
        while at != -1:
            if best is None or abs(at - hint) < abs(best - hint):
                best = at
            at = self.joined.find(quoted, at + 1)
        return best


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _source(chunk: object) -> tuple[CitationKind, str | None, str | None, str | None]:
    """``(kind, url, title, cited_text)`` of a grounding chunk (web, retrieved context, maps, image)."""
    if not isinstance(chunk, dict):
        return "document", None, None, None
    web = chunk.get("web")
    if isinstance(web, dict):
        return "url", _text(web.get("uri")), _text(web.get("title")), None
    context = chunk.get("retrievedContext")
    if isinstance(context, dict):
        return "document", _text(context.get("uri")), _text(context.get("title")), _text(context.get("text"))
    maps = chunk.get("maps")
    if isinstance(maps, dict):
        return "url", _text(maps.get("uri")), _text(maps.get("title")), None
    image = chunk.get("image")
    if isinstance(image, dict):
        return "url", _text(image.get("sourceUri")), _text(image.get("title")), None
    return "document", None, None, None


def grounding_citations(
    supports: Sequence[tuple[Mapping[str, Any], Sequence[Any]]], layout: TextLayout
) -> list[tuple[int, Citation]]:
    """``(content index, Citation)`` for each ``(support, groundingChunks)`` × chunk index.

    A support that cannot be placed cites the last text block as a whole (``start`` /
    ``end`` ``None``); a citation already made (the same support sent twice) is made once.
    ``wire`` is ``{"support": <the support as sent>, "chunkIndex": i}``.
    """
    out: list[tuple[int, Citation]] = []
    if not layout.texts:
        return out
    seen: set[tuple[Any, ...]] = set()
    for support, chunks in supports:
        segment = support.get("segment")
        pieces = layout.locate(segment) if isinstance(segment, dict) else None
        spans: list[tuple[int, int | None, int | None]] = (
            [(b, s, e) for b, s, e in pieces] if pieces else [(len(layout.texts) - 1, None, None)]
        )
        for i in support.get("groundingChunkIndices") or ():
            if type(i) is not int:
                continue
            kind, url, title, cited = _source(chunks[i] if 0 <= i < len(chunks) else None)
            for block, start, end in spans:
                key = (block, start, end, i, kind, url, title)
                if key in seen:
                    continue
                seen.add(key)
                citation = Citation(
                    kind, url=url, title=title, cited_text=cited, start=start, end=end,
                    wire={"support": dict(support), "chunkIndex": i},
                )
                out.append((layout.indexes[block], citation))
    return out


# --------------------------------------------------------------------------- replay


def replay_parts(block: ServerToolCall, own: bool, valid_signature: Any) -> list[dict[str, Any]]:
    """The model-turn parts of a server tool block from this API (see the module doc).

    ``own``: the message is the target model's own, so its thought signatures go back
    (through ``valid_signature``, as for every other part); otherwise they are left out.
    """
    wire = block.wire or {}
    if "from" in wire:
        return []  # response metadata (grounding, URL context): not a part of the turn
    tool_type = wire.get("toolType")
    if isinstance(tool_type, str):
        call = {"id": block.id, "toolType": tool_type, "args": block.input}
        parts = [_with_extras({"toolCall": call}, wire.get("callPart"), own, valid_signature)]
        if block.result is not None:
            response = {"id": block.id, "toolType": tool_type, "response": block.result}
            parts.append(_with_extras({"toolResponse": response}, wire.get("resultPart"), own, valid_signature))
        return parts
    if block.name != CODE_EXECUTION:
        return []
    parts = [_with_extras({"executableCode": block.input}, wire.get("callPart"), own, valid_signature)]
    if block.result is not None:
        parts.append(_with_extras({"codeExecutionResult": block.result}, wire.get("resultPart"), own, valid_signature))
    return parts


def _with_extras(part: dict[str, Any], extras: object, own: bool, valid_signature: Any) -> dict[str, Any]:
    if isinstance(extras, dict):
        for key, value in extras.items():
            if key == "thoughtSignature":
                signature = valid_signature(value) if own and isinstance(value, str) else None
                if signature is not None:
                    part[key] = signature
            elif key not in part:
                part[key] = value
    return part
