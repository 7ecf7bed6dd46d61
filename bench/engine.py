"""Benchmark the matching engine: throughput, latency per ``Engine.apply``, memory per order.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/engine.py            # full run, a few minutes
    PYTHONPATH=. .venv/bin/python bench/engine.py --quick    # smoke run, seconds
    PYTHONPATH=. .venv/bin/python bench/engine.py --profile  # cProfile of W1, no figures

Method
------
* Every workload is seeded (``--seed``) and generated in full before anything is timed.
* Accounts are funded by ``Deposit`` commands (and W2's book is pre-filled) on a fresh engine
  before each timed run; that setup is not timed.
* Throughput: one warm-up run, then the best of ``--repeat`` runs, each on a fresh engine, timing
  the bare loop ``for command in commands: engine.apply(command)``. One process, one thread;
  ``--cpu N`` pins it to CPU N (not by default: on a shared machine a fixed CPU can be the busy
  one). The garbage collector stays on, as in the service.
* Latency: a separate pass on a fresh engine that wraps each ``apply`` in two
  ``time.perf_counter_ns()`` calls, so the timer does not slow the throughput figure. Percentiles
  are nearest-rank over every apply and include the timer's own cost (printed).
* ``matcher.invariants.check_engine`` runs after the timed runs (untimed) and must print ``[]``.

Workloads
---------
* W1: limit GTC orders around a mid of 10,000 ticks from 1,000 funded users: 70% passive (mid
  -/+ 1..50 ticks on the resting side), 30% aggressive (through the mid by 1..20 ticks), 1..100
  lots. The book starts empty and grows. Counted: one command per order.
* W2, exchange-core's mix over 1,000 accounts: 9% GTC, 3% IOC, 6% cancel, 82% move. A move is a
  ``CancelOrder`` of an open order followed by a ``PlaceOrder`` of its remaining lots at a new
  price by the same user: both applies are timed, but the move counts as ONE command in
  commands/s (applies/s is printed too; latency percentiles are per apply). The generator keeps
  the book at about 1,000 orders over about 750 levels: a GTC order rests at a passive price
  (mid -/+ 1..W2_SPREAD ticks) while the book holds fewer than 1,000 orders, and otherwise takes
  exactly the whole best opposite level (so it never rests); IOC orders take from the best level.
  To know what is open, the generator runs its commands through a shadow engine and keeps its
  own book replica from the events (it never reads engine internals).
* Memory: 1M non-crossing GTC orders from 10,000 users, on up to 2 x 5,000 levels. Measured as
  the growth of memory traced by ``tracemalloc`` (every Python allocation the engine keeps, without
  allocator slack) and, as a cross-check, the growth of the process RSS in a separate run without
  tracemalloc. The orders are built one at a time and dropped after ``apply``, as a service that
  decodes them from the wire would, so the ints an order keeps (id, user, price, a realistic
  microsecond ``ts``) count against the engine.
* Reference: W1's first ``--ref-orders`` orders through ``tests.support.reference_matcher``
  (O(n), written for the differential test) and through the engine, same method; the printed
  ratio is engine commands/s over reference commands/s. The two are also checked to emit equal
  events on a prefix.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import os
import platform
import pstats
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from msgspec.structs import replace
from sortedcontainers import SortedList

import matcher
from bench._common import ROOT, JsonResult, target_of
from matcher.engine import Engine
from matcher.invariants import check_engine
from matcher.order_index import CLIENT_ID_MEMORY
from model.commands import CancelOrder, Command, Deposit, PlaceOrder
from model.config import MarketConfig, load_markets
from model.enums import OrderType, Side, TimeInForce
from model.events import (
    Event,
    OrderClosed,
    OrderRested,
    Rejected,
    TradeExecuted,
)
from model.ids import OrderId, UserId
from model.numbers import MarketSpec

MID = 10_000
W1_PASSIVE = 0.70
W1_PASSIVE_DEPTH = 50
W1_AGGRESSIVE_DEPTH = 20
W1_USERS = 1_000
MAX_LOTS = 100
W2_USERS = 1_000
W2_TARGET_ORDERS = 1_000
W2_SPREAD = 820  # passive prices mid -/+ 1..820: ~750 distinct levels hold ~1,000 orders
W2_MIX = (("gtc", 0.09), ("ioc", 0.03), ("cancel", 0.06), ("move", 0.82))
MEM_USERS = 10_000
MEM_DEPTH = 5_000
TS0 = 1_700_000_000_000_000  # command times: microseconds since the epoch, as the edge stamps them
# Atoms of each asset per user: far more than any workload locks, and 10,000 users' worth stays
# under the engine's cap on an asset's total (2**62).
FUNDS = 10**13
MAX_OPEN_ORDERS = 10**9
WARMUP_APPLIES = 300_000
REF_BUDGET_S = 60.0  # stop repeating the reference once its runs took this long
REF_COMPARE = 5_000  # orders over which engine and reference events are compared

# The targets live in bench/_common.FIGURES, the one table every bench and the report read.
TARGET_W1_CMD_PER_S = target_of("matcher", "w1_cmd_per_s")
TARGET_W1_P99_US = target_of("matcher", "w1_p99_us")
TARGET_W2_CMD_PER_S = target_of("matcher", "w2_cmd_per_s")
TARGET_BYTES_PER_ORDER = target_of("matcher", "bytes_per_resting_order")

_BUY, _SELL = Side.BUY, Side.SELL
_LIMIT = OrderType.LIMIT


class Matcher(Protocol):
    """What the benchmark needs of an engine: the one entry point."""

    def apply(self, command: Command) -> list[Event]: ...


MatcherFactory = Callable[[MarketConfig], Matcher]
Figures = tuple[bool, dict[str, Any]]  # (checks passed, figures for the JSON line)


@dataclass
class Workload:
    """Commands to apply on a fresh engine: ``setup`` untimed, then ``timed``."""

    name: str
    setup: list[Command]
    timed: list[Command]
    counted: int  # commands of the mix; a W2 move is two applies but one command
    notes: list[str] = field(default_factory=list)


@dataclass
class Throughput:
    best_s: float
    runs_s: list[float]
    counted: int
    applies: int

    @property
    def cmd_per_s(self) -> float:
        return self.counted / self.best_s

    @property
    def apply_per_s(self) -> float:
        return self.applies / self.best_s


@dataclass
class Latency:
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float
    rejected: int
    trades: int
    gc_collections: int
    gc_full: int
    gc_longest_ms: float


class _GcWatch:
    """Count the collector's passes and their longest pause, through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.collections = self.full = 0
        self.longest_ns = 0
        self._started = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        self.collections += 1
        self.full += info["generation"] == 2
        self.longest_ns = max(self.longest_ns, time.perf_counter_ns() - self._started)


