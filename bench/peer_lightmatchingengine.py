"""W1 side by side: Tidewater's engine and a plain peer, ``lightmatchingengine`` (PyPI).

Run from the repository root::

    .venv/bin/pip install lightmatchingengine                           # not a project pin yet
    PYTHONPATH=. .venv/bin/python bench/peer_lightmatchingengine.py           # ~2 minutes
    PYTHONPATH=. .venv/bin/python bench/peer_lightmatchingengine.py --quick   # seconds

The ratio is measured here, in one process, never quoted from another run.

Method
------
* The workload is bench/engine.py's W1, built by the same function with the same seed:
  ``--w1-orders`` limit GTC orders around a mid of 10,000 ticks from 1,000 users, 70% passive
  (1..50 ticks behind the mid), 30% aggressive (1..20 ticks through it), 1..100 lots. W1 has no
  cancels and no market orders (those are in W2, which this script does not run).
* Both engines sit behind the one-method interface bench/engine.py times (``apply(command)``),
  and both are timed by bench/engine.py's own functions: throughput is the best of ``--repeat``
  runs of the bare loop over the prebuilt commands, each on a fresh engine after one warm-up;
  latency is a separate pass with two ``perf_counter_ns`` calls around each apply (nearest-rank
  percentiles, timer included). The two engines' timed runs alternate (Tidewater, peer,
  Tidewater, ...) so that a busy moment of the machine hits both alike.
* The deposits that fund W1's users are applied untimed; the peer has no balances and ignores
  them.

How a command reaches the peer
------------------------------
``LightMatchingEngine.add_order(instmt, price, qty, side)`` with the command's market, integer
price in ticks, quantity in lots, and side 1 (buy) or 2 (sell); the peer's trades are what
``apply`` returns. The adapter's own cost (a type test, a few attribute reads, a dict lookup) is
inside the peer's figures, as reading the command is inside Tidewater's; it is measured in front
of a do-nothing engine and printed (about 170 ns per command here). The peer numbers its
orders 1, 2, ... itself; W1's order ids are 1..n in the same order, which the untimed check
below asserts, so a cancel can pass the id through. Not used by W1, but mapped for
completeness: a ``CancelOrder`` goes to ``cancel_order(order_id, instmt)``; an IOC limit order
or a market order (the peer's price 0) is added and its rest then canceled, since the peer would
rest it (a market order's rest at price 0); FOK and post-only have no equivalent and are refused.

What the peer does not do (so the comparison is not like for like)
-------------------------------------------------------------------
Per order Tidewater also: validates the order against the market's grid and limits, checks and
locks the user's balance and settles both sides of each fill (fees, release of what a better
price saved), applies self-trade prevention (cancel the taker's rest by default), keeps a
client-order-id index and the closed orders' memory for ``GetOrder``, and returns typed events
(accepted, rested, each trade, closed) with the state a consumer needs. The peer keeps a dict of
price levels per side (best price found by ``min``/``max`` over the keys), a list per level, no
users, no balances, no fees, no self-trade prevention and no events; it emits one trade for the
taker per level plus one per maker fill. It also never forgets a filled order (its order-id map
only shrinks on cancel).

Because of self-trade prevention the two books can part ways: the first W1 order where a taker
met its own user's resting order trades in the peer but stops in Tidewater. The untimed check
prints where that first happens and how far the outcomes differ at the end.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._common import JsonResult
from bench.engine import (
    Latency,
    Matcher,
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
from matcher.engine import Engine
from model.commands import CancelOrder, Deposit, PlaceOrder
from model.config import MarketConfig, load_markets
from model.enums import CloseReason, OrderType, Side, TimeInForce
from model.events import OrderClosed, TradeExecuted

PEER = "lightmatchingengine"
TITLE = "W1 side by side with a plain peer, lightmatchingengine (bench/peer_lightmatchingengine.py)"

_PLACE, _CANCEL, _DEPOSIT = PlaceOrder, CancelOrder, Deposit
_LIMIT, _MARKET = OrderType.LIMIT, OrderType.MARKET
_GTC, _FOK = TimeInForce.GTC, TimeInForce.FOK


class PeerMatcher:
    """lightmatchingengine behind bench/engine.py's ``apply(command)`` interface."""

    def __init__(self) -> None:
        from lightmatchingengine.lightmatchingengine import (  # type: ignore[import-untyped]
            LightMatchingEngine,
            Side,
        )

        self._init(LightMatchingEngine(), Side.BUY, Side.SELL)

    def _init(self, engine: Any, buy: int, sell: int) -> None:
        self.engine = engine
        self._add = self.engine.add_order
        self._cancel = self.engine.cancel_order
        self._side = {Side.BUY: buy, Side.SELL: sell}

    def apply(self, command: Any) -> list[Any]:
        """The peer's trades for a placement, the canceled order for a cancel, else nothing."""
        kind = type(command)
        if kind is _PLACE:
            market = command.market
            if command.type is _LIMIT and command.tif is _GTC and not command.post_only:
                _, trades = self._add(
                    market, command.price, command.quantity, self._side[command.side]
                )
                return trades  # type: ignore[no-any-return]
            return self._place_other(command)
        if kind is _CANCEL:
            order = self._cancel(command.order_id, command.market)
            return [] if order is None else [order]
        if kind is _DEPOSIT:
            return []  # the peer has no balances
        raise ValueError(f"{PEER} cannot express {kind.__name__}")

    def _place_other(self, command: PlaceOrder) -> list[Any]:
        if command.tif is _FOK or command.post_only:
            raise ValueError(f"{PEER} has no FOK or post-only orders")
        if command.type is _MARKET and command.quote_quantity:
            raise ValueError(f"{PEER} has no market buy by quote quantity")
        price = 0 if command.type is _MARKET else command.price  # the peer's market order
        order, trades = self._add(command.market, price, command.quantity, self._side[command.side])
        if order.leaves_qty:  # IOC or market: the rest expires (the peer would rest it)
            self._cancel(order.order_id, command.market)
        return trades  # type: ignore[no-any-return]


