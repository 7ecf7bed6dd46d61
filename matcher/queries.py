"""Read-only commands: quote, one order, open orders, balances. They never change state.

Each reads only the part of the state it answers from: the markets' books, the order index or
the ledger (the engine binds them when it builds its handlers).
"""

from __future__ import annotations

from collections.abc import Mapping

from matcher.ledger import Ledger
from matcher.market import Market
from matcher.order_index import OrderIndex, order_state
from model.commands import Balances, GetOrder, OpenOrders, Quote
from model.enums import Side
from model.events import (
    BalanceEntry,
    BalancesResult,
    Event,
    OpenOrdersResult,
    QuoteResult,
    Rejected,
)
from model.rejects import RejectCode

__all__ = ["balances", "get_order", "open_orders", "quote"]


def _reject(code: RejectCode, message: str) -> list[Event]:
    return [Rejected(code=code, message=message)]


def quote(markets: Mapping[str, Market], cmd: Quote) -> list[Event]:
    """What a market order of that size would get now, walking the book without changing it."""
    market = markets.get(cmd.market)
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


def get_order(index: OrderIndex, cmd: GetOrder) -> list[Event]:
    """An open order, or one the engine still remembers closing; only the owner's."""
    order = index.orders.get(cmd.order_id)
    state = order_state(order) if order is not None else index.closed_state(cmd.order_id)
    if state is None or state.user_id != cmd.user_id:
        return [
            Rejected(code=RejectCode.UNKNOWN_ORDER, message="no such order", order_id=cmd.order_id)
        ]
    return [state]


def open_orders(markets: Mapping[str, Market], index: OrderIndex, cmd: OpenOrders) -> list[Event]:
    """The user's open orders (in one market or all), oldest first."""
    if cmd.market is not None and cmd.market not in markets:
        return _reject(RejectCode.INVALID_MARKET, f"unknown market {cmd.market!r}")
    chosen = [o for o in index.of_user(cmd.user_id) if cmd.market is None or o.market == cmd.market]
    chosen.sort(key=lambda o: (o.ts, o.order_id))
    return [OpenOrdersResult(orders=[order_state(o) for o in chosen])]


def balances(ledger: Ledger, cmd: Balances) -> list[Event]:
    """The user's available and locked balance in every asset (zeros for an unknown user)."""
    account = ledger.accounts.get(cmd.user_id)
    codes = ledger.asset_codes
    entries = [
        BalanceEntry(
            asset=code,
            available=0 if account is None else account.available[i],
            locked=0 if account is None else account.locked[i],
        )
        for i, code in enumerate(codes)
    ]
    return [BalancesResult(balances=entries)]
