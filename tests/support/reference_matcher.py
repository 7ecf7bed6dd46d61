"""A deliberately naive matcher, written from ``docs/matching.md`` alone, to check the engine.

It answers every command with the same event objects as :class:`matcher.engine.Engine` (same
``seq`` and ``trade_id``), so a differential test can compare the two command by command.

Book layout
-----------
One plain list of resting orders per market, both sides mixed, in arrival order. The best price
is a ``min``/``max`` over the list, a level is a filter of it, time priority is the arrival
counter. Every question is an O(n) scan: slow, and easy to see correct.

Ledger
------
``available`` and ``locked`` are dicts keyed by ``(user_id, asset_code)``; a missing key is 0.
Fees collect in ``fee_totals`` keyed by asset code (the fee account, user 0).

Closed orders
-------------
``closed`` is a list of final ``OrderState``, appended as orders close, trimmed from the front.

Readings where the rules are silent
-----------------------------------
* ``Rejected.message`` is free text; compare rejections by ``code`` and ``order_id`` (see
  :func:`without_messages`). Rejections of a ``PlaceOrder`` (but ``INVALID_USER``), of a cancel
  by ``order_id`` and of ``GetOrder`` carry the command's ``order_id``; others carry none.
* A market buy whose funds allow fewer lots than the maker has takes them and stops there (the
  next try on the same maker gives ``qty == 0``); it does not walk on to later makers.
* A market buy's ``quote_quantity`` must be in ``1..2**62`` (negative: ``INVALID_QUANTITY``).
* ``Quote``: a negative amount is ``INVALID_ORDER``; by quote, ``fully_filled`` means the budget
  ran out inside the book having bought at least one lot.
* A closed order's status is ``model.enums.CLOSE_STATUS[reason]`` (a filled maker: ``filled``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from matcher.order_index import CLIENT_ID_MEMORY, CLIENT_ID_WINDOW_US
from model.commands import (
    Balances,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    GetOrder,
    OpenOrders,
    PlaceOrder,
    Quote,
)
from model.config import MarketConfig
from model.enums import (
    CLOSE_STATUS,
    CloseReason,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from model.events import (
    BalanceEntry,
    BalancesResult,
    Deposited,
    Event,
    OpenOrdersResult,
    OrderAccepted,
    OrderClosed,
    OrderRepeated,
    OrderRested,
    OrderState,
    QuoteResult,
    Rejected,
    TradeExecuted,
)
from model.ids import OrderId, TradeId, UserId
from model.numbers import MAX_BALANCE, MarketSpec
from model.rejects import RejectCode

__all__ = ["ReferenceEngine", "without_messages"]

_MAX_CLIENT_ORDER_ID = 64
_PPM = 1_000_000


def without_messages(events: list[Event]) -> list[Event]:
    """The same events with every ``Rejected.message`` blanked (the rules leave it free)."""
    return [
        msgspec.structs.replace(event, message="") if isinstance(event, Rejected) else event
        for event in events
    ]


def _rejected(code: RejectCode, order_id: OrderId | None = None) -> list[Event]:
    return [Rejected(code=code, message=code.value, order_id=order_id)]


def _request(cmd: PlaceOrder) -> tuple[object, ...]:
    """What a retry must repeat exactly: everything but the ids and the time."""
    return (
        cmd.market, cmd.side, cmd.type, cmd.price, cmd.quantity, cmd.quote_quantity, cmd.tif,
        cmd.post_only, cmd.stp,
    )  # fmt: skip


def _opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


@dataclass
class _Order:
    """An order while it is being matched, and later while it rests."""

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
    arrival: int
    remaining: int
    executed_quantity: int = 0
    executed_quote: int = 0


@dataclass
class _Taker:
    """What an incoming order still wants and still holds while it matches."""

    order: _Order
    wanted: int
    lock_left: int
    reason: CloseReason | None = None
    events: list[Event] = field(default_factory=list)


class ReferenceEngine:
    """Books and balances as lists and dicts; ``apply`` follows docs/matching.md step by step."""

    def __init__(
        self, config: MarketConfig, *, max_open_orders: int = 1000, closed_memory: int = 10_000
    ) -> None:
        self.config = config
        self.max_open_orders = max_open_orders
        self.closed_memory = closed_memory
        self.closed: list[OrderState] = []
        # Every order accepted with a client order id, in acceptance order (retries look here).
        self.placed: list[PlaceOrder] = []
        self.books: dict[str, list[_Order]] = {symbol: [] for symbol in config.markets}
        self.available: dict[tuple[UserId, str], int] = {}
        self.locked: dict[tuple[UserId, str], int] = {}
        self.fee_totals: dict[str, int] = {}
        self.seq = 0
        self.trade_id = 0
        self.arrivals = 0

    # --- reading state ---------------------------------------------------------------------

    def levels(self, symbol: str, side: Side) -> list[tuple[int, int]]:
        """The L2 side of a book, best first, as ``(price_ticks, total_lots)``."""
        totals: dict[int, int] = {}
        for order in self.books[symbol]:
            if order.side is side:
                totals[order.price] = totals.get(order.price, 0) + order.remaining
        return sorted(totals.items(), reverse=side is Side.BUY)

    def balances(self) -> dict[tuple[UserId, str], tuple[int, int]]:
        """Every (user, asset) with a non-zero balance, as ``(available, locked)``."""
        keys = {k for k, v in self.available.items() if v} | {
            k for k, v in self.locked.items() if v
        }
        return {k: (self.available.get(k, 0), self.locked.get(k, 0)) for k in sorted(keys)}

    def fees(self) -> dict[str, int]:
        """What the fee account collected, per asset (non-zero only)."""
        return {asset: amount for asset, amount in sorted(self.fee_totals.items()) if amount}

    def open_orders(self) -> list[_Order]:
        """Every resting order of every market."""
        return [order for book in self.books.values() for order in book]

    # --- the one entry point ---------------------------------------------------------------

    def apply(self, command: Command) -> list[Event]:
        """Apply one command and return its events."""
        if command.user_id <= 0:
            # Answered before the command is read: no order id, even for a PlaceOrder.
            return _rejected(RejectCode.INVALID_USER)
        if isinstance(command, Deposit):
            return self._deposit(command)
        if isinstance(command, PlaceOrder):
            return self._place(command)
        if isinstance(command, CancelOrder):
            return self._cancel(command)
        if isinstance(command, CancelAll):
            return self._cancel_all(command)
        if isinstance(command, Quote):
            return self._quote(command)
        if isinstance(command, GetOrder):
            return self._get_order(command)
        if isinstance(command, OpenOrders):
            return self._open_orders(command)
        if isinstance(command, Balances):
            return self._balances(command)
        raise TypeError(f"not a command: {command!r}")

    # --- small helpers ---------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _move(
        self, book: dict[tuple[UserId, str], int], key: tuple[UserId, str], delta: int
    ) -> None:
        book[key] = book.get(key, 0) + delta

    def _find_open(self, order_id: OrderId) -> _Order | None:
        for order in self.open_orders():
            if order.order_id == order_id:
                return order
        return None

    def _remembered(self, order_id: OrderId) -> OrderState | None:
        for state in self.closed:
            if state.order_id == order_id:
                return state
        return None

    def _remember(self, order: _Order, reason: CloseReason) -> None:
        """Keep a closing order's final state; forget the oldest beyond ``closed_memory``."""
        self.closed.append(self._state(order, CLOSE_STATUS[reason]))
        while len(self.closed) > self.closed_memory:
            self.closed.pop(0)

    def _earlier(self, cmd: PlaceOrder) -> PlaceOrder | None:
        """The user's order under ``cmd``'s client order id among their last
        ``CLIENT_ID_MEMORY`` accepted with one, if not older than the window."""
        mine = [p for p in self.placed if p.user_id == cmd.user_id][-CLIENT_ID_MEMORY:]
        for first in mine:
            if first.client_order_id == cmd.client_order_id:
                return first if first.ts >= cmd.ts - CLIENT_ID_WINDOW_US else None
        return None

    def _find_by_client_id(self, user_id: UserId, client_order_id: str) -> _Order | None:
        for order in self.open_orders():
            if order.user_id == user_id and order.client_order_id == client_order_id:
                return order
        return None

    def _best_price(self, symbol: str, side: Side) -> int | None:
        prices = [order.price for order in self.books[symbol] if order.side is side]
        if not prices:
            return None
        return max(prices) if side is Side.BUY else min(prices)

    def _level(self, symbol: str, side: Side, price: int) -> list[_Order]:
        """The orders resting at ``price`` on ``side``, oldest first."""
        orders = [o for o in self.books[symbol] if o.side is side and o.price == price]
        return sorted(orders, key=lambda o: o.arrival)

    @staticmethod
    def _beyond_limit(side: Side, limit: int, price: int) -> bool:
        """Is ``price`` worse than a ``side`` order's ``limit`` allows?"""
        return price > limit if side is Side.BUY else price < limit

    @staticmethod
    def _locked_asset(spec: MarketSpec, side: Side) -> str:
        return spec.quote.code if side is Side.BUY else spec.base.code

    # --- deposit ---------------------------------------------------------------------------

    def _deposit(self, cmd: Deposit) -> list[Event]:
        if cmd.asset not in self.config.assets:
            return _rejected(RejectCode.INVALID_ASSET)
        if cmd.amount <= 0:
            return _rejected(RejectCode.INVALID_AMOUNT)
        key = (cmd.user_id, cmd.asset)
        total = sum(v for (_, asset), v in self.available.items() if asset == cmd.asset)
        total += sum(v for (_, asset), v in self.locked.items() if asset == cmd.asset)
        if total + self.fees().get(cmd.asset, 0) + cmd.amount > MAX_BALANCE:
            return _rejected(RejectCode.BALANCE_LIMIT)
        self._move(self.available, key, cmd.amount)
        return [
            Deposited(
                seq=self._next_seq(),
                ts=cmd.ts,
                user_id=cmd.user_id,
                asset=cmd.asset,
                amount=cmd.amount,
            )
        ]

    # --- place: checks ---------------------------------------------------------------------

    def _place(self, cmd: PlaceOrder) -> list[Event]:
        spec = self.config.markets.get(cmd.market)
        if spec is None:
            return _rejected(RejectCode.INVALID_MARKET, cmd.order_id)
        shape = self._shape_problem(cmd, spec)
        if shape is not None:
            return _rejected(shape, cmd.order_id)
        if self._find_open(cmd.order_id) is not None or self._remembered(cmd.order_id) is not None:
            return _rejected(RejectCode.DUPLICATE_ORDER_ID, cmd.order_id)
        if cmd.client_order_id is not None:
            first = self._earlier(cmd)
            if first is not None:
                if _request(first) != _request(cmd):
                    return _rejected(RejectCode.DUPLICATE_CLIENT_ORDER_ID, first.order_id)
                order = self._find_open(first.order_id)
                state = self._state(order) if order else self._remembered(first.order_id)
                return [OrderRepeated(order_id=first.order_id, state=state)]
            if self._find_by_client_id(cmd.user_id, cmd.client_order_id) is not None:
                return _rejected(RejectCode.DUPLICATE_CLIENT_ORDER_ID, cmd.order_id)
        is_limit = cmd.type is OrderType.LIMIT
        if is_limit and cmd.tif is TimeInForce.GTC:
            mine = [o for o in self.open_orders() if o.user_id == cmd.user_id]
            if len(mine) >= self.max_open_orders:
                return _rejected(RejectCode.TOO_MANY_OPEN_ORDERS, cmd.order_id)
        asset = self._locked_asset(spec, cmd.side)
        available = self.available.get((cmd.user_id, asset), 0)
        if cmd.side is Side.SELL:
            lock = cmd.quantity * spec.base_atoms_per_lot
        elif is_limit:
            lock = spec.notional(cmd.price, cmd.quantity)
        elif cmd.quote_quantity:
            lock = cmd.quote_quantity
        else:
            lock = available
        if lock == 0 or lock > available:
            return _rejected(RejectCode.INSUFFICIENT_FUNDS, cmd.order_id)
        other_side = _opposite(cmd.side)
        best = self._best_price(cmd.market, other_side)
        if cmd.post_only and best is not None and not self._beyond_limit(cmd.side, cmd.price, best):
            return _rejected(RejectCode.POST_ONLY_WOULD_TAKE, cmd.order_id)
        if not is_limit and best is None:
            return _rejected(RejectCode.NO_LIQUIDITY, cmd.order_id)
        affordable = best is None or lock >= spec.notional(best, 1)
        if not is_limit and cmd.side is Side.BUY and not affordable:
            code = (
                RejectCode.INVALID_QUANTITY if cmd.quote_quantity else RejectCode.INSUFFICIENT_FUNDS
            )
            return _rejected(code, cmd.order_id)
        if cmd.tif is TimeInForce.FOK and not self._fok_fillable(cmd):
            return _rejected(RejectCode.FOK_NOT_FILLABLE, cmd.order_id)
        return self._accept_and_match(cmd, spec, asset, lock)

    @staticmethod
    def _shape_problem(cmd: PlaceOrder, spec: MarketSpec) -> RejectCode | None:
        """Step 2 of the checks: field combinations that make no order."""
        if cmd.client_order_id is not None and not (
            1 <= len(cmd.client_order_id) <= _MAX_CLIENT_ORDER_ID
        ):
            return RejectCode.INVALID_ORDER
        quantity_ok = 1 <= cmd.quantity <= spec.max_quantity_lots
        if cmd.type is OrderType.LIMIT:
            if not 1 <= cmd.price <= spec.max_price_ticks:
                return RejectCode.INVALID_PRICE
            if not quantity_ok:
                return RejectCode.INVALID_QUANTITY
            if cmd.quote_quantity != 0:
                return RejectCode.INVALID_ORDER
            if cmd.post_only and cmd.tif is not TimeInForce.GTC:
                return RejectCode.INVALID_ORDER
            return None
        if cmd.price != 0 or cmd.post_only or cmd.tif is TimeInForce.FOK:
            return RejectCode.INVALID_ORDER
        if cmd.quote_quantity != 0:
            if cmd.side is Side.SELL or cmd.quantity != 0:
                return RejectCode.INVALID_ORDER
            # The rules name only the upper bound; a negative amount can lock nothing either.
            if not 1 <= cmd.quote_quantity <= MAX_BALANCE:
                return RejectCode.INVALID_QUANTITY
            return None
        if not quantity_ok:
            return RejectCode.INVALID_QUANTITY
        return None

    def _fok_fillable(self, cmd: PlaceOrder) -> bool:
        """Step 9: can the book fill all of a FOK order now, self-trade prevention included?"""
        other_side = _opposite(cmd.side)
        candidates = [
            o
            for o in self.books[cmd.market]
            if o.side is other_side and not self._beyond_limit(cmd.side, cmd.price, o.price)
        ]
        # Best price first, then oldest first: the order in which matching would meet them.
        sign = -1 if other_side is Side.BUY else 1
        candidates.sort(key=lambda o: (sign * o.price, o.arrival))
        found = 0
        for order in candidates:
            if order.user_id == cmd.user_id:
                if cmd.stp is SelfTradePrevention.CANCEL_MAKER:
                    continue
                return False
            found += order.remaining
            if found >= cmd.quantity:
                return True
        return False

    # --- place: effects --------------------------------------------------------------------

    def _accept_and_match(
        self, cmd: PlaceOrder, spec: MarketSpec, asset: str, lock: int
    ) -> list[Event]:
        key = (cmd.user_id, asset)
        self._move(self.available, key, -lock)
        self._move(self.locked, key, lock)
        if cmd.client_order_id is not None:
            self.placed = [
                p
                for p in self.placed
                if (p.user_id, p.client_order_id) != (cmd.user_id, cmd.client_order_id)
            ]
            self.placed.append(cmd)
        is_limit = cmd.type is OrderType.LIMIT
        tif = cmd.tif if is_limit else TimeInForce.IOC
        accepted = OrderAccepted(
            seq=self._next_seq(),
            ts=cmd.ts,
            market=cmd.market,
            order_id=cmd.order_id,
            user_id=cmd.user_id,
            side=cmd.side,
            type=cmd.type,
            tif=tif,
            price=cmd.price,
            quantity=cmd.quantity,
            quote_quantity=cmd.quote_quantity,
            post_only=cmd.post_only,
            client_order_id=cmd.client_order_id,
            locked=lock,
            stp=cmd.stp,
        )
        self.arrivals += 1
        order = _Order(
            order_id=cmd.order_id,
            user_id=cmd.user_id,
            market=cmd.market,
            side=cmd.side,
            type=cmd.type,
            tif=tif,
            price=cmd.price,
            quantity=cmd.quantity,
            client_order_id=cmd.client_order_id,
            post_only=cmd.post_only,
            stp=cmd.stp,
            ts=cmd.ts,
            arrival=self.arrivals,
            remaining=cmd.quantity,
        )
        by_quote = not is_limit and cmd.side is Side.BUY and cmd.quote_quantity != 0
        wanted = spec.max_quantity_lots if by_quote else cmd.quantity
        taker = _Taker(order=order, wanted=wanted, lock_left=lock, events=[accepted])
        self._match(taker, spec, by_quote)

        if taker.reason is None and taker.wanted == 0:
            taker.reason = CloseReason.FILLED
        if taker.reason is None and is_limit and tif is TimeInForce.GTC:
            self.books[cmd.market].append(order)
            taker.events.append(
                OrderRested(
                    seq=self._next_seq(),
                    ts=cmd.ts,
                    market=cmd.market,
                    order_id=cmd.order_id,
                    user_id=cmd.user_id,
                    side=cmd.side,
                    price=cmd.price,
                    remaining=order.remaining,
                )
            )
            return taker.events
        reason = taker.reason
        if reason is None:
            reason = CloseReason.IOC_REST if is_limit else CloseReason.MARKET_REST
        if cmd.side is Side.BUY:
            released = taker.lock_left
        else:
            released = order.remaining * spec.base_atoms_per_lot
        self._move(self.locked, key, -released)
        self._move(self.available, key, released)
        self._remember(order, reason)
        taker.events.append(
            OrderClosed(
                seq=self._next_seq(),
                ts=cmd.ts,
                market=cmd.market,
                order_id=cmd.order_id,
                user_id=cmd.user_id,
                side=cmd.side,
                price=cmd.price,
                remaining=order.remaining,
                released=released,
                reason=reason,
                was_resting=False,
            )
        )
        return taker.events

    def _match(self, taker: _Taker, spec: MarketSpec, by_quote: bool) -> None:
        """Effect 2: trade level by level, oldest maker first, until a stop or nothing wanted."""
        order = taker.order
        other_side = _opposite(order.side)
        is_limit = order.type is OrderType.LIMIT
        while taker.wanted > 0 and taker.reason is None:
            price = self._best_price(order.market, other_side)
            if price is None:
                return
            if is_limit and self._beyond_limit(order.side, order.price, price):
                return
            for maker in self._level(order.market, other_side, price):
                if taker.wanted == 0 or taker.reason is not None:
                    break
                if maker.user_id == order.user_id:
                    self._self_trade(taker, maker)
                    continue
                # A market buy short of funds takes part of a maker and then stops on the same
                # maker (qty 0); it never goes on to later orders of the level.
                while maker.remaining > 0 and taker.wanted > 0 and taker.reason is None:
                    self._trade(taker, maker, spec, by_quote)

    def _self_trade(self, taker: _Taker, maker: _Order) -> None:
        stp = taker.order.stp
        if stp is SelfTradePrevention.CANCEL_TAKER:
            taker.reason = CloseReason.SELF_TRADE
            return
        taker.events.append(self._close_resting(maker, CloseReason.SELF_TRADE, taker.order.ts))
        if stp is SelfTradePrevention.CANCEL_BOTH:
            taker.reason = CloseReason.SELF_TRADE

    def _trade(self, taker: _Taker, maker: _Order, spec: MarketSpec, by_quote: bool) -> None:
        order = taker.order
        price = maker.price
        tpl = spec.quote_atoms_per_tick_lot
        qty = min(taker.wanted, maker.remaining)
        is_market_buy = order.type is OrderType.MARKET and order.side is Side.BUY
        if is_market_buy and spec.notional(price, qty) > taker.lock_left:
            qty = taker.lock_left // (price * tpl)
            if qty == 0:
                taker.reason = CloseReason.FILLED if by_quote else CloseReason.MARKET_REST
                return
        base_amount = qty * spec.base_atoms_per_lot
        quote_amount = spec.notional(price, qty)
        base, quote = spec.base.code, spec.quote.code
        if order.side is Side.BUY:
            refund = (order.price - price) * qty * tpl if order.type is OrderType.LIMIT else 0
            taker_fee = base_amount * spec.taker_fee_ppm // _PPM
            maker_fee = quote_amount * spec.maker_fee_ppm // _PPM
            self._move(self.locked, (order.user_id, quote), -(quote_amount + refund))
            self._move(self.available, (order.user_id, quote), refund)
            self._move(self.available, (order.user_id, base), base_amount - taker_fee)
            self._move(self.locked, (maker.user_id, base), -base_amount)
            self._move(self.available, (maker.user_id, quote), quote_amount - maker_fee)
            self.fee_totals[base] = self.fee_totals.get(base, 0) + taker_fee
            self.fee_totals[quote] = self.fee_totals.get(quote, 0) + maker_fee
            taker.lock_left -= quote_amount + refund
        else:
            refund = 0
            taker_fee = quote_amount * spec.taker_fee_ppm // _PPM
            maker_fee = base_amount * spec.maker_fee_ppm // _PPM
            self._move(self.locked, (order.user_id, base), -base_amount)
            self._move(self.available, (order.user_id, quote), quote_amount - taker_fee)
            self._move(self.locked, (maker.user_id, quote), -quote_amount)
            self._move(self.available, (maker.user_id, base), base_amount - maker_fee)
            self.fee_totals[quote] = self.fee_totals.get(quote, 0) + taker_fee
            self.fee_totals[base] = self.fee_totals.get(base, 0) + maker_fee
            taker.lock_left -= base_amount
        taker.wanted -= qty
        if not by_quote:
            order.remaining -= qty
        order.executed_quantity += qty
        order.executed_quote += quote_amount
        maker.remaining -= qty
        maker.executed_quantity += qty
        maker.executed_quote += quote_amount
        self.trade_id += 1
        taker.events.append(
            TradeExecuted(
                seq=self._next_seq(),
                ts=order.ts,
                market=order.market,
                trade_id=TradeId(self.trade_id),
                price=price,
                quantity=qty,
                taker_side=order.side,
                maker_order_id=maker.order_id,
                taker_order_id=order.order_id,
                maker_user_id=maker.user_id,
                taker_user_id=order.user_id,
                base_amount=base_amount,
                quote_amount=quote_amount,
                maker_fee=maker_fee,
                taker_fee=taker_fee,
                taker_refund=refund,
                maker_remaining=maker.remaining,
                taker_remaining=order.remaining,
            )
        )
        if maker.remaining == 0:
            self.books[maker.market].remove(maker)
            self._remember(maker, CloseReason.FILLED)

    def _close_resting(self, order: _Order, reason: CloseReason, ts: int) -> OrderClosed:
        """Take a resting order off its book and release what it holds."""
        spec = self.config.markets[order.market]
        if order.side is Side.BUY:
            released = spec.notional(order.price, order.remaining)
        else:
            released = order.remaining * spec.base_atoms_per_lot
        key = (order.user_id, self._locked_asset(spec, order.side))
        self._move(self.locked, key, -released)
        self._move(self.available, key, released)
        self.books[order.market].remove(order)
        self._remember(order, reason)
        return OrderClosed(
            seq=self._next_seq(),
            ts=ts,
            market=order.market,
            order_id=order.order_id,
            user_id=order.user_id,
            side=order.side,
            price=order.price,
            remaining=order.remaining,
            released=released,
            reason=reason,
            was_resting=True,
        )

    # --- cancel ----------------------------------------------------------------------------

    def _cancel(self, cmd: CancelOrder) -> list[Event]:
        if cmd.order_id is not None:
            order = self._find_open(cmd.order_id)
        elif cmd.client_order_id is not None:
            order = self._find_by_client_id(cmd.user_id, cmd.client_order_id)
        else:
            return _rejected(RejectCode.INVALID_ORDER)
        if (
            order is None
            or order.user_id != cmd.user_id
            or (cmd.market is not None and order.market != cmd.market)
        ):
            return _rejected(RejectCode.UNKNOWN_ORDER, cmd.order_id)
        closed = self._close_resting(order, CloseReason.USER_CANCEL, cmd.ts)
        return [closed, self._state(order, OrderStatus.CANCELED)]

    def _cancel_all(self, cmd: CancelAll) -> list[Event]:
        if cmd.market is not None and cmd.market not in self.config.markets:
            return _rejected(RejectCode.INVALID_MARKET)
        mine = [
            o
            for o in self.open_orders()
            if o.user_id == cmd.user_id and cmd.market in (None, o.market)
        ]
        mine.sort(key=lambda o: o.order_id)
        events: list[Event] = [self._close_resting(o, CloseReason.CANCEL_ALL, cmd.ts) for o in mine]
        final = [self._state(o, OrderStatus.CANCELED) for o in mine]
        events.append(OpenOrdersResult(orders=final))
        return events

    # --- queries ---------------------------------------------------------------------------

    def _quote(self, cmd: Quote) -> list[Event]:
        spec = self.config.markets.get(cmd.market)
        if spec is None:
            return _rejected(RejectCode.INVALID_MARKET)
        by_quote = cmd.quote_quantity != 0
        if (
            by_quote == (cmd.quantity != 0)
            or (by_quote and cmd.side is not Side.BUY)
            # The rules do not say it; a negative amount asks for nothing sensible.
            or min(cmd.quantity, cmd.quote_quantity) < 0
        ):
            return _rejected(RejectCode.INVALID_ORDER)
        levels = self.levels(cmd.market, _opposite(cmd.side))
        filled = spent = worst = 0
        fully = False
        for price, total in levels:
            if by_quote:
                take = min(
                    total, (cmd.quote_quantity - spent) // (price * spec.quote_atoms_per_tick_lot)
                )
            else:
                take = min(total, cmd.quantity - filled)
            if take > 0:
                filled += take
                spent += spec.notional(price, take)
                worst = price
            if by_quote and take < total:
                # The budget ran out before the book did; a budget that buys not one lot counts
                # as not filled (the rules leave ``fully_filled`` undefined; this is the engine's).
                fully = filled > 0
                break
            if not by_quote and filled == cmd.quantity:
                fully = True
                break
        return [
            QuoteResult(
                market=cmd.market,
                side=cmd.side,
                quantity=filled,
                quote_amount=spent,
                worst_price=worst,
                fully_filled=fully,
            )
        ]

    @staticmethod
    def _state(order: _Order, status: OrderStatus | None = None) -> OrderState:
        """The public view of an order; ``status`` once closed, else new or partially filled."""
        if status is None:
            status = OrderStatus.PARTIALLY_FILLED if order.executed_quantity else OrderStatus.NEW
        return OrderState(
            market=order.market,
            order_id=order.order_id,
            user_id=order.user_id,
            side=order.side,
            type=order.type,
            tif=order.tif,
            price=order.price,
            quantity=order.quantity,
            remaining=order.remaining,
            executed_quantity=order.executed_quantity,
            executed_quote=order.executed_quote,
            status=status,
            client_order_id=order.client_order_id,
            post_only=order.post_only,
            ts=order.ts,
            stp=order.stp,
        )

    def _get_order(self, cmd: GetOrder) -> list[Event]:
        order = self._find_open(cmd.order_id)
        state = self._state(order) if order is not None else self._remembered(cmd.order_id)
        if state is None or state.user_id != cmd.user_id:
            return _rejected(RejectCode.UNKNOWN_ORDER, cmd.order_id)
        return [state]

    def _open_orders(self, cmd: OpenOrders) -> list[Event]:
        if cmd.market is not None and cmd.market not in self.config.markets:
            return _rejected(RejectCode.INVALID_MARKET)
        mine = [
            o
            for o in self.open_orders()
            if o.user_id == cmd.user_id and cmd.market in (None, o.market)
        ]
        mine.sort(key=lambda o: (o.ts, o.order_id))
        return [OpenOrdersResult(orders=[self._state(o) for o in mine])]

    def _balances(self, cmd: Balances) -> list[Event]:
        entries = [
            BalanceEntry(
                asset=code,
                available=self.available.get((cmd.user_id, code), 0),
                locked=self.locked.get((cmd.user_id, code), 0),
            )
            for code in sorted(self.config.assets)
        ]
        return [BalancesResult(balances=entries)]
