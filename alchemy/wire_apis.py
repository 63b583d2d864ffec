"""The wire APIs alchemy speaks: one table, read by everything that needs to know them.

A *wire API* is one request and stream format (``model.api``): OpenAI Chat
Completions, Anthropic Messages, Bedrock ConverseStream, ... Each row says how
errors name the service, how its stream is framed, where a request goes relative
to the provider's base URL, which tool-call ids it accepts, which models.dev
providers run it as their own service, what a request authenticates with (so
whether a missing key raises at the call), and which object implements it. The API
registry (:mod:`alchemy.api_registry`), the providers' ``api`` and ``label``, the
tool-call id rules (:mod:`alchemy.tool_ids`), the model-data converter, the
replay server's framings and recordings (:mod:`alchemy.testing`) and the CLI all
read this table; ``tests/options/test_wire_apis.py`` checks that every one of them agrees.

An API a user registers with :func:`alchemy.register_api` needs no row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "ANTHROPIC_MESSAGES",
    "AZURE_OPENAI_RESPONSES",
    "BEDROCK_CONVERSE_STREAM",
    "COHERE_CHAT",
    "FOREIGN_TOOL_ID_FORMATS",
    "GOOGLE_GENERATIVE_AI",
    "GOOGLE_VERTEX",
    "MISTRAL_CONVERSATIONS",
    "OPENAI_COMPLETIONS",
    "OPENAI_RESPONSES",
    "WIRE_APIS",
    "Credentials",
    "Framing",
    "ToolIdFormat",
    "WireApi",
    "tool_id_format",
]

Framing = Literal["sse", "aws-eventstream"]
"""How a response body is cut into events: server-sent events, or AWS's binary event stream."""

Credentials = Literal["api-key", "api-key-or-local", "api-key-or-chain"]
"""What a request authenticates with, and so whether a missing key raises at the call:
``api-key`` always needs one; ``api-key-or-local`` needs one unless the base URL is on
this machine (a local server); ``api-key-or-chain`` takes a key or a credential chain
that needs I/O to resolve (Vertex ADC, Bedrock SigV4), so its failures end the stream."""

ToolIdFormat = Literal["openai-completions", "openai-responses", "anthropic", "mistral"]
"""The tool-call ids an API accepts (the rules live in :mod:`alchemy.tool_ids`):
``openai-completions`` at most 40 of ``[A-Za-z0-9_-]``; ``openai-responses`` a
``call_id|fc_item`` pair; ``anthropic`` at most 64 of ``[A-Za-z0-9_-]`` (also Bedrock
Gemini and Cohere); ``mistral`` exactly nine alphanumerics."""


@dataclass(frozen=True, slots=True)
class WireApi:
    """One wire API (see the module docstring)."""

    name: str
    """The ``model.api`` value, e.g. ``"anthropic-messages"``."""
    label: str
    """How error messages name the service (``"Amazon Bedrock HTTP 429: ..."``)."""
    framing: Framing
    path: str
    """The request path after the provider's base URL as the model registry stores it;
    ``{model}`` (and for Vertex ``{project}``, ``{location}``, ``{publisher}``) are
    filled per request."""
    tool_id_format: ToolIdFormat
    provider: str
    """``"module:attribute"`` of the built-in provider object, imported on first use."""
    providers: tuple[str, ...]
    """The models.dev providers that run this API as their own service (empty when it
    is a format many services copy: the registry says which provider speaks what)."""
    wire_format: str
    """The API whose request body and stream this one shares: its own name, or for a
    service that only addresses and authenticates differently, the original's."""
    credentials: Credentials = "api-key"
    """What a request authenticates with (see :data:`Credentials`)."""


