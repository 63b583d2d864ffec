"""Hostile or odd input: deep nesting, lone surrogates, wrong JSON types, long search queries.

Every wire API is driven end to end through the replay server, from its bundled
recording ("What's the weather in Paris?": thinking, a sentence, a get_weather call)
with one event changed:

* deep nesting: the tool call's arguments open 100,000 arrays. The stream ends with
  a clear error, the call keeps its arguments up to ``MAX_JSON_DEPTH``, and the
  conversation stays usable (repr, JSON, the next request);
* lone surrogates: the first sentence carries an escaped lone surrogate
  (``"\\ud800"``): it becomes U+FFFD and the stream goes on;
* wrong types: the first sentence is a number instead of a string: the stream ends
  with a ``malformed_response`` error naming the event, not bare Python text.

The kernels' own limits are tested in test_jsondelta.py / test_sse.py on both twins;
the stream tests here run on whichever twins are loaded (the suite runs twice, with
and without ``ALCHEMY_PURE_PYTHON``).
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import alchemy
from alchemy import (
    AssistantMessage,
    Context,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from alchemy.json import MAX_JSON_DEPTH
from alchemy.models import _lookup, search_models
from alchemy.providers.cohere_chat import TOOL_PLAN_SIGNATURE
from alchemy.providers._chunks import (
    NOT_JSON,
    MalformedEventError,
    loads_replacing_lone_surrogates,
)
from alchemy.testing import Raw, Replay, ReplayServer
from alchemy.testing.eventstream import encode_event
from alchemy.testing.recordings import DEFAULT_RECORDING_FOR_API, RecordingLibrary
from support import WIRE_MODEL_IDS, bundled_registry, no_base_url_override, wire_model  # noqa: F401 (fixtures)

APIS = list(WIRE_MODEL_IDS)
KEY = "test-" "hostile-input-key"
CONTEXT = Context(messages=[UserMessage("What's the weather in Paris?")])
DEEP = 100_000
NAMED_EVENTS = ("anthropic-messages", "openai-responses", "azure-openai-responses", "cohere-chat")


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def options(api: str) -> dict[str, Any]:
    extra = {"region": "us-east-1"} if api == "bedrock-converse-stream" else {}
    return {"api_key": KEY, "max_retries": 0, **extra}


def recording(api: str) -> list[bytes]:
    return list(RecordingLibrary().get(DEFAULT_RECORDING_FOR_API[api]).events)


def framed(api: str, payload: bytes) -> Raw:
    """One event in ``api``'s framing, built without parsing ``payload`` (which orjson may refuse)."""
    if api == "bedrock-converse-stream":
        match = re.fullmatch(rb'\{"(\w+)":(.*)\}', payload, re.DOTALL)
        assert match is not None
        return Raw(encode_event(match.group(1).decode(), match.group(2)))
    if api in NAMED_EVENTS:
        name = re.search(rb'"type":"([^"]+)"', payload)
        assert name is not None
        return Raw(b"event: " + name.group(1) + b"\ndata: " + payload + b"\n\n")
    line_end = b"\r\n" if api.startswith("google") else b"\n"
    return Raw(b"data: " + payload + line_end + line_end)


def with_event_changed(api: str, old: bytes, new: bytes) -> list[bytes | Raw]:
    """The API's recording with the first event holding ``old`` changed to hold ``new`` instead."""
    events: list[bytes | Raw] = list(recording(api))
    for index, event in enumerate(events):
        assert isinstance(event, bytes)
        if old in event:
            events[index] = framed(api, event.replace(old, new, 1))
            return events
    raise AssertionError(f"{old!r} is not in the {api} recording")


def first_sentence(api: str, message: AssistantMessage) -> str:
    """The recording's sentence before the tool call: text, but Cohere's tool plan (a thinking block)."""
    if api == "cohere-chat":
        return "".join(block.thinking for block in message.content if isinstance(block, ThinkingContent)
                       and block.thinking_signature == TOOL_PLAN_SIGNATURE)
    return message.text


def run(server: ReplayServer, api: str, events: list[bytes | Raw]) -> AssistantMessage:
    server.enqueue(Replay(events, api=api))
    model = wire_model(api, server.base_url_for(api))
    return alchemy.complete(model, CONTEXT, **options(api))


