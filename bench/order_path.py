"""Benchmark order placement end to end: HTTP -> edge -> Redis -> matcher -> reply -> HTTP.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/order_path.py                 # full run, ~4 minutes
    PYTHONPATH=. .venv/bin/python bench/order_path.py --quick         # smoke run, ~30 s
    PYTHONPATH=. .venv/bin/python bench/order_path.py --profile DIR   # + py-spy of 16 connections

It prints one line per run, a table of targets, and last ONE JSON line with every figure.

Set-up
------
* A throwaway Redis (``appendonly yes``, ``appendfsync always``: every 2xx is on disk) and
  PostgreSQL from ``infra.embedded`` in a temp folder, migrated; then ``python -m matcher`` and
  ``python -m edge --port N`` as child processes, configured through the environment only, with
  the rate limits off. Everything is stopped at the end, also on Ctrl-C, SIGTERM or an error
  (children are in their own session and get a parent-death signal as well).
* Load users sign up and are funded through the API (``/signup``, ``/onramp``).
* Orders: limit GTC on ``TATA_INR`` around a mid of 100.00: a buy at mid + U{-2..2} ticks, a
  sell at mid - U{-2..2}, 1..10 lots, each from a random load user (so self-trade prevention
  is rare). About 45% of them trade, the rest rest. ``--requests`` of them are prebuilt as bytes
  (seeded); each connection walks that list from its own random offset.
* Between runs every load user's open orders are canceled (``CancelAll`` put straight on the
  command stream), so each run starts from the same (empty or 20,000-order) book.

Load client
-----------
The client shares the machine with the servers, so it is kept cheap: asyncio on uvloop, raw
HTTP/1.1 keep-alive over ``asyncio.open_connection``, prebuilt requests, a response parsed from
its status line and ``Content-Length`` only. Latency per request is ``perf_counter_ns`` from
just before the write to the end of the body. Every request has a timeout (``--timeout``,
enforced by one watchdog task per run rather than a timer per request); a timeout or a broken
connection is counted and the connection is replaced, so no request can hang a run.

Runs
----
* Closed loop with C connections (C = 1, 16, 64): each connection sends its next request as soon
  as the previous answer is read. ``--warmup`` seconds first (not in the latencies), then
  ``--duration`` seconds measured. orders/s = 2xx answers to requests sent in the measured
  window, divided by the time from the window's start to the last of those answers.
* Open loop (paced) at 50% and 80% of the best closed-loop orders/s: request i is *due* at
  ``t0 + i / rate`` whatever the answers do; a 1 ms dispatcher hands due requests to 64
  connections (a queue builds up if all are busy). Latency counts from the due time, so a slow
  answer delays and charges the requests behind it (no coordinated omission). uvloop timers have
  1 ms resolution, so a request leaves up to ~1 ms after it is due: that send lag is inside the
  latency and printed on its own.
* With 20,000 resting orders: 25 extra accounts (user ids from 10**9, funded by ``Deposit``
  commands on the stream) place 20,000 limit orders straight on the command stream at 200..1000
  ticks from the mid, so they never trade with the load; then the 1- and 16-connection runs.
* ``--workers 2``: the edge restarted with two uvicorn workers, 16 and 64 connections.
* Matcher alone (``--drain`` commands, 200,000 by default) on a fresh Redis database: 1,000
  accounts funded (matcher started, drained, stopped with a snapshot), then the commands queued
  with ``reply_to`` set, then the matcher started again. Timed from its first commit to its last
  (its read position ``tw:{shard}:applied`` polled every 5 ms); the replies, published on the
  bench's reply channel, are counted by a listener subscribed before (one per command), and so
  are rejections. Startup included is printed too.

Also printed: the round trip of one durable ``XADD`` from this process (an order waits for one:
its command's; the matcher's commit is off the latency path, see ``matcher/service.py``), a
floor under the 1-connection latency.

Errors counts every non-2xx answer, broken connection and malformed answer; timeouts are counted
on their own. Latency percentiles are nearest-rank over every answer (2xx or not) of the
measured window. CPU per process (edge including its workers, matcher, redis, this client;
``other`` = every other process, ``irq`` = interrupts, ``steal`` = time the hypervisor took) is
read from ``/proc`` and given in % of ONE core; a run with much ``other`` or ``steal`` is flagged.

``--profile DIR`` adds an unrecorded 16-connection run with py-spy (``pip install py-spy``, not a
project dependency) sampling the edge and the matcher, and a second, profiled drain; collapsed
stacks land in DIR and a summary (by package, function, and deepest project line) is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import redis
import uvloop

from bench._common import (
    ROOT,
    CpuMeter,
    JsonResult,
    Service,
    percentile,
    py_spy,
    raise_interrupted,
    redis_pid,
    server_versions,
    targeted,
    temp_workdir,
    verdict,
)
from client import AsyncClient
from infra.embedded import EmbeddedServices, embedded_services, free_port
from infra.migrate import migrate
from matcher.service import COMMIT_SCRIPT
from model import streams, topics, wire
from model.commands import CancelAll, Command, Deposit, PlaceOrder
from model.config import load_markets
from model.enums import OrderType, Side
from model.events import Rejected
from model.ids import OrderIdFactory, UserId
from model.lease import fenced_script
from model.numbers import MarketSpec
from model.replies import ReplyListener
from model.settings import get_settings

MARKET = "TATA_INR"
MID = 10_000  # ticks: 100.00 INR
LOAD_SPREAD = 2  # load prices within mid -/+ this many ticks
REST_NEAR, REST_FAR = 200, 1_000  # resting orders this many ticks away from the mid
REST_ORDERS = 20_000
REST_USERS = 25  # 800 orders each, under the default 1,000 open orders per user
SYNTHETIC_USER_BASE = 10**9  # accounts that exist only in the matcher (no sign-up)
BENCH_EDGE = "bench"  # reply_to of what this script puts on the stream itself
BENCH_NODE = 1023  # order-id node of this script's orders (edges count up from 1)
DRAIN_USERS = 1_000
OPEN_LOOP_CONNECTIONS = 64
INR_FUNDS, TATA_FUNDS = "100000000", "10000000"

# The targets live in bench/_common.FIGURES, the one table every bench and the report read.

SERVICE_ENV = {
    "TIDEWATER_RATE_LIMIT": "0",
    "TIDEWATER_IP_RATE_LIMIT": "0",
    "TIDEWATER_SIGNIN_LIMIT": "0",
    "TIDEWATER_JWT_TTL_SECONDS": "86400",
}


# --- small helpers ---------------------------------------------------------------------------


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def _now_us() -> int:
    return time.time_ns() // 1000


def _wait_http_ready(base_url: str, service: Service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.module} died while starting:\n{service.tail()}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{service.module} not ready in {timeout}s:\n{service.tail()}")


# --- a minimal HTTP/1.1 keep-alive client ----------------------------------------------------


class HttpProtocolError(Exception):
    """An answer this client cannot read; the connection is dropped."""


def build_request(
    method: str, path: str, host: str, body: bytes | None = None, token: str | None = None
) -> bytes:
    """One complete HTTP/1.1 request, ready to write."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Connection:
    """One keep-alive connection; ``exchange`` writes a request and reads its answer.

    Timeouts are not per request (``asyncio.timeout`` costs a timer per request, ~40% of this
    client's CPU): ``deadline`` is set while a request is out, and a watchdog task aborts the
    connection once it has passed (``timed_out`` then tells the failure from a broken link).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.deadline = 0  # perf_counter_ns; 0 while idle
        self.timed_out = False

    async def open(self) -> None:
        self.timed_out = False
        async with asyncio.timeout(5):
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    def abort(self) -> None:
        """Give up on the request in flight: its read fails at once."""
        self.timed_out = True
        if self._writer is not None:
            self._writer.transport.abort()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def reopen(self) -> None:
        self.close()
        await self.open()

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request``; return the status and body of its answer."""
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            await self.open()
            reader, writer = self._reader, self._writer
            assert reader is not None
            assert writer is not None
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise HttpProtocolError(f"not an HTTP/1.1 answer: {head[:40]!r}")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.find(b"\r\n", at + 2)
            length = int(lower[at + 17 : end])
            body = await reader.readexactly(length) if length else b""
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunked(reader)
        elif status in (204, 304) or status < 200:
            body = b""
        else:
            raise HttpProtocolError("answer without Content-Length or chunked body")
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)


