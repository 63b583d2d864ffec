"""Secrets never surface: the one redactor, keys cleaned at the call, and a probe over every wire API.

The probe streams every built-in wire API through the replay server with four
distinctive keys in play at once -- one in the provider's environment variables, one
passed as ``api_key=``, one in ``headers=`` (``Authorization``), one in the model's
headers -- each with trailing whitespace or newlines, and has the server echo all of
them (whole and in part) in in-stream error events, a malformed chunk, HTTP error
bodies (JSON and plain text) and retried errors, with ``ALCHEMY_LOG=debug``. Then it
searches every event repr, the message (repr and JSON), the exception
``raise_for_error`` raises, the stream, options and model reprs, every log record
and the replay server's recorded requests for any 8-character window of any key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import alchemy
from alchemy import Context, Model, UserMessage
from alchemy.api_registry import get_api
from alchemy.options import StreamOptions
from alchemy.providers.base import HttpProvider
from alchemy.request import REDACTED, WINDOW, HttpRequest, Secrets, clean_key, redact
from alchemy.testing import ErrorEvent, HttpError, Raw, Replay, ReplayServer
from alchemy.testing.eventstream import encode_event
from alchemy.testing.recordings import DEFAULT_RECORDING_FOR_API, RecordingLibrary
from support import WIRE_MODEL_IDS, bundled_registry, no_base_url_override, wire_model  # noqa: F401 (fixtures)

# Fake keys, split so that no scanner mistakes them for real ones.
ENV_KEY = "envkey-" "Q7f3K9pX2mZ8vB4nL6tR1wY5"
OPTION_KEY = "optkey-" "H2j8D4s6F1g9K3l7P5q0W8e2"
HEADER_KEY = "hdrkey-" "M3n7B1v5C9x2Z6a4S8d0F1g3"
MODEL_KEY = "mdlkey-" "R4t8Y2u6I0o3P7a1S5d9G2h4"
KEYS = (ENV_KEY, OPTION_KEY, HEADER_KEY, MODEL_KEY)


def echo(keys: tuple[str, ...]) -> str:
    """What the hostile server says back: every key it was sent, whole, and a head and a tail of each."""
    return " ".join([f"invalid credentials {', '.join(keys)};"] + [f"{k[:12]}... ...{k[-10:]}" for k in keys])


CONTEXT = Context(messages=[UserMessage("hi")])
FAST: dict[str, Any] = {"max_retries": 1, "max_retry_delay": 0.01}
APIS = list(WIRE_MODEL_IDS)


def windows(key: str) -> set[str]:
    return {key[i : i + WINDOW] for i in range(len(key) - WINDOW + 1)}


WINDOWS: set[str] = set().union(*(windows(key) for key in KEYS))


def leaks(texts: list[str]) -> list[str]:
    """Every text holding any 8-character window of any key (cut around the hit)."""
    found = []
    for text in texts:
        for window in WINDOWS:
            at = text.find(window)
            if at >= 0:
                found.append(text[max(0, at - 60) : at + 60])
                break
    return found


# --------------------------------------------------------------------------- the redactor


def test_a_secret_is_hidden_whole_in_part_and_with_its_trailing_newline() -> None:
    secrets = Secrets([f"{OPTION_KEY}\r\n"])
    text = f"key {OPTION_KEY}\n, head {OPTION_KEY[:9]}..., tail ...{OPTION_KEY[-8:]}, repr {OPTION_KEY!r}"
    shown = secrets.redact(text)
    assert not leaks([shown]) and shown.count(REDACTED) == 4
    assert shown.startswith("key <redacted>\n, head <redacted>...")


def test_short_runs_and_short_secrets() -> None:
    secrets = Secrets([OPTION_KEY, "abcd", "ab"])
    # Fewer than WINDOW characters of a long key are ordinary text; a short secret is hidden whole.
    assert secrets.redact(f"x {OPTION_KEY[:WINDOW - 1]} y") == f"x {OPTION_KEY[:WINDOW - 1]} y"
    assert secrets.redact("abcd and ab") == "<redacted> and ab"
    assert len(secrets) == 2 and "ab" not in secrets
    assert redact(f"a {OPTION_KEY} b", [OPTION_KEY]) == "a <redacted> b"
    assert OPTION_KEY not in repr(secrets)


def test_credential_headers_add_their_token_and_skip_structured_signatures() -> None:
    secrets = Secrets()
    secrets.add_headers(
        {"Authorization": f"Bearer {HEADER_KEY}\n", "X-Portkey-Api-Key": MODEL_KEY, "x-trace-id": "t-123456789"},
        None,
        {"authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, x=y"},
    )
    assert list(secrets) == [HEADER_KEY, MODEL_KEY]
    assert secrets.redact("region us-east-1, trace t-123456789") == "region us-east-1, trace t-123456789"


def test_environment_values_are_added_stripped() -> None:
    secrets = Secrets()
    secrets.add_environment(["ALCHEMY_TEST_KEY_A", "ALCHEMY_TEST_KEY_B"], {"ALCHEMY_TEST_KEY_A": f" {ENV_KEY}\n"})
    assert list(secrets) == [ENV_KEY]


def test_clean_key_strips_and_refuses_inner_control_characters() -> None:
    assert clean_key(f"  {OPTION_KEY}\r\n", "option api_key") == OPTION_KEY
    for bad in (f"{OPTION_KEY[:10]}\n{OPTION_KEY[10:]}", f"{OPTION_KEY}\x00x", f"a\x7f{OPTION_KEY}"):
        with pytest.raises(ValueError, match="OPENAI_API_KEY holds a control character") as caught:
            clean_key(bad, "OPENAI_API_KEY")
        assert not leaks([str(caught.value)])


def test_request_repr_hides_credential_headers_by_name_and_by_value() -> None:
    request = HttpRequest(
        "POST",
        "https://h/v1",
        {"X-Custom-Token": MODEL_KEY, "x-echo": f"k={OPTION_KEY}", "accept": "text/event-stream"},
        secrets=(OPTION_KEY,),
    )
    assert not leaks([repr(request)]) and "text/event-stream" in repr(request)


# --------------------------------------------------------------------------- at the call


def test_api_key_is_stripped_at_the_call_and_inner_control_characters_raise() -> None:
    with ReplayServer() as server:
        model = wire_model("openai-completions", server.base_url_for("openai-completions"))
        message = alchemy.complete(model, CONTEXT, api_key=f"  {OPTION_KEY}\r\n")
        assert message.stop_reason != "error", message.error_message
        assert server.requests[-1].headers["authorization"] == f"Bearer {OPTION_KEY}"
    with pytest.raises(ValueError, match=r"option api_key holds a control character \(0x0a\)") as caught:
        alchemy.stream(model, CONTEXT, api_key=f"{OPTION_KEY[:8]}\n{OPTION_KEY[8:]}")
    assert not leaks([str(caught.value)])
    with pytest.raises(ValueError, match="option api_key must be a non-empty string"):
        alchemy.stream(model, CONTEXT, api_key=" \n")


def test_header_values_are_stripped_and_inner_control_characters_raise() -> None:
    with ReplayServer() as server:
        model = wire_model("anthropic-messages", server.base_url_for("anthropic-messages"))
        message = alchemy.complete(
            model, CONTEXT, api_key=OPTION_KEY, headers={"Authorization": f"Bearer {HEADER_KEY}\r\n"}
        )
        assert message.stop_reason != "error", message.error_message
        assert server.requests[-1].headers["authorization"] == f"Bearer {HEADER_KEY}"
    with pytest.raises(ValueError, match=r"option extra_headers\['X-Key'\] holds a control character") as caught:
        alchemy.stream(model, CONTEXT, api_key=OPTION_KEY, extra_headers={"X-Key": f"{HEADER_KEY}\r\nX-Injected: 1"})
    assert not leaks([str(caught.value)])


def test_an_environment_key_is_stripped_and_one_with_a_control_character_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ReplayServer() as server:
        model = wire_model("mistral-conversations", server.base_url_for("mistral-conversations"))
        monkeypatch.setenv("MISTRAL_API_KEY", f"{ENV_KEY}\n")
        message = alchemy.complete(model, CONTEXT)
        assert message.stop_reason != "error", message.error_message
        assert server.requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"
        monkeypatch.setenv("MISTRAL_API_KEY", f"{ENV_KEY[:9]}\t{ENV_KEY[9:]}")
        with pytest.raises(ValueError, match=r"MISTRAL_API_KEY holds a control character \(0x09\)") as caught:
            alchemy.complete(model, CONTEXT)  # the key is looked up at the call
    assert not leaks([str(caught.value)])


def test_model_and_options_reprs_hide_tokens() -> None:
    model = wire_model("openai-completions", headers={"Authorization": f"Bearer {HEADER_KEY}", "X-Mine": "visible"})
    options = StreamOptions(api_key=OPTION_KEY, headers={"authorization": f"Bearer {HEADER_KEY}"})
    assert not leaks([repr(model), str(model), repr(options)])
    assert "visible" in repr(model) and "'Authorization': '<redacted>'" in repr(model)


def test_recorded_requests_hide_every_credential_header() -> None:
    with ReplayServer() as server:
        model = wire_model(
            "openai-completions", server.base_url_for("openai-completions"), headers={"X-Portkey-Api-Key": MODEL_KEY}
        )
        alchemy.complete(model, CONTEXT, api_key=OPTION_KEY, extra_headers={"X-Upstream-Token": HEADER_KEY})
        recorded = server.requests[-1]
        assert recorded.headers["x-portkey-api-key"] == MODEL_KEY  # kept for assertions...
        assert not leaks([repr(recorded), str(recorded), repr(recorded.headers)])  # ...never shown


def test_a_model_header_with_a_newline_inside_fails_without_showing_it() -> None:
    # h11 refuses the header and quotes it back: the runner's error text passes the redactor.
    with ReplayServer() as server:
        model = wire_model(
            "openai-completions",
            server.base_url_for("openai-completions"),
            headers={"X-Api-Key-2": f"{MODEL_KEY[:10]}\n{MODEL_KEY[10:]}"},
        )
        message = alchemy.complete(model, CONTEXT, api_key=OPTION_KEY, max_retries=0)
    assert message.stop_reason == "error"
    assert not leaks([repr(message), message.error_message or ""])


def test_every_alchemy_logger_redacts_its_records() -> None:
    import importlib

    from alchemy.request import REDACT_RECORDS
    from alchemy.wire_apis import WIRE_APIS

    for api in WIRE_APIS.values():
        importlib.import_module(api.provider.partition(":")[0])
    loggers = {
        name: logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.split(".")[0] == "alchemy" and ".testing" not in name
    }
    assert "alchemy" in loggers
    assert [name for name, logger in loggers.items() if REDACT_RECORDS not in logger.filters] == []


def test_what_a_parser_logs_from_the_wire_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = "anthropic-messages"
    head = list(RecordingLibrary().get(DEFAULT_RECORDING_FOR_API[api]).events)
    odd_event = Raw(b"event: " + OPTION_KEY.encode() + b'\ndata: {"type": "x"}\n\n')  # logged as ignored
    with ReplayServer() as server:
        server.enqueue(Replay([head[0], odd_event, *head[1:]], api=api))
        message = alchemy.complete(wire_model(api, server.base_url_for(api)), CONTEXT, api_key=OPTION_KEY)
    assert message.stop_reason == "toolUse", message.error_message
    logged = log_texts(caplog.records)
    assert any("ignored" in text and REDACTED in text for text in logged), logged
    assert not leaks(logged)


# --------------------------------------------------------------------------- the probe


def malformed_chunk(api: str, said: bytes) -> Raw:
    """One event whose JSON is cut off right after ``said``, in ``api``'s framing."""
    if api == "bedrock-converse-stream":
        payload = b'{"contentBlockIndex": 0, "delta": {"text": "' + said + b'"'
        return Raw(encode_event("contentBlockDelta", payload))
    names = {
        "anthropic-messages": b"content_block_delta",
        "openai-responses": b"response.output_text.delta",
        "azure-openai-responses": b"response.output_text.delta",
    }
    head = b"event: " + names[api] + b"\n" if api in names else b""
    return Raw(head + b'data: {"echo": "' + said + b'", "cut\n\n')


