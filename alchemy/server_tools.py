"""Tools the provider runs itself, declared once: what users ask for with ``server_tools=[...]``.

Each class is one kind of provider-executed tool. Its fields are the settings a user
may give, and :data:`FIELD_APIS` says which wire APIs carry each field, so a setting
an API cannot honour is refused at the call, naming the field and the APIs that take
it. :data:`SERVER_TOOL_APIS` says which APIs offer each tool at all. Each provider
module maps the objects to its own declaration (Anthropic's versioned ``tools``
entries and ``mcp_servers``; the Responses API's ``tools``; Gemini's ``googleSearch``,
``urlContext`` and ``codeExecution`` tools; ``web_search_options`` or OpenRouter's web
plugin on Chat Completions) and refuses, at the call, what one model cannot take
(:func:`supported_server_tools` asks it); the tests assert each declaration on the
recorded request body.

What the provider ran comes back as :class:`~alchemy.types.ServerToolCall` blocks and
``servertool_*`` events, with sources as :class:`~alchemy.types.Citation` on text blocks.

Continuing a turn: Anthropic may stop a long server-side loop with ``pause_turn``: the
message's ``stop_reason`` is ``"stop"`` and ``message.paused`` is true
(:func:`needs_continuation`). Append the message to the context and call again: the
model carries on where it stopped (:func:`alchemy.run_tools` does this by itself). An
MCP call that the provider wants approved first ends as a ``ServerToolCall`` with
``status == "awaiting_approval"``; :func:`approve` gives the answer to put in the
context before the next call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final, Literal

from . import wire_apis
from ._args import fail_type, fail_value, need_bool, need_count, need_mapping_of_text, need_text

__all__ = [
    "FIELD_APIS",
    "SERVER_TOOL_APIS",
    "SERVER_TOOL_CLASSES",
    "CodeExecution",
    "FileSearch",
    "ImageGeneration",
    "McpServer",
    "ServerTool",
    "ToolSearch",
    "UserLocation",
    "WebFetch",
    "WebSearch",
    "approve",
    "check_server_tools",
    "describe",
    "needs_continuation",
    "server_tools_for",
    "supported_server_tools",
]

ANTHROPIC: Final = wire_apis.ANTHROPIC_MESSAGES.name
RESPONSES: Final = wire_apis.OPENAI_RESPONSES.name
AZURE: Final = wire_apis.AZURE_OPENAI_RESPONSES.name
GEMINI: Final = wire_apis.GOOGLE_GENERATIVE_AI.name
VERTEX: Final = wire_apis.GOOGLE_VERTEX.name
COMPLETIONS: Final = wire_apis.OPENAI_COMPLETIONS.name


def _texts(owner: str, name: str, value: object) -> tuple[str, ...] | None:
    """A list of non-empty strings as a tuple (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        fail_type(owner, name, "a list of strings or None", value, " (put one value in a list)" if isinstance(value, str) else "")
    for i, item in enumerate(value):
        need_text(owner, f"{name}[{i}]", item, empty=False)
    return tuple(value)


def _positive(owner: str, name: str, value: object) -> None:
    need_count(owner, name, value, minimum=1, optional=True)


@dataclass(frozen=True, slots=True)
class UserLocation:
    """Where the user is, approximately, to localise web search results."""

    city: str | None = None
    region: str | None = None
    country: str | None = None
    """Two-letter ISO country code (``"US"``)."""
    timezone: str | None = None
    """IANA time zone (``"America/New_York"``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            need_text("UserLocation", f.name, getattr(self, f.name), empty=False, optional=True)
        if self.country is not None and (len(self.country) != 2 or not self.country.isalpha()):
            fail_value("UserLocation", "country", "a two-letter ISO 3166-1 code such as 'US'", self.country)

    def to_wire(self) -> dict[str, Any]:
        """``{"type": "approximate", ...}``, the shape both Anthropic and OpenAI take."""
        out: dict[str, Any] = {"type": "approximate"}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out


class ServerTool:
    """A tool the provider runs itself; subclasses are frozen dataclasses of its settings."""

    __slots__ = ()
    kind: ClassVar[str]
    """The tool's name in alchemy (``"web_search"``…), the key of :data:`SERVER_TOOL_APIS`."""

    def given(self) -> dict[str, Any]:
        """The settings that were given (not ``None``), by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}  # type: ignore[arg-type]

    def secrets(self) -> tuple[str, ...]:
        """Credentials among the settings, which the stream's redactor hides."""
        return ()


@dataclass(frozen=True, slots=True)
class WebSearch(ServerTool):
    """The provider searches the web (Anthropic ``web_search``, OpenAI ``web_search``, Gemini
    ``google_search``); answers come with ``url`` citations."""

    max_uses: int | None = None
    allowed_domains: Sequence[str] | None = None
    blocked_domains: Sequence[str] | None = None
    user_location: UserLocation | None = None
    context_size: Literal["low", "medium", "high"] | None = None
    """How much of the pages the search puts in the model's context (OpenAI)."""
    kind: ClassVar[str] = "web_search"

    def __post_init__(self) -> None:
        _positive("WebSearch", "max_uses", self.max_uses)
        object.__setattr__(self, "allowed_domains", _texts("WebSearch", "allowed_domains", self.allowed_domains))
        object.__setattr__(self, "blocked_domains", _texts("WebSearch", "blocked_domains", self.blocked_domains))
        if self.allowed_domains and self.blocked_domains:
            raise ValueError("WebSearch takes allowed_domains or blocked_domains, not both")
        if self.user_location is not None and not isinstance(self.user_location, UserLocation):
            fail_type("WebSearch", "user_location", "an alchemy.UserLocation or None", self.user_location)
        if self.context_size is not None and self.context_size not in ("low", "medium", "high"):
            fail_value("WebSearch", "context_size", "'low', 'medium' or 'high'", self.context_size)


@dataclass(frozen=True, slots=True)
class WebFetch(ServerTool):
    """The provider fetches pages the conversation names (Anthropic ``web_fetch``; Gemini
    ``url_context``)."""

    max_uses: int | None = None
    allowed_domains: Sequence[str] | None = None
    blocked_domains: Sequence[str] | None = None
    citations: bool | None = None
    """Whether the answer cites the fetched pages (Anthropic; off by default there)."""
    max_content_tokens: int | None = None
    kind: ClassVar[str] = "web_fetch"

    def __post_init__(self) -> None:
        _positive("WebFetch", "max_uses", self.max_uses)
        _positive("WebFetch", "max_content_tokens", self.max_content_tokens)
        need_bool("WebFetch", "citations", self.citations, optional=True)
        object.__setattr__(self, "allowed_domains", _texts("WebFetch", "allowed_domains", self.allowed_domains))
        object.__setattr__(self, "blocked_domains", _texts("WebFetch", "blocked_domains", self.blocked_domains))
        if self.allowed_domains and self.blocked_domains:
            raise ValueError("WebFetch takes allowed_domains or blocked_domains, not both")


@dataclass(frozen=True, slots=True)
class CodeExecution(ServerTool):
    """The provider runs code in its sandbox (Anthropic ``code_execution``, OpenAI
    ``code_interpreter``, Gemini ``code_execution``)."""

    container: str | None = None
    """A container id to reuse (OpenAI: instead of a new ``auto`` container; Anthropic: the
    request's ``container``)."""
    file_ids: Sequence[str] | None = None
    """Files to put in a new container (OpenAI)."""
    kind: ClassVar[str] = "code_execution"

    def __post_init__(self) -> None:
        need_text("CodeExecution", "container", self.container, empty=False, optional=True)
        object.__setattr__(self, "file_ids", _texts("CodeExecution", "file_ids", self.file_ids))
        if self.container is not None and self.file_ids:
            raise ValueError("CodeExecution takes file_ids for a new container, or container to reuse one, not both")


@dataclass(frozen=True, slots=True)
class FileSearch(ServerTool):
    """The provider searches your vector stores (OpenAI ``file_search``); answers come with
    ``file`` citations."""

    vector_store_ids: Sequence[str] = ()
    max_num_results: int | None = None
    filters: Mapping[str, Any] | None = None
    """An OpenAI attribute filter (``{"type": "eq", "key": ..., "value": ...}``)."""
    kind: ClassVar[str] = "file_search"

    def __post_init__(self) -> None:
        ids = _texts("FileSearch", "vector_store_ids", self.vector_store_ids)
        if not ids:
            raise ValueError("FileSearch needs vector_store_ids: at least one vector store id")
        object.__setattr__(self, "vector_store_ids", ids)
        need_count("FileSearch", "max_num_results", self.max_num_results, minimum=1, optional=True)
        if self.max_num_results is not None and self.max_num_results > 50:
            fail_value("FileSearch", "max_num_results", "between 1 and 50", self.max_num_results)
        if self.filters is not None and not isinstance(self.filters, Mapping):
            fail_type("FileSearch", "filters", "a dict or None", self.filters)


@dataclass(frozen=True, slots=True)
class McpServer(ServerTool):
    """A remote MCP server the provider calls (Anthropic's MCP connector, OpenAI ``mcp``).

    ``authorization`` is an OAuth access token for the server; like every key it never
    appears in a repr, a log or an error. ``require_approval`` (OpenAI): ``"always"``
    makes each call wait for :func:`approve`, ``"never"`` runs them at once.
    """

    url: str = ""
    name: str = ""
    """The server's label (OpenAI ``server_label``, Anthropic ``name``)."""
    authorization: str | None = field(default=None, repr=False)
    allowed_tools: Sequence[str] | None = None
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    require_approval: Literal["always", "never"] | None = None
    description: str | None = None
    kind: ClassVar[str] = "mcp"

    def __post_init__(self) -> None:
        need_text("McpServer", "url", self.url, empty=False)
        if not self.url.startswith(("https://", "http://")):
            fail_value("McpServer", "url", "an http(s) URL", self.url)
        need_text("McpServer", "name", self.name, empty=False)
        need_text("McpServer", "authorization", self.authorization, empty=False, optional=True)
        object.__setattr__(self, "allowed_tools", _texts("McpServer", "allowed_tools", self.allowed_tools))
        need_mapping_of_text("McpServer", "headers", self.headers, optional=True)
        if self.require_approval is not None and self.require_approval not in ("always", "never"):
            fail_value("McpServer", "require_approval", "'always' or 'never'", self.require_approval)
        need_text("McpServer", "description", self.description, optional=True)

    def secrets(self) -> tuple[str, ...]:
        return tuple(v for v in (self.authorization, *(self.headers or {}).values()) if v)


@dataclass(frozen=True, slots=True)
class ImageGeneration(ServerTool):
    """The provider draws images (OpenAI ``image_generation``); the image is the call's
    result (base64)."""

    size: str | None = None
    quality: Literal["low", "medium", "high", "auto"] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    background: Literal["transparent", "opaque", "auto"] | None = None
    partial_images: int | None = None
    kind: ClassVar[str] = "image_generation"

    def __post_init__(self) -> None:
        need_text("ImageGeneration", "size", self.size, empty=False, optional=True)
        for name, allowed in (
            ("quality", ("low", "medium", "high", "auto")),
            ("output_format", ("png", "jpeg", "webp")),
            ("background", ("transparent", "opaque", "auto")),
        ):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                fail_value("ImageGeneration", name, " or ".join(map(repr, allowed)), value)
        need_count("ImageGeneration", "partial_images", self.partial_images, optional=True)
        if self.partial_images is not None and self.partial_images > 3:
            fail_value("ImageGeneration", "partial_images", "between 0 and 3", self.partial_images)


@dataclass(frozen=True, slots=True)
class ToolSearch(ServerTool):
    """The provider searches the context's tools and loads the ones it needs (Anthropic's
    tool search). ``deferred`` names the tools it loads only when found (``defer_loading``)."""

    mode: Literal["regex", "bm25"] = "regex"
    deferred: Sequence[str] | None = None
    kind: ClassVar[str] = "tool_search"

    def __post_init__(self) -> None:
        if self.mode not in ("regex", "bm25"):
            fail_value("ToolSearch", "mode", "'regex' or 'bm25'", self.mode)
        object.__setattr__(self, "deferred", _texts("ToolSearch", "deferred", self.deferred))


SERVER_TOOL_CLASSES: Final[tuple[type[ServerTool], ...]] = (
    WebSearch,
    WebFetch,
    CodeExecution,
    FileSearch,
    McpServer,
    ImageGeneration,
    ToolSearch,
)

SERVER_TOOL_APIS: Final[Mapping[str, frozenset[str]]] = {
    "web_search": frozenset({ANTHROPIC, RESPONSES, GEMINI, VERTEX, COMPLETIONS}),
    "web_fetch": frozenset({ANTHROPIC, GEMINI, VERTEX}),
    "code_execution": frozenset({ANTHROPIC, RESPONSES, AZURE, GEMINI, VERTEX}),
    "file_search": frozenset({RESPONSES, AZURE}),
    "mcp": frozenset({ANTHROPIC, RESPONSES, AZURE}),
    "image_generation": frozenset({RESPONSES, AZURE}),
    "tool_search": frozenset({ANTHROPIC}),
}
"""Which wire APIs offer each server tool (the others refuse it at the call)."""

_ALL: Final = None
FIELD_APIS: Final[Mapping[tuple[str, str], frozenset[str] | None]] = {
    ("web_search", "max_uses"): frozenset({ANTHROPIC}),
    ("web_search", "allowed_domains"): frozenset({ANTHROPIC, RESPONSES, COMPLETIONS}),
    ("web_search", "blocked_domains"): frozenset({ANTHROPIC, VERTEX, COMPLETIONS}),
    ("web_search", "user_location"): frozenset({ANTHROPIC, RESPONSES, COMPLETIONS}),
    ("web_search", "context_size"): frozenset({RESPONSES, COMPLETIONS}),
    ("web_fetch", "max_uses"): frozenset({ANTHROPIC}),
    ("web_fetch", "allowed_domains"): frozenset({ANTHROPIC}),
    ("web_fetch", "blocked_domains"): frozenset({ANTHROPIC}),
    ("web_fetch", "citations"): frozenset({ANTHROPIC}),
    ("web_fetch", "max_content_tokens"): frozenset({ANTHROPIC}),
    ("code_execution", "container"): frozenset({ANTHROPIC, RESPONSES, AZURE}),
    ("code_execution", "file_ids"): frozenset({RESPONSES, AZURE}),
    ("file_search", "vector_store_ids"): _ALL,
    ("file_search", "max_num_results"): _ALL,
    ("file_search", "filters"): _ALL,
    ("mcp", "url"): _ALL,
    ("mcp", "name"): _ALL,
    ("mcp", "authorization"): _ALL,
    ("mcp", "allowed_tools"): _ALL,
    ("mcp", "headers"): frozenset({RESPONSES, AZURE}),
    ("mcp", "require_approval"): frozenset({RESPONSES, AZURE}),
    ("mcp", "description"): frozenset({RESPONSES, AZURE}),
    ("image_generation", "size"): _ALL,
    ("image_generation", "quality"): _ALL,
    ("image_generation", "output_format"): _ALL,
    ("image_generation", "background"): _ALL,
    ("image_generation", "partial_images"): _ALL,
    ("tool_search", "mode"): _ALL,
    ("tool_search", "deferred"): _ALL,
}
"""Which APIs carry each setting of a server tool (``None``: every API that offers the tool)."""


def check_server_tools(name: str, value: object) -> list[ServerTool]:
    """The option kind of ``server_tools``: a list of server tool objects, each kind once."""
    if isinstance(value, ServerTool):
        fail_type("option", name, "a list of server tools", value, " (put it in a list: [tool])")
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        fail_type("option", name, "a list of server tools such as [alchemy.WebSearch()]", value)
    tools = list(value)
    seen: dict[tuple[str, str], int] = {}
    for i, tool in enumerate(tools):
        if not isinstance(tool, ServerTool):
            hint = ""
            if isinstance(tool, Mapping):
                hint = " (use the classes: alchemy.WebSearch(...), alchemy.CodeExecution(), ...; extra_body takes raw JSON)"
            elif isinstance(tool, type) and issubclass(tool, ServerTool):
                hint = f" (call it: alchemy.{tool.__name__}())"
            fail_type("option", f"{name}[{i}]", "a server tool (alchemy.WebSearch, ...)", tool, hint)
        key = (tool.kind, tool.name if isinstance(tool, McpServer) else "")
        if key in seen:
            label = f"MCP server {tool.name!r}" if isinstance(tool, McpServer) else type(tool).__name__
            raise ValueError(f"option {name}: {label} is given twice (items {seen[key]} and {i})")
        seen[key] = i
    return tools


def server_tools_for(api: str, tools: Iterable[ServerTool]) -> list[ServerTool]:
    """``tools`` when wire API ``api`` offers each with every setting given; else ``ValueError``
    naming the tool or setting and the APIs that take it. Runs at the call (option check)."""
    checked = []
    for i, tool in enumerate(tools):
        apis = SERVER_TOOL_APIS[tool.kind]
        if api not in apis:
            raise ValueError(
                f"option server_tools[{i}]: {type(tool).__name__} is not offered by the {api} API; "
                f"it is by: {', '.join(sorted(apis))}"
            )
        for setting in tool.given():
            carriers = FIELD_APIS[(tool.kind, setting)]
            if carriers is not None and api not in carriers:
                raise ValueError(
                    f"option server_tools[{i}]: {type(tool).__name__}({setting}=...) is not carried by the {api} API; "
                    f"it is by: {', '.join(sorted(carriers))}"
                )
        checked.append(tool)
    return checked


def supported_server_tools(model: Any) -> tuple[type[ServerTool], ...]:
    """The server tool classes ``model`` takes: those its wire API offers that its provider does
    not refuse for this model (asked the way a call asks, before any I/O; nothing is sent)."""
    from ._args import need_instance
    from .api_registry import get_api
    from .options import StreamOptions
    from .types import Context, Model

    need_instance("supported_server_tools()", "model", model, Model)
    check_request = getattr(get_api(model.api), "check_request", None)  # custom providers may have none
    taken = []
    for cls in SERVER_TOOL_CLASSES:
        if model.api not in SERVER_TOOL_APIS[cls.kind]:
            continue
        if check_request is not None:
            try:
                check_request(model, Context(), StreamOptions(server_tools=[_sample(cls)]))
            except ValueError:
                continue
        taken.append(cls)
    return tuple(taken)


def _sample(cls: type[ServerTool]) -> ServerTool:
    """An instance of ``cls`` with the settings it requires and no others."""
    if cls is FileSearch:
        return FileSearch(["vs_sample"])
    if cls is McpServer:
        return McpServer(url="https://mcp.example.invalid", name="sample")
    return cls()


def needs_continuation(message: Any) -> bool:
    """Whether ``message`` is a turn the provider paused (Anthropic ``pause_turn``): send the
    conversation again, this message included, and the model continues it."""
    from .types import AssistantMessage

    if not isinstance(message, AssistantMessage):
        fail_type("needs_continuation()", "message", "an alchemy.AssistantMessage", message)
    return message.paused and message.stop_reason == "stop"


def approve(call: Any, approve: bool = True, *, reason: str | None = None) -> Any:
    """The answer to a server tool call that awaits approval (an MCP call on the Responses API):
    a :class:`~alchemy.types.ToolResultMessage` to append to the context before the next call.

    The Responses API receives it as an ``mcp_approval_response``; other APIs never see it.
    """
    from .types import ServerToolCall, TextContent, ToolResultMessage

    if not isinstance(call, ServerToolCall):
        fail_type("approve()", "call", "an alchemy.ServerToolCall", call)
    if call.status != "awaiting_approval":
        fail_value("approve()", "call", "a server tool call whose status is 'awaiting_approval'", call.status)
    need_bool("approve()", "approve", approve)
    need_text("approve()", "reason", reason, optional=True)
    text = ("approved" if approve else "denied") + (f": {reason}" if reason else "")
    details: dict[str, Any] = {"approve": approve}
    if reason:
        details["reason"] = reason
    return ToolResultMessage(
        tool_call_id=call.id, tool_name=call.name, content=[TextContent(text)], is_error=not approve, details=details
    )


DESCRIBED_RESULT_CHARS: Final = 4000
"""How much of a result's JSON :func:`describe` shows before it cuts (and says so)."""


def describe(call: Any) -> str:
    """A plain-text summary of a server tool call for another API (``foreign_server_tools="text"``).

    The tool, its status and its whole input; its result as JSON without the fields
    only the provider can read (``encrypted_*``), cut after
    :data:`DESCRIBED_RESULT_CHARS` characters with a note saying how much was left out.
    """
    import orjson

    from .types import ServerToolCall

    if not isinstance(call, ServerToolCall):
        fail_type("describe()", "call", "an alchemy.ServerToolCall", call)
    by = f" by {call.provider}" if call.provider else ""
    lines = [f"[{call.name} run{by}, {call.status.replace('_', ' ')}] input: {orjson.dumps(call.input).decode()}"]
    if call.result is not None:
        shown = orjson.dumps(_readable(call.result)).decode()
        if len(shown) > DESCRIBED_RESULT_CHARS:
            left = len(shown) - DESCRIBED_RESULT_CHARS
            shown = f"{shown[:DESCRIBED_RESULT_CHARS]}... ({left} more characters left out)"
        lines.append(f"result: {shown}")
    return "\n".join(lines)


def _readable(value: Any) -> Any:
    """``value`` without the keys only the provider can read (``encrypted_content``, ...)."""
    if isinstance(value, dict):
        return {k: _readable(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("encrypted"))}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value
