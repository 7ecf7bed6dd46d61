"""A market's summary over a window, from bars; figures worked out by hand."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from analytics.frames import empty_bars
from analytics.summaries import COLUMNS, summary
from model.config import load_markets
from tests.support.bars import at, bars

CONFIG = load_markets()
TATA = CONFIG.markets["TATA_INR"]  # tick 0.01 INR, lot 1, 1 tick x 1 lot = 1 paisa
BTC = CONFIG.markets["BTC_USDC"]  # tick 0.01 USDC, lot 0.0001 BTC, 1 tick x 1 lot = 1 USDC atom

WINDOW = {"start": at(0), "end": at(5)}
MINUTES = bars(
    [  # minute, open, high, low, close, volume, quote volume, trades
        (0, 10_000, 10_050, 9_990, 10_020, 5, 50_080, 3),
        (1, 10_020, 10_100, 10_010, 10_100, 2, 20_150, 1),
        (3, 10_100, 10_100, 9_950, 9_960, 3, 29_910, 2, False),  # nothing traded at 00:02
    ]
)


def test_summary_of_a_window() -> None:
    result = summary(MINUTES, TATA, every="1m", **WINDOW)
    assert (result.open, result.high, result.low, result.close) == (10_000, 10_100, 9_950, 9_960)
    assert (result.bars, result.volume, result.quote_volume, result.trades) == (3, 10, 100_140, 6)
    assert result.change == -40  # 9,960 - 10,000
    assert result.change_percent == Decimal("-0.40")  # -40 / 10,000 x 100
    # VWAP: 100,140 atoms / (10 lots x 1) = 10,014 ticks exactly = 100.140 INR.
    assert result.vwap == Decimal("100.140")
    # Volatility per minute, 00:02 counted flat at 10,100: returns ln(10100/10020) = 0.0079523,
    # ln(10100/10100) = 0, ln(9960/10100) = -0.0139584; mean -0.0020020; squared deviations
    # 9.8847e-5 + 4.0080e-6 + 1.4153e-4 = 2.4605e-4; / 2 = 1.2303e-4; root 0.0110917.
    assert result.volatility == pytest.approx(0.011091686365627075)
    assert result.display() == {
        "market": "TATA_INR",
        "open": "100.00",
        "high": "101.00",
        "low": "99.50",
        "close": "99.60",
        "change": "-0.40",
        "change %": "-0.40%",
        "volume": "10",
        "quote volume": "1001.40",
        "trades": "6",
        "VWAP": "100.140",
        "volatility": "1.1092%",
    }
    assert tuple(result.display()) == COLUMNS


def test_the_gap_counts_as_a_flat_minute() -> None:
    # Without filling, the two returns would be ln(10100/10020) and ln(9960/10100), whose
    # deviation differs: the summary must not treat 00:01 -> 00:03 as one minute.
    unfilled = [math.log(10_100 / 10_020), math.log(9_960 / 10_100)]
    gap_blind = abs(unfilled[0] - unfilled[1]) / math.sqrt(2)
    assert summary(MINUTES, TATA, every="1m", **WINDOW).volatility != pytest.approx(gap_blind)


def test_an_empty_market_summarises_to_no_prices_and_zero_volume() -> None:
    result = summary(empty_bars(), BTC, every="5m", **WINDOW)
    assert (result.bars, result.open, result.close, result.vwap, result.volatility) == (
        0, None, None, None, None,
    )  # fmt: skip
    assert (result.volume, result.quote_volume, result.trades) == (0, 0, 0)
    assert result.change is None
    assert result.change_percent is None
    assert result.display() == {
        "market": "BTC_USDC",
        "open": "-",
        "high": "-",
        "low": "-",
        "close": "-",
        "change": "-",
        "change %": "-",
        "volume": "0.0000",
        "quote volume": "0.000000",  # never "0E-6"
        "trades": "0",
        "VWAP": "-",
        "volatility": "-",
    }


def test_one_bar_has_prices_but_no_volatility() -> None:
    one = bars([(2, 6_500_000, 6_500_100, 6_499_900, 6_500_001, 3, 19_500_003, 2)])
    result = summary(one.lazy(), BTC, every="1m", **WINDOW)
    # 19,500,003 atoms / 3 lots = 6,500,001 ticks = 65,000.01 USDC, shown to 0.001.
    assert result.vwap == Decimal("65000.010")
    assert result.volatility is None
    shown = result.display()
    assert (shown["change"], shown["change %"], shown["volume"]) == ("+0.01", "0.00%", "0.0003")
    assert shown["quote volume"] == "19.500003"


@pytest.mark.parametrize(
    ("open_", "close", "percent"),
    [
        (300, 301, "0.33"),  # 0.3333...
        (800, 801, "0.12"),  # 0.125: a tie, to the even 0.12
        (800, 803, "0.38"),  # 0.375: a tie, to the even 0.38
        (800, 799, "-0.12"),  # -0.125
        (100, 250, "150.00"),
    ],
)
def test_change_percent_rounds_half_to_even(open_: int, close: int, percent: str) -> None:
    frame = bars([(0, open_, max(open_, close), min(open_, close), close, 1, close, 1)])
    assert summary(frame, TATA, every="1m", **WINDOW).change_percent == Decimal(percent)
