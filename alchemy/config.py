"""Every environment variable alchemy defines for itself, declared once and parsed here.

Each variable is one :class:`Setting` below (name, Python type, default, accepted
values, a one-line doc and its parser); :data:`SETTINGS` lists them all, and the
README's table is rendered from it (``python -m alchemy.config --markdown``).
Provider keys and endpoints (``OPENAI_API_KEY``, ``AWS_REGION``, ...) are not here:
they belong to the providers and the model registry.

**When they are read.** :meth:`Setting.read` looks at ``os.environ`` (or the ``env``
mapping given) at the moment it is called and caches nothing, so a changed
environment takes effect on the next call. Most settings are read by every stream
call that needs them, when it builds its request (timeouts, pool limits, base URL,
cache retention, logging, Bedrock auth), and the cache directory whenever the model
registry looks for its cache. The tiktoken settings are read when an encoding is
first loaded (the encoding is then kept for the process). ``ALCHEMY_PURE_PYTHON`` is
read once, at import, to pick the compiled or pure kernels: :mod:`alchemy._speedups`
parses it itself before anything else is imported; it is declared here for the
table (``read_at="import"``) and a test keeps both in step.

An empty or blank value means unset. An invalid value raises :class:`ValueError`
naming the variable, what it accepts and what was found (the value is left out for
the URL settings, which may carry credentials).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Generic, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from .types import CacheRetention

__all__ = [
    "BASE_URL_OVERRIDE",
    "BEDROCK_SKIP_AUTH",
    "CACHE_DIR",
    "CACHE_RETENTION",
    "CONNECT_TIMEOUT",
    "LEDGER",
    "LOG",
    "LOG_LEVELS",
    "MAX_CONNECTIONS",
    "MAX_KEEPALIVE_CONNECTIONS",
    "PURE_PYTHON",
    "PURE_PYTHON_OFF",
    "SETTINGS",
    "SWITCH_OFF",
    "SWITCH_ON",
    "Setting",
    "TIKTOKEN_DOWNLOAD",
    "TIKTOKEN_MIRROR",
    "TIMEOUT",
    "main",
    "markdown_table",
    "setting",
]

T_co = TypeVar("T_co", covariant=True)
C = TypeVar("C", bound=str)


@dataclass(frozen=True)
class Setting(Generic[T_co]):
    """One environment variable: what it holds, what it accepts, and how it is parsed."""

    name: str
    python_type: str
    """The type :meth:`read` returns, as written in annotations."""
    default: T_co
    """What :meth:`read` returns when the variable is unset or blank."""
    accepted: str
    """The accepted values in words; completes "NAME must be ..." in errors."""
    doc: str
    parse: Callable[[str], T_co]
    """Turns the stripped, non-empty text into the value; raises ValueError if it does not fit."""
    default_text: str = ""
    """The default as the README shows it, when ``str(default)`` would not say it well."""
    read_at: Literal["call", "client", "first use", "import"] = "call"
    """When it is read: by every call that needs it, when the object that uses it is made (a
    pooled HTTP client, a ``Client``), once per process when first needed, or at import."""
    secret: bool = False
    """The value may carry credentials: errors never repeat it."""

    def read(self, env: Mapping[str, str] | None = None) -> T_co:
        """The value in ``env`` (default: ``os.environ``) right now, else the default."""
        raw = (os.environ if env is None else env).get(self.name, "").strip()
        if not raw:
            return self.default
        try:
            return self.parse(raw)
        except ValueError:
            found = "a value that does not fit (not shown: it may hold credentials)" if self.secret else repr(raw)
            raise ValueError(f"{self.name} must be {self.accepted}; found {found}") from None

    @property
    def shown_default(self) -> str:
        """The default for the README table."""
        if self.default_text:
            return self.default_text
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)


# --------------------------------------------------------------------------- parsers


def _words(values: Sequence[str]) -> str:
    """``("a", "b", "c")`` -> ``"a, b or c"``."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _positive_seconds(raw: str) -> float:
    value = float(raw)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(raw)
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _http_url(raw: str) -> str:
    """An http(s) URL with a host, without its trailing slashes."""
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return raw.rstrip("/")


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _one_of(choices: tuple[C, ...]) -> Callable[[str], C]:
    """A parser accepting exactly ``choices``, in any case."""

    def parse(raw: str) -> C:
        lowered = raw.lower()
        for choice in choices:
            if lowered == choice:
                return choice
        raise ValueError(raw)

    return parse


