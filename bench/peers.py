"""W1 side by side: Tidewater's engine and three peers, each checked for the same fills first.

Run from the repository root::

    .venv/bin/pip install -r requirements/bench-peers.txt   # the peers; not installed by ./dev
    PYTHONPATH=. .venv/bin/python bench/peers.py            # under a minute here
    PYTHONPATH=. .venv/bin/python bench/peers.py --quick    # seconds
    PYTHONPATH=. .venv/bin/python bench/peers.py --peers liquibook,nautilus_trader

A peer that is not installed is skipped, with a line saying so; the others still run. The ratios
are measured here, in one process, never quoted from another run.

The peers
---------
* ``lightmatchingengine`` 2019.1.4 (PyPI): pure Python. A dict of price levels per side (the best
  found by ``min``/``max`` over the keys each time), a list per level. ``add_order(instmt, price,
  qty, side)`` returns its trades: one for the taker per level, and one per maker fill. It numbers
  orders 1, 2, ... itself; W1's ids are the same, which the check asserts. It never forgets a
  filled order (its id map only shrinks on cancel).
* ``liquibook`` 2.0.1 (PyPI): C++ (header-only, from Object Computing), wrapped with SWIG.
  The adapter keeps one ``OrderBook`` of ``SimpleOrder`` per market and gives it an
  ``OrderListener`` written in Python, so that C++ calls back into Python for every order
  accepted and for every fill, as Tidewater returns its events to Python. The listener turns
  each fill into (maker id, taker id, price, lots) with Tidewater's ids (liquibook numbers its
  orders itself, from one counter for the whole process: the adapter maps its ids of resting
  orders to Tidewater's), tells each ``SimpleOrder`` of its fills (liquibook's simple order
  keeps no state otherwise) and forgets a maker once filled; ``apply`` returns the fills of
  that command. The book is liquibook's plain ``OrderBook`` (exported by the wrapper as
  ``liquibook_book_OrderBook``; its ``DepthOrderBook`` would also keep aggregated depth).
* ``nautilus_trader`` 1.221.0 (PyPI): its ``OrderBook`` in L3 (market-by-order) mode, the Rust
  book reached through its public PyO3 binding (``nautilus_trader.core.nautilus_pyo3``). That book
  mirrors a venue's feed and does not match, so the adapter matches: it walks the opposite side
  from the best level (``asks(1)``/``bids(1)``, then the level's ``first()`` order), deletes each
  filled maker or updates a partly filled one with its remaining size (which keeps its place),
  and adds the taker's rest, all through the book's public calls; the loop is Python, the book
  Rust. ``apply`` returns the fills it made.

No float is made for any peer: prices are integer ticks and quantities integer lots;
nautilus_trader's ``Price`` and ``Quantity`` are built with ``from_int`` and read back from their
fixed-point ``raw`` integers. The adapters are in ``bench/_peer_adapters.py``.

Correctness first: the same fills
---------------------------------
Before anything is timed, every peer and Tidewater apply the same commands once and their fills
are compared command by command, exactly: the sequence of (maker order id, taker order id, price,
lots) of each command must be equal. A peer whose fills differ is not timed and its figures are
not quoted; the first differing command is printed.

Tidewater applies self-trade prevention (by default the taker's rest is canceled when it would
meet its own user's resting order); the peers have no users, so on plain W1 the outcomes part at
W1's first self-trade (the check shows where, for information). The comparison, and the timing,
therefore run on **W1 with its users split by side**: the same seeded orders (ids, sides, prices,
quantities, order), except that a buy's user ``u`` (1..1,000) becomes ``1 + (u - 1) % 500`` and a
sell's becomes ``501 + (u - 1) % 500``. A user then only ever buys or only ever sells, so no order
can meet its own user and self-trade prevention never acts (the check asserts that Tidewater stopped
no taker for it). The peers ignore users, so their commands are exactly W1's; Tidewater keeps
1,000 funded users and checks, locks and settles balances as on W1.

Method
------
* W1 is bench/engine.py's, built by the same function and seed: ``--w1-orders`` limit GTC orders
  around a mid of 10,000 ticks, 70% passive (1..50 ticks behind the mid), 30% aggressive (1..20
  ticks through it), 1..100 lots. No cancels and no market orders. The deposits that fund the
  users are applied untimed; the peers ignore them.
* Every engine sits behind the one-method interface bench/engine.py times (``apply(command)``)
  and is timed by bench/engine.py's own functions: throughput is the best of ``--repeat`` runs of
  the bare loop over the prebuilt commands, each on a fresh engine, after one warm-up; the runs
  alternate (Tidewater, each peer, Tidewater, ...) so that a busy moment of the machine hits all
  alike. Latency is a separate pass per engine with two ``perf_counter_ns`` calls around each
  apply (nearest-rank percentiles, timer included).
* The adapter's own cost (a type test, a few attribute reads, building the peer's order, and for
  nautilus_trader the loop around the book) is inside the peer's figures, as reading the command
  is inside Tidewater's. It is measured in front of a do-nothing engine and printed per peer:
  every call into the peer is replaced by a no-op Python stub, so nothing ever trades; a stub
  call costs about what a cheap call into a C extension does, so the figure is the adapter plus
  one such call per peer call, an upper bound rather than a floor.

What the peers do not do (so the comparison is not like for like)
-----------------------------------------------------------------
Per order Tidewater also validates the order against the market's grid and limits, checks and
locks the user's balance and settles both sides of each fill (fees, release of what a better
price saved), applies self-trade prevention, keeps a client-order-id index and the closed
orders' memory for ``GetOrder``, and returns typed events (accepted, rested, each trade, closed)
with the state a consumer needs. None of the peers has users, balances, fees, validation of a
market's grid or self-trade prevention. lightmatchingengine returns its own trade objects;
liquibook calls the listener for each acceptance and fill (this bench's listener keeps the
fills only); the nautilus_trader adapter returns fill tuples and nothing for an order that
rests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from bench._common import ROOT, JsonResult
from bench._peer_adapters import PEERS, Fill, Peer
from bench.engine import (
    W1_USERS,
    Latency,
    MatcherFactory,
    Throughput,
    Workload,
    engine_factory,
    fresh,
    latency,
    make_w1,
    pick_market,
    throughput,
    timer_overhead_ns,
)
from model.commands import Command, PlaceOrder
from model.config import MarketConfig, load_markets
from model.enums import CloseReason, Side
from model.events import OrderClosed, TradeExecuted
from model.ids import UserId

TITLE = "W1 side by side with three peers, each checked for the same fills (bench/peers.py)"
REQUIREMENTS = ROOT / "requirements" / "bench-peers.txt"
TIDEWATER = "Tidewater"


# --- the workload --------------------------------------------------------------------------------


def split_users_by_side(workload: Workload) -> Workload:
    """W1 with buyers and sellers drawn from two halves of its users: no self-trade can occur."""
    half = W1_USERS // 2
    timed: list[Command] = []
    for command in workload.timed:
        if isinstance(command, PlaceOrder):
            user = (command.user_id - 1) % half + 1
            if command.side is Side.SELL:
                user += half
            timed.append(replace(command, user_id=UserId(user)))
        else:
            timed.append(command)
    notes = [*workload.notes, f"users split by side: buyers 1..{half:,}, sellers {half + 1:,}.."]
    name = f"{workload.name} (users split by side)"
    return Workload(name, workload.setup, timed, workload.counted, notes)


# --- the untimed check ---------------------------------------------------------------------------


@dataclass
class TidewaterFills:
    """Tidewater's fills for each command of a workload, and its self-trade stops."""

    fills: list[list[Fill]]
    self_trade_stops: int
    first_self_trade: int | None  # index of the first command stopped by self-trade prevention


