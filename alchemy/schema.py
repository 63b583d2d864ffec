"""JSON Schema in one place: from Python types, normalised per provider, and back to Python.

Structured output (``response_format=`` / ``output_schema=``) and tools defined from
Python functions both go through this module, so a schema means the same thing
everywhere. Four parts, each usable alone:

* **Python type -> JSON Schema.** :func:`json_schema(tp) <json_schema>` for one type
  (cached per type); :class:`SchemaBuilder` when several types share one ``$defs``
  (a function's parameters: call :meth:`SchemaBuilder.schema_for` per annotation, then
  :meth:`SchemaBuilder.finish` on the object schema you assembled). Understood: ``str``,
  ``int``, ``float``, ``bool``, ``None``, ``Any``, ``Literal``, ``Enum``, ``Optional`` /
  unions, ``list`` / ``set`` / ``tuple`` / ``Sequence``, ``dict[str, X]`` / ``Mapping``,
  ``datetime`` / ``date`` / ``time`` / ``UUID`` (string formats), dataclasses,
  ``TypedDict`` (``Required`` / ``NotRequired``), pydantic ``BaseModel`` subclasses
  (their own ``model_json_schema``; pydantic is imported only when such a class is
  met) and ``Annotated[X, "description"]`` (a string, or anything with a
  ``description`` attribute such as pydantic's ``Field(description=...)``). Named types
  (dataclasses, TypedDicts, models) go under ``$defs`` and are referenced as
  ``#/$defs/Name``, so recursive types work. Anything else raises ``TypeError`` naming
  the type and where it was met.

* **Strict normalisation per provider.** :func:`strict_schema(schema, dialect)
  <strict_schema>` returns a copy in the subset a provider's constrained decoding takes
  (``"openai"``: Chat Completions and Responses ``strict``; ``"anthropic"``: Claude JSON
  outputs and strict tools, on Anthropic and Bedrock; ``"gemini"``:
  ``responseJsonSchema``; ``"mistral"``). :data:`DIALECTS` lists what each does.
  Keywords that only *constrain values* (``minLength``, ``minimum``, an unknown
  ``format``...) are removed from the copy where the provider has no such keyword —
  the caller validates the full original schema locally, so nothing is lost. Keywords
  that change the *shape* and cannot be expressed (``not``, ``if``/``then``/``else``,
  ``patternProperties``, an open ``additionalProperties`` in strict mode, recursion
  where the provider has none, a non-object root) raise :class:`SchemaError` naming
  the keyword and its path. Where a provider needs every property required
  (``openai``), the optional ones become ``anyOf [X, null]``, and
  :func:`drop_absent_nulls` turns such a ``null`` back into "absent" before the value
  is checked against the original schema.

* **Checking a value.** :func:`validate(value, schema) <validate>` raises
  :class:`InstanceError` with the failing path (``$.items[2].price``) and the reason,
  using ``jsonschema`` (validators are cached per schema object).

* **JSON -> Python.** :func:`from_json(tp, value) <from_json>` builds the annotated type
  from a (validated) JSON value: dataclasses, TypedDicts, pydantic models
  (``model_validate``), enums, lists, tuples, sets, dicts, unions and the string formats
  above, raising :class:`InstanceError` with the path on a mismatch.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import functools
import types
import typing
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Union

import orjson

__all__ = [
    "DIALECTS",
    "Dialect",
    "InstanceError",
    "SchemaBuilder",
    "SchemaDialect",
    "SchemaError",
    "accepts_null",
    "drop_absent_nulls",
    "from_json",
    "is_model_type",
    "json_path",
    "json_schema",
    "strict_schema",
    "validate",
]

SchemaDialect = Literal["openai", "anthropic", "gemini", "mistral"]
"""The constrained-decoding dialects :func:`strict_schema` knows."""


class SchemaError(ValueError):
    """A schema a provider cannot take: names the keyword and where it is (``#/properties/tags``)."""

    def __init__(self, message: str, *, keyword: str | None = None, path: str = "#") -> None:
        super().__init__(message)
        self.keyword = keyword
        self.path = path


class InstanceError(ValueError):
    """A value that does not match its schema or type: ``path`` (``$.items[0].price``) and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# --------------------------------------------------------------------------- Python type -> schema

_NONE_TYPE: Final = type(None)
_STRING_FORMATS: Final[Mapping[type, str]] = {
    _dt.datetime: "date-time",
    _dt.date: "date",
    _dt.time: "time",
    uuid.UUID: "uuid",
}
_SCALARS: Final[Mapping[type, str]] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_JSON_SCALARS: Final = (str, int, float, bool, _NONE_TYPE)


def _type_name(tp: object) -> str:
    return getattr(tp, "__qualname__", None) or getattr(tp, "__name__", None) or repr(tp)


def is_model_type(tp: object) -> bool:
    """Whether ``tp`` is a pydantic ``BaseModel`` subclass (without importing pydantic when it is not loaded)."""
    if not isinstance(tp, type):
        return False
    pydantic = _loaded_pydantic()
    return pydantic is not None and issubclass(tp, pydantic.BaseModel)


def _loaded_pydantic() -> Any:
    import sys

    return sys.modules.get("pydantic")


def _is_typeddict(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _user_doc(tp: type) -> str | None:
    """The class docstring the user wrote (not the signature dataclasses invent)."""
    doc = tp.__doc__
    if not doc or (dataclasses.is_dataclass(tp) and doc.startswith(f"{tp.__name__}(")):
        return None
    import inspect

    return inspect.cleandoc(doc)


def _jsonable_default(value: object) -> bool:
    if isinstance(value, enum.Enum):
        return _jsonable_default(value.value)
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, (list, tuple)):
        return all(_jsonable_default(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable_default(v) for k, v in value.items())
    return False


def _plain_default(value: object) -> Any:
    if isinstance(value, enum.Enum):
        return _plain_default(value.value)
    if isinstance(value, tuple):
        return [_plain_default(v) for v in value]
    return value


class SchemaBuilder:
    """Builds JSON Schemas for several Python types that share one ``$defs``.

    ``schema_for(tp)`` returns the schema of one annotation (named types become
    ``{"$ref": "#/$defs/Name"}`` entries); ``finish(root)`` returns ``root`` with the
    collected ``$defs`` attached (when there are any)::

        builder = SchemaBuilder()
        properties = {name: builder.schema_for(hint) for name, hint in hints.items()}
        schema = builder.finish({"type": "object", "properties": properties, "required": [...]})
    """

    __slots__ = ("defs", "_names")

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self._names: dict[object, str] = {}

    def schema_for(self, tp: object, *, where: str = "") -> dict[str, Any]:
        """The JSON Schema of annotation ``tp``; ``where`` names it in errors (``field 'tags'``)."""
        return self._schema(tp, where or _type_name(tp))

    def finish(self, root: dict[str, Any]) -> dict[str, Any]:
        """``root`` with the ``$defs`` collected so far (a new dict)."""
        out = dict(root)
        if self.defs:
            out["$defs"] = {**out.get("$defs", {}), **self.defs}
        return out

    # -- internals ---------------------------------------------------------------------

    def _schema(self, tp: object, where: str) -> dict[str, Any]:
        if tp is Any or tp is object:
            return {}
        if tp is None or tp is _NONE_TYPE:
            return {"type": "null"}
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return self._annotated(tp, where)
        if origin is Literal:
            return _literal_schema(typing.get_args(tp), where)
        if origin is Union or origin is types.UnionType:
            return self._union(typing.get_args(tp), where)
        if origin is not None:
            return self._generic(tp, origin, where)
        if isinstance(tp, type):
            return self._class(tp, where)
        if isinstance(tp, typing.ForwardRef) or isinstance(tp, str):
            raise TypeError(f"{where}: cannot build a JSON Schema from the unresolved forward reference {tp!r}")
        if isinstance(tp, typing.TypeVar):
            raise TypeError(f"{where}: cannot build a JSON Schema from the type variable {tp!r}")
        raise TypeError(f"{where}: cannot build a JSON Schema from {tp!r}")

    def _annotated(self, tp: object, where: str) -> dict[str, Any]:
        inner, *extras = typing.get_args(tp)
        schema = self._schema(inner, where)
        for extra in extras:
            description = extra if isinstance(extra, str) else getattr(extra, "description", None)
            if isinstance(description, str) and description:
                schema = {**schema, "description": description}
        return schema

    def _union(self, members: tuple[Any, ...], where: str) -> dict[str, Any]:
        branches = [self._schema(member, where) for member in members]
        if len(branches) == 1:
            return branches[0]
        return {"anyOf": branches}

    def _generic(self, tp: object, origin: Any, where: str) -> dict[str, Any]:
        args = typing.get_args(tp)
        if origin in (list, Sequence, typing.Sequence, set, frozenset, typing.AbstractSet) or (
            isinstance(origin, type) and issubclass(origin, (list, set, frozenset)) and origin is not tuple
        ):
            item = self._schema(args[0], f"{where} item") if args else {}
            schema: dict[str, Any] = {"type": "array", "items": item}
            if origin in (set, frozenset, typing.AbstractSet):
                schema["uniqueItems"] = True
            return schema
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self._schema(args[0], f"{where} item")}
            if args == ((),):
                return {"type": "array", "maxItems": 0}
            items = [self._schema(arg, f"{where}[{i}]") for i, arg in enumerate(args)]
            return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
        if origin in (dict, Mapping, typing.Mapping) or (isinstance(origin, type) and issubclass(origin, dict)):
            if args and args[0] is not str:
                raise TypeError(f"{where}: JSON object keys are strings, so {tp!r} has no JSON Schema; use dict[str, ...]")
            value = self._schema(args[1], f"{where} value") if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": value} if value else {"type": "object"}
        raise TypeError(f"{where}: cannot build a JSON Schema from {tp!r}")

    def _class(self, tp: type, where: str) -> dict[str, Any]:
        if tp in _SCALARS:
            return {"type": _SCALARS[tp]}
        if issubclass(tp, enum.Enum):
            return _enum_schema(tp, where)
        for base, fmt in _STRING_FORMATS.items():
            if issubclass(tp, base) and not (base is _dt.date and issubclass(tp, _dt.datetime)):
                return {"type": "string", "format": fmt}
        if tp in (list, tuple, set, frozenset):
            return {"type": "array", "items": {}}
        if tp is dict:
            return {"type": "object"}
        if dataclasses.is_dataclass(tp) or _is_typeddict(tp) or is_model_type(tp):
            return self._named(tp, where)
        raise TypeError(f"{where}: cannot build a JSON Schema from {_type_name(tp)} (not a JSON type)")

    def _named(self, tp: type, where: str) -> dict[str, Any]:
        name = self._names.get(tp)
        if name is None:
            name = self._unique_name(tp.__name__)
            self._names[tp] = name  # before the body: a recursive type refers to itself by name
            try:
                if is_model_type(tp):
                    body = self._model_body(tp, name)
                elif dataclasses.is_dataclass(tp):
                    body = self._dataclass_body(tp, where)
                else:
                    body = self._typeddict_body(tp, where)
            except BaseException:
                del self._names[tp]
                raise
            self.defs[name] = body
        return {"$ref": f"#/$defs/{name}"}

    def _unique_name(self, base: str) -> str:
        taken = set(self.defs) | set(self._names.values())
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        return name

    def _dataclass_body(self, tp: type, where: str) -> dict[str, Any]:
        hints = typing.get_type_hints(tp, include_extras=True)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            schema = self.schema_for(hints.get(f.name, Any), where=f"{tp.__name__}.{f.name}")
            description = f.metadata.get("description") if f.metadata else None
            if isinstance(description, str) and description:
                schema = {**schema, "description": description}
            if f.default is not dataclasses.MISSING:
                if _jsonable_default(f.default):
                    schema = {**schema, "default": _plain_default(f.default)}
            elif f.default_factory is dataclasses.MISSING:
                required.append(f.name)
            properties[f.name] = schema
        return _object_body(tp, properties, required)

    def _typeddict_body(self, tp: type, where: str) -> dict[str, Any]:
        hints = typing.get_type_hints(tp, include_extras=True)
        required_keys: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
        properties = {}
        for key, hint in hints.items():
            hint = _strip_required(hint)
            properties[key] = self.schema_for(hint, where=f"{tp.__name__}.{key}")
        required = [key for key in hints if key in required_keys]
        return _object_body(tp, properties, required)

    def _model_body(self, tp: type, name: str) -> dict[str, Any]:
        raw: dict[str, Any] = tp.model_json_schema(ref_template="#/$defs/{model}")  # type: ignore[attr-defined]
        nested = raw.pop("$defs", {})
        renames: dict[str, str] = {}
        own = raw.get("$ref")
        if isinstance(own, str) and len(raw) == 1 and own[len("#/$defs/"):] in nested:
            # A recursive model: pydantic puts its body in $defs and refers to it from the root.
            own_name = own[len("#/$defs/"):]
            raw = nested.pop(own_name)
            renames[own_name] = name
        for def_name in nested:
            if def_name in self.defs and self.defs[def_name] != nested[def_name]:
                renames[def_name] = self._unique_name(def_name)
        for def_name, body in nested.items():
            target = renames.get(def_name, def_name)
            self.defs[target] = _rename_refs(body, renames)
        renamed: dict[str, Any] = _rename_refs(raw, renames)
        return renamed


def _strip_required(hint: object) -> object:
    origin = typing.get_origin(hint)
    if origin is not None and getattr(origin, "_name", None) in ("Required", "NotRequired", "ReadOnly"):
        return typing.get_args(hint)[0]
    return hint


def _object_body(tp: type, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "object", "title": tp.__name__, "properties": properties}
    if required:
        body["required"] = required
    doc = _user_doc(tp)
    if doc:
        body["description"] = doc
    return body


def _rename_refs(schema: Any, renames: Mapping[str, str]) -> Any:
    if not renames:
        return schema
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                name = value[len("#/$defs/"):]
                value = f"#/$defs/{renames.get(name, name)}"
            out[key] = _rename_refs(value, renames)
        return out
    if isinstance(schema, list):
        return [_rename_refs(item, renames) for item in schema]
    return schema


def _literal_schema(values: tuple[Any, ...], where: str) -> dict[str, Any]:
    plain = [value.value if isinstance(value, enum.Enum) else value for value in values]
    kinds = set()
    for value in plain:
        if not isinstance(value, _JSON_SCALARS):
            raise TypeError(f"{where}: Literal value {value!r} is not a JSON scalar")
        kinds.add(_json_type(value))
    schema: dict[str, Any] = {"enum": plain}
    if len(kinds) == 1:
        schema = {"type": kinds.pop(), **schema}
    return schema


def _enum_schema(tp: type[enum.Enum], where: str) -> dict[str, Any]:
    schema = _literal_schema(tuple(member.value for member in tp), f"{where} ({tp.__name__})")
    schema["title"] = tp.__name__
    return schema


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _root_schema(tp: object) -> dict[str, Any]:
    builder = SchemaBuilder()
    schema = builder.schema_for(tp)
    ref = schema.get("$ref")
    if isinstance(ref, str) and len(schema) == 1:
        name = ref[len("#/$defs/"):]
        schema = dict(builder.defs[name])
        if ref not in set(_refs_in(schema)) | set(_refs_in(builder.defs)):
            del builder.defs[name]  # referred to only from the root, which now is the type itself
    return builder.finish(schema)


@functools.lru_cache(maxsize=512)
def _cached_schema(tp: object) -> bytes:
    return orjson.dumps(_root_schema(tp))


def json_schema(tp: object) -> dict[str, Any]:
    """The JSON Schema of Python type ``tp`` (a new dict each call; derived once per type).

    A named type (dataclass, ``TypedDict``, pydantic model) is the root object itself;
    the types it uses sit in ``$defs``. ``TypeError`` for a type with no JSON form.
    """
    try:
        cached = _cached_schema(tp)
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise
        return _root_schema(tp)  # an annotation with unhashable metadata is built uncached
    result: dict[str, Any] = orjson.loads(cached)
    return result


# --------------------------------------------------------------------------- strict normalisation


@dataclass(frozen=True, slots=True)
class Dialect:
    """What one provider's constrained decoding takes (see :data:`DIALECTS`)."""

    name: SchemaDialect
    closed_objects: bool
    """Every object needs ``additionalProperties: false`` (added; an open one is refused)."""
    all_required: bool
    """Every property must be required; optional ones become ``anyOf [X, null]``."""
    removed: frozenset[str]
    """Value constraints the provider lacks: left out of the wire schema (checked locally)."""
    refused: frozenset[str]
    """Shape keywords the provider cannot express: :class:`SchemaError`."""
    formats: frozenset[str] | None
    """The string formats it knows (others are removed); ``None``: all kept."""
    recursion: bool
    """Whether recursive ``$ref`` is allowed."""
    object_root: bool
    """Whether the root must be an object schema."""
    one_of_as_any_of: bool
    """``oneOf`` is sent as ``anyOf`` (the value is still checked against ``oneOf`` locally)."""
    ref_siblings: Literal["inline", "drop"]
    """A ``$ref`` with other keywords beside it: inline the target under them, or drop them."""
    max_min_items: int | None = None
    """The largest ``minItems`` kept (Claude takes 0 or 1); ``None``: any."""


_NEVER: Final = frozenset({"not", "if", "then", "else", "dependentSchemas", "dependentRequired", "patternProperties",
                           "unevaluatedProperties", "unevaluatedItems", "propertyNames", "contains"})

DIALECTS: Final[Mapping[str, Dialect]] = {
    "openai": Dialect(
        name="openai",
        closed_objects=True,
        all_required=True,
        removed=frozenset({"minLength", "maxLength", "uniqueItems", "minContains", "maxContains", "minProperties",
                           "maxProperties", "default", "examples", "$schema", "$id", "$comment", "readOnly",
                           "writeOnly", "deprecated", "contentEncoding", "contentMediaType"}),
        refused=_NEVER | {"prefixItems"},
        formats=frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}),
        recursion=True,
        object_root=True,
        one_of_as_any_of=True,
        ref_siblings="inline",
    ),
    "anthropic": Dialect(
        name="anthropic",
        closed_objects=True,
        all_required=False,
        removed=frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
                           "maxLength", "maxItems", "uniqueItems", "minContains", "maxContains", "minProperties",
                           "maxProperties", "examples", "$schema", "$id", "$comment", "readOnly", "writeOnly",
                           "deprecated", "contentEncoding", "contentMediaType"}),
        refused=_NEVER | {"prefixItems"},
        formats=frozenset({"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6",
                           "uuid"}),
        recursion=False,
        object_root=True,
        one_of_as_any_of=True,
        ref_siblings="inline",
        max_min_items=1,
    ),
    "gemini": Dialect(
        name="gemini",
        closed_objects=False,
        all_required=False,
        removed=frozenset(),
        refused=frozenset(),
        formats=None,
        recursion=True,
        object_root=False,
        one_of_as_any_of=False,
        ref_siblings="drop",
    ),
    "mistral": Dialect(
        name="mistral",
        closed_objects=True,
        all_required=False,
        removed=frozenset(),
        refused=frozenset(),
        formats=None,
        recursion=True,
        object_root=False,
        one_of_as_any_of=False,
        ref_siblings="inline",
    ),
}
"""The dialects by name: ``openai`` (Chat Completions / Responses / Azure ``strict``:
closed objects, every property required, no ``minLength`` / ``maxLength`` /
``default``, a fixed set of formats, an object root); ``anthropic`` (Claude JSON
outputs and strict tools on Anthropic and Bedrock: closed objects, optional
properties allowed, no numeric or length bounds, ``minItems`` 0 or 1, no recursion);
``gemini`` (``responseJsonSchema``: a ``$ref`` takes no sibling keywords, the rest is
sent as written); ``mistral`` (closed objects)."""

