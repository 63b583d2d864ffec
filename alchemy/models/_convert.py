"""models.dev catalogue + alchemy's rules -> the registry data alchemy loads.

One conversion serves both the build-time generator (``tools/generate_models.py``,
which reads the rules from ``data/overrides.toml``) and ``refresh_models`` (which
uses the same rules, compiled to ``data/rules.json``), so fresh data from the
network is shaped exactly like the bundled data.

The output is plain JSON data, one record per model, with only the fields that
carry information (compact and fast to load). Capability flags are stored as one
integer bit mask whose bit order is written in the file (``capabilities``).
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..types import ModelCapabilities
from ..wire_apis import WIRE_APIS
from ._registry import DATA_FORMAT
from ..model_facts import THINKING_LEVELS
from ..providers.openai_compat import COMPAT_FLAGS
from ._vendor import detect_vendor

__all__ = [
    "API_NAMES",
    "CAPABILITY_FLAGS",
    "COMPAT_FIELDS",
    "DATA_FORMAT",
    "ConversionReport",
    "capabilities_mask",
    "convert",
    "validate_rules",
]

CAPABILITY_FLAGS: tuple[str, ...] = tuple(f.name for f in fields(ModelCapabilities))
API_NAMES: frozenset[str] = frozenset(WIRE_APIS)
"""The wire APIs a model record may name (the built-in ones of :mod:`alchemy.wire_apis`)."""
COMPAT_FIELDS: frozenset[str] = frozenset(COMPAT_FLAGS)
"""The compat flags a record may set: the fields of :class:`~alchemy.providers.openai_compat.CompletionsCompat`."""
_OPENAI_STYLE = frozenset({"openai-completions", "openai-responses"})
# The effort scale reasoning levels live on, lowest first (models.dev's values).
_EFFORT_SCALE: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# The levels a reasoning_effort_map covers: every level but off and max (max maps as xhigh does).
_THINKING_LEVELS: tuple[str, ...] = tuple(level for level in THINKING_LEVELS if level not in ("off", "max"))
_TRAILING_V1 = re.compile(r"/v1/?$")


def capabilities_mask(flags: Mapping[str, bool]) -> int:
    """The flags as the registry's bit mask (bit i = ``CAPABILITY_FLAGS[i]``)."""
    mask = 0
    for bit, name in enumerate(CAPABILITY_FLAGS):
        if flags.get(name):
            mask |= 1 << bit
    return mask


# --------------------------------------------------------------------------- rules checking

_PROVIDER_KEYS = frozenset({"name", "base_url", "env", "auth", "skip", "headers", "capabilities", "compat", "rules"})
_RULE_KEYS = frozenset({"match", "when_api", "api", "base_url", "env", "skip", "headers", "capabilities", "compat"})
_MODEL_KEYS = frozenset(
    {
        "skip",
        "name",
        "api",
        "base_url",
        "env",
        "headers",
        "capabilities",
        "compat",
        "context_window",
        "max_tokens",
        "max_input_tokens",
        "cost",
        "vendor",
        "reasoning",
        "input",
        "status",
    }
)
_COST_KEYS = frozenset({"input", "output", "cache_read", "cache_write", "reasoning"})
_TOP_KEYS = frozenset(
    {"schema", "npm", "unsupported_npm", "shape", "exclude", "defaults", "api", "providers", "models"}
)


def _check_keys(table: Any, allowed: frozenset[str], path: str) -> None:
    if not isinstance(table, dict):
        raise ValueError(f"{path}: expected a table, got {type(table).__name__}")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _check_capabilities(table: Any, path: str) -> None:
    _check_keys(table, frozenset(CAPABILITY_FLAGS), path)
    for name, value in table.items():
        if not isinstance(value, bool):
            raise ValueError(f"{path}.{name}: expected true or false, got {value!r}")


