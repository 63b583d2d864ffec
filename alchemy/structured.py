"""Structured output: ``response_format=`` / ``output_schema=`` on every wire API.

One canonical form, :class:`OutputSpec`, is built when the options are checked,
whatever the caller gave: ``{"type": "json_object"}`` (or ``"json"``), OpenAI's
``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``, a plain JSON
Schema via ``output_schema=``, or a Python type — a pydantic ``BaseModel`` subclass, a
dataclass or a ``TypedDict`` class (schemas from :mod:`alchemy.schema`).

At the call, :func:`plan_output` decides how the model will be asked
(:class:`OutputPlan`), and refuses before anything is sent where it cannot be:

* **native** — the API's own constrained mode, where the model has it
  (:func:`has_native_output`): Chat Completions and Mistral ``response_format``,
  Responses ``text.format``, Gemini / Vertex ``responseMimeType`` +
  ``responseJsonSchema``, Anthropic ``output_config.format`` (Claude with structured
  outputs, :func:`alchemy.model_facts.claude_structured_outputs`), Bedrock
  ``outputConfig.textFormat``. The schema goes out normalised for the provider
  (:func:`alchemy.schema.strict_schema`; always on Anthropic, Bedrock and Gemini,
  whose modes are always constrained; with ``strict`` on OpenAI and Mistral).
* **tool** — otherwise, one forced tool whose input is the object, on models with
  tool calling (a non-strict schema the native mode cannot express goes this way
  too). The stream presents the call as text — ``text_*`` events carrying the JSON —
  and the stop reason as ``stop``; the tool never appears in the message.

While the answer streams, every event's ``partial.parsed`` is the best-effort object
from a :class:`~alchemy.json.JsonDeltaMerger` fed with the JSON text (linear time, no
re-parse). When it ends, :class:`OutputState` parses and validates it: the final
``message.parsed`` is the dict (checked against the schema) or the instance of the
Python type. Output that is not complete JSON or does not match ends the stream with
an ``error`` of kind ``invalid_output`` whose message names the failing path; the raw
text stays in the message. A refusal (OpenAI ``refusal`` deltas, Anthropic
``stop_reason: "refusal"``) goes to ``message.refusal``, not into the text, and ends
the stream with an ``error`` of kind ``content_filter``. A turn that calls the
caller's own tools (``stop_reason`` ``toolUse``) has no object: ``parsed`` stays ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

from .options._kinds import fail_type, fail_value
from .schema import (
    InstanceError,
    SchemaDialect,
    SchemaError,
    drop_absent_nulls,
    from_json,
    is_model_type,
    json_schema,
    strict_schema,
    validate,
)

if TYPE_CHECKING:
    from ._speedups import JsonDeltaMerger
    from .errors import ErrorKind
    from .options import StreamOptions
    from .types import AssistantMessage, Context, Model, StopReason

__all__ = [
    "NATIVE_DIALECTS",
    "OUTPUT_TOOL_DESCRIPTION",
    "OutputMode",
    "OutputPlan",
    "OutputSpec",
    "OutputState",
    "anthropic_output_format",
    "apply_output",
    "bedrock_output_config",
    "check_output_schema",
    "check_response_format",
    "gemini_generation_fields",
    "has_native_output",
    "openai_response_format",
    "plan_output",
    "responses_text_format",
]

OutputMode = Literal["native", "tool"]

NATIVE_DIALECTS: Final[Mapping[str, SchemaDialect]] = {
    "openai-completions": "openai",
    "openai-responses": "openai",
    "azure-openai-responses": "openai",
    "anthropic-messages": "anthropic",
    "bedrock-converse-stream": "anthropic",
    "google-generative-ai": "gemini",
    "google-vertex": "gemini",
    "mistral-conversations": "mistral",
    "cohere-chat": "openai",
}
"""The schema dialect of each built-in wire API's native structured-output mode."""

