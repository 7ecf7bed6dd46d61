"""The edge's REST payloads as the Dash app sees them: JSON dicts with camelCase keys.

They stay plain dicts (``TypedDict``) so that a callback can put them in a ``dcc.Store`` as they
came. Prices, quantities and amounts are the API's decimal strings, never floats.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "Balance",
    "Depth",
    "Kline",
    "Market",
    "Order",
    "Session",
    "Ticker",
    "Token",
    "Trade",
]


class Market(TypedDict):
    symbol: str
    baseSymbol: str
    quoteSymbol: str
    tickSize: str
    stepSize: str
    minPrice: str
    maxPrice: str
    minQuantity: str
    maxQuantity: str
    makerFee: str
    takerFee: str
    shard: str


class Depth(TypedDict):
    symbol: str
    lastUpdateId: int
    bids: list[list[str]]
    """``[[price, quantity], ...]``, best (highest) first."""
    asks: list[list[str]]
    """``[[price, quantity], ...]``, best (lowest) first."""


class Trade(TypedDict):
    id: int
    price: str
    quantity: str
    quoteQuantity: str
    timestamp: int
    """Milliseconds since the epoch."""
    isBuyerMaker: bool
    """True when the taker sold (the trade printed on the bid)."""


class Kline(TypedDict):
    start: int
    """Open time, milliseconds since the epoch."""
    open: str
    high: str
    low: str
    close: str
    volume: str
    quoteVolume: str
    trades: int
    closed: bool


class Ticker(TypedDict):
    symbol: str
    firstPrice: str | None
    lastPrice: str | None
    high: str | None
    low: str | None
    priceChange: str
    priceChangePercent: str
    volume: str
    quoteVolume: str
    trades: int


class Balance(TypedDict):
    available: str
    locked: str


class Order(TypedDict, total=False):
    orderId: str
    market: str
    kind: str
    type: str
    status: str
    timeInForce: str
    postOnly: bool
    price: str | None
    quantity: str | None
    quoteQuantity: str | None
    executedQty: str
    executedQuoteQty: str
    remainingQty: str | None
    clientOrderId: str | None
    createdAt: int


class Token(TypedDict):
    token: str
    expiresAt: int
    userId: int


class Session(TypedDict):
    """What the browser keeps in its session store once signed in."""

    token: str
    expiresAt: int
    userId: int
    username: str
