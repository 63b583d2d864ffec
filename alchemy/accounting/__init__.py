"""Accounting and observability around the calls of an :class:`alchemy.Client`.

This package is the one interface the Client's accounting pieces implement:
budgets (:mod:`alchemy.accounting.budgets`), the usage ledger
(:mod:`alchemy.accounting.ledger`), OpenTelemetry (:mod:`alchemy.accounting.telemetry`)
and anything a user plugs in. They are all :class:`CallObserver` objects::

    Client(observers=[...], on_finish=..., budgets=[...], ledger=..., telemetry=...)

What the Client's arguments become: ``budgets=`` a list of
:class:`~alchemy.accounting.budgets.Budget` (or a
:class:`~alchemy.accounting.budgets.Budgets`), the gatekeeper run first;
``ledger=`` whatever :func:`alchemy.accounting.ledger.ledger_observer` takes (``None``:
the ``ALCHEMY_LEDGER`` file when set); ``telemetry=`` a
:class:`~alchemy.accounting.telemetry.Telemetry`, ``True`` (a default one), ``False``
(off) or ``None`` (on when the application imported OpenTelemetry); ``observers=`` any
objects of this protocol. They run in that order. With none of them a call builds
nothing and pays nothing.

When the observers run (never per event, never per chunk):

1. ``call_started(call)`` at the call itself (a call the budgets refuse reaches no
   observer), inside ``Client.stream()`` /
   ``astream()`` / ``complete()`` ... before the stream is returned and before
   anything is sent. It returns the observer's *state* for this call (any object,
   ``None`` included); the Client hands that state back to the other three methods.
2. ``attempt_started(state, attempt)`` when an attempt of the fallback chain is about
   to open (after the Client's rate limits and breakers let it through; a refused
   attempt gets no ``attempt_started`` but does get ``attempt_ended``).
3. ``attempt_ended(state, attempt, message)`` when that attempt is over: it failed and
   the chain moves on (``message`` is its error message), or it was the answering one
   and the stream ended (``message`` is the final message).
4. ``call_finished(state, message)`` exactly once, with the final message, when the
   consumer's stream ends: ``done``, ``error``, or ``aborted`` (``close()`` / leaving a
   ``with`` block early; a stream closed before its first event was wanted finishes
   as ``aborted`` without any attempt).

Rules for observers: they are synchronous and cheap (the same code serves sync and
async streams; do blocking I/O only if it is short, like a local SQLite insert or a
local Redis script). An exception raised by an observer is logged on the
``alchemy.accounting`` logger and never reaches the caller, with one exception: the
Client's own budgets, which refuse a call by raising
:class:`~alchemy.errors.BudgetExceededError` from ``call_started``. Observers run in
the order given, after the budgets at the start and before ``on_finish`` at the end.

``on_finish(message)`` (a plain function or an ``async def``) runs after every
observer's ``call_finished``. An ``async def`` hook is awaited on async streams; a
sync call (``stream`` / ``complete``) with an async hook raises ``TypeError`` at the call.

The ``tags`` option (``tags={"user": "u1", "feature": "search"}``, str to str) is
available on every call and every wire API; it is never sent to the provider. It is
copied to :attr:`CallInfo.tags` and onto the final message
(:attr:`alchemy.types.AssistantMessage.tags`, JSON ``"tags"``, omitted when empty).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..client import Client
    from ..options import StreamOptions
    from ..types import AssistantMessage, Context, Model

__all__ = ["AttemptInfo", "CallInfo", "CallObserver"]


@dataclass(frozen=True, slots=True)
class CallInfo:
    """One call of a Client, as observers see it at ``call_started``.

    ``function`` is the Client method's stream form (``"stream"``, ``"astream"``,
    ``"stream_simple"``, ``"astream_simple"``; ``complete`` runs ``stream``);
    ``is_async`` whether it is an async call. ``models`` is the fallback chain, in
    order. ``options`` are the call's options as the caller gave them merged over the
    Client's defaults (read-only; ``api_key`` and ``signal`` are left out; a model's
    own checked options are on :attr:`AttemptInfo.options`). ``tags`` is the ``tags``
    option (empty when not given). ``started_at`` is the wall-clock time of the call
    (Unix seconds), ``started`` its ``time.monotonic()`` reading (for durations).
    ``context`` is the caller's Context: read it only when content capture is
    explicitly enabled.
    """

    client: Client
    function: str
    is_async: bool
    models: tuple[Model, ...]
    context: Context
    options: Mapping[str, Any]
    tags: Mapping[str, str]
    started_at: float
    started: float


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One attempt of a call's fallback chain.

    ``index`` is the model's position in :attr:`CallInfo.models`; ``number`` counts
    the attempts of the call from 1 (a chain that skips a model on ``context_overflow``
    has ``number`` below ``index + 1``). ``options`` are the checked options the
    attempt runs with. ``started`` is its ``time.monotonic()`` reading. Retries inside
    one attempt (``max_retries``) are the provider runner's: their count is on
    ``message.metrics.retries`` when the attempt ends.
    """

    call: CallInfo
    index: int
    number: int
    model: Model
    options: StreamOptions
    started: float


@runtime_checkable
class CallObserver(Protocol):
    """What the Client calls around each call and each attempt; see the module docstring."""

    def call_started(self, call: CallInfo) -> object: ...

    def attempt_started(self, state: object, attempt: AttemptInfo) -> None: ...

    def attempt_ended(self, state: object, attempt: AttemptInfo, message: AssistantMessage) -> None: ...

    def call_finished(self, state: object, message: AssistantMessage) -> None: ...
