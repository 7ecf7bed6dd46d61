"""Field combinations that make no order, checked before anything else (docs/matching.md)."""

from __future__ import annotations

from model.commands import PlaceOrder
from model.enums import OrderType, Side, TimeInForce
from model.numbers import MAX_BALANCE, MarketSpec
from model.rejects import RejectCode

__all__ = ["MAX_CLIENT_ORDER_ID", "order_shape_problem"]

MAX_CLIENT_ORDER_ID = 64
_LIMIT = OrderType.LIMIT
_GTC = TimeInForce.GTC
_BUY = Side.BUY


def order_shape_problem(cmd: PlaceOrder, spec: MarketSpec) -> tuple[RejectCode, str] | None:
    """The reject code and message for an order that makes no sense here, or ``None``."""
    qty, max_qty = cmd.quantity, spec.max_quantity_lots
    if cmd.client_order_id is not None and not 0 < len(cmd.client_order_id) <= (
        MAX_CLIENT_ORDER_ID
    ):
        return RejectCode.INVALID_ORDER, f"clientOrderId must be 1..{MAX_CLIENT_ORDER_ID} chars"
    if cmd.type is _LIMIT:
        if not 0 < cmd.price <= spec.max_price_ticks:
            return RejectCode.INVALID_PRICE, f"price must be 1..{spec.max_price_ticks} ticks"
        if not 0 < qty <= max_qty:
            return RejectCode.INVALID_QUANTITY, f"quantity must be 1..{max_qty} lots"
        if cmd.quote_quantity:
            return RejectCode.INVALID_ORDER, "quoteQuantity is only for market buys"
        if cmd.post_only and cmd.tif is not _GTC:
            return RejectCode.INVALID_ORDER, "postOnly needs timeInForce GTC"
        return None
    if cmd.price:
        return RejectCode.INVALID_ORDER, "a market order takes no price"
    if cmd.post_only:
        return RejectCode.INVALID_ORDER, "a market order cannot be post-only"
    if cmd.tif is TimeInForce.FOK:
        return RejectCode.INVALID_ORDER, "market orders are IOC; use a FOK limit order"
    if cmd.side is _BUY and cmd.quote_quantity:
        if qty:
            return RejectCode.INVALID_ORDER, "give quantity or quoteQuantity, not both"
        if not 0 < cmd.quote_quantity <= MAX_BALANCE:
            return RejectCode.INVALID_QUANTITY, "quoteQuantity out of range"
        return None
    if cmd.quote_quantity:
        return RejectCode.INVALID_ORDER, "quoteQuantity is only for market buys"
    if not 0 < qty <= max_qty:
        return RejectCode.INVALID_QUANTITY, f"quantity must be 1..{max_qty} lots"
    return None
