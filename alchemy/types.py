"""The data model: content blocks, messages, usage, tools, context and models.

Every type converts to and from pi-ai's JSON shape (camelCase keys, ``toolUse``,
``toolResult``, base64 image ``data``) with ``to_dict()`` / ``from_dict()``, so a
conversation saved by pi-ai loads here and the reverse. A round trip is lossless:
alchemy's own additions (``reasoning`` tokens, ``service_tier``, ``estimated``,
registry fields of a model) are written only when they carry information and are
read back when present. Malformed input raises ``ValueError`` naming the path of
the bad field, e.g. ``messages[2].content[0].text: expected a string, got int``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union

import orjson

from ._args import (
    fail_type,
    fail_value,
    need_bool,
    need_count,
    need_instance,
    need_json,
    need_mapping_of_text,
    need_number,
    need_text,
)
from ._context_json import NOT_JSON, dumps_like_javascript, loads_like_javascript
from .errors import ErrorInfo

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._speedups import JsonDeltaMerger
    from .rate_limits import RateLimit
    from .function_tools import FunctionTool

__all__ = [
    "Api",
    "AssistantContent",
    "AssistantMessage",
    "Attempt",
    "BUILTIN_TOOLS",
    "BuiltinTool",
    "CUSTOM_TOOL_INPUT",
    "CacheRetention",
    "Citation",
    "CitationKind",
    "Context",
    "Cost",
    "ImageContent",
    "Message",
    "Model",
    "ModelCapabilities",
    "ModelCost",
    "CostTier",
    "CustomTool",
    "Provider",
    "SERVER_TOOL_STATUSES",
    "ServerToolCall",
    "ServerToolStatus",
    "StopReason",
    "FailedTry",
    "StreamMetrics",
    "TextContent",
    "ThinkingContent",
    "ThinkingLevel",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolResultMessage",
    "Usage",
    "UserMessage",
    "now_ms",
]

Api = str
"""A wire API name such as ``"openai-completions"``; open-ended so users can add their own."""
Provider = str
"""A provider id such as ``"anthropic"``; open-ended."""
StopReason = Literal["stop", "length", "toolUse", "error", "aborted"]
ThinkingLevel = Literal["off", "minimal", "low", "medium", "high", "xhigh", "max"]
CacheRetention = Literal["none", "short", "long"]

STOP_REASONS: frozenset[str] = frozenset({"stop", "length", "toolUse", "error", "aborted"})


def now_ms() -> int:
    """The current time as Unix milliseconds (the unit of every ``timestamp``)."""
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------- reading JSON


class _Reader:
    """Reads fields out of a JSON object and names the exact path when one is wrong."""

    __slots__ = ("data", "path")

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise ValueError(f"{path or '<root>'}: expected an object, got {_kind(data)}")
        self.data: dict[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise ValueError(f"{self.at(key)}: missing required field")
            return None
        return self.data[key]

    def text_field(self, key: str, *, required: bool = True) -> Any:
        value = self._get(key, required)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{self.at(key)}: expected a string, got {_kind(value)}")
        return value

    def int_field(self, key: str, *, required: bool = True, default: int = 0) -> int:
        value = self._get(key, required)
        if value is None and not required:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.at(key)}: expected a number, got {_kind(value)}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{self.at(key)}: expected a whole number, got {value!r}")
            value = int(value)
        return value

    def number(self, key: str, *, required: bool = True) -> float | None:
        value = self._get(key, required)
        if value is None:
            if required:
                raise ValueError(f"{self.at(key)}: expected a number, got null")
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.at(key)}: expected a number, got {_kind(value)}")
        return float(value)

    def flag(self, key: str, *, default: bool = False) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ValueError(f"{self.at(key)}: expected true or false, got {_kind(value)}")
        return value

    def list_field(self, key: str, *, required: bool = True) -> list[Any] | None:
        value = self._get(key, required)
        if value is None and not required:
            return None
        if not isinstance(value, list):
            raise ValueError(f"{self.at(key)}: expected a list, got {_kind(value)}")
        return value

    def obj_field(self, key: str, *, required: bool = True) -> dict[str, Any] | None:
        value = self._get(key, required)
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            raise ValueError(f"{self.at(key)}: expected an object, got {_kind(value)}")
        return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return type(value).__name__


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Writes an optional field only when it is set, as pi-ai's JSON does."""
    if value is not None:
        out[key] = value


# --------------------------------------------------------------------------- content blocks


CitationKind = Literal["url", "file", "document", "search_result"]
CITATION_KINDS: tuple[CitationKind, ...] = ("url", "file", "document", "search_result")


@dataclass(slots=True)
class Citation:
    """A source the provider ties to a text block (web search, file search, documents, grounding).

    ``kind`` says what the source is: ``"url"`` (a web page: ``url``, ``title``),
    ``"file"`` (an uploaded file: ``file_id``, ``filename``), ``"document"`` (a document
    of the request: ``document_index``, ``title``) or ``"search_result"`` (a search result
    block of the request). ``cited_text`` is the passage of the source when the provider
    quotes it. ``start`` / ``end`` are the character range of the *answer's* text block
    that the source supports, when the provider gives one (OpenAI annotations, Gemini
    grounding supports); ``None`` means the whole block (Anthropic cites per block).
    ``wire`` is the provider's citation object as sent, which goes back verbatim when the
    conversation is replayed to the same API (Anthropic needs its ``encrypted_index``).
    """

    kind: CitationKind
    url: str | None = None
    title: str | None = None
    file_id: str | None = None
    filename: str | None = None
    document_index: int | None = None
    cited_text: str | None = None
    start: int | None = None
    end: int | None = None
    wire: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in CITATION_KINDS:
            fail_value("Citation", "kind", f"one of {', '.join(map(repr, CITATION_KINDS))}", self.kind)
        for name in ("url", "title", "file_id", "filename", "cited_text"):
            need_text("Citation", name, getattr(self, name), optional=True)
        for name in ("document_index", "start", "end"):
            need_count("Citation", name, getattr(self, name), optional=True)
        if self.start is not None and self.end is not None and self.end < self.start:
            fail_value("Citation", "end", f"at least start ({self.start})", self.end)
        if self.wire is not None:
            if not isinstance(self.wire, dict):
                fail_type("Citation", "wire", "a dict or None", self.wire)
            need_json("Citation", "wire", self.wire)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        _put(out, "url", self.url)
        _put(out, "title", self.title)
        _put(out, "fileId", self.file_id)
        _put(out, "filename", self.filename)
        _put(out, "documentIndex", self.document_index)
        _put(out, "citedText", self.cited_text)
        _put(out, "start", self.start)
        _put(out, "end", self.end)
        _put(out, "wire", self.wire)
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Citation:
        r = _Reader(data, path)
        kind = r.text_field("kind")
        if kind not in CITATION_KINDS:
            raise ValueError(f"{r.at('kind')}: expected one of {', '.join(map(repr, CITATION_KINDS))}, got {kind!r}")

        def count(key: str) -> int | None:
            return r.int_field(key) if r.data.get(key) is not None else None

        return cls(
            kind,
            r.text_field("url", required=False),
            r.text_field("title", required=False),
            r.text_field("fileId", required=False),
            r.text_field("filename", required=False),
            count("documentIndex"),
            r.text_field("citedText", required=False),
            count("start"),
            count("end"),
            r.obj_field("wire", required=False),
        )


