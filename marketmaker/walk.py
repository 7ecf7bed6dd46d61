"""The fair price and the quotes around it: pure, seeded, in integer ticks and lots.

Invariants
----------
* Prices are integer ticks and quantities integer lots of one market; nothing here touches a
  float, a clock or the network. Formatting for JSON happens elsewhere, through ``MarketSpec``.
* A market's *step* is about one basis point of its reference price: the largest 1, 2 or 5
  times a power of ten ticks not above it, at least one tick. The fair price is a multiple of
  the step and moves by whole steps; levels are one step apart; the half-spread is one or two
  steps. So every quote is a round price: a market near 1000.00 with a 0.01 tick quotes 0.10
  apart, one near 9988.00 quotes 0.50 apart, one priced in a few ticks a tick apart.
* The walk stays within ``[low, high]`` (reflecting off the ends), chosen so that every level
  of the widest ladder lies in ``1..max_price`` ticks: the fair price is always positive and
  every quote a valid price.
* Every bid is strictly below every ask, each side has exactly ``levels`` distinct prices, and
  every size is in ``1..max_lots``.
* Same seed, same start, same path: the walk and the quotes draw from ``random.Random``
  instances of their own, seeded by strings (hashed the same way in every process).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from model.enums import Side
from model.numbers import MarketSpec

__all__ = [
    "MAX_CROSS_LOTS",
    "FairWalk",
    "Quote",
    "Shape",
    "crossing_order",
    "default_fair",
    "ladder",
    "ladder_lots",
    "seeded",
    "would_cross",
]

#: The walk's move per refresh, in steps, each equally likely.
WALK_MOVES = (-2, -1, 0, 1, 2)
#: The half-spread is 1..this many steps.
MAX_HALF_SPREAD_STEPS = 2
#: Level ``i`` (0 = best) shows ``1..LOTS_PER_LEVEL`` times ``i + 1`` lots.
LOTS_PER_LEVEL = 3
#: A crossing order takes at most this many lots.
MAX_CROSS_LOTS = 3
#: With no trade and no book to start from, the fair price is this fraction of the market's
#: largest price (1000.00 INR for TATA_INR, 10000.00 USDC for BTC_USDC, 1000.00 for ETH_USDC).
DEFAULT_FAIR_DIVISOR = 1000
_BASIS_POINTS = 10_000


def seeded(seed: int, symbol: str, purpose: str) -> random.Random:
    """A generator of its own for one market and one purpose (``walk``, ``quotes``)."""
    return random.Random(f"{seed}:{symbol}:{purpose}")


def default_fair(spec: MarketSpec) -> int:
    """The fair price of a market with no trades and no orders, in ticks."""
    return max(1, spec.max_price_ticks // DEFAULT_FAIR_DIVISOR)


@dataclass(frozen=True)
class Shape:
    """How one market's quotes sit around its fair price."""

    levels: int
    """Price levels on each side."""
    step: int
    """Ticks between levels, and the unit the walk moves by."""
    max_price: int
    """The market's largest price, in ticks."""
    max_lots: int
    """The market's largest quantity, in lots."""

    @classmethod
    def around(cls, spec: MarketSpec, levels: int, reference: int) -> Shape:
        """The shape for ``spec`` with a step of about one basis point of ``reference`` ticks."""
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        shape = cls(
            levels=levels,
            step=_round_step(reference // _BASIS_POINTS),
            max_price=spec.max_price_ticks,
            max_lots=spec.max_quantity_lots,
        )
        low, high = shape.bounds
        if low > high:
            raise ValueError(
                f"{spec.symbol}: {levels} levels a step of {shape.step} ticks apart do not fit "
                f"below the largest price ({spec.max_price_ticks} ticks)"
            )
        return shape

    @property
    def reach(self) -> int:
        """How far the farthest quote can be from the fair price, in ticks."""
        return (MAX_HALF_SPREAD_STEPS + self.levels - 1) * self.step

    @property
    def bounds(self) -> tuple[int, int]:
        """The lowest and highest fair price (both multiples of the step) at which every quote
        is a valid price."""
        return self.reach + self.step, (self.max_price - self.reach) // self.step * self.step


def _round_step(ticks: int) -> int:
    """The largest 1, 2 or 5 times a power of ten not above ``ticks`` (at least 1)."""
    if ticks < 1:
        return 1
    power = int(10 ** (len(str(ticks)) - 1))
    return next(m * power for m in (5, 2, 1) if m * power <= ticks)


class FairWalk:
    """A seeded random walk of the fair price, in ticks, on the step grid, kept within the
    shape's bounds (a start off the grid or out of bounds is moved to the nearest good price)."""

    def __init__(self, start: int, shape: Shape, rng: random.Random) -> None:
        self.shape = shape
        self.low, self.high = shape.bounds
        on_grid = (start + shape.step // 2) // shape.step * shape.step  # the nearest multiple
        self.price = min(max(on_grid, self.low), self.high)
        self._rng = rng

    def step(self) -> int:
        """Move one step (of ``WALK_MOVES`` steps) and return the new fair price."""
        move = self._rng.choice(WALK_MOVES) * self.shape.step
        if not self.low <= self.price + move <= self.high:
            move = -move  # reflect the move, so the walk neither leaves nor sticks to an end
        self.price = min(max(self.price + move, self.low), self.high)
        return self.price


@dataclass(frozen=True)
class Quote:
    """One order to place: a side, a price in ticks and a quantity in lots."""

    side: Side
    price: int
    lots: int


def ladder(fair: int, shape: Shape, rng: random.Random) -> list[Quote]:
    """``shape.levels`` bids then as many asks around ``fair``, each side best first.

    ``fair`` must lie within ``shape.bounds`` (a :class:`FairWalk` price does).
    """
    low, high = shape.bounds
    if not low <= fair <= high:
        raise ValueError(f"fair price {fair} is outside {low}..{high}")
    half = shape.step * rng.randint(1, MAX_HALF_SPREAD_STEPS)
    quotes: list[Quote] = []
    for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
        for level in range(shape.levels):
            lots = min(shape.max_lots, rng.randint(1, LOTS_PER_LEVEL) * (level + 1))
            quotes.append(Quote(side, fair + sign * (half + level * shape.step), lots))
    return quotes


def ladder_lots(levels: int) -> int:
    """The most lots one side of a ladder of ``levels`` can show."""
    return LOTS_PER_LEVEL * levels * (levels + 1) // 2


def crossing_order(quotes: list[Quote], rng: random.Random) -> Quote:
    """A small order that takes the best opposite quote of ``quotes``: a buy at the best ask's
    price or a sell at the best bid's, for 1..``MAX_CROSS_LOTS`` lots (no more than it shows).

    Sent as IOC by an account other than the quotes' owner, it prints a trade against them (or
    against a better-priced order of someone else), never against its own orders.
    """
    side = rng.choice((Side.BUY, Side.SELL))
    if side is Side.BUY:
        target = min((q for q in quotes if q.side is Side.SELL), key=lambda q: q.price)
    else:
        target = max((q for q in quotes if q.side is Side.BUY), key=lambda q: q.price)
    return Quote(side, target.price, rng.randint(1, min(MAX_CROSS_LOTS, target.lots)))


def would_cross(resting: Quote, quotes: list[Quote]) -> bool:
    """Whether a quote already resting would meet one of ``quotes`` on the other side, so it
    must go before they are placed (a post-only order that would take is refused, even
    against its owner's own order)."""
    if resting.side is Side.SELL:
        return any(q.side is Side.BUY and q.price >= resting.price for q in quotes)
    return any(q.side is Side.SELL and q.price <= resting.price for q in quotes)
