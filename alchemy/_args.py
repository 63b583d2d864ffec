"""Argument checks for the public API: one wording for every programmer error.

Every check raises at once, before any I/O, with ``TypeError`` for a value of the
wrong type and ``ValueError`` for a value out of range, in one shape::

    OWNER NAME must be EXPECTED, got GIVEN

where ``OWNER`` is the class or function (``UserMessage``, ``get_model()``) and
``NAME`` the argument or field (``content[0]``, ``max_tokens``). ``GIVEN`` is the type
for a type error and a short repr for a value error (long values are cut, so a
message never carries a whole document).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, NoReturn

from ._speedups import MAX_JSON_DEPTH

__all__ = [
    "describe",
    "fail_type",
    "fail_value",
    "need_bool",
    "need_count",
    "need_instance",
    "need_json",
    "need_mapping_of_text",
    "need_number",
    "need_text",
]

_SHOWN: Final = 60
"""Characters of a value's repr that an error message shows."""



def describe(value: object) -> str:
    """A short repr of ``value`` for a message (cut to 60 characters)."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


def fail_type(owner: str, name: str, expected: str, value: object, hint: str = "") -> NoReturn:
    """Raises ``TypeError``: ``OWNER NAME must be EXPECTED, got TYPE`` (and a hint when given)."""
    raise TypeError(f"{owner} {name} must be {expected}, got {_type_name(value)}{hint}")


def fail_value(owner: str, name: str, expected: str, value: object, hint: str = "") -> NoReturn:
    """Raises ``ValueError``: ``OWNER NAME must be EXPECTED, got VALUE`` (and a hint when given)."""
    raise ValueError(f"{owner} {name} must be {expected}, got {describe(value)}{hint}")


def need_text(owner: str, name: str, value: object, *, empty: bool = True, optional: bool = False) -> None:
    """A ``str`` (non-empty unless ``empty``); ``None`` too when ``optional``."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        fail_type(owner, name, "a str" + (" or None" if optional else ""), value)
    if not empty and not value:
        fail_value(owner, name, "a non-empty str", value)


def need_bool(owner: str, name: str, value: object, *, optional: bool = False) -> None:
    """``True`` or ``False``; ``None`` too when ``optional``."""
    if value is None and optional:
        return
    if not isinstance(value, bool):
        fail_type(owner, name, "True or False" + (" or None" if optional else ""), value)


def need_count(owner: str, name: str, value: object, *, minimum: int = 0, optional: bool = False) -> None:
    """An ``int`` (never a bool) of at least ``minimum``; ``None`` too when ``optional``."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        fail_type(owner, name, "an int" + (" or None" if optional else ""), value)
    if value < minimum:
        fail_value(owner, name, f"an int >= {minimum}", value)


def need_number(
    owner: str, name: str, value: object, *, minimum: float | None = None, optional: bool = False
) -> None:
    """A finite int or float (never a bool, NaN or infinity), at least ``minimum`` when given."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail_type(owner, name, "a number" + (" or None" if optional else ""), value)
    if not math.isfinite(value):
        fail_value(owner, name, "a finite number", value)
    if minimum is not None and value < minimum:
        fail_value(owner, name, f"a number >= {minimum:g}", value)


def need_instance(owner: str, name: str, value: object, cls: type, *, optional: bool = False, hint: str = "") -> None:
    """An instance of ``cls``; ``None`` too when ``optional``."""
    if value is None and optional:
        return
    if not isinstance(value, cls):
        fail_type(owner, name, f"an alchemy.{cls.__name__}" + (" or None" if optional else ""), value, hint)


_JSON_SCALARS: Final = frozenset({str, int, bool, type(None)})


def need_json(owner: str, name: str, value: object) -> None:
    """A JSON value: dicts with str keys, lists, tuples, str, finite numbers, bools, None.

    Raises ``TypeError`` naming the path of the first value that is not JSON (a Python
    type such as ``str`` written where ``"string"`` was meant, a set, bytes, an object)
    and ``ValueError`` for NaN or infinity (JSON has neither) or nesting deeper than
    :data:`alchemy.json.MAX_JSON_DEPTH` (the limit streamed JSON has too). A plain value
    passes one quick walk; paths are built only to explain a failure. Iterative, so a
    hostile depth cannot overflow the stack.
    """
    if not _is_plain_json(value):
        _explain_json(owner, name, value)


def _is_plain_json(value: object) -> bool:
    """Whether ``value`` is made of the exact JSON types only (no subclasses), finite and not too deep."""
    pending: list[tuple[object, int]] = [(value, 0)]
    pop, push = pending.pop, pending.append
    while pending:
        item, depth = pop()
        kind = type(item)
        if kind in _JSON_SCALARS:
            continue
        if kind is float:
            if item - item != 0.0:  # type: ignore[operator]  # NaN and infinity
                return False
            continue
        if depth >= MAX_JSON_DEPTH:
            return False
        if kind is dict:
            for key, child in item.items():  # type: ignore[attr-defined]
                if type(key) is not str:
                    return False
                push((child, depth + 1))
        elif kind is list or kind is tuple:
            for child in item:  # type: ignore[attr-defined]
                push((child, depth + 1))
        else:
            return False
    return True


def _explain_json(owner: str, name: str, value: object) -> None:
    """Walks ``value`` again with paths and raises for the first part that is not JSON
    (returns when every part is, e.g. a subclass of dict or int)."""
    pending: list[tuple[object, str, int]] = [(value, name, 0)]
    while pending:
        item, path, depth = pending.pop()
        if item is None or isinstance(item, (str, bool, int)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                fail_value(owner, path, "a finite number (JSON has no NaN or infinity)", item)
            continue
        if depth >= MAX_JSON_DEPTH:
            shown = path if len(path) <= 2 * _SHOWN else f"{path[:_SHOWN]}...{path[-_SHOWN // 2 :]}"
            raise ValueError(f"{owner} {shown} must nest at most {MAX_JSON_DEPTH} levels deep, got deeper (or a cycle)")
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    fail_type(owner, f"{path} key {describe(key)}", "a str (JSON object keys are strings)", key)
                pending.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, (list, tuple)):
            pending.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        else:
            hint = ""
            if isinstance(item, type):
                hint = f" ({item.__name__!r}: a Python type; JSON Schema names types as strings, e.g. \"string\")"
            fail_type(owner, path, "a JSON value (dict, list, str, number, bool or None)", item, hint)


def need_mapping_of_text(owner: str, name: str, value: object, *, optional: bool = False) -> None:
    """A mapping of ``str`` to ``str`` (HTTP headers); ``None`` too when ``optional``."""
    if value is None and optional:
        return
    if not isinstance(value, Mapping):
        fail_type(owner, name, "a dict of str to str" + (" or None" if optional else ""), value)
    for key, item in value.items():
        if not isinstance(key, str):
            fail_type(owner, f"{name} key {describe(key)}", "a str", key)
        if not isinstance(item, str):
            fail_type(owner, f"{name}[{key!r}]", "a str", item)

