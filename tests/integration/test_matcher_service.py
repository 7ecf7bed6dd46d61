"""The matcher service against a real Redis: batches, replies, snapshots and recovery."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from matcher.service import EXIT_FENCED, MatcherService, RecoveryError
from model import streams, topics, wire
from model.config import load_markets
from model.events import Rejected, TradeExecuted
from model.replies import ReplyListener
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
SHARD = "t"


def _service(client: redis.Redis, **overrides: int) -> MatcherService:
    """A matcher holding the shard's writer lease (the previous one must have released it)."""
    settings = MatcherSettings(
        batch_size=64, snapshot_every_ms=3_600_000, trim_commands=False, **overrides
    )
    service = MatcherService(client, SHARD, CONFIG, settings)
    assert service.take_lease()
    return service


def _drain(service: MatcherService) -> int:
    total = 0
    while done := service.step(block_ms=1):
        total += done
    service.settle()
    return total


@pytest.fixture
def replies(redis_client: redis.Redis) -> Iterator[ReplyListener]:
    """The replies to the commands each test submits (listening from before the first)."""
    with listen(redis_client, SHARD) as listener:
        yield listener


def _check_against_clean_replay(
    client: redis.Redis, service: MatcherService, replies: ReplyListener
) -> None:
    commands = [c for _, c in all_commands(client, SHARD)]
    replay, replayed_events = clean_replay(CONFIG, commands)
    assert service.engine.state_hash() == replay.state_hash()
    events = [e for _, e in all_events(client, SHARD)]
    assert [e.seq for e in events] == list(range(1, replay.seq + 1)), "seqs gapless, once each"
    assert events == replayed_events
    one_answer_each(replies, [i for i, _ in all_commands(client, SHARD)])


def test_a_batch_commits_events_replies_and_acks(
    redis_client: redis.Redis, replies: ReplyListener
) -> None:
    commands = list(random_commands(seed=7, n=400))
    submit_all(redis_client, SHARD, commands)
    service = _service(redis_client)
    service.recover()
    assert _drain(service) == 400
    last = all_commands(redis_client, SHARD)[-1][0]
    assert streams.applied_position(redis_client, SHARD) == last == service.last_cmd_id
    answers = one_answer_each(replies, [i for i, _ in all_commands(redis_client, SHARD)])
    assert len(answers) == 400
    assert any(isinstance(e, TradeExecuted) for r in answers.values() for e in r.events)
    assert any(isinstance(e, Rejected) for r in answers.values() for e in r.events)
    _check_against_clean_replay(redis_client, service, replies)


def test_a_crash_between_read_and_commit_loses_nothing(
    redis_client: redis.Redis, replies: ReplyListener
) -> None:
    submit_all(redis_client, SHARD, random_commands(seed=8, n=300))
    first = _service(redis_client)
    first.recover()
    first.step(block_ms=1)
    first.step(block_ms=1)
    first.settle()  # the second batch's commit lands, as it would before a crash
    unread = streams.read_after(redis_client, topics.commands(SHARD), first.last_cmd_id, 64, 1)
    for _, fields in unread:  # apply a batch, then "die" before its commit
        assert fields is not None
        first.engine.apply(wire.decode_command(fields[wire.COMMAND_FIELD]).command)
    first.lease.release()  # (a dead matcher's lease expires)
    second = _service(redis_client)
    report = second.recover()
    assert report.replayed == 128  # the two committed batches, replayed without re-emitting
    _drain(second)
    _check_against_clean_replay(redis_client, second, replies)


def test_recovery_starts_from_the_snapshot(
    redis_client: redis.Redis, replies: ReplyListener
) -> None:
    submit_all(redis_client, SHARD, random_commands(seed=9, n=500))
    first = _service(redis_client, snapshot_every_commands=200)
    first.recover()
    _drain(first)
    first.lease.release()
    second = _service(redis_client, snapshot_every_commands=200)
    report = second.recover()
    assert report.snapshot_cmd_id != "0-0"
    assert report.replayed < 200
    assert second.engine.state_hash() == first.engine.state_hash()
    _check_against_clean_replay(redis_client, second, replies)


def test_trimming_keeps_every_command_after_the_snapshot(redis_client: redis.Redis) -> None:
    submit_all(redis_client, SHARD, random_commands(seed=10, n=300))
    settings = MatcherSettings(batch_size=50, snapshot_every_commands=100, trim_commands=True)
    service = MatcherService(redis_client, SHARD, CONFIG, settings)
    assert service.take_lease()
    service.recover()
    _drain(service)
    again = MatcherService(redis_client, SHARD, CONFIG, settings)
    again.recover()
    assert again.engine.state_hash() == service.engine.state_hash()
    assert redis_client.xlen(topics.commands(SHARD)) < 300


def test_a_graceful_stop_snapshots(redis_client: redis.Redis) -> None:
    import threading

    submit_all(redis_client, SHARD, random_commands(seed=11, n=100))
    service = _service(redis_client)
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    while redis_client.xlen(topics.events(SHARD)) == 0:
        stop.wait(0.01)
    while service.last_cmd_id != all_commands(redis_client, SHARD)[-1][0]:
        stop.wait(0.01)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    again = _service(redis_client)
    assert again.recover().replayed == 0
    assert again.engine.state_hash() == service.engine.state_hash()


def test_recovery_refuses_a_log_that_disagrees_with_the_events(redis_client: redis.Redis) -> None:
    submit_all(redis_client, SHARD, random_commands(seed=12, n=200))
    service = _service(redis_client)
    service.recover()
    _drain(service)
    first_id = all_commands(redis_client, SHARD)[3][0]
    redis_client.xdel(topics.commands(SHARD), first_id)  # a lost command must not go unnoticed
    with pytest.raises(RecoveryError, match="seq"):
        MatcherService(redis_client, SHARD, CONFIG, MatcherSettings()).recover()


def test_recovery_names_a_forked_journal_and_what_to_do(redis_client: redis.Redis) -> None:
    submit_all(redis_client, SHARD, random_commands(seed=13, n=200))
    service = _service(redis_client)
    service.recover()
    _drain(service)
    service.lease.release()
    # A second writer (a matcher from before writers were fenced) appended its own batch.
    first_entry = redis_client.xrange(topics.events(SHARD), count=1)[0][1]
    redis_client.xadd(topics.events(SHARD), first_entry)
    with pytest.raises(RecoveryError) as refused:
        MatcherService(redis_client, SHARD, CONFIG, MatcherSettings()).recover()
    message = str(refused.value)
    assert "forked" in message
    assert "seq 1 again" in message
    assert "tidewater audit" in message
    assert "docs/operations.md" in message


def test_an_idle_writer_whose_lease_is_taken_stops_at_once_as_fenced(
    redis_client: redis.Redis,
) -> None:
    import threading

    submit_all(redis_client, SHARD, random_commands(seed=14, n=50))
    service = _service(redis_client)
    stop = threading.Event()
    exit_codes: list[int] = []
    thread = threading.Thread(target=lambda: exit_codes.append(service.run(stop)))
    thread.start()
    try:
        while service.last_cmd_id != all_commands(redis_client, SHARD)[-1][0]:
            stop.wait(0.01)
        # Another matcher holds the lease now (as after a pause past the lease's expiry).
        redis_client.set(topics.writer_lease(SHARD), b"elsewhere:1:0123456789ab", px=60_000)
        thread.join(timeout=5)
        assert not thread.is_alive(), "the writer went on (or back to standby) unfenced"
        assert exit_codes == [EXIT_FENCED]
    finally:
        stop.set()
        thread.join(timeout=10)
