"""Every service process SIGKILLed under load — matcher, persist agent, Bytewax flow — and
PostgreSQL stopped for a while: the audit ends clean, candles included, and each restart's
recovery time is recorded. An edge killed mid-request: a client that retries with the same
``clientOrderId`` ends with exactly one order."""

from __future__ import annotations

import random
import shutil
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from infra.embedded import EmbeddedPostgres, free_port
from infra.migrate import migrate
from tests.faults.conftest import Size, run_audit, sizes, users
from tests.integration.edge.conftest import fresh_database, fresh_redis_url
from tests.support.cluster import Cluster, Service
from tests.support.load import LoadGenerator


def _kill_and_restart(service: Service, pause: float = 0.3) -> float:
    service.kill()
    killed_at = time.monotonic()
    time.sleep(pause)
    service.start()
    return killed_at


@pytest.mark.parametrize("size", sizes(Size(20, 100, 4), Size(320, 500, 15, users=200)))
def test_matcher_agents_and_flow_killed_under_load(
    size: Size, redis_url: str, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    with fresh_database(database_url, "tw_fault") as db_url:
        extra = {"TIDEWATER_SNAPSHOT_EVERY": "500"}
        cluster = Cluster(
            fresh_redis_url(redis_url), db_url, tmp_path, extra, with_agents=True, with_flow=True
        )
        cluster.start()
        try:
            load = LoadGenerator(
                cluster.base_url, users(cluster, size.users), rate=size.rate, seed=3
            ).start()
            rng = random.Random(3)
            matcher_kills = []
            for n in range(size.faults):
                time.sleep(size.seconds / (size.faults + 1))
                matcher_kills.append(_kill_and_restart(cluster.matcher))
                # The persist agent and the flow die too, mid-batch: two rounds in three the
                # agent, the third the flow (at soak size, 10 and 5 kills, as issue 6 asks).
                if n % 3 != 2:
                    _kill_and_restart(cluster.agents, rng.uniform(0.1, 1.0))
                else:
                    _kill_and_restart(cluster.flow, rng.uniform(0.1, 1.0))
            time.sleep(size.seconds / (size.faults + 1))
            result = load.stop()
            stopped_at = time.monotonic()
            report = run_audit(cluster, result.acknowledged, candles=True)
            caught_up_s = time.monotonic() - stopped_at
        finally:
            cluster.stop()
    back = [result.first_ok_after(t) for t in matcher_kills]
    record.update(
        sent=result.sent,
        acknowledged=len(result.acknowledged),
        statuses=dict(result.statuses),
        matcher_recovery_s=[round(b, 2) if b is not None else None for b in back],
        p99_accept_ms=round(result.p99_accept_ms(), 1),
        audit_after_s=round(caught_up_s, 1),
    )
    assert report.ok, report.render()
    assert result.server_errors == []
    assert all(b is not None for b in back)


@pytest.mark.parametrize("size", sizes(Size(20, 60, 1, users=10), Size(120, 500, 1, users=200)))
def test_postgres_stopped_and_restarted_under_load(
    size: Size, redis_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    downtime = 8.0 if size.seconds < 60 else 60.0
    pg = EmbeddedPostgres(tmp_path / "pg-data", port=free_port(), throwaway=False)
    db_url = pg.start()
    migrate(db_url)
    cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, with_agents=True)
    cluster.start()
    try:
        load = LoadGenerator(
            cluster.base_url, users(cluster, size.users), rate=size.rate, seed=4
        ).start()
        time.sleep((size.seconds - downtime) / 2)
        pg.stop()
        time.sleep(downtime)
        restarted = time.monotonic()
        pg.start()
        time.sleep((size.seconds - downtime) / 2)
        result = load.stop()
        report = run_audit(cluster, result.acknowledged)
        caught_up_s = time.monotonic() - restarted
    finally:
        cluster.stop()
        pg.stop()
        shutil.rmtree(pg.pgdata, ignore_errors=True)  # kept across the restart, not after
    record.update(
        sent=result.sent,
        acknowledged=len(result.acknowledged),
        statuses=dict(result.statuses),
        pg_down_s=downtime,
        stores_caught_up_within_s=round(caught_up_s, 1),
    )
    assert report.ok, report.render()
    assert result.server_errors == []


def test_edge_killed_mid_request_client_retry_with_client_order_id_makes_one_order(
    redis_url: str, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    """Resting orders, each sent until the edge answers: a retry of an order that did reach the
    matcher answers 200 with that order (same ``clientOrderId``, same request), so each id ends
    as one order and no retry is refused."""
    with fresh_database(database_url, "tw_fault") as db_url:
        cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, with_agents=True)
        cluster.start()
        try:
            (user,) = users(cluster, 1)
            api = httpx.Client(base_url=f"{cluster.base_url}/api/v1", timeout=5)
            rng = random.Random(5)
            client_ids = [uuid.UUID(int=rng.getrandbits(128)).hex[:20] for _ in range(120)]
            retried = kills = 0
            answered: dict[str, str] = {}
            restart: threading.Thread | None = None
            for n, client_id in enumerate(client_ids):
                body = {
                    "market": "TATA_INR", "kind": "buy", "type": "limit",
                    "price": f"{50 + n % 40}.00", "quantity": "1", "clientOrderId": client_id,
                }  # fmt: skip
                if n % 30 == 15:  # kill the edge while this request is in flight
                    kills += 1
                    restart = _kill_edge_soon(cluster)
                while True:
                    try:
                        response = api.post("/order", json=body, headers=user)
                    except httpx.HTTPError:
                        retried += 1
                        if restart is not None:
                            restart.join()  # the new edge is started before we wait on it
                        cluster.wait_ready(timeout=30)
                        continue
                    if response.status_code in (503, 504):
                        retried += 1
                        continue
                    assert response.status_code == 200, response.text
                    answered[client_id] = response.json()["orderId"]
                    break
            opened = api.get("/orders/open", params={"market": "TATA_INR"}, headers=user).json()
            api.close()
        finally:
            cluster.stop()
    mine = {o["clientOrderId"]: o["orderId"] for o in opened}
    record.update(orders=len(client_ids), edge_kills=kills, retries=retried)
    assert len(opened) == len(client_ids), "each clientOrderId exactly once"
    assert mine == answered, "each answer, first or retried, names the one order"


def _kill_edge_soon(cluster: Cluster) -> threading.Thread:
    """SIGKILL the edge a moment after the next request leaves, then start a new one."""

    def kill() -> None:
        time.sleep(0.002)
        cluster.edge.kill()
        cluster.edge.start()

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread
