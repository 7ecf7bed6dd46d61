"""dash_app/figures.py: figures from API payloads, empty states included."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dash_app.figures import (
    MIN_BARS_SHOWN,
    NO_ORDERS,
    NO_TRADES,
    candles_figure,
    depth_figure,
    empty_figure,
    line_figure,
)
from model.api import DepthView, KlineView

MINUTE = 60_000
T0 = 1_767_571_200_000


def _kline(start: int, o: str, h: str, lo: str, c: str, v: str) -> KlineView:
    return KlineView(start=start, open=o, high=h, low=lo, close=c, volume=v, quote_volume="0",
                     trades=1, closed=True)  # fmt: skip


def _depth(bids: list[list[str]], asks: list[list[str]], symbol: str = "TATA_INR") -> DepthView:
    return DepthView(symbol=symbol, last_update_id=1, bids=bids, asks=asks)


def _message(fig: Any) -> str:
    return str(fig.layout.annotations[0].text)


def test_empty_market_says_no_trades_yet() -> None:
    fig = candles_figure([], MINUTE, "TATA_INR:1m")
    assert fig.data == ()
    assert _message(fig) == NO_TRADES
    assert fig.layout.uirevision == "TATA_INR:1m"


def test_empty_book_says_so() -> None:
    fig = depth_figure(_depth([], []), "x")
    assert fig.data == ()
    assert _message(fig) == NO_ORDERS


def test_candles_and_volume() -> None:
    klines = [
        _kline(T0, "100.00", "101.00", "99.50", "100.50", "3"),
        _kline(T0 + MINUTE, "100.50", "100.75", "99.00", "99.25", "0.5"),
    ]
    fig = candles_figure(klines, MINUTE, "TATA_INR:1m")
    candles, volume = fig.data
    assert candles.type == "candlestick"
    # One empty bar after the last sets the candle width to one interval.
    assert list(candles.open) == [100.0, 100.5, None]
    assert list(candles.close) == [100.5, 99.25, None]
    assert len(candles.x) == 3
    assert list(volume.y) == [3.0, 0.5]
    assert volume.width == MINUTE * 0.7
    # Rising bar green, falling bar red.
    assert volume.marker.color[0] != volume.marker.color[1]
    assert fig.layout.uirevision == "TATA_INR:1m"


def test_a_lone_first_bar_is_framed_among_room_for_more() -> None:
    fig = candles_figure([_kline(T0, "10", "10", "10", "10", "1")], MINUTE, "r")
    start, end = fig.layout.xaxis.range
    span = dt.datetime.fromisoformat(str(end)) - dt.datetime.fromisoformat(str(start))
    assert span >= dt.timedelta(minutes=MIN_BARS_SHOWN)


def test_depth_is_cumulative_from_the_best_level() -> None:
    depth = _depth(
        [["100.00", "0.1"], ["99.00", "0.2"], ["98.00", "0.3"]],
        [["101.00", "0.5"], ["102.00", "0.25"]],
        "BTC_USDC",
    )
    fig = depth_figure(depth, "BTC_USDC")
    bids, asks = fig.data
    # Bids ascend in price left to right; the first point is the tail past the deepest level.
    assert list(bids.x)[1:] == [98.0, 99.0, 100.0]
    # Totals are summed as decimals (0.1 + 0.2 is 0.3 exactly) before becoming floats.
    assert list(bids.y) == [0.6, 0.6, 0.3, 0.1]
    assert list(asks.x)[:-1] == [101.0, 102.0]
    assert list(asks.y) == [0.5, 0.75, 0.75]
    assert bids.x[0] < 98.0
    assert asks.x[-1] > 102.0
    assert fig.layout.uirevision == "BTC_USDC"


def test_depth_with_one_side_only() -> None:
    fig = depth_figure(_depth([], [["5.00", "2"]]), "r")
    bids, asks = fig.data
    assert list(bids.x) == []
    assert list(asks.y) == [2.0, 2.0]


def test_line_figure_empty_and_full() -> None:
    assert _message(line_figure([], {"close": []}, "r")) == NO_TRADES
    times = [dt.datetime(2026, 1, 5, tzinfo=dt.UTC) + dt.timedelta(minutes=i) for i in range(3)]
    fig = line_figure(times, {"close": [1.0, 2.0, None], "VWAP": [1.0, 1.5, 1.5]}, "r")
    assert [t.name for t in fig.data] == ["close", "VWAP"]
    assert fig.layout.showlegend is True


def test_empty_figure_hides_its_axes() -> None:
    fig = empty_figure("Exchange unreachable")
    assert fig.layout.xaxis.visible is False
    assert _message(fig) == "Exchange unreachable"


def test_line_figure_widens_a_short_span_and_reports_no_values() -> None:
    times = [dt.datetime(2026, 1, 5, tzinfo=dt.UTC)]
    fig = line_figure(times, {"close": [1.0]}, "r", min_span=dt.timedelta(minutes=30))
    start, end = (dt.datetime.fromisoformat(str(v)) for v in fig.layout.xaxis.range)
    assert end - start > dt.timedelta(minutes=30)
    nothing = line_figure(times, {"log return": [None]}, "r", empty="Returns need two bars")
    assert _message(nothing) == "Returns need two bars"
