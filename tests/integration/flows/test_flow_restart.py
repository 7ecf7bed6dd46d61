"""``python -m pipeline.flows`` SIGKILLed mid-stream and restarted, with and without downtime,
stores exactly the candles of a flow that never stopped (and no trades: the persist agent is
their one writer)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model import topics
from model.events import TradeExecuted
from pipeline.fence import FLOW_ROLE
from tests.integration.flows.conftest import MARKETS, SHARD, FlowEnv
from tests.integration.flows.test_market_data import _STORED_SQL, _commands, run_flow
from tests.integration.pipeline.writers import holding
from tests.support.streams import all_events

_ROOT = Path(__file__).resolve().parents[3]


def _start(env: FlowEnv, recovery: Path) -> subprocess.Popen[bytes]:
    child_env = {
        **os.environ,
        "REDIS_URL": env.redis_url,
        "DATABASE_URL": env.database_url,
        "TIDEWATER_SHARDS": f"{SHARD}={','.join(MARKETS)}",
        "TIDEWATER_FLOW_RECOVERY_DIR": str(recovery),
        "TIDEWATER_FLOW_EPOCH_MS": "100",
        "TIDEWATER_DATA_DIR": str(env.tmp / "data"),
    }
    for name in ("TIDEWATER_REDIS_URL", "TIDEWATER_DATABASE_URL"):
        child_env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.flows"],
        cwd=_ROOT,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=(env.tmp / "flow.log").open("ab"),
    )


def _wait(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the flow")
        time.sleep(0.1)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _counted(env: FlowEnv) -> int:
    return int(
        env.query("SELECT coalesce(sum(trades), 0) FROM candles WHERE interval = '1w'")[0][0]
    )


def test_killed_and_restarted_flow_stores_identical_candles(
    flow_env: FlowEnv, new_schema: Any
) -> None:
    env = flow_env
    commands = _commands(seed=31, n=16_000)
    chunks = [commands[i : i + 400] for i in range(0, len(commands), 400)]
    recovery = env.tmp / "recovery"
    env.lease.release()  # the flow processes take it, one after another
    env.run_matcher(chunks[0])
    proc = _start(env, recovery)
    try:
        _wait(lambda: _counted(env) > 0)
        for chunk in chunks[1:12]:  # live: the flow follows while the matcher commits
            env.run_matcher(chunk)
            time.sleep(0.05)
        _kill(proc)  # mid-stream: epochs of 100 ms, batches still arriving
        proc = _start(env, recovery)  # no downtime
        for chunk in chunks[12:24]:
            env.run_matcher(chunk)
            time.sleep(0.05)
        _kill(proc)
        for chunk in chunks[24:]:  # downtime: a backlog of old event time piles up
            env.run_matcher(chunk)
        proc = _start(env, recovery)
        trades = sum(isinstance(e, TradeExecuted) for _, e in all_events(env.client, SHARD))
        _wait(lambda: _counted(env) == trades)
        time.sleep(1.0)  # the last throttled in-progress bars
    finally:
        _kill(proc)
    restarted = sorted(env.query(_STORED_SQL))
    restarted_trades = env.query("SELECT count(*), count(DISTINCT (market, trade_id)) FROM trades")

    reference_url = new_schema()
    with holding(env.client, topics.flow_lease(), FLOW_ROLE, reference_url) as (lease, fence):
        with_reference = FlowEnv(
            env.redis_url, reference_url, env.client, env.service, env.tmp, lease, fence
        )
        run_flow(with_reference, reference_url)  # one uninterrupted run over the same stream
    reference = sorted(with_reference.query(_STORED_SQL))
    assert len(reference) > 100
    assert restarted == reference
    assert restarted_trades == [(0, 0)], "the flow writes no trades rows"
