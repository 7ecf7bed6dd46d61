"""The Decimal <-> integer boundary: exact conversions, and every bad value refused by name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from model.config import load_markets, normalize_symbol
from model.numbers import MAX_BALANCE, Asset, MarketSpec, ValidationError

CONFIG = load_markets()
BTC = CONFIG.markets["BTC_USDC"]  # tick 0.01 USDC, lot 0.0001 BTC


@pytest.mark.parametrize(
    ("value", "ticks"),
    [
        ("65000.01", 6_500_001),
        ("0.01", 1),
        (65000, 6_500_000),
        (Decimal("65000.10"), 6_500_010),
        ("65000.0100", 6_500_001),
        ("0065000", 6_500_000),
    ],
)
def test_price_converts_exactly(value: object, ticks: int) -> None:
    assert BTC.parse_price(value) == ticks


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("65000.001", "not a multiple of 0.01"),
        ("0", "must be positive"),
        ("-1", "must be positive"),
        ("-0.00", "must be positive"),
        ("NaN", "not a plain decimal"),
        ("Infinity", "not a plain decimal"),
        ("1e3", "not a plain decimal"),
        ("1E-2", "not a plain decimal"),
        (" 1", "not a plain decimal"),
        ("1_000", "not a plain decimal"),
        ("+1", "not a plain decimal"),
        ("0x10", "not a plain decimal"),
        ("", "not a plain decimal"),
        ("1" * 65, "too long"),
        ("99999999999", "exceeds the maximum"),
        (Decimal("NaN"), "not a finite number"),
        (Decimal("sNaN"), "not a finite number"),
        (Decimal("Infinity"), "not a finite number"),
        (Decimal("1e309"), "exponent notation"),
        (Decimal("1e3"), "exponent notation"),
        (Decimal("1e-41"), "out of range"),
        (Decimal("1e-999999"), "out of range"),
        (10**50, "absurdly large"),
        (1.5, "not float"),
        (True, "not a boolean"),
        (None, "not NoneType"),
        ([1], "not list"),
    ],
)
def test_bad_prices_are_refused_with_the_field_named(value: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BTC.parse_price(value, "price")
    assert caught.value.field == "price"
    assert fragment in str(caught.value)


def test_quantity_and_quote_amount_use_their_own_grid() -> None:
    assert BTC.parse_quantity("0.0001") == 1
    assert BTC.parse_quantity("1.5") == 15_000
    with pytest.raises(ValidationError, match=r"quantity: 0\.00001 is not a multiple of 0\.0001"):
        BTC.parse_quantity("0.00001")
    assert BTC.parse_quote_amount("12.345678") == 12_345_678
    with pytest.raises(ValidationError, match="quoteQuantity"):
        BTC.parse_quote_amount("1.0000001")


def test_formatting_round_trips() -> None:
    for ticks in (1, 10, 6_500_001, BTC.max_price_ticks):
        assert BTC.parse_price(BTC.format_price(ticks)) == ticks
    for lots in (1, 15_000, BTC.max_quantity_lots):
        assert BTC.parse_quantity(BTC.format_quantity(lots)) == lots
    assert BTC.format_price(6_500_001) == "65000.01"


def test_formatting_is_plain_decimal_never_exponent() -> None:
    """Zero and one atom of an 8-decimal asset read "0.00000000" and "0.00000001", not "0E-8"."""
    btc = Asset(code="BTC", decimals=8)
    assert btc.format(0) == "0.00000000"
    assert btc.format(1) == "0.00000001"
    assert btc.format(150_000_000) == "1.50000000"
    tiny = MarketSpec.build(
        "BTC_Y", btc, Asset(code="Y", decimals=16),
        tick_size="0.00000001", lot_size="0.00000001", maker_fee="0", taker_fee="0",
        max_price="1", max_quantity="1",
    )  # fmt: skip
    assert tiny.format_price(0) == "0.00000000"
    assert tiny.format_price(1) == "0.00000001"
    assert tiny.format_quantity(0) == "0.00000000"
    for spec in CONFIG.markets.values():
        for text in (spec.format_price(0), spec.format_quantity(1), spec.quote.format(0)):
            assert "E" not in text, text


def test_one_tick_times_one_lot_is_whole_quote_atoms() -> None:
    for spec in CONFIG.markets.values():
        assert spec.quote_atoms_per_tick_lot >= 1
        assert spec.base_atoms_per_lot >= 1
        assert spec.notional(spec.max_price_ticks, spec.max_quantity_lots) <= MAX_BALANCE
    assert BTC.notional(6_500_000, 1) == 65_000 * 10**6 // 10**4  # 6.5 USDC for 0.0001 BTC


def test_asset_amounts() -> None:
    usdc = CONFIG.assets["USDC"]
    assert usdc.parse_amount("100.5") == 100_500_000
    assert usdc.format(100_500_000) == "100.500000"
    with pytest.raises(ValidationError, match=r"amount: 0\.0000001 is not a multiple"):
        usdc.parse_amount("0.0000001")


@pytest.mark.parametrize(
    ("tick", "lot", "message"),
    [
        ("0.001", "0.0001", "not a whole number of QUOTE atoms"),
        ("0.01", "0.00001", "finer than one BASE atom"),
        ("0", "1", "must be positive"),
    ],
)
def test_a_grid_that_is_not_exact_is_refused(tick: str, lot: str, message: str) -> None:
    base, quote = Asset(code="BASE", decimals=4), Asset(code="QUOTE", decimals=2)
    with pytest.raises(ValueError, match=message):
        MarketSpec.build(
            "BASE_QUOTE",
            base,
            quote,
            tick_size=tick,
            lot_size=lot,
            maker_fee="0",
            taker_fee="0",
            max_price="1000",
            max_quantity="1000",
        )


def test_default_markets_and_symbol_spelling() -> None:
    assert {"TATA_INR", "BTC_USDC", "ETH_USDC"} <= set(CONFIG.markets)
    assert normalize_symbol("tata-inr") == "TATA_INR"
    assert CONFIG.market("TATA-INR") is CONFIG.markets["TATA_INR"]
    assert CONFIG.market("NOPE_INR") is None
    assert CONFIG.markets["TATA_INR"].taker_fee_ppm == 2000
