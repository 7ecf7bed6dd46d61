"""Events: what happened, in the past tense, immutable.

State events carry ``seq``: the engine numbers them per shard with no gaps, and the service puts
them on ``tw:{shard}:events`` in that order. They are complete: the L2 book and every balance can
be rebuilt from them alone (see :mod:`model.ledger`).

Order lifecycle, as events show it
----------------------------------
* An incoming order: ``OrderAccepted`` (its funds locked), then any ``TradeExecuted`` in which it
  is the taker, then exactly one of ``OrderRested`` (it now rests with ``remaining``) or
  ``OrderClosed`` (it is done; ``released`` goes back to available).
* A resting order leaves the book through a ``TradeExecuted`` whose ``maker_remaining`` is 0
  (filled) or through ``OrderClosed`` with ``was_resting`` true (canceled, self-trade).

Replies to queries (``QuoteResult``, ``OrderState``, ``OpenOrdersResult``, ``BalancesResult``),
``OrderRepeated`` (a retried order, see below) and ``Rejected`` change nothing and carry no
``seq``; they only travel back to the asker.
"""

from __future__ import annotations

import msgspec

from model.enums import CloseReason, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from model.ids import OrderId, TradeId, UserId
from model.rejects import RejectCode

__all__ = [
    "BalanceEntry",
    "BalancesResult",
    "Deposited",
    "Event",
    "OpenOrdersResult",
    "OrderAccepted",
    "OrderClosed",
    "OrderRepeated",
    "OrderRested",
    "OrderState",
    "QuoteResult",
    "Rejected",
    "StateEvent",
    "StateHashResult",
    "TradeExecuted",
]


class _Event(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="e", tag=True):
    pass


class _StateEvent(_Event, frozen=True, gc=False, array_like=True):
    seq: int
    ts: int


class OrderAccepted(_StateEvent, frozen=True, gc=False, array_like=True, tag=True):
    """An order passed every check; ``locked`` atoms moved from available to locked.

    The locked asset is the quote asset for a buy, the base asset for a sell.
    """

    market: str
    order_id: OrderId
    user_id: UserId
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    quantity: int
    quote_quantity: int
    post_only: bool
    client_order_id: str | None
    locked: int
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER
    """Its self-trade prevention (last, with a default: journals written before it read)."""


class TradeExecuted(_StateEvent, frozen=True, gc=False, array_like=True, tag=True):
    """``quantity`` lots traded at the maker's ``price``.

    Balances: the seller's locked base falls by ``base_amount``; the buyer's locked quote falls by
    ``quote_amount + taker_refund`` where ``taker_refund`` (a buying taker's price improvement)
    returns to available. The buyer receives ``base_amount`` and the seller ``quote_amount``,
    each less their fee, which the fee account collects in the asset received.
    """

    market: str
    trade_id: TradeId
    price: int
    quantity: int
    taker_side: Side
    maker_order_id: OrderId
    taker_order_id: OrderId
    maker_user_id: UserId
    taker_user_id: UserId
    base_amount: int
    quote_amount: int
    maker_fee: int
    taker_fee: int
    taker_refund: int
    maker_remaining: int
    taker_remaining: int


class OrderRested(_StateEvent, frozen=True, gc=False, array_like=True, tag=True):
    """The incoming order now rests on the book with ``remaining`` lots at ``price``."""

    market: str
    order_id: OrderId
    user_id: UserId
    side: Side
    price: int
    remaining: int


class OrderClosed(_StateEvent, frozen=True, gc=False, array_like=True, tag=True):
    """The order is done; ``released`` locked atoms went back to available.

    ``was_resting`` tells whether it left the book (its ``remaining`` lots at ``price``).
    """

    market: str
    order_id: OrderId
    user_id: UserId
    side: Side
    price: int
    remaining: int
    released: int
    reason: CloseReason
    was_resting: bool


class Deposited(_StateEvent, frozen=True, gc=False, array_like=True, tag=True):
    """``amount`` atoms of ``asset`` credited to the user's available balance."""

    user_id: UserId
    asset: str
    amount: int


StateEvent = OrderAccepted | TradeExecuted | OrderRested | OrderClosed | Deposited


class Rejected(_Event, frozen=True, gc=False, array_like=True, tag=True):
    """The command was refused and changed nothing."""

    code: RejectCode
    message: str
    order_id: OrderId | None = None


class QuoteResult(_Event, frozen=True, gc=False, array_like=True, tag=True):
    """What a market order of that size would do now: ``quantity`` lots for ``quote_amount``."""

    market: str
    side: Side
    quantity: int
    quote_amount: int
    worst_price: int
    fully_filled: bool


class OrderState(_Event, frozen=True, gc=False, array_like=True, tag=True):
    """An open order as the engine holds it."""

    market: str
    order_id: OrderId
    user_id: UserId
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    quantity: int
    remaining: int
    executed_quantity: int
    executed_quote: int
    status: OrderStatus
    client_order_id: str | None
    post_only: bool
    ts: int
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER
    """As ``OrderAccepted.stp`` (snapshots written before it read)."""


class OpenOrdersResult(_Event, frozen=True, gc=False, array_like=True, tag=True):
    orders: list[OrderState]


class BalanceEntry(msgspec.Struct, frozen=True, gc=False, array_like=True):
    asset: str
    available: int
    locked: int


class BalancesResult(_Event, frozen=True, gc=False, array_like=True, tag=True):
    balances: list[BalanceEntry]


class OrderRepeated(_Event, frozen=True, gc=False, array_like=True, tag=True):
    """A ``PlaceOrder`` that repeats an earlier one (same user, ``clientOrderId`` and request,
    within the retry window) placed nothing: here is the earlier order.

    ``state`` is the order as the engine knows it now (open, or remembered after closing), or
    ``None`` once the engine has forgotten the closed order (read it from storage by ``order_id``).
    """

    order_id: OrderId
    state: OrderState | None


class StateHashResult(_Event, frozen=True, gc=False, array_like=True, tag=True):
    """The engine's last state-event ``seq`` and the SHA-256 of its canonical snapshot."""

    seq: int
    state_hash: str


Event = (
    OrderAccepted
    | TradeExecuted
    | OrderRested
    | OrderClosed
    | Deposited
    | Rejected
    | QuoteResult
    | OrderState
    | OrderRepeated
    | OpenOrdersResult
    | BalancesResult
    | StateHashResult
)
