"""Helpers shared by the test modules (importable as ``support``; fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "vercel-ai"
DATA = Path(__file__).resolve().parent / "data"


def require_shared() -> Path:
    """Skips the calling test when the shared folder (fixtures, snapshot) is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED
