"""The peers of ``bench/peers.py``, each behind bench/engine.py's one-method interface.

Each adapter's ``apply(command)`` takes Tidewater's commands and returns what its peer produced
for that command; ``fills(output, command)`` turns that output into ``Fill`` tuples, the form the
untimed check compares with Tidewater's ``TradeExecuted`` events. Every adapter takes a
``PlaceOrder`` (limit, GTC or IOC) and a ``CancelOrder``, ignores a ``Deposit`` (no peer has
balances) and refuses what its peer cannot express (``ValueError``). No float is made anywhere:
prices go in as integer ticks and quantities as integer lots (nautilus_trader's ``Price`` and
``Quantity`` are built with ``from_int``; their fixed-point ``raw`` integers are read back).

Each peer module is imported only when its adapter is built, so that this module imports without
any of them; ``PEERS`` says how to find each one.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.engine import Matcher
from model.commands import CancelOrder, Command, Deposit, PlaceOrder
from model.config import MarketConfig
from model.enums import OrderType, Side, TimeInForce

#: A fill as the check compares it: (maker order id, taker order id, price in ticks, lots).
Fill = tuple[int, int, int, int]

_PLACE, _CANCEL, _DEPOSIT = PlaceOrder, CancelOrder, Deposit
_LIMIT, _MARKET = OrderType.LIMIT, OrderType.MARKET
_GTC, _IOC, _FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
_BUY = Side.BUY


def _refuse(peer: str, command: Command) -> ValueError:
    if isinstance(command, PlaceOrder):
        what = f"{command.type} {command.tif} order" + (" (post-only)" if command.post_only else "")
        return ValueError(f"{peer} adapter cannot express a {what}")
    return ValueError(f"{peer} adapter cannot express {type(command).__name__}")


# --- lightmatchingengine (pure Python) ---------------------------------------------------------


class LightMatcher:
    """lightmatchingengine: ``add_order(instmt, price, qty, side)`` returns its trades."""

    name = "lightmatchingengine"

    def __init__(self) -> None:
        from lightmatchingengine.lightmatchingengine import LightMatchingEngine
        from lightmatchingengine.lightmatchingengine import Side as LmeSide

        self._init(LightMatchingEngine(), LmeSide.BUY, LmeSide.SELL)

    def _init(self, engine: Any, buy: int, sell: int) -> None:
        self.engine = engine
        self._add = engine.add_order
        self._cancel = engine.cancel_order
        self._side = {Side.BUY: buy, Side.SELL: sell}

    def apply(self, command: Any) -> list[Any]:
        """The peer's trades for a placement, the canceled order for a cancel, else nothing."""
        kind = type(command)
        if kind is _PLACE:
            if command.type is _LIMIT and command.tif is _GTC and not command.post_only:
                _, trades = self._add(
                    command.market, command.price, command.quantity, self._side[command.side]
                )
                return trades  # type: ignore[no-any-return]
            return self._place_other(command)
        if kind is _CANCEL:
            order = self._cancel(command.order_id, command.market)
            return [] if order is None else [order]
        if kind is _DEPOSIT:
            return []
        raise _refuse(self.name, command)

    def _place_other(self, command: PlaceOrder) -> list[Any]:
        if command.tif is _FOK or command.post_only:
            raise _refuse(self.name, command)
        if command.type is _MARKET and command.quote_quantity:
            raise ValueError(f"{self.name} has no market buy by quote quantity")
        price = 0 if command.type is _MARKET else command.price  # the peer's market order
        order, trades = self._add(command.market, price, command.quantity, self._side[command.side])
        if order.leaves_qty:  # IOC or market: the rest expires (the peer would rest it)
            self._cancel(order.order_id, command.market)
        return trades  # type: ignore[no-any-return]

    def ids_aligned(self, command: Command) -> bool:
        """Whether the peer numbered the last order as Tidewater did (it numbers 1, 2, ...)."""
        return not isinstance(command, PlaceOrder) or self.engine.curr_order_id == command.order_id

    @staticmethod
    def fills(output: list[Any], command: Command) -> list[Fill]:
        """The maker trades: the peer also emits one trade per level for the taker, skipped."""
        if not isinstance(command, PlaceOrder):
            return []
        taker = command.order_id
        return [
            (t.order_id, taker, t.trade_price, t.trade_qty) for t in output if t.order_id != taker
        ]


