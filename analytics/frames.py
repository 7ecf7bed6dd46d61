"""The shapes of the frames analytics passes around, and empty frames of each.

A *bars* frame (candles) has one row per bar, sorted by ``open_time``; a *trades* frame one row
per trade, sorted by ``ts``. Times are ``Datetime("us", "UTC")``. Every price is integer ticks,
every quantity integer lots, every quote amount integer quote atoms (``Int64``, as stored):
money never becomes a float here. ``closed`` is optional in bars frames.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

__all__ = [
    "BAR_SCHEMA",
    "TIME",
    "TRADE_SCHEMA",
    "Frame",
    "empty_bars",
    "empty_trades",
    "finish",
]

#: The time type of every timestamp column.
TIME = pl.Datetime("us", "UTC")

BAR_SCHEMA = pl.Schema(
    {
        "open_time": TIME,
        "open": pl.Int64(),
        "high": pl.Int64(),
        "low": pl.Int64(),
        "close": pl.Int64(),
        "volume": pl.Int64(),
        "quote_volume": pl.Int64(),
        "trades": pl.Int64(),
        "closed": pl.Boolean(),
    }
)
"""Columns of a bars frame: ticks, lots (``volume``), quote atoms and a trade count."""

TRADE_SCHEMA = pl.Schema(
    {
        "trade_id": pl.Int64(),
        "ts": TIME,
        "price": pl.Int64(),
        "quantity": pl.Int64(),
        "quote_amount": pl.Int64(),
        "taker_side": pl.String(),
    }
)
"""Columns of a trades frame: ticks, lots, quote atoms and the taker's side (buy/sell)."""

#: A polars frame, eager or lazy; functions taking one return the same kind.
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def empty_bars() -> pl.DataFrame:
    """A bars frame with no rows (an empty market)."""
    return pl.DataFrame(schema=BAR_SCHEMA)


def empty_trades() -> pl.DataFrame:
    """A trades frame with no rows."""
    return pl.DataFrame(schema=TRADE_SCHEMA)


def finish(result: pl.LazyFrame, like: Frame) -> Frame:
    """``result`` collected when ``like`` is eager, else left lazy for the caller to extend."""
    if isinstance(like, pl.DataFrame):
        return result.collect()
    return result
