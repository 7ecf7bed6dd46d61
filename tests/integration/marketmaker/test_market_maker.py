"""Market maker against a live edge: books stay two-sided, trades print, it cleans up on stop,
and it rides out an edge restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.marketmaker.conftest import MarketMakerProcess, eventually, sign_in
from tests.support.cluster import Cluster


@pytest.fixture
def api(exchange: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{exchange.base_url}/api/v1", timeout=10) as client:
        yield client


def _markets(api: httpx.Client) -> list[str]:
    return [m["symbol"] for m in api.get("/markets").json()]


def _two_sided(depth: dict[str, Any]) -> bool:
    return bool(
        depth["bids"]
        and depth["asks"]
        and Decimal(depth["bids"][-1][0]) < Decimal(depth["asks"][0][0])
    )


def _depth(api: httpx.Client, symbol: str) -> dict[str, Any]:
    response = api.get("/depth", params={"symbol": symbol, "limit": 10})
    response.raise_for_status()
    depth: dict[str, Any] = response.json()
    return depth


def _trades(api: httpx.Client, symbol: str) -> list[dict[str, Any]]:
    response = api.get("/trades", params={"symbol": symbol, "limit": 50})
    response.raise_for_status()
    trades: list[dict[str, Any]] = response.json()
    return trades


def _open_orders(api: httpx.Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    response = api.get("/orders/open", headers=auth)
    response.raise_for_status()
    orders: list[dict[str, Any]] = response.json()
    return orders


def _stop_and_check_clean(mm: MarketMakerProcess, api: httpx.Client, auth: dict[str, str]) -> None:
    assert mm.alive(), mm.output()
    assert mm.stop() == 0, mm.output()
    assert _open_orders(api, auth) == [], mm.output()


def test_books_stay_two_sided_and_trades_print(
    exchange: Cluster, api: httpx.Client, market_maker: MarketMakerProcess
) -> None:
    markets = _markets(api)
    assert len(markets) >= 2
    market_maker.start()
    auth = sign_in(api, market_maker.username)

    for symbol in markets:
        eventually(
            lambda s=symbol: _depth(api, s),
            _two_sided,
            f"{symbol} two-sided",
            90,
            watch=market_maker,
        )
    # It stays so: quotes are replaced make-before-break, so no snapshot catches a side empty.
    samples = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for symbol in markets:
            depth = _depth(api, symbol)
            assert _two_sided(depth), (depth, market_maker.output())
            samples += 1
    assert samples >= 3 * len(markets)
    for symbol in markets:
        trades = eventually(
            lambda s=symbol: _trades(api, s), bool, f"{symbol} trades", 90, watch=market_maker
        )
        assert all(Decimal(t["price"]) > 0 and Decimal(t["quantity"]) > 0 for t in trades)
    # Still two-sided after trading, each side with the levels asked for.
    for symbol in markets:
        depth = eventually(
            lambda s=symbol: _depth(api, s),
            lambda d: _two_sided(d) and len(d["bids"]) >= 3 and len(d["asks"]) >= 3,
            f"{symbol} three levels a side",
            60,
            watch=market_maker,
        )
        assert _two_sided(depth)
    orders = _open_orders(api, auth)
    assert {o["market"] for o in orders} == set(markets)
    assert all(o["postOnly"] and o["clientOrderId"] for o in orders)

    _stop_and_check_clean(market_maker, api, auth)
    log = market_maker.output()
    assert "summary:" in log
    # Nobody else trades here: once it has canceled, the books empty out.
    for symbol in markets:
        eventually(
            lambda s=symbol: _depth(api, s),
            lambda d: d["bids"] == [] and d["asks"] == [],
            f"{symbol} empty after the market maker stopped",
            60,
        )


def test_it_rides_out_an_edge_restart(
    exchange: Cluster, api: httpx.Client, market_maker: MarketMakerProcess
) -> None:
    markets = _markets(api)
    market_maker.start()
    auth = sign_in(api, market_maker.username)
    eventually(
        lambda: {o["market"] for o in _open_orders(api, auth)},
        lambda quoted: quoted == set(markets),
        "quotes in every market",
        60,
        watch=market_maker,
    )

    exchange.edge.stop()
    eventually(
        market_maker.output,
        lambda out: "edge unreachable, retrying in" in out,
        "the market maker noticing the edge is down",
        30,
        watch=market_maker,
    )
    assert market_maker.alive(), market_maker.output()
    restarted_ms = time.time_ns() // 1_000_000
    exchange.edge.start()
    exchange.wait_ready()

    # Quoting resumes: fresh orders in every market, fresh trades, two-sided books.
    eventually(
        lambda: {o["market"] for o in _open_orders(api, auth) if o["createdAt"] >= restarted_ms},
        lambda quoted: quoted == set(markets),
        "quotes placed after the restart in every market",
        60,
        watch=market_maker,
    )
    for symbol in markets:
        eventually(
            lambda s=symbol: _trades(api, s),
            lambda trades: any(t["timestamp"] >= restarted_ms for t in trades),
            f"{symbol} trades after the restart",
            60,
            watch=market_maker,
        )
        eventually(
            lambda s=symbol: _depth(api, s), _two_sided, f"{symbol} two-sided", 60, market_maker
        )
    _stop_and_check_clean(market_maker, api, auth)
