"""``python -m marketmaker``: quote every market of an edge until SIGTERM or SIGINT.

Settings come from ``TIDEWATER_EDGE_URL`` and ``TIDEWATER_MM_*`` (``model.settings``); the
options below override them. On SIGTERM/SIGINT it cancels its orders in every market (within a
few seconds, best effort) and exits 0; 1 if it stopped on an error, 2 for bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence

from client import ApiError, AsyncClient, Backoff
from marketmaker.maker import MarketMaker, taker_name
from model.logs import setup_logging
from model.settings import MarketMakerSettings, get_settings

log = logging.getLogger("tidewater.mm")

#: How long stopping may spend canceling orders.
WITHDRAW_TIMEOUT_MS = 5_000
_USERNAME_MAX = 32


def _parse(argv: Sequence[str] | None, settings: MarketMakerSettings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tidewater mm", description=__doc__)
    parser.add_argument("--edge-url", default=settings.edge_url, help="the edge's base URL")
    parser.add_argument("--username", default=settings.username, help="the maker account")
    parser.add_argument(
        "--markets",
        default=",".join(settings.markets),
        help="comma-separated markets to quote (empty: all)",
    )
    parser.add_argument("--levels", type=int, default=settings.levels)
    parser.add_argument("--refresh-ms", type=int, default=settings.refresh_ms)
    parser.add_argument("--seed", type=int, default=settings.seed)
    parser.add_argument("--cross-pct", type=int, default=settings.cross_probability_pct)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every refresh")
    return parser.parse_args(argv)


def _check(settings: MarketMakerSettings) -> str | None:
    if not 1 <= settings.levels <= 100:
        return f"levels must be in 1..100, got {settings.levels}"
    if settings.refresh_ms < 10:
        return f"refresh_ms must be at least 10, got {settings.refresh_ms}"
    if not 0 <= settings.cross_probability_pct <= 100:
        return f"cross percentage must be in 0..100, got {settings.cross_probability_pct}"
    if len(taker_name(settings.username)) > _USERNAME_MAX:
        return f"username {settings.username!r} is too long for its taker account"
    return None


async def run(settings: MarketMakerSettings) -> int:
    """Quote until a stop signal, then cancel every order; return the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    assets = get_settings().markets().assets
    async with AsyncClient(settings.edge_url, backoff=Backoff()) as client:
        maker = MarketMaker(client, settings, assets)
        work = asyncio.create_task(maker.run(), name="mm")
        stopped = asyncio.create_task(stop.wait(), name="mm-stop")
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        code = 0
        if work.done():
            stopped.cancel()
            error = work.exception()
            if isinstance(error, ApiError) and error.status == 401:
                log.error("cannot sign in: %s", error)
            else:
                log.error("stopped on an error", exc_info=error)
            code = 1
        else:
            log.info("stopping: canceling every order")
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
        await maker.withdraw(WITHDRAW_TIMEOUT_MS)
        log.info("summary: %s", maker.summary())
        return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the market maker with ``argv`` (default: the command line); return the exit code."""
    base = get_settings().mm
    args = _parse(argv, base)
    settings = dataclasses.replace(
        base,
        edge_url=args.edge_url,
        username=args.username,
        markets=tuple(m.strip() for m in args.markets.split(",") if m.strip()),
        levels=args.levels,
        refresh_ms=args.refresh_ms,
        seed=args.seed,
        cross_probability_pct=args.cross_pct,
    )
    setup_logging("mm", level=logging.DEBUG if args.verbose else None)
    problem = _check(settings)
    if problem is not None:
        log.error("bad settings: %s", problem)
        return 2
    return asyncio.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
