"""What a Bedrock ConverseStream fixture says the final message is (the expectation the tests check).

Computed straight from the recorded events (one ``{"<eventType>": payload}`` per
line), without streaming: a block is a run of deltas with one
``contentBlockIndex`` and one kind (text, reasoning, tool use), as ConverseStream
documents them (text blocks have no ``contentBlockStart``); reasoning signatures are
joined; tool input is joined and parsed once; ``messageStop`` gives the stop reason
and ``metadata.usage`` the token counts. A fixture without the final ``metadata``
event (some hand-written ones) is a stream cut before its end: it ends ``error``,
keeping the blocks, with usage estimated when the request is known. The wire form is
what the replay server sends: one event-stream message per line, ``:event-type`` =
the line's key.

Also here, for the Bedrock tests: the AWS variables they clear, and
:func:`verify_sigv4`, which recomputes a request's SigV4 signature with botocore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from alchemy.testing.wire import BedrockEventStreamFraming
from alchemy.types import AssistantMessage, Model, TextContent, ThinkingContent, ToolCall

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "toolUse",
}


def events(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The fixture's events as ``(event_type, payload)`` pairs."""
    pairs = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            ((kind, payload),) = orjson.loads(line).items()
            pairs.append((kind, payload))
    return pairs


def wire_bytes(path: Path) -> bytes:
    """The fixture in AWS event-stream framing, exactly as the replay server frames it."""
    framing = BedrockEventStreamFraming()
    return b"".join(framing.frame(line.strip()) for line in path.read_bytes().splitlines() if line.strip())


@dataclass
class Expected:
    blocks: list[Any] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=lambda: {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0})
    total_tokens: int = 0
    stop_reason: str = "stop"
    cut: bool = False
    """No ``metadata`` event: the stream ends before its final event."""

    def check(self, message: AssistantMessage, model: Model) -> None:
        if self.cut:
            assert message.stop_reason == "error" and "metadata" in (message.error_message or "")
            assert message.content == self.blocks, (message.content, self.blocks)
            # A parser driven alone has no request to estimate from; a stream estimates.
            assert message.usage.estimated or message.usage.total_tokens == 0
            return
        assert message.stop_reason == self.stop_reason, message.error_message
        assert message.error_message is None
        assert message.content == self.blocks, (message.content, self.blocks)
        usage = message.usage
        got = {"input": usage.input, "output": usage.output, "cache_read": usage.cache_read, "cache_write": usage.cache_write}
        assert got == self.usage
        assert usage.total_tokens == self.total_tokens
        prices = model.cost
        assert prices.input is not None and prices.output is not None
        cost = (
            usage.input * prices.input
            + usage.output * prices.output
            + usage.cache_read * (prices.cache_read or 0.0)
            + usage.cache_write * (prices.cache_write or 0.0)
        ) / 1_000_000
        assert usage.cost.total is not None and abs(usage.cost.total - cost) < 1e-12


def expected_from_fixture(path: Path) -> Expected:
    expected = Expected(cut=True)
    current: dict[str, Any] | None = None
    finished: list[dict[str, Any]] = []

    def close() -> None:
        nonlocal current
        if current is not None:
            finished.append(current)
        current = None

    for kind, payload in events(path):
        if kind == "contentBlockStart" and "toolUse" in payload.get("start", {}):
            close()
            tool = payload["start"]["toolUse"]
            current = {"kind": "tool", "index": payload["contentBlockIndex"], "id": tool["toolUseId"],
                       "name": tool["name"], "parts": []}
        elif kind == "contentBlockDelta":
            index, delta = payload["contentBlockIndex"], payload["delta"]
            if "text" in delta:
                if current is None or (current["kind"], current["index"]) != ("text", index):
                    close()
                    current = {"kind": "text", "index": index, "parts": []}
                current["parts"].append(delta["text"])
            elif "reasoningContent" in delta:
                if current is None or (current["kind"], current["index"]) != ("thinking", index):
                    close()
                    current = {"kind": "thinking", "index": index, "parts": [], "signature": []}
                reasoning = delta["reasoningContent"]
                current["parts"].append(reasoning.get("text", ""))
                current["signature"].append(reasoning.get("signature", ""))
            elif "toolUse" in delta:
                assert current is not None and current["kind"] == "tool" and current["index"] == index
                current["parts"].append(delta["toolUse"]["input"])
        elif kind == "contentBlockStop":
            if current is not None and current["index"] == payload["contentBlockIndex"]:
                close()
        elif kind == "messageStop":
            expected.stop_reason = STOP_REASONS[payload["stopReason"]]
        elif kind == "metadata" and "usage" in payload:
            expected.cut = False
            counts = payload["usage"]
            expected.usage = {
                "input": counts.get("inputTokens", 0),
                "output": counts.get("outputTokens", 0),
                "cache_read": counts.get("cacheReadInputTokens", 0),
                "cache_write": counts.get("cacheWriteInputTokens", 0),
            }
            expected.total_tokens = counts.get("totalTokens") or sum(expected.usage.values())
    close()
    for block in finished:
        text = "".join(block["parts"])
        if block["kind"] == "text":
            expected.blocks.append(TextContent(text))
        elif block["kind"] == "thinking":
            expected.blocks.append(ThinkingContent(text, "".join(block["signature"]) or None))
        else:
            expected.blocks.append(ToolCall(block["id"], block["name"], orjson.loads(text) if text else {}))
    return expected


# --------------------------------------------------------------------------- AWS helpers

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_BEDROCK_SKIP_AUTH",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "ALCHEMY_BASE_URL_OVERRIDE",
    "ALCHEMY_CACHE_RETENTION",
)


def verify_sigv4(method: str, url: str, headers: dict[str, str], body: bytes, secret: str, region: str) -> None:
    """Recomputes the SigV4 signature of a request with botocore and compares it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    authorization = headers["authorization"] if "authorization" in headers else headers["Authorization"]
    scheme, _, fields = authorization.partition(" ")
    assert scheme == "AWS4-HMAC-SHA256"
    parts = dict(part.strip().split("=", 1) for part in fields.split(","))
    access_key, date, scope_region, service, terminator = parts["Credential"].split("/")
    assert (scope_region, service, terminator) == (region, "bedrock", "aws4_request")
    signed_names = parts["SignedHeaders"].split(";")
    lowered = {name.lower(): value for name, value in headers.items()}
    assert {"host", "x-amz-date", "content-type"} <= set(signed_names)
    # The Host header as received when the server recorded one, else botocore derives it from the URL.
    signed = {name: lowered[name] for name in signed_names if name in lowered}
    request = AWSRequest(method=method, url=url, data=body, headers=signed)
    token = lowered.get("x-amz-security-token")
    auth = SigV4Auth(ReadOnlyCredentials(access_key, secret, token), "bedrock", region)
    request.context["timestamp"] = lowered["x-amz-date"]
    assert lowered["x-amz-date"].startswith(date)
    canonical = auth.canonical_request(request)
    assert auth.signature(auth.string_to_sign(request, canonical), request) == parts["Signature"]
