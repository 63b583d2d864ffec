"""Tool-call ids rewritten for the API that will receive them.

Every provider mints tool-call ids in its own shape, and every API checks the ids it
is sent: Anthropic and Bedrock want ``^[A-Za-z0-9_-]{1,64}$``, OpenAI Chat Completions
caps them at 40 characters, OpenAI Responses keeps a ``call_id`` and a function-call
item id (``fc_...``) that alchemy stores joined as ``call|item``, and Mistral accepts
exactly nine alphanumerics. When a conversation moves to another model, the handoff
(:func:`alchemy.transform.transform_messages`) passes each foreign tool-call id through
the target's normalizer and gives the matching tool results the same new id.

A normalizer is a callable ``str -> str`` made fresh for one request by
:func:`tool_call_id_normalizer`. It is deterministic (the same ids in the same order
always give the same results, across processes: hashing is BLAKE2b, never Python's
salted ``hash``) and injective within the request: when two different ids would
come out the same (truncation, the part after ``|`` thrown away, Mistral's short
hash) the later one gets a hash-derived variant instead. Rewriting is idempotent:
an id already in the target's shape comes back unchanged.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable

from ._args import need_instance, need_text
from .types import Model
from .wire_apis import ToolIdFormat, tool_id_format

__all__ = [
    "MISTRAL_TOOL_CALL_ID_LENGTH",
    "ToolCallIdNormalizer",
    "UniqueToolCallIds",
    "anthropic_tool_call_id",
    "keep_tool_call_id",
    "mistral_tool_call_id",
    "openai_completions_tool_call_id",
    "openai_responses_tool_call_id",
    "tool_call_id_normalizer",
]

ToolCallIdNormalizer = Callable[[str], str]
"""Maps a tool-call id from another model to an id the target API accepts."""

IdRule = Callable[[str, int], str]
"""One API's rule: ``(id, attempt) -> id``; attempt 0 is the plain rewrite, later attempts
give distinct hash-derived variants used only to resolve collisions."""

MISTRAL_TOOL_CALL_ID_LENGTH = 9
OPENAI_COMPLETIONS_MAX = 40
OPENAI_RESPONSES_MAX = 64
ANTHROPIC_MAX = 64

_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9_-]")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def stable_hash(seed: str, length: int) -> str:
    """``length`` alphanumeric characters derived from ``seed`` (BLAKE2b, base 62)."""
    digest = hashlib.blake2b(seed.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, remainder = divmod(number, 62)
        chars.append(_BASE62[remainder])
    return "".join(chars)


def _seed(tool_call_id: str, attempt: int) -> str:
    return tool_call_id if attempt == 0 else f"{tool_call_id}:{attempt}"


def _fit(base: str, limit: int, tool_call_id: str, attempt: int, prefix: str) -> str:
    """``base`` cut to ``limit``; a collision attempt (or an empty base) gets a hash suffix."""
    if attempt == 0 and base:
        return base[:limit]
    suffix = stable_hash(_seed(tool_call_id, attempt), 10)
    head = (base or prefix)[: limit - len(suffix) - 1]
    return f"{head}_{suffix}"


def keep_tool_call_id(tool_call_id: str) -> str:
    """The identity normalizer: pass it to keep every id as it is."""
    need_text("keep_tool_call_id()", "tool_call_id", tool_call_id)
    return tool_call_id


def anthropic_tool_call_id(tool_call_id: str, attempt: int = 0) -> str:
    """Anthropic, Bedrock and Gemini: ``[A-Za-z0-9_-]`` only, at most 64 characters."""
    return _fit(_NOT_ID_CHAR.sub("_", tool_call_id), ANTHROPIC_MAX, tool_call_id, attempt, "toolu")


def openai_completions_tool_call_id(tool_call_id: str, attempt: int = 0) -> str:
    """OpenAI Chat Completions: the part before ``|`` (a Responses ``call|item`` id keeps its
    ``call_id``), ``[A-Za-z0-9_-]`` only, at most 40 characters."""
    call_id = tool_call_id.split("|", 1)[0]
    return _fit(_NOT_ID_CHAR.sub("_", call_id), OPENAI_COMPLETIONS_MAX, tool_call_id, attempt, "call")


def openai_responses_tool_call_id(tool_call_id: str, attempt: int = 0) -> str:
    """OpenAI Responses: ``call_id|item_id``, each half ``[A-Za-z0-9_-]`` and at most 64
    characters with no trailing underscores (Codex rejects them); the item id starts with
    ``fc``. An id without ``|`` (from any other provider) becomes a bare ``call_id``."""
    call_part, bar, item_part = tool_call_id.partition("|")
    call_id = _NOT_ID_CHAR.sub("_", call_part)[:OPENAI_RESPONSES_MAX].rstrip("_")
    call_id = _fit(call_id, OPENAI_RESPONSES_MAX, tool_call_id, attempt, "call")
    item_id = _NOT_ID_CHAR.sub("_", item_part.split("|", 1)[0])
    if not bar or not item_id.strip("_"):
        return call_id
    if not item_id.startswith("fc"):
        item_id = f"fc_{item_id}"
    return f"{call_id}|{item_id[:OPENAI_RESPONSES_MAX].rstrip('_')}"


def mistral_tool_call_id(tool_call_id: str, attempt: int = 0) -> str:
    """Mistral: exactly nine alphanumerics. An id that is nine alphanumerics once other
    characters are removed is kept; any other becomes a stable hash of it."""
    alnum = _NOT_ALNUM.sub("", tool_call_id)
    if attempt == 0 and len(alnum) == MISTRAL_TOOL_CALL_ID_LENGTH:
        return alnum
    return stable_hash(_seed(alnum or tool_call_id, attempt), MISTRAL_TOOL_CALL_ID_LENGTH)


class UniqueToolCallIds:
    """A normalizer for one request: applies ``rule`` and keeps the mapping one-to-one.

    The same id always maps to the same result; a different id that would map to a
    result already taken is retried with attempt 1, 2, ... until it gets a free one.
    """

    __slots__ = ("_rule", "_forward", "_owner")

    def __init__(self, rule: IdRule) -> None:
        self._rule = rule
        self._forward: dict[str, str] = {}
        self._owner: dict[str, str] = {}

    def __call__(self, tool_call_id: str) -> str:
        known = self._forward.get(tool_call_id)
        if known is not None:
            return known
        attempt = 0
        while True:
            candidate = self._rule(tool_call_id, attempt)
            owner = self._owner.get(candidate)
            if owner is None or owner == tool_call_id:
                self._forward[tool_call_id] = candidate
                self._owner[candidate] = tool_call_id
                return candidate
            attempt += 1

    @property
    def mapping(self) -> dict[str, str]:
        """Every id seen so far and what it became (a copy)."""
        return dict(self._forward)


_RULES_BY_FORMAT: dict[ToolIdFormat, IdRule] = {
    "openai-completions": openai_completions_tool_call_id,
    "openai-responses": openai_responses_tool_call_id,
    "anthropic": anthropic_tool_call_id,
    "mistral": mistral_tool_call_id,
}
"""The rule of each id format; which API takes which format is in :mod:`alchemy.wire_apis`."""


def tool_call_id_rule(model: Model) -> IdRule | None:
    """The id rule of ``model``'s API (Mistral's for any ``mistral`` provider model, whatever
    its API), or ``None`` for an API alchemy does not know, whose ids are left alone."""
    if model.provider == "mistral":
        return mistral_tool_call_id
    id_format = tool_id_format(model.api)
    return None if id_format is None else _RULES_BY_FORMAT[id_format]


def tool_call_id_normalizer(model: Model) -> ToolCallIdNormalizer | None:
    """A fresh normalizer for one request to ``model``, or ``None`` to keep ids unchanged."""
    need_instance("tool_call_id_normalizer()", "model", model, Model)
    rule = tool_call_id_rule(model)
    return None if rule is None else UniqueToolCallIds(rule)
