"""The 24 h rolling ticker of one market, kept in one-minute buckets.

Window
------
The ticker at clock ``t`` (the market's event time) covers the trades of the 1,440 one-minute
buckets ending with the one holding ``t``: from ``floor_minute(t) - 1439 min`` on. Minute buckets
keep the state small (at most 1,440 entries, cheap to snapshot) at the price of a window edge
that moves by whole minutes. ``open`` is the first trade's price in the window, ``last`` the
latest. The figures are :class:`model.ticker.TickerValues`, published (and kept for REST) in the
one shape of :func:`model.ticker.ticker_push`.
"""

from __future__ import annotations

import msgspec

from model.intervals import MINUTE_US, floor_minute
from model.ticker import TickerValues

__all__ = ["WINDOW_MINUTES", "TickerBook", "window_start"]

WINDOW_MINUTES = 1440


class _Bucket(msgspec.Struct, array_like=True):
    minute: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int


def window_start(clock: int) -> int:
    """The first instant (µs) of the window ending at ``clock``."""
    return floor_minute(clock) - (WINDOW_MINUTES - 1) * MINUTE_US


class TickerBook(msgspec.Struct, array_like=True):
    """Minute buckets of the last 24 h, oldest first."""

    buckets: list[_Bucket] = msgspec.field(default_factory=list)

    def trade(self, ts: int, price: int, quantity: int, quote: int) -> None:
        """Count a trade at event time ``ts`` (the market clock: never decreasing)."""
        minute = floor_minute(ts)
        last = self.buckets[-1] if self.buckets else None
        if last is None or minute > last.minute:
            self.buckets.append(_Bucket(minute, price, price, price, price, quantity, quote, 1))
            return
        last.high = max(last.high, price)
        last.low = min(last.low, price)
        last.close = price
        last.volume += quantity
        last.quote_volume += quote
        last.trades += 1

    def values(self, clock: int) -> TickerValues | None:
        """The window ending at ``clock``, or ``None`` if it holds no trade."""
        start = window_start(clock)
        drop = 0
        while drop < len(self.buckets) and self.buckets[drop].minute < start:
            drop += 1
        if drop:
            del self.buckets[:drop]
        if not self.buckets:
            return None
        window = self.buckets
        return TickerValues(
            window_start=start,
            open=window[0].open,
            high=max(b.high for b in window),
            low=min(b.low for b in window),
            last=window[-1].close,
            volume=sum(b.volume for b in window),
            quote_volume=sum(b.quote_volume for b in window),
            trades=sum(b.trades for b in window),
        )
