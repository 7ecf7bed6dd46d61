"""OWASP API3/API6 (mass assignment): fields a client must not set.

Request bodies take only the fields their type declares; anything else (a user id, a status, a
fill, a balance, a fee...) is refused with 400 naming the field, on ``POST /order`` through both
lanes, on ``/order/quote``, ``/onramp``, ``/signup`` and ``/signin``, and the refused request
leaves every account as it was (a refused sign-up creates no account).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.edge.conftest import sign_up
from tests.security.conftest import LANES, snapshot
from tests.support.cluster import Cluster

#: What an attacker would like to set, in the spellings a client might try ("bystander": the id
#: of another user).
FORBIDDEN: dict[str, Any] = {
    "user_id": "bystander",
    "userId": "bystander",
    "UserId": "bystander",
    "owner": "bystander",
    "status": "filled",
    "filled": "10",
    "executedQty": "10",
    "executedQuoteQty": "1000",
    "remainingQty": "0",
    "fills": [{"price": "1", "quantity": "10"}],
    "balance": "1000000",
    "available": "1000000",
    "locked": "0",
    "orderId": "1",
    "fee": "0",
    "makerFee": "0",
    "takerFee": "0",
    "createdAt": 0,
    "isAdmin": True,
    "role": "admin",
    "__proto__": {"isAdmin": True},
    "constructor": {"prototype": {"isAdmin": True}},
}
ORDER = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "10", "quantity": "1"}
QUOTE = {"market": "TATA_INR", "kind": "buy", "quantity": "1"}
ONRAMP = {"asset": "INR", "amount": "5"}


@pytest.fixture(scope="module")
def accounts(cluster: Cluster) -> tuple[dict[str, str], dict[str, str], int]:
    """An attacker and a bystander (whose id the attacker names), both funded."""
    with httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=30) as api:
        attacker = sign_up(api, {"INR": "1000", "TATA": "10"})
        name = f"by{uuid.uuid4().hex[:10]}"
        created = api.post("/signup", json={"username": name, "password": "correct horse"})
        bystander = {"Authorization": f"Bearer {created.json()['token']}"}
        assert api.post("/onramp", json=ONRAMP, headers=bystander).status_code == 200
    return attacker, bystander, int(created.json()["userId"])


def _assert_refused_naming(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST", error
    assert error["field"] == field, error
    assert field in error["message"], error


@pytest.mark.parametrize("field", sorted(FORBIDDEN))
def test_extra_fields_on_trading_routes_are_refused(
    api: httpx.Client, accounts: tuple[dict[str, str], dict[str, str], int], field: str
) -> None:
    attacker, bystander, bystander_id = accounts
    value = bystander_id if FORBIDDEN[field] == "bystander" else FORBIDDEN[field]
    before = snapshot(api, attacker), snapshot(api, bystander)
    for lane in LANES.values():
        placed = api.post("/order", json={**ORDER, field: value}, headers={**attacker, **lane})
        _assert_refused_naming(placed, field)
    _assert_refused_naming(
        api.post("/order/quote", json={**QUOTE, field: value}, headers=attacker), field
    )
    _assert_refused_naming(
        api.post("/onramp", json={**ONRAMP, field: value}, headers=attacker), field
    )
    assert (snapshot(api, attacker), snapshot(api, bystander)) == before


@pytest.mark.parametrize("field", sorted(FORBIDDEN))
def test_extra_fields_on_signup_create_no_account(api: httpx.Client, field: str) -> None:
    credentials = {"username": f"ma{uuid.uuid4().hex[:10]}", "password": "correct horse battery"}
    _assert_refused_naming(
        api.post("/signup", json={**credentials, field: FORBIDDEN[field]}), field
    )
    assert api.post("/signin", json=credentials).status_code == 401  # nobody by that name
    _assert_refused_naming(
        api.post("/signin", json={**credentials, field: FORBIDDEN[field]}), field
    )
    assert api.post("/signup", json=credentials).status_code == 201  # the name was still free


def test_a_refused_order_is_refused_before_any_field_is_used(
    api: httpx.Client, accounts: tuple[dict[str, str], dict[str, str], int]
) -> None:
    """A body that would be a valid order but for one extra field places nothing at all, even
    when that field comes first or the order would fill at once."""
    attacker, bystander, _ = accounts
    maker = sign_up(api, {"TATA": "5"})
    ask = {"market": "TATA_INR", "kind": "sell", "type": "limit", "price": "11", "quantity": "1"}
    assert api.post("/order", json=ask, headers=maker).status_code == 200
    before = snapshot(api, attacker), snapshot(api, bystander), snapshot(api, maker)
    for lane in LANES.values():
        body = {"fee": "0", **ask, "kind": "buy", "timeInForce": "IOC"}
        _assert_refused_naming(api.post("/order", json=body, headers={**attacker, **lane}), "fee")
    assert (snapshot(api, attacker), snapshot(api, bystander), snapshot(api, maker)) == before
