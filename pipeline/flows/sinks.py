"""Where the flow's records go: Redis (pub/sub and the depth hash) and PostgreSQL.

Depth writes run as one Lua script per diff: it applies the levels to ``md:depth:{market}``,
sets ``lastUpdateId`` and publishes the diff, atomically (like MULTI/EXEC, so a reader of the
hash never sees levels and ``lastUpdateId`` disagree) and only if the diff is newer than what the
hash holds. After a restart Bytewax replays the items since its last snapshot; their diffs are
identical to the ones already applied and are skipped, so the hash never goes back and clients
never see an update id twice.

PostgreSQL writes are idempotent upserts: candles by ``(market, interval, open_time)`` (last
state wins), trades by ``(market, trade_id, ts)`` (first insert wins; the values are the same).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from model.timestamps import from_micros
from pipeline.flows.records import CandleRow, DepthWrite, Publish, RedisRecord, SqlRecord, TradeRow

__all__ = ["PostgresSink", "RedisSink"]

log = logging.getLogger("tidewater.flow")

# KEYS[1] = depth hash; ARGV = U, u, channel, payload, then field/value pairs ("0" deletes).
_DEPTH_SCRIPT = """
local last = tonumber(redis.call('HGET', KEYS[1], 'lastUpdateId') or '0')
if tonumber(ARGV[2]) <= last then return 0 end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '0' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[1], 'lastUpdateId', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""


class _RedisPartition(StatelessSinkPartition[RedisRecord]):
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._depth = self._client.register_script(_DEPTH_SCRIPT)

    def write_batch(self, items: list[RedisRecord]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for item in items:
            if type(item) is Publish:
                assert isinstance(item, Publish)
                pipe.publish(item.channel, item.payload)
            else:
                assert isinstance(item, DepthWrite)
                args: list[Any] = [item.first, item.last, item.channel, item.payload]
                for name, value in item.levels.items():
                    args += (name, value)
                self._depth(keys=[item.key], args=args, client=pipe)
        pipe.execute()

    def close(self) -> None:
        self._client.close()


class RedisSink(DynamicSink[RedisRecord]):
    """Publishes pushes and keeps the depth hashes, one connection per worker."""

    def __init__(self, url: str) -> None:
        self._url = url

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _RedisPartition:
        return _RedisPartition(self._url)


_CANDLE_SQL = """
INSERT INTO candles (market, interval, open_time, open, high, low, close, volume,
                     quote_volume, trades, closed)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (market, interval, open_time) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, quote_volume = EXCLUDED.quote_volume, trades = EXCLUDED.trades,
    closed = EXCLUDED.closed
"""
_TRADE_SQL = """
INSERT INTO trades (market, trade_id, ts, price, quantity, quote_amount, taker_side,
                    maker_order_id, taker_order_id, maker_user_id, taker_user_id,
                    maker_fee, taker_fee, seq)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING
"""


class _PostgresPartition(StatelessSinkPartition[SqlRecord]):
    def __init__(self, url: str, write_trades: bool) -> None:
        self._url = url
        self._write_trades = write_trades
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url)
        return self._conn

    def write_batch(self, items: list[SqlRecord]) -> None:
        candles: dict[tuple[str, str, int], CandleRow] = {}
        trades: list[TradeRow] = []
        for item in items:
            if type(item) is CandleRow:
                assert isinstance(item, CandleRow)
                candles[item.market, item.interval, item.open_time] = item  # last state wins
            elif self._write_trades:
                assert isinstance(item, TradeRow)
                trades.append(item)
        candle_rows = [
            (
                c.market,
                c.interval,
                from_micros(c.open_time),
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                c.quote_volume,
                c.trades,
                c.closed,
            )
            for c in candles.values()
        ]
        trade_rows = [
            (
                t.market,
                t.trade_id,
                from_micros(t.ts),
                t.price,
                t.quantity,
                t.quote_amount,
                t.taker_side,
                t.maker_order_id,
                t.taker_order_id,
                t.maker_user_id,
                t.taker_user_id,
                t.maker_fee,
                t.taker_fee,
                t.seq,
            )
            for t in trades
        ]
        for attempt in range(8):
            try:
                conn = self._connection()
                with conn.transaction(), conn.cursor() as cur:
                    if trade_rows:
                        cur.executemany(_TRADE_SQL, trade_rows)
                    if candle_rows:
                        cur.executemany(_CANDLE_SQL, candle_rows)
                return
            except psycopg.OperationalError as exc:
                if attempt == 7:
                    raise
                log.warning("postgres write failed (%s); retrying", exc)
                self._conn = None
                time.sleep(min(0.1 * 2**attempt, 5.0))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class PostgresSink(DynamicSink[SqlRecord]):
    """Upserts candles (and, unless told not to, inserts trades), one connection per worker."""

    def __init__(self, url: str, *, write_trades: bool = True) -> None:
        self._url = url
        self._write_trades = write_trades

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _PostgresPartition:
        return _PostgresPartition(self._url, self._write_trades)
