"""The Gemini and Vertex AI providers end to end: ``alchemy.stream`` against the replay server.

Every shared Gemini ``generateContent`` fixture (``google/google-*.chunks.txt``) is
served on 127.0.0.1 in Gemini's framing (``data:`` events with CRLF line ends, no
``[DONE]``), cut per event, in 7-byte writes and in random writes, and read with
``stream`` and ``astream``, through both providers; the final message is checked
against what the fixture says (``google_oracle``). The Interactions-API files in
the same folder (``basic``, ``google-search``, ``multi-turn-*``,
``tool-call-step1``) are a different wire API and are not served here.

Then the faults: a connection cut before and after content, Gemini's
``UNAVAILABLE`` error inside the 200 stream before and after content, 429 with
``retry-after``, 500 and 503, a 400 that is not retried; and Vertex AI with
Application Default Credentials, whose token refresh runs off the event loop.

Last, the request options: each one either API carries, asserted on the body the
server recorded; a bad value of each provider option raising before ``stream()``
returns (no request sent); every reasoning level, ``off`` and ``max`` included; and
log-probabilities coming back on the message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support
from google_oracle import expected_from_fixture, expected_from_payloads
from protocol_checks import assert_protocol

import alchemy
from alchemy.errors import MissingApiKeyError
from alchemy.models import get_model
from alchemy.testing import Drop, ErrorEvent, Replay, ReplayServer
from alchemy.types import AssistantMessage, Context, Model, Tool, UserMessage

KEY = "test-gemini-key-not-real-e2e"
GEMINI = get_model("google", "gemini-3-flash-preview")
VERTEX = get_model("google-vertex", "gemini-3-flash-preview")
CONTEXT = Context(
    "You are helpful.",
    [UserMessage("What's the weather in San Francisco?")],
    tools=[Tool("weather", "Weather for a location.", {"type": "object", "properties": {"location": {}}})],
)
FAST = {"api_key": KEY, "max_retry_delay": 0.05}
VERTEX_WHERE = {"project": "replay-project", "location": "us-central1"}
CHUNKINGS = ["event", "bytes=7", "random"]

# A longer text stream for the faults: 12 text events, then STOP with usage.
TEXT_EVENTS = 12
TEXT_STREAM: list[dict[str, Any]] = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": f"word{i} "}]}}], "responseId": "resp-1"}
    for i in range(TEXT_EVENTS)
] + [
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 12, "totalTokenCount": 32},
        "responseId": "resp-1",
    }
]
FULL_TEXT = "".join(f"word{i} " for i in range(TEXT_EVENTS))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_GENERATIVE_AI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_CLOUD_API_KEY",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "ALCHEMY_BASE_URL_OVERRIDE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def fixtures() -> list[Path]:
    folder = support.FIXTURES / "google"
    return sorted(folder.glob("google-*.chunks.txt")) if folder.is_dir() else []


def _name(path: Path) -> str:
    return path.name.removesuffix(".chunks.txt")


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ReplayServer]:
    """One server for the fixture matrix; each test picks its replay by name (x-alchemy-replay)."""
    with ReplayServer(recording_dirs=[support.FIXTURES] if support.FIXTURES.is_dir() else []) as server:
        server.default = None
        yield server


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    """A fresh server with an empty queue, for the fault tests."""
    with ReplayServer() as replay:
        replay.default = None
        yield replay


def model_on(server: ReplayServer, model: Model = GEMINI) -> Model:
    return dataclasses.replace(model, base_url=server.base_url_for(model.api))


def collect(model: Model, **options: Any) -> tuple[list[Any], AssistantMessage]:
    with alchemy.stream(model, CONTEXT, **options) as events:
        seen = list(events)
    return seen, assert_protocol(seen)


async def acollect(model: Model, **options: Any) -> tuple[list[Any], AssistantMessage]:
    async with alchemy.astream(model, CONTEXT, **options) as events:
        seen = [event async for event in events]
    return seen, assert_protocol(seen)


def run(mode: str, model: Model, **options: Any) -> AssistantMessage:
    if mode == "sync":
        return collect(model, **options)[1]
    return asyncio.run(acollect(model, **options))[1]


# --------------------------------------------------------------------------- every fixture


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.parametrize("chunking", CHUNKINGS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fixture_end_to_end_on_gemini(shared_server: ReplayServer, path: Path, chunking: str, mode: str) -> None:
    support.require_shared()
    if chunking == "random":
        chunking = f"random={zlib.crc32(path.name.encode())}"
    name = f"gemini:{_name(path)}:{chunking}"
    shared_server.register(name, Replay(f"google/{_name(path)}", api="google-generative-ai", chunking=chunking))
    model = model_on(shared_server)
    message = run(mode, model, **FAST, headers={"x-alchemy-replay": name})
    expected_from_fixture(path).check(message, model)
    request = shared_server.requests[-1]
    assert request.path == "/v1beta/models/gemini-3-flash-preview:streamGenerateContent"
    assert request.query == "alt=sse" and KEY not in request.query
    assert request.headers["x-goog-api-key"] == KEY
    assert request.json["contents"] == [{"role": "user", "parts": [{"text": "What's the weather in San Francisco?"}]}]


@pytest.mark.parametrize("path", fixtures(), ids=_name)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fixture_end_to_end_on_vertex(shared_server: ReplayServer, path: Path, mode: str) -> None:
    support.require_shared()
    chunking = f"random={zlib.crc32(path.name.encode()) + 1}"
    name = f"vertex:{_name(path)}"
    shared_server.register(name, Replay(f"google/{_name(path)}", api="google-vertex", chunking=chunking))
    model = model_on(shared_server, VERTEX)
    message = run(mode, model, **FAST, **VERTEX_WHERE, headers={"x-alchemy-replay": name})
    expected_from_fixture(path).check(message, model)
    request = shared_server.requests[-1]
    assert request.path == (
        "/v1/projects/replay-project/locations/us-central1/publishers/google/models/"
        "gemini-3-flash-preview:streamGenerateContent"
    )
    assert request.headers["x-goog-api-key"] == KEY and request.api == "google-vertex"


def test_request_on_the_wire(server: ReplayServer) -> None:
    server.enqueue(Replay(TEXT_STREAM))
    message = alchemy.complete(
        model_on(server), CONTEXT, **FAST, temperature=0.2, max_tokens=300, tool_choice="auto", thinking_level="low"
    )
    assert message.stop_reason == "stop" and message.text == FULL_TEXT and message.response_id == "resp-1"
    body = server.requests[-1].json
    assert body["systemInstruction"] == {"parts": [{"text": "You are helpful."}]}
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 300,
        "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "LOW"},
    }
    assert body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == CONTEXT.tools[0].parameters  # type: ignore[index]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert KEY not in repr(server.requests[-1])


def test_stream_simple_and_on_payload(server: ReplayServer) -> None:
    server.enqueue(Replay(TEXT_STREAM))
    seen: list[dict[str, Any]] = []

    def hook(body: dict[str, Any], model: Model) -> dict[str, Any]:
        seen.append(body)
        return {**body, "labels": {"team": "a"}}

    message = alchemy.complete_simple(model_on(server), CONTEXT, reasoning="medium", on_payload=hook, **FAST)
    assert message.stop_reason == "stop"
    body = server.requests[-1].json
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "MEDIUM"}
    assert body["labels"] == {"team": "a"} and "labels" not in seen[0]


def test_usage_and_cost_arrive_with_the_message(server: ReplayServer) -> None:
    server.enqueue(Replay(TEXT_STREAM))
    message = alchemy.complete(model_on(server), CONTEXT, **FAST)
    assert (message.usage.input, message.usage.output, message.usage.total_tokens) == (20, 12, 32)
    assert message.usage.cost.total is not None and message.usage.cost.total > 0


# --------------------------------------------------------------------------- faults


def test_drop_before_content_is_retried(server: ReplayServer) -> None:
    server.enqueue(Replay(TEXT_STREAM, faults=[Drop(after_events=0)]), Replay(TEXT_STREAM))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and message.text == FULL_TEXT
    assert message.metrics is not None and message.metrics.retries == 1 and len(server.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_drop_mid_stream_keeps_what_arrived(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(TEXT_STREAM, faults=[Drop(after_events=5)]), Replay(TEXT_STREAM))
    message = run(mode, model_on(server), **FAST)
    assert message.stop_reason == "error" and message.text == "word0 word1 word2 word3 word4 "
    assert "connection was lost mid-stream" in (message.error_message or "")
    assert len(server.requests) == 1


def test_drop_inside_an_event_keeps_the_whole_events_before_it(server: ReplayServer) -> None:
    server.enqueue(Replay(TEXT_STREAM, faults=[Drop(after_bytes=250)], chunking="bytes=13"))
    _, message = collect(model_on(server), **FAST, max_retries=0)
    assert message.stop_reason == "error" and FULL_TEXT.startswith(message.text) and message.text


def test_unavailable_in_stream_before_content_is_retried(server: ReplayServer) -> None:
    server.enqueue(Replay(TEXT_STREAM, faults=[ErrorEvent(after_events=0)]), Replay(TEXT_STREAM))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and message.text == FULL_TEXT and len(server.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_unavailable_in_stream_after_content_ends_with_an_error_keeping_it(server: ReplayServer, mode: str) -> None:
    server.enqueue(Replay(TEXT_STREAM, faults=[ErrorEvent(after_events=3)]), Replay(TEXT_STREAM))
    message = run(mode, model_on(server), **FAST)
    assert message.stop_reason == "error" and message.text == "word0 word1 word2 "
    assert message.error_message == "Gemini error 503 UNAVAILABLE: The model is overloaded. Please try again later."
    assert len(server.requests) == 1


def test_in_stream_error_that_is_not_retryable(server: ReplayServer) -> None:
    server.enqueue(
        Replay(TEXT_STREAM, faults=[ErrorEvent(after_events=0, error_type="INVALID_ARGUMENT", message="Bad part.")]),
        Replay(TEXT_STREAM),
    )
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and "INVALID_ARGUMENT" in (message.error_message or "")
    assert "Bad part." in (message.error_message or "") and len(server.requests) == 1


def test_429_with_retry_after_is_retried(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(429, retry_after=0.02), Replay(TEXT_STREAM))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "stop" and message.text == FULL_TEXT
    assert message.metrics is not None and message.metrics.retries == 1


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retried(server: ReplayServer, status: int) -> None:
    server.enqueue(Replay.http_error(status), Replay(TEXT_STREAM))
    _, message = asyncio.run(acollect(model_on(server), **FAST))
    assert message.stop_reason == "stop" and len(server.requests) == 2


def test_400_is_not_retried_and_names_gemini_s_message(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(400, message="* GenerateContentRequest.contents: bad"), Replay(TEXT_STREAM))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and "GenerateContentRequest.contents: bad" in (message.error_message or "")
    assert "400" in (message.error_message or "") and KEY not in (message.error_message or "")
    assert len(server.requests) == 1


def test_malformed_json_ends_with_a_clear_error(server: ReplayServer) -> None:
    from alchemy.testing import MalformedJson

    server.enqueue(Replay(TEXT_STREAM, faults=[MalformedJson(after_events=2, replace=True)]))
    _, message = collect(model_on(server), **FAST, max_retries=0)
    assert message.stop_reason == "error" and message.text == "word0 word1 "
    assert "not valid JSON" in (message.error_message or "")


def test_a_safety_stop_keeps_the_text_and_names_the_reason(server: ReplayServer) -> None:
    blocked = [*TEXT_STREAM[:2], {"candidates": [{"finishReason": "SAFETY", "content": {"parts": []}}]}]
    server.enqueue(Replay(blocked))
    _, message = collect(model_on(server), **FAST)
    assert message.stop_reason == "error" and message.text == "word0 word1 "
    assert "finishReason SAFETY" in (message.error_message or "")


def test_missing_key_raises_at_the_call(server: ReplayServer) -> None:
    with pytest.raises(MissingApiKeyError, match="GEMINI_API_KEY"):
        alchemy.complete(model_on(server), CONTEXT)
    assert server.requests == []


# --------------------------------------------------------------------------- Vertex AI with credentials


class ThreadRecordingCredentials:
    """Credentials that note which thread refreshed them (google-auth's interface as alchemy uses it)."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.refreshed_in: list[int] = []

    @property
    def valid(self) -> bool:
        return self.token is not None

    def refresh(self, request: Any) -> None:
        self.refreshed_in.append(threading.get_ident())
        self.token = "ya29.e2e-token"

    def apply(self, headers: dict[str, str], token: str | None = None) -> None:
        headers["authorization"] = f"Bearer {self.token}"


def test_vertex_credentials_sync(server: ReplayServer) -> None:
    pytest.importorskip("google.auth")  # a credentials object comes from google-auth
    server.enqueue(Replay(TEXT_STREAM))
    credentials = ThreadRecordingCredentials()
    message = alchemy.complete(model_on(server, VERTEX), CONTEXT, credentials=credentials, **VERTEX_WHERE)
    assert message.stop_reason == "stop" and message.text == FULL_TEXT
    assert server.requests[-1].headers["authorization"] == "Bearer ya29.e2e-token"
    assert credentials.refreshed_in == [threading.get_ident()]


def test_vertex_credentials_async_refresh_off_the_event_loop(server: ReplayServer) -> None:
    pytest.importorskip("google.auth")  # a credentials object comes from google-auth
    server.enqueue(Replay(TEXT_STREAM))
    credentials = ThreadRecordingCredentials()

    async def main() -> tuple[AssistantMessage, int]:
        loop_thread = threading.get_ident()
        message = await alchemy.acomplete(model_on(server, VERTEX), CONTEXT, credentials=credentials, **VERTEX_WHERE)
        return message, loop_thread

    message, loop_thread = asyncio.run(main())
    assert message.stop_reason == "stop" and message.text == FULL_TEXT
    assert len(credentials.refreshed_in) == 1 and credentials.refreshed_in[0] != loop_thread
    assert server.requests[-1].headers["authorization"] == "Bearer ya29.e2e-token"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vertex_application_default_credentials(server: ReplayServer, tmp_path: Path, mode: str) -> None:
    """The real google-auth path, offline: a service-account file and a token server on 127.0.0.1."""
    pytest.importorskip("google.auth")
    from fake_google_auth import TOKEN, service_account_file

    from alchemy.providers import _vertex_auth

    refresh_threads: list[int] = []
    refresh = _vertex_auth.HttpxAuthRequest.__call__

    def recording_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        refresh_threads.append(threading.get_ident())
        return refresh(self, *args, **kwargs)

    server.enqueue(Replay(TEXT_STREAM))
    with service_account_file(tmp_path) as tokens, pytest.MonkeyPatch.context() as patch:
        patch.setattr(_vertex_auth.HttpxAuthRequest, "__call__", recording_call)
        model = model_on(server, VERTEX)
        if mode == "sync":
            message = alchemy.complete(model, CONTEXT, location="us-central1")
            loop_thread = threading.get_ident()
        else:

            async def main() -> tuple[AssistantMessage, int]:
                return await alchemy.acomplete(model, CONTEXT, location="us-central1"), threading.get_ident()

            message, loop_thread = asyncio.run(main())
    assert message.stop_reason == "stop" and message.text == FULL_TEXT, message.error_message
    request = server.requests[-1]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.path.startswith("/v1/projects/sa-project/locations/us-central1/")
    assert len(tokens.requests) == 1 and refresh_threads
    if mode == "async":
        assert loop_thread not in refresh_threads  # the token was fetched off the event loop
    else:
        assert set(refresh_threads) == {loop_thread}


def test_vertex_missing_configuration_is_an_error_event(server: ReplayServer) -> None:
    message = asyncio.run(alchemy.acomplete(model_on(server, VERTEX), CONTEXT))
    assert message.stop_reason == "error" and "GOOGLE_CLOUD_LOCATION" in (message.error_message or "")
    assert server.requests == []


def test_vertex_streamed_function_call_arguments(server: ReplayServer) -> None:
    support.require_shared()
    path = support.FIXTURES / "google" / "google-stream-no-args-tool-call.chunks.txt"
    server.enqueue(Replay(str(path), chunking="bytes=11"))
    message = alchemy.complete(model_on(server, VERTEX), CONTEXT, **FAST, **VERTEX_WHERE, stream_tool_arguments=True)
    expected_from_fixture(path).check(message, VERTEX)
    assert server.requests[-1].json["toolConfig"] == {"functionCallingConfig": {"streamFunctionCallArguments": True}}
    assert expected_from_payloads(TEXT_STREAM).stop_reason == "stop"


# --------------------------------------------------------------------------- options on the wire

VERTEX_FAST = {**FAST, **VERTEX_WHERE}

# (options, path in the recorded body, value there): each carried option as the Gemini
# API and Vertex AI documentation name it.
CARRIED: list[tuple[dict[str, Any], tuple[str | int, ...], Any]] = [
    ({"stop": "END"}, ("generationConfig", "stopSequences"), ["END"]),
    ({"top_p": 0.5}, ("generationConfig", "topP"), 0.5),
    ({"top_k": 5}, ("generationConfig", "topK"), 5),
    ({"seed": 42}, ("generationConfig", "seed"), 42),
    ({"frequency_penalty": 0.5}, ("generationConfig", "frequencyPenalty"), 0.5),
    ({"presence_penalty": -0.5}, ("generationConfig", "presencePenalty"), -0.5),
    ({"logprobs": True}, ("generationConfig", "responseLogprobs"), True),
    ({"top_logprobs": 4}, ("generationConfig", "logprobs"), 4),
    ({"temperature": 0.25}, ("generationConfig", "temperature"), 0.25),
    ({"max_tokens": 99}, ("generationConfig", "maxOutputTokens"), 99),
    ({"tool_choice": "auto"}, ("toolConfig", "functionCallingConfig"), {"mode": "AUTO"}),
    ({"tool_choice": "none"}, ("toolConfig", "functionCallingConfig"), {"mode": "NONE"}),
    ({"tool_choice": "required"}, ("toolConfig", "functionCallingConfig"), {"mode": "ANY"}),
    ({"tool_choice": {"name": "weather"}}, ("toolConfig", "functionCallingConfig"),
     {"mode": "ANY", "allowedFunctionNames": ["weather"]}),
    ({"extra_body": {"generationConfig": {"candidateCount": 1}}}, ("generationConfig", "candidateCount"), 1),
    ({"thinking_level": "HIGH"}, ("generationConfig", "thinkingConfig"), {"includeThoughts": True, "thinkingLevel": "HIGH"}),
    ({"thinking_budget": 2048}, ("generationConfig", "thinkingConfig"), {"includeThoughts": True, "thinkingBudget": 2048}),
    ({"thinking_enabled": True}, ("generationConfig", "thinkingConfig"), {"includeThoughts": True}),
    ({"tool_schema": "openapi"}, ("tools", 0, "functionDeclarations", 0, "parameters", "type"), "OBJECT"),
]
VERTEX_CARRIED: list[tuple[dict[str, Any], tuple[str | int, ...], Any]] = [
    ({"metadata": {"team": "search"}}, ("labels",), {"team": "search"}),
    ({"stream_tool_arguments": True}, ("toolConfig", "functionCallingConfig"), {"streamFunctionCallArguments": True}),
]


def _at(body: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        body = body[key]
    return body


@pytest.mark.parametrize(
    ("api", "given", "path", "sent"),
    [("gemini", *case) for case in CARRIED] + [("vertex", *case) for case in CARRIED + VERTEX_CARRIED],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_carried_option_reaches_the_body(
    server: ReplayServer, api: str, given: dict[str, Any], path: tuple[str | int, ...], sent: Any
) -> None:
    server.enqueue(Replay(TEXT_STREAM))
    model, where = (model_on(server), FAST) if api == "gemini" else (model_on(server, VERTEX), VERTEX_FAST)
    message = alchemy.complete(model, CONTEXT, **where, **given)
    assert message.stop_reason == "stop", message.error_message
    assert _at(server.requests[-1].json, path) == sent


def test_extra_headers_are_sent_last(server: ReplayServer) -> None:
    server.enqueue(Replay(TEXT_STREAM))
    alchemy.complete(model_on(server), CONTEXT, **FAST, headers={"x-team": "a"}, extra_headers={"x-team": "b"})
    assert server.requests[-1].headers["x-team"] == "b"


BAD_OPTIONS: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("gemini", {"thinking_enabled": "yes"}, TypeError),
    ("gemini", {"thinking_budget": -5}, ValueError),
    ("gemini", {"thinking_level": "ultra"}, ValueError),
    ("gemini", {"tool_schema": "xml"}, ValueError),
    ("gemini", {"thinking_level": "low", "thinking_budget": 128}, ValueError),
    ("gemini", {"metadata": {"team": "a"}}, TypeError),
    ("gemini", {"project": "p"}, TypeError),
    ("vertex", {"thinking_level": "ultra"}, ValueError),
    ("vertex", {"project": 3}, TypeError),
    ("vertex", {"project": "a/b"}, ValueError),
    ("vertex", {"location": "us central"}, ValueError),
    ("vertex", {"credentials": "key.json"}, TypeError),
    ("vertex", {"stream_tool_arguments": 1}, TypeError),
    ("vertex", {"metadata": {"Team": "a"}}, ValueError),
]


@pytest.mark.parametrize(("api", "given", "error"), BAD_OPTIONS, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("function", ["stream", "astream"])
def test_a_bad_option_raises_before_the_stream_is_returned(
    server: ReplayServer, api: str, given: dict[str, Any], error: type[Exception], function: str
) -> None:
    server.enqueue(Replay(TEXT_STREAM))
    model, where = (model_on(server), FAST) if api == "gemini" else (model_on(server, VERTEX), VERTEX_FAST)
    with pytest.raises(error, match="option"):
        getattr(alchemy, function)(model, CONTEXT, **{**where, **given})
    assert server.requests == []


# What each level sends, per the table of alchemy.model_facts ("raise": refused at the call).
FLASH_3 = ("google", "gemini-3-flash-preview")
PRO_31 = ("google-vertex", "gemini-3.1-pro-preview")
FLASH_25 = ("google-vertex", "gemini-2.5-flash")
PRO_25 = ("google", "gemini-2.5-pro")
LEVELS: dict[tuple[str, str], dict[str, Any]] = {
    FLASH_3: {"off": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH",
              "xhigh": "HIGH", "max": "HIGH"},
    PRO_31: {"off": "LOW", "minimal": "LOW", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH",
             "max": "HIGH"},
    FLASH_25: {"off": 0, "minimal": 128, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 24576, "max": 24576},
    PRO_25: {"off": "raise", "minimal": 128, "low": 2048, "medium": 8192, "high": 32768, "xhigh": 32768,
             "max": 32768},
}


@pytest.mark.parametrize(
    ("where", "level", "sent"),
    [(where, level, sent) for where, levels in LEVELS.items() for level, sent in levels.items()],
    ids=lambda v: "/".join(v) if isinstance(v, tuple) else str(v),
)
def test_every_reasoning_level_on_the_wire(server: ReplayServer, where: tuple[str, str], level: str, sent: Any) -> None:
    server.enqueue(Replay(TEXT_STREAM))
    model = model_on(server, get_model(*where))
    options = VERTEX_FAST if model.api == "google-vertex" else FAST
    if sent == "raise":
        with pytest.raises(ValueError, match="reasoning 'off' is not available"):
            alchemy.stream(model, CONTEXT, reasoning=level, **options)
        assert server.requests == []
        return
    message = alchemy.complete(model, CONTEXT, reasoning=level, **options)
    assert message.stop_reason == "stop", message.error_message
    thinking = server.requests[-1].json["generationConfig"]["thinkingConfig"]
    field = "thinkingLevel" if isinstance(sent, str) else "thinkingBudget"
    assert thinking == {"includeThoughts": level != "off", field: sent}


def test_logprobs_come_back_on_the_message(server: ReplayServer) -> None:
    steps = [
        {"token": f"word{i} ", "logProbability": -0.5 * i} if i else {"token": "word0 "} for i in range(TEXT_EVENTS)
    ]
    payloads = [dict(event) for event in TEXT_STREAM]
    for i, event in enumerate(payloads[:TEXT_EVENTS]):
        alternatives = [steps[i], {"token": "x", "logProbability": -9.0}]
        result = {"chosenCandidates": [steps[i]], "topCandidates": [{"candidates": alternatives}]}
        payloads[i] = {**event, "candidates": [{**event["candidates"][0], "logprobsResult": result}]}
    server.enqueue(Replay(payloads, chunking="bytes=7"))
    message = alchemy.complete(model_on(server, VERTEX), CONTEXT, **VERTEX_FAST, top_logprobs=2)
    expected_from_payloads(payloads).check(message, VERTEX)
    assert message.logprobs is not None and len(message.logprobs) == TEXT_EVENTS
    assert message.logprobs[3].token == "word3 " and message.logprobs[3].top[1] == ("x", -9.0)
    assert server.requests[-1].json["generationConfig"] == {"responseLogprobs": True, "logprobs": 2}
