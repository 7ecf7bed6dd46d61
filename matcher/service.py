"""The matcher service: one shard's engine fed from Redis, its one writer, every effect atomic.

One writer
----------
Recovery rests on exactly one matcher writing a shard. Before it reads anything the service
takes the shard's writer lease (``tw:{shard}:writer``, ``model/lease.py``); a second matcher on
the shard waits as a standby and says so, and takes over once the holder's lease expires (it was
SIGKILLed, or stopped and released it). Every write the service makes goes through one Lua
script that first checks the lease's token, so a matcher that lost its lease (paused past its
expiry, say) writes nothing: its commit is refused with ``FENCED`` and it stops at once.

Loop
----
``XREAD`` up to ``batch_size`` commands from ``tw:{shard}:cmd`` after the last one applied (a
plain read: it changes nothing on the server, so a fenced-out matcher cannot take commands away
from the writer, as ``XREADGROUP`` would), apply each to the engine, publish each edge's replies
on its channel ``tw:{shard}:reply:<edge>``, then commit the batch in ONE fenced script: one
``XADD`` of its state events to ``tw:{shard}:events``, the new read position
``tw:{shard}:applied`` and (when due) the snapshot. Either all of a batch's effects exist or none
do.

What a reply rests on
---------------------
The reply leaves before its batch is committed, and that is safe: the engine is deterministic,
so the command log alone decides every outcome, and the matcher only ever reads commands that
are durable (with ``appendfsync always`` Redis answers no one, this ``XREAD`` included, before
the write it depends on is fsynced). If the commit never lands (Redis or the matcher killed),
recovery starts from the last committed position and applies the same commands in the same
order again: the same events, so what the reply said is what recovery keeps (a second, equal
reply may go out then; the edge has forgotten the request and ignores it). Publishing first takes
the commit's fsync and a thread hand-off off every order's latency (docs/benchmarks.md).

Replies are the one thing published outside the fenced script. A matcher that lost its lease
and has not noticed yet may still answer a batch before its commit is refused; its answers are
its successor's too, since both apply the same log from the same committed state (the writer
tests check that every command's answers, however many, are equal).

Recovery
--------
Start from the snapshot (``tw:{shard}:snapshot``: engine bytes, ``seq`` and the last ``cmd_id``
it covers). Re-apply, without emitting, every command after that id up to the ``cmd`` recorded
on the last events entry: their events exist already. The engine's ``seq`` must then equal that
entry's ``seq`` (else recovery stops and says what it found: the log and the events disagree).
Then re-apply the commands up to ``tw:{shard}:applied`` (the read position the last commit
wrote): they changed nothing (rejections, queries) and were answered, so seq must not move (else
recovery stops too); read on after it.

If Redis fails mid-batch, the engine may hold effects that were never committed: the service
throws that engine away and recovers again from Redis once it answers.

Commands are trimmed only below the last snapshot, and only when ``trim_commands`` is set.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType
from typing import Any, cast

import msgspec
import redis

from matcher import BUILD
from matcher.engine import Engine
from model import stages, streams, topics, wire
from model.config import MarketConfig
from model.events import StateEvent
from model.lease import EXIT_FENCED, LeaseLostError, WriterLease, fenced_script, is_fenced_error
from model.settings import LeaseSettings, MatcherSettings

__all__ = [
    "COMMIT_SCRIPT",
    "EXIT_FENCED",
    "MatcherService",
    "RecoveryError",
    "RecoveryReport",
    "restore_snapshot",
]

log = logging.getLogger("tidewater.matcher")

_STATE_TYPES = frozenset(StateEvent.__args__)
_REPLAY_CHUNK = 2000
#: Traced commands' stage marks (bench/order_path.py's stage run; see model/stages.py).
_STAGES = stages.StageLog("matcher")


# KEYS: 1 lease (checked by FENCE), 2 events, 3 applied position, 4 snapshot, 5 commands.
# ARGV: 1 token, 2 last command id, 3 event batch ('' for none), 4 seq, 5 snapshot ('' for none),
#       6 trim commands below the snapshot ('1'/'0'), 7 batch field, 8 seq field, 9 cmd field,
#       10 writer field, 11 lease epoch.
COMMIT_SCRIPT = """\
local last = ARGV[2]
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[2], '*', ARGV[7], ARGV[3], ARGV[8], ARGV[4], ARGV[9], last,
             ARGV[10], ARGV[11])
end
redis.call('SET', KEYS[3], last)
if ARGV[5] ~= '' then
  redis.call('SET', KEYS[4], ARGV[5])
  if ARGV[6] == '1' then
    redis.call('XTRIM', KEYS[5], 'MINID', '~', last)
  end
