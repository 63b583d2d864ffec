"""The ``alchemy`` command: demo, chat and models, in process and as a real subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import alchemy
from alchemy.cli import DEMO_MODELS, EXIT_BROKEN_PIPE, EXIT_CODES, MODEL_ALIASES, demo_code, demo_model, main
from alchemy.errors import ERROR_KINDS
from alchemy.testing import Replay, ReplayServer
from support import bundled_registry, replay_server  # noqa: F401  (fixtures)

CHAT_MODEL = "deepseek/deepseek-reasoner"  # an openai-completions model; the bundled answer is DeepSeek's
ANSWER = "It's 18 °C and partly cloudy in Paris right now."


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def cli(*argv: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m alchemy ARGV`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "alchemy", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


@pytest.fixture
def server(replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    """The module's replay server with an empty queue, and a key for the chat model."""
    monkeypatch.setenv("DEEPSEEK_API_KEY", "test-key-not-secret")
    replay_server.reset()
    yield replay_server
    replay_server.clear_queue()


def chat_args(server: ReplayServer, *argv: str) -> list[str]:
    return ["chat", "-m", CHAT_MODEL, "--base-url", server.base_url_for("openai-completions"), "-o", "max_retries=0", *argv]


def answer(server: ReplayServer) -> None:
    server.enqueue(Replay("openai-completions-answer", api="openai-completions"))


# -- demo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", list(DEMO_MODELS))
def test_demo_runs_the_whole_tool_loop(api: str) -> None:
    code, text, err = run("demo", "--api", api, "--delay", "0")
    assert code == 0, text + err
    assert "[tool call] get_weather" in text and '"city":"Paris"' in text
    assert 'stop reason "toolUse": the model asks for a tool to be run' in text  # the word, explained
    assert "runs get_weather(city='Paris', unit='celsius')" in text
    assert 'It returned {"city":"Paris","temperature":18,"unit":"celsius","sky":"partly cloudy"}' in text
    assert ANSWER in text
    assert 'stop reason "stop": the answer is complete' in text
    assert "whole loop: 2 turns" in text and "cost $" in text
    assert "kernels" not in text  # no jargon without a word


def test_demo_all_with_byte_chunking_ends_with_the_code() -> None:
    code, text, _ = run("demo", "--api", "all", "--delay", "0", "--chunking", "bytes=7")
    assert code == 0, text
    assert text.count(ANSWER) == len(DEMO_MODELS)
    assert text.rstrip().endswith(demo_code(DEMO_MODELS["openai-completions"], ["DEEPSEEK_API_KEY"]).rstrip())


def test_demo_shows_arguments_growing() -> None:
    code, text, _ = run("demo", "--delay", "0")
    assert code == 0
    # Off a terminal, each argument update is its own line: the object grows key by key.
    assert '    {"city":"Paris"}\n' in text
    assert '  -> {"city":"Paris","unit":"celsius"}' in text


def test_demo_unknown_api() -> None:
    code, _, err = run("demo", "--api", "nope")
    assert code == 2 and "no recording for 'nope'" in err


def test_the_printed_code_runs(replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """The snippet the demo ends with does what the demo showed (against the replay server)."""
    api = "anthropic-messages"
    replay_server.reset()
    replay_server.enqueue(Replay("anthropic-messages", api=api), Replay("anthropic-messages-answer", api=api))
    model = demo_model(api, replay_server.base_url_for(api))
    monkeypatch.setattr(alchemy, "get_model", lambda key: model)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-secret")
    source = demo_code(model.key, model.env_keys)
    assert 14 <= len(source.splitlines()) <= 18
    exec(compile(source, "demo-snippet", "exec"), {})
    printed = capsys.readouterr().out
    assert "I'll check the current weather in Paris for you." in printed
    assert '[get_weather returned {"city":"Paris","temperature":18' in printed
    assert ANSWER in printed and "2 turns, cost $" in printed
    assert replay_server.requests[-1].json["messages"][-1]["content"][0]["type"] == "tool_result"


def test_python_dash_m_alchemy_demo_runs() -> None:
    result = cli("demo", "--delay", "0")
    assert result.returncode == 0, result.stderr
    assert ANSWER in result.stdout and result.stderr == ""


# -- chat ---------------------------------------------------------------------------------------


def test_chat_answer_to_stdout_the_rest_to_stderr(server: ReplayServer) -> None:
    answer(server)
    code, out, err = run(*chat_args(server, "--system", "Be brief.", "Weather in Paris?"))
    assert code == 0, err
    assert out == ANSWER + "\n"
    assert "[thinking] The tool says 18 °C" in err
    assert "stop    stop (the answer is complete)" in err and "cost $" in err
    sent = server.requests[-1].json
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["messages"][-1]["content"] == "Weather in Paris?"


def test_chat_options_are_typed_by_their_declarations(server: ReplayServer) -> None:
    answer(server)
    code, _, err = run(*chat_args(server, "-o", "temperature=0.2", "-o", "stop=END", "-o", "stop=STOP", "-o", "seed=7", "hi"))
    assert code == 0, err
    sent = server.requests[-1].json
    assert sent["temperature"] == 0.2 and sent["seed"] == 7 and sent["stop"] == ["END", "STOP"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("temprature=0.2", "did you mean 'temperature'?"),
        ("temperature=hot", "option temperature must be number >= 0 and <= 2, got 'hot'"),
        ("temperature=5", "option temperature must be a number >= 0 and <= 2, got 5.0"),
        ("logprobs=maybe", "option logprobs must be true or false, got 'maybe'"),
        ("signal=x", "option signal takes a Python object"),
        ("extra_body={oops", "option extra_body: not valid JSON"),
        ("novalue", "-o takes name=value, got 'novalue'"),
    ],
)
def test_chat_bad_options_exit_2_before_sending(server: ReplayServer, option: str, message: str) -> None:
    code, out, err = run(*chat_args(server, "-o", option, "hi"))
    assert code == 2 and out == ""
    assert message in err, err
    assert server.requests == []


