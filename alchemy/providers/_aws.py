"""AWS authentication and addressing for Bedrock: region, bearer tokens and SigV4.

Three ways to authenticate, tried in this order:

1. A Bedrock API key (a bearer token): ``api_key=...`` or ``AWS_BEARER_TOKEN_BEDROCK``.
   Sent as ``Authorization: Bearer ...``; needs nothing beyond alchemy itself.
2. ``AWS_BEDROCK_SKIP_AUTH=1`` (also ``true``/``yes``): no authentication at all, for proxies and gateways
   that add their own (and for local test servers).
3. AWS Signature Version 4 with the standard AWS credential chain (environment
   variables, the shared config and credentials files with ``profile=`` or
   ``AWS_PROFILE``, SSO, container and instance credentials, web identity). This
   uses ``botocore``'s own credential resolution and ``SigV4Auth`` (install
   ``alchemy-llm[bedrock]``); botocore is imported only when a request is signed.

The region comes from the ``region`` option, else ``AWS_REGION``, else
``AWS_DEFAULT_REGION``, else the region of the botocore profile, else the host of
a ``bedrock-runtime.<region>.amazonaws.com`` base URL.

Signing covers the body and the time of sending, so the provider resolves the
credentials once per request (:func:`credentials_signer`) and attaches the
:class:`SigV4Signer` to its request as its :class:`~alchemy.request.Auth`: the runner
has it sign the exact bytes it sends (after ``on_payload``), once per attempt.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import BEDROCK_SKIP_AUTH
from ..errors import MissingConfigurationError
from ..request import HttpRequest

__all__ = [
    "BEDROCK_SERVICE",
    "BEARER_TOKEN_VARIABLE",
    "REGION_VARIABLES",
    "SECRET_VARIABLES",
    "SKIP_AUTH_VARIABLE",
    "SigV4Signer",
    "botocore_available",
    "credentials_signer",
    "forget_sessions",
    "region_from_url",
    "resolve_region",
    "skip_auth_requested",
]

BEDROCK_SERVICE = "bedrock"
"""The SigV4 service name of the Bedrock runtime endpoints."""
BEARER_TOKEN_VARIABLE = "AWS_BEARER_TOKEN_BEDROCK"
SECRET_VARIABLES = (BEARER_TOKEN_VARIABLE, "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
"""The AWS variables that hold secrets (hidden from every error and log line)."""
SKIP_AUTH_VARIABLE = BEDROCK_SKIP_AUTH.name
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")

_PROVIDER = "amazon-bedrock"
_INSTALL_HINT = "pip install 'alchemy-llm[bedrock]'"
_REGION_IN_HOST = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com", re.IGNORECASE)

_sessions_lock = threading.Lock()
_sessions: dict[str | None, Any] = {}


def botocore_available() -> bool:
    """Whether botocore (the ``bedrock`` extra) can be imported."""
    try:
        import botocore.auth  # noqa: F401
    except ImportError:
        return False
    return True


def skip_auth_requested(env: Mapping[str, str] | None = None) -> bool:
    """``AWS_BEDROCK_SKIP_AUTH`` switched on (read now; spellings in :mod:`alchemy.config`)."""
    return BEDROCK_SKIP_AUTH.read(env)


def region_from_url(url: str) -> str | None:
    """The region in a ``bedrock-runtime.<region>.amazonaws.com`` URL, if it is one."""
    match = _REGION_IN_HOST.search(url)
    return match.group(1).lower() if match else None


def _session(profile: str | None) -> Any:
    """The botocore session of a profile (``None``: the default chain), made once."""
    with _sessions_lock:
        session = _sessions.get(profile)
        if session is None:
            import botocore.session

            session = botocore.session.Session(profile=profile)
            _sessions[profile] = session
        return session


def _profile_region(profile: str | None) -> str | None:
    if not botocore_available():
        return None
    try:
        region = _session(profile).get_config_variable("region")
    except Exception:  # a broken config file must not hide the clearer "no region" error
        return None
    return region if isinstance(region, str) and region else None


def resolve_region(
    option: str | None,
    *,
    profile: str | None = None,
    url: str = "",
    env: Mapping[str, str] | None = None,
) -> str:
    """The AWS region to call and sign for; raises :class:`MissingConfigurationError` if none is set."""
    if option:
        return option
    environ = os.environ if env is None else env
    for name in REGION_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value
    region = _profile_region(profile) or region_from_url(url)
    if region:
        return region
    raise MissingConfigurationError(_PROVIDER, "an AWS region", REGION_VARIABLES, option="region")


_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
_SIGNATURE_HEADERS_LOWER = frozenset(name.lower() for name in _SIGNATURE_HEADERS)


@dataclass(frozen=True)
class SigV4Signer:
    """The authentication step of SigV4 requests: signs each attempt for one region.

    Made once per request with the credentials botocore's chain found; an
    :class:`~alchemy.request.Auth`, so the runner calls it for every attempt.
    """

    credentials: Any
    """A botocore ``Credentials`` object (refreshable ones renew themselves)."""
    region: str
    service: str = BEDROCK_SERVICE

    def apply(self, request: HttpRequest) -> HttpRequest:
        """A copy of ``request`` with ``Authorization``, ``X-Amz-Date`` (and ``X-Amz-Security-Token``).

        The signature covers ``request.body``, which must be the bytes that will be
        sent. Any earlier signature headers are replaced. Credentials about to expire
        are refreshed first (botocore does that, and it may block).
        """
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        body = request.encoded_body() or b""
        frozen = self.credentials.get_frozen_credentials()
        unsigned = {
            name: value for name, value in request.headers.items() if name.lower() not in _SIGNATURE_HEADERS_LOWER
        }
        signed = AWSRequest(method=request.method, url=request.url, data=body, headers=unsigned)
        SigV4Auth(frozen, self.service, self.region).add_auth(signed)
        added = {name: signed.headers[name] for name in _SIGNATURE_HEADERS if name in signed.headers}
        secrets = [secret for secret in (frozen.secret_key, frozen.token) if secret]
        bare = HttpRequest(request.method, request.url, unsigned, body, request.secrets)
        return bare.with_credentials(added, secrets)

    async def aapply(self, request: HttpRequest) -> HttpRequest:
        """:meth:`apply`, in a worker thread when the credentials must be refreshed first."""
        if self._refresh_due():
            import asyncio  # here: the sync path never loads asyncio

            return await asyncio.to_thread(self.apply, request)
        return self.apply(request)

    def _refresh_due(self) -> bool:
        """Whether botocore would refresh the credentials (network I/O) before signing."""
        refresh_needed = getattr(self.credentials, "refresh_needed", None)
        return bool(refresh_needed()) if callable(refresh_needed) else False


def credentials_signer(region: str, profile: str | None = None) -> SigV4Signer:
    """A signer with the credentials botocore's chain finds (for ``profile`` if given).

    Raises :class:`MissingConfigurationError` when botocore is not installed or finds
    no credentials, naming every way to provide them.
    """
    if not botocore_available():
        raise MissingConfigurationError(
            _PROVIDER,
            f"AWS credentials: set {BEARER_TOKEN_VARIABLE} (or pass api_key=) for a Bedrock API key, "
            f"or install botocore ({_INSTALL_HINT}) to sign with the AWS credential chain",
        )
    try:
        credentials = _session(profile).get_credentials()
    except Exception as exc:  # e.g. botocore's ProfileNotFound, a broken config file
        raise MissingConfigurationError(
            _PROVIDER, f"usable AWS credentials ({type(exc).__name__}: {exc})", option="profile"
        ) from None
    if credentials is None:
        where = f"profile {profile!r}" if profile else "the AWS credential chain"
        raise MissingConfigurationError(
            _PROVIDER,
            f"AWS credentials, and none were found in {where}: set AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or {BEARER_TOKEN_VARIABLE} (or pass api_key= or profile=)",
        )
    return SigV4Signer(credentials, region)


def forget_sessions() -> None:
    """Drops the cached botocore sessions (tests that change the environment call this)."""
    with _sessions_lock:
        _sessions.clear()
