"""The replay server (alchemy.testing): framing, chunking, faults, routing, recording, lifecycle.

Every test talks to a real server on 127.0.0.1 through httpx, except the few that
check pure planning (write sizes) or the encoder. SSE bodies are parsed with the
project's own SSEDecoder; AWS event-stream bodies with a small independent decoder
written here (so the server's encoder is not checked against itself).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import orjson
import pytest
import support

from alchemy.errors import RecordingNotFoundError, ReplayServerError
from alchemy.sse import SSEDecoder
from alchemy.testing.__main__ import build_parser, build_server, main
from alchemy.testing.captured import Headers, redact_query
from alchemy.testing.chunking import ByBytes, ByEvent, RandomSizes, parse_chunking, split_writes
from alchemy.testing.eventstream import (
    encode_event,
    encode_exception,
    encode_message,
    with_bad_message_crc,
    with_bad_prelude_crc,
)
from alchemy.testing.faults import (
    CorruptFrame,
    Drop,
    ErrorEvent,
    HttpError,
    InvalidUtf8,
    MalformedJson,
    Stall,
)
from alchemy.testing.recordings import (
    BUNDLED_RECORDINGS_DIR,
    Raw,
    Recording,
    RecordingLibrary,
    bundled_recording_names,
    load_recording,
    parse_chunks_text,
)
from alchemy.testing.replay import REPLAY_HEADER, ReplayServer
from alchemy.testing.plan import HANG_UP, Pause, Replay, plan_response
from alchemy.testing.wire import WIRE_APIS

SSE_APIS = [api for api in WIRE_APIS if api != "bedrock-converse-stream"]
TIMEOUT = httpx.Timeout(10.0)


# -- helpers ---------------------------------------------------------------------------------


def bundled(name: str) -> Recording:
    return load_recording(BUNDLED_RECORDINGS_DIR / f"{name}.chunks.txt")


def lines_of(recording: Recording) -> list[Any]:
    return [orjson.loads(event) for event in recording.events if isinstance(event, bytes)]


def sse_events(body: bytes) -> list[tuple[str, str]]:
    """(event name, data) pairs, decoded by the project's SSE decoder."""
    decoder = SSEDecoder()
    events = decoder.feed(body) + decoder.flush()
    return [(event.event, event.data) for event in events]


def decode_eventstream(body: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """An independent AWS event-stream decoder: checks both CRCs, returns (headers, payload)."""
    messages = []
    offset = 0
    while offset < len(body):
        total, headers_length = struct.unpack_from(">II", body, offset)
        (prelude_crc,) = struct.unpack_from(">I", body, offset + 8)
        assert zlib.crc32(body[offset : offset + 8]) == prelude_crc, "prelude CRC mismatch"
        message = body[offset : offset + total]
        assert len(message) == total, "truncated message"
        (message_crc,) = struct.unpack_from(">I", message, total - 4)
        assert zlib.crc32(message[:-4]) == message_crc, "message CRC mismatch"
        headers: dict[str, Any] = {}
        position = 12
        end = 12 + headers_length
        while position < end:
            name_length = message[position]
            name = message[position + 1 : position + 1 + name_length].decode()
            position += 1 + name_length
            kind = message[position]
            position += 1
            if kind in (0, 1):
                headers[name] = kind == 0
            elif kind == 4:
                (headers[name],) = struct.unpack_from(">i", message, position)
                position += 4
            elif kind in (5, 8):
                (headers[name],) = struct.unpack_from(">q", message, position)
                position += 8
            elif kind == 9:
                headers[name] = uuid.UUID(bytes=message[position : position + 16])
                position += 16
            else:
                assert kind in (6, 7), f"unexpected header type {kind}"
                (length,) = struct.unpack_from(">H", message, position)
                raw = message[position + 2 : position + 2 + length]
                headers[name] = raw.decode() if kind == 7 else raw
                position += 2 + length
        messages.append((headers, message[end:-4]))
        offset += total
    return messages


def post(server: ReplayServer, api: str, model: str = "replay-model", **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("json", {"model": model, "stream": True})
    return httpx.post(server.url_for(api, model), timeout=TIMEOUT, **kwargs)


def read_until_error(response: httpx.Response) -> tuple[bytes, BaseException | None]:
    """The body bytes received before the stream failed, and the failure (None if it ended well)."""
    received = bytearray()
    try:
        for chunk in response.iter_raw():
            received += chunk
    except httpx.HTTPError as exc:
        return bytes(received), exc
    return bytes(received), None


def stream_until_error(server: ReplayServer, api: str, **kwargs: Any) -> tuple[httpx.Response, bytes, BaseException | None]:
    with httpx.Client(timeout=TIMEOUT) as client:
        with client.stream("POST", server.url_for(api), json={"model": "m"}, **kwargs) as response:
            body, error = read_until_error(response)
            return response, body, error


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay_server:
        yield replay_server


def server_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "alchemy-replay-server"]


# -- lifecycle ---------------------------------------------------------------------------------


def test_starts_on_an_ephemeral_port_and_stops_cleanly() -> None:
    before = len(server_threads())
    with ReplayServer() as server:
        assert server.running
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        assert len(server_threads()) == before + 1
        assert post(server, "openai-completions").status_code == 200
        port = server.port
    assert not server.running
    assert len(server_threads()) == before
    with pytest.raises(ReplayServerError, match="not running"):
        _ = server.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={}, timeout=2.0)
    server.stop()  # stopping twice is harmless


