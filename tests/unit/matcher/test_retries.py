"""A retried order (same user, clientOrderId and request) never executes twice.

The engine remembers each user's orders placed with a clientOrderId for the retry window
(``matcher.order_index``): a retry gets ``OrderRepeated`` with the first order as it stands now,
whether it is open, filled or canceled, and changes nothing; a different request under the same
id is ``DUPLICATE_CLIENT_ORDER_ID``, naming the first order.
"""

from __future__ import annotations

import msgspec
import pytest

from matcher.engine import Engine
from matcher.invariants import check_engine
from matcher.order_index import CLIENT_ID_MEMORY, CLIENT_ID_WINDOW_US
from model.commands import CancelOrder, Deposit, PlaceOrder
from model.enums import OrderStatus, OrderType, Side, TimeInForce
from model.events import Event, OrderRepeated, Rejected, TradeExecuted
from model.ids import OrderId, UserId
from model.rejects import RejectCode
from tests.support.scenario import MARKET, scenario_config

ALICE, BOB = UserId(1), UserId(2)
T0 = 1_700_000_000_000_000


class _Ids:
    def __init__(self) -> None:
        self.next = 100

    def __call__(self) -> OrderId:
        self.next += 1
        return OrderId(self.next)


def _engine() -> Engine:
    engine = Engine(scenario_config())
    for user in (ALICE, BOB):
        for asset in ("BASE", "QUOTE"):
            engine.apply(Deposit(user_id=user, ts=T0, asset=asset, amount=10**9))
    return engine


def _buy(
    order_id: OrderId, ts: int, cid: str | None = "mine-1", price: int = 90, qty: int = 5
) -> PlaceOrder:
    return PlaceOrder(
        user_id=ALICE,
        ts=ts,
        order_id=order_id,
        market=MARKET,
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=price,
        quantity=qty,
        client_order_id=cid,
    )


def _sell(order_id: OrderId, ts: int, price: int, qty: int) -> PlaceOrder:
    """Bob's sell, without a client id: the other side of alice's orders."""
    order = _buy(order_id, ts, cid=None, price=price, qty=qty)
    return msgspec.structs.replace(order, user_id=BOB, side=Side.SELL)


def _repeated(events: list[Event]) -> OrderRepeated:
    assert len(events) == 1, events
    assert isinstance(events[0], OrderRepeated), events
    return events[0]


def _rejected(events: list[Event]) -> Rejected:
    assert len(events) == 1, events
    assert isinstance(events[0], Rejected), events
    return events[0]


@pytest.mark.parametrize("outcome", ["open", "partially_filled", "filled", "canceled"])
def test_a_retry_returns_the_first_order_and_changes_nothing(outcome: str) -> None:
    engine, ids = _engine(), _Ids()
    first = _buy(ids(), T0)
    engine.apply(first)
    if outcome in ("partially_filled", "filled"):
        events = engine.apply(_sell(ids(), T0 + 1, 90, 2 if outcome == "partially_filled" else 5))
        assert any(isinstance(e, TradeExecuted) for e in events)
    elif outcome == "canceled":
        engine.apply(CancelOrder(user_id=ALICE, ts=T0 + 1, client_order_id="mine-1"))
    before, seq = engine.state_hash(), engine.seq

    retry = _repeated(engine.apply(_buy(ids(), T0 + 5_000_000)))

    assert retry.order_id == first.order_id
    assert retry.state is not None
    assert retry.state.order_id == first.order_id
    expected = {
        "open": (OrderStatus.NEW, 0),
        "partially_filled": (OrderStatus.PARTIALLY_FILLED, 2),
        "filled": (OrderStatus.FILLED, 5),
        "canceled": (OrderStatus.CANCELED, 0),
    }[outcome]
    assert (retry.state.status, retry.state.executed_quantity) == expected
    assert engine.state_hash() == before
    assert engine.seq == seq
    assert check_engine(engine) == []


def test_a_different_request_under_the_same_id_is_refused_naming_the_first_order() -> None:
    engine, ids = _engine(), _Ids()
    first = _buy(ids(), T0)
    engine.apply(first)
    engine.apply(_sell(ids(), T0 + 1, 90, 5))  # fills it: the id stays taken after it closes
    before = engine.state_hash()
    for changed in (
        _buy(ids(), T0 + 2, price=91),
        _buy(ids(), T0 + 2, qty=6),
        msgspec.structs.replace(_buy(ids(), T0 + 2), tif=TimeInForce.IOC),
        msgspec.structs.replace(_buy(ids(), T0 + 2), side=Side.SELL),
    ):
        refused = _rejected(engine.apply(changed))
        assert refused.code is RejectCode.DUPLICATE_CLIENT_ORDER_ID
        assert refused.order_id == first.order_id
        assert str(first.order_id) in refused.message
    assert engine.state_hash() == before