OPENAI_COMPLETIONS = WireApi(
    name="openai-completions",
    label="OpenAI Chat Completions",
    framing="sse",
    path="/chat/completions",
    tool_id_format="openai-completions",
    provider="alchemy.providers.openai_completions:provider",
    providers=(),
    wire_format="openai-completions",
    credentials="api-key-or-local",
)
OPENAI_RESPONSES = WireApi(
    name="openai-responses",
    label="OpenAI",
    framing="sse",
    path="/responses",
    tool_id_format="openai-responses",
    provider="alchemy.providers.openai_responses:provider",
    providers=("openai",),
    wire_format="openai-responses",
)
AZURE_OPENAI_RESPONSES = WireApi(
    name="azure-openai-responses",
    label="Azure OpenAI",
    framing="sse",
    path="/responses",
    tool_id_format="openai-responses",
    provider="alchemy.providers.azure_openai_responses:provider",
    providers=("azure", "azure-cognitive-services"),
    wire_format="openai-responses",
)
ANTHROPIC_MESSAGES = WireApi(
    name="anthropic-messages",
    label="Anthropic",
    framing="sse",
    path="/v1/messages",
    tool_id_format="anthropic",
    provider="alchemy.providers.anthropic_messages:provider",
    providers=("anthropic",),
    wire_format="anthropic-messages",
)
BEDROCK_CONVERSE_STREAM = WireApi(
    name="bedrock-converse-stream",
    label="Amazon Bedrock",
    framing="aws-eventstream",
    path="/model/{model}/converse-stream",
    tool_id_format="anthropic",
    provider="alchemy.providers.bedrock_converse_stream:provider",
    providers=("amazon-bedrock",),
    wire_format="bedrock-converse-stream",
    credentials="api-key-or-chain",
)
MISTRAL_CONVERSATIONS = WireApi(
    name="mistral-conversations",
    label="Mistral",
    framing="sse",
    path="/v1/chat/completions",
    tool_id_format="mistral",
    provider="alchemy.providers.mistral_conversations:provider",
    providers=("mistral",),
    wire_format="mistral-conversations",
)
GOOGLE_GENERATIVE_AI = WireApi(
    name="google-generative-ai",
    label="Gemini",
    framing="sse",
    path="/models/{model}:streamGenerateContent?alt=sse",
    tool_id_format="anthropic",
    provider="alchemy.providers.google_generative_ai:provider",
    providers=("google",),
    wire_format="google-generative-ai",
)
GOOGLE_VERTEX = WireApi(
    name="google-vertex",
    label="Vertex AI",
    framing="sse",
    path=(
        "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"
        ":streamGenerateContent?alt=sse"
    ),
    tool_id_format="anthropic",
    provider="alchemy.providers.google_vertex:provider",
    providers=("google-vertex",),
    wire_format="google-generative-ai",
    credentials="api-key-or-chain",
)
COHERE_CHAT = WireApi(
    name="cohere-chat",
    label="Cohere",
    framing="sse",
    path="/v2/chat",
    tool_id_format="anthropic",
    provider="alchemy.providers.cohere_chat:provider",
    providers=("cohere",),
    wire_format="cohere-chat",
)

WIRE_APIS: Mapping[str, WireApi] = MappingProxyType(
    {
        api.name: api
        for api in (
            OPENAI_COMPLETIONS,
            OPENAI_RESPONSES,
            AZURE_OPENAI_RESPONSES,
            ANTHROPIC_MESSAGES,
            BEDROCK_CONVERSE_STREAM,
            MISTRAL_CONVERSATIONS,
            GOOGLE_GENERATIVE_AI,
            GOOGLE_VERTEX,
            COHERE_CHAT,
        )
    }
)
"""Every built-in wire API by name, in a fixed order (read-only)."""

FOREIGN_TOOL_ID_FORMATS: Mapping[str, ToolIdFormat] = MappingProxyType(
    {"openai-codex-responses": "openai-responses", "google-gemini-cli": "anthropic"}
)
"""pi-ai's wire APIs that alchemy has no provider for, with the ids they accept: a model
naming one (served by a provider you register) still gets its tool-call ids shaped."""


def tool_id_format(api: str) -> ToolIdFormat | None:
    """The tool-call ids ``api`` accepts, or ``None`` for an API alchemy does not know."""
    known = WIRE_APIS.get(api)
    if known is not None:
        return known.tool_id_format
    return FOREIGN_TOOL_ID_FORMATS.get(api)
