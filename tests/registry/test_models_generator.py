"""tools/generate_models.py: deterministic output, overrides compiled, the committed data current."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import orjson
import pytest

from support import DATA as TEST_DATA, ROOT

SNAPSHOT = ROOT.parent / "shared" / "data" / "models.dev" / "api.json"
MINI = TEST_DATA / "models_dev_mini.json"
DATA = resources.files("alchemy.models") / "data"

needs_toml = pytest.mark.skipif(
    importlib.util.find_spec("tomllib") is None and importlib.util.find_spec("tomli") is None,
    reason="the generator reads TOML: Python 3.11+ or tomli",
)
needs_snapshot = pytest.mark.skipif(not SNAPSHOT.is_file(), reason="the shared models.dev snapshot is absent")


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_models", ROOT / "tools" / "generate_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bundled() -> dict[str, object]:
    data: dict[str, object] = orjson.loads((DATA / "models.json").read_bytes())
    return data


@needs_toml
def test_mini_fixture_is_deterministic(tmp_path: Path) -> None:
    gen = generator()
    first = gen.build(str(MINI), DATA / "overrides.toml", "2025-01-01", None)
    second = gen.build(str(MINI), DATA / "overrides.toml", "2025-01-01", None)
    assert first[0] == second[0] and first[1] == second[1]
    assert b"\n" not in first[0][:-1]  # one compact line


@needs_toml
def test_rules_json_is_the_compiled_overrides() -> None:
    gen = generator()
    _, rules_json, _ = gen.build(str(MINI), DATA / "overrides.toml", "2025-01-01", None)
    assert rules_json == (DATA / "rules.json").read_bytes(), "regenerate: overrides.toml changed"


@needs_toml
def test_cli_writes_both_files_and_reports(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate_models.py"), str(MINI), "--out", str(tmp_path), "--source-date", "2025-01-01"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "kept: 8 providers, 13 models" in out.stdout
    assert "providers left out (2)" in out.stdout
    data = orjson.loads((tmp_path / "models.json").read_bytes())
    assert data["source"]["date"] == "2025-01-01"
    assert data["source"]["sha256"] == hashlib.sha256(MINI.read_bytes()).hexdigest()
    check = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate_models.py"), str(MINI), "--out", str(tmp_path), "--source-date", "2025-01-01", "--check", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


@needs_toml
@needs_snapshot
def test_snapshot_regenerates_the_committed_data_byte_for_byte() -> None:
    gen = generator()
    source = bundled()["source"]
    assert isinstance(source, dict)
    if source.get("sha256") != hashlib.sha256(SNAPSHOT.read_bytes()).hexdigest():
        pytest.skip("the committed data was generated from another models.dev file")
    models_json, _, report = gen.build(str(SNAPSHOT), DATA / "overrides.toml", source["date"], source.get("note"))
    again, _, _ = gen.build(str(SNAPSHOT), DATA / "overrides.toml", source["date"], source.get("note"))
    assert models_json == again
    assert models_json == (DATA / "models.json").read_bytes(), "regenerate the bundled data"
    assert report.providers_seen == 147 and report.models_seen == 5276
    assert report.models_kept > 4000
    assert {"gitlab", "sap-ai-core", "google-vertex-anthropic"} <= set(report.providers_left_out)


def test_bundled_data_provenance() -> None:
    data = bundled()
    source = data["source"]
    assert isinstance(source, dict)
    assert source["name"] == "models.dev" and source["url"] == "https://models.dev/api.json"
    assert len(str(source["sha256"])) == 64 and str(source["date"]).count("-") == 2
    providers = data["providers"]
    assert isinstance(providers, dict)
    wire_apis = {p["api"] for p in providers.values()}
    assert wire_apis <= {
        "openai-completions",
        "openai-responses",
        "azure-openai-responses",
        "anthropic-messages",
        "google-generative-ai",
        "google-vertex",
        "bedrock-converse-stream",
        "mistral-conversations",
        "cohere-chat",
    }
    for pid in ("openai", "anthropic", "google", "google-vertex", "amazon-bedrock", "mistral", "groq", "xai", "openrouter", "azure"):
        assert pid in providers, pid
