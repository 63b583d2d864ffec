"""Unpaired UTF-16 surrogates removed from outgoing text (alchemy.sanitize)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alchemy.sanitize import has_surrogates, sanitize_context, sanitize_message, sanitize_surrogates, sanitize_value
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

LONE_HIGH = "\ud83d"
LONE_LOW = "\ude00"


def test_clean_text_is_returned_as_the_same_object() -> None:
    for text in ("", "plain ascii", "héllo wörld", "emoji 🙈 ok", "中文"):
        assert sanitize_surrogates(text) is text
        assert not has_surrogates(text)


def test_lone_high_and_low_surrogates_are_removed() -> None:
    assert sanitize_surrogates(f"Text {LONE_HIGH} here") == "Text  here"
    assert sanitize_surrogates(f"Text {LONE_LOW} here") == "Text  here"
    assert sanitize_surrogates(f"{LONE_LOW}{LONE_HIGH}") == ""
    assert sanitize_surrogates(f"end{LONE_HIGH}") == "end"


def test_a_split_pair_becomes_its_character() -> None:
    assert sanitize_surrogates(f"a{LONE_HIGH}{LONE_LOW}b") == "a😀b"
    assert sanitize_surrogates(f"{LONE_HIGH}{LONE_HIGH}{LONE_LOW}") == "😀"


def test_surrogateescape_bytes_are_removed() -> None:
    decoded = b"ok \xff\xfe done".decode("utf-8", "surrogateescape")
    assert has_surrogates(decoded)
    assert sanitize_surrogates(decoded) == "ok  done"


def test_a_half_escape_from_json_is_removed() -> None:
    decoded = json.loads('"cut \\ud83d"')
    assert sanitize_surrogates(decoded) == "cut "


def test_sanitized_text_encodes_as_json() -> None:
    broken = f"tool output {LONE_HIGH} truncated"
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(broken)
    orjson.dumps(sanitize_surrogates(broken))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1FFFF), max_size=60))
def test_result_always_encodes_and_keeps_every_other_character(text: str) -> None:
    out = sanitize_surrogates(text)
    out.encode("utf-8")
    assert not has_surrogates(out)
    if not has_surrogates(text):
        assert out is text


def test_values_are_walked_and_copied_only_where_changed() -> None:
    clean = {"a": ["x", 1, {"b": None}], "c": ("y",)}
    assert sanitize_value(clean) is clean
    nested = {"keep": {"k": "v"}, "fix": [f"bad{LONE_HIGH}", "ok"], f"key{LONE_LOW}": 1}
    out = sanitize_value(nested)
    assert out == {"keep": {"k": "v"}, "fix": ["bad", "ok"], "key": 1}
    assert out["keep"] is nested["keep"]
    assert nested["fix"] == [f"bad{LONE_HIGH}", "ok"]
    assert sanitize_value((f"t{LONE_HIGH}",)) == ("t",)


def test_every_message_kind_is_sanitized() -> None:
    bad = f"x{LONE_HIGH}"
    user = UserMessage(bad, 1)
    assert sanitize_message(user) == UserMessage("x", 1)
    blocks = UserMessage([TextContent(bad), ImageContent("iVBORw0KGgo=", "image/png")], 1)
    out = sanitize_message(blocks)
    assert isinstance(out, UserMessage) and out.content[0] == TextContent("x")  # type: ignore[index]
    assert out.content[1] is blocks.content[1]  # type: ignore[index]
    turn = AssistantMessage(
        [TextContent(bad, "sig"), ThinkingContent(bad, "tsig"), ToolCall("id", "run", {"cmd": bad, "n": 1})],
        api="a", provider="p", model="m", timestamp=1,
    )
    shaped = sanitize_message(turn)
    assert isinstance(shaped, AssistantMessage)
    assert shaped.content == [TextContent("x", "sig"), ThinkingContent("x", "tsig"), ToolCall("id", "run", {"cmd": "x", "n": 1})]
    assert turn.content[2].arguments == {"cmd": bad, "n": 1}  # type: ignore[union-attr]
    result = ToolResultMessage("id", "run", [TextContent(bad)], timestamp=1)
    assert sanitize_message(result) == ToolResultMessage("id", "run", [TextContent("x")], timestamp=1)


def test_clean_messages_are_shared() -> None:
    turn = AssistantMessage([TextContent("ok"), ToolCall("id", "f", {"a": "b"})], api="a", provider="p", model="m")
    assert sanitize_message(turn) is turn


def test_context_system_prompt_messages_and_tools() -> None:
    bad = f"y{LONE_LOW}"
    clean_message = UserMessage("fine", 1)
    context = Context(
        system_prompt=bad,
        messages=[clean_message, UserMessage(bad, 2)],
        tools=[Tool("t", bad, {"type": "object", "properties": {"q": {"description": bad}}})],
    )
    out = sanitize_context(context)
    assert out.system_prompt == "y"
    assert out.messages[0] is clean_message
    assert out.messages[1] == UserMessage("y", 2)
    assert out.tools is not None and out.tools[0].description == "y"
    assert out.tools[0].parameters["properties"]["q"]["description"] == "y"
    assert context.system_prompt == bad
    orjson.dumps(out.to_dict())


def test_clean_context_is_the_same_object() -> None:
    context = Context("sys", [UserMessage("hi", 1)], [Tool("t", "d")])
    assert sanitize_context(context) is context