async def _open_all(host: str, port: int, count: int) -> list[Connection]:
    connections = [Connection(host, port) for _ in range(count)]
    await asyncio.gather(*(c.open() for c in connections))
    return connections


# --- measuring a run -------------------------------------------------------------------------


@dataclass
class RunStats:
    """What the workers of one run saw."""

    record_from: int  # perf_counter_ns: requests sent (or due) from here on are measured
    latencies: list[int] = field(default_factory=list)
    send_lags: list[int] = field(default_factory=list)
    http: Counter[int] = field(default_factory=Counter)
    order_status: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    transport_errors: int = 0
    last_done: int = 0
    ok: int = 0  # 2xx answers to measured requests

    def answered(self, status: int, body: bytes, started: int, done: int) -> None:
        self.http[status] += 1
        if started >= self.record_from:
            self.latencies.append(done - started)
            self.last_done = max(self.last_done, done)
            if 200 <= status < 300:
                self.ok += 1
        if 200 <= status < 300:
            at = body.find(b'"status":"')
            if at >= 0:
                self.order_status[body[at + 10 : body.find(b'"', at + 10)].decode()] += 1


@dataclass
class RunResult:
    name: str
    connections: int
    orders_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    measured: int
    errors: int
    timeouts: int
    http: dict[str, int]
    order_status: dict[str, int]
    cpu: dict[str, float]
    send_lag_p50_ms: float | None = None
    send_lag_p99_ms: float | None = None
    rate: float | None = None

    def figures(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {
            f"{self.name}_orders_per_s": round(self.orders_per_s, 1),
            f"{self.name}_p50_ms": self.p50_ms,
            f"{self.name}_p99_ms": self.p99_ms,
            f"{self.name}_p999_ms": self.p999_ms,
            f"{self.name}_max_ms": self.max_ms,
            f"{self.name}_errors": self.errors,
            f"{self.name}_timeouts": self.timeouts,
        }
        if self.rate is not None:
            out[f"{self.name}_target_rate"] = round(self.rate, 1)
        if self.send_lag_p50_ms is not None and self.send_lag_p99_ms is not None:
            out[f"{self.name}_send_lag_p50_ms"] = self.send_lag_p50_ms
            out[f"{self.name}_send_lag_p99_ms"] = self.send_lag_p99_ms
        for who, pct in self.cpu.items():
            out[f"{self.name}_cpu_{who}_pct"] = pct
        return out

    def line(self) -> str:
        head = f"{self.name:<12} {self.connections:>3} conn"
        if self.rate is not None:
            head += f"  paced {self.rate:>7,.0f}/s"
        text = (
            f"{head}  {self.orders_per_s:>7,.0f} orders/s  p50 {self.p50_ms:6.2f}  "
            f"p99 {self.p99_ms:6.2f}  p99.9 {self.p999_ms:6.2f}  max {self.max_ms:7.2f} ms  "
            f"errors {self.errors}  timeouts {self.timeouts}"
        )
        if self.send_lag_p50_ms is not None:
            text += f"  send lag p50 {self.send_lag_p50_ms:.2f} p99 {self.send_lag_p99_ms:.2f} ms"
        cpu = " ".join(f"{k} {v:.0f}%" for k, v in self.cpu.items())
        total = sum(self.order_status.values()) or 1
        mix = " ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(self.order_status.items()))
        return f"{text}\n{'':<17}cpu: {cpu} | outcome: {mix} | http {self.http}"


def _summarise(
    name: str,
    connections: int,
    stats: RunStats,
    cpu: dict[str, float],
    rate: float | None = None,
) -> RunResult:
    latencies = sorted(stats.latencies)
    window = max(stats.last_done - stats.record_from, 1)
    non_2xx = sum(n for status, n in stats.http.items() if not 200 <= status < 300)
    lags = sorted(stats.send_lags)
    return RunResult(
        name=name,
        connections=connections,
        orders_per_s=stats.ok / (window / 1e9),
        p50_ms=_ms(percentile(latencies, 50)),
        p99_ms=_ms(percentile(latencies, 99)),
        p999_ms=_ms(percentile(latencies, 99.9)),
        max_ms=_ms(latencies[-1] if latencies else 0),
        measured=len(latencies),
        errors=non_2xx + stats.transport_errors,
        timeouts=stats.timeouts,
        http={str(k): v for k, v in sorted(stats.http.items())},
        order_status=dict(stats.order_status),
        cpu=cpu,
        send_lag_p50_ms=_ms(percentile(lags, 50)) if rate is not None else None,
        send_lag_p99_ms=_ms(percentile(lags, 99)) if rate is not None else None,
        rate=rate,
    )


async def _one_request(
    conn: Connection, request: bytes, timeout: float, stats: RunStats, due: int | None = None
) -> None:
    """Send one request and record its outcome; latency from ``due`` when given (open loop)."""
    started = time.perf_counter_ns()
    conn.deadline = started + int(timeout * 1e9)
    try:
        status, body = await conn.exchange(request)
    except (
        OSError,
        TimeoutError,
        asyncio.IncompleteReadError,
        asyncio.LimitOverrunError,
        HttpProtocolError,
    ):
        if conn.timed_out:
            stats.timeouts += 1
        else:
            stats.transport_errors += 1
        conn.deadline = 0
        await _replace(conn)
        return
    done = time.perf_counter_ns()
    conn.deadline = 0
    if due is None:
        stats.answered(status, body, started, done)
    else:
        stats.answered(status, body, due, done)
        if due >= stats.record_from:
            stats.send_lags.append(started - due)


async def _replace(conn: Connection) -> None:
    """A fresh connection after a timeout or error (the old one's state is unknown)."""
    try:
        await conn.reopen()
    except (OSError, TimeoutError):
        conn.close()  # the next exchange opens it again
        await asyncio.sleep(0.05)


async def _watchdog(conns: Sequence[Connection]) -> None:
    """Abort every connection whose request has outlived its deadline (checked every 50 ms)."""
    while True:
        await asyncio.sleep(0.05)
        now = time.perf_counter_ns()
        for conn in conns:
            if conn.deadline and now > conn.deadline:
                conn.deadline = 0
                conn.abort()


async def closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    connections: int,
    warmup: float,
    duration: float,
    timeout: float,
    rng: random.Random,
    cpu: CpuMeter,
) -> tuple[RunStats, dict[str, float]]:
    """Each connection sends its next request as soon as it has the previous answer."""
    conns = await _open_all(host, port, connections)
    start = time.perf_counter_ns()
    stats = RunStats(record_from=start + int(warmup * 1e9))
    end = stats.record_from + int(duration * 1e9)
    count = len(requests)

    async def worker(conn: Connection, index: int) -> None:
        while time.perf_counter_ns() < end:
            await _one_request(conn, requests[index % count], timeout, stats)
            index += 1

    async def meter() -> dict[str, float]:
        await asyncio.sleep(warmup)
        cpu.start()
        await asyncio.sleep(duration)
        return cpu.stop()

    watchdog = asyncio.ensure_future(_watchdog(conns))
    try:
        metered = asyncio.ensure_future(meter())
        await asyncio.gather(*(worker(c, rng.randrange(count)) for c in conns))
        usage = await metered
    finally:
        watchdog.cancel()
        for conn in conns:
            conn.close()
    return stats, usage


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    warmup: float,
    duration: float,
    timeout: float,
    rng: random.Random,
    cpu: CpuMeter,
) -> tuple[RunStats, dict[str, float]]:
    """Request i is due at ``t0 + i / rate``; latency counts from the due time."""
    conns = await _open_all(host, port, OPEN_LOOP_CONNECTIONS)
    t0 = time.perf_counter_ns()
    stats = RunStats(record_from=t0 + int(warmup * 1e9))
    interval = 1e9 / rate
    total = int(rate * (warmup + duration))
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    count = len(requests)
    offset = rng.randrange(count)

    async def dispatcher() -> None:
        sent = 0
        while sent < total:
            due_now = min(total, int((time.perf_counter_ns() - t0) / interval) + 1)
            while sent < due_now:
                queue.put_nowait((t0 + int(sent * interval), requests[(offset + sent) % count]))
                sent += 1
            await asyncio.sleep(0.001)
        for _ in conns:
            queue.put_nowait(None)

    async def worker(conn: Connection) -> None:
        while (item := await queue.get()) is not None:
            await _one_request(conn, item[1], timeout, stats, due=item[0])

    async def meter() -> dict[str, float]:
        await asyncio.sleep(warmup)
        cpu.start()
        await asyncio.sleep(duration)
        return cpu.stop()

    watchdog = asyncio.ensure_future(_watchdog(conns))
    try:
        metered = asyncio.ensure_future(meter())
        await asyncio.gather(dispatcher(), *(worker(c) for c in conns))
        usage = await metered
    finally:
        watchdog.cancel()
        for conn in conns:
            conn.close()
    return stats, usage


