"""Order types and edge cases as readable tables (language in ``tests/support/scenario.py``).

alice, bob and carol start with 1,000,000 QUOTE and 1,000 BASE; dave with 250 QUOTE only.
``trades`` lists every trade of the scenario as ``(lots, price, maker, taker)``; ``reject`` is
the code of the last step's rejection; ``closed`` the reason the last step's order closed;
``balances`` maps a user to ``{asset: (available, locked)}``.
"""

from __future__ import annotations

from typing import Any

import pytest

from matcher.engine import Engine, _cancel_fields, _place_fields
from matcher.invariants import check_engine
from model.commands import CancelOrder, GetOrder, PlaceOrder
from model.enums import CloseReason, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from model.events import Event, OrderClosed, OrderState, Rejected, StateEvent, TradeExecuted
from model.ids import FEE_ACCOUNT, OrderId, UserId
from model.ledger import LedgerReplica
from model.rejects import RejectCode
from tests.support.scenario import USERS, deposit, parse_step, scenario_config

M = 1_000_000
NAMES = {uid: name for name, uid in USERS.items()}

SCENARIOS: list[tuple[str, list[str], dict[str, Any]]] = [
    (
        "limit rests and locks its notional",
        ["alice buy 7@1600"],
        {"bids": [(1600, 7)], "balances": {"alice": {"QUOTE": (M - 11200, 11200)}}},
    ),
    (
        "crossing sell trades at the maker's price, rest rests",
        ["alice buy 7@1600", "bob sell 10@1590"],
        {
            "trades": [(7, 1600, "alice", "bob")],
            "asks": [(1590, 3)],
            "balances": {
                "alice": {"QUOTE": (M - 11200, 0), "BASE": (1007, 0)},
                "bob": {"QUOTE": (M + 11200, 0), "BASE": (990, 3)},
            },
        },
    ),
    (
        "price improvement is refunded to the buying taker",
        ["bob sell 5@1500", "alice buy 5@1600"],
        {
            "trades": [(5, 1500, "bob", "alice")],
            "balances": {"alice": {"QUOTE": (M - 7500, 0), "BASE": (1005, 0)}},
        },
    ),
    (
        "a taker walks several levels, best first",
        ["bob sell 2@100", "carol sell 3@101", "bob sell 4@102", "alice buy 8@102"],
        {
            "trades": [
                (2, 100, "bob", "alice"),
                (3, 101, "carol", "alice"),
                (3, 102, "bob", "alice"),
            ],
            "asks": [(102, 1)],
            "balances": {"alice": {"QUOTE": (M - 200 - 303 - 306, 0), "BASE": (1008, 0)}},
        },
    ),
    (
        "time priority inside a level",
        ["bob sell 2@100", "carol sell 2@100", "alice buy 3@100"],
        {"trades": [(2, 100, "bob", "alice"), (1, 100, "carol", "alice")], "asks": [(100, 1)]},
    ),
    (
        "partial fill, the rest rests at the limit and keeps its lock",
        ["bob sell 2@100", "alice buy 5@101"],
        {
            "trades": [(2, 100, "bob", "alice")],
            "bids": [(101, 3)],
            "balances": {"alice": {"QUOTE": (M - 200 - 303, 303)}},
        },
    ),
    (
        "IOC: the unfilled rest expires and is released",
        ["bob sell 2@100", "alice buy 5@101 ioc"],
        {
            "trades": [(2, 100, "bob", "alice")],
            "closed": CloseReason.IOC_REST,
            "balances": {"alice": {"QUOTE": (M - 200, 0)}},
        },
    ),
    (
        "IOC that meets nothing expires whole",
        ["bob sell 2@105", "alice buy 5@101 ioc"],
        {"asks": [(105, 2)], "closed": CloseReason.IOC_REST},
    ),
    (
        "FOK that cannot fill is rejected and changes nothing",
        ["bob sell 2@100", "alice buy 5@101 fok"],
        {"reject": RejectCode.FOK_NOT_FILLABLE, "asks": [(100, 2)]},
    ),
    (
        "FOK beyond its price is not fillable",
        ["bob sell 2@100", "carol sell 3@102", "alice buy 5@101 fok"],
        {"reject": RejectCode.FOK_NOT_FILLABLE, "asks": [(100, 2), (102, 3)]},
    ),
    (
        "FOK that can fill fills completely",
        ["bob sell 2@100", "carol sell 3@101", "alice buy 5@101 fok"],
        {
            "trades": [(2, 100, "bob", "alice"), (3, 101, "carol", "alice")],
            "closed": CloseReason.FILLED,
        },
    ),
    (
        "FOK counts past own orders only when STP cancels the maker",
        ["alice sell 2@100", "bob sell 3@100", "alice buy 3@100 fok stp=cancel_maker"],
        {"trades": [(3, 100, "bob", "alice")], "closed": CloseReason.FILLED},
    ),
    (
        "FOK stopped by an own order under the default STP",
        ["alice sell 2@100", "bob sell 3@100", "alice buy 3@100 fok"],
        {"reject": RejectCode.FOK_NOT_FILLABLE, "asks": [(100, 5)]},
    ),
    (
        "post-only that would cross is rejected",
        ["bob sell 2@100", "alice buy 1@100 post"],
        {"reject": RejectCode.POST_ONLY_WOULD_TAKE, "asks": [(100, 2)]},
    ),
    (
        "post-only below the ask rests",
        ["bob sell 2@100", "alice buy 1@99 post"],
        {"bids": [(99, 1)], "asks": [(100, 2)]},
    ),
    (
        "market buy by quantity walks the book",
        ["bob sell 2@100", "carol sell 3@101", "alice market buy 4"],
        {
            "trades": [(2, 100, "bob", "alice"), (2, 101, "carol", "alice")],
            "asks": [(101, 1)],
            "closed": CloseReason.FILLED,
            "balances": {"alice": {"QUOTE": (M - 402, 0)}},
        },
    ),
    (
        "market buy larger than the book takes all and expires the rest",
        ["bob sell 2@100", "alice market buy 5"],
        {"trades": [(2, 100, "bob", "alice")], "closed": CloseReason.MARKET_REST},
    ),
    (
        "market buy by quote spends no more than asked",
        ["bob sell 2@100", "carol sell 3@101", "alice market buy q=350"],
        {
            "trades": [(2, 100, "bob", "alice"), (1, 101, "carol", "alice")],
            "asks": [(101, 2)],
            "closed": CloseReason.FILLED,
            "balances": {"alice": {"QUOTE": (M - 301, 0), "BASE": (1003, 0)}},
        },
    ),
    (
        "market buy never spends more than the buyer has",
        ["bob sell 2@100", "carol sell 3@101", "dave market buy 5"],
        {
            "trades": [(2, 100, "bob", "dave")],
            "asks": [(101, 3)],
            "closed": CloseReason.MARKET_REST,
            "balances": {"dave": {"QUOTE": (50, 0), "BASE": (2, 0)}},
        },
    ),
    (
        "market buy by quote beyond the buyer's funds is rejected",
        ["bob sell 2@100", "dave market buy q=300"],
        {"reject": RejectCode.INSUFFICIENT_FUNDS, "asks": [(100, 2)]},
    ),
    (
        "market sell walks the bids",
        ["alice buy 2@100", "carol buy 3@99", "bob market sell 4"],
        {
            "trades": [(2, 100, "alice", "bob"), (2, 99, "carol", "bob")],
            "bids": [(99, 1)],
            "balances": {"bob": {"QUOTE": (M + 398, 0), "BASE": (996, 0)}},
        },
    ),
    (
        "market order on an empty side is rejected",
        ["alice buy 2@100", "carol market buy 3"],
        {"reject": RejectCode.NO_LIQUIDITY, "bids": [(100, 2)]},
    ),
    (
        "limit beyond the buyer's funds is rejected",
        ["dave buy 3@100"],
        {"reject": RejectCode.INSUFFICIENT_FUNDS, "balances": {"dave": {"QUOTE": (250, 0)}}},
    ),
    (
        "a sell without the base is rejected",
        ["dave sell 1@100"],
        {"reject": RejectCode.INSUFFICIENT_FUNDS},
    ),
    (
        "self-trade, default: the taker's rest is canceled",
        ["alice sell 2@100", "alice buy 3@100"],
        {"asks": [(100, 2)], "closed": CloseReason.SELF_TRADE},
    ),
    (
        "self-trade after a fill: trades before it stand",
        ["bob sell 1@99", "alice sell 2@100", "alice buy 3@100"],
        {
            "trades": [(1, 99, "bob", "alice")],
            "asks": [(100, 2)],
            "closed": CloseReason.SELF_TRADE,
            "balances": {"alice": {"QUOTE": (M - 99, 0), "BASE": (999, 2)}},
        },
    ),
    (
        "self-trade, cancel maker: the own order goes, matching goes on",
        ["alice sell 2@100", "bob sell 2@100", "alice buy 3@100 stp=cancel_maker"],
        {
            "trades": [(2, 100, "bob", "alice")],
            "bids": [(100, 1)],
            "balances": {"alice": {"BASE": (1002, 0), "QUOTE": (M - 300, 100)}},
        },
    ),
    (
        "self-trade, cancel both",
        ["alice sell 2@100", "bob sell 2@100", "alice buy 3@100 stp=cancel_both"],
        {
            "asks": [(100, 2)],
            "closed": CloseReason.SELF_TRADE,
            "balances": {"alice": {"BASE": (1000, 0), "QUOTE": (M, 0)}},
        },
    ),
    (
        "cancel after a partial fill releases only the rest",
        ["alice buy 5@100", "bob sell 2@100", "cancel alice 1"],
        {
            "trades": [(2, 100, "alice", "bob")],
            "closed": CloseReason.USER_CANCEL,
            "balances": {"alice": {"QUOTE": (M - 200, 0), "BASE": (1002, 0)}},
        },
    ),
    (
        "someone else's order cannot be canceled, and looks unknown",
        ["alice buy 5@100", "cancel bob 1"],
        {"reject": RejectCode.UNKNOWN_ORDER, "bids": [(100, 5)]},
    ),
    (
        "clientOrderId is unique among open orders",
        ["alice buy 1@90 cid=a", "alice buy 1@91 cid=a"],
        {"reject": RejectCode.DUPLICATE_CLIENT_ORDER_ID, "bids": [(90, 1)]},
    ),
    (
        "clientOrderId stays its order's after it closes: another request under it is refused",
        ["alice buy 1@90 cid=a", "cancel-cid alice a", "alice buy 1@91 cid=a"],
        {"reject": RejectCode.DUPLICATE_CLIENT_ORDER_ID},
    ),
    (
        "the same request under the same clientOrderId is a retry: it places nothing",
        ["alice buy 1@90 cid=a", "alice buy 1@90 cid=a"],
        {"bids": [(90, 1)], "balances": {"alice": {"QUOTE": (M - 90, 90)}}},
    ),
    (
        "the same clientOrderId may serve two users",
        ["alice buy 1@90 cid=a", "bob buy 1@91 cid=a"],
        {"bids": [(91, 1), (90, 1)]},
    ),
    (
        "cancel-all closes every order of the user and no one else's",
        ["alice buy 1@90", "alice sell 1@110", "bob buy 1@91", "cancel-all alice"],
        {"bids": [(91, 1)], "balances": {"alice": {"QUOTE": (M, 0), "BASE": (1000, 0)}}},
    ),
]