# --- commands --------------------------------------------------------------------------------


def _limit(
    order_id: int,
    user: int,
    symbol: str,
    side: Side,
    price: int,
    qty: int,
    tif: TimeInForce,
    ts: int,
) -> PlaceOrder:
    return PlaceOrder(
        user_id=UserId(user),
        ts=ts,
        order_id=OrderId(order_id),
        market=symbol,
        side=side,
        type=_LIMIT,
        price=price,
        quantity=qty,
        tif=tif,
    )


def _deposits(spec: MarketSpec, users: int) -> list[Command]:
    return [
        Deposit(user_id=UserId(user), ts=0, asset=asset, amount=FUNDS)
        for user in range(1, users + 1)
        for asset in (spec.base.code, spec.quote.code)
    ]


def pick_market(config: MarketConfig) -> MarketSpec:
    """BTC_USDC if present, else the first market whose grid holds the workloads' prices."""
    spec = config.markets.get("BTC_USDC")
    if spec is not None and spec.max_price_ticks > MID + MEM_DEPTH:
        return spec
    for candidate in config.markets.values():
        if candidate.max_price_ticks > MID + MEM_DEPTH and candidate.max_quantity_lots >= 10**4:
            return candidate
    raise SystemExit("no market in the config allows prices around 10,000 ticks")


