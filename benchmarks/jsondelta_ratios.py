"""Prints the JSON delta merger benchmark tables (markdown) from a pytest-benchmark JSON file.

    .venv/bin/python -m pytest benchmarks/test_bench_jsondelta.py --benchmark-json=jsondelta.json
    .venv/bin/python benchmarks/jsondelta_ratios.py jsondelta.json

Times are the minimum of each benchmark's rounds; every ratio compares two
measurements of the same run on the same fragments.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

COLUMNS = {
    "test_feed_all_read_once[cython": "cython",
    "test_feed_all_read_once[python": "python",
    "test_orjson_loads_whole_document": "orjson.loads once",
    "test_read_after_every_fragment[cython": "cython",
    "test_read_after_every_fragment[python": "python",
    "test_jiter_reparse_per_fragment": "jiter re-parse",
    "test_partial_json_parser_reparse_per_fragment": "partial-json-parser re-parse",
}
SIZES = ("1KB", "10KB", "100KB")
_GROUP = re.compile(r"^jsondelta \((a|b)\) [^:]+: (\S+)$")


def _column(name: str) -> str | None:
    for prefix, column in COLUMNS.items():
        if name.startswith(prefix):
            return column
    return None


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None:
        return "—"
    return f"{numerator / denominator:.2f}x"


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 0.1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def main(path: str) -> None:
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    times: dict[tuple[str, str], dict[str, float]] = {}  # (workload, size) -> column -> min seconds
    characters: dict[str, int] = {}
    for bench in report["benchmarks"]:
        match = _GROUP.match(bench.get("group") or "")
        column = _column(bench["name"])
        if match is None or column is None:
            continue
        workload, size = match.groups()
        times.setdefault((workload, size), {})[column] = bench["stats"]["min"]
        characters[size] = bench["extra_info"]["characters"]

    print("(a) feed every fragment, read `value` once (minimum per document):\n")
    print("| size | cython | python | orjson.loads once | cython / orjson |")
    print("|---|---|---|---|---|")
    for size in SIZES:
        row = times.get(("a", size), {})
        cython, python, orjson = row.get("cython"), row.get("python"), row.get("orjson.loads once")
        print(f"| {size} | {_time(cython)} | {_time(python)} | {_time(orjson)} | {_ratio(cython, orjson)} |")

    print("\n(b) read `value` after every fragment (minimum per document):\n")
    print("| size | cython | python | jiter re-parse | partial-json-parser re-parse | jiter / cython | jiter / python |")
    print("|---|---|---|---|---|---|---|")
    for size in SIZES:
        row = times.get(("b", size), {})
        cython, python, jiter = row.get("cython"), row.get("python"), row.get("jiter re-parse")
        print(
            f"| {size} | {_time(cython)} | {_time(python)} | {_time(jiter)} "
            f"| {_time(row.get('partial-json-parser re-parse'))} | {_ratio(jiter, cython)} | {_ratio(jiter, python)} |"
        )

    print("\nGrowth from 10 KB to 100 KB (time ~ size^k; 1 is linear):\n")
    print("| workload | cython k | python k |")
    print("|---|---|---|")
    if "10KB" in characters and "100KB" in characters:
        scale = math.log(characters["100KB"] / characters["10KB"])
        for workload in ("a", "b"):
            small, large = times.get((workload, "10KB"), {}), times.get((workload, "100KB"), {})
            exponents = []
            for twin in ("cython", "python"):
                if twin in small and twin in large:
                    exponents.append(f"{math.log(large[twin] / small[twin]) / scale:.2f}")
                else:
                    exponents.append("—")
            print(f"| ({workload}) | {exponents[0]} | {exponents[1]} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
