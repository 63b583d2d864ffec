"""Prints the SSE benchmark table (markdown) from a pytest-benchmark JSON file.

    .venv/bin/python -m pytest benchmarks/test_bench_sse.py --benchmark-json=sse.json
    .venv/bin/python benchmarks/sse_ratios.py sse.json

Times are the minimum of each benchmark's rounds; every ratio compares two
decoders measured in the same run on the same bytes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

COLUMNS = {
    "test_alchemy[cython": "alchemy cython",
    "test_alchemy[python": "alchemy python",
    "test_alchemy_raw[cython": "cython feed_raw",
    "test_alchemy_raw[python": "python feed_raw",
    "test_openai_python": "openai-python",
    "test_httpx_sse": "httpx-sse",
    "test_httpx2_sse": "httpx2",
    "test_floor_bytes_split": "bytes.split",
}


def _column(name: str) -> str | None:
    for prefix, column in COLUMNS.items():
        if name.startswith(prefix):
            return column
    return None


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None:
        return "—"
    return f"{numerator / denominator:.2f}x"


def main(path: str) -> None:
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    groups: dict[str, dict[str, float]] = {}
    for bench in report["benchmarks"]:
        group = bench.get("group") or ""
        column = _column(bench["name"])
        if group.startswith("sse ") and column:
            groups.setdefault(group, {})[column] = bench["stats"]["min"] * 1000
    names = list(COLUMNS.values())
    print("Minimum time per stream, ms:\n")
    print("| workload | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for group, times in sorted(groups.items()):
        workload = re.sub(r"^sse ", "", group)
        print(f"| {workload} | " + " | ".join(f"{times[n]:.2f}" if n in times else "—" for n in names) + " |")
    print("\nRatios (targets: openai-python / cython >= 4, cython / bytes.split <= 2.5, openai-python / python >= 1):\n")
    print("| workload | openai-python / cython | cython / bytes.split | openai-python / python | httpx-sse / python |")
    print("|---|---|---|---|---|")
    for group, times in sorted(groups.items()):
        workload = re.sub(r"^sse (\S+).*", r"\1", group)
        cython, python = times.get("alchemy cython"), times.get("alchemy python")
        openai, split = times.get("openai-python"), times.get("bytes.split")
        print(
            f"| {workload} | {_ratio(openai, cython)} | {_ratio(cython, split)} | {_ratio(openai, python)} "
            f"| {_ratio(times.get('httpx-sse'), python)} |"
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