_ALWAYS_CONSTRAINED: Final = frozenset({"anthropic", "gemini"})
"""Dialects whose native mode always constrains (no ``strict`` switch): the schema is always normalised."""
_JSON_MODE_DIALECTS: Final = frozenset({"openai", "gemini", "mistral"})
"""Dialects with a schemaless JSON mode (``json_object`` / ``responseMimeType`` alone)."""

OUTPUT_TOOL_DESCRIPTION: Final = (
    "Give your final answer by calling this tool: its input is the answer, exactly as its schema describes."
)
_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_JSON_OBJECT_NAME: Final = "json_output"


# --------------------------------------------------------------------------- the canonical form


@dataclass(frozen=True, eq=False)
class OutputSpec:
    """What the caller asked the answer to be, in one form.

    ``name`` names the schema (and the tool in tool mode); ``schema`` is the JSON
    Schema the answer is validated against (``None`` in JSON mode: any JSON);
    ``strict`` asks for constrained decoding where the API has a switch;
    ``python_type`` is the class the final value is built as (``None``: a dict);
    ``json_only`` marks plain JSON mode.
    """

    name: str
    schema: dict[str, Any] | None
    strict: bool = True
    python_type: type | None = None
    json_only: bool = False
    description: str | None = None
    option: str = "response_format"
    """The option it came from (errors name it)."""

    def __repr__(self) -> str:
        kind = "json_object" if self.json_only else (self.python_type or type(None)).__name__
        return f"OutputSpec(name={self.name!r}, strict={self.strict}, type={kind})"


def _clean_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:64]
    return name or "output"


def _from_type(option: str, tp: type) -> OutputSpec:
    try:
        schema = json_schema(tp)
    except TypeError as exc:
        raise TypeError(f"option {option}: {exc}") from None
    return OutputSpec(_clean_name(tp.__name__), schema, True, tp, description=schema.get("description"))


def _checked_schema(option: str, schema: object) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise fail_type(f"{option} schema", "a JSON Schema mapping", schema)
    import jsonschema

    plain = dict(schema)
    try:
        jsonschema.validators.validator_for(plain, default=jsonschema.Draft202012Validator).check_schema(plain)
    except jsonschema.exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ValueError(f"option {option} is not a valid JSON Schema at #/{where}: {exc.message}") from None
    return plain


def check_response_format(name: str, value: object) -> OutputSpec | None:
    """The option kind of ``response_format``: an :class:`OutputSpec`, or ``None`` for plain text."""
    if isinstance(value, type):
        if is_model_type(value) or _is_dataclass_type(value) or _is_typeddict(value):
            return _from_type(name, value)
        raise fail_type(name, "a pydantic BaseModel subclass, a dataclass or a TypedDict class", value)
    if isinstance(value, str):
        if value == "text":
            return None
        if value in ("json", "json_object"):
            return OutputSpec(_JSON_OBJECT_NAME, None, False, json_only=True)
        raise fail_value(name, "'text', 'json', a mapping or a class", value)
    if not isinstance(value, Mapping):
        raise fail_type(name, "a mapping (OpenAI's shape), a class or 'json'", value)
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputSpec(_JSON_OBJECT_NAME, None, False, json_only=True)
    inner = value.get("json_schema") if kind == "json_schema" else value if kind is None else None
    if not isinstance(inner, Mapping) or "schema" not in inner:
        raise ValueError(
            f"option {name} must be {{'type': 'json_object'}}, {{'type': 'json_schema', 'json_schema': "
            "{'name': ..., 'schema': {...}, 'strict': ...}}, {'schema': {...}}, 'json', 'text', or a "
            f"pydantic / dataclass / TypedDict class; got {value!r}"
        )
    schema = _checked_schema(name, inner["schema"])
    given = inner.get("name", "response")
    if not isinstance(given, str) or not _NAME.match(given):
        raise fail_value(f"{name} name", "1 to 64 of a-z, A-Z, 0-9, _ and -", given)
    strict = inner.get("strict", False)
    if not isinstance(strict, bool):
        raise fail_type(f"{name} strict", "True or False", strict)
    description = inner.get("description")
    if description is not None and not isinstance(description, str):
        raise fail_type(f"{name} description", "a string", description)
    return OutputSpec(given, schema, strict, description=description)


