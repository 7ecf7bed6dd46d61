"""Read bars and trades of one market and window from PostgreSQL into polars frames.

Windows
-------
Every loader takes a half-open window ``[start, end)`` of aware datetimes. For bars it selects
the bars whose ``open_time`` lies in it (so the last bar may run past ``end``); for trades, the
trades whose ``ts`` lies in it.

Queries
-------
Each query is one range scan on an existing index: ``candles``' primary key
``(market, interval, open_time)`` or ``trades_market_ts_idx (market, ts)``. Bars of an interval
the flow does not store are resampled from the coarsest stored interval that divides them, and
failing that (``"90s"``) binned from trades with ``date_bin``, which runs the same on plain
PostgreSQL and on TimescaleDB. Times leave the database as integer microseconds since the epoch,
so no time zone setting of the session can shift them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import polars as pl
import psycopg
from psycopg.rows import tuple_row

from analytics.frames import BAR_SCHEMA, TIME, TRADE_SCHEMA
from analytics.intervals import STORED_INTERVALS, Interval, parse_interval, to_us
from analytics.metrics import resample
from analytics.summaries import MarketSummary, summary
from model.config import normalize_symbol
from model.numbers import MarketSpec

__all__ = ["load_bars", "load_stored_bars", "load_summaries", "load_trade_bars", "load_trades"]

Connection = psycopg.Connection[Any]

#: The stored intervals, shortest first.
_STORED = sorted(parse_interval(name) for name in STORED_INTERVALS)

_STORED_BARS = """
SELECT (extract(epoch FROM open_time) * 1000000)::bigint, open, high, low, close, volume,
       quote_volume, trades, closed
FROM candles
WHERE market = %s AND interval = %s AND open_time >= %s AND open_time < %s
ORDER BY open_time"""

_TRADES = """
SELECT trade_id, (extract(epoch FROM ts) * 1000000)::bigint, price, quantity, quote_amount,
       taker_side
FROM trades
WHERE market = %s AND ts >= %s AND ts < %s
ORDER BY ts, trade_id"""

_TRADE_BARS = """
SELECT (extract(epoch FROM bar) * 1000000)::bigint,
       (array_agg(price ORDER BY ts, trade_id))[1], max(price), min(price),
       (array_agg(price ORDER BY ts DESC, trade_id DESC))[1],
       sum(quantity)::bigint, sum(quote_amount)::bigint, count(*)::bigint,
       bar + %(stride)s <= now()
FROM (SELECT date_bin(%(stride)s, ts, %(origin)s) AS bar, ts, trade_id, price, quantity,
             quote_amount
      FROM trades
      WHERE market = %(market)s AND ts >= %(start)s AND ts < %(end)s) AS t
GROUP BY bar
ORDER BY bar"""


def _frame(rows: list[tuple[Any, ...]], schema: pl.Schema, time_column: str) -> pl.DataFrame:
    raw = pl.Schema({n: pl.Int64() if n == time_column else t for n, t in schema.items()})
    frame = pl.DataFrame(rows, schema=raw, orient="row")
    return frame.with_columns(pl.col(time_column).cast(TIME))


def _fetch(conn: Connection, query: str, params: Any) -> list[tuple[Any, ...]]:
    with conn.cursor(row_factory=tuple_row) as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _check_window(start: dt.datetime, end: dt.datetime) -> None:
    if to_us(end) < to_us(start):
        raise ValueError(f"window ends ({end.isoformat()}) before it starts ({start.isoformat()})")


def load_stored_bars(
    conn: Connection, market: str, interval: str, start: dt.datetime, end: dt.datetime
) -> pl.DataFrame:
    """The flow's stored ``interval`` bars (one of ``1m 5m 15m 1h 1d 1w``) opening in the window."""
    if interval not in STORED_INTERVALS:
        raise ValueError(f"interval: {interval!r} is not stored; stored: {STORED_INTERVALS}")
    _check_window(start, end)
    rows = _fetch(conn, _STORED_BARS, (normalize_symbol(market), interval, start, end))
    return _frame(rows, BAR_SCHEMA, "open_time")


def load_trade_bars(
    conn: Connection, market: str, every: str | Interval, start: dt.datetime, end: dt.datetime
) -> pl.DataFrame:
    """Bars of any interval binned from trades in SQL (``date_bin``), opening in the window.

    ``closed`` is by the database's clock here: the bar's time has passed. Bars are assigned by
    trade time, while the flow uses its event-time clock, which can differ for a trade stamped
    earlier than one already seen.
    """
    iv = every if isinstance(every, Interval) else parse_interval(every)
    _check_window(start, end)
    params = {
        "market": normalize_symbol(market),
        "stride": iv.length,
        "origin": iv.origin,
        "start": iv.ceil(start),
        "end": iv.ceil(end),
    }
    return _frame(_fetch(conn, _TRADE_BARS, params), BAR_SCHEMA, "open_time")


def load_bars(
    conn: Connection, market: str, every: str | Interval, start: dt.datetime, end: dt.datetime
) -> pl.DataFrame:
    """Bars of any fixed interval (``"1m"``, ``"2h"``, ``"3d"``) opening in the window.

    Stored bars when the flow keeps that interval; else the coarsest stored interval that divides
    it, resampled (``2h`` from ``1h``, ``10m`` from ``5m``); else bars binned from trades.
    """
    iv = every if isinstance(every, Interval) else parse_interval(every)
    for stored in _STORED:
        if (stored.micros, stored.origin_us) == (iv.micros, iv.origin_us):
            return load_stored_bars(conn, market, stored.name, start, end)
    finer = next((s for s in reversed(_STORED) if iv.refines(s)), None)
    if finer is None:
        return load_trade_bars(conn, market, iv, start, end)
    source = load_stored_bars(conn, market, finer.name, iv.ceil(start), iv.ceil(end))
    return resample(source, iv, source=finer)


def load_trades(
    conn: Connection, market: str, start: dt.datetime, end: dt.datetime
) -> pl.DataFrame:
    """The market's trades with ``ts`` in the window, oldest first."""
    _check_window(start, end)
    rows = _fetch(conn, _TRADES, (normalize_symbol(market), start, end))
    return _frame(rows, TRADE_SCHEMA, "ts")


def load_summaries(
    conn: Connection,
    specs: Iterable[MarketSpec],
    every: str | Interval,
    start: dt.datetime,
    end: dt.datetime,
) -> list[MarketSummary]:
    """One :class:`MarketSummary` per market, from its ``every`` bars opening in the window."""
    iv = every if isinstance(every, Interval) else parse_interval(every)
    summaries = []
    for spec in specs:
        bars = load_bars(conn, spec.symbol, iv, start, end)
        summaries.append(summary(bars, spec, every=iv, start=start, end=end))
    return summaries
