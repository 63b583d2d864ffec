"""MkDocs hooks: the generated parts of the pages, rendered from alchemy's own declarations.

A page asks for a generated part with a comment on a line of its own::

    <!-- generate: options-table -->
    <!-- generate: api-options anthropic-messages -->
    <!-- include: CHANGELOG.md -->

and :func:`on_page_markdown` replaces it with Markdown made by the same functions
that make the README's tables (the option table, the reasoning table, the
environment table), or read from the same declarations (the wire-API table, the
error kinds, the model registry). So the site cannot say something the code does
not. An unknown name, or a file that does not exist, fails the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

REPO = Path(__file__).resolve().parent.parent

_MARKER = re.compile(r"^<!-- (?P<verb>generate|include): (?P<what>\S+)(?P<args>(?: \S+)*) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fills every ``<!-- generate: ... -->`` and ``<!-- include: ... -->`` line of a page."""

    def fill(match: re.Match[str]) -> str:
        where = f"{page.file.src_path}: {match.group(0)}"
        if match["verb"] == "include":
            return include(match["what"], where, *match["args"].split())
        generator = GENERATORS.get(match["what"])
        if generator is None:
            raise PluginError(f"{where}: no generator named {match['what']!r}; known: {', '.join(GENERATORS)}")
        return generator(*match["args"].split())

    return _MARKER.sub(fill, markdown)


def include(path: str, where: str, section: str | None = None) -> str:
    """The text of a repository file (the changelog, the benchmark tables), as it is in the repository.

    With ``section`` (a heading's slug, ``summary-the-targets`` for ``## Summary: the targets``),
    only that heading and what follows it up to the next heading of the same or a higher level.
    """
    file = REPO / path
    if not file.is_file():
        raise PluginError(f"{where}: {path} does not exist in the repository")
    text = file.read_text(encoding="utf-8")
    if section is None:
        return text
    lines = text.split("\n")
    headings = _headings(lines)
    for n, (start, level, slug) in enumerate(headings):
        if slug == section:
            end = next((i for i, lvl, _ in headings[n + 1 :] if lvl <= level), len(lines))
            return "\n".join(lines[start:end]) + "\n"
    known = ", ".join(slug for _, _, slug in headings)
    raise PluginError(f"{where}: {path} has no section {section!r}; its sections: {known}")


_HEADING = re.compile(r"^(#{1,6}) +(.*?) *#*$")


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """``(line index, level, slug)`` of every Markdown heading outside fenced code blocks."""
    found = []
    fenced = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            found.append((i, len(match[1]), _slug(match[2])))
    return found


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


# --------------------------------------------------------------------------- generators


def options_table() -> str:
    """Every option, as the README shows it."""
    from alchemy.options._render import render_readme_table

    return render_readme_table()


def reasoning_table() -> str:
    """What each reasoning level sends to each model family."""
    from alchemy.model_facts import reasoning_table as table

    return table()


def config_table() -> str:
    """Every ``ALCHEMY_*`` environment variable."""
    from alchemy.config import markdown_table

    return markdown_table()


def error_kinds() -> str:
    """Every error kind with its exception and whether a retry may help by default."""
    from alchemy.errors import ERROR_KINDS

    lines = ["| kind | exception | retryable by default | meaning |", "|---|---|---|---|"]
    for kind, spec in ERROR_KINDS.items():
        exception = f"[`{spec.exception.__name__}`][alchemy.{spec.exception.__name__}]"
        lines.append(f"| `{kind}` | {exception} | {'yes' if spec.retryable else 'no'} | {spec.meaning} |")
    return "\n".join(lines) + "\n"


def events_table() -> str:
    """Every event class: its ``type`` string, its fields and its docstring's first sentence."""
    import typing

    from alchemy import events

    classes = [*typing.get_args(events.AssistantMessageEvent), events.ToolResult]
    lines = ["| `event.type` | class | fields | |", "|---|---|---|---|"]
    for cls in classes:
        fields = ", ".join(f"`{name}`" for name in cls.__match_args__)
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        doc = re.sub(r":\w+:`~?(?:[\w.]*\.)?(\w+)`", r"`\1`", doc) or _undocumented_event(cls.type)
        lines.append(f"| `{cls.type}` | [`{cls.__name__}`][alchemy.{cls.__name__}] | {fields} | {doc} |")
    return "\n".join(lines) + "\n"


