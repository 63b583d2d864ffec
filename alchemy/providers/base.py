"""The shape of a wire-API provider: sans-I/O request building and response parsing.

A provider module (one per wire API) subclasses :class:`HttpProvider` and writes
two things, neither of which touches the network:

* :meth:`HttpProvider.build_request` turns a model, a context and the checked
  options into an :class:`~alchemy.request.HttpRequest` (URL, headers, JSON body).
  It runs the conversation shaping first (:meth:`HttpProvider.shape`: handoff rules,
  capability transforms, surrogate removal) and raises a clear exception for
  anything the request cannot be built from (missing key, unsupported capability).
* :meth:`HttpProvider.create_parser` returns a :class:`WireParser` that is fed the
  response body chunk by chunk and writes into the stream's
  :class:`~alchemy.emitter.EventEmitter`. SSE APIs subclass :class:`SSEParser`,
  which decodes the framing and hands each event's name and data bytes over.

The runner in :mod:`alchemy.providers._runner` does the I/O for every provider,
sync and async: sending with retries, timeouts, abort, the ``on_payload`` hook,
the authentication step (a request's :class:`~alchemy.request.Auth`, applied once
per attempt), HTTP error text, metrics. :meth:`HttpProvider.open` and
:meth:`HttpProvider.aopen` hand the provider to the runner's sources; the runner
knows providers only as types, so the import goes one way. So a new provider is one
file, and its tests feed bytes straight into its parser.

Errors a parser finds in a 200 stream (an ``error`` event, an error object in a
chunk) are raised as :class:`ProviderStreamError` with their ``kind``, read from the
provider's own error code by one table per provider (:attr:`HttpProvider.error_kinds`,
through :func:`~alchemy.overflow.classify_error`); a retryable kind (overloaded, rate
limited) lets the runner try again as long as no content reached the consumer.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol
from urllib.parse import urlsplit

from .._speedups import SSEDecoder
from ..config import CACHE_RETENTION
from ..errors import MissingApiKeyError, ProviderStreamError
from ..options import TRANSPORT_OPTIONS, carried_options
from ..request import HttpRequest
from ..transport import base_url_override
from ..wire_apis import WIRE_APIS
from ._chunks import SHAPE_ERRORS, MalformedEventError
from ._runner import AsyncHttpEventSource, HttpEventSource

if TYPE_CHECKING:
    from ..api_registry import AsyncEventSource, EventSource
    from ..capabilities import ShapedRequest, ToolChoice
    from ..errors import ErrorKind
    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..types import CacheRetention, Context, Model

__all__ = [
    "CACHE_RETENTION_VARIABLE",
    "HttpProvider",
    "ProviderStreamError",
    "SSEParser",
    "WireParser",
    "deep_merge",
    "is_loopback_url",
    "merge_headers",
    "resolve_cache_retention",
]

CACHE_RETENTION_VARIABLE = CACHE_RETENTION.name
"""The process default for ``cache_retention`` (declared in :mod:`alchemy.config`)."""


class WireParser(Protocol):
    """Turns one response body into emitter calls; no I/O.

    A parser that keeps events back (a later item's deltas waiting until an earlier
    item ends) also defines ``flush_pending()``, which plays them out: the runner
    calls it when the stream ends early (abort, consumer close, error), just before
    the ``error`` event, so the ended message keeps everything received. It is
    optional (parsers that hold nothing need none; :class:`SSEParser` has a no-op).
    """

    def feed(self, chunk: bytes) -> None:
        """Parses one network chunk (any split); may raise :class:`ProviderStreamError`."""
        ...

    def finish(self) -> None:
        """The body ended: flush, and end the response (``done``) or raise if it is cut short."""
        ...


class SSEParser:
    """Base of the SSE-framed parsers: decodes frames, calls :meth:`on_event` per event.

    ``on_event(event, data)`` gets the event name (``"message"`` when the frame has
    none) and the data as bytes, ready for ``orjson.loads``; events with no data
    never arrive (the decoder drops them, per the spec). A ``KeyError``,
    ``TypeError``, ``AttributeError`` or ``IndexError`` raised while an event is
    handled (a field missing or of the wrong JSON type) becomes one
    :class:`~alchemy.providers._chunks.MalformedEventError` naming the event.
    """

    __slots__ = ("emitter", "_feed_raw")

    def __init__(self, emitter: EventEmitter) -> None:
        self.emitter = emitter
        self._feed_raw = SSEDecoder().feed_raw

    def feed(self, chunk: bytes) -> None:
        on_event = self.on_event
        event, data = "", b""
        try:
            for event, data in self._feed_raw(chunk):
                on_event(event, data)
        except SHAPE_ERRORS as exc:
            raise MalformedEventError(event, data, exc) from exc

    def on_event(self, event: str, data: bytes) -> None:
        raise TypeError(f"{type(self).__name__} must define on_event(event, data)")

    def finish(self) -> None:
        raise TypeError(f"{type(self).__name__} must define finish()")

    def flush_pending(self) -> None:
        """Nothing held back by default (see :class:`WireParser`)."""


def resolve_cache_retention(options: StreamOptions, env: Mapping[str, str] | None = None) -> CacheRetention:
    """``cache_retention`` from the options, else ``ALCHEMY_CACHE_RETENTION`` (read now), else ``"short"``."""
    if options.cache_retention is not None:
        return options.cache_retention
    return CACHE_RETENTION.read(env)



def merge_headers(*layers: Mapping[str, str] | None) -> dict[str, str]:
    """Merges header layers left to right; a later layer wins, names compared case-insensitively.

    Values lose surrounding whitespace (no part of a header value, and a pasted key's
    trailing newline would make the request fail)."""
    merged: dict[str, str] = {}
    names: dict[str, str] = {}
    for layer in layers:
        if not layer:
            continue
        for name, value in layer.items():
            lowered = name.lower()
            previous = names.get(lowered)
            if previous is not None and previous != name:
                del merged[previous]
            names[lowered] = name
            merged[name] = value.strip() if isinstance(value, str) else value
    return merged


class HttpProvider:
    """Base of the providers that speak a wire API over HTTP (all built-in ones).

    Subclasses set ``api`` and ``label`` (how errors name the service, e.g.
    ``"Anthropic"``), and write :meth:`build_request`, :meth:`create_parser` and,
    where reasoning levels apply, :meth:`map_simple_options`. The options a provider
    takes are the ones :mod:`alchemy.options` declares for its ``api``; they arrive
    checked, so a provider never re-checks a value — only what depends on the model
    together with several options, in :meth:`check_request`, which runs at the call.
    """

    api: ClassVar[str]
    label: ClassVar[str]
    error_kinds: ClassVar[Mapping[str, ErrorKind]] = {}
    """The provider's error types and codes (lowercase) -> the kind each means; the same
    table its parser reads for errors inside the stream."""

    @property
    def option_names(self) -> frozenset[str]:
        """The declared options of this provider's wire API (and the runner's, for a custom one)."""
        return carried_options(self.api) | TRANSPORT_OPTIONS

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        """Raises ``ValueError`` / ``TypeError`` for option combinations the request cannot carry.

        Runs at the call, before the stream is returned; the default has nothing to check.
        """

    def check_credentials(self, model: Model, options: StreamOptions) -> None:
        """Raises :class:`MissingApiKeyError` at the call when a needed key is neither given nor set.

        Runs before the stream is returned (so before any I/O), for the built-in APIs
        whose requests always carry a key (``credentials`` in :mod:`alchemy.wire_apis`):
        the message names the variables looked at, never a value. Credential chains that
        need I/O (Vertex ADC, Bedrock SigV4) are resolved when the request is sent, and
        their failures end the stream; a provider of your own checks its own credentials.
        """
        wire = WIRE_APIS.get(self.api)
        if wire is None or wire.credentials == "api-key-or-chain":
            return
        if wire.credentials == "api-key-or-local" and is_loopback_url(self.base_url(model)):
            return
        self.api_key(model, options)

    # -- what a provider writes ------------------------------------------------------

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        raise TypeError(f"{type(self).__name__} must define build_request()")

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> WireParser:
        raise TypeError(f"{type(self).__name__} must define create_parser()")

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        """Default: no reasoning knob; ``reasoning`` and ``thinking_budgets`` are ignored."""
        return options

    def error_label(self, model: Model) -> str:
        """How errors name the service: the label, with the model's provider when it differs
        (``"groq (OpenAI Chat Completions) HTTP 429: ..."``)."""
        provider = model.provider.lower().replace("-", "").replace("_", "")
        if not provider or self.label.lower().replace(" ", "").startswith(provider):
            return self.label
        return f"{model.provider} ({self.label})"

    def classify_error(self, status: int | None, code: str | None, text: str) -> ErrorKind:
        """The kind of a failure from its HTTP status, the provider's error code and its text,
        read with the provider's own table :attr:`error_kinds` (see :func:`~alchemy.overflow.classify_error`)."""
        from ..overflow import classify_error

        return classify_error(status=status, code=code, text=text, codes=self.error_kinds)

    def is_retryable_status(self, status: int, body: bytes) -> bool:
        """Whether an HTTP error status (with its body) is worth retrying."""
        from ..transport import is_retryable_status

        return is_retryable_status(status)

    # -- the runner ------------------------------------------------------------------

    def open(self, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter) -> EventSource:
        """A sync source that sends :meth:`build_request` with the runner (no provider overrides this)."""
        return HttpEventSource(self, model, context, options, emitter)

    def aopen(
        self, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> AsyncEventSource:
        """An async source that sends :meth:`build_request` with the runner (no provider overrides this)."""
        return AsyncHttpEventSource(self, model, context, options, emitter)

    # -- helpers for build_request ---------------------------------------------------

    def api_key(self, model: Model, options: StreamOptions, *, required: bool = True) -> str | None:
        """The key from the options, else from the provider's environment variables.

        A missing required key raises :class:`MissingApiKeyError` naming the variables
        that were looked at.
        """
        if options.api_key:
            return options.api_key
        from ..models import get_env_api_key

        key = get_env_api_key(model)
        if key or not required:
            return key
        raise MissingApiKeyError(model.provider, self.key_variables(model))

    def key_variables(self, model: Model) -> tuple[str, ...]:
        """The environment variables that may hold the key (for error messages)."""
        from ..models import get_provider
        from ..models._env import env_key_candidates

        names = list(env_key_candidates(model.env_keys, model.base_url))
        try:
            names += [n for n in get_provider(model.provider).env if n not in names]
        except LookupError:
            pass
        return tuple(names)

    def secret_variables(self, model: Model) -> tuple[str, ...]:
        """The environment variables whose values the stream's redactor hides (read per call):
        the key variables; a provider with other credentials in the environment adds them."""
        return self.key_variables(model)

    def base_url(self, model: Model, env: Mapping[str, str] | None = None) -> str:
        """``ALCHEMY_BASE_URL_OVERRIDE`` if set, else the model's URL with ``${VAR}`` filled."""
        override = base_url_override(os.environ if env is None else env)
        if override:
            return override
        from ..models import resolve_base_url

        return resolve_base_url(model, env).rstrip("/")

    def shape(
        self,
        model: Model,
        context: Context,
        options: StreamOptions,
        *,
        tool_choice: ToolChoice | None = None,
        user: str | None = None,
    ) -> ShapedRequest:
        """Handoff, capability transforms and surrogate removal, in the documented order."""
        from ..capabilities import RequestValues, shape_request
        from ..tool_ids import tool_call_id_normalizer

        values = RequestValues(
            temperature=options.temperature,
            tool_choice=options.tool_choice if tool_choice is None else tool_choice,
            user=options.user if user is None else user,
        )
        return shape_request(
            context,
            model,
            values,
            foreign_thinking=options.foreign_thinking or "drop",
            foreign_server_tools=options.foreign_server_tools or "drop",
            normalize_tool_call_id=tool_call_id_normalizer(model),
        )

    def headers(self, model: Model, options: StreamOptions, defaults: Mapping[str, str]) -> dict[str, str]:
        """Provider defaults, then the model's headers, then ``headers``, then ``extra_headers`` (the last wins)."""
        return merge_headers(defaults, model.headers, options.headers, options.extra_headers)

    @staticmethod
    def with_extra_body(body: dict[str, Any], options: StreamOptions) -> dict[str, Any]:
        """``extra_body`` deep-merged into ``body`` (mappings merge key by key; anything else replaces)."""
        extra = options.extra_body
        if extra:
            deep_merge(body, extra)
        return body


_LOOPBACK_NAMES: Final = frozenset({"localhost", "host.docker.internal"})


@lru_cache(maxsize=256)
def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, ``127.x``, ``::1``, ``0.0.0.0``):
    a local server, which needs no API key. Cached: it runs at every call, for few URLs."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def deep_merge(target: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merges ``extra`` into ``target`` in place: nested mappings key by key, other values replace."""
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            deep_merge(current, value)
        else:
            target[key] = dict(value) if isinstance(value, Mapping) else value
    return target


def provider_option(options: StreamOptions, name: str, default: Any = None) -> Any:
    """A provider-specific option (``None`` when not given)."""
    return options.provider_options.get(name, default)
