"""Every option of ``stream`` / ``astream`` / ``complete`` / ``acomplete`` (and ``*_simple``), declared once.

Each :class:`Option` says what it accepts (a kind from :mod:`._kinds`), which wire
APIs carry it (``None``: every API, custom providers included), the environment
variable that gives its default if any, and a one-line doc. The checks at the call
(:mod:`._check`), the typed keyword dicts (:mod:`._typed`), each built-in provider's
``option_names`` and the README's option table are all read from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from ._kinds import (
    AnyMap,
    Budgets,
    CallableKind,
    Choice,
    Custom,
    Flag,
    Instance,
    Integer,
    Kind,
    Number,
    StopSequences,
    StrMap,
    Text,
)
from .. import config, wire_apis
from ..config import Setting
from ..model_facts import CLAUDE_MIN_THINKING_BUDGET, THINKING_LEVELS
from ..server_tools import SERVER_TOOL_APIS
from ._tool_choice import ToolChoiceKind

if TYPE_CHECKING:
    from ..types import Model

__all__ = [
    "BUILTIN_APIS",
    "OPTIONS",
    "OPTIONS_BY_NAME",
    "THINKING_LEVELS",
    "TRANSPORT_OPTIONS",
    "Group",
    "Option",
    "carried_options",
    "carrying_apis",
]

Group = Literal["call", "transport", "request", "reasoning", "provider"]


COMPLETIONS: Final = wire_apis.OPENAI_COMPLETIONS.name
RESPONSES: Final = wire_apis.OPENAI_RESPONSES.name
AZURE: Final = wire_apis.AZURE_OPENAI_RESPONSES.name
ANTHROPIC: Final = wire_apis.ANTHROPIC_MESSAGES.name
BEDROCK: Final = wire_apis.BEDROCK_CONVERSE_STREAM.name
GEMINI: Final = wire_apis.GOOGLE_GENERATIVE_AI.name
VERTEX: Final = wire_apis.GOOGLE_VERTEX.name
MISTRAL: Final = wire_apis.MISTRAL_CONVERSATIONS.name
COHERE: Final = wire_apis.COHERE_CHAT.name

BUILTIN_APIS: Final = frozenset(wire_apis.WIRE_APIS)
_GOOGLE: Final = frozenset({GEMINI, VERTEX})
_OPENAI_RESPONSES: Final = frozenset({RESPONSES, AZURE})


@dataclass(frozen=True, slots=True)
class Option:
    """The declaration of one option.

    ``apis`` lists the wire APIs that carry it (``None``: every API, custom providers
    included); ``per_api`` gives a narrower kind for some of them (Anthropic's
    temperature tops out at 1); ``model_check(model, value)`` raises ``ValueError``
    when the model itself cannot honour the value. ``field`` options are attributes of
    :class:`~alchemy.options.StreamOptions`; the others land in its
    ``provider_options``. ``env`` is the :mod:`alchemy.config` setting that gives the
    default; ``default`` is the value used when neither the call nor a variable gives one.
    """

    name: str
    kind: Kind
    doc: str
    group: Group
    apis: frozenset[str] | None = None
    per_api: Mapping[str, Kind] | None = None
    model_check: Callable[[Model, Any], None] | None = None
    env: Setting[Any] | None = None
    default: Any = None
    default_doc: str | None = None

    @property
    def shown_default(self) -> str:
        """The default as the README shows it (from the environment setting when there is one)."""
        if self.default_doc is not None:
            return self.default_doc
        if self.env is not None:
            return self.env.shown_default
        return "" if self.default is None else str(self.default)

    @property
    def field(self) -> bool:
        return self.group != "provider"

    def kind_for(self, api: str) -> Kind:
        if self.per_api is not None:
            return self.per_api.get(api, self.kind)
        return self.kind


def _custom(target: str, text: str, type_hint: str = "Any") -> Custom:
    return Custom(f"alchemy.options._model_checks:{target}", text, type_hint)


def _model_check(name: str) -> Callable[[Model, Any], None]:
    """A model check living in :mod:`._model_checks` (imported when first used)."""

    def check(model: Model, value: Any) -> None:
        from . import _model_checks

        getattr(_model_checks, name)(model, value)

    check.__name__ = name
    return check


_EFFORTS: Final = ("none", "minimal", "low", "medium", "high", "xhigh")

OPTIONS: Final[tuple[Option, ...]] = (
    # -- every call ------------------------------------------------------------------------
    Option("temperature", Number(0, 2), "Sampling temperature (dropped for models that reject it).", "call",
           per_api={ANTHROPIC: Number(0, 1)}),
    Option("max_tokens", Integer(1), "Most output tokens to generate (thinking included where the API counts it).",
           "call"),
    Option("api_key", Text(secret=True), "The key; else the provider's environment variables.", "call"),
    Option("headers", StrMap(), "Extra HTTP headers (they win over the provider's).", "call"),
    Option("signal", Instance("alchemy.abort:AbortSignal", label="an alchemy.AbortSignal", type_hint="AbortSignal"),
           "Aborts the stream from any thread or task (`AbortController().signal`).", "call"),
    Option("session_id", Text(), "Session id for provider-side prompt caching / affinity.", "call"),
    Option("tags", StrMap(), "Labels for accounting (`{\"user\": \"u1\"}`): budgets, ledger, telemetry, "
           "`message.tags`; never sent.", "call"),
    Option("cache_retention", Choice("none", "short", "long"), "Prompt-cache lifetime.", "call",
           env=config.CACHE_RETENTION),
    Option("on_payload", CallableKind(), "`on_payload(body, model)`: sees, and may replace, the request body.",
           "call"),
    Option("on_response", CallableKind(),
           "`on_response(status, headers)`: called as each attempt's response headers arrive (async in `astream`).",
           "call"),
    Option("metadata", AnyMap(), "Request metadata where the API has it (Anthropic: `user_id` only).", "request",
           apis=frozenset({COMPLETIONS, RESPONSES, AZURE, ANTHROPIC, BEDROCK, VERTEX}),
           model_check=_model_check("metadata")),
    Option("timeout", Number(above=0), "Seconds: default of the first-byte and idle timeouts.", "call",
           env=config.TIMEOUT),
    Option("max_retries", Integer(0), "Retries before any content arrived.", "call", default=2),
    Option("max_retry_delay", Number(0), "Longest wait a server may ask for (seconds) before failing at once.",
           "call", default=60.0),
    Option("reasoning", Choice(*THINKING_LEVELS), "One reasoning level for every model (clamped per model).",
           "reasoning"),
    Option("thinking_budgets", Budgets(), "Token budget per level, for models that take budgets.", "reasoning"),
    # -- transport (every built-in wire API) -----------------------------------------------
    Option("client", Instance(
        "httpx:Client", "httpx:AsyncClient", label="an httpx.Client or httpx.AsyncClient",
        type_hint="httpx.Client | httpx.AsyncClient"),
           "Your own httpx client (proxies, certificates, transports).", "transport", apis=BUILTIN_APIS),
    Option("connect_timeout", Number(above=0), "Seconds to connect.", "transport", apis=BUILTIN_APIS,
           env=config.CONNECT_TIMEOUT),
    Option("first_byte_timeout", Number(above=0), "Seconds until the response headers.", "transport",
           apis=BUILTIN_APIS, default_doc="timeout"),
    Option("idle_timeout", Number(above=0), "Longest silence between chunks (seconds).", "transport",
           apis=BUILTIN_APIS, default_doc="timeout"),
    # -- canonical request options ---------------------------------------------------------
    Option("stop", StopSequences(), "Stop sequences.", "request",
           apis=frozenset({COMPLETIONS, ANTHROPIC, BEDROCK, GEMINI, VERTEX, MISTRAL, COHERE})),
    Option("top_p", Number(0, 1), "Nucleus sampling.", "request",
           apis=frozenset({COMPLETIONS, RESPONSES, AZURE, ANTHROPIC, BEDROCK, GEMINI, VERTEX, MISTRAL, COHERE})),
    Option("top_k", Integer(1), "Sample from the k most likely tokens.", "request",
           apis=frozenset({COMPLETIONS, ANTHROPIC, BEDROCK, GEMINI, VERTEX, COHERE}), model_check=_model_check("top_k")),
    Option("seed", Integer(), "Seed for repeatable sampling.", "request",
           apis=frozenset({COMPLETIONS, GEMINI, VERTEX, MISTRAL, COHERE})),
    Option("frequency_penalty", Number(-2, 2), "Penalty for tokens by how often they appeared.", "request",
           apis=frozenset({COMPLETIONS, GEMINI, VERTEX, MISTRAL, COHERE}), per_api={COHERE: Number(0, 1)}),
    Option("presence_penalty", Number(-2, 2), "Penalty for tokens that appeared at all.", "request",
           apis=frozenset({COMPLETIONS, GEMINI, VERTEX, MISTRAL, COHERE}), per_api={COHERE: Number(0, 1)}),
    Option("logprobs", Flag(), "Return token log-probabilities on the message (`message.logprobs`).", "request",
           apis=frozenset({COMPLETIONS, RESPONSES, AZURE, GEMINI, VERTEX})),
    Option("top_logprobs", Integer(0, 20), "Alternatives returned per token with `logprobs` (implies it).",
           "request", apis=frozenset({COMPLETIONS, RESPONSES, AZURE, GEMINI, VERTEX})),
    Option("parallel_tool_calls", Flag(), "Whether the model may call several tools in one turn.", "request",
           apis=frozenset({COMPLETIONS, RESPONSES, AZURE, ANTHROPIC, MISTRAL})),
    Option("tool_choice", ToolChoiceKind(), "Whether and which tool the model must call.", "request",
           apis=BUILTIN_APIS),
    Option("user", Text(), "End-user id for abuse monitoring (Anthropic: `metadata.user_id`).", "request",
           apis=frozenset({COMPLETIONS, RESPONSES, AZURE, ANTHROPIC})),
    Option("extra_body", AnyMap(), "Deep-merged into the request body last (the escape hatch).", "request",
           apis=BUILTIN_APIS),
    Option("extra_headers", StrMap(), "HTTP headers merged last, after `headers`.", "request", apis=BUILTIN_APIS),
    Option("response_format", Custom("alchemy.structured:check_response_format",
                                     '`{"type": "json_object"}` \\| OpenAI `json_schema` object \\| pydantic / dataclass '
                                     '/ TypedDict class', "Mapping[str, Any] | type | str"),
           "Structured output: JSON mode, a JSON Schema or a Python type; `message.parsed` holds the result.",
           "request", apis=BUILTIN_APIS),
    Option("output_schema", Custom("alchemy.structured:check_output_schema", "JSON Schema dict", "Mapping[str, Any]"),
           "Structured output from a plain JSON Schema (strict where the API has the switch).", "request",
           apis=BUILTIN_APIS),
    Option("foreign_thinking", Choice("drop", "text"),
           "Other models' thinking in the history: dropped, or kept as plain text.", "request", apis=BUILTIN_APIS,
           default="drop"),
    Option("server_tools", Custom("alchemy.server_tools:check_server_tools",
                                  "list of `alchemy.WebSearch` / `WebFetch` / `CodeExecution` / `FileSearch` / "
                                  "`McpServer` / `ImageGeneration` / `ToolSearch`", "Sequence[ServerTool]"),
           "Tools the provider runs itself; results come back as `ServerToolCall` blocks, sources as citations.",
           "request", apis=frozenset().union(*SERVER_TOOL_APIS.values()), model_check=_model_check("server_tools")),
    Option("foreign_server_tools", Choice("drop", "text"),
           "Server tool calls of other APIs in the history: dropped, or summarised as plain text.", "request",
           apis=BUILTIN_APIS, default="drop"),
    # -- one wire API's own options --------------------------------------------------------
    Option("reasoning_effort", Choice(*_EFFORTS), "The API's own reasoning effort (wins over `reasoning`).",
           "provider", apis=frozenset({COMPLETIONS, RESPONSES, AZURE, MISTRAL}),
           per_api={MISTRAL: Choice("none", "high")}),
    Option("reasoning_summary", Choice("auto", "concise", "detailed"), "Reasoning summary detail.", "provider",
           apis=_OPENAI_RESPONSES),
    Option("service_tier", Choice("auto", "default", "flex", "priority", "scale"), "OpenAI service tier.",
           "provider", apis=frozenset({COMPLETIONS, RESPONSES})),
    Option("prompt_cache_key", Text(), "OpenAI prompt-cache key (default: `session_id` on OpenAI).", "provider",
           apis=frozenset({COMPLETIONS})),
    Option("compat", _custom("compat", "dict of compat flags", "Mapping[str, Any]"), "Overrides of the server's detected quirks.",
           "provider", apis=frozenset({COMPLETIONS})),
    Option("azure_base_url", Text(), "Azure endpoint URL.", "provider", apis=frozenset({AZURE})),
    Option("azure_resource_name", Text(), "Azure resource (builds the URL).", "provider", apis=frozenset({AZURE})),
    Option("azure_api_version", Text(), "Azure API version.", "provider", apis=frozenset({AZURE})),
    Option("azure_deployment_name", Text(), "Azure deployment (default: the model id).", "provider",
           apis=frozenset({AZURE})),
    Option("thinking_enabled", Flag(), "Turns thinking on or off.", "provider",
           apis=frozenset({ANTHROPIC, GEMINI, VERTEX, COHERE})),
    Option("thinking_budget_tokens", Integer(CLAUDE_MIN_THINKING_BUDGET),
           "Thinking budget (Anthropic; Cohere's `thinking.token_budget`).", "provider",
           apis=frozenset({ANTHROPIC, COHERE}), per_api={COHERE: Integer(1)}),
    Option("effort", Choice("low", "medium", "high", "xhigh", "max"), "Anthropic `output_config.effort`.",
           "provider", apis=frozenset({ANTHROPIC}), model_check=_model_check("anthropic_effort")),
    Option("interleaved_thinking", Flag(), "Claude's interleaved-thinking beta (default on where it applies).",
           "provider", apis=frozenset({ANTHROPIC, BEDROCK})),
    Option("region", Text(), "AWS region.", "provider", apis=frozenset({BEDROCK})),
    Option("profile", Text(), "AWS profile of the shared config files.", "provider", apis=frozenset({BEDROCK})),
    Option("thinking_budget", Integer(-1), "Gemini 2.5 thinking budget (-1 dynamic, 0 off).", "provider",
           apis=_GOOGLE),
    Option("thinking_level", Custom("alchemy.providers._google_request:thinking_level_option",
                                    '`"minimal"` \\| `"low"` \\| `"medium"` \\| `"high"` (any case)',
                                    "Literal['minimal', 'low', 'medium', 'high']"),
           "Gemini 3 thinking level (the model's own; see `alchemy.model_facts`).", "provider", apis=_GOOGLE),
    Option("tool_schema", Choice("json_schema", "openapi"), "How tool schemas are sent to Gemini.", "provider",
           apis=_GOOGLE),
    Option("project", Text(), "Google Cloud project.", "provider", apis=frozenset({VERTEX})),
    Option("location", Text(), "Vertex AI location.", "provider", apis=frozenset({VERTEX})),
    Option("credentials", _custom("credentials", "google-auth credentials"), "Google credentials (else ADC).",
           "provider", apis=frozenset({VERTEX})),
    Option("stream_tool_arguments", Flag(), "Ask Vertex to stream function-call arguments.", "provider",
           apis=frozenset({VERTEX})),
    Option("prompt_mode", Choice("reasoning"), "Mistral reasoning prompt mode.", "provider",
           apis=frozenset({MISTRAL})),
)

OPTIONS_BY_NAME: Final[Mapping[str, Option]] = {option.name: option for option in OPTIONS}


def carried_options(api: str) -> frozenset[str]:
    """The names of the options a built-in wire API carries (every-API options included)."""
    return frozenset(o.name for o in OPTIONS if o.apis is None or api in o.apis)


TRANSPORT_OPTIONS: Final = frozenset(o.name for o in OPTIONS if o.group == "transport")
"""The options of the HTTP runner, which every provider built on it takes (custom wire APIs too)."""


def carrying_apis(name: str) -> tuple[str, ...]:
    """The built-in wire APIs that carry option ``name``, sorted."""
    apis = OPTIONS_BY_NAME[name].apis
    return tuple(sorted(BUILTIN_APIS if apis is None else apis))
