"""What an Anthropic fixture says the final message is: the expectation the provider tests check.

Computed straight from the recorded events, without any streaming: blocks are
grouped by their wire index, their deltas joined, tool arguments parsed once at the
end (``partial_json_parser`` for a call the stream left open). The rules mirror
what the Messages API documents: usage fields that are present and not null
replace earlier ones; ``message_stop`` ends the response (anything after it is
ignored); a ``message_start`` after blocks of the first message means a spliced
stream, which ends in an error; ``refusal`` / ``sensitive`` end in an error;
``pause_turn`` is a stop of a paused turn.

Tools the provider ran (issue #18): a ``server_tool_use`` / ``mcp_tool_use`` block is
one ``ServerToolCall`` with the result block that names it (``tool_use_id``) in the
same message; its ``wire`` is the two blocks' other fields (``{"call": ..., "result":
...}``); the status is ``"failed"`` when the result is an error, ``"in_progress"``
without a result. A result block whose call is not in the message is a call of its
own (named after its type, no input, ``wire`` with ``"result"`` only). Citations
(``citations_delta`` and a text block's ``citations``) are kept whole in ``wire``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import partial_json_parser  # type: ignore[import-untyped]

from alchemy.types import (
    AssistantMessage,
    Citation,
    Model,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    ToolCall,
)

KNOWN_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "mcp_tool_use"})
SERVER_CALLS = frozenset({"server_tool_use", "mcp_tool_use"})
CITATION_KINDS = {
    "web_search_result_location": "url",
    "char_location": "document",
    "page_location": "document",
    "content_block_location": "document",
    "search_result_location": "search_result",
}
STOP_REASONS = {
    "end_turn": "stop",
    "pause_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "toolUse",
}
FAILED = frozenset({"refusal", "sensitive"})


@dataclass
class Expected:
    """The final message a fixture describes."""

    blocks: list[Any] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=lambda: {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0})
    stop_reason: str = "stop"
    error_contains: str | None = None
    response_id: str | None = None
    paused: bool = False

    def check(self, message: AssistantMessage, model: Model) -> None:
        """Asserts that ``message`` is what the fixture says, block by block."""
        assert message.stop_reason == self.stop_reason, message.error_message
        assert message.paused is self.paused
        if self.error_contains is not None:
            assert message.error_message is not None and self.error_contains in message.error_message
        assert message.response_id == self.response_id
        assert len(message.content) == len(self.blocks), (message.content, self.blocks)
        for got, want in zip(message.content, self.blocks):
            if isinstance(want, _Call):
                assert isinstance(got, ToolCall) and (got.id, got.name) == (want.id, want.name)
                assert got.arguments == partial_json_parser.loads(want.partial_raw)
            elif isinstance(want, ServerToolCall):
                assert isinstance(got, ServerToolCall), (got, want)
                assert got.provider == model.provider
                assert (got.id, got.name, got.input, got.status, got.wire) == (
                    want.id, want.name, want.input, want.status, want.wire
                )
                assert got.result == want.result
            else:
                assert type(got) is type(want) and got == want, (got, want)
        usage = message.usage
        got_usage = {
            "input": usage.input,
            "output": usage.output,
            "cache_read": usage.cache_read,
            "cache_write": usage.cache_write,
        }
        want_usage = {k: self.usage[k] for k in got_usage}
        if usage.estimated:
            # A stream that failed before message_delta: the output the content shows, estimated
            # (alchemy.emitter); what message_start reported is kept.
            assert self.stop_reason in ("error", "aborted") and usage.output > want_usage["output"]
            want_usage["output"] = usage.output
        assert got_usage == want_usage
        assert usage.total_tokens == sum(want_usage.values())
        assert usage.service_tier == self.usage.get("service_tier")
        prices = model.cost
        assert prices.input is not None and prices.output is not None
        cost = (
            usage.input * prices.input
            + usage.output * prices.output
            + usage.cache_read * (prices.cache_read or 0.0)
            + usage.cache_write * (prices.cache_write or 0.0)
        ) / 1_000_000
        assert usage.cost.total is not None and abs(usage.cost.total - cost) < 1e-12
        if usage.cache_write:
            assert usage.cost.cache_write == usage.cache_write * (prices.cache_write or 0.0) / 1_000_000


class _Call(ToolCall):
    """A tool call the stream left open: its raw argument text is kept for a partial parse."""

    __slots__ = ("partial_raw",)
    partial_raw: str


def payloads(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def wire_bytes(path: Path, *, named: bool = True) -> bytes:
    """The fixture as Anthropic sends it: ``event: <type>`` + ``data: <json>`` per event."""
    out = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        kind = orjson.loads(line)["type"].encode()
        out.append((b"event: " + kind + b"\n" if named else b"") + b"data: " + line.strip() + b"\n\n")
    return b"".join(out)


def responses(path: Path) -> list[list[dict[str, Any]]]:
    """The responses a fixture holds, one list of events each (some record a whole tool loop:
    every response ends with its ``message_stop``)."""
    out: list[list[dict[str, Any]]] = [[]]
    for event in payloads(path):
        out[-1].append(event)
        if event["type"] == "message_stop":
            out.append([])
    return [events for events in out if events]


def _citation(wire: dict[str, Any]) -> Citation:
    """What the docs say each citation object means (the object itself kept as ``wire``)."""
    kind = CITATION_KINDS.get(str(wire.get("type")), "document")
    if kind == "url":
        return Citation("url", url=wire.get("url"), title=wire.get("title"), cited_text=wire.get("cited_text"), wire=wire)
    if kind == "search_result":
        return Citation(
            "search_result", url=wire.get("source"), title=wire.get("title"), cited_text=wire.get("cited_text"), wire=wire
        )
    return Citation(
        "document",
        title=wire.get("document_title"),
        file_id=wire.get("file_id"),
        document_index=wire.get("document_index"),
        cited_text=wire.get("cited_text"),
        wire=wire,
    )


def _take_usage(usage: dict[str, Any], raw: dict[str, Any] | None) -> None:
    if not raw:
        return
    for ours, theirs in (
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache_read", "cache_read_input_tokens"),
        ("cache_write", "cache_creation_input_tokens"),
    ):
        if raw.get(theirs) is not None:
            usage[ours] = raw[theirs]
    if isinstance(raw.get("service_tier"), str):
        usage["service_tier"] = raw["service_tier"]


def expected_from_fixture(path: Path) -> Expected:
    return expected_from_events(payloads(path))


def expected_from_events(events: list[dict[str, Any]]) -> Expected:
    expected = Expected()
    blocks: dict[int, dict[str, Any]] = {}
    results: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    started = False
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            if started and order:
                expected.stop_reason = "error"
                expected.error_contains = "corrupt"
                break
            started = True
            expected.response_id = event["message"]["id"]
            _take_usage(expected.usage, event["message"].get("usage"))
        elif kind == "content_block_start":
            index = event["index"]
            block = event["content_block"]
            order.append(index)
            if block["type"] in KNOWN_BLOCKS:
                blocks[index] = {"block": block, "parts": [], "signature": [], "closed": False, "citations": []}
                blocks[index]["citations"].extend(block.get("citations") or [])
            elif block["type"].endswith("_tool_result") and "tool_use_id" in block:
                results[index] = block
        elif kind == "content_block_delta" and event["index"] in blocks:
            delta = event["delta"]
            entry = blocks[event["index"]]
            if entry["closed"]:
                continue
            if delta["type"] in ("text_delta", "thinking_delta", "input_json_delta"):
                entry["parts"].append(delta.get("text", delta.get("thinking", delta.get("partial_json"))))
            elif delta["type"] == "signature_delta":
                entry["signature"].append(delta["signature"])
            elif delta["type"] == "citations_delta":
                entry["citations"].append(delta["citation"])
        elif kind == "content_block_stop" and event["index"] in blocks:
            blocks[event["index"]]["closed"] = True
        elif kind == "message_delta":
            _take_usage(expected.usage, event.get("usage"))
            reason = event["delta"].get("stop_reason")
            if reason in FAILED:
                expected.stop_reason = "error"
                expected.error_contains = reason
                break
            if reason:
                expected.stop_reason = STOP_REASONS[reason]
                expected.paused = reason == "pause_turn"
        elif kind == "message_stop":
            break
    calls: dict[str, ServerToolCall] = {}
    for index in order:
        if index in blocks:
            final = _final_block(blocks[index])
            if isinstance(final, ServerToolCall):
                calls[final.id] = final
            expected.blocks.append(final)
        elif index in results:
            result = results[index]
            call = calls.get(result["tool_use_id"])
            if call is None:  # its call was in an earlier response
                call = ServerToolCall(result["tool_use_id"], result["type"].removesuffix("_tool_result"), {}, wire={})
                expected.blocks.append(call)
            call.result = result["content"]
            content = result["content"]
            failed = result.get("is_error") is True or (
                isinstance(content, dict) and content.get("type", "").endswith("_error")
            )
            call.status = "failed" if failed else "completed"
            call.wire = {**(call.wire or {}), "result": {k: v for k, v in result.items() if k not in ("tool_use_id", "content")}}
    return expected


def _final_block(entry: dict[str, Any]) -> Any:
    block = entry["block"]
    text = "".join(entry["parts"])
    kind = block["type"]
    if kind == "text":
        citations = [_citation(wire) for wire in entry["citations"]]
        return TextContent((block.get("text") or "") + text, None, citations or None)
    if kind in SERVER_CALLS:
        if entry["closed"]:
            given = orjson.loads(text) if text else (block.get("input") or {})
        else:
            given = partial_json_parser.loads(text) if text else {}
        extra = {k: v for k, v in block.items() if k not in ("id", "name", "input")}
        return ServerToolCall(block["id"], block["name"], given, None, "in_progress", wire={"call": extra})
    if kind == "thinking":
        signature = (block.get("signature") or "") + "".join(entry["signature"])
        return ThinkingContent((block.get("thinking") or "") + text, signature or None)
    if kind == "redacted_thinking":
        return ThinkingContent("", block["data"], True)
    if not entry["closed"]:
        call = _Call(block["id"], block["name"], {})
        call.partial_raw = text
        return call
    arguments = orjson.loads(text) if text else (block.get("input") or {})
    return ToolCall(block["id"], block["name"], arguments)
