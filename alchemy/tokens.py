"""Token counting with tiktoken: prompt size before a request, usage when a provider sends none.

``count_tokens(model, context)`` counts a whole prompt the way OpenAI's chat framing
does: the system prompt and every message cost their content plus a small per-message
overhead (3 tokens, plus 3 that prime the reply), tool definitions cost their JSON,
and images cost what the model's vendor publishes:

* OpenAI: the tile rule (fit in 2048x2048, shortest side to 768, 512-px tiles at a
  per-family base + per-tile price), or the 32-px patch rule of the mini/nano
  families, with their multipliers;
* Anthropic: ``width * height / 750`` after scaling to at most 1568 px on the long
  edge and about 1.15 megapixels;
* Google: 258 tokens up to 384x384, else 258 per 768x768 tile;
* others: OpenAI's default tile rule, as an estimate.

Image sizes are read from the PNG, JPEG, GIF or WebP header inside the base64 data;
an unreadable image counts as a typical 1024x1024 one.

OpenAI models get their own encoding (``o200k_base`` for GPT-4o, 4.1, 4.5, 5, the
o-series and gpt-oss; ``cl100k_base`` for GPT-4 and GPT-3.5) and ``exact=True``: the
count is exact up to the provider's framing, which OpenAI does not publish in full
(tool definitions in particular). Other vendors' tokenizers are not public: they are
counted with ``o200k_base`` and say ``exact=False``.

**Offline.** tiktoken needs its encoding files. alchemy looks for them in tiktoken's
cache directory (``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else
``<tmp>/data-gym-cache``) and checks their hash before tiktoken ever sees them, so
tiktoken never reaches for the network on its own. When a file is missing it is
downloaded once with httpx (short timeouts), but only into tiktoken's default cache:
a ``TIKTOKEN_CACHE_DIR`` you set is taken as the place the files are, and nothing is
downloaded into it unless ``ALCHEMY_TIKTOKEN_DOWNLOAD=1`` (``=0`` forbids downloads
everywhere; ``ALCHEMY_TIKTOKEN_MIRROR`` names another base URL serving the same
``<encoding>.tiktoken`` files, hash-checked all the same). Without the files, counts
fall back to an estimate of **one token per 4 bytes of UTF-8** (close for English
prose and code under both encodings; it under-counts CJK text), with ``exact=False``
and one :class:`TokenizerFallbackWarning` per process, never an exception (only a
misspelt ``ALCHEMY_*`` value raises :class:`ValueError`, see :mod:`alchemy.config`).
"""

from __future__ import annotations

import binascii
import hashlib
import math
import os
import re
import struct
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ._args import need_count
from .config import TIKTOKEN_DOWNLOAD, TIKTOKEN_MIRROR
from .errors import TokenizerFallbackWarning
from .types import (
    AssistantMessage,
    Context,
    ImageContent,
    Message,
    Model,
    ServerToolCall,
    TextContent,
    ThinkingContent,
    Tool,
    ToolCall,
    ToolResultMessage,
    Usage,
    UserMessage,
    check_context,
)

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "BYTES_PER_TOKEN",
    "TokenCount",
    "count_text",
    "count_tokens",
    "encoding_name",
    "estimate_usage",
    "fits_context",
    "image_size",
    "image_tokens",
]

BYTES_PER_TOKEN = 4
"""The offline estimate: one token per this many bytes of UTF-8."""

MESSAGE_OVERHEAD = 3
"""Tokens OpenAI's chat framing adds around every message (role markers)."""
REPLY_PRIMING = 3
"""Tokens that start the assistant's reply."""
TOOLS_OVERHEAD = 12
"""Tokens around the tool list (an approximation: OpenAI does not publish it)."""
TOOL_OVERHEAD = 8
"""Tokens around each tool definition (an approximation)."""

