"""Connection admission and abortable sockets for alchemy's pooled HTTP clients.

**Admission.** Every pooled client (see :mod:`alchemy.transport`) has an admission
queue as wide as its pool (``ALCHEMY_MAX_CONNECTIONS``). A request takes a place
before it is handed to httpx and gives it back when its response is closed, so
httpcore never holds more requests than it has connections. Two things follow:
concurrency beyond the pool size queues here, in FIFO order, for as long as the
request's overall timeout allows (httpx would bound that wait by its pool timeout);
and httpcore's request-to-connection assignment, which scans every queued request
for every connection each time a request starts or ends (quadratic in the queue,
encode/httpcore#1035), only ever sees a handful of queued requests. Queueing,
admitting and giving back cost O(1) per request (leaving the sync queue early, on a
timeout or an abort, costs O(queue)).

**Abortable sockets** (sync clients only). An abort arrives from another thread
while the request's thread is blocked in ``connect()`` or waiting for the response
headers; nothing in httpx can be cancelled from outside. The network backend of
alchemy's sync clients therefore hands each socket it opens (and each pooled socket a
request writes to) to the request being sent from that thread, which shuts it down
on abort: the blocked call returns at once. The async twin needs none of this: the
pending request is a task, and cancelling it is enough.
"""

from __future__ import annotations

import errno
import selectors
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio  # imported by AsyncAdmission.acquire, so the sync path never loads it

__all__ = [
    "AsyncAdmission",
    "SocketWatcher",
    "SyncAdmission",
    "Ticket",
    "new_sync_transport",
    "set_watcher",
    "shut_down",
]


# --------------------------------------------------------------------------- admission


class Ticket:
    """A sync request waiting for admission: set when admitted, or to wake it (abort)."""

    __slots__ = ("event", "admitted")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.admitted = False

    def wake(self) -> None:
        """Ends the wait without admission (the waiter then sees ``admitted`` is false)."""
        self.event.set()


class SyncAdmission:
    """At most ``limit`` requests of one sync client in flight; the others wait in FIFO order (thread-safe)."""

    __slots__ = ("limit", "_free", "_waiting", "_lock")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = limit
        self._waiting: deque[Ticket] = deque()
        self._lock = threading.Lock()

    @property
    def free(self) -> int:
        """Places not taken (the pool is idle when this equals :attr:`limit`)."""
        return self._free

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def try_acquire(self) -> bool:
        """Takes a place at once if one is free and nobody queues before us."""
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return True
            return False

    def wait(self, ticket: Ticket, timeout: float) -> bool:
        """Queues ``ticket`` and blocks until it is admitted (``True``), woken or ``timeout`` passes."""
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return True
            self._waiting.append(ticket)
        ticket.event.wait(timeout)
        with self._lock:
            if ticket.admitted:
                return True
            self._waiting.remove(ticket)  # O(queue), but only on timeout or abort
            return False

    def release(self) -> None:
        """Gives a place back: straight to the longest waiter, else to the pool."""
        with self._lock:
            if self._waiting:
                ticket = self._waiting.popleft()
                ticket.admitted = True
                ticket.event.set()
            else:
                self._free += 1


class AsyncAdmission:
    """The async twin of :class:`SyncAdmission`, for one event loop (not thread-safe).

    A waiter that is cancelled (an abort cancels the pending request) or times out
    leaves its future done in the queue, where :meth:`release` skips it: no O(queue)
    removal.
    """

    __slots__ = ("limit", "_free", "_waiting")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = limit
        self._waiting: deque[asyncio.Future[bool]] = deque()

    @property
    def free(self) -> int:
        return self._free

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiting if not waiter.done())

    async def acquire(self, timeout: float) -> bool:
        """``True`` once admitted; ``False`` when ``timeout`` passed first."""
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return True
        import asyncio

        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(waiter)
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.release()  # admitted in the same turn as the cancellation: pass it on
            raise
        finally:
            timer.cancel()

    def release(self) -> None:
        waiting = self._waiting
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


# --------------------------------------------------------------------------- abortable sockets


