"""The one view of an order as the engine or the store holds it: what the edge's routes answer
and what the private stream's order messages carry (``pipeline.persist``)."""

from __future__ import annotations

from typing import Any

import msgspec

from model.api import OrderView
from model.enums import OrderStatus
from model.events import OrderState
from model.numbers import MarketSpec

__all__ = ["order_view", "progressed"]


def order_view(spec: MarketSpec, state: OrderState) -> OrderView:
    """The view of an order the engine reports (open, or remembered after closing)."""
    return OrderView(
        order_id=str(state.order_id),
        market=state.market,
        kind=state.side,
        type=state.type,
        time_in_force=state.tif,
        post_only=state.post_only,
        price=spec.format_price(state.price) if state.price else None,
        quantity=spec.format_quantity(state.quantity) if state.quantity else None,
        quote_quantity=None,
        client_order_id=state.client_order_id,
        created_at=state.ts // 1000,
        self_trade_prevention=state.stp,
        **_progress(spec, state.status, state.quantity, state.executed_quantity,
                    state.executed_quote, state.remaining),
    )  # fmt: skip


def progressed(
    view: OrderView,
    spec: MarketSpec,
    status: OrderStatus,
    quantity: int,
    executed: int,
    executed_quote: int,
    remaining: int,
) -> OrderView:
    """``view`` of the same order at another moment: only its status and amounts differ
    (cheaper than a whole new view, for a batch of one order's changes)."""
    return msgspec.structs.replace(
        view, **_progress(spec, status, quantity, executed, executed_quote, remaining)
    )


def _progress(
    spec: MarketSpec,
    status: OrderStatus,
    quantity: int,
    executed: int,
    executed_quote: int,
    remaining: int,
) -> dict[str, Any]:
    return {
        "status": status,
        "executed_qty": spec.format_quantity(executed),
        "executed_quote_qty": spec.quote.format(executed_quote),
        "remaining_qty": spec.format_quantity(remaining) if quantity else None,
    }
