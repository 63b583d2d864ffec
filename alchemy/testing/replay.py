"""The replay server: a real HTTP/1.1 server on 127.0.0.1 that streams recorded provider responses.

It answers at the paths the providers call (see :mod:`alchemy.testing.routes`),
in each wire API's real framing (:mod:`alchemy.testing.wire`), with the chunking,
pacing and faults a :class:`~alchemy.testing.plan.Replay` asks for, and keeps
every request it received for tests to assert on::

    with ReplayServer() as server:
        server.enqueue(Replay.http_error(429, retry_after=0.01), Replay("anthropic-messages"))
        model.base_url = server.base_url_for("anthropic-messages")
        ...  # the first call is rate limited, the retry streams the recording
        assert server.requests[-1].json["model"] == "claude-sonnet-4-5"

Which response a request gets, in order: the replay named by its
``x-alchemy-replay`` header (a name given to :meth:`ReplayServer.register`, or a
recording name), else the next queued replay (FIFO, one per request), else the
server's ``default`` replay (by default the bundled recording of the route's API).

The server runs its own asyncio event loop in a background thread (``h11`` for
HTTP on asyncio streams), so sync and async clients alike can use it and a
thousand streams can be open at once. It is started and stopped by ``with`` /
``async with`` (or :meth:`~ReplayServer.start` / :meth:`~ReplayServer.stop`), and
stopping is bounded: open connections are cut, the thread is joined.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from email.utils import formatdate
from http import HTTPStatus
from types import TracebackType
from typing import Any

import h11
import orjson

from ..errors import RecordingNotFoundError, ReplayServerError
from .captured import RecordedRequest
from .recordings import DEFAULT_RECORDING_FOR_API, AnyRecording, RecordingLibrary
from .routes import ROUTE_SUMMARY, base_path, endpoint_path, match_route
from .plan import HangUp, Pause, Replay, ResponsePlan, plan_response
from .wire import BEDROCK_CONVERSE_STREAM

__all__ = ["REPLAY_HEADER", "ReplayServer"]

REPLAY_HEADER = "x-alchemy-replay"
"""Request header naming the recording (or registered replay) to serve."""

_log = logging.getLogger("alchemy.testing.replay")

_READ_SIZE = 65536
_WRITE_BUFFER_LIMIT = 256 * 1024  # wait for the client to read when this much is unsent
_WRITES_PER_YIELD = 32  # a fast stream yields to the others this often
_SERVER_HEADER = "alchemy-replay"
_BUNDLED_DEFAULT = Replay()


class _Selected:
    """The replay chosen for one request, with its recording resolved."""

    __slots__ = ("label", "recording", "replay")

    def __init__(self, replay: Replay, recording: AnyRecording | None, label: str) -> None:
        self.replay = replay
        self.recording = recording
        self.label = label


class _RequestTooLarge(Exception):
    """A request body over the server's limit (answered with a 413)."""


