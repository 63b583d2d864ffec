"""Every exception alchemy raises, in one module shared by the compiled and pure twins.

Errors that happen while a stream runs (HTTP errors, dropped connections, malformed
chunks) never surface as exceptions: they end the stream with an ``error`` event.
The exceptions below are for programmer errors and for the kernels' own limits,
raised at once with a message that says what to change.

Hierarchy::

    AlchemyError
    ├── SSEError                 (also ValueError) an SSE event exceeded max_event_bytes
    ├── EventStreamError         (also ValueError) an AWS event-stream body is corrupt (CRC, length, header) or cut off
    ├── ModelNotFoundError       (also LookupError) no registry model has that provider/id
    ├── UnresolvedPlaceholderError (also LookupError) a ${VAR} of a base URL is not set
    ├── ToolValidationError      (also ValueError) tool-call arguments do not match the tool's schema
    ├── RecordingNotFoundError   (also LookupError) alchemy.testing: no recording by that name or path
    ├── ReplayServerError        (also RuntimeError) alchemy.testing: the replay server failed to start, stop or serve
    ├── UnknownApiError          (also LookupError) no provider is registered for a model's api
    ├── StreamProtocolError      (also RuntimeError) a provider called the event emitter out of order
    ├── UnsupportedCapabilityError (also ValueError) the request needs something the model lacks
    ├── MissingApiKeyError       (also LookupError) no key given and none in the provider's variables
    ├── MissingConfigurationError (also LookupError) a setting a provider needs (region, project, ...) is unset
    └── ProviderError            what ended a stream, as the ``error`` event's message says
        │   by where it happened (raised inside a source, turned into the ``error`` event):
        ├── ProviderHttpError    the provider answered with an HTTP error status
        ├── ProviderStreamError  the provider reported an error inside a 200 stream
        ├── StreamInterruptedError the connection dropped, stalled or sent bytes that do not parse
        │   by kind (raised by ``AssistantMessage.raise_for_error()``, one per ErrorKind):
        ├── RateLimitError           rate_limit          too many requests or tokens for now
        ├── OverloadedError          overloaded          the service is at capacity
        ├── ContextOverflowError     context_overflow    the request does not fit the model's context
        ├── AuthenticationError      auth                the key or token was refused
        ├── PermissionDeniedError    permission          the key may not use this model or feature
        ├── NotFoundError            not_found           no such model or endpoint
        ├── InvalidRequestError      invalid_request     the provider rejected the request as malformed
        ├── ContentFilterError       content_filter      a safety filter blocked the prompt or answer
        ├── InvalidOutputError       invalid_output      the model produced output that is not valid
        ├── ProviderTimeoutError     timeout             (also TimeoutError) no answer in time
        ├── ProviderConnectionError  connection          (also ConnectionError) the connection failed or was cut
        ├── ServerError              server              the provider failed internally
        ├── MalformedResponseError   malformed_response  the answer does not parse
        ├── AbortedError             aborted             the consumer or a signal stopped the stream
        └── CircuitOpenError         circuit_open        a client-side circuit breaker is open: failing fast
        (kind ``unknown`` raises ProviderError itself)

A failed message carries the same facts as data: ``message.error`` is an
:class:`ErrorInfo` (kind, HTTP status, the provider's code, request id, retryable,
retry-after). :data:`ERROR_KINDS` declares every kind once: its exception class and
whether a retry may help by default.

Warnings (never raised, shown once)::

    AlchemyWarning (UserWarning)
    ├── TokenizerFallbackWarning  tiktoken files unreachable: token counts are estimates
    └── RegistryRefreshWarning    refresh_models kept the data it had, and says why
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

if TYPE_CHECKING:
    from .types import AssistantMessage

__all__ = [
    "AlchemyError",
    "ERROR_KINDS",
    "AbortedError",
    "BudgetExceededError",
    "CircuitOpenError",
    "AuthenticationError",
    "ContentFilterError",
    "ContextOverflowError",
    "ErrorInfo",
    "ErrorKind",
    "ErrorKindSpec",
    "InvalidOutputError",
    "InvalidRequestError",
    "MalformedResponseError",
    "MissingApiKeyError",
    "MissingConfigurationError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHttpError",
    "ProviderStreamError",
    "ProviderTimeoutError",
    "RateLimitError",
    "ServerError",
    "StreamInterruptedError",
    "AlchemyWarning",
    "StreamProtocolError",
    "UnknownApiError",
    "ModelNotFoundError",
    "RecordingNotFoundError",
    "RegistryRefreshWarning",
    "ReplayServerError",
    "SSEError",
    "EventStreamError",
    "TokenizerFallbackWarning",
    "ToolValidationError",
    "UnknownPriceWarning",
    "UnresolvedPlaceholderError",
    "UnsupportedCapabilityError",
]


class AlchemyError(Exception):
    """Base class of every exception raised by alchemy."""


class SSEError(AlchemyError, ValueError):
    """The server-sent-events stream cannot be decoded within the decoder's limits."""


