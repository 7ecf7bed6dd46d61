"""The pipeline's single writers and the fence on their writes: ONE place for both.

Who
---
Besides the matcher (``matcher/service.py``), two pipeline processes must each be the only
writer of what they write:

* the market-data flow (``pipeline/flows/``, role :data:`FLOW_ROLE`, lease
  ``topics.flow_lease()``): it numbers the depth updates, keeps the ``md:depth:{market}`` hashes,
  publishes every push and upserts candles; two flows would publish each push twice and could
  store stale candles;
* the persist agent of each shard (``pipeline/persist.py``, role ``persist:{shard}``, lease
  ``topics.persist_lease(shard)``): it folds order updates guarded by ``updated_seq``, so two
  agents committing batches out of order could drop fills.

How
---
Each takes its lease (``model/lease.py``) before it writes anything, waiting as a standby while
another process holds it (:func:`acquire` logs who), and renews it while it runs. Its writes are
fenced two ways:

* **Redis**: every write is a Lua script that starts with :data:`model.lease.FENCE` and carries
  the token of :class:`Fence` (one script call per batch), so a writer that lost its lease writes
  nothing there; the script answers ``FENCED``.
* **PostgreSQL**: every write transaction runs :data:`FENCE_SQL` (:func:`claim` or
  :func:`aclaim`) before it writes any shared table: it raises this role's row of
  ``writer_fences`` to the writer's lease epoch and finds no row when a newer epoch has been
  there; the transaction then rolls back (:class:`FencedOutError`). The row lock orders an old
  holder's open transaction before the new holder's first. A new holder records its epoch as
  soon as it holds the lease (:func:`acquire`), so from then on nothing of an older holder
  commits. The same transaction sets an idle-in-transaction timeout, so a holder paused in
  mid-transaction (SIGSTOP) cannot keep that row locked, and the new holder waiting, for longer
  than :attr:`Fence.idle_ms` (the server ends its session).

A writer that loses its lease to another process stops at once and exits :data:`EXIT_FENCED`;
its supervisor starts it again, as a standby. (Lost with nobody holding it, Redis being away
past the lease, the persist agent takes it again once Redis answers, as the matcher does; the
flow exits 1 and is restarted.)

The epoch counter lives in Redis beside the lease. If Redis lost it (a fresh Redis in front of
an old database), PostgreSQL would hold a higher epoch than any new holder's and refuse every
write; :func:`acquire` sees that on taking the lease, raises the counter past PostgreSQL's and
takes the lease again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import psycopg
import redis

from model.lease import EXIT_FENCED, FENCE, LeaseLostError, WriterLease, is_fenced_error
from model.settings import LeaseSettings

__all__ = [
    "EXIT_FENCED",
    "FENCE_SQL",
    "FLOW_ROLE",
    "Fence",
    "FencedOutError",
    "acall_fenced",
    "aclaim",
    "acquire",
    "acquire_async",
    "call_fenced",
    "claim",
    "new_lease",
    "persist_role",
]

log = logging.getLogger("tidewater.fence")


#: The ``writer_fences`` role of the market-data flow.
FLOW_ROLE: Final = "flow"

#: The first statement of every fenced write transaction: no row back means fenced out.
FENCE_SQL: Final = """\
INSERT INTO writer_fences (role, epoch) VALUES (%s, %s)
ON CONFLICT (role) DO UPDATE SET epoch = EXCLUDED.epoch
WHERE writer_fences.epoch <= EXCLUDED.epoch
RETURNING epoch"""

# Only for this transaction: a session idle inside it this long is ended by the server.
_IDLE_SQL: Final = "SELECT set_config('idle_in_transaction_session_timeout', %s, true)"

# KEYS[1] lease, KEYS[2] its epoch counter; ARGV[1] token, ARGV[2] the lowest value to hold.
_RAISE_EPOCH: Final = """\
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
"""


def persist_role(shard: str) -> str:
    """The ``writer_fences`` role of one shard's persist agent."""
    return f"persist:{shard}"


class FencedOutError(LeaseLostError):
    """PostgreSQL has seen a newer epoch of this role: a newer writer holds the lease."""


@dataclass(frozen=True)
class Fence:
    """What a writer's sinks need to fence their writes, handed to each of them (Bytewax
    partitions, the persist store): plain values, the same for every worker of the process."""

    role: str
    """Its row in ``writer_fences``."""
    key: str
    """The lease key (``KEYS[1]`` of every fenced script)."""
    token: bytes
    """The holder's token (``ARGV[1]`` of every fenced script)."""
    epoch: int
    """This holding's number: PostgreSQL refuses it once it has seen a larger one."""
    idle_ms: int = 4000
    """Longest a fenced transaction may sit idle before the server ends it."""

    @classmethod
    def of(cls, lease: WriterLease, role: str) -> Fence:
        """The fence of a held lease (two lease lengths of idle time in a transaction)."""
        if lease.epoch <= 0:
            raise LeaseLostError(f"{role} does not hold its lease on {lease.key}")
        return cls(role, lease.key, lease.token, lease.epoch, 2 * lease.ttl_ms)

    def refused(self) -> FencedOutError:
        return FencedOutError(
            f"{self.role}: PostgreSQL has seen a newer writer than epoch {self.epoch}; "
            f"this writer was fenced out and writes nothing more"
        )


