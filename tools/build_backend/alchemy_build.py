"""In-tree PEP 517 backend: setuptools, plus Cython only when the build compiles.

A compiled build (the default on CPython) asks the frontend for Cython; a pure
build (``ALCHEMY_PURE_PYTHON=1`` at build time, or a non-CPython interpreter)
asks for nothing extra, so it needs neither Cython nor a C compiler.
``setup.py`` applies the same rule to decide which extensions to build.

Before a compiled build asks for anything, it builds a one-line extension
(``setup.compiler_problem``): with no working compiler the build stops there, after
a few lines of output, with the message that names ``ALCHEMY_PURE_PYTHON=1``.

An editable install (``pip install -e .``) is a plain path entry (a ``.pth`` file
naming the checkout), which mypy, pyright and every IDE follow, instead of
setuptools' import hook, which they cannot see: ``package-dir = {"" = "."}`` in
``pyproject.toml`` is what makes setuptools choose it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported hooks)
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

CYTHON_REQUIREMENT = "Cython>=3.0"


def _pure_build() -> bool:
    value = os.environ.get("ALCHEMY_PURE_PYTHON", "").strip().lower()
    return value in {"1", "true", "yes"} or sys.implementation.name != "cpython"


def _setup_script() -> ModuleType:
    """The project's ``setup.py`` as a module (its ``setup()`` call runs only as a script);
    PEP 517 runs every hook from the project's root folder."""
    spec = importlib.util.spec_from_file_location("_alchemy_setup", os.path.join(os.getcwd(), "setup.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_compiler() -> None:
    """Stops a compiled build at once, with the pure-Python hint, when nothing can compile."""
    script = _setup_script()
    problem = script.compiler_problem()
    if problem is not None:
        raise SystemExit(script.pure_hint(problem))


def get_requires_for_build_wheel(config_settings=None):  # type: ignore[no-untyped-def]
    if _pure_build():
        return _setuptools.get_requires_for_build_wheel(config_settings)
    _check_compiler()
    return [*_setuptools.get_requires_for_build_wheel(config_settings), CYTHON_REQUIREMENT]


def get_requires_for_build_editable(config_settings=None):  # type: ignore[no-untyped-def]
    if _pure_build():
        return _setuptools.get_requires_for_build_editable(config_settings)
    _check_compiler()
    return [*_setuptools.get_requires_for_build_editable(config_settings), CYTHON_REQUIREMENT]
