"""One refresh against a scripted edge: the requests it makes, in order, with exact amounts."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import count
from typing import Any

import httpx
import msgspec
import pytest

from client import AsyncClient, Backoff
from edge.views import market_view
from marketmaker.maker import MarketMaker
from marketmaker.walk import FairWalk, Shape, seeded
from model.config import load_markets
from model.settings import MarketMakerSettings
from tests.support.views import order_json

CONFIG = load_markets()
TATA = CONFIG.markets["TATA_INR"]
SETTINGS = replace(
    MarketMakerSettings(), markets=("TATA_INR",), levels=2, seed=3, cross_probability_pct=100
)


class FakeEdge:
    """Answers like an edge with one market, and records (who, method, path, body)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str, Any]] = []
        self.ids = count(1)
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        body = json.loads(request.content) if request.content else None
        who = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.down and path == "/order":
            raise httpx.ConnectError("refused", request=request)
        self.log.append((who, request.method, request.url.raw_path.decode(), body))
        if path in ("/signup", "/signin"):
            name = body["username"]
            return httpx.Response(201, json={"token": name, "expiresAt": 2**42, "userId": 1})
        if path == "/markets":
            view = msgspec.to_builtins(market_view(TATA, "0"))
            return httpx.Response(200, json=[view])
        if path == "/trades":
            return httpx.Response(200, json=[])
        if path == "/depth":
            return httpx.Response(
                200,
                json={
                    "symbol": "TATA_INR",
                    "bids": [],
                    "asks": [],
                    "lastUpdateId": "0",
                    "timestamp": 0,
                },
            )
        if path == "/balances":
            rich = {"available": "100000000", "locked": "0"}
            return httpx.Response(200, json={"TATA": rich, "INR": rich})
        if path == "/orders":
            return httpx.Response(200, json={"canceled": []})
        if path == "/orders/open":
            return httpx.Response(200, json=[])
        if request.method == "POST" and path == "/order":
            fills = [] if body["postOnly"] else [_fill(body["price"])]
            return httpx.Response(200, json=_order(str(next(self.ids)), body, fills))
        if request.method == "DELETE" and path.startswith("/order/"):
            return httpx.Response(200, json=_order(path.rsplit("/", 1)[1], {}, []))
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": path}})

    def requests(self) -> list[tuple[str, str, str]]:
        taken = [(who, method, url) for who, method, url, _ in self.log]
        self.log.clear()
        return taken


def _fill(price: str) -> dict[str, Any]:
    return {"tradeId": 1, "price": price, "quantity": "1", "fee": "0", "feeAsset": "INR",
            "isMaker": False}  # fmt: skip


def _order(order_id: str, body: dict[str, Any], fills: list[Any]) -> dict[str, Any]:
    return order_json(order_id, **body, executedQty="1" if fills else "0", fills=fills)


@pytest.fixture
async def maker() -> Any:
    edge = FakeEdge()
    transport = httpx.MockTransport(edge)
    async with AsyncClient("http://edge", transport=transport, backoff=Backoff(1, 2)) as client:
        mm = MarketMaker(client, SETTINGS, CONFIG.assets)
        await mm.start()
        edge.log.clear()
        yield mm, edge


async def test_the_first_refresh_clears_the_market_then_quotes_and_crosses(maker: Any) -> None:
    mm, edge = maker
    market = mm.markets["TATA_INR"]
    await mm.refresh(market)
    bodies = [body for _, method, _, body in edge.log if method == "POST"]
    assert edge.requests()[0] == ("market-maker", "DELETE", "/api/v1/orders?market=TATA_INR")
    quotes, cross = bodies[:4], bodies[4]
    assert [(q["kind"], q["postOnly"], q["timeInForce"]) for q in quotes] == [
        ("buy", True, "GTC"), ("buy", True, "GTC"), ("sell", True, "GTC"), ("sell", True, "GTC")
    ]  # fmt: skip
    for q in quotes:
        # Exact decimal strings on the grid, as MarketSpec writes them ("1000.10", "3").
        assert q["price"] == TATA.format_price(TATA.parse_price(q["price"]))
        assert q["quantity"] == TATA.format_quantity(TATA.parse_quantity(q["quantity"]))
        assert q["clientOrderId"].endswith(f"-TATA_INR-1-{quotes.index(q)}")
    assert (cross["timeInForce"], cross["postOnly"]) == ("IOC", False)
    best = min(quotes[2:], key=lambda q: TATA.parse_price(q["price"]))
    if cross["kind"] == "sell":
        best = max(quotes[:2], key=lambda q: TATA.parse_price(q["price"]))
    assert cross["price"] == best["price"]
    assert mm.markets["TATA_INR"].stats.trades == 1


async def test_later_refreshes_place_before_they_cancel(maker: Any) -> None:
    mm, edge = maker
    market = mm.markets["TATA_INR"]
    await mm.refresh(market)
    old = {str(i) for i in range(1, 5)}  # the ids the fake gave the first four quotes
    edge.requests()
    await mm.refresh(market)
    requests = edge.requests()
    kinds = [
        "place" if m == "POST" else "cancel" if url.rsplit("/", 1)[1] in old else "other"
        for _, m, url in requests
    ]
    assert "other" not in kinds
    assert (kinds.count("cancel"), kinds.count("place")) == (4, 5)  # 4 quotes + the cross
    # Only quotes the new ladder would cross go before it; the rest leave after.
    first_place = kinds.index("place")
    assert kinds[first_place:].count("cancel") >= 2
    assert requests[-1][0] == "market-maker-taker"


async def test_the_walk_follows_the_seed_whatever_the_edge_says(maker: Any) -> None:
    mm, _ = maker
    market = mm.markets["TATA_INR"]
    start = market.walk.price
    for _ in range(5):
        await mm.refresh(market)
    walk = FairWalk(start, Shape.around(TATA, 2, start), seeded(3, "TATA_INR", "walk"))
    assert market.walk.price == [walk.step() for _ in range(5)][-1]


async def test_an_interrupted_refresh_makes_the_next_one_start_clean(maker: Any) -> None:
    mm, edge = maker
    market = mm.markets["TATA_INR"]
    await mm.refresh(market)
    edge.down = True
    await mm.refresh(market)
    assert (market.resting, market.stats.interrupted) == (None, 1)
    edge.down = False
    edge.requests()
    await mm.refresh(market)
    assert edge.requests()[0] == ("market-maker", "DELETE", "/api/v1/orders?market=TATA_INR")


async def test_withdraw_cancels_every_market_of_both_accounts(maker: Any) -> None:
    mm, edge = maker
    await mm.refresh(mm.markets["TATA_INR"])
    edge.requests()
    assert await mm.withdraw(1000)
    assert edge.requests() == [
        ("market-maker", "DELETE", "/api/v1/orders"),
        ("market-maker", "GET", "/api/v1/orders/open"),
        ("market-maker-taker", "DELETE", "/api/v1/orders"),
        ("market-maker-taker", "GET", "/api/v1/orders/open"),
    ]
