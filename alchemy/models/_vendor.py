"""Who made a model: vendor detection from its id, and the martian path.

A model's *vendor* is the lab that trained it (``anthropic`` for Claude, wherever it
is served); its *provider* is the service that runs it. Detection looks, in order,
at a vendor prefix in the id (``meta-llama/llama-3.3-70b``, Bedrock's
``us.anthropic.claude-...``), then at well-known name patterns (``gpt-`` -> openai,
``claude`` -> anthropic, ...), then at an unknown ``org/`` prefix, then at the
models.dev family, and last at the provider when it is a lab. This module is tiny
and imports nothing heavy: ``Model.path`` uses it without loading the registry.
"""

from __future__ import annotations

import re

__all__ = ["canonical_vendor", "detect_vendor", "martian_path", "split_vendor_prefix"]

# Spellings of a lab used as id prefixes (OpenRouter, Together, Bedrock, ...) -> vendor.
_VENDOR_ALIASES: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "gemini": "google",
    "meta": "meta",
    "meta-llama": "meta",
    "llama": "meta",
    "mistral": "mistral",
    "mistralai": "mistral",
    "qwen": "qwen",
    "alibaba": "qwen",
    "deepseek": "deepseek",
    "deepseek-ai": "deepseek",
    "x-ai": "xai",
    "xai": "xai",
    "moonshot": "moonshot",
    "moonshotai": "moonshot",
    "kimi": "moonshot",
    "z-ai": "zai",
    "zai": "zai",
    "zai-org": "zai",
    "zhipu": "zai",
    "zhipuai": "zai",
    "thudm": "zai",
    "minimax": "minimax",
    "minimaxai": "minimax",
    "cohere": "cohere",
    "cohereforai": "cohere",
    "amazon": "amazon",
    "ai21": "ai21",
    "microsoft": "microsoft",
    "nvidia": "nvidia",
    "ibm": "ibm",
    "ibm-granite": "ibm",
    "baidu": "baidu",
    "tencent": "tencent",
    "bytedance": "bytedance",
    "bytedance-seed": "bytedance",
    "stepfun": "stepfun",
    "stepfun-ai": "stepfun",
    "xiaomi": "xiaomi",
    "xiaomimimo": "xiaomi",
    "perplexity": "perplexity",
    "nousresearch": "nousresearch",
    "liquid": "liquid",
    "liquidai": "liquid",
    "allenai": "allenai",
    "01-ai": "01-ai",
    "inclusionai": "inclusionai",
    "writer": "writer",
    "inception": "inception",
    "upstage": "upstage",
    "sarvam": "sarvam",
    "sarvamai": "sarvam",
    "arcee-ai": "arcee",
    "meituan": "meituan",
    "meituan-longcat": "meituan",
    "sakana": "sakana",
    "reka": "reka",
    "poolside": "poolside",
}

