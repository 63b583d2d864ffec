"""JSON delta merger benchmarks: streamed tool-call arguments of about 1 KB, 10 KB and 100 KB.

Each document is a write-file style argument object (a path, a long ``content``
string with escapes, newlines and multi-byte text, nested option objects and
lists), serialized the way models send it (raw unicode) and split deterministically
into fragments of 3-20 characters. Two workloads:

* (a) feed every fragment, read ``value`` once at the end; the yardstick is one
  ``orjson.loads`` of the whole document;
* (b) read ``value`` after every fragment, as a UI showing the call does; the
  peers re-parse the whole buffer per fragment (jiter's partial mode, as
  openai-python and anthropic-sdk-python do, and ``partial-json-parser``).

Run (the second line prints the ratio table of benchmarks/README.md)::

    .venv/bin/python -m pytest benchmarks/test_bench_jsondelta.py --benchmark-json=jsondelta.json
    .venv/bin/python benchmarks/jsondelta_ratios.py jsondelta.json
"""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

SIZES = {"1KB": 1_000, "10KB": 10_000, "100KB": 100_000}

_WORDS = (
    "return", "self", "value", "config", "path", "stream", "token", "delta", "merge", "json",
    "café", "naïve", "Zürich", "façade", "日本語", "テキスト", "中文", "한국어", "Привет", "λέξη",
    "→", "—", "…", "€", "🚀", "✨",
)
_LINE_SHAPES = (
    '{indent}{a} = "{b} {c}"',
    "{indent}if {a} and not {b}:",
    "{indent}# {a} {b} {c} {d}",
    "{indent}return {a}({b}, '{c}')",
    "{indent}print(f\"{a}: {{{b}}}\\t{c}\")",
    '{indent}pattern = r"\\d+\\s*{a}"',
    "",
)


def _content(rng: random.Random, length: int) -> str:
    """Source-like text: quotes, backslashes, tabs, newlines and multi-byte words."""
    lines: list[str] = []
    size = 0
    while size < length:
        shape = rng.choice(_LINE_SHAPES)
        words = rng.choices(_WORDS, k=4)
        line = shape.format(indent="    " * rng.randint(0, 3), a=words[0], b=words[1], c=words[2], d=words[3])
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def tool_arguments(size: int, seed: int = 3) -> str:
    """A write-file argument document of about ``size`` characters (JSON text)."""
    rng = random.Random(seed)
    edits = [
        {
            "line": rng.randint(1, 5000),
            "column": rng.randint(0, 120),
            "replace": " ".join(rng.choices(_WORDS, k=3)),
            "tags": rng.sample(["refactor", "fix", "docs", "perf", "style"], k=2),
            "weight": round(rng.random() * 10, 3),
            "confirmed": rng.random() < 0.5,
        }
        for _ in range(max(1, size // 1000))
    ]
    document: dict[str, Any] = {
        "path": "src/alchemy/providers/generated_module.py",
        "content": "",
        "options": {
            "overwrite": True,
            "create_directories": True,
            "encoding": "utf-8",
            "mode": 420,
            "line_ending": "\n",
            "backup": None,
            "formatting": {"indent": 4, "max_line_length": 120, "quote_style": "double", "rules": ["E501", "W291"]},
        },
        "edits": edits,
    }
    overhead = len(json.dumps(document, ensure_ascii=False))
    document["content"] = _content(rng, max(100, int((size - overhead) * 0.93)))
    return json.dumps(document, ensure_ascii=False)


def fragments_of(text: str, seed: int = 11) -> list[str]:
    """``text`` cut into fragments of 3-20 characters (the same cut on every run)."""
    rng = random.Random(seed)
    pieces = []
    index = 0
    while index < len(text):
        step = rng.randint(3, 20)
        pieces.append(text[index : index + step])
        index += step
    return pieces


_DOCUMENTS = {label: tool_arguments(size) for label, size in SIZES.items()}
_FRAGMENTS = {label: fragments_of(text) for label, text in _DOCUMENTS.items()}


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    label: str = request.param
    return label


def _check(value: Any, label: str) -> None:
    assert value == json.loads(_DOCUMENTS[label])


def _describe(benchmark: Any, group: str, label: str) -> None:
    """Groups by workload and size; records the size for benchmarks/jsondelta_ratios.py."""
    benchmark.group = f"jsondelta {group}: {label}"
    benchmark.extra_info["characters"] = len(_DOCUMENTS[label])
    benchmark.extra_info["fragments"] = len(_FRAGMENTS[label])


# --- (a) feed every fragment, read the value once -------------------------------------------


def test_feed_all_read_once(benchmark: Any, json_delta_merger_cls: Any, size: str) -> None:
    _describe(benchmark, "(a) feed all, read once", size)
    fragments = _FRAGMENTS[size]

    def run() -> Any:
        merger = json_delta_merger_cls()
        feed = merger.feed
        for fragment in fragments:
            feed(fragment)
        return merger.value

    _check(benchmark(run), size)


def test_orjson_loads_whole_document(benchmark: Any, size: str) -> None:
    _describe(benchmark, "(a) feed all, read once", size)
    document = _DOCUMENTS[size]
    _check(benchmark(orjson.loads, document), size)


# --- (b) read the value after every fragment ------------------------------------------------


def test_read_after_every_fragment(benchmark: Any, json_delta_merger_cls: Any, size: str) -> None:
    _describe(benchmark, "(b) read after every fragment", size)
    fragments = _FRAGMENTS[size]

    def run() -> Any:
        merger = json_delta_merger_cls()
        feed = merger.feed
        for fragment in fragments:
            feed(fragment)
            merger.value  # noqa: B018
        return merger.value

    _check(benchmark(run), size)


def _rounds(label: str) -> int:
    return 3 if label == "100KB" else 10


def test_jiter_reparse_per_fragment(benchmark: Any, size: str) -> None:
    """What openai-python and anthropic-sdk-python do: grow a bytes buffer, re-parse it all."""
    jiter = pytest.importorskip("jiter")
    _describe(benchmark, "(b) read after every fragment", size)
    encoded = [fragment.encode() for fragment in _FRAGMENTS[size]]

    def run() -> Any:
        buffer = b""
        value = None
        for fragment in encoded:
            buffer += fragment
            value = jiter.from_json(buffer, partial_mode="trailing-strings")
        return value

    _check(benchmark.pedantic(run, rounds=_rounds(size), iterations=1, warmup_rounds=0), size)


def test_partial_json_parser_reparse_per_fragment(benchmark: Any, size: str) -> None:
    """What pi-ai does with the npm ``partial-json`` package, via its Python port."""
    partial_json_parser = pytest.importorskip("partial_json_parser")
    if size == "100KB":
        pytest.skip("partial-json-parser re-parsing takes about a minute per round at 100 KB (quadratic)")
    _describe(benchmark, "(b) read after every fragment", size)
    fragments = _FRAGMENTS[size]

    def run() -> Any:
        buffer = ""
        value = None
        for fragment in fragments:
            buffer += fragment
            value = partial_json_parser.loads(buffer)
        return value

    _check(benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0), size)
