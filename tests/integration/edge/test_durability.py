"""Many clients at once, a matcher killed mid-stream, an edge restarted mid-request: every order
that got a 2xx exists exactly once, balances are conserved and never negative, and the matcher's
state equals a clean replay of its command log."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis

from model.config import load_markets
from model.ids import FEE_ACCOUNT
from tests.integration.edge.conftest import fresh_redis_url
from tests.support.audit import audit_shard
from tests.support.cluster import Cluster

CONFIG = load_markets()
SHARD = "0"
FUNDS = {"INR": "1000000", "TATA": "10000"}


@pytest.fixture
def fresh(redis_url: str, edge_database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(fresh_redis_url(redis_url), edge_database_url, tmp_path)
    cluster.start()
    yield cluster
    cluster.stop()


@dataclass
class Tally:
    accepted: set[int] = field(default_factory=set)  # order ids answered 2xx
    timed_out: set[int] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0


async def _users(client: httpx.AsyncClient, count: int) -> list[dict[str, str]]:
    users = []
    for _ in range(count):
        name = f"u{uuid.uuid4().hex[:12]}"
        token = (
            await client.post("/signup", json={"username": name, "password": "pass-word-1"})
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        for asset, amount in FUNDS.items():
            response = await client.post(
                "/onramp", json={"asset": asset, "amount": amount}, headers=headers
            )
            assert response.status_code == 200
        users.append(headers)
    return users


async def _trade(
    client: httpx.AsyncClient, users: list[dict[str, str]], rng: random.Random, n: int, tally: Tally
) -> None:
    mine: dict[int, list[str]] = {i: [] for i in range(len(users))}
    answered = 0
    deadline = time.monotonic() + 120
    while answered < n and time.monotonic() < deadline:
        who = rng.randrange(len(users))
        headers = users[who]
        roll = rng.random()
        try:
            if roll < 0.3 and mine[who]:
                order_id = mine[who].pop(rng.randrange(len(mine[who])))
                response = await client.delete(f"/order/{order_id}", headers=headers)
            elif roll < 0.33:
                response = await client.delete(
                    "/orders", headers=headers, params={"market": "TATA_INR"}
                )
            else:
                body: dict[str, object] = {
                    "market": "TATA_INR",
                    "kind": rng.choice(["buy", "sell"]),
                }
                if roll < 0.43:
                    body |= {"type": "market", "quantity": str(rng.randint(1, 10))}
                else:
                    body |= {
                        "type": "limit",
                        "price": f"{rng.randint(95, 105)}.{rng.randint(0, 99):02d}",
                        "quantity": str(rng.randint(1, 20)),
                    }
                response = await client.post("/order", json=body, headers=headers)
                if response.status_code == 200:
                    order_id = response.json()["orderId"]
                    tally.accepted.add(int(order_id))
                    mine[who].append(order_id)
                elif response.status_code == 504:
                    tally.timed_out.add(int(response.json()["error"]["orderId"]))
        except httpx.TransportError:
            # The edge is restarting: a real client backs off and tries again.
            tally.transport_errors += 1
            await asyncio.sleep(0.05)
            continue
        answered += 1
        tally.statuses[response.status_code] += 1


async def _drive(
    base_url: str,
    users: int,
    workers: int,
    per_worker: int,
    seed: int,
    trading: threading.Event | None = None,
) -> Tally:
    """Sign users up, then trade from ``workers`` concurrent clients (``trading`` set between)."""
    tally = Tally()
    limits = httpx.Limits(max_connections=workers)
    async with httpx.AsyncClient(
        base_url=f"{base_url}/api/v1", timeout=30, limits=limits
    ) as client:
        accounts = await _users(client, users)
        if trading is not None:
            trading.set()
        await asyncio.gather(
            *(
                _trade(client, accounts, random.Random(seed + i), per_worker, tally)
                for i in range(workers)
            )
        )
    return tally


def _settle(cluster: Cluster) -> redis.Redis:
    """Stop the services (the matcher snapshots on SIGTERM) and hand back a Redis client."""
    client = redis.Redis.from_url(cluster.matcher.env["REDIS_URL"])
    cluster.stop()
    assert cluster.matcher.process is not None
    assert cluster.matcher.process.returncode == 0
    return client


def test_many_clients_at_once_conserve_balances(fresh: Cluster) -> None:
    tally = asyncio.run(_drive(fresh.base_url, users=6, workers=24, per_worker=60, seed=1))
    assert not any(status >= 500 for status in tally.statuses), tally.statuses
    assert tally.statuses[200] > 500
    report = audit_shard(_settle(fresh), SHARD, CONFIG)
    assert report.trades > 50
    assert all(report.accepted[oid] == 1 for oid in tally.accepted)
    assert set(report.accepted.values()) == {1}
    fees = {c: report.engine.ledger.fees[i] for i, c in enumerate(report.engine.ledger.asset_codes)}
    assert fees["INR"] > 0, "taker fees were collected"
    assert FEE_ACCOUNT not in report.engine.ledger.accounts


def test_matcher_killed_repeatedly_loses_no_accepted_order(fresh: Cluster) -> None:
    rng = random.Random(99)
    done, trading = threading.Event(), threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal kills
        trading.wait(60)
        while not done.is_set() and kills < 5:
            time.sleep(rng.uniform(0.3, 1.0))
            fresh.matcher.kill()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.3))
            fresh.matcher.start()

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        tally = asyncio.run(
            _drive(fresh.base_url, users=6, workers=16, per_worker=190, seed=7, trading=trading)
        )
    finally:
        done.set()
        thread.join()
    assert kills >= 3
    assert not any(status >= 500 and status != 504 for status in tally.statuses), tally.statuses
    assert len(tally.accepted) > 1000
    time.sleep(1.0)  # let the last restart drain what is pending
    report = audit_shard(_settle(fresh), SHARD, CONFIG)
    missing = [oid for oid in tally.accepted if report.accepted[oid] != 1]
    assert missing == [], f"{len(missing)} orders answered 2xx are not there exactly once"
    assert all(report.accepted[oid] <= 1 for oid in tally.timed_out)
    assert set(report.accepted.values()) == {1}


def test_edge_restarted_under_load_loses_no_accepted_order(fresh: Cluster) -> None:
    done, trading = threading.Event(), threading.Event()

    def restarter() -> None:
        trading.wait(60)
        for _ in range(2):
            time.sleep(1.0)
            fresh.edge.stop()  # SIGTERM: uvicorn finishes what is in flight
            fresh.edge.start()
            fresh.wait_ready()
        done.set()

    thread = threading.Thread(target=restarter)
    thread.start()
    tally = asyncio.run(
        _drive(fresh.base_url, users=4, workers=8, per_worker=250, seed=3, trading=trading)
    )
    thread.join()
    assert done.is_set()
    assert tally.statuses[200] > 300
    report = audit_shard(_settle(fresh), SHARD, CONFIG)
    assert all(report.accepted[oid] == 1 for oid in tally.accepted)
    assert set(report.accepted.values()) <= {1}
