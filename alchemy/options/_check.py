"""Checking the keyword options of one call against their declarations, before any I/O."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._stream_options import StreamOptions
from ._table import OPTIONS_BY_NAME, carried_options, carrying_apis

if TYPE_CHECKING:
    from ..api_registry import ApiProvider
    from ..types import Context, Model

__all__ = ["accepted_options", "check_named_tool", "check_options"]


def accepted_options(api: str, provider: ApiProvider) -> frozenset[str]:
    """Every option name a call to ``api`` accepts: the declared ones it carries and the provider's own."""
    return carried_options(api) | frozenset(provider.option_names)


def _unknown(function: str, model: Model, provider: ApiProvider, name: str) -> TypeError:
    accepted = sorted(accepted_options(model.api, provider))
    close = difflib.get_close_matches(name, accepted, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; accepted: {', '.join(accepted)}"
    return TypeError(f"{function}() got an unexpected option {name!r} for api {model.api!r}{hint}")


def _not_carried(function: str, model: Model, name: str) -> TypeError:
    carriers = carrying_apis(name)
    hint = ""
    if "openai-completions" in carriers:
        # Verified end to end against the replay server (tests/providers/test_openai_responses_e2e.py).
        if model.api == "openai-responses":
            hint = (
                "; the same model speaks Chat Completions, which has it: pass "
                "dataclasses.replace(model, api='openai-completions') (same base URL and key)"
            )
        elif model.api == "azure-openai-responses":
            hint = (
                "; Azure OpenAI serves Chat Completions on the same v1 endpoint: pass "
                "dataclasses.replace(model, api='openai-completions', "
                "base_url='https://<resource>.openai.azure.com/openai/v1') with the deployment name as id"
            )
    return TypeError(
        f"{function}() option {name!r} cannot be sent to api {model.api!r} (model {model.key}): "
        f"that API has no such parameter; APIs that carry it: {', '.join(carriers)}{hint}"
    )


def check_options(function: str, model: Model, provider: ApiProvider, options: Mapping[str, Any]) -> StreamOptions:
    """The checked :class:`StreamOptions` of one call, or ``TypeError`` / ``ValueError`` naming the option.

    An unknown name, a wrong type, a value out of range, an option the model's wire API
    cannot carry, or a value the model cannot honour all raise here. ``None`` values
    count as not given. Options of a custom provider that the table does not declare
    (its ``option_names``) pass through to ``provider_options`` unchecked.
    """
    api = model.api
    result = StreamOptions()
    own_names: frozenset[str] | None = None
    for name, value in options.items():
        if value is None:
            continue
        option = OPTIONS_BY_NAME.get(name)
        if option is None:
            if own_names is None:
                own_names = provider.option_names
            if name not in own_names:
                raise _unknown(function, model, provider, name)
            result.provider_options[name] = value
            continue
        apis = option.apis
        if apis is not None and api not in apis:
            if own_names is None:
                own_names = provider.option_names
            if name not in own_names:
                raise _not_carried(function, model, name)
        checked = option.kind_for(api).check(name, value)
        if option.model_check is not None:
            option.model_check(model, checked)
        if option.group == "provider":
            result.provider_options[name] = checked
        else:
            setattr(result, name, checked)
    return result


def check_named_tool(options: StreamOptions, context: Context) -> None:
    """A ``tool_choice`` that forces a call needs tools; one that names a tool must name one of them."""
    choice = options.tool_choice
    if choice == "required" and not context.tools:
        raise ValueError("option tool_choice 'required' needs tools, and the context has none")
    if not isinstance(choice, dict):
        return
    known = [tool.name for tool in context.tools or ()]
    if choice["name"] not in known:
        listed = ", ".join(map(repr, known)) if known else "none (the context has no tools)"
        raise ValueError(f"option tool_choice names tool {choice['name']!r}, which is not in the context's tools: {listed}")
