"""The twin machinery: which twins load, the ALCHEMY_PURE_PYTHON switch, import hygiene."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

import alchemy
import alchemy._speedups as speedups

SPEEDUPS_DIR = Path(speedups.__file__).resolve().parent
PACKAGE_DIR = SPEEDUPS_DIR.parent


def _kernels() -> list[str]:
    """Every kernel, named after its pure twin ``_<kernel>_py.py``."""
    return sorted(path.name[1 : -len("_py.py")] for path in SPEEDUPS_DIR.glob("_*_py.py"))


def _compiled_twins_installed() -> bool:
    return all(importlib.util.find_spec(f"alchemy._speedups._{kernel}_c") is not None for kernel in _kernels())


def _exported_kernel_objects(module: ModuleType) -> dict[str, object]:
    """The names of ``__all__`` that come from a twin module (classes and functions)."""
    return {
        name: getattr(module, name)
        for name in module.__all__
        if str(getattr(getattr(module, name), "__module__", "")).startswith("alchemy._speedups._")
    }


@pytest.mark.skipif(speedups.PURE_PYTHON_REQUESTED, reason="ALCHEMY_PURE_PYTHON asks for the pure twins")
def test_compiled_twins_really_loaded() -> None:
    """A broken wheel must not ship the slow path silently."""
    assert speedups.COMPILED_IMPORT_ERROR is None, speedups.COMPILED_IMPORT_ERROR
    assert speedups.IMPLEMENTATION == "cython"
    assert alchemy.IMPLEMENTATION == "cython"
    exported = _exported_kernel_objects(speedups)
    assert "SSEDecoder" in exported and "ServerSentEvent" in exported
    for name, obj in exported.items():
        module_name = getattr(obj, "__module__", "")
        assert module_name.endswith("_c"), f"{name} comes from {module_name}"
        module = sys.modules[module_name]
        assert module.__file__ is not None and not module.__file__.endswith(".py"), module.__file__


def test_every_kernel_has_both_twins() -> None:
    for kernel in _kernels():
        assert (SPEEDUPS_DIR / f"_{kernel}_py.py").is_file()
        compiled_source = (SPEEDUPS_DIR / f"_{kernel}_c.pyx").is_file()
        compiled_module = importlib.util.find_spec(f"alchemy._speedups._{kernel}_c") is not None
        assert compiled_source or compiled_module, f"kernel {kernel!r} has no compiled twin"


def test_sse_public_names() -> None:
    import alchemy.sse

    assert alchemy.sse.SSEDecoder is speedups.SSEDecoder
    assert alchemy.sse.ServerSentEvent is speedups.ServerSentEvent
    assert alchemy.sse.SSEError is alchemy.SSEError


# --- the ALCHEMY_PURE_PYTHON switch, by re-importing the dispatcher ---------------------------


def _reimport_speedups(monkeypatch: pytest.MonkeyPatch, value: str | None) -> ModuleType:
    """Imports a fresh copy of the dispatcher with the variable set (or unset).

    monkeypatch restores ``sys.modules`` and the ``alchemy._speedups`` attribute
    afterwards, so the rest of the session keeps the original module.
    """
    if value is None:
        monkeypatch.delenv("ALCHEMY_PURE_PYTHON", raising=False)
    else:
        monkeypatch.setenv("ALCHEMY_PURE_PYTHON", value)
    monkeypatch.setattr(alchemy, "_speedups", speedups)
    monkeypatch.delitem(sys.modules, "alchemy._speedups")
    return importlib.import_module("alchemy._speedups")


@pytest.mark.parametrize("value", ["1", "true", "YES", "True", " yes "])
def test_pure_mode_values(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    fresh = _reimport_speedups(monkeypatch, value)
    assert fresh.PURE_PYTHON_REQUESTED is True
    assert fresh.IMPLEMENTATION == "python"
    for name, obj in _exported_kernel_objects(fresh).items():
        assert getattr(obj, "__module__", "").endswith("_py"), name
    assert fresh.SSEDecoder.__module__ == "alchemy._speedups._sse_py"


@pytest.mark.parametrize("value", ["0", "", None], ids=["0", "empty", "unset"])
def test_default_mode_values(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    fresh = _reimport_speedups(monkeypatch, value)
    assert fresh.PURE_PYTHON_REQUESTED is False
    expected = "cython" if _compiled_twins_installed() else "python"
    assert fresh.IMPLEMENTATION == expected, fresh.COMPILED_IMPORT_ERROR
    suffix = "_c" if expected == "cython" else "_py"
    assert fresh.SSEDecoder.__module__ == "alchemy._speedups._sse" + suffix


def test_unknown_value_warns_and_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.warns(RuntimeWarning, match="ALCHEMY_PURE_PYTHON='maybe' is not understood"):
        fresh = _reimport_speedups(monkeypatch, "maybe")
    assert fresh.PURE_PYTHON_REQUESTED is False


def test_other_interpreters_get_the_pure_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.implementation, "name", "pypy")
    fresh = _reimport_speedups(monkeypatch, None)
    assert fresh.PURE_PYTHON_REQUESTED is False
    assert fresh.IMPLEMENTATION == "python"
    assert fresh.SSEDecoder.__module__ == "alchemy._speedups._sse_py"


def test_import_error_of_a_compiled_twin_falls_back_to_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "alchemy._speedups._sse_c", None)  # makes the import fail
    fresh = _reimport_speedups(monkeypatch, None)
    assert fresh.IMPLEMENTATION == "python"
    assert isinstance(fresh.COMPILED_IMPORT_ERROR, ImportError)
    assert fresh.SSEDecoder.__module__ == "alchemy._speedups._sse_py"


# --- nothing outside the dispatcher imports a twin ---------------------------------------------

# A twin module name: ``_<kernel>_c`` or ``_<kernel>_py``, as an import target.
_TWIN = r"_[a-z0-9]+_(?:c|py)\b"
_TWIN_IMPORT = re.compile(
    rf"^\s*from\s+[\w.]*(?:^|\.){_TWIN}\s+import"  # from ._sse_py import X / from alchemy._speedups._sse_c import X
    rf"|^\s*from\s+[\w.]*_speedups\s+import\s+[^#\n]*\b{_TWIN}"  # from ._speedups import _sse_c
    rf"|^\s*import\s+[\w.]*\.{_TWIN}"  # import alchemy._speedups._sse_c
    rf"|import_module\(\s*[\"'][\w.]*{_TWIN}",  # importlib.import_module("alchemy._speedups._sse_c")
    re.MULTILINE,
)


def test_the_pattern_finds_twin_imports() -> None:
    for line in [
        "from ._sse_py import ServerSentEvent",
        "from alchemy._speedups._sse_c import SSEDecoder",
        "    from ._jsondelta_c import JsonDeltaMerger",
        "from ._speedups import _eventbuf_py",
        "import alchemy._speedups._sse_c",
        'importlib.import_module("alchemy._speedups._sse_py")',
    ]:
        assert _TWIN_IMPORT.search(line), line
    for line in ["from ._speedups import SSEDecoder", "from .sse import SSEDecoder", "import alchemy._speedups"]:
        assert not _TWIN_IMPORT.search(line), line


def test_nothing_outside_the_dispatcher_imports_a_twin() -> None:
    dispatcher = SPEEDUPS_DIR / "__init__.py"
    offenders = []
    for path in sorted([*PACKAGE_DIR.rglob("*.py"), *PACKAGE_DIR.rglob("*.pyx"), *PACKAGE_DIR.rglob("*.pxd")]):
        if path == dispatcher:
            continue
        for match in _TWIN_IMPORT.finditer(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PACKAGE_DIR.parent)}: {match.group(0).strip()}")
    assert offenders == []
