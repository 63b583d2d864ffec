"""The shared Responses-API fixtures and what each one says (importable from tests as a module).

Every expectation here is computed from the fixture's own JSON, independently of the
provider's parser: the items of ``response.output_item.done`` events give the blocks
(reasoning -> thinking with the item as signature, message -> text with its id and
phase, function_call -> a tool call ``call_id|id`` with parsed arguments; the
client-executed custom and built-in tool calls -> a tool call with ``{"input": text}``
or the item's ``operation`` / ``action``; the items the server ran -> a server tool call
with the name, input, result and status read off the item by the table below (custom
calls of tools the response does not echo as custom, xAI's search tools, and shell calls
in a hosted container among them); other item types leave no block), message items'
annotations give the text block's citations, the terminal response gives the usage, the
stop reason and the response id.

Some fixtures hold several responses (an agent loop recorded request after request);
:func:`segments` splits them at each ``response.created``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import support

from alchemy.models import calculate_cost
from alchemy.types import Model, Usage

# Every Responses fixture of the shared set: openai/ except the Chat Completions
# (azure-model-router.1) and legacy Completions files, all of azure/ and
# open-responses/, and xAI's Responses recordings.
_EXCLUDED = {"openai/azure-model-router.1.chunks.txt", "openai/openai-completion-text.chunks.txt"}


def fixture_paths() -> list[Path]:
    root = support.FIXTURES
    if not root.is_dir():
        return []
    paths = [
        *sorted((root / "openai").glob("*.chunks.txt")),
        *sorted((root / "azure").glob("*.chunks.txt")),
        *sorted((root / "open-responses").glob("*.chunks.txt")),
        *sorted((root / "xai").glob("*.1.chunks.txt")),
        root / "xai" / "xai-x-search-tool.chunks.txt",
    ]
    return [p for p in paths if f"{p.parent.name}/{p.name}" not in _EXCLUDED and p.is_file()]


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.chunks.txt')}"


def load_payloads(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]


def segments(payloads: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One list of events per recorded response (split at each ``response.created``)."""
    result: list[list[dict[str, Any]]] = []
    for payload in payloads:
        if payload.get("type") == "response.created" or not result:
            result.append([])
        result[-1].append(payload)
    return result


def all_segments() -> list[tuple[str, list[dict[str, Any]]]]:
    """``(id, events)`` for every response of every fixture; ids get ``#n`` when a file holds several."""
    cases = []
    for path in fixture_paths():
        parts = segments(load_payloads(path))
        for number, part in enumerate(parts, 1):
            name = fixture_id(path) if len(parts) == 1 else f"{fixture_id(path)}#{number}"
            cases.append((name, part))
    return cases


def wire(events: list[dict[str, Any]]) -> bytes:
    """The SSE bytes a Responses server sends for ``events`` (``event:`` + ``data:`` lines)."""
    out = []
    for event in events:
        out.append(b"event: " + str(event.get("type", "message")).encode() + b"\n")
        out.append(b"data: " + orjson.dumps(event) + b"\n\n")
    return b"".join(out)


# Server-run item type -> (tool name or None for the item's own name, how the input reads, result fields).
_SERVER = {
    "web_search_call": ("web_search", "action", ()),
    "file_search_call": ("file_search", ("queries",), ("results",)),
    "code_interpreter_call": ("code_interpreter", ("code", "container_id"), ("outputs",)),
    "image_generation_call": ("image_generation", ("prompt", "revised_prompt"), ("result",)),
    "mcp_list_tools": ("mcp_list_tools", (), ("tools",)),
    "mcp_call": (None, "arguments:json", ("output", "error")),
    "mcp_approval_request": (None, "arguments:json", ()),
    "tool_search_call": ("tool_search", "arguments", ()),
    "tool_search_output": ("tool_search", (), ("tools",)),
    "shell_call": ("shell", "action", ()),
    "shell_call_output": ("shell", (), ("output",)),
    "program": ("program", ("code",), ()),
    "custom_tool_call": (None, "input:json", ()),
}


