"""Engine snapshots: the whole state as canonical msgpack bytes.

Canonical means equal states give equal bytes: accounts are written in user-id order and
orders market by market (by symbol), bids then asks, best level first, oldest order first —
exactly the order that rebuilds the same queues on restore. ``Engine.state_hash`` hashes these
bytes, so a restored engine and one that never stopped compare equal.

The state is the engine's parts, passed in: the markets (their books), the ledger, the order
index (with its memory of closed orders and of clientOrderIds), and the two counters
``seq`` and ``trade_id``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from matcher.book import Order
from matcher.ledger import Ledger
from matcher.market import Market
from matcher.order_index import OrderIndex
from model.commands import PlaceOrder
from model.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from model.events import OrderState
from model.ids import OrderId, UserId

__all__ = ["SNAPSHOT_VERSION", "dump", "load"]

SNAPSHOT_VERSION = 3
#: Versions :func:`load` reads: version 2 had no clientOrderId memory (it restores empty).
_READABLE = frozenset({2, SNAPSHOT_VERSION})


class _OrderRecord(msgspec.Struct, frozen=True, array_like=True):
    order_id: OrderId
    user_id: UserId
    market: str
    side: Side
    type: OrderType
    tif: TimeInForce
    price: int
    quantity: int
    remaining: int
    executed_quantity: int
    executed_quote: int
    client_order_id: str | None
    post_only: bool
    stp: SelfTradePrevention
    ts: int


class _AccountRecord(msgspec.Struct, frozen=True, array_like=True):
    user_id: UserId
    available: list[int]
    locked: list[int]


class _State(msgspec.Struct, frozen=True, array_like=True):
    version: int
    seq: int
    trade_id: int
    assets: list[str]
    fees: list[int]
    deposited: list[int]
    accounts: list[_AccountRecord]
    orders: list[_OrderRecord]
    closed: list[OrderState]
    placed: list[PlaceOrder] = []


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_State)


def dump(
    markets: Mapping[str, Market], ledger: Ledger, index: OrderIndex, seq: int, trade_id: int
) -> bytes:
    """Serialise the state canonically."""
    accounts = [
        _AccountRecord(user_id=uid, available=list(acc.available), locked=list(acc.locked))
        for uid, acc in sorted(ledger.accounts.items())
    ]
    orders: list[_OrderRecord] = []
    for symbol in sorted(markets):
        book = markets[symbol].book
        for side in (book.bids, book.asks):
            for level in side.iter_levels():
                order = level.head
                while order is not None:
                    orders.append(_record(order))
                    order = order.next
    state = _State(
        version=SNAPSHOT_VERSION,
        seq=seq,
        trade_id=trade_id,
        assets=list(ledger.asset_codes),
        fees=list(ledger.fees),
        deposited=list(ledger.deposited),
        accounts=accounts,
        orders=orders,
        closed=index.closed_states(),
        placed=[cmd for _, mine in sorted(index.placed.items()) for cmd in mine.values()],
    )
    return _encoder.encode(state)


def load(
    data: bytes, markets: Mapping[str, Market], ledger: Ledger, index: OrderIndex
) -> tuple[int, int]:
    """Fill a fresh engine's parts with the state in ``data``; return its ``seq, trade_id``.

    Assets are matched by code, so a config that adds assets or markets still restores; one
    that lost an asset or market the snapshot uses is refused.
    """
    state = _decoder.decode(data)
    if state.version not in _READABLE:
        raise ValueError(f"snapshot version {state.version}, expected {SNAPSHOT_VERSION}")
    missing = [code for code in state.assets if code not in ledger.asset_index]
    if missing:
        raise ValueError(f"snapshot has assets the config lacks: {missing}")
    where = [ledger.asset_index[code] for code in state.assets]
    for i, pos in enumerate(where):
        ledger.fees[pos] = state.fees[i]
        ledger.deposited[pos] = state.deposited[i]
    for record in state.accounts:
        account = ledger.account(record.user_id)
        for i, pos in enumerate(where):
            account.available[pos] = record.available[i]
            account.locked[pos] = record.locked[i]
    for rec in state.orders:
        market = markets.get(rec.market)
        if market is None:
            raise ValueError(f"snapshot has orders in {rec.market}, which the config lacks")
        if (
            rec.type is not OrderType.LIMIT
            or rec.tif is not TimeInForce.GTC
            or rec.executed_quantity + rec.remaining != rec.quantity
        ):
            raise ValueError(f"snapshot order {rec.order_id} cannot rest: {rec}")
        order = Order(
            rec.order_id,
            rec.user_id,
            rec.market,
            rec.side,
            rec.price,
            rec.quantity,
            rec.remaining,
            rec.executed_quote,
            rec.client_order_id,
            rec.post_only,
            rec.stp,
            rec.ts,
        )
        market.book.side(order.side).add(order)
        index.add(order)
    index.recall(state.closed)
    index.recall_placed(state.placed)
    return state.seq, state.trade_id


def _record(order: Order) -> _OrderRecord:
    return _OrderRecord(
        order_id=order.order_id,
        user_id=order.user_id,
        market=order.market,
        side=order.side,
        type=OrderType.LIMIT,  # only limit GTC orders rest
        tif=TimeInForce.GTC,
        price=order.price,
        quantity=order.quantity,
        remaining=order.remaining,
        executed_quantity=order.quantity - order.remaining,
        executed_quote=order.executed_quote,
        client_order_id=order.client_order_id,
        post_only=order.post_only,
        stp=order.stp,
        ts=order.ts,
    )
