"""In-tree PEP 517 backend: setuptools, plus Cython only when the build compiles.

A compiled build (the default on CPython) asks the frontend for Cython; a pure
build (``ALCHEMY_PURE_PYTHON=1`` at build time, or a non-CPython interpreter)
asks for nothing extra, so it needs neither Cython nor a C compiler.
``setup.py`` applies the same rule to decide which extensions to build.
"""

from __future__ import annotations

import os
import sys

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported hooks)
    build_sdist,
    build_wheel,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_wheel,
)

try:  # PEP 660 hooks exist on every setuptools this project accepts (>= 64)
    from setuptools.build_meta import build_editable, prepare_metadata_for_build_editable  # noqa: F401
except ImportError:  # pragma: no cover
    pass

CYTHON_REQUIREMENT = "Cython>=3.0"


def _pure_build() -> bool:
    value = os.environ.get("ALCHEMY_PURE_PYTHON", "").strip().lower()
    return value in {"1", "true", "yes"} or sys.implementation.name != "cpython"


def _with_cython(requires: list[str]) -> list[str]:
    return list(requires) if _pure_build() else [*requires, CYTHON_REQUIREMENT]


def get_requires_for_build_wheel(config_settings=None):  # type: ignore[no-untyped-def]
    return _with_cython(_setuptools.get_requires_for_build_wheel(config_settings))


def get_requires_for_build_editable(config_settings=None):  # type: ignore[no-untyped-def]
    return _with_cython(_setuptools.get_requires_for_build_editable(config_settings))
