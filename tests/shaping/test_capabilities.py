"""Capability-driven shaping (alchemy.capabilities): each step, the refusals and the order."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from alchemy import capabilities as cap
from alchemy.capabilities import (
    CONTINUE_TEXT,
    EMPTY_RESULT_TEXT,
    SHAPING_ORDER,
    START_TEXT,
    RequestValues,
    ShapedRequest,
    shape_request,
)
from alchemy.errors import AlchemyError, UnsupportedCapabilityError
from alchemy.transform import NO_RESULT_TEXT
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    ModelCapabilities,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

PNG = ImageContent("iVBORw0KGgoAAAANSUhEUg==", "image/png")
TOOL = Tool("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def model(**flags: bool) -> Model:
    """A model with permissive capabilities except the flags given."""
    caps = replace(ModelCapabilities(supports_vision=True, supports_n=True), **flags)
    return Model("test-model", "Test", "openai-completions", "acme", "http://127.0.0.1:1", capabilities=caps)


def me(m: Model, *content: Any, stop: str = "stop", ts: int = 2) -> AssistantMessage:
    """An assistant turn written by ``m`` itself."""
    return AssistantMessage(
        content=list(content),
        api=m.api,
        provider=m.provider,
        model=m.id,
        stop_reason=stop,  # type: ignore[arg-type]
        timestamp=ts,
    )


def user(content: Any, ts: int = 1) -> UserMessage:
    return UserMessage(content, ts)


def roles(request: ShapedRequest) -> list[str]:
    return [m.role for m in request.context.messages]


def run(step: cap.ShapingStep, context: Context, m: Model, values: RequestValues | None = None) -> ShapedRequest:
    return step(ShapedRequest(context, values or RequestValues()), m)


PERMISSIVE = model()


# --------------------------------------------------------------------------- refusals


def test_tools_for_a_model_without_tool_calling_are_refused() -> None:
    m = model(supports_tools=False)
    with pytest.raises(UnsupportedCapabilityError) as info:
        shape_request(Context(messages=[user("hi")], tools=[TOOL]), m)
    error = info.value
    assert error.model == "acme/test-model" and error.capability == "supports_tools"
    assert "acme/test-model" in str(error) and "supports_tools" in str(error)
    assert isinstance(error, AlchemyError)
    shape_request(Context(messages=[user("hi")], tools=[]), m)  # an empty tool list asks for nothing


@pytest.mark.parametrize(
    "response_format",
    ["json", "json_object", {"type": "json_object"}, {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}, {"schema": {}}],
)
def test_json_output_for_a_model_without_it_is_refused(response_format: Any) -> None:
    m = model(supports_json_output=False)
    with pytest.raises(UnsupportedCapabilityError) as info:
        shape_request(Context(messages=[user("hi")]), m, RequestValues(response_format=response_format))
    assert info.value.capability == "supports_json_output"


def test_text_response_format_is_fine_without_json_output() -> None:
    m = model(supports_json_output=False)
    shaped = shape_request(Context(messages=[user("hi")]), m, RequestValues(response_format={"type": "text"}))
    assert shaped.values.response_format == {"type": "text"}


def test_n_above_one_is_refused_and_n_one_is_dropped() -> None:
    m = model(supports_n=False)
    with pytest.raises(UnsupportedCapabilityError) as info:
        shape_request(Context(messages=[user("hi")]), m, RequestValues(n=3))
    assert info.value.capability == "supports_n" and "n=3" in str(info.value)
    shaped = shape_request(Context(messages=[user("hi")]), m, RequestValues(n=1))
    assert shaped.values.n is None
    assert [n.step for n in shaped.notes] == ["drop_n"]
    assert shape_request(Context(messages=[user("hi")]), PERMISSIVE, RequestValues(n=3)).values.n == 3


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_bad_n_is_a_programmer_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="n must be a whole number of at least 1"):
        shape_request(Context(messages=[user("hi")]), PERMISSIVE, RequestValues(n=bad))


def test_refusals_come_before_any_reshaping() -> None:
    m = model(supports_tools=False, supports_system=False)
    context = Context("sys", [user("hi")], [TOOL])
    with pytest.raises(UnsupportedCapabilityError):
        shape_request(context, m)
    assert context.system_prompt == "sys" and context.messages == [user("hi")]


# --------------------------------------------------------------------------- request values


def test_temperature_dropped_for_models_that_reject_it() -> None:
    shaped = shape_request(Context(messages=[user("hi")]), model(supports_temperature=False), RequestValues(temperature=0.2))
    assert shaped.values.temperature is None
    assert str(shaped.notes[0]) == "drop_temperature: dropped temperature=0.2: the model does not accept it"
    kept = shape_request(Context(messages=[user("hi")]), PERMISSIVE, RequestValues(temperature=0.2))
    assert kept.values.temperature == 0.2 and kept.notes == ()


@pytest.mark.parametrize("choice", ["required", "any", {"type": "any"}, {"type": "required"}])
def test_required_tool_choice_downgraded_to_auto(choice: Any) -> None:
    m = model(supports_tool_choice_required=False)
    shaped = shape_request(Context(messages=[user("hi")], tools=[TOOL]), m, RequestValues(tool_choice=choice))
    assert shaped.values.tool_choice == "auto"
    assert shaped.notes[0].step == "shape_tool_choice"


def test_other_tool_choices_kept_when_required_is_unsupported() -> None:
    m = model(supports_tool_choice_required=False)
    for choice in ("auto", "none", {"type": "tool", "name": "get_weather"}):
        shaped = shape_request(Context(messages=[user("hi")], tools=[TOOL]), m, RequestValues(tool_choice=choice))
        assert shaped.values.tool_choice == choice


def test_tool_choice_dropped_where_the_model_takes_none() -> None:
    shaped = shape_request(Context(messages=[user("hi")], tools=[TOOL]), model(supports_tool_choice=False), RequestValues(tool_choice="required"))
    assert shaped.values.tool_choice is None


def test_user_identifier_dropped_where_unsupported() -> None:
    shaped = shape_request(Context(messages=[user("hi")]), model(supports_user=False), RequestValues(user="u-123"))
    assert shaped.values.user is None
    assert shape_request(Context(messages=[user("hi")]), PERMISSIVE, RequestValues(user="u-123")).values.user == "u-123"


# --------------------------------------------------------------------------- content


def test_images_replaced_by_a_placeholder_for_non_vision_models() -> None:
    m = model(supports_vision=False)
    result = ToolResultMessage("c1", "shot", [PNG], timestamp=3)
    context = Context(
        messages=[
            user([TextContent("what is this?"), PNG]),
            me(m, ToolCall("c1", "shot", {}), stop="toolUse"),
            result,
        ]
    )
    shaped = run(cap.replace_images, context, m)
    placeholder = TextContent("(image omitted: test-model does not accept images)")
    assert shaped.context.messages[0].content == [TextContent("what is this?"), placeholder]  # type: ignore[union-attr]
    assert shaped.context.messages[2].content == [placeholder]  # type: ignore[union-attr]
    assert shaped.notes[0].detail == "replaced 2 images by a text placeholder: the model has no vision"
    assert result.content == [PNG]
    assert run(cap.replace_images, context, PERMISSIVE).context is context


def test_tool_history_becomes_text_for_a_model_without_tools() -> None:
    m = model(supports_tools=False)
    context = Context(
        messages=[
            user("weather?"),
            me(m, TextContent("Checking."), ToolCall("c1", "get_weather", {"city": "Paris"}), stop="toolUse"),
            ToolResultMessage("c1", "get_weather", [TextContent("sunny")], timestamp=3),
            ToolResultMessage("c2", "get_weather", [TextContent("boom")], is_error=True, timestamp=3),
        ]
    )
    shaped = run(cap.tool_history_to_text, context, m)
    turn = shaped.context.messages[1]
    assert isinstance(turn, AssistantMessage)
    assert turn.content == [TextContent("Checking."), TextContent('[called tool get_weather with {"city":"Paris"}]')]
    assert shaped.context.messages[2] == UserMessage([TextContent("[result of tool get_weather]"), TextContent("sunny")], 3)
    assert shaped.context.messages[3] == UserMessage([TextContent("[error from tool get_weather]"), TextContent("boom")], 3)


def test_empty_content_dropped_or_filled() -> None:
    m = model(supports_empty_content=False)
    context = Context(
        messages=[
            user(""),
            user([TextContent("  "), TextContent("real")]),
            me(m, TextContent(""), ToolCall("c1", "f", {}), stop="toolUse"),
            ToolResultMessage("c1", "f", [TextContent(" ")], timestamp=3),
            me(m, TextContent("   "), ThinkingContent("")),
            user("next"),
        ]
    )
    shaped = run(cap.drop_empty_content, context, m)
    assert roles(shaped) == ["user", "assistant", "toolResult", "user"]
    assert shaped.context.messages[0].content == [TextContent("real")]  # type: ignore[union-attr]
    assert shaped.context.messages[1].content == [ToolCall("c1", "f", {})]  # type: ignore[union-attr]
    assert shaped.context.messages[2].content == [TextContent(EMPTY_RESULT_TEXT)]  # type: ignore[union-attr]
    assert shaped.notes[0].detail == (
        "dropped 2 empty turns, dropped 5 blank blocks, gave 1 empty tool result the text '(no output)'"
    )


def test_signed_or_redacted_thinking_is_not_empty() -> None:
    m = model(supports_empty_content=False)
    turn = me(m, ThinkingContent("", "encrypted"), ThinkingContent("", "opaque", redacted=True))
    shaped = run(cap.drop_empty_content, Context(messages=[user("q"), turn]), m)
    assert shaped.context.messages[1] is turn


def test_system_prompt_moves_into_the_first_user_turn() -> None:
    m = model(supports_system=False)
    shaped = run(cap.move_system_into_first_user, Context("Be brief.", [user("hi"), me(m, TextContent("yo"))]), m)
    assert shaped.context.system_prompt is None
    assert shaped.context.messages[0] == UserMessage("Be brief.\n\nhi", 1)
    blocks = run(cap.move_system_into_first_user, Context("Be brief.", [user([TextContent("hi"), PNG])]), m)
    assert blocks.context.messages[0].content == [TextContent("Be brief."), TextContent("hi"), PNG]  # type: ignore[union-attr]


def test_system_prompt_becomes_a_new_first_turn_when_the_assistant_opens() -> None:
    m = model(supports_system=False)
    shaped = run(cap.move_system_into_first_user, Context("Be brief.", [me(m, TextContent("Hello!"), ts=5)]), m)
    assert roles(shaped) == ["user", "assistant"]
    assert shaped.context.messages[0] == UserMessage("Be brief.", 5)
    alone = run(cap.move_system_into_first_user, Context("Be brief."), m)
    assert roles(alone) == ["user"]


def test_blank_system_prompt_is_just_dropped() -> None:
    m = model(supports_system=False)
    shaped = run(cap.move_system_into_first_user, Context("  ", [user("hi")]), m)
    assert shaped.context.system_prompt is None and shaped.context.messages == [user("hi")]


def test_repeating_roles_merged() -> None:
    m = model(supports_repeating_roles=False)
    context = Context(
        messages=[
            user("a"),
            user("b"),
            user([TextContent("c"), PNG]),
            me(m, TextContent("x"), stop="stop", ts=4),
            me(m, ToolCall("c1", "f", {}), stop="toolUse", ts=5),
            ToolResultMessage("c1", "f", [TextContent("1")]),
            ToolResultMessage("c2", "f", [TextContent("2")]),
            user("d"),
        ]
    )
    shaped = run(cap.merge_repeating_roles, context, m)
    assert roles(shaped) == ["user", "assistant", "toolResult", "toolResult", "user"]
    assert shaped.context.messages[0].content == [TextContent("a\n\nb"), TextContent("c"), PNG]  # type: ignore[union-attr]
    merged = shaped.context.messages[1]
    assert isinstance(merged, AssistantMessage)
    assert merged.content == [TextContent("x"), ToolCall("c1", "f", {})]
    assert merged.stop_reason == "toolUse" and merged.timestamp == 4
    assert shaped.notes[0].detail == "merged 3 turns into the turn before: the model needs alternating roles"


def test_a_user_turn_goes_first_when_the_assistant_cannot_start() -> None:
    m = model(supports_first_assistant=False)
    shaped = run(cap.prepend_user_turn, Context(messages=[me(m, TextContent("Hi!"), ts=9), user("yo")]), m)
    assert shaped.context.messages[0] == UserMessage(START_TEXT, 9)
    assert roles(shaped) == ["user", "assistant", "user"]


def test_a_continuation_follows_a_last_assistant_turn() -> None:
    m = model(supports_last_assistant=False)
    shaped = run(cap.append_user_after_last_assistant, Context(messages=[user("hi"), me(m, TextContent("Hel"), ts=7)]), m)
    assert shaped.context.messages[-1] == UserMessage(CONTINUE_TEXT, 7)
    unchanged = Context(messages=[user("hi")])
    assert run(cap.append_user_after_last_assistant, unchanged, m).context is unchanged


def test_a_lone_system_prompt_gets_a_user_turn() -> None:
    m = model(supports_only_system=False)
    shaped = run(cap.append_user_to_lone_system, Context("You are terse."), m)
    assert roles(shaped) == ["user"] and shaped.context.system_prompt == "You are terse."
    assert run(cap.append_user_to_lone_system, Context(), m).context.messages == []


def test_assistant_only_conversation_gets_a_user_turn() -> None:
    m = model(supports_only_assistant=False)
    shaped = run(cap.append_user_to_assistant_only, Context(messages=[me(m, TextContent("a")), me(m, TextContent("b"))]), m)
    assert roles(shaped) == ["assistant", "assistant", "user"]


def test_user_content_flattened_for_string_only_models() -> None:
    m = model(supports_json_content=False)
    shaped = run(cap.flatten_user_content, Context(messages=[user([TextContent("a"), TextContent("b")]), user("c")]), m)
    assert shaped.context.messages[0] == UserMessage("a\nb", 1)
    assert shaped.context.messages[1] == user("c")
    with pytest.raises(UnsupportedCapabilityError) as info:
        run(cap.flatten_user_content, Context(messages=[user([TextContent("see"), PNG])]), m)
    assert info.value.capability == "supports_json_content"


def test_images_are_placeholders_before_flattening() -> None:
    m = model(supports_json_content=False, supports_vision=False)
    shaped = shape_request(Context(messages=[user([TextContent("see"), PNG])]), m)
    assert shaped.context.messages[0] == UserMessage("see\n(image omitted: test-model does not accept images)", 1)


# --------------------------------------------------------------------------- the pipeline


def test_the_documented_order() -> None:
    assert SHAPING_ORDER == (
        "require_tools",
        "require_json_output",
        "require_n",
        "remove_surrogates",
        "apply_handoff",
        "drop_temperature",
        "shape_tool_choice",
        "drop_n",
        "drop_user",
        "tool_history_to_text",
        "replace_images",
        "drop_empty_content",
        "move_system_into_first_user",
        "merge_repeating_roles",
        "prepend_user_turn",
        "append_user_to_lone_system",
        "append_user_to_assistant_only",
        "append_user_after_last_assistant",
        "flatten_user_content",
    )
    for name in SHAPING_ORDER:
        assert callable(getattr(cap, name)), name
        assert getattr(cap, name).__doc__, name


def test_a_permissive_model_changes_nothing() -> None:
    context = Context("sys", [user("hi"), me(PERMISSIVE, TextContent("yo"))], [TOOL])
    values = RequestValues(temperature=0.5, tool_choice="required", n=2, response_format="json", user="u")
    shaped = shape_request(context, PERMISSIVE, values)
    assert shaped.context is context and shaped.values is values and shaped.notes == ()


def test_order_empty_turns_dropped_before_roles_merged() -> None:
    """Dropping an empty turn puts two user turns side by side; merging comes after."""
    m = model(supports_empty_content=False, supports_repeating_roles=False)
    context = Context(messages=[user("a"), me(m, TextContent(" ")), user("b")])
    shaped = shape_request(context, m)
    assert shaped.context.messages == [UserMessage("a\n\nb", 1)]
    assert [n.step for n in shaped.notes] == ["drop_empty_content", "merge_repeating_roles"]


def test_order_handoff_before_merging_and_continuation() -> None:
    """The handoff skips an aborted turn and adds a synthetic result before the turn
    structure is repaired, so pairing survives and the last turn is a user turn."""
    m = model(supports_repeating_roles=False, supports_last_assistant=False, supports_system=False)
    other = Model("claude-x", "Claude", "anthropic-messages", "anthropic", "")
    foreign = AssistantMessage(
        [ThinkingContent("private", "sig"), ToolCall("toolu_01|x", "get_weather", {"city": "Oslo"})],
        api=other.api, provider=other.provider, model=other.id, stop_reason="toolUse", timestamp=3,
    )
    aborted = me(m, TextContent("partial"), stop="aborted", ts=4)
    context = Context(
        "Be brief.",
        [user("weather?"), foreign, user("hello?", ts=5), aborted, user("still there?", ts=6), me(m, TextContent("Yes"), ts=7)],
        [TOOL],
    )
    shaped = shape_request(context, m)
    messages = shaped.context.messages
    assert [m_.role for m_ in messages] == ["user", "assistant", "toolResult", "user", "assistant", "user"]
    assert messages[0] == UserMessage("Be brief.\n\nweather?", 1)
    call = messages[1].content[0]  # type: ignore[union-attr]
    assert isinstance(call, ToolCall) and call.id == "toolu_01"
    assert messages[2] == ToolResultMessage("toolu_01", "get_weather", [TextContent(NO_RESULT_TEXT)], True, timestamp=3)
    assert messages[3] == UserMessage("hello?\n\nstill there?", 5)
    assert messages[5] == UserMessage(CONTINUE_TEXT, 7)
    assert [n.step for n in shaped.notes] == [
        "apply_handoff",
        "move_system_into_first_user",
        "merge_repeating_roles",
        "append_user_after_last_assistant",
    ]


def test_order_system_move_before_first_turn_repair() -> None:
    """Moving the system prompt into a new first user turn already fixes an assistant
    opening; no second placeholder turn is added."""
    m = model(supports_system=False, supports_first_assistant=False)
    shaped = shape_request(Context("Rules.", [me(m, TextContent("Hi"))]), m)
    assert shaped.context.messages[0] == UserMessage("Rules.", 2)
    assert roles(shaped) == ["user", "assistant"]


def test_order_surrogates_removed_before_everything_else() -> None:
    m = model(supports_system=False)
    shaped = shape_request(Context("sys\ud83d", [user("hi\udc80")]), m)
    assert shaped.context.messages[0] == UserMessage("sys\n\nhi", 1)
    assert shaped.notes[0].step == "remove_surrogates"


def test_handoff_options_are_passed_through() -> None:
    other = Model("gemini-x", "Gemini", "google-generative-ai", "google", "")
    foreign = AssistantMessage([ThinkingContent("thoughts"), TextContent("answer")], api=other.api, provider=other.provider, model=other.id)
    context = Context(messages=[user("q"), foreign, user("more")])
    as_text = shape_request(context, PERMISSIVE, foreign_thinking="text")
    assert as_text.context.messages[1].content == [TextContent("thoughts"), TextContent("answer")]  # type: ignore[union-attr]
    skipped = shape_request(context, PERMISSIVE, handoff=False)
    assert skipped.context is context


def test_the_input_context_is_never_modified() -> None:
    m = model(
        supports_system=False,
        supports_vision=False,
        supports_repeating_roles=False,
        supports_empty_content=False,
        supports_last_assistant=False,
        supports_json_content=False,
    )
    messages: list[Message] = [user([TextContent("a"), PNG]), user(""), user("b"), me(m, TextContent("c"))]
    context = Context("sys", messages, None)
    before = context.to_dict()
    shape_request(context, m)
    assert context.to_dict() == before and context.messages is messages


def test_unsupported_capability_error_message() -> None:
    error = UnsupportedCapabilityError("acme/x", "supports_tools", "nope")
    assert (error.model, error.capability, str(error)) == ("acme/x", "supports_tools", "nope")
    with pytest.raises(UnsupportedCapabilityError, match=r"model acme/test-model does not support tool calling \(supports_tools is false\)"):
        shape_request(Context(tools=[TOOL]), model(supports_tools=False))