def _flag(on: tuple[str, ...], off: tuple[str, ...]) -> Callable[[str], bool]:
    """A parser for a switch: any spelling in ``on`` or ``off``, in any case."""
    spelling = _one_of(on + off)

    def parse(raw: str) -> bool:
        return spelling(raw) in on

    return parse


def _flag_accepts(on: tuple[str, ...], off: tuple[str, ...]) -> str:
    return f"{_words(on)} (on), or {_words(off)} (off)"


SWITCH_ON: Final = ("1", "true", "yes")
SWITCH_OFF: Final = ("0", "false", "no")
PURE_PYTHON_OFF: Final = ("0",)
"""``_speedups`` takes only ``0`` (or empty) as off; anything else it warns about."""
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
_CACHE_RETENTIONS: Final[tuple[CacheRetention, ...]] = get_args(CacheRetention)


# --------------------------------------------------------------------------- the settings

TIMEOUT: Final = Setting[float](
    "ALCHEMY_TIMEOUT",
    "float",
    600.0,
    "a positive number of seconds",
    "Time to first byte and longest silence between chunks, unless the call passes timeout=.",
    _positive_seconds,
)
CONNECT_TIMEOUT: Final = Setting[float](
    "ALCHEMY_CONNECT_TIMEOUT",
    "float",
    5.0,
    "a positive number of seconds",
    "Time allowed to open a connection, unless the call passes connect_timeout=.",
    _positive_seconds,
)
MAX_CONNECTIONS: Final = Setting[int](
    "ALCHEMY_MAX_CONNECTIONS",
    "int",
    100,
    "a positive whole number",
    "Connections one pooled HTTP client may open at once; "
    "requests beyond it wait in order, up to the overall timeout.",
    _positive_int,
    read_at="client",
)
MAX_KEEPALIVE_CONNECTIONS: Final = Setting[int](
    "ALCHEMY_MAX_KEEPALIVE_CONNECTIONS",
    "int",
    20,
    "a positive whole number",
    "Idle connections one pooled HTTP client keeps for reuse.",
    _positive_int,
    read_at="client",
)
BASE_URL_OVERRIDE: Final = Setting[str | None](
    "ALCHEMY_BASE_URL_OVERRIDE",
    "str | None",
    None,
    "an http:// or https:// URL",
    "Sends every provider's requests to this base URL (tests, proxies).",
    _http_url,
    default_text="unset (each model's own URL)",
    secret=True,
)
LOG: Final = Setting[str | None](
    "ALCHEMY_LOG",
    "str | None",
    None,
    _words(LOG_LEVELS),
    "Adds one stderr handler at this level to the `alchemy` logger (no secrets are ever logged).",
    _one_of(LOG_LEVELS),
    default_text="unset (logging left alone)",
)
CACHE_RETENTION: Final = Setting[CacheRetention](
    "ALCHEMY_CACHE_RETENTION",
    "CacheRetention",
    "short",
    _words(_CACHE_RETENTIONS),
    "Prompt caching for calls that do not pass cache_retention=.",
    _one_of(_CACHE_RETENTIONS),
)
CACHE_DIR: Final = Setting[Path | None](
    "ALCHEMY_CACHE_DIR",
    "Path | None",
    None,
    "a directory path (`~` is expanded)",
    "Where refresh_models() saves the model registry, and where it is loaded from.",
    _path,
    default_text="`$XDG_CACHE_HOME/alchemy`, else the platform's cache directory",
)
TIKTOKEN_DOWNLOAD: Final = Setting[bool | None](
    "ALCHEMY_TIKTOKEN_DOWNLOAD",
    "bool | None",
    None,
    _flag_accepts(SWITCH_ON, SWITCH_OFF),
    "Whether a missing tiktoken encoding file may be downloaded.",
    _flag(SWITCH_ON, SWITCH_OFF),
    default_text="only when `TIKTOKEN_CACHE_DIR` is not set",
    read_at="first use",
)
TIKTOKEN_MIRROR: Final = Setting[str | None](
    "ALCHEMY_TIKTOKEN_MIRROR",
    "str | None",
    None,
    "an http:// or https:// URL",
    "Base URL serving the same `<encoding>.tiktoken` files (hash-checked all the same).",
    _http_url,
    default_text="unset (OpenAI's public files)",
    read_at="first use",
    secret=True,
)
LEDGER: Final = Setting[Path | None](
    "ALCHEMY_LEDGER",
    "Path | None",
    None,
    "a file path (`~` is expanded)",
    "Records every Client call's usage (metadata only) in this SQLite file, for a Client made "
    "without ledger=; `alchemy usage` reads it.",
    _path,
    default_text="unset (no ledger)",
    read_at="client",
)
BEDROCK_SKIP_AUTH: Final = Setting[bool](
    "AWS_BEDROCK_SKIP_AUTH",
    "bool",
    False,
    _flag_accepts(SWITCH_ON, SWITCH_OFF),
    "Sends Bedrock requests unauthenticated, for proxies that add their own auth.",
    _flag(SWITCH_ON, SWITCH_OFF),
)
PURE_PYTHON: Final = Setting[bool](
    "ALCHEMY_PURE_PYTHON",
    "bool",
    False,
    _flag_accepts(SWITCH_ON, PURE_PYTHON_OFF),
    "Forces the pure-Python kernels (any other value is ignored with a warning).",
    _flag(SWITCH_ON, PURE_PYTHON_OFF),
    read_at="import",
)

