"""Mistral streaming, per chunk: alchemy against the raw floor and the SDKs that read this wire.

Two workloads served by a replay server in a separate process, one write per chunk:

* ``text``: ``DELTAS`` chunks of string ``delta.content``, then a finish chunk with usage;
* ``reasoning``: Magistral's typed parts, ``DELTAS / 2`` thinking parts then
  ``DELTAS / 2`` text parts (``delta.content`` as a list), then the finish chunk.

Clients, each reading the whole stream once per round:

* ``floor``: httpx streaming the body and ``orjson.loads`` of every ``data:`` line;
* ``alchemy``: ``alchemy.stream(model, context)`` iterated to the end (sync);
* ``mistralai``: the official SDK's ``chat.stream`` (when installed);
* ``openai-python``: ``chat.completions.create(stream=True)`` on the same
  chat-completions stream (when installed; it sees the text, not the thinking).

Target: alchemy at most 1.5x the floor per chunk. Run::

    .venv/bin/python -m pytest benchmarks/test_bench_mistral.py --benchmark-columns=min,median,rounds
    .venv/bin/python benchmarks/test_bench_mistral.py      # interleaved rounds, the ratio table alone
"""

from __future__ import annotations

import contextlib
import functools
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
from alchemy.types import Context, UserMessage

DELTAS = 2000
ROUNDS = 9
KEY = "mistral-bench-key-0123456789"
MODEL = get_model("mistral", "magistral-medium-latest")
CONTEXT = Context("Be helpful.", [UserMessage("Tell me a long story.")])
WORDS = ("the", "model", "streams", "tokens", "café", "naïve", "日本語", "テキスト", "🚀", "Zürich", "→")


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "5319bd0299614c679a0068a4f2c8ffd0",
        "object": "chat.completion.chunk",
        "created": 1769088720,
        "model": MODEL.id,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _words(rng: random.Random) -> str:
    return " " + " ".join(rng.choices(WORDS, k=rng.randint(1, 3)))


def text_payloads(seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": _words(rng)}) for _ in range(DELTAS)]
    return chunks + [_chunk({"content": ""}, "stop", {"prompt_tokens": 13, "total_tokens": 13 + DELTAS, "completion_tokens": DELTAS})]


def reasoning_payloads(seed: int = 4) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    chunks = []
    for i in range(DELTAS):
        if i < DELTAS // 2:
            part = {"type": "thinking", "thinking": [{"type": "text", "text": _words(rng)}]}
        else:
            part = {"type": "text", "text": _words(rng)}
        chunks.append(_chunk({"content": [part]}))
    return chunks + [_chunk({"content": ""}, "stop", {"prompt_tokens": 10, "total_tokens": 10 + DELTAS, "completion_tokens": DELTAS})]


WORKLOADS: dict[str, Callable[[], list[dict[str, Any]]]] = {"text": text_payloads, "reasoning": reasoning_payloads}


def _request_body() -> dict[str, Any]:
    return {"model": MODEL.id, "stream": True, "messages": [{"role": "user", "content": "Tell me a long story."}]}


def run_floor(served: Served) -> int:
    return floor_sse_sync(served.client, served.url, _request_body(), {"authorization": f"Bearer {KEY}"})


def run_alchemy(served: Served) -> int:
    count = 0
    with alchemy.stream(served.model, CONTEXT, api_key=KEY) as events:
        for _ in events:
            count += 1
    message = events.result()
    assert message.stop_reason == "stop", message.error_message
    return count


def _mistralai(served: Served) -> Any:
    """The official SDK's client (ImportError when mistralai is not installed)."""
    from mistralai import Mistral  # type: ignore[import-not-found]

    return Mistral(api_key=KEY, server_url=served.base_url)


def run_mistralai(served: Served, client: Any) -> int:
    count = 0
    for _ in client.chat.stream(model=MODEL.id, messages=[{"role": "user", "content": "Tell me a long story."}]):
        count += 1
    return count


def _openai(served: Served) -> Any:
    """openai-python's client on the same chat-completions stream (ImportError when not installed)."""
    import openai

    return openai.OpenAI(api_key=KEY, base_url=f"{served.base_url}/v1", max_retries=0)


def run_openai(served: Served, client: Any) -> int:
    count = 0
    stream = client.chat.completions.create(
        model=MODEL.id, messages=[{"role": "user", "content": "Tell me a long story."}], stream=True
    )
    for _ in stream:
        count += 1
    return count


def serve(name: str) -> contextlib.AbstractContextManager[Served]:
    """Serves workload ``name`` at the server's root (the clients add ``/v1``)."""
    return serve_workload(
        name, WORKLOADS[name](), api="mistral-conversations", model=MODEL, endpoint="/v1/chat/completions"
    )


@pytest.fixture(scope="module", params=sorted(WORKLOADS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param) as served:
        yield served


def _group(benchmark: Any, served: Served) -> None:
    benchmark.group = f"mistral {served.name} stream ({served.events} chunks)"
    benchmark.extra_info["events"] = served.events


def test_floor(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_floor, rounds=ROUNDS) == served.events


def test_alchemy(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_alchemy, rounds=ROUNDS) >= served.events


def test_mistralai(benchmark: Any, served: Served) -> None:
    pytest.importorskip("mistralai")
    client = _mistralai(served)
    _group(benchmark, served)
    assert time_client(benchmark, served, run_mistralai, client, rounds=ROUNDS) == served.events


def test_openai_python(benchmark: Any, served: Served) -> None:
    pytest.importorskip("openai")
    client = _openai(served)
    _group(benchmark, served)
    assert time_client(benchmark, served, run_openai, client, rounds=ROUNDS) == served.events


def clients(served: Served) -> dict[str, Runner]:
    """The floor, alchemy and, when installed, mistralai and openai-python."""
    runners: dict[str, Runner] = {
        "floor": functools.partial(run_floor, served),
        "alchemy": functools.partial(run_alchemy, served),
    }
    with optional_peer():
        runners["mistralai"] = functools.partial(run_mistralai, served, _mistralai(served))
    with optional_peer():
        runners["openai-python"] = functools.partial(run_openai, served, _openai(served))
    return runners


if __name__ == "__main__":
    print(report(measure((serve(name) for name in sorted(WORKLOADS)), clients, rounds=ROUNDS)))
