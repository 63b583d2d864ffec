"""Compiles Cython twins in place for development, with setup.py's directives.

    python tools/build_inplace.py            # every alchemy/_speedups/_*_c.pyx
    python tools/build_inplace.py sse        # only _sse_c.pyx

Building one kernel keeps a half-edited twin of another kernel from breaking the
build you are working on. Installed builds go through ``pip install``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from setuptools import Extension, setup  # noqa: E402

import setup as build_config  # noqa: E402  (the project's setup.py; its setup() runs only as a script)


def main(kernels: list[str]) -> None:
    if kernels:
        sources = [f"alchemy/_speedups/_{name}_c.pyx" for name in kernels]
    else:
        sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "alchemy" / "_speedups").glob("_*_c.pyx"))
    setup(
        name="alchemy-llm-inplace",
        ext_modules=[Extension(path[:-4].replace("/", "."), [path]) for path in sources],
        cmdclass={"build_ext": build_config.LoudBuildExt},
        script_args=["build_ext", "--inplace", "-q"],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
