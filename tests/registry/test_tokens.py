"""Token counting against tiktoken itself, image rules and header readers, the offline fallback."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support import bundled_registry  # noqa: F401 (fixture)
import tiktoken

from alchemy import tokens
from alchemy.errors import TokenizerFallbackWarning
from alchemy.models import get_model
from alchemy.tokens import (
    TokenCount,
    count_text,
    count_tokens,
    encoding_name,
    estimate_usage,
    fits_context,
    image_size,
    image_tokens,
)
from alchemy.types import (
    AssistantMessage,
    Context,
    ImageContent,
    Model,
    ModelCost,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)

SHARED_TIKTOKEN = Path(os.environ.get("TIKTOKEN_CACHE_DIR", ""))
O200K_FILE = "fb374d419588a4632f3f557e76b4b70aebbca790"

pytestmark = pytest.mark.skipif(
    not (SHARED_TIKTOKEN / O200K_FILE).is_file(), reason="TIKTOKEN_CACHE_DIR does not hold the encoding files"
)




@pytest.fixture(autouse=True)
def fresh_encodings() -> Iterator[None]:
    tokens._reset_for_tests()
    yield
    tokens._reset_for_tests()


def custom(model_id: str, vendor: str | None = None, **kw: object) -> Model:
    return Model(id=model_id, name=model_id, api="openai-completions", provider="test", base_url="http://x", vendor=vendor, **kw)  # type: ignore[arg-type]


GPT4O = custom("gpt-4o", "openai")


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("model_id", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("openai/gpt-4", "cl100k_base"),
        ("claude-sonnet-4-5", "o200k_base"),
    ],
)
def test_encoding_per_family(model_id: str, encoding: str) -> None:
    assert encoding_name(custom(model_id)) == encoding


def test_text_matches_tiktoken_exactly() -> None:
    text = "Hello, world! Ünïcödé, emoji 🎉, code: def f(x): return x**2\n" * 7
    for model_id, name in (("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")):
        expected = len(tiktoken.get_encoding(name).encode(text))
        assert count_text(text, custom(model_id)) == TokenCount(expected, True, name)
    assert count_text("<|endoftext|> is text here").tokens == len(
        tiktoken.get_encoding("o200k_base").encode("<|endoftext|> is text here", disallowed_special=())
    )


def test_context_count_is_the_sum_of_its_framed_parts() -> None:
    enc = tiktoken.get_encoding("o200k_base")

    def n(text: str) -> int:
        return len(enc.encode(text))

    tool = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})
    call = ToolCall("call_1", "get_weather", {"city": "Paris"})
    context = Context(
        system_prompt="You are terse.",
        messages=[
            UserMessage("What's the weather in Paris?"),
            AssistantMessage([TextContent("Checking."), call]),
            ToolResultMessage("call_1", "get_weather", [TextContent("18C, sunny")]),
        ],
        tools=[tool],
    )
    schema = '{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}'
    expected = (
        tokens.REPLY_PRIMING
        + (4 + n("You are terse."))
        + (4 + n("What's the weather in Paris?"))
        + (4 + n("Checking.") + n("get_weather") + n('{"city":"Paris"}') + 3)
        + (4 + n("call_1") + n("18C, sunny"))
        + tokens.TOOLS_OVERHEAD
        + tokens.TOOL_OVERHEAD
        + n(schema)
    )
    result = count_tokens(GPT4O, context)
    assert result == TokenCount(expected, True, "o200k_base")


def test_openai_chat_framing_matches_the_published_recipe() -> None:
    # OpenAI's cookbook: 3 tokens per message + role + content, 3 to prime the reply.
    enc = tiktoken.get_encoding("o200k_base")
    messages = [("system", "You are helpful."), ("user", "Hello there, how are you?")]
    expected = 3 + sum(3 + len(enc.encode(role)) + len(enc.encode(text)) for role, text in messages)
    context = Context(system_prompt=messages[0][1], messages=[UserMessage(messages[1][1])])
    assert count_tokens(GPT4O, context).tokens == expected


def test_other_vendors_are_estimates_and_strings_are_contexts() -> None:
    claude = get_model("anthropic", "claude-sonnet-4-5")
    result = count_tokens(claude, "Hello")
    assert not result.exact and result.encoding == "o200k_base"
    assert result.tokens == tokens.REPLY_PRIMING + 4 + 1
    assert count_tokens("anthropic/claude-sonnet-4-5", "Hello") == result
    assert count_tokens(custom("openai/gpt-oss-120b"), "Hello").exact is False
    with pytest.raises(TypeError):
        count_tokens(GPT4O, 42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- images


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png(width: int, height: int) -> str:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b64(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0" + b"\0" * 40)


def gif(width: int, height: int) -> str:
    return b64(b"GIF89a" + struct.pack("<HH", width, height) + b"\0" * 20)


def jpeg(width: int, height: int, exif_bytes: int = 0) -> str:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    app1 = b""
    if exif_bytes:
        app1 = b"\xff\xe1" + struct.pack(">H", exif_bytes + 2) + b"\xab" * exif_bytes
    sof = b"\xff\xc2" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\0\x02\x11\x01\x03\x11\x01"
    return b64(b"\xff\xd8" + app0 + app1 + sof + b"\xff\xda" + b"\0" * 32 + b"\xff\xd9")


def webp_vp8(width: int, height: int) -> str:
    frame = b"\x10\x02\0" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return b64(b"RIFF" + struct.pack("<I", 30) + b"WEBP" + b"VP8 " + struct.pack("<I", len(frame)) + frame + b"\0" * 8)


def webp_lossless(width: int, height: int) -> str:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"\x2f" + bits.to_bytes(4, "little")
    return b64(b"RIFF" + struct.pack("<I", 30) + b"WEBP" + b"VP8L" + struct.pack("<I", len(body)) + body + b"\0" * 8)


def webp_extended(width: int, height: int) -> str:
    body = b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b64(b"RIFF" + struct.pack("<I", 30) + b"WEBP" + b"VP8X" + struct.pack("<I", len(body)) + body + b"\0" * 8)


@pytest.mark.parametrize(
    "encoded",
    [
        png(640, 480),
        gif(640, 480),
        jpeg(640, 480),
        jpeg(640, 480, exif_bytes=60_000),  # the frame header sits after a long EXIF segment
        webp_vp8(640, 480),
        webp_lossless(640, 480),
        webp_extended(640, 480),
    ],
)
def test_image_header_readers(encoded: str) -> None:
    assert image_size(encoded) == (640, 480)


def test_unreadable_images() -> None:
    assert image_size("") is None
    assert image_size("not base64 at all!") is None
    assert image_size(b64(b"\xff\xd8\xff\xda" + b"\0" * 100)) is None  # JPEG without a frame header
    assert image_size(b64(b"BM" + b"\0" * 60)) is None  # BMP is not read


def image(encoded: str) -> ImageContent:
    return ImageContent(encoded, "image/png")


@pytest.mark.parametrize(
    ("model", "encoded", "expected"),
    [
        (custom("claude-sonnet-4-5", "anthropic"), png(1000, 1000), 1334),  # 1000*1000/750
        (custom("claude-sonnet-4-5", "anthropic"), png(200, 200), 54),
        (custom("gpt-4o", "openai"), png(1024, 1024), 765),  # 85 + 170 * 4 tiles
        (custom("gpt-4o", "openai"), png(2048, 4096), 1105),  # OpenAI's worked example: 6 tiles
        (custom("gpt-4o", "openai"), png(512, 512), 255),
        (custom("gpt-4o-mini", "openai"), png(1024, 1024), 2833 + 5667 * 4),
        (custom("gpt-5", "openai"), png(1024, 1024), 70 + 140 * 4),
        (custom("o3", "openai"), png(1024, 1024), 75 + 150 * 4),
        (custom("gpt-4.1-mini", "openai"), png(1024, 1024), 1659),  # 1024 patches * 1.62
        (custom("gpt-4.1-mini", "openai"), png(1800, 2400), 2353),  # OpenAI's example: 1452 patches * 1.62
        (custom("gemini-2.5-pro", "google"), png(384, 384), 258),
        (custom("gemini-2.5-pro", "google"), png(1000, 1000), 4 * 258),
        (custom("llama-4-maverick", "meta"), png(1024, 1024), 765),  # others: OpenAI's default rule
        (custom("gpt-4o", "openai"), "AAAA", 765),  # unreadable: counted as 1024x1024
    ],
)
def test_image_token_rules(model: Model, encoded: str, expected: int) -> None:
    assert image_tokens(model, image(encoded)) == expected


def test_large_images_are_scaled_down_first() -> None:
    claude = custom("claude-opus-4", "anthropic")
    assert 1533 <= image_tokens(claude, image(png(3000, 2000))) <= 1534  # capped near 1.15 MP
    assert image_tokens(claude, image(png(4000, 100))) == 82  # 1568 x 39.2 / 750 = 81.95


def test_images_count_in_context() -> None:
    claude = get_model("anthropic", "claude-sonnet-4-5")
    with_image = Context(messages=[UserMessage([TextContent("What is this?"), image(png(1000, 1000))])])
    without = Context(messages=[UserMessage([TextContent("What is this?")])])
    assert count_tokens(claude, with_image).tokens - count_tokens(claude, without).tokens == 1334


# --------------------------------------------------------------------------- fits, estimates


def test_fits_context() -> None:
    model = custom("gpt-4o", "openai", context_window=100)
    prompt = count_tokens(model, "hello").tokens
    assert fits_context(model, "hello")
    assert fits_context(model, "hello", max_tokens=100 - prompt)
    assert not fits_context(model, "hello", max_tokens=100 - prompt + 1)
    limited = custom("gpt-4o", "openai", context_window=1000, max_input_tokens=prompt - 1)
    assert not fits_context(limited, "hello")
    assert fits_context(custom("gpt-4o", "openai"), "hello " * 10_000, max_tokens=10**9)  # unknown window


def test_estimate_usage() -> None:
    model = custom("gpt-4o", "openai", cost=ModelCost(input=2.5, output=10.0))
    context = Context(messages=[UserMessage("Tell me a joke")])
    message = AssistantMessage([ThinkingContent("Let me think of a pun."), TextContent("Why did the chicken...")])
    usage = estimate_usage(model, context, message)
    enc = tiktoken.get_encoding("o200k_base")
    thinking = len(enc.encode("Let me think of a pun."))
    assert usage.estimated
    assert usage.input == count_tokens(model, context).tokens
    assert usage.reasoning == thinking
    assert usage.output == thinking + len(enc.encode("Why did the chicken..."))
    assert usage.total_tokens == usage.input + usage.output
    assert usage.cost.total == pytest.approx((usage.input * 2.5 + usage.output * 10.0) / 1_000_000)
    assert usage.to_dict()["estimated"] is True


# --------------------------------------------------------------------------- offline fallback


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError("the tokenizer tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_empty_cache_dir_falls_back_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[object]
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ALCHEMY_TIKTOKEN_DOWNLOAD", raising=False)
    text = "Hello there, general Kenobi. ünïcode"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = count_tokens(GPT4O, text)
        second = count_tokens(custom("gpt-4"), text)  # another encoding: still one warning
        plain = count_text(text, GPT4O)
    fallback = [w for w in caught if issubclass(w.category, TokenizerFallbackWarning)]
    assert len(fallback) == 1
    assert "TIKTOKEN_CACHE_DIR" in str(fallback[0].message)
    assert first.exact is False and first.encoding is None
    framing = tokens.REPLY_PRIMING + 4
    assert first.tokens == framing + -(-len(text.encode()) // 4)
    assert second.tokens == first.tokens
    assert plain == TokenCount(-(-len(text.encode()) // 4), False, None)
    assert no_network == []
    assert list(tmp_path.iterdir()) == []


def test_downloads_are_off_for_a_chosen_cache_dir_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALCHEMY_TIKTOKEN_DOWNLOAD", raising=False)
    assert tokens._downloads_allowed(explicit_dir=False)
    assert not tokens._downloads_allowed(explicit_dir=True)
    monkeypatch.setenv("ALCHEMY_TIKTOKEN_DOWNLOAD", "1")
    assert tokens._downloads_allowed(explicit_dir=True)
    monkeypatch.setenv("ALCHEMY_TIKTOKEN_DOWNLOAD", "0")
    assert not tokens._downloads_allowed(explicit_dir=False)


class FileServer:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def test_download_from_a_mirror_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FileServer((SHARED_TIKTOKEN / O200K_FILE).read_bytes())
    try:
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
        monkeypatch.setenv("ALCHEMY_TIKTOKEN_DOWNLOAD", "1")
        monkeypatch.setenv("ALCHEMY_TIKTOKEN_MIRROR", server.url)
        result = count_text("hello world", GPT4O)
    finally:
        server.close()
    assert result == TokenCount(len(tiktoken.get_encoding("o200k_base").encode("hello world")), True, "o200k_base")
    assert server.paths == ["/o200k_base.tiktoken"]
    saved = tmp_path / O200K_FILE
    assert saved.is_file() and hashlib.sha256(saved.read_bytes()).hexdigest().startswith("446a9538")


def test_corrupt_download_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FileServer(b"not the encoding file")
    try:
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
        monkeypatch.setenv("ALCHEMY_TIKTOKEN_DOWNLOAD", "1")
        monkeypatch.setenv("ALCHEMY_TIKTOKEN_MIRROR", server.url)
        with pytest.warns(TokenizerFallbackWarning, match="SHA-256"):
            result = count_text("hello world", GPT4O)
    finally:
        server.close()
    assert result.exact is False and list(tmp_path.iterdir()) == []


def test_unreachable_download_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("ALCHEMY_TIKTOKEN_DOWNLOAD", "1")
    monkeypatch.setenv("ALCHEMY_TIKTOKEN_MIRROR", f"http://127.0.0.1:{port}")
    with pytest.warns(TokenizerFallbackWarning, match="ConnectError"):
        assert count_text("hello", GPT4O).exact is False


def test_wrong_file_in_cache_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[object]) -> None:
    (tmp_path / O200K_FILE).write_bytes(b"tampered")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ALCHEMY_TIKTOKEN_DOWNLOAD", raising=False)
    with pytest.warns(TokenizerFallbackWarning):
        assert count_text("hello", GPT4O).exact is False
    assert (tmp_path / O200K_FILE).read_bytes() == b"tampered"  # left alone, never re-fetched by tiktoken
    assert no_network == []
