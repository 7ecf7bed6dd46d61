"""dash_app/app.py and the market callbacks, in process: the live client's stores are given as
the browser's ``live.js`` writes them, the market list comes from an httpx mock transport, and
callbacks are fired through Dash's own HTTP endpoint, as the browser fires them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from client import Client
from dash_app import create_app
from dash_app.callbacks.market import pick_market
from dash_app.layout import BANNER_TEXT
from dash_app.types import to_store
from edge.views import market_view
from model.api import MarketView
from model.config import load_markets
from model.settings import DashSettings
from tests.support.dash_callbacks import fire
from tests.support.views import view

TICKER = {"symbol": "TATA_INR", "firstPrice": "20.00", "lastPrice": "21.00", "high": "21.00",
          "low": "20.00", "priceChange": "1.00", "priceChangePercent": "0.050000",
          "volume": "3", "quoteVolume": "62.00", "trades": "2"}  # fmt: skip
EMPTY_TICKER = {**TICKER, "firstPrice": None, "lastPrice": None, "high": None, "low": None,
                "priceChange": "0", "priceChangePercent": "0.000000",
                "volume": "0", "quoteVolume": "0.00", "trades": "0"}  # fmt: skip
MARKETS = to_store([market_view(load_markets().markets["TATA_INR"], "0")])


class FakeEdge:
    """Answers like the edge for one market; ``up = False`` refuses every connection."""

    def __init__(self, *, traded: bool = True) -> None:
        self.up = True
        self.traded = traded
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path.removeprefix("/api/v1")
        answers: dict[str, Any] = {
            "/markets": MARKETS,
            "/ticker": TICKER if self.traded else EMPTY_TICKER,
            "/depth": {"symbol": "TATA_INR", "lastUpdateId": "5", "timestamp": 1,
                       "bids": [["20.00", "2"]] if self.traded else [],
                       "asks": [["21.50", "1"]] if self.traded else []},
            "/trades": [{"id": 1, "price": "21.00", "quantity": "1", "quoteQuantity": "21.00",
                         "timestamp": 1_767_571_200_000, "isBuyerMaker": False}]
            if self.traded else [],
            "/klines": [{"start": "2026-01-05 00:00:00", "end": "2026-01-05 00:01:00",
                         "open": "20.00", "high": "21.00", "low": "20.00", "close": "21.00",
                         "volume": "3", "quoteVolume": "62.00", "trades": "2",
                         "closed": False}] if self.traded else [],
        }  # fmt: skip
        return httpx.Response(200, json=answers[path])


@pytest.fixture
def edge() -> FakeEdge:
    return FakeEdge()


@pytest.fixture
def app(edge: FakeEdge) -> Any:
    client = Client("http://edge.test", transport=httpx.MockTransport(edge))
    settings = DashSettings(refresh_ms=500, edge_url="http://edge.test")
    return create_app(settings, client=client, database_url="")


def test_the_page_serves(app: Any) -> None:
    client = app.server.test_client()
    page = client.get("/")
    assert page.status_code == 200
    assert b"Tidewater" in page.data
    assert b"--Dash-Fill-Inverse-Strong" in page.data  # the dark theme is inline
    layout = client.get("/_dash-layout").get_json()
    assert "edge-banner" in str(layout)


def test_market_list_and_initial_choice(app: Any) -> None:
    out = fire(app, "markets-store.data", {("url", "search"): "?market=tata-inr"})
    assert out[("markets-store", "data")] == MARKETS
    assert out[("market-select", "value")] == "TATA_INR"
    assert out[("market-select", "options")] == [{"label": "TATA / INR", "value": "TATA_INR"}]


def test_the_banner_follows_the_live_connection(app: Any) -> None:
    down = fire(app, "edge-banner.style", {("live-status", "data"): {"state": "reconnecting"}})
    assert down == {("edge-banner", "style"): {"display": "block"},
                    ("edge-status", "children"): "reconnecting…"}  # fmt: skip
    assert BANNER_TEXT == "Exchange unreachable — retrying"
    up = fire(app, "edge-banner.style", {("live-status", "data"): {"state": "live", "at": 0}})
    assert up[("edge-banner", "style")] == {"display": "none"}
    assert "live" in up[("edge-status", "children")]


def test_the_market_list_is_read_until_known_then_no_more(edge: FakeEdge, app: Any) -> None:
    edge.up = False
    assert fire(app, "markets-store.data", {}) == {}  # retried on the next tick
    edge.up = True
    out = fire(app, "markets-store.data", {})
    assert out[("tick", "disabled")] is True  # the list is fixed: the timer stops


def test_the_page_gives_the_browser_the_edge_it_follows(app: Any) -> None:
    layout = str(app.server.test_client().get("/_dash-layout").get_json())
    assert "ws://edge.test/ws" in layout
    assert "http://edge.test/api/v1" in layout
    assets = app.server.test_client()
    assert "tidewater" in assets.get("/assets/live.js").get_data(as_text=True)
    assert "panels" in assets.get("/assets/market_view.js").get_data(as_text=True)


@pytest.mark.parametrize(
    ("search", "current", "chosen"),
    [
        ("", None, "BTC_USDC"),
        ("?market=TATA-INR", None, "TATA_INR"),
        ("?market=eth_usdc", None, "ETH_USDC"),
        ("?market=NOPE_X", None, "BTC_USDC"),
        ("?market=TATA_INR", "ETH_USDC", "ETH_USDC"),
    ],
)
def test_pick_market(search: str, current: str | None, chosen: str) -> None:
    symbols = ("BTC_USDC", "ETH_USDC", "TATA_INR")
    markets = view(list[MarketView], [{**MARKETS[0], "symbol": s} for s in symbols])
    assert pick_market(markets, search, current) == chosen
    assert pick_market([], search, current) is None