def make_w1(spec: MarketSpec, orders: int, seed: int) -> Workload:
    """W1: ``orders`` limit GTC orders, 70% passive and 30% aggressive around the mid."""
    rng = random.Random(seed)
    symbol = spec.symbol
    timed: list[Command] = []
    passive = aggressive = 0
    for i in range(1, orders + 1):
        side = _BUY if rng.random() < 0.5 else _SELL
        if rng.random() < W1_PASSIVE:
            passive += 1
            offset = -rng.randint(1, W1_PASSIVE_DEPTH)
        else:
            aggressive += 1
            offset = rng.randint(1, W1_AGGRESSIVE_DEPTH)
        price = MID + offset if side is _BUY else MID - offset
        user = rng.randint(1, W1_USERS)
        qty = rng.randint(1, MAX_LOTS)
        timed.append(_limit(i, user, symbol, side, price, qty, TimeInForce.GTC, TS0 + i))
    notes = [f"{passive:,} passive, {aggressive:,} aggressive, {W1_USERS:,} users, all GTC"]
    return Workload("W1", _deposits(spec, W1_USERS), timed, orders, notes)


class _Resting:
    __slots__ = ("price", "remaining", "side", "user")

    def __init__(self, user: int, side: Side, price: int, remaining: int) -> None:
        self.user = user
        self.side = side
        self.price = price
        self.remaining = remaining


class _BookReplica:
    """The W2 generator's view of the book, kept from events alone."""

    def __init__(self) -> None:
        self.orders: dict[int, _Resting] = {}
        self.ids: list[int] = []  # the open order ids, for O(1) random picks
        self.pos: dict[int, int] = {}
        self.totals: dict[Side, dict[int, int]] = {_BUY: {}, _SELL: {}}
        self.prices: dict[Side, SortedList] = {_BUY: SortedList(), _SELL: SortedList()}

    def observe(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, OrderRested):
                self._add(event.order_id, event.user_id, event.side, event.price, event.remaining)
            elif isinstance(event, TradeExecuted):
                maker = self.orders[event.maker_order_id]
                maker.remaining -= event.quantity
                self.totals[maker.side][maker.price] -= event.quantity
                if event.maker_remaining == 0:
                    self._remove(event.maker_order_id)
            elif isinstance(event, OrderClosed) and event.was_resting:
                self._remove(event.order_id)
            elif isinstance(event, Rejected):
                raise AssertionError(f"W2 generator made a rejected command: {event}")

    def _add(self, order_id: int, user: int, side: Side, price: int, remaining: int) -> None:
        self.orders[order_id] = _Resting(user, side, price, remaining)
        self.pos[order_id] = len(self.ids)
        self.ids.append(order_id)
        totals = self.totals[side]
        if price not in totals:
            totals[price] = 0
            self.prices[side].add(price)
        totals[price] += remaining

    def _remove(self, order_id: int) -> None:
        order = self.orders.pop(order_id)
        index = self.pos.pop(order_id)
        last = self.ids.pop()
        if last != order_id:
            self.ids[index] = last
            self.pos[last] = index
        totals = self.totals[order.side]
        totals[order.price] -= order.remaining
        if totals[order.price] == 0:
            del totals[order.price]
            self.prices[order.side].remove(order.price)

    def best(self, side: Side) -> int | None:
        """Best price of the side an order of ``side`` rests on."""
        prices = self.prices[side]
        if not prices:
            return None
        return int(prices[-1] if side is _BUY else prices[0])

    def levels(self) -> int:
        return len(self.totals[_BUY]) + len(self.totals[_SELL])


