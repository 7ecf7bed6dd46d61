"""dash_app/components.py: the ladder, tape and tables show the API's strings as given."""

from __future__ import annotations

from typing import Any

from dash import html

from dash_app.components import (
    CANCEL_BUTTON,
    balances_table,
    order_book,
    orders_table,
    ticker_bar,
    trades_tape,
)
from model.api import BalanceView, DepthView, OrderView, TickerView, TradeView
from tests.support.views import order_json, view


def _rows(table: Any, klass: str | None = None) -> list[Any]:
    body = table.children[1]
    return [r for r in body.children if klass is None or getattr(r, "className", None) == klass]


def _texts(row: Any) -> list[Any]:
    return [cell.children for cell in row.children]


def test_order_book_ladder() -> None:
    depth = DepthView(
        symbol="TATA_INR",
        last_update_id=3,
        bids=[["99.00", "4"], ["98.50", "0.5"]],
        asks=[["101.00", "3"], ["101.50", "2"]],
    )
    table = order_book(depth, last_price="100.00")
    asks, bids = _rows(table, "ask"), _rows(table, "bid")
    # Asks above with the best nearest the middle; running totals exact.
    assert [_texts(r) for r in asks] == [["101.50", "2", "5"], ["101.00", "3", "3"]]
    assert [_texts(r) for r in bids] == [["99.00", "4", "4"], ["98.50", "0.5", "4.5"]]
    middle = _rows(table, "mid")[0]
    assert _texts(middle) == ["100.00", "spread 2.00"]
    # The deepest total fills the bar; the others in proportion.
    assert asks[0].style["backgroundSize"] == "100.0% 100%"
    assert bids[0].style["backgroundSize"] == "80.0% 100%"


def test_order_book_of_an_empty_market() -> None:
    table = order_book(DepthView(symbol="X_Y", last_update_id=0, bids=[], asks=[]))
    rows = _rows(table)
    assert _texts(rows[0]) == ["—", ""]
    assert rows[-1].children.children == "No orders in the book"


def test_trades_tape() -> None:
    trades = view(list[TradeView], [
        {"id": 2, "price": "101.00", "quantity": "5", "quoteQuantity": "505.00",
         "timestamp": 1_767_571_200_000, "isBuyerMaker": False},
        {"id": 1, "price": "99.00", "quantity": "2", "quoteQuantity": "198.00",
         "timestamp": 1_767_571_201_000, "isBuyerMaker": True},
    ])  # fmt: skip
    table = trades_tape(trades)
    rows = _rows(table, "trade-row")
    assert [_texts(r) for r in rows] == [["101.00", "5", "00:00:00"], ["99.00", "2", "00:00:01"]]
    buy, sell = (r.children[0].style["color"] for r in rows)
    assert buy != sell


def test_trades_tape_empty() -> None:
    empty = trades_tape([])
    assert isinstance(empty, html.Div)
    assert empty.children == "No trades yet"


def test_balances_table_leaves_out_empty_assets() -> None:
    table = balances_table(view(dict[str, BalanceView], {
        "INR": {"available": "97600.24", "locked": "2399.76"},
        "BTC": {"available": "0E-8", "locked": "0E-8"},
        "TATA": {"available": "0", "locked": "3"},
    }))  # fmt: skip
    assert [_texts(r) for r in _rows(table)] == [
        ["INR", "97600.24", "2399.76"],
        ["TATA", "0", "3"],
    ]
    nothing = view(dict[str, BalanceView], {"BTC": {"available": "0E-8", "locked": "0E-8"}})
    assert balances_table(nothing).children.startswith("No funds yet")


def test_orders_table_with_a_cancel_button_per_order() -> None:
    orders = view(list[OrderView], [
        order_json("11", market="TATA_INR", kind="buy", price="90.50", quantity="3",
                   executedQty="0", createdAt=1),
        order_json("12", market="BTC_USDC", kind="sell", price="50000.00", quantity="0.0100",
                   executedQty="0.0020", createdAt=2),
    ])  # fmt: skip
    table = orders_table(orders)
    rows = _rows(table, "open-order")
    assert [_texts(r)[:6] for r in rows] == [
        ["BTC_USDC", "sell", "limit", "50000.00", "0.0100", "0.0020"],
        ["TATA_INR", "buy", "limit", "90.50", "3", "0"],
    ]
    assert [r.children[-1].children.id for r in rows] == [
        {"type": CANCEL_BUTTON, "order": "12"},
        {"type": CANCEL_BUTTON, "order": "11"},
    ]
    assert orders_table([]).children == "No open orders"


def test_ticker_bar_colours_the_change() -> None:
    items = ticker_bar(view(TickerView, {
        "symbol": "TATA_INR", "firstPrice": "20.00", "lastPrice": "19.00", "high": "20.00",
        "low": "19.00", "priceChange": "-1.00", "priceChangePercent": "-5.00", "volume": "2",
        "quoteVolume": "39.00", "trades": 2,
    }), "TATA", "INR")  # fmt: skip
    last, change = (item.children[1] for item in items[:2])
    assert (last.children, last.className) == ("19.00", "ticker-value down")
    assert change.children == "-1.00 (-5.00%)"
    assert len(ticker_bar(None)) == len(items)
