"""Does the recovered journal say what every 2xx said?

A 2xx to ``POST /order`` tells the client what its order did when it was placed: its fills (as
taker), its status and what remains. After any crash the events the shard's matcher recovered
to must say exactly that: the order was accepted, the same trades (ids, prices, quantities),
then it rested with the same remaining or closed with the same status. The events are a
function of the command log, so a reply that left before its batch's events were on disk is
still right as long as recovery re-derives the same events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from model import streams
from model.api import OrderView
from model.config import MarketConfig
from model.enums import CLOSE_STATUS, OrderStatus
from model.events import OrderAccepted, OrderClosed, OrderRested, TradeExecuted

__all__ = ["placement_mismatches"]


@dataclass
class _Placement:
    """What the journal says an order did while its own command ran."""

    market: str
    fills: list[tuple[int, int, int]] = field(default_factory=list)  # trade id, price, lots
    status: OrderStatus | None = None
    remaining: int | None = None


def _placements(client: redis.Redis, shards: Iterable[str]) -> dict[int, _Placement]:
    found: dict[int, _Placement] = {}
    for shard in shards:
        for _, event in streams.logged_events(client, shard):
            if isinstance(event, OrderAccepted):
                found[event.order_id] = _Placement(event.market)
            elif isinstance(event, TradeExecuted):
                taker = found.get(event.taker_order_id)
                if taker is not None and taker.status is None:
                    taker.fills.append((event.trade_id, event.price, event.quantity))
            elif isinstance(event, OrderRested):
                placed = found.get(event.order_id)
                if placed is not None and placed.status is None:
                    placed.status = (
                        OrderStatus.PARTIALLY_FILLED if placed.fills else OrderStatus.NEW
                    )
                    placed.remaining = event.remaining
            elif isinstance(event, OrderClosed):
                placed = found.get(event.order_id)
                if placed is not None and placed.status is None:
                    placed.status = CLOSE_STATUS[event.reason]
                    placed.remaining = event.remaining
    return found


def placement_mismatches(
    client: redis.Redis, config: MarketConfig, shards: Iterable[str], answers: list[OrderView]
) -> list[str]:
    """Each acknowledged placement whose answer the recovered events contradict (or lack)."""
    journal = _placements(client, shards)
    problems: list[str] = []
    for answer in answers:
        placed = journal.get(int(answer.order_id))
        if placed is None:
            problems.append(f"order {answer.order_id}: answered 2xx, not in the events")
            continue
        spec = config.markets[placed.market]
        said = (
            answer.status,
            [(f.trade_id, f.price, f.quantity) for f in answer.fills],
            answer.remaining_qty,
        )
        found = (
            placed.status,
            [(t, spec.format_price(p), spec.format_quantity(q)) for t, p, q in placed.fills],
            None if answer.quantity is None or placed.remaining is None
            else spec.format_quantity(placed.remaining),
        )  # fmt: skip
        if said != found:
            problems.append(f"order {answer.order_id}: answered {said}, recovered {found}")
    return problems