def tidewater_fills(config: MarketConfig, workload: Workload) -> TidewaterFills:
    engine = fresh(engine_factory, config, workload)
    out = TidewaterFills([], 0, None)
    for index, command in enumerate(workload.timed):
        fills: list[Fill] = []
        for event in engine.apply(command):
            if type(event) is TradeExecuted:
                fills.append(
                    (event.maker_order_id, event.taker_order_id, event.price, event.quantity)
                )
            elif type(event) is OrderClosed and event.reason is CloseReason.SELF_TRADE:
                out.self_trade_stops += 1
                if out.first_self_trade is None:
                    out.first_self_trade = index
        out.fills.append(fills)
    return out


@dataclass
class Check:
    """A peer's fills against Tidewater's over one workload."""

    fills: int  # the peer's fills
    lots: int
    tidewater_fills: int
    tidewater_lots: int
    first_difference: int | None  # index of the first command filled differently
    difference: str  # what differed there
    ids_aligned: bool

    @property
    def same(self) -> bool:
        return self.first_difference is None and self.ids_aligned

    def verdict(self) -> str:
        if self.same:
            return "yes"
        if self.first_difference is None:
            return "no (the peer numbered orders differently)"
        return f"no (first difference at command {_nth(self.first_difference)})"


def check(config: MarketConfig, workload: Workload, peer: Peer, ours: TidewaterFills) -> Check:
    """Apply the workload to the peer once, untimed, and compare each command's fills."""
    adapter = fresh(peer.factory, config, workload)
    out = Check(0, 0, 0, 0, None, "", True)
    for index, command in enumerate(workload.timed):
        theirs = peer.fills(adapter.apply(command), command)
        expected = ours.fills[index]
        out.fills += len(theirs)
        out.lots += sum(f[3] for f in theirs)
        out.tidewater_fills += len(expected)
        out.tidewater_lots += sum(f[3] for f in expected)
        if peer.ids_aligned is not None and not peer.ids_aligned(adapter, command):
            out.ids_aligned = False
        if out.first_difference is None and theirs != expected:
            out.first_difference = index
            out.difference = f"Tidewater {expected[:4]}, {peer.name} {theirs[:4]}"
    return out


