"""The dashboard's server side against a whole running exchange (matcher, edge, agents, flow,
market maker): analytics read the stored candles and trading goes through the callbacks. The
market data, which the browser follows live, is tested in a browser (test_browser.py)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from client import ApiError, Client
from dash_app import create_app
from model.settings import DashSettings
from tests.integration.dash_app.conftest import MARKET
from tests.support.cluster import Cluster
from tests.support.dash_callbacks import fire


@pytest.fixture
def client(exchange: Cluster) -> Client:
    return Client(exchange.base_url)


@pytest.fixture
def app(exchange: Cluster) -> Any:
    settings = DashSettings(edge_url=exchange.base_url)
    return create_app(settings, database_url=exchange.edge.env["DATABASE_URL"])


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_analytics_tab_reads_the_stored_candles(app: Any) -> None:
    values = {("tabs", "value"): "analytics", ("market-select", "value"): MARKET,
              ("analytics-interval", "value"): "1m", ("analytics-window", "value"): 10}  # fmt: skip
    out = fire(app, "analytics-price-chart.figure", values)
    assert out[("analytics-message", "className")] == "message"
    price = out[("analytics-price-chart", "figure")]
    assert [t["name"] for t in price["data"]] == ["close", "VWAP"]
    assert "VWAP" in str(out[("analytics-stats", "children")])


def test_analytics_tab_without_a_database(exchange: Cluster) -> None:
    app = create_app(DashSettings(edge_url=exchange.base_url), database_url="")
    values = {("tabs", "value"): "analytics", ("market-select", "value"): MARKET,
              ("analytics-interval", "value"): "1m", ("analytics-window", "value"): 10}  # fmt: skip
    out = fire(app, "analytics-price-chart.figure", values)
    assert "DATABASE_URL" in out[("analytics-message", "children")]


def test_trading_through_the_callbacks(app: Any, client: Client) -> None:
    form = {("signup-button", "n_clicks"): 1, ("username", "value"): f"cb{uuid.uuid4().hex[:8]}",
            ("password", "value"): "correct horse battery"}  # fmt: skip
    session = fire(app, "session-store.data", form, changed=("signup-button", "n_clicks"))[
        ("session-store", "data")
    ]
    deposit = fire(app, "deposit-message.children", {
        ("deposit-button", "n_clicks"): 1, ("session-store", "data"): session,
        ("deposit-asset", "value"): "INR", ("deposit-amount", "value"): "5000.00"})  # fmt: skip
    assert deposit[("deposit-message", "children")] == "Deposited 5000.00 INR"
    order = {("place-order-button", "n_clicks"): 1, ("session-store", "data"): session,
             ("market-select", "value"): MARKET, ("order-side", "value"): "buy",
             ("order-type", "value"): "limit", ("order-price", "value"): "1.00",
             ("order-quantity", "value"): "2"}  # fmt: skip
    placed = fire(app, "order-message.children", order)
    assert placed[("order-message", "className")] == "message ok", placed
    opened = client.open_orders(session["token"], MARKET)
    assert [(o.price, o.quantity) for o in opened] == [("1.00", "2")]
    off_grid = fire(app, "order-message.children", {**order, ("order-price", "value"): "1.001"})
    assert off_grid[("order-message", "className")] == "message error"
    assert "price" in off_grid[("order-message", "children")]
    with pytest.raises(ApiError) as refused:
        client.balances("not-a-token")
    assert refused.value.status == 401
