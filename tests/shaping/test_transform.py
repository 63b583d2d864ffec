"""Cross-provider handoff (alchemy.transform): pi-ai's rules, chains across providers.

The assistant turns are built by hand in the shapes the recorded streams in
shared/fixtures/vercel-ai produce (ids and signatures copied from those files):
Anthropic thinking with a signature, redacted thinking and ``toolu_`` ids; OpenAI
Responses reasoning items and ``call_...|fc_...`` ids; Gemini thought signatures and
the ``name_<ms>_<n>`` ids alchemy mints for Gemini's id-less function calls.
"""

from __future__ import annotations

import re

import pytest

from alchemy.tool_ids import keep_tool_call_id, tool_call_id_normalizer
from alchemy.transform import NO_RESULT_TEXT, is_same_model, transform_messages
from alchemy.types import (
    AssistantMessage,
    ImageContent,
    Message,
    Model,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

CLAUDE = Model(
    "claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic-messages", "anthropic", "https://api.anthropic.com",
    reasoning=True, input=("text", "image"),
)
GPT = Model(
    "gpt-5.4", "GPT-5.4", "openai-responses", "openai", "https://api.openai.com/v1",
    reasoning=True, input=("text", "image"),
)
GEMINI = Model(
    "gemini-3-flash-preview", "Gemini 3 Flash", "google-generative-ai", "google",
    "https://generativelanguage.googleapis.com/v1beta", reasoning=True,
)
GROQ = Model("openai/gpt-oss-120b", "GPT OSS 120B", "openai-completions", "groq", "https://api.groq.com/openai/v1")
MISTRAL = Model("mistral-large-latest", "Mistral Large", "mistral-conversations", "mistral", "https://api.mistral.ai")
BEDROCK = Model("anthropic.claude-sonnet-4-5", "Claude on Bedrock", "bedrock-converse-stream", "amazon-bedrock", "")

# anthropic/anthropic-clear-thinking.1.chunks.txt, anthropic/anthropic-json-tool.1.chunks.txt
ANTHROPIC_SIGNATURE = "EtQFCkYICxgCKkC6mX3q5F227lNUFReMQGWY0Vfr33jLdTeIs1jqrtSjwH4/huGliPEyYr9Kd15UJIm2Q3ipEDQ6NhUekxB7abI7Egw="
ANTHROPIC_TOOL_ID = "toolu_019Zvehfe1XQWweT1pm7okyt"
# openai/openai-reasoning-encrypted-content.1.chunks.txt, openai/programmatic-tool-calling.1 (function_call item)
RESPONSES_REASONING = '{"type":"reasoning","id":"rs_01830d662ab3856501693c321405c88190be3ab04d5782d5f9","encrypted_content":"gAAAAABpPDIUph8czEXzDePCV2lJ27wm7TsbCvazrvHSn0yWitN7RGWq8sjrPtfEYNkSVR8GZzB59nmPMV9haW4HIeHtIFfWz2boJ58r5pqNxfC3bI5TeUSP_O5MmkuIXjU3jHPqpYVyIBGGW7G3ER79DJGZKdBGMiYFNiodJez0fxOuRtRwAJKyIG4ySE3z6an38XFE6ZqHW58_WfI5ASZ_n","summary":[]}'
RESPONSES_TOOL_ID = "call_Q7pq6EfVGRnauPLWSSYBGJ1l|fc_05147bbe356953b60069ab673745c081969b5c16c333b4f179"
# google/google-stream-no-args-tool-call.chunks.txt
GEMINI_SIGNATURE = "AY89a18a8/Loc2wl5oft+F3qHoU4VPX0L9ljRtKxfjhEuimSIqhzYEJAGT5Sgd8OH2C+Te2YY1DKfGsr+ajyR7o2gTbljQMXyvmOimX/W3Zw=="
GEMINI_TOOL_ID = "read_theme_1777924862264_1"

ID_64 = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ID_40 = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def user(text: str, ts: int = 1) -> UserMessage:
    return UserMessage(text, ts)


def assistant(model: Model, *content: object, stop: str = "stop", ts: int = 2) -> AssistantMessage:
    return AssistantMessage(
        content=list(content),  # type: ignore[arg-type]
        api=model.api,
        provider=model.provider,
        model=model.id,
        stop_reason=stop,  # type: ignore[arg-type]
        timestamp=ts,
    )


def result(call_id: str, name: str, text: str, ts: int = 3) -> ToolResultMessage:
    return ToolResultMessage(call_id, name, [TextContent(text)], timestamp=ts)


def anthropic_turn() -> AssistantMessage:
    return assistant(
        CLAUDE,
        ThinkingContent("The user wants the weather; call the tool.", ANTHROPIC_SIGNATURE),
        ThinkingContent("", "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj", redacted=True),
        TextContent("Let me check the weather.", "anthropic-text-sig"),
        ToolCall(ANTHROPIC_TOOL_ID, "weather", {"location": "San Francisco"}),
        stop="toolUse",
    )


def openai_turn() -> AssistantMessage:
    return assistant(
        GPT,
        ThinkingContent("**Checking the forecast**\n\nThe user asked about tomorrow.", RESPONSES_REASONING),
        TextContent("Checking tomorrow.", '{"v":1,"id":"msg_05147bbe356953b6","phase":"commentary"}'),
        ToolCall(RESPONSES_TOOL_ID, "get_weather", {"location": "San Francisco, CA", "unit": "fahrenheit"}),
        stop="toolUse",
        ts=5,
    )


def gemini_turn() -> AssistantMessage:
    return assistant(
        GEMINI,
        ThinkingContent("**Processing User Requests**\n\nRead the theme first.", GEMINI_SIGNATURE),
        TextContent("Reading the theme.", GEMINI_SIGNATURE),
        ToolCall(GEMINI_TOOL_ID, "read_theme", {}, thought_signature=GEMINI_SIGNATURE),
        stop="toolUse",
        ts=8,
    )


def assistants(messages: list[Message]) -> list[AssistantMessage]:
    return [m for m in messages if isinstance(m, AssistantMessage)]


def results(messages: list[Message]) -> list[ToolResultMessage]:
    return [m for m in messages if isinstance(m, ToolResultMessage)]


# --------------------------------------------------------------------------- per-message rules


def test_user_messages_pass_unchanged_as_the_same_objects() -> None:
    first = UserMessage([TextContent("look"), ImageContent("iVBORw0KGgo=", "image/png")], 1)
    second = user("and this")
    out = transform_messages([first, second], GPT)
    assert out[0] is first and out[1] is second


def test_same_model_turn_is_replayed_verbatim_with_signatures() -> None:
    turn = anthropic_turn()
    out = transform_messages([user("weather?"), turn, result(ANTHROPIC_TOOL_ID, "weather", "sunny")], CLAUDE)
    assert out[1] is turn
    assert out[2].tool_call_id == ANTHROPIC_TOOL_ID  # type: ignore[union-attr]


def test_same_model_needs_provider_api_and_model_id_to_match() -> None:
    turn = anthropic_turn()
    assert is_same_model(turn, CLAUDE)
    other_id = Model("claude-opus-4-1", "Opus", CLAUDE.api, CLAUDE.provider, CLAUDE.base_url)
    other_provider = Model(CLAUDE.id, "Claude via proxy", CLAUDE.api, "vercel-ai-gateway", "")
    other_api = Model(CLAUDE.id, "Claude chat", "openai-completions", CLAUDE.provider, "")
    assert not any(is_same_model(turn, m) for m in (other_id, other_provider, other_api))
    for target in (other_id, other_provider, other_api):
        shaped = assistants(transform_messages([user("q"), turn], target))[0]
        assert not any(isinstance(b, ThinkingContent) for b in shaped.content)


def test_same_model_keeps_signed_empty_thinking_and_redacted_but_drops_blank_unsigned() -> None:
    encrypted_only = ThinkingContent("", RESPONSES_REASONING)
    blank = ThinkingContent("   \n")
    turn = assistant(GPT, encrypted_only, blank, TextContent("answer"))
    shaped = assistants(transform_messages([user("q"), turn], GPT))[0]
    assert shaped.content == [encrypted_only, TextContent("answer")]
    assert shaped.content[0] is encrypted_only


def test_foreign_redacted_thinking_and_signatures_are_dropped() -> None:
    shaped = assistants(transform_messages([user("q"), anthropic_turn()], GPT, foreign_thinking="text"))[0]
    kinds = [type(b).__name__ for b in shaped.content]
    assert kinds == ["TextContent", "TextContent", "ToolCall"]
    assert shaped.content[0] == TextContent("The user wants the weather; call the tool.")
    assert shaped.content[1] == TextContent("Let me check the weather.")
    assert all(b.text_signature is None for b in shaped.content if isinstance(b, TextContent))


def test_foreign_thinking_is_dropped_by_default() -> None:
    shaped = assistants(transform_messages([user("q"), anthropic_turn()], GPT))[0]
    assert [type(b).__name__ for b in shaped.content] == ["TextContent", "ToolCall"]
    assert shaped.text == "Let me check the weather."


def test_foreign_thinking_text_policy_replays_plain_text_without_tags() -> None:
    shaped = assistants(transform_messages([user("q"), gemini_turn()], CLAUDE, foreign_thinking="text"))[0]
    first = shaped.content[0]
    assert isinstance(first, TextContent)
    assert first.text == "**Processing User Requests**\n\nRead the theme first."
    assert "<thinking>" not in first.text


def test_foreign_blank_thinking_is_dropped_under_both_policies() -> None:
    turn = assistant(GEMINI, ThinkingContent("  "), TextContent("hi"))
    for policy in ("drop", "text"):
        shaped = assistants(transform_messages([user("q"), turn], CLAUDE, foreign_thinking=policy))[0]  # type: ignore[arg-type]
        assert shaped.content == [TextContent("hi")]


def test_unknown_foreign_thinking_policy_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="foreign_thinking must be 'drop' or 'text', got 'keep'"):
        transform_messages([], CLAUDE, foreign_thinking="keep")  # type: ignore[arg-type]