def _fund(engine: Engine) -> list[Event]:
    events: list[Event] = []
    for name in ("alice", "bob", "carol"):
        events += engine.apply(deposit(name, "QUOTE", M))
        events += engine.apply(deposit(name, "BASE", 1000))
    events += engine.apply(deposit("dave", "QUOTE", 250))
    return events


def _run(engine: Engine, lines: list[str]) -> list[list[Event]]:
    return [engine.apply(parse_step(line, step)) for step, line in enumerate(lines, start=1)]


@pytest.mark.parametrize(
    ("steps", "expect"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS]
)
def test_scenario(steps: list[str], expect: dict[str, Any]) -> None:
    engine = Engine(scenario_config())
    _fund(engine)
    outcomes = _run(engine, steps)
    last = outcomes[-1]

    trades = [
        (e.quantity, e.price, NAMES[e.maker_user_id], NAMES[e.taker_user_id])
        for events in outcomes
        for e in events
        if isinstance(e, TradeExecuted)
    ]
    assert trades == expect.get("trades", [])
    assert engine.levels("BASE_QUOTE", Side.BUY) == expect.get("bids", [])
    assert engine.levels("BASE_QUOTE", Side.SELL) == expect.get("asks", [])

    rejects = [e.code for e in last if isinstance(e, Rejected)]
    assert rejects == ([expect["reject"]] if "reject" in expect else [])
    if "reject" in expect:
        # A rejection changes nothing: replaying everything but the last step gives this state.
        replay = Engine(scenario_config())
        _fund(replay)
        _run(replay, steps[:-1])
        assert replay.state_hash() == engine.state_hash()
    if "closed" in expect:
        assert expect["closed"] in [e.reason for e in last if isinstance(e, OrderClosed)]

    for name, assets in expect.get("balances", {}).items():
        account = engine.ledger.accounts[USERS[name]]
        for asset, (available, locked) in assets.items():
            i = engine.ledger.asset_index[asset]
            assert (account.available[i], account.locked[i]) == (available, locked), (name, asset)
    assert check_engine(engine) == []


