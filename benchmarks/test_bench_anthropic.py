"""Anthropic Messages streaming, per chunk: alchemy against the raw floor and anthropic-sdk-python.

Two workloads, each a recording served by a replay server in a separate process,
one write per event (as Anthropic flushes):

* ``text``: message_start, one text block of ``DELTAS`` text deltas (pings mixed in),
  message_delta, message_stop;
* ``tool``: a short text block, then one ``tool_use`` block whose arguments (a file
  write of about 40 KB) arrive as ``DELTAS`` ``input_json_delta`` fragments.

Clients, each reading the whole stream once per round:

* ``floor``: httpx streaming the body and ``orjson.loads`` of every ``data:`` line
  (``event:`` lines are skipped), nothing else (``benchmarks/streams.py``);
* ``alchemy``: ``alchemy.stream(model, context)`` iterated to the end (sync);
* ``sdk-raw``: ``client.messages.create(..., stream=True)`` iterated (raw events);
* ``sdk-helper``: ``client.messages.stream(...)`` iterated (the SDK's accumulating
  helper, which re-parses the partial tool JSON on every fragment).

Target: alchemy at most 1.5x the floor per chunk on both workloads. Run::

    .venv/bin/python -m pytest benchmarks/test_bench_anthropic.py --benchmark-columns=min,median,rounds
    .venv/bin/python benchmarks/test_bench_anthropic.py      # interleaved rounds, the ratio table alone
"""

from __future__ import annotations

import contextlib
import functools
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

try:
    from .streams import Runner, Served, floor_sse_sync, measure, optional_peer, report, serve_workload, time_client
except ImportError:  # run as a script
    sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
    from streams import (  # type: ignore[no-redef]
        Runner, Served, floor_sse_sync, measure, optional_peer, report, serve_workload, time_client
    )

import alchemy
from alchemy.models import get_model
from alchemy.types import Context, Tool, UserMessage

DELTAS = 2000
ROUNDS = 9
KEY = "sk-ant-" "bench-0123456789"  # fake, split so it never looks like a real key
MODEL = get_model("anthropic", "claude-sonnet-4-6")
WORDS = ("the", "model", "streams", "tokens", "café", "naïve", "日本語", "テキスト", "🚀", "Zürich", "→")
TOOL = Tool(
    "write_file",
    "Writes a file.",
    {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}},
)
CONTEXTS = {
    "text": Context("Be helpful.", [UserMessage("Tell me a long story.")]),
    "tool": Context("Be helpful.", [UserMessage("Write the module.")], tools=[TOOL]),
}


def _start(rng: random.Random) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "model": "claude-sonnet-4-6",
            "id": "msg_01" + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnop0123456789", k=22)),
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 1234,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 1024,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 1,
                "service_tier": "standard",
            },
        },
    }


def _end(reason: str) -> list[dict[str, Any]]:
    usage = {"input_tokens": 1234, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1024}
    delta = {"stop_reason": reason, "stop_sequence": None}
    return [
        {"type": "message_delta", "delta": delta, "usage": {**usage, "output_tokens": DELTAS}},
        {"type": "message_stop"},
    ]


def _text(rng: random.Random) -> str:
    return " " + " ".join(rng.choices(WORDS, k=rng.randint(1, 3))) + rng.choice(("", "", ",", ".", "\n"))