@dataclass(slots=True)
class TextContent:
    """Plain text. ``text_signature`` is provider data needed to replay it exactly."""

    text: str
    text_signature: str | None = None
    citations: list[Citation] | None = None
    """The sources the provider ties to this text (:class:`Citation`), ``None`` when it gave none."""
    type: ClassVar[Literal["text"]] = "text"

    def __post_init__(self) -> None:
        need_text("TextContent", "text", self.text)
        need_text("TextContent", "text_signature", self.text_signature, optional=True)
        citations = self.citations
        if citations is not None and not (type(citations) is list and all(type(c) is Citation for c in citations)):
            if not isinstance(citations, list):
                fail_type("TextContent", "citations", "a list of Citation or None", citations)
            for i, citation in enumerate(citations):
                need_instance("TextContent", f"citations[{i}]", citation, Citation)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "text", "text": self.text}
        _put(out, "textSignature", self.text_signature)
        if self.citations:
            out["citations"] = [citation.to_dict() for citation in self.citations]
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> TextContent:
        r = _Reader(data, path)
        items = r.list_field("citations", required=False)
        citations = None
        if items:
            citations = [Citation.from_dict(item, f"{r.at('citations')}[{i}]") for i, item in enumerate(items)]
        return cls(r.text_field("text"), r.text_field("textSignature", required=False), citations)


@dataclass(slots=True)
class ThinkingContent:
    """Reasoning text. ``redacted`` blocks keep their opaque payload in the signature."""

    thinking: str
    thinking_signature: str | None = None
    redacted: bool = False
    type: ClassVar[Literal["thinking"]] = "thinking"

    def __post_init__(self) -> None:
        need_text("ThinkingContent", "thinking", self.thinking)
        need_text("ThinkingContent", "thinking_signature", self.thinking_signature, optional=True)
        need_bool("ThinkingContent", "redacted", self.redacted)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "thinking", "thinking": self.thinking}
        _put(out, "thinkingSignature", self.thinking_signature)
        if self.redacted:
            out["redacted"] = True
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> ThinkingContent:
        r = _Reader(data, path)
        return cls(r.text_field("thinking"), r.text_field("thinkingSignature", required=False), r.flag("redacted"))


@dataclass(slots=True)
class ImageContent:
    """An image as base64 ``data`` with its ``mime_type`` (``image/png``, ...)."""

    data: str
    mime_type: str
    type: ClassVar[Literal["image"]] = "image"

    def __post_init__(self) -> None:
        if isinstance(self.data, (bytes, bytearray)):
            fail_type(
                "ImageContent", "data", "a base64 str", self.data, " (encode it: base64.b64encode(data).decode())"
            )
        need_text("ImageContent", "data", self.data)
        need_text("ImageContent", "mime_type", self.mime_type)
        if "/" not in self.mime_type:
            fail_value("ImageContent", "mime_type", "a MIME type such as 'image/png'", self.mime_type)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "image", "data": self.data, "mimeType": self.mime_type}

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> ImageContent:
        r = _Reader(data, path)
        return cls(r.text_field("data"), r.text_field("mimeType"))


class ToolCall:
    """A call of one of the context's tools.

    While the call streams, ``arguments`` reads the best-effort value of the JSON
    delta merger fed with the argument fragments, lazily: a consumer that never
    looks pays nothing. It is never ``None`` (at least ``{}``). When the call ends
    the parsed arguments are fixed and the merger is let go.
    """

    __slots__ = ("id", "name", "_arguments", "thought_signature", "_merger")
    type: ClassVar[Literal["toolCall"]] = "toolCall"

    def __init__(
        self,
        id: str,
        name: str,
        arguments: dict[str, Any] | None = None,
        thought_signature: str | None = None,
    ) -> None:
        need_text("ToolCall", "id", id)
        need_text("ToolCall", "name", name)
        if arguments is not None and not isinstance(arguments, dict):
            hint = " (parse a JSON string first: json.loads(...))" if isinstance(arguments, str) else ""
            fail_type("ToolCall", "arguments", "a dict or None", arguments, hint)
        need_text("ToolCall", "thought_signature", thought_signature, optional=True)
        self.id = id
        self.name = name
        self._arguments: dict[str, Any] = {} if arguments is None else arguments
        self.thought_signature = thought_signature
        self._merger: JsonDeltaMerger | None = None

    @property
    def arguments(self) -> dict[str, Any]:
        merger = self._merger
        if merger is None:
            return self._arguments
        if merger.has_value:
            value = merger.value
            if isinstance(value, dict):
                return value
        return {}

    @arguments.setter
    def arguments(self, value: dict[str, Any]) -> None:
        self._merger = None
        self._arguments = value

    def stream_arguments_from(self, merger: JsonDeltaMerger | None) -> None:
        """Makes ``arguments`` follow ``merger`` (``None`` freezes the current value)."""
        if merger is None and self._merger is not None:
            self._arguments = self.arguments
        self._merger = merger

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolCall):
            return NotImplemented
        return (
            self.id == other.id
            and self.name == other.name
            and self.arguments == other.arguments
            and self.thought_signature == other.thought_signature
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        signature = f", thought_signature={self.thought_signature!r}" if self.thought_signature else ""
        return f"ToolCall(id={self.id!r}, name={self.name!r}, arguments={self.arguments!r}{signature})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "toolCall",
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
        }
        _put(out, "thoughtSignature", self.thought_signature)
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> ToolCall:
        r = _Reader(data, path)
        return cls(
            r.text_field("id"),
            r.text_field("name"),
            r.obj_field("arguments", required=False) or {},
            r.text_field("thoughtSignature", required=False),
        )


ServerToolStatus = Literal["in_progress", "completed", "failed", "incomplete", "awaiting_approval"]
SERVER_TOOL_STATUSES: tuple[ServerToolStatus, ...] = (
    "in_progress",
    "completed",
    "failed",
    "incomplete",
    "awaiting_approval",
)