SETTINGS: Final[tuple[Setting[object], ...]] = (
    TIMEOUT,
    CONNECT_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_KEEPALIVE_CONNECTIONS,
    BASE_URL_OVERRIDE,
    LOG,
    CACHE_RETENTION,
    CACHE_DIR,
    LEDGER,
    TIKTOKEN_DOWNLOAD,
    TIKTOKEN_MIRROR,
    BEDROCK_SKIP_AUTH,
    PURE_PYTHON,
)
"""Every environment variable alchemy itself defines, in the README's order."""

_BY_NAME: Final = {entry.name: entry for entry in SETTINGS}


def setting(name: str) -> Setting[object]:
    """The declaration of one variable by its name; ValueError lists the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"no setting is named {name!r}; known: {', '.join(_BY_NAME)}") from None


# --------------------------------------------------------------------------- docs and command line

_READ_AT_TEXT: Final = {
    "call": "each call",
    "client": "when the client is made",
    "first use": "first use (then kept)",
    "import": "once, at import",
}


def markdown_table() -> str:
    """The README's table of environment variables, one row per declared setting."""
    rows = [
        "| Variable | Accepts | Default | Read | What it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in SETTINGS:
        rows.append(
            f"| `{entry.name}` | {entry.accepted} | {entry.shown_default} | "
            f"{_READ_AT_TEXT[entry.read_at]} | {entry.doc} |"
        )
    return "\n".join(rows) + "\n"


def _current_values(env: Mapping[str, str]) -> str:
    """One line per setting with its value in ``env`` (secret ones only say whether they are set)."""
    lines = []
    for entry in SETTINGS:
        value = entry.read(env)
        shown = ("set" if value is not None else "unset") if entry.secret else repr(value)
        lines.append(f"{entry.name} = {shown}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """``python -m alchemy.config``: the values in effect; ``--markdown``: the README table."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--markdown"]:
        sys.stdout.write(markdown_table())
        return 0
    if args:
        sys.stderr.write("usage: python -m alchemy.config [--markdown]\n")
        return 2
    try:
        sys.stdout.write(_current_values(os.environ if env is None else env))
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
