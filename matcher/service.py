"""The matcher service: one shard's engine fed from Redis, with every effect durable and atomic.

Loop
----
``XREADGROUP`` up to ``batch_size`` commands from ``tw:{shard}:cmd`` (group ``matcher``), apply
each to the engine, then commit the batch in ONE ``MULTI/EXEC``: one ``XADD`` of its state events
to ``tw:{shard}:events``, one ``XADD`` of replies per edge, the ``XACK`` of every command, and
(when due) the snapshot. Either all of a batch's effects exist or none do. With the embedded
Redis (``appendfsync always``) ``EXEC`` returns only once that is on disk, so an edge never
hears of an effect that a crash could take back.

Recovery
--------
Start from the snapshot (``tw:{shard}:snapshot``: engine bytes, ``seq`` and the last ``cmd_id``
it covers). Re-apply, without emitting, every command after that id up to the ``cmd`` recorded
on the last events entry: their events exist already. The engine's ``seq`` must then equal that
entry's ``seq`` (else recovery stops: the log and the events disagree). Then take the commands
still pending in the group (read but never committed) and carry on as usual. Commands acked after
the last events entry changed nothing (rejections, queries), so skipping them is exact.

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
from typing import cast

import msgspec
import redis

from matcher.engine import Engine
from model import streams, topics, wire
from model.config import MarketConfig
from model.events import StateEvent
from model.settings import MatcherSettings

__all__ = ["MatcherService", "RecoveryError", "RecoveryReport", "SnapshotRecord"]

log = logging.getLogger("tidewater.matcher")

_STATE_TYPES = frozenset(StateEvent.__args__)
_REPLAY_CHUNK = 2000


class SnapshotRecord(msgspec.Struct, frozen=True, array_like=True):
    """What ``tw:{shard}:snapshot`` holds."""

    cmd_id: str
    seq: int
    engine: bytes


class RecoveryError(RuntimeError):
    """The command log and the event stream disagree; the matcher must not guess."""


@dataclass(frozen=True)
class RecoveryReport:
    snapshot_cmd_id: str
    replayed: int
    seq: int
    millis: int


def _id_tuple(stream_id: str) -> tuple[int, int]:
    ms, _, sub = stream_id.partition("-")
    return int(ms), int(sub or 0)


class MatcherService:
    """Owns one shard: its engine, its command group, its events and snapshot."""

    def __init__(
        self,
        client: redis.Redis,
        shard: str,
        config: MarketConfig,
        settings: MatcherSettings,
    ) -> None:
        self.client = client
        self.shard = shard
        self.config = config
        self.settings = settings
        self.consumer = f"matcher-{shard}"
        self.cmd_key = topics.commands(shard)
        self.events_key = topics.events(shard)
        self.snapshot_key = topics.snapshot(shard)
        self.engine = Engine(config, max_open_orders=settings.max_open_orders)
        self.last_cmd_id = "0-0"
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"commit-{shard}")
        self._inflight: Future[None] | None = None
        self._pending = True
        self._since_snapshot = 0
        self._snapshot_at = time.monotonic()

    # --- recovery ------------------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Rebuild the engine from Redis as described in the module docstring."""
        started = time.perf_counter_ns()
        with contextlib.suppress(redis.RedisError):
            self.settle()  # a batch still in flight lands (or not) before we read Redis
        try:
            self.client.xgroup_create(self.cmd_key, topics.COMMAND_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        raw = cast(bytes | None, self.client.get(self.snapshot_key))
        if raw is None:
            engine = Engine(
                self.config,
                max_open_orders=self.settings.max_open_orders,
                closed_memory=self.settings.closed_memory,
            )
            snapshot_cmd = "0-0"
        else:
            record = msgspec.msgpack.decode(raw, type=SnapshotRecord)
            engine = Engine.restore(
                self.config,
                record.engine,
                max_open_orders=self.settings.max_open_orders,
                closed_memory=self.settings.closed_memory,
            )
            snapshot_cmd = record.cmd_id
        replayed = 0
        last_cmd = snapshot_cmd
        tail = streams.last_entry(self.client, self.events_key)
        if tail is not None:
            fields = tail[1]
            evented_cmd = fields[b"cmd"].decode()
            evented_seq = int(fields[b"seq"])
            if _id_tuple(evented_cmd) > _id_tuple(snapshot_cmd):
                replayed = self._replay(engine, snapshot_cmd, evented_cmd)
                last_cmd = evented_cmd
            if engine.seq != evented_seq:
                raise RecoveryError(
                    f"shard {self.shard}: replay reached seq {engine.seq}, events say "
                    f"{evented_seq} (snapshot {snapshot_cmd}, last command {evented_cmd})"
                )
        self.engine = engine
        self.last_cmd_id = last_cmd
        # What recovery built lives as long as the process: keep the collector off it.
        gc.collect()
        gc.freeze()
        self._pending = True
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
        entries = self._read(block_ms)
        if not entries:
            self.settle()
            if self._snapshot_due():
                self.write_snapshot()
            return 0
        self._commit(entries)
        return len(entries)

    def _read(self, block_ms: int) -> list[streams.Entry]:
        count, group = self.settings.batch_size, topics.COMMAND_GROUP
        if self._pending:
            # Pending entries stay pending until their batch's XACK lands: no overlap here,
            # or the batch in flight would be read (and applied) a second time.
            self.settle()
            entries = streams.read_group(
                self.client, group, self.consumer, self.cmd_key, "0", count
            )
            # Only ids past what recovery replayed are new. Older ones were committed already
            # (it takes someone else acking for us), and applying them twice doubles effects.
            applied = _id_tuple(self.last_cmd_id)
            fresh: list[streams.Entry] = []
            stale: list[bytes] = []
            for entry in entries:
                if _id_tuple(entry[0].decode()) > applied:
                    fresh.append(entry)
                else:
                    stale.append(entry[0])
            if stale:
                self.client.xack(self.cmd_key, group, *stale)
            if entries:
                return fresh
            self._pending = False
        return streams.read_group(
            self.client, group, self.consumer, self.cmd_key, ">", count, block_ms
        )

    def _commit(self, entries: list[streams.Entry]) -> None:
        engine = self.engine
        apply = engine.apply
        batch: list[wire.CommandEvents] = []
        replies: dict[str, list[wire.Reply]] = {}
        ids: list[bytes] = []
        for entry_id, fields in entries:
            ids.append(entry_id)
            if not fields or wire.COMMAND_FIELD not in fields:
                continue  # trimmed or foreign entry: nothing to apply
            try:
                envelope = wire.decode_command(fields[wire.COMMAND_FIELD])
            except msgspec.DecodeError:
                log.error("undecodable command %s on %s: skipped", entry_id, self.cmd_key)
                continue
            cmd_id = entry_id.decode()
            events = apply(envelope.command)
            state = [cast(StateEvent, e) for e in events if type(e) in _STATE_TYPES]
            if state:
                batch.append(wire.CommandEvents(cmd_id=cmd_id, events=state))
            if envelope.reply_to:
                replies.setdefault(envelope.reply_to, []).append(
                    wire.Reply(request_id=envelope.request_id, cmd_id=cmd_id, events=events)
                )
        last = ids[-1].decode()
        pipe = self.client.pipeline(transaction=True)
        if batch:
            pipe.xadd(
                self.events_key,
                {
                    wire.BATCH_FIELD: wire.encode(wire.EventBatch(commands=batch)),
                    b"seq": engine.seq,
                    b"cmd": last,
                },
            )
        for edge, answered in replies.items():
            pipe.xadd(
                topics.replies(self.shard, edge),
                {wire.BATCH_FIELD: wire.encode(wire.ReplyBatch(replies=answered))},
                maxlen=self.settings.reply_stream_maxlen,
                approximate=True,
            )
        pipe.xack(self.cmd_key, topics.COMMAND_GROUP, *ids)
        self._since_snapshot += len(ids)
        snapshot = self._snapshot_due()
        if snapshot:
            pipe.set(self.snapshot_key, self._snapshot_bytes(last))
            self._since_snapshot = 0
            self._snapshot_at = time.monotonic()
        # One batch in flight: this one's EXEC (and fsync) runs in the writer thread while the
        # loop reads and applies the next. Batches still commit one after another, in order.
        self.settle()
        self._inflight = self._writer.submit(self._execute, pipe, last, snapshot)

    def _execute(self, pipe: redis.client.Pipeline, last: str, snapshot: bool) -> None:
        pipe.execute()
        self.last_cmd_id = last
        if snapshot and self.settings.trim_commands:
            self.client.xtrim(self.cmd_key, minid=last, approximate=True)

    def settle(self) -> None:
        """Wait for the batch in flight; its Redis error, if any, surfaces here."""
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
        record = SnapshotRecord(cmd_id=cmd_id, seq=self.engine.seq, engine=self.engine.snapshot())
        return msgspec.msgpack.encode(record)

    def write_snapshot(self) -> None:
        """Snapshot the engine as of the last committed command (between batches only)."""
        self.settle()
        self.client.set(self.snapshot_key, self._snapshot_bytes(self.last_cmd_id))
        self._since_snapshot = 0
        self._snapshot_at = time.monotonic()
        if self.settings.trim_commands:
            self.client.xtrim(self.cmd_key, minid=self.last_cmd_id, approximate=True)

    # --- running -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Recover, then serve until ``stop`` is set; on the way out finish the batch, snapshot."""
        backoff = 0.1
        recovered = False
        while not stop.is_set():
            try:
                if not recovered:
                    self.recover()
                    recovered = True
                self.step()
                backoff = 0.1
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
                if isinstance(exc, redis.ResponseError) and "NOGROUP" not in str(exc):
                    raise
                # Redis went away, or lost our stream (restarted without its data, flushed):
                # what this engine holds may not be on Redis any more, so rebuild from Redis.
                log.warning("redis unavailable (%s); recovering in %.1fs", exc, backoff)
                recovered = False
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        if recovered:
            try:
                self.settle()
                if self._since_snapshot:
                    self.write_snapshot()
            except redis.RedisError as exc:
                log.warning("final snapshot failed: %s", exc)
        log.info("stopped shard=%s at seq=%d", self.shard, self.engine.seq)


def serve(redis_url: str, shard: str, config: MarketConfig, settings: MatcherSettings) -> None:
    """Run one shard until SIGTERM or SIGINT."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    client = redis.Redis.from_url(redis_url, socket_keepalive=True, health_check_interval=30)
    MatcherService(client, shard, config, settings).run(stop)