def test_foreign_tool_call_loses_its_thought_signature() -> None:
    shaped = assistants(transform_messages([user("q"), gemini_turn()], CLAUDE))[0]
    call = shaped.tool_calls[0]
    assert call.thought_signature is None
    assert call.id == GEMINI_TOOL_ID  # already valid for Anthropic
    assert call.arguments == {}


def test_the_input_is_never_modified() -> None:
    turn = gemini_turn()
    before = turn.to_dict()
    messages: list[Message] = [user("q"), turn, result(GEMINI_TOOL_ID, "read_theme", "dark")]
    transform_messages(messages, MISTRAL, foreign_thinking="text")
    assert turn.to_dict() == before
    assert len(messages) == 3


# --------------------------------------------------------------------------- tool-call ids


def test_responses_id_rewritten_for_anthropic_and_its_result_follows() -> None:
    messages: list[Message] = [user("q"), openai_turn(), result(RESPONSES_TOOL_ID, "get_weather", "61F")]
    out = transform_messages(messages, CLAUDE)
    call = assistants(out)[0].tool_calls[0]
    assert ID_64.match(call.id)
    assert call.id == "call_Q7pq6EfVGRnauPLWSSYBGJ1l_fc_05147bbe356953b60069ab673745c08"
    assert results(out)[0].tool_call_id == call.id
    assert results(out)[0].content == [TextContent("61F")]


