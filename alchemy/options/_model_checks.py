"""The checks of the option table that need provider or model knowledge.

They are imported on first use (the table names them), so declaring the options
imports no provider module; each raises ``TypeError`` / ``ValueError`` naming the
option, as the kinds do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._kinds import fail_type, fail_value

if TYPE_CHECKING:
    from ..types import Model

__all__ = ["anthropic_effort", "compat", "credentials", "metadata", "server_tools", "top_k"]


def compat(name: str, value: object) -> dict[str, Any]:
    """Compat flags of :mod:`alchemy.providers.openai_compat`, checked there."""
    from ..providers.openai_compat import check_compat

    if not isinstance(value, Mapping):
        raise fail_type(name, "a mapping of compat flags", value)
    return check_compat(value, f"option {name}")


def credentials(name: str, value: object) -> Any:
    """A google-auth credentials object (anything that can refresh and apply a token)."""
    if not (callable(getattr(value, "refresh", None)) and hasattr(value, "token")):
        raise fail_type(name, "a google-auth credentials object", value)
    return value


def server_tools(model: Model, value: list[Any]) -> None:
    """Each server tool, and each of its settings, must be offered by the model's wire API."""
    from ..server_tools import server_tools_for

    server_tools_for(model.api, value)


def metadata(model: Model, value: dict[str, Any]) -> None:
    """Anthropic takes only ``user_id``; Bedrock and Vertex take strings only."""
    api = model.api
    if api == "anthropic-messages":
        extra = sorted(set(value) - {"user_id"})
        if extra:
            raise ValueError(f"option metadata for api {api!r} takes only 'user_id', got {', '.join(extra)}")
        if "user_id" in value and not isinstance(value["user_id"], str):
            raise fail_type("metadata['user_id']", "a string", value["user_id"])
    elif api in ("bedrock-converse-stream", "google-vertex", "openai-completions", "openai-responses",
                 "azure-openai-responses"):
        for key, item in value.items():
            if not isinstance(item, str):
                raise fail_type(f"metadata[{key!r}]", f"a string (api {api!r} takes string values)", item)


def top_k(model: Model, value: int) -> None:
    """OpenAI's own Chat Completions has no ``top_k``; on Bedrock only Claude takes it."""
    if model.api == "openai-completions":
        from ..providers.openai_compat import is_openai_host

        if model.provider == "openai" or is_openai_host(model.base_url):
            raise ValueError(
                f"option top_k cannot be sent to OpenAI (model {model.provider}/{model.id}): its Chat Completions "
                "API has no top_k; servers such as vLLM, Ollama, OpenRouter and Groq take it"
            )
    elif model.api == "bedrock-converse-stream":
        from ..model_facts import is_claude

        if not is_claude(model):
            raise ValueError(f"option top_k is taken by Claude models on Bedrock only, not {model.id!r}")


def anthropic_effort(model: Model, value: str) -> None:
    """An effort the model's registry entry does not list is refused."""
    for option in model.reasoning_options:
        if option.get("type") == "effort":
            listed = option.get("values")
            if isinstance(listed, list) and value not in listed:
                raise fail_value("effort", f"one of {', '.join(map(repr, listed))} for model {model.key}", value)
