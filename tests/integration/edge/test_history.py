"""Orders the matcher no longer remembers are read from PostgreSQL, as the persist agent wrote
them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.edge.conftest import fresh_redis_url, sign_up
from tests.support.cluster import Cluster


@pytest.fixture(scope="module")
def forgetful(
    redis_url: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cluster = Cluster(
        fresh_redis_url(redis_url),
        edge_database_url,
        tmp_path_factory.mktemp("forgetful"),
        extra={"TIDEWATER_CLOSED_MEMORY": "1"},
        with_agents=True,
    )
    cluster.start()
    yield cluster
    cluster.stop()


def test_a_forgotten_order_is_read_from_the_database(forgetful: Cluster) -> None:
    with httpx.Client(base_url=f"{forgetful.base_url}/api/v1", timeout=10) as api:
        seller, buyer = sign_up(api, {"TATA": "100"}), sign_up(api, {"INR": "10000"})
        ask = api.post("/order", headers=seller, json={
            "market": "TATA_INR", "kind": "sell", "type": "limit", "price": "10", "quantity": "5"
        }).json()  # fmt: skip
        api.post("/order", headers=buyer, json={
            "market": "TATA_INR", "kind": "buy", "type": "limit", "price": "10", "quantity": "5"
        })  # fmt: skip
        for _ in range(2):  # two more closed orders push the ask out of the matcher's memory
            other = api.post("/order", headers=buyer, json={
                "market": "TATA_INR", "kind": "buy", "type": "limit", "price": "1",
                "quantity": "1"}).json()  # fmt: skip
            api.delete(f"/order/{other['orderId']}", headers=buyer)
        # The persist agent stores the order's rows as its events arrive: an early read can find
        # its 'new' row before the fill lands. Poll until the stored row is final.
        deadline = time.monotonic() + 10
        while True:
            found = api.get(f"/order/{ask['orderId']}", headers=seller)
            settled = found.status_code == 200 and found.json()["status"] != "new"
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert found.status_code == 200, found.text
        state = found.json()
        assert (state["status"], state["executedQty"], state["remainingQty"]) == (
            "filled",
            "5",
            "0",
        )
        assert state["executedQuoteQty"] == "50.00"
        assert api.get(f"/order/{ask['orderId']}", headers=buyer).status_code == 404


def test_recent_trades_are_public(forgetful: Cluster) -> None:
    with httpx.Client(base_url=f"{forgetful.base_url}/api/v1", timeout=10) as api:
        seller, buyer = sign_up(api, {"TATA": "100"}), sign_up(api, {"INR": "10000"})
        for price in ("20.00", "21.50"):
            api.post("/order", headers=seller, json={
                "market": "TATA_INR", "kind": "sell", "type": "limit", "price": price,
                "quantity": "2"})  # fmt: skip
        api.post("/order", headers=buyer, json={
            "market": "TATA_INR", "kind": "buy", "type": "market", "quantity": "3"})  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            trades = api.get("/trades", params={"symbol": "TATA-INR", "limit": 2}).json()
            if (len(trades) == 2 and trades[0]["price"] == "21.50") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [(t["price"], t["quantity"], t["isBuyerMaker"]) for t in trades] == [
            ("21.50", "1", False),
            ("20.00", "2", False),
        ]
        assert trades[0]["quoteQuantity"] == "21.50"
        assert api.get("/trades", params={"symbol": "NOPE"}).status_code == 400
        assert api.get("/trades", params={"symbol": "TATA_INR", "limit": 0}).status_code == 400
