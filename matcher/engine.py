"""The matching engine: ``Engine.apply(command) -> list[Event]``. Pure: no I/O, clock or randomness.

Same commands in, same events and state out; that is what makes recovery exact.

How an order is processed
-------------------------
1. Every check runs before anything changes; a failed check returns one ``Rejected`` and the
   engine is untouched (this includes FOK fillability, post-only crossing and funds).
2. ``OrderAccepted``: the order's funds move from available to locked. A limit buy locks
   ``price * quantity`` in quote, a sell locks its base quantity, a market buy by quote locks
   the quote amount, and a market buy by base quantity locks the buyer's whole available quote
   for the length of this one command (so it can never spend more than the buyer has).
3. Matching against the opposite side in price-time priority. Each fill settles at the maker's
   price; a buying taker's lock is consumed at its own limit price and the difference
   (``taker_refund``) goes straight back to available. Fees are fractions (ppm) of what each
   side receives, rounded down, credited to the fee account.
4. Self-trade prevention, by the taker's ``stp``: cancel the taker's rest (default), cancel the
   resting maker and go on, or both.
5. The rest of a GTC limit order rests (``OrderRested``); anything else ends with
   ``OrderClosed`` releasing what is still locked.

Closed orders
-------------
The engine remembers the final state of the last ``closed_memory`` orders it closed (oldest
forgotten first), so a client can read an order it just placed even before the persist agent has
stored it; older ones are read from PostgreSQL. This memory is part of the state and snapshot.

Retries
-------
A ``PlaceOrder`` with a ``client_order_id`` the user gave an accepted order within the retry
window (:data:`matcher.order_index.CLIENT_ID_WINDOW_US`, among the user's last
:data:`~matcher.order_index.CLIENT_ID_MEMORY` such orders in this shard) places nothing: the same
request gets ``OrderRepeated`` with the earlier order as it stands now (open, filled or
canceled), a different request under that id gets ``DUPLICATE_CLIENT_ORDER_ID``. A rejected order
leaves no trace, so its retry is judged afresh. This memory is part of the state and snapshot.

Known limitation: order ids are checked for uniqueness against open and remembered orders only;
the edge makes them unique (snowflake ids), the engine cannot remember every id ever seen.

Where the state lives
---------------------
The engine holds its parts and the two counters (``seq``, ``trade_id``); each part keeps its own
invariants and is changed only through its own methods:

* the books, one per market (:mod:`matcher.market`, :mod:`matcher.book`);
* the balances (:mod:`matcher.ledger`: locks, releases, deposits and the settlement of a fill);
* the order index (:mod:`matcher.order_index`: open orders by id, user and clientOrderId, and the
  memory of closed orders).

The queries (:mod:`matcher.queries`) and the snapshot (:mod:`matcher.snapshot`) take the parts
they read; neither knows the engine.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any, Final, cast

from msgspec.structs import astuple

from matcher import queries
from matcher import snapshot as _snapshot
from matcher.book import BookSide, Order
from matcher.ledger import Account, Ledger
from matcher.market import Market
from matcher.order_index import OrderIndex, order_state, same_request
from matcher.validation import order_shape_problem
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
    StateHash,
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
    Deposited,
    Event,
    OpenOrdersResult,
    OrderAccepted,
    OrderClosed,
    OrderRepeated,
    OrderRested,
    OrderState,
    Rejected,
    StateHashResult,
    TradeExecuted,
)
from model.ids import OrderId, TradeId, UserId
from model.numbers import MAX_BALANCE
from model.rejects import RejectCode

__all__ = ["DEFAULT_MAX_OPEN_ORDERS", "Engine", "Market"]

DEFAULT_MAX_OPEN_ORDERS = 1000
DEFAULT_CLOSED_MEMORY = 10_000
_PPM = 1_000_000

_CANCEL_TAKER: Final = SelfTradePrevention.CANCEL_TAKER
_CANCEL_BOTH: Final = SelfTradePrevention.CANCEL_BOTH
_CANCEL_MAKER: Final = SelfTradePrevention.CANCEL_MAKER
_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_LIMIT: Final = OrderType.LIMIT
_GTC: Final = TimeInForce.GTC
_IOC: Final = TimeInForce.IOC
_FILLED: Final = OrderStatus.FILLED


#: A CancelOrder's fields, in its declared (and wire) order.
_CancelFields = tuple[UserId, int, str | None, OrderId | None, str | None]

#: A PlaceOrder's fields, in its declared (and wire) order.
_PlaceFields = tuple[
    UserId, int, OrderId, str, Side, OrderType, int, int, int, TimeInForce, bool, str | None,
    SelfTradePrevention,
]  # fmt: skip


def _place_fields(cmd: PlaceOrder) -> _PlaceFields:
    """Every field of ``cmd`` at once: one C call, where each attribute read of a command (a
    msgspec Struct) is a lookup of its own. ``tests/unit/matcher/test_scenarios.py`` checks the
    order against ``PlaceOrder``'s."""
    return cast(_PlaceFields, astuple(cmd))


