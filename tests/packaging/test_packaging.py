"""What ships and how it builds: the sdist and wheel (LICENSE, metadata, readme), the build
failure without a compiler, compiled modules without debug symbols, an ``import alchemy``
that leaves asyncio alone on the sync path, and ``Context.to_json()`` as text."""

from __future__ import annotations

import email.parser
import importlib.util
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from struct import unpack_from
from types import ModuleType
from typing import Any

import pytest

import alchemy
from alchemy import Context, UserMessage
from alchemy.cli import DEMO_MODELS
from alchemy.testing import ReplayServer
from support import ROOT, bundled_registry, replay_server  # noqa: F401  (fixtures)

NAME = f"alchemy_llm-{alchemy.__version__}"
needs_source = pytest.mark.skipif(
    not (ROOT / "pyproject.toml").is_file() or not (ROOT / "setup.py").is_file(),
    reason=f"no source checkout at {ROOT}: these tests build from it",
)


def setup_script() -> ModuleType:
    """The project's setup.py as a module (its ``setup()`` runs only as a script)."""
    spec = importlib.util.spec_from_file_location("_alchemy_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metadata(text: str) -> Any:
    return email.parser.Parser().parsestr(text)


# -- the sdist and the wheel --------------------------------------------------------------------


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and a pure wheel built from it (``python -m build``: the wheel from the
    unpacked sdist, so it holds only what the sdist ships)."""
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "ALCHEMY_PURE_PYTHON": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"sdist": out / f"{NAME}.tar.gz", "wheel": out / f"{NAME}-py3-none-any.whl"}


def check_metadata(fields: Any) -> None:
    assert fields["Name"] == "alchemy-llm" and fields["Version"] == alchemy.__version__
    assert fields["License-Expression"] == "MIT"
    assert fields.get_all("License-File") == ["LICENSE"]
    urls = dict(url.split(", ", 1) for url in fields.get_all("Project-URL"))
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    classifiers = fields.get_all("Classifier")
    assert "Typing :: Typed" in classifiers and any(c.startswith("Development Status ::") for c in classifiers)
    assert "llm" in fields["Keywords"].split(",")
    assert fields["Requires-Python"] == ">=3.10"
    assert fields["Description-Content-Type"] == "text/markdown"


@needs_source
def test_the_sdist_ships_the_license_changelog_and_metadata(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = set(sdist.getnames())
        assert {f"{NAME}/{name}" for name in ("LICENSE", "CHANGELOG.md", "README.md", "setup.py")} <= names
        assert not any(name.endswith((".so", ".pyd", ".c")) for name in names)
        pkg_info = sdist.extractfile(f"{NAME}/PKG-INFO")
        assert pkg_info is not None
        check_metadata(metadata(pkg_info.read().decode()))


@needs_source
def test_the_wheel_ships_the_license_and_metadata(dists: dict[str, Path]) -> None:
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        names = set(wheel.namelist())
        assert f"{NAME}.dist-info/licenses/LICENSE" in names
        assert "Copyright (c) 2026 the alchemy authors" in wheel.read(f"{NAME}.dist-info/licenses/LICENSE").decode()
        assert {"alchemy/py.typed", "alchemy/testing/recordings/anthropic-messages-answer.chunks.txt"} <= names
        assert not any(name.endswith((".so", ".pyd")) for name in names)  # the pure wheel
        check_metadata(metadata(wheel.read(f"{NAME}.dist-info/METADATA").decode()))


@needs_source
def test_twine_check_passes(dists: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dists["sdist"]), str(dists["wheel"])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_the_license_file() -> None:
    license_file = ROOT / "LICENSE"
    if not license_file.is_file():
        pytest.skip(f"no source checkout at {ROOT}")
    text = license_file.read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the alchemy authors\n")


# -- building the compiled twins ----------------------------------------------------------------


@needs_source
@pytest.mark.skipif(sys.platform == "win32", reason="MSVC does not take its compiler from CC")
def test_without_a_compiler_the_last_lines_name_the_pure_build(tmp_path: Path) -> None:
    """What a user with no compiler sees: pip's output ends with the hint, not 100 lines later."""
    env = {**os.environ, "CC": "/bin/false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("ALCHEMY_PURE_PYTHON", None)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode != 0
    lines = (result.stdout + result.stderr).splitlines()
    last = "\n".join(lines[-20:])
    assert "ALCHEMY_PURE_PYTHON=1 pip install alchemy-llm" in last, "\n".join(lines)
    assert "cannot compile its speedups" in last
    assert len(lines) < 80, "\n".join(lines)  # stopped before the long build log


def test_the_hint_is_short_and_framed() -> None:
    if not (ROOT / "setup.py").is_file():
        pytest.skip(f"no source checkout at {ROOT}")
    hint = setup_script().pure_hint("CompileError: Command '['/bin/false', '-c', 'x.c', '-o', 'x.o']' returned 1.")
    lines = hint.strip().splitlines()
    assert lines[0] == lines[-1] == "=" * 72
    assert "Why: CompileError: `/bin/false` returned 1." in lines
    assert all(len(line) <= 80 for line in lines)


def elf_sections(path: Path) -> set[str]:
    """The section names of an ELF file (enough of the format to see debug info and symbols)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", f"{path} is not an ELF file"
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        (table,) = unpack_from(order + "Q", data, 0x28)
        size, count, names_index = unpack_from(order + "HHH", data, 0x3A)
    else:
        (table,) = unpack_from(order + "I", data, 0x20)
        size, count, names_index = unpack_from(order + "HHH", data, 0x2E)

    def section(index: int) -> tuple[int, int]:
        start = table + index * size
        (name,) = unpack_from(order + "I", data, start)
        (offset,) = unpack_from(order + ("Q" if wide else "I"), data, start + (0x18 if wide else 0x10))
        return name, offset

    names = section(names_index)[1]
    found = set()
    for index in range(count):
        name = names + section(index)[0]
        found.add(data[name : data.index(b"\0", name)].decode())
    return found


def build_probe(folder: Path, command: Any) -> Path:
    from setuptools import Distribution, Extension

    script = setup_script()
    source = folder / "_alchemy_probe.c"
    source.write_text(script.PROBE_SOURCE)
    distribution = Distribution({"name": "probe", "ext_modules": [Extension("_alchemy_probe", [str(source)])]})
    distribution.cmdclass["build_ext"] = command
    build = distribution.get_command_obj("build_ext")
    build.build_temp = str(folder / "temp")
    build.build_lib = str(folder / "lib")
    build.ensure_finalized()
    build.run()
    (built,) = (folder / "lib").glob("_alchemy_probe*")
    return built


@needs_source
def test_compiled_modules_are_built_without_debug_symbols(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads ELF files: Linux only (macOS and Windows keep debug info out of the module anyway)")
    script = setup_script()
    problem = script.compiler_problem()
    if problem is not None:
        pytest.skip(f"no working C compiler: {problem}")
    from setuptools.command.build_ext import build_ext

    (tmp_path / "plain").mkdir()
    (tmp_path / "stripped").mkdir()
    plain = elf_sections(build_probe(tmp_path / "plain", build_ext))
    stripped = elf_sections(build_probe(tmp_path / "stripped", script.LoudBuildExt))
    assert ".debug_info" in plain  # Python's own flags ask for -g: the reader does see debug info
    assert not any(name.startswith(".debug") for name in stripped)
    assert ".symtab" not in stripped


# -- import time: no asyncio on the sync path ---------------------------------------------------


def python(code: str, pure: bool) -> str:
    env = {**os.environ, "ALCHEMY_PURE_PYTHON": "1" if pure else "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_alchemy_leaves_asyncio_alone(twin: Any) -> None:
    code = "import sys, alchemy; print(alchemy.IMPLEMENTATION, 'asyncio' in sys.modules)"
    assert python(code, twin.is_pure) == f"{twin.tag} False"


SYNC_STREAMS = """
import sys, alchemy
from alchemy.cli import DEMO_MODELS, demo_context, demo_model
for api, base_url in {urls!r}.items():
    options = {{"api_key": "test-key-not-secret", "region": "us-east-1"}} if api.startswith("bedrock") else {{"api_key": "k"}}
    message = alchemy.complete(demo_model(api, base_url), demo_context(), **options)
    assert message.stop_reason == "toolUse", message.error_message
print("asyncio" in sys.modules)
"""


def test_sync_streams_on_every_api_leave_asyncio_alone(twin: Any, replay_server: ReplayServer) -> None:
    """The sync path end to end (the replay server runs in this process, the client in a fresh one)."""
    replay_server.reset()
    urls = {api: replay_server.base_url_for(api) for api in DEMO_MODELS}
    assert python(SYNC_STREAMS.format(urls=urls), twin.is_pure) == "False"


# -- Context JSON as text -----------------------------------------------------------------------


def test_context_to_json_is_text_for_write_text(tmp_path: Path) -> None:
    context = Context(system_prompt="Be brief.", messages=[UserMessage("Paris, 18 °C? \U0001f600")])
    text = context.to_json()
    assert isinstance(text, str) and isinstance(context.to_json(indent=True), str)
    path = tmp_path / "conversation.json"
    path.write_text(text, encoding="utf-8")
    assert Context.from_json(path.read_text(encoding="utf-8")) == context
    assert Context.from_json(path.read_bytes()) == context
