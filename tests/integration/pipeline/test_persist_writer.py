"""The persist agent of a shard is a fenced single writer (``pipeline/fence.py``), on real Redis
and PostgreSQL: an agent fenced out stores, takes and publishes nothing; two agent processes
started at once store exactly what one would, one of them a standby that takes over when the
writer is paused past its lease (which then exits 3) or SIGKILLed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import redis.asyncio as aioredis

from matcher.engine import Engine
from model import topics
from model.lease import LeaseLostError
from pipeline.fence import (
    EXIT_FENCED,
    Fence,
    FencedOutError,
    acquire,
    claim,
    new_lease,
    persist_role,
)
from pipeline.persist import PersistStore, UserPublisher, build_app
from pipeline.source import RedisSource
from tests.integration.pipeline.test_persist import (
    CONFIG,
    ROOT,
    SHARD,
    _check_tables,
    _lag,
    _persist_until_caught_up,
    _produce,
)
from tests.integration.pipeline.writers import holder_pid, holding, log_says, wait_until
from tests.support.streams import all_events

LEASE = topics.persist_lease(SHARD)
ROLE = persist_role(SHARD)


def _counts(db_url: str) -> tuple[int, int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM trades),"
            " (SELECT count(*) FROM ledger)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _stored_epoch(db_url: str) -> int | None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT epoch FROM writer_fences WHERE role = %s", (ROLE,)).fetchone()
    return None if row is None else int(row[0])


def test_a_fenced_out_agent_stores_takes_and_publishes_nothing(
    redis_client: redis.Redis, redis_url: str, db_url: str
) -> None:
    engine = _produce(redis_client, seed=45, n=600)
    events = [e for _, e in all_events(redis_client, SHARD)]
    # The old writer held the lease, then lost it without noticing (paused past it, say): its
    # fence still carries its token and epoch; a new writer has taken the lease since.
    old_lease = new_lease(redis_client, LEASE, ROLE)
    old = acquire(old_lease, ROLE, db_url, threading.Event())
    assert old is not None
    old_lease.release()
    listener = redis_client.pubsub()
    listener.psubscribe("user:*")
    assert listener.get_message(timeout=5) is not None  # the subscription confirmation

    async def old_writer_tries() -> None:
        client = aioredis.Redis.from_url(redis_url)
        store = PersistStore(db_url, CONFIG, SHARD, old)
        with pytest.raises(FencedOutError):  # PostgreSQL has seen the newer epoch
            await store.write(events)
        await store.close()
        source = RedisSource(client, topics.events(SHARD), topics.PERSIST_GROUP, "old", fence=old)
        with pytest.raises(LeaseLostError):  # its read would take entries: refused
            await source.fetch(100, 10)
        with pytest.raises(LeaseLostError):
            await source.ack(["0-1"])
        with pytest.raises(LeaseLostError):
            await UserPublisher(client, old).send({7: [{"e": "balance", "asset": "INR"}]})
        # The whole agent: refused at its first read, and not restarted.
        store = PersistStore(db_url, CONFIG, SHARD, old)
        app = build_app(client, store, SHARD)
        with pytest.raises(LeaseLostError):
            await asyncio.wait_for(app.run(asyncio.Event()), 10)
        assert app.agents[0].restarts == 0
        await store.close()
        await client.aclose()

    with holding(redis_client, LEASE, ROLE, db_url) as (_, new):
        assert new.epoch == old.epoch + 1
        asyncio.run(old_writer_tries())
        redis_client.publish("user:0", b"sentinel")  # the first message anyone published
        message = listener.get_message(timeout=5)
        assert message is not None
        assert message["data"] == b"sentinel"
        assert _counts(db_url) == (0, 0, 0)
        group = redis_client.xinfo_groups(topics.events(SHARD))[0]
        assert (group["pending"], group["last-delivered-id"]) == (0, b"0-0")
    listener.close()
    # Nothing was taken away: the next writer stores every event.
    asyncio.run(_persist_until_caught_up(redis_url, db_url))
    _check_tables(db_url, events, engine)


def test_a_reset_epoch_counter_catches_up_with_postgres(
    redis_client: redis.Redis, db_url: str
) -> None:
    """A fresh Redis in front of an old database: the new writer's epoch would be refused for
    ever; taking the lease raises the counter past PostgreSQL's first."""
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO writer_fences (role, epoch) VALUES (%s, 50)", (ROLE,))
    with holding(redis_client, LEASE, ROLE, db_url) as (lease, fence):
        assert fence.epoch == lease.epoch == 51
        assert _stored_epoch(db_url) == 51


