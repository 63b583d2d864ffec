"""calculate_cost: cache read/write, long-context tiers, reasoning price, unknown prices, service tiers."""

from __future__ import annotations


import pytest
from support import bundled_registry  # noqa: F401 (fixture)

from alchemy.models import calculate_cost, get_model, select_tier
from alchemy.types import Cost, CostTier, Model, ModelCost, Usage



M = 1_000_000


def model(cost: ModelCost, provider: str = "acme", base_url: str = "https://api.acme.test/v1") -> Model:
    return Model(id="m", name="m", api="openai-completions", provider=provider, base_url=base_url, cost=cost)


SONNET_LIKE = ModelCost(
    input=3.0,
    output=15.0,
    cache_read=0.3,
    cache_write=3.75,
    tiers=(CostTier(200_000, input=6.0, output=22.5, cache_read=0.6, cache_write=7.5),),
)


def test_every_line_priced_separately() -> None:
    cost = calculate_cost(model(SONNET_LIKE), Usage(input=1_000, output=2_000, cache_read=10_000, cache_write=4_000))
    assert cost.input == pytest.approx(1_000 * 3.0 / M)
    assert cost.output == pytest.approx(2_000 * 15.0 / M)
    assert cost.cache_read == pytest.approx(10_000 * 0.3 / M)
    assert cost.cache_write == pytest.approx(4_000 * 3.75 / M)
    parts = (cost.input, cost.output, cost.cache_read, cost.cache_write)
    assert None not in parts
    assert cost.total == pytest.approx(sum(p for p in parts if p is not None))


def test_tier_threshold_is_strictly_above_and_counts_cached_prompt() -> None:
    at = calculate_cost(model(SONNET_LIKE), Usage(input=100_000, cache_read=90_000, cache_write=10_000, output=1_000))
    assert at.input == pytest.approx(100_000 * 3.0 / M)  # prompt == 200_000: base prices
    above = calculate_cost(model(SONNET_LIKE), Usage(input=100_000, cache_read=90_000, cache_write=10_001, output=1_000))
    # prompt 200_001 > 200_000: every token of the request at the tier prices, output included
    assert above.input == pytest.approx(100_000 * 6.0 / M)
    assert above.cache_read == pytest.approx(90_000 * 0.6 / M)
    assert above.cache_write == pytest.approx(10_001 * 7.5 / M)
    assert above.output == pytest.approx(1_000 * 22.5 / M)


def test_missing_tier_fields_fall_back_to_base_prices() -> None:
    prices = ModelCost(input=2.5, output=15.0, cache_read=0.25, tiers=(CostTier(272_000, input=5.0, output=22.5),))
    cost = calculate_cost(model(prices), Usage(input=250_000, cache_read=30_000, output=100))
    assert cost.input == pytest.approx(250_000 * 5.0 / M)
    assert cost.cache_read == pytest.approx(30_000 * 0.25 / M)  # tier has no cache_read price
    assert cost.output == pytest.approx(100 * 22.5 / M)


def test_highest_exceeded_tier_wins() -> None:
    prices = ModelCost(input=1.0, output=2.0, tiers=(CostTier(128_000, input=3.0), CostTier(32_000, input=2.0)))
    assert select_tier(prices, 32_000) is None
    assert select_tier(prices, 32_001) == CostTier(32_000, input=2.0)
    assert select_tier(prices, 500_000) == CostTier(128_000, input=3.0)
    assert calculate_cost(model(prices), Usage(input=200_000)).input == pytest.approx(200_000 * 3.0 / M)


def test_reasoning_tokens_at_the_reasoning_price() -> None:
    prices = ModelCost(input=0.4, output=1.2, reasoning=4.0)
    cost = calculate_cost(model(prices), Usage(input=100, output=1_000, reasoning=800))
    assert cost.output == pytest.approx((200 * 1.2 + 800 * 4.0) / M)
    without = calculate_cost(model(ModelCost(input=0.4, output=1.2)), Usage(input=100, output=1_000, reasoning=800))
    assert without.output == pytest.approx(1_000 * 1.2 / M)  # no separate price: all output at the output price


def test_tier_reasoning_price() -> None:
    prices = ModelCost(input=1.0, output=2.0, reasoning=3.0, tiers=(CostTier(10, reasoning=6.0),))
    cost = calculate_cost(model(prices), Usage(input=11, output=100, reasoning=50))
    assert cost.output == pytest.approx((50 * 2.0 + 50 * 6.0) / M)


def test_unknown_model_price_is_none_never_zero() -> None:
    cost = calculate_cost(model(ModelCost()), Usage(input=1_000, output=10))
    assert cost == Cost(None, None, None, None, None)


def test_unknown_line_price_makes_the_total_unknown() -> None:
    prices = ModelCost(input=1.0, output=2.0)  # no cache prices known
    cost = calculate_cost(model(prices), Usage(input=1_000, output=10, cache_read=500))
    assert cost.cache_read is None and cost.total is None
    assert cost.input == pytest.approx(1_000 / M)
    unused = calculate_cost(model(prices), Usage(input=1_000, output=10))
    assert unused.cache_read == 0.0 and unused.cache_write == 0.0  # zero tokens cost nothing at any price
    assert unused.total == pytest.approx((1_000 * 1.0 + 10 * 2.0) / M)