def server_tools_table() -> str:
    """Each server tool class: the wire APIs that offer it, and each setting with the APIs that carry it."""
    import dataclasses

    from alchemy.server_tools import FIELD_APIS, SERVER_TOOL_APIS, SERVER_TOOL_CLASSES

    lines = ["| tool | offered by | settings (carried by) |", "|---|---|---|"]
    for cls in SERVER_TOOL_CLASSES:
        apis = SERVER_TOOL_APIS[cls.kind]
        settings = []
        for name in (f.name for f in dataclasses.fields(cls)):  # type: ignore[arg-type]
            carriers = FIELD_APIS[(cls.kind, name)]
            where = "all" if carriers is None or carriers == apis else ", ".join(f"`{a}`" for a in sorted(carriers))
            settings.append(f"`{name}` ({where})")
        offered = ", ".join(f"`{api}`" for api in sorted(apis))
        lines.append(f"| [`{cls.__name__}`][alchemy.{cls.__name__}] | {offered} | {'; '.join(settings)} |")
    return "\n".join(lines) + "\n"


def _undocumented_event(event_type: str) -> str:
    """What a block event without a docstring says, from its ``type`` (``text_delta``: a text block grew)."""
    block, _, step = event_type.partition("_")
    block = {"toolcall": "tool-call", "servertool": "server tool"}.get(block, block)
    return {"start": f"A {block} block opened.", "delta": f"``delta`` is what the {block} block grew by."}[step]


def wire_apis() -> str:
    """One row per built-in wire API, linking to its page."""
    from alchemy.wire_apis import WIRE_APIS

    lines = ["| wire API (`model.api`) | service | framing | request path |", "|---|---|---|---|"]
    for api in WIRE_APIS.values():
        lines.append(f"| [`{api.name}`]({api.name}.md) | {api.label} | {_FRAMING[api.framing]} | `{api.path}` |")
    return "\n".join(lines) + "\n"


_FRAMING = {"sse": "server-sent events", "aws-eventstream": "AWS event stream (binary)"}
_CREDENTIALS = {
    "api-key": "an API key, always: a missing key raises `MissingApiKeyError` at the call",
    "api-key-or-local": "an API key, except for a server on this machine (a loopback base URL)",
    "api-key-or-chain": (
        "an API key, or a credential chain resolved when the request is sent (a failure ends the stream "
        "with an `auth` error)"
    ),
}