class _NullLightEngine:
    """Takes every order and trades nothing: what is left is the adapter's own cost."""

    curr_order_id = 0

    def add_order(self, instmt: str, price: int, qty: int, side: int) -> tuple[None, list[Any]]:
        return None, []

    def cancel_order(self, order_id: int, instmt: str) -> None:
        return None


class NullLightMatcher(LightMatcher):
    def __init__(self) -> None:
        self._init(_NullLightEngine(), 1, 2)


# --- liquibook (C++ through SWIG) --------------------------------------------------------------


def _liquibook_listener(liquibook: Any) -> type:
    """An order listener (a SWIG director: C++ calls these methods) that collects the fills."""

    class Listener(liquibook.OrderListener):  # type: ignore[misc]
        def __init__(self) -> None:
            liquibook.OrderListener.__init__(self)
            self.ids: dict[int, int] = {}  # liquibook's order id -> Tidewater's, resting orders
            self.orders: dict[int, Any] = {}  # Tidewater's order id -> the resting SimpleOrder
            self.taker = 0
            self.out: list[Fill] = []
            self.rejected: list[str] = []

        def on_fill(self, order: Any, matched: Any, qty: int, price: int) -> None:
            # ``order`` is the incoming order, ``matched`` the resting one (liquibook's
            # order_listener.h: fill_qty, then fill_price; the fill is at the maker's price).
            number = matched.order_id_
            maker = self.ids[number]
            self.out.append((maker, self.taker, price, qty))
            matched.fill(qty, qty * price, 0)  # SimpleOrder keeps no state unless told
            if not matched.open_qty():
                del self.ids[number]
                del self.orders[maker]

        def on_accept(self, order: Any) -> None:
            pass

        def on_reject(self, order: Any, reason: str) -> None:
            self.rejected.append(reason)

        def on_cancel(self, order: Any) -> None:
            pass

        def on_cancel_reject(self, order: Any, reason: str) -> None:
            self.rejected.append(reason)

        def on_replace(self, order: Any, size_delta: int, price: int) -> None:
            pass

        def on_replace_reject(self, order: Any, reason: str) -> None:
            self.rejected.append(reason)

    return Listener


class LiquibookMatcher:
    """liquibook's ``OrderBook`` of ``SimpleOrder`` (C++), one per market, fills via a listener."""

    name = "liquibook"

    def __init__(self) -> None:
        import liquibook

        listener = _liquibook_listener(liquibook)()
        self._init(
            liquibook.liquibook_book_OrderBook,
            liquibook.SimpleOrder,
            liquibook.oc_immediate_or_cancel,
            listener,
        )

    def _init(self, book_type: Any, order_type: Any, ioc: int, listener: Any) -> None:
        self._book_type = book_type
        self._order = order_type
        self._ioc = ioc
        self.listener = listener
        self._ids: dict[int, int] = listener.ids
        self._orders: dict[int, Any] = listener.orders
        self.books: dict[str, Any] = {}

    def _book(self, market: str) -> Any:
        book = self._book_type()
        book.set_symbol(market)
        book.set_order_listener(self.listener)
        self.books[market] = book
        return book

    def apply(self, command: Any) -> list[Any]:
        """The fills the listener received for a placement; a cancel's order id; else nothing."""
        kind = type(command)
        if kind is _PLACE:
            if command.type is not _LIMIT or command.post_only or command.tif is _FOK:
                raise _refuse(self.name, command)
            market = command.market
            book = self.books.get(market) or self._book(market)
            listener = self.listener
            fills: list[Fill] = []
            listener.out = fills
            listener.taker = order_id = command.order_id
            quantity = command.quantity
            if command.tif is _GTC:
                order = self._order(command.side is _BUY, command.price, quantity)
                book.add(order)
                filled = 0
                for fill in fills:
                    filled += fill[3]
                if filled < quantity:  # it rests: remember it for its fills and a cancel
                    self._ids[order.order_id_] = order_id
                    self._orders[order_id] = order
                    if filled:  # the listener tells makers only: tell this one its own fills
                        order.fill(filled, sum(f[2] * f[3] for f in fills), 0)
            else:
                order = self._order(command.side is _BUY, command.price, quantity, 0, self._ioc)
                book.add(order, self._ioc)
            return fills
        if kind is _CANCEL:
            order = self._orders.pop(command.order_id, None)
            if order is None:
                return []
            del self._ids[order.order_id_]
            self.books[command.market].cancel(order)
            return [command.order_id]
        if kind is _DEPOSIT:
            return []
        raise _refuse(self.name, command)

    @staticmethod
    def fills(output: list[Any], command: Command) -> list[Fill]:
        return output if isinstance(command, PlaceOrder) else []


