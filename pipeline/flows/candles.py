"""OHLCV bars of one market for every interval, on event time.

Time
----
The market's clock is the largest event time it has seen (trades and the clock ticks the source
sends). A trade belongs to the bar of ``max(trade ts, clock)``: a trade stamped slightly earlier
than one already seen (two edges' clocks) joins the current bar instead of reopening a closed
one. A bar closes as soon as the clock reaches the next bar's start, whether or not that market
trades again, so replaying old events after downtime closes bars exactly as a live run did:
nothing depends on the wall clock, and a restart produces the same bars.

Bars open where :func:`model.intervals.bar_open` says: on the epoch except weeks, which open on
Mondays, the same bins as SQL ``date_bin(stride, ts, origin)``. Empty intervals produce no bar.
"""

from __future__ import annotations

import msgspec

from model.intervals import INTERVAL_US, INTERVALS, IntervalName, bar_open
from pipeline.flows.records import CandleRow

__all__ = ["Bar", "CandleBook"]


class Bar(msgspec.Struct, array_like=True):
    open_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote_volume: int = 0
    trades: int = 0

    def row(self, market: str, interval: IntervalName, closed: bool) -> CandleRow:
        return CandleRow(
            market,
            interval,
            self.open_time,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.quote_volume,
            self.trades,
            closed,
        )


class CandleBook(msgspec.Struct, array_like=True):
    """The open bar of every interval of one market, and the market's clock."""

    clock: int = -(2**62)
    bars: dict[IntervalName, Bar] = msgspec.field(default_factory=dict)

    def advance(self, ts: int) -> list[tuple[IntervalName, Bar]]:
        """Move the clock to ``ts`` (never back); return the bars that closed, by interval."""
        if ts <= self.clock:
            return []
        self.clock = ts
        closed: list[tuple[IntervalName, Bar]] = []
        for interval, bar in list(self.bars.items()):
            if ts >= bar.open_time + INTERVAL_US[interval]:
                closed.append((interval, bar))
                del self.bars[interval]
        return closed

    def trade(self, price: int, quantity: int, quote: int) -> list[IntervalName]:
        """Add a trade at the current clock (call :meth:`advance` first); return the intervals
        whose open bar changed."""
        ts = self.clock
        for interval in INTERVALS:
            bar = self.bars.get(interval)
            if bar is None:
                bar = self.bars[interval] = Bar(bar_open(interval, ts), price, price, price, price)
            elif price > bar.high:
                bar.high = price
            elif price < bar.low:
                bar.low = price
            bar.close = price
            bar.volume += quantity
            bar.quote_volume += quote
            bar.trades += 1
        return list(INTERVALS)
