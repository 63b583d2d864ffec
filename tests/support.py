"""Helpers shared by the test modules (importable as ``support``; fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alchemy import Model
from alchemy.testing import ReplayServer

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "vercel-ai"
DATA = Path(__file__).resolve().parent / "data"


def require_shared() -> Path:
    """Skips the calling test when the shared folder (fixtures, snapshot) is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(autouse=True, scope="module")
def bundled_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The bundled data, whatever a developer's refresh_models left in the user cache.

    Import it into a test module (``from support import bundled_registry``) to apply it there.
    """
    from alchemy.models import _registry

    patch = pytest.MonkeyPatch()
    patch.setenv("ALCHEMY_CACHE_DIR", str(tmp_path_factory.mktemp("no-model-cache")))
    _registry.reset()
    yield
    patch.undo()
    _registry.reset()


@pytest.fixture(scope="module")
def replay_server() -> Iterator[ReplayServer]:
    """One replay server for a test module (import it to use it)."""
    with ReplayServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_base_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests go where each test's model points (import it to apply it)."""
    monkeypatch.delenv("ALCHEMY_BASE_URL_OVERRIDE", raising=False)


WIRE_MODEL_IDS: dict[str, tuple[str, str]] = {
    "openai-completions": ("groq", "llama-3.3-70b-versatile"),
    "openai-responses": ("openai", "gpt-5.1"),
    "azure-openai-responses": ("azure-openai-responses", "gpt-5.1"),
    "anthropic-messages": ("anthropic", "claude-sonnet-4-5"),
    "bedrock-converse-stream": ("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "google-generative-ai": ("google", "gemini-2.5-flash"),
    "google-vertex": ("google-vertex", "gemini-2.5-flash"),
    "mistral-conversations": ("mistral", "mistral-large-latest"),
    "cohere-chat": ("cohere", "command-a-03-2025"),
}
"""One everyday model (provider, id) per built-in wire API, for tests that run every API."""


def wire_model(api: str, base_url: str = "http://127.0.0.1:9/v1", **changes: Any) -> Model:
    """A hand-built model of ``api``'s everyday model (see ``WIRE_MODEL_IDS``) at ``base_url``."""
    provider, model_id = WIRE_MODEL_IDS[api]
    return Model(id=model_id, name=model_id, api=api, provider=provider, base_url=base_url, **changes)


FAKE_AWS_SECRET = "test-aws-secret-" + "not-a-real-key-0000"
"""An AWS secret access key for SigV4 tests: signing takes any string, and this one looks like no real key."""
