"""``Stream[T]``: what an agent iterates. Values are acked once the agent asks for more.

``async for value in stream`` acks a value's entry when the loop comes back for the next one;
``async for values in stream.take(n, within=t)`` hands over lists of up to ``n`` values
(gathered for at most ``t`` seconds) and acks a list when the next is asked for. An agent that
dies mid-way leaves its entries unacked, and they come again: delivery is at least once, so
agents must be idempotent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

from pipeline.source import Source

__all__ = ["Stream"]

T = TypeVar("T")


class Stream(Generic[T]):
    """Decoded values from a source, acked after processing."""

    def __init__(
        self, source: Source, decode: Callable[[dict[bytes, bytes]], T], *, block_ms: int = 200
    ) -> None:
        self._source = source
        self._decode = decode
        self._block_ms = block_ms

    async def __aiter__(self) -> AsyncIterator[T]:
        async for values in self.take(1, within=0):
            yield values[0]

    async def take(self, max_count: int, within: float) -> AsyncIterator[list[T]]:
        """Lists of up to ``max_count`` values, waiting at most ``within`` s to fill one."""
        while True:
            entries = await self._source.fetch(max_count, self._block_ms)
            if not entries:
                continue
            deadline = time.monotonic() + within
            while len(entries) < max_count and (left := deadline - time.monotonic()) > 0:
                more = await self._source.fetch(max_count - len(entries), max(1, int(left * 1000)))
                if not more:
                    break
                entries.extend(more)
            values = [self._decode(fields) for _, fields in entries if fields]
            if values:
                yield values
            await self._source.ack([entry_id for entry_id, _ in entries])