# --- timing --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One engine's figures."""

    name: str
    throughput: Throughput
    latency: Latency


def side_by_side(
    config: MarketConfig, workload: Workload, engines: list[tuple[str, MatcherFactory]], repeat: int
) -> list[Throughput]:
    """Best of ``repeat`` alternating runs of each engine (one warm-up each first)."""
    runs: list[list[float]] = [[] for _ in engines]
    last: list[Throughput | None] = [None for _ in engines]
    for i in range(repeat):
        for j, (_, factory) in enumerate(engines):
            result, _ = throughput(factory, config, workload, 1, warmup=i == 0)
            runs[j] += result.runs_s
            last[j] = result
    out = []
    for j, final in enumerate(last):
        assert final is not None
        out.append(Throughput(min(runs[j]), runs[j], final.counted, final.applies))
    return out


# --- reporting -----------------------------------------------------------------------------------


def pinned_versions(path: Path = REQUIREMENTS) -> dict[str, str]:
    """The ``name==version`` pins of the peers' requirements file."""
    pins: dict[str, str] = {}
    if not path.exists():
        return pins
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("-", "_")] = version.strip()
    return pins


def engine_commit() -> str:
    """The checked-out commit, and whether the engine's code (matcher/, model/) differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "matcher", "model"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return head + (" with uncommitted changes in matcher/ or model/" if changed else "")


def _nth(index: int | None) -> str:
    """A command's number (from 1) for an index, or ``none``."""
    return "none" if index is None else f"{index + 1:,}"


def table(rows: list[Row], verdicts: dict[str, str], untimed: dict[str, str]) -> list[str]:
    """The side-by-side table, in Markdown (printed as is, and kept in the JSON result).

    ``untimed`` names the peers that were not timed, and why.
    """
    base = rows[0].throughput.cmd_per_s
    out = [
        "| engine | commands/s | p50 µs | p99 µs | p99.9 µs | vs Tidewater | same fills |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        t, lat = row.throughput, row.latency
        out.append(
            f"| {row.name} | {t.cmd_per_s:,.0f} | {lat.p50_us:.2f} | {lat.p99_us:.2f} | "
            f"{lat.p999_us:.2f} | {t.cmd_per_s / base:.2f}× | {verdicts.get(row.name, '-')} |"
        )
    for name, why in untimed.items():
        out.append(f"| {name} | not timed | | | | | {why} |")
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--seed", type=int, default=1, help="W1's seed (bench/engine.py's)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs (default 5, quick 2)")
    parser.add_argument("--w1-orders", type=int, default=None, help="default 200,000 (quick 20k)")
    parser.add_argument(
        "--peers",
        default=",".join(p.name for p in PEERS),
        help=f"peers to run (of {', '.join(p.name for p in PEERS)})",
    )
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures to this file"
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 5
    if args.w1_orders is None:
        args.w1_orders = 20_000 if args.quick else 200_000
    known = {p.name for p in PEERS}
    chosen = [name.strip() for name in args.peers.split(",") if name.strip()]
    unknown = sorted(set(chosen) - known)
    if unknown:
        parser.error(f"unknown peer {unknown}; known: {', '.join(sorted(known))}")
    args.peers = [p for p in PEERS if p.name in chosen]
    return args


