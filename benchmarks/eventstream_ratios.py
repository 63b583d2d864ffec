"""Prints the event-stream benchmark table (markdown) from a pytest-benchmark JSON file.

    .venv/bin/python -m pytest benchmarks/test_bench_eventstream.py --benchmark-json=eventstream.json
    .venv/bin/python benchmarks/eventstream_ratios.py eventstream.json

Times are the minimum of each benchmark's rounds; every ratio compares two decoders
measured in the same run on the same bytes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

COLUMNS = {"test_alchemy[cython": "cython", "test_alchemy[python": "python", "test_botocore": "botocore"}


def _column(name: str) -> str | None:
    return next((column for prefix, column in COLUMNS.items() if name.startswith(prefix)), None)


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None:
        return "—"
    return f"{numerator / denominator:.1f}x"


def main(path: str) -> None:
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    groups: dict[str, dict[str, float]] = {}
    for bench in report["benchmarks"]:
        group = bench.get("group") or ""
        column = _column(bench["name"])
        if group.startswith("eventstream ") and column:
            groups.setdefault(group, {})[column] = bench["stats"]["min"]
    print("| workload | cython | python | botocore | botocore / cython | botocore / python |")
    print("|---|---:|---:|---:|---:|---:|")
    for group, times in sorted(groups.items()):
        workload = re.sub(r"^eventstream ", "", group)
        cells = [f"{times[name] * 1000:.2f} ms" if name in times else "—" for name in ("cython", "python", "botocore")]
        botocore = times.get("botocore")
        print(
            f"| {workload} | " + " | ".join(cells)
            + f" | {_ratio(botocore, times.get('cython'))} | {_ratio(botocore, times.get('python'))} |"
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
