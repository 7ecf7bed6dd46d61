"""Identifiers. Distinct types so an order id is never passed where a user id belongs.

Order ids are made by the edge before the order reaches the matcher (so a request that times out
can still answer with its id). They are snowflakes: milliseconds since 2026-01-01 in the top
41 bits, the edge's node number in the next 10, a per-millisecond sequence in the last 12; unique
across edges, increasing in time, and below 2**63.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NewType

__all__ = ["FEE_ACCOUNT", "OrderId", "OrderIdFactory", "TradeId", "UserId"]

UserId = NewType("UserId", int)
OrderId = NewType("OrderId", int)
TradeId = NewType("TradeId", int)

#: The account that collects trading fees. Real users are numbered from 1.
FEE_ACCOUNT = UserId(0)

_EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_NODE_BITS, _SEQ_BITS = 10, 12
_MAX_SEQ = (1 << _SEQ_BITS) - 1


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class OrderIdFactory:
    """Snowflake order ids for one edge node (0..1023)."""

    def __init__(self, node: int, clock_ms: Callable[[], int] = _now_ms) -> None:
        if not 0 <= node < 1 << _NODE_BITS:
            raise ValueError(f"node must be in 0..{(1 << _NODE_BITS) - 1}, got {node}")
        self._node = node
        self._clock = clock_ms
        self._last = 0
        self._seq = 0

    def next(self) -> OrderId:
        """A new id, greater than every id this factory made before (even if the clock steps
        back: it then keeps counting within the last millisecond it saw)."""
        now = max(self._clock() - _EPOCH_MS, self._last)
        if now == self._last:
            self._seq += 1
            if self._seq > _MAX_SEQ:  # 4096 ids in one millisecond: borrow the next one
                now, self._seq = now + 1, 0
        else:
            self._seq = 0
        self._last = now
        return OrderId((now << (_NODE_BITS + _SEQ_BITS)) | (self._node << _SEQ_BITS) | self._seq)

    @staticmethod
    def timestamp_ms(order_id: int) -> int:
        """When an id was made, in ms since the Unix epoch."""
        return (order_id >> (_NODE_BITS + _SEQ_BITS)) + _EPOCH_MS
