"""Pure metrics against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from analytics.frames import BAR_SCHEMA, empty_bars, empty_trades
from analytics.metrics import (
    fill_gaps,
    log_returns,
    resample,
    rolling_volatility,
    volatility,
    volume_profile,
    vwap,
    vwap_price,
    with_vwap,
)
from model.config import load_markets
from model.numbers import Asset, MarketSpec
from tests.support.bars import T0, at, bars, trades

CONFIG = load_markets()
TATA = CONFIG.markets["TATA_INR"]  # tick 0.01 INR, lot 1 TATA: 1 tick x 1 lot = 1 paisa (atom)
ETH = CONFIG.markets["ETH_USDC"]  # tick 0.01, lot 0.001 ETH: 1 tick x 1 lot = 10 USDC atoms
NICKEL = MarketSpec.build(  # tick 0.05: VWAP is given to 0.005
    "NKL_INR", Asset("NKL", 0), Asset("INR", 2), tick_size="0.05", lot_size="1",
    maker_fee="0", taker_fee="0", max_price="1000", max_quantity="1000",
)  # fmt: skip
LN2 = math.log(2)  # 0.6931471805599453

# --- resample ---------------------------------------------------------------------------------


def test_five_minutes_merge_into_one_bar_with_ohlcv_semantics() -> None:
    one_minute = bars(
        [  # minute, open, high, low, close, volume, quote volume, trades
            (0, 100, 104, 99, 103, 5, 510, 2),
            (1, 103, 107, 102, 106, 1, 106, 1),
            (2, 106, 106, 95, 96, 7, 700, 3),
            (3, 96, 99, 96, 98, 2, 195, 1),
            (4, 98, 101, 97, 100, 4, 401, 2),
        ]
    )
    # open = first open 100, high = max(104, 107, 106, 99, 101) = 107, low = min(...) = 95,
    # close = last close 100; volume 5+1+7+2+4 = 19; quote 510+106+700+195+401 = 1912; trades 9.
    # Closed: the 00:04 bar closed, so the clock reached 00:05.
    expected = (T0, 100, 107, 95, 100, 19, 1912, 9, True)
    assert resample(one_minute, "5m", source="1m").rows() == [expected]
    # Without the source interval the frame proves only that the clock reached 00:04.
    assert resample(one_minute, "5m").rows() == [(*expected[:-1], False)]


def test_gaps_make_no_bars_and_bars_land_on_the_epoch_grid() -> None:
    one_minute = bars(
        [
            (1, 10, 12, 9, 11, 1, 11, 1),
            (3, 11, 11, 10, 10, 2, 20, 1),
            (16, 20, 21, 19, 21, 3, 60, 2),  # 00:05 and 00:10 saw no trade
            (24, 21, 25, 21, 24, 1, 24, 1),
        ]
    )
    assert resample(one_minute, "5m").rows() == [
        (at(0), 10, 12, 9, 10, 3, 31, 2, True),
        (at(15), 20, 21, 19, 21, 3, 60, 2, True),  # clock >= 00:24 >= 00:20: closed
        (at(20), 21, 25, 21, 24, 1, 24, 1, False),  # the clock may not have reached 00:25
    ]


def test_input_order_does_not_matter() -> None:
    rows = [(0, 1, 5, 1, 2, 1, 2, 1), (1, 2, 9, 2, 3, 1, 3, 1), (2, 3, 4, 0, 4, 1, 4, 1)]
    shuffled = bars([rows[2], rows[0], rows[1]])
    # open from 00:00 (1), close from 00:02 (4), not from the first or last row.
    assert resample(shuffled, "3m").rows() == [(T0, 1, 9, 0, 4, 3, 9, 3, False)]


def test_one_bar_is_itself_on_a_coarser_grid() -> None:
    one = bars([(61, 7, 8, 6, 7, 1, 7, 1, False)])  # 01:01
    assert resample(one, "1h").rows() == [(at(60), 7, 8, 6, 7, 1, 7, 1, False)]


def test_two_hours_open_on_even_hours_across_midnight() -> None:
    hourly = bars(
        [
            (-180, 1, 1, 1, 1, 1, 1, 1),  # 2026-01-04 21:00 -> the 20:00 bar
            (-60, 2, 2, 2, 2, 1, 2, 1),  # 23:00 -> 22:00
            (0, 3, 3, 3, 3, 1, 3, 1),  # 00:00 -> 00:00
            (60, 4, 4, 4, 4, 1, 4, 1),  # 01:00 -> 00:00
        ]
    )
    assert [row[0] for row in resample(hourly, "2h", source="1h").rows()] == [
        at(-240),
        at(-120),
        at(0),
    ]


@pytest.mark.parametrize("every", ["1w", "7d"])
def test_weeks_open_on_mondays(every: str) -> None:
    daily = bars(
        [
            (-24 * 60, 1, 1, 1, 1, 1, 1, 1),  # Sunday 2026-01-04 -> week of Monday 2025-12-29
            (0, 2, 2, 2, 2, 1, 2, 1),  # Monday 2026-01-05
            (6 * 24 * 60, 3, 3, 3, 3, 1, 3, 1),  # Sunday 2026-01-11 -> still the week of the 5th
            (7 * 24 * 60, 4, 4, 4, 4, 1, 4, 1),  # Monday 2026-01-12 opens the next week
        ]
    )
    weekly = resample(daily, every, source="1d")
    assert [(row[0], row[1], row[4]) for row in weekly.rows()] == [
        (at(-7 * 24 * 60), 1, 1),
        (at(0), 2, 3),
        (at(7 * 24 * 60), 4, 4),
    ]


@pytest.mark.parametrize(
    ("last_minute", "last_closed", "closed"),
    [
        (4, True, True),  # the 00:04 bar closed: the clock reached 00:05, the 5m bar's end
        (4, False, False),  # 00:04 still open: the clock is somewhere in [00:04, 00:05)
        (3, True, False),  # 00:03 closed: the clock reached 00:04 only, as far as we know
    ],
)
def test_a_resampled_bar_is_closed_when_the_frame_proves_the_clock_passed_its_end(
    last_minute: int, last_closed: bool, closed: bool
) -> None:
    one_minute = bars([(0, 5, 5, 5, 5, 1, 5, 1), (last_minute, 6, 6, 6, 6, 1, 6, 1, last_closed)])
    assert resample(one_minute, "5m", source="1m")["closed"].to_list() == [closed]


def test_bars_that_straddle_the_target_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot resample 5m bars to 7m"):
        resample(empty_bars(), "7m", source="5m")
    with pytest.raises(ValueError, match="cannot resample 1w bars to 2d"):
        resample(empty_bars(), "2d", source="1w")
    with pytest.raises(ValueError, match="not a duration"):
        resample(empty_bars(), "1mo")


def test_an_empty_market_resamples_to_an_empty_frame() -> None:
    assert resample(empty_bars(), "5m").schema == BAR_SCHEMA
    assert resample(empty_bars(), "5m").is_empty()
    lazy = resample(empty_bars().lazy(), "2h")
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().is_empty()


def test_lazy_and_eager_agree() -> None:
    frame = bars([(0, 1, 3, 1, 2, 4, 8, 2), (6, 2, 2, 1, 1, 1, 1, 1)])
    assert_frame_equal(resample(frame.lazy(), "5m").collect(), resample(frame, "5m"))


def test_a_sum_too_large_for_a_bigint_raises_instead_of_wrapping() -> None:
    # 2**62 + 2**62 = 2**63, one past the largest signed 64-bit integer.
    huge = bars([(0, 1, 1, 1, 1, 1, 2**62, 1), (1, 1, 1, 1, 1, 1, 2**62, 1)])
    with pytest.raises(pl.exceptions.InvalidOperationError):
        resample(huge, "5m")


# --- fill_gaps --------------------------------------------------------------------------------


def test_gaps_fill_with_flat_bars_at_the_previous_close() -> None:
    frame = bars([(0, 100, 102, 99, 101, 3, 303, 2), (3, 99, 99, 95, 96, 1, 96, 1, False)])
    assert fill_gaps(frame, "1m").rows() == [
        (at(0), 100, 102, 99, 101, 3, 303, 2, True),
        (at(1), 101, 101, 101, 101, 0, 0, 0, True),
        (at(2), 101, 101, 101, 101, 0, 0, 0, True),
        (at(3), 99, 99, 95, 96, 1, 96, 1, False),
    ]


def test_fill_gaps_leaves_empty_and_single_bars_alone() -> None:
    assert fill_gaps(empty_bars(), "1m").is_empty()
    one = bars([(5, 1, 2, 1, 2, 1, 2, 1)])
    assert_frame_equal(fill_gaps(one, "5m"), one)


# --- log returns and volatility ---------------------------------------------------------------


def closing_at(*closes: int) -> pl.DataFrame:
    """One-minute bars from 00:00 that close at ``closes`` (the rest does not matter here)."""
    return bars([(minute, 1, 1, 1, close, 1, 1, 1) for minute, close in enumerate(closes)])


def test_log_returns_are_between_consecutive_closes() -> None:
    frame = bars(
        [(0, 1, 1, 1, 100, 1, 1, 1), (1, 1, 1, 1, 110, 1, 1, 1), (2, 1, 1, 1, 99, 1, 1, 1)]
    )
    returns = log_returns(frame)["log_return"].to_list()
    assert returns[0] is None
    assert returns[1] == pytest.approx(0.09531017980432493)  # ln(110/100) = ln 1.1
    assert returns[2] == pytest.approx(-0.10536051565782628)  # ln(99/110) = ln 0.9
    assert log_returns(frame).schema["log_return"] == pl.Float64


def test_rolling_volatility_over_a_count_of_returns() -> None:
    frame = closing_at(100, 200, 100, 200)
    # Returns: -, ln2, -ln2, ln2.
    # Window 2 at 00:02: {ln2, -ln2}: mean 0, squares 2 ln²2, / (2 - 1) -> sd = √2·ln2.
    # Window 3 at 00:03: {ln2, -ln2, ln2}: mean ln2/3, deviations 2/3, -4/3, 2/3 (× ln2),
    #   squares (4 + 16 + 4)/9 = 24/9 ln²2, / (3 - 1) = 4/3 ln²2 -> sd = 2/√3·ln2.
    two = rolling_volatility(frame, 2)["volatility"].to_list()
    three = rolling_volatility(frame, 3)["volatility"].to_list()
    assert two[:2] == [None, None]
    assert two[2:] == pytest.approx([math.sqrt(2) * LN2] * 2)  # 0.9802581434685472
    assert three[:3] == [None, None, None]
    assert three[3] == pytest.approx(2 / math.sqrt(3) * LN2)  # 0.8003868...


def test_rolling_volatility_over_time_equals_the_count_on_regular_bars() -> None:
    frame = closing_at(100, 105, 101, 108, 108, 99)
    # (t - 2m, t] holds the returns at t - 1m and t: the same two as a window of 2 returns.
    by_time = rolling_volatility(frame, "2m")["volatility"].to_list()
    by_count = rolling_volatility(frame, 2)["volatility"].to_list()
    assert by_time[2:] == pytest.approx(by_count[2:])


def test_rolling_volatility_refuses_windows_it_cannot_compute() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        rolling_volatility(empty_bars(), 1)
    with pytest.raises(ValueError, match="not a duration"):
        rolling_volatility(empty_bars(), "1y")


def test_volatility_of_a_window() -> None:
    frame = bars(
        [(0, 1, 1, 1, 100, 1, 1, 1), (1, 1, 1, 1, 200, 1, 1, 1), (2, 1, 1, 1, 100, 1, 1, 1)]
    )
    assert volatility(frame) == pytest.approx(math.sqrt(2) * LN2)  # see the rolling test
    assert volatility(frame.head(1)) is None  # no return at all
    assert volatility(frame.head(2)) is None  # one return has no deviation
    assert volatility(empty_bars()) is None
    assert rolling_volatility(empty_bars(), 3).is_empty()


# --- VWAP -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote_atoms", "lots", "price"),
    [
        # 2 lots at 100.00 (10,000 ticks) and 1 at 100.01: (20,000 + 10,001) / 3
        # = 10,000.333... ticks = 100,003.33 tenths -> 100,003 -> 100.003 INR.
        (30_001, 3, "100.003"),
        # 19 lots at 10,000 and 1 at 10,001: 200,001 / 20 = 10,000.05 ticks = 100,000.5 tenths:
        # a tie, to the even 100,000 -> 100.000.
        (200_001, 20, "100.000"),
        # 19 at 10,000 and 1 at 10,003: 200,003 / 20 = 100,001.5 tenths: tie, up to 100,002.
        (200_003, 20, "100.002"),
        # 1 lot at 0.01: exactly one tick.
        (1, 1, "0.010"),
    ],
)
def test_vwap_price_rounds_to_a_tenth_of_a_tick_half_to_even(
    quote_atoms: int, lots: int, price: str
) -> None:
    result = vwap_price(quote_atoms, lots, TATA)
    assert result == Decimal(price)
    assert str(result) == price  # always three decimals on a 0.01 tick


def test_vwap_price_uses_the_markets_atoms_per_tick_lot() -> None:
    # ETH_USDC: 1 lot at 200,000 ticks (2,000.00) costs 200,000 x 10 = 2,000,000 atoms; 3 lots at
    # 200,001 cost 6,000,030. 8,000,030 / (4 x 10) = 200,000.75 ticks = 2,000,007.5 tenths: a tie,
    # to the even 2,000,008 -> 2000.008 USDC.
    assert vwap_price(8_000_030, 4, ETH) == Decimal("2000.008")
    assert vwap_price(0, 0, ETH) is None


def test_vwap_of_trades_and_of_their_bars_agree() -> None:
    tape = trades([(1, 0.1, 10_000, 2, 20_000, "buy"), (2, 1.5, 10_001, 1, 10_001, "sell")])
    frame = bars([(0, 10_000, 10_000, 10_000, 10_000, 2, 20_000, 1),
                  (1, 10_001, 10_001, 10_001, 10_001, 1, 10_001, 1)])  # fmt: skip
    assert vwap(tape, TATA) == vwap(frame.lazy(), TATA) == Decimal("100.003")  # first case above
    assert vwap(empty_trades(), TATA) is None
    assert vwap(empty_bars(), TATA) is None
    with pytest.raises(ValueError, match="need bars"):
        vwap(pl.DataFrame({"price": [1]}), TATA)


def test_with_vwap_per_bar_and_cumulative() -> None:
    frame = bars(
        [
            (0, 1, 1, 1, 1, 2, 20_000, 1),  # 20,000 / 2 = 10,000 ticks -> 100.000
            (1, 1, 1, 1, 1, 0, 0, 0),  # a flat bar: no VWAP of its own
            (2, 1, 1, 1, 1, 1, 10_001, 1),  # 10,001 ticks -> 100.010
        ]
    )
    per_bar = with_vwap(frame, TATA, cumulative=False)
    assert per_bar.schema["vwap"] == pl.Decimal(38, 3)
    assert per_bar["vwap"].to_list() == [Decimal("100.000"), None, Decimal("100.010")]
    # Cumulative: 100.000, still 100.000, then 30,001 / 3 -> 100.003 (see above).
    cumulative = with_vwap(frame, TATA)["vwap"].to_list()
    assert cumulative == [Decimal("100.000"), Decimal("100.000"), Decimal("100.003")]
    assert with_vwap(empty_bars(), TATA)["vwap"].to_list() == []


def test_with_vwap_on_a_tick_that_is_not_a_power_of_ten() -> None:
    # Tick 0.05, so a tenth of a tick is 0.005. 1 tick x 1 lot is 5 paise, so 2 lots at 3 ticks
    # and 1 at 4 cost (6 + 4) x 5 = 50 atoms; 50 / (3 x 5) = 3.333 ticks = 33.33 tenths -> 33
    # -> 33 x 0.005 = 0.165 INR.
    frame = bars([(0, 3, 4, 3, 4, 3, 50, 2)])
    assert NICKEL.quote_atoms_per_tick_lot == 5
    assert with_vwap(frame, NICKEL)["vwap"].to_list() == [Decimal("0.165")]
    assert vwap(frame, NICKEL) == Decimal("0.165")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**62), st.integers(0, 2**40)), min_size=1, max_size=20))
def test_the_vectorised_vwap_rounds_exactly_like_the_rational_one(
    sums: list[tuple[int, int]],
) -> None:
    frame = bars([(i, 1, 1, 1, 1, lots, quote, 1) for i, (quote, lots) in enumerate(sums)])
    expected = [vwap_price(quote, lots, ETH) for quote, lots in sums]
    assert with_vwap(frame, ETH, cumulative=False)["vwap"].to_list() == expected
    # Cumulative sums pass 2**63 here: Int128 inside, exact all the same.
    prefixes = [(sum(q for q, _ in sums[: i + 1]), sum(v for _, v in sums[: i + 1]))
                for i in range(len(sums))]  # fmt: skip
    expected = [vwap_price(quote, lots, ETH) for quote, lots in prefixes]
    assert with_vwap(frame.lazy(), ETH).collect()["vwap"].to_list() == expected


# --- volume profile ---------------------------------------------------------------------------

TAPE = trades(
    [  # id, minute, price (ticks), lots, quote atoms (= price x lots on TATA_INR), taker side
        (1, 0, 100, 2, 200, "buy"),
        (2, 1, 105, 1, 105, "sell"),
        (3, 2, 110, 3, 330, "buy"),
        (4, 3, 119, 4, 476, "sell"),
        (5, 4, 250, 1, 250, "buy"),
    ]
)


def test_volume_profile_on_a_fixed_grid_of_ticks() -> None:
    # [100, 110): trades 1, 2 -> 3 lots (2 bought, 1 sold), 305 atoms; [110, 120): trades 3, 4
    # -> 7 lots (3, 4), 806 atoms; [250, 260): trade 5. No row for the empty buckets between.
    assert volume_profile(TAPE, bucket_ticks=10).rows() == [
        (100, 110, 3, 2, 1, 305, 2),
        (110, 120, 7, 3, 4, 806, 2),
        (250, 260, 1, 1, 0, 250, 1),
    ]


def test_volume_profile_in_a_number_of_equal_buckets() -> None:
    # From 100 to 250 are 151 prices; 3 buckets of ceil(151 / 3) = 51 ticks: [100, 151),
    # [151, 202) (empty, no row), [202, 253).
    assert volume_profile(TAPE.lazy(), n_buckets=3).collect().rows() == [
        (100, 151, 10, 5, 5, 1111, 4),
        (202, 253, 1, 1, 0, 250, 1),
    ]
    # One price: one bucket one tick wide, however many were asked for.
    assert volume_profile(TAPE.head(1), n_buckets=4).rows() == [(100, 101, 2, 2, 0, 200, 1)]


def test_volume_profile_of_no_trades_and_bad_buckets() -> None:
    assert volume_profile(empty_trades(), n_buckets=10).is_empty()
    assert volume_profile(empty_trades(), bucket_ticks=10).columns == [
        "price_low", "price_high", "volume", "buy_volume", "sell_volume", "quote_volume", "trades",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="exactly one"):
        volume_profile(TAPE)
    with pytest.raises(ValueError, match="exactly one"):
        volume_profile(TAPE, bucket_ticks=1, n_buckets=1)
    with pytest.raises(ValueError, match="positive"):
        volume_profile(TAPE, bucket_ticks=0)