def test_fees_go_to_the_fee_account_in_the_received_asset() -> None:
    engine = Engine(scenario_config(maker_fee="0.001", taker_fee="0.002"))
    _fund(engine)
    _run(engine, ["alice buy 1000@10", "bob sell 1000@10"])
    ledger = engine.ledger
    q, b = ledger.asset_index["QUOTE"], ledger.asset_index["BASE"]
    alice, bob = ledger.accounts[USERS["alice"]], ledger.accounts[USERS["bob"]]
    # alice (maker, buyer) receives 1000 BASE less 0.1%; bob (taker) 10000 QUOTE less 0.2%.
    assert alice.available[b] == 1000 + 1000 - 1
    assert alice.available[q] == M - 10_000
    assert bob.available[q] == M + 10_000 - 20
    assert bob.available[b] == 0
    assert ledger.fees[b] == 1
    assert ledger.fees[q] == 20
    assert check_engine(engine) == []


def test_fees_round_down_in_the_payers_favour() -> None:
    engine = Engine(scenario_config(maker_fee="0.001", taker_fee="0.002"))
    _fund(engine)
    outcomes = _run(engine, ["alice buy 3@10", "bob sell 3@10"])
    trade = next(e for e in outcomes[-1] if isinstance(e, TradeExecuted))
    assert (trade.maker_fee, trade.taker_fee) == (0, 0)  # 3 * 0.001 and 30 * 0.002 round to 0