# --------------------------------------------------------------------------- deep nesting

# Where each recording's tool-call arguments start, and that start opening DEEP arrays.
_DEEP_OPEN = b'{\\"deep\\": ' + b"[" * DEEP
_FIRST_ARGUMENTS: dict[str, tuple[bytes, bytes]] = {
    "anthropic-messages": (b'"partial_json":"{\\"city\\""', b'"partial_json":"' + _DEEP_OPEN + b'"'),
    "bedrock-converse-stream": (b'"input":"{\\"city\\""', b'"input":"' + _DEEP_OPEN + b'"'),
    "openai-completions": (b'"arguments":"{\\""', b'"arguments":"' + _DEEP_OPEN + b'"'),
    "openai-responses": (b'"delta":"{\\""', b'"delta":"' + _DEEP_OPEN + b'"'),
    "azure-openai-responses": (b'"delta":"{\\""', b'"delta":"' + _DEEP_OPEN + b'"'),
    "mistral-conversations": (
        b'"arguments":"{\\"city\\": \\"Paris\\", \\"unit\\": \\"celsius\\"}"',
        b'"arguments":"' + _DEEP_OPEN + b"]" * DEEP + b'}"',
    ),
    "cohere-chat": (b'"arguments":"{\\"city\\""', b'"arguments":"' + _DEEP_OPEN + b'"'),
}
_GEMINI_ARGS = b'"args":{"city":"Paris","unit":"celsius"}'


def deep_arguments(api: str, depth: int = DEEP) -> list[bytes | Raw]:
    if api.startswith("google"):
        return with_event_changed(api, _GEMINI_ARGS, b'"args":{"deep":' + b"[" * depth + b"]" * depth + b"}")
    old, new = _FIRST_ARGUMENTS[api]
    return with_event_changed(api, old, new)


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, (dict, list)):
        depth += 1
        if not value:
            break
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return depth


def still_usable(server: ReplayServer, api: str, message: AssistantMessage) -> None:
    """repr, the Context JSON and the next request all work with what the stream left."""
    assert repr(message) and json.dumps(message.to_dict())
    saved = Context(messages=[*CONTEXT.messages, message]).to_json()
    assert Context.from_json(saved).messages[1] == message
    # The call as a finished turn, answered, sent to the same API (the arguments go into the body).
    turn = copy.deepcopy(message)
    turn.stop_reason, turn.error_message, turn.error = "toolUse", None, None
    calls = [block for block in turn.content if isinstance(block, ToolCall)]
    follow_up = Context(
        messages=[*CONTEXT.messages, turn, *(ToolResultMessage(c.id, c.name, "18C") for c in calls), UserMessage("ok")]
    )
    server.enqueue(Replay(api=api))
    answer = alchemy.complete(wire_model(api, server.base_url_for(api)), follow_up, **options(api))
    assert answer.stop_reason != "error", answer.error_message
    assert server.requests[-1].body  # the request with the deep arguments went out


@pytest.mark.parametrize("api", APIS)
def test_tool_arguments_nested_100000_deep_end_with_a_clear_error(server: ReplayServer, api: str) -> None:
    message = run(server, api, deep_arguments(api))
    assert message.stop_reason == "error"
    assert first_sentence(api, message).startswith("I'll check the current weather"), "what came before is kept"
    if api.startswith("google"):
        # orjson refuses the whole chunk past its own limit (1,024): the chunk is not JSON.
        assert message.error is not None and message.error.kind == "malformed_response"
        assert "depth limit exceeded" in (message.error_message or "")
    else:
        assert message.error is not None and message.error.kind == "invalid_output"
        assert "deeper than 128 levels" in (message.error_message or "")
        assert "MAX_JSON_DEPTH" in (message.error_message or "")
        (call,) = [block for block in message.content if isinstance(block, ToolCall)]
        assert call.name == "get_weather" and depth_of(call.arguments) == MAX_JSON_DEPTH
    still_usable(server, api, message)


