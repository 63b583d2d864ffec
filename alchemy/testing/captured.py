"""The requests the replay server received, kept for tests to assert on.

Header values and query parameters that carry credentials (``authorization``,
``x-api-key``, ``api-key``, ``x-goog-api-key``, any header whose name says key,
token, secret or auth -- :func:`alchemy.request.is_secret_header_name` --, Gemini's
``?key=``, AWS session tokens and signatures, ...) are stored as sent -- a test may check that the right
key was used -- but never shown: every ``repr`` and ``str`` redacts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from ..request import is_secret_header_name

__all__ = ["REDACTED", "Headers", "RecordedRequest", "redact_query"]

REDACTED = "[redacted]"

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "x-amz-security-token",
    }
)
SENSITIVE_QUERY_PARAMETERS = frozenset(
    {"key", "api_key", "api-key", "access_token", "x-amz-security-token", "x-amz-signature", "x-amz-credential"}
)


def _redacted_header(name: str, value: str) -> str:
    if name.lower() not in SENSITIVE_HEADERS and not is_secret_header_name(name):
        return value
    if name.lower() in ("authorization", "proxy-authorization"):
        # Keep the scheme ("Bearer", "AWS4-HMAC-SHA256") visible: it helps debugging and is no secret.
        scheme, space, _ = value.partition(" ")
        if space and scheme.replace("-", "").isalnum():
            return f"{scheme} {REDACTED}"
    return REDACTED


def redact_query(query: str) -> str:
    """A raw query string with credential parameters' values replaced by ``[redacted]``."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and name.lower() in SENSITIVE_QUERY_PARAMETERS else part)
    return "&".join(parts)


class Headers(Mapping[str, str]):
    """Request headers: case-insensitive lookups, repeated headers joined by ``", "``.

    ``raw`` keeps every header in order as received. The ``repr`` redacts credentials.
    """

    __slots__ = ("_joined", "raw")

    def __init__(self, raw: Iterable[tuple[str, str]]) -> None:
        self.raw: tuple[tuple[str, str], ...] = tuple((name.lower(), value) for name, value in raw)
        joined: dict[str, str] = {}
        for name, value in self.raw:
            joined[name] = f"{joined[name]}, {value}" if name in joined else value
        self._joined = joined

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, in order (empty when absent)."""
        wanted = name.lower()
        return [value for header, value in self.raw if header == wanted]

    def redacted(self) -> dict[str, str]:
        """The headers with credential values replaced, safe to print or log."""
        return {name: _redacted_header(name, value) for name, value in self._joined.items()}

    def __repr__(self) -> str:
        return f"Headers({self.redacted()!r})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class RecordedRequest:
    """One request as the server received it.

    ``api`` and ``model`` come from the route (``None`` for unknown paths); ``model``
    falls back to the ``model`` field of a JSON body. ``json`` is the parsed body, or
    ``None`` when the body is empty or not JSON. ``replay`` names the recording (or
    error) served.
    """

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    json: Any = None
    api: str | None = None
    model: str | None = None
    replay: str | None = None
    index: int = field(default=0)

    @classmethod
    def from_wire(
        cls,
        *,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        index: int,
        api: str | None,
        path_model: str | None,
        replay: str | None,
    ) -> RecordedRequest:
        path, _, query = target.partition("?")
        parsed: Any = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = None
        model = path_model
        if model is None and isinstance(parsed, dict) and isinstance(parsed.get("model"), str):
            model = parsed["model"]
        return cls(
            method=method,
            path=path,
            query=query,
            headers=Headers(headers),
            body=body,
            json=parsed,
            api=api,
            model=model,
            replay=replay,
            index=index,
        )

    @property
    def query_params(self) -> dict[str, list[str]]:
        """The query string parsed (values are lists, as ``urllib.parse.parse_qs`` gives)."""
        return parse_qs(self.query, keep_blank_values=True)

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def __repr__(self) -> str:
        target = f"{self.path}?{redact_query(self.query)}" if self.query else self.path
        return (
            f"RecordedRequest(#{self.index} {self.method} {target}, api={self.api!r}, model={self.model!r}, "
            f"replay={self.replay!r}, headers={self.headers!r}, body={len(self.body)} bytes)"
        )

    __str__ = __repr__