class ServerToolCall:
    """A tool the provider ran itself: web search, web fetch, code execution, file search,
    a remote MCP server, image generation, tool search (see :mod:`alchemy.server_tools`).

    ``name`` is the tool as the provider names it (``"web_search"``, ``"code_execution"``,
    ``"bash_code_execution"``, ``"file_search"``, an MCP tool's own name...); ``input``
    what the model asked of it (while the call streams, the best-effort value of the
    fragments so far, like :attr:`ToolCall.arguments`); ``result`` the provider's result
    JSON as sent (``None`` while it runs, or when the result comes in a later response);
    ``status`` one of :data:`SERVER_TOOL_STATUSES` (``"awaiting_approval"``: an MCP call
    the provider asks the user to approve, see :func:`alchemy.server_tools.approve`);
    ``provider`` the provider that ran it. ``wire`` holds the provider's other fields of
    the block (its wire type, server label, container...), so that the block goes back
    verbatim when the conversation is replayed to the same API. Other APIs never see it
    unless asked (``foreign_server_tools="text"``).
    """

    __slots__ = ("id", "name", "_input", "result", "status", "provider", "wire", "_merger")
    type: ClassVar[Literal["serverToolCall"]] = "serverToolCall"

    def __init__(
        self,
        id: str,
        name: str,
        input: dict[str, Any] | None = None,
        result: Any = None,
        status: ServerToolStatus = "completed",
        provider: str = "",
        wire: dict[str, Any] | None = None,
    ) -> None:
        need_text("ServerToolCall", "id", id)
        need_text("ServerToolCall", "name", name)
        if input is not None and not isinstance(input, dict):
            fail_type("ServerToolCall", "input", "a dict or None", input)
        if status not in SERVER_TOOL_STATUSES:
            fail_value("ServerToolCall", "status", f"one of {', '.join(map(repr, SERVER_TOOL_STATUSES))}", status)
        need_text("ServerToolCall", "provider", provider)
        if wire is not None and not isinstance(wire, dict):
            fail_type("ServerToolCall", "wire", "a dict or None", wire)
        for field_name, value in (("input", input), ("result", result), ("wire", wire)):
            if value is not None:
                need_json("ServerToolCall", field_name, value)
        self.id = id
        self.name = name
        self._input: dict[str, Any] = {} if input is None else input
        self.result = result
        self.status: ServerToolStatus = status
        self.provider = provider
        self.wire = wire
        self._merger: JsonDeltaMerger | None = None

    @property
    def input(self) -> dict[str, Any]:
        merger = self._merger
        if merger is None:
            return self._input
        if merger.has_value:
            value = merger.value
            if isinstance(value, dict):
                return value
        return {}

    @input.setter
    def input(self, value: dict[str, Any]) -> None:
        self._merger = None
        self._input = value

    def stream_input_from(self, merger: JsonDeltaMerger | None) -> None:
        """Makes ``input`` follow ``merger`` (``None`` freezes the current value)."""
        if merger is None and self._merger is not None:
            self._input = self.input
        self._merger = merger

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerToolCall):
            return NotImplemented
        return (
            self.id == other.id
            and self.name == other.name
            and self.input == other.input
            and self.result == other.result
            and self.status == other.status
            and self.provider == other.provider
            and self.wire == other.wire
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        result = self.result
        shown = repr(result)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return (
            f"ServerToolCall(id={self.id!r}, name={self.name!r}, input={self.input!r}, "
            f"status={self.status!r}, result={shown})"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "serverToolCall", "id": self.id, "name": self.name, "input": self.input}
        _put(out, "result", self.result)
        out["status"] = self.status
        if self.provider:
            out["provider"] = self.provider
        _put(out, "wire", self.wire)
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> ServerToolCall:
        r = _Reader(data, path)
        status = r.text_field("status", required=False) or "completed"
        if status not in SERVER_TOOL_STATUSES:
            allowed = ", ".join(map(repr, SERVER_TOOL_STATUSES))
            raise ValueError(f"{r.at('status')}: expected one of {allowed}, got {status!r}")
        return cls(
            r.text_field("id"),
            r.text_field("name"),
            r.obj_field("input", required=False) or {},
            r.data.get("result"),
            status,
            r.text_field("provider", required=False) or "",
            r.obj_field("wire", required=False),
        )


AssistantContent = Union[TextContent, ThinkingContent, ToolCall, ServerToolCall]
UserContent = Union[TextContent, ImageContent]

_USER_BLOCKS: dict[str, Any] = {"text": TextContent, "image": ImageContent}
_USER_BLOCK_TYPES: tuple[type, ...] = (TextContent, ImageContent)
_ASSISTANT_BLOCK_TYPES: tuple[type, ...] = (TextContent, ThinkingContent, ToolCall, ServerToolCall)
_ASSISTANT_BLOCKS: dict[str, Any] = {
    "text": TextContent,
    "thinking": ThinkingContent,
    "toolCall": ToolCall,
    "serverToolCall": ServerToolCall,
}


def _check_blocks(owner: str, blocks: object, kinds: tuple[type, ...]) -> None:
    """``blocks`` is a list of ``kinds`` instances; names the index of the first that is not."""
    expected = " or ".join(kind.__name__ for kind in kinds)
    if not isinstance(blocks, list):
        hint = " (put it in a list: [block])" if isinstance(blocks, kinds) else ""
        fail_type(owner, "content", f"a list of {expected}", blocks, hint)
    for i, block in enumerate(blocks):
        if not isinstance(block, kinds):
            hint = f" (wrap text as TextContent({block!r}))" if isinstance(block, str) and len(block) < 40 else ""
            fail_type(owner, f"content[{i}]", f"a {expected}", block, hint)


def _blocks(items: list[Any], kinds: dict[str, Any], path: str) -> list[Any]:
    blocks = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        kind = _Reader(item, item_path).text_field("type")
        block_cls = kinds.get(kind)
        if block_cls is None:
            allowed = ", ".join(repr(k) for k in kinds)
            raise ValueError(f"{item_path}.type: expected one of {allowed}, got {kind!r}")
        blocks.append(block_cls.from_dict(item, item_path))
    return blocks


# --------------------------------------------------------------------------- usage


@dataclass(slots=True)
class Cost:
    """Cost in USD. ``None`` means the price is unknown (never a silent 0)."""

    input: float | None = 0.0
    output: float | None = 0.0
    cache_read: float | None = 0.0
    cache_write: float | None = 0.0
    total: float | None = 0.0

    def __post_init__(self) -> None:
        # Built per usage report: finite floats (x - x == 0 fails for NaN and infinity) pass fast.
        a, b, c, d, e = self.input, self.output, self.cache_read, self.cache_write, self.total
        if not (
            (a is None or (type(a) is float and a - a == 0.0))
            and (b is None or (type(b) is float and b - b == 0.0))
            and (c is None or (type(c) is float and c - c == 0.0))
            and (d is None or (type(d) is float and d - d == 0.0))
            and (e is None or (type(e) is float and e - e == 0.0))
        ):
            for name in ("input", "output", "cache_read", "cache_write", "total"):
                need_number("Cost", name, getattr(self, name), optional=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "cacheRead": self.cache_read,
            "cacheWrite": self.cache_write,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Cost:
        r = _Reader(data, path)
        return cls(
            r.number("input", required=False),
            r.number("output", required=False),
            r.number("cacheRead", required=False),
            r.number("cacheWrite", required=False),
            r.number("total", required=False),
        )


@dataclass(slots=True)
class Usage:
    """Token counts of one response, the same meaning on every provider.

    ``input`` excludes cached tokens; ``cache_read`` and ``cache_write`` are
    separate; ``output`` includes reasoning tokens, of which ``reasoning`` says how
    many (counted once). ``cache_write_1h`` is the part of ``cache_write`` written
    with a one-hour lifetime (Anthropic and Bedrock report it apart; it is priced
    higher), never more than ``cache_write``. ``service_tier`` is the tier that
    served the request when the provider says so; ``estimated`` marks counts made
    locally with tiktoken because the provider streamed none.
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    total_tokens: int = 0
    cost: Cost = field(default_factory=Cost)
    reasoning: int = 0
    service_tier: str | None = None
    estimated: bool = False
    cache_write_1h: int = 0

    def __post_init__(self) -> None:
        # Parsers build one per usage report: the common case is a few type tests.
        a, b, c, d, e, f, g = (
            self.input,
            self.output,
            self.cache_read,
            self.cache_write,
            self.total_tokens,
            self.reasoning,
            self.cache_write_1h,
        )
        if not (
            type(a) is int
            and a >= 0
            and type(b) is int
            and b >= 0
            and type(c) is int
            and c >= 0
            and type(d) is int
            and d >= 0
            and type(e) is int
            and e >= 0
            and type(f) is int
            and f >= 0
            and type(g) is int
            and g >= 0
            and type(self.cost) is Cost
            and type(self.estimated) is bool
            and (self.service_tier is None or type(self.service_tier) is str)
        ):
            self._check()

    def _check(self) -> None:
        for name in ("input", "output", "cache_read", "cache_write", "total_tokens", "reasoning", "cache_write_1h"):
            need_count("Usage", name, getattr(self, name))
        need_instance("Usage", "cost", self.cost, Cost)
        need_text("Usage", "service_tier", self.service_tier, optional=True)
        need_bool("Usage", "estimated", self.estimated)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": self.input,
            "output": self.output,
            "cacheRead": self.cache_read,
            "cacheWrite": self.cache_write,
            "totalTokens": self.total_tokens,
            "cost": self.cost.to_dict(),
        }
        if self.cache_write_1h:
            out["cacheWrite1h"] = self.cache_write_1h
        if self.reasoning:
            out["reasoningTokens"] = self.reasoning
        _put(out, "serviceTier", self.service_tier)
        if self.estimated:
            out["estimated"] = True
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Usage:
        r = _Reader(data, path)
        cost = r.obj_field("cost", required=False)
        return cls(
            input=r.int_field("input", required=False),
            output=r.int_field("output", required=False),
            cache_read=r.int_field("cacheRead", required=False),
            cache_write=r.int_field("cacheWrite", required=False),
            total_tokens=r.int_field("totalTokens", required=False),
            cost=Cost.from_dict(cost, r.at("cost")) if cost is not None else Cost(),
            reasoning=r.int_field("reasoningTokens", required=False),
            service_tier=r.text_field("serviceTier", required=False),
            estimated=r.flag("estimated"),
            cache_write_1h=r.int_field("cacheWrite1h", required=False),
        )


@dataclass(frozen=True, slots=True)
class FailedTry:
    """One try of a request that failed and was retried (see :attr:`StreamMetrics.tries`).

    ``started_at`` / ``ended_at`` are on the metrics' clock (seconds since the request
    was first sent): when the try was sent and when its failure was seen (before the
    wait for the next one). ``error_kind`` is the :data:`~alchemy.errors.ErrorKind` and
    ``status`` the HTTP status, when the server answered with one.
    """

    started_at: float
    ended_at: float
    error_kind: str
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "errorKind": self.error_kind,
            "status": self.status,
        }


@dataclass(slots=True)
class StreamMetrics:
    """How one response streamed. Times are seconds since the request was first sent.

    ``time_to_first_byte`` is when the response headers arrived,
    ``time_to_first_content`` when the first text, thinking or tool-call content was
    parsed, ``duration`` when the stream ended. ``output_tokens_per_second`` is the
    output token count over the time from first content to the end. ``retries``
    counts the attempts made before the one that was streamed, and ``tries`` holds one
    :class:`FailedTry` for each of them, in order. ``request_id`` is the
    provider's id of the last attempt and ``rate_limit`` what its rate-limit headers
    said (:class:`~alchemy.rate_limits.RateLimit`), when it sent them.
    ``rate_limit_wait`` is the seconds a :class:`~alchemy.Client` held the request back
    for its client-side rate limits before sending it (set when the stream ends).
    """

    time_to_first_byte: float | None = None
    time_to_first_content: float | None = None
    duration: float | None = None
    bytes_received: int = 0
    chunks: int = 0
    events: int = 0
    retries: int = 0
    tries: tuple[FailedTry, ...] = ()
    output_tokens_per_second: float | None = None
    request_id: str | None = None
    rate_limit: RateLimit | None = None
    rate_limit_wait: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "timeToFirstByte": self.time_to_first_byte,
            "timeToFirstContent": self.time_to_first_content,
            "duration": self.duration,
            "bytesReceived": self.bytes_received,
            "chunks": self.chunks,
            "events": self.events,
            "retries": self.retries,
            "tries": [failed.to_dict() for failed in self.tries],
            "outputTokensPerSecond": self.output_tokens_per_second,
            "requestId": self.request_id,
            "rateLimit": None if self.rate_limit is None else self.rate_limit.to_dict(),
            "rateLimitWait": self.rate_limit_wait,
        }


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class UserMessage:
    """What the user says: a string, or text and image blocks."""

    content: str | list[TextContent | ImageContent]
    timestamp: int = field(default_factory=now_ms)
    role: ClassVar[Literal["user"]] = "user"

    def __post_init__(self) -> None:
        if not isinstance(self.content, str):
            if self.content is None:
                fail_type("UserMessage", "content", "a str or a list of TextContent or ImageContent", None)
            _check_blocks("UserMessage", self.content, _USER_BLOCK_TYPES)
        need_count("UserMessage", "timestamp", self.timestamp)

    def to_dict(self) -> dict[str, Any]:
        content: Any = self.content if isinstance(self.content, str) else [b.to_dict() for b in self.content]
        return {"role": "user", "content": content, "timestamp": self.timestamp}

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> UserMessage:
        r = _Reader(data, path)
        raw = r._get("content", True)
        content: str | list[TextContent | ImageContent]
        if isinstance(raw, str):
            content = raw
        elif isinstance(raw, list):
            content = _blocks(raw, _USER_BLOCKS, r.at("content"))
        else:
            raise ValueError(f"{r.at('content')}: expected a string or a list, got {_kind(raw)}")
        return cls(content, r.int_field("timestamp", required=False, default=now_ms()))


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token with its log-probability and the most likely alternatives.

    ``top`` holds ``(token, logprob)`` pairs, most likely first (empty unless
    ``top_logprobs`` was asked for). JSON: ``{"token", "logprob", "top": [{"token",
    "logprob"}, ...]}``, ``top`` omitted when empty.
    """

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"token": self.token, "logprob": self.logprob}
        if self.top:
            out["top"] = [{"token": token, "logprob": logprob} for token, logprob in self.top]
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> TokenLogprob:
        r = _Reader(data, path)
        top: list[tuple[str, float]] = []
        for i, item in enumerate(r.list_field("top", required=False) or []):
            alternative = _Reader(item, f"{r.at('top')}[{i}]")
            top.append((alternative.text_field("token"), alternative.number("logprob") or 0.0))
        return cls(r.text_field("token"), r.number("logprob") or 0.0, tuple(top))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a fallback chain that failed before any content reached the consumer.

    ``error_kind`` is the :data:`~alchemy.errors.ErrorKind` it failed with and
    ``duration`` the seconds it took, from opening to failing.
    """

    provider: Provider
    model: str
    error_kind: str
    duration: float

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "errorKind": self.error_kind, "duration": self.duration}

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Attempt:
        r = _Reader(data, path)
        return cls(
            r.text_field("provider"), r.text_field("model"), r.text_field("errorKind"), r.number("duration") or 0.0
        )


@dataclass(slots=True)
class AssistantMessage:
    """A model's answer: its blocks, where it came from, its usage and how it ended."""

    content: list[AssistantContent] = field(default_factory=list)
    api: Api = ""
    provider: Provider = ""
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    stop_reason: StopReason = "stop"
    error_message: str | None = None
    timestamp: int = field(default_factory=now_ms)
    response_id: str | None = None
    metrics: StreamMetrics | None = field(default=None, compare=False, repr=False)
    """How the response streamed (set by the HTTP runner); not part of the saved JSON."""
    logprobs: list[TokenLogprob] | None = None
    """Token log-probabilities, where the call asked for them and the API streams them."""
    error: ErrorInfo | None = None
    """Why the message failed (kind, status, retryable, ...): set on ``error`` and ``aborted`` messages only."""
    refusal: str | None = None
    """The model's refusal to answer (OpenAI ``refusal`` deltas, Anthropic ``stop_reason: "refusal"``)."""
    attempts: tuple[Attempt, ...] = ()
    """The earlier attempts of a :class:`~alchemy.Client` fallback chain that failed before any
    content; empty when the first model answered (``provider`` / ``model`` name the one that did)."""
    tags: dict[str, str] = field(default_factory=dict)
    """The call's ``tags`` option (accounting labels; JSON ``"tags"``, omitted when empty)."""
    paused: bool = False
    """The provider paused a long server-side turn (Anthropic ``pause_turn``): call again with this
    message in the context and the model continues it (:func:`alchemy.server_tools.needs_continuation`)."""
    _parsed: Any = field(default=None, init=False, repr=False, compare=False)
    _parsed_source: Any = field(default=None, init=False, repr=False, compare=False)
    role: ClassVar[Literal["assistant"]] = "assistant"

    def __post_init__(self) -> None:
        # The emitter builds one per stream and the handoff one per replayed turn: plain
        # type tests first, the named checks only when one fails.
        content = self.content
        if not (
            type(content) is list
            and type(self.api) is str
            and type(self.provider) is str
            and type(self.model) is str
            and type(self.usage) is Usage
            and self.stop_reason in STOP_REASONS
            and (self.error_message is None or type(self.error_message) is str)
            and type(self.timestamp) is int
            and self.timestamp >= 0
            and (self.response_id is None or type(self.response_id) is str)
            and (self.metrics is None or type(self.metrics) is StreamMetrics)
            and (self.logprobs is None or type(self.logprobs) is list)
            and (self.error is None or type(self.error) is ErrorInfo)
            and (self.refusal is None or type(self.refusal) is str)
            and type(self.attempts) is tuple
            and type(self.tags) is dict
            and type(self.paused) is bool
            and all(type(block) in _ASSISTANT_BLOCK_TYPES for block in content)
        ):
            self._check()

    def _check(self) -> None:
        _check_blocks("AssistantMessage", self.content, _ASSISTANT_BLOCK_TYPES)
        need_text("AssistantMessage", "api", self.api)
        need_text("AssistantMessage", "provider", self.provider)
        need_text("AssistantMessage", "model", self.model)
        need_instance("AssistantMessage", "usage", self.usage, Usage)
        if self.stop_reason not in STOP_REASONS:
            fail_value("AssistantMessage", "stop_reason", f"one of {', '.join(sorted(STOP_REASONS))}", self.stop_reason)
        need_text("AssistantMessage", "error_message", self.error_message, optional=True)
        need_count("AssistantMessage", "timestamp", self.timestamp)
        need_text("AssistantMessage", "response_id", self.response_id, optional=True)
        need_instance("AssistantMessage", "metrics", self.metrics, StreamMetrics, optional=True)
        if self.logprobs is not None and not isinstance(self.logprobs, list):
            fail_type("AssistantMessage", "logprobs", "a list of TokenLogprob or None", self.logprobs)
        need_instance("AssistantMessage", "error", self.error, ErrorInfo, optional=True)
        need_text("AssistantMessage", "refusal", self.refusal, optional=True)
        if not isinstance(self.attempts, tuple) or not all(type(a) is Attempt for a in self.attempts):
            fail_type("AssistantMessage", "attempts", "a tuple of Attempt", self.attempts)
        tags = self.tags
        if not isinstance(tags, dict) or not all(type(k) is str and type(v) is str for k, v in tags.items()):
            fail_type("AssistantMessage", "tags", "a dict of str to str", tags)
        need_bool("AssistantMessage", "paused", self.paused)

    @property
    def parsed(self) -> Any:
        """The structured output (``response_format=`` / ``output_schema=``), else ``None``.

        While the answer streams: the best-effort object parsed so far (read lazily from
        the JSON delta merger; it grows in place). At the end: the value validated against
        the schema — a dict, or an instance of the Python type asked for. ``None`` when no
        structured output was asked, the turn called tools, or the stream ended in error
        (the raw text stays in ``content``). Not part of the saved JSON.
        """
        source = self._parsed_source
        if source is None:
            return self._parsed
        return source.value if source.has_value else None

    def set_parsed(self, value: Any) -> None:
        """Fixes :attr:`parsed` (the final structured output)."""
        self._parsed_source = None
        self._parsed = value

    def stream_parsed_from(self, merger: Any) -> None:
        """Makes :attr:`parsed` follow ``merger`` (a ``JsonDeltaMerger``; ``None`` stops following)."""
        self._parsed_source = merger

    @property
    def text(self) -> str:
        """All text blocks joined (thinking and tool calls left out)."""
        return "".join(b.text for b in self.content if isinstance(b, TextContent))

    @property
    def thinking(self) -> str:
        """All thinking blocks joined."""
        return "".join(b.thinking for b in self.content if isinstance(b, ThinkingContent))

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [b for b in self.content if isinstance(b, ToolCall)]

    @property
    def server_tool_calls(self) -> list[ServerToolCall]:
        """The tools the provider ran itself in this turn (:class:`ServerToolCall`)."""
        return [b for b in self.content if isinstance(b, ServerToolCall)]

    @property
    def citations(self) -> list[Citation]:
        """Every text block's citations, in order."""
        return [c for b in self.content if isinstance(b, TextContent) and b.citations for c in b.citations]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "role": "assistant",
            "content": [b.to_dict() for b in self.content],
            "api": self.api,
            "provider": self.provider,
            "model": self.model,
            "usage": self.usage.to_dict(),
            "stopReason": self.stop_reason,
        }
        _put(out, "errorMessage", self.error_message)
        out["timestamp"] = self.timestamp
        _put(out, "responseId", self.response_id)
        if self.logprobs is not None:
            out["logprobs"] = [item.to_dict() for item in self.logprobs]
        if self.error is not None:
            out["errorInfo"] = self.error.to_dict()
        _put(out, "refusal", self.refusal)
        if self.attempts:
            out["attempts"] = [attempt.to_dict() for attempt in self.attempts]
        if self.tags:
            out["tags"] = dict(self.tags)
        if self.paused:
            out["paused"] = True
        return out

    def raise_for_error(self) -> AssistantMessage:
        """Raises the exception of this message's error kind; returns the message when it did not fail.

        The exception (:class:`~alchemy.errors.RateLimitError`,
        :class:`~alchemy.errors.ContextOverflowError`, ... all :class:`~alchemy.errors.ProviderError`)
        has ``error_message`` as its text, the facts of ``error`` as attributes and this
        message, with everything received before the failure, as ``partial``. A message
        read from JSON without ``errorInfo`` is classified from its ``error_message``.
        """
        if self.stop_reason not in ("error", "aborted"):
            return self
        info = self.error
        if info is None:
            from .errors import ERROR_KINDS
            from .overflow import classify_error

            kind = "aborted" if self.stop_reason == "aborted" else classify_error(text=self.error_message)
            info = ErrorInfo(kind=kind, retryable=ERROR_KINDS[kind].retryable)
        raise info.exception_class(
            self.error_message or "Unknown error",
            kind=info.kind,
            retryable=info.retryable,
            retry_after=info.retry_after,
            status=info.status,
            code=info.code,
            request_id=info.request_id,
            provider_message=info.provider_message,
            partial=self,
        )

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> AssistantMessage:
        r = _Reader(data, path)
        stop_reason = r.text_field("stopReason")
        if stop_reason not in STOP_REASONS:
            allowed = ", ".join(sorted(STOP_REASONS))
            raise ValueError(f"{r.at('stopReason')}: expected one of {allowed}, got {stop_reason!r}")
        usage = r.obj_field("usage", required=False)
        return cls(
            content=_blocks(r.list_field("content") or [], _ASSISTANT_BLOCKS, r.at("content")),
            api=r.text_field("api"),
            provider=r.text_field("provider"),
            model=r.text_field("model"),
            usage=Usage.from_dict(usage, r.at("usage")) if usage is not None else Usage(),
            stop_reason=stop_reason,
            error_message=r.text_field("errorMessage", required=False),
            timestamp=r.int_field("timestamp", required=False, default=now_ms()),
            response_id=r.text_field("responseId", required=False),
            logprobs=_logprobs(r.list_field("logprobs", required=False), r.at("logprobs")),
            error=_error_info(r.data.get("errorInfo"), r.at("errorInfo")),
            refusal=r.text_field("refusal", required=False),
            attempts=tuple(
                Attempt.from_dict(item, f"{r.at('attempts')}[{i}]")
                for i, item in enumerate(r.list_field("attempts", required=False) or [])
            ),
            tags=_tags(r.obj_field("tags", required=False), r.at("tags")),
            paused=r.flag("paused"),
        )


