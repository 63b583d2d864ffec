"""Build script: compiles the Cython twins in ``alchemy/_speedups/``.

Policy (no silent fallback): on CPython the compiled twins are built, and a build
that cannot compile fails with a message naming ``ALCHEMY_PURE_PYTHON=1``. With
that variable set (``1``, ``true`` or ``yes``) — or on an interpreter other than
CPython — no extension is built and the wheel is pure Python (``py3-none-any``).

Cython is imported only when ``build_ext`` runs: the in-tree backend
(``tools/build_backend``) asks the frontend for it, and ``setup.py`` is also run
before that just to list build requirements.
"""

from __future__ import annotations

import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PURE_HINT = (
    "alchemy could not compile its Cython speedups ({reason}). Install a C compiler and "
    "the Python headers, or build the pure-Python package with ALCHEMY_PURE_PYTHON=1 "
    "(same behaviour, slower hot paths)."
)

COMPILER_DIRECTIVES = {
    "language_level": "3",
    "embedsignature": True,
    # The kernels check their indices explicitly and never index from the end.
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
}


def pure_build_requested() -> bool:
    value = os.environ.get("ALCHEMY_PURE_PYTHON", "").strip().lower()
    return value in {"1", "true", "yes"}


def twin_sources() -> list[str]:
    return sorted(glob.glob(os.path.join("alchemy", "_speedups", "_*_c.pyx")))


class LoudBuildExt(build_ext):
    """Cythonizes, then compiles; any failure names the pure-Python switch.

    ``finalize_options`` also runs when setuptools only lists source files (before
    the backend has installed Cython), so a missing Cython is reported by ``run``.
    """

    cython_missing: ImportError | None = None

    def finalize_options(self) -> None:
        if self.distribution.ext_modules:
            try:
                from Cython.Build import cythonize
            except ImportError as exc:
                self.cython_missing = exc
            else:
                self.distribution.ext_modules[:] = cythonize(
                    self.distribution.ext_modules, compiler_directives=COMPILER_DIRECTIVES, quiet=True
                )
        super().finalize_options()

    def run(self) -> None:
        if self.cython_missing is not None and self.extensions:
            raise SystemExit(PURE_HINT.format(reason="Cython is not installed"))
        try:
            super().run()
        except SystemExit:
            raise
        except Exception as exc:  # compiler or headers missing, compile error
            raise SystemExit(PURE_HINT.format(reason=f"{type(exc).__name__}: {exc}")) from exc


def extensions() -> list[Extension]:
    if pure_build_requested() or sys.implementation.name != "cpython":
        print("alchemy: pure-Python build (no extensions compiled)")
        return []
    sources = twin_sources()
    print(f"alchemy: compiled build of {len(sources)} Cython twins")
    return [Extension(path[:-4].replace(os.sep, "."), [path]) for path in sources]


if __name__ == "__main__":
    setup(ext_modules=extensions(), cmdclass={"build_ext": LoudBuildExt})
