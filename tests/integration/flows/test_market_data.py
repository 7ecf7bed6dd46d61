"""The flow end to end: a real matcher's event stream on Redis in, Redis and PostgreSQL out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import run_main

from model import topics
from model.enums import Side
from model.events import TradeExecuted
from pipeline.flows.market_data import build_flow
from pipeline.flows.sinks import PostgresSink, RedisSink
from pipeline.flows.source import EventSource
from tests.integration.flows.conftest import CONFIG, MARKETS, SHARD, FlowEnv
from tests.support.commands_gen import random_commands
from tests.support.market_data import DepthClient, GapError, spread_in_time
from tests.support.streams import all_events

_CANDLE_SQL = """
WITH iv(name, stride, origin) AS (VALUES
    ('1m', INTERVAL '1 minute', TIMESTAMPTZ '1970-01-01 00:00:00+00'),
    ('5m', INTERVAL '5 minutes', TIMESTAMPTZ '1970-01-01 00:00:00+00'),
    ('15m', INTERVAL '15 minutes', TIMESTAMPTZ '1970-01-01 00:00:00+00'),
    ('1h', INTERVAL '1 hour', TIMESTAMPTZ '1970-01-01 00:00:00+00'),
    ('1d', INTERVAL '1 day', TIMESTAMPTZ '1970-01-01 00:00:00+00'),
    ('1w', INTERVAL '7 days', TIMESTAMPTZ '1969-12-29 00:00:00+00'))
SELECT t.market, iv.name, date_bin(iv.stride, t.ts, iv.origin) AS open_time,
       (array_agg(t.price ORDER BY t.seq))[1], max(t.price), min(t.price),
       (array_agg(t.price ORDER BY t.seq DESC))[1], sum(t.quantity)::bigint,
       sum(t.quote_amount)::bigint, count(*)::bigint,
       date_bin(iv.stride, t.ts, iv.origin) + iv.stride <= %s
FROM trades t CROSS JOIN iv
GROUP BY t.market, iv.name, iv.stride, iv.origin, 3
"""
_STORED_SQL = """
SELECT market, interval, open_time, open, high, low, close, volume, quote_volume, trades, closed
FROM candles
"""
_TICKER_SQL = """
SELECT (array_agg(price ORDER BY seq))[1], max(price), min(price),
       (array_agg(price ORDER BY seq DESC))[1], sum(quantity)::bigint,
       sum(quote_amount)::bigint, count(*)::bigint
