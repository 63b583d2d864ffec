"""OpenAI Chat Completions streaming, per chunk: alchemy against the raw floor, openai-python and LiteLLM.

Two workloads, each a recording served by a replay server in a separate process,
one write per chunk (as OpenAI flushes), ended by ``data: [DONE]``:

* ``text``: ``TEXT_CHUNKS`` chunks of one to three words each, a finish chunk and a
  usage chunk (the shape of OpenAI's own chunks: id, object, created, model,
  system_fingerprint, choices with index / delta / logprobs / finish_reason);
* ``tool``: ``TOOL_CHUNKS`` chunks carrying one tool call whose arguments (a file
  write of about 50 KB) arrive as fragments, then the finish and usage chunks.

Clients, each reading the whole stream once per round:

* ``floor``: httpx streaming the body and ``orjson.loads`` of every ``data:`` line,
  nothing else (``benchmarks/streams.py``);
* ``alchemy``: ``alchemy.stream(model, context)`` iterated to the end (sync);
* ``openai``: openai-python ``client.chat.completions.create(stream=True)`` iterated;
* ``litellm``: ``litellm.completion(..., stream=True)`` iterated, when installed.

Target: alchemy at most 1.5x the floor per chunk on both workloads. Run::

    .venv/bin/python -m pytest benchmarks/test_bench_openai_completions.py --benchmark-columns=min,median,rounds
    .venv/bin/python benchmarks/test_bench_openai_completions.py   # interleaved rounds, the ratio table alone
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
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
from alchemy.types import Context, Model, ModelCost, Tool, UserMessage

TEXT_CHUNKS = 10_000
TOOL_CHUNKS = 5_000
TOOL_BYTES = 50_000
ROUNDS = 7
KEY = "sk-" "bench-0123456789abcdef"  # fake, split so it never looks like a real key
MODEL_ID = "gpt-4.1-mini"
MODEL = Model(
    id=MODEL_ID,
    name="GPT-4.1 mini",
    api="openai-completions",
    provider="openai",
    base_url="https://api.openai.com/v1",
    input=("text", "image"),
    cost=ModelCost(input=0.4, output=1.6, cache_read=0.1),
)
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
_ID = "chatcmpl-BenchAbCdEfGhIjKlMnOpQrStUv"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": 1767000000,
        "model": "gpt-4.1-mini-2025-04-14",
        "service_tier": "default",
        "system_fingerprint": "fp_0123456789",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def _end(reason: str, completion: int) -> list[dict[str, Any]]:
    usage = {
        "prompt_tokens": 1234,
        "completion_tokens": completion,
        "total_tokens": 1234 + completion,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    last = _chunk({}, reason)
    final = {**_chunk({}), "choices": [], "usage": usage}
    return [last, final]


def _words(rng: random.Random) -> str:
    return " " + " ".join(rng.choices(WORDS, k=rng.randint(1, 3))) + rng.choice(("", "", ",", ".", "\n"))


def text_payloads(seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = [_chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [_chunk({"content": _words(rng)}) for _ in range(TEXT_CHUNKS - 1)]
    return events + _end("stop", TEXT_CHUNKS)


def tool_payloads(seed: int = 6) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    content = ""
    while len(content) < TOOL_BYTES:
        content += _words(rng)
    arguments = orjson.dumps({"path": "src/module.py", "content": content[:TOOL_BYTES]}).decode()
    cuts = sorted(rng.sample(range(1, len(arguments)), TOOL_CHUNKS - 2))
    fragments = [arguments[a:b] for a, b in zip([0, *cuts], [*cuts, len(arguments)])]
    first = {
        "index": 0,
        "id": "call_BenchAbCdEf",
        "type": "function",
        "function": {"name": "write_file", "arguments": ""},
    }
    events = [_chunk({"role": "assistant", "content": None, "tool_calls": [first], "refusal": None})]
    events += [_chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}) for fragment in fragments]
    return events + _end("tool_calls", TOOL_CHUNKS)


WORKLOADS: dict[str, Callable[[], list[dict[str, Any]]]] = {"text": text_payloads, "tool": tool_payloads}


def _request_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL_ID,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "Be helpful."},
            {"role": "user", "content": CONTEXTS[name].messages[0].content},  # type: ignore[union-attr]
        ],
    }
    if name == "tool":
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": TOOL.name, "description": TOOL.description, "parameters": TOOL.parameters},
            }
        ]
    return body


# --------------------------------------------------------------------------- the clients


def run_floor(served: Served) -> int:
    return floor_sse_sync(served.client, served.url, _request_body(served.name), {"Authorization": f"Bearer {KEY}"})


def run_alchemy(served: Served) -> int:
    count = 0
    with alchemy.stream(served.model, CONTEXTS[served.name], api_key=KEY) as events:
        for _ in events:
            count += 1
    message = events.result()
    assert message.stop_reason in ("stop", "toolUse"), message.error_message
    return count


def openai_client(served: Served) -> Any:
    openai = pytest.importorskip("openai")
    return openai.OpenAI(api_key=KEY, base_url=served.base_url, max_retries=0)


def run_openai(served: Served, client: Any) -> int:
    body = _request_body(served.name)
    del body["stream"]
    count = 0
    for _ in client.chat.completions.create(**body, stream=True):
        count += 1
    return count


def run_litellm(served: Served, litellm: Any) -> int:
    body = _request_body(served.name)
    del body["stream"], body["model"]
    count = 0
    for _ in litellm.completion(model=f"openai/{MODEL_ID}", api_base=served.base_url, api_key=KEY, stream=True, **body):
        count += 1
    return count


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import
    return pytest.importorskip("litellm")


# --------------------------------------------------------------------------- serving


def serve(name: str) -> contextlib.AbstractContextManager[Served]:
    """Serves workload ``name`` under ``/v1``; alchemy's model there is provider ``openai-bench``, not ``openai``."""
    model = dataclasses.replace(MODEL, provider="openai-bench")
    return serve_workload(
        name, WORKLOADS[name](), api="openai-completions", model=model, base_path="/v1", endpoint="/chat/completions"
    )