def test_stop_cuts_open_streams_and_is_bounded() -> None:
    server = ReplayServer(shutdown_timeout=2.0).start()
    server.enqueue(Replay(faults=[Stall(30.0, after_events=1)]))
    client = httpx.Client(timeout=TIMEOUT)
    with client.stream("POST", server.url_for("openai-completions"), json={}) as response:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5.0
        _, error = read_until_error(response)
    client.close()
    assert isinstance(error, httpx.RemoteProtocolError)
    assert not server_threads()


def test_start_twice_and_busy_port_fail_clearly() -> None:
    with ReplayServer() as server:
        with pytest.raises(ReplayServerError, match="already running"):
            server.start()
        with pytest.raises(ReplayServerError, match="could not listen"):
            ReplayServer(port=server.port).start()


def test_can_restart_after_stop() -> None:
    server = ReplayServer()
    for _ in range(2):
        with server:
            assert post(server, "anthropic-messages").status_code == 200


def test_async_context_manager_serves_async_clients() -> None:
    async def scenario() -> list[tuple[str, str]]:
        async with ReplayServer() as server:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                response = await client.post(server.url_for("anthropic-messages"), json={"model": "claude"})
                return sse_events(response.content)

    events = asyncio.run(scenario())
    assert events[0][0] == "message_start"
    assert events[-1][0] == "message_stop"


def test_keep_alive_serves_several_requests_on_one_connection(server: ReplayServer) -> None:
    with httpx.Client(timeout=TIMEOUT) as client:
        for _ in range(3):
            response = client.post(server.url_for("openai-completions"), json={})
            assert response.status_code == 200
            assert response.content.endswith(b"data: [DONE]\n\n")
    assert len(server.requests) == 3


# -- framing -----------------------------------------------------------------------------------


def test_chat_completions_framing(server: ReplayServer) -> None:
    response = post(server, "openai-completions")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["x-request-id"].startswith("req_replay_")
    recording = bundled("openai-completions")
    assert response.content.startswith(b"data: " + recording.events[0] + b"\n\n")
    assert response.content.endswith(b"data: [DONE]\n\n")
    events = sse_events(response.content)
    assert all(name == "message" for name, _ in events)
    assert events[-1][1] == "[DONE]"
    assert [json.loads(data) for _, data in events[:-1]] == lines_of(recording)


def test_mistral_uses_chat_completions_framing(server: ReplayServer) -> None:
    server.enqueue(Replay(api="mistral-conversations"))
    response = post(server, "mistral-conversations")
    events = sse_events(response.content)
    assert events[-1][1] == "[DONE]"
    assert [json.loads(data) for _, data in events[:-1]] == lines_of(bundled("mistral-conversations"))


@pytest.mark.parametrize(
    ("api", "recording"),
    [
        ("anthropic-messages", "anthropic-messages"),
        ("openai-responses", "openai-responses"),
        ("azure-openai-responses", "openai-responses"),
    ],
)
def test_named_event_framing(server: ReplayServer, api: str, recording: str) -> None:
    response = post(server, api)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert b"[DONE]" not in response.content
    events = sse_events(response.content)
    payloads = [json.loads(data) for _, data in events]
    assert payloads == lines_of(bundled(recording))
    assert all(name == payload["type"] for (name, _), payload in zip(events, payloads))
    first = response.content.split(b"\n\n")[0]
    assert first.startswith(b"event: " + payloads[0]["type"].encode() + b"\ndata: {")


def test_anthropic_request_id_header(server: ReplayServer) -> None:
    assert post(server, "anthropic-messages").headers["request-id"].startswith("req_replay_")


@pytest.mark.parametrize("api", ["google-generative-ai", "google-vertex"])
def test_gemini_framing_uses_crlf_and_no_done(server: ReplayServer, api: str) -> None:
    response = post(server, api, model="gemini-2.5-flash")
    assert response.headers["content-type"] == "text/event-stream"
    recording = bundled("google-generative-ai")
    expected = b"".join(b"data: " + event + b"\r\n\r\n" for event in recording.events if isinstance(event, bytes))
    assert response.content == expected
    assert [json.loads(data) for _, data in sse_events(response.content)] == lines_of(recording)