def test_responses_id_for_chat_completions_keeps_the_call_part() -> None:
    messages: list[Message] = [user("q"), openai_turn(), result(RESPONSES_TOOL_ID, "get_weather", "61F")]
    out = transform_messages(messages, GROQ)
    call = assistants(out)[0].tool_calls[0]
    assert call.id == "call_Q7pq6EfVGRnauPLWSSYBGJ1l"
    assert ID_40.match(call.id)
    assert results(out)[0].tool_call_id == call.id


def test_mistral_gets_nine_alphanumerics_for_every_foreign_id() -> None:
    messages: list[Message] = [
        user("q"),
        anthropic_turn(),
        result(ANTHROPIC_TOOL_ID, "weather", "sunny"),
        openai_turn(),
        result(RESPONSES_TOOL_ID, "get_weather", "61F"),
    ]
    out = transform_messages(messages, MISTRAL)
    calls = [c for m in assistants(out) for c in m.tool_calls]
    assert all(re.fullmatch(r"[A-Za-z0-9]{9}", c.id) for c in calls)
    assert len({c.id for c in calls}) == 2
    assert [r.tool_call_id for r in results(out)] == [c.id for c in calls]


def test_rewrites_are_deterministic() -> None:
    messages: list[Message] = [user("q"), openai_turn(), result(RESPONSES_TOOL_ID, "get_weather", "61F")]
    first = transform_messages(messages, MISTRAL)
    second = transform_messages(messages, MISTRAL)
    assert [m.to_dict() for m in first] == [m.to_dict() for m in second]