def call_fenced(script: Any, fence: Fence, keys: list[Any], args: list[Any]) -> Any:
    """Run a script registered as ``FENCE + body`` with the fence's key and token first; a
    refusal becomes :class:`~model.lease.LeaseLostError`."""
    try:
        return script(keys=[fence.key, *keys], args=[fence.token, *args])
    except redis.ResponseError as error:
        if is_fenced_error(error):
            raise LeaseLostError(f"{fence.role} lost its writer lease: {error}") from None
        raise


async def acall_fenced(script: Any, fence: Fence, keys: list[Any], args: list[Any]) -> Any:
    """:func:`call_fenced` with a ``redis.asyncio`` script."""
    try:
        return await script(keys=[fence.key, *keys], args=[fence.token, *args])
    except redis.ResponseError as error:
        if is_fenced_error(error):
            raise LeaseLostError(f"{fence.role} lost its writer lease: {error}") from None
        raise


def claim(cur: psycopg.Cursor[Any], fence: Fence) -> None:
    """Fence the transaction ``cur`` runs in: call first thing in it; raises
    :class:`FencedOutError` (the caller's transaction then rolls back) when fenced out."""
    cur.execute(_IDLE_SQL, (f"{fence.idle_ms}ms",))
    cur.execute(FENCE_SQL, (fence.role, fence.epoch))
    if cur.fetchone() is None:
        raise fence.refused()


async def aclaim(cur: psycopg.AsyncCursor[Any], fence: Fence) -> None:
    """:func:`claim` on an asyncio connection."""
    await cur.execute(_IDLE_SQL, (f"{fence.idle_ms}ms",))
    await cur.execute(FENCE_SQL, (fence.role, fence.epoch))
    if await cur.fetchone() is None:
        raise fence.refused()


def new_lease(
    client: redis.Redis, key: str, role: str, settings: LeaseSettings | None = None
) -> WriterLease:
    """A writer lease on ``key`` with the configured timing."""
    settings = settings or LeaseSettings()
    return WriterLease(
        client,
        key,
        ttl_ms=settings.ttl_ms,
        renew_ms=settings.renew_ms,
        poll_ms=settings.poll_ms,
        role=role,
    )


def _record_epoch(database_url: str, fence: Fence) -> int | None:
    """Record a new holder's epoch in PostgreSQL at once; return PostgreSQL's epoch when it is
    ahead of ours (the Redis counter was lost), else ``None`` (also when PostgreSQL cannot be
    reached: then each write records it)."""
    try:
        with (
            psycopg.connect(database_url, connect_timeout=5) as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            try:
                claim(cur, fence)
            except FencedOutError:
                cur.execute("SELECT epoch FROM writer_fences WHERE role = %s", (fence.role,))
                row = cur.fetchone()
                return int(row[0]) if row is not None else None
    except psycopg.OperationalError as error:
        log.warning("%s could not record its epoch in PostgreSQL yet: %s", fence.role, error)
    return None


def acquire(
    lease: WriterLease,
    role: str,
    database_url: str | None,
    stop: threading.Event,
    on_lost: Callable[[], None] | None = None,
) -> Fence | None:
    """Wait as a standby until ``lease`` is ours (through Redis outages), keep renewing it
    (``on_lost`` runs in the renewer thread when it is lost), record its epoch in PostgreSQL;
    return the fence, or ``None`` if ``stop`` was set first."""

    def standby(holder: str) -> None:
        log.warning(
            "%s standby: the writer lease %s is held by %s; waiting to take over",
            role, lease.key, holder,
        )  # fmt: skip

    waited = time.monotonic()
    backoff = 0.1
    while not stop.is_set():
        try:
            if not lease.wait(stop, on_wait=standby):
                break
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("%s cannot reach Redis (%s); trying again in %.1f s", role, error, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)
            continue
        lease.start_renewing(on_lost)
        fence = Fence.of(lease, role)
        ahead = _record_epoch(database_url, fence) if database_url else None
        if ahead is None:
            log.info(
                "%s writer lease %s taken (epoch %d) after %.0f ms",
                role, lease.key, lease.epoch, (time.monotonic() - waited) * 1000,
            )  # fmt: skip
            return fence
        log.warning(
            "%s: PostgreSQL has seen epoch %d but the lease counter %s gave %d (was Redis"
            " reset?); raising the counter and taking the lease again",
            role, ahead, lease.epoch_key, lease.epoch,
        )  # fmt: skip
        try:
            lease.client.register_script(FENCE + _RAISE_EPOCH)(
                keys=[lease.key, lease.epoch_key], args=[lease.token, ahead]
            )
        except redis.RedisError as error:  # lost meanwhile, or Redis away: wait again
            log.warning("%s could not raise the epoch counter: %s", role, error)
        lease.release()
    return None


async def acquire_async(
    lease: WriterLease,
    role: str,
    database_url: str | None,
    stop: asyncio.Event,
    on_lost: Callable[[], None] | None = None,
) -> Fence | None:
    """:func:`acquire` for an asyncio service: the wait runs in a thread, ended by ``stop``."""
    halt = threading.Event()
    job = asyncio.ensure_future(
        asyncio.to_thread(acquire, lease, role, database_url, halt, on_lost)
    )
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({job, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halt.set()
        stopper.cancel()
    fence = await job
    if fence is not None and stop.is_set():
        await asyncio.to_thread(lease.release)
        return None
    return fence
