"""Pricing in one place: parsers report tokens, the emitter prices them.

Every provider parser, fed a response with usage and no pricing model, leaves the
cost as it found it; the emitter of a stream (given the model) prices each report,
so the partial message and the final one carry a cost that matches their counts.
Anthropic's and Bedrock's one-hour cache writes are counted apart and priced at the
one-hour rate.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from protocol_checks import run_parser

from alchemy.api_registry import get_api
from alchemy.emitter import EventEmitter, new_partial
from alchemy.models import calculate_cost, get_model
from alchemy.testing.eventstream import encode_event
from alchemy.types import AssistantMessage, Cost, Model, ModelCost, Usage

M = 1_000_000

SONNET = get_model("anthropic", "claude-sonnet-4-5")
BEDROCK_SONNET = get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
COMPLETIONS = Model(
    id="m",
    name="m",
    api="openai-completions",
    provider="acme",
    base_url="https://api.acme.test/v1",
    cost=ModelCost(input=1.0, output=2.0, cache_read=0.5),
)


def sse(*events: dict[str, Any], named: bool = False) -> bytes:
    """``data:`` lines (with ``event:`` names taken from ``type`` when ``named``)."""
    out = []
    for event in events:
        if named:
            out.append(b"event: " + str(event["type"]).encode() + b"\n")
        out.append(b"data: " + orjson.dumps(event) + b"\n\n")
    return b"".join(out)


def anthropic_wire(start_usage: dict[str, Any], end_usage: dict[str, Any] | None = None) -> bytes:
    return sse(
        {"type": "message_start", "message": {"id": "msg_1", "usage": start_usage}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": end_usage or {"output_tokens": 20}},
        {"type": "message_stop"},
        named=True,
    )


def bedrock_wire(usage: dict[str, Any]) -> bytes:
    events = [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}}),
        ("messageStop", {"stopReason": "end_turn"}),
        ("metadata", {"usage": usage}),
    ]
    return b"".join(encode_event(kind, orjson.dumps(payload)) for kind, payload in events)


# Each wire reports a prompt of 300 tokens (200 of them cached) and 20 output tokens.
WIRES: dict[str, tuple[Model, bytes]] = {
    "anthropic-messages": (
        SONNET,
        anthropic_wire({"input_tokens": 100, "cache_read_input_tokens": 200, "output_tokens": 1}),
    ),
    "openai-completions": (
        COMPLETIONS,
        sse(
            {"id": "c1", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]},
            {
                "id": "c1",
                "choices": [],
                "usage": {
                    "prompt_tokens": 300,
                    "completion_tokens": 20,
                    "total_tokens": 320,
                    "prompt_tokens_details": {"cached_tokens": 200},
                },
            },
        )
        + b"data: [DONE]\n\n",
    ),
    "openai-responses": (
        get_model("openai", "gpt-5"),
        sse(
            {"type": "response.created", "response": {"id": "resp_1"}},
            {
                "type": "response.completed",
                "response": {
                    "id": "resp_1",
                    "status": "completed",
                    "usage": {
                        "input_tokens": 300,
                        "input_tokens_details": {"cached_tokens": 200},
                        "output_tokens": 20,
                        "total_tokens": 320,
                    },
                },
            },
            named=True,
        ),
    ),
    "google-generative-ai": (
        get_model("google", "gemini-2.5-flash"),
        sse(
            {
                "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
                "usageMetadata": {
                    "promptTokenCount": 300,
                    "cachedContentTokenCount": 200,
                    "candidatesTokenCount": 20,
                    "totalTokenCount": 320,
                },
            }
        ),
    ),
    "mistral-conversations": (
        get_model("mistral", "mistral-small-2506"),
        sse(
            {
                "id": "x1",
                "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": 300,
                    "completion_tokens": 20,
                    "total_tokens": 320,
                    "prompt_tokens_details": {"cached_tokens": 200},
                },
            }
        )
        + b"data: [DONE]\n\n",
    ),
    "bedrock-converse-stream": (
        BEDROCK_SONNET,
        bedrock_wire({"inputTokens": 100, "outputTokens": 20, "cacheReadInputTokens": 200, "totalTokens": 320}),
    ),
}


def parse(model: Model, wire: bytes, *, priced: bool = True) -> AssistantMessage:
    events, message = run_parser(get_api(model.api), model, wire, priced=priced)
    assert events[-1].type == "done", message.error_message
    return message


# --------------------------------------------------------------------------- parsers report tokens only


@pytest.mark.parametrize("api", sorted(WIRES))
def test_a_parser_alone_reports_tokens_and_leaves_the_cost_to_the_emitter(api: str) -> None:
    model, wire = WIRES[api]
    assert model.api == api
    usage = parse(model, wire, priced=False).usage
    assert (usage.input, usage.cache_read, usage.output) == (100, 200, 20)
    assert usage.cost == Cost(), "a parser does not price"


@pytest.mark.parametrize("api", sorted(WIRES))
def test_the_emitter_of_a_stream_prices_what_the_parser_reported(api: str) -> None:
    model, wire = WIRES[api]
    usage = parse(model, wire).usage
    assert (usage.input, usage.cache_read, usage.output) == (100, 200, 20)
    assert usage.cost == calculate_cost(model, usage)
    assert usage.cost.input is not None and usage.cost.input > 0


# --------------------------------------------------------------------------- the emitter's pricing step


PRICES = ModelCost(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
PRICED = Model(id="m", name="m", api="test-api", provider="test", base_url="https://api.test", cost=PRICES)


def test_every_usage_report_is_priced_at_once_so_the_partial_usage_is_priced() -> None:
    emitter = EventEmitter(new_partial(PRICED), model=PRICED)
    emitter.text_delta("a")
    emitter.set_usage(Usage(input=1_000, output=10))
    partial = emitter.message.usage
    assert partial.cost.input == pytest.approx(1_000 * 3.0 / M) and partial.cost.output == pytest.approx(10 * 15.0 / M)
    emitter.text_delta("b")
    emitter.set_usage(Usage(input=1_000, output=500, cache_write=100, cache_write_1h=100))
    emitter.done()
    final = emitter.message.usage
    assert final.cost == calculate_cost(PRICED, final)
    assert final.cost.output == pytest.approx(500 * 15.0 / M)
    assert final.cost.cache_write == pytest.approx(100 * 6.0 / M)


def test_a_failed_stream_keeps_its_priced_usage() -> None:
    emitter = EventEmitter(new_partial(PRICED), model=PRICED)
    emitter.text_delta("partial")
    emitter.set_usage(Usage(input=400, output=7))
    emitter.error("connection reset")
    assert emitter.message.stop_reason == "error"
    assert emitter.message.usage.cost.total == pytest.approx((400 * 3.0 + 7 * 15.0) / M)


def test_without_a_model_the_reported_cost_is_kept() -> None:
    emitter = EventEmitter(new_partial(PRICED))
    given = Cost(1.0, 2.0, 0.0, 0.0, 3.0)
    emitter.set_usage(Usage(input=1_000, cost=given))
    assert emitter.message.usage.cost is given


def test_unknown_prices_give_none_not_zero() -> None:
    unpriced = Model(id="m", name="m", api="test-api", provider="test", base_url="https://api.test")
    emitter = EventEmitter(new_partial(unpriced), model=unpriced)
    emitter.set_usage(Usage(input=10, output=1))
    assert emitter.message.usage.cost == Cost(None, None, None, None, None)


def test_a_model_that_is_not_a_model_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="^EventEmitter\\(\\) expects an alchemy.Model as model, got str$"):
        EventEmitter(AssistantMessage(), model="claude")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- one-hour cache writes


def test_anthropic_cache_creation_split_counts_one_hour_writes_apart() -> None:
    start = {
        "input_tokens": 100,
        "cache_read_input_tokens": 2_000,
        "cache_creation_input_tokens": 4_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 3_000},
        "output_tokens": 1,
    }
    alone = parse(SONNET, anthropic_wire(start), priced=False).usage
    assert (alone.input, alone.cache_read, alone.cache_write, alone.cache_write_1h, alone.output) == (
        100,
        2_000,
        4_000,
        3_000,
        20,
    )
    assert alone.total_tokens == 6_120 and alone.cost == Cost()
    priced = parse(SONNET, anthropic_wire(start)).usage
    prices = SONNET.cost
    assert prices.input is not None and prices.cache_write is not None
    assert priced.cost.cache_write == pytest.approx((1_000 * prices.cache_write + 3_000 * 2 * prices.input) / M)
    before = calculate_cost(SONNET, Usage(cache_write=3_000)).cache_write  # the 5-minute price all used to pay
    assert before == pytest.approx(3_000 * 2 * prices.input / M * (1 - 0.375))


def test_anthropic_split_in_message_delta_and_split_without_a_total() -> None:
    end = {
        "output_tokens": 20,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 500},
    }
    usage = parse(SONNET, anthropic_wire({"input_tokens": 10}, end), priced=False).usage
    assert (usage.cache_write, usage.cache_write_1h) == (500, 500)
    assert usage.total_tokens == 10 + 500 + 20


def test_anthropic_without_a_split_has_no_one_hour_writes() -> None:
    start = {"input_tokens": 10, "cache_creation_input_tokens": 800}
    usage = parse(SONNET, anthropic_wire(start)).usage
    assert (usage.cache_write, usage.cache_write_1h) == (800, 0)
    assert SONNET.cost.cache_write is not None
    assert usage.cost.cache_write == pytest.approx(800 * SONNET.cost.cache_write / M)


def test_bedrock_cache_details_count_one_hour_writes_apart() -> None:
    wire = bedrock_wire(
        {
            "inputTokens": 10,
            "outputTokens": 5,
            "cacheWriteInputTokens": 1_200,
            "cacheDetails": [{"ttl": "1h", "inputTokens": 1_000}, {"ttl": "5m", "inputTokens": 200}],
            "totalTokens": 1_215,
        }
    )
    alone = parse(BEDROCK_SONNET, wire, priced=False).usage
    assert (alone.cache_write, alone.cache_write_1h, alone.cost) == (1_200, 1_000, Cost())
    priced = parse(BEDROCK_SONNET, wire).usage
    prices = BEDROCK_SONNET.cost
    assert prices.input is not None and prices.cache_write is not None
    assert priced.cost.cache_write == pytest.approx((200 * prices.cache_write + 1_000 * 2 * prices.input) / M)


def test_bedrock_without_cache_details_has_no_one_hour_writes() -> None:
    usage = parse(BEDROCK_SONNET, bedrock_wire({"inputTokens": 1, "outputTokens": 1, "cacheWriteInputTokens": 50})).usage
    assert (usage.cache_write, usage.cache_write_1h) == (50, 0)
