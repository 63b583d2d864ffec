"""A request as a provider describes it, and the authentication step applied to it. No I/O.

Providers build an :class:`HttpRequest` (method, URL, headers, body); the runner in
:mod:`alchemy.providers._runner` sends it. Both depend on this module and neither on
the other, and nothing here touches the network.

**Authentication step.** Some credentials cannot be written into the request when
it is built: AWS SigV4 signs the exact body bytes (which ``on_payload`` may still
replace) and the time of sending, and a Google access token may expire between two
attempts. A provider attaches an :class:`Auth` to its request instead. The runner
encodes the body, runs ``on_payload``, and then, once per attempt, passes that
encoded request to the auth and sends what comes back; a retry is therefore signed
anew or sent with a refreshed token, while the credentials themselves are looked up
once, when the provider builds the request. The sync runner calls
:meth:`Auth.apply`; the async runner awaits :meth:`Auth.aapply`, which moves any
blocking work (a token refresh) off the event loop. This is the shape of httpx's
auth flows, reduced to the one step alchemy needs.

**Secrets.** ``secrets`` lists the values (API keys, tokens, signing keys) that must
never be shown, and the repr of a request hides them and every header that usually
carries one. :class:`Secrets` is the one redactor: a stream collects in one every
key in play (the ``api_key`` option, the provider's key variables, credential
headers of the model, ``headers=`` and ``extra_headers=``, what the provider and its
auth step add), and every string that can surface -- error text, the ``error``
event, log lines -- passes through it. It hides any run of :data:`WINDOW` or more
characters of a secret, so a key echoed in part (``sk-proj-abc1...``), with a
trailing newline, or cut by the provider is hidden too. While a stream is pumped its
redactor is :data:`ACTIVE_SECRETS`, and a filter on alchemy's loggers rewrites every
record with it, so nothing a parser logs from the wire reaches a handler unredacted.
:func:`clean_key` strips a key of surrounding whitespace and refuses one with control
characters inside.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = [
    "ACTIVE_SECRETS",
    "LOGGERS",
    "REDACTED",
    "REDACT_RECORDS",
    "WINDOW",
    "Auth",
    "HttpRequest",
    "Secrets",
    "clean_key",
    "is_secret_header",
    "is_secret_header_name",
    "redact",
]

REDACTED = "<redacted>"

SECRET_HEADER_NAMES = frozenset(
    {"authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization", "cookie", "x-amz-security-token"}
)
"""Headers whose value is hidden in a repr whatever it holds."""

_SECRET_NAME_WORDS = re.compile("key|token|secret|auth|cookie|password|signature|credential", re.IGNORECASE)
"""A header whose name holds one of these words (``X-Portkey-Api-Key``) is taken to carry a credential."""

_MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted from text: they would blank out ordinary words."""

WINDOW = 8
"""Any run of this many characters of a secret is hidden wherever it appears."""


def clean_key(value: str, source: str) -> str:
    """``value`` without surrounding whitespace; ``ValueError`` naming ``source`` (never the
    value) when a control character is left inside it.

    A pasted key often ends in a newline; inside a key a control character can only be
    a mistake, and sent in a header it would make the HTTP library quote the key back.
    """
    stripped = value.strip()
    for position, char in enumerate(stripped):
        if char < " " or "\x7f" <= char <= "\x9f":
            raise ValueError(
                f"{source} holds a control character ({ord(char):#04x}) at position {position}, which no key "
                "or header value may contain; check how it was pasted (the value is not shown)"
            )
    return stripped


def is_secret_header_name(name: str) -> bool:
    """Whether a header of this name carries a credential (by name, whatever its value)."""
    return _SECRET_NAME_WORDS.search(name) is not None or name.lower() in SECRET_HEADER_NAMES


def _credential(value: str) -> str:
    """The secret part of a credential header's value: the whole value, or the token of
    ``Bearer <token>``; nothing for a structured value (a SigV4 ``Credential=..., Signature=...``:
    its secrets come from the auth step, and its region and dates are no secret)."""
    value = value.strip()
    scheme, space, rest = value.partition(" ")
    if not space:
        return value
    rest = rest.strip()
    return rest if scheme.isalpha() and rest and " " not in rest and "," not in rest else ""