def test_events_rebuild_every_balance() -> None:
    engine = Engine(scenario_config(maker_fee="0.001", taker_fee="0.002"))
    replica = LedgerReplica(engine.config)
    lines = [
        "bob sell 200@100",
        "carol sell 300@101 stp=cancel_maker",
        "alice buy 250@102",
        "dave market buy 2",
        "alice market buy q=5000",
        "carol buy 100@90",
        "bob market sell 50",
        "cancel carol 6",
        "alice sell 10@100",
        "alice buy 20@101 stp=cancel_both",
    ]
    events = _fund(engine) + [e for step in _run(engine, lines) for e in step]
    for event in events:
        if isinstance(event, StateEvent):
            replica.apply(event)
    for uid, account in engine.ledger.accounts.items():
        for i, code in enumerate(engine.ledger.asset_codes):
            assert (replica.available[uid, code], replica.locked[uid, code]) == (
                account.available[i],
                account.locked[i],
            )
    for i, code in enumerate(engine.ledger.asset_codes):
        assert replica.available[FEE_ACCOUNT, code] == engine.ledger.fees[i]
    assert sum(isinstance(e, TradeExecuted) for e in events) >= 5


def test_an_order_is_readable_after_it_closes_until_memory_runs_out() -> None:
    engine = Engine(scenario_config(), closed_memory=2)
    _fund(engine)
    _run(engine, ["alice buy 5@100", "bob sell 2@100", "cancel alice 1", "bob sell 1@120 ioc"])
    alice, bob = USERS["alice"], USERS["bob"]
    (canceled,) = engine.apply(GetOrder(user_id=alice, ts=9, order_id=OrderId(1)))
    assert isinstance(canceled, OrderState)
    assert (canceled.status, canceled.executed_quantity, canceled.remaining) == (
        OrderStatus.CANCELED,
        2,
        3,
    )
    (expired,) = engine.apply(GetOrder(user_id=bob, ts=9, order_id=OrderId(4)))
    assert isinstance(expired, OrderState)
    assert expired.status is OrderStatus.EXPIRED
    # bob's filled sell (order 2) was the first to close; memory holds two, so it is forgotten.
    (forgotten,) = engine.apply(GetOrder(user_id=bob, ts=9, order_id=OrderId(2)))
    assert isinstance(forgotten, Rejected)
    assert forgotten.code is RejectCode.UNKNOWN_ORDER
    # and nobody reads someone else's closed order
    (hidden,) = engine.apply(GetOrder(user_id=alice, ts=9, order_id=OrderId(4)))
    assert isinstance(hidden, Rejected)
    restored = Engine.restore(engine.config, engine.snapshot(), closed_memory=2)
    assert restored.state_hash() == engine.state_hash()
    assert restored.apply(GetOrder(user_id=bob, ts=9, order_id=OrderId(4))) == [expired]