def test_chat_json_events(server: ReplayServer) -> None:
    answer(server)
    code, out, err = run(*chat_args(server, "--json", "hi"))
    assert code == 0 and err == ""
    events = [orjson.loads(line) for line in out.splitlines()]
    assert events[0] == {"type": "start"} and events[-1]["type"] == "done"
    assert all("partial" not in event for event in events)  # one line per event, not the message each time
    assert "".join(e["delta"] for e in events if e["type"] == "text_delta") == ANSWER
    assert events[-1]["message"]["stopReason"] == "stop"


def test_chat_json_final(server: ReplayServer) -> None:
    answer(server)
    code, out, _ = run(*chat_args(server, "--json=final", "hi"))
    assert code == 0
    message = orjson.loads(out)
    assert message["role"] == "assistant" and message["content"][-1] == {"type": "text", "text": ANSWER}


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit"), (401, "auth"), (500, "server"), (404, "not_found")])
def test_chat_error_prints_once_and_exits_by_kind(server: ReplayServer, status: int, kind: str) -> None:
    server.enqueue(Replay.http_error(status, message="nope from the server"))
    code, out, err = run(*chat_args(server, "hi"))
    assert code == EXIT_CODES[kind]
    assert out == ""
    assert err.count("nope from the server") == 1 and f"[{kind}]" in err
    assert "usage" not in err and "stop    " not in err  # no zeroed stats block


def test_every_error_kind_has_its_own_exit_code() -> None:
    assert set(EXIT_CODES) == set(ERROR_KINDS)
    codes = [code for kind, code in EXIT_CODES.items() if kind != "aborted"]
    assert len(set(codes)) == len(codes) and all(10 <= code <= 30 for code in codes)


def test_chat_without_a_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_OAUTH_TOKEN", raising=False)
    code, _, err = run("chat", "-m", "anthropic/claude-sonnet-4-5", "hello")
    assert code == 2  # a missing key raises at the call: a usage error, like an unknown model
    assert "ANTHROPIC_API_KEY" in err


def test_chat_unknown_model_suggests() -> None:
    code, _, err = run("chat", "-m", "anthropic/claude-sonet-4-5", "hello")
    assert code == 2 and "claude-sonnet-4-5" in err


@pytest.mark.parametrize("alias", list(MODEL_ALIASES))
def test_model_aliases_resolve_in_the_bundled_registry(alias: str) -> None:
    code, out, _ = run("models", "show", alias)
    assert code == 0 and f"model           {MODEL_ALIASES[alias]}" in out