def check_output_schema(name: str, value: object) -> OutputSpec:
    """The option kind of ``output_schema``: a plain JSON Schema (strict where the API has the switch)."""
    schema = _checked_schema(name, value)
    title = schema.get("title")
    description = schema.get("description")
    return OutputSpec(
        _clean_name(title) if isinstance(title, str) else "output",
        schema,
        True,
        description=description if isinstance(description, str) else None,
        option=name,
    )


def _is_dataclass_type(value: type) -> bool:
    import dataclasses

    return dataclasses.is_dataclass(value)


def _is_typeddict(value: type) -> bool:
    return issubclass(value, dict) and hasattr(value, "__required_keys__")


# --------------------------------------------------------------------------- the plan at the call


@dataclass(frozen=True, eq=False)
class OutputPlan:
    """How one call asks for structured output: the spec, the mode and the schema as sent."""

    spec: OutputSpec
    mode: OutputMode
    dialect: SchemaDialect | None
    wire_schema: dict[str, Any] | None
    """The schema the request carries (normalised for the API in native mode; ``None``: JSON mode)."""
    nulls_mean_absent: bool = False
    """The wire schema made optional properties ``anyOf [X, null]``: a ``null`` there means absent."""

    @property
    def tool_name(self) -> str:
        return self.spec.name

    @property
    def native(self) -> bool:
        return self.mode == "native"

    def output_tool(self) -> Any:
        """The :class:`~alchemy.types.Tool` that carries the answer in tool mode."""
        from .types import Tool

        schema = self.wire_schema if self.wire_schema is not None else {"type": "object"}
        description = OUTPUT_TOOL_DESCRIPTION
        if self.spec.description:
            description = f"{description} {self.spec.description}"
        return Tool(self.tool_name, description, schema)


def has_native_output(model: Model) -> bool:
    """Whether ``model``'s wire API has a native structured-output mode for it.

    Anthropic's Messages API: Claude models with structured outputs (a family fact,
    :func:`alchemy.model_facts.claude_structured_outputs`); other Anthropic-compatible
    models are asked through a tool. Every other built-in API: the registry's
    ``supports_json_output`` capability (hand-built models: on).
    """
    if model.api not in NATIVE_DIALECTS:
        return False
    if model.api == "anthropic-messages":
        from .model_facts import claude_structured_outputs

        return claude_structured_outputs(model)
    return model.caps.supports_json_output


def _refuse(model: Model, reason: str) -> ValueError:
    from .errors import UnsupportedCapabilityError

    return UnsupportedCapabilityError(
        model.key,
        "supports_json_output",
        f"structured output cannot be asked of model {model.key} (api {model.api!r}): {reason}",
    )


def plan_output(model: Model, spec: OutputSpec) -> OutputPlan:
    """The :class:`OutputPlan` for ``spec`` on ``model``; ``ValueError`` naming why when there is none."""
    dialect = NATIVE_DIALECTS.get(model.api)
    native_error: SchemaError | None = None
    if dialect is not None and has_native_output(model) and (not spec.json_only or dialect in _JSON_MODE_DIALECTS):
        if spec.schema is None:
            return OutputPlan(spec, "native", dialect, None)
        if spec.strict or dialect in _ALWAYS_CONSTRAINED:
            try:
                wire = strict_schema(spec.schema, dialect)
            except SchemaError as exc:
                if spec.strict:
                    raise ValueError(f"option {spec.option}: {exc}") from None
                native_error = exc
            else:
                return OutputPlan(spec, "native", dialect, wire, nulls_mean_absent=dialect == "openai")
        else:
            return OutputPlan(spec, "native", dialect, spec.schema)
    if not model.caps.supports_tools:
        why = "it has neither a native JSON output mode nor tool calling"
        if native_error is not None:
            why = f"its native mode cannot take the schema ({native_error}) and it has no tool calling"
        raise _refuse(model, why + "; pick a model with either")
    schema = spec.schema if spec.schema is not None else {"type": "object"}
    if schema.get("type") != "object":
        raise ValueError(
            f"option {spec.option}: model {model.key} takes structured output through a tool, whose input must be "
            f"a JSON object; the schema's root is {schema.get('type', 'not typed')!r}; wrap the value in an object"
        )
    return OutputPlan(spec, "tool", None, schema)


