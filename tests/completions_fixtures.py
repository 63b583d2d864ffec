"""The shared Chat Completions fixtures and what each one says (importable from tests as a module).

The fixtures are the files ``index.json`` marks as ``openai-chat-completions``
(alibaba, deepseek, groq, moonshotai, openai-compatible, perplexity, xAI's chat
files, Azure's model router). Every expectation is computed here from the fixture's
own JSON by a deliberately plain reading, independent of the provider's parser:

* text: every string ``delta.content`` of choice 0, joined;
* thinking: per delta the first non-empty of ``reasoning_content`` / ``reasoning`` /
  ``reasoning_text``, joined; the field name is the block's signature;
* blocks: a new block each time the kind changes (text, thinking, tool call) or a tool
  delta carries a new non-empty id;
* tool calls: arguments joined per call and parsed with ``orjson``;
* usage: the last usage object (chunk, else choice, else ``x_groq``), with reasoning
  added to ``completion_tokens`` only when ``total_tokens`` shows it was left out;
* stop reason: the last ``finish_reason`` (``tool_calls`` -> ``toolUse``);
* citations: Perplexity's chunk-level ``search_results`` then ``citations`` (each URL
  once, the first seen) cite the whole of the last text block; ``url_citation``
  annotations of the deltas (each once) carry their character range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import support

from alchemy.models import calculate_cost
from alchemy.types import AssistantMessage, Model, ModelCost, TextContent, ThinkingContent, ToolCall, Usage

API = "openai-completions"
_REASONING = ("reasoning_content", "reasoning", "reasoning_text")


def fixture_paths() -> list[Path]:
    root = support.FIXTURES
    index = root / "index.json"
    if not index.is_file():
        return []
    files = orjson.loads(index.read_bytes())["files"]
    return sorted(root / entry["local_path"] for entry in files if entry["wire_api"] == "openai-chat-completions")


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.chunks.txt')}"


def load_payloads(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]


def wire(payloads: list[Any], *, done: bool = True) -> bytes:
    """The stream as a server sends it: ``data: <json>`` events, then ``data: [DONE]``."""
    parts = [b"data: " + (p if isinstance(p, bytes) else orjson.dumps(p)) + b"\n\n" for p in payloads]
    if done:
        parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def fixture_model(path: Path, base_url: str = "http://127.0.0.1:9/v1") -> Model:
    """A hand-built model for a fixture: its folder is the provider, prices make cost visible."""
    provider = path.parent.name
    return Model(
        id="replay-model",
        name="replay model",
        api=API,
        provider=provider,
        base_url=base_url,
        reasoning=True,
        cost=ModelCost(input=1.0, output=4.0, cache_read=0.25, cache_write=1.25),
    )


@dataclass
class Expected:
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    """(kind, value): ("text", str), ("thinking", (text, signature)), ("toolCall", (id, name, args))."""
    usage_raw: dict[str, Any] | None = None
    stop_reason: str = "stop"
    response_id: str | None = None
    citations: list[tuple[Any, ...]] = field(default_factory=list)
    """(url, title, cited_text, start, end, wire) of every source, in the order they came."""

    def usage(self, model: Model) -> Usage:
        raw = self.usage_raw or {}
        prompt = raw.get("prompt_tokens") or 0
        completion = raw.get("completion_tokens") or 0
        total = raw.get("total_tokens")
        cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        reasoning = (raw.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
        output = completion + reasoning if reasoning and total == prompt + completion + reasoning else completion
        usage = Usage(
            input=prompt - cached,
            output=output,
            cache_read=cached,
            total_tokens=prompt - cached + output + cached,
            reasoning=reasoning,
        )
        usage.cost = calculate_cost(model, usage)
        return usage

    @property
    def text(self) -> str:
        return "".join(value for kind, value in self.blocks if kind == "text")

    @property
    def thinking(self) -> str:
        return "".join(value[0] for kind, value in self.blocks if kind == "thinking")

    @property
    def tool_calls(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [value for kind, value in self.blocks if kind == "toolCall"]


def expected(payloads: list[dict[str, Any]]) -> Expected:
    out = Expected()
    # Raw blocks: [kind, text-or-args, signature/id, name]
    raw_blocks: list[list[Any]] = []
    sources: dict[str, tuple[Any, ...]] = {}
    annotations: list[tuple[Any, ...]] = []
    for chunk in payloads:
        if out.response_id is None and chunk.get("id"):
            out.response_id = chunk["id"]
        for entry in chunk.get("search_results") or []:
            url = entry["url"]
            if url not in sources or sources[url][5] == {"url": url}:
                sources[url] = (url, entry.get("title"), None, None, None, entry)
        for url in chunk.get("citations") or []:
            sources.setdefault(url, (url, None, None, None, None, {"url": url}))
        usage = chunk.get("usage")
        choices = chunk.get("choices") or []
        if choices:
            choice = choices[0]
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                if raw_blocks and raw_blocks[-1][0] == "text":
                    raw_blocks[-1][1] += content
                else:
                    raw_blocks.append(["text", content, None, None])
            for name in _REASONING:
                value = delta.get(name)
                if isinstance(value, str) and value:
                    if raw_blocks and raw_blocks[-1][0] == "thinking":
                        raw_blocks[-1][1] += value
                    else:
                        raw_blocks.append(["thinking", value, name, None])
                    break
            for call in delta.get("tool_calls") or []:
                call_id = call.get("id") or ""
                function = call.get("function") or {}
                current = raw_blocks[-1] if raw_blocks and raw_blocks[-1][0] == "toolCall" else None
                if current is None or (call_id and call_id != current[2]):
                    current = ["toolCall", "", call_id, function.get("name") or ""]
                    raw_blocks.append(current)
                current[1] += function.get("arguments") or ""
            for item in delta.get("annotations") or []:
                body = item["url_citation"]
                key = (body["url"], body.get("title"), body.get("content"), body["start_index"], body["end_index"], item)
                if key not in annotations:
                    annotations.append(key)
            if choice.get("finish_reason"):
                out.stop_reason = {"tool_calls": "toolUse", "length": "length"}.get(choice["finish_reason"], "stop")
            usage = usage or choice.get("usage")
        usage = usage or (chunk.get("x_groq") or {}).get("usage")
        if usage:
            out.usage_raw = usage
    for kind, value, extra, name in raw_blocks:
        if kind == "text":
            out.blocks.append(("text", value))
        elif kind == "thinking":
            out.blocks.append(("thinking", (value, extra)))
        else:
            out.blocks.append(("toolCall", (extra, name, orjson.loads(value) if value else {})))
    out.citations = list(sources.values()) + annotations
    if out.tool_calls and out.stop_reason == "stop":
        out.stop_reason = "toolUse"
    return out


def assert_matches(message: AssistantMessage, path: Path, model: Model) -> None:
    """Asserts that ``message`` holds exactly what the fixture at ``path`` says."""
    want = expected(load_payloads(path))
    got: list[tuple[str, Any]] = []
    for block in message.content:
        if isinstance(block, TextContent):
            got.append(("text", block.text))
        elif isinstance(block, ThinkingContent):
            got.append(("thinking", (block.thinking, block.thinking_signature)))
        else:
            assert isinstance(block, ToolCall)
            got.append(("toolCall", (block.id, block.name, block.arguments)))
    assert got == want.blocks
    cited = [
        (c.url, c.title, c.cited_text, c.start, c.end, c.wire)
        for block in message.content
        if isinstance(block, TextContent)
        for c in block.citations or []
    ]
    assert cited == want.citations
    assert all(c.kind == "url" for block in message.content if isinstance(block, TextContent) for c in block.citations or [])
    assert message.stop_reason == want.stop_reason
    assert message.response_id == want.response_id
    assert message.usage == want.usage(model)