def scenarios(api: str, keys: tuple[str, ...]) -> Iterator[tuple[str, list[Replay]]]:
    """(name, the replays one call meets) for each hostile shape, echoing ``keys``."""
    said = echo(keys)
    head = list(RecordingLibrary().get(DEFAULT_RECORDING_FOR_API[api]).events[:3])
    yield "in-stream error before content, retried", [Replay(api=api, faults=[ErrorEvent(0, message=said)])] * 2
    yield "in-stream error after content", [Replay(api=api, delay=0.002, faults=[ErrorEvent(3, message=said)])]
    yield "malformed chunk", [Replay([*head, malformed_chunk(api, said.encode())], api=api, delay=0.002)]
    yield "HTTP 503 retried, then 401", [
        Replay.http_error(503, message=said, api=api),
        Replay.http_error(401, message=said, api=api),
    ]
    yield "plain-text error body", [Replay(api=api, faults=[HttpError(400, body=b"upstream says: " + said.encode())])]


def shown_texts(events: list[Any], stream: Any, message: alchemy.AssistantMessage) -> list[str]:
    """Everything a user could print after a call."""
    texts = [repr(event) for event in events]
    texts += [repr(stream), repr(stream.options), repr(stream.model), repr(message), str(message.error_message)]
    texts.append(orjson.dumps(message.to_dict()).decode())
    saved = Context(messages=[UserMessage("hi"), message]).to_json()
    texts.append(saved.decode() if isinstance(saved, bytes) else saved)
    try:
        message.raise_for_error()
    except alchemy.ProviderError as exc:
        texts += [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    return texts


def run_call(mode: str, model: Model, **options: Any) -> list[str]:
    if mode == "sync":
        with alchemy.stream(model, CONTEXT, **options) as stream:
            events = list(stream)
            message = stream.result()
        return shown_texts(events, stream, message)

    async def run() -> list[str]:
        async with alchemy.astream(model, CONTEXT, **options) as stream:
            events = [event async for event in stream]
            message = await stream.result()
        return shown_texts(events, stream, message)

    return asyncio.run(run())


def log_texts(records: list[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in records]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("api", APIS)
def test_no_key_surfaces_anywhere(
    api: str, mode: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ALCHEMY_LOG", "debug")
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with ReplayServer() as server:
        model = wire_model(api, server.base_url_for(api), headers={"X-Portkey-Api-Key": f"{MODEL_KEY} \n"})
        provider = get_api(api)
        assert isinstance(provider, HttpProvider)
        for name in provider.secret_variables(model):
            monkeypatch.setenv(name, f"{ENV_KEY}\n")
        for key_source in ("option", "environment"):
            # Without api_key= the option key is not in play: the server cannot have seen it.
            in_play = KEYS if key_source == "option" else (ENV_KEY, HEADER_KEY, MODEL_KEY)
            for scenario, replays in scenarios(api, in_play):
                server.enqueue(*replays)
                options: dict[str, Any] = {"headers": {"Authorization": f"Bearer {HEADER_KEY}\n"}, **FAST}
                if key_source == "option":
                    options["api_key"] = f"{OPTION_KEY}\r\n"
                shown = run_call(mode, model, **options)
                assert not server.queued, f"{scenario}: not every replay was used"
                found = leaks(shown)
                assert not found, f"{api} {mode} {key_source} key, {scenario}: {found}"
                texts += shown
        texts.append(repr(server.requests))
    assert not leaks(log_texts(caplog.records)), leaks(log_texts(caplog.records))
    messages = " ".join(texts)
    assert "<redacted>" in messages, "the hostile server's echoes reached the texts searched, redacted"
    assert any("retrying" in record.getMessage() for record in caplog.records), "the probe exercised retries"