def apply_output(model: Model, context: Context, options: StreamOptions) -> Context:
    """Plans the call's structured output (``options.output``) and, in tool mode, the context and
    ``tool_choice`` that carry it. Raises ``TypeError`` / ``ValueError`` at the call."""
    spec = options.response_format
    if options.output_schema is not None:
        if spec is not None:
            raise TypeError("give either response_format or output_schema, not both")
        spec = options.output_schema
    if spec is None:
        return context
    plan = plan_output(model, spec)
    options.output = plan
    if plan.native:
        return context
    tools = list(context.tools or ())
    if any(tool.name == plan.tool_name for tool in tools):
        raise ValueError(
            f"option {spec.option}: model {model.key} takes structured output through a tool named "
            f"{plan.tool_name!r}, and the context already has a tool of that name; rename one of them"
        )
    if options.tool_choice is not None:
        raise ValueError(
            f"option tool_choice cannot be combined with {spec.option} on model {model.key}: it has no native "
            "JSON output mode, so the answer comes through a forced tool call"
        )
    options.tool_choice = "required" if tools else {"name": plan.tool_name}
    return replace(context, tools=[*tools, plan.output_tool()])


# --------------------------------------------------------------------------- the stream


class OutputState:
    """The structured output of one stream: feeds the merger, ends with the parsed value or an error.

    The emitter owns one when the call asked for structured output. In native mode every
    text delta is fed; in tool mode the emitter follows the output tool's own merger.
    """

    __slots__ = ("plan", "native", "message", "merger", "redirected", "_new_merger")

    def __init__(self, plan: OutputPlan, message: AssistantMessage, merger_factory: Any = None) -> None:
        if merger_factory is None:
            from ._speedups import JsonDeltaMerger

            merger_factory = JsonDeltaMerger
        self._new_merger = merger_factory
        self.plan = plan
        self.native = plan.native
        """Whether text deltas are the answer (native mode); else the output tool's arguments are."""
        self.message = message
        self.merger: Any = None
        self.redirected = False
        self.reset()

    def reset(self) -> None:
        """A fresh start (a new stream, or a retried attempt)."""
        self.redirected = False
        self.merger = self._new_merger() if self.native else None
        self.message.stream_parsed_from(self.merger)
        self.message.refusal = None

    def is_output_tool(self, name: str) -> bool:
        return not self.native and name == self.plan.tool_name

    def follow(self, merger: JsonDeltaMerger) -> None:
        """Tool mode: the output tool's arguments are the answer."""
        self.redirected = True
        self.merger = merger
        self.message.stream_parsed_from(merger)

    def stop_reason(self, reason: StopReason, has_tool_calls: bool) -> StopReason:
        """``toolUse`` caused by the output tool alone is a plain ``stop``."""
        if reason == "toolUse" and self.redirected and not has_tool_calls:
            return "stop"
        return reason

    def finish(self, reason: StopReason) -> tuple[ErrorKind, str] | None:
        """Fixes ``message.parsed`` at a ``done``; ``(kind, message)`` when the stream must end in error instead."""
        message = self.message
        if message.refusal:
            message.stream_parsed_from(None)
            message.set_parsed(None)
            return "content_filter", f"The model refused to answer: {message.refusal}"
        if reason == "toolUse":
            message.stream_parsed_from(None)
            message.set_parsed(None)
            return None
        try:
            value = self._final_value(reason)
        except InstanceError as exc:
            message.stream_parsed_from(None)
            message.set_parsed(None)
            return "invalid_output", f"Structured output does not match the schema at {exc.path}: {exc.reason}"
        except ValueError as exc:
            message.stream_parsed_from(None)
            message.set_parsed(None)
            return "invalid_output", str(exc)
        message.stream_parsed_from(None)
        message.set_parsed(value)
        return None

    def abandon(self) -> None:
        """The stream ended in error: there is no object (the raw text stays in the message)."""
        self.message.stream_parsed_from(None)
        self.message.set_parsed(None)

    def _final_value(self, reason: StopReason) -> Any:
        merger = self.merger
        if merger is None or not merger.text.strip():
            raise ValueError("Structured output is missing: the model answered with no JSON")
        if merger.error is not None:
            if getattr(merger, "too_deep", False):
                raise ValueError(f"Structured output is refused: {merger.error}")
            raise ValueError(f"Structured output is not valid JSON: {merger.error}")
        if not merger.complete:
            if reason == "length":
                raise ValueError(
                    "Structured output was cut off by the output limit before its JSON was complete "
                    "(stop reason length); raise max_tokens"
                )
            raise ValueError("Structured output ended before its JSON was complete")
        value = merger.value
        spec = self.plan.spec
        if spec.schema is None:
            return value
        if self.plan.nulls_mean_absent:
            drop_absent_nulls(value, spec.schema)
        tp = spec.python_type
        if tp is not None and is_model_type(tp):
            return from_json(tp, value)
        validate(value, spec.schema)
        return value if tp is None else from_json(tp, value)