def test_bedrock_event_stream_framing(server: ReplayServer) -> None:
    response = post(server, "bedrock-converse-stream", model="us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert response.headers["x-amzn-requestid"]
    messages = decode_eventstream(response.content)
    lines = lines_of(bundled("bedrock-converse-stream"))
    assert len(messages) == len(lines)
    for (headers, payload), line in zip(messages, lines):
        ((event_type, body),) = line.items()
        assert headers == {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
        assert json.loads(payload) == body


def test_multi_line_payloads_become_several_data_lines(server: ReplayServer) -> None:
    pretty = b'{\n  "type": "ping"\n}'
    server.enqueue(Replay([pretty], api="anthropic-messages"))
    response = post(server, "anthropic-messages")
    assert response.content == b'event: ping\ndata: {\ndata:   "type": "ping"\ndata: }\n\n'
    assert json.loads(sse_events(response.content)[0][1]) == {"type": "ping"}


def test_in_memory_payloads_and_raw_bytes(server: ReplayServer) -> None:
    payloads = [{"a": 1}, '{"b": 2}', b'{"c":3}', Raw(b": a comment line\n\n")]
    server.enqueue(Replay(payloads, api="openai-completions"))
    response = post(server, "openai-completions")
    assert response.content == (
        b'data: {"a":1}\n\ndata: {"b": 2}\n\ndata: {"c":3}\n\n: a comment line\n\ndata: [DONE]\n\n'
    )


def test_generated_recording_streams_lazily(server: ReplayServer) -> None:
    def many() -> Iterator[dict[str, int]]:
        return ({"i": index} for index in range(5000))

    server.enqueue(Replay(many, api="openai-completions", chunking="bytes=4096"))
    events = sse_events(post(server, "openai-completions").content)
    assert len(events) == 5001
    assert json.loads(events[4999][1]) == {"i": 4999}


# -- every shared fixture, replayed --------------------------------------------------------------

_FIXTURE_APIS = {
    "openai-chat-completions": "openai-completions",
    "mistral-chat-completions": "mistral-conversations",
    "anthropic-messages": "anthropic-messages",
    "openai-responses": "openai-responses",
    "google-generate-content": "google-generative-ai",
    "bedrock-converse-stream": "bedrock-converse-stream",
}


def _shared_fixtures() -> list[tuple[str, str]]:
    index = support.FIXTURES / "index.json"
    if not index.is_file():
        return []
    files = json.loads(index.read_text())["files"]
    return [
        (entry["local_path"][: -len(".chunks.txt")], _FIXTURE_APIS[entry["wire_api"]])
        for entry in files
        if entry["wire_api"] in _FIXTURE_APIS
    ]


@pytest.fixture(scope="module")
def fixture_server() -> Iterator[ReplayServer]:
    support.require_shared()
    with ReplayServer(recording_dirs=[support.FIXTURES]) as replay_server:
        yield replay_server


@pytest.mark.parametrize(("name", "api"), _shared_fixtures())
def test_every_shared_fixture_replays_in_its_framing(fixture_server: ReplayServer, name: str, api: str) -> None:
    expected = lines_of(load_recording(support.FIXTURES / f"{name}.chunks.txt"))
    response = post(fixture_server, api, headers={REPLAY_HEADER: name})
    assert response.status_code == 200, response.text
    assert response.headers["x-alchemy-replay"] == name.rsplit("/", 1)[-1]
    if api == "bedrock-converse-stream":
        received = [{headers[":event-type"]: json.loads(payload)} for headers, payload in decode_eventstream(response.content)]
    else:
        received = [json.loads(data) for _, data in sse_events(response.content) if data != "[DONE]"]
    assert received == expected


# -- chunking ------------------------------------------------------------------------------------


def test_parse_chunking() -> None:
    assert parse_chunking("event") == ByEvent()
    assert parse_chunking("bytes=7") == ByBytes(7)
    assert parse_chunking("bytes:7") == ByBytes(7)
    assert parse_chunking(3) == ByBytes(3)
    assert parse_chunking("random") == RandomSizes()
    assert parse_chunking("random=42") == RandomSizes(seed=42)
    assert parse_chunking(RandomSizes(1, 5)) == RandomSizes(1, 5)
    for bad in ("bytes", "bytes=0", "lines", "random=x", "event=2"):
        with pytest.raises(ValueError, match="chunking"):
            parse_chunking(bad)
    with pytest.raises(ValueError):
        Replay(chunking="nope")


def test_split_writes_by_bytes_crosses_event_boundaries() -> None:
    pieces = [b"abc", b"defghij", b"k", b"lmnopqrstu"]
    writes = list(split_writes(pieces, ByBytes(4)))
    assert writes == [b"abcd", b"efgh", b"ijkl", b"mnop", b"qrst", b"u"]
    assert list(split_writes(pieces, ByEvent())) == pieces


def test_split_writes_random_is_reproducible_and_bounded() -> None:
    pieces = [bytes([65 + index % 26]) * (index % 17 + 1) for index in range(200)]
    first = list(split_writes(pieces, RandomSizes(seed=7, max_size=9)))
    again = list(split_writes(pieces, RandomSizes(seed=7, max_size=9)))
    other = list(split_writes(pieces, RandomSizes(seed=8, max_size=9)))
    assert first == again != other
    assert b"".join(first) == b"".join(pieces) == b"".join(other)
    assert all(1 <= len(write) <= 9 for write in first)


def _planned_writes(replay: Replay, api: str = "openai-completions") -> list[Any]:
    recording = replay.recording if isinstance(replay.recording, Recording) else bundled(api)
    plan = plan_response(replay, recording, api, "req")
    assert plan.steps is not None
    return list(plan.steps)


def test_plan_writes_follow_the_chunking() -> None:
    recording = bundled("openai-completions")
    by_event = _planned_writes(Replay(recording))
    assert by_event[0] == b"data: " + recording.events[0] + b"\n\n"
    assert len(by_event) == len(recording) + 1
    by_bytes = _planned_writes(Replay(recording, chunking="bytes=7"))
    assert all(len(write) == 7 for write in by_bytes[:-1])
    assert b"".join(by_bytes) == b"".join(by_event)
    randomly = _planned_writes(Replay(recording, chunking=RandomSizes(seed=3, max_size=50)))
    assert b"".join(randomly) == b"".join(by_event)
    assert {len(write) for write in randomly} != {50}


def test_plan_flushes_a_partial_write_before_a_pause() -> None:
    recording = Recording("r", (b'{"a":1}', b'{"b":2}'))
    steps = _planned_writes(Replay(recording, chunking="bytes=5", faults=[Stall(0.5, after_events=1)]))
    pause_at = steps.index(Pause(0.5))
    assert b"".join(steps[:pause_at]) == b'data: {"a":1}\n\n'
    assert b"".join(steps[pause_at + 1 :]) == b'data: {"b":2}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("chunking", ["event", "bytes=7", "bytes=1", "random", "random=99"])
@pytest.mark.parametrize("api", ["openai-completions", "anthropic-messages", "google-generative-ai", "bedrock-converse-stream"])
def test_every_chunking_delivers_the_same_bytes(server: ReplayServer, api: str, chunking: str) -> None:
    reference = post(server, api).content
    server.enqueue(Replay(chunking=chunking))
    assert post(server, api).content == reference


def test_pacing_delays_between_writes(server: ReplayServer) -> None:
    server.enqueue(Replay([{"i": index} for index in range(6)], api="openai-completions", delay=0.02))
    started = time.monotonic()
    response = post(server, "openai-completions")
    assert time.monotonic() - started >= 0.1  # six writes and [DONE]: six pauses of 20 ms
    assert len(sse_events(response.content)) == 7


# -- faults --------------------------------------------------------------------------------------


def test_drop_after_events_closes_without_terminator(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[Drop(after_events=3)]))
    response, body, error = stream_until_error(server, "openai-completions")
    assert response.status_code == 200
    assert isinstance(error, httpx.RemoteProtocolError)
    events = sse_events(body)
    assert len(events) == 3
    assert [json.loads(data) for _, data in events] == lines_of(bundled("openai-completions"))[:3]


def test_drop_after_all_events_loses_only_the_done_sentinel(server: ReplayServer) -> None:
    count = len(bundled("openai-completions"))
    server.enqueue(Replay(faults=[Drop(after_events=count)]))
    _, body, error = stream_until_error(server, "openai-completions")
    assert isinstance(error, httpx.RemoteProtocolError)
    assert b"[DONE]" not in body
    assert len(sse_events(body)) == count


@pytest.mark.parametrize("chunking", ["event", "bytes=7"])
def test_drop_after_bytes_cuts_inside_an_event(server: ReplayServer, chunking: str) -> None:
    reference = post(server, "anthropic-messages").content
    server.enqueue(Replay(chunking=chunking, faults=[Drop(after_bytes=100)]))
    _, body, error = stream_until_error(server, "anthropic-messages")
    assert isinstance(error, httpx.RemoteProtocolError)
    assert body == reference[:100]


def test_drop_before_headers(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[Drop(before_headers=True)]))
    with pytest.raises(httpx.RemoteProtocolError):
        post(server, "openai-completions")
    assert post(server, "openai-completions").status_code == 200  # the next request is served


