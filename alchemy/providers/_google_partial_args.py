"""Vertex AI's streamed function-call arguments, assembled into JSON text and a value.

With ``toolConfig.functionCallingConfig.streamFunctionCallArguments`` Vertex sends
one function call over several parts: the first carries the ``name`` and
``willContinue: true``, the next ones carry ``partialArgs`` (each a ``jsonPath``
such as ``$.items[0].name`` with a ``stringValue``, ``numberValue``, ``boolValue``
or ``nullValue``), and the part without ``willContinue`` ends the call. A string
may arrive in pieces: a piece with ``willContinue: true`` is followed by more of
the same path, and the piece without it is the last one.

:class:`PartialArguments` turns those pieces into two things at once:

* the arguments ``value`` (a dict), always exact, whatever order the paths come in;
* JSON text fragments that, joined, spell that value, so the tool call streams like
  any other provider's (``toolcall_delta`` events, best-effort arguments while it
  runs). A fragment can only extend what was written, so this works while paths
  arrive in document order, which is how Vertex sends them. A path that goes back
  (a key already written, an earlier array index) stops the fragments; the value
  is still right and replaces the streamed arguments when the call ends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Union

import orjson

__all__ = ["PartialArguments", "parse_json_path"]

Key = Union[str, int]
Path = tuple[Key, ...]

_VALUE_FIELDS: Final = ("stringValue", "numberValue", "boolValue", "nullValue")
_SEGMENT = re.compile(
    r"""\.(?P<name>[^.\[\]]+)
      | \[(?P<index>\d+)\]
      | \['(?P<single>(?:[^'\\]|\\.)*)'\]
      | \["(?P<double>(?:[^"\\]|\\.)*)"\]""",
    re.VERBOSE,
)


def parse_json_path(path: str) -> Path:
    """The keys of a JSONPath (RFC 9535) that names one location: ``$.a[0]['b c']`` -> ``("a", 0, "b c")``.

    Raises ``ValueError`` for anything else (wildcards, filters, slices, no ``$``).
    """
    if not path.startswith("$"):
        raise ValueError(f"a JSONPath must start with '$', got {path!r}")
    keys: list[Key] = []
    position = 1
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath {path!r} (at character {position})")
        if match.group("name") is not None:
            keys.append(match.group("name"))
        elif match.group("index") is not None:
            keys.append(int(match.group("index")))
        elif match.group("single") is not None:
            keys.append(_unquote(match.group("single").replace("\\'", "'").replace('"', '\\"')))
        else:
            keys.append(_unquote(match.group("double")))
        position = match.end()
    return tuple(keys)


def _unquote(escaped: str) -> str:
    try:
        value = orjson.loads(f'"{escaped}"')
    except orjson.JSONDecodeError:
        raise ValueError(f"bad escape in JSONPath member name {escaped!r}") from None
    return str(value)


class _Container:
    """One open JSON container in the text written so far."""

    __slots__ = ("key", "is_array", "count", "names")

    def __init__(self, key: Key | None, is_array: bool) -> None:
        self.key = key
        self.is_array = is_array
        self.count = 0
        self.names: set[str] = set()


