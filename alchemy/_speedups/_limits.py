"""Limits that both twins of a kernel, and the code around the kernels, share (declared once here)."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["MAX_JSON_DEPTH", "exceeds_json_depth"]

MAX_JSON_DEPTH: Final = 128
"""How deep arrays and objects may nest in JSON that alchemy parses from a provider.

Tool-call arguments nest a handful of levels in practice; 128 (serde_json's default
recursion limit too) leaves room for any real value while keeping everything done
with it later safe: ``orjson.dumps`` gives up past 254 levels (the value sits a few
levels deep inside a request body or a saved Context), and ``repr``, ``json.dumps``,
``copy.deepcopy`` and recursive walkers stay far below Python's recursion limit.
"""


def exceeds_json_depth(value: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether lists and dicts nest more than ``limit`` levels deep in ``value``.

    The root container is level 1, as in the JSON delta merger. Iterative, so a value
    of any depth is measured without recursion; scalars never exceed.
    """
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[dict[Any, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False