class ReplayServer:
    """A replay server on ``host`` (127.0.0.1) and ``port`` (0: an ephemeral port).

    * ``default`` -- the replay served when the queue is empty (by default the
      bundled recording of the route's API, by event); ``None`` answers such
      requests with a 500 error saying the queue is empty.
    * ``recording_dirs`` -- folders searched for ``.chunks.txt`` recordings by name
      (after the bundled ones), e.g. ``shared/fixtures/vercel-ai``.
    * ``raise_server_errors`` -- when the server itself failed to serve a request
      (a replay that cannot be played on the route it was used for, a recording
      that is not found), the client gets a 500 and leaving the ``with`` block
      raises :class:`~alchemy.errors.ReplayServerError` listing what went wrong.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default: Replay | None = _BUNDLED_DEFAULT,
        recording_dirs: Iterable[str | os.PathLike[str]] = (),
        raise_server_errors: bool = True,
        max_request_bytes: int = 64 * 1024 * 1024,
        backlog: int = 2048,
        start_timeout: float = 10.0,
        shutdown_timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.default: Replay | None = default
        self.library = RecordingLibrary(recording_dirs)
        self.raise_server_errors = raise_server_errors
        self.max_request_bytes = max_request_bytes
        self.backlog = backlog
        self.start_timeout = start_timeout
        self.shutdown_timeout = shutdown_timeout
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Lock()
        self._queue: deque[_Selected] = deque()
        self._named: dict[str, Replay] = {}
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._counter = itertools.count()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._closing = False

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise ReplayServerError("the replay server is not running: use it in a `with` block or call start()")
        return self._port

    @property
    def base_url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self.port}"

    def base_url_for(self, api: str) -> str:
        """The base URL to give a provider of ``api`` (``.../v1`` for OpenAI, the root for Anthropic, ...)."""
        return self.base_url + base_path(api)

    def url_for(self, api: str, model: str = "replay-model") -> str:
        """The full endpoint URL a provider of ``api`` calls to stream from ``model``."""
        return self.base_url + endpoint_path(api, model)

    # -- what to replay ----------------------------------------------------------------------

    def enqueue(self, *replays: Replay) -> None:
        """Queues replays, consumed one per request in order; recordings are resolved now.

        Raises :class:`~alchemy.errors.RecordingNotFoundError` (and ``ValueError`` for
        faults past the end of a recording) at once, in the caller's thread.
        """
        selected = []
        for replay in replays:
            if not isinstance(replay, Replay):
                raise TypeError(f"enqueue() takes Replay objects, got {type(replay).__name__}")
            recording = None
            if replay.recording is not None and replay.http_error_fault is None:
                recording = self.library.resolve(replay.recording)
                replay.check_recording_length(recording)
            selected.append(_Selected(replay, recording, _label(replay, recording)))
        with self._lock:
            self._queue.extend(selected)

    @property
    def queued(self) -> int:
        """How many queued replays are still waiting for a request."""
        with self._lock:
            return len(self._queue)

    def clear_queue(self) -> None:
        with self._lock:
            self._queue.clear()

    def register(self, name: str, replay: Replay) -> None:
        """Makes ``replay`` selectable by name with the ``x-alchemy-replay`` request header."""
        if not isinstance(replay, Replay):
            raise TypeError(f"register() takes a Replay, got {type(replay).__name__}")
        if replay.recording is not None and replay.http_error_fault is None:
            replay.check_recording_length(self.library.resolve(replay.recording))
        with self._lock:
            self._named[name] = replay

    # -- what was received -----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise LookupError("the replay server has received no request yet")
            return self._requests[-1]

    @property
    def errors(self) -> list[str]:
        """What the server failed to do (misconfigured replays, missing recordings), oldest first."""
        with self._lock:
            return list(self._errors)

    def reset(self) -> None:
        """Forgets received requests, queued replays and recorded errors."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._errors.clear()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._port is not None

    def start(self) -> ReplayServer:
        """Starts serving in a background thread; returns once the port is bound."""
        if self._thread is not None:
            raise ReplayServerError("the replay server is already running")
        ready = threading.Event()
        self._startup_error = None
        self._closing = False
        thread = threading.Thread(target=self._run, args=(ready,), name="alchemy-replay-server", daemon=True)
        self._thread = thread
        thread.start()
        if not ready.wait(self.start_timeout):
            self._request_stop()
            thread.join(self.shutdown_timeout)
            self._thread = None
            raise ReplayServerError(f"the replay server did not start within {self.start_timeout} s")
        if self._startup_error is not None or self._port is None:
            thread.join(self.shutdown_timeout)
            self._thread = None
            error = self._startup_error
            where = f"{self.host}:{self._requested_port}"
            raise ReplayServerError(f"the replay server could not listen on {where}: {error}") from error
        return self

    def stop(self) -> None:
        """Stops serving: closes the listener, cuts open connections, joins the thread (bounded)."""
        thread = self._thread
        if thread is None:
            return
        if threading.current_thread() is thread:
            raise ReplayServerError("stop() cannot be called from the replay server's own thread")
        self._request_stop()
        thread.join(self.shutdown_timeout + 1.0)
        self._thread = None
        self._port = None
        if thread.is_alive():
            raise ReplayServerError(f"the replay server thread did not stop within {self.shutdown_timeout + 1.0} s")

    def _request_stop(self) -> None:
        loop, event = self._loop, self._stop_event
        if loop is None or event is None:
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:
            pass  # the loop already closed

    def _raise_collected_errors(self) -> None:
        errors = self.errors
        if errors and self.raise_server_errors:
            listed = "\n  - ".join(errors)
            raise ReplayServerError(f"the replay server failed to serve {len(errors)} request(s):\n  - {listed}")

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
        if exc_type is None:
            self._raise_collected_errors()

    async def __aenter__(self) -> ReplayServer:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
        if exc_type is None:
            self._raise_collected_errors()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "stopped"
        return f"ReplayServer({where}, queued={self.queued}, requests={len(self._requests)})"

    # -- the event loop thread -----------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        except BaseException as exc:  # reported by start(), or logged if serving had begun
            if self._port is None:
                self._startup_error = exc
            else:
                _log.exception("replay server: the event loop failed")
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                self._loop = None
                self._stop_event = None
                loop.close()
                ready.set()

    async def _main(self, ready: threading.Event) -> None:
        self._stop_event = asyncio.Event()
        try:
            server = await asyncio.start_server(
                self._serve_connection, self.host, self._requested_port, backlog=self.backlog
            )
        except OSError as exc:
            self._startup_error = exc
            ready.set()
            return
        self._port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stop_event.wait()
        finally:
            self._closing = True
            server.close()
            connections = list(self._connections)
            for task in connections:
                task.cancel()
            if connections:
                await asyncio.wait(connections, timeout=self.shutdown_timeout)
            try:
                await asyncio.wait_for(server.wait_closed(), self.shutdown_timeout)
            except asyncio.TimeoutError:
                _log.warning("replay server: listener did not close within %s s", self.shutdown_timeout)

    # -- one connection ------------------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                try:
                    received = await self._read_request(conn, reader, writer)
                except h11.RemoteProtocolError as exc:
                    await self._reject(conn, writer, exc.error_status_hint, f"malformed HTTP request: {exc}")
                    return
                except _RequestTooLarge:
                    await self._reject(conn, writer, 413, f"request body exceeds {self.max_request_bytes} bytes")
                    return
                if received is None:
                    return
                keep_alive = await self._respond(conn, writer, *received)
                if not keep_alive or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except ConnectionError:
            return  # the client went away while we were writing
        except asyncio.CancelledError:
            # Only stop() cancels connections. Ending quietly (rather than re-raising)
            # keeps asyncio's stream callback from logging the cancellation as an error.
            return
        except Exception as exc:  # a bug in the server itself: keep it for the test to see
            self._record_error(f"unexpected {type(exc).__name__}: {exc}")
            _log.exception("replay server: unexpected error")
        finally:
            self._connections.discard(task)
            if self._closing:
                writer.transport.abort()
            else:
                writer.close()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[h11.Request, bytes] | None:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if conn.they_are_waiting_for_100_continue:
                    writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
                conn.receive_data(await reader.read(_READ_SIZE))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_request_bytes:
                    raise _RequestTooLarge
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return request, bytes(body)
            else:  # ConnectionClosed, or PAUSED (cannot happen before we answered)
                return None

    async def _reject(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})
        headers = [("content-type", "application/json"), ("content-length", str(len(body))), ("connection", "close")]
        await self._send_plan(conn, writer, ResponsePlan(status=status, headers=headers, body=body))

    # -- one request -----------------------------------------------------------------------------

    async def _respond(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes
    ) -> bool:
        index = next(self._counter)
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers]
        method = request.method.decode("ascii")
        route = match_route(path, query)

        def record(replay_label: str, api: str | None) -> None:
            captured = RecordedRequest.from_wire(
                method=method,
                target=target,
                headers=headers,
                body=body,
                index=index,
                api=api,
                path_model=route.model if route else None,
                replay=replay_label,
            )
            with self._lock:
                self._requests.append(captured)

        if route is None:
            record("not-found", None)
            message = f"no replay route for {method} {path}; the replay server answers {ROUTE_SUMMARY}"
            return await self._send_plan(conn, writer, _json_error_plan(404, message, "not_found_error"))
        if method != "POST":
            record("method-not-allowed", route.api)
            plan = _json_error_plan(405, f"{method} is not allowed on {path}; use POST", "invalid_request_error")
            plan.headers.append(("allow", "POST"))
            return await self._send_plan(conn, writer, plan)
        if route.streaming_query_missing:
            record("alt-sse-missing", route.api)
            message = "the replay server streams streamGenerateContent as server-sent events only: add ?alt=sse"
            return await self._send_plan(conn, writer, _json_error_plan(400, message, "INVALID_ARGUMENT"))

        try:
            selected = self._select(_header(headers, REPLAY_HEADER))
        except RecordingNotFoundError as exc:
            record("recording-not-found", route.api)
            return await self._send_plan(conn, writer, _json_error_plan(404, str(exc), "not_found_error"))
        if selected is None:
            record("queue-empty", route.api)
            message = "the replay queue is empty and the server has no default replay"
            return await self._send_plan(conn, writer, _json_error_plan(500, message, "replay_queue_empty"))

        api = selected.replay.api or route.api
        request_id = _request_id(api, index)
        try:
            recording = selected.recording
            if recording is None and selected.replay.http_error_fault is None:
                default_name = DEFAULT_RECORDING_FOR_API[api]
                recording = self.library.resolve(selected.replay.recording, default_name=default_name)
            plan = plan_response(selected.replay, recording, api, request_id)
        except (ValueError, RecordingNotFoundError) as exc:
            record("replay-error", route.api)
            message = f"request #{index} {method} {path}: {exc}"
            self._record_error(message)
            return await self._send_plan(conn, writer, _json_error_plan(500, f"replay server: {exc}", "replay_error"))
        record(selected.label if selected.label != "default" else _label(selected.replay, recording), route.api)
        return await self._send_plan(conn, writer, plan)

    def _select(self, requested: str | None) -> _Selected | None:
        if requested:
            with self._lock:
                named = self._named.get(requested)
            if named is not None:
                recording = None if named.recording is None else self.library.resolve(named.recording)
                return _Selected(named, recording, requested)
            # A recording by name: played in the route's framing, with the default's chunking and pace.
            recording = self.library.get_by_name(requested)
            base = self.default or _BUNDLED_DEFAULT
            return _Selected(replace(base, recording=recording, api=None, faults=()), recording, requested)
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.default is None:
            return None
        return _Selected(self.default, None, "default")

    def _record_error(self, message: str) -> None:
        _log.error("replay server: %s", message)
        with self._lock:
            self._errors.append(message)

    async def _send_plan(self, conn: h11.Connection, writer: asyncio.StreamWriter, plan: ResponsePlan) -> bool:
        """Writes a planned response; returns whether the connection may serve another request."""
        if plan.stall_before_headers:
            await asyncio.sleep(plan.stall_before_headers)
        if plan.hang_up_before_headers:
            return False
        head = h11.Response(
            status_code=plan.status,
            headers=[*plan.headers, ("date", formatdate(usegmt=True)), ("server", _SERVER_HEADER)],
            reason=_reason(plan.status),
        )
        if plan.steps is None:
            for event in (head, h11.Data(data=plan.body), h11.EndOfMessage()):
                writer.write(conn.send(event) or b"")
            await writer.drain()
            return True
        writer.write(conn.send(head) or b"")
        await writer.drain()
        # h11 frames the head and the end of the body. For HTTP/1.1 peers the body
        # chunks are framed here instead ("<size hex>\r\n<data>\r\n", exactly what
        # h11 writes): h11's per-call cost would dominate a 10,000-event stream.
        # h11's chunked writer keeps no count, so its EndOfMessage stays correct.
        frame_here = conn.their_http_version == b"1.1"
        transport = writer.transport
        writes = 0
        for step in plan.steps:
            if isinstance(step, bytes):
                if plan.delay and writes:
                    await asyncio.sleep(plan.delay)
                if transport.is_closing():
                    return False  # the client went away
                if frame_here:
                    writer.write(b"%x\r\n%b\r\n" % (len(step), step))
                else:
                    writer.write(conn.send(h11.Data(data=step)) or b"")
                writes += 1
                if transport.get_write_buffer_size() > _WRITE_BUFFER_LIMIT:
                    await writer.drain()
                elif writes % _WRITES_PER_YIELD == 0:
                    await asyncio.sleep(0)  # let the other connections run
            elif isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, HangUp):
                return False
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        return True


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for header, value in headers:
        if header.lower() == name:
            return value.strip()
    return None


def _label(replay: Replay, recording: AnyRecording | None) -> str:
    error = replay.http_error_fault
    if error is not None:
        return f"http-{error.status}"
    return recording.name if recording is not None else "default"


def _request_id(api: str, index: int) -> str:
    if api == BEDROCK_CONVERSE_STREAM:
        return f"00000000-0000-4000-8000-{index:012d}"
    return f"req_replay_{index:06d}"


def _reason(status: int) -> bytes:
    if status == 529:
        return b"Overloaded"
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _json_error_plan(status: int, message: str, error_type: str) -> ResponsePlan:
    body = orjson.dumps({"error": {"message": message, "type": error_type}})
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    return ResponsePlan(status=status, headers=headers, body=body)

