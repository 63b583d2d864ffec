"""Text made from the option table: the README's option table and the typed keyword dicts.

Both are generated, never written by hand: ``python -m alchemy.options readme`` prints
the table, ``python -m alchemy.options typed > alchemy/options/_typed.py`` writes the
TypedDicts, and the tests fail when either file differs from what this module renders.
"""

from __future__ import annotations

from ._table import BUILTIN_APIS, OPTIONS, Option, carried_options

__all__ = ["TYPED_DICT_NAMES", "render_readme_table", "render_typed_module"]

TYPED_DICT_NAMES: dict[str, str] = {
    "openai-completions": "OpenAICompletionsOptions",
    "openai-responses": "OpenAIResponsesOptions",
    "azure-openai-responses": "AzureOpenAIResponsesOptions",
    "anthropic-messages": "AnthropicMessagesOptions",
    "bedrock-converse-stream": "BedrockConverseStreamOptions",
    "google-generative-ai": "GoogleGenerativeAIOptions",
    "google-vertex": "GoogleVertexOptions",
    "mistral-conversations": "MistralConversationsOptions",
    "cohere-chat": "CohereChatOptions",
}
"""The TypedDict of each built-in wire API's options."""

_GROUP_TITLES = {
    "call": "every call",
    "reasoning": "every call",
    "transport": "transport",
    "request": "request",
    "provider": "one API",
}


def _apis(option: Option) -> str:
    if option.apis is None:
        return "all"
    if option.apis == BUILTIN_APIS:
        return "all built-in"
    return ", ".join(sorted(option.apis))


def _default(option: Option) -> str:
    parts = []
    if option.shown_default:
        parts.append(f"`{option.shown_default}`")
    if option.env is not None:
        parts.append(f"`{option.env.name}`")
    return " / ".join(parts)


def render_readme_table() -> str:
    """The markdown table of every option (the README embeds it between two markers)."""
    lines = ["| option | accepts | default / env | APIs | what it does |", "|---|---|---|---|---|"]
    for option in OPTIONS:
        lines.append(
            f"| `{option.name}` | {option.kind.describe()} | {_default(option)} | {_apis(option)} | {option.doc} |"
        )
    return "\n".join(lines) + "\n"


def _typed_dict(name: str, options: list[Option], doc: str) -> list[str]:
    lines = [f"class {name}(TypedDict, total=False):", f'    """{doc}"""', ""]
    for option in options:
        lines.append(f"    {option.name}: {option.kind.hint()} | None")
    return [*lines, "", ""]


def render_typed_module() -> str:
    """The source of :mod:`alchemy.options._typed`."""
    out = [
        '"""Typed keyword options per wire API, generated from the option table (do not edit).',
        "",
        "Regenerate with ``python -m alchemy.options typed > alchemy/options/_typed.py``. Use them",
        "with ``Unpack`` to have a type checker check option names and types::",
        "",
        "    def ask(**options: Unpack[AnthropicMessagesOptions]) -> None: ...",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Callable, Mapping, Sequence",
        "from typing import TYPE_CHECKING, Any, Literal, TypedDict",
        "",
        "if TYPE_CHECKING:",
        "    import httpx",
        "",
        "    from ..abort import AbortSignal",
        "    from ..server_tools import ServerTool",
        "",
        "__all__ = [",
        '    "CallOptions",',
        *[f'    "{name}",' for name in sorted(TYPED_DICT_NAMES.values())],
        "]",
        "",
        "",
    ]
    out += _typed_dict("CallOptions", list(OPTIONS), "Every option of any wire API (what ``stream(**options)`` takes).")
    for api, name in TYPED_DICT_NAMES.items():
        carried = carried_options(api)
        out += _typed_dict(name, [o for o in OPTIONS if o.name in carried], f"The options of ``{api}``.")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