# --- the order flow --------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    user_id: int
    token: str


def make_order_requests(
    users: Sequence[User], spec: MarketSpec, host: str, count: int, rng: random.Random
) -> list[bytes]:
    """Prebuilt ``POST /api/v1/order`` requests: random limit buys and sells around the mid."""
    out = []
    for _ in range(count):
        user = rng.choice(users)
        buy = rng.random() < 0.5
        offset = rng.randint(-LOAD_SPREAD, LOAD_SPREAD)  # > 0: through the mid
        price = MID + offset if buy else MID - offset
        body = msgspec.json.encode(
            {
                "market": spec.symbol,
                "kind": "buy" if buy else "sell",
                "type": "limit",
                "price": spec.format_price(price),
                "quantity": spec.format_quantity(rng.randint(1, 10)),
            }
        )
        out.append(build_request("POST", "/api/v1/order", host, body, user.token))
    return out


async def sign_up_users(host: str, port: int, count: int, seed: int) -> list[User]:
    """Sign up and fund ``count`` users through the API (``client.AsyncClient``), four at a
    time: set-up, not measured."""
    users: list[User] = []
    names = iter(range(count))

    async with AsyncClient(f"http://{host}:{port}", timeout=httpx.Timeout(60.0)) as api:

        async def worker() -> None:
            for i in names:
                signed = await api.sign_up(f"bench{seed}_{i}", f"bench-password-{seed}")
                for asset, amount in (("INR", INR_FUNDS), ("TATA", TATA_FUNDS)):
                    await api.onramp(signed.token, asset, amount)
                users.append(User(signed.user_id, signed.token))

        await asyncio.gather(*(worker() for _ in range(4)))
    return sorted(users, key=lambda u: u.user_id)


