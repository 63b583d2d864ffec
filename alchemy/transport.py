"""The HTTP layer every provider shares: clients, timeouts, retries and error text.

Providers are sans-I/O: they describe a request as an :class:`~alchemy.request.HttpRequest` and turn
response bytes into events. This module holds what touches the network for them:

* pooled httpx clients, cached per (base URL, hash of the key, sync/async — and
  the event loop for async clients, which cannot be shared across loops), each with
  an admission queue as wide as its pool (:mod:`alchemy._pool`): requests beyond
  ``ALCHEMY_MAX_CONNECTIONS`` wait there, in order, within their overall timeout;
* settings from options and the environment (``ALCHEMY_TIMEOUT``,
  ``ALCHEMY_CONNECT_TIMEOUT``, the pool limits, ``ALCHEMY_BASE_URL_OVERRIDE``,
  ``ALCHEMY_LOG``: declared and parsed in :mod:`alchemy.config`);
* three stream timeouts: connect, time to first byte (until the response headers
  arrive) and the longest silence between body chunks;
* the retry policy (exponential backoff with full jitter, ``retry-after-ms`` and
  ``retry-after`` honoured up to ``max_retry_delay``);
* error text from an HTTP error body, with the request id, and redaction of secrets.

httpx is imported on first use, never at ``import alchemy``.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from . import config
from .options import OPTIONS_BY_NAME
from .request import redact

if TYPE_CHECKING:
    import asyncio  # imported by get_async_pool, so the sync path never loads it

    import httpx

    from ._pool import AsyncAdmission, SyncAdmission

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_DELAY",
    "DEFAULT_TIMEOUT",
    "ErrorBody",
    "RetryDecision",
    "AsyncPool",
    "SyncPool",
    "TransportSettings",
    "backoff_delay",
    "base_url_override",
    "clear_client_cache",
    "configure_logging_from_env",
    "get_async_client",
    "get_async_pool",
    "get_sync_client",
    "get_sync_pool",
    "http_error_message",
    "is_retryable_status",
    "logger",
    "read_error_body",
    "request_id",
    "retry_after_seconds",
    "retry_decision",
]

logger = logging.getLogger("alchemy")

DEFAULT_TIMEOUT = config.TIMEOUT.default
DEFAULT_CONNECT_TIMEOUT = config.CONNECT_TIMEOUT.default
DEFAULT_MAX_RETRIES: int = OPTIONS_BY_NAME["max_retries"].default
DEFAULT_MAX_RETRY_DELAY: float = OPTIONS_BY_NAME["max_retry_delay"].default
DEFAULT_MAX_CONNECTIONS = config.MAX_CONNECTIONS.default
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = config.MAX_KEEPALIVE_CONNECTIONS.default
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0

# 408 timeout, 409 lock conflict, 429 rate limit, 5xx (529 is Anthropic's "overloaded").
_RETRYABLE_STATUS = frozenset({408, 409, 429})

REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-goog-request-id",
    "apim-request-id",
    "cf-ray",
)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """Timeouts (seconds), retry limits and pool limits for one request.

    ``first_byte_timeout`` bounds the wait for the response headers;
    ``idle_timeout`` bounds every silence between body chunks (the first included),
    so a stalled stream ends instead of hanging. Both default to ``timeout``, and so
    does ``pool_timeout``, the wait for a free connection when every connection of
    the pool (``max_connections``) is in use.
    """

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    first_byte_timeout: float = DEFAULT_TIMEOUT
    idle_timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_delay: float = DEFAULT_MAX_RETRY_DELAY
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_keepalive_connections: int = DEFAULT_MAX_KEEPALIVE_CONNECTIONS
    pool_timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def resolve(
        cls,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        first_byte_timeout: float | None = None,
        idle_timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_delay: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> TransportSettings:
        """Options win over the environment (read now: :mod:`alchemy.config`), which wins over the defaults."""
        overall = timeout if timeout is not None else config.TIMEOUT.read(env)
        settings = cls(
            connect_timeout=connect_timeout if connect_timeout is not None else config.CONNECT_TIMEOUT.read(env),
            first_byte_timeout=first_byte_timeout if first_byte_timeout is not None else overall,
            idle_timeout=idle_timeout if idle_timeout is not None else overall,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            max_retry_delay=DEFAULT_MAX_RETRY_DELAY if max_retry_delay is None else max_retry_delay,
            max_connections=config.MAX_CONNECTIONS.read(env),
            max_keepalive_connections=config.MAX_KEEPALIVE_CONNECTIONS.read(env),
            pool_timeout=overall,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("connect_timeout", "first_byte_timeout", "idle_timeout", "pool_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries!r}")
        if self.max_retry_delay < 0:
            raise ValueError(f"max_retry_delay must be 0 or more, got {self.max_retry_delay!r}")

    def httpx_timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.first_byte_timeout,
            write=self.idle_timeout,
            pool=self.pool_timeout,
        )


def base_url_override(env: Mapping[str, str] | None = None) -> str | None:
    """``ALCHEMY_BASE_URL_OVERRIDE``: points every provider at one server (tests, proxies)."""
    return config.BASE_URL_OVERRIDE.read(env)


# --------------------------------------------------------------------------- clients

@dataclass(frozen=True, slots=True)
class SyncPool:
    """A cached ``httpx.Client`` and the admission queue in front of its pool (see :mod:`alchemy._pool`)."""

    client: httpx.Client
    admission: SyncAdmission
    origin: str


@dataclass(frozen=True, slots=True)
class AsyncPool:
    """A cached ``httpx.AsyncClient`` (one event loop's) and the admission queue in front of its pool."""

    client: httpx.AsyncClient
    admission: AsyncAdmission
    origin: str


_lock = threading.Lock()
_sync_clients: dict[tuple[str, str], SyncPool] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], AsyncPool]] = (
    weakref.WeakKeyDictionary()
)


