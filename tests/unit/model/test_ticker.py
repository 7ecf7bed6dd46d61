"""model/ticker.py: the one shape of the 24 h ticker, pushed and served by REST."""

from __future__ import annotations

import json

from model.config import load_markets
from model.ticker import TickerValues, change_fraction, decode_ticker, encode_ticker, ticker_push

SPEC = load_markets().markets["TATA_INR"]


def test_the_push_in_binance_field_names_and_decimal_strings() -> None:
    values = TickerValues(window_start=60_000_000, open=2000, high=2100, low=1990, last=2050,
                          volume=7, quote_volume=14_150, trades=3)  # fmt: skip
    push = ticker_push(SPEC, values, values.window_start, 90_000_123)
    raw = encode_ticker(push)
    assert list(json.loads(raw).items()) == [
        ("e", "24hrTicker"), ("E", 90_000), ("s", "TATA_INR"), ("o", "20.00"), ("h", "21.00"),
        ("l", "19.90"), ("c", "20.50"), ("p", "0.50"), ("P", "2.50"), ("v", "7"),
        ("q", SPEC.quote.format(14_150)), ("n", 3), ("O", 60_000), ("C", 90_000),
    ]  # fmt: skip
    assert decode_ticker(raw) == push


def test_change_percent_rounds_half_even() -> None:
    values = TickerValues(0, open=800, high=801, low=800, last=801, volume=1, quote_volume=1,
                          trades=2)  # fmt: skip
    assert ticker_push(SPEC, values, 0, 0).change_percent == "0.12"  # 0.125 -> 0.12


def test_an_empty_window() -> None:
    push = ticker_push(SPEC, None, 60_000_000, 120_000_000)
    assert (push.open, push.high, push.low, push.last) == (None, None, None, None)
    assert (push.change, push.change_percent, push.volume, push.trades) == ("0.00", "0.00", "0", 0)
    assert push.quote_volume == SPEC.quote.format(0)


def test_backpacks_change_is_a_fraction_to_six_places_half_even() -> None:
    def fraction(open_: int, last: int) -> str:
        values = TickerValues(0, open=open_, high=max(open_, last), low=min(open_, last),
                              last=last, volume=1, quote_volume=1, trades=1)  # fmt: skip
        return change_fraction(ticker_push(SPEC, values, 0, 0))

    assert fraction(2000, 2050) == "0.025000"  # the push's P: "2.50"
    assert fraction(32738, 31714) == "-0.031279"  # Backpack's own example: -10.24 / 327.38
    assert fraction(1_600_000, 1_600_001) == "0.000001"  # 0.000000625 -> up
    assert fraction(1_600_000, 1_599_999) == "-0.000001"
    assert fraction(8_000_000, 8_000_004) == "0.000000"  # 0.0000005 -> the even 0
    assert change_fraction(ticker_push(SPEC, None, 0, 0)) == "0.000000"
