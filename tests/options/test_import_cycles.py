"""No import circles: every module imports on its own, and the load-time import graph has no cycle.

Two checks over every module of the package (found with :mod:`pkgutil`):

* each one is imported alone in a fresh interpreter, so no module works only
  because another one happened to be imported first;
* the graph of load-time imports between alchemy's modules, read from the source
  with :mod:`ast`, has no cycle. Load-time means the statements that run on import:
  module level, class bodies, ``try``/``if`` blocks, but not function bodies (lazy
  imports) and not ``if TYPE_CHECKING:`` blocks (read by type checkers only).
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import alchemy

PACKAGE = "alchemy"
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


@cache
def package_modules() -> tuple[str, ...]:
    """Every module and package of alchemy, the package itself first."""
    found = [info.name for info in pkgutil.walk_packages(alchemy.__path__, prefix=f"{PACKAGE}.")]
    return (PACKAGE, *sorted(found))


@cache
def source_files() -> dict[str, tuple[Path, bool]]:
    """Module name -> (its ``.py`` file, whether it is a package); compiled-only modules left out."""
    files: dict[str, tuple[Path, bool]] = {}
    for name in package_modules():
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        if spec.origin.endswith(".py"):
            files[name] = (Path(spec.origin), spec.submodule_search_locations is not None)
    return files


# --------------------------------------------------------------------------- each module alone


@pytest.mark.parametrize("module", package_modules())
def test_every_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        missing = _MISSING_MODULE.search(result.stderr)
        if missing is not None and not missing.group(1).startswith(PACKAGE):
            pytest.skip(f"{module} needs the optional package {missing.group(1)}")
    assert result.returncode == 0, f"`import {module}` failed on its own:\n{result.stderr}"


# --------------------------------------------------------------------------- the load-time graph


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def load_time_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when a module is imported (see the module docstring)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from load_time_imports(node.body)
            yield from load_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(handler.body for handler in node.handlers), node.orelse, node.finalbody):
                yield from load_time_imports(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from load_time_imports(node.body)


def imported_modules(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The alchemy modules one import statement loads (itself excluded)."""
    known = source_files().keys() | set(package_modules())
    if isinstance(node, ast.Import):
        targets = {alias.name for alias in node.names}
    else:
        if node.level:
            package = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        submodules = {f"{base}.{alias.name}" for alias in node.names} & known
        # ``from pkg import sub`` loads ``pkg.sub``; ``from mod import name`` needs ``mod`` itself.
        attributes = [alias for alias in node.names if f"{base}.{alias.name}" not in known]
        targets = submodules | ({base} if attributes else set())
    return {target for target in targets if target in known and target != module}


@cache
def import_graph() -> dict[str, set[str]]:
    """Module -> the alchemy modules it imports at load time."""
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in source_files().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in load_time_imports(tree.body):
            edges |= imported_modules(module, is_package, node)
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per group of modules that import each other (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_within(graph, group) for group in groups]


def _cycle_within(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest way from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle in {sorted(group)}")  # a strongly connected group always has one


def test_the_load_time_import_graph_has_no_cycle() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_graph_reader_sees_what_it_must() -> None:
    """The checker itself: real edges found, lazy and type-only imports left out, cycles named."""
    graph = import_graph()
    assert "alchemy.providers._runner" in graph["alchemy.providers.base"]  # module level
    assert "alchemy.providers.base" not in graph["alchemy.providers._runner"]  # under TYPE_CHECKING only
    assert "alchemy.wire_apis" in graph["alchemy.api_registry"]
    assert "alchemy.wire_apis" in graph["alchemy.cli"]  # ``from . import wire_apis``
    assert "alchemy" not in graph["alchemy.cli"]
    source = "import os\nif TYPE_CHECKING:\n    from . import b\ndef f():\n    from . import c\nclass K:\n    from . import d\n"
    nodes = list(load_time_imports(ast.parse(source).body))
    assert [type(node).__name__ for node in nodes] == ["Import", "ImportFrom"] and nodes[1].lineno == 7
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