def api_facts(name: str) -> str:
    """The wire-API table's row for one API, in words."""
    api = _wire_api(name)
    shares = "its own" if api.wire_format == api.name else f"those of [`{api.wire_format}`]({api.wire_format}.md)"
    rows = [
        ("errors name the service", api.label),
        ("request", f"`POST {{base_url}}{api.path}`"),
        ("response framing", _FRAMING[api.framing]),
        ("request body and stream", shares),
        ("authentication", _CREDENTIALS[api.credentials]),
        ("tool-call ids", f"`{api.tool_id_format}` format (other models' ids are rewritten to it)"),
    ]
    lines = [f"| `model.api` | `{api.name}` |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)]
    return "\n".join(lines) + "\n"


def api_options(name: str) -> str:
    """The options one wire API carries, with what it accepts for each."""
    from alchemy.options import OPTIONS, carried_options

    api = _wire_api(name)
    carried = carried_options(api.name)
    lines = ["| option | accepts | what it does |", "|---|---|---|"]
    for option in OPTIONS:
        if option.name in carried and option.apis is not None and option.apis != _builtin():
            lines.append(f"| `{option.name}` | {option.kind_for(api.name).describe()} | {option.doc} |")
    every = sorted(o.name for o in OPTIONS if o.name in carried and (o.apis is None or o.apis == _builtin()))
    shared = ", ".join(f"`{n}`" for n in every)
    intro = f"Every call option that all built-in APIs take works here too: {shared} (see [Options](../guides/options.md))."
    if len(lines) == 2:
        return intro + " This API carries no other option.\n"
    return intro + " On top of those, this API carries:\n\n" + "\n".join(lines) + "\n"


def api_refused(name: str) -> str:
    """The options a call to this API refuses, and the APIs that carry each."""
    from alchemy.options import OPTIONS, carried_options, carrying_apis

    carried = carried_options(_wire_api(name).name)
    refused = [option for option in OPTIONS if option.name not in carried]
    if not refused:
        return "Every declared option is carried by this API.\n"
    lines = ["| option | carried by |", "|---|---|"]
    for option in refused:
        apis = ", ".join(f"[`{api}`]({api}.md)" for api in carrying_apis(option.name))
        lines.append(f"| `{option.name}` | {apis} |")
    return "\n".join(lines) + "\n"


def api_providers(name: str) -> str:
    """The providers of the bundled model registry whose models speak this API, with their key variables."""
    from alchemy.models import get_provider, get_providers

    api = _wire_api(name)
    rows = []
    for provider_id in get_providers():
        info = get_provider(provider_id)
        if info.api == api.name:
            keys = ", ".join(f"`{variable}`" for variable in info.env)
            chain = _CHAINS.get(info.auth or "", "")
            rows.append(f"| `{info.id}` | {info.name} | {' or '.join(filter(None, [keys, chain])) or 'none'} |")
    if not rows:
        return "No provider of the bundled registry uses this API by default.\n"
    table = ["| provider | name | key |", "|---|---|---|", *rows]
    if len(rows) <= _OPEN_TABLE_ROWS:
        return "\n".join(table) + "\n"
    title = f"The {len(rows)} providers of the bundled registry that use this API"
    return f'??? info "{title}"\n\n' + "".join(f"    {line}\n" for line in table)


_CHAINS = {"aws": "the AWS credential chain", "gcp": "Application Default Credentials"}
_OPEN_TABLE_ROWS = 12


def cli_help(*command: str) -> str:
    """``alchemy [command] --help`` as the CLI prints it (wrapped at 88 columns, whatever the terminal)."""
    import os

    from alchemy.cli import build_parser

    parser = build_parser()
    for name in command:
        parser = _subparser(parser, name)
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        text = parser.format_help()
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "```text\n" + text + "```\n"


def cli_exit_codes() -> str:
    """The exit code ``alchemy chat`` and ``alchemy demo`` end with for each error kind."""
    from alchemy.cli import EXIT_CODES

    lines = ["| error kind | exit code |", "|---|---|"]
    lines += [f"| `{kind}` | {code} |" for kind, code in EXIT_CODES.items()]
    return "\n".join(lines) + "\n"


def _subparser(parser: Any, name: str) -> Any:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            return action.choices[name]
    raise PluginError(f"alchemy has no command {name!r}")


def _wire_api(name: str) -> Any:
    from alchemy.wire_apis import WIRE_APIS

    try:
        return WIRE_APIS[name]
    except KeyError:
        raise PluginError(f"no wire API named {name!r}; known: {', '.join(WIRE_APIS)}") from None


def _builtin() -> frozenset[str]:
    from alchemy.options import BUILTIN_APIS

    return BUILTIN_APIS


GENERATORS: dict[str, Callable[..., str]] = {
    "options-table": options_table,
    "reasoning-table": reasoning_table,
    "config-table": config_table,
    "error-kinds": error_kinds,
    "events-table": events_table,
    "server-tools-table": server_tools_table,
    "wire-apis": wire_apis,
    "api-facts": api_facts,
    "api-options": api_options,
    "api-refused": api_refused,
    "api-providers": api_providers,
    "cli-help": cli_help,
    "cli-exit-codes": cli_exit_codes,
}
"""Each ``<!-- generate: NAME args -->`` name and the function that renders it."""
