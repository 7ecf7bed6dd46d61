"""client/: what the edge's answers and silences become, for the sync and the async client alike
(a scripted edge on httpx's MockTransport; the live edge is in tests/integration/test_client.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from client import UNREACHABLE, Account, ApiError, AsyncClient, Backoff, Client
from infra.embedded import free_port
from tests.support.views import order_json

FAST = Backoff(initial_ms=1, cap_ms=2)
FAR_FUTURE_MS = 2**42
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``run(handler, use, backoff=None)``: ``use(client)`` on a client of each kind over
    ``handler``, its result awaited when the client is async."""

    def sync(handler: Handler, use: Callable[[Any], Any], backoff: Backoff | None = None) -> Any:
        with Client("http://edge/", backoff=backoff, transport=httpx.MockTransport(handler)) as c:
            return use(c)

    def aio(handler: Handler, use: Callable[[Any], Any], backoff: Backoff | None = None) -> Any:
        async def go() -> Any:
            transport = httpx.MockTransport(handler)
            async with AsyncClient("http://edge/", backoff=backoff, transport=transport) as c:
                return await use(c)

        return asyncio.run(go())

    return sync if request.param == "sync" else aio


def _token(name: str) -> httpx.Response:
    return httpx.Response(200, json={"token": name, "expiresAt": FAR_FUTURE_MS, "userId": 1})


def _error(status: int, code: str) -> httpx.Response:
    error = {"code": code, "message": code.lower()}
    return httpx.Response(status, json={**error, "error": error})


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_doubles_up_to_its_cap_with_jitter(attempt: int) -> None:
    backoff = Backoff(initial_ms=200, cap_ms=5000)
    nominal = min(5000, 200 * 2**attempt)
    delays = {backoff.delay_ms(attempt, random.Random(seed)) for seed in range(50)}
    assert all(nominal // 2 <= d <= nominal for d in delays)
    assert len(delays) > 1


def test_requests_go_under_api_v1_with_the_callers_token(run: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=order_json("7"))

    body = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "100.10",
            "quantity": "0.000100"}  # fmt: skip
    order = run(handler, lambda c: c.place("tok", body))
    assert (order.order_id, order.price) == ("7", "100.10")
    request = seen[0]
    assert str(request.url) == "http://edge/api/v1/order"
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.headers["Content-Type"] == "application/json"
    # The strings go out exactly as given (no float in between).
    assert b'"price":"100.10"' in request.content
    assert b'"quantity":"0.000100"' in request.content


