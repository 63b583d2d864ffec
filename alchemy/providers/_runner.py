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
``max_retry_delay`` fails at once, with the wait in the message. Each try that is
retried is counted in ``metrics.retries`` and kept in ``metrics.tries`` (a
:class:`~alchemy.types.FailedTry`: when it ran, its error kind and status).

Secrets: the stream's redactor (:class:`~alchemy.request.Secrets`, the emitter's) is
given every key in play -- the call's own (``api_key``, credential headers), the
values of the provider's key variables, the request's secrets and credential
headers, what the auth step adds -- and every error and log line of the runner
passes through it; so does every error text a parser raised, before it moves on.

Redirects: a 3xx answer is not followed (it would carry the credentials elsewhere);
it ends the stream as an HTTP error naming the status and the ``Location``.

Responses: when an attempt's response head arrives (any status), its request id and
rate-limit headers go to ``message.metrics`` (:mod:`alchemy.rate_limits`) and the
``on_response(status, headers)`` hook runs (awaited in the async source). Errors carry
their kind (:data:`~alchemy.errors.ErrorKind`): HTTP errors as the provider classifies
their status and body (:meth:`~alchemy.providers.base.HttpProvider.classify_error`),
transport failures as ``timeout`` or ``connection``, unparsable chunks as
``malformed_response``.

Timeouts: ``connect_timeout``; ``first_byte_timeout`` until the response headers;
``idle_timeout`` for every silence between body chunks.

Pool: with alchemy's own clients every attempt first takes a place in the pool's
admission queue (:mod:`alchemy._pool`) and gives it back when its response is
closed; beyond ``ALCHEMY_MAX_CONNECTIONS`` requests wait there, in order, up to the
overall ``timeout``, and one that waits longer ends with an error naming the limit.

