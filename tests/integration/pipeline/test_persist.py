"""The persist agent on real Redis and PostgreSQL: rows equal what the events say, a batch
delivered twice changes nothing, and an agent killed mid-batch loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from typing import Any

import msgspec
import psycopg
import redis
import redis.asyncio as aioredis

from infra.migrate import migrate
from matcher.engine import Engine
from matcher.order_index import order_state
from matcher.service import MatcherService
from model import topics
from model.config import load_markets
from model.events import StateEvent, TradeExecuted
from model.ledger import LedgerReplica
from model.settings import MatcherSettings
from pipeline.app import App
from pipeline.fence import Fence, persist_role
from pipeline.persist import PersistStore, UserPublisher, build_app, run_shard
from pipeline.source import RedisSource
from pipeline.stream import Stream
from tests.integration.pipeline.writers import holder_pid, holding, wait_until
from tests.support.commands_gen import random_commands
from tests.support.streams import all_events, submit_all

CONFIG = load_markets()
SHARD = "0"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def _produce(client: redis.Redis, seed: int, n: int, *, pace: float = 0.0) -> Engine:
    """Run ``n`` random commands through a real matcher, 100 at a time; return its engine."""
    service = MatcherService(client, SHARD, CONFIG, MatcherSettings(batch_size=50))
    assert service.take_lease()
    service.recover()
    commands = list(random_commands(seed=seed, n=n))
    for start in range(0, n, 100):
        submit_all(client, SHARD, commands[start : start + 100])
        while service.step(block_ms=1):
            pass
        service.settle()
        time.sleep(pace)
    service.lease.release()
    return service.engine


def _lag(client: redis.Redis) -> int:
    groups = client.xinfo_groups(topics.events(SHARD))
    group = next((g for g in groups if g["name"] == topics.PERSIST_GROUP.encode()), None)
    if group is None:
        return -1
    last = client.xrevrange(topics.events(SHARD), count=1)[0][0]
    return int(group["pending"]) + (0 if group["last-delivered-id"] == last else 1)


async def _persist_until_caught_up(redis_url: str, db_url: str) -> None:
    """Run the shard's persist agent (its lease and all) until it has stored every event."""
    client = aioredis.Redis.from_url(redis_url)
    sync = redis.Redis.from_url(redis_url)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_shard(client, sync, db_url, CONFIG, SHARD, stop, batch=64))
    deadline = time.monotonic() + 60
    while _lag(sync) != 0:
        assert time.monotonic() < deadline, "persist agent did not catch up"
        assert not runner.done(), runner.exception()
        await asyncio.sleep(0.05)
    stop.set()
    assert await runner == 0
    await client.aclose()
    sync.close()


def _check_tables(db_url: str, events: list[StateEvent], engine: Engine) -> None:
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT trade_id, price, quantity, maker_order_id, taker_order_id FROM trades "
            "ORDER BY trade_id"
        ).fetchall()
        assert rows == [
            (t.trade_id, t.price, t.quantity, t.maker_order_id, t.taker_order_id) for t in trades
        ]
        replica = LedgerReplica(CONFIG)
        for event in events:
            replica.apply(event)
        sums = conn.execute(
            "SELECT user_id, asset, sum(available), sum(locked) FROM ledger GROUP BY 1, 2"
        ).fetchall()
        stored = {(u, a): (int(f), int(h)) for u, a, f, h in sums if f or h}
        assert stored == replica.nonzero()
        orders: dict[int, tuple[Any, ...]] = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT order_id, status, executed_qty, executed_quote, remaining FROM orders"
            )
        }
    for order_id, order in engine.orders.items():
        view = order_state(order)  # an open order as the engine reports it (new or partial)
        assert orders[order_id] == (
            view.status.value,
            view.executed_quantity,
            view.executed_quote,
            view.remaining,
        ), order_id
    for order_id, state in engine.closed.items():
        assert orders[order_id] == (
            state.status.value,
            state.executed_quantity,
            state.executed_quote,
            state.remaining,
        ), order_id
    assert set(orders) == set(engine.orders) | set(engine.closed)


def test_rows_equal_the_events_and_a_replay_changes_nothing(
    redis_client: redis.Redis, redis_url: str, db_url: str
) -> None:
    engine = _produce(redis_client, seed=41, n=1500)
    events = [e for _, e in all_events(redis_client, SHARD)]
    assert sum(isinstance(e, TradeExecuted) for e in events) > 50
    asyncio.run(_persist_until_caught_up(redis_url, db_url))
    _check_tables(db_url, events, engine)
    # Deliver everything again: idempotent writes leave the tables as they are.
    redis_client.xgroup_setid(topics.events(SHARD), topics.PERSIST_GROUP, "0")
    asyncio.run(_persist_until_caught_up(redis_url, db_url))
    _check_tables(db_url, events, engine)