def test_the_engine_reads_commands_in_their_declared_field_order() -> None:
    # Engine._place and _cancel take their commands apart in one call each (matcher/engine.py,
    # _place_fields and _cancel_fields): a field added, removed or moved in model/commands.py
    # must be matched there.
    assert CancelOrder.__struct_fields__ == (
        "user_id", "ts", "market", "order_id", "client_order_id",
    )  # fmt: skip
    cancel = CancelOrder(user_id=UserId(3), ts=9, market="BTC_USDC", order_id=OrderId(7))
    assert _cancel_fields(cancel) == (3, 9, "BTC_USDC", 7, None)
    assert PlaceOrder.__struct_fields__ == (
        "user_id", "ts", "order_id", "market", "side", "type", "price", "quantity",
        "quote_quantity", "tif", "post_only", "client_order_id", "stp",
    )  # fmt: skip
    order = PlaceOrder(
        user_id=UserId(3), ts=9, order_id=OrderId(7), market="BTC_USDC", side=Side.SELL,
        type=OrderType.LIMIT, price=11, quantity=12, quote_quantity=0, tif=TimeInForce.IOC,
        post_only=False, client_order_id="c", stp=SelfTradePrevention.CANCEL_BOTH,
    )  # fmt: skip
    assert _place_fields(order) == (
        3, 9, 7, "BTC_USDC", Side.SELL, OrderType.LIMIT, 11, 12, 0, TimeInForce.IOC, False, "c",
        SelfTradePrevention.CANCEL_BOTH,
    )  # fmt: skip
