"""A griffe extension: alchemy's reST-flavoured docstrings, readable as Markdown.

alchemy's docstrings are written for ``help()`` and Sphinx habits: cross-references
as roles (``:class:`~alchemy.types.Context```), ``::`` before an example, and
reST simple tables (``====  ====``). mkdocstrings renders docstrings as Markdown,
where those would show as raw markup. This extension rewrites each docstring
before it is rendered:

* a role becomes an optional cross-reference (a link when the target is in the
  API reference, plain code otherwise; ``~`` keeps only the last name, as in Sphinx);
* a paragraph ending in ``::`` ends in ``:`` (the indented block after it already
  renders as code);
* a definition (a short term, then its text indented below it) becomes the term in
  bold above its text, which would otherwise run into one paragraph;
* a simple table becomes a Markdown table (a row whose first cell is empty, or
  follows a first cell with an unclosed ````code````, continues the row above).

The docstrings themselves stay as they are. Loaded by mkdocstrings (see ``mkdocs.yml``).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|type):`(?P<target>[^`]+)`")
_RULE = re.compile(r"^=+(?: +=+)+ *$")
_LITERAL_MARKER = re.compile(r"(?<=\S)::$")


class RstDocstrings(griffe.Extension):
    """Rewrites every docstring's reST roles, ``::`` markers and simple tables (see the module docstring)."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value, obj)


def rewrite(text: str, obj: griffe.Object | None = None) -> str:
    """``text`` with roles turned into cross-references, ``::`` into ``:`` and tables into Markdown."""
    lines = _definitions(_tables(text.split("\n")))
    lines = [_LITERAL_MARKER.sub(":", line) for line in lines]
    return _ROLE.sub(lambda match: _reference(match["target"], obj), "\n".join(lines))


def _reference(target: str, obj: griffe.Object | None) -> str:
    short = target.startswith("~")
    name = target.lstrip("~").rstrip("()")
    title = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
    identifier = _resolve(name, obj)
    code = f"<code>{html.escape(title)}</code>"
    return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'


def _resolve(name: str, obj: griffe.Object | None) -> str:
    """The full dotted path ``name`` means where it is written (relative and bare names included)."""
    if obj is None:
        return name
    if name.startswith("."):
        module = obj.module
        base = module.path if module.is_package else module.parent.path if module.parent else module.path
        dots = len(name) - len(name.lstrip("."))
        for _ in range(dots - 1):
            base = base.rsplit(".", 1)[0]
        return f"{base}.{name.lstrip('.')}"
    head, _, rest = name.partition(".")
    try:
        resolved = obj.resolve(head)
    except (griffe.NameResolutionError, KeyError):
        return name
    return f"{resolved}.{rest}" if rest else resolved


_TERM = re.compile(r"^[A-Z][\w ,/()-]{0,38}[\w)]$")


def _definitions(lines: list[str]) -> list[str]:
    """reST definition lists (``Term`` then its text indented by four) as a bold term and a paragraph."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        starts_block = i == 0 or not lines[i - 1].strip()
        if starts_block and _TERM.match(line) and i + 1 < len(lines) and lines[i + 1].startswith("    "):
            out += [f"**{line}**", ""]
            i += 1
            while i < len(lines) and lines[i].startswith("    "):
                out.append(lines[i][4:])
                i += 1
            continue
        out.append(line)
        i += 1
    return out


def _tables(lines: list[str]) -> list[str]:
    """Every reST simple table of ``lines`` (rule, header, rule, rows, rule) as a Markdown table."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        end = _table_end(lines, i)
        if end is None:
            out.append(lines[i])
            i += 1
            continue
        out.extend(["", *_markdown_table(lines[i : end + 1]), ""])
        i = end + 1
    return out


def _table_end(lines: list[str], start: int) -> int | None:
    """The index of the closing rule of a simple table starting at ``start``, or ``None``."""
    if not _RULE.match(lines[start]):
        return None
    rules = [j for j in range(start, len(lines)) if lines[j].strip() and _RULE.match(lines[j])]
    if len(rules) < 3 or any(not lines[j].strip() for j in range(start, rules[2])):
        return None
    return rules[2]


def _markdown_table(table: list[str]) -> list[str]:
    starts = [match.start() for match in re.finditer(r"=+", table[0])]
    second = next(j for j in range(1, len(table)) if _RULE.match(table[j]))
    header = [" ".join(cells) for cells in zip(*[_cells(line, starts) for line in table[1:second]])]
    rows: list[list[str]] = []
    for line in table[second + 1 : -1]:
        cells = _cells(line, starts)
        if rows and (not cells[0] or rows[-1][0].count("``") % 2):
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _cells(line: str, starts: list[int]) -> list[str]:
    bounds = [*starts[1:], None]
    return [line[start:end].strip().replace("|", "\\|") for start, end in zip(starts, bounds)]