def test_a_crashing_agent_is_restarted_and_its_entries_come_again(
    redis_client: redis.Redis, redis_url: str
) -> None:
    redis_client.xadd("t", {b"v": b"1"})
    redis_client.xadd("t", {b"v": b"2"})
    seen: list[bytes] = []

    async def scenario() -> App:
        app = App("test", aioredis.Redis.from_url(redis_url))

        @app.agent(app.topic("t", lambda f: f[b"v"]), group="g")
        async def flaky(stream: Stream[bytes]) -> None:
            async for value in stream:
                seen.append(value)
                if len(seen) == 1:
                    raise RuntimeError("first delivery fails")

        stop = asyncio.Event()
        runner = asyncio.create_task(app.run(stop))
        while len(seen) < 3:
            await asyncio.sleep(0.05)
        stop.set()
        await runner
        return app

    app = asyncio.run(scenario())
    assert seen[:3] == [b"1", b"1", b"2"]  # the failed value came again after the restart
    assert app.agents[0].restarts == 1


def test_an_event_twice_in_one_batch_counts_once(redis_client: redis.Redis, db_url: str) -> None:
    engine = _produce(redis_client, seed=43, n=400)
    events = [e for _, e in all_events(redis_client, SHARD)]
    assert sum(isinstance(e, TradeExecuted) for e in events) > 10

    async def write_each_twice(fence: Fence) -> None:
        store = PersistStore(db_url, CONFIG, SHARD, fence)
        await store.write([e for e in events for _ in range(2)])
        await store.close()

    with holding(redis_client, topics.persist_lease(SHARD), persist_role(SHARD), db_url) as held:
        asyncio.run(write_each_twice(held[1]))
    _check_tables(db_url, events, engine)


def test_each_private_message_describes_its_order_as_it_stood_then(
    redis_client: redis.Redis, db_url: str
) -> None:
    """Order messages and fills carry their order as it stood just after them: executed
    quantities grow by each fill, in event order, across batches of any size, and each order's
    last description is the engine's final view of it."""
    engine = _produce(redis_client, seed=44, n=600)
    events = [e for _, e in all_events(redis_client, SHARD)]
    assert sum(isinstance(e, TradeExecuted) for e in events) > 10
    messages: list[dict[str, Any]] = []

    async def write_in_batches(fence: Fence) -> None:
        store = PersistStore(db_url, CONFIG, SHARD, fence)
        for start in range(0, len(events), 37):
            batch = await store.write(events[start : start + 37])
            await store.describe(batch, set(batch.messages))
            messages.extend(m for user in sorted(batch.messages) for m in batch.messages[user])
        await store.close()

    with holding(redis_client, topics.persist_lease(SHARD), persist_role(SHARD), db_url) as held:
        asyncio.run(write_in_batches(held[1]))
    last: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message["e"] == "balance":
            continue
        order = msgspec.to_builtins(message["order"])
        order_id = order["orderId"]
        executed = Decimal(order["executedQty"])
        before = Decimal(last[order_id]["executedQty"]) if order_id in last else 0
        if message["e"] == "fill":
            assert executed == before + Decimal(message["quantity"]), message
        else:
            assert executed == before, message
            assert message["change"] in ("accepted", "rested", "closed")
        last[order_id] = order
    assert len(last) == len(engine.orders) + len(engine.closed) > 100
    final = {**{i: order_state(o) for i, o in engine.orders.items()}, **engine.closed}
    for order_id, state in final.items():
        spec = CONFIG.markets[state.market]
        shown = last[str(order_id)]
        assert (shown["status"], shown["executedQty"]) == (
            state.status.value, spec.format_quantity(state.executed_quantity),
        ), order_id  # fmt: skip


def test_entries_pending_at_a_restart_come_again_once_each(
    redis_client: redis.Redis, redis_url: str
) -> None:
    for n in range(5):
        redis_client.xadd("pending", {b"v": str(n).encode()})

    async def scenario() -> tuple[list[str], list[str]]:
        client = aioredis.Redis.from_url(redis_url)
        delivered = [e for e, _ in await RedisSource(client, "pending", "g", "c1").fetch(10, 100)]
        # The consumer died without acking; the same consumer comes back and reads in twos.
        again = RedisSource(client, "pending", "g", "c1")
        seen = [e for _ in range(4) for e, _ in await again.fetch(2, 50)]
        await client.aclose()
        return delivered, seen

    delivered, seen = asyncio.run(scenario())
    assert len(delivered) == 5
    assert seen == delivered


