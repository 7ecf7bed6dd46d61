"""What the dashboard keeps in the browser's stores, and the API's types going in and out of them.

The edge's answers arrive as the API's own types (``model.api``, through ``client.Client``). A
``dcc.Store`` holds JSON, so what is kept there (the market list, the open orders) goes in as
plain data (:func:`to_store`) and comes back typed (:func:`markets_from_store`,
:func:`orders_from_store`). Prices, quantities and amounts stay the API's decimal strings.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec

from model.api import MarketView, OrderView

__all__ = ["Session", "markets_from_store", "orders_from_store", "to_store"]


class Session(TypedDict):
    """What the browser keeps in its session store once signed in."""

    token: str
    expiresAt: int
    userId: int
    username: str


def to_store(value: Any) -> Any:
    """``value`` (API types, lists of them) as the JSON data a ``dcc.Store`` holds."""
    return msgspec.to_builtins(value)


def markets_from_store(data: Any) -> list[MarketView]:
    """The market list a store holds (empty if none)."""
    return msgspec.convert(data or [], list[MarketView])


def orders_from_store(data: Any) -> list[OrderView]:
    """The open orders a store holds (empty if none)."""
    return msgspec.convert(data or [], list[OrderView])