class Secrets:
    """The secret values in play for one call, and the one redactor for them (see the module docstring).

    :meth:`add` takes keys as given (surrounding whitespace is dropped); :meth:`redact`
    replaces every run of :data:`WINDOW` or more characters of any of them, and every
    whole occurrence of a shorter one, with ``<redacted>``. Redaction runs on error and
    log text only, never per chunk; what it needs is built then, so collecting the keys
    of a call costs next to nothing.
    """

    __slots__ = ("_values", "_grams")

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._values: dict[str, None] = {}
        self._grams: set[str] | None = None  # every WINDOW-long run of every secret, built on first use
        self.add(*values)

    def add(self, *values: str | None) -> None:
        """Adds secrets (``None``, empty and very short values are ignored)."""
        for value in values:
            if not isinstance(value, str):
                continue
            value = value.strip()
            if len(value) < _MIN_SECRET_LENGTH or value in self._values:
                continue
            self._values[value] = None
            self._grams = None

    def add_headers(self, *layers: Mapping[str, str] | None) -> None:
        """Adds the credentials in the values of credential headers (by name) of each layer."""
        for layer in layers:
            if layer:
                self.add(*(_credential(v) for n, v in layer.items() if is_secret_header_name(n)))

    def add_environment(self, names: Iterable[str], env: Mapping[str, str] | None = None) -> None:
        """Adds the values of the environment variables ``names`` (read now)."""
        environ = os.environ if env is None else env
        self.add(*(environ.get(name) for name in names))

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __repr__(self) -> str:
        return f"<Secrets: {len(self._values)} values>"

    def redact(self, text: str) -> str:
        """``text`` with every secret, whole or in part, replaced by ``<redacted>``."""
        if not self._values or not text:
            return text
        text = self._redact_runs(text)
        for value in self._values:
            if len(value) < WINDOW and value in text:
                text = text.replace(value, REDACTED)
        return text

    def _redact_runs(self, text: str) -> str:
        """Replaces every stretch of ``text`` covered by windows of a secret."""
        grams = self._grams
        if grams is None:
            grams = self._grams = {v[i : i + WINDOW] for v in self._values for i in range(len(v) - WINDOW + 1)}
        if not grams or len(text) < WINDOW:
            return text
        spans: list[list[int]] = []
        for start in range(len(text) - WINDOW + 1):
            if text[start : start + WINDOW] in grams:
                if spans and start <= spans[-1][1]:
                    spans[-1][1] = start + WINDOW
                else:
                    spans.append([start, start + WINDOW])
        if not spans:
            return text
        pieces: list[str] = []
        shown = 0
        for start, end in spans:
            pieces += (text[shown:start], REDACTED)
            shown = end
        pieces.append(text[shown:])
        return "".join(pieces)


ACTIVE_SECRETS: ContextVar[Secrets | None] = ContextVar("alchemy_active_secrets", default=None)
"""The redactor of the stream being pumped (set around every pump by :mod:`alchemy.streaming`)."""

LOGGERS = ("alchemy", "alchemy.providers.responses", "alchemy.accounting")
"""alchemy's loggers: each redacts its records with :data:`ACTIVE_SECRETS` (a test keeps the list whole)."""


class _RedactRecords(logging.Filter):
    """Rewrites a record, while a stream is pumped, with its message and traceback redacted.

    A logger's filters run before any handler sees the record, so what a parser or the
    runner logs (an event name, a stop reason, a retry reason) reaches no handler with a key.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = ACTIVE_SECRETS.get()
        if secrets:
            record.msg = secrets.redact(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = secrets.redact(logging.Formatter().formatException(record.exc_info))
        return True


REDACT_RECORDS = _RedactRecords()
for _name in LOGGERS:
    logging.getLogger(_name).addFilter(REDACT_RECORDS)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (API keys, tokens) replaced by ``<redacted>`` (see :class:`Secrets`)."""
    redactor = secrets if isinstance(secrets, Secrets) else Secrets(secrets)
    return redactor.redact(text)


def is_secret_header(name: str, value: str, secrets: Iterable[str] = ()) -> bool:
    """Whether a header must be hidden: a credential header, or a value holding a secret."""
    return is_secret_header_name(name) or any(secret and secret in value for secret in secrets)


class Auth(Protocol):
    """Authenticates one attempt of a request (see the module docstring).

    Both methods get the request as it will be sent (``body`` is the encoded bytes)
    and return a copy with the credentials added, their secret values appended to
    ``secrets`` and ``auth`` cleared; they must not change the request they are given,
    which the runner keeps for the next attempt. A failure raises: a
    :class:`~alchemy.errors.ProviderError` (``retryable`` when worth another attempt)
    ends the stream as an ``error`` event like any other provider failure.
    """

    def apply(self, request: HttpRequest) -> HttpRequest:
        """The authenticated copy; may block (sync streams)."""
        ...

    async def aapply(self, request: HttpRequest) -> HttpRequest:
        """The authenticated copy, without blocking the running event loop (async streams)."""
        ...


@dataclass(slots=True)
class HttpRequest:
    """What a provider wants sent. ``secrets`` are redacted from anything shown; ``auth``,
    when set, is applied by the runner to every attempt (see the module docstring)."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any = None
    secrets: tuple[str, ...] = field(default=(), repr=False)
    auth: Auth | None = field(default=None, repr=False, compare=False)

    def encoded_body(self) -> bytes | None:
        """The body as bytes (JSON-encoded unless it already is bytes); ``None`` without one."""
        if self.body is None:
            return None
        if isinstance(self.body, (bytes, bytearray)):
            return bytes(self.body)
        return orjson.dumps(self.body)

    def with_credentials(self, headers: Mapping[str, str], secrets: Iterable[str] = ()) -> HttpRequest:
        """An applied copy: ``headers`` set (replacing any of the same name, in any case),
        ``secrets`` added, no auth left to apply. What an :class:`Auth` returns."""
        replaced = {name.lower() for name in headers}
        merged = {name: value for name, value in self.headers.items() if name.lower() not in replaced}
        merged.update(headers)
        known = tuple(dict.fromkeys((*self.secrets, *(secret for secret in secrets if secret))))
        return dataclasses.replace(self, headers=merged, secrets=known, auth=None)

    def __repr__(self) -> str:
        shown = {
            name: (REDACTED if is_secret_header(name, value, self.secrets) else value)
            for name, value in self.headers.items()
        }
        return f"HttpRequest(method={self.method!r}, url={redact(self.url, self.secrets)!r}, headers={shown!r})"