@pytest.mark.parametrize(("tier", "factor"), [("flex", 0.5), ("priority", 2.0), ("default", 1.0), (None, 1.0)])
def test_openai_service_tiers(tier: str | None, factor: float) -> None:
    prices = ModelCost(input=1.25, output=10.0, cache_read=0.125)
    usage = Usage(input=1_000, output=500, cache_read=2_000, service_tier=tier)
    cost = calculate_cost(model(prices, provider="openai", base_url="https://api.openai.com/v1"), usage)
    assert cost.input == pytest.approx(1_000 * 1.25 / M * factor)
    assert cost.output == pytest.approx(500 * 10.0 / M * factor)
    assert cost.cache_read == pytest.approx(2_000 * 0.125 / M * factor)
    assert cost.total == pytest.approx((1_000 * 1.25 + 500 * 10.0 + 2_000 * 0.125) / M * factor)


def test_service_tier_multiplier_only_for_openai() -> None:
    prices = ModelCost(input=1.0, output=1.0)
    groq = calculate_cost(model(prices, provider="groq"), Usage(input=M, service_tier="flex"))
    assert groq.input == pytest.approx(1.0)
    custom = calculate_cost(model(prices, provider="my-proxy", base_url="https://api.openai.com/v1"), Usage(input=M, service_tier="priority"))
    assert custom.input == pytest.approx(2.0)


def test_registry_prices() -> None:
    sonnet = get_model("anthropic", "claude-sonnet-4-20250514")
    cost = calculate_cost(sonnet, Usage(input=M, output=M, cache_read=M, cache_write=M))
    assert (cost.input, cost.output, cost.cache_read, cost.cache_write) == pytest.approx((3.0, 15.0, 0.3, 3.75))
    gemini = get_model("google", "gemini-2.5-pro")
    small = calculate_cost(gemini, Usage(input=100_000, output=1_000))
    large = calculate_cost(gemini, Usage(input=300_000, output=1_000))
    assert small.input == pytest.approx(100_000 * 1.25 / M)
    assert large.input == pytest.approx(300_000 * 2.5 / M) and large.output == pytest.approx(1_000 * 15.0 / M)


def test_negative_or_excess_reasoning_is_clamped() -> None:
    prices = ModelCost(input=1.0, output=1.0, reasoning=10.0)
    cost = calculate_cost(model(prices), Usage(output=100, reasoning=500))  # reasoning cannot exceed output
    assert cost.output == pytest.approx(100 * 10.0 / M)


# --------------------------------------------------------------------------- one-hour cache writes


def test_one_hour_cache_writes_pay_twice_the_input_price() -> None:
    cost = calculate_cost(model(SONNET_LIKE), Usage(input=10, cache_write=4_000, cache_write_1h=1_000))
    assert cost.cache_write == pytest.approx(3_000 * 3.75 / M + 1_000 * 2 * 3.0 / M)
    assert cost.total == pytest.approx(10 * 3.0 / M + (cost.cache_write or 0.0))


def test_one_hour_rate_corrects_the_five_minute_price_that_was_37_5_percent_low() -> None:
    one_hour = calculate_cost(model(SONNET_LIKE), Usage(cache_write=10_000, cache_write_1h=10_000)).cache_write
    five_minute = calculate_cost(model(SONNET_LIKE), Usage(cache_write=10_000)).cache_write
    assert one_hour == pytest.approx(10_000 * 6.0 / M)
    assert five_minute == pytest.approx((one_hour or 0.0) * (1 - 0.375))


def test_one_hour_writes_take_the_tier_input_price() -> None:
    # prompt 150_000 + 60_000 = 210_000 > 200_000: the tier's input price (6.0) doubles to 12.0
    cost = calculate_cost(model(SONNET_LIKE), Usage(input=150_000, cache_write=60_000, cache_write_1h=60_000))
    assert cost.cache_write == pytest.approx(60_000 * 12.0 / M)


def test_one_hour_writes_are_capped_at_the_cache_writes() -> None:
    cost = calculate_cost(model(SONNET_LIKE), Usage(cache_write=100, cache_write_1h=500))
    assert cost.cache_write == pytest.approx(100 * 6.0 / M)


def test_one_hour_writes_without_an_input_price_are_unknown() -> None:
    prices = ModelCost(output=1.0, cache_write=1.25)
    cost = calculate_cost(model(prices), Usage(cache_write=100, cache_write_1h=40))
    assert cost.cache_write is None and cost.total is None
    assert calculate_cost(model(prices), Usage(cache_write=100)).cache_write == pytest.approx(100 * 1.25 / M)


def test_registry_claude_cache_write_price_is_the_five_minute_rate() -> None:
    """The rule rests on models.dev's cache-write price being 1.25x input (Anthropic's 5-minute rate)."""
    sonnet = get_model("anthropic", "claude-sonnet-4-5")
    prices = sonnet.cost
    assert prices.input is not None and prices.cache_write == pytest.approx(prices.input * 1.25)
    cost = calculate_cost(sonnet, Usage(cache_write=M, cache_write_1h=M))
    assert cost.cache_write == pytest.approx(prices.input * 2)
