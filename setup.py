"""Build script: compiles the Cython twins in ``alchemy/_speedups/``.

Policy (no silent fallback): on CPython the compiled twins are built, and a build
that cannot compile fails with a message naming ``ALCHEMY_PURE_PYTHON=1``
(:func:`pure_hint`; the backend checks the compiler first, :func:`compiler_problem`).
The modules are built without debug symbols (:func:`strip_flags`). With
that variable set (``1``, ``true`` or ``yes``) — or on an interpreter other than
CPython — no extension is built and the wheel is pure Python (``py3-none-any``).

Cython is imported only when ``build_ext`` runs: the in-tree backend
(``tools/build_backend``) asks the frontend for it, and ``setup.py`` is also run
before that just to list build requirements.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

RULE = "=" * 72

PROBE_SOURCE = """\
#include <Python.h>
static struct PyModuleDef probe = {PyModuleDef_HEAD_INIT, "_alchemy_probe", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__alchemy_probe(void) { return PyModule_Create(&probe); }
"""
"""A one-line extension module: building it proves the compiler, the linker and the Python headers."""


def pure_hint(reason: str) -> str:
    """The build failure's message: short lines, framed, so it stands out as the last
    thing of pip's output and names the way out."""
    # "Command '['/usr/bin/gcc', '-Wsign-compare', ...]' returned ..." -> "`/usr/bin/gcc` returned ..."
    reason = re.sub(r"Command '\['([^']*)'[^\]]*\]'", r"`\1`", " ".join(reason.split()))
    if len(reason) > 200:
        reason = reason[:197] + "..."
    return "\n".join(
        [
            "",
            RULE,
            "alchemy-llm: cannot compile its speedups (the Cython hot paths).",
            f"Why: {reason}",
            "",
            "Install the pure-Python build instead (same behaviour, slower hot paths):",
            "    set ALCHEMY_PURE_PYTHON=1 and run the same pip command again, e.g.",
            "    ALCHEMY_PURE_PYTHON=1 pip install alchemy-llm",
            "or install a C compiler and the Python headers (e.g. gcc and python3-dev).",
            RULE,
        ]
    )


def compiler_problem() -> str | None:
    """Builds :data:`PROBE_SOURCE` in a temporary folder; why that failed, or ``None``.

    The in-tree backend runs this before anything else of a compiled build, so a
    machine without a compiler gets :func:`pure_hint` after a few lines of output,
    not after two hundred lines of file copying.
    """
    from setuptools import Distribution

    with tempfile.TemporaryDirectory(prefix="alchemy-probe-") as folder:
        source = os.path.join(folder, "_alchemy_probe.c")
        with open(source, "w", encoding="ascii") as file:
            file.write(PROBE_SOURCE)
        distribution = Distribution({"name": "alchemy-probe", "ext_modules": [Extension("_alchemy_probe", [source])]})
        command = distribution.get_command_obj("build_ext")
        command.build_temp = os.path.join(folder, "temp")
        command.build_lib = os.path.join(folder, "lib")
        try:
            command.ensure_finalized()
            command.run()
        except Exception as exc:  # no compiler, no linker, no Python.h
            return f"{type(exc).__name__}: {exc}"
    return None


def strip_flags(compiler_type: str, platform: str = sys.platform) -> tuple[list[str], list[str]]:
    """Compile and link flags that keep debug symbols out of the built modules (about a
    fifth of their size), for gcc and clang; MSVC keeps debug info out of a release
    ``.pyd`` already."""
    if compiler_type != "unix":
        return [], []
    return ["-g0"], ["-Wl,-S" if platform == "darwin" else "-s"]

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
        needs_cython = any(source.endswith(".pyx") for ext in self.extensions for source in ext.sources)
        if self.cython_missing is not None and needs_cython:
            raise SystemExit(pure_hint("Cython is not installed"))
        try:
            super().run()
        except SystemExit:
            raise
        except Exception as exc:  # compiler or headers missing, compile error
            raise SystemExit(pure_hint(f"{type(exc).__name__}: {exc}")) from exc

    def build_extensions(self) -> None:
        compile_args, link_args = strip_flags(self.compiler.compiler_type)
        for extension in self.extensions:
            extension.extra_compile_args = [*extension.extra_compile_args, *compile_args]
            extension.extra_link_args = [*extension.extra_link_args, *link_args]
        super().build_extensions()


def extensions() -> list[Extension]:
    if pure_build_requested() or sys.implementation.name != "cpython":
        print("alchemy: pure-Python build (no extensions compiled)")
        return []
    sources = twin_sources()
    print(f"alchemy: compiled build of {len(sources)} Cython twins")
    return [Extension(path[:-4].replace(os.sep, "."), [path]) for path in sources]


if __name__ == "__main__":
    setup(ext_modules=extensions(), cmdclass={"build_ext": LoudBuildExt})
