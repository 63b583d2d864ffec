"""Classifying why a turn failed: one classifier for error kinds and context overflow.

An agent that sees a context overflow compacts its history and retries; a rate limit
waits; an auth error gives up. :func:`classify_error` gives the
:data:`~alchemy.errors.ErrorKind` of a failure from what is known of it (its HTTP
status, the provider's error code, its text); every provider fills
``message.error.kind`` through it, and :func:`is_context_overflow` reads that kind.

Providers say "too long" in their own words, so the text is checked against
:data:`OVERFLOW_PATTERNS`, a table with one entry per provider (the patterns pi-ai
collects, plus Anthropic's input-plus-``max_tokens`` form, vLLM's, Ollama's, LiteLLM's
and Anthropic's 413 ``request_too_large``), each with an example of that provider's real
error text. Texts that speak of throttling or rate limits (:data:`NOT_OVERFLOW`) are
never an overflow: Bedrock's ``throttlingException: Too many tokens, please wait`` is
a rate limit. It also recognizes Cerebras, which answers an oversized request with a
400 or 413 and no body, and *silent* overflow: servers such as z.ai accept the request
and report more input tokens than the model's window holds.

A message read from JSON written without ``errorInfo`` (pi-ai's, or an older
alchemy's) is classified from its ``error_message`` by the same rules.

Ollama truncates the prompt without telling anyone; that cannot be detected here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ._args import need_count, need_instance
from .errors import ErrorKind
from .types import AssistantMessage

__all__ = [
    "NOT_OVERFLOW",
    "OVERFLOW_PATTERNS",
    "STATUS_KINDS",
    "TEXT_KINDS",
    "OverflowPattern",
    "classify_error",
    "is_context_overflow",
    "match_overflow",
]


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
    _entry(
        "cohere",
        r"total number of tokens .{0,40}cannot exceed \d+",
        "too many tokens: total number of tokens (prompt and prediction) cannot exceed 2048 - received 6354. "
        "Try using a shorter prompt or a smaller max_tokens value.",
    ),
    _entry("zai", r"model_context_window_exceeded", "finish_reason: model_context_window_exceeded"),
    _entry(
        "vllm",
        r"longer than the maximum model length|too long to fit into the model",
        "Prompt length of 5016 is longer than the maximum model length of 4096.",
    ),
    _entry(
        "cerebras",
        r"(?:^|HTTP\s*)4(?:00|13)\b\s*(?:status code)?\s*:?\s*\(no body\)",
        "413 status code (no body)",
    ),
    _entry(
        "generic", r"context[_ ]length[_ ]exceeded", "Error code: 400 - {'error': {'code': 'context_length_exceeded'}}"
    ),
    _entry(
        "ollama",
        r"exceeded max(?:imum)? context length",
        "prompt too long; exceeded max context length by 1024 tokens",
    ),
    _entry(
        "anthropic (413)",
        r"request_too_large",
        "Anthropic HTTP 413: request_too_large: Request exceeds the maximum allowed number of bytes.",
    ),
    _entry(
        "litellm",
        r"exceeds the model'?s maximum context length|ContextWindowExceededError",
        "litellm.ContextWindowExceededError: litellm.BadRequestError: the input exceeds the model's maximum "
        "context length",
    ),
    _entry(
        "sglang",
        r"longer than the model'?s context length",
        "The input (140000 tokens) is longer than the model's context length (131072 tokens).",
    ),
    _entry("generic", r"too many tokens", "Request has too many tokens for this model"),
    _entry("generic", r"token limit exceeded", "Token limit exceeded for this request"),
)
"""One entry per provider; ``example`` is that provider's error text. The Cerebras entry
needs the status 400 or 413: a 429 (rate limit) with no body is *not* an overflow."""

NOT_OVERFLOW: Final = re.compile(
    r"throttl|rate[ _-]?limit|too many requests|please wait|quota|per min(?:ute)?\b|\b[RT]PM\b", re.IGNORECASE
)
"""Texts that are never an overflow, whatever else they say: throttling and rate limits
(``throttlingException: Too many tokens, please wait``, ``Rate limit reached ... tokens per
min (TPM)``, ``RESOURCE_EXHAUSTED ... check quota``)."""

STATUS_KINDS: Final[Mapping[int, ErrorKind]] = {
    400: "invalid_request",
    401: "auth",
    402: "permission",
    403: "permission",
    404: "not_found",
    408: "timeout",
    413: "context_overflow",
    422: "invalid_request",
    429: "rate_limit",
    500: "server",
    502: "server",
    503: "overloaded",
    504: "timeout",
    529: "overloaded",
}
"""The kind an HTTP status means when the provider's code says no more (other 4xx are
``invalid_request``, other 5xx ``server``)."""

_TEXT_KIND_PATTERNS: Final[tuple[tuple[str, ErrorKind], ...]] = (
    (r"not valid json|not a json object|not valid utf-8|does not parse|corrupt|unexpected shape",
     "malformed_response"),
    (r"throttl|rate[ _-]?limit|too many requests|resource_exhausted|quota", "rate_limit"),
    (r"overloaded|unavailable|capacity", "overloaded"),
    (r"invalid[ _-]?api[ _-]?key|unauthori[sz]ed|authenticat|no api key", "auth"),
    (r"permission|access denied|forbidden", "permission"),
    (r"content[ _-]?filter|safety|blocked|guardrail|refused", "content_filter"),
    (r"timed out|timeout|stalled", "timeout"),
    (r"connection|could not connect|cut short|cut off|ended before|response is empty", "connection"),
    (r"internal (?:server )?error|server_error|api_error", "server"),
)
TEXT_KINDS: Final[tuple[tuple[re.Pattern[str], ErrorKind], ...]] = tuple(
    (re.compile(pattern, re.IGNORECASE), kind) for pattern, kind in _TEXT_KIND_PATTERNS
)
"""What an error text alone says, in order, for a failure that carries no kind (a message
read from JSON written without ``errorInfo``, a scripted error, an interruption alchemy
describes); overflow is checked first."""


_GENERIC_KINDS: Final = ("server", "invalid_request")


def _code_key(code: str) -> str:
    return code.strip().lower()


def _status_kind(status: int | None) -> ErrorKind | None:
    if status is None or status < 300:
        return None
    known = STATUS_KINDS.get(status)
    if known is not None:
        return known
    return "server" if status >= 500 else "invalid_request"  # a redirect too: the base URL needs fixing


def classify_error(
    *,
    status: int | None = None,
    code: str | None = None,
    text: str | None = None,
    codes: Mapping[str, ErrorKind] | None = None,
) -> ErrorKind:
    """The :data:`~alchemy.errors.ErrorKind` of a failure: the one classifier every provider uses.

    In order: an overflow text (:data:`OVERFLOW_PATTERNS`, unless :data:`NOT_OVERFLOW`
    says it is throttling) is ``context_overflow``; then the provider's own ``code``
    looked up (case-insensitively) in ``codes``, that provider's table -- unless it
    names only a generic kind (``server``, ``invalid_request``) and the HTTP status
    says more (OpenAI's ``server_error`` on a 503 is an overload); then the HTTP
    ``status`` (:data:`STATUS_KINDS`); then what the text alone says (:data:`TEXT_KINDS`);
    else ``unknown``.
    """
    if text and match_overflow(text, status) is not None:
        return "context_overflow"
    by_code = codes.get(_code_key(code)) if code and codes else None
    by_status = _status_kind(status)
    if by_code is not None and (by_code not in _GENERIC_KINDS or by_status in (None, *_GENERIC_KINDS)):
        return by_code
    if by_status is not None:
        return by_status
    if text:
        for pattern, kind in TEXT_KINDS:
            if pattern.search(text):
                return kind
    return "unknown"

_SKIPPED_FOR_SILENT = frozenset({"error", "aborted"})


def match_overflow(error_message: str, status: int | None = None) -> OverflowPattern | None:
    """The first entry of :data:`OVERFLOW_PATTERNS` that ``error_message`` matches.

    ``None`` for a throttling or rate-limit text (:data:`NOT_OVERFLOW`) and for any
    text of an HTTP 429, whatever tokens it mentions.
    """
    if status == 429 or NOT_OVERFLOW.search(error_message):
        return None
    for entry in OVERFLOW_PATTERNS:
        if entry.pattern.search(error_message):
            return entry
    return None


def is_context_overflow(message: AssistantMessage, context_window: int | None = None) -> bool:
    """True when ``message`` shows that its request did not fit the model's context.

    * A turn that ended in ``error`` whose ``message.error.kind`` is
      ``context_overflow``; a message without ``error`` (read from JSON written
      without it) is classified from its ``error_message`` by :func:`classify_error`
      (the overflow texts of :data:`OVERFLOW_PATTERNS`, the Cerebras no-body form
      included, never a throttling text).
    * Silent overflow, when ``context_window`` is given (the model's, in tokens): a turn
      that completed although ``usage.input + usage.cache_read`` exceeds it, which
      happens only when the server accepted or truncated an oversized prompt.
    """
    need_instance("is_context_overflow()", "message", message, AssistantMessage)
    need_count("is_context_overflow()", "context_window", context_window, optional=True)
    if message.stop_reason == "error":
        info = message.error
        if info is not None:
            if info.kind == "context_overflow":
                return True
        elif message.error_message and classify_error(text=message.error_message) == "context_overflow":
            return True
    if context_window and message.stop_reason not in _SKIPPED_FOR_SILENT:
        return message.usage.input + message.usage.cache_read > context_window
    return False
