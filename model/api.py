"""The REST API's wire format: request and response bodies (Backpack-style camelCase names).

Requests refuse unknown fields, so ``userId``, ``status``, ``filled`` or ``balance`` in a body is
a 400 rather than a silently ignored (or worse, honoured) field. Amounts arrive as decimal strings
or JSON numbers and are decoded straight into ``Decimal`` (never through a float); they leave as
decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from model.enums import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce

__all__ = [
    "REQUEST_SCHEMAS",
    "AccountFillView",
    "ApiKeyRequest",
    "ApiKeyView",
    "AssetView",
    "BackpackCancelAllRequest",
    "BackpackCancelRequest",
    "BackpackFillView",
    "BackpackHistoryOrderView",
    "BackpackOrderRequest",
    "BackpackOrderType",
    "BackpackOrderView",
    "BackpackSide",
    "BackpackStatus",
    "BackpackStp",
    "BalanceView",
    "CancelAllResponse",
    "CapitalView",
    "Credentials",
    "DepthView",
    "ErrorBody",
    "ErrorDetail",
    "FillView",
    "FillsPage",
    "KlineView",
    "MarketFilters",
    "MarketView",
    "OnrampRequest",
    "OrderRequest",
    "OrderView",
    "OrdersPage",
    "PriceFilter",
    "QuantityFilter",
    "QuoteRequest",
    "QuoteView",
    "StatusView",
    "TickerView",
    "TokenView",
    "TradeView",
]

_Amount = Annotated[
    Decimal, Meta(description='A decimal string such as "1000.50" (JSON numbers accepted)')
]
_Symbol = Annotated[str, Meta(min_length=3, max_length=32, examples=["TATA_INR"])]
ClientOrderId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
#: Backpack's ``clientId``: a uint32, kept as our ``clientOrderId`` in its decimal digits.
ClientId = Annotated[int, Meta(ge=0, le=2**32 - 1)]
#: An order id as text (Backpack's ``orderId``), ASCII digits below 2**63.
OrderIdText = Annotated[str, Meta(pattern=r"^[0-9]{1,19}$", examples=["1234"])]

# Backpack's vocabularies (model.backpack maps each onto ours).
BackpackSide = Literal["Bid", "Ask"]
BackpackOrderType = Literal["Limit", "Market"]
BackpackStp = Literal["RejectTaker", "RejectMaker", "RejectBoth"]
BackpackStatus = Literal["New", "PartiallyFilled", "Filled", "Cancelled", "Expired"]


class _Request(msgspec.Struct, forbid_unknown_fields=True, rename="camel", frozen=True):
    pass


class Credentials(_Request, frozen=True):
    username: Annotated[str, Meta(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
    password: Annotated[str, Meta(min_length=8, max_length=128)]


class ApiKeyRequest(_Request, frozen=True):
    """The public half of an ED25519 key pair, to sign requests with (``edge.apikeys``)."""

    public_key: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9+/]{43}=$",
            description="The 32-byte ED25519 public key, base64 (as X-API-Key carries it)",
        ),
    ]
    label: Annotated[str, Meta(max_length=64, pattern=r"^[ -~]*$")] = ""


class OrderRequest(_Request, frozen=True):
    """Limit: price and quantity. Market: quantity, or (to buy) quoteQuantity."""

    market: _Symbol
    kind: Side
    type: OrderType
    price: _Amount | None = None
    quantity: _Amount | None = None
    quote_quantity: _Amount | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    client_order_id: ClientOrderId | None = None
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER


class BackpackOrderRequest(_Request, frozen=True):
    """Backpack's ``POST /api/v1/order`` body, its spot subset: decoded into the one
    ``OrderRequest`` (``model.backpack.order_request``). Limit: price and quantity. Market:
    quantity, or (to buy) quoteQuantity."""

    symbol: _Symbol
    side: BackpackSide
    order_type: BackpackOrderType
    price: _Amount | None = None
    quantity: _Amount | None = None
    quote_quantity: _Amount | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    client_id: ClientId | None = None
    self_trade_prevention: BackpackStp = "RejectTaker"


class BackpackCancelRequest(_Request, frozen=True):
    """Backpack's ``DELETE /api/v1/order`` body: the order by ``orderId`` or by ``clientId``
    (exactly one), in ``symbol``."""

    symbol: _Symbol
    order_id: OrderIdText | None = None
    client_id: ClientId | None = None


class BackpackCancelAllRequest(_Request, frozen=True):
    """Backpack's ``DELETE /api/v1/orders`` body. ``orderType``: which orders to cancel; every
    order here rests on the book (there are no conditional orders)."""

    symbol: _Symbol
    order_type: Literal["RestingLimitOrder", "ConditionalOrder"] | None = None


class QuoteRequest(_Request, frozen=True):
    market: _Symbol
    kind: Side
    quantity: _Amount | None = None
    quote_quantity: _Amount | None = None


class OnrampRequest(_Request, frozen=True):
    asset: Annotated[str, Meta(min_length=1, max_length=16)]
    amount: _Amount


REQUEST_SCHEMAS: tuple[type[msgspec.Struct], ...] = (
    Credentials,
    ApiKeyRequest,
    OrderRequest,
    BackpackOrderRequest,
    BackpackCancelRequest,
    BackpackCancelAllRequest,
    QuoteRequest,
    OnrampRequest,
)


class _View(msgspec.Struct, rename="camel", frozen=True):
    pass


class ApiKeyView(_View, frozen=True):
    """One of the user's API keys: the public key only (the server never sees a private key)."""

    id: int
    public_key: str
    label: str
    created_at: int
    """When it was registered, in ms."""
    revoked_at: int | None
    """When it was revoked, in ms; ``null`` while it signs."""


