"""Reference computations for the market-data flow: what a client and SQL should see.

Everything here is written from the definitions (DESIGN.md §7, ``pipeline.flows.candles`` and
``pipeline.flows.ticker``), independently of the flow's own state classes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from decimal import Decimal

from msgspec.structs import replace

from model.commands import Command
from model.events import StateEvent, TradeExecuted

__all__ = [
    "INTERVAL_SECONDS",
    "DepthClient",
    "candles_from_trades",
    "spread_in_time",
    "ticker_from_trades",
]

#: 2026-01-05T00:00:00Z (a Monday), in microseconds.
START_US = 1_767_571_200 * 1_000_000
INTERVAL_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400, "1w": 604800}
_WEEK_ORIGIN_US = -3 * 86_400 * 1_000_000


def spread_in_time(commands: Iterable[Command], seed: int) -> Iterator[Command]:
    """Stretch the generator's microsecond steps to seconds..minutes so that a few thousand
    commands span over a week and bars of every interval open and close. (The generator's
    day-long jumps past the retry window count as one ordinary step here.)"""
    rng = random.Random(seed)
    previous: int | None = None
    now = START_US
    for command in commands:
        if previous is not None:
            now += min(command.ts - previous, 7) * rng.choice((10**6, 10**7, 6 * 10**7, 3 * 10**8))
        previous = command.ts
        yield replace(command, ts=now)


def _open(interval: str, ts: int) -> int:
    length = INTERVAL_SECONDS[interval] * 1_000_000
    origin = _WEEK_ORIGIN_US if interval == "1w" else 0
    return (ts - origin) // length * length + origin


def candles_from_trades(
    trades: list[TradeExecuted], clock: int
) -> dict[tuple[str, str, int], tuple[int, ...]]:
    """``(market, interval, open_time) -> (o, h, l, c, volume, quote, n, closed)``."""
    bars: dict[tuple[str, str, int], list[int]] = {}
    for t in sorted(trades, key=lambda t: t.seq):
        for interval in INTERVAL_SECONDS:
            key = (t.market, interval, _open(interval, t.ts))
            bar = bars.get(key)
            if bar is None:
                bars[key] = [t.price, t.price, t.price, t.price, t.quantity, t.quote_amount, 1]
            else:
                bar[1] = max(bar[1], t.price)
                bar[2] = min(bar[2], t.price)
                bar[3] = t.price
                bar[4] += t.quantity
                bar[5] += t.quote_amount
                bar[6] += 1
    return {
        key: (*bar, int(clock >= key[2] + INTERVAL_SECONDS[key[1]] * 1_000_000))
        for key, bar in bars.items()
    }


def ticker_from_trades(trades: list[TradeExecuted], clock: int) -> dict[str, int] | None:
    """The 24 h window (1,440 whole minutes ending with ``clock``'s) over one market's trades."""
    start = clock - clock % 60_000_000 - 1439 * 60_000_000
    window = sorted((t for t in trades if t.ts >= start), key=lambda t: t.seq)
    if not window:
        return None
    return {
        "open": window[0].price,
        "high": max(t.price for t in window),
        "low": min(t.price for t in window),
        "last": window[-1].price,
        "volume": sum(t.quantity for t in window),
        "quote_volume": sum(t.quote_amount for t in window),
        "trades": len(window),
        "start": start,
    }


class GapError(AssertionError):
    """The depth diffs skipped an update id: the client must resync."""


class DepthClient:
    """A client following DESIGN.md §7: a snapshot, then diffs in order; a gap raises."""

    def __init__(self, bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal], last: int):
        self.bids, self.asks, self.last = dict(bids), dict(asks), last
        self.synced = False

    def apply(self, diff: dict[str, object]) -> None:
        first, last = int(diff["U"]), int(diff["u"])  # type: ignore[call-overload]
        if last <= self.last:
            return  # older than the snapshot
        if not self.synced:
            if not first <= self.last + 1 <= last:
                raise GapError(f"first diff {first}..{last} does not follow {self.last}")
            self.synced = True
        elif first != self.last + 1:
            raise GapError(f"diff starts at {first}, expected {self.last + 1}")
        for side, levels in (("b", self.bids), ("a", self.asks)):
            for price, qty in diff[side]:  # type: ignore[attr-defined]
                if Decimal(qty) == 0:
                    levels.pop(Decimal(price), None)
                else:
                    levels[Decimal(price)] = Decimal(qty)
        self.last = last

    def side(self, side: str) -> list[tuple[Decimal, Decimal]]:
        levels = self.bids if side == "b" else self.asks
        return sorted(levels.items(), reverse=side == "b")


def state_events(events: Iterable[tuple[str, StateEvent]]) -> list[StateEvent]:
    return [e for _, e in events]
