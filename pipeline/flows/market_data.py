"""The market-data dataflow: events in, depth/trades/ticker/candles out, keyed by market.

::

    events (EventSource: one partition per shard)          (market, MarketBatch)
      └─ stateful_batch "market" (MarketLogic per market)   (market, record)
           ├─ Redis records → RedisSink   (PUBLISH md:*, depth/ticker hashes, one script)
           └─ SQL records   → PostgresSink (candles upsert; ``trades`` is the persist agent's)

Time is event time throughout (see :mod:`pipeline.flows.candles`): no Bytewax windowing clock,
so nothing replayed after downtime is ever "late". Sources and sinks are parameters so tests
can swap in ``TestingSource``/``TestingSink``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from model.config import MarketConfig
from pipeline.flows.logic import MarketLogic, Output
from pipeline.flows.records import CandleRow, RedisRecord, SqlRecord
from pipeline.flows.source import Item

__all__ = ["DEFAULT_THROTTLE", "build_flow"]

#: Longest a quiet market's in-progress kline or ticker waits to be published.
DEFAULT_THROTTLE = timedelta(milliseconds=250)


def _is_sql(item: tuple[str, Output]) -> bool:
    return type(item[1]) is CandleRow


def _value(item: tuple[str, Any]) -> Any:
    return item[1]


def build_flow(
    config: MarketConfig,
    source: Source[Item],
    redis_sink: Sink[RedisRecord],
    sql_sink: Sink[SqlRecord],
    *,
    throttle: timedelta = DEFAULT_THROTTLE,
) -> Dataflow:
    """Wire the dataflow (nothing runs until ``bytewax.run``/``run_main``)."""
    specs = dict(config.markets)
    flow = Dataflow("tidewater_market_data")
    items = op.input("events", flow, source)
    records = op.stateful_batch(
        "market", items, lambda resume: MarketLogic(specs, resume, throttle)
    )
    split = op.branch("split", records, _is_sql)
    op.output("postgres", op.map("sql_values", split.trues, _value), sql_sink)
    op.output("redis", op.map("redis_values", split.falses, _value), redis_sink)
    return flow
