"""An offline stand-in for Google's token service, for the Vertex AI credentials tests.

:func:`service_account_file` writes a service-account key file (a fresh RSA key)
whose ``token_uri`` points at a token server on 127.0.0.1, and points
``GOOGLE_APPLICATION_CREDENTIALS`` at it: google-auth then finds it as Application
Default Credentials and mints its tokens there, with no network beyond loopback.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

TOKEN = "ya29.from-token-server"


@dataclass
class TokenServer:
    """What the fake token service saw: one raw form body per token request."""

    key_file: Path
    requests: list[bytes] = field(default_factory=list)


def _handler(server: TokenServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers["content-length"])
            server.requests.append(self.rfile.read(length))
            payload = orjson.dumps({"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def service_account_file(folder: Path, project: str = "sa-project") -> Iterator[TokenServer]:
    """A service-account key file in ``folder`` served by a local token server (see the module doc).

    Sets ``GOOGLE_APPLICATION_CREDENTIALS`` for the block and forgets cached
    credentials before and after it.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from alchemy.providers import _vertex_auth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    state = TokenServer(folder / "service-account.json")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": f"alchemy-test@{project}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"http://127.0.0.1:{httpd.server_address[1]}/token",
    }
    state.key_file.write_bytes(orjson.dumps(info))
    previous = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(state.key_file)
    _vertex_auth.clear_cache()
    try:
        yield state
    finally:
        _vertex_auth.clear_cache()
        if previous is None:
            os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        else:
            os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = previous
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
