"""Reads a function's docstring into a description and per-parameter descriptions.

Three styles are understood, and may even be mixed in one docstring:

* Google::

      Args:
          city (str): The city.
          units: "metric" or
              "imperial" (continuation lines are indented deeper).

* NumPy::

      Parameters
      ----------
      city : str
          The city.

* reST / Sphinx::

      :param city: The city.
      :param str units: The units.

The *description* is the free text before the first section (summary line and
extended description, as written); sections that are not about parameters
(``Returns``, ``Raises``, ``Examples``, ...) are left out of both results.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_PARAM_SECTIONS: Final = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters", "kwargs"}
)
_GOOGLE_OTHER_SECTIONS: Final = frozenset(
    {
        "returns", "return", "yields", "yield", "raises", "raise", "exceptions", "examples", "example", "notes",
        "note", "attributes", "see also", "warning", "warnings", "warns", "todo", "references", "methods",
    }
)  # fmt: skip
_GOOGLE_HEADER: Final = re.compile(r"^([A-Za-z][A-Za-z ]*?)\s*:\s*$")
_GOOGLE_ENTRY: Final = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_UNDERLINE: Final = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ENTRY: Final = re.compile(r"^\*{0,2}(\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::\s*(.*))?$")
_REST_FIELD: Final = re.compile(r"^:(\w+)((?:\s+[^:]+?)?)\s*:\s*(.*)$")
_REST_PARAM_FIELDS: Final = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})


@dataclass(frozen=True, slots=True)
class Docstring:
    """What :func:`parse_docstring` found: the description and each documented parameter's text."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    """``doc`` (a raw ``__doc__``) split into its description and parameter descriptions."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    description_end = len(lines)
    i = 0
    while i < len(lines):
        kind = _section_at(lines, i)
        if kind is None:
            i += 1
            continue
        description_end = min(description_end, i)
        if kind == "rest":
            i = _read_rest_field(lines, i, params)
        elif kind == "numpy":
            i = _read_numpy_section(lines, i, params)
        else:
            i = _read_google_section(lines, i, params)
    return Docstring(_free_text(lines[:description_end]), params)


def _section_at(lines: list[str], i: int) -> str | None:
    """``"rest"``, ``"numpy"`` or ``"google"`` when a section starts at line ``i``."""
    line = lines[i]
    if line.startswith(":") and _REST_FIELD.match(line):
        return "rest"
    if line.strip() and not line[0].isspace() and i + 1 < len(lines) and _NUMPY_UNDERLINE.match(lines[i + 1]):
        return "numpy"
    header = _GOOGLE_HEADER.match(line)
    if header is not None and not line[0].isspace():
        name = header.group(1).lower()
        if name in _GOOGLE_PARAM_SECTIONS or name in _GOOGLE_OTHER_SECTIONS:
            return "google"
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block_end(lines: list[str], start: int, deeper_than: int) -> int:
    """The first line from ``start`` that is not blank and not indented deeper than ``deeper_than``."""
    i = start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > deeper_than):
        i += 1
    return i


def _read_google_section(lines: list[str], i: int, params: dict[str, str]) -> int:
    name = _GOOGLE_HEADER.match(lines[i]).group(1).lower()  # type: ignore[union-attr]
    end = _block_end(lines, i + 1, _indent(lines[i]))
    if name not in _GOOGLE_PARAM_SECTIONS:
        return end
    body = lines[i + 1 : end]
    entry_indent = min((_indent(line) for line in body if line.strip()), default=0)
    current: str | None = None
    for line in body:
        if not line.strip():
            continue
        entry = _GOOGLE_ENTRY.match(line.strip()) if _indent(line) == entry_indent else None
        if entry is not None:
            current = entry.group(1)
            params[current] = entry.group(3).strip()
        elif current is not None:
            params[current] = _join(params[current], line.strip())
    return end


def _read_numpy_section(lines: list[str], i: int, params: dict[str, str]) -> int:
    name = lines[i].strip().lower()
    j = i + 2
    end = j
    while end < len(lines) and not _section_at(lines, end):
        end += 1
    if name not in _GOOGLE_PARAM_SECTIONS:
        return end
    current: list[str] = []
    for line in lines[j:end]:
        if not line.strip():
            continue
        if _indent(line) == 0:
            entry = _NUMPY_ENTRY.match(line.strip())
            current = [n.strip().lstrip("*") for n in entry.group(1).split(",")] if entry else []
            for param in current:
                params[param] = ""
        else:
            for param in current:
                params[param] = _join(params[param], line.strip())
    return end


def _read_rest_field(lines: list[str], i: int, params: dict[str, str]) -> int:
    match = _REST_FIELD.match(lines[i])
    assert match is not None
    end = _block_end(lines, i + 1, 0)
    kind, argument, text = match.group(1), match.group(2).split(), match.group(3).strip()
    if kind in _REST_PARAM_FIELDS and argument:
        for line in lines[i + 1 : end]:
            if line.strip():
                text = _join(text, line.strip())
        params[argument[-1].lstrip("*")] = text
    return end


def _join(text: str, more: str) -> str:
    return f"{text} {more}" if text else more


def _free_text(lines: list[str]) -> str:
    """The description lines as written (``cleandoc`` already removed the common indent)."""
    return "\n".join(line.rstrip() for line in lines).strip()