def test_drop_needs_exactly_one_position() -> None:
    for bad in (Drop, lambda: Drop(after_events=1, after_bytes=2), lambda: Drop(after_events=-1)):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize(
    ("api", "status", "check"),
    [
        ("anthropic-messages", 429, lambda body: body["error"]["type"] == "rate_limit_error" and body["type"] == "error"),
        ("anthropic-messages", 529, lambda body: body["error"] == {"type": "overloaded_error", "message": "Overloaded"}),
        ("anthropic-messages", 500, lambda body: body["error"]["type"] == "api_error"),
        ("openai-completions", 429, lambda body: body["error"]["code"] == "rate_limit_exceeded"),
        ("openai-completions", 500, lambda body: body["error"]["type"] == "server_error"),
        ("openai-responses", 503, lambda body: body["error"]["type"] == "server_error"),
        ("google-generative-ai", 429, lambda body: body["error"]["status"] == "RESOURCE_EXHAUSTED"),
        ("google-vertex", 503, lambda body: body["error"] == {"code": 503, "message": body["error"]["message"], "status": "UNAVAILABLE"}),
        ("bedrock-converse-stream", 429, lambda body: set(body) == {"message"}),
        ("mistral-conversations", 429, lambda body: body["object"] == "error" and body["code"] == "429"),
    ],
)
def test_http_errors_are_provider_shaped(server: ReplayServer, api: str, status: int, check: Any) -> None:
    server.enqueue(Replay.http_error(status, api=api if api == "mistral-conversations" else None))
    response = post(server, api)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert check(response.json()), response.text
    if api == "bedrock-converse-stream":
        assert response.headers["x-amzn-errortype"].startswith("ThrottlingException:")
    if status == 529:
        assert response.reason_phrase == "Overloaded"


def test_http_error_retry_after_headers_and_custom_message(server: ReplayServer) -> None:
    server.enqueue(
        Replay.http_error(429, retry_after=2, message="slow down"),
        Replay.http_error(429, retry_after=0.05, retry_after_ms=50),
        Replay.http_error(503, retry_after=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        Replay(faults=[HttpError(500, body=b"not json", headers={"x-extra": "1"})]),
    )
    first = post(server, "openai-completions")
    assert first.headers["retry-after"] == "2"
    assert "retry-after-ms" not in first.headers
    assert first.json()["error"]["message"] == "slow down"
    second = post(server, "openai-completions")
    assert (second.headers["retry-after"], second.headers["retry-after-ms"]) == ("0.05", "50")
    assert post(server, "openai-completions").headers["retry-after"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    fourth = post(server, "openai-completions")
    assert (fourth.status_code, fourth.content, fourth.headers["x-extra"]) == (500, b"not json", "1")


def test_rate_limited_then_success_sequence(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(429, retry_after=0), Replay.http_error(503), Replay("anthropic-messages"))
    assert server.queued == 3
    statuses = [post(server, "anthropic-messages").status_code for _ in range(4)]
    assert statuses == [429, 503, 200, 200]  # the last one is the default replay
    assert [request.replay for request in server.requests] == [
        "http-429",
        "http-503",
        "anthropic-messages",
        "anthropic-messages",
    ]
    assert server.queued == 0


def test_stall_at_start_trips_a_read_timeout(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[Stall(1.0, after_events=0)]))
    with httpx.Client(timeout=httpx.Timeout(10.0, read=0.1)) as client:
        with client.stream("POST", server.url_for("openai-completions"), json={}) as response:
            assert response.status_code == 200  # headers arrived; the body stalls
            with pytest.raises(httpx.ReadTimeout):
                response.read()


def test_stall_mid_stream_then_resume(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[Stall(0.15, after_events=2)]))
    started = time.monotonic()
    response = post(server, "openai-completions")
    assert time.monotonic() - started >= 0.15
    assert response.content == post(server, "openai-completions").content


