"""Build script: compiles the Cython twins in ``alchemy/_speedups/``.

Policy (no silent fallback): on CPython the compiled twins are built, and a build
that cannot compile fails with a message naming ``ALCHEMY_PURE_PYTHON=1``. With
that variable set (``1``, ``true`` or ``yes``) — or on an interpreter other than
CPython — no extension is built and the wheel is pure Python (``py3-none-any``).
"""

from __future__ import annotations

import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

PURE_HINT = (
    "alchemy could not compile its Cython speedups ({reason}). Install a C compiler and "
    "the Python headers, or build the pure-Python package with ALCHEMY_PURE_PYTHON=1 "
    "(same behaviour, slower hot paths)."
)

COMPILER_DIRECTIVES = {
    "language_level": "3",
    "embedsignature": True,
    # Index checks are done explicitly in the sources; no negative indexing is used.
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
}


def pure_build_requested() -> bool:
    value = os.environ.get("ALCHEMY_PURE_PYTHON", "").strip().lower()
    return value in {"1", "true", "yes"}


class LoudBuildExt(build_ext):
    """Turns any compile failure into an error that names the pure-Python switch."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # compiler missing, headers missing, ...
            raise SystemExit(PURE_HINT.format(reason=f"{type(exc).__name__}: {exc}")) from exc

    def build_extension(self, ext):  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            raise SystemExit(PURE_HINT.format(reason=f"{ext.name}: {exc}")) from exc


def compiled_extensions() -> list:
    if pure_build_requested() or sys.implementation.name != "cpython":
        print("alchemy: pure-Python build (no extensions compiled)")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as exc:
        raise SystemExit(PURE_HINT.format(reason="Cython is not installed")) from exc
    sources = sorted(glob.glob(os.path.join("alchemy", "_speedups", "_*_c.pyx")))
    print(f"alchemy: compiled build of {len(sources)} Cython twins")
    return cythonize(sources, compiler_directives=COMPILER_DIRECTIVES, quiet=True)


if __name__ == "__main__":
    setup(ext_modules=compiled_extensions(), cmdclass={"build_ext": LoudBuildExt})
