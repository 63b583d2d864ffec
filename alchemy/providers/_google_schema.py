"""Tool schemas for Gemini and Vertex AI: full JSON Schema, or the older OpenAPI subset.

A function declaration carries its parameters in one of two mutually exclusive
fields:

* ``parametersJsonSchema`` takes JSON Schema as it is (``$ref`` / ``$defs``,
  ``anyOf``, ``additionalProperties``, ``const``, ...). alchemy sends this by
  default, so a tool's schema reaches the model unchanged.
* ``parameters`` takes Google's ``Schema`` object, a subset of the OpenAPI 3.0
  schema object. Models and gateways that predate ``parametersJsonSchema`` accept
  only this one. :func:`openapi_schema` rewrites a JSON Schema into it.

Which field a request uses is decided by :func:`tool_schema_mode`: the call's
``tool_schema`` option (``"json_schema"`` or ``"openapi"``) wins, then the model's
``compat["tool_schema"]``, then a rule for the Gemini 1.x generation (``openapi``);
everything else gets ``json_schema``.

What the rewrite does, keyword by keyword (nothing a model can use is dropped
without a trace; what cannot be expressed is said in the ``description``):

* ``$ref`` (``#/$defs/...``, ``#/definitions/...``, any JSON pointer into the root
  schema) is replaced by what it points to, with the referring schema's own
  keywords (a ``description``) laid over it. A reference to a schema that is being
  expanded already (a recursive type) becomes ``{"type": "OBJECT"}`` whose
  description names the type, since the subset has no recursion.
* ``allOf`` is merged into one schema (properties and ``required`` united).
* ``anyOf`` / ``oneOf`` with a ``{"type": "null"}`` member loses that member and
  becomes ``nullable: true``; a single member left is merged into the schema,
  several stay an ``anyOf``. A ``type`` list (``["string", "null"]``) is handled the
  same way.
* ``const`` becomes a one-value ``enum``. Enums of strings stay; enums with other
  values (numbers, booleans) cannot be expressed, so they are dropped and their
  values listed in the description.
* Type names are written as the API spells them (``STRING``, ``OBJECT``, ...); a
  schema with ``properties`` and no type is an ``OBJECT``, one with ``items`` an
  ``ARRAY``.
* ``format`` is kept where the subset knows it (``enum`` and ``date-time`` for
  strings, ``float`` / ``double`` for numbers, ``int32`` / ``int64`` for integers);
  other formats (``uri``, ``email``) go into the description.
* ``examples`` gives its first value to ``example``; ``required`` keeps only names
  that are properties.
* Kept as they are: ``description``, ``title``, ``nullable``, ``default``,
  ``example``, ``items``, ``properties``, ``propertyOrdering``, ``minimum``,
  ``maximum``, ``minItems``, ``maxItems``, ``minLength``, ``maxLength``,
  ``minProperties``, ``maxProperties``, ``pattern``.
* Dropped: every other keyword (``additionalProperties``, ``$schema``, ``$id``,
  ``$comment``, ``$defs``, ``definitions``, ``patternProperties``,
  ``exclusiveMinimum``, ``multipleOf``, ``uniqueItems``, ``not``, ``if`` / ``then`` /
  ``else``, ``readOnly``, ...), because the subset rejects unknown fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    from ..types import Model

__all__ = ["TOOL_SCHEMA_MODES", "ToolSchemaMode", "openapi_schema", "tool_schema_mode"]

ToolSchemaMode = Literal["json_schema", "openapi"]
TOOL_SCHEMA_MODES: tuple[ToolSchemaMode, ...] = ("json_schema", "openapi")

# Models of the generation before parametersJsonSchema existed.
_OPENAPI_ONLY_MODELS = re.compile(r"(?:^|/)gemini-(?:1\.\d|pro(?:-vision)?$)")

_TYPE_NAMES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
_FORMATS = {
    "STRING": frozenset({"enum", "date-time"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}
_KEPT = (
    "title",
    "default",
    "example",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
    "pattern",
)


def tool_schema_mode(model: Model, option: object = None) -> ToolSchemaMode:
    """How ``model``'s tool schemas are sent: the option, the model's compat flag, the model rule."""
    for source, value in (("option tool_schema", option), ("compat['tool_schema']", _compat(model))):
        if value is None:
            continue
        if value not in TOOL_SCHEMA_MODES:
            raise ValueError(f"{source} must be 'json_schema' or 'openapi', got {value!r}")
        return value
    return "openapi" if _OPENAPI_ONLY_MODELS.search(model.id) else "json_schema"


def _compat(model: Model) -> object:
    return None if model.compat is None else model.compat.get("tool_schema")


def openapi_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` (JSON Schema) rewritten into Google's OpenAPI-subset ``Schema`` (see the module doc)."""
    return _Rewriter(schema).convert(schema, ())


