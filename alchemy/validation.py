"""Tool-call arguments checked against the tool's JSON Schema, with pi-ai's coercion.

:func:`validate_tool_call` finds the called tool, coerces scalar arguments the way
pi-ai's AJV setup (``coerceTypes: true``) does, validates the result with the
``jsonschema`` library and returns the coerced copy; the tool call is never changed.
On failure it raises :class:`alchemy.errors.ToolValidationError`, whose text is meant
to go back to the model as an error tool result so it can correct the call.

Coercion applies where a schema names a ``type`` that the value does not have:

* to ``number`` / ``integer``: a numeric string (``"5"`` -> 5, ``" 2.5 "`` -> 2.5;
  ``"5.0"`` -> 5 for an integer), ``True``/``False`` -> 1/0, ``None`` -> 0;
* to ``boolean``: ``"true"``/``"false"``, 1/0, ``None`` -> ``False``;
* to ``string``: numbers and booleans as JSON spells them (``5`` -> ``"5"``,
  ``True`` -> ``"true"``), ``None`` -> ``""``;
* to ``null``: ``""``, 0 and ``False``.

Arrays and objects are never created from scalars. With several types
(``["integer", "null"]``) a value that already has one of them is left alone;
otherwise the types are tried in the order written. Coercion follows ``properties``,
``patternProperties``, ``additionalProperties``, ``items`` (and ``prefixItems``),
``allOf`` and local ``$ref``; under ``anyOf`` / ``oneOf`` it uses the first branch
the coerced value satisfies, and leaves the value alone when none does.

Schemas without ``$schema`` are read as draft 7 (AJV's default, so pi-ai's tools mean
the same here); ``format`` is checked. Compiled validators are cached per schema.
``jsonschema`` is imported on first use, so ``import alchemy`` does not pay for it.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from .errors import ToolValidationError
from .types import Tool, ToolCall

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

__all__ = [
    "coerce_arguments",
    "tool_argument_error",
    "unknown_tool_error",
    "validate_tool_arguments",
    "validate_tool_call",
]

_NUMERIC = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
_MAX_REF_DEPTH = 32
_VALIDATOR_CACHE_SIZE = 256


# --------------------------------------------------------------------------- coercion


def _has_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return False


_NO_COERCION = object()


def _to_number(value: Any, integer: bool) -> Any:
    if isinstance(value, bool):
        return int(value)
    if value is None:
        return 0
    if not isinstance(value, str) or not _NUMERIC.fullmatch(value):
        return _NO_COERCION
    text = value.strip()
    if not any(c in text for c in ".eE"):
        try:
            return int(text)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            return _NO_COERCION
    number = float(text)
    if not math.isfinite(number):
        return _NO_COERCION
    if integer:
        return int(number) if number.is_integer() else _NO_COERCION
    return number


def _to_boolean(value: Any) -> Any:
    if value == "true":
        return True
    if value == "false":
        return False
    if value is None:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return _NO_COERCION


def _to_string(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return _NO_COERCION


def _to_null(value: Any) -> Any:
    is_zero = isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
    if value == "" or value is False or is_zero:
        return None
    return _NO_COERCION


def _coerce_scalar(value: Any, kind: str) -> Any:
    if kind in ("number", "integer"):
        return _to_number(value, kind == "integer")
    if kind == "boolean":
        return _to_boolean(value)
    if kind == "string":
        return _to_string(value)
    if kind == "null":
        return _to_null(value)
    return _NO_COERCION


def _coerce_type(value: Any, declared: Any) -> Any:
    kinds = [declared] if isinstance(declared, str) else [k for k in declared if isinstance(k, str)]
    if any(_has_type(value, k) for k in kinds):
        return value
    if isinstance(value, (dict, list)):
        return value
    for kind in kinds:
        coerced = _coerce_scalar(value, kind)
        if coerced is not _NO_COERCION:
            return coerced
    return value


def _resolve_ref(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return None
    node = root
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _coerce(value: Any, schema: Any, root: Any, depth: int = 0) -> Any:
    """``value`` coerced in place where ``schema`` asks for another scalar type; returns
    the (possibly replaced) value. Containers are the caller's own copy."""
    if not isinstance(schema, dict) or depth > _MAX_REF_DEPTH:
        return value
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve_ref(root, ref)
        if target is not None:
            value = _coerce(value, target, root, depth + 1)
    if "type" in schema:
        value = _coerce_type(value, schema["type"])
    for sub in schema.get("allOf", ()) if isinstance(schema.get("allOf"), list) else ():
        value = _coerce(value, sub, root, depth + 1)
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            value = _coerce_to_branch(value, branches, root, depth)
    if isinstance(value, dict):
        _coerce_object(value, schema, root, depth)
    elif isinstance(value, list):
        _coerce_array(value, schema, root, depth)
    return value


