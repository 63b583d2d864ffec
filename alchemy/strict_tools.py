"""Strict tools (``Tool(strict=True)``): where the arguments are constrained to the schema, and how.

One table, :data:`STRICT_TOOLS`, says for each wire API how a strict tool reaches the
wire, on which models, and which :mod:`alchemy.schema` dialect normalises its schema
(closed objects, optional properties as ``null`` unions where every property must be
required, unsupported keywords removed or refused with their path):

=========================  ======================================================  ==========================  =========
wire API                   on the wire                                             models                      dialect
=========================  ======================================================  ==========================  =========
openai-completions         ``function.strict: true``                               servers with the compat     openai
                                                                                   flag ``supports_strict_mode``
openai-responses, azure    ``strict: true``                                        all                         openai
anthropic-messages         ``strict: true``                                        Claude 4.5 and later        anthropic
bedrock-converse-stream    ``toolSpec.strict: true``                               Claude 4.5 and later        anthropic
google-generative-ai       ``toolConfig.functionCallingConfig.mode: VALIDATED``    all                         gemini
                           (``ANY`` when a call is forced); one mode for the whole
                           request, so every tool is strict or none is
mistral-conversations      ``function.strict: true``                               all                         mistral
cohere-chat                ``strict_tools: true``; one switch for the whole        all                         anthropic
                           request, so every tool is strict or none is
=========================  ======================================================  ==========================  =========

Anything else refuses a strict tool at the call (``ValueError`` naming the API and
where strict tools work): Vertex AI, whose v1 API documents no ``VALIDATED`` mode
(only v1beta1 does), and APIs registered by users, unless their provider object has
a ``strict_tools`` attribute (a :class:`StrictTools`; the scripted test provider
has one). :func:`check_strict_tools` runs when a stream is opened; providers send
:func:`wire_parameters`. Non-strict tools are sent as written (``strict: false``
where the API has the field).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import orjson

from . import wire_apis
from .schema import SchemaDialect, SchemaError, strict_schema

if TYPE_CHECKING:
    from .options import StreamOptions
    from .types import Context, Model, Tool

__all__ = ["STRICT_TOOLS", "StrictTools", "check_strict_tools", "strict_support", "strict_tool_apis", "wire_parameters"]


@dataclass(frozen=True, slots=True)
class StrictTools:
    """How one wire API takes strict tools (a row of :data:`STRICT_TOOLS`)."""

    dialect: SchemaDialect
    wire: str
    """Where strictness goes in the request (for messages and docs)."""
    request_wide: bool = False
    """One switch for the whole request (Gemini's mode): every tool is strict or none is."""
    refusal: Callable[[Model, StreamOptions], str | None] | None = None
    """Why this model cannot take strict tools on this API (``None``: it can)."""


def _claude_refusal(model: Model, options: StreamOptions) -> str | None:
    from .model_facts import claude_structured_outputs

    if claude_structured_outputs(model):
        return None
    return "strict tool use is documented for Claude 4.5 and later models only (Sonnet 4.5, Opus 4.5, Haiku 4.5, 4.6+)"


def _completions_refusal(model: Model, options: StreamOptions) -> str | None:
    from .providers.openai_compat import resolve_compat

    if resolve_compat(model, overrides=options.provider_options.get("compat")).supports_strict_mode:
        return None
    return (
        "this server takes no 'strict' in tool definitions (compat supports_strict_mode is off; "
        "turn it on with compat={'supports_strict_mode': True} if the server does take it)"
    )


_OPENAI: Final = StrictTools("openai", "strict: true")

STRICT_TOOLS: Final[Mapping[str, StrictTools]] = MappingProxyType(
    {
        wire_apis.OPENAI_COMPLETIONS.name: StrictTools("openai", "function.strict: true", refusal=_completions_refusal),
        wire_apis.OPENAI_RESPONSES.name: _OPENAI,
        wire_apis.AZURE_OPENAI_RESPONSES.name: _OPENAI,
        wire_apis.ANTHROPIC_MESSAGES.name: StrictTools("anthropic", "strict: true", refusal=_claude_refusal),
        wire_apis.BEDROCK_CONVERSE_STREAM.name: StrictTools(
            "anthropic", "toolSpec.strict: true", refusal=_claude_refusal
        ),
        wire_apis.GOOGLE_GENERATIVE_AI.name: StrictTools(
            "gemini", "toolConfig.functionCallingConfig.mode VALIDATED", request_wide=True
        ),
        wire_apis.MISTRAL_CONVERSATIONS.name: StrictTools("mistral", "function.strict: true"),
        wire_apis.COHERE_CHAT.name: StrictTools("anthropic", "strict_tools: true", request_wide=True),
    }
)
"""Every wire API that takes strict tools (see the module docstring)."""


def strict_tool_apis() -> str:
    """The APIs of :data:`STRICT_TOOLS`, for messages."""
    return ", ".join(STRICT_TOOLS)


def strict_support(api: str, provider: object = None) -> StrictTools | None:
    """How ``api`` takes strict tools: its row of :data:`STRICT_TOOLS`, else the provider's
    own ``strict_tools`` declaration; ``None`` when it takes none."""
    known = STRICT_TOOLS.get(api)
    if known is not None:
        return known
    declared = getattr(provider, "strict_tools", None)
    return declared if isinstance(declared, StrictTools) else None


def check_strict_tools(model: Model, context: Context, options: StreamOptions, provider: object = None) -> None:
    """Refuses strict tools the call cannot honour; runs at the call, before anything is sent.

    ``ValueError`` when the API or model takes no strict tools, when Gemini gets a
    mix of strict and non-strict tools, or (:class:`~alchemy.schema.SchemaError`)
    when a strict tool's schema has what the API's strict mode cannot express.
    """
    tools = context.tools or []
    strict = [tool for tool in tools if tool.strict]
    if not strict:
        return
    names = ", ".join(repr(tool.name) for tool in strict)
    support = strict_support(model.api, provider)
    if support is None:
        raise ValueError(
            f"tool {names} is strict (strict=True), but {model.api} takes no strict tools; "
            f"strict tools work on {strict_tool_apis()}"
        )
    reason = support.refusal(model, options) if support.refusal is not None else None
    if reason is not None:
        target = f"{model.provider}/{model.id} on {model.api}"
        raise ValueError(f"tool {names} is strict (strict=True), but {target}: {reason}")
    if support.request_wide and len(strict) != len(tools):
        loose = ", ".join(repr(tool.name) for tool in tools if not tool.strict)
        raise ValueError(
            f"{model.api} makes every tool of a request strict or none ({support.wire}): tool {names} is strict "
            f"but {loose} is not; give every tool the same strict"
        )
    for tool in strict:
        _strict_parameters(tool, support.dialect)


def wire_parameters(tool: Tool, api: str) -> dict[str, Any]:
    """The parameter schema to send for ``tool`` on ``api``: normalised for the API's strict mode
    when the tool is strict (checked at the call), else the tool's own schema."""
    support = STRICT_TOOLS.get(api)
    if not tool.strict or support is None:
        return tool.parameters
    return _strict_parameters(tool, support.dialect)


def _strict_parameters(tool: Tool, dialect: SchemaDialect) -> dict[str, Any]:
    try:
        # Keys keep their order: it is the order the model writes the arguments in.
        normalised = _normalised(orjson.dumps(tool.parameters), dialect)
    except SchemaError as exc:
        raise SchemaError(f"strict tool {tool.name!r}: {exc}", keyword=exc.keyword, path=exc.path) from None
    result: dict[str, Any] = orjson.loads(normalised)
    return result


@functools.lru_cache(maxsize=256)
def _normalised(schema: bytes, dialect: SchemaDialect) -> bytes:
    """The strict form of one schema (as JSON bytes) for one dialect, cached."""
    return orjson.dumps(strict_schema(orjson.loads(schema), dialect))
