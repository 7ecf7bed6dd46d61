"""``python -m dash_app``: serve the dashboard (Werkzeug's threaded server, debug off).

The server is the one Flask ships, run without the reloader or the debugger; it stops cleanly
on SIGTERM and Ctrl-C, as the supervisor of ``tidewater up`` expects.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType

from werkzeug.serving import make_server

from dash_app.app import create_app
from model.logs import setup_logging
from model.settings import get_settings

__all__ = ["main"]

log = logging.getLogger("tidewater.dash")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, build the app and serve it until SIGTERM or Ctrl-C."""
    settings = get_settings().dash
    parser = argparse.ArgumentParser(prog="tidewater dash", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--edge-url", default=settings.edge_url, help="the edge's base URL")
    args = parser.parse_args(argv)
    settings = replace(settings, host=args.host, port=args.port, edge_url=args.edge_url)
    setup_logging("dash", port=settings.port)  # werkzeug and httpx: no line per poll

    app = create_app(settings)
    server = make_server(settings.host, settings.port, app.server, threaded=True)
    stopping = threading.Event()

    def stop(signum: int, _: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("dash: stopping on signal %d", signum)
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("dash: serving http://%s:%d (edge %s)", settings.host, server.port, settings.edge_url)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