def test_an_agent_that_swallows_a_cancellation_still_stops(redis_url: str) -> None:
    """A cancellation lost inside a client library must not keep the runtime from stopping."""
    swallowed: list[int] = []

    async def scenario() -> None:
        app = App("test", aioredis.Redis.from_url(redis_url))

        @app.agent(app.topic("stubborn", lambda f: f[b"v"]), group="g")
        async def stubborn(stream: Stream[bytes]) -> None:
            while True:
                try:
                    async for _ in stream:
                        pass
                except asyncio.CancelledError:
                    swallowed.append(1)
                    if len(swallowed) > 1:
                        raise  # only the first is lost, as with a cancel that became a timeout

        stop = asyncio.Event()
        runner = asyncio.create_task(app.run(stop))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(runner, 10)
        await app.client.aclose()

    asyncio.run(scenario())
    assert len(swallowed) == 2


def test_agent_killed_mid_batch_loses_and_duplicates_nothing(
    redis_client: redis.Redis, redis_url: str, db_url: str
) -> None:
    produced: list[Engine] = []
    producer = threading.Thread(
        target=lambda: produced.append(_produce(redis_client, seed=42, n=6000, pace=0.05))
    )
    producer.start()  # events keep coming while the agents are killed
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": db_url}
    rng = random.Random(5)
    for _ in range(5):
        agent = subprocess.Popen(
            [sys.executable, "-m", "pipeline"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # Killed while it writes: once it holds the shard's lease (the last one's is taken
        # over from its dead pid), some time into its work.
        wait_until(
            lambda p=agent.pid: holder_pid(redis_client, topics.persist_lease(SHARD)) == p,  # type: ignore[misc]
            "the agent holds the lease",
        )
        time.sleep(rng.uniform(0.3, 0.8))
        assert agent.poll() is None, "the agent died by itself"
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    with psycopg.connect(db_url) as conn:
        written = conn.execute("SELECT count(*) FROM ledger").fetchone()
    assert written is not None
    assert written[0] > 0, "the killed agents wrote nothing: the test would prove nothing"
    producer.join()
    engine = produced[0]
    events = [e for _, e in all_events(redis_client, SHARD)]
    asyncio.run(_persist_until_caught_up(redis_url, db_url))
    _check_tables(db_url, events, engine)


def test_postgres_down_then_back_loses_nothing(
    redis_client: redis.Redis, redis_url: str, tmp_path: Any
) -> None:
    from infra.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    try:
        migrate(url)
        _produce(redis_client, seed=43, n=300)
        engines: list[Engine] = []

        async def scenario(fence: Fence) -> None:
            client = aioredis.Redis.from_url(redis_url)
            store = PersistStore(url, CONFIG, SHARD, fence)
            stop = asyncio.Event()
            app = build_app(client, store, SHARD, batch=16)
            runner = asyncio.create_task(app.run(stop))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(server.stop)  # the database goes away mid-stream
            engines.append(await asyncio.to_thread(_produce, redis_client, 44, 600))
            await asyncio.sleep(1.0)
            assert not runner.done()
            await asyncio.to_thread(server.start)  # and comes back on the same data
            sync = redis.Redis.from_url(redis_url)
            deadline = time.monotonic() + 60
            while _lag(sync) != 0:
                assert time.monotonic() < deadline, "the agent did not catch up"
                await asyncio.sleep(0.1)
            stop.set()
            await runner
            await store.close()
            await client.aclose()
            sync.close()
            assert app.agents[0].restarts >= 1

        lease_key, role = topics.persist_lease(SHARD), persist_role(SHARD)
        with holding(redis_client, lease_key, role, url) as held:
            asyncio.run(scenario(held[1]))
        events = [e for _, e in all_events(redis_client, SHARD)]
        _check_tables(server.url or url, events, engines[0])
    finally:
        server.stop()


def test_private_updates_go_only_to_users_someone_follows(
    redis_client: redis.Redis, redis_url: str
) -> None:
    """The agent describes and publishes a user's updates only while some connection
    subscribes to the user's channel (asked after the commit, so a later subscriber's snapshot
    already holds the batch)."""
    listener = redis_client.pubsub()
    listener.subscribe(topics.user_channel(5))
    assert listener.get_message(timeout=5) is not None  # the subscription confirmation

    async def ask() -> set[int]:
        client = aioredis.Redis.from_url(redis_url)
        with holding(redis_client, topics.persist_lease(SHARD), persist_role(SHARD), None) as held:
            followed = await UserPublisher(client, held[1]).listening([5, 6, 7])
        await client.aclose()
        return followed

    assert asyncio.run(ask()) == {5}
    listener.unsubscribe()
    listener.close()
