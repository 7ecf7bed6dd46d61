"""One market's order book: price levels of FIFO queues, with price-time priority.

Book layout
-----------
* Each side keeps ``levels: dict[price, Level]`` and ``keys``, a plain list of every level's
  *key* in ascending order, where a key is the price for bids and minus the price for asks: the
  best level of either side is ``keys[-1]``. The busy end of a book is its best price, and the
  end of a list is where inserting and removing cost least (a new level is placed by binary
  search, O(log n) to find and a short move behind it). Finding an existing level is a dict
  lookup.
* A level is an intrusive doubly linked list of :class:`Order` objects (``prev``/``next``), so an
  order leaves its queue in O(1) wherever it stands: cancel never scans.
* ``Level.total`` is the sum of its orders' ``remaining`` lots and ``Level.count`` their number.
* ``best_level`` caches ``levels`` at the best key: every incoming order looks at it first.

Ordering invariant
------------------
Within a level, orders stand in arrival order (head = oldest = first to trade). The book is never
crossed after a command completes: best bid < best ask.

Compiled or not
---------------
These classes are plain typed Python. The engine's build (:mod:`matcher.build`) compiles them
with mypyc into native classes (fields read and written as C struct members, integers unboxed)
or runs them as they are; both behave identically. Only resting orders are :class:`Order`
objects; an incoming order is matched from its command.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from mypy_extensions import mypyc_attr

from model.enums import SelfTradePrevention, Side
from model.ids import OrderId, UserId

__all__ = ["BookSide", "Level", "Order", "OrderBook"]

_BUY: Final = Side.BUY


@mypyc_attr(acyclic=True)
class Order:
    """A resting limit GTC order. ``remaining`` and ``executed_quote`` change as it trades;
    what it has executed in lots is ``quantity - remaining``.

    An order is in two intrusive lists: its level's queue (``prev``/``next``) and its owner's
    orders (``user_prev``/``user_next``, kept by :class:`matcher.order_index.OrderIndex`).

    Compiled, orders are not tracked by the collector (``acyclic``). A resting order does sit in
    reference cycles (level <-> order <-> neighbours), but every path off the book goes through
    :meth:`Level.unlink` and ``OrderIndex.drop``, which break them; so nothing needs the
    collector, and a full collection never has to walk a million resting orders (it would stall
    the matcher for a second).
    """

    __slots__ = (
        "client_order_id",
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
        "ts",
        "user_id",
        "user_next",
        "user_prev",
    )

    def __init__(
        self,
        order_id: OrderId,
        user_id: UserId,
        market: str,
        side: Side,
        price: int,
        quantity: int,
        remaining: int,
        executed_quote: int,
        client_order_id: str | None,
        post_only: bool,
        stp: SelfTradePrevention,
        ts: int,
    ) -> None:
        self.order_id = order_id
        self.user_id = user_id
        self.market = market
        self.side = side
        self.price = price
        self.quantity = quantity
        self.remaining = remaining
        self.executed_quote = executed_quote
        self.client_order_id = client_order_id
        self.post_only = post_only
        self.stp = stp
        self.ts = ts
        self.level: Level | None = None
        self.prev: Order | None = None
        self.next: Order | None = None
        # The owner's other resting orders (matcher.order_index.UserOrders), newest first.
        self.user_prev: Order | None = None
        self.user_next: Order | None = None


@mypyc_attr(acyclic=True)
class Level:
    """All resting orders at one price, oldest first (untracked by the collector, as orders)."""

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
        tail = self.tail
        order.prev = tail
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
        prev = order.prev
        nxt = order.next
        if prev is None:
            self.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self.tail = prev
        else:
            nxt.prev = prev
        order.prev = None
        order.next = None
        order.level = None
        self.total -= order.remaining
        self.count -= 1


class BookSide:
    """Bids or asks: levels by price, their keys in ascending order, and the best level."""

    __slots__ = ("best_level", "keys", "levels", "sign")

    def __init__(self, side: Side) -> None:
        self.sign = 1 if side is _BUY else -1
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []
        self.best_level: Level | None = None

    def best(self) -> Level | None:
        """The level that trades first, or ``None`` when the side is empty."""
        return self.best_level

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level, opening the level if new."""
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = Level(price)
            self.levels[price] = level
            key = price * self.sign
            keys = self.keys
            if not keys or key > keys[-1]:
                keys.append(key)
                self.best_level = level
            else:
                keys.insert(bisect_left(keys, key), key)
        level.append(order)

    def drop_level(self, level: Level) -> None:
        """Forget an empty level."""
        price = level.price
        del self.levels[price]
        keys = self.keys
        if level is self.best_level:
            keys.pop()
            self.best_level = self.levels[keys[-1] * self.sign] if keys else None
        else:
            del keys[bisect_left(keys, price * self.sign)]

    def iter_levels(self) -> list[Level]:
        """Levels from best to worst."""
        sign = self.sign
        levels = self.levels
        return [levels[key * sign] for key in reversed(self.keys)]

    def crosses(self, side: Side, price: int) -> bool:
        """Would an incoming ``side`` order at ``price`` trade against this side now?"""
        best = self.best_level
        if best is None:
            return False
        return best.price <= price if side is _BUY else best.price >= price


class OrderBook:
    """Both sides of one market."""

    __slots__ = ("asks", "bids", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(Side.BUY)
        self.asks = BookSide(Side.SELL)

    def side(self, side: Side) -> BookSide:
        """The side an order of ``side`` rests on."""
        return self.bids if side is _BUY else self.asks

    def opposite(self, side: Side) -> BookSide:
        """The side an incoming order of ``side`` trades against."""
        return self.asks if side is _BUY else self.bids
