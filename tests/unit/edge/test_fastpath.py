"""The gate's two adapters together, in process: the app ``edge.app.create_app`` builds (the fast
order lane in front of Litestar), driven over ASGI, with an ``Exchange`` whose ``place`` answers
at once (no lifespan runs, so no Redis, PostgreSQL or matcher is touched).

These prove what one gate means: orders served by the lane and requests served by Litestar
spend one budget per session and per IP, both ways refuse the same hosts (the WebSocket too) and
the same tokens, and the 429 looks the same from either.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from edge.app import create_app
from edge.fastpath import FastOrderLane
from edge.trading import Exchange
from model.api import OrderRequest, OrderView
from model.enums import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from model.ids import UserId
from model.settings import DEV_JWT_SECRET, EdgeSettings, get_settings
from tests.security.test_tokens import FORGERIES

ORDER = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": "1", "quantity": "1"}
#: With an allowed Origin the Litestar route serves the order (and adds CORS); without, the lane.
LITESTAR = {"Origin": "http://localhost:8050"}


class _Exchange(Exchange):
    """The real exchange (markets, shards) whose ``place`` answers without a matcher, saying
    which way the order came in through ``client_order_id``."""

    placed: list[UserId]

    async def place(self, data: OrderRequest, user: UserId) -> OrderView:
        self.placed.append(user)
        return OrderView(
            order_id="1",
            market=data.market,
            kind=Side.BUY,
            type=OrderType.LIMIT,
            status=OrderStatus.NEW,
            time_in_force=TimeInForce.GTC,
            post_only=False,
            price="1",
            quantity="1",
            quote_quantity=None,
            executed_qty="0",
            executed_quote_qty="0",
            remaining_qty="1",
            client_order_id=None,
            created_at=0,
            self_trade_prevention=SelfTradePrevention.CANCEL_TAKER,
        )


def _lane(**limits: int) -> FastOrderLane:
    settings = dataclasses.replace(
        get_settings(),
        redis_url="redis://127.0.0.1:1/0",  # never connected to: no lifespan runs
        database_url="postgresql://nobody@127.0.0.1:1/none",
        edge=EdgeSettings(
            jwt_secret=DEV_JWT_SECRET,
            rate_limit_per_second=limits.get("session", 0),
            ip_limit_per_second=limits.get("ip", 0),
            signin_limit_per_minute=limits.get("signin", 0),
        ),
    )
    lane = create_app(settings)
    exchange = _Exchange(settings.markets(), settings.shards, None, None)  # type: ignore[arg-type]
    exchange.placed = []
    lane.app.state.exchange = exchange
    return lane


@pytest.fixture
async def api() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(lane: FastOrderLane, ip: str = "10.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=lane, client=(ip, 5000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v1")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def _auth(sub: str = "7") -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, DEV_JWT_SECRET, "HS256")
    return {"Authorization": f"Bearer {token}"}


def _placed_by(lane: FastOrderLane) -> list[UserId]:
    exchange: _Exchange = lane.app.state.exchange
    return exchange.placed


async def _codes(
    client: httpx.AsyncClient, calls: list[tuple[str, str, dict[str, Any]]]
) -> list[int]:
    return [(await client.request(m, p, **kw)).status_code for m, p, kw in calls]


def _order(
    headers: dict[str, str], lane: dict[str, str] | None = None
) -> tuple[str, str, dict[str, Any]]:
    return ("POST", "/order", {"json": ORDER, "headers": {**headers, **(lane or {})}})


async def test_orders_on_the_lane_spend_the_session_budget_of_every_other_route(api: Any) -> None:
    lane = _lane(session=4)
    client = api(lane)
    user = _auth()
    fast = [_order(user)] * 4
    assert await _codes(client, fast) == [200] * 4
    assert len(_placed_by(lane)) == 4  # the lane served them (the Litestar route too would)
    # The session's budget is spent: Litestar refuses its other routes and its order route.
    assert await _codes(
        client, [_order(user, LITESTAR), ("GET", "/markets", {"headers": user})]
    ) == [
        429,
        429,
    ]
    # Another session on the same address has its own budget.
    assert await _codes(client, [_order(_auth("8"))]) == [200]


async def test_calls_on_litestar_spend_the_budget_of_the_lane(api: Any) -> None:
    lane = _lane(session=4)
    client = api(lane)
    user = _auth()
    assert await _codes(client, [("GET", "/markets", {"headers": user})] * 2) == [200, 200]
    assert await _codes(client, [_order(user, LITESTAR)] * 2) == [200, 200]
    refused = await client.post("/order", json=ORDER, headers=user)  # the lane's request
    assert refused.status_code == 429
    assert _placed_by(lane) == [7, 7]  # the two through Litestar, none through the lane


async def test_one_ip_budget_over_both_ways_in(api: Any) -> None:
    lane = _lane(ip=3)
    client = api(lane)
    codes = await _codes(
        client,
        [
            _order(_auth("1")),
            ("GET", "/markets", {}),
            _order(_auth("2"), LITESTAR),
            _order(_auth("3")),
        ],
    )
    assert codes == [200, 200, 200, 429]
    assert await _codes(api(lane, ip="10.0.0.2"), [_order(_auth("4"))]) == [200]


async def test_the_429_is_the_same_from_both_ways_in(api: Any) -> None:
    lane = _lane(session=1)
    client = api(lane)
    user = _auth()
    assert (await client.post("/order", json=ORDER, headers=user)).status_code == 200
    from_lane = await client.post("/order", json=ORDER, headers=user)
    from_litestar = await client.post("/order", json=ORDER, headers={**user, **LITESTAR})
    for refused in (from_lane, from_litestar):
        assert refused.status_code == 429
        error = {"code": "RATE_LIMITED", "message": "too many requests"}
        assert refused.json() == {**error, "error": error}
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["content-type"].startswith("application/json")


async def test_sign_in_attempts_are_limited_per_ip(api: Any) -> None:
    lane = _lane(signin=2)
    client = api(lane)
    body = {"username": "nobody", "password": "whatever-it-is"}
    # The first two reach the handler (which needs the database, absent here: 500).
    assert await _codes(client, [("POST", "/signin", {"json": body})] * 2) == [500, 500]
    refused = await client.post("/signup", json=body)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await client.get("/markets")).status_code == 200  # other routes are not affected


async def test_health_and_schema_are_never_limited(api: Any) -> None:
    lane = _lane(session=1, ip=1)
    client = api(lane)
    assert (await client.get("/markets")).status_code == 200
    assert (await client.get("/markets")).status_code == 429
    for path in ("/healthz", "/schema/openapi.json", "/healthz"):
        assert (await client.get(f"http://testserver{path}")).status_code == 200, path


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "localhost.evil.example", "testserver.evil", ""]
)
async def test_both_ways_in_refuse_the_same_hosts(api: Any, host: str) -> None:
    lane = _lane()
    client = api(lane)
    user = _auth()
    for method, path, kwargs in (
        _order({**user, "Host": host}),
        _order({**user, "Host": host}, LITESTAR),
        ("GET", "/markets", {"headers": {"Host": host}}),
        ("GET", "/no-such-route", {"headers": {"Host": host}}),
    ):
        response = await client.request(method, path, **kwargs)
        assert response.status_code == 400, (path, kwargs)
        assert response.json()["error"]["code"] == "INVALID_HOST"
    assert _placed_by(lane) == []


async def test_a_websocket_for_another_host_is_refused_before_the_handshake() -> None:
    lane = _lane()
    sent: list[dict[str, Any]] = []
    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    app = lane.app
    lane.app = inner
    try:
        for host, expected in ((b"evil.example", ["refused"]), (b"localhost", ["/ws"])):
            scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", host)]}
            sent.clear()
            reached.clear()
            await lane(scope, receive, send)  # type: ignore[arg-type]
            outcome = ["refused"] if sent and sent[0]["type"] == "websocket.close" else reached
            assert outcome == expected, host
    finally:
        lane.app = app


@pytest.mark.parametrize("name", sorted(FORGERIES))
async def test_both_ways_in_refuse_the_same_tokens(api: Any, name: str) -> None:
    lane = _lane()
    client = api(lane)
    forged = {"Authorization": f"Bearer {FORGERIES[name](7, _auth('8')['Authorization'][7:])}"}
    for headers in (forged, {**forged, **LITESTAR}):
        response = await client.post("/order", json=ORDER, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert _placed_by(lane) == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token"])
async def test_both_ways_in_accept_the_same_tokens(api: Any, scheme: str) -> None:
    lane = _lane()
    client = api(lane)
    token = _auth("5")["Authorization"].split()[1]
    for lane_headers in ({}, LITESTAR):
        headers = {"Authorization": f"{scheme} {token}", **lane_headers}
        assert (await client.post("/order", json=ORDER, headers=headers)).status_code == 200
    assert _placed_by(lane) == [5, 5]