def test_the_id_is_per_user() -> None:
    engine, ids = _engine(), _Ids()
    engine.apply(_buy(ids(), T0))
    theirs = msgspec.structs.replace(_buy(ids(), T0 + 1), user_id=BOB)
    assert [type(e).__name__ for e in engine.apply(theirs)] == ["OrderAccepted", "OrderRested"]


def test_a_rejected_order_leaves_no_trace_and_its_retry_is_judged_afresh() -> None:
    engine, ids = _engine(), _Ids()
    too_big = _buy(ids(), T0, price=2000, qty=10**6)  # needs more QUOTE than alice has
    assert _rejected(engine.apply(too_big)).code is RejectCode.INSUFFICIENT_FUNDS
    engine.apply(Deposit(user_id=ALICE, ts=T0 + 1, asset="QUOTE", amount=2 * 10**9))
    events = engine.apply(msgspec.structs.replace(too_big, order_id=ids(), ts=T0 + 2))
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderRested"]


def test_after_the_window_the_id_places_a_new_order_once_the_first_is_closed() -> None:
    engine, ids = _engine(), _Ids()
    engine.apply(_buy(ids(), T0))
    late = T0 + CLIENT_ID_WINDOW_US + 1
    # Past the window, but the first order still rests: its id is in use.
    assert _rejected(engine.apply(_buy(ids(), late))).code is RejectCode.DUPLICATE_CLIENT_ORDER_ID
    engine.apply(CancelOrder(user_id=ALICE, ts=late, client_order_id="mine-1"))
    events = engine.apply(_buy(ids(), late + 1))
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderRested"]
    assert check_engine(engine) == []


def test_within_the_window_the_id_is_remembered_to_the_last_microsecond() -> None:
    engine, ids = _engine(), _Ids()
    first = _buy(ids(), T0)
    engine.apply(first)
    engine.apply(CancelOrder(user_id=ALICE, ts=T0, client_order_id="mine-1"))
    retry = _repeated(engine.apply(_buy(ids(), T0 + CLIENT_ID_WINDOW_US)))
    assert retry.order_id == first.order_id


def test_each_user_keeps_the_last_client_id_memory_ids() -> None:
    engine, ids = _engine(), _Ids()

    def ioc(cid: str, ts: int) -> PlaceOrder:  # accepted, then expires: nothing rests
        return msgspec.structs.replace(_buy(ids(), ts, cid=cid, qty=1), tif=TimeInForce.IOC)

    first = ioc("c-0", T0)
    engine.apply(first)
    for n in range(1, CLIENT_ID_MEMORY):
        engine.apply(ioc(f"c-{n}", T0 + n))
    # The first id is the oldest of exactly CLIENT_ID_MEMORY remembered: still a retry.
    assert _repeated(engine.apply(ioc("c-0", T0 + 10**6))).order_id == first.order_id
    assert len(engine.index.placed[ALICE]) == CLIENT_ID_MEMORY
    # One more id pushes it out: the same request now places a new order.
    engine.apply(ioc("c-new", T0 + 10**6 + 1))
    events = engine.apply(ioc("c-0", T0 + 10**6 + 2))
    assert type(events[0]).__name__ == "OrderAccepted"
    assert len(engine.index.placed[ALICE]) == CLIENT_ID_MEMORY
    assert check_engine(engine) == []


def test_the_memory_survives_a_snapshot_and_is_part_of_the_state_hash() -> None:
    engine, ids = _engine(), _Ids()
    first = _buy(ids(), T0)
    engine.apply(first)
    engine.apply(_sell(ids(), T0 + 1, 90, 5))
    restored = Engine.restore(scenario_config(), engine.snapshot())
    assert restored.state_hash() == engine.state_hash()
    assert _repeated(restored.apply(_buy(ids(), T0 + 2))).order_id == first.order_id

    forgetful = Engine.restore(scenario_config(), engine.snapshot())
    forgetful.index.placed.clear()
    assert forgetful.state_hash() != engine.state_hash()


def test_a_snapshot_from_before_the_memory_restores_with_none() -> None:
    engine, ids = _engine(), _Ids()
    engine.apply(_buy(ids(), T0))
    fields = msgspec.msgpack.decode(engine.snapshot())
    old = msgspec.msgpack.encode([2, *fields[1:-1]])  # version 2 had no memory of client ids
    restored = Engine.restore(scenario_config(), old)
    assert restored.index.placed == {}
    assert restored.levels(MARKET, Side.BUY) == engine.levels(MARKET, Side.BUY)
