"""Removing unpaired UTF-16 surrogates from outgoing text.

A Python ``str`` holds code points, so a correct emoji is one character and never a
surrogate. Code points U+D800..U+DFFF still get in: ``bytes.decode(errors=
"surrogateescape")`` turns each invalid byte into a lone U+DC80..U+DCFF, JSON text
with a ``\\ud83d`` escape cut in half decodes to a lone high surrogate, and text that
went through a UTF-16 ``surrogatepass`` round trip can carry a pair as two code points.
None of these can be encoded as UTF-8, so orjson (and the provider) refuses the
whole request. Here a high surrogate directly followed by a low one is joined into the
character the pair stands for, and every other surrogate is removed.

Checking costs one ``str.isascii()`` (a C loop over the bytes) for ASCII text and one
regex search otherwise; a string with nothing to remove is returned as the same
object, and containers are only copied along the path to a string that changed.
"""

from __future__ import annotations

import dataclasses

import re
from dataclasses import replace
from typing import Any

from .types import (
    AssistantMessage,
    Citation,
    Context,
    Message,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

__all__ = ["has_surrogates", "sanitize_context", "sanitize_message", "sanitize_surrogates", "sanitize_value"]

_ANY_SURROGATE = re.compile("[\ud800-\udfff]")
_PAIR_OR_LONE = re.compile("([\ud800-\udbff])([\udc00-\udfff])|[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds any code point in U+D800..U+DFFF."""
    return not text.isascii() and _ANY_SURROGATE.search(text) is not None


def _repair(match: re.Match[str]) -> str:
    high, low = match.group(1), match.group(2)
    if high is None:
        return ""
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def sanitize_surrogates(text: str) -> str:
    """``text`` without unpaired surrogates; a split pair is joined into its character.

    >>> sanitize_surrogates("ok \\ud83d here")
    'ok  here'
    >>> sanitize_surrogates("\\ud83d\\ude00") == "\\U0001f600"
    True
    """
    if not isinstance(text, str):
        raise TypeError(f"sanitize_surrogates() text must be a str, got {type(text).__name__}")
    if text.isascii() or _ANY_SURROGATE.search(text) is None:
        return text
    return _PAIR_OR_LONE.sub(_repair, text)


def sanitize_value(value: Any) -> Any:
    """Sanitizes every string inside a JSON-like value (dict keys included).

    Returns ``value`` itself when nothing changed; otherwise new containers along
    the changed paths (the input is never mutated).
    """
    if isinstance(value, str):
        return sanitize_surrogates(value)
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for i, (key, item) in enumerate(value.items()):
            new_key = sanitize_surrogates(key) if isinstance(key, str) else key
            new_item = sanitize_value(item)
            if changed is None and (new_key is not key or new_item is not item):
                changed = dict(list(value.items())[:i])
            if changed is not None:
                changed[new_key] = new_item
        return value if changed is None else changed
    if isinstance(value, (list, tuple)):
        items: list[Any] | None = None
        for i, item in enumerate(value):
            new_item = sanitize_value(item)
            if items is None and new_item is not item:
                items = list(value[:i])
            if items is not None:
                items.append(new_item)
        if items is None:
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def _sanitize_optional(text: str | None) -> str | None:
    return None if text is None else sanitize_surrogates(text)


def _sanitize_block(block: Any) -> Any:
    if isinstance(block, TextContent):
        text = sanitize_surrogates(block.text)
        signature = _sanitize_optional(block.text_signature)
        citations = block.citations
        if citations:
            cleaned = [_sanitize_citation(c) for c in citations]
            if any(new is not old for new, old in zip(cleaned, citations)):
                citations = cleaned
        if text is block.text and signature is block.text_signature and citations is block.citations:
            return block
        return TextContent(text, signature, citations)
    if isinstance(block, ServerToolCall):
        new_input = sanitize_value(block.input)
        result = sanitize_value(block.result)
        wire = sanitize_value(block.wire)
        if new_input is block.input and result is block.result and wire is block.wire:
            return block
        return ServerToolCall(block.id, block.name, new_input, result, block.status, block.provider, wire)
    if isinstance(block, ThinkingContent):
        thinking = sanitize_surrogates(block.thinking)
        signature = _sanitize_optional(block.thinking_signature)
        if thinking is block.thinking and signature is block.thinking_signature:
            return block
        return ThinkingContent(thinking, signature, block.redacted)
    if isinstance(block, ToolCall):
        arguments = block.arguments
        new_id = sanitize_surrogates(block.id)
        name = sanitize_surrogates(block.name)
        new_arguments = sanitize_value(arguments)
        signature = _sanitize_optional(block.thought_signature)
        unchanged = new_id is block.id and name is block.name and signature is block.thought_signature
        if unchanged and new_arguments is arguments:
            return block
        return ToolCall(new_id, name, new_arguments, signature)
    return block


def _sanitize_citation(citation: Citation) -> Citation:
    cited = _sanitize_optional(citation.cited_text)
    title = _sanitize_optional(citation.title)
    wire = sanitize_value(citation.wire)
    if cited is citation.cited_text and title is citation.title and wire is citation.wire:
        return citation
    return dataclasses.replace(citation, cited_text=cited, title=title, wire=wire)


def _sanitize_blocks(blocks: list[Any]) -> list[Any]:
    new_blocks = [_sanitize_block(b) for b in blocks]
    if all(new is old for new, old in zip(new_blocks, blocks)):
        return blocks
    return new_blocks


def sanitize_message(message: Message) -> Message:
    """``message`` with every outgoing string sanitized (the same object if clean)."""
    if isinstance(message, UserMessage):
        if isinstance(message.content, str):
            text = sanitize_surrogates(message.content)
            return message if text is message.content else replace(message, content=text)
        blocks = _sanitize_blocks(message.content)
        return message if blocks is message.content else replace(message, content=blocks)
    if isinstance(message, AssistantMessage):
        blocks = _sanitize_blocks(message.content)
        return message if blocks is message.content else replace(message, content=blocks)
    if isinstance(message, ToolResultMessage):
        blocks = _sanitize_blocks(message.content)
        call_id = sanitize_surrogates(message.tool_call_id)
        name = sanitize_surrogates(message.tool_name)
        if blocks is message.content and call_id is message.tool_call_id and name is message.tool_name:
            return message
        return replace(message, content=blocks, tool_call_id=call_id, tool_name=name)
    return message


def _sanitize_tool(tool: Tool) -> Tool:
    name = sanitize_surrogates(tool.name)
    description = sanitize_surrogates(tool.description)
    parameters = sanitize_value(tool.parameters)
    if name is tool.name and description is tool.description and parameters is tool.parameters:
        return tool
    return Tool(name, description, parameters, tool.strict)


def sanitize_context(context: Context) -> Context:
    """``context`` with surrogates removed from the system prompt, every message and tool.

    Returns the same object when there was nothing to remove; otherwise a new
    ``Context`` that shares every message and tool that was already clean.
    """
    system_prompt = _sanitize_optional(context.system_prompt)
    messages = [sanitize_message(m) for m in context.messages]
    messages_changed = any(new is not old for new, old in zip(messages, context.messages))
    tools = context.tools
    tools_changed = False
    if tools is not None:
        new_tools = [_sanitize_tool(t) for t in tools]
        tools_changed = any(new is not old for new, old in zip(new_tools, tools))
        if tools_changed:
            tools = new_tools
    if system_prompt is context.system_prompt and not messages_changed and not tools_changed:
        return context
    return Context(system_prompt=system_prompt, messages=messages, tools=None if tools is None else list(tools))
