"""refresh_models against a real HTTP server on 127.0.0.1: fresh, stale, garbage, unreachable."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alchemy.errors import RegistryRefreshWarning
from alchemy.models import _registry, get_model, refresh_models, registry_info
from support import DATA

MINI = (DATA / "models_dev_mini.json").read_bytes()


class CatalogueServer:
    """Serves one configurable body at every path and counts the requests."""

    def __init__(self) -> None:
        self.body = MINI
        self.status = 200
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.requests += 1
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[CatalogueServer]:
    running = CatalogueServer()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ALCHEMY_CACHE_DIR", str(tmp_path / "cache"))
    _registry.reset()
    yield tmp_path / "cache"
    _registry.reset()  # back to the bundled data for everyone else


def unused_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api.json"


def test_fetches_converts_caches_and_switches(server: CatalogueServer, isolated_cache: Path) -> None:
    result = refresh_models(server.url)
    assert result.updated and result.origin == "network"
    assert result.models == 13 and "fetched 13 models" in result.reason
    assert server.requests == 1
    assert result.path == isolated_cache / "models.json" and result.path.is_file()
    assert get_model("acme", "acme-chat").api == "openai-completions"
    assert registry_info().origin == "network"
    # a new process (here: a reset) loads the cache, newer than the bundled data
    _registry.reset()
    assert registry_info().origin == "cache"
    assert get_model("acme/acme-chat").name == "Acme Chat"


def test_fresh_cache_is_not_fetched_again(server: CatalogueServer) -> None:
    refresh_models(server.url)
    result = refresh_models(server.url, max_age=3600)
    assert not result.updated and result.origin == "cache"
    assert "not fetched" in result.reason
    assert server.requests == 1


def test_stale_cache_is_fetched(server: CatalogueServer, isolated_cache: Path) -> None:
    refresh_models(server.url)
    old = time.time() - 2 * 24 * 3600
    os.utime(isolated_cache / "models.json", (old, old))
    result = refresh_models(server.url)  # default max_age: 24 h
    assert result.updated and server.requests == 2
    forced = refresh_models(server.url, max_age=1e9, force=True)
    assert forced.updated and server.requests == 3


@pytest.mark.parametrize(
    ("status", "body", "why"),
    [
        (200, b"<html>maintenance</html>", "did not return JSON"),
        (200, b"[1, 2, 3]", "did not return a models.dev catalogue"),
        (200, b'{"acme": {"npm": "x"}}', "did not return a models.dev catalogue"),
        (200, b'{"gitlab": {"npm": "gitlab-ai-provider", "models": {}}}', "no model alchemy can call"),
        (503, b"busy", "answered HTTP 503"),
    ],
)
def test_bad_response_keeps_the_bundled_data(server: CatalogueServer, status: int, body: bytes, why: str) -> None:
    server.status, server.body = status, body
    with pytest.warns(RegistryRefreshWarning, match=why):
        result = refresh_models(server.url)
    assert not result.updated and result.origin == "bundled"
    assert why in result.reason and "keeping the bundled registry" in result.reason
    assert get_model("anthropic", "claude-sonnet-4-5").provider == "anthropic"
    assert not (Path(os.environ["ALCHEMY_CACHE_DIR"]) / "models.json").exists()


def test_unreachable_keeps_the_bundled_data() -> None:
    with pytest.warns(RegistryRefreshWarning, match="could not fetch"):
        result = refresh_models(unused_port_url(), timeout=5)
    assert not result.updated and result.origin == "bundled"
    assert "ConnectError" in result.reason
    assert registry_info().origin == "bundled"


def test_offline_after_a_refresh_keeps_the_refreshed_data(server: CatalogueServer, isolated_cache: Path) -> None:
    refresh_models(server.url)
    old = time.time() - 2 * 24 * 3600
    os.utime(isolated_cache / "models.json", (old, old))
    with pytest.warns(RegistryRefreshWarning):
        result = refresh_models(unused_port_url(), timeout=5)
    assert result.origin == "network" and "keeping the network registry" in result.reason


def test_unwritable_cache_still_uses_the_data(server: CatalogueServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("ALCHEMY_CACHE_DIR", str(blocker))
    with pytest.warns(RegistryRefreshWarning, match="cannot be written"):
        result = refresh_models(server.url)
    assert result.updated and result.path is None
    assert get_model("acme", "acme-chat").provider == "acme"


def test_corrupt_cache_is_ignored_at_load(isolated_cache: Path) -> None:
    isolated_cache.mkdir(parents=True)
    (isolated_cache / "models.json").write_bytes(b"{not json")
    with pytest.warns(RegistryRefreshWarning, match="cannot be read"):
        assert registry_info().origin == "bundled"


def test_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ALCHEMY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _registry.cache_path() == tmp_path / "xdg" / "alchemy" / "models.json"
