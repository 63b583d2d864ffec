"""The fixture every provider parser test runs on: both kernel twins at once."""

from __future__ import annotations

from typing import Any

import pytest

from alchemy import emitter as emitter_module
from alchemy.providers import base as base_module
from alchemy.providers import bedrock_converse_stream as bedrock


@pytest.fixture
def twins(
    monkeypatch: pytest.MonkeyPatch,
    sse_decoder_cls: Any,
    event_stream_decoder_cls: Any,
    event_buffer_cls: Any,
    json_delta_merger_cls: Any,
) -> None:
    """Runs the parsers on one twin (compiled or pure, see the root ``conftest.py``) of the SSE
    decoder, the AWS event-stream decoder, the event buffer and the JSON delta merger."""
    monkeypatch.setattr(base_module, "SSEDecoder", sse_decoder_cls)
    monkeypatch.setattr(bedrock, "EventStreamDecoder", event_stream_decoder_cls)
    monkeypatch.setattr(emitter_module, "EventBuffer", event_buffer_cls)
    monkeypatch.setattr(emitter_module, "JsonDeltaMerger", json_delta_merger_cls)
