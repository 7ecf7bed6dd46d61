"""OWASP API1 on the history routes: ``GET /orders`` and ``GET /fills`` show only the caller's
own, and a paging cursor is good only for the user and the route that were given it.

The routes read PostgreSQL, so this module runs the persist agent too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.edge.conftest import fresh_redis_url, sign_up
from tests.support.cluster import Cluster
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def stored(
    redis_url: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cluster = Cluster(
        fresh_redis_url(redis_url),
        edge_database_url,
        tmp_path_factory.mktemp("history-ownership"),
        with_agents=True,
    )
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def api(stored: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stored.base_url}/api/v1", timeout=10) as client:
        yield client


def _pages(api: httpx.Client, path: str, who: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = api.get(path, headers=who, params=params).json()
        rows.extend(body[path.strip("/").split("/")[0]])
        if body["nextCursor"] is None:
            return rows
        params["cursor"] = body["nextCursor"]


def test_history_shows_only_your_own_and_cursors_are_yours_alone(api: httpx.Client) -> None:
    owner = sign_up(api, {"TATA": "10"})
    buyer = sign_up(api, {"INR": "10000"})
    stranger = sign_up(api, {"INR": "10000"})
    asks = []
    for price in ("300", "301", "302"):
        body = {"market": "TATA_INR", "kind": "sell", "type": "limit", "price": price,
                "quantity": "1"}  # fmt: skip
        asks.append(api.post("/order", headers=owner, json=body).json()["orderId"])
    take = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "300", "quantity": "1"}
    assert api.post("/order", headers=buyer, json=take).status_code == 200
    orders = eventually(lambda: _pages(api, "/orders/history", owner), lambda rows: len(rows) == 3)
    assert sorted(o["orderId"] for o in orders) == sorted(asks)
    fills = eventually(lambda: _pages(api, "/fills", owner), lambda rows: len(rows) == 1)
    assert fills[0]["orderId"] == asks[0]

    assert _pages(api, "/orders/history", stranger) == []
    assert _pages(api, "/fills", stranger) == []
    cursor = api.get("/orders/history", headers=owner, params={"limit": 1}).json()["nextCursor"]
    assert cursor is not None
    # A character of the signature changed (the last one may carry only padding bits).
    flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    for who, path, sent in (
        (stranger, "/orders/history", cursor),  # someone else's
        (owner, "/fills", cursor),  # another route's
        (owner, "/orders/history", flipped),  # altered
        (owner, "/orders/history", "bm90LWEtY3Vyc29y"),  # made up
    ):
        answer = api.get(path, headers=who, params={"cursor": sent})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"]["code"] == "INVALID_CURSOR"
    assert api.get("/orders/history", headers=owner, params={"cursor": cursor}).status_code == 200
    assert _pages(api, "/orders/history", owner) == orders  # nothing changed


def test_backpacks_history_and_order_routes_show_only_your_own(api: httpx.Client) -> None:
    owner = sign_up(api, {"TATA": "10"})
    buyer = sign_up(api, {"INR": "10000"})
    stranger = sign_up(api, {"INR": "10000"})
    # Below the asks the other test leaves on the book, so the taker meets this one.
    body = {"symbol": "TATA_INR", "side": "Ask", "orderType": "Limit", "price": "290",
            "quantity": "2", "clientId": 5}  # fmt: skip
    ask = api.post("/order", headers=owner, json=body).json()["id"]
    take = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "290", "quantity": "1"}
    assert api.post("/order", headers=buyer, json=take).status_code == 200
    root = str(api.base_url).removesuffix("/api/v1/")
    history = f"{root}/wapi/v1/history"
    mine = eventually(lambda: api.get(f"{history}/fills", headers=owner).json(), bool)
    assert [f["orderId"] for f in mine] == [ask]
    orders = api.get(f"{history}/orders", headers=owner, params={"orderId": ask}).json()
    assert [o["id"] for o in orders] == [ask]
    # Someone else's: not in their history, not readable or cancelable by id or clientId.
    for path in ("orders", "fills"):
        theirs = api.get(f"{history}/{path}", headers=stranger, params={"orderId": ask})
        assert (theirs.status_code, theirs.json()) == (200, [])
    for params in ({"orderId": ask}, {"clientId": 5}):
        query = {"symbol": "TATA_INR", **params}
        assert api.get("/order", headers=stranger, params=query).status_code == 404
        canceled = api.request("DELETE", "/order", headers=stranger, json=query)
        assert canceled.status_code == 404
    swept = api.request("DELETE", "/orders", headers=stranger, json={"symbol": "TATA_INR"})
    assert swept.json() == []
    assert [o["id"] for o in api.get("/orders", headers=owner).json()] == [ask]  # still open
    # Paging and order as Backpack's, within bounds.
    for params, field in (
        ({"sortDirection": "Asc"}, "sortDirection"),
        ({"offset": "100001"}, "offset"),
        ({"limit": "1001"}, "limit"),
    ):
        refused = api.get(f"{history}/orders", headers=owner, params=params)
        assert (refused.status_code, refused.json()["error"]["field"]) == (400, field)
