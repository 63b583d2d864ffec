"""What a recorded Gemini ``streamGenerateContent`` stream should turn into, computed from its JSON.

Used by ``test_google.py`` and ``test_google_e2e.py``. The expectation is built
straight from the fixture lines with a deliberately plain reading of the format
(no code shared with the provider): blocks from the parts, streamed
function-call arguments applied path by path, usage from the last
``usageMetadata`` with counts, the stop reason from the ``finishReason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from alchemy.types import AssistantMessage, Model, TextContent, ThinkingContent, ToolCall

_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def fixture_payloads(path: Path) -> list[dict[str, Any]]:
    """The JSON payloads of a ``.chunks.txt`` fixture (empty lines skipped)."""
    return [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wire_bytes(payloads: list[dict[str, Any]]) -> bytes:
    """The payloads as Gemini frames them: ``data: <json>`` and CRLF line ends, no sentinel."""
    return b"".join(b"data: " + orjson.dumps(p) + b"\r\n\r\n" for p in payloads)


def _set_path(arguments: dict[str, Any], path: str, value: Any, append: bool) -> None:
    keys: list[Any] = [name if name else int(index) for name, index in _PATH_PART.findall(path[1:])]
    node: Any = arguments
    for key, following in zip(keys, keys[1:]):
        if isinstance(node, list):
            while len(node) <= key:
                node.append(None)
            if node[key] is None:
                node[key] = [] if isinstance(following, int) else {}
            node = node[key]
        else:
            node = node.setdefault(key, [] if isinstance(following, int) else {})
    last = keys[-1]
    if isinstance(node, list):
        while len(node) <= last:
            node.append(None)
        node[last] = (node[last] or "") + value if append else value
    else:
        node[last] = node.get(last, "") + value if append else value


@dataclass
class Expected:
    """The final message a fixture should give."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)
    """``("text", text, signature)``, ``("thinking", text, signature)``, ``("tool", name, args, signature)``."""
    stop_reason: str = "stop"
    error_reason: str | None = None
    usage: dict[str, int] | None = None
    response_id: str | None = None
    logprobs: list[tuple[str, float, tuple[tuple[str, float], ...]]] | None = None
    """``(token, logprob, top)`` per generated step, from ``logprobsResult``; ``None`` when no event had any."""

    def check(self, message: AssistantMessage, model: Model) -> None:
        if self.error_reason is not None:
            assert message.stop_reason == "error", message
            assert message.error_message and self.error_reason in message.error_message
        else:
            assert message.stop_reason == self.stop_reason, message.error_message
            assert message.error_message is None
        assert len(message.content) == len(self.blocks), (message.content, self.blocks)
        ids = set()
        for block, expected in zip(message.content, self.blocks):
            kind = expected[0]
            if kind == "text":
                assert isinstance(block, TextContent) and block.text == expected[1]
                assert block.text_signature == expected[2]
            elif kind == "thinking":
                assert isinstance(block, ThinkingContent) and block.thinking == expected[1]
                assert block.thinking_signature == expected[2]
            else:
                assert isinstance(block, ToolCall)
                assert (block.name, block.arguments, block.thought_signature) == expected[1:]
                assert block.id and block.id not in ids and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", block.id)
                ids.add(block.id)
        if self.usage is not None:
            usage = message.usage
            got = {
                "input": usage.input,
                "output": usage.output,
                "cache_read": usage.cache_read,
                "reasoning": usage.reasoning,
                "total": usage.total_tokens,
            }
            assert got == self.usage
            assert usage.cost.output is not None and usage.cost.input is not None
            if model.cost.output:
                assert abs(usage.cost.output - usage.output * model.cost.output / 1e6) < 1e-12
        assert message.response_id == self.response_id
        got_logprobs = None if message.logprobs is None else [(i.token, i.logprob, i.top) for i in message.logprobs]
        assert got_logprobs == self.logprobs


