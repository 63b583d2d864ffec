"""Context JSON holding lone surrogates, written and read the way pi-ai (JavaScript) does.

A JavaScript string is UTF-16 and may hold a surrogate without its partner (text cut
in the middle of an emoji). ``JSON.stringify`` writes such a surrogate as a
lowercase escape (``"\\ud83d"``) and ``JSON.parse`` reads the escape back, so pi-ai
sessions can contain them. In Python the same character is a lone code point in
U+D800..U+DFFF, which orjson refuses in both directions. :meth:`Context.to_json
<alchemy.types.Context.to_json>` and :meth:`~alchemy.types.Context.from_json` use
orjson and come here only when it refuses, so ordinary contexts pay nothing:

* :func:`dumps_like_javascript` writes what ``JSON.stringify`` writes: a lone
  surrogate as its escape, a high surrogate followed by a low one as the character
  the pair stands for, everything else as orjson does (non-ASCII raw, control
  characters escaped);
* :func:`loads_like_javascript` reads the escapes as ``JSON.parse`` does, keeping a
  lone surrogate as a lone code point (requests built from the context drop it, see
  :mod:`alchemy.sanitize`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["NOT_JSON", "dumps_like_javascript", "loads_like_javascript"]

NOT_JSON: Final[Any] = object()
"""What :func:`loads_like_javascript` returns for text it cannot read either."""

_PAIR_OR_LONE: Final = re.compile("([\ud800-\udbff])([\udc00-\udfff])|[\ud800-\udfff]")


def _as_javascript_writes(match: re.Match[str]) -> str:
    high, low = match.group(1), match.group(2)
    if high is None:
        return f"\\u{ord(match.group()):04x}"
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def dumps_like_javascript(value: Any, *, indent: bool) -> bytes | None:
    """``value`` as UTF-8 JSON, lone surrogates escaped as ``JSON.stringify`` does; ``None``
    when it cannot be written as JSON at all (the caller then reports orjson's error)."""
    try:
        text = json.dumps(
            value,
            ensure_ascii=False,
            allow_nan=False,
            indent=2 if indent else None,
            separators=None if indent else (",", ":"),
        )
    except (TypeError, ValueError, RecursionError):
        return None
    # Surrogates only occur inside strings in json.dumps' output, so each becomes an escape there.
    return _PAIR_OR_LONE.sub(_as_javascript_writes, text).encode("utf-8")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_like_javascript(data: str | bytes | bytearray | memoryview) -> Any:
    """Parses JSON as ``JSON.parse`` does, lone surrogate escapes included; :data:`NOT_JSON`
    when the text is not JSON (``NaN`` and ``Infinity`` are not)."""
    text = data if isinstance(data, str) else bytes(data)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return NOT_JSON
