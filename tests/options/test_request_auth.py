"""The request description and its authentication step (:mod:`alchemy.request`).

The runner applies a request's auth once per attempt, to the encoded bytes after
``on_payload``; the credentials behind it are looked up once per request. Checked
with a small provider of its own, then with the two real auths: Bedrock's SigV4
signer and Vertex AI's Application Default Credentials, all against the replay
server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from bedrock_oracle import AWS_VARIABLES, verify_sigv4

import alchemy
from alchemy.api_registry import register_api, unregister_api
from alchemy.emitter import EventEmitter
from alchemy.errors import ProviderError, StreamInterruptedError
from alchemy.models import get_model
from alchemy.providers import _aws
from alchemy.providers import bedrock_converse_stream as bedrock
from alchemy.providers.base import HttpProvider, SSEParser
from alchemy.request import Auth, HttpRequest, redact
from alchemy.testing import Replay, ReplayServer
from alchemy.testing.routes import VERTEX_LOCATION, VERTEX_PROJECT
from alchemy.types import AssistantMessage, Context, Model, UserMessage
from support import FAKE_AWS_SECRET

API = "auth-step-test"
CONTEXT = Context(messages=[UserMessage("hi")])
FAST: dict[str, Any] = {"max_retry_delay": 0.01}
SECRET = FAKE_AWS_SECRET


def run(mode: str, model: Model, **options: Any) -> AssistantMessage:
    if mode == "sync":
        return alchemy.complete(model, CONTEXT, **options)
    return asyncio.run(alchemy.acomplete(model, CONTEXT, **options))


# --------------------------------------------------------------------------- HttpRequest


def test_with_credentials_returns_an_applied_copy() -> None:
    auth = CountingAuth()
    request = HttpRequest("POST", "https://x/v1", {"Authorization": "old", "accept": "*/*"}, b"{}", ("k1",), auth)
    applied = request.with_credentials({"authorization": "Bearer new", "x-extra": "1"}, ["tok-123", "", "k1"])
    assert applied.headers == {"accept": "*/*", "authorization": "Bearer new", "x-extra": "1"}
    assert applied.secrets == ("k1", "tok-123") and applied.auth is None
    assert request.headers["Authorization"] == "old" and request.auth is auth  # the original is kept for the next attempt


def test_repr_and_redact_hide_every_secret() -> None:
    token = "tok-" "0123456789abcdef"
    request = HttpRequest("POST", f"https://x/?t={token}", {"x-custom": f"v {token}", "accept": "x"}, secrets=(token,))
    assert token not in repr(request) and "accept" in repr(request)
    assert "Bearer" not in repr(HttpRequest("GET", "https://x", {"Authorization": "Bearer abcdef"}))
    assert redact(f"a {token} b", [token]) == "a <redacted> b"
    assert redact("a ab b", ["ab"]) == "a ab b"  # too short to be a secret: words stay readable


def test_encoded_body() -> None:
    assert HttpRequest("POST", "u", {}, {"a": 1}).encoded_body() == b'{"a":1}'
    assert HttpRequest("POST", "u", {}, bytearray(b"raw")).encoded_body() == b"raw"
    assert HttpRequest("GET", "u", {}).encoded_body() is None


# --------------------------------------------------------------------------- the runner's step


class CountingAuth:
    """An auth that numbers its attempts in a header; ``fail_first`` makes the first attempt raise."""

    def __init__(self, fail_first: ProviderError | None = None) -> None:
        self.calls: list[str] = []
        self.bodies: list[bytes] = []
        self.fail_first = fail_first

    def _apply(self, request: HttpRequest, how: str) -> HttpRequest:
        self.calls.append(how)
        self.bodies.append(request.body)
        if self.fail_first is not None and len(self.calls) == 1:
            raise self.fail_first
        token = f"attempt-{len(self.calls)}-token"
        return request.with_credentials({"authorization": f"Bearer {token}"}, [token])

    def apply(self, request: HttpRequest) -> HttpRequest:
        return self._apply(request, "apply")

    async def aapply(self, request: HttpRequest) -> HttpRequest:
        return self._apply(request, "aapply")


class TextParser(SSEParser):
    """Chat-Completions-shaped text chunks; ``[DONE]`` ends the response."""

    __slots__ = ("finished",)

    def __init__(self, emitter: EventEmitter) -> None:
        super().__init__(emitter)
        self.finished = False

    def on_event(self, event: str, data: bytes) -> None:
        if data == b"[DONE]":
            self.finished = True
            self.emitter.done()
            return
        for choice in orjson.loads(data).get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                self.emitter.text_delta(text)

    def finish(self) -> None:
        if not self.finished:
            raise StreamInterruptedError("auth-step-test: the stream ended before [DONE]")


class AuthStepProvider(HttpProvider):
    """Builds a request carrying ``self.auth`` and counts how often it is built."""

    api = API
    label = "AuthStepTest"

    def __init__(self) -> None:
        self.auth: Auth = CountingAuth()
        self.builds = 0

    def build_request(self, model: Model, context: Context, options: Any) -> HttpRequest:
        self.builds += 1
        body = {"model": model.id, "stream": True}
        return HttpRequest("POST", f"{model.base_url}/chat/completions", {}, body, auth=self.auth)

    def create_parser(self, model: Model, options: Any, emitter: EventEmitter) -> TextParser:
        return TextParser(emitter)


RECORDING = [{"choices": [{"index": 0, "delta": {"content": "hello"}}]}]


@pytest.fixture
def provider() -> Iterator[AuthStepProvider]:
    instance = AuthStepProvider()
    register_api(API, instance)
    yield instance
    unregister_api(API)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.default = Replay(RECORDING, api="openai-completions")
        yield replay


def step_model(server: ReplayServer) -> Model:
    return Model("m", "m", API, "auth-step-test", server.base_url_for("openai-completions"))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_auth_is_applied_to_every_attempt_of_a_request_built_once(
    server: ReplayServer, provider: AuthStepProvider, mode: str
) -> None:
    server.enqueue(Replay.http_error(503, api="openai-completions"))

    def hook(body: dict[str, Any], model: Model) -> dict[str, Any]:
        return {**body, "hooked": True}

    message = run(mode, step_model(server), on_payload=hook, **FAST)
    assert message.stop_reason == "stop" and message.text == "hello", message.error_message
    auth = provider.auth
    assert isinstance(auth, CountingAuth)
    assert provider.builds == 1
    assert auth.calls == (["apply", "apply"] if mode == "sync" else ["aapply", "aapply"])
    assert all(orjson.loads(body)["hooked"] for body in auth.bodies)  # the encoded bytes, after on_payload
    first, second = server.requests[-2:]
    assert first.headers["authorization"] == "Bearer attempt-1-token"
    assert second.headers["authorization"] == "Bearer attempt-2-token"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_retryable_auth_failure_is_retried_and_another_ends_the_stream(
    server: ReplayServer, provider: AuthStepProvider, mode: str
) -> None:
    provider.auth = CountingAuth(fail_first=ProviderError("token service unreachable", retryable=True))
    message = run(mode, step_model(server), **FAST)
    assert message.stop_reason == "stop", message.error_message
    assert len(server.requests) == 1 and server.requests[0].headers["authorization"] == "Bearer attempt-2-token"

    provider.auth = CountingAuth(fail_first=ProviderError("the credentials were revoked"))
    failed = run(mode, step_model(server), **FAST)
    assert failed.stop_reason == "error" and failed.error_message == "the credentials were revoked"
    assert len(server.requests) == 1  # nothing more was sent


# --------------------------------------------------------------------------- Bedrock SigV4


@pytest.fixture
def aws_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Static AWS keys in the environment and nothing else from the machine."""
    pytest.importorskip("botocore")
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    _aws.forget_sessions()
    yield
    _aws.forget_sessions()


def counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Wraps ``owner.name`` so each call is noted (with its thread); returns the notes."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_bedrock_finds_credentials_once_and_signs_each_attempt(
    aws_keys: None, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    signers = counting(monkeypatch, bedrock, "credentials_signer")
    signatures = counting(monkeypatch, _aws.SigV4Signer, "apply")
    with ReplayServer() as server:
        server.enqueue(Replay.http_error(503, api="bedrock-converse-stream"), Replay(api="bedrock-converse-stream"))
        model = dataclasses.replace(
            get_model("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
            base_url=server.base_url_for("bedrock-converse-stream"),
        )
        message = run(mode, model, region="us-east-1", **FAST)
        assert message.stop_reason != "error", message.error_message
        assert len(signers) == 1 and len(signatures) == 2 == len(server.requests)
        for request in server.requests:
            verify_sigv4("POST", server.base_url + request.path, dict(request.headers.items()), request.body, SECRET, "us-east-1")


# --------------------------------------------------------------------------- Vertex AI credentials


class OneUseCredentials:
    """google-auth credentials whose token is good for one request: every attempt refreshes."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.fresh = False
        self.refreshed_in: list[int] = []
        self.project_id = VERTEX_PROJECT

    @property
    def valid(self) -> bool:
        return self.fresh

    def refresh(self, request: Any) -> None:
        self.refreshed_in.append(threading.get_ident())
        self.token = f"ya29.one-use-{len(self.refreshed_in)}"
        self.fresh = True

    def apply(self, headers: dict[str, str], token: str | None = None) -> None:
        headers["authorization"] = f"Bearer {self.token}"
        self.fresh = False


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vertex_finds_credentials_once_and_refreshes_the_token_per_attempt(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    google_auth = pytest.importorskip("google.auth")
    from alchemy.providers import _vertex_auth

    credentials = OneUseCredentials()
    lookups = counting(monkeypatch, _vertex_auth, "default_credentials")
    monkeypatch.setattr(_vertex_auth, "_found", {})
    monkeypatch.setattr(google_auth, "default", lambda **kwargs: (credentials, VERTEX_PROJECT))
    loop_thread: list[int] = []

    async def on_the_loop() -> AssistantMessage:
        loop_thread.append(threading.get_ident())
        return await alchemy.acomplete(model, CONTEXT, location=VERTEX_LOCATION, **FAST)

    with ReplayServer() as server:
        server.enqueue(Replay.http_error(503, api="google-vertex"), Replay(api="google-vertex"))
        model = Model("gemini-2.5-flash", "Gemini", "google-vertex", "google-vertex", server.base_url_for("google-vertex"))
        if mode == "sync":
            message = alchemy.complete(model, CONTEXT, location=VERTEX_LOCATION, **FAST)
        else:
            message = asyncio.run(on_the_loop())
        assert message.stop_reason != "error", message.error_message
        tokens = [request.headers["authorization"] for request in server.requests]
    assert len(lookups) == 1
    assert tokens == ["Bearer ya29.one-use-1", "Bearer ya29.one-use-2"]
    if mode == "async":
        assert loop_thread and loop_thread[0] not in credentials.refreshed_in  # refreshed off the event loop
    else:
        assert set(credentials.refreshed_in) == {threading.get_ident()}
    assert "ya29.one-use" not in (message.error_message or "")
