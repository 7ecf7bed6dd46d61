"""Analytics over stored market data: polars frames of bars and trades read from PostgreSQL.

* :mod:`analytics.load` reads bars (any fixed interval) and trades of a market and window.
* :mod:`analytics.metrics` holds pure functions on those frames: resample, fill gaps, log
  returns, rolling volatility, exact VWAP, volume profile.
* :mod:`analytics.summaries` condenses a window into a :class:`MarketSummary`.
* :mod:`analytics.report` is the ``tidewater report`` command (also ``python -m analytics``).

Money stays exact: prices are integer ticks, quantities integer lots, quote amounts integer
atoms, and VWAP is a ``Decimal`` to a tenth of a tick. Only log returns and volatility, which are
dimensionless, are floats.
"""

from analytics.frames import BAR_SCHEMA, TRADE_SCHEMA, empty_bars, empty_trades
from analytics.intervals import STORED_INTERVALS, Interval, parse_interval
from analytics.load import load_bars, load_stored_bars, load_summaries, load_trade_bars, load_trades
from analytics.metrics import (
    fill_gaps,
    log_returns,
    resample,
    rolling_volatility,
    volatility,
    volume_profile,
    vwap,
    vwap_price,
    with_vwap,
)
from analytics.summaries import MarketSummary, summary

__all__ = [
    "BAR_SCHEMA",
    "STORED_INTERVALS",
    "TRADE_SCHEMA",
    "Interval",
    "MarketSummary",
    "empty_bars",
    "empty_trades",
    "fill_gaps",
    "load_bars",
    "load_stored_bars",
    "load_summaries",
    "load_trade_bars",
    "load_trades",
    "log_returns",
    "parse_interval",
    "resample",
    "rolling_volatility",
    "summary",
    "volatility",
    "volume_profile",
    "vwap",
    "vwap_price",
    "with_vwap",
]
