"""The loaded registry: the bundled (or refreshed) data, indexed, with models built on demand.

Loading reads one compact JSON file with orjson on first use. In that file each
provider's model records are one embedded JSON text (see :func:`pack`), parsed only
when the provider is first used, so the first lookup parses a few kilobytes rather
than the whole catalogue. Models are built from their records only when asked for
and then cached: after the first, ``get_model`` is a dictionary lookup. Custom models (``register_model``) live beside the data
and survive a refresh.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..config import CACHE_DIR
from ..errors import RegistryRefreshWarning
from ..types import CostTier, Model, ModelCapabilities, ModelCost

__all__ = ["DATA_FORMAT", "ProviderInfo", "pack", "Registry", "bundled_path", "cache_dir", "cache_path", "install", "registry"]

_EMPTY: dict[str, Any] = {}
DATA_FORMAT = 1
"""The version of the registry data layout (``format`` in models.json)."""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A provider of the registry: its wire API, endpoint and credentials."""

    id: str
    name: str
    api: str
    base_url: str
    env: tuple[str, ...]
    auth: str | None = None
    doc: str | None = None
    headers: dict[str, str] | None = None
    compat: dict[str, Any] | None = None


def _tier(raw: dict[str, Any]) -> CostTier:
    return CostTier(
        raw["threshold"],
        raw.get("input"),
        raw.get("output"),
        raw.get("cache_read"),
        raw.get("cache_write"),
        raw.get("reasoning"),
    )


def _cost(raw: dict[str, Any] | None) -> ModelCost:
    if raw is None:
        return ModelCost()
    return ModelCost(
        raw.get("input"),
        raw.get("output"),
        raw.get("cache_read"),
        raw.get("cache_write"),
        raw.get("reasoning"),
        tuple(_tier(t) for t in raw.get("tiers", ())),
    )


def _source_date(data: dict[str, Any]) -> dt.date:
    source = data.get("source") or {}
    text = source.get("fetched_at") or source.get("date") or "1970-01-01"
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return dt.date(1970, 1, 1)


class Registry:
    """One loaded data file: providers, raw model records and the models built so far."""

    def __init__(self, data: dict[str, Any], origin: str) -> None:
        if data.get("format") != DATA_FORMAT or not isinstance(data.get("providers"), dict):
            raise ValueError(f"registry data format {data.get('format')!r} is not {DATA_FORMAT}")
        self.origin = origin
        self.source: dict[str, Any] = dict(data.get("source") or {})
        self.date = _source_date(data)
        self._flag_bits = [(bit, name) for bit, name in enumerate(data.get("capabilities", ()))]
        self._capabilities: dict[int, ModelCapabilities] = {}
        self.providers: dict[str, ProviderInfo] = {}
        # provider -> its model records; packed data holds them as JSON text, parsed on first use
        self._records: dict[str, dict[str, Any] | str] = {}
        self._counts: dict[str, int] = {}
        for pid, raw in data["providers"].items():
            self.providers[pid] = ProviderInfo(
                id=pid,
                name=raw.get("name", pid),
                api=raw["api"],
                base_url=raw.get("base_url", ""),
                env=tuple(raw.get("env", ())),
                auth=raw.get("auth"),
                doc=raw.get("doc"),
                headers=raw.get("headers"),
                compat=raw.get("compat"),
            )
            models = raw.get("models", _EMPTY)
            self._records[pid] = models
            self._counts[pid] = raw["count"] if isinstance(models, str) else len(models)
        self._built: dict[tuple[str, str], Model] = {}
        self._by_id: dict[str, list[str]] | None = None
        self._by_path: dict[str, tuple[str, str]] | None = None

    @property
    def model_count(self) -> int:
        return sum(self._counts.values())

    def records(self, provider: str) -> dict[str, Any]:
        """A provider's raw model records, ``{}`` for an unknown provider."""
        records = self._records.get(provider, _EMPTY)
        if isinstance(records, str):
            records = orjson.loads(records)
            assert isinstance(records, dict)
            self._records[provider] = records
        return records

    def provider_info(self, provider: str) -> ProviderInfo | None:
        return self.providers.get(provider)

    def capabilities(self, mask: int) -> ModelCapabilities:
        caps = self._capabilities.get(mask)
        if caps is None:
            flags = {name: bool(mask >> bit & 1) for bit, name in self._flag_bits}
            known = ModelCapabilities.__dataclass_fields__
            caps = ModelCapabilities(**{k: v for k, v in flags.items() if k in known})
            self._capabilities[mask] = caps
        return caps

    def model(self, provider: str, model_id: str) -> Model | None:
        built = self._built.get((provider, model_id))
        if built is not None:
            return built
        record = self.records(provider).get(model_id)
        if record is None:
            return None
        built = self._build(self.providers[provider], model_id, record)
        self._built[(provider, model_id)] = built
        return built

    def _build(self, info: ProviderInfo, model_id: str, r: dict[str, Any]) -> Model:
        api = r.get("api", info.api)
        compat = None
        if api == "openai-completions":
            merged = dict(info.compat or _EMPTY)
            merged.update(r.get("compat", _EMPTY))
            compat = merged or None
        headers = r.get("headers")
        return Model(
            id=model_id,
            name=r.get("name", model_id),
            api=api,
            provider=info.id,
            base_url=r.get("base_url", info.base_url),
            reasoning=r.get("reasoning", False),
            input=tuple(r.get("input", ("text",))),
            cost=_cost(r.get("cost")),
            context_window=r.get("context", 0),
            max_tokens=r.get("max_tokens", 0),
            headers=dict(headers) if headers else None,
            compat=compat,
            capabilities=self.capabilities(r.get("caps", 0)),
            env_keys=tuple(r.get("env", info.env)),
            max_input_tokens=r.get("max_input", 0),
            vendor=r.get("vendor"),
            open_weights=r.get("open_weights"),
            knowledge=r.get("knowledge"),
            release_date=r.get("release_date"),
            last_updated=r.get("last_updated"),
            status=r.get("status"),
            family=r.get("family"),
            interleaved=r.get("interleaved"),
            reasoning_options=tuple(r.get("reasoning_options", ())),
        )

    def models(self, provider: str | None = None) -> list[Model]:
        providers = [provider] if provider is not None else sorted(self.providers)
        out: list[Model] = []
        for pid in providers:
            for model_id in self.records(pid):
                model = self.model(pid, model_id)
                if model is not None:
                    out.append(model)
        return out

    def providers_of(self, model_id: str) -> list[str]:
        """Every provider that serves a model with exactly this id."""
        if self._by_id is None:
            index: dict[str, list[str]] = {}
            for pid in sorted(self.providers):
                for mid in self.records(pid):
                    index.setdefault(mid, []).append(pid)
            self._by_id = index
        return self._by_id.get(model_id, [])

    def by_path(self, path: str) -> tuple[str, str] | None:
        """``provider/vendor/model`` -> ``(provider, id)``."""
        if self._by_path is None:
            from ._vendor import martian_path

            index: dict[str, tuple[str, str]] = {}
            for pid in self.providers:
                for mid, record in self.records(pid).items():
                    index.setdefault(martian_path(pid, mid, record.get("vendor")), (pid, mid))
            self._by_path = index
        return self._by_path.get(path)


