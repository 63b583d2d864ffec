"""Cost of one response in USD, from the model's prices per million tokens.

The rules, in the order they apply:

1. **Unknown is not free.** A model without input and output prices gets ``None`` in
   every field. Otherwise a field whose tokens are non-zero but whose price is
   unknown is ``None`` (a cache-hit price is never assumed to equal the input
   price), and then so is ``total``. Zero tokens cost 0 whatever the price.
2. **Long-context tiers.** models.dev's ``cost.tiers`` give prices that apply above
   ``threshold`` tokens of context. The tier is chosen by the request's prompt size,
   ``input + cache_read + cache_write`` (cached tokens are part of the prompt the
   provider counts), strictly above the threshold (Anthropic, Gemini and OpenAI price
   "prompts > N tokens"), and it prices *every* token of the request, output
   included; it is not a marginal rate. A price the tier does not give falls back to
   the base price.
3. **Reasoning.** ``usage.output`` includes the reasoning tokens. When the model has a
   separate reasoning price, ``usage.reasoning`` tokens pay it and the rest of the
   output pays the output price; otherwise all output pays the output price. Both
   land in ``Cost.output``.
4. **One-hour cache writes.** ``usage.cache_write_1h`` tokens (part of
   ``cache_write``) pay ``ONE_HOUR_CACHE_WRITE_MULTIPLIER`` (2) times the input
   price, Anthropic's published rate for writes with a one-hour lifetime; the rest
   of ``cache_write`` pays the ``cache_write`` price, which models.dev gives at the
   five-minute rate (1.25x input). Both land in ``Cost.cache_write``. The input
   price of the chosen tier applies; ``cache_write_1h`` is capped at ``cache_write``.
5. **Service tiers.** When OpenAI served the request (provider ``openai``, or a base
   URL on ``api.openai.com``) and ``usage.service_tier`` is ``flex`` or ``priority``,
   every field is multiplied by 0.5 or 2 (OpenAI's published multipliers; pi-ai
   does the same).
"""

from __future__ import annotations

from .._args import need_count, need_instance
from ..types import Cost, CostTier, Model, ModelCost, Usage

__all__ = [
    "ONE_HOUR_CACHE_WRITE_MULTIPLIER",
    "SERVICE_TIER_MULTIPLIERS",
    "calculate_cost",
    "price_usage",
    "select_tier",
]

_TOKEN_COUNTS = ("input", "output", "cache_read", "cache_write", "reasoning", "cache_write_1h")

SERVICE_TIER_MULTIPLIERS: dict[str, float] = {"flex": 0.5, "priority": 2.0}

ONE_HOUR_CACHE_WRITE_MULTIPLIER = 2.0
"""The price of a one-hour cache write as a multiple of the input price (Anthropic's)."""


def select_tier(prices: ModelCost, prompt_tokens: int) -> CostTier | None:
    """The highest tier whose threshold the prompt exceeds, or None for base prices."""
    chosen = None
    for tier in prices.tiers:
        if prompt_tokens > tier.threshold and (chosen is None or tier.threshold > chosen.threshold):
            chosen = tier
    return chosen


def _line(tokens: int, price: float | None) -> float | None:
    if tokens == 0:
        return 0.0
    if price is None:
        return None
    return tokens * price / 1_000_000


def _cache_write_line(usage: Usage, five_minute_price: float | None, input_price: float | None) -> float | None:
    """Cache writes: the one-hour part at twice the input price, the rest at the cache-write price."""
    one_hour = min(max(usage.cache_write_1h, 0), usage.cache_write)
    if not one_hour:
        return _line(usage.cache_write, five_minute_price)
    one_hour_price = None if input_price is None else input_price * ONE_HOUR_CACHE_WRITE_MULTIPLIER
    short = _line(usage.cache_write - one_hour, five_minute_price)
    long = _line(one_hour, one_hour_price)
    return None if short is None or long is None else short + long


def _served_by_openai(model: Model) -> bool:
    return model.provider == "openai" or "://api.openai.com" in model.base_url


def calculate_cost(model: Model, usage: Usage) -> Cost:
    """The cost of ``usage`` on ``model`` (see the module docstring for the rules).

    Returns a new :class:`~alchemy.Cost`. The counts are checked first (a usage edited
    after it was built may hold a negative or non-integer count), so a cost is never
    negative; a wrong argument raises ``TypeError`` / ``ValueError`` naming it.
    """
    need_instance("calculate_cost()", "model", model, Model)
    need_instance("calculate_cost()", "usage", usage, Usage)
    for name in _TOKEN_COUNTS:
        need_count("calculate_cost()", f"usage.{name}", getattr(usage, name))
    return price_usage(model, usage)


def price_usage(model: Model, usage: Usage) -> Cost:
    """:func:`calculate_cost` without the argument checks: the stream's emitter prices every
    usage report it builds through this (a :class:`Usage` checks its counts when built)."""
    base = model.cost
    if base.input is None and base.output is None:
        return Cost(None, None, None, None, None)
    tier = select_tier(base, usage.input + usage.cache_read + usage.cache_write)

    def price(name: str) -> float | None:
        if tier is not None:
            value: float | None = getattr(tier, name)
            if value is not None:
                return value
        result: float | None = getattr(base, name)
        return result

    output_price = price("output")
    reasoning_price = price("reasoning")
    reasoning_tokens = min(max(usage.reasoning, 0), usage.output)
    if reasoning_price is not None and reasoning_tokens:
        plain = _line(usage.output - reasoning_tokens, output_price)
        thought = _line(reasoning_tokens, reasoning_price)
        output = None if plain is None or thought is None else plain + thought
    else:
        output = _line(usage.output, output_price)
    input_price = price("input")
    fields = [
        _line(usage.input, input_price),
        output,
        _line(usage.cache_read, price("cache_read")),
        _cache_write_line(usage, price("cache_write"), input_price),
    ]
    multiplier = SERVICE_TIER_MULTIPLIERS.get(usage.service_tier or "", 1.0) if _served_by_openai(model) else 1.0
    if multiplier != 1.0:
        fields = [None if value is None else value * multiplier for value in fields]
    known = [value for value in fields if value is not None]
    total = sum(known) if len(known) == len(fields) else None
    return Cost(fields[0], fields[1], fields[2], fields[3], total)