def test_the_epoch_fence_orders_writers_and_a_paused_one_holds_up_the_next_briefly(
    db_url: str,
) -> None:
    """Two holders' transactions: the older's, paused while it holds the fence row, is ended by
    the server after ``idle_ms``; the newer then commits, and the older can never commit again."""
    old = Fence(ROLE, LEASE, b"old", 1, idle_ms=300)
    new = Fence(ROLE, LEASE, b"new", 2, idle_ms=300)
    paused = psycopg.connect(db_url)
    with paused.cursor() as cur:
        claim(cur, old)  # the transaction stays open: the process "pauses" here
    started = time.monotonic()
    with psycopg.connect(db_url) as conn, conn.transaction(), conn.cursor() as cur:
        claim(cur, new)  # waits for the row until the server ends the paused session
    waited = time.monotonic() - started
    with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
        paused.commit()  # it wakes up: its session is gone, nothing of it commits
    paused.close()
    with (
        pytest.raises(FencedOutError),
        psycopg.connect(db_url) as conn,
        conn.transaction(),
        conn.cursor() as cur,
    ):
        claim(cur, old)
    with psycopg.connect(db_url) as conn, conn.transaction(), conn.cursor() as cur:
        claim(cur, new)  # the same epoch again: its own later transactions go through
    assert _stored_epoch(db_url) == 2
    assert 0.2 < waited < 5, waited


def _agent(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline"], cwd=ROOT, env=env, stdout=sink, stderr=sink
        )


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()


def test_two_agents_at_once_store_what_one_would(
    redis_client: redis.Redis, redis_url: str, db_url: str, tmp_path: Path
) -> None:
    produced: list[Engine] = []
    producer = threading.Thread(
        target=lambda: produced.append(_produce(redis_client, seed=46, n=5000, pace=0.05))
    )
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": db_url}
    logs = [tmp_path / f"agent-{n}.log" for n in range(3)]
    procs: dict[int, subprocess.Popen[bytes]] = {}
    figures: dict[str, Any] = {}
    try:
        producer.start()  # events keep coming through everything below
        for log in logs[:2]:
            proc = _agent(env, log)
            procs[proc.pid] = proc
        wait_until(lambda: holder_pid(redis_client, LEASE) in procs, "one agent holds the lease")
        writer = procs[holder_pid(redis_client, LEASE) or 0]
        standby = next(p for p in procs.values() if p is not writer)
        standby_log = logs[list(procs).index(standby.pid)]
        wait_until(lambda: log_says(standby_log, "standby"), "the other one says it is standby")
        wait_until(lambda: _counts(db_url)[2] > 0, "the writer stores")
        assert standby.poll() is None

        # The writer is paused past its lease: the standby takes over, and the old writer,
        # resumed, stops with code 3 without writing anything more.
        writer.send_signal(signal.SIGSTOP)
        paused = time.monotonic()
        taken = wait_until(
            lambda: holder_pid(redis_client, LEASE) == standby.pid, "the standby takes over"
        )
        figures["takeover_after_sigstop_s"] = round(taken - paused, 2)
        writer.send_signal(signal.SIGCONT)
        assert writer.wait(timeout=10) == EXIT_FENCED
        writer_log = logs[list(procs).index(writer.pid)]
        assert log_says(writer_log, "fenced out")

        # A third agent stands by; the second writer is SIGKILLed: the third takes over.
        third = _agent(env, logs[2])
        procs[third.pid] = third
        wait_until(lambda: log_says(logs[2], "standby"), "the third agent stands by")
        standby.kill()
        standby.wait()
        killed = time.monotonic()
        taken = wait_until(
            lambda: holder_pid(redis_client, LEASE) == third.pid, "the third agent takes over"
        )
        figures["takeover_after_sigkill_s"] = round(taken - killed, 2)
        producer.join()
        wait_until(lambda: _lag(redis_client) == 0, "the third agent catches up", timeout=60)
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=20) == 0
        assert redis_client.get(LEASE) is None, "a clean stop releases the lease"
    finally:
        _stop(*procs.values())
        producer.join()
        print(f"\n[persist single writer] {figures}")
    events = [e for _, e in all_events(redis_client, SHARD)]
    _check_tables(db_url, events, produced[0])  # every fill, once: what a single agent stores
    assert _stored_epoch(db_url) == 3  # three holders, one after another
    # Bound: the lease's time to live (2 s) plus a standby poll (0.1 s), with room for a
    # loaded machine.
    assert figures["takeover_after_sigstop_s"] < 3.5
    assert figures["takeover_after_sigkill_s"] < 3.5
