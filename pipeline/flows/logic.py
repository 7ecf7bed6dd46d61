"""Per-market stateful logic: one instance per market, fed :class:`MarketBatch` items in order.

For each item it (1) moves the market clock with every event's time and closes bars that end,
(2) turns trades into ``trades@M`` pushes, candle and ticker updates (the ``trades`` table is the
persist agent's alone), and
(3) applies the item's book changes as ONE depth diff. In-progress klines and the ticker are
throttled: published at most once per ``throttle`` of wall-clock time per market (and at the end
of input); closed bars, trades and depth diffs go out at once.

The state (book, bars, ticker buckets, what is unpublished) is snapshotted as msgpack bytes at
each Bytewax epoch; the throttle's timing is not state, so a resumed market flushes at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import msgspec
from bytewax.operators import StatefulBatchLogic

from model import topics
from model.events import TradeExecuted
from model.intervals import IntervalName, minute_of
from model.numbers import MarketSpec
from model.ticker import encode_ticker, ticker_push
from pipeline.flows import payloads
from pipeline.flows.candles import Bar, CandleBook
from pipeline.flows.depth import DepthBook, Top
from pipeline.flows.records import (
    DepthWrite,
    MarketBatch,
    Publish,
    RedisRecord,
    SqlRecord,
    TickerWrite,
)
from pipeline.flows.ticker import TickerBook, window_start

__all__ = ["MarketLogic", "MarketState", "Output"]

Output = RedisRecord | SqlRecord


class MarketState(msgspec.Struct, array_like=True):
    market: str
    depth: DepthBook = msgspec.field(default_factory=DepthBook)
    candles: CandleBook = msgspec.field(default_factory=CandleBook)
    ticker: TickerBook = msgspec.field(default_factory=TickerBook)
    dirty_klines: list[IntervalName] = msgspec.field(default_factory=list)
    ticker_dirty: bool = False
    top: Top | None = None
    """The best bid and ask last pushed on ``bookTicker@M`` (``None``: not yet known)."""


_decode_state = msgspec.msgpack.Decoder(MarketState).decode
_encode = msgspec.msgpack.Encoder().encode


def _now() -> datetime:
    return datetime.now(UTC)


class MarketLogic(StatefulBatchLogic[MarketBatch, Output, bytes]):
    """Depth, trades, ticker and candles of one market."""

    def __init__(
        self,
        specs: dict[str, MarketSpec],
        resume: bytes | None,
        throttle: timedelta,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._specs = specs
        self._state: MarketState | None = _decode_state(resume) if resume else None
        self._throttle = throttle
        self._clock = clock
        self._last_flush: datetime | None = None

    # --- Bytewax hooks -------------------------------------------------------------------

    def on_batch(self, values: list[MarketBatch]) -> tuple[Iterable[Output], bool]:
        out: list[Output] = []
        for item in values:
            self._item(item, out)
        if self._due():
            self._flush(out)
        return out, StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable[Output], bool]:
        out: list[Output] = []
        self._flush(out)
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[Output], bool]:
        return self.on_notify()

    def notify_at(self) -> datetime | None:
        state = self._state
        if state is None or not (state.dirty_klines or state.ticker_dirty):
            return None
        if self._last_flush is None:
            return self._clock()
        return self._last_flush + self._throttle

    def snapshot(self) -> bytes:
        return _encode(self._state)

    # --- work ----------------------------------------------------------------------------

    def _due(self) -> bool:
        return self._last_flush is None or self._clock() >= self._last_flush + self._throttle

    def _item(self, item: MarketBatch, out: list[Output]) -> None:
        state = self._state
        if state is None:
            state = self._state = MarketState(market=item.market)
        spec = self._specs[item.market]
        candles, dirty = state.candles, state.dirty_klines
        for event in item.events:
            self._advance(spec, state, event.ts, out)
            if type(event) is TradeExecuted:
                assert isinstance(event, TradeExecuted)
                candles.trade(event.price, event.quantity, event.quote_amount)
                state.ticker.trade(candles.clock, event.price, event.quantity, event.quote_amount)
                state.ticker_dirty = True
                if len(dirty) != len(candles.bars):
                    dirty[:] = list(candles.bars)  # a trade touches every interval's bar
                out.append(
                    Publish(
                        topics.trades_stream(spec.symbol),
                        payloads.trade_payload(spec, event),
                    )
                )
        self._advance(spec, state, item.ts, out)
        diff = state.depth.apply(item.events)
        if diff is not None:
            fields = {
                f"b:{spec.format_price(p)}": spec.format_quantity(q) if q else "0"
                for p, q in diff.bids.items()
            }
            fields.update(
                (f"a:{spec.format_price(p)}", spec.format_quantity(q) if q else "0")
                for p, q in diff.asks.items()
            )
            out.append(
                DepthWrite(
                    key=topics.depth_book(spec.symbol),
                    channel=topics.depth_stream(spec.symbol),
                    first=diff.first,
                    last=diff.last,
                    levels=fields,
                    payload=payloads.depth_payload(spec, diff, candles.clock),
                    time=candles.clock,
                )
            )
            top = state.depth.top_after(diff, state.top)
            if top != state.top:
                state.top = top
                out.append(
                    Publish(
                        topics.book_ticker_stream(spec.symbol),
                        payloads.book_ticker_payload(spec, top, diff.last, candles.clock),
                    )
                )

    def _advance(self, spec: MarketSpec, state: MarketState, ts: int, out: list[Output]) -> None:
        before = state.candles.clock
        closed = state.candles.advance(ts)
        if minute_of(state.candles.clock) != minute_of(before) and state.ticker.buckets:
            state.ticker_dirty = True  # the window slid
        for interval, bar in closed:
            if interval in state.dirty_klines:
                state.dirty_klines.remove(interval)
            out.append(bar.row(spec.symbol, interval, closed=True))
            out.append(self._kline(spec, interval, bar, True, state.candles.clock))

    @staticmethod
    def _kline(
        spec: MarketSpec, interval: IntervalName, bar: Bar, closed: bool, ts: int
    ) -> Publish:
        return Publish(
            topics.kline_stream(interval, spec.symbol),
            payloads.kline_payload(spec, interval, bar, closed, ts),
        )

    def _flush(self, out: list[Output]) -> None:
        state = self._state
        if state is None:
            return
        self._last_flush = self._clock()
        spec = self._specs[state.market]
        clock = state.candles.clock
        for interval in state.dirty_klines:
            bar = state.candles.bars[interval]
            out.append(bar.row(spec.symbol, interval, closed=False))
            out.append(self._kline(spec, interval, bar, False, clock))
        state.dirty_klines.clear()
        if state.ticker_dirty:
            state.ticker_dirty = False
            # An emptied window (its last bucket left) is pushed too: REST and WS show no trades.
            push = ticker_push(spec, state.ticker.values(clock), window_start(clock), clock)
            out.append(
                TickerWrite(
                    key=topics.ticker_book(spec.symbol),
                    channel=topics.ticker_stream(spec.symbol),
                    clock=clock,
                    payload=encode_ticker(push),
                )
            )
