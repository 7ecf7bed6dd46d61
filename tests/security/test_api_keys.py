"""API keys, signed as Backpack's API documents it: ED25519 keys registered by their public half,
``X-API-Key`` / ``X-Signature`` / ``X-Timestamp`` / ``X-Window``, and the signed text
``instruction=<name>&<sorted params>&timestamp=<t>&window=<w>``.

The signer here is written from Backpack's documentation, not from ``edge.apikeys``. Every
refusal is a 401 with Backpack's error shape (``code`` and ``message`` at the top, ours inside
``error`` too) and changes nothing: the account's balances and open orders read the same after.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.integration.edge.conftest import sign_up
from tests.security.conftest import snapshot

MARKET = "TATA_INR"


class Signer:
    """A Backpack client's request signing (docs.backpack.exchange, "Signing requests")."""

    def __init__(self, key: Ed25519PrivateKey | None = None) -> None:
        self.key = key or Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = base64.b64encode(raw).decode()

    def headers(
        self, instruction: str, params: dict[str, Any], *, timestamp: int | None = None,
        window: int = 5000,
    ) -> dict[str, str]:  # fmt: skip
        stamp = int(time.time() * 1000) if timestamp is None else timestamp
        fields = [f"instruction={instruction}"]
        for name in sorted(params):
            value = params[name]
            text = str(value).lower() if isinstance(value, bool) else str(value)
            fields.append(f"{name}={text}")
        fields += [f"timestamp={stamp}", f"window={window}"]
        signature = self.key.sign("&".join(fields).encode())
        return {
            "X-API-Key": self.public,
            "X-Signature": base64.b64encode(signature).decode(),
            "X-Timestamp": str(stamp),
            "X-Window": str(window),
        }


def _register(api: httpx.Client, user: dict[str, str], signer: Signer) -> dict[str, Any]:
    made = api.post("/apiKey", headers=user, json={"publicKey": signer.public, "label": "bot"})
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def _order(price: str) -> dict[str, Any]:
    return {"market": MARKET, "kind": "buy", "type": "limit", "price": price, "quantity": "1"}