def make_w2(config: MarketConfig, spec: MarketSpec, commands: int, seed: int) -> Workload:
    """W2: exchange-core's mix, the book held at ~1,000 orders by the generator's choices."""
    rng = random.Random(seed)
    symbol = spec.symbol
    shadow = Engine(config, max_open_orders=MAX_OPEN_ORDERS)
    book = _BookReplica()
    setup = _deposits(spec, W2_USERS)
    for command in setup:
        shadow.apply(command)
    next_id = 0
    ts = TS0

    def passive(user: int, side: Side, qty: int) -> PlaceOrder:
        nonlocal next_id, ts
        next_id += 1
        ts += 1
        offset = rng.randint(1, W2_SPREAD)
        price = MID - offset if side is _BUY else MID + offset
        return _limit(next_id, user, symbol, side, price, qty, TimeInForce.GTC, ts)

    def run(command: Command) -> None:
        book.observe(shadow.apply(command))

    for _ in range(W2_TARGET_ORDERS):
        side = _BUY if rng.random() < 0.5 else _SELL
        command = passive(rng.randint(1, W2_USERS), side, rng.randint(1, MAX_LOTS))
        setup.append(command)
        run(command)

    timed: list[Command] = []
    counts = dict.fromkeys((kind for kind, _ in W2_MIX), 0)
    thresholds = []
    acc = 0.0
    for kind, share in W2_MIX:
        acc += share
        thresholds.append((acc, kind))
    orders_sum = levels_sum = samples = 0
    for i in range(commands):
        draw = rng.random()
        kind = next((k for limit, k in thresholds if draw < limit), "move")
        if kind in ("cancel", "move") and not book.ids:
            kind = "gtc"
        counts[kind] += 1
        if kind in {"gtc", "ioc"}:
            user = rng.randint(1, W2_USERS)
            side = _BUY if rng.random() < 0.5 else _SELL
            opposite = _SELL if side is _BUY else _BUY
            best = book.best(opposite)
            if kind == "gtc" and (best is None or len(book.orders) < W2_TARGET_ORDERS):
                command = passive(user, side, rng.randint(1, MAX_LOTS))
            else:
                next_id += 1
                ts += 1
                if best is None:
                    price, qty = (MID + 1 if side is _BUY else MID - 1), rng.randint(1, MAX_LOTS)
                elif kind == "gtc":
                    # Take exactly the best level: fills (or stops on a self-trade), never rests.
                    price, qty = best, book.totals[opposite][best]
                else:
                    price, qty = best, rng.randint(1, MAX_LOTS)
                tif = TimeInForce.GTC if kind == "gtc" else TimeInForce.IOC
                command = _limit(next_id, user, symbol, side, price, qty, tif, ts)
            timed.append(command)
            run(command)
        else:
            order_id = book.ids[rng.randrange(len(book.ids))]
            order = book.orders[order_id]
            ts += 1
            cancel = CancelOrder(
                user_id=UserId(order.user), ts=ts, market=symbol, order_id=OrderId(order_id)
            )
            timed.append(cancel)
            run(cancel)
            if kind == "move":
                command = passive(order.user, order.side, order.remaining)
                timed.append(command)
                run(command)
        if i % 100 == 0:
            orders_sum += len(book.orders)
            levels_sum += book.levels()
            samples += 1
    problems = check_engine(shadow)
    if problems:
        raise AssertionError(f"W2 shadow engine broke invariants: {problems[:5]}")
    mix = ", ".join(f"{k} {v / commands:.1%}" for k, v in counts.items())
    notes = [
        f"mix: {mix}; {len(timed):,} applies",
        f"book while generating: {orders_sum / samples:,.0f} orders over "
        f"{levels_sum / samples:,.0f} levels on average (sampled every 100 commands)",
    ]
    return Workload("W2", setup, timed, commands, notes)


# --- measuring -------------------------------------------------------------------------------


def fresh(factory: MatcherFactory, config: MarketConfig, workload: Workload) -> Matcher:
    """A new engine with the workload's untimed setup applied."""
    engine = factory(config)
    _setup(engine, workload.setup)
    return engine


def _setup(engine: Matcher, commands: Sequence[Command]) -> None:
    for command in commands:
        events = engine.apply(command)
        if events and isinstance(events[0], Rejected):
            raise AssertionError(f"setup command rejected: {events[0]}")


