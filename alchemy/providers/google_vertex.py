"""Vertex AI, api ``google-vertex``: Gemini (and partner models) on Google Cloud.

Same request body and stream as the Gemini API (:mod:`._google_request`,
:mod:`._google_stream`); what differs is where the request goes and how it is
authenticated:

* **API key** (``api_key=...`` or ``GOOGLE_CLOUD_API_KEY``), sent in
  ``x-goog-api-key``. With a project and a location the request goes to the
  project's regional endpoint; without them to Vertex AI express mode,
  ``https://aiplatform.googleapis.com/v1/publishers/google/models/{model}``.
* **Application Default Credentials** otherwise, through the ``google-auth``
  library (the optional extra ``pip install 'alchemy-llm[vertex]'``, imported only
  here), or a google-auth credentials object passed as ``credentials=...``. The
  token goes in ``Authorization: Bearer``; google-auth refreshes it. An async
  stream does the refresh in a worker thread before its first request, so the
  event loop never blocks on it. The request goes to
  ``https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}``
  (``location="global"`` uses ``https://aiplatform.googleapis.com``).

``project`` comes from the option, ``GOOGLE_CLOUD_PROJECT``, ``GCLOUD_PROJECT``
(``GOOGLE_VERTEX_PROJECT``), or the credentials' own project; ``location`` from
the option or ``GOOGLE_CLOUD_LOCATION`` (``GOOGLE_VERTEX_LOCATION``). What is
missing is named in a :class:`~alchemy.errors.MissingConfigurationError`. A model
id ``publisher/model`` (``openai/gpt-oss-120b-maas``) selects that publisher; a
plain id is Google's. A model with its own ``base_url`` (a proxy, a test server)
gets ``{base_url}/v1/...``.

Options: the Gemini ones (``tool_choice``, ``thinking_enabled``,
``thinking_budget``, ``thinking_level``, ``tool_schema``) plus ``project``,
``location``, ``credentials`` and ``stream_tool_arguments`` (``True`` asks Vertex to
stream function-call arguments, ``functionCallingConfig.streamFunctionCallArguments``;
the stream parser assembles them either way).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import quote

from ..errors import MissingConfigurationError
from ..models._env import AUTHENTICATED
from ..transport import base_url_override
from ._google import STREAM_QUERY, Endpoint, GoogleProvider
from ._google_request import GOOGLE_OPTION_NAMES

if TYPE_CHECKING:
    from ..api_registry import AsyncEventSource
    from ..emitter import EventEmitter
    from ..streaming import StreamOptions
    from ..types import Context, Model

__all__ = ["GLOBAL_ENDPOINT", "GoogleVertexProvider", "VertexAuth", "provider"]

GLOBAL_ENDPOINT: Final = "https://aiplatform.googleapis.com"
"""The host of the ``global`` location and of express mode."""
PROJECT_VARIABLES: Final = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_VERTEX_PROJECT")
LOCATION_VARIABLES: Final = ("GOOGLE_CLOUD_LOCATION", "GOOGLE_VERTEX_LOCATION")
VERTEX_OPTION_NAMES: Final = frozenset({"project", "location", "credentials", "stream_tool_arguments"})

_LOCATION: Final = re.compile(r"[a-z0-9][a-z0-9-]*")
_PROJECT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_EXTRA_HINT: Final = "install the google-auth package: pip install 'alchemy-llm[vertex]'"


@dataclass(frozen=True, slots=True)
class VertexAuth:
    """How one request is authenticated and addressed."""

    headers: dict[str, str]
    secrets: tuple[str, ...]
    project: str | None
    location: str | None
    express: bool
    """An API key without a project and location: the global express-mode endpoint."""


class GoogleVertexProvider(GoogleProvider):
    """Gemini on Vertex AI (see the module docstring)."""

    api: ClassVar[str] = "google-vertex"
    label: ClassVar[str] = "Vertex AI"
    own_option_names: ClassVar[frozenset[str]] = GOOGLE_OPTION_NAMES | VERTEX_OPTION_NAMES

    # -- authentication ----------------------------------------------------------

    def vertex_api_key(self, model: Model, options: StreamOptions) -> str | None:
        """The API key of the call, if any (the ADC marker of the registry is not a key)."""
        key = self.api_key(model, options, required=False)
        return None if key == AUTHENTICATED else key

    def authenticate(self, model: Model, options: StreamOptions) -> VertexAuth:
        """The headers, project and location of a request; may refresh an ADC token (blocking)."""
        project = _setting(options, "project", PROJECT_VARIABLES, _PROJECT)
        location = _setting(options, "location", LOCATION_VARIABLES, _LOCATION)
        key = self.vertex_api_key(model, options)
        if key is not None:
            express = not (project and location)
            return VertexAuth({"x-goog-api-key": key}, (key,), project, location, express)
        if location is None:
            raise MissingConfigurationError(
                "google-vertex",
                "a location (a region such as us-central1, or global) to use Application Default Credentials, "
                "or an API key (GOOGLE_CLOUD_API_KEY) for express mode",
                LOCATION_VARIABLES,
                option="location",
            )
        auth = _auth_module()
        credentials = options.provider_options.get("credentials")
        if credentials is None:
            credentials, found_project = auth.default_credentials()
        else:
            found_project = auth.credentials_project(credentials)
        project = project or found_project
        if project is None:
            raise MissingConfigurationError("google-vertex", "a Google Cloud project", PROJECT_VARIABLES, option="project")
        headers = auth.authorization_headers(credentials)
        token = getattr(credentials, "token", None)
        return VertexAuth(headers, (token,) if isinstance(token, str) and token else (), project, location, False)

    # -- the request -------------------------------------------------------------

    def endpoint(self, model: Model, options: StreamOptions) -> Endpoint:
        auth = self.authenticate(model, options)
        headers = self.headers(model, options, {"content-type": "application/json", **auth.headers})
        return Endpoint(self.url(model, auth), headers, auth.secrets)

    def url(self, model: Model, auth: VertexAuth) -> str:
        """The ``streamGenerateContent`` URL of ``model`` for ``auth``'s project and location."""
        publisher, name = _publisher_and_model(model.id)
        resource = f"publishers/{publisher}/models/{name}"
        if not auth.express:
            resource = f"projects/{auth.project}/locations/{auth.location}/{resource}"
        base = base_url_override()
        if base is None:
            if "${" not in model.base_url:
                base = self.base_url(model)
            elif auth.express or auth.location == "global":
                base = GLOBAL_ENDPOINT
            else:
                assert auth.location is not None
                env = {**os.environ, **{name: auth.location for name in LOCATION_VARIABLES}}
                base = self.base_url(model, env)
        return f"{base}/v1/{quote(resource, safe='/')}{STREAM_QUERY}"

    def adjust_body(self, body: dict[str, Any], options: StreamOptions) -> None:
        stream_arguments = options.provider_options.get("stream_tool_arguments")
        if stream_arguments is None:
            return
        if not isinstance(stream_arguments, bool):
            raise TypeError(f"option stream_tool_arguments must be a bool, got {type(stream_arguments).__name__}")
        if stream_arguments and "tools" in body:
            config = body.setdefault("toolConfig", {}).setdefault("functionCallingConfig", {})
            config["streamFunctionCallArguments"] = True

    # -- async: credentials first, off the event loop -----------------------------

    def aopen(
        self, model: Model, context: Context, options: StreamOptions, emitter: EventEmitter
    ) -> AsyncEventSource:
        source = super().aopen(model, context, options, emitter)
        if self.vertex_api_key(model, options) is not None:
            return source
        return CredentialsFirst(lambda: self.authenticate(model, options), source)