class _Rewriter:
    """One rewrite: knows the root (for ``$ref``) and which references are being expanded."""

    __slots__ = ("root",)

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def convert(self, node: object, expanding: tuple[str, ...]) -> dict[str, Any]:
        if node is True or node is None:
            return {}
        if node is False or not isinstance(node, Mapping):
            return {}
        if "$ref" in node:
            return self._reference(node, expanding)
        if "allOf" in node:
            return self._all_of(node, expanding)
        for key in ("anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                return self._any_of(node, node[key], expanding)
        kind = node.get("type")
        if isinstance(kind, list):
            return self._type_list(node, kind, expanding)
        return self._plain(node, expanding)

    # -- keywords that combine schemas ---------------------------------------------

    def _reference(self, node: Mapping[str, Any], expanding: tuple[str, ...]) -> dict[str, Any]:
        ref = node["$ref"]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if not isinstance(ref, str):
            return self.convert(siblings, expanding)
        name = ref.rsplit("/", 1)[-1] or "root"
        if ref in expanding:
            result: dict[str, Any] = {"type": "OBJECT"}
            text = siblings.get("description")
            note = f"(recursive reference to {name})"
            result["description"] = f"{text} {note}" if isinstance(text, str) and text else note
            return result
        target = _resolve_pointer(self.root, ref)
        if target is None:
            result = self.convert(siblings, expanding)
            return _add_note(result, f"(unresolved reference {ref})")
        resolved = self.convert(target, (*expanding, ref))
        if siblings:
            resolved = _merge(resolved, self.convert(siblings, expanding), overlay=True)
        return resolved

    def _all_of(self, node: Mapping[str, Any], expanding: tuple[str, ...]) -> dict[str, Any]:
        rest = {k: v for k, v in node.items() if k != "allOf"}
        merged = self.convert(rest, expanding) if rest else {}
        members = node["allOf"] if isinstance(node["allOf"], list) else []
        for member in members:
            merged = _merge(merged, self.convert(member, expanding), overlay=False)
        return merged

    def _any_of(self, node: Mapping[str, Any], members: list[Any], expanding: tuple[str, ...]) -> dict[str, Any]:
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        nullable = False
        options: list[dict[str, Any]] = []
        for member in members:
            if _is_null_schema(member):
                nullable = True
            else:
                options.append(self.convert(member, expanding))
        base = self.convert(rest, expanding) if rest else {}
        if len(options) == 1:
            result = _merge(options[0], base, overlay=True)
        elif options:
            result = dict(base)
            result["anyOf"] = options
        else:
            result = dict(base)
        if nullable:
            result["nullable"] = True
        return result

    def _type_list(self, node: Mapping[str, Any], kinds: list[Any], expanding: tuple[str, ...]) -> dict[str, Any]:
        named = [k for k in kinds if k != "null"]
        nullable = len(named) != len(kinds)
        if len(named) == 1:
            result = self._plain({**node, "type": named[0]}, expanding)
        elif not named:
            result = self._plain({k: v for k, v in node.items() if k != "type"}, expanding)
        else:
            shared = {k: v for k, v in node.items() if k in ("description", "title")}
            result = self.convert(shared, expanding) if shared else {}
            result["anyOf"] = [self._plain({**node, "type": k, "description": None}, expanding) for k in named]
        if nullable:
            result["nullable"] = True
        return result

    # -- one schema ----------------------------------------------------------------

    def _plain(self, node: Mapping[str, Any], expanding: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        notes: list[str] = []
        kind = _type_name(node.get("type"))
        if kind is None:
            if "properties" in node:
                kind = "OBJECT"
            elif "items" in node or "prefixItems" in node:
                kind = "ARRAY"
        if kind is not None:
            out["type"] = kind
        if node.get("type") == "null":
            out["nullable"] = True
        description = node.get("description")
        if isinstance(description, str) and description:
            out["description"] = description
        if node.get("nullable") is True:
            out["nullable"] = True
        for key in _KEPT:
            if key in node and (node[key] is not None or key in ("default", "example")):
                out[key] = node[key]
        if "example" not in out and isinstance(node.get("examples"), list) and node["examples"]:
            out["example"] = node["examples"][0]

        self._format(node, kind, out, notes)
        self._enum(node, out, notes)

        properties = node.get("properties")
        if isinstance(properties, Mapping):
            out["properties"] = {str(name): self.convert(value, expanding) for name, value in properties.items()}
            required = node.get("required")
            if isinstance(required, list):
                kept = [name for name in required if isinstance(name, str) and name in properties]
                if kept:
                    out["required"] = kept
            ordering = node.get("propertyOrdering")
            if isinstance(ordering, list):
                out["propertyOrdering"] = [name for name in ordering if name in properties]
        items = node.get("items", node.get("prefixItems"))
        if isinstance(items, list):
            converted = [self.convert(item, expanding) for item in items]
            if len(converted) == 1:
                out["items"] = converted[0]
            elif converted:
                out["items"] = {"anyOf": converted}
        elif items is not None:
            out["items"] = self.convert(items, expanding)
        for note in notes:
            out = _add_note(out, note)
        return out

    @staticmethod
    def _format(node: Mapping[str, Any], kind: str | None, out: dict[str, Any], notes: list[str]) -> None:
        value = node.get("format")
        if not isinstance(value, str) or not value:
            return
        if kind is not None and value in _FORMATS.get(kind, ()):
            out["format"] = value
        else:
            notes.append(f"(format: {value})")

    @staticmethod
    def _enum(node: Mapping[str, Any], out: dict[str, Any], notes: list[str]) -> None:
        values: list[Any] | None = None
        if "const" in node:
            values = [node["const"]]
        elif isinstance(node.get("enum"), list):
            values = list(node["enum"])
        if values is None:
            return
        if values and all(isinstance(v, str) for v in values):
            out["enum"] = values
            out.setdefault("type", "STRING")
            return
        shown = ", ".join(orjson.dumps(v).decode() for v in values)
        if len(values) == 1:
            notes.append(f"(must be {shown})")
        else:
            notes.append(f"(one of: {shown})")


def _type_name(kind: object) -> str | None:
    if isinstance(kind, str):
        return _TYPE_NAMES.get(kind.lower())
    return None


def _is_null_schema(member: object) -> bool:
    return isinstance(member, Mapping) and member.get("type") == "null" and len(member) == 1


def _add_note(schema: dict[str, Any], note: str) -> dict[str, Any]:
    text = schema.get("description")
    schema["description"] = f"{text} {note}" if text else note
    return schema


def _merge(first: dict[str, Any], second: dict[str, Any], *, overlay: bool) -> dict[str, Any]:
    """``first`` and ``second`` as one schema; on conflicts ``second`` wins when ``overlay``."""
    merged = dict(first)
    for key, value in second.items():
        if key == "properties" and isinstance(merged.get("properties"), dict):
            merged["properties"] = {**merged["properties"], **value}
        elif key == "required" and isinstance(merged.get("required"), list):
            merged["required"] = [*merged["required"], *(n for n in value if n not in merged["required"])]
        elif key not in merged or overlay:
            merged[key] = value
    return merged


def _resolve_pointer(root: Mapping[str, Any], ref: str) -> Any:
    """The schema a local ``$ref`` (``#``, ``#/$defs/Name``, any JSON pointer) points to, or ``None``."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    pointer = ref[1:]
    if not pointer:
        return root
    if not pointer.startswith("/"):
        return None
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node
