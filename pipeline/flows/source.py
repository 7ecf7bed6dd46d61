"""A resumable Bytewax source over the shards' ``tw:{shard}:events`` streams.

One partition per shard; its state is the id of the last entry it emitted, so a resumed flow
reads on right after it (Bytewax stores that id with the operators' state at every epoch, which
makes the whole flow exactly-once up to idempotent sinks). Reads are ``XREAD COUNT batch`` (so a
backlog arrives in batches of hundreds of entries) and block briefly only when the last read
came back empty.

Each entry becomes one :class:`MarketBatch` per market it touches, in ``seq`` order. Markets of
the shard that the entry does not touch get an empty batch (a clock tick) whenever the entry's
time reaches a new minute for them, so their bars close on event time even while they are quiet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from model import topics, wire
from model.events import Deposited, StateEvent
from model.intervals import minute_of
from model.lease import fenced_script
from pipeline.fence import Fence, call_fenced
from pipeline.flows.records import MarketBatch

__all__ = ["EventSource", "Item", "split_batch"]

Item = tuple[str, MarketBatch]

# After FENCE: KEYS[2..] = the depth and ticker hashes to drop.
_CLEAR_BOOKS = """
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"""


def split_batch(
    batch: wire.EventBatch, markets: list[str], seen: dict[str, int], out: list[Item]
) -> None:
    """Append one events entry's items: per market its events, then clock ticks.

    ``seen`` remembers, per market, the last minute it was sent; a market the entry does not
    touch gets an empty batch only when the entry's time has reached a new minute for it.
    """
    per_market: dict[str, list[StateEvent]] = {}
    ts = 0
    for command in batch.commands:
        for event in command.events:
            ts = max(ts, event.ts)
            if type(event) is not Deposited:
                market: str = event.market  # type: ignore[union-attr]
                per_market.setdefault(market, []).append(event)
    minute = minute_of(ts)
    for market, events in per_market.items():
        out.append((market, MarketBatch(market, ts, events)))
        seen[market] = minute
    for market in markets:
        if market not in per_market and seen.get(market, -1) < minute:
            seen[market] = minute
            out.append((market, MarketBatch(market, ts, [])))


class _ShardPartition(StatefulSourcePartition[Item, str]):
    def __init__(
        self,
        client: redis.Redis,
        shard: str,
        markets: list[str],
        after: str,
        count: int,
        block_ms: int,
        stop_when_idle: bool,
        guard: Callable[[], None] | None,
    ) -> None:
        self._client = client
        self._guard = guard
        self._key = topics.events(shard)
        self._markets = markets
        self._after = after
        self._count = count
        self._block_ms = block_ms
        self._stop_when_idle = stop_when_idle
        self._idle = False
        self._minute: dict[str, int] = {}

    def next_batch(self) -> list[Item]:
        if self._guard is not None:
            self._guard()  # a lease known to be lost: read nothing more
        block = self._block_ms if self._idle and not self._stop_when_idle else None
        raw: Any = self._client.xread({self._key: self._after}, count=self._count, block=block)
        entries = raw[0][1] if raw else []
        self._idle = not entries
        if not entries:
            if self._stop_when_idle:
                raise StopIteration
            return []
        out: list[Item] = []
        for _, fields in entries:
            if fields and wire.BATCH_FIELD in fields:
                split_batch(
                    wire.decode_event_batch(fields[wire.BATCH_FIELD]),
                    self._markets,
                    self._minute,
                    out,
                )
        self._after = entries[-1][0].decode()
        return out

    def snapshot(self) -> str:
        return self._after

    def close(self) -> None:
        self._client.close()


class EventSource(FixedPartitionedSource[Item, str]):
    """``(market, MarketBatch)`` items from every shard's event stream.

    ``shards`` maps each shard to its markets. ``stop_when_idle`` ends the input at the first
    empty read (tests and batch replays); otherwise the source runs forever. The source only
    reads (``XREAD``: a flow that lost its lease takes nothing away from anyone), except on a
    fresh start, when it drops the depth and ticker hashes under ``fence``. ``guard`` (the lease's
    ``check``) runs before each read and raises once the lease is known to be lost (or has run
    past its local deadline): a flow resumed after a pause past its lease ends at its next read
    rather than reading on (its Redis and PostgreSQL writes are fenced in any case).
    """

    def __init__(
        self,
        redis_url: str,
        shards: dict[str, list[str]],
        fence: Fence,
        *,
        count: int = 1000,
        block_ms: int = 20,
        stop_when_idle: bool = False,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self._url = redis_url
        self._guard = guard
        self._shards = shards
        self._fence = fence
        self._count = count
        self._block_ms = block_ms
        self._stop_when_idle = stop_when_idle

    def list_parts(self) -> list[str]:
        return sorted(self._shards)

    def build_part(self, step_id: str, for_part: str, resume_state: str | None) -> _ShardPartition:
        client = redis.Redis.from_url(self._url)
        markets = sorted(self._shards[for_part])
        if resume_state is None and markets:
            # A fresh start recounts update ids from 1 and replays time from the start: drop
            # the depth and ticker hashes of an older run, or their higher lastUpdateId (clock)
            # would make the sink skip every new diff (ticker).
            books = [topics.depth_book(m) for m in markets]
            books += [topics.ticker_book(m) for m in markets]
            call_fenced(fenced_script(client, _CLEAR_BOOKS), self._fence, books, [])
        return _ShardPartition(
            client,
            for_part,
            markets,
            resume_state or "0-0",
            self._count,
            self._block_ms,
            self._stop_when_idle,
            self._guard,
        )