def _cancel_fields(cmd: CancelOrder) -> _CancelFields:
    """Every field of ``cmd`` at once, as :func:`_place_fields` (checked by the same test)."""
    return cast(_CancelFields, astuple(cmd))


def _reject(code: RejectCode, message: str, order_id: OrderId | None = None) -> list[Event]:
    return [Rejected(code=code, message=message, order_id=order_id)]


class Engine:
    """Order books and balances of one shard's markets."""

    def __init__(
        self,
        config: MarketConfig,
        *,
        max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS,
        closed_memory: int = DEFAULT_CLOSED_MEMORY,
    ) -> None:
        self.config = config
        self.max_open_orders = max_open_orders
        self.ledger = Ledger(sorted(config.assets))
        asset = self.ledger.asset_index
        self.markets: dict[str, Market] = {
            symbol: Market(spec, asset[spec.base.code], asset[spec.quote.code])
            for symbol, spec in sorted(config.markets.items())
        }
        self.index = OrderIndex(closed_memory)
        self.seq = 0
        self.trade_id = 0
        self._handlers: dict[type[Any], Callable[[Any], list[Event]]] = {
            PlaceOrder: self._place,
            CancelOrder: self._cancel,
            CancelAll: self._cancel_all,
            Deposit: self._deposit,
            Quote: partial(queries.quote, self.markets),
            GetOrder: partial(queries.get_order, self.index),
            OpenOrders: partial(queries.open_orders, self.markets, self.index),
            Balances: partial(queries.balances, self.ledger),
            StateHash: self._state_hash,
        }

    # Views of the order index for the invariants, the audit and the tests (never the hot path).

    @property
    def orders(self) -> dict[OrderId, Order]:
        """Open orders by id (read-only: :class:`OrderIndex` changes it)."""
        return self.index.orders

    @property
    def user_orders(self) -> dict[UserId, dict[OrderId, Order]]:
        """Open orders by user, then id (a copy)."""
        return {user: mine.ids() for user, mine in self.index.by_user.items()}

    @property
    def client_ids(self) -> dict[tuple[UserId, str], Order]:
        """Open orders by (user, clientOrderId) (read-only)."""
        return self.index.client_ids

    @property
    def closed(self) -> OrderedDict[OrderId, OrderState]:
        """The remembered closed orders' final states, oldest first (a copy)."""
        return OrderedDict((state.order_id, state) for state in self.index.closed_states())

    @property
    def closed_memory(self) -> int:
        """How many closed orders the engine remembers."""
        return self.index.closed_memory

    # --- the one entry point -------------------------------------------------------------

    def apply(self, command: Command) -> list[Event]:
        """Apply one command; return its events (state events numbered by ``seq``)."""
        if command.user_id <= 0:
            return _reject(RejectCode.INVALID_USER, f"user_id must be positive: {command.user_id}")
        # The commands of the hot path: a direct call, not through the table.
        if type(command) is PlaceOrder:
            return self._place(command)
        if type(command) is CancelOrder:
            return self._cancel(command)
        return self._handlers[type(command)](command)

    # --- placing -------------------------------------------------------------------------

    def _place(self, cmd: PlaceOrder) -> list[Event]:
        (user, ts, order_id, symbol, side, order_type, price, quantity, quote_quantity, tif,
         post_only, client_order_id, stp) = _place_fields(cmd)  # fmt: skip
        market = self.markets.get(symbol)
        if market is None:
            return _reject(RejectCode.INVALID_MARKET, f"unknown market {symbol!r}", order_id)
        problem = order_shape_problem(cmd, market.spec)
        if problem is not None:
            return _reject(problem[0], problem[1], order_id)
        index = self.index
        if order_id in index.orders or order_id in index.closed:
            return _reject(RejectCode.DUPLICATE_ORDER_ID, f"order {order_id} exists", order_id)
        if client_order_id is not None:
            first = index.earlier(cmd)
            if first is not None:
                return self._repeat(cmd, first)
            if (user, client_order_id) in index.client_ids:  # open since before the window
                return _reject(
                    RejectCode.DUPLICATE_CLIENT_ORDER_ID,
                    f"clientOrderId {client_order_id!r} is in use by an open order",
                    order_id,
                )
        is_limit = order_type is _LIMIT
        is_buy = side is _BUY
        if is_limit and tif is _GTC:
            mine = index.by_user.get(user)
            if mine is not None and mine.count >= self.max_open_orders:
                return _reject(
                    RejectCode.TOO_MANY_OPEN_ORDERS,
                    f"at most {self.max_open_orders} open orders per user",
                    order_id,
                )
        asset = market.quote if is_buy else market.base
        account = self.ledger.accounts.get(user)  # opened only once an order is accepted
        available = 0 if account is None else account.available[asset]
        if is_limit:
            # The notional (MarketSpec.notional) for a buy, the base quantity for a sell.
            lock = price * quantity * market.tpl if is_buy else quantity * market.bpl
        elif is_buy:
            lock = quote_quantity or available
        else:
            lock = quantity * market.bpl
        if lock == 0 or lock > available:
            code = self.ledger.asset_codes[asset]
            return _reject(
                RejectCode.INSUFFICIENT_FUNDS,
                f"needs {lock} {code} atoms, {available} available",
                order_id,
            )
        book = market.book
        own, opposite = (book.bids, book.asks) if is_buy else (book.asks, book.bids)
        if post_only and opposite.crosses(side, price):
            return _reject(
                RejectCode.POST_ONLY_WOULD_TAKE, "post-only order would take liquidity", order_id
            )
        if not is_limit:
            best = opposite.best_level
            if best is None:
                return _reject(
                    RejectCode.NO_LIQUIDITY, f"no {symbol} orders to trade with", order_id
                )
            if is_buy and lock < best.price * market.tpl:
                return _reject(
                    RejectCode.INVALID_QUANTITY
                    if quote_quantity
                    else RejectCode.INSUFFICIENT_FUNDS,
                    f"{lock} quote atoms buy less than one lot at the best price",
                    order_id,
                )
        if tif is TimeInForce.FOK and not self._fillable(market, cmd):
            return _reject(
                RejectCode.FOK_NOT_FILLABLE, "the book cannot fill the whole order now", order_id
            )
        # Accepted: lock the funds, remember the clientOrderId, then match and rest or close.
        assert account is not None  # it held the funds to lock
        account.lock(asset, lock)
        if client_order_id is not None:
            index.note(cmd)
        if not is_limit:
            tif = _IOC
        self.seq += 1
        # Positional construction: these run for every order and are 4x cheaper than keywords.
        # Field order: see OrderAccepted, OrderRested, OrderState (the differential test checks).
        events: list[Event] = [
            OrderAccepted(
                self.seq, ts, symbol, order_id, user, side, order_type, tif, price, quantity,
                quote_quantity, post_only, client_order_id, lock, stp,
            )
        ]  # fmt: skip
        best = opposite.best_level
        reason: CloseReason | None
        if best is None or (is_limit and (best.price > price if is_buy else best.price < price)):
            # Nothing to trade with: skip the matching loop.
            budget, reason, remaining, executed, spent = lock, None, quantity, 0, 0
        else:
            budget, reason, remaining, executed, spent = self._match(
                market, opposite, order_id, user, is_buy, is_limit, price, quantity, stp, ts,
                account, lock, events,
            )  # fmt: skip
        if reason is None and tif is _GTC:
            order = Order(
                order_id, user, symbol, side, price, quantity, remaining, spent, client_order_id,
                post_only, stp, ts,
            )  # fmt: skip
            own.add(order)
            index.add(order)
            self.seq += 1
            events.append(OrderRested(self.seq, ts, symbol, order_id, user, side, price, remaining))
            return events
        if reason is None:
            reason = CloseReason.IOC_REST if is_limit else CloseReason.MARKET_REST
        released = budget if is_buy else remaining * market.bpl
        account.release(asset, released)
        index.remember(
            OrderState(
                symbol, order_id, user, side, order_type, tif, price, quantity, remaining,
                executed, spent, CLOSE_STATUS[reason], client_order_id, post_only, ts, stp,
            )
        )  # fmt: skip
        self.seq += 1
        events.append(
            OrderClosed(
                self.seq, ts, symbol, order_id, user, side, price, remaining, released, reason,
                False,
            )
        )  # fmt: skip
        return events

    def _repeat(self, cmd: PlaceOrder, first: PlaceOrder) -> list[Event]:
        """A retry places nothing: the earlier order as it stands now, or 409 if the request
        under the same clientOrderId differs."""
        if not same_request(cmd, first):
            return _reject(
                RejectCode.DUPLICATE_CLIENT_ORDER_ID,
                f"clientOrderId {cmd.client_order_id!r} was used for order {first.order_id} "
                "with a different request",
                first.order_id,
            )
        index = self.index
        order = index.orders.get(first.order_id)
        state = order_state(order) if order is not None else index.closed_state(first.order_id)
        return [OrderRepeated(first.order_id, state)]

    def _fillable(self, market: Market, cmd: PlaceOrder) -> bool:
        """Would a FOK limit order fill entirely now (self-trade prevention included)?"""
        need, user, limit = cmd.quantity, cmd.user_id, cmd.price
        skip_own = cmd.stp is _CANCEL_MAKER
        for level in market.book.opposite(cmd.side).iter_levels():
            if level.price > limit if cmd.side is _BUY else level.price < limit:
                return False
            order = level.head
            while order is not None:
                if order.user_id == user:
                    if not skip_own:
                        return False
                else:
                    need -= order.remaining
                    if need <= 0:
                        return True
                order = order.next
        return False

    def _match(
        self,
        market: Market,
        opposite: BookSide,
        taker_id: OrderId,
        user: UserId,
        is_buy: bool,
        is_limit: bool,
        limit: int,
        quantity: int,
        stp: SelfTradePrevention,
        ts: int,
        account: Account,
        budget: int,
        events: list[Event],
    ) -> tuple[int, CloseReason | None, int, int, int]:
        """Trade an incoming order against ``opposite``, best level first.

        Return its unspent buy budget, why it stopped, and its remaining lots, executed lots
        and executed quote atoms. The reason is ``None`` when the order still wants more
        and the book has no more at its price: it then rests (GTC) or expires (IOC, market).
        """
        by_quote = not is_limit and is_buy and quantity == 0
        remaining = quantity
        want = market.spec.max_quantity_lots if by_quote else quantity
        executed = spent = 0
        tpl, bpl, base, quote = market.tpl, market.bpl, market.base, market.quote
        taker_ppm, maker_ppm = market.taker_ppm, market.maker_ppm
        symbol = market.spec.symbol
        taker_side = _BUY if is_buy else _SELL
        # Called through self, not through bound methods kept in locals: compiled, a method
        # call is a direct C call, and a bound method object would go through Python's protocol.
        ledger, index = self.ledger, self.index
        accounts = ledger.accounts
        reason: CloseReason | None = None
        while want:
            level = opposite.best_level
            if level is None:
                break
            price = level.price
            if is_limit and (price > limit if is_buy else price < limit):
                break
            maker = level.head
            while maker is not None and want:
                if maker.user_id == user:
                    if stp is _CANCEL_TAKER:
                        reason = CloseReason.SELF_TRADE
                        break
                    following = maker.next
                    events.append(self._close_resting(market, maker, CloseReason.SELF_TRADE, ts))
                    if stp is _CANCEL_BOTH:
                        reason = CloseReason.SELF_TRADE
                        break
                    maker = following
                    continue
                qty = want if want < maker.remaining else maker.remaining
                quote_amount = price * qty * tpl
                if not is_limit and is_buy and quote_amount > budget:
                    qty = budget // (price * tpl)
                    if qty == 0:
                        reason = CloseReason.FILLED if by_quote else CloseReason.MARKET_REST
                        break
                    quote_amount = price * qty * tpl
                base_amount = qty * bpl
                # Fees are fractions of what each side receives: base to the buyer, quote to
                # the seller. A buying taker's lock was at its limit: the difference comes back.
                if is_buy:
                    refund = (limit - price) * qty * tpl if is_limit else 0
                    taker_fee = base_amount * taker_ppm // _PPM
                    maker_fee = quote_amount * maker_ppm // _PPM
                    ledger.settle_fill(
                        account, accounts[maker.user_id], base, quote, base_amount, quote_amount,
                        refund, taker_fee, maker_fee,
                    )  # fmt: skip
                    budget -= quote_amount + refund
                else:
                    refund = 0
                    taker_fee = quote_amount * taker_ppm // _PPM
                    maker_fee = base_amount * maker_ppm // _PPM
                    ledger.settle_fill(
                        accounts[maker.user_id], account, base, quote, base_amount, quote_amount,
                        0, maker_fee, taker_fee,
                    )  # fmt: skip
                want -= qty
                if not by_quote:
                    remaining -= qty
                executed += qty
                spent += quote_amount
                maker_remaining = maker.remaining - qty
                maker.remaining = maker_remaining
                maker.executed_quote += quote_amount
                level.total -= qty
                self.trade_id += 1
                self.seq += 1
                events.append(
                    TradeExecuted(
                        self.seq, ts, symbol, TradeId(self.trade_id), price, qty, taker_side,
                        maker.order_id, taker_id, maker.user_id, user, base_amount, quote_amount,
                        maker_fee, taker_fee, refund, maker_remaining, remaining,
                    )
                )  # fmt: skip
                if maker_remaining == 0:
                    following = maker.next
                    level.unlink(maker)
                    index.drop(maker, _FILLED)
                    maker = following
            if level.count == 0:
                opposite.drop_level(level)
            if reason is not None:
                break
        if reason is None and want == 0:
            reason = CloseReason.FILLED
        return budget, reason, remaining, executed, spent

    def _close_resting(
        self, market: Market, order: Order, reason: CloseReason, ts: int
    ) -> OrderClosed:
        """Take a resting order off its level (the caller drops an emptied level) and release."""
        level = order.level
        assert level is not None
        released = market.locked_by(order)
        self.ledger.accounts[order.user_id].release(market.lock_asset(order.side), released)
        level.unlink(order)
        self.index.drop(order, CLOSE_STATUS[reason])
        self.seq += 1
        return OrderClosed(
            self.seq, ts, order.market, order.order_id, order.user_id, order.side, order.price,
            order.remaining, released, reason, True,
        )  # fmt: skip

    # --- canceling -----------------------------------------------------------------------

    def _cancel(self, cmd: CancelOrder) -> list[Event]:
        user, ts, market, order_id, client_order_id = _cancel_fields(cmd)
        order: Order | None = None
        if order_id is not None:
            order = self.index.orders.get(order_id)
        elif client_order_id is not None:
            order = self.index.client_ids.get((user, client_order_id))
        else:
            return _reject(RejectCode.INVALID_ORDER, "give orderId or clientOrderId")
        # Someone else's order is reported exactly like a missing one.
        if (
            order is None
            or order.user_id != user
            or (market is not None and order.market != market)
        ):
            return _reject(RejectCode.UNKNOWN_ORDER, "no such open order", order_id)
        closed = self._cancel_one(order, CloseReason.USER_CANCEL, ts)
        state = self.index.closed_state(order.order_id)  # as remembered on closing
        assert state is not None
        return [closed, state]

    def _cancel_one(self, order: Order, reason: CloseReason, ts: int) -> OrderClosed:
        market = self.markets[order.market]
        level = order.level
        assert level is not None
        event = self._close_resting(market, order, reason, ts)
        if level.count == 0:
            market.book.side(order.side).drop_level(level)
        return event

    def _cancel_all(self, cmd: CancelAll) -> list[Event]:
        if cmd.market is not None and cmd.market not in self.markets:
            return _reject(RejectCode.INVALID_MARKET, f"unknown market {cmd.market!r}")
        doomed = sorted(
            (
                o
                for o in self.index.of_user(cmd.user_id)
                if cmd.market is None or o.market == cmd.market
            ),
            key=lambda o: o.order_id,
        )
        events: list[Event] = [self._cancel_one(o, CloseReason.CANCEL_ALL, cmd.ts) for o in doomed]
        events.append(
            OpenOrdersResult(orders=[order_state(o, OrderStatus.CANCELED) for o in doomed])
        )
        return events

    # --- funds ---------------------------------------------------------------------------

    def _deposit(self, cmd: Deposit) -> list[Event]:
        asset = self.ledger.asset_index.get(cmd.asset)
        if asset is None:
            return _reject(RejectCode.INVALID_ASSET, f"unknown asset {cmd.asset!r}")
        if cmd.amount <= 0:
            return _reject(RejectCode.INVALID_AMOUNT, "amount must be positive")
        # Conservation caps every balance by the asset's total, so capping the total suffices.
        if self.ledger.deposited[asset] + cmd.amount > MAX_BALANCE:
            return _reject(
                RejectCode.BALANCE_LIMIT, f"{cmd.asset} in the exchange would exceed {MAX_BALANCE}"
            )
        self.ledger.deposit(cmd.user_id, asset, cmd.amount)
        self.seq += 1
        return [
            Deposited(
                seq=self.seq, ts=cmd.ts, user_id=cmd.user_id, asset=cmd.asset, amount=cmd.amount
            )
        ]

    # --- snapshots -----------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state as canonical bytes (see :mod:`matcher.snapshot`)."""
        return _snapshot.dump(self.markets, self.ledger, self.index, self.seq, self.trade_id)

    @classmethod
    def restore(
        cls,
        config: MarketConfig,
        data: bytes,
        *,
        max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS,
        closed_memory: int = DEFAULT_CLOSED_MEMORY,
    ) -> Engine:
        """An engine whose state is the snapshot ``data``."""
        engine = cls(config, max_open_orders=max_open_orders, closed_memory=closed_memory)
        engine.seq, engine.trade_id = _snapshot.load(
            data, engine.markets, engine.ledger, engine.index
        )
        return engine

    def _state_hash(self, command: StateHash) -> list[Event]:
        del command
        return [StateHashResult(seq=self.seq, state_hash=self.state_hash())]

    def state_hash(self) -> str:
        """SHA-256 of the canonical snapshot: equal states, equal hashes."""
        return hashlib.sha256(self.snapshot()).hexdigest()

    # --- reading state (for the service, invariants and tests) -------------------------

    def levels(self, symbol: str, side: Side) -> list[tuple[int, int]]:
        """The L2 side of a book, best first, as ``(price_ticks, total_lots)``."""
        return [(lv.price, lv.total) for lv in self.markets[symbol].book.side(side).iter_levels()]
