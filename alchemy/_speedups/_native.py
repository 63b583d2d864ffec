"""Pure-Python helpers that the compiled twins call on purpose.

CPython 3.12 and later inline the frame of a *native* coroutine when it is
awaited, while an awaitable written in C must signal its value through a
``StopIteration`` exception, which costs several times more. So on those versions
the compiled event buffer's ``__anext__`` returns :func:`next_event`, a native
coroutine. This module must stay pure Python: compiling it would make
``next_event`` a non-native coroutine and lose the point.
"""

from __future__ import annotations

from typing import Any

__all__ = ["next_event"]


async def next_event(buffer: Any) -> Any:
    """The next event of a compiled ``EventBuffer``, taken when awaited (as the pure twin does)."""
    if buffer:
        return buffer._take_queued()
    return await buffer._refill_and_take()
