"""Per-call cost of checking options against their declarations (issue 14).

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_options.py --benchmark-only
--benchmark-columns=min,median,ops``. ``check_options`` is what every call runs before
it returns a stream; the target is under 20 µs for a call with 10 options. The
``build_options`` case adds the reasoning-level mapping of a ``*_simple`` call.
"""

from __future__ import annotations

from typing import Any

from alchemy import Model
from alchemy.api_registry import get_api
from alchemy.options import check_options
from alchemy.streaming import build_options

MODEL = Model("claude-sonnet-4-5", "Claude", "anthropic-messages", "anthropic", "https://api.anthropic.com/v1",
              reasoning=True, max_tokens=64000)
TEN_OPTIONS: dict[str, Any] = {
    "temperature": 0.3,
    "max_tokens": 1024,
    "api_key": "test-key-not-real",
    "headers": {"x-trace": "1"},
    "session_id": "s1",
    "cache_retention": "short",
    "stop": ["END"],
    "top_p": 0.9,
    "tool_choice": "auto",
    "extra_body": {"x": 1},
}


def test_check_ten_options(benchmark: Any) -> None:
    provider = get_api(MODEL.api)
    checked = benchmark(check_options, "stream", MODEL, provider, TEN_OPTIONS)
    assert checked.stop == ["END"]


def test_check_no_options(benchmark: Any) -> None:
    provider = get_api(MODEL.api)
    benchmark(check_options, "stream", MODEL, provider, {})


def test_build_ten_options_with_a_reasoning_level(benchmark: Any) -> None:
    provider = get_api(MODEL.api)
    options = {**TEN_OPTIONS, "reasoning": "medium"}
    options.pop("temperature")
    benchmark(build_options, "stream_simple", MODEL, provider, options, simple=True)
