"""Identifiers. Distinct types so an order id is never passed where a user id belongs."""

from __future__ import annotations

from typing import NewType

__all__ = ["FEE_ACCOUNT", "OrderId", "TradeId", "UserId"]

UserId = NewType("UserId", int)
OrderId = NewType("OrderId", int)
TradeId = NewType("TradeId", int)

#: The account that collects trading fees. Real users are numbered from 1.
FEE_ACCOUNT = UserId(0)
