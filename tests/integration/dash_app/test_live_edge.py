"""The dashboard's server side against a whole running exchange (matcher, edge, agents, flow,
market maker): the edge client and the callbacks return real data, an empty market shows its
empty state, analytics read the stored candles, and the banner follows the edge down and up."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from client import UNREACHABLE, ApiError, Client
from dash_app import create_app
from dash_app.callbacks.market import fetch_market, render
from model.settings import DashSettings
from tests.integration.dash_app.conftest import MARKET
from tests.support.cluster import Cluster
from tests.support.dash_callbacks import fire
from tests.support.waiting import eventually

EMPTY_MARKET = "BTC_USDC"  # the market maker quotes only MARKET here


@pytest.fixture
def client(exchange: Cluster) -> Client:
    return Client(exchange.base_url)


@pytest.fixture
def app(exchange: Cluster) -> Any:
    settings = DashSettings(edge_url=exchange.base_url)
    return create_app(settings, database_url=exchange.edge.env["DATABASE_URL"])


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_edge_client_reads_live_market_data(client: Client) -> None:
    snapshot = eventually(
        lambda: fetch_market(client, MARKET, "1m", _now_ms()),
        lambda s: s.klines and s.trades and s.depth.bids and s.depth.asks,
    )
    assert snapshot.ticker.trades > 0
    assert snapshot.klines[-1].close
    _, candles, depth, _, _ = render(snapshot, None)
    assert len(candles.data[0].open) >= 2  # at least one bar (and the empty one after it)
    assert [t.name for t in depth.data] == ["bids", "asks"]
    assert {m.symbol for m in client.markets()} >= {MARKET, EMPTY_MARKET}


def test_empty_market(client: Client) -> None:
    snapshot = fetch_market(client, EMPTY_MARKET, "1m", _now_ms())
    assert (snapshot.trades, snapshot.klines) == ([], [])
    assert snapshot.ticker.last_price is None
    _, candles, _, _, tape = render(snapshot, None)
    assert candles.layout.annotations[0].text == "No trades yet"
    assert tape.children == "No trades yet"


def test_poll_callback_through_dash(app: Any) -> None:
    poll = {("tick", "n_intervals"): 1, ("market-select", "value"): MARKET,
            ("interval-select", "value"): "1m"}  # fmt: skip
    out = fire(app, "candles-chart.figure", poll)
    assert out[("edge-banner", "style")] == {"display": "none"}
    assert out[("candles-chart", "figure")]["data"][0]["type"] == "candlestick"
    assert "trade-row" in str(out[("trades-tape", "children")])


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


def test_banner_follows_the_edge_down_and_up(exchange: Cluster, app: Any) -> None:
    poll = {("tick", "n_intervals"): 1, ("market-select", "value"): MARKET,
            ("interval-select", "value"): "1m"}  # fmt: skip
    exchange.edge.stop()
    try:
        with pytest.raises(ApiError) as unreachable:
            Client(exchange.base_url).ticker(MARKET)
        assert unreachable.value.code == UNREACHABLE
        down = fire(app, "candles-chart.figure", poll)
        # The banner shows; every panel keeps its last data (no update sent for them).
        assert down == {("edge-banner", "style"): {"display": "block"},
                        ("edge-status", "children"): "reconnecting…"}  # fmt: skip
    finally:
        exchange.edge.start()
        exchange.wait_ready()
    up = fire(app, "candles-chart.figure", poll)
    assert up[("edge-banner", "style")] == {"display": "none"}
    assert ("candles-chart", "figure") in up