FROM trades WHERE market = %s AND ts >= %s
"""


def _commands(seed: int, n: int) -> list[Any]:
    return list(spread_in_time(random_commands(seed, n, config=CONFIG), seed))


def run_flow(env: FlowEnv, db_url: str, recovery: Path | None = None) -> list[dict[str, Any]]:
    """Run the flow until the events stream is drained; return what it published."""
    listener = redis.Redis.from_url(env.redis_url)
    pubsub = listener.pubsub()
    pubsub.psubscribe("md:*")
    pubsub.get_message(timeout=1.0)  # the subscription confirmation
    flow = build_flow(
        CONFIG,
        EventSource(env.redis_url, {SHARD: MARKETS}, env.fence, stop_when_idle=True),
        RedisSink(env.redis_url, env.fence),
        PostgresSink(db_url, env.fence),
        throttle=timedelta(0),
    )
    config = None
    if recovery is not None:
        if not recovery.exists():
            recovery.mkdir(parents=True)
            init_db_dir(recovery, 1)
        config = RecoveryConfig(recovery)
    run_main(flow, epoch_interval=timedelta(milliseconds=100), recovery_config=config)
    published: list[dict[str, Any]] = []
    while (message := pubsub.get_message(timeout=0.3)) is not None:
        if message["type"] == "pmessage":
            published.append(
                {"channel": message["channel"].decode(), "data": json.loads(message["data"])}
            )
    pubsub.close()
    listener.close()
    return published


def _hash_book(client: redis.Redis, market: str) -> DepthClient:
    raw = {k.decode(): v.decode() for k, v in client.hgetall(topics.depth_book(market)).items()}
    last = int(raw.pop("lastUpdateId", "0"))
    bids = {Decimal(k[2:]): Decimal(v) for k, v in raw.items() if k.startswith("b:")}
    asks = {Decimal(k[2:]): Decimal(v) for k, v in raw.items() if k.startswith("a:")}
    return DepthClient(bids, asks, last)


def _engine_side(env: FlowEnv, market: str, side: Side) -> list[tuple[Decimal, Decimal]]:
    spec = CONFIG.markets[market]
    return [
        (Decimal(spec.format_price(p)), Decimal(spec.format_quantity(q)))
        for p, q in env.service.engine.levels(market, side)
    ]


def test_a_client_syncing_from_snapshot_and_diffs_holds_the_engine_book(
    flow_env: FlowEnv, tmp_path: Path
) -> None:
    commands = _commands(seed=21, n=6000)
    recovery = tmp_path / "recovery"
    flow_env.run_matcher(commands[:3000])
    run_flow(flow_env, flow_env.database_url, recovery)
    snapshots = {m: _hash_book(flow_env.client, m) for m in MARKETS}
    flow_env.run_matcher(commands[3000:])
    published = run_flow(flow_env, flow_env.database_url, recovery)  # resumes
    checked = 0
    for market in MARKETS:
        diffs = [p["data"] for p in published if p["channel"] == f"md:depth@{market}"]
        client = snapshots[market]
        for diff in diffs:
            client.apply(diff)
        assert client.side("b") == _engine_side(flow_env, market, Side.BUY)
        assert client.side("a") == _engine_side(flow_env, market, Side.SELL)
        stored = _hash_book(flow_env.client, market)
        assert stored.side("b") == client.side("b")
        assert stored.side("a") == client.side("a")
        assert stored.last == client.last
        if len(diffs) > 3:
            checked += 1
            gapped = _hash_book(flow_env.client, market)
            gapped.last = diffs[0]["U"] - 1
            gapped.apply(diffs[0])
            with pytest.raises(GapError):
                gapped.apply(diffs[2])  # diffs[1] lost
    assert checked >= 2


def test_candles_equal_sql_recomputed_from_trades(flow_env: FlowEnv) -> None:
    flow_env.run_matcher(_commands(seed=22, n=5000))
    run_flow(flow_env, flow_env.database_url)
    flow_env.persist()  # the trades the SQL recomputes from, as the persist agent stores them
    clock = max(e.ts for _, e in all_events(flow_env.client, SHARD))
    clock_dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=clock)
    expected = {r[:3]: r[3:] for r in flow_env.query(_CANDLE_SQL, clock_dt)}
    stored = {r[:3]: r[3:] for r in flow_env.query(_STORED_SQL)}
    assert stored == expected
    intervals = {key[1] for key, value in expected.items() if value[-1]}
    assert intervals == {"1m", "5m", "15m", "1h", "1d", "1w"}, "bars of every interval closed"


def test_ticker_equals_sql_over_the_last_24h(flow_env: FlowEnv) -> None:
    flow_env.run_matcher(_commands(seed=23, n=5000))
    published = run_flow(flow_env, flow_env.database_url)
    flow_env.persist()
    clock = max(e.ts for _, e in all_events(flow_env.client, SHARD))
    start = clock - clock % 60_000_000 - 1439 * 60_000_000
    start_dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=start)
    seen = 0
    for market in MARKETS:
        spec = CONFIG.markets[market]
        pushes = [p["data"] for p in published if p["channel"] == f"md:ticker@{market}"]
        o, h, low, c, v, q, n = flow_env.query(_TICKER_SQL, market, start_dt)[0]
        if not n:
            continue
        seen += 1
        last = pushes[-1]
        assert (last["o"], last["h"], last["l"], last["c"]) == tuple(
            spec.format_price(x) for x in (o, h, low, c)
        )
        assert last["v"] == spec.format_quantity(v)
        assert last["q"] == spec.quote.format(q)
        assert last["n"] == n
        assert last["p"] == spec.format_price(c - o)
        assert Decimal(last["P"]) == (Decimal(100 * (c - o)) / Decimal(o)).quantize(Decimal("0.01"))
    assert seen >= 1
    trades = [e for _, e in all_events(flow_env.client, SHARD) if isinstance(e, TradeExecuted)]
    assert min(t.ts for t in trades) < start, "the window really excludes old trades"


def test_trades_pushes_match_stored_trades(flow_env: FlowEnv) -> None:
    flow_env.run_matcher(_commands(seed=24, n=1500))
    published = run_flow(flow_env, flow_env.database_url)
    assert flow_env.query("SELECT count(*) FROM trades") == [(0,)], "the flow stores no trades"
    flow_env.persist()
    pushed = sorted(p["data"]["t"] for p in published if p["channel"].startswith("md:trades@"))
    stored = sorted(r[0] for r in flow_env.query("SELECT trade_id FROM trades"))
    assert pushed == stored
    assert len(stored) > 50


def test_book_ticker_pushes_each_change_of_the_best_levels(flow_env: FlowEnv) -> None:
    """``bookTicker@M``: one push for each book change that moves a best bid or ask (its price
    or its quantity), none otherwise, each as the depth diffs up to its ``u`` make the book;
    the last one is the engine's top of book."""
    flow_env.run_matcher(_commands(seed=23, n=3000))
    published = run_flow(flow_env, flow_env.database_url)
    checked = 0
    for market in MARKETS:
        spec = CONFIG.markets[market]
        client = DepthClient({}, {}, 0)
        tops: list[tuple[int, tuple[Any, ...]]] = []  # (u, top) after each diff
        pushes: list[dict[str, Any]] = []
        for message in published:  # in publish order: one script publishes both channels
            data = message["data"]
            if message["channel"] == topics.depth_stream(market):
                client.apply(data)
                bids, asks = client.side("b"), client.side("a")
                tops.append((data["u"], (bids[:1], asks[:1])))
            elif message["channel"] == topics.book_ticker_stream(market):
                pushes.append(data)
        moved = [u for i, (u, top) in enumerate(tops) if i == 0 or top != tops[i - 1][1]]
        assert [p["u"] for p in pushes] == moved, market
        top_at = dict(tops)
        for push in pushes:
            bids, asks = top_at[push["u"]]
            shown = (
                [(Decimal(push["b"]), Decimal(push["B"]))] if push["b"] is not None else [],
                [(Decimal(push["a"]), Decimal(push["A"]))] if push["a"] is not None else [],
            )
            assert shown == (bids, asks), push
            assert (push["e"], push["s"]) == ("bookTicker", spec.symbol)
        if pushes:
            last = pushes[-1]
            engine = (_engine_side(flow_env, market, Side.BUY)[:1],
                      _engine_side(flow_env, market, Side.SELL)[:1])  # fmt: skip
            assert top_at[last["u"]] == engine
            checked += 1
    assert checked >= 2