# --- talking to the matcher straight through its stream --------------------------------------


def submit(client: redis.Redis, shard: str, commands: Sequence[Command], chunk: int = 2000) -> str:
    """Queue commands (``reply_to`` = this script) in pipelined chunks; return the last id."""
    key = topics.commands(shard)
    last = ""
    for at in range(0, len(commands), chunk):
        pipe = client.pipeline(transaction=False)
        for i, command in enumerate(commands[at : at + chunk], start=at):
            envelope = wire.CommandEnvelope(
                request_id=f"b{i}", reply_to=BENCH_EDGE, command=command
            )
            pipe.xadd(key, {wire.COMMAND_FIELD: wire.encode(envelope)})
        ids = pipe.execute()
        last = ids[-1].decode()
    return last


def submit_encoded(client: redis.Redis, shard: str, encoded: Sequence[bytes]) -> str:
    key = topics.commands(shard)
    last = ""
    for at in range(0, len(encoded), 5000):
        pipe = client.pipeline(transaction=False)
        for payload in encoded[at : at + 5000]:
            pipe.xadd(key, {wire.COMMAND_FIELD: payload})
        last = pipe.execute()[-1].decode()
    return last


def matcher_position(client: redis.Redis, shard: str) -> tuple[int, int]:
    """The id of the last command the shard's matcher committed, as a comparable pair."""
    return streams.id_tuple(streams.applied_position(client, shard))


