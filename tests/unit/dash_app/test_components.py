"""dash_app/components.py: the ladder, tape and tables show the API's strings as given."""

from __future__ import annotations

from typing import Any

from dash_app.components import CANCEL_BUTTON, balances_table, orders_table
from model.api import BalanceView, OrderView
from tests.support.views import order_json, view


def _rows(table: Any, klass: str | None = None) -> list[Any]:
    body = table.children[1]
    return [r for r in body.children if klass is None or getattr(r, "className", None) == klass]


def _texts(row: Any) -> list[Any]:
    return [cell.children for cell in row.children]


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
