"""The checked options of one call, as a provider receives them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable, Literal

from ._tool_choice import ToolChoice

if TYPE_CHECKING:
    from ..abort import AbortSignal
    from ..server_tools import ServerTool
    from ..structured import OutputPlan, OutputSpec
    from ..types import CacheRetention, Model, ThinkingLevel

__all__ = ["PayloadHook", "ResponseHook", "StreamOptions"]

PayloadHook = Callable[[dict[str, Any], "Model"], Any]
"""``on_payload(body, model)``: sees the request body; may return a replacement (or an awaitable of one)."""

ResponseHook = Callable[[int, Mapping[str, str]], Any]
"""``on_response(status, headers)``: sees each attempt's status and response headers (may return an awaitable)."""


@dataclass(slots=True)
class StreamOptions:
    """The options of one call, checked against their declarations (:mod:`alchemy.options`).

    Every option declared for all wire APIs is a field; the options of one wire API
    only (``effort``, ``thinking_level``, ``region``…) are in ``provider_options``,
    checked as well. ``None`` means "not given": the provider applies its default.
    ``tool_choice`` is canonical (``"auto" | "none" | "required" | {"name": ...}``) and
    ``stop`` a list. The API key never appears in the repr.
    """

    # every API
    temperature: float | None = None
    max_tokens: int | None = None
    api_key: str | None = None
    headers: dict[str, str] | None = None
    signal: AbortSignal | None = None
    session_id: str | None = None
    tags: dict[str, str] | None = None
    cache_retention: CacheRetention | None = None
    on_payload: PayloadHook | None = None
    on_response: ResponseHook | None = None
    metadata: dict[str, Any] | None = None
    timeout: float | None = None
    max_retries: int | None = None
    max_retry_delay: float | None = None
    reasoning: ThinkingLevel | None = None
    thinking_budgets: dict[str, int] | None = None
    # transport (every HTTP provider)
    client: Any = None
    connect_timeout: float | None = None
    first_byte_timeout: float | None = None
    idle_timeout: float | None = None
    # canonical request options (carried where the wire API has them)
    stop: list[str] | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    parallel_tool_calls: bool | None = None
    tool_choice: ToolChoice | None = None
    user: str | None = None
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    foreign_thinking: Literal["drop", "text"] | None = None
    server_tools: list[ServerTool] | None = None
    foreign_server_tools: Literal["drop", "text"] | None = None
    response_format: OutputSpec | None = None
    output_schema: OutputSpec | None = None
    output: OutputPlan | None = None
    """How the call asks for structured output (set at the call from ``response_format`` / ``output_schema``)."""
    # one wire API's own options
    provider_options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key" and value is not None:
                shown.append("api_key='***'")
            elif f.name in ("headers", "extra_headers") and value is not None:
                shown.append(f"{f.name}=<{len(value)} headers>")
            elif value is not None and value != {}:
                shown.append(f"{f.name}={value!r}")
        return f"StreamOptions({', '.join(shown)})"
