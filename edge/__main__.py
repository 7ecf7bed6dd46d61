"""``python -m edge``: serve the REST API with uvicorn (``--workers N`` for more processes)."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from model.logs import setup_logging, uvicorn_log_config
from model.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run uvicorn on the app factory."""
    settings = get_settings().edge
    parser = argparse.ArgumentParser(prog="tidewater edge", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    # The app factory (in each worker) reads settings from the environment: pass the port on.
    os.environ["TIDEWATER_EDGE_PORT"] = str(args.port)
    get_settings.cache_clear()
    setup_logging("edge", port=args.port)
    uvicorn.run(
        "edge.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        ws="edge.wsprotocol:CoalescingWebSocketProtocol",
        access_log=False,
        log_config=uvicorn_log_config("edge", port=args.port),
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
