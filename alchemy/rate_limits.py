"""The provider's rate-limit headers, read into one small value: ``message.metrics.rate_limit``.

Every response (a success or a 429) may say how much of the caller's budget is
left. Providers spell it in a few dialects, all read here and nowhere else:

* OpenAI, Groq, Mistral, xAI and most OpenAI-compatible servers:
  ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``, resets as durations
  (``"6m0s"``, ``"1s"``, ``"12ms"``, ``"2m59.56s"``);
* Anthropic: ``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}``, resets
  as RFC 3339 times;
* Cerebras: ``x-ratelimit-*-requests-day`` and ``x-ratelimit-*-tokens-minute``, resets
  in seconds;
* OpenRouter and generic servers: ``x-ratelimit-{limit,remaining,reset}`` (requests),
  resets as epoch seconds or milliseconds, or seconds to wait;
* ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date), read by
  :func:`alchemy.transport.retry_after_seconds`, the one parser of that header.

Resets are given as seconds from when the headers arrived, whatever the dialect.
Gemini and Bedrock send no rate-limit headers; their messages have ``rate_limit``
``None`` unless a ``retry-after`` came. Every header whose name mentions a rate
limit is also kept verbatim in :attr:`RateLimit.headers` (Anthropic's input/output
token budgets, for instance).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

__all__ = ["RateLimit", "parse_rate_limit"]

Family = tuple[str, str, str]
"""The (limit, remaining, reset) header names of one budget in one dialect."""

REQUEST_FAMILIES: Final[tuple[Family, ...]] = (
    ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    (
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    ("x-ratelimit-limit-requests-day", "x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day"),
    ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),
)
"""Where the request budget is read, the first family present winning."""

TOKEN_FAMILIES: Final[tuple[Family, ...]] = (
    ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
    ("x-ratelimit-limit-tokens-minute", "x-ratelimit-remaining-tokens-minute", "x-ratelimit-reset-tokens-minute"),
)
"""Where the token budget is read, the first family present winning."""

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNIT_SECONDS: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_EPOCH_MS: Final = 1e12
_EPOCH_S: Final = 1e9


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What the last response's headers said about the caller's rate limits.

    ``*_limit`` is the budget of the current window, ``*_remaining`` what is left of
    it, ``*_reset`` the seconds until it is refilled (from when the headers arrived);
    ``retry_after`` the wait the server asked for, in seconds. ``None`` where the
    provider did not say. ``headers`` holds every rate-limit header as sent.
    """

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset: float | None = None
    retry_after: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requestsLimit": self.requests_limit,
            "requestsRemaining": self.requests_remaining,
            "requestsReset": self.requests_reset,
            "tokensLimit": self.tokens_limit,
            "tokensRemaining": self.tokens_remaining,
            "tokensReset": self.tokens_reset,
            "retryAfter": self.retry_after,
            "headers": dict(self.headers),
        }


def parse_rate_limit(headers: Mapping[str, str], *, now: float | None = None) -> RateLimit | None:
    """The rate limits ``headers`` report, or ``None`` when they report none.

    ``now`` (Unix seconds, default the current time) is when the headers arrived:
    absolute reset times are turned into seconds from then.
    """
    from .transport import retry_after_seconds

    current = time.time() if now is None else now
    lowered = {name.lower(): value for name, value in headers.items()}
    kept = {name: value for name, value in lowered.items() if "ratelimit" in name}
    retry_after = retry_after_seconds(lowered, now=current)
    if not kept and retry_after is None:
        return None
    requests = _budget(lowered, REQUEST_FAMILIES, current)
    tokens = _budget(lowered, TOKEN_FAMILIES, current)
    return RateLimit(
        requests_limit=requests[0],
        requests_remaining=requests[1],
        requests_reset=requests[2],
        tokens_limit=tokens[0],
        tokens_remaining=tokens[1],
        tokens_reset=tokens[2],
        retry_after=retry_after,
        headers=kept,
    )


def _budget(
    headers: Mapping[str, str], families: tuple[Family, ...], now: float
) -> tuple[int | None, int | None, float | None]:
    for limit, remaining, reset in families:
        if limit in headers or remaining in headers or reset in headers:
            return _count(headers.get(limit)), _count(headers.get(remaining)), _reset(headers.get(reset), now)
    return None, None, None


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return int(number) if number >= 0 and number == number and number != float("inf") else None


def _reset(value: str | None, now: float) -> float | None:
    """Seconds until a budget resets, from a duration, a number or a date (never negative)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return _reset_from_text(text, now)
    if number != number or number < 0 or number == float("inf"):
        return None
    if number >= _EPOCH_MS:
        return max(0.0, number / 1000.0 - now)
    if number >= _EPOCH_S:
        return max(0.0, number - now)
    return number


def _reset_from_text(text: str, now: float) -> float | None:
    parts = _DURATION.findall(text)
    if parts and "".join(amount + unit for amount, unit in parts) == text:
        return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)
    when = _date(text)
    return None if when is None else max(0.0, when - now)


def _date(text: str) -> float | None:
    """An RFC 3339 time (``2025-08-21T12:40:59Z``) or an HTTP date, as Unix seconds."""
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
