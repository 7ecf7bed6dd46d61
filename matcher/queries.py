"""Read-only commands: quote, one order, open orders, balances. They never change state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matcher.book import Order
from model.commands import Balances, GetOrder, OpenOrders, Quote
from model.enums import OrderStatus, Side
from model.events import (
    BalanceEntry,
    BalancesResult,
    Event,
    OpenOrdersResult,
    OrderState,
    QuoteResult,
    Rejected,
)
from model.rejects import RejectCode

if TYPE_CHECKING:
    from matcher.engine import Engine

__all__ = ["balances", "get_order", "open_orders", "order_state", "quote"]


def _reject(code: RejectCode, message: str) -> list[Event]:
    return [Rejected(code=code, message=message)]


def quote(engine: Engine, cmd: Quote) -> list[Event]:
    market = engine.markets.get(cmd.market)
    if market is None:
        return _reject(RejectCode.INVALID_MARKET, f"unknown market {cmd.market!r}")
    by_quote = cmd.quote_quantity > 0
    if (
        by_quote == (cmd.quantity > 0)
        or (by_quote and cmd.side is not Side.BUY)
        or min(cmd.quantity, cmd.quote_quantity) < 0
    ):
        return _reject(
            RejectCode.INVALID_ORDER, "give quantity, or quoteQuantity for a buy (not both)"
        )
    tpl = market.tpl
    want = cmd.quantity
    budget = cmd.quote_quantity
    filled = spent = worst = 0
    out_of_budget = False
    for level in market.book.opposite(cmd.side).iter_levels():
        if by_quote:
            take = min(level.total, (budget - spent) // (level.price * tpl))
            out_of_budget = take < level.total
        else:
            take = min(want, level.total)
            want -= take
        if take:
            filled += take
            spent += level.price * take * tpl
            worst = level.price
        if out_of_budget or (not by_quote and want == 0):
            break
    fully = out_of_budget and filled > 0 if by_quote else want == 0
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


def get_order(engine: Engine, cmd: GetOrder) -> list[Event]:
    """An open order, or one the engine still remembers closing; only the owner's."""
    order = engine.orders.get(cmd.order_id)
    state = order_state(order) if order is not None else engine.closed.get(cmd.order_id)
    if state is None or state.user_id != cmd.user_id:
        return [
            Rejected(code=RejectCode.UNKNOWN_ORDER, message="no such order", order_id=cmd.order_id)
        ]
    return [state]


def open_orders(engine: Engine, cmd: OpenOrders) -> list[Event]:
    if cmd.market is not None and cmd.market not in engine.markets:
        return _reject(RejectCode.INVALID_MARKET, f"unknown market {cmd.market!r}")
    mine = engine.user_orders.get(cmd.user_id, {})
    chosen = [o for o in mine.values() if cmd.market is None or o.market == cmd.market]
    chosen.sort(key=lambda o: (o.ts, o.order_id))
    return [OpenOrdersResult(orders=[order_state(o) for o in chosen])]


def balances(engine: Engine, cmd: Balances) -> list[Event]:
    account = engine.ledger.accounts.get(cmd.user_id)
    codes = engine.ledger.asset_codes
    entries = [
        BalanceEntry(
            asset=code,
            available=0 if account is None else account.available[i],
            locked=0 if account is None else account.locked[i],
        )
        for i, code in enumerate(codes)
    ]
    return [BalancesResult(balances=entries)]


def order_state(order: Order, status: OrderStatus | None = None) -> OrderState:
    """The public view of an order; ``status`` for a closed one, else derived (new/partial)."""
    if status is None:
        status = OrderStatus.PARTIALLY_FILLED if order.executed_quantity else OrderStatus.NEW
    # Positional (OrderState's field order): every closed order passes here, on the hot path.
    return OrderState(
        order.market, order.order_id, order.user_id, order.side, order.type, order.tif,
        order.price, order.quantity, order.remaining, order.executed_quantity,
        order.executed_quote, status, order.client_order_id, order.post_only, order.ts,
    )  # fmt: skip