def test_chat_reads_the_prompt_from_stdin(server: ReplayServer) -> None:
    answer(server)
    result = cli(*chat_args(server), stdin="What is the weather in Paris?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert server.requests[-1].json["messages"][-1]["content"] == "What is the weather in Paris?\n"


def test_chat_json_lines_parse_in_a_pipe(server: ReplayServer) -> None:
    answer(server)
    result = cli(*chat_args(server, "--json", "hi"))
    assert result.returncode == 0, result.stderr
    assert [orjson.loads(line)["type"] for line in result.stdout.splitlines()][-1] == "done"


def test_chat_exit_code_of_a_failed_stream_in_a_subprocess(server: ReplayServer) -> None:
    server.enqueue(Replay.http_error(429, retry_after=0))
    result = cli(*chat_args(server, "hi"))
    assert result.returncode == EXIT_CODES["rate_limit"]
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1


def test_chat_without_a_prompt_is_a_usage_error() -> None:
    result = cli("chat", "-m", CHAT_MODEL, stdin="")
    assert result.returncode == 2 and "no prompt" in result.stderr


# -- models -------------------------------------------------------------------------------------


def test_models_list_filters() -> None:
    code, text, _ = run("models", "--provider", "anthropic", "--vision", "--wide")
    assert code == 0
    lines = text.strip().splitlines()
    assert lines[0].startswith("model") and lines[-1].endswith("R reasoning)")
    assert all(line.startswith("anthropic/") for line in lines[1:-1])
    assert all("V" in line.split()[-1] for line in lines[1:-1])


def test_models_fit_the_width_and_wide_shows_whole_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, narrow, _ = run("models", "--provider", "openrouter")
    assert code == 0
    assert max(len(line) for line in narrow.splitlines()[:-1]) <= 80
    assert narrow.rstrip().endswith("ids shortened to fit, --wide shows them whole")
    code, wide, _ = run("models", "--provider", "openrouter", "--wide")
    assert max(len(line) for line in wide.splitlines()) > 80
    longest = max(alchemy.get_models("openrouter"), key=lambda m: len(m.key)).key
    assert longest in wide and longest not in narrow


def test_models_search() -> None:
    code, text, _ = run("models", "search", "claude", "sonnet", "--provider", "anthropic", "--wide")
    assert code == 0
    rows = text.strip().splitlines()[1:-1]
    assert rows[0].startswith("anthropic/claude-sonnet")  # best first; weaker matches follow
    assert all(row.startswith("anthropic/") for row in rows)


def test_models_unknown_provider_exits_2_with_a_suggestion() -> None:
    code, out, err = run("models", "--provider", "antropic")
    assert code == 2 and out == ""
    assert "unknown provider 'antropic'; did you mean anthropic" in err


def test_models_providers_and_show() -> None:
    code, text, _ = run("models", "providers")
    assert code == 0 and "\nanthropic " in text
    code, text, _ = run("models", "show", "openai/gpt-5")
    assert code == 0
    assert "api             openai-responses" in text
    assert "OPENAI_API_KEY" in text and "price $/M" in text


def test_models_show_needs_a_model() -> None:
    code, _, err = run("models", "show")
    assert code == 2 and "usage: alchemy models show MODEL" in err


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"alchemy {alchemy.__version__} (Python ")


# -- a reader that leaves early -----------------------------------------------------------------


@pytest.mark.parametrize("argv", [("models", "--wide"), ("demo", "--api", "all", "--delay", "0.001")])
def test_a_closed_pipe_ends_quietly(argv: tuple[str, ...]) -> None:
    """``alchemy models | head -1``: no traceback, no "Exception ignored", the SIGPIPE exit code."""
    process = subprocess.Popen(
        [sys.executable, "-m", "alchemy", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # what head does after its line
    stderr = process.stderr.read()
    code = process.wait(timeout=120)
    assert first
    assert stderr == b""
    assert code in (EXIT_BROKEN_PIPE, 0)  # 0 only if everything fit in the pipe before it closed


def test_chat_server_tool_the_api_does_not_offer_exits_2_before_sending(server: ReplayServer) -> None:
    code, out, err = run(*chat_args(server, "--server-tool", "code_execution", "hi"))
    assert code == 2 and out == ""
    assert "server_tools" in err and "CodeExecution" in err, err
    assert server.requests == []


def test_server_tool_names_make_default_tools() -> None:
    from alchemy.cli import server_tools_named

    assert server_tools_named(["web_search", "code_execution", "web_search"]) == [
        alchemy.WebSearch(),
        alchemy.CodeExecution(),
    ]


def test_the_printer_shows_server_tools_and_sources_on_the_notes_stream() -> None:
    from alchemy.cli import StreamPrinter
    from alchemy.testing import ScriptedProvider, citation, scripted_model, server_tool, stop, text

    provider = ScriptedProvider(
        [[server_tool("s1", "web_search", '{"query": "paris"}', result=[])], [text("Sunny."), citation("url", url="https://a.example")], [stop()]]
    )
    out, notes = io.StringIO(), io.StringIO()
    printer = StreamPrinter(out, notes)
    with provider:
        for event in alchemy.stream(scripted_model(), alchemy.Context(messages=[alchemy.UserMessage("q")])):
            printer.print(event)
    assert out.getvalue() == "Sunny.\n"
    assert notes.getvalue() == '[web_search, run by scripted] {"query":"paris"} -> completed\n  [source] https://a.example\n'
