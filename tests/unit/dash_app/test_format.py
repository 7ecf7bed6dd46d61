"""dash_app/format.py: exact sums over the API's decimal strings, and display helpers."""

from __future__ import annotations

import pytest

from dash_app.format import (
    DASH,
    Level,
    change_class,
    cumulative,
    decimal_text,
    format_time,
    share,
    spread,
    ticker_items,
)
from model.api import DepthView, TickerView
from tests.support.views import view


def test_cumulative_sums_the_strings_exactly() -> None:
    # As floats 0.1 + 0.2 is 0.30000000000000004; the running totals must not be.
    levels = [["100.00", "0.1"], ["99.99", "0.2"], ["99.98", "0.0001"]]
    assert cumulative(levels) == [
        Level("100.00", "0.1", "0.1"),
        Level("99.99", "0.2", "0.3"),
        Level("99.98", "0.0001", "0.3001"),
    ]


def test_cumulative_keeps_the_prices_and_quantities_as_given() -> None:
    levels = [["20.00", "5"], ["21.50", "3"]]
    assert [(lv.price, lv.quantity) for lv in cumulative(levels)] == [
        ("20.00", "5"),
        ("21.50", "3"),
    ]
    assert cumulative(levels)[-1].total == "8"


def test_cumulative_of_nothing() -> None:
    assert cumulative([]) == []


@pytest.mark.parametrize(
    ("part", "whole", "percent"),
    [("1", "4", 25.0), ("4", "4", 100.0), ("0", "4", 0.0), ("1", "0", 0.0), ("5", "4", 100.0)],
)
def test_share(part: str, whole: str, percent: float) -> None:
    assert share(part, whole) == percent


def _depth(bids: list[list[str]], asks: list[list[str]]) -> DepthView:
    return DepthView(symbol="TATA_INR", last_update_id=1, bids=bids, asks=asks)


def test_spread_is_exact_and_needs_both_sides() -> None:
    assert spread(_depth([["99.90", "1"]], [["100.10", "2"]])) == "0.20"
    assert spread(_depth([], [["100.10", "2"]])) is None
    assert spread(_depth([["99.90", "1"]], [])) is None


def test_format_time_is_utc() -> None:
    assert format_time(1_767_571_200_000 + 3_723_000) == "01:02:03"
    assert format_time(1_767_571_200_000 + 3_723_000, seconds=False) == "01:02"


@pytest.mark.parametrize(
    ("change", "klass"), [("1.5", "up"), ("-0.01", "down"), ("0", "flat"), ("x", "flat")]
)
def test_change_class(change: str, klass: str) -> None:
    assert change_class(change) == klass


def test_ticker_items_of_an_empty_market() -> None:
    empty = view(TickerView, {
        "symbol": "BTC_USDC", "firstPrice": None, "lastPrice": None, "high": None, "low": None,
        "priceChange": "0", "priceChangePercent": "0", "volume": "0", "quoteVolume": "0.000000",
        "trades": 0,
    })  # fmt: skip
    items = dict(ticker_items(empty, "BTC", "USDC"))
    assert items["Last price"] == DASH
    assert items["24h high"] == DASH
    assert items["24h volume USDC"] == "0.000000"
    assert items["24h trades"] == "0"
    assert all(value == DASH for _, value in ticker_items(None))


def test_ticker_items_show_the_api_strings() -> None:
    ticker = view(TickerView, {
        "symbol": "TATA_INR", "firstPrice": "20.00", "lastPrice": "21.00", "high": "21.50",
        "low": "19.75", "priceChange": "1.00", "priceChangePercent": "5.00", "volume": "12",
        "quoteVolume": "250.50", "trades": 4,
    })  # fmt: skip
    assert ticker_items(ticker, "TATA", "INR") == [
        ("Last price", "21.00"),
        ("24h change", "+1.00 (+5.00%)"),
        ("24h high", "21.50"),
        ("24h low", "19.75"),
        ("24h volume TATA", "12"),
        ("24h volume INR", "250.50"),
        ("24h trades", "4"),
    ]


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("100.10", "100.10"),
        (" 0.000100 ", "0.000100"),  # trailing zeros kept: no float, no normalising
        ("5", "5"),
        (".5", ".5"),
        ("1e3", None),
        ("-1", None),
        ("1,5", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_decimal_text_passes_the_users_text_through(raw: str | None, sent: str | None) -> None:
    assert decimal_text(raw) == sent