def wait_drained(
    client: redis.Redis, shard: str, last_id: str, matcher: Service, timeout: float = 300
) -> None:
    """Wait until the matcher has applied and committed everything up to ``last_id``."""
    target = streams.id_tuple(last_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if matcher_position(client, shard) >= target:
            return
        if not matcher.alive():
            raise RuntimeError(f"matcher died:\n{matcher.tail()}")
        time.sleep(0.01)
    raise RuntimeError(f"matcher did not drain up to {last_id} in {timeout}s")


def count_replies(listener: ReplyListener, settle_s: float = 0.5) -> tuple[int, Counter[str]]:
    """The replies ``listener`` got (once the last published have had ``settle_s`` to arrive),
    and their rejection codes."""
    time.sleep(settle_s)
    replies, rejected = 0, Counter[str]()
    for reply in listener.replies:
        replies += 1
        for event in reply.events:
            if isinstance(event, Rejected):
                rejected[event.code.value] += 1
    return replies, rejected


def deposits(user_ids: Sequence[int]) -> list[Command]:
    ts = _now_us()
    out: list[Command] = []
    for uid in user_ids:
        out.append(Deposit(user_id=UserId(uid), ts=ts, asset="INR", amount=10**12))
        out.append(Deposit(user_id=UserId(uid), ts=ts, asset="TATA", amount=10**8))
    return out


def random_orders(
    user_ids: Sequence[int], count: int, ids: OrderIdFactory, rng: random.Random
) -> list[PlaceOrder]:
    """The load's flow as commands: limit orders around the mid from random users."""
    ts = _now_us()
    out = []
    for i in range(count):
        buy = rng.random() < 0.5
        offset = rng.randint(-LOAD_SPREAD, LOAD_SPREAD)
        out.append(
            PlaceOrder(
                user_id=UserId(rng.choice(user_ids)),
                ts=ts + i,
                order_id=ids.next(),
                market=MARKET,
                side=Side.BUY if buy else Side.SELL,
                type=OrderType.LIMIT,
                price=MID + offset if buy else MID - offset,
                quantity=rng.randint(1, 10),
            )
        )
    return out


def resting_orders(count: int, ids: OrderIdFactory, rng: random.Random) -> list[Command]:
    """Non-crossing limit orders far from the mid, spread over the resting accounts."""
    ts = _now_us()
    out: list[Command] = []
    for i in range(count):
        buy = i % 2 == 0
        away = rng.randint(REST_NEAR, REST_FAR)
        out.append(
            PlaceOrder(
                user_id=UserId(SYNTHETIC_USER_BASE + i % REST_USERS),
                ts=ts + i,
                order_id=ids.next(),
                market=MARKET,
                side=Side.BUY if buy else Side.SELL,
                type=OrderType.LIMIT,
                price=MID - away if buy else MID + away,
                quantity=rng.randint(1, 10),
            )
        )
    return out


def cancel_all(user_ids: Sequence[int]) -> list[Command]:
    ts = _now_us()
    return [CancelAll(user_id=UserId(uid), ts=ts, market=MARKET) for uid in user_ids]


# --- the matcher alone -----------------------------------------------------------------------


def matcher_drain(
    redis_url: str,
    shard: str,
    count: int,
    env: dict[str, str],
    workdir: Path,
    seed: int,
    profile: Path | None = None,
) -> dict[str, float | int]:
    """Queue ``count`` PlaceOrder commands, start the matcher, time until all are acked.

    With ``profile``, py-spy samples the matcher meanwhile (and disturbs the figure).
    """
    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # our own throwaway server's spare database
    env = {**env, "REDIS_URL": redis_url}
    matcher = Service("matcher", [], env, workdir / "matcher-drain.log")
    rng = random.Random(seed + 1)
    user_ids = list(range(1, DRAIN_USERS + 1))
    try:
        matcher.start()
        deadline = time.monotonic() + 60
        while not client.exists(topics.writer_lease(shard)):
            if not matcher.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"drain matcher did not start:\n{matcher.tail()}")
            time.sleep(0.05)
        wait_drained(client, shard, submit(client, shard, deposits(user_ids)), matcher)
        matcher.stop()  # snapshot on the way out: the restart recovers the funded accounts

        orders = random_orders(user_ids, count, OrderIdFactory(BENCH_NODE), rng)
        encoded = [
            wire.encode(wire.CommandEnvelope(request_id=f"d{i}", reply_to=BENCH_EDGE, command=c))
            for i, c in enumerate(orders)
        ]
        queued_at = time.perf_counter()
        last_id = submit_encoded(client, shard, encoded)
        queue_seconds = time.perf_counter() - queued_at
        del orders, encoded
        listener = ReplyListener(client, [shard], BENCH_EDGE)
        target = streams.id_tuple(last_id)
        initial = matcher_position(client, shard)

        cpu = CpuMeter(
            lambda: {
                "matcher": (matcher.pid, False),
                "redis": (redis_pid(client), False),
                "client": (os.getpid(), False),
            }
        )
        launched = time.perf_counter()
        matcher.start()
        first = done = 0.0
        cpu_usage: dict[str, float] = {}
        deadline = time.monotonic() + 600
        with py_spy({"matcher_drain": matcher.pid}, profile):
            while True:
                position = matcher_position(client, shard)
                now = time.perf_counter()
                if not first and position != initial:
                    first = now
                    cpu.start()
                if position >= target:
                    done = now
                    cpu_usage = cpu.stop()
                    break
                if not matcher.alive():
                    raise RuntimeError(f"drain matcher died:\n{matcher.tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError("drain did not finish in 600 s")
                time.sleep(0.005)
        matcher.stop()
        replies, rejected = count_replies(listener)
        listener.close()
    finally:
        matcher.stop()
    client.close()
    seconds = done - first
    figures: dict[str, float | int] = {
        "matcher_drain_commands": count,
        "matcher_drain_seconds": round(seconds, 3),
        "matcher_drain_commands_per_s": round(count / seconds, 1),
        "matcher_drain_with_startup_commands_per_s": round(count / (done - launched), 1),
        "matcher_drain_replies": replies,
        "matcher_drain_rejected": sum(rejected.values()),
        "matcher_drain_queue_seconds": round(queue_seconds, 3),
    }
    for who, pct in cpu_usage.items():
        figures[f"matcher_drain_cpu_{who}_pct"] = pct
    print(
        f"{'(profiled) ' if profile else ''}matcher alone: {count:,} PlaceOrder in "
        f"{seconds:.2f} s = "
        f"{count / seconds:,.0f} commands/s ({count / (done - launched):,.0f}/s with startup); "
        f"replies {replies:,}, rejected {dict(rejected)}; queued in {queue_seconds:.1f} s; "
        f"cpu {cpu_usage}"
    )
    return figures


def fence_cost(client: redis.Redis, count: int = 4000) -> dict[str, float]:
    """What the one-writer fence costs a commit: the matcher's commit script behind its lease
    check (``model.lease.FENCE``) and bare, alternating in blocks of 50, on the same keys with a
    2 KB events batch (fsynced, as every commit); µs per call, p50 of each, and the difference.
    """
    lease, token = "bench:fence:lease", "bench-token"
    client.set(lease, token)
    fenced = fenced_script(client, COMMIT_SCRIPT)
    bare = client.register_script(COMMIT_SCRIPT)
    keys = [lease, "bench:fence:events", "bench:fence:applied", "bench:fence:snapshot", "cmd"]
    args = [token, "1-0", b"x" * 2048, 1, b"", b"0", wire.BATCH_FIELD, wire.SEQ_FIELD,
            wire.CMD_FIELD, wire.WRITER_FIELD, 1]  # fmt: skip
    times: dict[str, list[int]] = {"fenced": [], "bare": []}
    scripts = {"fenced": fenced, "bare": bare}
    for block in range(count // 100):
        for name in ("fenced", "bare") if block % 2 == 0 else ("bare", "fenced"):
            for _ in range(50):
                started = time.perf_counter_ns()
                scripts[name](keys=keys, args=args)
                times[name].append(time.perf_counter_ns() - started)
    client.delete(*keys)
    p50 = {name: percentile(sorted(spans), 50) / 1000 for name, spans in times.items()}
    print(
        f"commit script, fenced: p50 {p50['fenced']:.1f} µs; bare: {p50['bare']:.1f} µs; "
        f"the fence costs {p50['fenced'] - p50['bare']:+.1f} µs a batch",
        flush=True,
    )
    return {
        "commit_fenced_p50_us": round(p50["fenced"], 1),
        "commit_bare_p50_us": round(p50["bare"], 1),
        "fence_cost_us": round(p50["fenced"] - p50["bare"], 1),
    }


def durable_write_floor(client: redis.Redis, count: int = 2000) -> dict[str, float]:
    """Round trips of one small XADD (fsynced before the answer) from this process.

    An order waits for one such durable write (the edge's XADD of the command; the matcher
    answers before its own commit is on disk), so this is a floor under the 1-connection
    latency.
    """
    key = "bench:fsync-probe"
    times = []
    for i in range(count):
        started = time.perf_counter_ns()
        client.xadd(key, {b"m": b"x" * 120}, maxlen=100, approximate=True)
        if i >= count // 10:
            times.append(time.perf_counter_ns() - started)
    client.delete(key)
    times.sort()
    figures = {
        "redis_xadd_p50_ms": _ms(percentile(times, 50)),
        "redis_xadd_p99_ms": _ms(percentile(times, 99)),
    }
    print(
        f"durable XADD round trip (appendfsync always): p50 {figures['redis_xadd_p50_ms']:.3f} "
        f"ms, p99 {figures['redis_xadd_p99_ms']:.3f} ms",
        flush=True,
    )
    return figures


# --- orchestration ---------------------------------------------------------------------------


# --- one order, stage by stage ----------------------------------------------------------------

#: The stages of one order, in order: (label, from mark, to mark). A mark is ``process.name``;
#: the client's marks are its write and the end of its read, the edge's and the matcher's are
#: those of model/stages.py. Consecutive, so the p50s add up to about the whole.
STAGES: tuple[tuple[str, str, str], ...] = (
    (
        "HTTP in: client write to the app called (kernel, uvicorn, httptools)",
        "client.send",
        "edge.app",
    ),
    ("auth: host, headers, bearer token (cached verification)", "edge.app", "edge.auth"),
    ("body read and decoded (msgspec)", "edge.auth", "edge.decode"),
    ("rate limit, grid checks, command built", "edge.decode", "edge.command"),
    ("XADD, fsync, matcher wakes from XREAD", "edge.command", "matcher.read"),
    ("apply: decode the entry, Engine.apply", "matcher.read", "matcher.applied"),
    ("events and replies encoded, PUBLISH sent", "matcher.applied", "matcher.published"),
    (
        "reply wake at the edge (pub/sub read, decode, task switch)",
        "matcher.published",
        "edge.reply",
    ),
    ("view built, JSON encoded", "edge.reply", "edge.encoded"),
    ("response written (uvicorn)", "edge.encoded", "edge.sent"),
    ("HTTP out: to the end of the client's read", "edge.sent", "client.recv"),
)
#: Also shown, not on the path above: the edge's own view of its XADD, and the matcher's commit.
SIDE_STAGES: tuple[tuple[str, str, str], ...] = (
    (
        "(matcher: published to commit fsynced, off the path)",
        "matcher.published",
        "matcher.committed",
    ),
)


async def traced_orders(
    host: str, port: int, requests: Sequence[bytes], count: int
) -> list[dict[str, int | str]]:
    """``count`` orders one after another on one connection, each with its write and read times
    (``time.monotonic_ns``, the clock model/stages.py uses) and its order id."""
    conn = Connection(host, port)
    await conn.open()
    rows: list[dict[str, int | str]] = []
    try:
        for i in range(count):
            send = time.monotonic_ns()
            status, body = await conn.exchange(requests[i % len(requests)])
            recv = time.monotonic_ns()
            if status == 200:
                order_id = msgspec.json.decode(body)["orderId"]
                rows.append({"order_id": order_id, "send": send, "recv": recv})
    finally:
        conn.close()
    return rows


def stage_breakdown(
    client_rows: list[dict[str, int | str]], folder: Path
) -> tuple[dict[str, float], list[str]]:
    """Join the client's, the edge's and the matcher's marks; the p50 and p99 of each stage in
    µs as figures, and the table's lines."""
    edge: dict[str, dict[str, int | str]] = {}
    matcher: dict[str, dict[str, int | str]] = {}
    for path in folder.glob("*.jsonl"):
        target = edge if path.name.startswith("edge-") else matcher
        key = "order_id" if target is edge else "cmd_id"
        for line in path.read_text().splitlines():
            row = json.loads(line)
            target[str(row[key])] = row
    joined: list[dict[str, int]] = []
    for row in client_rows:
        e = edge.get(str(row["order_id"]))
        m = matcher.get(str(e["cmd_id"])) if e is not None else None
        if e is None or m is None:
            continue
        marks = {f"client.{k}": v for k, v in row.items() if isinstance(v, int)}
        marks |= {f"edge.{k}": v for k, v in e.items() if isinstance(v, int)}
        marks |= {f"matcher.{k}": v for k, v in m.items() if isinstance(v, int)}
        joined.append(marks)
    figures: dict[str, float] = {"stage_orders": len(joined)}
    rows: list[tuple[str, float, float]] = []
    for n, (label, start, end) in enumerate((*STAGES, *SIDE_STAGES), start=1):
        spans = sorted(m[end] - m[start] for m in joined if start in m and end in m)
        if spans:
            p50, p99 = spans[len(spans) // 2] / 1000, spans[int(len(spans) * 0.99)] / 1000
            figures[f"stage{n}_p50_us"], figures[f"stage{n}_p99_us"] = round(p50, 1), round(p99, 1)
            rows.append((label, p50, p99))
    totals = sorted(m["client.recv"] - m["client.send"] for m in joined)
    if totals:
        whole = totals[len(totals) // 2] / 1000, totals[int(len(totals) * 0.99)] / 1000
        figures["stage_total_us"] = round(whole[0], 1)
        rows.append(("whole order, client to client", *whole))
    title = f"One order at 1 connection, stage by stage ({len(joined):,} traced orders, µs)"
    lines = [f"| {title} | p50 | p99 |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {p50:,.1f} | {p99:,.1f} |" for label, p50, p99 in rows]
    return figures, lines


@dataclass
class Options:
    quick: bool
    duration: float
    warmup: float
    timeout: float
    seed: int
    users: int
    requests: int
    drain: int
    profile: Path | None
    json: Path | None = None


class Bench:
    """Owns the services and runs the measurements in order."""

    def __init__(self, options: Options, services: EmbeddedServices, workdir: Path) -> None:
        self.options = options
        self.services = services
        self.workdir = workdir
        settings = get_settings()
        self.spec = load_markets(settings.markets_file).markets[MARKET]
        self.shard = settings.shards[MARKET]
        self.env = {
            **os.environ,
            **SERVICE_ENV,
            "REDIS_URL": services.redis_url,
            "DATABASE_URL": services.database_url,
            "PYTHONPATH": str(ROOT),
        }
        self.client = redis.Redis.from_url(services.redis_url)
        self.matcher = Service("matcher", [], self.env, workdir / "matcher.log")
        self.edge: Service | None = None
        self.port = 0
        self.host = "127.0.0.1"
        self.rng = random.Random(options.seed)
        self.users: list[User] = []
        self.requests: list[bytes] = []
        self.results: list[RunResult] = []
        self.stage_table: list[str] = []
        self.figures: dict[str, float | int] = {}
        self.runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)

    def close(self) -> None:
        try:
            if self.edge is not None:
                self.edge.stop()
            self.matcher.stop()
        finally:
            self.runner.close()
            self.client.close()

    def start_edge(self, workers: int = 1) -> None:
        if self.edge is not None:
            self.edge.stop()
        self.port = free_port()
        args = ["--port", str(self.port)] + (["--workers", str(workers)] if workers > 1 else [])
        self.edge = Service("edge", args, self.env, self.workdir / f"edge-w{workers}.log")
        self.edge.start()
        _wait_http_ready(f"http://{self.host}:{self.port}", self.edge)

    def cpu_meter(self) -> CpuMeter:
        return CpuMeter(
            lambda: {
                "edge": (self.edge.pid if self.edge else None, True),  # with its workers
                "matcher": (self.matcher.pid, False),
                "redis": (self.services.redis.pid, False),
                "client": (os.getpid(), False),  # not its children: they are the servers
            }
        )

    def reset_book(self, include_resting: bool = False) -> None:
        """Cancel the load users' open orders (and the resting accounts' when asked)."""
        ids = [u.user_id for u in self.users]
        if include_resting:
            ids += [SYNTHETIC_USER_BASE + i for i in range(REST_USERS)]
        wait_drained(
            self.client, self.shard, submit(self.client, self.shard, cancel_all(ids)), self.matcher
        )

    def closed(self, name: str, connections: int, record: bool = True) -> RunResult:
        o = self.options
        stats, cpu = self.runner.run(
            closed_loop(
                self.host,
                self.port,
                self.requests,
                connections,
                o.warmup,
                o.duration,
                o.timeout,
                self.rng,
                self.cpu_meter(),
            )
        )
        result = _summarise(name, connections, stats, cpu)
        self.reset_book()
        if record:
            self._record(result)
        return result

    def paced(self, name: str, rate: float) -> RunResult:
        o = self.options
        stats, cpu = self.runner.run(
            open_loop(
                self.host,
                self.port,
                self.requests,
                rate,
                o.warmup,
                o.duration,
                o.timeout,
                self.rng,
                self.cpu_meter(),
            )
        )
        result = _summarise(name, OPEN_LOOP_CONNECTIONS, stats, cpu, rate=rate)
        self.reset_book()
        self._record(result)
        return result

    def _record(self, result: RunResult) -> None:
        self.results.append(result)
        self.figures.update(result.figures())
        print(result.line(), flush=True)
        other, steal = result.cpu.get("other", 0), result.cpu.get("steal", 0)
        if other > 20 or steal > 10:
            print(
                f"{'':<17}WARNING: other processes used {other:.0f}% of a core and the host "
                f"stole {steal:.0f}% during this run; its figures are disturbed",
                flush=True,
            )

    def run(self) -> None:
        o = self.options
        print(f"load average before: {os.getloadavg()}; cpus {os.cpu_count()}", flush=True)
        self.matcher.start()
        self.start_edge()
        started = time.perf_counter()
        self.users = self.runner.run(sign_up_users(self.host, self.port, o.users, o.seed))
        print(
            f"{len(self.users)} users signed up and funded in {time.perf_counter() - started:.1f} s"
        )
        self._build_requests()
        self.figures.update(durable_write_floor(self.client))
        self.figures.update(fence_cost(self.client))
        warm = self.closed("warmup", 16, record=False)
        print(f"(warm-up: {warm.orders_per_s:,.0f} orders/s, not recorded)", flush=True)

        self.closed("c1", 1)
        c16 = self.closed("c16", 16)
        c64 = self.closed("c64", 64)
        best = max(c16.orders_per_s, c64.orders_per_s)
        self.figures["max_orders_per_s"] = round(best, 1)
        self.paced("open50", 0.5 * best)
        self.paced("open80", 0.8 * best)

        if o.profile is not None:
            self.profiled_run(o.profile)

        placed = time.perf_counter()
        resting = resting_orders(REST_ORDERS, OrderIdFactory(BENCH_NODE), self.rng)
        rest_ids = [SYNTHETIC_USER_BASE + i for i in range(REST_USERS)]
        with ReplyListener(self.client, [self.shard], BENCH_EDGE) as listener:
            last = submit(self.client, self.shard, [*deposits(rest_ids), *resting])
            wait_drained(self.client, self.shard, last, self.matcher)
            replies, rejected = count_replies(listener)
        if rejected:
            raise RuntimeError(f"resting orders rejected: {dict(rejected)}")
        print(
            f"{REST_ORDERS:,} resting orders placed via the stream in "
            f"{time.perf_counter() - placed:.1f} s ({replies:,} replies, none rejected)",
            flush=True,
        )
        self.closed("rest_c1", 1)
        self.closed("rest_c16", 16)
        self.reset_book(include_resting=True)

        self.start_edge(workers=2)
        self._build_requests()
        self.closed("warmup_w2", 16, record=False)
        self.closed("w2_c16", 16)
        self.closed("w2_c64", 64)
        if self.edge is not None:
            self.edge.stop()
        self.matcher.stop()
        self.stage_run()

        base = self.services.redis_url.rsplit("/", 1)[0]
        drain_url = f"{base}/1"
        self.figures.update(
            matcher_drain(drain_url, self.shard, o.drain, self.env, self.workdir, o.seed)
        )
        if o.profile is not None:
            matcher_drain(drain_url, self.shard, o.drain, self.env, self.workdir, o.seed, o.profile)

    def stage_run(self) -> None:
        """Orders one at a time through an edge and a matcher that trace their stages
        (``TIDEWATER_STAGE_TRACE``, model/stages.py); the breakdown goes in the figures."""
        folder = self.workdir / "stages"
        env = {**self.env, "TIDEWATER_STAGE_TRACE": str(folder)}
        matcher = Service("matcher", [], env, self.workdir / "matcher-stages.log")
        self.port = free_port()
        edge = Service("edge", ["--port", str(self.port)], env, self.workdir / "edge-stages.log")
        try:
            matcher.start()
            edge.start()
            _wait_http_ready(f"http://{self.host}:{self.port}", edge)
            self._build_requests()
            count = 500 if self.options.quick else 3000
            self.runner.run(traced_orders(self.host, self.port, self.requests, 200))  # warm-up
            rows = self.runner.run(traced_orders(self.host, self.port, self.requests, count))
        finally:
            edge.stop()  # SIGTERM: each writes its marks as it exits
            matcher.stop()
        figures, self.stage_table = stage_breakdown(rows, folder)
        self.figures.update(figures)
        print("\n".join(self.stage_table), flush=True)

    def _build_requests(self) -> None:
        """The load's requests for the edge now running (its port is in the Host header).

        Their own generator, so every edge gets the same orders.
        """
        host = f"{self.host}:{self.port}"
        self.requests = make_order_requests(
            self.users, self.spec, host, self.options.requests, random.Random(self.options.seed)
        )

    def profiled_run(self, out_dir: Path) -> None:
        """An extra 16-connection run with py-spy sampling the edge and the matcher."""
        targets = {"edge": self.edge.pid if self.edge else None, "matcher": self.matcher.pid}
        with py_spy(targets, out_dir):
            result = self.closed("c16_profiled", 16, record=False)
        print(f"(profiled, not in the figures) {result.line()}", flush=True)

    def report(self) -> None:
        f = self.figures
        rest_ratio = f.get("rest_c16_orders_per_s", 0) / max(f.get("c16_orders_per_s", 1), 1)
        f["rest_c16_vs_c16"] = round(rest_ratio, 3)
        f["w2_c16_vs_c16"] = round(
            f.get("w2_c16_orders_per_s", 0) / max(f.get("c16_orders_per_s", 1), 1), 3
        )
        print("\ntargets:")
        for entry in targeted("edge"):
            value = f.get(entry.key)
            if value is None:
                continue
            ok = bool(entry.met(value))
            f[f"target_{entry.key}_met"] = int(ok)
            print(
                f"  {entry.key:<32} {value:>10,.3f}  {entry.op} {entry.target:>10,.1f}  "
                f"{verdict(ok)}"
            )
        errors = sum(v for k, v in f.items() if k.endswith(("_errors", "_timeouts")))
        f["errors_and_timeouts"] = errors
        print(f"  errors + timeouts over all runs: {errors}")
        print(json.dumps(f, separators=(",", ":")))


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs for a smoke test")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured seconds per run")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=None, help="load accounts")
    parser.add_argument("--requests", type=int, default=20_000, help="distinct prebuilt requests")
    parser.add_argument("--drain", type=int, default=None, help="commands for the matcher alone")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy a c16 run into DIR")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures and targets to this file"
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    return Options(
        quick=quick,
        duration=args.duration if args.duration is not None else (1.0 if quick else 10.0),
        warmup=args.warmup if args.warmup is not None else (0.3 if quick else 1.0),
        timeout=args.timeout,
        seed=args.seed,
        users=args.users if args.users is not None else (16 if quick else 100),
        requests=args.requests,
        drain=args.drain if args.drain is not None else (50_000 if quick else 200_000),
        profile=args.profile,
        json=args.json,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    title = "End to end: HTTP -> edge -> Redis -> matcher -> reply (bench/order_path.py)"
    result = JsonResult("edge", title, options.json, options.quick)
    # Ctrl-C and SIGTERM stop everything in order, even when started with SIGINT ignored
    # (as a background job of a non-interactive shell is).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        with temp_workdir() as workdir, embedded_services() as services:
            migrate(services.database_url)
            result.servers = server_versions(services)
            bench = Bench(options, services, workdir)
            try:
                bench.run()
            except KeyboardInterrupt:
                raise
            except BaseException:
                for service in (bench.edge, bench.matcher):
                    if service is not None and service.log.exists():
                        print(
                            f"--- {service.log.name} (tail) ---\n{service.tail()}", file=sys.stderr
                        )
                raise
            finally:
                bench.close()
        bench.report()  # after the servers' goodbye logs: the JSON line comes last
        if bench.stage_table:
            result.tables.append(bench.stage_table)
        result.write(bench.figures, exit_ok=True)
    except KeyboardInterrupt:
        print("interrupted: every process this run started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
