"""Tools from Python: :func:`tool`, ``Tool.from_function`` and ``Tool.from_model``.

A :class:`FunctionTool` is a :class:`~alchemy.types.Tool` (it goes into
``Context.tools`` and to every provider as usual) that also knows how to run::

    @alchemy.tool
    def get_weather(city: str, units: Literal["metric", "imperial"] = "metric") -> str:
        '''Current weather for a city.

        Args:
            city: The city name, e.g. "Paris".
        '''

    get_weather.parameters   # {"type": "object", "properties": {"city": {...}, "units": {...}}, ...}
    get_weather("Paris")     # still the function

What a function gives its tool:

* **name**: the function's ``__name__`` (or ``name=``), which must be 1 to 64 of
  ``[A-Za-z0-9_-]`` as every API requires;
* **description**: the docstring's free text before its first section (or
  ``description=``); parameter descriptions come from an ``Args:`` (Google),
  ``Parameters`` (NumPy) or ``:param x:`` (reST) section, unless the annotation
  carries one (``Annotated[str, "The city"]`` or pydantic's ``Field(description=...)``);
* **parameters**: a JSON Schema object with one property per parameter, built from
  the type hints by :mod:`alchemy.schema` (named types under ``$defs``), ``required``
  for parameters without a default, ``default`` for JSON-able defaults, and
  ``additionalProperties: false`` (an unknown argument is a mistake the model should
  hear about). ``*args`` / ``**kwargs`` have no JSON form and raise ``TypeError``.
  The derivation runs once per function (cached).

Before the function runs, :meth:`FunctionTool.call_arguments` checks the model's
arguments against the schema with the coercion of :func:`alchemy.validate_tool_call`
(``"5"`` -> 5), then builds the annotated Python types (dataclasses, TypedDicts,
pydantic models, enums, tuples, sets, dates) with :func:`alchemy.schema.from_json`.
Any failure raises :class:`~alchemy.errors.ToolValidationError`, whose message is
ready to go back to the model. For a ``strict`` tool, a ``null`` the provider's strict
schema allowed for an optional parameter means "not given" (the default applies).

``Tool.from_model(Model, function=None)`` makes a tool whose arguments are one
pydantic model (or dataclass, or TypedDict): the schema is the model's, and
``call_arguments`` gives the validated instance, passed to ``function`` if any.
A ``FunctionTool(name, description, parameters, function=f)`` built by hand takes
its JSON Schema as written and calls ``f(**arguments)`` with the coerced arguments.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
import types
import typing
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, overload

import orjson

from ._docstrings import parse_docstring
from .schema import InstanceError, SchemaBuilder, drop_absent_nulls, from_json, json_schema
from .types import Tool, ToolCall

__all__ = ["FunctionTool", "as_tool", "tool"]

_TOOL_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class _Param:
    """One parameter of a function tool: its name, annotation and how it is passed."""

    name: str
    hint: object
    positional: bool
    default: Any = field(default=inspect.Parameter.empty, compare=False)


@dataclass(frozen=True, slots=True)
class _Derived:
    """What a function gives its tool, derived once per function (:func:`_derive`)."""

    name: str
    description: str
    parameters: bytes
    params: tuple[_Param, ...]
    is_async: bool


@dataclass(slots=True)
class FunctionTool(Tool):
    """A :class:`~alchemy.types.Tool` with the Python function that answers its calls.

    Calling the tool calls the function. :meth:`call_arguments` turns a call's
    arguments into the function's arguments (validated and converted);
    :func:`alchemy.run_tools` runs it. ``function`` may be ``None`` for a
    :meth:`~alchemy.types.Tool.from_model` tool used only to parse arguments.
    """

    function: Callable[..., Any] | None = None
    is_async: bool = field(default=False, compare=False)
    """Whether ``function`` is a coroutine function (awaited instead of called)."""
    _params: tuple[_Param, ...] | None = field(default=None, repr=False, compare=False)
    _model: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        Tool.__post_init__(self)
        if self.function is not None and not callable(self.function):
            raise TypeError(f"FunctionTool {self.name!r} function must be callable, got {type(self.function).__name__}")
        if self.function is not None and not self.is_async:
            self.is_async = _is_async(self.function)

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
    ) -> FunctionTool:
        """The tool of ``function`` (see the module docstring); ``TypeError`` for what has no JSON form."""
        if not callable(function):
            raise TypeError(f"Tool.from_function() expects a function, got {type(function).__name__}")
        derived = _derive(function)
        return cls(
            _tool_name("Tool.from_function()", name, derived.name),
            derived.description if description is None else description,
            orjson.loads(derived.parameters),
            strict,
            function=function,
            is_async=derived.is_async,
            _params=derived.params,
        )

    @classmethod
    def from_model(
        cls,
        model: type[Any],
        function: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = False,
    ) -> FunctionTool:
        """A tool whose arguments are one ``model`` instance (pydantic model, dataclass or TypedDict).

        The name defaults to the class name, the description to its docstring.
        """
        if not isinstance(model, type):
            raise TypeError(
                f"Tool.from_model() expects a class (a pydantic model, dataclass or TypedDict), got {model!r}"
            )
        if function is not None and not callable(function):
            raise TypeError(f"Tool.from_model() function must be callable, got {type(function).__name__}")
        schema = json_schema(model)
        if schema.get("type") != "object":
            raise TypeError(f"Tool.from_model() needs a class whose JSON form is an object, got {model.__name__}")
        text = schema.pop("description", None)
        schema.pop("title", None)
        return cls(
            _tool_name("Tool.from_model()", name, model.__name__),
            (text or "") if description is None else description,
            schema,
            strict,
            function=function,
            _model=model,
        )

    # -- running ----------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the function itself (a decorated function keeps working as a function)."""
        if self.function is None:
            raise TypeError(f"tool {self.name!r} has no function to call")
        return self.function(*args, **kwargs)

    def parse_arguments(self, arguments: Mapping[str, Any]) -> Any:
        """The call's arguments as Python values: the model instance for a ``from_model`` tool,
        else a dict of converted keyword arguments. Raises :class:`ToolValidationError`."""
        args, kwargs = self.call_arguments(arguments)
        if self._model is not None:
            return args[0] if args else kwargs
        positional = [p.name for p in self._params or () if p.positional]
        return {**dict(zip(positional, args)), **kwargs}

    def call_arguments(self, arguments: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` for the function from a call's JSON arguments, validated against the
        schema (with coercion) and converted to the annotated types; :class:`ToolValidationError`
        (model-ready text) when they do not fit."""
        from .validation import tool_argument_error, validate_tool_arguments

        given = arguments
        if self.strict and isinstance(arguments, dict):
            given = drop_absent_nulls(copy.deepcopy(arguments), self.parameters)
        coerced = validate_tool_arguments(self, ToolCall("", self.name, dict(given)))
        try:
            if self._model is not None:
                return (from_json(self._model, coerced),), {}
            if self._params is None:
                return (), coerced
            return _bind(self._params, coerced)
        except InstanceError as exc:
            raise tool_argument_error(self.name, ((_plain_path(exc.path), exc.reason),), arguments) from None


# --------------------------------------------------------------------------- the decorator


@overload
def tool(function: F, /) -> FunctionTool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, strict: bool = False
) -> Callable[[F], FunctionTool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = False,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Makes a function a tool: ``@alchemy.tool`` or ``@alchemy.tool(name=..., strict=True)``.

    The result is a :class:`FunctionTool` (see :mod:`alchemy.function_tools`) that
    still calls like the function.
    """
    if function is None:
        return functools.partial(FunctionTool.from_function, name=name, description=description, strict=strict)
    return FunctionTool.from_function(function, name=name, description=description, strict=strict)


def as_tool(item: object) -> Tool:
    """``item`` as a tool: a :class:`~alchemy.types.Tool` as it is, a function through ``from_function``."""
    if isinstance(item, Tool):
        return item
    if callable(item):
        return FunctionTool.from_function(item)
    raise TypeError(f"expected an alchemy.Tool or a function, got {type(item).__name__}")


# --------------------------------------------------------------------------- derivation


_DERIVED: weakref.WeakKeyDictionary[Any, dict[bool, _Derived]] = weakref.WeakKeyDictionary()


def _derive(function: Callable[..., Any]) -> _Derived:
    """Name, description, schema and parameters of ``function``, cached per function."""
    target, bound = (function.__func__, True) if inspect.ismethod(function) else (function, False)
    try:
        per_function = _DERIVED.setdefault(target, {})
    except TypeError:  # not weak-referenceable (a builtin, a callable with __slots__): derive every time
        return _derive_uncached(function)
    derived = per_function.get(bound)
    if derived is None:
        derived = per_function[bound] = _derive_uncached(function)
    return derived


def _derive_uncached(function: Callable[..., Any]) -> _Derived:
    owner = _display_name(function)
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Tool.from_function(): cannot read the signature of {owner}: {exc}") from None
    hints = _type_hints(function, owner)
    doc = parse_docstring(inspect.getdoc(_unwrapped(function)))
    builder = SchemaBuilder()
    properties: dict[str, Any] = {}
    required: list[str] = []
    params: list[_Param] = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            star = "*" if parameter.kind is parameter.VAR_POSITIONAL else "**"
            raise TypeError(
                f"Tool.from_function(): {owner} takes {star}{parameter.name}, which has no JSON Schema; "
                "name every parameter"
            )
        hint = hints.get(parameter.name, Any)
        schema = builder.schema_for(hint, where=f"{owner} parameter {parameter.name!r}")
        text = doc.params.get(parameter.name)
        if text and "description" not in schema:
            schema = {**schema, "description": text}
        has_default = parameter.default is not parameter.empty
        if has_default:
            default = _json_default(parameter.default)
            if default is not _NO_DEFAULT:
                schema = {**schema, "default": default}
        else:
            required.append(parameter.name)
        properties[parameter.name] = schema
        params.append(_Param(parameter.name, hint, parameter.kind is parameter.POSITIONAL_ONLY, parameter.default))
    root: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        root["required"] = required
    return _Derived(
        name=getattr(_unwrapped(function), "__name__", type(function).__name__),
        description=doc.description,
        parameters=orjson.dumps(builder.finish(root)),
        params=tuple(params),
        is_async=_is_async(function),
    )


_NO_DEFAULT: Final = object()


def _json_default(value: object) -> Any:
    """``value`` as JSON for the schema's ``default``, or ``_NO_DEFAULT`` when it has no JSON form."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        return _NO_DEFAULT


def _unwrapped(function: Callable[..., Any]) -> Any:
    """The function behind a partial or a callable object (where names, hints and docs live)."""
    inner: Any = function
    while isinstance(inner, functools.partial):
        inner = inner.func
    if not (inspect.isfunction(inner) or inspect.ismethod(inner) or inspect.isbuiltin(inner)) and callable(inner):
        call = getattr(type(inner), "__call__", None)
        if call is not None and inner.__doc__ is None:
            return call
    return inner


def _display_name(function: Callable[..., Any]) -> str:
    inner = _unwrapped(function)
    return f"{getattr(inner, '__qualname__', None) or type(function).__name__}()"


def _type_hints(function: Callable[..., Any], owner: str) -> dict[str, Any]:
    """The resolved parameter annotations (the return annotation is not needed and may stay unresolved)."""
    inner = _unwrapped(function)
    if not (inspect.isfunction(inner) or inspect.ismethod(inner)):
        inner = getattr(type(inner), "__call__", inner)
    try:
        return typing.get_type_hints(inner, include_extras=True)
    except Exception:  # resolve the parameters one by one, to name the one that fails
        pass
    annotations = {k: v for k, v in getattr(inner, "__annotations__", {}).items() if k != "return"}
    namespace = getattr(inspect.unwrap(inner), "__globals__", {})
    hints: dict[str, Any] = {}
    for name, annotation in annotations.items():
        holder = types.SimpleNamespace(__annotations__={name: annotation})
        try:
            hints.update(typing.get_type_hints(holder, globalns=namespace, include_extras=True))
        except Exception as exc:  # a forward reference that does not resolve, a bad annotation
            raise TypeError(
                f"Tool.from_function(): cannot resolve the type hint of {owner} parameter {name!r}: {exc}"
            ) from None
    return hints


def _is_async(function: Callable[..., Any]) -> bool:
    inner = _unwrapped(function)
    return inspect.iscoroutinefunction(inner) or inspect.iscoroutinefunction(getattr(inner, "__call__", None))


def _tool_name(owner: str, given: str | None, derived: str) -> str:
    name = derived if given is None else given
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        hint = " (pass name=...)" if given is None else ""
        raise ValueError(f"{owner} tool name must be 1 to 64 of A-Z a-z 0-9 _ -, got {name!r}{hint}")
    return name


def _bind(params: tuple[_Param, ...], values: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The converted ``(args, kwargs)``: positional-only parameters by position (a missing one
    before a given one takes its default), the others by name; missing optional ones left out."""
    positional = [p for p in params if p.positional]
    last_given = max((i for i, p in enumerate(positional) if p.name in values), default=-1)
    args = [
        from_json(p.hint, values[p.name], f"$.{p.name}") if p.name in values else p.default
        for p in positional[: last_given + 1]
    ]
    kwargs = {
        p.name: from_json(p.hint, values[p.name], f"$.{p.name}")
        for p in params
        if not p.positional and p.name in values
    }
    return tuple(args), kwargs


def _plain_path(path: str) -> str:
    """``$.items[0].name`` as :func:`alchemy.validate_tool_call` writes paths (``items[0].name``)."""
    plain = path[2:] if path.startswith("$.") else path[1:] if path.startswith("$") else path
    return plain or "(root)"
