"""Application Default Credentials for Vertex AI, through the ``google-auth`` library.

This module is imported only when a Vertex request has no API key; it needs the
optional extra ``pip install 'alchemy-llm[vertex]'`` (``google-auth``). google-auth
finds the credentials (``GOOGLE_APPLICATION_CREDENTIALS``, the gcloud
``application_default_credentials.json``, the metadata server on Google Cloud) and
mints and refreshes the access tokens; alchemy only lends it an HTTP transport
built on httpx (:class:`HttpxAuthRequest`), so no ``requests`` package is needed
and proxies configured for httpx apply.

Credentials found by :func:`default_credentials` are cached per process (keyed by
the variables that choose them); each credentials object is refreshed under its
own lock, so concurrent requests refresh once. The token goes on each attempt of a
request through :class:`CredentialsAuth`, the request's authentication step (see
:mod:`alchemy.request`): refreshing does network I/O, so in async streams it runs in
a worker thread and the event loop never waits on it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
import httpx

from ..errors import MissingConfigurationError, ProviderError
from ..request import HttpRequest

__all__ = [
    "CLOUD_PLATFORM_SCOPE",
    "CredentialsAuth",
    "HttpxAuthRequest",
    "authorization_headers",
    "default_credentials",
]

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_TIMEOUT = 30.0

_ADC_VARIABLES = ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "GOOGLE_CLOUD_QUOTA_PROJECT")

_lock = threading.Lock()
_found: dict[tuple[str, ...], tuple[Any, str | None]] = {}
_refresh_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_fallback_lock = threading.Lock()


class _HttpxResponse(google.auth.transport.Response):  # type: ignore[misc,unused-ignore]
    """A finished httpx response as google-auth reads it."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxAuthRequest(google.auth.transport.Request):  # type: ignore[misc,unused-ignore]
    """google-auth's transport interface on httpx (token endpoints, the metadata server)."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _HttpxResponse:
        try:
            with httpx.Client(timeout=timeout or TOKEN_TIMEOUT) as client:
                response = client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call,unused-ignore]
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return _HttpxResponse(response)


def default_credentials() -> tuple[Any, str | None]:
    """The Application Default Credentials and their project (``None`` when they name none).

    Raises :class:`~alchemy.errors.MissingConfigurationError` when there are none.
    """
    key = tuple(os.environ.get(name, "") for name in _ADC_VARIABLES)
    with _lock:
        found = _found.get(key)
    if found is not None:
        return found
    try:
        credentials, project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE], request=HttpxAuthRequest())
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise MissingConfigurationError(
            "google-vertex",
            f"an API key or Application Default Credentials ({exc}; run `gcloud auth application-default login` "
            "or point GOOGLE_APPLICATION_CREDENTIALS at a service-account file)",
            ("GOOGLE_CLOUD_API_KEY",),
            option="api_key",
        ) from None
    found = (credentials, project if isinstance(project, str) and project else None)
    with _lock:
        _found.setdefault(key, found)
        return _found[key]


def credentials_project(credentials: Any) -> str | None:
    """The project an injected credentials object belongs to, when it says."""
    project = getattr(credentials, "project_id", None)
    return project if isinstance(project, str) and project else None


def lock_for(credentials: Any) -> threading.Lock:
    """The lock that serializes refreshing ``credentials`` (one per object)."""
    with _lock:
        try:
            lock = _refresh_locks.get(credentials)
            if lock is None:
                lock = _refresh_locks[credentials] = threading.Lock()
        except TypeError:  # an object that cannot be weakly referenced or hashed
            lock = _fallback_lock
    return lock


def authorization_headers(credentials: Any) -> dict[str, str]:
    """The headers that authenticate a request with ``credentials``, refreshing the token first
    when it is missing or about to expire (blocking network I/O)."""
    with lock_for(credentials):
        if not credentials.valid:
            try:
                credentials.refresh(HttpxAuthRequest())
            except google.auth.exceptions.TransportError as exc:
                raise ProviderError(
                    f"Vertex AI could not reach Google's token service for an access token: {exc}",
                    kind="connection",
                ) from None
            except google.auth.exceptions.RefreshError as exc:
                raise ProviderError(
                    f"Vertex AI could not get an access token from the Application Default Credentials: {exc}",
                    kind="auth",
                ) from None
        headers: dict[str, str] = {}
        credentials.apply(headers)
    return headers


@dataclass(frozen=True, eq=False)
class CredentialsAuth:
    """The authentication step of a Vertex AI request made with google-auth credentials.

    The credentials are found once per request (when it is built); each attempt gets
    the current access token, refreshed first when it is missing or about to expire.
    """

    credentials: Any

    def apply(self, request: HttpRequest) -> HttpRequest:
        """``request`` with the token's headers (refreshing it here, blocking, when due)."""
        headers = authorization_headers(self.credentials)
        token = getattr(self.credentials, "token", None)
        return request.with_credentials(headers, (token,) if isinstance(token, str) and token else ())

    async def aapply(self, request: HttpRequest) -> HttpRequest:
        """:meth:`apply`, with a due refresh run in a worker thread, off the event loop."""
        if self.credentials.valid:
            return self.apply(request)
        import asyncio  # here: the sync path never loads asyncio

        return await asyncio.to_thread(self.apply, request)


def clear_cache() -> None:
    """Forgets the credentials found so far (tests; after changing the variables)."""
    with _lock:
        _found.clear()
