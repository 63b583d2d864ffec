"""Recognizing a turn that failed (or silently degraded) because the context was too long.

An agent that sees a context overflow compacts its history and retries; every other
error it handles differently. Providers say "too long" in their own words, so
:func:`is_context_overflow` checks an error message against :data:`OVERFLOW_PATTERNS`,
a table with one entry per provider (the patterns pi-ai collects, plus Anthropic's
input-plus-``max_tokens`` form and vLLM's), each with an example of that provider's
real error text. It also recognizes Cerebras, which answers an oversized request with
a 400 or 413 and no body, and *silent* overflow: servers such as z.ai accept the
request and report more input tokens than the model's window holds.

Ollama truncates the prompt without telling anyone; that cannot be detected here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .types import AssistantMessage

__all__ = ["OVERFLOW_PATTERNS", "OverflowPattern", "is_context_overflow", "match_overflow"]


@dataclass(frozen=True, slots=True)
class OverflowPattern:
    """How one provider says the context was too long, with a real example of it."""

    provider: str
    pattern: re.Pattern[str]
    example: str

    def matches(self, error_message: str) -> bool:
        return self.pattern.search(error_message) is not None


def _entry(provider: str, pattern: str, example: str) -> OverflowPattern:
    return OverflowPattern(provider, re.compile(pattern, re.IGNORECASE), example)


OVERFLOW_PATTERNS: tuple[OverflowPattern, ...] = (
    _entry("anthropic", r"prompt is too long", "prompt is too long: 213462 tokens > 200000 maximum"),
    _entry(
        "anthropic (input + max_tokens)",
        r"input length and `?max_tokens`? exceed context limit",
        "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, "
        "decrease input length or `max_tokens` and try again",
    ),
    _entry("amazon-bedrock", r"input is too long for requested model", "Input is too long for requested model."),
    _entry(
        "openai",
        r"exceeds the context window",
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
    ),
    _entry(
        "google",
        r"input token count.*exceeds the maximum",
        "The input token count (1196265) exceeds the maximum number of tokens allowed (1048575).",
    ),
    _entry(
        "xai",
        r"maximum prompt length is \d+",
        "This model's maximum prompt length is 131072 but the request contains 537812 tokens.",
    ),
    _entry("groq", r"reduce the length of the messages", "Please reduce the length of the messages or completion."),
    _entry(
        "openrouter",
        r"maximum context length is \d+ tokens",
        "This endpoint's maximum context length is 200000 tokens. However, you requested about 234567 tokens "
        "(226567 of text input, 8000 in the output). Please reduce the length of either one, or use the "
        '"middle-out" transform to compress your prompt automatically.',
    ),
    _entry("github-copilot", r"exceeds the limit of \d+", "prompt token count of 150312 exceeds the limit of 128000"),
    _entry(
        "llama.cpp",
        r"exceeds the available context size",
        "the request exceeds the available context size, try increasing it",
    ),
    _entry(
        "lm-studio",
        r"greater than the context length",
        "The number of tokens to keep from the initial prompt is greater than the context length. "
        "Try to load the model with a larger context length, or provide a shorter input",
    ),
    _entry("minimax", r"context window exceeds limit", "invalid params, context window exceeds limit (2013)"),
    _entry(
        "kimi", r"exceeded model token limit", "Your request exceeded model token limit: 262144 (requested: 301278)"
    ),
    _entry(
        "mistral",
        r"too large for model with \d+ maximum context length",
        "Prompt contains 40123 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
    ),
    _entry("zai", r"model_context_window_exceeded", "finish_reason: model_context_window_exceeded"),
    _entry(
        "vllm",
        r"longer than the maximum model length|too long to fit into the model",
        "Prompt length of 5016 is longer than the maximum model length of 4096.",
    ),
    _entry(
        "cerebras",
        r"^(?:HTTP\s*)?4(?:00|13)\b\s*(?:status code)?\s*:?\s*\(no body\)",
        "413 status code (no body)",
    ),
    _entry(
        "generic", r"context[_ ]length[_ ]exceeded", "Error code: 400 - {'error': {'code': 'context_length_exceeded'}}"
    ),
    _entry("generic", r"too many tokens", "Request has too many tokens for this model"),
    _entry("generic", r"token limit exceeded", "Token limit exceeded for this request"),
)
"""One entry per provider; ``example`` is that provider's error text. The Cerebras entry
is anchored at the start: a 429 (rate limit) with no body is *not* an overflow."""

_SKIPPED_FOR_SILENT = frozenset({"error", "aborted"})


def match_overflow(error_message: str) -> OverflowPattern | None:
    """The first entry of :data:`OVERFLOW_PATTERNS` that ``error_message`` matches."""
    for entry in OVERFLOW_PATTERNS:
        if entry.pattern.search(error_message):
            return entry
    return None


def is_context_overflow(message: AssistantMessage, context_window: int | None = None) -> bool:
    """True when ``message`` shows that its request did not fit the model's context.

    * A turn that ended in ``error`` whose ``error_message`` matches a provider's
      overflow text (see :data:`OVERFLOW_PATTERNS`, the Cerebras no-body form included).
    * Silent overflow, when ``context_window`` is given (the model's, in tokens): a turn
      that completed although ``usage.input + usage.cache_read`` exceeds it, which
      happens only when the server accepted or truncated an oversized prompt.
    """
    if message.stop_reason == "error" and message.error_message:
        if match_overflow(message.error_message) is not None:
            return True
    if context_window and message.stop_reason not in _SKIPPED_FOR_SILENT:
        return message.usage.input + message.usage.cache_read > context_window
    return False