class _NullLiquibook:
    """A book that takes every order and trades nothing, and a listener that hears nothing."""

    class Book:
        def set_symbol(self, symbol: str) -> None:
            pass

        def set_order_listener(self, listener: Any) -> None:
            pass

        def add(self, order: Any, conditions: int = 0) -> bool:
            return False

        def cancel(self, order: Any) -> None:
            pass

    class Listener:
        def __init__(self) -> None:
            self.ids: dict[int, int] = {}
            self.orders: dict[int, Any] = {}
            self.taker = 0
            self.out: list[Fill] = []


class _Stub:
    """What a stubbed peer call returns: one shared object with the attributes the adapter reads."""

    __slots__ = ("order_id_", "raw")

    def __init__(self) -> None:
        self.order_id_ = 0
        self.raw = 1


_STUB = _Stub()


def _stub(*args: Any) -> _Stub:
    """A peer call that does nothing (about the cost of the cheapest call into a C extension)."""
    return _STUB


class NullLiquibookMatcher(LiquibookMatcher):
    def __init__(self) -> None:
        self._init(_NullLiquibook.Book, _stub, 1, _NullLiquibook.Listener())


# --- nautilus_trader (Rust order book, matching loop in Python) --------------------------------


class NautilusMatcher:
    """nautilus_trader's L3 (market-by-order) ``OrderBook``, with the matching loop written here.

    The book keeps price levels in price-time order (in Rust); this adapter walks the opposite
    side from its best level, oldest order first, and for each fill deletes the maker (filled) or
    updates it with its remaining size (partly filled: an update of an order's size keeps its
    place in its level), then adds the taker's rest. Fills are at the maker's price.
    """

    name = "nautilus_trader"

    def __init__(self) -> None:
        from nautilus_trader.core import nautilus_pyo3 as rust

        def new_book(market: str) -> Any:
            return rust.OrderBook(
                rust.InstrumentId.from_str(f"{market}.BENCH"), rust.BookType.L3_MBO
            )

        self._init(
            new_book,
            rust.BookOrder,
            rust.Price.from_int,
            rust.Quantity.from_int,
            {Side.BUY: rust.OrderSide.BUY, Side.SELL: rust.OrderSide.SELL},
        )

    def _init(
        self,
        new_book: Callable[[str], Any],
        book_order: Any,
        price: Callable[[int], Any],
        quantity: Callable[[int], Any],
        sides: dict[Side, Any],
    ) -> None:
        self._new_book = new_book
        self._book_order = book_order
        self._price = price
        self._quantity = quantity
        self._sides = sides
        self._tick_raw: int = price(1).raw  # the fixed-point raw value of one tick
        self._lot_raw: int = quantity(1).raw
        self.books: dict[str, Any] = {}

    def _book(self, market: str) -> Any:
        book = self.books[market] = self._new_book(market)
        return book

    def apply(self, command: Any) -> list[Any]:
        """The fills the loop made for a placement; nothing for a cancel or a deposit."""
        kind = type(command)
        if kind is _PLACE:
            if command.type is not _LIMIT or command.post_only or command.tif is _FOK:
                raise _refuse(self.name, command)
            market = command.market
            book = self.books.get(market) or self._book(market)
            buy = command.side is _BUY
            best = book.asks if buy else book.bids
            limit = command.price * self._tick_raw
            order_id = command.order_id
            ts = command.ts
            remaining = command.quantity
            tick_raw, lot_raw = self._tick_raw, self._lot_raw
            fills: list[Fill] = []
            while remaining:
                levels = best(1)
                if not levels:
                    break
                level = levels[0]
                level_raw = level.price.raw
                if (level_raw > limit) if buy else (level_raw < limit):
                    break
                maker = level.first()
                lots = maker.size.raw // lot_raw
                if lots <= remaining:
                    book.delete(maker, 0, 0, ts)
                    traded = lots
                else:
                    traded = remaining
                    book.update(
                        self._book_order(
                            maker.side, maker.price, self._quantity(lots - traded), maker.order_id
                        ),
                        0,
                        0,
                        ts,
                    )
                fills.append((maker.order_id, order_id, level_raw // tick_raw, traded))
                remaining -= traded
            if remaining and command.tif is _GTC:
                book.add(
                    self._book_order(
                        self._sides[command.side],
                        self._price(command.price),
                        self._quantity(remaining),
                        order_id,
                    ),
                    0,
                    0,
                    ts,
                )
            return fills
        if kind is _CANCEL:
            # The book finds an order by its id, but only on the side it is given, and a cancel
            # does not carry the side: delete on both (an unknown id is ignored). The book does
            # not say whether it found the order, so nothing is returned.
            book = self.books.get(command.market)
            if book is not None:
                zero = self._quantity(0)
                for side in self._sides.values():
                    book.delete(
                        self._book_order(side, self._price(0), zero, command.order_id),
                        0,
                        0,
                        command.ts,
                    )
            return []
        if kind is _DEPOSIT:
            return []
        raise _refuse(self.name, command)

    @staticmethod
    def fills(output: list[Any], command: Command) -> list[Fill]:
        return output if isinstance(command, PlaceOrder) else []


class _NullNautilusBook:
    """A book with nothing in it that takes every order."""

    def asks(self, depth: int | None = None) -> list[Any]:
        return []

    def bids(self, depth: int | None = None) -> list[Any]:
        return []

    def add(self, order: Any, flags: int, sequence: int, ts_event: int) -> None:
        pass

    def delete(self, order: Any, flags: int, sequence: int, ts_event: int) -> None:
        pass


class NullNautilusMatcher(NautilusMatcher):
    def __init__(self) -> None:
        self._init(
            lambda market: _NullNautilusBook(), _stub, _stub, _stub, {Side.BUY: 1, Side.SELL: 2}
        )


# --- the list of peers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """One peer: how to find it, build its adapter, and read its adapter's output."""

    name: str  # the distribution's name, as in requirements/bench-peers.txt
    key: str  # the prefix of its figures
    module: str  # what to import to know it is there
    what: str  # one line on what it is
    factory: Callable[[MarketConfig], Matcher]
    null_factory: Callable[[MarketConfig], Matcher]
    fills: Callable[[list[Any], Command], list[Fill]]
    ids_aligned: Callable[[Any, Command], bool] | None = None

    def version(self) -> str:
        """The installed version; ``ImportError`` when the peer is not installed."""
        version = importlib.metadata.version(self.name)  # PackageNotFoundError is an ImportError
        importlib.import_module(self.module)
        return version


PEERS: tuple[Peer, ...] = (
    Peer(
        "lightmatchingengine",
        "lme",
        "lightmatchingengine.lightmatchingengine",
        "pure Python",
        lambda config: LightMatcher(),
        lambda config: NullLightMatcher(),
        LightMatcher.fills,
        LightMatcher.ids_aligned,
    ),
    Peer(
        "liquibook",
        "liquibook",
        "liquibook",
        "C++ through SWIG, fills delivered to a Python order listener",
        lambda config: LiquibookMatcher(),
        lambda config: NullLiquibookMatcher(),
        LiquibookMatcher.fills,
    ),
    Peer(
        "nautilus_trader",
        "nautilus",
        "nautilus_trader.core.nautilus_pyo3",
        "Rust L3 order book, matching loop in Python",
        lambda config: NautilusMatcher(),
        lambda config: NullNautilusMatcher(),
        NautilusMatcher.fills,
    ),
)
