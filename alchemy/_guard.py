"""The Client's rate limits and circuit breakers around one attempt (a :class:`alchemy._chain.Guard`).

Keys: a limit or breaker given for ``"provider"`` guards every model of that
provider; one given for ``"provider/id"`` guards that model (both apply when both
are given, the provider's first). A single :class:`~alchemy.policies.CircuitBreaker`
given as ``breakers=`` guards each provider with its own breaker.

Before an attempt: the breaker check (``circuit_open`` at once while open), then a
permit of each rate limit (waiting, abortable, bounded by ``max_wait``). The token
estimate is the prompt (:func:`alchemy.count_tokens`) plus ``max_tokens`` (else the
model's output limit), never more than the limit itself; it is counted only for
limits with ``tokens_per_minute``. After the attempt: the permits settle with the
tokens the provider reported, the breaker records the outcome, a ``rate_limit``
failure's ``retry_after`` pauses the limited keys for every caller of the store, and
the provider's rate-limit headers tighten them. The wait shows in
``message.metrics.rate_limit_wait``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .policies import Breakers, CircuitBreaker, Permit, RateLimit, RateLimits, Store

if TYPE_CHECKING:
    from ._chain import Plan
    from .errors import ErrorKind
    from .policies import BreakerState
    from .types import AssistantMessage, Model

__all__ = ["PolicyGuard"]


@dataclass(slots=True)
class _Ticket:
    breaker: tuple[str, CircuitBreaker] | None
    permits: list[Permit]


class PolicyGuard:
    """Rate limits and breakers for the attempts of one Client, over one store."""

    __slots__ = ("rate_limits", "breakers", "_limits", "_breakers", "_every_provider")

    def __init__(
        self,
        limits: Mapping[str, RateLimit],
        breakers: Mapping[str, CircuitBreaker] | CircuitBreaker | None,
        store: Store,
    ) -> None:
        self.rate_limits = RateLimits(store)
        self.breakers = Breakers(store)
        self._limits = dict(limits)
        self._every_provider = breakers if isinstance(breakers, CircuitBreaker) else None
        self._breakers = {} if breakers is None or isinstance(breakers, CircuitBreaker) else dict(breakers)

    def snapshot(self) -> dict[str, BreakerState]:
        return self.breakers.snapshot()

    # -- which keys guard a model ---------------------------------------------------------------

    def _limited(self, model: Model) -> list[tuple[str, RateLimit]]:
        found = []
        for key in (model.provider, model.key):
            limit = self._limits.get(key)
            if limit is not None:
                found.append((key, limit))
        return found

    def _breaker(self, model: Model) -> tuple[str, CircuitBreaker] | None:
        for key in (model.key, model.provider):
            config = self._breakers.get(key)
            if config is not None:
                return key, config
        if self._every_provider is not None:
            return model.provider, self._every_provider
        return None

    # -- before ---------------------------------------------------------------------------------------

    def before(self, plan: Plan) -> _Ticket:
        breaker = self._breaker(plan.model)
        if breaker is not None:
            self.breakers.check(*breaker)
        ticket = _Ticket(breaker, [])
        try:
            for key, limit in self._limited(plan.model):
                tokens = _estimate(plan, limit)
                ticket.permits.append(self.rate_limits.acquire(key, limit, tokens, plan.options.signal))
        except Exception as exc:
            self._refused(ticket, exc)
            raise
        return ticket

    async def abefore(self, plan: Plan) -> _Ticket:
        breaker = self._breaker(plan.model)
        if breaker is not None:
            await self.breakers.acheck(*breaker)
        ticket = _Ticket(breaker, [])
        try:
            for key, limit in self._limited(plan.model):
                tokens = _estimate(plan, limit)
                ticket.permits.append(await self.rate_limits.aacquire(key, limit, tokens, plan.options.signal))
        except Exception as exc:
            await self._arefused(ticket, exc)
            raise
        return ticket

    def _refused(self, ticket: _Ticket, exc: Exception) -> None:
        """Nothing was sent: the permits taken give their room back, a probe turn is freed."""
        for permit in ticket.permits:
            permit.settle(0)
        if ticket.breaker is not None:
            self.breakers.record(*ticket.breaker, _kind_of(exc))

    async def _arefused(self, ticket: _Ticket, exc: Exception) -> None:
        for permit in ticket.permits:
            await permit.asettle(0)
        if ticket.breaker is not None:
            await self.breakers.arecord(*ticket.breaker, _kind_of(exc))

    # -- after -----------------------------------------------------------------------------------------

    def after(self, ticket: object, message: AssistantMessage) -> None:
        assert isinstance(ticket, _Ticket)
        tokens = _used(message)
        for permit in ticket.permits:
            permit.settle(tokens)
        if ticket.breaker is not None:
            self.breakers.record(*ticket.breaker, _failure(message))
        pause = _pause(message)
        for permit in ticket.permits:
            if pause:
                self.rate_limits.pause(permit.key, pause)
            if message.metrics is not None:
                self.rate_limits.observe_rate_limit(permit.key, message.metrics.rate_limit)
        _show_wait(ticket, message)

    async def aafter(self, ticket: object, message: AssistantMessage) -> None:
        assert isinstance(ticket, _Ticket)
        tokens = _used(message)
        for permit in ticket.permits:
            await permit.asettle(tokens)
        if ticket.breaker is not None:
            await self.breakers.arecord(*ticket.breaker, _failure(message))
        pause = _pause(message)
        for permit in ticket.permits:
            if pause:
                await self.rate_limits.apause(permit.key, pause)
            if message.metrics is not None:
                await self.rate_limits.aobserve_rate_limit(permit.key, message.metrics.rate_limit)
        _show_wait(ticket, message)


def _estimate(plan: Plan, limit: RateLimit) -> int:
    if limit.tokens_per_minute is None:
        return 0
    from .tokens import count_tokens

    prompt = count_tokens(plan.model, plan.context).tokens
    reply = plan.options.max_tokens or plan.model.max_tokens
    return min(prompt + reply, max(limit.tokens_per_minute, prompt))


def _used(message: AssistantMessage) -> int | None:
    """The tokens the provider counted; ``None`` keeps the estimate (content came but no usage)."""
    usage = message.usage
    total = usage.input + usage.output + usage.cache_read + usage.cache_write
    if total > 0:
        return total
    return None if message.content else 0


def _failure(message: AssistantMessage) -> ErrorKind | None:
    if message.stop_reason == "aborted":
        return "aborted"
    if message.stop_reason != "error":
        return None
    return message.error.kind if message.error is not None else "unknown"


def _pause(message: AssistantMessage) -> float:
    info = message.error
    if message.stop_reason != "error" or info is None or info.kind != "rate_limit":
        return 0.0
    return info.retry_after or 0.0


def _kind_of(exc: Exception) -> ErrorKind:
    from .errors import ErrorInfo

    return ErrorInfo.from_exception(exc).kind


def _show_wait(ticket: _Ticket, message: AssistantMessage) -> None:
    metrics = message.metrics
    if metrics is not None and ticket.permits:
        metrics.rate_limit_wait = sum(permit.waited for permit in ticket.permits)
