"""What the Gemini and Vertex AI providers share: one request builder, one stream parser.

Both speak ``streamGenerateContent?alt=sse`` with the same body and the same
stream; they differ only in where the request goes and how it is authenticated,
which each subclass of :class:`GoogleProvider` writes in :meth:`~GoogleProvider.endpoint`
(and :meth:`~GoogleProvider.adjust_body` for endpoint-only fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..transport import HttpRequest
from ._google_request import GOOGLE_OPTION_NAMES, map_simple, read_options, request_body
from ._google_stream import GeminiStreamParser
from .base import HttpProvider

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions
    from ..types import Context, Model
    from .base import WireParser

__all__ = ["Endpoint", "GoogleProvider"]

STREAM_QUERY = ":streamGenerateContent?alt=sse"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one request goes and the headers that authenticate it (``secrets`` are redacted)."""

    url: str
    headers: dict[str, str]
    secrets: tuple[str, ...]


class GoogleProvider(HttpProvider):
    """Base of the two Google providers (see the module docstring)."""

    own_option_names: ClassVar[frozenset[str]] = GOOGLE_OPTION_NAMES

    def endpoint(self, model: Model, options: StreamOptions) -> Endpoint:
        raise TypeError(f"{type(self).__name__} must define endpoint()")

    def adjust_body(self, body: dict[str, Any], options: StreamOptions) -> None:
        """Adds fields only this endpoint knows (nothing by default)."""

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        google = read_options(model, options.provider_options)
        endpoint = self.endpoint(model, options)
        shaped = self.shape(model, context, options, tool_choice=google.tool_choice)
        body = request_body(model, shaped, options, google)
        self.adjust_body(body, options)
        return HttpRequest("POST", endpoint.url, endpoint.headers, body, endpoint.secrets)

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> WireParser:
        return GeminiStreamParser(model, self.label, emitter, self.priced)

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        return map_simple(model, options)
