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
  token goes in ``Authorization: Bearer``, put there by the request's
  authentication step (:class:`~alchemy.providers._vertex_auth.CredentialsAuth`)
  on every attempt; google-auth refreshes it when due, in an async stream in a
  worker thread, so the event loop never blocks on it. The request goes to
  ``https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}``
  (``location="global"`` uses ``https://aiplatform.googleapis.com``).

``project`` comes from the option, ``GOOGLE_CLOUD_PROJECT``, ``GCLOUD_PROJECT``
(``GOOGLE_VERTEX_PROJECT``), or the credentials' own project; ``location`` from
the option or ``GOOGLE_CLOUD_LOCATION`` (``GOOGLE_VERTEX_LOCATION``). What is
missing is named in a :class:`~alchemy.errors.MissingConfigurationError`. A model
id ``publisher/model`` (``openai/gpt-oss-120b-maas``) selects that publisher; a
plain id is Google's. A model with its own ``base_url`` (a proxy, a test server)
gets ``{base_url}/v1/...``.

Options (declared in :mod:`alchemy.options`): the Gemini API's, plus ``metadata``
(sent as request ``labels``, checked against Vertex's label rules at the call),
``project``, ``location``, ``credentials`` and ``stream_tool_arguments`` (``True``
asks Vertex to stream function-call arguments,
``functionCallingConfig.streamFunctionCallArguments``; the stream parser assembles
them either way).
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import quote

from ..errors import MissingConfigurationError
from ..models._env import AUTHENTICATED
from ..transport import base_url_override
from ..wire_apis import GOOGLE_VERTEX
from ._google import STREAM_QUERY, Endpoint, GoogleProvider

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..request import Auth
    from ..streaming import StreamOptions
    from ..types import Context, Model

__all__ = ["GLOBAL_ENDPOINT", "GoogleVertexProvider", "VertexAuth", "check_labels", "provider"]

GLOBAL_ENDPOINT: Final = "https://aiplatform.googleapis.com"
"""The host of the ``global`` location and of express mode."""
PROJECT_VARIABLES: Final = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_VERTEX_PROJECT")
LOCATION_VARIABLES: Final = ("GOOGLE_CLOUD_LOCATION", "GOOGLE_VERTEX_LOCATION")
MAX_LABELS: Final = 64
MAX_LABEL_LENGTH: Final = 63
"""Vertex AI's limits on request ``labels`` (the ``metadata`` option): how many, and characters per key or value."""

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
    auth: Auth | None = None
    """The step that adds the access token to each attempt (Application Default Credentials)."""


class GoogleVertexProvider(GoogleProvider):
    """Gemini on Vertex AI (see the module docstring)."""

    api: ClassVar[str] = GOOGLE_VERTEX.name
    label: ClassVar[str] = GOOGLE_VERTEX.label

    # -- authentication ----------------------------------------------------------

    def vertex_api_key(self, model: Model, options: StreamOptions) -> str | None:
        """The API key of the call, if any (the ADC marker of the registry is not a key)."""
        key = self.api_key(model, options, required=False)
        return None if key == AUTHENTICATED else key

    def authenticate(self, model: Model, options: StreamOptions) -> VertexAuth:
        """The key header or the credentials' auth step, the project and the location of a request.

        Finding Application Default Credentials reads their files once per process; the
        token itself is fetched by the auth step, per attempt, when it is due.
        """
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
        adc = _auth_module()
        credentials = options.provider_options.get("credentials")
        if credentials is None:
            credentials, found_project = adc.default_credentials()
        else:
            found_project = adc.credentials_project(credentials)
        project = project or found_project
        if project is None:
            raise MissingConfigurationError("google-vertex", "a Google Cloud project", PROJECT_VARIABLES, option="project")
        return VertexAuth({}, (), project, location, False, adc.CredentialsAuth(credentials))

    # -- the request -------------------------------------------------------------

    def endpoint(self, model: Model, options: StreamOptions) -> Endpoint:
        auth = self.authenticate(model, options)
        headers = self.headers(model, options, {"content-type": "application/json", **auth.headers})
        return Endpoint(self.url(model, auth), headers, auth.secrets, auth.auth)

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
        """Vertex-only fields: ``labels`` from ``metadata``, and streamed function-call arguments."""
        if options.metadata:
            body["labels"] = dict(options.metadata)
        if options.provider_options.get("stream_tool_arguments") and "tools" in body:
            config = body.setdefault("toolConfig", {}).setdefault("functionCallingConfig", {})
            config["streamFunctionCallArguments"] = True

    def check_request(self, model: Model, context: Context, options: StreamOptions) -> None:
        """The Gemini checks, then Vertex's: label rules for ``metadata``, the shape of ``project`` / ``location``."""
        super().check_request(model, context, options)
        if options.metadata:
            check_labels(options.metadata)
        for name, shape in (("project", _PROJECT), ("location", _LOCATION)):
            value = options.provider_options.get(name)
            if value is not None and not shape.fullmatch(value):
                raise ValueError(f"option {name} is not a valid Vertex AI {name}: {value!r}")


def _label_text(text: str) -> bool:
    """Lower-case letters (international ones too), digits, ``_`` and ``-`` only."""
    return all(char in "_-" or (char.isalnum() and not char.isupper()) for char in text)


def check_labels(metadata: Mapping[str, str]) -> None:
    """``ValueError`` for ``metadata`` that Vertex AI would refuse as request ``labels``.

    Its rules: at most 64 labels; keys of 1 to 63 characters starting with a
    lower-case letter, values of at most 63; both only lower-case letters (any
    script), digits, ``_`` and ``-``. (String values are checked by the option table.)
    """
    if len(metadata) > MAX_LABELS:
        raise ValueError(f"option metadata becomes Vertex AI labels: at most {MAX_LABELS}, got {len(metadata)}")
    for key, value in metadata.items():
        if not (0 < len(key) <= MAX_LABEL_LENGTH and key[0].isalpha() and _label_text(key)):
            raise ValueError(
                f"option metadata key {key!r} is not a Vertex AI label key: 1 to {MAX_LABEL_LENGTH} lower-case "
                "letters, digits, '_' or '-', starting with a letter"
            )
        if not (len(value) <= MAX_LABEL_LENGTH and _label_text(value)):
            raise ValueError(
                f"option metadata[{key!r}] is not a Vertex AI label value: at most {MAX_LABEL_LENGTH} lower-case "
                f"letters, digits, '_' or '-', got {value!r}"
            )


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
