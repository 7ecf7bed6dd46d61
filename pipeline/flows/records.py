"""What travels through the flow: the input per market, and what the flow asks sinks to do.

Input items are ``(market, MarketBatch)``: the state events of ONE ``tw:{shard}:events`` entry
that concern that market, in ``seq`` order, with ``ts`` = the newest event time of the whole
entry (so a market with no events of its own still sees time pass: bars close on event time).

Output records are plain frozen structs; the flow routes :class:`Publish`, :class:`DepthWrite`
and :class:`TickerWrite` to Redis, :class:`CandleRow` to PostgreSQL (``trades`` rows are the
persist agent's: it is their one writer).
"""

from __future__ import annotations

import msgspec

from model.events import StateEvent

__all__ = [
    "CandleRow",
    "DepthWrite",
    "MarketBatch",
    "Publish",
    "RedisRecord",
    "SqlRecord",
    "TickerWrite",
]


class MarketBatch(msgspec.Struct, frozen=True, array_like=True):
    """One events entry's events for ``market`` (possibly none: a clock tick)."""

    market: str
    ts: int
    events: list[StateEvent]


class Publish(msgspec.Struct, frozen=True, array_like=True):
    """``PUBLISH channel payload`` (payload: the JSON ``data`` of a WebSocket push)."""

    channel: str
    payload: bytes


class DepthWrite(msgspec.Struct, frozen=True, array_like=True):
    """A depth diff: update the ``md:depth:{market}`` hash and publish, atomically.

    ``levels`` maps hash fields (``b:<price>``/``a:<price>``) to absolute quantities; ``"0"``
    deletes the field. ``first``/``last`` are the diff's ``U``/``u``; ``time`` (µs, event time)
    is kept beside ``lastUpdateId`` as ``timestamp``.
    """

    key: str
    channel: str
    first: int
    last: int
    levels: dict[str, str]
    payload: bytes
    time: int


class TickerWrite(msgspec.Struct, frozen=True, array_like=True):
    """The 24 h ticker: keep ``payload`` in the ``md:ticker:{market}`` hash and publish it,
    atomically, unless the hash holds a newer one (``clock``: the market clock, µs)."""

    key: str
    channel: str
    clock: int
    payload: bytes


class CandleRow(msgspec.Struct, frozen=True, array_like=True):
    """One bar as stored in ``candles`` (prices in ticks, volume in lots, quote in atoms)."""

    market: str
    interval: str
    open_time: int  # microseconds since the epoch
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int
    closed: bool


RedisRecord = Publish | DepthWrite | TickerWrite
SqlRecord = CandleRow
