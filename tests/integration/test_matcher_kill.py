"""``kill -9`` of the matcher process at random moments loses and duplicates nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from matcher.service import MatcherService
from model import streams
from model.config import load_markets
from model.events import TradeExecuted
from model.settings import MatcherSettings
from tests.support.commands_gen import random_commands
from tests.support.streams import (
    all_commands,
    all_events,
    clean_replay,
    listen,
    one_answer_each,
    submit_all,
)

CONFIG = load_markets()
SHARD = "k"
ROOT = Path(__file__).resolve().parents[2]


def _start_matcher(redis_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "TIDEWATER_SHARDS": f"{SHARD}=" + ",".join(sorted(CONFIG.markets)),
        "TIDEWATER_MATCHER_BATCH": "32",
        "TIDEWATER_SNAPSHOT_EVERY": "400",
        "TIDEWATER_TRIM_COMMANDS": "0",  # keep the whole log for the clean replay below
    }
    return subprocess.Popen(
        [sys.executable, "-m", "matcher", "--shard", SHARD],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_until_serving(matcher: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Read the matcher's log until it says it recovered (it serves from then on)."""
    assert matcher.stderr is not None
    found = threading.Event()

    def scan() -> None:
        assert matcher.stderr is not None
        for line in matcher.stderr:
            if b"recovered shard=" in line:
                found.set()
                return

    threading.Thread(target=scan, daemon=True).start()
    assert found.wait(timeout), "matcher never finished recovering"


def _all_applied(client: redis.Redis, last_id: str) -> bool:
    return streams.applied_position(client, SHARD) == last_id


def test_sigkill_at_random_moments(redis_client: redis.Redis, redis_url: str) -> None:
    rng = random.Random(2024)
    commands = list(random_commands(seed=31, n=4000, max_lots=40))
    chunks = [commands[i : i + 40] for i in range(0, len(commands), 40)]

    def produce() -> None:
        for chunk in chunks:
            submit_all(redis_client, SHARD, chunk)
            time.sleep(0.004)

    producer = threading.Thread(target=produce)
    replies = listen(redis_client, SHARD)
    matcher = _start_matcher(redis_url)
    producer.start()
    kills = 0
    while producer.is_alive() or kills < 5:
        time.sleep(rng.uniform(0.05, 0.4))
        if kills < 6:
            matcher.send_signal(signal.SIGKILL)
            matcher.wait()
            kills += 1
            matcher = _start_matcher(redis_url)
        if not producer.is_alive() and kills >= 5:
            break
    producer.join()
    last_id = all_commands(redis_client, SHARD)[-1][0]
    deadline = time.monotonic() + 60
    while not _all_applied(redis_client, last_id):
        assert matcher.poll() is None, matcher.stderr.read() if matcher.stderr else ""
        assert time.monotonic() < deadline, "matcher did not drain the stream"
        time.sleep(0.05)
    _wait_until_serving(matcher)  # a SIGTERM before Python installs its handler just kills
    matcher.send_signal(signal.SIGTERM)
    assert matcher.wait(timeout=20) == 0
    assert kills >= 5

    logged = [c for _, c in all_commands(redis_client, SHARD)]
    assert logged == commands
    replay, replayed_events = clean_replay(CONFIG, logged)
    events = [e for _, e in all_events(redis_client, SHARD)]
    assert [e.seq for e in events] == list(range(1, replay.seq + 1))
    assert events == replayed_events  # no trade missing, duplicated or different
    assert sum(isinstance(e, TradeExecuted) for e in events) == replay.trade_id > 100
    # Answered, at least once; a command answered before a kill and again after its recovery
    # got the same answer both times.
    assert len(one_answer_each(replies, [i for i, _ in all_commands(redis_client, SHARD)])) == len(
        commands
    )
    replies.close()

    recovered = MatcherService(redis_client, SHARD, CONFIG, MatcherSettings(trim_commands=False))
    recovered.recover()
    assert recovered.engine.state_hash() == replay.state_hash()