class PartialArguments:
    """The arguments of one streamed function call (see the module docstring)."""

    __slots__ = ("value", "_stack", "_open_string", "_in_order", "_started", "_paths")

    def __init__(self) -> None:
        self.value: dict[str, Any] = {}
        """The arguments received so far, exact."""
        self._stack: list[_Container] = [_Container(None, False)]
        self._open_string: Path | None = None
        self._in_order = True
        self._started = False
        self._paths: dict[str, Path] = {}

    @property
    def in_order(self) -> bool:
        """Whether the fragments returned so far spell ``value`` (no path went back, no :meth:`whole`)."""
        return self._in_order

    def add(self, partial: Mapping[str, Any]) -> str:
        """Applies one ``PartialArg``; returns the JSON text it adds (``""`` when none).

        Raises ``ValueError`` for a missing or unsupported ``jsonPath``.
        """
        raw_path = partial.get("jsonPath")
        if not isinstance(raw_path, str):
            raise ValueError(f"a partial argument has no jsonPath: {dict(partial)!r}")
        path = self._paths.get(raw_path)
        if path is None:
            path = self._paths[raw_path] = parse_json_path(raw_path)
        if not path or not isinstance(path[0], str):
            raise ValueError(f"a partial argument must name a member of the arguments object, got {raw_path!r}")
        field = next((name for name in _VALUE_FIELDS if name in partial), None)
        if field is None:
            return ""
        if field == "stringValue":
            piece = partial[field]
            return self._string(path, piece if isinstance(piece, str) else str(piece), partial.get("willContinue") is True)
        value = None if field == "nullValue" else partial[field]
        return self._scalar(path, value)

    def whole(self, value: dict[str, Any]) -> str:
        """Takes complete arguments sent with the call; they replace what the pieces built.

        Returns their JSON text when nothing was written yet, else ``""`` (the text
        written so far cannot be taken back, so the fragments stop there).
        """
        self.value = dict(value)
        self._open_string = None
        written = self._started
        self._started = True
        self._in_order = False  # nothing more is written after this
        return "" if written else orjson.dumps(self.value).decode()

    def finish(self) -> str:
        """Ends the arguments; returns the JSON text that closes them."""
        if not self._started:
            self._started = True
            return "{}" if self._in_order else ""
        if not self._in_order:
            return ""
        text = self._close_string()
        while self._stack:
            text += "]" if self._stack.pop().is_array else "}"
        return text

    # -- pieces ----------------------------------------------------------------------

    def _string(self, path: Path, piece: str, continues: bool) -> str:
        if self._open_string == path:
            _append_string(self.value, path, piece)
            text = _escaped(piece) if self._in_order else ""
            if not continues:
                self._open_string = None
                if self._in_order:
                    text += '"'
            return text
        text = self._close_string()
        _set(self.value, path, piece)
        head = self._enter(path)
        if head is None:
            return text
        self._open_string = path if continues else None
        return text + head + '"' + _escaped(piece) + ("" if continues else '"')

    def _scalar(self, path: Path, value: Any) -> str:
        text = self._close_string()
        _set(self.value, path, value)
        head = self._enter(path)
        if head is None:
            return text
        return text + head + orjson.dumps(value).decode()

    def _close_string(self) -> str:
        if self._open_string is None:
            return ""
        self._open_string = None
        return '"' if self._in_order else ""

    def _enter(self, path: Path) -> str | None:
        """The text that leads from what was written to the value at ``path``, or ``None``
        once the fragments cannot follow (the path goes back)."""
        if not self._in_order:
            return None
        stack = self._stack
        leaf_depth = len(path) - 1
        keep = 1
        while keep < len(stack) and keep <= leaf_depth and stack[keep].key == path[keep - 1]:
            keep += 1
        parent = stack[keep - 1]
        if not _fits(parent, path[keep - 1]):
            self._in_order = False
            return None
        text = "" if self._started else "{"
        self._started = True
        while len(stack) > keep:
            text += "]" if stack.pop().is_array else "}"
        for depth in range(keep - 1, leaf_depth + 1):
            key = path[depth]
            text += _member(stack[depth], key)
            if depth < leaf_depth:
                child = _Container(key, isinstance(path[depth + 1], int))
                stack.append(child)
                text += "[" if child.is_array else "{"
        return text


def _fits(container: _Container, key: Key) -> bool:
    """Whether ``key`` is a new member of ``container`` that text can still add."""
    if container.is_array:
        return isinstance(key, int) and key >= container.count
    return isinstance(key, str) and key not in container.names


def _member(container: _Container, key: Key) -> str:
    """The separator and key that start a new member of ``container`` (nulls fill skipped indices)."""
    text = "," if container.count else ""
    if container.is_array:
        assert isinstance(key, int)
        gap = key - container.count
        if gap:
            text += "null," * gap
        container.count = key + 1
        return text
    assert isinstance(key, str)
    container.names.add(key)
    container.count += 1
    return text + orjson.dumps(key).decode() + ":"


def _escaped(piece: str) -> str:
    return orjson.dumps(piece).decode()[1:-1]


def _set(root: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = root
    for key, next_key in zip(path, path[1:]):
        child = _get(node, key)
        wanted = list if isinstance(next_key, int) else dict
        if not isinstance(child, wanted):
            child = wanted()
            _put(node, key, child)
        node = child
    _put(node, path[-1], value)


def _append_string(root: dict[str, Any], path: Path, piece: str) -> None:
    node: Any = root
    for key in path[:-1]:
        node = _get(node, key)
    current = _get(node, path[-1])
    _put(node, path[-1], (current if isinstance(current, str) else "") + piece)


def _get(node: Any, key: Key) -> Any:
    if isinstance(node, list):
        return node[key] if isinstance(key, int) and key < len(node) else None
    return node.get(key) if isinstance(node, dict) else None


def _put(node: Any, key: Key, value: Any) -> None:
    if isinstance(node, list):
        assert isinstance(key, int)
        if key >= len(node):
            node.extend([None] * (key + 1 - len(node)))
        node[key] = value
    else:
        node[key] = value
