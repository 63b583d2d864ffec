"""OpenAI Responses streaming, per chunk: alchemy against the raw floor and openai-python.

The workload is one Responses text stream of ``DELTAS`` ``response.output_text.delta``
events shaped as OpenAI sends them (``item_id``, ``output_index``, ``content_index``,
``logprobs``, ``obfuscation``, ``sequence_number``), between the usual
``response.created`` ... ``response.output_item.added`` head and the
``output_text.done`` ... ``response.completed`` tail whose final item repeats the
whole text. It is served by a replay server in a separate process, one write per
event, in the real framing (``event: <type>`` + ``data: <json>``).

Clients, each reading the whole stream once per round:

* ``floor``: httpx streaming the body and ``orjson.loads`` of every ``data:`` line
  (``event:`` lines are skipped), nothing else (``benchmarks/streams.py``);
* ``alchemy``: ``alchemy.stream(model, context)`` iterated to the end (sync);
* ``openai-python``: ``client.responses.create(..., stream=True)`` iterated (typed
  events), when the ``openai`` package is installed.

Target: alchemy at most 1.5x the floor per chunk. Run::

    .venv/bin/python -m pytest benchmarks/test_bench_openai_responses.py --benchmark-columns=min,median,rounds
    .venv/bin/python benchmarks/test_bench_openai_responses.py   # interleaved rounds, the ratio table alone
"""

from __future__ import annotations

import contextlib
import functools
import random
import sys
from collections.abc import Iterator
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

DELTAS = 10_000
ROUNDS = 7
KEY = "sk-" "bench-0123456789abcdef"  # fake, split so it never looks like a real key
MODEL = get_model("openai", "gpt-4.1")
CONTEXT = Context("Be helpful.", [UserMessage("Tell me a long story.")])
WORDS = ("the", "model", "streams", "tokens", "café", "naïve", "日本語", "テキスト", "🚀", "Zürich", "data", "→")
RESPONSE_ID = "resp_0a63f40a2632b74300699f8818e5648196a8fa657ae8091421"
ITEM_ID = "msg_0a63f40a2632b74300699f8819a5e08196ac270722d369af5a"


def _response(status: str, output: list[Any], usage: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1772062745,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-4.1-2025-04-14",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def text_payloads(seed: int = 9) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    deltas = [" " + " ".join(rng.choices(WORDS, k=rng.randint(1, 3))) for _ in range(DELTAS)]
    text = "".join(deltas)
    sequence = iter(range(DELTAS + 16))
    item = {"id": ITEM_ID, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    done_item = {**item, "status": "completed", "content": [{**part, "text": text}]}
    where = {"item_id": ITEM_ID, "output_index": 0, "content_index": 0}
    usage = {
        "input_tokens": 1234,
        "input_tokens_details": {"cached_tokens": 1024},
        "output_tokens": DELTAS,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1234 + DELTAS,
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "sequence_number": next(sequence), "response": _response("in_progress", [], None)},
        {"type": "response.in_progress", "sequence_number": next(sequence), "response": _response("in_progress", [], None)},
        {"type": "response.output_item.added", "sequence_number": next(sequence), "output_index": 0, "item": item},
        {"type": "response.content_part.added", "sequence_number": next(sequence), **where, "part": part},
    ]
    for delta in deltas:
        obfuscation = "".join(rng.choices("abcdefghijkLMNOPQRS0123456789", k=rng.randint(4, 14)))
        events.append(
            {
                "type": "response.output_text.delta",
                "sequence_number": next(sequence),
                **where,
                "delta": delta,
                "logprobs": [],
                "obfuscation": obfuscation,
            }
        )
    events += [
        {"type": "response.output_text.done", "sequence_number": next(sequence), **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", "sequence_number": next(sequence), **where, "part": {**part, "text": text}},
        {"type": "response.output_item.done", "sequence_number": next(sequence), "output_index": 0, "item": done_item},
        {
            "type": "response.completed",
            "sequence_number": next(sequence),
            "response": _response("completed", [done_item], usage),
        },
    ]
    return events


def _request_body() -> dict[str, Any]:
    return {
        "model": MODEL.id,
        "input": [{"role": "system", "content": "Be helpful."}, {"role": "user", "content": "Tell me a long story."}],
        "stream": True,
        "store": False,
    }


# --------------------------------------------------------------------------- the clients


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


def _sdk(served: Served) -> Any:
    openai = pytest.importorskip("openai")
    return openai.OpenAI(api_key=KEY, base_url=served.base_url, max_retries=0)


def run_sdk(served: Served, client: Any) -> int:
    body = _request_body()
    del body["stream"]
    count = 0
    for _ in client.responses.create(**body, stream=True):
        count += 1
    return count


# --------------------------------------------------------------------------- serving


def serve() -> contextlib.AbstractContextManager[Served]:
    """Serves the one workload, ``text``, under ``/v1``."""
    return serve_workload(
        "text", text_payloads(), api="openai-responses", model=MODEL, base_path="/v1", endpoint="/responses"
    )


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as served:
        yield served


def _group(benchmark: Any, served: Served) -> None:
    benchmark.group = f"openai-responses text stream ({served.events} events)"
    benchmark.extra_info["events"] = served.events


def test_floor(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_floor, rounds=ROUNDS) == served.events


def test_alchemy(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_alchemy, rounds=ROUNDS) >= DELTAS


def test_openai_python(benchmark: Any, served: Served) -> None:
    client = _sdk(served)
    _group(benchmark, served)
    assert time_client(benchmark, served, run_sdk, client, rounds=ROUNDS) == served.events


# --------------------------------------------------------------------------- the ratio table


def clients(served: Served) -> dict[str, Runner]:
    """The floor, alchemy and, when installed, openai-python."""
    runners: dict[str, Runner] = {
        "floor": functools.partial(run_floor, served),
        "alchemy": functools.partial(run_alchemy, served),
    }
    with optional_peer():
        runners["openai-python"] = functools.partial(run_sdk, served, _sdk(served))
    return runners


if __name__ == "__main__":
    print(report(measure([serve()], clients, rounds=ROUNDS)))