class StatusView(_View, frozen=True):
    """``GET /api/v1/status``, Backpack's shape."""

    status: Literal["Ok", "Maintenance"]
    message: str | None


class ErrorDetail(_View, frozen=True):
    code: str
    """What went wrong, one word: ``INVALID_PRICE``, ``UNAUTHORIZED``, ``RATE_LIMITED``..."""
    message: str
    field: str | None = None
    """The request field at fault, when there is one."""
    order_id: str | None = None
    """The order concerned (a matcher rejection or a timeout while placing it)."""
    command_id: str | None = None
    """The command the matcher has but did not answer in time (504)."""


class ErrorBody(_View, frozen=True):
    """Every error response: Backpack's ``{"code", "message"}`` and ours, ``error``, with the
    same code and message and what else there is to say (the field at fault...)."""

    code: str
    message: str
    error: ErrorDetail


class TokenView(_View, frozen=True):
    token: str
    expires_at: int
    user_id: int


class FillView(_View, frozen=True):
    trade_id: int
    price: str
    quantity: str
    fee: str
    fee_asset: str
    is_maker: bool


class OrderView(_View, frozen=True):
    order_id: str
    market: str
    kind: Side
    type: OrderType
    status: OrderStatus
    time_in_force: TimeInForce
    post_only: bool
    price: str | None
    quantity: str | None
    quote_quantity: str | None
    executed_qty: str
    executed_quote_qty: str
    remaining_qty: str | None
    client_order_id: str | None
    created_at: int
    self_trade_prevention: SelfTradePrevention
    fills: list[FillView] = []


class _BackpackOrder(_View, frozen=True):
    """What Backpack's order object and its order history's entries share."""

    id: str
    client_id: int | None
    """The ``clientId`` it was placed with; ``null`` without one (or with a ``clientOrderId``
    that is not a uint32)."""
    executed_quantity: str
    executed_quote_quantity: str
    order_type: BackpackOrderType
    price: str | None
    quantity: str | None
    quote_quantity: str | None
    post_only: bool
    self_trade_prevention: BackpackStp
    side: BackpackSide
    status: BackpackStatus
    symbol: str
    time_in_force: TimeInForce


class BackpackOrderView(_BackpackOrder, frozen=True):
    """Backpack's order object (``POST``/``GET``/``DELETE /api/v1/order``, ``/api/v1/orders``),
    from our ``OrderView`` (``model.backpack.order_object``)."""

    created_at: int
    """Milliseconds since the epoch."""
    reduce_only: bool | None = None
    """Futures only on Backpack: always ``null`` here."""
    trigger_price: str | None = None
    """Conditional orders only on Backpack: always ``null`` here."""


class BackpackHistoryOrderView(_BackpackOrder, frozen=True):
    """An order of Backpack's ``GET /wapi/v1/history/orders``: as its order object, but
    ``createdAt`` in UTC text (``"2026-01-05T00:01:00.250"``), and ``expiryReason``."""

    created_at: str
    expiry_reason: str | None = None
    """Not recorded here: always ``null`` (an expired order's reason is not stored)."""


