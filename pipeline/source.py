"""Where a stream's entries come from: a Redis consumer group, or memory (for tests).

``RedisSource`` reads with ``XREADGROUP``: first this consumer's own pending entries (read
before a crash, never acked), after claiming stale ones of dead consumers with ``XAUTOCLAIM``,
then new entries. Entries are acked only when the agent asks for what comes next.

A source given a :class:`~pipeline.fence.Fence` belongs to the group's single writer (the
persist agent of a shard): every command that changes the group's state (the claim, each read,
each ack) runs in a fenced Lua script, so a consumer that lost its lease (paused past it, say)
cannot take entries away from the new holder, nor ack what it did not store. Waiting for new
entries is a plain ``XREAD BLOCK`` (scripts cannot block), which changes nothing. As the only
legitimate consumer it claims every pending entry at start, however briefly idle.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from model.lease import FENCE
from pipeline.fence import Fence, acall_fenced

__all__ = ["Entry", "MemorySource", "RedisSource", "Source"]

#: An entry id and its fields.
Entry = tuple[str, dict[bytes, bytes]]

# Fenced scripts (after FENCE: KEYS[1] lease, ARGV[1] token); KEYS[2] the stream, ARGV[2] group.
# ARGV[3] consumer, ARGV[4] count, ARGV[5] '>' or an id: the entries read, or when nothing new
# came, the stream's last id (where a blocking wait for the next one starts).
_READ = """
local got = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4],
                       'STREAMS', KEYS[2], ARGV[5])
if got then return got[1][2] end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if last[1] then return last[1][1] end
return '0-0'
"""
# ARGV[3..] the ids to ack.
_ACK = """
for i = 3, #ARGV do redis.call('XACK', KEYS[2], ARGV[2], ARGV[i]) end
return 1
"""
# ARGV[3] consumer, ARGV[4] min idle ms, ARGV[5] cursor, ARGV[6] count.
_CLAIM = """
return redis.call('XAUTOCLAIM', KEYS[2], ARGV[2], ARGV[3], ARGV[4], ARGV[5], 'COUNT', ARGV[6])
"""


def _fields(flat: list[bytes] | None) -> dict[bytes, bytes]:
    """A script's entry fields (a flat list, or nothing for a deleted entry) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True)) if flat else {}


class Source(Protocol):
    async def fetch(self, count: int, block_ms: int) -> list[Entry]:
        """Up to ``count`` entries, waiting at most ``block_ms`` for the first."""
        ...

    async def ack(self, ids: list[str]) -> None:
        """Mark entries as processed."""
        ...


class RedisSource:
    """One consumer of a consumer group on one stream (fenced by ``fence`` when given)."""

    def __init__(
        self,
        client: aioredis.Redis,
        key: str,
        group: str,
        consumer: str,
        *,
        claim_idle_ms: int = 30_000,
        fence: Fence | None = None,
    ) -> None:
        self.client, self.key, self.group, self.consumer = client, key, group, consumer
        self.fence = fence
        self.claim_idle_ms = 0 if fence is not None else claim_idle_ms
        if fence is not None:
            self._read_script = client.register_script(FENCE + _READ)
            self._ack_script = client.register_script(FENCE + _ACK)
            self._claim_script = client.register_script(FENCE + _CLAIM)
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
            raw: Any
            if self.fence is not None:
                raw = await acall_fenced(
                    self._claim_script,
                    self.fence,
                    [self.key],
                    [self.group, self.consumer, self.claim_idle_ms, cursor, 500],
                )
            else:
                raw = await self.client.xautoclaim(
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
        if self.fence is not None:
            return await self._read_fenced(self.fence, start, count, block_ms)
        raw: Any = await self.client.xreadgroup(
            self.group, self.consumer, {self.key: start}, count=count, block=block_ms
        )
        if not raw:
            return []
        return [(eid.decode(), fields or {}) for eid, fields in raw[0][1]]

    async def _read_fenced(
        self, fence: Fence, start: str, count: int, block_ms: int | None
    ) -> list[Entry]:
        args = [self.group, self.consumer, count, start]
        raw: Any = await acall_fenced(self._read_script, fence, [self.key], args)
        if isinstance(raw, bytes):  # nothing new after raw, the stream's last id
            if not block_ms:
                return []
            woke: Any = await self.client.xread({self.key: raw}, count=1, block=block_ms)
            if not woke:
                return []
            raw = await acall_fenced(self._read_script, fence, [self.key], args)
            if isinstance(raw, bytes):
                return []
        return [(eid.decode(), _fields(flat)) for eid, flat in raw]

    async def ack(self, ids: list[str]) -> None:
        if not ids:
            return
        if self.fence is not None:
            await acall_fenced(self._ack_script, self.fence, [self.key], [self.group, *ids])
        else:
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
