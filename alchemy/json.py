"""Incremental parsing of streamed JSON: the public names of the JSON delta merger.

While a model streams a tool call, its arguments arrive as JSON text in small
fragments. ``JsonDeltaMerger`` keeps its parser state between fragments, so
feeding costs time proportional to each fragment, and ``value`` gives the
best-effort parsed value at any point (open containers closed, an unfinished
string cut at its last complete character). ``parse_partial_json`` is the
one-shot form. Which twin (compiled or pure) backs them is decided once in
:mod:`alchemy._speedups`.

Arrays and objects may nest at most :data:`MAX_JSON_DEPTH` (128) levels deep in the
JSON alchemy parses from a provider (tool-call arguments, whether streamed or whole):
past it the merger stops with an ``error`` (``too_deep`` is true) and its value
stops at the limit, and a stream whose tool call nests deeper ends with an error.
"""

from __future__ import annotations

from ._speedups import MAX_JSON_DEPTH, JsonDeltaMerger, parse_partial_json

__all__ = ["MAX_JSON_DEPTH", "JsonDeltaMerger", "parse_partial_json"]
