"""One market's order book: price levels of FIFO queues, with price-time priority.

Book layout
-----------
* Each side keeps ``levels: dict[price, Level]`` and a sorted list of *keys*; a key is the price
  for asks and minus the price for bids, so ``keys[0]`` is always the best level of either side.
  A new price level costs O(log n); finding an existing level is a dict lookup.
* A level is an intrusive doubly linked list of :class:`Order` objects (``prev``/``next``), so an
  order leaves its queue in O(1) wherever it stands: cancel never scans.
* ``Level.total`` is the sum of its orders' ``remaining`` lots and ``Level.count`` their number.

Ordering invariant
------------------
Within a level, orders stand in arrival order (head = oldest = first to trade). The book is never
crossed after a command completes: best bid < best ask.
"""

from __future__ import annotations

from sortedcontainers import SortedList

from model.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from model.ids import OrderId, UserId

__all__ = ["BookSide", "Level", "Order", "OrderBook"]


class Order:
    """A resting (or incoming) order. Mutable: ``remaining`` and the executed totals change."""

    __slots__ = (
        "client_order_id",
        "executed_quantity",
        "executed_quote",
        "level",
        "market",
        "next",
        "order_id",
        "post_only",
        "prev",
        "price",
        "quantity",
        "remaining",
        "side",
        "stp",
        "tif",
        "ts",
        "type",
        "user_id",
    )

    def __init__(
        self,
        order_id: OrderId,
        user_id: UserId,
        market: str,
        side: Side,
        type_: OrderType,
        tif: TimeInForce,
        price: int,
        quantity: int,
        client_order_id: str | None,
        post_only: bool,
        stp: SelfTradePrevention,
        ts: int,
    ) -> None:
        self.order_id = order_id
        self.user_id = user_id
        self.market = market
        self.side = side
        self.type = type_
        self.tif = tif
        self.price = price
        self.quantity = quantity
        self.remaining = quantity
        self.executed_quantity = 0
        self.executed_quote = 0
        self.client_order_id = client_order_id
        self.post_only = post_only
        self.stp = stp
        self.ts = ts
        self.level: Level | None = None
        self.prev: Order | None = None
        self.next: Order | None = None


class Level:
    """All resting orders at one price, oldest first."""

    __slots__ = ("count", "head", "price", "tail", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.head: Order | None = None
        self.tail: Order | None = None
        self.total = 0
        self.count = 0

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
    """Bids or asks: levels by price plus their keys in priority order."""

    __slots__ = ("_sign", "keys", "levels")

    def __init__(self, side: Side) -> None:
        self._sign = -1 if side is Side.BUY else 1
        self.levels: dict[int, Level] = {}
        self.keys = SortedList()

    def best(self) -> Level | None:
        """The level that trades first, or ``None`` when the side is empty."""
        if not self.levels:
            return None
        return self.levels[self.keys[0] * self._sign]

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level, opening the level if new."""
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = Level(order.price)
            self.keys.add(order.price * self._sign)
        level.append(order)

    def remove(self, order: Order) -> None:
        """Take a resting ``order`` off the book, closing its level if now empty."""
        level = order.level
        assert level is not None, "order is not resting"
        level.unlink(order)
        if level.count == 0:
            self.drop_level(level)

    def drop_level(self, level: Level) -> None:
        """Forget an empty level."""
        del self.levels[level.price]
        self.keys.remove(level.price * self._sign)

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
