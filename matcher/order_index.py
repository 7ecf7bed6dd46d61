"""Where the engine finds orders: open ones by id, by user and by clientOrderId, and closed ones.

Index invariants
----------------
* ``orders`` holds exactly the orders resting on the books, by order id.
* ``by_user[user]`` holds exactly that user's resting orders, as an intrusive list through the
  orders themselves (:class:`UserOrders`: no dict entry per order); a user with none has no
  entry. (Its order carries no meaning: readers sort.)
* ``client_ids[(user, client_order_id)]`` holds every resting order that has a client order id,
  and nothing else: a client id is unique among a user's open orders, and free again once the
  order closes.
* ``placed[user]`` remembers, per user and oldest first, the ``PlaceOrder`` of every order the
  engine accepted with a client order id, for the retry window: at most
  :data:`CLIENT_ID_MEMORY` per user, none older than :data:`CLIENT_ID_WINDOW_US` by the commands'
  own ``ts`` (see :meth:`OrderIndex.earlier`). A user with none has no entry.
* ``closed`` remembers the final state of the last ``closed_memory`` orders closed, oldest first:
  a filled resting order as its own :class:`Order` (it changes no more, and building its public
  state for every fill would cost more than the fill), any other as its ``OrderState``. Read it
  through :meth:`OrderIndex.closed_state` and :meth:`OrderIndex.closed_states`
  (the oldest is forgotten first; a restore keeps what the snapshot held, see
  :meth:`OrderIndex.recall`). An order id is never both open and remembered.

The engine and the queries read these containers; only the methods below change them. The index
knows nothing of books or balances: the engine puts an order on its book, then calls
:meth:`OrderIndex.add`; it takes a closing order off its level, then calls :meth:`OrderIndex.drop`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Final

from mypy_extensions import mypyc_attr

from matcher.book import Order
from model.commands import PlaceOrder
from model.enums import OrderStatus, OrderType, TimeInForce
from model.events import OrderState
from model.ids import OrderId, UserId

__all__ = [
    "CLIENT_ID_MEMORY",
    "CLIENT_ID_WINDOW_US",
    "OrderIndex",
    "UserOrders",
    "order_state",
    "same_request",
]

#: How long a retry with the same clientOrderId finds the original order: 24 hours of command
#: time (the edge's receipt time, ``ts``), ...
CLIENT_ID_WINDOW_US = 24 * 3600 * 1_000_000
#: ... and among the user's last this many orders placed with a clientOrderId (in one shard).
CLIENT_ID_MEMORY = 1000

_LIMIT: Final = OrderType.LIMIT
_GTC: Final = TimeInForce.GTC
_NEW: Final = OrderStatus.NEW
_PARTIAL: Final = OrderStatus.PARTIALLY_FILLED
_FILLED: Final = OrderStatus.FILLED


@mypyc_attr(acyclic=True)
class UserOrders:
    """One user's resting orders: a doubly linked list through ``Order.user_prev``/``user_next``
    (newest first), and how many there are."""

    __slots__ = ("count", "head")

    def __init__(self) -> None:
        self.head: Order | None = None
        self.count = 0

    def push(self, order: Order) -> None:
        """Add a resting order (it is in no user's list)."""
        head = self.head
        order.user_next = head
        order.user_prev = None
        if head is not None:
            head.user_prev = order
        self.head = order
        self.count += 1

    def remove(self, order: Order) -> None:
        """Take one of this user's orders out of the list in O(1)."""
        before = order.user_prev
        after = order.user_next
        if before is None:
            self.head = after
        else:
            before.user_next = after
        if after is not None:
            after.user_prev = before
        order.user_prev = None
        order.user_next = None
        self.count -= 1

    def ids(self) -> dict[OrderId, Order]:
        """The orders by id (for readers; not the hot path)."""
        found: dict[OrderId, Order] = {}
        order = self.head
        while order is not None:
            found[order.order_id] = order
            order = order.user_next
        return found


class OrderIndex:
    """Open orders by id, by user and by (user, clientOrderId); the memory of closed orders."""

    __slots__ = ("by_user", "client_ids", "closed", "closed_memory", "orders", "placed")

    def __init__(self, closed_memory: int) -> None:
        self.closed_memory = closed_memory
        self.orders: dict[OrderId, Order] = {}
        self.by_user: dict[UserId, UserOrders] = {}
        self.client_ids: dict[tuple[UserId, str], Order] = {}
        self.closed: OrderedDict[OrderId, Order | OrderState] = OrderedDict()
        self.placed: dict[UserId, OrderedDict[str, PlaceOrder]] = {}

    def earlier(self, cmd: PlaceOrder) -> PlaceOrder | None:
        """The order the user placed earlier under ``cmd``'s clientOrderId, within the window.

        An entry older than the window (by ``cmd.ts``) is forgotten here, as if never placed.
        """
        mine = self.placed.get(cmd.user_id)
        if mine is None or cmd.client_order_id is None:
            return None
        first = mine.get(cmd.client_order_id)
        if first is None:
            return None
        if first.ts < cmd.ts - CLIENT_ID_WINDOW_US:
            del mine[cmd.client_order_id]
            if not mine:
                del self.placed[cmd.user_id]
            return None
        return first

    def note(self, cmd: PlaceOrder) -> None:
        """Remember an accepted order's request under its clientOrderId (it has one, and no
        :meth:`earlier` order holds it); forget what falls out of the window."""
        mine = self.placed.get(cmd.user_id)
        if mine is None:
            mine = self.placed[cmd.user_id] = OrderedDict()
        mine[cmd.client_order_id] = cmd  # type: ignore[index]
        horizon = cmd.ts - CLIENT_ID_WINDOW_US
        while len(mine) > CLIENT_ID_MEMORY or next(iter(mine.values())).ts < horizon:
            mine.popitem(last=False)

    def of_user(self, user_id: UserId) -> list[Order]:
        """The user's open orders (in no meaningful order)."""
        mine = self.by_user.get(user_id)
        return [] if mine is None else list(mine.ids().values())

    def add(self, order: Order) -> None:
        """Index an order that has just come to rest."""
        self.orders[order.order_id] = order
        mine = self.by_user.get(order.user_id)
        if mine is None:
            mine = self.by_user[order.user_id] = UserOrders()
        mine.push(order)
        if order.client_order_id is not None:
            self.client_ids[order.user_id, order.client_order_id] = order

    def drop(self, order: Order, status: OrderStatus) -> None:
        """Unindex a resting order that has closed (it is already off its level); remember it."""
        del self.orders[order.order_id]
        mine = self.by_user[order.user_id]
        mine.remove(order)
        if mine.count == 0:
            del self.by_user[order.user_id]
        if order.client_order_id is not None:
            del self.client_ids[order.user_id, order.client_order_id]
        # Remembered as it is when filled (every filled maker passes here), else as its state.
        closed = self.closed
        closed[order.order_id] = order if status is _FILLED else order_state(order, status)
        if len(closed) > self.closed_memory:
            closed.popitem(last=False)

    def closed_state(self, order_id: OrderId) -> OrderState | None:
        """The final state of a remembered closed order, or ``None``."""
        remembered = self.closed.get(order_id)
        if isinstance(remembered, Order):
            return order_state(remembered, _FILLED)
        return remembered

    def closed_states(self) -> list[OrderState]:
        """Every remembered closed order's final state, oldest first."""
        return [
            order_state(kept, _FILLED) if isinstance(kept, Order) else kept
            for kept in self.closed.values()
        ]

    def remember(self, state: OrderState) -> None:
        """Remember the final state of an order that closed without resting; forget the oldest
        past ``closed_memory``."""
        closed = self.closed
        closed[state.order_id] = state
        if len(closed) > self.closed_memory:
            closed.popitem(last=False)

    def recall(self, states: Iterable[OrderState]) -> None:
        """Remember closed orders restored from a snapshot, oldest first, as they are.

        Not trimmed to ``closed_memory``: a snapshot restores the memory it was taken with.
        """
        self.closed.update((state.order_id, state) for state in states)

    def recall_placed(self, requests: Iterable[PlaceOrder]) -> None:
        """Remember requests restored from a snapshot, each user's oldest first, as they are."""
        for cmd in requests:
            mine = self.placed.get(cmd.user_id)
            if mine is None:
                mine = self.placed[cmd.user_id] = OrderedDict()
            mine[cmd.client_order_id] = cmd  # type: ignore[index]


def same_request(cmd: PlaceOrder, first: PlaceOrder) -> bool:
    """Does ``cmd`` ask for exactly what ``first`` asked (ids and time aside)?"""
    return (
        cmd.market == first.market
        and cmd.side is first.side
        and cmd.type is first.type
        and cmd.price == first.price
        and cmd.quantity == first.quantity
        and cmd.quote_quantity == first.quote_quantity
        and cmd.tif is first.tif
        and cmd.post_only == first.post_only
        and cmd.stp is first.stp
    )


def order_state(order: Order, status: OrderStatus | None = None) -> OrderState:
    """The public view of a resting order; ``status`` once it closes, else new or partial."""
    executed = order.quantity - order.remaining
    if status is None:
        status = _PARTIAL if executed else _NEW
    # Positional (OrderState's field order): every closed order passes here, on the hot path.
    # A resting order is always a limit GTC order.
    return OrderState(
        order.market, order.order_id, order.user_id, order.side, _LIMIT, _GTC, order.price,
        order.quantity, order.remaining, executed, order.executed_quote, status,
        order.client_order_id, order.post_only, order.ts, order.stp,
    )  # fmt: skip
