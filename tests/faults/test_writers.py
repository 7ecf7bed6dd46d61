"""A second matcher on the shard of a whole exchange under REST load: it waits as a standby, takes
over each time the writer is SIGKILLed (the killed one comes back as the next standby), and the
audit ends clean: one journal, every acknowledged order in exactly one state, trades stored once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from model import streams, topics
from tests.faults.conftest import Size, run_audit, sizes, users
from tests.integration.edge.conftest import fresh_database, fresh_redis_url
from tests.support.cluster import Cluster, Service
from tests.support.load import LoadGenerator

SHARD = "0"


def _writer_pid(client: redis.Redis) -> int | None:
    raw = client.get(topics.writer_lease(SHARD))
    return int(bytes(raw).decode().rsplit(":", 2)[1]) if raw is not None else None


@pytest.mark.parametrize("size", sizes(Size(16, 100, 3), Size(300, 500, 15, users=200)))
def test_a_standby_matcher_takes_over_under_load_and_the_audit_is_clean(
    size: Size, redis_url: str, database_url: str, tmp_path: Path, record: dict[str, object]
) -> None:
    with fresh_database(database_url, "tw_writers") as db_url:
        cluster = Cluster(fresh_redis_url(redis_url), db_url, tmp_path, with_agents=True)
        cluster.start()
        standby = Service("matcher", [], cluster.matcher.env, tmp_path / "standby.log")
        standby.start()
        pool = [cluster.matcher, standby]
        client = redis.Redis.from_url(cluster.redis_url)
        try:
            deadline = time.monotonic() + 30
            while "standby" not in standby.output():
                assert time.monotonic() < deadline, standby.output()
                time.sleep(0.05)
            load = LoadGenerator(
                cluster.base_url, users(cluster, size.users), rate=size.rate, seed=8
            ).start()
            kills: list[float] = []
            takeovers: list[float] = []
            for _ in range(size.faults):
                time.sleep(size.seconds / (size.faults + 1))
                writer_pid = _writer_pid(client)
                writer = next(s for s in pool if s.process and s.process.pid == writer_pid)
                writer.kill()
                kills.append(time.monotonic())
                while _writer_pid(client) in (None, writer_pid):
                    assert time.monotonic() - kills[-1] < 5, "no standby took over"
                    time.sleep(0.005)
                takeovers.append(time.monotonic() - kills[-1])
                writer.start()  # back as the next standby
            time.sleep(size.seconds / (size.faults + 1))
            result = load.stop()
            report = run_audit(cluster, result.acknowledged)
            epochs = {e for _, e in streams.writer_epochs(client, SHARD)}
        finally:
            standby.stop()
            cluster.stop()
            client.close()
    back = [result.first_ok_after(t) for t in kills]
    record.update(
        sent=result.sent,
        acknowledged=len(result.acknowledged),
        statuses=dict(result.statuses),
        takeover_s=[round(t, 3) for t in takeovers],
        first_ok_after_kill_s=[round(b, 2) if b is not None else None for b in back],
        writer_epochs=len(epochs),
    )
    assert report.ok, report.render()
    assert result.server_errors == []
    assert all(b is not None for b in back)
    assert len(epochs) == size.faults + 1
