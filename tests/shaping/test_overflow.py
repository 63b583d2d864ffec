"""Context-overflow detection (alchemy.overflow): every provider's real error text."""

from __future__ import annotations

import pytest

from alchemy.overflow import OVERFLOW_PATTERNS, is_context_overflow, match_overflow
from alchemy.types import AssistantMessage, Usage


def failed(error_message: str) -> AssistantMessage:
    return AssistantMessage(api="a", provider="p", model="m", stop_reason="error", error_message=error_message)


# The messages as they reach users, envelopes included (from the providers' own API
# answers and bug reports quoting them).
REAL_ERRORS = {
    "anthropic": '400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 213462 tokens > 200000 maximum"}}',
    "anthropic (input + max_tokens)": '{"type":"error","error":{"type":"invalid_request_error","message":"input length and `max_tokens` exceed context limit: 199759 + 8192 > 200000, decrease input length or `max_tokens` and try again"}}',
    "amazon-bedrock": "ValidationException: Input is too long for requested model.",
    "openai": "Your input exceeds the context window of this model. Please adjust your input and try again.",
    "google": '{"error":{"code":400,"message":"The input token count (1196265) exceeds the maximum number of tokens allowed (1048575).","status":"INVALID_ARGUMENT"}}',
    "xai": "This model's maximum prompt length is 131072 but the request contains 537812 tokens.",
    "groq": "Please reduce the length of the messages or completion.",
    "openrouter": "This endpoint's maximum context length is 200000 tokens. However, you requested about 234567 tokens (226567 of text input, 8000 in the output). Please reduce the length of either one.",
    "github-copilot": "prompt token count of 150312 exceeds the limit of 128000",
    "llama.cpp": '{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}',
    "lm-studio": "Error: The number of tokens to keep from the initial prompt is greater than the context length.",
    "minimax": "invalid params, context window exceeds limit (2013)",
    "kimi": "Your request exceeded model token limit: 262144 (requested: 301278)",
    "mistral": '{"object":"error","message":"Prompt contains 40123 tokens and 0 draft tokens, too large for model with 32768 maximum context length","type":"invalid_request_message_error"}',
    "zai": "Provider finish_reason: model_context_window_exceeded",
    # cohere-ai/sandbox-topically issue 4
    "cohere": '{"message":"too many tokens: total number of tokens (prompt and prediction) cannot exceed 2048 - '
    'received 6354. Try using a shorter prompt or a smaller max_tokens value."}',
    "vllm": "This model's maximum context length is 16384 tokens. However, you requested 122946 tokens (112946 in the messages, 10000 in the completion).",
    "cerebras": "400 status code (no body)",
    "ollama": '{"error":"prompt too long; exceeded max context length by 2301 tokens"}',
    "anthropic (413)": "Anthropic HTTP 413: request_too_large: Request exceeds the maximum allowed number of bytes. (request id req_01)",
    "litellm": "litellm.BadRequestError: OpenAIException - Error code: 400 - The input exceeds the model's maximum context length",
    "sglang": "The input (140213 tokens) is longer than the model's context length (131072 tokens).",
}


def test_every_provider_in_the_table_has_a_real_text_here() -> None:
    assert {e.provider for e in OVERFLOW_PATTERNS if e.provider != "generic"} == set(REAL_ERRORS)


@pytest.mark.parametrize("entry", OVERFLOW_PATTERNS, ids=lambda e: f"{e.provider}:{e.pattern.pattern[:24]}")
def test_each_entry_matches_its_own_example(entry: object) -> None:
    assert entry.matches(entry.example)  # type: ignore[attr-defined]
    assert is_context_overflow(failed(entry.example))  # type: ignore[attr-defined]


@pytest.mark.parametrize(("provider", "text"), sorted(REAL_ERRORS.items()))
def test_real_provider_errors_are_overflows(provider: str, text: str) -> None:
    assert is_context_overflow(failed(text)), provider
    assert match_overflow(text) is not None


def test_vllm_has_its_own_wordings_too() -> None:
    assert is_context_overflow(failed("Prompt length of 5016 is longer than the maximum model length of 4096."))
    assert is_context_overflow(
        failed("The prompt (total length 25938) is too long to fit into the model (context length 4096).")
    )


def test_matching_ignores_case() -> None:
    assert is_context_overflow(failed("PROMPT IS TOO LONG"))
    assert match_overflow("Context_Length_Exceeded") is not None


@pytest.mark.parametrize("text", ["413 status code (no body)", "400 (no body)", "413 status code(no body)", "HTTP 413: (no body)"])
def test_cerebras_no_body_forms(text: str) -> None:
    assert is_context_overflow(failed(text))


@pytest.mark.parametrize(
    "text",
    [
        "429 status code (no body)",
        "500 status code (no body)",
        "rate limit: 429 (no body)",
        "Rate limit reached for requests",
        "Invalid API key",
        "overloaded_error: Overloaded",
        "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens",
        # throttling that speaks of tokens is a rate limit, never an overflow
        "Amazon Bedrock throttlingException: Too many tokens, please wait before trying again.",
        "ThrottlingException: Too many tokens per minute",
        "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000, Requested 5000.",
        "Request too large for gpt-4o on tokens per min (TPM): Limit 30000, Requested 50000.",
        "Too many requests: token limit exceeded, please wait",
        "RESOURCE_EXHAUSTED: Resource has been exhausted (e.g. check quota).",
        "groq HTTP 429: tokens: Rate limit reached ... Please reduce the length of the messages",
    ],
)
def test_other_errors_are_not_overflows(text: str) -> None:
    assert not is_context_overflow(failed(text))
    assert match_overflow(text) is None


def test_patterns_count_only_for_error_turns() -> None:
    message = AssistantMessage(stop_reason="stop", error_message="prompt is too long")
    assert not is_context_overflow(message)
    aborted = AssistantMessage(stop_reason="aborted", error_message="prompt is too long")
    assert not is_context_overflow(aborted)
    assert not is_context_overflow(AssistantMessage(stop_reason="error"))


def test_silent_overflow_from_usage() -> None:
    over = AssistantMessage(stop_reason="stop", usage=Usage(input=120_000, cache_read=10_000))
    assert is_context_overflow(over, context_window=128_000)
    assert not is_context_overflow(over)
    assert not is_context_overflow(over, context_window=0)
    fits = AssistantMessage(stop_reason="stop", usage=Usage(input=100_000, cache_read=28_000))
    assert not is_context_overflow(fits, context_window=128_000)


def test_silent_overflow_on_any_completed_turn_but_not_failed_ones() -> None:
    usage = Usage(input=200_000)
    for stop in ("stop", "length", "toolUse"):
        assert is_context_overflow(AssistantMessage(stop_reason=stop, usage=usage), 131_072)  # type: ignore[arg-type]
    assert not is_context_overflow(AssistantMessage(stop_reason="aborted", usage=usage), 131_072)
    assert not is_context_overflow(AssistantMessage(stop_reason="error", error_message="boom", usage=usage), 131_072)