# --------------------------------------------------------------------------- files


def pack(data: dict[str, Any]) -> bytes:
    """Registry data (as :func:`~alchemy.models._convert.convert` makes it) -> the file's bytes.

    Deterministic: keys sorted, one line. Each provider's ``models`` object becomes a
    JSON text with its ``count`` beside it, for lazy parsing.
    """
    providers = {}
    for pid, info in data["providers"].items():
        models = info["models"]
        if isinstance(models, dict):
            info = {**info, "models": orjson.dumps(models, option=orjson.OPT_SORT_KEYS).decode(), "count": len(models)}
        providers[pid] = info
    return orjson.dumps({**data, "providers": providers}, option=orjson.OPT_SORT_KEYS) + b"\n"


def bundled_path() -> Path:
    return Path(__file__).parent / "data" / "models.json"


def cache_dir() -> Path:
    """Where ``refresh_models`` keeps its data: ``$ALCHEMY_CACHE_DIR``, ``$XDG_CACHE_HOME/alchemy``,
    or the platform's cache directory (``~/Library/Caches/alchemy``, ``%LOCALAPPDATA%\\alchemy\\Cache``,
    ``~/.cache/alchemy``)."""
    explicit = CACHE_DIR.read()
    if explicit is not None:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "alchemy"
    if os.name == "nt":
        local = os.environ.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
        return base / "alchemy" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "alchemy"
    return Path.home() / ".cache" / "alchemy"


def cache_path() -> Path:
    return cache_dir() / "models.json"


def _load(path: Path, origin: str) -> Registry:
    return Registry(orjson.loads(path.read_bytes()), origin)


_lock = threading.Lock()
_current: Registry | None = None
_bundled_date: dt.date | None = None


def _bundled() -> Registry:
    global _bundled_date
    loaded = _load(bundled_path(), "bundled")
    _bundled_date = loaded.date
    return loaded


def _initial() -> Registry:
    """The bundled data, or the refreshed cache when there is one newer than it."""
    bundled = _bundled()
    path = cache_path()
    if not path.is_file():
        return bundled
    try:
        cached = _load(path, "cache")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(
            f"ignoring the model cache {path}: it cannot be read ({exc}); using the bundled registry",
            RegistryRefreshWarning,
            stacklevel=4,
        )
        return bundled
    return cached if cached.date >= bundled.date else bundled


def registry() -> Registry:
    """The registry in use, loaded on first call."""
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            install(_initial())
        assert _current is not None
        return _current


def install(new: Registry) -> None:
    """Makes ``new`` the registry in use (after a refresh)."""
    global _current
    _current = new


def bundled_date() -> dt.date:
    if _bundled_date is None:
        _bundled()
    assert _bundled_date is not None
    return _bundled_date


def reset() -> None:
    """Forgets the loaded registry; the next lookup loads again (tests, after a cache change)."""
    global _current
    with _lock:
        _current = None
