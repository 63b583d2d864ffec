"""Server tool calls and citations in the core: the data model, the events, the emitter (both
twins), the Context JSON, the handoff rules, the ``server_tools`` option, approvals, paused
turns and the scripted provider. Each wire API's mapping is tested in ``tests/providers``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from protocol_checks import assert_protocol
import support
from support import ROOT, replay_server  # noqa: F401 (fixture)

import alchemy
from alchemy.emitter import EventEmitter
from alchemy.errors import InvalidOutputError, StreamProtocolError
from alchemy.events import ServerToolDelta, ServerToolEnd, ServerToolStart
from alchemy.server_tools import (
    FIELD_APIS,
    SERVER_TOOL_APIS,
    SERVER_TOOL_CLASSES,
    CodeExecution,
    FileSearch,
    ImageGeneration,
    McpServer,
    ToolSearch,
    UserLocation,
    WebFetch,
    WebSearch,
    approve,
    check_server_tools,
    describe,
    needs_continuation,
    server_tools_for,
)
from alchemy.testing import ScriptedProvider, citation, paused, scripted_model, server_tool, stop, text
from alchemy.transform import transform_messages
from alchemy.types import (
    AssistantMessage,
    Citation,
    Context,
    Model,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

ANTHROPIC = Model(id="claude-x", name="c", api="anthropic-messages", provider="anthropic", base_url="http://127.0.0.1:9")
OTHER_CLAUDE = Model(id="claude-y", name="c", api="anthropic-messages", provider="anthropic", base_url="http://127.0.0.1:9")
OPENAI = Model(id="gpt-x", name="g", api="openai-responses", provider="openai", base_url="http://127.0.0.1:9")


def search_call(status: str = "completed") -> ServerToolCall:
    return ServerToolCall(
        "srvtoolu_1",
        "web_search",
        {"query": "weather in Paris"},
        {"type": "web_search_tool_result", "content": [{"url": "https://a.example", "encrypted_content": "xyz"}]},
        status,  # type: ignore[arg-type]
        "anthropic",
        {"type": "server_tool_use"},
    )


def cited_text() -> TextContent:
    source = Citation("url", url="https://a.example", title="A", cited_text="sunny", wire={"encrypted_index": "e1"})
    return TextContent("It is sunny.", None, [source])


def claude_turn(*blocks: Any, model: str = "claude-x") -> AssistantMessage:
    return AssistantMessage(content=list(blocks), api="anthropic-messages", provider="anthropic", model=model)


# --------------------------------------------------------------------------- the data model


def test_blocks_round_trip_through_the_context_json() -> None:
    message = claude_turn(search_call(), cited_text())
    message.paused = True
    context = Context(messages=[UserMessage("hi"), message])
    again = Context.from_json(context.to_json())
    assert again == context
    saved = orjson.loads(context.to_json())["messages"][1]
    assert saved["paused"] is True
    assert saved["content"][0] == {
        "type": "serverToolCall",
        "id": "srvtoolu_1",
        "name": "web_search",
        "input": {"query": "weather in Paris"},
        "result": {"type": "web_search_tool_result", "content": [{"url": "https://a.example", "encrypted_content": "xyz"}]},
        "status": "completed",
        "provider": "anthropic",
        "wire": {"type": "server_tool_use"},
    }
    assert saved["content"][1]["citations"] == [
        {"kind": "url", "url": "https://a.example", "title": "A", "citedText": "sunny", "wire": {"encrypted_index": "e1"}}
    ]


def test_plain_text_json_is_unchanged() -> None:
    assert TextContent("hi").to_dict() == {"type": "text", "text": "hi"}
    assert "paused" not in claude_turn(TextContent("hi")).to_dict()


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: ServerToolCall("s", 3), "name"),  # type: ignore[arg-type]
        (lambda: ServerToolCall("s", "web_search", input="q"), "input"),  # type: ignore[arg-type]
        (lambda: ServerToolCall("s", "web_search", status="done"), "status"),  # type: ignore[arg-type]
        (lambda: ServerToolCall("s", "web_search", result={1, 2}), "result"),
        (lambda: ServerToolCall("s", "web_search", wire=["x"]), "wire"),  # type: ignore[arg-type]
        (lambda: Citation("link"), "kind"),  # type: ignore[arg-type]
        (lambda: Citation("url", start=5, end=2), "end"),
        (lambda: Citation("url", start=-1), "start"),
        (lambda: TextContent("x", None, [{"kind": "url"}]), r"citations\[0\]"),  # type: ignore[list-item]
        (lambda: TextContent("x", None, "https://a"), "citations"),  # type: ignore[arg-type]
    ],
)
def test_bad_blocks_raise_naming_the_field(make: Callable[[], Any], error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        make()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"type": "serverToolCall", "name": "x"}, "content[0].id: missing required field"),
        ({"type": "serverToolCall", "id": "s", "name": "x", "status": "done"}, "content[0].status"),
        ({"type": "text", "text": "a", "citations": [{"kind": "web"}]}, "content[0].citations[0].kind"),
        ({"type": "text", "text": "a", "citations": [{"kind": "url", "start": "1"}]}, "citations[0].start"),
    ],
)
def test_malformed_json_names_the_path(data: dict[str, Any], error: str) -> None:
    raw = {"role": "assistant", "content": [data], "api": "a", "provider": "p", "model": "m", "stopReason": "stop"}
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        AssistantMessage.from_dict(raw)


def test_message_accessors() -> None:
    message = claude_turn(search_call(), cited_text(), ToolCall("t1", "f", {}))
    assert message.server_tool_calls == [message.content[0]]
    assert [c.url for c in message.citations] == ["https://a.example"]
    assert message.tool_calls == [message.content[2]] and message.text == "It is sunny."
    assert "encrypted" not in repr(search_call())[:60] and len(repr(search_call())) < 300


def test_a_pi_ai_reader_skips_the_new_block(tmp_path: Any) -> None:
    """pi-ai's converters branch on the block type and ignore the rest; the Context JSON keeps
    pi-ai's shape for every other block, so a pi-ai reader loses only the server tool block."""
    data = orjson.loads(Context(messages=[claude_turn(search_call(), cited_text())]).to_json())
    kinds = [block["type"] for block in data["messages"][0]["content"]]
    assert kinds == ["serverToolCall", "text"]
    assert set(data["messages"][0]["content"][1]) == {"type", "text", "citations"}


