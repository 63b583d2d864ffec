"""Conversation shaping costs: surrogate checks, handoff, capability shaping, validation.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_shaping.py --benchmark-only``.
The surrogate benchmarks put alchemy's check (``isascii`` then one regex search) next
to the one-pass regex substitution pi-ai uses, on the same clean and dirty texts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from alchemy.capabilities import RequestValues, shape_request
from alchemy.sanitize import sanitize_context, sanitize_surrogates
from alchemy.transform import transform_messages
from alchemy.types import (
    AssistantMessage,
    Context,
    Message,
    Model,
    ModelCapabilities,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from alchemy.validation import validate_tool_call

ASCII_TEXT = ("The model streams tokens quickly and every chunk carries a delta of text. " * 14_000)[:1_000_000]
UNICODE_TEXT = ("café Zürich 日本語のテキスト 🚀 Привет мир — " * 30_000)[:1_000_000]
DIRTY_TEXT = UNICODE_TEXT[:500_000] + "\ud83d" + UNICODE_TEXT[500_000:]

# pi-ai's approach, for comparison: one substitution with lookarounds over the whole text.
_ONE_PASS = re.compile("[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")


def one_pass_sanitize(text: str) -> str:
    return _ONE_PASS.sub("", text)


@pytest.mark.parametrize("text", [ASCII_TEXT, UNICODE_TEXT, DIRTY_TEXT], ids=["ascii-1MB", "unicode-1MB", "dirty-1MB"])
@pytest.mark.parametrize("implementation", [sanitize_surrogates, one_pass_sanitize], ids=["alchemy", "one-pass-regex"])
def test_sanitize_text(benchmark: Any, implementation: Any, text: str) -> None:
    out = benchmark(implementation, text)
    assert "\ud83d" not in out


CLAUDE = Model("claude-sonnet-4-5", "Claude", "anthropic-messages", "anthropic", "", reasoning=True)
GPT = Model("gpt-5.4", "GPT", "openai-responses", "openai", "", reasoning=True)
MISTRAL = Model("mistral-large-latest", "Mistral", "mistral-conversations", "mistral", "")
STRICT = Model(
    "strict",
    "Strict",
    "openai-completions",
    "local",
    "",
    capabilities=ModelCapabilities(
        supports_system=False,
        supports_repeating_roles=False,
        supports_empty_content=False,
        supports_last_assistant=False,
        supports_temperature=False,
    ),
)


def conversation(turns: int) -> list[Message]:
    """``turns`` tool-using rounds alternating between Anthropic and OpenAI Responses."""
    messages: list[Message] = []
    for i in range(turns):
        source = CLAUDE if i % 2 else GPT
        call_id = f"toolu_{i:024d}" if source is CLAUDE else f"call_{i:024d}|fc_{i:050d}"
        messages.append(UserMessage(f"Step {i}: read file {i} and summarize it.", i))
        messages.append(
            AssistantMessage(
                [
                    ThinkingContent(f"I should read file {i}. " * 8, "sig" * 40),
                    TextContent(f"Reading file {i}."),
                    ToolCall(call_id, "read", {"path": f"src/file_{i}.py", "limit": 200}),
                ],
                api=source.api,
                provider=source.provider,
                model=source.id,
                stop_reason="toolUse",
                timestamp=i,
            )
        )
        messages.append(ToolResultMessage(call_id, "read", [TextContent(f"contents of file {i} " * 20)], timestamp=i))
    return messages


HISTORY = conversation(100)


@pytest.mark.parametrize("target", [CLAUDE, GPT, MISTRAL], ids=["to-anthropic", "to-responses", "to-mistral"])
def test_handoff_300_messages(benchmark: Any, target: Model) -> None:
    out = benchmark(transform_messages, HISTORY, target)
    assert len(out) == len(HISTORY)


def test_sanitize_clean_context_300_messages(benchmark: Any) -> None:
    context = Context("You are a careful assistant.", HISTORY, [Tool("read", "Read a file")])
    assert benchmark(sanitize_context, context) is context


@pytest.mark.parametrize("target", [CLAUDE, STRICT], ids=["permissive", "strict"])
def test_shape_request_300_messages(benchmark: Any, target: Model) -> None:
    context = Context("You are a careful assistant.", HISTORY, [Tool("read", "Read a file")])
    shaped = benchmark(shape_request, context, target, RequestValues(temperature=0.3))
    assert shaped.context.messages


READ_TOOL = Tool(
    "read",
    "Read a file",
    {
        "type": "object",
        "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}},
        "required": ["path"],
    },
)


def test_validate_tool_call_cached(benchmark: Any) -> None:
    call = ToolCall("toolu_1", "read", {"path": "src/app.py", "limit": "200", "offset": 10})
    assert benchmark(validate_tool_call, [READ_TOOL], call) == {"path": "src/app.py", "limit": 200, "offset": 10}
