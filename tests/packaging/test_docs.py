"""The documentation site (docs/, mkdocs.yml): complete, and buildable with no warning.

Every public name of ``alchemy`` must have its own entry in the API reference, and
``mkdocs build --strict`` must pass: no broken link, no missing cross-reference, no
generated table that fails to render. The build needs the ``docs`` extra
(``pip install -e '.[docs]'``); without it that test is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest

import alchemy
from support import ROOT as REPO

DOCS = REPO / "docs"
REFERENCE = DOCS / "reference"
DIRECTIVE = re.compile(r"^::: (?P<identifier>[\w.]+)\s*$", re.MULTILINE)

needs_docs = pytest.mark.skipif(
    not (REPO / "mkdocs.yml").is_file(), reason="the documentation sources (docs/, mkdocs.yml) are not in this tree"
)


def reference_directives() -> set[str]:
    """Every ``::: identifier`` of the API reference pages."""
    found: set[str] = set()
    for page in REFERENCE.glob("*.md"):
        found.update(match["identifier"] for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")))
    return found


@needs_docs
def test_every_public_name_has_an_entry_in_the_api_reference() -> None:
    directives = reference_directives()
    missing = [name for name in alchemy.__all__ if f"alchemy.{name}" not in directives]
    assert not missing, f"add '::: alchemy.NAME' to a page of docs/reference/ for: {', '.join(missing)}"


def _mkdocs_missing() -> str | None:
    """Why the site cannot be built here, or ``None`` when it can."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            return f"{module} is not installed (pip install -e '.[docs]' to build the documentation site)"
    return None


def inventory_names(site: Path) -> set[str]:
    """The object names in the site's ``objects.inv`` (Sphinx inventory v2, written by mkdocstrings)."""
    data = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four text lines, then the zlib body
        header_end = data.index(b"\n", header_end) + 1
    body = zlib.decompress(data[header_end:]).decode("utf-8")
    return {line.split(" ", 1)[0] for line in body.splitlines() if line}


@needs_docs
def test_the_site_builds_strict_and_documents_every_public_name(tmp_path: Path) -> None:
    reason = _mkdocs_missing()
    if reason:
        pytest.skip(reason)
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.pop("ALCHEMY_BASE_URL_OVERRIDE", None)  # generated pages read the registry as shipped
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout}\n{build.stderr}"
    documented = inventory_names(site)
    missing = [name for name in alchemy.__all__ if f"alchemy.{name}" not in documented]
    assert not missing, f"in the reference pages but not rendered: {', '.join(missing)}"
    for page in ("wire-apis/anthropic-messages", "guides/options", "guides/reasoning", "guides/configuration"):
        html = (site / page / "index.html").read_text(encoding="utf-8")
        assert "<!-- generate:" not in html and "<table>" in html, f"{page}: its generated table is missing"


def load_rst_docstrings() -> ModuleType:
    """docs/rst_docstrings.py, the griffe extension (it needs griffe, from the docs extra)."""
    pytest.importorskip("griffe", reason="griffe is not installed (pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("rst_docstrings", DOCS / "rst_docstrings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_docs
def test_rest_roles_become_optional_cross_references() -> None:
    rewrite = load_rst_docstrings().rewrite
    text = rewrite("See :class:`~alchemy.types.Context` and :func:`alchemy.stream`.")
    assert text == (
        'See <autoref identifier="alchemy.types.Context" optional><code>Context</code></autoref> and '
        '<autoref identifier="alchemy.stream" optional><code>alchemy.stream</code></autoref>.'
    )
    assert rewrite("Use it like this::\n\n    x = 1") == "Use it like this:\n\n    x = 1"


@needs_docs
def test_rest_simple_tables_become_markdown_tables() -> None:
    rewrite = load_rst_docstrings().rewrite
    table = "\n".join(
        [
            "Faults:",
            "",
            "=========  =====================",
            "fault      what the client sees",
            "=========  =====================",
            "``Drop``   the connection closes",
            "           after N events",
            "``a |b``   a pipe",
            "=========  =====================",
        ]
    )
    assert rewrite(table).split("\n") == [
        "Faults:",
        "",
        "",
        "| fault | what the client sees |",
        "|---|---|",
        "| ``Drop`` | the connection closes after N events |",
        "| ``a \\|b`` | a pipe |",
        "",
    ]


@needs_docs
def test_rest_definitions_become_a_bold_term_and_its_paragraph() -> None:
    rewrite = load_rst_docstrings().rewrite
    text = "Intro.\n\nRequest\n    ``x-api-key`` for keys;\n    bearer for tokens.\n\nAfter."
    assert rewrite(text) == "Intro.\n\n**Request**\n\n``x-api-key`` for keys;\nbearer for tokens.\n\nAfter."
    example = "Use it::\n\n    with provider:\n        ..."
    assert rewrite(example) == "Use it:\n\n    with provider:\n        ..."


@needs_docs
def test_every_wire_api_has_its_page_in_the_site() -> None:
    from alchemy.wire_apis import WIRE_APIS

    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [api for api in WIRE_APIS if not (DOCS / "wire-apis" / f"{api}.md").is_file()]
    assert not missing, f"write docs/wire-apis/NAME.md (see the others) for: {', '.join(missing)}"
    unlisted = [api for api in WIRE_APIS if f"wire-apis/{api}.md" not in nav]
    assert not unlisted, f"list these pages in the nav of mkdocs.yml: {', '.join(unlisted)}"