def installed(peers: Sequence[Peer], notes: list[str]) -> list[tuple[Peer, str]]:
    """The peers that import, with their versions; a line for each one skipped."""
    pins = pinned_versions()
    found = []
    for peer in peers:
        try:
            version = peer.version()
        except ImportError as exc:
            line = (
                f"{peer.name} is not installed ({exc}): skipped; "
                f".venv/bin/pip install -r {REQUIREMENTS.relative_to(ROOT)}"
            )
            print(f"  SKIPPED {line}")
            notes.append(line)
            continue
        pin = pins.get(peer.name.lower().replace("-", "_"))
        if pin is not None and pin != version:
            line = f"{peer.name} {version} is installed, {pin} is pinned: figures for {version}"
            print(f"  NOTE {line}")
            notes.append(line)
        found.append((peer, version))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = JsonResult("peer", TITLE, args.json, args.quick)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    started = time.perf_counter()
    config = load_markets()
    spec = pick_market(config)
    print(
        f"W1 side by side: Tidewater vs {', '.join(p.name for p in args.peers)}; Python "
        f"{platform.python_version()}, market {spec.symbol}, seed {args.seed}, "
        f"{args.w1_orders:,} orders, best of {args.repeat}{' (quick)' if args.quick else ''}; "
        f"load average {os.getloadavg()}"
    )
    commit = engine_commit()
    print(f"  Tidewater's engine: {commit}")
    result.notes.append(f"Tidewater's engine as measured: {commit}")
    peers = installed(args.peers, result.notes)
    plain = make_w1(spec, args.w1_orders, args.seed)
    w1 = split_users_by_side(plain)
    for note in w1.notes:
        print(f"  {note}")

    # Correctness first, untimed.
    print("\nSame fills? Each command's (maker id, taker id, price, lots), exactly, untimed")
    ours_plain = tidewater_fills(config, plain)
    ours = tidewater_fills(config, w1)
    first_stop = ours_plain.first_self_trade
    print(
        f"  plain W1: Tidewater stops {ours_plain.self_trade_stops:,} takers by self-trade "
        f"prevention, the first at command {_nth(first_stop)}"
    )
    figures: dict[str, Any] = {}
    ok = ours.self_trade_stops == 0
    if not ok:
        print(f"  ERROR: {ours.self_trade_stops:,} self-trade stops on W1 split by side")
    verdicts: dict[str, str] = {}
    passed: list[tuple[Peer, str]] = []
    for peer, version in peers:
        on_plain = check(config, plain, peer, ours_plain)
        found = check(config, w1, peer, ours)
        verdicts[peer.name] = found.verdict()
        ok &= found.same
        line = (
            f"{peer.name} {version}: same fills: {found.verdict()} over {len(w1.timed):,} "
            f"commands ({found.fills:,} fills, {found.lots:,} lots; Tidewater "
            f"{found.tidewater_fills:,} fills, {found.tidewater_lots:,} lots); on plain W1 "
            f"the first difference is at command "
            f"{_nth(on_plain.first_difference)}"
        )
        print(f"  {line}")
        if found.difference:
            print(f"    there: {found.difference}")
        result.notes.append(line)
        figures[f"{peer.key}_same_fills"] = found.same
        figures[f"{peer.key}_first_differing_command"] = (
            None if found.first_difference is None else found.first_difference + 1
        )
        figures[f"{peer.key}_version"] = version
        if found.same:
            passed.append((peer, version))
        else:
            why = f"{peer.name}: fills differ from Tidewater's, so its speed is not quoted"
            print(f"  {why}")
            result.notes.append(why)

    # The adapters alone.
    overhead = timer_overhead_ns()
    print("\nAdapters alone, in front of a do-nothing engine (nothing trades), best of 3")
    for peer, _ in passed:
        alone, _ = throughput(peer.null_factory, config, w1, 3)
        ns = alone.best_s * 1e9 / alone.applies
        figures[f"{peer.key}_adapter_ns_per_cmd"] = round(ns)
        print(f"  {peer.name}: {ns:.0f} ns per command")

    # Timing, alternating.
    engines: list[tuple[str, MatcherFactory]] = [(TIDEWATER, engine_factory)]
    engines += [(peer.name, peer.factory) for peer, _ in passed]
    print(f"\nTiming {len(engines)} engines, runs alternating, best of {args.repeat}")
    speeds = side_by_side(config, w1, engines, args.repeat)
    rows = [
        Row(name, speed, latency(factory, config, w1))
        for (name, factory), speed in zip(engines, speeds, strict=True)
    ]
    print(f"  (a perf_counter_ns pair costs {overhead:.0f} ns, inside every latency sample)")
    for row in rows:
        runs = ", ".join(f"{r:.3f}" for r in row.throughput.runs_s)
        print(f"  {row.name}: runs (s) {runs}; latency max {row.latency.max_us:.0f} µs")
    verdicts[TIDEWATER] = "(reference)"
    timed = {name for name, _ in engines}
    untimed = {p.name: verdicts.get(p.name, "not installed") for p in args.peers}
    lines = table(rows, verdicts, {k: v for k, v in untimed.items() if k not in timed})
    print()
    for line in lines:
        print(line)

    base = rows[0]
    figures.update(
        tidewater_w1_cmd_per_s=round(base.throughput.cmd_per_s),
        tidewater_w1_p50_us=base.latency.p50_us,
        tidewater_w1_p99_us=base.latency.p99_us,
        tidewater_w1_p999_us=base.latency.p999_us,
    )
    for row, (peer, _) in zip(rows[1:], passed, strict=True):
        figures.update(
            {
                f"{peer.key}_w1_cmd_per_s": round(row.throughput.cmd_per_s),
                f"{peer.key}_w1_ratio": round(
                    row.throughput.cmd_per_s / base.throughput.cmd_per_s, 3
                ),
                f"{peer.key}_w1_p50_us": row.latency.p50_us,
                f"{peer.key}_w1_p99_us": row.latency.p99_us,
                f"{peer.key}_w1_p999_us": row.latency.p999_us,
            }
        )
    figures.update(
        tidewater_self_trade_stops_plain_w1=ours_plain.self_trade_stops,
        tidewater_first_self_trade_command_plain_w1=None if first_stop is None else first_stop + 1,
        timer_overhead_ns=round(overhead),
        w1_orders=args.w1_orders,
        seed=args.seed,
        repeat=args.repeat,
        quick=args.quick,
        checks_ok=ok,
        commit=commit,
        python=platform.python_version(),
        elapsed_s=round(time.perf_counter() - started, 1),
    )
    print(json.dumps(figures))
    result.notes += [
        "workload: W1 with its users split by side (buyers and sellers from two halves of the "
        f"1,000 users, so no order can meet its own user), {args.w1_orders:,} limit GTC orders; "
        "every engine gets the same commands and is timed by bench/engine.py's functions, runs "
        "alternating; fills are checked equal, command by command, before any timing",
        "not like for like: no peer checks or locks balances, charges fees, applies self-trade "
        "prevention, validates against the market or keeps closed orders to answer GetOrder; "
        "Tidewater does all of that per order and returns typed events",
        *(
            f"{peer.name}: the adapter alone costs {figures[f'{peer.key}_adapter_ns_per_cmd']} ns "
            "per command (in front of a do-nothing engine), inside the peer's figures"
            for peer, _ in passed
        ),
    ]
    result.tables.append(lines)
    result.write(figures, exit_ok=ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
