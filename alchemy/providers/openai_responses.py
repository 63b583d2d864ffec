"""OpenAI's Responses API (``openai-responses``): the default API of OpenAI's own models.

``POST {base}/responses`` with ``Authorization: Bearer <key>`` and ``stream: true``.
The request body and the stream parser are shared with Azure OpenAI
(:mod:`alchemy.providers._responses_shared`); this module adds OpenAI's
addressing and its own choices:

* ``store: false``: nothing is kept on OpenAI's side, so every turn sends its
  history, reasoning included (``include: ["reasoning.encrypted_content"]`` for
  reasoning models).
* ``prompt_cache_key`` is the ``session_id`` (unless ``cache_retention="none"``);
  ``cache_retention="long"`` asks api.openai.com for ``prompt_cache_retention: "24h"``.
* ``user`` goes out as ``safety_identifier`` to OpenAI (its documented replacement of
  the deprecated ``user`` field) and as ``user`` to other servers that speak Responses.
* Options of its own (declared in :mod:`alchemy.options`): ``reasoning_effort``,
  ``reasoning_summary`` and ``service_tier`` (flex and priority responses are priced
  x0.5 and x2). ``stop``, ``seed``, the penalties and ``top_k`` do not exist here; the
  call refuses them and points to Chat Completions.
* ``server_tools`` (web search, file search, code interpreter, remote MCP, image
  generation) map to the API's ``tools`` entries; the items the server ran come back as
  :class:`~alchemy.types.ServerToolCall` blocks and go back in full even with
  ``store: false`` (the mapping is in :mod:`alchemy.providers._responses_shared`). xAI
  models served here refuse the web-search settings xAI does not take.
* ``OPENAI_ORG_ID`` and ``OPENAI_PROJECT_ID`` become the ``OpenAI-Organization`` and
  ``OpenAI-Project`` headers when set, as in OpenAI's own SDKs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

from ..request import HttpRequest
from ..wire_apis import OPENAI_RESPONSES
from ._responses_shared import (
    RESPONSES_ERROR_KINDS,
    ResponsesParser,
    build_body,
    check_request,
    map_reasoning_level,
    read_settings,
    wants_logprobs,
)
from .base import HttpProvider
from .openai_compat import is_openai_host

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..emitter import EventEmitter
    from ..errors import ErrorKind
    from ..options import StreamOptions
    from ..types import Context, Model

__all__ = ["OpenAIResponsesProvider", "provider"]

_ACCEPT_SSE = {"accept": "text/event-stream", "content-type": "application/json"}


class OpenAIResponsesProvider(HttpProvider):
    """The ``openai-responses`` wire API (OpenAI and the services that speak it)."""

    api: ClassVar[str] = OPENAI_RESPONSES.name
    label: ClassVar[str] = OPENAI_RESPONSES.label
    error_kinds: ClassVar[Mapping[str, ErrorKind]] = RESPONSES_ERROR_KINDS

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        check_request(model, options, openai_host=model.provider == "openai" or is_openai_host(self.base_url(model)))

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        settings = read_settings(options)
        shaped = self.shape(model, context, options)
        key = self.api_key(model, options) or ""  # required: a missing key raises MissingApiKeyError
        base = self.base_url(model)
        openai = model.provider == "openai" or is_openai_host(base)
        body = build_body(
            model,
            shaped,
            options,
            settings,
            model_name=model.id,
            base_url=base,
            store=False,
            service_tier=True,
            user_field="safety_identifier" if openai else "user",
        )
        self.with_extra_body(body, options)
        defaults = dict(_ACCEPT_SSE)
        defaults["authorization"] = f"Bearer {key}"
        organization = os.environ.get("OPENAI_ORG_ID")
        if organization:
            defaults["OpenAI-Organization"] = organization
        project = os.environ.get("OPENAI_PROJECT_ID")
        if project:
            defaults["OpenAI-Project"] = project
        headers = self.headers(model, options, defaults)
        return HttpRequest("POST", f"{base}/responses", headers, body, secrets=(key,))

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> ResponsesParser:
        tier = options.provider_options.get("service_tier")
        return ResponsesParser(
            emitter,
            label=self.label,
            requested_tier=tier if isinstance(tier, str) else None,
            logprobs=wants_logprobs(options),
        )

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        return map_reasoning_level(model, options)


provider = OpenAIResponsesProvider()
"""The registered ``openai-responses`` provider."""