def _timed_run(engine: Matcher, commands: Sequence[Command]) -> float:
    apply = engine.apply
    gc.collect()
    start = time.perf_counter_ns()
    for command in commands:
        apply(command)
    return (time.perf_counter_ns() - start) / 1e9


def throughput(
    factory: MatcherFactory,
    config: MarketConfig,
    workload: Workload,
    repeat: int,
    *,
    warmup: bool = True,
    budget_s: float | None = None,
) -> tuple[Throughput, Matcher]:
    """Warm up once, then the best of ``repeat`` runs on fresh engines; return the last engine.

    The warm-up applies at most ``WARMUP_APPLIES`` commands: enough to warm the interpreter's
    caches and the allocator, without another full pass of W2.
    """
    if warmup:
        _timed_run(fresh(factory, config, workload), workload.timed[:WARMUP_APPLIES])
    runs: list[float] = []
    engine: Matcher | None = None
    for _ in range(repeat):
        engine = None  # free the previous run's engine before building the next one
        engine = fresh(factory, config, workload)
        runs.append(_timed_run(engine, workload.timed))
        if budget_s is not None and sum(runs) > budget_s:
            break
    assert engine is not None
    result = Throughput(min(runs), runs, workload.counted, len(workload.timed))
    return result, engine


def timer_overhead_ns() -> float:
    """Mean cost of one ``perf_counter_ns`` pair with nothing between."""
    clock = time.perf_counter_ns
    n = 200_000
    start = clock()
    for _ in range(n):
        clock()
        clock()
    return (clock() - start) / n


def _percentile(ordered: list[int], q: float) -> float:
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index] / 1000


def latency(factory: MatcherFactory, config: MarketConfig, workload: Workload) -> Latency:
    """Time every apply on its own, in a pass of its own."""
    engine = fresh(factory, config, workload)
    apply = engine.apply
    clock = time.perf_counter_ns
    samples = [0] * len(workload.timed)
    rejected = trades = 0
    watch = _GcWatch()
    gc.collect()
    gc.callbacks.append(watch)
    try:
        for i, command in enumerate(workload.timed):
            start = clock()
            events = apply(command)
            samples[i] = clock() - start
            for event in events:
                if type(event) is TradeExecuted:
                    trades += 1
                elif type(event) is Rejected:
                    rejected += 1
    finally:
        gc.callbacks.remove(watch)
    samples.sort()
    return Latency(
        _percentile(samples, 0.50),
        _percentile(samples, 0.99),
        _percentile(samples, 0.999),
        samples[-1] / 1000,
        rejected,
        trades,
        watch.collections,
        watch.full,
        watch.longest_ns / 1e6,
    )


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_order(
    config: MarketConfig, spec: MarketSpec, orders: int, seed: int, *, traced: bool
) -> tuple[float, Engine]:
    """Bytes the engine keeps per resting order once ``orders`` non-crossing orders rest."""
    engine = Engine(config, max_open_orders=MAX_OPEN_ORDERS)
    _setup(engine, _deposits(spec, MEM_USERS))
    rng = random.Random(seed)
    symbol = spec.symbol
    gc.collect()
    if traced:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = _rss_bytes()
    for i in range(1, orders + 1):
        side = _BUY if rng.random() < 0.5 else _SELL
        offset = rng.randint(1, MEM_DEPTH)
        price = MID - offset if side is _BUY else MID + offset
        user = rng.randint(1, MEM_USERS)
        qty = rng.randint(1, MAX_LOTS)
        engine.apply(_limit(i, user, symbol, side, price, qty, TimeInForce.GTC, TS0 + i))
    gc.collect()
    if traced:
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        after = _rss_bytes()
    if len(engine.orders) != orders:
        raise AssertionError(f"{len(engine.orders):,} orders rest, expected {orders:,}")
    return (after - before) / orders, engine


