"""Redis killed with SIGKILL under load: with the append-only file fsynced on every write, every
acknowledged order survives; without it, the audit reports the loss (the negative control)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infra.embedded import EmbeddedRedis, free_port
from tests.faults.conftest import Size, run_audit, sizes, users
from tests.integration.edge.conftest import fresh_database
from tests.support.cluster import Cluster
from tests.support.load import LoadGenerator


@pytest.mark.parametrize("size", sizes(Size(16, 100, 2), Size(300, 500, 5, users=200)))
def test_redis_kill9_under_load_loses_no_acknowledged_order(
    size: Size, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    server = EmbeddedRedis(tmp_path / "redis-data", port=free_port(), throwaway=False)
    redis_url = server.start()
    with fresh_database(database_url, "tw_fault") as db_url:
        cluster = Cluster(redis_url, db_url, tmp_path, with_agents=True)
        cluster.start()
        try:
            load = LoadGenerator(
                cluster.base_url, users(cluster, size.users), rate=size.rate, seed=1
            ).start()
            recoveries = []
            for _ in range(size.faults):
                time.sleep(size.seconds / (size.faults + 1))
                server.kill()
                killed_at = time.monotonic()
                time.sleep(0.5)
                server.start()
                recoveries.append(killed_at)
            time.sleep(size.seconds / (size.faults + 1))
            result = load.stop()
            report = run_audit(cluster, result.acknowledged)
        finally:
            cluster.stop()
            server.stop()
    back = [result.first_ok_after(t) for t in recoveries]
    record.update(
        sent=result.sent,
        acknowledged=len(result.acknowledged),
        statuses=dict(result.statuses),
        unreachable=result.unreachable,
        recovery_s=[round(b, 2) if b is not None else None for b in back],
        p99_accept_ms=round(result.p99_accept_ms(), 1),
    )
    assert report.ok, report.render()
    assert result.server_errors == []
    assert all(b is not None for b in back), "service never came back after a Redis kill"
    assert len(result.acknowledged) > size.seconds * size.rate * 0.3


def test_negative_control_redis_without_aof_loses_orders_and_the_audit_says_so(
    database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    server = EmbeddedRedis(
        tmp_path / "redis-data", port=free_port(), throwaway=False, durable=False
    )
    redis_url = server.start()
    with fresh_database(database_url, "tw_fault") as db_url:
        cluster = Cluster(redis_url, db_url, tmp_path, with_agents=True)
        cluster.start()
        try:
            load = LoadGenerator(cluster.base_url, users(cluster, 5), rate=100, seed=2).start()
            time.sleep(4)
            result = load.stop()
            server.kill()
            server.start()
            report = run_audit(cluster, result.acknowledged, settle_s=5)
        finally:
            cluster.stop()
            server.stop()
    record.update(acknowledged=len(result.acknowledged))
    assert result.acknowledged
    assert not report.ok
    lost = [f for f in report.findings if not f.ok]
    record.update(findings=[f.check for f in lost])
    assert any("every order in one state" in f.check for f in lost), report.render()
