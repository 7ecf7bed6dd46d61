"""Commands and events survive the wire: msgpack round trips through the tagged unions."""

from __future__ import annotations

import msgspec
import pytest

from model import topics
from model.commands import (
    Balances,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    GetOrder,
    OpenOrders,
    PlaceOrder,
    Quote,
)
from model.enums import CloseReason, OrderType, Side
from model.events import Event, OrderClosed, Rejected, TradeExecuted
from model.ids import OrderId, OrderIdFactory, TradeId, UserId
from model.rejects import RejectCode

USER, ORDER = UserId(7), OrderId(123_456_789_012)

COMMANDS: list[Command] = [
    PlaceOrder(
        user_id=USER,
        ts=1,
        order_id=ORDER,
        market="TATA_INR",
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=100,
        quantity=2,
        client_order_id="x",
    ),
    CancelOrder(user_id=USER, ts=2, order_id=ORDER),
    CancelOrder(user_id=USER, ts=2, client_order_id="x", market="TATA_INR"),
    CancelAll(user_id=USER, ts=3),
    Deposit(user_id=USER, ts=4, asset="INR", amount=10**15),
    Quote(user_id=USER, ts=5, market="BTC_USDC", side=Side.SELL, quantity=3),
    GetOrder(user_id=USER, ts=6, order_id=ORDER),
    OpenOrders(user_id=USER, ts=7, market=None),
    Balances(user_id=USER, ts=8),
]

EVENTS: list[Event] = [
    TradeExecuted(
        seq=9,
        ts=1,
        market="TATA_INR",
        trade_id=TradeId(4),
        price=100,
        quantity=2,
        taker_side=Side.SELL,
        maker_order_id=ORDER,
        taker_order_id=OrderId(ORDER + 1),
        maker_user_id=USER,
        taker_user_id=UserId(8),
        base_amount=2,
        quote_amount=200,
        maker_fee=0,
        taker_fee=1,
        taker_refund=0,
        maker_remaining=0,
        taker_remaining=1,
    ),
    OrderClosed(
        seq=10,
        ts=1,
        market="TATA_INR",
        order_id=ORDER,
        user_id=USER,
        side=Side.BUY,
        price=100,
        remaining=3,
        released=300,
        reason=CloseReason.USER_CANCEL,
        was_resting=True,
    ),
    Rejected(code=RejectCode.UNKNOWN_ORDER, message="no such open order", order_id=ORDER),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_commands_round_trip(command: Command) -> None:
    data = msgspec.msgpack.encode(command)
    assert msgspec.msgpack.decode(data, type=Command) == command


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_events_round_trip(event: Event) -> None:
    data = msgspec.msgpack.encode(event)
    assert msgspec.msgpack.decode(data, type=Event) == event


def test_messages_are_immutable() -> None:
    with pytest.raises(AttributeError):
        COMMANDS[0].price = 1  # type: ignore[misc]


def test_keys_of_a_shard_share_one_hash_tag() -> None:
    shard = "s0"
    names = [
        topics.commands(shard),
        topics.events(shard),
        topics.snapshot(shard),
        topics.replies(shard, "edge-1"),
    ]
    assert {name.split("}")[0] + "}" for name in names} == {"tw:{s0}"}
    assert topics.market_data("depth@TATA_INR") == "md:depth@TATA_INR"
    assert topics.depth_stream("TATA_INR") == "md:depth@TATA_INR"
    assert topics.trades_stream("TATA_INR") == "md:trades@TATA_INR"
    assert topics.ticker_stream("TATA_INR") == "md:ticker@TATA_INR"
    assert topics.kline_stream("15m", "TATA_INR") == "md:kline.15m@TATA_INR"
    assert topics.ticker_book("TATA_INR") == "md:ticker:TATA_INR"
    assert topics.depth_book("TATA_INR") == "md:depth:TATA_INR"
    assert topics.user_channel(42) == "user:42"


def test_order_ids_increase_and_never_collide_across_nodes() -> None:
    ticks = iter([1_800_000_000_000] * 5000 + [1_799_999_999_000] * 10 + [1_800_000_000_005] * 3)
    factory = OrderIdFactory(7, clock_ms=lambda: next(ticks))
    made = [factory.next() for _ in range(5013)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(0 < i < 2**63 for i in made)
    assert OrderIdFactory.timestamp_ms(made[0]) == 1_800_000_000_000
    other = OrderIdFactory(8, clock_ms=lambda: 1_800_000_000_000)
    assert not {other.next() for _ in range(100)} & set(made)
    with pytest.raises(ValueError, match="node"):
        OrderIdFactory(1024)
