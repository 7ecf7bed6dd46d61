"""Commands: what a client asks the matcher to do. Imperative names, immutable.

Every command carries the ``user_id`` it acts for and ``ts``, the edge's receipt time in
microseconds since the epoch: the engine reads no clock, so time comes with the command.
Amounts are integers (ticks, lots, atoms; see :mod:`model.numbers`). The edge wraps each command
in an envelope with ``request_id`` and ``reply_to`` when it puts it on ``tw:{shard}:cmd``.
"""

from __future__ import annotations

import msgspec

from model.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from model.ids import OrderId, UserId

__all__ = [
    "Balances",
    "CancelAll",
    "CancelOrder",
    "Command",
    "Deposit",
    "GetOrder",
    "OpenOrders",
    "PlaceOrder",
    "Quote",
    "StateHash",
]


class _Command(msgspec.Struct, frozen=True, gc=False, array_like=True, tag_field="c", tag=True):
    user_id: UserId
    ts: int


class PlaceOrder(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Place a limit or market order.

    * limit: ``price`` and ``quantity`` required; ``tif`` GTC, IOC or FOK; ``post_only`` only GTC.
    * market sell: ``quantity``. Market buy: ``quantity`` or ``quote_quantity`` (quote atoms to
      spend), never both. A market order fills what the book and the buyer's funds allow; the
      rest expires.
    """

    order_id: OrderId
    market: str
    side: Side
    type: OrderType
    price: int = 0
    quantity: int = 0
    quote_quantity: int = 0
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    client_order_id: str | None = None
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER


class CancelOrder(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Cancel one of the user's open orders, by ``order_id`` or else by ``client_order_id``.

    When ``market`` is given the order must be in it.
    """

    market: str | None = None
    order_id: OrderId | None = None
    client_order_id: str | None = None


class CancelAll(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Cancel every open order of the user in ``market`` (every market when ``None``)."""

    market: str | None = None


class Deposit(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Credit ``amount`` atoms of ``asset`` (test funds from the on-ramp)."""

    asset: str
    amount: int


class Quote(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Ask what a market order would do now, without changing anything."""

    market: str
    side: Side
    quantity: int = 0
    quote_quantity: int = 0


class GetOrder(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Read one of the user's open orders."""

    order_id: OrderId


class OpenOrders(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Read the user's open orders in ``market`` (every market when ``None``)."""

    market: str | None = None


class Balances(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Read the user's available and locked balances."""


class StateHash(_Command, frozen=True, gc=False, array_like=True, tag=True):
    """Ask for the engine's ``seq`` and ``state_hash()`` at this point of the log (audits).

    It reads no account: any positive ``user_id`` will do.
    """


Command = (
    PlaceOrder
    | CancelOrder
    | CancelAll
    | Deposit
    | Quote
    | GetOrder
    | OpenOrders
    | Balances
    | StateHash
)
