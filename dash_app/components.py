"""HTML pieces built from the edge's payloads: pure functions, no I/O.

Tables show the API's strings as they came; the only arithmetic (running totals for the ladder's
depth bars, the spread) is exact, on ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal

from dash import html

from dash_app.format import DASH, change_class, cumulative, format_time, share, spread, ticker_items
from dash_app.theme import DOWN, UP
from model.api import AccountFillView, BalanceView, DepthView, OrderView, TickerView, TradeView

__all__ = [
    "BOOK_LEVEL",
    "CANCEL_BUTTON",
    "balances_table",
    "fills_table",
    "history_table",
    "order_book",
    "orders_table",
    "ticker_bar",
    "trades_tape",
]

#: ``type`` of the pattern-matching id of each open order's cancel button.
CANCEL_BUTTON = "cancel-order"
#: ``type`` of the pattern-matching id of each row of the order book (click: take its price).
BOOK_LEVEL = "book-level"


def _empty(message: str) -> html.Div:
    return html.Div(message, className="empty")


def ticker_bar(ticker: TickerView | None, base: str = "", quote: str = "") -> list[html.Div]:
    """The 24 h figures of one market, the change coloured by its sign."""
    items = []
    for index, (label, value) in enumerate(ticker_items(ticker, base, quote)):
        klass = "ticker-value"
        if ticker is not None and index in (0, 1):
            klass += " " + change_class(ticker.price_change)
        items.append(
            html.Div(
                [html.Span(label, className="ticker-label"), html.Span(value, className=klass)],
                className="ticker-item",
            )
        )
    return items


def _ladder_row(side: str, price: str, quantity: str, total: str, whole: str) -> html.Tr:
    color = "rgba(14, 203, 129, 0.16)" if side == "bid" else "rgba(246, 70, 93, 0.16)"
    width = share(total, whole)
    return html.Tr(
        [
            html.Td(price, className="up" if side == "bid" else "down"),
            html.Td(quantity),
            html.Td(total, className="muted"),
        ],
        className=side,
        id={"type": BOOK_LEVEL, "side": side, "price": price},
        n_clicks=0,
        title="Click: take this price",
        style={
            "backgroundImage": f"linear-gradient({color}, {color})",
            "backgroundSize": f"{width:.1f}% 100%",
            "cursor": "pointer",
        },
    )


def order_book(depth: DepthView, levels: int = 12, last_price: str | None = None) -> html.Table:
    """The ladder: asks above (best nearest the middle), the spread, bids below."""
    asks = cumulative(depth.asks[:levels])
    bids = cumulative(depth.bids[:levels])
    whole = max((side[-1].total for side in (asks, bids) if side), key=Decimal, default="0")
    rows: list[html.Tr] = [_ladder_row("ask", *level, whole) for level in reversed(asks)]
    gap = spread(depth)
    middle = [html.Td(last_price or DASH), html.Td(f"spread {gap}" if gap else "", colSpan=2)]
    rows.append(html.Tr(middle, className="mid"))
    rows += [_ladder_row("bid", *level, whole) for level in bids]
    if not asks and not bids:
        rows.append(html.Tr(html.Td("No orders in the book", colSpan=3, className="empty")))
    header = html.Thead(html.Tr([html.Th("Price"), html.Th("Size"), html.Th("Total")]))
    return html.Table([header, html.Tbody(rows)], className="ladder", id="order-book-table")


def trades_tape(trades: list[TradeView]) -> html.Div | html.Table:
    """Recent trades, newest first: green when the taker bought, red when it sold."""
    if not trades:
        return _empty("No trades yet")
    header = html.Thead(html.Tr([html.Th("Price"), html.Th("Size"), html.Th("Time")]))
    rows = [
        html.Tr(
            [
                html.Td(t.price, style={"color": DOWN if t.is_buyer_maker else UP}),
                html.Td(t.quantity),
                html.Td(format_time(t.timestamp), className="muted"),
            ],
            className="trade-row",
        )
        for t in trades
    ]
    return html.Table([header, html.Tbody(rows)], id="trades-table")


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
