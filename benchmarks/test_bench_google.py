"""Gemini streaming, per chunk: alchemy against the raw floor and google-genai.

Two workloads, each a recording served by a replay server in a separate process in
Gemini's framing (``data: <json>\\r\\n\\r\\n``, no ``[DONE]``), one write per event:

* ``text``: ``CHUNKS`` GenerateContentResponse events of a few words each, every one
  with ``usageMetadata`` (the prompt count and a growing candidates count, as Gemini
  sends them), ``modelVersion`` and ``responseId``; the last one with ``finishReason``;
* ``thinking``: the same, the first half ``thought: true`` parts (thinking), the
  second half text, a thought signature on the last part.

Clients, each reading the whole stream once per round:

* ``floor``: httpx streaming the body and ``orjson.loads`` of every ``data:`` line
  (the CRLF framing leaves a ``\\r`` at the end of each line, which ``orjson.loads``
  skips as whitespace), nothing else (``benchmarks/streams.py``);
* ``alchemy``: ``alchemy.stream(model, context)`` iterated to the end (sync);
* ``sdk``: google-genai's ``client.models.generate_content_stream(...)`` iterated,
  when installed.

Target: alchemy at most 1.5x the floor per chunk. Run::

    .venv/bin/python -m pytest benchmarks/test_bench_google.py --benchmark-columns=min,median,rounds
    .venv/bin/python benchmarks/test_bench_google.py      # interleaved rounds, the ratio table alone
"""

from __future__ import annotations

import base64
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

CHUNKS = 2000
ROUNDS = 9
KEY = "AIzaSy-bench-0123456789abcdef"
MODEL = get_model("google", "gemini-2.5-flash")
WORDS = ("the", "model", "streams", "tokens", "café", "naïve", "日本語", "テキスト", "🚀", "Zürich", "→")
CONTEXT = Context("Be helpful.", [UserMessage("Tell me a long story.")])
PROMPT_TOKENS = 1234


def _text(rng: random.Random) -> str:
    return " " + " ".join(rng.choices(WORDS, k=rng.randint(2, 6))) + rng.choice(("", "", ",", ".", "\n"))


def _event(part: dict[str, Any], index: int, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
    usage: dict[str, Any] = {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": 3 * (index + 1),
        "totalTokenCount": PROMPT_TOKENS + 3 * (index + 1),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
    }
    if finish:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "bench-response-0001",
    }


def text_payloads(seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [_event({"text": _text(rng)}, i, i == CHUNKS - 1) for i in range(CHUNKS)]


def thinking_payloads(seed: int = 6) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    payloads = []
    for i in range(CHUNKS):
        part: dict[str, Any] = {"text": _text(rng)}
        if i < CHUNKS // 2:
            part["thought"] = True
        if i == CHUNKS - 1:
            part["thoughtSignature"] = base64.b64encode(rng.randbytes(300)).decode()
        payloads.append(_event(part, i, i == CHUNKS - 1))
    return payloads


WORKLOADS: dict[str, Callable[[], list[dict[str, Any]]]] = {"text": text_payloads, "thinking": thinking_payloads}


def _request_body() -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": "Tell me a long story."}]}],
        "systemInstruction": {"parts": [{"text": "Be helpful."}]},
        "generationConfig": {"maxOutputTokens": 8192},
    }


# --------------------------------------------------------------------------- the clients


def run_floor(served: Served) -> int:
    return floor_sse_sync(served.client, served.url, _request_body(), {"x-goog-api-key": KEY})


def run_alchemy(served: Served) -> int:
    count = 0
    with alchemy.stream(served.model, CONTEXT, api_key=KEY, max_tokens=8192) as events:
        for _ in events:
            count += 1
    message = events.result()
    assert message.stop_reason == "stop", message.error_message
    return count


def _sdk(served: Served) -> Any:
    genai = pytest.importorskip("google.genai")
    from google.genai import types

    options = types.HttpOptions(base_url=served.base_url.removesuffix("/v1beta"), api_version="v1beta")
    return genai.Client(api_key=KEY, http_options=options)


def run_sdk(served: Served, client: Any) -> int:
    from google.genai import types

    config = types.GenerateContentConfig(system_instruction="Be helpful.", max_output_tokens=8192)
    count = 0
    for _ in client.models.generate_content_stream(model=MODEL.id, contents="Tell me a long story.", config=config):
        count += 1
    return count


# --------------------------------------------------------------------------- serving


def serve(name: str) -> contextlib.AbstractContextManager[Served]:
    """Serves workload ``name`` under ``/v1beta``."""
    endpoint = f"/models/{MODEL.id}:streamGenerateContent?alt=sse"
    return serve_workload(
        name, WORKLOADS[name](), api="google-generative-ai", model=MODEL, base_path="/v1beta", endpoint=endpoint
    )


@pytest.fixture(scope="module", params=sorted(WORKLOADS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param) as served:
        yield served


def _group(benchmark: Any, served: Served) -> None:
    benchmark.group = f"gemini {served.name} stream ({served.events} events)"
    benchmark.extra_info["events"] = served.events


def test_floor(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_floor, rounds=ROUNDS) == served.events


def test_alchemy(benchmark: Any, served: Served) -> None:
    _group(benchmark, served)
    assert time_client(benchmark, served, run_alchemy, rounds=ROUNDS) > served.events


def test_sdk(benchmark: Any, served: Served) -> None:
    client = _sdk(served)
    _group(benchmark, served)
    assert time_client(benchmark, served, run_sdk, client, rounds=3) == served.events


# --------------------------------------------------------------------------- the ratio table


def clients(served: Served) -> dict[str, Runner]:
    """The floor, alchemy and, when installed, google-genai."""
    runners: dict[str, Runner] = {
        "floor": functools.partial(run_floor, served),
        "alchemy": functools.partial(run_alchemy, served),
    }
    with optional_peer():
        runners["google-genai"] = functools.partial(run_sdk, served, _sdk(served))
    return runners


if __name__ == "__main__":
    print(report(measure((serve(name) for name in sorted(WORKLOADS)), clients, rounds=ROUNDS)))