def _coerce_to_branch(value: Any, branches: list[Any], root: Any, depth: int) -> Any:
    """The value as coerced by the first branch it then satisfies (or left alone)."""
    if any(_branch_accepts(value, b, root) for b in branches):
        return value
    for branch in branches:
        candidate = _coerce(copy.deepcopy(value), branch, root, depth + 1)
        if _branch_accepts(candidate, branch, root):
            return candidate
    return value


def _branch_accepts(value: Any, branch: Any, root: Any) -> bool:
    if not isinstance(branch, dict):
        return bool(branch)
    scoped = dict(branch)
    for keyword in ("$defs", "definitions"):
        if isinstance(root, dict) and keyword in root and keyword not in scoped:
            scoped[keyword] = root[keyword]
    try:
        return bool(_validator(_schema_key(scoped)).is_valid(value))
    except Exception:  # a reference this branch cannot resolve on its own: no coercion here
        return False


def _coerce_object(value: dict[str, Any], schema: dict[str, Any], root: Any, depth: int) -> None:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    patterns = schema.get("patternProperties")
    patterns = patterns if isinstance(patterns, dict) else {}
    additional = schema.get("additionalProperties")
    for key in list(value):
        if key in properties:
            value[key] = _coerce(value[key], properties[key], root, depth + 1)
            continue
        matched = False
        for pattern, sub in patterns.items():
            try:
                if re.search(pattern, key):
                    value[key] = _coerce(value[key], sub, root, depth + 1)
                    matched = True
            except re.error:
                continue
        if not matched and isinstance(additional, dict):
            value[key] = _coerce(value[key], additional, root, depth + 1)


def _coerce_array(value: list[Any], schema: dict[str, Any], root: Any, depth: int) -> None:
    prefix = schema.get("prefixItems")
    items = schema.get("items")
    positional = prefix if isinstance(prefix, list) else items if isinstance(items, list) else []
    rest = items if isinstance(items, dict) else schema.get("additionalItems") if isinstance(items, list) else None
    for i in range(len(value)):
        sub = positional[i] if i < len(positional) else rest
        if isinstance(sub, dict):
            value[i] = _coerce(value[i], sub, root, depth + 1)


def coerce_arguments(schema: dict[str, Any], arguments: Any) -> Any:
    """A deep copy of ``arguments`` with scalars coerced to the types ``schema`` names."""
    return _coerce(_deep_copy(arguments), schema, schema)