# --------------------------------------------------------------------------- the emitter, both twins


@pytest.fixture
def emitter(event_buffer_cls: Any, json_delta_merger_cls: Any) -> EventEmitter:
    message = AssistantMessage(api="anthropic-messages", provider="anthropic", model="claude-x")
    return EventEmitter(message, event_buffer_cls(), merger_factory=json_delta_merger_cls)


def test_streamed_input_then_result(emitter: EventEmitter) -> None:
    emitter.server_tool_start("s1", "web_search", wire={"type": "server_tool_use"})
    emitter.server_tool_delta('{"query": "pa')
    block = emitter.message.content[0]
    assert isinstance(block, ServerToolCall) and block.input == {"query": "pa"} and block.status == "in_progress"
    emitter.server_tool_delta('ris"}')
    emitter.server_tool_end(result={"hits": 3}, wire={"result_type": "web_search_tool_result"})
    emitter.text_delta("Sunny")
    emitter.add_citations([Citation("url", url="https://a")])
    emitter.done()
    events = list(emitter.buffer)
    final = assert_protocol(events)
    assert [type(e) for e in events[1:5]] == [ServerToolStart, ServerToolDelta, ServerToolDelta, ServerToolEnd]
    assert events[4].server_tool_call.to_dict() == {
        "type": "serverToolCall", "id": "s1", "name": "web_search", "input": {"query": "paris"}, "result": {"hits": 3},
        "status": "completed", "provider": "anthropic",
        "wire": {"type": "server_tool_use", "result_type": "web_search_tool_result"},
    }  # fmt: skip
    assert events[4].to_dict()["serverToolCall"]["id"] == "s1"
    assert final.stop_reason == "stop" and final.text == "Sunny" and final.citations[0].url == "https://a"


