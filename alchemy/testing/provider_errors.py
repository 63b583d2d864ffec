"""What each provider's errors look like: HTTP error responses and error events inside a stream.

The shapes follow the providers' documented error formats, so a provider adapter
under test meets the same JSON it would meet in production:

* OpenAI (Chat Completions, Responses, Azure): ``{"error": {"message", "type", "param", "code"}}``
* Anthropic: ``{"type": "error", "error": {"type", "message"}, "request_id"}``
* Gemini / Vertex: ``{"error": {"code", "message", "status"}}``
* Bedrock: ``{"message"}`` with the error name in the ``x-amzn-errortype`` header
* Mistral: ``{"object": "error", "message", "type", "param", "code"}``
* Cohere: ``{"id", "message"}`` (the status alone says what failed); in a stream, a
  ``message-end`` event with ``finish_reason: "ERROR"`` and the ``error`` text
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

import orjson

from .wire import (
    ANTHROPIC_MESSAGES,
    AZURE_OPENAI_RESPONSES,
    BEDROCK_CONVERSE_STREAM,
    COHERE_CHAT,
    GOOGLE_GENERATIVE_AI,
    GOOGLE_VERTEX,
    MISTRAL_CONVERSATIONS,
    OPENAI_RESPONSES,
)

__all__ = ["ErrorResponse", "StreamError", "http_error", "request_id_header", "stream_error"]


@dataclass(frozen=True)
class ErrorResponse:
    """A provider-shaped HTTP error: JSON body and any extra headers."""

    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StreamError:
    """A provider-shaped error inside a 200 stream: its type name and JSON payload (unframed)."""

    error_type: str
    payload: bytes


# status -> (error type, error code, message), per provider family.
_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to access this resource."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("timeout", None, "Request timed out."),
    409: ("conflict", None, "The request conflicts with another request."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}
_GOOGLE_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission."),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred. Please retry."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
}
_BEDROCK_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "The provided request is not valid."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", "The requested resource could not be found."),
    408: ("ModelTimeoutException", "Model has timed out in processing the request."),
    424: ("ModelErrorException", "The model returned an error."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The server encountered an internal error."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}
_MISTRAL_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "Unauthorized"),
    404: ("invalid_model", "Invalid model."),
    429: ("rate_limited", "Requests rate limit exceeded"),
    500: ("internal_server_error", "Internal server error"),
    503: ("service_unavailable", "Service unavailable"),
}

_BEDROCK_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"

_OPENAI_FAMILY = frozenset({"openai-completions", OPENAI_RESPONSES, AZURE_OPENAI_RESPONSES})
_GOOGLE_FAMILY = frozenset({GOOGLE_GENERATIVE_AI, GOOGLE_VERTEX})


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def request_id_header(api: str) -> str:
    """The response header that carries the request id for this API."""
    if api == ANTHROPIC_MESSAGES:
        return "request-id"
    if api == BEDROCK_CONVERSE_STREAM:
        return "x-amzn-requestid"
    return "x-request-id"


def http_error(
    api: str, status: int, *, message: str | None, error_type: str | None, request_id: str
) -> ErrorResponse:
    """The body (and headers) the provider of ``api`` answers a failed request with."""
    body: dict[str, object]
    if api == ANTHROPIC_MESSAGES:
        kind, default = _ANTHROPIC_ERRORS.get(status, ("api_error" if status >= 500 else "invalid_request_error", ""))
        body = {
            "type": "error",
            "error": {"type": error_type or kind, "message": message or default or _reason(status)},
            "request_id": request_id,
        }
        return ErrorResponse(orjson.dumps(body))
    if api in _GOOGLE_FAMILY:
        kind, default = _GOOGLE_ERRORS.get(status, ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION", ""))
        text = message or default or _reason(status)
        body = {"error": {"code": status, "message": text, "status": error_type or kind}}
        return ErrorResponse(orjson.dumps(body))
    if api == BEDROCK_CONVERSE_STREAM:
        kind, default = _BEDROCK_ERRORS.get(
            status, ("InternalServerException" if status >= 500 else "ValidationException", "")
        )
        name = error_type or kind
        return ErrorResponse(
            orjson.dumps({"message": message or default or _reason(status)}),
            (("x-amzn-errortype", f"{name}:{_BEDROCK_ERROR_NAMESPACE}"),),
        )
    if api == COHERE_CHAT:
        return ErrorResponse(orjson.dumps({"id": request_id, "message": message or _reason(status)}))
    if api == MISTRAL_CONVERSATIONS:
        kind, default = _MISTRAL_ERRORS.get(
            status, ("internal_server_error" if status >= 500 else "invalid_request_error", "")
        )
        body = {
            "object": "error",
            "message": message or default or _reason(status),
            "type": error_type or kind,
            "param": None,
            "code": str(status),
        }
        return ErrorResponse(orjson.dumps(body))
    kind, code, default = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "")
    )
    text = message or default or _reason(status)
    body = {"error": {"message": text, "type": error_type or kind, "param": None, "code": code}}
    return ErrorResponse(orjson.dumps(body))


def stream_error(api: str, *, message: str | None, error_type: str | None, sequence_number: int) -> StreamError:
    """The error event the provider of ``api`` sends inside a 200 stream (payload not yet framed).

    Defaults are each provider's "overloaded" error: Anthropic ``overloaded_error``,
    OpenAI ``server_error``, Gemini ``UNAVAILABLE``, Bedrock ``throttlingException``.
    ``sequence_number`` is used by the Responses API, whose events are numbered.
    """
    if api == ANTHROPIC_MESSAGES:
        kind = error_type or "overloaded_error"
        body: dict[str, object] = {"type": "error", "error": {"type": kind, "message": message or "Overloaded"}}
        return StreamError(kind, orjson.dumps(body))
    if api in (OPENAI_RESPONSES, AZURE_OPENAI_RESPONSES):
        kind = error_type or "server_error"
        text = message or _OPENAI_ERRORS[500][2]
        body = {
            "type": "error",
            "sequence_number": sequence_number,
            "error": {"type": kind, "code": kind, "message": text, "param": None},
        }
        return StreamError(kind, orjson.dumps(body))
    if api in _GOOGLE_FAMILY:
        kind = error_type or "UNAVAILABLE"
        code = next((status for status, (name, _) in _GOOGLE_ERRORS.items() if name == kind), 500)
        text = message or _GOOGLE_ERRORS.get(code, ("", "Internal error."))[1]
        return StreamError(kind, orjson.dumps({"error": {"code": code, "message": text, "status": kind}}))
    if api == COHERE_CHAT:
        kind = error_type or "ERROR"
        text = message or "internal server error"
        return StreamError(kind, orjson.dumps({"type": "message-end", "delta": {"finish_reason": kind, "error": text}}))
    if api == BEDROCK_CONVERSE_STREAM:
        kind = error_type or "throttlingException"
        text = message or "Too many tokens, please wait before trying again."
        return StreamError(kind, orjson.dumps({"message": text}))
    kind = error_type or "server_error"
    text = message or _OPENAI_ERRORS[500][2]
    return StreamError(kind, orjson.dumps({"error": {"message": text, "type": kind, "param": None, "code": None}}))
