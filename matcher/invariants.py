"""Check every invariant the engine promises; return what is broken (empty when sound).

Used after every step of the property tests, by the seeded replays, and by the audit. It walks
the whole state, so it is for tests and audits, never for the hot path.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from model.ids import OrderId, UserId

if TYPE_CHECKING:
    from matcher.book import BookSide, Order
    from matcher.engine import Engine, Market

__all__ = ["check_engine"]


def check_engine(engine: Engine) -> list[str]:
    """Conservation, no negatives, locks = open orders, books sound, indexes consistent."""
    problems: list[str] = []
    ledger = engine.ledger
    codes = ledger.asset_codes
    for i, (total, deposited) in enumerate(zip(ledger.totals(), ledger.deposited, strict=True)):
        if total != deposited:
            problems.append(f"{codes[i]}: accounts + fees = {total}, deposits = {deposited}")
    for i, fee in enumerate(ledger.fees):
        if fee < 0:
            problems.append(f"fee account negative in {codes[i]}: {fee}")
    expected_locks: defaultdict[tuple[UserId, int], int] = defaultdict(int)
    seen: dict[OrderId, Order] = {}
    for symbol, market in engine.markets.items():
        for side in (market.book.bids, market.book.asks):
            _check_side(engine, market, side, seen, expected_locks, problems)
        bid, ask = market.book.bids.best(), market.book.asks.best()
        if bid is not None and ask is not None and bid.price >= ask.price:
            problems.append(f"{symbol}: book crossed, bid {bid.price} >= ask {ask.price}")
    for uid, account in ledger.accounts.items():
        for i in range(len(codes)):
            if account.available[i] < 0 or account.locked[i] < 0:
                problems.append(
                    f"user {uid} {codes[i]}: available {account.available[i]}, "
                    f"locked {account.locked[i]}"
                )
            want = expected_locks.get((uid, i), 0)
            if account.locked[i] != want:
                problems.append(
                    f"user {uid} {codes[i]}: locked {account.locked[i]}, open orders hold {want}"
                )
    if seen.keys() != engine.orders.keys():
        problems.append(
            f"order index has {len(engine.orders)} orders, books hold {len(seen)} "
            f"(only in index: {sorted(engine.orders.keys() - seen.keys())[:5]}, "
            f"only on books: {sorted(seen.keys() - engine.orders.keys())[:5]})"
        )
    by_user = {oid for mine in engine.user_orders.values() for oid in mine}
    if by_user != seen.keys():
        problems.append("per-user order index differs from the books")
    for uid, mine in engine.index.by_user.items():
        listed = mine.ids()
        if mine.count != len(listed) or any(o.user_id != uid for o in listed.values()):
            problems.append(f"user {uid}: order list says {mine.count}, holds {len(listed)}")
    for (uid, client_id), order in engine.client_ids.items():
        if order.user_id != uid or order.client_order_id != client_id or order.order_id not in seen:
            problems.append(f"clientOrderId index entry ({uid}, {client_id!r}) is stale")
    if len(engine.closed) > engine.closed_memory:
        problems.append(
            f"{len(engine.closed)} closed orders remembered, limit {engine.closed_memory}"
        )
    reopened = engine.closed.keys() & seen.keys()
    if reopened:
        problems.append(f"orders both open and closed: {sorted(reopened)[:5]}")
    with_client_id = sum(1 for o in seen.values() if o.client_order_id is not None)
    if with_client_id != len(engine.client_ids):
        problems.append("clientOrderId index misses open orders")
    return problems


def _check_side(
    engine: Engine,
    market: Market,
    side: BookSide,
    seen: dict[OrderId, Order],
    expected_locks: defaultdict[tuple[UserId, int], int],
    problems: list[str],
) -> None:
    symbol = market.spec.symbol
    if len(side.keys) != len(side.levels):
        problems.append(f"{symbol}: {len(side.keys)} keys for {len(side.levels)} levels")
    previous = None
    for level in side.iter_levels():
        if previous is not None and (
            level.price >= previous if side is market.book.bids else level.price <= previous
        ):
            problems.append(f"{symbol}: levels out of order at {level.price}")
        previous = level.price
        total = count = 0
        order, before = level.head, None
        while order is not None:
            if order.prev is not before or order.level is not level:
                problems.append(f"{symbol}: broken links at order {order.order_id}")
                break
            if order.price != level.price or order.remaining <= 0:
                problems.append(f"{symbol}: order {order.order_id} misplaced or empty")
            if order.order_id in seen:
                problems.append(f"{symbol}: order {order.order_id} rests twice")
            if engine.orders.get(order.order_id) is not order:
                problems.append(f"{symbol}: order {order.order_id} not indexed")
            if order.remaining > order.quantity:
                problems.append(f"order {order.order_id}: remaining > quantity")
            seen[order.order_id] = order
            expected_locks[order.user_id, market.lock_asset(order.side)] += market.locked_by(order)
            total += order.remaining
            count += 1
            before, order = order, order.next
        if level.tail is not before:
            problems.append(f"{symbol}: level {level.price} tail is wrong")
        if count == 0:
            problems.append(f"{symbol}: empty level {level.price} kept")
        if total != level.total or count != level.count:
            problems.append(
                f"{symbol}: level {level.price} says {level.total} lots in {level.count} orders, "
                f"holds {total} in {count}"
            )