def test_stall_then_drop(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[Stall(0.05, after_events=4, resume=False)]))
    _, body, error = stream_until_error(server, "anthropic-messages")
    assert isinstance(error, httpx.RemoteProtocolError)
    assert len(sse_events(body)) == 4


def test_stall_before_headers_delays_the_response(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[Stall(0.15, before_headers=True)]))
    started = time.monotonic()
    assert post(server, "openai-completions").status_code == 200
    assert time.monotonic() - started >= 0.15
    server.enqueue(Replay(faults=[Stall(0.5, before_headers=True)]))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url_for("openai-completions"), json={}, timeout=httpx.Timeout(10.0, read=0.05))


@pytest.mark.parametrize("replace", [False, True])
def test_malformed_json_chunk(server: ReplayServer, replace: bool) -> None:
    recording = bundled("openai-completions")
    server.enqueue(Replay(faults=[MalformedJson(after_events=2, replace=replace)]))
    events = sse_events(post(server, "openai-completions").content)
    assert len(events) == len(recording) + (1 if not replace else 0) + 1
    broken = events[2][1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)
    assert recording.events[2].startswith(broken.encode())  # type: ignore[union-attr]
    following = [json.loads(data) for _, data in events[3:-1]]
    assert following == lines_of(recording)[2 if not replace else 3 :]


def test_malformed_json_keeps_the_event_name(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[MalformedJson(after_events=3)]))
    events = sse_events(post(server, "anthropic-messages").content)
    assert events[3][0] == events[4][0] == "content_block_delta"
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[3][1])


def test_malformed_bedrock_payload_keeps_valid_frames(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[MalformedJson(after_events=1, replace=True)]))
    messages = decode_eventstream(post(server, "bedrock-converse-stream").content)
    assert messages[1][0][":event-type"] == "contentBlockDelta"
    with pytest.raises(json.JSONDecodeError):
        json.loads(messages[1][1])


def test_invalid_utf8_in_a_data_line(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[InvalidUtf8(after_events=3)]))
    body = post(server, "anthropic-messages").content
    assert b"\xff\xfe" in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    events = sse_events(body)
    damaged = json.loads(events[3][1])  # the decoder replaced the bytes with U+FFFD: still JSON
    assert damaged["type"] == "content_block_delta"
    assert damaged["delta"]["thinking"].endswith("\ufffd\ufffd")


def test_invalid_utf8_in_a_bedrock_payload(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[InvalidUtf8(after_events=1)]))
    messages = decode_eventstream(post(server, "bedrock-converse-stream").content)
    assert b"\xff\xfe" in messages[1][1]
    assert json.loads(messages[1][1].decode("utf-8", "replace"))["delta"]["reasoningContent"]["text"].endswith("\ufffd\ufffd")


def test_invalid_utf8_data_must_be_invalid() -> None:
    with pytest.raises(ValueError, match="must not be valid UTF-8"):
        InvalidUtf8(data=b"ok")


def test_error_event_anthropic(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[ErrorEvent(after_events=5)]))
    events = sse_events(post(server, "anthropic-messages").content)
    assert len(events) == 6
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1]) == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_error_event_chat_completions_has_no_done(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[ErrorEvent(after_events=2, message="boom")]))
    events = sse_events(post(server, "openai-completions").content)
    assert len(events) == 3
    assert json.loads(events[-1][1])["error"] == {"message": "boom", "type": "server_error", "param": None, "code": None}


def test_error_event_responses_and_gemini(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[ErrorEvent(after_events=2, error_type="insufficient_quota")]))
    events = sse_events(post(server, "openai-responses").content)
    assert events[-1][0] == "error"
    payload = json.loads(events[-1][1])
    assert (payload["type"], payload["sequence_number"], payload["error"]["code"]) == ("error", 2, "insufficient_quota")
    server.enqueue(Replay(faults=[ErrorEvent(after_events=1)]))
    events = sse_events(post(server, "google-generative-ai").content)
    assert json.loads(events[-1][1])["error"]["status"] == "UNAVAILABLE"
    assert len(events) == 2


def test_error_event_then_resume(server: ReplayServer) -> None:
    recording = bundled("anthropic-messages")
    server.enqueue(Replay(faults=[ErrorEvent(after_events=1, resume=True)]))
    events = sse_events(post(server, "anthropic-messages").content)
    assert len(events) == len(recording) + 1
    assert events[1][0] == "error"


