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
        ├── ProviderHttpError    the provider answered with an HTTP error status
        ├── ProviderStreamError  the provider reported an error inside a 200 stream
        └── StreamInterruptedError the connection dropped, stalled or sent bytes that do not parse

ProviderError and its subclasses are raised inside a stream's source and turned into
its ``error`` event; they never reach the consumer.

Warnings (never raised, shown once)::

    AlchemyWarning (UserWarning)
    ├── TokenizerFallbackWarning  tiktoken files unreachable: token counts are estimates
    └── RegistryRefreshWarning    refresh_models kept the data it had, and says why
"""

from __future__ import annotations

__all__ = [
    "AlchemyError",
    "MissingApiKeyError",
    "MissingConfigurationError",
    "ProviderError",
    "ProviderHttpError",
    "ProviderStreamError",
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


class MissingApiKeyError(AlchemyError, LookupError):
    """No API key was passed and none is set in the provider's environment variables."""

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


class ProviderError(AlchemyError):
    """What ended a stream; its text becomes the ``error`` event's ``error_message``.

    ``retryable`` says whether trying again may help (rate limits, overload, 5xx);
    ``retry_after`` is the wait the server asked for, in seconds, when it said.
    """

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ProviderHttpError(ProviderError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.status = status
        self.request_id = request_id


class ProviderStreamError(ProviderError):
    """The provider reported an error inside a 200 stream (e.g. ``overloaded_error``)."""


class StreamInterruptedError(ProviderError):
    """The connection dropped, stalled past a timeout, or sent bytes that do not parse."""