def _tags(data: dict[str, Any] | None, path: str) -> dict[str, str]:
    if data is None:
        return {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise ValueError(f"{path}.{key}: expected a string, got {_kind(value)}")
    return dict(data)


def _error_info(data: object, path: str) -> ErrorInfo | None:
    return None if data is None else ErrorInfo.from_dict(data, path)


def _logprobs(items: list[Any] | None, path: str) -> list[TokenLogprob] | None:
    if items is None:
        return None
    return [TokenLogprob.from_dict(item, f"{path}[{i}]") for i, item in enumerate(items)]


@dataclass(slots=True)
class ToolResultMessage:
    """The result of running a tool call. ``details`` is app data, never sent to a provider.

    ``content`` is a list of text and image blocks; a plain string is taken as one text block.
    """

    tool_call_id: str
    tool_name: str
    content: list[TextContent | ImageContent] = field(default_factory=list)
    is_error: bool = False
    details: Any = None
    timestamp: int = field(default_factory=now_ms)
    role: ClassVar[Literal["toolResult"]] = "toolResult"

    def __post_init__(self) -> None:
        need_text("ToolResultMessage", "tool_call_id", self.tool_call_id)
        need_text("ToolResultMessage", "tool_name", self.tool_name)
        if isinstance(self.content, str):
            self.content = [TextContent(self.content)]  # a plain string is the result's text
        else:
            _check_blocks("ToolResultMessage", self.content, _USER_BLOCK_TYPES)
        need_bool("ToolResultMessage", "is_error", self.is_error)
        need_count("ToolResultMessage", "timestamp", self.timestamp)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "role": "toolResult",
            "toolCallId": self.tool_call_id,
            "toolName": self.tool_name,
            "content": [b.to_dict() for b in self.content],
        }
        _put(out, "details", self.details)
        out["isError"] = self.is_error
        out["timestamp"] = self.timestamp
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> ToolResultMessage:
        r = _Reader(data, path)
        return cls(
            tool_call_id=r.text_field("toolCallId"),
            tool_name=r.text_field("toolName"),
            content=_blocks(r.list_field("content") or [], _USER_BLOCKS, r.at("content")),
            is_error=r.flag("isError"),
            details=r.data.get("details"),
            timestamp=r.int_field("timestamp", required=False, default=now_ms()),
        )