class BackpackFillView(_View, frozen=True):
    """A fill of Backpack's ``GET /wapi/v1/history/fills``, from our ``AccountFillView``."""

    trade_id: int
    order_id: str
    symbol: str
    side: BackpackSide
    price: str
    quantity: str
    fee: str
    fee_symbol: str
    is_maker: bool
    timestamp: str
    """UTC text, ``"2026-01-05T00:01:00.250"``."""
    client_id: str | None = None
    """Not carried by our fills: always ``null``."""
    system_order_type: str | None = None
    """Liquidations and the like: none here, always ``null``."""


class OrdersPage(_View, frozen=True):
    """A page of ``GET /orders``, newest first; ``nextCursor`` asks for the next (older) page,
    ``null`` on the last."""

    orders: list[OrderView]
    next_cursor: str | None


class AccountFillView(_View, frozen=True):
    """One of your trades: what your order ``orderId`` did in trade ``tradeId``, as maker (its
    order rested) or taker, and the fee you paid, in the asset you received."""

    trade_id: int
    order_id: str
    market: str
    kind: Side
    price: str
    quantity: str
    quote_quantity: str
    fee: str
    fee_asset: str
    is_maker: bool
    timestamp: int
    """Milliseconds since the epoch."""


class FillsPage(_View, frozen=True):
    """A page of ``GET /fills``, newest first (``nextCursor`` as for orders)."""

    fills: list[AccountFillView]
    next_cursor: str | None


class CancelAllResponse(_View, frozen=True):
    canceled: list[OrderView]


class QuoteView(_View, frozen=True):
    market: str
    kind: Side
    filled_qty: str
    quote_amount: str
    average_price: str | None
    worst_price: str | None
    fully_filled: bool


class TradeView(_View, frozen=True):
    id: int
    price: str
    quantity: str
    quote_quantity: str
    timestamp: int
    is_buyer_maker: bool


class DepthView(_View, frozen=True):
    """The L2 book, Backpack's shape: both sides by ascending price (the best bid is the last
    of ``bids``, the best ask the first of ``asks``)."""

    symbol: str
    last_update_id: str
    """The last book change the levels include, as text (compare it as a number)."""
    timestamp: int
    """When that change happened, in µs (0 for a book that never changed)."""
    bids: list[list[str]]
    asks: list[list[str]]


class KlineView(_View, frozen=True):
    """A candle, Backpack's shape (``trades`` a string too), and ours: ``closed``."""

    start: str
    """When the bar opens, UTC: ``"2026-01-05 00:01:00"``."""
    end: str
    """When it closes (the next bar's start)."""
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str
    trades: str
    closed: bool


class TickerView(_View, frozen=True):
    """Backpack's ticker: 24 h figures, every one a string."""

    symbol: str
    first_price: str | None
    last_price: str | None
    high: str | None
    low: str | None
    price_change: str
    price_change_percent: str
    """A fraction, as Backpack's: ``"0.05"`` is 5 %."""
    volume: str
    quote_volume: str
    trades: str


class BalanceView(_View, frozen=True):
    available: str
    locked: str


class CapitalView(_View, frozen=True):
    """One asset of Backpack's ``GET /api/v1/capital``: ``BalanceView``'s figures, and nothing
    ``staked`` (there is no staking here)."""

    available: str
    locked: str
    staked: str


class PriceFilter(_View, frozen=True):
    """Backpack's ``filters.price``: the price grid and its bounds."""

    min_price: str
    max_price: str
    tick_size: str


class QuantityFilter(_View, frozen=True):
    """Backpack's ``filters.quantity``: the quantity grid and its bounds."""

    min_quantity: str
    max_quantity: str
    step_size: str


class MarketFilters(_View, frozen=True):
    price: PriceFilter
    quantity: QuantityFilter


class MarketView(_View, frozen=True):
    """A market: our flat fields (the seed's) and Backpack's (``marketType``, ``filters``,
    ``orderBookState``), the same figures in both."""

    symbol: str
    base_symbol: str
    quote_symbol: str
    tick_size: str
    step_size: str
    min_price: str
    max_price: str
    min_quantity: str
    max_quantity: str
    maker_fee: str
    taker_fee: str
    shard: str
    market_type: Literal["SPOT"]
    order_book_state: Literal["Open"]
    filters: MarketFilters


class AssetView(_View, frozen=True):
    """``GET /api/v1/assets``, Backpack's shape: no chain tokens (funds are deposited as test
    funds, ``POST /onramp``), so ``tokens`` is empty."""

    symbol: str
    display_name: str
    coingecko_id: str | None
    tokens: list[str]
    decimals: int
    """Ours: the asset's smallest unit is ``10**-decimals``."""
