"""Value kinds: what an option accepts, how it is checked, and how the docs describe it.

A kind is a small object with ``check(name, value)`` — which returns the value to
use (normalised where the kind says so, e.g. a lone stop string becomes a list) or
raises ``TypeError`` for the wrong type and ``ValueError`` for a value out of range,
naming the option, what was expected and what was given — and ``describe()``, the
short text the README's option table shows. Checks run once per call, before any
I/O; they are plain ``isinstance`` tests and comparisons, no schema library.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ..model_facts import THINKING_LEVELS
from ..request import clean_key

__all__ = [
    "AnyMap",
    "Budgets",
    "CallableKind",
    "Choice",
    "Custom",
    "Flag",
    "Instance",
    "Integer",
    "Kind",
    "Number",
    "StopSequences",
    "StrMap",
    "Text",
    "fail_type",
    "fail_value",
]


def _type_name(value: object) -> str:
    return type(value).__name__


def fail_type(name: str, expected: str, value: object) -> TypeError:
    """``option NAME must be EXPECTED, got TYPE``."""
    return TypeError(f"option {name} must be {expected}, got {_type_name(value)}")


def fail_value(name: str, expected: str, value: object) -> ValueError:
    """``option NAME must be EXPECTED, got VALUE``."""
    return ValueError(f"option {name} must be {expected}, got {value!r}")


class Kind(ABC):
    """Base of the kinds: what a value must be, and how the docs and the typed dicts say it."""

    __slots__ = ()

    @abstractmethod
    def check(self, name: str, value: object) -> Any:
        """The value to use (normalised where the kind says so), or ``TypeError`` / ``ValueError`` naming ``name``."""

    @abstractmethod
    def hint(self) -> str:
        """The type annotation of the typed option dicts (:mod:`alchemy.options._typed`)."""

    @abstractmethod
    def describe(self) -> str:
        """The short text of the README's option table."""


