"""``alchemy usage``: the ledger as a table, JSON, CSV, row exports and a cost chart, captured without a terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from alchemy.accounting._usage_cli import cost_chart
from alchemy.accounting.ledger import LedgerRow, SqliteLedger, UsageSummary
from alchemy.cli import main

DAY_MS = 86_400_000
NOW_MS = int(time.time() * 1000)


def row(days_ago: float, **changes: Any) -> LedgerRow:
    values: dict[str, Any] = dict(
        time=NOW_MS - int(days_ago * DAY_MS), provider="groq", model="llama", api="openai-completions",
        stop_reason="stop", input_tokens=1000, output_tokens=200, total_tokens=1200, cost=0.25,
        time_to_first_token=0.4,
    )  # fmt: skip
    values.update(changes)
    return LedgerRow(**values)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "usage.sqlite3"
    with SqliteLedger(path) as ledger:
        ledger.record_many(
            [
                row(0.1, tags={"user": "u1"}),
                row(0.2, model="claude", provider="anthropic", cost=1.5, time_to_first_token=0.8, tags={"user": "u2"}),
                row(1.5, model="claude", provider="anthropic", cost=None, stop_reason="error", error_kind="rate_limit",
                    time_to_first_token=None),
                row(2.5, stop_reason="error", error_kind="timeout", cost=0.0, time_to_first_token=None),
                row(30, cost=100.0),  # outside the default 7 days
            ]
        )  # fmt: skip
    return path


def usage(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["usage", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_table_sums_the_last_seven_days_by_model(ledger_path: Path) -> None:
    code, out, err = usage("--ledger", str(ledger_path))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["model", "calls", "input", "output", "cache", "r", "cache", "w", "cost", "$", "errors",
                                "ttft", "p50", "ttft", "p95"]  # fmt: skip
    claude, llama, total = lines[1].split(), lines[2].split(), lines[3].split()
    assert claude[:4] == ["claude", "2", "2,000", "400"] and "1.5000" in lines[1] and "(+1 unpriced)" in lines[1]
    assert "rate_limit 1" in lines[1] and claude[-2:] == ["0.80s", "0.80s"]
    assert llama[:2] == ["llama", "2"] and "timeout 1" in lines[2] and "0.2500" in lines[2]
    assert total[:4] == ["total", "4", "4,000", "800"] and "1.7500" in lines[3]
    assert "cost per day" not in out  # not a terminal


@pytest.mark.parametrize(
    ("by", "keys"),
    [
        ("provider", ["anthropic", "groq"]),
        ("tag:user", ["u2", "u1", "(none)"]),
    ],
)
def test_by_groups_the_table(ledger_path: Path, by: str, keys: list[str]) -> None:
    code, out, _ = usage("--ledger", str(ledger_path), "--by", by)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:-1]] == keys


def test_by_day_and_a_longer_range(ledger_path: Path) -> None:
    code, out, _ = usage("--ledger", str(ledger_path), "--by", "day", "--since", "60d")
    days = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert code == 0 and days == sorted(days) and len(days) >= 4
    assert out.splitlines()[-1].split()[:2] == ["total", "5"]


def test_json_gives_the_groups(ledger_path: Path) -> None:
    code, out, _ = usage("--ledger", str(ledger_path), "--json")
    groups = json.loads(out)
    assert code == 0 and [g["key"] for g in groups] == ["claude", "llama"]
    assert groups[0]["errors"] == {"rate_limit": 1} and groups[0]["unpriced_calls"] == 1
    assert set(groups[0]) == set(UsageSummary.__dataclass_fields__)


def test_csv_gives_the_groups(ledger_path: Path) -> None:
    code, out, _ = usage("--ledger", str(ledger_path), "--csv", "--by", "provider")
    records = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["provider"] for r in records] == ["anthropic", "groq"]
    assert records[1]["calls"] == "2" and json.loads(records[1]["errors"]) == {"timeout": 1}


@pytest.mark.parametrize("shape", ["csv", "jsonl"])
def test_export_prints_the_rows(ledger_path: Path, shape: str) -> None:
    code, out, _ = usage("--ledger", str(ledger_path), "--export", shape, "--since", "365d")
    lines = out.splitlines()
    assert code == 0 and len(lines) == (6 if shape == "csv" else 5)


def test_the_chart_shows_a_bar_per_day(ledger_path: Path) -> None:
    code, out, _ = usage("--ledger", str(ledger_path), "--chart", "--since", "3d")
    chart = out.split("cost per day (UTC)\n", 1)[1].splitlines()
    assert code == 0 and len(chart) in (3, 4)  # from the first day with calls to today
    assert max(line.count("#") + line.count("█") for line in chart) == 40


def test_cost_chart_scales_to_the_dearest_day_and_shows_gaps() -> None:
    def day(key: str, cost: float) -> UsageSummary:
        return UsageSummary(key, 1, 0, 0, 0, 0, 0, cost, 0, {}, None, None)

    since = 1_767_225_600_000  # 2026-01-01
    chart = cost_chart([day("2026-01-01", 2.0), day("2026-01-03", 1.0)], since, since + 3 * DAY_MS, unicode=False)
    assert chart.splitlines()[1:] == [
        "2026-01-01  " + "#" * 40 + "  $2.0000",
        "2026-01-02  " + " " * 40 + "  $0.0000",
        "2026-01-03  " + "#" * 20 + " " * 20 + "  $1.0000",
    ]


def test_the_ledger_comes_from_alchemy_ledger(ledger_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMY_LEDGER", str(ledger_path))
    code, out, _ = usage("--json")
    assert code == 0 and len(json.loads(out)) == 2


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--since", "yesterday"], "since must be a duration"),
        (["--by", "user"], "by must be one of model, provider, day, tag:NAME"),
    ],
)
def test_bad_arguments_are_usage_errors(ledger_path: Path, argv: list[str], said: str) -> None:
    code, out, err = usage("--ledger", str(ledger_path), *argv)
    assert (code, out) == (2, "") and said in err


def test_a_missing_ledger_is_a_usage_error_and_is_not_created(tmp_path: Path) -> None:
    code, _, err = usage("--ledger", str(tmp_path / "none.sqlite3"))
    assert code == 2 and "no usage ledger at" in err and "ALCHEMY_LEDGER" in err
    assert not (tmp_path / "none.sqlite3").exists()


def test_the_command_runs_as_a_process(ledger_path: Path) -> None:
    env = {**os.environ, "ALCHEMY_LEDGER": str(ledger_path), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "alchemy", "usage", "--json", "--by", "provider"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [g["key"] for g in json.loads(done.stdout)] == ["anthropic", "groq"]
