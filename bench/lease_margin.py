"""How close a healthy, busy matcher comes to losing its writer lease: the figures behind
``LeaseSettings`` (``docs/operations.md``, "One writer per shard").

Run from the repository root::

    .venv/bin/python bench/lease_margin.py            # 300k orders over a 20k-order book
    .venv/bin/python bench/lease_margin.py --quick    # smoke run
    .venv/bin/python bench/lease_margin.py --hogs 2   # with two busy processes competing

A throwaway Redis (append-only file, ``appendfsync always``) and a real matcher process with
the default lease settings; a 20,000-order resting book, then ``--orders`` orders queued at once
so the matcher drains them as fast as it can, snapshotting every 50,000 commands (the default)
on the way. Meanwhile this script reads the lease's remaining time to live (``PTTL``) every
millisecond: ``ttl - PTTL`` is how long ago the holder last renewed. The figure that matters is
its maximum, the longest a busy matcher went without renewing: the lease's ttl must exceed it
with room to spare, or a healthy matcher would be fenced. Redis's own stalls (its latency
monitor: ``aof-fsync-always``, ``command``, ...) are printed beside it: a renewal waits them out
too.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import threading
import time

import redis

from bench._common import Service, percentile, temp_workdir
from bench.order_path import (
    BENCH_EDGE,
    BENCH_NODE,
    REST_USERS,
    SYNTHETIC_USER_BASE,
    deposits,
    random_orders,
    resting_orders,
    submit,
    submit_encoded,
    wait_drained,
)
from infra.embedded import EmbeddedRedis
from model import topics, wire
from model.ids import OrderIdFactory
from model.settings import LeaseSettings

SHARD = "0"


def _hog(stop_at: float) -> None:
    """Burn a core until ``stop_at`` (a competing process on this 2-core machine)."""
    while time.time() < stop_at:
        pass


def _sample(client: redis.Redis, key: str, stop: threading.Event, out: list[int]) -> None:
    """Record ``PTTL`` of the lease every millisecond until ``stop``."""
    while not stop.is_set():
        pttl = client.pttl(key)
        if isinstance(pttl, int) and pttl >= 0:
            out.append(pttl)
        time.sleep(0.001)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--resting", type=int, default=20_000)
    parser.add_argument("--hogs", type=int, default=0, help="busy processes competing for CPU")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    if args.quick:
        args.orders, args.resting = 30_000, 2_000
    lease = LeaseSettings()
    rng = random.Random(args.seed)
    with temp_workdir() as workdir:
        server = EmbeddedRedis(workdir / "redis")
        url = server.start()
        client = redis.Redis.from_url(url)
        matcher = Service("matcher", [], {"REDIS_URL": url}, workdir / "matcher.log")
        hogs: list[multiprocessing.Process] = []
        try:
            matcher.start()
            while not client.exists(topics.writer_lease(SHARD)):
                if not matcher.alive():
                    raise RuntimeError(matcher.tail())
                time.sleep(0.05)
            users = list(range(1, 1001))
            rest_users = [SYNTHETIC_USER_BASE + i for i in range(REST_USERS)]
            ids = OrderIdFactory(BENCH_NODE)
            wait_drained(
                client, SHARD, submit(client, SHARD, deposits(users + rest_users)), matcher
            )
            wait_drained(
                client,
                SHARD,
                submit(client, SHARD, resting_orders(args.resting, ids, rng)),
                matcher,
            )
            orders = random_orders(users, args.orders, ids, rng)
            encoded = [
                wire.encode(wire.CommandEnvelope(request_id=str(i), reply_to=BENCH_EDGE, command=c))
                for i, c in enumerate(orders)
            ]
            client.config_set("latency-monitor-threshold", 1)  # Redis's own stalls, >= 1 ms
            client.execute_command("LATENCY", "RESET")
            samples: list[int] = []
            stop = threading.Event()
            sampler_client = redis.Redis.from_url(url)
            sampler = threading.Thread(
                target=_sample, args=(sampler_client, topics.writer_lease(SHARD), stop, samples)
            )
            sampler.start()
            stop_at = time.time() + 600
            hogs = [multiprocessing.Process(target=_hog, args=(stop_at,)) for _ in range(args.hogs)]
            for hog in hogs:
                hog.start()
            started = time.perf_counter()
            last = submit_encoded(client, SHARD, encoded)
            wait_drained(client, SHARD, last, matcher, timeout=900)
            seconds = time.perf_counter() - started
            stop.set()
            sampler.join()
            since_renewal = sorted(lease.ttl_ms - p for p in samples)
            print(f"lease ttl {lease.ttl_ms} ms, renewed every {lease.renew_ms} ms")
            print(
                f"{args.orders} orders over a {args.resting}-order book in {seconds:.1f} s "
                f"({args.orders / seconds:,.0f}/s), {args.hogs} competing busy process(es)"
            )
            print(f"samples of the lease's age: {len(samples)}")
            for p in (50, 99, 99.9):
                print(f"  age since renewal p{p}: {percentile(since_renewal, p)} ms")
            print(f"  age since renewal max: {since_renewal[-1]} ms")
            print(
                f"  margin left at worst: {lease.ttl_ms - since_renewal[-1]} ms of {lease.ttl_ms}"
            )
            for event, _, _, worst in client.execute_command("LATENCY", "LATEST"):
                name = event.decode() if isinstance(event, bytes) else str(event)
                print(f"  Redis stall {name}: worst {worst} ms")
            print(f"matcher still the writer: {matcher.alive()}")
        finally:
            for hog in hogs:
                hog.terminate()
            matcher.stop()
            client.close()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