class _NullEngine:
    """Takes every order and trades nothing: what is left is the adapter's own cost."""

    curr_order_id = 0

    def add_order(self, instmt: str, price: int, qty: int, side: int) -> tuple[None, list[Any]]:
        return None, []

    def cancel_order(self, order_id: int, instmt: str) -> None:
        return None


class NullPeerMatcher(PeerMatcher):
    """The adapter in front of an engine that does nothing, to measure the adapter."""

    def __init__(self) -> None:
        self._init(_NullEngine(), 1, 2)


def peer_factory(config: MarketConfig) -> Matcher:
    return PeerMatcher()


def null_factory(config: MarketConfig) -> Matcher:
    return NullPeerMatcher()


# --- the untimed check -------------------------------------------------------------------------


@dataclass
class Outcome:
    """What each engine did with W1, and where they first parted."""

    tidewater_trades: int  # maker fills
    peer_trades: int  # maker fills (the peer's trades on the resting side)
    tidewater_lots: int
    peer_lots: int
    self_trade_stops: int  # Tidewater takers stopped by self-trade prevention
    first_difference: int | None  # index in W1 of the first order the two filled differently
    first_self_trade: int | None  # index in W1 of the first order stopped by self-trade prevention
    ids_aligned: bool

    def lines(self) -> list[str]:
        def nth(index: int | None) -> str:
            return "none" if index is None else f"order #{index + 1:,} of W1"

        return [
            f"maker fills: Tidewater {self.tidewater_trades:,}, {PEER} {self.peer_trades:,}; "
            f"lots traded: Tidewater {self.tidewater_lots:,}, {PEER} {self.peer_lots:,}",
            f"Tidewater takers stopped by self-trade prevention: {self.self_trade_stops:,}, "
            f"first {nth(self.first_self_trade)}; first order filled differently: "
            f"{nth(self.first_difference)}; order ids aligned: {self.ids_aligned}",
        ]


def compare(config: MarketConfig, workload: Workload) -> Outcome:
    """Apply W1 to both engines once, untimed, and compare what each order filled."""
    ours = fresh(engine_factory, config, workload)
    peer = fresh(peer_factory, config, workload)
    assert isinstance(ours, Engine)
    assert isinstance(peer, PeerMatcher)
    out = Outcome(0, 0, 0, 0, 0, None, None, True)
    for index, command in enumerate(workload.timed):
        filled_ours = 0
        for event in ours.apply(command):
            if type(event) is TradeExecuted:
                out.tidewater_trades += 1
                filled_ours += event.quantity
            elif type(event) is OrderClosed and event.reason is CloseReason.SELF_TRADE:
                out.self_trade_stops += 1
                if out.first_self_trade is None:
                    out.first_self_trade = index
        filled_peer = 0
        for trade in peer.apply(command):
            if trade.order_id == getattr(command, "order_id", None):
                filled_peer += trade.trade_qty  # the taker's side of each level
            else:
                out.peer_trades += 1
        if isinstance(command, PlaceOrder) and peer.engine.curr_order_id != command.order_id:
            out.ids_aligned = False
        out.tidewater_lots += filled_ours
        out.peer_lots += filled_peer
        if out.first_difference is None and filled_ours != filled_peer:
            out.first_difference = index
    return out


# --- running -----------------------------------------------------------------------------------


def side_by_side(
    config: MarketConfig, workload: Workload, repeat: int
) -> tuple[Throughput, Throughput]:
    """Best of ``repeat`` alternating runs of each engine (one warm-up each first)."""
    ours_runs: list[float] = []
    peer_runs: list[float] = []
    ours = peer = None
    for i in range(repeat):
        ours, _ = throughput(engine_factory, config, workload, 1, warmup=i == 0)
        ours_runs += ours.runs_s
        peer, _ = throughput(peer_factory, config, workload, 1, warmup=i == 0)
        peer_runs += peer.runs_s
    assert ours is not None
    assert peer is not None
    return (
        Throughput(min(ours_runs), ours_runs, ours.counted, ours.applies),
        Throughput(min(peer_runs), peer_runs, peer.counted, peer.applies),
    )


