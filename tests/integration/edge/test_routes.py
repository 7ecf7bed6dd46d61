"""Every REST route over real HTTP against a running matcher and edge: success, each error
class, authentication and ownership."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from edge.public import UNOFFERED
from tests.integration.edge.conftest import sign_up
from tests.support.cluster import Cluster

RICH = {"INR": "1000000", "TATA": "1000"}


def test_health_and_readiness(cluster: Cluster) -> None:
    assert httpx.get(f"{cluster.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{cluster.base_url}/readyz").json()
    assert ready["ready"] is True
    assert ready["checks"] == {"redis": True, "postgres": True, "replies": True}


def test_backpacks_system_routes_and_the_products_we_do_not_run(api: httpx.Client) -> None:
    assert api.get("/status").json() == {"status": "Ok", "message": None}
    pong = api.get("/ping")
    assert (pong.text, pong.headers["content-type"].split(";")[0]) == ("pong", "text/plain")
    before = int(time.time() * 1000)
    server = int(api.get("/time").text)
    assert before - 5000 <= server <= int(time.time() * 1000) + 5000
    # A Backpack client's start-up asks for perpetuals' and lending's lists: empty, not a 404.
    for path in UNOFFERED:
        answer = api.get(path, params={"symbol": "TATA_INR"})
        assert (path, answer.status_code, answer.json()) == (path, 200, [])


def test_markets_are_public(api: httpx.Client) -> None:
    markets = {m["symbol"]: m for m in api.get("/markets").json()}
    assert {"TATA_INR", "BTC_USDC", "ETH_USDC"} <= set(markets)
    tata = markets["TATA_INR"]
    assert tata["tickSize"] == "0.01"
    assert tata["takerFee"] == "0.002"
    # Backpack's shape of the same figures.
    assert (tata["marketType"], tata["orderBookState"]) == ("SPOT", "Open")
    assert tata["filters"] == {
        "price": {k: tata[k] for k in ("minPrice", "maxPrice", "tickSize")},
        "quantity": {k: tata[k] for k in ("minQuantity", "maxQuantity", "stepSize")},
    }
    assert api.get("/market", params={"symbol": "tata-inr"}).json() == tata
    unknown = api.get("/market", params={"symbol": "NOPE_X"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["field"] == "symbol"
    assets = {a["symbol"]: a for a in api.get("/assets").json()}
    assert {"INR", "TATA", "USDC", "BTC", "ETH"} <= set(assets)
    assert assets["USDC"] == {"symbol": "USDC", "displayName": "USDC", "coingeckoId": None,
                              "tokens": [], "decimals": 6}  # fmt: skip


def test_signup_signin_and_bad_credentials(api: httpx.Client) -> None:
    created = api.post("/signup", json={"username": "Alice_1", "password": "s3cret-enough"})
    assert created.status_code == 201
    body = created.json()
    assert body["userId"] > 0
    assert body["expiresAt"] > time.time() * 1000
    again = api.post("/signup", json={"username": "alice_1", "password": "another-one"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "USERNAME_TAKEN"
    signed = api.post("/signin", json={"username": "ALICE_1", "password": "s3cret-enough"})
    assert signed.status_code == 200
    assert signed.json()["userId"] == body["userId"]
    for wrong in (
        {"username": "alice_1", "password": "wrong-password"},
        {"username": "nobody_here", "password": "wrong-password"},
    ):
        refused = api.post("/signin", json=wrong)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": "long enough"}, "username"),
        ({"username": "bad name!", "password": "long enough"}, "username"),
        ({"username": "fine_name", "password": "short"}, "password"),
        ({"username": "fine_name", "password": "long enough", "isAdmin": True}, "isAdmin"),
        ({"username": 5, "password": "long enough"}, "username"),
    ],
)
def test_signup_validation(api: httpx.Client, body: dict[str, object], field: str) -> None:
    response = api.post("/signup", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]


def test_trading_routes_need_a_token(api: httpx.Client) -> None:
    for method, path in [
        ("GET", "/balances"),
        ("POST", "/order"),
        ("GET", "/orders/open"),
        ("DELETE", "/orders"),
        ("GET", "/order/1"),
        ("DELETE", "/order/1"),
        ("POST", "/order/quote"),
        ("POST", "/onramp"),
    ]:
        response = api.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_forged_tokens_are_refused(api: httpx.Client) -> None:
    user = sign_up(api)
    token = user["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    forged = [
        jwt.encode({**claims}, "wrong-secret", algorithm="HS256"),
        jwt.encode(
            {**claims, "exp": now - 10}, "tidewater-development-secret-do-not-use-in-production"
        ),
        jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            "tidewater-development-secret-do-not-use-in-production",
        ),
        jwt.encode({**claims}, None, algorithm="none"),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "not.a.token",
    ]
    for bad in forged:
        response = api.get("/balances", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad


def test_onramp_and_balances(api: httpx.Client) -> None:
    user = sign_up(api)
    response = api.post("/onramp", json={"asset": "INR", "amount": "1500.25"}, headers=user)
    assert response.status_code == 200
    assert response.json()["INR"] == {"available": "1500.25", "locked": "0.00"}
    for bad, code in [
        ({"asset": "XYZ", "amount": "1"}, "INVALID_ASSET"),
        ({"asset": "INR", "amount": "0.001"}, "INVALID_AMOUNT"),
        ({"asset": "INR", "amount": "-5"}, "INVALID_AMOUNT"),
        ({"asset": "INR", "amount": "NaN"}, "INVALID_AMOUNT"),
    ]:
        refused = api.post("/onramp", json=bad, headers=user)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == code
    assert api.get("/balances", headers=user).json()["INR"]["available"] == "1500.25"


def test_limit_order_rests_fills_and_reports(api: httpx.Client) -> None:
    seller, buyer = sign_up(api, RICH), sign_up(api, RICH)
    placed = api.post(
        "/order",
        headers=seller,
        json={
            "market": "TATA-INR",
            "kind": "sell",
            "type": "limit",
            "price": "101.50",
            "quantity": "10",
            "clientOrderId": "s-1",
        },
    )
    assert placed.status_code == 200, placed.text
    ask = placed.json()
    assert (ask["status"], ask["executedQty"], ask["remainingQty"]) == ("new", "0", "10")
    assert api.get("/balances", headers=seller).json()["TATA"] == {
        "available": "990",
        "locked": "10",
    }

    taken = api.post(
        "/order",
        headers=buyer,
        json={"market": "TATA_INR", "kind": "buy", "type": "limit", "price": 102, "quantity": 4},
    )
    bid = taken.json()
    assert bid["status"] == "filled"
    assert bid["executedQuoteQty"] == "406.00"
    assert bid["fills"] == [
        {
            "tradeId": bid["fills"][0]["tradeId"],
            "price": "101.50",
            "quantity": "4",
            "fee": "0",
            "feeAsset": "TATA",
            "isMaker": False,
        }
    ]
    # the buyer paid the maker's price: 4 x 101.50, not 4 x 102
    assert api.get("/balances", headers=buyer).json()["INR"] == {
        "available": "999594.00",
        "locked": "0.00",
    }

    state = api.get(f"/order/{ask['orderId']}", headers=seller).json()
    assert (state["status"], state["executedQty"], state["remainingQty"]) == (
        "partially_filled",
        "4",
        "6",
    )
    opened = api.get("/orders/open", headers=seller, params={"market": "TATA_INR"}).json()
    assert [o["orderId"] for o in opened] == [ask["orderId"]]
    # filled orders stay readable
    assert api.get(f"/order/{bid['orderId']}", headers=buyer).json()["status"] == "filled"


def test_ownership_another_users_order_is_not_found(api: httpx.Client) -> None:
    owner, stranger = sign_up(api, RICH), sign_up(api, RICH)
    order = api.post(
        "/order",
        headers=owner,
        json={"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "50", "quantity": "1"},
    ).json()
    for method in ("GET", "DELETE"):
        response = api.request(method, f"/order/{order['orderId']}", headers=stranger)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "UNKNOWN_ORDER"
    assert api.get(f"/order/{order['orderId']}", headers=owner).json()["status"] == "new"


def test_cancel_and_cancel_all(api: httpx.Client) -> None:
    user = sign_up(api, RICH)
    ids = [
        api.post(
            "/order",
            headers=user,
            json={
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": str(40 + i),
                "quantity": "2",
            },
        ).json()["orderId"]
        for i in range(3)
    ]
    canceled = api.delete(f"/order/{ids[0]}", headers=user)
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert api.delete(f"/order/{ids[0]}", headers=user).status_code == 404
    assert api.get(f"/order/{ids[0]}", headers=user).json()["status"] == "canceled"
    swept = api.delete("/orders", headers=user, params={"market": "TATA_INR"}).json()
    assert sorted(o["orderId"] for o in swept["canceled"]) == sorted(ids[1:])
    assert api.get("/orders/open", headers=user).json() == []
    assert api.get("/balances", headers=user).json()["INR"]["locked"] == "0.00"


def test_market_orders_and_quotes(api: httpx.Client) -> None:
    # BTC_USDC: no other test of this module trades it, so the book holds only these asks.
    funds = {"USDC": "10000", "BTC": "1"}
    maker, taker = sign_up(api, funds), sign_up(api, funds)
    for price in ("200.00", "201.00"):
        api.post(
            "/order",
            headers=maker,
            json={
                "market": "BTC_USDC",
                "kind": "sell",
                "type": "limit",
                "price": price,
                "quantity": "0.0005",
            },
        )
    quote = api.post(
        "/order/quote",
        headers=taker,
        json={"market": "BTC_USDC", "kind": "buy", "quantity": "0.0007"},
    ).json()
    assert quote["filledQty"] == "0.0007"
    assert quote["fullyFilled"] is True
    assert quote["quoteAmount"] == "0.140200"
    assert quote["worstPrice"] == "201.00"
    assert quote["averagePrice"] == "200.28571429"  # 0.1402 / 0.0007, to a millionth of a tick
    bought = api.post(
        "/order",
        headers=taker,
        json={"market": "BTC_USDC", "kind": "buy", "type": "market", "quoteQuantity": "0.05"},
    ).json()
    assert (bought["status"], bought["executedQty"], bought["executedQuoteQty"]) == (
        "filled",
        "0.0002",
        "0.040000",
    )
    too_small = api.post(
        "/order",
        headers=taker,
        json={"market": "BTC_USDC", "kind": "buy", "type": "market", "quoteQuantity": "0.01"},
    )
    assert too_small.status_code == 400
    sold = api.post(
        "/order",
        headers=taker,
        json={"market": "BTC_USDC", "kind": "sell", "type": "market", "quantity": "0.0001"},
    )
    assert sold.status_code == 422  # nobody bids
    assert sold.json()["error"]["code"] == "NO_LIQUIDITY"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"market": "NOPE_INR", "kind": "buy", "type": "limit", "price": "1", "quantity": "1"},
            400,
            "INVALID_MARKET",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "1.001",
                "quantity": "1",
            },
            400,
            "INVALID_PRICE",
        ),
        (
            {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "0", "quantity": "1"},
            400,
            "INVALID_PRICE",
        ),
        (
            {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "-1", "quantity": "1"},
            400,
            "INVALID_PRICE",
        ),
        (
            {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "NaN", "quantity": "1"},
            400,
            "INVALID_PRICE",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "Infinity",
                "quantity": "1",
            },
            400,
            "INVALID_PRICE",
        ),
        (
            {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "1e3", "quantity": "1"},
            400,
            "INVALID_PRICE",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "10",
                "quantity": "1.5",
            },
            400,
            "INVALID_QUANTITY",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "10",
                "quantity": "99999999999999999999",
            },
            400,
            "INVALID_QUANTITY",
        ),
        (
            {"market": "TATA_INR", "kind": "buy", "type": "limit", "quantity": "1"},
            400,
            "INVALID_REQUEST",
        ),
        (
            {"market": "TATA_INR", "kind": "hold", "type": "limit", "price": "1", "quantity": "1"},
            400,
            "INVALID_REQUEST",
        ),
        (
            {"market": "TATA_INR", "kind": "buy", "type": "stop", "price": "1", "quantity": "1"},
            400,
            "INVALID_REQUEST",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "1",
                "quantity": "1",
                "userId": 1,
            },
            400,
            "INVALID_REQUEST",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "1",
                "quantity": "1",
                "status": "filled",
            },
            400,
            "INVALID_REQUEST",
        ),
        (
            {"market": "TATA_INR", "kind": "buy", "type": "market", "price": "1", "quantity": "1"},
            400,
            "INVALID_ORDER",
        ),
        (
            {"market": "TATA_INR", "kind": "sell", "type": "market", "quoteQuantity": "10"},
            400,
            "INVALID_ORDER",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "1",
                "quantity": "1",
                "clientOrderId": "bad id!",
            },
            400,
            "INVALID_REQUEST",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "1",
                "quantity": "1",
                "timeInForce": "IOC",
                "postOnly": True,
            },
            400,
            "INVALID_ORDER",
        ),
        (
            {
                "market": "TATA_INR",
                "kind": "buy",
                "type": "limit",
                "price": "999999",
                "quantity": "999999",
            },
            422,
            "INSUFFICIENT_FUNDS",
        ),
    ],
)
def test_bad_orders_are_refused_and_change_nothing(
    api: httpx.Client, body: dict[str, object], status: int, code: str
) -> None:
    user = sign_up(api, {"INR": "100"})
    before = api.get("/balances", headers=user).json()
    response = api.post("/order", headers=user, json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert api.get("/balances", headers=user).json() == before
    assert api.get("/orders/open", headers=user).json() == []


@pytest.mark.parametrize("number", [b"1e309", b"1E+400", b"-0", b"0.000000000000000000000000001"])
def test_raw_json_numbers_are_checked_exactly(api: httpx.Client, number: bytes) -> None:
    user = sign_up(api, RICH)
    body = b'{"market":"TATA_INR","kind":"buy","type":"limit","quantity":1,"price":' + number + b"}"
    response = api.post(
        "/order", headers={**user, "Content-Type": "application/json"}, content=body
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_PRICE"


def test_malformed_bodies_and_paths(api: httpx.Client) -> None:
    user = sign_up(api)
    garbage = api.post(
        "/order", headers={**user, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert garbage.status_code == 400
    assert api.get("/order/abc", headers=user).status_code == 400
    assert api.get("/order/99999999999999999999999", headers=user).status_code == 400
    assert api.get("/orders/open", headers=user, params={"market": "NOPE"}).status_code == 400
    huge = api.post(
        "/order",
        headers={**user, "Content-Type": "application/json"},
        content=b'{"market": "' + b"A" * 200_000 + b'"}',
    )
    assert huge.status_code == 413


def test_duplicate_client_order_id(api: httpx.Client) -> None:
    """The same request again is a retry (the first order, 200); another request under the same
    clientOrderId is a 409 naming the first order."""
    user = sign_up(api, RICH)
    body = {
        "market": "TATA_INR",
        "kind": "buy",
        "type": "limit",
        "price": "10",
        "quantity": "1",
        "clientOrderId": "dup-1",
    }
    first = api.post("/order", headers=user, json=body)
    assert first.status_code == 200
    retry = api.post("/order", headers=user, json=body)
    assert retry.status_code == 200
    assert retry.json()["orderId"] == first.json()["orderId"]
    second = api.post("/order", headers=user, json={**body, "quantity": "2"})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "DUPLICATE_CLIENT_ORDER_ID"
    assert second.json()["error"]["orderId"] == first.json()["orderId"]


def test_openapi_schema_lists_the_routes(cluster: Cluster) -> None:
    schema = httpx.get(f"{cluster.base_url}/schema/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/order",
        "/api/v1/order/{order_id}",
        "/api/v1/orders/open",
        "/api/v1/orders",
        "/api/v1/orders/history",
        "/api/v1/capital",
        "/wapi/v1/history/orders",
        "/wapi/v1/history/fills",
        "/api/v1/order/quote",
        "/api/v1/balances",
        "/api/v1/onramp",
        "/api/v1/markets",
        "/api/v1/signup",
        "/api/v1/signin",
    ):
        assert path in paths, path
    order_body = schema["components"]["schemas"]["OrderRequest"]
    assert order_body.get("additionalProperties") is False
    assert {"market", "kind", "type"} <= set(order_body["required"])


def _backpack_bid(**extra: object) -> dict[str, object]:
    return {"symbol": "TATA_INR", "side": "Bid", "orderType": "Limit", "price": "100.00",
            "quantity": "1", **extra}  # fmt: skip


def test_one_order_route_two_dialects(api: httpx.Client) -> None:
    user = sign_up(api, RICH)
    # Backpack's body, answered with Backpack's order object; read back in ours, the same order.
    placed = api.post("/order", headers=user, json=_backpack_bid(clientId=7, postOnly=True))
    assert placed.status_code == 200, placed.text
    order = placed.json()
    assert (order["side"], order["orderType"], order["status"], order["clientId"]) == (
        "Bid", "Limit", "New", 7,
    )  # fmt: skip
    ours = api.get(f"/order/{order['id']}", headers=user).json()
    assert (ours["kind"], ours["type"], ours["clientOrderId"], ours["postOnly"]) == (
        "buy", "limit", "7", True,
    )  # fmt: skip
    assert ours["selfTradePrevention"] == "cancel_taker"  # Backpack's default, RejectTaker
    # Our body, answered in ours; Backpack's routes read it in theirs.
    body = {
        "market": "TATA_INR",
        "kind": "sell",
        "type": "limit",
        "price": "200.00",
        "quantity": "2",
        "clientOrderId": "bot-1",
        "selfTradePrevention": "cancel_both",
    }
    mine = api.post("/order", headers=user, json=body).json()
    assert mine["kind"] == "sell"
    theirs = api.get(
        "/order", headers=user, params={"symbol": "TATA_INR", "orderId": mine["orderId"]}
    ).json()
    assert (theirs["side"], theirs["clientId"], theirs["selfTradePrevention"]) == (
        "Ask", None, "RejectBoth",  # "bot-1" is no uint32
    )  # fmt: skip
    listed = api.get("/orders", headers=user, params={"symbol": "TATA_INR"}).json()
    assert {o["id"] for o in listed} == {order["id"], mine["orderId"]}
    assert api.get("/orders", headers=user, params={"marketType": "PERP"}).json() == []
    # Backpack's cancel-all takes a body; ours a query (or nothing).
    swept = api.request("DELETE", "/orders", headers=user, json={"symbol": "TATA_INR"})
    assert sorted(o["status"] for o in swept.json()) == ["Cancelled", "Cancelled"]
    assert api.delete("/orders", headers=user).json() == {"canceled": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_backpack_bid(market="TATA_INR"), "market"),  # the two dialects mixed
        ({**_backpack_bid(), "kind": "buy"}, "kind"),
        (_backpack_bid(side="buy"), "side"),
        (_backpack_bid(orderType="limit"), "orderType"),
        (_backpack_bid(clientId=2**32), "clientId"),
        (_backpack_bid(clientId="7"), "clientId"),
        (_backpack_bid(selfTradePrevention="cancel_taker"), "selfTradePrevention"),
        (_backpack_bid(reduceOnly=True), "reduceOnly"),
        (_backpack_bid(price="100.001"), "price"),
        ({"symbol": "TATA_INR", "side": "Bid", "orderType": "Market"}, "quantity"),
    ],
)
def test_a_bad_backpack_order_names_its_field_and_changes_nothing(
    api: httpx.Client, body: dict[str, object], field: str
) -> None:
    user = sign_up(api, RICH)
    before = api.get("/capital", headers=user).json()
    refused = api.post("/order", headers=user, json=body)
    assert refused.status_code == 400, refused.text
    answer = refused.json()
    assert answer["error"]["field"] == field, answer
    assert (answer["code"], answer["message"]) == (
        answer["error"]["code"], answer["error"]["message"],
    )  # fmt: skip
    assert api.get("/capital", headers=user).json() == before
    assert api.get("/orders", headers=user).json() == []


def test_backpacks_order_lookups_refuse_clearly(api: httpx.Client) -> None:
    user = sign_up(api, RICH)
    order = api.post("/order", headers=user, json=_backpack_bid(clientId=9)).json()
    for params, status, field in (
        ({"symbol": "TATA_INR"}, 400, "orderId"),  # neither
        ({"symbol": "TATA_INR", "orderId": order["id"], "clientId": 9}, 400, "orderId"),  # both
        ({"symbol": "NOPE_X", "clientId": 9}, 400, "symbol"),
        ({"symbol": "BTC_USDC", "orderId": order["id"]}, 404, None),  # another market's
        ({"symbol": "TATA_INR", "clientId": 10}, 404, None),
    ):
        answer = api.get("/order", headers=user, params=params)
        assert (answer.status_code, answer.json()["error"].get("field")) == (status, field)
        canceled = api.request("DELETE", "/order", headers=user, json=params)
        assert canceled.status_code == status, (params, canceled.text)
    mixed = api.request("DELETE", "/orders", headers=user, json={"symbol": "TATA_INR"},
                        params={"market": "TATA_INR"})  # fmt: skip
    assert (mixed.status_code, mixed.json()["error"]["field"]) == (400, "market")
    assert [o["id"] for o in api.get("/orders", headers=user).json()] == [order["id"]]
    assert (
        api.get("/order", headers=user, params={"symbol": "TATA_INR", "clientId": 9}).json()
        == order
    )


def test_options_lists_every_method_of_a_path(api: httpx.Client) -> None:
    for path, methods in (
        ("/order", "DELETE, GET, OPTIONS, POST"),
        ("/orders", "DELETE, GET, OPTIONS"),
        ("/order/1", "DELETE, GET, OPTIONS"),
    ):
        answer = api.options(path)
        assert (answer.status_code, answer.headers["allow"]) == (204, methods)
