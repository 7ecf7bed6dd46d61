"""Steady load and a burst: no server error, every answer a 2xx or a documented refusal
(429 rate limit, 503 busy), the streams drained within 5 s once the load stops, and the audit
clean (every acknowledged order kept)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis

from model import streams, topics
from tests.faults.conftest import Size, run_audit, sizes, users
from tests.integration.edge.conftest import fresh_database, fresh_redis_url
from tests.support.cluster import Cluster
from tests.support.load import LoadGenerator


def _lag(client: redis.Redis, stream: str, group: str) -> int:
    """Entries of ``stream`` the group has not yet read or acknowledged."""
    try:
        groups: list[dict[str, Any]] = client.xinfo_groups(stream)
    except redis.ResponseError:
        return 0
    for entry in groups:
        name = entry["name"].decode() if isinstance(entry["name"], bytes) else entry["name"]
        if name == group:
            return int(entry.get("lag") or 0) + int(entry["pending"])
    return 0


def _drained_after(cluster: Cluster, timeout: float = 30) -> float:
    """Seconds until the matcher and the persist agent have consumed everything."""
    client = redis.Redis.from_url(cluster.redis_url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            if (
                streams.unapplied_commands(client, "0") == 0
                and _lag(client, topics.events("0"), topics.PERSIST_GROUP) == 0
            ):
                return time.monotonic() - started
            time.sleep(0.05)
    finally:
        client.close()
    return float("inf")


@pytest.mark.parametrize("size", sizes(Size(15, 200, 0, users=50), Size(600, 500, 0, users=200)))
def test_steady_load(
    size: Size, redis_url: str, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    with fresh_database(database_url, "tw_fault") as db_url:
        cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, with_agents=True)
        cluster.start()
        try:
            load = LoadGenerator(
                cluster.base_url, users(cluster, size.users), rate=size.rate, seed=6, threads=16
            ).start()
            time.sleep(size.seconds)
            result = load.stop()
            drained_s = _drained_after(cluster)
            report = run_audit(cluster, result.acknowledged)
        finally:
            cluster.stop()
    record.update(
        sent=result.sent,
        achieved_rate=round(result.sent / size.seconds),
        statuses=dict(result.statuses),
        p99_accept_ms=round(result.p99_accept_ms(), 1),
        drained_s=round(drained_s, 2),
    )
    assert result.server_errors == []
    assert set(result.statuses) <= {200, 404, 409, 422}, result.statuses
    assert drained_s <= 5
    assert report.ok, report.render()


@pytest.mark.parametrize("size", sizes(Size(5, 2000, 0, users=5), Size(30, 2000, 0, users=20)))
def test_burst_is_accepted_or_refused_never_lost(
    size: Size, redis_url: str, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    with fresh_database(database_url, "tw_fault") as db_url:
        extra = {"TIDEWATER_RATE_LIMIT": "100", "TIDEWATER_MAX_IN_FLIGHT": "32"}
        cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, extra, with_agents=True)
        cluster.start()
        try:
            load = LoadGenerator(
                cluster.base_url, users(cluster, size.users), rate=size.rate, seed=7, threads=48
            ).start()
            time.sleep(size.seconds)
            result = load.stop()
            report = run_audit(cluster, result.acknowledged)
        finally:
            cluster.stop()
    record.update(
        sent=result.sent,
        achieved_rate=round(result.sent / size.seconds),
        statuses=dict(result.statuses),
        p99_accept_ms=round(result.p99_accept_ms(), 1),
    )
    assert result.server_errors == []
    assert result.unreachable == 0
    assert set(result.statuses) <= {200, 404, 409, 422, 429, 503}, result.statuses
    assert result.statuses[429] + result.statuses[503] > 0, "the burst was never refused"
    assert report.ok, report.render()
