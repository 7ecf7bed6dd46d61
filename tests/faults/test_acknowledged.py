"""What a 2xx said is what recovery keeps: Redis, then the matcher, SIGKILLed 20 times each at
random points under load. For every order the client got a 2xx for, the recovered events say
the same fills, status and remaining (``tests.support.acknowledged``), no 2xx order is missing,
and ``tidewater audit`` ends clean."""

from __future__ import annotations

import random
import time
from pathlib import Path

import msgspec
import redis

from infra.embedded import EmbeddedRedis, free_port
from model.api import OrderView
from model.enums import OrderStatus
from model.settings import get_settings
from tests.faults.conftest import run_audit, users
from tests.integration.edge.conftest import fresh_database, fresh_redis_url
from tests.support.acknowledged import placement_mismatches
from tests.support.cluster import Cluster, Service
from tests.support.load import LoadGenerator, LoadResult

KILLS = 20
#: A killed matcher's lease lapses this soon, so the 20 restarts fit in a CI run.
_FAST_LEASE = {"TIDEWATER_LEASE_TTL_MS": "800", "TIDEWATER_LEASE_RENEW_MS": "100"}


def _mismatches(cluster: Cluster, answers: list[OrderView]) -> list[str]:
    settings = get_settings()
    client = redis.Redis.from_url(cluster.redis_url)
    try:
        return placement_mismatches(client, settings.markets(), settings.shard_names(), answers)
    finally:
        client.close()


def _check(cluster: Cluster, result: LoadResult, record: dict[str, object]) -> None:
    report = run_audit(cluster, result.acknowledged)
    mismatches = _mismatches(cluster, result.answers)
    # The check can fail: an answer that claims another status or no fills is caught.
    first = result.answers[0]
    forged = [
        msgspec.structs.replace(first, status=OrderStatus.CANCELED, fills=[]),
        msgspec.structs.replace(first, order_id=str(int(first.order_id) + 10**15)),
    ]
    assert len(_mismatches(cluster, forged)) == 2
    record.update(
        sent=result.sent,
        acknowledged=len(result.acknowledged),
        statuses=dict(result.statuses),
        unreachable=result.unreachable,
        mismatches=len(mismatches),
    )
    assert report.ok, report.render()
    assert mismatches == []
    assert result.server_errors == []
    assert len(result.answers) > 200


def test_redis_killed_20_times_every_2xx_is_what_recovery_keeps(
    database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    server = EmbeddedRedis(tmp_path / "redis-data", port=free_port(), throwaway=False)
    redis_url = server.start()
    rng = random.Random(12)
    with fresh_database(database_url, "tw_fault") as db_url:
        cluster = Cluster(redis_url, db_url, tmp_path, with_agents=True)
        cluster.start()
        try:
            load = LoadGenerator(cluster.base_url, users(cluster, 20), rate=150, seed=12).start()
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 1.2))
                server.kill()
                time.sleep(rng.uniform(0.05, 0.4))
                server.start()
            time.sleep(2)
            result = load.stop()
            _check(cluster, result, record)
        finally:
            cluster.stop()
            server.stop()


def _kill(service: Service, rng: random.Random) -> None:
    service.kill()
    time.sleep(rng.uniform(0.05, 0.3))
    service.start()


def test_matcher_killed_20_times_every_2xx_is_what_recovery_keeps(
    redis_url: str, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    rng = random.Random(13)
    # Snapshots often: a kill lands before, between and after them.
    extra = {**_FAST_LEASE, "TIDEWATER_SNAPSHOT_EVERY": "200"}
    with fresh_database(database_url, "tw_fault") as db_url:
        cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, extra, with_agents=True)
        cluster.start()
        try:
            load = LoadGenerator(cluster.base_url, users(cluster, 20), rate=150, seed=13).start()
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 1.2))
                _kill(cluster.matcher, rng)
            time.sleep(3)
            result = load.stop()
            _check(cluster, result, record)
        finally:
            cluster.stop()