@pytest.mark.parametrize("api", ["google-generative-ai", "google-vertex"])
def test_whole_gemini_arguments_past_the_limit_end_with_the_same_error(server: ReplayServer, api: str) -> None:
    """Arguments orjson accepts (200 levels) but alchemy's limit does not."""
    message = run(server, api, deep_arguments(api, depth=MAX_JSON_DEPTH + 72))
    assert message.stop_reason == "error" and message.error is not None and message.error.kind == "invalid_output"
    assert "get_weather" in (message.error_message or "") and "MAX_JSON_DEPTH" in (message.error_message or "")
    still_usable(server, api, message)


# A later fragment of the recorded arguments, dropped when the first one holds them all.
_LATER_PIECE = {
    "anthropic-messages": b'"input_json_delta"',
    "bedrock-converse-stream": b'"toolUse":{"input"',
    "openai-completions": b'"function":{"arguments"',
    "openai-responses": b"function_call_arguments.delta",
    "azure-openai-responses": b"function_call_arguments.delta",
    "cohere-chat": b'"type":"tool-call-delta"',
}
_WHOLE_ARGUMENTS = b'"{\\"city\\":\\"Paris\\",\\"unit\\":\\"celsius\\"}"'  # Responses' done events


def arguments_at_the_limit(api: str) -> list[bytes | Raw]:
    inner = b"[" * (MAX_JSON_DEPTH - 1) + b"1" + b"]" * (MAX_JSON_DEPTH - 1)  # inside the {"deep": ...} object
    if api.startswith("google"):
        return with_event_changed(api, _GEMINI_ARGS, b'"args":{"deep":' + inner + b"}")
    old, _ = _FIRST_ARGUMENTS[api]
    whole = b'"{\\"deep\\": ' + inner + b'}"'
    events = with_event_changed(api, old, old.split(b":", 1)[0] + b":" + whole)
    piece = _LATER_PIECE.get(api)
    kept: list[bytes | Raw] = []
    for event in events:
        if isinstance(event, bytes) and piece is not None and piece in event:
            continue
        kept.append(event.replace(_WHOLE_ARGUMENTS, whole) if isinstance(event, bytes) else event)
    return kept


@pytest.mark.parametrize("api", APIS)
def test_arguments_at_the_limit_are_accepted(server: ReplayServer, api: str) -> None:
    message = run(server, api, arguments_at_the_limit(api))
    assert message.stop_reason == "toolUse", message.error_message
    (call,) = [block for block in message.content if isinstance(block, ToolCall)]
    assert depth_of(call.arguments) == MAX_JSON_DEPTH
    still_usable(server, api, message)


def deep_json_answer(api: str) -> list[bytes | Raw]:
    """A plain text answer whose JSON opens DEEP arrays (structured output)."""
    text = b'{\\"a\\": ' + b"[" * DEEP
    if api == "anthropic-messages":
        return [
            (
                b'{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],'
                b'"model":"m","usage":{"input_tokens":5,"output_tokens":1}}}'
            ),
            b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
            b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"' + text + b'"}}',
            b'{"type":"content_block_stop","index":0}',
            b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}',
            b'{"type":"message_stop"}',
        ]
    return [
        b'{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"'
        + text
        + b'"}}]}',
        (
            b'{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
            b'"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}'
        ),
    ]


@pytest.mark.parametrize("api", ["anthropic-messages", "openai-completions"])
def test_structured_output_nested_too_deep_is_invalid_output(server: ReplayServer, api: str) -> None:
    server.enqueue(Replay(deep_json_answer(api), api=api))
    schema = {"type": "object", "properties": {"a": {}}}
    model = wire_model(api, server.base_url_for(api))
    message = alchemy.complete(model, CONTEXT, output_schema=schema, **options(api))
    assert message.stop_reason == "error" and message.error is not None and message.error.kind == "invalid_output"
    assert "deeper than 128 levels" in (message.error_message or "") and message.parsed is None
    assert repr(message) and Context(messages=[*CONTEXT.messages, message]).to_json()


# --------------------------------------------------------------------------- lone surrogates


@pytest.mark.parametrize("api", APIS)
def test_a_lone_surrogate_in_a_chunk_becomes_a_replacement_character(server: ReplayServer, api: str) -> None:
    message = run(server, api, with_event_changed(api, b"I'll", b"I\\ud800'll \\udc00\\ud83d\\ude00"))
    assert message.stop_reason == "toolUse", message.error_message
    assert first_sentence(api, message).startswith("I\ufffd'll \ufffd\U0001f600 check the current weather")
    (call,) = [block for block in message.content if isinstance(block, ToolCall)]
    assert call.arguments == {"city": "Paris", "unit": "celsius"}


