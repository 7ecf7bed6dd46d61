"""Field combinations that make no order, checked before anything else (docs/matching.md).

The rules live in :mod:`model.orders`, shared with the edge, which checks them too before it
sends an order; the engine checks them again for every command, however it arrived.
"""

from __future__ import annotations

from model.commands import PlaceOrder
from model.numbers import MarketSpec
from model.orders import MAX_CLIENT_ORDER_ID
from model.orders import order_shape_problem as _problem
from model.rejects import RejectCode

__all__ = ["MAX_CLIENT_ORDER_ID", "order_shape_problem"]


def order_shape_problem(cmd: PlaceOrder, spec: MarketSpec) -> tuple[RejectCode, str] | None:
    """The reject code and message for an order that makes no sense here, or ``None``."""
    problem = _problem(cmd, spec)
    return None if problem is None else (problem.code, problem.message)
