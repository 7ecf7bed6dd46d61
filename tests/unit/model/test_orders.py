"""model/orders.py: every order-shape rule, with its code, message and field; the matcher's
check is this one."""

from __future__ import annotations

from typing import Any

import pytest

from matcher import validation
from model.commands import PlaceOrder
from model.config import load_markets
from model.enums import OrderType, Side, TimeInForce
from model.ids import OrderId, UserId
from model.numbers import MAX_BALANCE
from model.orders import ShapeProblem, order_shape_problem
from model.rejects import RejectCode

SPEC = load_markets().markets["TATA_INR"]
LOTS, TICKS = SPEC.max_quantity_lots, SPEC.max_price_ticks
BAD, QTY, PRICE = RejectCode.INVALID_ORDER, RejectCode.INVALID_QUANTITY, RejectCode.INVALID_PRICE


def _order(**fields: Any) -> PlaceOrder:
    base: dict[str, Any] = {"user_id": UserId(1), "ts": 1, "order_id": OrderId(1),
                            "market": SPEC.symbol, "side": Side.BUY, "type": OrderType.LIMIT,
                            "price": 100, "quantity": 1}  # fmt: skip
    return PlaceOrder(**(base | fields))


LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
CASES: list[tuple[dict[str, Any], ShapeProblem | None]] = [
    ({}, None),
    (
        {"client_order_id": "x" * 65},
        ShapeProblem(BAD, "clientOrderId must be 1..64 chars", "clientOrderId"),
    ),
    (
        {"client_order_id": ""},
        ShapeProblem(BAD, "clientOrderId must be 1..64 chars", "clientOrderId"),
    ),
    ({"price": 0}, ShapeProblem(PRICE, f"price must be 1..{TICKS} ticks", "price")),
    ({"price": TICKS + 1}, ShapeProblem(PRICE, f"price must be 1..{TICKS} ticks", "price")),
    ({"quantity": 0}, ShapeProblem(QTY, f"quantity must be 1..{LOTS} lots", "quantity")),
    (
        {"quote_quantity": 5},
        ShapeProblem(BAD, "quoteQuantity is only for market buys", "quoteQuantity"),
    ),
    (
        {"post_only": True, "tif": TimeInForce.IOC},
        ShapeProblem(BAD, "postOnly needs timeInForce GTC", "postOnly"),
    ),
    ({"post_only": True}, None),
    ({"type": MARKET, "price": 0}, None),
    ({"type": MARKET}, ShapeProblem(BAD, "a market order takes no price", "price")),
    (
        {"type": MARKET, "price": 0, "post_only": True},
        ShapeProblem(BAD, "a market order cannot be post-only", "postOnly"),
    ),
    (
        {"type": MARKET, "price": 0, "tif": TimeInForce.FOK},
        ShapeProblem(BAD, "market orders are IOC; use a FOK limit order", "timeInForce"),
    ),
    (
        {"type": MARKET, "price": 0, "quote_quantity": 5},
        ShapeProblem(BAD, "give quantity or quoteQuantity, not both", "quantity"),
    ),
    ({"type": MARKET, "price": 0, "quantity": 0, "quote_quantity": 5}, None),
    (
        {"type": MARKET, "price": 0, "quantity": 0, "quote_quantity": MAX_BALANCE + 1},
        ShapeProblem(QTY, "quoteQuantity out of range", "quoteQuantity"),
    ),
    (
        {"type": MARKET, "price": 0, "quantity": 0, "quote_quantity": 5, "side": Side.SELL},
        ShapeProblem(BAD, "quoteQuantity is only for market buys", "quoteQuantity"),
    ),
    (
        {"type": MARKET, "price": 0, "quantity": 0},
        ShapeProblem(QTY, f"quantity must be 1..{LOTS} lots", "quantity"),
    ),
    (
        {"type": MARKET, "price": 0, "quantity": LOTS + 1},
        ShapeProblem(QTY, f"quantity must be 1..{LOTS} lots", "quantity"),
    ),
]


@pytest.mark.parametrize(("fields", "expected"), CASES)
def test_order_shapes(fields: dict[str, Any], expected: ShapeProblem | None) -> None:
    cmd = _order(**fields)
    assert order_shape_problem(cmd, SPEC) == expected
    # The matcher's check is the same rule, as (code, message).
    assert validation.order_shape_problem(cmd, SPEC) == (
        None if expected is None else (expected.code, expected.message)
    )
