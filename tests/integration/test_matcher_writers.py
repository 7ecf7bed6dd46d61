"""One writer per shard, with real matcher processes: several started at once on one shard under
load leave one gapless journal equal to a clean replay; standbys take over from a SIGKILLed
writer within a bounded time; a writer paused past its lease writes nothing more and exits."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from matcher import BUILD
from matcher.service import EXIT_FENCED
from model import streams, topics
from model.config import load_markets
from model.replies import ReplyListener
from model.settings import LeaseSettings
from tests.support.audit import audit_shard
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
SHARD = "w"
ROOT = Path(__file__).resolve().parents[2]
LEASE = LeaseSettings()  # the defaults, as deployed
#: A standby takes over from a live holder that stopped renewing within one lease time to live
#: plus one poll (plus process slack) ...
TAKEOVER_BOUND_S = (LEASE.ttl_ms + LEASE.poll_ms) / 1000 + 1.5
#: ... and from a holder on this host that died (SIGKILL) within one poll: it sees the pid gone.
DEAD_TAKEOVER_BOUND_S = LEASE.poll_ms / 1000 + 1.0


@dataclass
class Matcher:
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _start(redis_url: str, log: Path) -> Matcher:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "TIDEWATER_SHARDS": f"{SHARD}=" + ",".join(sorted(CONFIG.markets)),
        "TIDEWATER_MATCHER_BATCH": "32",
        "TIDEWATER_SNAPSHOT_EVERY": "300",
        "TIDEWATER_TRIM_COMMANDS": "0",  # keep the whole log for the clean replay
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "matcher", "--shard", SHARD],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Matcher(proc, log)


def _writer_pid(client: redis.Redis) -> int | None:
    """The pid written in the lease holder's token (``host:pid:nonce``), or ``None``."""
    raw = client.get(topics.writer_lease(SHARD))
    if raw is None:
        return None
    return int(bytes(raw).decode().rsplit(":", 2)[1])


def _wait(condition: object, timeout: float, what: str) -> float:
    """Poll ``condition()`` every 5 ms until true; return the seconds it took."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.005)
    return time.monotonic() - started


@dataclass
class Load:
    """Seeded commands submitted in small chunks from a thread, as edges would, until stopped."""

    client: redis.Redis
    seed: int
    chunk: int = 20
    pause: float = 0.01
    stop: threading.Event = field(default_factory=threading.Event)
    submitted: int = 0

    def start(self) -> threading.Thread:
        commands = iter(random_commands(seed=self.seed, n=10**6, max_lots=40))

        def produce() -> None:
            while not self.stop.is_set():
                chunk = list(itertools.islice(commands, self.chunk))
                submit_all(self.client, SHARD, chunk)
                self.submitted += len(chunk)
                time.sleep(self.pause)

        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        return thread


def _journal_epoch(client: redis.Redis) -> int:
    """The writer epoch of the newest events entry (0: none yet)."""
    epochs = streams.writer_epochs(client, SHARD)
    return epochs[-1][1] if epochs else 0


def _lease_epoch(client: redis.Redis) -> int:
    return int(client.get(topics.lease_epoch(topics.writer_lease(SHARD))) or 0)


def _check_one_journal(client: redis.Redis, replies: ReplyListener) -> set[int]:
    """Everything the shard's writers left is what one matcher that never stopped would have
    written; return the writer epochs seen on the journal."""
    logged = all_commands(client, SHARD)
    last = logged[-1][0]
    _wait(lambda: streams.applied_position(client, SHARD) == last, 60, "the writer to catch up")
    replay, replayed_events = clean_replay(CONFIG, [c for _, c in logged])
    events = [e for _, e in all_events(client, SHARD)]
    assert [e.seq for e in events] == list(range(1, replay.seq + 1)), "seqs gapless, once each"
    assert events == replayed_events
    breaks = streams.seq_breaks(all_events(client, SHARD))
    assert breaks.forks == []
    assert breaks.gaps == []
    epochs = streams.writer_epochs(client, SHARD)
    assert streams.epoch_regressions(epochs) == [], "a fenced-out writer's batch got through"
    # Every command answered; any answered twice (by a writer fenced out after it answered and
    # again by its successor) got the same answer both times.
    assert len(one_answer_each(replies, [i for i, _ in logged])) == len(logged)
    audit_shard(client, SHARD, CONFIG)  # the live state equals a clean replay, books sound
    return {e for _, e in epochs}


def _stop_all(matchers: list[Matcher]) -> None:
    for matcher in matchers:
        if matcher.proc.poll() is None:
            matcher.proc.send_signal(signal.SIGKILL)
        matcher.proc.wait()


@pytest.fixture
def replies(redis_client: redis.Redis) -> Iterator[ReplyListener]:
    """The replies to the load's commands (listening from before the first)."""
    with listen(redis_client, SHARD) as listener:
        yield listener


