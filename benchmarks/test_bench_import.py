"""Import time and registry load: ``import alchemy`` next to httpx and openai, and the first lookup.

Targets (issue 5): ``python -c "import alchemy"`` at most 1.5x ``import httpx`` and at
most 1/5 of ``import openai``; the first ``get_model()`` (loading the bundled registry)
adds at most 50 ms; later lookups are dictionary lookups.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_import.py --benchmark-only -s``
or ``.venv/bin/python benchmarks/test_bench_import.py`` for the ratio table alone.
Every figure is a median over fresh interpreters run interleaved in one session, so
the ratios compare like with like on a noisy machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import pytest

ROUNDS = 15
FIRST_LOOKUP = """
import time
t0 = time.perf_counter()
import alchemy
t1 = time.perf_counter()
alchemy.get_model("anthropic/claude-sonnet-4-5")
t2 = time.perf_counter()
alchemy.get_model("openai", "gpt-5")
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["ALCHEMY_CACHE_DIR"] = os.path.join(tempfile.gettempdir(), "alchemy-bench-no-cache")  # bundled data only
    return env


def _wall(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _available(module: str) -> bool:
    try:
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        return False
    return True


def measure(rounds: int = ROUNDS) -> dict[str, float]:
    """Medians in seconds: interpreter start, each import, and the first lookup's parts."""
    env = _env()
    candidates = ["pass", "import alchemy", "import httpx", "import openai"]
    programs = [p for p in candidates if p == "pass" or _available(p.split()[1])]
    samples: dict[str, list[float]] = {p: [] for p in programs}
    lookups: list[tuple[float, float, float]] = []
    for program in programs:  # warm the OS file cache
        _wall(program, env)
    for _ in range(rounds):
        for program in programs:
            samples[program].append(_wall(program, env))
        out = subprocess.run([sys.executable, "-c", FIRST_LOOKUP], check=True, env=env, capture_output=True, text=True)
        first, second, third = (float(x) for x in out.stdout.split())
        lookups.append((first, second, third))
    result = {program: statistics.median(values) for program, values in samples.items()}
    result["alchemy import (in process)"] = statistics.median(x[0] for x in lookups)
    result["first get_model"] = statistics.median(x[1] for x in lookups)
    result["second get_model"] = statistics.median(x[2] for x in lookups)
    return result


def report(result: dict[str, float]) -> str:
    lines = [f"{name:32s} {seconds * 1000:8.1f} ms" for name, seconds in result.items()]
    alchemy_s, httpx_s = result["import alchemy"], result["import httpx"]
    lines.append(f"{'alchemy / httpx':32s} {alchemy_s / httpx_s:8.2f} x   (target <= 1.5)")
    if "import openai" in result:
        lines.append(f"{'alchemy / openai':32s} {alchemy_s / result['import openai']:8.2f} x   (target <= 0.2)")
    lines.append(f"{'first get_model':32s} {result['first get_model'] * 1000:8.1f} ms  (target <= 50)")
    return "\n".join(lines)


@pytest.mark.benchmark(group="import")
def test_import_ratios(benchmark: Any) -> None:
    """One session, interleaved fresh interpreters; the ratios land in extra_info."""
    result = benchmark.pedantic(measure, kwargs={"rounds": ROUNDS}, rounds=1, iterations=1)
    benchmark.extra_info.update({name: round(seconds * 1000, 2) for name, seconds in result.items()})
    benchmark.extra_info["alchemy/httpx"] = round(result["import alchemy"] / result["import httpx"], 3)
    if "import openai" in result:
        benchmark.extra_info["alchemy/openai"] = round(result["import alchemy"] / result["import openai"], 3)
    print("\n" + report(result))


@pytest.mark.benchmark(group="registry")
def test_warm_lookup(benchmark: Any) -> None:
    from alchemy.models import get_model

    get_model("anthropic/claude-sonnet-4-5")
    model = benchmark(get_model, "anthropic/claude-sonnet-4-5")
    assert model.provider == "anthropic"


@pytest.mark.benchmark(group="registry")
def test_registry_load(benchmark: Any) -> None:
    """Loading and indexing the bundled data (what the first lookup pays), in process."""
    from alchemy.models import _registry

    def load() -> int:
        return _registry._load(_registry.bundled_path(), "bundled").model_count

    assert benchmark(load) > 4000


if __name__ == "__main__":
    print(report(measure()))
