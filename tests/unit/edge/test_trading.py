"""edge/trading.py: an order that makes no sense is refused at the edge with the matcher's own
code and message (``model.orders``), before anything is sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from edge.errors import ApiError
from edge.trading import Exchange
from model.api import OrderRequest
from model.config import load_markets
from model.enums import OrderType, Side, TimeInForce
from model.ids import OrderIdFactory, UserId

CONFIG = load_markets()


class _Gateway:
    order_ids = OrderIdFactory(0)


class _Exchange(Exchange):
    async def call(self, shard: str, command: Any, order_id: Any = None) -> Any:
        raise AssertionError("a malformed order reached the matcher")


def _place(**fields: Any) -> ApiError:
    exchange = _Exchange(CONFIG, dict.fromkeys(CONFIG.markets, "0"), _Gateway(), None)  # type: ignore[arg-type]
    request = OrderRequest(**({"market": "TATA_INR", "kind": Side.BUY} | fields))
    with pytest.raises(ApiError) as caught:
        asyncio.run(exchange.place(request, UserId(1)))
    return caught.value


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"type": OrderType.MARKET, "price": "1", "quantity": "1"}, "INVALID_ORDER",
         "a market order takes no price"),
        ({"type": OrderType.MARKET, "kind": Side.SELL, "quote_quantity": "10"}, "INVALID_ORDER",
         "quoteQuantity is only for market buys"),
        ({"type": OrderType.LIMIT, "price": "1", "quantity": "1", "quote_quantity": "10"},
         "INVALID_ORDER", "quoteQuantity is only for market buys"),
        ({"type": OrderType.LIMIT, "price": "1", "quantity": "1", "post_only": True,
          "time_in_force": TimeInForce.IOC}, "INVALID_ORDER", "postOnly needs timeInForce GTC"),
        ({"type": OrderType.MARKET, "quantity": "1", "time_in_force": TimeInForce.FOK},
         "INVALID_ORDER", "market orders are IOC; use a FOK limit order"),
        ({"type": OrderType.MARKET}, "INVALID_ORDER",
         "a market order needs exactly one of quantity and quoteQuantity"),
        ({"type": OrderType.LIMIT, "quantity": "1"}, "INVALID_REQUEST", "price is required"),
    ],
)  # fmt: skip
def test_malformed_orders_are_refused_before_sending(
    fields: dict[str, Any], code: str, message: str
) -> None:
    error = _place(**fields)
    assert (error.status, error.code, error.message) == (400, code, message)
