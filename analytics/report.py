"""``tidewater report``: a summary table of markets over a time window, from PostgreSQL.

    tidewater report --market BTC_USDC --since 24h
    tidewater report --all --start 2026-01-05T00:00Z --end 2026-01-06T00:00Z --interval 1h

The window is ``[start, end)``: ``--end`` defaults to now and ``--start`` to ``--since`` before
the end (24h by default). Times are ISO 8601; one without a zone is UTC. Figures come from the
``--interval`` bars opening in the window (volatility is per that interval). The database is the
one the settings name (``DATABASE_URL``). Exit status: 0 printed, 1 no database, 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

import psycopg

from analytics.intervals import parse_duration, parse_interval
from analytics.load import load_summaries
from analytics.summaries import COLUMNS, MarketSummary
from model.settings import get_settings

__all__ = ["main", "render"]

_LEFT = {"market"}
_GAP = "  "


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _duration(text: str) -> dt.timedelta:
    try:
        return dt.timedelta(microseconds=parse_duration(text, "--since"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tidewater report",
        description="Print open, high, low, close, change, volume, VWAP and volatility of "
        "markets over a time window.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--market",
        action="append",
        metavar="SYMBOL",
        help="a market such as BTC_USDC (repeat for several)",
    )
    which.add_argument("--all", action="store_true", help="every configured market")
    since = parser.add_mutually_exclusive_group()
    since.add_argument(
        "--since",
        type=_duration,
        default=dt.timedelta(hours=24),
        metavar="DURATION",
        help="window length before --end, e.g. 24h, 90m, 1w (default 24h)",
    )
    since.add_argument("--start", type=_moment, metavar="TIME", help="window start (ISO 8601)")
    parser.add_argument(
        "--end", type=_moment, metavar="TIME", help="window end, excluded (ISO 8601; default now)"
    )
    parser.add_argument(
        "--interval", default="1m", help="bar interval the figures are computed from (default 1m)"
    )
    return parser


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def _align(text: str, width: int, *, left: bool) -> str:
    return text.ljust(width) if left else text.rjust(width)


def render(summaries: Sequence[MarketSummary]) -> str:
    """The summaries as an aligned text table under a line naming the window."""
    lines = []
    if summaries:
        first = summaries[0]
        name = first.interval.name
        lines.append(
            f"{name} bars opening in [{_utc(first.start)}, {_utc(first.end)}); "
            f"volatility per {name}"
        )
    rows = [dict(zip(COLUMNS, COLUMNS, strict=True)), *(s.display() for s in summaries)]
    widths = {c: max(len(row[c]) for row in rows) for c in COLUMNS}
    for row in rows:
        cells = (
            row[c].ljust(widths[c]) if c in _LEFT else row[c].rjust(widths[c]) for c in COLUMNS
        )
        lines.append(_GAP.join(cells).rstrip())
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the report with ``argv`` (default: the process's arguments); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        interval = parse_interval(args.interval)
    except ValueError as exc:
        parser.error(str(exc))
    settings = get_settings()
    config = settings.markets()
    if args.all:
        specs = [config.markets[symbol] for symbol in sorted(config.markets)]
    else:
        specs = []
        for symbol in args.market:
            spec = config.market(symbol)
            if spec is None:
                parser.error(
                    f"--market: unknown market {symbol!r}; known: {sorted(config.markets)}"
                )
            specs.append(spec)
    end: dt.datetime = args.end or dt.datetime.now(dt.UTC)
    start: dt.datetime = args.start or end - args.since
    if end < start:
        parser.error(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    if settings.database_url is None:
        print("tidewater report: no database; set DATABASE_URL", file=sys.stderr)
        return 1
    try:
        with psycopg.connect(settings.database_url) as conn:
            summaries = load_summaries(conn, specs, interval, start, end)
    except psycopg.OperationalError as exc:
        print(f"tidewater report: cannot read the database: {exc}", file=sys.stderr)
        return 1
    print(render(summaries))
    return 0
