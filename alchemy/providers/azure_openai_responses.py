"""Azure OpenAI's Responses API (``azure-openai-responses``): OpenAI's wire format, Azure's addressing.

The body and the stream are OpenAI's (:mod:`alchemy.providers._responses_shared`);
what differs is where the request goes and how it authenticates:

* **Endpoint**, first found wins: ``ALCHEMY_BASE_URL_OVERRIDE``; the
  ``azure_base_url`` option; ``AZURE_OPENAI_BASE_URL``; the resource name
  (``azure_resource_name`` option, ``AZURE_OPENAI_RESOURCE_NAME`` or
  ``AZURE_RESOURCE_NAME``) as ``https://<resource>.openai.azure.com/openai/v1``; the
  model's own ``base_url``. A bare resource URL (``https://x.openai.azure.com``) or
  one ending in ``/openai`` gets the ``/openai/v1`` path of the v1 API.
* **API version**: the ``api-version`` query parameter from ``azure_api_version``,
  ``AZURE_OPENAI_API_VERSION``, else ``v1``.
* **Deployment**: the request's ``model`` is the deployment name, from
  ``azure_deployment_name``, else the model's entry in
  ``AZURE_OPENAI_DEPLOYMENT_NAME_MAP`` (``model=deployment,model=deployment``), else
  the model id.
* **Auth**: the ``api-key`` header (the ``api_key`` option, ``AZURE_OPENAI_API_KEY``
  or ``AZURE_API_KEY``).

As in pi-ai, Azure requests leave ``store`` at the service's default and take no
``service_tier``. Azure's Responses API offers file search, code interpreter, remote
MCP and image generation as ``server_tools`` (not web search: refused at the call);
server-run items go back in full, as on OpenAI. ``user`` goes out as ``safety_identifier``, which Azure's v1
Responses API takes as OpenAI's does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from ..errors import ErrorKind, MissingApiKeyError, MissingConfigurationError, UnresolvedPlaceholderError
from ..request import HttpRequest
from ..transport import base_url_override
from ..wire_apis import AZURE_OPENAI_RESPONSES
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

if TYPE_CHECKING:
    from ..emitter import EventEmitter
    from ..options import StreamOptions
    from ..types import Context, Model

__all__ = [
    "DEFAULT_API_VERSION",
    "AzureConfig",
    "AzureOpenAIResponsesProvider",
    "parse_deployment_map",
    "provider",
    "resolve_azure_config",
]

DEFAULT_API_VERSION = "v1"
"""The ``api-version`` sent when none is configured (Azure's v1 API)."""

BASE_URL_VARIABLE = "AZURE_OPENAI_BASE_URL"
RESOURCE_VARIABLES = ("AZURE_OPENAI_RESOURCE_NAME", "AZURE_RESOURCE_NAME")
API_VERSION_VARIABLE = "AZURE_OPENAI_API_VERSION"
DEPLOYMENT_MAP_VARIABLE = "AZURE_OPENAI_DEPLOYMENT_NAME_MAP"
KEY_VARIABLES = ("AZURE_OPENAI_API_KEY", "AZURE_API_KEY")

_RESOURCE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})$")
_ACCEPT_SSE = {"accept": "text/event-stream", "content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class AzureConfig:
    """Where one Azure request goes: the v1 base URL, the api-version and the deployment."""

    base_url: str
    api_version: str
    deployment: str


def _setting(options: Mapping[str, Any], name: str) -> str | None:
    """An ``azure_*`` option as the option table checked it (a non-empty string), else ``None``."""
    value = options.get(name)
    return value.strip() if isinstance(value, str) else None


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def parse_deployment_map(text: str) -> dict[str, str]:
    """``"gpt-5=prod-gpt5, gpt-4o=chat"`` -> ``{"gpt-5": "prod-gpt5", "gpt-4o": "chat"}``.

    A malformed entry raises ``ValueError`` naming the variable and the entry.
    """
    mapping: dict[str, str] = {}
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, deployment = entry.partition("=")
        name, deployment = name.strip(), deployment.strip()
        if not sep or not name or not deployment:
            raise ValueError(
                f"{DEPLOYMENT_MAP_VARIABLE}: entry {entry!r} is not model=deployment "
                "(expected e.g. 'gpt-5=my-gpt5,gpt-4o=my-gpt4o')"
            )
        mapping[name] = deployment
    return mapping


def _normalize_base_url(url: str) -> str:
    """Adds the v1 path to a bare resource URL or one ending in ``/openai``."""
    url = url.rstrip("/")
    path = urlsplit(url).path
    if path == "":
        return f"{url}/openai/v1"
    if path.endswith("/openai"):
        return f"{url}/v1"
    return url


def _resource_url(resource: str, source: str) -> str:
    if not _RESOURCE_NAME.match(resource):
        raise ValueError(
            f"{source} must be an Azure resource name (letters, digits and hyphens), got {resource!r}"
        )
    return f"https://{resource}.openai.azure.com/openai/v1"


def _base_url(model: Model, options: Mapping[str, Any], env: Mapping[str, str]) -> str:
    override = base_url_override(env)
    if override:
        return override
    explicit = _setting(options, "azure_base_url") or _env(env, BASE_URL_VARIABLE)
    if explicit:
        return _normalize_base_url(explicit)
    resource = _setting(options, "azure_resource_name")
    if resource:
        return _resource_url(resource, "option azure_resource_name")
    for name in RESOURCE_VARIABLES:
        resource = _env(env, name)
        if resource:
            return _resource_url(resource, name)
    missing = MissingConfigurationError(
        "Azure OpenAI",
        f"an endpoint for model {model.id}",
        variables=(BASE_URL_VARIABLE, RESOURCE_VARIABLES[0]),
        option="azure_base_url=... or azure_resource_name",
    )
    if not model.base_url:
        raise missing
    from ..models import resolve_base_url

    try:
        return _normalize_base_url(resolve_base_url(model, env))
    except UnresolvedPlaceholderError:
        raise missing from None


def resolve_azure_config(model: Model, options: StreamOptions, env: Mapping[str, str] | None = None) -> AzureConfig:
    """The endpoint, api-version and deployment of a request (order in the module docstring).

    No endpoint anywhere raises :class:`~alchemy.errors.MissingConfigurationError`
    naming the option and the variables to set.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    own = options.provider_options
    base_url = _base_url(model, own, environ)
    api_version = _setting(own, "azure_api_version") or _env(environ, API_VERSION_VARIABLE) or DEFAULT_API_VERSION
    deployment = _setting(own, "azure_deployment_name")
    if deployment is None:
        mapping_text = _env(environ, DEPLOYMENT_MAP_VARIABLE)
        mapping = parse_deployment_map(mapping_text) if mapping_text else {}
        deployment = mapping.get(model.id, model.id)
    return AzureConfig(base_url=base_url, api_version=api_version, deployment=deployment)


class AzureOpenAIResponsesProvider(HttpProvider):
    """The ``azure-openai-responses`` wire API."""

    api: ClassVar[str] = AZURE_OPENAI_RESPONSES.name
    label: ClassVar[str] = AZURE_OPENAI_RESPONSES.label
    error_kinds: ClassVar[Mapping[str, ErrorKind]] = RESPONSES_ERROR_KINDS

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        check_request(model, options, openai_host=True)
        resource = _setting(options.provider_options, "azure_resource_name")
        if resource is not None:
            _resource_url(resource, "option azure_resource_name")  # raises for a malformed name

    def api_key(self, model: Model, options: StreamOptions, *, required: bool = True) -> str | None:
        """The ``api_key`` option, the model's key variables, then ``AZURE_OPENAI_API_KEY`` / ``AZURE_API_KEY``."""
        key = super().api_key(model, options, required=False)
        if not key:
            key = next((os.environ[name] for name in KEY_VARIABLES if os.environ.get(name)), None)
        if key or not required:
            return key
        raise MissingApiKeyError(model.provider, self.key_variables(model))

    def key_variables(self, model: Model) -> tuple[str, ...]:
        names = list(super().key_variables(model))
        names += [name for name in KEY_VARIABLES if name not in names]
        return tuple(names)

    def build_request(self, model: Model, context: Context, options: StreamOptions) -> HttpRequest:
        settings = read_settings(options)
        config = resolve_azure_config(model, options)
        shaped = self.shape(model, context, options)
        key = self.api_key(model, options) or ""  # required: a missing key raises MissingApiKeyError
        body = build_body(
            model,
            shaped,
            options,
            settings,
            model_name=config.deployment,
            base_url=config.base_url,
            store=None,
            service_tier=False,
            user_field="safety_identifier",
        )
        self.with_extra_body(body, options)
        defaults = dict(_ACCEPT_SSE)
        defaults["api-key"] = key
        headers = self.headers(model, options, defaults)
        url = f"{config.base_url}/responses?api-version={quote(config.api_version, safe='')}"
        return HttpRequest("POST", url, headers, body, secrets=(key,))

    def create_parser(self, model: Model, options: StreamOptions, emitter: EventEmitter) -> ResponsesParser:
        return ResponsesParser(emitter, label=self.label, requested_tier=None, logprobs=wants_logprobs(options))

    def map_simple_options(self, model: Model, options: StreamOptions) -> StreamOptions:
        return map_reasoning_level(model, options)


provider = AzureOpenAIResponsesProvider()
"""The registered ``azure-openai-responses`` provider."""