def _deep_copy(value: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(value)


# --------------------------------------------------------------------------- validation


def _schema_key(schema: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise ValueError(f"a tool schema must be JSON data: {exc}") from exc


@lru_cache(maxsize=_VALIDATOR_CACHE_SIZE)
def _validator(key: bytes) -> Validator:
    """The compiled validator of one schema (given as canonical JSON bytes), cached."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    schema = orjson.loads(key)
    validator_cls = validator_for(schema, default=Draft7Validator)
    try:
        validator_cls.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from exc
    validator: Validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    return validator


def _path_text(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = _missing_property(error)
        if missing is not None:
            return f"{path}.{missing}" if path else missing
    return path or "(root)"


def _missing_property(error: ValidationError) -> str | None:
    required, instance = error.validator_value, error.instance
    if isinstance(required, list) and isinstance(instance, dict):
        for name in required:
            if isinstance(name, str) and name not in instance and repr(name) in error.message:
                return name
    return None


def _reason(error: ValidationError) -> str:
    if error.validator == "required" and _missing_property(error) is not None:
        return "required property is missing"
    return str(error.message)


def _dump_received(arguments: Any) -> str:
    try:
        return orjson.dumps(arguments, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(arguments)


def _format_failure(tool_name: str, errors: tuple[tuple[str, str], ...], arguments: Any) -> str:
    lines = [f'Invalid arguments for tool "{tool_name}":']
    lines.extend(f"  - {path}: {reason}" for path, reason in errors)
    lines.append("")
    lines.append("Received arguments:")
    lines.append(_dump_received(arguments))
    return "\n".join(lines)


def tool_argument_error(tool_name: str, errors: tuple[tuple[str, str], ...], arguments: Any) -> ToolValidationError:
    """The :class:`ToolValidationError` for ``errors`` (``(path, reason)`` pairs), worded for the model."""
    return ToolValidationError(
        _format_failure(tool_name, errors, arguments), tool_name=tool_name, errors=errors, arguments=arguments
    )


def validate_tool_arguments(tool: Tool, tool_call: ToolCall) -> dict[str, Any]:
    """Validates ``tool_call``'s arguments against ``tool``; returns the coerced copy."""
    arguments = tool_call.arguments
    schema = tool.parameters
    try:
        validator = _validator(_schema_key(schema))
    except ValueError as exc:
        raise ValueError(f'tool "{tool.name}": {exc}') from exc
    coerced = coerce_arguments(schema, arguments)
    failures = tuple(
        (_path_text(e), _reason(e))
        for e in sorted(validator.iter_errors(coerced), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    )
    if not failures and not isinstance(coerced, dict):
        failures = (("(root)", "arguments must be a JSON object"),)
    if failures:
        raise tool_argument_error(tool.name, failures, arguments)
    result: dict[str, Any] = coerced
    return result


def _check_arguments(tools: object, tool_call: object) -> None:
    if isinstance(tools, (str, bytes, Tool)) or not isinstance(tools, Sequence):
        hint = " (put it in a list: [tool])" if isinstance(tools, Tool) else ""
        raise TypeError(f"validate_tool_call() tools must be a list of alchemy.Tool, got {type(tools).__name__}{hint}")
    for i, tool in enumerate(tools):
        if not isinstance(tool, Tool):
            raise TypeError(f"validate_tool_call() tools[{i}] must be an alchemy.Tool, got {type(tool).__name__}")
    if not isinstance(tool_call, ToolCall):
        raise TypeError(f"validate_tool_call() tool_call must be an alchemy.ToolCall, got {type(tool_call).__name__}")


def validate_tool_call(tools: Sequence[Tool], tool_call: ToolCall) -> dict[str, Any]:
    """The arguments of ``tool_call`` checked against its tool's schema, coerced.

    Returns a new dict (``tool_call`` is left untouched). Raises
    :class:`ToolValidationError` when no tool has the call's name or the arguments do
    not match; its message names the tool, lists each failing path with the reason
    and shows the arguments received. A tool whose schema is not valid JSON Schema
    raises ``ValueError`` (a programmer error, not the model's), and so do arguments of the
    wrong type (``TypeError`` naming them).
    """
    _check_arguments(tools, tool_call)
    for tool in tools:
        if tool.name == tool_call.name:
            return validate_tool_arguments(tool, tool_call)
    raise unknown_tool_error(tools, tool_call)


def unknown_tool_error(tools: Sequence[Tool], tool_call: ToolCall) -> ToolValidationError:
    """The :class:`ToolValidationError` for a call naming none of ``tools``, worded for the model."""
    available = ", ".join(f'"{t.name}"' for t in tools) or "none"
    reason = f"no tool has this name (available tools: {available})"
    message = (
        f'Unknown tool "{tool_call.name}": {reason}.\n\nReceived arguments:\n{_dump_received(tool_call.arguments)}'
    )
    errors = (("(root)", reason),)
    return ToolValidationError(message, tool_name=tool_call.name, errors=errors, arguments=tool_call.arguments)