def test_klines_window_parameters_and_no_token_on_public_calls(run: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    assert run(handler, lambda c: c.klines("TATA_INR", "5m", start_s=1000, limit=10)) == []
    assert dict(seen[0].url.params) == {
        "symbol": "TATA_INR", "interval": "5m", "limit": "10", "startTime": "1000"
    }  # fmt: skip
    assert "Authorization" not in seen[0].headers


def test_a_refusal_carries_the_edges_code_message_and_field(run: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"code": "INVALID_PRICE", "message": "price 1.001 is off the tick grid",
                 "field": "price"}  # fmt: skip
        top = {"code": error["code"], "message": error["message"]}
        return httpx.Response(400, json={**top, "error": error})

    with pytest.raises(ApiError) as caught:
        run(handler, lambda c: c.place("tok", {}))
    error = caught.value
    assert (error.status, error.code, error.field) == (400, "INVALID_PRICE", "price")
    assert error.message == "price 1.001 is off the tick grid"
    assert not error.transient


def test_a_refusal_without_a_json_body(run: Any) -> None:
    with pytest.raises(ApiError) as caught:
        run(lambda request: httpx.Response(404, text="nope"), lambda c: c.markets())
    assert (caught.value.code, caught.value.message) == ("HTTP_404", "nope")
    with pytest.raises(ApiError) as caught:
        run(lambda request: httpx.Response(404), lambda c: c.markets())
    assert caught.value.message == "Not Found"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_server_errors_and_429_are_transient(run: Any, status: int) -> None:
    with pytest.raises(ApiError) as caught:
        run(lambda request: _error(status, "UNAVAILABLE"), lambda c: c.markets())
    assert (caught.value.status, caught.value.transient) == (status, True)


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")], ids=type
)
def test_no_answer_is_unreachable(run: Any, failure: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(ApiError) as caught:
        run(handler, lambda c: c.ticker("TATA_INR"))
    assert (caught.value.status, caught.value.code) == (None, UNREACHABLE)
    assert type(failure).__name__ in caught.value.message
    assert caught.value.transient


def test_an_answer_that_is_not_the_apis_is_unreachable(run: Any) -> None:
    with pytest.raises(ApiError, match="not the API's") as caught:
        run(lambda request: httpx.Response(200, text="<html>"), lambda c: c.tickers())
    assert caught.value.transient


def test_a_real_closed_port_is_unreachable() -> None:
    with Client(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(ApiError) as caught:
        client.markets()
    assert caught.value.code == UNREACHABLE


def test_transient_failures_are_retried_until_the_edge_answers(
    run: Any, caplog: pytest.LogCaptureFixture
) -> None:
    script = iter(["down", 503, 429, 504, 502, "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        step = next(script)
        if step == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if step == "ok":
            return httpx.Response(200, json=[])
        return _error(int(step), "UNAVAILABLE")

    caplog.set_level(logging.WARNING, "tidewater.client")
    assert run(handler, lambda c: c.markets(), FAST) == []
    retries = [
        r.getMessage() for r in caplog.records if "edge unreachable, retrying in" in r.getMessage()
    ]
    assert len(retries) == 5
    assert "GET /markets: ConnectError" in retries[0]


def test_without_retry_a_transient_failure_raises_at_once(run: Any) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/signin"):
            return _token("t")
        return _error(503, "UNAVAILABLE")

    account = Account("mm", "password")
    with pytest.raises(ApiError, match="503 UNAVAILABLE"):
        run(handler, lambda c: c.place(account, {"market": "TATA_INR"}, retry=False), FAST)
    assert calls == ["/api/v1/signin", "/api/v1/order"]


def test_a_client_error_is_not_retried(run: Any) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _error(400, "INVALID_MARKET")

    with pytest.raises(ApiError, match="INVALID_MARKET") as caught:
        run(handler, lambda c: c.depth("NOPE_NOPE"), FAST)
    assert (caught.value.status, calls) == (400, 1)


def test_an_expired_token_is_renewed_once_and_the_call_repeated(run: Any) -> None:
    seen: list[tuple[str, str | None]] = []
    tokens = iter(["first", "second"])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("Authorization")))
        if request.url.path.endswith("/signin"):
            return _token(next(tokens))
        if request.headers["Authorization"] == "Bearer first":
            return _error(401, "UNAUTHORIZED")
        return httpx.Response(200, json={"INR": {"available": "1.00", "locked": "0.00"}})

    account = Account("mm", "password")
    balances = run(handler, lambda c: c.balances(account))
    assert balances["INR"].available == "1.00"
    assert seen == [
        ("/api/v1/signin", None),
        ("/api/v1/balances", "Bearer first"),
        ("/api/v1/signin", None),
        ("/api/v1/balances", "Bearer second"),
    ]
    assert account.token == "second"


def test_a_token_refused_twice_is_an_error(run: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signin"):
            return _token("t")
        return _error(401, "UNAUTHORIZED")

    with pytest.raises(ApiError, match="401") as caught:
        run(handler, lambda c: c.balances(Account("mm", "password")))
    assert caught.value.code == "UNAUTHORIZED"


def test_a_bare_token_refused_is_an_error_without_a_sign_in(run: Any) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return _error(401, "UNAUTHORIZED")

    with pytest.raises(ApiError, match="401"):
        run(handler, lambda c: c.balances("expired"))
    assert paths == ["/api/v1/balances"]


def test_a_token_close_to_expiry_is_renewed_before_use(run: Any) -> None:
    signins = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal signins
        if request.url.path.endswith("/signin"):
            signins += 1
            return _token("fresh")
        return httpx.Response(200, json=[])

    account = Account("mm", "password", token="old", expires_at_ms=1)

    def twice(c: Any) -> Any:
        if isinstance(c, AsyncClient):

            async def both() -> None:
                await c.open_orders(account)
                await c.open_orders(account)

            return both()
        c.open_orders(account)
        return c.open_orders(account)

    run(handler, twice)
    assert (signins, account.token) == (1, "fresh")


def test_sign_up_falls_back_to_sign_in_when_the_name_is_taken(run: Any) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        assert json.loads(request.content) == {"username": "mm", "password": "password"}
        if request.url.path.endswith("/signup"):
            return _error(409, "USERNAME_TAKEN")
        return _token("t")

    account = Account("mm", "password")
    run(handler, lambda c: c.sign_up_or_in(account))
    assert paths == ["/api/v1/signup", "/api/v1/signin"]
    assert (account.token, account.user_id) == ("t", 1)


def test_a_wrong_password_is_a_401(run: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signup"):
            return _error(409, "USERNAME_TAKEN")
        return _error(401, "INVALID_CREDENTIALS")

    with pytest.raises(ApiError) as caught:
        run(handler, lambda c: c.sign_up_or_in(Account("mm", "password")))
    assert (caught.value.status, caught.value.code) == (401, "INVALID_CREDENTIALS")


def test_a_private_call_without_auth_is_refused_before_sending(run: Any) -> None:
    from client import routes

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing is sent")

    with pytest.raises(TypeError, match="needs auth"):
        run(handler, lambda c: c.send(routes.balances()))


@pytest.mark.parametrize(
    "use",
    [
        lambda c: c.place("tok", {"market": "TATA_INR"}),
        lambda c: c.onramp("tok", "INR", "1.00"),
        lambda c: c.sign_up("alice", "password"),
    ],
    ids=["place", "onramp", "sign_up"],
)
def test_calls_that_change_state_are_not_retried_unless_asked(run: Any, use: Any) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _error(504, "TIMEOUT")  # the order may have been placed: a resend could repeat it

    with pytest.raises(ApiError, match="504"):
        run(handler, use, FAST)
    assert calls == 1


def test_an_order_with_a_client_order_id_is_retried_as_idempotent(run: Any) -> None:
    """The exchange answers a resend under the same clientOrderId with the first order."""
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        if len(sent) == 1:
            return _error(504, "TIMEOUT")
        return httpx.Response(200, json=order_json(clientOrderId="c-1"))

    body = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "1", "quantity": "1"}
    order = run(handler, lambda c: c.place("tok", {**body, "clientOrderId": "c-1"}), FAST)
    assert order.client_order_id == "c-1"
    assert len(sent) == 2
    assert sent[0] == sent[1]  # the same request again, byte for byte


def test_a_state_change_is_retried_when_the_caller_says_so(run: Any) -> None:
    script = iter([503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        if next(script) == 503:
            return _error(503, "UNAVAILABLE")
        return httpx.Response(200, json={"INR": {"available": "1.00", "locked": "0.00"}})

    balances = run(handler, lambda c: c.onramp("tok", "INR", "1.00", retry=True), FAST)
    assert balances["INR"].available == "1.00"


def test_an_order_id_stays_one_path_segment(run: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _error(404, "UNKNOWN_ORDER")

    for hostile in ("../orders", "1?market=TATA_INR", "a\nb"):
        with pytest.raises(ApiError) as caught:
            run(handler, lambda c, oid=hostile: c.cancel("tok", oid))
        assert caught.value.status == 404
    assert [(r.method, r.url.raw_path) for r in seen] == [
        ("DELETE", b"/api/v1/order/..%2Forders"),
        ("DELETE", b"/api/v1/order/1%3Fmarket%3DTATA_INR"),
        ("DELETE", b"/api/v1/order/a%0Ab"),
    ]


@pytest.mark.parametrize(
    ("status", "code", "transient", "unavailable"),
    [
        (None, UNREACHABLE, True, True),
        (503, "UNAVAILABLE", True, True),
        (429, "RATE_LIMITED", True, False),  # busy, not down: a page shows the refusal
        (400, "INVALID_PRICE", False, False),
        (None, "UNKNOWN_STREAM", False, False),  # a refusal on the WebSocket has no status
    ],
)
def test_transient_and_unavailable(
    status: int | None, code: str, transient: bool, unavailable: bool
) -> None:
    error = ApiError(status, code, "why")
    assert (error.transient, error.unavailable) == (transient, unavailable)