def _signed_post(api: httpx.Client, body: dict[str, Any], headers: dict[str, str]) -> Any:
    # The body goes as the bytes that were signed over (their field values, not their layout).
    return api.post(
        "/order", content=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


def _refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == code, body  # Backpack's shape...
    assert body["error"]["code"] == code  # ...and ours


def test_a_key_signs_orders_and_reads_for_its_owner(api: httpx.Client) -> None:
    user = sign_up(api, {"INR": "100"})
    signer = Signer()
    key = _register(api, user, signer)
    assert key["publicKey"] == signer.public
    assert key["revokedAt"] is None
    # Reads: the same answer as the owner's session gets.
    balances = api.get("/balances", headers=signer.headers("balanceQuery", {}))
    assert balances.status_code == 200, balances.text
    assert balances.json() == api.get("/balances", headers=user).json()
    # An order, signed over its body's fields.
    body = {**_order("2.10"), "postOnly": True}
    placed = _signed_post(api, body, signer.headers("orderExecute", body))
    assert placed.status_code == 200, placed.text
    order_id = placed.json()["orderId"]
    # Query parameters are signed too; a path's order id is signed as orderId.
    query = {"market": MARKET}
    opened = api.get("/orders/open", params=query, headers=signer.headers("orderQueryAll", query))
    assert [o["orderId"] for o in opened.json()] == [order_id]
    cancel = signer.headers("orderCancel", {"orderId": order_id})
    assert api.delete(f"/order/{order_id}", headers=cancel).json()["status"] == "canceled"
    assert snapshot(api, user)["open"] == []


def test_keys_are_listed_and_revoked_by_their_owner_only(api: httpx.Client) -> None:
    owner, other = sign_up(api, {"INR": "10"}), sign_up(api, {"INR": "10"})
    signer = Signer()
    key = _register(api, owner, signer)
    assert [k["id"] for k in api.get("/apiKeys", headers=owner).json()] == [key["id"]]
    assert api.get("/apiKeys", headers=other).json() == []
    # Registering the same public key again (by anyone) is a conflict.
    again = api.post("/apiKey", headers=other, json={"publicKey": signer.public})
    assert again.status_code == 409, again.text
    # Another user cannot revoke it; its owner can, and from then on it signs nothing.
    assert api.delete(f"/apiKey/{key['id']}", headers=other).status_code == 404
    assert api.get("/balances", headers=signer.headers("balanceQuery", {})).status_code == 200
    revoked = api.delete(f"/apiKey/{key['id']}", headers=owner)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revokedAt"] is not None
    before = snapshot(api, owner)
    _refused(api.get("/balances", headers=signer.headers("balanceQuery", {})), "UNAUTHORIZED")
    body = _order("2.20")
    _refused(_signed_post(api, body, signer.headers("orderExecute", body)), "UNAUTHORIZED")
    assert snapshot(api, owner) == before


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unregistered key", "UNAUTHORIZED"),
        ("signed by another key", "INVALID_SIGNATURE"),
        ("body altered after signing", "INVALID_SIGNATURE"),
        ("other instruction", "INVALID_SIGNATURE"),
        ("timestamp before the window", "UNAUTHORIZED"),
        ("timestamp after the window", "UNAUTHORIZED"),
        ("window over the maximum", "INVALID_SIGNATURE"),
        ("signature not base64", "INVALID_SIGNATURE"),
        ("no timestamp", "INVALID_SIGNATURE"),
        ("a JWT as well", "UNAUTHORIZED"),
    ],
)
def test_a_bad_signature_is_refused_and_changes_nothing(
    api: httpx.Client, case: str, code: str
) -> None:
    user = sign_up(api, {"INR": "100"})
    signer = Signer()
    _register(api, user, signer)
    body = _order("2.30")
    now = int(time.time() * 1000)
    headers = signer.headers("orderExecute", body)
    sent = body
    if case == "unregistered key":
        headers = Signer().headers("orderExecute", body)
    elif case == "signed by another key":
        headers = {**Signer().headers("orderExecute", body), "X-API-Key": signer.public}
    elif case == "body altered after signing":
        sent = {**body, "price": "2.40"}
    elif case == "other instruction":
        headers = signer.headers("orderCancel", body)
    elif case == "timestamp before the window":
        headers = signer.headers("orderExecute", body, timestamp=now - 6000, window=5000)
    elif case == "timestamp after the window":
        headers = signer.headers("orderExecute", body, timestamp=now + 6000, window=5000)
    elif case == "window over the maximum":
        headers = signer.headers("orderExecute", body, window=60_001)
    elif case == "signature not base64":
        headers = {**headers, "X-Signature": "not base64!"}
    elif case == "no timestamp":
        headers = {k: v for k, v in headers.items() if k != "X-Timestamp"}
    elif case == "a JWT as well":
        headers = {**headers, **user}
    before = snapshot(api, user)
    _refused(_signed_post(api, sent, headers), code)
    assert snapshot(api, user) == before


def test_a_key_cannot_manage_keys_or_deposit(api: httpx.Client) -> None:
    user = sign_up(api, {"INR": "10"})
    signer = Signer()
    _register(api, user, signer)
    newcomer = Signer()
    listed = api.get("/apiKeys", headers=signer.headers("apiKeyQuery", {}))
    _refused(listed, "UNAUTHORIZED")
    body = {"publicKey": newcomer.public}
    made = api.post("/apiKey", json=body, headers=signer.headers("apiKeyCreate", body))
    _refused(made, "UNAUTHORIZED")
    deposit = {"asset": "INR", "amount": "1000"}
    _refused(api.post("/onramp", json=deposit, headers=signer.headers("deposit", deposit)),
             "UNAUTHORIZED")  # fmt: skip
    assert len(api.get("/apiKeys", headers=user).json()) == 1


@pytest.mark.parametrize(
    "public_key",
    ["", "AAAA", "x" * 44, base64.b64encode(b"\x00" * 31).decode(), "=" * 44],
)
def test_a_public_key_that_is_not_one_is_refused(api: httpx.Client, public_key: str) -> None:
    user = sign_up(api, {})
    made = api.post("/apiKey", headers=user, json={"publicKey": public_key})
    assert made.status_code == 400, made.text
    assert made.json()["error"]["field"] == "publicKey"
    assert api.get("/apiKeys", headers=user).json() == []