def _check_overrides(table: Any, path: str) -> None:
    if "api" in table and table["api"] not in API_NAMES:
        raise ValueError(f"{path}.api: unknown wire API {table['api']!r}")
    if "capabilities" in table:
        _check_capabilities(table["capabilities"], f"{path}.capabilities")
    if "compat" in table:
        _check_keys(table["compat"], COMPAT_FIELDS, f"{path}.compat")
    if "env" in table and not (isinstance(table["env"], list) and all(isinstance(v, str) for v in table["env"])):
        raise ValueError(f"{path}.env: expected a list of variable names")
    if "skip" in table and not isinstance(table["skip"], str):
        raise ValueError(f"{path}.skip: expected the reason as a string")


def validate_rules(rules: Mapping[str, Any]) -> None:
    """Raises ``ValueError`` naming the first misspelt key or bad value in the rules."""
    _check_keys(rules, _TOP_KEYS, "<rules>")
    if rules.get("schema") != 1:
        raise ValueError(f"schema: expected 1, got {rules.get('schema')!r}")
    for package, api in rules.get("npm", {}).items():
        if api not in API_NAMES:
            raise ValueError(f"npm.{package}: unknown wire API {api!r}")
    for shape, api in rules.get("shape", {}).items():
        if api not in API_NAMES:
            raise ValueError(f"shape.{shape}: unknown wire API {api!r}")
    for i, entry in enumerate(rules.get("exclude", [])):
        _check_keys(entry, frozenset({"families", "match", "reason"}), f"exclude[{i}]")
        if not isinstance(entry.get("reason"), str):
            raise ValueError(f"exclude[{i}].reason: required")
    defaults = rules.get("defaults", {})
    _check_keys(defaults, frozenset({"capabilities"}), "defaults")
    _check_capabilities(defaults.get("capabilities", {}), "defaults.capabilities")
    for api, table in rules.get("api", {}).items():
        if api not in API_NAMES:
            raise ValueError(f"api.{api}: unknown wire API")
        _check_keys(table, frozenset({"capabilities", "compat"}), f"api.{api}")
        _check_overrides(table, f"api.{api}")
    for provider, table in rules.get("providers", {}).items():
        path = f"providers.{provider}"
        _check_keys(table, _PROVIDER_KEYS, path)
        _check_overrides(table, path)
        if table.get("auth") not in (None, "aws", "gcp"):
            raise ValueError(f"{path}.auth: expected 'aws' or 'gcp'")
        for i, rule in enumerate(table.get("rules", [])):
            _check_keys(rule, _RULE_KEYS, f"{path}.rules[{i}]")
            if not isinstance(rule.get("match"), str):
                raise ValueError(f"{path}.rules[{i}].match: required glob pattern")
            _check_overrides(rule, f"{path}.rules[{i}]")
    for key, table in rules.get("models", {}).items():
        path = f"models.{key}"
        if "/" not in key:
            raise ValueError(f"{path}: the key must be 'provider/model-id'")
        _check_keys(table, _MODEL_KEYS, path)
        _check_overrides(table, path)
        if "cost" in table:
            _check_keys(table["cost"], _COST_KEYS, f"{path}.cost")


# --------------------------------------------------------------------------- report