def load_reference() -> tuple[MatcherFactory | None, str]:
    """The test suite's reference matcher, or ``None`` and why not."""
    try:
        from tests.support.reference_matcher import ReferenceEngine
    except ImportError as exc:
        return None, str(exc)

    def factory(config: MarketConfig) -> Matcher:
        try:
            engine: Matcher = ReferenceEngine(config, max_open_orders=MAX_OPEN_ORDERS)
        except TypeError:  # a reference without the limit has no limit to hit
            engine = ReferenceEngine(config)
        return engine

    return factory, ""


def engine_factory(config: MarketConfig) -> Matcher:
    return Engine(config, max_open_orders=MAX_OPEN_ORDERS)


def compare_events(
    config: MarketConfig, workload: Workload, reference: MatcherFactory, count: int
) -> tuple[bool, str]:
    """Apply the first ``count`` commands to both; describe the first difference, if any."""
    engine, other = fresh(engine_factory, config, workload), fresh(reference, config, workload)
    for i, command in enumerate(workload.timed[:count]):
        ours, theirs = engine.apply(command), other.apply(command)
        if ours != theirs:
            return False, f"DIFFER at command {i}: engine {ours!r} vs reference {theirs!r}"
    return True, f"equal over {min(count, len(workload.timed)):,} commands"


# --- reporting -------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _report_throughput(result: Throughput, target: float | None) -> None:
    runs = ", ".join(f"{r:.3f}" for r in result.runs_s)
    print(f"  runs (s): {runs}; best {result.best_s:.3f} s")
    line = f"  commands/s {result.cmd_per_s:>12,.0f}"
    if result.applies != result.counted:
        line += f"   (applies/s {result.apply_per_s:,.0f})"
    if target is not None:
        line += f"   target >= {target:,.0f}: {_verdict(result.cmd_per_s >= target)}"
    print(line)


def _report_latency(result: Latency, target_p99: float | None) -> None:
    line = (
        f"  latency per apply (us): p50 {result.p50_us:.2f}  p99 {result.p99_us:.2f}  "
        f"p99.9 {result.p999_us:.2f}  max {result.max_us:.0f}"
    )
    if target_p99 is not None:
        line += f"   target p99 <= {target_p99:g}: {_verdict(result.p99_us <= target_p99)}"
    print(line)
    print(f"  trades {result.trades:,}, rejected {result.rejected:,}")
    print(
        f"  gc during the latency pass: {result.gc_collections:,} collections "
        f"({result.gc_full} full), longest {result.gc_longest_ms:.1f} ms"
    )


def _check(engine: Matcher) -> list[str]:
    assert isinstance(engine, Engine)
    problems = check_engine(engine)
    print(f"  check_engine: {problems[:5]}")
    return problems