end
return 1
"""


class _OwnConnection:
    """A connection out of the client's pool held for one job, taken when first needed; after
    a Redis failure :meth:`reset` drops it and the next use takes a fresh one."""

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._conn: Any = None

    def connection(self) -> Any:
        if self._conn is None:
            self._conn = self._pool.get_connection()
        return self._conn

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()
            self._pool.release(conn)


class _Publisher(_OwnConnection):
    """PUBLISH on a connection of its own, and wait for Redis to have taken the messages.

    Waiting matters: the batch's commit follows at once on another connection, and if Redis
    read both in one pass of its event loop, the replies would go out only after the commit's
    fsync (Redis writes to no client before the pass's fsync). Measured at 1 connection, not
    waiting made the reply reach the edge about 100 µs later."""

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        conn = self.connection()
        conn.send_packed_command(conn.pack_commands([("PUBLISH", c, m) for c, m in messages]))
        for _ in messages:
            conn.read_response()


class _Reader(_OwnConnection):
    """``XREAD`` of the command stream on a connection of its own, the answer kept as Redis
    sends it: redis-py's own parser builds a dict per entry, which cost more than applying the
    command did."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        super().__init__(client)
        self._key = key

    def read(self, after: str, count: int, block_ms: int) -> list[tuple[bytes, bytes | None]]:
        """Up to ``count`` entries after ``after``: each id with its command (``None`` for an
        entry without one)."""
        conn = self.connection()
        conn.send_command("XREAD", "COUNT", count, "BLOCK", block_ms, "STREAMS", self._key, after)
        raw = conn.read_response()
        if not raw:
            return []
        # RESP3 answers a map of stream to entries, RESP2 a list of [stream, entries].
        entries = next(iter(raw.values())) if isinstance(raw, dict) else raw[0][1]
        field = wire.COMMAND_FIELD
        return [
            (entry_id, fields[1] if fields and fields[0] == field else None)
            for entry_id, fields in entries
        ]


class RecoveryError(RuntimeError):
    """The command log and the event stream disagree; the matcher must not guess."""


@dataclass(frozen=True)
class RecoveryReport:
    snapshot_cmd_id: str
    replayed: int
    seq: int
    millis: int


def restore_snapshot(
    client: redis.Redis, shard: str, config: MarketConfig, settings: MatcherSettings
) -> tuple[Engine, str]:
    """The engine of the shard's last snapshot and the command id it covers; a fresh engine and
    ``"0-0"`` when there is none. ``settings`` must be the live matcher's limits, or a replay from
    here differs from it."""
    raw = cast(bytes | None, client.get(topics.snapshot(shard)))
    if raw is None:
        engine = Engine(
            config,
            max_open_orders=settings.max_open_orders,
            closed_memory=settings.closed_memory,
        )
        return engine, "0-0"
    record = wire.decode_snapshot(raw)
    engine = Engine.restore(
        config,
        record.engine,
        max_open_orders=settings.max_open_orders,
        closed_memory=settings.closed_memory,
    )
    return engine, record.cmd_id


class MatcherService:
    """Owns one shard: its lease, its engine, its read position, its events and snapshot."""

    def __init__(
        self,
        client: redis.Redis,
        shard: str,
        config: MarketConfig,
        settings: MatcherSettings,
        lease: LeaseSettings | None = None,
    ) -> None:
        self.client = client
        self.shard = shard
        self.config = config
        self.settings = settings
        self.cmd_key = topics.commands(shard)
        self.events_key = topics.events(shard)
        self.snapshot_key = topics.snapshot(shard)
        self.applied_key = topics.applied(shard)
        lease = lease or LeaseSettings()
        self.lease = WriterLease(
            client,
            topics.writer_lease(shard),
            ttl_ms=lease.ttl_ms,
            renew_ms=lease.renew_ms,
            poll_ms=lease.poll_ms,
            role=f"matcher {shard}",
        )
        self._commit_script = fenced_script(client, COMMIT_SCRIPT)
        self._publisher = _Publisher(client)
        self._reader = _Reader(client, self.cmd_key)
        self.engine = Engine(config, max_open_orders=settings.max_open_orders)
        self.last_cmd_id = "0-0"  # committed
        self._read_from = "0-0"  # applied to the engine (committed or in flight)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"commit-{shard}")
        self._inflight: Future[None] | None = None
        self._since_snapshot = 0
        self._snapshot_at = time.monotonic()

    # --- the lease -----------------------------------------------------------------------

    def take_lease(self) -> bool:
        """Take the shard's writer lease if it is free and keep renewing it; ``False`` if another
        matcher holds it. :meth:`run` waits for it as a standby instead."""
        if self.lease.held:
            return True
        if not self.lease.try_acquire():
            return False
        self.lease.start_renewing()
        return True

    # --- recovery ------------------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Rebuild the engine from Redis as described in the module docstring.

        Reading changes nothing, so anyone may recover (the audit does, to inspect); a writer
        recovers only once it holds the lease, or a holder's writes could fall after its read.
        """
        started = time.perf_counter_ns()
        with contextlib.suppress(redis.RedisError):
            self.settle()  # a batch still in flight lands (or not) before we read Redis
        self._publisher.reset()
        self._reader.reset()
        engine, snapshot_cmd = restore_snapshot(self.client, self.shard, self.config, self.settings)
        replayed = 0
        last_cmd = snapshot_cmd
        tail = streams.last_entry(self.client, self.events_key)
        if tail is not None:
            fields = tail[1]
            evented_cmd = fields[wire.CMD_FIELD].decode()
            evented_seq = int(fields[wire.SEQ_FIELD])
            if streams.id_tuple(evented_cmd) > streams.id_tuple(snapshot_cmd):
                replayed = self._replay(engine, snapshot_cmd, evented_cmd)
                last_cmd = evented_cmd
            if engine.seq != evented_seq:
                raise RecoveryError(
                    self._explain_mismatch(engine.seq, evented_seq, snapshot_cmd, evented_cmd)
                )
        position = streams.applied_position(self.client, self.shard)
        if streams.id_tuple(position) > streams.id_tuple(last_cmd):
            # Commands committed after the last events entry changed nothing (rejections,
            # queries): applying them again must leave seq where the events left it.
            evented = engine.seq
            replayed += self._replay(engine, last_cmd, position)
            if engine.seq != evented:
                raise RecoveryError(
                    self._explain_mismatch(engine.seq, evented, snapshot_cmd, position)
                )
            last_cmd = position
        self.engine = engine
        self.last_cmd_id = self._read_from = last_cmd
        # What recovery built lives as long as the process: keep the collector off it.
        gc.collect()
        gc.freeze()
        self._since_snapshot = replayed
        self._snapshot_at = time.monotonic()
        report = RecoveryReport(
            snapshot_cmd_id=snapshot_cmd,
            replayed=replayed,
            seq=engine.seq,
            millis=(time.perf_counter_ns() - started) // 1_000_000,
        )
        log.info(
            "recovered shard=%s snapshot=%s replayed=%d seq=%d in %d ms",
            self.shard,
            snapshot_cmd,
            replayed,
            engine.seq,
            report.millis,
        )
        return report

    def _explain_mismatch(
        self, replayed: int, evented: int, snapshot_cmd: str, evented_cmd: str
    ) -> str:
        """Say what recovery found and what the operator can do about it."""
        found = (
            f"shard {self.shard}: replaying the command log from snapshot {snapshot_cmd} up to "
            f"command {evented_cmd} reached seq {replayed}, but the events stream's last entry "
            f"says seq {evented}."
        )
        breaks = streams.seq_breaks(streams.logged_events(self.client, self.shard))
        if breaks.forks:
            cause = (
                f" The events stream is forked: {breaks.forks[0]}"
                f"{f' (+{len(breaks.forks) - 1} more)' if len(breaks.forks) > 1 else ''}."
                " Two matchers wrote this shard at once (a run from before writers were fenced,"
                " or another client writing its keys)."
            )
        elif breaks.gaps:
            cause = f" The events stream has a gap: {breaks.gaps[0]} (an entry was deleted)."
        elif replayed < evented:
            cause = (
                " The events stream holds effects of commands that are no longer in the command"
                " log (it was trimmed or rewritten below the snapshot), or the snapshot is older"
                " than the events."
            )
        else:
            cause = (
                " The command log holds commands whose events are missing (an events entry was"
                " deleted, or the snapshot comes from another journal)."
            )
        remedy = (
            " The matcher will not guess. Stop every process of this shard, run `tidewater audit`"
            " to see which checks fail, then restore Redis (its append-only file) from a copy"
            " taken before the problem, or start the shard afresh; see docs/operations.md,"
            " 'A journal recovery refuses'."
        )
        return found + cause + remedy

    def _replay(self, engine: Engine, after: str, upto: str) -> int:
        count = 0
        cursor = after
        while True:
            chunk = streams.range_after(self.client, self.cmd_key, cursor, upto, _REPLAY_CHUNK)
            if not chunk:
                return count
            for _, fields in chunk:
                if fields and wire.COMMAND_FIELD in fields:
                    engine.apply(wire.decode_command(fields[wire.COMMAND_FIELD]).command)
            count += len(chunk)
            cursor = chunk[-1][0].decode()

    # --- the loop ------------------------------------------------------------------------

    def step(self, block_ms: int = 100) -> int:
        """Read and commit one batch; return how many commands it held."""
        entries = self._reader.read(self._read_from, self.settings.batch_size, block_ms)
        if not entries:
            self.settle()
            if self._snapshot_due():
                self.write_snapshot()
            return 0
        self._commit(entries, stages.now() if stages.ENABLED else 0)
        return len(entries)

    def _commit(self, entries: list[tuple[bytes, bytes | None]], read_at: int = 0) -> None:
        self.lease.check()  # a lease known to be lost sends nothing (the script fences anyway)
        engine = self.engine
        apply = engine.apply
        batch: list[wire.CommandEvents] = []
        replies: dict[str, list[wire.Reply]] = {}
        trace: list[dict[str, int | str]] | None = [] if stages.ENABLED else None
        for entry_id, payload in entries:
            if payload is None:
                continue  # a foreign entry: nothing to apply
            try:
                envelope = wire.decode_command(payload)
            except msgspec.DecodeError:
                log.error("undecodable command %s on %s: skipped", entry_id, self.cmd_key)
                continue
            cmd_id = entry_id.decode()
            events = apply(envelope.command)
            if trace is not None:
                trace.append({"cmd_id": cmd_id, "read": read_at, "applied": stages.now()})
            state = [cast(StateEvent, e) for e in events if type(e) in _STATE_TYPES]
            if state:
                batch.append(wire.CommandEvents(cmd_id=cmd_id, events=state))
            if envelope.reply_to:
                replies.setdefault(envelope.reply_to, []).append(
                    wire.Reply(request_id=envelope.request_id, cmd_id=cmd_id, events=events)
                )
        last = entries[-1][0].decode()
        self._read_from = last
        self._since_snapshot += len(entries)
        snapshot = b""
        if self._snapshot_due():
            snapshot = self._snapshot_bytes(last)
            self._since_snapshot = 0
            self._snapshot_at = time.monotonic()
        keys, args = self._commit_call(
            last, wire.encode(wire.EventBatch(commands=batch)) if batch else b"", snapshot
        )
        if replies:  # before the commit: see "What a reply rests on"
            messages = [
                (topics.replies(self.shard, edge), wire.encode(wire.ReplyBatch(replies=r)))
                for edge, r in replies.items()
            ]
            if trace:
                published = stages.now()  # as the messages leave (their answers come later)
                for row in trace:
                    row["published"] = published
            self._publisher.publish(messages)
        # One batch in flight: this one's script (and fsync) runs in the writer thread while the
        # loop reads and applies the next. Batches still commit one after another, in order.
        self.settle()
        self._inflight = self._writer.submit(self._execute, keys, args, last, trace)

    def _commit_call(
        self, last: str, events: bytes, snapshot: bytes
    ) -> tuple[list[Any], list[Any]]:
        """The commit script's keys and arguments; see ``COMMIT_SCRIPT``."""
        keys: list[Any] = [
            self.lease.key,
            self.events_key,
            self.applied_key,
            self.snapshot_key,
            self.cmd_key,
        ]
        args: list[Any] = [
            self.lease.token,
            last,
            events,
            self.engine.seq,
            snapshot,
            b"1" if self.settings.trim_commands else b"0",
            wire.BATCH_FIELD,
            wire.SEQ_FIELD,
            wire.CMD_FIELD,
            wire.WRITER_FIELD,
            self.lease.epoch,
        ]
        return keys, args

    def _execute(
        self,
        keys: list[Any],
        args: list[Any],
        last: str,
        trace: list[dict[str, int | str]] | None = None,
    ) -> None:
        try:
            self._commit_script(keys=keys, args=args)
        except redis.ResponseError as error:
            if is_fenced_error(error):
                raise self.lease.fenced(error) from None
            raise
        self.last_cmd_id = last
        if trace:
            committed = stages.now()
            for row in trace:
                row["committed"] = committed
                _STAGES.add(row)

    def settle(self) -> None:
        """Wait for the batch in flight; its Redis error (or a lost lease) surfaces here."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    # --- snapshots -----------------------------------------------------------------------

    def _snapshot_due(self) -> bool:
        if self._since_snapshot == 0:
            return False
        return (
            self._since_snapshot >= self.settings.snapshot_every_commands
            or (time.monotonic() - self._snapshot_at) * 1000 >= self.settings.snapshot_every_ms
        )

    def _snapshot_bytes(self, cmd_id: str) -> bytes:
        record = wire.SnapshotRecord(
            cmd_id=cmd_id, seq=self.engine.seq, engine=self.engine.snapshot()
        )
        return msgspec.msgpack.encode(record)

    def write_snapshot(self) -> None:
        """Snapshot the engine as of the last committed command (between batches only)."""
        self.settle()
        self.lease.check()
        last = self.last_cmd_id
        keys, args = self._commit_call(last, b"", self._snapshot_bytes(last))
        self._execute(keys, args, last)
        self._since_snapshot = 0
        self._snapshot_at = time.monotonic()
        # What lives now is mostly resting orders: long-lived, and their reference cycles are
        # broken by the engine when they leave the book. Interpreted, orders are tracked by the
        # collector (compiled, they are not): keep full collections from walking them.
        gc.freeze()

    # --- running -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> int:
        """Wait for the lease, recover, then serve until ``stop`` is set (0) or another matcher
        fences this one out (:data:`EXIT_FENCED`); on a clean stop finish the batch, snapshot and
        release the lease."""
        backoff = 0.1
        recovered = False
        code = 0
        while not stop.is_set():
            try:
                if self.lease.epoch == 0:  # not holding it (yet, or since giving it up)
                    recovered = False
                    if not self._wait_for_lease(stop):
                        break
                # A lease lost (renewal refused, or expired unrenewed) stops the loop here,
                # before the next read, and is handled below: never back to standby unnoticed.
                self.lease.check()
                if not recovered:
                    self.recover()
                    recovered = True
                self.step()
                backoff = 0.1
            except LeaseLostError as lost:
                with contextlib.suppress(Exception):
                    self.settle()
                recovered = False
                if self.lease.taken_by_another():
                    log.error(
                        "shard=%s fenced out (%s); another matcher holds the lease: stopping, "
                        "nothing more is written", self.shard, lost,
                    )  # fmt: skip
                    code = EXIT_FENCED
                    break
                # Nobody took over (Redis was away past the lease, say): take the lease again
                # and rebuild from Redis, as after any Redis failure.
                log.warning("shard=%s %s; taking the lease again and recovering", self.shard, lost)
                self.lease.release()
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # Redis went away: what this engine holds may not be on Redis any more, so
                # rebuild from Redis.
                log.warning("redis unavailable (%s); recovering in %.1fs", exc, backoff)
                recovered = False
                stop.wait(backoff)
                # At most a second: a try costs one connection attempt, and every moment spent
                # waiting after Redis is back, orders wait (their replies come after recovery).
                backoff = min(backoff * 2, 1.0)
        if recovered and code == 0:
            try:
                self.settle()
                if self._since_snapshot:
                    self.write_snapshot()
            except (redis.RedisError, LeaseLostError) as exc:
                log.warning("final snapshot failed: %s", exc)
        self.lease.release()
        self._publisher.reset()
        self._reader.reset()
        self._writer.shutdown(wait=True)
        log.info("stopped shard=%s at seq=%d", self.shard, self.engine.seq)
        return code

    def _wait_for_lease(self, stop: threading.Event) -> bool:
        """Wait as a standby until this matcher holds the shard's lease; ``False`` on stop."""

        def standby(holder: str) -> None:
            log.warning(
                "shard=%s standby: the writer lease %s is held by %s; waiting to take over",
                self.shard, self.lease.key, holder,
            )  # fmt: skip

        waited = time.monotonic()
        if not self.lease.wait(stop, on_wait=standby):
            return False
        self.lease.start_renewing()
        log.info(
            "shard=%s writer lease taken (epoch %d) after %.0f ms",
            self.shard, self.lease.epoch, (time.monotonic() - waited) * 1000,
        )  # fmt: skip
        return True


def serve(
    redis_url: str,
    shard: str,
    config: MarketConfig,
    settings: MatcherSettings,
    lease: LeaseSettings | None = None,
) -> int:
    """Run one shard until SIGTERM or SIGINT (0), or until fenced out (:data:`EXIT_FENCED`)."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("shard=%s engine build: %s", shard, BUILD)
    client = redis.Redis.from_url(redis_url, socket_keepalive=True, health_check_interval=30)
    try:
        return MatcherService(client, shard, config, settings, lease).run(stop)
    finally:
        stages.write_all()  # traced commands' marks, when tracing (model/stages.py)