def _row(name: str, t: Throughput, lat: Latency) -> str:
    return (
        f"  {name:<21} {t.cmd_per_s:>10,.0f} cmd/s   p50 {lat.p50_us:6.2f}  p99 {lat.p99_us:7.2f}"
        f"  p99.9 {lat.p999_us:8.2f}  max {lat.max_us:8.0f} us   runs (s) "
        + ", ".join(f"{r:.3f}" for r in t.runs_s)
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--seed", type=int, default=1, help="W1's seed (bench/engine.py's)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs (default 5, quick 2)")
    parser.add_argument("--w1-orders", type=int, default=None, help="default 200,000 (quick 20k)")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the figures to this file"
    )
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 5
    if args.w1_orders is None:
        args.w1_orders = 20_000 if args.quick else 200_000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = JsonResult("peer", TITLE, args.json, args.quick)
    try:
        version = importlib.metadata.version(PEER)
        import lightmatchingengine  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as exc:  # PackageNotFoundError is an ImportError
        print(f"{PEER} is not installed ({exc}): .venv/bin/pip install {PEER}")
        result.notes.append(f"{PEER} not installed: nothing measured")
        result.write({}, exit_ok=False)
        return 2
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    started = time.perf_counter()
    config = load_markets()
    spec = pick_market(config)
    w1 = make_w1(spec, args.w1_orders, args.seed)
    print(
        f"W1 side by side: Tidewater vs {PEER} {version}; Python {platform.python_version()}, "
        f"market {spec.symbol}, seed {args.seed}, {args.w1_orders:,} orders, best of "
        f"{args.repeat}{' (quick)' if args.quick else ''}; load average {os.getloadavg()}"
    )
    for note in w1.notes:
        print(f"  {note}")
    outcome = compare(config, w1)
    for line in outcome.lines():
        print(f"  {line}")
    overhead = timer_overhead_ns()
    adapter, _ = throughput(null_factory, config, w1, 3)
    adapter_ns = adapter.best_s * 1e9 / adapter.applies
    print(
        f"  the adapter alone (in front of a do-nothing engine) costs {adapter_ns:.0f} ns/command"
    )
    ours, peer = side_by_side(config, w1, args.repeat)
    ours_lat = latency(engine_factory, config, w1)
    peer_lat = latency(peer_factory, config, w1)
    print(f"  (a perf_counter_ns pair costs {overhead:.0f} ns, inside every latency sample)")
    print(_row("Tidewater", ours, ours_lat))
    print(_row(f"{PEER}", peer, peer_lat))
    ratio = ours.cmd_per_s / peer.cmd_per_s
    print(
        f"  Tidewater / {PEER}: {ratio:.2f}x the throughput; p50 latency "
        f"{ours_lat.p50_us / peer_lat.p50_us:.2f}x, p99 {ours_lat.p99_us / peer_lat.p99_us:.2f}x"
    )
    figures: dict[str, Any] = {
        "peer": PEER,
        "peer_version": version,
        "tidewater_w1_cmd_per_s": round(ours.cmd_per_s),
        "peer_w1_cmd_per_s": round(peer.cmd_per_s),
        "w1_cmd_per_s_ratio": round(ratio, 3),
        "tidewater_w1_p50_us": ours_lat.p50_us,
        "tidewater_w1_p99_us": ours_lat.p99_us,
        "tidewater_w1_p999_us": ours_lat.p999_us,
        "peer_w1_p50_us": peer_lat.p50_us,
        "peer_w1_p99_us": peer_lat.p99_us,
        "peer_w1_p999_us": peer_lat.p999_us,
        "tidewater_maker_fills": outcome.tidewater_trades,
        "peer_maker_fills": outcome.peer_trades,
        "tidewater_lots_traded": outcome.tidewater_lots,
        "peer_lots_traded": outcome.peer_lots,
        "self_trade_stops": outcome.self_trade_stops,
        "first_difference": outcome.first_difference,
        "first_self_trade": outcome.first_self_trade,
        "ids_aligned": outcome.ids_aligned,
        "timer_overhead_ns": round(overhead),
        "adapter_ns_per_cmd": round(adapter_ns),
        "w1_orders": args.w1_orders,
        "seed": args.seed,
        "repeat": args.repeat,
        "quick": args.quick,
        "python": platform.python_version(),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures))
    result.notes += [
        f"peer: {PEER} {version} from PyPI, pure Python, in the same process; both engines get "
        f"the same seeded W1 commands ({args.w1_orders:,} limit GTC orders, no cancels or market "
        "orders) and are timed by bench/engine.py's functions, runs alternating",
        f"not like for like: {PEER} checks and locks no balances, charges no fees, has no "
        "self-trade prevention, validates nothing, keeps no closed orders and emits no events; "
        "Tidewater does all of that per order",
        f"the adapter in front of {PEER} costs {adapter_ns:.0f} ns per command (measured in front "
        "of a do-nothing engine), inside the peer's figures",
        *outcome.lines(),
    ]
    result.write(figures, exit_ok=outcome.ids_aligned)
    return 0 if outcome.ids_aligned else 1


if __name__ == "__main__":
    sys.exit(main())
