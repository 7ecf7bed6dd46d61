"""What the analytics tab shows, computed by ``analytics/`` (polars over the stored candles).

The tab reads PostgreSQL directly (``DATABASE_URL``), not the edge: analytics are windows over
history, which the REST API does not serve. Prices keep the exchange's exact units until the
last step; the series handed to the charts are floats (a chart is not money), the summary
figures are the exact strings of :meth:`analytics.MarketSummary.display`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import psycopg

from analytics import fill_gaps, load_bars, parse_interval, rolling_volatility, summary, with_vwap
from model.numbers import MarketSpec

__all__ = ["BARS_SHOWN", "AnalyticsUnavailableError", "AnalyticsView", "load_view"]

#: Bars of the chosen interval the tab covers, ending now.
BARS_SHOWN = 240
_CONNECT_TIMEOUT_S = 2


class AnalyticsUnavailableError(Exception):
    """No database configured, or it cannot be reached: the tab says so instead of charts."""


@dataclass(frozen=True)
class AnalyticsView:
    """A market's bars over the window with VWAP, log returns and rolling volatility."""

    symbol: str
    interval: str
    window: int
    times: list[dt.datetime] = field(default_factory=list)
    close: list[float | None] = field(default_factory=list)
    vwap: list[float | None] = field(default_factory=list)
    returns: list[float | None] = field(default_factory=list)
    volatility: list[float | None] = field(default_factory=list)
    stats: dict[str, str] = field(default_factory=dict)
    """:meth:`analytics.MarketSummary.display` of the window: exact strings."""


def _floats(frame: pl.DataFrame, column: str, scale: float = 1.0) -> list[float | None]:
    return [None if v is None else float(v) * scale for v in frame.get_column(column).to_list()]


def build_view(
    bars: pl.DataFrame, spec: MarketSpec, interval: str, window: int, end: dt.datetime
) -> AnalyticsView:
    """The view of already loaded bars (pure: no I/O), gaps filled as flat bars."""
    iv = parse_interval(interval)
    start = end - BARS_SHOWN * iv.length
    stats = summary(bars, spec, every=iv, start=start, end=end).display()
    if bars.is_empty():
        return AnalyticsView(spec.symbol, interval, window, stats=stats)
    filled = with_vwap(rolling_volatility(fill_gaps(bars, iv), window), spec)
    tick = float(spec.tick_size)
    return AnalyticsView(
        symbol=spec.symbol,
        interval=interval,
        window=window,
        times=filled.get_column("open_time").to_list(),
        close=_floats(filled, "close", tick),
        vwap=_floats(filled, "vwap"),
        returns=_floats(filled, "log_return"),
        volatility=_floats(filled, "volatility"),
        stats=stats,
    )


def load_view(
    database_url: str | None, spec: MarketSpec, interval: str, window: int, now: dt.datetime
) -> AnalyticsView:
    """Load the window's bars of ``spec`` from PostgreSQL and build the view."""
    if not database_url:
        raise AnalyticsUnavailableError(
            "Analytics read the exchange's PostgreSQL: set DATABASE_URL for the Dash app"
        )
    start = now - BARS_SHOWN * parse_interval(interval).length
    try:
        with psycopg.connect(
            database_url, connect_timeout=_CONNECT_TIMEOUT_S, autocommit=True
        ) as conn:
            bars = load_bars(conn, spec.symbol, interval, start, now)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AnalyticsUnavailableError(f"Cannot read the analytics database: {reason}") from None
    return build_view(bars, spec, interval, window, now)
