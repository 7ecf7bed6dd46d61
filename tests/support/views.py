"""The API's bodies as the edge encodes them, for tests that script an edge or feed a view."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


def order_json(order_id: str = "1", **fields: Any) -> dict[str, Any]:
    """An ``OrderView`` as JSON data (camelCase): a new limit buy, overridden by ``fields``."""
    order = {"orderId": order_id, "market": "TATA_INR", "kind": "buy", "type": "limit",
             "status": "new", "timeInForce": "GTC", "postOnly": False, "price": "100.10",
             "quantity": "0.000100", "quoteQuantity": None, "executedQty": "0",
             "executedQuoteQty": "0", "remainingQty": "0.000100", "clientOrderId": None,
             "createdAt": 1, "selfTradePrevention": "cancel_taker", "fills": []}  # fmt: skip
    return order | fields


def view(kind: type[T], data: Any) -> T:
    """``data`` (JSON data, camelCase) as the API type ``kind``, checked as a client decodes it."""
    return msgspec.convert(data, kind)
