"""Responses custom tools and client-executed built-in tools (apply_patch, shell, local_shell).

The declarations (``CustomTool``, ``BuiltinTool``), the tools list and the replay of
their calls and results in the next request, their calls in the stream (custom input
streamed as ``{"input": ...}`` deltas), the calls the server ran itself (server tool
calls, see test_responses_server_tools.py), and
the handoff of such a conversation to other APIs as ordinary tool calls and results.
The recorded streams with these calls are replayed with every other Responses fixture
(``responses_fixtures``).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import test_anthropic_messages as am
import test_openai_completions as oc
import test_openai_responses as orr

from alchemy.events import ToolCallDelta
from alchemy.options import StreamOptions
from alchemy.types import (
    BUILTIN_TOOLS,
    AssistantMessage,
    BuiltinTool,
    Context,
    CustomTool,
    TextContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

SQL = CustomTool(
    "write_sql",
    "Write a SQL query",
    format={"type": "grammar", "syntax": "regex", "definition": "SELECT .+"},
)
NOTE = CustomTool("note", "Free-form note")
TOOLS = [
    SQL,
    NOTE,
    BuiltinTool("apply_patch"),
    BuiltinTool("shell"),
    BuiltinTool("local_shell"),
    orr.WEATHER,
]

# --------------------------------------------------------------------------- declarations


def test_custom_tool_defaults_to_one_string_input() -> None:
    assert NOTE.parameters == {
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
    }
    assert NOTE.format is None


@pytest.mark.parametrize(
    ("fmt", "error"),
    [
        ("regex", "format must be None or a dict"),
        ({"type": "json"}, "format['type'] must be 'text' or 'grammar'"),
        (
            {"type": "grammar", "syntax": "pcre", "definition": "x"},
            "format['syntax'] must be 'lark' or 'regex'",
        ),
        ({"type": "grammar", "syntax": "lark"}, "format['definition']"),
    ],
)
def test_custom_tool_format_is_checked(fmt: Any, error: str) -> None:
    with pytest.raises(
        (TypeError, ValueError), match=error.replace("[", r"\[").replace("]", r"\]")
    ):
        CustomTool("x", "y", format=fmt)


def test_builtin_tool_names_are_checked_and_get_their_schema() -> None:
    with pytest.raises(ValueError, match="BuiltinTool name must be one of"):
        BuiltinTool("bash")
    shell = BuiltinTool("shell")
    assert (
        shell.parameters == BUILTIN_TOOLS["shell"]
        and shell.parameters is not BUILTIN_TOOLS["shell"]
    )


def test_context_json_keeps_the_tool_kinds() -> None:
    context = Context(messages=[UserMessage("hi")], tools=TOOLS)
    again = Context.from_dict(orjson.loads(orjson.dumps(context.to_dict())))
    assert again.tools == TOOLS
    assert [type(tool).__name__ for tool in again.tools or []] == [
        type(tool).__name__ for tool in TOOLS
    ]


# --------------------------------------------------------------------------- the request


def test_tools_list() -> None:
    body = orr.body_of(orr.GPT5, Context(messages=[UserMessage("hi")], tools=TOOLS))
    assert body["tools"][:5] == [
        {
            "type": "custom",
            "name": "write_sql",
            "description": "Write a SQL query",
            "format": {"type": "grammar", "syntax": "regex", "definition": "SELECT .+"},
        },
        {"type": "custom", "name": "note", "description": "Free-form note"},
        {"type": "apply_patch"},
        {"type": "shell"},
        {"type": "local_shell"},
    ]
    assert (
        body["tools"][5]["type"] == "function"
        and body["tools"][5]["name"] == "get_weather"
    )


def _turn(model_id: str = "gpt-5") -> AssistantMessage:
    operation = {"type": "update_file", "path": "a.py", "diff": "@@\n-x\n+y"}
    return AssistantMessage(
        content=[
            ToolCall("call_1|ct_1", "write_sql", {"input": "SELECT 1"}),
            ToolCall("call_2|apc_1", "apply_patch", operation),
            ToolCall(
                "call_3|sh_1",
                "shell",
                {"commands": ["ls"], "timeout_ms": None, "max_output_length": None},
            ),
            ToolCall(
                "call_4|lsh_1",
                "local_shell",
                {"type": "exec", "command": ["ls"], "env": {}},
            ),
            ToolCall("call_5|fc_1", "get_weather", {"location": "Paris"}),
        ],
        api="openai-responses",
        provider="openai",
        model=model_id,
        stop_reason="toolUse",
    )


def _results(message: AssistantMessage) -> list[ToolResultMessage]:
    return [
        ToolResultMessage(
            call.id,
            call.name,
            [TextContent(f"{call.name} ok")],
            is_error=call.name == "shell",
        )
        for call in message.tool_calls
    ]


def test_next_turn_replays_each_call_as_its_own_item_and_results_as_its_output() -> (
    None
):
    turn = _turn()
    context = Context(messages=[UserMessage("go"), turn, *_results(turn)], tools=TOOLS)
    items = orr.body_of(orr.GPT5, context)["input"][1:]
    assert items[:5] == [
        {
            "type": "custom_tool_call",
            "call_id": "call_1",
            "name": "write_sql",
            "input": "SELECT 1",
            "id": "ct_1",
        },
        {
            "type": "apply_patch_call",
            "call_id": "call_2",
            "operation": {"type": "update_file", "path": "a.py", "diff": "@@\n-x\n+y"},
            "status": "completed",
            "id": "apc_1",
        },
        {
            "type": "shell_call",
            "call_id": "call_3",
            "action": {
                "commands": ["ls"],
                "timeout_ms": None,
                "max_output_length": None,
            },
            "status": "completed",
            "id": "sh_1",
        },
        {
            "type": "local_shell_call",
            "call_id": "call_4",
            "action": {"type": "exec", "command": ["ls"], "env": {}},
            "status": "completed",
            "id": "lsh_1",
        },
        {
            "type": "function_call",
            "call_id": "call_5",
            "name": "get_weather",
            "arguments": '{"location":"Paris"}',
            "id": "fc_1",
        },
    ]
    assert items[5:] == [
        {
            "type": "custom_tool_call_output",
            "call_id": "call_1",
            "output": "write_sql ok",
        },
        {
            "type": "apply_patch_call_output",
            "call_id": "call_2",
            "output": "apply_patch ok",
            "status": "completed",
        },
        {
            "type": "shell_call_output",
            "call_id": "call_3",
            "output": [
                {
                    "stdout": "",
                    "stderr": "shell ok",
                    "outcome": {"type": "exit", "exit_code": 1},
                }
            ],
        },
        {
            "type": "local_shell_call_output",
            "call_id": "call_4",
            "output": "local_shell ok",
        },
        {
            "type": "function_call_output",
            "call_id": "call_5",
            "output": "get_weather ok",
        },
    ]


def test_another_models_calls_keep_their_kind_but_not_their_item_ids() -> None:
    turn = _turn("gpt-4.1")
    context = Context(messages=[UserMessage("go"), turn], tools=TOOLS)
    items = orr.body_of(orr.GPT5, context)["input"][1:]
    assert [(item["type"], item["call_id"], "id" in item) for item in items] == [
        ("custom_tool_call", "call_1", False),
        ("apply_patch_call", "call_2", False),
        ("shell_call", "call_3", False),
        ("local_shell_call", "call_4", False),
        ("function_call", "call_5", False),
    ]


# --------------------------------------------------------------------------- the stream


def _custom_call_events(
    call_tools: list[dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    p = orr.payload
    added = {
        "type": "custom_tool_call",
        "id": "ct_1",
        "call_id": "call_1",
        "name": "write_sql",
        "input": "",
    }
    done = {**added, "input": 'SELECT "a\\b"\nFROM t', "status": "completed"}
    response: dict[str, Any] = {"id": "resp_1", "status": "in_progress", "output": []}
    if call_tools is not None:
        response["tools"] = call_tools
    return [
        p("response.created", response=response),
        p("response.output_item.added", output_index=0, item=added),
        p(
            "response.custom_tool_call_input.delta",
            item_id="ct_1",
            output_index=0,
            delta='SELECT "a',
        ),
        p(
            "response.custom_tool_call_input.delta",
            item_id="ct_1",
            output_index=0,
            delta='\\b"\nFROM t',
        ),
        p(
            "response.custom_tool_call_input.done",
            item_id="ct_1",
            output_index=0,
            input=done["input"],
        ),
        p("response.output_item.done", output_index=0, item=done),
        orr.completed(),
    ]


@pytest.mark.parametrize("how", ["whole", "event", "bytes=7", "random-1"])
def test_custom_call_input_streams_as_json_deltas(how: str) -> None:
    message, events = orr.parse(
        _custom_call_events([{"type": "custom", "name": "write_sql"}]), how=how
    )
    assert message.content == [
        ToolCall("call_1|ct_1", "write_sql", {"input": 'SELECT "a\\b"\nFROM t'})
    ]
    assert message.stop_reason == "toolUse"
    fragments = "".join(
        event.delta for event in events if isinstance(event, ToolCallDelta)
    )
    assert orjson.loads(fragments) == {"input": 'SELECT "a\\b"\nFROM t'}


def test_custom_calls_of_tools_the_response_does_not_declare_are_the_servers() -> None:
    """xAI reports its own search tools as ``custom_tool_call`` items; its echoed tools name none."""
    message, _ = orr.parse(_custom_call_events([{"type": "x_search"}]))
    assert message.tool_calls == [] and message.stop_reason == "stop"
    (call,) = message.server_tool_calls
    assert (call.id, call.name, call.input, call.status) == ("ct_1", "write_sql", {}, "completed")
    assert call.wire is not None and call.wire["input"] == 'SELECT "a\\b"\nFROM t'  # not JSON: kept as sent


def test_custom_call_without_an_echoed_tools_list_is_the_clients() -> None:
    message, _ = orr.parse(_custom_call_events(None))
    assert [call.name for call in message.tool_calls] == ["write_sql"]


def test_a_shell_call_in_a_hosted_container_is_the_servers() -> None:
    p = orr.payload
    item = {"id": "sh_1", "type": "shell_call", "call_id": "c", "action": {"commands": ["ls"]},
            "environment": {"type": "container_auto"}}  # fmt: skip
    message, _ = orr.parse(
        [
            orr.created(),
            p("response.output_item.added", output_index=0, item=item),
            p("response.output_item.done", output_index=0, item=item),
            *[{**event, "output_index": 1} for event in orr.message_events("done")],
            orr.completed(),
        ]
    )
    assert [type(block).__name__ for block in message.content] == [
        "ServerToolCall",
        "TextContent",
    ] and message.stop_reason == "stop"
    call = message.server_tool_calls[0]
    assert (call.name, call.input, call.result) == ("shell", {"commands": ["ls"]}, None)


def test_a_custom_call_cut_short_keeps_its_input_so_far() -> None:
    events = _custom_call_events([{"type": "custom", "name": "write_sql"}])[:3]
    message, _ = orr.parse(events)
    assert message.stop_reason == "error"
    assert message.content == [
        ToolCall("call_1|ct_1", "write_sql", {"input": 'SELECT "a'})
    ]


# --------------------------------------------------------------------------- handoff


def _handoff_context() -> Context:
    turn = _turn()
    return Context(messages=[UserMessage("go"), turn, *_results(turn)], tools=TOOLS)


def test_handoff_to_anthropic_makes_ordinary_tool_calls_and_results() -> None:
    body = am.body(_handoff_context())
    tools = {tool["name"]: tool["input_schema"] for tool in body["tools"]}
    assert (
        tools["write_sql"] == SQL.parameters
        and tools["apply_patch"] == BUILTIN_TOOLS["apply_patch"]
    )
    uses = [
        block for block in body["messages"][1]["content"] if block["type"] == "tool_use"
    ]
    assert [(use["name"], use["input"]) for use in uses][:2] == [
        ("write_sql", {"input": "SELECT 1"}),
        ("apply_patch", {"type": "update_file", "path": "a.py", "diff": "@@\n-x\n+y"}),
    ]
    results = [
        block
        for block in body["messages"][2]["content"]
        if block["type"] == "tool_result"
    ]
    assert [result["tool_use_id"] for result in results] == [use["id"] for use in uses]
    assert all("|" not in use["id"] for use in uses)


def test_handoff_to_chat_completions_makes_ordinary_function_calls() -> None:
    body = oc.body_of(oc.make_model(), _handoff_context())
    assert [tool["function"]["name"] for tool in body["tools"]] == [
        tool.name for tool in TOOLS
    ]
    assistant = next(m for m in body["messages"] if m["role"] == "assistant")
    calls = assistant["tool_calls"]
    assert orjson.loads(calls[0]["function"]["arguments"]) == {"input": "SELECT 1"}
    tool_ids = [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    assert tool_ids == [call["id"] for call in calls]


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("write_sql", {"type": "custom", "name": "write_sql"}),
        ("shell", {"type": "shell"}),
        ("get_weather", {"type": "function", "name": "get_weather"}),
    ],
)
def test_a_named_tool_choice_names_the_tool_by_its_kind(
    name: str, sent: dict[str, Any]
) -> None:
    opts = StreamOptions(api_key=orr.KEY, tool_choice={"name": name})
    body = orr.body_of(
        orr.GPT5, Context(messages=[UserMessage("hi")], tools=TOOLS), opts
    )
    assert body["tool_choice"] == sent
