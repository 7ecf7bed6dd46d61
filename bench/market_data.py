"""Benchmark market data: the Bytewax flow, WebSocket fan-out and the persist agent.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/market_data.py                 # full run, ~5 minutes
    PYTHONPATH=. .venv/bin/python bench/market_data.py --quick         # smoke run, ~1 minute
    PYTHONPATH=. .venv/bin/python bench/market_data.py --profile DIR   # + py-spy of each phase

It prints the figures of each phase, a table of targets, and last ONE JSON line of every figure.

Set-up
------
A throwaway Redis (``appendfsync always``) and PostgreSQL from ``infra.embedded``, migrated; a
second database (``tidewater_persist``, migrated too) for the persist agent, so that its phase
starts from empty tables (the flow writes candles only; the agent alone writes trades).
Services are the deployment's ``python -m matcher``, ``python -m pipeline.flows``
(one worker, fresh recovery dir), ``python -m edge --port N`` and ``python -m pipeline``, child
processes in their own session, stopped at the end, also on Ctrl-C, SIGTERM or an error.

Phases
------
1. Flow throughput. ``--commands`` limit orders (1,000 funded accounts, prices within 2 ticks of
   100.00, about half trade) go on the command stream with event times spread 1 ms apart (so
   1m/5m bars close on the way) and the matcher drains them. The events are read back and counted
   (state events; trades; the book changes that give the final ``lastUpdateId``). Then the flow
   starts on that backlog. Start = the source partition is built (its fresh-start ``DEL`` of
   ``md:depth:TATA_INR``, seen as a keyspace notification; the hash is pre-created for that);
   end = the hash's ``lastUpdateId`` is the final one AND the flow's 1m candles in PostgreSQL
   count every trade (the persist agent, not the flow, writes the ``trades`` table).
   events/s = state events / (end - start); with the process start-up too on its own.
2. Trade -> published candle. The book is emptied (``CancelAll``), then ``--candle-rate`` pairs
   per second (a sell at 100.00 that rests, a buy from another account that takes it: one trade)
   go on the command stream with ``ts`` = now, the matcher and flow running. A Redis subscriber
   on ``md:kline.1m@TATA_INR`` takes each in-progress push (``x`` false): every trade whose time
   is at or before the push's ``E`` and not yet seen is covered by it; delay = arrival - trade ts.
   The same for ``md:trades@TATA_INR`` (unthrottled) for comparison. In-progress klines are
   throttled (``TIDEWATER_FLOW_THROTTLE_MS``, 250 ms) by design: that is most of the delay.
3. WebSocket fan-out. Edge started; for N in ``--clients`` (10, 100, 1000): N connections from
   this one process subscribe to ``trades@TATA_INR`` and ``depth@TATA_INR``; the pairs of (2) at
   ``--ws-rate`` orders/s for ``--ws-seconds`` (after 2 s unmeasured). Age of a message = arrival
   (wall clock, ms) - its payload ``E`` (the matcher's input time of the event, set by this
   script to now when the command is queued). deliveries/s = messages received by all clients
   in the window / window. The same ages are taken by one plain Redis subscriber, to split the
   age into "before the edge" and "edge + client". Disconnects = connections the server closed.
   The client is a minimal WebSocket client on uvloop protocols (handshake, masked text frames
   out, unmasked frames in, pong to ping), parsing only ``"E":`` from each message: the
   ``websockets`` library costs tens of microseconds per message in this same process, which at
   1,000 clients would make the client the bottleneck on a 2-core machine.
4. Persist. Matcher, flow and edge stopped; ``python -m pipeline`` on the whole event stream
   (phases 1-3) into the empty second database. Start = the group ``persist`` first delivers,
   end = it has delivered the stream's last entry and nothing is pending. rows = rows in
   ``trades`` + ``orders`` + ``ledger`` afterwards (inserts), plus the order UPDATEs (two per
   trade, one per OrderRested/OrderClosed) as "row writes"; the target is checked on row writes.

CPU of each process is read from ``/proc`` and given in % of ONE core (see bench/_common.py).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import resource
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psycopg
import redis
import redis.asyncio as aioredis
import uvloop

from bench._common import (
    ROOT,
    CpuMeter,
    JsonResult,
    Service,
    percentile,
    process_tree,
    py_spy,
    raise_interrupted,
    redis_pid,
    server_versions,
    targeted,
    temp_workdir,
    verdict,
)
from infra.embedded import EmbeddedServices, embedded_services, free_port
from infra.migrate import migrate
from model import streams, topics, wire
from model.commands import CancelAll, Command, Deposit, PlaceOrder
from model.enums import OrderType, Side
from model.events import OrderClosed, OrderRested, StateEvent, TradeExecuted
from model.ids import OrderIdFactory, UserId
from model.settings import get_settings
from pipeline.flows.depth import DepthBook

MARKET = "TATA_INR"
MID = 10_000  # ticks: 100.00 INR
SPREAD = 2
LOAD_USERS = 1_000
PAIR_USERS = 20  # accounts of the paced pairs (phases 2 and 3), ids from 10**9
PAIR_BASE = 10**9
BENCH_NODE = 1022
PERSIST_DB = "tidewater_persist"

# The targets live in bench/_common.FIGURES, the one table every bench and the report read.

SERVICE_ENV = {
    "TIDEWATER_RATE_LIMIT": "0",
    "TIDEWATER_IP_RATE_LIMIT": "0",
    "TIDEWATER_SIGNIN_LIMIT": "0",
}


def _now_us() -> int:
    return time.time_ns() // 1000


def _pct(values: Sequence[float], p: float) -> float:
    return float(percentile(sorted(values), p)) if values else 0.0  # type: ignore[arg-type]


class TreeCpuMeter(CpuMeter):
    """A CpuMeter that also counts the processes a tree gained during the reading (PostgreSQL
    forks a backend for every connection opened after ``start``)."""

    def stop(self) -> dict[str, float]:
        for name, (pid, tree) in self._roots().items():
            if pid is not None and tree and name in self._pids:
                self._pids[name] = sorted(set(self._pids[name]) | set(process_tree(pid)))
        return super().stop()


# --- commands ----------------------------------------------------------------------------------


def _encode(commands: Sequence[Command], tag: str) -> list[bytes]:
    return [
        wire.encode(wire.CommandEnvelope(request_id=f"{tag}{i}", reply_to="", command=c))
        for i, c in enumerate(commands)
    ]


def _xadd_all(client: redis.Redis, shard: str, encoded: Sequence[bytes]) -> str:
    key = topics.commands(shard)
    last = ""
    for at in range(0, len(encoded), 5000):
        pipe = client.pipeline(transaction=False)
        for payload in encoded[at : at + 5000]:
            pipe.xadd(key, {wire.COMMAND_FIELD: payload})
        last = cast(list[bytes], pipe.execute())[-1].decode()
    return last


def deposits(user_ids: Sequence[int], ts: int) -> list[Command]:
    out: list[Command] = []
    for uid in user_ids:
        out.append(Deposit(user_id=UserId(uid), ts=ts, asset="INR", amount=10**13))
        out.append(Deposit(user_id=UserId(uid), ts=ts, asset="TATA", amount=10**9))
    return out


def load_orders(count: int, ids: OrderIdFactory, rng: random.Random, ts0: int) -> list[Command]:
    """Limit orders around the mid from random accounts, 1 ms of event time apart."""
    out: list[Command] = []
    for i in range(count):
        buy = rng.random() < 0.5
        offset = rng.randint(-SPREAD, SPREAD)
        out.append(
            PlaceOrder(
                user_id=UserId(rng.randint(1, LOAD_USERS)),
                ts=ts0 + i * 1000,
                order_id=ids.next(),
                market=MARKET,
                side=Side.BUY if buy else Side.SELL,
                type=OrderType.LIMIT,
                price=MID + offset if buy else MID - offset,
                quantity=rng.randint(1, 10),
            )
        )
    return out


class PairMaker:
    """A resting sell at the mid and a buy from another account that takes it: one trade."""

    def __init__(self, shard: str) -> None:
        self.key = topics.commands(shard)
        self.ids = OrderIdFactory(BENCH_NODE + 1)
        self.n = 0

    def fields(self, ts: int) -> list[dict[bytes, bytes]]:
        seller = PAIR_BASE + (2 * self.n) % PAIR_USERS
        buyer = PAIR_BASE + (2 * self.n + 1) % PAIR_USERS
        self.n += 1
        out = []
        for uid, side in ((seller, Side.SELL), (buyer, Side.BUY)):
            command = PlaceOrder(
                user_id=UserId(uid),
                ts=ts,
                order_id=self.ids.next(),
                market=MARKET,
                side=side,
                type=OrderType.LIMIT,
                price=MID,
                quantity=1,
            )
            envelope = wire.CommandEnvelope(request_id=f"p{self.n}", reply_to="", command=command)
            out.append({wire.COMMAND_FIELD: wire.encode(envelope)})
        return out


async def paced_pairs(
    client: aioredis.Redis, maker: PairMaker, pairs_per_s: float, seconds: float, sent: list[int]
) -> None:
    """Queue pairs at a steady pace (due times, no drift); their ts go to ``sent``."""
    start = time.perf_counter()
    count = int(pairs_per_s * seconds)
    for i in range(count):
        due = start + i / pairs_per_s
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        ts = _now_us()
        pipe = client.pipeline(transaction=False)
        for fields in maker.fields(ts):
            pipe.xadd(maker.key, fields)  # type: ignore[arg-type]
        await pipe.execute()
        sent.append(ts)


# --- stream helpers ----------------------------------------------------------------------------


def group_state(client: redis.Redis, key: str, group: str) -> tuple[tuple[int, int], int] | None:
    """(last delivered id, pending) of a consumer group, or None if there is none yet."""
    try:
        groups: Any = client.xinfo_groups(key)
    except redis.ResponseError:
        return None
    for entry in groups:
        name = entry["name"]
        if (name.decode() if isinstance(name, bytes) else name) == group:
            return streams.id_tuple(entry["last-delivered-id"]), int(entry["pending"])
    return None


#: The trades the flow's 1m candles of a market count, once written to PostgreSQL.
_CANDLED_TRADES = (
    "SELECT coalesce(sum(trades), 0) FROM candles WHERE market = %s AND interval = '1m'"
)


def wait_matcher(
    client: redis.Redis, shard: str, last_id: str, matcher: Service, timeout: float = 600
) -> None:
    target = streams.id_tuple(last_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if streams.id_tuple(streams.applied_position(client, shard)) >= target:
            return
        if not matcher.alive():
            raise RuntimeError(f"matcher died:\n{matcher.tail()}")
        time.sleep(0.01)
    raise RuntimeError(f"matcher did not drain up to {last_id} in {timeout}s")


@dataclass
class EventCounts:
    entries: int = 0
    state_events: int = 0
    market_events: int = 0
    trades: int = 0
    order_updates: int = 0  # UPDATEs of orders the persist agent makes
    last_update_id: int = 0
    last_id: str = "0-0"


def count_events(client: redis.Redis, shard: str, after: str = "0-0") -> EventCounts:
    """Read the event stream after ``after`` and count what the consumers will see."""
    counts = EventCounts(last_id=after)
    book = DepthBook()
    cursor = after
    key = topics.events(shard)
    while True:
        chunk = streams.range_after(client, key, cursor, "+", 2000)
        if not chunk:
            break
        for _, fields in chunk:
            if not fields or wire.BATCH_FIELD not in fields:
                continue
            batch = wire.decode_event_batch(fields[wire.BATCH_FIELD])
            counts.entries += 1
            events: list[StateEvent] = [e for c in batch.commands for e in c.events]
            counts.state_events += len(events)
            market = [e for e in events if getattr(e, "market", None) == MARKET]
            counts.market_events += len(market)
            for e in market:
                kind = type(e)
                if kind is TradeExecuted:
                    counts.trades += 1
                    counts.order_updates += 2
                elif kind is OrderRested or kind is OrderClosed:
                    counts.order_updates += 1
            book.apply(market)
        cursor = chunk[-1][0].decode()
    counts.last_update_id = book.update_id
    counts.last_id = cursor
    return counts


# --- a minimal WebSocket client ----------------------------------------------------------------


@dataclass
class WsStats:
    recording: bool = False
    messages: int = 0  # in the window
    total: int = 0
    trade_ages: list[int] = field(default_factory=list)
    depth_ages: list[int] = field(default_factory=list)
    disconnects: int = 0
    frames_other: int = 0


def _mask_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return head + mask + masked


class WsClient(asyncio.Protocol):
    """One connection: handshake, one SUBSCRIBE, then count and age every push."""

    def __init__(self, stats: WsStats, host: str, subscribe: bytes) -> None:
        self.stats = stats
        self.host = host
        self.subscribe = subscribe
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buf[: buf.find(b"\r\n")]:
                self._fail(RuntimeError(f"no upgrade: {bytes(buf[:200])!r}"))
                return
            del buf[: end + 4]
            self.upgraded = True
            assert self.transport is not None
            self.transport.write(_mask_frame(0x1, self.subscribe))
        now_ms = time.time_ns() // 1_000_000
        stats = self.stats
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                start = pos + 10
            if b1 & 0x80:
                start += 4  # a masked frame from a server: not expected, skipped
            if size < start + length:
                break
            opcode = b0 & 0x0F
            payload = bytes(buf[start : start + length])
            pos = start + length
            if opcode == 0x1:
                self._text(payload, now_ms, stats)
            elif opcode == 0x9 and self.transport is not None:
                self.transport.write(_mask_frame(0xA, payload))
            elif opcode == 0x8:
                if not self.closing:
                    stats.disconnects += 1
                    self.closing = True
                if self.transport is not None:
                    self.transport.close()
            else:
                stats.frames_other += 1
        del buf[:pos]

    def _text(self, payload: bytes, now_ms: int, stats: WsStats) -> None:
        if payload.startswith(b'{"id"'):
            if not self.ready.done():
                if b'"result"' in payload:
                    self.ready.set_result(None)
                else:
                    self.ready.set_exception(RuntimeError(payload.decode()))
            return
        stats.total += 1
        if not stats.recording:
            return
        stats.messages += 1
        at = payload.find(b'"E":')
        if at < 0:
            return
        end = at + 4
        while 48 <= payload[end] <= 57:
            end += 1
        age = now_ms - int(payload[at + 4 : end])
        # {"stream":"trades@... or {"stream":"depth@...
        (stats.trade_ages if payload[11] == 116 else stats.depth_ages).append(age)

    def _fail(self, error: Exception) -> None:
        if not self.ready.done():
            self.ready.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.stats.disconnects += 1
            self.closing = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during set-up: {exc}"))

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            with contextlib.suppress(Exception):
                self.transport.write(_mask_frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()


async def open_clients(host: str, port: int, count: int, stats: WsStats) -> list[WsClient]:
    loop = asyncio.get_running_loop()
    subscribe = json.dumps(
        {
            "method": "SUBSCRIBE",
            "params": [topics.trades_name(MARKET), topics.depth_name(MARKET)],
            "id": 1,
        }
    ).encode()
    clients: list[WsClient] = []

    async def one() -> WsClient:
        _, protocol = await loop.create_connection(
            lambda: WsClient(stats, f"{host}:{port}", subscribe), host, port
        )
        client = protocol
        clients.append(client)
        await asyncio.wait_for(client.ready, 30)
        return client

    for at in range(0, count, 50):
        await asyncio.gather(*(one() for _ in range(min(50, count - at))))
    return clients


# --- the benchmark -----------------------------------------------------------------------------


@dataclass
class Options:
    quick: bool
    commands: int
    candle_rate: float
    candle_seconds: float
    ws_rate: float
    ws_seconds: float
    clients: list[int]
    seed: int
    profile: Path | None
    json: Path | None = None
    edge_workers: int = 1


class Bench:
    def __init__(self, options: Options, services: EmbeddedServices, workdir: Path) -> None:
        self.o = options
        self.services = services
        self.workdir = workdir
        settings = get_settings()
        self.shard = settings.shards[MARKET]
        self.persist_url = services.database_url.rsplit("/", 1)[0] + f"/{PERSIST_DB}"
        self.env = {
            **os.environ,
            **SERVICE_ENV,
            "REDIS_URL": services.redis_url,
            "DATABASE_URL": services.database_url,
            "PYTHONPATH": str(ROOT),
        }
        self.client = redis.Redis.from_url(services.redis_url)
        self.matcher = Service("matcher", [], self.env, workdir / "matcher.log")
        flow_env = {**self.env, "TIDEWATER_FLOW_RECOVERY_DIR": str(workdir / "flow-recovery")}
        self.flow = Service("pipeline.flows", [], flow_env, workdir / "flow.log")
        self.port = free_port()
        edge_args = ["--port", str(self.port), "--workers", str(options.edge_workers)]
        self.edge = Service("edge", edge_args, self.env, workdir / "edge.log")
        persist_env = {**self.env, "DATABASE_URL": self.persist_url}
        self.persist = Service("pipeline", [], persist_env, workdir / "persist.log")
        self.figures: dict[str, float | int] = {}
        self.pairs = PairMaker(self.shard)
        self.runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)

    def services_list(self) -> list[Service]:
        return [self.edge, self.persist, self.flow, self.matcher]

    def close(self) -> None:
        try:
            for service in self.services_list():
                service.stop()
        finally:
            self.runner.close()
            self.client.close()

    def cpu(self, **roots: tuple[int | None, bool]) -> CpuMeter:
        return TreeCpuMeter(lambda: roots)

    def pg_pid(self) -> int | None:
        return self.services.postgres.pid

    # --- phase 1 -------------------------------------------------------------------------

    def produce(self) -> EventCounts:
        o = self.o
        rng = random.Random(o.seed)
        self.matcher.start()
        started = time.perf_counter()
        users = list(range(1, LOAD_USERS + 1))
        ts0 = _now_us() - (o.commands + 10_000) * 1000
        commands = deposits(users, ts0) + load_orders(
            o.commands, OrderIdFactory(BENCH_NODE), rng, ts0 + 1000
        )
        last = _xadd_all(self.client, self.shard, _encode(commands, "l"))
        del commands
        wait_matcher(self.client, self.shard, last, self.matcher)
        produced = time.perf_counter() - started
        counts = count_events(self.client, self.shard)
        print(
            f"pre-produced: {o.commands:,} orders -> {counts.entries:,} event entries, "
            f"{counts.state_events:,} state events ({counts.trades:,} trades, final "
            f"lastUpdateId {counts.last_update_id:,}) in {produced:.1f} s",
            flush=True,
        )
        self.figures.update(
            produced_commands=o.commands,
            produced_state_events=counts.state_events,
            produced_trades=counts.trades,
        )
        return counts

    def flow_catch_up(self, counts: EventCounts) -> None:
        depth_key = topics.depth_book(MARKET)
        db = int(self.client.connection_pool.connection_kwargs.get("db", 0))
        self.client.config_set("notify-keyspace-events", "Kg")
        self.client.hset(depth_key, "lastUpdateId", "0")  # its fresh-start DEL marks the start
        pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]
        pubsub.subscribe(f"__keyspace@{db}__:{depth_key}")
        pg = psycopg.connect(self.services.database_url, autocommit=True)
        launched = time.perf_counter()
        self.flow.start()
        meter = self.cpu(
            flow=(self.flow.pid, True),
            redis=(redis_pid(self.client), False),
            postgres=(self.pg_pid(), True),
        )
        start = redis_done = done = 0.0
        deadline = time.monotonic() + 600
        with py_spy({"flow": self.flow.pid}, self.o.profile):
            while not start:
                message = pubsub.get_message(timeout=0.01)
                if message and message.get("data") == b"del":
                    start = time.perf_counter()
                    meter.start()
                self._check(self.flow, deadline)
            while not redis_done:
                raw = self.client.hget(depth_key, "lastUpdateId")
                if raw is not None and int(cast(bytes, raw)) >= counts.last_update_id:
                    redis_done = time.perf_counter()
                    break
                self._check(self.flow, deadline)
                time.sleep(0.005)
            while not done:
                row = pg.execute(_CANDLED_TRADES, (MARKET,)).fetchone()
                if row is not None and row[0] >= counts.trades:
                    done = time.perf_counter()
                    break
                self._check(self.flow, deadline)
                time.sleep(0.01)
        cpu = meter.stop()
        pubsub.close()
        candles = pg.execute("SELECT count(*), count(*) FILTER (WHERE closed) FROM candles")
        n_candles, n_closed = candles.fetchone() or (0, 0)
        pg.close()
        seconds = done - start
        rate = counts.state_events / seconds
        self.figures.update(
            flow_seconds=round(seconds, 3),
            flow_startup_seconds=round(start - launched, 3),
            flow_events_per_s=round(rate, 1),
            flow_market_events_per_s=round(counts.market_events / seconds, 1),
            flow_with_startup_events_per_s=round(counts.state_events / (done - launched), 1),
            flow_redis_done_seconds=round(redis_done - start, 3),
            flow_entries=counts.entries,
            flow_candles=int(n_candles),
            flow_candles_closed=int(n_closed),
        )
        self.figures.update({f"flow_cpu_{k}_pct": v for k, v in cpu.items()})
        print(
            f"flow: {counts.state_events:,} events in {seconds:.2f} s = {rate:,.0f} events/s "
            f"(depth hash final after {redis_done - start:.2f} s, every trade in PG candles after "
            f"{seconds:.2f} s; start-up {start - launched:.1f} s, with it "
            f"{counts.state_events / (done - launched):,.0f}/s); {n_candles} candle rows "
            f"({n_closed} closed)\n      cpu: " + " ".join(f"{k} {v:.0f}%" for k, v in cpu.items()),
            flush=True,
        )

    @staticmethod
    def _check(service: Service, deadline: float) -> None:
        if not service.alive():
            raise RuntimeError(f"{service.module} died:\n{service.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{service.module}: no result in time")

    def reset_book(self) -> None:
        """Cancel every open order and fund the pair accounts; wait for the flow to see it."""
        ts = _now_us()
        commands: list[Command] = [
            CancelAll(user_id=UserId(uid), ts=ts, market=MARKET) for uid in range(1, LOAD_USERS + 1)
        ]
        commands += deposits([PAIR_BASE + i for i in range(PAIR_USERS)], ts)
        last = _xadd_all(self.client, self.shard, _encode(commands, "r"))
        wait_matcher(self.client, self.shard, last, self.matcher)
        time.sleep(1.0)

    # --- phase 2 -------------------------------------------------------------------------

    def candle_delay(self) -> None:
        o = self.o
        result = self.runner.run(self._candle_delay(o.candle_rate, o.candle_seconds))
        kline, trades, pushes = result
        self.figures.update(
            candle_trades=len(kline),
            candle_pushes=pushes,
            candle_delay_p50_ms=round(_pct(kline, 50), 1),
            candle_delay_p99_ms=round(_pct(kline, 99), 1),
            candle_delay_max_ms=round(max(kline, default=0), 1),
            trade_push_delay_p50_ms=round(_pct(trades, 50), 1),
            trade_push_delay_p99_ms=round(_pct(trades, 99), 1),
        )
        f = self.figures
        print(
            f"trade -> kline.1m push: {len(kline)} trades at {o.candle_rate:.0f}/s in {pushes} "
            f"pushes: p50 {f['candle_delay_p50_ms']} ms, p99 {f['candle_delay_p99_ms']} ms, max "
            f"{f['candle_delay_max_ms']} ms (throttle 250 ms by default); trade -> trades push "
            f"p50 {f['trade_push_delay_p50_ms']} ms, p99 {f['trade_push_delay_p99_ms']} ms",
            flush=True,
        )

    async def _candle_delay(
        self, rate: float, seconds: float
    ) -> tuple[list[float], list[float], int]:
        client = aioredis.Redis.from_url(self.services.redis_url)
        pubsub = client.pubsub()
        kline_channel = topics.kline_stream("1m", MARKET)
        trades_channel = topics.trades_stream(MARKET)
        await pubsub.subscribe(kline_channel, trades_channel)
        sent: list[int] = []
        kline_delays: list[float] = []
        trade_delays: list[float] = []
        covered = 0
        pushes = 0
        done = asyncio.Event()

        async def listen() -> None:
            nonlocal covered, pushes
            while not done.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                if message is None:
                    continue
                now_us = _now_us()
                data = json.loads(message["data"])
                if message["channel"] == trades_channel.encode():
                    trade_delays.append((now_us - data["T"] * 1000) / 1000)
                    continue
                if data["k"]["x"]:
                    continue
                pushes += 1
                clock_ms = data["E"]
                while covered < len(sent) and sent[covered] // 1000 <= clock_ms:
                    kline_delays.append((now_us - sent[covered]) / 1000)
                    covered += 1

        listener = asyncio.create_task(listen())
        await paced_pairs(client, self.pairs, rate, seconds, sent)
        deadline = time.monotonic() + 5
        while covered < len(sent) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        done.set()
        await listener
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()
        return kline_delays, trade_delays, pushes

    # --- phase 3 -------------------------------------------------------------------------

    def fan_out(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max(c for c in self.o.clients) * 2 + 1000
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        self.edge.start()  # inherits the raised limit
        self._wait_ready()
        for count in self.o.clients:
            self.runner.run(self._fan_out(count))

    def _wait_ready(self, timeout: float = 60) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check(self.edge, deadline)
            try:
                url = f"http://127.0.0.1:{self.port}/readyz"
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"edge not ready:\n{self.edge.tail()}")

    async def _fan_out(self, count: int) -> None:
        o = self.o
        stats = WsStats()
        connect_started = time.perf_counter()
        clients = await open_clients("127.0.0.1", self.port, count, stats)
        connect_seconds = time.perf_counter() - connect_started
        rclient = aioredis.Redis.from_url(self.services.redis_url)
        pubsub = rclient.pubsub()
        await pubsub.subscribe(topics.trades_stream(MARKET), topics.depth_stream(MARKET))
        redis_ages: list[int] = []
        published = 0
        recording = False
        done = asyncio.Event()

        async def listen() -> None:
            nonlocal published
            while not done.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                if message is None or not recording:
                    continue
                published += 1
                data = message["data"]
                at = data.find(b'"E":')
                end = data.find(b",", at)
                redis_ages.append(time.time_ns() // 1_000_000 - int(data[at + 4 : end]))

        listener = asyncio.create_task(listen())
        warmup = 2.0
        sent: list[int] = []
        meter = self.cpu(
            edge=(self.edge.pid, True),
            flow=(self.flow.pid, True),
            matcher=(self.matcher.pid, False),
            redis=(redis_pid(self.client), False),
            client=(os.getpid(), False),
        )
        pairs_per_s = o.ws_rate / 2

        async def window() -> None:
            nonlocal recording
            await asyncio.sleep(warmup)
            stats.recording = recording = True
            meter.start()
            await asyncio.sleep(o.ws_seconds)
            stats.recording = recording = False

        disconnects_before = stats.disconnects
        profile = None
        if o.profile is not None and count == max(o.clients):
            profile = o.profile / f"ws{count}"
        with py_spy({"edge": self.edge.pid}, profile):
            window_task = asyncio.create_task(window())
            window_started = time.perf_counter()
            await paced_pairs(rclient, self.pairs, pairs_per_s, warmup + o.ws_seconds, sent)
            await window_task
            measured = max(time.perf_counter() - window_started - warmup, 1e-9)
        cpu = meter.stop()
        done.set()
        await listener
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await rclient.aclose()
        for client in clients:
            client.close()
        await asyncio.sleep(0.5)
        ages = stats.trade_ages + stats.depth_ages
        expected = published * count
        prefix = f"ws_{count}"
        figures: dict[str, float | int] = {
            f"{prefix}_connect_seconds": round(connect_seconds, 2),
            f"{prefix}_deliveries_per_s": round(stats.messages / measured, 1),
            f"{prefix}_delivered_ratio": round(stats.messages / expected, 4) if expected else 0,
            f"{prefix}_age_p50_ms": _pct(ages, 50),
            f"{prefix}_age_p99_ms": _pct(ages, 99),
            f"{prefix}_age_max_ms": float(max(ages, default=0)),
            f"{prefix}_trade_age_p99_ms": _pct(stats.trade_ages, 99),
            f"{prefix}_depth_age_p99_ms": _pct(stats.depth_ages, 99),
            f"{prefix}_redis_age_p50_ms": _pct(redis_ages, 50),
            f"{prefix}_redis_age_p99_ms": _pct(redis_ages, 99),
            f"{prefix}_published_per_s": round(published / measured, 1),
            f"{prefix}_disconnects": stats.disconnects - disconnects_before,
        }
        figures.update({f"{prefix}_cpu_{k}_pct": v for k, v in cpu.items()})
        self.figures.update(figures)
        print(
            f"ws {count:>5} clients: {figures[f'{prefix}_deliveries_per_s']:>9,.0f} deliveries/s "
            f"({figures[f'{prefix}_delivered_ratio']:.3f} of {published / measured:.0f} "
            f"published/s x {count}); age p50 {figures[f'{prefix}_age_p50_ms']:.0f} ms, p99 "
            f"{figures[f'{prefix}_age_p99_ms']:.0f} ms, max {figures[f'{prefix}_age_max_ms']:.0f}"
            f" ms (at Redis p50 {figures[f'{prefix}_redis_age_p50_ms']:.0f}, p99 "
            f"{figures[f'{prefix}_redis_age_p99_ms']:.0f} ms); disconnects "
            f"{figures[f'{prefix}_disconnects']}; connected in {connect_seconds:.1f} s\n"
            f"{'':<17}cpu: " + " ".join(f"{k} {v:.0f}%" for k, v in cpu.items()),
            flush=True,
        )

    # --- phase 4 -------------------------------------------------------------------------

    def persist_catch_up(self) -> None:
        self.edge.stop()
        self.flow.stop()
        self.matcher.stop()
        counts = count_events(self.client, self.shard)
        key = topics.events(self.shard)
        target = streams.id_tuple(counts.last_id)
        launched = time.perf_counter()
        self.persist.start()
        meter = self.cpu(
            persist=(self.persist.pid, False),
            redis=(redis_pid(self.client), False),
            postgres=(self.pg_pid(), True),
        )
        start = done = 0.0
        deadline = time.monotonic() + 900
        with py_spy({"persist": self.persist.pid}, self.o.profile):
            while True:
                state = group_state(self.client, key, topics.PERSIST_GROUP)
                now = time.perf_counter()
                if state is not None:
                    if not start and state[0] != (0, 0):
                        start = now
                        meter.start()
                    if state[0] >= target and state[1] == 0:
                        done = now
                        break
                self._check(self.persist, deadline)
                time.sleep(0.005)
        cpu = meter.stop()
        self.persist.stop()
        with psycopg.connect(self.persist_url, autocommit=True) as pg:
            rows = {
                table: int((pg.execute(query).fetchone() or (0,))[0])
                for table, query in (
                    ("trades", "SELECT count(*) FROM trades"),
                    ("orders", "SELECT count(*) FROM orders"),
                    ("ledger", "SELECT count(*) FROM ledger"),
                )
            }
        inserted = sum(rows.values())
        writes = inserted + counts.order_updates
        seconds = done - start
        self.figures.update(
            persist_seconds=round(seconds, 3),
            persist_startup_seconds=round(start - launched, 3),
            persist_events=counts.state_events,
            persist_rows_inserted=inserted,
            persist_order_updates=counts.order_updates,
            persist_rows_per_s=round(inserted / seconds, 1),
            persist_row_writes_per_s=round(writes / seconds, 1),
            persist_events_per_s=round(counts.state_events / seconds, 1),
            **{f"persist_rows_{t}": n for t, n in rows.items()},
        )
        self.figures.update({f"persist_cpu_{k}_pct": v for k, v in cpu.items()})
        print(
            f"persist: {counts.state_events:,} events -> {inserted:,} rows inserted {rows} + "
            f"{counts.order_updates:,} order updates in {seconds:.2f} s = "
            f"{inserted / seconds:,.0f} rows/s, {writes / seconds:,.0f} row writes/s, "
            f"{counts.state_events / seconds:,.0f} events/s (start-up {start - launched:.1f} s)"
            f"\n      cpu: " + " ".join(f"{k} {v:.0f}%" for k, v in cpu.items()),
            flush=True,
        )

    # --- all -----------------------------------------------------------------------------

    def run(self) -> None:
        print(f"load average before: {os.getloadavg()}; cpus {os.cpu_count()}", flush=True)
        with psycopg.connect(self.services.database_url, autocommit=True) as pg:
            pg.execute(f"CREATE DATABASE {PERSIST_DB}")
        migrate(self.persist_url)
        counts = self.produce()
        self.flow_catch_up(counts)
        self.reset_book()
        self.candle_delay()
        self.fan_out()
        self.persist_catch_up()

    def report(self) -> None:
        f = self.figures
        print("\ntargets:")
        for entry in targeted("market_data"):
            value = f.get(entry.key)
            if value is None:
                continue
            ok = bool(entry.met(value))
            f[f"target_{entry.key}_met"] = int(ok)
            print(
                f"  {entry.key:<28} {value:>12,.1f}  {entry.op} {entry.target:>10,.0f}  "
                f"{verdict(ok)}"
            )
        print(json.dumps(f, separators=(",", ":")))


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--commands", type=int, default=None, help="pre-produced orders")
    parser.add_argument("--candle-rate", type=float, default=20.0, help="trades/s in phase 2")
    parser.add_argument("--candle-seconds", type=float, default=None)
    parser.add_argument("--ws-rate", type=float, default=100.0, help="orders/s (all trade)")
    parser.add_argument("--ws-seconds", type=float, default=None, help="measured s per N")
    parser.add_argument("--clients", type=str, default="10,100,1000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--edge-workers", type=int, default=1, help="uvicorn worker processes of the edge"
    )
    parser.add_argument("--profile", type=Path, default=None, help="py-spy each phase into DIR")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures and targets to this file"
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Options(
        quick=quick,
        commands=args.commands if args.commands is not None else (20_000 if quick else 150_000),
        candle_rate=args.candle_rate,
        candle_seconds=args.candle_seconds or (4.0 if quick else 12.0),
        ws_rate=args.ws_rate,
        ws_seconds=args.ws_seconds or (4.0 if quick else 15.0),
        clients=[int(c) for c in args.clients.split(",") if c.strip()],
        seed=args.seed,
        profile=args.profile,
        json=args.json,
        edge_workers=args.edge_workers,
    )


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_interrupted)
    yield


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    title = "Market data: Bytewax flow, WebSocket fan-out, persist agent (bench/market_data.py)"
    result = JsonResult("market_data", title, options.json, options.quick)
    try:
        with _signals(), temp_workdir() as workdir, embedded_services() as services:
            migrate(services.database_url)
            result.servers = server_versions(services)
            bench = Bench(options, services, workdir)
            try:
                bench.run()
            except KeyboardInterrupt:
                raise
            except BaseException:
                for service in bench.services_list():
                    if service.log.exists():
                        print(
                            f"--- {service.log.name} (tail) ---\n{service.tail()}", file=sys.stderr
                        )
                raise
            finally:
                bench.close()
        bench.report()  # after the servers' goodbye logs: the JSON line comes last
        result.write(bench.figures, exit_ok=True)
    except KeyboardInterrupt:
        print("interrupted: every process this run started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
