"""The fair-price walk and the quote ladder: seeded, bounded, on the grid, never crossed."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketmaker.walk import (
    MAX_CROSS_LOTS,
    FairWalk,
    Quote,
    Shape,
    crossing_order,
    default_fair,
    ladder,
    ladder_lots,
    seeded,
    would_cross,
)
from model.config import load_markets
from model.enums import Side
from model.numbers import Asset, MarketSpec

CONFIG = load_markets()
SPECS = sorted(CONFIG.markets.values(), key=lambda s: s.symbol)
TATA = CONFIG.markets["TATA_INR"]


def _path(spec: MarketSpec, seed: int, start: int, steps: int, levels: int = 5) -> list[int]:
    walk = FairWalk(start, Shape.around(spec, levels, start), seeded(seed, spec.symbol, "walk"))
    return [walk.step() for _ in range(steps)]


def test_the_walk_is_the_same_for_the_same_seed() -> None:
    assert _path(TATA, 7, 100_000, 500) == _path(TATA, 7, 100_000, 500)


def test_another_seed_or_market_walks_another_path() -> None:
    btc = CONFIG.markets["BTC_USDC"]
    assert _path(TATA, 7, 100_000, 100) != _path(TATA, 8, 100_000, 100)
    assert _path(TATA, 7, 100_000, 100) != _path(btc, 7, 100_000, 100)


@pytest.mark.parametrize(
    ("reference", "step"),
    [(100_000, 10), (998_800, 50), (1_000_000, 100), (1_999_999, 100), (45_000, 2), (3, 1)],
)
def test_the_step_is_a_round_basis_point(reference: int, step: int) -> None:
    assert Shape.around(TATA, 5, reference).step == step


def test_a_start_off_the_grid_moves_to_the_nearest_step() -> None:
    shape = Shape.around(TATA, 5, 998_800)  # 9988.00 INR: steps of 0.50
    assert FairWalk(998_826, shape, seeded(1, "TATA_INR", "walk")).price == 998_850
    assert FairWalk(998_824, shape, seeded(1, "TATA_INR", "walk")).price == 998_800
    assert FairWalk(-5, shape, seeded(1, "TATA_INR", "walk")).price == shape.bounds[0]


def test_the_walk_moves_in_whole_steps() -> None:
    shape = Shape.around(TATA, 5, 100_000)
    assert shape.step == 10  # one basis point of 1000.00 INR: 0.10
    path = [100_000, *_path(TATA, 3, 100_000, 1000)]
    assert all(
        (b - a) % shape.step == 0 and abs(b - a) <= 2 * shape.step
        for a, b in itertools.pairwise(path)
    )
    assert len(set(path)) > 10  # it does move


@pytest.mark.parametrize(
    ("symbol", "price"),
    [("TATA_INR", "1000.00"), ("BTC_USDC", "10000.00"), ("ETH_USDC", "1000.00")],
)
def test_the_default_fair_price_is_a_thousandth_of_the_largest(symbol: str, price: str) -> None:
    spec = CONFIG.markets[symbol]
    assert spec.format_price(default_fair(spec)) == price


@settings(max_examples=40, deadline=None)
@given(
    spec=st.sampled_from(SPECS),
    seed=st.integers(0, 2**32),
    levels=st.integers(1, 20),
    start=st.integers(-(10**6), 10**12),
    reference=st.integers(1, 10**9),
)
def test_the_walk_stays_within_the_limits_and_every_ladder_is_valid(
    spec: MarketSpec, seed: int, levels: int, start: int, reference: int
) -> None:
    shape = Shape.around(spec, levels, reference)
    walk = FairWalk(start, shape, seeded(seed, spec.symbol, "walk"))
    rng = seeded(seed, spec.symbol, "quotes")
    for _ in range(200):
        assert 0 < walk.low <= walk.price <= walk.high <= spec.max_price_ticks
        assert walk.price % shape.step == 0
        _check_ladder(spec, ladder(walk.price, shape, rng), levels)
        walk.step()


def _check_ladder(spec: MarketSpec, quotes: list[Quote], levels: int) -> None:
    bids = [q for q in quotes if q.side is Side.BUY]
    asks = [q for q in quotes if q.side is Side.SELL]
    assert len(bids) == len(asks) == levels
    assert len({q.price for q in bids}) == len({q.price for q in asks}) == levels
    assert max(q.price for q in bids) < min(q.price for q in asks)
    assert [q.price for q in bids] == sorted((q.price for q in bids), reverse=True)  # best first
    assert [q.price for q in asks] == sorted(q.price for q in asks)
    for q in quotes:
        assert 1 <= q.price <= spec.max_price_ticks
        assert 1 <= q.lots <= spec.max_quantity_lots
        # Exact decimal strings that the edge reads back to the same grid point.
        assert spec.parse_price(spec.format_price(q.price)) == q.price
        assert spec.parse_quantity(spec.format_quantity(q.lots)) == q.lots
    assert sum(q.lots for q in bids) <= ladder_lots(levels)
    assert sum(q.lots for q in asks) <= ladder_lots(levels)


def test_a_ladder_around_1000_inr() -> None:
    shape = Shape.around(TATA, 3, 100_000)
    quotes = ladder(100_000, shape, seeded(1, "TATA_INR", "quotes"))
    prices = [(q.side.value, TATA.format_price(q.price)) for q in quotes]
    half = 100_000 - quotes[0].price
    assert half in (10, 20)  # one or two steps
    assert [p for _, p in prices] == [
        TATA.format_price(100_000 + sign * (half + level * 10))
        for sign in (-1, 1)
        for level in range(3)
    ]
    assert quotes == ladder(100_000, shape, seeded(1, "TATA_INR", "quotes"))


def test_a_ladder_refuses_a_fair_price_outside_the_bounds() -> None:
    shape = Shape.around(TATA, 3, 100_000)
    with pytest.raises(ValueError, match="outside"):
        ladder(shape.bounds[0] - 1, shape, seeded(1, "TATA_INR", "quotes"))


def test_a_market_too_small_for_its_ladder_is_refused() -> None:
    tiny = MarketSpec.build(
        "A_B", Asset("A", 0), Asset("B", 0), tick_size="1", lot_size="1", maker_fee="0",
        taker_fee="0", max_price="5", max_quantity="10",
    )  # fmt: skip
    with pytest.raises(ValueError, match="do not fit"):
        Shape.around(tiny, 3, 3)


@pytest.mark.parametrize("seed", range(40))
def test_a_crossing_order_takes_the_best_opposite_quote(seed: int) -> None:
    rng = seeded(seed, "TATA_INR", "quotes")
    quotes = ladder(100_000, Shape.around(TATA, 4, 100_000), rng)
    cross = crossing_order(quotes, rng)
    bids = [q for q in quotes if q.side is Side.BUY]
    asks = [q for q in quotes if q.side is Side.SELL]
    if cross.side is Side.BUY:
        best = min(asks, key=lambda q: q.price)
        assert cross.price >= best.price  # marketable against the best ask
        assert cross.price < min(q.price for q in asks[1:])  # and no deeper
    else:
        best = max(bids, key=lambda q: q.price)
        assert cross.price <= best.price
        assert cross.price > max(q.price for q in bids[1:])
    assert 1 <= cross.lots <= min(MAX_CROSS_LOTS, best.lots)


def test_crossing_orders_go_both_ways() -> None:
    rng = seeded(5, "TATA_INR", "quotes")
    quotes = ladder(100_000, Shape.around(TATA, 2, 100_000), rng)
    assert {crossing_order(quotes, rng).side for _ in range(50)} == {Side.BUY, Side.SELL}


NEW_LADDER = [
    Quote(Side.BUY, 99_990, 1),
    Quote(Side.BUY, 99_980, 2),
    Quote(Side.SELL, 100_010, 1),
    Quote(Side.SELL, 100_020, 2),
]


@pytest.mark.parametrize(
    ("resting", "crosses"),
    [
        (Quote(Side.SELL, 99_990, 1), True),  # the new best bid would take it
        (Quote(Side.SELL, 99_000, 1), True),
        (Quote(Side.SELL, 100_000, 1), False),
        (Quote(Side.SELL, 100_010, 1), False),  # same side, same price: no conflict
        (Quote(Side.BUY, 100_010, 1), True),  # the new best ask would take it
        (Quote(Side.BUY, 100_500, 1), True),
        (Quote(Side.BUY, 100_000, 1), False),
        (Quote(Side.BUY, 99_990, 1), False),
    ],
)
def test_an_old_quote_in_the_way_of_the_new_ladder_would_cross(
    resting: Quote, crosses: bool
) -> None:
    assert would_cross(resting, NEW_LADDER) is crosses