class SocketWatcher(Protocol):
    """The request being sent from this thread; it shuts its socket down on abort."""

    def watch_socket(self, sock: socket.socket) -> None:
        """Remembers ``sock``; raises ``OSError`` if the request was already aborted."""


class _Sending(threading.local):
    watcher: SocketWatcher | None = None


_sending = _Sending()


def set_watcher(watcher: SocketWatcher | None) -> None:
    """Sends the sockets this thread opens or writes to from now on to ``watcher`` (``None``: to nobody)."""
    _sending.watcher = watcher


def _watch(sock: socket.socket) -> None:
    watcher = _sending.watcher
    if watcher is not None:
        watcher.watch_socket(sock)


def shut_down(sock: Any) -> None:
    """Shuts ``sock`` down from any thread, so a call blocked on it returns at once.

    It acts on a duplicate of the descriptor: ``shutdown`` reaches the connection
    itself, and neither the owner's socket object (an ``ssl.SSLSocket``, say, or
    asyncio's wrapper) nor its descriptor is touched. Errors (already closed) are ignored.
    """
    try:
        fileno = sock.fileno()
        if fileno < 0:
            return
        with socket.fromfd(fileno, sock.family, sock.type) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _WatchedStream:
    """httpcore's socket stream, telling the request that writes to it which socket it is on.

    Duck-typed like the backend below (httpcore only calls these methods), so this
    module imports httpcore only when a sync client is made.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, timeout)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            try:
                _watch(sock)
            except OSError as exc:
                import httpcore

                raise httpcore.WriteError(exc) from exc
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> _WatchedStream:
        return _WatchedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AbortableBackend:
    """httpcore's sync backend, with a connect that an abort from another thread can cut short.

    ``socket.create_connection`` hides its socket until it is connected; here the
    socket is handed to the request first, and the connect is started (non-blocking)
    before the request checks for an abort, so an abort at any moment is seen: either
    by that check or by the shutdown it causes, which wakes the wait for the connect.
    """

    __slots__ = ("_stream_type", "_fallback")

    def __init__(self, stream_type: Any, fallback: Any) -> None:
        self._stream_type = stream_type  # httpcore's SyncStream
        self._fallback = fallback  # httpcore's SyncBackend, for what is not TCP

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _WatchedStream:
        import httpcore

        try:
            sock = _connect(host, port, timeout, local_address, socket_options or ())
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        return _WatchedStream(self._stream_type(sock))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        return self._fallback.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._fallback.sleep(seconds)


def _connect(
    host: str, port: int, timeout: float | None, local_address: str | None, options: Iterable[Any]
) -> socket.socket:
    error: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            for option in options:
                sock.setsockopt(*option)
            if local_address is not None:
                sock.bind((local_address, 0))
            _connect_one(sock, address, timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            if isinstance(exc, TimeoutError):
                raise
            error = exc
    raise error if error is not None else OSError(f"getaddrinfo({host!r}) returned no address")


def _connect_one(sock: socket.socket, address: Any, timeout: float | None) -> None:
    sock.setblocking(False)
    code = sock.connect_ex(address)
    _watch(sock)  # after the connect started: from here a shutdown interrupts it
    if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_WRITE)
            if not selector.select(timeout):
                raise TimeoutError("timed out")
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise OSError(code, errno.errorcode.get(code, "connect failed"))
    sock.settimeout(timeout)  # blocking again; httpcore sets the timeout of every read and write


def new_sync_transport(limits: Any) -> Any:
    """An ``httpx.HTTPTransport`` with ``limits`` whose connections an abort can cut from another thread."""
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    try:  # httpcore's socket stream is not public; without it the client keeps httpcore's backend
        from httpcore._backends.sync import SyncStream
    except ImportError:  # pragma: no cover - another httpcore layout
        return transport
    if isinstance(pool, httpcore.ConnectionPool):
        # The pool takes its backend only from its constructor, which HTTPTransport calls.
        pool._network_backend = _AbortableBackend(SyncStream, httpcore.SyncBackend())  # type: ignore[assignment]
    return transport
