"""One market's order book: price levels of FIFO queues, with price-time priority.

Book layout
-----------
* Each side keeps ``levels: dict[price, Level]`` and a sorted list of *keys*; a key is the price
  for asks and minus the price for bids, so ``keys[0]`` is always the best level of either side.
  A new price level costs O(log n); finding an existing level is a dict lookup.
* A level is an intrusive doubly linked list of :class:`Order` objects (``prev``/``next``), so an
  order leaves its queue in O(1) wherever it stands: cancel never scans.
* ``Level.total`` is the sum of its orders' ``remaining`` lots and ``Level.count`` their number.
* ``best_level`` caches ``levels[keys[0]]``: every incoming order looks at it first.

Ordering invariant
------------------
Within a level, orders stand in arrival order (head = oldest = first to trade). The book is never
crossed after a command completes: best bid < best ask.
"""

from __future__ import annotations

import msgspec
from sortedcontainers import SortedList

from model.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from model.ids import OrderId, UserId

__all__ = ["BookSide", "Level", "Order", "OrderBook"]


class Order(msgspec.Struct, gc=False):
    """A resting (or incoming) order. Mutable: ``remaining`` and the executed totals change.

    ``gc=False``: the collector does not track orders. A resting order does sit in a reference
    cycle (level ↔ order ↔ neighbours), but every path off the book goes through
    :meth:`Level.unlink`, which breaks it; so nothing needs the collector, and a full collection
    never has to walk a million resting orders (it would stall the matcher for a second).
    """

    order_id: OrderId
    user_id: UserId
    market: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    quantity: int
    client_order_id: str | None
    post_only: bool
    stp: SelfTradePrevention
    ts: int
    remaining: int = 0
    executed_quantity: int = 0
    executed_quote: int = 0
    level: Level | None = None
    prev: Order | None = None
    next: Order | None = None


class Level(msgspec.Struct, gc=False):
    """All resting orders at one price, oldest first (untracked by the collector, as orders)."""

    price: int
    head: Order | None = None
    tail: Order | None = None
    total: int = 0
    count: int = 0

    def append(self, order: Order) -> None:
        """Queue ``order`` behind every order already at this price."""
        order.level = self
        order.prev = tail = self.tail
        order.next = None
        if tail is None:
            self.head = order
        else:
            tail.next = order
        self.tail = order
        self.total += order.remaining
        self.count += 1

    def unlink(self, order: Order) -> None:
        """Take ``order`` out of the queue in O(1); its ``remaining`` leaves ``total``."""
        prev, nxt = order.prev, order.next
        if prev is None:
            self.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self.tail = prev
        else:
            nxt.prev = prev
        order.prev = order.next = order.level = None
        self.total -= order.remaining
        self.count -= 1


class BookSide:
    """Bids or asks: levels by price plus their keys in priority order, and the best level."""

    __slots__ = ("_sign", "best_level", "keys", "levels")

    def __init__(self, side: Side) -> None:
        self._sign = -1 if side is Side.BUY else 1
        self.levels: dict[int, Level] = {}
        self.keys = SortedList()
        self.best_level: Level | None = None

    def best(self) -> Level | None:
        """The level that trades first, or ``None`` when the side is empty."""
        return self.best_level

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level, opening the level if new."""
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = Level(order.price)
            key = order.price * self._sign
            self.keys.add(key)
            best = self.best_level
            if best is None or key < best.price * self._sign:
                self.best_level = level
        level.append(order)

    def drop_level(self, level: Level) -> None:
        """Forget an empty level."""
        del self.levels[level.price]
        keys = self.keys
        keys.remove(level.price * self._sign)
        if level is self.best_level:
            self.best_level = self.levels[keys[0] * self._sign] if keys else None

    def iter_levels(self) -> list[Level]:
        """Levels from best to worst."""
        sign, levels = self._sign, self.levels
        return [levels[key * sign] for key in self.keys]

    def crosses(self, side: Side, price: int) -> bool:
        """Would an incoming ``side`` order at ``price`` trade against this side now?"""
        best = self.best()
        if best is None:
            return False
        return best.price <= price if side is Side.BUY else best.price >= price


class OrderBook:
    """Both sides of one market."""

    __slots__ = ("asks", "bids", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(Side.BUY)
        self.asks = BookSide(Side.SELL)

    def side(self, side: Side) -> BookSide:
        """The side an order of ``side`` rests on."""
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> BookSide:
        """The side an incoming order of ``side`` trades against."""
        return self.asks if side is Side.BUY else self.bids