@pytest.fixture(scope="module", params=sorted(WORKLOADS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param) as served:
        yield served


def _group(benchmark: Any, served: Served) -> None:
    benchmark.group = f"chat completions {served.name} stream ({served.events} chunks)"
    benchmark.extra_info["chunks"] = served.events


def test_floor(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_floor, rounds=ROUNDS) == served.events


def test_alchemy(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_alchemy, rounds=ROUNDS) > served.events


def test_openai_python(benchmark: Any, served: Served) -> None:
    client = openai_client(served)
    _group(benchmark, served)
    assert time_client(benchmark, served, run_openai, client, rounds=ROUNDS) == served.events


def test_litellm(benchmark: Any, served: Served) -> None:
    litellm = _litellm()
    _group(benchmark, served)
    assert time_client(benchmark, served, run_litellm, litellm, rounds=3) >= served.events - 1


# --------------------------------------------------------------------------- the ratio table


def clients(served: Served, peers: bool) -> dict[str, Runner]:
    """The floor, alchemy and, with ``peers``, every peer SDK that is installed."""
    runners: dict[str, Runner] = {
        "floor": functools.partial(run_floor, served),
        "alchemy": functools.partial(run_alchemy, served),
    }
    if peers:
        with optional_peer():
            runners["openai-python"] = functools.partial(run_openai, served, openai_client(served))
        with optional_peer():
            runners["litellm"] = functools.partial(run_litellm, served, _litellm())
    return runners


if __name__ == "__main__":
    with_peers = "--no-peers" not in sys.argv
    results = measure(
        (serve(name) for name in sorted(WORKLOADS)),
        lambda served: clients(served, with_peers),
        rounds=ROUNDS,
        max_rounds={"litellm": 3},  # slow: three rounds are enough
    )
    print(report(results, cpu=True))
