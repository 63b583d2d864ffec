"""``alchemy usage``: the ledger summed over a time range, as a table, JSON or CSV, with a cost chart.

The ledger read is ``--ledger PATH``, else ``ALCHEMY_LEDGER``, else the default path
(:func:`~alchemy.accounting.ledger.default_ledger_path`); it is never created here.
The table has one line per ``--by`` group (model by default) and a total line: calls,
tokens, cost, errors by kind and the p50 / p95 time to first token. Under it, on a
terminal (or with ``--chart``), a bar per UTC day of the range shows its cost.
``--json`` / ``--csv`` print the same groups for machines; ``--export csv|jsonl``
prints the rows themselves.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .ledger import UsageSummary

__all__ = ["add_usage_parser", "cost_chart", "run_usage", "summary_table"]

COLUMNS: Final = ("calls", "input", "output", "cache r", "cache w", "cost $", "errors", "ttft p50", "ttft p95")
CHART_WIDTH: Final = 40
_MS_PER_DAY: Final = 86_400_000


def add_usage_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = commands.add_parser(
        "usage",
        help="sum the usage ledger: tokens, cost, calls, errors, time to first token",
        description="Reads the ledger a Client records into (Client(ledger=...) or ALCHEMY_LEDGER).",
    )
    usage.add_argument("--since", default="7d", help="7d, 12h, 30m, 2w or an ISO date, UTC (default 7d)")
    usage.add_argument("--until", default=None, help="the end of the range, same forms (default now)")
    usage.add_argument(
        "--by", default="model", metavar="model|provider|day|tag:NAME", help="group the rows by this (default model)"
    )
    usage.add_argument("--ledger", default=None, help="the SQLite file (default ALCHEMY_LEDGER, else the default path)")
    shape = usage.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="the groups as a JSON array")
    shape.add_argument("--csv", action="store_true", help="the groups as CSV")
    shape.add_argument("--export", choices=("csv", "jsonl"), default=None, help="every row of the range")
    usage.add_argument("--chart", action=argparse.BooleanOptionalAction, default=None, help="cost per day bars")


def _ledger_path(given: str | None) -> Path:
    from ..config import LEDGER
    from .ledger import default_ledger_path

    if given is not None:
        return Path(given).expanduser()
    return LEDGER.read() or default_ledger_path()


def run_usage(args: argparse.Namespace, out: TextIO) -> int:
    from ..cli import EXIT_OK, UsageError, _is_tty, _unicode, usage_errors
    from .ledger import SqliteLedger, parse_since

    path = _ledger_path(args.ledger)
    if not path.is_file():
        raise UsageError(f"no usage ledger at {path}: record one with Client(ledger=...) or ALCHEMY_LEDGER=path")
    now = time.time()
    with usage_errors():
        since = parse_since(args.since, now=now)
        until = None if args.until is None else parse_since(args.until, now=now)
        with SqliteLedger(path) as ledger:
            if args.export == "csv":
                ledger.export_csv(out, since, until)
                return EXIT_OK
            if args.export == "jsonl":
                ledger.export_jsonl(out, since, until)
                return EXIT_OK
            groups = ledger.breakdown(args.by, since, until)
            total = ledger.totals(since, until)
            days = ledger.breakdown("day", since, until)
    if args.json:
        out.write(json.dumps([group.to_dict() for group in groups], indent=2) + "\n")
        return EXIT_OK
    if args.csv:
        _write_csv(groups, args.by, out)
        return EXIT_OK
    out.write(summary_table(groups, total, args.by))
    chart = _is_tty(out) if args.chart is None else args.chart
    if chart and days:
        out.write("\n" + cost_chart(days, since, until or int(now * 1000), unicode=_unicode(out)))
    return EXIT_OK


def _errors_text(summary: UsageSummary) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(summary.errors.items())) or "-"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _cost(summary: UsageSummary) -> str:
    text = f"{summary.cost:.4f}"
    return f"{text} (+{summary.unpriced_calls} unpriced)" if summary.unpriced_calls else text


def _cells(summary: UsageSummary) -> tuple[str, ...]:
    return (
        f"{summary.calls:,}",
        f"{summary.input_tokens:,}",
        f"{summary.output_tokens:,}",
        f"{summary.cache_read_tokens:,}",
        f"{summary.cache_write_tokens:,}",
        _cost(summary),
        _errors_text(summary),
        _seconds(summary.ttft_p50),
        _seconds(summary.ttft_p95),
    )


def summary_table(groups: Sequence[UsageSummary], total: UsageSummary, by: str) -> str:
    """The groups, then a total line; numbers right-aligned."""
    header = (by.split(":", 1)[-1] if by.startswith("tag:") else by, *COLUMNS)
    rows = [header, *((group.key, *_cells(group)) for group in groups), ("total", *_cells(total))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.ljust(widths[i]) if COLUMNS[i - 1] == "errors" else cell.rjust(widths[i]) for i, cell in enumerate(row) if i]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def cost_chart(days: Sequence[UsageSummary], since: int, until: int, *, unicode: bool) -> str:
    """One bar per UTC day from ``since`` (or the first day with calls) to ``until``, scaled to the dearest day.

    Days without calls get an empty bar, so gaps show.
    """
    cost_by_day = {day.key: day.cost for day in days}
    first_recorded = min((_day_number(day.key) for day in days), default=since // _MS_PER_DAY)
    first, last = max(since // _MS_PER_DAY, first_recorded), (max(until, since + 1) - 1) // _MS_PER_DAY
    labels = [time.strftime("%Y-%m-%d", time.gmtime(day * 86_400)) for day in range(first, last + 1)]
    top = max(cost_by_day.values(), default=0.0)
    block = "█" if unicode else "#"
    lines = ["cost per day (UTC)"]
    for label in labels:
        cost = cost_by_day.get(label, 0.0)
        bar = block * (round(cost / top * CHART_WIDTH) if top > 0 else 0)
        lines.append(f"{label}  {bar.ljust(CHART_WIDTH)}  ${cost:.4f}")
    return "\n".join(lines) + "\n"


def _day_number(label: str) -> int:
    """``"2026-01-31"`` -> days since the epoch."""
    import calendar

    return calendar.timegm(time.strptime(label, "%Y-%m-%d")) // 86_400


def _write_csv(groups: Sequence[UsageSummary], by: str, out: TextIO) -> None:
    writer = csv.writer(out)
    sums = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens")
    writer.writerow((by, *sums, "cost", "unpriced_calls", "errors", "ttft_p50", "ttft_p95"))
    for group in groups:
        counts = [getattr(group, name) for name in sums]
        errors = json.dumps(dict(group.errors), sort_keys=True)
        ttft = ("" if value is None else value for value in (group.ttft_p50, group.ttft_p95))
        writer.writerow((group.key, *counts, group.cost, group.unpriced_calls, errors, *ttft))