class EventStreamError(AlchemyError, ValueError):
    """An AWS event-stream body (Bedrock) cannot be decoded.

    A checksum does not match, a length is impossible or over the decoder's limit, a
    header is malformed, or the stream ended inside a message. The message says
    which, and at which byte of the stream the bad message starts.
    """


class ToolValidationError(AlchemyError, ValueError):
    """A tool call's arguments do not match its tool's JSON Schema, or name no known tool.

    ``str(error)`` is written to be sent back to the model as an error tool result: it
    names the tool, lists every failing path with its reason and shows the arguments
    as received. ``errors`` holds the same ``(path, reason)`` pairs for programs.
    """

    def __init__(
        self,
        message: str,
        *,
        tool_name: str,
        errors: tuple[tuple[str, str], ...] = (),
        arguments: object = None,
    ) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.errors = errors
        self.arguments = arguments


class UnsupportedCapabilityError(AlchemyError, ValueError):
    """The request needs a capability the target model lacks and no reshaping can supply.

    Raised while a request is shaped, before anything is sent; the stream runner turns
    it into an ``error`` event. ``model`` is the ``provider/id`` key and ``capability``
    the name of the missing flag of :class:`alchemy.ModelCapabilities`.
    """

    def __init__(self, model: str, capability: str, message: str) -> None:
        super().__init__(message)
        self.model = model
        self.capability = capability


