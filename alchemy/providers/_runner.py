"""The I/O side of every HTTP provider: one sync and one async event source.

A source is pumped by the consumer (see :mod:`alchemy.api_registry`). The first
pump builds the request (the provider's sans-I/O ``build_request``, then
``on_payload``, then the body encoded to bytes), sends it with retries and waits for
the response headers; every later pump reads one network chunk and feeds it to the
provider's parser, which emits events. Both sources share the decisions (what to
retry, how to word an error, the metrics) and differ only where they wait.

Authentication: when the request carries an :class:`~alchemy.request.Auth`, every
attempt sends what the auth makes of the encoded request (``apply`` in the sync
source, ``await aapply`` in the async one), so each retry is signed anew or sent
with a fresh token. An auth failure that is ``retryable`` is retried like a
connect error.

Retries: connect errors, HTTP 408/409/429/5xx (and what a provider adds, e.g.
Anthropic's 529), a stall, a dropped connection and a retryable error inside a 200
stream are retried with backoff — but only while no content event has reached the
consumer, so text is never duplicated. A wait the server asks for beyond
``max_retry_delay`` fails at once, with the wait in the message.

Timeouts: ``connect_timeout``; ``first_byte_timeout`` until the response headers;
``idle_timeout`` for every silence between body chunks. Abort (from any thread or
task) shuts the socket down, so a blocked read returns at once.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..emitter import ABORTED_MESSAGE
from ..errors import ProviderError, ProviderHttpError, StreamInterruptedError
from ..request import HttpRequest, redact
from ..transport import (
    TransportSettings,
    configure_logging_from_env,
    get_async_client,
    get_sync_client,
    http_error_message,
    logger,
    request_id,
    retry_after_seconds,
    retry_decision,
)
from ..types import StreamMetrics

if TYPE_CHECKING:
    import httpx

    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..types import Context, Model
    from .base import HttpProvider, WireParser

__all__ = ["AsyncHttpEventSource", "HttpEventSource"]

ERROR_BODY_LIMIT = 64 * 1024
"""How much of an HTTP error body is read for its message."""


class _SourceBase:
    """What the sync and async sources share: request preparation, decisions, metrics."""

    __slots__ = (
        "provider",
        "model",
        "context",
        "options",
        "emitter",
        "settings",
        "metrics",
        "_request",
        "_secrets",
        "_parser",
        "_response",
        "_attempt",
        "_started_at",
        "_closed",
        "label",
    )

    def __init__(
        self, provider: HttpProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> None:
        self.provider = provider
        self.model = model
        self.context = context
        self.options = options
        self.emitter = emitter
        self.settings = TransportSettings.resolve(
            timeout=options.timeout,
            connect_timeout=options.connect_timeout,
            first_byte_timeout=options.first_byte_timeout,
            idle_timeout=options.idle_timeout,
            max_retries=options.max_retries,
            max_retry_delay=options.max_retry_delay,
        )
        self.metrics = StreamMetrics()
        emitter.message.metrics = self.metrics
        self._request: HttpRequest | None = None
        self._secrets: tuple[str, ...] = (options.api_key,) if options.api_key else ()
        self._parser: WireParser | None = None
        self._response: Any = None
        self._attempt = 0
        self._started_at = 0.0
        self._closed = False
        self.label = provider.error_label(model)

    # -- preparing ------------------------------------------------------------------

    def _build(self) -> tuple[HttpRequest, Any]:
        """The provider's request and the body the payload hook may replace."""
        configure_logging_from_env()
        request = self.provider.build_request(self.model, self.context, self.options)
        self._secrets = tuple({*self._secrets, *request.secrets})
        return request, request.body

    def _encode(self, request: HttpRequest, body: Any) -> HttpRequest:
        """The request as every attempt starts from: the (hooked) body as bytes, its auth kept."""
        encoded = body if isinstance(body, (bytes, bytearray)) else orjson.dumps(body)
        request = HttpRequest(
            request.method, request.url, dict(request.headers), bytes(encoded), request.secrets, request.auth
        )
        request.headers.setdefault("content-type", "application/json")
        self._request = request
        return request

    def _httpx_request(self, client: Any, sent: HttpRequest) -> Any:
        """The httpx request of one attempt, from the request as authenticated for it."""
        if sent.secrets:
            self._secrets = tuple({*self._secrets, *sent.secrets})
        return client.build_request(
            sent.method, sent.url, headers=sent.headers, content=sent.body, timeout=self.settings.httpx_timeout()
        )

    def _hook(self) -> Any:
        return self.options.on_payload

    # -- decisions ------------------------------------------------------------------

    def _aborted(self) -> bool:
        signal = self.options.signal
        return signal is not None and signal.aborted

    def _http_error(self, status: int, body: bytes, headers: Any) -> ProviderHttpError:
        message = http_error_message(status, body, headers, provider=self.label, secrets=self._secrets)
        return ProviderHttpError(
            message,
            status=status,
            request_id=request_id(headers),
            retryable=self.provider.is_retryable_status(status, body),
            retry_after=retry_after_seconds(headers),
        )

    def _transport_error(self, exc: Exception, *, before_headers: bool) -> StreamInterruptedError:
        import httpx

        label = self.label
        if isinstance(exc, httpx.ConnectTimeout):
            text = f"{label}: could not connect within {self.settings.connect_timeout:g} s"
        elif isinstance(exc, httpx.ConnectError):
            text = f"{label}: could not connect ({exc})"
        elif isinstance(exc, httpx.ReadTimeout) and before_headers:
            text = f"{label}: no response within {self.settings.first_byte_timeout:g} s (first_byte_timeout)"
        elif isinstance(exc, httpx.ReadTimeout):
            text = (
                f"{label}: the stream stalled: no data for {self.settings.idle_timeout:g} s (idle_timeout); "
                "everything received so far is kept"
            )
        elif isinstance(exc, httpx.TimeoutException):
            text = f"{label}: timed out ({type(exc).__name__})"
        else:
            detail = str(exc) or type(exc).__name__
            text = f"{label}: the connection was lost {'before the response' if before_headers else 'mid-stream'} ({detail})"
        return StreamInterruptedError(redact(text, self._secrets), retryable=True)

    def _retry_plan(self, error: ProviderError) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up (the error ends the stream)."""
        if not error.retryable or self._aborted() or self.emitter.content_delivered or self.emitter.finished:
            return None
        headers = {"retry-after": str(error.retry_after)} if error.retry_after is not None else None
        decision = retry_decision(self._attempt, self.settings, reason=str(error), headers=headers)
        if not decision.retry:
            if decision.reason != str(error):
                error.args = (decision.reason,)
            return None
        self._attempt += 1
        self.metrics.retries = self._attempt
        logger.info(
            "alchemy: retrying %s (attempt %d of %d) in %.2f s: %s",
            self.label,
            self._attempt,
            self.settings.max_retries,
            decision.delay,
            decision.reason,
        )
        return decision.delay

    # -- metrics --------------------------------------------------------------------

    def _headers_arrived(self, response: Any) -> None:
        import httpx

        metrics = self.metrics
        metrics.time_to_first_byte = time.perf_counter() - self._started_at
        logger.debug(
            "alchemy: %s answered HTTP %d in %.3f s",
            self.label,
            response.status_code,
            metrics.time_to_first_byte,
        )
        # From here on, the read timeout bounds the silence between body chunks.
        timeout = response.request.extensions.get("timeout")
        if isinstance(timeout, dict):
            timeout["read"] = self.settings.idle_timeout
        elif isinstance(timeout, httpx.Timeout):  # pragma: no cover - httpx stores a dict
            response.request.extensions["timeout"] = {**timeout.as_dict(), "read": self.settings.idle_timeout}
        self._parser = self.provider.create_parser(self.model, self.options, self.emitter)
        self.emitter.start()

    def _chunk_arrived(self, chunk: bytes) -> None:
        metrics = self.metrics
        metrics.chunks += 1
        metrics.bytes_received += len(chunk)
        assert self._parser is not None
        try:
            self._parser.feed(chunk)
        except orjson.JSONDecodeError as exc:
            raise StreamInterruptedError(
                f"{self.label}: received a chunk that is not valid JSON ({exc}); "
                "everything received before it is kept"
            ) from exc
        if metrics.time_to_first_content is None and self.emitter.message.content:
            metrics.time_to_first_content = time.perf_counter() - self._started_at

    def _finish_metrics(self) -> None:
        metrics = self.metrics
        if metrics.duration is not None or not self._started_at:
            return
        metrics.duration = time.perf_counter() - self._started_at
        buffer = self.emitter.buffer
        metrics.events = buffer.handed_out + len(buffer)
        output = self.emitter.message.usage.output
        first = metrics.time_to_first_content
        if output and first is not None and metrics.duration > first:
            metrics.output_tokens_per_second = output / (metrics.duration - first)
        logger.debug(
            "alchemy: %s stream ended: %d bytes in %d chunks, %d events, %.3f s, %d retries",
            self.label,
            metrics.bytes_received,
            metrics.chunks,
            metrics.events,
            metrics.duration,
            metrics.retries,
        )

    def _interrupt(self) -> None:
        """Abort listener: shut the socket down so a blocked read returns now (any thread)."""
        response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        # asyncio hands out a TransportSocket wrapper: shut the socket down through a
        # duplicate of its descriptor (shutdown acts on the socket, not the descriptor).
        try:
            fileno = sock.fileno()
            if fileno < 0:
                return
            with socket.fromfd(fileno, sock.family, sock.type) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class HttpEventSource(_SourceBase):
    """The sync source: blocking httpx reads, one network chunk per pump."""

    __slots__ = ("_chunks", "_wake")

    def __init__(
        self, provider: HttpProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> None:
        super().__init__(provider, model, context, options, emitter)
        self._chunks: Any = None
        self._wake = threading.Event()
        if options.signal is not None:
            options.signal.add_listener(self._on_abort)

    def _on_abort(self) -> None:
        self._wake.set()
        self._interrupt()

    def pump(self) -> bool:
        if self._chunks is None:
            request, body = self._build()
            hook = self._hook()
            if hook is not None:
                replaced = hook(body, self.model)
                if inspect.isawaitable(replaced):
                    if hasattr(replaced, "close"):
                        replaced.close()
                    raise TypeError("on_payload returned an awaitable: use astream()/acomplete() for async hooks")
                if replaced is not None:
                    body = replaced
            self._started_at = time.perf_counter()
            self._connect(self._encode(request, body))
            return True
        try:
            chunk = next(self._chunks)
        except StopIteration:
            return self._end_of_body()
        except Exception as exc:
            return self._recover(exc)
        try:
            self._chunk_arrived(chunk)
        except ProviderError as exc:
            return self._recover(exc)
        return True

    def _end_of_body(self) -> bool:
        assert self._parser is not None
        try:
            self._parser.finish()
        except ProviderError as exc:
            return self._recover(exc)
        self._finish_metrics()
        return False

    def _recover(self, exc: Exception) -> bool:
        """A failure while streaming: retry if allowed, else end the stream with it."""
        import httpx

        if self._aborted():
            self.emitter.abort(ABORTED_MESSAGE)
            return False
        error = self._transport_error(exc, before_headers=False) if isinstance(exc, httpx.HTTPError) else exc
        if not isinstance(error, ProviderError):
            raise exc
        delay = self._retry_plan(error)
        if delay is None:
            raise error from exc if error is not exc else None
        self._close_response()
        self.emitter.restart()
        self._sleep(delay)
        assert self._request is not None
        self._connect(self._request)
        return True

    def _connect(self, request: HttpRequest) -> None:
        """Sends ``request`` until a 2xx response arrives (retrying what may be retried)."""
        import httpx

        client = self._client(request)
        while True:
            if self._aborted():
                raise ProviderError(ABORTED_MESSAGE)
            logger.debug("alchemy: %s %s (attempt %d)", request.method, redact(request.url, self._secrets), self._attempt)
            try:
                sent = request.auth.apply(request) if request.auth is not None else request
                response = client.send(self._httpx_request(client, sent), stream=True)
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc, before_headers=True)
            except ProviderError as exc:  # the authentication step failed (a token service, say)
                error = exc
            else:
                self._response = response
                if response.status_code < 400:
                    self._headers_arrived(response)
                    self._chunks = response.iter_bytes()
                    return
                body = _read_limited(response)
                response.close()
                self._response = None
                error = self._http_error(response.status_code, body, response.headers)
            delay = self._retry_plan(error)
            if delay is None:
                raise error
            self._sleep(delay)

    def _client(self, request: HttpRequest) -> httpx.Client:
        import httpx

        given = self.options.client
        if given is not None:
            if not isinstance(given, httpx.Client):
                raise TypeError(f"client= must be an httpx.Client for stream()/complete(), got {type(given).__name__}")
            return given
        url = httpx.URL(request.url)
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        return get_sync_client(origin, self._secrets[0] if self._secrets else None, self.settings)

    def _sleep(self, delay: float) -> None:
        if delay > 0 and self._wake.wait(delay) and self._aborted():
            raise ProviderError(ABORTED_MESSAGE)

    def _close_response(self) -> None:
        response, self._response = self._response, None
        self._chunks = iter(())
        if response is not None:
            try:
                response.close()
            except Exception:  # a half-closed socket may complain; it is gone either way
                logger.debug("alchemy: closing a response failed", exc_info=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.options.signal is not None:
            self.options.signal.remove_listener(self._on_abort)
        self._close_response()
        self._finish_metrics()


class AsyncHttpEventSource(_SourceBase):
    """The async source: awaits httpx reads on the running loop, one network chunk per pump."""

    __slots__ = ("_chunks", "_wake", "_loop")

    def __init__(
        self, provider: HttpProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> None:
        super().__init__(provider, model, context, options, emitter)
        self._chunks: Any = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if options.signal is not None:
            options.signal.add_listener(self._on_abort)

    def _on_abort(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)
        self._interrupt()

    async def pump(self) -> bool:
        if self._chunks is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            request, body = self._build()
            hook = self._hook()
            if hook is not None:
                replaced = hook(body, self.model)
                if inspect.isawaitable(replaced):
                    replaced = await replaced
                if replaced is not None:
                    body = replaced
            self._started_at = time.perf_counter()
            await self._connect(self._encode(request, body))
            return True
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            return await self._end_of_body()
        except Exception as exc:
            return await self._recover(exc)
        try:
            self._chunk_arrived(chunk)
        except ProviderError as exc:
            return await self._recover(exc)
        return True

    async def _end_of_body(self) -> bool:
        assert self._parser is not None
        try:
            self._parser.finish()
        except ProviderError as exc:
            return await self._recover(exc)
        self._finish_metrics()
        return False

    async def _recover(self, exc: Exception) -> bool:
        import httpx

        if self._aborted():
            self.emitter.abort(ABORTED_MESSAGE)
            return False
        error = self._transport_error(exc, before_headers=False) if isinstance(exc, httpx.HTTPError) else exc
        if not isinstance(error, ProviderError):
            raise exc
        delay = self._retry_plan(error)
        if delay is None:
            raise error from exc if error is not exc else None
        await self._close_response()
        self.emitter.restart()
        await self._sleep(delay)
        assert self._request is not None
        await self._connect(self._request)
        return True

    async def _connect(self, request: HttpRequest) -> None:
        import httpx

        client = self._client(request)
        while True:
            if self._aborted():
                raise ProviderError(ABORTED_MESSAGE)
            logger.debug("alchemy: %s %s (attempt %d)", request.method, redact(request.url, self._secrets), self._attempt)
            try:
                sent = await request.auth.aapply(request) if request.auth is not None else request
                response = await client.send(self._httpx_request(client, sent), stream=True)
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc, before_headers=True)
            except ProviderError as exc:  # the authentication step failed (a token service, say)
                error = exc
            else:
                self._response = response
                if response.status_code < 400:
                    self._headers_arrived(response)
                    self._chunks = response.aiter_bytes()
                    return
                body = await _aread_limited(response)
                await response.aclose()
                self._response = None
                error = self._http_error(response.status_code, body, response.headers)
            delay = self._retry_plan(error)
            if delay is None:
                raise error
            await self._sleep(delay)

    def _client(self, request: HttpRequest) -> httpx.AsyncClient:
        import httpx

        given = self.options.client
        if given is not None:
            if not isinstance(given, httpx.AsyncClient):
                raise TypeError(
                    f"client= must be an httpx.AsyncClient for astream()/acomplete(), got {type(given).__name__}"
                )
            return given
        url = httpx.URL(request.url)
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        return get_async_client(origin, self._secrets[0] if self._secrets else None, self.settings)

    async def _sleep(self, delay: float) -> None:
        if delay <= 0 or self._wake is None:
            return
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            return
        if self._aborted():
            raise ProviderError(ABORTED_MESSAGE)

    async def _close_response(self) -> None:
        response, self._response = self._response, None
        chunks, self._chunks = self._chunks, _empty_async()
        if chunks is not None and hasattr(chunks, "aclose"):
            try:
                await chunks.aclose()
            except Exception:
                logger.debug("alchemy: closing a body iterator failed", exc_info=True)
        if response is not None:
            try:
                await response.aclose()
            except Exception:
                logger.debug("alchemy: closing a response failed", exc_info=True)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.options.signal is not None:
            self.options.signal.remove_listener(self._on_abort)
        await self._close_response()
        self._finish_metrics()


async def _empty_chunks() -> Any:
    return
    yield  # an async generator that yields nothing


def _empty_async() -> Any:
    return _empty_chunks()


def _read_limited(response: httpx.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= ERROR_BODY_LIMIT:
                break
    except Exception:  # the error body itself may be cut off; what arrived is enough
        logger.debug("alchemy: reading an error body failed", exc_info=True)
    return b"".join(parts)[:ERROR_BODY_LIMIT]


async def _aread_limited(response: httpx.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= ERROR_BODY_LIMIT:
                break
    except Exception:
        logger.debug("alchemy: reading an error body failed", exc_info=True)
    return b"".join(parts)[:ERROR_BODY_LIMIT]