Message = Union[UserMessage, AssistantMessage, ToolResultMessage]
_MESSAGES: dict[str, Any] = {"user": UserMessage, "assistant": AssistantMessage, "toolResult": ToolResultMessage}
_MESSAGE_TYPES: tuple[type, ...] = (UserMessage, AssistantMessage, ToolResultMessage)


def message_from_dict(data: object, path: str = "") -> Message:
    """Reads any message by its ``role``."""
    role = _Reader(data, path).text_field("role")
    message_cls = _MESSAGES.get(role)
    if message_cls is None:
        at = f"{path}.role" if path else "role"
        raise ValueError(f"{at}: expected 'user', 'assistant' or 'toolResult', got {role!r}")
    result: Message = message_cls.from_dict(data, path)
    return result


# --------------------------------------------------------------------------- tools and context


@dataclass(slots=True)
class Tool:
    """A tool the model may call; ``parameters`` is a JSON Schema object.

    ``strict=True`` asks the API to constrain the arguments to the schema (strict
    function calling), normalised as the API needs; an API or model without it
    refuses the call. :meth:`from_function` and :meth:`from_model` build tools
    from Python types (:mod:`alchemy.function_tools`).
    """

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False

    def __post_init__(self) -> None:
        need_text("Tool", "name", self.name, empty=False)
        owner = f"Tool {self.name!r}"
        need_text(owner, "description", self.description)
        if not isinstance(self.parameters, dict):
            hint = " (parse a JSON string first: json.loads(...))" if isinstance(self.parameters, (str, bytes)) else ""
            fail_type(owner, "parameters", "a dict (a JSON Schema object)", self.parameters, hint)
        need_json(owner, "parameters", self.parameters)
        need_bool(owner, "strict", self.strict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description, "parameters": self.parameters}
        if self.strict:
            out["strict"] = True
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Tool:
        r = _Reader(data, path)
        return cls(
            r.text_field("name"),
            r.text_field("description", required=False) or "",
            r.obj_field("parameters") or {},
            r.flag("strict"),
        )

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
    ) -> FunctionTool:
        """A tool that runs ``function``, its schema from the type hints and docstring (see :func:`alchemy.tool`)."""
        from .function_tools import FunctionTool

        return FunctionTool.from_function(function, name=name, description=description, strict=strict)

    @classmethod
    def from_model(
        cls,
        model: type[Any],
        function: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
    ) -> FunctionTool:
        """A tool whose arguments are one ``model`` (a pydantic model, dataclass or TypedDict class);
        ``function``, if given, receives the validated instance."""
        from .function_tools import FunctionTool

        return FunctionTool.from_model(model, function, name=name, description=description, strict=strict)


