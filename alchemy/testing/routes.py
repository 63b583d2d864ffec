"""Which wire API a request path belongs to, and the URLs a provider should be given.

Paths are matched by their end, so a provider configured with any prefix (an
OpenAI-compatible ``/api/v1`` base, ``ALCHEMY_BASE_URL_OVERRIDE`` pointing every
provider at one server) still reaches the right replay:

========================  =====================================================================
wire API                  path (``{base}`` = the base URL a provider is given)
========================  =====================================================================
openai-completions        ``POST {base}/chat/completions``                (base ``/v1``)
mistral-conversations     ``POST {base}/chat/completions``                (base ``/v1``)
anthropic-messages        ``POST {base}/v1/messages``                     (base = server root)
openai-responses          ``POST {base}/responses``                       (base ``/v1``)
azure-openai-responses    ``POST /openai/v1/responses``, ``/openai/deployments/{d}/responses``
google-generative-ai      ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``
google-vertex             ``POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}``
                          ``:streamGenerateContent?alt=sse``
bedrock-converse-stream   ``POST /model/{modelId}/converse-stream``
cohere-chat               ``POST {base}/v2/chat``                         (base = server root)
========================  =====================================================================

Chat Completions and Mistral share a path and a framing; a request there is
treated as ``openai-completions`` unless the replay names ``mistral-conversations``
(which changes only the shape of error bodies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .wire import (
    ANTHROPIC_MESSAGES,
    AZURE_OPENAI_RESPONSES,
    BEDROCK_CONVERSE_STREAM,
    COHERE_CHAT,
    GOOGLE_GENERATIVE_AI,
    GOOGLE_VERTEX,
    MISTRAL_CONVERSATIONS,
    OPENAI_COMPLETIONS,
    OPENAI_RESPONSES,
    WIRE_APIS,
)

__all__ = ["VERTEX_LOCATION", "VERTEX_PROJECT", "Route", "base_path", "endpoint_path", "match_route"]

VERTEX_PROJECT = "replay-project"
VERTEX_LOCATION = "us-central1"


@dataclass(frozen=True)
class Route:
    """A matched request: its wire API, and the model when the path names it."""

    api: str
    model: str | None = None
    streaming_query_missing: bool = False
    """True for a Gemini/Vertex request without ``alt=sse`` (the replay server streams SSE only)."""


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r".*/model/(?P<model>[^/]+)/converse-stream"), BEDROCK_CONVERSE_STREAM),
    (
        re.compile(
            r".*/projects/[^/]+/locations/[^/]+/publishers/google/models/(?P<model>[^/:]+):streamGenerateContent"
        ),
        GOOGLE_VERTEX,
    ),
    (re.compile(r".*/models/(?P<model>[^/:]+):streamGenerateContent"), GOOGLE_GENERATIVE_AI),
    (re.compile(r".*/openai/deployments/(?P<model>[^/]+)/responses"), AZURE_OPENAI_RESPONSES),
    (re.compile(r".*/openai(?:/v1)?/responses"), AZURE_OPENAI_RESPONSES),
    (re.compile(r".*/responses"), OPENAI_RESPONSES),
    (re.compile(r".*/messages"), ANTHROPIC_MESSAGES),
    (re.compile(r".*/chat/completions"), OPENAI_COMPLETIONS),
    (re.compile(r".*/v2/chat"), COHERE_CHAT),
)

ROUTE_SUMMARY = (
    "POST .../chat/completions, .../v1/messages, .../responses, /openai/v1/responses, "
    "/openai/deployments/{d}/responses, /v1beta/models/{model}:streamGenerateContent?alt=sse, "
    "/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:streamGenerateContent?alt=sse, "
    "/model/{modelId}/converse-stream, .../v2/chat"
)


def match_route(path: str, query: str = "") -> Route | None:
    """The route of a request path (without the query), or ``None`` for an unknown path."""
    for pattern, api in _PATTERNS:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        model = match.groupdict().get("model")
        missing_sse = api in (GOOGLE_GENERATIVE_AI, GOOGLE_VERTEX) and "alt=sse" not in query.split("&")
        return Route(api=api, model=unquote(model) if model else None, streaming_query_missing=missing_sse)
    return None


_BASE_PATHS: dict[str, str] = {
    OPENAI_COMPLETIONS: "/v1",
    MISTRAL_CONVERSATIONS: "/v1",
    ANTHROPIC_MESSAGES: "",
    OPENAI_RESPONSES: "/v1",
    AZURE_OPENAI_RESPONSES: "/openai/v1",
    GOOGLE_GENERATIVE_AI: "/v1beta",
    GOOGLE_VERTEX: "",
    BEDROCK_CONVERSE_STREAM: "",
    COHERE_CHAT: "",
}


def _check_api(api: str) -> None:
    if api not in _BASE_PATHS:
        raise ValueError(f"unknown wire API {api!r}; the replay server speaks {', '.join(WIRE_APIS)}")


def base_path(api: str) -> str:
    """The path part of the base URL a provider of ``api`` should be configured with."""
    _check_api(api)
    return _BASE_PATHS[api]


def endpoint_path(api: str, model: str) -> str:
    """The full path (and query) a provider of ``api`` calls to stream from ``model``."""
    _check_api(api)
    base = _BASE_PATHS[api]
    if api in (OPENAI_COMPLETIONS, MISTRAL_CONVERSATIONS):
        return f"{base}/chat/completions"
    if api == ANTHROPIC_MESSAGES:
        return f"{base}/v1/messages"
    if api == COHERE_CHAT:
        return f"{base}/v2/chat"
    if api in (OPENAI_RESPONSES, AZURE_OPENAI_RESPONSES):
        return f"{base}/responses"
    model_segment = quote(model, safe="")
    if api == GOOGLE_GENERATIVE_AI:
        return f"{base}/models/{model_segment}:streamGenerateContent?alt=sse"
    if api == GOOGLE_VERTEX:
        return (
            f"{base}/v1/projects/{VERTEX_PROJECT}/locations/{VERTEX_LOCATION}/publishers/google/models/"
            f"{model_segment}:streamGenerateContent?alt=sse"
        )
    return f"{base}/model/{model_segment}/converse-stream"
