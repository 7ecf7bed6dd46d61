"""The order index: open orders by id, user and clientOrderId, and the memory of closed ones."""

from __future__ import annotations

from matcher.book import Order
from matcher.order_index import OrderIndex, order_state
from model.enums import OrderStatus, SelfTradePrevention, Side
from model.ids import OrderId, UserId

ALICE, BOB = UserId(1), UserId(2)


def _order(order_id: int, user: UserId, client_id: str | None = None) -> Order:
    return Order(
        OrderId(order_id), user, "BASE_QUOTE", Side.BUY, 100, 5, 5, 0, client_id, False,
        SelfTradePrevention.CANCEL_TAKER, order_id,
    )  # fmt: skip


def test_an_added_order_is_found_by_id_user_and_client_id() -> None:
    index = OrderIndex(closed_memory=10)
    first, second, other = _order(1, ALICE, "a"), _order(2, ALICE), _order(3, BOB, "a")
    for order in (first, second, other):
        index.add(order)
    assert index.orders == {1: first, 2: second, 3: other}
    assert sorted(o.order_id for o in index.of_user(ALICE)) == [1, 2]
    assert index.client_ids == {(ALICE, "a"): first, (BOB, "a"): other}
    assert index.of_user(UserId(9)) == []


def test_a_dropped_order_leaves_every_index_frees_its_client_id_and_is_remembered() -> None:
    index = OrderIndex(closed_memory=10)
    order = _order(1, ALICE, "a")
    index.add(order)
    order.remaining, order.executed_quote = 0, 500
    index.drop(order, OrderStatus.FILLED)
    assert index.orders == index.by_user == index.client_ids == {}
    assert index.closed_states() == [order_state(order, OrderStatus.FILLED)]
    state = index.closed_state(OrderId(1))
    assert state is not None
    assert state.status is OrderStatus.FILLED
    assert state.executed_quantity == 5
    assert state.executed_quote == 500


def test_the_memory_forgets_the_oldest_first_but_a_restore_keeps_what_it_is_given() -> None:
    index = OrderIndex(closed_memory=2)
    orders = [_order(i, BOB) for i in (1, 2, 3)]
    for order in orders:
        index.remember(order_state(order, OrderStatus.CANCELED))
    assert list(index.closed) == [2, 3]
    restored = OrderIndex(closed_memory=1)
    restored.recall(order_state(o, OrderStatus.EXPIRED) for o in orders)
    assert list(restored.closed) == [1, 2, 3]


def test_an_open_order_state_says_new_or_partially_filled() -> None:
    order = _order(1, ALICE)
    assert order_state(order).status is OrderStatus.NEW
    order.remaining = 3
    assert order_state(order).status is OrderStatus.PARTIALLY_FILLED