Abort (from any thread or task) ends the stream at once in every state: a request
waiting for admission stops waiting; before the response headers, the sync source
shuts down the socket its thread is connecting or waiting on (the sockets of its
clients are handed to it), and the async source cancels the task of the pending
attempt; mid-body, the response's socket is shut down, so a blocked read returns.
"""

from __future__ import annotations

import errno
import inspect
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from ..emitter import ABORTED_MESSAGE
from ..errors import ERROR_KINDS, ProviderError, ProviderHttpError, StreamInterruptedError
from ..rate_limits import parse_rate_limit
from ..request import HttpRequest, redact
from .._pool import Ticket, set_watcher, shut_down
from ..transport import (
    AsyncPool,
    SyncPool,
    TransportSettings,
    configure_logging_from_env,
    get_async_pool,
    get_sync_pool,
    http_error_message,
    logger,
    pool_exhausted_message,
    read_error_body,
    request_id,
    retry_after_seconds,
    retry_decision,
)
from ..types import FailedTry, StreamMetrics
from ._chunks import SHAPE_ERRORS, MalformedEventError

if TYPE_CHECKING:
    import asyncio

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
        "_pool_key",
        "_parser",
        "_response",
        "_admission",
        "_attempt",
        "_started_at",
        "_try_started",
        "_closed",
        "label",
        "__weakref__",  # an abort signal holds the source's listener weakly
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
        self._secrets = emitter.secrets
        self._pool_key: str | None = options.api_key
        self._parser: WireParser | None = None
        self._response: Any = None
        self._admission: Any = None  # the pool place the current response holds
        self._attempt = 0
        self._started_at = 0.0
        self._try_started = 0.0  # when the current try was sent (perf_counter)
        self._closed = False
        self.label = provider.error_label(model)

    # -- preparing ------------------------------------------------------------------

    def _build(self) -> tuple[HttpRequest, Any]:
        """The provider's request and the body the payload hook may replace."""
        configure_logging_from_env()
        secrets = self._secrets
        secrets.add_environment(self.provider.secret_variables(self.model))
        request = self.provider.build_request(self.model, self.context, self.options)
        secrets.add(*request.secrets)
        secrets.add_headers(request.headers)
        if self._pool_key is None and request.secrets:
            self._pool_key = request.secrets[0]
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
        self._secrets.add(*sent.secrets)
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
        said = read_error_body(body, headers)
        retry_after = retry_after_seconds(headers)
        kind = self.provider.classify_error(status, said.code, message)
        # A retryable status whose body says it cannot pass by waiting (a 429 for an exhausted quota is
        # ``permission``) is not retried: the kind has the last word.
        retryable = self.provider.is_retryable_status(status, body) and (
            kind == "unknown" or ERROR_KINDS[kind].retryable
        )
        return ProviderHttpError(
            message,
            status=status,
            request_id=request_id(headers),
            retryable=retryable,
            retry_after=said.retry_delay if retry_after is None else retry_after,
            kind=kind,
            code=said.code,
            provider_message=redact(said.message, self._secrets) if said.message else None,
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
        elif isinstance(exc, httpx.PoolTimeout):
            text = pool_exhausted_message(label, None, None, self.settings.pool_timeout)
        elif isinstance(exc, httpx.TimeoutException):
            text = f"{label}: timed out ({type(exc).__name__})"
        else:
            detail = str(exc) or type(exc).__name__
            text = f"{label}: the connection was lost {'before the response' if before_headers else 'mid-stream'} ({detail})"
        timed_out = isinstance(exc, httpx.TimeoutException)
        return StreamInterruptedError(
            redact(text, self._secrets), retryable=True, kind="timeout" if timed_out else "connection"
        )

    def _answer_error(self, response: Any, body: bytes) -> ProviderHttpError:
        """The error of an answer that is not a stream: a redirect or an HTTP error status."""
        if response.status_code < 400:
            return self._redirect_error(response)
        return self._http_error(response.status_code, body, response.headers)

    def _redirect_error(self, response: Any) -> ProviderHttpError:
        """A 3xx answer, reported as one: status and ``Location`` (not followed)."""
        status = response.status_code
        location = response.headers.get("location")
        where = f" to {location}" if location else " without a Location header"
        text = (
            f"{self.label} HTTP {status}: the server redirected the request{where}; "
            "redirects are not followed (they would carry the credentials elsewhere): point base_url at the new address"
        )
        return ProviderHttpError(self._secrets.redact(text), status=status, request_id=request_id(response.headers))

    def _retry_plan(self, error: ProviderError) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up (the error ends the stream)."""
        if error.args:  # a parser's text may echo a key: redacted before it goes anywhere
            error.args = (self._secrets.redact(str(error)), *error.args[1:])
        if not error.retryable or self._aborted() or self.emitter.content_delivered or self.emitter.finished:
            return None
        headers = {"retry-after": str(error.retry_after)} if error.retry_after is not None else None
        decision = retry_decision(self._attempt, self.settings, reason=str(error), headers=headers)
        if not decision.retry:
            if decision.reason != str(error):
                error.args = (decision.reason,)
            return None
        self._attempt += 1
        self._record_failed_try(error)
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

    def _record_failed_try(self, error: ProviderError) -> None:
        """A try is retried: count it and keep when it ran and how it failed (for tracing)."""
        metrics = self.metrics
        metrics.retries = self._attempt
        started = self._started_at
        failed = FailedTry(self._try_started - started, time.perf_counter() - started, error.kind, error.status)
        metrics.tries = (*metrics.tries, failed)

    def _answered(self, response: Any) -> Any:
        """An attempt's response head arrived (any status): its request id and rate limits
        go to the metrics, then ``on_response(status, headers)`` runs; returns what it returned."""
        headers = response.headers
        metrics = self.metrics
        metrics.request_id = request_id(headers)
        metrics.rate_limit = parse_rate_limit(headers)
        hook = self.options.on_response
        if hook is None:
            return None
        return hook(response.status_code, headers)

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
        parser = self._parser = self.provider.create_parser(self.model, self.options, self.emitter)
        # An early end (abort, close, error) first plays out what the parser holds back.
        self.emitter.before_early_end = getattr(parser, "flush_pending", None)
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
                "everything received before it is kept",
                kind="malformed_response",
            ) from exc
        except MalformedEventError as exc:
            raise exc.sent_by(self.label) from exc.cause
        except SHAPE_ERRORS as exc:  # a parser with a dispatch of its own that names no event
            raise StreamInterruptedError(
                f"{self.label} sent a chunk of an unexpected shape ({type(exc).__name__}: {exc})",
                kind="malformed_response",
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
        """Abort listener: shut the response's socket down so a blocked read returns now (any thread)."""
        response = self._response
        stream = response.extensions.get("network_stream") if response is not None else None
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            shut_down(sock)

    # -- the pool -------------------------------------------------------------------

    def _pool_exhausted(self, pool: SyncPool | AsyncPool) -> StreamInterruptedError:
        text = pool_exhausted_message(self.label, pool.origin, pool.admission.limit, self.settings.pool_timeout)
        return StreamInterruptedError(redact(text, self._secrets), retryable=False, kind="timeout")

    def _release_admission(self) -> None:
        """Gives the pool place of the closed response back (to the next request waiting)."""
        admission, self._admission = self._admission, None
        if admission is not None:
            admission.release()


class HttpEventSource(_SourceBase):
    """The sync source: blocking httpx reads, one network chunk per pump."""

    __slots__ = ("_chunks", "_wake", "_ticket", "_socket")

    def __init__(
        self, provider: HttpProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> None:
        super().__init__(provider, model, context, options, emitter)
        self._chunks: Any = None
        self._wake = threading.Event()
        self._ticket: Ticket | None = None  # while waiting for a pool place
        self._socket: socket.socket | None = None  # while connecting or waiting for the headers
        if options.signal is not None:
            options.signal.add_listener(self._on_abort, weak=True)

    def _on_abort(self) -> None:
        self._wake.set()
        ticket = self._ticket
        if ticket is not None:
            ticket.wake()
        sock = self._socket
        if sock is not None and self._response is None:
            shut_down(sock)
        self._interrupt()

    def watch_socket(self, sock: socket.socket) -> None:
        """The socket this source's attempt connects or writes on (see :mod:`alchemy._pool`)."""
        self._socket = sock
        if self._aborted():  # the abort came before the socket was known: nobody shut it down
            raise OSError(errno.ECANCELED, "the request was aborted")

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

        client, pool = self._client(request)
        while True:
            if self._aborted():
                raise ProviderError(ABORTED_MESSAGE, kind="aborted")
            self._try_started = time.perf_counter()
            logger.debug("alchemy: %s %s (attempt %d)", request.method, redact(request.url, self._secrets), self._attempt)
            try:
                sent = request.auth.apply(request) if request.auth is not None else request
                response = self._send(client, pool, self._httpx_request(client, sent))
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc, before_headers=True)
            except ProviderError as exc:  # the authentication step failed (a token service, say)
                error = exc
            else:
                self._response = response
                answered = self._answered(response)
                if inspect.isawaitable(answered):
                    if hasattr(answered, "close"):
                        answered.close()
                    raise TypeError("on_response returned an awaitable: use astream()/acomplete() for async hooks")
                if response.status_code < 300:
                    self._headers_arrived(response)
                    self._chunks = response.iter_bytes()
                    return
                body = _read_limited(response)
                response.close()
                self._response = None
                self._release_admission()
                error = self._answer_error(response, body)
            if self._aborted():  # the abort cut the attempt short: that, not how, is the news
                raise ProviderError(ABORTED_MESSAGE, kind="aborted")
            delay = self._retry_plan(error)
            if delay is None:
                raise error
            self._sleep(delay)

    def _send(self, client: httpx.Client, pool: SyncPool | None, request: httpx.Request) -> httpx.Response:
        """One attempt: a place in the pool, then the request, with its sockets handed to this source."""
        if pool is not None:
            self._admit(pool)
        set_watcher(self)
        try:
            response = client.send(request, stream=True)
        except BaseException:
            self._socket = None
            self._release_admission()
            raise
        finally:
            set_watcher(None)
        self._response = response  # before the socket is forgotten: an abort always finds one of them
        self._socket = None
        return response

    def _admit(self, pool: SyncPool) -> None:
        """Takes a place in the pool's admission queue, waiting (abortably) up to ``pool_timeout``."""
        admission = pool.admission
        if not admission.try_acquire():
            ticket = self._ticket = Ticket()
            try:
                admitted = not self._aborted() and admission.wait(ticket, self.settings.pool_timeout)
            finally:
                self._ticket = None
            if admitted and self._aborted():  # admitted in the very moment of the abort
                admission.release()
                admitted = False
            if not admitted:
                if self._aborted():
                    raise ProviderError(ABORTED_MESSAGE, kind="aborted")
                raise self._pool_exhausted(pool)
        self._admission = admission

    def _client(self, request: HttpRequest) -> tuple[httpx.Client, SyncPool | None]:
        """The caller's client (its limits are its own), else the pooled one with its admission."""
        import httpx

        given = self.options.client
        if given is not None:
            if not isinstance(given, httpx.Client):
                raise TypeError(f"client= must be an httpx.Client for stream()/complete(), got {type(given).__name__}")
            return given, None
        url = httpx.URL(request.url)
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        pool = get_sync_pool(origin, self._pool_key, self.settings)
        return pool.client, pool

    def _sleep(self, delay: float) -> None:
        if delay > 0 and self._wake.wait(delay) and self._aborted():
            raise ProviderError(ABORTED_MESSAGE, kind="aborted")

    def _close_response(self) -> None:
        response, self._response = self._response, None
        self._chunks = iter(())
        if response is not None:
            try:
                response.close()
            except Exception:  # a half-closed socket may complain; it is gone either way
                logger.debug("alchemy: closing a response failed", exc_info=True)
        self._release_admission()

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

    __slots__ = ("_chunks", "_wake", "_loop", "_pending")

    def __init__(
        self, provider: HttpProvider, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> None:
        super().__init__(provider, model, context, options, emitter)
        self._chunks: Any = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Task[httpx.Response] | None = None  # the attempt until its headers arrive
        if options.signal is not None:
            options.signal.add_listener(self._on_abort, weak=True)

    def _on_abort(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._abort_on_loop, wake)
            except RuntimeError:  # the loop closed in the meantime
                pass
        self._interrupt()

    def _abort_on_loop(self, wake: asyncio.Event) -> None:
        wake.set()
        pending = self._pending
        if pending is not None:
            pending.cancel()

    async def pump(self) -> bool:
        if self._chunks is None:
            import asyncio  # here, not at the top: the sync path never loads asyncio

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

        client, pool = self._client(request)
        while True:
            if self._aborted():
                raise ProviderError(ABORTED_MESSAGE, kind="aborted")
            self._try_started = time.perf_counter()
            logger.debug("alchemy: %s %s (attempt %d)", request.method, redact(request.url, self._secrets), self._attempt)
            try:
                response = await self._send(client, pool, request)
            except httpx.HTTPError as exc:
                error: ProviderError = self._transport_error(exc, before_headers=True)
            except ProviderError as exc:  # the authentication step failed (a token service, say)
                error = exc
            else:
                self._response = response
                answered = self._answered(response)
                if inspect.isawaitable(answered):
                    await answered
                if response.status_code < 300:
                    self._headers_arrived(response)
                    self._chunks = response.aiter_bytes()
                    return
                body = await _aread_limited(response)
                await response.aclose()
                self._response = None
                self._release_admission()
                error = self._answer_error(response, body)
            if self._aborted():  # the abort cut the attempt short: that, not how, is the news
                raise ProviderError(ABORTED_MESSAGE, kind="aborted")
            delay = self._retry_plan(error)
            if delay is None:
                raise error
            await self._sleep(delay)

    async def _send(self, client: httpx.AsyncClient, pool: AsyncPool | None, request: HttpRequest) -> httpx.Response:
        """One attempt, run as a task that an abort cancels, from any thread, until the headers arrive."""
        import asyncio

        attempt = asyncio.ensure_future(self._attempt_once(client, pool, request))
        self._pending = attempt
        try:
            await asyncio.wait((attempt,))  # never raises the attempt's own errors or cancellation
        except asyncio.CancelledError:  # the consumer's task was cancelled: so is the attempt
            attempt.cancel()
            attempt.add_done_callback(self._discard_attempt)
            raise
        finally:
            self._pending = None
        if attempt.cancelled():  # only the abort cancels it
            raise ProviderError(ABORTED_MESSAGE, kind="aborted")
        return attempt.result()

    async def _attempt_once(
        self, client: httpx.AsyncClient, pool: AsyncPool | None, request: HttpRequest
    ) -> httpx.Response:
        sent = await request.auth.aapply(request) if request.auth is not None else request
        if pool is not None:
            if not await pool.admission.acquire(self.settings.pool_timeout):
                raise self._pool_exhausted(pool)
            self._admission = pool.admission
        try:
            return await client.send(self._httpx_request(client, sent), stream=True)
        except BaseException:
            self._release_admission()
            raise

    def _discard_attempt(self, attempt: asyncio.Task[httpx.Response]) -> None:
        """An attempt that finished although its consumer had left: close what it got."""
        if attempt.cancelled() or attempt.exception() is not None:
            return
        response = attempt.result()
        self._response = response
        import asyncio

        asyncio.ensure_future(self._close_response())

    def _client(self, request: HttpRequest) -> tuple[httpx.AsyncClient, AsyncPool | None]:
        """The caller's client (its limits are its own), else the pooled one with its admission."""
        import httpx

        given = self.options.client
        if given is not None:
            if not isinstance(given, httpx.AsyncClient):
                raise TypeError(
                    f"client= must be an httpx.AsyncClient for astream()/acomplete(), got {type(given).__name__}"
                )
            return given, None
        url = httpx.URL(request.url)
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        pool = get_async_pool(origin, self._pool_key, self.settings)
        return pool.client, pool

    async def _sleep(self, delay: float) -> None:
        if delay <= 0 or self._wake is None:
            return
        import asyncio

        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            return
        if self._aborted():
            raise ProviderError(ABORTED_MESSAGE, kind="aborted")

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
        self._release_admission()

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