def test_custom_normalizer_and_keep_ids() -> None:
    messages: list[Message] = [user("q"), openai_turn(), result(RESPONSES_TOOL_ID, "get_weather", "61F")]
    out = transform_messages(messages, CLAUDE, normalize_tool_call_id=lambda i: "custom_" + str(len(i)))
    assert assistants(out)[0].tool_calls[0].id == "custom_83"
    assert results(out)[0].tool_call_id == "custom_83"
    kept = transform_messages(messages, CLAUDE, normalize_tool_call_id=keep_tool_call_id)
    assert assistants(kept)[0].tool_calls[0].id == RESPONSES_TOOL_ID
    assert results(kept)[0].tool_call_id == RESPONSES_TOOL_ID


def test_same_model_ids_are_never_rewritten() -> None:
    messages: list[Message] = [user("q"), openai_turn(), result(RESPONSES_TOOL_ID, "get_weather", "61F")]
    out = transform_messages(messages, GPT, normalize_tool_call_id=lambda i: "x")
    assert assistants(out)[0].tool_calls[0].id == RESPONSES_TOOL_ID
    assert results(out)[0].tool_call_id == RESPONSES_TOOL_ID


def test_unknown_api_leaves_ids_alone() -> None:
    custom = Model("local", "Local", "my-own-api", "local", "http://127.0.0.1:8080")
    assert tool_call_id_normalizer(custom) is None
    out = transform_messages([user("q"), openai_turn(), result(RESPONSES_TOOL_ID, "get_weather", "x")], custom)
    assert assistants(out)[0].tool_calls[0].id == RESPONSES_TOOL_ID


# --------------------------------------------------------------------------- ordering repair


def test_synthetic_error_result_before_the_next_user_turn() -> None:
    call_a = ToolCall("toolu_a", "read", {"path": "a"})
    call_b = ToolCall("toolu_b", "read", {"path": "b"})
    turn = assistant(CLAUDE, call_a, call_b, stop="toolUse", ts=7)
    messages: list[Message] = [user("q"), turn, result("toolu_a", "read", "A"), user("never mind", ts=9)]
    out = transform_messages(messages, CLAUDE)
    assert [m.role for m in out] == ["user", "assistant", "toolResult", "toolResult", "user"]
    synthetic = out[3]
    assert isinstance(synthetic, ToolResultMessage)
    assert synthetic.tool_call_id == "toolu_b" and synthetic.tool_name == "read"
    assert synthetic.is_error and synthetic.content == [TextContent(NO_RESULT_TEXT)]
    assert synthetic.timestamp == 7


