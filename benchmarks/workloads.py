"""Deterministic SSE workloads for the benchmarks (same bytes on every run and machine).

* :func:`openai_chat_stream`: an OpenAI chat-completions stream, one ``data:`` line
  per chunk object, realistic field set, multi-byte text, ending with a usage chunk
  and ``data: [DONE]``.
* :func:`anthropic_messages_stream`: an Anthropic Messages stream, ``event:`` +
  ``data:`` per event (message_start, content blocks with text and thinking deltas,
  pings, message_delta, message_stop).
* :func:`split_every` cuts a stream into fixed-size network chunks;
  :func:`split_events` gives one chunk per event.
"""

from __future__ import annotations

import random

import orjson

CHUNK_SIZE = 16 * 1024
EVENT_COUNT = 20_000

# Words with a fair share of multi-byte UTF-8 (2, 3 and 4 bytes per character).
_WORDS = (
    "the", "model", "streams", "tokens", "quickly", "and", "every", "chunk", "carries", "a",
    "delta", "of", "text", "to", "client", "which", "joins", "them", "into", "answer",
    "café", "naïve", "déjà", "vu", "Zürich", "smörgåsbord", "façade", "piñata",
    "日本語", "の", "テキスト", "ストリーム", "中文", "字符", "数据", "한국어", "텍스트",
    "Привет", "мир", "данные", "Ελληνικά", "λέξη", "עברית", "العربية", "हिन्दी",
    "🚀", "✨", "👍🏽", "→", "≈", "—", "…", "€", "½",
)
_PUNCTUATION = ("", "", "", ",", ".", "!", "?", ":", "\n", "\n\n")


def _text_piece(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(1, 2))
    return " " + " ".join(words) + rng.choice(_PUNCTUATION)


def openai_chat_stream(events: int = EVENT_COUNT, *, line_end: bytes = b"\n", seed: int = 2) -> bytes:
    """An OpenAI ``/v1/chat/completions`` stream with ``events`` SSE events in total (~6.5 MB for 20,000)."""
    rng = random.Random(seed)
    completion_id = "chatcmpl-" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=29))
    base = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "gpt-4o-2024-08-06",
        "service_tier": "default",
        "system_fingerprint": "fp_f9f4fb6dbf",
    }
    frames: list[bytes] = []

    def frame(choices: list[dict[str, object]], usage: object = None) -> None:
        chunk = dict(base)
        chunk["choices"] = choices
        chunk["usage"] = usage
        chunk["obfuscation"] = "".join(rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", k=rng.randint(2, 8)))
        frames.append(b"data: " + orjson.dumps(chunk) + line_end + line_end)

    text_events = events - 4  # role chunk, finish chunk, usage chunk, [DONE]
    frame([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}, "logprobs": None, "finish_reason": None}])
    for _ in range(text_events):
        frame([{"index": 0, "delta": {"content": _text_piece(rng)}, "logprobs": None, "finish_reason": None}])
    frame([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
    frame(
        [],
        {
            "prompt_tokens": 1_234,
            "completion_tokens": text_events,
            "total_tokens": 1_234 + text_events,
            "prompt_tokens_details": {"cached_tokens": 1_024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    )
    frames.append(b"data: [DONE]" + line_end + line_end)
    return b"".join(frames)


def anthropic_messages_stream(events: int = EVENT_COUNT, *, seed: int = 3) -> bytes:
    """An Anthropic ``/v1/messages`` stream with ``events`` SSE events in total."""
    rng = random.Random(seed)
    frames: list[bytes] = []

    def frame(name: str, payload: dict[str, object]) -> None:
        frames.append(b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n")

    frame(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01" + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", k=22)),
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 1_234, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1_024, "output_tokens": 1},
            },
        },
    )
    deltas = events - 8  # message_start, 2 block starts, 2 block stops, ping, message_delta, message_stop
    thinking = deltas // 4
    frame("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
    frame("ping", {"type": "ping"})
    for _ in range(thinking):
        frame("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": _text_piece(rng)}})
    frame("content_block_stop", {"type": "content_block_stop", "index": 0})
    frame("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}})
    for _ in range(deltas - thinking):
        frame("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": _text_piece(rng)}})
    frame("content_block_stop", {"type": "content_block_stop", "index": 1})
    frame(
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": deltas}},
    )
    frame("message_stop", {"type": "message_stop"})
    return b"".join(frames)


def split_every(stream: bytes, size: int = CHUNK_SIZE) -> list[bytes]:
    """The stream cut into ``size``-byte network chunks (cuts fall anywhere, mid-character included)."""
    return [stream[start : start + size] for start in range(0, len(stream), size)]


def split_events(stream: bytes) -> list[bytes]:
    """One chunk per event: the stream cut right after each blank line (LF or CRLF framing)."""
    separator = b"\r\n\r\n" if b"\r\n" in stream[:4096] else b"\n\n"
    pieces = stream.split(separator)
    chunks = [piece + separator for piece in pieces[:-1]]
    if pieces[-1]:
        chunks.append(pieces[-1])
    return chunks
