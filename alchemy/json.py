"""Incremental parsing of streamed JSON: the public names of the JSON delta merger.

While a model streams a tool call, its arguments arrive as JSON text in small
fragments. ``JsonDeltaMerger`` keeps its parser state between fragments, so
feeding costs time proportional to each fragment, and ``value`` gives the
best-effort parsed value at any point (open containers closed, an unfinished
string cut at its last complete character). ``parse_partial_json`` is the
one-shot form. Which twin (compiled or pure) backs them is decided once in
:mod:`alchemy._speedups`.
"""

from __future__ import annotations

from ._speedups import JsonDeltaMerger, parse_partial_json

__all__ = ["JsonDeltaMerger", "parse_partial_json"]
