"""The one view of an order as the engine or the store holds it: what the edge's routes answer
and what the private stream's order messages carry (``pipeline.persist``)."""

from __future__ import annotations

from model.api import OrderView
from model.events import OrderState
from model.numbers import MarketSpec

__all__ = ["order_view"]


def order_view(spec: MarketSpec, state: OrderState) -> OrderView:
    """The view of an order the engine reports (open, or remembered after closing)."""
    return OrderView(
        order_id=str(state.order_id),
        market=state.market,
        kind=state.side,
        type=state.type,
        status=state.status,
        time_in_force=state.tif,
        post_only=state.post_only,
        price=spec.format_price(state.price) if state.price else None,
        quantity=spec.format_quantity(state.quantity) if state.quantity else None,
        quote_quantity=None,
        executed_qty=spec.format_quantity(state.executed_quantity),
        executed_quote_qty=spec.quote.format(state.executed_quote),
        remaining_qty=spec.format_quantity(state.remaining) if state.quantity else None,
        client_order_id=state.client_order_id,
        created_at=state.ts // 1000,
        self_trade_prevention=state.stp,
    )
