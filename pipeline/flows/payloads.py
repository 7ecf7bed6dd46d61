"""JSON ``data`` objects of the public WebSocket streams (DESIGN.md §7), as bytes.

Prices and quantities are decimal strings on the market's grid; times are milliseconds.
"""

from __future__ import annotations

import msgspec

from model.enums import Side
from model.events import TradeExecuted
from model.intervals import INTERVAL_US, IntervalName
from model.numbers import MarketSpec
from pipeline.flows.candles import Bar
from pipeline.flows.depth import DepthDiff, Top

__all__ = [
    "book_ticker_payload",
    "depth_payload",
    "encode",
    "kline_payload",
    "level_strings",
    "trade_payload",
]

encode = msgspec.json.Encoder().encode


def trade_payload(spec: MarketSpec, trade: TradeExecuted) -> bytes:
    """``trades@M``: ``m`` is true when the maker was the buyer (the taker sold); ``b`` and
    ``a`` are the buyer's and the seller's order ids (as the API writes order ids)."""
    ms = trade.ts // 1000
    taker_sold = trade.taker_side is Side.SELL
    buyer, seller = (
        (trade.maker_order_id, trade.taker_order_id)
        if taker_sold
        else (trade.taker_order_id, trade.maker_order_id)
    )
    return encode(
        {
            "e": "trade",
            "E": ms,
            "s": spec.symbol,
            "t": trade.trade_id,
            "p": spec.format_price(trade.price),
            "q": spec.format_quantity(trade.quantity),
            "b": str(buyer),
            "a": str(seller),
            "m": taker_sold,
            "T": ms,
        }
    )


def level_strings(spec: MarketSpec, levels: dict[int, int]) -> list[list[str]]:
    """``[[price, quantity], ...]`` by price, ``"0"`` for a removed level."""
    return [
        [spec.format_price(p), spec.format_quantity(q) if q else "0"]
        for p, q in sorted(levels.items())
    ]


def depth_payload(spec: MarketSpec, diff: DepthDiff, ts: int) -> bytes:
    """``depth@M``: changed levels with absolute quantities, covering ``U..u``."""
    return encode(
        {
            "e": "depth",
            "E": ts // 1000,
            "s": spec.symbol,
            "U": diff.first,
            "u": diff.last,
            "b": level_strings(spec, diff.bids),
            "a": level_strings(spec, diff.asks),
        }
    )


def book_ticker_payload(spec: MarketSpec, top: Top, update_id: int, ts: int) -> bytes:
    """``bookTicker@M``: the best bid (``b`` price, ``B`` quantity) and ask (``a``, ``A``) as of
    book change ``u``; ``null`` for an empty side."""
    bid, ask = top
    return encode(
        {
            "e": "bookTicker",
            "E": ts // 1000,
            "s": spec.symbol,
            "u": update_id,
            "b": None if bid is None else spec.format_price(bid[0]),
            "B": None if bid is None else spec.format_quantity(bid[1]),
            "a": None if ask is None else spec.format_price(ask[0]),
            "A": None if ask is None else spec.format_quantity(ask[1]),
        }
    )


def kline_payload(
    spec: MarketSpec, interval: IntervalName, bar: Bar, closed: bool, ts: int
) -> bytes:
    """``kline.<interval>@M``: the bar so far, ``x`` true once it is closed."""
    start = bar.open_time // 1000
    return encode(
        {
            "e": "kline",
            "E": ts // 1000,
            "s": spec.symbol,
            "k": {
                "t": start,
                "T": start + INTERVAL_US[interval] // 1000 - 1,
                "s": spec.symbol,
                "i": interval,
                "o": spec.format_price(bar.open),
                "h": spec.format_price(bar.high),
                "l": spec.format_price(bar.low),
                "c": spec.format_price(bar.close),
                "v": spec.format_quantity(bar.volume),
                "q": spec.quote.format(bar.quote_volume),
                "n": bar.trades,
                "x": closed,
            },
        }
    )
