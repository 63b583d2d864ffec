"""``tool_choice`` in one canonical form, with the one parser every wire API relies on.

Canonical values: ``"auto"`` (the model decides), ``"none"`` (no tool call),
``"required"`` (at least one tool call) and ``{"name": "get_weather"}`` (exactly
that tool). The parser also takes the spellings users bring from provider SDKs —
``"any"`` (Anthropic, Bedrock, Google, Mistral) for ``"required"``,
``{"type": "tool", "name": ...}`` (Anthropic), ``{"type": "function", "name": ...}``
(Responses), ``{"type": "function", "function": {"name": ...}}`` (Chat Completions)
and ``{"type": "auto" | "any" | "none" | "required"}`` — and returns the canonical
value; each provider maps the canonical value to its wire shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, Union

from ._kinds import Kind, fail_value

__all__ = ["ToolChoice", "ToolChoiceKind", "named_tool", "parse_tool_choice"]

ToolChoice = Union[Literal["auto", "none", "required"], dict[str, str]]
"""``"auto"``, ``"none"``, ``"required"`` or ``{"name": <tool name>}`` (canonical)."""

_WORDS: Final[Mapping[str, Literal["auto", "none", "required"]]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
    "any": "required",
}
_KEYS: Final = frozenset({"type", "name", "function"})
"""The keys a tool_choice object may have: any other (``disable_parallel_tool_use``…) is refused,
since it would be dropped; ``parallel_tool_calls`` is its own option."""
_EXPECTED: Final = "'auto', 'none', 'required' (or 'any') or {'name': <tool name>}"


def parse_tool_choice(value: object, name: str = "tool_choice") -> ToolChoice:
    """The canonical form of ``value``; ``ValueError`` naming ``name`` for any other shape."""
    if isinstance(value, str):
        word = _WORDS.get(value)
        if word is not None:
            return word
    elif isinstance(value, Mapping):
        if not set(value) <= _KEYS:
            extra = "disable_parallel_tool_use" in value
            hint = " (pass parallel_tool_calls=False for disable_parallel_tool_use)" if extra else ""
            raise fail_value(name, _EXPECTED + hint, value)
        tool = value.get("name")
        nested = value.get("function")
        if tool is None and isinstance(nested, Mapping):
            tool = nested.get("name")
        kind = value.get("type")
        if isinstance(tool, str) and tool and kind in (None, "tool", "function"):
            return {"name": tool}
        if tool is None and isinstance(kind, str) and kind in _WORDS:
            return _WORDS[kind]
    raise fail_value(name, _EXPECTED, value)


def named_tool(choice: ToolChoice | None) -> str | None:
    """The tool a canonical choice forces, or ``None``."""
    return choice["name"] if isinstance(choice, dict) else None


class ToolChoiceKind(Kind):
    """The option kind of ``tool_choice``."""

    __slots__ = ()

    def check(self, name: str, value: object) -> ToolChoice:
        return parse_tool_choice(value, name)

    def hint(self) -> str:
        return 'Literal["auto", "none", "required", "any"] | Mapping[str, Any]'

    def describe(self) -> str:
        return '`"auto"` \\| `"none"` \\| `"required"` \\| `{"name": str}`'
