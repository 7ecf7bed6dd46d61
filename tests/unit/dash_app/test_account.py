"""The account callbacks against a fake edge: the token stays in the browser's store, the order
form sends the user's text, and the edge's refusals reach the user."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from client import Client
from dash_app import create_app
from dash_app.callbacks.account import (
    UNREACHABLE,
    authenticate,
    fill_notice,
    fraction_quantity,
    order_body,
)
from edge.views import market_view
from model.config import load_markets
from model.settings import DashSettings
from tests.support.dash_callbacks import fire
from tests.support.views import order_json

FAR = int(time.time() * 1000) + 3_600_000
SESSION = {"token": "tok-1", "expiresAt": FAR, "userId": 7, "username": "alice"}
OPEN = order_json("42", price="90.50", quantity="3", remainingQty="3")


class FakeEdge:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content) if request.content else {}
        self.bodies.append(body)
        path = request.url.path.removeprefix("/api/v1")
        if path in ("/signup", "/signin"):
            if body.get("password") != "correct horse battery":
                return _refuse(401, "INVALID_CREDENTIALS", "wrong username or password")
            return httpx.Response(200, json={"token": "tok-1", "expiresAt": FAR, "userId": 7})
        if request.headers.get("Authorization") != "Bearer tok-1":
            return _refuse(401, "UNAUTHORIZED", "No JWT token found in request header")
        if path == "/order":
            if body["quantity"] == "999999":
                return _refuse(400, "INSUFFICIENT_FUNDS", "needs 999999 TATA atoms, 0 available")
            return httpx.Response(200, json={**OPEN, "status": "new"})
        if path == "/order/42" and request.method == "DELETE":
            return httpx.Response(200, json={**OPEN, "status": "canceled"})
        if path == "/balances":
            return httpx.Response(200, json={"INR": {"available": "100.00", "locked": "0.00"}})
        if path == "/orders/open":
            return httpx.Response(200, json=[OPEN])
        if path == "/onramp":
            return httpx.Response(200, json={})
        return _refuse(404, "NOT_FOUND", path)


def _refuse(status: int, code: str, message: str) -> httpx.Response:
    error = {"code": code, "message": message}
    return httpx.Response(status, json={**error, "error": error})


@pytest.fixture
def edge() -> FakeEdge:
    return FakeEdge()


@pytest.fixture
def app(edge: FakeEdge) -> Any:
    client = Client("http://edge.test", transport=httpx.MockTransport(edge))
    return create_app(DashSettings(), client=client, database_url="")


def test_sign_up_stores_the_session_in_the_browser(app: Any) -> None:
    form = {("signup-button", "n_clicks"): 1, ("username", "value"): " alice ",
            ("password", "value"): "correct horse battery"}  # fmt: skip
    out = fire(app, "session-store.data", form, changed=("signup-button", "n_clicks"))
    assert out[("session-store", "data")] == SESSION
    assert out[("password", "value")] == ""


def test_wrong_password_says_so(app: Any) -> None:
    out = fire(app, "session-store.data", {
        ("signin-button", "n_clicks"): 1, ("username", "value"): "alice",
        ("password", "value"): "guess"}, changed=("signin-button", "n_clicks"))  # fmt: skip
    assert ("session-store", "data") not in out
    assert out[("auth-message", "children")] == "wrong username or password"


def test_sign_out_clears_it(app: Any) -> None:
    out = fire(app, "session-store.data", {("signout-button", "n_clicks"): 1},
               changed=("signout-button", "n_clicks"))  # fmt: skip
    assert out[("session-store", "data")] is None


def _place(app: Any, price: str, quantity: str, session: Any = SESSION) -> dict[Any, Any]:
    return fire(app, "order-message.children", {
        ("place-order-button", "n_clicks"): 1, ("session-store", "data"): session,
        ("market-select", "value"): "TATA_INR", ("order-side", "value"): "buy",
        ("order-type", "value"): "limit", ("order-price", "value"): price,
        ("order-quantity", "value"): quantity})  # fmt: skip


def test_order_goes_out_as_typed_with_the_token(edge: FakeEdge, app: Any) -> None:
    out = _place(app, "90.50", "3.000")
    assert out[("order-message", "children")] == "Order 42 new: filled 0"
    assert out[("order-message", "className")] == "message ok"
    request = edge.requests[-1]
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert edge.bodies[-1] == {"market": "TATA_INR", "kind": "buy", "type": "limit",
                               "price": "90.50", "quantity": "3.000"}  # fmt: skip


def test_the_edges_refusal_is_shown(app: Any) -> None:
    out = _place(app, "90.50", "999999")
    assert out[("order-message", "children")] == "needs 999999 TATA atoms, 0 available"
    assert out[("order-message", "className")] == "message error"


def test_signed_out_cannot_trade(edge: FakeEdge, app: Any) -> None:
    assert _place(app, "1", "1", session=None)[("order-message", "children")] == "Sign in to trade"
    assert edge.requests == []


def test_balances_and_open_orders_are_read_again_on_each_private_push(app: Any) -> None:
    push = {"version": 3, "fills": [], "balances": {}, "last": {"e": "order"}}
    out = fire(app, "balances.children", {("session-store", "data"): SESSION,
                                          ("live-account", "data"): push})  # fmt: skip
    assert "100.00" in str(out[("balances", "children")])
    assert out[("balances-store", "data")]["INR"]["available"] == "100.00"
    assert out[("open-orders-store", "data")] == [OPEN]
    # Sent again even when unchanged: a no_update answer could undo a newer call's update.
    again = fire(app, "balances.children", {("session-store", "data"): SESSION,
                                            ("open-orders-store", "data"): [OPEN]})  # fmt: skip
    assert again[("open-orders-store", "data")] == [OPEN]


def test_an_expired_session_is_dropped(app: Any) -> None:
    stale = {**SESSION, "expiresAt": 1}
    out = fire(app, "balances.children", {("session-store", "data"): stale})
    assert out[("session-store", "data")] is None
    assert "expired" in out[("auth-message", "children")]


def test_a_rejected_token_is_dropped(app: Any) -> None:
    forged = {**SESSION, "token": "forged"}
    out = fire(app, "balances.children", {("session-store", "data"): forged})
    assert out[("session-store", "data")] is None


def test_cancel_button(edge: FakeEdge, app: Any) -> None:
    button = '{"order":"42","type":"cancel-order"}'
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    cancel = next(d for d in deps if "cancel-order" in json.dumps(d["inputs"]))
    payload = {
        "output": cancel["output"],
        "outputs": [{"id": "order-message", "property": "children"},
                    {"id": "order-message", "property": "className"},
                    {"id": "account-nonce", "property": "data"}],
        "inputs": [[{"id": {"order": "42", "type": "cancel-order"}, "property": "n_clicks",
                     "value": 1}]],
        "state": [{"id": "session-store", "property": "data", "value": SESSION}],
        "changedPropIds": [f"{button}.n_clicks"],
    }  # fmt: skip
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Order 42 canceled" in response.get_data(as_text=True)
    assert edge.requests[-1].method == "DELETE"
    assert edge.requests[-1].url.path == "/api/v1/order/42"


@pytest.mark.parametrize(
    ("args", "result"),
    [
        (("TATA_INR", "buy", "limit", "100.10", "2"),
         {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "100.10",
          "quantity": "2"}),
        (("BTC_USDC", "sell", "market", "ignored", "0.0100"),
         {"market": "BTC_USDC", "kind": "sell", "type": "market", "quantity": "0.0100"}),
        ((None, "buy", "limit", "1", "1"), "Choose a market first"),
        (("TATA_INR", "buy", "limit", "", "1"), "Enter a limit price, e.g. 100.25"),
        (("TATA_INR", "buy", "limit", "1", "1e3"), "Enter a quantity, e.g. 1.5"),
    ],
)  # fmt: skip
def test_order_body(args: tuple[Any, ...], result: object) -> None:
    assert order_body(*args) == result


def test_a_rate_limited_sign_in_shows_the_edges_message_not_unreachable() -> None:
    def edge(request: httpx.Request) -> httpx.Response:
        return _refuse(429, "RATE_LIMITED", "too many sign-in attempts; wait a minute")

    client = Client("http://edge.test", transport=httpx.MockTransport(edge))
    session, message = authenticate(client, "signin", "alice", "correct horse battery")
    assert (session, message) == (None, "too many sign-in attempts; wait a minute")


def test_an_edge_that_is_down_is_unreachable() -> None:
    def edge(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = Client("http://edge.test", transport=httpx.MockTransport(edge))
    assert authenticate(client, "signin", "alice", "correct horse battery") == (None, UNREACHABLE)


_TATA = market_view(load_markets().markets["TATA_INR"], "0")
_HELD = {"INR": {"available": "1000.00", "locked": "0"}, "TATA": {"available": "7", "locked": "0"}}


@pytest.mark.parametrize(
    ("side", "pct", "price", "quantity"),
    [
        ("sell", 100, None, "7"),
        ("sell", 50, None, "3"),  # 3.5 rounds down to the step
        ("buy", 25, "21.00", "11"),  # 250 INR at 21 buys 11.9: 11 lots
        ("buy", 100, "1000.01", "0"),  # not one lot
        ("buy", 50, None, None),  # a buy needs a price to be sized
        ("buy", 50, "abc", None),
    ],
)
def test_a_fraction_of_the_balance_becomes_a_quantity_on_the_step(
    side: str, pct: int, price: str | None, quantity: str | None
) -> None:
    assert fraction_quantity(_TATA, side, pct, _HELD, price) == quantity


def test_a_fill_is_announced_and_nothing_else_is() -> None:
    fill = {"e": "fill", "kind": "buy", "quantity": "2", "market": "TATA_INR", "price": "21.00",
            "isMaker": False, "fee": "0.004", "feeAsset": "TATA"}  # fmt: skip
    assert fill_notice(fill) == "Bought 2 TATA at 21.00 (taker, fee 0.004 TATA)"
    assert fill_notice({"e": "order", "status": "filled"}) is None
    assert fill_notice(None) is None
