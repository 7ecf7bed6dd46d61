"""The account's HTML pieces, built from the edge's payloads: pure functions, no I/O.

Tables show the API's strings as they came. The market's panels (ticker, order book, trades tape)
are drawn in the browser, by ``assets/market_view.js``.
"""

from __future__ import annotations

from decimal import Decimal

from dash import html

from dash_app.format import DASH, format_time
from model.api import AccountFillView, BalanceView, OrderView

__all__ = [
    "CANCEL_BUTTON",
    "balances_table",
    "fills_table",
    "history_table",
    "orders_table",
]

#: ``type`` of the pattern-matching id of each open order's cancel button.
CANCEL_BUTTON = "cancel-order"


def _empty(message: str) -> html.Div:
    return html.Div(message, className="empty")


def balances_table(balances: dict[str, BalanceView]) -> html.Div | html.Table:
    """Available and locked per asset, as the edge formats them (assets with none left out)."""
    held = {asset: b for asset, b in balances.items() if Decimal(b.available) or Decimal(b.locked)}
    if not held:
        return _empty("No funds yet: deposit test funds below")
    header = html.Thead(html.Tr([html.Th("Asset"), html.Th("Available"), html.Th("Locked")]))
    rows = [
        html.Tr([html.Td(asset), html.Td(b.available), html.Td(b.locked)])
        for asset, b in sorted(held.items())
    ]
    return html.Table([header, html.Tbody(rows)], id="balances-table")


def orders_table(orders: list[OrderView]) -> html.Div | html.Table:
    """Open orders, newest first, each with a cancel button (a pattern-matching id)."""
    if not orders:
        return _empty("No open orders")
    header = html.Thead(
        html.Tr([html.Th(h) for h in ("Market", "Side", "Type", "Price", "Qty", "Filled", "")])
    )
    rows = []
    for order in sorted(orders, key=lambda o: o.created_at, reverse=True):
        side = order.kind.value
        rows.append(
            html.Tr(
                [
                    html.Td(order.market),
                    html.Td(side, className="up" if side == "buy" else "down"),
                    html.Td(order.type.value),
                    html.Td(order.price or DASH),
                    html.Td(order.quantity or DASH),
                    html.Td(order.executed_qty),
                    html.Td(
                        html.Button(
                            "Cancel",
                            id={"type": CANCEL_BUTTON, "order": order.order_id},
                            className="small",
                            n_clicks=0,
                        )
                    ),
                ],
                className="open-order",
            )
        )
    return html.Table([header, html.Tbody(rows)], id="open-orders-table")


def history_table(orders: list[OrderView]) -> html.Div | html.Table:
    """A page of the user's orders, open and closed, newest first."""
    if not orders:
        return _empty("No orders yet")
    header = html.Thead(
        html.Tr(
            [html.Th(h) for h in ("Time", "Market", "Side", "Price", "Qty", "Filled", "Status")]
        )
    )
    rows = [
        html.Tr(
            [
                html.Td(format_time(o.created_at), className="muted"),
                html.Td(o.market),
                html.Td(o.kind.value, className="up" if o.kind.value == "buy" else "down"),
                html.Td(o.price or DASH),
                html.Td(o.quantity or DASH),
                html.Td(o.executed_qty),
                html.Td(o.status.value),
            ],
            className="history-order",
        )
        for o in orders
    ]
    return html.Table([header, html.Tbody(rows)], id="history-table")


def fills_table(fills: list[AccountFillView]) -> html.Div | html.Table:
    """A page of the user's fills, newest first: side, price, size, role and fee."""
    if not fills:
        return _empty("No fills yet")
    header = html.Thead(
        html.Tr([html.Th(h) for h in ("Time", "Market", "Side", "Price", "Qty", "Role", "Fee")])
    )
    rows = [
        html.Tr(
            [
                html.Td(format_time(f.timestamp), className="muted"),
                html.Td(f.market),
                html.Td(f.kind.value, className="up" if f.kind.value == "buy" else "down"),
                html.Td(f.price),
                html.Td(f.quantity),
                html.Td("maker" if f.is_maker else "taker"),
                html.Td(f"{f.fee} {f.fee_asset}"),
            ],
            className="fill-row",
        )
        for f in fills
    ]
    return html.Table([header, html.Tbody(rows)], id="fills-table")
