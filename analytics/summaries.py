"""One market over one window: open, high, low, close, change, volume, VWAP, volatility.

A :class:`MarketSummary` keeps the exchange's units (ticks, lots, quote atoms) and an exact
``Decimal`` VWAP; :meth:`MarketSummary.display` turns it into strings for people, with the
market's own decimals. ``change_percent`` is ``(close - open) / open * 100`` rounded to
hundredths, half to even, as the 24h ticker rounds it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from analytics.intervals import Interval, parse_interval
from analytics.metrics import fill_gaps, volatility, vwap_price
from model.numbers import MarketSpec

__all__ = ["COLUMNS", "MarketSummary", "summary"]

#: The keys of :meth:`MarketSummary.display`, in the order a table shows them.
COLUMNS = (
    "market",
    "open",
    "high",
    "low",
    "close",
    "change",
    "change %",
    "volume",
    "quote volume",
    "trades",
    "VWAP",
    "volatility",
)
_MISSING = "-"
_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class MarketSummary:
    """What one market did in ``[start, end)``; prices ``None`` when it did not trade."""

    spec: MarketSpec
    """The market, whose grid and decimals give the units below their meaning."""
    interval: Interval
    """Bar interval the figures were computed from (it sets what volatility is per)."""
    start: dt.datetime
    """First instant of the window (bars opening at or after it count)."""
    end: dt.datetime
    """End of the window, excluded."""
    bars: int
    """Bars that traded in the window."""
    open: int | None
    """Ticks: the first bar's open."""
    high: int | None
    """Ticks."""
    low: int | None
    """Ticks."""
    close: int | None
    """Ticks: the last bar's close."""
    volume: int
    """Lots traded."""
    quote_volume: int
    """Quote atoms traded."""
    trades: int
    """Number of trades."""
    vwap: Decimal | None
    """Exact VWAP to a tenth of a tick (see :func:`analytics.metrics.vwap_price`)."""
    volatility: float | None
    """Sample standard deviation of log returns per ``interval``, empty intervals counted as
    flat; dimensionless Float64, not annualised. ``None`` with fewer than two returns."""

    @property
    def change(self) -> int | None:
        """Ticks from open to close."""
        if self.open is None or self.close is None:
            return None
        return self.close - self.open

    @property
    def change_percent(self) -> Decimal | None:
        """Percent from open to close, to hundredths (half to even)."""
        if self.change is None or not self.open:
            return None
        return (Decimal(self.change) * 100 / self.open).quantize(_HUNDREDTH)

    def display(self) -> dict[str, str]:
        """Every figure as text for people, keyed by :data:`COLUMNS` (``-`` when missing)."""
        spec = self.spec

        def price(ticks: int | None) -> str:
            return _MISSING if ticks is None else _plain(spec.tick_size * ticks)

        change = self.change
        percent = self.change_percent
        return {
            "market": spec.symbol,
            "open": price(self.open),
            "high": price(self.high),
            "low": price(self.low),
            "close": price(self.close),
            "change": _MISSING if change is None else _signed(spec.tick_size * change),
            "change %": _MISSING if percent is None else f"{_signed(percent)}%",
            "volume": _plain(spec.lot_size * self.volume),
            "quote volume": _plain(Decimal(self.quote_volume).scaleb(-spec.quote.decimals)),
            "trades": str(self.trades),
            "VWAP": _MISSING if self.vwap is None else _plain(self.vwap),
            "volatility": _MISSING if self.volatility is None else f"{self.volatility:.4%}",
        }


def _plain(value: Decimal) -> str:
    """No exponent notation, ever (``str(Decimal(0).scaleb(-6))`` is ``0E-6``)."""
    return f"{value:f}"


def _signed(value: Decimal) -> str:
    return f"+{value:f}" if value > 0 else f"{value:f}"


def summary(
    bars: pl.DataFrame | pl.LazyFrame,
    spec: MarketSpec,
    *,
    every: str | Interval,
    start: dt.datetime,
    end: dt.datetime,
) -> MarketSummary:
    """Summarise one market's ``every`` bars of the window ``[start, end)`` (already selected).

    An empty frame gives a summary with no prices and zero volume: a market that did not trade.
    """
    interval = every if isinstance(every, Interval) else parse_interval(every)
    lazy = bars.lazy().sort("open_time")
    totals = lazy.select(
        pl.len().alias("bars"),
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        *(pl.col(c).cast(pl.Int128).sum() for c in ("volume", "quote_volume", "trades")),
    ).collect()
    row = totals.row(0, named=True)
    volume, quote_volume = int(row["volume"]), int(row["quote_volume"])
    return MarketSummary(
        spec=spec,
        interval=interval,
        start=start,
        end=end,
        bars=int(row["bars"]),
        open=row["open"],
        high=row["high"],
        low=row["low"],
        close=row["close"],
        volume=volume,
        quote_volume=quote_volume,
        trades=int(row["trades"]),
        vwap=vwap_price(quote_volume, volume, spec),
        volatility=volatility(fill_gaps(lazy, interval)),
    )
