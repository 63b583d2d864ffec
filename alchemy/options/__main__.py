"""``python -m alchemy.options readme|typed``: print the README option table or the typed dicts module."""

from __future__ import annotations

import sys

from ._render import render_readme_table, render_typed_module


def main(argv: list[str]) -> int:
    if argv == ["readme"]:
        sys.stdout.write(render_readme_table())
        return 0
    if argv == ["typed"]:
        sys.stdout.write(render_typed_module())
        return 0
    sys.stderr.write("usage: python -m alchemy.options readme|typed\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
