"""bench/peers.py: the workload it checks on, and each installed peer's fills against Tidewater's.

The peers are optional (requirements/bench-peers.txt): a test of a peer that is not installed is
skipped. Nothing is timed here.
"""

from __future__ import annotations

import pytest

from bench import peers
from bench._peer_adapters import PEERS, LiquibookMatcher, Peer
from bench.engine import W1_USERS, Workload, fresh, make_w1, pick_market
from model.commands import CancelOrder, Command, Deposit, PlaceOrder
from model.config import MarketConfig, load_markets
from model.enums import OrderType, Side, TimeInForce
from model.ids import OrderId, UserId

CONFIG = load_markets()
SPEC = pick_market(CONFIG)


def installed(peer: Peer) -> Peer:
    try:
        peer.version()
    except ImportError:
        pytest.skip(f"{peer.name} is not installed (requirements/bench-peers.txt)")
    return peer


@pytest.fixture(params=PEERS, ids=[p.name for p in PEERS])
def peer(request: pytest.FixtureRequest) -> Peer:
    return installed(request.param)


def test_splitting_users_by_side_keeps_the_orders_and_no_user_trades_both_sides() -> None:
    plain = make_w1(SPEC, 5_000, seed=3)
    split = peers.split_users_by_side(plain)
    buyers: set[int] = set()
    sellers: set[int] = set()
    for before, after in zip(plain.timed, split.timed, strict=True):
        assert isinstance(before, PlaceOrder)
        assert isinstance(after, PlaceOrder)
        assert (after.order_id, after.side, after.price, after.quantity, after.ts) == (
            before.order_id,
            before.side,
            before.price,
            before.quantity,
            before.ts,
        )
        (buyers if after.side is Side.BUY else sellers).add(after.user_id)
    assert not buyers & sellers
    assert max(buyers | sellers) <= W1_USERS  # the users W1's deposits fund
    assert split.setup == plain.setup


def test_the_split_workload_has_no_self_trade_stops_where_plain_w1_has_some() -> None:
    plain = make_w1(SPEC, 5_000, seed=1)
    assert peers.tidewater_fills(CONFIG, plain).self_trade_stops > 0
    assert peers.tidewater_fills(CONFIG, peers.split_users_by_side(plain)).self_trade_stops == 0


def test_the_requirements_file_pins_every_peer() -> None:
    pins = peers.pinned_versions()
    assert set(pins) == {p.name for p in PEERS}
    assert all(version.count(".") >= 2 for version in pins.values())


def test_a_peer_trades_the_same_lots_as_tidewater_on_w1(peer: Peer) -> None:
    w1 = peers.split_users_by_side(make_w1(SPEC, 3_000, seed=7))
    found = peers.check(CONFIG, w1, peer, peers.tidewater_fills(CONFIG, w1))
    assert found.same, found.difference
    assert found.fills > 100


def _order(
    order_id: int, side: Side, price: int, quantity: int, tif: TimeInForce = TimeInForce.GTC
) -> PlaceOrder:
    return PlaceOrder(
        user_id=UserId(order_id),  # a user per order: no self-trades
        ts=order_id,
        order_id=OrderId(order_id),
        market=SPEC.symbol,
        side=side,
        type=OrderType.LIMIT,
        price=price,
        quantity=quantity,
        tif=tif,
    )


BUY, SELL, IOC = Side.BUY, Side.SELL, TimeInForce.IOC
SCENARIO: list[Command] = [
    _order(1, SELL, 10_000, 5),
    _order(2, SELL, 10_000, 3),
    _order(3, SELL, 10_001, 4),
    _order(4, BUY, 10_001, 10, IOC),  # 5 and 3 @ 10,000, 2 @ 10,001; the rest expires
    _order(5, BUY, 9_999, 10, IOC),  # nothing to take
    CancelOrder(user_id=UserId(3), ts=6, market=SPEC.symbol, order_id=OrderId(3)),
    _order(6, BUY, 10_001, 5),  # order 3 is gone: rests
    _order(7, SELL, 9_990, 2),  # 2 @ 10,001 from order 6
    _order(8, BUY, 10_001, 2),  # rests behind order 6
    _order(9, SELL, 10_001, 4),  # order 6 kept its place: 3 from it, then 1 from order 8
    _order(10, SELL, 10_005, 2),
    _order(11, BUY, 10_005, 5),  # takes 2, rests 3
    _order(12, SELL, 10_005, 3),  # fills the rest of order 11: only order 8 (1 lot) rests
]
EXPECTED = [
    [],
    [],
    [],
    [(1, 4, 10_000, 5), (2, 4, 10_000, 3), (3, 4, 10_001, 2)],
    [],
    [],
    [],
    [(6, 7, 10_001, 2)],
    [],
    [(6, 9, 10_001, 3), (8, 9, 10_001, 1)],
    [],
    [(10, 11, 10_005, 2)],
    [(11, 12, 10_005, 3)],
]


def _scenario(config: MarketConfig) -> Workload:
    setup: list[Command] = [
        Deposit(user_id=UserId(user), ts=0, asset=asset, amount=10**12)
        for user in range(1, 13)
        for asset in (SPEC.base.code, SPEC.quote.code)
    ]
    return Workload("scenario", setup, SCENARIO, len(SCENARIO))


def test_the_scenario_is_what_tidewater_does() -> None:
    assert peers.tidewater_fills(CONFIG, _scenario(CONFIG)).fills == EXPECTED


def test_a_peer_fills_ioc_and_cancel_and_keeps_a_partly_filled_makers_place(peer: Peer) -> None:
    workload = _scenario(CONFIG)
    adapter = fresh(peer.factory, CONFIG, workload)
    assert [peer.fills(adapter.apply(c), c) for c in workload.timed] == EXPECTED
    if isinstance(adapter, LiquibookMatcher):  # it forgets what no longer rests
        assert set(adapter.listener.orders) == {8}
        assert set(adapter.listener.ids.values()) == {8}


def test_the_do_nothing_adapters_take_w1_and_trade_nothing() -> None:
    w1 = make_w1(SPEC, 500, seed=1)
    for peer in PEERS:
        adapter = fresh(peer.null_factory, CONFIG, w1)
        assert all(peer.fills(adapter.apply(c), c) == [] for c in w1.timed)


def test_a_peer_refuses_what_it_cannot_express(peer: Peer) -> None:
    adapter = peer.factory(CONFIG)
    fok = _order(1, BUY, 10_000, 1, TimeInForce.FOK)
    with pytest.raises(ValueError, match="cannot express"):
        adapter.apply(fok)
