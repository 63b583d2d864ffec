"""The Gemini API (Generative Language API), api ``google-generative-ai``.

``POST {base_url}/models/{model}:streamGenerateContent?alt=sse`` with the key in the
``x-goog-api-key`` header (never in the URL, where proxies and logs would keep
it). The key comes from ``api_key=...`` or the provider's variables
(``GEMINI_API_KEY``, then ``GOOGLE_GENERATIVE_AI_API_KEY``, ``GOOGLE_API_KEY``).
Request and stream are shared with Vertex AI: see :mod:`._google_request` and
:mod:`._google_stream`.

Options are declared in :mod:`alchemy.options`: the canonical ones go to
``generationConfig`` (``stop`` -> ``stopSequences``, ``top_p`` -> ``topP``, ``top_k``
-> ``topK``, ``seed``, ``presence_penalty`` / ``frequency_penalty``, ``logprobs`` ->
``responseLogprobs``, ``top_logprobs`` -> ``logprobs``) and ``toolConfig``
(``tool_choice``); the Gemini ones are ``thinking_enabled``, ``thinking_budget``,
``thinking_level`` and ``tool_schema`` (:class:`._google_request.GoogleOptions`).
This API has no request metadata, so ``metadata`` is refused at the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

from ..wire_apis import GOOGLE_GENERATIVE_AI
from ._google import STREAM_QUERY, Endpoint, GoogleProvider

if TYPE_CHECKING:
    from ..streaming import StreamOptions
    from ..types import Model

__all__ = ["GoogleGenerativeAIProvider", "provider"]


class GoogleGenerativeAIProvider(GoogleProvider):
    """Gemini through ``generativelanguage.googleapis.com``."""

    api: ClassVar[str] = GOOGLE_GENERATIVE_AI.name
    label: ClassVar[str] = GOOGLE_GENERATIVE_AI.label

    def endpoint(self, model: Model, options: StreamOptions) -> Endpoint:
        key = self.api_key(model, options)
        assert key is not None
        resource = model.id if "/" in model.id else f"models/{model.id}"
        url = f"{self.base_url(model)}/{quote(resource, safe='/')}{STREAM_QUERY}"
        headers = self.headers(model, options, {"content-type": "application/json", "x-goog-api-key": key})
        return Endpoint(url, headers, (key,))


provider = GoogleGenerativeAIProvider()