def test_whole_call_code_fragments_and_a_late_result(emitter: EventEmitter) -> None:
    emitter.server_tool("s1", "file_search", {"queries": ["q"]}, [{"file_id": "f"}])
    emitter.server_tool_start("s2", "code_interpreter", input={"container_id": "c1"})
    emitter.server_tool_delta("print(", field="code")
    emitter.server_tool_delta("1)", field="code")
    emitter.text_delta("Done")  # closes s2 without a result
    assert emitter.complete_server_tool("s2", result={"logs": "1"})
    assert not emitter.complete_server_tool("nope", result=1)
    emitter.done()
    final = assert_protocol(list(emitter.buffer))
    first, second = final.content[0], final.content[1]
    assert isinstance(first, ServerToolCall) and first.status == "completed" and first.result == [{"file_id": "f"}]
    assert isinstance(second, ServerToolCall)
    assert second.input == {"container_id": "c1", "code": "print(1)"} and second.result == {"logs": "1"}
    assert final.stop_reason == "stop", "server tools never make the turn a toolUse"


def test_an_open_server_tool_is_closed_in_progress_and_kept_on_error(emitter: EventEmitter) -> None:
    emitter.server_tool_start("s1", "web_fetch")
    emitter.server_tool_delta('{"url": "https://a')
    emitter.error("connection reset")
    final = assert_protocol(list(emitter.buffer))
    block = final.content[0]
    assert isinstance(block, ServerToolCall) and block.status == "in_progress" and block.input == {"url": "https://a"}


def test_emitter_misuse_raises(emitter: EventEmitter) -> None:
    with pytest.raises(StreamProtocolError, match="server_tool_start"):
        emitter.server_tool_delta("{}")
    emitter.server_tool_start("s1", "x", input={})
    with pytest.raises(StreamProtocolError, match="field="):
        emitter.server_tool_delta("{}")
    with pytest.raises(ValueError, match="status"):
        emitter.update_server_tool(status="done")  # type: ignore[arg-type]
    emitter.text_delta("a")
    with pytest.raises(StreamProtocolError, match="Citation|citations|TextContent"):
        emitter.add_citations([Citation("url")], index=0)


def test_too_deep_input_or_result_ends_as_invalid_output(emitter: EventEmitter) -> None:
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    emitter.server_tool_start("s1", "x", input={})
    with pytest.raises(InvalidOutputError):
        emitter.server_tool_end(result=deep)


def test_restart_forgets_the_paused_mark(emitter: EventEmitter) -> None:
    emitter.set_paused()
    emitter.restart()
    assert emitter.message.paused is False


# --------------------------------------------------------------------------- the handoff


def test_same_api_keeps_blocks_and_citations_whatever_the_model() -> None:
    turn = claude_turn(ThinkingContent("hmm", "sig"), search_call(), cited_text(), model="claude-y")
    shaped = transform_messages([UserMessage("q"), turn], ANTHROPIC)
    content = shaped[1].content  # type: ignore[union-attr]
    assert [type(b) for b in content] == [ServerToolCall, TextContent], "the foreign thinking is dropped"
    assert content[0] is turn.content[1]
    assert isinstance(content[1], TextContent) and content[1].citations == turn.content[2].citations  # type: ignore[union-attr]


def test_other_apis_drop_them_or_read_a_summary() -> None:
    turn = claude_turn(search_call(), cited_text())
    dropped = transform_messages([UserMessage("q"), turn], OPENAI)[1]
    assert isinstance(dropped, AssistantMessage)
    assert dropped.content == [TextContent("It is sunny.")]
    summarised = transform_messages([UserMessage("q"), turn], OPENAI, foreign_server_tools="text")[1]
    assert isinstance(summarised, AssistantMessage)
    summary = summarised.content[0]
    assert isinstance(summary, TextContent)
    assert summary.text.startswith('[web_search run by anthropic, completed] input: {"query":"weather in Paris"}')
    assert "encrypted" not in summary.text and "https://a.example" in summary.text
    with pytest.raises(ValueError, match="foreign_server_tools"):
        transform_messages([turn], OPENAI, foreign_server_tools="keep")  # type: ignore[arg-type]


