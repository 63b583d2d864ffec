"""What the Gemini and Vertex AI providers share: one request builder, one stream parser.

Both speak ``streamGenerateContent?alt=sse`` with the same body and the same
stream; they differ only in where the request goes and how it is authenticated,
which each subclass of :class:`GoogleProvider` writes in :meth:`~GoogleProvider.endpoint`
(and :meth:`~GoogleProvider.adjust_body` for endpoint-only fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..request import Auth, HttpRequest
from ._google_request import check_google_request, map_simple, read_options, request_body
from ._google_stream import GOOGLE_ERROR_KINDS, GeminiStreamParser
from .base import HttpProvider

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..errors import ErrorKind
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions
    from ..types import Context, Model
    from .base import WireParser

__all__ = ["Endpoint", "GoogleProvider"]

STREAM_QUERY = ":streamGenerateContent?alt=sse"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one request goes and the headers that authenticate it (``secrets`` are redacted),
    or the auth step that does, once per attempt (Vertex AI's access tokens)."""

    url: str
    headers: dict[str, str]
    secrets: tuple[str, ...]
    auth: Auth | None = None


class GoogleProvider(HttpProvider):
    """Base of the two Google providers (see the module docstring)."""

    error_kinds: ClassVar[Mapping[str, ErrorKind]] = GOOGLE_ERROR_KINDS

    def endpoint(self, model: Model, options: StreamOptions) -> Endpoint:
        raise TypeError(f"{type(self).__name__} must define endpoint()")

    def adjust_body(self, body: dict[str, Any], options: StreamOptions) -> None:
        """Adds fields only this endpoint knows (nothing by default)."""

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        google = read_options(model, options)
        endpoint = self.endpoint(model, options)
        shaped = self.shape(model, context, options)
        body = request_body(model, shaped, options, google)
        self.adjust_body(body, options)
        self.with_extra_body(body, options)
        return HttpRequest("POST", endpoint.url, endpoint.headers, body, endpoint.secrets, endpoint.auth)

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> WireParser:
        return GeminiStreamParser(self.label, emitter)

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        return map_simple(model, options)

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        """At the call: thinking options against each other and the model, the tool-schema compat
        flag, the built-in tools (``server_tools``) the model can take."""
        check_google_request(model, options, context.tools or ())
