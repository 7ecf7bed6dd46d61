"""The 24 h ticker: its figures in integers and its one JSON shape.

The market-data flow computes :class:`TickerValues` on event time (``pipeline/flows/ticker.py``)
and turns them into a :class:`TickerPush` with :func:`ticker_push`; that push is both what the
``ticker@M`` stream carries and what the flow keeps in the ``md:ticker:{market}`` hash
(``topics.ticker_book``), written with the publish in one fenced script. REST ``/ticker`` and
``/tickers`` read that hash, so REST and the WebSocket show the same figures, formatted once.

Change is ``last - open``; change % is ``100 * change / open`` rounded half-even to two
decimals (the push's ``P``, as Binance's). REST answers Backpack's ``priceChangePercent``, which
is the fraction ``change / open`` (``"-0.031279"``), to six places (:func:`change_fraction`). A
window without trades has no prices, a change of zero and zero volumes.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import msgspec

from model.numbers import MarketSpec

__all__ = [
    "TICKER_DATA_FIELD",
    "TickerPush",
    "TickerValues",
    "change_fraction",
    "decode_ticker",
    "encode_ticker",
    "ticker_push",
]

#: The field of the ``md:ticker:{market}`` hash holding the last push (JSON).
TICKER_DATA_FIELD = "data"
_CENT = Decimal("0.01")
_MILLIONTH = Decimal("0.000001")


class TickerValues(msgspec.Struct, frozen=True):
    """The window's figures in integers (ticks, lots, atoms)."""

    window_start: int
    open: int
    high: int
    low: int
    last: int
    volume: int
    quote_volume: int
    trades: int


class TickerPush(msgspec.Struct, frozen=True):
    """The ``ticker@M`` data object (Binance-style field names, decimal strings, ms times)."""

    event: str = msgspec.field(name="e")
    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    open: str | None = msgspec.field(name="o")
    high: str | None = msgspec.field(name="h")
    low: str | None = msgspec.field(name="l")
    last: str | None = msgspec.field(name="c")
    change: str = msgspec.field(name="p")
    change_percent: str = msgspec.field(name="P")
    volume: str = msgspec.field(name="v")
    quote_volume: str = msgspec.field(name="q")
    trades: int = msgspec.field(name="n")
    window_start: int = msgspec.field(name="O")
    window_end: int = msgspec.field(name="C")


def ticker_push(
    spec: MarketSpec, values: TickerValues | None, window_start: int, clock: int
) -> TickerPush:
    """The push for the window ``[window_start, clock]`` (µs); ``values`` ``None``: no trade."""
    if values is None:
        return TickerPush("24hrTicker", clock // 1000, spec.symbol, None, None, None, None,
                          spec.format_price(0), "0.00", spec.format_quantity(0),
                          spec.quote.format(0), 0, window_start // 1000, clock // 1000)  # fmt: skip
    change = values.last - values.open
    percent = (Decimal(100 * change) / Decimal(values.open)).quantize(_CENT, ROUND_HALF_EVEN)
    return TickerPush(
        event="24hrTicker",
        event_time=clock // 1000,
        symbol=spec.symbol,
        open=spec.format_price(values.open),
        high=spec.format_price(values.high),
        low=spec.format_price(values.low),
        last=spec.format_price(values.last),
        change=spec.format_price(change),
        change_percent=str(percent),
        volume=spec.format_quantity(values.volume),
        quote_volume=spec.quote.format(values.quote_volume),
        trades=values.trades,
        window_start=window_start // 1000,
        window_end=clock // 1000,
    )


def change_fraction(push: TickerPush) -> str:
    """Backpack's ``priceChangePercent``: ``change / open`` as a fraction, rounded half-even to
    six places (``"0.000000"`` for a window without trades)."""
    if push.open is None:
        return str(Decimal(0).quantize(_MILLIONTH))
    fraction = Decimal(push.change) / Decimal(push.open)
    return str(fraction.quantize(_MILLIONTH, ROUND_HALF_EVEN))


encode_ticker = msgspec.json.Encoder().encode
decode_ticker = msgspec.json.Decoder(TickerPush).decode