CUSTOM_TOOL_INPUT = "input"
"""The argument that holds a :class:`CustomTool` call's raw text (``{"input": "..."}``)."""

BUILTIN_TOOLS: dict[str, dict[str, Any]] = {
    "apply_patch": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["create_file", "update_file", "delete_file"]},
            "path": {"type": "string"},
            "diff": {"type": "string", "description": "A V4A diff (not for delete_file)"},
        },
        "required": ["type", "path"],
    },
    "shell": {
        "type": "object",
        "properties": {
            "commands": {"type": "array", "items": {"type": "string"}},
            "timeout_ms": {"type": ["integer", "null"]},
            "max_output_length": {"type": ["integer", "null"]},
        },
        "required": ["commands"],
    },
    "local_shell": {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["exec"]},
            "command": {"type": "array", "items": {"type": "string"}},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "working_directory": {"type": ["string", "null"]},
            "timeout_ms": {"type": ["integer", "null"]},
            "user": {"type": ["string", "null"]},
        },
        "required": ["command"],
    },
}
"""The client-executed built-in tools of OpenAI's Responses API, each with the schema of its
call's arguments (the call's ``operation`` or ``action``); other APIs see them as functions of it."""


def _custom_input_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {CUSTOM_TOOL_INPUT: {"type": "string"}}, "required": [CUSTOM_TOOL_INPUT]}


@dataclass(slots=True)
class CustomTool(Tool):
    """A tool whose input is free text, optionally constrained by a grammar, instead of JSON.

    OpenAI's Responses API sends it as a ``custom`` tool; ``format`` is ``None`` (free
    text) or ``{"type": "grammar", "syntax": "lark" | "regex", "definition": "..."}``.
    Its calls carry the text as ``arguments["input"]`` (:data:`CUSTOM_TOOL_INPUT`); other
    APIs see a function with that one string parameter, so a conversation moves on.
    """

    parameters: dict[str, Any] = field(default_factory=_custom_input_schema)
    format: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        Tool.__post_init__(self)
        fmt = self.format
        if fmt is None:
            return
        owner = f"CustomTool {self.name!r}"
        if not isinstance(fmt, dict):
            fail_type(owner, "format", 'None or a dict such as {"type": "grammar", ...}', fmt)
        kind = fmt.get("type")
        if kind == "grammar":
            if fmt.get("syntax") not in ("lark", "regex"):
                fail_value(owner, "format['syntax']", "'lark' or 'regex'", fmt.get("syntax"))
            need_text(owner, "format['definition']", fmt.get("definition"), empty=False)
        elif kind != "text":
            fail_value(owner, "format['type']", "'text' or 'grammar'", kind)

    def to_dict(self) -> dict[str, Any]:
        out = Tool.to_dict(self)
        out["custom"] = {"format": self.format}
        return out


@dataclass(slots=True)
class BuiltinTool(Tool):
    """One of OpenAI's client-executed built-in tools (:data:`BUILTIN_TOOLS`): ``apply_patch``,
    ``shell`` or ``local_shell``, named by ``name``.

    The Responses API sends ``{"type": name}``; the call's ``arguments`` are its
    ``operation`` (apply_patch) or ``action`` (shell, local_shell), and its result goes
    back as the matching ``*_output`` item. Other APIs see a function with the schema
    of those arguments.
    """

    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in BUILTIN_TOOLS:
            fail_value("BuiltinTool", "name", f"one of {sorted(BUILTIN_TOOLS)}", self.name)
        if not self.parameters:
            self.parameters = orjson.loads(orjson.dumps(BUILTIN_TOOLS[self.name]))  # the caller's own copy
        Tool.__post_init__(self)

    def to_dict(self) -> dict[str, Any]:
        out = Tool.to_dict(self)
        out["builtin"] = True
        return out


def _tool_from_dict(data: object, path: str) -> Tool:
    """A saved tool: a :class:`CustomTool` or :class:`BuiltinTool` when marked so, else a :class:`Tool`."""
    tool = Tool.from_dict(data, path)
    if isinstance(data, dict) and data.get("builtin") is True:
        return BuiltinTool(tool.name, tool.description, tool.parameters, tool.strict)
    custom = data.get("custom") if isinstance(data, dict) else None
    if isinstance(custom, dict):
        return CustomTool(tool.name, tool.description, tool.parameters, tool.strict, custom.get("format"))
    return tool


