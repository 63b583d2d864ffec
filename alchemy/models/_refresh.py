"""``refresh_models``: an explicit, opt-in update of the registry from models.dev.

Nothing here runs unless called: alchemy never fetches implicitly. A refresh
downloads the live catalogue with httpx, converts it with the same rules the
bundled data was built with (``data/rules.json``), stores the result in the user
cache directory and switches the registry in use to it. Later processes load that
cache instead of the bundled data as long as it is newer than the bundled data.

Whatever goes wrong (no network, an HTTP error, a body that is not a models.dev
catalogue, a cache that cannot be written) the registry keeps the data it had, a
:class:`~alchemy.errors.RegistryRefreshWarning` says why, and so does the result.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .._args import need_bool, need_number, need_text
from ..errors import RegistryRefreshWarning
from ..types import check_base_url
from ._registry import Registry, cache_path, install, pack, registry

__all__ = ["DEFAULT_URL", "RefreshResult", "refresh_models"]

DEFAULT_URL = "https://models.dev/api.json"
DAY = 24 * 60 * 60.0


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What ``refresh_models`` did.

    ``updated`` is True when fresh data from the network is now in use; ``origin``
    says which data is in use (``network``, ``cache`` or ``bundled``); ``reason`` is a
    sentence saying why; ``models`` counts the models of the data in use.
    """

    updated: bool
    origin: str
    reason: str
    models: int
    path: Path | None = None


def _rules() -> dict[str, Any]:
    text = (Path(__file__).parent / "data" / "rules.json").read_bytes()
    rules: dict[str, Any] = orjson.loads(text)
    return rules


def _age_seconds(path: Path) -> float:
    return max(0.0, time.time() - path.stat().st_mtime)


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _keep(reason: str) -> RefreshResult:
    current = registry()
    message = f"{reason}; keeping the {current.origin} registry ({current.model_count} models, {current.date})"
    warnings.warn(message, RegistryRefreshWarning, stacklevel=3)
    return RefreshResult(False, current.origin, message, current.model_count)


def _write_atomically(path: Path, content: bytes) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".models-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_arguments(url: object, max_age: object, timeout: object, force: object) -> None:
    owner = "refresh_models()"
    need_text(owner, "url", url, empty=False)
    check_base_url(owner, "url", url)
    if isinstance(max_age, dt.timedelta):
        max_age = max_age.total_seconds()
    need_number(owner, "max_age", max_age, minimum=0)
    need_number(owner, "timeout", timeout)
    if isinstance(timeout, (int, float)) and timeout <= 0:
        raise ValueError(f"{owner} timeout must be a number > 0, got {timeout!r}")
    need_bool(owner, "force", force)


def refresh_models(
    url: str = DEFAULT_URL,
    *,
    max_age: float | dt.timedelta = DAY,
    timeout: float = 30.0,
    force: bool = False,
) -> RefreshResult:
    """Fetches the live models.dev catalogue unless the cached copy is younger than ``max_age``.

    ``max_age`` is in seconds (or a ``timedelta``); ``force=True`` fetches regardless.
    The cache is ``models.json`` in :func:`~alchemy.models.cache_dir`. Never raises
    for network or data problems: see :class:`RefreshResult`; wrong arguments raise at once.
    """
    _check_arguments(url, max_age, timeout, force)
    max_age_s = max_age.total_seconds() if isinstance(max_age, dt.timedelta) else float(max_age)
    path = cache_path()
    if not force and path.is_file():
        age = _age_seconds(path)
        if age < max_age_s:
            try:
                cached = Registry(orjson.loads(path.read_bytes()), "cache")
            except (OSError, ValueError, KeyError, TypeError):
                cached = None
            if cached is not None and cached.source.get("url") == url:
                install(cached)
                return RefreshResult(
                    False,
                    "cache",
                    f"the cached catalogue is {_human(age)} old (max_age {_human(max_age_s)}); not fetched",
                    cached.model_count,
                    path,
                )

    import hashlib

    import httpx

    from ._convert import convert

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        return _keep(f"could not fetch {url}: {type(exc).__name__}: {exc}")
    if response.status_code != 200:
        return _keep(f"{url} answered HTTP {response.status_code}")
    body = response.content
    try:
        catalogue = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _keep(f"{url} did not return JSON ({exc})")
    fetched_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    source = {
        "name": "models.dev",
        "url": url,
        "sha256": hashlib.sha256(body).hexdigest(),
        "fetched_at": fetched_at.isoformat(),
    }
    try:
        data, report = convert(catalogue, _rules(), source)
        fresh = Registry(data, "network")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return _keep(f"{url} did not return a models.dev catalogue ({exc})")
    if fresh.model_count == 0:
        return _keep(f"{url} returned no model alchemy can call")
    install(fresh)
    try:
        _write_atomically(path, pack(data))
    except OSError as exc:
        message = f"fetched {fresh.model_count} models from {url}, in use now, but the cache {path} cannot be written ({exc})"
        warnings.warn(message, RegistryRefreshWarning, stacklevel=2)
        return RefreshResult(True, "network", message, fresh.model_count, None)
    return RefreshResult(
        True,
        "network",
        f"fetched {fresh.model_count} models from {len(report.models_by_provider)} providers at {url}",
        fresh.model_count,
        path,
    )