# Name patterns, first match wins; each is searched at the start of the bare model
# name or after a separator, so "gpt-" matches "openai/gpt-4o" and "azure-gpt-4o".
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"gpt-oss", "openai"),
    (r"gpt-|gpt\d|chatgpt|o1(?:-|$)|o3(?:-|$)|o4(?:-|$)|codex|davinci|babbage|text-embedding|dall-e|whisper|tts-1|sora", "openai"),
    (r"claude", "anthropic"),
    (r"gemini|gemma|palm|bison|learnlm|imagen|veo", "google"),
    (r"llama|codellama", "meta"),
    (r"mistral|mixtral|codestral|magistral|devstral|ministral|pixtral|voxtral|open-mistral", "mistral"),
    (r"qwen|qwq|qvq|tongyi", "qwen"),
    (r"deepseek", "deepseek"),
    (r"grok", "xai"),
    (r"glm|chatglm|cogview|cogvideo", "zai"),
    (r"kimi|moonshot", "moonshot"),
    (r"minimax|abab", "minimax"),
    (r"command|c4ai|aya", "cohere"),
    (r"nova-|titan", "amazon"),
    (r"jamba", "ai21"),
    (r"phi-|phi\d|mai-", "microsoft"),
    (r"nemotron", "nvidia"),
    (r"granite", "ibm"),
    (r"ernie", "baidu"),
    (r"hunyuan|hy\d", "tencent"),
    (r"doubao|seed-|seedream|seedance", "bytedance"),
    (r"step-|step\d", "stepfun"),
    (r"mimo", "xiaomi"),
    (r"sonar|r1-1776", "perplexity"),
    (r"hermes", "nousresearch"),
    (r"lfm", "liquid"),
    (r"olmo|tulu|molmo", "allenai"),
    (r"yi-", "01-ai"),
    (r"ling-|ring-", "inclusionai"),
    (r"palmyra", "writer"),
    (r"mercury", "inception"),
    (r"solar", "upstage"),
    (r"sarvam", "sarvam"),
    (r"trinity", "arcee"),
    (r"longcat", "meituan"),
    (r"fugu", "sakana"),
    (r"reka", "reka"),
    (r"cogito", "deepcogito"),
    (r"kat-", "kwaipilot"),
    (r"morph-", "morph"),
    (r"v0-", "vercel"),
)
_name_regexes: list[tuple[re.Pattern[str], str]] = []


def _regexes() -> list[tuple[re.Pattern[str], str]]:
    """The name patterns compiled on first use (loading the registry never needs them)."""
    if not _name_regexes:
        _name_regexes.extend(
            (re.compile(rf"(?:^|[/._:@-])(?:{pattern})"), vendor) for pattern, vendor in _NAME_PATTERNS
        )
    return _name_regexes

# Bedrock-style ids: optional region prefix, then "<vendor>." (us.anthropic.claude-..., meta.llama3-...).
_DOTTED_PREFIX = re.compile(r"^(?:(?:us|eu|apac|au|ca|jp|global|us-gov)\.)?([a-z0-9-]+)\.")


def canonical_vendor(name: str) -> str | None:
    """The vendor a spelling stands for (``meta-llama`` -> ``meta``), or None."""
    return _VENDOR_ALIASES.get(name.lower())


def split_vendor_prefix(model_id: str) -> tuple[str | None, str]:
    """Splits a leading ``vendor/`` or Bedrock ``vendor.`` off an id when it names a known vendor."""
    lowered = model_id.lower()
    head, sep, rest = lowered.partition("/")
    if sep and canonical_vendor(head):
        return canonical_vendor(head), model_id[len(head) + 1 :]
    match = _DOTTED_PREFIX.match(lowered)
    if match and canonical_vendor(match.group(1)):
        return canonical_vendor(match.group(1)), model_id
    return None, model_id


def detect_vendor(model_id: str, family: str | None = None, provider: str | None = None) -> str | None:
    """The lab behind a model id, from its prefix, name patterns, family or first-party provider."""
    prefixed, _ = split_vendor_prefix(model_id)
    if prefixed:
        return prefixed
    lowered = model_id.lower()
    for regex, vendor in _regexes():
        if regex.search(lowered):
            return vendor
    head, sep, rest = lowered.partition("/")
    if sep and head and "/" not in rest:
        return head  # an "org/model" id names its maker, even one not in the tables
    if family:
        for regex, vendor in _regexes():
            if regex.search(family.lower()):
                return vendor
    if provider:
        return canonical_vendor(provider)
    return None


def martian_path(provider: str, model_id: str, vendor: str | None) -> str:
    """``provider/vendor/model``: the id's own vendor prefix, if any, is not repeated."""
    detected = vendor or detect_vendor(model_id, provider=provider) or "unknown"
    prefixed, bare = split_vendor_prefix(model_id)
    if prefixed == detected and "/" in model_id:
        return f"{provider}/{detected}/{bare}"
    return f"{provider}/{detected}/{model_id}"