_FAILURES = {"SAFETY", "RECITATION", "MALFORMED_FUNCTION_CALL", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}


def expected_from_payloads(payloads: list[dict[str, Any]]) -> Expected:
    expected = Expected()
    blocks: list[list[Any]] = []
    open_kind: str | None = None  # "text", "thinking", "stream" (a streamed call), None
    string_open: str | None = None
    finish: str | None = None
    for payload in payloads:
        meta = payload.get("usageMetadata") or {}
        if "promptTokenCount" in meta:
            cached = meta.get("cachedContentTokenCount", 0)
            thoughts = meta.get("thoughtsTokenCount", 0)
            expected.usage = {
                "input": meta["promptTokenCount"] - cached + meta.get("toolUsePromptTokenCount", 0),
                "output": meta.get("candidatesTokenCount", 0) + thoughts,
                "cache_read": cached,
                "reasoning": thoughts,
                "total": meta["totalTokenCount"],
            }
        if expected.response_id is None and payload.get("responseId"):
            expected.response_id = payload["responseId"]
        for candidate in payload.get("candidates", [])[:1]:
            for part in (candidate.get("content") or {}).get("parts", []):
                signature = part.get("thoughtSignature")
                if "text" in part:
                    kind = "thinking" if part.get("thought") else "text"
                    if open_kind == "stream":
                        open_kind = None
                    if part["text"] and open_kind != kind:
                        blocks.append([kind, "", None])
                        open_kind = kind
                    if part["text"]:
                        blocks[-1][1] += part["text"]
                    if signature:
                        if open_kind == kind:
                            blocks[-1][2] = signature
                        else:
                            blocks.append([kind, "", signature])
                            open_kind = kind
                elif "functionCall" in part:
                    call = part["functionCall"]
                    if open_kind == "stream" and not call.get("name"):
                        for partial in call.get("partialArgs", []):
                            value_key = next(k for k in partial if k.endswith("Value"))
                            value = None if value_key == "nullValue" else partial[value_key]
                            is_string = value_key == "stringValue"
                            _set_path(blocks[-1][2], partial["jsonPath"], value, is_string and string_open == partial["jsonPath"])
                            string_open = partial["jsonPath"] if is_string and partial.get("willContinue") else None
                        if not call.get("willContinue"):
                            open_kind = None
                        continue
                    if not call.get("name"):
                        continue
                    blocks.append(["tool", call["name"], dict(call.get("args") or {}), signature])
                    open_kind = "stream" if call.get("willContinue") else None
                    string_open = None
            result = candidate.get("logprobsResult")
            if result and result.get("chosenCandidates"):
                expected.logprobs = (expected.logprobs or []) + _logprobs(result)
            if candidate.get("finishReason"):
                finish = candidate["finishReason"]
    expected.blocks = [tuple(block) for block in blocks]
    has_tools = any(block[0] == "tool" for block in blocks)
    if finish == "STOP":
        expected.stop_reason = "toolUse" if has_tools else "stop"
    elif finish == "MAX_TOKENS":
        expected.stop_reason = "toolUse" if has_tools and open_kind != "stream" else "length"
    elif finish is None:
        expected.error_reason = "before a finishReason arrived"
    else:
        expected.error_reason = finish
    return expected


def _logprobs(result: dict[str, Any]) -> list[tuple[str, float, tuple[tuple[str, float], ...]]]:
    tops = result.get("topCandidates", [])
    steps = []
    for step, chosen in enumerate(result["chosenCandidates"]):
        top = tops[step].get("candidates", []) if step < len(tops) else []
        pairs = tuple((c.get("token", ""), float(c.get("logProbability", 0.0))) for c in top)
        steps.append((chosen.get("token", ""), float(chosen.get("logProbability", 0.0)), pairs))
    return steps


def expected_from_fixture(path: Path) -> Expected:
    return expected_from_payloads(fixture_payloads(path))