# --------------------------------------------------------------------------- native request fields, per wire API


def openai_response_format(plan: OutputPlan) -> dict[str, Any]:
    """Chat Completions (and Mistral) ``response_format``: ``json_object``, or ``json_schema`` with ``strict``."""
    if plan.wire_schema is None:
        return {"type": "json_object"}
    inner: dict[str, Any] = {"name": plan.spec.name, "schema": plan.wire_schema, "strict": plan.spec.strict}
    if plan.spec.description:
        inner["description"] = plan.spec.description
    return {"type": "json_schema", "json_schema": inner}


def responses_text_format(plan: OutputPlan) -> dict[str, Any]:
    """Responses ``text.format``: ``json_object``, or ``json_schema`` with its fields inline."""
    if plan.wire_schema is None:
        return {"type": "json_object"}
    out: dict[str, Any] = {"type": "json_schema", "name": plan.spec.name, "schema": plan.wire_schema,
                           "strict": plan.spec.strict}
    if plan.spec.description:
        out["description"] = plan.spec.description
    return out


def anthropic_output_format(plan: OutputPlan) -> dict[str, Any]:
    """Anthropic ``output_config.format`` (JSON outputs)."""
    return {"type": "json_schema", "schema": plan.wire_schema}


def bedrock_output_config(plan: OutputPlan) -> dict[str, Any]:
    """Bedrock Converse ``outputConfig``: ``textFormat`` with the schema as a JSON string, as the API takes it."""
    import orjson

    definition: dict[str, Any] = {"schema": orjson.dumps(plan.wire_schema).decode(), "name": plan.spec.name}
    if plan.spec.description:
        definition["description"] = plan.spec.description
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


def gemini_generation_fields(plan: OutputPlan, *, openapi: bool = False) -> dict[str, Any]:
    """Gemini / Vertex ``generationConfig`` fields: ``responseMimeType`` and ``responseJsonSchema`` (or, for
    endpoints that take only the OpenAPI subset, ``responseSchema``)."""
    fields: dict[str, Any] = {"responseMimeType": "application/json"}
    if plan.wire_schema is not None:
        if openapi:
            from .providers._google_schema import openapi_schema

            fields["responseSchema"] = openapi_schema(plan.wire_schema)
        else:
            fields["responseJsonSchema"] = plan.wire_schema
    return fields