@dataclass(slots=True)
class Context:
    """A conversation: system prompt, messages and tools. Saves as pi-ai-compatible JSON."""

    system_prompt: str | None = None
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] | None = None

    def __post_init__(self) -> None:
        check_context(self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "systemPrompt", self.system_prompt)
        out["messages"] = [m.to_dict() for m in self.messages]
        if self.tools is not None:
            out["tools"] = [t.to_dict() for t in self.tools]
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Context:
        r = _Reader(data, path)
        raw_tools = r.list_field("tools", required=False)
        return cls(
            system_prompt=r.text_field("systemPrompt", required=False),
            messages=[message_from_dict(m, f"{r.at('messages')}[{i}]") for i, m in enumerate(r.list_field("messages") or [])],
            tools=None
            if raw_tools is None
            else [_tool_from_dict(t, f"{r.at('tools')}[{i}]") for i, t in enumerate(raw_tools)],
        )

    def to_json(self, *, indent: bool = False) -> str:
        """The context as JSON text (pi-ai's shape), ready for ``Path.write_text``; a lone
        surrogate is written as ``JSON.stringify`` writes it (``"\\ud83d"``), see
        :mod:`alchemy._context_json`. :meth:`from_json` reads it back, as ``str`` or ``bytes``."""
        data = self.to_dict()
        try:
            return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0).decode()
        except orjson.JSONEncodeError:
            written = dumps_like_javascript(data, indent=indent)
            if written is None:
                raise
            return written.decode()

    @classmethod
    def from_json(cls, data: str | bytes) -> Context:
        """Loads a context saved by alchemy or pi-ai; bad JSON or fields raise ``ValueError``.

        Lone surrogate escapes (pi-ai sessions can hold them) are read as ``JSON.parse`` does.
        """
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            fail_type("Context.from_json()", "data", "JSON as str or bytes", data)
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            parsed = loads_like_javascript(data)
            if parsed is NOT_JSON:
                raise ValueError(f"<root>: not valid JSON ({exc})") from exc
        return cls.from_dict(parsed)


def check_context(context: Context) -> None:
    """The shape of a conversation: its system prompt, message types and tools (names unique).

    Runs when a ``Context`` is built and again at every call, since a context is
    mutable (``context.messages.append(...)``); each message checked its own content
    when it was built. Shallow, so it costs one type test per message.
    """
    need_text("Context", "system_prompt", context.system_prompt, optional=True)
    messages = context.messages
    if not isinstance(messages, list):
        fail_type("Context", "messages", "a list of messages", messages)
    for i, message in enumerate(messages):
        if not isinstance(message, _MESSAGE_TYPES):
            if isinstance(message, str):
                hint = " (wrap it: UserMessage(text))"
            elif isinstance(message, dict):
                hint = " (read pi-ai JSON with Context.from_dict or message_from_dict)"
            else:
                hint = ""
            fail_type("Context", f"messages[{i}]", "a UserMessage, AssistantMessage or ToolResultMessage", message, hint)
    tools = context.tools
    if tools is None:
        return
    if not isinstance(tools, list):
        fail_type("Context", "tools", "a list of alchemy.Tool or None", tools)
    names: set[str] = set()
    for i, tool in enumerate(tools):
        need_instance("Context", f"tools[{i}]", tool, Tool)
        if tool.name in names:
            fail_value("Context", f"tools[{i}].name", "unique (another tool has this name)", tool.name)
        names.add(tool.name)


# --------------------------------------------------------------------------- models


def _check_prices(owner: str, prices: CostTier | ModelCost) -> None:
    """Prices are finite numbers >= 0 (USD per million tokens) or ``None`` (unknown)."""
    a, b, c, d, e = prices.input, prices.output, prices.cache_read, prices.cache_write, prices.reasoning
    if not (  # the registry builds one per model: plain tests first
        (a is None or (type(a) in _PRICE_TYPES and 0 <= a < math.inf))
        and (b is None or (type(b) in _PRICE_TYPES and 0 <= b < math.inf))
        and (c is None or (type(c) in _PRICE_TYPES and 0 <= c < math.inf))
        and (d is None or (type(d) in _PRICE_TYPES and 0 <= d < math.inf))
        and (e is None or (type(e) in _PRICE_TYPES and 0 <= e < math.inf))
    ):
        for name in ("input", "output", "cache_read", "cache_write", "reasoning"):
            need_number(owner, name, getattr(prices, name), minimum=0, optional=True)


_PRICE_TYPES: tuple[type, ...] = (float, int)


@dataclass(slots=True, frozen=True)
class CostTier:
    """Prices that apply to every token of a request whose prompt exceeds ``threshold`` tokens."""

    threshold: int
    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None

    def __post_init__(self) -> None:
        need_count("CostTier", "threshold", self.threshold)
        _check_prices("CostTier", self)


@dataclass(slots=True, frozen=True)
class ModelCost:
    """Prices in USD per million tokens; ``None`` means unknown."""

    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    tiers: tuple[CostTier, ...] = ()

    def __post_init__(self) -> None:
        _check_prices("ModelCost", self)
        if type(self.tiers) is not tuple:
            fail_type("ModelCost", "tiers", "a tuple of CostTier", self.tiers)
        for i, tier in enumerate(self.tiers):
            need_instance("ModelCost", f"tiers[{i}]", tier, CostTier)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": self.input,
            "output": self.output,
            "cacheRead": self.cache_read,
            "cacheWrite": self.cache_write,
        }
        _put(out, "reasoning", self.reasoning)
        if self.tiers:
            out["tiers"] = [
                {
                    "threshold": t.threshold,
                    "input": t.input,
                    "output": t.output,
                    "cacheRead": t.cache_read,
                    "cacheWrite": t.cache_write,
                    "reasoning": t.reasoning,
                }
                for t in self.tiers
            ]
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> ModelCost:
        r = _Reader(data, path)
        tiers = []
        for i, raw in enumerate(r.list_field("tiers", required=False) or []):
            t = _Reader(raw, f"{r.at('tiers')}[{i}]")
            tiers.append(
                CostTier(
                    t.int_field("threshold"),
                    t.number("input", required=False),
                    t.number("output", required=False),
                    t.number("cacheRead", required=False),
                    t.number("cacheWrite", required=False),
                    t.number("reasoning", required=False),
                )
            )
        return cls(
            r.number("input", required=False),
            r.number("output", required=False),
            r.number("cacheRead", required=False),
            r.number("cacheWrite", required=False),
            r.number("reasoning", required=False),
            tuple(tiers),
        )


@dataclass(slots=True, frozen=True)
class ModelCapabilities:
    """What a model accepts (martian-adapters' flags plus reasoning).

    The registry fills these from models.dev and the per-provider defaults; a model
    built by hand gets permissive defaults (vision and reasoning follow the model's
    ``input`` and ``reasoning``), because local servers accept most request shapes.
    """

    supports_streaming: bool = True
    supports_vision: bool = False
    supports_tools: bool = True
    supports_tool_choice: bool = True
    supports_tool_choice_required: bool = True
    supports_temperature: bool = True
    supports_n: bool = False
    supports_json_output: bool = True
    supports_json_content: bool = True
    supports_system: bool = True
    supports_multiple_system: bool = True
    supports_repeating_roles: bool = True
    supports_empty_content: bool = True
    supports_user: bool = True
    supports_last_assistant: bool = True
    supports_first_assistant: bool = True
    supports_only_system: bool = True
    supports_only_assistant: bool = True
    supports_reasoning: bool = False