def test_approval_answers_follow_their_call_and_server_calls_get_no_synthetic_result() -> None:
    request = ServerToolCall("mcpr_1", "roll", {"dice": 2}, None, "awaiting_approval", "openai",
                             {"type": "mcp_approval_request", "server_label": "dmcp"})  # fmt: skip
    turn = AssistantMessage(content=[request], api="openai-responses", provider="openai", model="gpt-x")
    answer = approve(request)
    history = [UserMessage("roll"), turn, answer, UserMessage("and again")]
    same = transform_messages(history, OPENAI)
    assert same[2] is answer and len(same) == 4
    other = transform_messages(history, ANTHROPIC)
    assert [type(m) for m in other] == [UserMessage, UserMessage], "the call and its answer go together"
    plain = transform_messages([UserMessage("q"), claude_turn(search_call()), UserMessage("more")], ANTHROPIC)
    assert len(plain) == 3, "no 'No result provided' for a call the provider answers itself"


def test_describe_cuts_long_results_and_says_so() -> None:
    call = ServerToolCall("s", "code_execution", {"code": "x"}, {"stdout": "y" * 10_000}, provider="google")
    text = describe(call)
    assert text.endswith("more characters left out)") and len(text) < 4_300


# --------------------------------------------------------------------------- the option


def test_every_kind_has_its_apis_and_every_setting_a_row() -> None:
    assert {cls.kind for cls in SERVER_TOOL_CLASSES} == set(SERVER_TOOL_APIS)
    for cls in SERVER_TOOL_CLASSES:
        for name in (f.name for f in dataclasses.fields(cls)):  # type: ignore[arg-type]
            assert (cls.kind, name) in FIELD_APIS, f"{cls.__name__}.{name} needs a FIELD_APIS row"
    for (kind, _), apis in FIELD_APIS.items():
        assert apis is None or apis <= SERVER_TOOL_APIS[kind]


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: WebSearch(max_uses=0), "max_uses"),
        (lambda: WebSearch(allowed_domains="a.com"), "allowed_domains"),
        (lambda: WebSearch(allowed_domains=["a.com"], blocked_domains=["b.com"]), "not both"),
        (lambda: WebSearch(user_location={"city": "Paris"}), "user_location"),  # type: ignore[arg-type]
        (lambda: WebSearch(context_size="huge"), "context_size"),  # type: ignore[arg-type]
        (lambda: UserLocation(country="France"), "country"),
        (lambda: WebFetch(citations="yes"), "citations"),  # type: ignore[arg-type]
        (lambda: CodeExecution(container="c", file_ids=["f"]), "not both"),
        (lambda: FileSearch(), "vector_store_ids"),
        (lambda: FileSearch(["vs"], max_num_results=51), "max_num_results"),
        (lambda: McpServer(url="ftp://x", name="m"), "url"),
        (lambda: McpServer(url="https://x"), "name"),
        (lambda: ImageGeneration(quality="ultra"), "quality"),  # type: ignore[arg-type]
        (lambda: ToolSearch(mode="fuzzy"), "mode"),  # type: ignore[arg-type]
    ],
)
def test_bad_settings_raise_at_construction(make: Callable[[], Any], error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        make()


def test_the_option_kind() -> None:
    assert check_server_tools("server_tools", (WebSearch(),)) == [WebSearch()]
    with pytest.raises(TypeError, match=r"put it in a list"):
        check_server_tools("server_tools", WebSearch())
    with pytest.raises(TypeError, match=r"call it: alchemy.WebSearch\(\)"):
        check_server_tools("server_tools", [WebSearch])
    with pytest.raises(TypeError, match="use the classes"):
        check_server_tools("server_tools", [{"type": "web_search"}])
    with pytest.raises(ValueError, match="given twice"):
        check_server_tools("server_tools", [WebSearch(), WebSearch(max_uses=2)])
    two = [McpServer(url="https://a", name="a"), McpServer(url="https://b", name="b")]
    assert check_server_tools("server_tools", two) == two


def test_each_api_refuses_what_it_does_not_offer() -> None:
    for kind, apis in SERVER_TOOL_APIS.items():
        cls = next(c for c in SERVER_TOOL_CLASSES if c.kind == kind)
        tool = cls(["vs_1"]) if cls is FileSearch else (cls(url="https://a", name="a") if cls is McpServer else cls())
        for api in ("anthropic-messages", "openai-responses", "google-generative-ai", "bedrock-converse-stream"):
            if api in apis:
                assert server_tools_for(api, [tool]) == [tool]
            else:
                with pytest.raises(ValueError, match=rf"server_tools\[0\]: {cls.__name__} is not offered by the {api}"):
                    server_tools_for(api, [tool])


def test_a_call_refuses_before_any_io() -> None:
    bedrock = Model(id="m", name="m", api="bedrock-converse-stream", provider="amazon-bedrock", base_url="http://127.0.0.1:9")
    context = Context(messages=[UserMessage("hi")])
    with pytest.raises(TypeError, match="option 'server_tools' cannot be sent to api 'bedrock-converse-stream'"):
        alchemy.stream(bedrock, context, server_tools=[WebSearch()])
    with pytest.raises(ValueError, match=r"WebSearch\(context_size=...\) is not carried by the anthropic-messages"):
        alchemy.stream(ANTHROPIC, context, server_tools=[WebSearch(context_size="low")], api_key="test-key-not-real")


def test_mcp_credentials_stay_out_of_reprs_and_reach_the_redactor() -> None:
    from alchemy.options import StreamOptions
    from alchemy.streaming import call_secrets

    token = "mcp-token-not-real-123456"
    server = McpServer(url="https://mcp.example", name="docs", authorization=token, headers={"x-key": "hdr-secret-987654"})
    assert token not in repr(server) and "hdr-secret" not in repr(server)
    options = StreamOptions(server_tools=[server])
    assert token not in repr(options)
    secrets = call_secrets(ANTHROPIC, options)
    assert secrets.redact(f"failed with {token} and hdr-secret-987654") == "failed with <redacted> and <redacted>"


# --------------------------------------------------------------------------- approvals and paused turns


def test_approve_builds_the_answer_and_checks_its_call() -> None:
    request = ServerToolCall("mcpr_1", "roll", {}, None, "awaiting_approval", "openai")
    yes = approve(request)
    assert (yes.tool_call_id, yes.tool_name, yes.details, yes.is_error) == ("mcpr_1", "roll", {"approve": True}, False)
    no = approve(request, False, reason="not now")
    assert no.details == {"approve": False, "reason": "not now"} and no.content[0].text == "denied: not now"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="awaiting_approval"):
        approve(search_call())
    with pytest.raises(TypeError, match="ServerToolCall"):
        approve(ToolCall("t", "f", {}))  # type: ignore[arg-type]


