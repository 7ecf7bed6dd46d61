"""Small closed vocabularies shared by commands, events and the API."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CLOSE_STATUS",
    "CloseReason",
    "OrderStatus",
    "OrderType",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "GTC"  # rests until filled or canceled
    IOC = "IOC"  # fills what it can now, the rest expires
    FOK = "FOK"  # fills entirely now, or is rejected and changes nothing


class SelfTradePrevention(StrEnum):
    """What happens when an order would trade against its owner's resting order."""

    CANCEL_TAKER = "cancel_taker"  # the incoming order's rest is canceled (default)
    CANCEL_MAKER = "cancel_maker"  # the resting order is canceled, matching goes on
    CANCEL_BOTH = "cancel_both"


class OrderStatus(StrEnum):
    NEW = "new"  # resting, nothing filled yet
    PARTIALLY_FILLED = "partially_filled"  # resting, part filled
    FILLED = "filled"
    CANCELED = "canceled"  # by its owner (or cancel-all)
    EXPIRED = "expired"  # by the engine: IOC/market rest, self-trade prevention


class CloseReason(StrEnum):
    """Why an order left the engine; ``OrderClosed`` carries one."""

    FILLED = "filled"
    USER_CANCEL = "user_cancel"
    CANCEL_ALL = "cancel_all"
    IOC_REST = "ioc_rest"  # an IOC limit order's unfilled rest
    MARKET_REST = "market_rest"  # a market order met the end of the book or of its funds
    SELF_TRADE = "self_trade"


#: The final status an order has after closing for each reason.
CLOSE_STATUS: dict[CloseReason, OrderStatus] = {
    CloseReason.FILLED: OrderStatus.FILLED,
    CloseReason.USER_CANCEL: OrderStatus.CANCELED,
    CloseReason.CANCEL_ALL: OrderStatus.CANCELED,
    CloseReason.IOC_REST: OrderStatus.EXPIRED,
    CloseReason.MARKET_REST: OrderStatus.EXPIRED,
    CloseReason.SELF_TRADE: OrderStatus.EXPIRED,
}
