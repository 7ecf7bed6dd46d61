"""OWASP API1 (broken object level authorization): another user's order ids.

A stranger who knows (or guesses) order ids gets 404 for each of them, on reading and on
canceling, exactly as for ids that do not exist, and the owner's orders, balances and open list
stay as they were.
"""

from __future__ import annotations

import httpx

from tests.integration.edge.conftest import sign_up
from tests.security.conftest import snapshot

OWNED = 100


def _place_many(api: httpx.Client, owner: dict[str, str]) -> list[str]:
    """``OWNED`` resting bids at distinct prices, and one that filled against an ask."""
    ids = []
    for i in range(OWNED - 1):
        cents = 100 + i
        placed = api.post(
            "/order",
            headers=owner,
            json={
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": f"{cents // 100}.{cents % 100:02d}",
                "quantity": "1",
            },
        )
        assert placed.status_code == 200, placed.text
        ids.append(placed.json()["orderId"])
    maker = sign_up(api, {"TATA": "5"})
    ask = {"market": "TATA_INR", "kind": "sell", "type": "limit", "price": "2.5", "quantity": "1"}
    assert api.post("/order", headers=maker, json=ask).status_code == 200
    bid = {**ask, "kind": "buy"}
    filled = api.post("/order", headers=owner, json=bid).json()
    assert filled["status"] == "filled"
    ids.append(filled["orderId"])
    return ids


def test_another_users_orders_are_404_on_read_and_cancel(api: httpx.Client) -> None:
    owner = sign_up(api, {"INR": "100000"})
    stranger = sign_up(api, {"INR": "100000", "TATA": "100"})
    ids = _place_many(api, owner)
    before = snapshot(api, owner)
    statuses = {oid: api.get(f"/order/{oid}", headers=owner).json()["status"] for oid in ids}
    assert len(before["open"]) == OWNED - 1

    for oid in ids:
        for method in ("GET", "DELETE"):
            response = api.request(method, f"/order/{oid}", headers=stranger)
            assert response.status_code == 404, (method, oid, response.text)
            error = response.json()["error"]
            assert error["code"] == "UNKNOWN_ORDER"
            assert "market" not in response.text  # nothing about the order leaks

    # The stranger's own sweeping calls do not reach the owner's orders either.
    assert api.get("/orders/open", headers=stranger).json() == []
    assert api.delete("/orders", headers=stranger).json() == {"canceled": []}

    assert snapshot(api, owner) == before
    for oid in ids:
        assert api.get(f"/order/{oid}", headers=owner).json()["status"] == statuses[oid]


def test_unknown_and_impossible_ids_answer_like_foreign_ones(api: httpx.Client) -> None:
    user = sign_up(api)
    for oid in ("1", "0", "9223372036854775807", "9223372036854775808", "9999999999999999999"):
        for method in ("GET", "DELETE"):
            response = api.request(method, f"/order/{oid}", headers=user)
            assert response.status_code == 404, (method, oid, response.text)
            assert response.json()["error"]["code"] == "UNKNOWN_ORDER"


def test_ids_that_are_not_ascii_digits_are_400_not_500(api: httpx.Client) -> None:
    # "²" and "٣" pass str.isdigit() but not int(): this once answered 500.
    user = sign_up(api)
    for oid in ("²", "٣", "１", "-1", "+1", "1.0", "0x10", "1e3", " 1", "1" * 20):
        for method in ("GET", "DELETE"):
            response = api.request(method, f"/order/{oid}", headers=user)
            assert response.status_code == 400, (method, oid, response.text)
            assert response.json()["error"]["field"] == "orderId"
