"""The market-data flow is a fenced single writer (``pipeline/fence.py``), on real Redis and
PostgreSQL: a flow that lost its lease writes nothing to either; two flow processes started at
once publish every push once with gapless depth update ids, and the standby takes over when the
writer is SIGKILLed, going on from the same recovery store without a gap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from model import topics
from model.enums import Side
from model.events import TradeExecuted
from model.lease import LeaseLostError
from pipeline.fence import FLOW_ROLE, FencedOutError
from pipeline.flows.records import CandleRow, DepthWrite, Publish
from pipeline.flows.sinks import PostgresSink, RedisSink
from pipeline.flows.source import EventSource
from tests.integration.flows.conftest import MARKETS, SHARD, FlowEnv
from tests.integration.flows.test_market_data import (
    _CANDLE_SQL,
    _STORED_SQL,
    _commands,
    _engine_side,
    _hash_book,
    run_flow,
)
from tests.integration.pipeline.writers import holder_pid, holding, log_says, wait_until
from tests.support.streams import all_events

_ROOT = Path(__file__).resolve().parents[3]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LEASE = topics.flow_lease()


def _stored_epoch(env: FlowEnv) -> int | None:
    rows = env.query("SELECT epoch FROM writer_fences WHERE role = %s", FLOW_ROLE)
    return int(rows[0][0]) if rows else None


def test_a_fenced_out_flow_writes_nothing(flow_env: FlowEnv) -> None:
    env = flow_env
    env.run_matcher(_commands(seed=25, n=1500))
    run_flow(env, env.database_url)
    old = env.fence
    books = {m: env.client.hgetall(topics.depth_book(m)) for m in MARKETS}
    candles = env.query(_STORED_SQL)
    market = max(MARKETS, key=lambda m: int(books[m].get(b"lastUpdateId", 0)))
    last = int(books[market][b"lastUpdateId"])
    assert last > 0
    assert candles
    env.lease.release()  # the old flow lost its lease without noticing (paused past it, say)
    listener = env.client.pubsub()
    listener.psubscribe("md:*")
    assert listener.get_message(timeout=5) is not None  # the subscription confirmation
    with holding(env.client, LEASE, FLOW_ROLE, env.database_url) as (_, new):
        assert new.epoch == old.epoch + 1
        assert _stored_epoch(env) == new.epoch  # recorded as soon as the lease was taken
        diff = DepthWrite(
            topics.depth_book(market), f"md:depth@{market}", last + 1, last + 1,
            {"b:1": "5"}, b'{"old": 1}', 1,
        )  # fmt: skip
        stale = RedisSink(env.redis_url, old).build("redis", 0, 1)
        with pytest.raises(LeaseLostError):
            stale.write_batch([diff, Publish(f"md:trades@{market}", b'{"old": 2}')])
        stale.close()
        # A fresh start of the old flow would drop the depth hashes: refused too.
        with pytest.raises(LeaseLostError):
            EventSource(env.redis_url, {SHARD: MARKETS}, old).build_part("events", SHARD, None)
        name, interval, opened, o, h, low, c, v, q, n, closed = candles[0]
        micros = (opened - _EPOCH) // timedelta(microseconds=1)
        changed = CandleRow(name, interval, micros, o, h, low, c + 1, v, q, n, closed)
        with pytest.raises(FencedOutError):
            PostgresSink(env.database_url, old).build("postgres", 0, 1).write_batch([changed])
        # The new writer's writes go through; a diff it already applied is skipped.
        current = RedisSink(env.redis_url, new).build("redis", 0, 1)
        replayed = DepthWrite(diff.key, diff.channel, last, last, {"b:1": "7"}, b'{"old": 3}', 2)
        current.write_batch([replayed, Publish("md:sentinel", b"new")])
        current.close()
        message = listener.get_message(timeout=5)
        assert message is not None
        assert (message["channel"], message["data"]) == (b"md:sentinel", b"new"), message
        assert {m: env.client.hgetall(topics.depth_book(m)) for m in MARKETS} == books
        assert env.query(_STORED_SQL) == candles
        assert _stored_epoch(env) == new.epoch
    listener.close()


class _Pushes:
    """Every ``md:*`` push, with when it arrived, collected by a thread."""

    def __init__(self, redis_url: str) -> None:
        self._client = redis.Redis.from_url(redis_url)
        self._pubsub = self._client.pubsub()
        self._pubsub.psubscribe("md:*")
        assert self._pubsub.get_message(timeout=5) is not None
        self.seen: list[tuple[float, str, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.05)
            if message is not None and message["type"] == "pmessage":
                channel = message["channel"].decode()
                self.seen.append((time.monotonic(), channel, json.loads(message["data"])))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pubsub.close()
        self._client.close()

    def trade_ids(self, until: float = float("inf")) -> list[int]:
        return [d["t"] for t, c, d in list(self.seen) if c.startswith("md:trades@") and t < until]

    def depth_ids(self, market: str) -> list[tuple[int, int]]:
        return [(d["U"], d["u"]) for _, c, d in list(self.seen) if c == f"md:depth@{market}"]


def _flow(env: FlowEnv, recovery: Path, log: Path) -> subprocess.Popen[bytes]:
    child_env = {
        **os.environ,
        "REDIS_URL": env.redis_url,
        "DATABASE_URL": env.database_url,
        "TIDEWATER_SHARDS": f"{SHARD}={','.join(MARKETS)}",
        "TIDEWATER_FLOW_RECOVERY_DIR": str(recovery),
        "TIDEWATER_FLOW_EPOCH_MS": "100",
        "TIDEWATER_FLOW_THROTTLE_MS": "50",
        "TIDEWATER_DATA_DIR": str(env.tmp / "data"),
    }
    for name in ("TIDEWATER_REDIS_URL", "TIDEWATER_DATABASE_URL"):
        child_env.pop(name, None)
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.flows"], cwd=_ROOT, env=child_env,
            stdout=sink, stderr=sink,
        )  # fmt: skip


def _trades(env: FlowEnv) -> list[int]:
    return [e.trade_id for _, e in all_events(env.client, SHARD) if isinstance(e, TradeExecuted)]


def _counted(env: FlowEnv) -> int:
    return int(
        env.query("SELECT coalesce(sum(trades), 0) FROM candles WHERE interval = '1w'")[0][0]
    )


def _gapless(ids: list[tuple[int, int]]) -> bool:
    """Depth diffs as a client sees them: from update id 1, each ``U`` the previous ``u + 1``."""
    expected = 1
    for first, last in ids:
        if first != expected or last < first:
            return False
        expected = last + 1
    return True


def test_two_flows_at_once_one_writes_and_the_standby_takes_over(flow_env: FlowEnv) -> None:
    env = flow_env
    env.lease.release()  # the processes take it
    commands = _commands(seed=26, n=8000)
    chunks = [commands[i : i + 400] for i in range(0, len(commands), 400)]
    recovery = env.tmp / "recovery"
    logs = [env.tmp / "flow-a.log", env.tmp / "flow-b.log"]
    pushes = _Pushes(env.redis_url)
    procs: list[subprocess.Popen[bytes]] = []
    figures: dict[str, Any] = {}
    try:
        env.run_matcher(chunks[0])
        procs = [_flow(env, recovery, log) for log in logs]  # at once, on one recovery store
        pids = [p.pid for p in procs]
        wait_until(lambda: holder_pid(env.client, LEASE) in pids, "one flow holds the lease")
        w = pids.index(holder_pid(env.client, LEASE) or 0)
        writer, standby = procs[w], procs[1 - w]
        wait_until(lambda: log_says(logs[1 - w], "standby"), "the other flow stands by")
        for chunk in chunks[1:10]:  # live: the flow follows while the matcher commits
            env.run_matcher(chunk)
            time.sleep(0.05)
        trades = _trades(env)
        wait_until(lambda: _counted(env) == len(trades), "the writer catches up")
        wait_until(lambda: sorted(pushes.trade_ids()) == trades, "every trade is pushed")
        # One writer: each push once, gapless depth ids; the standby never wrote PostgreSQL.
        assert standby.poll() is None
        assert _stored_epoch(env) == int(env.client.get(topics.lease_epoch(LEASE)) or 0)
        for market in MARKETS:
            assert _gapless(pushes.depth_ids(market)), market

        writer.kill()  # SIGKILL, mid-stream
        writer.wait()
        killed = time.monotonic()
        taken = wait_until(
            lambda: holder_pid(env.client, LEASE) == standby.pid, "the standby takes over"
        )
        figures["lease_taken_after_s"] = round(taken - killed, 2)
        for chunk in chunks[10:]:
            env.run_matcher(chunk)
            time.sleep(0.02)
        wait_until(lambda: pushes.seen[-1][0] > killed, "the new writer pushes")
        figures["first_push_after_s"] = round(
            min(t for t, _, _ in pushes.seen if t > killed) - killed, 2
        )
        trades = _trades(env)
        wait_until(lambda: _counted(env) == len(trades), "the new writer catches up")
        env.persist()  # the trades the SQL recomputes from, as the persist agent stores them
        clock = max(e.ts for _, e in all_events(env.client, SHARD))
        expected = sorted(env.query(_CANDLE_SQL, _EPOCH + timedelta(microseconds=clock)))
        wait_until(lambda: sorted(env.query(_STORED_SQL)) == expected, "candles are right")
        wait_until(lambda: set(pushes.trade_ids()) == set(trades), "every trade is pushed")
        for market in MARKETS:
            bids, asks = _engine_side(env, market, Side.BUY), _engine_side(env, market, Side.SELL)
            wait_until(
                lambda m=market, b=bids, a=asks: (  # type: ignore[misc]
                    _hash_book(env.client, m).side("b") == b
                    and _hash_book(env.client, m).side("a") == a
                ),
                f"the depth hash of {market} equals the engine's book",
            )
            last = _hash_book(env.client, market).last
            wait_until(
                lambda m=market, u=last: (pushes.depth_ids(m) or [(0, 0)])[-1][1] == u,  # type: ignore[misc]
                f"the last diff of {market} arrives",
            )
            # Across the takeover too: the new writer went on from the recovery store and the
            # depth script skipped the diffs it replayed, so clients see no gap and no repeat.
            assert _gapless(pushes.depth_ids(market)), market
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=20) == 0
        assert env.client.get(LEASE) is None, "a clean stop releases the lease"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        pushes.close()
        print(f"\n[flow single writer] {figures}")
    assert len(trades) > 100
    # Bounded takeover: the same host sees the dead pid at the next poll (0.1 s); from another
    # host, the lease's time to live (2 s) plus a poll.
    assert figures["lease_taken_after_s"] < 3.5
    assert figures["first_push_after_s"] < 15