def test_needs_continuation() -> None:
    message = claude_turn(TextContent("half"))
    assert not needs_continuation(message)
    message.paused = True
    assert needs_continuation(message)
    with pytest.raises(TypeError):
        needs_continuation("message")


def test_scripted_server_tools_citations_and_a_paused_turn_continued_by_run_tools() -> None:
    provider = ScriptedProvider(
        [
            [server_tool("s1", "web_search", '{"query": "pa'), server_tool("s1", input='ris"}', result=[{"url": "u"}])],
            [text("Searching on"), paused()],
        ],
        [[text(" and found it."), citation("url", url="https://a.example", start=0, end=4), stop()]],
    )
    context = Context(messages=[UserMessage("weather?")])
    with provider, alchemy.run_tools(scripted_model(), context, tools=[]) as run:
        events = list(run)
    result = run.result()
    assert result.reason == "done" and len(provider.calls) == 2
    first, second = context.messages[1], context.messages[2]
    assert isinstance(first, AssistantMessage) and first.paused and first.server_tool_calls[0].input == {"query": "paris"}
    assert isinstance(second, AssistantMessage) and second.citations[0].end == 4
    assert sum(e.type == "servertool_end" for e in events) == 1
    assert provider.calls[1].context.messages[-1] is first, "the paused turn is sent back as the last turn"