def _client_key(base_url: str, api_key: str | None, settings: TransportSettings) -> tuple[str, str]:
    # The key is hashed so that the cache never holds it in plain text.
    key_hash = hashlib.sha256((api_key or "").encode()).hexdigest()[:16]
    limits = f"{settings.max_connections}/{settings.max_keepalive_connections}"
    return (base_url, f"{key_hash}:{limits}")


def _limits(settings: TransportSettings) -> httpx.Limits:
    import httpx

    return httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_keepalive_connections,
    )


def get_sync_pool(base_url: str, api_key: str | None, settings: TransportSettings) -> SyncPool:
    """The pooled ``httpx.Client`` shared by every request to the same base URL and key, with its admission."""
    import httpx

    from ._pool import SyncAdmission, new_sync_transport

    key = _client_key(base_url, api_key, settings)
    with _lock:
        pooled = _sync_clients.get(key)
        if pooled is None or pooled.client.is_closed:
            client = httpx.Client(timeout=settings.httpx_timeout(), transport=new_sync_transport(_limits(settings)))
            pooled = SyncPool(client, SyncAdmission(settings.max_connections), base_url)
            _sync_clients[key] = pooled
        return pooled


def get_async_pool(base_url: str, api_key: str | None, settings: TransportSettings) -> AsyncPool:
    """The pooled ``httpx.AsyncClient`` of the running event loop, with its admission."""
    import asyncio

    import httpx

    from ._pool import AsyncAdmission

    loop = asyncio.get_running_loop()
    key = _client_key(base_url, api_key, settings)
    with _lock:
        per_loop = _async_clients.setdefault(loop, {})
        pooled = per_loop.get(key)
        if pooled is None or pooled.client.is_closed:
            client = httpx.AsyncClient(timeout=settings.httpx_timeout(), limits=_limits(settings))
            pooled = AsyncPool(client, AsyncAdmission(settings.max_connections), base_url)
            per_loop[key] = pooled
        return pooled


def get_sync_client(base_url: str, api_key: str | None, settings: TransportSettings) -> httpx.Client:
    """The client of :func:`get_sync_pool`."""
    return get_sync_pool(base_url, api_key, settings).client


def get_async_client(base_url: str, api_key: str | None, settings: TransportSettings) -> httpx.AsyncClient:
    """The client of :func:`get_async_pool`."""
    return get_async_pool(base_url, api_key, settings).client


def pool_exhausted_message(label: str, origin: str | None, limit: int | None, waited: float) -> str:
    """The error of a request that found no free connection within ``waited`` seconds.

    ``limit`` is the pool size of alchemy's own clients (``None`` for a client the
    caller passed, whose limits alchemy does not set).
    """
    where = f" to {origin}" if origin else ""
    if limit is None:
        return (
            f"{label}: no connection{where} came free within {waited:g} s: every connection of the "
            "httpx client passed as client= was in use (raise its httpx.Limits(max_connections=...))"
        )
    return (
        f"{label}: no connection{where} came free within {waited:g} s: all {limit} connections of the pool "
        f"were in use (the limit is {config.MAX_CONNECTIONS.name}={limit}; raise it, or lower the "
        "concurrency or the length of the streams)"
    )


def clear_client_cache() -> None:
    """Closes and forgets the cached sync clients (async ones go with their loop)."""
    with _lock:
        pooled = list(_sync_clients.values())
        _sync_clients.clear()
        _async_clients.clear()
    for entry in pooled:
        entry.client.close()