def test_synthetic_result_before_the_next_assistant_turn() -> None:
    turn = assistant(CLAUDE, ToolCall("toolu_a", "read", {}), stop="toolUse")
    later = assistant(CLAUDE, TextContent("done"))
    out = transform_messages([user("q"), turn, later], CLAUDE)
    assert [m.role for m in out] == ["user", "assistant", "toolResult", "assistant"]


def test_no_synthetic_result_for_calls_of_the_last_turn() -> None:
    turn = assistant(CLAUDE, ToolCall("toolu_a", "read", {}), stop="toolUse")
    out = transform_messages([user("q"), turn], CLAUDE)
    assert [m.role for m in out] == ["user", "assistant"]


def test_synthetic_results_use_rewritten_ids() -> None:
    out = transform_messages([user("q"), openai_turn(), user("skip it")], CLAUDE)
    call = assistants(out)[0].tool_calls[0]
    assert results(out)[0].tool_call_id == call.id
    assert results(out)[0].content == [TextContent(NO_RESULT_TEXT)]


@pytest.mark.parametrize("stop", ["error", "aborted"])
def test_failed_turns_are_skipped_with_their_results(stop: str) -> None:
    failed = assistant(CLAUDE, ThinkingContent("half"), ToolCall("toolu_x", "read", {"pa": 1}), stop=stop)
    failed.error_message = "connection reset"
    messages: list[Message] = [user("q"), failed, result("toolu_x", "read", "late"), user("again")]
    out = transform_messages(messages, CLAUDE)
    assert [m.role for m in out] == ["user", "user"]


def test_failed_turn_still_flushes_orphans_of_the_turn_before() -> None:
    ok = assistant(CLAUDE, ToolCall("toolu_a", "read", {}), stop="toolUse")
    failed = assistant(CLAUDE, TextContent("partial"), stop="aborted")
    out = transform_messages([user("q"), ok, failed], CLAUDE)
    assert [m.role for m in out] == ["user", "assistant", "toolResult"]
    assert results(out)[0].tool_call_id == "toolu_a"


def test_assistant_turns_left_empty_are_skipped() -> None:
    only_thinking = assistant(GEMINI, ThinkingContent("private"))
    empty = assistant(CLAUDE)
    out = transform_messages([user("a"), only_thinking, user("b"), empty, user("c")], CLAUDE)
    assert [m.role for m in out] == ["user", "user", "user"]


def test_second_pass_changes_nothing() -> None:
    messages: list[Message] = [
        user("q"),
        anthropic_turn(),
        user("next"),
        openai_turn(),
        result(RESPONSES_TOOL_ID, "get_weather", "61F"),
        gemini_turn(),
    ]
    for target in (CLAUDE, GPT, GEMINI, GROQ, MISTRAL, BEDROCK):
        once = transform_messages(messages, target, foreign_thinking="text")
        twice = transform_messages(once, target, foreign_thinking="text")
        assert [m.to_dict() for m in twice] == [m.to_dict() for m in once], target.api


def test_non_message_input_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="expected user, assistant or tool result messages, got dict"):
        transform_messages([{"role": "user"}], CLAUDE)  # type: ignore[list-item]


# --------------------------------------------------------------------------- chains across providers


