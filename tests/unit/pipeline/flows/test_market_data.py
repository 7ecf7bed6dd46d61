"""The whole dataflow with TestingSource/TestingSink, fed by a real engine's events."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from bytewax.testing import TestingSink, TestingSource, run_main

from matcher.engine import Engine
from model import topics, wire
from model.config import load_markets
from model.enums import Side
from model.events import StateEvent, TradeExecuted
from pipeline.flows.logic import MarketLogic
from pipeline.flows.market_data import build_flow
from pipeline.flows.records import CandleRow, DepthWrite, Publish
from pipeline.flows.source import Item, split_batch
from tests.support.commands_gen import random_commands
from tests.support.market_data import (
    DepthClient,
    GapError,
    candles_from_trades,
    spread_in_time,
    ticker_from_trades,
)

CONFIG = load_markets()


def _engine_items(seed: int, n: int, per_entry: int = 40) -> tuple[Engine, list[Item], list[Any]]:
    """Run commands through an engine; cut its events into entries like the matcher does."""
    engine = Engine(CONFIG)
    commands = list(spread_in_time(random_commands(seed, n), seed))
    items: list[Item] = []
    events: list[StateEvent] = []
    seen: dict[str, int] = {}
    markets = sorted(CONFIG.markets)
    for start in range(0, len(commands), per_entry):
        batch = []
        for i, command in enumerate(commands[start : start + per_entry]):
            state = [e for e in engine.apply(command) if isinstance(e, StateEvent)]
            if state:
                batch.append(wire.CommandEvents(cmd_id=f"{start + i}-0", events=state))
                events.extend(state)
        if batch:
            split_batch(wire.EventBatch(commands=batch), markets, seen, items)
    return engine, items, events


def _run(items: list[Item]) -> tuple[list[Any], list[Any]]:
    redis_out: list[Any] = []
    sql_out: list[Any] = []
    flow = build_flow(
        CONFIG,
        TestingSource(items),
        TestingSink(redis_out),
        TestingSink(sql_out),
        throttle=timedelta(0),
    )
    run_main(flow)
    return redis_out, sql_out


@pytest.fixture(scope="module")
def session() -> tuple[Engine, list[Any], list[Any], list[Any]]:
    engine, items, events = _engine_items(seed=11, n=4000)
    redis_out, sql_out = _run(items)
    return engine, events, redis_out, sql_out


def test_depth_diffs_rebuild_the_engine_book(session: Any) -> None:
    engine, _, redis_out, _ = session
    for symbol, spec in CONFIG.markets.items():
        diffs = [
            json.loads(r.payload)
            for r in redis_out
            if isinstance(r, DepthWrite) and r.channel == topics.depth_stream(symbol)
        ]
        client = DepthClient({}, {}, 0)
        for diff in diffs:
            client.apply(diff)
        for side, name in ((Side.BUY, "b"), (Side.SELL, "a")):
            expected = [
                (Decimal(spec.format_price(p)), Decimal(spec.format_quantity(q)))
                for p, q in engine.levels(symbol, side)
            ]
            assert client.side(name) == expected, (symbol, side)


def test_update_ids_are_gapless_and_a_gap_is_detected(session: Any) -> None:
    _, _, redis_out, _ = session
    writes = [r for r in redis_out if isinstance(r, DepthWrite)]
    by_market: dict[str, list[DepthWrite]] = {}
    for w in writes:
        by_market.setdefault(w.key, []).append(w)
    assert by_market
    for market_writes in by_market.values():
        ids = [(w.first, w.last) for w in market_writes]
        assert ids[0][0] == 1
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ids))
    diffs = [json.loads(w.payload) for w in next(iter(by_market.values()))]
    client = DepthClient({}, {}, 0)
    client.apply(diffs[0])
    with pytest.raises(GapError):
        client.apply(diffs[2])


def test_candles_equal_a_recomputation(session: Any) -> None:
    _, events, _, sql_out = session
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    assert len(trades) > 300
    final: dict[tuple[str, str, int], CandleRow] = {}
    for row in sql_out:
        if isinstance(row, CandleRow):
            final[row.market, row.interval, row.open_time] = row
    got = {
        key: (r.open, r.high, r.low, r.close, r.volume, r.quote_volume, r.trades, int(r.closed))
        for key, r in final.items()
    }
    clock = max(e.ts for e in events)
    expected = candles_from_trades(trades, clock)
    assert got == expected
    assert {k[1] for k, v in expected.items() if v[-1]} == {"1m", "5m", "15m", "1h", "1d", "1w"}


def test_trades_are_published_once_and_never_stored(session: Any) -> None:
    _, events, redis_out, sql_out = session
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    # The flow writes candles only: the persist agent is the one writer of ``trades``.
    assert all(isinstance(r, CandleRow) for r in sql_out)
    pushes = [
        json.loads(r.payload)
        for r in redis_out
        if isinstance(r, Publish) and r.channel.startswith("md:trades@")
    ]
    for market in CONFIG.markets:  # in order within each market
        got = [p["t"] for p in pushes if p["s"] == market]
        assert got == [t.trade_id for t in trades if t.market == market]
    assert len(pushes) == len(trades)
    first = pushes[0]
    t = next(t for t in trades if t.market == first["s"])
    spec = CONFIG.markets[t.market]
    assert first == {
        "e": "trade",
        "E": t.ts // 1000,
        "s": t.market,
        "t": t.trade_id,
        "p": spec.format_price(t.price),
        "q": spec.format_quantity(t.quantity),
        # The buyer's and the seller's order ids, as the API writes them.
        "b": str(t.maker_order_id if t.taker_side is Side.SELL else t.taker_order_id),
        "a": str(t.taker_order_id if t.taker_side is Side.SELL else t.maker_order_id),
        "m": t.taker_side is Side.SELL,
        "T": t.ts // 1000,
    }


def test_ticker_equals_a_recomputation_over_24h(session: Any) -> None:
    _, events, redis_out, _ = session
    clock = max(e.ts for e in events)
    for symbol, spec in CONFIG.markets.items():
        channel = topics.ticker_stream(symbol)
        pushes = [json.loads(r.payload) for r in redis_out if getattr(r, "channel", "") == channel]
        trades = [e for e in events if isinstance(e, TradeExecuted) and e.market == symbol]
        expected = ticker_from_trades(trades, clock)
        if expected is None:
            continue
        last = pushes[-1]
        assert last["o"] == spec.format_price(expected["open"])
        assert last["h"] == spec.format_price(expected["high"])
        assert last["l"] == spec.format_price(expected["low"])
        assert last["c"] == spec.format_price(expected["last"])
        assert last["v"] == spec.format_quantity(expected["volume"])
        assert last["q"] == spec.quote.format(expected["quote_volume"])
        assert last["n"] == expected["trades"]
        assert last["O"] == expected["start"] // 1000
        assert expected["trades"] < len(trades)  # the window really slid


def test_the_flow_is_deterministic() -> None:
    _, items, _ = _engine_items(seed=12, n=1500)
    redis_a, sql_a = _run(items)
    redis_b, sql_b = _run(items)
    assert [r for r in sql_a if isinstance(r, CandleRow) and r.closed] == [
        r for r in sql_b if isinstance(r, CandleRow) and r.closed
    ]
    assert [r for r in redis_a if isinstance(r, DepthWrite)] == [
        r for r in redis_b if isinstance(r, DepthWrite)
    ]


def test_logic_resumed_from_a_snapshot_continues_identically() -> None:
    _, items, _ = _engine_items(seed=13, n=1500)
    specs = dict(CONFIG.markets)
    market = items[0][0]
    mine = [batch for m, batch in items if m == market]
    half = len(mine) // 2

    def run(logic: MarketLogic, batches: list[Any]) -> list[Any]:
        out: list[Any] = []
        for batch in batches:
            out.extend(logic.on_batch([batch])[0])
        return [r for r in out if isinstance(r, DepthWrite) or _trade_push(r) or _closed(r)]

    whole = run(MarketLogic(specs, None, timedelta(0)), mine)
    first = MarketLogic(specs, None, timedelta(0))
    before = run(first, mine[:half])
    after = run(MarketLogic(specs, first.snapshot(), timedelta(0)), mine[half:])
    assert before + after == whole


def _trade_push(record: Any) -> bool:
    return isinstance(record, Publish) and record.channel.startswith("md:trades@")


def _closed(record: Any) -> bool:
    return isinstance(record, CandleRow) and record.closed
