"""The hot-path kernels, each as a compiled (Cython) twin and a pure-Python twin.

The twins are picked once, here, at import time, all together:

* ``ALCHEMY_PURE_PYTHON`` set to ``1``, ``true`` or ``yes`` (any case) forces the
  pure twins; unset, empty or ``0`` leaves the choice to what is installed.
* An interpreter other than CPython always gets the pure twins.
* If any compiled twin fails to import, every kernel falls back to its pure twin
  and :data:`IMPLEMENTATION` says ``"python"`` (the import error is kept in
  :data:`COMPILED_IMPORT_ERROR` for diagnosis).

Nothing outside this module imports a twin directly (tests aside). Type checkers
only ever see the pure twins, which are the typed specification.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING, Literal

from ._limits import MAX_JSON_DEPTH

__all__ = [
    "COMPILED_IMPORT_ERROR",
    "EventBuffer",
    "EventStreamDecoder",
    "EventStreamMessage",
    "IMPLEMENTATION",
    "JsonDeltaMerger",
    "MAX_JSON_DEPTH",
    "PURE_PYTHON_REQUESTED",
    "SSEDecoder",
    "ServerSentEvent",
    "parse_partial_json",
]

_TRUE_VALUES = frozenset({"1", "true", "yes"})
_FALSE_VALUES = frozenset({"", "0"})


def pure_python_requested(value: str | None) -> bool:
    """Reads the ``ALCHEMY_PURE_PYTHON`` convention: 1/true/yes on, unset/empty/0 off."""
    if value is None:
        return False
    normalized = value.strip().lower()
    if normalized in _TRUE_VALUES:
        return True
    if normalized not in _FALSE_VALUES:
        warnings.warn(
            f"ALCHEMY_PURE_PYTHON={value!r} is not understood; use 1, true or yes to force "
            "the pure-Python twins, or 0/empty for the default. Using the default.",
            RuntimeWarning,
            stacklevel=2,
        )
    return False


PURE_PYTHON_REQUESTED: bool = pure_python_requested(os.environ.get("ALCHEMY_PURE_PYTHON"))
_FORCE_PURE = PURE_PYTHON_REQUESTED or sys.implementation.name != "cpython"

IMPLEMENTATION: Literal["cython", "python"]
COMPILED_IMPORT_ERROR: ImportError | None = None

if TYPE_CHECKING or _FORCE_PURE:
    from ._sse_py import ServerSentEvent, SSEDecoder
    from ._jsondelta_py import JsonDeltaMerger, parse_partial_json
    from ._eventbuf_py import EventBuffer
    from ._eventstream_py import EventStreamDecoder, EventStreamMessage

    IMPLEMENTATION = "python"
else:
    try:
        from ._sse_c import ServerSentEvent, SSEDecoder
        from ._jsondelta_c import JsonDeltaMerger, parse_partial_json
        from ._eventbuf_c import EventBuffer
        from ._eventstream_c import EventStreamDecoder, EventStreamMessage
    except ImportError as exc:
        COMPILED_IMPORT_ERROR = exc
        from ._sse_py import ServerSentEvent, SSEDecoder
        from ._jsondelta_py import JsonDeltaMerger, parse_partial_json
        from ._eventbuf_py import EventBuffer
        from ._eventstream_py import EventStreamDecoder, EventStreamMessage

        IMPLEMENTATION = "python"
    else:
        IMPLEMENTATION = "cython"