class CredentialsFirst:
    """An async source that runs a blocking credentials step in a worker thread, then streams.

    The step (finding the credentials, refreshing the token) leaves the token fresh
    in google-auth's credentials object, so the request built right after it needs
    no I/O.
    """

    __slots__ = ("_prepare", "_source")

    def __init__(self, prepare: Callable[[], object], source: AsyncEventSource) -> None:
        self._prepare: Callable[[], object] | None = prepare
        self._source = source

    async def pump(self) -> bool:
        prepare = self._prepare
        if prepare is not None:
            self._prepare = None
            await asyncio.to_thread(prepare)
        return await self._source.pump()

    async def aclose(self) -> None:
        await self._source.aclose()


def _setting(options: StreamOptions, name: str, variables: tuple[str, ...], shape: re.Pattern[str]) -> str | None:
    value = options.provider_options.get(name)
    source = f"option {name}"
    if value is None:
        for variable in variables:
            value = os.environ.get(variable) or None
            if value is not None:
                source = variable
                break
        else:
            return None
    if not isinstance(value, str):
        raise TypeError(f"{source} must be a string, got {type(value).__name__}")
    if not shape.fullmatch(value):
        raise ValueError(f"{source} is not a valid Vertex AI {name}: {value!r}")
    return value


def _publisher_and_model(model_id: str) -> tuple[str, str]:
    parts = model_id.split("/")
    if len(parts) >= 4 and parts[0] == "publishers" and parts[2] == "models":
        return parts[1], "/".join(parts[3:])
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    return "google", model_id


def _auth_module() -> Any:
    try:
        return importlib.import_module(f"{__package__}._vertex_auth")
    except ImportError as exc:
        raise MissingConfigurationError(
            "google-vertex",
            f"an API key, or google-auth for Application Default Credentials ({_EXTRA_HINT}; {exc})",
            ("GOOGLE_CLOUD_API_KEY",),
            option="api_key",
        ) from None


provider = GoogleVertexProvider()