def test_importing_alchemy_does_not_import_server_tools_module() -> None:
    code = "import alchemy, sys; print('alchemy.server_tools' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- a real handoff, end to end


def _recorded_claude_turn() -> AssistantMessage:
    """The final message of the recorded Anthropic web-fetch stream, parsed by the Anthropic provider."""
    from anthropic_oracle import wire_bytes
    from protocol_checks import run_parser

    from alchemy.api_registry import get_api
    from alchemy.models import get_model

    sonnet = get_model("anthropic", "claude-sonnet-4-5")
    path = support.require_shared() / "fixtures" / "vercel-ai" / "anthropic" / "anthropic-web-fetch-tool.1.chunks.txt"
    _, message = run_parser(get_api("anthropic-messages"), sonnet, wire_bytes(path))
    assert message.server_tool_calls and message.stop_reason == "stop"
    return message


@pytest.mark.parametrize("policy", ["drop", "text"])
def test_a_claude_turn_with_server_tools_continues_on_chat_completions(replay_server: Any, policy: str) -> None:
    from alchemy.testing import Replay

    turn = _recorded_claude_turn()
    context = Context.from_json(Context(messages=[UserMessage("Fetch it"), turn, UserMessage("Thanks")]).to_json())
    target = support.wire_model("openai-completions", base_url=replay_server.base_url_for("openai-completions"))
    replay_server.enqueue(Replay("openai-completions-answer", api="openai-completions"))
    message = alchemy.complete(target, context, api_key="test-key-not-real", max_retries=0, foreign_server_tools=policy)
    assert message.stop_reason == "stop", message.error_message
    sent = replay_server.last_request.json["messages"]
    assistant = next(m for m in sent if m["role"] == "assistant")
    content = assistant["content"] if isinstance(assistant["content"], str) else "".join(
        part["text"] for part in assistant["content"]
    )
    call = turn.server_tool_calls[0]
    summary = f"[{call.name} run by anthropic, completed] input: "
    assert turn.text.strip()[:40] in content
    assert (summary in content) is (policy == "text")
    assert ("web_fetch_result" in content) is (policy == "text"), "the result is summarised, or left out"
    assert "server_tool_use" not in str(assistant) and "encrypted" not in str(assistant)


def test_supported_server_tools_asks_the_provider_without_sending() -> None:
    from alchemy.models import get_model

    names = lambda key: [cls.__name__ for cls in alchemy.supported_server_tools(get_model(key))]  # noqa: E731
    assert names("anthropic/claude-sonnet-4-5") == ["WebSearch", "WebFetch", "CodeExecution", "McpServer", "ToolSearch"]
    assert names("openai/gpt-5") == ["WebSearch", "CodeExecution", "FileSearch", "McpServer", "ImageGeneration"]
    assert names("google/gemini-2.5-flash") == ["WebSearch", "WebFetch", "CodeExecution"]
    assert names("openrouter/anthropic/claude-sonnet-4.5") == ["WebSearch"]
    assert names("groq/llama-3.3-70b-versatile") == [], "Chat Completions elsewhere: no web search"
    assert names("amazon-bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0") == []
    with pytest.raises(TypeError, match="model"):
        alchemy.supported_server_tools("anthropic/claude-sonnet-4-5")


def test_text_block_at_places_offsets_over_the_text_blocks(emitter: EventEmitter) -> None:
    assert emitter.text_block_at(0) is None
    emitter.text_delta("Hello")  # block 0, characters 0-4
    emitter.text_start()  # block 1, empty
    emitter.thinking_delta("hmm")  # block 2, not text
    emitter.text_delta("abc")  # block 3, characters 5-7
    content = emitter.message.content
    assert emitter.text_block_at(2) == (0, content[0], 0)
    assert emitter.text_block_at(5) == (3, content[3], 5), "an empty block holds nothing"
    assert emitter.text_block_at(99) == (3, content[3], 5), "past the end: the last block"
