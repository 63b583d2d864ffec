"""Cancelling a stream from anywhere: :class:`AbortController` and :class:`AbortSignal`.

Pass ``signal=controller.signal`` to ``stream()`` (or any of its siblings) and call
``controller.abort()`` from any thread or task. The stream then ends with
``Error(reason="aborted")`` whose message keeps the content and usage received so
far. A signal that is already aborted when the stream starts gives that message
at once, with no request sent.

Listeners let the I/O layer react at once, e.g. the HTTP runner closes a response
that a blocking read in another thread is waiting on. They run in the thread that
calls :meth:`AbortController.abort` (or at once, when added to an aborted signal),
so they must be quick and thread-safe. One signal can serve many streams: a stream's
listener goes when the stream ends, and the runner's listeners are held weakly, so a
long-lived signal never keeps a stream (its source, emitter and message) alive.
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from collections.abc import Callable

__all__ = ["AbortController", "AbortSignal"]

_logger = logging.getLogger("alchemy")

AbortListener = Callable[[], object]

_PRUNE_FLOOR = 64


class _Weak:
    """A listener held weakly (a bound method through :class:`weakref.WeakMethod`)."""

    __slots__ = ("ref",)

    def __init__(self, listener: AbortListener) -> None:
        self.ref: weakref.ref[AbortListener] = (
            weakref.WeakMethod(listener) if inspect.ismethod(listener) else weakref.ref(listener)
        )

    def __call__(self) -> object:
        listener = self.ref()
        return None if listener is None else listener()


def _target(entry: AbortListener) -> AbortListener | None:
    return entry.ref() if isinstance(entry, _Weak) else entry


class AbortSignal:
    """Whether, and why, an operation was aborted; created by :class:`AbortController`."""

    __slots__ = ("_lock", "_aborted", "_reason", "_listeners", "_prune_at", "__weakref__")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aborted = False
        self._reason: object = None
        self._listeners: list[AbortListener] = []
        self._prune_at = _PRUNE_FLOOR

    @property
    def aborted(self) -> bool:
        return self._aborted

    @property
    def reason(self) -> object:
        """What was given to :meth:`AbortController.abort` (``None`` when nothing was)."""
        return self._reason

    def add_listener(self, listener: AbortListener, *, weak: bool = False) -> None:
        """Calls ``listener()`` once on abort; at once if the signal is already aborted.

        With ``weak=True`` the signal holds ``listener`` (a bound method: its object)
        only weakly: once nothing else holds it, it is dropped and never called.
        """
        if not callable(listener):
            raise TypeError(f"an abort listener must be callable, got {type(listener).__name__}")
        if not isinstance(weak, bool):
            raise TypeError(f"add_listener() weak must be a bool, got {type(weak).__name__}")
        with self._lock:
            if not self._aborted:
                if len(self._listeners) >= self._prune_at:
                    self._prune()
                self._listeners.append(_Weak(listener) if weak else listener)
                return
        _call(listener)

    def remove_listener(self, listener: AbortListener) -> None:
        """Forgets ``listener`` (nothing happens if it was not added or already ran)."""
        with self._lock:
            for index, entry in enumerate(self._listeners):
                if _target(entry) == listener:
                    del self._listeners[index]
                    return

    def _prune(self) -> None:
        # Weak listeners whose object is gone leave here; the next prune waits until the
        # list has doubled, so adding stays O(1) amortised on a long-lived signal.
        self._listeners = [entry for entry in self._listeners if _target(entry) is not None]
        self._prune_at = max(2 * len(self._listeners), _PRUNE_FLOOR)

    def _abort(self, reason: object) -> bool:
        with self._lock:
            if self._aborted:
                return False
            self._reason = reason
            self._aborted = True
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            _call(listener)
        return True

    def __repr__(self) -> str:
        if self._aborted:
            return f"<AbortSignal aborted, reason={self._reason!r}>"
        return "<AbortSignal not aborted>"


class AbortController:
    """Owns an :class:`AbortSignal` and aborts it; thread-safe."""

    __slots__ = ("_signal",)

    def __init__(self) -> None:
        self._signal = AbortSignal()

    @property
    def signal(self) -> AbortSignal:
        return self._signal

    def abort(self, reason: object = None) -> None:
        """Aborts the signal and runs its listeners; later calls do nothing."""
        self._signal._abort(reason)

    def __repr__(self) -> str:
        return f"<AbortController {self._signal!r}>"


def _call(listener: AbortListener) -> None:
    # One failing listener must not stop the others (nor the thread that aborts).
    try:
        listener()
    except Exception:
        _logger.exception("alchemy: an abort listener raised")
