"""Where the flow's records go: Redis (pub/sub and the depth hash) and PostgreSQL.

Every write is fenced by the flow's writer lease (``pipeline/fence.py``): each sink gets the
process's :class:`~pipeline.fence.Fence` in its constructor and hands it to every partition
(worker), so all workers of one process write under its one lease.

Redis: ONE fenced Lua script per batch (in chunks of :data:`_CHUNK` records): it checks the
lease token, then, record by record in order, publishes a push, keeps and publishes a ticker
(``md:ticker:{market}`` holds the last one and its clock; an older one, replayed after a restart,
is skipped, so the hash never goes back and REST serves what was last pushed), or applies a
depth diff: the
levels go to ``md:depth:{market}``, ``lastUpdateId`` is set and the diff published, atomically
(a reader of the hash never sees levels and ``lastUpdateId`` disagree) and only if the diff is
newer than what the hash holds. After a restart Bytewax replays the items since its last
snapshot; their diffs are identical to the ones already applied and are skipped, so the hash
never goes back and clients never see an update id twice. A flow that lost its lease writes
nothing: the script answers ``FENCED`` and the partition raises
:class:`~model.lease.LeaseLostError`, which ends the dataflow.

PostgreSQL writes are idempotent upserts of candles by ``(market, interval, open_time)`` (last
state wins), each batch in one transaction fenced by the lease epoch
(:func:`pipeline.fence.claim`). The flow writes no ``trades`` rows: the persist agent is their
one writer.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from model.lease import fenced_script
from model.timestamps import from_micros
from pipeline.fence import Fence, call_fenced, claim
from pipeline.flows.records import (
    CandleRow,
    DepthWrite,
    Publish,
    RedisRecord,
    SqlRecord,
    TickerWrite,
)

__all__ = ["PostgresSink", "RedisSink"]

log = logging.getLogger("tidewater.flow")

#: Records per script call: bounds the time one call holds Redis.
_CHUNK = 500

# After FENCE (KEYS[1] = lease, ARGV[1] = token): KEYS[2..] = the hashes of the batch's depth
# and ticker records, in order; ARGV[2..] = the records, in order, each one of
#   'p', channel, payload                                  a push
#   't', clock, channel, payload                           a ticker (hash fields clock, data)
#   'd', U, u, channel, payload, time, n, n field/value pairs
#                                                          a depth diff ("0" deletes a level;
#                                                          time: µs, kept as 'timestamp')
# Returns how many records were written (skipped diffs and older tickers are not).
_BATCH_SCRIPT = """
local written, k, i = 0, 2, 2
while i <= #ARGV do
  if ARGV[i] == 'p' then
    redis.call('PUBLISH', ARGV[i + 1], ARGV[i + 2])
    written = written + 1
    i = i + 3
  elseif ARGV[i] == 't' then
    local key = KEYS[k]
    k = k + 1
    local held = redis.call('HGET', key, 'clock')
    if not held or tonumber(ARGV[i + 1]) >= tonumber(held) then
      redis.call('HSET', key, 'clock', ARGV[i + 1], 'data', ARGV[i + 3])
      redis.call('PUBLISH', ARGV[i + 2], ARGV[i + 3])
      written = written + 1
    end
    i = i + 4
  else
    local key, n = KEYS[k], tonumber(ARGV[i + 6])
    k = k + 1
    local last = tonumber(redis.call('HGET', key, 'lastUpdateId') or '0')
    if tonumber(ARGV[i + 2]) > last then
      for j = i + 7, i + 5 + 2 * n, 2 do
        if ARGV[j + 1] == '0' then
          redis.call('HDEL', key, ARGV[j])
        else
          redis.call('HSET', key, ARGV[j], ARGV[j + 1])
        end
      end
      redis.call('HSET', key, 'lastUpdateId', ARGV[i + 2], 'timestamp', ARGV[i + 5])
      redis.call('PUBLISH', ARGV[i + 3], ARGV[i + 4])
      written = written + 1
    end
    i = i + 7 + 2 * n
  end
end
return written
"""


class _RedisPartition(StatelessSinkPartition[RedisRecord]):
    def __init__(self, url: str, fence: Fence) -> None:
        self._client = redis.Redis.from_url(url)
        self._fence = fence
        self._script = fenced_script(self._client, _BATCH_SCRIPT)

    def write_batch(self, items: list[RedisRecord]) -> None:
        for start in range(0, len(items), _CHUNK):
            keys: list[Any] = []
            args: list[Any] = []
            for item in items[start : start + _CHUNK]:
                if type(item) is Publish:
                    assert isinstance(item, Publish)
                    args += (b"p", item.channel, item.payload)
                elif type(item) is TickerWrite:
                    assert isinstance(item, TickerWrite)
                    keys.append(item.key)
                    args += (b"t", item.clock, item.channel, item.payload)
                else:
                    assert isinstance(item, DepthWrite)
                    keys.append(item.key)
                    args += (b"d", item.first, item.last, item.channel, item.payload, item.time)
                    args.append(len(item.levels))
                    for name, value in item.levels.items():
                        args += (name, value)
            call_fenced(self._script, self._fence, keys, args)

    def close(self) -> None:
        self._client.close()


class RedisSink(DynamicSink[RedisRecord]):
    """Publishes pushes and keeps the depth hashes, one connection per worker, every write
    fenced by ``fence``."""

    def __init__(self, url: str, fence: Fence) -> None:
        self._url = url
        self._fence = fence

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _RedisPartition:
        return _RedisPartition(self._url, self._fence)


_CANDLE_SQL = """
INSERT INTO candles (market, interval, open_time, open, high, low, close, volume,
                     quote_volume, trades, closed)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (market, interval, open_time) DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, quote_volume = EXCLUDED.quote_volume, trades = EXCLUDED.trades,
    closed = EXCLUDED.closed
"""


class _PostgresPartition(StatelessSinkPartition[SqlRecord]):
    def __init__(self, url: str, fence: Fence) -> None:
        self._url = url
        self._fence = fence
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url)
        return self._conn

    def write_batch(self, items: list[SqlRecord]) -> None:
        candles: dict[tuple[str, str, int], CandleRow] = {}
        for item in items:
            candles[item.market, item.interval, item.open_time] = item  # last state wins
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
        for attempt in range(8):
            try:
                conn = self._connection()
                with conn.transaction(), conn.cursor() as cur:
                    claim(cur, self._fence)  # first; refused: rolled back, the flow ends
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
    """Upserts candles, one connection per worker, each transaction fenced by ``fence``'s
    epoch. (``trades`` rows are the persist agent's: it is their one writer.)"""

    def __init__(self, url: str, fence: Fence) -> None:
        self._url = url
        self._fence = fence

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _PostgresPartition:
        return _PostgresPartition(self._url, self._fence)
