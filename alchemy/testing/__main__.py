"""``python -m alchemy.testing``: run the replay server from a shell.

::

    python -m alchemy.testing serve [--port N] [--recording NAME_OR_PATH [--api API]]
                                    [--chunking event|bytes=N|random[=SEED]] [--delay SECONDS]
                                    [--recording-dir DIR ...]
    python -m alchemy.testing recordings [--recording-dir DIR ...]

``serve`` prints the server's base URL (and the base URL for each wire API), then
serves until interrupted (Ctrl-C or SIGTERM). Without ``--recording`` each route
replays its bundled recording; a request can pick another recording with the
``x-alchemy-replay: NAME`` header.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from ..errors import RecordingNotFoundError, ReplayServerError
from .chunking import parse_chunking
from .recordings import RecordingLibrary, bundled_recording_names
from .replay import REPLAY_HEADER, ReplayServer
from .plan import Replay
from .wire import WIRE_APIS

__all__ = ["build_parser", "build_server", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alchemy.testing", description="alchemy's replay server")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve recorded provider streams on 127.0.0.1 until interrupted")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    serve.add_argument("--recording", help="recording to serve on every route: a bundled name, a name under "
                       "--recording-dir, or a .chunks.txt path (default: each route's bundled recording)")
    serve.add_argument("--api", choices=WIRE_APIS, help="framing to serve --recording in (default: the route's API)")
    serve.add_argument("--chunking", default="event", help="event, bytes=N, random or random=SEED (default event)")
    serve.add_argument("--delay", type=float, default=0.0, help="seconds between writes (default 0)")
    serve.add_argument("--recording-dir", action="append", default=[], metavar="DIR",
                       help="folder of .chunks.txt recordings, searched by name (repeatable)")

    listing = commands.add_parser("recordings", help="list the recordings that can be served by name")
    listing.add_argument("--recording-dir", action="append", default=[], metavar="DIR")
    return parser


def build_server(args: argparse.Namespace) -> ReplayServer:
    """The server ``serve`` would run, configured from parsed arguments (not started)."""
    server = ReplayServer(host=args.host, port=args.port, recording_dirs=args.recording_dir)
    recording = server.library.get(args.recording) if args.recording else None
    server.default = Replay(
        recording=recording, api=args.api, chunking=parse_chunking(args.chunking), delay=args.delay
    )
    return server


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    server = build_server(args)

    def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm) if in_main_thread else None
    try:
        with server:
            print(f"alchemy replay server listening on {server.base_url}", file=out)
            for api in WIRE_APIS:
                print(f"  {api:<26} base URL {server.base_url_for(api)}", file=out)
            print(f"Pick a recording per request with the header '{REPLAY_HEADER}: NAME'. Ctrl-C stops.", file=out)
            out.flush()
            try:
                while server.running:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                print("stopping", file=out)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _list_recordings(args: argparse.Namespace, out: TextIO) -> int:
    print("bundled:", file=out)
    for name in bundled_recording_names():
        print(f"  {name}", file=out)
    library = RecordingLibrary(args.recording_dir)
    for directory in library.search_dirs:
        print(f"{directory}:", file=out)
        for path in sorted(directory.rglob("*.chunks.txt")):
            print(f"  {path.relative_to(directory).as_posix()[: -len('.chunks.txt')]}", file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args, stream)
        return _list_recordings(args, stream)
    except (RecordingNotFoundError, ReplayServerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
