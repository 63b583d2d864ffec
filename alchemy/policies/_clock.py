"""The time the policies read and the waits they make, abortable through a signal."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Protocol

from ..abort import AbortSignal


class Clock(Protocol):
    """What the policies need of time: the current Unix time and abortable waits.

    ``sleep`` / ``asleep`` return early when ``signal`` aborts (the caller then looks
    at ``signal.aborted``). Tests pass a fake clock whose waits move its time.
    """

    def now(self) -> float: ...

    def sleep(self, seconds: float, signal: AbortSignal | None) -> None: ...

    async def asleep(self, seconds: float, signal: AbortSignal | None) -> None: ...


class SystemClock:
    """Wall-clock time (Unix seconds, shared by machines kept in sync by NTP)."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float, signal: AbortSignal | None) -> None:
        if signal is None:
            time.sleep(seconds)
            return
        woken = threading.Event()
        signal.add_listener(woken.set)
        try:
            woken.wait(seconds)
        finally:
            signal.remove_listener(woken.set)

    async def asleep(self, seconds: float, signal: AbortSignal | None) -> None:
        if signal is None:
            await asyncio.sleep(seconds)
            return
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        signal.add_listener(wake)
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(woken.wait(), seconds)
        finally:
            signal.remove_listener(wake)
