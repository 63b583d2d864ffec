"""The ``alchemy`` command: demo, chat and models."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from alchemy.cli import DEMO_MODELS, main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@pytest.mark.parametrize("api", list(DEMO_MODELS))
def test_demo_streams_each_bundled_recording(api: str) -> None:
    code, text = run("demo", "--api", api, "--delay", "0")
    assert code == 0, text
    assert "[tool call] get_weather" in text
    assert '"city":"Paris"' in text
    assert "stop reason  toolUse" in text
    assert "usage        input" in text and "cost         $" in text
    assert "stream       first byte" in text


def test_demo_all_and_byte_chunking() -> None:
    code, text = run("demo", "--api", "all", "--delay", "0", "--chunking", "bytes=7")
    assert code == 0, text
    assert text.count("stop reason  toolUse") == len(DEMO_MODELS)


def test_demo_shows_arguments_growing() -> None:
    code, text = run("demo", "--delay", "0")
    assert code == 0
    # Off a terminal, each argument update is its own line: the object grows key by key.
    assert '    {"city":"Par' in text or '    {"city":"' in text
    assert '  -> {"city":"Paris","unit":"celsius"}' in text


def test_demo_unknown_api() -> None:
    code, text = run("demo", "--api", "nope")
    assert code == 2 and "no recording" in text


def test_python_dash_m_alchemy_demo_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alchemy", "demo", "--delay", "0"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "stop reason  toolUse" in result.stdout


def test_chat_without_a_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_OAUTH_TOKEN", raising=False)
    code, text = run("chat", "-m", "anthropic/claude-sonnet-4-5", "hello")
    assert code == 1
    assert "ANTHROPIC_API_KEY" in text


def test_chat_unknown_model_suggests() -> None:
    code, text = run("chat", "-m", "anthropic/claude-sonet-4-5", "hello")
    assert code == 2 and "claude-sonnet-4-5" in text


def test_models_list_filters() -> None:
    code, text = run("models", "--provider", "anthropic", "--vision")
    assert code == 0
    lines = text.strip().splitlines()
    assert lines[0].startswith("model") and lines[-1].endswith("R reasoning)")
    assert all(line.startswith("anthropic/") for line in lines[1:-1])
    assert all("V" in line.split()[-1] for line in lines[1:-1])


def test_models_show() -> None:
    code, text = run("models", "show", "openai/gpt-5")
    assert code == 0
    assert "api             openai-responses" in text
    assert "OPENAI_API_KEY" in text and "price $/M" in text


def test_models_show_needs_a_key() -> None:
    code, text = run("models", "show")
    assert code == 2
