"""One call's observers, as the chain streams drive them (see :mod:`alchemy.accounting`)."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import AttemptInfo, CallInfo, CallObserver

if TYPE_CHECKING:
    from .._chain import Plan
    from ..types import AssistantMessage

__all__ = ["CallWatch", "start_call"]

log = logging.getLogger("alchemy.accounting")

OnFinish = Callable[["AssistantMessage"], Any]


def _report(observer: object, step: str) -> None:
    log.exception("alchemy.accounting: %s.%s failed (ignored)", type(observer).__name__, step)


def start_call(
    call: CallInfo,
    gatekeeper: CallObserver | None,
    observers: Sequence[CallObserver],
    on_finish: OnFinish | None,
) -> CallWatch:
    """Runs the gatekeeper's ``call_started`` (the budgets: its exception refuses the call), then every observer's."""
    started: list[tuple[CallObserver, object]] = []
    if gatekeeper is not None:
        started.append((gatekeeper, gatekeeper.call_started(call)))
    for observer in observers:
        try:
            started.append((observer, observer.call_started(call)))
        except Exception:
            _report(observer, "call_started")
    return CallWatch(call, started, on_finish)


class CallWatch:
    """The observers of one call and their states; ends the call exactly once."""

    __slots__ = ("call", "_started", "_on_finish", "_attempt", "_number", "_finished")

    def __init__(self, call: CallInfo, started: list[tuple[CallObserver, object]], on_finish: OnFinish | None) -> None:
        self.call = call
        self._started = started
        self._on_finish = on_finish
        self._attempt: AttemptInfo | None = None
        self._number = 0
        self._finished = False

    def attempt_opening(self, index: int, plan: Plan, refused: bool) -> None:
        """An attempt of the plan at ``index`` begins (``refused``: the guard turned it down)."""
        self._number += 1
        attempt = AttemptInfo(self.call, index, self._number, plan.model, plan.options, time.monotonic())
        self._attempt = attempt
        if refused:
            return
        for observer, state in self._started:
            try:
                observer.attempt_started(state, attempt)
            except Exception:
                _report(observer, "attempt_started")

    def attempt_over(self, message: AssistantMessage) -> None:
        """The current attempt ended with ``message``."""
        attempt, self._attempt = self._attempt, None
        if attempt is None:
            return
        for observer, state in self._started:
            try:
                observer.attempt_ended(state, attempt, message)
            except Exception:
                _report(observer, "attempt_ended")

    def _end(self, message: AssistantMessage) -> bool:
        if self._finished:
            return False
        self._finished = True
        self.attempt_over(message)
        for observer, state in self._started:
            try:
                observer.call_finished(state, message)
            except Exception:
                _report(observer, "call_finished")
        return True

    def finish(self, message: AssistantMessage) -> None:
        """Ends the call of a sync stream: every ``call_finished``, then ``on_finish``."""
        if self._end(message) and self._on_finish is not None:
            try:
                self._on_finish(message)
            except Exception:
                _report(self._on_finish, "on_finish")

    async def afinish(self, message: AssistantMessage) -> None:
        """Ends the call of an async stream; an ``async def`` ``on_finish`` is awaited."""
        if self._end(message) and self._on_finish is not None:
            try:
                result = self._on_finish(message)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                _report(self._on_finish, "on_finish")
