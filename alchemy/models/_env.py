"""Credentials and settings from the environment: API keys and ``${VAR}`` base URLs.

``get_env_api_key`` follows pi-ai's semantics. Most providers list one or more
alternative key variables (the first one set wins). Two are different: Amazon
Bedrock and Google Vertex authenticate with credential *sets* (an AWS profile,
access-key pairs, web identity; Google application-default credentials plus a
project and location), so for them the function returns the sentinel
:data:`AUTHENTICATED` when such a set is present, and the provider signs requests
itself. Variables that only fill a ``${VAR}`` placeholder in a base URL (a region,
an account id, a resource name) are settings, never keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UnresolvedPlaceholderError
from ..request import clean_key

if TYPE_CHECKING:
    from ..types import Model

__all__ = [
    "AUTHENTICATED",
    "PLACEHOLDER_ALIASES",
    "env_key_candidates",
    "get_env_api_key",
    "placeholders",
    "resolve_base_url",
]

AUTHENTICATED = "<authenticated>"
"""Returned for providers that sign requests from a credential set rather than one key."""

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# A placeholder variable -> other variables that mean the same thing (tried in order),
# because the ecosystem spells them differently (pi-ai, the AWS and Google SDKs).
PLACEHOLDER_ALIASES: dict[str, tuple[str, ...]] = {
    "AWS_REGION": ("AWS_DEFAULT_REGION",),
    "GOOGLE_VERTEX_LOCATION": ("GOOGLE_CLOUD_LOCATION",),
    "GOOGLE_VERTEX_PROJECT": ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"),
    "AZURE_RESOURCE_NAME": ("AZURE_OPENAI_RESOURCE_NAME",),
}

# AWS credential sets the SDK default chain accepts (pi-ai's list).
_AWS_CREDENTIAL_SETS: tuple[tuple[str, ...], ...] = (
    ("AWS_PROFILE",),
    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ("AWS_BEARER_TOKEN_BEDROCK",),
    ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",),
    ("AWS_CONTAINER_CREDENTIALS_FULL_URI",),
    ("AWS_WEB_IDENTITY_TOKEN_FILE",),
)


def _env_value(name: str, env: Mapping[str, str]) -> str | None:
    value = env.get(name)
    return value if value else None


def placeholders(url: str) -> list[str]:
    """The ``${VAR}`` names in a URL, in order."""
    return _PLACEHOLDER.findall(url)


def resolve_base_url(model: Model, env: Mapping[str, str] | None = None) -> str:
    """``model.base_url`` with every ``${VAR}`` filled from the environment.

    Transports call this just before a request. An unset variable (aliases such as
    ``AWS_DEFAULT_REGION`` for ``AWS_REGION`` are tried too) raises
    :class:`~alchemy.errors.UnresolvedPlaceholderError` naming it.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    url = model.base_url

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        followed_by_slash = url.startswith("/", match.end())
        for candidate in (name, *PLACEHOLDER_ALIASES.get(name, ())):
            value = _env_value(candidate, environ)
            if value:
                # "${HOST}/v1" with HOST="https://x/" must not give "https://x//v1"
                return value.rstrip("/") if followed_by_slash else value
        raise UnresolvedPlaceholderError(name, model.key, url, PLACEHOLDER_ALIASES.get(name, ()))

    return _PLACEHOLDER.sub(fill, url)


def env_key_candidates(env_names: tuple[str, ...] | list[str], base_url: str = "") -> tuple[str, ...]:
    """The variables that may hold an API key: ``env_names`` minus the URL's placeholders."""
    settings = set(placeholders(base_url))
    return tuple(name for name in env_names if name not in settings)


def _aws_authenticated(env: Mapping[str, str]) -> bool:
    return any(all(_env_value(name, env) for name in names) for names in _AWS_CREDENTIAL_SETS)


def _gcp_authenticated(env: Mapping[str, str]) -> bool:
    credentials = _env_value("GOOGLE_APPLICATION_CREDENTIALS", env)
    if credentials:
        has_adc = Path(credentials).expanduser().is_file()
    else:
        has_adc = (Path.home() / ".config" / "gcloud" / "application_default_credentials.json").is_file()
    has_project = any(
        _env_value(name, env) for name in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_VERTEX_PROJECT")
    )
    has_location = any(_env_value(name, env) for name in ("GOOGLE_CLOUD_LOCATION", "GOOGLE_VERTEX_LOCATION"))
    return has_adc and has_project and has_location


def get_env_api_key(provider: str | Model, env: Mapping[str, str] | None = None) -> str | None:
    """The API key for a provider (or a model) from the environment, or None.

    The candidates are the provider's variables from models.dev and the overrides
    file, in order; the first non-empty one wins. For a :class:`~alchemy.Model` its
    own ``env_keys`` come first (a registry model may use another key than its
    provider, e.g. Bedrock's OpenAI-compatible endpoint takes
    ``AWS_BEARER_TOKEN_BEDROCK``). For Bedrock- and Vertex-style providers a present
    credential set gives :data:`AUTHENTICATED`. Unknown providers give None. The key
    loses surrounding whitespace; one with a control character inside raises ``ValueError``
    naming the variable (:func:`alchemy.request.clean_key`).
    """
    from ..types import Model
    from ._registry import registry

    if not isinstance(provider, (str, Model)):
        raise TypeError(f"get_env_api_key() provider must be a str or an alchemy.Model, got {type(provider).__name__}")
    if env is not None and not isinstance(env, Mapping):
        raise TypeError(f"get_env_api_key() env must be a mapping of str to str or None, got {type(env).__name__}")
    environ: Mapping[str, str] = os.environ if env is None else env
    own_keys: tuple[str, ...] = ()
    base_url = ""
    if isinstance(provider, str):
        provider_id = provider
    else:
        provider_id, own_keys, base_url = provider.provider, provider.env_keys, provider.base_url
    info = registry().provider_info(provider_id)
    candidates: tuple[str, ...] = env_key_candidates(own_keys, base_url)
    auth = None
    if info is not None:
        candidates = candidates + tuple(k for k in info.env if k not in candidates)
        auth = info.auth
    for name in candidates:
        value = _env_value(name, environ)
        if value:
            key = clean_key(value, name)  # a pasted newline is dropped; a control character inside raises
            if key:
                return key
    if auth == "aws" and _aws_authenticated(environ):
        return AUTHENTICATED
    if auth == "gcp" and _gcp_authenticated(environ):
        return AUTHENTICATED
    return None