_ENCODING_FILES: dict[str, tuple[str, str]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
_CL100K_MODELS = re.compile(r"^(?:gpt-4(?![o.]|-?o)|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada)")


@dataclass(frozen=True, slots=True)
class TokenCount:
    """A token count; ``exact`` is False for estimates (other vendors, or no tokenizer files).

    ``encoding`` names the tiktoken encoding used, or is None for the byte-length estimate.
    """

    tokens: int
    exact: bool
    encoding: str | None = None

    def __int__(self) -> int:
        return self.tokens


# --------------------------------------------------------------------------- encodings


def _bare_id(model: Model) -> str:
    from .models._vendor import split_vendor_prefix

    return split_vendor_prefix(model.id)[1].lower().rsplit("/", 1)[-1]


def _vendor(model: Model) -> str | None:
    if model.vendor:
        return model.vendor
    from .models._vendor import detect_vendor

    return detect_vendor(model.id, model.family, model.provider)


def encoding_name(model: Model) -> str:
    """The tiktoken encoding for a model: cl100k_base for GPT-4 / GPT-3.5, else o200k_base."""
    if _vendor(model) == "openai" and _CL100K_MODELS.match(_bare_id(model)):
        return "cl100k_base"
    return "o200k_base"


def _is_exact(model: Model) -> bool:
    return _vendor(model) == "openai" and "gpt-oss" not in model.id.lower()


def _cache_dir() -> tuple[Path | None, bool]:
    """tiktoken's cache directory and whether the user chose it (None: caching disabled)."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            value = os.environ[variable]
            return (Path(value) if value else None), True
    return Path(tempfile.gettempdir()) / "data-gym-cache", False


def _downloads_allowed(explicit_dir: bool) -> bool:
    """``ALCHEMY_TIKTOKEN_DOWNLOAD`` if set, else only into a cache directory the user did not choose."""
    choice = TIKTOKEN_DOWNLOAD.read()
    return not explicit_dir if choice is None else choice


def _has_valid_file(path: Path, expected: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == expected
    except OSError:
        return False


def _download(url: str, expected: str, target: Path) -> None:
    import httpx

    response = httpx.get(url, timeout=httpx.Timeout(30.0, connect=3.0), follow_redirects=True)
    response.raise_for_status()
    if hashlib.sha256(response.content).hexdigest() != expected:
        raise ValueError(f"{url} did not match its published SHA-256")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(response.content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding | None] = {}
_warned = False


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(message, TokenizerFallbackWarning, stacklevel=4)


def _unavailable(name: str, reason: str) -> tiktoken.Encoding | None:
    """Warns (once per process) why counts are estimates; returns None for the caller."""
    _warn_once(
        f"tiktoken's {name} encoding is unavailable: {reason}. Token counts are estimates "
        f"(1 token per {BYTES_PER_TOKEN} bytes, exact=False). Put the encoding files in "
        "TIKTOKEN_CACHE_DIR, or set ALCHEMY_TIKTOKEN_DOWNLOAD=1 to let alchemy fetch them."
    )
    return None


def _load_encoding(name: str) -> tiktoken.Encoding | None:
    """The encoding if its file is in the cache (or can be fetched); else None and one warning."""
    url, expected = _ENCODING_FILES[name]
    cache_dir, explicit = _cache_dir()
    if cache_dir is None:
        return _unavailable(name, "TIKTOKEN_CACHE_DIR is empty, which turns tiktoken's file cache off")
    path = cache_dir / hashlib.sha1(url.encode()).hexdigest()
    if not _has_valid_file(path, expected):
        if not _downloads_allowed(explicit):
            return _unavailable(name, f"its file {path.name} is not in TIKTOKEN_CACHE_DIR={cache_dir}")
        source = url
        mirror = TIKTOKEN_MIRROR.read()
        if mirror is not None:
            source = f"{mirror}/{url.rsplit('/', 1)[-1]}"
        try:
            _download(source, expected, path)
        except Exception as exc:  # no network, HTTP error, unwritable cache: estimate instead
            return _unavailable(name, f"downloading {source} failed ({type(exc).__name__}: {exc})")
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except Exception as exc:  # a tiktoken too old for the encoding, a file changed underneath
        return _unavailable(name, f"tiktoken could not load it ({type(exc).__name__}: {exc})")


def _encoding(name: str) -> tiktoken.Encoding | None:
    if name in _encodings:
        return _encodings[name]
    with _lock:
        if name not in _encodings:
            _encodings[name] = _load_encoding(name)
        return _encodings[name]


def _reset_for_tests() -> None:
    """Forgets loaded encodings and the warning (tests point TIKTOKEN_CACHE_DIR elsewhere)."""
    global _warned
    with _lock:
        _encodings.clear()
        _warned = False


class _Counter:
    """Counts strings with one encoding, or with the byte estimate when it is unavailable."""

    __slots__ = ("encoding", "name")

    def __init__(self, name: str, *, load: bool = True) -> None:
        self.name = name
        # load=False: use the encoding only if it is already loaded (loading takes ~0.3 s once).
        self.encoding = _encoding(name) if load else _encodings.get(name)

    @property
    def available(self) -> bool:
        return self.encoding is not None

    def __call__(self, text: str) -> int:
        if not text:
            return 0
        if self.encoding is None:
            return math.ceil(len(text.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN)
        return len(self.encoding.encode(text, disallowed_special=()))


def count_text(text: str, model: Model | None = None) -> TokenCount:
    """Tokens of plain text (no framing) with the model's encoding (o200k_base if no model)."""
    name = encoding_name(model) if model is not None else "o200k_base"
    counter = _Counter(name)
    exact = counter.available and (model is None or _is_exact(model))
    return TokenCount(counter(text), exact, name if counter.available else None)


# --------------------------------------------------------------------------- images


def _decoded_prefix(data: str, chars: int) -> bytes:
    head = "".join(data[:chars].split())
    head = head[: len(head) // 4 * 4]
    try:
        return binascii.a2b_base64(head)
    except (binascii.Error, ValueError):
        return b""


def _png_size(b: bytes) -> tuple[int, int] | None:
    if len(b) >= 24 and b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR":
        width, height = struct.unpack(">II", b[16:24])
        return int(width), int(height)
    return None


def _gif_size(b: bytes) -> tuple[int, int] | None:
    if len(b) >= 10 and b[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", b[6:10])
        return int(width), int(height)
    return None


def _webp_size(b: bytes) -> tuple[int, int] | None:
    if len(b) < 30 or b[:4] != b"RIFF" or b[8:12] != b"WEBP":
        return None
    chunk = b[12:16]
    if chunk == b"VP8 " and b[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", b[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and b[20] == 0x2F:
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1
    return None


_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(b: bytes) -> tuple[int, int] | None | bool:
    """Width and height from the first SOF segment; False when more bytes are needed."""
    if len(b) < 4 or b[:2] != b"\xff\xd8":
        return None
    i = 2
    while True:
        while i < len(b) and b[i] != 0xFF:
            i += 1  # tolerate stray bytes between segments
        while i < len(b) and b[i] == 0xFF:
            i += 1  # fill bytes
        if i >= len(b):
            return False
        marker = b[i]
        i += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        if marker in (0xD9, 0xDA):
            return None  # image data or end before any frame header
        if i + 2 > len(b):
            return False
        length = int.from_bytes(b[i : i + 2], "big")
        if marker in _JPEG_SOF:
            if i + 7 > len(b):
                return False
            height, width = struct.unpack(">HH", b[i + 3 : i + 7])
            return int(width), int(height)
        if length < 2:
            return None
        i += length


def image_size(data: str) -> tuple[int, int] | None:
    """``(width, height)`` from the header of base64 PNG, JPEG, GIF or WebP data, or None."""
    head = _decoded_prefix(data, 64)
    for reader in (_png_size, _gif_size, _webp_size):
        size = reader(head)
        if size is not None:
            return size if size[0] > 0 and size[1] > 0 else None
    if head[:2] != b"\xff\xd8":
        return None
    chars = 4096
    while True:  # JPEG headers (EXIF, ICC profiles) can be long: decode more until the frame header
        result = _jpeg_size(_decoded_prefix(data, chars))
        if result is not False:
            if isinstance(result, tuple) and result[0] > 0 and result[1] > 0:
                return result
            return None
        if chars >= len(data):
            return None
        chars *= 4


def _ceil(value: float) -> int:
    return math.ceil(value - 1e-9)  # 33.000000001 patches of a resized image are 33


def _fit(width: float, height: float, box: float) -> tuple[float, float]:
    scale = min(1.0, box / max(width, height))
    return width * scale, height * scale


def _openai_tiles(width: int, height: int, base: int, per_tile: int) -> int:
    w, h = _fit(width, height, 2048)
    shortest = min(w, h)
    if shortest > 768:
        w, h = w * 768 / shortest, h * 768 / shortest
    return base + per_tile * _ceil(w / 512) * _ceil(h / 512)


def _openai_patches(width: int, height: int, multiplier: float) -> int:
    patches = _ceil(width / 32) * _ceil(height / 32)
    if patches > 1536:
        ratio = math.sqrt(32 * 32 * 1536 / (width * height))
        ratio *= min(
            math.floor(width * ratio / 32) / (width * ratio / 32),
            math.floor(height * ratio / 32) / (height * ratio / 32),
        )
        patches = min(1536, _ceil(width * ratio / 32) * _ceil(height * ratio / 32))
    return _ceil(patches * multiplier)


# Longest prefix first. (base, per-tile) for the tile rule; multiplier for the patch rule.
_OPENAI_PATCH_MODELS: tuple[tuple[str, float], ...] = (
    ("gpt-4.1-mini", 1.62),
    ("gpt-4.1-nano", 2.46),
    ("gpt-5-mini", 1.62),
    ("gpt-5-nano", 2.46),
    ("o4-mini", 1.72),
)
_OPENAI_TILE_MODELS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("gpt-4o-mini", (2833, 5667)),
    ("computer-use", (65, 129)),
    ("gpt-5", (70, 140)),
    ("o1", (75, 150)),
    ("o3", (75, 150)),
)
_DEFAULT_TILE = (85, 170)
_UNKNOWN_SIZE = (1024, 1024)


def image_tokens(model: Model, image: ImageContent) -> int:
    """The tokens one image costs on ``model`` by its vendor's published rule."""
    width, height = image_size(image.data) or _UNKNOWN_SIZE
    vendor = _vendor(model)
    if vendor == "anthropic":
        w, h = _fit(width, height, 1568)
        if w * h > 1_150_000:
            shrink = math.sqrt(1_150_000 / (w * h))
            w, h = w * shrink, h * shrink
        return max(1, _ceil(w * h / 750))
    if vendor == "google":
        if width <= 384 and height <= 384:
            return 258
        return 258 * math.ceil(width / 768) * math.ceil(height / 768)
    if vendor == "openai":
        bare = _bare_id(model)
        for prefix, multiplier in _OPENAI_PATCH_MODELS:
            if bare.startswith(prefix):
                return _openai_patches(width, height, multiplier)
        for prefix, (base, per_tile) in _OPENAI_TILE_MODELS:
            if bare.startswith(prefix):
                return _openai_tiles(width, height, base, per_tile)
    return _openai_tiles(width, height, *_DEFAULT_TILE)


# --------------------------------------------------------------------------- contexts


def _tool_tokens(tools: list[Tool], count: _Counter) -> int:
    if not tools:
        return 0
    total = TOOLS_OVERHEAD
    for tool in tools:
        schema = orjson.dumps({"name": tool.name, "description": tool.description, "parameters": tool.parameters})
        total += TOOL_OVERHEAD + count(schema.decode())
    return total


def _blocks_tokens(model: Model, blocks: list[Any], count: _Counter) -> int:
    total = 0
    for block in blocks:
        if isinstance(block, TextContent):
            total += count(block.text)
        elif isinstance(block, ThinkingContent):
            total += count(block.thinking)
        elif isinstance(block, ToolCall):
            total += count(block.name) + count(orjson.dumps(block.arguments).decode()) + MESSAGE_OVERHEAD
        elif isinstance(block, ServerToolCall):
            # What the model wrote is the input; the result is the provider's (billed as input when replayed).
            total += count(block.name) + count(orjson.dumps(block.input).decode()) + MESSAGE_OVERHEAD
        elif isinstance(block, ImageContent):
            total += image_tokens(model, block)
    return total


def _message_tokens(model: Model, message: Message, count: _Counter) -> int:
    total = MESSAGE_OVERHEAD + 1  # the role is one token in every encoding
    if isinstance(message, UserMessage):
        content = message.content
        total += count(content) if isinstance(content, str) else _blocks_tokens(model, content, count)
    elif isinstance(message, AssistantMessage):
        total += _blocks_tokens(model, message.content, count)
    elif isinstance(message, ToolResultMessage):
        total += count(message.tool_call_id) + _blocks_tokens(model, message.content, count)
    return total


def _as_context(context: Context | str, function: str = "count_tokens") -> Context:
    if isinstance(context, str):
        return Context(messages=[UserMessage(context)])
    if not isinstance(context, Context):
        raise TypeError(f"{function}() context must be an alchemy.Context or a str, got {type(context).__name__}")
    check_context(context)  # it may have changed since it was built
    return context


def _as_model(model: Model | str, function: str = "count_tokens") -> Model:
    if isinstance(model, Model):
        return model
    if not isinstance(model, str):
        raise TypeError(f"{function}() model must be an alchemy.Model or a 'provider/id' str, got {type(model).__name__}")
    from .models import get_model

    return get_model(model)


def count_tokens(model: Model | str, context: Context | str) -> TokenCount:
    """The prompt tokens of ``context`` on ``model`` (a Model or a ``provider/id`` key).

    Counts the system prompt, every message with its framing, tool definitions and
    images (see the module docstring). A plain string counts as one user message.
    """
    resolved = _as_model(model)
    ctx = _as_context(context)
    return _count_prompt(resolved, ctx, _Counter(encoding_name(resolved)))


def _count_prompt(resolved: Model, ctx: Context, count: _Counter) -> TokenCount:
    total = REPLY_PRIMING
    if ctx.system_prompt:
        total += MESSAGE_OVERHEAD + 1 + count(ctx.system_prompt)
    for message in ctx.messages:
        total += _message_tokens(resolved, message, count)
    total += _tool_tokens(ctx.tools or [], count)
    exact = count.available and _is_exact(resolved)
    return TokenCount(total, exact, count.name if count.available else None)


def fits_context(model: Model | str, context: Context | str, max_tokens: int | None = None) -> bool:
    """Whether the prompt plus ``max_tokens`` of output fit the model's context window.

    Also checks the model's separate input limit when it has one. A model whose
    context window is unknown (0) is assumed to fit: there is nothing to check
    against. ``max_tokens=None`` reserves no output.
    """
    need_count("fits_context()", "max_tokens", max_tokens, optional=True)
    resolved = _as_model(model, "fits_context")
    prompt = count_tokens(resolved, _as_context(context, "fits_context")).tokens
    if resolved.max_input_tokens and prompt > resolved.max_input_tokens:
        return False
    if resolved.context_window and prompt + (max_tokens or 0) > resolved.context_window:
        return False
    return True


def estimate_usage(
    model: Model | str, context: Context | str, message: AssistantMessage, *, load_tokenizer: bool = True
) -> Usage:
    """Usage counted locally for a provider that streamed none, marked ``estimated=True``.

    ``input`` is the prompt of ``context``; ``output`` the text, thinking and tool
    calls of ``message`` (``reasoning`` the thinking part); the cost follows from the
    model's prices. Providers assign it to ``message.usage``. ``load_tokenizer=False``
    counts with the byte estimate unless the encoding is already loaded, so a stream that
    is being aborted never waits for tiktoken's first load.
    """
    from .models import calculate_cost

    resolved = _as_model(model)
    count = _Counter(encoding_name(resolved), load=load_tokenizer)
    prompt = _count_prompt(resolved, _as_context(context), count).tokens
    reasoning = sum(count(b.thinking) for b in message.content if isinstance(b, ThinkingContent))
    output = _blocks_tokens(resolved, message.content, count)
    usage = Usage(input=prompt, output=output, total_tokens=prompt + output, reasoning=reasoning, estimated=True)
    usage.cost = calculate_cost(resolved, usage)
    return usage
