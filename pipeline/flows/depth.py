"""The aggregated L2 book of one market, rebuilt from state events, and its diffs.

Book layout
-----------
Per side a dict ``price ticks -> total lots``. A level exists only while its total is positive.

How events move it (see :mod:`model.events`)
--------------------------------------------
* ``OrderRested``: ``remaining`` lots join the order's side at ``price``.
* ``TradeExecuted``: the maker's side (opposite ``taker_side``) loses ``quantity`` at ``price``.
* ``OrderClosed`` with ``was_resting``: ``remaining`` lots leave the order's side at ``price``.

Every one of those events is one *book change*; update ids count them per market, from 1,
without gaps. A diff covers the changes of one input item: ``U`` = its first update id, ``u`` =
its last, levels as absolute quantities (``"0"`` removes). A client holding a snapshot with
``lastUpdateId = L`` applies the first diff with ``U <= L + 1 <= u``, then each diff whose ``U`` is
the previous ``u + 1``; anything else is a gap and means resync (DESIGN.md §7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from model.enums import Side
from model.events import OrderClosed, OrderRested, StateEvent, TradeExecuted

__all__ = ["DepthBook", "DepthDiff", "Level", "Top"]

#: A level: ``(price ticks, total lots)``.
Level = tuple[int, int]
#: The best bid and the best ask (``None``: that side is empty).
Top = tuple[Level | None, Level | None]


class DepthDiff(msgspec.Struct, frozen=True, array_like=True):
    """Changed levels (absolute lots, 0 = gone) covering update ids ``first..last``."""

    first: int
    last: int
    bids: dict[int, int]
    asks: dict[int, int]


class DepthBook(msgspec.Struct, array_like=True):
    """Mutable L2 state of one market; encodable with msgspec for snapshots."""

    bids: dict[int, int] = msgspec.field(default_factory=dict)
    asks: dict[int, int] = msgspec.field(default_factory=dict)
    update_id: int = 0

    def _move(self, side: Side, price: int, lots: int) -> tuple[dict[int, int], int]:
        levels = self.bids if side is Side.BUY else self.asks
        total = levels.get(price, 0) + lots
        if total < 0:
            raise ValueError(f"level {side} {price} would go negative ({total})")
        if total:
            levels[price] = total
        else:
            levels.pop(price, None)
        self.update_id += 1
        return levels, total

    def apply(self, events: Iterable[StateEvent]) -> DepthDiff | None:
        """Apply events; return the diff they make, or ``None`` if the book did not change."""
        first = self.update_id + 1
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        for event in events:
            kind = type(event)
            if kind is OrderRested:
                assert isinstance(event, OrderRested)
                side, price, lots = event.side, event.price, event.remaining
            elif kind is TradeExecuted:
                assert isinstance(event, TradeExecuted)
                side = Side.SELL if event.taker_side is Side.BUY else Side.BUY
                price, lots = event.price, -event.quantity
            elif kind is OrderClosed:
                assert isinstance(event, OrderClosed)
                if not event.was_resting or not event.remaining:
                    continue
                side, price, lots = event.side, event.price, -event.remaining
            else:
                continue
            levels, total = self._move(side, price, lots)
            (bids if levels is self.bids else asks)[price] = total
        if self.update_id < first:
            return None
        return DepthDiff(first=first, last=self.update_id, bids=bids, asks=asks)

    def top_after(self, diff: DepthDiff, before: Top | None) -> Top:
        """The best bid and ask once ``diff`` is applied, given the best ``before`` it
        (``None``: not known). Only a change at or better than a side's best can move it, so
        the whole side is searched only when its best level went away."""
        if before is None:
            return _best(self.bids, max), _best(self.asks, min)
        return (
            _moved(self.bids, diff.bids, before[0], max),
            _moved(self.asks, diff.asks, before[1], min),
        )

    def side(self, side: Side) -> list[tuple[int, int]]:
        """One side, best first, as ``(price, lots)`` (like ``Engine.levels``)."""
        levels = self.bids if side is Side.BUY else self.asks
        return sorted(levels.items(), reverse=side is Side.BUY)


def _best(levels: dict[int, int], pick: Callable[[Iterable[int]], int]) -> Level | None:
    if not levels:
        return None
    price = pick(levels)
    return price, levels[price]


def _moved(
    levels: dict[int, int],
    changed: dict[int, int],
    before: Level | None,
    pick: Callable[[Iterable[int]], int],
) -> Level | None:
    if not changed:
        return before
    if before is None:  # the side was empty: its levels are the diff's
        return _best(levels, pick)
    better = [p for p, lots in changed.items() if lots and pick((p, before[0])) != before[0]]
    if better:
        price = pick(better)
        return price, levels[price]
    if before[0] in changed:
        lots = changed[before[0]]
        return (before[0], lots) if lots else _best(levels, pick)
    return before