def _bounds(minimum: float | None, maximum: float | None, above: float | None) -> str:
    parts = []
    if above is not None:
        parts.append(f"> {above:g}")
    if minimum is not None:
        parts.append(f">= {minimum:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    return " and ".join(parts)


class Number(Kind):
    """An int or float (never a bool), optionally bounded; returned as a float."""

    __slots__ = ("minimum", "maximum", "above")

    def __init__(self, minimum: float | None = None, maximum: float | None = None, *, above: float | None = None):
        self.minimum = minimum
        self.maximum = maximum
        self.above = above

    def check(self, name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail_type(name, "a number", value)
        if not math.isfinite(value):  # NaN would go out as null; JSON has no infinity
            raise fail_value(name, "a finite number", value)
        if (
            (self.above is not None and not value > self.above)
            or (self.minimum is not None and not value >= self.minimum)
            or (self.maximum is not None and not value <= self.maximum)
        ):
            raise fail_value(name, f"a number {_bounds(self.minimum, self.maximum, self.above)}", value)
        return float(value)

    def hint(self) -> str:
        return "float"

    def describe(self) -> str:
        bounds = _bounds(self.minimum, self.maximum, self.above)
        return f"number {bounds}" if bounds else "number"


class Integer(Kind):
    """An int (never a bool), optionally bounded."""

    __slots__ = ("minimum", "maximum")

    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum = minimum
        self.maximum = maximum

    def check(self, name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail_type(name, "an int", value)
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise fail_value(name, f"an int {_bounds(self.minimum, self.maximum, None)}", value)
        return value

    def hint(self) -> str:
        return "int"

    def describe(self) -> str:
        bounds = _bounds(self.minimum, self.maximum, None)
        return f"int {bounds}" if bounds else "int"


class Flag(Kind):
    """``True`` or ``False``."""

    __slots__ = ()

    def check(self, name: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise fail_type(name, "True or False", value)
        return value

    def hint(self) -> str:
        return "bool"

    def describe(self) -> str:
        return "bool"


class Text(Kind):
    """A string, non-empty unless ``empty=True``.

    ``secret=True`` (API keys): surrounding whitespace is dropped, a control character
    inside raises, and no error repeats the value (:func:`alchemy.request.clean_key`).
    """

    __slots__ = ("empty", "secret")

    def __init__(self, *, empty: bool = False, secret: bool = False):
        self.empty = empty
        self.secret = secret

    def check(self, name: str, value: object) -> str:
        if not isinstance(value, str):
            raise fail_type(name, "a string", value)
        if self.secret:
            value = clean_key(value, f"option {name}")
        if not self.empty and not value:
            raise fail_value(name, "a non-empty string", value)
        return value

    def hint(self) -> str:
        return "str"

    def describe(self) -> str:
        return "str"


class Choice(Kind):
    """One of a fixed set of strings."""

    __slots__ = ("values",)

    def __init__(self, *values: str):
        self.values = values

    def check(self, name: str, value: object) -> str:
        if value not in self.values or not isinstance(value, str):
            raise fail_value(name, f"one of {', '.join(map(repr, self.values))}", value)
        return value

    def hint(self) -> str:
        return "Literal[" + ", ".join(repr(v) for v in self.values) + "]"

    def describe(self) -> str:
        return " \\| ".join(f'`"{v}"`' for v in self.values)


class StrMap(Kind):
    """A mapping of str to str (headers); returned as a new dict."""

    __slots__ = ()

    def check(self, name: str, value: object) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise fail_type(name, "a mapping of str to str", value)
        checked: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise TypeError(f"option {name} must map str to str, got {key!r}: {_type_name(item)}")
            # Header values often carry keys: trimmed, and never repeated in an error.
            checked[key] = clean_key(item, f"option {name}[{key!r}]")
        return checked

    def hint(self) -> str:
        return "Mapping[str, str]"

    def describe(self) -> str:
        return "dict[str, str]"


class AnyMap(Kind):
    """A mapping with str keys; returned as a new dict."""

    __slots__ = ()

    def check(self, name: str, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise fail_type(name, "a mapping", value)
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"option {name} must have str keys, got {key!r}")
        return dict(value)

    def hint(self) -> str:
        return "Mapping[str, Any]"

    def describe(self) -> str:
        return "dict[str, Any]"


class CallableKind(Kind):
    """Any callable."""

    __slots__ = ()

    def check(self, name: str, value: object) -> Any:
        if not callable(value):
            raise fail_type(name, "callable", value)
        return value

    def hint(self) -> str:
        return "Callable[..., Any]"

    def describe(self) -> str:
        return "callable"


class Instance(Kind):
    """An instance of one of the classes named ``"module:Class"`` (imported on first check)."""

    __slots__ = ("targets", "label", "type_hint", "_classes")

    def __init__(self, *targets: str, label: str, type_hint: str = "Any"):
        self.targets = targets
        self.label = label
        self.type_hint = type_hint
        self._classes: tuple[type, ...] | None = None

    def _resolve(self) -> tuple[type, ...]:
        classes = self._classes
        if classes is None:
            found = []
            for target in self.targets:
                module, _, attribute = target.partition(":")
                found.append(getattr(importlib.import_module(module), attribute))
            classes = self._classes = tuple(found)
        return classes

    def check(self, name: str, value: object) -> Any:
        if not isinstance(value, self._resolve()):
            raise fail_type(name, self.label, value)
        return value

    def hint(self) -> str:
        return self.type_hint

    def describe(self) -> str:
        return self.label


class StopSequences(Kind):
    """One stop string or a sequence of non-empty strings; returned as a list."""

    __slots__ = ()

    def check(self, name: str, value: object) -> list[str]:
        items: Sequence[object]
        if isinstance(value, str):
            items = [value]
        elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
            items = value
        else:
            raise fail_type(name, "a string or a list of strings", value)
        if not items:
            raise fail_value(name, "at least one stop string", value)
        for item in items:
            if not isinstance(item, str):
                raise fail_type(f"{name} item", "a string", item)
            if not item:
                raise fail_value(name, "non-empty strings", value)
        return [str(item) for item in items]

    def hint(self) -> str:
        return "str | Sequence[str]"

    def describe(self) -> str:
        return "str \\| list[str]"


THINKING_BUDGET_KEYS: Final = tuple(level for level in THINKING_LEVELS if level != "off")
"""The levels a budget can be given for (every level but ``off``)."""


class Budgets(Kind):
    """``thinking_budgets``: a token budget (int >= 0) per reasoning level."""

    __slots__ = ()

    def check(self, name: str, value: object) -> dict[str, int]:
        if not isinstance(value, Mapping):
            raise fail_type(name, "a mapping of level to tokens", value)
        for level, tokens in value.items():
            if level not in THINKING_BUDGET_KEYS:
                raise fail_value(f"{name} key", f"one of {', '.join(map(repr, THINKING_BUDGET_KEYS))}", level)
            if isinstance(tokens, bool) or not isinstance(tokens, int):
                raise fail_type(f"{name}[{level!r}]", "an int", tokens)
            if tokens < 0:
                raise fail_value(f"{name}[{level!r}]", "an int >= 0", tokens)
        return dict(value)

    def hint(self) -> str:
        return "Mapping[str, int]"

    def describe(self) -> str:
        return "dict[level, int]"


class Custom(Kind):
    """A kind whose check lives next to the code that knows the rule (``"module:function"``).

    The function takes ``(name, value)`` and returns the checked value or raises; it is
    imported on first use so the table does not import provider modules.
    """

    __slots__ = ("target", "text", "type_hint", "_check")

    def __init__(self, target: str, text: str, type_hint: str = "Any"):
        self.target = target
        self.text = text
        self.type_hint = type_hint
        self._check: Callable[[str, object], Any] | None = None

    def check(self, name: str, value: object) -> Any:
        check = self._check
        if check is None:
            module, _, attribute = self.target.partition(":")
            check = self._check = getattr(importlib.import_module(module), attribute)
        return check(name, value)

    def hint(self) -> str:
        return self.type_hint

    def describe(self) -> str:
        return self.text
