"""A client that sends every order twice (a retry after a random delay, often while the first is
still in flight) ends with exactly one order per ``clientOrderId``, also when the order filled
before the retry came; both answers name the same order. A different request under a used id is
a 409 that names the first order."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis

from client import ApiError, Client
from model.api import OrderView
from model.enums import OrderStatus
from model.events import OrderAccepted, TradeExecuted
from model.ids import OrderId
from model.settings import get_settings
from tests.integration.edge.conftest import edge_root, sign_up
from tests.support.cluster import Cluster
from tests.support.streams import all_events

DEPOSITS = {"TATA": "100000", "INR": "100000000"}


def _token(user: dict[str, str]) -> str:
    return user["Authorization"].removeprefix("Bearer ")


def _send_twice(
    root: str, token: str, body: dict[str, Any], delay: float
) -> tuple[OrderView, OrderView]:
    """The order, and its retry ``delay`` seconds later (from another connection)."""
    answers: dict[str, OrderView] = {}

    def send(which: str, wait: float) -> None:
        time.sleep(wait)
        with Client(root) as api:
            answers[which] = api.place(token, body)

    threads = [
        threading.Thread(target=send, args=("first", 0.0)),
        threading.Thread(target=send, args=("retry", delay)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers["first"], answers["retry"]


def test_every_order_sent_twice_is_one_order(cluster: Cluster, api: httpx.Client) -> None:
    root = edge_root(api)
    maker, taker = sign_up(api, DEPOSITS), sign_up(api, DEPOSITS)
    rng = random.Random(21)
    sent: dict[str, tuple[OrderView, OrderView]] = {}
    for n in range(40):
        price = Decimal("90") + n % 5
        resting = {"market": "TATA_INR", "kind": "buy", "type": "limit", "price": str(price)}
        crossing = {"market": "TATA_INR", "kind": "sell", "type": "limit", "price": str(price)}
        # A resting buy, then a sell that fills against it before (or while) its retry comes.
        for who, body in ((maker, resting), (taker, crossing)):
            client_id = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
            order = {**body, "quantity": "2", "clientOrderId": client_id}
            sent[client_id] = _send_twice(root, _token(who), order, rng.uniform(0, 0.05))

    filled_before_retry = 0
    for client_id, (first, retry) in sent.items():
        assert first.client_order_id == retry.client_order_id == client_id
        assert first.order_id == retry.order_id, f"{client_id}: two orders"
        if OrderStatus.FILLED in (first.status, retry.status):
            filled_before_retry += 1
    assert filled_before_retry >= 20  # the sells fill at once: their retries find them filled

    settings = get_settings()
    client = redis.Redis.from_url(cluster.redis_url)
    try:
        events = [e for shard in settings.shard_names() for _, e in all_events(client, shard)]
    finally:
        client.close()
    accepted = Counter(e.client_order_id for e in events if isinstance(e, OrderAccepted))
    assert {cid: accepted[cid] for cid in sent} == dict.fromkeys(sent, 1)
    ids = {int(first.order_id) for first, _ in sent.values()}
    takers = Counter(e.taker_order_id for e in events if isinstance(e, TradeExecuted))
    assert sum(takers[OrderId(i)] for i in ids) == 40  # each sell traded once, not on a retry


def test_a_retry_of_a_filled_order_reports_it_filled(api: httpx.Client) -> None:
    root = edge_root(api)
    maker, taker = sign_up(api, DEPOSITS), sign_up(api, DEPOSITS)
    order = {"market": "TATA_INR", "type": "limit", "price": "77", "quantity": "3"}
    with Client(root) as client:
        client.place(_token(maker), {**order, "kind": "sell", "clientOrderId": "m-1"})
        first = client.place(_token(taker), {**order, "kind": "buy", "clientOrderId": "t-1"})
        again = client.place(_token(taker), {**order, "kind": "buy", "clientOrderId": "t-1"})
        balances = client.balances(_token(taker))
    assert first.status is OrderStatus.FILLED
    assert (again.order_id, again.status, again.executed_qty) == (first.order_id, "filled", "3")
    assert balances["TATA"].available == "100003"  # bought once


def test_a_different_request_under_a_used_client_order_id_is_409(api: httpx.Client) -> None:
    root = edge_root(api)
    user = sign_up(api, DEPOSITS)
    order = {"market": "TATA_INR", "kind": "buy", "type": "limit", "quantity": "1"}
    with Client(root) as client:
        first = client.place(_token(user), {**order, "price": "50", "clientOrderId": "x-1"})
        with pytest.raises(ApiError) as refused:
            client.place(_token(user), {**order, "price": "51", "clientOrderId": "x-1"})
        still = client.open_orders(_token(user), "TATA_INR")
    assert (refused.value.status, refused.value.code) == (409, "DUPLICATE_CLIENT_ORDER_ID")
    assert refused.value.order_id == first.order_id
    assert first.order_id in refused.value.message
    assert [(o.order_id, o.price) for o in still] == [(first.order_id, "50.00")]
