"""``model/lease.py`` against a real Redis: one holder at a time, fenced writes, standbys."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
import redis

from model.lease import LeaseLostError, WriterLease, fenced_script, is_fenced_error

KEY = "tw:{lease-test}:writer"
_WRITE = "redis.call('RPUSH', KEYS[2], ARGV[2]) return 1"


def _lease(client: redis.Redis, ttl_ms: int = 2000, renew_ms: int = 100) -> WriterLease:
    return WriterLease(client, KEY, ttl_ms=ttl_ms, renew_ms=renew_ms, poll_ms=20, role="test")


def _token_of(pid: int) -> bytes:
    return f"{socket.gethostname()}:{pid}:feedfacecafe".encode()


def test_one_holder_at_a_time_and_each_holding_has_a_larger_epoch(
    redis_client: redis.Redis,
) -> None:
    first, second = _lease(redis_client), _lease(redis_client)
    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.holder() == first.token.decode()
    first_epoch = first.epoch
    first.release()
    assert redis_client.get(KEY) is None
    assert second.try_acquire()
    assert second.epoch == first_epoch + 1


def test_a_holder_that_lost_the_lease_writes_nothing(redis_client: redis.Redis) -> None:
    stale, fresh = _lease(redis_client, ttl_ms=200), _lease(redis_client)
    write = fenced_script(redis_client, _WRITE)
    assert stale.try_acquire()
    write(keys=[KEY, "written"], args=[stale.token, b"while held"])
    time.sleep(0.3)  # stale never renewed: its lease expires and fresh takes it
    assert fresh.try_acquire()
    with pytest.raises(redis.ResponseError) as refused:
        write(keys=[KEY, "written"], args=[stale.token, b"after losing it"])
    assert is_fenced_error(refused.value)
    assert redis_client.lrange("written", 0, -1) == [b"while held"]
    assert not stale.renew()
    assert stale.lost
    with pytest.raises(LeaseLostError, match="lost its lease"):
        stale.check()


def test_renewal_keeps_the_lease_past_its_time_to_live(redis_client: redis.Redis) -> None:
    holder, standby = _lease(redis_client, ttl_ms=300, renew_ms=50), _lease(redis_client)
    assert holder.try_acquire()
    holder.start_renewing()
    time.sleep(1.0)
    assert not standby.try_acquire()
    holder.check()
    holder.release()
    assert standby.try_acquire()


def test_a_standby_takes_over_at_once_from_a_holder_on_this_host_that_died(
    redis_client: redis.Redis,
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    redis_client.set(KEY, _token_of(dead.pid), px=60_000)
    standby = _lease(redis_client)
    started = time.monotonic()
    assert standby.wait(threading.Event())
    assert time.monotonic() - started < 1.0, "a dead holder's lease is not waited out"
    assert redis_client.get(KEY) == standby.token


def test_a_standby_waits_out_the_lease_of_a_live_holder(redis_client: redis.Redis) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        redis_client.set(KEY, _token_of(alive.pid), px=600)
        standby = _lease(redis_client)
        heard: list[str] = []
        started = time.monotonic()
        assert standby.wait(threading.Event(), on_wait=heard.append)
        assert time.monotonic() - started >= 0.5, "a live holder's lease was cut short"
        assert heard == [_token_of(alive.pid).decode()]
    finally:
        alive.kill()
        alive.wait()


def test_a_lease_never_renewed_counts_as_lost_once_it_expires(redis_client: redis.Redis) -> None:
    lease = _lease(redis_client, ttl_ms=150)
    with pytest.raises(LeaseLostError, match="does not hold"):
        lease.check()
    assert lease.try_acquire()
    lease.check()
    time.sleep(0.2)
    with pytest.raises(LeaseLostError, match="expired"):
        lease.check()
