"""Small builders of analytics frames for tests: bars and trades from readable tuples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from analytics.frames import BAR_SCHEMA, TRADE_SCHEMA

__all__ = ["T0", "at", "bars", "trades"]

#: 2026-01-05T00:00:00Z, a Monday: bars of every interval, weeks included, open here.
T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    """``minutes`` after :data:`T0`."""
    return T0 + dt.timedelta(minutes=minutes)


def bars(rows: Sequence[tuple[object, ...]]) -> pl.DataFrame:
    """Bars from ``(minute, open, high, low, close, volume, quote_volume, trades[, closed])``;
    ``closed`` defaults to true."""
    full = [
        (at(r[0]) if isinstance(r[0], int | float) else r[0], *r[1:8], r[8] if len(r) > 8 else True)
        for r in rows
    ]
    return pl.DataFrame(full, schema=BAR_SCHEMA, orient="row")


def trades(rows: Sequence[tuple[object, ...]]) -> pl.DataFrame:
    """Trades from ``(trade_id, minute, price, quantity, quote_amount, taker_side)``."""
    full = [(r[0], at(r[1]) if isinstance(r[1], int | float) else r[1], *r[2:]) for r in rows]
    return pl.DataFrame(full, schema=TRADE_SCHEMA, orient="row")