_SCHEMA_MAPS: Final = ("properties", "$defs", "definitions")
_SCHEMA_LISTS: Final = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES: Final = ("items", "additionalProperties", "not", "if", "then", "else", "contains",
                         "unevaluatedItems", "unevaluatedProperties", "propertyNames")


def strict_schema(schema: Mapping[str, Any], dialect: SchemaDialect | str) -> dict[str, Any]:
    """A copy of ``schema`` normalised for ``dialect``'s constrained decoding (see :data:`DIALECTS`).

    Raises :class:`SchemaError` naming the keyword and path for what the provider
    cannot express; never changes ``schema``.
    """
    rules = DIALECTS.get(dialect)
    if rules is None:
        raise ValueError(f"strict_schema() dialect must be one of {', '.join(map(repr, DIALECTS))}, got {dialect!r}")
    if not isinstance(schema, Mapping):
        raise TypeError(f"strict_schema() expects a JSON Schema mapping, got {type(schema).__name__}")
    return _Normaliser(schema, rules).run()


class _Normaliser:
    __slots__ = ("root", "rules", "defs", "_recursive")

    def __init__(self, root: Mapping[str, Any], rules: Dialect) -> None:
        self.root = root
        self.rules = rules
        self.defs: dict[str, Any] = {}
        self._recursive = _recursive_refs(root)

    def run(self) -> dict[str, Any]:
        rules = self.rules
        if self._recursive and not rules.recursion:
            ref, path = sorted(self._recursive.items())[0]
            raise SchemaError(
                f"schema {path} refers to {ref} recursively; {rules.name} structured output takes no recursive "
                "schemas (flatten the type, or send it without strict mode)",
                keyword="$ref", path=path,
            )
        root: dict[str, Any] = self._node(self.root, "#", top=True)
        if rules.object_root:
            if "$ref" in root and len(root) == 1:
                root = dict(self._resolve(root["$ref"], "#"))
                root = {**self._node(root, "#"), **{k: v for k, v in root.items() if k in ("$defs",)}}
            if root.get("type") != "object":
                shown = root.get("type", "anyOf" if "anyOf" in root else "not given")
                raise SchemaError(
                    f"schema # must be an object (type 'object') for {rules.name} strict structured output, "
                    f"got type {shown!r}; wrap the value in an object",
                    keyword="type", path="#",
                )
        return root

    def _resolve(self, ref: str, path: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            raise SchemaError(f"schema {path}/$ref: external reference {ref!r} is not supported (only '#/...')",
                              keyword="$ref", path=path)
        node: Any = self.root
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise SchemaError(f"schema {path}/$ref: {ref!r} points to nothing", keyword="$ref", path=path)
            node = node[part]
        if not isinstance(node, Mapping):
            raise SchemaError(f"schema {path}/$ref: {ref!r} is not a schema", keyword="$ref", path=path)
        return node

    def _node(self, schema: Any, path: str, *, top: bool = False) -> Any:
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, Mapping):
            raise SchemaError(f"schema {path}: expected a schema object, got {type(schema).__name__}", path=path)
        rules = self.rules
        node = dict(schema)
        ref = node.get("$ref")
        if isinstance(ref, str):
            siblings = [k for k in node if k != "$ref" and not (top and k in ("$defs", "definitions"))]
            if siblings:
                if rules.ref_siblings == "drop" or ref in self._recursive:
                    node = {k: v for k, v in node.items() if k == "$ref" or k.startswith("$")}
                else:
                    target = dict(self._resolve(ref, path))
                    node.pop("$ref")
                    node = {**target, **node}
        all_of = node.get("allOf")
        if isinstance(all_of, list):
            node = self._merge_all_of(node, all_of, path)
        for keyword in list(node):
            if keyword in rules.refused:
                raise SchemaError(
                    f"schema {path}/{keyword}: {rules.name} structured output does not support '{keyword}' "
                    "(send the schema without strict mode, or reshape it)",
                    keyword=keyword, path=f"{path}/{keyword}",
                )
            if keyword in rules.removed:
                del node[keyword]
        fmt = node.get("format")
        if rules.formats is not None and isinstance(fmt, str) and fmt not in rules.formats:
            del node["format"]
        if rules.max_min_items is not None and isinstance(node.get("minItems"), int):
            if node["minItems"] > rules.max_min_items:
                del node["minItems"]
        if rules.one_of_as_any_of and "oneOf" in node:
            node["anyOf"] = node.pop("oneOf") + node.pop("anyOf", [])
        if rules.name == "anthropic" and isinstance(node.get("enum"), list):
            for value in node["enum"]:
                if isinstance(value, (dict, list)):
                    raise SchemaError(f"schema {path}/enum: Claude structured output takes enums of scalars only, "
                                      f"got {value!r}", keyword="enum", path=f"{path}/enum")
        for key in _SCHEMA_MAPS:
            members = node.get(key)
            if isinstance(members, Mapping):
                node[key] = {name: self._node(sub, f"{path}/{key}/{name}") for name, sub in members.items()}
        for key in _SCHEMA_LISTS:
            members = node.get(key)
            if isinstance(members, list):
                node[key] = [self._node(sub, f"{path}/{key}/{i}") for i, sub in enumerate(members)]
        for key in _SCHEMA_VALUES:
            if key in node and isinstance(node[key], (Mapping, bool)) and not (
                key == "additionalProperties" and node[key] is False
            ):
                if isinstance(node[key], Mapping):
                    node[key] = self._node(node[key], f"{path}/{key}")
            elif key == "items" and isinstance(node.get(key), list):
                raise SchemaError(f"schema {path}/items: a list of item schemas (old tuple form) is not supported; "
                                  "use prefixItems or one item schema", keyword="items", path=f"{path}/items")
        if _is_object(node):
            self._close(node, path)
        return node

    def _merge_all_of(self, node: dict[str, Any], members: list[Any], path: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for i, member in enumerate(members):
            if not isinstance(member, Mapping):
                raise SchemaError(f"schema {path}/allOf/{i}: expected a schema object", keyword="allOf", path=path)
            if "$ref" in member:
                member = {**self._resolve(member["$ref"], f"{path}/allOf/{i}"),
                          **{k: v for k, v in member.items() if k != "$ref"}}
            for key, value in member.items():
                if key == "properties" and isinstance(value, Mapping):
                    merged.setdefault("properties", {}).update(value)
                elif key == "required" and isinstance(value, list):
                    merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
                elif key in merged and merged[key] != value and key not in ("title", "description"):
                    raise SchemaError(
                        f"schema {path}/allOf: its members disagree on '{key}', which cannot be merged for "
                        f"{self.rules.name} structured output", keyword="allOf", path=f"{path}/allOf",
                    )
                else:
                    merged.setdefault(key, value)
        own = {k: v for k, v in node.items() if k != "allOf"}
        if "properties" in own and "properties" in merged:
            own["properties"] = {**merged["properties"], **own["properties"]}
        if "required" in own and "required" in merged:
            own["required"] = list(dict.fromkeys([*merged["required"], *own["required"]]))
        return {**merged, **own}

    def _close(self, node: dict[str, Any], path: str) -> None:
        rules = self.rules
        if not rules.closed_objects:
            return
        extra = node.get("additionalProperties", False)
        if extra is not False:
            raise SchemaError(
                f"schema {path}/additionalProperties: {rules.name} structured output needs every object closed "
                "(additionalProperties false), so a free-form mapping such as dict[str, X] cannot be sent in strict "
                "mode; give it fixed properties, or send the schema without strict mode",
                keyword="additionalProperties", path=f"{path}/additionalProperties",
            )
        node["additionalProperties"] = False
        properties = node.setdefault("properties", {})
        if not rules.all_required:
            return
        required = set(node.get("required") or ())
        for name, sub in properties.items():
            if name not in required and not accepts_null(sub, self.root):
                properties[name] = {"anyOf": [sub, {"type": "null"}]}
        node["required"] = list(properties)


def _is_object(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (kind is None and "properties" in node and "$ref" not in node)


def _refs_in(schema: Any) -> Iterator[str]:
    if isinstance(schema, Mapping):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            yield ref
        for key, value in schema.items():
            if key not in ("$defs", "definitions", "enum", "const", "default", "examples"):
                yield from _refs_in(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs_in(item)


def _recursive_refs(root: Mapping[str, Any]) -> dict[str, str]:
    """Local ``$ref`` targets that can reach themselves, with the path of one such definition."""
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        table = root.get(key)
        if isinstance(table, Mapping):
            for name, body in table.items():
                defs[f"#/{key}/{name}"] = body
    edges = {ref: set(_refs_in(body)) for ref, body in defs.items()}
    edges["#"] = set(_refs_in({k: v for k, v in root.items() if k not in ("$defs", "definitions")}))
    defs["#"] = root
    found: dict[str, str] = {}
    for start in edges:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            ref = stack.pop()
            if ref == start:
                found[start] = start
                break
            if ref in seen or ref not in edges:
                continue
            seen.add(ref)
            stack.extend(edges[ref])
    return found


def accepts_null(schema: Any, root: Mapping[str, Any] | None = None, _depth: int = 0) -> bool:
    """Whether ``schema`` lets ``null`` through (``{}``, ``type`` null, a null ``anyOf`` branch, ...)."""
    if schema is True or schema == {}:
        return True
    if not isinstance(schema, Mapping) or _depth > 32:
        return False
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if "enum" in schema:
        return None in schema["enum"]
    if "const" in schema:
        return schema["const"] is None
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and any(accepts_null(b, root, _depth + 1) for b in branches):
            return True
    ref = schema.get("$ref")
    if isinstance(ref, str) and root is not None:
        target = _lookup(root, ref)
        return target is not None and accepts_null(target, root, _depth + 1)
    return False


def _lookup(root: Mapping[str, Any], ref: str) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part.replace("~1", "/").replace("~0", "~"))
    return node


def drop_absent_nulls(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` with each ``null`` removed where the original ``schema`` made that property optional and
    not nullable — the form the ``openai`` dialect's ``anyOf [X, null]`` gives an absent property.

    Works in place on dicts and lists and returns ``value``.
    """
    _drop_nulls(value, schema, schema, 0)
    return value


def _drop_nulls(value: Any, schema: Any, root: Mapping[str, Any], depth: int) -> None:
    if not isinstance(schema, Mapping) or depth > 256:
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _lookup(root, ref)
        if isinstance(target, Mapping):
            _drop_nulls(value, target, root, depth + 1)
    for key in ("allOf",):
        for member in schema.get(key) or ():
            _drop_nulls(value, member, root, depth + 1)
    branches = [b for b in (schema.get("anyOf") or schema.get("oneOf") or ()) if not accepts_null(b, root)]
    if len(branches) == 1:
        _drop_nulls(value, branches[0], root, depth + 1)
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            required = set(schema.get("required") or ())
            for name in [k for k, v in value.items() if v is None and k in properties and k not in required]:
                if not accepts_null(properties[name], root):
                    del value[name]
            for name, sub in properties.items():
                if name in value:
                    _drop_nulls(value[name], sub, root, depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for name, item in value.items():
                if not (isinstance(properties, Mapping) and name in properties):
                    _drop_nulls(item, extra, root, depth + 1)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                _drop_nulls(item, items, root, depth + 1)
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            for item, sub in zip(value, prefix):
                _drop_nulls(item, sub, root, depth + 1)


# --------------------------------------------------------------------------- validation


def json_path(parts: Sequence[object]) -> str:
    """``$.items[2].price`` from a sequence of keys and indexes."""
    out = ["$"]
    for part in parts:
        out.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(out)


@functools.lru_cache(maxsize=128)
def _validator_for(schema_json: bytes) -> Any:
    import jsonschema

    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(value: Any, schema: Mapping[str, Any]) -> None:
    """Raises :class:`InstanceError` (path and reason) when ``value`` does not match ``schema``."""
    import jsonschema

    validator = _validator_for(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    if validator.is_valid(value):  # the common case, without collecting errors
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    raise InstanceError(json_path(list(error.absolute_path)), error.message)


# --------------------------------------------------------------------------- JSON -> Python


def from_json(tp: object, value: Any, path: str = "$") -> Any:
    """Builds the annotated type ``tp`` from JSON ``value``; :class:`InstanceError` with the path on a mismatch."""
    return _convert(tp, value, path)


def _fail(path: str, expected: str, value: object) -> InstanceError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InstanceError(path, f"expected {expected}, got {shown}")


def _convert(tp: object, value: Any, path: str) -> Any:
    if tp is Any or tp is object:
        return value
    if tp is None or tp is _NONE_TYPE:
        if value is not None:
            raise _fail(path, "null", value)
        return None
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _convert(typing.get_args(tp)[0], value, path)
    if origin is Literal:
        allowed = [v.value if isinstance(v, enum.Enum) else v for v in typing.get_args(tp)]
        for option, plain in zip(typing.get_args(tp), allowed):
            if value == plain and type(value) is type(plain):
                return option
        raise _fail(path, f"one of {allowed!r}", value)
    if origin is Union or origin is types.UnionType:
        return _convert_union(typing.get_args(tp), value, path)
    if origin is not None:
        return _convert_generic(tp, origin, value, path)
    if isinstance(tp, type):
        return _convert_class(tp, value, path)
    return value


def _convert_union(members: tuple[Any, ...], value: Any, path: str) -> Any:
    if value is None and any(m is None or m is _NONE_TYPE for m in members):
        return None
    first: InstanceError | None = None
    for member in members:
        if member is None or member is _NONE_TYPE:
            continue
        try:
            return _convert(member, value, path)
        except InstanceError as exc:
            first = first or exc
        except (TypeError, ValueError) as exc:
            first = first or InstanceError(path, str(exc))
    raise first or _fail(path, "a value of the union", value)


def _convert_generic(tp: object, origin: Any, value: Any, path: str) -> Any:
    args = typing.get_args(tp)
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
        if len(args) != len(value):
            raise _fail(path, f"an array of {len(args)} items", value)
        return tuple(_convert(arg, item, f"{path}[{i}]") for i, (arg, item) in enumerate(zip(args, value)))
    if origin in (dict, Mapping, typing.Mapping) or (isinstance(origin, type) and issubclass(origin, Mapping)):
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        item = args[1] if len(args) == 2 else Any
        return {key: _convert(item, v, f"{path}.{key}") for key, v in value.items()}
    if not isinstance(value, list):
        raise _fail(path, "an array", value)
    item = args[0] if args else Any
    items = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (set, typing.AbstractSet):
        return set(items)
    if origin is frozenset:
        return frozenset(items)
    return items


def _convert_class(tp: type, value: Any, path: str) -> Any:
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, "a boolean", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise _fail(path, "an integer", value)
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, "a number", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(path, "a string", value)
        return value
    if issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise _fail(path, f"one of {[m.value for m in tp]!r}", value) from None
    parser = _FORMAT_PARSERS.get(tp)
    if parser is not None:
        if not isinstance(value, str):
            raise _fail(path, f"a {_STRING_FORMATS[tp]} string", value)
        try:
            return parser(value)
        except ValueError:
            raise _fail(path, f"a {_STRING_FORMATS[tp]} string", value) from None
    if is_model_type(tp):
        return _model_validate(tp, value, path)
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, path)
    if _is_typeddict(tp):
        return _build_typeddict(tp, value, path)
    if tp in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            raise _fail(path, "an array", value)
        return tp(value)
    if tp is dict:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        return value
    if isinstance(value, tp):
        return value
    raise _fail(path, tp.__name__, value)


def _parse_datetime(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


def _parse_time(text: str) -> _dt.time:
    return _dt.time.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


_FORMAT_PARSERS: Final[Mapping[type, Callable[[str], Any]]] = {
    _dt.datetime: _parse_datetime,
    _dt.date: _dt.date.fromisoformat,
    _dt.time: _parse_time,
    uuid.UUID: uuid.UUID,
}


def _model_validate(tp: type, value: Any, path: str) -> Any:
    pydantic = _loaded_pydantic()
    try:
        return tp.model_validate(value)  # type: ignore[attr-defined]
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = json_path(list(first.get("loc", ())))
        location = path + where[1:] if path != "$" else where
        raise InstanceError(location, str(first.get("msg", "invalid"))) from None


def _build_dataclass(tp: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, f"an object ({tp.__name__})", value)
    hints = typing.get_type_hints(tp, include_extras=True)
    kwargs = {}
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        if f.name in value:
            kwargs[f.name] = _convert(hints.get(f.name, Any), value[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InstanceError(f"{path}.{f.name}", "missing required property")
    return tp(**kwargs)


def _build_typeddict(tp: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(path, f"an object ({tp.__name__})", value)
    hints = typing.get_type_hints(tp, include_extras=True)
    required: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
    for key in required:
        if key not in value:
            raise InstanceError(f"{path}.{key}", "missing required property")
    return {
        key: _convert(_strip_required(hints[key]), item, f"{path}.{key}") if key in hints else item
        for key, item in value.items()
    }