@pytest.mark.parametrize("count", [2, 5])
def test_matchers_started_together_keep_one_writer_and_one_journal(
    count: int,
    redis_client: redis.Redis,
    redis_url: str,
    tmp_path: Path,
    replies: ReplyListener,
) -> None:
    kills = count - 1  # kill writers until one matcher is left
    matchers = [_start(redis_url, tmp_path / f"matcher-{i}.log") for i in range(count)]
    try:
        _wait(lambda: _writer_pid(redis_client) is not None, 30, "a writer")
        _wait(
            lambda: sum("standby" in m.text() for m in matchers) == count - 1,
            30,
            "every other matcher to say it stands by",
        )
        load = Load(redis_client, seed=60 + count)
        producer = load.start()
        holders: list[int | None] = []
        takeovers: list[float] = []
        for _ in range(kills):
            # The writer works under load a while: it has committed batches of its own.
            _wait(lambda: _journal_epoch(redis_client) == _lease_epoch(redis_client), 30, "work")
            time.sleep(0.2)
            writer = _writer_pid(redis_client)
            assert writer is not None
            victim = next(m for m in matchers if m.pid == writer)
            others = [m for m in matchers if m is not victim and m.proc.poll() is None]
            assert all(m.proc.poll() is None for m in others), "standbys keep waiting"
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            takeovers.append(
                _wait(
                    lambda w=writer: _writer_pid(redis_client) not in (None, w),
                    DEAD_TAKEOVER_BOUND_S,
                    "a standby to take over",
                )
            )
            holders.append(_writer_pid(redis_client))
            assert holders[-1] in {m.pid for m in others}
        _wait(lambda: _journal_epoch(redis_client) == _lease_epoch(redis_client), 30, "work")
        load.stop.set()
        producer.join(timeout=30)
        epochs = _check_one_journal(redis_client, replies)
        assert len(epochs) == kills + 1, f"one epoch per writer, got {sorted(epochs)}"
        survivor = next(m for m in matchers if m.proc.poll() is None)
        assert [m for m in matchers if m.proc.poll() is None] == [survivor]
        survivor.proc.send_signal(signal.SIGTERM)
        assert survivor.proc.wait(timeout=20) == 0
        assert redis_client.get(topics.writer_lease(SHARD)) is None, "a clean stop releases"
        print(f"\n[{count} matchers] takeover after SIGKILL: {[round(t, 3) for t in takeovers]} s")
    finally:
        _stop_all(matchers)


def test_a_writer_paused_past_its_lease_writes_nothing_and_exits(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path, replies: ReplyListener
) -> None:
    first = _start(redis_url, tmp_path / "first.log")
    matchers = [first]
    try:
        _wait(lambda: _writer_pid(redis_client) == first.pid, 30, "the first writer")
        second = _start(redis_url, tmp_path / "second.log")
        matchers.append(second)
        _wait(lambda: "standby" in second.text(), 30, "the second matcher to stand by")
        # Each says which engine it runs: this process's (same sources, same setting).
        assert f"engine build: {BUILD}" in first.text()
        load = Load(redis_client, seed=77)
        producer = load.start()
        time.sleep(0.3)
        first.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        _wait(lambda: _writer_pid(redis_client) == second.pid, TAKEOVER_BOUND_S, "the takeover")
        takeover = time.monotonic() - stopped_at
        # The paused writer had renewed at most a renewal gap before the pause: its lease ran
        # out well after the pause, not at once.
        assert takeover >= LEASE.ttl_ms / 2000, "the lease did not outlive the pause"
        second_epoch = _lease_epoch(redis_client)
        # The new writer commits while the old one sleeps.
        _wait(lambda: _journal_epoch(redis_client) == second_epoch, 30, "the new writer's work")
        tail = streams.last_entry(redis_client, topics.events(SHARD))
        first.proc.send_signal(signal.SIGCONT)
        try:
            assert first.proc.wait(timeout=10) == EXIT_FENCED
        except subprocess.TimeoutExpired:
            pytest.fail(f"the old writer did not exit:\n{first.text()[-3000:]}")
        assert "fenced out" in first.text()
        time.sleep(0.3)  # load goes on after the old writer woke and left
        load.stop.set()
        producer.join(timeout=30)
        assert tail is not None
        after = [
            epoch
            for entry, epoch in streams.writer_epochs(redis_client, SHARD)
            if streams.id_tuple(entry) > streams.id_tuple(tail[0])
        ]
        assert after, "the new writer went on committing"
        assert set(after) == {second_epoch}, "only the new writer wrote after the old one woke"
        _check_one_journal(redis_client, replies)
        assert second.proc.poll() is None
        print(f"\n[SIGSTOP] takeover {takeover:.3f} s after the writer was paused")
    finally:
        for matcher in matchers:
            if matcher.proc.poll() is None:
                matcher.proc.send_signal(signal.SIGCONT)
        _stop_all(matchers)