def _server_call(item: dict[str, Any]) -> tuple[str, Any]:
    """What a server-run item says: ``("serverToolCall", (id, name, input, result, status, item))``."""
    name, reads, results = _SERVER[item["type"]]
    if isinstance(reads, str):
        field_name, _, as_json = reads.partition(":")
        value = item.get(field_name)
        value = orjson.loads(value) if as_json and value else value
        arguments = value if isinstance(value, dict) else {}
    else:
        arguments = {key: item[key] for key in reads if key in item}
    result = next((item[key] for key in results if item.get(key) is not None), None)
    if item["type"] == "mcp_approval_request":
        status = "awaiting_approval"
    elif item.get("error"):
        status = "failed"
    else:
        status = item.get("status") if item.get("status") in ("failed", "incomplete") else "completed"
    return ("serverToolCall", (item["id"], name or item["name"], arguments, result, status, item))


def _citations(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The citations a message item's annotations give, as ``Citation.to_dict()`` would write them."""
    out: list[dict[str, Any]] = []
    offset = 0
    for part in item.get("content") or []:
        for note in part.get("annotations") or [] if part.get("type") == "output_text" else []:
            start = note.get("index", note.get("start_index"))
            end = note.get("index", note.get("end_index"))
            kind = "url" if note["type"] == "url_citation" else "file"
            citation = {"kind": kind, "url": note.get("url"), "title": note.get("title"),
                        "fileId": note.get("file_id"), "filename": note.get("filename"),
                        "start": None if start is None else offset + start,
                        "end": None if end is None else offset + end, "wire": note}  # fmt: skip
            out.append({key: value for key, value in citation.items() if value is not None})
        offset += len(part.get("text", "") if part.get("type") == "output_text" else part.get("refusal", ""))
    return out


@dataclass
class Expected:
    """What one recorded response says the final message must hold."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)
    """``("thinking", (text, item))``, ``("text", (text, id, phase, citations))``, ``("toolCall", (id, name, args))``,
    ``("serverToolCall", (id, name, input, result, status, item))``."""
    skipped: list[str] = field(default_factory=list)
    """Types of the items that leave no block (client tool search, compaction)."""
    stop_reason: str = "stop"
    error_fragments: tuple[str, ...] = ()
    response_id: str | None = None
    usage: dict[str, Any] | None = None
    service_tier: str | None = None

    def usage_for(self, model: Model, requested_tier: str | None = None) -> Usage:
        raw = self.usage or {}
        inputs = raw.get("input_tokens_details") or {}
        outputs = raw.get("output_tokens_details") or {}
        cached = inputs.get("cached_tokens") or 0
        written = inputs.get("cache_write_tokens") or 0
        usage = Usage(
            input=(raw.get("input_tokens") or 0) - cached - written,
            output=raw.get("output_tokens") or 0,
            cache_read=cached,
            cache_write=written,
            total_tokens=raw.get("total_tokens") or 0,
            reasoning=outputs.get("reasoning_tokens") or 0,
            service_tier=self.service_tier or requested_tier,
        )
        if self.usage is not None:
            usage.cost = calculate_cost(model, usage)
        return usage


def _reasoning_text(item: dict[str, Any]) -> str:
    summary = [p["text"] for p in item.get("summary") or [] if p.get("text")]
    if summary:
        return "\n\n".join(summary)
    return "\n\n".join(p["text"] for p in item.get("content") or [] if p.get("type") == "reasoning_text" and p.get("text"))


def _streamed(text: str, deltas: list[str]) -> str:
    """The block text: the item's own text, unless deltas streamed something it does not extend.

    Captured streams always agree with their final item; a hand-written fixture
    (``openai-shell-container.1``) streams a shorter sentence than its item holds,
    and what was streamed stands, because consumers already saw it.
    """
    joined = "".join(deltas)
    return text if text.startswith(joined) else joined


_BUILTIN_CALLS = {"apply_patch_call": ("apply_patch", "operation"), "shell_call": ("shell", "action"),
                  "local_shell_call": ("local_shell", "action")}  # fmt: skip


def _client_call(item: dict[str, Any], custom_names: set[str] | None) -> tuple[str, Any] | None:
    """The tool call a custom or built-in call item gives, or ``None`` when the server ran it."""
    call_id = f"{item.get('call_id')}|{item.get('id')}"
    if item["type"] == "custom_tool_call":
        if custom_names is not None and item["name"] not in custom_names:
            return None
        return ("toolCall", (call_id, item["name"], {"input": item.get("input") or ""}))
    if item["type"] in _BUILTIN_CALLS:
        environment = item.get("environment") or {}
        if environment.get("type") not in (None, "local"):
            return None
        name, field_name = _BUILTIN_CALLS[item["type"]]
        return ("toolCall", (call_id, name, item.get(field_name) or {}))
    return None


def expected_from(events: list[dict[str, Any]]) -> Expected:
    expected = Expected()
    text_deltas: dict[str, list[str]] = {}
    custom_names: set[str] | None = None
    indexes: list[int] = []
    for event in events:
        kind = event.get("type")
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            text_deltas.setdefault(event.get("item_id", ""), []).append(event["delta"])
        if kind == "response.created":
            expected.response_id = event["response"]["id"]
            tools = event["response"].get("tools")
            if isinstance(tools, list):
                custom_names = {tool.get("name") for tool in tools if tool.get("type") == "custom"}
        elif kind == "response.output_item.done":
            item = event["item"]
            indexes.append(event.get("output_index", len(indexes)))  # blocks come in output order
            item_type = item["type"]
            if item_type == "reasoning":
                expected.blocks.append(("thinking", (_reasoning_text(item), item)))
            elif item_type == "message":
                text = "".join(
                    part.get("text", "") if part.get("type") == "output_text" else part.get("refusal", "")
                    for part in item.get("content") or []
                )
                text = _streamed(text, text_deltas.get(item["id"], []))
                expected.blocks.append(("text", (text, item["id"], item.get("phase"), _citations(item))))
            elif item_type == "function_call":
                arguments = orjson.loads(item["arguments"]) if item.get("arguments") else {}
                expected.blocks.append(("toolCall", (f"{item['call_id']}|{item['id']}", item["name"], arguments)))
            elif (call := _client_call(item, custom_names)) is not None:
                expected.blocks.append(call)
            elif item_type in _SERVER and item.get("execution") != "client":
                expected.blocks.append(_server_call(item))
            else:
                expected.skipped.append(item_type)
                indexes.pop()
        elif kind == "response.completed":
            response = event["response"]
            expected.usage = response.get("usage")
            expected.service_tier = response.get("service_tier")
            status = response.get("status")
            expected.blocks = [block for _, block in sorted(zip(indexes, expected.blocks), key=lambda pair: pair[0])]
            has_calls = any(block[0] == "toolCall" for block in expected.blocks)
            expected.stop_reason = "length" if status == "incomplete" else ("toolUse" if has_calls else "stop")
            break
        elif kind == "error":
            error = event.get("error") or event
            expected.stop_reason = "error"
            expected.error_fragments = (error["code"], error["message"])
            break
    return expected


def check_message(message: Any, expected: Expected, model: Model, *, requested_tier: str | None = None) -> None:
    """Asserts that a final message holds exactly what the recorded response says."""
    from alchemy.providers._responses_shared import server_item
    from alchemy.types import ServerToolCall, TextContent, ThinkingContent, ToolCall

    assert message.stop_reason == expected.stop_reason, message.error_message
    if expected.stop_reason == "error":
        for fragment in expected.error_fragments:
            assert fragment in (message.error_message or "")
        return
    assert message.error_message is None
    assert message.response_id == expected.response_id
    assert len(message.content) == len(expected.blocks), (message.content, expected.blocks)
    for block, (kind, value) in zip(message.content, expected.blocks):
        if kind == "thinking":
            text, item = value
            assert isinstance(block, ThinkingContent)
            assert block.thinking == text
            assert orjson.loads(block.thinking_signature or "null") == item
        elif kind == "text":
            text, item_id, phase, citations = value
            assert isinstance(block, TextContent)
            assert block.text == text
            signature = orjson.loads(block.text_signature or "null")
            assert signature["id"] == item_id
            assert signature.get("phase") == phase
            assert [citation.to_dict() for citation in block.citations or []] == citations
        elif kind == "serverToolCall":
            call_id, name, arguments, result, status, item = value
            assert isinstance(block, ServerToolCall)
            assert (block.id, block.name, block.input, block.result, block.status) == (
                call_id, name, arguments, result, status)  # fmt: skip
            assert block.provider == message.provider
            assert server_item(block) == item  # the item goes back exactly as it came
        else:
            call_id, name, arguments = value
            assert isinstance(block, ToolCall)
            assert (block.id, block.name, block.arguments) == (call_id, name, arguments)
    want = expected.usage_for(model, requested_tier)
    assert message.usage == want