# --------------------------------------------------------------------------- retries


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE_STATUS or 500 <= status <= 599


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait the server asks for: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms)
        except ValueError:
            value = -1.0
        if value >= 0:
            return value / 1000.0
    raw = lowered.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    return seconds if seconds >= 0 else None


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2**attempt))
    return (rng or random).uniform(0.0, ceiling)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether to try again, after how long, and the reason (for logs and errors)."""

    retry: bool
    delay: float = 0.0
    reason: str = ""


def retry_decision(
    attempt: int,
    settings: TransportSettings,
    *,
    reason: str,
    headers: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> RetryDecision:
    """Decides a retry after a retryable failure on attempt number ``attempt`` (0-based).

    A server-requested wait longer than ``max_retry_delay`` is not waited for: the
    request fails at once, and the reason says how long the server asked to wait.
    """
    requested = retry_after_seconds(headers) if headers is not None else None
    if requested is not None and requested > settings.max_retry_delay:
        return RetryDecision(
            False,
            requested,
            f"{reason}; the server asked to retry after {requested:.1f} s, "
            f"more than max_retry_delay={settings.max_retry_delay:g} s",
        )
    if attempt >= settings.max_retries:
        return RetryDecision(False, 0.0, reason)
    delay = requested if requested is not None else backoff_delay(attempt, rng)
    return RetryDecision(True, min(delay, settings.max_retry_delay), reason)


# --------------------------------------------------------------------------- error text


def _error_text_from_body(body: bytes) -> str | None:
    """The provider's own message from an error body (OpenAI, Anthropic, Google, AWS shapes)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return text[:2000]
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # Gemini sometimes wraps the error in a list
    if not isinstance(data, dict):
        return text[:2000]
    error = data.get("error", data)
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg") or error.get("detail")
        kind = error.get("type") or error.get("status") or error.get("code")
        if isinstance(message, str) and message:
            return f"{kind}: {message}" if isinstance(kind, str) and kind and kind not in message else message
    for key in ("message", "Message", "detail"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return text[:2000]


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an HTTP error answer says beyond its status (each ``None`` when it does not say).

    ``code`` is the provider's error type or code: the most specific of ``error.code``
    (when not a bare number), ``error.type``, ``error.status`` (Google), the top-level
    ``type`` (Mistral) and the ``x-amzn-errortype`` header (Bedrock). ``message`` is the
    provider's own words; ``retry_delay`` Google's ``RetryInfo.retryDelay``, in seconds.
    """

    code: str | None = None
    message: str | None = None
    retry_delay: float | None = None


def read_error_body(body: bytes, headers: Mapping[str, str]) -> ErrorBody:
    """The code, message and retry delay of an HTTP error answer (OpenAI, Anthropic, Google, AWS shapes)."""
    aws_type = {k.lower(): v for k, v in headers.items()}.get("x-amzn-errortype", "").split(":", 1)[0] or None
    try:
        data = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        return ErrorBody(aws_type, _error_text_from_body(body))
    error = data.get("error")
    fields = error if isinstance(error, dict) else data
    code = None
    for value in (fields.get("code"), fields.get("type"), fields.get("status"), data.get("type"), aws_type):
        if isinstance(value, str) and value and not value.isdigit() and value != "error":
            code = value
            break
    message = None
    for value in (fields.get("message"), fields.get("msg"), fields.get("detail"), data.get("message"), error):
        if isinstance(value, str) and value:
            message = value
            break
    return ErrorBody(code, message, _google_retry_delay(fields.get("details")))


def _google_retry_delay(details: object) -> float | None:
    """``retryDelay`` (``"32s"``) of a ``google.rpc.RetryInfo`` in a Google error's ``details``."""
    if not isinstance(details, list):
        return None
    for item in details:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = item.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    seconds = float(delay[:-1])
                except ValueError:
                    return None
                return seconds if seconds >= 0 else None
    return None


def request_id(headers: Mapping[str, str]) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in REQUEST_ID_HEADERS:
        value = lowered.get(name)
        if value:
            return value
    return None


def http_error_message(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str,
    secrets: Iterable[str] = (),
) -> str:
    """``"<provider> HTTP 429: <provider's message> (request id ...)"``, secrets redacted."""
    parts = [f"{provider} HTTP {status}"]
    detail = _error_text_from_body(body)
    aws_type = {k.lower(): v for k, v in headers.items()}.get("x-amzn-errortype", "").split(":", 1)[0]
    if aws_type and (detail is None or aws_type not in detail):
        detail = f"{aws_type}: {detail}" if detail else aws_type
    message = f"{parts[0]}: {detail}" if detail else f"{parts[0]} (no body)"
    rid = request_id(headers)
    if rid:
        message += f" (request id {rid})"
    return redact(message, secrets)


# --------------------------------------------------------------------------- logging

_log_handler: logging.Handler | None = None
_log_lock = threading.Lock()


def configure_logging_from_env(env: Mapping[str, str] | None = None) -> None:
    """Applies ``ALCHEMY_LOG`` (read on every call): one stderr handler on the ``alchemy`` logger.

    Unset leaves logging alone; a level adds the handler the first time and sets
    the logger's level every time, so a changed environment takes effect.
    """
    global _log_handler
    level_name = config.LOG.read(env)
    if level_name is None:
        return
    with _log_lock:
        if _log_handler is None:
            _log_handler = logging.StreamHandler()
            _log_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            logger.addHandler(_log_handler)
        logger.setLevel(level_name.upper())
