"""Shared pytest setup for tests/ and benchmarks/: the twin fixture.

Every kernel test and benchmark takes a fixture derived from ``twin``, which is
parametrized over the compiled and the pure implementation, so each runs twice
(ids ``cython`` and ``python``). The compiled leg carries the ``compiled`` marker
and is skipped when ``ALCHEMY_PURE_PYTHON`` asks for pure mode; otherwise a
missing compiled twin is a failure, never a silent skip.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from alchemy._speedups import PURE_PYTHON_REQUESTED
from policy_support import own_redis_server, redis_server  # noqa: F401 - fixtures: a real redis-server

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent / "shared"

# tiktoken must never reach for the network in tests: use the shared encoding files.
if "TIKTOKEN_CACHE_DIR" not in os.environ and (SHARED / "tiktoken").is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(SHARED / "tiktoken")


@dataclass(frozen=True)
class Twin:
    """One implementation of the kernels: ``cython`` or ``python``."""

    tag: str

    @property
    def is_pure(self) -> bool:
        return self.tag == "python"

    def module(self, kernel: str) -> ModuleType:
        """The twin module of a kernel, e.g. ``module("sse")`` -> ``alchemy._speedups._sse_c``."""
        suffix = "py" if self.is_pure else "c"
        return importlib.import_module(f"alchemy._speedups._{kernel}_{suffix}")

    def __str__(self) -> str:
        return self.tag


COMPILED = Twin("cython")
PURE = Twin("python")


@pytest.fixture(
    scope="session",
    params=[pytest.param(COMPILED, marks=pytest.mark.compiled, id="cython"), pytest.param(PURE, id="python")],
)
def twin(request: pytest.FixtureRequest) -> Twin:
    implementation: Twin = request.param
    if not implementation.is_pure and PURE_PYTHON_REQUESTED:
        pytest.skip("ALCHEMY_PURE_PYTHON is set: only the pure twins are tested")
    return implementation


@pytest.fixture(scope="session")
def sse_module(twin: Twin) -> ModuleType:
    return twin.module("sse")


@pytest.fixture(scope="session")
def sse_decoder_cls(sse_module: ModuleType) -> Any:
    return sse_module.SSEDecoder


@pytest.fixture(scope="session")
def jsondelta_module(twin: Twin) -> ModuleType:
    return twin.module("jsondelta")


@pytest.fixture(scope="session")
def json_delta_merger_cls(jsondelta_module: ModuleType) -> Any:
    return jsondelta_module.JsonDeltaMerger


@pytest.fixture(scope="session")
def parse_partial_json_fn(jsondelta_module: ModuleType) -> Any:
    return jsondelta_module.parse_partial_json


@pytest.fixture(scope="session")
def eventbuf_module(twin: Twin) -> ModuleType:
    return twin.module("eventbuf")


@pytest.fixture(scope="session")
def event_buffer_cls(eventbuf_module: ModuleType) -> Any:
    return eventbuf_module.EventBuffer


@pytest.fixture(scope="session")
def eventstream_module(twin: Twin) -> ModuleType:
    return twin.module("eventstream")


@pytest.fixture(scope="session")
def event_stream_decoder_cls(eventstream_module: ModuleType) -> Any:
    return eventstream_module.EventStreamDecoder


@pytest.fixture(scope="session")
def event_stream_message_cls(eventstream_module: ModuleType) -> Any:
    return eventstream_module.EventStreamMessage


SHARED_DIR = Path(__file__).resolve().parent.parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests parametrized over the recorded streams of ``../shared`` say why they skip when it is absent.

    Without the folder their parameter lists are empty, and pytest's own reason ("got empty
    parameter set") does not say what is missing.
    """
    if SHARED_DIR.is_dir():
        return
    reason = f"needs the shared recorded provider streams (../shared/fixtures), not found at {SHARED_DIR}"
    for item in items:
        for mark in item.iter_markers("skip"):
            if str(mark.kwargs.get("reason", "")).startswith("got empty parameter set"):
                item.add_marker(pytest.mark.skip(reason=reason), append=False)
                break