def test_the_repair_touches_lone_surrogate_escapes_only() -> None:
    cases = {
        b'"\\ud800"': "\ufffd",
        b'"\\uDBFF\\u0041"': "\ufffdA",
        b'"\\udc00\\ud800"': "\ufffd\ufffd",
        b'"\\ud83d\\ude00\\ud800"': "\U0001f600\ufffd",
        b'"\\\\ud800 \\ud800"': "\\ud800 \ufffd",  # an escaped backslash, then text
        b'"\\\\\\ud800"': "\\\ufffd",
        b'{"\\ud800": ["\\ud801x"]}': {"\ufffd": ["\ufffdx"]},
    }
    for raw, expected in cases.items():
        assert loads_replacing_lone_surrogates(raw) == expected, raw
    assert loads_replacing_lone_surrogates(b'{"a": "\\ud800",') is NOT_JSON  # still broken
    assert loads_replacing_lone_surrogates(b'{"a": 1,') is NOT_JSON  # nothing to repair
    assert loads_replacing_lone_surrogates('"\\udfff"') == "\ufffd"


# What pi-ai's JSON.stringify writes (node -e 'console.log(JSON.stringify(...))').
_JAVASCRIPT_WRITES = {
    "x\ud83d y": '"x\\ud83d y"',
    "\ude00\ud83d": '"\\ude00\\ud83d"',
    "\ud83d\ude00": '"😀"',  # noqa: F601 (ruff cannot tell surrogate strings apart)
    "tab\t nul\x00 del\x7f \u2028": '"tab\\t nul\\u0000 del\x7f \u2028"',
}


def saved_text(context: Context, indent: bool = False) -> str:
    saved = context.to_json(indent=indent)
    return saved.decode("utf-8") if isinstance(saved, bytes) else saved


def context_with(text: str) -> Context:
    call = ToolCall("call_1", "note", {text: [text]})
    return Context(
        system_prompt=text,
        messages=[
            UserMessage(text, timestamp=1),
            AssistantMessage(content=[call], api="anthropic-messages", provider="anthropic", model="m", timestamp=1),
            ToolResultMessage("call_1", "note", text, timestamp=2),
        ],
    )


@pytest.mark.parametrize("text", list(_JAVASCRIPT_WRITES))
def test_context_json_writes_lone_surrogates_as_json_stringify_does(text: str) -> None:
    written = saved_text(context_with(text))
    assert f'"systemPrompt":{_JAVASCRIPT_WRITES[text]}' in written
    assert written.count(_JAVASCRIPT_WRITES[text]) == 5  # prompt, user text, argument key and value, result


@pytest.mark.parametrize("text", list(_JAVASCRIPT_WRITES))
def test_context_json_round_trips_lone_surrogates(text: str) -> None:
    context = context_with(text)
    for indent in (False, True):
        saved = saved_text(context, indent)
        loaded = Context.from_json(saved)
        # A split pair reads back as the one character it stands for, as in JavaScript.
        joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        assert loaded == context_with(joined)
        assert saved_text(loaded, indent) == saved
        assert Context.from_json(saved.encode("utf-8")) == loaded


def test_contexts_without_surrogates_are_written_by_orjson_as_before() -> None:
    context = context_with("plain é 😀")
    assert saved_text(context) == orjson.dumps(context.to_dict()).decode()
    assert saved_text(context, True) == orjson.dumps(context.to_dict(), option=orjson.OPT_INDENT_2).decode()


def test_from_json_still_refuses_what_is_not_json() -> None:
    for bad in (b'{"messages": [', b'{"messages": NaN}', b'{"systemPrompt": "\\ud800}', b"\xff"):
        with pytest.raises(ValueError, match="<root>: not valid JSON"):
            Context.from_json(bad)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_context_json_matches_node_json_stringify() -> None:
    text = "x\ud83d y \ude00 and \ud83d\ude00"
    # No assistant message: its usage floats are spelled 0.0 by orjson and 0 by JavaScript.
    context = Context(system_prompt=text, messages=[UserMessage(text, timestamp=1), UserMessage([TextContent(text)], timestamp=2)])
    script = "let s=''; process.stdin.on('data', d => s += d).on('end', () => console.log(JSON.stringify(JSON.parse(s))))"
    saved = saved_text(context).encode("utf-8")
    node = subprocess.run(["node", "-e", script], input=saved, capture_output=True, check=True)
    assert node.stdout.rstrip(b"\n") == saved


# --------------------------------------------------------------------------- wrong JSON types

# The first sentence's text as a number; the event each API names.
_WRONG_TYPE_EVENT = {
    "anthropic-messages": "content_block_delta",
    "openai-responses": "response.output_text.delta",
    "azure-openai-responses": "response.output_text.delta",
    "bedrock-converse-stream": "contentBlockDelta",
}


# These parsers check the type of every field they read and skip what they cannot use.
_SKIPS_WRONG_TYPES = ("openai-completions", "mistral-conversations", "cohere-chat")


@pytest.mark.parametrize("api", APIS)
def test_a_wrong_json_type_ends_with_an_error_naming_the_event(server: ReplayServer, api: str) -> None:
    message = run(server, api, with_event_changed(api, b"\"I'll", b'5, "was":"I\'ll'))
    if api in _SKIPS_WRONG_TYPES:
        assert message.stop_reason == "toolUse", message.error_message
        said = first_sentence(api, message)
        assert "I'll" not in said and "the current weather in Paris" in said, "skipped, the rest kept"
        return
    assert message.stop_reason == "error"
    assert message.error is not None and message.error.kind == "malformed_response"
    text = message.error_message or ""
    assert not text.startswith(("TypeError", "KeyError", "AttributeError")), text
    assert "unexpected shape" in text
    if api in _WRONG_TYPE_EVENT:  # Gemini names no events: its parser shows the event alone
        assert f"a {_WRONG_TYPE_EVENT[api]} event of an unexpected shape: a field has the wrong JSON type" in text
        assert '5, "was":"I\'ll' in text, "the event is shown, so the field can be seen"
    assert message.content, "the thinking received before is kept"


def test_a_missing_field_is_named() -> None:
    error = MalformedEventError("content_block_start", b'{"type":"content_block_start"}', KeyError("index"))
    assert str(error) == (
        "a content_block_start event of an unexpected shape: the field 'index' is missing; "
        'the event: {"type":"content_block_start"}'
    )
    assert str(error.sent_by("Anthropic")).startswith("Anthropic sent a content_block_start event")
    unnamed = MalformedEventError("message", b'{"object":"chat.completion.chunk","choices":[]}', IndexError("x"))
    assert unnamed.event == "chat.completion.chunk" and "a list is shorter than expected" in str(unnamed)
    long = MalformedEventError("e", b"[" + b"1," * 500 + b"1]", TypeError("t"))
    assert str(long).endswith("...") and len(str(long)) < 450


# --------------------------------------------------------------------------- search_models


def search_work(query: str) -> int:
    """Lines of Python executed by one search_models call (its module and difflib): the work done."""
    traced = {_lookup.__file__, difflib.__file__}
    lines = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename in traced else None

    sys.settrace(calls)
    try:
        search_models(query)
    finally:
        sys.settrace(None)
    return lines


def test_long_search_queries_do_bounded_work() -> None:
    ordinary = search_work("sonnet 4.5")
    one_word = [search_work("x" * n) for n in (1_000, 8_000, 64_000)]
    assert one_word[0] == one_word[1] == one_word[2] < ordinary / 5
    repeated = [search_work("claude sonnet " * n) for n in (70, 600)]
    assert repeated[0] == repeated[1] < ordinary
    letters = "abcdefghijklmnop"
    short_words = [" ".join(a + b for a in letters for b in letters)[:n] for n in (1_000, 8_000)]
    work = [search_work(query) for query in short_words]
    assert max(work) < ordinary


def test_long_queries_still_find_what_their_words_name() -> None:
    found = search_models("claude sonnet " * 600, limit=50)
    assert found and all("claude" in m.key.lower() and "sonnet" in m.key.lower() for m in found)
    assert search_models("x" * 10_000) == []
    assert [m.key for m in search_models("claude sonnet " * 600)] == [m.key for m in search_models("sonnet claude")]