@dataclass(slots=True)
class Model:
    """Everything needed to call one model and to account for it.

    ``base_url`` is the API root (``https://api.openai.com/v1``), not the endpoint;
    it may hold ``${VAR}`` placeholders resolved from the environment at call time.
    ``cost`` is in USD per million tokens. Models from the registry carry their
    capability flags and metadata; a model built by hand works everywhere too.
    ``compat`` holds OpenAI-Chat-Completions quirks under snake_case names of pi-ai's
    ``OpenAICompletionsCompat`` fields (``supports_developer_role``, ``max_tokens_field``,
    ...); the JSON form uses pi-ai's camelCase. ``interleaved`` is ``True`` or the name
    of the assistant-message field that carries earlier reasoning back in tool loops
    (``"reasoning_content"``); ``reasoning_options`` are models.dev's reasoning controls.
    """

    id: str
    name: str
    api: Api
    provider: Provider
    base_url: str
    reasoning: bool = False
    input: tuple[str, ...] = ("text",)
    cost: ModelCost = field(default_factory=ModelCost)
    context_window: int = 0
    max_tokens: int = 0
    headers: dict[str, str] | None = None
    compat: dict[str, Any] | None = None
    capabilities: ModelCapabilities | None = None
    env_keys: tuple[str, ...] = ()
    max_input_tokens: int = 0
    vendor: str | None = None
    open_weights: bool | None = None
    knowledge: str | None = None
    release_date: str | None = None
    last_updated: str | None = None
    status: str | None = None
    family: str | None = None
    interleaved: bool | str | None = None
    reasoning_options: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        # The registry builds every model it lists: plain type tests first, the named
        # checks (with their messages) only when one fails.
        if not (
            type(self.id) is str
            and self.id
            and type(self.name) is str
            and type(self.api) is str
            and self.api
            and type(self.provider) is str
            and type(self.base_url) is str
            and type(self.reasoning) is bool
            and type(self.input) is tuple
            and type(self.cost) is ModelCost
            and type(self.context_window) is int
            and self.context_window >= 0
            and type(self.max_tokens) is int
            and self.max_tokens >= 0
            and type(self.max_input_tokens) is int
            and self.max_input_tokens >= 0
            and (self.headers is None or type(self.headers) is dict)
            and (self.compat is None or type(self.compat) is dict)
            and (self.capabilities is None or type(self.capabilities) is ModelCapabilities)
            and type(self.env_keys) is tuple
            and (self.interleaved is None or type(self.interleaved) in (bool, str))
        ):
            self._check()
        else:
            self._check_items()
        self.input = tuple(self.input)
        self.env_keys = tuple(self.env_keys)
        if self.capabilities is None:
            self.capabilities = ModelCapabilities(
                supports_vision="image" in self.input, supports_reasoning=self.reasoning
            )

    def _check_items(self) -> None:
        """What the fast test leaves open: the base URL, items of tuples and dicts, optional strings."""
        check_base_url("Model", "base_url", self.base_url)
        for item in self.input + self.env_keys:
            if type(item) is not str:
                self._check()
        if self.headers:
            need_mapping_of_text("Model", "headers", self.headers)
        if not (
            (self.vendor is None or type(self.vendor) is str)
            and (self.family is None or type(self.family) is str)
            and (self.status is None or type(self.status) is str)
            and (self.knowledge is None or type(self.knowledge) is str)
            and (self.release_date is None or type(self.release_date) is str)
            and (self.last_updated is None or type(self.last_updated) is str)
            and (self.open_weights is None or type(self.open_weights) is bool)
        ):
            self._check()

    def _check(self) -> None:
        need_text("Model", "id", self.id, empty=False)
        need_text("Model", "name", self.name)
        need_text("Model", "api", self.api, empty=False)
        need_text("Model", "provider", self.provider)
        check_base_url("Model", "base_url", self.base_url)
        need_bool("Model", "reasoning", self.reasoning)
        _check_names("Model", "input", self.input, "('text', 'image')")
        need_instance("Model", "cost", self.cost, ModelCost)
        need_count("Model", "context_window", self.context_window)
        need_count("Model", "max_tokens", self.max_tokens)
        need_count("Model", "max_input_tokens", self.max_input_tokens)
        need_mapping_of_text("Model", "headers", self.headers, optional=True)
        if self.compat is not None and not isinstance(self.compat, dict):
            fail_type("Model", "compat", "a dict or None", self.compat)
        need_instance("Model", "capabilities", self.capabilities, ModelCapabilities, optional=True)
        _check_names("Model", "env_keys", self.env_keys, "('OPENAI_API_KEY',)")
        for name in ("vendor", "knowledge", "release_date", "last_updated", "status", "family"):
            need_text("Model", name, getattr(self, name), optional=True)
        need_bool("Model", "open_weights", self.open_weights, optional=True)
        if not (self.interleaved is None or isinstance(self.interleaved, (bool, str))):
            fail_type("Model", "interleaved", "True, False, a field name or None", self.interleaved)

    @property
    def caps(self) -> ModelCapabilities:
        """The capability flags (never ``None`` after construction)."""
        assert self.capabilities is not None
        return self.capabilities

    @property
    def deprecated(self) -> bool:
        return self.status == "deprecated"

    @property
    def key(self) -> str:
        """``provider/id``, the form ``get_model`` accepts."""
        return f"{self.provider}/{self.id}"

    def __repr__(self) -> str:
        """The dataclass repr, with the values of credential headers (``Authorization``, ...) hidden."""
        from dataclasses import fields

        from .request import REDACTED, is_secret_header_name

        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "headers" and value:
                value = {name: REDACTED if is_secret_header_name(name) else item for name, item in value.items()}
            shown.append(f"{f.name}={value!r}")
        return f"Model({', '.join(shown)})"

    @property
    def path(self) -> str:
        """The martian path ``provider/vendor/model`` (``get_model`` accepts it too)."""
        from .models._vendor import martian_path

        return martian_path(self.provider, self.id, self.vendor)

    def to_dict(self) -> dict[str, Any]:
        """pi-ai's model shape (registry-only metadata is not part of it)."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "api": self.api,
            "provider": self.provider,
            "baseUrl": self.base_url,
            "reasoning": self.reasoning,
            "input": list(self.input),
            "cost": self.cost.to_dict(),
            "contextWindow": self.context_window,
            "maxTokens": self.max_tokens,
        }
        _put(out, "headers", self.headers)
        if self.compat is not None:
            out["compat"] = {_camel(k): v for k, v in self.compat.items()}
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Model:
        r = _Reader(data, path)
        raw_input = r.list_field("input", required=False) or ["text"]
        for i, kind in enumerate(raw_input):
            if not isinstance(kind, str):
                raise ValueError(f"{r.at('input')}[{i}]: expected a string, got {_kind(kind)}")
        cost = r.obj_field("cost", required=False)
        return cls(
            id=r.text_field("id"),
            name=r.text_field("name", required=False) or r.text_field("id"),
            api=r.text_field("api"),
            provider=r.text_field("provider"),
            base_url=r.text_field("baseUrl", required=False) or "",
            reasoning=r.flag("reasoning"),
            input=tuple(raw_input),
            cost=ModelCost.from_dict(cost, r.at("cost")) if cost is not None else ModelCost(),
            context_window=r.int_field("contextWindow", required=False),
            max_tokens=r.int_field("maxTokens", required=False),
            headers=r.obj_field("headers", required=False),
            compat=_snake_keys(r.obj_field("compat", required=False)),
        )


def check_base_url(owner: str, name: str, url: object) -> None:
    """An ``http://`` or ``https://`` URL with a host; ``""`` (the provider builds the URL)
    and a URL that starts with a ``${VAR}`` placeholder are checked once filled."""
    if not isinstance(url, str):
        fail_type(owner, name, "a str", url)
    if not url or url.startswith("${"):
        return
    head = url[:8].lower()
    if head == "https://":
        host = url[8:9]
    elif head.startswith("http://"):
        host = url[7:8]
    else:
        hint = " (start it with http:// or https://)" if "://" not in url else ""
        fail_value(owner, name, "an http:// or https:// URL", url, hint)
    if host in ("", "/"):
        fail_value(owner, name, "a URL with a host", url)


def _check_names(owner: str, name: str, value: object, example: str) -> None:
    """A tuple (or list) of strings; a lone string is the classic slip, named as such."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        fail_type(owner, name, f"a tuple of str such as {example}", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            fail_type(owner, f"{name}[{i}]", "a str", item)


def _camel(name: str) -> str:
    """``supports_developer_role`` -> ``supportsDeveloperRole`` (pi-ai's compat keys)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake_keys(compat: dict[str, Any] | None) -> dict[str, Any] | None:
    """pi-ai's camelCase compat keys -> alchemy's snake_case (snake_case keys pass through)."""
    if compat is None:
        return None
    return {"".join(f"_{c.lower()}" if c.isupper() else c for c in k): v for k, v in compat.items()}