def test_chain_anthropic_openai_gemini_anthropic() -> None:
    """A session that visits three providers and comes back keeps every pairing valid."""
    conversation: list[Message] = [user("What's the weather in SF, then the theme?")]

    # 1. Anthropic answers with signed thinking, redacted thinking and a toolu_ call.
    conversation += [anthropic_turn(), result(ANTHROPIC_TOOL_ID, "weather", "sunny, 18C", ts=4)]

    # 2. Handoff to OpenAI Responses: Anthropic's private parts go, the toolu_ id is valid.
    to_openai = transform_messages(conversation, GPT)
    claude_turn = assistants(to_openai)[0]
    assert [type(b).__name__ for b in claude_turn.content] == ["TextContent", "ToolCall"]
    assert claude_turn.tool_calls[0].id == ANTHROPIC_TOOL_ID
    assert results(to_openai)[0].tool_call_id == ANTHROPIC_TOOL_ID
    conversation += [openai_turn(), result(RESPONSES_TOOL_ID, "get_weather", "61F", ts=6)]

    # 3. Handoff to Gemini: Responses' reasoning item and call|item id are reshaped.
    to_gemini = transform_messages(conversation, GEMINI)
    gpt_turn = assistants(to_gemini)[1]
    assert not any(isinstance(b, ThinkingContent) for b in gpt_turn.content)
    assert gpt_turn.content[0] == TextContent("Checking tomorrow.")
    gpt_call = gpt_turn.tool_calls[0]
    assert ID_64.match(gpt_call.id) and "|" not in gpt_call.id
    assert results(to_gemini)[1].tool_call_id == gpt_call.id
    conversation += [gemini_turn(), result(GEMINI_TOOL_ID, "read_theme", "dark", ts=9), user("Thanks! Summarize.", ts=10)]

    # 4. Back to Anthropic: its own turn verbatim, the others stripped, every id paired.
    back = transform_messages(conversation, CLAUDE)
    turns = assistants(back)
    assert turns[0] is conversation[1]
    assert turns[0].content[0].thinking_signature == ANTHROPIC_SIGNATURE  # type: ignore[union-attr]
    assert any(isinstance(b, ThinkingContent) and b.redacted for b in turns[0].content)
    for foreign in turns[1:]:
        assert not any(isinstance(b, ThinkingContent) for b in foreign.content)
        assert all(b.text_signature is None for b in foreign.content if isinstance(b, TextContent))
        assert all(c.thought_signature is None for c in foreign.tool_calls)
    call_ids = [c.id for t in turns for c in t.tool_calls]
    assert all(ID_64.match(i) for i in call_ids)
    assert [r.tool_call_id for r in results(back)] == call_ids
    assert [m.role for m in back] == [
        "user", "assistant", "toolResult", "assistant", "toolResult", "assistant", "toolResult", "user",
    ]


def test_chain_with_the_text_policy_keeps_every_foreign_thought_as_text() -> None:
    conversation: list[Message] = [
        user("q"),
        anthropic_turn(),
        result(ANTHROPIC_TOOL_ID, "weather", "sunny"),
        openai_turn(),
        result(RESPONSES_TOOL_ID, "get_weather", "61F"),
        gemini_turn(),
        result(GEMINI_TOOL_ID, "read_theme", "dark"),
    ]
    out = transform_messages(conversation, MISTRAL, foreign_thinking="text")
    texts = [b.text for t in assistants(out) for b in t.content if isinstance(b, TextContent)]
    assert "The user wants the weather; call the tool." in texts
    assert "**Checking the forecast**\n\nThe user asked about tomorrow." in texts
    assert "**Processing User Requests**\n\nRead the theme first." in texts
    assert not any(b for t in assistants(out) for b in t.content if isinstance(b, ThinkingContent))


def test_chain_through_bedrock_and_back_to_openai_responses() -> None:
    """Anthropic-style ids go to Responses as bare call ids; Responses ids go to Bedrock sanitized."""
    conversation: list[Message] = [
        user("q"),
        openai_turn(),
        result(RESPONSES_TOOL_ID, "get_weather", "61F"),
    ]
    to_bedrock = transform_messages(conversation, BEDROCK)
    bedrock_id = assistants(to_bedrock)[0].tool_calls[0].id
    assert ID_64.match(bedrock_id)
    bedrock_turn = assistant(BEDROCK, TextContent("Calling."), ToolCall("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "lookup", {}), stop="toolUse")
    conversation += [bedrock_turn, result("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "lookup", "found")]
    back = transform_messages(conversation, GPT)
    assert assistants(back)[0].tool_calls[0].id == RESPONSES_TOOL_ID  # its own turn, verbatim
    assert assistants(back)[1].tool_calls[0].id == "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
    assert [r.tool_call_id for r in results(back)] == [RESPONSES_TOOL_ID, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"]
