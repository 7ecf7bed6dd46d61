"""Where a stream's entries come from: a Redis consumer group, or memory (for tests).

``RedisSource`` reads with ``XREADGROUP``: first this consumer's own pending entries (read
before a crash, never acked), after claiming stale ones of dead consumers with ``XAUTOCLAIM``,
then new entries. Entries are acked only when the agent asks for what comes next.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

__all__ = ["Entry", "MemorySource", "RedisSource", "Source"]

#: An entry id and its fields.
Entry = tuple[str, dict[bytes, bytes]]


class Source(Protocol):
    async def fetch(self, count: int, block_ms: int) -> list[Entry]:
        """Up to ``count`` entries, waiting at most ``block_ms`` for the first."""
        ...

    async def ack(self, ids: list[str]) -> None:
        """Mark entries as processed."""
        ...


class RedisSource:
    """One consumer of a consumer group on one stream."""

    def __init__(
        self,
        client: aioredis.Redis,
        key: str,
        group: str,
        consumer: str,
        *,
        claim_idle_ms: int = 30_000,
    ) -> None:
        self.client, self.key, self.group, self.consumer = client, key, group, consumer
        self.claim_idle_ms = claim_idle_ms
        self._started = False
        self._own_pending = True
        self._pending_after = "0"

    async def _start(self) -> None:
        try:
            await self.client.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        # Entries a dead consumer read but never acked become ours.
        cursor = "0-0"
        while True:
            raw: Any = await self.client.xautoclaim(
                self.key, self.group, self.consumer, self.claim_idle_ms, cursor, count=500
            )
            cursor = raw[0].decode() if isinstance(raw[0], bytes) else str(raw[0])
            if cursor == "0-0":
                break
        self._started = True

    async def fetch(self, count: int, block_ms: int) -> list[Entry]:
        if not self._started:
            await self._start()
        if self._own_pending:
            # Entries delivered to this consumer before a restart and never acked, oldest first,
            # each once: the next read starts after the last one returned.
            entries = await self._read(self._pending_after, count, None)
            if entries:
                self._pending_after = entries[-1][0]
                return entries
            self._own_pending = False
        return await self._read(">", count, block_ms)

    async def _read(self, start: str, count: int, block_ms: int | None) -> list[Entry]:
        raw: Any = await self.client.xreadgroup(
            self.group, self.consumer, {self.key: start}, count=count, block=block_ms
        )
        if not raw:
            return []
        return [(eid.decode(), fields or {}) for eid, fields in raw[0][1]]

    async def ack(self, ids: list[str]) -> None:
        if ids:
            await self.client.xack(self.key, self.group, *ids)


class MemorySource:
    """Entries put by a test; acks are recorded."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Entry] = asyncio.Queue()
        self.acked: list[str] = []
        self._acked_event = asyncio.Event()
        self._next = 0

    def put(self, fields: dict[bytes, bytes]) -> str:
        self._next += 1
        entry_id = f"{self._next}-0"
        self.queue.put_nowait((entry_id, fields))
        return entry_id

    async def fetch(self, count: int, block_ms: int) -> list[Entry]:
        try:
            first = await asyncio.wait_for(self.queue.get(), block_ms / 1000)
        except TimeoutError:
            return []
        entries = [first]
        while len(entries) < count and not self.queue.empty():
            entries.append(self.queue.get_nowait())
        return entries

    async def ack(self, ids: list[str]) -> None:
        self.acked.extend(ids)
        self._acked_event.set()

    async def wait_acked(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` entries in all have been acked."""
        async with asyncio.timeout(timeout):
            while len(self.acked) < count:
                self._acked_event.clear()
                await self._acked_event.wait()
