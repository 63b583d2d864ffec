"""Tool-call id normalizers per target API (alchemy.tool_ids)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemy.tool_ids import (
    UniqueToolCallIds,
    anthropic_tool_call_id,
    keep_tool_call_id,
    mistral_tool_call_id,
    openai_completions_tool_call_id,
    openai_responses_tool_call_id,
    stable_hash,
    tool_call_id_normalizer,
    tool_call_id_rule,
)
from alchemy.types import Model

# A Copilot / Codex Responses id: call_id, then a 400+ character item id with + / =.
LONG_ITEM = "fc_" + "AbC+/=" * 80
RESPONSES_ID = f"call_Q7pq6EfVGRnauPLWSSYBGJ1l|{LONG_ITEM}"


def model(api: str, provider: str = "p") -> Model:
    return Model("m", "m", api, provider, "")


# --------------------------------------------------------------------------- each rule


def test_anthropic_sanitizes_and_caps_at_64() -> None:
    assert anthropic_tool_call_id("toolu_019Zvehfe1XQWweT1pm7okyt") == "toolu_019Zvehfe1XQWweT1pm7okyt"
    out = anthropic_tool_call_id(RESPONSES_ID)
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", out)
    assert out.startswith("call_Q7pq6EfVGRnauPLWSSYBGJ1l_fc_AbC___")
    assert anthropic_tool_call_id("a.b c/d") == "a_b_c_d"


def test_openai_completions_keeps_the_call_part_and_caps_at_40() -> None:
    assert openai_completions_tool_call_id(RESPONSES_ID) == "call_Q7pq6EfVGRnauPLWSSYBGJ1l"
    assert openai_completions_tool_call_id("x" * 50) == "x" * 40
    assert openai_completions_tool_call_id("call.1|fc") == "call_1"
    assert openai_completions_tool_call_id("toolu_01") == "toolu_01"


def test_openai_responses_sanitizes_both_halves() -> None:
    out = openai_responses_tool_call_id(RESPONSES_ID)
    call_id, item_id = out.split("|")
    assert call_id == "call_Q7pq6EfVGRnauPLWSSYBGJ1l"
    assert item_id.startswith("fc_AbC") and len(item_id) <= 64
    assert re.fullmatch(r"[A-Za-z0-9_-]+", item_id)
    assert not item_id.endswith("_")


def test_openai_responses_prefixes_item_ids_with_fc() -> None:
    assert openai_responses_tool_call_id("call_1|item_9") == "call_1|fc_item_9"
    assert openai_responses_tool_call_id("call_1|fc_9") == "call_1|fc_9"


def test_openai_responses_strips_trailing_underscores() -> None:
    assert openai_responses_tool_call_id("call+|fc_abc==") == "call|fc_abc"


def test_openai_responses_bare_ids_stay_bare() -> None:
    assert openai_responses_tool_call_id("toolu_019Zvehfe1XQWweT1pm7okyt") == "toolu_019Zvehfe1XQWweT1pm7okyt"
    assert openai_responses_tool_call_id("call_1|") == "call_1"
    assert openai_responses_tool_call_id("read_theme_1777924862264_1") == "read_theme_1777924862264_1"


def test_mistral_keeps_nine_alphanumerics_and_hashes_the_rest() -> None:
    assert mistral_tool_call_id("aB3dE6gH9") == "aB3dE6gH9"
    assert mistral_tool_call_id("aB3-dE6-gH9") == "aB3dE6gH9"
    hashed = mistral_tool_call_id("toolu_019Zvehfe1XQWweT1pm7okyt")
    assert re.fullmatch(r"[A-Za-z0-9]{9}", hashed)
    assert hashed == mistral_tool_call_id("toolu_019Zvehfe1XQWweT1pm7okyt")
    assert mistral_tool_call_id("toolu_019Zvehfe1XQWweT1pm7okyt", 1) != hashed
    assert re.fullmatch(r"[A-Za-z0-9]{9}", mistral_tool_call_id(""))


def test_empty_or_unusable_ids_get_a_valid_stable_id() -> None:
    for rule in (anthropic_tool_call_id, openai_completions_tool_call_id, openai_responses_tool_call_id):
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", rule(""))
        assert rule("") == rule("")
    assert openai_responses_tool_call_id("___|x").startswith("call_")


def test_keep_is_the_identity() -> None:
    assert keep_tool_call_id(RESPONSES_ID) is RESPONSES_ID


# --------------------------------------------------------------------------- per request


def test_collisions_get_distinct_ids_and_repeats_the_same_one() -> None:
    normalize = UniqueToolCallIds(openai_completions_tool_call_id)
    first = normalize("call_1|fc_a")
    second = normalize("call_1|fc_b")
    assert first == "call_1"
    assert second != first and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", second)
    assert normalize("call_1|fc_a") == first
    assert normalize("call_1|fc_b") == second
    assert normalize.mapping == {"call_1|fc_a": first, "call_1|fc_b": second}


def test_truncation_collisions_are_resolved() -> None:
    normalize = UniqueToolCallIds(anthropic_tool_call_id)
    ids = ["x" * 64 + suffix for suffix in ("a", "b", "c")]
    out = [normalize(i) for i in ids]
    assert len(set(out)) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", o) for o in out)


def test_mistral_collision_map_retries_with_new_seeds() -> None:
    calls: list[tuple[str, int]] = []

    def colliding(tool_call_id: str, attempt: int = 0) -> str:
        calls.append((tool_call_id, attempt))
        return "AAAAAAAAA" if attempt == 0 else mistral_tool_call_id(tool_call_id, attempt)

    normalize = UniqueToolCallIds(colliding)
    assert normalize("one") == "AAAAAAAAA"
    other = normalize("two")
    assert other != "AAAAAAAAA" and re.fullmatch(r"[A-Za-z0-9]{9}", other)
    assert calls == [("one", 0), ("two", 0), ("two", 1)]


def test_same_ids_in_same_order_give_same_results_in_a_new_process() -> None:
    code = (
        "from alchemy.tool_ids import mistral_tool_call_id as m, stable_hash as h;"
        "print(m('toolu_019Zvehfe1XQWweT1pm7okyt'), h('x', 12))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == [mistral_tool_call_id("toolu_019Zvehfe1XQWweT1pm7okyt"), stable_hash("x", 12)]


# --------------------------------------------------------------------------- choosing the rule


@pytest.mark.parametrize(
    ("api", "provider", "rule"),
    [
        ("openai-completions", "groq", openai_completions_tool_call_id),
        ("openai-responses", "openai", openai_responses_tool_call_id),
        ("azure-openai-responses", "azure-openai-responses", openai_responses_tool_call_id),
        ("openai-codex-responses", "openai-codex", openai_responses_tool_call_id),
        ("anthropic-messages", "anthropic", anthropic_tool_call_id),
        ("bedrock-converse-stream", "amazon-bedrock", anthropic_tool_call_id),
        ("google-generative-ai", "google", anthropic_tool_call_id),
        ("google-vertex", "google-vertex", anthropic_tool_call_id),
        ("mistral-conversations", "mistral", mistral_tool_call_id),
        ("openai-completions", "mistral", mistral_tool_call_id),
    ],
)
def test_rule_per_api(api: str, provider: str, rule: object) -> None:
    assert tool_call_id_rule(model(api, provider)) is rule


def test_each_request_gets_a_fresh_collision_map() -> None:
    first = tool_call_id_normalizer(model("openai-completions"))
    second = tool_call_id_normalizer(model("openai-completions"))
    assert first is not None and second is not None and first is not second
    a = first("call_1|fc_a")
    first("call_1|fc_b")
    assert second("call_1|fc_b") == a  # no memory of the other request


# --------------------------------------------------------------------------- properties

ANY_ID = st.text(alphabet=st.characters(codec="utf-8"), max_size=120) | st.from_regex(r"[A-Za-z0-9_]{1,40}\|fc_[A-Za-z0-9+/=_]{1,500}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(ANY_ID)
def test_every_rule_gives_valid_idempotent_ids(tool_call_id: str) -> None:
    checks = [
        (anthropic_tool_call_id, r"[A-Za-z0-9_-]{1,64}"),
        (openai_completions_tool_call_id, r"[A-Za-z0-9_-]{1,40}"),
        (openai_responses_tool_call_id, r"[A-Za-z0-9_-]{1,64}(\|fc[A-Za-z0-9_-]{0,62})?"),
        (mistral_tool_call_id, r"[A-Za-z0-9]{9}"),
    ]
    for rule, shape in checks:
        out = rule(tool_call_id)
        assert re.fullmatch(shape, out), (rule.__name__, tool_call_id, out)
        assert rule(out) == out, (rule.__name__, tool_call_id, out)


@settings(max_examples=60, deadline=None)
@given(st.lists(ANY_ID, max_size=30))
def test_normalizers_are_injective_and_deterministic(ids: list[str]) -> None:
    for rule in (anthropic_tool_call_id, openai_completions_tool_call_id, openai_responses_tool_call_id, mistral_tool_call_id):
        one, two = UniqueToolCallIds(rule), UniqueToolCallIds(rule)
        out = [one(i) for i in ids]
        assert out == [two(i) for i in ids]
        assert len(set(out)) == len(set(ids))
