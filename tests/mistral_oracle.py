"""What a Mistral chat-completions fixture says the final message is (the expectation the tests check).

Computed straight from the recorded chunks, without streaming: ``delta.content``
is a string (text) or a list of typed parts (``text``, and Magistral's ``thinking``
whose ``thinking`` list holds text parts); consecutive pieces of one kind form one
block; tool calls are grouped by their ``index`` (the first piece carries the id and
name), their argument strings joined and parsed once; ``finish_reason`` gives the
stop reason; ``usage.prompt_tokens`` includes cached tokens
(``prompt_tokens_details.cached_tokens``), which are reported as cache reads. The
wire form is ``data: <chunk>`` per line and ``data: [DONE]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from alchemy.types import AssistantMessage, Model, TextContent, ThinkingContent, ToolCall

STOP_REASONS = {"stop": "stop", "length": "length", "model_length": "length", "tool_calls": "toolUse"}


def chunks(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def wire_bytes(path: Path) -> bytes:
    """The fixture as Mistral sends it: ``data: <chunk>`` events, then ``data: [DONE]``."""
    lines = [line.strip() for line in path.read_bytes().splitlines() if line.strip()]
    return b"".join(b"data: " + line + b"\n\n" for line in lines) + b"data: [DONE]\n\n"


@dataclass
class Expected:
    blocks: list[Any] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=lambda: {"input": 0, "output": 0, "cache_read": 0})
    total_tokens: int = 0
    stop_reason: str = "stop"
    response_id: str | None = None

    def check(self, message: AssistantMessage, model: Model) -> None:
        assert message.stop_reason == self.stop_reason, message.error_message
        assert message.error_message is None
        assert message.response_id == self.response_id
        assert message.content == self.blocks, (message.content, self.blocks)
        usage = message.usage
        assert {"input": usage.input, "output": usage.output, "cache_read": usage.cache_read} == self.usage
        assert usage.cache_write == 0 and usage.total_tokens == self.total_tokens
        prices = model.cost
        assert prices.input is not None and prices.output is not None
        if usage.cache_read and prices.cache_read is None:
            assert usage.cost.total is None, "an unknown price gives None, never a silent 0"
            return
        cost = (usage.input * prices.input + usage.output * prices.output + usage.cache_read * (prices.cache_read or 0)) / 1e6
        assert usage.cost.total is not None and abs(usage.cost.total - cost) < 1e-12


def expected_from_fixture(path: Path) -> Expected:
    expected = Expected()
    pieces: list[tuple[str, Any]] = []  # ("text"|"thinking", text) and ("tool", index)
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks(path):
        if expected.response_id is None and chunk.get("id"):
            expected.response_id = chunk["id"]
        if chunk.get("usage"):
            counts = chunk["usage"]
            cached = (counts.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
            expected.usage = {
                "input": counts["prompt_tokens"] - cached,
                "output": counts["completion_tokens"],
                "cache_read": cached,
            }
            expected.total_tokens = counts["total_tokens"]
        choice = chunk["choices"][0]
        delta = choice.get("delta") or {}
        content = delta.get("content")
        for part in [content] if isinstance(content, str) else content or []:
            if isinstance(part, str):
                pieces.append(("text", part))
            elif part["type"] == "text":
                pieces.append(("text", part["text"]))
            elif part["type"] == "thinking":
                pieces.append(("thinking", "".join(p.get("text", "") for p in part["thinking"])))
        for call in delta.get("tool_calls") or []:
            index = call.get("index", 0)
            if index not in calls:
                calls[index] = {"id": call["id"], "name": call["function"]["name"], "arguments": []}
                pieces.append(("tool", index))
            calls[index]["arguments"].append(call["function"].get("arguments") or "")
        if choice.get("finish_reason"):
            expected.stop_reason = STOP_REASONS.get(choice["finish_reason"], "stop")
    for kind, value in pieces:
        if kind == "tool":
            call = calls[value]
            text = "".join(call["arguments"])
            expected.blocks.append(ToolCall(call["id"], call["name"], orjson.loads(text) if text else {}))
            continue
        if not value:
            continue
        last = expected.blocks[-1] if expected.blocks else None
        if kind == "text" and isinstance(last, TextContent):
            last.text += value
        elif kind == "thinking" and isinstance(last, ThinkingContent):
            last.thinking += value
        else:
            expected.blocks.append(TextContent(value) if kind == "text" else ThinkingContent(value))
    return expected
