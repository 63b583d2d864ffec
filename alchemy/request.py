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
never be shown: :func:`redact` removes them from text, and the repr of a request
hides them and every header that usually carries one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = ["Auth", "HttpRequest", "is_secret_header", "redact"]

REDACTED = "<redacted>"

SECRET_HEADER_NAMES = frozenset(
    {"authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization", "cookie", "x-amz-security-token"}
)
"""Headers whose value is hidden in a repr whatever it holds."""

_MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted from text: they would blank out ordinary words."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (API keys, tokens) replaced by ``<redacted>``."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def is_secret_header(name: str, value: str, secrets: Iterable[str] = ()) -> bool:
    """Whether a header must be hidden: a credential header, or a value holding a secret."""
    return name.lower() in SECRET_HEADER_NAMES or any(secret and secret in value for secret in secrets)


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
