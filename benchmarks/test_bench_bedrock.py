"""Bedrock ConverseStream streaming, per chunk: alchemy against the raw floor and botocore's client.

One workload: a long text answer of ``DELTAS`` ``contentBlockDelta`` events (with
Bedrock's ``p`` padding), served in AWS event-stream framing by a replay server in
a separate process, one write per message (as Bedrock flushes).

Clients, each reading the whole stream once per round:

* ``floor``: httpx streaming the body, each frame cut out by its length prefix (no
  checksum, no header parsing) and ``orjson.loads`` of its payload, nothing else;
* ``alchemy``: ``alchemy.stream(model, context)`` iterated to the end (sync; a
  Bedrock API key, so no signing in the loop);
* ``botocore``: ``client.converse_stream(...)`` of a botocore ``bedrock-runtime``
  client iterated to the end (when botocore is installed).

Target: alchemy at most 1.5x the floor per chunk. Run::

    .venv/bin/python -m pytest benchmarks/test_bench_bedrock.py --benchmark-columns=min,median,rounds
    .venv/bin/python benchmarks/test_bench_bedrock.py      # interleaved rounds, the ratio table alone
"""

from __future__ import annotations

import contextlib
import functools
import random
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

try:
    from .streams import Runner, Served, measure, optional_peer, report, serve_workload, time_client
except ImportError:  # run as a script
    sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
    from streams import (  # type: ignore[no-redef]
        Runner, Served, measure, optional_peer, report, serve_workload, time_client
    )

import alchemy
from alchemy.models import get_model
from alchemy.types import Context, UserMessage

DELTAS = 2000
ROUNDS = 9
TOKEN = "bedrock-bench-key-0123456789"
MODEL = get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
CONTEXT = Context("Be helpful.", [UserMessage("Tell me a long story.")])
WORDS = ("the", "model", "streams", "tokens", "café", "naïve", "日本語", "テキスト", "🚀", "Zürich", "→")
_LENGTHS = struct.Struct(">II")


def payloads(seed: int = 9) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    padding = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    events: list[dict[str, Any]] = [{"messageStart": {"p": padding[:20], "role": "assistant"}}]
    for _ in range(DELTAS):
        text = " " + " ".join(rng.choices(WORDS, k=rng.randint(1, 3)))
        delta = {"contentBlockIndex": 0, "delta": {"text": text}, "p": padding[: rng.randint(1, 40)]}
        events.append({"contentBlockDelta": delta})
    events.append({"contentBlockStop": {"contentBlockIndex": 0, "p": padding[:9]}})
    events.append({"messageStop": {"p": padding[:12], "stopReason": "end_turn"}})
    usage = {"inputTokens": 1234, "outputTokens": DELTAS, "totalTokens": 1234 + DELTAS}
    events.append({"metadata": {"metrics": {"latencyMs": 2040}, "p": padding[:5], "usage": usage}})
    return events


def _request_body() -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": "Tell me a long story."}]}], "system": [{"text": "Be helpful."}]}


def run_floor(served: Served) -> int:
    """httpx + length-prefix framing + orjson.loads per payload: the least any client does."""
    count = 0
    pending = b""
    headers = {"authorization": f"Bearer {TOKEN}"}
    with served.client.stream("POST", served.url, json=_request_body(), headers=headers) as response:
        for chunk in response.iter_bytes():
            data = pending + chunk
            position = 0
            while len(data) - position >= 12:
                total, headers_length = _LENGTHS.unpack_from(data, position)
                if len(data) - position < total:
                    break
                orjson.loads(data[position + 12 + headers_length : position + total - 4])
                count += 1
                position += total
            pending = data[position:]
    return count


def run_alchemy(served: Served) -> int:
    count = 0
    with alchemy.stream(served.model, CONTEXT, api_key=TOKEN, region="us-east-1", max_tokens=4096) as events:
        for _ in events:
            count += 1
    message = events.result()
    assert message.stop_reason == "stop", message.error_message
    return count


def _botocore_client(served: Served) -> Any:
    """A botocore ``bedrock-runtime`` client pointed at the replay server (ImportError without botocore)."""
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=served.base_url,
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench-secret",
    )


def run_botocore(served: Served, client: Any) -> int:
    response = client.converse_stream(
        modelId=MODEL.id, messages=[{"role": "user", "content": [{"text": "Tell me a long story."}]}]
    )
    count = 0
    for _ in response["stream"]:
        count += 1
    return count


def serve() -> contextlib.AbstractContextManager[Served]:
    """Serves the one workload, ``text``, in AWS event-stream framing."""
    endpoint = f"/model/{MODEL.id.replace(':', '%3A')}/converse-stream"
    return serve_workload("text", payloads(), api="bedrock-converse-stream", model=MODEL, endpoint=endpoint)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve() as served:
        yield served


def _group(benchmark: Any, served: Served) -> None:
    benchmark.group = f"bedrock text stream ({served.events} messages)"
    benchmark.extra_info["events"] = served.events


def test_floor(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_floor, rounds=ROUNDS) == served.events


def test_alchemy(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_alchemy, rounds=ROUNDS) >= served.events


def test_botocore(benchmark: Any, served: Served) -> None:
    pytest.importorskip("botocore.session")
    client = _botocore_client(served)
    _group(benchmark, served)
    assert time_client(benchmark, served, run_botocore, client, rounds=ROUNDS) == served.events


def clients(served: Served) -> dict[str, Runner]:
    """The floor, alchemy and, when installed, botocore."""
    runners: dict[str, Runner] = {
        "floor": functools.partial(run_floor, served),
        "alchemy": functools.partial(run_alchemy, served),
    }
    with optional_peer():
        runners["botocore"] = functools.partial(run_botocore, served, _botocore_client(served))
    return runners


if __name__ == "__main__":
    print(report(measure([serve()], clients, rounds=ROUNDS)))