def _commit() -> str | None:
    """The checked-out commit (with ``+`` when the work tree differs), for comparing runs."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "matcher", "model"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def _pin(cpu: int | None) -> str:
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return "not pinned to a CPU"
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def profile_w1(config: MarketConfig, workload: Workload, top: int) -> dict[str, Any]:
    """cProfile one W1 run (after a warm-up) and print the costliest functions."""
    _timed_run(fresh(engine_factory, config, workload), workload.timed)
    engine = fresh(engine_factory, config, workload)
    apply = engine.apply
    profiler = cProfile.Profile()
    gc.collect()
    start = time.perf_counter()
    profiler.enable()
    for command in workload.timed:
        apply(command)
    profiler.disable()
    elapsed = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return {"profile": "w1", "orders": workload.counted, "profiled_s": round(elapsed, 3)}


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=None, help="timed runs (default 5, quick 2)")
    parser.add_argument("--w1-orders", type=int, default=None, help="default 200,000")
    parser.add_argument("--w2-commands", type=int, default=None, help="default 3,000,000")
    parser.add_argument("--resting", type=int, default=None, help="default 1,000,000")
    parser.add_argument(
        "--ref-orders", type=int, default=None, help="W1 prefix for the reference (20,000)"
    )
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    parser.add_argument("--profile", action="store_true", help="cProfile W1 instead")
    parser.add_argument("--top", type=int, default=30, help="rows of the profile")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures and targets to this file"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "repeat": 2 if quick else 5,
        "w1_orders": 20_000 if quick else 200_000,
        "w2_commands": 100_000 if quick else 3_000_000,
        "resting": 50_000 if quick else 1_000_000,
        "ref_orders": 2_000 if quick else 20_000,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def memory_per_client_id(config: MarketConfig, spec: MarketSpec, orders: int) -> float:
    """Bytes the engine keeps per ``clientOrderId`` it remembers for retries: ``orders`` IOC
    orders that find nothing to trade (accepted, then expired), with a client id each, against
    the same orders without one (the memory of closed orders is full, and equal, in both)."""
    users = 100
    assert orders <= users * CLIENT_ID_MEMORY, "every id must stay remembered"
    traced = []
    for with_ids in (False, True):
        engine = Engine(config, max_open_orders=MAX_OPEN_ORDERS)
        _setup(engine, _deposits(spec, users))
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1, orders + 1):
            order = _limit(i, 1 + i % users, spec.symbol, _BUY, MID, 1, TimeInForce.IOC, TS0 + i)
            engine.apply(replace(order, client_order_id=f"client-{i:012d}") if with_ids else order)
        gc.collect()
        traced.append(tracemalloc.get_traced_memory()[0] - before)
        tracemalloc.stop()
        remembered = sum(len(mine) for mine in engine.index.placed.values())
        assert remembered == (orders if with_ids else 0), remembered
    return (traced[1] - traced[0]) / orders


def run_memory(config: MarketConfig, spec: MarketSpec, args: argparse.Namespace) -> Figures:
    print(f"\nMemory: {args.resting:,} resting orders, {MEM_USERS:,} users")
    rss, engine = memory_per_order(config, spec, args.resting, args.seed + 3, traced=False)
    levels = sum(len(engine.levels(spec.symbol, side)) for side in Side)
    ok = not _check(engine)
    del engine
    traced, _ = memory_per_order(config, spec, args.resting, args.seed + 3, traced=True)
    print(f"  {levels:,} price levels")
    print(
        f"  bytes per resting order: {traced:,.0f} (tracemalloc), {rss:,.0f} (RSS growth)"
        f"   target <= {TARGET_BYTES_PER_ORDER:g}: {_verdict(traced <= TARGET_BYTES_PER_ORDER)}"
    )
    per_id = memory_per_client_id(config, spec, 50_000)
    print(
        f"  bytes per remembered clientOrderId (retry window): {per_id:,.0f}; at the window's "
        f"bound of {CLIENT_ID_MEMORY:,} per user: {per_id * CLIENT_ID_MEMORY / 1e6:.2f} MB a user"
    )
    return ok, {
        "bytes_per_resting_order": round(traced, 1),
        "bytes_per_resting_order_rss": round(rss, 1),
        "bytes_per_client_id": round(per_id, 1),
    }


def run_w1(config: MarketConfig, w1: Workload, args: argparse.Namespace) -> Figures:
    print(f"\nW1: {w1.counted:,} limit orders around {MID:,} ticks")
    for note in w1.notes:
        print(f"  {note}")
    result, engine = throughput(engine_factory, config, w1, args.repeat)
    _report_throughput(result, TARGET_W1_CMD_PER_S)
    ok = not _check(engine)
    del engine
    lat = latency(engine_factory, config, w1)
    _report_latency(lat, TARGET_W1_P99_US)
    return ok, {
        "w1_cmd_per_s": round(result.cmd_per_s),
        "w1_p50_us": lat.p50_us,
        "w1_p99_us": lat.p99_us,
        "w1_p999_us": lat.p999_us,
    }


def run_reference(config: MarketConfig, w1: Workload, args: argparse.Namespace) -> Figures:
    print(f"\nW1 through the reference matcher, first {args.ref_orders:,} orders")
    reference, why = load_reference()
    if reference is None:
        print(f"  reference: not available ({why})")
        return True, {"w1_ref_ratio": None}
    prefix = Workload("W1 prefix", w1.setup, w1.timed[: args.ref_orders], args.ref_orders)
    ours, _ = throughput(engine_factory, config, prefix, args.repeat)
    theirs, _ = throughput(
        reference, config, prefix, args.repeat, warmup=False, budget_s=REF_BUDGET_S
    )
    print(f"  engine    {ours.cmd_per_s:>12,.0f} commands/s (best of {len(ours.runs_s)})")
    print(f"  reference {theirs.cmd_per_s:>12,.0f} commands/s (best of {len(theirs.runs_s)})")
    ratio = ours.cmd_per_s / theirs.cmd_per_s
    print(f"  engine/reference: {ratio:,.1f}x")
    same, verdict = compare_events(config, prefix, reference, REF_COMPARE)
    print(f"  events: {verdict}")
    return same, {
        "w1_ref_ratio": round(ratio, 2),
        "w1_ref_cmd_per_s": round(theirs.cmd_per_s),
        "w1_prefix_cmd_per_s": round(ours.cmd_per_s),
    }


def run_w2(config: MarketConfig, spec: MarketSpec, args: argparse.Namespace) -> Figures:
    print(f"\nW2: exchange-core mix, {args.w2_commands:,} commands, {W2_USERS:,} accounts")
    generating = time.perf_counter()
    w2 = make_w2(config, spec, args.w2_commands, args.seed + 2)
    print(f"  generated in {time.perf_counter() - generating:.1f} s")
    for note in w2.notes:
        print(f"  {note}")
    result, engine = throughput(engine_factory, config, w2, args.repeat)
    _report_throughput(result, TARGET_W2_CMD_PER_S)
    ok = not _check(engine)
    del engine
    lat = latency(engine_factory, config, w2)
    _report_latency(lat, None)
    return ok, {
        "w2_cmd_per_s": round(result.cmd_per_s),
        "w2_apply_per_s": round(result.apply_per_s),
        "w2_p50_us": lat.p50_us,
        "w2_p99_us": lat.p99_us,
        "w2_p999_us": lat.p999_us,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    title = "Matching engine alone (bench/engine.py)"
    result = JsonResult("matcher", title, args.json, args.quick)
    started = time.perf_counter()
    config = load_markets()
    spec = pick_market(config)
    pinned = _pin(args.cpu)
    commit = _commit()
    print(
        f"Tidewater matcher benchmark at {commit or 'unknown commit'}: "
        f"Python {platform.python_version()}, {pinned}, market {spec.symbol}, seed {args.seed}, "
        f"best of {args.repeat}{' (quick)' if args.quick else ''}"
    )
    print(f"Engine build: {matcher.BUILD}")
    w1 = make_w1(spec, args.w1_orders, args.seed)
    if args.profile:
        print(json.dumps(profile_w1(config, w1, args.top)))
        return 0
    overhead = timer_overhead_ns()
    print(f"Timer: a perf_counter_ns pair costs {overhead:.0f} ns (inside every latency sample)")
    figures: dict[str, Any] = {"timer_overhead_ns": round(overhead), "build": matcher.BUILD.name}
    ok = True
    sections = [
        run_memory(config, spec, args),
        run_w1(config, w1, args),
        run_reference(config, w1, args),
        run_w2(config, spec, args),
    ]
    for section_ok, section_figures in sections:
        ok &= section_ok
        figures.update(section_figures)
    elapsed = time.perf_counter() - started
    print(f"\nTotal time {elapsed:.0f} s; invariants and reference events {_verdict(ok)}")
    figures.update(
        w1_orders=args.w1_orders,
        w2_commands=args.w2_commands,
        resting_orders=args.resting,
        ref_orders=args.ref_orders,
        seed=args.seed,
        repeat=args.repeat,
        quick=args.quick,
        checks_ok=ok,
        python=platform.python_version(),
        commit=commit,
        elapsed_s=round(elapsed, 1),
    )
    print(json.dumps(figures))
    result.notes.append(f"engine build: {matcher.BUILD}")
    result.notes.append(f"invariants and reference events: {_verdict(ok)}")
    result.write(figures, exit_ok=ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
