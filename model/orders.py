"""The shape of an order: field combinations that make no order, whatever the book holds.

One function, :func:`order_shape_problem`, checked by the edge before it sends an order (so a
malformed one is answered 400 at once) and by the matcher's engine before anything else (so a
command that reaches it some other way is refused the same way, with the same code and
message). ``docs/matching.md`` lists the order types.
"""

from __future__ import annotations

from typing import NamedTuple

from model.commands import PlaceOrder
from model.enums import OrderType, Side, TimeInForce
from model.numbers import MAX_BALANCE, MarketSpec
from model.rejects import RejectCode

__all__ = ["MAX_CLIENT_ORDER_ID", "ShapeProblem", "order_shape_problem"]

MAX_CLIENT_ORDER_ID = 64
"""Longest ``clientOrderId``, in characters."""
_LIMIT = OrderType.LIMIT
_GTC = TimeInForce.GTC
_BUY = Side.BUY


class ShapeProblem(NamedTuple):
    """Why an order makes no sense: its reject code, a message, and the API field at fault."""

    code: RejectCode
    message: str
    field: str


def order_shape_problem(cmd: PlaceOrder, spec: MarketSpec) -> ShapeProblem | None:
    """The problem of an order that makes no sense on ``spec``'s market, or ``None``.

    Absent amounts are 0 (a parsed amount is positive).
    """
    qty, max_qty = cmd.quantity, spec.max_quantity_lots
    if cmd.client_order_id is not None and not 0 < len(cmd.client_order_id) <= (
        MAX_CLIENT_ORDER_ID
    ):
        return ShapeProblem(
            RejectCode.INVALID_ORDER,
            f"clientOrderId must be 1..{MAX_CLIENT_ORDER_ID} chars",
            "clientOrderId",
        )
    if cmd.type is _LIMIT:
        if not 0 < cmd.price <= spec.max_price_ticks:
            return ShapeProblem(
                RejectCode.INVALID_PRICE, f"price must be 1..{spec.max_price_ticks} ticks", "price"
            )
        if not 0 < qty <= max_qty:
            return ShapeProblem(
                RejectCode.INVALID_QUANTITY, f"quantity must be 1..{max_qty} lots", "quantity"
            )
        if cmd.quote_quantity:
            return ShapeProblem(
                RejectCode.INVALID_ORDER, "quoteQuantity is only for market buys", "quoteQuantity"
            )
        if cmd.post_only and cmd.tif is not _GTC:
            return ShapeProblem(
                RejectCode.INVALID_ORDER, "postOnly needs timeInForce GTC", "postOnly"
            )
        return None
    if cmd.price:
        return ShapeProblem(RejectCode.INVALID_ORDER, "a market order takes no price", "price")
    if cmd.post_only:
        return ShapeProblem(
            RejectCode.INVALID_ORDER, "a market order cannot be post-only", "postOnly"
        )
    if cmd.tif is TimeInForce.FOK:
        return ShapeProblem(
            RejectCode.INVALID_ORDER,
            "market orders are IOC; use a FOK limit order",
            "timeInForce",
        )
    if cmd.side is _BUY and cmd.quote_quantity:
        if qty:
            return ShapeProblem(
                RejectCode.INVALID_ORDER, "give quantity or quoteQuantity, not both", "quantity"
            )
        if not 0 < cmd.quote_quantity <= MAX_BALANCE:
            return ShapeProblem(
                RejectCode.INVALID_QUANTITY, "quoteQuantity out of range", "quoteQuantity"
            )
        return None
    if cmd.quote_quantity:
        return ShapeProblem(
            RejectCode.INVALID_ORDER, "quoteQuantity is only for market buys", "quoteQuantity"
        )
    if not 0 < qty <= max_qty:
        return ShapeProblem(
            RejectCode.INVALID_QUANTITY, f"quantity must be 1..{max_qty} lots", "quantity"
        )
    return None
