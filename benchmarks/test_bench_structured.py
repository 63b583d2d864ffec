"""Structured output: what streaming a 100 KB object costs, and what reading ``partial.parsed`` costs.

Workload: the 100 KB write-file document of ``test_bench_jsondelta.py`` (a long string
with escapes and multi-byte text, nested objects and lists), cut into the same 3-20
character fragments (8,764 of them).

(a) End to end, Chat Completions served by a replay process, one ``delta.content``
chunk per fragment. Clients, each reading the whole stream once per round:

* ``floor``: httpx streaming the body and ``orjson.loads`` of every ``data:`` line;
* ``plain text``: ``alchemy.stream(model, context)`` iterated to the end;
* ``structured``: the same bytes with ``response_format`` (an OpenAI ``json_schema``
  of the document, not strict): every delta also feeds the JSON delta merger, and the
  end parses and validates the object against the schema;
* ``structured, parsed read per event``: as above, reading ``event.partial.parsed``
  after every event, as a UI showing the object does.

Target: ``structured`` at most 1.3x ``plain text``.

(b) In process, no network: the emitter fed the fragments as text deltas with
structured output on, reading ``message.parsed`` after every fragment, against a bare
``JsonDeltaMerger`` fed the same fragments and read after every one (the
``test_bench_jsondelta.py`` (b) figure). Both twins. Target: within 2x.

Run::

    .venv/bin/python -m pytest benchmarks/test_bench_structured.py --benchmark-columns=min,median,rounds
    .venv/bin/python benchmarks/test_bench_structured.py     # interleaved rounds, the ratio tables alone
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

try:
    from .streams import Runner, Served, floor_sse_sync, measure, report, serve_workload, time_client
    from .test_bench_jsondelta import fragments_of, tool_arguments
except ImportError:  # run as a script
    sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
    from streams import Runner, Served, floor_sse_sync, measure, report, serve_workload, time_client  # type: ignore[no-redef]
    from test_bench_jsondelta import fragments_of, tool_arguments  # type: ignore[no-redef]

import alchemy
from alchemy.emitter import EventEmitter, new_partial
from alchemy.structured import OutputPlan, check_response_format
from alchemy.types import Context, Model, UserMessage

ROUNDS = 9
KEY = "structured-bench-key-0123456789"
MODEL = Model(id="gpt-4.1", name="gpt-4.1", api="openai-completions", provider="openai", base_url="http://127.0.0.1:9")
CONTEXT = Context(messages=[UserMessage("Write the file.")])
DOCUMENT = tool_arguments(100_000)
FRAGMENTS = fragments_of(DOCUMENT)
VALUE = orjson.loads(DOCUMENT)

_EDIT = {
    "type": "object",
    "properties": {
        "line": {"type": "integer"}, "column": {"type": "integer"}, "replace": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}}, "weight": {"type": "number"},
        "confirmed": {"type": "boolean"},
    },
    "required": ["line", "column", "replace", "tags", "weight", "confirmed"],
}
SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "content": {"type": "string"},
        "options": {"type": "object", "properties": {"overwrite": {"type": "boolean"}, "mode": {"type": "integer"}}},
        "edits": {"type": "array", "items": _EDIT},
    },
    "required": ["path", "content", "options", "edits"],
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "write_file", "schema": SCHEMA}}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1767225600, "model": MODEL.id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def payloads() -> list[dict[str, Any]]:
    out = [_chunk({"role": "assistant", "content": ""})]
    out += [_chunk({"content": fragment}) for fragment in FRAGMENTS]
    out.append(_chunk({}, "stop"))
    out.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1767225600, "model": MODEL.id,
                "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 30000, "total_tokens": 30020}})
    return out


# --------------------------------------------------------------------------- (a) end to end


def run_floor(served: Served) -> int:
    body = {"model": MODEL.id, "messages": [{"role": "user", "content": "Write the file."}], "stream": True}
    return floor_sse_sync(served.client, served.url, body, {"Authorization": f"Bearer {KEY}"})


def run_plain(served: Served) -> int:
    count = 0
    with alchemy.stream(served.model, CONTEXT, api_key=KEY) as events:
        for _ in events:
            count += 1
    assert events.result().text == DOCUMENT
    return count


def run_structured(served: Served, *, read_each: bool = False) -> int:
    count = 0
    with alchemy.stream(served.model, CONTEXT, api_key=KEY, response_format=RESPONSE_FORMAT) as events:
        if read_each:
            for event in events:
                event.partial.parsed  # noqa: B018
                count += 1
        else:
            for _ in events:
                count += 1
        message = events.result()
    assert message.parsed == VALUE, message.error_message
    return count


def serve() -> contextlib.AbstractContextManager[Served]:
    return serve_workload("100 KB object", payloads(), api="openai-completions", model=MODEL,
                          endpoint="/chat/completions", base_path="/v1")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as served:
        yield served


def _group(benchmark: Any, served: Served) -> None:
    benchmark.group = f"structured (a) 100 KB object, Chat Completions ({served.events} chunks)"
    benchmark.extra_info["events"] = served.events


def test_floor(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_floor, rounds=ROUNDS) == served.events


def test_plain_text(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_plain, rounds=ROUNDS) >= len(FRAGMENTS)


def test_structured(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_structured, rounds=ROUNDS) >= len(FRAGMENTS)


def test_structured_reading_parsed_per_event(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    run = functools.partial(run_structured, read_each=True)
    assert time_client(benchmark, served, run, rounds=ROUNDS) >= len(FRAGMENTS)


def clients(served: Served) -> dict[str, Runner]:
    return {
        "floor": functools.partial(run_floor, served),
        "plain text": functools.partial(run_plain, served),
        "structured": functools.partial(run_structured, served),
        "structured, parsed read per event": functools.partial(run_structured, served, read_each=True),
    }


# --------------------------------------------------------------------------- (b) in process

_PLAN = OutputPlan(check_response_format("response_format", {"type": "json_object"}), "native", "openai", None)


def read_merger_after_every_fragment(merger_cls: Any) -> Any:
    merger = merger_cls()
    feed = merger.feed
    for fragment in FRAGMENTS:
        feed(fragment)
        merger.value  # noqa: B018
    return merger.value


def read_parsed_after_every_fragment(merger_cls: Any) -> Any:
    message = new_partial(MODEL)
    emitter = EventEmitter(message, output=_PLAN, merger_factory=merger_cls)
    text_delta = emitter.text_delta
    buffer = emitter.buffer
    for fragment in FRAGMENTS:
        text_delta(fragment)
        message.parsed  # noqa: B018
        buffer.clear()  # a consumer takes every event
    emitter.done()
    return message.parsed


def test_merger_read_after_every_fragment(benchmark: Any, json_delta_merger_cls: Any) -> None:
    benchmark.group = "structured (b) read after every fragment, 100 KB"
    assert benchmark.pedantic(read_merger_after_every_fragment, (json_delta_merger_cls,), rounds=5) == VALUE


def test_parsed_read_after_every_fragment(benchmark: Any, json_delta_merger_cls: Any) -> None:
    benchmark.group = "structured (b) read after every fragment, 100 KB"
    assert benchmark.pedantic(read_parsed_after_every_fragment, (json_delta_merger_cls,), rounds=5) == VALUE


def _best(run: Callable[[Any], Any], merger_cls: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(merger_cls)
        times.append(time.perf_counter() - start)
    return min(times)


def in_process_table(rounds: int = 7) -> str:
    from alchemy._speedups import _jsondelta_c, _jsondelta_py

    lines = ["| twin | merger read per fragment | `partial.parsed` read per fragment | ratio |", "|---|---:|---:|---:|"]
    for twin, module in (("cython", _jsondelta_c), ("python", _jsondelta_py)):
        merger = _best(read_merger_after_every_fragment, module.JsonDeltaMerger, rounds)
        parsed = _best(read_parsed_after_every_fragment, module.JsonDeltaMerger, rounds)
        lines.append(f"| {twin} | {merger * 1e3:.2f} ms | {parsed * 1e3:.2f} ms | {parsed / merger:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    results = measure([serve()], clients, rounds=ROUNDS)
    print(report(results, cpu=True))
    timings = results["100 KB object"]
    print(f"\nstructured / plain text: {timings['structured'].wall / timings['plain text'].wall:.2f}x wall, "
          f"{timings['structured'].cpu / timings['plain text'].cpu:.2f}x client CPU\n")
    print(in_process_table())
