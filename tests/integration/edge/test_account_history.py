"""Your orders and fills from PostgreSQL (``GET /orders``, ``GET /fills``), and the private
stream's fills and balances, against a running matcher, edge and persist agent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from client import ORDERS_STREAM, Client, Streams
from tests.integration.edge.conftest import fresh_redis_url, sign_up
from tests.support.cluster import Cluster
from tests.support.waiting import eventually

MARKET = "TATA_INR"
# The tests share one book: each trades in a price band of its own (the asks the first test
# leaves at 102-105 are above every other test's prices).


@pytest.fixture(scope="module")
def stored(
    redis_url: str, edge_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cluster = Cluster(
        fresh_redis_url(redis_url),
        edge_database_url,
        tmp_path_factory.mktemp("stored"),
        with_agents=True,
    )
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def api(stored: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stored.base_url}/api/v1", timeout=10) as client:
        yield client


def _order(kind: str, price: str, quantity: str, **extra: Any) -> dict[str, Any]:
    return {"market": MARKET, "kind": kind, "type": "limit", "price": price,
            "quantity": quantity, **extra}  # fmt: skip


def _place(api: httpx.Client, who: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/order", headers=who, json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _all_pages(api: httpx.Client, path: str, who: dict[str, str], **query: Any) -> list[Any]:
    key = path.strip("/").split("/")[0]
    rows: list[Any] = []
    cursor = None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        page = api.get(path, headers=who, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        rows.extend(body[key])
        cursor = body["nextCursor"]
        if cursor is None:
            return rows


def test_orders_are_listed_newest_first_page_by_page_with_filters(api: httpx.Client) -> None:
    seller, buyer = sign_up(api, {"TATA": "100"}), sign_up(api, {"INR": "10000"})
    placed = [_place(api, seller, _order("sell", str(100 + i), "1")) for i in range(7)]
    filled = _place(api, buyer, _order("buy", "101", "2"))  # takes the asks at 100 and 101
    canceled = api.delete(f"/order/{placed[6]['orderId']}", headers=seller)
    assert canceled.status_code == 200
    mine = eventually(
        lambda: _all_pages(api, "/orders/history", seller, limit=3),
        lambda rows: len(rows) == 7 and any(r["status"] == "canceled" for r in rows),
    )
    assert [o["orderId"] for o in mine] == [o["orderId"] for o in reversed(placed)]
    status = {o["orderId"]: o["status"] for o in mine}
    assert status[placed[0]["orderId"]] == status[placed[1]["orderId"]] == "filled"
    assert status[placed[6]["orderId"]] == "canceled"
    assert {status[o["orderId"]] for o in placed[2:6]} == {"new"}
    only_new = _all_pages(api, "/orders/history", seller, status="new", limit=2)
    assert [o["orderId"] for o in only_new] == [o["orderId"] for o in reversed(placed[2:6])]
    theirs = eventually(
        lambda: _all_pages(api, "/orders/history", buyer), lambda rows: len(rows) == 1
    )
    assert theirs[0]["orderId"] == filled["orderId"]
    assert theirs[0]["status"] == "filled"
    assert theirs[0]["executedQty"] == "2"
    first = mine[-1]["createdAt"]
    window = _all_pages(api, "/orders/history", seller, startTime=first, endTime=first)
    assert placed[0]["orderId"] in [o["orderId"] for o in window]
    assert _all_pages(api, "/orders/history", seller, market="ETH_USDC") == []


def test_fills_name_your_order_side_role_and_fee(api: httpx.Client) -> None:
    maker, taker = sign_up(api, {"TATA": "10"}), sign_up(api, {"INR": "5000"})
    ask = _place(api, maker, _order("sell", "50", "3"))
    bid = _place(api, taker, _order("buy", "50", "1"))
    second = _place(api, taker, _order("buy", "50", "2"))
    made = eventually(
        lambda: _all_pages(api, "/fills", maker, limit=1), lambda rows: len(rows) == 2
    )
    taken = eventually(lambda: _all_pages(api, "/fills", taker), lambda rows: len(rows) == 2)
    assert [f["orderId"] for f in made] == [ask["orderId"]] * 2
    assert [f["orderId"] for f in taken] == [second["orderId"], bid["orderId"]]  # newest first
    assert made[0]["tradeId"] == taken[0]["tradeId"]
    assert all(f["isMaker"] and f["kind"] == "sell" and f["feeAsset"] == "INR" for f in made)
    assert all(not f["isMaker"] and f["kind"] == "buy" and f["feeAsset"] == "TATA" for f in taken)
    assert [f["quantity"] for f in taken] == ["2", "1"]
    assert [f["quoteQuantity"] for f in taken] == ["100.00", "50.00"]
    assert all(Decimal(f["fee"]) >= 0 for f in made + taken)
    assert _all_pages(api, "/fills", maker, market="ETH_USDC") == []


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/orders/history", {"status": "done"}, "status"),
        ("/orders/history", {"limit": "0"}, "limit"),
        ("/orders/history", {"startTime": "5", "endTime": "4"}, "startTime"),
        ("/orders/history", {"market": "NOPE_NOPE"}, "market"),
        ("/fills", {"limit": "1001"}, "limit"),
        ("/fills", {"startTime": "-1"}, "startTime"),
    ],
)
def test_bad_history_queries_are_400_naming_the_field(
    api: httpx.Client, path: str, query: dict[str, str], field: str
) -> None:
    who = sign_up(api)
    answer = api.get(path, headers=who, params=query)
    assert answer.status_code == 400, answer.text
    assert field in answer.text


def test_history_needs_a_token(api: httpx.Client) -> None:
    for path in ("/orders/history", "/fills"):
        assert api.get(path).status_code == 401


def test_a_user_follows_fills_and_balances_from_the_private_stream_alone(
    stored: Cluster, api: httpx.Client
) -> None:
    me, other = sign_up(api), sign_up(api, {"TATA": "50", "INR": "50000"})
    token = me["Authorization"].removeprefix("Bearer ")
    balances: dict[str, tuple[str, str]] = {}
    fills: list[dict[str, Any]] = []
    with Streams(stored.base_url) as ws:
        ws.auth(token)
        ws.subscribe(ORDERS_STREAM)
        assert api.post("/onramp", headers=me, json={"asset": "INR", "amount": "1000"}).is_success
        assert api.post("/onramp", headers=me, json={"asset": "TATA", "amount": "7"}).is_success
        _place(api, other, _order("sell", "90", "3"))
        _place(api, me, _order("buy", "90", "3"))  # takes 3: pays INR, receives TATA less fee
        _place(api, other, _order("buy", "95", "2"))  # rests (nothing left of its own ask)
        _place(api, me, _order("sell", "95", "5"))  # 2 trade, 3 rest with TATA locked
        left = _place(api, me, _order("buy", "10", "1"))  # rests, INR locked
        assert api.delete(f"/order/{left['orderId']}", headers=me).status_code == 200
        truth = api.get("/balances", headers=me).json()
        wanted = {
            asset: (b["available"], b["locked"])
            for asset, b in truth.items()
            if Decimal(b["available"]) or Decimal(b["locked"])
        }
        deadline = time.monotonic() + 30
        while balances != wanted and time.monotonic() < deadline:
            push = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            if push.data["e"] == "balance":
                balances[push.data["asset"]] = (push.data["available"], push.data["locked"])
            elif push.data["e"] == "fill":
                fills.append(push.data)
    assert balances == wanted
    assert [(f["kind"], f["quantity"], f["isMaker"]) for f in fills] == [
        ("buy", "3", False),
        ("sell", "2", False),
    ]


def test_the_python_client_pages_through_orders_and_fills(
    stored: Cluster, api: httpx.Client
) -> None:
    maker, taker = sign_up(api, {"TATA": "10"}), sign_up(api, {"INR": "5000"})
    for _ in range(3):
        _place(api, maker, _order("sell", "40", "1"))
    _place(api, taker, _order("buy", "40", "2"))
    token = maker["Authorization"].removeprefix("Bearer ")
    with Client(stored.base_url) as client:
        # Once the two fills are stored, so are the orders they filled (one transaction).
        fills = eventually(lambda: client.fills(token, MARKET), lambda p: len(p.fills) == 2)
        pages = [client.order_history(token, MARKET, limit=2)]
        while pages[-1].next_cursor is not None:
            pages.append(client.order_history(token, MARKET, limit=2, cursor=pages[-1].next_cursor))
    assert [len(page.orders) for page in pages] == [2, 1]
    assert sorted(o.status for page in pages for o in page.orders) == ["filled", "filled", "new"]
    assert {f.order_id for f in fills.fills} <= {o.order_id for p in pages for o in p.orders}
    assert all(f.is_maker for f in fills.fills)