def text_payloads(seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = [_start(rng), {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
    for i in range(DELTAS):
        events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": _text(rng)}})
        if i % 200 == 0:
            events.append({"type": "ping"})
    events.append({"type": "content_block_stop", "index": 0})
    return events + _end("end_turn")


def tool_payloads(seed: int = 6) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    content = "".join(_text(rng) for _ in range(DELTAS * 2))
    arguments = orjson.dumps({"path": "src/module.py", "content": content}).decode()
    cuts = sorted(rng.sample(range(1, len(arguments)), DELTAS - 1))
    fragments = [arguments[a:b] for a, b in zip([0, *cuts], [*cuts, len(arguments)])]
    events = [_start(rng), {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
    events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Writing it."}})
    events.append({"type": "content_block_stop", "index": 0})
    events.append(
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_01Bench", "name": "write_file", "input": {}},
        }
    )
    for fragment in fragments:
        delta = {"type": "input_json_delta", "partial_json": fragment}
        events.append({"type": "content_block_delta", "index": 1, "delta": delta})
    events.append({"type": "content_block_stop", "index": 1})
    return events + _end("tool_use")


WORKLOADS: dict[str, Callable[[], list[dict[str, Any]]]] = {"text": text_payloads, "tool": tool_payloads}


def _request_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL.id,
        "max_tokens": 4096,
        "stream": True,
        "messages": [{"role": "user", "content": CONTEXTS[name].messages[0].content}],  # type: ignore[union-attr]
    }
    if name == "tool":
        body["tools"] = [{"name": TOOL.name, "description": TOOL.description, "input_schema": TOOL.parameters}]
    return body


# --------------------------------------------------------------------------- the clients


def run_floor(served: Served) -> int:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    return floor_sse_sync(served.client, served.url, _request_body(served.name), headers)


def run_alchemy(served: Served) -> int:
    count = 0
    with alchemy.stream(served.model, CONTEXTS[served.name], api_key=KEY, max_tokens=4096) as events:
        for _ in events:
            count += 1
    message = events.result()
    assert message.stop_reason in ("stop", "toolUse"), message.error_message
    return count


def _sdk(served: Served) -> Any:
    anthropic = pytest.importorskip("anthropic")
    return anthropic.Anthropic(api_key=KEY, base_url=served.base_url, max_retries=0)


def run_sdk_raw(served: Served, client: Any) -> int:
    body = _request_body(served.name)
    del body["stream"]
    count = 0
    for _ in client.messages.create(**body, stream=True):
        count += 1
    return count


def run_sdk_helper(served: Served, client: Any) -> int:
    body = _request_body(served.name)
    del body["stream"]
    count = 0
    with client.messages.stream(**body) as stream:
        for _ in stream:
            count += 1
    return count


# --------------------------------------------------------------------------- serving


def serve(name: str) -> contextlib.AbstractContextManager[Served]:
    """Serves workload ``name`` at the server's root (the SDK and alchemy add ``/v1``)."""
    return serve_workload(name, WORKLOADS[name](), api="anthropic-messages", model=MODEL, endpoint="/v1/messages")


@pytest.fixture(scope="module", params=sorted(WORKLOADS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param) as served:
        yield served


def _group(benchmark: Any, served: Served) -> None:
    benchmark.group = f"anthropic {served.name} stream ({served.events} events)"
    benchmark.extra_info["events"] = served.events


def test_floor(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_floor, rounds=ROUNDS) == served.events


def test_alchemy(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_alchemy, rounds=ROUNDS) > served.events // 2


def test_sdk_raw(benchmark: Any, served: Served) -> None:
    client = _sdk(served)
    _group(benchmark, served)
    pings = sum(payload["type"] == "ping" for payload in served.payloads)  # the SDK drops pings
    assert time_client(benchmark, served, run_sdk_raw, client, rounds=ROUNDS) == served.events - pings


def test_sdk_helper(benchmark: Any, served: Served) -> None:
    client = _sdk(served)
    _group(benchmark, served)
    rounds = ROUNDS if served.name == "text" else 3
    assert time_client(benchmark, served, run_sdk_helper, client, rounds=rounds) >= served.events // 2


# --------------------------------------------------------------------------- the ratio table


def clients(served: Served) -> dict[str, Runner]:
    """The floor, alchemy and, when anthropic is installed, its raw events and its helper."""
    runners: dict[str, Runner] = {
        "floor": functools.partial(run_floor, served),
        "alchemy": functools.partial(run_alchemy, served),
    }
    with optional_peer():
        client = _sdk(served)
        runners["sdk-raw"] = functools.partial(run_sdk_raw, served, client)
        runners["sdk-helper"] = functools.partial(run_sdk_helper, served, client)
    return runners


if __name__ == "__main__":
    print(report(measure((serve(name) for name in sorted(WORKLOADS)), clients, rounds=ROUNDS)))
