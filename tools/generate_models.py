#!/usr/bin/env python3
"""Generates alchemy's bundled model registry from a models.dev ``api.json``.

    python tools/generate_models.py ../shared/data/models.dev/api.json \\
        --source-date 2026-07-02 --source-note "models.dev commit f3fc692 (fix glm-5.1 price)"
    python tools/generate_models.py https://models.dev/api.json      # when online
    python tools/generate_models.py SOURCE --check                     # CI: is the committed data current?

Reads the overrides in ``alchemy/models/data/overrides.toml`` (so it needs Python
3.11+ for ``tomllib``, or the ``tomli`` package) and writes, next to it:

* ``models.json``: the registry data, compact, deterministic (same input, same bytes);
* ``rules.json``: the overrides compiled to JSON, which ``refresh_models`` applies to
  live data at runtime (the runtime never parses TOML).

Prints a report: counts per provider and wire API, providers and models left out
and why, flagged models.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from alchemy.models._convert import ConversionReport, convert, validate_rules  # noqa: E402
from alchemy.models._registry import pack  # noqa: E402

DATA_DIR = ROOT / "alchemy" / "models" / "data"
DEFAULT_SOURCE = "https://models.dev/api.json"


def load_toml(path: Path) -> dict[str, Any]:
    """Parses the overrides with tomllib (Python 3.11+) or the tomli backport."""
    import importlib

    for name in ("tomllib", "tomli"):
        try:
            parser = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        with path.open("rb") as handle:
            parsed: dict[str, Any] = parser.load(handle)
        return parsed
    sys.exit("generate_models.py needs Python 3.11+ (tomllib) or `pip install tomli` to read overrides.toml")


def read_source(source: str) -> tuple[bytes, dict[str, Any], dt.date]:
    """The raw bytes, their provenance, and the default date of the data."""
    if source.startswith(("http://", "https://")):
        import httpx

        response = httpx.get(source, timeout=60.0, follow_redirects=True)
        response.raise_for_status()
        return response.content, {"url": source}, dt.datetime.now(dt.timezone.utc).date()
    path = Path(source)
    raw = path.read_bytes()
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).date()
    return raw, {"url": DEFAULT_SOURCE, "file": path.name}, mtime


def build(
    source: str, overrides: Path, source_date: str | None, note: str | None
) -> tuple[bytes, bytes, ConversionReport]:
    raw, provenance, default_date = read_source(source)
    rules = load_toml(overrides)
    validate_rules(rules)
    meta: dict[str, Any] = {
        "name": "models.dev",
        **provenance,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "date": source_date or default_date.isoformat(),
        "licence": "MIT, (c) models.dev contributors",
    }
    if note:
        meta["note"] = note
    data, report = convert(orjson.loads(raw), rules, meta)
    models_json = pack(data)
    rules_json = orjson.dumps(rules, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    return models_json, rules_json, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", default=DEFAULT_SOURCE, help="api.json path or URL")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (default: the package data)")
    parser.add_argument("--overrides", type=Path, default=DATA_DIR / "overrides.toml")
    parser.add_argument("--source-date", help="date of the data, YYYY-MM-DD (default: file mtime, or today for a URL)")
    parser.add_argument("--source-note", help="free text kept with the source, e.g. the models.dev commit")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    parser.add_argument("--quiet", action="store_true", help="do not print the report")
    args = parser.parse_args(argv)
    if args.source_date:
        dt.date.fromisoformat(args.source_date)

    models_json, rules_json, report = build(args.source, args.overrides, args.source_date, args.source_note)
    if not args.quiet:
        print(report.summary())
    targets = {args.out / "models.json": models_json, args.out / "rules.json": rules_json}
    if args.check:
        stale = [p.name for p, content in targets.items() if not p.is_file() or p.read_bytes() != content]
        if stale:
            print(f"out of date: {', '.join(stale)} (regenerate with tools/generate_models.py)", file=sys.stderr)
            return 1
        print("registry data is current")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path, content in targets.items():
        path.write_bytes(content)
        print(f"wrote {path} ({len(content):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