def test_bedrock_exception_frame(server: ReplayServer) -> None:
    server.enqueue(Replay(faults=[ErrorEvent(after_events=3)]))
    messages = decode_eventstream(post(server, "bedrock-converse-stream").content)
    assert len(messages) == 4
    headers, payload = messages[-1]
    assert headers == {
        ":exception-type": "throttlingException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert json.loads(payload) == {"message": "Too many tokens, please wait before trying again."}
    server.enqueue(Replay(faults=[ErrorEvent(after_events=0, error_type="validationException", message="bad input")]))
    ((headers, payload),) = decode_eventstream(post(server, "bedrock-converse-stream").content)
    assert (headers[":exception-type"], json.loads(payload)) == ("validationException", {"message": "bad input"})


@pytest.mark.parametrize(("part", "problem"), [("message", "message CRC"), ("prelude", "prelude CRC")])
def test_bedrock_corrupt_frame(server: ReplayServer, part: str, problem: str) -> None:
    good = post(server, "bedrock-converse-stream").content
    server.enqueue(Replay(faults=[CorruptFrame(after_events=2, part=part)]))  # type: ignore[arg-type]
    bad = post(server, "bedrock-converse-stream").content
    assert len(bad) == len(good) and bad != good
    first_length = struct.unpack_from(">I", good, 0)[0]
    two_frames = first_length + struct.unpack_from(">I", good, first_length)[0]
    assert decode_eventstream(bad[:two_frames]) == decode_eventstream(good[:two_frames])
    with pytest.raises(AssertionError, match=problem):
        decode_eventstream(bad)


def test_corrupt_frame_on_an_sse_api_is_refused() -> None:
    with pytest.raises(ValueError, match="bedrock-converse-stream only"):
        Replay(api="anthropic-messages", faults=[CorruptFrame()])
    with pytest.raises(ReplayServerError, match="bedrock-converse-stream only"):
        with ReplayServer() as server:
            server.enqueue(Replay(faults=[CorruptFrame()]))
            response = post(server, "openai-completions")
            assert response.status_code == 500
            assert "bedrock-converse-stream only" in response.json()["error"]["message"]
            assert len(server.errors) == 1


def test_faults_past_the_end_of_a_recording_fail_at_enqueue(server: ReplayServer) -> None:
    with pytest.raises(ValueError, match="has only"):
        server.enqueue(Replay("anthropic-messages", faults=[InvalidUtf8(after_events=1000)]))
    with pytest.raises(ValueError, match="at most one HttpError"):
        Replay(faults=[HttpError(429), HttpError(500)])
    with pytest.raises(TypeError, match="not a fault"):
        Replay(faults=["drop"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown wire API"):
        Replay(api="smoke-signals")


# -- routing, selection, request recording ----------------------------------------------------------


def test_unknown_path_and_method(server: ReplayServer) -> None:
    response = httpx.post(server.base_url + "/v1/embeddings", json={}, timeout=TIMEOUT)
    assert response.status_code == 404
    assert "no replay route" in response.json()["error"]["message"]
    response = httpx.get(server.url_for("openai-completions"), timeout=TIMEOUT)
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert [request.replay for request in server.requests] == ["not-found", "method-not-allowed"]


def test_gemini_without_alt_sse_is_a_clear_400(server: ReplayServer) -> None:
    response = httpx.post(
        server.base_url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent", json={}, timeout=TIMEOUT
    )
    assert response.status_code == 400
    assert "alt=sse" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "api", "model"),
    [
        ("/v1/chat/completions", "openai-completions", None),
        ("/api/v1/chat/completions", "openai-completions", None),
        ("/v1/messages", "anthropic-messages", None),
        ("/v1/responses", "openai-responses", None),
        ("/openai/v1/responses", "azure-openai-responses", None),
        ("/openai/deployments/my-gpt/responses", "azure-openai-responses", "my-gpt"),
        ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "google-generative-ai", "gemini-2.5-pro"),
        (
            "/v1/projects/p1/locations/europe-west4/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            "google-vertex",
            "gemini-2.5-flash",
        ),
        ("/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream", "bedrock-converse-stream", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ],
)
def test_routes(server: ReplayServer, path: str, api: str, model: str | None) -> None:
    response = httpx.post(server.base_url + path, json={}, timeout=TIMEOUT)
    assert response.status_code == 200
    request = server.last_request
    assert (request.api, request.model) == (api, model)


def test_base_url_for_gives_the_provider_base(server: ReplayServer) -> None:
    assert server.base_url_for("openai-completions") == server.base_url + "/v1"
    assert server.base_url_for("anthropic-messages") == server.base_url
    assert server.base_url_for("azure-openai-responses") == server.base_url + "/openai/v1"
    assert server.base_url_for("google-generative-ai") == server.base_url + "/v1beta"
    bases = {
        "openai-completions": "/chat/completions",
        "mistral-conversations": "/chat/completions",
        "anthropic-messages": "/v1/messages",
        "openai-responses": "/responses",
        "azure-openai-responses": "/responses",
        "google-generative-ai": "/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "bedrock-converse-stream": "/model/amazon.nova-pro-v1%3A0/converse-stream",
    }
    for api, suffix in bases.items():
        model = "amazon.nova-pro-v1:0" if api.startswith("bedrock") else "gemini-2.5-flash"
        assert server.url_for(api, model) == server.base_url_for(api) + suffix
        assert httpx.post(server.url_for(api, model), json={}, timeout=TIMEOUT).status_code == 200
    with pytest.raises(ValueError, match="unknown wire API"):
        server.base_url_for("carrier-pigeon")


def test_requests_are_recorded_with_secrets_redacted(server: ReplayServer) -> None:
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    post(server, "anthropic-messages", json=body, headers={"x-api-key": "sk-ant-SECRET", "anthropic-version": "2023-06-01"})
    httpx.post(
        server.url_for("google-generative-ai", "gemini-2.5-flash") + "&key=AIzaSECRET",
        json={"contents": []},
        headers={"x-goog-api-key": "AIzaSECRET2", "authorization": "Bearer sk-SECRET3"},
        timeout=TIMEOUT,
    )
    first, second = server.requests
    assert (first.method, first.path, first.api, first.model) == ("POST", "/v1/messages", "anthropic-messages", "claude-sonnet-4-5")
    assert first.json == body
    assert orjson.loads(first.body) == body
    assert first.headers["X-API-Key"] == "sk-ant-SECRET"  # kept for assertions, case-insensitive
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert second.query_params == {"alt": ["sse"], "key": ["AIzaSECRET"]}
    assert second.model == "gemini-2.5-flash"
    shown = repr(server.requests) + str(first) + str(second) + repr(second.headers)
    assert "SECRET" not in shown
    assert "Bearer [redacted]" in shown
    assert "key=[redacted]" in shown
    assert first.index == 0 and second.index == 1


def test_headers_and_query_redaction_helpers() -> None:
    headers = Headers([("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/..."), ("Accept", "a"), ("accept", "b")])
    assert headers["accept"] == "a, b"
    assert headers.get_all("ACCEPT") == ["a", "b"]
    assert headers.redacted()["authorization"] == "AWS4-HMAC-SHA256 [redacted]"
    assert "AKIA" not in repr(headers)
    assert redact_query("alt=sse&key=abc&api_key=def") == "alt=sse&key=[redacted]&api_key=[redacted]"


def test_request_recording_is_thread_safe(server: ReplayServer) -> None:
    def worker(number: int) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            for round_number in range(5):
                client.post(server.url_for("openai-completions"), json={"model": f"m-{number}-{round_number}"})

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    requests = server.requests
    assert len(requests) == 40
    assert sorted(request.index for request in requests) == list(range(40))
    assert {request.model for request in requests} == {f"m-{n}-{r}" for n in range(8) for r in range(5)}


def test_queue_is_fifo_and_the_header_wins_without_consuming_it(server: ReplayServer) -> None:
    server.enqueue(Replay([{"n": 1}]), Replay([{"n": 2}]))
    selected = post(server, "openai-completions", headers={REPLAY_HEADER: "mistral-conversations"})
    assert selected.headers["x-alchemy-replay"] == "mistral-conversations"
    assert server.queued == 2
    first = sse_events(post(server, "openai-completions").content)
    second = sse_events(post(server, "openai-completions").content)
    assert (first[0][1], second[0][1]) == ('{"n":1}', '{"n":2}')
    assert sse_events(post(server, "openai-completions").content)[0][1].startswith('{"id":"3f6a1c2e')  # default


def test_header_selects_a_registered_replay(server: ReplayServer) -> None:
    server.register("flaky", Replay.http_error(529))
    assert post(server, "anthropic-messages", headers={REPLAY_HEADER: "flaky"}).status_code == 529
    assert post(server, "anthropic-messages", headers={REPLAY_HEADER: "flaky"}).status_code == 529
    assert server.last_request.replay == "flaky"


def test_header_with_unknown_or_path_like_names_is_a_404(server: ReplayServer, tmp_path: Any) -> None:
    secret = tmp_path / "private.chunks.txt"
    secret.write_text('{"x": 1}\n')
    for name in ("no-such-recording", str(secret), "../private", "a/../../b"):
        response = post(server, "openai-completions", headers={REPLAY_HEADER: name})
        assert response.status_code == 404, name
        assert response.json()["error"]["type"] == "not_found_error"
    assert server.errors == []


def test_default_replay_is_configurable(server: ReplayServer) -> None:
    server.default = Replay("anthropic-messages", api="anthropic-messages", chunking="bytes=3")
    assert sse_events(post(server, "openai-completions").content)[0][0] == "message_start"
    server.default = Replay("mistral-conversations")  # a named recording, in the route's framing
    response = post(server, "openai-completions")
    assert response.headers["x-alchemy-replay"] == "mistral-conversations"
    assert [json.loads(data) for _, data in sse_events(response.content)[:-1]] == lines_of(
        bundled("mistral-conversations")
    )
    selected = post(server, "openai-completions", headers={REPLAY_HEADER: "openai-completions"})
    assert sse_events(selected.content)[-1][1] == "[DONE]"
    server.default = None
    response = post(server, "openai-completions")
    assert response.status_code == 500
    assert "queue is empty" in response.json()["error"]["message"]
    server.enqueue(Replay())
    assert post(server, "openai-completions").status_code == 200


def test_reset_forgets_requests_queue_and_errors(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(500))
    post(server, "openai-completions", headers={REPLAY_HEADER: "missing"})
    server.reset()
    assert (server.requests, server.queued, server.errors) == ([], 0, [])
    with pytest.raises(LookupError, match="no request"):
        _ = server.last_request


# -- recordings ------------------------------------------------------------------------------------


def test_bundled_recordings_cover_each_api_and_parse() -> None:
    names = bundled_recording_names()
    assert {"openai-completions", "anthropic-messages", "openai-responses", "google-generative-ai", "bedrock-converse-stream"} <= set(names)
    for name in names:
        recording = bundled(name)
        assert len(recording) >= 5
        assert all(isinstance(orjson.loads(event), dict) for event in recording.events)  # type: ignore[arg-type]


def test_bundled_chat_completions_recording_has_text_reasoning_and_a_tool_call() -> None:
    chunks = lines_of(bundled("openai-completions"))
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    reasoning = "".join(delta.get("reasoning_content") or "" for delta in deltas)
    text = "".join(delta.get("content") or "" for delta in deltas)
    arguments = "".join(call["function"].get("arguments", "") for delta in deltas for call in delta.get("tool_calls", []))
    assert "Paris" in reasoning and "Paris" in text
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert sum(1 for delta in deltas for _ in delta.get("tool_calls", [])) > 3  # arguments arrive in pieces
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_chunks_text_parsing_and_library_lookup(tmp_path: Any) -> None:
    assert parse_chunks_text(b'{"a":1}\r\n\n  \n{"b":2}', "x").events == (b'{"a":1}', b'{"b":2}')
    folder = tmp_path / "fixtures"
    (folder / "one").mkdir(parents=True)
    (folder / "two").mkdir()
    (folder / "one" / "same.chunks.txt").write_text('{"n":1}\n')
    (folder / "two" / "same.chunks.txt").write_text('{"n":2}\n')
    (folder / "two" / "unique.chunks.txt").write_text('{"n":3}')
    library = RecordingLibrary([folder])
    assert library.get("unique").events == (b'{"n":3}',)
    assert library.get("one/same").events == (b'{"n":1}',)
    assert library.get(folder / "two" / "same.chunks.txt").events == (b'{"n":2}',)
    assert library.get("anthropic-messages").name == "anthropic-messages"
    with pytest.raises(RecordingNotFoundError, match="ambiguous"):
        library.get("same")
    with pytest.raises(RecordingNotFoundError, match="no recording named"):
        library.get("absent")
    with pytest.raises(RecordingNotFoundError, match="not found"):
        library.get(str(tmp_path / "absent.chunks.txt"))
    with pytest.raises(TypeError, match="wrap it in a list"):
        library.resolve(b'{"a":1}')  # type: ignore[arg-type]


def test_enqueue_resolves_recordings_at_once(server: ReplayServer) -> None:
    with pytest.raises(RecordingNotFoundError):
        server.enqueue(Replay("does-not-exist"))
    with pytest.raises(TypeError):
        server.enqueue("anthropic-messages")  # type: ignore[arg-type]
    assert server.queued == 0


# -- the event-stream encoder ------------------------------------------------------------------------


def test_eventstream_encoder_against_the_independent_decoder() -> None:
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    message = encode_message(
        {"s": "text", "b": b"\x00\x01", "t": True, "f": False, "i": -5, "l": 2**40, "ts": moment, "u": ident},
        b"payload",
    )
    ((headers, payload),) = decode_eventstream(message)
    assert payload == b"payload"
    assert headers == {
        "s": "text", "b": b"\x00\x01", "t": True, "f": False, "i": -5, "l": 2**40,
        "ts": int(moment.timestamp() * 1000), "u": ident,
    }  # fmt: skip
    event = encode_event("messageStop", b'{"stopReason":"end_turn"}')
    assert decode_eventstream(event)[0][0][":message-type"] == "event"
    exception = encode_exception("modelStreamErrorException", b'{"message":"x"}')
    assert decode_eventstream(exception)[0][0][":exception-type"] == "modelStreamErrorException"
    with pytest.raises(AssertionError, match="message CRC"):
        decode_eventstream(with_bad_message_crc(event))
    with pytest.raises(AssertionError, match="prelude CRC"):
        decode_eventstream(with_bad_prelude_crc(event))
    with pytest.raises(ValueError):
        encode_message({"": "empty name"}, b"")
    with pytest.raises(ValueError):
        encode_message({"big": "x" * 70000}, b"")


# -- concurrency -------------------------------------------------------------------------------------


def test_two_hundred_concurrent_async_streams() -> None:
    streams = 200

    async def one(client: httpx.AsyncClient, url: str) -> int:
        decoder = SSEDecoder()
        count = 0
        async with client.stream("POST", url, json={}) as response:
            async for chunk in response.aiter_raw():
                count += len(decoder.feed(chunk))
        return count

    async def scenario(server: ReplayServer) -> list[int]:
        limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits) as client:
            url = server.url_for("anthropic-messages")
            return await asyncio.gather(*(one(client, url) for _ in range(streams)))

    with ReplayServer(default=Replay(chunking="bytes=256", delay=0.001)) as server:
        counts = asyncio.run(scenario(server))
        assert len(server.requests) == streams
    assert counts == [len(bundled("anthropic-messages"))] * streams


