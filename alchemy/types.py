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

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union

import orjson

if TYPE_CHECKING:
    from ._speedups import JsonDeltaMerger

__all__ = [
    "Api",
    "AssistantContent",
    "AssistantMessage",
    "CacheRetention",
    "Context",
    "Cost",
    "ImageContent",
    "Message",
    "Model",
    "ModelCapabilities",
    "ModelCost",
    "CostTier",
    "Provider",
    "StopReason",
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


@dataclass(slots=True)
class TextContent:
    """Plain text. ``text_signature`` is provider data needed to replay it exactly."""

    text: str
    text_signature: str | None = None
    type: ClassVar[Literal["text"]] = "text"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "text", "text": self.text}
        _put(out, "textSignature", self.text_signature)
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> TextContent:
        r = _Reader(data, path)
        return cls(r.text_field("text"), r.text_field("textSignature", required=False))


@dataclass(slots=True)
class ThinkingContent:
    """Reasoning text. ``redacted`` blocks keep their opaque payload in the signature."""

    thinking: str
    thinking_signature: str | None = None
    redacted: bool = False
    type: ClassVar[Literal["thinking"]] = "thinking"

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


AssistantContent = Union[TextContent, ThinkingContent, ToolCall]
UserContent = Union[TextContent, ImageContent]

_USER_BLOCKS: dict[str, Any] = {"text": TextContent, "image": ImageContent}
_ASSISTANT_BLOCKS: dict[str, Any] = {"text": TextContent, "thinking": ThinkingContent, "toolCall": ToolCall}


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


@dataclass(slots=True)
class StreamMetrics:
    """How one response streamed. Times are seconds since the request was first sent.

    ``time_to_first_byte`` is when the response headers arrived,
    ``time_to_first_content`` when the first text, thinking or tool-call content was
    parsed, ``duration`` when the stream ended. ``output_tokens_per_second`` is the
    output token count over the time from first content to the end. ``retries``
    counts the attempts made before the one that was streamed.
    """

    time_to_first_byte: float | None = None
    time_to_first_content: float | None = None
    duration: float | None = None
    bytes_received: int = 0
    chunks: int = 0
    events: int = 0
    retries: int = 0
    output_tokens_per_second: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "timeToFirstByte": self.time_to_first_byte,
            "timeToFirstContent": self.time_to_first_content,
            "duration": self.duration,
            "bytesReceived": self.bytes_received,
            "chunks": self.chunks,
            "events": self.events,
            "retries": self.retries,
            "outputTokensPerSecond": self.output_tokens_per_second,
        }


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class UserMessage:
    """What the user says: a string, or text and image blocks."""

    content: str | list[TextContent | ImageContent]
    timestamp: int = field(default_factory=now_ms)
    role: ClassVar[Literal["user"]] = "user"

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
    role: ClassVar[Literal["assistant"]] = "assistant"

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
        return out

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
        )


def _logprobs(items: list[Any] | None, path: str) -> list[TokenLogprob] | None:
    if items is None:
        return None
    return [TokenLogprob.from_dict(item, f"{path}[{i}]") for i, item in enumerate(items)]


@dataclass(slots=True)
class ToolResultMessage:
    """The result of running a tool call. ``details`` is app data, never sent to a provider."""

    tool_call_id: str
    tool_name: str
    content: list[TextContent | ImageContent] = field(default_factory=list)
    is_error: bool = False
    details: Any = None
    timestamp: int = field(default_factory=now_ms)
    role: ClassVar[Literal["toolResult"]] = "toolResult"

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
    """A tool the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    @classmethod
    def from_dict(cls, data: object, path: str = "") -> Tool:
        r = _Reader(data, path)
        return cls(r.text_field("name"), r.text_field("description", required=False) or "", r.obj_field("parameters") or {})


@dataclass(slots=True)
class Context:
    """A conversation: system prompt, messages and tools. Saves as pi-ai-compatible JSON."""

    system_prompt: str | None = None
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] | None = None

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
            else [Tool.from_dict(t, f"{r.at('tools')}[{i}]") for i, t in enumerate(raw_tools)],
        )

    def to_json(self, *, indent: bool = False) -> bytes:
        """The context as JSON bytes (pi-ai's shape)."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 if indent else 0)

    @classmethod
    def from_json(cls, data: str | bytes) -> Context:
        """Loads a context saved by alchemy or pi-ai; bad JSON or fields raise ``ValueError``."""
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"<root>: not valid JSON ({exc})") from exc
        return cls.from_dict(parsed)


# --------------------------------------------------------------------------- models


@dataclass(slots=True, frozen=True)
class CostTier:
    """Prices that apply to every token of a request whose prompt exceeds ``threshold`` tokens."""

    threshold: int
    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


@dataclass(slots=True, frozen=True)
class ModelCost:
    """Prices in USD per million tokens; ``None`` means unknown."""

    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    tiers: tuple[CostTier, ...] = ()

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
        self.input = tuple(self.input)
        if self.capabilities is None:
            self.capabilities = ModelCapabilities(
                supports_vision="image" in self.input, supports_reasoning=self.reasoning
            )

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


def _camel(name: str) -> str:
    """``supports_developer_role`` -> ``supportsDeveloperRole`` (pi-ai's compat keys)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake_keys(compat: dict[str, Any] | None) -> dict[str, Any] | None:
    """pi-ai's camelCase compat keys -> alchemy's snake_case (snake_case keys pass through)."""
    if compat is None:
        return None
    return {"".join(f"_{c.lower()}" if c.isupper() else c for c in k): v for k, v in compat.items()}