class ModelNotFoundError(AlchemyError, LookupError):
    """No model in the registry matches; the message lists the closest matches.

    ``query`` is what was asked for and ``suggestions`` the ``provider/id`` keys
    that come closest (possibly empty).
    """

    def __init__(self, message: str, *, query: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.query = query
        self.suggestions = suggestions


class UnresolvedPlaceholderError(AlchemyError, LookupError):
    """A ``${VAR}`` in a model's base URL names an environment variable that is not set."""

    def __init__(self, variable: str, model: str, url: str, aliases: tuple[str, ...] = ()) -> None:
        also = f" (or {', '.join(aliases)})" if aliases else ""
        super().__init__(
            f"model {model}: its base URL {url!r} needs the environment variable {variable}{also}; "
            f"set it, or pass a model whose base_url has no ${{{variable}}}"
        )
        self.variable = variable
        self.model = model
        self.url = url


class RecordingNotFoundError(AlchemyError, LookupError):
    """``alchemy.testing``: a replay names a recording that is neither a file, bundled, nor found
    under the server's recording directories."""


class ReplayServerError(AlchemyError, RuntimeError):
    """``alchemy.testing``: the replay server could not start or stop, or failed to serve a request
    (raised when its ``with`` block ends, listing what went wrong)."""


class UnknownApiError(AlchemyError, LookupError):
    """No provider is registered for the api a model names; ``api`` is that name.

    Raised by ``stream()`` and friends at call time, before any event: the message
    lists the registered apis and points at :func:`alchemy.register_api`.
    """

    def __init__(self, api: str, registered: tuple[str, ...] = ()) -> None:
        known = ", ".join(repr(name) for name in registered) or "none"
        super().__init__(
            f"no provider is registered for api {api!r} (registered: {known}); "
            "register one with alchemy.register_api(api, provider)"
        )
        self.api = api
        self.registered = registered


class StreamProtocolError(AlchemyError, RuntimeError):
    """A provider called the event emitter out of order (a bug in the provider).

    It is raised inside the provider's parser, so the stream ends with an ``error``
    event carrying this message; the consumer never sees the exception itself.
    """


class AlchemyWarning(UserWarning):
    """Base class of the warnings alchemy shows."""


class TokenizerFallbackWarning(AlchemyWarning):
    """tiktoken's encoding files are not reachable; token counts are byte-length estimates."""


class RegistryRefreshWarning(AlchemyWarning):
    """``refresh_models`` could not use fresh data and kept what it had; the message says why."""


class UnknownPriceWarning(AlchemyWarning):
    """A budget counted a request of a model without known prices as costing 0 (its ``unknown_prices="zero"``)."""


class BudgetExceededError(AlchemyError, RuntimeError):
    """A Client's budget cannot fit the worst-case cost of a request: raised at the call, nothing is sent.

    ``budget`` is the budget's name, ``spent`` the settled spend of its current
    period, ``reserved`` what requests in flight hold, ``limit`` its limit and
    ``requested`` the worst-case cost of the refused request, all in USD
    (``requested`` is ``None`` when the model's prices are unknown).
    """

    def __init__(self, budget: str, spent: float, reserved: float, limit: float, requested: float | None) -> None:
        asked = "has unknown prices" if requested is None else f"needs up to ${requested:.6f}"
        super().__init__(
            f"Budget {budget!r} exceeded: spent ${spent:.6f} + reserved ${reserved:.6f} of limit ${limit:.6f}; "
            f"the request {asked}"
        )
        self.budget = budget
        self.spent = spent
        self.reserved = reserved
        self.limit = limit
        self.requested = requested


class MissingApiKeyError(AlchemyError, LookupError):
    """No API key was passed and none is set in the provider's environment variables.

    ``stream()`` and friends raise it at the call, before anything is sent, for the APIs
    whose requests always carry a key; ``variables`` are the ones looked at (no value is
    ever part of the message).
    """

    def __init__(self, provider: str, variables: tuple[str, ...]) -> None:
        if variables:
            names = " or ".join(variables)
            message = f"No API key for provider {provider!r}: pass api_key=... or set {names}"
        else:
            message = f"No API key for provider {provider!r}: pass api_key=..."
        super().__init__(message)
        self.provider = provider
        self.variables = variables


class MissingConfigurationError(AlchemyError, LookupError):
    """A setting a provider needs (a region, a project, an endpoint) is not set anywhere."""

    def __init__(self, provider: str, what: str, variables: tuple[str, ...] = (), option: str | None = None) -> None:
        ways = []
        if option:
            ways.append(f"pass {option}=...")
        if variables:
            ways.append(f"set {' or '.join(variables)}")
        hint = f": {' or '.join(ways)}" if ways else ""
        super().__init__(f"{provider} needs {what}{hint}")
        self.provider = provider
        self.what = what
        self.variables = variables


ErrorKind = Literal[
    "rate_limit",
    "overloaded",
    "context_overflow",
    "auth",
    "permission",
    "not_found",
    "invalid_request",
    "content_filter",
    "invalid_output",
    "timeout",
    "connection",
    "server",
    "malformed_response",
    "aborted",
    "circuit_open",
    "unknown",
]
"""Why a stream failed, in words an agent can act on (retry, compact, fall back, give up)."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What is known about why a message failed: ``message.error`` of an ``error`` or ``aborted`` message.

    ``kind`` says what to do about it; ``status`` is the HTTP status (``None`` for an
    error inside a 200 stream or a transport failure); ``code`` the provider's own error
    type or code (``"overloaded_error"``, ``"RESOURCE_EXHAUSTED"``, ``"throttlingException"``);
    ``request_id`` the provider's id of the request, for its support; ``retryable``
    whether trying again may help; ``retry_after`` the wait the server asked for, in
    seconds; ``provider_message`` the provider's own words, secrets redacted.

    Saved in the Context JSON as ``errorInfo`` (camelCase keys); pi-ai ignores it.
    """

    kind: ErrorKind = "unknown"
    status: int | None = None
    code: str | None = None
    request_id: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    provider_message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ERROR_KINDS:
            raise ValueError(f"ErrorInfo kind must be one of {', '.join(ERROR_KINDS)}, got {self.kind!r}")

    @property
    def exception_class(self) -> type[ProviderError]:
        """The exception :meth:`AssistantMessage.raise_for_error` raises for this kind."""
        return ERROR_KINDS[self.kind].exception

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "retryable": self.retryable}
        for key, value in (
            ("status", self.status),
            ("code", self.code),
            ("requestId", self.request_id),
            ("retryAfter", self.retry_after),
            ("providerMessage", self.provider_message),
        ):
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: object, path: str = "errorInfo") -> ErrorInfo:
        """Reads :meth:`to_dict`'s shape; a wrong field raises ``ValueError`` naming its path."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected an object, got {type(data).__name__}")
        kind = data.get("kind", "unknown")
        if kind not in ERROR_KINDS:
            raise ValueError(f"{path}.kind: expected one of {', '.join(ERROR_KINDS)}, got {kind!r}")
        retryable = data.get("retryable", False)
        if not isinstance(retryable, bool):
            raise ValueError(f"{path}.retryable: expected a boolean, got {type(retryable).__name__}")
        status = data.get("status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
            raise ValueError(f"{path}.status: expected an integer, got {type(status).__name__}")
        retry_after = data.get("retryAfter")
        if retry_after is not None and (not isinstance(retry_after, (int, float)) or isinstance(retry_after, bool)):
            raise ValueError(f"{path}.retryAfter: expected a number, got {type(retry_after).__name__}")
        texts: dict[str, str | None] = {}
        for key in ("code", "requestId", "providerMessage"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{path}.{key}: expected a string, got {type(value).__name__}")
            texts[key] = value
        return cls(
            kind=kind,
            status=status,
            code=texts["code"],
            request_id=texts["requestId"],
            retryable=retryable,
            retry_after=None if retry_after is None else float(retry_after),
            provider_message=texts["providerMessage"],
        )

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """What an exception that ended a stream says about the failure.

        A :class:`ProviderError` carries its own facts; alchemy's other exceptions
        and the standard ones map to the kind they mean; anything else is ``unknown``.
        """
        if isinstance(exc, ProviderError):
            return exc.info
        kind = _exception_kind(exc)
        return cls(kind=kind, retryable=ERROR_KINDS[kind].retryable)


class ProviderError(AlchemyError):
    """What ended a stream; its text becomes the ``error`` event's ``error_message``.

    ``kind`` is the :data:`ErrorKind` (given, the class's own for the per-kind classes,
    else classified from ``status``, ``code`` and the text by
    :func:`alchemy.overflow.classify_error`); ``retryable`` says whether trying again
    may help (the kind's default unless given); ``retry_after`` is the wait the server
    asked for, in seconds, when it said. ``status``, ``code``, ``request_id`` and
    ``provider_message`` are what the provider reported. ``partial`` is the message
    that failed, with everything received before the failure, when the exception
    comes from :meth:`~alchemy.types.AssistantMessage.raise_for_error`.
    """

    kind_of_class: ClassVar[ErrorKind | None] = None
    """The kind every instance of the class has (set on the per-kind classes)."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        provider_message: str | None = None,
        partial: AssistantMessage | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.provider_message = provider_message
        self.retry_after = retry_after
        self.partial = partial
        self.kind: ErrorKind = kind or self.kind_of_class or self._classify(message)
        self.retryable: bool = ERROR_KINDS[self.kind].retryable if retryable is None else retryable

    def _classify(self, message: str) -> ErrorKind:
        from .overflow import classify_error

        return classify_error(status=self.status, code=self.code, text=message)

    @property
    def info(self) -> ErrorInfo:
        """The facts of this error as the data a failed message carries."""
        return ErrorInfo(
            kind=self.kind,
            status=self.status,
            code=self.code,
            request_id=self.request_id,
            retryable=self.retryable,
            retry_after=self.retry_after,
            provider_message=self.provider_message,
        )


class ProviderHttpError(ProviderError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        kind: ErrorKind | None = None,
        code: str | None = None,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(
            message,
            kind=kind,
            retryable=retryable,
            retry_after=retry_after,
            status=status,
            code=code,
            request_id=request_id,
            provider_message=provider_message,
        )


class ProviderStreamError(ProviderError):
    """The provider reported an error inside a 200 stream (e.g. ``overloaded_error``)."""


class StreamInterruptedError(ProviderError):
    """The connection dropped, stalled past a timeout, or sent bytes that do not parse.

    Its kind, unless given: what its text says (a stall is ``timeout``, bytes that do
    not parse are ``malformed_response``), else ``connection``.
    """

    def _classify(self, message: str) -> ErrorKind:
        kind = super()._classify(message)
        return "connection" if kind == "unknown" else kind


# --------------------------------------------------------------------------- one class per kind


class RateLimitError(ProviderError):
    """Too many requests or tokens for now; ``retry_after`` says how long to wait when the server said."""

    kind_of_class = "rate_limit"


class OverloadedError(ProviderError):
    """The service is at capacity (Anthropic ``overloaded_error``, Gemini ``UNAVAILABLE``, HTTP 503/529)."""

    kind_of_class = "overloaded"


class ContextOverflowError(ProviderError):
    """The request does not fit the model's context window: compact the history and try again."""

    kind_of_class = "context_overflow"


class AuthenticationError(ProviderError):
    """The key or token was missing or refused."""

    kind_of_class = "auth"


class PermissionDeniedError(ProviderError):
    """The key is valid but may not use this model, region or feature."""

    kind_of_class = "permission"


class NotFoundError(ProviderError):
    """No such model, deployment or endpoint."""

    kind_of_class = "not_found"


class InvalidRequestError(ProviderError):
    """The provider rejected the request as malformed or unsupported."""

    kind_of_class = "invalid_request"


class ContentFilterError(ProviderError):
    """A safety filter, guardrail or refusal blocked the prompt or the answer."""

    kind_of_class = "content_filter"


class InvalidOutputError(ProviderError):
    """The model produced output that is not valid (a malformed function call, say)."""

    kind_of_class = "invalid_output"


class ProviderTimeoutError(ProviderError, TimeoutError):
    """No connection, answer or next chunk within its timeout."""

    kind_of_class = "timeout"


class ProviderConnectionError(ProviderError, ConnectionError):
    """The connection could not be made, or was lost before the response was complete."""

    kind_of_class = "connection"


class ServerError(ProviderError):
    """The provider failed internally (HTTP 5xx, ``api_error``, ``InternalServerException``)."""

    kind_of_class = "server"


class MalformedResponseError(ProviderError):
    """The answer does not parse (bad JSON, a corrupt frame, an event of an unexpected shape)."""

    kind_of_class = "malformed_response"


class AbortedError(ProviderError):
    """The consumer closed the stream or an abort signal stopped it."""

    kind_of_class = "aborted"


class CircuitOpenError(ProviderError):
    """A client-side circuit breaker (:mod:`alchemy.policies`) is open: the attempt was not sent."""

    kind_of_class = "circuit_open"


@dataclass(frozen=True, slots=True)
class ErrorKindSpec:
    """One error kind: the exception that stands for it and whether a retry may help by default."""

    exception: type[ProviderError]
    retryable: bool
    meaning: str


ERROR_KINDS: Mapping[ErrorKind, ErrorKindSpec] = {
    "rate_limit": ErrorKindSpec(RateLimitError, True, "too many requests or tokens for now"),
    "overloaded": ErrorKindSpec(OverloadedError, True, "the service is at capacity"),
    "context_overflow": ErrorKindSpec(ContextOverflowError, False, "the request does not fit the context window"),
    "auth": ErrorKindSpec(AuthenticationError, False, "the key or token was missing or refused"),
    "permission": ErrorKindSpec(PermissionDeniedError, False, "the key may not use this model or feature"),
    "not_found": ErrorKindSpec(NotFoundError, False, "no such model or endpoint"),
    "invalid_request": ErrorKindSpec(InvalidRequestError, False, "the request was rejected as malformed"),
    "content_filter": ErrorKindSpec(ContentFilterError, False, "a safety filter blocked the prompt or answer"),
    "invalid_output": ErrorKindSpec(InvalidOutputError, False, "the model produced output that is not valid"),
    "timeout": ErrorKindSpec(ProviderTimeoutError, True, "no answer within a timeout"),
    "connection": ErrorKindSpec(ProviderConnectionError, True, "the connection failed or was cut"),
    "server": ErrorKindSpec(ServerError, True, "the provider failed internally"),
    "malformed_response": ErrorKindSpec(MalformedResponseError, False, "the answer does not parse"),
    "aborted": ErrorKindSpec(AbortedError, False, "the consumer or a signal stopped the stream"),
    "circuit_open": ErrorKindSpec(CircuitOpenError, False, "a client-side circuit breaker is open"),
    "unknown": ErrorKindSpec(ProviderError, False, "nothing more is known"),
}
"""Every :data:`ErrorKind`, declared once: its exception class and whether it is retryable by default."""

assert tuple(ERROR_KINDS) == get_args(ErrorKind), "ERROR_KINDS and ErrorKind must list the same kinds"


def _exception_kind(exc: BaseException) -> ErrorKind:
    """The kind of a failure that is not a :class:`ProviderError` (a setup or parsing problem)."""
    if isinstance(exc, MissingApiKeyError):
        return "auth"
    if isinstance(exc, MissingConfigurationError):  # no credentials (AWS, Google) is an auth failure
        return "auth" if "credential" in exc.what.lower() else "invalid_request"
    if isinstance(exc, (UnresolvedPlaceholderError, UnsupportedCapabilityError, ToolValidationError)):
        return "invalid_request"
    if isinstance(exc, (SSEError, EventStreamError, UnicodeDecodeError)):
        return "malformed_response"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, (ConnectionError, OSError)):
        return "connection"
    if type(exc).__name__ == "JSONDecodeError":  # orjson's and json's, without importing either
        return "malformed_response"
    return "unknown"