def test_a_raw_socket_sees_http_1_1_chunked_framing(server: ReplayServer) -> None:
    server.enqueue(Replay([{"a": 1}], api="openai-completions"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b'f\r\ndata: {"a":1}\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n'


# -- CLI -----------------------------------------------------------------------------------------------


def test_cli_builds_the_server_it_would_serve() -> None:
    args = build_parser().parse_args(
        ["serve", "--recording", "anthropic-messages", "--api", "anthropic-messages", "--chunking", "bytes=512"]
        + ["--delay", "0.001"]
    )
    server = build_server(args)
    assert server.default is not None
    assert (server.default.api, server.default.chunking, server.default.delay) == ("anthropic-messages", ByBytes(512), 0.001)
    assert isinstance(server.default.recording, Recording)
    with server:
        events = sse_events(post(server, "openai-completions").content)
    assert events[0][0] == "message_start"


def test_cli_lists_recordings_and_reports_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recordings"]) == 0
    assert "anthropic-messages" in capsys.readouterr().out
    assert main(["serve", "--recording", "no-such-thing"]) == 2
    assert "no recording named" in capsys.readouterr().err
    assert main(["serve", "--chunking", "sideways"]) == 2


def test_plan_of_a_hang_up_ends_the_steps() -> None:
    steps = _planned_writes(Replay(bundled("openai-completions"), faults=[Drop(after_events=1)]))
    assert steps[-1] is HANG_UP
    assert len(steps) == 2


def test_http_1_0_clients_get_a_close_delimited_body(server: ReplayServer) -> None:
    server.enqueue(Replay([{"a": 1}], api="openai-completions"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body == b'data: {"a":1}\n\ndata: [DONE]\n\n'


def test_a_client_leaving_mid_stream_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with ReplayServer() as server:
        server.enqueue(Replay([{"i": index} for index in range(2000)], api="openai-completions", delay=0.001))
        with httpx.Client(timeout=TIMEOUT) as client:
            with client.stream("POST", server.url_for("openai-completions"), json={}) as response:
                next(response.iter_raw())
        time.sleep(0.1)  # the server notices on its next writes
        assert post(server, "anthropic-messages").status_code == 200
        assert server.errors == []
    assert not [record for record in caplog.records if record.levelno >= 30], caplog.text