@dataclass
class ConversionReport:
    """What the conversion kept, left out and corrected, for the generator's report."""

    providers_seen: int = 0
    models_seen: int = 0
    models_by_provider: dict[str, int] = field(default_factory=dict)
    models_by_api: Counter[str] = field(default_factory=Counter)
    providers_left_out: dict[str, str] = field(default_factory=dict)
    models_left_out: Counter[str] = field(default_factory=Counter)
    examples_left_out: dict[str, list[str]] = field(default_factory=dict)
    without_tools: int = 0
    deprecated: int = 0
    unknown_cost: int = 0
    clamped_output: list[str] = field(default_factory=list)
    unused_model_overrides: list[str] = field(default_factory=list)

    @property
    def models_kept(self) -> int:
        return sum(self.models_by_provider.values())

    def leave_out(self, key: str, reason: str) -> None:
        self.models_left_out[reason] += 1
        examples = self.examples_left_out.setdefault(reason, [])
        if len(examples) < 3:
            examples.append(key)

    def summary(self) -> str:
        lines = [
            f"models.dev: {self.providers_seen} providers, {self.models_seen} models",
            f"kept: {len(self.models_by_provider)} providers, {self.models_kept} models "
            f"({self.without_tools} without tool calling, {self.deprecated} deprecated, "
            f"{self.unknown_cost} with unknown prices)",
            "by wire API: " + ", ".join(f"{api} {n}" for api, n in sorted(self.models_by_api.items())),
        ]
        if self.providers_left_out:
            lines.append(f"providers left out ({len(self.providers_left_out)}):")
            lines += [f"  {pid}: {why}" for pid, why in sorted(self.providers_left_out.items())]
        if self.models_left_out:
            lines.append(f"models left out ({sum(self.models_left_out.values())}):")
            for reason, count in sorted(self.models_left_out.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {count:5d}  {reason}  (e.g. {', '.join(self.examples_left_out[reason])})")
        if self.clamped_output:
            lines.append(f"max output clamped to the context window: {len(self.clamped_output)} models")
        if self.unused_model_overrides:
            lines.append("model overrides that matched nothing: " + ", ".join(self.unused_model_overrides))
        lines.append("per provider: " + ", ".join(f"{p} {n}" for p, n in sorted(self.models_by_provider.items())))
        return "\n".join(lines)


# --------------------------------------------------------------------------- conversion


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return 0
    return int(value)


def _price(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def _cost_record(cost: Any, override: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """models.dev ``cost`` -> registry cost; ``None`` when the model has no prices at all."""
    if not isinstance(cost, dict) and not override:
        return None
    source = dict(cost) if isinstance(cost, dict) else {}
    source.update(override or {})
    out: dict[str, Any] = {}
    for key in ("input", "output", "cache_read", "cache_write", "reasoning"):
        price = _price(source.get(key))
        if price is not None:
            out[key] = price
    if "input" not in out and "output" not in out:
        return None
    tiers = []
    for tier in source.get("tiers") or []:
        spec = tier.get("tier") if isinstance(tier, dict) else None
        if not isinstance(spec, dict) or spec.get("type", "context") != "context":
            continue
        threshold = _positive_int(spec.get("size"))
        if not threshold:
            continue
        entry: dict[str, Any] = {"threshold": threshold}
        for key in ("input", "output", "cache_read", "cache_write", "reasoning"):
            price = _price(tier.get(key))
            if price is not None:
                entry[key] = price
        tiers.append(entry)
    if tiers:
        out["tiers"] = sorted(tiers, key=lambda t: t["threshold"])
    return out


def _effort_values(options: list[Any]) -> list[str] | None:
    for option in options:
        if isinstance(option, dict) and option.get("type") == "effort":
            return [v for v in option.get("values") or [] if isinstance(v, str)]
    return None


def _effort_map(values: list[str]) -> dict[str, str]:
    """Maps each thinking level the model lacks to its nearest effort value (ties go lower)."""
    scale = [v for v in _EFFORT_SCALE if v in values and v != "none"]
    if not scale:
        return {level: "default" for level in _THINKING_LEVELS} if "default" in values else {}
    mapping = {}
    for level in _THINKING_LEVELS:
        if level in values:
            continue
        rank = _EFFORT_SCALE.index(level)
        mapping[level] = min(scale, key=lambda v: (abs(_EFFORT_SCALE.index(v) - rank), _EFFORT_SCALE.index(v)))
    return mapping


def _interleaved(value: Any) -> bool | str | None:
    if value is True:
        return True
    if isinstance(value, dict) and isinstance(value.get("field"), str):
        return str(value["field"])
    return None


def _matching_rules(rules: list[dict[str, Any]], model_id: str, api: str) -> list[dict[str, Any]]:
    return [
        rule
        for rule in rules
        if fnmatch.fnmatchcase(model_id, rule["match"]) and rule.get("when_api", api) == api
    ]


def _strip_base_url(url: str, api: str) -> str:
    url = url.strip().rstrip("/")
    if api == "anthropic-messages":
        url = _TRAILING_V1.sub("", url)
    return url


def _env_candidates(names: list[str], base_url: str) -> list[str]:
    settings = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", base_url))
    return [name for name in names if name not in settings]


class _Converter:
    def __init__(self, rules: Mapping[str, Any], report: ConversionReport) -> None:
        self.rules = rules
        self.report = report
        self.npm: Mapping[str, str] = rules.get("npm", {})
        self.unsupported: Mapping[str, str] = rules.get("unsupported_npm", {})
        self.shapes: Mapping[str, str] = rules.get("shape", {})
        self.default_caps: dict[str, bool] = {f.name: f.default for f in fields(ModelCapabilities)}  # type: ignore[misc]
        self.default_caps.update(rules.get("defaults", {}).get("capabilities", {}))
        self.api_tables: Mapping[str, Any] = rules.get("api", {})
        self.providers: Mapping[str, Any] = rules.get("providers", {})
        self.model_overrides: Mapping[str, Any] = rules.get("models", {})
        self.used_overrides: set[str] = set()

    def provider(self, pid: str, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        table = self.providers.get(pid, {})
        if "skip" in table:
            self.report.providers_left_out[pid] = table["skip"]
            return None
        npm = raw.get("npm") or ""
        if npm in self.unsupported:
            self.report.providers_left_out[pid] = f"{npm}: {self.unsupported[npm]}"
            return None
        api = self.npm.get(npm)
        if api is None:
            self.report.providers_left_out[pid] = f"{npm or 'no npm package'}: no known wire API"
            return None
        base_url = _strip_base_url(str(table.get("base_url") or raw.get("api") or ""), api)
        env = list(table["env"]) if "env" in table else [e for e in raw.get("env") or [] if isinstance(e, str)]
        info: dict[str, Any] = {
            "name": table.get("name") or raw.get("name") or pid,
            "api": api,
            "base_url": base_url,
            "env": _env_candidates(env, base_url),
            "all_env": env,
        }
        if raw.get("doc"):
            info["doc"] = raw["doc"]
        if table.get("auth"):
            info["auth"] = table["auth"]
        if table.get("headers"):
            info["headers"] = dict(table["headers"])
        # Chat-Completions quirks shared by the provider's models; records keep only their differences.
        compat = dict(self.api_tables.get("openai-completions", {}).get("compat", {}))
        compat.update(table.get("compat", {}))
        if compat:
            info["compat"] = compat
        return info

    def model(self, pid: str, provider: dict[str, Any], mid: str, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        key = f"{pid}/{mid}"
        report = self.report
        override: Mapping[str, Any] = self.model_overrides.get(key, {})
        if override:
            self.used_overrides.add(key)
        if "skip" in override:
            report.leave_out(key, f"override: {override['skip']}")
            return None

        # wire API and endpoint: provider -> per-model npm/shape -> rules -> hand override
        per_model: Mapping[str, Any] = raw.get("provider") or {}
        api: str = provider["api"]
        npm = per_model.get("npm")
        if npm:
            if npm in self.unsupported:
                report.leave_out(key, f"{npm}: {self.unsupported[npm]}")
                return None
            if npm not in self.npm:
                report.leave_out(key, f"{npm}: no known wire API")
                return None
            api = self.npm[npm]
        shape = per_model.get("shape")
        if shape and shape in self.shapes and api in _OPENAI_STYLE:
            api = self.shapes[shape]
        table = self.providers.get(pid, {})
        matched = _matching_rules(table.get("rules", []), mid, api)
        layers: list[Mapping[str, Any]] = [*matched, override]
        for layer in layers:
            if "skip" in layer:
                report.leave_out(key, layer["skip"])
                return None
            api = layer.get("api", api)

        modalities = raw.get("modalities") or {}
        inputs = [m for m in modalities.get("input") or [] if isinstance(m, str)]
        outputs = modalities.get("output") or []
        if "text" not in outputs:
            report.leave_out(key, "no text output")
            return None
        if "text" not in inputs:
            report.leave_out(key, "no text input")
            return None
        family = raw.get("family")
        for entry in self.rules.get("exclude", []):
            if family in entry.get("families", ()) or any(
                fnmatch.fnmatchcase(mid.lower(), pattern) for pattern in entry.get("match", ())
            ):
                report.leave_out(key, entry["reason"])
                return None

        base_url = str(per_model.get("api") or provider["base_url"])
        env: list[str] = list(provider["all_env"])
        headers: dict[str, str] = dict(provider.get("headers") or {})
        headers.update(per_model.get("headers") or {})
        for layer in layers:
            base_url = str(layer.get("base_url", base_url))
            env = list(layer.get("env", env))
            headers.update(layer.get("headers") or {})
        base_url = _strip_base_url(base_url, api)
        if not base_url:
            report.leave_out(key, "no base URL")
            return None

        record: dict[str, Any] = {"name": override.get("name") or raw.get("name") or mid}
        if api != provider["api"]:
            record["api"] = api
        if base_url != provider["base_url"]:
            record["base_url"] = base_url
        env = _env_candidates(env, base_url)
        if env != provider["env"]:
            record["env"] = env
        if headers:
            record["headers"] = headers

        reasoning = bool(override.get("reasoning", raw.get("reasoning", False)))
        if reasoning:
            record["reasoning"] = True
        inputs = list(override.get("input", inputs))
        if inputs != ["text"]:
            record["input"] = inputs

        limit = raw.get("limit") or {}
        context = _positive_int(override.get("context_window", limit.get("context")))
        max_tokens = _positive_int(override.get("max_tokens", limit.get("output")))
        max_input = _positive_int(override.get("max_input_tokens", limit.get("input")))
        if context and max_tokens > context:
            report.clamped_output.append(key)
            max_tokens = context
        if context:
            record["context"] = context
        if max_tokens:
            record["max_tokens"] = max_tokens
        if max_input:
            record["max_input"] = max_input

        cost = _cost_record(raw.get("cost"), override.get("cost"))
        if cost is None:
            report.unknown_cost += 1
        else:
            record["cost"] = cost

        tools = bool(raw.get("tool_call", False))
        caps = self.capabilities(api, table, raw, inputs, tools, reasoning, layers)
        record["caps"] = capabilities_mask(caps)
        if not caps["supports_tools"]:
            report.without_tools += 1

        if api == "openai-completions":
            compat = self.compat(api, table, raw, reasoning, layers)
            shared = provider.get("compat", {})
            own = {k: v for k, v in compat.items() if k not in shared or shared[k] != v}
            if own:
                record["compat"] = own

        vendor = override.get("vendor") or detect_vendor(mid, family if isinstance(family, str) else None, pid)
        if vendor:
            record["vendor"] = vendor
        for source_key, target in (
            ("family", "family"),
            ("knowledge", "knowledge"),
            ("release_date", "release_date"),
            ("last_updated", "last_updated"),
        ):
            if isinstance(raw.get(source_key), str):
                record[target] = raw[source_key]
        if isinstance(raw.get("open_weights"), bool):
            record["open_weights"] = raw["open_weights"]
        status = override.get("status", raw.get("status"))
        if isinstance(status, str):
            record["status"] = status
            if status == "deprecated":
                report.deprecated += 1
        interleaved = _interleaved(raw.get("interleaved"))
        if interleaved is not None:
            record["interleaved"] = interleaved
        options = raw.get("reasoning_options")
        if isinstance(options, list) and options:
            record["reasoning_options"] = options
        report.models_by_api[api] += 1
        return record

    def capabilities(
        self,
        api: str,
        table: Mapping[str, Any],
        raw: Mapping[str, Any],
        inputs: list[str],
        tools: bool,
        reasoning: bool,
        layers: list[Mapping[str, Any]],
    ) -> dict[str, bool]:
        caps = dict(self.default_caps)
        caps.update(self.api_tables.get(api, {}).get("capabilities", {}))
        caps.update(table.get("capabilities", {}))
        vision = "image" in inputs
        caps["supports_vision"] = vision
        caps["supports_tools"] = tools
        caps["supports_reasoning"] = reasoning
        if vision:
            caps["supports_json_content"] = True
        if isinstance(raw.get("temperature"), bool):
            caps["supports_temperature"] = raw["temperature"]
        if isinstance(raw.get("structured_output"), bool):
            caps["supports_json_output"] = raw["structured_output"]
        for layer in layers:
            caps.update(layer.get("capabilities", {}))
        if not caps["supports_tools"]:
            caps["supports_tool_choice"] = False
            caps["supports_tool_choice_required"] = False
        if not caps["supports_first_assistant"]:
            caps["supports_only_assistant"] = False
        return caps

    def compat(
        self,
        api: str,
        table: Mapping[str, Any],
        raw: Mapping[str, Any],
        reasoning: bool,
        layers: list[Mapping[str, Any]],
    ) -> dict[str, Any]:
        compat: dict[str, Any] = dict(self.api_tables.get(api, {}).get("compat", {}))
        compat.update(table.get("compat", {}))
        options = raw.get("reasoning_options")
        if reasoning and isinstance(options, list) and options:
            values = _effort_values(options)
            compat["supports_reasoning_effort"] = values is not None
            if values:
                mapping = _effort_map(values)
                if mapping:
                    compat["reasoning_effort_map"] = mapping
        for layer in layers:
            compat.update(layer.get("compat", {}))
        return compat


def convert(
    catalogue: Mapping[str, Any], rules: Mapping[str, Any], source: Mapping[str, Any]
) -> tuple[dict[str, Any], ConversionReport]:
    """Converts a models.dev ``api.json`` object into registry data, with a report.

    Deterministic: providers and models come out sorted by id. Raises ``ValueError``
    when ``catalogue`` is not shaped like models.dev's file at all.
    """
    if not isinstance(catalogue, dict) or not catalogue:
        raise ValueError("not a models.dev catalogue: expected a non-empty object of providers")
    report = ConversionReport()
    converter = _Converter(rules, report)
    providers: dict[str, Any] = {}
    for pid in sorted(catalogue):
        raw = catalogue[pid]
        if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
            raise ValueError(f"not a models.dev catalogue: provider {pid!r} has no 'models' object")
        report.providers_seen += 1
        report.models_seen += len(raw["models"])
        info = converter.provider(pid, raw)
        if info is None:
            continue
        models: dict[str, Any] = {}
        for mid in sorted(raw["models"]):
            entry = raw["models"][mid]
            if not isinstance(entry, dict):
                report.leave_out(f"{pid}/{mid}", "malformed entry")
                continue
            record = converter.model(pid, info, mid, entry)
            if record is not None:
                models[mid] = record
        if not models:
            report.providers_left_out[pid] = "no model left after filtering"
            continue
        del info["all_env"]
        info["models"] = models
        providers[pid] = info
        report.models_by_provider[pid] = len(models)
    report.unused_model_overrides = sorted(set(rules.get("models", {})) - converter.used_overrides)
    data = {
        "format": DATA_FORMAT,
        "source": dict(source),
        "capabilities": list(CAPABILITY_FLAGS),
        "providers": providers,
    }
    return data, report
